/*
 * plugins/openai/openai.h: what the files of the openai provider share.
 *
 * plugin.c registers the provider, reads settings and starts chats;
 * request_chat.c and request_responses.c turn the normalized request
 * (docs/providers.md) into a Chat Completions or Responses body, with
 * request.c for the walk both share; stream_chat.c and
 * stream_responses.c turn those APIs' event streams back into normalized
 * events, with stream.c for what both share, reading events in place with
 * plugins/common/json_view; errors.c reads error bodies and error events;
 * models.c lists models. The request life cycle (retries, cancel, the one
 * DONE) is plugins/common/provider_call.
 */
#ifndef PT_OPENAI_H
#define PT_OPENAI_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <portico/plugin.h>

#include "buf.h"
#include "chat_request.h"
#include "json_view.h"
#include "provider_call.h"
#include "tool_calls.h"

#define OA_ID "openai"
#define OA_DEFAULT_BASE "https://api.openai.com/v1"
#define OA_KEY_ENV "OPENAI_API_KEY"

/* The host, set once in init; loop thread only. */
extern const pt_host_api *oa_api;
extern pt_host *oa_host;

/* Which of the two APIs a chat speaks (setting plugins.openai.api). */
enum { OA_CHAT_COMPLETIONS, OA_RESPONSES };

/* The settings a chat reads, loaded afresh for each one. */
typedef struct oa_settings {
  pc_settings base;         /* base_url, api_key, timeouts, retries */
  int api;                  /* OA_CHAT_COMPLETIONS or OA_RESPONSES */
  char system_role[16];     /* "system" or "developer" */
  int legacy_max_tokens;    /* send max_tokens, not max_completion_tokens */
} oa_settings;

/* Load the settings; PT_ECONFIG with a sentence in `err` when one has a
 * value this provider does not know. */
int32_t oa_settings_read(oa_settings *s, char *err, size_t errlen);

/* The request headers for `s`: NULL-terminated in `list`, the ones built
 * from settings owned (the Authorization line is wiped when freed). */
typedef struct oa_headers {
  const char *list[8];
  char *owned[3];
} oa_headers;

int32_t oa_headers_build(const oa_settings *s, int streaming, oa_headers *h);
void oa_headers_free(oa_headers *h);

/* ---- Requests (request.c, request_chat.c, request_responses.c) -------- */

/* The API body for normalized request `req`, as malloc'd JSON text, or
 * NULL with a sentence in `err`. */
char *oa_chat_body(const cJSON *req, const oa_settings *s, char *err,
                   size_t errlen);
char *oa_responses_body(const cJSON *req, const oa_settings *s, char *err,
                        size_t errlen);

/* How one API writes the pieces that request.c's walk finds in a
 * normalized request. The functions return a new item for the walk to
 * insert (NULL when memory ran out, which insertion ignores); their
 * strings are borrowed. */
typedef struct oa_wire {
  const char *text_type;    /* "type" of a user text part */
  const char *message_type; /* "type" of a message item; NULL: none */
  int nested_function;      /* a tool's or tool_choice's function name sits
                               in a "function" object, not beside "type" */
  cJSON *(*image)(const char *url);
  /* What answers tool call `id` with `text`. */
  cJSON *(*tool_result)(const char *id, const char *text);
  /* One tool call of an assistant message; `arguments` is JSON text. */
  cJSON *(*tool_call)(const char *id, const char *name,
                      const char *arguments);
  /* Append to `out` an assistant message's `text` (NULL when it has
   * none) and `calls` (an array made of tool_call()s, taken). */
  void (*assistant)(cJSON *out, const char *text, cJSON *calls);
} oa_wire;

/* The request's messages, appended to `out` (Chat Completions' messages,
 * the Responses API's input) as `w` writes them. 0, or -1 with a sentence
 * in `err`. */
int oa_write_messages(cJSON *out, const cJSON *req, const oa_wire *w,
                      char *err, size_t errlen);

/* The request's tools and tool_choice into `body`. 0, or -1 with a
 * sentence in `err` (a tool_choice neither API takes). */
int oa_write_tools(cJSON *body, const cJSON *req, const oa_wire *w,
                   char *err, size_t errlen);

/* Copy member `from` of the request to `to` of `body`, unless it is
 * absent or null. */
void oa_copy_member(cJSON *body, const cJSON *req, const char *from,
                    const char *to);

/* Merge the request's "extra" into `body` and print it; takes `body`.
 * malloc'd text, or NULL with a sentence in `err`. */
char *oa_body_text(cJSON *body, const cJSON *req, char *err, size_t errlen);

/* The string member `key` of `o`, or NULL. */
const char *oa_string(const cJSON *o, const char *key);

/* thinking.effort, or one derived from thinking.budget_tokens; NULL when
 * the request asks for neither. */
const char *oa_reasoning_effort(const cJSON *req);

