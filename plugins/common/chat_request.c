/*
 * plugins/common/chat_request.c: see chat_request.h.
 */
#include "chat_request.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

cJSON *pc_request_parse(pt_str json, char *err, size_t errlen)
{
  cJSON *req = cJSON_ParseWithLength(json.ptr, json.len);
  if (!cJSON_IsObject(req)) {
    snprintf(err, errlen, "the chat request is not a JSON object");
    cJSON_Delete(req);
    return NULL;
  }
  const cJSON *model = cJSON_GetObjectItemCaseSensitive(req, "model");
  if (!cJSON_IsString(model) || !model->valuestring[0]) {
    snprintf(err, errlen, "the chat request names no model; set \"model\" "
                          "(or default_model in config.lua)");
    cJSON_Delete(req);
    return NULL;
  }
  const cJSON *messages = cJSON_GetObjectItemCaseSensitive(req, "messages");
  if (!cJSON_IsArray(messages)) {
    snprintf(err, errlen, "the chat request has no \"messages\" array");
    cJSON_Delete(req);
    return NULL;
  }
  int i = 0;
  const cJSON *m;
  cJSON_ArrayForEach(m, messages) {
    const char *role =
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "role"));
    if (!role || (strcmp(role, "user") != 0 && strcmp(role, "assistant") != 0 &&
                  strcmp(role, "tool") != 0)) {
      snprintf(err, errlen,
               "messages[%d] has role \"%s\"; use user, assistant or tool", i,
               role ? role : "(none)");
      cJSON_Delete(req);
      return NULL;
    }
    i++;
  }
  return req;
}

cJSON *pc_message_parts(const cJSON *message)
{
  const cJSON *content = cJSON_GetObjectItemCaseSensitive(message, "content");
  if (cJSON_IsArray(content)) return cJSON_Duplicate(content, 1);
  cJSON *parts = cJSON_CreateArray();
  if (!parts) return NULL;
  if (cJSON_IsString(content)) {
    cJSON *part = cJSON_CreateObject();
    cJSON_AddStringToObject(part, "type", "text");
    cJSON_AddStringToObject(part, "text", content->valuestring);
    cJSON_AddItemToArray(parts, part);
  }
  return parts;
}

void pc_merge_extra(cJSON *body, const cJSON *request)
{
  const cJSON *extra = cJSON_GetObjectItemCaseSensitive(request, "extra");
  const cJSON *item;
  cJSON_ArrayForEach(item, extra) {
    if (!item->string) continue;
    cJSON_DeleteItemFromObjectCaseSensitive(body, item->string);
    cJSON_AddItemToObject(body, item->string, cJSON_Duplicate(item, 1));
  }
}

long long pc_request_int(const cJSON *request, const char *name,
                         long long dflt)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(request, name);
  return cJSON_IsNumber(v) ? (long long)v->valuedouble : dflt;
}

static uint32_t setting_u32(const pt_host_api *api, pt_host *h,
                            const char *key, uint32_t dflt)
{
  pt_str v;
  if (api->config_string(h, key, &v) != PT_OK || v.len == 0) return dflt;
  unsigned long n = strtoul(v.ptr, NULL, 10);
  return n > 0 && n < UINT32_MAX ? (uint32_t)n : dflt;
}

void pc_settings_load(const pt_host_api *api, pt_host *h, const char *env_base,
                      const char *default_base, const char *env_key,
                      pc_settings *s)
{
  memset(s, 0, sizeof *s);
  pt_str base;
  const char *env = env_base ? getenv(env_base) : NULL;
  if (api->config_string(h, "base_url", &base) != PT_OK || base.len == 0) {
    if (env && *env)
      base = (pt_str){ env, strlen(env) };
    else
      base = (pt_str){ default_base, strlen(default_base) };
  }
  int has_scheme = memmem(base.ptr, base.len, "://", 3) != NULL;
  snprintf(s->base_url, sizeof s->base_url, "%s%.*s",
           has_scheme ? "" : "http://", (int)base.len, base.ptr);
  size_t n = strlen(s->base_url);
  while (n > 0 && s->base_url[n - 1] == '/') s->base_url[--n] = '\0';

  if (api->secret(h, "api_key", env_key, &s->api_key) != PT_OK)
    s->api_key = (pt_str){ "", 0 };
  s->connect_timeout_ms = setting_u32(api, h, "connect_timeout_ms", 0);
  s->first_byte_timeout_ms = setting_u32(api, h, "first_byte_timeout_ms", 0);
  s->idle_timeout_ms = setting_u32(api, h, "idle_timeout_ms", 0);
  s->max_attempts = (int)setting_u32(api, h, "max_attempts", 0);
  s->backoff_base_ms = setting_u32(api, h, "backoff_base_ms", 0);
}

void pc_settings_apply(const pc_settings *s, pc_call_opts *o)
{
  o->connect_timeout_ms = s->connect_timeout_ms;
  o->first_byte_timeout_ms = s->first_byte_timeout_ms;
  o->idle_timeout_ms = s->idle_timeout_ms;
  o->max_attempts = s->max_attempts;
  o->backoff_base_ms = s->backoff_base_ms;
}
