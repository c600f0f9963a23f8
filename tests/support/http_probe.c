/*
 * tests/support/http_probe.c: the blocking test client for `portico serve`
 * (see http_probe.h).
 *
 * Everything reads through one buffered reader that only ever waits in
 * poll() against a deadline; parsers look at its unread bytes and consume
 * only whole units (a head, a chunk's framing, a frame), so a read that
 * times out midway leaves the stream where the next call can resume it.
 */
#include "http_probe.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

/* A head larger than this is a runaway server, not a response. */
#define MAX_HEAD (1u << 20)
/* The largest WebSocket frame payload accepted from the server. */
#define MAX_FRAME ((uint64_t)256 << 20)

/* ---- Clocks. ---------------------------------------------------------- */

static uint64_t now_ms(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

static uint64_t deadline_after(int ms)
{
  return now_ms() + (uint64_t)(ms > 0 ? ms : 0);
}

static int ms_left(uint64_t deadline)
{
  uint64_t now = now_ms();
  return now >= deadline ? 0 : (int)(deadline - now);
}

/* ---- A growable, always NUL-terminated byte string. ------------------- */

typedef struct sbuf {
  char *p; /* owned; NULL until the first add */
  size_t len, cap;
} sbuf;

static void sb_reserve(sbuf *b, size_t more)
{
  if (b->p && b->len + more + 1 <= b->cap) return;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < b->len + more + 1) cap *= 2;
  char *p = realloc(b->p, cap);
  if (!p) abort();
  b->p = p;
  b->cap = cap;
}

static void sb_add(sbuf *b, const void *bytes, size_t len)
{
  sb_reserve(b, len);
  if (len) memcpy(b->p + b->len, bytes, len);
  b->len += len;
  b->p[b->len] = '\0';
}

static void sb_adds(sbuf *b, const char *s)
{
  sb_add(b, s, strlen(s));
}

static void sb_addf(sbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void sb_addf(sbuf *b, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) abort();
  sb_reserve(b, (size_t)n);
  va_start(ap, fmt);
  vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
}

static void sb_clear(sbuf *b)
{
  b->len = 0;
  if (b->p) b->p[0] = '\0';
}

static const char *sb_str(const sbuf *b)
{
  return b->p ? b->p : "";
}

/* Hand the bytes over as a malloc'd string ("" when none) and reset. */
static char *sb_take(sbuf *b)
{
  sb_reserve(b, 0);
  char *p = b->p;
  *b = (sbuf){ 0 };
  return p;
}

/* ---- Sockets. --------------------------------------------------------- */

