/*
 * tests/support/fake_ollama.h: a fake Ollama server for provider tests.
 *
 * Built on fake_http. It answers GET /api/tags with a listing the test
 * sets, and every POST /api/chat by calling the test's function, which
 * scripts the answer with the helpers below in Ollama's wire format:
 * application/x-ndjson, chunked, one JSON object per line, errors as
 * {"error": "..."}. Helpers split a stream anywhere (inside a line, a JSON
 * string, an escape sequence, a UTF-8 character) and pause between the
 * pieces. Every request is recorded (method, path, headers, body) so a
 * test can assert exactly what the provider sent.
 *
 * THREADS. The chat function runs on the server's thread; the rest is for
 * the test's thread. Recorded requests are guarded inside.
 */
#ifndef PT_TEST_FAKE_OLLAMA_H
#define PT_TEST_FAKE_OLLAMA_H

#include <stddef.h>

#include "fake_http.h"

typedef struct fake_ollama fake_ollama;

/* Script the answer to POST /api/chat number `attempt` (from 0). */
typedef void (*fake_ollama_chat_fn)(void *ud, int attempt,
                                    const fake_http_request *req,
                                    fake_http_response *res);

/* Start a server on 127.0.0.1; NULL when it cannot listen. */
fake_ollama *fake_ollama_start(fake_ollama_chat_fn fn, void *ud);
void fake_ollama_stop(fake_ollama *f);
int fake_ollama_port(const fake_ollama *f);

/* The JSON GET /api/tags answers with (copied); "{\"models\":[]}" until
 * set. */
void fake_ollama_set_tags(fake_ollama *f, const char *json);

/* POST /api/chat requests received so far. */
int fake_ollama_chat_count(const fake_ollama *f);

/* One recorded request; owned copies. */
typedef struct fake_ollama_seen {
  char *method, *path, *body;
  size_t body_len;
  char **names, **values;
  size_t header_count;
} fake_ollama_seen;

/* Copy request `n` (from 0, any path) into `out`: 1, or 0 when fewer were
 * received. Free with fake_ollama_seen_free. */
int fake_ollama_seen_get(fake_ollama *f, size_t n, fake_ollama_seen *out);
/* A header's value (case-insensitive name), or NULL. */
const char *fake_ollama_seen_header(const fake_ollama_seen *s,
                                    const char *name);
void fake_ollama_seen_free(fake_ollama_seen *s);

/* Connections to the server that the server still holds open (Linux: read
 * from /proc/net/tcp). After a client closes, this drops to 0 once the
 * server has seen the close. */
int fake_ollama_open_connections(const fake_ollama *f);

/* ---- Stream text: NDJSON lines as Ollama writes them. ----------------- */

typedef struct fake_ollama_text {
  char *s;   /* owned, NUL-terminated */
  size_t len, cap;
} fake_ollama_text;

void fake_ollama_add(fake_ollama_text *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* A line with message.content / message.thinking: `escaped` is the JSON
 * string body exactly as it goes on the wire (escapes included). */
void fake_ollama_add_content(fake_ollama_text *t, const char *escaped);
void fake_ollama_add_thinking(fake_ollama_text *t, const char *escaped);
/* A line with message.tool_calls set to the JSON array `calls`. */
void fake_ollama_add_tool_calls(fake_ollama_text *t, const char *calls);
/* The last line: done true, done_reason, the counts and durations. */
void fake_ollama_add_done(fake_ollama_text *t, const char *reason,
                          int prompt_eval_count, int eval_count);
/* {"error": "<escaped>"} */
void fake_ollama_add_error(fake_ollama_text *t, const char *escaped);
void fake_ollama_text_free(fake_ollama_text *t);

/* ---- Responses. --------------------------------------------------------- */

/* 200, Content-Type: application/x-ndjson, chunked. */
void fake_ollama_head(fake_http_response *res);

/* `text` cut at the ascending offsets `cuts` (ending with 0), each piece a
 * chunk of its own, `wait_ms` between pieces. */
void fake_ollama_send_cut(fake_http_response *res, const char *text,
                          const size_t *cuts, unsigned wait_ms);

/* `text` in pieces of `step` bytes, `wait_ms` between them. */
void fake_ollama_send_trickle(fake_http_response *res, const char *text,
                              size_t step, unsigned wait_ms);

/* The chunked body's end. */
void fake_ollama_end(fake_http_response *res);

/* A whole error answer: `status`, {"error": "<escaped>"} as
 * application/json; `headers` ("Name: value\r\n" lines) may be NULL. */
void fake_ollama_fail(fake_http_response *res, int status,
                      const char *escaped, const char *headers);

/* A whole 200 stream of `n` one-word content lines and the done line,
 * written as fast as the socket takes them in 16 KiB pieces that cut lines
 * anywhere (for benchmarks). */
void fake_ollama_stream_deltas(fake_http_response *res, int n);

#endif
