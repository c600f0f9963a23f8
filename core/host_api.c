/*
 * core/host_api.c: the pt_host_api table every plugin receives, and the
 * per-plugin bookkeeping behind it (timers, queued work, posts, HTTP
 * requests, kept strings).
 *
 * Each service that can call back into a plugin is counted on the plugin's
 * pt_host, because an unload must not unmap code that the loop may still
 * call. Structs the plugin hands in are copied by their struct_size, so a
 * plugin built against an older, shorter layout reads as zeros for the
 * members it predates.
 */
#include "plugin_host.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "line_split.h"
#include "log.h"
#include "ops.h"
#include "sse_split.h"

/* The ABI 1.0 size of a struct whose last 1.0 member is `last`. */
#define V1_SIZE(T, last) (offsetof(T, last) + sizeof(((T *)0)->last))

struct pt_timer {
  uv_timer_t handle;
  pt_host *h;
  void (*on_fire)(pt_timer *t, void *ud);
  void *ud;
  pt_timer *prev, *next;
};

struct pt_host_work {
  uv_work_t req;
  pt_host *h;
  void (*work)(void *ud);
  void (*done)(void *ud, int32_t status);
  void *ud;
  struct pt_host_work *prev, *next;
};

struct pt_host_http {
  pt_host *h;
  pt_http *r;
  pt_http_request req;          /* the plugin's callbacks and ud */
  struct pt_host_http *prev, *next;
};

struct pt_post {
  pt_host *h;
  void (*fn)(void *ud);
  void *ud;
  struct pt_post *next;
};

/* Intrusive doubly linked lists share one shape; these keep them honest. */
#define LIST_PUSH(head, item)            \
  do {                                   \
    (item)->prev = NULL;                 \
    (item)->next = (head);               \
    if (head) (head)->prev = (item);     \
    (head) = (item);                     \
  } while (0)
#define LIST_UNLINK(head, item)                          \
  do {                                                   \
    if ((item)->prev) (item)->prev->next = (item)->next; \
    else (head) = (item)->next;                          \
    if ((item)->next) (item)->next->prev = (item)->prev; \
    (item)->prev = (item)->next = NULL;                  \
  } while (0)

/* ------------------------------------------------------------------------ */
/* Kept strings                                                              */

const char *pt__host_keep(pt_host *h, const char *text, size_t len)
{
  for (pt_kept_str *s = h->kept; s; s = s->next)
    if (s->len == len && memcmp(s->text, text, len) == 0) return s->text;
  pt_kept_str *s = malloc(sizeof *s + len + 1);
  if (!s) return NULL;
  s->len = len;
  memcpy(s->text, text, len);
  s->text[len] = '\0';
  s->next = h->kept;
  h->kept = s;
  return s->text;
}

/* ------------------------------------------------------------------------ */
/* Logging, errors, registration                                             */

static void api_log(pt_host *h, int32_t level, const char *fmt, ...)
{
  if (level > pt_log_level()) return;
  va_list ap;
  va_start(ap, fmt);
  pt_logv(level, h && h->desc ? h->desc->name : "plugin", fmt, ap);
  va_end(ap);
}

static int32_t api_set_error(pt_host *h, int32_t code, const char *fmt, ...)
{
  if (!h) return code;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(h->error, sizeof h->error, fmt ? fmt : "", ap);
  va_end(ap);
  return code;
}

static int32_t add_registration(pt_host *h, int is_tool, const void *vt,
                                void *self)
{
  if (h->reg_count == h->reg_cap) {
    size_t cap = h->reg_cap ? h->reg_cap * 2 : 4;
    pt_registration *p = realloc(h->regs, cap * sizeof *p);
    if (!p) return PT_ENOMEM;
    h->regs = p;
    h->reg_cap = cap;
  }
  h->regs[h->reg_count++] = (pt_registration){ is_tool, vt, self };
  return PT_OK;
}

static void note_taken(pt_host *h, const char *what, const char *id,
                       pt_host *owner)
{
  if (h->reg_failed) return;
  h->reg_failed = 1;
  snprintf(h->reg_error, sizeof h->reg_error,
           "%s '%s' is already provided by plugin '%s' (%s); remove one of "
           "the two files from the plugin path",
           what, id, owner && owner->desc ? owner->desc->name : "?",
           owner ? owner->path : "?");
}

