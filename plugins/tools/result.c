/*
 * plugins/tools/result.c: the result object every tool completes with, and
 * reading the arguments it was called with.
 *
 * A failure the model should see and correct (a missing file, an ambiguous
 * edit, a path outside the workspace) is a result like any other, with
 * "is_error": true; only the tool itself failing (memory) or a cancel
 * becomes a negative status. Not for building the content text: text.c.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools.h"

static void set_content(tool_result *r, const char *text, int is_error)
{
  cJSON_Delete(r->json);
  r->json = cJSON_CreateObject();
  if (!r->json || !cJSON_AddStringToObject(r->json, "content", text) ||
      (is_error && !cJSON_AddTrueToObject(r->json, "is_error")))
    r->oom = 1;
}

void result_error(tool_result *r, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  char *msg = n >= 0 ? malloc((size_t)n + 1) : NULL;
  if (!msg) {
    r->oom = 1;
    return;
  }
  va_start(ap, fmt);
  vsnprintf(msg, (size_t)n + 1, fmt, ap);
  va_end(ap);
  tbuf clean = { 0 };
  tb_add_text(&clean, msg, (size_t)n); /* paths from the model may be any
                                          bytes; the result must be UTF-8 */
  free(msg);
  if (clean.oom)
    r->oom = 1;
  else
    set_content(r, tb_str(&clean), 1);
  tb_free(&clean);
}

void result_content(tool_result *r, const char *text)
{
  set_content(r, text, 0);
}

void result_num(tool_result *r, const char *key, double v)
{
  if (r->json && !cJSON_AddNumberToObject(r->json, key, v)) r->oom = 1;
}

void result_bool(tool_result *r, const char *key, int v)
{
  if (r->json && !cJSON_AddBoolToObject(r->json, key, v)) r->oom = 1;
}

void result_str(tool_result *r, const char *key, const char *v)
{
  if (!r->json) return;
  cJSON *item = v ? cJSON_AddStringToObject(r->json, key, v)
                  : cJSON_AddNullToObject(r->json, key);
  if (!item) r->oom = 1;
}

char *result_print(tool_result *r)
{
  if (r->oom) return NULL;
  if (!r->json) set_content(r, "", 0);
  return r->oom ? NULL : cJSON_PrintUnformatted(r->json);
}

void result_free(tool_result *r)
{
  cJSON_Delete(r->json);
  r->json = NULL;
}

int json_has_nul(const char *text, size_t len)
{
  for (size_t i = 0; i + 1 < len; i++) {
    if (text[i] != '\\') continue;
    if (text[i + 1] == 'u' && i + 5 < len &&
        memcmp(text + i + 2, "0000", 4) == 0)
      return 1;
    i++; /* skip the escaped character: an escaped backslash before
            "u0000" is no NUL */
  }
  return 0;
}

int arg_string(const cJSON *args, tool_result *r, const char *name,
               int required, const char **out)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(args, name);
  *out = NULL;
  if (!v || cJSON_IsNull(v)) {
    if (!required) return 0;
    result_error(r, "missing argument \"%s\" (a string)", name);
    return -1;
  }
  if (!cJSON_IsString(v)) {
    result_error(r, "argument \"%s\" must be a string", name);
    return -1;
  }
  *out = v->valuestring;
  return 0;
}

int arg_int(const cJSON *args, tool_result *r, const char *name,
            long long dflt, long long min, long long max, long long *out)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(args, name);
  *out = dflt;
  if (!v || cJSON_IsNull(v)) return 0;
  double d = cJSON_IsNumber(v) ? v->valuedouble : NAN;
  if (!(d >= (double)min && d <= (double)max) || d != floor(d)) {
    result_error(r, "argument \"%s\" must be a whole number from %lld to %lld",
                 name, min, max);
    return -1;
  }
  *out = (long long)d;
  return 0;
}

int arg_bool(const cJSON *args, tool_result *r, const char *name, int dflt,
             int *out)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(args, name);
  *out = dflt;
  if (!v || cJSON_IsNull(v)) return 0;
  if (!cJSON_IsBool(v)) {
    result_error(r, "argument \"%s\" must be true or false", name);
    return -1;
  }
  *out = cJSON_IsTrue(v);
  return 0;
}
