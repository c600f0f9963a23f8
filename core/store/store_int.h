/*
 * core/store/store_int.h: what the files of core/store/ share, and nothing
 * outside it may include: the connection, cached statements, transactions,
 * error mapping and row-to-JSON helpers.
 */
#ifndef PT_STORE_INT_H
#define PT_STORE_INT_H

#include <sqlite3.h>

#include "store.h"

/* Text over this many bytes (tool output, big searchable text) is kept as
 * a blob rather than inline. */
#define PT__STORE_INLINE_MAX (16 * 1024)

typedef struct pt__stream pt__stream;
typedef struct pt__events pt__events;
typedef struct pt__checkpointer pt__checkpointer;

typedef struct pt__stmt_slot {
  const char *sql;          /* the static SQL text; its address is the key */
  sqlite3_stmt *stmt;
} pt__stmt_slot;

struct pt_store {
  sqlite3 *db;
  char *path;
  int readonly;
  int busy_timeout_ms;
  char owner[64];           /* this process, as written to turns.owner */
  char err[1024];

  int tx_depth;             /* nested pt__store_begin calls */
  int tx_failed;            /* an inner step failed: roll back at the end */

  pt__stmt_slot *stmts;     /* prepared once, reused; keyed by SQL address */
  size_t nstmts, cap_stmts;

  pt__stream *streams;      /* messages being streamed into */
  size_t pending_bytes;     /* buffered delta text, all streams */

  pt__events *events;       /* the event log's sessions and buffered
                               appends (store_events.c); NULL until used */

  pt__checkpointer *checkpointer; /* started at the first checkpoint */
};

/*
 * The prepared statement for `sql`, which must be a string literal (its
 * address is the cache key), reset with its bindings cleared. NULL on error,
 * with the message set.
 */
sqlite3_stmt *pt__store_stmt(pt_store *st, const char *sql);

/* Map a SQLite result code to a PT_E* code and write the message for a
 * person, saying what was being done (`doing`, e.g. "add a message"). */
int32_t pt__store_error(pt_store *st, int rc, const char *doing);

/* Set the message from a format and return `code`. */
int32_t pt__store_fail(pt_store *st, int32_t code, const char *fmt, ...)
    PT_PRINTF(3, 4);

/* Step `s` to its end (an INSERT, UPDATE or DELETE) and reset it. */
int32_t pt__store_run(pt_store *st, sqlite3_stmt *s, const char *doing);

/* Run SQL text without results (DDL, pragmas). */
int32_t pt__store_exec(pt_store *st, const char *sql, const char *doing);

/*
 * Transactions nest: only the outermost begin and commit reach SQLite
 * (BEGIN IMMEDIATE, so a writer waits for the lock at the start rather than
 * failing half-way). pt__store_end(st, rc) commits when rc is PT_OK and
 * nothing inside failed, else rolls back; it returns rc, or the commit's
 * error.
 */
int32_t pt__store_begin(pt_store *st, const char *doing);
int32_t pt__store_end(pt_store *st, int32_t rc, const char *doing);

/* Refuse a write on a read-only store (PT_EPERM with the message). */
int32_t pt__store_writable(pt_store *st);

/* Unix milliseconds now. */
int64_t pt__store_now_ms(void);

/* The current row of `s` as an object keyed by column name: integers and
 * reals as numbers, text as strings, NULL as null. NULL when out of
 * memory. */
cJSON *pt__store_row(sqlite3_stmt *s);

/* Step `s` to its end, collecting every row as pt__store_row objects into
 * a new array at *out. */
int32_t pt__store_rows(pt_store *st, sqlite3_stmt *s, const char *doing,
                       cJSON **out);

/* Bind a pt_str (NULL pointer binds an empty string). */
int pt__store_bind_str(sqlite3_stmt *s, int i, pt_str v);

/* Owner of turns (see recover.c): "pid:start-time" of this process. */
void pt__store_owner(char *buf, size_t len);

/* Checkpoints on a thread of their own (checkpoint.c): start watching
 * commits, count the checkpoints done, stop (joining the thread). */
void pt__store_checkpoints_start(pt_store *st);
uint64_t pt__store_checkpoints_done(pt_store *st);
void pt__store_checkpoints_stop(pt_store *st);

/* The schema, forward (see migrate.c). */
int32_t pt__store_migrate(pt_store *st);

/* Forget the streaming state of every message (on close), or of the
 * messages of one turn (when it ends). */
void pt__store_streams_free(pt_store *st);
void pt__store_streams_forget_turn(pt_store *st, int64_t turn_id);

/*
 * The event log's share of pt_store_flush (store_events.c). write inserts
 * every buffered event inside the flush's transaction; done is told how
 * that transaction ended, and forgets the events once committed (after a
 * rollback they stay for the next flush).
 */
int pt__store_events_pending(const pt_store *st);
int32_t pt__store_events_write(pt_store *st);
void pt__store_events_done(pt_store *st, int committed);

/* Forget what the event log knows of a session deleted through `st`, or
 * of every session and every buffered event (on close). */
void pt__store_events_forget(pt_store *st, const char *session_id);
void pt__store_events_free(pt_store *st);

/*
 * Message parts as rows (parts.c). A normalized part becomes a row of
 * (type, text, data): text is what search indexes and data the JSON of the
 * rest, with image bytes and big text moved into blobs. Both functions run
 * inside the caller's transaction.
 */
int32_t pt__store_part_insert(pt_store *st, int64_t message_id, int seq,
                              const cJSON *part);
cJSON *pt__store_part_load(pt_store *st, const char *type, const char *text,
                           const char *data);

/* A tool call or decision row as returned: "arguments" parsed back into
 * JSON, "is_error" a boolean (tools.c). */
void pt__store_fix_row(cJSON *row);

/* Store `len` bytes as a blob within the caller's transaction. */
int32_t pt__store_blob_put(pt_store *st, const void *data, size_t len,
                           const char *media_type,
                           char hash[PT_STORE_HASH_LEN]);

/* Delete blobs nothing refers to any more. */
int32_t pt__store_blob_gc(pt_store *st);

/* SHA-256 of `len` bytes as lowercase hex (sha256.c). */
void pt__sha256_hex(const void *data, size_t len,
                    char hex[PT_STORE_HASH_LEN]);

/* Base64 (RFC 4648, padded). Encoding returns a NUL-terminated string the
 * caller frees; decoding skips whitespace and returns PT_EINVAL on other
 * bad input. */
char *pt__base64_encode(const void *data, size_t len);
int32_t pt__base64_decode(const char *text, size_t len, unsigned char **out,
                          size_t *out_len);

#endif
