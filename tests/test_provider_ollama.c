/*
 * tests/test_provider_ollama.c: the bundled ollama.so through the real
 * kernel, against a fake Ollama server on 127.0.0.1 that speaks /api/chat
 * NDJSON, cut into small pieces with pauses between them: what it makes of
 * text, thinking, tool calls (native, and written into the text by models
 * that cannot make them), done reasons and a long stream.
 *
 * Not here: retries, errors, cancel and cuts (test_provider_ollama_failures.c);
 * the requests it builds, model listing and where it finds the server
 * (test_provider_ollama_request.c). The environment and the chat recorder
 * are support/provider_cases.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "provider_cases.h"

/* ------------------------------------------------------------------------ */
/* Streaming                                                                 */

/* Respond with `text` (NDJSON lines) cut into `step`-byte pieces. */
typedef struct trickle {
  const char *text;
  size_t step;
} trickle;

static void send_trickle(void *ud, int attempt, const fake_http_request *req,
                         fake_http_response *res)
{
  trickle *t = ud;
  fake_ollama_head(res);
  fake_ollama_send_trickle(res, t->text, t->step, 1);
  fake_ollama_end(res);
}

static void plain_text(void *ud, int attempt, const fake_http_request *req,
                       fake_http_response *res)
{
  fake_ollama_text t = { 0 };
  fake_ollama_add_content(&t, "Caf\\u00e9 ");
  fake_ollama_add_content(&t, "na\\u00efve \\\"quoted\\\"\\n");
  fake_ollama_add_content(&t, "r\xc3\xa9sum\xc3\xa9 \xf0\x9f\x98\x80");
  fake_ollama_add_content(&t, " and \\ud83d\\ude00 \\\\path\\tend");
  fake_ollama_add_done(&t, "stop", 26, 7);
  /* Cut inside \u00e9, inside \" and \n, inside both UTF-8 characters,
   * inside the surrogate pair, and between lines. */
  const char *s = t.s;
  size_t cuts[] = {
    (size_t)(strstr(s, "\\u00e9") - s) + 3,
    (size_t)(strstr(s, "\\\"quoted") - s) + 1,
    (size_t)(strstr(s, "\\n") - s) + 1,
    (size_t)(strstr(s, "\xc3\xa9sum") - s) + 1,
    (size_t)(strstr(s, "\xf0\x9f") - s) + 2,
    (size_t)(strstr(s, "\\ud83d") - s) + 4,
    (size_t)(strstr(s, "\\ude00") - s) + 1,
    (size_t)(strstr(s, "\\\\path") - s) + 1,
    (size_t)(strstr(s, "\"done\":true") - s) + 3,
    0
  };
  fake_ollama_head(res);
  fake_ollama_send_cut(res, s, cuts, 3);
  fake_ollama_end(res);
  fake_ollama_text_free(&t);
}

static void plain_text_streams_exactly_across_split_escapes_and_utf8(void)
{
  pv_ollama e;
  pv_ollama_start(&e, plain_text, NULL, NULL);
  pv_chat r;
  pv_ollama_chat(&e, PV_OLLAMA_SIMPLE, &r);
  CHECK_STR(r.text, "Caf\xc3\xa9 na\xc3\xafve \"quoted\"\n"
                    "r\xc3\xa9sum\xc3\xa9 \xf0\x9f\x98\x80 and "
                    "\xf0\x9f\x98\x80 \\path\tend");
  CHECK_INT(r.status, ==, PT_OK);
  CHECK_INT(r.stop, ==, PT_STOP_END_TURN);
  CHECK_INT(r.in, ==, 26);
  CHECK_INT(r.out, ==, 7);
  CHECK_INT(r.usages, ==, 1);

  fake_ollama_seen s;
  cJSON *body = pv_ollama_body(&e, 0, &s);
  CHECK_STR(s.method, "POST");
  CHECK_STR(s.path, "/api/chat");
  CHECK_STR(fake_ollama_seen_header(&s, "Content-Type"), "application/json");
  CHECK(fake_ollama_seen_header(&s, "Authorization") == NULL);
  CHECK(cJSON_IsTrue(cJSON_GetObjectItem(body, "stream")));
  cJSON_Delete(body);
  fake_ollama_seen_free(&s);
  pv_ollama_stop(&e);
}

