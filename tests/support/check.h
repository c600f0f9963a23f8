/*
 * tests/support/check.h: the assertions and runner every test program uses.
 *
 * A failed CHECK prints file, line and the expression, marks the current case
 * failed, and carries on, so one run shows every broken behaviour. RUN()
 * runs one case; check_report() prints "N passed, N failed" and returns the
 * process exit code.
 */
#ifndef PT_TEST_CHECK_H
#define PT_TEST_CHECK_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

extern int check_case_failed;

void check_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void check_run(const char *name, void (*fn)(void));
int check_report(void);

#define CHECK(cond)                                                          \
  do {                                                                       \
    if (!(cond)) check_fail(__FILE__, __LINE__, "CHECK(%s)", #cond);         \
  } while (0)

#define CHECK_INT(a, op, b)                                                  \
  do {                                                                       \
    long long check_a_ = (long long)(a), check_b_ = (long long)(b);          \
    if (!(check_a_ op check_b_))                                             \
      check_fail(__FILE__, __LINE__, "%s %s %s (%lld vs %lld)", #a, #op, #b, \
                 check_a_, check_b_);                                        \
  } while (0)

#define CHECK_STR(a, b)                                                      \
  do {                                                                       \
    const char *check_a_ = (a), *check_b_ = (b);                             \
    if (!check_a_ || !check_b_ || strcmp(check_a_, check_b_) != 0)          \
      check_fail(__FILE__, __LINE__, "%s == %s (\"%s\" vs \"%s\")", #a, #b,  \
                 check_a_ ? check_a_ : "(null)",                             \
                 check_b_ ? check_b_ : "(null)");                            \
  } while (0)

#define CHECK_CONTAINS(hay, needle)                                          \
  do {                                                                       \
    const char *check_h_ = (hay), *check_n_ = (needle);                      \
    if (!check_h_ || !strstr(check_h_, check_n_))                            \
      check_fail(__FILE__, __LINE__, "%s contains \"%s\" (got \"%s\")",      \
                 #hay, check_n_, check_h_ ? check_h_ : "(null)");            \
  } while (0)

#define RUN(fn) check_run(#fn, fn)

#endif
