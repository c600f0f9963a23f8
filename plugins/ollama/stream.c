/*
 * plugins/ollama/stream.c: one chat, from the /api/chat NDJSON stream to
 * normalized events.
 *
 * Each line is one JSON object: {"message": {"content", "thinking",
 * "tool_calls"}, "done": false} while the model writes, and a last one
 * with "done": true, "done_reason" and the token counts. An {"error": ...}
 * line may come instead, with the HTTP status already 200. Tool calls
 * arrive whole, each call's arguments an object; they are emitted as
 * START, one DELTA with the whole arguments and END, with an id made here
 * when Ollama sends none. A line is checked and read in one pass
 * (json_view's pc_json_parse_pick); its strings are views into the line,
 * or decoded into this chat's reused buffers when they hold escapes, so a
 * token costs no allocation. The request's life (retries, cancel, the one
 * DONE) is provider_call.c's.
 */
#include "ollama.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "json_view.h"

struct ol_chat {
  int kind;               /* OL_OP_CHAT; first, see ol_op_kind */
  pc_call *call;
  pt_lines *lines;        /* host-owned splitter, new for every attempt */
  pc_buf text, thinking;  /* a line's strings that held escapes, decoded */
  ol_text_calls tc;
  pc_tool_calls tools;
  uint32_t next_index;    /* position of the reply's next tool call */
  unsigned id_tag;        /* makes generated call ids differ between chats */
  int halted;             /* the line callback stopped this attempt's feed */
  ol_request req;         /* owned: the offered tool names live here */
};

/* End the chat with an error, releasing any text held back first: what
 * the model wrote is never dropped. */
static void fail(ol_chat *ch, int32_t status, int retryable, const char *fmt,
                 ...) PT_PRINTF(4, 5);

static void fail(ol_chat *ch, int32_t status, int retryable, const char *fmt,
                 ...)
{
  char msg[600];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (pc_call_finished(ch->call)) return;
  ol_tc_finish(&ch->tc, 0);
  pc_call_fail(ch->call, status, retryable, NULL, "%s", msg);
}

/* How much of `s` to quote in a message: at most `max` bytes, not ending
 * inside a UTF-8 character. */
static int quote_len(pt_str s, size_t max)
{
  if (s.len <= max) return (int)s.len;
  while (max > 0 && ((unsigned char)s.ptr[max] & 0xC0) == 0x80) max--;
  return (int)max;
}

static void emit_call(ol_chat *ch, pt_str id, pt_str name, pt_str args)
{
  uint32_t index = ch->next_index++;
  char made[48];
  if (id.len == 0) {
    int n = snprintf(made, sizeof made, "call_%08x_%u", ch->id_tag, index);
    id = (pt_str){ made, (size_t)n };
  }
  if (pc_tools_start(&ch->tools, ch->call, index, id, name) == PT_ENOMEM ||
      pc_tools_delta(&ch->tools, ch->call, index, args) == PT_ENOMEM) {
    fail(ch, PT_ENOMEM, 0, "out of memory reading a tool call");
    return;
  }
  pc_tools_end(&ch->tools, ch->call, index);
}

static void on_text(void *ud, pt_str text)
{
  ol_chat *ch = ud;
  pc_call_text(ch->call, PT_EV_TEXT, text);
}

static void on_text_call(void *ud, pt_str name, pt_str args)
{
  emit_call(ud, (pt_str){ "", 0 }, name, args);
}

