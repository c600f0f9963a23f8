/*
 * core/store/messages.c: messages, written whole or streamed, and read
 * back in order.
 *
 * A streamed reply arrives as many small fragments. They are buffered per
 * message as runs of one kind (text, thinking, signature) and written by
 * pt_store_flush() in one transaction for every message at once: the
 * caller flushes once per loop iteration, so a burst of fragments costs
 * one commit, and a kill loses at most the fragments of the iteration in
 * flight. A run extends the message's open part with `text || ?`; since
 * that rewrites the row, a part being streamed into is closed at 8 KiB and
 * the text goes on in a new row marked {"continues":true}, which reading
 * joins back. A commit so writes at most a few pages however long the
 * reply grows (bench/bench_store.c showed the cost of rewriting whole
 * 100 KB rows).
 */
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

/* Flush at once past this much buffered text, to bound memory. */
#define PENDING_MAX (256 * 1024)

/* Streamed text past this goes on in a continuation row. */
#define OPEN_PART_MAX (8 * 1024)

typedef struct run {
  int kind;                 /* pt_store_delta_kind */
  char *buf;                /* kept across flushes for reuse */
  size_t len, cap;
} run;

struct pt__stream {
  int64_t msg_id, turn_id;
  int64_t open_part;        /* the row text is appended to; 0: none */
  int open_kind;            /* its kind, -1 when none */
  size_t open_len;          /* the bytes it holds */
  int next_seq;             /* the next part's position */
  run *runs;                /* pending, in arrival order */
  size_t nruns, cap_runs;   /* runs beyond nruns are spare buffers */
  pt__stream *next;
};

static const char *const delta_types[] = { "text", "thinking" };

static pt__stream *stream_find(pt_store *st, int64_t msg_id)
{
  for (pt__stream *s = st->streams; s; s = s->next)
    if (s->msg_id == msg_id) return s;
  return NULL;
}

static void stream_free(pt__stream *s)
{
  for (size_t i = 0; i < s->cap_runs; i++) free(s->runs[i].buf);
  free(s->runs);
  free(s);
}

static void stream_drop(pt_store *st, pt__stream *gone)
{
  for (pt__stream **p = &st->streams; *p; p = &(*p)->next) {
    if (*p == gone) {
      *p = gone->next;
      for (size_t i = 0; i < gone->nruns; i++)
        st->pending_bytes -= gone->runs[i].len;
      stream_free(gone);
      return;
    }
  }
}

void pt__store_streams_free(pt_store *st)
{
  while (st->streams) {
    pt__stream *s = st->streams;
    st->streams = s->next;
    stream_free(s);
  }
  st->pending_bytes = 0;
}

void pt__store_streams_forget_turn(pt_store *st, int64_t turn_id)
{
  pt__stream *s = st->streams;
  while (s) {
    pt__stream *next = s->next;
    if (s->turn_id == turn_id) stream_drop(st, s);
    s = next;
  }
}

/* The streaming state of message `id`, read from the file the first time
 * (a message begun by an earlier process continues in a new part). */
static int32_t stream_get(pt_store *st, int64_t id, pt__stream **out)
{
  static const char sql[] =
      "SELECT status, turn_id, (SELECT COALESCE(MAX(seq) + 1, 0) FROM parts "
      "WHERE message_id = ?1) FROM messages WHERE id = ?1";
  if ((*out = stream_find(st, id))) return PT_OK;
  sqlite3_stmt *s = pt__store_stmt(st, sql);
  if (!s) return PT_EIO;
  sqlite3_bind_int64(s, 1, id);
  int src = sqlite3_step(s);
  int32_t rc = PT_OK;
  if (src == SQLITE_DONE)
    rc = pt__store_fail(st, PT_ENOENT, "%s: no message %lld", st->path,
                        (long long)id);
  else if (src != SQLITE_ROW)
    rc = pt__store_error(st, src, "read a message");
  else if (strcmp((const char *)sqlite3_column_text(s, 0), "streaming"))
    rc = pt__store_fail(st, PT_ESTATE,
                        "%s: message %lld has ended; it takes no more text",
                        st->path, (long long)id);
  pt__stream *m = NULL;
  if (rc == PT_OK && !(m = calloc(1, sizeof *m)))
    rc = pt__store_fail(st, PT_ENOMEM, "out of memory");
  if (m) {
    m->msg_id = id;
    m->turn_id = sqlite3_column_int64(s, 1);
    m->next_seq = sqlite3_column_int(s, 2);
    m->open_kind = -1;
    m->next = st->streams;
    st->streams = m;
    *out = m;
  }
  sqlite3_reset(s);
  return rc;
}

