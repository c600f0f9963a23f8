/*
 * tests/support/fake_anthropic.c: the fake Anthropic Messages API (see
 * fake_anthropic.h). The event JSON below is spelled the way the API
 * spells it, spaces included where the API puts them (ping, error).
 */
#include "fake_anthropic.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <uv.h>

typedef struct queued {
  fake_anthropic_reply fn;
  void *ud;
} queued;

struct fake_anthropic {
  fake_http *http;
  char url[64];
  pthread_mutex_t lock;
  queued *replies;                 /* owned */
  size_t reply_count, reply_cap, next_reply;
  fake_anthropic_request **reqs;   /* owned, each owned */
  size_t req_count, req_cap;
};

static atomic_uint request_ids;

static void *xmalloc(size_t n)
{
  void *p = malloc(n ? n : 1);
  if (!p) abort();
  return p;
}

static void *xrealloc(void *p, size_t n)
{
  p = realloc(p, n ? n : 1);
  if (!p) abort();
  return p;
}

static char *xstrdup(const char *s)
{
  size_t n = strlen(s) + 1;
  return memcpy(xmalloc(n), s, n);
}

/* ------------------------------------------------------------------------ */
/* Server                                                                    */

static fake_anthropic_request *record(const fake_http_request *req)
{
  fake_anthropic_request *r = xmalloc(sizeof *r);
  r->method = xstrdup(req->method);
  r->path = xstrdup(req->path);
  r->header_count = req->header_count;
  r->headers = xmalloc(req->header_count * sizeof *r->headers);
  for (size_t i = 0; i < req->header_count; i++) {
    r->headers[i].name = xstrdup(req->headers[i].name);
    r->headers[i].value = xstrdup(req->headers[i].value);
  }
  r->body = xmalloc(req->body_len + 1);
  memcpy(r->body, req->body, req->body_len);
  r->body[req->body_len] = '\0';
  r->body_len = req->body_len;
  r->at_ms = uv_hrtime() / 1000000;
  return r;
}

static void handle(void *ud, const fake_http_request *req,
                   fake_http_response *res)
{
  fake_anthropic *fa = ud;
  fake_anthropic_request *r = record(req);
  queued q = { NULL, NULL };
  pthread_mutex_lock(&fa->lock);
  if (fa->req_count == fa->req_cap) {
    fa->req_cap = fa->req_cap ? fa->req_cap * 2 : 16;
    fa->reqs = xrealloc(fa->reqs, fa->req_cap * sizeof *fa->reqs);
  }
  fa->reqs[fa->req_count++] = r;
  if (fa->next_reply < fa->reply_count)
    q = fa->replies[fa->next_reply++];
  else if (fa->reply_count)
    q = fa->replies[fa->reply_count - 1];
  pthread_mutex_unlock(&fa->lock);
  if (q.fn)
    q.fn(q.ud, res);
  else
    fake_anthropic_send_error(res, 500, "api_error",
                              "fake_anthropic: no reply queued", NULL);
}

fake_anthropic *fake_anthropic_start(void)
{
  fake_anthropic *fa = xmalloc(sizeof *fa);
  memset(fa, 0, sizeof *fa);
  pthread_mutex_init(&fa->lock, NULL);
  fa->http = fake_http_start(handle, fa);
  if (!fa->http) abort();
  snprintf(fa->url, sizeof fa->url, "http://127.0.0.1:%d",
           fake_http_port(fa->http));
  return fa;
}

void fake_anthropic_stop(fake_anthropic *fa)
{
  if (!fa) return;
  fake_http_stop(fa->http);
  for (size_t i = 0; i < fa->req_count; i++) {
    fake_anthropic_request *r = fa->reqs[i];
    for (size_t h = 0; h < r->header_count; h++) {
      free((char *)r->headers[h].name);
      free((char *)r->headers[h].value);
    }
    free(r->headers);
    free(r->method);
    free(r->path);
    free(r->body);
    free(r);
  }
  free(fa->reqs);
  free(fa->replies);
  pthread_mutex_destroy(&fa->lock);
  free(fa);
}

