/*
 * tests/support/fake_http.c: the scriptable HTTP/1.1 test server (see
 * fake_http.h).
 *
 * A connection reads requests, runs one script at a time, and parses the
 * next request only when the script has finished, so pipelined requests
 * queue up in the input buffer. A request is re-parsed from the start of
 * the buffer each time bytes arrive until it is whole: simple, and cheap
 * for the sizes tests send.
 */
#include "fake_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

enum { STEP_SEND, STEP_WAIT, STEP_CLOSE, STEP_RESET, STEP_HANG };

typedef struct step {
  int kind;
  unsigned ms;
  size_t len;
  char *bytes; /* owned */
} step;

struct fake_http_response {
  step *steps; /* owned */
  size_t count, cap;
};

typedef struct conn conn;

struct fake_http {
  uv_loop_t loop;
  uv_tcp_t listener;
  uv_async_t wake;
  uv_thread_t thread;
  fake_http_handler handler;
  void *ud;
  int port;
  conn *conns;
  atomic_ulong requests, connections;
};

struct conn {
  uv_tcp_t tcp;
  uv_timer_t timer;
  uv_write_t write;
  fake_http *f;
  conn *prev, *next;
  char *in; /* owned: bytes read and not yet consumed */
  size_t in_len, in_cap;
  fake_http_response script;
  size_t next_step;
  unsigned long requests;
  int busy;       /* a script runs; requests wait */
  int keep_alive; /* after the script */
  int sent_continue;
  int closing;
  int open_handles;
};

static void *xrealloc(void *p, size_t n)
{
  p = realloc(p, n ? n : 1);
  if (!p) {
    fputs("fake_http: out of memory\n", stderr);
    abort();
  }
  return p;
}

static void *xmalloc(size_t n)
{
  return xrealloc(NULL, n);
}

/* ------------------------------------------------------------------------ */
/* Script building                                                           */

static step *add_step(fake_http_response *res, int kind)
{
  step *s;
  if (res->count == res->cap) {
    res->cap = res->cap ? res->cap * 2 : 8;
    res->steps = xrealloc(res->steps, res->cap * sizeof *res->steps);
  }
  s = &res->steps[res->count++];
  memset(s, 0, sizeof *s);
  s->kind = kind;
  return s;
}

void fake_http_send(fake_http_response *res, const void *bytes, size_t len)
{
  step *s = add_step(res, STEP_SEND);
  s->bytes = xmalloc(len);
  memcpy(s->bytes, bytes, len);
  s->len = len;
}

void fake_http_sendf(fake_http_response *res, const char *fmt, ...)
{
  va_list ap;
  int n;
  step *s;

  va_start(ap, fmt);
  n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  s = add_step(res, STEP_SEND);
  s->bytes = xmalloc((size_t)n + 1);
  va_start(ap, fmt);
  vsnprintf(s->bytes, (size_t)n + 1, fmt, ap);
  va_end(ap);
  s->len = (size_t)n;
}

void fake_http_wait(fake_http_response *res, unsigned ms)
{
  add_step(res, STEP_WAIT)->ms = ms;
}

void fake_http_close(fake_http_response *res)
{
  add_step(res, STEP_CLOSE);
}

void fake_http_reset(fake_http_response *res)
{
  add_step(res, STEP_RESET);
}

void fake_http_hang(fake_http_response *res)
{
  add_step(res, STEP_HANG);
}

static const char *reason(int status)
{
  switch (status) {
  case 100: return "Continue";
  case 200: return "OK";
  case 400: return "Bad Request";
  case 401: return "Unauthorized";
  case 404: return "Not Found";
  case 429: return "Too Many Requests";
  case 500: return "Internal Server Error";
  case 503: return "Service Unavailable";
  default: return "Status";
  }
}

void fake_http_respond(fake_http_response *res, int status,
                       const char *content_type, const char *body)
{
  fake_http_sendf(res,
                  "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
                  "Content-Length: %zu\r\n\r\n%s",
                  status, reason(status), content_type, strlen(body), body);
}

