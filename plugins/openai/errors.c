/*
 * plugins/openai/errors.c: OpenAI's error answers and error events as
 * normalized errors.
 *
 * Both APIs answer a failed request with {"error": {"message", "type",
 * "code", "param"}}; compatible servers sometimes put those members at the
 * top level (vLLM) or make "error" a string. A stream that fails midway
 * sends the same object as an event. 401 and 403 say the key is wrong;
 * OpenAI's message then echoes a masked key ("sk-abc***xyz"), which is cut
 * out here like the key itself.
 */
#include "openai.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Messages are cut at their buffer on purpose: a server may say anything,
 * at any length. Formatting through this keeps that choice explicit (and
 * keeps the compiler's truncation warning for the places that do not mean
 * it). */
static void say(char *buf, size_t cap, const char *fmt, ...) PT_PRINTF(3, 4);

static void say(char *buf, size_t cap, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, cap, fmt, ap);
  va_end(ap);
}

/* ------------------------------------------------------------------------ */
/* Keeping keys out of messages                                              */

static int looks_like_key(const char *w, size_t n, pt_str key)
{
  if (key.len >= 4 && n >= key.len && memmem(w, n, key.ptr, key.len))
    return 1;
  if (n >= 6 && memcmp(w, "sk-", 3) == 0) return 1;
  /* A masked key: a run of asterisks inside a longer word. */
  const char *stars = memmem(w, n, "***", 3);
  return stars && n > 6;
}

void oa_scrub_key(char *msg, size_t size, pt_str key)
{
  char out[1024];
  size_t o = 0, n = strlen(msg);
  for (size_t i = 0; i < n && o + 1 < sizeof out;) {
    if (msg[i] == ' ' || msg[i] == '\t' || msg[i] == '\n') {
      out[o++] = msg[i++];
      continue;
    }
    size_t start = i;
    while (i < n && msg[i] != ' ' && msg[i] != '\t' && msg[i] != '\n') i++;
    size_t end = i;
    /* Trailing punctuation belongs to the sentence, not the key. */
    while (end > start && strchr(".,;:)'\"", msg[end - 1])) end--;
    const char *word = msg + start;
    size_t wlen = end - start;
    if (wlen && looks_like_key(word, wlen, key)) {
      word = "[redacted]";
      wlen = strlen(word);
    }
    for (size_t k = 0; k < wlen && o + 1 < sizeof out; k++)
      out[o++] = word[k];
    for (size_t k = end; k < i && o + 1 < sizeof out; k++) out[o++] = msg[k];
  }
  out[o] = '\0';
  snprintf(msg, size, "%s", out);
}

/* ------------------------------------------------------------------------ */
/* Classifying                                                               */

static int has(const char *s, const char *part)
{
  return s && strstr(s, part) != NULL;
}

/* Whether an error type or code says trying again later may work, and
 * which status it deserves. */
static void classify(const char *type, const char *code, int numeric,
                     pc_error *e)
{
  if (has(type, "rate_limit") || has(code, "rate_limit") || numeric == 429) {
    e->status = PT_EBUSY;
    e->retryable = 1;
  } else if (has(type, "server_error") || has(code, "server_error") ||
             has(type, "overloaded") || has(code, "overloaded") ||
             has(type, "unavailable") || has(code, "unavailable") ||
             has(type, "timeout") || has(code, "timeout") ||
             has(type, "internal") || has(code, "internal") ||
             numeric >= 500 || numeric == 408) {
    e->status = PT_EHTTP;
    e->retryable = 1;
  } else if (has(type, "invalid_request") || has(code, "invalid") ||
             (numeric >= 400 && numeric < 500)) {
    e->status = PT_EINVAL;
    e->retryable = 0;
  } else {
    e->status = PT_EHTTP;
    e->retryable = 0;
  }
}

/* The error object of a body: "error" when it is an object, else the
 * whole body (servers that put message and type at the top). */
static const cJSON *error_object(const cJSON *root, const char **message)
{
  const cJSON *e = cJSON_GetObjectItemCaseSensitive(root, "error");
  *message = NULL;
  if (cJSON_IsString(e)) {
    *message = e->valuestring;
    return root;
  }
  if (!cJSON_IsObject(e)) e = root;
  *message = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e,
                                                                   "message"));
  return e;
}

