/*
 * tests/test_http_cancel.c: how core/http_client.c ends a request early,
 * against fake_http on 127.0.0.1. Cancellation from every place a caller
 * can be, each timeout told apart, a refused connection, a server that
 * closes early, and closing the client with requests in flight; each
 * request still ends exactly once. Requests that run to the end are in
 * tests/test_http_client.c; the server routes and the loop driving both
 * share are in support/http_cases.c. Every case closes its client and runs
 * the loop dry, so AddressSanitizer sees every release path.
 */
#include <stdio.h>
#include <string.h>
#include <uv.h>

#include "check.h"
#include "http_cases.h"

static void cancel_mid_body_stops_the_body(void)
{
  hc_result res = { 0 };
  hc_setup();
  CHECK_INT(hc_begin(&res, "/slow"), ==, PT_OK);
  CHECK(hc_run_until(&res.chunks, 1, 5000));
  hc_cancel(&res);
  hc_cancel(&res); /* idempotent */
  CHECK_INT(res.done_calls, ==, 0);
  CHECK(hc_run_until(&hc_dones, 1, 5000));
  hc_run_for(150); /* more chunks would have come by now */
  hc_check_once(&res, PT_ECANCELED);
  CHECK_CONTAINS(res.message, "cancelled");
  CHECK_STR(res.body, "first");
  hc_teardown();
  hc_result_free(&res);
}

static void cancel_inside_on_body(void)
{
  hc_result res = { .cancel_at_bytes = 1 };
  hc_setup();
  CHECK_INT(hc_begin(&res, "/slow"), ==, PT_OK);
  CHECK(hc_run_until(&hc_dones, 1, 5000));
  hc_run_for(120);
  hc_check_once(&res, PT_ECANCELED);
  CHECK_INT(res.chunks, ==, 1);
  hc_teardown();
  hc_result_free(&res);
}

static void cancel_inside_on_response(void)
{
  hc_result res = { .cancel_in_response = 1 };
  hc_setup();
  CHECK_INT(hc_begin(&res, "/slow"), ==, PT_OK);
  CHECK(hc_run_until(&hc_dones, 1, 5000));
  hc_run_for(120);
  hc_check_once(&res, PT_ECANCELED);
  CHECK_INT(res.responses, ==, 1);
  CHECK_INT(res.chunks, ==, 0);
  hc_teardown();
  hc_result_free(&res);
}

static void cancel_before_any_byte(void)
{
  hc_result now = { 0 }, later = { 0 };
  hc_setup();
  /* Cancelled in the same turn it started, before it joined curl. */
  CHECK_INT(hc_begin(&now, "/hang"), ==, PT_OK);
  hc_cancel(&now);
  CHECK_INT(now.done_calls, ==, 0);
  /* Cancelled while connected and waiting for the answer. */
  CHECK_INT(hc_begin(&later, "/hang"), ==, PT_OK);
  hc_run_for(50);
  hc_cancel(&later);
  CHECK(hc_run_until(&hc_dones, 2, 5000));
  hc_check_once(&now, PT_ECANCELED);
  hc_check_once(&later, PT_ECANCELED);
  CHECK_INT(now.responses + later.responses, ==, 0);
  hc_teardown();
}

static void cancel_when_due(uv_timer_t *t)
{
  hc_cancel(t->data);
  uv_close((uv_handle_t *)t, NULL);
}

/* Two causes in one turn: the first-byte clock fires, then the caller
 * cancels before on_done ran. on_done runs once, and the cancel wins. */
static void cancel_after_timeout_decided_reports_cancelled(void)
{
  hc_result res = { 0 };
  pt_http_request req = { .first_byte_timeout_ms = 100 };
  uv_timer_t same_time;
  hc_setup();
  CHECK_INT(hc_begin_url(&res, hc_url("/hang"), &req), ==, PT_OK);
  /* Same due time as the request's clock and started after it, so libuv
   * runs it right after that clock, in the same turn. */
  uv_timer_init(&hc_loop, &same_time);
  same_time.data = &res;
  uv_timer_start(&same_time, cancel_when_due, 100, 0);
  CHECK(hc_run_until(&hc_dones, 1, 5000));
  hc_check_once(&res, PT_ECANCELED);
  hc_teardown();
}

/* The answer comes about when the first-byte clock runs out: whichever
 * wins, each request ends once. Which one wins is not asserted. */
