/*
 * core/store/store.h: the runtime's memory, in one SQLite file.
 *
 * Sessions and their turns, messages in order with their content parts,
 * tool calls (arguments, decision, result, timings, idempotency key), a
 * usage ledger with cost, permission decisions, "always" rules and pending
 * requests, settings, full-text search, blobs stored once by content
 * hash, and a per-session log of the events a server streamed.
 * docs/storage.md documents the schema for other readers.
 *
 * This is the one interface the rest of the kernel uses: no SQL and no
 * SQLite type appears outside core/store/, so another backend (PostgreSQL,
 * for deployments that outgrow one machine) can implement these functions
 * beside this one without touching their callers.
 *
 * THREADS. A pt_store is one connection, used by one thread at a time (in
 * the kernel, the loop thread). Other threads and processes open their own
 * pt_store on the same file: any number of readers run while one writer
 * writes, each reader seeing whole transactions only.
 *
 * ERRORS. Functions return PT_OK or a negative PT_E* code, and then
 * pt_store_errmsg() holds one line for a person that names the file, the
 * problem and the way out:
 *   PT_EBUSY     another process held the write lock past the busy timeout
 *   PT_EPERM     the file or its folder is read-only, or the store was
 *                opened read-only
 *   PT_EIO       the file is damaged or not a database, or the disk failed
 *   PT_EVERSION  the file was written by a newer portico
 *   PT_ENOENT    no such session, row or key
 *   PT_EINVAL    a malformed argument (message JSON, role, ambiguous id)
 *   PT_ENOMEM
 * A failed call leaves the database as it was before the call.
 *
 * DURABILITY. Every function that writes has committed when it returns,
 * except pt_store_message_delta() and pt_store_event_append(), which
 * buffer until pt_store_flush() (or the message's end). A committed write
 * survives the process being killed; with `synchronous_full` it also
 * survives power loss (docs/storage.md has the trade-off and the
 * measurements).
 *
 * Reads return cJSON trees the caller owns (cJSON_Delete). Times are Unix
 * milliseconds. Strings passed in are borrowed for the call.
 */
#ifndef PT_STORE_H
#define PT_STORE_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "portico/plugin.h"

typedef struct pt_store pt_store;

/* The schema version this build writes (PRAGMA user_version). */
#define PT_STORE_SCHEMA_VERSION 3

/* A session id: 16 lowercase hex digits and a NUL. */
#define PT_STORE_ID_LEN 17

/* A blob's content hash: SHA-256 as 64 lowercase hex digits and a NUL. */
#define PT_STORE_HASH_LEN 65

/* The file's name inside the data folder. */
#define PT_STORE_FILE "portico.db"

/* ------------------------------------------------------------------------ */
/* Opening                                                                   */

enum pt_store_open_flags {
  /* Read only: nothing is created, migrated or recovered, and a file whose
   * schema is older than this build's is refused (PT_EVERSION) until a
   * writer has upgraded it. */
  PT_STORE_READONLY = 1u << 0
};

typedef struct pt_store_options {
  unsigned flags;          /* PT_STORE_* */
  int busy_timeout_ms;     /* wait this long for another writer; 0: 5000 */
  int synchronous_full;    /* fsync every commit (power-loss safe, slower) */
} pt_store_options;

/*
 * Open (creating when missing) the database at `path`: WAL mode, foreign
 * keys on, the schema migrated forward in one transaction, and turns left
 * running by processes that no longer exist marked interrupted
 * (pt_store_recover). `o` may be NULL for the defaults. On error returns a
 * negative code, writes one line for a person to `err`, and the file is
 * left as it was. Caller owns *out: pt_store_close().
 */
int32_t pt_store_open(const char *path, const pt_store_options *o,
                      pt_store **out, char *err, size_t errlen);

/* As pt_store_open for `data_dir`/portico.db, creating the folder (0700)
 * when it is missing and the store is not read-only. */
int32_t pt_store_open_dir(const char *data_dir, const pt_store_options *o,
                          pt_store **out, char *err, size_t errlen);

/* Flush buffered deltas and close. NULL is ignored. */
void pt_store_close(pt_store *st);

/* The message for the last error on `st` (never NULL; owned by st). */
const char *pt_store_errmsg(const pt_store *st);

