/*
 * tests/support/fake_ollama.c: the fake Ollama server (see fake_ollama.h).
 *
 * The wire format follows Ollama's API docs (docs/api.md, docs/openapi.yaml
 * of ollama/ollama): NDJSON lines with model, created_at, message
 * {role, content, thinking, tool_calls}, done, and on the last line
 * done_reason, total_duration, load_duration, prompt_eval_count,
 * prompt_eval_duration, eval_count, eval_duration.
 */
#include "fake_ollama.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MODEL "llama3.2"
#define CREATED "2025-06-01T12:00:00.000000Z"

struct fake_ollama {
  fake_http *http;
  fake_ollama_chat_fn fn;
  void *ud;
  atomic_int chats;
  pthread_mutex_t mu;
  fake_ollama_seen *seen;   /* guarded by mu */
  size_t seen_count, seen_cap;
  char *tags;               /* guarded by mu */
};

static void *xalloc(void *p, size_t n)
{
  p = realloc(p, n ? n : 1);
  if (!p) {
    fputs("fake_ollama: out of memory\n", stderr);
    abort();
  }
  return p;
}

static char *xdup(const char *s, size_t n)
{
  char *p = xalloc(NULL, n + 1);
  memcpy(p, s, n);
  p[n] = '\0';
  return p;
}

static void record(fake_ollama *f, const fake_http_request *req)
{
  fake_ollama_seen s;
  memset(&s, 0, sizeof s);
  s.method = xdup(req->method, strlen(req->method));
  s.path = xdup(req->path, strlen(req->path));
  s.body = xdup(req->body, req->body_len);
  s.body_len = req->body_len;
  s.header_count = req->header_count;
  s.names = xalloc(NULL, req->header_count * sizeof(char *));
  s.values = xalloc(NULL, req->header_count * sizeof(char *));
  for (size_t i = 0; i < req->header_count; i++) {
    s.names[i] = xdup(req->headers[i].name, strlen(req->headers[i].name));
    s.values[i] = xdup(req->headers[i].value, strlen(req->headers[i].value));
  }
  pthread_mutex_lock(&f->mu);
  if (f->seen_count == f->seen_cap) {
    f->seen_cap = f->seen_cap ? f->seen_cap * 2 : 8;
    f->seen = xalloc(f->seen, f->seen_cap * sizeof *f->seen);
  }
  f->seen[f->seen_count++] = s;
  pthread_mutex_unlock(&f->mu);
}

static void handle(void *ud, const fake_http_request *req,
                   fake_http_response *res)
{
  fake_ollama *f = ud;
  record(f, req);
  if (strcmp(req->method, "GET") == 0 && strcmp(req->path, "/api/tags") == 0) {
    pthread_mutex_lock(&f->mu);
    fake_http_respond(res, 200, "application/json; charset=utf-8",
                      f->tags ? f->tags : "{\"models\":[]}");
    pthread_mutex_unlock(&f->mu);
  } else if (strcmp(req->method, "POST") == 0 &&
             strcmp(req->path, "/api/chat") == 0) {
    int attempt = atomic_fetch_add(&f->chats, 1);
    if (f->fn) f->fn(f->ud, attempt, req, res);
  } else {
    /* What Ollama's router answers for a path it does not serve. */
    fake_http_respond(res, 404, "text/plain", "404 page not found");
  }
}

fake_ollama *fake_ollama_start(fake_ollama_chat_fn fn, void *ud)
{
  fake_ollama *f = xalloc(NULL, sizeof *f);
  memset(f, 0, sizeof *f);
  f->fn = fn;
  f->ud = ud;
  atomic_init(&f->chats, 0);
  pthread_mutex_init(&f->mu, NULL);
  f->http = fake_http_start(handle, f);
  if (!f->http) {
    pthread_mutex_destroy(&f->mu);
    free(f);
    return NULL;
  }
  return f;
}

void fake_ollama_seen_free(fake_ollama_seen *s)
{
  for (size_t i = 0; i < s->header_count; i++) {
    free(s->names[i]);
    free(s->values[i]);
  }
  free(s->names);
  free(s->values);
  free(s->method);
  free(s->path);
  free(s->body);
  memset(s, 0, sizeof *s);
}

