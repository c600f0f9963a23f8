/*
 * tests/support/fake_openai.c: the fake OpenAI API (see fake_openai.h).
 */
#include "fake_openai.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MODEL "gpt-4o-mini"
#define CHUNK_HEAD                                                        \
  "{\"id\":\"chatcmpl-fake1\",\"object\":\"chat.completion.chunk\","      \
  "\"created\":1700000000,\"model\":\"" MODEL "\","                        \
  "\"system_fingerprint\":\"fp_fake\","

typedef struct queued {
  fake_openai_script fn;
  const void *arg;
} queued;

struct fake_openai {
  fake_http *http;
  pthread_mutex_t lock;
  queued *queue;              /* owned */
  size_t queue_len, queue_cap, next;
  fake_openai_request **reqs; /* owned, each owned: never moves */
  int count, cap;
  char *key;                  /* owned; NULL: any */
};

static void *xrealloc(void *p, size_t n)
{
  p = realloc(p, n ? n : 1);
  if (!p) abort();
  return p;
}

static char *xstrndup(const char *s, size_t n)
{
  char *p = xrealloc(NULL, n + 1);
  memcpy(p, s, n);
  p[n] = '\0';
  return p;
}

/* ------------------------------------------------------------------------ */
/* Serving                                                                   */

static void record(fake_openai *f, const fake_http_request *req)
{
  size_t hlen = 0;
  for (size_t i = 0; i < req->header_count; i++)
    hlen += strlen(req->headers[i].name) + strlen(req->headers[i].value) + 3;
  char *headers = xrealloc(NULL, hlen + 1), *p = headers;
  for (size_t i = 0; i < req->header_count; i++)
    p += sprintf(p, "%s: %s\n", req->headers[i].name, req->headers[i].value);
  *p = '\0';

  pthread_mutex_lock(&f->lock);
  if (f->count == f->cap) {
    f->cap = f->cap ? f->cap * 2 : 8;
    f->reqs = xrealloc(f->reqs, (size_t)f->cap * sizeof *f->reqs);
  }
  fake_openai_request *r = xrealloc(NULL, sizeof *r);
  memset(r, 0, sizeof *r);
  f->reqs[f->count] = r;
  snprintf(r->method, sizeof r->method, "%s", req->method);
  snprintf(r->path, sizeof r->path, "%s", req->path);
  r->headers = headers;
  r->body = xstrndup(req->body, req->body_len);
  r->body_len = req->body_len;
  f->count++;
  pthread_mutex_unlock(&f->lock);
}

/* OpenAI's answer to a wrong key: the key echoed with its middle masked. */
static void wrong_key(fake_http_response *res, const char *auth)
{
  char message[512];
  if (!auth || strncmp(auth, "Bearer ", 7) != 0) {
    snprintf(message, sizeof message,
             "You didn't provide an API key. You need to provide your API "
             "key in an Authorization header using Bearer auth (i.e. "
             "Authorization: Bearer YOUR_KEY), or as the password field "
             "(with blank username) if you're accessing the API from your "
             "browser and are prompted for a username and password. You can "
             "obtain an API key from https://platform.openai.com/account/"
             "api-keys.");
    fake_openai_error(res, 401, "invalid_request_error", NULL, message,
                      NULL);
    return;
  }
  const char *key = auth + 7;
  size_t n = strlen(key);
  char masked[256];
  if (n > 12 && n < sizeof masked) {
    memcpy(masked, key, 7);
    memset(masked + 7, '*', n - 11);
    memcpy(masked + n - 4, key + n - 4, 5);
  } else {
    snprintf(masked, sizeof masked, "%s", "sk-****");
  }
  snprintf(message, sizeof message,
           "Incorrect API key provided: %s. You can find your API key at "
           "https://platform.openai.com/account/api-keys.",
           masked);
  fake_openai_error(res, 401, "invalid_request_error", "invalid_api_key",
                    message, NULL);
}

