/*
 * plugins/common/provider_call.c: see provider_call.h.
 *
 * Each HTTP attempt has its own small record, because a retry can start
 * while the attempt it replaces is still being torn down: the old one's
 * callbacks keep arriving until its on_done, and must then be ignored. The
 * call itself is freed only when DONE was emitted, no attempt is live and
 * no timer is armed, whichever of those happens last.
 */
#include "provider_call.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ERROR_BODY_MAX (64 * 1024)

typedef struct attempt {
  pc_call *c;
  pt_http *r;
  int http_status;
  int ok;             /* a 2xx response: its body goes to the provider */
  int dropped;        /* replaced or cancelled: ignore what it still says */
  int in_done;        /* inside its on_done: r may not be cancelled */
  char *err;          /* the first 64 KiB of an error response */
  size_t err_len;
} attempt;

struct pc_call {
  const pt_host_api *api;
  pt_host *h;
  pt_op *op;                  /* NULL once DONE was emitted */
  const pc_call_vt *vt;
  void *ud;

  char *name;
  char *url;
  char **headers;             /* NULL-terminated copies */
  char *body;
  size_t body_len;
  uint32_t connect_ms, first_byte_ms, idle_ms;
  int max_attempts;
  uint32_t base_ms, cap_ms, max_retry_after_ms;

  int attempt_no;
  attempt *cur;
  int live;                   /* attempts whose on_done has not run */
  pt_timer *timer;
  int timer_armed;
  enum { NEXT_NONE, NEXT_RETRY, NEXT_CANCELLED } next;
  uint64_t retry_after_ms;    /* from the response being failed */
  uint64_t rng;

  int emitted;                /* output went out: no more retries */
  int finished;               /* the outcome is decided */
  int done_emitted;
};

static int32_t attempt_begin(pc_call *c);
static void end_or_retry(pc_call *c, int32_t status, int retryable,
                         int retry_here, const char *type, const char *msg);

/* ------------------------------------------------------------------------ */
/* Life cycle                                                                */

static void maybe_free(pc_call *c)
{
  if (!c->done_emitted || c->live > 0 || c->timer_armed) return;
  c->api->timer_free(c->timer);
  if (c->vt->on_free) c->vt->on_free(c->ud);
  free(c->name);
  free(c->url);
  free(c->headers);
  free(c->body);
  free(c);
}

static void drop_current(pc_call *c)
{
  attempt *a = c->cur;
  c->cur = NULL;
  if (!a) return;
  a->dropped = 1;
  if (!a->in_done) c->api->http_cancel(a->r);
}

static void emit_done(pc_call *c, int32_t status, uint32_t stop,
                      const char *type, const char *message, int retryable)
{
  if (c->done_emitted) return;
  c->done_emitted = 1;
  c->finished = 1;
  pt_chat_event ev = { .struct_size = sizeof ev, .kind = PT_EV_DONE,
                       .status = status, .stop = stop,
                       .flags = retryable ? PT_EVF_RETRYABLE : 0 };
  if (message) ev.text = (pt_str){ message, strlen(message) };
  if (type) ev.name = (pt_str){ type, strlen(type) };
  pt_op *op = c->op;
  c->op = NULL;
  c->api->emit(op, &ev);
}

static void arm_timer(pc_call *c, uint64_t ms)
{
  c->timer_armed = 1;
  c->api->timer_start(c->timer, ms, 0);
}

static void on_timer(pt_timer *t, void *ud)
{
  pc_call *c = ud;
  c->timer_armed = 0;
  if (c->next == NEXT_CANCELLED) {
    emit_done(c, PT_ECANCELED, PT_STOP_CANCELLED, NULL, "cancelled", 0);
  } else if (c->next == NEXT_RETRY && !c->finished) {
    c->next = NEXT_NONE;
    c->attempt_no++;
    int32_t rc = attempt_begin(c);
    if (rc < 0) end_or_retry(c, rc, 0, 0, NULL, pt_strerror(rc));
  }
  maybe_free(c);
}

/* ------------------------------------------------------------------------ */
/* Errors and retries                                                        */

