/*
 * tests/support/serve_cases.h: the plumbing the `portico serve` tests
 * (tests/test_serve_http.c, test_serve_turns.c, test_serve_catalog.c,
 * test_serve_load.c) share: starting the server in a chat_agent_cases
 * setting with an API key, one JSON request, a new session, a session's
 * event stream, reading a JSON answer, and a clean stop.
 *
 * Not for what a test checks: each file keeps its own expectations, and
 * helpers that differ between files (the load test's requests, which must
 * not CHECK, or the turn tests' event logs) stay in their file.
 *
 * Every wait here but sc_stop's is SC_MS. Helpers that say they CHECK mark the current
 * case failed (tests/support/check.h) and carry on; the others report
 * through their return value alone.
 */
#ifndef PT_TEST_SERVE_CASES_H
#define PT_TEST_SERVE_CASES_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "chat_agent_cases.h"
#include "http_probe.h"
#include "serve_proc.h"

/* Generous: the tests also run under AddressSanitizer. */
#define SC_MS 15000

/* Fill `env` (room for 6) with c's four variables, `key_entry`
 * ("PORTICO_API_KEY=..."; borrowed) and the NULL that ends it. The entries
 * point into `c` and `key_entry`, which must outlive `env`. */
void sc_env(const char **env, const cac_env *c, const char *key_entry);

/* serve_start with sc_env's environment and `argv` (without "serve").
 * Returns the server's port, or 0 after a CHECK failure when it did not
 * start; `p` then holds nothing to release. */
int sc_start(serve_proc *p, const cac_env *c, const char *key_entry,
             const char *const *argv);

/* SIGTERM `p` and CHECK that it exited with status 0 within 10 s.
 * *elapsed_ms (may be NULL) gets the time it took, as from serve_stop.
 * Leaves `p` for serve_cleanup. */
void sc_stop(serve_proc *p, int *elapsed_ms);

/* One request to 127.0.0.1:`port` on a new connection, with `extra`
 * header lines (may be NULL) and `body` (may be NULL). Returns the status
 * (0: no whole response) and, when `json` is not NULL, the body parsed
 * into *json (NULL when there was none or it was not JSON; caller frees). */
int sc_call(int port, const char *method, const char *path,
            const char *extra, const char *body, cJSON **json);

/* The string at o.a, or o.a.b when `b` is not NULL; "" when there is none.
 * Borrowed from `o`. */
const char *sc_str(const cJSON *o, const char *a, const char *b);

/* The number o.name, or -1 when it is not a number. */
double sc_num(const cJSON *o, const char *name);

/* POST /api/sessions with `headers` (the key) and `body`, CHECKing for a
 * 201 with an id; the id goes to `id` (at most `cap` bytes; "" on
 * failure). */
void sc_create_session(int port, const char *headers, const char *body,
                       char *id, size_t cap);

/* Open the event stream of session `id` with `headers` (the key and any
 * more, e.g. Last-Event-ID) and `query` ("" or "?after=N"), CHECKing for a
 * 200. Returns the stream (close with hp_sse_close) or NULL. */
hp_sse *sc_events(int port, const char *id, const char *headers,
                  const char *query);

#endif