int hp_connect(int port)
{
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  struct sockaddr_in a = { .sin_family = AF_INET,
                           .sin_port = htons((uint16_t)port),
                           .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
  while (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
    if (errno == EINTR) continue;
    int e = errno;
    close(fd);
    errno = e;
    return -1;
  }
  return fd;
}

static int send_all(int fd, const void *bytes, size_t len, uint64_t deadline)
{
  const char *p = bytes;
  while (len > 0) {
    struct pollfd pf = { fd, POLLOUT, 0 };
    int n = poll(&pf, 1, ms_left(deadline));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    /* Non-blocking per call, so a send never waits past the deadline. */
    ssize_t sent = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (sent < 0) {
      if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
      return -1;
    }
    p += sent;
    len -= (size_t)sent;
  }
  return 0;
}

/* ---- The buffered reader. --------------------------------------------- */

typedef struct rbuf {
  int fd;
  char *data; /* owned; the unread bytes are data[off, len) */
  size_t off, len, cap;
} rbuf;

static size_t rb_avail(const rbuf *rb)
{
  return rb->len - rb->off;
}

/* Never NULL, even before the first read: memmem and memcpy insist. */
static const char *rb_ptr(const rbuf *rb)
{
  return rb->data ? rb->data + rb->off : "";
}

static void rb_consume(rbuf *rb, size_t n)
{
  rb->off += n;
}

/* Read what arrives before `deadline`. Returns 1 when bytes came, 0 at the
 * end of the stream (a reset counts: the server went away either way), -1
 * on timeout or another error. */
static int rb_fill(rbuf *rb, uint64_t deadline)
{
  if (rb->off == rb->len) {
    rb->off = rb->len = 0;
  } else if (rb->off > 0 && rb->cap - rb->len < 4096) {
    memmove(rb->data, rb->data + rb->off, rb->len - rb->off);
    rb->len -= rb->off;
    rb->off = 0;
  }
  if (rb->cap - rb->len < 4096) {
    size_t cap = rb->cap ? rb->cap * 2 : 16384;
    while (cap - rb->len < 4096) cap *= 2;
    char *d = realloc(rb->data, cap);
    if (!d) abort();
    rb->data = d;
    rb->cap = cap;
  }
  for (;;) {
    struct pollfd pf = { rb->fd, POLLIN, 0 };
    int n = poll(&pf, 1, ms_left(deadline));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    ssize_t got = recv(rb->fd, rb->data + rb->len, rb->cap - rb->len,
                       MSG_DONTWAIT);
    if (got > 0) {
      rb->len += (size_t)got;
      return 1;
    }
    if (got == 0) return 0;
    if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
    return errno == ECONNRESET ? 0 : -1;
  }
}

/* Wait until `n` bytes are unread. Returns 1, 0 at the end of the stream,
 * -1 on timeout or error. */
static int rb_need(rbuf *rb, size_t n, uint64_t deadline)
{
  while (rb_avail(rb) < n) {
    int r = rb_fill(rb, deadline);
    if (r <= 0) return r;
  }
  return 1;
}

static void rb_free(rbuf *rb)
{
  if (rb->fd >= 0) close(rb->fd);
  free(rb->data);
  *rb = (rbuf){ .fd = -1 };
}

/* ---- Heads and bodies. ------------------------------------------------ */

/* Whether the "Name: value\r\n" lines in `extra` include header `name`. */
static int has_header_line(const char *extra, const char *name)
{
  size_t n = strlen(name);
  for (const char *line = extra; line && *line;) {
    if (strncasecmp(line, name, n) == 0 && line[n] == ':') return 1;
    line = strchr(line, '\n');
    if (line) line++;
  }
  return 0;
}

/* A request head: the request line, each of `defaults` ("Name: value\r\n",
 * NULL-terminated) that `extra` does not override, `extra`, the body's
 * length, the blank line; then the body. */
static void build_request(sbuf *b, int port, const char *method,
                          const char *path, const char *const *defaults,
                          const char *extra, const char *body,
                          size_t body_len)
{
  sb_addf(b, "%s %s HTTP/1.1\r\n", method, path);
  if (!has_header_line(extra, "Host"))
    sb_addf(b, "Host: 127.0.0.1:%d\r\n", port);
  for (size_t i = 0; defaults && defaults[i]; i++) {
    char name[64];
    size_t n = strcspn(defaults[i], ":");
    snprintf(name, sizeof name, "%.*s", (int)(n < 63 ? n : 63), defaults[i]);
    if (!has_header_line(extra, name)) sb_adds(b, defaults[i]);
  }
  if (extra) sb_adds(b, extra);
  if (body) sb_addf(b, "Content-Length: %zu\r\n", body_len);
  sb_adds(b, "\r\n");
  if (body) sb_add(b, body, body_len);
}

/* Read one response head. Returns 0 with *status and *headers (owned) set,
 * or -1 when it did not arrive whole or its status line is not HTTP's. */
static int read_head(rbuf *rb, uint64_t deadline, int *status,
                     char **headers)
{
  const char *end;
  while (!(end = memmem(rb_ptr(rb), rb_avail(rb), "\r\n\r\n", 4))) {
    if (rb_avail(rb) > MAX_HEAD || rb_fill(rb, deadline) <= 0) return -1;
  }
  const char *p = rb_ptr(rb);
  const char *line_end = memmem(p, (size_t)(end - p) + 2, "\r\n", 2);
  if (line_end - p < 12 || strncmp(p, "HTTP/1.", 7) != 0 || p[8] != ' ' ||
      p[9] < '1' || p[9] > '5' || p[10] < '0' || p[10] > '9' ||
      p[11] < '0' || p[11] > '9')
    return -1;
  *status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
  sbuf h = { 0 };
  if (line_end < end) sb_add(&h, line_end + 2, (size_t)(end - line_end));
  *headers = sb_take(&h);
  rb_consume(rb, (size_t)(end - p) + 4);
  return 0;
}

enum { DC_SIZE, DC_DATA, DC_CRLF, DC_TRAILER, DC_DONE };

/* Where a chunked body's decoding stands between reads. */
typedef struct dechunk {
  int state;
  uint64_t left; /* bytes of the current chunk still to come */
} dechunk;

/* Move what the unread bytes hold of the body into `out`, consuming the
 * framing. Returns 1 once the last chunk and trailers are read, 0 when more
 * bytes are needed, -1 on bad framing. */
static int dechunk_step(dechunk *d, rbuf *rb, sbuf *out)
{
  for (;;) {
    const char *p = rb_ptr(rb);
    size_t avail = rb_avail(rb);
    const char *eol;
    switch (d->state) {
    case DC_SIZE: {
      if (!(eol = memmem(p, avail, "\r\n", 2)))
        return avail > 1024 ? -1 : 0;
      uint64_t size = 0;
      const char *q = p;
      for (; q < eol; q++) {
        int v = *q >= '0' && *q <= '9'   ? *q - '0'
                : *q >= 'a' && *q <= 'f' ? *q - 'a' + 10
                : *q >= 'A' && *q <= 'F' ? *q - 'A' + 10
                                         : -1;
        if (v < 0) break;
        if (size >> 60) return -1;
        size = size * 16 + (uint64_t)v;
      }
      /* A size needs a digit; anything after it is a chunk extension. */
      if (q == p || (q < eol && *q != ';' && *q != ' ' && *q != '\t'))
        return -1;
      rb_consume(rb, (size_t)(eol - p) + 2);
      d->left = size;
      d->state = size ? DC_DATA : DC_TRAILER;
      break;
    }
    case DC_DATA: {
      if (avail == 0) return 0;
      size_t n = avail < d->left ? avail : (size_t)d->left;
      sb_add(out, p, n);
      rb_consume(rb, n);
      d->left -= n;
      if (d->left == 0) d->state = DC_CRLF;
      break;
    }
    case DC_CRLF:
      if (avail < 2) return 0;
      if (p[0] != '\r' || p[1] != '\n') return -1;
      rb_consume(rb, 2);
      d->state = DC_SIZE;
      break;
    case DC_TRAILER:
      if (!(eol = memmem(p, avail, "\r\n", 2)))
        return avail > MAX_HEAD ? -1 : 0;
      rb_consume(rb, (size_t)(eol - p) + 2);
      if (eol == p) d->state = DC_DONE;
      break;
    default:
      return 1;
    }
  }
}

static int header_has_token(const hp_response *r, const char *name,
                            const char *token)
{
  char *v = hp_header(r, name);
  int found = 0;
  size_t n = strlen(token);
  for (char *t = v; t && *t && !found;) {
    t += strspn(t, " \t,");
    size_t len = strcspn(t, ",");
    while (len > 0 && (t[len - 1] == ' ' || t[len - 1] == '\t')) len--;
    found = len == n && strncasecmp(t, token, n) == 0;
    t += strcspn(t, ",");
  }
  free(v);
  return found;
}

/* Read a body framed as `out`'s headers say into `body`. Returns 0, or -1
 * when it ended early, timed out or was framed wrongly. */
static int read_body(rbuf *rb, const hp_response *out, uint64_t deadline,
                     sbuf *body)
{
  if (header_has_token(out, "Transfer-Encoding", "chunked")) {
    dechunk d = { DC_SIZE, 0 };
    for (;;) {
      int r = dechunk_step(&d, rb, body);
      if (r) return r > 0 ? 0 : -1;
      if (rb_fill(rb, deadline) <= 0) return -1;
    }
  }
  char *cl = hp_header(out, "Content-Length");
  if (cl) {
    char *end;
    errno = 0;
    unsigned long long n = strtoull(cl, &end, 10);
    int bad = cl[0] < '0' || cl[0] > '9' || *end || errno;
    free(cl);
    if (bad || rb_need(rb, (size_t)n, deadline) <= 0) {
      sb_add(body, rb_ptr(rb), rb_avail(rb));
      rb_consume(rb, rb_avail(rb));
      return -1;
    }
    sb_add(body, rb_ptr(rb), (size_t)n);
    rb_consume(rb, (size_t)n);
    return 0;
  }
  for (;;) {
    sb_add(body, rb_ptr(rb), rb_avail(rb));
    rb_consume(rb, rb_avail(rb));
    int r = rb_fill(rb, deadline);
    if (r <= 0) return r == 0 ? 0 : -1;
  }
}

static int read_response(rbuf *rb, int head, hp_response *out,
                         uint64_t deadline)
{
  int status;
  char *headers;
  *out = (hp_response){ 0 };
  for (;;) {
    if (read_head(rb, deadline, &status, &headers) != 0) return -1;
    if (status >= 200 || status == 101) break;
    free(headers);
  }
  out->headers = headers;
  sbuf body = { 0 };
  int rc = 0;
  if (!head && status >= 200 && status != 204 && status != 304)
    rc = read_body(rb, out, deadline, &body);
  out->body_len = body.len;
  out->body = sb_take(&body);
  if (rc == 0) out->status = status;
  return rc;
}

char *hp_header(const hp_response *r, const char *name)
{
  size_t n = strlen(name);
  for (const char *line = r ? r->headers : NULL; line && *line;) {
    const char *eol = line + strcspn(line, "\r\n");
    if ((size_t)(eol - line) > n && line[n] == ':' &&
        strncasecmp(line, name, n) == 0) {
      const char *v = line + n + 1;
      while (v < eol && (*v == ' ' || *v == '\t')) v++;
      const char *e = eol;
      while (e > v && (e[-1] == ' ' || e[-1] == '\t')) e--;
      return strndup(v, (size_t)(e - v));
    }
    line = eol + strspn(eol, "\r\n");
  }
  return NULL;
}

void hp_response_free(hp_response *r)
{
  if (!r) return;
  free(r->headers);
  free(r->body);
  *r = (hp_response){ 0 };
}

/* ---- Connections. ----------------------------------------------------- */

struct hp_conn {
  rbuf rb;
};

hp_conn *hp_conn_open(int port)
{
  int fd = hp_connect(port);
  if (fd < 0) return NULL;
  hp_conn *c = calloc(1, sizeof *c);
  if (!c) abort();
  c->rb.fd = fd;
  return c;
}

int hp_conn_send(hp_conn *c, const void *bytes, size_t len, int timeout_ms)
{
  return send_all(c->rb.fd, bytes, len, deadline_after(timeout_ms));
}

int hp_conn_send_request(hp_conn *c, int port, const char *method,
                         const char *path, const char *extra_headers,
                         const char *body, size_t body_len, int timeout_ms)
{
  sbuf req = { 0 };
  build_request(&req, port, method, path, NULL, extra_headers, body,
                body_len);
  int rc = hp_conn_send(c, req.p, req.len, timeout_ms);
  free(req.p);
  return rc;
}

int hp_conn_read_response(hp_conn *c, int head, hp_response *out,
                          int timeout_ms)
{
  return read_response(&c->rb, head, out, deadline_after(timeout_ms));
}

int hp_conn_fd(const hp_conn *c)
{
  return c->rb.fd;
}

void hp_conn_close(hp_conn *c)
{
  if (!c) return;
  rb_free(&c->rb);
  free(c);
}

int hp_request(int port, const char *method, const char *path,
               const char *extra_headers, const char *body, size_t body_len,
               hp_response *out, int timeout_ms)
{
  sbuf req = { 0 };
  build_request(&req, port, method, path, NULL, extra_headers, body,
                body_len);
  int rc = hp_request_raw(port, req.p, req.len, strcmp(method, "HEAD") == 0,
                          out, timeout_ms);
  free(req.p);
  return rc;
}

int hp_request_raw(int port, const void *bytes, size_t len, int head,
                   hp_response *out, int timeout_ms)
{
  uint64_t deadline = deadline_after(timeout_ms);
  *out = (hp_response){ 0 };
  hp_conn *c = hp_conn_open(port);
  if (!c) return -1;
  /* A server may answer and close before taking all of a bad request, so
   * a failed send still leaves its response worth reading. */
  (void)send_all(c->rb.fd, bytes, len, deadline);
  int rc = read_response(&c->rb, head, out, deadline);
  hp_conn_close(c);
  return rc;
}

int hp_wait_closed(int fd, int timeout_ms)
{
  uint64_t deadline = deadline_after(timeout_ms);
  char scratch[4096];
  for (;;) {
    struct pollfd pf = { fd, POLLIN, 0 };
    int n = poll(&pf, 1, ms_left(deadline));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return 0;
    ssize_t got = recv(fd, scratch, sizeof scratch, MSG_DONTWAIT);
    if (got == 0) return 1;
    if (got < 0 && errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)
      return 1;
  }
}

/* ---- Server-Sent Events. ---------------------------------------------- */

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
  uint64_t deadline = deadline_after(timeout_ms);
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
  build_request(&req, port, "GET", path, defaults, extra_headers, NULL, 0);
  int rc = send_all(fd, req.p, req.len, deadline);
  free(req.p);
  int st = 0;
  char *headers = NULL;
  if (rc == 0 && read_head(&s->rb, deadline, &st, &headers) == 0) {
    s->head.status = st;
    s->head.headers = headers;
  }
  if (status) *status = s->head.status;
  if (s->head.status != 200) {
    if (s->head.status && body_out) {
      sbuf body = { 0 };
      read_body(&s->rb, &s->head, deadline, &body);
      *body_out = sb_take(&body);
    }
    hp_sse_close(s);
    return NULL;
  }
  s->head.body = strdup("");
  s->chunked = header_has_token(&s->head, "Transfer-Encoding", "chunked");
  return s;
}