static int32_t api_add_provider(pt_host *h, const pt_provider_vt *vt,
                                void *self)
{
  if (!h || h->state != PT_PLUGIN_INIT) return PT_ESTATE;
  if (!vt || vt->struct_size < V1_SIZE(pt_provider_vt, destroy) || !vt->chat ||
      !pt_registry_valid_id(vt->id)) {
    snprintf(h->reg_error, sizeof h->reg_error,
             "a provider vtable is malformed (id '%s'): ids are 1-63 "
             "characters of [a-z0-9_] and chat() is required",
             vt && vt->id ? vt->id : "(null)");
    h->reg_failed = 1;
    return PT_EINVAL;
  }
  pt_host *owner = NULL;
  int32_t rc = pt_registry_add_provider(&h->k->registry, vt, self, h, &owner);
  if (rc == PT_EEXIST) note_taken(h, "provider id", vt->id, owner);
  if (rc < 0) return rc;
  rc = add_registration(h, 0, vt, self);
  return rc;
}

static int32_t api_add_tool(pt_host *h, const pt_tool_vt *vt, void *self)
{
  if (!h || h->state != PT_PLUGIN_INIT) return PT_ESTATE;
  if (!vt || vt->struct_size < V1_SIZE(pt_tool_vt, destroy) || !vt->invoke ||
      !pt_registry_valid_id(vt->name) || !vt->input_schema) {
    snprintf(h->reg_error, sizeof h->reg_error,
             "a tool vtable is malformed (name '%s'): names are 1-63 "
             "characters of [a-z0-9_]; invoke() and input_schema are required",
             vt && vt->name ? vt->name : "(null)");
    h->reg_failed = 1;
    return PT_EINVAL;
  }
  pt_host *owner = NULL;
  int32_t rc = pt_registry_add_tool(&h->k->registry, vt, self, h, &owner);
  if (rc == PT_EEXIST) note_taken(h, "tool name", vt->name, owner);
  if (rc < 0) return rc;
  return add_registration(h, 1, vt, self);
}

/* ------------------------------------------------------------------------ */
/* post: the one cross-thread entry                                          */

static int32_t api_post(pt_host *h, void (*fn)(void *ud), void *ud)
{
  if (!h || !fn) return PT_EINVAL;
  pt_kernel *k = h->k;
  struct pt_post *p = malloc(sizeof *p);
  if (!p) return PT_ENOMEM;
  *p = (struct pt_post){ h, fn, ud, NULL };
  uv_mutex_lock(&k->post_lock);
  if (h->state >= PT_PLUGIN_FINI || k->post_closed) {
    uv_mutex_unlock(&k->post_lock);
    free(p);
    return PT_ESHUTDOWN;
  }
  h->post_count++;
  if (k->post_tail) k->post_tail->next = p;
  else k->post_head = p;
  k->post_tail = p;
  uv_mutex_unlock(&k->post_lock);
  uv_async_send(&k->post_async);
  return PT_OK;
}

void pt__host_run_posts(pt_kernel *k)
{
  uv_mutex_lock(&k->post_lock);
  struct pt_post *p = k->post_head;
  k->post_head = k->post_tail = NULL;
  uv_mutex_unlock(&k->post_lock);
  while (p) {
    struct pt_post *next = p->next;
    pt_host *h = p->h;
    p->fn(p->ud);
    uv_mutex_lock(&k->post_lock);
    h->post_count--;
    uv_mutex_unlock(&k->post_lock);
    free(p);
    pt__host_maybe_drained(h);
    p = next;
  }
}

/* ------------------------------------------------------------------------ */
/* Timers                                                                    */

static void on_timer(uv_timer_t *t)
{
  pt_timer *timer = (pt_timer *)t;
  timer->on_fire(timer, timer->ud);
}

static pt_timer *api_timer_new(pt_host *h,
                               void (*on_fire)(pt_timer *t, void *ud), void *ud)
{
  if (!h || !on_fire) return NULL;
  pt_timer *t = calloc(1, sizeof *t);
  if (!t) return NULL;
  uv_timer_init(&h->k->loop, &t->handle);
  t->h = h;
  t->on_fire = on_fire;
  t->ud = ud;
  LIST_PUSH(h->timers, t);
  return t;
}

static int32_t api_timer_start(pt_timer *t, uint64_t timeout_ms,
                               uint64_t repeat_ms)
{
  if (!t) return PT_EINVAL;
  if (t->h->state >= PT_PLUGIN_FINI) return PT_ESHUTDOWN;
  return uv_timer_start(&t->handle, on_timer, timeout_ms, repeat_ms) == 0
             ? PT_OK
             : PT_EINVAL;
}

static void api_timer_stop(pt_timer *t)
{
  if (t) uv_timer_stop(&t->handle);
}

static void on_timer_closed(uv_handle_t *handle)
{
  free(handle);
}