static void handler(void *ud, const fake_http_request *req,
                    fake_http_response *res)
{
  fake_openai *f = ud;
  char message[700];
  record(f, req);
  if (strncmp(req->path, "/v1/", 4) != 0) {
    snprintf(message, sizeof message, "Invalid URL (%s %.500s)", req->method,
             req->path);
    fake_openai_error(res, 404, "invalid_request_error", NULL, message,
                      NULL);
    return;
  }
  pthread_mutex_lock(&f->lock);
  int key_ok = 1;
  const char *auth = fake_http_request_header(req, "Authorization");
  if (f->key) {
    char want[512];
    snprintf(want, sizeof want, "Bearer %s", f->key);
    key_ok = auth && strcmp(auth, want) == 0;
  }
  queued q = { NULL, NULL };
  if (key_ok && f->next < f->queue_len) q = f->queue[f->next++];
  pthread_mutex_unlock(&f->lock);
  if (!key_ok) {
    wrong_key(res, auth);
  } else if (!q.fn) {
    snprintf(message, sizeof message,
             "fake_openai: no response scripted for %s %.500s", req->method,
             req->path);
    fake_openai_error(res, 500, "server_error", NULL, message, NULL);
  } else {
    q.fn(res, q.arg);
  }
}

fake_openai *fake_openai_start(void)
{
  fake_openai *f = xrealloc(NULL, sizeof *f);
  memset(f, 0, sizeof *f);
  pthread_mutex_init(&f->lock, NULL);
  f->http = fake_http_start(handler, f);
  if (!f->http) abort();
  return f;
}

void fake_openai_stop(fake_openai *f)
{
  if (!f) return;
  fake_http_stop(f->http);
  for (int i = 0; i < f->count; i++) {
    free(f->reqs[i]->headers);
    free(f->reqs[i]->body);
    free(f->reqs[i]);
  }
  free(f->reqs);
  free(f->queue);
  free(f->key);
  pthread_mutex_destroy(&f->lock);
  free(f);
}

int fake_openai_port(const fake_openai *f)
{
  return fake_http_port(f->http);
}

void fake_openai_base_url(const fake_openai *f, char *buf, size_t n)
{
  snprintf(buf, n, "http://127.0.0.1:%d/v1", fake_openai_port(f));
}

void fake_openai_push(fake_openai *f, fake_openai_script fn, const void *arg)
{
  pthread_mutex_lock(&f->lock);
  if (f->queue_len == f->queue_cap) {
    f->queue_cap = f->queue_cap ? f->queue_cap * 2 : 8;
    f->queue = xrealloc(f->queue, f->queue_cap * sizeof *f->queue);
  }
  f->queue[f->queue_len++] = (queued){ fn, arg };
  pthread_mutex_unlock(&f->lock);
}

void fake_openai_require_key(fake_openai *f, const char *key)
{
  pthread_mutex_lock(&f->lock);
  free(f->key);
  f->key = key ? xstrndup(key, strlen(key)) : NULL;
  pthread_mutex_unlock(&f->lock);
}

int fake_openai_count(fake_openai *f)
{
  pthread_mutex_lock(&f->lock);
  int n = f->count;
  pthread_mutex_unlock(&f->lock);
  return n;
}

const fake_openai_request *fake_openai_get(fake_openai *f, int i)
{
  pthread_mutex_lock(&f->lock);
  const fake_openai_request *r = i >= 0 && i < f->count ? f->reqs[i] : NULL;
  pthread_mutex_unlock(&f->lock);
  return r;
}

const char *fake_openai_header(const fake_openai_request *r, const char *name,
                               char *buf, size_t n)
{
  size_t nlen = strlen(name);
  for (const char *line = r->headers; line && *line;) {
    const char *eol = strchr(line, '\n');
    if (!eol) eol = line + strlen(line);
    if ((size_t)(eol - line) > nlen + 1 && line[nlen] == ':' &&
        strncasecmp(line, name, nlen) == 0) {
      const char *v = line + nlen + 1;
      while (*v == ' ') v++;
      snprintf(buf, n, "%.*s", (int)(eol - v), v);
      return buf;
    }
    line = *eol ? eol + 1 : eol;
  }
  return NULL;
}

