/*
 * core/serve_http.c: the libwebsockets side of `portico serve`. One
 * protocol callback sees every HTTP request, SSE stream and WebSocket
 * connection; it checks who is asking, collects bodies, finds the route,
 * and writes responses when libwebsockets says the socket can take them.
 *
 * Every response is written from the writable callback, never from the
 * handler, so that a handler can answer at once or much later (a model
 * list from a provider) through the same path.
 */
#include "serve.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>

#include "log.h"

#define WRITE_CHUNK 16384

/* What libwebsockets keeps per connection for us: the request in progress
 * (HTTP), or the connection's stream (WebSocket). */
typedef struct serve_pss {
  serve_req *req;
  serve_stream *ws;
} serve_pss;

/* ------------------------------------------------------------------------ */
/* Routes                                                                    */

typedef struct route {
  const char *method, *pattern;
  serve_handler fn;
  int public_;     /* no key needed */
  int token_arg;   /* ?access_token= accepted (EventSource cannot set
                      headers) */
} route;

static const route routes[] = {
  { "GET", "/api/health", serve_get_health, 1, 0 },
  { "GET", "/api/plugins", serve_get_plugins, 0, 0 },
  { "GET", "/api/providers", serve_get_providers, 0, 0 },
  { "GET", "/api/models", serve_get_models, 0, 0 },
  { "GET", "/api/tools", serve_get_tools, 0, 0 },
  { "GET", "/api/agents", serve_get_agents, 0, 0 },
  { "GET", "/api/sessions", serve_get_sessions, 0, 0 },
  { "POST", "/api/sessions", serve_post_sessions, 0, 0 },
  { "GET", "/api/sessions/:id", serve_get_session, 0, 0 },
  { "DELETE", "/api/sessions/:id", serve_delete_session, 0, 0 },
  { "POST", "/api/sessions/:id/messages", serve_post_message, 0, 0 },
  { "POST", "/api/sessions/:id/cancel", serve_post_cancel, 0, 0 },
  { "GET", "/api/sessions/:id/events", serve_get_events, 0, 1 },
  { "GET", "/api/sessions/:id/permissions", serve_get_session_permissions,
    0, 0 },
  { "POST", "/api/sessions/:id/permissions/:call", serve_post_permission, 0,
    0 },
  { "GET", "/api/permissions", serve_get_permissions, 0, 0 },
  { "GET", "/api/search", serve_get_search, 0, 0 },
  { "GET", "/api/usage", serve_get_usage, 0, 0 },
};

#define MAX_PARAMS 4

/* Match `path` against `pattern`; ":name" segments are copied into
 * `store` and pointed to from params. */
static int route_match(const char *pattern, const char *path,
                       const char **params, char *store, size_t cap)
{
  int np = 0;
  size_t used = 0;
  while (*pattern && *path) {
    if (*pattern != '/' || *path != '/') return 0;
    pattern++, path++;
    const char *pe = strchr(pattern, '/');
    const char *se = strchr(path, '/');
    size_t pl = pe ? (size_t)(pe - pattern) : strlen(pattern);
    size_t sl = se ? (size_t)(se - path) : strlen(path);
    if (*pattern == ':') {
      if (!sl || np == MAX_PARAMS || used + sl + 1 > cap) return 0;
      memcpy(store + used, path, sl);
      store[used + sl] = '\0';
      params[np++] = store + used;
      used += sl + 1;
    } else if (pl != sl || memcmp(pattern, path, pl) != 0) {
      return 0;
    }
    pattern += pl;
    path += sl;
  }
  if (!strcmp(path, "/")) path++;  /* a trailing slash is forgiven */
  params[np] = NULL;
  return !*pattern && !*path;
}

/* ------------------------------------------------------------------------ */
/* Requests                                                                  */

static void req_free(serve_req *r)
{
  cJSON_Delete(r->json);
  free(r->body);
  free(r->resp);
  free(r);
}

void serve_req_hold(serve_req *r)
{
  r->refs++;
}

