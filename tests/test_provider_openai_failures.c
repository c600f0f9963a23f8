/*
 * tests/test_provider_openai_failures.c: the bundled openai provider on
 * Chat Completions against a fake OpenAI API when things go wrong: rate
 * limits and server errors (retried, then given up on), error events before
 * and after output, cut connections and bodies without [DONE], a cancel in
 * mid-stream, malformed events, wrong and missing keys, and a JSON answer
 * where a stream was asked for. In every case the chat still ends with
 * exactly one DONE.
 *
 * Not here: streams that go well and the request (test_provider_openai.c);
 * the Responses API's errors (test_provider_openai_responses.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "provider_cases.h"

/* ------------------------------------------------------------------------ */
/* Chat Completions: failures                                                */

/* One chat of PV_OPENAI_SIMPLE against a fresh fake whose first answer is
 * `first(arg)` and whose second is "Hello"; returns how many requests the
 * fake saw. */
static int chat_then_hello(fake_openai_script first, const void *arg,
                           pv_chat *r)
{
  pv_openai e;
  pv_openai_start(&e, PV_OPENAI_KEY, "");
  fake_openai_push(e.fo, first, arg);
  fake_openai_push(e.fo, pv_openai_script_hello, NULL);
  pv_openai_chat(&e, PV_OPENAI_SIMPLE, r);
  int requests = fake_openai_count(e.fo);
  pv_openai_stop(&e);
  return requests;
}

static void script_429(fake_http_response *res, const void *arg)
{
  fake_openai_error(res, 429, "requests", "rate_limit_exceeded",
                    "Rate limit reached for gpt-4o-mini on requests per min "
                    "(RPM): Limit 3, Used 3, Requested 1. Please try again "
                    "in 1s.",
                    "retry-after: 1\r\n");
}

static void script_500(fake_http_response *res, const void *arg)
{
  fake_openai_error(res, 500, "server_error", NULL,
                    "The server had an error while processing your request. "
                    "Sorry about that!",
                    NULL);
}

static void a_429_waits_retry_after_then_succeeds_once(void)
{
  pv_openai e;
  pv_openai_start(&e, PV_OPENAI_KEY, "");
  fake_openai_push(e.fo, script_429, NULL);
  fake_openai_push(e.fo, pv_openai_script_hello, NULL);
  uint64_t t0 = h_now_ms();
  pv_chat r;
  pv_openai_chat(&e, PV_OPENAI_SIMPLE, &r);
  CHECK_INT(h_now_ms() - t0, >=, 950);
  CHECK_INT(fake_openai_count(e.fo), ==, 2);
  CHECK_STR(r.text, "Hello");
  CHECK_INT(r.status, ==, PT_OK);
  pv_openai_stop(&e);
}

static void a_500_is_retried_then_succeeds(void)
{
  pv_chat r;
  CHECK_INT(chat_then_hello(script_500, NULL, &r), ==, 2);
  CHECK_STR(r.text, "Hello");
  CHECK_INT(r.stop, ==, PT_STOP_END_TURN);
}

static void repeated_500s_exhaust_the_retries(void)
{
  pv_openai e;
  pv_openai_start(&e, PV_OPENAI_KEY, "max_attempts = 3");
  for (int i = 0; i < 3; i++) fake_openai_push(e.fo, script_500, NULL);
  pv_chat r;
  pv_openai_chat(&e, PV_OPENAI_SIMPLE, &r);
  CHECK_INT(fake_openai_count(e.fo), ==, 3);
  CHECK_INT(r.status, ==, PT_EHTTP);
  CHECK_INT(r.stop, ==, PT_STOP_ERROR);
  CHECK(r.flags & PT_EVF_RETRYABLE);
  CHECK_STR(r.error_type, "server_error");
  CHECK_CONTAINS(r.message, "HTTP 500");
  CHECK_CONTAINS(r.message, "after 3 attempts");
  pv_openai_stop(&e);
}