static void clock_racing_the_answer_ends_each_request_once(void)
{
  enum { N = 40 };
  hc_result res[N] = { { 0 } };
  int good = 0;
  hc_setup();
  for (int i = 0; i < N; i++) {
    pt_http_request req = { .first_byte_timeout_ms = 100 };
    char path[32];
    snprintf(path, sizeof path, "/late?ms=%d", 90 + i % 15);
    CHECK_INT(hc_begin_url(&res[i], hc_url(path), &req), ==, PT_OK);
  }
  CHECK(hc_run_until(&hc_dones, N, 5000));
  hc_run_for(50);
  for (int i = 0; i < N; i++) {
    good += res[i].done_calls == 1 && res[i].reentrant == 0 &&
            ((res[i].status == PT_OK && res[i].body &&
              strcmp(res[i].body, "late") == 0) ||
             res[i].status == PT_EFIRSTBYTE);
  }
  CHECK_INT(good, ==, N);
  hc_teardown();
  for (int i = 0; i < N; i++) hc_result_free(&res[i]);
}

static void cancel_other_request_from_on_done(void)
{
  hc_result a = { 0 }, b = { 0 };
  hc_setup();
  CHECK_INT(hc_begin(&b, "/hang"), ==, PT_OK);
  CHECK_INT(hc_begin(&a, "/fast"), ==, PT_OK);
  CHECK(hc_run_until(&hc_dones, 1, 5000));
  CHECK_INT(a.done_calls, ==, 1);
  hc_cancel(&b);
  CHECK(hc_run_until(&hc_dones, 2, 5000));
  hc_check_once(&a, PT_OK);
  hc_check_once(&b, PT_ECANCELED);
  hc_teardown();
  hc_result_free(&a);
}

static void connect_timeout_is_econntimeout(void)
{
  fake_http_dead *dead = fake_http_dead_hanging();
  hc_result res = { 0 };
  pt_http_request req = { .connect_timeout_ms = 200 };
  char u[128], want[256];
  uint64_t t0;
  hc_setup();
  snprintf(u, sizeof u, "http://127.0.0.1:%d/v1/messages?key=secret",
           fake_http_dead_port(dead));
  snprintf(want, sizeof want,
           "connect to http://127.0.0.1:%d/v1/messages timed out after 200 ms",
           fake_http_dead_port(dead));
  uv_update_time(&hc_loop);
  t0 = uv_now(&hc_loop);
  CHECK_INT(hc_begin_url(&res, u, &req), ==, PT_OK);
  CHECK(hc_run_until(&hc_dones, 1, 5000));
  hc_check_once(&res, PT_ECONNTIMEOUT);
  CHECK_STR(res.message, want);
  CHECK_INT(uv_now(&hc_loop) - t0, >=, 150);
  hc_teardown();
  fake_http_dead_close(dead);
}

static void first_byte_timeout_is_efirstbyte(void)
{
  hc_result res = { 0 };
  pt_http_request req = { .first_byte_timeout_ms = 200 };
  hc_setup();
  CHECK_INT(hc_begin_url(&res, hc_url("/hang"), &req), ==, PT_OK);
  CHECK(hc_run_until(&hc_dones, 1, 5000));
  hc_check_once(&res, PT_EFIRSTBYTE);
  CHECK_INT(res.responses, ==, 0);
  CHECK_CONTAINS(res.message, "/hang sent no response within 200 ms");
  hc_teardown();
}

static void idle_timeout_is_eidle(void)
{
  hc_result res = { 0 };
  pt_http_request req = { .idle_timeout_ms = 200 };
  hc_setup();
  /* First-byte clock left at its 120 s default: the idle clock must take
   * over as soon as bytes flow. */
  CHECK_INT(hc_begin_url(&res, hc_url("/drip-hang"), &req), ==, PT_OK);
  CHECK(hc_run_until(&hc_dones, 1, 5000));
  hc_check_once(&res, PT_EIDLE);
  CHECK_INT(res.responses, ==, 1);
  CHECK_STR(res.body, "hello");
  CHECK_CONTAINS(res.message, "went silent for 200 ms");
  hc_teardown();
  hc_result_free(&res);
}

static void idle_clock_restarts_on_every_byte(void)
{
  hc_result res = { 0 };
  pt_http_request req = { .idle_timeout_ms = 400,
                          .first_byte_timeout_ms = 400 };
  hc_setup();
  /* 8 pieces 80 ms apart: 640 ms in all, longer than either clock. */
  CHECK_INT(hc_begin_url(&res, hc_url("/drip?n=8&gap=80"), &req), ==, PT_OK);
  CHECK(hc_run_until(&hc_dones, 1, 5000));
  hc_check_once(&res, PT_OK);
  CHECK_STR(res.body, "drop;drop;drop;drop;drop;drop;drop;drop;");
  hc_teardown();
  hc_result_free(&res);
}

static void total_timeout_is_etimedout(void)
{
  hc_result res = { 0 };
  pt_http_request req = { .total_timeout_ms = 300 };
  hc_setup();
  CHECK_INT(hc_begin_url(&res, hc_url("/drip?n=40&gap=50"), &req), ==, PT_OK);
  CHECK(hc_run_until(&hc_dones, 1, 5000));
  hc_check_once(&res, PT_ETIMEDOUT);
  CHECK_INT(res.responses, ==, 1);
  CHECK_INT(res.body_len, >, 0);
  CHECK_INT(res.body_len, <, 40 * 5);
  CHECK_CONTAINS(res.message, "did not finish within 300 ms");
  hc_teardown();
  hc_result_free(&res);
}

