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

/* What a chunk may say at its root, and in one of its choices. */
enum {
  K_CHOICES,
  K_USAGE,
  K_PROMPT_TOKENS,
  K_COMPLETION_TOKENS,
  K_PROMPT_DETAILS,
  K_CACHED_TOKENS,
  K_ERROR,
  K_COUNT
};

static const pc_json_key chunk_keys[K_COUNT] = {
  [K_CHOICES] = PC_JSON_KEY("choices", PC_JSON_ROOT),
  [K_USAGE] = PC_JSON_KEY("usage", PC_JSON_ROOT),
  [K_PROMPT_TOKENS] = PC_JSON_KEY("prompt_tokens", K_USAGE),
  [K_COMPLETION_TOKENS] = PC_JSON_KEY("completion_tokens", K_USAGE),
  [K_PROMPT_DETAILS] = PC_JSON_KEY("prompt_tokens_details", K_USAGE),
  [K_CACHED_TOKENS] = PC_JSON_KEY("cached_tokens", K_PROMPT_DETAILS),
  [K_ERROR] = PC_JSON_KEY("error", PC_JSON_ROOT),
};

enum {
  C_INDEX,
  C_FINISH_REASON,
  C_STOP_REASON,
  C_DELTA,
  C_CONTENT,
  C_REASONING_CONTENT,
  C_REASONING,
  C_REFUSAL,
  C_TOOL_CALLS,
  C_COUNT
};

static const pc_json_key choice_keys[C_COUNT] = {
  [C_INDEX] = PC_JSON_KEY("index", PC_JSON_ROOT),
  [C_FINISH_REASON] = PC_JSON_KEY("finish_reason", PC_JSON_ROOT),
  [C_STOP_REASON] = PC_JSON_KEY("stop_reason", PC_JSON_ROOT),
  [C_DELTA] = PC_JSON_KEY("delta", PC_JSON_ROOT),
  [C_CONTENT] = PC_JSON_KEY("content", C_DELTA),
  [C_REASONING_CONTENT] = PC_JSON_KEY("reasoning_content", C_DELTA),
  [C_REASONING] = PC_JSON_KEY("reasoning", C_DELTA),
  [C_REFUSAL] = PC_JSON_KEY("refusal", C_DELTA),
  [C_TOOL_CALLS] = PC_JSON_KEY("tool_calls", C_DELTA),
};

static uint32_t stop_of(pc_json finish)
{
  if (pc_json_is(finish, "length")) return PT_STOP_MAX_TOKENS;
  if (pc_json_is(finish, "tool_calls") || pc_json_is(finish, "function_call"))
    return PT_STOP_TOOL_USE;
  if (pc_json_is(finish, "content_filter")) return PT_STOP_REFUSAL;
  return PT_STOP_END_TURN;
}

/* One element of delta.tool_calls; `pos` is its place in that array. */
static int tool_piece(oa_stream *st, pc_json tc, size_t pos)
{
  enum { T_INDEX, T_ID, T_FUNCTION, T_NAME, T_ARGUMENTS, T_COUNT };
  static const pc_json_key keys[T_COUNT] = {
    [T_INDEX] = PC_JSON_KEY("index", PC_JSON_ROOT),
    [T_ID] = PC_JSON_KEY("id", PC_JSON_ROOT),
    [T_FUNCTION] = PC_JSON_KEY("function", PC_JSON_ROOT),
    [T_NAME] = PC_JSON_KEY("name", T_FUNCTION),
    [T_ARGUMENTS] = PC_JSON_KEY("arguments", T_FUNCTION),
  };
  pc_json v[T_COUNT];
  pc_json_pick(tc, keys, T_COUNT, v);
  uint64_t i;
  if (pc_json_type(v[T_INDEX]) == PC_JSON_NUMBER) {
    i = pc_json_u64(v[T_INDEX], UINT32_MAX);
  } else {
    /* Servers that leave index out send calls one after another: a new id
     * begins the next call, anything else continues the last. */
    pc_tool_call *last =
        st->tools.count ? pc_tools_get(&st->tools,
                                       (uint32_t)st->tools.count - 1)
                        : NULL;
    int new_id = pc_json_type(v[T_ID]) == PC_JSON_STRING &&
                 (!last || !last->id || !pc_json_is(v[T_ID], last->id));
    i = st->tools.count ? st->tools.count - (new_id ? 0 : 1) : pos;
  }
  if (i > UINT32_MAX) i = UINT32_MAX;

  pc_tool_call *cur = pc_tools_get(&st->tools, (uint32_t)i);
  if (!cur || !cur->open) {
    pt_str id, name;
    char made[32];
    if (pc_json_type(v[T_NAME]) != PC_JSON_STRING) {
      pc_call_fail(st->call, PT_EPROTO, 0, NULL,
                   "openai began tool call %llu without a function name",
                   (unsigned long long)i);
      return -1;
    }
    if (pc_json_type(v[T_ID]) == PC_JSON_STRING) {
      if (oa_stream_string(st, v[T_ID], &st->a, &id) != 0) return -1;
    } else {
      /* A call needs an id to be answered; make one that is unique in
       * this reply. */
      int n = snprintf(made, sizeof made, "call_%llu", (unsigned long long)i);
      id = (pt_str){ made, (size_t)n };
    }
    if (oa_stream_string(st, v[T_NAME], &st->b, &name) != 0 ||
        oa_stream_check(st, pc_tools_start(&st->tools, st->call, (uint32_t)i,
                                           id, name)) != 0)
      return -1;
  }
  return oa_stream_tool_args(st, (uint32_t)i, v[T_ARGUMENTS]);
}

