/*
 * core/serve_catalog.c: the read-only routes of `portico serve` that
 * describe the runtime rather than one session: health, plugins,
 * providers, models, tools, agents, search and usage (docs/http-api.md).
 *
 * Everything here runs on the loop thread and answers each request exactly
 * once. Only the model listing waits on a plugin; the rest answer from the
 * kernel's registry, the config and the store before they return. Sessions
 * and their turns are serve_routes.c's.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"
#include "plugin_host.h"
#include "serve.h"

/* Past this many search hits a person refines the query instead. */
#define SEARCH_LIMIT_MAX 1000

/* Give a built body, or say the server ran out of memory building it:
 * serve_reply with a NULL body would send a 200 with nothing in it. */
static void reply_json(serve_req *r, int status, cJSON *body)
{
  if (body) serve_reply(r, status, body);
  else serve_reply_error(r, 500, "internal", "out of memory");
}

/* A store call failed: a lock held by another process is worth retrying,
 * anything else is the server's own problem. */
static void reply_store_error(pt_serve *sv, serve_req *r, int32_t rc)
{
  if (rc == PT_EBUSY)
    serve_reply_error(r, 503, "unavailable", "%s", pt_store_errmsg(sv->st));
  else
    serve_reply_error(r, 500, "internal", "%s", pt_store_errmsg(sv->st));
}

/* A whole decimal number in [min, max]; -1 when `s` is anything else. */
static int parse_int(const char *s, long long min, long long max,
                     long long *out)
{
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (end == s || *end || errno || v < min || v > max) return -1;
  *out = v;
  return 0;
}

static cJSON *flags_json(uint32_t flags)
{
  static const struct { uint32_t bit; const char *name; } names[] = {
    { PT_TOOL_READS, "reads" },       { PT_TOOL_WRITES, "writes" },
    { PT_TOOL_EXECUTES, "executes" }, { PT_TOOL_NETWORK, "network" },
  };
  cJSON *arr = cJSON_CreateArray();
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (flags & names[i].bit)
      cJSON_AddItemToArray(arr, cJSON_CreateString(names[i].name));
  return arr;
}

static int lists_models(const pt_provider_vt *vt)
{
  return PT_HAS(pt_provider_vt, vt, list_models) && vt->list_models;
}

/* The provider a request without ?provider= means: serve's --provider,
 * else config.lua's default_provider (either may name one that is not
 * loaded), else the only provider loaded; NULL when that leaves a choice. */
static const char *default_provider(const pt_serve *sv)
{
  if (sv->provider && *sv->provider) return sv->provider;
  const char *id = pt_config_default_provider(sv->k->config);
  if (id && *id) return id;
  if (sv->k->registry.provider_count == 1)
    return sv->k->registry.providers[0].vt->id;
  return NULL;
}

/* ------------------------------------------------------------------------ */
/* Health, plugins, providers, tools                                         */

void serve_get_health(pt_serve *sv, serve_req *r, const char *const *p)
{
  (void)p;
  size_t plugins = 0, sessions = 0;
  for (const pt_host *h = sv->k->plugins; h; h = h->next)
    plugins += h->state == PT_PLUGIN_ACTIVE;
  for (const serve_session *ss = sv->sessions; ss; ss = ss->next)
    sessions += !ss->deleted;
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "status", "ok");
  cJSON_AddStringToObject(o, "version", PORTICO_VERSION);
  cJSON_AddNumberToObject(o, "uptime_ms",
                          (double)(serve_now_ms() - sv->started_ms));
  cJSON_AddNumberToObject(o, "plugins", (double)plugins);
  cJSON_AddNumberToObject(o, "sessions_live", (double)sessions);
  cJSON_AddBoolToObject(o, "stopping", sv->stopping != 0);
  reply_json(r, 200, o);
}

/* One loaded plugin, naming what it registered; /api/providers and
 * /api/tools give the details, so `portico plugins --json`'s nested
 * objects are not repeated here. */
