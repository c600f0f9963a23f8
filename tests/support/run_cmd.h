/*
 * tests/support/run_cmd.h: run the real portico binary as a child process
 * and collect what it printed.
 */
#ifndef PT_TEST_RUN_CMD_H
#define PT_TEST_RUN_CMD_H

#include <sys/types.h>

typedef struct cmd_result {
  int status;        /* exit code, or 128 + signal */
  char out[65536];   /* stdout, NUL-terminated, cut at the size */
  char err[65536];   /* stderr, likewise */
} cmd_result;

/* Run $PORTICO_BIN with argv (NULL-terminated, without argv[0]) and the
 * extra environment entries `env` ("NAME=value", NULL-terminated, may be
 * NULL), wait for it, fill *r. Standard input is /dev/null. */
void run_portico(cmd_result *r, const char *const *argv,
                 const char *const *env);

/* Start $PORTICO_BIN in the background with stdout on a pipe; returns the
 * pid and the pipe's read end in *out_fd. */
pid_t start_portico(const char *const *argv, const char *const *env,
                    int *out_fd);

/* Read from fd into buf (cap bytes, NUL-terminated) until `want` appears
 * or `ms` pass. Returns 1 when it appeared. */
int read_until(int fd, char *buf, size_t cap, const char *want, int ms);

#endif
