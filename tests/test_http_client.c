/*
 * tests/test_http_client.c: core/http_client.c against fake_http on
 * 127.0.0.1. Streaming, headers, cancellation from every place a caller
 * can be, each timeout told apart, early close, 500 requests at once, and
 * closing the client with requests in flight. Every case closes its client
 * and runs the loop dry, so AddressSanitizer sees every release path.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <uv.h>

#include "check.h"
#include "fake_http.h"
#include "http_client.h"

static uv_loop_t loop;
static pt_http_client *client;
static fake_http *server;
static int in_api; /* the test is inside pt_http_start or pt_http_cancel */
static int dones;  /* on_done calls in the current case */
static int bodies; /* on_body calls in the current case */

/* ------------------------------------------------------------------------ */
/* The server side                                                           */

typedef struct record {
  char method[16], path[128], auth[64], ctype[64], custom[32];
  int has_expect;
  char *body;
  size_t body_len;
} record;

static pthread_mutex_t rec_lock = PTHREAD_MUTEX_INITIALIZER;
static record recs[8];
static int rec_count;

static void copy_field(char *dst, size_t cap, const char *src)
{
  snprintf(dst, cap, "%s", src ? src : "");
}

static void keep_record(const fake_http_request *req)
{
  record *r;
  pthread_mutex_lock(&rec_lock);
  if (rec_count < 8) {
    r = &recs[rec_count++];
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
  for (int i = 0; i < rec_count; i++) free(recs[i].body);
  memset(recs, 0, sizeof recs);
  rec_count = 0;
}

#define UTF8_TEXT "na\xc3\xafve caf\xc3\xa9 \xe2\x80\x94 \xe2\x98\x95 ok"

/* What "/stream" sends, and what it should add up to. */
static void stream_expected(char *out, size_t cap)
{
  size_t n = 0;
  for (int i = 0; i < 30; i++)
    n += (size_t)snprintf(out + n, cap - n, "piece-%02d;", i);
  snprintf(out + n, cap - n, "hello");
}

/* What "/n/<i>" sends, in two chunks cut at *split: bodies differ in
 * content and length from one request to the next. */
static size_t numbered_body(int i, char out[160], size_t *split)
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
    const char *t = UTF8_TEXT;
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
    size_t split, len = numbered_body(n, body, &split);
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

typedef struct result {
  pt_http *r;
  int responses, done_calls, reentrant, after_cancel, cancelled, chunks;
  int http_status;
  int32_t status;
  char message[1024];
  char *body;
  size_t body_len, body_cap;
  /* What to read with pt_http_header in on_response, and what it gave. */
  const char *hname[3];
  char hval[3][64];
  size_t hlen[3];
  char at_done[64]; /* hname[0] read again in on_done */
  /* Behaviours: cancel in on_response, cancel once this many body bytes
   * arrived, start `then` from on_body or on_done, try to start a request
   * from on_done (for the closing client). */
  int cancel_in_response;
  size_t cancel_at_bytes;
  struct result *then;
  const char *then_url;
  int start_in_body, start_in_done, try_start_in_done;
  int32_t start_rc;
  int close_in_body;
} result;

static int32_t begin_url(result *res, const char *url, pt_http_request *req);

static void cancel(result *res)
{
  res->cancelled = 1;
  in_api++;
  pt_http_cancel(res->r);
  in_api--;
}

static void on_response(pt_http *r, void *ud, int32_t status)
{
  result *res = ud;
  if (res->cancelled) res->after_cancel++;
  res->responses++;
  res->http_status = status;
  for (int i = 0; i < 3 && res->hname[i]; i++) {
    pt_str v = pt_http_header(r, res->hname[i]);
    res->hlen[i] = v.len;
    snprintf(res->hval[i], sizeof res->hval[i], "%.*s", (int)v.len, v.ptr);
  }
  if (res->cancel_in_response) cancel(res);
}

static void on_body(pt_http *r, void *ud, pt_str chunk)
{
  result *res = ud;
  (void)r;
  bodies++;
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
    cancel(res);
  if (res->start_in_body && res->then) {
    res->start_in_body = 0;
    res->then->start_rc = begin_url(res->then, res->then_url, NULL);
  }
  if (res->close_in_body && client) {
    pt_http_client_close(client);
    res->close_in_body = 0;
  }
}

static void on_done(pt_http *r, void *ud, int32_t status, pt_str message)
{
  result *res = ud;
  if (in_api) res->reentrant++;
  res->done_calls++;
  dones++;
  res->status = status;
  snprintf(res->message, sizeof res->message, "%.*s", (int)message.len,
           message.ptr);
  if (res->hname[0]) {
    pt_str v = pt_http_header(r, res->hname[0]);
    snprintf(res->at_done, sizeof res->at_done, "%.*s", (int)v.len, v.ptr);
  }
  res->r = NULL;
  if (res->start_in_done && res->then)
    res->then->start_rc = begin_url(res->then, res->then_url, NULL);
  if (res->try_start_in_done) {
    result ignored = { 0 };
    res->start_rc = begin_url(&ignored, "http://127.0.0.1:1/", NULL);
  }
}

static char *url(const char *path)
{
  static char buf[8][256];
  static int next;
  char *u = buf[next++ % 8];
  snprintf(u, sizeof buf[0], "http://127.0.0.1:%d%s", fake_http_port(server),
           path);
  return u;
}

/* Start a request for `res`; `req` (may be NULL) gives the method, headers,
 * body and timeouts. */
static int32_t begin_url(result *res, const char *u, pt_http_request *req)
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
  in_api++;
  rc = pt_http_start(client, req, &res->r);
  in_api--;
  return rc;
}

