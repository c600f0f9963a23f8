/*
 * tests/test_provider_claude.c: the bundled claude provider, driven
 * through the real kernel and loader against a fake Anthropic API on
 * 127.0.0.1 (support/fake_anthropic.h): what it sends, what it makes of
 * every kind of stream and error, and that every chat ends with exactly
 * one DONE.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "fake_anthropic.h"
#include "harness.h"
#include "ops.h"

#define KEY "sk-ant-test-0123456789abcdef"
#define HELLO "{\"model\":\"claude-sonnet-4-5\",\"messages\":" \
              "[{\"role\":\"user\",\"content\":\"Hi\"}]}"

/* ------------------------------------------------------------------------ */
/* Recording what a chat emits                                               */

typedef struct call_rec {
  int starts, ends, deltas;
  char id[128], name[128];
  char args[4096];          /* the DELTA fragments, joined */
  size_t args_len;
  char json[4096];          /* END's json */
} call_rec;

typedef struct rec {
  char text[65536];
  size_t text_len;
  char thinking[4096];
  size_t thinking_len;
  char signature[1024];
  int signatures;
  char order[1024];         /* one letter per event, in order */
  size_t order_len;
  call_rec calls[4];
  int bad_index;
  uint64_t in, out, cache_read, cache_write;
  int usages;
  int done, after_done;
  int32_t status;
  uint32_t stop, flags;
  char message[1024], name[128];
} rec;

static void append(char *buf, size_t cap, size_t *len, pt_str s)
{
  if (*len + s.len >= cap) return;
  memcpy(buf + *len, s.ptr, s.len);
  *len += s.len;
  buf[*len] = '\0';
}

static void on_event(void *ud, const pt_chat_event *ev)
{
  rec *r = ud;
  static const char letters[] = "?TKSsdeuD";
  if (r->done) {
    r->after_done++;
    return;
  }
  if (r->order_len + 1 < sizeof r->order)
    r->order[r->order_len++] = ev->kind < 9 ? letters[ev->kind] : '?';
  call_rec *c = ev->index < 4 ? &r->calls[ev->index] : NULL;
  switch (ev->kind) {
  case PT_EV_TEXT:
    append(r->text, sizeof r->text, &r->text_len, ev->text);
    break;
  case PT_EV_THINKING:
    append(r->thinking, sizeof r->thinking, &r->thinking_len, ev->text);
    break;
  case PT_EV_THINKING_SIGNATURE:
    r->signatures++;
    snprintf(r->signature, sizeof r->signature, "%.*s", (int)ev->text.len,
             ev->text.ptr);
    break;
  case PT_EV_TOOL_CALL_START:
    if (!c) { r->bad_index++; break; }
    c->starts++;
    snprintf(c->id, sizeof c->id, "%.*s", (int)ev->id.len, ev->id.ptr);
    snprintf(c->name, sizeof c->name, "%.*s", (int)ev->name.len,
             ev->name.ptr);
    break;
  case PT_EV_TOOL_CALL_DELTA:
    if (!c) { r->bad_index++; break; }
    c->deltas++;
    append(c->args, sizeof c->args, &c->args_len, ev->json);
    break;
  case PT_EV_TOOL_CALL_END:
    if (!c) { r->bad_index++; break; }
    c->ends++;
    snprintf(c->json, sizeof c->json, "%.*s", (int)ev->json.len,
             ev->json.ptr);
    break;
  case PT_EV_USAGE:
    r->usages++;
    r->in = ev->input_tokens;
    r->out = ev->output_tokens;
    r->cache_read = ev->cache_read_tokens;
    r->cache_write = ev->cache_write_tokens;
    break;
  case PT_EV_DONE:
    r->done++;
    r->status = ev->status;
    r->stop = ev->stop;
    r->flags = ev->flags;
    snprintf(r->message, sizeof r->message, "%.*s", (int)ev->text.len,
             ev->text.ptr);
    snprintf(r->name, sizeof r->name, "%.*s", (int)ev->name.len,
             ev->name.ptr);
    break;
  }
}

/* ------------------------------------------------------------------------ */
/* A kernel with claude.so pointed at a fake                                 */

typedef struct env {
  fake_anthropic *fa;
  h_fixture f;
} env;

/* `settings` are more Lua fields for plugins.claude; NULL: base_url and
 * api_key pointing at the fake, fast retries. */
static void env_start_with(env *e, const char *settings)
{
  char lua[2048];
  e->fa = fake_anthropic_start();
  h_fixture_prepare(&e->f, NULL);
  h_copy_bundled("claude.so", e->f.dir);
  if (settings)
    snprintf(lua, sizeof lua, "return { plugins = { claude = { %s } } }\n",
             settings);
  else
    snprintf(lua, sizeof lua,
             "return { plugins = { claude = { base_url = '%s', "
             "api_key = '" KEY "', backoff_base_ms = 5 } } }\n",
             fake_anthropic_url(e->fa));
  char *config = h_write_config(e->f.dir, lua);
  h_fixture_boot(&e->f, 0, config);
  free(config);
}

static void env_start(env *e)
{
  env_start_with(e, NULL);
}

static void env_stop(env *e)
{
  h_fixture_stop(&e->f);
  fake_anthropic_stop(e->fa);
}

/* Run one chat to its end; check it ended exactly once and nothing came
 * after. */
static void run_chat(env *e, const char *request, rec *r)
{
  memset(r, 0, sizeof *r);
  pt_op_sink sink = { .on_event = on_event, .ud = r };
  CHECK_INT(pt_op_chat(e->f.k, "claude", (pt_str){ request, strlen(request) },
                       NULL, &sink, NULL), ==, PT_OK);
  CHECK_INT(r->done, ==, 0); /* nothing completes inside the call */
  h_run_until(e->f.k, &r->done, 20000);
  pt_kernel_spin(e->f.k, 30);
  CHECK_INT(r->done, ==, 1);
  CHECK_INT(r->after_done, ==, 0);
  CHECK_INT(r->bad_index, ==, 0);
}

