/*
 * plugins/claude/stream.c: one streaming chat, from the Messages API's
 * Server-Sent Events to normalized events.
 *
 * The stream is message_start, then per content block a
 * content_block_start, its content_block_deltas and a content_block_stop,
 * then message_delta (stop reason, cumulative usage) and message_stop;
 * ping may come anywhere, error ends it. Blocks are numbered by their
 * place in the reply; tool calls are numbered among themselves (the
 * normalized `index`), so a reply of text then two calls gives calls 0
 * and 1. An event is checked and its members found in one pass
 * (json_view's pc_json_parse_pick); a delta is emitted from the SSE
 * splitter's buffer or this chat's reused scratch buffer: nothing is
 * allocated per delta. Retries, cancel and the one DONE are
 * provider_call's.
 */
#include "claude.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A reply with more blocks than this is not one any model writes. */
#define MAX_BLOCKS 4096

enum { B_NONE = 0, B_TEXT, B_THINKING, B_TOOL, B_OTHER };
enum { D_TEXT, D_THINKING, D_SIGNATURE, D_JSON };

typedef struct block {
  uint8_t kind;       /* B_*; B_NONE: not started */
  uint8_t open;
  uint32_t tool;      /* B_TOOL: the call's number among the calls */
} block;

typedef struct cl_chat {
  int kind;           /* CL_OP_CHAT; first, see claude.h */
  claude *p;
  pc_call *call;
  pt_sse *sse;        /* owned; one per attempt */
  int stopped;        /* our callback stopped the feed on purpose */

  block *blocks;      /* owned, indexed by content block */
  size_t block_count, block_cap;
  uint32_t tool_count;
  pc_tool_calls tools;

  pc_buf scratch;     /* decoded strings: text, thinking, arguments */
  pc_buf scratch2;    /* a second string at once (a tool's name) */
  pc_buf sig;         /* the signature of the open thinking block */

  uint64_t in, out, cache_read, cache_write;
  uint32_t stop;      /* from message_delta; PT_STOP_NONE until then */
} cl_chat;

/* What on_event picks from every event; the rarer events' own members
 * are picked by their handlers. */
enum {
  K_TYPE,
  K_INDEX,
  K_DELTA,
  K_DELTA_TYPE,
  K_TEXT,
  K_THINKING,
  K_SIGNATURE,
  K_PARTIAL_JSON,
  K_STOP_REASON,
  K_USAGE,
  K_MESSAGE,
  K_MESSAGE_USAGE,
  K_CONTENT_BLOCK,
  K_ERROR,
  K_COUNT
};

static const pc_json_key event_keys[K_COUNT] = {
  [K_TYPE] = PC_JSON_KEY("type", PC_JSON_ROOT),
  [K_INDEX] = PC_JSON_KEY("index", PC_JSON_ROOT),
  [K_DELTA] = PC_JSON_KEY("delta", PC_JSON_ROOT),
  [K_DELTA_TYPE] = PC_JSON_KEY("type", K_DELTA),
  [K_TEXT] = PC_JSON_KEY("text", K_DELTA),
  [K_THINKING] = PC_JSON_KEY("thinking", K_DELTA),
  [K_SIGNATURE] = PC_JSON_KEY("signature", K_DELTA),
  [K_PARTIAL_JSON] = PC_JSON_KEY("partial_json", K_DELTA),
  [K_STOP_REASON] = PC_JSON_KEY("stop_reason", K_DELTA),
  [K_USAGE] = PC_JSON_KEY("usage", PC_JSON_ROOT),
  [K_MESSAGE] = PC_JSON_KEY("message", PC_JSON_ROOT),
  [K_MESSAGE_USAGE] = PC_JSON_KEY("usage", K_MESSAGE),
  [K_CONTENT_BLOCK] = PC_JSON_KEY("content_block", PC_JSON_ROOT),
  [K_ERROR] = PC_JSON_KEY("error", PC_JSON_ROOT),
};

/* ------------------------------------------------------------------------ */
/* Helpers                                                                   */

/* Stop feeding the splitter: the call finished, failed or will retry. */
static int32_t halt(cl_chat *ch)
{
  ch->stopped = 1;
  return PT_ECANCELED;
}