uint64_t pc_backoff_ms(int attempt_no, uint64_t base, uint64_t cap,
                       uint64_t retry_after_ms, uint64_t *rng)
{
  uint64_t d = base;
  for (int i = 1; i < attempt_no && d < cap; i++) d *= 2;
  if (d > cap) d = cap;
  *rng ^= *rng << 13;
  *rng ^= *rng >> 7;
  *rng ^= *rng << 17;
  /* Jitter in the upper half keeps the backoff growing while spreading
   * the clients that failed together. */
  uint64_t half = d / 2;
  d = half + (half ? *rng % (half + 1) : 0);
  return d > retry_after_ms ? d : retry_after_ms;
}

uint64_t pc_parse_retry_after(pt_str v)
{
  while (v.len && (*v.ptr == ' ' || *v.ptr == '\t')) v.ptr++, v.len--;
  if (v.len == 0) return 0;
  char buf[64];
  size_t n = v.len < sizeof buf - 1 ? v.len : sizeof buf - 1;
  memcpy(buf, v.ptr, n);
  buf[n] = '\0';
  char *end;
  double secs = strtod(buf, &end);
  if (end != buf && (*end == '\0' || *end == ' '))
    return secs > 0 ? (uint64_t)(secs * 1000.0) : 0;
  struct tm tm;
  memset(&tm, 0, sizeof tm);
  if (!strptime(buf, "%a, %d %b %Y %H:%M:%S GMT", &tm)) return 0;
  time_t at = timegm(&tm), now = time(NULL);
  return at > now ? (uint64_t)(at - now) * 1000 : 0;
}

static void end_or_retry(pc_call *c, int32_t status, int retryable,
                         int retry_here, const char *type, const char *msg)
{
  if (c->finished) return;
  int attempts_left = c->attempt_no < c->max_attempts;
  if (retry_here && !c->emitted && attempts_left &&
      c->retry_after_ms <= c->max_retry_after_ms) {
    uint64_t wait = pc_backoff_ms(c->attempt_no, c->base_ms, c->cap_ms,
                                  c->retry_after_ms, &c->rng);
    c->api->log(c->h, PT_LOG_INFO,
                "%s; trying again in %llu ms (attempt %d of %d)", msg,
                (unsigned long long)wait, c->attempt_no + 1, c->max_attempts);
    drop_current(c);
    c->next = NEXT_RETRY;
    arm_timer(c, wait);
    return;
  }
  char full[768];
  if (retry_here && c->retry_after_ms > c->max_retry_after_ms)
    snprintf(full, sizeof full, "%s (the server asks to wait %llu s; try "
             "again later)", msg,
             (unsigned long long)(c->retry_after_ms / 1000));
  else if (retry_here && !c->emitted && c->attempt_no > 1)
    snprintf(full, sizeof full, "%s (after %d attempts)", msg, c->attempt_no);
  else
    snprintf(full, sizeof full, "%s", msg);
  c->finished = 1;
  drop_current(c);
  emit_done(c, status, PT_STOP_ERROR, type, full, retryable);
}

void pc_call_fail(pc_call *c, int32_t status, int retryable, const char *type,
                  const char *fmt, ...)
{
  if (c->finished) return;
  char msg[600];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  end_or_retry(c, status, retryable, retryable, type, msg);
}

/* What the status line alone says; the provider refines it from the body. */
static void prefill_error(int http_status, const char *name, pc_error *e)
{
  memset(e, 0, sizeof *e);
  e->status = PT_EHTTP;
  if (http_status == 401 || http_status == 403) {
    e->status = PT_EPERM;
    snprintf(e->message, sizeof e->message,
             "%s refused the API key (HTTP %d); check plugins.%s.api_key in "
             "config.lua or the provider's API key variable",
             name, http_status, name);
    return;
  }
  if (http_status == 429) {
    e->status = PT_EBUSY;
    e->retryable = 1;
  } else if (http_status == 408 || http_status >= 500) {
    e->retryable = 1;
  } else if (http_status >= 400) {
    e->status = PT_EINVAL;
  }
  snprintf(e->message, sizeof e->message, "%s answered HTTP %d", name,
           http_status);
}

/* ------------------------------------------------------------------------ */
/* HTTP callbacks                                                            */