/* The body of request `i` as JSON (caller frees). */
static cJSON *body_of(env *e, size_t i)
{
  const fake_anthropic_request *req = fake_anthropic_request_at(e->fa, i);
  CHECK(req != NULL);
  return req ? cJSON_Parse(req->body) : NULL;
}

static void check_json(const char *got, const char *want)
{
  cJSON *a = cJSON_Parse(got), *b = cJSON_Parse(want);
  CHECK(b != NULL);
  if (!a || !b || !cJSON_Compare(a, b, 1))
    check_fail(__FILE__, __LINE__, "JSON differs:\n  got  %s\n  want %s",
               got, want);
  cJSON_Delete(a);
  cJSON_Delete(b);
}

static void check_member(const cJSON *body, const char *name, const char *want)
{
  char *got = cJSON_PrintUnformatted(
      cJSON_GetObjectItemCaseSensitive(body, name));
  check_json(got ? got : "null", want);
  free(got);
}

/* ------------------------------------------------------------------------ */
/* Replies                                                                   */

static void reply_text(void *ud, fake_http_response *res)
{
  fa_sse s = { 0 };
  fa_sse_message_start(&s, 10, 0, 0);
  fa_sse_text_start(&s, 0);
  fa_sse_text_delta(&s, 0, ud ? ud : "Hello");
  fa_sse_block_stop(&s, 0);
  fa_sse_message_delta(&s, "end_turn", 3);
  fa_sse_message_stop(&s);
  fake_anthropic_send_stream(res, &s, 0);
  fa_sse_free(&s);
}

static void reply_error(void *ud, fake_http_response *res)
{
  const char *const *e = ud; /* status, type, message, headers */
  fake_anthropic_send_error(res, atoi(e[0]), e[1], e[2], e[3]);
}

/* ------------------------------------------------------------------------ */
/* Streaming                                                                 */

static void reply_unicode(void *ud, fake_http_response *res)
{
  fa_sse s = { 0 };
  fa_sse_message_start(&s, 25, 0, 0);
  fa_sse_ping(&s);
  fa_sse_text_start(&s, 0);
  fa_sse_text_delta(&s, 0, "Hello, w\\u00f6rld");
  fa_sse_text_delta(&s, 0, " \xe2\x80\x94 caf\\u00e9 na\xc3\xafve\\n");
  fa_sse_ping(&s);
  fa_sse_text_delta(&s, 0, "emoji \\ud83d\\ude00 and raw \xf0\x9f\x98\x80");
  fa_sse_text_delta(&s, 0, " tab\\there \\\"quoted\\\" back\\\\slash");
  fa_sse_text_delta(&s, 0, "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\\/");
  fa_sse_block_stop(&s, 0);
  fa_sse_message_delta(&s, "end_turn", 42);
  fa_sse_message_stop(&s);
  fake_anthropic_send_stream(res, &s, 1);
  fa_sse_free(&s);
}

static void text_streams_intact_across_split_escapes_and_utf8(void)
{
  env e;
  env_start(&e);
  fake_anthropic_push(e.fa, reply_unicode, NULL);
  rec r;
  run_chat(&e, HELLO, &r);
  CHECK_STR(r.text, "Hello, w\xc3\xb6rld \xe2\x80\x94 caf\xc3\xa9 "
                    "na\xc3\xafve\nemoji \xf0\x9f\x98\x80 and raw "
                    "\xf0\x9f\x98\x80 tab\there \"quoted\" back\\slash"
                    "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e/");
  CHECK_INT(r.status, ==, PT_OK);
  CHECK_INT(r.stop, ==, PT_STOP_END_TURN);
  CHECK_INT(r.in, ==, 25);
  CHECK_INT(r.out, ==, 42);

  CHECK_INT(fake_anthropic_request_count(e.fa), ==, 1);
  const fake_anthropic_request *req = fake_anthropic_request_at(e.fa, 0);
  CHECK_STR(req->method, "POST");
  CHECK_STR(req->path, "/v1/messages");
  CHECK_STR(fake_anthropic_header(req, "x-api-key"), KEY);
  CHECK_STR(fake_anthropic_header(req, "anthropic-version"), "2023-06-01");
  CHECK_STR(fake_anthropic_header(req, "content-type"), "application/json");
  CHECK(fake_anthropic_header(req, "authorization") == NULL);
  check_json(req->body, "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":4096,"
                        "\"messages\":[{\"role\":\"user\",\"content\":[{"
                        "\"type\":\"text\",\"text\":\"Hi\"}]}],"
                        "\"stream\":true}");
  env_stop(&e);
}

static void reply_thinking(void *ud, fake_http_response *res)
{
  fa_sse s = { 0 };
  fa_sse_message_start(&s, 30, 0, 0);
  fa_sse_thinking_start(&s, 0);
  fa_sse_thinking_delta(&s, 0, "Let me think");
  fa_sse_thinking_delta(&s, 0, " about caf\\u00e9\\n2 + 2.");
  fa_sse_signature_delta(&s, 0, "EqQBCkgIARABGAIiQL+/");
  fa_sse_signature_delta(&s, 0, "sig==");
  fa_sse_block_stop(&s, 0);
  fa_sse_text_start(&s, 1);
  fa_sse_text_delta(&s, 1, "4.");
  fa_sse_block_stop(&s, 1);
  fa_sse_message_delta(&s, "end_turn", 20);
  fa_sse_message_stop(&s);
  fake_anthropic_send_stream(res, &s, 1);
  fa_sse_free(&s);
}

