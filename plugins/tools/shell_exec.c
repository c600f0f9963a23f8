/*
 * plugins/tools/shell_exec.c: shell_exec, one `/bin/sh -c COMMAND` in the
 * workspace.
 *
 * The command runs in a session (and so a process group) of its own, with
 * stdin on /dev/null, stdout and stderr on one pipe, and an environment
 * without secrets. A pool thread waits for it with poll() on the pipe, the
 * job's wake pipe (cancel) and a pidfd (exit), and enforces the timeout.
 * When the command ends, times out or is cancelled, every process still in
 * its group is stopped: SIGTERM, then SIGKILL after a grace period. The
 * shell itself is reaped only after that, because while it is an unreaped
 * zombie its pid, which is the group's id, cannot be reused by anyone, so
 * the signals cannot reach a stranger. Processes that leave the group
 * (setsid, a daemon) are beyond this reach.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tools.h"

extern char **environ;

/* Output kept: the first TOOLS_SHELL_HEAD bytes and a ring of the last
 * TOOLS_SHELL_TAIL, so a long build log still shows its start and its end. */
typedef struct capture {
  char head[TOOLS_SHELL_HEAD];
  size_t head_len;
  char tail[TOOLS_SHELL_TAIL];
  size_t tail_pos;               /* where the next tail byte goes */
  unsigned long long tail_total; /* bytes that went to the ring */
} capture;

static void capture_add(capture *c, const char *p, size_t n)
{
  size_t h = TOOLS_SHELL_HEAD - c->head_len;
  if (h > n) h = n;
  memcpy(c->head + c->head_len, p, h);
  c->head_len += h;
  p += h;
  n -= h;
  c->tail_total += n;
  while (n) {
    size_t k = TOOLS_SHELL_TAIL - c->tail_pos;
    if (k > n) k = n;
    memcpy(c->tail + c->tail_pos, p, k);
    c->tail_pos = (c->tail_pos + k) % TOOLS_SHELL_TAIL;
    p += k;
    n -= k;
  }
}

/* Read what the pipe holds now. Returns 1 at end of file. */
static int drain(int fd, capture *c)
{
  char buf[16384];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n > 0) {
      capture_add(c, buf, (size_t)n);
    } else if (n == 0) {
      return 1;
    } else if (errno != EINTR) {
      return errno != EAGAIN;
    }
  }
}

static uint64_t now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Whether a name looks like it holds a secret (docs/tools.md has the
 * rule): it contains one of these words, in any case. */
static int secret_name(const char *entry)
{
  static const char *const WORDS[] = { "KEY",    "TOKEN",  "SECRET",
                                       "PASSWORD", "PASSWD", "CREDENTIAL" };
  size_t n = strcspn(entry, "=");
  for (size_t w = 0; w < sizeof WORDS / sizeof WORDS[0]; w++) {
    size_t wl = strlen(WORDS[w]);
    for (size_t i = 0; i + wl <= n; i++)
      if (strncasecmp(entry + i, WORDS[w], wl) == 0) return 1;
  }
  /* The host's working folder is not the command's. */
  return (n == 3 && strncmp(entry, "PWD", 3) == 0) ||
         (n == 6 && strncmp(entry, "OLDPWD", 6) == 0);
}

/* The environment for the command: the host's, without secrets. The array
 * is malloc'd; its strings are the host's. */
static char **clean_env(void)
{
  size_t n = 0;
  while (environ && environ[n]) n++;
  char **env = malloc((n + 1) * sizeof *env);
  if (!env) return NULL;
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    if (!secret_name(environ[i])) env[k++] = environ[i];
  env[k] = NULL;
  return env;
}

