/*
 * bench/bench_agent.c: what one agent turn costs, and what an open session
 * weighs.
 *
 *   bench_agent [TURNS] [SESSIONS]
 *
 * A child process serves the Anthropic Messages API from loopback (the
 * test fake's SSE builders on fake_http): a request whose history holds no
 * tool result is answered with one fs_read tool call, one that does with
 * final text. This process runs the real kernel with the bundled claude
 * and tools plugins, the shipped default policy (pt_policy_load with no
 * path: build/share/portico/lua/policy.lua) and a temp workspace with a
 * small file.
 *
 * 1. Turn overhead: TURNS turns (default 200, after 20 warm-up turns), each
 *    from a fresh one-message history: model call, tool call, policy
 *    decision, fs_read, tool result, model call, final text. Per turn: the
 *    loop thread's CPU (CLOCK_THREAD_CPUTIME_ID), the process's CPU (adds
 *    the tool worker threads), wall time; median and p95. The policy's
 *    share is measured inside the turn by wrapping pt_policy_decide at link
 *    time (-Wl,--wrap), so it is the real call the agent makes. The same
 *    loop without a policy is run for comparison.
 *
 * 2. Memory: SESSIONS turns (default 1000) at once, each waiting inside a
 *    model reply the server holds open (it sends the head and one text
 *    delta, then nothing). Once every session has seen its delta: VmRSS
 *    and VmHWM against the figure before the turns started (VmHWM reset
 *    through /proc/self/clear_refs), per session. Then every turn is
 *    cancelled. RLIMIT_NOFILE is raised to its hard limit (the server is
 *    a child and inherits it).
 *
 * The server runs in another process so its CPU and memory do not count.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent_run.h"
#include "bench_support.h"
#include "fake_anthropic.h"
#include "bench_support.h"
#include "fake_http.h"
#include "harness.h"

/* ---- The server (child process) ----------------------------------------- */

static unsigned hold_ms;  /* 0: answer at once; else hold the first reply */

static void send_whole(fake_http_response *res, const fa_sse *s)
{
  fake_anthropic_stream_head(res);
  fake_http_chunk(res, s->text, s->len);
  fake_http_chunk_end(res);
}

static void serve(void *ud, const fake_http_request *req,
                  fake_http_response *res)
{
  (void)ud;
  if (!strstr(req->path, "/v1/messages")) {
    fake_http_respond(res, 404, "text/plain", "no such route");
    return;
  }
  fa_sse e = { 0 };
  fa_sse_message_start(&e, 40, 0, 0);
  if (strstr(req->body, "tool_result")) {
    fa_sse_text_start(&e, 0);
    fa_sse_text_delta(&e, 0, "The note says hello.");
    fa_sse_block_stop(&e, 0);
    fa_sse_message_delta(&e, "end_turn", 8);
    fa_sse_message_stop(&e);
    send_whole(res, &e);
  } else if (hold_ms) {
    /* A slow reply: the head and one delta, then a long pause. */
    fa_sse_text_start(&e, 0);
    fa_sse_text_delta(&e, 0, "Let me look.");
    fake_anthropic_stream_head(res);
    fake_http_chunk(res, e.text, e.len);
    fake_http_wait(res, hold_ms);
    fa_sse_free(&e);
    memset(&e, 0, sizeof e);
    fa_sse_block_stop(&e, 0);
    fa_sse_message_delta(&e, "end_turn", 8);
    fa_sse_message_stop(&e);
    fake_http_chunk(res, e.text, e.len);
    fake_http_chunk_end(res);
  } else {
    fa_sse_text_start(&e, 0);
    fa_sse_text_delta(&e, 0, "Let me look.");
    fa_sse_block_stop(&e, 0);
    fa_sse_tool_start(&e, 1, "toolu_01", "fs_read");
    fa_sse_json_delta(&e, 1, "{\\\"path\\\":\\\"note.txt\\\"}");
    fa_sse_block_stop(&e, 1);
    fa_sse_message_delta(&e, "tool_use", 12);
    fa_sse_message_stop(&e);
    send_whole(res, &e);
  }
  fa_sse_free(&e);
}

/* ---- pt_policy_decide, timed where the agent calls it ------------------ */

int32_t __real_pt_policy_decide(pt_policy *p, const pt_policy_call *call,
                                pt_policy_decision *out);
int32_t __wrap_pt_policy_decide(pt_policy *p, const pt_policy_call *call,
                                pt_policy_decision *out);

