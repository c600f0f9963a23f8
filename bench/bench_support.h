/*
 * bench/bench_support.h: what the benchmarks that run the kernel against a
 * loopback fake share: the fake in a child process (so its CPU and memory
 * are not counted), clocks, and this process's memory figures.
 */
#ifndef PT_BENCH_SUPPORT_H
#define PT_BENCH_SUPPORT_H

#include <sys/types.h>
#include <time.h>

#include "fake_http.h"

/* Fork a child serving `fn` on 127.0.0.1; *port is its port, *keepalive a
 * pipe the caller owns: the child exits when it is closed (bench_server_stop).
 * `name` prefixes the message when the server cannot start (then exit 1). */
pid_t bench_server_start(const char *name, fake_http_handler fn, int *port,
                         int *keepalive);
void bench_server_stop(pid_t pid, int keepalive);

/* clock_gettime(id) in microseconds. */
double bench_clock_us(clockid_t id);

/* A "Key: N kB" line of /proc/self/status (VmRSS, VmHWM) in KiB; -1. */
long bench_status_kib(const char *key);

/* Reset VmHWM to the current RSS (Linux 4.0+; a no-op elsewhere). */
void bench_reset_hwm(void);

#endif
