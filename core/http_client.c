/*
 * core/http_client.c: libcurl's multi-socket interface on the libuv loop.
 *
 * For: running many HTTP requests at once on the loop thread, streaming
 * their bodies to callbacks, and turning every way a request can end into
 * exactly one on_done with a PT_E* code and a sentence. Not for: retries,
 * redirects or body framing (SSE and line splitting are sse_split.c and
 * line_split.c); providers own those.
 *
 * A request moves QUEUED -> RUNNING -> FINISHED -> DONE. Every user
 * callback except on_done runs inside a libcurl callback, where libcurl
 * forbids adding or removing handles, and on_done must never run inside
 * pt_http_start or pt_http_cancel. So both joining the multi handle and
 * completing are deferred to one uv_idle_t (the "reaper"), which runs after
 * the current callback returned: pt_http_start and pt_http_cancel only queue
 * work, and the reaper is the one place that touches the multi handle's
 * membership and calls on_done. FINISHED is entered once (first cause wins),
 * so a timer firing in the same turn that curl completes cannot complete a
 * request twice.
 *
 * The first-byte, idle and total clocks share one uv_timer_t per request
 * that is re-armed lazily: a byte only stores the time, and the timer, when
 * it fires early, re-arms for what is left. That keeps a streamed body
 * free of timer heap operations.
 */
#include "http_client.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"

#define DEFAULT_CONNECT_MS 10000u
#define DEFAULT_FIRST_BYTE_MS 120000u
#define DEFAULT_IDLE_MS 120000u

enum req_state {
  REQ_QUEUED,   /* started; joins the multi handle on the reaper's turn */
  REQ_RUNNING,  /* in the multi handle */
  REQ_FINISHED, /* outcome decided; on_done waits for the reaper */
  REQ_DONE      /* on_done called; only the close of `watch` remains */
};

typedef struct sock sock;

struct pt_http_client {
  uv_loop_t *loop;               /* borrowed */
  CURLM *multi;                  /* owned; NULL until the first request,
                                    and again once shut */
  uv_timer_t curl_timer;         /* curl's one timeout */
  uv_idle_t reaper;
  pt_http *live;                 /* requests not yet DONE */
  pt_http *pending;              /* FIFO of requests the reaper must visit */
  pt_http **pending_tail;
  sock *socks;                   /* polled sockets */
  size_t active;
  int open_handles;              /* curl_timer and reaper until closed */
  int closing;
  int curl_started;              /* curl_global_init succeeded */
  int shut;                      /* handles closing; free on their callbacks */
};

struct sock {
  uv_poll_t poll;
  curl_socket_t fd;
  pt_http_client *c;
  sock *prev, *next;
};

struct pt_http {
  pt_http_client *c;
  CURL *easy;                  /* owned until the reaper completes it */
  struct curl_slist *headers;  /* owned, same */
  pt_http *prev, *next;        /* c->live */
  pt_http *pending_next;
  int state;
  int pending;                 /* in c->pending */
  int in_multi;
  int got_byte;
  int responded;               /* on_response ran; later header lines are
                                  trailers */
  int32_t status;
  CURLcode curl_code;
  long http_status;
  uv_timer_t watch;            /* first-byte, idle and total clocks */
  uint64_t started, last_byte; /* uv_now() */
  uint32_t connect_ms, first_byte_ms, idle_ms, total_ms;
  uint64_t body_bytes;
  void (*on_response)(pt_http *r, void *ud, int32_t http_status);
  void (*on_body)(pt_http *r, void *ud, pt_str chunk);
  void (*on_done)(pt_http *r, void *ud, int32_t status, pt_str message);
  void *ud;
  char *hdr;                   /* owned: the final response's header lines,
                                  each ending in '\n', CR stripped */
  size_t hdr_len, hdr_cap;
  char errbuf[CURL_ERROR_SIZE];
  char method[16];
  size_t where_len;
  char where[];                /* the URL without credentials or query, for
                                  messages */
};

static void on_reap(uv_idle_t *h);

/* ------------------------------------------------------------------------ */
/* Completion                                                                */

static void pend(pt_http *r)
{
  pt_http_client *c = r->c;
  if (r->pending) return;
  r->pending = 1;
  r->pending_next = NULL;
  *c->pending_tail = r;
  c->pending_tail = &r->pending_next;
  uv_idle_start(&c->reaper, on_reap);
}

