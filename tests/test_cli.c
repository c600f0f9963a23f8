/*
 * tests/test_cli.c: the real `portico` binary: version, help, usage errors,
 * plugin listings (bundled and refused), bad configuration, and
 * `plugins watch` loading a plugin dropped in and stopping on SIGTERM.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "check.h"
#include "harness.h"
#include "run_cmd.h"

static cmd_result r;
static char *home; /* an empty XDG home, so the user's own files stay out */
static char env_config[4200], env_data[4200], env_xdg_config[4200];
static const char *isolated_env[4];

static void write_text(const char *path, const char *text)
{
  FILE *f = fopen(path, "w");
  fputs(text, f);
  fclose(f);
}

static void version_prints_version_and_abi(void)
{
  const char *argv[] = { "version", NULL };
  run_portico(&r, argv, isolated_env);
  CHECK_INT(r.status, ==, 0);
  CHECK_CONTAINS(r.out, "portico 0.1.0 (plugin ABI 1.0)");
  const char *json[] = { "version", "--json", NULL };
  run_portico(&r, json, isolated_env);
  CHECK_CONTAINS(r.out, "\"abi_major\":1");
}

static void every_command_has_help(void)
{
  const char *cases[][3] = { { "--help", NULL, NULL },
                             { "plugins", "--help", NULL },
                             { "plugins", "info", "--help" },
                             { "version", "-h", NULL } };
  const char *want[] = { "Commands:", "usage: portico plugins",
                         "usage: portico plugins", "usage: portico version" };
  for (size_t i = 0; i < 4; i++) {
    run_portico(&r, cases[i], isolated_env);
    CHECK_INT(r.status, ==, 0);
    CHECK_CONTAINS(r.out, want[i]);
    CHECK_CONTAINS(r.out, "--plugins DIR");
  }
}

static void wrong_words_are_usage_errors(void)
{
  const char *none[] = { NULL };
  run_portico(&r, none, isolated_env);
  CHECK_INT(r.status, ==, 2);
  const char *unknown[] = { "frobnicate", NULL };
  run_portico(&r, unknown, isolated_env);
  CHECK_INT(r.status, ==, 2);
  CHECK_CONTAINS(r.err, "unknown command 'frobnicate'");
  const char *missing[] = { "plugins", "--plugins", NULL };
  run_portico(&r, missing, isolated_env);
  CHECK_INT(r.status, ==, 2);
  CHECK_CONTAINS(r.err, "--plugins needs a value");
  const char *sub[] = { "plugins", "explode", NULL };
  run_portico(&r, sub, isolated_env);
  CHECK_INT(r.status, ==, 2);
  CHECK_CONTAINS(r.err, "unknown subcommand 'explode'");
}

static void bundled_plugins_are_listed(void)
{
  const char *argv[] = { "plugins", NULL };
  run_portico(&r, argv, isolated_env);
  CHECK_INT(r.status, ==, 0);
  CHECK_CONTAINS(r.out, "4 plugins loaded, 0 refused");
  CHECK_CONTAINS(r.out, "provider claude");
  CHECK_CONTAINS(r.out, "provider openai");
  CHECK_CONTAINS(r.out, "provider ollama");
  CHECK_CONTAINS(r.out, "(ABI 1.0, Apache-2.0)");
}

