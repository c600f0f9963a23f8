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

/* Copy bundled plugin `name` (e.g. "claude.so") from the build's bundled
 * plugin folder into `dir`. Aborts on failure. */
void h_copy_bundled(const char *name, const char *dir);

/* Write dir/config.lua with `lua` as its text; returns its path (caller
 * frees). */
char *h_write_config(const char *dir, const char *lua);

/* Write `len` bytes to dir/name with `mode`. */
void h_write_file(const char *dir, const char *name, const void *data,
                  size_t len, unsigned mode);

/* One integer read from the SQLite file at `db_path` through a connection
 * of its own (what another process would see): the first column of the
 * first row of `sql`, or -1 (said on stderr) when there is none. */
long long h_db_int(const char *db_path, const char *sql);

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

/* A kernel over a fresh plugin folder: the common shape of a test case.
 * Lives where the test put it (the options point into it). */
typedef struct h_fixture {
  char *dir;               /* owned temp folder holding the plugins */
  const char *dirs[1];
  h_events ev;
  pt_kernel_options o;
  pt_kernel *k;
} h_fixture;

/* Copy the NULL-terminated list of test plugins (may be NULL) into a new
 * folder, f->dir, where the test may add more before booting. */
void h_fixture_prepare(h_fixture *f, const char *const *plugins);

/* Start a kernel on f->dir (watching it when `watch`), with `config_path`
 * (NULL: an empty config). */
void h_fixture_boot(h_fixture *f, int watch, const char *config_path);

/* h_fixture_prepare, then h_fixture_boot. */
void h_fixture_start(h_fixture *f, const char *const *plugins, int watch,
                     const char *config_path);

/* Free the kernel (stopping what runs), the folder and the fixture. */
void h_fixture_stop(h_fixture *f);

/* What one chat reported: the text, the usage, and its one DONE. */
typedef struct h_chat {
  char text[4096];
  size_t len;
  int done;
  int32_t status;
  uint32_t stop;
  uint64_t out_tokens;
  h_events *trace;   /* when set, "done <ERRNAME>" is appended there */
} h_chat;

/* A tool call's or model listing's completion. */
typedef struct h_tool {
  int done;
  int32_t status;
  char result[4096];
  h_events *trace;   /* when set, "done <ERRNAME>" is appended there */
} h_tool;

/* Sinks for pt_op_chat / pt_op_tool that record into an h_chat / h_tool. */
void h_on_chat_event(void *ud, const pt_chat_event *ev);
void h_on_tool_done(void *ud, int32_t status, pt_str result);

/* Run k's loop until *flag becomes nonzero or `ms` pass. Returns *flag. */
int h_run_until(pt_kernel *k, const int *flag, uint64_t ms);

/* Milliseconds on a monotonic clock. */
uint64_t h_now_ms(void);

#endif
