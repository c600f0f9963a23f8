/*
 * plugins/openai/stream_responses.c: a Responses API stream (typed SSE
 * events, "event: <type>" with the same "type" in the data) as normalized
 * events.
 *
 * Events read; every other type is ignored:
 *   response.output_text.delta            visible text
 *   response.refusal.delta                a refusal, streamed as text
 *   response.reasoning_summary_text.delta reasoning summary (thinking)
 *   response.reasoning_text.delta         raw reasoning (open models)
 *   response.reasoning_summary_part.added a new summary paragraph
 *   response.output_item.added            a function_call item begins:
 *                                         call_id and name
 *   response.function_call_arguments.delta / .done   its arguments
 *   response.output_item.done             the item is whole
 *   response.completed / .incomplete      the end, with usage and status
 *   response.failed, error                the end, failed
 * Tool calls are keyed by output_index, which counts every output item
 * (reasoning, messages, calls); they are numbered 0, 1, ... among calls
 * for the normalized events. There is no [DONE]: a stream that ends
 * without completed, incomplete or failed was cut.
 */
#include "openai.h"

#include <stdlib.h>
#include <string.h>

static pt_str view(const jv_buf *b)
{
  return (pt_str){ b->p ? b->p : "", b->len };
}

static int decode(oa_stream *st, jv v, jv_buf *b)
{
  return oa_stream_check(st, jv_str(v, b) == 0 ? PT_OK : PT_ENOMEM);
}

static int text_of(oa_stream *st, jv v, uint32_t kind)
{
  if (jv_type(v) != JV_STRING || v.len <= 2) return 0;
  if (decode(st, v, &st->a) != 0) return -1;
  pc_call_text(st->call, kind, view(&st->a));
  return 0;
}

/* The tool call number of output item `output_index`, or -1. */
static long tool_of(oa_stream *st, jv output_index)
{
  uint64_t oi = jv_u64(output_index, UINT64_MAX);
  for (size_t i = 0; i < st->outputs_len; i++)
    if (st->outputs[i] == oi) return (long)i;
  return -1;
}

static int item_added(oa_stream *st, jv root)
{
  jv item = jv_get(root, "item");
  if (!jv_is(jv_get(item, "type"), "function_call")) return 0;
  jv call_id = jv_get(item, "call_id"), name = jv_get(item, "name");
  if (jv_type(call_id) != JV_STRING || jv_type(name) != JV_STRING) {
    pc_call_fail(st->call, PT_EPROTO, 0, NULL,
                 "openai began a function call without call_id or name");
    return -1;
  }
  if (st->outputs_len == st->outputs_cap) {
    size_t cap = st->outputs_cap ? st->outputs_cap * 2 : 8;
    uint32_t *grown = realloc(st->outputs, cap * sizeof *grown);
    if (oa_stream_check(st, grown ? PT_OK : PT_ENOMEM) != 0) return -1;
    st->outputs = grown;
    st->outputs_cap = cap;
  }
  uint32_t index = (uint32_t)st->outputs_len;
  st->outputs[st->outputs_len++] =
      (uint32_t)jv_u64(jv_get(root, "output_index"), UINT32_MAX);
  if (decode(st, call_id, &st->a) != 0 || decode(st, name, &st->b) != 0)
    return -1;
  if (oa_stream_check(st, pc_tools_start(&st->tools, st->call, index,
                                         view(&st->a), view(&st->b))) != 0)
    return -1;
  jv args = jv_get(item, "arguments");
  if (jv_type(args) == JV_STRING && args.len > 2) {
    if (decode(st, args, &st->a) != 0) return -1;
    return oa_stream_check(st, pc_tools_delta(&st->tools, st->call, index,
                                              view(&st->a)));
  }
  return 0;
}

static int args_delta(oa_stream *st, jv root)
{
  long i = tool_of(st, jv_get(root, "output_index"));
  if (i < 0) {
    pc_call_fail(st->call, PT_EPROTO, 0, NULL,
                 "openai sent function call arguments for an output item "
                 "that is no function call");
    return -1;
  }
  jv delta = jv_get(root, "delta");
  if (jv_type(delta) != JV_STRING || delta.len <= 2) return 0;
  if (decode(st, delta, &st->a) != 0) return -1;
  return oa_stream_check(st, pc_tools_delta(&st->tools, st->call,
                                            (uint32_t)i, view(&st->a)));
}

/* A call's arguments are whole (arguments.done, or output_item.done with
 * the item): when none streamed before, the whole text is the delta. */
