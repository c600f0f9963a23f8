/*
 * plugins/openai/stream.c: what the Chat Completions and Responses stream
 * parsers share: the splitter per attempt, reading strings out of events,
 * usage, the successful end, the cut stream, and freeing a chat's state.
 */
#include "openai.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* More of a JSON answer than any error or completion is long. */
#define JSON_BODY_MAX (1u << 20)

void oa_stream_begin(oa_stream *st, pt_sse_cb cb)
{
  if (st->sse) oa_api->sse_free(st->sse);
  st->sse = oa_api->sse_new(oa_host, cb, st);
  pc_tools_reset(&st->tools);
  st->finish = 0;
  st->refusal = 0;
  st->cut_by_stop = 0;
  st->summary_parts = 0;
  st->stopped = 0;
  st->outputs_len = 0;
  st->b.len = 0;
  /* A server that ignores "stream": true, or a proxy that answers an
   * error with 200, sends a JSON document. */
  pt_str type = pc_call_header(st->call, "content-type");
  st->json_body = type.len >= 16 &&
                  strncasecmp(type.ptr, "application/json", 16) == 0;
  if (!st->sse) {
    st->stopped = 1;
    pc_call_fail(st->call, PT_ENOMEM, 0, NULL, "out of memory");
  }
}

void oa_stream_feed(oa_stream *st, pt_str bytes)
{
  if (st->stopped) return;
  if (st->json_body) {
    if (st->b.len + bytes.len < JSON_BODY_MAX &&
        pc_buf_append(&st->b, bytes.ptr, bytes.len) != 0) {
      st->stopped = 1;
      oa_stream_check(st, PT_ENOMEM);
    }
    return;
  }
  int32_t rc = oa_api->sse_feed(st->sse, bytes);
  /* A code the callbacks did not choose is the splitter's own. */
  if (rc < 0 && !st->stopped) {
    st->stopped = 1;
    pc_call_fail(st->call, rc, 0, NULL,
                 "openai sent a stream event the splitter could not read "
                 "(%s)",
                 pt_strerror(rc));
  }
}

void oa_stream_usage(oa_stream *st, uint64_t input, uint64_t cached,
                     uint64_t output)
{
  if (cached > input) cached = input;
  pc_call_usage(st->call, input - cached, output, cached, 0);
}

int oa_stream_check(oa_stream *st, int32_t rc)
{
  if (rc >= 0) return 0;
  if (!pc_call_finished(st->call))
    pc_call_fail(st->call, rc, 0, NULL, "openai stream: %s",
                 pt_strerror(rc));
  return -1;
}

int oa_stream_string(oa_stream *st, pc_json v, pc_buf *scratch, pt_str *out)
{
  return oa_stream_check(st, pc_json_text(v, scratch, out) == PT_ENOMEM
                                 ? PT_ENOMEM : PT_OK);
}

int oa_stream_text(oa_stream *st, pc_json v, uint32_t kind)
{
  pt_str text;
  if (pc_json_type(v) != PC_JSON_STRING || v.len <= 2) return 0;
  if (oa_stream_string(st, v, &st->a, &text) != 0) return -1;
  pc_call_text(st->call, kind, text);
  return 0;
}

int oa_stream_tool_args(oa_stream *st, uint32_t index, pc_json args)
{
  pt_str text;
  if (pc_json_type(args) != PC_JSON_STRING || args.len <= 2) return 0;
  if (oa_stream_string(st, args, &st->a, &text) != 0) return -1;
  return oa_stream_check(st, pc_tools_delta(&st->tools, st->call, index,
                                            text));
}

int32_t oa_stream_stop(oa_stream *st)
{
  st->stopped = 1;
  return PT_ECANCELED;
}

void oa_stream_finish(oa_stream *st, uint32_t stop)
{
  if (stop != PT_STOP_MAX_TOKENS &&
      oa_stream_check(st, pc_tools_end_all(&st->tools, st->call)) != 0)
    return;
  if (stop == PT_STOP_END_TURN) {
    /* Some compatible servers say "stop" after tool calls; what streamed
     * is the better witness. */
    if (st->tools.ended)
      stop = PT_STOP_TOOL_USE;
    else if (st->refusal)
      stop = PT_STOP_REFUSAL;
    else if (st->cut_by_stop)
      stop = PT_STOP_STOP_SEQUENCE;
  }
  pc_call_finish(st->call, stop);
}

int32_t oa_stream_malformed(oa_stream *st, pt_str data)
{
  size_t n = data.len > 120 ? 120 : data.len;
  pc_call_fail(st->call, PT_EPROTO, 0, NULL,
               "openai sent a stream event that is not the JSON object it "
               "should be: %.*s%s",
               (int)n, data.ptr, n < data.len ? "..." : "");
  return oa_stream_stop(st);
}

int oa_stream_json_end(oa_stream *st, int32_t status)
{
  if (!st->json_body || status < 0) return 0;
  static const pc_json_key keys[] = { PC_JSON_KEY("error", PC_JSON_ROOT) };
  pt_str body = pc_buf_view(&st->b);
  pc_json root, error;
  if (pc_json_parse_pick(body, &root, keys, 1, &error) == PT_OK &&
      pc_json_type(error) == PC_JSON_OBJECT) {
    oa_stream_error(st, error);
    return 1;
  }
  pc_call_fail(st->call, PT_EPROTO, 0, NULL,
               "openai answered with a JSON document, not an event stream; "
               "check that base_url points at an OpenAI-compatible server "
               "that supports \"stream\": true (it said: %.200s)",
               body.ptr);
  return 1;
}

void oa_stream_cut(oa_stream *st, int32_t status, pt_str message,
                   const char *last_event)
{
  if (status == PT_ECANCELED) {
    /* The host stopped the request (an unload): trying again is not ours
     * to do. */
    pc_call_fail(st->call, PT_ECANCELED, 0, NULL,
                 "the request to openai was cancelled");
    return;
  }
  /* The transport's timeouts say more than "closed"; a body that simply
   * ended is a closed stream. */
  int32_t code = status < 0 ? status : PT_ECLOSED;
  if (status == PT_OK || !message.ptr) message = (pt_str){ "", 0 };
  pc_call_fail(st->call, code, 1, NULL,
               "the stream from openai ended before %s%s%.*s%s",
               last_event, message.len ? " (" : "", (int)message.len,
               message.ptr, message.len ? ")" : "");
}

void oa_stream_free(void *ud)
{
  oa_stream *st = ud;
  if (st->sse) oa_api->sse_free(st->sse);
  pc_tools_free(&st->tools);
  pc_buf_free(&st->a);
  pc_buf_free(&st->b);
  free(st->outputs);
  free(st);
}
