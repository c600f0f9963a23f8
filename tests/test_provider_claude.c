/*
 * tests/test_provider_claude.c: the bundled claude provider, driven through
 * the real kernel and loader against a fake Anthropic API on 127.0.0.1
 * (support/fake_anthropic.h): what it makes of every kind of stream (text,
 * thinking, tool calls, usage, stop reasons), model listing, a long stream,
 * and the SDK's conformance check.
 *
 * Not here: retries, errors, cancel and cut connections
 * (test_provider_claude_failures.c); the request it builds and where its
 * settings come from (test_provider_claude_request.c). The environment and
 * the chat recorder are support/provider_cases.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "provider_cases.h"

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
  pv_claude e;
  pv_claude_start(&e, NULL);
  fake_anthropic_push(e.fa, reply_unicode, NULL);
  pv_chat r;
  pv_claude_chat(&e, PV_CLAUDE_HELLO, &r);
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
  CHECK_STR(fake_anthropic_header(req, "x-api-key"), PV_CLAUDE_KEY);
  CHECK_STR(fake_anthropic_header(req, "anthropic-version"), "2023-06-01");
  CHECK_STR(fake_anthropic_header(req, "content-type"), "application/json");
  CHECK(fake_anthropic_header(req, "authorization") == NULL);
  PV_CHECK_JSON(req->body,
                "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":4096,"
                "\"messages\":[{\"role\":\"user\",\"content\":[{"
                "\"type\":\"text\",\"text\":\"Hi\"}]}],"
                "\"stream\":true}");
  pv_claude_stop(&e);
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
  pv_claude e;
  pv_claude_start(&e, NULL);
  fake_anthropic_push(e.fa, reply_thinking, NULL);
  pv_chat r;
  pv_claude_chat(&e, "{\"model\":\"claude-sonnet-4-5\",\"thinking\":"
                     "{\"effort\":\"high\"},\"messages\":[{\"role\":"
                     "\"user\",\"content\":\"2+2?\"}]}", &r);
  CHECK_STR(r.thinking, "Let me think about caf\xc3\xa9\n2 + 2.");
  CHECK_INT(r.signatures, ==, 1);
  CHECK_STR(r.signature, "EqQBCkgIARABGAIiQL+/sig==");
  CHECK_STR(r.text, "4.");
  /* Reasoning, then its signature, then the answer. */
  const char *k = strrchr(r.order, 'K'), *sig = strchr(r.order, 'S'),
             *t = strchr(r.order, 'T');
  CHECK(k && sig && t && k < sig && sig < t);
  CHECK_INT(r.stop, ==, PT_STOP_END_TURN);
  cJSON *body = pv_claude_body(&e, 0);
  PV_CHECK_MEMBER(body, "thinking",
                  "{\"type\":\"enabled\",\"budget_tokens\":16384}");
  PV_CHECK_MEMBER(body, "max_tokens", "20480");
  cJSON_Delete(body);
  pv_claude_stop(&e);
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
  pv_claude e;
  pv_claude_start(&e, NULL);
  fake_anthropic_push(e.fa, reply_one_tool, NULL);
  pv_chat r;
  pv_claude_chat(&e, PV_CLAUDE_HELLO, &r);
  CHECK_STR(r.text, "Let me check.");
  pv_call *c = &r.calls[0];
  CHECK_INT(c->starts, ==, 1);
  CHECK_INT(c->ends, ==, 1);
  CHECK_INT(c->deltas, >=, 5);
  CHECK_STR(c->id, "toolu_01A09q90qw90lq917835lq9");
  CHECK_STR(c->name, "get_weather");
  const char *want = "{\"location\":\"Paris, France\","
                     "\"unit\":\"c\xc3\xa9lsius\","
                     "\"note\":\"a\\nb\",\"days\":[1,2]}";
  PV_CHECK_JSON(c->json, want);
  PV_CHECK_JSON(c->args, want);
  CHECK_INT(r.calls[1].starts, ==, 0);
  CHECK_INT(r.status, ==, PT_OK);
  CHECK_INT(r.stop, ==, PT_STOP_TOOL_USE);
  pv_claude_stop(&e);
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
  pv_claude e;
  pv_claude_start(&e, NULL);
  fake_anthropic_push(e.fa, reply_two_tools, NULL);
  pv_chat r;
  pv_claude_chat(&e, PV_CLAUDE_HELLO, &r);
  CHECK_STR(r.calls[0].id, "toolu_A");
  CHECK_STR(r.calls[0].name, "get_weather");
  PV_CHECK_JSON(r.calls[0].json, "{\"city\":\"Oslo\"}");
  CHECK_STR(r.calls[1].id, "toolu_B");
  CHECK_STR(r.calls[1].name, "get_time");
  PV_CHECK_JSON(r.calls[1].json, "{\"tz\":\"Europe/Oslo\"}");
  CHECK_INT(r.calls[0].ends + r.calls[1].ends, ==, 2);
  CHECK_INT(r.calls[2].starts, ==, 0);
  /* The first call ends before the second starts: "...s d* e s d* e". */
  const char *first_end = strchr(r.order, 'e');
  CHECK(first_end && strchr(first_end + 1, 's'));
  CHECK_INT(r.stop, ==, PT_STOP_TOOL_USE);
  pv_claude_stop(&e);
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
  pv_claude e;
  pv_claude_start(&e, NULL);
  fake_anthropic_push(e.fa, reply_usage, NULL);
  pv_chat r;
  pv_claude_chat(&e, PV_CLAUDE_HELLO, &r);
  CHECK_INT(r.usages, >=, 2);
  CHECK_INT(r.in, ==, 100);
  CHECK_INT(r.out, ==, 57);
  CHECK_INT(r.cache_read, ==, 300);
  CHECK_INT(r.cache_write, ==, 20);
  /* The first report (message_start) came before any text. */
  CHECK(r.order[0] == 'u');
  pv_claude_stop(&e);
}

