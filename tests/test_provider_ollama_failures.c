/*
 * tests/test_provider_ollama_failures.c: the bundled ollama.so against a
 * fake Ollama server when things go wrong: busy and crashed servers
 * (retried, then given up on), models that cannot load (never retried),
 * error lines before and after output, a cut connection, a cancel in
 * mid-stream, malformed lines, a wrong key and a model not pulled. In every
 * case the chat still ends with exactly one DONE.
 *
 * Not here: streams that go well (test_provider_ollama.c) and the requests
 * (test_provider_ollama_request.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "provider_cases.h"

/* ------------------------------------------------------------------------ */
/* Errors and retries                                                        */

/* One chat of PV_OLLAMA_SIMPLE against a fresh fake answering with
 * `fn(ud)`, run to its DONE; returns how many chat requests the fake saw. */
static int chat_once(fake_ollama_chat_fn fn, void *ud, pv_chat *r)
{
  pv_ollama e;
  pv_ollama_start(&e, fn, ud, NULL);
  pv_ollama_chat(&e, PV_OLLAMA_SIMPLE, r);
  int requests = fake_ollama_chat_count(e.srv);
  pv_ollama_stop(&e);
  return requests;
}

static void busy_then_ok(void *ud, int attempt, const fake_http_request *req,
                         fake_http_response *res)
{
  if (attempt == 0)
    fake_ollama_fail(res, 429, "too many requests", "Retry-After: 1\r\n");
  else
    pv_ollama_send_hello(res);
}

static void a_429_waits_for_retry_after_then_succeeds_once(void)
{
  pv_ollama e;
  pv_ollama_start(&e, busy_then_ok, NULL, NULL);
  pv_chat r;
  uint64_t t0 = h_now_ms();
  pv_ollama_chat(&e, PV_OLLAMA_SIMPLE, &r);
  CHECK_INT(h_now_ms() - t0, >=, 1000);
  CHECK_INT(fake_ollama_chat_count(e.srv), ==, 2);
  CHECK_STR(r.text, "Hello");
  CHECK_INT(r.status, ==, PT_OK);
  pv_ollama_stop(&e);
}

static void crash_then_ok(void *ud, int attempt, const fake_http_request *req,
                          fake_http_response *res)
{
  if (attempt == 0)
    fake_ollama_fail(res, 500,
                     "llama runner process has terminated: signal: killed",
                     NULL);
  else
    pv_ollama_send_hello(res);
}

static void a_500_is_retried_then_succeeds(void)
{
  pv_chat r;
  CHECK_INT(chat_once(crash_then_ok, NULL, &r), ==, 2);
  CHECK_STR(r.text, "Hello");
  CHECK_INT(r.status, ==, PT_OK);
}

static void always_500(void *ud, int attempt, const fake_http_request *req,
                       fake_http_response *res)
{
  fake_ollama_fail(res, 500, (const char *)ud, NULL);
}

static void a_500_repeated_ends_retryable_after_the_last_attempt(void)
{
  pv_chat r;
  CHECK_INT(chat_once(always_500,
                      "an error was encountered while running the model", &r),
            ==, 4);
  CHECK_INT(r.status, ==, PT_EHTTP);
  CHECK_INT(r.stop, ==, PT_STOP_ERROR);
  CHECK(r.flags & PT_EVF_RETRYABLE);
  CHECK_CONTAINS(r.message, "HTTP 500");
  CHECK_CONTAINS(r.message, "running the model");
  CHECK_CONTAINS(r.message, "4 attempts");
}

static void a_model_that_cannot_load_is_not_retried(void)
{
  pv_chat r;
  CHECK_INT(chat_once(always_500,
                      "llama runner process has terminated: error loading "
                      "model: unable to allocate CUDA0 buffer", &r),
            ==, 1);
  CHECK_INT(r.status, ==, PT_EHTTP);
  CHECK(!(r.flags & PT_EVF_RETRYABLE));
  CHECK_CONTAINS(r.message, "error loading model");
}

static void stream_error(void *ud, int attempt, const fake_http_request *req,
                         fake_http_response *res)
{
  const char *mode = ud;
  fake_ollama_text t = { 0 };
  if (strcmp(mode, "before") == 0 && attempt > 0) {
    pv_ollama_send_hello(res);
    return;
  }
  if (strcmp(mode, "after") == 0) fake_ollama_add_content(&t, "Hello");
  fake_ollama_add_error(&t, strcmp(mode, "loading") == 0
                                ? "llama runner process has terminated: "
                                  "error loading model: bad magic"
                            : strcmp(mode, "before") == 0
                                ? "server busy, please try again.  maximum "
                                  "pending requests exceeded"
                                : "an error was encountered while running "
                                  "the model");
  fake_ollama_head(res);
  fake_ollama_send_trickle(res, t.s, 6, 1);
  fake_ollama_end(res);
  fake_ollama_text_free(&t);
}

