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

/* What an event may say; ended() reads its response object itself. */
enum {
  K_TYPE,
  K_DELTA,
  K_OUTPUT_INDEX,
  K_ARGUMENTS,
  K_ITEM,
  K_ITEM_TYPE,
  K_CALL_ID,
  K_NAME,
  K_ITEM_ARGUMENTS,
  K_RESPONSE,
  K_ERROR,
  K_COUNT
};

static const pc_json_key event_keys[K_COUNT] = {
  [K_TYPE] = PC_JSON_KEY("type", PC_JSON_ROOT),
  [K_DELTA] = PC_JSON_KEY("delta", PC_JSON_ROOT),
  [K_OUTPUT_INDEX] = PC_JSON_KEY("output_index", PC_JSON_ROOT),
  [K_ARGUMENTS] = PC_JSON_KEY("arguments", PC_JSON_ROOT),
  [K_ITEM] = PC_JSON_KEY("item", PC_JSON_ROOT),
  [K_ITEM_TYPE] = PC_JSON_KEY("type", K_ITEM),
  [K_CALL_ID] = PC_JSON_KEY("call_id", K_ITEM),
  [K_NAME] = PC_JSON_KEY("name", K_ITEM),
  [K_ITEM_ARGUMENTS] = PC_JSON_KEY("arguments", K_ITEM),
  [K_RESPONSE] = PC_JSON_KEY("response", PC_JSON_ROOT),
  [K_ERROR] = PC_JSON_KEY("error", PC_JSON_ROOT),
};

/* The tool call number of output item `output_index`, or -1. */
static long tool_of(oa_stream *st, pc_json output_index)
{
  uint64_t oi = pc_json_u64(output_index, UINT64_MAX);
  for (size_t i = 0; i < st->outputs_len; i++)
    if (st->outputs[i] == oi) return (long)i;
  return -1;
}