static void api_timer_free(pt_timer *t)
{
  if (!t) return;
  LIST_UNLINK(t->h->timers, t);
  uv_close((uv_handle_t *)&t->handle, on_timer_closed);
}

/* ------------------------------------------------------------------------ */
/* Work queue                                                                */

static void on_work(uv_work_t *req)
{
  struct pt_host_work *w = req->data;
  w->work(w->ud);
}

static void on_work_done(uv_work_t *req, int status)
{
  struct pt_host_work *w = req->data;
  pt_host *h = w->h;
  LIST_UNLINK(h->works, w);
  h->work_count--;
  if (w->done) w->done(w->ud, status == UV_ECANCELED ? PT_ECANCELED : PT_OK);
  free(w);
  pt__host_maybe_drained(h);
}

static int32_t api_queue_work(pt_host *h, void (*work)(void *ud),
                              void (*done)(void *ud, int32_t status), void *ud)
{
  if (!h || !work) return PT_EINVAL;
  if (h->state >= PT_PLUGIN_FINI || h->services_cancelled) return PT_ESHUTDOWN;
  struct pt_host_work *w = calloc(1, sizeof *w);
  if (!w) return PT_ENOMEM;
  w->req.data = w;
  w->h = h;
  w->work = work;
  w->done = done;
  w->ud = ud;
  if (uv_queue_work(&h->k->loop, &w->req, on_work, on_work_done) != 0) {
    free(w);
    return PT_EINVAL;
  }
  LIST_PUSH(h->works, w);
  h->work_count++;
  return PT_OK;
}

/* ------------------------------------------------------------------------ */
/* Configuration and secrets                                                 */

static pt_str api_config(pt_host *h)
{
  const char *json = pt_config_plugin_json(h->k->config, h->desc->name);
  return (pt_str){ json, strlen(json) };
}

static int32_t api_config_string(pt_host *h, const char *key, pt_str *out)
{
  if (!h || !key || !out) return PT_EINVAL;
  *out = (pt_str){ "", 0 };
  const cJSON *root = pt_config_root(h->k->config);
  const cJSON *plugins = cJSON_GetObjectItemCaseSensitive(root, "plugins");
  const cJSON *mine = cJSON_GetObjectItemCaseSensitive(plugins, h->desc->name);
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(mine, key);
  char num[64];
  const char *text;
  if (cJSON_IsString(v)) {
    text = v->valuestring;
  } else if (cJSON_IsNumber(v)) {
    double d = v->valuedouble;
    if (d == (double)(long long)d)
      snprintf(num, sizeof num, "%lld", (long long)d);
    else
      snprintf(num, sizeof num, "%.17g", d);
    text = num;
  } else if (cJSON_IsBool(v)) {
    text = cJSON_IsTrue(v) ? "true" : "false";
  } else {
    return PT_ENOENT;
  }
  const char *kept = pt__host_keep(h, text, strlen(text));
  if (!kept) return PT_ENOMEM;
  *out = (pt_str){ kept, strlen(kept) };
  return PT_OK;
}

static int32_t api_secret(pt_host *h, const char *key, const char *env_fallback,
                          pt_str *out)
{
  if (!h || !out) return PT_EINVAL;
  if (key && api_config_string(h, key, out) == PT_OK && out->len > 0) {
    pt_log_redact(out->ptr, out->len);
    return PT_OK;
  }
  const char *env = env_fallback ? getenv(env_fallback) : NULL;
  if (!env || !*env) {
    *out = (pt_str){ "", 0 };
    return PT_ENOENT;
  }
  const char *kept = pt__host_keep(h, env, strlen(env));
  if (!kept) return PT_ENOMEM;
  *out = (pt_str){ kept, strlen(kept) };
  pt_log_redact(out->ptr, out->len);
  return PT_OK;
}

/* ------------------------------------------------------------------------ */
/* HTTP: the plugin's callbacks behind a trampoline that keeps the count     */

static void tramp_response(pt_http *r, void *ud, int32_t status)
{
  struct pt_host_http *w = ud;
  if (w->req.on_response) w->req.on_response(r, w->req.ud, status);
}

static void tramp_body(pt_http *r, void *ud, pt_str chunk)
{
  struct pt_host_http *w = ud;
  if (w->req.on_body) w->req.on_body(r, w->req.ud, chunk);
}

static void tramp_done(pt_http *r, void *ud, int32_t status, pt_str message)
{
  struct pt_host_http *w = ud;
  pt_host *h = w->h;
  LIST_UNLINK(h->https, w);
  h->http_count--;
  w->req.on_done(r, w->req.ud, status, message);
  free(w);
  pt__host_maybe_drained(h);
}

