/*
 * core/serve_sessions.c: the sessions `portico serve` holds in memory.
 *
 * A session is loaded lightly when first named (its id and the number of
 * its last event, enough to subscribe to it) and prepared on its first
 * prompt: the record on the server's one store connection, the history,
 * the tools, the workspace and the policy. How a session was created (its
 * agent, tools, workspace, ...) is kept as the store setting
 * "serve.session.ID", so a restarted server prepares it the same way.
 *
 * Every event of a session is numbered, appended to its event log in the
 * store and queued for its subscribers (serve_stream.c).
 */
#include "serve.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event_json.h"
#include "log.h"

static char *dup_or_null(const char *s)
{
  return s ? strdup(s) : NULL;
}

static void setting_key(const char *id, char *buf, size_t len)
{
  snprintf(buf, len, "serve.session.%s", id);
}

static serve_session *find_live(pt_serve *sv, const char *id)
{
  for (serve_session *ss = sv->sessions; ss; ss = ss->next)
    if (!ss->deleted && !strcmp(ss->id, id)) return ss;
  return NULL;
}

static serve_session *session_new(pt_serve *sv, const char *id)
{
  serve_session *ss = calloc(1, sizeof *ss);
  if (!ss) return NULL;
  ss->sv = sv;
  snprintf(ss->id, sizeof ss->id, "%s", id);
  if (pt_store_event_last_seq(sv->st, id, &ss->seq) != PT_OK) ss->seq = 0;
  ss->next = sv->sessions;
  sv->sessions = ss;
  return ss;
}

int32_t serve_session_get(pt_serve *sv, const char *id, serve_session **out)
{
  *out = find_live(sv, id);
  if (*out) return PT_OK;
  char full[PT_STORE_ID_LEN];
  int32_t rc = pt_store_session_find(sv->st, id, full);
  if (rc != PT_OK) return rc;
  *out = find_live(sv, full);
  if (!*out) *out = session_new(sv, full);
  return *out ? PT_OK : PT_ENOMEM;
}

/* ------------------------------------------------------------------------ */
/* Events                                                                    */

void serve_session_emit(serve_session *ss, cJSON *ev)
{
  if (!ev) return;
  pt_serve *sv = ss->sv;
  char *text = cJSON_PrintUnformatted(ev);
  const char *type = cJSON_GetStringValue(cJSON_GetObjectItem(ev, "type"));
  if (text) {
    size_t len = strlen(text);
    int64_t seq = ++ss->seq;
    if (!ss->deleted &&
        pt_store_event_append(sv->st, ss->id, seq, text, len) != PT_OK)
      pt_log_warn("serve", "saving event %lld of %s: %s", (long long)seq,
                  ss->id, pt_store_errmsg(sv->st));
    serve_fanout(ss, seq, type ? type : "event", text, len);
    free(text);
  }
  cJSON_Delete(ev);
}

static cJSON *event(const char *type)
{
  cJSON *ev = cJSON_CreateObject();
  cJSON_AddStringToObject(ev, "type", type);
  return ev;
}

/* ------------------------------------------------------------------------ */
/* Preparing                                                                 */

/* "a,b,c" from a string or a list of strings; NULL when absent. */
static char *tools_text(const cJSON *tools)
{
  if (cJSON_IsString(tools)) return strdup(tools->valuestring);
  if (!cJSON_IsArray(tools)) return NULL;
  size_t len = 1;
  const cJSON *t;
  cJSON_ArrayForEach(t, tools)
    if (cJSON_IsString(t)) len += strlen(t->valuestring) + 1;
  char *out = calloc(1, len);
  if (!out) return NULL;
  cJSON_ArrayForEach(t, tools)
    if (cJSON_IsString(t)) {
      if (*out) strcat(out, ",");
      strcat(out, t->valuestring);
    }
  return out;
}

static const char *opt_str(const cJSON *o, const char *name)
{
  return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, name));
}

/* Tools, workspace, policy, provider and model into `into`: what the
 * creation options `o` name, else the agent profile's, else the server's
 * defaults. `into` is set up whole or, on error, left empty: a session
 * must never run with its tools but without its policy. */
