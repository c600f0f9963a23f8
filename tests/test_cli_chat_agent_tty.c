/*
 * tests/test_cli_chat_agent_tty.c: `portico chat` with tools on a terminal
 * (a pty): the model asks for a shell call, the default policy asks, the
 * prompt appears, and the person's "A" (allow always) runs the call and
 * stores a rule that a second chat, a new process, obeys without asking.
 * The bundled claude provider talks to a fake Anthropic API in this
 * process; the shipped default policy decides.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "chat_agent_cases.h"
#include "check.h"
#include "pty_session.h"
#include "store/store.h"

static cac_env ce;

/* The default policy asks about it: it writes a file. */
static const cac_step CAT_NOTE = { .id = "toolu_1", .name = "shell_exec",
                                   .args = "{\"command\":\"cp note.txt "
                                           "copy.txt\"}" };

/* Start `portico chat` on a new pty. */
static void chat_on_tty(pty_session *s, const char *prompt)
{
  const char *argv[] = { getenv("PORTICO_BIN"), "--no-default-plugins",
                         "--plugins", ce.dir, "chat", "--workspace", ce.ws,
                         "-p", "claude", "-m", "claude-sonnet-4-5",
                         "--tools", "shell_exec", prompt, NULL };
  pty_session_start(s, argv);
}

static pt_store *open_store(void)
{
  char path[4200], err[256];
  snprintf(path, sizeof path, "%s/portico.db", ce.dir);
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
  static pty_session t;
  fake_anthropic *fa = cac_fake_start(&ce, &CAT_NOTE, "");
  chat_on_tty(&t, "what does the note say?");
  CHECK(pty_session_expect(&t, "? shell_exec"));
  CHECK(pty_session_expect(&t, "cp note.txt copy.txt"));
  CHECK(pty_session_expect(&t, "[A] always"));
  pty_session_type(&t, "A\r");
  CHECK(pty_session_expect(&t, "[exit code 0]"));
  CHECK(pty_session_expect(&t, "The note says hello."));
  CHECK_INT(pty_session_wait(&t, "the chat did not end"), ==, 0);
  CHECK_INT(fake_anthropic_request_count(fa), ==, 2);
  const fake_anthropic_request *q = fake_anthropic_request_at(fa, 1);
  CHECK_CONTAINS(q ? q->body : "", "[exit code 0]");
  char copy[4200];
  snprintf(copy, sizeof copy, "%s/copy.txt", ce.ws);
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
  fa = cac_fake_start(&ce, &CAT_NOTE, "");
  chat_on_tty(&t, "and again?");
  CHECK(pty_session_expect(&t, "[exit code 0]"));
  CHECK(pty_session_expect(&t, "The note says hello."));
  CHECK_INT(pty_session_wait(&t, "the chat did not end"), ==, 0);
  CHECK(strstr(t.out, "[A] always") == NULL);
  CHECK_INT(fake_anthropic_request_count(fa), ==, 2);
  fake_anthropic_stop(fa);

  char who[256];
  deciders(who, sizeof who);
  CHECK_STR(who, "user:allow rule:allow");
}

int main(void)
{
  cac_setup(&ce);
  /* The chat on the pty inherits this environment. */
  for (const char *const *e = ce.env; *e; e++) putenv((char *)*e);
  RUN(allow_always_on_the_terminal_is_remembered_across_runs);
  cac_teardown(&ce);
  return check_report();
}