static pid_t spawn(tool_job *j, const char *command, int out, int *err)
{
  posix_spawnattr_t attr;
  posix_spawn_file_actions_t fa;
  sigset_t none, all;
  char **env = clean_env();
  char *argv[] = { "/bin/sh", "-c", (char *)command, NULL };
  pid_t pid = -1;
  if (!env) {
    *err = ENOMEM;
    return -1;
  }
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_init(&attr);
  posix_spawn_file_actions_init(&fa);
  /* A session of its own: its own process group to signal as a whole,
   * and no controlling terminal to read a password from. Signals back to
   * their defaults: the host ignores SIGPIPE, which a child must not
   * inherit. */
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK |
                                      POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, out, 1);
  posix_spawn_file_actions_adddup2(&fa, out, 2);
  posix_spawn_file_actions_addfchdir_np(&fa, j->ws.fd);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 34)
  /* Descriptors the host opened without O_CLOEXEC stay out too. */
  posix_spawn_file_actions_addclosefrom_np(&fa, 3);
#endif
  *err = posix_spawn(&pid, "/bin/sh", &fa, &attr, argv, env);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  free(env);
  return *err ? -1 : pid;
}

static int leader_exited(pid_t pid)
{
  siginfo_t si;
  memset(&si, 0, sizeof si);
  return waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
         si.si_pid == pid;
}

/* 1 when a process of group `pgid` is alive (zombies do not count), 0 when
 * none is, -1 when /proc cannot tell. */
