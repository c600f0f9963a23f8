/*
 * tests/test_log.c: log lines go to stderr, respect the level, and never
 * show a registered secret.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "log.h"

/* Run fn with stderr captured into buf. */
static void capture(void (*fn)(void), char *buf, size_t cap)
{
  char path[] = "/tmp/portico-test-log-XXXXXX";
  int fd = mkstemp(path);
  int saved = dup(2);
  dup2(fd, 2);
  fn();
  dup2(saved, 2);
  close(saved);
  lseek(fd, 0, SEEK_SET);
  ssize_t n = read(fd, buf, cap - 1);
  buf[n > 0 ? n : 0] = '\0';
  close(fd);
  unlink(path);
}

static void log_secret_lines(void)
{
  pt_log_redact("sk-ant-api03-SECRET", strlen("sk-ant-api03-SECRET"));
  pt_log_redact("abc", 3); /* too short to redact safely: ignored */
  pt_log_error("claude", "request with key %s failed (abc)",
               "sk-ant-api03-SECRET");
  pt_log_error("claude", "twice: %s %s", "sk-ant-api03-SECRET",
               "sk-ant-api03-SECRET");
}

static void registered_secrets_never_reach_the_log(void)
{
  char out[4096];
  pt_log_set_level(PT_LOG_INFO);
  capture(log_secret_lines, out, sizeof out);
  CHECK(strstr(out, "sk-ant-api03-SECRET") == NULL);
  CHECK_CONTAINS(out, "error claude: request with key [redacted] failed (abc)");
  CHECK_CONTAINS(out, "twice: [redacted] [redacted]");
  pt_log_reset();
}

static void log_levels(void)
{
  pt_log_debug("core", "hidden at info");
  pt_log_info("core", "shown at info");
}

static void lines_below_the_level_are_dropped(void)
{
  char out[4096];
  pt_log_set_level(PT_LOG_INFO);
  capture(log_levels, out, sizeof out);
  CHECK(strstr(out, "hidden at info") == NULL);
  CHECK_CONTAINS(out, "info core: shown at info");
}

static void log_long(void)
{
  char big[10000];
  memset(big, 'x', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  pt_log_redact("xxxxxxxxxx", 10);
  pt_log_error("core", "%s", big);
}

static void a_long_line_is_cut_not_overflowed(void)
{
  char out[16384];
  capture(log_long, out, sizeof out);
  CHECK(strlen(out) < 4200);
  CHECK_CONTAINS(out, "[redacted]");
  CHECK(out[strlen(out) - 1] == '\n');
  pt_log_reset();
}

int main(void)
{
  RUN(registered_secrets_never_reach_the_log);
  RUN(lines_below_the_level_are_dropped);
  RUN(a_long_line_is_cut_not_overflowed);
  return check_report();
}
