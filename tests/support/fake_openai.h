/*
 * tests/support/fake_openai.h: a fake OpenAI API on 127.0.0.1, built on
 * fake_http, for driving the openai provider plugin through its real wire
 * formats.
 *
 * The server answers under /v1 (so base_url is "http://127.0.0.1:PORT/v1")
 * with the scripts a test queued, one per request in arrival order, and
 * records every request (method, path, headers, body) so the test can
 * assert exactly what the provider sent. With a required key set, a
 * request whose Authorization header does not carry it gets OpenAI's own
 * 401 answer, masked key echo included.
 *
 * The stream builders write OpenAI's documented formats: Chat Completions
 * chunks ("data: {chat.completion.chunk}" ... "data: [DONE]") and Responses
 * API events ("event: <type>" plus "data: {"type": <type>,
 * "sequence_number": n, ...}"). The senders then put the text on the wire
 * event by event, in pieces of a fixed size, or cut at chosen offsets, with
 * pauses between, so a test can split events, JSON strings, escape
 * sequences and UTF-8 characters where it likes.
 *
 * THREADS. Scripts run on the server's thread; every other function is
 * called from the test's thread. Recorded requests are copied under a lock.
 */
#ifndef PT_TEST_FAKE_OPENAI_H
#define PT_TEST_FAKE_OPENAI_H

#include <stddef.h>

#include "fake_http.h"

typedef struct fake_openai fake_openai;

/* One request as received; owned by the fake, valid until its stop. */
typedef struct fake_openai_request {
  char method[16];
  char path[512];
  char *headers;    /* "Name: value\n" lines, as received */
  char *body;       /* NUL-terminated */
  size_t body_len;
} fake_openai_request;

/* Writes the response to one request; `arg` is the test's, passed back
 * unchanged. Runs on the server's thread. */
typedef void (*fake_openai_script)(fake_http_response *res, const void *arg);

fake_openai *fake_openai_start(void);
void fake_openai_stop(fake_openai *f);
int fake_openai_port(const fake_openai *f);

/* "http://127.0.0.1:PORT/v1" into buf. */
void fake_openai_base_url(const fake_openai *f, char *buf, size_t n);

/* Answer the next unanswered request with `fn(res, arg)`. A request with
 * no script queued gets a 500 saying so. */
void fake_openai_push(fake_openai *f, fake_openai_script fn, const void *arg);

/* Answer requests without "Authorization: Bearer <key>" with a 401, as
 * OpenAI does (NULL: accept any). `key` is copied. */
void fake_openai_require_key(fake_openai *f, const char *key);

/* Requests received so far, and the i-th of them (NULL when not there). */
int fake_openai_count(fake_openai *f);
const fake_openai_request *fake_openai_get(fake_openai *f, int i);

/* The value of header `name` of `r` (case-insensitive) copied into buf;
 * NULL when absent. */
const char *fake_openai_header(const fake_openai_request *r, const char *name,
                               char *buf, size_t n);

/* Connections to the fake that are still established on the server's side
 * (read from /proc/net/tcp): a client that closed its side is not counted,
 * so this is how a test sees a cancelled stream's connection go. */
int fake_openai_established(const fake_openai *f);

/* ---- Stream text ------------------------------------------------------- */

/* SSE text being built, with where each event ends. */
typedef struct fake_openai_stream {
  char *text;         /* owned, NUL-terminated */
  size_t len, cap;
  size_t *ends;       /* owned: the end offset of each event */
  size_t nends, cap_ends;
  int seq;            /* Responses: the next sequence_number */
} fake_openai_stream;

void fos_init(fake_openai_stream *s);
void fos_free(fake_openai_stream *s);

/* Raw SSE text, counted as one event (say "\n\n" yourself). */
void fos_raw(fake_openai_stream *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* "data: <json>\n\n". */
void fos_data(fake_openai_stream *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* A chat.completion.chunk whose choices[0] has `delta` (a JSON object's
 * text) and `finish` (a finish_reason, or NULL for null). */
void fos_chunk(fake_openai_stream *s, const char *delta, const char *finish);

/* The usage chunk include_usage asks for: empty choices. */
void fos_usage(fake_openai_stream *s, int prompt, int completion, int cached);

/* "data: [DONE]\n\n". */
void fos_done(fake_openai_stream *s);

/* A Responses API event of `type`: "event: <type>\ndata: {"type":
 * "<type>","sequence_number":n,<fields>}\n\n", `fields` being the rest of
 * the object's members (may be empty). */
void fos_event(fake_openai_stream *s, const char *type, const char *fields,
               ...) __attribute__((format(printf, 3, 4)));

/* response.created and response.in_progress for a fresh response. */
void fos_response_begin(fake_openai_stream *s);

/* response.completed (status "completed") or response.incomplete
 * (`incomplete_reason` set) with usage. */
void fos_response_end(fake_openai_stream *s, const char *incomplete_reason,
                      int input, int output, int cached);

/* ---- Sending ------------------------------------------------------------ */

/* 200, text/event-stream, chunked, with OpenAI's usual headers. */
void fake_openai_sse_head(fake_http_response *res);

/* The stream's events, one HTTP chunk each, `wait_ms` apart; then the
 * body's end when `end`. */
void fake_openai_send_events(fake_http_response *res,
                             const fake_openai_stream *s, unsigned wait_ms,
                             int end);

/* The stream in `piece`-byte chunks, `wait_ms` apart; then the end when
 * `end`. */
void fake_openai_send_pieces(fake_http_response *res,
                             const fake_openai_stream *s, size_t piece,
                             unsigned wait_ms, int end);

/* The stream cut at the `n` increasing offsets in `cuts`, `wait_ms`
 * apart; then the end when `end`. */
void fake_openai_send_cuts(fake_http_response *res,
                           const fake_openai_stream *s, const size_t *cuts,
                           size_t n, unsigned wait_ms, int end);

/* An error answer: {"error": {"message", "type", "param": null, "code"}}
 * (`code` NULL: null), with `headers` ("Name: value\r\n" lines, or NULL)
 * added to the head. */
void fake_openai_error(fake_http_response *res, int status, const char *type,
                       const char *code, const char *message,
                       const char *headers);

/* ---- Benchmarks --------------------------------------------------------- */

/* A whole Chat Completions stream of `n` text deltas of "tok " each (the
 * reply is n * 4 bytes), then finish_reason stop, usage and [DONE],
 * written in large pieces so the client, not the fake, is the bottleneck. */
void fake_openai_stream_deltas(fake_http_response *res, int n);

/* The same for the Responses API: `n` response.output_text.delta events of
 * "tok ", then response.completed. */
void fake_openai_responses_stream_deltas(fake_http_response *res, int n);

#endif