void serve_req_release(serve_req *r)
{
  if (--r->refs == 0) req_free(r);
}

void serve_req_stream_started(serve_req *r)
{
  if (r->wsi) lws_callback_on_writable(r->wsi);
}

/* lws_get_urlarg_by_name stops at the first argument longer than the
 * buffer it is given, so it searches a copy as long as the whole query
 * and only the value is copied out. */
static const char *urlarg(struct lws *wsi, const char *name, char *buf,
                          size_t len)
{
  int total = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_URI_ARGS);
  if (total <= 0 || len < 2) return NULL;
  char key[64];
  snprintf(key, sizeof key, "%.60s=", name);
  char *tmp = malloc((size_t)total + 64);
  const char *v =
      tmp ? lws_get_urlarg_by_name(wsi, key, tmp, total + 64) : NULL;
  /* A value too long for `buf` is cut to fit rather than taken as
   * absent, so the route refuses it instead of using its default. */
  const char *out = NULL;
  if (v) {
    snprintf(buf, len, "%s", v);
    out = buf;
  }
  free(tmp);
  return out;
}

const char *serve_req_arg(serve_req *r, const char *name, char *buf,
                          size_t len)
{
  return r->wsi ? urlarg(r->wsi, name, buf, len) : NULL;
}

void serve_reply(serve_req *r, int status, cJSON *body)
{
  if (r->replied) {
    cJSON_Delete(body);
    return;
  }
  r->replied = 1;
  r->status = status;
  if (body) {
    r->resp = cJSON_PrintUnformatted(body);
    cJSON_Delete(body);
    if (!r->resp) {
      r->status = 500;
      r->resp = strdup("{\"error\":{\"code\":\"internal\",\"message\":"
                       "\"out of memory\"}}");
    }
    r->resp_len = r->resp ? strlen(r->resp) : 0;
  }
  if (r->wsi) lws_callback_on_writable(r->wsi);
}

void serve_reply_error(serve_req *r, int status, const char *code,
                       const char *fmt, ...)
{
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  cJSON *body = cJSON_CreateObject();
  cJSON *e = cJSON_AddObjectToObject(body, "error");
  cJSON_AddStringToObject(e, "code", code);
  cJSON_AddStringToObject(e, "message", msg);
  serve_reply(r, status, body);
}

static int hdr(struct lws *wsi, enum lws_token_indexes t, char *buf,
               size_t len)
{
  buf[0] = '\0';
  if (lws_hdr_total_length(wsi, t) <= 0) return 0;
  return lws_hdr_copy(wsi, buf, (int)len, t) > 0;
}

static int custom_hdr(struct lws *wsi, const char *name, char *buf,
                      size_t len)
{
  buf[0] = '\0';
  int n = (int)strlen(name);
  if (lws_hdr_custom_length(wsi, name, n) <= 0) return 0;
  return lws_hdr_custom_copy(wsi, buf, (int)len, name, n) > 0;
}

static const char *method_of(struct lws *wsi)
{
  static const struct { enum lws_token_indexes t; const char *m; } ms[] = {
    { WSI_TOKEN_GET_URI, "GET" }, { WSI_TOKEN_POST_URI, "POST" },
    { WSI_TOKEN_DELETE_URI, "DELETE" }, { WSI_TOKEN_OPTIONS_URI, "OPTIONS" },
    { WSI_TOKEN_PUT_URI, "PUT" }, { WSI_TOKEN_PATCH_URI, "PATCH" },
    { WSI_TOKEN_HEAD_URI, "HEAD" },
  };
  for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++)
    if (lws_hdr_total_length(wsi, ms[i].t) > 0) return ms[i].m;
  return "";
}

/* The key from the Authorization header, or from ?access_token= where the
 * route allows it. */