int fake_openai_established(const fake_openai *f)
{
  FILE *in = fopen("/proc/net/tcp", "r");
  if (!in) return -1;
  char line[512];
  int n = 0;
  unsigned port = (unsigned)fake_openai_port(f);
  if (!fgets(line, sizeof line, in)) line[0] = '\0'; /* the header */
  while (fgets(line, sizeof line, in)) {
    unsigned local_port, state;
    /* "  sl  local_address rem_address   st ..." */
    if (sscanf(line, " %*d: %*8x:%x %*8x:%*x %x", &local_port, &state) == 2 &&
        local_port == port && state == 0x01)
      n++;
  }
  fclose(in);
  return n;
}

/* ------------------------------------------------------------------------ */
/* Stream text                                                               */

void fos_init(fake_openai_stream *s)
{
  memset(s, 0, sizeof *s);
}

void fos_free(fake_openai_stream *s)
{
  free(s->text);
  free(s->ends);
  memset(s, 0, sizeof *s);
}

static void vappend(fake_openai_stream *s, const char *fmt, va_list ap)
{
  va_list again;
  va_copy(again, ap);
  int n = vsnprintf(NULL, 0, fmt, ap);
  if (s->len + (size_t)n + 1 > s->cap) {
    while (s->len + (size_t)n + 1 > s->cap) s->cap = s->cap ? s->cap * 2 : 1024;
    s->text = xrealloc(s->text, s->cap);
  }
  vsnprintf(s->text + s->len, (size_t)n + 1, fmt, again);
  va_end(again);
  s->len += (size_t)n;
}

