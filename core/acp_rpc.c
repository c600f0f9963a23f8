/*
 * core/acp_rpc.c: JSON-RPC 2.0 over stdio for `portico acp` (see acp.h).
 * One message per line: stdin is read on the loop and cut into lines
 * (core/line_split.h); stdout gets protocol messages only, written through
 * a libuv stream so that a slow client never blocks the loop.
 */
#include "acp.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

#define LINE_MAX_BYTES (64u << 20)

/* ------------------------------------------------------------------------ */
/* Writing                                                                   */

typedef struct out_req {
  uv_write_t w;
  acp *a;
  size_t len;
  char text[];
} out_req;

static void on_written(uv_write_t *w, int status)
{
  out_req *o = (out_req *)w;
  o->a->queued -= o->len;
  if (status < 0 && status != UV_ECANCELED)
    pt_log(PT_LOG_WARN, "acp", "writing to stdout: %s", uv_strerror(status));
  free(o);
}

void acp_send(acp *a, cJSON *msg)
{
  char *text = msg ? cJSON_PrintUnformatted(msg) : NULL;
  cJSON_Delete(msg);
  if (!text) {
    pt_log(PT_LOG_ERROR, "acp", "out of memory building a message");
    return;
  }
  size_t n = strlen(text);
  if (!a->out) {
    fwrite(text, 1, n, stdout);
    fputc('\n', stdout);
    fflush(stdout);
    cJSON_free(text);
    return;
  }
  out_req *o = malloc(sizeof *o + n + 1);
  if (!o) {
    cJSON_free(text);
    return;
  }
  o->a = a;
  o->len = n + 1;
  memcpy(o->text, text, n);
  o->text[n] = '\n';
  cJSON_free(text);
  uv_buf_t b = uv_buf_init(o->text, (unsigned)(n + 1));
  a->queued += o->len;
  int rc = uv_write(&o->w, a->out, &b, 1, on_written);
  if (rc < 0) {
    a->queued -= o->len;
    pt_log(PT_LOG_WARN, "acp", "writing to stdout: %s", uv_strerror(rc));
    free(o);
  }
}

static cJSON *envelope(const cJSON *id)
{
  cJSON *m = cJSON_CreateObject();
  cJSON_AddStringToObject(m, "jsonrpc", "2.0");
  cJSON_AddItemToObject(m, "id", id ? cJSON_Duplicate(id, 1)
                                    : cJSON_CreateNull());
  return m;
}

void acp_result(acp *a, const cJSON *id, cJSON *result)
{
  cJSON *m = envelope(id);
  cJSON_AddItemToObject(m, "result", result ? result : cJSON_CreateNull());
  acp_send(a, m);
}

void acp_error(acp *a, const cJSON *id, int code, const char *fmt, ...)
{
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  cJSON *m = envelope(id);
  cJSON *e = cJSON_AddObjectToObject(m, "error");
  cJSON_AddNumberToObject(e, "code", code);
  cJSON_AddStringToObject(e, "message", msg);
  acp_send(a, m);
}

void acp_notify(acp *a, const char *method, cJSON *params)
{
  cJSON *m = cJSON_CreateObject();
  cJSON_AddStringToObject(m, "jsonrpc", "2.0");
  cJSON_AddStringToObject(m, "method", method);
  cJSON_AddItemToObject(m, "params", params ? params : cJSON_CreateObject());
  acp_send(a, m);
}

void acp_request(acp *a, const char *method, cJSON *params, acp_reply_fn fn,
                 void *ud)
{
  acp_pending *p = calloc(1, sizeof *p);
  if (!p) {
    cJSON_Delete(params);
    fn(a, ud, NULL, NULL);
    return;
  }
  p->id = ++a->next_id;
  p->fn = fn;
  p->ud = ud;
  p->next = a->pending;
  a->pending = p;
  cJSON *m = cJSON_CreateObject();
  cJSON_AddStringToObject(m, "jsonrpc", "2.0");
  cJSON_AddNumberToObject(m, "id", (double)p->id);
  cJSON_AddStringToObject(m, "method", method);
  cJSON_AddItemToObject(m, "params", params ? params : cJSON_CreateObject());
  acp_send(a, m);
}

void acp_drop_pending(acp *a)
{
  while (a->pending) {
    acp_pending *p = a->pending;
    a->pending = p->next;
    p->fn(a, p->ud, NULL, NULL);
    free(p);
  }
}

/* A response from the client to one of our requests. */
static void on_response(acp *a, const cJSON *msg)
{
  const cJSON *id = cJSON_GetObjectItemCaseSensitive(msg, "id");
  if (!cJSON_IsNumber(id)) return;
  for (acp_pending **pp = &a->pending; *pp; pp = &(*pp)->next) {
    acp_pending *p = *pp;
    if ((double)p->id != id->valuedouble) continue;
    *pp = p->next;
    const cJSON *err = cJSON_GetObjectItemCaseSensitive(msg, "error");
    const cJSON *res = cJSON_GetObjectItemCaseSensitive(msg, "result");
    if (!err && !res) err = msg;
    p->fn(a, p->ud, err ? NULL : res, err);
    free(p);
    return;
  }
  pt_log(PT_LOG_WARN, "acp", "a response to no request of ours; ignored");
}

