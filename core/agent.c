/*
 * core/agent.c: the agent loop's model calls: building each request,
 * collecting the streamed answer into an assistant message, deciding what
 * comes next, and ending the turn once. The tool calls are agent_tools.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent_int.h"
#include "portico/errors.h"

#define AGENT_DEFAULT_MAX_TURNS 25

const char *pt_agent_stop_name(pt_agent_stop s)
{
  switch (s) {
  case PT_AGENT_END_TURN: return "end_turn";
  case PT_AGENT_MAX_TURNS: return "max_turns";
  case PT_AGENT_MAX_TOKENS: return "max_tokens";
  case PT_AGENT_STOP_SEQUENCE: return "stop_sequence";
  case PT_AGENT_REFUSAL: return "refusal";
  case PT_AGENT_CANCELLED: return "cancelled";
  case PT_AGENT_ERROR: return "error";
  case PT_AGENT_BUDGET: return "budget";
  }
  return "error";
}

static void agent_free(pt_agent *a)
{
  if (!a) return;
  pt__agent_free_calls(a);
  for (size_t i = 0; i < a->tool_count; i++) {
    free(a->tools[i].name);
    free(a->tools[i].schema_text);
    pt_json_schema_free(a->tools[i].schema);
  }
  free(a->tools);
  cJSON_Delete(a->tools_json);
  cJSON_Delete(a->extra);
  cJSON_Delete(a->parts);
  free(a->buf);
  free(a->provider);
  free(a->model);
  free(a->system);
  free(a->workspace);
  free(a->session);
  free(a->context);
  free(a);
}

/* End the turn: the one on_done, then the handle is gone. */
static void finish(pt_agent *a, pt_agent_stop stop, int32_t status,
                   const char *message)
{
  a->res.stop = stop;
  a->res.status = status;
  a->res.message = message ? message : "";
  a->res.store_error = a->store_error;
  a->sink.on_done(a->sink.ud, &a->res);
  agent_free(a);
}

/* ---- Collecting the answer ---------------------------------------------- */

static int buf_add(pt_agent *a, pt_str s)
{
  if (a->buf_len + s.len + 1 > a->buf_cap) {
    size_t cap = a->buf_cap ? a->buf_cap : 256;
    while (cap < a->buf_len + s.len + 1) cap *= 2;
    char *p = realloc(a->buf, cap);
    if (!p) return PT_ENOMEM;
    a->buf = p;
    a->buf_cap = cap;
  }
  if (s.len) memcpy(a->buf + a->buf_len, s.ptr, s.len);
  a->buf_len += s.len;
  a->buf[a->buf_len] = '\0';
  return PT_OK;
}

/* Close the text or thinking part being collected (a thinking part gets
 * `signature` when given). */
static void flush_part(pt_agent *a, const pt_str *signature)
{
  if (!a->buf_kind) return;
  cJSON *p = cJSON_CreateObject();
  if (p) {
    int thinking = a->buf_kind == PT_EV_THINKING;
    cJSON_AddStringToObject(p, "type", thinking ? "thinking" : "text");
    cJSON_AddStringToObject(p, "text", a->buf ? a->buf : "");
    if (thinking && signature) {
      char *sig = strndup(signature->ptr ? signature->ptr : "",
                          signature->len);
      if (sig) cJSON_AddStringToObject(p, "signature", sig);
      free(sig);
    }
    cJSON_AddItemToArray(a->parts, p);
  }
  a->buf_kind = 0;
  a->buf_len = 0;
  if (a->buf) a->buf[0] = '\0';
}

static char *dup_str(pt_str s)
{
  return strndup(s.ptr ? s.ptr : "", s.len);
}

