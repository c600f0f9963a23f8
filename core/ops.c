/*
 * core/ops.c: operation lifecycle (see ops.h).
 *
 * The host never trusts a plugin to keep the completion rules, because a
 * broken plugin must not crash the process: events after DONE, a second
 * op_done, or a completion from inside the starting call are all absorbed
 * here. The op struct is freed only once it is complete and the starting
 * call has returned, so a plugin that completes synchronously (against the
 * contract) still leaves a valid pointer on the caller's stack.
 */
#include "ops.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "plugin_host.h"

typedef enum { OP_CHAT, OP_TOOL, OP_MODELS } op_kind;

struct pt_op_impl {
  pt_op pub;                  /* first: plugins see only this */
  op_kind kind;
  pt_host *plugin;
  const void *vt;
  void *self;
  pt_op_sink sink;
  char *context;              /* owned JSON text */
  int starting;               /* inside the vtable call that starts it */
  int complete;
  int cancel_requested;
  pt_op_impl *prev, *next;    /* plugin's list of ops in flight */
  pt_op_impl *keep_next;      /* kernel's list of kept completed ops */
};

static void op_link(pt_op_impl *op)
{
  pt_host *h = op->plugin;
  op->next = h->ops;
  if (h->ops) h->ops->prev = op;
  h->ops = op;
  h->op_count++;
}

static void op_unlink(pt_op_impl *op)
{
  pt_host *h = op->plugin;
  if (op->prev) op->prev->next = op->next;
  else h->ops = op->next;
  if (op->next) op->next->prev = op->prev;
  op->prev = op->next = NULL;
  h->op_count--;
}

static void op_free(pt_op_impl *op)
{
  free(op->context);
  free(op);
}

/* The op's last callback ran: release it unless its starter still runs
 * or the kernel keeps completed ops to catch late calls. */
static void op_finish(pt_op_impl *op)
{
  pt_host *h = op->plugin;
  pt_kernel *k = h->k;
  op_unlink(op);
  if (k->opts.keep_completed_ops) {
    op->keep_next = k->completed_ops;
    k->completed_ops = op;
  } else if (!op->starting) {
    op_free(op);
  }
  pt__host_maybe_drained(h);
}

void pt__ops_free_completed(pt_kernel *k)
{
  while (k->completed_ops) {
    pt_op_impl *op = k->completed_ops;
    k->completed_ops = op->keep_next;
    op_free(op);
  }
}

/* A plugin called emit/op_done on an op that had completed. Only seen
 * with keep_completed_ops; otherwise the op is gone (and the sanitizers
 * report the use after free). */
static void late_call(pt_op_impl *op, const char *what)
{
  pt_kernel *k = op->plugin->k;
  k->op_violations++;
  pt_log_error(op->plugin->desc->name,
               "%s on operation %llu after it had completed; a chat ends "
               "with exactly one DONE and nothing after it",
               what, (unsigned long long)op->pub.id);
}

static pt_op_impl *op_new(pt_kernel *k, op_kind kind, pt_host *plugin,
                          const void *vt, void *self, const char *context,
                          const pt_op_sink *sink)
{
  pt_op_impl *op = calloc(1, sizeof *op);
  if (!op) return NULL;
  op->context = strdup(context && *context ? context : "{}");
  if (!op->context) {
    free(op);
    return NULL;
  }
  op->pub.struct_size = sizeof op->pub;
  op->pub.id = ++k->next_op_id;
  op->kind = kind;
  op->plugin = plugin;
  op->vt = vt;
  op->self = self;
  op->sink = *sink;
  op_link(op);
  return op;
}

/* Run the vtable call that starts `op`; on failure the op never existed. */
static int32_t op_start(pt_op_impl *op, int32_t (*start)(void *, pt_op *, pt_str),
                        pt_str arg, pt_op_impl **out)
{
  op->starting = 1;
  int32_t rc = start(op->self, &op->pub, arg);
  op->starting = 0;
  if (op->complete) {
    /* Completed inside the call: the sink has heard the end already. */
    if (rc < 0)
      pt_log_warn(op->plugin->desc->name,
                  "completed operation %llu and then reported %s; "
                  "the completion stands",
                  (unsigned long long)op->pub.id, pt_errname(rc));
    if (!op->plugin->k->opts.keep_completed_ops) op_free(op);
    if (out) *out = NULL;
    return PT_OK;
  }
  if (rc < 0) {
    pt_host *h = op->plugin;
    op_unlink(op);
    op_free(op);
    pt__host_maybe_drained(h);
    return rc;
  }
  if (out) *out = op;
  return PT_OK;
}

int32_t pt_op_chat(pt_kernel *k, const char *provider_id, pt_str request_json,
                   const char *context_json, const pt_op_sink *sink,
                   pt_op_impl **out)
{
  const pt_provider_entry *e = pt_registry_provider(&k->registry, provider_id);
  if (!e) return PT_ENOENT;
  if (!sink || !sink->on_event) return PT_EINVAL;
  pt_op_impl *op = op_new(k, OP_CHAT, e->plugin, e->vt, e->self, context_json,
                          sink);
  if (!op) return PT_ENOMEM;
  return op_start(op, e->vt->chat, request_json, out);
}

