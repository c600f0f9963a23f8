/*
 * core/store/store_events.c: the per-session event log. A server numbers
 * what it streams to a session's clients and keeps it here, so that a
 * client that reconnects is sent what it missed. Not the conversation:
 * messages and parts are that, and are read with pt_store_messages.
 *
 * Appends come at the rate of streamed fragments across every session, so
 * they are buffered and written by pt_store_flush() in the transaction
 * that writes the buffered message text: a loop iteration's events, from
 * however many sessions, cost one commit. What an append is checked
 * against (the session exists, its seq goes up) is read from the file
 * once per session and then kept here, so that a flush cannot fail on a
 * constraint and take the buffered message text down with it.
 */
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

/* Flush before buffering more than this (event text plus bookkeeping),
 * to bound memory. */
#define PENDING_MAX (2 * 1024 * 1024)

/* One event's JSON at most: far under SQLite's limit on a value (1e9
 * bytes by default), so that a flush cannot fail on one. */
#define EVENT_MAX (64 * 1024 * 1024)

/* Past this many sessions known, the next commit forgets them all (each
 * is read again at its next append), so a server running for months does
 * not keep every session it ever served. */
#define KNOWN_MAX 4096

typedef struct known {
  struct known *next;       /* the next in its bucket */
  int64_t last_seq;         /* the highest seq stored or buffered; 0: none */
  char id[];                /* the session's id */
} known;

typedef struct pending {
  const known *session;     /* not freed while events are pending */
  int64_t seq, created_at;
  size_t off, len;          /* the JSON, in `text` */
} pending;

struct pt__events {
  known **buckets;          /* a power of two of chains, each owned */
  size_t nbuckets, nknown;
  pending *events;          /* buffered, in arrival order; kept for reuse */
  size_t nevents, cap_events;
  char *text;               /* their JSON back to back; kept for reuse */
  size_t text_len, text_cap;
};

/* FNV-1a: ids are random hex already, so anything cheap spreads them. */
static size_t hash(const char *id)
{
  uint64_t h = 1469598103934665603u;
  for (const unsigned char *p = (const unsigned char *)id; *p; p++)
    h = (h ^ *p) * 1099511628211u;
  return (size_t)h;
}

static known *lookup(const pt__events *ev, const char *id)
{
  known *k = ev->buckets[hash(id) & (ev->nbuckets - 1)];
  while (k && strcmp(k->id, id) != 0) k = k->next;
  return k;
}

static void forget_all(pt__events *ev)
{
  for (size_t i = 0; i < ev->nbuckets; i++) {
    while (ev->buckets[i]) {
      known *k = ev->buckets[i];
      ev->buckets[i] = k->next;
      free(k);
    }
  }
  ev->nknown = 0;
}

static int32_t events_get(pt_store *st, pt__events **out)
{
  if ((*out = st->events)) return PT_OK;
  pt__events *ev = calloc(1, sizeof *ev);
  if (ev) ev->buckets = calloc(64, sizeof *ev->buckets);
  if (!ev || !ev->buckets) {
    free(ev);
    return pt__store_fail(st, PT_ENOMEM, "out of memory");
  }
  ev->nbuckets = 64;
  *out = st->events = ev;
  return PT_OK;
}

/* Keep `id`'s last seq; the table doubles when it holds more sessions
 * than buckets. */
static int32_t remember(pt_store *st, pt__events *ev, const char *id,
                        int64_t last_seq, known **out)
{
  if (ev->nknown >= ev->nbuckets) {
    size_t n = ev->nbuckets * 2;
    known **b = calloc(n, sizeof *b);
    if (!b) return pt__store_fail(st, PT_ENOMEM, "out of memory");
    for (size_t i = 0; i < ev->nbuckets; i++) {
      while (ev->buckets[i]) {
        known *k = ev->buckets[i];
        ev->buckets[i] = k->next;
        k->next = b[hash(k->id) & (n - 1)];
        b[hash(k->id) & (n - 1)] = k;
      }
    }
    free(ev->buckets);
    ev->buckets = b;
    ev->nbuckets = n;
  }
  size_t len = strlen(id);
  known *k = malloc(sizeof *k + len + 1);
  if (!k) return pt__store_fail(st, PT_ENOMEM, "out of memory");
  memcpy(k->id, id, len + 1);
  k->last_seq = last_seq;
  known **head = &ev->buckets[hash(id) & (ev->nbuckets - 1)];
  k->next = *head;
  *head = k;
  ev->nknown++;
  *out = k;
  return PT_OK;
}