static void append(fake_openai_stream *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void append(fake_openai_stream *s, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vappend(s, fmt, ap);
  va_end(ap);
}

static void end_event(fake_openai_stream *s)
{
  if (s->nends == s->cap_ends) {
    s->cap_ends = s->cap_ends ? s->cap_ends * 2 : 32;
    s->ends = xrealloc(s->ends, s->cap_ends * sizeof *s->ends);
  }
  s->ends[s->nends++] = s->len;
}

void fos_raw(fake_openai_stream *s, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vappend(s, fmt, ap);
  va_end(ap);
  end_event(s);
}

void fos_data(fake_openai_stream *s, const char *fmt, ...)
{
  va_list ap;
  append(s, "data: ");
  va_start(ap, fmt);
  vappend(s, fmt, ap);
  va_end(ap);
  append(s, "\n\n");
  end_event(s);
}

void fos_chunk(fake_openai_stream *s, const char *delta, const char *finish)
{
  char fin[64];
  snprintf(fin, sizeof fin, finish ? "\"%s\"" : "null", finish);
  fos_data(s,
           CHUNK_HEAD "\"choices\":[{\"index\":0,\"delta\":%s,"
                      "\"logprobs\":null,\"finish_reason\":%s}],"
                      "\"usage\":null}",
           delta, fin);
}

void fos_usage(fake_openai_stream *s, int prompt, int completion, int cached)
{
  fos_data(s,
           CHUNK_HEAD "\"choices\":[],\"usage\":{\"prompt_tokens\":%d,"
                      "\"completion_tokens\":%d,\"total_tokens\":%d,"
                      "\"prompt_tokens_details\":{\"cached_tokens\":%d,"
                      "\"audio_tokens\":0},\"completion_tokens_details\":{"
                      "\"reasoning_tokens\":0,\"audio_tokens\":0,"
                      "\"accepted_prediction_tokens\":0,"
                      "\"rejected_prediction_tokens\":0}}}",
           prompt, completion, prompt + completion, cached);
}

void fos_done(fake_openai_stream *s)
{
  fos_raw(s, "data: [DONE]\n\n");
}

void fos_event(fake_openai_stream *s, const char *type, const char *fields,
               ...)
{
  va_list ap;
  append(s, "event: %s\ndata: {\"type\":\"%s\",\"sequence_number\":%d", type,
         type, s->seq++);
  if (fields[0]) {
    append(s, ",");
    va_start(ap, fields);
    vappend(s, fields, ap);
    va_end(ap);
  }
  append(s, "}\n\n");
  end_event(s);
}

#define RESPONSE_HEAD                                                      \
  "\"id\":\"resp_fake1\",\"object\":\"response\",\"created_at\":1700000000," \
  "\"model\":\"" MODEL "\",\"error\":null,\"instructions\":null,"           \
  "\"tools\":[],\"tool_choice\":\"auto\",\"parallel_tool_calls\":true"

void fos_response_begin(fake_openai_stream *s)
{
  fos_event(s, "response.created",
            "\"response\":{" RESPONSE_HEAD ",\"status\":\"in_progress\","
            "\"incomplete_details\":null,\"output\":[],\"usage\":null}");
  fos_event(s, "response.in_progress",
            "\"response\":{" RESPONSE_HEAD ",\"status\":\"in_progress\","
            "\"incomplete_details\":null,\"output\":[],\"usage\":null}");
}

void fos_response_end(fake_openai_stream *s, const char *incomplete_reason,
                      int input, int output, int cached)
{
  char details[128];
  if (incomplete_reason)
    snprintf(details, sizeof details, "{\"reason\":\"%s\"}",
             incomplete_reason);
  else
    snprintf(details, sizeof details, "null");
  fos_event(s, incomplete_reason ? "response.incomplete"
                                 : "response.completed",
            "\"response\":{" RESPONSE_HEAD ",\"status\":\"%s\","
            "\"incomplete_details\":%s,\"output\":[],\"usage\":{"
            "\"input_tokens\":%d,\"input_tokens_details\":{"
            "\"cached_tokens\":%d},\"output_tokens\":%d,"
            "\"output_tokens_details\":{\"reasoning_tokens\":0},"
            "\"total_tokens\":%d}}",
            incomplete_reason ? "incomplete" : "completed", details, input,
            cached, output, input + output);
}

/* ------------------------------------------------------------------------ */
/* Sending                                                                   */

void fake_openai_sse_head(fake_http_response *res)
{
  fake_http_head(res, 200,
                 "Content-Type: text/event-stream; charset=utf-8\r\n"
                 "Transfer-Encoding: chunked\r\n"
                 "Cache-Control: no-cache\r\n"
                 "x-request-id: req_fake\r\n"
                 "openai-processing-ms: 12\r\n");
}

static void send_range(fake_http_response *res, const fake_openai_stream *s,
                       size_t from, size_t to, unsigned wait_ms)
{
  if (to <= from) return;
  fake_http_chunk(res, s->text + from, to - from);
  if (wait_ms) fake_http_wait(res, wait_ms);
}

void fake_openai_send_events(fake_http_response *res,
                             const fake_openai_stream *s, unsigned wait_ms,
                             int end)
{
  size_t from = 0;
  for (size_t i = 0; i < s->nends; i++) {
    send_range(res, s, from, s->ends[i], wait_ms);
    from = s->ends[i];
  }
  send_range(res, s, from, s->len, wait_ms);
  if (end) fake_http_chunk_end(res);
}

void fake_openai_send_pieces(fake_http_response *res,
                             const fake_openai_stream *s, size_t piece,
                             unsigned wait_ms, int end)
{
  for (size_t from = 0; from < s->len; from += piece)
    send_range(res, s, from, from + piece < s->len ? from + piece : s->len,
               wait_ms);
  if (end) fake_http_chunk_end(res);
}

void fake_openai_send_cuts(fake_http_response *res,
                           const fake_openai_stream *s, const size_t *cuts,
                           size_t n, unsigned wait_ms, int end)
{
  size_t from = 0;
  for (size_t i = 0; i < n; i++) {
    send_range(res, s, from, cuts[i], wait_ms);
    if (cuts[i] > from) from = cuts[i];
  }
  send_range(res, s, from, s->len, wait_ms);
  if (end) fake_http_chunk_end(res);
}

/* `s` as a JSON string's body (quotes and backslashes escaped). */
static void json_escape(char *out, size_t n, const char *s)
{
  size_t o = 0;
  for (; *s && o + 3 < n; s++) {
    if (*s == '"' || *s == '\\') out[o++] = '\\';
    out[o++] = *s;
  }
  out[o] = '\0';
}

void fake_openai_error(fake_http_response *res, int status, const char *type,
                       const char *code, const char *message,
                       const char *headers)
{
  char msg[1024], body[1600], codebuf[128];
  json_escape(msg, sizeof msg, message);
  snprintf(codebuf, sizeof codebuf, code ? "\"%s\"" : "null", code);
  int n = snprintf(body, sizeof body,
                   "{\n  \"error\": {\n    \"message\": \"%s\",\n"
                   "    \"type\": \"%s\",\n    \"param\": null,\n"
                   "    \"code\": %s\n  }\n}\n",
                   msg, type, codebuf);
  fake_http_sendf(res,
                  "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
                  "Content-Length: %d\r\nx-request-id: req_fake\r\n%s\r\n%s",
                  status,
                  status == 401 ? "Unauthorized"
                  : status == 429 ? "Too Many Requests"
                  : status >= 500 ? "Internal Server Error"
                                  : "Error",
                  n, headers ? headers : "", body);
}

/* ------------------------------------------------------------------------ */
/* Benchmarks                                                                */

/* Send what `s` holds as one chunk once it is large, and start again. */
static void flush_big(fake_http_response *res, fake_openai_stream *s,
                      int force)
{
  if (s->len == 0 || (!force && s->len < 64 * 1024)) return;
  fake_http_chunk(res, s->text, s->len);
  s->len = 0;
  s->nends = 0;
}

void fake_openai_stream_deltas(fake_http_response *res, int n)
{
  fake_openai_stream s;
  fos_init(&s);
  fake_openai_sse_head(res);
  fos_chunk(&s, "{\"role\":\"assistant\",\"content\":\"\",\"refusal\":null}",
            NULL);
  for (int i = 0; i < n; i++) {
    fos_chunk(&s, "{\"content\":\"tok \"}", NULL);
    flush_big(res, &s, 0);
  }
  fos_chunk(&s, "{}", "stop");
  fos_usage(&s, 10, n, 0);
  fos_done(&s);
  flush_big(res, &s, 1);
  fake_http_chunk_end(res);
  fos_free(&s);
}

void fake_openai_responses_stream_deltas(fake_http_response *res, int n)
{
  fake_openai_stream s;
  fos_init(&s);
  fake_openai_sse_head(res);
  fos_response_begin(&s);
  fos_event(&s, "response.output_item.added",
            "\"output_index\":0,\"item\":{\"id\":\"msg_1\",\"type\":"
            "\"message\",\"status\":\"in_progress\",\"content\":[],"
            "\"role\":\"assistant\"}");
  fos_event(&s, "response.content_part.added",
            "\"item_id\":\"msg_1\",\"output_index\":0,\"content_index\":0,"
            "\"part\":{\"type\":\"output_text\",\"annotations\":[],"
            "\"text\":\"\"}");
  for (int i = 0; i < n; i++) {
    fos_event(&s, "response.output_text.delta",
              "\"item_id\":\"msg_1\",\"output_index\":0,\"content_index\":0,"
              "\"delta\":\"tok \",\"logprobs\":[]");
    flush_big(res, &s, 0);
  }
  fos_response_end(&s, NULL, 10, n, 0);
  flush_big(res, &s, 1);
  fake_http_chunk_end(res);
  fos_free(&s);
}