static int32_t begin(result *res, const char *path)
{
  return begin_url(res, url(path), NULL);
}

static void result_free(result *res)
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

/* Run the loop until *counter reaches `want`, for at most `ms`. Returns
 * whether it got there. */
static int run_until(const int *counter, int want, unsigned ms)
{
  uv_timer_t guard;
  guard_fired = 0;
  uv_timer_init(&loop, &guard);
  uv_timer_start(&guard, on_guard, ms, 0);
  while (*counter < want && !guard_fired) uv_run(&loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&guard, NULL);
  uv_run(&loop, UV_RUN_NOWAIT);
  return *counter >= want;
}

static void run_for(unsigned ms)
{
  static const int never = 0;
  run_until(&never, 1, ms);
}

static void count_handle(uv_handle_t *h, void *arg)
{
  (void)h;
  (*(int *)arg)++;
}

static void setup(void)
{
  server = fake_http_start(route, NULL);
  client = pt_http_client_new(&loop);
  CHECK(server != NULL);
  CHECK(client != NULL);
  dones = bodies = 0;
}

/* Close the client, run the loop dry, and check nothing is left on it. */
static void teardown(void)
{
  int handles = 0;
  pt_http_client_close(client);
  client = NULL;
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_walk(&loop, count_handle, &handles);
  CHECK_INT(handles, ==, 0);
  fake_http_stop(server);
  server = NULL;
  forget_records();
}

static void check_once(const result *res, int32_t status)
{
  CHECK_INT(res->done_calls, ==, 1);
  CHECK_INT(res->reentrant, ==, 0);
  CHECK_INT(res->after_cancel, ==, 0);
  if (res->status != status)
    check_fail(__FILE__, __LINE__, "status %s, wanted %s: %s",
               pt_errname(res->status), pt_errname(status), res->message);
}

/* ------------------------------------------------------------------------ */
/* Cases                                                                     */

static void body_streams_whole_and_in_order(void)
{
  result res = { 0 };
  char want[512];
  setup();
  stream_expected(want, sizeof want);
  CHECK_INT(begin(&res, "/stream"), ==, PT_OK);
  CHECK(run_until(&dones, 1, 5000));
  check_once(&res, PT_OK);
  CHECK_INT(res.responses, ==, 1);
  CHECK_INT(res.http_status, ==, 200);
  CHECK_STR(res.body, want);
  CHECK_INT(res.chunks, >, 1);
  CHECK_CONTAINS(res.message, "HTTP 200");
  teardown();
  result_free(&res);
}

static void body_split_inside_utf8_characters_arrives_whole(void)
{
  result res = { 0 };
  setup();
  CHECK_INT(begin(&res, "/utf8"), ==, PT_OK);
  CHECK(run_until(&dones, 1, 5000));
  check_once(&res, PT_OK);
  CHECK_STR(res.body, UTF8_TEXT);
  CHECK_INT(res.chunks, >=, 2);
  teardown();
  result_free(&res);
}