/* message.tool_calls: [{"id"?, "function": {"name", "arguments": {...}}}] */
static int native_calls(ol_chat *ch, pt_str raw)
{
  cJSON *calls = cJSON_ParseWithLength(raw.ptr, raw.len);
  const cJSON *call;
  int bad = !cJSON_IsArray(calls);
  cJSON_ArrayForEach(call, calls) {
    const cJSON *fn = cJSON_GetObjectItemCaseSensitive(call, "function");
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(fn, "name");
    const cJSON *args = cJSON_GetObjectItemCaseSensitive(fn, "arguments");
    const char *id = cJSON_GetStringValue(
        cJSON_GetObjectItemCaseSensitive(call, "id"));
    if (!cJSON_IsString(name) || !name->valuestring[0]) {
      bad = 1;
      break;
    }
    /* An object, as Ollama sends; a string is passed on for the common
     * check to accept or refuse. */
    char *printed = cJSON_IsObject(args) ? cJSON_PrintUnformatted(args)
                                         : NULL;
    const char *a = printed                ? printed
                    : cJSON_IsString(args) ? args->valuestring
                                           : "{}";
    emit_call(ch, (pt_str){ id ? id : "", id ? strlen(id) : 0 },
              (pt_str){ name->valuestring, strlen(name->valuestring) },
              (pt_str){ a, strlen(a) });
    cJSON_free(printed);
    if (pc_call_finished(ch->call)) break;
  }
  cJSON_Delete(calls);
  if (bad)
    fail(ch, PT_EPROTO, 0,
         "ollama sent tool_calls that are not a list of named functions: "
         "%.*s",
         quote_len(raw, 200), raw.ptr);
  return bad ? -1 : 0;
}

/* An {"error": ...} line arrives with the status already 200: read it as
 * the 5xx it would have been, retried unless it names a lasting cause. */
static void stream_error(ol_chat *ch, pt_str error)
{
  int32_t status;
  int lasting = ol_classify_error(error, &status);
  fail(ch, status, !lasting, "ollama: %.*s", (int)error.len, error.ptr);
}

/* What a stream line may say. */
enum {
  K_MESSAGE,
  K_CONTENT,
  K_THINKING,
  K_TOOL_CALLS,
  K_DONE,
  K_DONE_REASON,
  K_ERROR,
  K_PROMPT_EVAL_COUNT,
  K_EVAL_COUNT,
  K_COUNT
};

static const pc_json_key line_keys[K_COUNT] = {
  [K_MESSAGE] = PC_JSON_KEY("message", PC_JSON_ROOT),
  [K_CONTENT] = PC_JSON_KEY("content", K_MESSAGE),
  [K_THINKING] = PC_JSON_KEY("thinking", K_MESSAGE),
  [K_TOOL_CALLS] = PC_JSON_KEY("tool_calls", K_MESSAGE),
  [K_DONE] = PC_JSON_KEY("done", PC_JSON_ROOT),
  [K_DONE_REASON] = PC_JSON_KEY("done_reason", PC_JSON_ROOT),
  [K_ERROR] = PC_JSON_KEY("error", PC_JSON_ROOT),
  [K_PROMPT_EVAL_COUNT] = PC_JSON_KEY("prompt_eval_count", PC_JSON_ROOT),
  [K_EVAL_COUNT] = PC_JSON_KEY("eval_count", PC_JSON_ROOT),
};

/* A member that is a string or null (or absent) when it is there at all;
 * anything else makes the line malformed. */
static int string_or_null(pc_json v)
{
  int t = pc_json_type(v);
  return t == PC_JSON_ABSENT || t == PC_JSON_NULL || t == PC_JSON_STRING;
}

/* A token count, which is a number or null when it is there at all:
 * -1 when absent, null, or no count pc_json_u64 reads. */
static int count_of(pc_json v, int64_t *out)
{
  int t = pc_json_type(v);
  if (t != PC_JSON_ABSENT && t != PC_JSON_NULL && t != PC_JSON_NUMBER)
    return -1;
  uint64_t n = pc_json_u64(v, UINT64_MAX);
  *out = n > INT64_MAX ? -1 : (int64_t)n;
  return 0;
}

static int32_t read_line(ol_chat *ch, pt_str line);

/* The splitter's callback. A negative return stops the feed: the chat is
 * decided (finished, failed, or about to be retried), and `halted` tells
 * on_body that this is no splitter failure. */
