/*
 * core/serve_stream.c: what SSE and WebSocket clients are owed. Each
 * client has a queue of whole messages with a byte bound; a client that
 * stops reading is cut off when its queue would pass the bound, so a slow
 * reader costs at most the bound, never the server's memory.
 *
 * A client that subscribes from an earlier event (Last-Event-ID, or a
 * WebSocket "after") reads the session's event log in the store, a page
 * at a time and only when its queue is empty, until it reaches the live
 * end; from then on events are queued as they happen. Both run on the loop
 * thread, so no event can fall between the two.
 */
#include "serve.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>

#include "log.h"

/* Bytes written per writable callback at most, and per joined SSE write. */
#define WRITE_BUDGET (256 * 1024)
#define COALESCE 16384

uint64_t serve_now_ms(void)
{
  return uv_hrtime() / 1000000u;
}

serve_stream *serve_stream_new(pt_serve *sv, struct lws *wsi,
                               serve_stream_kind kind)
{
  serve_stream *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  s->sv = sv;
  s->wsi = wsi;
  s->kind = kind;
  s->last_write_ms = serve_now_ms();
  s->next = sv->streams;
  if (sv->streams) sv->streams->prev = s;
  sv->streams = s;
  return s;
}

static void queue_clear(serve_stream *s)
{
  while (s->head) {
    serve_chunk *c = s->head;
    s->head = c->next;
    free(c);
  }
  s->tail = NULL;
  s->queued = 0;
}

static void sub_unlink(serve_sub *sub)
{
  serve_session *ss = sub->session;
  for (serve_sub **p = &ss->subs; *p; p = &(*p)->next_in_session)
    if (*p == sub) {
      *p = sub->next_in_session;
      break;
    }
}

void serve_stream_gone(serve_stream *s)
{
  if (!s) return;
  pt_serve *sv = s->sv;
  while (s->subs) {
    serve_sub *sub = s->subs;
    s->subs = sub->next_in_stream;
    sub_unlink(sub);
    free(sub);
  }
  queue_clear(s);
  if (s->prev) s->prev->next = s->next;
  else sv->streams = s->next;
  if (s->next) s->next->prev = s->prev;
  free(s->rx);
  free(s);
}

/* The client stopped reading: drop what it was owed and close it. It may
 * come back with Last-Event-ID and read the rest from the store. */
static void cut(serve_stream *s, size_t wanted)
{
  if (s->cut) return;
  s->cut = 1;
  pt_log_warn("serve", "a %s client stopped reading (%zu bytes queued, "
              "%zu more wanted, bound %zu): disconnected",
              s->kind == SERVE_SSE ? "SSE" : "WebSocket", s->queued, wanted,
              s->sv->max_queue);
  queue_clear(s);
  if (s->wsi) lws_set_timeout(s->wsi, PENDING_TIMEOUT_USER_OK,
                              LWS_TO_KILL_ASYNC);
}

/* Queue a message made of three pieces. `force`: past the bound when the
 * queue is empty (one replayed event bigger than the bound is still sent
 * rather than cutting the client off for ever). */
static void push(serve_stream *s, const char *a, size_t alen, const char *b,
                 size_t blen, const char *c, size_t clen, int force)
{
  if (s->cut || !s->wsi) return;
  size_t len = alen + blen + clen;
  if (s->queued + len > s->sv->max_queue && !(force && !s->head)) {
    cut(s, len);
    return;
  }
  serve_chunk *ch = malloc(sizeof *ch + LWS_PRE + len + 1);
  if (!ch) {
    cut(s, len);
    return;
  }
  ch->next = NULL;
  ch->len = len;
  unsigned char *d = ch->buf + LWS_PRE;
  memcpy(d, a, alen);
  if (blen) memcpy(d + alen, b, blen);
  if (clen) memcpy(d + alen + blen, c, clen);
  d[len] = '\0';
  if (s->tail) s->tail->next = ch;
  else s->head = ch;
  s->tail = ch;
  s->queued += len;
  if (s->kind == SERVE_WS || s->headers_done)
    lws_callback_on_writable(s->wsi);
}