/* arg: text sent before the error, or NULL. */
static void script_error_event(fake_http_response *res, const void *arg)
{
  fake_openai_stream s;
  fos_init(&s);
  fos_chunk(&s, pv_q(PV_OPENAI_ROLE), NULL);
  if (arg) {
    char delta[128];
    snprintf(delta, sizeof delta, "{'content':'%s'}", (const char *)arg);
    fos_chunk(&s, pv_q(delta), NULL);
  }
  fos_data(&s, "%s", pv_q("{'error':{'message':'The server is overloaded, "
                          "please try again later.','type':'server_error',"
                          "'param':null,'code':'overloaded'}}"));
  fake_openai_sse_head(res);
  fake_openai_send_events(res, &s, 2, 1);
  fos_free(&s);
}

static void an_error_event_before_any_output_is_retried(void)
{
  pv_chat r;
  CHECK_INT(chat_then_hello(script_error_event, NULL, &r), ==, 2);
  CHECK_STR(r.text, "Hello");
  CHECK_INT(r.status, ==, PT_OK);
}

static void an_error_event_after_output_ends_the_chat_retryable(void)
{
  pv_chat r;
  CHECK_INT(chat_then_hello(script_error_event, "Partial", &r), ==, 1);
  CHECK_STR(r.text, "Partial");
  CHECK_INT(r.status, ==, PT_EHTTP);
  CHECK_INT(r.stop, ==, PT_STOP_ERROR);
  CHECK(r.flags & PT_EVF_RETRYABLE);
  CHECK_STR(r.error_type, "server_error");
  CHECK_CONTAINS(r.message, "overloaded");
}

/* arg: text sent before the connection is cut, or NULL. */
static void script_cut(fake_http_response *res, const void *arg)
{
  fake_openai_stream s;
  fos_init(&s);
  fos_chunk(&s, pv_q(PV_OPENAI_ROLE), NULL);
  if (arg) {
    fos_chunk(&s, pv_q("{'content':'Par'}"), NULL);
    fos_chunk(&s, pv_q("{'content':'tial'}"), NULL);
  }
  fake_openai_sse_head(res);
  fake_openai_send_events(res, &s, 5, 0);
  fake_http_close(res);
  fos_free(&s);
}

static void a_cut_connection_keeps_the_text_and_ends_closed(void)
{
  pv_openai e;
  pv_openai_start(&e, PV_OPENAI_KEY, "");
  fake_openai_push(e.fo, script_cut, "yes");
  pv_chat r;
  pv_openai_chat(&e, PV_OPENAI_SIMPLE, &r);
  CHECK_INT(fake_openai_count(e.fo), ==, 1);
  CHECK_STR(r.text, "Partial");
  CHECK_INT(r.status, ==, PT_ECLOSED);
  CHECK_INT(r.stop, ==, PT_STOP_ERROR);
  CHECK(r.flags & PT_EVF_RETRYABLE);
  CHECK_CONTAINS(r.message, "[DONE]");
  pv_openai_stop(&e);
}

static void a_cut_before_any_output_is_retried(void)
{
  pv_chat r;
  CHECK_INT(chat_then_hello(script_cut, NULL, &r), ==, 2);
  CHECK_STR(r.text, "Hello");
  CHECK_INT(r.status, ==, PT_OK);
}

/* arg nonzero: a finish_reason comes before the body ends. */
static void script_no_done(fake_http_response *res, const void *arg)
{
  fake_openai_stream s;
  fos_init(&s);
  fos_chunk(&s, pv_q("{'content':'Hi'}"), arg ? "stop" : NULL);
  fake_openai_sse_head(res);
  fake_openai_send_events(res, &s, 0, 1);
  fos_free(&s);
}

static void a_body_ending_without_done_is_closed_unless_it_finished(void)
{
  pv_openai e;
  pv_openai_start(&e, PV_OPENAI_KEY, "max_attempts = 1");
  fake_openai_push(e.fo, script_no_done, NULL);
  fake_openai_push(e.fo, script_no_done, "finished");
  pv_chat r;
  pv_openai_chat(&e, PV_OPENAI_SIMPLE, &r);
  CHECK_INT(r.status, ==, PT_ECLOSED);
  CHECK(r.flags & PT_EVF_RETRYABLE);
  CHECK_STR(r.text, "Hi");
  pv_openai_chat(&e, PV_OPENAI_SIMPLE, &r);
  CHECK_INT(r.status, ==, PT_OK);
  CHECK_INT(r.stop, ==, PT_STOP_END_TURN);
  CHECK_STR(r.text, "Hi");
  pv_openai_stop(&e);
}

