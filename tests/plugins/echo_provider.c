/*
 * tests/plugins/echo_provider.c: a provider that streams its request back.
 *
 * The request text comes back in 4-byte TEXT events, one per timer tick
 * (plugins.<name>.interval_ms, default 2 ms), then USAGE and DONE. A request
 * containing "hang" emits nothing until it is cancelled, which is how the
 * tests keep an operation in flight across an unload. Built with
 * ECHO_IGNORES_CANCEL it is a broken provider that never ends a cancelled
 * chat, for the unload watchdog's test; with ECHO_DOUBLE_DONE, one that
 * ends every chat twice, for the provider checker's test (run it only
 * under the checker, which keeps completed operations alive).
 */
#include <portico/plugin.h>

#include <stdlib.h>
#include <string.h>

static const pt_host_api *api;
static pt_host *host;
static uint64_t interval_ms = 2;

typedef struct echo_op {
  pt_op *op;
  pt_timer *timer;
  char *text;
  size_t len, pos;
  int hang;
} echo_op;

#ifdef ECHO_DOUBLE_DONE
static pt_op *ended;

static void end_again(pt_timer *t, void *ud)
{
  pt_chat_event ev = { .struct_size = sizeof ev, .kind = PT_EV_DONE };
  api->timer_free(t);
  api->emit(ud, &ev);
}
#endif

static void finish(echo_op *e, int32_t status, uint32_t stop)
{
  pt_chat_event ev = { .struct_size = sizeof ev };
  if (status == PT_OK) {
    ev.kind = PT_EV_USAGE;
    ev.input_tokens = e->len;
    ev.output_tokens = e->pos;
    api->emit(e->op, &ev);
  }
  memset(&ev, 0, sizeof ev);
  ev.struct_size = sizeof ev;
  ev.kind = PT_EV_DONE;
  ev.status = status;
  ev.stop = stop;
  api->timer_free(e->timer);
  pt_op *op = e->op;
  free(e->text);
  free(e);
  api->emit(op, &ev);
#ifdef ECHO_DOUBLE_DONE
  ended = op;
  pt_timer *again = api->timer_new(host, end_again, ended);
  api->timer_start(again, 5, 0);
#endif
}

static void on_tick(pt_timer *t, void *ud)
{
  echo_op *e = ud;
  if (e->op->data == NULL) { /* cancelled */
    finish(e, PT_ECANCELED, PT_STOP_CANCELLED);
    return;
  }
  if (e->hang) return;
  size_t n = e->len - e->pos < 4 ? e->len - e->pos : 4;
  pt_chat_event ev = { .struct_size = sizeof ev, .kind = PT_EV_TEXT,
                       .text = { e->text + e->pos, n } };
  e->pos += n;
  if (n) api->emit(e->op, &ev);
  if (e->pos == e->len) finish(e, PT_OK, PT_STOP_END_TURN);
}

static int32_t echo_chat(void *self, pt_op *op, pt_str request)
{
  echo_op *e = calloc(1, sizeof *e);
  if (!e) return PT_ENOMEM;
  e->text = malloc(request.len + 1);
  e->timer = api->timer_new(host, on_tick, e);
  if (!e->text || !e->timer) {
    free(e->text);
    if (e->timer) api->timer_free(e->timer);
    free(e);
    return PT_ENOMEM;
  }
  memcpy(e->text, request.ptr, request.len);
  e->len = request.len;
  e->op = op;
  e->hang = memmem(request.ptr, request.len, "hang", 4) != NULL;
  op->data = e;
  api->timer_start(e->timer, interval_ms, interval_ms);
  return PT_OK;
}

static void echo_cancel(void *self, pt_op *op)
{
#ifdef ECHO_IGNORES_CANCEL
  /* Kept reachable from a global: the host never unmaps a plugin it gave
   * up on, so this is not a leak, only a stuck operation. */
  static echo_op *volatile stuck;
  stuck = op->data;
  (void)stuck;
  return;
#endif
  echo_op *e = op->data;
  if (!e) return;
  /* Complete on the next tick, never inside cancel(), like a real
   * provider that must first close its connection. */
  op->data = NULL;
  api->timer_start(e->timer, 0, 0);
  e->op = op;
}

static void on_models(pt_timer *t, void *ud)
{
  pt_op *op = ud;
  api->timer_free(t);
  api->op_done(op, PT_OK, PT_STR_LIT("[{\"id\":\"echo-1\"}]"));
}

static int32_t echo_models(void *self, pt_op *op)
{
  pt_timer *t = api->timer_new(host, on_models, op);
  if (!t) return PT_ENOMEM;
  return api->timer_start(t, 1, 0);
}

static const pt_provider_vt echo_vt = {
  .struct_size = sizeof(pt_provider_vt),
  .id = ECHO_ID,
  .description = "streams the request back (tests)",
  .chat = echo_chat,
  .cancel = echo_cancel,
  .list_models = echo_models,
};

static int32_t echo_init(pt_host *h, const pt_host_api *host_api)
{
  api = host_api;
  host = h;
  pt_str v;
  if (api->config_string(h, "interval_ms", &v) == PT_OK)
    interval_ms = strtoull(v.ptr, NULL, 10);
  return api->add_provider(h, &echo_vt, NULL);
}

PT_PLUGIN(ECHO_NAME, "1.0.0", "MIT", "echo provider for tests", echo_init,
          NULL);