static void thinking_streams_then_its_signature_then_the_answer(void)
{
  env e;
  env_start(&e);
  fake_anthropic_push(e.fa, reply_thinking, NULL);
  rec r;
  run_chat(&e, "{\"model\":\"claude-sonnet-4-5\",\"thinking\":{\"effort\":"
               "\"high\"},\"messages\":[{\"role\":\"user\",\"content\":"
               "\"2+2?\"}]}", &r);
  CHECK_STR(r.thinking, "Let me think about caf\xc3\xa9\n2 + 2.");
  CHECK_INT(r.signatures, ==, 1);
  CHECK_STR(r.signature, "EqQBCkgIARABGAIiQL+/sig==");
  CHECK_STR(r.text, "4.");
  /* Reasoning, then its signature, then the answer. */
  const char *k = strrchr(r.order, 'K'), *sig = strchr(r.order, 'S'),
             *t = strchr(r.order, 'T');
  CHECK(k && sig && t && k < sig && sig < t);
  CHECK_INT(r.stop, ==, PT_STOP_END_TURN);
  cJSON *body = body_of(&e, 0);
  check_member(body, "thinking",
               "{\"type\":\"enabled\",\"budget_tokens\":16384}");
  check_member(body, "max_tokens", "20480");
  cJSON_Delete(body);
  env_stop(&e);
}

static void reply_one_tool(void *ud, fake_http_response *res)
{
  fa_sse s = { 0 };
  fa_sse_message_start(&s, 50, 0, 0);
  fa_sse_text_start(&s, 0);
  fa_sse_text_delta(&s, 0, "Let me check.");
  fa_sse_block_stop(&s, 0);
  fa_sse_tool_start(&s, 1, "toolu_01A09q90qw90lq917835lq9", "get_weather");
  fa_sse_json_delta(&s, 1, "");
  fa_sse_json_delta(&s, 1, "{\\\"loc");
  fa_sse_json_delta(&s, 1, "ation\\\": \\\"Par");
  fa_sse_json_delta(&s, 1, "is, Fran");
  fa_sse_json_delta(&s, 1, "ce\\\", \\\"unit\\\"");
  fa_sse_json_delta(&s, 1, ": \\\"c\xc3\xa9lsius\\\", \\\"note\\\": \\\"a\\\\");
  fa_sse_json_delta(&s, 1, "nb\\\", \\\"days\\\": [1,");
  fa_sse_json_delta(&s, 1, " 2]}");
  fa_sse_block_stop(&s, 1);
  fa_sse_message_delta(&s, "tool_use", 60);
  fa_sse_message_stop(&s);
  fake_anthropic_send_stream(res, &s, 1);
  fa_sse_free(&s);
}

static void a_tool_call_in_many_fragments_ends_with_its_whole_arguments(void)
{
  env e;
  env_start(&e);
  fake_anthropic_push(e.fa, reply_one_tool, NULL);
  rec r;
  run_chat(&e, HELLO, &r);
  CHECK_STR(r.text, "Let me check.");
  call_rec *c = &r.calls[0];
  CHECK_INT(c->starts, ==, 1);
  CHECK_INT(c->ends, ==, 1);
  CHECK_INT(c->deltas, >=, 5);
  CHECK_STR(c->id, "toolu_01A09q90qw90lq917835lq9");
  CHECK_STR(c->name, "get_weather");
  const char *want = "{\"location\":\"Paris, France\","
                     "\"unit\":\"c\xc3\xa9lsius\","
                     "\"note\":\"a\\nb\",\"days\":[1,2]}";
  check_json(c->json, want);
  check_json(c->args, want);
  CHECK_INT(r.calls[1].starts, ==, 0);
  CHECK_INT(r.status, ==, PT_OK);
  CHECK_INT(r.stop, ==, PT_STOP_TOOL_USE);
  env_stop(&e);
}

static void reply_two_tools(void *ud, fake_http_response *res)
{
  fa_sse s = { 0 };
  fa_sse_message_start(&s, 50, 0, 0);
  fa_sse_text_start(&s, 0);
  fa_sse_text_delta(&s, 0, "Both at once.");
  fa_sse_block_stop(&s, 0);
  fa_sse_tool_start(&s, 1, "toolu_A", "get_weather");
  fa_sse_json_delta(&s, 1, "{\\\"city\\\":");
  fa_sse_json_delta(&s, 1, " \\\"Oslo\\\"}");
  fa_sse_block_stop(&s, 1);
  fa_sse_tool_start(&s, 2, "toolu_B", "get_time");
  fa_sse_json_delta(&s, 2, "{\\\"tz\\\": \\\"Europe/Oslo\\\"}");
  fa_sse_block_stop(&s, 2);
  fa_sse_message_delta(&s, "tool_use", 70);
  fa_sse_message_stop(&s);
  fake_anthropic_send_stream(res, &s, 1);
  fa_sse_free(&s);
}

static void two_tool_calls_are_numbered_among_themselves(void)
{
  env e;
  env_start(&e);
  fake_anthropic_push(e.fa, reply_two_tools, NULL);
  rec r;
  run_chat(&e, HELLO, &r);
  CHECK_STR(r.calls[0].id, "toolu_A");
  CHECK_STR(r.calls[0].name, "get_weather");
  check_json(r.calls[0].json, "{\"city\":\"Oslo\"}");
  CHECK_STR(r.calls[1].id, "toolu_B");
  CHECK_STR(r.calls[1].name, "get_time");
  check_json(r.calls[1].json, "{\"tz\":\"Europe/Oslo\"}");
  CHECK_INT(r.calls[0].ends + r.calls[1].ends, ==, 2);
  CHECK_INT(r.calls[2].starts, ==, 0);
  /* The first call ends before the second starts: "...s d* e s d* e". */
  const char *first_end = strchr(r.order, 'e');
  CHECK(first_end && strchr(first_end + 1, 's'));
  CHECK_INT(r.stop, ==, PT_STOP_TOOL_USE);
  env_stop(&e);
}