static void add_tool_call(pt_agent *a, const pt_chat_event *ev)
{
  flush_part(a, NULL);
  cJSON *p = cJSON_CreateObject();
  char *id = dup_str(ev->id), *name = dup_str(ev->name);
  cJSON *args = cJSON_ParseWithLength(ev->json.ptr ? ev->json.ptr : "",
                                      ev->json.len);
  if (!args) {
    /* Not JSON: kept as a string so the call can be refused with why. */
    char *raw = dup_str(ev->json);
    args = cJSON_CreateString(raw ? raw : "");
    free(raw);
  }
  if (p && id && name && args) {
    cJSON_AddStringToObject(p, "type", "tool_call");
    cJSON_AddStringToObject(p, "id", id);
    cJSON_AddStringToObject(p, "name", name);
    cJSON_AddItemToObject(p, "arguments", args);
    cJSON_AddItemToArray(a->parts, p);
  } else {
    cJSON_Delete(p);
    cJSON_Delete(args);
  }
  free(id);
  free(name);
}

static void on_chat_done(pt_agent *a, const pt_chat_event *ev);

static void on_chat_event(void *ud, const pt_chat_event *ev)
{
  pt_agent *a = ud;
  if (a->sink.on_event) a->sink.on_event(a->sink.ud, ev);
  switch (ev->kind) {
  case PT_EV_TEXT:
  case PT_EV_THINKING:
    if (a->buf_kind != (int)ev->kind) flush_part(a, NULL);
    a->buf_kind = (int)ev->kind;
    buf_add(a, ev->text);
    break;
  case PT_EV_THINKING_SIGNATURE:
    if (a->buf_kind == PT_EV_THINKING) flush_part(a, &ev->text);
    break;
  case PT_EV_TOOL_CALL_END:
    add_tool_call(a, ev);
    break;
  case PT_EV_USAGE:
    a->usage[0] = ev->input_tokens;
    a->usage[1] = ev->output_tokens;
    a->usage[2] = ev->cache_read_tokens;
    a->usage[3] = ev->cache_write_tokens;
    break;
  case PT_EV_DONE:
    flush_part(a, NULL);
    a->chat_op = NULL;
    on_chat_done(a, ev);
    break;
  default:
    break;
  }
}

/* ---- Requests ----------------------------------------------------------- */

static char *build_request(pt_agent *a)
{
  cJSON *r = cJSON_CreateObject();
  if (!r) return NULL;
  if (a->extra)
    for (cJSON *m = a->extra->child; m; m = m->next)
      cJSON_AddItemReferenceToObject(r, m->string, m);
  cJSON_DeleteItemFromObjectCaseSensitive(r, "model");
  cJSON_AddStringToObject(r, "model", a->model);
  if (a->system && *a->system) {
    cJSON_DeleteItemFromObjectCaseSensitive(r, "system");
    cJSON_AddStringToObject(r, "system", a->system);
  }
  cJSON_DeleteItemFromObjectCaseSensitive(r, "messages");
  cJSON_AddItemReferenceToObject(r, "messages", a->messages);
  if (a->tool_count) {
    cJSON_DeleteItemFromObjectCaseSensitive(r, "tools");
    cJSON_AddItemReferenceToObject(r, "tools", a->tools_json);
  }
  char *text = cJSON_PrintUnformatted(r);
  cJSON_Delete(r);
  return text;
}

/* Whether the turn's budget is spent; then a->note says which. */
static int budget_spent(pt_agent *a)
{
  const pt_agent_result *r = &a->res;
  uint64_t used = r->input_tokens + r->output_tokens + r->cache_read_tokens +
                  r->cache_write_tokens;
  if (a->max_tokens_total && used >= a->max_tokens_total) {
    snprintf(a->note, sizeof a->note,
             "stopped: the token budget of %llu was reached (%llu tokens "
             "used by %d model calls)",
             (unsigned long long)a->max_tokens_total,
             (unsigned long long)used, r->model_calls);
    return 1;
  }
  if (a->max_cost_usd > 0 && r->cost_usd >= a->max_cost_usd) {
    snprintf(a->note, sizeof a->note,
             "stopped: the cost budget of $%.4f was reached ($%.4f spent by "
             "%d model calls)", a->max_cost_usd, r->cost_usd,
             r->model_calls);
    return 1;
  }
  return 0;
}

/* Start the next model call, or end the turn when it may not. Returns the
 * provider's refusal (the turn is then over unless `first`). */