static void thinking_streams_before_the_answer(void)
{
  fake_ollama_text t = { 0 };
  fake_ollama_add_thinking(&t, "The user says hi; ");
  fake_ollama_add_thinking(&t, "answer in fran\\u00e7ais.");
  fake_ollama_add_content(&t, "Bonjour !");
  fake_ollama_add_done(&t, "stop", 12, 30);
  trickle tr = { t.s, 5 };
  pv_ollama e;
  pv_ollama_start(&e, send_trickle, &tr, NULL);
  pv_chat r;
  pv_ollama_chat(&e, "{\"model\":\"qwen3\",\"messages\":[{\"role\":\"user\","
                     "\"content\":\"hi\"}],\"thinking\":{\"effort\":\"low\"}}",
                 &r);
  CHECK_STR(r.thinking, "The user says hi; answer in fran\xc3\xa7" "ais.");
  CHECK_STR(r.text, "Bonjour !");
  const char *last_thinking = strrchr(r.order, 'K'),
             *first_text = strchr(r.order, 'T');
  CHECK(last_thinking && first_text && last_thinking < first_text);
  CHECK_INT(r.stop, ==, PT_STOP_END_TURN);
  fake_ollama_seen s;
  cJSON *body = pv_ollama_body(&e, 0, &s);
  CHECK(cJSON_IsTrue(cJSON_GetObjectItem(body, "think")));
  cJSON_Delete(body);
  fake_ollama_seen_free(&s);
  pv_ollama_stop(&e);
  fake_ollama_text_free(&t);
}

static void a_tool_call_cut_into_many_pieces_ends_with_its_whole_arguments(void)
{
  fake_ollama_text t = { 0 };
  fake_ollama_add_tool_calls(
      &t, "[{\"function\":{\"name\":\"fs_read\",\"arguments\":{\"path\":"
          "\"docs/caf\\u00e9.md\",\"opts\":{\"lines\":[1,2,3],\"note\":"
          "\"a \\\"b\\\"\\n\"}}}}]");
  fake_ollama_add_done(&t, "stop", 40, 12);
  trickle tr = { t.s, 2 };
  pv_ollama e;
  pv_ollama_start(&e, send_trickle, &tr, NULL);
  pv_chat r;
  pv_ollama_chat(&e, PV_OLLAMA_WITH_TOOLS, &r);
  CHECK_INT(r.starts, ==, 1);
  pv_call *c = &r.calls[0];
  CHECK_INT(c->starts, ==, 1);
  CHECK_STR(c->name, "fs_read");
  CHECK(strncmp(c->id, "call_", 5) == 0);
  PV_CHECK_JSON(c->json, "{\"path\":\"docs/caf\xc3\xa9.md\",\"opts\":"
                         "{\"lines\":[1,2,3],\"note\":\"a \\\"b\\\"\\n\"}}");
  CHECK_STR(c->args, c->json);
  CHECK_STR(r.text, "");
  CHECK_INT(r.stop, ==, PT_STOP_TOOL_USE);
  CHECK_INT(r.out, ==, 12);
  pv_ollama_stop(&e);
  fake_ollama_text_free(&t);
}

static void two_tool_calls(void *ud, int attempt, const fake_http_request *req,
                           fake_http_response *res)
{
  fake_ollama_text t = { 0 };
  if (attempt == 0) {
    /* Both in one line, the first with Ollama's own id. */
    fake_ollama_add_tool_calls(
        &t, "[{\"id\":\"call_abc\",\"function\":{\"index\":0,\"name\":"
            "\"fs_read\",\"arguments\":{\"path\":\"a\"}}},{\"function\":{"
            "\"index\":1,\"name\":\"fs_read\",\"arguments\":{\"path\":"
            "\"b\"}}}]");
  } else {
    /* Each in a line of its own. */
    fake_ollama_add_tool_calls(&t, "[{\"function\":{\"name\":\"fs_read\","
                                   "\"arguments\":{\"path\":\"a\"}}}]");
    fake_ollama_add_tool_calls(&t, "[{\"function\":{\"name\":\"fs_read\","
                                   "\"arguments\":{\"path\":\"b\"}}}]");
  }
  fake_ollama_add_done(&t, "stop", 5, 9);
  fake_ollama_head(res);
  fake_ollama_send_trickle(res, t.s, 7, 1);
  fake_ollama_end(res);
  fake_ollama_text_free(&t);
}

static void two_parallel_tool_calls_keep_their_order_and_ids(void)
{
  pv_ollama e;
  pv_ollama_start(&e, two_tool_calls, NULL, NULL);
  for (int round = 0; round < 2; round++) {
    pv_chat r;
    pv_ollama_chat(&e, PV_OLLAMA_WITH_TOOLS, &r);
    CHECK_INT(r.starts, ==, 2);
    CHECK_INT(r.calls[0].starts, ==, 1);
    CHECK_INT(r.calls[1].starts, ==, 1);
    PV_CHECK_JSON(r.calls[0].json, "{\"path\":\"a\"}");
    PV_CHECK_JSON(r.calls[1].json, "{\"path\":\"b\"}");
    if (round == 0) CHECK_STR(r.calls[0].id, "call_abc");
    CHECK(strncmp(r.calls[1].id, "call_", 5) == 0);
    CHECK(strcmp(r.calls[0].id, r.calls[1].id) != 0);
    CHECK_INT(r.stop, ==, PT_STOP_TOOL_USE);
  }
  pv_ollama_stop(&e);
}

