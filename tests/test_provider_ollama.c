/*
 * tests/test_provider_ollama.c: the bundled ollama.so through the real
 * kernel, against a fake Ollama server on 127.0.0.1 that speaks /api/chat
 * NDJSON and /api/tags, cut into small pieces with pauses between them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "check.h"
#include "fake_ollama.h"
#include "harness.h"
#include "ops.h"

/* ------------------------------------------------------------------------ */
/* What one chat reported                                                    */

typedef struct call_rec {
  uint32_t index;
  char id[96], name[64];
  char deltas[2048], json[2048];
  int started, ended, deltas_before_start, after_end;
} call_rec;

typedef struct ev_log {
  char text[8192];
  size_t text_len;
  char thinking[4096];
  size_t thinking_len;
  int seq, first_text_seq, last_thinking_seq;
  call_rec calls[8];
  int call_count;
  uint64_t in_tokens, out_tokens;
  int usage_events;
  int done, after_done;
  int32_t status;
  uint32_t stop, flags;
  char message[1024];
} ev_log;

static void append(char *buf, size_t *len, size_t cap, pt_str s)
{
  if (*len + s.len >= cap) return;
  memcpy(buf + *len, s.ptr, s.len);
  *len += s.len;
  buf[*len] = '\0';
}

static call_rec *call_at(ev_log *l, uint32_t index)
{
  for (int i = 0; i < l->call_count; i++)
    if (l->calls[i].index == index) return &l->calls[i];
  return NULL;
}

static void on_event(void *ud, const pt_chat_event *ev)
{
  ev_log *l = ud;
  call_rec *c;
  l->seq++;
  if (l->done) {
    l->after_done++;
    return;
  }
  switch (ev->kind) {
  case PT_EV_TEXT:
    if (!l->first_text_seq) l->first_text_seq = l->seq;
    append(l->text, &l->text_len, sizeof l->text, ev->text);
    break;
  case PT_EV_THINKING:
    l->last_thinking_seq = l->seq;
    append(l->thinking, &l->thinking_len, sizeof l->thinking, ev->text);
    break;
  case PT_EV_TOOL_CALL_START:
    if (l->call_count == 8) break;
    c = &l->calls[l->call_count++];
    c->index = ev->index;
    c->started = 1;
    snprintf(c->id, sizeof c->id, "%.*s", (int)ev->id.len, ev->id.ptr);
    snprintf(c->name, sizeof c->name, "%.*s", (int)ev->name.len,
             ev->name.ptr);
    break;
  case PT_EV_TOOL_CALL_DELTA:
    c = call_at(l, ev->index);
    if (!c) break;
    if (c->ended) c->after_end++;
    size_t n = strlen(c->deltas);
    append(c->deltas, &n, sizeof c->deltas, ev->json);
    break;
  case PT_EV_TOOL_CALL_END:
    c = call_at(l, ev->index);
    if (!c) break;
    if (c->ended) c->after_end++;
    c->ended = 1;
    snprintf(c->json, sizeof c->json, "%.*s", (int)ev->json.len,
             ev->json.ptr);
    break;
  case PT_EV_USAGE:
    l->usage_events++;
    l->in_tokens = ev->input_tokens;
    l->out_tokens = ev->output_tokens;
    break;
  case PT_EV_DONE:
    l->done++;
    l->status = ev->status;
    l->stop = ev->stop;
    l->flags = ev->flags;
    snprintf(l->message, sizeof l->message, "%.*s", (int)ev->text.len,
             ev->text.ptr ? ev->text.ptr : "");
    break;
  }
}

/* ------------------------------------------------------------------------ */
/* A kernel with ollama.so configured for a fake server                     */

typedef struct env {
  fake_ollama *srv;
  h_fixture f;
} env;

/* `settings`: more Lua fields for plugins.ollama, or NULL. With
 * `no_base_url`, base_url is left to OLLAMA_HOST. */
static void env_boot(env *e, fake_ollama_chat_fn fn, void *ud,
                     const char *settings, int no_base_url)
{
  e->srv = fake_ollama_start(fn, ud);
  if (!e->srv) abort();
  h_fixture_prepare(&e->f, NULL);
  h_copy_bundled("ollama.so", e->f.dir);
  char lua[2048], base[128] = "";
  if (!no_base_url)
    snprintf(base, sizeof base, "base_url = 'http://127.0.0.1:%d', ",
             fake_ollama_port(e->srv));
  snprintf(lua, sizeof lua,
           "return { plugins = { ollama = { %sbackoff_base_ms = 10, %s } } }\n",
           base, settings ? settings : "");
  char *config = h_write_config(e->f.dir, lua);
  h_fixture_boot(&e->f, 0, config);
  free(config);
}

static void env_start(env *e, fake_ollama_chat_fn fn, void *ud)
{
  env_boot(e, fn, ud, NULL, 0);
}

static void env_stop(env *e)
{
  h_fixture_stop(&e->f);
  fake_ollama_stop(e->srv);
}