static int32_t touch_session(pt_store *st, const char *session_id,
                             int64_t now)
{
  static const char sql[] = "UPDATE sessions SET updated_at = ?2 WHERE id = ?1";
  sqlite3_stmt *s = pt__store_stmt(st, sql);
  if (!s) return PT_EIO;
  sqlite3_bind_text(s, 1, session_id, -1, SQLITE_STATIC);
  sqlite3_bind_int64(s, 2, now);
  return pt__store_run(st, s, "add a message");
}

static int32_t insert_message(pt_store *st, const char *session_id,
                              int64_t turn_id, const char *role,
                              int streaming, int64_t *id)
{
  static const char sql[] =
      "INSERT INTO messages(session_id, turn_id, seq, role, status, "
      "created_at, completed_at) VALUES (?1, ?2, (SELECT COALESCE(MAX(seq), "
      "0) + 1 FROM messages WHERE session_id = ?1), ?3, ?4, ?5, ?6)";
  static const char *const roles[] = { "system", "user", "assistant",
                                       "tool" };
  int known = 0;
  for (size_t i = 0; role && i < sizeof roles / sizeof roles[0]; i++)
    known |= strcmp(role, roles[i]) == 0;
  if (!known)
    return pt__store_fail(st, PT_EINVAL,
                          "a message's role is user, assistant, tool or "
                          "system, not '%s'",
                          role ? role : "(none)");
  int64_t now = pt__store_now_ms();
  sqlite3_stmt *s = pt__store_stmt(st, sql);
  if (!s) return PT_EIO;
  sqlite3_bind_text(s, 1, session_id, -1, SQLITE_STATIC);
  if (turn_id > 0) sqlite3_bind_int64(s, 2, turn_id);
  sqlite3_bind_text(s, 3, role, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 4, streaming ? "streaming" : "complete", -1,
                    SQLITE_STATIC);
  sqlite3_bind_int64(s, 5, now);
  if (!streaming) sqlite3_bind_int64(s, 6, now);
  int32_t rc = pt__store_run(st, s, "add a message");
  if (rc == PT_OK) *id = sqlite3_last_insert_rowid(st->db);
  return rc == PT_OK ? touch_session(st, session_id, now) : rc;
}

int32_t pt_store_message_add(pt_store *st, const char *session_id,
                             int64_t turn_id, const cJSON *message,
                             int64_t *id)
{
  const char *role = cJSON_GetStringValue(
      cJSON_GetObjectItemCaseSensitive(message, "role"));
  const cJSON *content = cJSON_GetObjectItemCaseSensitive(message, "content");
  if (!cJSON_IsString(content) && !cJSON_IsArray(content))
    return pt__store_fail(st, PT_EINVAL,
                          "a message needs \"content\": a string or an "
                          "array of parts");
  int64_t msg_id = 0;
  int32_t rc = pt__store_begin(st, "add a message");
  if (rc != PT_OK) return rc;
  rc = insert_message(st, session_id, turn_id, role, 0, &msg_id);
  if (rc == PT_OK && cJSON_IsString(content)) {
    cJSON *part = cJSON_CreateObject();
    if (!part || !cJSON_AddStringToObject(part, "type", "text") ||
        !cJSON_AddStringToObject(part, "text", content->valuestring))
      rc = pt__store_fail(st, PT_ENOMEM, "out of memory");
    else
      rc = pt__store_part_insert(st, msg_id, 0, part);
    cJSON_Delete(part);
  } else if (rc == PT_OK) {
    int seq = 0;
    const cJSON *part;
    cJSON_ArrayForEach(part, content) {
      if ((rc = pt__store_part_insert(st, msg_id, seq++, part)) != PT_OK)
        break;
    }
  }
  rc = pt__store_end(st, rc, "add a message");
  if (rc == PT_OK && id) *id = msg_id;
  return rc;
}