static int authorized(pt_serve *sv, struct lws *wsi, int token_arg)
{
  char auth[SERVE_KEY_MAX + 32];
  if (hdr(wsi, WSI_TOKEN_HTTP_AUTHORIZATION, auth, sizeof auth))
    return serve_key_ok(sv, auth);
  if (!token_arg) return 0;
  char buf[SERVE_KEY_MAX + 32];
  const char *tok = urlarg(wsi, "access_token", buf, sizeof buf);
  if (!tok) return 0;
  char bearer[SERVE_KEY_MAX + 16];
  snprintf(bearer, sizeof bearer, "Bearer %.*s", SERVE_KEY_MAX, tok);
  return serve_key_ok(sv, bearer);
}

/* Host and Origin, the checks every route shares (health included: a
 * rebinding page must not even learn that the server exists). */
static int gate(pt_serve *sv, struct lws *wsi, char *origin, size_t olen,
                const char **code, const char **why)
{
  char host[256];
  hdr(wsi, WSI_TOKEN_HOST, host, sizeof host);
  hdr(wsi, WSI_TOKEN_ORIGIN, origin, olen);
  if (!serve_host_ok(sv, host)) {
    *code = "forbidden_host";
    *why = "the Host header must name this server on a loopback address "
           "(127.0.0.1, localhost or [::1] with its port)";
    return 403;
  }
  if (!serve_origin_ok(sv, origin)) {
    origin[0] = '\0';   /* no CORS headers for a refused origin */
    *code = "forbidden_origin";
    *why = "this Origin is not allowed; add it to serve.origins in "
           "config.lua";
    return 403;
  }
  return 0;
}

static void dispatch(pt_serve *sv, serve_req *r, const route *rt,
                     const char *const *params)
{
  if (sv->stopping && strcmp(rt->pattern, "/api/health") != 0) {
    serve_reply_error(r, 503, "stopping", "the server is shutting down");
    return;
  }
  rt->fn(sv, r, params);
}

/* Parse the collected body and run the route it was collected for. */
static void body_done(pt_serve *sv, serve_req *r)
{
  if (r->replied) return;
  if (r->body_len) {
    const char *endp = NULL;
    r->json = cJSON_ParseWithLengthOpts(r->body, r->body_len, &endp, 0);
    if (!r->json) {
      size_t at = endp && endp >= r->body ? (size_t)(endp - r->body) : 0;
      serve_reply_error(r, 400, "bad_json", "the body is not valid JSON "
                        "(near byte %zu of %zu); send one JSON object",
                        at, r->body_len);
      return;
    }
    if (!cJSON_IsObject(r->json)) {
      serve_reply_error(r, 400, "bad_json", "the body must be a JSON object");
      return;
    }
  }
  const char *params[MAX_PARAMS + 1];
  char store[512];
  for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
    if (!strcmp(routes[i].method, r->method) &&
        route_match(routes[i].pattern, r->path, params, store, sizeof store)) {
      dispatch(sv, r, &routes[i], params);
      return;
    }
  serve_reply_error(r, 404, "not_found", "no route %s %.200s", r->method,
                    r->path);
}