static void reply_usage(void *ud, fake_http_response *res)
{
  fa_sse s = { 0 };
  fa_sse_message_start(&s, 100, 20, 300);
  fa_sse_text_start(&s, 0);
  fa_sse_text_delta(&s, 0, "ok");
  fa_sse_block_stop(&s, 0);
  /* Newer API versions repeat every count, cumulatively, here. */
  fa_sse_event(&s, "message_delta",
                 "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
                 "\"end_turn\",\"stop_sequence\":null},\"usage\":{"
                 "\"input_tokens\":100,\"cache_creation_input_tokens\":20,"
                 "\"cache_read_input_tokens\":300,\"output_tokens\":57}}");
  fa_sse_message_stop(&s);
  fake_anthropic_send_stream(res, &s, 0);
  fa_sse_free(&s);
}

static void usage_reports_input_output_and_cache_tokens(void)
{
  env e;
  env_start(&e);
  fake_anthropic_push(e.fa, reply_usage, NULL);
  rec r;
  run_chat(&e, HELLO, &r);
  CHECK_INT(r.usages, >=, 2);
  CHECK_INT(r.in, ==, 100);
  CHECK_INT(r.out, ==, 57);
  CHECK_INT(r.cache_read, ==, 300);
  CHECK_INT(r.cache_write, ==, 20);
  /* The first report (message_start) came before any text. */
  CHECK(r.order[0] == 'u');
  env_stop(&e);
}

static void reply_stop(void *ud, fake_http_response *res)
{
  fa_sse s = { 0 };
  fa_sse_message_start(&s, 10, 0, 0);
  fa_sse_text_start(&s, 0);
  fa_sse_text_delta(&s, 0, "x");
  fa_sse_block_stop(&s, 0);
  fa_sse_message_delta(&s, ud, 1);
  fa_sse_message_stop(&s);
  fake_anthropic_send_stream(res, &s, 0);
  fa_sse_free(&s);
}

static void every_stop_reason_maps(void)
{
  static const struct { const char *api; uint32_t stop; } cases[] = {
    { "end_turn", PT_STOP_END_TURN },
    { "tool_use", PT_STOP_TOOL_USE },
    { "max_tokens", PT_STOP_MAX_TOKENS },
    { "stop_sequence", PT_STOP_STOP_SEQUENCE },
    { "refusal", PT_STOP_REFUSAL },
    { "pause_turn", PT_STOP_END_TURN },
    { "model_context_window_exceeded", PT_STOP_MAX_TOKENS },
  };
  env e;
  env_start(&e);
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    fake_anthropic_push(e.fa, reply_stop, (void *)cases[i].api);
    rec r;
    run_chat(&e, HELLO, &r);
    CHECK_INT(r.status, ==, PT_OK);
    if (r.stop != cases[i].stop)
      check_fail(__FILE__, __LINE__, "stop_reason %s gave stop %u",
                 cases[i].api, r.stop);
  }
  env_stop(&e);
}

/* ------------------------------------------------------------------------ */
/* Retries and errors                                                        */

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
  env e;
  env_start(&e);
  fake_anthropic_push(e.fa, reply_error, (void *)RATE_LIMITED);
  fake_anthropic_push(e.fa, reply_text, "Hello");
  rec r;
  run_chat(&e, HELLO, &r);
  CHECK_INT(r.status, ==, PT_OK);
  CHECK_STR(r.text, "Hello");
  CHECK_INT(fake_anthropic_request_count(e.fa), ==, 2);
  const fake_anthropic_request *a = fake_anthropic_request_at(e.fa, 0);
  const fake_anthropic_request *b = fake_anthropic_request_at(e.fa, 1);
  CHECK_INT(b->at_ms - a->at_ms, >=, 950);
  CHECK_STR(a->body, b->body);
  env_stop(&e);
}

static void a_500_then_success_is_retried(void)
{
  env e;
  env_start(&e);
  fake_anthropic_push(e.fa, reply_error, (void *)SERVER_ERROR);
  fake_anthropic_push(e.fa, reply_error, (void *)OVERLOADED);
  fake_anthropic_push(e.fa, reply_text, "Recovered");
  rec r;
  run_chat(&e, HELLO, &r);
  CHECK_INT(r.status, ==, PT_OK);
  CHECK_STR(r.text, "Recovered");
  CHECK_INT(fake_anthropic_request_count(e.fa), ==, 3);
  env_stop(&e);
}

static void a_500_every_time_ends_retryable_after_the_last_attempt(void)
{
  env e;
  env_start(&e);
  fake_anthropic_push(e.fa, reply_error, (void *)SERVER_ERROR);
  rec r;
  run_chat(&e, HELLO, &r);
  CHECK_INT(fake_anthropic_request_count(e.fa), ==, 4);
  CHECK_INT(r.status, ==, PT_EHTTP);
  CHECK_INT(r.stop, ==, PT_STOP_ERROR);
  CHECK(r.flags & PT_EVF_RETRYABLE);
  CHECK_STR(r.name, "api_error");
  CHECK_CONTAINS(r.message, "HTTP 500");
  CHECK_CONTAINS(r.message, "Internal server error");
  CHECK_CONTAINS(r.message, "4 attempts");
  CHECK_CONTAINS(r.message, "request-id req_fake");
  CHECK_INT(r.text_len, ==, 0);
  env_stop(&e);
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
  env e;
  env_start(&e);
  fake_anthropic_push(e.fa, reply_overloaded_event, NULL);
  fake_anthropic_push(e.fa, reply_text, "Second try");
  rec r;
  run_chat(&e, HELLO, &r);
  CHECK_INT(fake_anthropic_request_count(e.fa), ==, 2);
  CHECK_INT(r.status, ==, PT_OK);
  CHECK_STR(r.text, "Second try");
  env_stop(&e);
}

