/*
 * tests/support/run_cmd.c: see run_cmd.h.
 */
#include "run_cmd.h"

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

static char **merged_env(const char *const *extra)
{
  size_t n = 0, m = 0;
  while (environ[n]) n++;
  while (extra && extra[m]) m++;
  char **env = calloc(n + m + 1, sizeof *env);
  size_t k = 0;
  for (size_t i = 0; i < m; i++) env[k++] = (char *)extra[i];
  for (size_t i = 0; i < n; i++) {
    /* An extra entry overrides the inherited one of the same name. */
    const char *eq = strchr(environ[i], '=');
    size_t len = eq ? (size_t)(eq - environ[i]) + 1 : strlen(environ[i]);
    int shadowed = 0;
    for (size_t j = 0; j < m; j++)
      shadowed |= strncmp(extra[j], environ[i], len) == 0;
    if (!shadowed) env[k++] = environ[i];
  }
  return env;
}

static pid_t spawn(const char *const *argv, const char *const *extra,
                   int out_fd, int err_fd)
{
  const char *bin = getenv("PORTICO_BIN");
  if (!bin) {
    fprintf(stderr, "PORTICO_BIN is not set; run through ctest\n");
    abort();
  }
  size_t n = 0;
  while (argv[n]) n++;
  char **args = calloc(n + 2, sizeof *args);
  args[0] = (char *)bin;
  for (size_t i = 0; i < n; i++) args[i + 1] = (char *)argv[i];
  char **env = merged_env(extra);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
  if (err_fd >= 0) posix_spawn_file_actions_adddup2(&fa, err_fd, 2);
  pid_t pid;
  int rc = posix_spawn(&pid, bin, &fa, NULL, args, env);
  posix_spawn_file_actions_destroy(&fa);
  free(args);
  free(env);
  if (rc != 0) {
    fprintf(stderr, "spawn %s: %s\n", bin, strerror(rc));
    abort();
  }
  return pid;
}

void run_portico(cmd_result *r, const char *const *argv,
                 const char *const *env)
{
  int out[2], err[2];
  if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) abort();
  pid_t pid = spawn(argv, env, out[1], err[1]);
  close(out[1]);
  close(err[1]);
  size_t olen = 0, elen = 0;
  struct pollfd p[2] = { { out[0], POLLIN, 0 }, { err[0], POLLIN, 0 } };
  int open_fds = 2;
  while (open_fds > 0) {
    if (poll(p, 2, -1) < 0 && errno != EINTR) break;
    for (int i = 0; i < 2; i++) {
      if (p[i].fd < 0 || !p[i].revents) continue;
      char *buf = i == 0 ? r->out : r->err;
      size_t *len = i == 0 ? &olen : &elen;
      char scratch[4096];
      size_t room = sizeof r->out - 1 - *len;
      ssize_t got = read(p[i].fd, room ? buf + *len : scratch,
                         room ? room : sizeof scratch);
      if (got <= 0) {
        close(p[i].fd);
        p[i].fd = -1;
        open_fds--;
      } else if (room) {
        *len += (size_t)got;
      }
    }
  }
  r->out[olen] = '\0';
  r->err[elen] = '\0';
  int status;
  waitpid(pid, &status, 0);
  r->status = WIFEXITED(status) ? WEXITSTATUS(status)
                                : 128 + WTERMSIG(status);
}

pid_t start_portico(const char *const *argv, const char *const *env,
                    int *out_fd)
{
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) abort();
  pid_t pid = spawn(argv, env, out[1], -1);
  close(out[1]);
  *out_fd = out[0];
  return pid;
}

int read_until(int fd, char *buf, size_t cap, const char *want, int ms)
{
  size_t len = strlen(buf);
  struct timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  while (!strstr(buf, want)) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long spent = (now.tv_sec - start.tv_sec) * 1000 +
                 (now.tv_nsec - start.tv_nsec) / 1000000;
    if (spent >= ms || len + 1 >= cap) return 0;
    struct pollfd p = { fd, POLLIN, 0 };
    if (poll(&p, 1, (int)(ms - spent)) <= 0) continue;
    ssize_t got = read(fd, buf + len, cap - 1 - len);
    if (got <= 0) return 0;
    len += (size_t)got;
    buf[len] = '\0';
  }
  return 1;
}
