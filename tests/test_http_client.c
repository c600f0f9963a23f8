/*
 * tests/test_http_client.c: core/http_client.c moving bytes, against
 * fake_http on 127.0.0.1. Streaming bodies, bodies cut inside UTF-8
 * characters, headers and statuses, request bodies and methods, 1xx
 * responses, 500 requests at once, keep-alive, requests started from
 * callbacks and requests refused up front. Cancellation, timeouts, early
 * close and closing the client are in tests/test_http_cancel.c; the server
 * routes and the loop driving both share are in support/http_cases.c.
 * Every case closes its client and runs the loop dry, so AddressSanitizer
 * sees every release path.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "check.h"
#include "http_cases.h"

static void body_streams_whole_and_in_order(void)
{
  hc_result res = { 0 };
  char want[512];
  hc_setup();
  hc_stream_expected(want, sizeof want);
  CHECK_INT(hc_begin(&res, "/stream"), ==, PT_OK);
  CHECK(hc_run_until(&hc_dones, 1, 5000));
  hc_check_once(&res, PT_OK);
  CHECK_INT(res.responses, ==, 1);
  CHECK_INT(res.http_status, ==, 200);
  CHECK_STR(res.body, want);
  CHECK_INT(res.chunks, >, 1);
  CHECK_CONTAINS(res.message, "HTTP 200");
  hc_teardown();
  hc_result_free(&res);
}

static void body_split_inside_utf8_characters_arrives_whole(void)
{
  hc_result res = { 0 };
  hc_setup();
  CHECK_INT(hc_begin(&res, "/utf8"), ==, PT_OK);
  CHECK(hc_run_until(&hc_dones, 1, 5000));
  hc_check_once(&res, PT_OK);
  CHECK_STR(res.body, HC_UTF8_TEXT);
  CHECK_INT(res.chunks, >=, 2);
  hc_teardown();
  hc_result_free(&res);
}

static void status_500_is_ok_and_headers_are_case_insensitive(void)
{
  hc_result res = { .hname = { "x-request-id", "CONTENT-TYPE", "X-Absent" } };
  hc_setup();
  CHECK_INT(hc_begin(&res, "/500"), ==, PT_OK);
  CHECK(hc_run_until(&hc_dones, 1, 5000));
  hc_check_once(&res, PT_OK);
  CHECK_INT(res.http_status, ==, 500);
  CHECK_STR(res.hval[0], "req-42");
  CHECK_STR(res.hval[1], "application/json");
  CHECK_INT(res.hlen[2], ==, 0);
  CHECK_STR(res.at_done, "req-42");
  CHECK_STR(res.body, "{\"error\":\"overloaded\"}");
  hc_teardown();
  hc_result_free(&res);
}

static void request_body_method_and_headers_reach_the_server(void)
{
  hc_result a = { 0 }, b = { 0 };
  const char *headers[] = { "Authorization: Bearer sk-test-secret",
                            "Content-Type: application/json",
                            "X-Custom:  yes", NULL };
  const char *json = "{\"model\":\"m\",\"messages\":[]}";
  pt_http_request post = { .headers = headers,
                           .body = { json, strlen(json) } };
  pt_http_request del = { .method = "DELETE" };
  hc_setup();
  CHECK_INT(hc_begin_url(&a,
                         hc_url("/echo/v1/messages?beta=1&key=sk-query-secret"),
                         &post), ==, PT_OK);
  CHECK(hc_run_until(&hc_dones, 1, 5000));
  CHECK_INT(hc_begin_url(&b, hc_url("/echo/item"), &del), ==, PT_OK);
  CHECK(hc_run_until(&hc_dones, 2, 5000));
  hc_check_once(&a, PT_OK);
  hc_check_once(&b, PT_OK);
  CHECK_INT(hc_rec_count, ==, 2);
  CHECK_STR(hc_recs[0].method, "POST");
  CHECK_STR(hc_recs[0].path, "/echo/v1/messages?beta=1&key=sk-query-secret");
  CHECK_STR(hc_recs[0].auth, "Bearer sk-test-secret");
  CHECK_STR(hc_recs[0].ctype, "application/json");
  CHECK_STR(hc_recs[0].custom, "yes");
  CHECK_STR(hc_recs[0].body, json);
  CHECK_INT(hc_recs[0].has_expect, ==, 0);
  CHECK_STR(hc_recs[1].method, "DELETE");
  CHECK_INT(hc_recs[1].body_len, ==, 0);
  /* The message names the URL, without the query or any header. */
  CHECK_CONTAINS(a.message, "/echo/v1/messages");
  CHECK(strstr(a.message, "sk-") == NULL);
  CHECK(strchr(a.message, '?') == NULL);
  hc_teardown();
  hc_result_free(&a);
  hc_result_free(&b);
}

static void large_post_body_arrives_intact_without_expect(void)
{
  hc_result res = { 0 };
  size_t len = 3u << 20;
  char *big = malloc(len);
  pt_http_request req = { .body = { big, len } };
  for (size_t i = 0; i < len; i++) big[i] = (char)('a' + (i * 7) % 26);
  hc_setup();
  CHECK_INT(hc_begin_url(&res, hc_url("/echo/big"), &req), ==, PT_OK);
  free(big); /* the request was copied */
  big = NULL;
  CHECK(hc_run_until(&hc_dones, 1, 10000));
  hc_check_once(&res, PT_OK);
  CHECK_INT(hc_rec_count, ==, 1);
  CHECK_INT(hc_recs[0].body_len, ==, len);
  CHECK_INT(hc_recs[0].has_expect, ==, 0);
  for (size_t i = 0; hc_rec_count == 1 && i < len; i++) {
    if (hc_recs[0].body[i] != (char)('a' + (i * 7) % 26)) {
      check_fail(__FILE__, __LINE__, "body differs at byte %zu", i);
      break;
    }
  }
  hc_teardown();
  hc_result_free(&res);
}