void fake_http_head(fake_http_response *res, int status, const char *headers)
{
  fake_http_sendf(res, "HTTP/1.1 %d %s\r\n%s\r\n", status, reason(status),
                  headers ? headers : "");
}

void fake_http_chunked_head(fake_http_response *res, int status,
                            const char *content_type)
{
  fake_http_sendf(res,
                  "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
                  "Transfer-Encoding: chunked\r\n\r\n",
                  status, reason(status), content_type);
}

void fake_http_chunk(fake_http_response *res, const void *bytes, size_t len)
{
  char size[32];
  int n = snprintf(size, sizeof size, "%zx\r\n", len);
  step *s;

  if (len == 0) return;
  s = add_step(res, STEP_SEND);
  s->len = (size_t)n + len + 2;
  s->bytes = xmalloc(s->len);
  memcpy(s->bytes, size, (size_t)n);
  memcpy(s->bytes + n, bytes, len);
  memcpy(s->bytes + n + len, "\r\n", 2);
}

void fake_http_chunk_end(fake_http_response *res)
{
  fake_http_send(res, "0\r\n\r\n", 5);
}

void fake_http_sse_head(fake_http_response *res)
{
  fake_http_sendf(res, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                       "Cache-Control: no-cache\r\n"
                       "Transfer-Encoding: chunked\r\n\r\n");
}

static void script_free(fake_http_response *res)
{
  for (size_t i = 0; i < res->count; i++) free(res->steps[i].bytes);
  free(res->steps);
  memset(res, 0, sizeof *res);
}

/* ------------------------------------------------------------------------ */
/* Request parsing                                                           */

const char *fake_http_request_header(const fake_http_request *req,
                                     const char *name)
{
  for (size_t i = 0; i < req->header_count; i++)
    if (strcasecmp(req->headers[i].name, name) == 0)
      return req->headers[i].value;
  return NULL;
}

/* The value of header `name` in the raw head [p, end), or NULL; *vlen gets
 * its trimmed length. */
static const char *raw_header(const char *p, const char *end,
                              const char *name, size_t *vlen)
{
  size_t nlen = strlen(name);
  while (p < end) {
    const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);
    if (!eol) eol = end;
    if ((size_t)(eol - p) > nlen && p[nlen] == ':' &&
        strncasecmp(p, name, nlen) == 0) {
      const char *v = p + nlen + 1, *ve = eol;
      while (v < ve && (*v == ' ' || *v == '\t')) v++;
      while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t')) ve--;
      *vlen = (size_t)(ve - v);
      return v;
    }
    p = eol + 2;
  }
  return NULL;
}

static int header_is(const char *head, const char *end, const char *name,
                     const char *value)
{
  size_t len;
  const char *v = raw_header(head, end, name, &len);
  return v && len == strlen(value) && strncasecmp(v, value, len) == 0;
}

/* Walk a chunked body at [p, end). Returns the bytes it spans, 0 when it
 * is not all there yet, -1 when malformed. With `out`, copies the data
 * there and sets *out_len. */
static long dechunk(const char *p, const char *end, char *out, size_t *out_len)
{
  const char *start = p;
  size_t got = 0;
  for (;;) {
    const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);
    char *stop;
    unsigned long size;
    if (!eol) return 0;
    size = strtoul(p, &stop, 16);
    if (stop == p) return -1;
    p = eol + 2;
    if (size == 0) {
      /* Trailers, then a blank line. */
      for (;;) {
        eol = memmem(p, (size_t)(end - p), "\r\n", 2);
        if (!eol) return 0;
        if (eol == p) {
          if (out_len) *out_len = got;
          return (long)(eol + 2 - start);
        }
        p = eol + 2;
      }
    }
    if ((size_t)(end - p) < size + 2) return 0;
    if (out) memcpy(out + got, p, size);
    got += size;
    p += size + 2;
  }
}

static void conn_close(conn *c);
static void run_script(conn *c);

