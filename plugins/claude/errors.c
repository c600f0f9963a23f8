/*
 * plugins/claude/errors.c: the Anthropic API's errors as normalized
 * statuses and messages a person can act on.
 *
 * The API answers errors as {"type":"error","error":{"type":...,
 * "message":...}}, with the same shape in an `error` event mid-stream.
 * The error type decides the status and whether trying again may help;
 * the message names the setting to fix when the fix is ours to name. No
 * message ever carries the API key: anything quoted from the server is
 * scrubbed of it first.
 */
#include "claude.h"

#include <stdio.h>
#include <string.h>

void cl_error_classify(const char *type, pc_error *e)
{
  if (!type) return;
  if (strcmp(type, "authentication_error") == 0 ||
      strcmp(type, "permission_error") == 0 ||
      strcmp(type, "billing_error") == 0) {
    e->status = PT_EPERM;
    e->retryable = 0;
  } else if (strcmp(type, "invalid_request_error") == 0 ||
             strcmp(type, "not_found_error") == 0 ||
             strcmp(type, "request_too_large") == 0) {
    e->status = PT_EINVAL;
    e->retryable = 0;
  } else if (strcmp(type, "rate_limit_error") == 0) {
    e->status = PT_EBUSY;
    e->retryable = 1;
  } else if (strcmp(type, "overloaded_error") == 0 ||
             strcmp(type, "api_error") == 0 ||
             strcmp(type, "timeout_error") == 0) {
    e->status = PT_EHTTP;
    e->retryable = 1;
  }
}

void cl_redact(const claude *p, char *text)
{
  size_t klen = p->s.api_key.len;
  /* A very short "key" would redact ordinary words; no real key is. */
  if (klen < 8) return;
  char *hit;
  while ((hit = memmem(text, strlen(text), p->s.api_key.ptr, klen)) != NULL) {
    static const char mark[] = "[redacted]";
    size_t mlen = klen < sizeof mark - 1 ? klen : sizeof mark - 1;
    memcpy(hit, mark, mlen);
    memmove(hit + mlen, hit + klen, strlen(hit + klen) + 1);
  }
}

void cl_http_error(const claude *p, int http_status, pt_str body,
                   pt_str request_id, pc_error *e)
{
  char api_msg[200] = "";
  cJSON *doc = cJSON_ParseWithLength(body.ptr, body.len);
  const cJSON *err = cJSON_GetObjectItemCaseSensitive(doc, "error");
  const char *type =
      cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(err, "type"));
  const char *msg =
      cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(err, "message"));
  if (type) snprintf(e->type, sizeof e->type, "%s", type);
  if (msg) snprintf(api_msg, sizeof api_msg, "%s", msg);
  else if (!doc && body.len)
    /* Not the API's JSON (a proxy's page?): quote its start. */
    snprintf(api_msg, sizeof api_msg, "%.120s", body.ptr);
  cJSON_Delete(doc);
  cl_error_classify(e->type[0] ? e->type : NULL, e);
  for (char *c = api_msg; *c; c++)
    if (*c == '\n' || *c == '\r') *c = ' ';

  char what[300];
  if (e->type[0] && api_msg[0])
    snprintf(what, sizeof what, "HTTP %d %s: %s", http_status, e->type,
             api_msg);
  else if (e->type[0] || api_msg[0])
    snprintf(what, sizeof what, "HTTP %d: %s", http_status,
             e->type[0] ? e->type : api_msg);
  else
    snprintf(what, sizeof what, "HTTP %d", http_status);

  if (http_status == 401 || strcmp(e->type, "authentication_error") == 0) {
    if (p->s.api_key.len == 0)
      snprintf(e->message, sizeof e->message,
               "no Anthropic API key is set (%s); set plugins.claude.api_key "
               "in config.lua or the " CL_KEY_ENV " environment variable",
               what);
    else
      snprintf(e->message, sizeof e->message,
               "the Anthropic API refused the API key (%s); check "
               "plugins.claude.api_key in config.lua or the " CL_KEY_ENV
               " environment variable",
               what);
  } else if (strcmp(e->type, "permission_error") == 0 ||
             http_status == 403) {
    snprintf(e->message, sizeof e->message,
             "the Anthropic API key may not do this (%s); check the key in "
             "plugins.claude.api_key or " CL_KEY_ENV " and its permissions",
             what);
  } else if (strcmp(e->type, "billing_error") == 0) {
    snprintf(e->message, sizeof e->message,
             "the Anthropic account cannot pay for this (%s); check its "
             "billing in the Anthropic console",
             what);
  } else if (strcmp(e->type, "not_found_error") == 0) {
    snprintf(e->message, sizeof e->message,
             "the Anthropic API found no such thing (%s); check the model "
             "name and plugins.claude.base_url",
             what);
  } else {
    snprintf(e->message, sizeof e->message, "the Anthropic API answered %s",
             what);
  }
  if (request_id.len) {
    size_t n = strlen(e->message);
    snprintf(e->message + n, sizeof e->message - n, " [request-id %.*s]",
             (int)(request_id.len < 80 ? request_id.len : 80),
             request_id.ptr);
  }
  cl_redact(p, e->message);
}