void fake_ollama_stop(fake_ollama *f)
{
  if (!f) return;
  fake_http_stop(f->http);
  for (size_t i = 0; i < f->seen_count; i++) fake_ollama_seen_free(&f->seen[i]);
  free(f->seen);
  free(f->tags);
  pthread_mutex_destroy(&f->mu);
  free(f);
}

int fake_ollama_port(const fake_ollama *f)
{
  return fake_http_port(f->http);
}

void fake_ollama_set_tags(fake_ollama *f, const char *json)
{
  pthread_mutex_lock(&f->mu);
  free(f->tags);
  f->tags = xdup(json, strlen(json));
  pthread_mutex_unlock(&f->mu);
}

int fake_ollama_chat_count(const fake_ollama *f)
{
  return atomic_load(&((fake_ollama *)f)->chats);
}

int fake_ollama_seen_get(fake_ollama *f, size_t n, fake_ollama_seen *out)
{
  memset(out, 0, sizeof *out);
  pthread_mutex_lock(&f->mu);
  int ok = n < f->seen_count;
  if (ok) {
    const fake_ollama_seen *s = &f->seen[n];
    out->method = xdup(s->method, strlen(s->method));
    out->path = xdup(s->path, strlen(s->path));
    out->body = xdup(s->body, s->body_len);
    out->body_len = s->body_len;
    out->header_count = s->header_count;
    out->names = xalloc(NULL, s->header_count * sizeof(char *));
    out->values = xalloc(NULL, s->header_count * sizeof(char *));
    for (size_t i = 0; i < s->header_count; i++) {
      out->names[i] = xdup(s->names[i], strlen(s->names[i]));
      out->values[i] = xdup(s->values[i], strlen(s->values[i]));
    }
  }
  pthread_mutex_unlock(&f->mu);
  return ok;
}

const char *fake_ollama_seen_header(const fake_ollama_seen *s,
                                    const char *name)
{
  for (size_t i = 0; i < s->header_count; i++)
    if (strcasecmp(s->names[i], name) == 0) return s->values[i];
  return NULL;
}

int fake_ollama_open_connections(const fake_ollama *f)
{
  FILE *fp = fopen("/proc/net/tcp", "r");
  if (!fp) return -1;
  char line[512];
  unsigned port = (unsigned)fake_http_port(f->http);
  int open = 0;
  while (fgets(line, sizeof line, fp)) {
    unsigned laddr, lport, raddr, rport, st;
    if (sscanf(line, " %*d: %8X:%4X %8X:%4X %2X", &laddr, &lport, &raddr,
               &rport, &st) != 5)
      continue;
    /* The server's end of a connection: ESTABLISHED (1), or CLOSE_WAIT (8)
     * when the peer closed and the server has not noticed yet. */
    if (lport == port && (st == 0x01 || st == 0x08)) open++;
  }
  fclose(fp);
  return open;
}

/* ------------------------------------------------------------------------ */
/* Stream text                                                               */