static const char *SIMPLE =
    "{\"model\":\"llama3.2\",\"messages\":[{\"role\":\"user\","
    "\"content\":\"hi\"}]}";

static const char *WITH_TOOLS =
    "{\"model\":\"qwen2.5\",\"messages\":[{\"role\":\"user\","
    "\"content\":\"read it\"}],\"tools\":[{\"name\":\"fs_read\","
    "\"description\":\"Read a file.\",\"input_schema\":{\"type\":\"object\","
    "\"properties\":{\"path\":{\"type\":\"string\"}}}}]}";

/* Start a chat, run it to its DONE, and check it ended exactly once. */
static pt_op_impl *start_chat(env *e, const char *request, ev_log *l)
{
  memset(l, 0, sizeof *l);
  pt_op_sink sink = { .on_event = on_event, .ud = l };
  pt_op_impl *op = NULL;
  CHECK_INT(pt_op_chat(e->f.k, "ollama", (pt_str){ request, strlen(request) },
                       NULL, &sink, &op),
            ==, PT_OK);
  return op;
}

static void finish_chat(env *e, ev_log *l, uint64_t ms)
{
  h_run_until(e->f.k, &l->done, ms);
  uint64_t t0 = h_now_ms();
  while (h_now_ms() - t0 < 40) pt_kernel_spin(e->f.k, 5);
  CHECK_INT(l->done, ==, 1);
  CHECK_INT(l->after_done, ==, 0);
  for (int i = 0; i < l->call_count; i++) {
    CHECK(l->calls[i].ended);
    CHECK_INT(l->calls[i].after_end, ==, 0);
  }
}

static void run_chat(env *e, const char *request, ev_log *l)
{
  start_chat(e, request, l);
  finish_chat(e, l, 10000);
}

static int json_equal(const char *a, const char *b)
{
  cJSON *x = cJSON_Parse(a), *y = cJSON_Parse(b);
  int eq = x && y && cJSON_Compare(x, y, 1);
  if (!eq) fprintf(stderr, "  json differs:\n  got  %s\n  want %s\n", a, b);
  cJSON_Delete(x);
  cJSON_Delete(y);
  return eq;
}

/* The body of the `n`-th request the fake received, parsed. */
static cJSON *seen_body(env *e, size_t n, fake_ollama_seen *s)
{
  if (!fake_ollama_seen_get(e->srv, n, s)) return NULL;
  return cJSON_Parse(s->body);
}

/* ------------------------------------------------------------------------ */
/* Scripts                                                                   */

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
  env e;
  env_start(&e, plain_text, NULL);
  ev_log l;
  run_chat(&e, SIMPLE, &l);
  CHECK_STR(l.text, "Caf\xc3\xa9 na\xc3\xafve \"quoted\"\n"
                    "r\xc3\xa9sum\xc3\xa9 \xf0\x9f\x98\x80 and "
                    "\xf0\x9f\x98\x80 \\path\tend");
  CHECK_INT(l.status, ==, PT_OK);
  CHECK_INT(l.stop, ==, PT_STOP_END_TURN);
  CHECK_INT(l.in_tokens, ==, 26);
  CHECK_INT(l.out_tokens, ==, 7);
  CHECK_INT(l.usage_events, ==, 1);

  fake_ollama_seen s;
  cJSON *body = seen_body(&e, 0, &s);
  CHECK_STR(s.method, "POST");
  CHECK_STR(s.path, "/api/chat");
  CHECK_STR(fake_ollama_seen_header(&s, "Content-Type"), "application/json");
  CHECK(fake_ollama_seen_header(&s, "Authorization") == NULL);
  CHECK(cJSON_IsTrue(cJSON_GetObjectItem(body, "stream")));
  cJSON_Delete(body);
  fake_ollama_seen_free(&s);
  env_stop(&e);
}

