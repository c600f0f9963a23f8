/*
 * plugins/openai/stream_chat.c: a Chat Completions stream (SSE "data:"
 * chunks ending with "data: [DONE]") as normalized events.
 *
 * What a chunk may carry, all in choices[0] unless said:
 *   delta.content            visible text
 *   delta.reasoning_content  reasoning (DeepSeek, vLLM, llama.cpp)
 *   delta.reasoning          reasoning (OpenRouter, newer vLLM)
 *   delta.refusal            a refusal, streamed as text
 *   delta.tool_calls[]       calls keyed by "index": the first piece of an
 *                            index has id and function.name, later ones
 *                            function.arguments fragments; several indexes
 *                            may interleave
 *   finish_reason            stop, length, tool_calls, content_filter
 *   stop_reason              vLLM: the stop string or token that ended it
 *   usage (top level)        in a last chunk with no choices, because the
 *                            request asks for stream_options.include_usage
 *   error (top level)        {"message","type","code"}: failed mid-stream
 * Anything else is ignored. The finish reason arrives before the usage
 * chunk, so the chat ends at [DONE], or at the end of the body when a
 * server leaves [DONE] out after a finish reason.
 */
#include "openai.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

static uint32_t stop_of(jv finish)
{
  if (jv_is(finish, "length")) return PT_STOP_MAX_TOKENS;
  if (jv_is(finish, "tool_calls") || jv_is(finish, "function_call"))
    return PT_STOP_TOOL_USE;
  if (jv_is(finish, "content_filter")) return PT_STOP_REFUSAL;
  return PT_STOP_END_TURN;
}

static pt_str view(const jv_buf *b)
{
  return (pt_str){ b->p ? b->p : "", b->len };
}

/* Decode string `v` into `b`; fail the chat when memory runs out. */
static int decode(oa_stream *st, jv v, jv_buf *b)
{
  return oa_stream_check(st, jv_str(v, b) == 0 ? PT_OK : PT_ENOMEM);
}

/* One element of delta.tool_calls; `pos` is its place in that array. */
static int tool_piece(oa_stream *st, jv tc, size_t pos)
{
  jv index = jv_get(tc, "index"), id = jv_get(tc, "id");
  jv fn = jv_get(tc, "function");
  jv name = jv_get(fn, "name"), args = jv_get(fn, "arguments");
  uint64_t i;
  if (jv_type(index) == JV_NUMBER) {
    i = jv_u64(index, UINT32_MAX);
  } else {
    /* Servers that leave index out send calls one after another: a new id
     * begins the next call, anything else continues the last. */
    pc_tool_call *last =
        st->tools.count ? pc_tools_get(&st->tools,
                                       (uint32_t)st->tools.count - 1)
                        : NULL;
    int new_id = jv_type(id) == JV_STRING &&
                 (!last || !last->id || !jv_is(id, last->id));
    i = st->tools.count ? st->tools.count - (new_id ? 0 : 1) : pos;
  }
  if (i > UINT32_MAX) i = UINT32_MAX;

  pc_tool_call *cur = pc_tools_get(&st->tools, (uint32_t)i);
  if (!cur || !cur->open) {
    if (jv_type(name) != JV_STRING) {
      pc_call_fail(st->call, PT_EPROTO, 0, NULL,
                   "openai began tool call %llu without a function name",
                   (unsigned long long)i);
      return -1;
    }
    if (jv_type(id) == JV_STRING) {
      if (decode(st, id, &st->a) != 0) return -1;
    } else {
      /* A call needs an id to be answered; make one that is unique in
       * this reply. */
      char made[32];
      int n = snprintf(made, sizeof made, "call_%llu", (unsigned long long)i);
      st->a.len = 0;
      if (oa_stream_check(st, jv_buf_add(&st->a, made, (size_t)n) == 0
                                  ? PT_OK : PT_ENOMEM) != 0)
        return -1;
    }
    if (decode(st, name, &st->b) != 0) return -1;
    if (oa_stream_check(st, pc_tools_start(&st->tools, st->call, (uint32_t)i,
                                           view(&st->a), view(&st->b))) != 0)
      return -1;
  }
  if (jv_type(args) == JV_STRING && args.len > 2) {
    if (decode(st, args, &st->a) != 0) return -1;
    if (oa_stream_check(st, pc_tools_delta(&st->tools, st->call, (uint32_t)i,
                                           view(&st->a))) != 0)
      return -1;
  }
  return 0;
}

/* Emit string `v` (when it is one) as an event of `kind`. */
static int text_of(oa_stream *st, jv v, uint32_t kind)
{
  if (jv_type(v) != JV_STRING || v.len <= 2) return 0;
  if (decode(st, v, &st->a) != 0) return -1;
  pc_call_text(st->call, kind, view(&st->a));
  return 0;
}