static void listing_as_json_shows_loaded_and_refused(void)
{
  char *dir = h_tempdir();
  h_copy_plugin("echo.so", dir, NULL);
  h_copy_plugin("bad_too_new_minor.so", dir, NULL);
  const char *argv[] = { "--no-default-plugins", "--plugins", dir, "plugins",
                         "--json", NULL };
  run_portico(&r, argv, isolated_env);
  CHECK_INT(r.status, ==, 0);
  cJSON *doc = cJSON_Parse(r.out);
  CHECK(doc != NULL);
  cJSON *plugins = cJSON_GetObjectItem(doc, "plugins");
  CHECK_INT(cJSON_GetArraySize(plugins), ==, 1);
  cJSON *echo = cJSON_GetArrayItem(plugins, 0);
  CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(echo, "name")), "echo");
  CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(echo, "abi")), "1.0");
  cJSON *prov = cJSON_GetArrayItem(cJSON_GetObjectItem(echo, "providers"), 0);
  CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(prov, "id")),
            "test_echo");
  cJSON *refused = cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "refused"), 0);
  CHECK_CONTAINS(cJSON_GetStringValue(cJSON_GetObjectItem(refused, "reason")),
                 "needs a host with ABI 1.7 or newer");
  cJSON_Delete(doc);

  const char *info[] = { "--no-default-plugins", "--plugins", dir, "plugins",
                         "info", "echo", NULL };
  run_portico(&r, info, isolated_env);
  CHECK_INT(r.status, ==, 0);
  CHECK_CONTAINS(r.out, "provider test_echo");
  const char *missing[] = { "--no-default-plugins", "--plugins", dir,
                            "plugins", "info", "nosuch", NULL };
  run_portico(&r, missing, isolated_env);
  CHECK_INT(r.status, ==, 1);
  CHECK_CONTAINS(r.err, "no plugin named 'nosuch' is loaded");
  const char *refusedinfo[] = { "--no-default-plugins", "--plugins", dir,
                                "plugins", "info", "bad_too_new_minor", NULL };
  run_portico(&r, refusedinfo, isolated_env);
  CHECK_INT(r.status, ==, 1);
  CHECK_CONTAINS(r.err, "is not loaded");
  CHECK_CONTAINS(r.err, "needs a host with ABI 1.7");
  h_rmtree(dir);
  free(dir);
}

static const char *json_name(cJSON *item)
{
  return cJSON_GetStringValue(cJSON_GetObjectItem(item, "name"));
}

static void plugins_are_searched_in_the_documented_order(void)
{
  char *first = h_tempdir(), *env1 = h_tempdir(), *env2 = h_tempdir();
  h_copy_plugin("echo.so", first, NULL);
  h_copy_plugin("probe.so", env1, NULL);
  h_copy_plugin("echo.so", env2, NULL); /* loses to --plugins */
  char user[4200], cmd[4400];
  snprintf(user, sizeof user, "%s/data/portico/plugins", home);
  snprintf(cmd, sizeof cmd, "mkdir -p %s", user);
  CHECK_INT(system(cmd), ==, 0);
  h_copy_plugin("echo_stubborn.so", user, NULL);

  char path_env[9000];
  snprintf(path_env, sizeof path_env, "PORTICO_PLUGIN_PATH=%s:%s", env1, env2);
  const char *env[] = { path_env, env_config, env_data, env_xdg_config, NULL };
  const char *argv[] = { "--plugins", first, "plugins", "--json", NULL };
  run_portico(&r, argv, env);
  CHECK_INT(r.status, ==, 0);
  cJSON *doc = cJSON_Parse(r.out);
  cJSON *path = cJSON_GetObjectItem(doc, "search_path");
  CHECK_STR(cJSON_GetStringValue(cJSON_GetArrayItem(path, 0)), first);
  CHECK_STR(cJSON_GetStringValue(cJSON_GetArrayItem(path, 1)), env1);
  CHECK_STR(cJSON_GetStringValue(cJSON_GetArrayItem(path, 2)), env2);
  CHECK_STR(cJSON_GetStringValue(cJSON_GetArrayItem(path, 3)), user);
  CHECK_CONTAINS(cJSON_GetStringValue(cJSON_GetArrayItem(path, 4)),
                 "lib/portico/plugins");

  cJSON *plugins = cJSON_GetObjectItem(doc, "plugins");
  CHECK_INT(cJSON_GetArraySize(plugins), ==, 7);
  CHECK_STR(json_name(cJSON_GetArrayItem(plugins, 0)), "echo");
  CHECK_STR(json_name(cJSON_GetArrayItem(plugins, 1)), "probe");
  CHECK_STR(json_name(cJSON_GetArrayItem(plugins, 2)), "stubborn");
  CHECK_CONTAINS(cJSON_GetStringValue(cJSON_GetObjectItem(
                     cJSON_GetArrayItem(plugins, 0), "path")),
                 first);
  cJSON *refused = cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "refused"), 0);
  CHECK_CONTAINS(cJSON_GetStringValue(cJSON_GetObjectItem(refused, "path")),
                 env2);
  CHECK_CONTAINS(cJSON_GetStringValue(cJSON_GetObjectItem(refused, "reason")),
                 "a plugin named 'echo' is already loaded from");
  cJSON_Delete(doc);
  snprintf(cmd, sizeof cmd, "rm -rf %s/data", home);
  CHECK_INT(system(cmd), ==, 0);
  h_rmtree(first);
  h_rmtree(env1);
  h_rmtree(env2);
  free(first);
  free(env1);
  free(env2);
}

