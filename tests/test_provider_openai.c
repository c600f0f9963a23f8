/*
 * tests/test_provider_openai.c: the bundled openai provider, loaded by the
 * real kernel, talking to a fake OpenAI API (tests/support/fake_openai) on
 * 127.0.0.1: streaming, tool calls, usage, stop reasons, retries, errors,
 * cancel, the exact request bodies, model listing, for Chat Completions and
 * the Responses API.
 *
 * JSON in this file is written with single quotes and turned into real
 * JSON by Q(), so that expected bodies stay readable.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "check.h"
#include "fake_openai.h"
#include "harness.h"
#include "ops.h"

#define KEY "sk-test-abcdefghijklmnop0123"
#define SIMPLE \
  "{'model':'gpt-4o-mini','messages':[{'role':'user','content':'Hi'}]}"

/* ------------------------------------------------------------------------ */
/* Helpers                                                                   */

/* `s` with every ' turned into ", in one of a few rotating buffers. */
static const char *Q(const char *s)
{
  static char bufs[6][16384];
  static int next;
  char *b = bufs[next++ % 6];
  snprintf(b, sizeof bufs[0], "%s", s);
  for (char *p = b; *p; p++)
    if (*p == '\'') *p = '"';
  return b;
}

/* Everything one chat reported. */
typedef struct rec {
  char text[16384];
  size_t text_len;
  char thinking[2048];
  size_t thinking_len;
  int starts, deltas, ends, usages;
  char id[4][64], name[4][64], json[4][1024];
  uint64_t in, out, cache_read;
  int done, after_done;
  int32_t status;
  uint32_t stop, flags;
  char message[1024], type[128];
} rec;

static void add(char *buf, size_t size, size_t *len, pt_str s)
{
  if (*len + s.len >= size) return;
  memcpy(buf + *len, s.ptr, s.len);
  *len += s.len;
  buf[*len] = '\0';
}

static void on_event(void *ud, const pt_chat_event *ev)
{
  rec *r = ud;
  if (r->done) {
    r->after_done++;
    return;
  }
  uint32_t i = ev->index < 4 ? ev->index : 3;
  switch (ev->kind) {
  case PT_EV_TEXT: add(r->text, sizeof r->text, &r->text_len, ev->text); break;
  case PT_EV_THINKING:
    add(r->thinking, sizeof r->thinking, &r->thinking_len, ev->text);
    break;
  case PT_EV_TOOL_CALL_START:
    r->starts++;
    snprintf(r->id[i], sizeof r->id[i], "%.*s", (int)ev->id.len, ev->id.ptr);
    snprintf(r->name[i], sizeof r->name[i], "%.*s", (int)ev->name.len,
             ev->name.ptr);
    break;
  case PT_EV_TOOL_CALL_DELTA: r->deltas++; break;
  case PT_EV_TOOL_CALL_END:
    r->ends++;
    CHECK(ev->id.len && strncmp(r->id[i], ev->id.ptr, ev->id.len) == 0);
    snprintf(r->json[i], sizeof r->json[i], "%.*s", (int)ev->json.len,
             ev->json.ptr);
    break;
  case PT_EV_USAGE:
    r->usages++;
    r->in = ev->input_tokens;
    r->out = ev->output_tokens;
    r->cache_read = ev->cache_read_tokens;
    break;
  case PT_EV_DONE:
    r->done++;
    r->status = ev->status;
    r->stop = ev->stop;
    r->flags = ev->flags;
    snprintf(r->message, sizeof r->message, "%.*s", (int)ev->text.len,
             ev->text.ptr ? ev->text.ptr : "");
    snprintf(r->type, sizeof r->type, "%.*s", (int)ev->name.len,
             ev->name.ptr ? ev->name.ptr : "");
    break;
  }
}

typedef struct env {
  fake_openai *fo;
  h_fixture f;
} env;

/* A kernel with the bundled openai.so whose settings point at a fresh fake;
 * `settings` are more Lua table members (may be ""). */
static void env_start(env *e, const char *key, const char *settings)
{
  char base[128], lua[2048], keyline[128] = "";
  e->fo = fake_openai_start();
  fake_openai_base_url(e->fo, base, sizeof base);
  if (key) snprintf(keyline, sizeof keyline, "api_key = '%s', ", key);
  snprintf(lua, sizeof lua,
           "return { plugins = { openai = { base_url = '%s', %s"
           "backoff_base_ms = 5, %s } } }\n",
           base, keyline, settings);
  h_fixture_prepare(&e->f, NULL);
  h_copy_bundled("openai.so", e->f.dir);
  char *config = h_write_config(e->f.dir, lua);
  h_fixture_boot(&e->f, 0, config);
  free(config);
}

static void env_stop(env *e)
{
  h_fixture_stop(&e->f);
  fake_openai_stop(e->fo);
}

static pt_op_impl *chat_start(env *e, const char *request, rec *r)
{
  memset(r, 0, sizeof *r);
  pt_op_sink sink = { .on_event = on_event, .ud = r };
  pt_op_impl *op = NULL;
  const char *json = Q(request);
  CHECK_INT(pt_op_chat(e->f.k, "openai", (pt_str){ json, strlen(json) }, NULL,
                       &sink, &op), ==, PT_OK);
  return op;
}

/* Run a chat to its end, then a little longer, so an event after DONE
 * would be seen; checks there was exactly one DONE and nothing after. */
static void chat_run(env *e, const char *request, rec *r)
{
  chat_start(e, request, r);
  h_run_until(e->f.k, &r->done, 15000);
  pt_kernel_spin(e->f.k, 30);
  CHECK_INT(r->done, ==, 1);
  CHECK_INT(r->after_done, ==, 0);
}

/* The body of the fake's i-th request, parsed (caller frees). */
static cJSON *body_of(env *e, int i)
{
  const fake_openai_request *req = fake_openai_get(e->fo, i);
  CHECK(req != NULL);
  return req ? cJSON_Parse(req->body) : NULL;
}

#define CHECK_JSON(got, want) check_json(__FILE__, __LINE__, (got), (want))
static void check_json(const char *file, int line, const cJSON *got,
                       const char *want)
{
  cJSON *w = cJSON_Parse(Q(want));
  if (!w) {
    check_fail(file, line, "expected JSON does not parse: %s", Q(want));
    return;
  }
  if (!got || !cJSON_Compare(got, w, 1)) {
    char *g = got ? cJSON_PrintUnformatted(got) : NULL;
    char *ws = cJSON_PrintUnformatted(w);
    check_fail(file, line, "JSON differs:\n  got  %s\n  want %s",
               g ? g : "(none)", ws);
    free(g);
    free(ws);
  }
  cJSON_Delete(w);
}

static void check_json_text(const char *file, int line, const char *got,
                            const char *want)
{
  cJSON *g = cJSON_Parse(got);
  check_json(file, line, g, want);
  cJSON_Delete(g);
}
#define CHECK_JSON_TEXT(got, want) \
  check_json_text(__FILE__, __LINE__, (got), (want))

/* ------------------------------------------------------------------------ */
/* Chat Completions scripts                                                  */