static cJSON *plugin_json(const pt_host *h)
{
  const pt_plugin_desc *d = h->desc;
  char abi[32];
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "name", d->name);
  cJSON_AddStringToObject(o, "version", d->version ? d->version : "");
  cJSON_AddStringToObject(o, "description",
                          d->description ? d->description : "");
  cJSON_AddStringToObject(o, "path", h->path);
  snprintf(abi, sizeof abi, "%u.%u", d->abi_major, d->abi_minor);
  cJSON_AddStringToObject(o, "abi", abi);
  cJSON *providers = cJSON_AddArrayToObject(o, "providers");
  cJSON *tools = cJSON_AddArrayToObject(o, "tools");
  for (size_t i = 0; i < h->reg_count; i++) {
    const pt_registration *g = &h->regs[i];
    if (g->is_tool)
      cJSON_AddItemToArray(tools, cJSON_CreateString(
                                      ((const pt_tool_vt *)g->vt)->name));
    else
      cJSON_AddItemToArray(providers, cJSON_CreateString(
                                          ((const pt_provider_vt *)g->vt)->id));
  }
  return o;
}

void serve_get_plugins(pt_serve *sv, serve_req *r, const char *const *p)
{
  (void)p;
  cJSON *doc = cJSON_CreateObject();
  cJSON *plugins = cJSON_AddArrayToObject(doc, "plugins");
  for (const pt_host *h = sv->k->plugins; h; h = h->next)
    if (h->state == PT_PLUGIN_ACTIVE)
      cJSON_AddItemToArray(plugins, plugin_json(h));
  cJSON *refused = cJSON_AddArrayToObject(doc, "refused");
  for (const pt_refusal *f = sv->k->refusals; f; f = f->next) {
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "path", f->path);
    cJSON_AddStringToObject(e, "reason", f->reason);
    cJSON_AddItemToArray(refused, e);
  }
  reply_json(r, 200, doc);
}

void serve_get_providers(pt_serve *sv, serve_req *r, const char *const *p)
{
  (void)p;
  const pt_registry *reg = &sv->k->registry;
  cJSON *doc = cJSON_CreateObject();
  cJSON *list = cJSON_AddArrayToObject(doc, "providers");
  for (size_t i = 0; i < reg->provider_count; i++) {
    const pt_provider_entry *e = &reg->providers[i];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", e->vt->id);
    cJSON_AddStringToObject(o, "plugin", e->plugin->desc->name);
    cJSON_AddStringToObject(o, "description",
                            e->vt->description ? e->vt->description : "");
    cJSON_AddBoolToObject(o, "lists_models", lists_models(e->vt));
    cJSON_AddItemToArray(list, o);
  }
  const char *def = default_provider(sv);
  cJSON_AddItemToObject(doc, "default",
                        def ? cJSON_CreateString(def) : cJSON_CreateNull());
  reply_json(r, 200, doc);
}

void serve_get_tools(pt_serve *sv, serve_req *r, const char *const *p)
{
  (void)p;
  const pt_registry *reg = &sv->k->registry;
  cJSON *doc = cJSON_CreateObject();
  cJSON *list = cJSON_AddArrayToObject(doc, "tools");
  for (size_t i = 0; i < reg->tool_count; i++) {
    const pt_tool_entry *e = &reg->tools[i];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", e->vt->name);
    cJSON_AddStringToObject(o, "plugin", e->plugin->desc->name);
    cJSON_AddStringToObject(o, "description",
                            e->vt->description ? e->vt->description : "");
    /* Registration only checks that a schema is given; null says it is
     * not JSON, which is also why an agent would refuse the tool. */
    cJSON *schema = cJSON_Parse(e->vt->input_schema);
    cJSON_AddItemToObject(o, "input_schema",
                          schema ? schema : cJSON_CreateNull());
    cJSON_AddItemToObject(o, "flags", flags_json(e->vt->flags));
    cJSON_AddItemToArray(list, o);
  }
  reply_json(r, 200, doc);
}

/* ------------------------------------------------------------------------ */
/* Models: the one route that waits on a plugin                              */

/* A listing in flight. The request is held until on_models_done answers
 * it; the provider's id is kept for the messages of that answer. */
typedef struct models_wait {
  serve_req *r;
  char provider[64];   /* registry ids are at most 63 bytes */
} models_wait;

/* What a failed listing said, in the shapes the bundled providers use:
 * {"error":"..."} or {"error":{"message":"..."}}. */
static const char *failure_message(const cJSON *result, int32_t status)
{
  const cJSON *err = cJSON_GetObjectItemCaseSensitive(result, "error");
  const char *msg = cJSON_GetStringValue(err);
  if (!msg)
    msg = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(err,
                                                                "message"));
  return msg && *msg ? msg : pt_strerror(status);
}