static void thinking_streams_before_the_answer(void)
{
  fake_ollama_text t = { 0 };
  fake_ollama_add_thinking(&t, "The user says hi; ");
  fake_ollama_add_thinking(&t, "answer in fran\\u00e7ais.");
  fake_ollama_add_content(&t, "Bonjour !");
  fake_ollama_add_done(&t, "stop", 12, 30);
  trickle tr = { t.s, 5 };
  env e;
  env_start(&e, send_trickle, &tr);
  ev_log l;
  run_chat(&e, "{\"model\":\"qwen3\",\"messages\":[{\"role\":\"user\","
               "\"content\":\"hi\"}],\"thinking\":{\"effort\":\"low\"}}",
           &l);
  CHECK_STR(l.thinking, "The user says hi; answer in fran\xc3\xa7" "ais.");
  CHECK_STR(l.text, "Bonjour !");
  CHECK(l.last_thinking_seq < l.first_text_seq);
  CHECK_INT(l.stop, ==, PT_STOP_END_TURN);
  fake_ollama_seen s;
  cJSON *body = seen_body(&e, 0, &s);
  CHECK(cJSON_IsTrue(cJSON_GetObjectItem(body, "think")));
  cJSON_Delete(body);
  fake_ollama_seen_free(&s);
  env_stop(&e);
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
  env e;
  env_start(&e, send_trickle, &tr);
  ev_log l;
  run_chat(&e, WITH_TOOLS, &l);
  CHECK_INT(l.call_count, ==, 1);
  call_rec *c = &l.calls[0];
  CHECK_INT(c->index, ==, 0);
  CHECK_STR(c->name, "fs_read");
  CHECK(strncmp(c->id, "call_", 5) == 0);
  CHECK(json_equal(c->json, "{\"path\":\"docs/caf\xc3\xa9.md\",\"opts\":"
                            "{\"lines\":[1,2,3],\"note\":\"a \\\"b\\\"\\n\"}}"));
  CHECK_STR(c->deltas, c->json);
  CHECK_STR(l.text, "");
  CHECK_INT(l.stop, ==, PT_STOP_TOOL_USE);
  CHECK_INT(l.out_tokens, ==, 12);
  env_stop(&e);
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
  env e;
  env_start(&e, two_tool_calls, NULL);
  for (int round = 0; round < 2; round++) {
    ev_log l;
    run_chat(&e, WITH_TOOLS, &l);
    CHECK_INT(l.call_count, ==, 2);
    CHECK_INT(l.calls[0].index, ==, 0);
    CHECK_INT(l.calls[1].index, ==, 1);
    CHECK(json_equal(l.calls[0].json, "{\"path\":\"a\"}"));
    CHECK(json_equal(l.calls[1].json, "{\"path\":\"b\"}"));
    if (round == 0) CHECK_STR(l.calls[0].id, "call_abc");
    CHECK(strncmp(l.calls[1].id, "call_", 5) == 0);
    CHECK(strcmp(l.calls[0].id, l.calls[1].id) != 0);
    CHECK_INT(l.stop, ==, PT_STOP_TOOL_USE);
  }
  env_stop(&e);
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
  env e;
  env_start(&e, stop_reasons, NULL);
  ev_log l;
  run_chat(&e, SIMPLE, &l);
  CHECK_STR(l.text, "cut sh");
  CHECK_INT(l.stop, ==, PT_STOP_MAX_TOKENS);
  run_chat(&e, SIMPLE, &l);
  CHECK_STR(l.text, "Done!");
  CHECK_INT(l.stop, ==, PT_STOP_END_TURN);
  /* tool_use: see the tool call cases. Ollama reports a stop sequence as
   * "stop" and has no refusal, so those two never come from it. */
  env_stop(&e);
}

/* ------------------------------------------------------------------------ */
/* Errors and retries                                                        */

static void hello(fake_http_response *res)
{
  fake_ollama_text t = { 0 };
  fake_ollama_add_content(&t, "Hel");
  fake_ollama_add_content(&t, "lo");
  fake_ollama_add_done(&t, "stop", 4, 2);
  fake_ollama_head(res);
  fake_ollama_send_trickle(res, t.s, 9, 1);
  fake_ollama_end(res);
  fake_ollama_text_free(&t);
}

static void busy_then_ok(void *ud, int attempt, const fake_http_request *req,
                         fake_http_response *res)
{
  if (attempt == 0)
    fake_ollama_fail(res, 429, "too many requests", "Retry-After: 1\r\n");
  else
    hello(res);
}

static void a_429_waits_for_retry_after_then_succeeds_once(void)
{
  env e;
  env_start(&e, busy_then_ok, NULL);
  ev_log l;
  uint64_t t0 = h_now_ms();
  run_chat(&e, SIMPLE, &l);
  CHECK_INT(h_now_ms() - t0, >=, 1000);
  CHECK_INT(fake_ollama_chat_count(e.srv), ==, 2);
  CHECK_STR(l.text, "Hello");
  CHECK_INT(l.status, ==, PT_OK);
  env_stop(&e);
}

static void crash_then_ok(void *ud, int attempt, const fake_http_request *req,
                          fake_http_response *res)
{
  if (attempt == 0)
    fake_ollama_fail(res, 500,
                     "llama runner process has terminated: signal: killed",
                     NULL);
  else
    hello(res);
}

static void a_500_is_retried_then_succeeds(void)
{
  env e;
  env_start(&e, crash_then_ok, NULL);
  ev_log l;
  run_chat(&e, SIMPLE, &l);
  CHECK_INT(fake_ollama_chat_count(e.srv), ==, 2);
  CHECK_STR(l.text, "Hello");
  CHECK_INT(l.status, ==, PT_OK);
  env_stop(&e);
}

static void always_500(void *ud, int attempt, const fake_http_request *req,
                       fake_http_response *res)
{
  fake_ollama_fail(res, 500, (const char *)ud, NULL);
}

static void a_500_repeated_ends_retryable_after_the_last_attempt(void)
{
  env e;
  env_start(&e, always_500, "an error was encountered while running the model");
  ev_log l;
  run_chat(&e, SIMPLE, &l);
  CHECK_INT(fake_ollama_chat_count(e.srv), ==, 4);
  CHECK_INT(l.status, ==, PT_EHTTP);
  CHECK_INT(l.stop, ==, PT_STOP_ERROR);
  CHECK(l.flags & PT_EVF_RETRYABLE);
  CHECK_CONTAINS(l.message, "HTTP 500");
  CHECK_CONTAINS(l.message, "running the model");
  CHECK_CONTAINS(l.message, "4 attempts");
  env_stop(&e);
}

