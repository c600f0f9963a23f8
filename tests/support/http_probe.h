/*
 * tests/support/http_probe.h: a small blocking HTTP/1.1, Server-Sent Events
 * and WebSocket client for tests of `portico serve`, over raw sockets to
 * 127.0.0.1.
 *
 * It is written by hand, not on libcurl, so that a test can do what a real
 * client would not: send a wrong Host, a malformed body, a frame with
 * reserved bits, or open a stream and never read it. It is not a general
 * client: it speaks to 127.0.0.1 only. Whatever the server or the wire does
 * wrong comes back as a return value; only running out of memory aborts.
 *
 * TIMEOUTS. Every call that reads or writes takes a budget in milliseconds
 * (or uses the one given when its stream was opened) and waits with poll(),
 * so a server that stops answering fails the call instead of hanging the
 * test. Writes use MSG_NOSIGNAL: a server that hung up is an error, not a
 * SIGPIPE.
 *
 * THREADS. A connection, stream or socket belongs to the thread using it;
 * different ones may be used from different threads.
 */
#ifndef PT_TEST_HTTP_PROBE_H
#define PT_TEST_HTTP_PROBE_H

#include <stddef.h>

/* ---- Plain requests. ------------------------------------------------- */

typedef struct hp_response {
  int status;     /* 0 when no whole response was read */
  char *headers;  /* owned: the raw header lines after the status line, each
                     ending in CRLF, without the blank line; NULL when the
                     head never arrived */
  char *body;     /* owned, NUL-terminated: de-chunked when chunked; NULL
                     when the head never arrived */
  size_t body_len;
} hp_response;

/* Connect to 127.0.0.1:`port`, blocking. Returns the socket (close-on-exec)
 * or -1 with errno set. */
int hp_connect(int port);

/*
 * Send one request on a new connection and read the whole response: a body
 * framed by Content-Length or chunked, or else everything until the server
 * closes. No body is read for HEAD or for a 1xx, 204 or 304 status; an
 * interim 1xx other than 101 is skipped.
 *
 * Sends "Host: 127.0.0.1:PORT" unless `extra_headers` has a Host line, and
 * "Content-Length: N" when `body` is not NULL (even when `body_len` is 0).
 * `extra_headers` is "Name: value\r\n" lines, or NULL. No Connection header
 * is added: the connection is closed once the response is read.
 *
 * Returns 0 with `out` filled. Returns -1 when the connection failed, the
 * server closed before the response was whole, or `timeout_ms` passed; then
 * out->status is 0 and, when the head had arrived, headers and body hold it
 * and what came of the body, for a message. Either way `out` is
 * overwritten (not freed first) and released with hp_response_free.
 */
int hp_request(int port, const char *method, const char *path,
               const char *extra_headers, const char *body, size_t body_len,
               hp_response *out, int timeout_ms);

/* Send `len` bytes exactly as given on a new connection (a malformed
 * request line, two pipelined requests, a lying Content-Length) and read
 * one response as hp_request does; `head` says the request was a HEAD.
 * Returns as hp_request does. */
int hp_request_raw(int port, const void *bytes, size_t len, int head,
                   hp_response *out, int timeout_ms);

/* The value of header `name` (case-insensitive) in `r`, trimmed, as a
 * malloc'd copy the caller frees; NULL when absent. The first one wins when
 * the header repeats. */
char *hp_header(const hp_response *r, const char *name);

/* Free what `r` owns and zero it. Safe on a zeroed or already freed one. */
void hp_response_free(hp_response *r);

/* A kept-alive connection, for several requests in turn or for a request
 * whose response is read late or never. */
typedef struct hp_conn hp_conn;

/* Connect; NULL when the connection failed. */
hp_conn *hp_conn_open(int port);

/* Write `len` raw bytes, waiting at most `timeout_ms` for room. Returns 0,
 * or -1 when the server hung up or the time passed. */
int hp_conn_send(hp_conn *c, const void *bytes, size_t len, int timeout_ms);

/* Write one request as hp_request builds it; returns as hp_conn_send. */
int hp_conn_send_request(hp_conn *c, int port, const char *method,
                         const char *path, const char *extra_headers,
                         const char *body, size_t body_len, int timeout_ms);

/* Read the next response, as hp_request does. Bytes after it stay
 * buffered for the next call, so pipelined responses read in turn. */
int hp_conn_read_response(hp_conn *c, int head, hp_response *out,
                          int timeout_ms);

int hp_conn_fd(const hp_conn *c);

/* Close the socket (bytes the server sent and no one read make it a
 * reset) and free `c`. NULL is ignored. */
void hp_conn_close(hp_conn *c);

/* Wait up to `timeout_ms` for the server to close `fd`, reading and
 * dropping what it sends meanwhile. Returns 1 when it closed (end of
 * stream or reset), 0 when the time passed first. */
int hp_wait_closed(int fd, int timeout_ms);

/* ---- Server-Sent Events. --------------------------------------------- */

typedef struct hp_sse hp_sse;

/* One event, borrowed from the stream until the next hp_sse_next or
 * hp_sse_close. `id` and `event` are the fields of this event alone ("" when
 * it had none: the last event ID is not carried over); the data lines are
 * joined with "\n". */