void oa_error_describe(int http_status, pt_str body, pt_str key,
                       pc_error *err)
{
  memset(err, 0, sizeof *err);
  cJSON *root = cJSON_ParseWithLength(body.ptr, body.len);
  const char *message = NULL;
  const cJSON *e = error_object(root, &message);
  const char *type =
      cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "type"));
  const cJSON *code_item = cJSON_GetObjectItemCaseSensitive(e, "code");
  const char *code = cJSON_GetStringValue(code_item);
  snprintf(err->type, sizeof err->type, "%s",
           type ? type : code ? code : "");

  char said[600];
  if (message)
    snprintf(said, sizeof said, ": %s", message);
  else if (body.len && !root)
    snprintf(said, sizeof said, ": %.200s", body.ptr);
  else
    said[0] = '\0';
  char kind[160] = "";
  if (type || code)
    snprintf(kind, sizeof kind, ", %s%s%s", type ? type : "",
             type && code ? "/" : "", code ? code : "");

  if (http_status == 401 || http_status == 403) {
    err->status = PT_EPERM;
    err->retryable = 0;
    if (key.len == 0)
      say(err->message, sizeof err->message,
               "openai needs an API key and none is set (HTTP %d%s)%s; set "
               "plugins.openai.api_key in config.lua or the " OA_KEY_ENV
               " environment variable",
               http_status, kind, said);
    else
      say(err->message, sizeof err->message,
               "openai refused the API key (HTTP %d%s)%s; check "
               "plugins.openai.api_key in config.lua or the " OA_KEY_ENV
               " environment variable",
               http_status, kind, said);
  } else {
    classify(type, code, http_status, err);
    if (http_status == 429 && has(code, "insufficient_quota")) {
      /* Out of credit: waiting will not help. */
      err->retryable = 0;
    }
    say(err->message, sizeof err->message,
             "openai answered HTTP %d%s%s", http_status, kind, said);
  }
  oa_scrub_key(err->message, sizeof err->message, key);
  cJSON_Delete(root);
}

void oa_http_error(pc_call *c, void *ud, int http_status, pt_str body,
                   pc_error *err)
{
  oa_stream *st = ud;
  oa_error_describe(http_status, body, st->api_key, err);
}

void oa_stream_error(oa_stream *st, pc_json error)
{
  static const pc_json_key keys[] = {
    PC_JSON_KEY("message", PC_JSON_ROOT),
    PC_JSON_KEY("type", PC_JSON_ROOT),
    PC_JSON_KEY("code", PC_JSON_ROOT),
  };
  pc_json v[3];
  pt_str text;
  char m[400] = "", t[64] = "", k[64] = "";
  pc_json_pick(error, keys, 3, v);
  /* Each decoded string is copied out before `a` is written again. */
  if (pc_json_text(v[0], &st->a, &text) == PT_OK)
    snprintf(m, sizeof m, "%.*s", (int)text.len, text.ptr);
  /* In the Responses API's "error" event, "type" names the event. */
  if (!pc_json_is(v[1], "error") &&
      pc_json_text(v[1], &st->a, &text) == PT_OK)
    snprintf(t, sizeof t, "%.*s", (int)text.len, text.ptr);
  if (pc_json_text(v[2], &st->a, &text) == PT_OK)
    snprintf(k, sizeof k, "%.*s", (int)text.len, text.ptr);
  int numeric = pc_json_type(v[2]) == PC_JSON_NUMBER
                    ? (int)pc_json_u64(v[2], 0) : 0;

  pc_error e;
  memset(&e, 0, sizeof e);
  classify(t, k, numeric, &e);
  say(e.message, sizeof e.message, "openai failed mid-stream (%s%s%s): %s",
           t, t[0] && k[0] ? "/" : "", k[0] || t[0] ? k : "error",
           m[0] ? m : "no message");
  oa_scrub_key(e.message, sizeof e.message, st->api_key);
  pc_call_fail(st->call, e.status, e.retryable, t[0] ? t : k[0] ? k : NULL,
               "%s", e.message);
}
