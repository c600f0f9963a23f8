/*
 * core/chat_shared.h: what `portico chat` and `portico acp` share, moved
 * out of cli_chat.c and chat_agent.c: choosing the provider and model, and
 * saving an agent turn's steps (core/chat_record.h). Loop thread only.
 */
#ifndef PT_CHAT_SHARED_H
#define PT_CHAT_SHARED_H

#include <cjson/cJSON.h>

#include "agent.h"
#include "chat_record.h"
#include "kernel.h"
#include "pricing.h"

/* Provider and model as given, then config.lua, then (for the provider)
 * the only one loaded; *price for them. Prints one line to stderr and
 * returns -1 when undecided or unknown. */
int pt__chat_resolve(pt_kernel *k, const char **provider, const char **model,
                     pt_price *price);

/* Saving one agent turn into `rec`: the replies as they stream, and the
 * tool messages the loop appends to `messages` in between. */
typedef struct pt_chat_agent_rec {
  pt_chat_record *rec;
  const cJSON *messages;
  int seen;               /* history entries already saved or skipped */
} pt_chat_agent_rec;

/* Start with the history as it is before the turn. */
void pt__chat_agent_rec_init(pt_chat_agent_rec *s, pt_chat_record *rec,
                             const cJSON *messages);

/* A provider event of the turn (pt_agent_sink.on_event). */
void pt__chat_agent_rec_event(pt_chat_agent_rec *s, const pt_chat_event *ev);

/* The turn ended (after on_done): the last tool messages, the summed
 * usage and the turn's status; `message` may be NULL. */
void pt__chat_agent_rec_end(pt_chat_agent_rec *s, const pt_agent_result *r,
                            const char *message);

#endif
