/*
 * bench/bench_policy.c: what one permission decision costs.
 *
 *   bench_policy [DECISIONS]
 *
 * CPU time per pt_policy_decide() with the shipped default policy, for a
 * file read, a shell command of three parts, and a network call; the same
 * under a policy that returns at once (the fixed cost of a decision), and
 * with 20 stored rules in the store (read on every decision); the stored-
 * rule lookup and the shell splitter alone; loading the policy; and the
 * policy state's memory.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lua.h>

#include "harness.h"
#include "paths.h"
#include "policy_int.h"

static double cpu_us(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static const struct {
  const char *what, *tool, *args;
  uint32_t flags;
} calls[] = {
  { "file read (fs_read src/main.c)", "fs_read", "{\"path\":\"src/main.c\"}", PT_TOOL_READS },
  { "shell, 3 parts (git status && ls src | wc -l)", "shell_exec",
    "{\"command\":\"git status && ls src | wc -l\"}",
    PT_TOOL_EXECUTES | PT_TOOL_READS | PT_TOOL_WRITES | PT_TOOL_NETWORK },
  { "network (http_fetch https://example.com/x)", "http_fetch",
    "{\"url\":\"https://example.com/x\"}", PT_TOOL_NETWORK },
};

static void run(pt_policy *p, int n, const char *label)
{
  printf("%s\n", label);
  for (size_t c = 0; c < sizeof calls / sizeof *calls; c++) {
    pt_policy_call call = { .tool = calls[c].tool, .flags = calls[c].flags,
                            .workspace = "/home/bench/proj",
                            .args_json = { calls[c].args, strlen(calls[c].args) } };
    pt_policy_decision d;
    for (int i = 0; i < n / 10; i++) pt_policy_decide(p, &call, &d);
    double t0 = cpu_us();
    for (int i = 0; i < n; i++) pt_policy_decide(p, &call, &d);
    double per = (cpu_us() - t0) / n;
    printf("  %-48s %7.1f us CPU per decision  (%s by %s)\n", calls[c].what, per,
           pt_policy_verdict_name(d.verdict), d.rule);
  }
}

int main(int argc, char **argv)
{
  int n = argc > 1 ? atoi(argv[1]) : 20000;
  if (n < 10) n = 10;
  char *user_dir = h_tempdir(), *data = h_tempdir();
  pt_policy_options o = { .user_dir = user_dir, .home = "/home/bench" };
  pt_policy *p = NULL;
  char err[1024];

  double t0 = cpu_us();
  if (pt_policy_load(&o, &p, err, sizeof err) != PT_OK || pt_policy_error(p)) {
    fprintf(stderr, "bench_policy: %s\n", p ? pt_policy_error(p) : err);
    return 1;
  }
  double load_us = cpu_us() - t0;
  printf("policy %s: loaded in %.0f us CPU, state %d KiB\n", pt_policy_file(p),
         load_us, lua_gc(p->L, LUA_GCCOUNT, 0));
  run(p, n, "default policy, no store:");
  printf("  state after %d decisions: %d KiB\n", 3 * n, lua_gc(p->L, LUA_GCCOUNT, 0));
  pt_policy_free(p);

  /* The floor: parsing the call, building its tables, the sandboxed call,
   * with a policy that looks at nothing. */
  const char *trivial = "return function() return 'allow', 'always', 'trivial' end\n";
  h_write_file(user_dir, "trivial.lua", trivial, strlen(trivial), 0644);
  char *path = pt_paths_join(user_dir, "trivial.lua");
  pt_policy_options t = o;
  t.path = path;
  pt_policy_load(&t, &p, err, sizeof err);
  run(p, n, "a policy that returns at once (the fixed cost):");
  pt_policy_free(p);
  free(path);

  pt_store *st = NULL;
  if (pt_store_open_dir(data, NULL, &st, err, sizeof err) != PT_OK) {
    fprintf(stderr, "bench_policy: %s\n", err);
    return 1;
  }
  for (int i = 0; i < 20; i++) {
    char pat[64];
    snprintf(pat, sizeof pat, "tool-%d *", i);
    pt_store_rule r = { i % 2 ? "shell_exec" : "fs_read", pat, i % 3 ? "allow" : "deny", NULL };
    pt_store_rule_add(st, &r, NULL);
  }
  o.store = st;
  pt_policy_load(&o, &p, err, sizeof err);
  run(p, n, "default policy, 20 stored rules (none matching):");
  /* The store's part alone: reading this tool's rules and "*" ones, and
   * matching the call's keys against them. */
  for (size_t c = 0; c < sizeof calls / sizeof *calls; c += 2) {
    pt_policy_call call = { .tool = calls[c].tool, .flags = calls[c].flags,
                            .workspace = "/home/bench/proj",
                            .args_json = { calls[c].args, strlen(calls[c].args) } };
    pt__call_info ci;
    pt_policy_decision d;
    t0 = cpu_us();
    for (int i = 0; i < n; i++) {
      pt__call_info_init(&ci, p, &call, err, sizeof err);
      pt__policy_stored(p, &call, &ci, &d);
      pt__call_info_free(&ci);
    }
    printf("  stored-rule lookup alone, %-22s %7.1f us CPU\n", calls[c].tool,
           (cpu_us() - t0) / n);
  }
  pt_policy_free(p);
  pt_store_close(st);

  const char *cmd = "git status && ls src | wc -l";
  t0 = cpu_us();
  for (int i = 0; i < n; i++) pt_shell_split_free(pt_shell_split(cmd, strlen(cmd)));
  printf("shell splitter alone (3 parts): %.2f us CPU per split\n", (cpu_us() - t0) / n);

  h_rmtree(user_dir);
  h_rmtree(data);
  free(user_dir);
  free(data);
  return 0;
}
