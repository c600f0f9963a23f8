/*
 * tests/test_tools_shell.c: shell_exec of the bundled tools plugin: real
 * /bin/sh commands in a temp workspace, their output, exit status and
 * environment, and above all that a timeout or a cancel stops every
 * process the command started (grandchildren included) and leaves no
 * zombie behind.
 *
 * A killed grandchild is reparented to init, which may not reap it at
 * once (or ever, in some containers); a zombie is dead, so the checks
 * count it as gone. Our own child, the shell, must be reaped by the tool.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "tools_run.h"

static tr_env env;

/* 'R', 'S', 'Z'... of process `pid`; 0 when there is none. */
static char proc_state(pid_t pid, pid_t *pgrp, pid_t *ppid)
{
  char path[64], line[512];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  size_t n = fread(line, 1, sizeof line - 1, f);
  fclose(f);
  line[n] = '\0';
  const char *p = strrchr(line, ')');
  char state = 0;
  int pp = 0, pg = 0;
  if (!p || sscanf(p + 1, " %c %d %d", &state, &pp, &pg) != 3) return 0;
  if (pgrp) *pgrp = pg;
  if (ppid) *ppid = pp;
  return state;
}

static int alive(pid_t pid)
{
  char s = proc_state(pid, NULL, NULL);
  return s && s != 'Z' && s != 'X';
}

/* Living processes whose group is `pgid`, and our own zombie children. */
static void census(pid_t pgid, int *in_group, int *zombie_children)
{
  *in_group = *zombie_children = 0;
  DIR *d = opendir("/proc");
  for (struct dirent *de; d && (de = readdir(d));) {
    pid_t pid = (pid_t)atoi(de->d_name), pg = 0, pp = 0;
    if (pid <= 0) continue;
    char s = proc_state(pid, &pg, &pp);
    if (!s) continue;
    if (pg == pgid && s != 'Z' && s != 'X') (*in_group)++;
    if (pp == getpid() && s == 'Z') (*zombie_children)++;
  }
  if (d) closedir(d);
}

/* The pids the command wrote to `rel`, one per line; waits up to 5 s for
 * `want` of them. */
static int read_pids(const char *rel, pid_t *pids, int want)
{
  int n = 0;
  uint64_t until = h_now_ms() + 5000;
  while (h_now_ms() < until) {
    char *text = tr_read(&env, rel);
    n = 0;
    for (char *p = text; p && *p && n < 16;) {
      pids[n++] = (pid_t)strtol(p, &p, 10);
      while (*p == '\n') p++;
    }
    free(text);
    if (n >= want) break;
    pt_kernel_spin(env.f.k, 20);
  }
  return n;
}

/* Everything the command started is gone, and the shell was reaped. */
static void check_all_gone(const pid_t *pids, int n)
{
  for (int i = 0; i < n; i++) {
    if (alive(pids[i])) fprintf(stderr, "  pid %d survived\n", (int)pids[i]);
    CHECK(!alive(pids[i]));
  }
  int in_group, zombies;
  census(pids[0], &in_group, &zombies);
  CHECK_INT(in_group, ==, 0);
  CHECK_INT(zombies, ==, 0);
  /* The shell was our child; waitpid says it is already reaped. */
  CHECK_INT(waitpid(pids[0], NULL, WNOHANG), ==, -1);
  CHECK_INT(errno, ==, ECHILD);
}

/* A shell ($$) that starts a sleep, and a subshell that starts another,
 * all writing their pids to `pids`, then waiting. */
#define FAMILY                                                              \
  "echo $$ > pids; sleep 100 & echo $! >> pids; "                           \
  "sh -c 'sleep 100 & echo $! >> pids; wait' & echo $! >> pids; wait"

static void shell_exec_runs_in_the_workspace_and_reports_the_exit_code(void)
{
  tr_start(&env, "tools.so");
  tr_call c;
  tr_run(&env, "shell_exec", "{\"command\":\"pwd -P; echo out; echo err >&2; "
         "echo more; cat; exit 3\"}", &c);
  CHECK_INT(c.status, ==, PT_OK);
  CHECK(!c.is_error);
  char *real = realpath(env.ws, NULL), want[4400];
  snprintf(want, sizeof want, "%s\nout\nerr\nmore\n[exit code 3]\n", real);
  free(real);
  CHECK_STR(c.content, want);
  CHECK_INT(tr_num(&c, "exit_code", -1), ==, 3);
  CHECK(cJSON_IsNull(cJSON_GetObjectItem(c.json, "signal")));
  CHECK(cJSON_IsFalse(cJSON_GetObjectItem(c.json, "timed_out")));
  tr_free(&c);

  tr_run(&env, "shell_exec", "{\"command\":\"true\"}", &c);
  CHECK_STR(c.content, "(no output)\n[exit code 0]\n");
  tr_free(&c);
  tr_run(&env, "shell_exec", "{\"command\":\"kill -SEGV $$\"}", &c);
  CHECK_STR(c.content, "(no output)\n[killed by signal 11 (SIGSEGV)]\n");
  CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(c.json, "signal")),
            "SIGSEGV");
  CHECK(cJSON_IsNull(cJSON_GetObjectItem(c.json, "exit_code")));
  tr_free(&c);

  tr_run(&env, "shell_exec", "{\"command\":\"\"}", &c);
  CHECK(c.is_error);
  CHECK_CONTAINS(c.content, "the command is empty");
  tr_free(&c);
  tr_run(&env, "shell_exec", "{\"command\":\"true\",\"timeout_seconds\":0}",
         &c);
  CHECK(c.is_error);
  CHECK_CONTAINS(c.content, "\"timeout_seconds\" must be a whole number from "
                 "1 to 600");
  tr_free(&c);
  tr_stop(&env);
}