static int item_added(oa_stream *st, const pc_json *v)
{
  if (!pc_json_is(v[K_ITEM_TYPE], "function_call")) return 0;
  if (pc_json_type(v[K_CALL_ID]) != PC_JSON_STRING ||
      pc_json_type(v[K_NAME]) != PC_JSON_STRING) {
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
      (uint32_t)pc_json_u64(v[K_OUTPUT_INDEX], UINT32_MAX);
  pt_str id, name;
  if (oa_stream_string(st, v[K_CALL_ID], &st->a, &id) != 0 ||
      oa_stream_string(st, v[K_NAME], &st->b, &name) != 0 ||
      oa_stream_check(st, pc_tools_start(&st->tools, st->call, index, id,
                                         name)) != 0)
    return -1;
  return oa_stream_tool_args(st, index, v[K_ITEM_ARGUMENTS]);
}

static int args_delta(oa_stream *st, const pc_json *v)
{
  long i = tool_of(st, v[K_OUTPUT_INDEX]);
  if (i < 0) {
    pc_call_fail(st->call, PT_EPROTO, 0, NULL,
                 "openai sent function call arguments for an output item "
                 "that is no function call");
    return -1;
  }
  return oa_stream_tool_args(st, (uint32_t)i, v[K_DELTA]);
}

/* A call's arguments are whole (arguments.done, or output_item.done with
 * the item): when none streamed before, the whole text is the delta. */
static int call_done(oa_stream *st, pc_json output_index, pc_json arguments)
{
  long i = tool_of(st, output_index);
  pc_tool_call *tc = i < 0 ? NULL : pc_tools_get(&st->tools, (uint32_t)i);
  if (!tc || !tc->open) return 0;
  if (tc->args_len == 0 &&
      oa_stream_tool_args(st, (uint32_t)i, arguments) != 0)
    return -1;
  return oa_stream_check(st, pc_tools_end(&st->tools, st->call, (uint32_t)i));
}

/* completed or incomplete: usage, and why it stopped. */
static void ended(oa_stream *st, pc_json response, int incomplete)
{
  enum { R_USAGE, R_INPUT, R_DETAILS, R_CACHED, R_OUTPUT, R_INCOMPLETE,
         R_REASON, R_COUNT };
  static const pc_json_key keys[R_COUNT] = {
    [R_USAGE] = PC_JSON_KEY("usage", PC_JSON_ROOT),
    [R_INPUT] = PC_JSON_KEY("input_tokens", R_USAGE),
    [R_DETAILS] = PC_JSON_KEY("input_tokens_details", R_USAGE),
    [R_CACHED] = PC_JSON_KEY("cached_tokens", R_DETAILS),
    [R_OUTPUT] = PC_JSON_KEY("output_tokens", R_USAGE),
    [R_INCOMPLETE] = PC_JSON_KEY("incomplete_details", PC_JSON_ROOT),
    [R_REASON] = PC_JSON_KEY("reason", R_INCOMPLETE),
  };
  pc_json v[R_COUNT];
  pc_json_pick(response, keys, R_COUNT, v);
  if (pc_json_type(v[R_USAGE]) == PC_JSON_OBJECT)
    oa_stream_usage(st, pc_json_u64(v[R_INPUT], 0),
                    pc_json_u64(v[R_CACHED], 0), pc_json_u64(v[R_OUTPUT], 0));
  uint32_t stop = PT_STOP_END_TURN;
  if (incomplete)
    stop = pc_json_is(v[R_REASON], "content_filter") ? PT_STOP_REFUSAL
                                                     : PT_STOP_MAX_TOKENS;
  oa_stream_finish(st, stop);
}

static int is(pt_str type, const char *s)
{
  return type.len == strlen(s) && memcmp(type.ptr, s, type.len) == 0;
}

static int32_t on_event(void *ud, const pt_sse_event *ev)
{
  oa_stream *st = ud;
  pc_json root, v[K_COUNT];
  if (pc_json_parse_pick(ev->data, &root, event_keys, K_COUNT, v) != PT_OK ||
      pc_json_type(root) != PC_JSON_OBJECT)
    return oa_stream_malformed(st, ev->data);
  pt_str type = ev->event;
  if (is(type, "message")) {
    /* A server that names no SSE event still types the data. Decoded
     * into b, which only the branch taken below writes again. */
    if (pc_json_type(v[K_TYPE]) != PC_JSON_STRING) return 0;
    if (oa_stream_string(st, v[K_TYPE], &st->b, &type) != 0)
      return oa_stream_stop(st);
  }

  int rc = 0;
  if (is(type, "response.output_text.delta")) {
    rc = oa_stream_text(st, v[K_DELTA], PT_EV_TEXT);
  } else if (is(type, "response.refusal.delta")) {
    st->refusal = 1;
    rc = oa_stream_text(st, v[K_DELTA], PT_EV_TEXT);
  } else if (is(type, "response.reasoning_summary_text.delta") ||
             is(type, "response.reasoning_text.delta")) {
    rc = oa_stream_text(st, v[K_DELTA], PT_EV_THINKING);
  } else if (is(type, "response.reasoning_summary_part.added")) {
    if (st->summary_parts++ > 0)
      pc_call_text(st->call, PT_EV_THINKING, (pt_str){ "\n\n", 2 });
  } else if (is(type, "response.output_item.added")) {
    rc = item_added(st, v);
  } else if (is(type, "response.function_call_arguments.delta")) {
    rc = args_delta(st, v);
  } else if (is(type, "response.function_call_arguments.done")) {
    rc = call_done(st, v[K_OUTPUT_INDEX], v[K_ARGUMENTS]);
  } else if (is(type, "response.output_item.done")) {
    if (pc_json_is(v[K_ITEM_TYPE], "function_call"))
      rc = call_done(st, v[K_OUTPUT_INDEX], v[K_ITEM_ARGUMENTS]);
  } else if (is(type, "response.completed")) {
    ended(st, v[K_RESPONSE], 0);
  } else if (is(type, "response.incomplete")) {
    ended(st, v[K_RESPONSE], 1);
  } else if (is(type, "response.failed") || is(type, "error")) {
    /* failed carries response.error; error is itself {code, message}
     * (some servers wrap it in "error"). Either way this attempt is over,
     * even when it is tried again. */
    pc_json error = pc_json_get(v[K_RESPONSE], "error");
    if (pc_json_type(error) != PC_JSON_OBJECT) error = v[K_ERROR];
    oa_stream_error(st, pc_json_type(error) == PC_JSON_OBJECT ? error : root);
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