static int32_t setup_agent(serve_session *ss, pt_chat_agent *into,
                           const cJSON *o, char *err, size_t errlen)
{
  pt_serve *sv = ss->sv;
  pt_kernel *k = sv->k;
  pt_chat_agent_flags f = { 0 };
  f.agent = opt_str(o, "agent") ? opt_str(o, "agent") : sv->agent;
  char *tools = tools_text(cJSON_GetObjectItemCaseSensitive(o, "tools"));
  f.tools = tools;
  f.workspace = opt_str(o, "workspace");
  f.policy = opt_str(o, "policy");
  const cJSON *mt = cJSON_GetObjectItemCaseSensitive(o, "max_turns");
  if (cJSON_IsNumber(mt)) f.max_turns = mt->valueint;
  const char *provider = opt_str(o, "provider");
  const char *model = opt_str(o, "model");
  const char *system = opt_str(o, "system");
  memset(into, 0, sizeof *into);
  int32_t rc = PT_OK;
  int profile_ok =
      pt__chat_agent_profile(k->config, &f, &provider, &model, &system) == 0;
  if (!f.tools && !f.profile_tools) f.tools = sv->tools;
  if (!f.workspace) f.workspace = sv->workspace;
  if (!f.policy) f.policy = sv->policy;
  if (!provider) provider = sv->provider;
  if (!model) model = sv->model;
  if (!profile_ok) {
    snprintf(err, errlen, "agent profile '%s' is missing or malformed in "
             "config.lua (GET /api/agents lists them)", f.agent);
    rc = PT_ENOENT;
  } else if (pt__chat_resolve(k, &provider, &model, &ss->price) != 0) {
    snprintf(err, errlen, "no usable provider and model: name \"provider\" "
             "and \"model\" (GET /api/providers), or set default_provider "
             "and default_model in config.lua");
    rc = PT_EINVAL;
  } else if (pt__chat_agent_setup(into, k, &f, sv->st) != 0) {
    pt__chat_agent_free(into);
    memset(into, 0, sizeof *into);
    snprintf(err, errlen, "cannot set up the tools, workspace %s or policy "
             "%s (the server log says why)",
             f.workspace ? f.workspace : "(the server's folder)",
             f.policy ? f.policy : "(default)");
    rc = PT_EINVAL;
  } else {
    free(ss->provider);
    free(ss->model);
    free(ss->agent_name);
    ss->provider = dup_or_null(provider);
    ss->model = dup_or_null(model);
    ss->agent_name = dup_or_null(f.agent);
    if (system) {
      free(ss->system);
      ss->system = strdup(system);
    }
  }
  free(tools);
  return rc;
}

/* The options a session was created with (an empty object for one made by
 * `portico chat` or `portico acp`: its stored provider and model). */
static cJSON *load_options(serve_session *ss)
{
  pt_serve *sv = ss->sv;
  char key[128], *text = NULL;
  setting_key(ss->id, key, sizeof key);
  cJSON *o = NULL;
  if (pt_store_setting_get(sv->st, key, &text) == PT_OK) {
    o = cJSON_Parse(text);
    free(text);
  }
  if (!cJSON_IsObject(o)) {
    cJSON_Delete(o);
    o = cJSON_CreateObject();
    cJSON *row = NULL;
    if (pt_store_session_get(sv->st, ss->id, &row) == PT_OK) {
      static const char *const keep[] = { "provider", "model", "workspace",
                                          "agent" };
      for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++) {
        const char *v = opt_str(row, keep[i]);
        if (v && *v) cJSON_AddStringToObject(o, keep[i], v);
      }
    }
    cJSON_Delete(row);
  }
  return o;
}