/* Decide how `r` ends. The first cause wins; on_done follows from the
 * reaper. */
static void finish(pt_http *r, int32_t status)
{
  if (r->state >= REQ_FINISHED) return;
  r->state = REQ_FINISHED;
  r->status = status;
  uv_timer_stop(&r->watch);
  pend(r);
}

static int32_t status_of(CURLcode rc)
{
  switch (rc) {
  case CURLE_OK: return PT_OK;
  case CURLE_COULDNT_RESOLVE_PROXY:
  case CURLE_COULDNT_RESOLVE_HOST:
  case CURLE_COULDNT_CONNECT:
  case CURLE_SSL_CONNECT_ERROR:
  case CURLE_PEER_FAILED_VERIFICATION: return PT_ECONNECT;
  /* curl runs only the connect clock; the others are ours. */
  case CURLE_OPERATION_TIMEDOUT: return PT_ECONNTIMEOUT;
  case CURLE_PARTIAL_FILE:
  case CURLE_RECV_ERROR:
  case CURLE_SEND_ERROR:
  case CURLE_GOT_NOTHING:
  case CURLE_HTTP2_STREAM: return PT_ECLOSED;
  case CURLE_OUT_OF_MEMORY: return PT_ENOMEM;
  case CURLE_URL_MALFORMAT:
  case CURLE_UNSUPPORTED_PROTOCOL: return PT_EINVAL;
  case CURLE_WEIRD_SERVER_REPLY:
  case CURLE_BAD_CONTENT_ENCODING:
  case CURLE_HTTP2: return PT_EPROTO;
  default: return PT_EHTTP;
  }
}

/* The sentence on_done receives. Names the URL without its query (keys
 * travel there) and never a request header. */
static int describe(const pt_http *r, char *buf, size_t cap)
{
  int n = (int)r->where_len;
  const char *u = r->where;
  const char *why = r->errbuf[0] ? r->errbuf : curl_easy_strerror(r->curl_code);
  unsigned long long got = (unsigned long long)r->body_bytes;

  switch (r->status) {
  case PT_OK:
    return snprintf(buf, cap, "%s %.*s: HTTP %ld, %llu body bytes", r->method,
                    n, u, r->http_status, got);
  case PT_ECANCELED:
    return snprintf(buf, cap, "%s %.*s cancelled", r->method, n, u);
  case PT_ECONNECT:
    return snprintf(buf, cap, "could not connect to %.*s: %s", n, u, why);
  case PT_ECONNTIMEOUT:
    return snprintf(buf, cap, "connect to %.*s timed out after %u ms", n, u,
                    r->connect_ms);
  case PT_EFIRSTBYTE:
    return snprintf(buf, cap,
                    "%.*s sent no response within %u ms of the request", n, u,
                    r->first_byte_ms);
  case PT_EIDLE:
    return snprintf(buf, cap,
                    "%.*s went silent for %u ms in the middle of the response "
                    "(after %llu body bytes)",
                    n, u, r->idle_ms, got);
  case PT_ETIMEDOUT:
    return snprintf(buf, cap, "%s %.*s did not finish within %u ms", r->method,
                    n, u, r->total_ms);
  case PT_ECLOSED:
    return snprintf(buf, cap,
                    "%.*s closed the connection before the response ended "
                    "(after %llu body bytes): %s",
                    n, u, got, why);
  case PT_ENOMEM:
    return snprintf(buf, cap, "%s %.*s: out of memory", r->method, n, u);
  default:
    return snprintf(buf, cap, "%s %.*s failed: %s", r->method, n, u, why);
  }
}

static void on_watch_closed(uv_handle_t *h)
{
  pt_http *r = h->data;
  free(r->hdr);
  free(r);
}

/* Leave the multi handle, call on_done, release. Runs only on the reaper's
 * turn, outside every curl callback. */
static void complete(pt_http *r)
{
  pt_http_client *c = r->c;
  char msg[1024];
  int len;

  if (r->in_multi) curl_multi_remove_handle(c->multi, r->easy);
  curl_easy_cleanup(r->easy);
  curl_slist_free_all(r->headers);

  if (r->prev) r->prev->next = r->next;
  else c->live = r->next;
  if (r->next) r->next->prev = r->prev;
  r->state = REQ_DONE;
  c->active--;

  len = describe(r, msg, sizeof msg);
  len = len < 0 ? 0 : len >= (int)sizeof msg ? (int)sizeof msg - 1 : len;
  pt_log_debug("http", "%.*s", len, msg);
  r->on_done(r, r->ud, r->status, (pt_str){ msg, (size_t)len });

  uv_close((uv_handle_t *)&r->watch, on_watch_closed);
}

