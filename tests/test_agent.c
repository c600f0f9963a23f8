/*
 * tests/test_agent.c: the agent loop (core/agent.h) end to end: real
 * provider plugins against fake upstreams that answer with tool calls, the
 * bundled tools plugin in a temp workspace, and a Lua policy.
 */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent_run.h"
#include "check.h"
#include "provider_cases.h"

/* ---- Scripted claude replies ------------------------------------------- */

typedef struct step {
  const char *thinking;
  const char *text;
  int ncalls;
  const char *ids[3], *names[3], *args[3];  /* args: JSON text */
} step;

static void reply_step(void *ud, fake_http_response *res)
{
  const step *s = ud;
  fa_sse e = { 0 };
  unsigned idx = 0;
  fa_sse_message_start(&e, 10, 0, 0);
  if (s->thinking) {
    fa_sse_thinking_start(&e, idx);
    fa_sse_thinking_delta(&e, idx, s->thinking);
    fa_sse_signature_delta(&e, idx, "sig==");
    fa_sse_block_stop(&e, idx++);
  }
  if (s->text) {
    fa_sse_text_start(&e, idx);
    fa_sse_text_delta(&e, idx, s->text);
    fa_sse_block_stop(&e, idx++);
  }
  for (int i = 0; i < s->ncalls; i++) {
    char *q = ag_escape(s->args[i]);
    fa_sse_tool_start(&e, idx, s->ids[i], s->names[i]);
    fa_sse_json_delta(&e, idx, q);
    fa_sse_block_stop(&e, idx++);
    free(q);
  }
  fa_sse_message_delta(&e, s->ncalls ? "tool_use" : "end_turn", 5);
  fa_sse_message_stop(&e);
  fake_anthropic_send_stream(res, &e, 0);
  fa_sse_free(&e);
}

typedef struct env {
  fake_anthropic *fa;
  h_fixture f;
  char *ws;
  cJSON *messages;
  pt_policy *policy;
} env;

static const step DONE_TEXT = { .text = "All done." };

static void start(env *e)
{
  memset(e, 0, sizeof *e);
  e->fa = fake_anthropic_start();
  char lua[512];
  snprintf(lua, sizeof lua, "return { plugins = { claude = { base_url = "
           "'%s', api_key = 'k', backoff_base_ms = 5, max_attempts = 1 } } }"
           "\n", fake_anthropic_url(e->fa));
  ag_boot(&e->f, "claude.so", lua);
  e->ws = h_tempdir();
  e->messages = cJSON_Parse("[{\"role\":\"user\",\"content\":\"go\"}]");
}

static void stop(env *e)
{
  h_fixture_stop(&e->f);
  fake_anthropic_stop(e->fa);
  pt_policy_free(e->policy);
  cJSON_Delete(e->messages);
  h_rmtree(e->ws);
  free(e->ws);
}

static const char *const ALL_TOOLS[] = { "fs_read", "fs_write", "shell_exec" };

static pt_agent_options opts(env *e)
{
  pt_agent_options o = {
    .provider = "claude", .model = "claude-sonnet-4-5", .system = "Be brief.",
    .messages = e->messages, .tools = ALL_TOOLS, .tool_count = 3,
    .policy = e->policy, .workspace = e->ws, .session = "s1", .max_turns = 8,
  };
  return o;
}

static void write_ws(env *e, const char *name, const char *text)
{
  h_write_file(e->ws, name, text, strlen(text), 0644);
}

static void load_policy(env *e)
{
  static const char LUA[] =
      "return function(call, ctx)\n"
      "  if call.tool == 'fs_read' then return 'allow', 'reads are fine',"
      " 'reads' end\n"
      "  if call.tool == 'fs_write' then return 'deny', 'no writing here',"
      " 'no-writes' end\n"
      "  return 'ask', 'commands need a person', 'ask-shell'\n"
      "end\n";
  h_write_file(e->ws, "policy.lua", LUA, strlen(LUA), 0644);
  char path[4200], err[256] = "";
  snprintf(path, sizeof path, "%s/policy.lua", e->ws);
  pt_policy_options po = { .path = path, .home = e->ws };
  CHECK_INT(pt_policy_load(&po, &e->policy, err, sizeof err), ==, PT_OK);
  CHECK(pt_policy_error(e->policy) == NULL);
}

