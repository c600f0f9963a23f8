/*
 * plugins/tools/http_fetch.c: http_fetch, one GET or POST through the
 * host's HTTP client.
 *
 * Everything happens on the loop thread: the request streams through
 * api->http_start, the body is kept up to TOOLS_HTTP_MAX_BODY and the
 * transfer is cancelled there, so a huge download costs nothing. Redirects
 * are not followed: the model sees the Location and fetches it as a new
 * call, which the permission policy judges by its own host. A failure
 * found before the request starts is delivered through api->post, since
 * op_done must never run inside invoke.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tools.h"

typedef struct fetch {
  pt_op *op;
  pt_http *r;              /* until on_done */
  int cancelled;           /* by the host */
  int capped;              /* we stopped the transfer at the size cap */
  int http_status;
  long long timeout_s;
  char *content_type;      /* owned, from the response headers */
  char *location;          /* owned */
  long long length;        /* Content-Length, -1 when not sent */
  tbuf body;
  size_t received;
  tool_result res;
} fetch;

static void fetch_free(fetch *f)
{
  free(f->content_type);
  free(f->location);
  tb_free(&f->body);
  result_free(&f->res);
  free(f);
}

static void complete(fetch *f, int32_t status)
{
  pt_op *op = f->op;
  char *out = result_print(&f->res);
  if (!out && status == PT_OK) status = PT_ENOMEM;
  const char *text = out ? out : "{}";
  tools_api->op_done(op, status, (pt_str){ text, strlen(text) });
  cJSON_free(out);
  fetch_free(f);
}

static void on_posted(void *ud)
{
  fetch *f = ud;
  complete(f, f->cancelled ? PT_ECANCELED : PT_OK);
}

static char *copy_view(pt_str v)
{
  char *s = malloc(v.len + 1);
  if (s) {
    if (v.len) memcpy(s, v.ptr, v.len);
    s[v.len] = '\0';
  }
  return s;
}

static void on_response(pt_http *r, void *ud, int32_t http_status)
{
  fetch *f = ud;
  f->http_status = http_status;
  f->content_type = copy_view(tools_api->http_header(r, "content-type"));
  f->location = copy_view(tools_api->http_header(r, "location"));
  pt_str len = tools_api->http_header(r, "content-length");
  f->length = -1;
  if (len.len && len.len < 20) {
    char num[24];
    memcpy(num, len.ptr, len.len);
    num[len.len] = '\0';
    f->length = strtoll(num, NULL, 10);
  }
}

static void on_body(pt_http *r, void *ud, pt_str chunk)
{
  fetch *f = ud;
  f->received += chunk.len;
  size_t room = TOOLS_HTTP_MAX_BODY - f->body.len;
  tb_add(&f->body, chunk.ptr, chunk.len < room ? chunk.len : room);
  if (f->body.len >= TOOLS_HTTP_MAX_BODY && !f->capped) {
    f->capped = 1;
    tools_api->http_cancel(r);
  }
}

/* Whether the body is meant as text by its type; other types are sniffed. */
static int textual(const char *type)
{
  static const char *const TEXT[] = {
    "text/", "application/json", "application/xml", "application/javascript",
    "application/x-www-form-urlencoded", "+json", "+xml",
  };
  if (!type) return 0;
  size_t n = strcspn(type, ";");
  for (size_t i = 0; i < sizeof TEXT / sizeof TEXT[0]; i++) {
    size_t tl = strlen(TEXT[i]);
    if (TEXT[i][0] == '+') {
      if (n >= tl && strncasecmp(type + n - tl, TEXT[i], tl) == 0) return 1;
    } else if (n >= tl && strncasecmp(type, TEXT[i], tl) == 0) {
      return 1;
    }
  }
  return 0;
}

