/*
 * core/chat_agent.h: `portico chat` with tools. The glue between the chat
 * command (core/cli_chat.c) and the agent loop (core/agent.h): agent
 * profiles from config.lua, the --tools list, the workspace, the policy,
 * asking a person on the terminal, showing tool calls, and saving each
 * step of a turn (core/chat_record.h).
 *
 * Not for plain chat: with no tools offered, cli_chat.c calls the provider
 * itself, as before. Loop thread only.
 */
#ifndef PT_CHAT_AGENT_H
#define PT_CHAT_AGENT_H

#include <cjson/cJSON.h>

#include "agent.h"
#include "chat_record.h"
#include "kernel.h"
#include "policy.h"
#include "pricing.h"

/* The chat flags the agent reads; strings borrowed from argv or config. */
typedef struct pt_chat_agent_flags {
  const char *agent;      /* --agent NAME, or NULL */
  const char *tools;      /* --tools LIST, or NULL */
  const cJSON *profile_tools; /* the profile's tools (a string or a list
                                 of strings), used without --tools */
  const char *workspace;  /* --workspace DIR, or NULL: the current folder */
  const char *policy;     /* --policy FILE, or NULL */
  int yes;                /* --yes: every ask is answered "allow once" */
  int max_turns;          /* --max-turns N; 0 when not given */
  const char *max_cost;   /* --max-cost USD, or NULL */
  const char *max_tokens_total; /* --max-tokens-total N, or NULL */
  double profile_cost;    /* the profile's max_cost_usd; 0: none */
  double profile_tokens;  /* the profile's max_tokens_total; 0: none */
} pt_chat_agent_flags;

typedef struct pt_chat_agent {
  char **tools;           /* owned: the tool ids offered */
  size_t tool_count;
  char *workspace;        /* owned, absolute */
  pt_policy *policy;      /* owned; NULL when no tools are offered */
  int yes, max_turns;
  double max_cost_usd;    /* 0: no budget */
  uint64_t max_tokens_total;
  int ask_tty;            /* stdin and stderr are terminals */
  pt_agent *running;      /* the turn in progress, or NULL */
} pt_chat_agent;

/* What one turn needs from the chat; everything borrowed. */
typedef struct pt_chat_agent_turn {
  pt_kernel *k;
  const char *provider, *model, *system;
  long max_tokens;
  cJSON *messages;        /* the history; the turn appends to it */
  int json, stderr_tty;
  const pt_price *price;
  pt_chat_record *rec;    /* NULL when not saving */
  int *terminating;       /* set by the caller's SIGTERM handler */
} pt_chat_agent_turn;

/*
 * Fill the flags and *provider, *model, *system left NULL from profile
 * flags->agent in config.lua's `agents` table (docs/configuration.md).
 * Strings point into the config. Nothing to do without --agent. Prints
 * one line and returns -1 when the profile is missing or malformed.
 */
int pt__chat_agent_profile(const pt_config *config, pt_chat_agent_flags *f,
                           const char **provider, const char **model,
                           const char **system);

/*
 * Prepare `a` from the flags: expand the tool list (ids, or a plugin's
 * name for all its tools), make the workspace absolute and, when tools are
 * offered, load the policy (stored rules from `st`, may be NULL). Prints
 * one line and returns -1 on error; pt__chat_agent_free either way.
 */
int pt__chat_agent_setup(pt_chat_agent *a, pt_kernel *k,
                         const pt_chat_agent_flags *f, pt_store *st);

void pt__chat_agent_free(pt_chat_agent *a);

/*
 * Run one turn with tools on the history in t->messages (ending with the
 * user's message): stream the answer to stdout, tool calls to stderr (or
 * every event as JSON with t->json), until the model ends its turn or the
 * budget is spent. With t->rec every tool call is saved as it happens
 * (pt_agent_options.store).
 * Returns the exit status (PT_EXIT_OK, PT_EXIT_FAIL, 130 cancelled, 143
 * terminated).
 */
int pt__chat_agent_run(pt_chat_agent *a, const pt_chat_agent_turn *t);

/* Ctrl-C: cancel the turn in progress. Returns 0 when none runs. */
int pt__chat_agent_cancel(pt_chat_agent *a);

#endif
