/*
 * tests/support/http_probe_int.h: what the test client's three files share
 * (http_probe.c: clocks, strings, sockets, the buffered reader, heads,
 * bodies and connections; http_probe_sse.c: Server-Sent Events;
 * http_probe_ws.c: WebSocket). Not for tests: they include http_probe.h.
 *
 * http_probe.c owns every hp__ function. Pointer arguments are borrowed for
 * the call; only hp__sb_take's result and hp__read_head's *headers pass to
 * the caller, who frees them.
 */
#ifndef PT_TEST_HTTP_PROBE_INT_H
#define PT_TEST_HTTP_PROBE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "http_probe.h"

/* A growable, always NUL-terminated byte string; zeroed is empty. */
typedef struct sbuf {
  char *p; /* owned; NULL until the first add */
  size_t len, cap;
} sbuf;

/* A socket and its read-ahead; the unread bytes are data[off, len). */
typedef struct rbuf {
  int fd;     /* owned: closed by hp__rb_free */
  char *data; /* owned */
  size_t off, len, cap;
} rbuf;

/* DC_SIZE is 0, so a zeroed dechunk starts at the first size line. */
enum { DC_SIZE, DC_DATA, DC_CRLF, DC_TRAILER, DC_DONE };

/* Where a chunked body's decoding stands between reads. */
typedef struct dechunk {
  int state;
  uint64_t left; /* bytes of the current chunk still to come */
} dechunk;

/* The monotonic time `ms` milliseconds from now (none when negative). */
uint64_t hp__deadline_after(int ms);

/* Append `len` bytes to `b`; aborts when out of memory, as all these do. */
void hp__sb_add(sbuf *b, const void *bytes, size_t len);
/* Append the NUL-terminated `s` to `b`. */
void hp__sb_adds(sbuf *b, const char *s);
/* Empty `b`, keeping its memory. */
void hp__sb_clear(sbuf *b);
/* `b`'s bytes, borrowed until it next changes; "" when it never grew. */
const char *hp__sb_str(const sbuf *b);
/* Reset `b`, handing its bytes over as a malloc'd string ("" when none). */
char *hp__sb_take(sbuf *b);

/* Send all of `bytes` on `fd` before `deadline`; 0, or -1 on error. */
int hp__send_all(int fd, const void *bytes, size_t len, uint64_t deadline);

/* How many bytes are read but not consumed. */
size_t hp__rb_avail(const rbuf *rb);
/* The unread bytes, borrowed until the next fill; never NULL. */
const char *hp__rb_ptr(const rbuf *rb);
/* Mark `n` of the unread bytes as used. */
void hp__rb_consume(rbuf *rb, size_t n);
/* Read more by `deadline`: 1 got bytes, 0 end (or reset), -1 timeout/error. */
int hp__rb_fill(rbuf *rb, uint64_t deadline);
/* Wait until `n` bytes are unread: 1, 0 at the end, -1 on timeout/error. */
int hp__rb_need(rbuf *rb, size_t n, uint64_t deadline);
/* Close rb->fd and free the buffer, leaving `rb` empty with fd -1. */
void hp__rb_free(rbuf *rb);

/* Append a request to `b`, adding Host and `defaults` that `extra` lacks. */
void hp__build_request(sbuf *b, int port, const char *method,
                       const char *path, const char *const *defaults,
                       const char *extra, const char *body, size_t body_len);
/* Read a head: 0 with *status and *headers set, -1 if partial or not HTTP. */
int hp__read_head(rbuf *rb, uint64_t deadline, int *status, char **headers);
/* Decode unread chunked bytes into `out`: 1 done, 0 need more, -1 bad. */
int hp__dechunk_step(dechunk *d, rbuf *rb, sbuf *out);
/* Whether header `name` of `r` lists `token` (case-insensitive). */
int hp__header_has_token(const hp_response *r, const char *name,
                         const char *token);
/* Append the body `out`'s headers frame to `body`: 0, or -1 with what came. */
int hp__read_body(rbuf *rb, const hp_response *out, uint64_t deadline,
                  sbuf *body);

#endif