/* ------------------------------------------------------------------------ */
/* Reading                                                                   */

static void on_message(acp *a, const char *text, size_t len)
{
  cJSON *msg = cJSON_ParseWithLength(text, len);
  if (!msg) {
    acp_error(a, NULL, ACP_PARSE_ERROR, "Parse error: the line is not JSON");
    return;
  }
  const cJSON *id = cJSON_GetObjectItemCaseSensitive(msg, "id");
  const cJSON *method = cJSON_GetObjectItemCaseSensitive(msg, "method");
  const cJSON *ver = cJSON_GetObjectItemCaseSensitive(msg, "jsonrpc");
  int id_ok = !id || cJSON_IsString(id) || cJSON_IsNumber(id) ||
              cJSON_IsNull(id);
  if (!cJSON_IsObject(msg) || !cJSON_IsString(ver) ||
      strcmp(ver->valuestring, "2.0") != 0 || !id_ok) {
    acp_error(a, id_ok && cJSON_IsObject(msg) ? id : NULL,
              ACP_INVALID_REQUEST, "Invalid Request: not a JSON-RPC 2.0 "
                                   "message");
  } else if (!method && id &&
             (cJSON_GetObjectItemCaseSensitive(msg, "result") ||
              cJSON_GetObjectItemCaseSensitive(msg, "error"))) {
    on_response(a, msg);
  } else if (!cJSON_IsString(method)) {
    acp_error(a, id, ACP_INVALID_REQUEST,
              "Invalid Request: \"method\" must be a string");
  } else {
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(msg, "params");
    if (params && !cJSON_IsObject(params) && !cJSON_IsArray(params)) {
      if (id)
        acp_error(a, id, ACP_INVALID_REQUEST,
                  "Invalid Request: \"params\" must be an object");
    } else {
      acp_dispatch(a, method->valuestring, id, params);
    }
  }
  cJSON_Delete(msg);
}

static int32_t on_line(void *ud, pt_str line)
{
  on_message(ud, line.ptr, line.len);
  return PT_OK;
}

static void on_alloc(uv_handle_t *h, size_t want, uv_buf_t *buf)
{
  static char slab[65536];
  (void)h;
  (void)want;
  *buf = uv_buf_init(slab, sizeof slab);
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
  acp *a = st->data;
  if (n > 0) {
    if (pt_lines_feed(a->lines, buf->base, (size_t)n) != PT_OK) {
      /* A line past the bound: answer it and start over. */
      acp_error(a, NULL, ACP_PARSE_ERROR, "Parse error: a line longer "
                                          "than %u bytes", LINE_MAX_BYTES);
      pt_lines_free(a->lines);
      a->lines = pt_lines_new(on_line, a, LINE_MAX_BYTES);
    }
    return;
  }
  if (n == 0) return;
  if (n != UV_EOF)
    pt_log(PT_LOG_WARN, "acp", "reading stdin: %s", uv_strerror((int)n));
  if (a->lines) pt_lines_end(a->lines);
  uv_read_stop(st);
  a->eof = 1;
  acp_maybe_stop(a);
}

int acp_io_start(acp *a)
{
  uv_loop_t *loop = &a->k->loop;
  a->lines = pt_lines_new(on_line, a, LINE_MAX_BYTES);
  if (!a->lines) return -1;
  int rc;
  if (uv_guess_handle(STDIN_FILENO) == UV_TTY) {
    rc = uv_tty_init(loop, &a->in_tty, STDIN_FILENO, 1);
    a->in = (uv_stream_t *)&a->in_tty;
  } else {
    rc = uv_pipe_init(loop, &a->in_pipe, 0);
    if (rc == 0) {
      a->in = (uv_stream_t *)&a->in_pipe;
      rc = uv_pipe_open(&a->in_pipe, STDIN_FILENO);
    }
  }
  if (rc < 0) {
    fprintf(stderr, "portico: acp reads JSON-RPC from a pipe or a "
                    "terminal on stdin: %s\n", uv_strerror(rc));
    if (a->in) uv_close((uv_handle_t *)a->in, NULL);
    a->in = NULL;
    return -1;
  }
  a->in->data = a;
  uv_read_start(a->in, on_alloc, on_read);
  if (uv_guess_handle(STDOUT_FILENO) == UV_NAMED_PIPE &&
      uv_pipe_init(loop, &a->out_pipe, 0) == 0) {
    if (uv_pipe_open(&a->out_pipe, STDOUT_FILENO) == 0) {
      a->out = (uv_stream_t *)&a->out_pipe;
      a->out->data = a;
    } else {
      uv_close((uv_handle_t *)&a->out_pipe, NULL);
    }
  }
  return 0;
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
  (void)status;
  uv_close((uv_handle_t *)req->handle, NULL);
  free(req);
}

void acp_io_close(acp *a)
{
  if (a->in && !uv_is_closing((uv_handle_t *)a->in))
    uv_close((uv_handle_t *)a->in, NULL);
  if (a->out && !uv_is_closing((uv_handle_t *)a->out)) {
    uv_shutdown_t *req = malloc(sizeof *req);
    if (!req || uv_shutdown(req, a->out, on_shutdown) != 0) {
      free(req);
      uv_close((uv_handle_t *)a->out, NULL);
    }
  }
  pt_lines_free(a->lines);
  a->lines = NULL;
}