#define ROLE "{'role':'assistant','content':'','refusal':null}"

/* The text of chat_text_stream, decoded. */
static const char TEXT[] = "H\xc3\xa9llo, w\xc3\xb6rld \xe4\xb8\x96\xe7\x95\x8c"
                           " \xf0\x9f\x98\x80\n\"q\" \\ \xf0\x9f\x98\x80 end";

static void chat_text_stream(fake_openai_stream *s)
{
  fos_chunk(s, Q(ROLE), NULL);
  fos_chunk(s, Q("{'content':'H\\u00e9llo, '}"), NULL);
  fos_chunk(s, Q("{'content':'w\xc3\xb6rld \xe4\xb8\x96\xe7\x95\x8c'}"), NULL);
  fos_chunk(s, Q("{'content':' \xf0\x9f\x98\x80\\n\\'q\\' \\\\ '}"), NULL);
  fos_chunk(s, Q("{'content':'\\ud83d\\ude00 end'}"), NULL);
  fos_chunk(s, "{}", "stop");
  fos_usage(s, 12, 9, 0);
  fos_done(s);
}

static size_t at(const fake_openai_stream *s, const char *needle, size_t k)
{
  const char *p = strstr(s->text, needle);
  CHECK(p != NULL);
  return p ? (size_t)(p - s->text) + k : 0;
}

/* arg: 0 whole events, else the piece size; cut by hand when 99. */
static void script_text(fake_http_response *res, const void *arg)
{
  size_t piece = (size_t)(uintptr_t)arg;
  fake_openai_stream s;
  fos_init(&s);
  chat_text_stream(&s);
  fake_openai_sse_head(res);
  if (piece == 99) {
    /* Inside "data:", an escape's \u00 | e9, a 2-byte ö, a 3-byte 世, a
     * 4-byte emoji, a \n escape, between two surrogates, between the two
     * newlines that end an event, inside [DONE]. */
    size_t cuts[] = {
      at(&s, "data:", 2), at(&s, "\\u00e9", 4), at(&s, "\xc3\xb6", 1),
      at(&s, "\xe4\xb8\x96", 2), at(&s, "\xf0\x9f\x98\x80", 3),
      at(&s, "\\n", 1), at(&s, "\\ude00", 1), at(&s, "}\n\n", 2),
      at(&s, "[DONE]", 3),
    };
    fake_openai_send_cuts(res, &s, cuts, sizeof cuts / sizeof cuts[0], 15, 1);
  } else if (piece) {
    fake_openai_send_pieces(res, &s, piece, 1, 1);
  } else {
    fake_openai_send_events(res, &s, 0, 1);
  }
  fos_free(&s);
}

/* A stream of the given deltas (NULL-terminated) with finish `arg[0]`. */
typedef struct deltas {
  const char *finish;
  const char *list[12];
  size_t piece;
} deltas;

static void script_deltas(fake_http_response *res, const void *arg)
{
  const deltas *d = arg;
  fake_openai_stream s;
  fos_init(&s);
  fos_chunk(&s, Q(ROLE), NULL);
  for (int i = 0; d->list[i]; i++) fos_chunk(&s, Q(d->list[i]), NULL);
  fos_chunk(&s, "{}", d->finish);
  fos_usage(&s, 30, 8, 0);
  fos_done(&s);
  fake_openai_sse_head(res);
  if (d->piece)
    fake_openai_send_pieces(res, &s, d->piece, 1, 1);
  else
    fake_openai_send_events(res, &s, 0, 1);
  fos_free(&s);
}

static void script_hello(fake_http_response *res, const void *arg)
{
  static const deltas d = { "stop", { "{'content':'Hello'}", NULL }, 0 };
  script_deltas(res, &d);
}

/* ------------------------------------------------------------------------ */
/* Chat Completions: streaming                                               */

static void text_streams_exactly_however_the_bytes_are_cut(void)
{
  env e;
  env_start(&e, KEY, "");
  static const size_t modes[] = { 0, 1, 3, 99 };
  for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++) {
    fake_openai_push(e.fo, script_text, (const void *)(uintptr_t)modes[m]);
    rec r;
    chat_run(&e, SIMPLE, &r);
    CHECK_STR(r.text, TEXT);
    CHECK_INT(r.status, ==, PT_OK);
    CHECK_INT(r.stop, ==, PT_STOP_END_TURN);
  }
  const fake_openai_request *req = fake_openai_get(e.fo, 0);
  char h[256];
  CHECK_STR(req->method, "POST");
  CHECK_STR(req->path, "/v1/chat/completions");
  CHECK_STR(fake_openai_header(req, "Authorization", h, sizeof h),
            "Bearer " KEY);
  CHECK_STR(fake_openai_header(req, "Content-Type", h, sizeof h),
            "application/json");
  CHECK_STR(fake_openai_header(req, "Accept", h, sizeof h),
            "text/event-stream");
  cJSON *body = body_of(&e, 0);
  CHECK_JSON(body, "{'model':'gpt-4o-mini','messages':[{'role':'user',"
                   "'content':'Hi'}],'stream':true,'stream_options':"
                   "{'include_usage':true}}");
  cJSON_Delete(body);
  env_stop(&e);
}

static void reasoning_content_and_reasoning_stream_as_thinking(void)
{
  static const deltas d = {
    "stop",
    { "{'reasoning_content':'Let me '}", "{'reasoning_content':'th\\u00efnk.'}",
      "{'reasoning':' More.','reasoning_content':null}",
      "{'reasoning':' Again.','reasoning_content':' Again.'}",
      "{'content':'Answer'}", NULL },
    2,
  };
  env e;
  env_start(&e, KEY, "");
  fake_openai_push(e.fo, script_deltas, &d);
  rec r;
  chat_run(&e, SIMPLE, &r);
  CHECK_STR(r.thinking, "Let me th\xc3\xafnk. More. Again.");
  CHECK_STR(r.text, "Answer");
  CHECK_INT(r.stop, ==, PT_STOP_END_TURN);
  env_stop(&e);
}

static void a_tool_call_in_many_fragments_ends_with_the_whole_object(void)
{
  static const deltas d = {
    "tool_calls",
    { "{'role':'assistant','content':null,'tool_calls':[{'index':0,"
      "'id':'call_abc','type':'function','function':{'name':'fs_read',"
      "'arguments':''}}],'refusal':null}",
      "{'tool_calls':[{'index':0,'function':{'arguments':'{\\'pa'}}]}",
      "{'tool_calls':[{'index':0,'function':{'arguments':'th\\': \\'/tmp/caf"
      "\\\\u00e9 \\\\\\'x'}}]}",
      "{'tool_calls':[{'index':0,'function':{'arguments':'\\\\\\'\\', "
      "\\'n\\': [1,'}}]}",
      "{'tool_calls':[{'index':0,'function':{'arguments':' 2], \\'u\\': "
      "\\'\xe6\x97\xa5\xe6\x9c\xac'}}]}",
      "{'tool_calls':[{'index':0,'function':{'arguments':'\\'}'}}]}", NULL },
    3,
  };
  env e;
  env_start(&e, KEY, "");
  fake_openai_push(e.fo, script_deltas, &d);
  rec r;
  chat_run(&e, SIMPLE, &r);
  CHECK_INT(r.status, ==, PT_OK);
  CHECK_INT(r.stop, ==, PT_STOP_TOOL_USE);
  CHECK_INT(r.starts, ==, 1);
  CHECK_INT(r.deltas, ==, 5);
  CHECK_INT(r.ends, ==, 1);
  CHECK_STR(r.id[0], "call_abc");
  CHECK_STR(r.name[0], "fs_read");
  CHECK_JSON_TEXT(r.json[0], "{'path':'/tmp/caf\xc3\xa9 \\'x\\'','n':[1,2],"
                             "'u':'\xe6\x97\xa5\xe6\x9c\xac'}");
  env_stop(&e);
}