static void report(fetch *f)
{
  tbuf out = { 0 };
  const char *type = f->content_type && *f->content_type ? f->content_type
                                                          : NULL;
  tb_addf(&out, "HTTP %d", f->http_status);
  if (type) {
    tb_adds(&out, " (");
    tb_add_text(&out, type, strlen(type));
    tb_adds(&out, ")");
  }
  tb_addf(&out, ", %s%zu bytes\n", f->capped ? "more than " : "", f->received);
  if (f->http_status >= 300 && f->http_status < 400 && f->location &&
      *f->location) {
    tb_adds(&out, "Location: ");
    tb_add_text(&out, f->location, strlen(f->location));
    tb_adds(&out, "\n[redirects are not followed; fetch that URL if you want "
            "it]\n");
  }
  char why[96];
  const char *b = tb_str(&f->body);
  if (f->body.len && !textual(type) &&
      text_is_binary(b, f->body.len < TOOLS_SNIFF_BYTES ? f->body.len
                                                        : TOOLS_SNIFF_BYTES,
                     f->capped || f->body.len > TOOLS_SNIFF_BYTES, why,
                     sizeof why)) {
    tb_addf(&out, "[the body is binary (%s) and is not shown]\n", why);
  } else if (f->body.len) {
    tb_add(&out, "\n", 1);
    tb_add_text(&out, b, f->body.len);
    if (f->capped) {
      tb_addf(&out, "\n[body cut at %d bytes", TOOLS_HTTP_MAX_BODY);
      if (f->length > 0) tb_addf(&out, " of %lld", f->length);
      tb_adds(&out, "; fetch a smaller resource, or save it to a file with "
              "shell_exec (curl -o) and page through it with fs_read]");
    }
  }
  if (out.oom) {
    f->res.oom = 1;
  } else {
    result_content(&f->res, tb_str(&out));
    if (f->http_status >= 400) result_bool(&f->res, "is_error", 1);
  }
  tb_free(&out);
  result_num(&f->res, "status", f->http_status);
  result_str(&f->res, "content_type", type);
  result_bool(&f->res, "truncated", f->capped);
  result_num(&f->res, "bytes", (double)f->received);
}

static void on_done(pt_http *r, void *ud, int32_t status, pt_str message)
{
  fetch *f = ud;
  f->r = NULL;
  if (f->cancelled) {
    result_error(&f->res, "cancelled");
    complete(f, PT_ECANCELED);
    return;
  }
  if (status == PT_OK || (status == PT_ECANCELED && f->capped)) {
    report(f);
  } else if (status == PT_ETIMEDOUT || status == PT_EFIRSTBYTE ||
             status == PT_EIDLE || status == PT_ECONNTIMEOUT) {
    result_error(&f->res, "the request timed out after %lld s (%s)",
                 f->timeout_s, pt_strerror(status));
  } else {
    result_error(&f->res, "the request failed: %s (%.*s)", pt_strerror(status),
                 (int)(message.len > 300 ? 300 : message.len),
                 message.ptr ? message.ptr : "");
  }
  complete(f, PT_OK);
}

static int valid_url(const char *url)
{
  size_t skip = strncasecmp(url, "http://", 7) == 0    ? 7
                : strncasecmp(url, "https://", 8) == 0 ? 8
                                                       : 0;
  return skip && url[skip] && !strpbrk(url, " \t\r\n");
}

/* Check the arguments and build the header lines (malloc'd array of
 * malloc'd strings, NULL-terminated). -1 after result_error(). */
static int build(fetch *f, const cJSON *args, const char **url,
                 const char **method, const char **body, char ***headers)
{
  tool_result *r = &f->res;
  *headers = NULL;
  if (arg_string(args, r, "url", 1, url) < 0 ||
      arg_string(args, r, "method", 0, method) < 0 ||
      arg_string(args, r, "body", 0, body) < 0 ||
      arg_int(args, r, "timeout_seconds", TOOLS_HTTP_TIMEOUT_S, 1,
              TOOLS_HTTP_TIMEOUT_MAX_S, &f->timeout_s) < 0)
    return -1;
  if (!*method) *method = "GET";
  if (!valid_url(*url)) {
    result_error(r, "the URL must start with http:// or https:// and hold no "
                 "spaces: %s", *url);
    return -1;
  }
  if (strcmp(*method, "GET") != 0 && strcmp(*method, "POST") != 0) {
    result_error(r, "method must be GET or POST, not %s", *method);
    return -1;
  }
  if (*body && strcmp(*method, "POST") != 0) {
    result_error(r, "a body is only sent with method POST");
    return -1;
  }
  const cJSON *h = cJSON_GetObjectItemCaseSensitive(args, "headers");
  if (h && !cJSON_IsNull(h) && !cJSON_IsObject(h)) {
    result_error(r, "argument \"headers\" must be an object of strings");
    return -1;
  }
  size_t n = (size_t)cJSON_GetArraySize(h);
  char **lines = calloc(n + 2, sizeof *lines);
  if (!lines) {
    r->oom = 1;
    return -1;
  }
  *headers = lines;
  size_t k = 0;
  int agent = 0;
  for (const cJSON *it = h ? h->child : NULL; it; it = it->next) {
    if (!cJSON_IsString(it) || !*it->string ||
        strpbrk(it->string, ":\r\n \t") || strpbrk(it->valuestring, "\r\n")) {
      result_error(r, "header %s must be a name without spaces or colons "
                   "and a one-line string value", it->string);
      return -1;
    }
    if (strcasecmp(it->string, "user-agent") == 0) agent = 1;
    size_t len = strlen(it->string) + strlen(it->valuestring) + 3;
    if (!(lines[k] = malloc(len))) {
      r->oom = 1;
      return -1;
    }
    snprintf(lines[k++], len, "%s: %s", it->string, it->valuestring);
  }
  if (!agent && !(lines[k] = strdup("User-Agent: portico/" PORTICO_VERSION))) {
    r->oom = 1;
    return -1;
  }
  return 0;
}

