/*
 * tests/support/acp_client.h: drive `portico acp` as a child process over
 * pipes: write JSON-RPC lines to its stdin, read its stdout line by line
 * with a timeout. Its stderr goes to the test's stderr.
 */
#ifndef PT_TEST_ACP_CLIENT_H
#define PT_TEST_ACP_CLIENT_H

#include <sys/types.h>

#include <cjson/cJSON.h>

typedef struct ac_client {
  pid_t pid;
  int in, out;          /* the child's stdin (write end), stdout (read) */
  char buf[1 << 20];
  size_t len;
  cJSON *seen;          /* every message read so far, in order */
} ac_client;

/* Start $PORTICO_BIN with argv (NULL-terminated, without argv[0]) and the
 * extra environment `env` (may be NULL). Aborts on failure. */
void ac_start(ac_client *c, const char *const *argv, const char *const *env);

/* Write one line (a printf format; the newline is added). */
void ac_send(ac_client *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The next message, NULL when `ms` passed or stdout ended. Borrowed: it
 * stays in c->seen until ac_stop. */
const cJSON *ac_next(ac_client *c, int ms);

/* Read until a response with this numeric id arrives (NULL on timeout). */
const cJSON *ac_response(ac_client *c, int id, int ms);

/* Read until a request from the agent with this method (NULL on timeout). */
const cJSON *ac_request(ac_client *c, const char *method, int ms);

/* Close its stdin and wait for it (killed after `ms`); its exit status. */
int ac_stop(ac_client *c, int ms);

#endif
