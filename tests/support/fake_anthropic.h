/*
 * tests/support/fake_anthropic.h: a fake Anthropic Messages API on
 * 127.0.0.1, built on fake_http, for the claude provider's tests and
 * benchmarks.
 *
 * It speaks the API's documented wire format: POST /v1/messages answered
 * with a text/event-stream of message_start, content_block_start,
 * content_block_delta, content_block_stop, message_delta, message_stop,
 * ping and error events (an `event:` line naming the type, a `data:` line
 * of JSON whose "type" repeats it, a blank line), errors as
 * {"type":"error","error":{"type","message"}} with a request-id header,
 * and GET /v1/models pages. What each request gets is up to the test: it
 * queues replies (functions that script a fake_http_response), one per
 * request in arrival order, the last repeating once the queue runs dry.
 * Every request is recorded (method, path, headers, body, arrival time)
 * so a test can assert the exact request the provider sent.
 *
 * THREADS. Replies run on the server's thread; everything else is called
 * from the test's thread. Recorded requests are safe to read from the
 * test's thread once fake_anthropic_request_count() counts them.
 */
#ifndef PT_TEST_FAKE_ANTHROPIC_H
#define PT_TEST_FAKE_ANTHROPIC_H

#include <stddef.h>
#include <stdint.h>

#include "fake_http.h"

typedef struct fake_anthropic fake_anthropic;

/* Script the reply to one request. `ud` is the test's, from push. */
typedef void (*fake_anthropic_reply)(void *ud, fake_http_response *res);

/* One request as received; owned by the fake, valid until its stop. */
typedef struct fake_anthropic_request {
  char *method;
  char *path;                 /* with the query */
  fake_http_header *headers;  /* header_count of them */
  size_t header_count;
  char *body;                 /* NUL-terminated */
  size_t body_len;
  uint64_t at_ms;             /* arrival, on uv_hrtime's clock */
} fake_anthropic_request;

/* Start a fake (aborts when it cannot listen). */
fake_anthropic *fake_anthropic_start(void);
void fake_anthropic_stop(fake_anthropic *fa);
int fake_anthropic_port(const fake_anthropic *fa);

/* "http://127.0.0.1:<port>", for plugins.claude.base_url. Static storage
 * per fake; valid until its stop. */
const char *fake_anthropic_url(const fake_anthropic *fa);

/* Queue the reply to the next request not yet given one. */
void fake_anthropic_push(fake_anthropic *fa, fake_anthropic_reply fn,
                         void *ud);

size_t fake_anthropic_request_count(fake_anthropic *fa);

/* Request `i` (from 0), or NULL when fewer arrived. */
const fake_anthropic_request *fake_anthropic_request_at(fake_anthropic *fa,
                                                        size_t i);
const char *fake_anthropic_header(const fake_anthropic_request *r,
                                  const char *name);

/* Connections to the fake that its side still holds open (Linux: read from
 * /proc/net/tcp), so a test sees that the server saw a client's close. */
int fake_anthropic_open_connections(const fake_anthropic *fa);

/* ---- Building a stream ------------------------------------------------ */

/* A growable text of SSE events. */
typedef struct fa_sse {
  char *text;                 /* owned, NUL-terminated */
  size_t len, cap;
} fa_sse;

void fa_sse_free(fa_sse *s);

/* Append one event: "event: <type>\ndata: <json>\n\n". `json_fmt` is a
 * printf format for the data line. */
void fa_sse_event(fa_sse *s, const char *type, const char *json_fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The common events. `json_text` arguments are JSON string bodies, already
 * escaped (without the quotes). */
void fa_sse_message_start(fa_sse *s, unsigned input, unsigned cache_write,
                          unsigned cache_read);
void fa_sse_text_start(fa_sse *s, unsigned index);
void fa_sse_text_delta(fa_sse *s, unsigned index, const char *json_text);
void fa_sse_thinking_start(fa_sse *s, unsigned index);
void fa_sse_thinking_delta(fa_sse *s, unsigned index, const char *json_text);
void fa_sse_signature_delta(fa_sse *s, unsigned index, const char *json_text);
void fa_sse_tool_start(fa_sse *s, unsigned index, const char *id,
                       const char *name);
void fa_sse_json_delta(fa_sse *s, unsigned index, const char *json_text);
void fa_sse_block_stop(fa_sse *s, unsigned index);
void fa_sse_message_delta(fa_sse *s, const char *stop_reason,
                          unsigned output_tokens);
void fa_sse_message_stop(fa_sse *s);
void fa_sse_ping(fa_sse *s);
void fa_sse_error(fa_sse *s, const char *type, const char *message);

/* ---- Sending ---------------------------------------------------------- */

/* The 200 head of a stream: text/event-stream, chunked, a request-id. */
void fake_anthropic_stream_head(fake_http_response *res);

/*
 * `text` as chunked body pieces that split it where a reader is most
 * likely to go wrong: between an event's lines, after every backslash and
 * in the middle of every \uXXXX escape, after the first byte of every
 * multi-byte UTF-8 character, and at least every 17 bytes; `wait_ms`
 * between pieces. Head and end not included.
 */
void fake_anthropic_send_split(fake_http_response *res, const char *text,
                               size_t len, unsigned wait_ms);

/* A whole stream: head, `s` split as above, the last chunk. */
void fake_anthropic_send_stream(fake_http_response *res, const fa_sse *s,
                                unsigned wait_ms);

/* An error answer: HTTP `status` with the API's error JSON; `headers` are
 * extra "Name: value\r\n" lines (may be NULL), e.g. "retry-after: 1\r\n". */
void fake_anthropic_send_error(fake_http_response *res, int status,
                               const char *type, const char *message,
                               const char *headers);

/* A 200 application/json answer. */
void fake_anthropic_send_json(fake_http_response *res, const char *json);

/*
 * For benchmarks: a whole stream of `n` text deltas ("tok " each) in one
 * text block, ended by end_turn, written as fast as the socket takes it
 * (pieces of about 16 KiB that split events anywhere, no waits).
 */
void fake_anthropic_stream_deltas(fake_http_response *res, int n);

#endif