/* ---- Streams (stream.c, stream_chat.c, stream_responses.c) ------------- */

/* op->data of a chat and of a model listing start with this, so cancel()
 * can tell them apart. */
enum { OA_OP_CHAT = 1, OA_OP_MODELS = 2 };

/* One chat's parser state; the pc_call's `ud`. Freed by its on_free. */
typedef struct oa_stream {
  int kind;                 /* OA_OP_CHAT */
  pc_call *call;
  pt_sse *sse;              /* the current attempt's splitter */
  pt_str api_key;           /* host-owned; kept out of error messages */
  pc_tool_calls tools;
  pc_buf a, b;              /* reused decode buffers */

  /* Reset on every attempt. */
  uint32_t finish;          /* PT_STOP_* once the API said why it stopped */
  int refusal;              /* refusal text streamed */
  int cut_by_stop;          /* a stop sequence ended it (where known) */
  int summary_parts;        /* Responses: reasoning summary parts begun */
  int stopped;              /* the splitter callback ended this attempt */
  int json_body;            /* a 2xx answered JSON, not events: kept in b */
  uint32_t *outputs;        /* Responses: output_index of tool call i */
  size_t outputs_len, outputs_cap;
} oa_stream;

extern const pc_call_vt oa_chat_stream_vt;
extern const pc_call_vt oa_responses_stream_vt;

/* Shared by both streams: a new splitter for a new attempt, feeding bytes,
 * usage from an API usage object, and the pc_call vt's on_free. */
void oa_stream_begin(oa_stream *st, pt_sse_cb cb);
void oa_stream_feed(oa_stream *st, pt_str bytes);
void oa_stream_free(void *ud);

/* Usage from the API's counts: `input` includes the `cached` prompt
 * tokens, which are reported apart (input_tokens is the uncached rest). */
void oa_stream_usage(oa_stream *st, uint64_t input, uint64_t cached,
                     uint64_t output);

/* End the chat successfully: close the open tool calls (unless the reply
 * was cut at max_tokens, where their arguments are unfinished), and refine
 * an end_turn into tool_use, refusal or stop_sequence from what streamed. */
void oa_stream_finish(oa_stream *st, uint32_t stop);

/* Turn a negative code from pc_tools_* into a failed chat when it has not
 * failed already. Returns 0 when `rc` is not negative, else -1. */
int oa_stream_check(oa_stream *st, int32_t rc);

/* The text of string `v` (empty when it is none): a view into the event,
 * or into `scratch` when it holds escapes. 0, or -1 after failing the chat
 * when memory ran out. */
int oa_stream_string(oa_stream *st, pc_json v, pc_buf *scratch, pt_str *out);

/* Emit string `v`, when it is a non-empty one, as an event of `kind`
 * (decoded in `a`). 0, or -1 when the chat failed. */
int oa_stream_text(oa_stream *st, pc_json v, uint32_t kind);

/* More arguments for tool call `index`: string `args`, when it is a
 * non-empty one (decoded in `a`). 0, or -1 when the chat failed. */
int oa_stream_tool_args(oa_stream *st, uint32_t index, pc_json args);

/* What a splitter callback returns once the chat's outcome is decided:
 * stops feeding the rest of this attempt. */
int32_t oa_stream_stop(oa_stream *st);

/* Fail the chat because event `data` could not be read; returns what the
 * splitter callback returns. */
int32_t oa_stream_malformed(oa_stream *st, pt_str data);

/* At a 2xx body's end (`status` from the transport): when it was a whole
 * JSON document rather than an event stream, fail the chat with what it
 * says and return 1; else 0. */
int oa_stream_json_end(oa_stream *st, int32_t status);

/* The stream ended before the API's last event (`last_event`, for the
 * message): fail with a retryable PT_ECLOSED, or the transport's own code
 * when it has one (a timeout). What was emitted stays emitted. */
void oa_stream_cut(oa_stream *st, int32_t status, pt_str message,
                   const char *last_event);

/* ---- Errors (errors.c) ------------------------------------------------- */

/* Describe an error response: status code, retryability, the API's error
 * type and a message that names the fix, never the key. */
void oa_error_describe(int http_status, pt_str body, pt_str key,
                       pc_error *err);

/* The pc_call vt's on_http_error, for both APIs. */
void oa_http_error(pc_call *c, void *ud, int http_status, pt_str body,
                   pc_error *err);

/* Fail the chat with an error object from inside a stream ({"message",
 * "type", "code"}); retryable when it says the server is busy or broke. */
void oa_stream_error(oa_stream *st, pc_json error);

/* Replace anything in `msg` that looks like the API key (or OpenAI's
 * masked echo of one) with "[redacted]". */
void oa_scrub_key(char *msg, size_t size, pt_str key);

/* ---- Models (models.c) ------------------------------------------------- */

int32_t oa_list_models(void *self, pt_op *op);
void oa_models_cancel(pt_op *op);

#endif
