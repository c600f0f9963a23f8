/*
 * plugins/ollama/plugin.c: the Ollama provider plugin: registration,
 * settings, and the vtable that starts and cancels operations.
 *
 * Settings (plugins.ollama in config.lua): base_url (else OLLAMA_HOST,
 * else http://127.0.0.1:11434), api_key (else OLLAMA_API_KEY; only
 * ollama.com and authenticating proxies need one), num_ctx, and the common
 * connect_timeout_ms, first_byte_timeout_ms, idle_timeout_ms, max_attempts
 * and backoff_base_ms.
 *
 * A request the provider cannot send (malformed, or an image it cannot
 * inline) is not refused by chat()'s return code, which carries no
 * message: the chat starts and ends on the next loop turn with a DONE that
 * says what to fix.
 */
#include "ollama.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const pt_host_api *ol_api;
pt_host *ol_host;

void ol_settings(pc_settings *s)
{
  pc_settings_load(ol_api, ol_host, OL_ENV_HOST, OL_DEFAULT_BASE, OL_ENV_KEY,
                   s);
  pt_str set;
  if (ol_api->config_string(ol_host, "base_url", &set) == PT_OK && set.len)
    return;
  /* OLLAMA_HOST may name a host alone ("0.0.0.0", "gpu-box"); the ollama
   * CLI then uses its port, 11434, and so does this. */
  char *host = strstr(s->base_url, "://");
  if (!host || strncmp(s->base_url, "http://", 7) != 0) return;
  host += 3;
  if (strchr(host, '/') || strchr(host, ':') || !*host) return;
  size_t n = strlen(s->base_url);
  if (n + 7 < sizeof s->base_url) memcpy(s->base_url + n, ":11434", 7);
}

const char *ol_auth_header(const pc_settings *s, char *buf, size_t size)
{
  if (s->api_key.len == 0) return NULL;
  snprintf(buf, size, "Authorization: Bearer %.*s", (int)s->api_key.len,
           s->api_key.ptr);
  return buf;
}

/* ------------------------------------------------------------------------ */
/* A chat refused before it started                                         */

typedef struct reject {
  int kind;            /* OL_OP_REJECT; first, see ol_op_kind */
  pt_op *op;
  pt_timer *timer;
  int32_t status;
  char message[600];
} reject;

static void on_reject(pt_timer *t, void *ud)
{
  reject *r = ud;
  pt_chat_event ev = { .struct_size = sizeof ev, .kind = PT_EV_DONE,
                       .status = r->status,
                       .stop = r->status == PT_ECANCELED ? PT_STOP_CANCELLED
                                                         : PT_STOP_ERROR,
                       .text = { r->message, strlen(r->message) } };
  pt_op *op = r->op;
  ol_api->timer_free(r->timer);
  free(r);
  ol_api->emit(op, &ev);
}

static int32_t start_reject(pt_op *op, int32_t status, const char *message)
{
  ol_api->log(ol_host, PT_LOG_WARN, "chat %llu refused: %s",
              (unsigned long long)op->id, message);
  reject *r = calloc(1, sizeof *r);
  if (!r) return PT_ENOMEM;
  r->kind = OL_OP_REJECT;
  r->op = op;
  r->status = status;
  snprintf(r->message, sizeof r->message, "%s", message);
  r->timer = ol_api->timer_new(ol_host, on_reject, r);
  if (!r->timer) {
    free(r);
    return PT_ENOMEM;
  }
  ol_api->timer_start(r->timer, 0, 0);
  op->data = r;
  return PT_OK;
}

/* ------------------------------------------------------------------------ */
/* The provider                                                              */

static int32_t chat(void *self, pt_op *op, pt_str request_json)
{
  pc_settings s;
  ol_settings(&s);
  ol_request req;
  char err[512];
  int32_t rc = ol_request_build(request_json, &req, err, sizeof err);
  if (rc == PT_EINVAL) return start_reject(op, rc, err);
  if (rc < 0) return rc;
  rc = ol_chat_start(op, &s, &req);
  ol_request_free(&req);
  return rc;
}

static void cancel(void *self, pt_op *op)
{
  int *kind = op->data;
  if (!kind) return;
  switch (*kind) {
  case OL_OP_CHAT:
    ol_chat_cancel(op->data);
    break;
  case OL_OP_REJECT: {
    reject *r = op->data;
    r->status = PT_ECANCELED;
    snprintf(r->message, sizeof r->message, "cancelled");
    break;
  }
  case OL_OP_MODELS:
    ol_models_cancel(op);
    break;
  }
}

static int32_t list_models(void *self, pt_op *op)
{
  return ol_models_start(op);
}

static const pt_provider_vt provider_vt = {
  .struct_size = sizeof(pt_provider_vt),
  .id = OL_ID,
  .description = "Ollama local models (/api/chat)",
  .chat = chat,
  .cancel = cancel,
  .list_models = list_models,
};

static int32_t init(pt_host *h, const pt_host_api *api)
{
  ol_api = api;
  ol_host = h;
  pc_settings s;
  ol_settings(&s);
  api->log(h, PT_LOG_DEBUG, "talking to %s, %s", s.base_url,
           s.api_key.len ? "with an API key" : "without an API key");
  return api->add_provider(h, &provider_vt, NULL);
}

PT_PLUGIN(OL_ID, PORTICO_VERSION, "Apache-2.0",
          "Ollama local models (/api/chat)", init, NULL);