/* The file this store reads and writes (owned by st). */
const char *pt_store_path(const pt_store *st);

/* ------------------------------------------------------------------------ */
/* Sessions                                                                  */

/* Any member may be NULL. */
typedef struct pt_store_session_info {
  const char *agent;      /* agent profile */
  const char *provider;
  const char *model;
  const char *workspace;  /* the folder the session works in */
  const char *title;
} pt_store_session_info;

/* Create a session (status "active"); its new id is written to `id`. */
int32_t pt_store_session_create(pt_store *st,
                                const pt_store_session_info *info,
                                char id[PT_STORE_ID_LEN]);

/*
 * The full id of the session whose id is, or starts with, `id_or_prefix`
 * (at least 4 hex digits). PT_ENOENT when none; PT_EINVAL when the prefix
 * is ambiguous or malformed.
 */
int32_t pt_store_session_find(pt_store *st, const char *id_or_prefix,
                              char id[PT_STORE_ID_LEN]);

/*
 * Change a session: the non-NULL members of `info` replace the stored
 * ones; `status` (NULL: unchanged) is "active" or "archived". Touches its
 * updated_at. PT_ENOENT when there is no such session.
 */
int32_t pt_store_session_update(pt_store *st, const char *id,
                                const pt_store_session_info *info,
                                const char *status);

/*
 * One session as an object: id, agent, provider, model, workspace, title,
 * status, created_at, updated_at, and the totals messages, turns,
 * input_tokens, output_tokens, cost_usd, and last_turn_status (null before
 * the first turn). PT_ENOENT when there is none.
 */
int32_t pt_store_session_get(pt_store *st, const char *id, cJSON **out);

/* The `limit` (<= 0: all) most recently updated sessions, newest first,
 * as an array of pt_store_session_get objects. */
int32_t pt_store_session_list(pt_store *st, int limit, cJSON **out);

/* Delete a session with its turns, messages, tool calls, permission
 * requests and decisions, logged events, and every blob nothing else
 * refers to. Usage rows stay in the ledger, detached. PT_ENOENT when
 * there is none. */
int32_t pt_store_session_delete(pt_store *st, const char *id);

/* ------------------------------------------------------------------------ */
/* Turns                                                                     */

typedef enum pt_store_turn_status {
  PT_STORE_TURN_RUNNING = 0,
  PT_STORE_TURN_DONE = 1,          /* the model stopped on its own */
  PT_STORE_TURN_INTERRUPTED = 2,   /* cancelled, or the process died */
  PT_STORE_TURN_FAILED = 3         /* the provider failed */
} pt_store_turn_status;

/* Start a turn of `session_id`, owned by this process (status running). */
int32_t pt_store_turn_begin(pt_store *st, const char *session_id,
                            int64_t *turn_id);

/*
 * End a turn with `status` (not RUNNING), the stop reason ("end_turn",
 * "cancelled", ...; may be NULL) and an error message (may be NULL).
 * Messages of the turn still streaming are ended (complete when DONE,
 * otherwise interrupted) and its running tool calls become interrupted.
 */
int32_t pt_store_turn_end(pt_store *st, int64_t turn_id,
                          pt_store_turn_status status, const char *stop,
                          const char *error);

/*
 * Mark interrupted every turn left running by a process that no longer
 * exists, with the messages it was streaming and the tool calls it was
 * running; what they had produced is kept. Pending permission requests stay
 * pending. pt_store_open does this; *marked (may be NULL) gets the number
 * of turns marked.
 */
int32_t pt_store_recover(pt_store *st, int *marked);

/* ------------------------------------------------------------------------ */
/* Messages                                                                  */

/*
 * Append a whole message, `message` being {"role": "user" | "assistant" |
 * "tool" | "system", "content": string or array of parts} in the
 * normalized shape of docs/providers.md. `turn_id` may be 0. Image data
 * and tool output over 16 KiB go to blobs. *id (may be NULL) gets the
 * message's id.
 */
int32_t pt_store_message_add(pt_store *st, const char *session_id,
                             int64_t turn_id, const cJSON *message,
                             int64_t *id);

/* Start a message that will be streamed into (status "streaming"). */
int32_t pt_store_message_begin(pt_store *st, const char *session_id,
                               int64_t turn_id, const char *role,
                               int64_t *id);