/* Decode more of the body into s->text. Returns 1 when bytes were added, 0
 * when the body ended, -1 on timeout or error. */
static int sse_more(hp_sse *s, uint64_t deadline)
{
  for (;;) {
    if (s->chunked) {
      size_t before = s->text.len;
      int r = dechunk_step(&s->dc, &s->rb, &s->text);
      if (r < 0) return -1;
      if (s->text.len > before) return 1;
      if (r > 0) {
        s->ended = 1;
        return 0;
      }
    } else if (rb_avail(&s->rb)) {
      sb_add(&s->text, rb_ptr(&s->rb), rb_avail(&s->rb));
      rb_consume(&s->rb, rb_avail(&s->rb));
      return 1;
    }
    int r = rb_fill(&s->rb, deadline);
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
    sb_clear(&s->id);
    sb_clear(&s->event);
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
    sb_add(&s->data, value, value_len);
    sb_add(&s->data, "\n", 1);
    s->has_data = 1;
  } else if (name_len == 5 && memcmp(line, "event", 5) == 0) {
    sb_clear(&s->event);
    sb_add(&s->event, value, value_len);
  } else if (name_len == 2 && memcmp(line, "id", 2) == 0) {
    sb_clear(&s->id);
    sb_add(&s->id, value, value_len);
  }
  return 0;
}

