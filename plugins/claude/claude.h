/*
 * plugins/claude/claude.h: what the files of the claude provider share.
 *
 * The plugin speaks the Anthropic Messages API (POST /v1/messages with
 * "stream": true, GET /v1/models). plugin.c registers it and reads its
 * settings, request.c maps the normalized request to the API's body,
 * stream.c maps the API's event stream to normalized events, errors.c
 * turns the API's errors into messages for a person, models.c lists
 * models. Stream events are read in place with plugins/common/json_view.
 * Loop thread only.
 */
#ifndef CLAUDE_H
#define CLAUDE_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <portico/plugin.h>

#include "buf.h"
#include "chat_request.h"
#include "json_view.h"
#include "provider_call.h"
#include "tool_calls.h"

#define CL_ID "claude"
#define CL_DEFAULT_BASE_URL "https://api.anthropic.com"
#define CL_DEFAULT_VERSION "2023-06-01"
#define CL_KEY_ENV "ANTHROPIC_API_KEY"
#define CL_BASE_ENV "ANTHROPIC_BASE_URL"

/* The provider: one per loaded plugin, read-only after init. */
typedef struct claude {
  const pt_host_api *api;
  pt_host *h;
  pc_settings s;          /* base_url, api_key (host-owned), timeouts */
  char version[64];       /* anthropic-version */
  char beta[512];         /* anthropic-beta, or empty */
} claude;

/* What op->data points to starts with one of these, so cancel() knows. */
enum { CL_OP_CHAT = 1, CL_OP_MODELS = 2 };

/* The request headers every call sends, the API key among them. */
typedef struct cl_headers {
  char store[8192];
  const char *list[8];    /* NULL-terminated, pointing into store */
} cl_headers;

/* Fill `hd` for a streaming POST (`json_body`) or a GET. PT_ECONFIG when
 * the settings do not fit (an absurdly long key). */
int32_t cl_headers_make(const claude *p, cl_headers *hd, int json_body);

/* ---- request.c --------------------------------------------------------- */

/* Thinking budgets for the normalized "effort", in tokens. */
#define CL_BUDGET_LOW 1024
#define CL_BUDGET_MEDIUM 4096
#define CL_BUDGET_HIGH 16384
#define CL_DEFAULT_MAX_TOKENS 4096

/*
 * Map the normalized request `req` (already checked by pc_request_parse)
 * to a Messages API body. On success *body is malloc'd JSON text (caller
 * frees). On failure returns PT_EINVAL or PT_ENOMEM with a sentence in
 * `err`.
 */
int32_t cl_request_build(const cJSON *req, char **body, char *err,
                         size_t errlen);

/* ---- errors.c ---------------------------------------------------------- */

/* Status and retryability for an API error type ("overloaded_error"...),
 * keeping what `e` already says for types it does not know. */
void cl_error_classify(const char *type, pc_error *e);

/* Describe an HTTP error answer (`body` the API's error JSON, if it is
 * one) in `e`, which comes pre-filled from the status alone. */
void cl_http_error(const claude *p, int http_status, pt_str body,
                   pt_str request_id, pc_error *e);

/* Overwrite every occurrence of the API key in `text` with "[redacted]",
 * in place (the text only ever gets shorter or stays as long). */
void cl_redact(const claude *p, char *text);

/* ---- stream.c ---------------------------------------------------------- */

/* Start a streaming chat with the API request in `o`. On success op->data
 * is the chat; on failure nothing started. */
int32_t cl_chat_start(claude *p, pt_op *op, const pc_call_opts *o);
void cl_chat_cancel(void *data);

/* ---- models.c ---------------------------------------------------------- */

int32_t cl_models_start(claude *p, pt_op *op);
void cl_models_cancel(void *data);

#endif
