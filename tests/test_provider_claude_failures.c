/*
 * tests/test_provider_claude_failures.c: the bundled claude provider against
 * a fake Anthropic API when things go wrong: rate limits and server errors
 * (retried, then given up on), error events before and after output, cut
 * connections, a cancel in mid-stream, malformed events and a wrong key. In
 * every case the chat still ends with exactly one DONE.
 *
 * Not here: streams that go well (test_provider_claude.c) and the request
 * (test_provider_claude_request.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "provider_cases.h"

/* ------------------------------------------------------------------------ */
/* Retries and errors                                                        */

/* One chat of PV_CLAUDE_HELLO against a fresh fake whose first answer is
 * `first` and whose second is `text`; returns how many requests the fake
 * saw. */
static size_t chat_then_text(fake_anthropic_reply first, const char *text,
                             pv_chat *r)
{
  pv_claude e;
  pv_claude_start(&e, NULL);
  fake_anthropic_push(e.fa, first, NULL);
  fake_anthropic_push(e.fa, pv_claude_reply_text, (void *)text);
  pv_claude_chat(&e, PV_CLAUDE_HELLO, r);
  size_t requests = fake_anthropic_request_count(e.fa);
  pv_claude_stop(&e);
  return requests;
}

static const char *const RATE_LIMITED[] = {
  "429", "rate_limit_error", "Number of request tokens has exceeded your "
  "per-minute rate limit", "retry-after: 1\r\n"
};
static const char *const SERVER_ERROR[] = { "500", "api_error",
                                            "Internal server error", NULL };
static const char *const OVERLOADED[] = { "529", "overloaded_error",
                                          "Overloaded", NULL };

static void a_429_waits_for_retry_after_then_succeeds_once(void)
{
  pv_claude e;
  pv_claude_start(&e, NULL);
  fake_anthropic_push(e.fa, pv_claude_reply_error, (void *)RATE_LIMITED);
  fake_anthropic_push(e.fa, pv_claude_reply_text, "Hello");
  pv_chat r;
  pv_claude_chat(&e, PV_CLAUDE_HELLO, &r);
  CHECK_INT(r.status, ==, PT_OK);
  CHECK_STR(r.text, "Hello");
  CHECK_INT(fake_anthropic_request_count(e.fa), ==, 2);
  const fake_anthropic_request *a = fake_anthropic_request_at(e.fa, 0);
  const fake_anthropic_request *b = fake_anthropic_request_at(e.fa, 1);
  CHECK_INT(b->at_ms - a->at_ms, >=, 950);
  CHECK_STR(a->body, b->body);
  pv_claude_stop(&e);
}

static void a_500_then_success_is_retried(void)
{
  pv_claude e;
  pv_claude_start(&e, NULL);
  fake_anthropic_push(e.fa, pv_claude_reply_error, (void *)SERVER_ERROR);
  fake_anthropic_push(e.fa, pv_claude_reply_error, (void *)OVERLOADED);
  fake_anthropic_push(e.fa, pv_claude_reply_text, "Recovered");
  pv_chat r;
  pv_claude_chat(&e, PV_CLAUDE_HELLO, &r);
  CHECK_INT(r.status, ==, PT_OK);
  CHECK_STR(r.text, "Recovered");
  CHECK_INT(fake_anthropic_request_count(e.fa), ==, 3);
  pv_claude_stop(&e);
}

static void a_500_every_time_ends_retryable_after_the_last_attempt(void)
{
  pv_claude e;
  pv_claude_start(&e, NULL);
  fake_anthropic_push(e.fa, pv_claude_reply_error, (void *)SERVER_ERROR);
  pv_chat r;
  pv_claude_chat(&e, PV_CLAUDE_HELLO, &r);
  CHECK_INT(fake_anthropic_request_count(e.fa), ==, 4);
  CHECK_INT(r.status, ==, PT_EHTTP);
  CHECK_INT(r.stop, ==, PT_STOP_ERROR);
  CHECK(r.flags & PT_EVF_RETRYABLE);
  CHECK_STR(r.error_type, "api_error");
  CHECK_CONTAINS(r.message, "HTTP 500");
  CHECK_CONTAINS(r.message, "Internal server error");
  CHECK_CONTAINS(r.message, "4 attempts");
  CHECK_CONTAINS(r.message, "request-id req_fake");
  CHECK_INT(r.text_len, ==, 0);
  pv_claude_stop(&e);
}

static void reply_overloaded_event(void *ud, fake_http_response *res)
{
  fa_sse s = { 0 };
  fa_sse_message_start(&s, 10, 0, 0);
  fa_sse_ping(&s);
  if (ud) {
    fa_sse_text_start(&s, 0);
    fa_sse_text_delta(&s, 0, ud);
  }
  fa_sse_error(&s, "overloaded_error", "Overloaded");
  fake_anthropic_send_stream(res, &s, 1);
  fa_sse_free(&s);
}