int32_t http_fetch_invoke(void *self, pt_op *op, pt_str args_json)
{
  fetch *f = calloc(1, sizeof *f);
  if (!f) return PT_ENOMEM;
  f->op = op;
  cJSON *args = cJSON_ParseWithLength(args_json.ptr, args_json.len);
  const char *url, *method, *body;
  char **headers = NULL;
  int32_t rc = PT_OK;
  if (!cJSON_IsObject(args)) {
    result_error(&f->res, "the arguments of http_fetch must be a JSON "
                 "object");
  } else if (json_has_nul(args_json.ptr, args_json.len)) {
    result_error(&f->res, "the arguments of http_fetch hold a NUL "
                 "character (\\u0000); send text only");
  } else if (build(f, args, &url, &method, &body, &headers) == 0) {
    uint32_t total = (uint32_t)f->timeout_s * 1000;
    pt_http_request req = {
      .struct_size = sizeof req,
      .method = method,
      .url = url,
      .headers = (const char *const *)headers,
      .body = { body, body ? strlen(body) : 0 },
      .connect_timeout_ms = total < 10000 ? total : 10000,
      .first_byte_timeout_ms = total,
      .idle_timeout_ms = total,
      .total_timeout_ms = total,
      .on_response = on_response,
      .on_body = on_body,
      .on_done = on_done,
      .ud = f,
    };
    rc = tools_api->http_start(tools_host, &req, &f->r);
    if (rc == PT_EINVAL) {
      result_error(&f->res, "the HTTP client refused the request (a URL or "
                   "header it cannot send): %s", url);
      rc = PT_OK;
    }
  }
  for (size_t i = 0; headers && headers[i]; i++) free(headers[i]);
  free(headers);
  cJSON_Delete(args);
  if (rc == PT_OK && !f->r) {
    /* Nothing started: deliver the error result on a later loop turn. */
    rc = tools_api->post(tools_host, on_posted, f);
  }
  if (rc < 0) {
    fetch_free(f);
    return rc;
  }
  op->data = f;
  return PT_OK;
}

void http_fetch_cancel(void *self, pt_op *op)
{
  fetch *f = op->data;
  if (!f || f->cancelled) return;
  f->cancelled = 1;
  if (f->r) tools_api->http_cancel(f->r);
}

const tool_def tool_http_fetch = {
  .vt = {
    .struct_size = sizeof(pt_tool_vt),
    .flags = PT_TOOL_NETWORK,
    .name = "http_fetch",
    .description =
        "Fetch a URL over HTTP or HTTPS with GET, or POST a body, and "
        "return the status, content type and body as text. Redirects are "
        "not followed (the Location is shown). At most 128 KB of the body "
        "is returned, with a note when it was cut; binary bodies are not "
        "shown. HTML is returned as it is. Times out after timeout_seconds "
        "(default 30, at most 120). A status of 400 or above is reported "
        "as an error, with its body.",
    .input_schema =
        "{\"type\":\"object\",\"properties\":{"
        "\"url\":{\"type\":\"string\",\"description\":\"http:// or https:// "
        "URL\"},"
        "\"method\":{\"type\":\"string\",\"enum\":[\"GET\",\"POST\"],"
        "\"description\":\"Default GET\"},"
        "\"body\":{\"type\":\"string\",\"description\":\"Request body, POST "
        "only\"},"
        "\"headers\":{\"type\":\"object\",\"additionalProperties\":{\"type\":"
        "\"string\"},\"description\":\"Extra request headers, e.g. "
        "{\\\"Content-Type\\\": \\\"application/json\\\"}\"},"
        "\"timeout_seconds\":{\"type\":\"integer\",\"minimum\":1,"
        "\"maximum\":120,\"description\":\"Give up after this many seconds; "
        "default 30\"}},"
        "\"required\":[\"url\"],\"additionalProperties\":false}",
    .invoke = http_fetch_invoke,
    .cancel = http_fetch_cancel,
  },
};