static void an_error_event_after_output_ends_the_chat_retryable(void)
{
  env e;
  env_start(&e);
  fake_anthropic_push(e.fa, reply_overloaded_event, "Partial answ");
  rec r;
  run_chat(&e, HELLO, &r);
  CHECK_INT(fake_anthropic_request_count(e.fa), ==, 1);
  CHECK_STR(r.text, "Partial answ");
  CHECK_INT(r.status, ==, PT_EHTTP);
  CHECK_INT(r.stop, ==, PT_STOP_ERROR);
  CHECK(r.flags & PT_EVF_RETRYABLE);
  CHECK_STR(r.name, "overloaded_error");
  CHECK_CONTAINS(r.message, "Overloaded");
  env_stop(&e);
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
  env e;
  env_start(&e);
  fake_anthropic_push(e.fa, reply_cut, "Some text \xc3\xa9");
  rec r;
  run_chat(&e, HELLO, &r);
  CHECK_INT(fake_anthropic_request_count(e.fa), ==, 1);
  CHECK_STR(r.text, "Some text \xc3\xa9");
  CHECK_INT(r.status, ==, PT_ECLOSED);
  CHECK_INT(r.stop, ==, PT_STOP_ERROR);
  CHECK(r.flags & PT_EVF_RETRYABLE);
  env_stop(&e);
}

static void a_cut_before_any_output_is_retried(void)
{
  env e;
  env_start(&e);
  fake_anthropic_push(e.fa, reply_cut, NULL);
  fake_anthropic_push(e.fa, reply_text, "Whole");
  rec r;
  run_chat(&e, HELLO, &r);
  CHECK_INT(fake_anthropic_request_count(e.fa), ==, 2);
  CHECK_INT(r.status, ==, PT_OK);
  CHECK_STR(r.text, "Whole");
  env_stop(&e);
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
  env e;
  env_start(&e);
  fake_anthropic_push(e.fa, reply_slow, NULL);
  rec r;
  memset(&r, 0, sizeof r);
  pt_op_sink sink = { .on_event = on_event, .ud = &r };
  pt_op_impl *op = NULL;
  CHECK_INT(pt_op_chat(e.f.k, "claude", PT_STR_LIT(HELLO), NULL, &sink, &op),
            ==, PT_OK);
  uint64_t t0 = h_now_ms();
  while (r.text_len < 10 && h_now_ms() - t0 < 5000) pt_kernel_spin(e.f.k, 5);
  CHECK_INT(r.text_len, >=, 10);
  CHECK_INT(fake_anthropic_open_connections(e.fa), ==, 1);
  pt_op_cancel(op);
  pt_op_cancel(op);
  h_run_until(e.f.k, &r.done, 5000);
  t0 = h_now_ms();
  while (fake_anthropic_open_connections(e.fa) > 0 && h_now_ms() - t0 < 3000)
    pt_kernel_spin(e.f.k, 5);
  CHECK_INT(fake_anthropic_open_connections(e.fa), ==, 0);
  CHECK_INT(r.done, ==, 1);
  CHECK_INT(r.after_done, ==, 0);
  CHECK_INT(r.status, ==, PT_ECANCELED);
  CHECK_INT(r.stop, ==, PT_STOP_CANCELLED);
  CHECK_INT(fake_anthropic_request_count(e.fa), ==, 1);
  CHECK(r.text_len < 500 * 5);
  env_stop(&e);
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
  env e;
  env_start(&e);
  for (size_t i = 0; i < 3; i++) {
    fake_anthropic_push(e.fa, reply_malformed, (void *)broken[i]);
    rec r;
    run_chat(&e, HELLO, &r);
    CHECK_INT(r.status, ==, PT_EPROTO);
    CHECK_INT(r.stop, ==, PT_STOP_ERROR);
    CHECK(!(r.flags & PT_EVF_RETRYABLE));
    CHECK_CONTAINS(r.message, "malformed content_block_delta event");
    CHECK_STR(r.text, "ok ");
    CHECK_INT(fake_anthropic_request_count(e.fa), ==, i + 1);
  }
  fake_anthropic_push(e.fa, reply_text, "fine");
  rec r;
  run_chat(&e, HELLO, &r);
  CHECK_INT(r.status, ==, PT_OK);
  CHECK_STR(r.text, "fine");
  env_stop(&e);
}

static const char *const BAD_KEY[] = {
  "401", "authentication_error", "invalid x-api-key " KEY, NULL
};

static void a_wrong_key_is_eperm_naming_the_setting_and_never_the_key(void)
{
  env e;
  env_start(&e);
  fake_anthropic_push(e.fa, reply_error, (void *)BAD_KEY);
  rec r;
  run_chat(&e, HELLO, &r);
  CHECK_INT(fake_anthropic_request_count(e.fa), ==, 1);
  CHECK_INT(r.status, ==, PT_EPERM);
  CHECK(!(r.flags & PT_EVF_RETRYABLE));
  CHECK_STR(r.name, "authentication_error");
  CHECK_CONTAINS(r.message, "plugins.claude.api_key");
  CHECK_CONTAINS(r.message, "ANTHROPIC_API_KEY");
  CHECK_CONTAINS(r.message, "invalid x-api-key");
  CHECK(strstr(r.message, KEY) == NULL);
  CHECK(strstr(r.message, "0123456789abcdef") == NULL);
  env_stop(&e);
}

static const char *const NO_KEY[] = {
  "401", "authentication_error", "x-api-key header is required", NULL
};

