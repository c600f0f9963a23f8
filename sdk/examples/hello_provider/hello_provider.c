/*
 * hello_provider.c: the smallest useful shape of a Portico provider.
 *
 * It answers every chat with a fixed greeting, streamed one word per timer
 * tick the way a real provider streams network data, and shows the rules a
 * provider keeps: never complete inside chat(), emit exactly one DONE,
 * honour cancel() by ending with PT_STOP_CANCELLED, and read settings
 * through the host (plugins.hello_provider.greeting in config.lua).
 */
#include <portico/plugin.h>

#include <stdlib.h>
#include <string.h>

static const pt_host_api *api;
static pt_host *host;
static pt_str greeting = PT_STR_LIT("Hello from an out-of-tree plugin!");

typedef struct reply {
  pt_op *op;
  pt_timer *timer;
  size_t pos;
  int cancelled;
} reply;

static void end_reply(reply *r, int32_t status, uint32_t stop)
{
  pt_chat_event ev = { .struct_size = sizeof ev, .kind = PT_EV_DONE,
                       .status = status, .stop = stop };
  pt_op *op = r->op;
  api->timer_free(r->timer);
  free(r);
  api->emit(op, &ev); /* op is gone after this; so is r */
}

static void on_tick(pt_timer *t, void *ud)
{
  reply *r = ud;
  (void)t;
  if (r->cancelled) {
    end_reply(r, PT_ECANCELED, PT_STOP_CANCELLED);
    return;
  }
  /* The next word, with the space that follows it. */
  size_t end = r->pos;
  while (end < greeting.len && greeting.ptr[end] != ' ') end++;
  if (end < greeting.len) end++;
  pt_chat_event ev = { .struct_size = sizeof ev, .kind = PT_EV_TEXT,
                       .text = { greeting.ptr + r->pos, end - r->pos } };
  api->emit(r->op, &ev);
  r->pos = end;
  if (r->pos == greeting.len) end_reply(r, PT_OK, PT_STOP_END_TURN);
}

static int32_t hello_chat(void *self, pt_op *op, pt_str request_json)
{
  (void)self;
  (void)request_json; /* the normalized request: see docs/providers.md */
  reply *r = calloc(1, sizeof *r);
  if (!r) return PT_ENOMEM;
  r->op = op;
  r->timer = api->timer_new(host, on_tick, r);
  if (!r->timer) {
    free(r);
    return PT_ENOMEM;
  }
  op->data = r;
  api->timer_start(r->timer, 10, 10);
  return PT_OK;
}

static void hello_cancel(void *self, pt_op *op)
{
  (void)self;
  reply *r = op->data;
  r->cancelled = 1;
}

static const pt_provider_vt hello_vt = {
  .struct_size = sizeof(pt_provider_vt),
  .id = "hello",
  .description = "answers every chat with a greeting (SDK example)",
  .chat = hello_chat,
  .cancel = hello_cancel,
};

static int32_t hello_init(pt_host *h, const pt_host_api *host_api)
{
  api = host_api;
  host = h;
  pt_str custom;
  if (api->config_string(h, "greeting", &custom) == PT_OK && custom.len > 0)
    greeting = custom;
  return api->add_provider(h, &hello_vt, NULL);
}

PT_PLUGIN("hello_provider", "1.0.0", "MIT",
          "Example provider built against the Portico SDK", hello_init, NULL);