/* The i-th request body's messages array (the body is kept in *body). */
static const cJSON *req_messages(env *e, size_t i, cJSON **body)
{
  const fake_anthropic_request *r = fake_anthropic_request_at(e->fa, i);
  *body = r ? cJSON_Parse(r->body) : NULL;
  return cJSON_GetObjectItemCaseSensitive(*body, "messages");
}

static const cJSON *last_message(env *e)
{
  return cJSON_GetArrayItem(e->messages, cJSON_GetArraySize(e->messages) - 1);
}

/* Part `i` of the content of message `m`. */
static const cJSON *part(const cJSON *m, int i)
{
  return cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(m, "content"), i);
}

static const char *str(const cJSON *o, const char *name)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Queue `call` (after whatever the case queued already), then DONE_TEXT;
 * run a turn with opts(e) to its end, recording into r. */
static void run_turn(env *e, const step *call, ag_run *r)
{
  fake_anthropic_push(e->fa, reply_step, (void *)call);
  fake_anthropic_push(e->fa, reply_step, (void *)&DONE_TEXT);
  pt_agent_options o = opts(e);
  ag_start(e->f.k, &o, r);
  CHECK(ag_wait(e->f.k, r, 20000));
}

/* ---- Cases --------------------------------------------------------------- */

static void claude_full_loop_sends_the_result_as_a_tool_result_block(void)
{
  env e;
  start(&e);
  write_ws(&e, "a.txt", "hello world\n");
  step s1 = { .thinking = "read it", .text = "Reading.", .ncalls = 1,
              .ids = { "toolu_1" }, .names = { "fs_read" },
              .args = { "{\"path\":\"a.txt\"}" } };
  ag_run r = { 0 };
  run_turn(&e, &s1, &r);
  CHECK_INT(r.done, ==, 1);
  CHECK_STR(pt_agent_stop_name(r.res.stop), "end_turn");
  CHECK_INT(r.res.model_calls, ==, 2);
  CHECK_INT(r.res.tool_calls, ==, 1);
  CHECK_INT(r.chat_dones, ==, 2);
  CHECK_INT(cJSON_GetArraySize(e.messages), ==, 4);
  /* The assistant message: thinking with signature, text, the call. */
  const cJSON *am = cJSON_GetArrayItem(e.messages, 1);
  CHECK_STR(str(part(am, 0), "type"), "thinking");
  CHECK_STR(str(part(am, 0), "signature"), "sig==");
  CHECK_STR(str(part(am, 1), "text"), "Reading.");
  CHECK_STR(str(part(am, 2), "type"), "tool_call");
  CHECK_STR(str(cJSON_GetArrayItem(e.messages, 3), "role"), "assistant");
  /* What claude got the second time: a user message of tool_result. */
  cJSON *body;
  const cJSON *m = req_messages(&e, 1, &body);
  CHECK_INT(cJSON_GetArraySize(m), ==, 3);
  const cJSON *um = cJSON_GetArrayItem(m, 2);
  CHECK_STR(str(um, "role"), "user");
  CHECK_STR(str(part(um, 0), "type"), "tool_result");
  CHECK_STR(str(part(um, 0), "tool_use_id"), "toolu_1");
  CHECK_CONTAINS(str(part(um, 0), "content"), "hello world");
  CHECK(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(part(um, 0),
                                                       "is_error")));
  CHECK_STR(str(part(cJSON_GetArrayItem(m, 1), 0), "type"), "thinking");
  CHECK_STR(str(body, "system"), "Be brief.");
  CHECK_INT(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(body,
                                                                "tools")),
            ==, 3);
  cJSON_Delete(body);
  CHECK_CONTAINS(r.events, "{\"type\":\"permission\",\"id\":\"toolu_1\","
                 "\"tool\":\"fs_read\",\"decision\":\"allow\"");
  CHECK_CONTAINS(r.events, "{\"type\":\"tool_result\",\"id\":\"toolu_1\","
                 "\"name\":\"fs_read\",\"content\":");
  stop(&e);
}