static int call_done(oa_stream *st, jv output_index, jv arguments)
{
  long i = tool_of(st, output_index);
  pc_tool_call *tc = i < 0 ? NULL : pc_tools_get(&st->tools, (uint32_t)i);
  if (!tc || !tc->open) return 0;
  if (tc->args_len == 0 && jv_type(arguments) == JV_STRING &&
      arguments.len > 2) {
    if (decode(st, arguments, &st->a) != 0) return -1;
    if (oa_stream_check(st, pc_tools_delta(&st->tools, st->call, (uint32_t)i,
                                           view(&st->a))) != 0)
      return -1;
  }
  return oa_stream_check(st, pc_tools_end(&st->tools, st->call, (uint32_t)i));
}

static void usage_of(oa_stream *st, jv response)
{
  jv usage = jv_get(response, "usage");
  if (jv_type(usage) != JV_OBJECT) return;
  oa_stream_usage(st, jv_u64(jv_get(usage, "input_tokens"), 0),
                  jv_u64(jv_get(jv_get(usage, "input_tokens_details"),
                                "cached_tokens"), 0),
                  jv_u64(jv_get(usage, "output_tokens"), 0));
}

static void ended(oa_stream *st, jv root, int incomplete)
{
  jv response = jv_get(root, "response");
  usage_of(st, response);
  uint32_t stop = PT_STOP_END_TURN;
  if (incomplete) {
    jv reason = jv_get(jv_get(response, "incomplete_details"), "reason");
    stop = jv_is(reason, "content_filter") ? PT_STOP_REFUSAL
                                           : PT_STOP_MAX_TOKENS;
  }
  oa_stream_finish(st, stop);
}

static int is(pt_str type, const char *s)
{
  return type.len == strlen(s) && memcmp(type.ptr, s, type.len) == 0;
}

static int32_t on_event(void *ud, const pt_sse_event *ev)
{
  oa_stream *st = ud;
  jv root;
  if (jv_parse(ev->data, &root) != 0 || jv_type(root) != JV_OBJECT)
    return oa_stream_malformed(st, ev->data);
  pt_str type = ev->event;
  if (is(type, "message")) {
    /* A server that names no SSE event still types the data. */
    jv t = jv_get(root, "type");
    if (jv_type(t) != JV_STRING) return 0;
    if (decode(st, t, &st->b) != 0) return oa_stream_stop(st);
    type = view(&st->b);
  }

  int rc = 0;
  if (is(type, "response.output_text.delta")) {
    rc = text_of(st, jv_get(root, "delta"), PT_EV_TEXT);
  } else if (is(type, "response.refusal.delta")) {
    st->refusal = 1;
    rc = text_of(st, jv_get(root, "delta"), PT_EV_TEXT);
  } else if (is(type, "response.reasoning_summary_text.delta") ||
             is(type, "response.reasoning_text.delta")) {
    rc = text_of(st, jv_get(root, "delta"), PT_EV_THINKING);
  } else if (is(type, "response.reasoning_summary_part.added")) {
    if (st->summary_parts++ > 0)
      pc_call_text(st->call, PT_EV_THINKING, (pt_str){ "\n\n", 2 });
  } else if (is(type, "response.output_item.added")) {
    rc = item_added(st, root);
  } else if (is(type, "response.function_call_arguments.delta")) {
    rc = args_delta(st, root);
  } else if (is(type, "response.function_call_arguments.done")) {
    rc = call_done(st, jv_get(root, "output_index"),
                   jv_get(root, "arguments"));
  } else if (is(type, "response.output_item.done")) {
    jv item = jv_get(root, "item");
    if (jv_is(jv_get(item, "type"), "function_call"))
      rc = call_done(st, jv_get(root, "output_index"),
                     jv_get(item, "arguments"));
  } else if (is(type, "response.completed")) {
    ended(st, root, 0);
  } else if (is(type, "response.incomplete")) {
    ended(st, root, 1);
  } else if (is(type, "response.failed") || is(type, "error")) {
    /* failed carries response.error; error is itself {code, message}
     * (some servers wrap it in "error"). Either way this attempt is over,
     * even when it is tried again. */
    jv error = jv_get(jv_get(root, "response"), "error");
    if (jv_type(error) != JV_OBJECT) error = jv_get(root, "error");
    oa_stream_error(st, jv_type(error) == JV_OBJECT ? error : root);
    return oa_stream_stop(st);
  }
  if (rc != 0 || pc_call_finished(st->call)) return oa_stream_stop(st);
  return 0;
}

static void on_begin(pc_call *c, void *ud)
{
  oa_stream_begin(ud, on_event);
}

static void on_body(pc_call *c, void *ud, pt_str bytes)
{
  oa_stream_feed(ud, bytes);
}

static void on_end(pc_call *c, void *ud, int32_t status, pt_str message)
{
  if (!oa_stream_json_end(ud, status))
    oa_stream_cut(ud, status, message, "response.completed");
}

const pc_call_vt oa_responses_stream_vt = {
  .on_begin = on_begin,
  .on_body = on_body,
  .on_end = on_end,
  .on_http_error = oa_http_error,
  .on_free = oa_stream_free,
};
