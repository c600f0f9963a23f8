/*
 * tests/support/acp_client.c: see acp_client.h.
 */
#include "acp_client.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

void ac_start(ac_client *c, const char *const *argv, const char *const *env)
{
  int in[2], out[2];
  const char *bin = getenv("PORTICO_BIN");
  if (!bin || pipe(in) != 0 || pipe(out) != 0) {
    fprintf(stderr, "ac_start: no PORTICO_BIN or no pipe\n");
    abort();
  }
  memset(c, 0, sizeof *c);
  c->seen = cJSON_CreateArray();
  signal(SIGPIPE, SIG_IGN);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(in[0], 0);
    dup2(out[1], 1);
    close(in[0]);
    close(in[1]);
    close(out[0]);
    close(out[1]);
    for (const char *const *e = env; e && *e; e++) putenv((char *)*e);
    const char *args[64] = { bin };
    int n = 1;
    for (const char *const *a = argv; *a && n < 63; a++) args[n++] = *a;
    args[n] = NULL;
    execv(bin, (char *const *)args);
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  c->pid = pid;
  c->in = in[1];
  c->out = out[0];
}

void ac_send(ac_client *c, const char *fmt, ...)
{
  char line[65536];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof line - 1, fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= sizeof line - 1) abort();
  line[n++] = '\n';
  for (int off = 0; off < n;) {
    ssize_t w = write(c->in, line + off, (size_t)(n - off));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    off += (int)w;
  }
}

const cJSON *ac_next(ac_client *c, int ms)
{
  long end = now_ms() + ms;
  for (;;) {
    char *nl = memchr(c->buf, '\n', c->len);
    if (nl) {
      *nl = '\0';
      cJSON *m = cJSON_Parse(c->buf);
      if (!m) fprintf(stderr, "ac_next: not JSON: %.300s\n", c->buf);
      size_t used = (size_t)(nl - c->buf) + 1;
      memmove(c->buf, nl + 1, c->len - used);
      c->len -= used;
      if (!m) m = cJSON_CreateString("<not JSON>");
      cJSON_AddItemToArray(c->seen, m);
      return m;
    }
    long left = end - now_ms();
    if (left <= 0 || c->len == sizeof c->buf) return NULL;
    struct pollfd p = { .fd = c->out, .events = POLLIN };
    if (poll(&p, 1, (int)left) <= 0) continue;
    ssize_t r = read(c->out, c->buf + c->len, sizeof c->buf - c->len);
    if (r <= 0) return NULL;
    c->len += (size_t)r;
  }
}

const cJSON *ac_response(ac_client *c, int id, int ms)
{
  long end = now_ms() + ms;
  const cJSON *m;
  while ((m = ac_next(c, (int)(end - now_ms() > 0 ? end - now_ms() : 0)))) {
    const cJSON *i = cJSON_GetObjectItem(m, "id");
    if (!cJSON_GetObjectItem(m, "method") && cJSON_IsNumber(i) &&
        i->valueint == id)
      return m;
  }
  return NULL;
}

const cJSON *ac_request(ac_client *c, const char *method, int ms)
{
  long end = now_ms() + ms;
  const cJSON *m;
  while ((m = ac_next(c, (int)(end - now_ms() > 0 ? end - now_ms() : 0)))) {
    const char *x = cJSON_GetStringValue(cJSON_GetObjectItem(m, "method"));
    if (x && !strcmp(x, method) && cJSON_GetObjectItem(m, "id")) return m;
  }
  return NULL;
}

int ac_stop(ac_client *c, int ms)
{
  close(c->in);
  long end = now_ms() + ms;
  int st = 0;
  pid_t w;
  while ((w = waitpid(c->pid, &st, WNOHANG)) == 0 && now_ms() < end)
    usleep(10000);
  if (w == 0) {
    kill(c->pid, SIGKILL);
    waitpid(c->pid, &st, 0);
  }
  close(c->out);
  cJSON_Delete(c->seen);
  c->seen = NULL;
  if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
  return WEXITSTATUS(st);
}
