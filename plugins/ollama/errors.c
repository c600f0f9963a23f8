/*
 * plugins/ollama/errors.c: what Ollama's error answers mean and what a
 * person can do about them.
 *
 * Ollama reports every error as {"error": "<sentence>"}, with an HTTP
 * status before the stream starts and inside a 200 stream after it
 * started. It has no error types, so the sentence is all there is: this
 * file reads it to tell a condition that may pass (a busy server, a runner
 * that crashed) from one that will not pass by itself (a model that is not
 * pulled, cannot load, or does not support what was asked).
 */
#include "ollama.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

void ol_error_text(pt_str body, char *out, size_t size)
{
  cJSON *j = cJSON_ParseWithLength(body.ptr, body.len);
  const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
  const cJSON *m = cJSON_GetObjectItemCaseSensitive(e, "message");
  if (cJSON_IsString(e)) {
    snprintf(out, size, "%s", e->valuestring);
  } else if (cJSON_IsString(m)) {
    snprintf(out, size, "%s", m->valuestring);
  } else {
    /* Not Ollama's shape (a proxy's page, say): show its start. */
    size_t n = body.len;
    while (n && isspace((unsigned char)body.ptr[n - 1])) n--;
    snprintf(out, size, "%.*s", (int)(n < 200 ? n : 200),
             body.ptr ? body.ptr : "");
  }
  cJSON_Delete(j);
}

/* Whether the lower-cased `hay` contains any of the NULL-terminated
 * `needles`. */
static int any(const char *hay, const char *const *needles)
{
  for (; *needles; needles++)
    if (strstr(hay, *needles)) return 1;
  return 0;
}

int ol_classify_error(pt_str message, int32_t *status)
{
  static const char *const denied[] = { "unauthorized", "forbidden",
                                        "api key", NULL };
  static const char *const refused[] = { "not found", "does not support",
                                         "not supported", "unsupported",
                                         "invalid", NULL };
  /* A model that cannot load will not load a second later either. */
  static const char *const stuck[] = { "loading model", "load model",
                                       "requires more system memory", NULL };
  static const char *const busy[] = { "rate limit", "too many requests",
                                      "busy", NULL };
  char low[512];
  size_t n = message.len < sizeof low - 1 ? message.len : sizeof low - 1;
  for (size_t i = 0; i < n; i++)
    low[i] = (char)tolower((unsigned char)message.ptr[i]);
  low[n] = '\0';
  *status = PT_EHTTP;
  if (any(low, denied)) {
    *status = PT_EPERM;
    return 1;
  }
  if (any(low, stuck)) return 1;
  if (any(low, refused)) {
    *status = PT_EINVAL;
    return 1;
  }
  if (any(low, busy)) *status = PT_EBUSY;
  return 0;
}

void ol_on_http_error(pc_call *c, void *ud, int http_status, pt_str body,
                      pc_error *err)
{
  char text[400];
  ol_error_text(body, text, sizeof text);
  pt_str t = { text, strlen(text) };
  const char *hint = "";
  if (http_status == 401 || http_status == 403) {
    /* The prefill says PT_EPERM; say which setting holds the key. */
    snprintf(err->message, sizeof err->message,
             "ollama refused the request (HTTP %d: %.200s); set "
             "plugins.ollama.api_key in config.lua or the OLLAMA_API_KEY "
             "environment variable to a valid key (ollama.com and "
             "authenticating proxies need one)",
             http_status, text[0] ? text : "no reason given");
    return;
  }
  int32_t status;
  /* A 5xx is retried unless its sentence names a lasting cause. */
  if (ol_classify_error(t, &status) && http_status >= 500)
    err->retryable = 0;
  if (http_status == 404) {
    hint = strstr(text, "not found") && strstr(text, "model")
               ? "; pull it with `ollama pull <model>` or fix \"model\""
               : "; check that plugins.ollama.base_url (or OLLAMA_HOST) "
                 "points at an Ollama server";
  } else if (http_status == 400 && strstr(text, "does not support thinking")) {
    hint = "; leave \"thinking\" out of requests to this model";
  } else if (http_status == 400 && strstr(text, "does not support tools")) {
    hint = "; this model cannot call tools, choose one that can";
  }
  snprintf(err->message, sizeof err->message, "ollama: %.300s (HTTP %d)%s",
           text[0] ? text : "no reason given", http_status, hint);
}