/* ------------------------------------------------------------------------ */
/* Client shutdown                                                           */

static void on_sock_closed(uv_handle_t *h)
{
  free(h->data);
}

static void sock_close(sock *s)
{
  pt_http_client *c = s->c;
  if (s->prev) s->prev->next = s->next;
  else c->socks = s->next;
  if (s->next) s->next->prev = s->prev;
  uv_close((uv_handle_t *)&s->poll, on_sock_closed);
}

static void on_client_handle_closed(uv_handle_t *h)
{
  pt_http_client *c = h->data;
  if (--c->open_handles == 0) {
    if (c->curl_started) curl_global_cleanup();
    free(c);
  }
}

/* The last step of pt_http_client_close, once no request is left. */
static void shut(pt_http_client *c)
{
  c->shut = 1;
  if (c->multi) curl_multi_cleanup(c->multi);
  c->multi = NULL;
  /* curl does not promise a REMOVE for every socket it still watched. */
  while (c->socks) sock_close(c->socks);
  uv_close((uv_handle_t *)&c->curl_timer, on_client_handle_closed);
  uv_close((uv_handle_t *)&c->reaper, on_client_handle_closed);
}

/* ------------------------------------------------------------------------ */
/* The reaper                                                                */

static void join(pt_http *r)
{
  CURLMcode rc = curl_multi_add_handle(r->c->multi, r->easy);
  if (rc != CURLM_OK) {
    snprintf(r->errbuf, sizeof r->errbuf, "%s", curl_multi_strerror(rc));
    finish(r, rc == CURLM_OUT_OF_MEMORY ? PT_ENOMEM : PT_EHTTP);
    return;
  }
  r->in_multi = 1;
  r->state = REQ_RUNNING;
}

static void on_reap(uv_idle_t *h)
{
  pt_http_client *c = h->data;
  pt_http *list = c->pending;

  /* Detach the queue first, so that what the on_done calls below start or
   * cancel waits for the next turn and this loop ends. */
  c->pending = NULL;
  c->pending_tail = &c->pending;
  while (list) {
    pt_http *r = list;
    list = r->pending_next;
    r->pending = 0;
    if (r->state == REQ_QUEUED) join(r);
    else if (r->state == REQ_FINISHED) complete(r);
  }
  if (c->pending) return;
  uv_idle_stop(&c->reaper);
  if (c->closing && !c->live && !c->shut) shut(c);
}

/* ------------------------------------------------------------------------ */
/* libcurl <-> libuv                                                         */

static void drain(pt_http_client *c)
{
  CURLMsg *m;
  int left;
  while ((m = curl_multi_info_read(c->multi, &left)) != NULL) {
    pt_http *r = NULL;
    if (m->msg != CURLMSG_DONE) continue;
    curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
    if (!r || r->state != REQ_RUNNING) continue;
    r->curl_code = m->data.result;
    finish(r, status_of(m->data.result));
  }
}

static void on_poll(uv_poll_t *h, int status, int events)
{
  sock *s = h->data;
  pt_http_client *c = s->c;
  int flags = 0, running;
  if (status < 0) flags = CURL_CSELECT_ERR;
  else {
    if (events & UV_READABLE) flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
  }
  curl_multi_socket_action(c->multi, s->fd, flags, &running);
  drain(c);
}

static void on_curl_timeout(uv_timer_t *t)
{
  pt_http_client *c = t->data;
  int running;
  curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
  drain(c);
}

static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
  pt_http_client *c = userp;
  (void)multi;
  if (timeout_ms < 0) uv_timer_stop(&c->curl_timer);
  else uv_timer_start(&c->curl_timer, on_curl_timeout, (uint64_t)timeout_ms, 0);
  return 0;
}

