/*
 * tests/plugins/probe_tools.c: tools that exercise the host services from
 * the plugin side of the ABI.
 *
 *   test_sleep {"ms": N}   sleeps N ms on the work queue; cancellable
 *   test_probe "config"    completes with the plugin's settings
 *   test_probe "secret"    looks up api_key / PORTICO_TEST_SECRET, logs it
 *   test_probe "post"      a thread of its own posts back to the loop
 *   test_probe "http:URL"  GETs URL through the host's HTTP client
 */
#include <portico/plugin.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const pt_host_api *api;
static pt_host *host;
static pthread_t loop_thread;

typedef struct sleep_job {
  pt_op *op;
  long ms, slept;
  atomic_int cancelled;
} sleep_job;

static void sleep_work(void *ud)
{
  sleep_job *j = ud;
  struct timespec one_ms = { 0, 1000000 };
  while (j->slept < j->ms && !atomic_load(&j->cancelled)) {
    nanosleep(&one_ms, NULL);
    j->slept++;
  }
}

static void sleep_done(void *ud, int32_t status)
{
  sleep_job *j = ud;
  char out[64];
  int n = snprintf(out, sizeof out, "{\"slept\":%ld}", j->slept);
  if (status == PT_OK && atomic_load(&j->cancelled)) status = PT_ECANCELED;
  pt_op *op = j->op;
  free(j);
  api->op_done(op, status, (pt_str){ out, (size_t)n });
}

static int32_t sleep_invoke(void *self, pt_op *op, pt_str args)
{
  const char *ms = memmem(args.ptr, args.len, "\"ms\":", 5);
  sleep_job *j = calloc(1, sizeof *j);
  if (!j) return PT_ENOMEM;
  j->op = op;
  j->ms = ms ? strtol(ms + 5, NULL, 10) : 0;
  op->data = j;
  int32_t rc = api->queue_work(host, sleep_work, sleep_done, j);
  if (rc < 0) free(j);
  return rc;
}

static void sleep_cancel(void *self, pt_op *op)
{
  sleep_job *j = op->data;
  atomic_store(&j->cancelled, 1);
}

/* ------------------------------------------------------------------------ */

typedef struct probe {
  pt_op *op;
  pt_http *http;
  pt_timer *timer;
  char *answer;          /* owned: the result of a probe that answers at once */
  char body[4096];
  size_t body_len;
  int http_status;
} probe;

static void probe_finish(probe *p, int32_t status, const char *json)
{
  pt_op *op = p->op;
  api->op_done(op, status, (pt_str){ json, strlen(json) });
  if (p->timer) api->timer_free(p->timer);
  free(p->answer);
  free(p);
}

static void on_posted(void *ud)
{
  probe *p = ud;
  probe_finish(p, PT_OK,
               pthread_equal(pthread_self(), loop_thread)
                   ? "{\"on_loop\":true}"
                   : "{\"on_loop\":false}");
}

static void *poster(void *ud)
{
  struct timespec five_ms = { 0, 5000000 };
  nanosleep(&five_ms, NULL);
  if (api->post(host, on_posted, ud) != PT_OK) abort();
  return NULL;
}

static void on_http_response(pt_http *r, void *ud, int32_t status)
{
  probe *p = ud;
  p->http_status = status;
}

static void on_http_body(pt_http *r, void *ud, pt_str chunk)
{
  probe *p = ud;
  size_t room = sizeof p->body - 1 - p->body_len;
  size_t n = chunk.len < room ? chunk.len : room;
  memcpy(p->body + p->body_len, chunk.ptr, n);
  p->body_len += n;
}

static void on_http_done(pt_http *r, void *ud, int32_t status, pt_str msg)
{
  probe *p = ud;
  char out[4200];
  p->body[p->body_len] = '\0';
  snprintf(out, sizeof out, "{\"status\":%d,\"result\":\"%s\",\"body\":\"%s\"}",
           p->http_status, pt_errname(status), p->body);
  p->http = NULL;
  probe_finish(p, status, out);
}