static void on_models_done(void *ud, int32_t status, pt_str result)
{
  models_wait *w = ud;
  serve_req *r = w->r;
  cJSON *parsed = cJSON_ParseWithLength(result.ptr, result.len);
  if (status == PT_ECANCELED) {
    serve_reply_error(r, 503, "unavailable",
                      "provider '%s' stopped listing its models because the "
                      "server or its plugin is stopping",
                      w->provider);
  } else if (status < 0) {
    serve_reply_error(r, 502, "upstream",
                      "provider '%s' could not list its models: %s",
                      w->provider, failure_message(parsed, status));
  } else if (!cJSON_IsArray(parsed)) {
    serve_reply_error(r, 502, "upstream",
                      "provider '%s' answered the model listing with "
                      "something other than a list",
                      w->provider);
  } else {
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "provider", w->provider);
    cJSON *models = cJSON_AddArrayToObject(doc, "models");
    cJSON *m = parsed->child;
    /* Moved across rather than copied; an entry without an id string is
     * one no request could name, so it is left out. */
    while (m) {
      cJSON *next = m->next;
      if (cJSON_IsString(cJSON_GetObjectItemCaseSensitive(m, "id")))
        cJSON_AddItemToArray(models, cJSON_DetachItemViaPointer(parsed, m));
      m = next;
    }
    if (!models) {
      cJSON_Delete(doc);
      doc = NULL;
    }
    reply_json(r, 200, doc);
  }
  cJSON_Delete(parsed);
  serve_req_release(r);
  free(w);
}

/* Answer the request when no provider was named and none is the default. */
static void reply_no_provider(pt_serve *sv, serve_req *r)
{
  const pt_registry *reg = &sv->k->registry;
  if (reg->provider_count == 0) {
    serve_reply_error(r, 503, "unavailable",
                      "no provider is loaded; GET /api/plugins shows the "
                      "plugin files that were refused and why");
    return;
  }
  char ids[1024];
  size_t n = 0;
  ids[0] = '\0';
  for (size_t i = 0; i < reg->provider_count && n < sizeof ids; i++)
    n += (size_t)snprintf(ids + n, sizeof ids - n, "%s%s", i ? ", " : "",
                          reg->providers[i].vt->id);
  serve_reply_error(r, 400, "bad_request",
                    "name a provider with ?provider=ID (loaded: %s), or set "
                    "default_provider in config.lua",
                    ids);
}

void serve_get_models(pt_serve *sv, serve_req *r, const char *const *p)
{
  (void)p;
  char arg[128];
  const char *id = serve_req_arg(r, "provider", arg, sizeof arg);
  if (!id || !*id) id = default_provider(sv);
  if (!id) {
    reply_no_provider(sv, r);
    return;
  }
  const pt_provider_entry *e = pt_registry_provider(&sv->k->registry, id);
  if (!e) {
    serve_reply_error(r, 404, "not_found",
                      "no provider named '%s' is loaded; GET /api/providers "
                      "lists them",
                      id);
    return;
  }
  if (!lists_models(e->vt)) {
    serve_reply_error(r, 501, "unsupported",
                      "provider '%s' does not list its models", id);
    return;
  }
  models_wait *w = calloc(1, sizeof *w);
  if (!w) {
    serve_reply_error(r, 500, "internal", "out of memory");
    return;
  }
  w->r = r;
  snprintf(w->provider, sizeof w->provider, "%s", e->vt->id);
  /* Held before starting: a plugin may complete inside the starting call,
   * and on_models_done releases. */
  serve_req_hold(r);
  pt_op_sink sink = { .on_done = on_models_done, .ud = w };
  int32_t rc = pt_op_models(sv->k, w->provider, &sink, NULL);
  if (rc == PT_OK) return;
  if (rc == PT_ENOMEM)
    serve_reply_error(r, 500, "internal", "out of memory");
  else
    serve_reply_error(r, 502, "upstream",
                      "provider '%s' could not start listing its models: %s",
                      w->provider, pt_strerror(rc));
  serve_req_release(r);
  free(w);
}

/* ------------------------------------------------------------------------ */
/* Agents, search, usage                                                     */

static int by_name(const void *a, const void *b)
{
  const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
  return strcmp(x->string, y->string);
}