static void shell_exec_hides_secrets_from_the_environment(void)
{
  setenv("ANTHROPIC_API_KEY", "sk-ant-leak", 1);
  setenv("OPENAI_API_KEY", "sk-leak", 1);
  setenv("GITHUB_TOKEN", "ghp-leak", 1);
  setenv("AWS_SECRET_ACCESS_KEY", "aws-leak", 1);
  setenv("db_password", "pw-leak", 1);
  setenv("GOOGLE_APPLICATION_CREDENTIALS", "/creds-leak", 1);
  setenv("PORTICO_VISIBLE", "yes", 1);
  tr_start(&env, "tools.so");
  tr_call c;
  tr_run(&env, "shell_exec", "{\"command\":\"env\"}", &c);
  /* The values, not the word: ASAN_OPTIONS holds "detect_leaks". */
  static const char *const values[] = { "sk-ant-leak", "sk-leak", "ghp-leak",
                                        "aws-leak", "pw-leak", "/creds-leak" };
  for (size_t i = 0; i < sizeof values / sizeof values[0]; i++)
    CHECK(!strstr(c.content, values[i]));
  CHECK(!strstr(c.content, "API_KEY"));
  CHECK_CONTAINS(c.content, "PORTICO_VISIBLE=yes\n");
  CHECK_CONTAINS(c.content, "PATH=");
  tr_free(&c);
  tr_stop(&env);
  unsetenv("ANTHROPIC_API_KEY");
  unsetenv("OPENAI_API_KEY");
  unsetenv("GITHUB_TOKEN");
  unsetenv("AWS_SECRET_ACCESS_KEY");
  unsetenv("db_password");
  unsetenv("GOOGLE_APPLICATION_CREDENTIALS");
}

static void shell_exec_keeps_the_start_and_end_of_long_output(void)
{
  tr_start(&env, "tools.so");
  tr_call c;
  /* 1..100000, one per line: 588895 bytes. */
  tr_run(&env, "shell_exec", "{\"command\":\"seq 1 100000\"}", &c);
  CHECK(!c.is_error);
  CHECK(strncmp(c.content, "1\n2\n3\n", 6) == 0);
  CHECK_CONTAINS(c.content, "\n[... 556127 bytes of output left out here; "
                 "redirect the output to a file and read it with fs_read");
  CHECK_CONTAINS(c.content, "\n99999\n100000\n[exit code 0]\n");
  CHECK(strlen(c.content) < 8192 + 24576 + 400);
  CHECK(cJSON_IsTrue(cJSON_GetObjectItem(c.json, "truncated")));
  CHECK_INT(tr_num(&c, "output_bytes", 0), ==, 588895);
  tr_free(&c);
  tr_stop(&env);
}

static void shell_exec_timeout_stops_the_whole_process_group(void)
{
  tr_start(&env, "tools.so");
  tr_call c;
  uint64_t t0 = h_now_ms();
  tr_begin(&env, "shell_exec", "{\"command\":\"" FAMILY "\","
           "\"timeout_seconds\":1}", NULL, &c);
  pid_t pids[16];
  int n = read_pids("pids", pids, 4);
  CHECK_INT(n, ==, 4);
  for (int i = 0; i < n; i++) CHECK(alive(pids[i]));
  tr_wait(&env, &c, 10000);
  CHECK_INT(c.done, ==, 1);
  CHECK_INT(c.status, ==, PT_OK);
  CHECK(c.is_error);
  CHECK_CONTAINS(c.content, "[timed out after 1 s; the command and every "
                 "process it started were stopped]");
  CHECK(cJSON_IsTrue(cJSON_GetObjectItem(c.json, "timed_out")));
  CHECK(h_now_ms() - t0 < 4000);
  check_all_gone(pids, n);
  tr_free(&c);
  tr_stop(&env);
}