static void interim_1xx_response_is_skipped(void)
{
  hc_result res = { .hname = { "x-final", "link" } };
  hc_setup();
  CHECK_INT(hc_begin(&res, "/early-hints"), ==, PT_OK);
  CHECK(hc_run_until(&hc_dones, 1, 5000));
  hc_check_once(&res, PT_OK);
  CHECK_INT(res.responses, ==, 1);
  CHECK_INT(res.http_status, ==, 200);
  CHECK_STR(res.hval[0], "yes");
  CHECK_INT(res.hlen[1], ==, 0);
  CHECK_STR(res.body, "ok");
  hc_teardown();
  hc_result_free(&res);
}

static void five_hundred_concurrent_requests_complete(void)
{
  enum { N = 500 };
  hc_result *res = calloc(N, sizeof *res);
  char path[32], want[160];
  int good = 0;
  hc_setup();
  for (int i = 0; i < N; i++) {
    snprintf(path, sizeof path, "/n/%d", i);
    CHECK_INT(hc_begin(&res[i], path), ==, PT_OK);
  }
  CHECK_INT(pt_http_active(hc_client), ==, N);
  CHECK(hc_run_until(&hc_dones, N, 15000));
  for (int i = 0; i < N; i++) {
    size_t split;
    hc_numbered_body(i, want, &split);
    good += res[i].done_calls == 1 && res[i].status == PT_OK &&
            res[i].http_status == 200 && res[i].body &&
            strcmp(res[i].body, want) == 0;
  }
  CHECK_INT(good, ==, N);
  CHECK_INT(pt_http_active(hc_client), ==, 0);
  hc_teardown();
  for (int i = 0; i < N; i++) hc_result_free(&res[i]);
  free(res);
}

static void requests_started_from_callbacks_run(void)
{
  hc_result a = { 0 }, b = { 0 }, c = { 0 };
  hc_setup();
  a.start_in_body = 1;
  a.then = &b;
  a.then_url = hc_url("/fast");
  b.start_in_done = 1;
  b.then = &c;
  b.then_url = hc_url("/utf8");
  CHECK_INT(hc_begin(&a, "/stream"), ==, PT_OK);
  CHECK(hc_run_until(&hc_dones, 3, 5000));
  hc_check_once(&a, PT_OK);
  hc_check_once(&b, PT_OK);
  hc_check_once(&c, PT_OK);
  CHECK_INT(b.start_rc, ==, PT_OK);
  CHECK_INT(c.start_rc, ==, PT_OK);
  CHECK_STR(b.body, "fast");
  CHECK_STR(c.body, HC_UTF8_TEXT);
  hc_teardown();
  hc_result_free(&a);
  hc_result_free(&b);
  hc_result_free(&c);
}

static void keep_alive_reuses_the_connection(void)
{
  hc_result a = { 0 }, b = { 0 };
  hc_setup();
  CHECK_INT(hc_begin(&a, "/fast"), ==, PT_OK);
  CHECK(hc_run_until(&hc_dones, 1, 5000));
  CHECK_INT(hc_begin(&b, "/500"), ==, PT_OK);
  CHECK(hc_run_until(&hc_dones, 2, 5000));
  hc_check_once(&a, PT_OK);
  hc_check_once(&b, PT_OK);
  CHECK_INT(fake_http_connection_count(hc_server), ==, 1);
  CHECK_INT(fake_http_request_count(hc_server), ==, 2);
  hc_teardown();
  hc_result_free(&a);
  hc_result_free(&b);
}

static void invalid_requests_fail_without_callbacks(void)
{
  hc_result res = { 0 };
  const char *bad_header[] = { "X-A: 1\r\nX-Injected: 2", NULL };
  pt_http_request req = { .headers = bad_header };
  pt_http_request no_done = { .struct_size = sizeof no_done,
                              .url = "http://127.0.0.1:1/" };
  pt_http *r = (pt_http *)&res;
  hc_setup();
  CHECK_INT(hc_begin_url(&res, "ftp://127.0.0.1/", NULL), ==, PT_EINVAL);
  CHECK_INT(hc_begin_url(&res, "127.0.0.1/", NULL), ==, PT_EINVAL);
  CHECK_INT(hc_begin_url(&res, hc_url("/fast"), &req), ==, PT_EINVAL);
  CHECK_INT(pt_http_start(hc_client, &no_done, &r), ==, PT_EINVAL);
  CHECK(r == NULL);
  hc_run_for(50);
  CHECK_INT(res.done_calls, ==, 0);
  CHECK_INT(pt_http_active(hc_client), ==, 0);
  hc_teardown();
}

int main(void)
{
  hc_init();

  RUN(body_streams_whole_and_in_order);
  RUN(body_split_inside_utf8_characters_arrives_whole);
  RUN(status_500_is_ok_and_headers_are_case_insensitive);
  RUN(request_body_method_and_headers_reach_the_server);
  RUN(large_post_body_arrives_intact_without_expect);
  RUN(interim_1xx_response_is_skipped);
  RUN(five_hundred_concurrent_requests_complete);
  RUN(requests_started_from_callbacks_run);
  RUN(keep_alive_reuses_the_connection);
  RUN(invalid_requests_fail_without_callbacks);

  CHECK_INT(uv_loop_close(&hc_loop), ==, 0);
  return check_report();
}