static int on_http(pt_serve *sv, serve_pss *pss, struct lws *wsi,
                   const char *uri)
{
  serve_req *r = calloc(1, sizeof *r);
  if (!r) return -1;
  r->sv = sv;
  r->wsi = wsi;
  r->refs = 1;
  r->last_event_id = -1;
  pss->req = r;
  snprintf(r->method, sizeof r->method, "%s", method_of(wsi));
  snprintf(r->path, sizeof r->path, "%s", uri ? uri : "");

  char clen[32];
  long long content_length =
      hdr(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH, clen, sizeof clen)
          ? strtoll(clen, NULL, 10) : 0;
  /* A reply before the body was read leaves the body in the connection,
   * where it would be taken for the next request: close instead. */
  if (content_length > 0) r->close_after = 1;

  const char *code, *why;
  int status = gate(sv, wsi, r->origin, sizeof r->origin, &code, &why);
  if (status) {
    serve_reply_error(r, status, code, "%s", why);
    return 0;
  }
  if (!strcmp(r->method, "OPTIONS")) {
    serve_reply(r, 204, NULL);
    return 0;
  }
  const route *rt = NULL;
  int path_known = 0;
  const char *params[MAX_PARAMS + 1];
  char store[512];
  for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
    if (route_match(routes[i].pattern, r->path, params, store,
                    sizeof store)) {
      path_known = 1;
      if (!strcmp(routes[i].method, r->method)) {
        rt = &routes[i];
        break;
      }
    }
  if (!rt) {
    if (path_known)
      serve_reply_error(r, 405, "method_not_allowed",
                        "%s is not allowed on %.200s", r->method, r->path);
    else
      serve_reply_error(r, 404, "not_found", "no route %s %.200s",
                        r->method, r->path);
    return 0;
  }
  if (!rt->public_ && !authorized(sv, wsi, rt->token_arg)) {
    serve_reply_error(r, 401, "unauthorized",
                      "send Authorization: Bearer KEY (the key is in "
                      "PORTICO_API_KEY or the api-key file in the data "
                      "folder)");
    return 0;
  }
  if (content_length < 0 || (unsigned long long)content_length >
                                (unsigned long long)sv->max_body) {
    serve_reply_error(r, 413, "too_large", "the body is %lld bytes; the "
                      "limit is %zu (serve.max_body_bytes)", content_length,
                      sv->max_body);
    return 0;
  }
  char leid[32];
  if (custom_hdr(wsi, "last-event-id:", leid, sizeof leid)) {
    char *end;
    long long v = strtoll(leid, &end, 10);
    if (end != leid && *end == '\0' && v >= 0) r->last_event_id = v;
  }
  if (content_length > 0) {
    r->body_cap = (size_t)content_length;
    r->body = malloc(r->body_cap + 1);
    if (!r->body) return -1;
    return 0;   /* the route runs when the body is complete */
  }
  r->close_after = 0;
  dispatch(sv, r, rt, params);
  return 0;
}

static int on_body(pt_serve *sv, serve_req *r, const void *in, size_t len)
{
  if (r->replied) return 0;
  if (r->body_len + len > r->body_cap) {
    serve_reply_error(r, 413, "too_large", "the body is longer than its "
                      "Content-Length (limit %zu bytes)", sv->max_body);
    return 0;
  }
  memcpy(r->body + r->body_len, in, len);
  r->body_len += len;
  return 0;
}

/* The response head; CORS for an allowed browser origin. */
static int write_head(serve_req *r, const char *type,
                      lws_filepos_t content_len)
{
  unsigned char buf[LWS_PRE + 2048];
  unsigned char *start = buf + LWS_PRE, *p = start, *end = buf + sizeof buf - 1;
  struct lws *wsi = r->wsi;
  if (lws_add_http_common_headers(wsi, (unsigned)r->status, type,
                                  content_len, &p, end))
    return -1;
  if (r->origin[0]) {
    static const char methods[] = "GET, POST, DELETE, OPTIONS";
    static const char headers[] = "authorization, content-type, last-event-id";
    if (lws_add_http_header_by_name(
            wsi, (const unsigned char *)"access-control-allow-origin:",
            (const unsigned char *)r->origin, (int)strlen(r->origin), &p,
            end) ||
        lws_add_http_header_by_name(
            wsi, (const unsigned char *)"vary:", (const unsigned char *)"Origin",
            6, &p, end) ||
        lws_add_http_header_by_name(
            wsi, (const unsigned char *)"access-control-allow-methods:",
            (const unsigned char *)methods, (int)sizeof methods - 1, &p,
            end) ||
        lws_add_http_header_by_name(
            wsi, (const unsigned char *)"access-control-allow-headers:",
            (const unsigned char *)headers, (int)sizeof headers - 1, &p, end))
      return -1;
  }
  if (r->status == 401 &&
      lws_add_http_header_by_name(
          wsi, (const unsigned char *)"www-authenticate:",
          (const unsigned char *)"Bearer", 6, &p, end))
    return -1;
  if (r->stream &&
      lws_add_http_header_by_name(
          wsi, (const unsigned char *)"cache-control:",
          (const unsigned char *)"no-cache", 8, &p, end))
    return -1;
  if (r->close_after &&
      lws_add_http_header_by_token(wsi, WSI_TOKEN_CONNECTION,
                                   (const unsigned char *)"close", 5, &p, end))
    return -1;
  return lws_finalize_write_http_header(wsi, start, &p, end) ? -1 : 0;
}