int32_t pt_store_message_begin(pt_store *st, const char *session_id,
                               int64_t turn_id, const char *role,
                               int64_t *id)
{
  if (turn_id <= 0)
    return pt__store_fail(st, PT_EINVAL,
                          "a streamed message belongs to a turn");
  int32_t rc = pt__store_begin(st, "start a message");
  if (rc != PT_OK) return rc;
  int64_t msg_id = 0;
  rc = insert_message(st, session_id, turn_id, role, 1, &msg_id);
  rc = pt__store_end(st, rc, "start a message");
  pt__stream *m = NULL;
  if (rc == PT_OK) rc = stream_get(st, msg_id, &m);
  if (rc == PT_OK) *id = msg_id;
  return rc;
}

int pt_store_pending(const pt_store *st)
{
  return st->pending_bytes > 0 || pt__store_events_pending(st);
}

int32_t pt_store_message_delta(pt_store *st, int64_t id,
                               pt_store_delta_kind kind, pt_str text)
{
  if (kind > PT_STORE_DELTA_SIGNATURE)
    return pt__store_fail(st, PT_EINVAL, "unknown delta kind %d", (int)kind);
  if (text.len == 0) return PT_OK;
  pt__stream *m;
  int32_t rc = pt__store_writable(st);
  if (rc == PT_OK) rc = stream_get(st, id, &m);
  if (rc != PT_OK) return rc;
  run *r = m->nruns ? &m->runs[m->nruns - 1] : NULL;
  if (!r || r->kind != (int)kind || kind == PT_STORE_DELTA_SIGNATURE) {
    if (m->nruns == m->cap_runs) {
      size_t cap = m->cap_runs ? m->cap_runs * 2 : 4;
      run *p = realloc(m->runs, cap * sizeof *p);
      if (!p) return pt__store_fail(st, PT_ENOMEM, "out of memory");
      memset(p + m->cap_runs, 0, (cap - m->cap_runs) * sizeof *p);
      m->runs = p;
      m->cap_runs = cap;
    }
    r = &m->runs[m->nruns++];
    r->kind = (int)kind;
    r->len = 0;
  }
  if (r->len + text.len > r->cap) {
    size_t cap = r->cap ? r->cap : 256;
    while (cap < r->len + text.len) cap *= 2;
    char *p = realloc(r->buf, cap);
    if (!p) {
      if (r->len == 0) m->nruns--;
      return pt__store_fail(st, PT_ENOMEM, "out of memory");
    }
    r->buf = p;
    r->cap = cap;
  }
  memcpy(r->buf + r->len, text.ptr, text.len);
  r->len += text.len;
  st->pending_bytes += text.len;
  return st->pending_bytes > PENDING_MAX ? pt_store_flush(st) : PT_OK;
}