static void stop_reasons(void *ud, int attempt, const fake_http_request *req,
                         fake_http_response *res)
{
  fake_ollama_text t = { 0 };
  if (attempt == 0) {
    fake_ollama_add_content(&t, "cut sh");
    fake_ollama_add_done(&t, "length", 3, 2);
  } else {
    /* The last line may carry the last words, as /api/generate's does. */
    fake_ollama_add_content(&t, "Done");
    fake_ollama_add(&t, "{\"model\":\"llama3.2\",\"created_at\":\"x\","
                        "\"message\":{\"role\":\"assistant\",\"content\":"
                        "\"!\"},\"done\":true,\"done_reason\":\"stop\","
                        "\"prompt_eval_count\":3,\"eval_count\":2}\n");
  }
  fake_ollama_head(res);
  fake_ollama_send_trickle(res, t.s, 4, 1);
  fake_ollama_end(res);
  fake_ollama_text_free(&t);
}

static void each_done_reason_maps_to_its_stop_reason(void)
{
  pv_ollama e;
  pv_ollama_start(&e, stop_reasons, NULL, NULL);
  pv_chat r;
  pv_ollama_chat(&e, PV_OLLAMA_SIMPLE, &r);
  CHECK_STR(r.text, "cut sh");
  CHECK_INT(r.stop, ==, PT_STOP_MAX_TOKENS);
  pv_ollama_chat(&e, PV_OLLAMA_SIMPLE, &r);
  CHECK_STR(r.text, "Done!");
  CHECK_INT(r.stop, ==, PT_STOP_END_TURN);
  /* tool_use: see the tool call cases. Ollama reports a stop sequence as
   * "stop" and has no refusal, so those two never come from it. */
  pv_ollama_stop(&e);
}

static void benchmark_scenario_streams_every_delta(void *ud, int attempt,
                                                   const fake_http_request *r,
                                                   fake_http_response *res)
{
  fake_ollama_stream_deltas(res, 300);
}

static void the_benchmark_stream_arrives_whole(void)
{
  pv_ollama e;
  pv_ollama_start(&e, benchmark_scenario_streams_every_delta, NULL, NULL);
  pv_chat r;
  pv_ollama_chat(&e, PV_OLLAMA_SIMPLE, &r);
  CHECK_INT(r.status, ==, PT_OK);
  CHECK_INT(r.text_len, ==, 300 * 4);
  CHECK_INT(r.out, ==, 300);
  pv_ollama_stop(&e);
}

/* ------------------------------------------------------------------------ */
/* Tool calls written as text                                                */

typedef struct lines_script {
  const char *content[8];   /* escaped content of each line, NULL-ended */
} lines_script;

static void content_lines(void *ud, int attempt, const fake_http_request *req,
                          fake_http_response *res)
{
  const lines_script *ls = (const lines_script *)ud + attempt;
  fake_ollama_text t = { 0 };
  for (int i = 0; ls->content[i]; i++)
    fake_ollama_add_content(&t, ls->content[i]);
  fake_ollama_add_done(&t, "stop", 10, 10);
  fake_ollama_head(res);
  fake_ollama_send_trickle(res, t.s, 5, 1);
  fake_ollama_end(res);
  fake_ollama_text_free(&t);
}

static void a_tagged_tool_call_in_the_text_becomes_a_call(void)
{
  static const lines_script script[] = {
    { { "Let me look.\\n", "<tool", "_call>\\n{\\\"name\\\": \\\"fs_",
        "read\\\", \\\"arguments\\\": {\\\"path\\\": \\\"README.md\\\"}}\\n"
        "</tool",
        "_call>", NULL } },
    /* A model that stops before closing the tag. */
    { { "<tool_call>{\\\"name\\\": \\\"fs_read\\\", \\\"arguments\\\": "
        "{\\\"path\\\": \\\"b\\\"}}",
        NULL } },
  };
  pv_ollama e;
  pv_ollama_start(&e, content_lines, (void *)script, NULL);
  pv_chat r;
  pv_ollama_chat(&e, PV_OLLAMA_WITH_TOOLS, &r);
  CHECK_STR(r.text, "Let me look.\n");
  CHECK_INT(r.starts, ==, 1);
  CHECK_STR(r.calls[0].name, "fs_read");
  PV_CHECK_JSON(r.calls[0].json, "{\"path\":\"README.md\"}");
  CHECK_INT(r.stop, ==, PT_STOP_TOOL_USE);
  pv_ollama_chat(&e, PV_OLLAMA_WITH_TOOLS, &r);
  CHECK_STR(r.text, "");
  CHECK_INT(r.starts, ==, 1);
  PV_CHECK_JSON(r.calls[0].json, "{\"path\":\"b\"}");
  CHECK_INT(r.stop, ==, PT_STOP_TOOL_USE);
  pv_ollama_stop(&e);
}