static void two_parallel_tool_calls_interleave_by_index(void)
{
  static const deltas d = {
    "tool_calls",
    { "{'role':'assistant','content':null,'tool_calls':[{'index':0,"
      "'id':'call_a','type':'function','function':{'name':'fs_read',"
      "'arguments':''}}]}",
      "{'tool_calls':[{'index':1,'id':'call_b','type':'function',"
      "'function':{'name':'web_get','arguments':''}}]}",
      "{'tool_calls':[{'index':0,'function':{'arguments':'{\\'path\\':'}}]}",
      "{'tool_calls':[{'index':1,'function':{'arguments':'{\\'url\\':"
      "\\'https://x.test\\'}'}}]}",
      "{'tool_calls':[{'index':0,'function':{'arguments':'\\'a.txt\\'}'}}]}",
      NULL },
    0,
  };
  env e;
  env_start(&e, KEY, "");
  fake_openai_push(e.fo, script_deltas, &d);
  rec r;
  chat_run(&e, SIMPLE, &r);
  CHECK_INT(r.stop, ==, PT_STOP_TOOL_USE);
  CHECK_INT(r.starts, ==, 2);
  CHECK_INT(r.ends, ==, 2);
  CHECK_STR(r.id[0], "call_a");
  CHECK_STR(r.name[1], "web_get");
  CHECK_JSON_TEXT(r.json[0], "{'path':'a.txt'}");
  CHECK_JSON_TEXT(r.json[1], "{'url':'https://x.test'}");
  env_stop(&e);
}

static void script_usage(fake_http_response *res, const void *arg)
{
  fake_openai_stream s;
  fos_init(&s);
  fos_chunk(&s, Q("{'content':'ok'}"), NULL);
  fos_chunk(&s, "{}", "stop");
  fos_usage(&s, 100, 20, 40);
  fos_done(&s);
  fake_openai_sse_head(res);
  fake_openai_send_events(res, &s, 0, 1);
  fos_free(&s);
}

static void usage_counts_cached_prompt_tokens_apart(void)
{
  env e;
  env_start(&e, KEY, "");
  fake_openai_push(e.fo, script_usage, NULL);
  rec r;
  chat_run(&e, SIMPLE, &r);
  CHECK_INT(r.usages, ==, 1);
  CHECK_INT(r.in, ==, 60);
  CHECK_INT(r.out, ==, 20);
  CHECK_INT(r.cache_read, ==, 40);
  env_stop(&e);
}

static void script_vllm_stop(fake_http_response *res, const void *arg)
{
  fake_openai_stream s;
  fos_init(&s);
  fos_data(&s, "%s", Q("{'id':'cmpl-1','object':'chat.completion.chunk',"
                       "'created':1,'model':'m','choices':[{'index':0,"
                       "'delta':{'content':'1 2 3'},'logprobs':null,"
                       "'finish_reason':null}]}"));
  fos_data(&s, "%s", Q("{'id':'cmpl-1','object':'chat.completion.chunk',"
                       "'created':1,'model':'m','choices':[{'index':0,"
                       "'delta':{'content':''},'logprobs':null,"
                       "'finish_reason':'stop','stop_reason':'###'}]}"));
  fos_done(&s);
  fake_openai_sse_head(res);
  fake_openai_send_events(res, &s, 0, 1);
  fos_free(&s);
}

static void each_finish_reason_maps_to_its_stop_reason(void)
{
  static const deltas stop = { "stop", { "{'content':'a'}", NULL }, 0 };
  static const deltas length = { "length", { "{'content':'a'}", NULL }, 0 };
  static const deltas filter = { "content_filter", { "{'content':'a'}", NULL },
                                 0 };
  static const deltas refusal = {
    "stop", { "{'refusal':'I can\\u2019t help with that.'}", NULL }, 0 };
  env e;
  env_start(&e, KEY, "");
  fake_openai_push(e.fo, script_deltas, &stop);
  fake_openai_push(e.fo, script_deltas, &length);
  fake_openai_push(e.fo, script_deltas, &filter);
  fake_openai_push(e.fo, script_deltas, &refusal);
  fake_openai_push(e.fo, script_vllm_stop, NULL);
  static const uint32_t want[] = { PT_STOP_END_TURN, PT_STOP_MAX_TOKENS,
                                   PT_STOP_REFUSAL, PT_STOP_REFUSAL,
                                   PT_STOP_STOP_SEQUENCE };
  for (int i = 0; i < 5; i++) {
    rec r;
    chat_run(&e, SIMPLE, &r);
    CHECK_INT(r.status, ==, PT_OK);
    CHECK_INT(r.stop, ==, want[i]);
    if (i == 3) CHECK_STR(r.text, "I can\xe2\x80\x99t help with that.");
  }
  env_stop(&e);
}

/* ------------------------------------------------------------------------ */
/* Chat Completions: failures                                                */

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
  env e;
  env_start(&e, KEY, "");
  fake_openai_push(e.fo, script_429, NULL);
  fake_openai_push(e.fo, script_hello, NULL);
  uint64_t t0 = h_now_ms();
  rec r;
  chat_run(&e, SIMPLE, &r);
  CHECK_INT(h_now_ms() - t0, >=, 950);
  CHECK_INT(fake_openai_count(e.fo), ==, 2);
  CHECK_STR(r.text, "Hello");
  CHECK_INT(r.status, ==, PT_OK);
  env_stop(&e);
}

static void a_500_is_retried_then_succeeds(void)
{
  env e;
  env_start(&e, KEY, "");
  fake_openai_push(e.fo, script_500, NULL);
  fake_openai_push(e.fo, script_hello, NULL);
  rec r;
  chat_run(&e, SIMPLE, &r);
  CHECK_INT(fake_openai_count(e.fo), ==, 2);
  CHECK_STR(r.text, "Hello");
  CHECK_INT(r.stop, ==, PT_STOP_END_TURN);
  env_stop(&e);
}