typedef struct hp_sse_event {
  const char *id, *event, *data;
} hp_sse_event;

/*
 * GET `path` with "Accept: text/event-stream" (unless `extra_headers` has
 * an Accept line) and read the head. Returns the open stream when the
 * status is 200; otherwise NULL, with the whole response read and its body
 * stored in *body_out (caller frees) when `body_out` is not NULL. *status
 * gets the status, 0 when no response arrived in `timeout_ms`. `status`
 * may be NULL.
 */
hp_sse *hp_sse_open(int port, const char *path, const char *extra_headers,
                    int timeout_ms, int *status, char **body_out);

/*
 * Read the next event, waiting at most `timeout_ms`. Returns 1 with *ev
 * filled; 0 when the server ended the stream (the last chunk, or the
 * connection closed) before another event was whole; -1 on timeout or a
 * socket or chunk-framing error. Comment lines (":...") are not events but
 * are counted. Lines may end in LF, CRLF or CR, and the bytes may be cut
 * anywhere, in the chunk framing too. "retry" fields are ignored.
 */
int hp_sse_next(hp_sse *s, hp_sse_event *ev, int timeout_ms);

/* Comment lines seen so far (keep-alives, typically). */
int hp_sse_comments(const hp_sse *s);

/* The status and headers of the response (its body is empty), borrowed;
 * for hp_header. */
const hp_response *hp_sse_response(const hp_sse *s);

int hp_sse_fd(const hp_sse *s);

/* Close the socket and free `s`. NULL is ignored. */
void hp_sse_close(hp_sse *s);

/* ---- WebSocket (RFC 6455). ------------------------------------------- */

typedef struct hp_ws hp_ws;

enum {
  HP_WS_CONT = 0x0,
  HP_WS_TEXT = 0x1,
  HP_WS_BINARY = 0x2,
  HP_WS_CLOSE = 0x8,
  HP_WS_PING = 0x9,
  HP_WS_PONG = 0xA
};

/*
 * Upgrade GET `path` to a WebSocket with a random Sec-WebSocket-Key and
 * version 13; `extra_headers` ("Name: value\r\n" lines, or NULL) go after
 * the handshake's own. *status (may be NULL) gets the status, 0 when none
 * arrived in `timeout_ms`. Returns the socket when the status is 101 and the
 * Upgrade, Connection and Sec-WebSocket-Accept headers are right; otherwise
 * NULL (a 101 with wrong headers says what was wrong on stderr). Sends on
 * the socket wait at most `timeout_ms` too.
 */
hp_ws *hp_ws_open(int port, const char *path, const char *extra_headers,
                  int timeout_ms, int *status);

/* Send `text` as one masked, final text frame. Returns 0, or -1 when the
 * server hung up or did not take the bytes in time. */
int hp_ws_send_text(hp_ws *w, const char *text);

/* Send one masked, final frame of `opcode` (an HP_WS_* value, or a
 * reserved one) with `len` bytes of payload, however odd. Returns as
 * hp_ws_send_text. */
int hp_ws_send_raw(hp_ws *w, int opcode, const void *data, size_t len);

/* Send one frame with `first_byte` as given (FIN, RSV1-3 and opcode, so a
 * fragment or reserved bits) and the mask bit as `masked` says: for tests
 * that the server refuses what RFC 6455 forbids. Returns as
 * hp_ws_send_text. */
int hp_ws_send_frame(hp_ws *w, unsigned first_byte, int masked,
                     const void *data, size_t len);

/*
 * Read the next whole text or binary message into *text (malloc'd,
 * NUL-terminated, caller frees; hp_ws_last gives its length and opcode).
 * Pings are answered with pongs and fragments reassembled on the way.
 * Returns 1 for a message; 0 when the server closed (a close frame, which
 * is answered, or the end of the stream); -1 on timeout, a socket error,
 * or a frame RFC 6455 forbids a server to send (masked, a control frame
 * that is fragmented or longer than 125 bytes, a continuation out of
 * place), said on stderr. *text is NULL unless 1 is returned.
 */
int hp_ws_recv(hp_ws *w, char **text, int timeout_ms);

/* The opcode (HP_WS_TEXT or HP_WS_BINARY) and payload length of the message
 * hp_ws_recv returned last. Either pointer may be NULL. */
void hp_ws_last(const hp_ws *w, int *opcode, size_t *len);

/* The status code of the server's close frame, 1005 when it had none, 0
 * when none arrived yet. */
int hp_ws_close_code(const hp_ws *w);

int hp_ws_fd(const hp_ws *w);

/* Send a close frame (1000) unless one was sent or the server closed,
 * wait up to a second for the server to close the connection, then close
 * the socket and free `w`. NULL is ignored. */
void hp_ws_close(hp_ws *w);

/* Close the socket with no close frame and free `w`: a client that
 * vanished. NULL is ignored. */
void hp_ws_drop(hp_ws *w);

/* Sec-WebSocket-Accept for `key`: base64(SHA-1(key + the RFC 6455 GUID)),
 * NUL-terminated in `out`. */
void hp_ws_accept_key(const char *key, char out[29]);

#endif