void serve_stream_push(serve_stream *s, const char *data, size_t len)
{
  push(s, data, len, NULL, 0, NULL, 0, 0);
}

void serve_stream_keepalive(serve_stream *s)
{
  if (s->kind == SERVE_SSE && !s->head)
    push(s, ": keepalive\n\n", 13, NULL, 0, NULL, 0, 0);
}

void serve_stream_finish(serve_stream *s)
{
  s->closing = 1;
  if (s->wsi) lws_callback_on_writable(s->wsi);
}

/* One event in the client's framing. */
static void push_event(serve_stream *s, const serve_session *ss, int64_t seq,
                       const char *type, const char *json, size_t len,
                       int force)
{
  char head[256];
  if (s->kind == SERVE_SSE) {
    int n = snprintf(head, sizeof head, "id: %lld\nevent: %.64s\ndata: ",
                     (long long)seq, type);
    push(s, head, (size_t)n, json, len, "\n\n", 2, force);
  } else {
    int n = snprintf(head, sizeof head,
                     "{\"type\":\"event\",\"session_id\":\"%s\",\"seq\":%lld,"
                     "\"event\":", ss->id, (long long)seq);
    push(s, head, (size_t)n, json, len, "}", 1, force);
  }
}

void serve_fanout(serve_session *ss, int64_t seq, const char *type,
                  const char *json, size_t len)
{
  for (serve_sub *sub = ss->subs; sub; sub = sub->next_in_session) {
    if (sub->catching_up) {
      /* It reads this one from the store when its turn comes. */
      if (sub->stream->wsi) lws_callback_on_writable(sub->stream->wsi);
      continue;
    }
    push_event(sub->stream, ss, seq, type, json, len, 0);
    sub->next_seq = seq + 1;
  }
}

/* Fill an empty queue from the store for a client catching up. Returns
 * whether anything was queued. */
static int refill(serve_stream *s)
{
  int queued = 0;
  for (serve_sub *sub = s->subs; sub && !s->head && !s->cut;
       sub = sub->next_in_stream) {
    if (!sub->catching_up) continue;
    serve_session *ss = sub->session;
    if (sub->next_seq > ss->seq) {
      sub->catching_up = 0;
      continue;
    }
    cJSON *page = NULL;
    if (pt_store_events_after(s->sv->st, ss->id, sub->next_seq - 1,
                              SERVE_REPLAY_PAGE, &page) != PT_OK) {
      pt_log_warn("serve", "replaying events of %s: %s", ss->id,
                  pt_store_errmsg(s->sv->st));
      sub->catching_up = 0;
      continue;
    }
    /* Take from the page what fits in half the bound, so that live
     * events of other sessions on the same stream still have room; the
     * rest is read again at the next refill. */
    int n = 0, rows = 0;
    const cJSON *row;
    cJSON_ArrayForEach(row, page) {
      rows++;
      int64_t seq = (int64_t)cJSON_GetNumberValue(
          cJSON_GetObjectItemCaseSensitive(row, "seq"));
      const cJSON *data = cJSON_GetObjectItemCaseSensitive(row, "data");
      char *text = cJSON_PrintUnformatted(data);
      const char *type = cJSON_GetStringValue(
          cJSON_GetObjectItemCaseSensitive(data, "type"));
      size_t len = text ? strlen(text) : 0;
      if (s->head && s->queued + len + 160 > s->sv->max_queue / 2) {
        free(text);
        break;
      }
      if (text) push_event(s, ss, seq, type ? type : "event", text, len, 1);
      free(text);
      sub->next_seq = seq + 1;
      n++;
    }
    cJSON_Delete(page);
    if ((n == rows && rows < SERVE_REPLAY_PAGE) || sub->next_seq > ss->seq)
      sub->catching_up = 0;
    queued |= n > 0;
  }
  return queued;
}