/* Write one run into the message's parts. */
static int32_t apply(pt_store *st, pt__stream *m, const run *r)
{
  static const char append_sql[] =
      "UPDATE parts SET text = text || ?2 WHERE id = ?1";
  static const char insert_sql[] =
      "INSERT INTO parts(message_id, seq, type, text, data) "
      "VALUES (?1, ?2, ?3, ?4, ?5)";
  static const char sign_sql[] =
      "UPDATE parts SET data = json_set(COALESCE(data, '{}'), "
      "'$.signature', ?2) WHERE id = ?1";
  static const char sign_new_sql[] =
      "INSERT INTO parts(message_id, seq, type, text, data) "
      "VALUES (?1, ?2, 'thinking', '', json_object('signature', ?3))";
  pt_str text = { r->buf, r->len };
  sqlite3_stmt *s;
  int32_t rc;
  if (r->kind == PT_STORE_DELTA_SIGNATURE) {
    int append = m->open_part && m->open_kind == PT_STORE_DELTA_THINKING;
    if (!(s = pt__store_stmt(st, append ? sign_sql : sign_new_sql)))
      return PT_EIO;
    if (append) {
      sqlite3_bind_int64(s, 1, m->open_part);
      pt__store_bind_str(s, 2, text);
    } else {
      sqlite3_bind_int64(s, 1, m->msg_id);
      sqlite3_bind_int(s, 2, m->next_seq++);
      pt__store_bind_str(s, 3, text);
    }
    m->open_part = 0;
    m->open_kind = -1;
    return pt__store_run(st, s, "save streamed text");
  }
  int same = m->open_part && m->open_kind == r->kind;
  if (same && m->open_len + r->len <= OPEN_PART_MAX) {
    if (!(s = pt__store_stmt(st, append_sql))) return PT_EIO;
    sqlite3_bind_int64(s, 1, m->open_part);
    pt__store_bind_str(s, 2, text);
    rc = pt__store_run(st, s, "save streamed text");
    if (rc == PT_OK) m->open_len += r->len;
    return rc;
  }
  if (!(s = pt__store_stmt(st, insert_sql))) return PT_EIO;
  sqlite3_bind_int64(s, 1, m->msg_id);
  sqlite3_bind_int(s, 2, m->next_seq);
  sqlite3_bind_text(s, 3, delta_types[r->kind], -1, SQLITE_STATIC);
  pt__store_bind_str(s, 4, text);
  if (same) sqlite3_bind_text(s, 5, "{\"continues\":true}", -1, SQLITE_STATIC);
  rc = pt__store_run(st, s, "save streamed text");
  if (rc == PT_OK) {
    m->open_part = sqlite3_last_insert_rowid(st->db);
    m->open_kind = r->kind;
    m->open_len = r->len;
    m->next_seq++;
  }
  return rc;
}

typedef struct saved {
  int64_t open_part;
  int open_kind, next_seq;
  size_t open_len;
} saved;

int32_t pt_store_flush(pt_store *st)
{
  if (!pt_store_pending(st)) return PT_OK;
  size_t n = 0;
  for (pt__stream *m = st->streams; m; m = m->next) n++;
  /* A failed flush rolls back, so the streams' positions go back too and
   * the buffered runs stay for the next try. */
  saved *was = n ? malloc(n * sizeof *was) : NULL;
  if (n && !was) return pt__store_fail(st, PT_ENOMEM, "out of memory");
  size_t i = 0;
  for (pt__stream *m = st->streams; m; m = m->next, i++)
    was[i] = (saved){ m->open_part, m->open_kind, m->next_seq, m->open_len };
  /* The event log's appends share the transaction: a loop iteration's
   * text and events are one commit, and survive a kill together. */
  int32_t rc = pt__store_begin(st, "save streamed text");
  if (rc == PT_OK) {
    for (pt__stream *m = st->streams; m && rc == PT_OK; m = m->next)
      for (size_t j = 0; j < m->nruns && rc == PT_OK; j++)
        rc = apply(st, m, &m->runs[j]);
    if (rc == PT_OK) rc = pt__store_events_write(st);
    rc = pt__store_end(st, rc, "save streamed text");
  }
  pt__store_events_done(st, rc == PT_OK);
  i = 0;
  for (pt__stream *m = st->streams; m; m = m->next, i++) {
    if (rc == PT_OK) {
      m->nruns = 0;
    } else {
      m->open_part = was[i].open_part;
      m->open_kind = was[i].open_kind;
      m->next_seq = was[i].next_seq;
      m->open_len = was[i].open_len;
    }
  }
  if (rc == PT_OK) st->pending_bytes = 0;
  free(was);
  return rc;
}