int hp_sse_next(hp_sse *s, hp_sse_event *ev, int timeout_ms)
{
  uint64_t deadline = deadline_after(timeout_ms);
  if (s->returned) {
    sb_clear(&s->id);
    sb_clear(&s->event);
    sb_clear(&s->data);
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
      ev->id = sb_str(&s->id);
      ev->event = sb_str(&s->event);
      ev->data = sb_str(&s->data);
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
  rb_free(&s->rb);
  hp_response_free(&s->head);
  free(s->text.p);
  free(s->id.p);
  free(s->event.p);
  free(s->data.p);
  free(s);
}

/* ---- WebSocket. ------------------------------------------------------- */

struct hp_ws {
  rbuf rb;
  int timeout_ms;   /* for sends */
  int close_sent;
  int closed;       /* the server sent a close frame or ended the stream */
  int close_code;
  sbuf msg;         /* a fragmented message so far */
  int msg_op;       /* its opcode; 0 when none is under way */
  int last_op;
  size_t last_len;
};

void hp_ws_accept_key(const char *key, char out[29])
{
  static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  sbuf b = { 0 };
  sb_adds(&b, key);
  sb_adds(&b, guid);
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1((const unsigned char *)b.p, b.len, digest);
  free(b.p);
  EVP_EncodeBlock((unsigned char *)out, digest, sizeof digest);
}

static void random_bytes(void *buf, size_t len)
{
  if (getrandom(buf, len, 0) != (ssize_t)len) abort();
}

hp_ws *hp_ws_open(int port, const char *path, const char *extra_headers,
                  int timeout_ms, int *status)
{
  uint64_t deadline = deadline_after(timeout_ms);
  if (status) *status = 0;
  unsigned char nonce[16];
  random_bytes(nonce, sizeof nonce);
  char key[25], want[29], key_line[64];
  EVP_EncodeBlock((unsigned char *)key, nonce, sizeof nonce);
  hp_ws_accept_key(key, want);
  snprintf(key_line, sizeof key_line, "Sec-WebSocket-Key: %s\r\n", key);
  const char *const defaults[] = { "Upgrade: websocket\r\n",
                                   "Connection: Upgrade\r\n", key_line,
                                   "Sec-WebSocket-Version: 13\r\n", NULL };
  int fd = hp_connect(port);
  if (fd < 0) return NULL;
  hp_ws *w = calloc(1, sizeof *w);
  if (!w) abort();
  w->rb.fd = fd;
  w->timeout_ms = timeout_ms;
  sbuf req = { 0 };
  build_request(&req, port, "GET", path, defaults, extra_headers, NULL, 0);
  int rc = send_all(fd, req.p, req.len, deadline);
  free(req.p);
  hp_response head = { 0 };
  if (rc == 0) read_head(&w->rb, deadline, &head.status, &head.headers);
  if (status) *status = head.status;
  const char *wrong = NULL;
  char *accept = hp_header(&head, "Sec-WebSocket-Accept");
  if (head.status != 101)
    wrong = "";
  else if (!header_has_token(&head, "Upgrade", "websocket"))
    wrong = "Upgrade is not websocket";
  else if (!header_has_token(&head, "Connection", "upgrade"))
    wrong = "Connection has no upgrade";
  else if (!accept || strcmp(accept, want) != 0)
    wrong = "Sec-WebSocket-Accept is not the key's";
  if (wrong && *wrong)
    fprintf(stderr, "hp_ws_open %s: 101 but %s; headers:\n%s", path, wrong,
            head.headers);
  free(accept);
  hp_response_free(&head);
  if (wrong) {
    hp_ws_drop(w);
    return NULL;
  }
  return w;
}

int hp_ws_send_frame(hp_ws *w, unsigned first_byte, int masked,
                     const void *data, size_t len)
{
  unsigned char hdr[14];
  size_t n = 0;
  hdr[n++] = (unsigned char)first_byte;
  unsigned char mask_bit = masked ? 0x80 : 0;
  if (len < 126) {
    hdr[n++] = mask_bit | (unsigned char)len;
  } else if (len <= 0xFFFF) {
    hdr[n++] = mask_bit | 126;
    hdr[n++] = (unsigned char)(len >> 8);
    hdr[n++] = (unsigned char)len;
  } else {
    hdr[n++] = mask_bit | 127;
    for (int i = 7; i >= 0; i--)
      hdr[n++] = (unsigned char)((uint64_t)len >> (8 * i));
  }
  unsigned char mask[4] = { 0 };
  if (masked) {
    random_bytes(mask, sizeof mask);
    memcpy(hdr + n, mask, 4);
    n += 4;
  }
  unsigned char *frame = malloc(n + len + 1);
  if (!frame) abort();
  memcpy(frame, hdr, n);
  const unsigned char *src = data;
  for (size_t i = 0; i < len; i++) frame[n + i] = src[i] ^ mask[i & 3];
  int rc = send_all(w->rb.fd, frame, n + len, deadline_after(w->timeout_ms));
  free(frame);
  return rc;
}

int hp_ws_send_raw(hp_ws *w, int opcode, const void *data, size_t len)
{
  return hp_ws_send_frame(w, 0x80u | ((unsigned)opcode & 0x0Fu), 1, data,
                          len);
}

int hp_ws_send_text(hp_ws *w, const char *text)
{
  return hp_ws_send_raw(w, HP_WS_TEXT, text, strlen(text));
}

static int ws_protocol_error(const char *what)
{
  fprintf(stderr, "hp_ws_recv: the server sent %s\n", what);
  return -1;
}

int hp_ws_recv(hp_ws *w, char **text, int timeout_ms)
{
  uint64_t deadline = deadline_after(timeout_ms);
  int r;
  *text = NULL;
  if (w->closed) return 0;
  for (;;) {
    if ((r = rb_need(&w->rb, 2, deadline)) <= 0) goto ended;
    const unsigned char *p = (const unsigned char *)rb_ptr(&w->rb);
    int fin = p[0] & 0x80, op = p[0] & 0x0F;
    size_t hdr = 2 + ((p[1] & 0x7F) == 126 ? 2 : (p[1] & 0x7F) == 127 ? 8 : 0);
    if (p[1] & 0x80) return ws_protocol_error("a masked frame");
    if (p[0] & 0x70) return ws_protocol_error("a frame with RSV bits set");
    if ((r = rb_need(&w->rb, hdr, deadline)) <= 0) goto ended;
    p = (const unsigned char *)rb_ptr(&w->rb);
    uint64_t len = p[1] & 0x7F;
    if (hdr > 2) {
      len = 0;
      for (size_t i = 2; i < hdr; i++) len = len << 8 | p[i];
    }
    if (op >= 8 && (!fin || len > 125))
      return ws_protocol_error("a fragmented or long control frame");
    if (len > MAX_FRAME) return ws_protocol_error("a frame over 256 MiB");
    if ((r = rb_need(&w->rb, hdr + (size_t)len, deadline)) <= 0) goto ended;
    p = (const unsigned char *)rb_ptr(&w->rb);
    const unsigned char *payload = p + hdr;
    size_t n = (size_t)len;
    switch (op) {
    case HP_WS_PING:
      if (hp_ws_send_raw(w, HP_WS_PONG, payload, n) != 0) return -1;
      break;
    case HP_WS_PONG:
      break;
    case HP_WS_CLOSE:
      w->close_code = n >= 2 ? payload[0] << 8 | payload[1] : 1005;
      w->closed = 1;
      if (!w->close_sent) {
        w->close_sent = 1;
        hp_ws_send_raw(w, HP_WS_CLOSE, payload, n >= 2 ? 2 : 0);
      }
      rb_consume(&w->rb, hdr + n);
      return 0;
    case HP_WS_TEXT:
    case HP_WS_BINARY:
      if (w->msg_op)
        return ws_protocol_error("a new message inside a fragmented one");
      sb_clear(&w->msg);
      w->msg_op = op;
      /* fall through */
    case HP_WS_CONT:
      if (!w->msg_op) return ws_protocol_error("a stray continuation frame");
      sb_add(&w->msg, payload, n);
      break;
    default:
      return ws_protocol_error("a reserved opcode");
    }
    rb_consume(&w->rb, hdr + n);
    if (fin && op < 8) {
      w->last_op = w->msg_op;
      w->last_len = w->msg.len;
      w->msg_op = 0;
      *text = sb_take(&w->msg);
      return 1;
    }
  }
ended:
  if (r < 0) return -1;
  w->closed = 1;
  return 0;
}

void hp_ws_last(const hp_ws *w, int *opcode, size_t *len)
{
  if (opcode) *opcode = w->last_op;
  if (len) *len = w->last_len;
}

int hp_ws_close_code(const hp_ws *w)
{
  return w->close_code;
}

int hp_ws_fd(const hp_ws *w)
{
  return w->rb.fd;
}

void hp_ws_close(hp_ws *w)
{
  if (!w) return;
  if (!w->closed && !w->close_sent) {
    static const unsigned char normal[2] = { 0x03, 0xE8 };
    w->close_sent = 1;
    /* Closing at once would reset a connection whose server still has
     * bytes in flight; waiting for its close keeps the ending clean. */
    if (hp_ws_send_raw(w, HP_WS_CLOSE, normal, sizeof normal) == 0)
      hp_wait_closed(w->rb.fd, 1000);
  }
  hp_ws_drop(w);
}

void hp_ws_drop(hp_ws *w)
{
  if (!w) return;
  rb_free(&w->rb);
  free(w->msg.p);
  free(w);
}