/* Cut the NUL-terminated text at *cursor at its next CRLF. */
static char *next_line(char **cursor)
{
  char *line = *cursor, *eol;
  if (!line) return NULL;
  eol = strstr(line, "\r\n");
  if (eol) {
    *eol = '\0';
    *cursor = eol + 2;
  } else {
    *cursor = NULL;
  }
  return line;
}

/* Parse and answer the request at the start of c->in, if it is whole. */
static void serve_next(conn *c)
{
  fake_http *f = c->f;
  char *in = c->in, *head_end, *copy, *cursor, *line, *sp;
  size_t head_len, body_span, clen_len, count = 0;
  const char *clen;
  fake_http_header *headers;
  fake_http_request req;
  int chunked, whole;

  if (c->busy || c->closing || c->in_len == 0) return;
  head_end = memmem(in, c->in_len, "\r\n\r\n", 4);
  if (!head_end) return;
  head_len = (size_t)(head_end - in) + 4;

  chunked = header_is(in, head_end, "Transfer-Encoding", "chunked");
  clen = raw_header(in, head_end, "Content-Length", &clen_len);
  if (chunked) {
    long span = dechunk(in + head_len, in + c->in_len, NULL, NULL);
    if (span < 0) {
      conn_close(c);
      return;
    }
    whole = span > 0;
    body_span = (size_t)span;
  } else {
    body_span = clen ? strtoul(clen, NULL, 10) : 0;
    whole = c->in_len - head_len >= body_span;
  }
  if (!whole) {
    if (!c->sent_continue &&
        header_is(in, head_end, "Expect", "100-continue")) {
      static char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
      uv_buf_t b = uv_buf_init(cont, sizeof cont - 1);
      c->sent_continue = 1;
      uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    }
    return;
  }

  /* The request is whole: copy it apart into NUL-terminated pieces. */
  memset(&req, 0, sizeof req);
  copy = xmalloc(head_len + body_span + 1);
  memcpy(copy, in, head_len);
  copy[head_len - 4] = '\0';
  req.body = copy + head_len;
  if (chunked) {
    dechunk(in + head_len, in + c->in_len, copy + head_len, &req.body_len);
  } else {
    memcpy(copy + head_len, in + head_len, body_span);
    req.body_len = body_span;
  }
  copy[head_len + req.body_len] = '\0';
  for (const char *p = in; p < head_end; p++) count += *p == '\n';
  headers = xmalloc(count * sizeof *headers);

  cursor = copy;
  line = next_line(&cursor);
  req.method = line;
  sp = strchr(line, ' ');
  if (sp) *sp++ = '\0';
  req.path = sp ? sp : "";
  if (sp && (sp = strchr(sp, ' ')) != NULL) *sp = '\0';
  while ((line = next_line(&cursor)) != NULL) {
    char *colon = strchr(line, ':'), *v, *ve;
    if (!colon) continue;
    *colon = '\0';
    for (v = colon + 1; *v == ' ' || *v == '\t'; v++) {}
    for (ve = v + strlen(v); ve > v && (ve[-1] == ' ' || ve[-1] == '\t');)
      *--ve = '\0';
    headers[req.header_count].name = line;
    headers[req.header_count++].value = v;
  }
  req.headers = headers;
  req.index = atomic_fetch_add(&f->requests, 1);
  req.conn_index = c->requests++;

  c->keep_alive = !header_is(in, head_end, "Connection", "close");
  c->in_len -= head_len + body_span;
  memmove(c->in, c->in + head_len + body_span, c->in_len);
  c->sent_continue = 0;
  c->busy = 1;
  c->next_step = 0;
  f->handler(f->ud, &req, &c->script);
  if (c->script.count == 0)
    fake_http_respond(&c->script, 500, "text/plain",
                      "fake_http: the handler scripted nothing\n");
  free(copy);
  free(headers);
  run_script(c);
}

/* ------------------------------------------------------------------------ */
/* Connections                                                               */