static int32_t start_chat(pt_agent *a, int first)
{
  if (a->cancelled) {
    finish(a, PT_AGENT_CANCELLED, PT_ECANCELED, "cancelled");
    return PT_OK;
  }
  if (a->res.model_calls >= a->max_turns) {
    snprintf(a->note, sizeof a->note,
             "stopped: the turn limit of %d model calls was reached",
             a->max_turns);
    finish(a, PT_AGENT_MAX_TURNS, PT_OK, a->note);
    return PT_OK;
  }
  if (!first && budget_spent(a)) {
    finish(a, PT_AGENT_BUDGET, PT_OK, a->note);
    return PT_OK;
  }
  cJSON_Delete(a->parts);
  a->parts = cJSON_CreateArray();
  char *req = build_request(a);
  if (!a->parts || !req) {
    free(req);
    if (!first) finish(a, PT_AGENT_ERROR, PT_ENOMEM, "out of memory");
    return PT_ENOMEM;
  }
  memset(a->usage, 0, sizeof a->usage);
  a->buf_kind = 0;
  a->buf_len = 0;
  pt_op_sink s = { .on_event = on_chat_event, .ud = a };
  a->res.model_calls++;
  int32_t rc = pt_op_chat(a->k, a->provider, (pt_str){ req, strlen(req) },
                          a->context, &s, &a->chat_op);
  free(req);
  if (rc != PT_OK) {
    a->chat_op = NULL;
    if (!first) finish(a, PT_AGENT_ERROR, rc, pt_strerror(rc));
  }
  return rc;
}

/* Drop the tool_call parts of an answer whose calls will not run, so the
 * history never has a call without its result. */
static void drop_tool_calls(cJSON *parts)
{
  for (cJSON *p = parts ? parts->child : NULL, *next; p; p = next) {
    next = p->next;
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(p, "type");
    if (cJSON_IsString(t) && strcmp(t->valuestring, "tool_call") == 0)
      cJSON_Delete(cJSON_DetachItemViaPointer(parts, p));
  }
}

static void append_assistant(pt_agent *a)
{
  if (!a->parts || !cJSON_GetArraySize(a->parts)) return;
  cJSON *m = cJSON_CreateObject();
  if (!m) return;
  cJSON_AddStringToObject(m, "role", "assistant");
  cJSON_AddItemToObject(m, "content", a->parts);
  a->parts = NULL;
  cJSON_AddItemToArray(a->messages, m);
}

static pt_agent_stop map_stop(uint32_t stop)
{
  switch (stop) {
  case PT_STOP_MAX_TOKENS: return PT_AGENT_MAX_TOKENS;
  case PT_STOP_STOP_SEQUENCE: return PT_AGENT_STOP_SEQUENCE;
  case PT_STOP_REFUSAL: return PT_AGENT_REFUSAL;
  case PT_STOP_CANCELLED: return PT_AGENT_CANCELLED;
  case PT_STOP_ERROR: return PT_AGENT_ERROR;
  default: return PT_AGENT_END_TURN;
  }
}

