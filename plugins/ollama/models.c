/*
 * plugins/ollama/models.c: list_models, from GET /api/tags.
 *
 * Ollama answers {"models": [{"name": "llama3.2:latest", "model": ...,
 * "size": ..., "details": {"family", "parameter_size",
 * "quantization_level", ...}}]}; each becomes {"id": name} with the
 * details that help a person choose. Not retried: a listing is cheap to
 * ask for again.
 */
#include "ollama.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

/* Ollama's listing is a few KiB; far past this is not Ollama. */
#define BODY_MAX (8 * 1024 * 1024)

typedef struct listing {
  int kind;          /* OL_OP_MODELS; first, see ol_op_kind */
  pt_op *op;
  pt_http *r;        /* NULL once its on_done ran */
  int http_status;
  pc_buf body;
  int too_big;
  int cancelled;
} listing;

static void done(listing *l, int32_t status, const char *json)
{
  pt_op *op = l->op;
  pc_buf_free(&l->body);
  free(l);
  ol_api->op_done(op, status, (pt_str){ json, strlen(json) });
}

/* {"error": message} as the result of a failed listing. */
static void fail(listing *l, int32_t status, const char *message)
{
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "error", message);
  char *json = cJSON_PrintUnformatted(o);
  cJSON_Delete(o);
  done(l, status, json ? json : "null");
  cJSON_free(json);
}

static void copy_str(cJSON *to, const char *name, const cJSON *from,
                     const char *key)
{
  const char *v =
      cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(from, key));
  if (v && *v) cJSON_AddStringToObject(to, name, v);
}

static char *models_json(pt_str body)
{
  cJSON *tags = cJSON_ParseWithLength(body.ptr, body.len);
  const cJSON *models = cJSON_GetObjectItemCaseSensitive(tags, "models");
  if (!cJSON_IsArray(models)) {
    cJSON_Delete(tags);
    return NULL;
  }
  cJSON *out = cJSON_CreateArray();
  const cJSON *m;
  cJSON_ArrayForEach(m, models) {
    const char *name =
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "name"));
    if (!name)
      name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m,
                                                                   "model"));
    if (!name) continue;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", name);
    const cJSON *size = cJSON_GetObjectItemCaseSensitive(m, "size");
    if (cJSON_IsNumber(size))
      cJSON_AddNumberToObject(o, "size", size->valuedouble);
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(m, "details");
    copy_str(o, "family", d, "family");
    copy_str(o, "parameter_size", d, "parameter_size");
    copy_str(o, "quantization_level", d, "quantization_level");
    cJSON_AddItemToArray(out, o);
  }
  char *json = cJSON_PrintUnformatted(out);
  cJSON_Delete(out);
  cJSON_Delete(tags);
  return json;
}

static void on_response(pt_http *r, void *ud, int32_t http_status)
{
  listing *l = ud;
  l->http_status = http_status;
}

static void on_body(pt_http *r, void *ud, pt_str chunk)
{
  listing *l = ud;
  if (l->too_big || l->body.len + chunk.len > BODY_MAX ||
      pc_buf_append(&l->body, chunk.ptr, chunk.len) != 0)
    l->too_big = 1;
}

static void on_done(pt_http *r, void *ud, int32_t status, pt_str message)
{
  listing *l = ud;
  l->r = NULL;
  char text[700];
  pt_str body = pc_buf_view(&l->body);
  if (status == PT_ECANCELED) {
    done(l, PT_ECANCELED, "null");
  } else if (status < 0) {
    snprintf(text, sizeof text,
             "cannot reach ollama (%.*s); is it running (`ollama serve`), and "
             "does plugins.ollama.base_url or OLLAMA_HOST point at it?",
             (int)message.len, message.ptr);
    fail(l, status, text);
  } else if (l->http_status < 200 || l->http_status >= 300) {
    pc_error e = { .status = l->http_status == 401 || l->http_status == 403
                                 ? PT_EPERM
                                 : PT_EHTTP };
    ol_on_http_error(NULL, NULL, l->http_status, body, &e);
    fail(l, e.status, e.message);
  } else if (l->too_big) {
    fail(l, PT_ETOOBIG, "ollama's model list is over 8 MiB");
  } else {
    char *json = models_json(body);
    if (json) {
      done(l, PT_OK, json);
      cJSON_free(json);
    } else {
      fail(l, PT_EPROTO,
           "ollama's /api/tags answer has no \"models\" list");
    }
  }
}

int32_t ol_models_start(pt_op *op)
{
  pc_settings s;
  ol_settings(&s);
  listing *l = calloc(1, sizeof *l);
  if (!l) return PT_ENOMEM;
  l->kind = OL_OP_MODELS;
  l->op = op;
  char url[1100], auth[1100];
  snprintf(url, sizeof url, "%s/api/tags", s.base_url);
  const char *headers[] = { "Accept: application/json",
                            ol_auth_header(&s, auth, sizeof auth), NULL };
  pt_http_request req = {
    .struct_size = sizeof req,
    .method = "GET",
    .url = url,
    .headers = headers,
    .connect_timeout_ms = s.connect_timeout_ms,
    .first_byte_timeout_ms = s.first_byte_timeout_ms,
    .idle_timeout_ms = s.idle_timeout_ms,
    .on_response = on_response,
    .on_body = on_body,
    .on_done = on_done,
    .ud = l,
  };
  int32_t rc = ol_api->http_start(ol_host, &req, &l->r);
  memset(auth, 0, sizeof auth);
  if (rc < 0) {
    free(l);
    return rc;
  }
  op->data = l;
  return PT_OK;
}

void ol_models_cancel(pt_op *op)
{
  listing *l = op->data;
  if (l->r && !l->cancelled) ol_api->http_cancel(l->r);
  l->cancelled = 1;
}
