/*
 * tests/support/http_cases.c: the fake server's routes, the request
 * recorder and the loop driving shared by the core/http_client.c tests.
 * What each piece is for, who owns what and which thread touches it is in
 * http_cases.h. No main() and no constructors: every test program links
 * this file, and only the http tests pull it in.
 */
#include "http_cases.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "check.h"

uv_loop_t hc_loop;
pt_http_client *hc_client;
fake_http *hc_server;
int hc_in_api;
int hc_dones;
int hc_bodies;

/* ------------------------------------------------------------------------ */
/* The server side                                                           */

static pthread_mutex_t rec_lock = PTHREAD_MUTEX_INITIALIZER;
hc_record hc_recs[8];
int hc_rec_count;

static void copy_field(char *dst, size_t cap, const char *src)
{
  snprintf(dst, cap, "%s", src ? src : "");
}

static void keep_record(const fake_http_request *req)
{
  hc_record *r;
  pthread_mutex_lock(&rec_lock);
  if (hc_rec_count < 8) {
    r = &hc_recs[hc_rec_count++];
    copy_field(r->method, sizeof r->method, req->method);
    copy_field(r->path, sizeof r->path, req->path);
    copy_field(r->auth, sizeof r->auth,
               fake_http_request_header(req, "authorization"));
    copy_field(r->ctype, sizeof r->ctype,
               fake_http_request_header(req, "content-type"));
    copy_field(r->custom, sizeof r->custom,
               fake_http_request_header(req, "x-custom"));
    r->has_expect = fake_http_request_header(req, "expect") != NULL;
    r->body = malloc(req->body_len + 1);
    memcpy(r->body, req->body, req->body_len + 1);
    r->body_len = req->body_len;
  }
  pthread_mutex_unlock(&rec_lock);
}

static void forget_records(void)
{
  for (int i = 0; i < hc_rec_count; i++) free(hc_recs[i].body);
  memset(hc_recs, 0, sizeof hc_recs);
  hc_rec_count = 0;
}

void hc_stream_expected(char *out, size_t cap)
{
  size_t n = 0;
  for (int i = 0; i < 30; i++)
    n += (size_t)snprintf(out + n, cap - n, "piece-%02d;", i);
  snprintf(out + n, cap - n, "hello");
}

size_t hc_numbered_body(int i, char out[160], size_t *split)
{
  int n = snprintf(out, 160, "n=%d;", i);
  *split = (size_t)n;
  return (size_t)(n + snprintf(out + n, (size_t)(160 - n), "%0*d",
                               i % 97 + 1, 0));
}