static void two_parallel_calls_come_back_in_call_order(void)
{
  env e;
  start(&e);
  write_ws(&e, "b.txt", "bee\n");
  /* The first call is the slow one, so it completes last. */
  step s1 = { .ncalls = 2, .ids = { "t_slow", "t_fast" },
              .names = { "shell_exec", "fs_read" },
              .args = { "{\"command\":\"sleep 0.4; echo slow\"}",
                        "{\"path\":\"b.txt\"}" } };
  ag_run r = { 0 };
  run_turn(&e, &s1, &r);
  CHECK_STR(pt_agent_stop_name(r.res.stop), "end_turn");
  const cJSON *tm = cJSON_GetArrayItem(e.messages, 2);
  CHECK_STR(str(tm, "role"), "tool");
  CHECK_INT(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(tm,
                                                                "content")),
            ==, 2);
  CHECK_STR(str(part(tm, 0), "tool_call_id"), "t_slow");
  CHECK_CONTAINS(str(part(tm, 0), "content"), "slow");
  CHECK_STR(str(part(tm, 1), "tool_call_id"), "t_fast");
  CHECK_CONTAINS(str(part(tm, 1), "content"), "bee");
  /* They ran at once: the fast result was reported first. */
  const char *slow = strstr(r.events, "\"type\":\"tool_result\",\"id\":"
                            "\"t_slow\"");
  const char *fast = strstr(r.events, "\"type\":\"tool_result\",\"id\":"
                            "\"t_fast\"");
  CHECK(slow && fast && fast < slow);
  stop(&e);
}

static void a_chain_of_calls_runs_one_answer_after_another(void)
{
  env e;
  start(&e);
  step s1 = { .ncalls = 1, .ids = { "c1" }, .names = { "fs_write" },
              .args = { "{\"path\":\"c.txt\",\"content\":\"chained\"}" } };
  step s2 = { .ncalls = 1, .ids = { "c2" }, .names = { "fs_read" },
              .args = { "{\"path\":\"c.txt\"}" } };
  fake_anthropic_push(e.fa, reply_step, &s1);
  ag_run r = { 0 };
  run_turn(&e, &s2, &r);
  CHECK_STR(pt_agent_stop_name(r.res.stop), "end_turn");
  CHECK_INT(r.res.model_calls, ==, 3);
  CHECK_INT(cJSON_GetArraySize(e.messages), ==, 6);
  CHECK_CONTAINS(str(part(cJSON_GetArrayItem(e.messages, 4), 0), "content"),
                 "chained");
  cJSON *body;
  const cJSON *m = req_messages(&e, 2, &body);
  CHECK_INT(cJSON_GetArraySize(m), ==, 5);
  CHECK_STR(str(part(cJSON_GetArrayItem(m, 4), 0), "tool_use_id"), "c2");
  cJSON_Delete(body);
  stop(&e);
}

static void a_denied_call_goes_back_as_an_error_with_the_reason(void)
{
  env e;
  start(&e);
  load_policy(&e);
  step s1 = { .ncalls = 1, .ids = { "d1" }, .names = { "fs_write" },
              .args = { "{\"path\":\"d.txt\",\"content\":\"x\"}" } };
  ag_run r = { 0 };
  run_turn(&e, &s1, &r);
  CHECK_STR(pt_agent_stop_name(r.res.stop), "end_turn");
  CHECK_INT(r.asks, ==, 0);
  const cJSON *res = part(cJSON_GetArrayItem(e.messages, 2), 0);
  CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(res, "is_error")));
  CHECK_CONTAINS(str(res, "content"), "no writing here");
  CHECK_CONTAINS(r.events, "\"decision\":\"deny\",\"reason\":"
                 "\"no writing here\",\"rule\":\"no-writes\"");
  CHECK(access(e.ws, F_OK) == 0);
  char p[4200];
  snprintf(p, sizeof p, "%s/d.txt", e.ws);
  CHECK(access(p, F_OK) != 0);
  stop(&e);
}