static int32_t check_id(pt_store *st, const char *session_id)
{
  if (session_id && *session_id) return PT_OK;
  return pt__store_fail(st, PT_EINVAL,
                        "an event belongs to a session, and no session id "
                        "was given");
}

/* The highest seq stored for a session; PT_ENOENT when there is no such
 * session. */
static int32_t load(pt_store *st, const char *session_id, int64_t *last)
{
  static const char sql[] =
      "SELECT COALESCE((SELECT MAX(seq) FROM events WHERE session_id = ?1), "
      "0) FROM sessions WHERE id = ?1";
  sqlite3_stmt *s = pt__store_stmt(st, sql);
  if (!s) return PT_EIO;
  sqlite3_bind_text(s, 1, session_id, -1, SQLITE_STATIC);
  int src = sqlite3_step(s);
  int32_t rc = PT_OK;
  if (src == SQLITE_ROW)
    *last = sqlite3_column_int64(s, 0);
  else if (src == SQLITE_DONE)
    rc = pt__store_fail(st, PT_ENOENT,
                        "no session %s in %s (never created, or deleted); "
                        "create it before logging its events",
                        session_id, st->path);
  else
    rc = pt__store_error(st, src, "read session events");
  sqlite3_reset(s);
  return rc;
}

/* What is known of a session, read from the file the first time. */
static int32_t known_get(pt_store *st, const char *session_id, known **out)
{
  pt__events *ev;
  int32_t rc = events_get(st, &ev);
  if (rc != PT_OK || (*out = lookup(ev, session_id))) return rc;
  int64_t last = 0;
  rc = load(st, session_id, &last);
  return rc == PT_OK ? remember(st, ev, session_id, last, out) : rc;
}