static void route(void *ud, const fake_http_request *req,
                  fake_http_response *res)
{
  const char *p = req->path;
  int n, gap;
  (void)ud;

  if (strcmp(p, "/stream") == 0) {
    fake_http_chunked_head(res, 200, "text/plain");
    for (int i = 0; i < 30; i++) {
      fake_http_sendf(res, "9\r\npiece-%02d;\r\n", i);
      if (i % 5 == 4) fake_http_wait(res, 10);
    }
    /* A chunk whose data is split across writes. */
    fake_http_send(res, "5\r\nhe", 5);
    fake_http_wait(res, 10);
    fake_http_send(res, "llo\r\n", 5);
    fake_http_chunk_end(res);
  } else if (strcmp(p, "/utf8") == 0) {
    const char *t = HC_UTF8_TEXT;
    fake_http_sendf(res, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n",
                    strlen(t));
    fake_http_send(res, t, 3); /* "na" and half of the two-byte "ï" */
    fake_http_wait(res, 30);
    fake_http_send(res, t + 3, 16); /* ends inside the three-byte dash */
    fake_http_wait(res, 30);
    fake_http_send(res, t + 19, strlen(t) - 19);
  } else if (strcmp(p, "/500") == 0) {
    const char *body = "{\"error\":\"overloaded\"}";
    fake_http_sendf(res,
                    "HTTP/1.1 500 Internal Server Error\r\n"
                    "Content-Type: application/json\r\n"
                    "X-Request-Id:   req-42  \r\n"
                    "Content-Length: %zu\r\n\r\n%s",
                    strlen(body), body);
  } else if (strncmp(p, "/echo", 5) == 0) {
    keep_record(req);
    fake_http_respond(res, 200, "text/plain", "ok");
  } else if (strcmp(p, "/early-hints") == 0) {
    fake_http_send(res, "HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n",
                   45);
    fake_http_wait(res, 20);
    fake_http_head(res, 200, "X-Final: yes\r\nContent-Length: 2\r\n");
    fake_http_send(res, "ok", 2);
  } else if (strcmp(p, "/slow") == 0) {
    fake_http_chunked_head(res, 200, "text/plain");
    fake_http_chunk(res, "first", 5);
    for (int i = 0; i < 40; i++) {
      fake_http_wait(res, 50);
      fake_http_chunk(res, "more", 4);
    }
    fake_http_chunk_end(res);
  } else if (strcmp(p, "/hang") == 0) {
    fake_http_hang(res);
  } else if (strcmp(p, "/drip-hang") == 0) {
    fake_http_chunked_head(res, 200, "text/plain");
    fake_http_chunk(res, "hello", 5);
    fake_http_hang(res);
  } else if (sscanf(p, "/drip?n=%d&gap=%d", &n, &gap) == 2) {
    fake_http_chunked_head(res, 200, "text/plain");
    for (int i = 0; i < n; i++) {
      fake_http_wait(res, (unsigned)gap);
      fake_http_chunk(res, "drop;", 5);
    }
    fake_http_chunk_end(res);
  } else if (strcmp(p, "/short") == 0) {
    fake_http_head(res, 200, "Content-Length: 100\r\n");
    fake_http_send(res, "0123456789012345678901234567890123456789", 40);
    fake_http_wait(res, 20);
    fake_http_close(res);
  } else if (strcmp(p, "/empty") == 0) {
    fake_http_close(res);
  } else if (strcmp(p, "/reset") == 0) {
    fake_http_head(res, 200, "Content-Length: 100\r\n");
    fake_http_send(res, "0123456789", 10);
    fake_http_wait(res, 20);
    fake_http_reset(res);
  } else if (sscanf(p, "/n/%d", &n) == 1) {
    char body[160];
    size_t split, len = hc_numbered_body(n, body, &split);
    fake_http_chunked_head(res, 200, "text/plain");
    fake_http_chunk(res, body, split);
    fake_http_wait(res, 5);
    fake_http_chunk(res, body + split, len - split);
    fake_http_chunk_end(res);
  } else if (sscanf(p, "/late?ms=%d", &n) == 1) {
    fake_http_wait(res, (unsigned)n);
    fake_http_respond(res, 200, "text/plain", "late");
  } else {
    fake_http_respond(res, 200, "text/plain", "fast");
  }
}

/* ------------------------------------------------------------------------ */
/* The client side                                                           */

void hc_cancel(hc_result *res)
{
  res->cancelled = 1;
  hc_in_api++;
  pt_http_cancel(res->r);
  hc_in_api--;
}

static void on_response(pt_http *r, void *ud, int32_t status)
{
  hc_result *res = ud;
  if (res->cancelled) res->after_cancel++;
  res->responses++;
  res->http_status = status;
  for (int i = 0; i < 3 && res->hname[i]; i++) {
    pt_str v = pt_http_header(r, res->hname[i]);
    res->hlen[i] = v.len;
    snprintf(res->hval[i], sizeof res->hval[i], "%.*s", (int)v.len, v.ptr);
  }
  if (res->cancel_in_response) hc_cancel(res);
}

static void on_body(pt_http *r, void *ud, pt_str chunk)
{
  hc_result *res = ud;
  (void)r;
  hc_bodies++;
  if (res->cancelled) res->after_cancel++;
  if (res->body_len + chunk.len + 1 > res->body_cap) {
    res->body_cap = (res->body_len + chunk.len + 1) * 2;
    res->body = realloc(res->body, res->body_cap);
  }
  memcpy(res->body + res->body_len, chunk.ptr, chunk.len);
  res->body_len += chunk.len;
  res->body[res->body_len] = '\0';
  res->chunks++;
  if (res->cancel_at_bytes && !res->cancelled &&
      res->body_len >= res->cancel_at_bytes)
    hc_cancel(res);
  if (res->start_in_body && res->then) {
    res->start_in_body = 0;
    res->then->start_rc = hc_begin_url(res->then, res->then_url, NULL);
  }
  if (res->close_in_body && hc_client) {
    pt_http_client_close(hc_client);
    res->close_in_body = 0;
  }
}