static void asked_call(pt_agent_answer answer, int deferred)
{
  env e;
  start(&e);
  load_policy(&e);
  step s1 = { .ncalls = 1, .ids = { "k1" }, .names = { "shell_exec" },
              .args = { "{\"command\":\"echo asked > out.txt\"}" } };
  fake_anthropic_push(e.fa, reply_step, &s1);
  fake_anthropic_push(e.fa, reply_step, (void *)&DONE_TEXT);
  ag_run r = { 0 };
  r.answer = answer;
  r.defer = deferred;
  pt_agent_options o = opts(&e);
  ag_start(e.f.k, &o, &r);
  if (deferred) {
    /* The turn waits without holding the loop. */
    for (int i = 0; i < 200 && !r.asks; i++) pt_kernel_spin(e.f.k, 10);
    CHECK_INT(r.asks, ==, 1);
    pt_kernel_spin(e.f.k, 50);
    CHECK_INT(r.done, ==, 0);
    r.answer_fn(r.token, answer);
  }
  CHECK(ag_wait(e.f.k, &r, 20000));
  CHECK_STR(pt_agent_stop_name(r.res.stop), "end_turn");
  CHECK_INT(r.asks, ==, 1);
  CHECK_CONTAINS(r.events, "\"decision\":\"ask\",\"reason\":"
                 "\"commands need a person\",\"rule\":\"ask-shell\"");
  const cJSON *res = part(cJSON_GetArrayItem(e.messages, 2), 0);
  char p[4200];
  snprintf(p, sizeof p, "%s/out.txt", e.ws);
  if (answer == PT_AGENT_ALLOW_ONCE) {
    CHECK(!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(res, "is_error")));
    CHECK(access(p, F_OK) == 0);
    CHECK_CONTAINS(r.events, "\"decision\":\"allow\"");
  } else {
    CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(res, "is_error")));
    CHECK_CONTAINS(str(res, "content"), "refused");
    CHECK(access(p, F_OK) != 0);
    CHECK_CONTAINS(r.events, "\"decision\":\"deny\"");
  }
  stop(&e);
}

static void an_asked_call_answered_allow_runs(void)
{
  asked_call(PT_AGENT_ALLOW_ONCE, 0);
}

static void an_asked_call_answered_deny_later_does_not_run(void)
{
  asked_call(PT_AGENT_DENY, 1);
}

static void invalid_arguments_go_back_as_a_schema_error(void)
{
  env e;
  start(&e);
  step s1 = { .ncalls = 1, .ids = { "v1" }, .names = { "fs_write" },
              .args = { "{\"path\":\"v.txt\",\"content\":\"x\","
                        "\"mode\":\"fast\"}" } };
  ag_run r = { 0 };
  run_turn(&e, &s1, &r);
  CHECK_STR(pt_agent_stop_name(r.res.stop), "end_turn");
  const cJSON *res = part(cJSON_GetArrayItem(e.messages, 2), 0);
  CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(res, "is_error")));
  CHECK_CONTAINS(str(res, "content"), "Invalid arguments for tool fs_write");
  CHECK_CONTAINS(str(res, "content"), "\"mode\"");
  CHECK_CONTAINS(r.events, "\"rule\":\"schema\"");
  char p[4200];
  snprintf(p, sizeof p, "%s/v.txt", e.ws);
  CHECK(access(p, F_OK) != 0);
  stop(&e);
}

static void the_turn_limit_ends_the_turn_with_a_note(void)
{
  env e;
  start(&e);
  write_ws(&e, "a.txt", "again\n");
  step s1 = { .ncalls = 1, .ids = { "m1" }, .names = { "fs_read" },
              .args = { "{\"path\":\"a.txt\"}" } };
  fake_anthropic_push(e.fa, reply_step, &s1); /* repeats */
  ag_run r = { 0 };
  pt_agent_options o = opts(&e);
  o.max_turns = 2;
  ag_start(e.f.k, &o, &r);
  CHECK(ag_wait(e.f.k, &r, 20000));
  CHECK_STR(pt_agent_stop_name(r.res.stop), "max_turns");
  CHECK_INT(r.res.model_calls, ==, 2);
  CHECK_CONTAINS(r.message, "turn limit of 2");
  CHECK_INT(fake_anthropic_request_count(e.fa), ==, 2);
  CHECK_STR(str(last_message(&e), "role"), "tool");
  stop(&e);
}

/* Living processes of group `pgid`. */
static int group_count(pid_t pgid)
{
  int n = 0;
  DIR *d = opendir("/proc");
  for (struct dirent *de; d && (de = readdir(d));) {
    int pid = atoi(de->d_name);
    if (pid <= 0) continue;
    char path[64], line[512];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) continue;
    size_t len = fread(line, 1, sizeof line - 1, f);
    fclose(f);
    line[len] = '\0';
    const char *p = strrchr(line, ')');
    char s = 0;
    int pp = 0, pg = 0;
    if (p && sscanf(p + 1, " %c %d %d", &s, &pp, &pg) == 3 && pg == pgid &&
        s != 'Z' && s != 'X')
      n++;
  }
  if (d) closedir(d);
  return n;
}