int serve_stream_write(serve_stream *s)
{
  if (s->cut || !s->wsi) return -1;
  if (!s->head) refill(s);
  serve_chunk *c = s->head;
  if (!c) {
    if (s->closing) {
      /* The close frame (1001) is written here. lws_close_reason and -1
       * should do it, but libwebsockets 4.1 on a foreign loop lets the
       * socket go without the frame; value 4 is the close opcode its
       * own close path writes with (lws-write.h keeps the slot for it). */
      if (s->kind == SERVE_WS) {
        unsigned char buf[LWS_PRE + 32];
        unsigned char *p = buf + LWS_PRE;
        p[0] = (unsigned char)(LWS_CLOSE_STATUS_GOINGAWAY >> 8);
        p[1] = (unsigned char)(LWS_CLOSE_STATUS_GOINGAWAY & 0xff);
        memcpy(p + 2, "server stopping", 15);
        lws_write(s->wsi, p, 17, (enum lws_write_protocol)4);
      }
      return -1;
    }
    return 0;
  }
  /* Write while the socket takes it, up to a budget per callback so one
   * busy client does not hold the loop. SSE events are joined into
   * writes of up to COALESCE bytes: a model streams many small events,
   * and one event per callback (one per loop iteration) could not keep
   * up with it. A WebSocket message is one frame each. */
  size_t budget = WRITE_BUDGET;
  while ((c = s->head) && budget) {
    unsigned char join[LWS_PRE + COALESCE];
    unsigned char *p = c->buf + LWS_PRE;
    size_t len = c->len;
    if (s->kind == SERVE_SSE && c->next && c->len + c->next->len <= COALESCE) {
      len = 0;
      while ((c = s->head) && len + c->len <= COALESCE) {
        memcpy(join + LWS_PRE + len, c->buf + LWS_PRE, c->len);
        len += c->len;
        s->head = c->next;
        s->queued -= c->len;
        free(c);
      }
      p = join + LWS_PRE;
    } else {
      s->head = c->next;
      s->queued -= c->len;
    }
    if (!s->head) s->tail = NULL;
    int n = lws_write(s->wsi, p, len,
                      s->kind == SERVE_WS ? LWS_WRITE_TEXT : LWS_WRITE_HTTP);
    if (p != join + LWS_PRE) free(c);
    if (n < (int)len) return -1;
    budget = len < budget ? budget - len : 0;
    if (lws_send_pipe_choked(s->wsi)) break;
  }
  s->last_write_ms = serve_now_ms();
  if (s->head || s->closing) lws_callback_on_writable(s->wsi);
  else {
    for (serve_sub *sub = s->subs; sub; sub = sub->next_in_stream)
      if (sub->catching_up) {
        lws_callback_on_writable(s->wsi);
        break;
      }
  }
  return 0;
}

serve_sub *serve_subscribe(serve_stream *s, serve_session *ss, int64_t after)
{
  for (serve_sub *sub = s->subs; sub; sub = sub->next_in_stream)
    if (sub->session == ss) return sub;
  serve_sub *sub = calloc(1, sizeof *sub);
  if (!sub) return NULL;
  sub->stream = s;
  sub->session = ss;
  if (after >= 0 && after < ss->seq) {
    sub->next_seq = after + 1;
    sub->catching_up = 1;
  } else {
    sub->next_seq = ss->seq + 1;
  }
  sub->next_in_stream = s->subs;
  s->subs = sub;
  sub->next_in_session = ss->subs;
  ss->subs = sub;
  if (sub->catching_up && s->wsi &&
      (s->kind == SERVE_WS || s->headers_done))
    lws_callback_on_writable(s->wsi);
  return sub;
}

void serve_unsubscribe(serve_stream *s, serve_session *ss)
{
  for (serve_sub **p = &s->subs; *p; p = &(*p)->next_in_stream)
    if ((*p)->session == ss) {
      serve_sub *sub = *p;
      *p = sub->next_in_stream;
      sub_unlink(sub);
      free(sub);
      return;
    }
}
