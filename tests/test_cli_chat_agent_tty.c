/*
 * tests/test_cli_chat_agent_tty.c: `portico chat` with tools on a terminal
 * (a pty): the model asks for a shell call, the default policy asks, the
 * prompt appears, and the person's "A" (allow always) runs the call and
 * stores a rule that a second chat, a new process, obeys without asking.
 * The bundled claude provider talks to a fake Anthropic API in this
 * process; the shipped default policy decides.
 */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "agent_run.h"
#include "check.h"
#include "fake_anthropic.h"
#include "harness.h"
#include "store/store.h"

static char *dir;   /* plugins, config.lua, the data folder, HOME */
static char *ws;    /* the workspace */

typedef struct step {
  const char *text;
  const char *id, *name, *args;  /* a tool call when name is set */
} step;

static void reply_step(void *ud, fake_http_response *res)
{
  const step *s = ud;
  fa_sse e = { 0 };
  fa_sse_message_start(&e, 10, 0, 0);
  if (s->text) {
    fa_sse_text_start(&e, 0);
    fa_sse_text_delta(&e, 0, s->text);
    fa_sse_block_stop(&e, 0);
  } else {
    char *q = ag_escape(s->args);
    fa_sse_tool_start(&e, 0, s->id, s->name);
    fa_sse_json_delta(&e, 0, q);
    fa_sse_block_stop(&e, 0);
    free(q);
  }
  fa_sse_message_delta(&e, s->text ? "end_turn" : "tool_use", 5);
  fa_sse_message_stop(&e);
  fake_anthropic_send_stream(res, &e, 0);
  fa_sse_free(&e);
}

/* The default policy asks about it: it writes a file. */
static const step CAT_NOTE = { .id = "toolu_1", .name = "shell_exec",
                               .args = "{\"command\":\"cp note.txt "
                                       "copy.txt\"}" };
static const step ANSWER = { .text = "The note says hello." };

/* Read from the terminal until `want` appears after *mark; move *mark past
 * it. Output arrives in arbitrary pieces. */
static int expect(int fd, char *buf, size_t cap, size_t *mark,
                  const char *want)
{
  uint64_t t0 = h_now_ms();
  for (;;) {
    char *hit = strstr(buf + *mark, want);
    if (hit) {
      *mark = (size_t)(hit - buf) + strlen(want);
      return 1;
    }
    size_t len = strlen(buf);
    if (len + 1 >= cap || h_now_ms() - t0 > 10000) return 0;
    struct pollfd p = { fd, POLLIN, 0 };
    if (poll(&p, 1, 100) <= 0) continue;
    ssize_t got = read(fd, buf + len, cap - 1 - len);
    if (got <= 0) return 0;
    buf[len + (size_t)got] = '\0';
  }
}

/* Start `portico chat` on a new pty; returns the master side. */
static int chat_on_tty(pid_t *pid, const char *prompt)
{
  int master = posix_openpt(O_RDWR | O_NOCTTY);
  CHECK(master >= 0);
  grantpt(master);
  unlockpt(master);
  const char *slave_name = ptsname(master);
  *pid = fork();
  if (*pid == 0) {
    setsid();
    int slave = open(slave_name, O_RDWR);
    dup2(slave, 0);
    dup2(slave, 1);
    dup2(slave, 2);
    close(master);
    char *bin = getenv("PORTICO_BIN");
    execl(bin, bin, "--no-default-plugins", "--plugins", dir, "chat",
          "--workspace", ws, "-p", "claude", "-m", "claude-sonnet-4-5",
          "--tools", "shell_exec", prompt, (char *)NULL);
    _exit(127);
  }
  return master;
}

/* Wait for the chat to exit, draining the terminal; its exit status. */
static int finish(int master, pid_t pid, char *buf, size_t cap)
{
  int status = -1;
  for (int i = 0; i < 1000 && waitpid(pid, &status, WNOHANG) == 0; i++) {
    size_t len = strlen(buf);
    struct pollfd p = { master, POLLIN, 0 };
    if (poll(&p, 1, 10) > 0 && len + 1 < cap) {
      ssize_t got = read(master, buf + len, cap - 1 - len);
      if (got > 0) buf[len + (size_t)got] = '\0';
      else usleep(10000);
    }
  }
  if (status == -1) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    fprintf(stderr, "  the chat did not end; it printed:\n%s\n", buf);
  }
  close(master);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static fake_anthropic *begin(void)
{
  fake_anthropic *fa = fake_anthropic_start();
  fake_anthropic_push(fa, reply_step, (void *)&CAT_NOTE);
  fake_anthropic_push(fa, reply_step, (void *)&ANSWER);
  char lua[1024];
  snprintf(lua, sizeof lua,
           "return { plugins = { claude = { base_url = '%s', api_key = 'k',"
           " max_attempts = 1 } } }\n", fake_anthropic_url(fa));
  free(h_write_config(dir, lua));
  return fa;
}