static void cancelling_while_a_shell_runs_kills_its_group(void)
{
  env e;
  start(&e);
  step s1 = { .ncalls = 1, .ids = { "x1" }, .names = { "shell_exec" },
              .args = { "{\"command\":\"echo $$ > pid; sleep 100 & "
                        "sleep 100\"}" } };
  fake_anthropic_push(e.fa, reply_step, &s1);
  ag_run r = { 0 };
  pt_agent_options o = opts(&e);
  pt_agent *a = ag_start(e.f.k, &o, &r);
  char p[4200];
  snprintf(p, sizeof p, "%s/pid", e.ws);
  int pid = 0;
  for (int i = 0; i < 500 && pid <= 0; i++) {
    pt_kernel_spin(e.f.k, 10);
    FILE *f = fopen(p, "r");
    if (f) {
      if (fscanf(f, "%d", &pid) != 1) pid = 0;
      fclose(f);
    }
  }
  CHECK(pid > 0);
  CHECK(group_count(pid) >= 2);
  CHECK_INT(r.done, ==, 0);
  pt_agent_cancel(a);
  pt_agent_cancel(a); /* idempotent */
  CHECK(ag_wait(e.f.k, &r, 20000));
  CHECK_INT(r.done, ==, 1);
  CHECK_STR(pt_agent_stop_name(r.res.stop), "cancelled");
  CHECK_INT(r.res.model_calls, ==, 1);
  CHECK_INT(group_count(pid), ==, 0);
  const cJSON *tm = last_message(&e);
  CHECK_STR(str(tm, "role"), "tool");
  CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(part(tm, 0),
                                                      "is_error")));
  pt_kernel_spin(e.f.k, 50);
  CHECK_INT(r.done, ==, 1);
  stop(&e);
}

/* The tool's own timeout: the model gets an error that names it, and the
 * turn goes on to the next model call. */
static void a_tool_that_times_out_goes_back_as_an_error(void)
{
  env e;
  start(&e);
  step s1 = { .ncalls = 1, .ids = { "t_sleep" }, .names = { "shell_exec" },
              .args = { "{\"command\":\"sleep 30\","
                        "\"timeout_seconds\":1}" } };
  ag_run r = { 0 };
  uint64_t t0 = h_now_ms();
  run_turn(&e, &s1, &r);
  CHECK(h_now_ms() - t0 < 10000);
  CHECK_STR(pt_agent_stop_name(r.res.stop), "end_turn");
  CHECK_INT(r.res.model_calls, ==, 2);
  const cJSON *tm = cJSON_GetArrayItem(e.messages, 2);
  CHECK_STR(str(tm, "role"), "tool");
  CHECK_STR(str(part(tm, 0), "tool_call_id"), "t_sleep");
  CHECK(cJSON_IsTrue(cJSON_GetObjectItem(part(tm, 0), "is_error")));
  CHECK_CONTAINS(str(part(tm, 0), "content"), "timed out after 1 s");
  cJSON *body = NULL;
  const cJSON *sent = req_messages(&e, 1, &body);
  const cJSON *res = part(cJSON_GetArrayItem(sent, 2), 0);
  CHECK_STR(str(res, "type"), "tool_result");
  CHECK(cJSON_IsTrue(cJSON_GetObjectItem(res, "is_error")));
  cJSON_Delete(body);
  const fake_anthropic_request *q = fake_anthropic_request_at(e.fa, 1);
  CHECK_CONTAINS(q ? q->body : "", "timed out after 1 s");
  CHECK_STR(str(last_message(&e), "role"), "assistant");
  stop(&e);
}