static void an_error_line_before_any_output_is_retried(void)
{
  pv_chat r;
  CHECK_INT(chat_once(stream_error, "before", &r), ==, 2);
  CHECK_STR(r.text, "Hello");
  CHECK_INT(r.status, ==, PT_OK);
}

static void an_error_line_after_output_ends_the_chat_retryable(void)
{
  pv_chat r;
  CHECK_INT(chat_once(stream_error, "after", &r), ==, 1);
  CHECK_STR(r.text, "Hello");
  CHECK_INT(r.status, ==, PT_EHTTP);
  CHECK_INT(r.stop, ==, PT_STOP_ERROR);
  CHECK(r.flags & PT_EVF_RETRYABLE);
  CHECK_CONTAINS(r.message, "error was encountered while running the model");
}

static void an_error_line_about_loading_the_model_is_not_retried(void)
{
  pv_chat r;
  CHECK_INT(chat_once(stream_error, "loading", &r), ==, 1);
  CHECK_INT(r.status, ==, PT_EHTTP);
  CHECK(!(r.flags & PT_EVF_RETRYABLE));
  CHECK_CONTAINS(r.message, "error loading model");
}

static void cut_midway(void *ud, int attempt, const fake_http_request *req,
                       fake_http_response *res)
{
  fake_ollama_text t = { 0 };
  fake_ollama_add_content(&t, "Partial ");
  fake_ollama_add_content(&t, "text");
  fake_ollama_add_content(&t, " never seen");
  fake_ollama_head(res);
  /* Up to the middle of the third line, then the server goes away. */
  fake_http_chunk(res, t.s, (size_t)(strstr(t.s, "never") - t.s));
  fake_http_wait(res, 20);
  fake_http_close(res);
  fake_ollama_text_free(&t);
}

static void a_connection_cut_midway_keeps_the_text_and_ends_closed(void)
{
  pv_chat r;
  CHECK_INT(chat_once(cut_midway, NULL, &r), ==, 1);
  CHECK_STR(r.text, "Partial text");
  CHECK_INT(r.status, ==, PT_ECLOSED);
  CHECK(r.flags & PT_EVF_RETRYABLE);
}

static void slow_stream(void *ud, int attempt, const fake_http_request *req,
                        fake_http_response *res)
{
  fake_ollama_text t = { 0 };
  fake_ollama_head(res);
  for (int i = 0; i < 200; i++) {
    t.len = 0;
    fake_ollama_add_content(&t, "word ");
    fake_http_chunk(res, t.s, t.len);
    fake_http_wait(res, i < 3 ? 10 : 100);
  }
  fake_ollama_end(res);
  fake_ollama_text_free(&t);
}

static void cancelling_a_slow_stream_closes_its_connection(void)
{
  pv_ollama e;
  pv_ollama_start(&e, slow_stream, NULL, NULL);
  pv_chat r;
  pt_op_impl *op = pv_chat_start(e.f.k, "ollama", PV_OLLAMA_SIMPLE, &r);
  pv_run_until_text(e.f.k, &r, 15, 5000);
  CHECK_INT(r.text_len, >=, 15);
  CHECK_INT(fake_ollama_open_connections(e.srv), ==, 1);
  pt_op_cancel(op);
  pv_ollama_finish(&e, &r, 3000);
  CHECK_INT(r.status, ==, PT_ECANCELED);
  CHECK_INT(r.stop, ==, PT_STOP_CANCELLED);
  CHECK(strncmp(r.text, "word word word ", 15) == 0);
  uint64_t t0 = h_now_ms();
  while (fake_ollama_open_connections(e.srv) != 0 && h_now_ms() - t0 < 3000)
    pt_kernel_spin(e.f.k, 10);
  CHECK_INT(fake_ollama_open_connections(e.srv), ==, 0);
  pv_ollama_stop(&e);
}

