/*
 * tests/test_tools_http.c: http_fetch of the bundled tools plugin against
 * the fake HTTP server: bodies, the size cap, statuses that are not 200,
 * redirects, binary bodies, POST, refusals, timeouts and cancel.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "fake_http.h"
#include "tools_run.h"

static tr_env env;
static fake_http *srv;

static void handler(void *ud, const fake_http_request *req,
                    fake_http_response *res)
{
  if (strcmp(req->path, "/text") == 0) {
    fake_http_respond(res, 200, "text/plain; charset=utf-8",
                      "hello w\xc3\xb6rld");
  } else if (strcmp(req->path, "/echo") == 0) {
    const char *ct = fake_http_request_header(req, "content-type");
    const char *ua = fake_http_request_header(req, "user-agent");
    char body[1024];
    snprintf(body, sizeof body, "%s %s ct=%s ua=%s", req->method, req->body,
             ct ? ct : "-", ua ? ua : "-");
    fake_http_respond(res, 200, "text/plain", body);
  } else if (strcmp(req->path, "/big") == 0) {
    size_t n = 300 * 1024;
    char *body = malloc(n + 1);
    for (size_t i = 0; i < n; i++) body[i] = (char)('a' + i % 26);
    body[n] = '\0';
    fake_http_respond(res, 200, "text/plain", body);
    free(body);
  } else if (strcmp(req->path, "/missing") == 0) {
    fake_http_respond(res, 404, "text/html", "<h1>no such page</h1>");
  } else if (strcmp(req->path, "/moved") == 0) {
    fake_http_head(res, 302, "Location: /text\r\nContent-Length: 0\r\n");
  } else if (strcmp(req->path, "/png") == 0) {
    fake_http_head(res, 200, "Content-Type: image/png\r\n"
                             "Content-Length: 8\r\n");
    fake_http_send(res, "\x89PNG\r\n\x1a\0", 8);
  } else if (strcmp(req->path, "/untyped") == 0) {
    fake_http_head(res, 200, "Content-Length: 5\r\n");
    fake_http_send(res, "plain", 5);
  } else {
    fake_http_hang(res);
  }
}

static void start(void)
{
  srv = fake_http_start(handler, NULL);
  CHECK(srv != NULL);
  tr_start(&env, "tools.so");
}

static void stop(void)
{
  tr_stop(&env);
  fake_http_stop(srv);
}

/* Fetch `path` of the fake server with the extra JSON members `more`
 * (e.g. ",\"method\":\"POST\""), or "". */
static void fetch(const char *path, const char *more, tr_call *c)
{
  char args[1024];
  snprintf(args, sizeof args, "{\"url\":\"http://127.0.0.1:%d%s\"%s}",
           fake_http_port(srv), path, more);
  tr_run(&env, "http_fetch", args, c);
}

static void http_fetch_returns_status_type_and_body(void)
{
  start();
  tr_call c;
  fetch("/text", "", &c);
  CHECK_INT(c.status, ==, PT_OK);
  CHECK(!c.is_error);
  CHECK_STR(c.content, "HTTP 200 (text/plain; charset=utf-8), 12 bytes\n\n"
            "hello w\xc3\xb6rld");
  CHECK_INT(tr_num(&c, "status", 0), ==, 200);
  CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(c.json, "content_type")),
            "text/plain; charset=utf-8");
  CHECK(cJSON_IsFalse(cJSON_GetObjectItem(c.json, "truncated")));
  tr_free(&c);
  /* No content type: the bytes decide. */
  fetch("/untyped", "", &c);
  CHECK_STR(c.content, "HTTP 200, 5 bytes\n\nplain");
  tr_free(&c);
  stop();
}

static void http_fetch_posts_a_body_with_headers(void)
{
  start();
  tr_call c;
  fetch("/echo", ",\"method\":\"POST\",\"body\":\"{\\\"a\\\":1}\",\"headers\":"
        "{\"Content-Type\":\"application/json\"}", &c);
  CHECK(!c.is_error);
  CHECK_CONTAINS(c.content, "POST {\"a\":1} ct=application/json "
                 "ua=portico/");
  tr_free(&c);
  fetch("/echo", ",\"headers\":{\"User-Agent\":\"mine\"}", &c);
  CHECK_CONTAINS(c.content, "GET  ct=- ua=mine");
  tr_free(&c);
  stop();
}

static void http_fetch_cuts_the_body_at_the_cap(void)
{
  start();
  tr_call c;
  fetch("/big", "", &c);
  CHECK_INT(c.status, ==, PT_OK);
  CHECK(!c.is_error);
  CHECK_CONTAINS(c.content, "HTTP 200 (text/plain), more than ");
  CHECK_CONTAINS(c.content, "\n[body cut at 131072 bytes of 307200; fetch a "
                 "smaller resource, or save it to a file");
  CHECK(strlen(c.content) < 131072 + 400);
  CHECK(cJSON_IsTrue(cJSON_GetObjectItem(c.json, "truncated")));
  tr_free(&c);
  stop();
}

