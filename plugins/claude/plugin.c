/*
 * plugins/claude/plugin.c: the claude provider's registration, settings
 * and entry points.
 *
 * Settings (plugins.claude in config.lua): base_url (else
 * $ANTHROPIC_BASE_URL, else https://api.anthropic.com), api_key (else
 * $ANTHROPIC_API_KEY), anthropic_version (default 2023-06-01),
 * anthropic_beta (sent as the anthropic-beta header when set), and the
 * common connect_timeout_ms, first_byte_timeout_ms, idle_timeout_ms,
 * max_attempts and backoff_base_ms.
 */
#include "claude.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One provider per loaded copy of the plugin; init fills it, fini forgets
 * it. The host hands &provider back as `self`. */
static claude provider;

int32_t cl_headers_make(const claude *p, cl_headers *hd, int json_body)
{
  size_t used = 0, n = 0;
  memset(hd->list, 0, sizeof hd->list);
#define ADD(...)                                                            \
  do {                                                                      \
    int w_ = snprintf(hd->store + used, sizeof hd->store - used,            \
                      __VA_ARGS__);                                         \
    if (w_ < 0 || (size_t)w_ >= sizeof hd->store - used)                    \
      return PT_ECONFIG;                                                    \
    hd->list[n++] = hd->store + used;                                       \
    used += (size_t)w_ + 1;                                                 \
  } while (0)
  /* No key is no header: a gateway in base_url may authenticate its own
   * way, and the API's 401 says what is missing otherwise. */
  if (p->s.api_key.len)
    ADD("x-api-key: %.*s", (int)p->s.api_key.len, p->s.api_key.ptr);
  ADD("anthropic-version: %s", p->version);
  if (p->beta[0]) ADD("anthropic-beta: %s", p->beta);
  if (json_body) {
    ADD("content-type: application/json");
    ADD("accept: text/event-stream");
  } else {
    ADD("accept: application/json");
  }
#undef ADD
  return PT_OK;
}

static int32_t claude_chat(void *self, pt_op *op, pt_str request_json)
{
  claude *p = self;
  char err[512];
  cJSON *req = pc_request_parse(request_json, err, sizeof err);
  if (!req) {
    p->api->log(p->h, PT_LOG_WARN, "%s", err);
    return PT_EINVAL;
  }
  char *body = NULL;
  int32_t rc = cl_request_build(req, &body, err, sizeof err);
  const char *model =
      cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(req, "model"));
  if (rc == PT_OK)
    p->api->log(p->h, PT_LOG_DEBUG, "POST %s/v1/messages (model %s, %zu bytes)",
                p->s.base_url, model, strlen(body));
  cJSON_Delete(req);
  if (rc < 0) {
    p->api->log(p->h, PT_LOG_WARN, "%s", err);
    return rc;
  }

  char url[1100];
  snprintf(url, sizeof url, "%s/v1/messages", p->s.base_url);
  cl_headers hd;
  rc = cl_headers_make(p, &hd, 1);
  if (rc == PT_OK) {
    pc_call_opts o = { .name = CL_ID, .url = url, .headers = hd.list,
                       .body = { body, strlen(body) } };
    pc_settings_apply(&p->s, &o);
    rc = cl_chat_start(p, op, &o);
  }
  /* The call copied the headers; do not leave the key on the stack. */
  memset(hd.store, 0, sizeof hd.store);
  free(body);
  return rc;
}

static void claude_cancel(void *self, pt_op *op)
{
  const int *kind = op->data;
  if (!kind) return;
  if (*kind == CL_OP_CHAT) cl_chat_cancel(op->data);
  else if (*kind == CL_OP_MODELS) cl_models_cancel(op->data);
}

static int32_t claude_list_models(void *self, pt_op *op)
{
  return cl_models_start(self, op);
}

static const pt_provider_vt claude_vt = {
  .struct_size = sizeof(pt_provider_vt),
  .id = CL_ID,
  .description = "Anthropic Claude (Messages API)",
  .chat = claude_chat,
  .cancel = claude_cancel,
  .list_models = claude_list_models,
};

/* A plain setting copied into `out`, or `dflt` when absent. */
static void setting(claude *p, const char *key, const char *dflt, char *out,
                    size_t outlen)
{
  pt_str v;
  if (p->api->config_string(p->h, key, &v) == PT_OK && v.len > 0)
    snprintf(out, outlen, "%.*s", (int)v.len, v.ptr);
  else
    snprintf(out, outlen, "%s", dflt);
}

static int32_t claude_init(pt_host *h, const pt_host_api *api)
{
  claude *p = &provider;
  memset(p, 0, sizeof *p);
  p->api = api;
  p->h = h;
  pc_settings_load(api, h, CL_BASE_ENV, CL_DEFAULT_BASE_URL, CL_KEY_ENV,
                   &p->s);
  setting(p, "anthropic_version", CL_DEFAULT_VERSION, p->version,
          sizeof p->version);
  setting(p, "anthropic_beta", "", p->beta, sizeof p->beta);
  if (strpbrk(p->version, "\r\n") || strpbrk(p->beta, "\r\n"))
    return api->set_error(h, PT_ECONFIG,
                          "plugins.claude.anthropic_version and "
                          "anthropic_beta must be one line each");
  if (memchr(p->s.api_key.ptr, '\n', p->s.api_key.len) ||
      memchr(p->s.api_key.ptr, '\r', p->s.api_key.len))
    return api->set_error(h, PT_ECONFIG,
                          "the Anthropic API key (plugins.claude.api_key or "
                          "ANTHROPIC_API_KEY) holds a line break; set it to "
                          "the key alone");
  api->log(h, PT_LOG_DEBUG, "base URL %s, API key %s, anthropic-version %s",
           p->s.base_url, p->s.api_key.len ? "set" : "not set", p->version);
  return api->add_provider(h, &claude_vt, p);
}

static void claude_fini(pt_host *h)
{
  memset(&provider, 0, sizeof provider);
}

PT_PLUGIN(CL_ID, PORTICO_VERSION, "Apache-2.0",
          "Anthropic Claude (Messages API)", claude_init, claude_fini);