static void an_error_event_before_any_output_is_retried(void)
{
  pv_chat r;
  CHECK_INT(chat_then_text(reply_overloaded_event, "Second try", &r), ==, 2);
  CHECK_INT(r.status, ==, PT_OK);
  CHECK_STR(r.text, "Second try");
}

static void an_error_event_after_output_ends_the_chat_retryable(void)
{
  pv_claude e;
  pv_claude_start(&e, NULL);
  fake_anthropic_push(e.fa, reply_overloaded_event, "Partial answ");
  pv_chat r;
  pv_claude_chat(&e, PV_CLAUDE_HELLO, &r);
  CHECK_INT(fake_anthropic_request_count(e.fa), ==, 1);
  CHECK_STR(r.text, "Partial answ");
  CHECK_INT(r.status, ==, PT_EHTTP);
  CHECK_INT(r.stop, ==, PT_STOP_ERROR);
  CHECK(r.flags & PT_EVF_RETRYABLE);
  CHECK_STR(r.error_type, "overloaded_error");
  CHECK_CONTAINS(r.message, "Overloaded");
  pv_claude_stop(&e);
}

static void reply_cut(void *ud, fake_http_response *res)
{
  fa_sse s = { 0 };
  fa_sse_message_start(&s, 10, 0, 0);
  if (ud) {
    fa_sse_text_start(&s, 0);
    fa_sse_text_delta(&s, 0, ud);
    /* Half of the next event, then the connection goes. */
    fa_sse_text_delta(&s, 0, "never seen");
    s.len -= 30;
  }
  fake_anthropic_stream_head(res);
  fake_anthropic_send_split(res, s.text, s.len, 1);
  fake_http_close(res);
  fa_sse_free(&s);
}

static void a_cut_connection_keeps_the_text_and_ends_retryable(void)
{
  pv_claude e;
  pv_claude_start(&e, NULL);
  fake_anthropic_push(e.fa, reply_cut, "Some text \xc3\xa9");
  pv_chat r;
  pv_claude_chat(&e, PV_CLAUDE_HELLO, &r);
  CHECK_INT(fake_anthropic_request_count(e.fa), ==, 1);
  CHECK_STR(r.text, "Some text \xc3\xa9");
  CHECK_INT(r.status, ==, PT_ECLOSED);
  CHECK_INT(r.stop, ==, PT_STOP_ERROR);
  CHECK(r.flags & PT_EVF_RETRYABLE);
  pv_claude_stop(&e);
}

static void a_cut_before_any_output_is_retried(void)
{
  pv_chat r;
  CHECK_INT(chat_then_text(reply_cut, "Whole", &r), ==, 2);
  CHECK_INT(r.status, ==, PT_OK);
  CHECK_STR(r.text, "Whole");
}

static void reply_slow(void *ud, fake_http_response *res)
{
  fa_sse s = { 0 };
  fa_sse_message_start(&s, 10, 0, 0);
  fa_sse_text_start(&s, 0);
  fake_anthropic_stream_head(res);
  fake_http_chunk(res, s.text, s.len);
  for (int i = 0; i < 500; i++) {
    fa_sse d = { 0 };
    fa_sse_text_delta(&d, 0, "tick ");
    fake_http_chunk(res, d.text, d.len);
    fake_http_wait(res, 20);
    fa_sse_free(&d);
  }
  fake_http_chunk_end(res);
  fa_sse_free(&s);
}

static void cancelling_a_slow_stream_ends_it_and_closes_the_connection(void)
{
  pv_claude e;
  pv_claude_start(&e, NULL);
  fake_anthropic_push(e.fa, reply_slow, NULL);
  pv_chat r;
  pt_op_impl *op = pv_chat_start(e.f.k, "claude", PV_CLAUDE_HELLO, &r);
  pv_run_until_text(e.f.k, &r, 10, 5000);
  CHECK_INT(r.text_len, >=, 10);
  CHECK_INT(fake_anthropic_open_connections(e.fa), ==, 1);
  pt_op_cancel(op);
  pt_op_cancel(op);
  h_run_until(e.f.k, &r.done, 5000);
  uint64_t t0 = h_now_ms();
  while (fake_anthropic_open_connections(e.fa) > 0 && h_now_ms() - t0 < 3000)
    pt_kernel_spin(e.f.k, 5);
  CHECK_INT(fake_anthropic_open_connections(e.fa), ==, 0);
  CHECK_INT(r.done, ==, 1);
  CHECK_INT(r.after_done, ==, 0);
  CHECK_INT(r.status, ==, PT_ECANCELED);
  CHECK_INT(r.stop, ==, PT_STOP_CANCELLED);
  CHECK_INT(fake_anthropic_request_count(e.fa), ==, 1);
  CHECK(r.text_len < 500 * 5);
  pv_claude_stop(&e);
}

