/*
 * tests/test_provider_check.c: the provider checker shipped in the SDK
 * passes a provider that keeps the completion rules and fails, naming the
 * rule, one that ignores cancel and one that ends a chat twice.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "check.h"
#include "harness.h"

static char out[65536];

/* Run portico-provider-check (beside $PORTICO_BIN) on test plugin `so`. */
static int run_check(const char *so, const char *config)
{
  char cmd[8192];
  const char *bin = getenv("PORTICO_BIN");
  const char *plugins = getenv("PORTICO_TEST_PLUGIN_DIR");
  snprintf(cmd, sizeof cmd,
           "\"$(dirname '%s')/portico-provider-check\" --config '%s' "
           "--timeout-ms 3000 '%s/%s' 2>&1",
           bin, config, plugins, so);
  FILE *p = popen(cmd, "r");
  size_t n = fread(out, 1, sizeof out - 1, p);
  out[n] = '\0';
  int status = pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static char *dir, *config;

static void a_provider_that_keeps_the_rules_passes(void)
{
  CHECK_INT(run_check("echo.so", config), ==, 0);
  CHECK_CONTAINS(out, "ok   cancel_inside_first_event");
  CHECK_CONTAINS(out, "ok   unload_mid_stream");
  CHECK_CONTAINS(out, "9 passed, 0 failed");
}

static void a_provider_that_ignores_cancel_fails(void)
{
  CHECK_INT(run_check("echo_stubborn.so", config), ==, 1);
  CHECK_CONTAINS(out, "FAIL cancel_before_first_byte: ended with stop 1");
  CHECK_CONTAINS(out, "not cancelled");
}

static void a_provider_that_ends_twice_fails(void)
{
  CHECK_INT(run_check("echo_double_done.so", config), ==, 1);
  CHECK_CONTAINS(out, "FAIL completes_once: the plugin called emit/op_done "
                      "after DONE");
}

static void a_file_that_is_no_plugin_fails_to_load(void)
{
  CHECK_INT(run_check("bad_no_entry.so", config), ==, 1);
  CHECK_CONTAINS(out, "FAIL loads: no portico_plugin_v1 symbol");
}

int main(void)
{
  dir = h_tempdir();
  config = h_write_config(dir, "return { default_model = 'echo-1' }\n");
  RUN(a_provider_that_keeps_the_rules_passes);
  RUN(a_provider_that_ignores_cancel_fails);
  RUN(a_provider_that_ends_twice_fails);
  RUN(a_file_that_is_no_plugin_fails_to_load);
  h_rmtree(dir);
  free(dir);
  free(config);
  return check_report();
}