static void settings_fall_back_to_the_environment(void)
{
  fake_anthropic *probe = fake_anthropic_start();
  setenv("ANTHROPIC_BASE_URL", fake_anthropic_url(probe), 1);
  setenv("ANTHROPIC_API_KEY", "sk-ant-from-env-42", 1);
  env e;
  /* The fake the environment names is `probe`; e.fa stays unused. */
  env_start_with(&e, "anthropic_version = '2024-01-01', "
                     "anthropic_beta = 'interleaved-thinking-2025-05-14'");
  fake_anthropic_push(probe, reply_text, "env");
  rec r;
  run_chat(&e, HELLO, &r);
  CHECK_STR(r.text, "env");
  const fake_anthropic_request *req = fake_anthropic_request_at(probe, 0);
  CHECK(req != NULL);
  CHECK_STR(fake_anthropic_header(req, "x-api-key"), "sk-ant-from-env-42");
  CHECK_STR(fake_anthropic_header(req, "anthropic-version"), "2024-01-01");
  CHECK_STR(fake_anthropic_header(req, "anthropic-beta"),
            "interleaved-thinking-2025-05-14");
  env_stop(&e);

  /* No key anywhere: no x-api-key header, and the message says where. */
  unsetenv("ANTHROPIC_API_KEY");
  env_start_with(&e, "backoff_base_ms = 5");
  fake_anthropic_push(probe, reply_error, (void *)NO_KEY);
  run_chat(&e, HELLO, &r);
  req = fake_anthropic_request_at(probe, 1);
  CHECK(req != NULL && fake_anthropic_header(req, "x-api-key") == NULL);
  CHECK_INT(r.status, ==, PT_EPERM);
  CHECK_CONTAINS(r.message, "no Anthropic API key is set");
  CHECK_CONTAINS(r.message, "ANTHROPIC_API_KEY");
  env_stop(&e);
  unsetenv("ANTHROPIC_BASE_URL");
  fake_anthropic_stop(probe);
}

/* ------------------------------------------------------------------------ */
/* Request mapping                                                           */

static const char FULL_REQUEST[] =
    "{\"model\":\"claude-sonnet-4-5\",\"system\":\"You are terse.\","
    "\"messages\":["
    "{\"role\":\"user\",\"content\":\"Read README.md\"},"
    "{\"role\":\"user\",\"content\":[{\"type\":\"text\","
    "\"text\":\"Quickly.\"}]},"
    "{\"role\":\"assistant\",\"content\":["
    "{\"type\":\"thinking\",\"text\":\"I should read it.\","
    "\"signature\":\"EqQBsig==\"},"
    "{\"type\":\"thinking\",\"text\":\"unsigned, from another provider\"},"
    "{\"type\":\"text\",\"text\":\"Reading it.\"},"
    "{\"type\":\"text\",\"text\":\"\"},"
    "{\"type\":\"tool_call\",\"id\":\"toolu_1\",\"name\":\"fs_read\","
    "\"arguments\":{\"path\":\"README.md\"}},"
    "{\"type\":\"tool_call\",\"id\":\"toolu_2\",\"name\":\"fs_stat\","
    "\"arguments\":{\"path\":\"x\"}}]},"
    "{\"role\":\"tool\",\"content\":[{\"type\":\"tool_result\","
    "\"tool_call_id\":\"toolu_1\",\"content\":\"# Portico\","
    "\"is_error\":false}]},"
    "{\"role\":\"tool\",\"content\":[{\"type\":\"tool_result\","
    "\"tool_call_id\":\"toolu_2\",\"content\":[{\"type\":\"text\","
    "\"text\":\"no such file\"}],\"is_error\":true}]},"
    "{\"role\":\"user\",\"content\":["
    "{\"type\":\"text\",\"text\":\"And this picture?\"},"
    "{\"type\":\"image\",\"media_type\":\"image/png\","
    "\"data\":\"iVBORw0KGgo=\"},"
    "{\"type\":\"image\",\"url\":\"https://example.com/cat.jpg\"},"
    "{\"type\":\"image\",\"url\":\"data:image/gif;base64,R0lGOD==\"}]}],"
    "\"tools\":[{\"name\":\"fs_read\",\"description\":\"Read a file.\","
    "\"input_schema\":{\"type\":\"object\",\"properties\":{\"path\":"
    "{\"type\":\"string\"}},\"required\":[\"path\"]}},{\"name\":\"fs_stat\"}],"
    "\"tool_choice\":\"required\",\"max_tokens\":1000,\"temperature\":0.5,"
    "\"top_p\":0.9,\"stop\":[\"\\n\\nHuman:\",\"END\"],"
    "\"extra\":{\"metadata\":{\"user_id\":\"u-42\"},\"top_k\":5,"
    "\"temperature\":0.25}}";

static const char FULL_BODY[] =
    "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":1000,"
    "\"system\":\"You are terse.\",\"messages\":["
    "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":"
    "\"Read README.md\"},{\"type\":\"text\",\"text\":\"Quickly.\"}]},"
    "{\"role\":\"assistant\",\"content\":["
    "{\"type\":\"thinking\",\"thinking\":\"I should read it.\","
    "\"signature\":\"EqQBsig==\"},"
    "{\"type\":\"text\",\"text\":\"Reading it.\"},"
    "{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"fs_read\","
    "\"input\":{\"path\":\"README.md\"}},"
    "{\"type\":\"tool_use\",\"id\":\"toolu_2\",\"name\":\"fs_stat\","
    "\"input\":{\"path\":\"x\"}}]},"
    "{\"role\":\"user\",\"content\":["
    "{\"type\":\"tool_result\",\"tool_use_id\":\"toolu_1\","
    "\"content\":\"# Portico\",\"is_error\":false},"
    "{\"type\":\"tool_result\",\"tool_use_id\":\"toolu_2\",\"content\":"
    "[{\"type\":\"text\",\"text\":\"no such file\"}],\"is_error\":true},"
    "{\"type\":\"text\",\"text\":\"And this picture?\"},"
    "{\"type\":\"image\",\"source\":{\"type\":\"base64\",\"media_type\":"
    "\"image/png\",\"data\":\"iVBORw0KGgo=\"}},"
    "{\"type\":\"image\",\"source\":{\"type\":\"url\",\"url\":"
    "\"https://example.com/cat.jpg\"}},"
    "{\"type\":\"image\",\"source\":{\"type\":\"base64\",\"media_type\":"
    "\"image/gif\",\"data\":\"R0lGOD==\"}}]}],"
    "\"tools\":[{\"name\":\"fs_read\",\"description\":\"Read a file.\","
    "\"input_schema\":{\"type\":\"object\",\"properties\":{\"path\":"
    "{\"type\":\"string\"}},\"required\":[\"path\"]}},"
    "{\"name\":\"fs_stat\",\"input_schema\":{\"type\":\"object\","
    "\"properties\":{}}}],"
    "\"tool_choice\":{\"type\":\"any\"},\"temperature\":0.25,\"top_p\":0.9,"
    "\"stop_sequences\":[\"\\n\\nHuman:\",\"END\"],\"stream\":true,"
    "\"metadata\":{\"user_id\":\"u-42\"},\"top_k\":5}";

