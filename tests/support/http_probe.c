/*
 * tests/support/http_probe.c: the blocking test client for `portico serve`
 * (see http_probe.h): clocks, strings, sockets, the buffered reader, heads,
 * bodies and plain connections. Server-Sent Events are in http_probe_sse.c,
 * WebSocket in http_probe_ws.c; what they take from here is declared in
 * http_probe_int.h.
 *
 * Everything reads through one buffered reader that only ever waits in
 * poll() against a deadline; parsers look at its unread bytes and consume
 * only whole units (a head, a chunk's framing, a frame), so a read that
 * times out midway leaves the stream where the next call can resume it.
 */
#include "http_probe_int.h"

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
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* A head larger than this is a runaway server, not a response. */
#define MAX_HEAD (1u << 20)

/* ---- Clocks. ---------------------------------------------------------- */

static uint64_t now_ms(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

uint64_t hp__deadline_after(int ms)
{
  return now_ms() + (uint64_t)(ms > 0 ? ms : 0);
}

static int ms_left(uint64_t deadline)
{
  uint64_t now = now_ms();
  return now >= deadline ? 0 : (int)(deadline - now);
}

/* ---- A growable, always NUL-terminated byte string. ------------------- */

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

void hp__sb_add(sbuf *b, const void *bytes, size_t len)
{
  sb_reserve(b, len);
  if (len) memcpy(b->p + b->len, bytes, len);
  b->len += len;
  b->p[b->len] = '\0';
}

void hp__sb_adds(sbuf *b, const char *s)
{
  hp__sb_add(b, s, strlen(s));
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

void hp__sb_clear(sbuf *b)
{
  b->len = 0;
  if (b->p) b->p[0] = '\0';
}

const char *hp__sb_str(const sbuf *b)
{
  return b->p ? b->p : "";
}

char *hp__sb_take(sbuf *b)
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

int hp__send_all(int fd, const void *bytes, size_t len, uint64_t deadline)
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

size_t hp__rb_avail(const rbuf *rb)
{
  return rb->len - rb->off;
}

/* Never NULL, even before the first read: memmem and memcpy insist. */
const char *hp__rb_ptr(const rbuf *rb)
{
  return rb->data ? rb->data + rb->off : "";
}

void hp__rb_consume(rbuf *rb, size_t n)
{
  rb->off += n;
}

/* A reset counts as the end: the server went away either way. */
int hp__rb_fill(rbuf *rb, uint64_t deadline)
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

int hp__rb_need(rbuf *rb, size_t n, uint64_t deadline)
{
  while (hp__rb_avail(rb) < n) {
    int r = hp__rb_fill(rb, deadline);
    if (r <= 0) return r;
  }
  return 1;
}

void hp__rb_free(rbuf *rb)
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

/* `defaults` are "Name: value\r\n" lines, NULL-terminated. */
void hp__build_request(sbuf *b, int port, const char *method,
                       const char *path, const char *const *defaults,
                       const char *extra, const char *body, size_t body_len)
{
  sb_addf(b, "%s %s HTTP/1.1\r\n", method, path);
  if (!has_header_line(extra, "Host"))
    sb_addf(b, "Host: 127.0.0.1:%d\r\n", port);
  for (size_t i = 0; defaults && defaults[i]; i++) {
    char name[64];
    size_t n = strcspn(defaults[i], ":");
    snprintf(name, sizeof name, "%.*s", (int)(n < 63 ? n : 63), defaults[i]);
    if (!has_header_line(extra, name)) hp__sb_adds(b, defaults[i]);
  }
  if (extra) hp__sb_adds(b, extra);
  if (body) sb_addf(b, "Content-Length: %zu\r\n", body_len);
  hp__sb_adds(b, "\r\n");
  if (body) hp__sb_add(b, body, body_len);
}

int hp__read_head(rbuf *rb, uint64_t deadline, int *status, char **headers)
{
  const char *end;
  while (!(end = memmem(hp__rb_ptr(rb), hp__rb_avail(rb), "\r\n\r\n", 4))) {
    if (hp__rb_avail(rb) > MAX_HEAD || hp__rb_fill(rb, deadline) <= 0)
      return -1;
  }
  const char *p = hp__rb_ptr(rb);
  const char *line_end = memmem(p, (size_t)(end - p) + 2, "\r\n", 2);
  if (line_end - p < 12 || strncmp(p, "HTTP/1.", 7) != 0 || p[8] != ' ' ||
      p[9] < '1' || p[9] > '5' || p[10] < '0' || p[10] > '9' ||
      p[11] < '0' || p[11] > '9')
    return -1;
  *status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
  sbuf h = { 0 };
  if (line_end < end) hp__sb_add(&h, line_end + 2, (size_t)(end - line_end));
  *headers = hp__sb_take(&h);
  hp__rb_consume(rb, (size_t)(end - p) + 4);
  return 0;
}

int hp__dechunk_step(dechunk *d, rbuf *rb, sbuf *out)
{
  for (;;) {
    const char *p = hp__rb_ptr(rb);
    size_t avail = hp__rb_avail(rb);
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
      hp__rb_consume(rb, (size_t)(eol - p) + 2);
      d->left = size;
      d->state = size ? DC_DATA : DC_TRAILER;
      break;
    }
    case DC_DATA: {
      if (avail == 0) return 0;
      size_t n = avail < d->left ? avail : (size_t)d->left;
      hp__sb_add(out, p, n);
      hp__rb_consume(rb, n);
      d->left -= n;
      if (d->left == 0) d->state = DC_CRLF;
      break;
    }
    case DC_CRLF:
      if (avail < 2) return 0;
      if (p[0] != '\r' || p[1] != '\n') return -1;
      hp__rb_consume(rb, 2);
      d->state = DC_SIZE;
      break;
    case DC_TRAILER:
      if (!(eol = memmem(p, avail, "\r\n", 2)))
        return avail > MAX_HEAD ? -1 : 0;
      hp__rb_consume(rb, (size_t)(eol - p) + 2);
      if (eol == p) d->state = DC_DONE;
      break;
    default:
      return 1;
    }
  }
}

