/*
 * tests/test_cli_sessions.c: saved chats through the real binary:
 * `portico chat` storing (or not, with --no-store) and continuing with
 * --session; `portico sessions list/show/search/export/delete`;
 * `portico usage`; and the store-reading commands on a read-only,
 * damaged or missing file.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "check.h"
#include "harness.h"
#include "run_cmd.h"

static cmd_result r;
static char *plugins, *data, *config;
static char env_config[4200], env_data[4200];
static const char *env[3];
static char first_id[32];

#define RUN_P(...)                                                         \
  do {                                                                     \
    const char *argv_[] = { "--no-default-plugins", "--plugins", plugins,  \
                            __VA_ARGS__, NULL };                           \
    run_portico(&r, argv_, env);                                           \
  } while (0)

static cJSON *out_json(void)
{
  cJSON *j = cJSON_Parse(r.out);
  if (!j) check_fail(__FILE__, __LINE__, "not JSON: %s", r.out);
  return j;
}

static const char *s_of(const cJSON *o, const char *k)
{
  return cJSON_GetStringValue(cJSON_GetObjectItem(o, k));
}

static void nothing_saved_yet_reads_as_empty(void)
{
  RUN_P("sessions");
  CHECK_INT(r.status, ==, 0);
  CHECK_CONTAINS(r.err, "no sessions yet");
  RUN_P("usage", "--json");
  CHECK_INT(r.status, ==, 0);
  CHECK_STR(r.out, "[]\n");
  RUN_P("sessions", "show", "abcd");
  CHECK_INT(r.status, ==, 1);
  CHECK_CONTAINS(r.err, "nothing has been saved yet");
  /* Reading created nothing. */
  char path[4200];
  snprintf(path, sizeof path, "%s/portico.db", data);
  CHECK(access(path, F_OK) != 0);
}

static void every_chat_is_saved_and_listed(void)
{
  RUN_P("chat", "-m", "echo-1", "--system", "be brief", "hello", "world");
  CHECK_INT(r.status, ==, 0);
  RUN_P("sessions", "list", "--json");
  CHECK_INT(r.status, ==, 0);
  cJSON *list = out_json();
  CHECK_INT(cJSON_GetArraySize(list), ==, 1);
  cJSON *s = cJSON_GetArrayItem(list, 0);
  CHECK_STR(s_of(s, "title"), "hello world");
  CHECK_STR(s_of(s, "provider"), "test_echo");
  CHECK_STR(s_of(s, "model"), "echo-1");
  CHECK_STR(s_of(s, "last_turn_status"), "done");
  CHECK_INT(cJSON_GetObjectItem(s, "messages")->valueint, ==, 3);
  CHECK(cJSON_GetObjectItem(s, "cost_usd")->valuedouble > 0);
  snprintf(first_id, sizeof first_id, "%s", s_of(s, "id"));
  cJSON_Delete(list);
  RUN_P("sessions");
  CHECK_CONTAINS(r.out, first_id);
  CHECK_CONTAINS(r.out, "hello world");
  CHECK_CONTAINS(r.out, "done");
}

static void show_prints_the_conversation(void)
{
  char prefix[8];
  snprintf(prefix, sizeof prefix, "%.5s", first_id);
  RUN_P("sessions", "show", prefix);
  CHECK_INT(r.status, ==, 0);
  CHECK_CONTAINS(r.out, "provider test_echo, model echo-1");
  CHECK_CONTAINS(r.out, "[system]\nbe brief");
  CHECK_CONTAINS(r.out, "[user]\nhello world");
  CHECK_CONTAINS(r.out, "[assistant]\n{\"model\":\"echo-1\"");
  RUN_P("sessions", "show", first_id, "--json");
  cJSON *t = out_json();
  cJSON *msgs = cJSON_GetObjectItem(t, "messages");
  CHECK_INT(cJSON_GetArraySize(msgs), ==, 3);
  CHECK_STR(s_of(cJSON_GetArrayItem(msgs, 2), "role"), "assistant");
  CHECK_STR(s_of(cJSON_GetObjectItem(t, "session"), "id"), first_id);
  cJSON_Delete(t);
  RUN_P("sessions", "show", "ffffffffffffffff");
  CHECK_INT(r.status, ==, 1);
  CHECK_CONTAINS(r.err, "no session ffffffffffffffff");
  RUN_P("sessions", "show");
  CHECK_INT(r.status, ==, 2);
  RUN_P("sessions", "frobnicate");
  CHECK_INT(r.status, ==, 2);
}