static int32_t prepare(serve_session *ss, char *err, size_t errlen)
{
  if (ss->prepared && !ss->reload) return PT_OK;
  pt_serve *sv = ss->sv;
  if (ss->prepared) {
    /* SIGHUP: the policy and profiles are read again for the next turn.
     * When they no longer load, the session keeps what it had, so an
     * edit with a mistake never leaves tools running unguarded. */
    pt_chat_agent fresh;
    ss->reload = 0;
    if (setup_agent(ss, &fresh, ss->options, err, errlen) != PT_OK) {
      pt_log_error("serve", "session %s keeps its previous tools and "
                   "policy: %s", ss->id, err);
      err[0] = '\0';
      return PT_OK;
    }
    pt__chat_agent_free(&ss->agent);
    ss->agent = fresh;
    return PT_OK;
  }
  if (!ss->options) ss->options = load_options(ss);
  /* The record is attached once, whatever comes of it: it holds a libuv
   * handle, which must not be set up twice. Each step below is kept when
   * a later one fails, so a retry never redoes (and leaks) it. */
  if (!ss->rec_open) {
    ss->rec_rc = pt_chat_record_attach(&ss->rec, sv->k, sv->st, ss->id);
    ss->rec_open = 1;
  }
  int32_t rc = ss->rec_rc;
  const char *system = NULL;
  if (rc == PT_OK && !ss->messages) {
    rc = pt_chat_record_history(&ss->rec, &ss->messages, &system);
    if (rc == PT_OK && system && !ss->system) ss->system = strdup(system);
  }
  if (rc != PT_OK) {
    snprintf(err, errlen, "reading session %s from the store: %s", ss->id,
             pt_store_errmsg(sv->st));
    return rc;
  }
  rc = setup_agent(ss, &ss->agent, ss->options, err, errlen);
  if (rc != PT_OK) return rc;
  const cJSON *mt = cJSON_GetObjectItemCaseSensitive(ss->options,
                                                     "max_tokens");
  if (cJSON_IsNumber(mt)) ss->max_tokens = (long)mt->valuedouble;
  ss->prepared = 1;
  return PT_OK;
}

int32_t serve_session_create(pt_serve *sv, const cJSON *body,
                             serve_session **out, char *err, size_t errlen)
{
  static const char *const strings[] = { "agent", "provider", "model",
                                         "system", "workspace", "policy",
                                         "title" };
  for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, strings[i]);
    if (v && !cJSON_IsString(v) && !cJSON_IsNull(v)) {
      snprintf(err, errlen, "\"%s\" must be a string", strings[i]);
      return PT_EINVAL;
    }
  }
  const cJSON *tools = cJSON_GetObjectItemCaseSensitive(body, "tools");
  if (tools && !cJSON_IsString(tools) && !cJSON_IsArray(tools)) {
    snprintf(err, errlen, "\"tools\" must be a list of tool names or one "
                          "comma-separated string");
    return PT_EINVAL;
  }
  static const char *const numbers[] = { "max_turns", "max_tokens" };
  for (size_t i = 0; i < 2; i++) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, numbers[i]);
    if (v && (!cJSON_IsNumber(v) || v->valuedouble < 1)) {
      snprintf(err, errlen, "\"%s\" must be a positive number", numbers[i]);
      return PT_EINVAL;
    }
  }
  /* Check everything before anything is stored, so that a bad request
   * leaves no half-made session behind. */
  serve_session probe = { .sv = sv };
  cJSON *options = body ? cJSON_Duplicate(body, 1) : cJSON_CreateObject();
  cJSON_DeleteItemFromObjectCaseSensitive(options, "title");
  int32_t rc = setup_agent(&probe, &probe.agent, options, err, errlen);
  if (rc != PT_OK) {
    cJSON_Delete(options);
    free(probe.provider), free(probe.model), free(probe.system);
    free(probe.agent_name);
    return rc;
  }
  char id[PT_STORE_ID_LEN];
  pt_store_session_info info = {
    .agent = probe.agent_name, .provider = probe.provider,
    .model = probe.model, .workspace = probe.agent.workspace,
    .title = opt_str(body, "title") };
  rc = pt_store_session_create(sv->st, &info, id);
  char *text = cJSON_PrintUnformatted(options);
  char key[128];
  setting_key(id, key, sizeof key);
  if (rc == PT_OK) rc = pt_store_setting_set(sv->st, key, text);
  free(text);
  pt__chat_agent_free(&probe.agent);
  free(probe.provider), free(probe.model), free(probe.system);
  free(probe.agent_name);
  if (rc != PT_OK) {
    snprintf(err, errlen, "the store: %s", pt_store_errmsg(sv->st));
    cJSON_Delete(options);
    return rc;
  }
  serve_session *ss = session_new(sv, id);
  if (!ss) {
    cJSON_Delete(options);
    return PT_ENOMEM;
  }
  ss->options = options;
  rc = prepare(ss, err, errlen);
  if (rc != PT_OK) return rc;
  cJSON *ev = event("session_created");
  cJSON_AddStringToObject(ev, "session_id", ss->id);
  serve_session_emit(ss, ev);
  *out = ss;
  return PT_OK;
}

