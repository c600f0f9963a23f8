/*
 * bench/bench_startup.c: how fast portico is ready, and how small it idles.
 *
 *   bench_startup PORTICO_BIN [RUNS]
 *
 * Each run execs `portico plugins watch` (every bundled plugin loaded, the
 * plugin folders watched) and measures the time from fork to the "ready:"
 * line on its stdout, then lets it idle 300 ms and reads its resident set
 * size from /proc, then sends SIGTERM and measures the time to exit. Also
 * times a whole `portico plugins --json` run (exec to exit). Prints the
 * median, minimum and 95th percentile of each.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static void report(const char *what, const char *unit, double *v, int n)
{
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  int p95 = (int)(0.95 * (n - 1) + 0.5);
  printf("%-34s median %8.2f %s   min %8.2f   p95 %8.2f   (n=%d)\n", what,
         v[n / 2], unit, v[0], v[p95], n);
}

static pid_t spawn(const char *bin, char *const argv[], int *out_fd)
{
  int fds[2];
  if (pipe(fds) != 0) return -1;
  pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    close(fds[0]);
    close(fds[1]);
    execv(bin, argv);
    _exit(127);
  }
  close(fds[1]);
  *out_fd = fds[0];
  return pid;
}

static long rss_kib(pid_t pid)
{
  char path[64], line[256];
  snprintf(path, sizeof path, "/proc/%ld/status", (long)pid);
  FILE *f = fopen(path, "r");
  long kib = -1;
  if (!f) return -1;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "VmRSS: %ld kB", &kib) == 1) break;
  fclose(f);
  return kib;
}

int main(int argc, char **argv)
{
  if (argc < 2) {
    fprintf(stderr, "usage: %s PORTICO_BIN [RUNS]\n", argv[0]);
    return 2;
  }
  const char *bin = argv[1];
  int runs = argc > 2 ? atoi(argv[2]) : 20;
  if (runs < 1) runs = 1;
  double *ready = calloc((size_t)runs, sizeof *ready);
  double *rss = calloc((size_t)runs, sizeof *rss);
  double *stop = calloc((size_t)runs, sizeof *stop);
  double *whole = calloc((size_t)runs, sizeof *whole);
  int plugins = -1;

  for (int i = 0; i < runs; i++) {
    char *watch_argv[] = { (char *)bin, "plugins", "watch", NULL };
    int fd = -1;
    double t0 = now_ms();
    pid_t pid = spawn(bin, watch_argv, &fd);
    char buf[4096];
    size_t len = 0;
    while (len < sizeof buf - 1) {
      ssize_t n = read(fd, buf + len, sizeof buf - 1 - len);
      if (n <= 0) break;
      len += (size_t)n;
      buf[len] = '\0';
      if (strstr(buf, "ready:")) break;
    }
    ready[i] = now_ms() - t0;
    char *r = strstr(buf, "ready:");
    if (!r) {
      fprintf(stderr, "portico never printed its ready line:\n%s\n", buf);
      kill(pid, SIGKILL);
      return 1;
    }
    sscanf(r, "ready: %d", &plugins);
    usleep(300 * 1000);
    rss[i] = rss_kib(pid) / 1024.0;
    double t1 = now_ms();
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    stop[i] = now_ms() - t1;
    close(fd);

    char *list_argv[] = { (char *)bin, "plugins", "--json", NULL };
    t0 = now_ms();
    pid = spawn(bin, list_argv, &fd);
    while (read(fd, buf, sizeof buf) > 0) {
    }
    waitpid(pid, NULL, 0);
    whole[i] = now_ms() - t0;
    close(fd);
  }
  printf("portico startup (%d bundled plugins loaded)\n", plugins);
  report("exec to ready (plugins watch)", "ms", ready, runs);
  report("resident memory when idle", "MiB", rss, runs);
  report("SIGTERM to exit", "ms", stop, runs);
  report("`plugins --json` exec to exit", "ms", whole, runs);
  free(ready);
  free(rss);
  free(stop);
  free(whole);
  return 0;
}
