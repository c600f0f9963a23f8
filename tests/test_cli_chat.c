/*
 * tests/test_cli_chat.c: `portico chat` and `portico models` as a person or
 * a script uses them, through the real binary and the echo test provider
 * (which streams its request back, so the output shows exactly what the
 * provider was sent).
 */
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "check.h"
#include "harness.h"
#include "pty_session.h"
#include "run_cmd.h"

static cmd_result r;
static char *dir;          /* plugins: echo.so */
static char *config;       /* config.lua with a price for echo-1 */
static char env_config[4200], env_data[4200];
static const char *env[3];


#define CHAT(...)                                                          \
  do {                                                                     \
    const char *argv_[] = { "--no-default-plugins", "--plugins", dir,      \
                            __VA_ARGS__, NULL };                           \
    run_portico(&r, argv_, env);                                           \
  } while (0)

static void a_prompt_streams_the_reply_to_stdout(void)
{
  CHAT("chat", "-m", "echo-1", "--system", "be brief", "hello", "there");
  CHECK_INT(r.status, ==, 0);
  CHECK_STR(r.out, "{\"model\":\"echo-1\",\"system\":\"be brief\",\"messages\":"
                   "[{\"role\":\"user\",\"content\":\"hello there\"}]}\n");
}

static void json_prints_one_object_per_event(void)
{
  CHAT("chat", "--json", "-m", "echo-1", "hi");
  CHECK_INT(r.status, ==, 0);
  int texts = 0, usage = 0, done = 0;
  char joined[4096] = "";
  for (char *line = strtok(r.out, "\n"); line; line = strtok(NULL, "\n")) {
    cJSON *o = cJSON_Parse(line);
    CHECK(o != NULL);
    const char *type = cJSON_GetStringValue(cJSON_GetObjectItem(o, "type"));
    if (type && !strcmp(type, "text")) {
      texts++;
      strncat(joined, cJSON_GetStringValue(cJSON_GetObjectItem(o, "text")),
              sizeof joined - strlen(joined) - 1);
    } else if (type && !strcmp(type, "usage")) {
      usage++;
      /* 62 bytes in, 62 out, at 1 and 2 USD per million. */
      CHECK_INT(cJSON_GetObjectItem(o, "output_tokens")->valuedouble, ==, 62);
      double cost = cJSON_GetObjectItem(o, "cost_usd")->valuedouble;
      CHECK(cost > 0.000185 && cost < 0.000187);
    } else if (type && !strcmp(type, "done")) {
      done++;
      CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(o, "stop_reason")),
                "end_turn");
    }
    cJSON_Delete(o);
  }
  CHECK_INT(texts, ==, 16);
  CHECK_INT(usage, ==, 1);
  CHECK_INT(done, ==, 1);
  CHECK_STR(joined,
            "{\"model\":\"echo-1\",\"messages\":[{\"role\":\"user\","
            "\"content\":\"hi\"}]}");
}

static void piped_stdin_is_the_prompt(void)
{
  int in[2];
  CHECK_INT(pipe(in), ==, 0);
  CHECK_INT(write(in[1], "from a pipe\n", 12), ==, 12);
  close(in[1]);
  int saved = dup(0);
  dup2(in[0], 0);
  close(in[0]);
  /* run_portico gives the child /dev/null; run this one by hand. */
  char *bin = getenv("PORTICO_BIN");
  int out[2];
  CHECK_INT(pipe(out), ==, 0);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_addclose(&fa, out[0]);
  char *argv[] = { bin, "--config", config, "--data-dir", dir,
                   "--no-default-plugins", "--plugins", dir, "chat", "-m",
                   "echo-1", NULL };
  pid_t pid;
  CHECK_INT(posix_spawn(&pid, bin, &fa, NULL, argv, NULL), ==, 0);
  posix_spawn_file_actions_destroy(&fa);
  close(out[1]);
  dup2(saved, 0);
  close(saved);
  char buf[4096] = "";
  read_until(out[0], buf, sizeof buf, "}\n", 10000);
  int status;
  waitpid(pid, &status, 0);
  close(out[0]);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  CHECK_CONTAINS(buf, "\"content\":\"from a pipe\\n\"");
}

static void provider_and_model_default_from_config(void)
{
  char *cfg = h_write_config(dir, "return { default_provider = 'test_echo', "
                                  "default_model = 'echo-2' }\n");
  char env_cfg[4200];
  snprintf(env_cfg, sizeof env_cfg, "PORTICO_CONFIG=%s", cfg);
  const char *e[] = { env_cfg, env_data, NULL };
  const char *argv[] = { "--no-default-plugins", "--plugins", dir, "chat",
                         "hi", NULL };
  run_portico(&r, argv, e);
  CHECK_INT(r.status, ==, 0);
  CHECK_CONTAINS(r.out, "\"model\":\"echo-2\"");
  free(cfg);
  /* Put the shared config back for the other cases. */
  free(h_write_config(dir, "return { prices = { ['echo-1'] = { input = 1, "
                           "output = 2 } } }\n"));
}

