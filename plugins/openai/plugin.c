/*
 * plugins/openai/plugin.c: the openai provider's registration, settings and
 * the start and cancel of a chat.
 *
 * The provider speaks OpenAI's Chat Completions API (POST /chat/completions)
 * or, with plugins.openai.api = "responses", the Responses API
 * (POST /responses). Chat Completions is the default because every
 * OpenAI-compatible server (vLLM, llama.cpp, LM Studio, Ollama, OpenRouter)
 * has it; those servers often need no key, so the Authorization header goes
 * out only when one is set.
 *
 * Settings (plugins.openai.*, with environment fallbacks):
 *   base_url            $OPENAI_BASE_URL, else https://api.openai.com/v1
 *   api_key             $OPENAI_API_KEY
 *   api                 "chat" (default) or "responses"
 *   system_role         "system" (default) or "developer"
 *   legacy_max_tokens   true: send max_tokens, for servers that do not know
 *                       max_completion_tokens
 *   organization        $OPENAI_ORG_ID: the OpenAI-Organization header
 *   project             $OPENAI_PROJECT_ID: the OpenAI-Project header
 *   connect_timeout_ms, first_byte_timeout_ms, idle_timeout_ms,
 *   max_attempts, backoff_base_ms   (see plugins/common/chat_request.h)
 */
#include "openai.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const pt_host_api *oa_api;
pt_host *oa_host;

/* ------------------------------------------------------------------------ */
/* Settings                                                                  */

static int setting_is(const char *key, const char *value)
{
  pt_str v;
  return oa_api->config_string(oa_host, key, &v) == PT_OK &&
         v.len == strlen(value) && memcmp(v.ptr, value, v.len) == 0;
}

static int setting_present(const char *key, pt_str *v)
{
  return oa_api->config_string(oa_host, key, v) == PT_OK && v->len > 0;
}

/* Load the settings; a negative code with a sentence in `err` when one of
 * them has a value this provider does not know. */
int32_t oa_settings_read(oa_settings *s, char *err, size_t errlen)
{
  pt_str v;
  memset(s, 0, sizeof *s);
  pc_settings_load(oa_api, oa_host, "OPENAI_BASE_URL", OA_DEFAULT_BASE,
                   OA_KEY_ENV, &s->base);

  s->api = OA_CHAT_COMPLETIONS;
  if (setting_present("api", &v)) {
    if (setting_is("api", "responses")) {
      s->api = OA_RESPONSES;
    } else if (!setting_is("api", "chat") &&
               !setting_is("api", "chat_completions")) {
      snprintf(err, errlen,
               "plugins.openai.api is \"%.*s\"; use \"chat\" (Chat "
               "Completions) or \"responses\" (the Responses API)",
               (int)(v.len > 64 ? 64 : v.len), v.ptr);
      return PT_ECONFIG;
    }
  }

  snprintf(s->system_role, sizeof s->system_role, "system");
  if (setting_present("system_role", &v)) {
    if (setting_is("system_role", "developer")) {
      snprintf(s->system_role, sizeof s->system_role, "developer");
    } else if (!setting_is("system_role", "system")) {
      snprintf(err, errlen,
               "plugins.openai.system_role is \"%.*s\"; use \"system\" or "
               "\"developer\"",
               (int)(v.len > 64 ? 64 : v.len), v.ptr);
      return PT_ECONFIG;
    }
  }
  s->legacy_max_tokens =
      setting_is("legacy_max_tokens", "true") ||
      setting_is("legacy_max_tokens", "1");
  return PT_OK;
}

/* "Name: value" of a setting with an environment fallback, malloc'd, or
 * NULL when neither is set. */
static char *optional_header(const char *name, const char *key,
                             const char *env)
{
  pt_str v = { NULL, 0 };
  const char *e = getenv(env);
  if (!setting_present(key, &v) && e && *e) v = (pt_str){ e, strlen(e) };
  if (v.len == 0) return NULL;
  size_t n = strlen(name) + v.len + 3;
  char *h = malloc(n);
  if (h) snprintf(h, n, "%s: %.*s", name, (int)v.len, v.ptr);
  return h;
}

int32_t oa_headers_build(const oa_settings *s, int streaming, oa_headers *h)
{
  int n = 0;
  memset(h, 0, sizeof *h);
  if (streaming) {
    h->list[n++] = "Content-Type: application/json";
    h->list[n++] = "Accept: text/event-stream";
  } else {
    h->list[n++] = "Accept: application/json";
  }
  if (s->base.api_key.len) {
    size_t len = s->base.api_key.len + 32;
    h->owned[0] = malloc(len);
    if (!h->owned[0]) return PT_ENOMEM;
    snprintf(h->owned[0], len, "Authorization: Bearer %.*s",
             (int)s->base.api_key.len, s->base.api_key.ptr);
    h->list[n++] = h->owned[0];
  }
  h->owned[1] = optional_header("OpenAI-Organization", "organization",
                                "OPENAI_ORG_ID");
  h->owned[2] = optional_header("OpenAI-Project", "project",
                                "OPENAI_PROJECT_ID");
  if (h->owned[1]) h->list[n++] = h->owned[1];
  if (h->owned[2]) h->list[n++] = h->owned[2];
  h->list[n] = NULL;
  return PT_OK;
}

