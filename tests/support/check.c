/* tests/support/check.c: see check.h. */
#include "check.h"

#include <stdarg.h>
#include <stdlib.h>

int check_case_failed;
static int passed, failed;
static const char *current = "?";

void check_fail(const char *file, int line, const char *fmt, ...)
{
  va_list ap;
  fprintf(stderr, "FAIL %s (%s:%d): ", current, file, line);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  check_case_failed = 1;
}

void check_run(const char *name, void (*fn)(void))
{
  current = name;
  check_case_failed = 0;
  fn();
  if (check_case_failed) {
    failed++;
  } else {
    passed++;
    fprintf(stderr, "ok   %s\n", name);
  }
}

int check_report(void)
{
  printf("%d passed, %d failed\n", passed, failed);
  fflush(stdout);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