static void repeated_500s_exhaust_the_retries(void)
{
  env e;
  env_start(&e, KEY, "max_attempts = 3");
  for (int i = 0; i < 3; i++) fake_openai_push(e.fo, script_500, NULL);
  rec r;
  chat_run(&e, SIMPLE, &r);
  CHECK_INT(fake_openai_count(e.fo), ==, 3);
  CHECK_INT(r.status, ==, PT_EHTTP);
  CHECK_INT(r.stop, ==, PT_STOP_ERROR);
  CHECK(r.flags & PT_EVF_RETRYABLE);
  CHECK_STR(r.type, "server_error");
  CHECK_CONTAINS(r.message, "HTTP 500");
  CHECK_CONTAINS(r.message, "after 3 attempts");
  env_stop(&e);
}

/* arg: text sent before the error, or NULL. */
static void script_error_event(fake_http_response *res, const void *arg)
{
  fake_openai_stream s;
  fos_init(&s);
  fos_chunk(&s, Q(ROLE), NULL);
  if (arg) {
    char delta[128];
    snprintf(delta, sizeof delta, "{'content':'%s'}", (const char *)arg);
    fos_chunk(&s, Q(delta), NULL);
  }
  fos_data(&s, "%s", Q("{'error':{'message':'The server is overloaded, "
                       "please try again later.','type':'server_error',"
                       "'param':null,'code':'overloaded'}}"));
  fake_openai_sse_head(res);
  fake_openai_send_events(res, &s, 2, 1);
  fos_free(&s);
}

static void an_error_event_before_any_output_is_retried(void)
{
  env e;
  env_start(&e, KEY, "");
  fake_openai_push(e.fo, script_error_event, NULL);
  fake_openai_push(e.fo, script_hello, NULL);
  rec r;
  chat_run(&e, SIMPLE, &r);
  CHECK_INT(fake_openai_count(e.fo), ==, 2);
  CHECK_STR(r.text, "Hello");
  CHECK_INT(r.status, ==, PT_OK);
  env_stop(&e);
}

static void an_error_event_after_output_ends_the_chat_retryable(void)
{
  env e;
  env_start(&e, KEY, "");
  fake_openai_push(e.fo, script_error_event, "Partial");
  fake_openai_push(e.fo, script_hello, NULL);
  rec r;
  chat_run(&e, SIMPLE, &r);
  CHECK_INT(fake_openai_count(e.fo), ==, 1);
  CHECK_STR(r.text, "Partial");
  CHECK_INT(r.status, ==, PT_EHTTP);
  CHECK_INT(r.stop, ==, PT_STOP_ERROR);
  CHECK(r.flags & PT_EVF_RETRYABLE);
  CHECK_STR(r.type, "server_error");
  CHECK_CONTAINS(r.message, "overloaded");
  env_stop(&e);
}

/* arg: text sent before the connection is cut, or NULL. */
static void script_cut(fake_http_response *res, const void *arg)
{
  fake_openai_stream s;
  fos_init(&s);
  fos_chunk(&s, Q(ROLE), NULL);
  if (arg) {
    fos_chunk(&s, Q("{'content':'Par'}"), NULL);
    fos_chunk(&s, Q("{'content':'tial'}"), NULL);
  }
  fake_openai_sse_head(res);
  fake_openai_send_events(res, &s, 5, 0);
  fake_http_close(res);
  fos_free(&s);
}

static void a_cut_connection_keeps_the_text_and_ends_closed(void)
{
  env e;
  env_start(&e, KEY, "");
  fake_openai_push(e.fo, script_cut, "yes");
  rec r;
  chat_run(&e, SIMPLE, &r);
  CHECK_INT(fake_openai_count(e.fo), ==, 1);
  CHECK_STR(r.text, "Partial");
  CHECK_INT(r.status, ==, PT_ECLOSED);
  CHECK_INT(r.stop, ==, PT_STOP_ERROR);
  CHECK(r.flags & PT_EVF_RETRYABLE);
  CHECK_CONTAINS(r.message, "[DONE]");
  env_stop(&e);
}

static void a_cut_before_any_output_is_retried(void)
{
  env e;
  env_start(&e, KEY, "");
  fake_openai_push(e.fo, script_cut, NULL);
  fake_openai_push(e.fo, script_hello, NULL);
  rec r;
  chat_run(&e, SIMPLE, &r);
  CHECK_INT(fake_openai_count(e.fo), ==, 2);
  CHECK_STR(r.text, "Hello");
  CHECK_INT(r.status, ==, PT_OK);
  env_stop(&e);
}

/* arg nonzero: a finish_reason comes before the body ends. */
static void script_no_done(fake_http_response *res, const void *arg)
{
  fake_openai_stream s;
  fos_init(&s);
  fos_chunk(&s, Q("{'content':'Hi'}"), arg ? "stop" : NULL);
  fake_openai_sse_head(res);
  fake_openai_send_events(res, &s, 0, 1);
  fos_free(&s);
}

static void a_body_ending_without_done_is_closed_unless_it_finished(void)
{
  env e;
  env_start(&e, KEY, "max_attempts = 1");
  fake_openai_push(e.fo, script_no_done, NULL);
  fake_openai_push(e.fo, script_no_done, "finished");
  rec r;
  chat_run(&e, SIMPLE, &r);
  CHECK_INT(r.status, ==, PT_ECLOSED);
  CHECK(r.flags & PT_EVF_RETRYABLE);
  CHECK_STR(r.text, "Hi");
  chat_run(&e, SIMPLE, &r);
  CHECK_INT(r.status, ==, PT_OK);
  CHECK_INT(r.stop, ==, PT_STOP_END_TURN);
  CHECK_STR(r.text, "Hi");
  env_stop(&e);
}

static void script_slow(fake_http_response *res, const void *arg)
{
  fake_openai_stream s;
  fos_init(&s);
  for (int i = 0; i < 100; i++) fos_chunk(&s, Q("{'content':'tick '}"), NULL);
  fos_chunk(&s, "{}", "stop");
  fos_done(&s);
  fake_openai_sse_head(res);
  fake_openai_send_events(res, &s, 50, 1);
  fos_free(&s);
}

static void cancelling_a_slow_stream_closes_its_connection(void)
{
  env e;
  env_start(&e, KEY, "");
  fake_openai_push(e.fo, script_slow, NULL);
  rec r;
  pt_op_impl *op = chat_start(&e, SIMPLE, &r);
  uint64_t t0 = h_now_ms();
  while (r.text_len < 10 && h_now_ms() - t0 < 5000) pt_kernel_spin(e.f.k, 5);
  CHECK_INT(r.text_len, >=, 10);
  CHECK_INT(fake_openai_established(e.fo), ==, 1);
  pt_op_cancel(op);
  h_run_until(e.f.k, &r.done, 5000);
  CHECK_INT(r.done, ==, 1);
  CHECK_INT(r.status, ==, PT_ECANCELED);
  CHECK_INT(r.stop, ==, PT_STOP_CANCELLED);
  t0 = h_now_ms();
  while (fake_openai_established(e.fo) != 0 && h_now_ms() - t0 < 3000)
    pt_kernel_spin(e.f.k, 10);
  CHECK_INT(fake_openai_established(e.fo), ==, 0);
  pt_kernel_spin(e.f.k, 100);
  CHECK_INT(r.after_done, ==, 0);
  CHECK(strstr(r.text, "tick tick") == r.text);
  env_stop(&e);
}