static int32_t malformed(cl_chat *ch, const pt_sse_event *ev, const char *why)
{
  size_t shown = ev->data.len < 120 ? ev->data.len : 120;
  pc_call_fail(ch->call, PT_EPROTO, 0, NULL,
               "the Anthropic stream sent a malformed %.*s event (%s): "
               "%.*s%s",
               (int)(ev->event.len < 40 ? ev->event.len : 40), ev->event.ptr,
               why, (int)shown, ev->data.ptr,
               shown < ev->data.len ? "..." : "");
  return halt(ch);
}

static int32_t out_of_memory(cl_chat *ch)
{
  pc_call_fail(ch->call, PT_ENOMEM, 0, NULL,
               "out of memory while reading the Anthropic stream");
  return halt(ch);
}

/* The text between a string value's quotes, as the API spells it; only
 * for names the API writes without escapes (types, stop reasons). */
static pt_str raw_name(pc_json v)
{
  if (pc_json_type(v) != PC_JSON_STRING) return (pt_str){ "", 0 };
  return (pt_str){ v.ptr + 1, v.len - 2 };
}

static int name_is(pt_str name, const char *lit)
{
  size_t n = strlen(lit);
  return name.len == n && memcmp(name.ptr, lit, n) == 0;
}

/* The content block an event's `index` names, growing the table for a
 * new one. */
static block *block_for(cl_chat *ch, pc_json index_value, int create)
{
  uint64_t index = pc_json_u64(index_value, MAX_BLOCKS);
  if (index >= MAX_BLOCKS) return NULL;
  if (index >= ch->block_count) {
    if (!create) return NULL;
    if (index >= ch->block_cap) {
      size_t cap = ch->block_cap ? ch->block_cap * 2 : 8;
      while (cap <= index) cap *= 2;
      block *b = realloc(ch->blocks, cap * sizeof *b);
      if (!b) return NULL;
      ch->blocks = b;
      ch->block_cap = cap;
    }
    memset(ch->blocks + ch->block_count, 0,
           (index + 1 - ch->block_count) * sizeof *ch->blocks);
    ch->block_count = index + 1;
  }
  block *b = &ch->blocks[index];
  return create || b->kind != B_NONE ? b : NULL;
}

/* A usage object; a count it leaves out keeps its last value (the
 * counts are cumulative). */
static void read_usage(cl_chat *ch, pc_json usage)
{
  static const pc_json_key keys[] = {
    PC_JSON_KEY("input_tokens", PC_JSON_ROOT),
    PC_JSON_KEY("output_tokens", PC_JSON_ROOT),
    PC_JSON_KEY("cache_read_input_tokens", PC_JSON_ROOT),
    PC_JSON_KEY("cache_creation_input_tokens", PC_JSON_ROOT),
  };
  pc_json v[4];
  pc_json_pick(usage, keys, 4, v);
  ch->in = pc_json_u64(v[0], ch->in);
  ch->out = pc_json_u64(v[1], ch->out);
  ch->cache_read = pc_json_u64(v[2], ch->cache_read);
  ch->cache_write = pc_json_u64(v[3], ch->cache_write);
  pc_call_usage(ch->call, ch->in, ch->out, ch->cache_read, ch->cache_write);
}

static uint32_t map_stop(cl_chat *ch, pt_str reason)
{
  if (name_is(reason, "end_turn")) return PT_STOP_END_TURN;
  if (name_is(reason, "tool_use")) return PT_STOP_TOOL_USE;
  if (name_is(reason, "max_tokens")) return PT_STOP_MAX_TOKENS;
  if (name_is(reason, "stop_sequence")) return PT_STOP_STOP_SEQUENCE;
  if (name_is(reason, "refusal")) return PT_STOP_REFUSAL;
  if (name_is(reason, "model_context_window_exceeded"))
    return PT_STOP_MAX_TOKENS;
  /* pause_turn: a server tool paused a long turn; the reply so far is
   * whole, and sending it back continues the turn (docs/providers.md). */
  if (!name_is(reason, "pause_turn"))
    ch->p->api->log(ch->p->h, PT_LOG_DEBUG,
                    "unknown stop_reason \"%.*s\" read as end_turn",
                    (int)(reason.len < 40 ? reason.len : 40), reason.ptr);
  return PT_STOP_END_TURN;
}

/* ------------------------------------------------------------------------ */
/* Events                                                                    */