static void on_chat_done(pt_agent *a, const pt_chat_event *ev)
{
  char *message = a->note;
  a->res.input_tokens += a->usage[0];
  a->res.output_tokens += a->usage[1];
  a->res.cache_read_tokens += a->usage[2];
  a->res.cache_write_tokens += a->usage[3];
  pt_chat_event u = { .kind = PT_EV_USAGE, .input_tokens = a->usage[0],
                      .output_tokens = a->usage[1],
                      .cache_read_tokens = a->usage[2],
                      .cache_write_tokens = a->usage[3] };
  a->res.cost_usd += pt_price_cost(&a->price, &u);

  size_t ncalls = 0;
  for (cJSON *p = a->parts ? a->parts->child : NULL; p; p = p->next) {
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(p, "type");
    if (cJSON_IsString(t) && strcmp(t->valuestring, "tool_call") == 0)
      ncalls++;
  }
  int tools = ev->status == PT_OK && ncalls &&
              (ev->stop == PT_STOP_TOOL_USE || ev->stop == PT_STOP_END_TURN);
  if (!tools) {
    drop_tool_calls(a->parts);
    if (ev->status == PT_OK || ev->stop == PT_STOP_CANCELLED)
      append_assistant(a);
    pt_agent_stop stop = ev->status == PT_ECANCELED || a->cancelled
                             ? PT_AGENT_CANCELLED
                         : ev->status != PT_OK ? PT_AGENT_ERROR
                                               : map_stop(ev->stop);
    if (ev->status != PT_OK)
      snprintf(message, sizeof a->note, "%.*s",
               ev->text.len ? (int)(ev->text.len > 400 ? 400 : ev->text.len)
                            : (int)strlen(pt_strerror(ev->status)),
               ev->text.len ? ev->text.ptr : pt_strerror(ev->status));
    else
      message[0] = '\0';
    finish(a, stop, ev->status, message);
    return;
  }

  /* The calls, in the order of the answer; then the message goes in. */
  a->calls = calloc(ncalls, sizeof *a->calls);
  if (!a->calls) {
    drop_tool_calls(a->parts);
    append_assistant(a);
    finish(a, PT_AGENT_ERROR, PT_ENOMEM, "out of memory");
    return;
  }
  size_t n = 0;
  for (cJSON *p = a->parts->child; p; p = p->next) {
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(p, "type");
    if (!cJSON_IsString(t) || strcmp(t->valuestring, "tool_call") != 0)
      continue;
    agent_call *c = &a->calls[n++];
    c->a = a;
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(p, "id");
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(p, "name");
    const cJSON *args = cJSON_GetObjectItemCaseSensitive(p, "arguments");
    c->id = strdup(cJSON_IsString(id) ? id->valuestring : "");
    c->name = strdup(cJSON_IsString(name) ? name->valuestring : "");
    c->args = cJSON_IsObject(args) ? cJSON_Duplicate(args, 1) : NULL;
    c->args_text = c->args ? cJSON_PrintUnformatted(c->args)
                           : (cJSON_IsString(args) ? strdup(args->valuestring)
                                                   : strdup(""));
    for (size_t i = 0; i < a->tool_count; i++)
      if (c->name && strcmp(a->tools[i].name, c->name) == 0)
        c->tool = &a->tools[i];
  }
  a->call_count = n;
  append_assistant(a);
  pt__agent_run_calls(a);
}

void pt__agent_calls_done(pt_agent *a)
{
  cJSON *m = cJSON_CreateObject(), *content = cJSON_CreateArray();
  if (m && content) {
    cJSON_AddStringToObject(m, "role", "tool");
    for (size_t i = 0; i < a->call_count; i++) {
      agent_call *c = &a->calls[i];
      cJSON *r = cJSON_CreateObject();
      if (!r) continue;
      cJSON_AddStringToObject(r, "type", "tool_result");
      cJSON_AddStringToObject(r, "tool_call_id", c->id ? c->id : "");
      cJSON_AddStringToObject(r, "content", c->content ? c->content : "");
      cJSON_AddBoolToObject(r, "is_error", c->is_error);
      cJSON_AddItemToArray(content, r);
    }
    cJSON_AddItemToObject(m, "content", content);
    cJSON_AddItemToArray(a->messages, m);
    a->res.tool_calls += (int)a->call_count;
  } else {
    cJSON_Delete(m);
    cJSON_Delete(content);
    pt__agent_free_calls(a);
    finish(a, PT_AGENT_ERROR, PT_ENOMEM, "out of memory");
    return;
  }
  pt__agent_free_calls(a);
  start_chat(a, 0);
}

/* ---- The turn ----------------------------------------------------------- */