static void malformed_then_ok(void *ud, int attempt,
                              const fake_http_request *req,
                              fake_http_response *res)
{
  if (attempt == 2) {
    pv_ollama_send_hello(res);
    return;
  }
  fake_ollama_text t = { 0 };
  fake_ollama_add_content(&t, "ok ");
  if (attempt == 0)
    fake_ollama_add(&t, "{\"message\":{\"content\":\"x\"}\n");
  else
    fake_ollama_add_tool_calls(&t, "[{\"function\":{\"arguments\":{}}}]");
  fake_ollama_add_done(&t, "stop", 1, 1);
  fake_ollama_head(res);
  fake_ollama_send_trickle(res, t.s, 8, 1);
  fake_ollama_end(res);
  fake_ollama_text_free(&t);
}

static void a_malformed_line_fails_the_chat_and_the_next_one_works(void)
{
  pv_ollama e;
  pv_ollama_start(&e, malformed_then_ok, NULL, NULL);
  pv_chat r;
  pv_ollama_chat(&e, PV_OLLAMA_SIMPLE, &r);
  CHECK_INT(r.status, ==, PT_EPROTO);
  CHECK(!(r.flags & PT_EVF_RETRYABLE));
  CHECK_CONTAINS(r.message, "not a JSON object");
  CHECK_CONTAINS(r.message, "{\"message\":{\"content\":\"x\"}");
  CHECK_STR(r.text, "ok ");
  pv_ollama_chat(&e, PV_OLLAMA_SIMPLE, &r);
  CHECK_INT(r.status, ==, PT_EPROTO);
  CHECK_CONTAINS(r.message, "not a list of named functions");
  CHECK_INT(r.starts, ==, 0);
  pv_ollama_chat(&e, PV_OLLAMA_SIMPLE, &r);
  CHECK_INT(r.status, ==, PT_OK);
  CHECK_STR(r.text, "Hello");
  pv_ollama_stop(&e);
}

static void unauthorized(void *ud, int attempt, const fake_http_request *req,
                         fake_http_response *res)
{
  fake_ollama_fail(res, 401, "unauthorized", NULL);
}

static void a_wrong_api_key_says_which_setting_to_fix_without_the_key(void)
{
  pv_ollama e;
  pv_ollama_start(&e, unauthorized, NULL, "api_key = 'sk-wrong-0123456789'");
  pv_chat r;
  pv_ollama_chat(&e, PV_OLLAMA_SIMPLE, &r);
  CHECK_INT(fake_ollama_chat_count(e.srv), ==, 1);
  CHECK_INT(r.status, ==, PT_EPERM);
  CHECK(!(r.flags & PT_EVF_RETRYABLE));
  CHECK_CONTAINS(r.message, "plugins.ollama.api_key");
  CHECK_CONTAINS(r.message, "OLLAMA_API_KEY");
  CHECK(strstr(r.message, "sk-wrong") == NULL);
  fake_ollama_seen s;
  fake_ollama_seen_get(e.srv, 0, &s);
  CHECK_STR(fake_ollama_seen_header(&s, "Authorization"),
            "Bearer sk-wrong-0123456789");
  fake_ollama_seen_free(&s);
  pv_ollama_stop(&e);
}

static void not_pulled(void *ud, int attempt, const fake_http_request *req,
                       fake_http_response *res)
{
  fake_ollama_fail(res, 404,
                   "model \\\"llama9\\\" not found, try pulling it first", NULL);
}

static void a_model_not_pulled_is_refused_with_the_way_out(void)
{
  pv_chat r;
  CHECK_INT(chat_once(not_pulled, NULL, &r), ==, 1);
  CHECK_INT(r.status, ==, PT_EINVAL);
  CHECK_CONTAINS(r.message, "model \"llama9\" not found");
  CHECK_CONTAINS(r.message, "ollama pull");
}

int main(void)
{
  pv_init("OLLAMA_HOST", "OLLAMA_API_KEY", NULL);
  RUN(a_429_waits_for_retry_after_then_succeeds_once);
  RUN(a_500_is_retried_then_succeeds);
  RUN(a_500_repeated_ends_retryable_after_the_last_attempt);
  RUN(a_model_that_cannot_load_is_not_retried);
  RUN(an_error_line_before_any_output_is_retried);
  RUN(an_error_line_after_output_ends_the_chat_retryable);
  RUN(an_error_line_about_loading_the_model_is_not_retried);
  RUN(a_connection_cut_midway_keeps_the_text_and_ends_closed);
  RUN(cancelling_a_slow_stream_closes_its_connection);
  RUN(a_malformed_line_fails_the_chat_and_the_next_one_works);
  RUN(a_wrong_api_key_says_which_setting_to_fix_without_the_key);
  RUN(a_model_not_pulled_is_refused_with_the_way_out);
  return check_report();
}