/* Probes that know their answer at once still complete from a timer, one
 * loop turn later: never inside invoke() itself. */
static void on_answer_timer(pt_timer *t, void *ud)
{
  probe *p = ud;
  probe_finish(p, PT_OK, p->answer);
}

static int32_t probe_invoke(void *self, pt_op *op, pt_str args)
{
  char what[512];
  size_t n = args.len < sizeof what - 1 ? args.len : sizeof what - 1;
  memcpy(what, args.ptr, n);
  what[n] = '\0';
  char *w = what[0] == '"' ? what + 1 : what;
  char *quote = strchr(w, '"');
  if (quote) *quote = '\0';

  probe *p = calloc(1, sizeof *p);
  if (!p) return PT_ENOMEM;
  p->op = op;
  op->data = p;
  if (strcmp(w, "post") == 0) {
    pthread_t t;
    if (pthread_create(&t, NULL, poster, p) != 0) {
      free(p);
      return PT_ENOMEM;
    }
    pthread_detach(t);
    return PT_OK;
  }
  if (strncmp(w, "http:", 5) == 0) {
    pt_http_request req = { .struct_size = sizeof req, .url = w + 5,
                            .on_response = on_http_response,
                            .on_body = on_http_body, .on_done = on_http_done,
                            .ud = p };
    int32_t rc = api->http_start(host, &req, &p->http);
    if (rc < 0) free(p);
    return rc;
  }
  if (strcmp(w, "config") == 0) {
    pt_str cfg = api->config(host);
    p->answer = strndup(cfg.ptr, cfg.len);
  } else if (strcmp(w, "secret") == 0) {
    pt_str s;
    int32_t rc = api->secret(host, "api_key", "PORTICO_TEST_SECRET", &s);
    api->log(host, PT_LOG_ERROR, "the secret is %.*s", (int)s.len, s.ptr);
    char buf[64];
    snprintf(buf, sizeof buf, "{\"found\":%s,\"len\":%zu}",
             rc == PT_OK ? "true" : "false", s.len);
    p->answer = strdup(buf);
  }
  if (!p->answer || !(p->timer = api->timer_new(host, on_answer_timer, p))) {
    int32_t rc = p->answer ? PT_ENOMEM : PT_EINVAL;
    free(p->answer);
    free(p);
    return rc;
  }
  api->timer_start(p->timer, 0, 0);
  return PT_OK;
}

static void probe_cancel(void *self, pt_op *op)
{
  probe *p = op->data;
  if (p->http) api->http_cancel(p->http);
}

static const pt_tool_vt sleep_vt = {
  .struct_size = sizeof(pt_tool_vt),
  .flags = 0,
  .name = "test_sleep",
  .description = "sleeps on the work queue (tests)",
  .input_schema = "{\"type\":\"object\",\"properties\":{\"ms\":{\"type\":"
                  "\"integer\"}}}",
  .invoke = sleep_invoke,
  .cancel = sleep_cancel,
};

static const pt_tool_vt probe_vt = {
  .struct_size = sizeof(pt_tool_vt),
  .flags = PT_TOOL_READS | PT_TOOL_NETWORK,
  .name = "test_probe",
  .description = "exercises a host service (tests)",
  .input_schema = "{\"type\":\"string\"}",
  .invoke = probe_invoke,
  .cancel = probe_cancel,
};

static int32_t probe_init(pt_host *h, const pt_host_api *host_api)
{
  api = host_api;
  host = h;
  loop_thread = pthread_self();
  int32_t rc = api->add_tool(h, &sleep_vt, NULL);
  if (rc == PT_OK) rc = api->add_tool(h, &probe_vt, NULL);
  return rc;
}

PT_PLUGIN("probe", "1.0.0", "MIT", "host service probes for tests",
          probe_init, NULL);