static void script_malformed(fake_http_response *res, const void *arg)
{
  fake_openai_stream s;
  fos_init(&s);
  fos_chunk(&s, Q("{'content':'ok '}"), NULL);
  fos_raw(&s, "data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}\n\n");
  fos_done(&s);
  fake_openai_sse_head(res);
  fake_openai_send_events(res, &s, 0, 1);
  fos_free(&s);
}

static void a_malformed_event_fails_with_eproto_and_the_next_chat_works(void)
{
  env e;
  env_start(&e, KEY, "");
  fake_openai_push(e.fo, script_malformed, NULL);
  fake_openai_push(e.fo, script_hello, NULL);
  rec r;
  chat_run(&e, SIMPLE, &r);
  CHECK_INT(r.status, ==, PT_EPROTO);
  CHECK_INT(r.stop, ==, PT_STOP_ERROR);
  CHECK(!(r.flags & PT_EVF_RETRYABLE));
  CHECK_CONTAINS(r.message, "not the JSON object");
  CHECK_CONTAINS(r.message, "{\"choices\"");
  CHECK_INT(fake_openai_count(e.fo), ==, 1);
  chat_run(&e, SIMPLE, &r);
  CHECK_STR(r.text, "Hello");
  CHECK_INT(r.status, ==, PT_OK);
  env_stop(&e);
}

static void a_wrong_key_is_eperm_naming_the_setting_not_the_key(void)
{
  env e;
  env_start(&e, KEY, "");
  fake_openai_require_key(e.fo, "sk-the-right-key-000000000000");
  rec r;
  chat_run(&e, SIMPLE, &r);
  CHECK_INT(fake_openai_count(e.fo), ==, 1);
  CHECK_INT(r.status, ==, PT_EPERM);
  CHECK(!(r.flags & PT_EVF_RETRYABLE));
  CHECK_CONTAINS(r.message, "plugins.openai.api_key");
  CHECK_CONTAINS(r.message, "OPENAI_API_KEY");
  CHECK_CONTAINS(r.message, "invalid_api_key");
  CHECK(strstr(r.message, KEY) == NULL);
  CHECK(strstr(r.message, "sk-test") == NULL);
  CHECK(strstr(r.message, "0123") == NULL);
  env_stop(&e);
}

/* arg NULL: an error object; else a whole (unstreamed) completion. */
static void script_json_200(fake_http_response *res, const void *arg)
{
  fake_http_respond(res, 200, "application/json",
                    arg ? Q("{'id':'chatcmpl-1','object':'chat.completion',"
                            "'choices':[{'index':0,'message':{'role':"
                            "'assistant','content':'Hi'},'finish_reason':"
                            "'stop'}]}")
                        : Q("{'error':{'message':'Invalid model name',"
                            "'type':'invalid_request_error','param':'model',"
                            "'code':null}}"));
}

static void a_json_answer_instead_of_a_stream_is_read_not_retried(void)
{
  env e;
  env_start(&e, KEY, "");
  fake_openai_push(e.fo, script_json_200, NULL);
  fake_openai_push(e.fo, script_json_200, "completion");
  rec r;
  chat_run(&e, SIMPLE, &r);
  CHECK_INT(r.status, ==, PT_EINVAL);
  CHECK_STR(r.type, "invalid_request_error");
  CHECK_CONTAINS(r.message, "Invalid model name");
  chat_run(&e, SIMPLE, &r);
  CHECK_INT(r.status, ==, PT_EPROTO);
  CHECK_CONTAINS(r.message, "not an event stream");
  CHECK_INT(fake_openai_count(e.fo), ==, 2);
  env_stop(&e);
}

static void without_a_key_no_authorization_header_is_sent(void)
{
  env e;
  env_start(&e, NULL, "");
  fake_openai_push(e.fo, script_hello, NULL);
  rec r;
  chat_run(&e, SIMPLE, &r);
  CHECK_STR(r.text, "Hello");
  char h[256];
  CHECK(fake_openai_header(fake_openai_get(e.fo, 0), "Authorization", h,
                           sizeof h) == NULL);
  fake_openai_require_key(e.fo, KEY);
  chat_run(&e, SIMPLE, &r);
  CHECK_INT(r.status, ==, PT_EPERM);
  CHECK_CONTAINS(r.message, "none is set");
  CHECK_CONTAINS(r.message, "OPENAI_API_KEY");
  env_stop(&e);
}

/* ------------------------------------------------------------------------ */
/* Chat Completions: the request                                             */

/* Every kind of part, thinking with a signature, an erroring tool result,
 * images both ways, tools, tool_choice, sampling, stop, effort, extra. */
#define FULL_REQUEST                                                       \
  "{'model':'gpt-4o-mini','system':'Be brief.','messages':["              \
  "{'role':'user','content':'Read README.md'},"                            \
  "{'role':'assistant','content':["                                        \
  "{'type':'thinking','text':'I should read it.','signature':'sig-1'},"   \
  "{'type':'text','text':'Reading it.'},"                                  \
  "{'type':'tool_call','id':'call_1','name':'fs_read',"                    \
  "'arguments':{'path':'README.md'}}]},"                                   \
  "{'role':'tool','content':[{'type':'tool_result','tool_call_id':'call_1'," \
  "'content':'# Portico','is_error':false}]},"                             \
  "{'role':'assistant','content':[{'type':'tool_call','id':'call_2',"     \
  "'name':'fs_read','arguments':{'path':'nope'}}]},"                       \
  "{'role':'tool','content':[{'type':'tool_result','tool_call_id':'call_2'," \
  "'content':[{'type':'text','text':'no such file'}],'is_error':true}]},"  \
  "{'role':'user','content':[{'type':'text','text':'And this picture?'},"  \
  "{'type':'image','media_type':'image/png','data':'iVBORw0KGgo='},"       \
  "{'type':'image','url':'https://example.com/cat.jpg'}]}],"               \
  "'tools':[{'name':'fs_read','description':'Read a file.',"               \
  "'input_schema':{'type':'object','properties':{'path':{'type':'string'}}," \
  "'required':['path']}}],"                                                \
  "'tool_choice':{'name':'fs_read'},'max_tokens':1024,'temperature':0.5,"  \
  "'top_p':0.9,'stop':['\\n\\nHuman:','END'],'thinking':{'effort':'high'}," \
  "'extra':{'metadata':{'user_id':'u-42'},'parallel_tool_calls':false}}"

#define SCHEMA                                                             \
  "{'type':'object','properties':{'path':{'type':'string'}},"             \
  "'required':['path']}"