static void status_500_is_ok_and_headers_are_case_insensitive(void)
{
  result res = { .hname = { "x-request-id", "CONTENT-TYPE", "X-Absent" } };
  setup();
  CHECK_INT(begin(&res, "/500"), ==, PT_OK);
  CHECK(run_until(&dones, 1, 5000));
  check_once(&res, PT_OK);
  CHECK_INT(res.http_status, ==, 500);
  CHECK_STR(res.hval[0], "req-42");
  CHECK_STR(res.hval[1], "application/json");
  CHECK_INT(res.hlen[2], ==, 0);
  CHECK_STR(res.at_done, "req-42");
  CHECK_STR(res.body, "{\"error\":\"overloaded\"}");
  teardown();
  result_free(&res);
}

static void request_body_method_and_headers_reach_the_server(void)
{
  result a = { 0 }, b = { 0 };
  const char *headers[] = { "Authorization: Bearer sk-test-secret",
                            "Content-Type: application/json",
                            "X-Custom:  yes", NULL };
  const char *json = "{\"model\":\"m\",\"messages\":[]}";
  pt_http_request post = { .headers = headers,
                           .body = { json, strlen(json) } };
  pt_http_request del = { .method = "DELETE" };
  setup();
  CHECK_INT(begin_url(&a, url("/echo/v1/messages?beta=1&key=sk-query-secret"),
                      &post), ==, PT_OK);
  CHECK(run_until(&dones, 1, 5000));
  CHECK_INT(begin_url(&b, url("/echo/item"), &del), ==, PT_OK);
  CHECK(run_until(&dones, 2, 5000));
  check_once(&a, PT_OK);
  check_once(&b, PT_OK);
  CHECK_INT(rec_count, ==, 2);
  CHECK_STR(recs[0].method, "POST");
  CHECK_STR(recs[0].path, "/echo/v1/messages?beta=1&key=sk-query-secret");
  CHECK_STR(recs[0].auth, "Bearer sk-test-secret");
  CHECK_STR(recs[0].ctype, "application/json");
  CHECK_STR(recs[0].custom, "yes");
  CHECK_STR(recs[0].body, json);
  CHECK_INT(recs[0].has_expect, ==, 0);
  CHECK_STR(recs[1].method, "DELETE");
  CHECK_INT(recs[1].body_len, ==, 0);
  /* The message names the URL, without the query or any header. */
  CHECK_CONTAINS(a.message, "/echo/v1/messages");
  CHECK(strstr(a.message, "sk-") == NULL);
  CHECK(strchr(a.message, '?') == NULL);
  teardown();
  result_free(&a);
  result_free(&b);
}

static void large_post_body_arrives_intact_without_expect(void)
{
  result res = { 0 };
  size_t len = 3u << 20;
  char *big = malloc(len);
  pt_http_request req = { .body = { big, len } };
  for (size_t i = 0; i < len; i++) big[i] = (char)('a' + (i * 7) % 26);
  setup();
  CHECK_INT(begin_url(&res, url("/echo/big"), &req), ==, PT_OK);
  free(big); /* the request was copied */
  big = NULL;
  CHECK(run_until(&dones, 1, 10000));
  check_once(&res, PT_OK);
  CHECK_INT(rec_count, ==, 1);
  CHECK_INT(recs[0].body_len, ==, len);
  CHECK_INT(recs[0].has_expect, ==, 0);
  for (size_t i = 0; rec_count == 1 && i < len; i++) {
    if (recs[0].body[i] != (char)('a' + (i * 7) % 26)) {
      check_fail(__FILE__, __LINE__, "body differs at byte %zu", i);
      break;
    }
  }
  teardown();
  result_free(&res);
}

static void interim_1xx_response_is_skipped(void)
{
  result res = { .hname = { "x-final", "link" } };
  setup();
  CHECK_INT(begin(&res, "/early-hints"), ==, PT_OK);
  CHECK(run_until(&dones, 1, 5000));
  check_once(&res, PT_OK);
  CHECK_INT(res.responses, ==, 1);
  CHECK_INT(res.http_status, ==, 200);
  CHECK_STR(res.hval[0], "yes");
  CHECK_INT(res.hlen[1], ==, 0);
  CHECK_STR(res.body, "ok");
  teardown();
  result_free(&res);
}