static void on_response(pt_http *r, void *ud, int32_t http_status)
{
  attempt *a = ud;
  pc_call *c = a->c;
  if (a->dropped || c->finished) return;
  a->http_status = http_status;
  a->ok = http_status >= 200 && http_status < 300;
  if (a->ok && c->vt->on_begin) c->vt->on_begin(c, c->ud);
}

static void on_body(pt_http *r, void *ud, pt_str chunk)
{
  attempt *a = ud;
  pc_call *c = a->c;
  if (a->dropped || c->finished) return;
  if (a->ok) {
    c->vt->on_body(c, c->ud, chunk);
    return;
  }
  size_t room = ERROR_BODY_MAX - a->err_len;
  size_t n = chunk.len < room ? chunk.len : room;
  if (n == 0) return;
  char *grown = realloc(a->err, a->err_len + n + 1);
  if (!grown) return;
  a->err = grown;
  memcpy(a->err + a->err_len, chunk.ptr, n);
  a->err_len += n;
  a->err[a->err_len] = '\0';
}

static void on_http_done(pt_http *r, void *ud, int32_t status, pt_str message)
{
  attempt *a = ud;
  pc_call *c = a->c;
  a->in_done = 1;
  if (!a->dropped && !c->finished) {
    if (status == PT_OK && !a->ok && a->http_status) {
      pc_error e;
      prefill_error(a->http_status, c->name, &e);
      if (c->vt->on_http_error)
        c->vt->on_http_error(c, c->ud, a->http_status,
                             (pt_str){ a->err ? a->err : "", a->err_len }, &e);
      c->retry_after_ms =
          pc_parse_retry_after(c->api->http_header(r, "retry-after-ms"));
      if (!c->retry_after_ms)
        c->retry_after_ms =
            pc_parse_retry_after(c->api->http_header(r, "retry-after"));
      end_or_retry(c, e.status, e.retryable, e.retryable,
                   e.type[0] ? e.type : NULL, e.message);
    } else if (a->ok) {
      c->vt->on_end(c, c->ud, status, message);
    } else {
      /* No answer at all: the caller may try again, but a server that is
       * not there now will not be there in a second either. */
      end_or_retry(c, status, 1, 0, NULL,
                   message.len ? message.ptr : pt_strerror(status));
    }
  }
  if (c->cur == a) c->cur = NULL;
  free(a->err);
  free(a);
  c->live--;
  maybe_free(c);
}

/* Start the next HTTP attempt; a negative code when it could not start. */
static int32_t attempt_begin(pc_call *c)
{
  attempt *a = calloc(1, sizeof *a);
  if (!a) return PT_ENOMEM;
  a->c = c;
  pt_http_request req = {
    .struct_size = sizeof req,
    .method = c->body ? "POST" : "GET",
    .url = c->url,
    .headers = (const char *const *)c->headers,
    .body = { c->body, c->body_len },
    .connect_timeout_ms = c->connect_ms,
    .first_byte_timeout_ms = c->first_byte_ms,
    .idle_timeout_ms = c->idle_ms,
    .on_response = on_response,
    .on_body = on_body,
    .on_done = on_http_done,
    .ud = a,
  };
  int32_t rc = c->api->http_start(c->h, &req, &a->r);
  if (rc < 0) {
    free(a);
    return rc;
  }
  c->cur = a;
  c->live++;
  return PT_OK;
}

/* ------------------------------------------------------------------------ */
/* Public                                                                    */

static char **copy_headers(const char *const *headers)
{
  size_t n = 0, bytes = 0;
  for (; headers && headers[n]; n++) bytes += strlen(headers[n]) + 1;
  char **out = malloc((n + 1) * sizeof *out + bytes);
  if (!out) return NULL;
  char *p = (char *)(out + n + 1);
  for (size_t i = 0; i < n; i++) {
    size_t len = strlen(headers[i]) + 1;
    memcpy(p, headers[i], len);
    out[i] = p;
    p += len;
  }
  out[n] = NULL;
  return out;
}