static double policy_us;
static long policy_calls, policy_allows;

int32_t __wrap_pt_policy_decide(pt_policy *p, const pt_policy_call *call,
                                pt_policy_decision *out)
{
  double t0 = bench_clock_us(CLOCK_THREAD_CPUTIME_ID);
  int32_t rc = __real_pt_policy_decide(p, call, out);
  policy_us += bench_clock_us(CLOCK_THREAD_CPUTIME_ID) - t0;
  policy_calls++;
  if (out->verdict == PT_POLICY_ALLOW) policy_allows++;
  return rc;
}

/* ---- One turn ---------------------------------------------------------- */

typedef struct sess {
  int done;
  int waiting;            /* saw the held reply's first text */
  int tool_errors;
  int tool_results;
  pt_agent_result res;
  char message[256];
  cJSON *messages;
  pt_agent *a;
} sess;

static int waiting_count;

static void on_event(void *ud, const pt_chat_event *ev)
{
  sess *s = ud;
  if (ev->kind == PT_EV_TEXT && !s->waiting) {
    s->waiting = 1;
    waiting_count++;
  }
}

static void on_agent_event(void *ud, const cJSON *ev)
{
  sess *s = ud;
  const cJSON *t = cJSON_GetObjectItemCaseSensitive(ev, "type");
  if (cJSON_IsString(t) && strcmp(t->valuestring, "tool_result") == 0) {
    s->tool_results++;
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ev, "is_error")))
      s->tool_errors++;
  }
}

static int done_count;

static void on_done(void *ud, const pt_agent_result *r)
{
  sess *s = ud;
  s->done = 1;
  s->res = *r;
  snprintf(s->message, sizeof s->message, "%s", r->message ? r->message : "");
  s->res.message = s->message;
  s->a = NULL;
  done_count++;
}

static const char *const TOOLS[] = { "fs_read" };

static int start_turn(pt_kernel *k, sess *s, pt_policy *policy,
                      const char *ws, const char *session, char *err,
                      size_t errlen)
{
  memset(s, 0, sizeof *s);
  s->messages = cJSON_Parse(
      "[{\"role\":\"user\",\"content\":\"What does note.txt say?\"}]");
  pt_agent_options o = {
    .provider = "claude", .model = "claude-sonnet-4-5",
    .system = "Be brief.", .messages = s->messages, .tools = TOOLS,
    .tool_count = 1, .policy = policy, .workspace = ws, .session = session,
    .max_turns = 4,
  };
  pt_agent_sink sink = { .on_event = on_event,
                         .on_agent_event = on_agent_event,
                         .on_done = on_done, .ud = s };
  return pt_agent_turn(k, &o, &sink, &s->a, err, errlen) == PT_OK ? 0 : -1;
}

static int cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double pct(const double *sorted, int n, double p)
{
  int i = (int)(p * (n - 1) + 0.5);
  return sorted[i < 0 ? 0 : i >= n ? n - 1 : i];
}