static void on_conn_closed(uv_handle_t *h)
{
  conn *c = h->data;
  if (--c->open_handles > 0) return;
  script_free(&c->script);
  free(c->in);
  free(c);
}

static void conn_close(conn *c)
{
  fake_http *f = c->f;
  if (c->closing) return;
  c->closing = 1;
  if (c->prev) c->prev->next = c->next;
  else f->conns = c->next;
  if (c->next) c->next->prev = c->prev;
  uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
  uv_close((uv_handle_t *)&c->timer, on_conn_closed);
}

static void on_written(uv_write_t *w, int status)
{
  conn *c = w->data;
  if (c->closing) return;
  if (status < 0) conn_close(c);
  else run_script(c);
}

static void on_waited(uv_timer_t *t)
{
  run_script(t->data);
}

static void run_script(conn *c)
{
  while (!c->closing && c->next_step < c->script.count) {
    step *s = &c->script.steps[c->next_step++];
    uv_os_fd_t fd;
    uv_buf_t b;
    switch (s->kind) {
    case STEP_SEND:
      b = uv_buf_init(s->bytes, (unsigned)s->len);
      if (uv_write(&c->write, (uv_stream_t *)&c->tcp, &b, 1, on_written) != 0)
        conn_close(c);
      return;
    case STEP_WAIT:
      uv_timer_start(&c->timer, on_waited, s->ms, 0);
      return;
    case STEP_RESET:
      if (uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0) {
        struct linger lg = { 1, 0 };
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
      }
      conn_close(c);
      return;
    case STEP_CLOSE:
      conn_close(c);
      return;
    case STEP_HANG:
      /* Still reading: a client that gives up is noticed and closed. */
      return;
    }
  }
  if (c->closing) return;
  script_free(&c->script);
  c->busy = 0;
  if (!c->keep_alive) conn_close(c);
  else serve_next(c);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
  conn *c = h->data;
  if (c->in_cap - c->in_len < suggested) {
    c->in_cap = c->in_cap * 2 > c->in_len + suggested ? c->in_cap * 2
                                                       : c->in_len + suggested;
    c->in = xrealloc(c->in, c->in_cap);
  }
  *buf = uv_buf_init(c->in + c->in_len, (unsigned)(c->in_cap - c->in_len));
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
  conn *c = s->data;
  (void)buf;
  if (n < 0) {
    conn_close(c);
    return;
  }
  c->in_len += (size_t)n;
  serve_next(c);
}

static void on_connection(uv_stream_t *server, int status)
{
  fake_http *f = server->data;
  conn *c;
  if (status < 0) return;
  c = xmalloc(sizeof *c);
  memset(c, 0, sizeof *c);
  c->f = f;
  uv_tcp_init(&f->loop, &c->tcp);
  uv_timer_init(&f->loop, &c->timer);
  c->tcp.data = c->timer.data = c->write.data = c;
  c->open_handles = 2;
  c->next = f->conns;
  if (f->conns) f->conns->prev = c;
  f->conns = c;
  if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
    conn_close(c);
    return;
  }
  atomic_fetch_add(&f->connections, 1);
  uv_tcp_nodelay(&c->tcp, 1);
  uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

/* ------------------------------------------------------------------------ */
/* Server                                                                    */

static void on_wake(uv_async_t *a)
{
  fake_http *f = a->data;
  uv_close((uv_handle_t *)&f->listener, NULL);
  uv_close((uv_handle_t *)&f->wake, NULL);
  while (f->conns) conn_close(f->conns);
}

static void serve(void *arg)
{
  fake_http *f = arg;
  uv_run(&f->loop, UV_RUN_DEFAULT);
}