typedef enum pt_store_delta_kind {
  PT_STORE_DELTA_TEXT = 0,       /* appends to the message's text */
  PT_STORE_DELTA_THINKING = 1,   /* appends to its reasoning */
  PT_STORE_DELTA_SIGNATURE = 2   /* the signature of the reasoning just
                                    streamed; ends that thinking part */
} pt_store_delta_kind;

/*
 * Buffer a streamed fragment of streaming message `id`. It reaches the
 * file with the next pt_store_flush(), message part or message end (or at
 * once, when the buffer passes 256 KiB). Consecutive fragments of one kind
 * form one part.
 */
int32_t pt_store_message_delta(pt_store *st, int64_t id,
                               pt_store_delta_kind kind, pt_str text);

/* Append a whole part (e.g. a finished tool_call) to streaming message
 * `id`, after everything buffered for it. */
int32_t pt_store_message_part(pt_store *st, int64_t id, const cJSON *part);

/* End streaming message `id`, complete or interrupted, writing what is
 * buffered first. Its text enters the search index. */
int32_t pt_store_message_end(pt_store *st, int64_t id, int interrupted);

/*
 * Group the writes that follow, until pt_store_batch_end(), into one
 * transaction: one commit instead of one each, and all of them kept or
 * none. Batches nest (an inner one joins the outer). Returns PT_OK, or
 * the error of starting the transaction (then call nothing of the batch,
 * not even pt_store_batch_end).
 */
int32_t pt_store_batch_begin(pt_store *st);

/* End a batch: commit it, or roll it all back when `rc` is not PT_OK or a
 * write inside it failed. Returns PT_OK or the first error. */
int32_t pt_store_batch_end(pt_store *st, int32_t rc);

/* Whether deltas or events are buffered, waiting for pt_store_flush(). */
int pt_store_pending(const pt_store *st);

/* Write every buffered delta and event in one transaction. On error
 * nothing of it is written and all of it stays buffered for the next
 * call. */
int32_t pt_store_flush(pt_store *st);

enum pt_store_messages_flags {
  /* Only what a provider request needs: {"role","content"} objects, without
   * messages of failed turns and without empty ones. */
  PT_STORE_FOR_REQUEST = 1u << 0
};

/*
 * The messages of a session in order, as an array. Without
 * PT_STORE_FOR_REQUEST each is {"id","seq","turn_id","turn_status","role",
 * "status","created_at","content"}, status being "streaming", "complete" or
 * "interrupted". "content" is a string when the message is one text part,
 * else an array of normalized parts (images with their base64 data again).
 */
int32_t pt_store_messages(pt_store *st, const char *session_id,
                          unsigned flags, cJSON **out);

/* ------------------------------------------------------------------------ */
/* Event log                                                                 */

/*
 * What a server streamed to a session's clients, numbered by `seq`, so
 * that a client reconnecting with the last seq it saw (SSE's
 * Last-Event-ID) can be sent the rest. One writer per session's log: the
 * process serving the session.
 */

/*
 * Log event `seq` of `session_id`, whose data is `len` bytes of JSON at
 * `json` (one value, at most 64 MiB; the server's is an object), borrowed
 * for the call.
 *
 * ORDER. `seq` must be greater than every seq logged for the session
 * before, buffered or stored (gaps are allowed; the first may be 1), else
 * PT_EINVAL. pt_store_event_last_seq() says where numbering stands.
 *
 * DURABILITY. The event is buffered, not written: it reaches the file
 * with the next pt_store_flush() (which the caller runs once per loop
 * iteration), a call that flushes first (pt_store_messages,
 * _message_part, _message_end, _session_delete, _events_after,
 * _events_trim, _close), or before an append that would take the buffer
 * past 2 MiB. Every event buffered until then, of every session, commits
 * in that one transaction together with the buffered message text. A kill
 * loses what was appended since the last flush and no more: a session's
 * stored events are all those appended up to some flush, without holes.
 *
 * Errors: PT_EINVAL for a NULL or empty session id, JSON that does not
 * parse, or a seq not after the last; PT_ENOENT when there is no such
 * session (the id must be whole, as pt_store_session_find returns it);
 * PT_EPERM on a read-only store; or the error of the flush it ran. On
 * error nothing was logged. Checking the session costs a read the first
 * time a session is seen, after which what it needs is kept in memory.
 */