static void cancel_mid_body_stops_the_body(void)
{
  result res = { 0 };
  setup();
  CHECK_INT(begin(&res, "/slow"), ==, PT_OK);
  CHECK(run_until(&res.chunks, 1, 5000));
  cancel(&res);
  cancel(&res); /* idempotent */
  CHECK_INT(res.done_calls, ==, 0);
  CHECK(run_until(&dones, 1, 5000));
  run_for(150); /* more chunks would have come by now */
  check_once(&res, PT_ECANCELED);
  CHECK_CONTAINS(res.message, "cancelled");
  CHECK_STR(res.body, "first");
  teardown();
  result_free(&res);
}

static void cancel_inside_on_body(void)
{
  result res = { .cancel_at_bytes = 1 };
  setup();
  CHECK_INT(begin(&res, "/slow"), ==, PT_OK);
  CHECK(run_until(&dones, 1, 5000));
  run_for(120);
  check_once(&res, PT_ECANCELED);
  CHECK_INT(res.chunks, ==, 1);
  teardown();
  result_free(&res);
}

static void cancel_inside_on_response(void)
{
  result res = { .cancel_in_response = 1 };
  setup();
  CHECK_INT(begin(&res, "/slow"), ==, PT_OK);
  CHECK(run_until(&dones, 1, 5000));
  run_for(120);
  check_once(&res, PT_ECANCELED);
  CHECK_INT(res.responses, ==, 1);
  CHECK_INT(res.chunks, ==, 0);
  teardown();
  result_free(&res);
}

static void cancel_before_any_byte(void)
{
  result now = { 0 }, later = { 0 };
  setup();
  /* Cancelled in the same turn it started, before it joined curl. */
  CHECK_INT(begin(&now, "/hang"), ==, PT_OK);
  cancel(&now);
  CHECK_INT(now.done_calls, ==, 0);
  /* Cancelled while connected and waiting for the answer. */
  CHECK_INT(begin(&later, "/hang"), ==, PT_OK);
  run_for(50);
  cancel(&later);
  CHECK(run_until(&dones, 2, 5000));
  check_once(&now, PT_ECANCELED);
  check_once(&later, PT_ECANCELED);
  CHECK_INT(now.responses + later.responses, ==, 0);
  teardown();
}

static void cancel_when_due(uv_timer_t *t)
{
  cancel(t->data);
  uv_close((uv_handle_t *)t, NULL);
}

/* Two causes in one turn: the first-byte clock fires, then the caller
 * cancels before on_done ran. on_done runs once, and the cancel wins. */
static void cancel_after_timeout_decided_reports_cancelled(void)
{
  result res = { 0 };
  pt_http_request req = { .first_byte_timeout_ms = 100 };
  uv_timer_t same_time;
  setup();
  CHECK_INT(begin_url(&res, url("/hang"), &req), ==, PT_OK);
  /* Same due time as the request's clock and started after it, so libuv
   * runs it right after that clock, in the same turn. */
  uv_timer_init(&loop, &same_time);
  same_time.data = &res;
  uv_timer_start(&same_time, cancel_when_due, 100, 0);
  CHECK(run_until(&dones, 1, 5000));
  check_once(&res, PT_ECANCELED);
  teardown();
}

/* The answer comes about when the first-byte clock runs out: whichever
 * wins, each request ends once. Which one wins is not asserted. */
static void clock_racing_the_answer_ends_each_request_once(void)
{
  enum { N = 40 };
  result res[N] = { { 0 } };
  int good = 0;
  setup();
  for (int i = 0; i < N; i++) {
    pt_http_request req = { .first_byte_timeout_ms = 100 };
    char path[32];
    snprintf(path, sizeof path, "/late?ms=%d", 90 + i % 15);
    CHECK_INT(begin_url(&res[i], url(path), &req), ==, PT_OK);
  }
  CHECK(run_until(&dones, N, 5000));
  run_for(50);
  for (int i = 0; i < N; i++) {
    good += res[i].done_calls == 1 && res[i].reentrant == 0 &&
            ((res[i].status == PT_OK && res[i].body &&
              strcmp(res[i].body, "late") == 0) ||
             res[i].status == PT_EFIRSTBYTE);
  }
  CHECK_INT(good, ==, N);
  teardown();
  for (int i = 0; i < N; i++) result_free(&res[i]);
}