static void a_session_continues_with_its_history_and_system_prompt(void)
{
  RUN_P("chat", "--session", first_id, "and", "again");
  CHECK_INT(r.status, ==, 0);
  /* The echo shows what was sent: the old turn, the new words, the
   * stored system prompt and model. */
  CHECK_CONTAINS(r.out, "\"model\":\"echo-1\",\"system\":\"be brief\"");
  CHECK_CONTAINS(r.out, "{\"role\":\"user\",\"content\":\"hello world\"},"
                        "{\"role\":\"assistant\",\"content\":\"{\\\"model");
  CHECK_CONTAINS(r.out, "{\"role\":\"user\",\"content\":\"and again\"}]}");
  RUN_P("sessions", "list", "--json");
  cJSON *list = out_json();
  CHECK_INT(cJSON_GetArraySize(list), ==, 1);
  CHECK_INT(cJSON_GetObjectItem(list->child, "turns")->valueint, ==, 2);
  cJSON_Delete(list);
  RUN_P("chat", "--session", "0000", "x");
  CHECK_INT(r.status, ==, 1);
  CHECK_CONTAINS(r.err, "no session 0000");
}

static void no_store_leaves_no_trace(void)
{
  RUN_P("chat", "--no-store", "-m", "echo-1", "unforgettable", "secret");
  CHECK_INT(r.status, ==, 0);
  CHECK_CONTAINS(r.out, "unforgettable secret");
  RUN_P("sessions", "search", "unforgettable");
  CHECK_INT(r.status, ==, 0);
  CHECK_STR(r.out, "");
  RUN_P("chat", "--no-store", "--session", first_id, "x");
  CHECK_INT(r.status, ==, 2);
}

static void search_ranks_snippets_and_takes_any_query(void)
{
  RUN_P("chat", "-m", "echo-1", "the", "zanzibar", "question");
  RUN_P("sessions", "search", "zanzibar");
  CHECK_INT(r.status, ==, 0);
  CHECK_CONTAINS(r.out, "user/text");
  CHECK_CONTAINS(r.out, "[zanzibar]");
  RUN_P("sessions", "search", "zanz*", "--json");
  cJSON *hits = out_json();
  CHECK_INT(cJSON_GetArraySize(hits), ==, 2); /* the question, its echo */
  cJSON_Delete(hits);
  const char *hostile[] = { "\"", "NEAR(a", "(", "*", "a OR", "-x",
                            "col:zanzibar", "\"zanzibar" };
  for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++) {
    RUN_P("sessions", "search", hostile[i], "--json");
    CHECK_INT(r.status, ==, 0);
    cJSON *j = out_json();
    CHECK(cJSON_IsArray(j));
    cJSON_Delete(j);
  }
  RUN_P("sessions", "search");
  CHECK_INT(r.status, ==, 2);
}

static void export_writes_json_and_markdown(void)
{
  RUN_P("sessions", "export", first_id);
  CHECK_INT(r.status, ==, 0);
  cJSON *t = out_json();
  CHECK_INT(cJSON_GetArraySize(cJSON_GetObjectItem(t, "messages")), ==, 5);
  cJSON_Delete(t);
  RUN_P("sessions", "export", first_id, "--format", "markdown");
  CHECK_INT(r.status, ==, 0);
  CHECK_CONTAINS(r.out, "# hello world\n");
  CHECK_CONTAINS(r.out, "## System\n\nbe brief\n");
  CHECK_CONTAINS(r.out, "## User\n\nhello world\n");
  CHECK_CONTAINS(r.out, "## Assistant\n\n{\"model\"");
  RUN_P("sessions", "export", first_id, "--format", "pdf");
  CHECK_INT(r.status, ==, 2);
}

