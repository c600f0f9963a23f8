/*
 * tests/support/serve_proc.c: `portico serve` as a child process (see
 * serve_proc.h).
 *
 * The spawning mirrors run_cmd.c's, which cannot be reused as it stands:
 * its stderr goes either to a pipe the caller must drain or to the test's
 * own stderr, and a long-running server needs it in a file.
 */
#include "serve_proc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static const char ready_prefix[] = "PORTICO_LISTEN_ADDR=";

static long now_ms(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
  struct timespec t = { ms / 1000, (ms % 1000) * 1000000 };
  while (nanosleep(&t, &t) != 0 && errno == EINTR) {
  }
}

/* The inherited environment with `extra` in front; an extra entry hides
 * an inherited one of the same name. The array is malloc'd, the strings
 * borrowed. */
static char **merged_env(const char *const *extra)
{
  size_t n = 0, m = 0;
  while (environ[n]) n++;
  while (extra && extra[m]) m++;
  char **env = calloc(n + m + 1, sizeof *env);
  if (!env) abort();
  size_t k = 0;
  for (size_t i = 0; i < m; i++) env[k++] = (char *)extra[i];
  for (size_t i = 0; i < n; i++) {
    const char *eq = strchr(environ[i], '=');
    size_t len = eq ? (size_t)(eq - environ[i]) + 1 : strlen(environ[i]);
    int shadowed = 0;
    for (size_t j = 0; j < m; j++)
      shadowed |= strncmp(extra[j], environ[i], len) == 0;
    if (!shadowed) env[k++] = environ[i];
  }
  return env;
}

/* Parse "HOST:PORT" into p->addr and p->port; 0, or -1 when malformed. */
static int parse_addr(serve_proc *p, const char *addr)
{
  const char *colon = strrchr(addr, ':');
  if (!colon || colon == addr || strlen(addr) >= sizeof p->addr) return -1;
  char *end;
  long port = strtol(colon + 1, &end, 10);
  if (colon[1] < '0' || colon[1] > '9' || *end || port < 1 || port > 65535)
    return -1;
  memcpy(p->addr, addr, strlen(addr) + 1);
  p->port = (int)port;
  return 0;
}

/* Read stdout a byte at a time, so that nothing past the ready line is
 * taken from the pipe, until the ready line is parsed (0), or the pipe
 * ends, a ready line is malformed or the time runs out (-1, with the
 * reason in `why`). */
static int await_ready(serve_proc *p, int timeout_ms, char *why,
                       size_t why_len)
{
  char line[256];
  size_t len = 0;
  long deadline = now_ms() + timeout_ms;
  for (;;) {
    long left = deadline - now_ms();
    struct pollfd pf = { p->out_fd, POLLIN, 0 };
    int n = poll(&pf, 1, left > 0 ? (int)left : 0);
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) {
      snprintf(why, why_len, "no ready line within %d ms", timeout_ms);
      return -1;
    }
    char c;
    ssize_t got = n < 0 ? -1 : read(p->out_fd, &c, 1);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      snprintf(why, why_len, "stdout ended before the ready line");
      return -1;
    }
    if (c != '\n') {
      /* A line too long for the buffer is no ready line: keep its end
       * only, which is enough to skip it. */
      if (len + 1 >= sizeof line) len = 0;
      line[len++] = c;
      continue;
    }
    line[len] = '\0';
    len = 0;
    if (strncmp(line, ready_prefix, sizeof ready_prefix - 1) != 0) continue;
    if (parse_addr(p, line + sizeof ready_prefix - 1) == 0) return 0;
    snprintf(why, why_len, "malformed ready line \"%.200s\"", line);
    return -1;
  }
}

/* Reap the child when it has exited, waiting for that when `block`.
 * Returns 1 with *status set, 0 while it runs, -1 on error; the pid is
 * forgotten unless 0 is returned. */
static int reap(serve_proc *p, int *status, int block)
{
  for (;;) {
    pid_t r = waitpid(p->pid, status, block ? 0 : WNOHANG);
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) return 0;
    p->pid = -1;
    return r > 0 ? 1 : -1;
  }
}

