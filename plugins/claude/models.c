/*
 * plugins/claude/models.c: listing the models the key can use, through
 * GET /v1/models.
 *
 * The API pages the list ({"data":[...],"has_more":...,"last_id":...});
 * this asks for the largest page and follows has_more, so the caller gets
 * one array of {"id","name"} (name from display_name). A failure completes
 * with the status and {"error":{"type","message"}}. No retries: a listing
 * is cheap to ask again, and a person is usually waiting on it.
 */
#include "claude.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAGE_LIMIT 1000
#define MAX_PAGES 50
#define MAX_BODY (8u * 1024 * 1024)

typedef struct cl_models {
  int kind;           /* CL_OP_MODELS; first, see claude.h */
  claude *p;
  pt_op *op;
  pt_http *r;         /* the page in flight; NULL once its on_done ran */
  int http_status;
  int cancelled;
  int too_big;
  int pages;
  pc_buf body;        /* the page's body */
  cJSON *list;        /* owned: the models so far */
} cl_models;

static void finish(cl_models *m, int32_t status, const char *type,
                   const char *message)
{
  char *json;
  if (status == PT_OK) {
    json = cJSON_PrintUnformatted(m->list);
  } else {
    cJSON *doc = cJSON_CreateObject();
    cJSON *err = cJSON_AddObjectToObject(doc, "error");
    cJSON_AddStringToObject(err, "type", type ? type : pt_errname(status));
    cJSON_AddStringToObject(err, "message", message);
    json = cJSON_PrintUnformatted(doc);
    cJSON_Delete(doc);
  }
  const pt_host_api *api = m->p->api;
  pt_op *op = m->op;
  cJSON_Delete(m->list);
  pc_buf_free(&m->body);
  free(m);
  api->op_done(op, json ? status : PT_ENOMEM,
               json ? (pt_str){ json, strlen(json) } : PT_STR_LIT("null"));
  free(json);
}

static int32_t start_page(cl_models *m, const char *after_id);

static void on_response(pt_http *r, void *ud, int32_t http_status)
{
  cl_models *m = ud;
  m->http_status = http_status;
}

static void on_body(pt_http *r, void *ud, pt_str chunk)
{
  cl_models *m = ud;
  if (m->too_big) return;
  if (m->body.len + chunk.len > MAX_BODY ||
      pc_buf_append(&m->body, chunk.ptr, chunk.len) != 0)
    m->too_big = 1;
}

/* Add one page's models to the list; the id to continue after, if any. */
static int32_t take_page(cl_models *m, char *next, size_t nextlen)
{
  next[0] = '\0';
  pt_str body = pc_buf_view(&m->body);
  cJSON *doc = cJSON_ParseWithLength(body.ptr, body.len);
  const cJSON *data = cJSON_GetObjectItemCaseSensitive(doc, "data");
  if (!cJSON_IsArray(data)) {
    cJSON_Delete(doc);
    return PT_EPROTO;
  }
  const cJSON *item;
  cJSON_ArrayForEach(item, data) {
    const char *id =
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(item, "id"));
    const char *name = cJSON_GetStringValue(
        cJSON_GetObjectItemCaseSensitive(item, "display_name"));
    if (!id) continue;
    cJSON *model = cJSON_CreateObject();
    cJSON_AddStringToObject(model, "id", id);
    cJSON_AddStringToObject(model, "name", name ? name : id);
    cJSON_AddItemToArray(m->list, model);
  }
  const char *last = cJSON_GetStringValue(
      cJSON_GetObjectItemCaseSensitive(doc, "last_id"));
  if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(doc, "has_more")) &&
      last && strlen(last) < nextlen)
    snprintf(next, nextlen, "%s", last);
  cJSON_Delete(doc);
  return PT_OK;
}