int32_t pt_store_event_append(pt_store *st, const char *session_id,
                              int64_t seq, const char *json, size_t len);

/*
 * *seq gets the highest seq logged for the session, buffered or stored,
 * or 0 when none: a server that starts numbers on from there. PT_EINVAL
 * for a NULL session id, PT_ENOENT when there is no such session.
 */
int32_t pt_store_event_last_seq(pt_store *st, const char *session_id,
                                int64_t *seq);

/*
 * The session's events with a seq greater than `after_seq`, oldest first,
 * at most `limit` (<= 0: all), as a new array at *out (caller owns) of
 * {"seq": N, "data": the logged JSON, parsed}. Buffered events are
 * flushed first (unless the store is read-only), so everything appended
 * through `st` is there. PT_EINVAL for a NULL session id, PT_ENOENT when
 * there is no such session; PT_EIO when a row is not JSON (the file was
 * written by something else).
 */
int32_t pt_store_events_after(pt_store *st, const char *session_id,
                              int64_t after_seq, int limit, cJSON **out);

/*
 * Delete the session's events with a seq up to `keep_after_seq`, after
 * flushing; the newest event is always kept, so that
 * pt_store_event_last_seq still knows the numbering. A client asking for
 * less than what is kept gets only what is kept: the server should then
 * tell it to start over. PT_EINVAL and PT_ENOENT as
 * pt_store_events_after; PT_EPERM on a read-only store.
 */
int32_t pt_store_events_trim(pt_store *st, const char *session_id,
                             int64_t keep_after_seq);

/* ------------------------------------------------------------------------ */
/* Tool calls and permissions                                                */

typedef struct pt_store_tool_call {
  const char *session_id;
  int64_t turn_id;              /* 0: none */
  const char *call_id;          /* the provider's id; may be NULL */
  const char *name;
  pt_str arguments;             /* a JSON object */
  const char *idempotency_key;  /* may be NULL */
} pt_store_tool_call;

/*
 * Record a tool call the model asked for (status "pending"). When a call
 * with the same idempotency key exists, returns PT_EEXIST with its id in
 * *id, so a resumed turn finds it instead of running it again.
 */
int32_t pt_store_tool_call_add(pt_store *st, const pt_store_tool_call *tc,
                               int64_t *id);

/*
 * A tool call as {"id","session_id","turn_id","call_id","name",
 * "arguments","idempotency_key","status","decision","decided_by","rule_id",
 * "reason","result","is_error","created_at","decided_at","started_at",
 * "ended_at"}; status is "pending", "denied", "running", "done", "failed"
 * or "interrupted". By id, or by idempotency key. PT_ENOENT when none.
 */
int32_t pt_store_tool_call_get(pt_store *st, int64_t id, cJSON **out);
int32_t pt_store_tool_call_find(pt_store *st, const char *idempotency_key,
                                cJSON **out);

typedef struct pt_store_decision {
  const char *decision;    /* "allow" or "deny" */
  const char *decided_by;  /* "policy", "user", "rule", ... */
  int64_t rule_id;         /* the rule that decided; 0: none */
  const char *reason;      /* may be NULL */
} pt_store_decision;

/* Record the permission decision on a pending tool call (a deny makes it
 * "denied") and in the audit trail. */
int32_t pt_store_tool_call_decide(pt_store *st, int64_t id,
                                  const pt_store_decision *d);

/* The call starts running now. */
int32_t pt_store_tool_call_start(pt_store *st, int64_t id);

/* The call ended with `result` (any text; over 16 KiB it goes to a blob):
 * "done", or "failed" when `is_error`. */
int32_t pt_store_tool_call_finish(pt_store *st, int64_t id, int is_error,
                                  pt_str result);

/* The audit trail of a session's decisions, oldest first: {"id",
 * "tool_call_id","tool","arguments","decision","decided_by","rule_id",
 * "reason","created_at"}. */
int32_t pt_store_decisions(pt_store *st, const char *session_id,
                           cJSON **out);

/* A stored "always" answer: `decision` for `tool` when its arguments match
 * `pattern` (NULL: "*", any), in `workspace` (NULL: everywhere). */