static void connection_refused_is_econnect(void)
{
  fake_http_dead *dead = fake_http_dead_refusing();
  hc_result res = { 0 };
  char u[128], want[192];
  hc_setup();
  snprintf(u, sizeof u, "http://127.0.0.1:%d/x", fake_http_dead_port(dead));
  snprintf(want, sizeof want, "could not connect to %s: ", u);
  CHECK_INT(hc_begin_url(&res, u, NULL), ==, PT_OK);
  CHECK(hc_run_until(&hc_dones, 1, 5000));
  hc_check_once(&res, PT_ECONNECT);
  CHECK_CONTAINS(res.message, want);
  hc_teardown();
  fake_http_dead_close(dead);
}

static void early_close_is_eclosed_with_partial_body(void)
{
  hc_result shrt = { 0 }, empty = { 0 }, reset = { 0 };
  hc_setup();
  CHECK_INT(hc_begin(&shrt, "/short"), ==, PT_OK);
  CHECK_INT(hc_begin(&empty, "/empty"), ==, PT_OK);
  CHECK_INT(hc_begin(&reset, "/reset"), ==, PT_OK);
  CHECK(hc_run_until(&hc_dones, 3, 5000));
  hc_check_once(&shrt, PT_ECLOSED);
  CHECK_INT(shrt.responses, ==, 1);
  CHECK_STR(shrt.body, "0123456789012345678901234567890123456789");
  CHECK_CONTAINS(shrt.message, "closed the connection before the response "
                               "ended (after 40 body bytes)");
  hc_check_once(&empty, PT_ECLOSED);
  CHECK_INT(empty.responses, ==, 0);
  hc_check_once(&reset, PT_ECLOSED);
  CHECK_STR(reset.body, "0123456789");
  hc_teardown();
  hc_result_free(&shrt);
  hc_result_free(&reset);
}

static void close_with_requests_in_flight_cancels_each_once(void)
{
  enum { N = 15 };
  fake_http_dead *dead = fake_http_dead_hanging();
  hc_result res[N] = { { 0 } };
  char u[128];
  hc_setup();
  snprintf(u, sizeof u, "http://127.0.0.1:%d/", fake_http_dead_port(dead));
  for (int i = 0; i < N; i++) res[i].try_start_in_done = 1;
  for (int i = 0; i < 5; i++) CHECK_INT(hc_begin(&res[i], "/hang"), ==, PT_OK);
  for (int i = 5; i < 10; i++)
    CHECK_INT(hc_begin(&res[i], "/drip-hang"), ==, PT_OK);
  for (int i = 10; i < 13; i++)
    CHECK_INT(hc_begin_url(&res[i], u, NULL), ==, PT_OK);
  CHECK(hc_run_until(&hc_bodies, 5, 5000));
  /* Two more that have not joined curl yet. */
  for (int i = 13; i < N; i++) CHECK_INT(hc_begin(&res[i], "/fast"), ==, PT_OK);
  hc_in_api++;
  pt_http_client_close(hc_client);
  hc_in_api--;
  for (int i = 0; i < N; i++) CHECK_INT(res[i].done_calls, ==, 0);
  uv_run(&hc_loop, UV_RUN_DEFAULT); /* frees the client */
  hc_client = NULL;
  for (int i = 0; i < N; i++) {
    hc_check_once(&res[i], PT_ECANCELED);
    CHECK_INT(res[i].start_rc, ==, PT_ESHUTDOWN);
  }
  hc_teardown();
  for (int i = 0; i < N; i++) hc_result_free(&res[i]);
  fake_http_dead_close(dead);
}

static void close_from_inside_on_body(void)
{
  hc_result a = { .close_in_body = 1 }, b = { 0 };
  hc_setup();
  CHECK_INT(hc_begin(&b, "/hang"), ==, PT_OK);
  CHECK_INT(hc_begin(&a, "/slow"), ==, PT_OK);
  CHECK(hc_run_until(&hc_dones, 2, 5000));
  uv_run(&hc_loop, UV_RUN_DEFAULT); /* frees the client */
  hc_client = NULL;
  hc_check_once(&a, PT_ECANCELED);
  hc_check_once(&b, PT_ECANCELED);
  CHECK_INT(a.chunks, ==, 1);
  hc_teardown();
  hc_result_free(&a);
}

int main(void)
{
  hc_init();

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
  RUN(close_with_requests_in_flight_cancels_each_once);
  RUN(close_from_inside_on_body);

  CHECK_INT(uv_loop_close(&hc_loop), ==, 0);
  return check_report();
}