/* choices[0]; a server that sends more choices gets its first read. */
static int read_choice(oa_stream *st, pc_json choice)
{
  pc_json v[C_COUNT];
  pc_json_pick(choice, choice_keys, C_COUNT, v);
  if (pc_json_u64(v[C_INDEX], 0) != 0) return 0;
  if (pc_json_type(v[C_FINISH_REASON]) == PC_JSON_STRING)
    st->finish = stop_of(v[C_FINISH_REASON]);
  int stop_type = pc_json_type(v[C_STOP_REASON]);
  if (stop_type == PC_JSON_STRING || stop_type == PC_JSON_NUMBER)
    st->cut_by_stop = 1;

  /* Servers moving from one name to the other fill both: the first with
   * text is the reasoning, once. */
  pc_json reasoning = { NULL, 0 };
  for (int k = C_REASONING_CONTENT; k <= C_REASONING; k++)
    if (pc_json_type(v[k]) == PC_JSON_STRING && v[k].len > 2 &&
        (!reasoning.len || v[k].ptr < reasoning.ptr))
      reasoning = v[k];
  if (oa_stream_text(st, reasoning, PT_EV_THINKING) != 0) return -1;
  if (oa_stream_text(st, v[C_CONTENT], PT_EV_TEXT) != 0) return -1;
  if (pc_json_type(v[C_REFUSAL]) == PC_JSON_STRING && v[C_REFUSAL].len > 2) {
    st->refusal = 1;
    if (oa_stream_text(st, v[C_REFUSAL], PT_EV_TEXT) != 0) return -1;
  }
  pc_json tc;
  size_t cursor = 0, pos = 0;
  while (pc_json_next(v[C_TOOL_CALLS], &cursor, &tc))
    if (tool_piece(st, tc, pos++) != 0) return -1;
  return 0;
}

static int32_t on_event(void *ud, const pt_sse_event *ev)
{
  oa_stream *st = ud;
  pt_str d = ev->data;
  if (d.len == 6 && memcmp(d.ptr, "[DONE]", 6) == 0) {
    oa_stream_finish(st, st->finish ? st->finish : PT_STOP_END_TURN);
    return oa_stream_stop(st);
  }
  pc_json root, v[K_COUNT];
  if (pc_json_parse_pick(d, &root, chunk_keys, K_COUNT, v) != PT_OK ||
      pc_json_type(root) != PC_JSON_OBJECT)
    return oa_stream_malformed(st, d);

  int named_error = ev->event.len == 5 && !memcmp(ev->event.ptr, "error", 5);
  if (pc_json_type(v[K_ERROR]) == PC_JSON_OBJECT || named_error) {
    oa_stream_error(st, pc_json_type(v[K_ERROR]) == PC_JSON_OBJECT ? v[K_ERROR]
                                                                   : root);
    return oa_stream_stop(st);
  }

  pc_json choice;
  size_t cursor = 0;
  while (pc_json_next(v[K_CHOICES], &cursor, &choice))
    if (read_choice(st, choice) != 0) return oa_stream_stop(st);

  if (pc_json_type(v[K_USAGE]) == PC_JSON_OBJECT)
    oa_stream_usage(st, pc_json_u64(v[K_PROMPT_TOKENS], 0),
                    pc_json_u64(v[K_CACHED_TOKENS], 0),
                    pc_json_u64(v[K_COMPLETION_TOKENS], 0));
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