static void on_done(pt_http *r, void *ud, int32_t status, pt_str message)
{
  hc_result *res = ud;
  if (hc_in_api) res->reentrant++;
  res->done_calls++;
  hc_dones++;
  res->status = status;
  snprintf(res->message, sizeof res->message, "%.*s", (int)message.len,
           message.ptr);
  if (res->hname[0]) {
    pt_str v = pt_http_header(r, res->hname[0]);
    snprintf(res->at_done, sizeof res->at_done, "%.*s", (int)v.len, v.ptr);
  }
  res->r = NULL;
  if (res->start_in_done && res->then)
    res->then->start_rc = hc_begin_url(res->then, res->then_url, NULL);
  if (res->try_start_in_done) {
    hc_result ignored = { 0 };
    res->start_rc = hc_begin_url(&ignored, "http://127.0.0.1:1/", NULL);
  }
}

char *hc_url(const char *path)
{
  static char buf[8][256];
  static int next;
  char *u = buf[next++ % 8];
  snprintf(u, sizeof buf[0], "http://127.0.0.1:%d%s",
           fake_http_port(hc_server), path);
  return u;
}

int32_t hc_begin_url(hc_result *res, const char *u, pt_http_request *req)
{
  pt_http_request base = { 0 };
  int32_t rc;
  if (!req) req = &base;
  req->struct_size = sizeof *req;
  req->url = u;
  req->on_response = on_response;
  req->on_body = on_body;
  req->on_done = on_done;
  req->ud = res;
  hc_in_api++;
  rc = pt_http_start(hc_client, req, &res->r);
  hc_in_api--;
  return rc;
}

int32_t hc_begin(hc_result *res, const char *path)
{
  return hc_begin_url(res, hc_url(path), NULL);
}

void hc_result_free(hc_result *res)
{
  free(res->body);
  res->body = NULL;
}

static int guard_fired;

static void on_guard(uv_timer_t *t)
{
  (void)t;
  guard_fired = 1;
}

int hc_run_until(const int *counter, int want, unsigned ms)
{
  uv_timer_t guard;
  guard_fired = 0;
  uv_timer_init(&hc_loop, &guard);
  uv_timer_start(&guard, on_guard, ms, 0);
  while (*counter < want && !guard_fired) uv_run(&hc_loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&guard, NULL);
  uv_run(&hc_loop, UV_RUN_NOWAIT);
  return *counter >= want;
}

void hc_run_for(unsigned ms)
{
  static const int never = 0;
  hc_run_until(&never, 1, ms);
}

static void count_handle(uv_handle_t *h, void *arg)
{
  (void)h;
  (*(int *)arg)++;
}

void hc_setup(void)
{
  hc_server = fake_http_start(route, NULL);
  hc_client = pt_http_client_new(&hc_loop);
  CHECK(hc_server != NULL);
  CHECK(hc_client != NULL);
  hc_dones = hc_bodies = 0;
}

/* Close the client, run the loop dry, and check nothing is left on it. */
void hc_teardown(void)
{
  int handles = 0;
  pt_http_client_close(hc_client);
  hc_client = NULL;
  uv_run(&hc_loop, UV_RUN_DEFAULT);
  uv_walk(&hc_loop, count_handle, &handles);
  CHECK_INT(handles, ==, 0);
  fake_http_stop(hc_server);
  hc_server = NULL;
  forget_records();
}

void hc_check_once(const hc_result *res, int32_t status)
{
  CHECK_INT(res->done_calls, ==, 1);
  CHECK_INT(res->reentrant, ==, 0);
  CHECK_INT(res->after_cancel, ==, 0);
  if (res->status != status)
    check_fail(__FILE__, __LINE__, "status %s, wanted %s: %s",
               pt_errname(res->status), pt_errname(status), res->message);
}

void hc_init(void)
{
  struct rlimit rl;
  /* 500 client sockets and their 500 server ends share this process. */
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 4096) {
    rl.rlim_cur = rl.rlim_max < 4096 ? rl.rlim_max : 4096;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  /* Everything here talks to 127.0.0.1; a proxy from the environment
   * would send it elsewhere. */
  unsetenv("http_proxy");
  unsetenv("HTTP_PROXY");
  unsetenv("https_proxy");
  unsetenv("HTTPS_PROXY");
  unsetenv("all_proxy");
  unsetenv("ALL_PROXY");
  uv_loop_init(&hc_loop);
}