int32_t pt_store_message_part(pt_store *st, int64_t id, const cJSON *part)
{
  pt__stream *m;
  /* The buffered text first, in its own transaction: were it inside this
   * one, a failure below would roll it back after its buffer was freed. */
  int32_t rc = pt_store_flush(st);
  if (rc == PT_OK) rc = pt__store_begin(st, "add a message part");
  if (rc != PT_OK) return rc;
  rc = stream_get(st, id, &m);
  if (rc == PT_OK) rc = pt__store_part_insert(st, id, m->next_seq, part);
  rc = pt__store_end(st, rc, "add a message part");
  if (rc == PT_OK) {
    m->next_seq++;
    m->open_part = 0;
    m->open_kind = -1;
  }
  return rc;
}

int32_t pt_store_message_end(pt_store *st, int64_t id, int interrupted)
{
  static const char sql[] =
      "UPDATE messages SET status = ?2, completed_at = ?3 "
      "WHERE id = ?1 AND status = 'streaming'";
  int32_t rc = pt_store_flush(st);
  if (rc == PT_OK) rc = pt__store_begin(st, "end a message");
  if (rc != PT_OK) return rc;
  sqlite3_stmt *s = pt__store_stmt(st, sql);
  if (s) {
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_text(s, 2, interrupted ? "interrupted" : "complete", -1,
                      SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, pt__store_now_ms());
    rc = pt__store_run(st, s, "end a message");
    if (rc == PT_OK && sqlite3_changes(st->db) == 0)
      rc = pt__store_fail(st, PT_ESTATE,
                          "%s: message %lld does not exist or has ended",
                          st->path, (long long)id);
  } else {
    rc = PT_EIO;
  }
  rc = pt__store_end(st, rc, "end a message");
  pt__stream *m = stream_find(st, id);
  if (rc == PT_OK && m) stream_drop(st, m);
  return rc;
}

/* Add a loaded part to `parts`, joining a continuation row to the part it
 * continues (its text appended, its other members, such as a signature
 * that came at the end, carried over). */
static void add_part(cJSON *parts, cJSON *part)
{
  cJSON *flag = cJSON_DetachItemFromObjectCaseSensitive(part, "continues");
  int continues = cJSON_IsTrue(flag);
  cJSON_Delete(flag);
  cJSON *prev = parts->child ? parts->child->prev : NULL;
  const char *type = cJSON_GetStringValue(cJSON_GetObjectItem(part, "type"));
  const char *ptype = cJSON_GetStringValue(cJSON_GetObjectItem(prev, "type"));
  if (!continues || !prev || !type || !ptype || strcmp(type, ptype) != 0) {
    cJSON_AddItemToArray(parts, part);
    return;
  }
  const char *a = cJSON_GetStringValue(cJSON_GetObjectItem(prev, "text"));
  const char *b = cJSON_GetStringValue(cJSON_GetObjectItem(part, "text"));
  size_t la = a ? strlen(a) : 0, lb = b ? strlen(b) : 0;
  char *joined = malloc(la + lb + 1);
  if (joined) {
    memcpy(joined, a ? a : "", la);
    memcpy(joined + la, b ? b : "", lb + 1);
    cJSON_ReplaceItemInObject(prev, "text", cJSON_CreateString(joined));
    free(joined);
  }
  cJSON_DeleteItemFromObjectCaseSensitive(part, "text");
  cJSON_DeleteItemFromObjectCaseSensitive(part, "type");
  while (part->child) {
    cJSON *item = cJSON_DetachItemViaPointer(part, part->child);
    char *key = item->string;
    item->string = NULL;
    cJSON_DeleteItemFromObjectCaseSensitive(prev, key);
    cJSON_AddItemToObject(prev, key, item);
    cJSON_free(key);
  }
  cJSON_Delete(part);
}

/* The content of one message: its parts, or a string when it is one text
 * part. Consumes `parts`. */