static int read_delta(oa_stream *st, jv delta)
{
  jv key, v, reasoning = { NULL, 0 }, content = { NULL, 0 };
  jv refusal = { NULL, 0 }, calls = { NULL, 0 };
  size_t cursor = 0;
  /* One pass over the members: a chunk is read once, whatever it holds. */
  while (jv_next_member(delta, &cursor, &key, &v)) {
    if (jv_is(key, "content"))
      content = v;
    else if ((jv_is(key, "reasoning_content") || jv_is(key, "reasoning")) &&
             jv_type(v) == JV_STRING && v.len > 2 && reasoning.len == 0)
      /* Servers moving from one name to the other fill both: the first
       * with text is the reasoning, once. */
      reasoning = v;
    else if (jv_is(key, "refusal"))
      refusal = v;
    else if (jv_is(key, "tool_calls"))
      calls = v;
  }
  if (text_of(st, reasoning, PT_EV_THINKING) != 0) return -1;
  if (text_of(st, content, PT_EV_TEXT) != 0) return -1;
  if (jv_type(refusal) == JV_STRING && refusal.len > 2) {
    st->refusal = 1;
    if (text_of(st, refusal, PT_EV_TEXT) != 0) return -1;
  }
  jv tc;
  size_t pos = 0;
  cursor = 0;
  while (jv_next(calls, &cursor, &tc))
    if (tool_piece(st, tc, pos++) != 0) return -1;
  return 0;
}

/* choices[0]; a server that sends more choices gets its first read. */
static int read_choice(oa_stream *st, jv choice)
{
  jv key, v, delta = { NULL, 0 };
  size_t cursor = 0;
  while (jv_next_member(choice, &cursor, &key, &v)) {
    if (jv_is(key, "index")) {
      if (jv_u64(v, 0) != 0) return 0;
    } else if (jv_is(key, "delta")) {
      delta = v;
    } else if (jv_is(key, "finish_reason")) {
      if (jv_type(v) == JV_STRING) st->finish = stop_of(v);
    } else if (jv_is(key, "stop_reason")) {
      if (jv_type(v) == JV_STRING || jv_type(v) == JV_NUMBER)
        st->cut_by_stop = 1;
    }
  }
  return read_delta(st, delta);
}

static int32_t on_event(void *ud, const pt_sse_event *ev)
{
  oa_stream *st = ud;
  pt_str d = ev->data;
  if (d.len == 6 && memcmp(d.ptr, "[DONE]", 6) == 0) {
    oa_stream_finish(st, st->finish ? st->finish : PT_STOP_END_TURN);
    return oa_stream_stop(st);
  }
  jv root;
  if (jv_parse(d, &root) != 0 || jv_type(root) != JV_OBJECT)
    return oa_stream_malformed(st, d);

  jv key, v, choices = { NULL, 0 }, usage = { NULL, 0 }, error = { NULL, 0 };
  size_t cursor = 0;
  while (jv_next_member(root, &cursor, &key, &v)) {
    if (jv_is(key, "choices"))
      choices = v;
    else if (jv_is(key, "usage"))
      usage = v;
    else if (jv_is(key, "error"))
      error = v;
  }
  int named_error = ev->event.len == 5 && !memcmp(ev->event.ptr, "error", 5);
  if (jv_type(error) == JV_OBJECT || named_error) {
    oa_stream_error(st, jv_type(error) == JV_OBJECT ? error : root);
    return oa_stream_stop(st);
  }

  jv choice;
  cursor = 0;
  while (jv_next(choices, &cursor, &choice))
    if (read_choice(st, choice) != 0) return oa_stream_stop(st);

  if (jv_type(usage) == JV_OBJECT) {
    jv details = jv_get(usage, "prompt_tokens_details");
    oa_stream_usage(st, jv_u64(jv_get(usage, "prompt_tokens"), 0),
                    jv_u64(jv_get(details, "cached_tokens"), 0),
                    jv_u64(jv_get(usage, "completion_tokens"), 0));
  }
  return pc_call_finished(st->call) ? oa_stream_stop(st) : 0;
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
  oa_stream *st = ud;
  if (oa_stream_json_end(st, status)) return;
  if (st->finish)
    oa_stream_finish(st, st->finish);
  else
    oa_stream_cut(st, status, message, "[DONE]");
}

const pc_call_vt oa_chat_stream_vt = {
  .on_begin = on_begin,
  .on_body = on_body,
  .on_end = on_end,
  .on_http_error = oa_http_error,
  .on_free = oa_stream_free,
};