static void reply_malformed(void *ud, fake_http_response *res)
{
  fa_sse s = { 0 };
  fa_sse_message_start(&s, 10, 0, 0);
  fa_sse_text_start(&s, 0);
  fa_sse_text_delta(&s, 0, "ok ");
  fa_sse_event(&s, "content_block_delta", "%s", (const char *)ud);
  fa_sse_text_delta(&s, 0, "after");
  fa_sse_block_stop(&s, 0);
  fa_sse_message_delta(&s, "end_turn", 3);
  fa_sse_message_stop(&s);
  fake_anthropic_send_stream(res, &s, 1);
  fa_sse_free(&s);
}

static void a_malformed_event_fails_with_eproto_and_the_next_chat_works(void)
{
  static const char *const broken[] = {
    "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":"
    "\"text_delta\",\"text\":\"unterminated}}",
    "{\"type\":\"content_block_delta\",\"index\":7,\"delta\":{\"type\":"
    "\"text_delta\",\"text\":\"no such block\"}}",
    "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":"
    "\"text_delta\"}}",
  };
  pv_claude e;
  pv_claude_start(&e, NULL);
  for (size_t i = 0; i < 3; i++) {
    fake_anthropic_push(e.fa, reply_malformed, (void *)broken[i]);
    pv_chat r;
    pv_claude_chat(&e, PV_CLAUDE_HELLO, &r);
    CHECK_INT(r.status, ==, PT_EPROTO);
    CHECK_INT(r.stop, ==, PT_STOP_ERROR);
    CHECK(!(r.flags & PT_EVF_RETRYABLE));
    CHECK_CONTAINS(r.message, "malformed content_block_delta event");
    CHECK_STR(r.text, "ok ");
    CHECK_INT(fake_anthropic_request_count(e.fa), ==, i + 1);
  }
  fake_anthropic_push(e.fa, pv_claude_reply_text, "fine");
  pv_chat r;
  pv_claude_chat(&e, PV_CLAUDE_HELLO, &r);
  CHECK_INT(r.status, ==, PT_OK);
  CHECK_STR(r.text, "fine");
  pv_claude_stop(&e);
}

static const char *const BAD_KEY[] = {
  "401", "authentication_error", "invalid x-api-key " PV_CLAUDE_KEY, NULL
};

static void a_wrong_key_is_eperm_naming_the_setting_and_never_the_key(void)
{
  pv_claude e;
  pv_claude_start(&e, NULL);
  fake_anthropic_push(e.fa, pv_claude_reply_error, (void *)BAD_KEY);
  pv_chat r;
  pv_claude_chat(&e, PV_CLAUDE_HELLO, &r);
  CHECK_INT(fake_anthropic_request_count(e.fa), ==, 1);
  CHECK_INT(r.status, ==, PT_EPERM);
  CHECK(!(r.flags & PT_EVF_RETRYABLE));
  CHECK_STR(r.error_type, "authentication_error");
  CHECK_CONTAINS(r.message, "plugins.claude.api_key");
  CHECK_CONTAINS(r.message, "ANTHROPIC_API_KEY");
  CHECK_CONTAINS(r.message, "invalid x-api-key");
  CHECK(strstr(r.message, PV_CLAUDE_KEY) == NULL);
  CHECK(strstr(r.message, "0123456789abcdef") == NULL);
  pv_claude_stop(&e);
}

static void a_model_listing_with_a_wrong_key_is_eperm(void)
{
  pv_claude e;
  pv_claude_start(&e, NULL);
  fake_anthropic_push(e.fa, pv_claude_reply_error, (void *)BAD_KEY);
  h_tool t;
  pv_list_models(e.f.k, "claude", &t);
  CHECK_INT(t.done, ==, 1);
  CHECK_INT(t.status, ==, PT_EPERM);
  CHECK_CONTAINS(t.result, "\"type\":\"authentication_error\"");
  CHECK_CONTAINS(t.result, "plugins.claude.api_key");
  CHECK(strstr(t.result, PV_CLAUDE_KEY) == NULL);
  pv_claude_stop(&e);
}

int main(void)
{
  pv_init("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", NULL);
  RUN(a_429_waits_for_retry_after_then_succeeds_once);
  RUN(a_500_then_success_is_retried);
  RUN(a_500_every_time_ends_retryable_after_the_last_attempt);
  RUN(an_error_event_before_any_output_is_retried);
  RUN(an_error_event_after_output_ends_the_chat_retryable);
  RUN(a_cut_connection_keeps_the_text_and_ends_retryable);
  RUN(a_cut_before_any_output_is_retried);
  RUN(cancelling_a_slow_stream_ends_it_and_closes_the_connection);
  RUN(a_malformed_event_fails_with_eproto_and_the_next_chat_works);
  RUN(a_wrong_key_is_eperm_naming_the_setting_and_never_the_key);
  RUN(a_model_listing_with_a_wrong_key_is_eperm);
  return check_report();
}