static pt_store *open_store(void)
{
  char path[4200], err[256];
  snprintf(path, sizeof path, "%s/portico.db", dir);
  pt_store_options so = { .flags = PT_STORE_READONLY };
  pt_store *st = NULL;
  CHECK_INT(pt_store_open(path, &so, &st, err, sizeof err), ==, PT_OK);
  return st;
}

/* The decided_by of every decision in the store, oldest first, joined. */
static void deciders(char *out, size_t cap)
{
  out[0] = '\0';
  pt_store *st = open_store();
  cJSON *sessions = NULL, *s;
  if (!st || pt_store_session_list(st, 0, &sessions) != PT_OK) {
    pt_store_close(st);
    return;
  }
  /* Newest first: walk backwards for the order the chats ran in. */
  for (int i = cJSON_GetArraySize(sessions) - 1; i >= 0; i--) {
    s = cJSON_GetArrayItem(sessions, i);
    cJSON *ds = NULL, *d;
    const char *id = cJSON_GetStringValue(cJSON_GetObjectItem(s, "id"));
    if (!id || pt_store_decisions(st, id, &ds) != PT_OK) continue;
    cJSON_ArrayForEach(d, ds) {
      size_t n = strlen(out);
      snprintf(out + n, cap - n, "%s%s:%s", n ? " " : "",
               cJSON_GetStringValue(cJSON_GetObjectItem(d, "decided_by")),
               cJSON_GetStringValue(cJSON_GetObjectItem(d, "decision")));
    }
    cJSON_Delete(ds);
  }
  cJSON_Delete(sessions);
  pt_store_close(st);
}

static void allow_always_on_the_terminal_is_remembered_across_runs(void)
{
  static char buf[65536];
  size_t mark = 0;
  pid_t pid;
  fake_anthropic *fa = begin();
  buf[0] = '\0';
  int master = chat_on_tty(&pid, "what does the note say?");
  CHECK(expect(master, buf, sizeof buf, &mark, "? shell_exec"));
  CHECK(expect(master, buf, sizeof buf, &mark, "cp note.txt copy.txt"));
  CHECK(expect(master, buf, sizeof buf, &mark, "[A] always"));
  CHECK_INT(write(master, "A\r", 2), ==, 2);
  CHECK(expect(master, buf, sizeof buf, &mark, "[exit code 0]"));
  CHECK(expect(master, buf, sizeof buf, &mark, "The note says hello."));
  CHECK_INT(finish(master, pid, buf, sizeof buf), ==, 0);
  CHECK_INT(fake_anthropic_request_count(fa), ==, 2);
  const fake_anthropic_request *q = fake_anthropic_request_at(fa, 1);
  CHECK_CONTAINS(q ? q->body : "", "[exit code 0]");
  char copy[4200];
  snprintf(copy, sizeof copy, "%s/copy.txt", ws);
  CHECK(access(copy, F_OK) == 0);
  fake_anthropic_stop(fa);

  pt_store *st = open_store();
  cJSON *rules = NULL;
  CHECK_INT(pt_store_rules(st, "shell_exec", &rules), ==, PT_OK);
  CHECK_INT(cJSON_GetArraySize(rules), ==, 1);
  const cJSON *rule = cJSON_GetArrayItem(rules, 0);
  CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(rule, "pattern")),
            "cp note.txt copy.txt");
  CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(rule, "decision")),
            "allow");
  cJSON_Delete(rules);
  pt_store_close(st);

  /* A new process: the stored rule answers, no prompt appears. */
  fa = begin();
  buf[0] = '\0';
  mark = 0;
  master = chat_on_tty(&pid, "and again?");
  CHECK(expect(master, buf, sizeof buf, &mark, "[exit code 0]"));
  CHECK(expect(master, buf, sizeof buf, &mark, "The note says hello."));
  CHECK_INT(finish(master, pid, buf, sizeof buf), ==, 0);
  CHECK(strstr(buf, "[A] always") == NULL);
  CHECK_INT(fake_anthropic_request_count(fa), ==, 2);
  fake_anthropic_stop(fa);

  char who[256];
  deciders(who, sizeof who);
  CHECK_STR(who, "user:allow rule:allow");
}

int main(void)
{
  dir = h_tempdir();
  ws = h_tempdir();
  h_copy_bundled("claude.so", dir);
  h_write_file(ws, "note.txt", "hello from the note\n", 20, 0644);
  h_copy_bundled("tools.so", dir);
  char path[4200];
  snprintf(path, sizeof path, "%s/config.lua", dir);
  setenv("PORTICO_CONFIG", path, 1);
  setenv("PORTICO_DATA_DIR", dir, 1);
  /* No policy.lua of the user's: the shipped default decides. */
  setenv("XDG_CONFIG_HOME", dir, 1);
  setenv("HOME", dir, 1);
  RUN(allow_always_on_the_terminal_is_remembered_across_runs);
  h_rmtree(ws);
  h_rmtree(dir);
  free(ws);
  free(dir);
  return check_report();
}