static void a_broken_config_names_file_and_line(void)
{
  char path[4200];
  snprintf(path, sizeof path, "%s/broken.lua", home);
  write_text(path, "return {\n  default_provider = ,\n}\n");
  const char *argv[] = { "--config", path, "plugins", NULL };
  run_portico(&r, argv, isolated_env);
  CHECK_INT(r.status, ==, 1);
  CHECK_CONTAINS(r.err, "broken.lua:2:");

  const char *missing[] = { "--config", "/nonexistent/portico.lua", "plugins",
                            NULL };
  run_portico(&r, missing, isolated_env);
  CHECK_INT(r.status, ==, 1);
  CHECK_CONTAINS(r.err, "/nonexistent/portico.lua");
}

static void watch_loads_a_dropped_plugin_and_stops_on_sigterm(void)
{
  char *dir = h_tempdir();
  const char *argv[] = { "--no-default-plugins", "--plugins", dir, "plugins",
                         "watch", NULL };
  int fd;
  pid_t pid = start_portico(argv, isolated_env, &fd);
  char buf[8192] = "";
  CHECK(read_until(fd, buf, sizeof buf, "ready: 0 plugins loaded, watching 1",
                   10000));
  h_copy_plugin("echo.so", dir, NULL);
  CHECK(read_until(fd, buf, sizeof buf, "loaded echo 1.0.0 from", 10000));
  char path[4200];
  snprintf(path, sizeof path, "%s/echo.so", dir);
  unlink(path);
  CHECK(read_until(fd, buf, sizeof buf, "unloaded echo", 10000));
  kill(pid, SIGTERM);
  int status = -1;
  for (int i = 0; i < 500 && waitpid(pid, &status, WNOHANG) == 0; i++)
    usleep(10000);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  close(fd);
  h_rmtree(dir);
  free(dir);
}

int main(void)
{
  home = h_tempdir();
  snprintf(env_config, sizeof env_config, "PORTICO_CONFIG=%s/config.lua",
           home);
  snprintf(env_data, sizeof env_data, "XDG_DATA_HOME=%s/data", home);
  snprintf(env_xdg_config, sizeof env_xdg_config, "XDG_CONFIG_HOME=%s", home);
  char cfg[4200];
  snprintf(cfg, sizeof cfg, "%s/config.lua", home);
  write_text(cfg, "return {}\n");
  isolated_env[0] = env_config;
  isolated_env[1] = env_data;
  isolated_env[2] = env_xdg_config;
  isolated_env[3] = NULL;
  unsetenv("PORTICO_PLUGIN_PATH");
  unsetenv("PORTICO_DATA_DIR");

  RUN(version_prints_version_and_abi);
  RUN(every_command_has_help);
  RUN(wrong_words_are_usage_errors);
  RUN(bundled_plugins_are_listed);
  RUN(listing_as_json_shows_loaded_and_refused);
  RUN(plugins_are_searched_in_the_documented_order);
  RUN(a_broken_config_names_file_and_line);
  RUN(watch_loads_a_dropped_plugin_and_stops_on_sigterm);
  h_rmtree(home);
  free(home);
  return check_report();
}