static void the_chat_completions_body_maps_every_part(void)
{
  env e;
  env_start(&e, KEY, "");
  fake_openai_push(e.fo, script_hello, NULL);
  rec r;
  chat_run(&e, FULL_REQUEST, &r);
  CHECK_INT(r.status, ==, PT_OK);
  cJSON *body = body_of(&e, 0);
  CHECK_JSON(body,
    "{'model':'gpt-4o-mini','messages':["
    "{'role':'system','content':'Be brief.'},"
    "{'role':'user','content':'Read README.md'},"
    "{'role':'assistant','content':'Reading it.','tool_calls':[{'id':'call_1',"
    "'type':'function','function':{'name':'fs_read',"
    "'arguments':'{\\'path\\':\\'README.md\\'}'}}]},"
    "{'role':'tool','tool_call_id':'call_1','content':'# Portico'},"
    "{'role':'assistant','content':null,'tool_calls':[{'id':'call_2',"
    "'type':'function','function':{'name':'fs_read',"
    "'arguments':'{\\'path\\':\\'nope\\'}'}}]},"
    "{'role':'tool','tool_call_id':'call_2','content':'Error: no such file'},"
    "{'role':'user','content':[{'type':'text','text':'And this picture?'},"
    "{'type':'image_url','image_url':{'url':'data:image/png;base64,"
    "iVBORw0KGgo='}},{'type':'image_url','image_url':"
    "{'url':'https://example.com/cat.jpg'}}]}],"
    "'tools':[{'type':'function','function':{'name':'fs_read',"
    "'description':'Read a file.','parameters':" SCHEMA "}}],"
    "'tool_choice':{'type':'function','function':{'name':'fs_read'}},"
    "'max_completion_tokens':1024,'temperature':0.5,'top_p':0.9,"
    "'stop':['\\n\\nHuman:','END'],'reasoning_effort':'high','stream':true,"
    "'stream_options':{'include_usage':true},"
    "'metadata':{'user_id':'u-42'},'parallel_tool_calls':false}");
  cJSON_Delete(body);
  env_stop(&e);
}

static void tool_choice_strings_pass_through(void)
{
  static const char *const choices[] = { "auto", "none", "required" };
  env e;
  env_start(&e, KEY, "");
  for (int i = 0; i < 3; i++) {
    char req[512];
    snprintf(req, sizeof req,
             "{'model':'m','messages':[{'role':'user','content':'Hi'}],"
             "'tools':[{'name':'t','input_schema':{'type':'object'}}],"
             "'tool_choice':'%s'}",
             choices[i]);
    fake_openai_push(e.fo, script_hello, NULL);
    rec r;
    chat_run(&e, req, &r);
    cJSON *body = body_of(&e, i);
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(body, "tool_choice")),
              choices[i]);
    cJSON_Delete(body);
  }
  env_stop(&e);
}

static void developer_role_legacy_max_tokens_and_org_are_settings(void)
{
  env e;
  env_start(&e, KEY, "system_role = 'developer', legacy_max_tokens = true, "
                     "organization = 'org-42', project = 'proj_7'");
  fake_openai_push(e.fo, script_hello, NULL);
  rec r;
  chat_run(&e, "{'model':'o3','system':'Sys.','max_tokens':50,"
               "'thinking':{'budget_tokens':2000},"
               "'messages':[{'role':'user','content':'Hi'}]}",
           &r);
  cJSON *body = body_of(&e, 0);
  CHECK_JSON(body, "{'model':'o3','messages':[{'role':'developer',"
                   "'content':'Sys.'},{'role':'user','content':'Hi'}],"
                   "'max_tokens':50,'reasoning_effort':'low','stream':true,"
                   "'stream_options':{'include_usage':true}}");
  cJSON_Delete(body);
  char h[256];
  const fake_openai_request *req = fake_openai_get(e.fo, 0);
  CHECK_STR(fake_openai_header(req, "OpenAI-Organization", h, sizeof h),
            "org-42");
  CHECK_STR(fake_openai_header(req, "OpenAI-Project", h, sizeof h), "proj_7");
  env_stop(&e);
}

/* ------------------------------------------------------------------------ */
/* Models                                                                    */

static void script_models(fake_http_response *res, const void *arg)
{
  fake_http_respond(res, 200, "application/json",
                    Q("{'object':'list','data':[{'id':'gpt-4o-mini',"
                      "'object':'model','created':1721172741,"
                      "'owned_by':'system'},{'id':'o3','object':'model',"
                      "'created':1744225308,'owned_by':'system'}]}"));
}

static void models_are_listed_from_get_models(void)
{
  env e;
  env_start(&e, KEY, "");
  fake_openai_push(e.fo, script_models, NULL);
  h_tool t = { 0 };
  pt_op_sink sink = { .on_done = h_on_tool_done, .ud = &t };
  CHECK_INT(pt_op_models(e.f.k, "openai", &sink, NULL), ==, PT_OK);
  h_run_until(e.f.k, &t.done, 10000);
  CHECK_INT(t.done, ==, 1);
  CHECK_INT(t.status, ==, PT_OK);
  CHECK_JSON_TEXT(t.result, "[{'id':'gpt-4o-mini','owned_by':'system'},"
                            "{'id':'o3','owned_by':'system'}]");
  const fake_openai_request *req = fake_openai_get(e.fo, 0);
  char h[256];
  CHECK_STR(req->method, "GET");
  CHECK_STR(req->path, "/v1/models");
  CHECK_STR(fake_openai_header(req, "Authorization", h, sizeof h),
            "Bearer " KEY);

  fake_openai_require_key(e.fo, "sk-another-key-00000000000000");
  memset(&t, 0, sizeof t);
  CHECK_INT(pt_op_models(e.f.k, "openai", &sink, NULL), ==, PT_OK);
  h_run_until(e.f.k, &t.done, 10000);
  CHECK_INT(t.status, ==, PT_EPERM);
  CHECK_CONTAINS(t.result, "OPENAI_API_KEY");
  CHECK(strstr(t.result, KEY) == NULL);
  env_stop(&e);
}

/* ------------------------------------------------------------------------ */
/* Responses API                                                             */

#define RESPONSES "api = 'responses'"

static void message_begin(fake_openai_stream *s, int oi)
{
  fos_event(s, "response.output_item.added",
            "\"output_index\":%d,\"item\":{\"id\":\"msg_1\",\"type\":"
            "\"message\",\"status\":\"in_progress\",\"content\":[],"
            "\"role\":\"assistant\"}", oi);
  fos_event(s, "response.content_part.added",
            "\"item_id\":\"msg_1\",\"output_index\":%d,\"content_index\":0,"
            "\"part\":{\"type\":\"output_text\",\"annotations\":[],"
            "\"text\":\"\"}", oi);
}

static void text_delta(fake_openai_stream *s, int oi, const char *delta)
{
  fos_event(s, "response.output_text.delta",
            "\"item_id\":\"msg_1\",\"output_index\":%d,\"content_index\":0,"
            "\"delta\":\"%s\",\"logprobs\":[]", oi, delta);
}

static void message_end(fake_openai_stream *s, int oi, const char *text)
{
  fos_event(s, "response.output_text.done",
            "\"item_id\":\"msg_1\",\"output_index\":%d,\"content_index\":0,"
            "\"text\":\"%s\",\"logprobs\":[]", oi, text);
  fos_event(s, "response.output_item.done",
            "\"output_index\":%d,\"item\":{\"id\":\"msg_1\",\"type\":"
            "\"message\",\"status\":\"completed\",\"content\":[{\"type\":"
            "\"output_text\",\"annotations\":[],\"text\":\"%s\"}],"
            "\"role\":\"assistant\"}", oi, text);
}