static void cancelling_a_pending_ask_ends_the_turn(void)
{
  env e;
  start(&e);
  load_policy(&e);
  step s1 = { .ncalls = 1, .ids = { "q1" }, .names = { "shell_exec" },
              .args = { "{\"command\":\"echo hi\"}" } };
  fake_anthropic_push(e.fa, reply_step, &s1);
  ag_run r = { 0 };
  r.defer = 1;
  pt_agent_options o = opts(&e);
  pt_agent *a = ag_start(e.f.k, &o, &r);
  for (int i = 0; i < 500 && !r.asks; i++) pt_kernel_spin(e.f.k, 10);
  CHECK_INT(r.asks, ==, 1);
  pt_agent_cancel(a);
  CHECK(ag_wait(e.f.k, &r, 5000));
  CHECK_STR(pt_agent_stop_name(r.res.stop), "cancelled");
  r.answer_fn(r.token, PT_AGENT_ALLOW_ONCE); /* late: ignored, freed */
  stop(&e);
}

/* ---- openai and ollama: the result in their shapes ---------------------- */

static void openai_tool_call(fake_http_response *res, const void *arg)
{
  (void)arg;
  fake_openai_stream s;
  fos_init(&s);
  fos_chunk(&s, "{\"role\":\"assistant\",\"tool_calls\":[{\"index\":0,"
            "\"id\":\"call_9\",\"type\":\"function\",\"function\":{\"name\":"
            "\"fs_read\",\"arguments\":\"{\\\"path\\\":\\\"a.txt\\\"}\"}}]}",
            NULL);
  fos_chunk(&s, "{}", "tool_calls");
  fos_done(&s);
  fake_openai_sse_head(res);
  fake_openai_send_events(res, &s, 0, 1);
  fos_free(&s);
}

static void openai_text(fake_http_response *res, const void *arg)
{
  (void)arg;
  fake_openai_stream s;
  fos_init(&s);
  fos_chunk(&s, "{\"role\":\"assistant\",\"content\":\"fine\"}", NULL);
  fos_chunk(&s, "{}", "stop");
  fos_done(&s);
  fake_openai_sse_head(res);
  fake_openai_send_events(res, &s, 0, 1);
  fos_free(&s);
}

/* Boot `so` with config `lua` and run a turn of `provider`'s `model`
 * that may use fs_read alone, in a fresh workspace whose a.txt holds
 * `a_txt`, to its end; the fake upstream's script asks to read a.txt. */
static void run_read_turn(const char *so, const char *lua,
                          const char *provider, const char *model,
                          const char *a_txt)
{
  h_fixture f;
  ag_boot(&f, so, lua);
  char *ws = h_tempdir();
  h_write_file(ws, "a.txt", a_txt, strlen(a_txt), 0644);
  cJSON *msgs = cJSON_Parse("[{\"role\":\"user\",\"content\":\"go\"}]");
  static const char *const tools[] = { "fs_read" };
  pt_agent_options o = { .provider = provider, .model = model,
                         .messages = msgs, .tools = tools, .tool_count = 1,
                         .workspace = ws };
  ag_run r = { 0 };
  ag_start(f.k, &o, &r);
  CHECK(ag_wait(f.k, &r, 20000));
  CHECK_STR(pt_agent_stop_name(r.res.stop), "end_turn");
  cJSON_Delete(msgs);
  h_fixture_stop(&f);
  h_rmtree(ws);
  free(ws);
}

static void openai_full_loop_sends_a_tool_message(void)
{
  fake_openai *fo = fake_openai_start();
  char base[128], lua[512];
  fake_openai_base_url(fo, base, sizeof base);
  snprintf(lua, sizeof lua, "return { plugins = { openai = { base_url = "
           "'%s', api_key = 'k', backoff_base_ms = 5 } } }\n", base);
  fake_openai_push(fo, openai_tool_call, NULL);
  fake_openai_push(fo, openai_text, NULL);
  run_read_turn("openai.so", lua, "openai", "gpt-4o", "openai file\n");
  CHECK_INT(fake_openai_count(fo), ==, 2);
  const fake_openai_request *rq = fake_openai_get(fo, 1);
  cJSON *body = rq ? cJSON_Parse(rq->body) : NULL;
  const cJSON *m = cJSON_GetObjectItemCaseSensitive(body, "messages");
  const cJSON *tm = cJSON_GetArrayItem(m, 2);
  CHECK_STR(str(tm, "role"), "tool");
  CHECK_STR(str(tm, "tool_call_id"), "call_9");
  CHECK_CONTAINS(str(tm, "content"), "openai file");
  CHECK_STR(str(cJSON_GetArrayItem(m, 1), "role"), "assistant");
  cJSON_Delete(body);
  fake_openai_stop(fo);
}