static int on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *userp,
                          void *socketp)
{
  pt_http_client *c = userp;
  sock *s = socketp;
  int events = 0;
  (void)easy;

  /* curl announces REMOVE before it closes the fd, and uv_close stops the
   * poll at once, so a later socket that reuses the number starts clean. */
  if (what == CURL_POLL_REMOVE) {
    if (s) {
      curl_multi_assign(c->multi, fd, NULL);
      sock_close(s);
    }
    return 0;
  }
  if (!s) {
    s = calloc(1, sizeof *s);
    if (!s) return -1;
    if (uv_poll_init_socket(c->loop, &s->poll, fd) != 0) {
      free(s);
      return -1;
    }
    s->fd = fd;
    s->c = c;
    s->poll.data = s;
    s->next = c->socks;
    if (c->socks) c->socks->prev = s;
    c->socks = s;
    curl_multi_assign(c->multi, fd, s);
  }
  if (what & CURL_POLL_IN) events |= UV_READABLE;
  if (what & CURL_POLL_OUT) events |= UV_WRITABLE;
  return uv_poll_start(&s->poll, events, on_poll) == 0 ? 0 : -1;
}

/* ------------------------------------------------------------------------ */
/* Clocks                                                                    */

static void on_watch(uv_timer_t *t);

static void arm(pt_http *r)
{
  uint64_t now = uv_now(r->c->loop);
  uint64_t due = r->got_byte ? r->last_byte + r->idle_ms
                             : r->started + r->first_byte_ms;
  if (r->total_ms && r->started + r->total_ms < due)
    due = r->started + r->total_ms;
  uv_timer_start(&r->watch, on_watch, due > now ? due - now : 0, 0);
}

static void on_watch(uv_timer_t *t)
{
  pt_http *r = t->data;
  uint64_t now = uv_now(r->c->loop);
  if (r->total_ms && now >= r->started + r->total_ms)
    finish(r, PT_ETIMEDOUT);
  else if (!r->got_byte && now >= r->started + r->first_byte_ms)
    finish(r, PT_EFIRSTBYTE);
  else if (r->got_byte && now >= r->last_byte + r->idle_ms)
    finish(r, PT_EIDLE);
  else
    arm(r);
}

static void saw_byte(pt_http *r)
{
  r->last_byte = uv_now(r->c->loop);
  if (!r->got_byte) {
    r->got_byte = 1;
    /* The idle clock may be shorter than what is left of the first-byte
     * clock the timer is set for. */
    arm(r);
  }
}

/* ------------------------------------------------------------------------ */
/* Response callbacks (inside libcurl)                                       */

static long parse_status(const char *line, size_t len)
{
  size_t i = 5; /* past "HTTP/" */
  long code = 0;
  while (i < len && line[i] != ' ') i++;
  while (i < len && line[i] == ' ') i++;
  for (int d = 0; d < 3 && i < len && line[i] >= '0' && line[i] <= '9'; d++)
    code = code * 10 + (line[i++] - '0');
  return code;
}

static int keep_header(pt_http *r, const char *line, size_t len)
{
  if (r->hdr_len + len + 1 > r->hdr_cap) {
    size_t cap = r->hdr_cap ? r->hdr_cap : 512;
    char *grown;
    while (cap < r->hdr_len + len + 1) cap *= 2;
    grown = realloc(r->hdr, cap);
    if (!grown) return -1;
    r->hdr = grown;
    r->hdr_cap = cap;
  }
  memcpy(r->hdr + r->hdr_len, line, len);
  r->hdr_len += len;
  r->hdr[r->hdr_len++] = '\n';
  return 0;
}

/* Returning less than `n` makes curl abort the transfer: that is how a
 * cancel from inside a callback stops the bytes. */
static size_t on_header(char *buf, size_t size, size_t n, void *ud)
{
  pt_http *r = ud;
  size_t len = size * n, line = len;

  if (r->state != REQ_RUNNING) return 0;
  saw_byte(r);
  /* Header lines after on_response are trailers: ignoring them keeps the
   * views handed out by pt_http_header valid. */
  if (r->responded) return len;
  if (len >= 5 && memcmp(buf, "HTTP/", 5) == 0) {
    /* A new status line: an interim 1xx came before, start over. */
    r->hdr_len = 0;
    r->http_status = parse_status(buf, len);
    return len;
  }
  while (line > 0 && (buf[line - 1] == '\n' || buf[line - 1] == '\r')) line--;
  if (line > 0) {
    if (keep_header(r, buf, line) != 0) {
      finish(r, PT_ENOMEM);
      return 0;
    }
    return len;
  }
  /* 100 Continue, 103 Early Hints: the real response follows. */
  if (r->http_status >= 100 && r->http_status < 200) return len;
  r->responded = 1;
  if (r->on_response) r->on_response(r, r->ud, (int32_t)r->http_status);
  return r->state == REQ_RUNNING ? len : 0;
}