static int32_t api_http_start(pt_host *h, const pt_http_request *req,
                              pt_http **out)
{
  if (!h || !req || !out) return PT_EINVAL;
  if (h->state >= PT_PLUGIN_FINI || h->services_cancelled) return PT_ESHUTDOWN;
  struct pt_host_http *w = calloc(1, sizeof *w);
  if (!w) return PT_ENOMEM;
  size_t n = req->struct_size < sizeof w->req ? req->struct_size
                                               : sizeof w->req;
  memcpy(&w->req, req, n);
  if (!w->req.on_done) {
    free(w);
    return PT_EINVAL;
  }
  pt_http_request mine = w->req;
  mine.struct_size = sizeof mine;
  mine.on_response = tramp_response;
  mine.on_body = tramp_body;
  mine.on_done = tramp_done;
  mine.ud = w;
  w->h = h;
  int32_t rc = pt_http_start(h->k->http, &mine, &w->r);
  if (rc < 0) {
    free(w);
    return rc;
  }
  LIST_PUSH(h->https, w);
  h->http_count++;
  *out = w->r;
  return PT_OK;
}

static void api_http_cancel(pt_http *r)
{
  if (r) pt_http_cancel(r);
}

static pt_str api_http_header(pt_http *r, const char *name)
{
  if (!r || !name) return (pt_str){ "", 0 };
  return pt_http_header(r, name);
}

/* ------------------------------------------------------------------------ */
/* Stream framing: thin adapters over the core splitters                     */

static pt_sse *api_sse_new(pt_host *h, pt_sse_cb cb, void *ud)
{
  return cb ? pt_sse_new(cb, ud, 0) : NULL;
}

static int32_t api_sse_feed(pt_sse *s, pt_str bytes)
{
  return s ? pt_sse_feed(s, bytes.ptr, bytes.len) : PT_EINVAL;
}

static int32_t api_sse_end(pt_sse *s)
{
  return s ? pt_sse_end(s) : PT_EINVAL;
}

static pt_lines *api_lines_new(pt_host *h, pt_line_cb cb, void *ud)
{
  return cb ? pt_lines_new(cb, ud, 0) : NULL;
}

static int32_t api_lines_feed(pt_lines *l, pt_str bytes)
{
  return l ? pt_lines_feed(l, bytes.ptr, bytes.len) : PT_EINVAL;
}

static int32_t api_lines_end(pt_lines *l)
{
  return l ? pt_lines_end(l) : PT_EINVAL;
}

/* ------------------------------------------------------------------------ */
/* Unload support                                                            */

void pt__host_cancel_services(pt_host *h)
{
  for (struct pt_host_http *w = h->https; w; w = w->next) pt_http_cancel(w->r);
  for (struct pt_host_work *w = h->works; w; w = w->next)
    uv_cancel((uv_req_t *)&w->req);
  for (pt_timer *t = h->timers; t; t = t->next) uv_timer_stop(&t->handle);
}

void pt__host_free_services(pt_host *h)
{
  while (h->timers) api_timer_free(h->timers);
  while (h->kept) {
    pt_kept_str *next = h->kept->next;
    free(h->kept);
    h->kept = next;
  }
}

static void *api_alloc(size_t n)
{
  return malloc(n ? n : 1);
}

static void api_free(void *p)
{
  free(p);
}

static const pt_host_api host_api = {
  .struct_size = sizeof(pt_host_api),
  .abi_major = PT_ABI_MAJOR,
  .abi_minor = PT_ABI_MINOR,
  .host_version = PORTICO_VERSION,
  .alloc = api_alloc,
  .free = api_free,
  .log = api_log,
  .set_error = api_set_error,
  .add_provider = api_add_provider,
  .add_tool = api_add_tool,
  .emit = pt__op_emit,
  .op_done = pt__op_done,
  .op_context = pt__op_context,
  .post = api_post,
  .timer_new = api_timer_new,
  .timer_start = api_timer_start,
  .timer_stop = api_timer_stop,
  .timer_free = api_timer_free,
  .queue_work = api_queue_work,
  .config = api_config,
  .config_string = api_config_string,
  .secret = api_secret,
  .http_start = api_http_start,
  .http_cancel = api_http_cancel,
  .http_header = api_http_header,
  .sse_new = api_sse_new,
  .sse_feed = api_sse_feed,
  .sse_end = api_sse_end,
  .sse_free = pt_sse_free,
  .lines_new = api_lines_new,
  .lines_feed = api_lines_feed,
  .lines_end = api_lines_end,
  .lines_free = pt_lines_free,
};

const pt_host_api *pt__host_api(void)
{
  return &host_api;
}