static int32_t on_block_start(cl_chat *ch, const pt_sse_event *ev,
                              const pc_json *v)
{
  enum {
    CB_TYPE,
    CB_TEXT,
    CB_THINKING,
    CB_SIGNATURE,
    CB_ID,
    CB_NAME,
    CB_COUNT
  };
  static const pc_json_key keys[CB_COUNT] = {
    [CB_TYPE] = PC_JSON_KEY("type", PC_JSON_ROOT),
    [CB_TEXT] = PC_JSON_KEY("text", PC_JSON_ROOT),
    [CB_THINKING] = PC_JSON_KEY("thinking", PC_JSON_ROOT),
    [CB_SIGNATURE] = PC_JSON_KEY("signature", PC_JSON_ROOT),
    [CB_ID] = PC_JSON_KEY("id", PC_JSON_ROOT),
    [CB_NAME] = PC_JSON_KEY("name", PC_JSON_ROOT),
  };
  pc_json cb[CB_COUNT];
  pt_str text;
  pc_json_pick(v[K_CONTENT_BLOCK], keys, CB_COUNT, cb);
  if (!cb[CB_TYPE].len) return malformed(ch, ev, "no content_block type");
  block *b = block_for(ch, v[K_INDEX], 1);
  if (!b) return malformed(ch, ev, "no valid index");
  if (b->kind != B_NONE) return malformed(ch, ev, "the block started twice");
  b->open = 1;
  pt_str kind = raw_name(cb[CB_TYPE]);
  if (name_is(kind, "text") || name_is(kind, "thinking")) {
    int thinking = name_is(kind, "thinking");
    b->kind = thinking ? B_THINKING : B_TEXT;
    if (thinking) ch->sig.len = 0;
    /* The opening text is "" on the wire today; keep it if it is not. */
    pc_json opening = cb[thinking ? CB_THINKING : CB_TEXT];
    if (opening.len) {
      int32_t rc = pc_json_text(opening, &ch->scratch, &text);
      if (rc == PT_ENOMEM) return out_of_memory(ch);
      if (rc != PT_OK)
        return malformed(ch, ev, "the block's text is not a string");
      pc_call_text(ch->call, thinking ? PT_EV_THINKING : PT_EV_TEXT, text);
    }
    if (thinking && pc_json_text(cb[CB_SIGNATURE], &ch->scratch, &text) ==
                        PT_OK &&
        pc_buf_append(&ch->sig, text.ptr, text.len) != 0)
      return out_of_memory(ch);
    return 0;
  }
  if (name_is(kind, "tool_use")) {
    pt_str id, name;
    if (pc_json_text(cb[CB_ID], &ch->scratch, &id) != PT_OK ||
        pc_json_text(cb[CB_NAME], &ch->scratch2, &name) != PT_OK)
      return malformed(ch, ev, "a tool_use block needs an id and a name");
    b->kind = B_TOOL;
    b->tool = ch->tool_count++;
    int32_t rc = pc_tools_start(&ch->tools, ch->call, b->tool, id, name);
    if (rc == PT_ENOMEM) return out_of_memory(ch);
    return rc < 0 ? halt(ch) : 0;
  }
  /* redacted_thinking, server tools and their results: nothing the
   * normalized model carries. */
  b->kind = B_OTHER;
  return 0;
}

