/*
 * plugins/ollama/ollama.h: what the files of the Ollama provider share.
 *
 * plugin.c registers the provider and starts operations; request.c maps
 * the normalized request to an /api/chat body; stream.c turns the NDJSON
 * stream into events, reading each line in place with
 * plugins/common/json_view and recovering tool calls that local models
 * write as text with text_calls.c; errors.c reads error answers; models.c
 * lists /api/tags. Internal to the plugin: nothing here is part of the
 * SDK.
 */
#ifndef PT_OLLAMA_H
#define PT_OLLAMA_H

#include <stddef.h>
#include <stdint.h>

#include <portico/plugin.h>

#include "buf.h"
#include "chat_request.h"
#include "provider_call.h"
#include "tool_calls.h"

#define OL_ID "ollama"
#define OL_DEFAULT_BASE "http://127.0.0.1:11434"
#define OL_ENV_HOST "OLLAMA_HOST"
#define OL_ENV_KEY "OLLAMA_API_KEY"

/* The host handles, set once in init. */
extern const pt_host_api *ol_api;
extern pt_host *ol_host;

/* What op->data points at: every operation record starts with its kind, so
 * cancel() can tell a chat from a listing. */
enum ol_op_kind { OL_OP_CHAT = 1, OL_OP_REJECT = 2, OL_OP_MODELS = 3 };

/* The settings of plugins.ollama, read at the start of every operation so a
 * reloaded config.lua applies to the next one. */
void ol_settings(pc_settings *s);

/* "Authorization: Bearer ..." into `buf` when a key is set; NULL when not.
 * The line holds the secret: never log it. */
const char *ol_auth_header(const pc_settings *s, char *buf, size_t size);

/* ------------------------------------------------------------------------ */
/* request.c: normalized request to /api/chat body                          */

typedef struct ol_request {
  char *body;            /* owned, NUL-terminated JSON */
  size_t body_len;
  char **tool_names;     /* owned: the tools offered, for text recovery */
  size_t tool_count;
} ol_request;

/* Build the body. PT_OK, or PT_EINVAL / PT_ENOMEM with a sentence for a
 * person in `err`. */
int32_t ol_request_build(pt_str request_json, ol_request *out, char *err,
                         size_t errlen);
void ol_request_free(ol_request *r);

/* ------------------------------------------------------------------------ */
/* text_calls.c: tool calls written as text                                  */

/* Where recovered output goes. */
typedef struct ol_tc_sink {
  void (*text)(void *ud, pt_str text);
  void (*call)(void *ud, pt_str name, pt_str args_json);
  void *ud;
} ol_tc_sink;

typedef struct ol_text_calls {
  const char *const *names;    /* borrowed: tools offered; none: pass all */
  size_t name_count;
  ol_tc_sink sink;
  int mode;
  pc_buf held;                 /* text held back until it is decided */
  size_t scan_from;            /* TAG: where the closing tag may start;
                                  BARE: where the open object starts */
  int depth, in_str, esc;      /* BARE: the JSON object being held */
  int objects;                 /* BARE: objects held, each a known call */
} ol_text_calls;

/* Start a new message (and a new attempt). Keeps the memory. */
void ol_tc_reset(ol_text_calls *t);

/* The next fragment of the visible answer. */
void ol_tc_feed(ol_text_calls *t, pt_str text);

/* The message is over: with `recover`, decide what is held (calls or
 * text); without, release it all as text (the stream broke). */
void ol_tc_finish(ol_text_calls *t, int recover);

void ol_tc_free(ol_text_calls *t);

/* ------------------------------------------------------------------------ */
/* stream.c: the chat operation                                              */

typedef struct ol_chat ol_chat;

/* Start chat `op`, taking over `req` (emptied). On failure nothing was
 * started and `req` is still the caller's. */
int32_t ol_chat_start(pt_op *op, const pc_settings *s, ol_request *req);
void ol_chat_cancel(ol_chat *ch);

/* ------------------------------------------------------------------------ */
/* errors.c                                                                   */

/* pc_call_vt.on_http_error: read {"error": "..."} and say what to do. */
void ol_on_http_error(pc_call *c, void *ud, int http_status, pt_str body,
                      pc_error *err);

/* Classify an error sentence from Ollama: sets *status (PT_EPERM,
 * PT_EINVAL, PT_EBUSY or PT_EHTTP) and returns 1 when it names a lasting
 * cause (a model missing, unable to load, or lacking a feature; a refused
 * key), which no retry fixes; 0 when it may pass. */
int ol_classify_error(pt_str message, int32_t *status);

/* The "error" string of an error body, or the body itself, into `out`. */
void ol_error_text(pt_str body, char *out, size_t size);

/* ------------------------------------------------------------------------ */
/* models.c                                                                   */

int32_t ol_models_start(pt_op *op);
void ol_models_cancel(pt_op *op);

#endif