int32_t pt_op_tool(pt_kernel *k, const char *name, pt_str args_json,
                   const char *context_json, const pt_op_sink *sink,
                   pt_op_impl **out)
{
  const pt_tool_entry *e = pt_registry_tool(&k->registry, name);
  if (!e) return PT_ENOENT;
  if (!sink || !sink->on_done) return PT_EINVAL;
  pt_op_impl *op = op_new(k, OP_TOOL, e->plugin, e->vt, e->self, context_json,
                          sink);
  if (!op) return PT_ENOMEM;
  return op_start(op, e->vt->invoke, args_json, out);
}

static int32_t start_models(void *self, pt_op *op, pt_str unused)
{
  pt_op_impl *impl = (pt_op_impl *)op;
  return ((const pt_provider_vt *)impl->vt)->list_models(self, op);
}

int32_t pt_op_models(pt_kernel *k, const char *provider_id,
                     const pt_op_sink *sink, pt_op_impl **out)
{
  const pt_provider_entry *e = pt_registry_provider(&k->registry, provider_id);
  if (!e) return PT_ENOENT;
  if (!sink || !sink->on_done) return PT_EINVAL;
  if (!PT_HAS(pt_provider_vt, e->vt, list_models) || !e->vt->list_models)
    return PT_ENOTSUP;
  pt_op_impl *op = op_new(k, OP_MODELS, e->plugin, e->vt, e->self, NULL, sink);
  if (!op) return PT_ENOMEM;
  return op_start(op, start_models, (pt_str){ 0 }, out);
}

void pt_op_cancel(pt_op_impl *op)
{
  if (!op || op->complete) return;
  op->cancel_requested = 1;
  if (op->kind == OP_TOOL) {
    const pt_tool_vt *vt = op->vt;
    if (vt->cancel) vt->cancel(op->self, &op->pub);
  } else {
    const pt_provider_vt *vt = op->vt;
    if (vt->cancel) vt->cancel(op->self, &op->pub);
  }
}

void pt__ops_cancel_plugin(pt_host *h)
{
  /* A cancel may complete ops synchronously and so change the list under
   * us: restart from the head after every call. Each op is asked once. */
  for (;;) {
    pt_op_impl *op = h->ops;
    while (op && op->cancel_requested) op = op->next;
    if (!op) return;
    pt_op_cancel(op);
  }
}

void pt__ops_abandon_plugin(pt_host *h, const char *why)
{
  pt_str msg = { why, strlen(why) };
  for (pt_op_impl *op = h->ops; op; op = op->next) {
    if (op->complete) continue;
    op->complete = 1;
    if (op->kind == OP_CHAT) {
      pt_chat_event e = { .struct_size = sizeof e, .kind = PT_EV_DONE,
                          .status = PT_ECANCELED, .stop = PT_STOP_CANCELLED,
                          .text = msg };
      op->sink.on_event(op->sink.ud, &e);
    } else {
      op->sink.on_done(op->sink.ud, PT_ECANCELED, PT_STR_LIT("null"));
    }
  }
}

void pt__ops_free_plugin(pt_host *h)
{
  while (h->ops) {
    pt_op_impl *op = h->ops;
    op_unlink(op);
    op_free(op);
  }
}

void pt__op_emit(pt_op *pub, const pt_chat_event *ev)
{
  pt_op_impl *op = (pt_op_impl *)pub;
  if (!op || !ev) return;
  if (op->complete) {
    late_call(op, ev->kind == PT_EV_DONE ? "a second DONE" : "an event");
    return;
  }
  if (op->kind != OP_CHAT) {
    pt_log_warn(op->plugin->desc->name,
                "emit() on operation %llu, which is not a chat; ignored",
                (unsigned long long)pub->id);
    return;
  }
  /* Copy the prefix the plugin knows about; members it predates stay 0. */
  pt_chat_event e;
  memset(&e, 0, sizeof e);
  size_t n = ev->struct_size < sizeof e ? ev->struct_size : sizeof e;
  memcpy(&e, ev, n);
  e.struct_size = sizeof e;
  if (e.kind == PT_EV_DONE) {
    op->complete = 1;
    if (e.stop == PT_STOP_NONE)
      e.stop = e.status == PT_ECANCELED ? PT_STOP_CANCELLED
               : e.status < 0           ? PT_STOP_ERROR
                                        : PT_STOP_END_TURN;
    op->sink.on_event(op->sink.ud, &e);
    op_finish(op);
    return;
  }
  op->sink.on_event(op->sink.ud, &e);
}

void pt__op_done(pt_op *pub, int32_t status, pt_str result_json)
{
  pt_op_impl *op = (pt_op_impl *)pub;
  if (!op) return;
  if (op->complete) {
    late_call(op, "op_done()");
    return;
  }
  if (op->kind == OP_CHAT) {
    /* A chat must end with an event; turn the mistake into one. */
    pt_chat_event e = { .struct_size = sizeof e, .kind = PT_EV_DONE,
                        .status = status, .text = result_json };
    pt__op_emit(pub, &e);
    return;
  }
  op->complete = 1;
  if (!result_json.ptr) result_json = PT_STR_LIT("null");
  op->sink.on_done(op->sink.ud, status, result_json);
  op_finish(op);
}

pt_str pt__op_context(pt_op *pub)
{
  pt_op_impl *op = (pt_op_impl *)pub;
  if (!op) return PT_STR_LIT("{}");
  return (pt_str){ op->context, strlen(op->context) };
}