typedef struct pt_store_rule {
  const char *tool;
  const char *pattern;
  const char *decision;   /* "allow" or "deny" */
  const char *workspace;
} pt_store_rule;

int32_t pt_store_rule_add(pt_store *st, const pt_store_rule *r, int64_t *id);

/* Rules for `tool` (NULL: all), oldest first: {"id","tool","pattern",
 * "decision","workspace","created_at"}. */
int32_t pt_store_rules(pt_store *st, const char *tool, cJSON **out);

int32_t pt_store_rule_delete(pt_store *st, int64_t id);

/* Ask whoever drives the session about tool call `tool_call_id`; the
 * request stays pending, across restarts, until answered. */
int32_t pt_store_request_add(pt_store *st, int64_t tool_call_id,
                             const char *reason, int64_t *id);

/* Pending requests of `session_id` (NULL: every session), oldest first:
 * {"id","session_id","tool_call_id","tool","arguments","reason",
 * "created_at"}. */
int32_t pt_store_requests_pending(pt_store *st, const char *session_id,
                                  cJSON **out);

/* Answer a pending request: records the decision on its tool call (as
 * pt_store_tool_call_decide) in the same transaction. PT_ESTATE when it
 * was answered already. */
int32_t pt_store_request_answer(pt_store *st, int64_t id,
                                const pt_store_decision *d);

/* ------------------------------------------------------------------------ */
/* Usage                                                                     */

typedef struct pt_store_usage {
  const char *session_id;   /* may be NULL */
  int64_t turn_id;          /* 0: none */
  const char *provider;
  const char *model;
  uint64_t input_tokens, output_tokens, cache_read_tokens,
      cache_write_tokens;
  double cost_usd;
  int cost_known;           /* 0: the price is unknown; cost stored NULL */
  int64_t latency_ms;       /* request to last event; < 0: unknown */
  int retries;              /* < 0: unknown */
  const char *outcome;      /* "ok", "cancelled", or the error's name */
} pt_store_usage;

/* One row per provider call. */
int32_t pt_store_usage_add(pt_store *st, const pt_store_usage *u);

typedef enum pt_store_usage_by {
  PT_STORE_BY_NONE = 0,     /* one total row */
  PT_STORE_BY_MODEL,
  PT_STORE_BY_PROVIDER,
  PT_STORE_BY_DAY,          /* local time, YYYY-MM-DD */
  PT_STORE_BY_SESSION
} pt_store_usage_by;

/* Totals of the calls made at or after `since_ms` (0: all), grouped: an
 * array of {"key","calls","input_tokens","output_tokens",
 * "cache_read_tokens","cache_write_tokens","cost_usd"}, costliest first
 * (by day: oldest first). */
int32_t pt_store_usage_report(pt_store *st, pt_store_usage_by by,
                              int64_t since_ms, cJSON **out);

/* ------------------------------------------------------------------------ */
/* Settings, search, blobs                                                   */

/* Set `key` to `value` (NULL deletes it). */
int32_t pt_store_setting_set(pt_store *st, const char *key,
                             const char *value);

/* *value (caller frees) is the setting; PT_ENOENT when unset. */
int32_t pt_store_setting_get(pt_store *st, const char *key, char **value);

/*
 * Full-text search over message text, reasoning, tool arguments and tool
 * output. `query` is a person's words, never FTS5 syntax: every word must
 * match (a trailing * matches a prefix); quotes, operators and brackets
 * are taken as text, so no query is an error. The best `limit` (<= 0: 20)
 * hits first: {"session_id","session_title","message_id","role","kind",
 * "snippet","created_at"}, the matches in the snippet between [ and ].
 */
int32_t pt_store_search(pt_store *st, const char *query, int limit,
                        cJSON **out);

/* Store `len` bytes once under their SHA-256; `hash` gets it. A blob is
 * kept while a message part or tool call refers to it. */
int32_t pt_store_blob_put(pt_store *st, const void *data, size_t len,
                          const char *media_type,
                          char hash[PT_STORE_HASH_LEN]);

/* The blob stored under `hash`: *data (caller frees; NUL-terminated for
 * convenience, not counted in *len) and *media_type (may be NULL; caller
 * frees). PT_ENOENT when none. */
int32_t pt_store_blob_get(pt_store *st, const char *hash, void **data,
                          size_t *len, char **media_type);

#endif