static int32_t setup_tools(pt_agent *a, const pt_agent_options *o, char *err,
                           size_t errlen)
{
  a->tools_json = cJSON_CreateArray();
  a->tools = o->tool_count ? calloc(o->tool_count, sizeof *a->tools) : NULL;
  if (!a->tools_json || (o->tool_count && !a->tools)) return PT_ENOMEM;
  for (size_t i = 0; i < o->tool_count; i++) {
    const pt_tool_entry *e = pt_registry_tool(&a->k->registry, o->tools[i]);
    if (!e) {
      snprintf(err, errlen, "no tool named \"%.100s\" is loaded",
               o->tools[i]);
      return PT_ENOENT;
    }
    agent_tool *t = &a->tools[a->tool_count++];
    t->name = strdup(e->vt->name);
    t->flags = e->vt->flags;
    const char *st = e->vt->input_schema ? e->vt->input_schema : "{}";
    t->schema_text = strdup(st);
    cJSON *schema = cJSON_Parse(st);
    if (!t->name || !t->schema_text) {
      cJSON_Delete(schema);
      return PT_ENOMEM;
    }
    char why[256] = "";
    int32_t rc = schema ? pt_json_schema_compile(schema, &t->schema, why,
                                                 sizeof why)
                        : PT_EINVAL;
    if (rc != PT_OK) {
      cJSON_Delete(schema);
      snprintf(err, errlen, "tool %.100s: its input schema is not valid: "
               "%.200s", t->name, schema ? why : "not JSON");
      return rc;
    }
    cJSON *d = cJSON_CreateObject();
    if (!d) {
      cJSON_Delete(schema);
      return PT_ENOMEM;
    }
    cJSON_AddStringToObject(d, "name", t->name);
    cJSON_AddStringToObject(d, "description",
                            e->vt->description ? e->vt->description : "");
    cJSON_AddItemToObject(d, "input_schema", schema);
    cJSON_AddItemToArray(a->tools_json, d);
  }
  return PT_OK;
}

static char *opt_dup(const char *s)
{
  return s ? strdup(s) : NULL;
}

int32_t pt_agent_turn(pt_kernel *k, const pt_agent_options *o,
                      const pt_agent_sink *sink, pt_agent **out, char *err,
                      size_t errlen)
{
  char dummy[8];
  if (!err || !errlen) {
    err = dummy;
    errlen = sizeof dummy;
  }
  err[0] = '\0';
  if (out) *out = NULL;
  if (!k || !o || !sink || !sink->on_done || !o->provider || !o->model ||
      !cJSON_IsArray(o->messages) || (o->tool_count && !o->tools) ||
      (o->extra_request && !cJSON_IsObject(o->extra_request))) {
    snprintf(err, errlen, "agent: missing or malformed options");
    return PT_EINVAL;
  }
  pt_agent *a = calloc(1, sizeof *a);
  if (!a) return PT_ENOMEM;
  a->k = k;
  a->sink = *sink;
  a->messages = o->messages;
  a->policy = o->policy;
  a->ask = o->ask;
  a->ask_ud = o->ask_ud;
  a->max_turns = o->max_turns > 0 ? o->max_turns : AGENT_DEFAULT_MAX_TURNS;
  a->max_tokens_total = o->max_tokens_total;
  a->max_cost_usd = o->max_cost_usd;
  if (o->price) a->price = *o->price;
  a->store = o->session ? o->store : NULL;
  a->turn_id = o->turn_id;
  a->provider = strdup(o->provider);
  a->model = strdup(o->model);
  a->system = opt_dup(o->system);
  a->workspace = opt_dup(o->workspace);
  a->session = opt_dup(o->session);
  a->extra = o->extra_request ? cJSON_Duplicate(o->extra_request, 1) : NULL;
  cJSON *ctx = cJSON_CreateObject();
  if (ctx) {
    if (a->workspace) cJSON_AddStringToObject(ctx, "workspace", a->workspace);
    if (a->session) cJSON_AddStringToObject(ctx, "session", a->session);
    a->context = cJSON_PrintUnformatted(ctx);
    cJSON_Delete(ctx);
  }
  int32_t rc = PT_ENOMEM;
  if (!a->provider || !a->model || (o->system && !a->system) ||
      (o->workspace && !a->workspace) || (o->session && !a->session) ||
      (o->extra_request && !a->extra) || !a->context ||
      (rc = setup_tools(a, o, err, errlen)) != PT_OK ||
      (rc = start_chat(a, 1)) != PT_OK) {
    if (!err[0])
      snprintf(err, errlen, "agent: cannot start on provider %.100s: %s",
               o->provider, pt_strerror(rc));
    agent_free(a);
    return rc;
  }
  if (out) *out = a;
  return PT_OK;
}

void pt_agent_cancel(pt_agent *a)
{
  if (!a || a->cancelled) return;
  a->cancelled = 1;
  if (a->chat_op) {
    pt_op_cancel(a->chat_op);
    return;
  }
  pt__agent_cancel_calls(a);
}