static void script_resp_text(fake_http_response *res, const void *arg)
{
  fake_openai_stream s;
  fos_init(&s);
  fos_response_begin(&s);
  message_begin(&s, 0);
  text_delta(&s, 0, "H\\u00e9");
  text_delta(&s, 0, "llo \xe4\xb8\x96\xe7\x95\x8c");
  message_end(&s, 0, "H\\u00e9llo \xe4\xb8\x96\xe7\x95\x8c");
  fos_response_end(&s, arg, 50, 7, 10);
  fake_openai_sse_head(res);
  fake_openai_send_pieces(res, &s, 7, 1, 1);
  fos_free(&s);
}

static void responses_text_streams_with_usage(void)
{
  env e;
  env_start(&e, KEY, RESPONSES);
  fake_openai_push(e.fo, script_resp_text, NULL);
  rec r;
  chat_run(&e, SIMPLE, &r);
  CHECK_STR(r.text, "H\xc3\xa9llo \xe4\xb8\x96\xe7\x95\x8c");
  CHECK_INT(r.status, ==, PT_OK);
  CHECK_INT(r.stop, ==, PT_STOP_END_TURN);
  CHECK_INT(r.in, ==, 40);
  CHECK_INT(r.out, ==, 7);
  CHECK_INT(r.cache_read, ==, 10);
  const fake_openai_request *req = fake_openai_get(e.fo, 0);
  CHECK_STR(req->path, "/v1/responses");
  cJSON *body = body_of(&e, 0);
  CHECK_JSON(body, "{'model':'gpt-4o-mini','input':[{'type':'message',"
                   "'role':'user','content':'Hi'}],'stream':true}");
  cJSON_Delete(body);
  env_stop(&e);
}

static void responses_incomplete_at_max_output_tokens_is_max_tokens(void)
{
  env e;
  env_start(&e, KEY, RESPONSES);
  fake_openai_push(e.fo, script_resp_text, "max_output_tokens");
  fake_openai_push(e.fo, script_resp_text, "content_filter");
  rec r;
  chat_run(&e, SIMPLE, &r);
  CHECK_INT(r.status, ==, PT_OK);
  CHECK_INT(r.stop, ==, PT_STOP_MAX_TOKENS);
  chat_run(&e, SIMPLE, &r);
  CHECK_INT(r.stop, ==, PT_STOP_REFUSAL);
  env_stop(&e);
}

static void script_resp_reasoning(fake_http_response *res, const void *arg)
{
  fake_openai_stream s;
  fos_init(&s);
  fos_response_begin(&s);
  fos_event(&s, "response.output_item.added",
            "\"output_index\":0,\"item\":{\"id\":\"rs_1\",\"type\":"
            "\"reasoning\",\"summary\":[]}");
  for (int part = 0; part < 2; part++) {
    fos_event(&s, "response.reasoning_summary_part.added",
              "\"item_id\":\"rs_1\",\"output_index\":0,\"summary_index\":%d,"
              "\"part\":{\"type\":\"summary_text\",\"text\":\"\"}", part);
    fos_event(&s, "response.reasoning_summary_text.delta",
              "\"item_id\":\"rs_1\",\"output_index\":0,\"summary_index\":%d,"
              "\"delta\":\"%s\"", part, part ? "Second." : "**Plan** first");
  }
  fos_event(&s, "response.output_item.done",
            "\"output_index\":0,\"item\":{\"id\":\"rs_1\",\"type\":"
            "\"reasoning\",\"summary\":[]}");
  message_begin(&s, 1);
  text_delta(&s, 1, "OK");
  message_end(&s, 1, "OK");
  fos_response_end(&s, NULL, 5, 5, 0);
  fake_openai_sse_head(res);
  fake_openai_send_pieces(res, &s, 11, 0, 1);
  fos_free(&s);
}

static void responses_reasoning_summaries_stream_as_thinking(void)
{
  env e;
  env_start(&e, KEY, RESPONSES);
  fake_openai_push(e.fo, script_resp_reasoning, NULL);
  rec r;
  chat_run(&e, "{'model':'o3','messages':[{'role':'user','content':'Hi'}],"
               "'thinking':{'effort':'medium'}}",
           &r);
  CHECK_STR(r.thinking, "**Plan** first\n\nSecond.");
  CHECK_STR(r.text, "OK");
  cJSON *body = body_of(&e, 0);
  CHECK_JSON(cJSON_GetObjectItem(body, "reasoning"),
             "{'effort':'medium','summary':'auto'}");
  cJSON_Delete(body);
  env_stop(&e);
}

static void script_resp_tool(fake_http_response *res, const void *arg)
{
  static const char *const frags[] = { "{\\\"pa", "th\\\": \\\"caf\\\\u00e9",
                                       "/a.txt\\\"", "}" };
  fake_openai_stream s;
  fos_init(&s);
  fos_response_begin(&s);
  fos_event(&s, "response.output_item.added",
            "\"output_index\":0,\"item\":{\"id\":\"rs_1\",\"type\":"
            "\"reasoning\",\"summary\":[]}");
  fos_event(&s, "response.output_item.done",
            "\"output_index\":0,\"item\":{\"id\":\"rs_1\",\"type\":"
            "\"reasoning\",\"summary\":[]}");
  fos_event(&s, "response.output_item.added",
            "\"output_index\":1,\"item\":{\"id\":\"fc_1\",\"type\":"
            "\"function_call\",\"status\":\"in_progress\",\"arguments\":\"\","
            "\"call_id\":\"call_9\",\"name\":\"fs_read\"}");
  for (int i = 0; i < 4; i++)
    fos_event(&s, "response.function_call_arguments.delta",
              "\"item_id\":\"fc_1\",\"output_index\":1,\"delta\":\"%s\"",
              frags[i]);
  fos_event(&s, "response.function_call_arguments.done",
            "\"item_id\":\"fc_1\",\"output_index\":1,\"arguments\":"
            "\"{\\\"path\\\": \\\"caf\\\\u00e9/a.txt\\\"}\"");
  fos_event(&s, "response.output_item.done",
            "\"output_index\":1,\"item\":{\"id\":\"fc_1\",\"type\":"
            "\"function_call\",\"status\":\"completed\",\"arguments\":"
            "\"{\\\"path\\\": \\\"caf\\\\u00e9/a.txt\\\"}\","
            "\"call_id\":\"call_9\",\"name\":\"fs_read\"}");
  fos_response_end(&s, NULL, 20, 12, 0);
  fake_openai_sse_head(res);
  fake_openai_send_pieces(res, &s, 5, 0, 1);
  fos_free(&s);
}

static void responses_a_function_call_streams_as_a_tool_call(void)
{
  env e;
  env_start(&e, KEY, RESPONSES);
  fake_openai_push(e.fo, script_resp_tool, NULL);
  rec r;
  chat_run(&e, SIMPLE, &r);
  CHECK_INT(r.status, ==, PT_OK);
  CHECK_INT(r.stop, ==, PT_STOP_TOOL_USE);
  CHECK_INT(r.starts, ==, 1);
  CHECK_INT(r.deltas, ==, 4);
  CHECK_INT(r.ends, ==, 1);
  CHECK_STR(r.id[0], "call_9");
  CHECK_STR(r.name[0], "fs_read");
  CHECK_JSON_TEXT(r.json[0], "{'path':'caf\xc3\xa9/a.txt'}");
  CHECK_INT(r.out, ==, 12);
  env_stop(&e);
}