static void a_bare_json_reply_naming_a_tool_becomes_a_call(void)
{
  static const lines_script script[] = {
    { { "\\n{\\\"name\\\": \\\"fs_read\\\", ",
        "\\\"parameters\\\": {\\\"path\\\": ", "\\\"a.txt\\\"}}", "\\n",
        NULL } },
  };
  pv_ollama e;
  pv_ollama_start(&e, content_lines, (void *)script, NULL);
  pv_chat r;
  pv_ollama_chat(&e, PV_OLLAMA_WITH_TOOLS, &r);
  CHECK_STR(r.text, "");
  CHECK_INT(r.starts, ==, 1);
  CHECK_STR(r.calls[0].name, "fs_read");
  PV_CHECK_JSON(r.calls[0].json, "{\"path\":\"a.txt\"}");
  CHECK(strncmp(r.calls[0].id, "call_", 5) == 0);
  CHECK_INT(r.stop, ==, PT_STOP_TOOL_USE);
  pv_ollama_stop(&e);
}

static void text_that_is_not_a_known_call_is_kept_exactly(void)
{
  static const lines_script script[] = {
    /* An unknown tool, tagged. */
    { { "<tool_call>{\\\"name\\\": \\\"rm_rf\\\", \\\"arguments\\\": {}}",
        "</tool_call> done", NULL } },
    /* An unknown tool, bare. */
    { { "{\\\"name\\\": \\\"rm_rf\\\", \\\"arguments\\\": {}}", NULL } },
    /* Text that merely starts with JSON. */
    { { "{\\\"a\\\": ", "1}", " is a JSON object.", NULL } },
    /* A known call followed by prose is not a bare call. */
    { { "{\\\"name\\\": \\\"fs_read\\\", \\\"arguments\\\": {}}",
        " is how you would call it.", NULL } },
    /* Unfinished JSON, and angle brackets that are not a tag. */
    { { "{ not json", NULL } },
    { { "a < b <tool", "ing> <", "tool_cal", "l", NULL } },
  };
  static const char *const want[] = {
    "<tool_call>{\"name\": \"rm_rf\", \"arguments\": {}}</tool_call> done",
    "{\"name\": \"rm_rf\", \"arguments\": {}}",
    "{\"a\": 1} is a JSON object.",
    "{\"name\": \"fs_read\", \"arguments\": {}} is how you would call it.",
    "{ not json",
    "a < b <tooling> <tool_call",
  };
  pv_ollama e;
  pv_ollama_start(&e, content_lines, (void *)script, NULL);
  pv_chat r;
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
    pv_ollama_chat(&e, PV_OLLAMA_WITH_TOOLS, &r);
    CHECK_STR(r.text, want[i]);
    CHECK_INT(r.starts, ==, 0);
    CHECK_INT(r.stop, ==, PT_STOP_END_TURN);
  }
  pv_ollama_stop(&e);
}

static void without_tools_in_the_request_tags_stream_through(void)
{
  static const lines_script script[] = {
    { { "<tool_call>{\\\"name\\\": \\\"fs_read\\\", \\\"arguments\\\": {}}"
        "</tool_call>",
        NULL } },
  };
  pv_ollama e;
  pv_ollama_start(&e, content_lines, (void *)script, NULL);
  pv_chat r;
  pv_ollama_chat(&e, PV_OLLAMA_SIMPLE, &r);
  CHECK_STR(r.text,
            "<tool_call>{\"name\": \"fs_read\", \"arguments\": {}}</tool_call>");
  CHECK_INT(r.starts, ==, 0);
  pv_ollama_stop(&e);
}

int main(void)
{
  pv_init("OLLAMA_HOST", "OLLAMA_API_KEY", NULL);
  RUN(plain_text_streams_exactly_across_split_escapes_and_utf8);
  RUN(thinking_streams_before_the_answer);
  RUN(a_tool_call_cut_into_many_pieces_ends_with_its_whole_arguments);
  RUN(two_parallel_tool_calls_keep_their_order_and_ids);
  RUN(each_done_reason_maps_to_its_stop_reason);
  RUN(the_benchmark_stream_arrives_whole);
  RUN(a_tagged_tool_call_in_the_text_becomes_a_call);
  RUN(a_bare_json_reply_naming_a_tool_becomes_a_call);
  RUN(text_that_is_not_a_known_call_is_kept_exactly);
  RUN(without_tools_in_the_request_tags_stream_through);
  return check_report();
}