static int32_t on_block_delta(cl_chat *ch, const pt_sse_event *ev,
                              const pc_json *v)
{
  pt_str text;
  block *b = block_for(ch, v[K_INDEX], 0);
  if (!b) return malformed(ch, ev, "a delta for a block that never started");
  if (!v[K_DELTA_TYPE].len) return malformed(ch, ev, "no delta type");
  pt_str kind = raw_name(v[K_DELTA_TYPE]);
  static const struct {
    const char *type;
    int field, kind;
  } kinds[] = {
    { "text_delta", K_TEXT, D_TEXT },
    { "thinking_delta", K_THINKING, D_THINKING },
    { "signature_delta", K_SIGNATURE, D_SIGNATURE },
    { "input_json_delta", K_PARTIAL_JSON, D_JSON },
  };
  size_t k = 0;
  while (k < sizeof kinds / sizeof kinds[0] && !name_is(kind, kinds[k].type))
    k++;
  if (k == sizeof kinds / sizeof kinds[0])
    return 0; /* citations, and kinds newer than this code */
  int32_t rc = pc_json_text(v[kinds[k].field], &ch->scratch, &text);
  if (rc == PT_ENOMEM) return out_of_memory(ch);
  if (rc != PT_OK) return malformed(ch, ev, "the delta's text is missing");
  switch (kinds[k].kind) {
  case D_TEXT:
    pc_call_text(ch->call, PT_EV_TEXT, text);
    return 0;
  case D_THINKING:
    pc_call_text(ch->call, PT_EV_THINKING, text);
    return 0;
  case D_SIGNATURE:
    return pc_buf_append(&ch->sig, text.ptr, text.len) == 0
               ? 0 : out_of_memory(ch);
  default: {
    /* Server tools stream their input too; only our calls are events. */
    if (b->kind != B_TOOL) return 0;
    rc = pc_tools_delta(&ch->tools, ch->call, b->tool, text);
    if (rc == PT_ENOMEM) return out_of_memory(ch);
    return rc < 0 ? halt(ch) : 0;
  }
  }
}

static int32_t on_block_stop(cl_chat *ch, const pt_sse_event *ev,
                             const pc_json *v)
{
  block *b = block_for(ch, v[K_INDEX], 0);
  if (!b) return malformed(ch, ev, "a stop for a block that never started");
  if (!b->open) return 0;
  b->open = 0;
  if (b->kind == B_TOOL)
    return pc_tools_end(&ch->tools, ch->call, b->tool) < 0 ? halt(ch) : 0;
  if (b->kind == B_THINKING && ch->sig.len)
    pc_call_text(ch->call, PT_EV_THINKING_SIGNATURE,
                 (pt_str){ ch->sig.p, ch->sig.len });
  return 0;
}

static int32_t on_stream_error(cl_chat *ch, const pc_json *v)
{
  static const pc_json_key keys[] = {
    PC_JSON_KEY("type", PC_JSON_ROOT),
    PC_JSON_KEY("message", PC_JSON_ROOT),
  };
  pc_json fields[2];
  pt_str msg;
  pc_json_pick(v[K_ERROR], keys, 2, fields);
  pt_str type = raw_name(fields[0]);
  pc_json_text(fields[1], &ch->scratch, &msg);
  char tname[64];
  snprintf(tname, sizeof tname, "%.*s", (int)type.len, type.ptr);
  pc_error e = { .status = PT_EHTTP };
  cl_error_classify(tname[0] ? tname : NULL, &e);
  char text[400];
  snprintf(text, sizeof text, "%.*s",
           (int)(msg.len < sizeof text - 1 ? msg.len : sizeof text - 1),
           msg.ptr);
  cl_redact(ch->p, text);
  pc_call_fail(ch->call, e.status, e.retryable, tname[0] ? tname : NULL,
               "the Anthropic API failed mid-stream (%s: %s)",
               tname[0] ? tname : "error", text[0] ? text : "no message");
  return halt(ch);
}

static int32_t on_event(void *ud, const pt_sse_event *ev)
{
  cl_chat *ch = ud;
  pc_json root, v[K_COUNT];
  if (pc_call_finished(ch->call)) return halt(ch);
  if (ev->data.len == 0) return 0;
  if (pc_json_parse_pick(ev->data, &root, event_keys, K_COUNT, v) != PT_OK)
    return malformed(ch, ev, "not JSON");
  pt_str type = v[K_TYPE].len ? raw_name(v[K_TYPE]) : ev->event;

  if (name_is(type, "content_block_delta")) return on_block_delta(ch, ev, v);
  if (name_is(type, "content_block_start")) return on_block_start(ch, ev, v);
  if (name_is(type, "content_block_stop")) return on_block_stop(ch, ev, v);
  if (name_is(type, "message_start")) {
    if (v[K_MESSAGE_USAGE].len) read_usage(ch, v[K_MESSAGE_USAGE]);
    return 0;
  }
  if (name_is(type, "message_delta")) {
    if (pc_json_type(v[K_STOP_REASON]) == PC_JSON_STRING)
      ch->stop = map_stop(ch, raw_name(v[K_STOP_REASON]));
    if (v[K_USAGE].len) read_usage(ch, v[K_USAGE]);
    return 0;
  }
  if (name_is(type, "message_stop")) {
    if (pc_tools_end_all(&ch->tools, ch->call) < 0) return halt(ch);
    pc_call_finish(ch->call, ch->stop ? ch->stop : PT_STOP_END_TURN);
    return halt(ch);
  }
  if (name_is(type, "error")) return on_stream_error(ch, v);
  return 0; /* ping, and event types newer than this code */
}