static void usage_adds_up_tokens_and_cost(void)
{
  RUN_P("usage");
  CHECK_INT(r.status, ==, 0);
  CHECK_CONTAINS(r.out, "MODEL");
  CHECK_CONTAINS(r.out, "echo-1");
  CHECK_CONTAINS(r.out, "total");
  RUN_P("usage", "--by", "provider", "--json");
  cJSON *rows = out_json();
  CHECK_INT(cJSON_GetArraySize(rows), ==, 1);
  CHECK_STR(s_of(rows->child, "key"), "test_echo");
  CHECK_INT(cJSON_GetObjectItem(rows->child, "calls")->valueint, ==, 3);
  CHECK(cJSON_GetObjectItem(rows->child, "cost_usd")->valuedouble > 0);
  CHECK_INT(cJSON_GetObjectItem(rows->child, "unpriced_calls")->valueint, ==,
            0);
  cJSON_Delete(rows);
  RUN_P("usage", "--by", "session", "--since", "2000-01-01", "--json");
  rows = out_json();
  CHECK_INT(cJSON_GetArraySize(rows), ==, 2);
  cJSON_Delete(rows);
  RUN_P("usage", "--by", "day", "--since", "2999-01-01T10:00", "--json");
  CHECK_STR(r.out, "[]\n");
  RUN_P("usage", "--since", "yesterday");
  CHECK_INT(r.status, ==, 2);
  CHECK_CONTAINS(r.err, "--since takes YYYY-MM-DD");
  RUN_P("usage", "--by", "color");
  CHECK_INT(r.status, ==, 2);
}

static void a_cancelled_chat_is_kept_as_interrupted(void)
{
  const char *argv[] = { "--no-default-plugins", "--plugins", plugins, "chat",
                         "-m", "echo-1", "hang", "on", NULL };
  int fd;
  pid_t pid = start_portico(argv, env, &fd);
  usleep(400 * 1000);
  kill(pid, SIGINT);
  int status = -1;
  waitpid(pid, &status, 0);
  close(fd);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 130);
  RUN_P("sessions", "list", "--json");
  cJSON *list = out_json();
  cJSON *s = list ? list->child : NULL;
  CHECK_STR(s_of(s, "title"), "hang on");
  CHECK_STR(s_of(s, "last_turn_status"), "interrupted");
  cJSON_Delete(list);
  RUN_P("usage", "--by", "model", "--json");
  CHECK_CONTAINS(r.out, "\"calls\":\t4");
}

static void reading_while_a_chat_streams_works(void)
{
  /* A long reply streaming at 5 ms a fragment. */
  char prompt[2000];
  memset(prompt, 'w', sizeof prompt - 1);
  prompt[sizeof prompt - 1] = '\0';
  const char *argv[] = { "--no-default-plugins", "--plugins", plugins,
                         "chat", "-m", "echo-1", prompt, NULL };
  char slow[4200], *slow_config = NULL;
  slow_config = h_write_config(data, "return { prices = { ['echo-1'] = { "
                                     "input = 1, output = 2 } }, plugins = "
                                     "{ echo = { interval_ms = 5 } } }\n");
  snprintf(slow, sizeof slow, "PORTICO_CONFIG=%s", slow_config);
  const char *slow_env[] = { slow, env_data, NULL };
  int fd;
  pid_t pid = start_portico(argv, slow_env, &fd);
  int reads = 0;
  for (int i = 0; i < 20; i++) {
    usleep(50 * 1000);
    RUN_P("sessions", "list", "--json");
    cJSON *j = cJSON_Parse(r.out);
    reads += r.status == 0 && j != NULL;
    cJSON_Delete(j);
  }
  CHECK_INT(reads, ==, 20);
  RUN_P("sessions", "list", "--json");
  CHECK_CONTAINS(r.out, "\"last_turn_status\":\t\"running\"");
  kill(pid, SIGINT);
  waitpid(pid, NULL, 0);
  close(fd);
  free(slow_config);
}

static void a_damaged_file_is_one_clear_line(void)
{
  char *other = h_tempdir();
  h_write_file(other, "portico.db", "this is not a database at all, sorry",
               36, 0644);
  const char *argv[] = { "--data-dir", other, "sessions", "list", NULL };
  run_portico(&r, argv, NULL);
  CHECK_INT(r.status, ==, 1);
  CHECK_CONTAINS(r.err, "is damaged or is not a portico database");
  const char *chat[] = { "--data-dir", other, "--no-default-plugins",
                         "--plugins", plugins, "chat", "-m", "echo-1", "hi",
                         NULL };
  run_portico(&r, chat, env);
  CHECK_INT(r.status, ==, 1);
  CHECK_CONTAINS(r.err, "pass --no-store to chat without saving");
  CHECK_STR(r.out, "");
  h_rmtree(other);
  free(other);
}