int serve_start(serve_proc *p, const char *const *argv,
                const char *const *env, int timeout_ms)
{
  *p = (serve_proc){ .pid = -1, .out_fd = -1 };
  const char *bin = getenv("PORTICO_BIN");
  if (!bin) {
    fprintf(stderr, "serve_start: PORTICO_BIN is not set; run through "
                    "ctest\n");
    return -1;
  }
  const char *tmp = getenv("TMPDIR");
  if (!tmp || !*tmp) tmp = "/tmp";
  int n = snprintf(p->err_path, sizeof p->err_path,
                   "%s/portico-serve-XXXXXX.err", tmp);
  if (n < 0 || (size_t)n >= sizeof p->err_path) {
    fprintf(stderr, "serve_start: TMPDIR is too long\n");
    p->err_path[0] = '\0';
    return -1;
  }
  int err_fd = mkostemps(p->err_path, 4, O_CLOEXEC);
  int out[2];
  if (err_fd < 0 || pipe2(out, O_CLOEXEC) != 0) {
    fprintf(stderr, "serve_start: %s: %s\n", p->err_path, strerror(errno));
    if (err_fd >= 0) {
      close(err_fd);
      unlink(p->err_path);
    }
    p->err_path[0] = '\0';
    return -1;
  }

  size_t argc = 0;
  while (argv && argv[argc]) argc++;
  char **args = calloc(argc + 3, sizeof *args);
  if (!args) abort();
  args[0] = (char *)bin;
  args[1] = "serve";
  for (size_t i = 0; i < argc; i++) args[i + 2] = (char *)argv[i];
  char **envp = merged_env(env);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err_fd, 2);
  int rc = posix_spawn(&p->pid, bin, &fa, NULL, args, envp);
  posix_spawn_file_actions_destroy(&fa);
  free(args);
  free(envp);
  close(out[1]);
  close(err_fd);
  p->out_fd = out[0];

  char why[320];
  if (rc != 0) {
    p->pid = -1;
    snprintf(why, sizeof why, "cannot spawn %.200s: %s", bin, strerror(rc));
  } else if (await_ready(p, timeout_ms, why, sizeof why) == 0) {
    return 0;
  }
  if (p->pid > 0) {
    int status;
    kill(p->pid, SIGKILL);
    reap(p, &status, 1);
  }
  char *log = serve_stderr(p);
  fprintf(stderr, "serve_start: %s; its stderr:\n%s%s", why, log,
          *log && log[strlen(log) - 1] != '\n' ? "\n" : "");
  free(log);
  serve_cleanup(p);
  return -1;
}

int serve_stop(serve_proc *p, int sig, int timeout_ms, int *elapsed_ms)
{
  if (elapsed_ms) *elapsed_ms = 0;
  if (p->pid <= 0) return -1;
  long start = now_ms();
  kill(p->pid, sig);
  int status = 0;
  /* Polling every 2 ms keeps the measured time honest to a few ms without
   * needing pidfd_open. */
  for (;;) {
    int r = reap(p, &status, 0);
    if (r != 0) {
      if (elapsed_ms) *elapsed_ms = (int)(now_ms() - start);
      return r > 0 ? status : -1;
    }
    if (now_ms() - start >= timeout_ms) break;
    sleep_ms(2);
  }
  if (elapsed_ms) *elapsed_ms = timeout_ms;
  fprintf(stderr, "serve_stop: pid %ld did not exit within %d ms of signal "
                  "%d; killed\n",
          (long)p->pid, timeout_ms, sig);
  kill(p->pid, SIGKILL);
  reap(p, &status, 1);
  return -1;
}

char *serve_stderr(const serve_proc *p)
{
  size_t len = 0, cap = 4096;
  char *buf = malloc(cap);
  if (!buf) abort();
  FILE *f = p->err_path[0] ? fopen(p->err_path, "rb") : NULL;
  if (f) {
    size_t got;
    while ((got = fread(buf + len, 1, cap - 1 - len, f)) > 0) {
      len += got;
      if (cap - 1 - len == 0) {
        cap *= 2;
        char *b = realloc(buf, cap);
        if (!b) abort();
        buf = b;
      }
    }
    fclose(f);
  }
  buf[len] = '\0';
  return buf;
}

int serve_wait_for_stderr(const serve_proc *p, const char *needle,
                          int timeout_ms)
{
  long deadline = now_ms() + timeout_ms;
  for (;;) {
    char *log = serve_stderr(p);
    int found = strstr(log, needle) != NULL;
    free(log);
    if (found) return 1;
    if (now_ms() >= deadline) return 0;
    sleep_ms(10);
  }
}

void serve_cleanup(serve_proc *p)
{
  if (p->pid > 0) {
    int status;
    kill(p->pid, SIGKILL);
    reap(p, &status, 1);
  }
  if (p->out_fd >= 0) close(p->out_fd);
  p->out_fd = -1;
  if (p->err_path[0]) unlink(p->err_path);
  p->err_path[0] = '\0';
}

long serve_rss_kib(pid_t pid)
{
  char path[64], line[256];
  snprintf(path, sizeof path, "/proc/%ld/status", (long)pid);
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  long kib = -1;
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, "VmRSS:", 6) == 0) {
      kib = strtol(line + 6, NULL, 10);
      break;
    }
  }
  fclose(f);
  return kib;
}