static size_t on_write(char *buf, size_t size, size_t n, void *ud)
{
  pt_http *r = ud;
  size_t len = size * n;

  if (r->state != REQ_RUNNING) return 0;
  saw_byte(r);
  r->body_bytes += len;
  if (r->on_body) r->on_body(r, r->ud, (pt_str){ buf, len });
  return r->state == REQ_RUNNING ? len : 0;
}

/* ------------------------------------------------------------------------ */
/* Public                                                                    */

pt_http_client *pt_http_client_new(uv_loop_t *loop)
{
  pt_http_client *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->loop = loop;
  c->pending_tail = &c->pending;
  uv_timer_init(loop, &c->curl_timer);
  uv_idle_init(loop, &c->reaper);
  c->curl_timer.data = c;
  c->reaper.data = c;
  c->open_handles = 2;
  return c;
}

/* libcurl starts on the first request, not with the client: its global
 * init brings up the TLS library, which costs a few milliseconds and about
 * three megabytes of resident memory that a runtime with no request in
 * flight has no use for. */
static int32_t start_curl(pt_http_client *c)
{
  if (!c->curl_started) {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) return PT_ENOMEM;
    c->curl_started = 1;
  }
  if (!(c->multi = curl_multi_init())) return PT_ENOMEM;
  curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
  curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
  curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
  curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
  return PT_OK;
}

void pt_http_client_close(pt_http_client *c)
{
  if (!c || c->closing) return;
  c->closing = 1;
  for (pt_http *r = c->live; r; r = r->next) pt_http_cancel(r);
  /* With nothing live the reaper still runs once, to shut the client on a
   * later turn than this call. */
  uv_idle_start(&c->reaper, on_reap);
}

/* Copy `url` into `out` without userinfo, query or fragment: the parts
 * that may carry credentials. `out` has room for strlen(url) bytes. */
static size_t strip_url(const char *url, char *out)
{
  const char *sep = strstr(url, "://");
  const char *auth = sep ? sep + 3 : url;
  const char *auth_end = auth + strcspn(auth, "/?#");
  const char *path_end = auth_end + strcspn(auth_end, "?#");
  size_t n = (size_t)(auth - url);

  memcpy(out, url, n);
  for (const char *p = auth; p < auth_end; p++)
    if (*p == '@') auth = p + 1;
  memcpy(out + n, auth, (size_t)(path_end - auth));
  return n + (size_t)(path_end - auth);
}

/* Set up r->easy and r->headers from `req`. Returns PT_OK, PT_EINVAL for a
 * header line that could smuggle another header, or PT_ENOMEM. */
static int32_t configure(pt_http *r, const pt_http_request *req)
{
  CURL *e = r->easy;
  int has_body = req->body.len > 0;
  int has_expect = 0;
  int bad = 0;

  for (const char *const *h = req->headers; h && *h; h++) {
    struct curl_slist *grown;
    if (strpbrk(*h, "\r\n")) return PT_EINVAL;
    if (strncasecmp(*h, "Expect:", 7) == 0) has_expect = 1;
    if (!(grown = curl_slist_append(r->headers, *h))) return PT_ENOMEM;
    r->headers = grown;
  }
  /* curl sends "Expect: 100-continue" before a large body and waits up to
   * a second for a go-ahead that many API servers never send. */
  if (!has_expect) {
    struct curl_slist *grown = curl_slist_append(r->headers, "Expect:");
    if (!grown) return PT_ENOMEM;
    r->headers = grown;
  }

  bad |= curl_easy_setopt(e, CURLOPT_URL, req->url);
  bad |= curl_easy_setopt(e, CURLOPT_PRIVATE, r);
  bad |= curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
  bad |= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
  bad |= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
#else
  bad |= curl_easy_setopt(e, CURLOPT_PROTOCOLS,
                          (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
  bad |= curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)r->connect_ms);
  bad |= curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
  bad |= curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
  bad |= curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
  bad |= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
  bad |= curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
  bad |= curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
  /* Proxies from the environment (https_proxy, no_proxy, ...) stay
   * honoured, curl's default: people reach providers from behind corporate
   * proxies. A proxy's "200 Connection established" must then not pass
   * for the response: on_header would take it for the final status. */
  bad |= curl_easy_setopt(e, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);

  if (strcmp(r->method, "HEAD") == 0) {
    bad |= curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
  } else if (has_body || strcmp(r->method, "POST") == 0) {
    bad |= curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
                            (curl_off_t)req->body.len);
    bad |= curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS,
                            has_body ? req->body.ptr : "");
  }
  if (strcmp(r->method, has_body ? "POST" : "GET") != 0 &&
      strcmp(r->method, "HEAD") != 0)
    bad |= curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r->method);
  return bad ? PT_ENOMEM : PT_OK;
}