int hp__header_has_token(const hp_response *r, const char *name,
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

int hp__read_body(rbuf *rb, const hp_response *out, uint64_t deadline,
                  sbuf *body)
{
  if (hp__header_has_token(out, "Transfer-Encoding", "chunked")) {
    dechunk d = { DC_SIZE, 0 };
    for (;;) {
      int r = hp__dechunk_step(&d, rb, body);
      if (r) return r > 0 ? 0 : -1;
      if (hp__rb_fill(rb, deadline) <= 0) return -1;
    }
  }
  char *cl = hp_header(out, "Content-Length");
  if (cl) {
    char *end;
    errno = 0;
    unsigned long long n = strtoull(cl, &end, 10);
    int bad = cl[0] < '0' || cl[0] > '9' || *end || errno;
    free(cl);
    if (bad || hp__rb_need(rb, (size_t)n, deadline) <= 0) {
      hp__sb_add(body, hp__rb_ptr(rb), hp__rb_avail(rb));
      hp__rb_consume(rb, hp__rb_avail(rb));
      return -1;
    }
    hp__sb_add(body, hp__rb_ptr(rb), (size_t)n);
    hp__rb_consume(rb, (size_t)n);
    return 0;
  }
  for (;;) {
    hp__sb_add(body, hp__rb_ptr(rb), hp__rb_avail(rb));
    hp__rb_consume(rb, hp__rb_avail(rb));
    int r = hp__rb_fill(rb, deadline);
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
    if (hp__read_head(rb, deadline, &status, &headers) != 0) return -1;
    if (status >= 200 || status == 101) break;
    free(headers);
  }
  out->headers = headers;
  sbuf body = { 0 };
  int rc = 0;
  if (!head && status >= 200 && status != 204 && status != 304)
    rc = hp__read_body(rb, out, deadline, &body);
  out->body_len = body.len;
  out->body = hp__sb_take(&body);
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
  return hp__send_all(c->rb.fd, bytes, len, hp__deadline_after(timeout_ms));
}

int hp_conn_send_request(hp_conn *c, int port, const char *method,
                         const char *path, const char *extra_headers,
                         const char *body, size_t body_len, int timeout_ms)
{
  sbuf req = { 0 };
  hp__build_request(&req, port, method, path, NULL, extra_headers, body,
                    body_len);
  int rc = hp_conn_send(c, req.p, req.len, timeout_ms);
  free(req.p);
  return rc;
}

int hp_conn_read_response(hp_conn *c, int head, hp_response *out,
                          int timeout_ms)
{
  return read_response(&c->rb, head, out, hp__deadline_after(timeout_ms));
}

int hp_conn_fd(const hp_conn *c)
{
  return c->rb.fd;
}

void hp_conn_close(hp_conn *c)
{
  if (!c) return;
  hp__rb_free(&c->rb);
  free(c);
}

int hp_request(int port, const char *method, const char *path,
               const char *extra_headers, const char *body, size_t body_len,
               hp_response *out, int timeout_ms)
{
  sbuf req = { 0 };
  hp__build_request(&req, port, method, path, NULL, extra_headers, body,
                    body_len);
  int rc = hp_request_raw(port, req.p, req.len, strcmp(method, "HEAD") == 0,
                          out, timeout_ms);
  free(req.p);
  return rc;
}

int hp_request_raw(int port, const void *bytes, size_t len, int head,
                   hp_response *out, int timeout_ms)
{
  uint64_t deadline = hp__deadline_after(timeout_ms);
  *out = (hp_response){ 0 };
  hp_conn *c = hp_conn_open(port);
  if (!c) return -1;
  /* A server may answer and close before taking all of a bad request, so
   * a failed send still leaves its response worth reading. */
  (void)hp__send_all(c->rb.fd, bytes, len, deadline);
  int rc = read_response(&c->rb, head, out, deadline);
  hp_conn_close(c);
  return rc;
}

int hp_wait_closed(int fd, int timeout_ms)
{
  uint64_t deadline = hp__deadline_after(timeout_ms);
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
