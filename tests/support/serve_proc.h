/*
 * tests/support/serve_proc.h: run the real binary as `portico serve` in the
 * background, learn its address from its ready line, stop it with a signal
 * and read what it said on stderr.
 *
 * The child's stdin is /dev/null, its stdout a pipe the test keeps, its
 * stderr a temp file, so that a test can read the log at any time without
 * having to drain a pipe. Nothing here aborts or CHECKs: failures are
 * return values, explained on stderr.
 */
#ifndef PT_TEST_SERVE_PROC_H
#define PT_TEST_SERVE_PROC_H

#include <sys/types.h>

typedef struct serve_proc {
  pid_t pid;           /* -1 once reaped */
  int port;            /* from the ready line */
  char addr[64];       /* "HOST:PORT" as the ready line gave it */
  int out_fd;          /* the child's stdout (read end), just past the
                          ready line; -1 once closed. Nothing drains it: a
                          child that writes a pipe's worth (64 KiB) more
                          blocks until the test reads. */
  char err_path[512];  /* the child's stderr goes to this file */
} serve_proc;

/*
 * Start `$PORTICO_BIN serve ARGV...` (`argv` NULL-terminated, without
 * "serve"; may be NULL) with the extra environment entries `env`
 * ("NAME=value", NULL-terminated, may be NULL) over the inherited one, an
 * entry there replacing an inherited one of the same name. Waits up to
 * `timeout_ms` for a line "PORTICO_LISTEN_ADDR=HOST:PORT" on stdout; other
 * lines before it are skipped.
 *
 * Returns 0 with `p` filled: stop it with serve_stop, then release it with
 * serve_cleanup. Returns -1 when the binary could not start, exited, wrote
 * a malformed ready line or stayed silent past `timeout_ms`; then the child
 * is killed and reaped, its stderr is copied to the test's stderr, the temp
 * file is removed and `p` holds nothing to release.
 */
int serve_start(serve_proc *p, const char *const *argv,
                const char *const *env, int timeout_ms);

/*
 * Send `sig` to the child and wait up to `timeout_ms` for it to exit.
 * Returns its wait status (as from waitpid: use WIFEXITED and friends), or
 * -1 when it did not exit in time, after which it is killed with SIGKILL
 * and reaped. *elapsed_ms (may be NULL) gets the milliseconds from the
 * signal to the exit (the whole timeout when it did not exit). Returns -1
 * at once when the child was already reaped.
 */
int serve_stop(serve_proc *p, int sig, int timeout_ms, int *elapsed_ms);

/* Everything the child wrote to stderr so far, malloc'd and
 * NUL-terminated ("" when nothing or the file is gone); the caller frees. */
char *serve_stderr(const serve_proc *p);

/* Poll the child's stderr until it contains `needle` or `timeout_ms` pass.
 * Returns 1 when found, 0 otherwise. */
int serve_wait_for_stderr(const serve_proc *p, const char *needle,
                          int timeout_ms);

/* Close the stdout pipe and remove the stderr file. Call after serve_stop;
 * a child still running is killed and reaped first. Safe to call twice. */
void serve_cleanup(serve_proc *p);

/* The resident set size (VmRSS) of `pid` in KiB from /proc, or -1. */
long serve_rss_kib(pid_t pid);

#endif