void serve_get_agents(pt_serve *sv, serve_req *r, const char *const *p)
{
  (void)p;
  const cJSON *agents = cJSON_GetObjectItemCaseSensitive(
      pt_config_root(sv->k->config), "agents");
  /* config.lua's tables arrive in Lua's hash order; sorting by name gives
   * clients the same listing every time. An empty Lua table becomes an
   * object with no members, so a list here is never a table of agents. */
  size_t n = cJSON_IsObject(agents) ? (size_t)cJSON_GetArraySize(agents) : 0;
  const cJSON **sorted = calloc(n ? n : 1, sizeof *sorted);
  if (!sorted) {
    serve_reply_error(r, 500, "internal", "out of memory");
    return;
  }
  size_t count = 0;
  const cJSON *a;
  if (n) {
    cJSON_ArrayForEach(a, agents) sorted[count++] = a;
  }
  qsort(sorted, count, sizeof *sorted, by_name);

  cJSON *doc = cJSON_CreateObject();
  cJSON *list = cJSON_AddArrayToObject(doc, "agents");
  for (size_t i = 0; i < count; i++) {
    /* A profile that is not a table cannot start a chat (chat_agent.c
     * refuses it), so it is not offered. */
    if (!cJSON_IsObject(sorted[i])) continue;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", sorted[i]->string);
    const cJSON *f;
    cJSON_ArrayForEach(f, sorted[i]) {
      if (strcmp(f->string, "name") == 0) continue;
      cJSON_AddItemToObject(o, f->string, cJSON_Duplicate(f, 1));
    }
    cJSON_AddItemToArray(list, o);
  }
  free(sorted);
  reply_json(r, 200, doc);
}

void serve_get_search(pt_serve *sv, serve_req *r, const char *const *p)
{
  (void)p;
  char q[1024], lim[32];
  const char *query = serve_req_arg(r, "q", q, sizeof q);
  const char *limit_arg = serve_req_arg(r, "limit", lim, sizeof lim);
  if (!query || !query[strspn(query, " \t\r\n")]) {
    serve_reply_error(r, 400, "bad_request",
                      "search needs words to look for: ?q=WORDS");
    return;
  }
  long long limit = 0;
  if (limit_arg && parse_int(limit_arg, 1, SEARCH_LIMIT_MAX, &limit) < 0) {
    serve_reply_error(r, 400, "bad_request",
                      "limit is a whole number from 1 to %d, not '%s'",
                      SEARCH_LIMIT_MAX, limit_arg);
    return;
  }
  cJSON *hits = NULL;
  int32_t rc = pt_store_search(sv->st, query, (int)limit, &hits);
  if (rc != PT_OK) {
    reply_store_error(sv, r, rc);
    return;
  }
  cJSON *doc = cJSON_CreateObject();
  if (!cJSON_AddItemToObject(doc, "results", hits)) {
    cJSON_Delete(hits);
    cJSON_Delete(doc);
    doc = NULL;
  }
  reply_json(r, 200, doc);
}

void serve_get_usage(pt_serve *sv, serve_req *r, const char *const *p)
{
  (void)p;
  /* Indexed by pt_store_usage_by. */
  static const char *const names[] = { "none", "model", "provider", "day",
                                       "session" };
  char b[32], s[32];
  const char *by_arg = serve_req_arg(r, "by", b, sizeof b);
  const char *since_arg = serve_req_arg(r, "since", s, sizeof s);
  size_t by = PT_STORE_BY_MODEL;
  if (by_arg) {
    by = 0;
    while (by < sizeof names / sizeof names[0] && strcmp(by_arg, names[by]))
      by++;
    if (by == sizeof names / sizeof names[0]) {
      serve_reply_error(r, 400, "bad_request",
                        "by is model, provider, day, session or none, not "
                        "'%s'",
                        by_arg);
      return;
    }
  }
  long long since = 0;
  if (since_arg && parse_int(since_arg, 0, INT64_MAX, &since) < 0) {
    serve_reply_error(r, 400, "bad_request",
                      "since is a time in Unix milliseconds, not '%s'",
                      since_arg);
    return;
  }
  cJSON *rows = NULL;
  int32_t rc = pt_store_usage_report(sv->st, (pt_store_usage_by)by,
                                     (int64_t)since, &rows);
  if (rc != PT_OK) {
    reply_store_error(sv, r, rc);
    return;
  }
  cJSON *doc = cJSON_CreateObject();
  cJSON_AddStringToObject(doc, "by", names[by]);
  if (!cJSON_AddItemToObject(doc, "rows", rows)) {
    cJSON_Delete(rows);
    cJSON_Delete(doc);
    doc = NULL;
  }
  reply_json(r, 200, doc);
}