fake_http *fake_http_start(fake_http_handler fn, void *ud)
{
  fake_http *f = xmalloc(sizeof *f);
  struct sockaddr_in addr;
  struct sockaddr_storage bound;
  int len = sizeof bound, rc;

  signal(SIGPIPE, SIG_IGN);
  memset(f, 0, sizeof *f);
  f->handler = fn;
  f->ud = ud;
  uv_loop_init(&f->loop);
  uv_tcp_init(&f->loop, &f->listener);
  f->listener.data = f;
  uv_ip4_addr("127.0.0.1", 0, &addr);
  rc = uv_tcp_bind(&f->listener, (const struct sockaddr *)&addr, 0);
  if (rc == 0) rc = uv_listen((uv_stream_t *)&f->listener, 1024, on_connection);
  if (rc == 0)
    rc = uv_tcp_getsockname(&f->listener, (struct sockaddr *)&bound, &len);
  if (rc != 0) {
    fprintf(stderr, "fake_http: cannot listen on 127.0.0.1: %s\n",
            uv_strerror(rc));
    uv_close((uv_handle_t *)&f->listener, NULL);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    uv_loop_close(&f->loop);
    free(f);
    return NULL;
  }
  f->port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
  uv_async_init(&f->loop, &f->wake, on_wake);
  f->wake.data = f;
  if (uv_thread_create(&f->thread, serve, f) != 0) abort();
  return f;
}

int fake_http_port(const fake_http *f)
{
  return f->port;
}

unsigned long fake_http_request_count(const fake_http *f)
{
  return atomic_load(&f->requests);
}

unsigned long fake_http_connection_count(const fake_http *f)
{
  return atomic_load(&f->connections);
}

void fake_http_stop(fake_http *f)
{
  if (!f) return;
  uv_async_send(&f->wake);
  uv_thread_join(&f->thread);
  if (uv_loop_close(&f->loop) != 0)
    fputs("fake_http: loop closed with handles left\n", stderr);
  free(f);
}

/* ------------------------------------------------------------------------ */
/* Ports where nothing answers                                               */

struct fake_http_dead {
  int port;
  int fd;
  int fillers[8];
  int filler_count;
};

static int loopback_socket(struct sockaddr_in *addr)
{
  socklen_t len = sizeof *addr;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  memset(addr, 0, sizeof *addr);
  addr->sin_family = AF_INET;
  addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || bind(fd, (struct sockaddr *)addr, sizeof *addr) != 0 ||
      getsockname(fd, (struct sockaddr *)addr, &len) != 0) {
    perror("fake_http: loopback socket");
    abort();
  }
  return fd;
}

fake_http_dead *fake_http_dead_refusing(void)
{
  fake_http_dead *p = xmalloc(sizeof *p);
  struct sockaddr_in addr;
  memset(p, 0, sizeof *p);
  p->fd = loopback_socket(&addr);
  p->port = ntohs(addr.sin_port);
  return p;
}

fake_http_dead *fake_http_dead_hanging(void)
{
  fake_http_dead *p = xmalloc(sizeof *p);
  struct sockaddr_in addr;
  memset(p, 0, sizeof *p);
  p->fd = loopback_socket(&addr);
  p->port = ntohs(addr.sin_port);
  /* Linux queues backlog + 1 connections and then drops SYNs, so connect
   * retries (for seconds) instead of being refused. Fill the queue until a
   * probe's connect stays pending; the probe stays as a filler. */
  if (listen(p->fd, 0) != 0) abort();
  while (p->filler_count < (int)(sizeof p->fillers / sizeof p->fillers[0])) {
    int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct pollfd pfd = { s, POLLOUT, 0 };
    p->fillers[p->filler_count++] = s;
    if (connect(s, (struct sockaddr *)&addr, sizeof addr) != 0 &&
        errno == EINPROGRESS && poll(&pfd, 1, 50) == 0)
      return p;
  }
  fputs("fake_http: could not fill the accept queue; connects will not hang\n",
        stderr);
  return p;
}

int fake_http_dead_port(const fake_http_dead *p)
{
  return p->port;
}

void fake_http_dead_close(fake_http_dead *p)
{
  if (!p) return;
  for (int i = 0; i < p->filler_count; i++) close(p->fillers[i]);
  close(p->fd);
  free(p);
}