static int32_t on_line(void *ud, pt_str line)
{
  ol_chat *ch = ud;
  int32_t rc = read_line(ch, line);
  if (rc < 0) ch->halted = 1;
  return rc;
}

static int32_t read_line(ol_chat *ch, pt_str line)
{
  pc_call *c = ch->call;
  if (pc_call_finished(c)) return PT_ECANCELED;
  pc_json root, v[K_COUNT];
  pt_str content = { "", 0 }, thinking = { "", 0 };
  int64_t prompt_eval_count = -1, eval_count = -1;
  int32_t rc = pc_json_parse_pick(line, &root, line_keys, K_COUNT, v);
  if (rc == PT_OK && (pc_json_type(root) != PC_JSON_OBJECT ||
                      !string_or_null(v[K_CONTENT]) ||
                      !string_or_null(v[K_THINKING]) ||
                      !string_or_null(v[K_DONE_REASON]) ||
                      count_of(v[K_PROMPT_EVAL_COUNT], &prompt_eval_count) ||
                      count_of(v[K_EVAL_COUNT], &eval_count)))
    rc = PT_EPROTO;
  if (rc == PT_OK && pc_json_type(v[K_ERROR]) == PC_JSON_ABSENT) {
    if (pc_json_type(v[K_CONTENT]) == PC_JSON_STRING)
      rc = pc_json_text(v[K_CONTENT], &ch->text, &content);
    if (rc == PT_OK && pc_json_type(v[K_THINKING]) == PC_JSON_STRING)
      rc = pc_json_text(v[K_THINKING], &ch->thinking, &thinking);
  }
  if (rc == PT_ENOMEM) {
    fail(ch, PT_ENOMEM, 0, "out of memory reading the ollama stream");
    return rc;
  }
  if (rc != PT_OK) {
    int n = quote_len(line, 120);
    fail(ch, PT_EPROTO, 0,
         "ollama sent a stream line that is not a JSON object: %.*s%s", n,
         line.ptr, (size_t)n < line.len ? "..." : "");
    return rc;
  }
  if (v[K_ERROR].len) {
    /* A string says it in words; any other value is quoted as it came. */
    pt_str error = { v[K_ERROR].ptr, v[K_ERROR].len };
    if (pc_json_type(v[K_ERROR]) == PC_JSON_STRING &&
        pc_json_text(v[K_ERROR], &ch->text, &error) != PT_OK) {
      fail(ch, PT_ENOMEM, 0, "out of memory reading the ollama stream");
      return PT_ENOMEM;
    }
    stream_error(ch, error);
    return PT_ECANCELED;
  }
  pc_call_text(c, PT_EV_THINKING, thinking);
  if (content.len) ol_tc_feed(&ch->tc, content);
  pc_json calls = v[K_TOOL_CALLS];
  if (pc_json_type(calls) == PC_JSON_ARRAY &&
      native_calls(ch, (pt_str){ calls.ptr, calls.len }) != 0)
    return PT_EPROTO;
  if (!pc_json_is_true(v[K_DONE]))
    return pc_call_finished(c) ? PT_ECANCELED : PT_OK;

  ol_tc_finish(&ch->tc, 1);
  if (prompt_eval_count >= 0 || eval_count >= 0)
    pc_call_usage(c, prompt_eval_count > 0 ? (uint64_t)prompt_eval_count : 0,
                  eval_count > 0 ? (uint64_t)eval_count : 0, 0, 0);
  /* Ollama says "stop" both for the end of a turn and for a stop
   * sequence, and has no refusal: those two cannot be told apart here. */
  uint32_t stop = PT_STOP_END_TURN;
  if (ch->tools.ended > 0)
    stop = PT_STOP_TOOL_USE;
  else if (pc_json_is(v[K_DONE_REASON], "length"))
    stop = PT_STOP_MAX_TOKENS;
  pc_call_finish(c, stop);
  return PT_ECANCELED;
}