static int group_alive(pid_t pgid)
{
  DIR *d = opendir("/proc");
  if (!d) return -1;
  int alive = 0;
  struct dirent *de;
  while (!alive && (de = readdir(d))) {
    if (de->d_name[0] < '1' || de->d_name[0] > '9') continue;
    char path[64], line[512];
    snprintf(path, sizeof path, "/proc/%.20s/stat", de->d_name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    ssize_t n = read(fd, line, sizeof line - 1);
    close(fd);
    if (n <= 0) continue;
    line[n] = '\0';
    /* "pid (comm) state ppid pgrp ...": comm may hold anything, even ')'. */
    const char *p = strrchr(line, ')');
    char state;
    int ppid, pgrp;
    if (p && sscanf(p + 1, " %c %d %d", &state, &ppid, &pgrp) == 3 &&
        pgrp == pgid && state != 'Z' && state != 'X')
      alive = 1;
  }
  closedir(d);
  return alive;
}

/* SIGTERM to the whole group; up to the grace period for it to go
 * (reading output meanwhile, so no one is stuck writing to a full pipe);
 * then SIGKILL to whatever is left. The leader is not reaped here. */
static void stop_group(pid_t pid, int out, int *eof, capture *c)
{
  kill(-pid, SIGTERM);
  uint64_t until = now_ms() + TOOLS_SHELL_GRACE_MS;
  for (;;) {
    int alive = group_alive(pid);
    if (alive == 0 || (alive < 0 && leader_exited(pid))) break;
    if (now_ms() >= until) break;
    struct pollfd p = { .fd = *eof ? -1 : out, .events = POLLIN };
    if (poll(&p, 1, 20) > 0) *eof = drain(out, c);
  }
  kill(-pid, SIGKILL);
}

static const char *signal_name(int sig)
{
  static const struct { int sig; const char *name; } NAMES[] = {
    { SIGHUP, "SIGHUP" },   { SIGINT, "SIGINT" },   { SIGQUIT, "SIGQUIT" },
    { SIGILL, "SIGILL" },   { SIGTRAP, "SIGTRAP" }, { SIGABRT, "SIGABRT" },
    { SIGBUS, "SIGBUS" },   { SIGFPE, "SIGFPE" },   { SIGKILL, "SIGKILL" },
    { SIGUSR1, "SIGUSR1" }, { SIGSEGV, "SIGSEGV" }, { SIGUSR2, "SIGUSR2" },
    { SIGPIPE, "SIGPIPE" }, { SIGALRM, "SIGALRM" }, { SIGTERM, "SIGTERM" },
    { SIGXCPU, "SIGXCPU" }, { SIGXFSZ, "SIGXFSZ" }, { SIGSYS, "SIGSYS" },
  };
  for (size_t i = 0; i < sizeof NAMES / sizeof NAMES[0]; i++)
    if (NAMES[i].sig == sig) return NAMES[i].name;
  return "a signal";
}

typedef struct outcome {
  int cancelled, timed_out, leftovers, status;
  long long timeout_s;
} outcome;

static void report(tool_job *j, const capture *c, const outcome *o)
{
  tbuf out = { 0 };
  unsigned long long left_out =
      c->tail_total > TOOLS_SHELL_TAIL ? c->tail_total - TOOLS_SHELL_TAIL : 0;
  if (!left_out) {
    tb_add_text(&out, c->head, c->head_len);
    tb_add_text(&out, c->tail, (size_t)c->tail_total);
  } else {
    size_t keep = c->head_len; /* the head may end inside a character */
    for (size_t i = keep > 3 ? keep - 3 : 0; i < keep; i++) {
      if (utf8_char_len((const unsigned char *)c->head + i, keep - i) < 0) {
        keep = i;
        break;
      }
    }
    tb_add_text(&out, c->head, keep);
    tb_addf(&out, "\n[... %llu bytes of output left out here; redirect the "
            "output to a file and read it with fs_read or fs_grep to see all "
            "of it ...]\n", left_out);
    size_t skip = 0; /* the ring's oldest byte may be inside a character */
    while (skip < 3 &&
           ((unsigned char)c->tail[(c->tail_pos + skip) % TOOLS_SHELL_TAIL] &
            0xC0) == 0x80)
      skip++;
    size_t first = c->tail_pos + skip;
    tb_add_text(&out, c->tail + first, TOOLS_SHELL_TAIL - first);
    tb_add_text(&out, c->tail, c->tail_pos);
  }
  if (c->head_len == 0) tb_adds(&out, "(no output)");
  if (out.len && out.p[out.len - 1] != '\n') tb_add(&out, "\n", 1);
  int sig = WIFSIGNALED(o->status) ? WTERMSIG(o->status) : 0;
  if (o->timed_out)
    tb_addf(&out, "[timed out after %lld s; the command and every process it "
            "started were stopped]\n", o->timeout_s);
  else if (o->cancelled)
    tb_adds(&out, "[cancelled; the command and every process it started "
            "were stopped]\n");
  else if (sig)
    tb_addf(&out, "[killed by signal %d (%s)]\n", sig, signal_name(sig));
  else
    tb_addf(&out, "[exit code %d]\n", WEXITSTATUS(o->status));
  if (o->leftovers)
    tb_adds(&out, "[processes the command left running in the background "
            "were stopped]\n");
  if (out.oom) {
    j->res.oom = 1;
  } else {
    result_content(&j->res, tb_str(&out));
    if (o->timed_out || o->cancelled) result_bool(&j->res, "is_error", 1);
  }
  tb_free(&out);
  if (sig || o->timed_out || o->cancelled)
    result_str(&j->res, "exit_code", NULL);
  else
    result_num(&j->res, "exit_code", WEXITSTATUS(o->status));
  result_str(&j->res, "signal", sig ? signal_name(sig) : NULL);
  result_bool(&j->res, "timed_out", o->timed_out);
  result_bool(&j->res, "truncated", left_out > 0);
  result_num(&j->res, "output_bytes", (double)(c->head_len + c->tail_total));
}

/* Wait for the command to end, be cancelled or time out, reading its
 * output all the while. */
static void supervise(tool_job *j, pid_t pid, int out, capture *c,
                      outcome *o)
{
#ifdef SYS_pidfd_open
  int pidfd = (int)syscall(SYS_pidfd_open, pid, 0); /* -1: poll by tick */
#else
  int pidfd = -1;
#endif
  uint64_t deadline = now_ms() + (uint64_t)o->timeout_s * 1000;
  int eof = 0;
  for (;;) {
    struct pollfd p[3] = {
      { .fd = j->wake[0], .events = POLLIN },
      { .fd = eof ? -1 : out, .events = POLLIN },
      { .fd = pidfd, .events = POLLIN },
    };
    uint64_t now = now_ms();
    if (now >= deadline) {
      o->timed_out = 1;
      break;
    }
    uint64_t wait = deadline - now;
    if (pidfd < 0 && wait > 50) wait = 50;
    poll(p, 3, (int)(wait > 60000 ? 60000 : wait));
    if (p[1].revents) eof = drain(out, c);
    if (p[0].revents || job_cancelled(j)) {
      o->cancelled = 1;
      break;
    }
    if ((pidfd < 0 || p[2].revents) && leader_exited(pid)) break;
  }
  if (pidfd >= 0) close(pidfd);
  if (o->cancelled || o->timed_out) {
    stop_group(pid, out, &eof, c);
  } else {
    if (!eof) eof = drain(out, c);
    int alive = group_alive(pid);
    o->leftovers = alive > 0;
    if (alive != 0) stop_group(pid, out, &eof, c);
  }
  /* Everything in the group is gone, so the pipe ends soon, unless a
   * process that left the group holds it: read on for a little while. */
  for (uint64_t until = now_ms() + 500; !eof && now_ms() < until;) {
    struct pollfd p = { .fd = out, .events = POLLIN };
    if (poll(&p, 1, 50) > 0) eof = drain(out, c);
  }
  while (waitpid(pid, &o->status, 0) < 0 && errno == EINTR) {
  }
}

static void shell_exec_run(tool_job *j)
{
  const char *command;
  outcome o = { 0 };
  if (arg_string(j->args, &j->res, "command", 1, &command) < 0 ||
      arg_int(j->args, &j->res, "timeout_seconds", TOOLS_SHELL_TIMEOUT_S, 1,
              TOOLS_SHELL_TIMEOUT_MAX_S, &o.timeout_s) < 0)
    return;
  if (!*command) {
    result_error(&j->res, "the command is empty");
    return;
  }
  int pipefd[2];
  capture *c = calloc(1, sizeof *c);
  if (!c) {
    j->res.oom = 1;
    return;
  }
  if (pipe2(pipefd, O_CLOEXEC) != 0) {
    result_error(&j->res, "could not start /bin/sh: no pipe for its output "
                 "(%s)", strerror(errno));
    free(c);
    return;
  }
  int err;
  pid_t pid = spawn(j, command, pipefd[1], &err);
  close(pipefd[1]);
  fcntl(pipefd[0], F_SETFL, O_NONBLOCK);
  if (pid < 0) {
    result_error(&j->res, "could not start /bin/sh: %s", strerror(err));
  } else {
    supervise(j, pid, pipefd[0], c, &o);
    report(j, c, &o);
    if (o.cancelled) j->status = PT_ECANCELED;
  }
  close(pipefd[0]);
  free(c);
}

const tool_def tool_shell_exec = {
  .vt = {
    .struct_size = sizeof(pt_tool_vt),
    /* A command can do anything; the policy is told so. */
    .flags = PT_TOOL_EXECUTES | PT_TOOL_READS | PT_TOOL_WRITES |
             PT_TOOL_NETWORK,
    .name = "shell_exec",
    .description =
        "Run a command with /bin/sh -c in the workspace folder and return "
        "its output (stdout and stderr together, in order) and exit code. "
        "stdin is empty, there is no terminal, and environment variables "
        "that look like secrets are removed. The command is stopped after "
        "timeout_seconds (default 120, at most 600), together with every "
        "process it started; background processes still running when it "
        "ends are stopped too. Output beyond 32 KB is cut in the middle "
        "(the first 8 KB and the last 24 KB are kept): redirect long "
        "output to a file and read it with fs_read or fs_grep. Prefer the "
        "fs_* tools for reading, searching and editing files.",
    .input_schema =
        "{\"type\":\"object\",\"properties\":{"
        "\"command\":{\"type\":\"string\",\"minLength\":1,\"description\":"
        "\"The shell command line\"},"
        "\"timeout_seconds\":{\"type\":\"integer\",\"minimum\":1,"
        "\"maximum\":600,\"description\":\"Stop the command after this "
        "many seconds; default 120\"}},"
        "\"required\":[\"command\"],\"additionalProperties\":false}",
    .invoke = tools_job_invoke,
    .cancel = tools_job_cancel,
  },
  .run = shell_exec_run,
  .workspace = 1,
  .wakeable = 1,
};