/* ------------------------------------------------------------------------ */
/* Turns                                                                     */

static void ask_free(serve_ask *a)
{
  free(a->call_id), free(a->tool), free(a->reason), free(a->rule);
  cJSON_Delete(a->arguments);
  free(a);
}

/* What an ask's event and its listing both say. */
static void ask_fields(cJSON *o, const serve_ask *a)
{
  cJSON_AddStringToObject(o, "id", a->call_id);
  cJSON_AddStringToObject(o, "tool", a->tool);
  cJSON_AddItemToObject(o, "arguments", a->arguments
                                            ? cJSON_Duplicate(a->arguments, 1)
                                            : cJSON_CreateNull());
  cJSON_AddStringToObject(o, "reason", a->reason);
  cJSON_AddStringToObject(o, "rule", a->rule);
}

static void asks_deny(serve_session *ss)
{
  while (ss->asks) {
    serve_ask *a = ss->asks;
    ss->asks = a->next;
    a->answer(a->token, PT_AGENT_DENY);
    ask_free(a);
  }
}

static void on_event(void *ud, const pt_chat_event *ev)
{
  serve_session *ss = ud;
  pt__chat_agent_rec_event(&ss->saving, ev);
  cJSON *arr = cJSON_CreateArray();
  if (arr && pt_event_to_json(ev, &ss->price, arr) == 0) {
    while (cJSON_GetArraySize(arr) > 0)
      serve_session_emit(ss, cJSON_DetachItemFromArray(arr, 0));
  }
  cJSON_Delete(arr);
}

static void on_agent_event(void *ud, const cJSON *ev)
{
  serve_session_emit(ud, cJSON_Duplicate(ev, 1));
}

static void on_ask(void *ud, const pt_agent_ask_request *req,
                   void (*answer)(void *token, pt_agent_answer a),
                   void *token)
{
  serve_session *ss = ud;
  serve_ask *a = calloc(1, sizeof *a);
  if (!a) {
    answer(token, PT_AGENT_DENY);
    return;
  }
  a->ss = ss;
  a->call_id = strdup(req->id);
  a->tool = strdup(req->tool);
  a->reason = strdup(req->reason ? req->reason : "");
  a->rule = strdup(req->rule ? req->rule : "");
  a->arguments = cJSON_Parse(req->args_json);
  a->created_ms = (int64_t)serve_now_ms();
  a->answer = answer;
  a->token = token;
  serve_ask **tail = &ss->asks;
  while (*tail) tail = &(*tail)->next;
  *tail = a;
  cJSON *ev = event("permission_request");
  ask_fields(ev, a);
  serve_session_emit(ss, ev);
}

