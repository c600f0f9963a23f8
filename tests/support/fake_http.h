/*
 * tests/support/fake_http.h: a scriptable HTTP/1.1 server for tests.
 *
 * The server listens on 127.0.0.1 on an ephemeral port and runs its own
 * libuv loop on its own thread, so the loop under test stays independent.
 * For every request it parses (method, path with query, headers, a body
 * framed by Content-Length or chunked), it calls the test's handler, which
 * fills a response script: bytes to send, pauses, and how the connection
 * ends. The steps run in order, each send written on its own, so a test can
 * split a response anywhere (inside a header, a chunk's framing, a JSON
 * string, a UTF-8 character) and pause between the pieces. A script that
 * ends without closing or hanging leaves the connection open for the next
 * request (unless the request said "Connection: close"), so its response
 * must frame its body: Content-Length or chunked. Hundreds of connections
 * may be open at once.
 *
 * Not a real server: it parses what HTTP clients send and no more, and
 * aborts the process when memory runs out.
 *
 * THREADS. fake_http_start/port/stop and the port helpers are called from
 * the test's thread. The handler runs on the server's thread: anything it
 * shares with the test needs a lock or atomics.
 *
 * fake_http_start ignores SIGPIPE for the whole process, so that writing to
 * a connection the client dropped is an error, not a death.
 */
#ifndef PT_TEST_FAKE_HTTP_H
#define PT_TEST_FAKE_HTTP_H

#include <stddef.h>

typedef struct fake_http fake_http;
typedef struct fake_http_response fake_http_response;

typedef struct fake_http_header {
  const char *name;   /* as sent; NUL-terminated */
  const char *value;  /* trimmed; NUL-terminated */
} fake_http_header;

/* One parsed request, borrowed for the handler call: copy what you keep. */
typedef struct fake_http_request {
  const char *method;
  const char *path;              /* request target, with the query */
  const fake_http_header *headers;
  size_t header_count;
  const char *body;              /* de-chunked; NUL-terminated for
                                    convenience; "" when empty */
  size_t body_len;
  unsigned long index;           /* 0 for the server's first request */
  unsigned long conn_index;      /* 0 for a connection's first request */
} fake_http_request;

/* Fill `res` for `req`. A handler that scripts nothing gets a 500. */
typedef void (*fake_http_handler)(void *ud, const fake_http_request *req,
                                  fake_http_response *res);

/* Start a server that answers with `fn(ud, ...)`. Returns NULL (with a
 * message on stderr) when it cannot listen. Stop it with fake_http_stop. */
fake_http *fake_http_start(fake_http_handler fn, void *ud);

int fake_http_port(const fake_http *f);

/* Requests parsed and connections accepted so far (any thread). */
unsigned long fake_http_request_count(const fake_http *f);
unsigned long fake_http_connection_count(const fake_http *f);

/* Close every connection, stop the thread, free `f`. Scripts still
 * running are abandoned. */
void fake_http_stop(fake_http *f);

/* The value of the request's header `name` (case-insensitive), or NULL. */
const char *fake_http_request_header(const fake_http_request *req,
                                     const char *name);

/* ---- Script steps. Each copies what it is given. ---------------------- */

/* Send `len` bytes as one write. */
void fake_http_send(fake_http_response *res, const void *bytes, size_t len);
void fake_http_sendf(fake_http_response *res, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Pause `ms` milliseconds before the next step. */
void fake_http_wait(fake_http_response *res, unsigned ms);

/* Close the connection (FIN) once everything before it was written. */
void fake_http_close(fake_http_response *res);

/* Reset the connection (RST): the peer sees ECONNRESET. */
void fake_http_reset(fake_http_response *res);

/* Send nothing more on this connection, and serve no further request on
 * it; it stays open until the client closes it or the server stops. */
void fake_http_hang(fake_http_response *res);

/* ---- Whole responses and pieces of them. ------------------------------ */

/* Status line, Content-Type, Content-Length and `body` in one send. */
void fake_http_respond(fake_http_response *res, int status,
                       const char *content_type, const char *body);

/* Status line, then `headers` ("Name: value\r\n" lines, or NULL), then the
 * blank line, in one send. Say how the body is framed in `headers`. */
void fake_http_head(fake_http_response *res, int status, const char *headers);

/* A head with Transfer-Encoding: chunked and the given Content-Type; then
 * fake_http_chunk per piece and fake_http_chunk_end. */
void fake_http_chunked_head(fake_http_response *res, int status,
                            const char *content_type);

/* `len` bytes as one chunk, framing included, in one send. `len` 0 is
 * skipped: an empty chunk would end the body. */
void fake_http_chunk(fake_http_response *res, const void *bytes, size_t len);

/* The last chunk and the blank line after it. */
void fake_http_chunk_end(fake_http_response *res);

/* A 200 chunked head for Server-Sent Events (text/event-stream). */
void fake_http_sse_head(fake_http_response *res);

/* ---- Ports where nothing answers. ------------------------------------- */

typedef struct fake_http_dead fake_http_dead;

/* A port on 127.0.0.1 that refuses connections at once (bound, not
 * listening, so no one else takes it meanwhile). */
fake_http_dead *fake_http_dead_refusing(void);

/* A port on 127.0.0.1 where connect() hangs until the client gives up: a
 * listener that never accepts, its accept queue filled so the kernel drops
 * further SYNs. */
fake_http_dead *fake_http_dead_hanging(void);

int fake_http_dead_port(const fake_http_dead *p);
void fake_http_dead_close(fake_http_dead *p);

#endif