/* arg NULL: an error event at once; else text, then response.failed. */
static void script_resp_error(fake_http_response *res, const void *arg)
{
  fake_openai_stream s;
  fos_init(&s);
  fos_response_begin(&s);
  if (arg) {
    message_begin(&s, 0);
    text_delta(&s, 0, "Part");
    fos_event(&s, "response.failed",
              "\"response\":{\"id\":\"resp_fake1\",\"object\":\"response\","
              "\"status\":\"failed\",\"error\":{\"code\":\"server_error\","
              "\"message\":\"The model failed to generate a response.\"},"
              "\"incomplete_details\":null,\"output\":[],\"usage\":null}");
  } else {
    fos_event(&s, "error",
              "\"code\":\"server_error\",\"message\":\"The server had an "
              "error while processing your request.\",\"param\":null");
  }
  fake_openai_sse_head(res);
  fake_openai_send_events(res, &s, 1, 1);
  fos_free(&s);
}

static void script_resp_hello(fake_http_response *res, const void *arg)
{
  fake_openai_stream s;
  fos_init(&s);
  fos_response_begin(&s);
  message_begin(&s, 0);
  text_delta(&s, 0, "Hello");
  message_end(&s, 0, "Hello");
  fos_response_end(&s, NULL, 3, 1, 0);
  fake_openai_sse_head(res);
  fake_openai_send_events(res, &s, 0, 1);
  fos_free(&s);
}

static void responses_errors_retry_before_output_and_end_after(void)
{
  env e;
  env_start(&e, KEY, RESPONSES);
  fake_openai_push(e.fo, script_resp_error, NULL);
  fake_openai_push(e.fo, script_resp_hello, NULL);
  rec r;
  chat_run(&e, SIMPLE, &r);
  CHECK_INT(fake_openai_count(e.fo), ==, 2);
  CHECK_STR(r.text, "Hello");
  CHECK_INT(r.status, ==, PT_OK);

  fake_openai_push(e.fo, script_resp_error, "after output");
  chat_run(&e, SIMPLE, &r);
  CHECK_INT(fake_openai_count(e.fo), ==, 3);
  CHECK_STR(r.text, "Part");
  CHECK_INT(r.status, ==, PT_EHTTP);
  CHECK(r.flags & PT_EVF_RETRYABLE);
  CHECK_STR(r.type, "server_error");
  CHECK_CONTAINS(r.message, "failed to generate");
  env_stop(&e);
}

static void the_responses_body_maps_every_part(void)
{
  env e;
  env_start(&e, KEY, RESPONSES);
  fake_openai_push(e.fo, script_resp_hello, NULL);
  rec r;
  chat_run(&e, FULL_REQUEST, &r);
  CHECK_INT(r.status, ==, PT_OK);
  cJSON *body = body_of(&e, 0);
  CHECK_JSON(body,
    "{'model':'gpt-4o-mini','instructions':'Be brief.','input':["
    "{'type':'message','role':'user','content':'Read README.md'},"
    "{'type':'message','role':'assistant','content':'Reading it.'},"
    "{'type':'function_call','call_id':'call_1','name':'fs_read',"
    "'arguments':'{\\'path\\':\\'README.md\\'}'},"
    "{'type':'function_call_output','call_id':'call_1','output':'# Portico'},"
    "{'type':'function_call','call_id':'call_2','name':'fs_read',"
    "'arguments':'{\\'path\\':\\'nope\\'}'},"
    "{'type':'function_call_output','call_id':'call_2',"
    "'output':'Error: no such file'},"
    "{'type':'message','role':'user','content':[{'type':'input_text',"
    "'text':'And this picture?'},{'type':'input_image','image_url':"
    "'data:image/png;base64,iVBORw0KGgo=','detail':'auto'},"
    "{'type':'input_image','image_url':'https://example.com/cat.jpg',"
    "'detail':'auto'}]}],"
    "'tools':[{'type':'function','name':'fs_read','description':"
    "'Read a file.','parameters':" SCHEMA "}],"
    "'tool_choice':{'type':'function','name':'fs_read'},"
    "'max_output_tokens':1024,'temperature':0.5,'top_p':0.9,"
    "'reasoning':{'effort':'high','summary':'auto'},'stream':true,"
    "'metadata':{'user_id':'u-42'},'parallel_tool_calls':false}");
  cJSON_Delete(body);
  env_stop(&e);
}

/* ------------------------------------------------------------------------ */
/* Benchmark scenarios                                                       */

static void script_bench(fake_http_response *res, const void *arg)
{
  if (arg)
    fake_openai_responses_stream_deltas(res, 3000);
  else
    fake_openai_stream_deltas(res, 3000);
}

static void the_benchmark_streams_arrive_whole(void)
{
  for (int api = 0; api < 2; api++) {
    env e;
    env_start(&e, KEY, api ? RESPONSES : "");
    fake_openai_push(e.fo, script_bench, api ? "responses" : NULL);
    rec r;
    chat_run(&e, SIMPLE, &r);
    CHECK_INT(r.status, ==, PT_OK);
    CHECK_INT(r.text_len, ==, 3000 * 4);
    CHECK_INT(r.out, ==, 3000);
    env_stop(&e);
  }
}


int main(void)
{
  unsetenv("OPENAI_API_KEY");
  unsetenv("OPENAI_BASE_URL");
  unsetenv("OPENAI_ORG_ID");
  unsetenv("OPENAI_PROJECT_ID");
  unsetenv("http_proxy");
  unsetenv("HTTP_PROXY");
  unsetenv("all_proxy");
  unsetenv("ALL_PROXY");
  RUN(text_streams_exactly_however_the_bytes_are_cut);
  RUN(reasoning_content_and_reasoning_stream_as_thinking);
  RUN(a_tool_call_in_many_fragments_ends_with_the_whole_object);
  RUN(two_parallel_tool_calls_interleave_by_index);
  RUN(usage_counts_cached_prompt_tokens_apart);
  RUN(each_finish_reason_maps_to_its_stop_reason);
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
  RUN(the_chat_completions_body_maps_every_part);
  RUN(tool_choice_strings_pass_through);
  RUN(developer_role_legacy_max_tokens_and_org_are_settings);
  RUN(models_are_listed_from_get_models);
  RUN(responses_text_streams_with_usage);
  RUN(responses_incomplete_at_max_output_tokens_is_max_tokens);
  RUN(responses_reasoning_summaries_stream_as_thinking);
  RUN(responses_a_function_call_streams_as_a_tool_call);
  RUN(responses_errors_retry_before_output_and_end_after);
  RUN(the_responses_body_maps_every_part);
  RUN(the_benchmark_streams_arrive_whole);
  return check_report();
}