int32_t pt_http_start(pt_http_client *c, const pt_http_request *req,
                      pt_http **out)
{
  const char *method;
  size_t url_len;
  pt_http *r;
  int32_t rc;

  if (out) *out = NULL;
  if (!c || !req || !out || req->struct_size < sizeof *req || !req->url ||
      !req->on_done || (req->body.len && !req->body.ptr) ||
      (strncasecmp(req->url, "http://", 7) != 0 &&
       strncasecmp(req->url, "https://", 8) != 0))
    return PT_EINVAL;
  if (c->closing) return PT_ESHUTDOWN;
  if (!c->multi && (rc = start_curl(c)) != PT_OK) return rc;
  method = req->method ? req->method : req->body.len ? "POST" : "GET";
  if (!*method || strlen(method) >= sizeof r->method ||
      strpbrk(method, " \r\n"))
    return PT_EINVAL;

  url_len = strlen(req->url);
  if (!(r = calloc(1, sizeof *r + url_len + 1))) return PT_ENOMEM;
  r->c = c;
  strcpy(r->method, method);
  r->where_len = strip_url(req->url, r->where);
  r->connect_ms = req->connect_timeout_ms ? req->connect_timeout_ms
                                          : DEFAULT_CONNECT_MS;
  r->first_byte_ms = req->first_byte_timeout_ms ? req->first_byte_timeout_ms
                                                : DEFAULT_FIRST_BYTE_MS;
  r->idle_ms = req->idle_timeout_ms ? req->idle_timeout_ms : DEFAULT_IDLE_MS;
  r->total_ms = req->total_timeout_ms;
  r->on_response = req->on_response;
  r->on_body = req->on_body;
  r->on_done = req->on_done;
  r->ud = req->ud;

  rc = (r->easy = curl_easy_init()) ? configure(r, req) : PT_ENOMEM;
  if (rc != PT_OK) {
    curl_easy_cleanup(r->easy);
    curl_slist_free_all(r->headers);
    free(r);
    return rc;
  }

  uv_timer_init(c->loop, &r->watch);
  r->watch.data = r;
  r->started = uv_now(c->loop);
  arm(r);
  r->state = REQ_QUEUED;
  r->next = c->live;
  if (c->live) c->live->prev = r;
  c->live = r;
  c->active++;
  pend(r);
  pt_log_debug("http", "%s %.*s", r->method, (int)r->where_len, r->where);
  *out = r;
  return PT_OK;
}

void pt_http_cancel(pt_http *r)
{
  if (!r || r->state == REQ_DONE) return;
  /* A cancel before on_done ran wins over an outcome already decided: the
   * caller has given up on the result and is promised PT_ECANCELED. */
  if (r->state == REQ_FINISHED) r->status = PT_ECANCELED;
  else finish(r, PT_ECANCELED);
}

pt_str pt_http_header(pt_http *r, const char *name)
{
  size_t nlen = name ? strlen(name) : 0;
  const char *p = r ? r->hdr : NULL;
  const char *end = p ? p + r->hdr_len : NULL;

  while (p && nlen && p < end) {
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    if ((size_t)(eol - p) > nlen && p[nlen] == ':' &&
        strncasecmp(p, name, nlen) == 0) {
      const char *v = p + nlen + 1;
      while (v < eol && (*v == ' ' || *v == '\t')) v++;
      while (eol > v && (eol[-1] == ' ' || eol[-1] == '\t')) eol--;
      return (pt_str){ v, (size_t)(eol - v) };
    }
    p = eol + 1;
  }
  return (pt_str){ "", 0 };
}

size_t pt_http_active(const pt_http_client *c)
{
  return c ? c->active : 0;
}