static void script_slow(fake_http_response *res, const void *arg)
{
  fake_openai_stream s;
  fos_init(&s);
  for (int i = 0; i < 100; i++)
    fos_chunk(&s, pv_q("{'content':'tick '}"), NULL);
  fos_chunk(&s, "{}", "stop");
  fos_done(&s);
  fake_openai_sse_head(res);
  fake_openai_send_events(res, &s, 50, 1);
  fos_free(&s);
}

static void cancelling_a_slow_stream_closes_its_connection(void)
{
  pv_openai e;
  pv_openai_start(&e, PV_OPENAI_KEY, "");
  fake_openai_push(e.fo, script_slow, NULL);
  pv_chat r;
  pt_op_impl *op = pv_openai_chat_start(&e, PV_OPENAI_SIMPLE, &r);
  pv_run_until_text(e.f.k, &r, 10, 5000);
  CHECK_INT(r.text_len, >=, 10);
  CHECK_INT(fake_openai_established(e.fo), ==, 1);
  pt_op_cancel(op);
  h_run_until(e.f.k, &r.done, 5000);
  CHECK_INT(r.done, ==, 1);
  CHECK_INT(r.status, ==, PT_ECANCELED);
  CHECK_INT(r.stop, ==, PT_STOP_CANCELLED);
  uint64_t t0 = h_now_ms();
  while (fake_openai_established(e.fo) != 0 && h_now_ms() - t0 < 3000)
    pt_kernel_spin(e.f.k, 10);
  CHECK_INT(fake_openai_established(e.fo), ==, 0);
  pt_kernel_spin(e.f.k, 100);
  CHECK_INT(r.after_done, ==, 0);
  CHECK(strstr(r.text, "tick tick") == r.text);
  pv_openai_stop(&e);
}

static void script_malformed(fake_http_response *res, const void *arg)
{
  fake_openai_stream s;
  fos_init(&s);
  fos_chunk(&s, pv_q("{'content':'ok '}"), NULL);
  fos_raw(&s, "data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}\n\n");
  fos_done(&s);
  fake_openai_sse_head(res);
  fake_openai_send_events(res, &s, 0, 1);
  fos_free(&s);
}

static void a_malformed_event_fails_with_eproto_and_the_next_chat_works(void)
{
  pv_openai e;
  pv_openai_start(&e, PV_OPENAI_KEY, "");
  fake_openai_push(e.fo, script_malformed, NULL);
  fake_openai_push(e.fo, pv_openai_script_hello, NULL);
  pv_chat r;
  pv_openai_chat(&e, PV_OPENAI_SIMPLE, &r);
  CHECK_INT(r.status, ==, PT_EPROTO);
  CHECK_INT(r.stop, ==, PT_STOP_ERROR);
  CHECK(!(r.flags & PT_EVF_RETRYABLE));
  CHECK_CONTAINS(r.message, "not the JSON object");
  CHECK_CONTAINS(r.message, "{\"choices\"");
  CHECK_INT(fake_openai_count(e.fo), ==, 1);
  pv_openai_chat(&e, PV_OPENAI_SIMPLE, &r);
  CHECK_STR(r.text, "Hello");
  CHECK_INT(r.status, ==, PT_OK);
  pv_openai_stop(&e);
}