/* Run portico as a user who cannot write `dir` (nobody, when root). */
static int run_unprivileged(const char *const *argv, char *err, size_t cap)
{
  int pipefd[2];
  if (pipe(pipefd) != 0) abort();
  pid_t pid = fork();
  if (pid == 0) {
    if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
      _exit(99);
    dup2(pipefd[1], 2);
    int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, 1);
    close(pipefd[0]);
    const char *bin = getenv("PORTICO_BIN");
    char *args[16] = { (char *)bin };
    for (int i = 0; argv[i] && i < 14; i++) args[i + 1] = (char *)argv[i];
    execv(bin, args);
    _exit(127);
  }
  close(pipefd[1]);
  size_t len = 0;
  ssize_t got;
  while (len + 1 < cap && (got = read(pipefd[0], err + len, cap - 1 - len)) > 0)
    len += (size_t)got;
  err[len] = '\0';
  close(pipefd[0]);
  int status;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static void a_read_only_data_folder_is_read_and_chat_says_why_it_cannot_save(
    void)
{
  char *ro = h_tempdir();
  const char *make[] = { "--data-dir", ro, "--no-default-plugins",
                         "--plugins", plugins, "chat", "-m", "echo-1",
                         "kept safe", NULL };
  run_portico(&r, make, env);
  CHECK_INT(r.status, ==, 0);
  char path[4200];
  snprintf(path, sizeof path, "%s/portico.db", ro);
  chmod(path, 0444);
  chmod(ro, 0555);
  chmod(plugins, 0755);
  char err[8192];
  const char *list[] = { "--config", config, "--data-dir", ro, "sessions",
                         "list", NULL };
  CHECK_INT(run_unprivileged(list, err, sizeof err), ==, 0);
  const char *chat[] = { "--config", config, "--data-dir", ro,
                         "--no-default-plugins", "--plugins", plugins,
                         "chat", "-m", "echo-1", "more", NULL };
  CHECK_INT(run_unprivileged(chat, err, sizeof err), ==, 1);
  CHECK_CONTAINS(err, "is read-only");
  CHECK_CONTAINS(err, "--no-store");
  chmod(ro, 0755);
  chmod(path, 0644);
  const char *search[] = { "--data-dir", ro, "sessions", "search", "safe",
                           "--json", NULL };
  run_portico(&r, search, NULL);
  CHECK_CONTAINS(r.out, "[safe]");
  h_rmtree(ro);
  free(ro);
}

static void deleting_a_session_keeps_its_usage(void)
{
  RUN_P("sessions", "delete", first_id);
  CHECK_INT(r.status, ==, 0);
  CHECK_CONTAINS(r.out, "deleted session");
  RUN_P("sessions", "show", first_id);
  CHECK_INT(r.status, ==, 1);
  RUN_P("sessions", "search", "hello", "--json");
  CHECK_STR(r.out, "[]\n");
  RUN_P("usage", "--by", "session", "--json");
  CHECK_CONTAINS(r.out, "(deleted)");
  RUN_P("sessions", "delete", first_id);
  CHECK_INT(r.status, ==, 1);
}

int main(void)
{
  signal(SIGPIPE, SIG_IGN);
  plugins = h_tempdir();
  data = h_tempdir();
  h_copy_plugin("echo.so", plugins, NULL);
  config = h_write_config(plugins, "return { prices = { ['echo-1'] = "
                                         "{ input = 1, output = 2 } } }\n");
  snprintf(env_config, sizeof env_config, "PORTICO_CONFIG=%s", config);
  snprintf(env_data, sizeof env_data, "PORTICO_DATA_DIR=%s", data);
  env[0] = env_config;
  env[1] = env_data;
  RUN(nothing_saved_yet_reads_as_empty);
  RUN(every_chat_is_saved_and_listed);
  RUN(show_prints_the_conversation);
  RUN(a_session_continues_with_its_history_and_system_prompt);
  RUN(no_store_leaves_no_trace);
  RUN(search_ranks_snippets_and_takes_any_query);
  RUN(export_writes_json_and_markdown);
  RUN(usage_adds_up_tokens_and_cost);
  RUN(a_cancelled_chat_is_kept_as_interrupted);
  RUN(reading_while_a_chat_streams_works);
  RUN(a_damaged_file_is_one_clear_line);
  RUN(a_read_only_data_folder_is_read_and_chat_says_why_it_cannot_save);
  RUN(deleting_a_session_keeps_its_usage);
  h_rmtree(plugins);
  h_rmtree(data);
  free(plugins);
  free(data);
  free(config);
  return check_report();
}
