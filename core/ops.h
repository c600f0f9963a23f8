/*
 * core/ops.h: starting operations on plugins and seeing them complete.
 *
 * The kernel (later the agent engine, the CLI and the API) starts a chat, a
 * tool call or a model listing here; the plugin reports through
 * pt_host_api.emit() / op_done(), which land in this file and are forwarded
 * to the caller's sink. Each operation is counted against its plugin, so an
 * unload can cancel it and wait for it.
 *
 * An operation completes exactly once: for a chat, the sink's on_event gets
 * exactly one PT_EV_DONE; for the others, on_done runs once. The handle is
 * valid until that last callback returns. Loop thread only.
 */
#ifndef PT_OPS_H
#define PT_OPS_H

#include "kernel.h"
#include "portico/plugin.h"

typedef struct pt_op_impl pt_op_impl;

typedef struct pt_op_sink {
  /* Chats: every event, the last being PT_EV_DONE. Borrowed views. */
  void (*on_event)(void *ud, const pt_chat_event *ev);
  /* Tool calls and model listings: the status and the JSON result. */
  void (*on_done)(void *ud, int32_t status, pt_str result_json);
  void *ud;
} pt_op_sink;

/*
 * Start a chat on provider `provider_id`. `request_json` is borrowed;
 * `context_json` (may be NULL) is copied. On success *out (may be NULL) is
 * the handle. Returns PT_ENOENT for an unknown provider, or the provider's
 * own error; then no sink callback runs.
 */
int32_t pt_op_chat(pt_kernel *k, const char *provider_id, pt_str request_json,
                   const char *context_json, const pt_op_sink *sink,
                   pt_op_impl **out);

/* As pt_op_chat, for tool `name` with `args_json`. */
int32_t pt_op_tool(pt_kernel *k, const char *name, pt_str args_json,
                   const char *context_json, const pt_op_sink *sink,
                   pt_op_impl **out);

/* As pt_op_chat, listing a provider's models. PT_ENOTSUP when the provider
 * has no list_models. */
int32_t pt_op_models(pt_kernel *k, const char *provider_id,
                     const pt_op_sink *sink, pt_op_impl **out);

/* Ask the plugin to stop `op` early; it still completes through the sink. */
void pt_op_cancel(pt_op_impl *op);

/* Free the operations kept by keep_completed_ops (kernel teardown). */
void pt__ops_free_completed(pt_kernel *k);

/* Ask every operation of plugin `h` to stop (used by unload). */
void pt__ops_cancel_plugin(pt_host *h);

/*
 * End every operation of plugin `h` for its caller now, with PT_ECANCELED
 * and `why` as the message, because the plugin did not end them after they
 * were cancelled. The op structs stay allocated and marked complete, so
 * whatever the plugin still does with them is ignored; pt__ops_free_plugin
 * frees them with the kernel.
 */
void pt__ops_abandon_plugin(pt_host *h, const char *why);
void pt__ops_free_plugin(pt_host *h);

/* The host API entry points for plugins (see portico/plugin.h). */
void pt__op_emit(pt_op *op, const pt_chat_event *ev);
void pt__op_done(pt_op *op, int32_t status, pt_str result_json);
pt_str pt__op_context(pt_op *op);

#endif