static void http_fetch_reports_errors_redirects_and_binary_bodies(void)
{
  start();
  tr_call c;
  fetch("/missing", "", &c);
  CHECK_INT(c.status, ==, PT_OK);
  CHECK(c.is_error);
  CHECK_STR(c.content, "HTTP 404 (text/html), 21 bytes\n\n<h1>no such "
            "page</h1>");
  CHECK_INT(tr_num(&c, "status", 0), ==, 404);
  tr_free(&c);
  fetch("/moved", "", &c);
  CHECK(!c.is_error);
  CHECK_STR(c.content, "HTTP 302, 0 bytes\nLocation: /text\n[redirects are "
            "not followed; fetch that URL if you want it]\n");
  tr_free(&c);
  fetch("/png", "", &c);
  CHECK(!c.is_error);
  CHECK_STR(c.content, "HTTP 200 (image/png), 8 bytes\n[the body is binary "
            "(bytes that are not UTF-8 at offset 0) and is not shown]\n");
  tr_free(&c);
  stop();
}

static void http_fetch_refuses_other_schemes_and_bad_arguments(void)
{
  start();
  tr_call c;
  tr_run(&env, "http_fetch", "{\"url\":\"file:///etc/passwd\"}", &c);
  CHECK_INT(c.status, ==, PT_OK);
  CHECK(c.is_error);
  CHECK_CONTAINS(c.content, "must start with http:// or https://");
  tr_free(&c);
  tr_run(&env, "http_fetch", "{\"url\":\"ftp://example.com/x\"}", &c);
  CHECK(c.is_error);
  tr_free(&c);
  fetch("/text", ",\"body\":\"x\"", &c);
  CHECK(c.is_error);
  CHECK_CONTAINS(c.content, "a body is only sent with method POST");
  tr_free(&c);
  fetch("/text", ",\"method\":\"DELETE\"", &c);
  CHECK(c.is_error);
  CHECK_CONTAINS(c.content, "method must be GET or POST");
  tr_free(&c);
  fetch("/text", ",\"headers\":{\"Bad Name\":\"x\"}", &c);
  CHECK(c.is_error);
  CHECK_CONTAINS(c.content, "header Bad Name must be a name");
  tr_free(&c);

  fake_http_dead *dead = fake_http_dead_refusing();
  char args[256];
  snprintf(args, sizeof args, "{\"url\":\"http://127.0.0.1:%d/\"}",
           fake_http_dead_port(dead));
  tr_run(&env, "http_fetch", args, &c);
  CHECK_INT(c.status, ==, PT_OK);
  CHECK(c.is_error);
  CHECK_CONTAINS(c.content, "the request failed: could not connect");
  tr_free(&c);
  fake_http_dead_close(dead);
  stop();
}

static void http_fetch_times_out_and_can_be_cancelled(void)
{
  start();
  tr_call c;
  uint64_t t0 = h_now_ms();
  fetch("/hang", ",\"timeout_seconds\":1", &c);
  CHECK(h_now_ms() - t0 < 3000);
  CHECK_INT(c.status, ==, PT_OK);
  CHECK(c.is_error);
  CHECK_CONTAINS(c.content, "timed out");
  tr_free(&c);

  char args[256];
  snprintf(args, sizeof args, "{\"url\":\"http://127.0.0.1:%d/hang\"}",
           fake_http_port(srv));
  pt_op_impl *op = tr_begin(&env, "http_fetch", args, NULL, &c);
  for (int i = 0; i < 400 && fake_http_request_count(srv) < 2; i++)
    pt_kernel_spin(env.f.k, 5);
  pt_op_cancel(op);
  pt_op_cancel(op);
  tr_wait(&env, &c, 5000);
  pt_kernel_spin(env.f.k, 20);
  CHECK_INT(c.done, ==, 1);
  CHECK_INT(c.status, ==, PT_ECANCELED);
  tr_free(&c);

  /* Cancelled before a refusal is delivered: still exactly once. */
  op = tr_begin(&env, "http_fetch", "{\"url\":\"nope\"}", NULL, &c);
  pt_op_cancel(op);
  tr_wait(&env, &c, 5000);
  pt_kernel_spin(env.f.k, 20);
  CHECK_INT(c.done, ==, 1);
  CHECK_INT(c.status, ==, PT_ECANCELED);
  tr_free(&c);
  stop();
}

int main(void)
{
  RUN(http_fetch_returns_status_type_and_body);
  RUN(http_fetch_posts_a_body_with_headers);
  RUN(http_fetch_cuts_the_body_at_the_cap);
  RUN(http_fetch_reports_errors_redirects_and_binary_bodies);
  RUN(http_fetch_refuses_other_schemes_and_bad_arguments);
  RUN(http_fetch_times_out_and_can_be_cancelled);
  return check_report();
}