static void a_wrong_key_is_eperm_naming_the_setting_not_the_key(void)
{
  pv_openai e;
  pv_openai_start(&e, PV_OPENAI_KEY, "");
  fake_openai_require_key(e.fo, "sk-the-right-key-000000000000");
  pv_chat r;
  pv_openai_chat(&e, PV_OPENAI_SIMPLE, &r);
  CHECK_INT(fake_openai_count(e.fo), ==, 1);
  CHECK_INT(r.status, ==, PT_EPERM);
  CHECK(!(r.flags & PT_EVF_RETRYABLE));
  CHECK_CONTAINS(r.message, "plugins.openai.api_key");
  CHECK_CONTAINS(r.message, "OPENAI_API_KEY");
  CHECK_CONTAINS(r.message, "invalid_api_key");
  CHECK(strstr(r.message, PV_OPENAI_KEY) == NULL);
  CHECK(strstr(r.message, "sk-test") == NULL);
  CHECK(strstr(r.message, "0123") == NULL);
  pv_openai_stop(&e);
}

/* arg NULL: an error object; else a whole (unstreamed) completion. */
static void script_json_200(fake_http_response *res, const void *arg)
{
  fake_http_respond(res, 200, "application/json",
                    arg ? pv_q("{'id':'chatcmpl-1','object':'chat.completion',"
                               "'choices':[{'index':0,'message':{'role':"
                               "'assistant','content':'Hi'},'finish_reason':"
                               "'stop'}]}")
                        : pv_q("{'error':{'message':'Invalid model name',"
                               "'type':'invalid_request_error','param':'model',"
                               "'code':null}}"));
}

static void a_json_answer_instead_of_a_stream_is_read_not_retried(void)
{
  pv_openai e;
  pv_openai_start(&e, PV_OPENAI_KEY, "");
  fake_openai_push(e.fo, script_json_200, NULL);
  fake_openai_push(e.fo, script_json_200, "completion");
  pv_chat r;
  pv_openai_chat(&e, PV_OPENAI_SIMPLE, &r);
  CHECK_INT(r.status, ==, PT_EINVAL);
  CHECK_STR(r.error_type, "invalid_request_error");
  CHECK_CONTAINS(r.message, "Invalid model name");
  pv_openai_chat(&e, PV_OPENAI_SIMPLE, &r);
  CHECK_INT(r.status, ==, PT_EPROTO);
  CHECK_CONTAINS(r.message, "not an event stream");
  CHECK_INT(fake_openai_count(e.fo), ==, 2);
  pv_openai_stop(&e);
}

static void without_a_key_no_authorization_header_is_sent(void)
{
  pv_openai e;
  pv_openai_start(&e, NULL, "");
  fake_openai_push(e.fo, pv_openai_script_hello, NULL);
  pv_chat r;
  pv_openai_chat(&e, PV_OPENAI_SIMPLE, &r);
  CHECK_STR(r.text, "Hello");
  char h[256];
  CHECK(fake_openai_header(fake_openai_get(e.fo, 0), "Authorization", h,
                           sizeof h) == NULL);
  fake_openai_require_key(e.fo, PV_OPENAI_KEY);
  pv_openai_chat(&e, PV_OPENAI_SIMPLE, &r);
  CHECK_INT(r.status, ==, PT_EPERM);
  CHECK_CONTAINS(r.message, "none is set");
  CHECK_CONTAINS(r.message, "OPENAI_API_KEY");
  pv_openai_stop(&e);
}

int main(void)
{
  pv_init("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_ORG_ID",
          "OPENAI_PROJECT_ID", NULL);
  RUN(a_429_waits_retry_after_then_succeeds_once);
  RUN(a_500_is_retried_then_succeeds);
  RUN(repeated_500s_exhaust_the_retries);
  RUN(an_error_event_before_any_output_is_retried);
  RUN(an_error_event_after_output_ends_the_chat_retryable);
  RUN(a_cut_connection_keeps_the_text_and_ends_closed);
  RUN(a_cut_before_any_output_is_retried);
  RUN(a_body_ending_without_done_is_closed_unless_it_finished);
  RUN(cancelling_a_slow_stream_closes_its_connection);
  RUN(a_malformed_event_fails_with_eproto_and_the_next_chat_works);
  RUN(a_wrong_key_is_eperm_naming_the_setting_not_the_key);
  RUN(without_a_key_no_authorization_header_is_sent);
  RUN(a_json_answer_instead_of_a_stream_is_read_not_retried);
  return check_report();
}