static void cancel_other_request_from_on_done(void)
{
  result a = { 0 }, b = { 0 };
  setup();
  CHECK_INT(begin(&b, "/hang"), ==, PT_OK);
  CHECK_INT(begin(&a, "/fast"), ==, PT_OK);
  CHECK(run_until(&dones, 1, 5000));
  CHECK_INT(a.done_calls, ==, 1);
  cancel(&b);
  CHECK(run_until(&dones, 2, 5000));
  check_once(&a, PT_OK);
  check_once(&b, PT_ECANCELED);
  teardown();
  result_free(&a);
}

static void connect_timeout_is_econntimeout(void)
{
  fake_http_dead *dead = fake_http_dead_hanging();
  result res = { 0 };
  pt_http_request req = { .connect_timeout_ms = 200 };
  char u[128], want[256];
  uint64_t t0;
  setup();
  snprintf(u, sizeof u, "http://127.0.0.1:%d/v1/messages?key=secret",
           fake_http_dead_port(dead));
  snprintf(want, sizeof want,
           "connect to http://127.0.0.1:%d/v1/messages timed out after 200 ms",
           fake_http_dead_port(dead));
  uv_update_time(&loop);
  t0 = uv_now(&loop);
  CHECK_INT(begin_url(&res, u, &req), ==, PT_OK);
  CHECK(run_until(&dones, 1, 5000));
  check_once(&res, PT_ECONNTIMEOUT);
  CHECK_STR(res.message, want);
  CHECK_INT(uv_now(&loop) - t0, >=, 150);
  teardown();
  fake_http_dead_close(dead);
}

static void first_byte_timeout_is_efirstbyte(void)
{
  result res = { 0 };
  pt_http_request req = { .first_byte_timeout_ms = 200 };
  setup();
  CHECK_INT(begin_url(&res, url("/hang"), &req), ==, PT_OK);
  CHECK(run_until(&dones, 1, 5000));
  check_once(&res, PT_EFIRSTBYTE);
  CHECK_INT(res.responses, ==, 0);
  CHECK_CONTAINS(res.message, "/hang sent no response within 200 ms");
  teardown();
}

static void idle_timeout_is_eidle(void)
{
  result res = { 0 };
  pt_http_request req = { .idle_timeout_ms = 200 };
  setup();
  /* First-byte clock left at its 120 s default: the idle clock must take
   * over as soon as bytes flow. */
  CHECK_INT(begin_url(&res, url("/drip-hang"), &req), ==, PT_OK);
  CHECK(run_until(&dones, 1, 5000));
  check_once(&res, PT_EIDLE);
  CHECK_INT(res.responses, ==, 1);
  CHECK_STR(res.body, "hello");
  CHECK_CONTAINS(res.message, "went silent for 200 ms");
  teardown();
  result_free(&res);
}

static void idle_clock_restarts_on_every_byte(void)
{
  result res = { 0 };
  pt_http_request req = { .idle_timeout_ms = 400,
                          .first_byte_timeout_ms = 400 };
  setup();
  /* 8 pieces 80 ms apart: 640 ms in all, longer than either clock. */
  CHECK_INT(begin_url(&res, url("/drip?n=8&gap=80"), &req), ==, PT_OK);
  CHECK(run_until(&dones, 1, 5000));
  check_once(&res, PT_OK);
  CHECK_STR(res.body, "drop;drop;drop;drop;drop;drop;drop;drop;");
  teardown();
  result_free(&res);
}

static void total_timeout_is_etimedout(void)
{
  result res = { 0 };
  pt_http_request req = { .total_timeout_ms = 300 };
  setup();
  CHECK_INT(begin_url(&res, url("/drip?n=40&gap=50"), &req), ==, PT_OK);
  CHECK(run_until(&dones, 1, 5000));
  check_once(&res, PT_ETIMEDOUT);
  CHECK_INT(res.responses, ==, 1);
  CHECK_INT(res.body_len, >, 0);
  CHECK_INT(res.body_len, <, 40 * 5);
  CHECK_CONTAINS(res.message, "did not finish within 300 ms");
  teardown();
  result_free(&res);
}

static void connection_refused_is_econnect(void)
{
  fake_http_dead *dead = fake_http_dead_refusing();
  result res = { 0 };
  char u[128], want[192];
  setup();
  snprintf(u, sizeof u, "http://127.0.0.1:%d/x", fake_http_dead_port(dead));
  snprintf(want, sizeof want, "could not connect to %s: ", u);
  CHECK_INT(begin_url(&res, u, NULL), ==, PT_OK);
  CHECK(run_until(&dones, 1, 5000));
  check_once(&res, PT_ECONNECT);
  CHECK_CONTAINS(res.message, want);
  teardown();
  fake_http_dead_close(dead);
}