static void a_model_that_cannot_load_is_not_retried(void)
{
  env e;
  env_start(&e, always_500,
            "llama runner process has terminated: error loading model: "
            "unable to allocate CUDA0 buffer");
  ev_log l;
  run_chat(&e, SIMPLE, &l);
  CHECK_INT(fake_ollama_chat_count(e.srv), ==, 1);
  CHECK_INT(l.status, ==, PT_EHTTP);
  CHECK(!(l.flags & PT_EVF_RETRYABLE));
  CHECK_CONTAINS(l.message, "error loading model");
  env_stop(&e);
}

static void stream_error(void *ud, int attempt, const fake_http_request *req,
                         fake_http_response *res)
{
  const char *mode = ud;
  fake_ollama_text t = { 0 };
  if (strcmp(mode, "before") == 0 && attempt > 0) {
    hello(res);
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
  env e;
  env_start(&e, stream_error, "before");
  ev_log l;
  run_chat(&e, SIMPLE, &l);
  CHECK_INT(fake_ollama_chat_count(e.srv), ==, 2);
  CHECK_STR(l.text, "Hello");
  CHECK_INT(l.status, ==, PT_OK);
  env_stop(&e);
}

static void an_error_line_after_output_ends_the_chat_retryable(void)
{
  env e;
  env_start(&e, stream_error, "after");
  ev_log l;
  run_chat(&e, SIMPLE, &l);
  CHECK_INT(fake_ollama_chat_count(e.srv), ==, 1);
  CHECK_STR(l.text, "Hello");
  CHECK_INT(l.status, ==, PT_EHTTP);
  CHECK_INT(l.stop, ==, PT_STOP_ERROR);
  CHECK(l.flags & PT_EVF_RETRYABLE);
  CHECK_CONTAINS(l.message, "error was encountered while running the model");
  env_stop(&e);
}

static void an_error_line_about_loading_the_model_is_not_retried(void)
{
  env e;
  env_start(&e, stream_error, "loading");
  ev_log l;
  run_chat(&e, SIMPLE, &l);
  CHECK_INT(fake_ollama_chat_count(e.srv), ==, 1);
  CHECK_INT(l.status, ==, PT_EHTTP);
  CHECK(!(l.flags & PT_EVF_RETRYABLE));
  CHECK_CONTAINS(l.message, "error loading model");
  env_stop(&e);
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
  env e;
  env_start(&e, cut_midway, NULL);
  ev_log l;
  run_chat(&e, SIMPLE, &l);
  CHECK_INT(fake_ollama_chat_count(e.srv), ==, 1);
  CHECK_STR(l.text, "Partial text");
  CHECK_INT(l.status, ==, PT_ECLOSED);
  CHECK(l.flags & PT_EVF_RETRYABLE);
  env_stop(&e);
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
  env e;
  env_start(&e, slow_stream, NULL);
  ev_log l;
  pt_op_impl *op = start_chat(&e, SIMPLE, &l);
  uint64_t t0 = h_now_ms();
  while (l.text_len < 15 && h_now_ms() - t0 < 5000) pt_kernel_spin(e.f.k, 5);
  CHECK_INT(l.text_len, >=, 15);
  CHECK_INT(fake_ollama_open_connections(e.srv), ==, 1);
  pt_op_cancel(op);
  finish_chat(&e, &l, 3000);
  CHECK_INT(l.status, ==, PT_ECANCELED);
  CHECK_INT(l.stop, ==, PT_STOP_CANCELLED);
  CHECK(strncmp(l.text, "word word word ", 15) == 0);
  t0 = h_now_ms();
  while (fake_ollama_open_connections(e.srv) != 0 && h_now_ms() - t0 < 3000)
    pt_kernel_spin(e.f.k, 10);
  CHECK_INT(fake_ollama_open_connections(e.srv), ==, 0);
  env_stop(&e);
}

static void malformed_then_ok(void *ud, int attempt,
                              const fake_http_request *req,
                              fake_http_response *res)
{
  if (attempt == 2) {
    hello(res);
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
  env e;
  env_start(&e, malformed_then_ok, NULL);
  ev_log l;
  run_chat(&e, SIMPLE, &l);
  CHECK_INT(l.status, ==, PT_EPROTO);
  CHECK(!(l.flags & PT_EVF_RETRYABLE));
  CHECK_CONTAINS(l.message, "not a JSON object");
  CHECK_CONTAINS(l.message, "{\"message\":{\"content\":\"x\"}");
  CHECK_STR(l.text, "ok ");
  run_chat(&e, SIMPLE, &l);
  CHECK_INT(l.status, ==, PT_EPROTO);
  CHECK_CONTAINS(l.message, "not a list of named functions");
  CHECK_INT(l.call_count, ==, 0);
  run_chat(&e, SIMPLE, &l);
  CHECK_INT(l.status, ==, PT_OK);
  CHECK_STR(l.text, "Hello");
  env_stop(&e);
}

static void unauthorized(void *ud, int attempt, const fake_http_request *req,
                         fake_http_response *res)
{
  fake_ollama_fail(res, 401, "unauthorized", NULL);
}

static void a_wrong_api_key_says_which_setting_to_fix_without_the_key(void)
{
  env e;
  env_boot(&e, unauthorized, NULL, "api_key = 'sk-wrong-0123456789'", 0);
  ev_log l;
  run_chat(&e, SIMPLE, &l);
  CHECK_INT(fake_ollama_chat_count(e.srv), ==, 1);
  CHECK_INT(l.status, ==, PT_EPERM);
  CHECK(!(l.flags & PT_EVF_RETRYABLE));
  CHECK_CONTAINS(l.message, "plugins.ollama.api_key");
  CHECK_CONTAINS(l.message, "OLLAMA_API_KEY");
  CHECK(strstr(l.message, "sk-wrong") == NULL);
  fake_ollama_seen s;
  fake_ollama_seen_get(e.srv, 0, &s);
  CHECK_STR(fake_ollama_seen_header(&s, "Authorization"),
            "Bearer sk-wrong-0123456789");
  fake_ollama_seen_free(&s);
  env_stop(&e);
}

static void not_pulled(void *ud, int attempt, const fake_http_request *req,
                       fake_http_response *res)
{
  fake_ollama_fail(res, 404,
                   "model \\\"llama9\\\" not found, try pulling it first", NULL);
}

static void a_model_not_pulled_is_refused_with_the_way_out(void)
{
  env e;
  env_start(&e, not_pulled, NULL);
  ev_log l;
  run_chat(&e, SIMPLE, &l);
  CHECK_INT(fake_ollama_chat_count(e.srv), ==, 1);
  CHECK_INT(l.status, ==, PT_EINVAL);
  CHECK_CONTAINS(l.message, "model \"llama9\" not found");
  CHECK_CONTAINS(l.message, "ollama pull");
  env_stop(&e);
}

/* ------------------------------------------------------------------------ */
/* Request mapping                                                           */

static void just_hello(void *ud, int attempt, const fake_http_request *req,
                       fake_http_response *res)
{
  hello(res);
}

static void the_request_maps_every_part_to_ollamas_fields(void)
{
  env e;
  env_boot(&e, just_hello, NULL, "num_ctx = 8192", 0);
  const char *req =
      "{\"model\":\"llava\",\"system\":\"Be brief.\",\"messages\":["
      "{\"role\":\"user\",\"content\":\"Read README.md\"},"
      "{\"role\":\"assistant\",\"content\":["
      "{\"type\":\"thinking\",\"text\":\"I should read it.\","
      "\"signature\":\"EqQB\"},"
      "{\"type\":\"text\",\"text\":\"Reading it.\"},"
      "{\"type\":\"tool_call\",\"id\":\"call_1\",\"name\":\"fs_read\","
      "\"arguments\":{\"path\":\"README.md\"}},"
      "{\"type\":\"tool_call\",\"id\":\"call_2\",\"name\":\"fs_stat\","
      "\"arguments\":{\"path\":\"README.md\"}}]},"
      "{\"role\":\"tool\",\"content\":["
      "{\"type\":\"tool_result\",\"tool_call_id\":\"call_1\","
      "\"content\":\"# Portico\",\"is_error\":false},"
      "{\"type\":\"tool_result\",\"tool_call_id\":\"call_2\","
      "\"content\":[{\"type\":\"text\",\"text\":\"no such file\"}],"
      "\"is_error\":true}]},"
      "{\"role\":\"user\",\"content\":["
      "{\"type\":\"text\",\"text\":\"And this picture?\"},"
      "{\"type\":\"image\",\"media_type\":\"image/png\","
      "\"data\":\"iVBORw0KGgo=\"},"
      "{\"type\":\"image\",\"url\":\"data:image/jpeg;base64,/9j/4AAQ\"}]}],"
      "\"tools\":[{\"name\":\"fs_read\",\"description\":\"Read a file.\","
      "\"input_schema\":{\"type\":\"object\",\"properties\":{\"path\":"
      "{\"type\":\"string\"}},\"required\":[\"path\"]}},"
      "{\"name\":\"fs_stat\",\"description\":\"Stat a file.\","
      "\"input_schema\":{\"type\":\"object\",\"properties\":{\"path\":"
      "{\"type\":\"string\"}}}}],"
      "\"tool_choice\":\"auto\",\"max_tokens\":512,\"temperature\":0.2,"
      "\"top_p\":0.9,\"stop\":[\"\\n\\nUser:\"],"
      "\"thinking\":{\"effort\":\"medium\",\"budget_tokens\":2048},"
      "\"extra\":{\"keep_alive\":\"10m\",\"format\":\"json\","
      "\"options\":{\"seed\":42,\"temperature\":0.3}}}";
  const char *want =
      "{\"model\":\"llava\",\"messages\":["
      "{\"role\":\"system\",\"content\":\"Be brief.\"},"
      "{\"role\":\"user\",\"content\":\"Read README.md\"},"
      "{\"role\":\"assistant\",\"content\":\"Reading it.\","
      "\"thinking\":\"I should read it.\",\"tool_calls\":["
      "{\"function\":{\"name\":\"fs_read\",\"arguments\":{\"path\":"
      "\"README.md\"}}},"
      "{\"function\":{\"name\":\"fs_stat\",\"arguments\":{\"path\":"
      "\"README.md\"}}}]},"
      "{\"role\":\"tool\",\"content\":\"# Portico\",\"tool_name\":"
      "\"fs_read\"},"
      "{\"role\":\"tool\",\"content\":\"Error: no such file\","
      "\"tool_name\":\"fs_stat\"},"
      "{\"role\":\"user\",\"content\":\"And this picture?\","
      "\"images\":[\"iVBORw0KGgo=\",\"/9j/4AAQ\"]}],"
      "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"fs_read\","
      "\"description\":\"Read a file.\",\"parameters\":{\"type\":\"object\","
      "\"properties\":{\"path\":{\"type\":\"string\"}},\"required\":"
      "[\"path\"]}}},"
      "{\"type\":\"function\",\"function\":{\"name\":\"fs_stat\","
      "\"description\":\"Stat a file.\",\"parameters\":{\"type\":\"object\","
      "\"properties\":{\"path\":{\"type\":\"string\"}}}}}],"
      "\"stream\":true,"
      "\"options\":{\"temperature\":0.3,\"top_p\":0.9,\"stop\":"
      "[\"\\n\\nUser:\"],\"num_predict\":512,\"num_ctx\":8192,\"seed\":42},"
      "\"think\":true,\"keep_alive\":\"10m\",\"format\":\"json\"}";
  ev_log l;
  run_chat(&e, req, &l);
  CHECK_INT(l.status, ==, PT_OK);
  fake_ollama_seen s;
  CHECK(fake_ollama_seen_get(e.srv, 0, &s));
  CHECK(json_equal(s.body, want));
  CHECK_STR(fake_ollama_seen_header(&s, "Content-Type"), "application/json");
  CHECK_STR(fake_ollama_seen_header(&s, "Accept"), "application/x-ndjson");
  fake_ollama_seen_free(&s);
  env_stop(&e);
}

/* The "tools" names the n-th request offered, comma-separated. */
static void offered_tools(env *e, size_t n, char *out, size_t size)
{
  fake_ollama_seen s;
  cJSON *body = seen_body(e, n, &s);
  const cJSON *t;
  out[0] = '\0';
  cJSON_ArrayForEach(t, cJSON_GetObjectItem(body, "tools")) {
    const char *name = cJSON_GetStringValue(
        cJSON_GetObjectItem(cJSON_GetObjectItem(t, "function"), "name"));
    snprintf(out + strlen(out), size - strlen(out), "%s%s", out[0] ? "," : "",
             name);
  }
  if (!cJSON_GetObjectItem(body, "tools")) snprintf(out, size, "(none)");
  cJSON_Delete(body);
  fake_ollama_seen_free(&s);
}

static void tool_choice_and_thinking_levels_map_to_what_ollama_takes(void)
{
  env e;
  env_start(&e, just_hello, NULL);
  char req[1024], names[128];
  const char *choices[] = { "\"none\"", "\"required\"",
                            "{\"name\":\"fs_stat\"}" };
  const char *want[] = { "(none)", "fs_read,fs_stat", "fs_stat" };
  ev_log l;
  for (int i = 0; i < 3; i++) {
    snprintf(req, sizeof req,
             "{\"model\":\"gpt-oss:20b\",\"messages\":[{\"role\":\"user\","
             "\"content\":\"x\"}],\"tools\":[{\"name\":\"fs_read\","
             "\"input_schema\":{\"type\":\"object\"}},{\"name\":\"fs_stat\"}],"
             "\"tool_choice\":%s,\"thinking\":{\"effort\":\"high\"}}",
             choices[i]);
    run_chat(&e, req, &l);
    CHECK_INT(l.status, ==, PT_OK);
    offered_tools(&e, (size_t)i, names, sizeof names);
    CHECK_STR(names, want[i]);
  }
  fake_ollama_seen s;
  cJSON *body = seen_body(&e, 0, &s);
  CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(body, "think")), "high");
  CHECK(cJSON_GetObjectItem(body, "options") == NULL);
  cJSON_Delete(body);
  fake_ollama_seen_free(&s);

  run_chat(&e, "{\"model\":\"m\",\"messages\":[],\"tools\":[{\"name\":"
               "\"fs_read\"}],\"tool_choice\":{\"name\":\"fs_write\"}}",
           &l);
  CHECK_INT(l.status, ==, PT_EINVAL);
  CHECK_CONTAINS(l.message, "fs_write");
  CHECK_INT(fake_ollama_chat_count(e.srv), ==, 3);
  env_stop(&e);
}