int32_t pc_call_start(const pt_host_api *api, pt_host *h, pt_op *op,
                      const pc_call_opts *o, const pc_call_vt *vt, void *ud,
                      pc_call **out)
{
  if (!api || !op || !o || !o->url || !vt || !vt->on_body || !vt->on_end)
    return PT_EINVAL;
  pc_call *c = calloc(1, sizeof *c);
  if (!c) return PT_ENOMEM;
  c->api = api;
  c->h = h;
  c->op = op;
  c->vt = vt;
  c->ud = ud;
  c->name = strdup(o->name ? o->name : "provider");
  c->url = strdup(o->url);
  c->headers = copy_headers(o->headers);
  if (o->body.len) {
    c->body = malloc(o->body.len);
    if (c->body) memcpy(c->body, o->body.ptr, o->body.len);
    c->body_len = o->body.len;
  }
  c->timer = api->timer_new(h, on_timer, c);
  if (!c->name || !c->url || !c->headers || (o->body.len && !c->body) ||
      !c->timer) {
    if (c->timer) api->timer_free(c->timer);
    free(c->name);
    free(c->url);
    free(c->headers);
    free(c->body);
    free(c);
    return PT_ENOMEM;
  }
  c->connect_ms = o->connect_timeout_ms;
  c->first_byte_ms = o->first_byte_timeout_ms;
  c->idle_ms = o->idle_timeout_ms;
  c->max_attempts = o->max_attempts > 0 ? o->max_attempts : 4;
  c->base_ms = o->backoff_base_ms ? o->backoff_base_ms : 500;
  c->cap_ms = o->backoff_cap_ms ? o->backoff_cap_ms : 8000;
  c->max_retry_after_ms = o->max_retry_after_ms ? o->max_retry_after_ms
                                                : 60000;
  c->rng = (uint64_t)time(NULL) ^ (op->id * 0x9E3779B97F4A7C15u) ^
           (uint64_t)(uintptr_t)c;
  if (!c->rng) c->rng = 1;
  c->attempt_no = 1;

  int32_t rc = attempt_begin(c);
  if (rc < 0) {
    /* The op never started: free everything without a DONE, and without
     * on_free, since the caller keeps `ud`. */
    api->timer_free(c->timer);
    free(c->name);
    free(c->url);
    free(c->headers);
    free(c->body);
    free(c);
    return rc;
  }
  *out = c;
  return PT_OK;
}

void pc_call_cancel(pc_call *c)
{
  if (!c || c->finished) return;
  c->finished = 1;
  drop_current(c);
  c->next = NEXT_CANCELLED;
  arm_timer(c, 0);
}

void pc_call_emit(pc_call *c, const pt_chat_event *ev)
{
  if (!c || c->finished || !ev || ev->kind == PT_EV_DONE) return;
  if (ev->kind != PT_EV_USAGE) c->emitted = 1;
  c->api->emit(c->op, ev);
}

void pc_call_text(pc_call *c, uint32_t kind, pt_str text)
{
  if (text.len == 0) return;
  pt_chat_event ev = { .struct_size = sizeof ev, .kind = kind, .text = text };
  pc_call_emit(c, &ev);
}

void pc_call_usage(pc_call *c, uint64_t input, uint64_t output,
                   uint64_t cache_read, uint64_t cache_write)
{
  pt_chat_event ev = { .struct_size = sizeof ev, .kind = PT_EV_USAGE,
                       .input_tokens = input, .output_tokens = output,
                       .cache_read_tokens = cache_read,
                       .cache_write_tokens = cache_write };
  pc_call_emit(c, &ev);
}

void pc_call_finish(pc_call *c, uint32_t stop)
{
  if (!c || c->finished) return;
  c->finished = 1;
  /* The rest of the response is read and dropped so that the connection
   * can serve the next request. */
  if (c->cur) c->cur->dropped = 1;
  c->cur = NULL;
  emit_done(c, PT_OK, stop, NULL, NULL, 0);
}

int pc_call_finished(const pc_call *c)
{
  return !c || c->finished;
}

pt_str pc_call_header(pc_call *c, const char *name)
{
  if (!c || !c->cur) return (pt_str){ "", 0 };
  return c->api->http_header(c->cur->r, name);
}

int pc_call_attempt(const pc_call *c)
{
  return c ? c->attempt_no : 0;
}