static void early_close_is_eclosed_with_partial_body(void)
{
  result shrt = { 0 }, empty = { 0 }, reset = { 0 };
  setup();
  CHECK_INT(begin(&shrt, "/short"), ==, PT_OK);
  CHECK_INT(begin(&empty, "/empty"), ==, PT_OK);
  CHECK_INT(begin(&reset, "/reset"), ==, PT_OK);
  CHECK(run_until(&dones, 3, 5000));
  check_once(&shrt, PT_ECLOSED);
  CHECK_INT(shrt.responses, ==, 1);
  CHECK_STR(shrt.body, "0123456789012345678901234567890123456789");
  CHECK_CONTAINS(shrt.message, "closed the connection before the response "
                               "ended (after 40 body bytes)");
  check_once(&empty, PT_ECLOSED);
  CHECK_INT(empty.responses, ==, 0);
  check_once(&reset, PT_ECLOSED);
  CHECK_STR(reset.body, "0123456789");
  teardown();
  result_free(&shrt);
  result_free(&reset);
}

static void five_hundred_concurrent_requests_complete(void)
{
  enum { N = 500 };
  result *res = calloc(N, sizeof *res);
  char path[32], want[160];
  int good = 0;
  setup();
  for (int i = 0; i < N; i++) {
    snprintf(path, sizeof path, "/n/%d", i);
    CHECK_INT(begin(&res[i], path), ==, PT_OK);
  }
  CHECK_INT(pt_http_active(client), ==, N);
  CHECK(run_until(&dones, N, 15000));
  for (int i = 0; i < N; i++) {
    size_t split;
    numbered_body(i, want, &split);
    good += res[i].done_calls == 1 && res[i].status == PT_OK &&
            res[i].http_status == 200 && res[i].body &&
            strcmp(res[i].body, want) == 0;
  }
  CHECK_INT(good, ==, N);
  CHECK_INT(pt_http_active(client), ==, 0);
  teardown();
  for (int i = 0; i < N; i++) result_free(&res[i]);
  free(res);
}

static void requests_started_from_callbacks_run(void)
{
  result a = { 0 }, b = { 0 }, c = { 0 };
  setup();
  a.start_in_body = 1;
  a.then = &b;
  a.then_url = url("/fast");
  b.start_in_done = 1;
  b.then = &c;
  b.then_url = url("/utf8");
  CHECK_INT(begin(&a, "/stream"), ==, PT_OK);
  CHECK(run_until(&dones, 3, 5000));
  check_once(&a, PT_OK);
  check_once(&b, PT_OK);
  check_once(&c, PT_OK);
  CHECK_INT(b.start_rc, ==, PT_OK);
  CHECK_INT(c.start_rc, ==, PT_OK);
  CHECK_STR(b.body, "fast");
  CHECK_STR(c.body, UTF8_TEXT);
  teardown();
  result_free(&a);
  result_free(&b);
  result_free(&c);
}

static void keep_alive_reuses_the_connection(void)
{
  result a = { 0 }, b = { 0 };
  setup();
  CHECK_INT(begin(&a, "/fast"), ==, PT_OK);
  CHECK(run_until(&dones, 1, 5000));
  CHECK_INT(begin(&b, "/500"), ==, PT_OK);
  CHECK(run_until(&dones, 2, 5000));
  check_once(&a, PT_OK);
  check_once(&b, PT_OK);
  CHECK_INT(fake_http_connection_count(server), ==, 1);
  CHECK_INT(fake_http_request_count(server), ==, 2);
  teardown();
  result_free(&a);
  result_free(&b);
}

