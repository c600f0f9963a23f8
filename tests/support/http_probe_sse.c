/*
 * tests/support/http_probe_sse.c: the test client's Server-Sent Events
 * streams (see http_probe.h): opening one and reading its body as events.
 * Sockets, heads and de-chunking are http_probe.c's (http_probe_int.h).
 */
#include "http_probe_int.h"

#include <stdlib.h>
#include <string.h>

struct hp_sse {
  rbuf rb;
  hp_response head; /* status and headers; body "" */
  int chunked;
  dechunk dc;
  int ended;        /* the body ended: the last chunk, or the stream closed */
  sbuf text;        /* decoded body bytes; lines start at text_off */
  size_t text_off;
  sbuf id, event, data; /* the event being read, or the one returned */
  int has_data;
  int returned;     /* id/event/data hold a returned event: clear first */
  int comments;
};

hp_sse *hp_sse_open(int port, const char *path, const char *extra_headers,
                    int timeout_ms, int *status, char **body_out)
{
  uint64_t deadline = hp__deadline_after(timeout_ms);
  static const char *const defaults[] = { "Accept: text/event-stream\r\n",
                                          NULL };
  if (status) *status = 0;
  if (body_out) *body_out = NULL;
  int fd = hp_connect(port);
  if (fd < 0) return NULL;
  hp_sse *s = calloc(1, sizeof *s);
  if (!s) abort();
  s->rb.fd = fd;
  sbuf req = { 0 };
  hp__build_request(&req, port, "GET", path, defaults, extra_headers, NULL, 0);
  int rc = hp__send_all(fd, req.p, req.len, deadline);
  free(req.p);
  int st = 0;
  char *headers = NULL;
  if (rc == 0 && hp__read_head(&s->rb, deadline, &st, &headers) == 0) {
    s->head.status = st;
    s->head.headers = headers;
  }
  if (status) *status = s->head.status;
  if (s->head.status != 200) {
    if (s->head.status && body_out) {
      sbuf body = { 0 };
      hp__read_body(&s->rb, &s->head, deadline, &body);
      *body_out = hp__sb_take(&body);
    }
    hp_sse_close(s);
    return NULL;
  }
  s->head.body = strdup("");
  s->chunked = hp__header_has_token(&s->head, "Transfer-Encoding", "chunked");
  return s;
}

/* Decode more of the body into s->text. Returns 1 when bytes were added, 0
 * when the body ended, -1 on timeout or error. */
static int sse_more(hp_sse *s, uint64_t deadline)
{
  for (;;) {
    if (s->chunked) {
      size_t before = s->text.len;
      int r = hp__dechunk_step(&s->dc, &s->rb, &s->text);
      if (r < 0) return -1;
      if (s->text.len > before) return 1;
      if (r > 0) {
        s->ended = 1;
        return 0;
      }
    } else if (hp__rb_avail(&s->rb)) {
      hp__sb_add(&s->text, hp__rb_ptr(&s->rb), hp__rb_avail(&s->rb));
      hp__rb_consume(&s->rb, hp__rb_avail(&s->rb));
      return 1;
    }
    int r = hp__rb_fill(&s->rb, deadline);
    if (r < 0) return -1;
    if (r == 0) {
      s->ended = 1;
      return 0;
    }
  }
}

/* The next whole line in s->text (without its ending), consumed; NULL when
 * none is whole yet. A CR at the very end may be half of a CRLF, so it ends
 * a line only once the body has ended. */
static const char *sse_line(hp_sse *s, size_t *len)
{
  const char *p = s->text.p ? s->text.p + s->text_off : "";
  size_t avail = s->text.len - s->text_off;
  size_t n = 0;
  while (n < avail && p[n] != '\n' && p[n] != '\r') n++;
  if (n == avail) return NULL;
  size_t skip = 1;
  if (p[n] == '\r') {
    if (n + 1 == avail && !s->ended) return NULL;
    if (n + 1 < avail && p[n + 1] == '\n') skip = 2;
  }
  s->text_off += n + skip;
  *len = n;
  return p;
}

/* Apply one line to the event being read; 1 when it completed an event. */
static int sse_apply(hp_sse *s, const char *line, size_t len)
{
  if (len == 0) {
    if (s->has_data) return 1;
    /* A blank line after no data ends nothing, and forgets the fields. */
    hp__sb_clear(&s->id);
    hp__sb_clear(&s->event);
    return 0;
  }
  if (line[0] == ':') {
    s->comments++;
    return 0;
  }
  const char *colon = memchr(line, ':', len);
  size_t name_len = colon ? (size_t)(colon - line) : len;
  const char *value = colon ? colon + 1 : line + len;
  if (value < line + len && *value == ' ') value++;
  size_t value_len = (size_t)(line + len - value);
  if (name_len == 4 && memcmp(line, "data", 4) == 0) {
    hp__sb_add(&s->data, value, value_len);
    hp__sb_add(&s->data, "\n", 1);
    s->has_data = 1;
  } else if (name_len == 5 && memcmp(line, "event", 5) == 0) {
    hp__sb_clear(&s->event);
    hp__sb_add(&s->event, value, value_len);
  } else if (name_len == 2 && memcmp(line, "id", 2) == 0) {
    hp__sb_clear(&s->id);
    hp__sb_add(&s->id, value, value_len);
  }
  return 0;
}

int hp_sse_next(hp_sse *s, hp_sse_event *ev, int timeout_ms)
{
  uint64_t deadline = hp__deadline_after(timeout_ms);
  if (s->returned) {
    hp__sb_clear(&s->id);
    hp__sb_clear(&s->event);
    hp__sb_clear(&s->data);
    s->has_data = 0;
    s->returned = 0;
  }
  for (;;) {
    size_t len;
    const char *line = sse_line(s, &len);
    if (!line) {
      /* An event cut off by the end of the body is dropped, as browsers
       * do. */
      if (s->ended) return 0;
      /* Only a part of a line is left: move it to the front. */
      if (s->text_off) {
        memmove(s->text.p, s->text.p + s->text_off,
                s->text.len - s->text_off + 1);
        s->text.len -= s->text_off;
        s->text_off = 0;
      }
      if (sse_more(s, deadline) < 0) return -1;
      continue;
    }
    if (sse_apply(s, line, len)) {
      s->data.p[--s->data.len] = '\0';
      s->returned = 1;
      ev->id = hp__sb_str(&s->id);
      ev->event = hp__sb_str(&s->event);
      ev->data = hp__sb_str(&s->data);
      return 1;
    }
  }
}

int hp_sse_comments(const hp_sse *s)
{
  return s->comments;
}

const hp_response *hp_sse_response(const hp_sse *s)
{
  return &s->head;
}

int hp_sse_fd(const hp_sse *s)
{
  return s->rb.fd;
}

void hp_sse_close(hp_sse *s)
{
  if (!s) return;
  hp__rb_free(&s->rb);
  hp_response_free(&s->head);
  free(s->text.p);
  free(s->id.p);
  free(s->event.p);
  free(s->data.p);
  free(s);
}