/* ------------------------------------------------------------------------ */
/* The call's callbacks                                                      */

static int starts_with_ci(pt_str s, const char *prefix)
{
  size_t n = strlen(prefix);
  return s.len >= n && strncasecmp(s.ptr, prefix, n) == 0;
}

static void on_begin(pc_call *c, void *ud)
{
  cl_chat *ch = ud;
  const pt_host_api *api = ch->p->api;
  if (ch->sse) api->sse_free(ch->sse);
  ch->sse = NULL;
  ch->stopped = 0;
  ch->block_count = 0;
  ch->tool_count = 0;
  pc_tools_reset(&ch->tools);
  ch->sig.len = 0;
  ch->in = ch->out = ch->cache_read = ch->cache_write = 0;
  ch->stop = PT_STOP_NONE;

  pt_str ct = pc_call_header(c, "content-type");
  if (ct.len && !starts_with_ci(ct, "text/event-stream")) {
    pc_call_fail(c, PT_EPROTO, 0, NULL,
                 "the server at %s answered with %.*s, not an event stream; "
                 "check plugins.claude.base_url",
                 ch->p->s.base_url, (int)(ct.len < 80 ? ct.len : 80), ct.ptr);
    return;
  }
  ch->sse = api->sse_new(ch->p->h, on_event, ch);
  if (!ch->sse) out_of_memory(ch);
}

static void on_body(pc_call *c, void *ud, pt_str bytes)
{
  cl_chat *ch = ud;
  if (!ch->sse || ch->stopped) return;
  int32_t rc = ch->p->api->sse_feed(ch->sse, bytes);
  if (rc < 0 && !ch->stopped) {
    ch->stopped = 1;
    pc_call_fail(c, rc == PT_ETOOBIG ? PT_EPROTO : rc, 0, NULL,
                 "the Anthropic stream could not be read: %s",
                 pt_strerror(rc));
  }
}

static void on_end(pc_call *c, void *ud, int32_t status, pt_str message)
{
  cl_chat *ch = ud;
  if (ch->sse) ch->p->api->sse_end(ch->sse);
  if (pc_call_finished(c)) return;
  int32_t st = status < 0 ? status : PT_ECLOSED;
  pc_call_fail(c, st, 1, NULL,
               "the Anthropic stream ended before message_stop (%.*s)",
               (int)(message.len ? message.len : 27),
               message.len ? message.ptr : "the server ended the reply");
}

static void on_http_error(pc_call *c, void *ud, int http_status, pt_str body,
                          pc_error *err)
{
  cl_chat *ch = ud;
  cl_http_error(ch->p, http_status, body, pc_call_header(c, "request-id"),
                err);
}

static void on_free(void *ud)
{
  cl_chat *ch = ud;
  if (ch->sse) ch->p->api->sse_free(ch->sse);
  pc_tools_free(&ch->tools);
  pc_buf_free(&ch->scratch);
  pc_buf_free(&ch->scratch2);
  pc_buf_free(&ch->sig);
  free(ch->blocks);
  free(ch);
}

static const pc_call_vt chat_vt = {
  .on_begin = on_begin,
  .on_body = on_body,
  .on_end = on_end,
  .on_http_error = on_http_error,
  .on_free = on_free,
};

int32_t cl_chat_start(claude *p, pt_op *op, const pc_call_opts *o)
{
  cl_chat *ch = calloc(1, sizeof *ch);
  if (!ch) return PT_ENOMEM;
  ch->kind = CL_OP_CHAT;
  ch->p = p;
  int32_t rc = pc_call_start(p->api, p->h, op, o, &chat_vt, ch, &ch->call);
  if (rc < 0) {
    free(ch);
    return rc;
  }
  op->data = ch;
  return PT_OK;
}

void cl_chat_cancel(void *data)
{
  cl_chat *ch = data;
  pc_call_cancel(ch->call);
}