int fake_anthropic_port(const fake_anthropic *fa)
{
  return fake_http_port(fa->http);
}

const char *fake_anthropic_url(const fake_anthropic *fa)
{
  return fa->url;
}

void fake_anthropic_push(fake_anthropic *fa, fake_anthropic_reply fn, void *ud)
{
  pthread_mutex_lock(&fa->lock);
  if (fa->reply_count == fa->reply_cap) {
    fa->reply_cap = fa->reply_cap ? fa->reply_cap * 2 : 8;
    fa->replies = xrealloc(fa->replies, fa->reply_cap * sizeof *fa->replies);
  }
  fa->replies[fa->reply_count++] = (queued){ fn, ud };
  pthread_mutex_unlock(&fa->lock);
}

size_t fake_anthropic_request_count(fake_anthropic *fa)
{
  pthread_mutex_lock(&fa->lock);
  size_t n = fa->req_count;
  pthread_mutex_unlock(&fa->lock);
  return n;
}

const fake_anthropic_request *fake_anthropic_request_at(fake_anthropic *fa,
                                                        size_t i)
{
  pthread_mutex_lock(&fa->lock);
  const fake_anthropic_request *r = i < fa->req_count ? fa->reqs[i] : NULL;
  pthread_mutex_unlock(&fa->lock);
  return r;
}

const char *fake_anthropic_header(const fake_anthropic_request *r,
                                  const char *name)
{
  for (size_t i = 0; r && i < r->header_count; i++)
    if (strcasecmp(r->headers[i].name, name) == 0) return r->headers[i].value;
  return NULL;
}

int fake_anthropic_open_connections(const fake_anthropic *fa)
{
  /* Lines read "sl local rem st ...", addresses as HEXIP:HEXPORT; the
   * server's side of a connection has the fake's port as its local port.
   * ESTABLISHED (01) and CLOSE_WAIT (08) are sockets the fake has not
   * closed yet. */
  FILE *f = fopen("/proc/net/tcp", "r");
  if (!f) return -1;
  char line[512];
  int open = 0, port = fake_http_port(fa->http);
  while (fgets(line, sizeof line, f)) {
    unsigned lport, st;
    char local[64], remote[64];
    if (sscanf(line, " %*[0-9]: %63s %63s %x", local, remote, &st) != 3)
      continue;
    const char *colon = strchr(local, ':');
    if (!colon || sscanf(colon + 1, "%x", &lport) != 1) continue;
    if ((int)lport == port && (st == 0x01 || st == 0x08)) open++;
  }
  fclose(f);
  return open;
}

/* ------------------------------------------------------------------------ */
/* Building streams                                                          */

void fa_sse_free(fa_sse *s)
{
  free(s->text);
  memset(s, 0, sizeof *s);
}

static void sse_append(fa_sse *s, const char *fmt, va_list ap)
{
  va_list ap2;
  va_copy(ap2, ap);
  int n = vsnprintf(NULL, 0, fmt, ap);
  if (s->len + (size_t)n + 1 > s->cap) {
    s->cap = s->cap ? s->cap : 1024;
    while (s->len + (size_t)n + 1 > s->cap) s->cap *= 2;
    s->text = xrealloc(s->text, s->cap);
  }
  vsnprintf(s->text + s->len, (size_t)n + 1, fmt, ap2);
  s->len += (size_t)n;
  va_end(ap2);
}