static void ollama_script(void *ud, int attempt, const fake_http_request *req,
                          fake_http_response *res)
{
  (void)ud;
  (void)req;
  fake_ollama_text t = { 0 };
  if (attempt == 0) {
    fake_ollama_add_tool_calls(&t, "[{\"function\":{\"name\":\"fs_read\","
                               "\"arguments\":{\"path\":\"a.txt\"}}}]");
    fake_ollama_add_done(&t, "stop", 5, 5);
  } else {
    fake_ollama_add_content(&t, "ok");
    fake_ollama_add_done(&t, "stop", 5, 5);
  }
  fake_ollama_head(res);
  fake_ollama_send_trickle(res, t.s, 4096, 0);
  fake_ollama_end(res);
  fake_ollama_text_free(&t);
}

static void ollama_full_loop_sends_a_tool_message_with_its_name(void)
{
  fake_ollama *fo = fake_ollama_start(ollama_script, NULL);
  char lua[512];
  snprintf(lua, sizeof lua, "return { plugins = { ollama = { base_url = "
           "'http://127.0.0.1:%d', backoff_base_ms = 5 } } }\n",
           fake_ollama_port(fo));
  run_read_turn("ollama.so", lua, "ollama", "qwen2.5", "ollama file\n");
  CHECK_INT(fake_ollama_chat_count(fo), ==, 2);
  fake_ollama_seen s;
  cJSON *body = NULL;
  size_t n = 0;
  for (size_t i = 0; fake_ollama_seen_get(fo, i, &s); i++) {
    if (strcmp(s.path, "/api/chat") == 0 && n++ == 1) {
      body = cJSON_Parse(s.body);
      fake_ollama_seen_free(&s);
      break;
    }
    fake_ollama_seen_free(&s);
  }
  const cJSON *m = cJSON_GetObjectItemCaseSensitive(body, "messages");
  const cJSON *tm = cJSON_GetArrayItem(m, 2);
  CHECK_STR(str(tm, "role"), "tool");
  CHECK_STR(str(tm, "tool_name"), "fs_read");
  CHECK_CONTAINS(str(tm, "content"), "ollama file");
  cJSON_Delete(body);
  fake_ollama_stop(fo);
}

static void never_done(void *ud, const pt_agent_result *r)
{
  (void)r;
  (*(int *)ud)++;
}

static void an_unknown_tool_refuses_to_start(void)
{
  env e;
  start(&e);
  static const char *const tools[] = { "no_such_tool" };
  pt_agent_options o = opts(&e);
  o.tools = tools;
  o.tool_count = 1;
  int calls = 0;
  char err[256] = "";
  pt_agent_sink sink = { .on_done = never_done, .ud = &calls };
  CHECK_INT(pt_agent_turn(e.f.k, &o, &sink, NULL, err, sizeof err), ==,
            PT_ENOENT);
  CHECK_CONTAINS(err, "no_such_tool");
  pt_kernel_spin(e.f.k, 20);
  CHECK_INT(calls, ==, 0);
  CHECK_INT(fake_anthropic_request_count(e.fa), ==, 0);
  stop(&e);
}

int main(void)
{
  pv_init("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "OPENAI_API_KEY",
          "OPENAI_BASE_URL", "OLLAMA_HOST", "OLLAMA_API_KEY", NULL);
  signal(SIGPIPE, SIG_IGN);
  RUN(claude_full_loop_sends_the_result_as_a_tool_result_block);
  RUN(two_parallel_calls_come_back_in_call_order);
  RUN(a_chain_of_calls_runs_one_answer_after_another);
  RUN(a_denied_call_goes_back_as_an_error_with_the_reason);
  RUN(an_asked_call_answered_allow_runs);
  RUN(an_asked_call_answered_deny_later_does_not_run);
  RUN(invalid_arguments_go_back_as_a_schema_error);
  RUN(the_turn_limit_ends_the_turn_with_a_note);
  RUN(cancelling_while_a_shell_runs_kills_its_group);
  RUN(cancelling_a_pending_ask_ends_the_turn);
  RUN(a_tool_that_times_out_goes_back_as_an_error);
  RUN(openai_full_loop_sends_a_tool_message);
  RUN(ollama_full_loop_sends_a_tool_message_with_its_name);
  RUN(an_unknown_tool_refuses_to_start);
  return check_report();
}