static void an_image_by_url_is_refused_before_anything_is_sent(void)
{
  env e;
  env_start(&e, just_hello, NULL);
  ev_log l;
  run_chat(&e, "{\"model\":\"llava\",\"messages\":[{\"role\":\"user\","
               "\"content\":[{\"type\":\"image\",\"url\":"
               "\"https://example.com/cat.jpg\"}]}]}",
           &l);
  CHECK_INT(l.status, ==, PT_EINVAL);
  CHECK_INT(l.stop, ==, PT_STOP_ERROR);
  CHECK_CONTAINS(l.message, "https://example.com/cat.jpg");
  CHECK_CONTAINS(l.message, "base64");
  run_chat(&e, "not json", &l);
  CHECK_INT(l.status, ==, PT_EINVAL);
  CHECK_CONTAINS(l.message, "not a JSON object");
  CHECK_INT(fake_ollama_chat_count(e.srv), ==, 0);
  env_stop(&e);
}

static void ollama_host_without_a_scheme_is_used_when_base_url_is_unset(void)
{
  env e;
  /* Boot with the variable pointing at the fake; the fake starts first. */
  fake_ollama *srv = fake_ollama_start(just_hello, NULL);
  char host[64];
  snprintf(host, sizeof host, "127.0.0.1:%d", fake_ollama_port(srv));
  setenv("OLLAMA_HOST", host, 1);
  e.srv = srv;
  h_fixture_prepare(&e.f, NULL);
  h_copy_bundled("ollama.so", e.f.dir);
  char *config = h_write_config(e.f.dir, "return {}\n");
  h_fixture_boot(&e.f, 0, config);
  free(config);
  ev_log l;
  run_chat(&e, SIMPLE, &l);
  CHECK_INT(l.status, ==, PT_OK);
  CHECK_STR(l.text, "Hello");
  unsetenv("OLLAMA_HOST");
  env_stop(&e);
}