static void reply_stop(void *ud, fake_http_response *res)
{
  pv_claude_send_text(res, "x", ud, 1);
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
  pv_claude e;
  pv_claude_start(&e, NULL);
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    fake_anthropic_push(e.fa, reply_stop, (void *)cases[i].api);
    pv_chat r;
    pv_claude_chat(&e, PV_CLAUDE_HELLO, &r);
    CHECK_INT(r.status, ==, PT_OK);
    if (r.stop != cases[i].stop)
      check_fail(__FILE__, __LINE__, "stop_reason %s gave stop %u",
                 cases[i].api, r.stop);
  }
  pv_claude_stop(&e);
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
  pv_claude e;
  pv_claude_start(&e, NULL);
  fake_anthropic_push(e.fa, reply_models, (void *)PAGE1);
  fake_anthropic_push(e.fa, reply_models, (void *)PAGE2);
  h_tool t;
  pv_list_models(e.f.k, "claude", &t);
  CHECK_INT(t.done, ==, 1);
  CHECK_INT(t.status, ==, PT_OK);
  PV_CHECK_JSON(
      t.result,
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
  CHECK_STR(fake_anthropic_header(a, "x-api-key"), PV_CLAUDE_KEY);
  CHECK_STR(fake_anthropic_header(a, "anthropic-version"), "2023-06-01");
  pv_claude_stop(&e);
}

/* ------------------------------------------------------------------------ */
/* The benchmark's scenario                                                  */

static void reply_many(void *ud, fake_http_response *res)
{
  fake_anthropic_stream_deltas(res, 5000);
}

static void the_benchmark_stream_arrives_whole(void)
{
  pv_claude e;
  pv_claude_start(&e, NULL);
  fake_anthropic_push(e.fa, reply_many, NULL);
  pv_chat r;
  pv_claude_chat(&e, PV_CLAUDE_HELLO, &r);
  CHECK_INT(r.status, ==, PT_OK);
  CHECK_INT(r.text_len, ==, 5000 * 4);
  CHECK_INT(r.out, ==, 5000);
  CHECK(strncmp(r.text, "tok tok ", 8) == 0);
  pv_claude_stop(&e);
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
  pv_claude e;
  pv_claude_start(&e, NULL);
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
  pv_claude_stop(&e);
}

int main(void)
{
  pv_init("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", NULL);
  RUN(text_streams_intact_across_split_escapes_and_utf8);
  RUN(thinking_streams_then_its_signature_then_the_answer);
  RUN(a_tool_call_in_many_fragments_ends_with_its_whole_arguments);
  RUN(two_tool_calls_are_numbered_among_themselves);
  RUN(usage_reports_input_output_and_cache_tokens);
  RUN(every_stop_reason_maps);
  RUN(models_are_listed_across_pages);
  RUN(the_benchmark_stream_arrives_whole);
  RUN(the_sdk_provider_check_passes);
  return check_report();
}