/* Run `n` turns one after another; print the figures. */
static int turns(pt_kernel *k, pt_policy *policy, const char *ws, int n,
                 const char *label)
{
  double *cpu = calloc((size_t)n, sizeof *cpu);
  double *pcpu = calloc((size_t)n, sizeof *pcpu);
  double *wall = calloc((size_t)n, sizeof *wall);
  if (!cpu || !pcpu || !wall) abort();
  int warm = n / 10 < 20 ? 20 : n / 10;
  double pol_us = 0;
  long pol_calls = 0, pol_allows = 0;
  for (int i = -warm; i < n; i++) {
    sess s;
    char err[256];
    if (i == 0) {
      policy_us = 0;
      policy_calls = policy_allows = 0;
    }
    double c0 = bench_clock_us(CLOCK_THREAD_CPUTIME_ID);
    double p0 = bench_clock_us(CLOCK_PROCESS_CPUTIME_ID);
    uint64_t w0 = uv_hrtime();
    if (start_turn(k, &s, policy, ws, "bench", err, sizeof err) != 0) {
      printf("%s: the turn did not start: %s\n", label, err);
      return -1;
    }
    while (!s.done) uv_run(&k->loop, UV_RUN_ONCE);
    double c1 = bench_clock_us(CLOCK_THREAD_CPUTIME_ID);
    double p1 = bench_clock_us(CLOCK_PROCESS_CPUTIME_ID);
    uint64_t w1 = uv_hrtime();
    if (s.res.stop != PT_AGENT_END_TURN || s.res.model_calls != 2 ||
        s.tool_results != 1 || s.tool_errors != 0) {
      printf("%s: turn %d ended %s after %d model calls, %d tool results "
             "(%d errors): %s\n",
             label, i, pt_agent_stop_name(s.res.stop), s.res.model_calls,
             s.tool_results, s.tool_errors, s.message);
      cJSON_Delete(s.messages);
      return -1;
    }
    cJSON_Delete(s.messages);
    if (i >= 0) {
      cpu[i] = c1 - c0;
      pcpu[i] = p1 - p0;
      wall[i] = (double)(w1 - w0) / 1e6;
    }
  }
  pol_us = policy_us;
  pol_calls = policy_calls;
  pol_allows = policy_allows;
  qsort(cpu, (size_t)n, sizeof *cpu, cmp_double);
  qsort(pcpu, (size_t)n, sizeof *pcpu, cmp_double);
  qsort(wall, (size_t)n, sizeof *wall, cmp_double);
  printf("%s, %d turns (+%d warm-up):\n", label, n, warm);
  printf("  loop-thread CPU per turn   median %7.1f us   p95 %7.1f us\n",
         pct(cpu, n, 0.5), pct(cpu, n, 0.95));
  printf("  process CPU per turn       median %7.1f us   p95 %7.1f us   "
         "(loop + tool workers)\n",
         pct(pcpu, n, 0.5), pct(pcpu, n, 0.95));
  printf("  wall per turn              median %7.3f ms   p95 %7.3f ms\n",
         pct(wall, n, 0.5), pct(wall, n, 0.95));
  if (policy) {
    if (pol_calls)
      printf("  policy decision in turn    mean   %7.1f us CPU over %ld "
             "decisions (%ld allow)\n",
             pol_us / (double)pol_calls, pol_calls, pol_allows);
    else
      printf("  policy decision in turn    none seen\n");
  }
  fflush(stdout);
  free(cpu);
  free(pcpu);
  free(wall);
  return 0;
}

/* ---- Many sessions at once --------------------------------------------- */

static void sessions(pt_kernel *k, pt_policy *policy, const char *ws, int n)
{
  sess *s = calloc((size_t)n, sizeof *s);
  if (!s) abort();
  char err[256] = "";
  /* One held session first, cancelled, so the plugins' lazy state and the
   * first connection's buffers are in the baseline. */
  waiting_count = done_count = 0;
  if (start_turn(k, &s[0], policy, ws, "warm", err, sizeof err) == 0) {
    while (!waiting_count && !done_count) uv_run(&k->loop, UV_RUN_ONCE);
    if (!s[0].done) pt_agent_cancel(s[0].a);
    while (!done_count) uv_run(&k->loop, UV_RUN_ONCE);
    cJSON_Delete(s[0].messages);
  }
  waiting_count = done_count = 0;
  for (int i = 0; i < 20; i++) uv_run(&k->loop, UV_RUN_NOWAIT);
  bench_reset_hwm();
  long rss0 = bench_status_kib("VmRSS"), hwm0 = bench_status_kib("VmHWM");
  uint64_t w0 = uv_hrtime();
  int started = 0;
  for (int i = 0; i < n; i++) {
    char id[32];
    snprintf(id, sizeof id, "s%d", i);
    if (start_turn(k, &s[i], policy, ws, id, err, sizeof err) != 0) {
      printf("  session %d did not start: %s\n", i, err);
      break;
    }
    started++;
  }
  uint64_t deadline = uv_hrtime() + 60ull * 1000000000ull;
  while (waiting_count + done_count < started && uv_hrtime() < deadline)
    uv_run(&k->loop, UV_RUN_ONCE);
  double wall = (double)(uv_hrtime() - w0) / 1e6;
  long rss1 = bench_status_kib("VmRSS"), hwm1 = bench_status_kib("VmHWM");
  int early = 0;
  const char *why = NULL;
  for (int i = 0; i < started; i++)
    if (s[i].done && !s[i].waiting) {
      early++;
      if (!why) why = s[i].message;
    }
  int waiting = waiting_count;
  printf("%d sessions at once, each inside a held model reply "
         "(all started and streaming after %.0f ms wall):\n",
         started, wall);
  printf("  waiting inside the reply: %d; ended early: %d%s%s\n", waiting,
         early, why ? ", first error: " : "", why ? why : "");
  printf("  VmRSS before %7.1f MiB   with the sessions %7.1f MiB   "
         "+%.1f MiB\n",
         rss0 / 1024.0, rss1 / 1024.0, (rss1 - rss0) / 1024.0);
  printf("  VmHWM before %7.1f MiB   with the sessions %7.1f MiB   "
         "+%.1f MiB\n",
         hwm0 / 1024.0, hwm1 / 1024.0, (hwm1 - hwm0) / 1024.0);
  if (waiting)
    printf("  per open session: %.1f KiB RSS, %.1f KiB peak\n",
           (double)(rss1 - rss0) / waiting, (double)(hwm1 - hwm0) / waiting);
  for (int i = 0; i < started; i++)
    if (!s[i].done && s[i].a) pt_agent_cancel(s[i].a);
  deadline = uv_hrtime() + 30ull * 1000000000ull;
  while (done_count < started && uv_hrtime() < deadline)
    uv_run(&k->loop, UV_RUN_ONCE);
  int cancelled = 0;
  for (int i = 0; i < started; i++)
    if (s[i].done && s[i].res.stop == PT_AGENT_CANCELLED) cancelled++;
  for (int i = 0; i < 20; i++) uv_run(&k->loop, UV_RUN_NOWAIT);
  printf("  after cancelling all: %d/%d ended (%d cancelled), VmRSS %.1f "
         "MiB\n",
         done_count, started, cancelled, bench_status_kib("VmRSS") / 1024.0);
  fflush(stdout);
  for (int i = 0; i < started; i++)
    if (s[i].done) cJSON_Delete(s[i].messages);
  free(s);
}