/* One JSON value, and nothing after it but white space. */
static int is_json(const char *json, size_t len)
{
  const char *end = NULL;
  cJSON *v = cJSON_ParseWithLengthOpts(json, len, &end, 0);
  if (!v) return 0;
  cJSON_Delete(v);
  while (end < json + len &&
         (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r'))
    end++;
  return end == json + len;
}

static int32_t grow(pt_store *st, pt__events *ev, size_t len)
{
  if (ev->nevents == ev->cap_events) {
    size_t cap = ev->cap_events ? ev->cap_events * 2 : 64;
    pending *p = realloc(ev->events, cap * sizeof *p);
    if (!p) return pt__store_fail(st, PT_ENOMEM, "out of memory");
    ev->events = p;
    ev->cap_events = cap;
  }
  if (ev->text_len + len > ev->text_cap) {
    size_t cap = ev->text_cap ? ev->text_cap : 4096;
    while (cap < ev->text_len + len) cap *= 2;
    char *p = realloc(ev->text, cap);
    if (!p) return pt__store_fail(st, PT_ENOMEM, "out of memory");
    ev->text = p;
    ev->text_cap = cap;
  }
  return PT_OK;
}

int32_t pt_store_event_append(pt_store *st, const char *session_id,
                              int64_t seq, const char *json, size_t len)
{
  int32_t rc = pt__store_writable(st);
  if (rc == PT_OK) rc = check_id(st, session_id);
  if (rc != PT_OK) return rc;
  if (!json || len > EVENT_MAX || !is_json(json, len))
    return pt__store_fail(st, PT_EINVAL,
                          "event %lld of session %s is not one JSON value "
                          "of at most 64 MiB; nothing was logged",
                          (long long)seq, session_id);
  pt__events *ev = st->events;
  /* Flushing first, rather than after buffering, keeps the promise that
   * a failed append logged nothing. It comes before the lookup because a
   * commit may forget the sessions known. */
  if (ev && ev->nevents &&
      ev->text_len + ev->nevents * sizeof(pending) + len > PENDING_MAX &&
      (rc = pt_store_flush(st)) != PT_OK)
    return rc;
  known *k;
  if ((rc = known_get(st, session_id, &k)) != PT_OK) return rc;
  if (seq <= k->last_seq)
    return pt__store_fail(st, PT_EINVAL,
                          "event %lld of session %s is not after the last "
                          "one logged, %lld; seqs go up (start after "
                          "pt_store_event_last_seq)",
                          (long long)seq, session_id,
                          (long long)k->last_seq);
  ev = st->events;
  if ((rc = grow(st, ev, len)) != PT_OK) return rc;
  memcpy(ev->text + ev->text_len, json, len);
  ev->events[ev->nevents++] = (pending){ k, seq, pt__store_now_ms(),
                                         ev->text_len, len };
  ev->text_len += len;
  k->last_seq = seq;
  return PT_OK;
}

int pt__store_events_pending(const pt_store *st)
{
  return st->events && st->events->nevents > 0;
}

int32_t pt__store_events_write(pt_store *st)
{
  /* A session deleted by another process since its events were buffered
   * (`portico sessions delete`) takes them with it: without the EXISTS
   * its foreign key would fail this flush, and every one after it. OR
   * IGNORE does the same for a second process logging the same session,
   * which the contract forbids. */
  static const char sql[] =
      "INSERT OR IGNORE INTO events(session_id, seq, created_at, data) "
      "SELECT ?1, ?2, ?3, ?4 WHERE EXISTS (SELECT 1 FROM sessions "
      "WHERE id = ?1)";
  pt__events *ev = st->events;
  if (!ev || ev->nevents == 0) return PT_OK;
  sqlite3_stmt *s = pt__store_stmt(st, sql);
  if (!s) return PT_EIO;
  int32_t rc = PT_OK;
  for (size_t i = 0; i < ev->nevents && rc == PT_OK; i++) {
    const pending *p = &ev->events[i];
    sqlite3_bind_text(s, 1, p->session->id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, p->seq);
    sqlite3_bind_int64(s, 3, p->created_at);
    sqlite3_bind_text(s, 4, ev->text + p->off, (int)p->len, SQLITE_STATIC);
    rc = pt__store_run(st, s, "save session events");
  }
  return rc;
}

void pt__store_events_done(pt_store *st, int committed)
{
  pt__events *ev = st->events;
  if (!ev || !committed) return;
  ev->nevents = 0;
  ev->text_len = 0;
  if (ev->nknown > KNOWN_MAX) forget_all(ev);
}

void pt__store_events_forget(pt_store *st, const char *session_id)
{
  pt__events *ev = st->events;
  /* Buffered events point at what is known; the callers flush first, so
   * there are none, but an entry kept is only a stale cache. */
  if (!ev || ev->nevents) return;
  for (known **p = &ev->buckets[hash(session_id) & (ev->nbuckets - 1)]; *p;
       p = &(*p)->next) {
    if (strcmp((*p)->id, session_id) == 0) {
      known *gone = *p;
      *p = gone->next;
      free(gone);
      ev->nknown--;
      return;
    }
  }
}

void pt__store_events_free(pt_store *st)
{
  pt__events *ev = st->events;
  if (!ev) return;
  forget_all(ev);
  free(ev->buckets);
  free(ev->events);
  free(ev->text);
  free(ev);
  st->events = NULL;
}

int32_t pt_store_event_last_seq(pt_store *st, const char *session_id,
                                int64_t *seq)
{
  int32_t rc = check_id(st, session_id);
  if (rc != PT_OK) return rc;
  /* A reader's cache would go stale as the writer appends. */
  if (st->readonly) return load(st, session_id, seq);
  known *k;
  if ((rc = known_get(st, session_id, &k)) == PT_OK) *seq = k->last_seq;
  return rc;
}

/* The session exists; buffered events, when `st` writes, are in the
 * file. */
static int32_t prepare_read(pt_store *st, const char *session_id)
{
  int32_t rc = check_id(st, session_id);
  if (rc == PT_OK && !st->readonly) rc = pt_store_flush(st);
  int64_t last;
  return rc == PT_OK ? load(st, session_id, &last) : rc;
}

int32_t pt_store_events_after(pt_store *st, const char *session_id,
                              int64_t after_seq, int limit, cJSON **out)
{
  static const char sql[] =
      "SELECT seq, data FROM events WHERE session_id = ?1 AND seq > ?2 "
      "ORDER BY seq LIMIT ?3";
  /* Buffered events are flushed rather than merged into what is read: a
   * replay is then one query over one ordered run, and the commit is the
   * one the loop would make at the end of this iteration anyway. */
  int32_t rc = prepare_read(st, session_id);
  if (rc != PT_OK) return rc;
  sqlite3_stmt *s = pt__store_stmt(st, sql);
  if (!s) return PT_EIO;
  sqlite3_bind_text(s, 1, session_id, -1, SQLITE_STATIC);
  sqlite3_bind_int64(s, 2, after_seq);
  sqlite3_bind_int(s, 3, limit > 0 ? limit : -1);
  cJSON *all = cJSON_CreateArray();
  int src = all ? sqlite3_step(s) : SQLITE_NOMEM;
  while (rc == PT_OK && src == SQLITE_ROW) {
    int64_t seq = sqlite3_column_int64(s, 0);
    const char *text = (const char *)sqlite3_column_text(s, 1);
    size_t len = (size_t)sqlite3_column_bytes(s, 1);
    cJSON *data = text ? cJSON_ParseWithLength(text, len) : NULL;
    cJSON *o = cJSON_CreateObject();
    if (!data && text && o)
      rc = pt__store_fail(st, PT_EIO,
                          "%s: event %lld of session %s is not JSON; the "
                          "file was changed by another program",
                          st->path, (long long)seq, session_id);
    else if (!o || !data || !cJSON_AddNumberToObject(o, "seq", (double)seq))
      rc = pt__store_fail(st, PT_ENOMEM, "out of memory");
    if (rc == PT_OK) {
      cJSON_AddItemToObject(o, "data", data);
      cJSON_AddItemToArray(all, o);
      src = sqlite3_step(s);
    } else {
      cJSON_Delete(data);
      cJSON_Delete(o);
    }
  }
  if (rc == PT_OK && src != SQLITE_DONE)
    rc = src == SQLITE_NOMEM
             ? pt__store_fail(st, PT_ENOMEM, "out of memory")
             : pt__store_error(st, src, "read session events");
  sqlite3_reset(s);
  if (rc != PT_OK) {
    cJSON_Delete(all);
    return rc;
  }
  *out = all;
  return PT_OK;
}

int32_t pt_store_events_trim(pt_store *st, const char *session_id,
                             int64_t keep_after_seq)
{
  /* The newest row stays whatever keep_after_seq says: it is where
   * pt_store_event_last_seq finds the numbering after a restart. */
  static const char sql[] =
      "DELETE FROM events WHERE session_id = ?1 AND seq <= ?2 AND seq < "
      "(SELECT MAX(seq) FROM events WHERE session_id = ?1)";
  int32_t rc = pt__store_writable(st);
  if (rc == PT_OK) rc = prepare_read(st, session_id);
  sqlite3_stmt *s = rc == PT_OK ? pt__store_stmt(st, sql) : NULL;
  if (!s) return rc != PT_OK ? rc : PT_EIO;
  sqlite3_bind_text(s, 1, session_id, -1, SQLITE_STATIC);
  sqlite3_bind_int64(s, 2, keep_after_seq);
  return pt__store_run(st, s, "trim session events");
}