static void on_done(void *ud, const pt_agent_result *r)
{
  serve_session *ss = ud;
  ss->running = NULL;
  pt__chat_agent_rec_end(&ss->saving, r, r->message);
  asks_deny(ss);
  cJSON *ev = event("turn_end");
  cJSON_AddNumberToObject(ev, "turn_id", (double)ss->turn_id);
  cJSON_AddStringToObject(ev, "stop_reason", pt_agent_stop_name(r->stop));
  if (r->status != PT_OK) {
    cJSON_AddStringToObject(ev, "error", pt_errname(r->status));
  }
  cJSON_AddStringToObject(ev, "message", r->message ? r->message : "");
  cJSON_AddNumberToObject(ev, "model_calls", r->model_calls);
  cJSON_AddNumberToObject(ev, "tool_calls", r->tool_calls);
  cJSON *u = cJSON_AddObjectToObject(ev, "usage");
  cJSON_AddNumberToObject(u, "input_tokens", (double)r->input_tokens);
  cJSON_AddNumberToObject(u, "output_tokens", (double)r->output_tokens);
  cJSON_AddNumberToObject(u, "cache_read_tokens",
                          (double)r->cache_read_tokens);
  cJSON_AddNumberToObject(u, "cache_write_tokens",
                          (double)r->cache_write_tokens);
  cJSON_AddNumberToObject(u, "cost_usd", r->cost_usd);
  ss->turn_id = 0;
  serve_session_emit(ss, ev);
  pt_store_flush(ss->sv->st);
  /* A session's log would otherwise grow by every streamed fragment for
   * ever; its history stays whole in its messages. */
  int64_t keep = ss->sv->event_log_keep;
  if (keep > 0 && ss->seq > keep &&
      pt_store_events_trim(ss->sv->st, ss->id, ss->seq - keep) != PT_OK)
    pt_log_warn("serve", "trimming the event log of %s: %s", ss->id,
                pt_store_errmsg(ss->sv->st));
}

int32_t serve_session_prompt(serve_session *ss, const cJSON *content,
                             int64_t *turn_id, char *err, size_t errlen)
{
  if (ss->running) {
    snprintf(err, errlen, "a turn of this session is running; wait for its "
                          "turn_end event or cancel it");
    return PT_EBUSY;
  }
  int32_t rc = prepare(ss, err, errlen);
  if (rc != PT_OK) return rc;
  cJSON *user = cJSON_CreateObject();
  cJSON_AddStringToObject(user, "role", "user");
  cJSON_AddItemToObject(user, "content", cJSON_Duplicate(content, 1));
  int before = cJSON_GetArraySize(ss->messages);
  cJSON_AddItemToArray(ss->messages, user);
  pt_chat_record_begin(&ss->rec, ss->provider, ss->model, &ss->price,
                       ss->system, user);
  pt__chat_agent_rec_init(&ss->saving, &ss->rec, ss->messages);
  ss->turn_id = ss->rec.turn;
  cJSON *ev = event("turn_start");
  cJSON_AddNumberToObject(ev, "turn_id", (double)ss->turn_id);
  cJSON_AddItemToObject(ev, "message", cJSON_Duplicate(user, 1));
  serve_session_emit(ss, ev);

  cJSON *extra = NULL;
  if (ss->max_tokens > 0) {
    extra = cJSON_CreateObject();
    cJSON_AddNumberToObject(extra, "max_tokens", (double)ss->max_tokens);
  }
  pt_agent_options o = {
    .provider = ss->provider, .model = ss->model, .system = ss->system,
    .messages = ss->messages, .tools = (const char *const *)ss->agent.tools,
    .tool_count = ss->agent.tool_count, .policy = ss->agent.policy,
    .workspace = ss->agent.workspace, .session = ss->id,
    .max_turns = ss->agent.max_turns, .extra_request = extra,
    .ask = on_ask, .ask_ud = ss,
    .max_tokens_total = ss->agent.max_tokens_total,
    .max_cost_usd = ss->agent.max_cost_usd, .price = &ss->price,
    .store = ss->sv->st, .turn_id = ss->turn_id };
  pt_agent_sink sink = { .on_event = on_event,
                         .on_agent_event = on_agent_event,
                         .on_done = on_done, .ud = ss };
  char why[1024] = "";
  rc = pt_agent_turn(ss->sv->k, &o, &sink, &ss->running, why, sizeof why);
  cJSON_Delete(extra);
  *turn_id = ss->turn_id;
  if (rc != PT_OK) {
    ss->running = NULL;
    pt_chat_record_end(&ss->rec, rc, PT_STOP_ERROR, why);
    while (cJSON_GetArraySize(ss->messages) > before)
      cJSON_DeleteItemFromArray(ss->messages,
                                cJSON_GetArraySize(ss->messages) - 1);
    snprintf(err, errlen, "%s", why[0] ? why : pt_strerror(rc));
    ev = event("turn_end");
    cJSON_AddNumberToObject(ev, "turn_id", (double)ss->turn_id);
    cJSON_AddStringToObject(ev, "stop_reason", "error");
    cJSON_AddStringToObject(ev, "error", pt_errname(rc));
    cJSON_AddStringToObject(ev, "message", err);
    ss->turn_id = 0;
    serve_session_emit(ss, ev);
    return rc;
  }
  return PT_OK;
}