static void the_request_maps_to_the_messages_api_shape(void)
{
  env e;
  env_start(&e);
  fake_anthropic_push(e.fa, reply_text, NULL);
  rec r;
  run_chat(&e, FULL_REQUEST, &r);
  CHECK_INT(r.status, ==, PT_OK);
  const fake_anthropic_request *req = fake_anthropic_request_at(e.fa, 0);
  CHECK(req != NULL);
  if (req) check_json(req->body, FULL_BODY);
  env_stop(&e);
}

static void tool_choice_and_thinking_variants_map(void)
{
  static const struct { const char *fields, *member, *want; } cases[] = {
    { "\"tool_choice\":\"auto\"", "tool_choice", "{\"type\":\"auto\"}" },
    { "\"tool_choice\":\"none\"", "tool_choice", "{\"type\":\"none\"}" },
    { "\"tool_choice\":\"required\"", "tool_choice", "{\"type\":\"any\"}" },
    { "\"tool_choice\":{\"name\":\"fs_read\"}", "tool_choice",
      "{\"type\":\"tool\",\"name\":\"fs_read\"}" },
    { "\"thinking\":{\"effort\":\"low\"}", "thinking",
      "{\"type\":\"enabled\",\"budget_tokens\":1024}" },
    { "\"thinking\":{\"effort\":\"low\"}", "max_tokens", "5120" },
    { "\"thinking\":{\"effort\":\"medium\"}", "thinking",
      "{\"type\":\"enabled\",\"budget_tokens\":4096}" },
    { "\"thinking\":{\"effort\":\"high\",\"budget_tokens\":3000},"
      "\"max_tokens\":8000", "thinking",
      "{\"type\":\"enabled\",\"budget_tokens\":3000}" },
    { "\"thinking\":{\"budget_tokens\":3000},\"max_tokens\":8000",
      "max_tokens", "8000" },
    { "\"stop\":\"###\"", "stop_sequences", "[\"###\"]" },
    { "\"system\":\"\"", "system", "null" },
  };
  env e;
  env_start(&e);
  fake_anthropic_push(e.fa, reply_text, NULL);
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char req[1024];
    snprintf(req, sizeof req,
             "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
             "\"x\"}],\"tools\":[{\"name\":\"fs_read\"}],%s}",
             cases[i].fields);
    rec r;
    run_chat(&e, req, &r);
    cJSON *body = body_of(&e, i);
    check_member(body, cases[i].member, cases[i].want);
    cJSON_Delete(body);
  }
  env_stop(&e);
}

static void a_request_the_api_cannot_take_is_refused_before_sending(void)
{
  static const char *const bad[] = {
    "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
    "\"tool_choice\":\"sometimes\"}",
    "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
    "[{\"type\":\"image\"}]}]}",
    "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
    "[{\"type\":\"video\"}]}]}",
    "{\"messages\":[]}",
  };
  env e;
  env_start(&e);
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    rec r = { 0 };
    pt_op_sink sink = { .on_event = on_event, .ud = &r };
    CHECK_INT(pt_op_chat(e.f.k, "claude", (pt_str){ bad[i], strlen(bad[i]) },
                         NULL, &sink, NULL), ==, PT_EINVAL);
    pt_kernel_spin(e.f.k, 10);
    CHECK_INT(r.done, ==, 0);
  }
  CHECK_INT(fake_anthropic_request_count(e.fa), ==, 0);
  env_stop(&e);
}

/* ------------------------------------------------------------------------ */
/* Models                                                                    */

static void reply_models(void *ud, fake_http_response *res)
{
  fake_anthropic_send_json(res, ud);
}

static const char PAGE1[] =
    "{\"data\":[{\"type\":\"model\",\"id\":\"claude-sonnet-4-5-20250929\","
    "\"display_name\":\"Claude Sonnet 4.5\",\"created_at\":"
    "\"2025-09-29T00:00:00Z\"},{\"type\":\"model\",\"id\":"
    "\"claude-opus-4-1-20250805\",\"display_name\":\"Claude Opus 4.1\","
    "\"created_at\":\"2025-08-05T00:00:00Z\"}],\"has_more\":true,"
    "\"first_id\":\"claude-sonnet-4-5-20250929\",\"last_id\":"
    "\"claude-opus-4-1-20250805\"}";
static const char PAGE2[] =
    "{\"data\":[{\"type\":\"model\",\"id\":\"claude-3-5-haiku-20241022\","
    "\"display_name\":\"Claude Haiku 3.5\",\"created_at\":"
    "\"2024-10-22T00:00:00Z\"}],\"has_more\":false,\"first_id\":"
    "\"claude-3-5-haiku-20241022\",\"last_id\":\"claude-3-5-haiku-20241022\"}";