void oa_headers_free(oa_headers *h)
{
  if (h->owned[0]) {
    /* It held the key: leave no copy in freed memory. */
    volatile char *q = h->owned[0];
    while (*q) *q++ = '\0';
  }
  for (int i = 0; i < 3; i++) free(h->owned[i]);
  memset(h, 0, sizeof *h);
}

/* ------------------------------------------------------------------------ */
/* Chat                                                                      */

static int32_t start_call(pt_op *op, const oa_settings *s, const char *body)
{
  char url[1100];
  snprintf(url, sizeof url, "%s%s", s->base.base_url,
           s->api == OA_RESPONSES ? "/responses" : "/chat/completions");
  oa_headers headers;
  int32_t rc = oa_headers_build(s, 1, &headers);
  oa_stream *st = rc < 0 ? NULL : calloc(1, sizeof *st);
  if (st) {
    st->kind = OA_OP_CHAT;
    st->api_key = s->base.api_key;
    pc_call_opts o = { .name = OA_ID, .url = url, .headers = headers.list,
                       .body = { body, strlen(body) } };
    pc_settings_apply(&s->base, &o);
    rc = pc_call_start(oa_api, oa_host, op, &o,
                       s->api == OA_RESPONSES ? &oa_responses_stream_vt
                                              : &oa_chat_stream_vt,
                       st, &st->call);
    if (rc < 0)
      free(st);
    else
      op->data = st;
  } else if (rc == PT_OK) {
    rc = PT_ENOMEM;
  }
  oa_headers_free(&headers);
  return rc;
}

static int32_t oa_chat(void *self, pt_op *op, pt_str request_json)
{
  char err[512] = "";
  oa_settings s;
  int32_t rc = oa_settings_read(&s, err, sizeof err);
  if (rc < 0) {
    oa_api->log(oa_host, PT_LOG_ERROR, "%s", err);
    return oa_api->set_error(oa_host, rc, "%s", err);
  }
  cJSON *req = pc_request_parse(request_json, err, sizeof err);
  if (!req) {
    oa_api->log(oa_host, PT_LOG_WARN, "%s", err);
    return oa_api->set_error(oa_host, PT_EINVAL, "%s", err);
  }
  char *body = s.api == OA_RESPONSES ? oa_responses_body(req, &s, err,
                                                         sizeof err)
                                     : oa_chat_body(req, &s, err, sizeof err);
  cJSON_Delete(req);
  if (!body) {
    oa_api->log(oa_host, PT_LOG_WARN, "%s", err);
    return oa_api->set_error(oa_host, PT_EINVAL, "%s", err);
  }
  rc = start_call(op, &s, body);
  free(body);
  return rc;
}

static void oa_cancel(void *self, pt_op *op)
{
  int *kind = op->data;
  if (!kind) return;
  if (*kind == OA_OP_CHAT)
    pc_call_cancel(((oa_stream *)op->data)->call);
  else
    oa_models_cancel(op);
}

/* ------------------------------------------------------------------------ */
/* Registration                                                              */

static const pt_provider_vt oa_vt = {
  .struct_size = sizeof(pt_provider_vt),
  .id = OA_ID,
  .description = "OpenAI and compatible servers (Chat Completions or "
                 "Responses)",
  .chat = oa_chat,
  .cancel = oa_cancel,
  .list_models = oa_list_models,
};

static int32_t oa_init(pt_host *h, const pt_host_api *api)
{
  oa_api = api;
  oa_host = h;
  char err[512];
  oa_settings s;
  int32_t rc = oa_settings_read(&s, err, sizeof err);
  if (rc < 0) return api->set_error(h, rc, "%s", err);
  api->log(h, PT_LOG_DEBUG, "%s at %s, API key %s", 
           s.api == OA_RESPONSES ? "Responses API" : "Chat Completions",
           s.base.base_url, s.base.api_key.len ? "set" : "not set");
  return api->add_provider(h, &oa_vt, NULL);
}

PT_PLUGIN(OA_ID, PORTICO_VERSION, "Apache-2.0",
          "OpenAI Chat Completions and Responses, and compatible servers",
          oa_init, NULL);