static void shell_exec_cancel_stops_the_whole_process_group(void)
{
  tr_start(&env, "tools.so");
  tr_call c;
  pt_op_impl *op = tr_begin(&env, "shell_exec", "{\"command\":\"" FAMILY "\"}",
                            NULL, &c);
  pid_t pids[16];
  int n = read_pids("pids", pids, 4);
  CHECK_INT(n, ==, 4);
  uint64_t t0 = h_now_ms();
  pt_op_cancel(op);
  pt_op_cancel(op);
  tr_wait(&env, &c, 10000);
  pt_kernel_spin(env.f.k, 20);
  CHECK_INT(c.done, ==, 1);
  CHECK_INT(c.status, ==, PT_ECANCELED);
  CHECK(h_now_ms() - t0 < 1500); /* SIGTERM did it; no grace wait */
  check_all_gone(pids, n);
  tr_free(&c);
  tr_stop(&env);
}

static void shell_exec_kills_what_ignores_sigterm_after_the_grace(void)
{
  tr_start(&env, "tools.so");
  tr_call c;
  pt_op_impl *op = tr_begin(&env, "shell_exec", "{\"command\":\"trap '' TERM; "
                            FAMILY "\"}", NULL, &c);
  pid_t pids[16];
  int n = read_pids("pids", pids, 4);
  CHECK_INT(n, ==, 4);
  uint64_t t0 = h_now_ms();
  pt_op_cancel(op);
  tr_wait(&env, &c, 10000);
  uint64_t took = h_now_ms() - t0;
  CHECK_INT(c.status, ==, PT_ECANCELED);
  CHECK(took >= 1900 && took < 4000);
  check_all_gone(pids, n);
  tr_free(&c);
  tr_stop(&env);
}

static void unloading_the_plugin_stops_a_running_command_first(void)
{
  tr_start_watched(&env, "tools.so");
  tr_call c;
  tr_begin(&env, "shell_exec", "{\"command\":\"" FAMILY "\"}", NULL, &c);
  pid_t pids[16];
  int n = read_pids("pids", pids, 4);
  CHECK_INT(n, ==, 4);
  char path[4200];
  snprintf(path, sizeof path, "%s/tools.so", env.f.dir);
  unlink(path);
  uint64_t until = h_now_ms() + 5000;
  while (!strstr(env.f.ev.text, "unloaded tools") && h_now_ms() < until)
    pt_kernel_spin(env.f.k, 5);
  CHECK_CONTAINS(env.f.ev.text, "unloaded tools");
  CHECK_INT(c.done, ==, 1);
  CHECK_INT(c.status, ==, PT_ECANCELED);
  check_all_gone(pids, n);
  tr_free(&c);
  tr_stop(&env);
}

static void shell_exec_stops_background_processes_left_behind(void)
{
  tr_start(&env, "tools.so");
  tr_call c;
  uint64_t t0 = h_now_ms();
  tr_run(&env, "shell_exec", "{\"command\":\"echo $$ > pids; sleep 100 & "
         "echo $! >> pids; echo started\"}", &c);
  CHECK(h_now_ms() - t0 < 3000);
  CHECK_STR(c.content, "started\n[exit code 0]\n[processes the command left "
            "running in the background were stopped]\n");
  pid_t pids[16];
  int n = read_pids("pids", pids, 2);
  CHECK_INT(n, ==, 2);
  check_all_gone(pids, n);
  tr_free(&c);
  tr_stop(&env);
}

static void shell_exec_runs_commands_side_by_side(void)
{
  tr_start(&env, "tools.so");
  tr_call c[3];
  uint64_t t0 = h_now_ms();
  for (int i = 0; i < 3; i++)
    tr_begin(&env, "shell_exec", "{\"command\":\"sleep 0.5; echo done\"}",
             NULL, &c[i]);
  for (int i = 0; i < 3; i++) {
    tr_wait(&env, &c[i], 10000);
    CHECK_STR(c[i].content, "done\n[exit code 0]\n");
    tr_free(&c[i]);
  }
  CHECK(h_now_ms() - t0 < 1400);
  tr_stop(&env);
}

int main(void)
{
  RUN(shell_exec_runs_in_the_workspace_and_reports_the_exit_code);
  RUN(shell_exec_hides_secrets_from_the_environment);
  RUN(shell_exec_keeps_the_start_and_end_of_long_output);
  RUN(shell_exec_timeout_stops_the_whole_process_group);
  RUN(shell_exec_cancel_stops_the_whole_process_group);
  RUN(shell_exec_kills_what_ignores_sigterm_after_the_grace);
  RUN(shell_exec_stops_background_processes_left_behind);
  RUN(unloading_the_plugin_stops_a_running_command_first);
  RUN(shell_exec_runs_commands_side_by_side);
  return check_report();
}