static void undecided_or_unknown_provider_is_one_clear_line(void)
{
  const char *argv[] = { "--no-default-plugins", "chat", "hi", NULL };
  run_portico(&r, argv, env);
  CHECK_INT(r.status, ==, 1);
  CHECK_CONTAINS(r.err, "which provider? pass --provider NAME");
  CHAT("chat", "-p", "nosuch", "-m", "x", "hi");
  CHECK_INT(r.status, ==, 1);
  CHECK_CONTAINS(r.err, "no provider named 'nosuch' is loaded");
  CHAT("chat", "hi");
  CHECK_INT(r.status, ==, 1);
  CHECK_CONTAINS(r.err, "which model? pass --model MODEL");
}

static void ctrl_c_cancels_the_reply(void)
{
  const char *argv[] = { "--no-default-plugins", "--plugins", dir, "chat",
                         "-m", "echo-1", "hang", NULL };
  int fd;
  pid_t pid = start_portico(argv, env, &fd);
  usleep(300 * 1000); /* the reply is hanging by now */
  kill(pid, SIGINT);
  int status = -1;
  for (int i = 0; i < 500 && waitpid(pid, &status, WNOHANG) == 0; i++)
    usleep(10000);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 130);
  close(fd);
}

static void sigterm_ends_the_reply_and_exits(void)
{
  const char *argv[] = { "--no-default-plugins", "--plugins", dir, "chat",
                         "-m", "echo-1", "hang", NULL };
  int fd;
  pid_t pid = start_portico(argv, env, &fd);
  usleep(300 * 1000);
  kill(pid, SIGTERM);
  int status = -1;
  for (int i = 0; i < 500 && waitpid(pid, &status, WNOHANG) == 0; i++)
    usleep(10000);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 143);
  close(fd);
}

static void the_repl_keeps_the_conversation(void)
{
  const char *argv[] = { getenv("PORTICO_BIN"), "--config", config,
                         "--data-dir", dir, "--no-default-plugins",
                         "--plugins", dir, "chat", "-m", "echo-1", NULL };
  static pty_session t;
  pty_session_start(&t, argv);
  CHECK(pty_session_expect(&t, "> "));
  pty_session_type(&t, "first\r");
  CHECK(pty_session_expect(&t, "\"first\"}]}"));
  CHECK(pty_session_expect(&t, "> "));
  pty_session_type(&t, "second\r");
  /* The second request carries the first exchange. */
  CHECK(pty_session_expect(&t, "\"content\":\"first\"},"
                               "{\"role\":\"assistant\""));
  CHECK(pty_session_expect(&t, "\"second\"}]}"));
  CHECK(pty_session_expect(&t, "> "));
  pty_session_type(&t, "\x04");
  CHECK_INT(pty_session_wait(&t, "the REPL did not leave on Ctrl-D"), ==, 0);
}

static void models_lists_each_providers_models(void)
{
  CHAT("models");
  CHECK_INT(r.status, ==, 0);
  CHECK_CONTAINS(r.out, "test_echo  echo-1");
  CHAT("models", "--json");
  CHECK_CONTAINS(r.out, "\"provider\":\t\"test_echo\"");
}

int main(void)
{
  dir = h_tempdir();
  h_copy_plugin("echo.so", dir, NULL);
  config = h_write_config(dir, "return { prices = { ['echo-1'] = { input = 1, "
                               "output = 2 } } }\n");
  snprintf(env_config, sizeof env_config, "PORTICO_CONFIG=%s", config);
  /* Chats are saved: into a folder of the test's, not the user's. */
  snprintf(env_data, sizeof env_data, "PORTICO_DATA_DIR=%s", dir);
  env[0] = env_config;
  env[1] = env_data;
  env[2] = NULL;
  RUN(a_prompt_streams_the_reply_to_stdout);
  RUN(json_prints_one_object_per_event);
  RUN(piped_stdin_is_the_prompt);
  RUN(provider_and_model_default_from_config);
  RUN(undecided_or_unknown_provider_is_one_clear_line);
  RUN(ctrl_c_cancels_the_reply);
  RUN(sigterm_ends_the_reply_and_exits);
  RUN(the_repl_keeps_the_conversation);
  RUN(models_lists_each_providers_models);
  h_rmtree(dir);
  free(dir);
  free(config);
  return check_report();
}