static void listing_models_reads_api_tags(void)
{
  env e;
  env_start(&e, just_hello, NULL);
  fake_ollama_set_tags(
      e.srv,
      "{\"models\":[{\"name\":\"llama3.2:latest\",\"model\":"
      "\"llama3.2:latest\",\"modified_at\":\"2025-05-04T17:37:44.706015396-07:"
      "00\",\"size\":2019393189,\"digest\":\"a80c4f17acd5\",\"details\":{"
      "\"parent_model\":\"\",\"format\":\"gguf\",\"family\":\"llama\","
      "\"families\":[\"llama\"],\"parameter_size\":\"3.2B\","
      "\"quantization_level\":\"Q4_K_M\"}},{\"name\":\"qwen3:8b\",\"model\":"
      "\"qwen3:8b\",\"size\":5225388164,\"details\":{\"family\":\"qwen3\"}}]}");
  h_tool t = { 0 };
  pt_op_sink sink = { .on_done = h_on_tool_done, .ud = &t };
  CHECK_INT(pt_op_models(e.f.k, "ollama", &sink, NULL), ==, PT_OK);
  h_run_until(e.f.k, &t.done, 5000);
  CHECK_INT(t.done, ==, 1);
  CHECK_INT(t.status, ==, PT_OK);
  CHECK(json_equal(t.result,
                   "[{\"id\":\"llama3.2:latest\",\"size\":2019393189,"
                   "\"family\":\"llama\",\"parameter_size\":\"3.2B\","
                   "\"quantization_level\":\"Q4_K_M\"},{\"id\":\"qwen3:8b\","
                   "\"size\":5225388164,\"family\":\"qwen3\"}]"));
  fake_ollama_seen s;
  CHECK(fake_ollama_seen_get(e.srv, 0, &s));
  CHECK_STR(s.method, "GET");
  CHECK_STR(s.path, "/api/tags");
  fake_ollama_seen_free(&s);
  env_stop(&e);
}