/* ---- Main -------------------------------------------------------------- */

static pt_kernel *boot(h_fixture *f, int port)
{
  char lua[1024];
  snprintf(lua, sizeof lua,
           "return { plugins = { claude = { base_url = "
           "'http://127.0.0.1:%d', api_key = 'bench', max_attempts = 1,"
           " first_byte_timeout_ms = 600000, idle_timeout_ms = 600000 } } }\n",
           port);
  ag_boot(f, "claude.so", lua);
  return f->k;
}

int main(int argc, char **argv)
{
  int n = argc > 1 ? atoi(argv[1]) : 200;
  int nsess = argc > 2 ? atoi(argv[2]) : 1000;
  if (n < 1) n = 1;
  if (nsess < 0) nsess = 0;

  /* ag_boot copies claude.so and tools.so from the bundled folder. */
  setenv("PORTICO_BUNDLED_PLUGIN_DIR", PORTICO_BENCH_PLUGIN_DIR, 0);

  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  getrlimit(RLIMIT_NOFILE, &rl);

  char *ws = h_tempdir(), *user_dir = h_tempdir();
  static const char NOTE[] = "hello from the bench workspace\n";
  h_write_file(ws, "note.txt", NOTE, sizeof NOTE - 1, 0644);

  pt_policy_options po = { .user_dir = user_dir, .home = ws };
  pt_policy *policy = NULL;
  char err[1024];
  if (pt_policy_load(&po, &policy, err, sizeof err) != PT_OK ||
      pt_policy_error(policy)) {
    fprintf(stderr, "bench_agent: %s\n",
            policy ? pt_policy_error(policy) : err);
    return 1;
  }

  int port, keepalive;
  pid_t server = bench_server_start("bench_agent", serve, &port, &keepalive);
  h_fixture f;
  pt_kernel *k = boot(&f, port);
  printf("agent turn: claude fake in another process (loopback), bundled "
         "tools, policy %s\n",
         pt_policy_file(policy));
  int rc = turns(k, policy, ws, n, "one turn: tool call, policy, fs_read, "
                 "result, final text");
  if (rc == 0) rc = turns(k, NULL, ws, n, "the same turn without a policy");
  h_fixture_stop(&f);
  bench_server_stop(server, keepalive);

  if (rc == 0 && nsess > 0) {
    printf("\n");
    hold_ms = 600000;
    server = bench_server_start("bench_agent", serve, &port, &keepalive);
    k = boot(&f, port);
    printf("(RLIMIT_NOFILE %llu; the server holds the first reply open)\n",
           (unsigned long long)rl.rlim_cur);
    sessions(k, policy, ws, nsess);
    h_fixture_stop(&f);
    bench_server_stop(server, keepalive);
  }

  pt_policy_free(policy);
  h_rmtree(ws);
  h_rmtree(user_dir);
  free(ws);
  free(user_dir);
  return rc == 0 ? 0 : 1;
}