static void on_begin(pc_call *c, void *ud)
{
  ol_chat *ch = ud;
  if (ch->lines) ol_api->lines_free(ch->lines);
  ch->lines = ol_api->lines_new(ol_host, on_line, ch);
  ch->next_index = 0;
  ch->halted = 0;
  pc_tools_reset(&ch->tools);
  ol_tc_reset(&ch->tc);
  if (!ch->lines) fail(ch, PT_ENOMEM, 0, "out of memory starting a stream");
}

static void on_body(pc_call *c, void *ud, pt_str bytes)
{
  ol_chat *ch = ud;
  if (!ch->lines) return;
  int32_t rc = ol_api->lines_feed(ch->lines, bytes);
  if (rc >= 0 || ch->halted) return;
  if (rc == PT_ETOOBIG)
    fail(ch, PT_EPROTO, 0, "ollama sent a stream line over 16 MiB");
  else
    fail(ch, rc, 0, "reading the ollama stream failed: %s", pt_strerror(rc));
}

static void on_end(pc_call *c, void *ud, int32_t status, pt_str message)
{
  ol_chat *ch = ud;
  /* A last line without its newline counts only when the response ended
   * cleanly; after a cut it is a fragment. */
  if (status == PT_OK && ch->lines) {
    int32_t rc = ol_api->lines_end(ch->lines);
    if (rc < 0 && !ch->halted)
      fail(ch, PT_EPROTO, 0, "ollama's stream ended inside a line");
  }
  if (pc_call_finished(c)) return;
  fail(ch, status < 0 ? status : PT_ECLOSED, 1,
       "the ollama stream ended before its last line (\"done\": true)%s%.*s",
       message.len ? ": " : "", (int)message.len, message.ptr);
}

static void on_free(void *ud)
{
  ol_chat *ch = ud;
  if (ch->lines) ol_api->lines_free(ch->lines);
  pc_buf_free(&ch->text);
  pc_buf_free(&ch->thinking);
  ol_tc_free(&ch->tc);
  pc_tools_free(&ch->tools);
  ol_request_free(&ch->req);
  free(ch);
}

static const pc_call_vt chat_vt = {
  .on_begin = on_begin,
  .on_body = on_body,
  .on_end = on_end,
  .on_http_error = ol_on_http_error,
  .on_free = on_free,
};

int32_t ol_chat_start(pt_op *op, const pc_settings *s, ol_request *req)
{
  ol_chat *ch = calloc(1, sizeof *ch);
  if (!ch) return PT_ENOMEM;
  ch->kind = OL_OP_CHAT;
  ch->req = *req;
  ch->tc.names = (const char *const *)ch->req.tool_names;
  ch->tc.name_count = ch->req.tool_count;
  ch->tc.sink = (ol_tc_sink){ on_text, on_text_call, ch };
  ol_tc_reset(&ch->tc);
  ch->id_tag = (unsigned)(op->id * 2654435761u) ^ (unsigned)time(NULL) ^
               (unsigned)(uintptr_t)ch;

  char url[1100], auth[1100];
  snprintf(url, sizeof url, "%s/api/chat", s->base_url);
  const char *headers[] = { "Content-Type: application/json",
                            "Accept: application/x-ndjson",
                            ol_auth_header(s, auth, sizeof auth), NULL };
  pc_call_opts o = { .name = OL_ID, .url = url, .headers = headers,
                     .body = { ch->req.body, ch->req.body_len } };
  pc_settings_apply(s, &o);
  int32_t rc = pc_call_start(ol_api, ol_host, op, &o, &chat_vt, ch,
                             &ch->call);
  memset(auth, 0, sizeof auth);
  if (rc < 0) {
    free(ch);
    return rc;
  }
  memset(req, 0, sizeof *req);
  op->data = ch;
  return PT_OK;
}

void ol_chat_cancel(ol_chat *ch)
{
  pc_call_cancel(ch->call);
}
