/*
 * plugins/openai/models.c: listing models (GET {base_url}/models).
 *
 * The answer is {"object": "list", "data": [{"id", "object": "model",
 * "created", "owned_by"}]}; the listing completes with [{"id", "owned_by"}]
 * in the API's order. One request, no retries: a person asked and is
 * waiting, and a failure says why at once. Errors complete with
 * {"error": {"message", "type"}}.
 */
#include "openai.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* No model list is this large; a body past it is not one. */
#define MODELS_BODY_MAX (8u << 20)

typedef struct models_job {
  int kind;           /* OA_OP_MODELS: first, see oa_cancel */
  pt_op *op;
  pt_http *r;         /* NULL once on_done ran */
  pt_str api_key;     /* host-owned */
  int http_status;
  pc_buf body;
  int too_big;
  int cancelled;
} models_job;

static void finish(models_job *j, int32_t status, cJSON *result)
{
  char *json = cJSON_PrintUnformatted(result);
  pt_op *op = j->op;
  cJSON_Delete(result);
  pc_buf_free(&j->body);
  free(j);
  oa_api->op_done(op, json ? status : PT_ENOMEM,
                  json ? (pt_str){ json, strlen(json) }
                       : PT_STR_LIT("{\"error\":{\"message\":\"out of "
                                    "memory\"}}"));
  free(json);
}

static cJSON *error_result(const char *message, const char *type)
{
  cJSON *root = cJSON_CreateObject();
  cJSON *e = cJSON_AddObjectToObject(root, "error");
  cJSON_AddStringToObject(e, "message", message);
  if (type && type[0]) cJSON_AddStringToObject(e, "type", type);
  return root;
}

/* The listing from a 2xx body, or NULL when it is not a model list. */
static cJSON *read_list(pt_str body)
{
  cJSON *root = cJSON_ParseWithLength(body.ptr, body.len);
  const cJSON *data = cJSON_GetObjectItemCaseSensitive(root, "data"), *m;
  if (!cJSON_IsArray(data)) {
    cJSON_Delete(root);
    return NULL;
  }
  cJSON *out = cJSON_CreateArray();
  cJSON_ArrayForEach(m, data) {
    const char *id =
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "id"));
    const char *owner =
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "owned_by"));
    if (!id) continue;
    cJSON *item = cJSON_CreateObject();
    cJSON_AddStringToObject(item, "id", id);
    if (owner) cJSON_AddStringToObject(item, "owned_by", owner);
    cJSON_AddItemToArray(out, item);
  }
  cJSON_Delete(root);
  return out;
}

static void on_response(pt_http *r, void *ud, int32_t http_status)
{
  ((models_job *)ud)->http_status = http_status;
}

static void on_body(pt_http *r, void *ud, pt_str chunk)
{
  models_job *j = ud;
  if (j->too_big || j->body.len + chunk.len > MODELS_BODY_MAX) {
    j->too_big = 1;
    return;
  }
  if (pc_buf_append(&j->body, chunk.ptr, chunk.len) != 0) j->too_big = 1;
}

static void on_done(pt_http *r, void *ud, int32_t status, pt_str message)
{
  models_job *j = ud;
  j->r = NULL;
  pt_str body = pc_buf_view(&j->body);
  char text[700];
  if (status == PT_ECANCELED) {
    finish(j, PT_ECANCELED, error_result("cancelled", NULL));
  } else if (status < 0) {
    snprintf(text, sizeof text, "could not list openai models: %.*s",
             (int)message.len, message.ptr);
    finish(j, status, error_result(text, NULL));
  } else if (j->too_big) {
    finish(j, PT_ETOOBIG,
           error_result("the openai model list is larger than 8 MiB", NULL));
  } else if (j->http_status < 200 || j->http_status >= 300) {
    pc_error e;
    oa_error_describe(j->http_status, body, j->api_key, &e);
    finish(j, e.status, error_result(e.message, e.type));
  } else {
    cJSON *list = read_list(body);
    if (list) {
      finish(j, PT_OK, list);
    } else {
      snprintf(text, sizeof text,
               "openai answered GET /models with something that is not a "
               "model list: %.200s",
               body.ptr);
      finish(j, PT_EPROTO, error_result(text, NULL));
    }
  }
}

int32_t oa_list_models(void *self, pt_op *op)
{
  char err[512];
  oa_settings s;
  int32_t rc = oa_settings_read(&s, err, sizeof err);
  if (rc < 0) return oa_api->set_error(oa_host, rc, "%s", err);
  models_job *j = calloc(1, sizeof *j);
  if (!j) return PT_ENOMEM;
  j->kind = OA_OP_MODELS;
  j->op = op;
  j->api_key = s.base.api_key;

  char url[1100];
  snprintf(url, sizeof url, "%s/models", s.base.base_url);
  oa_headers headers;
  rc = oa_headers_build(&s, 0, &headers);
  if (rc == PT_OK) {
    pt_http_request req = {
      .struct_size = sizeof req,
      .method = "GET",
      .url = url,
      .headers = headers.list,
      .connect_timeout_ms = s.base.connect_timeout_ms,
      .first_byte_timeout_ms = s.base.first_byte_timeout_ms,
      .idle_timeout_ms = s.base.idle_timeout_ms,
      .on_response = on_response,
      .on_body = on_body,
      .on_done = on_done,
      .ud = j,
    };
    rc = oa_api->http_start(oa_host, &req, &j->r);
  }
  oa_headers_free(&headers);
  if (rc < 0) {
    free(j);
    return rc;
  }
  op->data = j;
  return PT_OK;
}

void oa_models_cancel(pt_op *op)
{
  models_job *j = op->data;
  if (j->r && !j->cancelled) oa_api->http_cancel(j->r);
  j->cancelled = 1;
}
