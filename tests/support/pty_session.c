/*
 * tests/support/pty_session.c: see pty_session.h.
 */
#include "pty_session.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "harness.h"

void pty_session_start(pty_session *s, const char *const *argv)
{
  s->out[0] = '\0';
  s->mark = 0;
  s->master = posix_openpt(O_RDWR | O_NOCTTY);
  CHECK(s->master >= 0);
  grantpt(s->master);
  unlockpt(s->master);
  const char *slave_name = ptsname(s->master);
  s->pid = fork();
  if (s->pid == 0) {
    /* A new session, so the first terminal it opens becomes its own. */
    setsid();
    int slave = open(slave_name, O_RDWR);
    dup2(slave, 0);
    dup2(slave, 1);
    dup2(slave, 2);
    close(s->master);
    execv(argv[0], (char *const *)argv);
    _exit(127);
  }
}

/* Append what the terminal has within `ms` to out, or drop it once out is
 * full (a command blocked on a full terminal would never exit); -1 when the
 * terminal closed. */
static int read_some(pty_session *s, int ms)
{
  char scratch[1024];
  size_t len = strlen(s->out), room = sizeof s->out - 1 - len;
  struct pollfd p = { s->master, POLLIN, 0 };
  if (poll(&p, 1, ms) <= 0) return 0;
  ssize_t got = read(s->master, room ? s->out + len : scratch,
                     room ? room : sizeof scratch);
  if (got <= 0) return -1;
  if (room) s->out[len + (size_t)got] = '\0';
  return 1;
}

int pty_session_expect(pty_session *s, const char *want)
{
  uint64_t t0 = h_now_ms();
  for (;;) {
    char *hit = strstr(s->out + s->mark, want);
    if (hit) {
      s->mark = (size_t)(hit - s->out) + strlen(want);
      return 1;
    }
    if (strlen(s->out) + 1 >= sizeof s->out || h_now_ms() - t0 > 10000)
      return 0;
    if (read_some(s, 100) < 0) return 0;
  }
}

void pty_session_type(pty_session *s, const char *text)
{
  usleep(150 * 1000);
  CHECK_INT(write(s->master, text, strlen(text)), ==,
            (long long)strlen(text));
}

int pty_session_wait(pty_session *s, const char *what)
{
  int status = -1;
  for (int i = 0; i < 1000 && waitpid(s->pid, &status, WNOHANG) == 0; i++)
    if (read_some(s, 10) < 0) usleep(10000);
  if (status == -1) {
    kill(s->pid, SIGKILL);
    waitpid(s->pid, &status, 0);
    fprintf(stderr, "  %s; it printed:\n%s\n", what, s->out);
  }
  close(s->master);
  s->master = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}