int serve_session_cancel(serve_session *ss)
{
  if (!ss->running) return 0;
  /* Cancel first: the turn then takes its pending asks as cancelled, and
   * the answers below only release them (the agent ignores them). */
  pt_agent_cancel(ss->running);
  asks_deny(ss);
  return 1;
}

int32_t serve_session_answer(serve_session *ss, const char *call_id,
                             const char *answer)
{
  pt_agent_answer a;
  if (!strcmp(answer, "allow_once")) a = PT_AGENT_ALLOW_ONCE;
  else if (!strcmp(answer, "allow_always")) a = PT_AGENT_ALLOW_ALWAYS;
  else if (!strcmp(answer, "deny")) a = PT_AGENT_DENY;
  else if (!strcmp(answer, "deny_always")) a = PT_AGENT_DENY_ALWAYS;
  else return PT_EINVAL;
  for (serve_ask **p = &ss->asks; *p; p = &(*p)->next) {
    serve_ask *ask = *p;
    if (strcmp(ask->call_id, call_id) != 0) continue;
    *p = ask->next;
    ask->answer(ask->token, a);
    ask_free(ask);
    return PT_OK;
  }
  return PT_ENOENT;
}

static cJSON *ask_json(const serve_ask *a)
{
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "session_id", a->ss->id);
  ask_fields(o, a);
  return o;
}

cJSON *serve_asks_json(pt_serve *sv, serve_session *only)
{
  cJSON *arr = cJSON_CreateArray();
  for (serve_session *ss = sv->sessions; ss; ss = ss->next) {
    if (only && ss != only) continue;
    for (serve_ask *a = ss->asks; a; a = a->next)
      cJSON_AddItemToArray(arr, ask_json(a));
  }
  return arr;
}

int32_t serve_session_delete(serve_session *ss)
{
  pt_serve *sv = ss->sv;
  if (ss->running) return PT_EBUSY;
  int32_t rc = pt_store_session_delete(sv->st, ss->id);
  if (rc != PT_OK && rc != PT_ENOENT) return rc;
  char key[128];
  setting_key(ss->id, key, sizeof key);
  pt_store_setting_set(sv->st, key, NULL);
  ss->deleted = 1;
  /* The log went with the session, so this last event is sent but not
   * stored; SSE clients are closed after it, WebSocket ones unsubscribed. */
  serve_session_emit(ss, event("session_deleted"));
  while (ss->subs) {
    serve_stream *s = ss->subs->stream;
    serve_unsubscribe(s, ss);
    if (s->kind == SERVE_SSE) serve_stream_finish(s);
  }
  if (ss->rec_open) {
    pt_chat_record_close(&ss->rec);
    ss->rec_open = 0;
  }
  return rc;
}

int serve_sessions_running(const pt_serve *sv)
{
  int n = 0;
  for (const serve_session *ss = sv->sessions; ss; ss = ss->next)
    n += ss->running != NULL;
  return n;
}

int serve_sessions_cancel_all(pt_serve *sv)
{
  int n = 0;
  for (serve_session *ss = sv->sessions; ss; ss = ss->next)
    n += serve_session_cancel(ss);
  return n;
}

/* After the loop has closed every record's handle. */
void serve_sessions_free(pt_serve *sv)
{
  while (sv->sessions) {
    serve_session *ss = sv->sessions;
    sv->sessions = ss->next;
    pt__chat_agent_free(&ss->agent);
    cJSON_Delete(ss->messages);
    cJSON_Delete(ss->options);
    free(ss->provider), free(ss->model), free(ss->system);
    free(ss->agent_name);
    free(ss);
  }
}