static void invalid_requests_fail_without_callbacks(void)
{
  result res = { 0 };
  const char *bad_header[] = { "X-A: 1\r\nX-Injected: 2", NULL };
  pt_http_request req = { .headers = bad_header };
  pt_http_request no_done = { .struct_size = sizeof no_done,
                              .url = "http://127.0.0.1:1/" };
  pt_http *r = (pt_http *)&res;
  setup();
  CHECK_INT(begin_url(&res, "ftp://127.0.0.1/", NULL), ==, PT_EINVAL);
  CHECK_INT(begin_url(&res, "127.0.0.1/", NULL), ==, PT_EINVAL);
  CHECK_INT(begin_url(&res, url("/fast"), &req), ==, PT_EINVAL);
  CHECK_INT(pt_http_start(client, &no_done, &r), ==, PT_EINVAL);
  CHECK(r == NULL);
  run_for(50);
  CHECK_INT(res.done_calls, ==, 0);
  CHECK_INT(pt_http_active(client), ==, 0);
  teardown();
}

static void close_with_requests_in_flight_cancels_each_once(void)
{
  enum { N = 15 };
  fake_http_dead *dead = fake_http_dead_hanging();
  result res[N] = { { 0 } };
  char u[128];
  setup();
  snprintf(u, sizeof u, "http://127.0.0.1:%d/", fake_http_dead_port(dead));
  for (int i = 0; i < N; i++) res[i].try_start_in_done = 1;
  for (int i = 0; i < 5; i++) CHECK_INT(begin(&res[i], "/hang"), ==, PT_OK);
  for (int i = 5; i < 10; i++)
    CHECK_INT(begin(&res[i], "/drip-hang"), ==, PT_OK);
  for (int i = 10; i < 13; i++)
    CHECK_INT(begin_url(&res[i], u, NULL), ==, PT_OK);
  CHECK(run_until(&bodies, 5, 5000));
  /* Two more that have not joined curl yet. */
  for (int i = 13; i < N; i++) CHECK_INT(begin(&res[i], "/fast"), ==, PT_OK);
  in_api++;
  pt_http_client_close(client);
  in_api--;
  for (int i = 0; i < N; i++) CHECK_INT(res[i].done_calls, ==, 0);
  uv_run(&loop, UV_RUN_DEFAULT); /* frees the client */
  client = NULL;
  for (int i = 0; i < N; i++) {
    check_once(&res[i], PT_ECANCELED);
    CHECK_INT(res[i].start_rc, ==, PT_ESHUTDOWN);
  }
  teardown();
  for (int i = 0; i < N; i++) result_free(&res[i]);
  fake_http_dead_close(dead);
}

static void close_from_inside_on_body(void)
{
  result a = { .close_in_body = 1 }, b = { 0 };
  setup();
  CHECK_INT(begin(&b, "/hang"), ==, PT_OK);
  CHECK_INT(begin(&a, "/slow"), ==, PT_OK);
  CHECK(run_until(&dones, 2, 5000));
  uv_run(&loop, UV_RUN_DEFAULT); /* frees the client */
  client = NULL;
  check_once(&a, PT_ECANCELED);
  check_once(&b, PT_ECANCELED);
  CHECK_INT(a.chunks, ==, 1);
  teardown();
  result_free(&a);
}

int main(void)
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
  uv_loop_init(&loop);

  RUN(body_streams_whole_and_in_order);
  RUN(body_split_inside_utf8_characters_arrives_whole);
  RUN(status_500_is_ok_and_headers_are_case_insensitive);
  RUN(request_body_method_and_headers_reach_the_server);
  RUN(large_post_body_arrives_intact_without_expect);
  RUN(interim_1xx_response_is_skipped);
  RUN(cancel_mid_body_stops_the_body);
  RUN(cancel_inside_on_body);
  RUN(cancel_inside_on_response);
  RUN(cancel_before_any_byte);
  RUN(cancel_after_timeout_decided_reports_cancelled);
  RUN(clock_racing_the_answer_ends_each_request_once);
  RUN(cancel_other_request_from_on_done);
  RUN(connect_timeout_is_econntimeout);
  RUN(first_byte_timeout_is_efirstbyte);
  RUN(idle_timeout_is_eidle);
  RUN(idle_clock_restarts_on_every_byte);
  RUN(total_timeout_is_etimedout);
  RUN(connection_refused_is_econnect);
  RUN(early_close_is_eclosed_with_partial_body);
  RUN(five_hundred_concurrent_requests_complete);
  RUN(requests_started_from_callbacks_run);
  RUN(keep_alive_reuses_the_connection);
  RUN(invalid_requests_fail_without_callbacks);
  RUN(close_with_requests_in_flight_cancels_each_once);
  RUN(close_from_inside_on_body);

  CHECK_INT(uv_loop_close(&loop), ==, 0);
  return check_report();
}