static void models_are_listed_across_pages(void)
{
  env e;
  env_start(&e);
  fake_anthropic_push(e.fa, reply_models, (void *)PAGE1);
  fake_anthropic_push(e.fa, reply_models, (void *)PAGE2);
  h_tool t = { 0 };
  pt_op_sink sink = { .on_done = h_on_tool_done, .ud = &t };
  CHECK_INT(pt_op_models(e.f.k, "claude", &sink, NULL), ==, PT_OK);
  h_run_until(e.f.k, &t.done, 10000);
  CHECK_INT(t.done, ==, 1);
  CHECK_INT(t.status, ==, PT_OK);
  check_json(t.result,
             "[{\"id\":\"claude-sonnet-4-5-20250929\",\"name\":"
             "\"Claude Sonnet 4.5\"},{\"id\":\"claude-opus-4-1-20250805\","
             "\"name\":\"Claude Opus 4.1\"},{\"id\":"
             "\"claude-3-5-haiku-20241022\",\"name\":\"Claude Haiku 3.5\"}]");
  CHECK_INT(fake_anthropic_request_count(e.fa), ==, 2);
  const fake_anthropic_request *a = fake_anthropic_request_at(e.fa, 0);
  const fake_anthropic_request *b = fake_anthropic_request_at(e.fa, 1);
  CHECK_STR(a->method, "GET");
  CHECK_STR(a->path, "/v1/models?limit=1000");
  CHECK_STR(b->path, "/v1/models?limit=1000&after_id=claude-opus-4-1-20250805");
  CHECK_STR(fake_anthropic_header(a, "x-api-key"), KEY);
  CHECK_STR(fake_anthropic_header(a, "anthropic-version"), "2023-06-01");
  env_stop(&e);
}

static void a_model_listing_with_a_wrong_key_is_eperm(void)
{
  env e;
  env_start(&e);
  fake_anthropic_push(e.fa, reply_error, (void *)BAD_KEY);
  h_tool t = { 0 };
  pt_op_sink sink = { .on_done = h_on_tool_done, .ud = &t };
  CHECK_INT(pt_op_models(e.f.k, "claude", &sink, NULL), ==, PT_OK);
  h_run_until(e.f.k, &t.done, 10000);
  CHECK_INT(t.done, ==, 1);
  CHECK_INT(t.status, ==, PT_EPERM);
  CHECK_CONTAINS(t.result, "\"type\":\"authentication_error\"");
  CHECK_CONTAINS(t.result, "plugins.claude.api_key");
  CHECK(strstr(t.result, KEY) == NULL);
  env_stop(&e);
}

/* ------------------------------------------------------------------------ */
/* The benchmark's scenario                                                  */

static void reply_many(void *ud, fake_http_response *res)
{
  fake_anthropic_stream_deltas(res, 5000);
}

static void the_benchmark_stream_arrives_whole(void)
{
  env e;
  env_start(&e);
  fake_anthropic_push(e.fa, reply_many, NULL);
  rec r;
  run_chat(&e, HELLO, &r);
  CHECK_INT(r.status, ==, PT_OK);
  CHECK_INT(r.text_len, ==, 5000 * 4);
  CHECK_INT(r.out, ==, 5000);
  CHECK(strncmp(r.text, "tok tok ", 8) == 0);
  env_stop(&e);
}

/* ------------------------------------------------------------------------ */
/* The SDK's conformance check                                               */

static void reply_paced(void *ud, fake_http_response *res)
{
  fa_sse s = { 0 };
  fa_sse_message_start(&s, 10, 0, 0);
  fa_sse_text_start(&s, 0);
  for (int i = 0; i < 20; i++) fa_sse_text_delta(&s, 0, "word ");
  fa_sse_block_stop(&s, 0);
  fa_sse_message_delta(&s, "end_turn", 20);
  fa_sse_message_stop(&s);
  fake_anthropic_stream_head(res);
  /* One event per piece, 5 ms apart: a stream long enough to cancel or
   * unload in the middle of. */
  size_t start = 0;
  for (size_t i = 1; i + 1 < s.len; i++) {
    if (s.text[i] != '\n' || s.text[i + 1] != '\n') continue;
    fake_http_chunk(res, s.text + start, i + 2 - start);
    fake_http_wait(res, 5);
    start = i + 2;
  }
  fake_http_chunk_end(res);
  fa_sse_free(&s);
}

static void the_sdk_provider_check_passes(void)
{
  env e;
  env_start(&e);
  fake_anthropic_push(e.fa, reply_paced, NULL);
  char cmd[8192], buf[8192];
  snprintf(cmd, sizeof cmd,
           "\"$(dirname '%s')/portico-provider-check\" "
           "--config '%s/config.lua' --model claude-sonnet-4-5 "
           "--timeout-ms 10000 '%s/claude.so' 2>&1",
           getenv("PORTICO_BIN"), e.f.dir, e.f.dir);
  FILE *p = popen(cmd, "r");
  size_t n = p ? fread(buf, 1, sizeof buf - 1, p) : 0;
  buf[n] = '\0';
  int status = p ? pclose(p) : -1;
  if (status != 0) fprintf(stderr, "%s", buf);
  CHECK_INT(status, ==, 0);
  CHECK_CONTAINS(buf, " 0 failed");
  env_stop(&e);
}

int main(void)
{
  unsetenv("http_proxy");
  unsetenv("HTTP_PROXY");
  unsetenv("all_proxy");
  unsetenv("ALL_PROXY");
  unsetenv("ANTHROPIC_API_KEY");
  unsetenv("ANTHROPIC_BASE_URL");
  RUN(text_streams_intact_across_split_escapes_and_utf8);
  RUN(thinking_streams_then_its_signature_then_the_answer);
  RUN(a_tool_call_in_many_fragments_ends_with_its_whole_arguments);
  RUN(two_tool_calls_are_numbered_among_themselves);
  RUN(usage_reports_input_output_and_cache_tokens);
  RUN(every_stop_reason_maps);
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
  RUN(settings_fall_back_to_the_environment);
  RUN(the_request_maps_to_the_messages_api_shape);
  RUN(tool_choice_and_thinking_variants_map);
  RUN(a_request_the_api_cannot_take_is_refused_before_sending);
  RUN(models_are_listed_across_pages);
  RUN(a_model_listing_with_a_wrong_key_is_eperm);
  RUN(the_benchmark_stream_arrives_whole);
  RUN(the_sdk_provider_check_passes);
  return check_report();
}
