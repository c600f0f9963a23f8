/*
 * tests/support/harness.h: temp folders, plugin copies and loop driving for
 * the tests that start a real kernel.
 *
 * Every path returned is malloc'd and owned by the caller unless noted.
 */
#ifndef PT_TEST_HARNESS_H
#define PT_TEST_HARNESS_H

#include <stddef.h>
#include <stdint.h>

#include "kernel.h"

/* A fresh 0755 folder under $TMPDIR (or /tmp); aborts on failure. */
char *h_tempdir(void);

/* rm -rf `dir` (only ever a folder h_tempdir made). */
void h_rmtree(const char *dir);

/* Copy test plugin `name` (e.g. "echo.so") from the build's test plugin
 * folder into `dir`, as `as` (or `name` when NULL). Aborts on failure. */
void h_copy_plugin(const char *name, const char *dir, const char *as);

/* Write `len` bytes to dir/name with `mode`. */
void h_write_file(const char *dir, const char *name, const void *data,
                  size_t len, unsigned mode);

/* Plugin events the kernel reported, one "what name-or-path" per line. */
typedef struct h_events {
  char text[16384];
  size_t len;
  int count;
} h_events;

/* Kernel options that load only from `dir`, report events into `ev`, and
 * read config from `config_path` (NULL: none at all). */
pt_kernel_options h_options(const char **dir, h_events *ev,
                            const char *config_path);

/* Start a kernel or abort with the error. */
pt_kernel *h_kernel(const pt_kernel_options *o);

/* Run k's loop until *flag becomes nonzero or `ms` pass. Returns *flag. */
int h_run_until(pt_kernel *k, const int *flag, uint64_t ms);

/* Milliseconds on a monotonic clock. */
uint64_t h_now_ms(void);

#endif