static void listing_models_without_a_server_says_how_to_start_one(void)
{
  fake_http_dead *dead = fake_http_dead_refusing();
  h_fixture f;
  h_fixture_prepare(&f, NULL);
  h_copy_bundled("ollama.so", f.dir);
  char lua[256];
  snprintf(lua, sizeof lua,
           "return { plugins = { ollama = { base_url = "
           "'http://127.0.0.1:%d' } } }\n",
           fake_http_dead_port(dead));
  char *config = h_write_config(f.dir, lua);
  h_fixture_boot(&f, 0, config);
  free(config);
  h_tool t = { 0 };
  pt_op_sink sink = { .on_done = h_on_tool_done, .ud = &t };
  CHECK_INT(pt_op_models(f.k, "ollama", &sink, NULL), ==, PT_OK);
  h_run_until(f.k, &t.done, 5000);
  CHECK_INT(t.done, ==, 1);
  CHECK_INT(t.status, ==, PT_ECONNECT);
  CHECK_CONTAINS(t.result, "ollama serve");
  CHECK_CONTAINS(t.result, "OLLAMA_HOST");
  h_fixture_stop(&f);
  fake_http_dead_close(dead);
}

static void benchmark_scenario_streams_every_delta(void *ud, int attempt,
                                                   const fake_http_request *r,
                                                   fake_http_response *res)
{
  fake_ollama_stream_deltas(res, 300);
}