static void sse_printf(fa_sse *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void sse_printf(fa_sse *s, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  sse_append(s, fmt, ap);
  va_end(ap);
}

void fa_sse_event(fa_sse *s, const char *type, const char *json_fmt, ...)
{
  va_list ap;
  sse_printf(s, "event: %s\ndata: ", type);
  va_start(ap, json_fmt);
  sse_append(s, json_fmt, ap);
  va_end(ap);
  sse_printf(s, "\n\n");
}

void fa_sse_message_start(fa_sse *s, unsigned input, unsigned cache_write,
                          unsigned cache_read)
{
  fa_sse_event(s, "message_start",
                 "{\"type\":\"message_start\",\"message\":{\"id\":"
                 "\"msg_01FakeFakeFake\",\"type\":\"message\",\"role\":"
                 "\"assistant\",\"content\":[],\"model\":"
                 "\"claude-sonnet-4-5\",\"stop_reason\":null,"
                 "\"stop_sequence\":null,\"usage\":{\"input_tokens\":%u,"
                 "\"cache_creation_input_tokens\":%u,"
                 "\"cache_read_input_tokens\":%u,\"output_tokens\":1}}}",
                 input, cache_write, cache_read);
}

void fa_sse_text_start(fa_sse *s, unsigned index)
{
  fa_sse_event(s, "content_block_start",
                 "{\"type\":\"content_block_start\",\"index\":%u,"
                 "\"content_block\":{\"type\":\"text\",\"text\":\"\"}}",
                 index);
}

void fa_sse_text_delta(fa_sse *s, unsigned index, const char *json_text)
{
  fa_sse_event(s, "content_block_delta",
                 "{\"type\":\"content_block_delta\",\"index\":%u,\"delta\":"
                 "{\"type\":\"text_delta\",\"text\":\"%s\"}}",
                 index, json_text);
}

void fa_sse_thinking_start(fa_sse *s, unsigned index)
{
  fa_sse_event(s, "content_block_start",
                 "{\"type\":\"content_block_start\",\"index\":%u,"
                 "\"content_block\":{\"type\":\"thinking\",\"thinking\":\"\","
                 "\"signature\":\"\"}}",
                 index);
}

void fa_sse_thinking_delta(fa_sse *s, unsigned index, const char *json_text)
{
  fa_sse_event(s, "content_block_delta",
                 "{\"type\":\"content_block_delta\",\"index\":%u,\"delta\":"
                 "{\"type\":\"thinking_delta\",\"thinking\":\"%s\"}}",
                 index, json_text);
}

void fa_sse_signature_delta(fa_sse *s, unsigned index, const char *json_text)
{
  fa_sse_event(s, "content_block_delta",
                 "{\"type\":\"content_block_delta\",\"index\":%u,\"delta\":"
                 "{\"type\":\"signature_delta\",\"signature\":\"%s\"}}",
                 index, json_text);
}

void fa_sse_tool_start(fa_sse *s, unsigned index, const char *id,
                       const char *name)
{
  fa_sse_event(s, "content_block_start",
                 "{\"type\":\"content_block_start\",\"index\":%u,"
                 "\"content_block\":{\"type\":\"tool_use\",\"id\":\"%s\","
                 "\"name\":\"%s\",\"input\":{}}}",
                 index, id, name);
}

void fa_sse_json_delta(fa_sse *s, unsigned index, const char *json_text)
{
  fa_sse_event(s, "content_block_delta",
                 "{\"type\":\"content_block_delta\",\"index\":%u,\"delta\":"
                 "{\"type\":\"input_json_delta\",\"partial_json\":\"%s\"}}",
                 index, json_text);
}

void fa_sse_block_stop(fa_sse *s, unsigned index)
{
  fa_sse_event(s, "content_block_stop",
                 "{\"type\":\"content_block_stop\",\"index\":%u}", index);
}

void fa_sse_message_delta(fa_sse *s, const char *stop_reason,
                          unsigned output_tokens)
{
  fa_sse_event(s, "message_delta",
                 "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
                 "\"%s\",\"stop_sequence\":null},\"usage\":"
                 "{\"output_tokens\":%u}}",
                 stop_reason, output_tokens);
}

void fa_sse_message_stop(fa_sse *s)
{
  fa_sse_event(s, "message_stop", "{\"type\":\"message_stop\"}");
}

void fa_sse_ping(fa_sse *s)
{
  fa_sse_event(s, "ping", "{\"type\": \"ping\"}");
}

void fa_sse_error(fa_sse *s, const char *type, const char *message)
{
  fa_sse_event(s, "error",
                 "{\"type\": \"error\", \"error\": {\"type\": \"%s\", "
                 "\"message\": \"%s\"}}",
                 type, message);
}

/* ------------------------------------------------------------------------ */
/* Sending                                                                   */

void fake_anthropic_stream_head(fake_http_response *res)
{
  fake_http_sendf(res,
                  "HTTP/1.1 200 OK\r\n"
                  "Content-Type: text/event-stream; charset=utf-8\r\n"
                  "Cache-Control: no-cache\r\n"
                  "request-id: req_fake%04u\r\n"
                  "Transfer-Encoding: chunked\r\n\r\n",
                  atomic_fetch_add(&request_ids, 1));
}

void fake_anthropic_send_split(fake_http_response *res, const char *text,
                               size_t len, unsigned wait_ms)
{
  const unsigned char *t = (const unsigned char *)text;
  size_t start = 0;
  for (size_t i = 1; i <= len; i++) {
    int cut = i == len || i - start >= 17;
    cut = cut || t[i - 1] == '\n' || t[i - 1] == '\\';
    cut = cut || t[i - 1] >= 0xC0; /* after a multi-byte lead byte */
    /* In the middle of \uXXXX: after "\uXX". */
    cut = cut || (i >= 4 && t[i - 4] == '\\' && t[i - 3] == 'u');
    if (!cut) continue;
    fake_http_chunk(res, text + start, i - start);
    if (wait_ms && i < len) fake_http_wait(res, wait_ms);
    start = i;
  }
}

void fake_anthropic_send_stream(fake_http_response *res, const fa_sse *s,
                                unsigned wait_ms)
{
  fake_anthropic_stream_head(res);
  fake_anthropic_send_split(res, s->text, s->len, wait_ms);
  fake_http_chunk_end(res);
}

static const char *reason(int status)
{
  switch (status) {
  case 400: return "Bad Request";
  case 401: return "Unauthorized";
  case 403: return "Forbidden";
  case 404: return "Not Found";
  case 429: return "Too Many Requests";
  case 500: return "Internal Server Error";
  case 529: return "Site Overloaded";
  default: return "Error";
  }
}

void fake_anthropic_send_error(fake_http_response *res, int status,
                               const char *type, const char *message,
                               const char *headers)
{
  char body[1024];
  snprintf(body, sizeof body,
           "{\"type\":\"error\",\"error\":{\"type\":\"%s\",\"message\":"
           "\"%s\"}}",
           type, message);
  fake_http_sendf(res,
                  "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
                  "Content-Length: %zu\r\nrequest-id: req_fake%04u\r\n%s\r\n%s",
                  status, reason(status), strlen(body),
                  atomic_fetch_add(&request_ids, 1), headers ? headers : "",
                  body);
}

void fake_anthropic_send_json(fake_http_response *res, const char *json)
{
  fake_http_sendf(res,
                  "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                  "Content-Length: %zu\r\nrequest-id: req_fake%04u\r\n\r\n%s",
                  strlen(json), atomic_fetch_add(&request_ids, 1), json);
}

void fake_anthropic_stream_deltas(fake_http_response *res, int n)
{
  fa_sse s = { 0 };
  fa_sse_message_start(&s, 12, 0, 0);
  fa_sse_text_start(&s, 0);
  for (int i = 0; i < n; i++) fa_sse_text_delta(&s, 0, "tok ");
  fa_sse_block_stop(&s, 0);
  fa_sse_message_delta(&s, "end_turn", (unsigned)n);
  fa_sse_message_stop(&s);
  fake_anthropic_stream_head(res);
  for (size_t off = 0; off < s.len; off += 16384)
    fake_http_chunk(res, s.text + off,
                    s.len - off < 16384 ? s.len - off : 16384);
  fake_http_chunk_end(res);
  fa_sse_free(&s);
}
