/*
 * core/log.c: leveled logging to stderr with secret redaction (see log.h).
 *
 * A line is formatted into one buffer and written with a single write(2), so
 * lines from several processes sharing a terminal do not interleave.
 */
#include "log.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LINE_MAX_BYTES 4096
#define REDACTED "[redacted]"

static int log_level = PT_LOG_INFO;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char **secrets;
static size_t secret_count;

static const char *const level_names[] = { "error", "warn", "info", "debug",
                                           "trace" };

void pt_log_set_level(int level)
{
  log_level = level < PT_LOG_ERROR ? PT_LOG_ERROR
              : level > PT_LOG_TRACE ? PT_LOG_TRACE
                                     : level;
}

int pt_log_level(void)
{
  return log_level;
}

void pt_log_redact(const char *secret, size_t len)
{
  if (!secret || len < 4) return;
  pthread_mutex_lock(&log_lock);
  for (size_t i = 0; i < secret_count; i++) {
    if (strlen(secrets[i]) == len && memcmp(secrets[i], secret, len) == 0) {
      pthread_mutex_unlock(&log_lock);
      return;
    }
  }
  char **grown = realloc(secrets, (secret_count + 1) * sizeof *secrets);
  char *copy = malloc(len + 1);
  if (grown) secrets = grown;
  if (grown && copy) {
    memcpy(copy, secret, len);
    copy[len] = '\0';
    secrets[secret_count++] = copy;
  } else {
    free(copy);
  }
  pthread_mutex_unlock(&log_lock);
}

void pt_log_reset(void)
{
  pthread_mutex_lock(&log_lock);
  for (size_t i = 0; i < secret_count; i++) free(secrets[i]);
  free(secrets);
  secrets = NULL;
  secret_count = 0;
  pthread_mutex_unlock(&log_lock);
}

/* Replace every registered secret in `line` (NUL-terminated, in a buffer of
 * `cap` bytes). The replacement is shorter than any secret of 10 bytes or
 * more; shorter secrets may grow the line, which is then cut at `cap`. */
static void redact(char *line, size_t cap)
{
  for (size_t i = 0; i < secret_count; i++) {
    size_t slen = strlen(secrets[i]), rlen = sizeof REDACTED - 1;
    char *hit;
    char *from = line;
    while ((hit = strstr(from, secrets[i])) != NULL) {
      size_t tail = strlen(hit + slen);
      size_t room = cap - (size_t)(hit - line) - 1;
      if (rlen > room) rlen = room;
      if (rlen + tail > room) tail = room - rlen;
      memmove(hit + rlen, hit + slen, tail);
      memcpy(hit, REDACTED, rlen);
      hit[rlen + tail] = '\0';
      from = hit + rlen;
    }
  }
}

void pt_logv(int level, const char *component, const char *fmt, va_list ap)
{
  if (level > log_level) return;
  char line[LINE_MAX_BYTES];
  const char *name = level_names[level < 0 ? 0 : level > 4 ? 4 : level];
  int n = snprintf(line, sizeof line, "portico[%ld] %s %s: ", (long)getpid(),
                   name, component ? component : "core");
  if (n < 0) return;
  if ((size_t)n < sizeof line) vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
  pthread_mutex_lock(&log_lock);
  redact(line, sizeof line - 1);
  pthread_mutex_unlock(&log_lock);
  size_t len = strlen(line);
  line[len++] = '\n';
  const char *p = line;
  while (len > 0) {
    ssize_t w = write(STDERR_FILENO, p, len);
    if (w <= 0) break;
    p += w;
    len -= (size_t)w;
  }
}

void pt_log(int level, const char *component, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  pt_logv(level, component, fmt, ap);
  va_end(ap);
}
