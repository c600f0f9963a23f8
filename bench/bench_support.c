/*
 * bench/bench_support.c: see bench_support.h.
 */
#include "bench_support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

pid_t bench_server_start(const char *name, fake_http_handler fn, int *port,
                         int *keepalive)
{
  int to_parent[2], to_child[2];
  if (pipe(to_parent) != 0 || pipe(to_child) != 0) abort();
  pid_t pid = fork();
  if (pid < 0) abort();
  if (pid == 0) {
    close(to_parent[0]);
    close(to_child[1]);
    fake_http *f = fake_http_start(fn, NULL);
    int p = f ? fake_http_port(f) : -1;
    if (write(to_parent[1], &p, sizeof p) != sizeof p) _exit(1);
    char c;
    while (read(to_child[0], &c, 1) > 0) {
    }
    if (f) fake_http_stop(f);
    _exit(0);
  }
  close(to_parent[1]);
  close(to_child[0]);
  if (read(to_parent[0], port, sizeof *port) != sizeof *port || *port < 0) {
    fprintf(stderr, "%s: the server did not start\n", name);
    exit(1);
  }
  close(to_parent[0]);
  *keepalive = to_child[1];
  return pid;
}

void bench_server_stop(pid_t pid, int keepalive)
{
  close(keepalive);
  waitpid(pid, NULL, 0);
}

double bench_clock_us(clockid_t id)
{
  struct timespec ts;
  clock_gettime(id, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

long bench_status_kib(const char *key)
{
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long kib = -1;
  size_t n = strlen(key);
  while (f && fgets(line, sizeof line, f))
    if (strncmp(line, key, n) == 0 && line[n] == ':') {
      kib = strtol(line + n + 1, NULL, 10);
      break;
    }
  if (f) fclose(f);
  return kib;
}

void bench_reset_hwm(void)
{
  FILE *f = fopen("/proc/self/clear_refs", "w");
  if (f) {
    fputs("5", f);
    fclose(f);
  }
}