void fake_ollama_add(fake_ollama_text *t, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (t->len + (size_t)n + 1 > t->cap) {
    t->cap = (t->len + (size_t)n + 1) * 2;
    t->s = xalloc(t->s, t->cap);
  }
  va_start(ap, fmt);
  vsnprintf(t->s + t->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  t->len += (size_t)n;
}

void fake_ollama_add_content(fake_ollama_text *t, const char *escaped)
{
  fake_ollama_add(t,
                  "{\"model\":\"" MODEL "\",\"created_at\":\"" CREATED "\","
                  "\"message\":{\"role\":\"assistant\",\"content\":\"%s\"},"
                  "\"done\":false}\n",
                  escaped);
}

void fake_ollama_add_thinking(fake_ollama_text *t, const char *escaped)
{
  fake_ollama_add(t,
                  "{\"model\":\"" MODEL "\",\"created_at\":\"" CREATED "\","
                  "\"message\":{\"role\":\"assistant\",\"content\":\"\","
                  "\"thinking\":\"%s\"},\"done\":false}\n",
                  escaped);
}

void fake_ollama_add_tool_calls(fake_ollama_text *t, const char *calls)
{
  fake_ollama_add(t,
                  "{\"model\":\"" MODEL "\",\"created_at\":\"" CREATED "\","
                  "\"message\":{\"role\":\"assistant\",\"content\":\"\","
                  "\"tool_calls\":%s},\"done\":false}\n",
                  calls);
}

void fake_ollama_add_done(fake_ollama_text *t, const char *reason,
                          int prompt_eval_count, int eval_count)
{
  fake_ollama_add(t,
                  "{\"model\":\"" MODEL "\",\"created_at\":\"" CREATED "\","
                  "\"message\":{\"role\":\"assistant\",\"content\":\"\"},"
                  "\"done_reason\":\"%s\",\"done\":true,"
                  "\"total_duration\":4883583458,\"load_duration\":1334875,"
                  "\"prompt_eval_count\":%d,"
                  "\"prompt_eval_duration\":342546000,\"eval_count\":%d,"
                  "\"eval_duration\":4535599000}\n",
                  reason, prompt_eval_count, eval_count);
}

void fake_ollama_add_error(fake_ollama_text *t, const char *escaped)
{
  fake_ollama_add(t, "{\"error\":\"%s\"}\n", escaped);
}

void fake_ollama_text_free(fake_ollama_text *t)
{
  free(t->s);
  memset(t, 0, sizeof *t);
}

/* ------------------------------------------------------------------------ */
/* Responses                                                                 */

void fake_ollama_head(fake_http_response *res)
{
  fake_http_sendf(res, "HTTP/1.1 200 OK\r\n"
                       "Content-Type: application/x-ndjson\r\n"
                       "Date: Sun, 01 Jun 2025 12:00:00 GMT\r\n"
                       "Transfer-Encoding: chunked\r\n\r\n");
}

void fake_ollama_send_cut(fake_http_response *res, const char *text,
                          const size_t *cuts, unsigned wait_ms)
{
  size_t len = strlen(text), at = 0;
  for (; cuts && *cuts; cuts++) {
    if (*cuts <= at || *cuts >= len) continue;
    fake_http_chunk(res, text + at, *cuts - at);
    if (wait_ms) fake_http_wait(res, wait_ms);
    at = *cuts;
  }
  fake_http_chunk(res, text + at, len - at);
}

void fake_ollama_send_trickle(fake_http_response *res, const char *text,
                              size_t step, unsigned wait_ms)
{
  size_t len = strlen(text);
  for (size_t at = 0; at < len; at += step) {
    fake_http_chunk(res, text + at, len - at < step ? len - at : step);
    if (wait_ms && at + step < len) fake_http_wait(res, wait_ms);
  }
}

void fake_ollama_end(fake_http_response *res)
{
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
  case 502: return "Bad Gateway";
  case 503: return "Service Unavailable";
  default: return "Error";
  }
}

void fake_ollama_fail(fake_http_response *res, int status,
                      const char *escaped, const char *headers)
{
  char body[1024];
  int n = snprintf(body, sizeof body, "{\"error\":\"%s\"}", escaped);
  fake_http_sendf(res,
                  "HTTP/1.1 %d %s\r\n"
                  "Content-Type: application/json; charset=utf-8\r\n"
                  "Date: Sun, 01 Jun 2025 12:00:00 GMT\r\n"
                  "%sContent-Length: %d\r\n\r\n%s",
                  status, reason(status), headers ? headers : "", n, body);
}

void fake_ollama_stream_deltas(fake_http_response *res, int n)
{
  /* The whole stream, then written in 16 KiB pieces that cut lines
   * anywhere, as the other providers' fakes do, so that the benchmark
   * compares parsing rather than the number of reads. */
  fake_ollama_text t = { 0 };
  for (int i = 0; i < n; i++) fake_ollama_add_content(&t, "tok ");
  fake_ollama_add_done(&t, "stop", 10, n);
  fake_ollama_head(res);
  for (size_t off = 0; off < t.len; off += 16384)
    fake_http_chunk(res, t.s + off, t.len - off < 16384 ? t.len - off : 16384);
  fake_ollama_end(res);
  fake_ollama_text_free(&t);
}