static void on_done(pt_http *r, void *ud, int32_t status, pt_str message)
{
  cl_models *m = ud;
  m->r = NULL;
  if (m->cancelled) {
    finish(m, PT_ECANCELED, NULL, "cancelled");
    return;
  }
  char text[800];
  if (status < 0) {
    int shown = (int)(message.len < 300 ? message.len : 300);
    snprintf(text, sizeof text,
             "could not list the Anthropic models at %.300s: %.*s",
             m->p->s.base_url, shown, message.ptr);
    finish(m, status, NULL, text);
    return;
  }
  if (m->http_status < 200 || m->http_status >= 300) {
    pc_error e = { .status = PT_EHTTP };
    if (m->http_status == 401 || m->http_status == 403) e.status = PT_EPERM;
    else if (m->http_status == 429) e.status = PT_EBUSY;
    else if (m->http_status >= 400 && m->http_status < 500)
      e.status = PT_EINVAL;
    cl_http_error(m->p, m->http_status, pc_buf_view(&m->body),
                  m->p->api->http_header(r, "request-id"), &e);
    finish(m, e.status, e.type[0] ? e.type : NULL, e.message);
    return;
  }
  char next[256];
  if (m->too_big || take_page(m, next, sizeof next) != PT_OK) {
    snprintf(text, sizeof text,
             "the Anthropic model list from %.300s is not the API's JSON; "
             "check plugins.claude.base_url",
             m->p->s.base_url);
    finish(m, PT_EPROTO, NULL, text);
    return;
  }
  if (next[0] && m->pages < MAX_PAGES) {
    int32_t rc = start_page(m, next);
    if (rc < 0) finish(m, rc, NULL, "could not ask for the next page");
    return;
  }
  finish(m, PT_OK, NULL, NULL);
}

/* `s` percent-encoded for a query string into `out`. */
static void query_escape(const char *s, char *out, size_t outlen)
{
  static const char hex[] = "0123456789ABCDEF";
  size_t o = 0;
  for (; *s && o + 4 < outlen; s++) {
    unsigned char ch = (unsigned char)*s;
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
        (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.' ||
        ch == '~') {
      out[o++] = (char)ch;
    } else {
      out[o++] = '%';
      out[o++] = hex[ch >> 4];
      out[o++] = hex[ch & 15];
    }
  }
  out[o] = '\0';
}

static int32_t start_page(cl_models *m, const char *after_id)
{
  claude *p = m->p;
  char url[2048], esc[800];
  if (after_id) {
    query_escape(after_id, esc, sizeof esc);
    snprintf(url, sizeof url, "%s/v1/models?limit=%d&after_id=%s",
             p->s.base_url, PAGE_LIMIT, esc);
  } else {
    snprintf(url, sizeof url, "%s/v1/models?limit=%d", p->s.base_url,
             PAGE_LIMIT);
  }
  cl_headers hd;
  int32_t rc = cl_headers_make(p, &hd, 0);
  if (rc < 0) return rc;
  pt_http_request req = {
    .struct_size = sizeof req,
    .method = "GET",
    .url = url,
    .headers = hd.list,
    .connect_timeout_ms = p->s.connect_timeout_ms,
    .first_byte_timeout_ms = p->s.first_byte_timeout_ms,
    .idle_timeout_ms = p->s.idle_timeout_ms,
    .on_response = on_response,
    .on_body = on_body,
    .on_done = on_done,
    .ud = m,
  };
  m->body.len = 0;
  m->http_status = 0;
  rc = p->api->http_start(p->h, &req, &m->r);
  memset(hd.store, 0, sizeof hd.store);
  if (rc == PT_OK) m->pages++;
  return rc;
}

int32_t cl_models_start(claude *p, pt_op *op)
{
  cl_models *m = calloc(1, sizeof *m);
  if (!m) return PT_ENOMEM;
  m->kind = CL_OP_MODELS;
  m->p = p;
  m->op = op;
  m->list = cJSON_CreateArray();
  int32_t rc = m->list ? start_page(m, NULL) : PT_ENOMEM;
  if (rc < 0) {
    cJSON_Delete(m->list);
    free(m);
    return rc;
  }
  op->data = m;
  return PT_OK;
}

void cl_models_cancel(void *data)
{
  cl_models *m = data;
  if (m->cancelled) return;
  m->cancelled = 1;
  if (m->r) m->p->api->http_cancel(m->r);
}
