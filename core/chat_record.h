/*
 * core/chat_record.h: `portico chat`'s conversation, saved as it happens.
 *
 * One record per chat: the session (new, or continued with --session),
 * and per turn the user's message, the reply streamed into a message, the
 * usage row with its cost, and the turn's end (done, interrupted when
 * cancelled, failed on an error). Streamed text is written once per loop
 * iteration (a uv_check handle), so a kill loses at most the fragments of
 * the iteration in flight; a finished message is committed before the
 * chat shows that it finished.
 *
 * A write that fails is reported once on stderr and turns the chat's exit
 * status into a failure; the conversation itself goes on. Loop thread only.
 *
 * A record opens a store of its own (pt_chat_record_open, one chat per
 * process), or borrows one shared by many records (pt_chat_record_attach,
 * a server's sessions on one connection).
 */
#ifndef PT_CHAT_RECORD_H
#define PT_CHAT_RECORD_H

#include <cjson/cJSON.h>
#include <uv.h>

#include "kernel.h"
#include "pricing.h"
#include "store/store.h"

typedef struct pt_chat_record {
  pt_store *st;
  int owns_store;                  /* 0: st is borrowed, not closed here */
  char session[PT_STORE_ID_LEN];   /* "" until the first turn */
  char *system;                    /* the system prompt stored last */
  int64_t turn, reply;             /* the turn in progress; 0 when none */
  uv_check_t flush;                /* writes buffered text each iteration */
  uint64_t started_ns;             /* the turn's start, for its latency */
  const char *provider, *model;    /* borrowed for the turn */
  pt_price price;
  pt_chat_event usage;             /* the last usage event (counts only) */
  int have_usage;
  int failed;                      /* a write failed (reported once) */
} pt_chat_record;

/*
 * Open the store in k's data folder and, when `session` is not NULL,
 * find that session (an id or its prefix). On error prints one line to
 * stderr and returns a negative code; then only pt_chat_record_close may
 * be called. `r` must stay in place until after the loop has run once
 * more after pt_chat_record_close (it holds a libuv handle).
 */
int32_t pt_chat_record_open(pt_chat_record *r, pt_kernel *k,
                            const char *session);

/*
 * As pt_chat_record_open, on `st`, which is borrowed: it must stay open
 * until pt_chat_record_close, which leaves it open. Any number of records
 * may share one store (each flushes it once per loop iteration while its
 * turn runs; what one flush writes, the others find done). `session` is
 * NULL for a session created at the first turn, or names one by its id or
 * a prefix, as pt_store_session_find: a session the caller created itself
 * is attached by its id, and the first turn goes into it. On error prints
 * one line to stderr and returns a negative code (PT_EINVAL when `st` is
 * NULL); then only pt_chat_record_close may be called.
 */
int32_t pt_chat_record_attach(pt_chat_record *r, pt_kernel *k, pt_store *st,
                              const char *session);

/* The continued session (pt_store_session_get), or NULL when new. Caller
 * owns the result. */
cJSON *pt_chat_record_session(pt_chat_record *r);

/*
 * The continued session's messages as a request's "messages" array
 * (*messages, caller owns), and its last system prompt in *system (NULL if
 * none; owned by r). Prints the error and returns a negative code on
 * failure.
 */
int32_t pt_chat_record_history(pt_chat_record *r, cJSON **messages,
                               const char **system);

/*
 * Start a turn: create the session on the first one (titled after the
 * user's words), store `system` when it changed, the user's message `user`
 * ({"role":"user","content":...}) and an empty reply to stream into.
 * Strings are borrowed until pt_chat_record_end.
 */
void pt_chat_record_begin(pt_chat_record *r, const char *provider,
                          const char *model, const pt_price *price,
                          const char *system, const cJSON *user);

/* Save what an event of the turn carries (text, reasoning, tool calls,
 * usage). DONE is pt_chat_record_end's business. */
void pt_chat_record_event(pt_chat_record *r, const pt_chat_event *ev);

/*
 * A turn of several model calls (core/chat_agent.h). reply_end ends the
 * reply streamed so far (interrupted when `interrupted`); message stores a
 * whole message of the turn (a tool message, borrowed for the call);
 * reply_begin starts the next reply to stream into. No-ops outside a turn.
 */
void pt_chat_record_reply_end(pt_chat_record *r, int interrupted);
void pt_chat_record_message(pt_chat_record *r, const cJSON *msg);
void pt_chat_record_reply_begin(pt_chat_record *r);

/* End the turn: the usage row and the turn's status from the DONE (or
 * the start failure) `status` and `stop`, with `error` (may be NULL). */
void pt_chat_record_end(pt_chat_record *r, int32_t status, uint32_t stop,
                        const char *error);

/* Write what is buffered now. For a caller that runs the loop with
 * UV_RUN_ONCE, whose timers run once more after the check handle: flushing
 * after each run keeps what was shown but not saved to one fragment. */
void pt_chat_record_flush(pt_chat_record *r);

/* Whether every write of this chat succeeded. */
int pt_chat_record_ok(const pt_chat_record *r);

/* Close the handle, and the store when the record opened it (ending a
 * turn still open as interrupted). */
void pt_chat_record_close(pt_chat_record *r);

#endif