static cJSON *content_of(cJSON *parts)
{
  cJSON *only = cJSON_GetArraySize(parts) == 1 ? parts->child : NULL;
  const char *type = cJSON_GetStringValue(
      cJSON_GetObjectItemCaseSensitive(only, "type"));
  if (!type || strcmp(type, "text") != 0) return parts;
  cJSON *text = cJSON_CreateString(cJSON_GetStringValue(
      cJSON_GetObjectItemCaseSensitive(only, "text")));
  cJSON_Delete(parts);
  return text;
}

int32_t pt_store_messages(pt_store *st, const char *session_id,
                          unsigned flags, cJSON **out)
{
  static const char msg_sql[] =
      "SELECT m.id, m.seq, m.turn_id, t.status AS turn_status, m.role, "
      "m.status, m.created_at FROM messages m "
      "LEFT JOIN turns t ON t.id = m.turn_id "
      "WHERE m.session_id = ?1 ORDER BY m.seq";
  static const char part_sql[] =
      "SELECT p.message_id, p.type, p.text, p.data FROM parts p "
      "JOIN messages m ON m.id = p.message_id "
      "WHERE m.session_id = ?1 ORDER BY m.seq, p.seq";
  int32_t rc = st->readonly ? PT_OK : pt_store_flush(st);
  cJSON *msgs = NULL;
  if (rc != PT_OK) return rc;
  sqlite3_stmt *s = pt__store_stmt(st, msg_sql);
  if (!s) return PT_EIO;
  sqlite3_bind_text(s, 1, session_id, -1, SQLITE_STATIC);
  if ((rc = pt__store_rows(st, s, "read messages", &msgs)) != PT_OK) return rc;
  cJSON *all = cJSON_CreateArray();
  sqlite3_stmt *p = pt__store_stmt(st, part_sql);
  if (!all || !p) {
    cJSON_Delete(msgs);
    cJSON_Delete(all);
    return all ? PT_EIO : pt__store_fail(st, PT_ENOMEM, "out of memory");
  }
  sqlite3_bind_text(p, 1, session_id, -1, SQLITE_STATIC);
  int prc = sqlite3_step(p);
  cJSON *m;
  cJSON_ArrayForEach(m, msgs) {
    int64_t mid = (int64_t)cJSON_GetObjectItem(m, "id")->valuedouble;
    cJSON *parts = cJSON_CreateArray();
    /* Both queries walk the session in message order, so each message's
     * parts are the next rows. */
    while (prc == SQLITE_ROW && sqlite3_column_int64(p, 0) == mid) {
      cJSON *part = pt__store_part_load(
          st, (const char *)sqlite3_column_text(p, 1),
          (const char *)sqlite3_column_text(p, 2),
          (const char *)sqlite3_column_text(p, 3));
      if (part) add_part(parts, part);
      prc = sqlite3_step(p);
    }
    if (flags & PT_STORE_FOR_REQUEST) {
      const char *turn = cJSON_GetStringValue(
          cJSON_GetObjectItem(m, "turn_status"));
      if ((turn && !strcmp(turn, "failed")) || cJSON_GetArraySize(parts) == 0) {
        cJSON_Delete(parts);
        continue;
      }
      cJSON *msg = cJSON_CreateObject();
      cJSON_AddItemToObject(msg, "role",
                            cJSON_Duplicate(cJSON_GetObjectItem(m, "role"), 0));
      cJSON_AddItemToObject(msg, "content", content_of(parts));
      cJSON_AddItemToArray(all, msg);
    } else {
      cJSON *msg = cJSON_Duplicate(m, 1);
      cJSON_AddItemToObject(msg, "content", content_of(parts));
      cJSON_AddItemToArray(all, msg);
    }
  }
  if (prc != SQLITE_ROW && prc != SQLITE_DONE)
    rc = pt__store_error(st, prc, "read messages");
  sqlite3_reset(p);
  cJSON_Delete(msgs);
  if (rc != PT_OK) {
    cJSON_Delete(all);
    return rc;
  }
  *out = all;
  return PT_OK;
}