static int on_writable(serve_req *r)
{
  struct lws *wsi = r->wsi;
  if (r->stream) {
    if (!r->headers_done) {
      r->status = 200;
      if (write_head(r, "text/event-stream", LWS_ILLEGAL_HTTP_CONTENT_LEN))
        return -1;
      /* An SSE stream is long-lived by design: no idle timeout on it.
       * (lws_http_mark_sse is for HTTP/2 streams only.) */
      lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
      r->headers_done = 1;
      r->stream->headers_done = 1;
      lws_callback_on_writable(wsi);
      return 0;
    }
    return serve_stream_write(r->stream);
  }
  if (!r->replied) return 0;
  if (!r->headers_done) {
    r->headers_done = 1;
    if (write_head(r, r->resp ? "application/json" : NULL, r->resp_len))
      return -1;
    if (r->resp_len) {
      lws_callback_on_writable(wsi);
      return 0;
    }
  } else {
    unsigned char buf[LWS_PRE + WRITE_CHUNK];
    size_t n = r->resp_len - r->resp_off;
    if (n > WRITE_CHUNK) n = WRITE_CHUNK;
    memcpy(buf + LWS_PRE, r->resp + r->resp_off, n);
    r->resp_off += n;
    int last = r->resp_off == r->resp_len;
    if (lws_write(wsi, buf + LWS_PRE, n,
                  last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) < (int)n)
      return -1;
    if (!last) {
      lws_callback_on_writable(wsi);
      return 0;
    }
  }
  if (r->close_after) return -1;
  return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static void detach_req(serve_pss *pss)
{
  serve_req *r = pss->req;
  if (!r) return;
  pss->req = NULL;
  if (r->stream) {
    serve_stream_gone(r->stream);
    r->stream = NULL;
  }
  r->wsi = NULL;
  serve_req_release(r);
}

/* ------------------------------------------------------------------------ */
/* WebSocket                                                                 */

/* A WebSocket upgrade does not pass through LWS_CALLBACK_HTTP, so the
 * checks of on_http are made here, answered with the same JSON errors. */
static int confirm_upgrade(pt_serve *sv, struct lws *wsi)
{
  char path[512];
  hdr(wsi, WSI_TOKEN_GET_URI, path, sizeof path);
  char origin[256];
  const char *code = NULL, *why = NULL;
  int status = gate(sv, wsi, origin, sizeof origin, &code, &why);
  if (!status && strcmp(path, "/api/ws") != 0) {
    status = 404, code = "not_found", why = "WebSocket is served at /api/ws";
  } else if (!status && !authorized(sv, wsi, 1)) {
    status = 401, code = "unauthorized";
    why = "send Authorization: Bearer KEY, or ?access_token=KEY";
  } else if (!status && sv->stopping) {
    status = 503, code = "stopping", why = "the server is shutting down";
  }
  if (!status) return 0;
  char body[512];
  int len = snprintf(body, sizeof body,
                     "{\"error\":{\"code\":\"%s\",\"message\":\"%s\"}}",
                     code, why);
  unsigned char buf[LWS_PRE + 1024];
  unsigned char *start = buf + LWS_PRE, *p = start, *end = buf + sizeof buf - 1;
  if (lws_add_http_common_headers(wsi, (unsigned)status, "application/json",
                                  (lws_filepos_t)len, &p, end) ||
      lws_add_http_header_by_token(wsi, WSI_TOKEN_CONNECTION,
                                   (const unsigned char *)"close", 5, &p,
                                   end) ||
      lws_finalize_write_http_header(wsi, start, &p, end))
    return -1;
  memcpy(buf + LWS_PRE, body, (size_t)len);
  lws_write(wsi, buf + LWS_PRE, (size_t)len, LWS_WRITE_HTTP_FINAL);
  return 1;
}

static int on_receive(pt_serve *sv, serve_stream *s, struct lws *wsi,
                      const void *in, size_t len)
{
  if (!s) return -1;
  if (s->rx_len + len > sv->max_body) {
    lws_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE,
                     (unsigned char *)"message too large", 17);
    return -1;
  }
  char *grown = realloc(s->rx, s->rx_len + len + 1);
  if (!grown) return -1;
  s->rx = grown;
  memcpy(s->rx + s->rx_len, in, len);
  s->rx_len += len;
  s->rx[s->rx_len] = '\0';
  if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi))
    return 0;
  if (lws_frame_is_binary(wsi)) {
    s->rx_len = 0;
    lws_close_reason(wsi, LWS_CLOSE_STATUS_UNACCEPTABLE_OPCODE,
                     (unsigned char *)"text messages only", 18);
    return -1;
  }
  size_t n = s->rx_len;
  s->rx_len = 0;
  serve_ws_message(s, s->rx, n);
  return 0;
}