static void the_benchmark_stream_arrives_whole(void)
{
  env e;
  env_start(&e, benchmark_scenario_streams_every_delta, NULL);
  ev_log l;
  run_chat(&e, SIMPLE, &l);
  CHECK_INT(l.status, ==, PT_OK);
  CHECK_INT(l.text_len, ==, 300 * 4);
  CHECK_INT(l.out_tokens, ==, 300);
  env_stop(&e);
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
  env e;
  env_start(&e, content_lines, (void *)script);
  ev_log l;
  run_chat(&e, WITH_TOOLS, &l);
  CHECK_STR(l.text, "Let me look.\n");
  CHECK_INT(l.call_count, ==, 1);
  CHECK_STR(l.calls[0].name, "fs_read");
  CHECK(json_equal(l.calls[0].json, "{\"path\":\"README.md\"}"));
  CHECK_INT(l.stop, ==, PT_STOP_TOOL_USE);
  run_chat(&e, WITH_TOOLS, &l);
  CHECK_STR(l.text, "");
  CHECK_INT(l.call_count, ==, 1);
  CHECK(json_equal(l.calls[0].json, "{\"path\":\"b\"}"));
  CHECK_INT(l.stop, ==, PT_STOP_TOOL_USE);
  env_stop(&e);
}

static void a_bare_json_reply_naming_a_tool_becomes_a_call(void)
{
  static const lines_script script[] = {
    { { "\\n{\\\"name\\\": \\\"fs_read\\\", ",
        "\\\"parameters\\\": {\\\"path\\\": ", "\\\"a.txt\\\"}}", "\\n",
        NULL } },
  };
  env e;
  env_start(&e, content_lines, (void *)script);
  ev_log l;
  run_chat(&e, WITH_TOOLS, &l);
  CHECK_STR(l.text, "");
  CHECK_INT(l.call_count, ==, 1);
  CHECK_STR(l.calls[0].name, "fs_read");
  CHECK(json_equal(l.calls[0].json, "{\"path\":\"a.txt\"}"));
  CHECK(strncmp(l.calls[0].id, "call_", 5) == 0);
  CHECK_INT(l.stop, ==, PT_STOP_TOOL_USE);
  env_stop(&e);
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
  env e;
  env_start(&e, content_lines, (void *)script);
  ev_log l;
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
    run_chat(&e, WITH_TOOLS, &l);
    CHECK_STR(l.text, want[i]);
    CHECK_INT(l.call_count, ==, 0);
    CHECK_INT(l.stop, ==, PT_STOP_END_TURN);
  }
  env_stop(&e);
}

static void without_tools_in_the_request_tags_stream_through(void)
{
  static const lines_script script[] = {
    { { "<tool_call>{\\\"name\\\": \\\"fs_read\\\", \\\"arguments\\\": {}}"
        "</tool_call>",
        NULL } },
  };
  env e;
  env_start(&e, content_lines, (void *)script);
  ev_log l;
  run_chat(&e, SIMPLE, &l);
  CHECK_STR(l.text,
            "<tool_call>{\"name\": \"fs_read\", \"arguments\": {}}</tool_call>");
  CHECK_INT(l.call_count, ==, 0);
  env_stop(&e);
}

int main(void)
{
  unsetenv("http_proxy");
  unsetenv("HTTP_PROXY");
  unsetenv("all_proxy");
  unsetenv("ALL_PROXY");
  unsetenv("OLLAMA_HOST");
  unsetenv("OLLAMA_API_KEY");
  RUN(plain_text_streams_exactly_across_split_escapes_and_utf8);
  RUN(thinking_streams_before_the_answer);
  RUN(a_tool_call_cut_into_many_pieces_ends_with_its_whole_arguments);
  RUN(two_parallel_tool_calls_keep_their_order_and_ids);
  RUN(each_done_reason_maps_to_its_stop_reason);
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
  RUN(the_request_maps_every_part_to_ollamas_fields);
  RUN(tool_choice_and_thinking_levels_map_to_what_ollama_takes);
  RUN(an_image_by_url_is_refused_before_anything_is_sent);
  RUN(ollama_host_without_a_scheme_is_used_when_base_url_is_unset);
  RUN(listing_models_reads_api_tags);
  RUN(listing_models_without_a_server_says_how_to_start_one);
  RUN(the_benchmark_stream_arrives_whole);
  RUN(a_tagged_tool_call_in_the_text_becomes_a_call);
  RUN(a_bare_json_reply_naming_a_tool_becomes_a_call);
  RUN(text_that_is_not_a_known_call_is_kept_exactly);
  RUN(without_tools_in_the_request_tags_stream_through);
  return check_report();
}