/* ------------------------------------------------------------------------ */
/* The callback                                                              */

int serve_lws_callback(struct lws *wsi, enum lws_callback_reasons reason,
                       void *user, void *in, size_t len);

int serve_lws_callback(struct lws *wsi, enum lws_callback_reasons reason,
                       void *user, void *in, size_t len)
{
  struct lws_context *ctx = lws_get_context(wsi);
  pt_serve *sv = ctx ? lws_context_user(ctx) : NULL;
  serve_pss *pss = user;
  switch (reason) {
  case LWS_CALLBACK_FILTER_NETWORK_CONNECTION:
    /* Stopping: new connections are refused at once. */
    return sv && sv->stopping ? 1 : 0;
  case LWS_CALLBACK_HTTP:
    if (!pss) return -1;
    detach_req(pss);
    return on_http(sv, pss, wsi, in);
  case LWS_CALLBACK_HTTP_BODY:
    if (pss && pss->req) return on_body(sv, pss->req, in, len);
    return 0;
  case LWS_CALLBACK_HTTP_BODY_COMPLETION:
    if (pss && pss->req) {
      pss->req->close_after = 0;
      body_done(sv, pss->req);
    }
    return 0;
  case LWS_CALLBACK_HTTP_WRITEABLE:
    if (pss && pss->req) return on_writable(pss->req);
    return 0;
  case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
  case LWS_CALLBACK_CLOSED_HTTP:
    if (pss) detach_req(pss);
    return 0;
  case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
    if (!in || strcmp(in, "websocket") != 0) return -1;
    return confirm_upgrade(sv, wsi);
  case LWS_CALLBACK_ESTABLISHED:
    if (!pss) return -1;
    pss->ws = serve_stream_new(sv, wsi, SERVE_WS);
    return pss->ws ? 0 : -1;
  case LWS_CALLBACK_RECEIVE:
    return on_receive(sv, pss ? pss->ws : NULL, wsi, in, len);
  case LWS_CALLBACK_SERVER_WRITEABLE:
    if (pss && pss->ws) return serve_stream_write(pss->ws);
    return 0;
  case LWS_CALLBACK_CLOSED:
    if (pss && pss->ws) {
      serve_stream_gone(pss->ws);
      pss->ws = NULL;
    }
    return 0;
  default:
    break;
  }
  return 0;
}

const struct lws_protocols serve_protocols[] = {
  { "portico", serve_lws_callback, sizeof(serve_pss), 4096, 0, NULL, 0 },
  { NULL, NULL, 0, 0, 0, NULL, 0 }
};
