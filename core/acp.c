/*
 * core/acp.c: `portico acp` — the command, its sessions and the methods
 * (see acp.h and docs/acp.md).
 */
#include "acp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "log.h"

#define PROTOCOL_VERSION 1

static const char acp_help[] =
    "usage: portico acp [-p|--provider NAME] [-m|--model MODEL]\n"
    "                   [--system TEXT] [--max-tokens N] [--agent NAME]\n"
    "                   [--tools LIST] [--policy FILE] [--max-turns N]\n"
    "\n"
    "Speak the Agent Client Protocol (v1) on stdin and stdout: JSON-RPC 2.0,\n"
    "one message per line, for editors that run an ACP agent. stdout carries\n"
    "protocol messages only; logs go to stderr. Each session works in the\n"
    "cwd its client names and is saved like a chat (docs/acp.md).\n"
    "\n"
    "  -p, --provider NAME  provider id (default as for chat)\n"
    "  -m, --model MODEL    model id (default as for chat)\n"
    "  --system TEXT        system prompt\n"
    "  --max-tokens N       longest reply, in tokens\n"
    "  --agent NAME         a profile from config.lua's agents table\n"
    "  --tools LIST         tools the model may call (ids or plugin names)\n"
    "  --policy FILE        the permission policy; its asks go to the client\n"
    "  --max-turns N        model calls per prompt at most (default 25)\n"
    "\n";

/* ------------------------------------------------------------------------ */
/* Sessions                                                                  */

static acp_session *find_session(acp *a, const char *id)
{
  for (acp_session *s = a->sessions; s; s = s->next)
    if (!strcmp(s->id, id)) return s;
  return NULL;
}

static acp_session *session_param(acp *a, const cJSON *id,
                                  const cJSON *params)
{
  const char *sid = cJSON_GetStringValue(
      cJSON_GetObjectItemCaseSensitive(params, "sessionId"));
  if (!sid) {
    if (id) acp_error(a, id, ACP_INVALID_PARAMS,
                      "Invalid params: sessionId must be a string");
    return NULL;
  }
  acp_session *s = find_session(a, sid);
  if (!s && id)
    acp_error(a, id, ACP_NOT_FOUND, "Resource not found: no session %.80s "
                                    "(session/new or session/load first)",
              sid);
  return s;
}

/* A session for `cwd`, with its record opened on `stored` (NULL: new). */
static acp_session *open_session(acp *a, const cJSON *id, const char *cwd,
                                 const char *stored)
{
  acp_session *s = calloc(1, sizeof *s);
  if (!s) {
    acp_error(a, id, ACP_INTERNAL_ERROR, "Internal error: out of memory");
    return NULL;
  }
  s->a = a;
  s->next = a->sessions;
  a->sessions = s;   /* freed at exit: the record holds a libuv handle */
  int32_t rc = pt_chat_record_open(&s->rec, a->k, stored);
  s->rec_open = 1;
  if (rc == PT_ENOENT && stored) {
    acp_error(a, id, ACP_NOT_FOUND, "Resource not found: no stored session "
                                    "%.80s", stored);
    return NULL;
  }
  if (rc != PT_OK) {
    acp_error(a, id, ACP_INTERNAL_ERROR, "Internal error: the store: %s",
              pt_strerror(rc));
    return NULL;
  }
  pt_chat_agent_flags f = a->flags;
  f.workspace = cwd;
  if (pt__chat_agent_setup(&s->agent, a->k, &f, s->rec.st) != 0) {
    acp_error(a, id, ACP_INVALID_PARAMS, "Invalid params: cannot work in "
                                         "cwd %.200s (see stderr)", cwd);
    return NULL;
  }
  if (stored) {
    const char *system = NULL;
    if (pt_chat_record_history(&s->rec, &s->messages, &system) != PT_OK) {
      acp_error(a, id, ACP_INTERNAL_ERROR, "Internal error: reading the "
                                           "session");
      return NULL;
    }
    s->system = system ? strdup(system) : NULL;
  } else {
    s->messages = cJSON_CreateArray();
    pt_store_session_info info = {
      .agent = a->agent_name, .provider = a->provider, .model = a->model,
      .workspace = s->agent.workspace, .title = "ACP session" };
    if (pt_store_session_create(s->rec.st, &info, s->rec.session) != PT_OK) {
      acp_error(a, id, ACP_INTERNAL_ERROR, "Internal error: the store: %s",
                pt_store_errmsg(s->rec.st));
      return NULL;
    }
  }
  if (a->system) {
    free(s->system);
    s->system = strdup(a->system);
  }
  snprintf(s->id, sizeof s->id, "%s", s->rec.session);
  return s;
}

static void free_sessions(acp *a)
{
  while (a->sessions) {
    acp_session *s = a->sessions;
    a->sessions = s->next;
    pt__chat_agent_free(&s->agent);
    cJSON_Delete(s->messages);
    cJSON_Delete(s->prompt_id);
    cJSON_Delete(s->calls);
    free(s->system);
    free(s);
  }
}

/* stdin ended: the client is gone, so no one will answer a permission
 * request or read a reply. Cancel the turns still running; once none runs
 * (each ending calls back here), close everything and stop the loop. */
void acp_maybe_stop(acp *a)
{
  if (!a->eof || a->closing) return;
  int running = 0;
  for (acp_session *s = a->sessions; s; s = s->next) {
    if (!s->running) continue;
    running = 1;
    s->cancelled = 1;
    pt_agent_cancel(s->running);
  }
  if (running) {
    /* Requests to the client get no answer now: end them as cancelled. */
    acp_drop_pending(a);
    return;
  }
  a->closing = 1;
  acp_drop_pending(a);
  for (acp_session *s = a->sessions; s; s = s->next)
    if (s->rec_open) {
      pt_chat_record_close(&s->rec);
      s->rec_open = 0;
    }
  acp_io_close(a);
  pt_kernel_stop(a->k);
}

/* ------------------------------------------------------------------------ */
/* Methods                                                                   */

static void m_initialize(acp *a, const cJSON *id, const cJSON *params)
{
  const cJSON *v =
      cJSON_GetObjectItemCaseSensitive(params, "protocolVersion");
  if (!cJSON_IsNumber(v)) {
    acp_error(a, id, ACP_INVALID_PARAMS,
              "Invalid params: protocolVersion must be a number");
    return;
  }
  a->initialized = 1;
  cJSON *r = cJSON_CreateObject();
  /* The client's version when we speak it, else the latest we do. */
  cJSON_AddNumberToObject(r, "protocolVersion", PROTOCOL_VERSION);
  cJSON *caps = cJSON_AddObjectToObject(r, "agentCapabilities");
  cJSON_AddBoolToObject(caps, "loadSession", 1);
  cJSON *pc = cJSON_AddObjectToObject(caps, "promptCapabilities");
  cJSON_AddBoolToObject(pc, "image", 0);
  cJSON_AddBoolToObject(pc, "audio", 0);
  cJSON_AddBoolToObject(pc, "embeddedContext", 1);
  cJSON *mc = cJSON_AddObjectToObject(caps, "mcpCapabilities");
  cJSON_AddBoolToObject(mc, "http", 0);
  cJSON_AddBoolToObject(mc, "sse", 0);
  cJSON_AddArrayToObject(r, "authMethods");
  cJSON *info = cJSON_AddObjectToObject(r, "agentInfo");
  cJSON_AddStringToObject(info, "name", "portico");
  cJSON_AddStringToObject(info, "title", "Portico");
  cJSON_AddStringToObject(info, "version", PORTICO_VERSION);
  acp_result(a, id, r);
}

static const char *cwd_param(acp *a, const cJSON *id, const cJSON *params)
{
  const char *cwd =
      cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(params, "cwd"));
  const cJSON *mcp = cJSON_GetObjectItemCaseSensitive(params, "mcpServers");
  if (!cwd || cwd[0] != '/') {
    acp_error(a, id, ACP_INVALID_PARAMS,
              "Invalid params: cwd must be an absolute path");
    return NULL;
  }
  if (mcp && !cJSON_IsArray(mcp)) {
    acp_error(a, id, ACP_INVALID_PARAMS,
              "Invalid params: mcpServers must be an array");
    return NULL;
  }
  if (cJSON_GetArraySize(mcp) > 0)
    pt_log(PT_LOG_WARN, "acp", "mcpServers are not supported; ignored");
  return cwd;
}

static void m_session_new(acp *a, const cJSON *id, const cJSON *params)
{
  const char *cwd = cwd_param(a, id, params);
  acp_session *s = cwd ? open_session(a, id, cwd, NULL) : NULL;
  if (!s) return;
  cJSON *r = cJSON_CreateObject();
  cJSON_AddStringToObject(r, "sessionId", s->id);
  acp_result(a, id, r);
}

static void m_session_load(acp *a, const cJSON *id, const cJSON *params)
{
  const char *sid = cJSON_GetStringValue(
      cJSON_GetObjectItemCaseSensitive(params, "sessionId"));
  const char *cwd = cwd_param(a, id, params);
  if (!cwd) return;
  if (!sid) {
    acp_error(a, id, ACP_INVALID_PARAMS,
              "Invalid params: sessionId must be a string");
    return;
  }
  acp_session *s = find_session(a, sid);
  if (s && s->running) {
    acp_error(a, id, ACP_INVALID_REQUEST, "Invalid Request: the session "
                                          "has a prompt turn running");
    return;
  }
  if (!s && !(s = open_session(a, id, cwd, sid))) return;
  acp_replay(s);
  acp_result(a, id, cJSON_CreateObject());
}

/* The prompt's content blocks as the user's text. NULL after an error. */
static char *prompt_text(acp *a, const cJSON *id, const cJSON *prompt)
{
  if (!cJSON_IsArray(prompt)) {
    acp_error(a, id, ACP_INVALID_PARAMS,
              "Invalid params: prompt must be an array of content blocks");
    return NULL;
  }
  size_t len = 0;
  char *text = calloc(1, 1);
  const cJSON *b;
  cJSON_ArrayForEach(b, prompt) {
    const char *type =
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(b, "type"));
    const char *t = NULL;
    char link[2048];
    if (type && !strcmp(type, "text")) {
      t = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(b, "text"));
    } else if (type && !strcmp(type, "resource_link")) {
      const char *uri =
          cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(b, "uri"));
      snprintf(link, sizeof link, "[%.2000s]", uri ? uri : "");
      t = uri ? link : NULL;
    } else if (type && !strcmp(type, "resource")) {
      const cJSON *r = cJSON_GetObjectItemCaseSensitive(b, "resource");
      t = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "text"));
    }
    if (!t) {
      acp_error(a, id, ACP_INVALID_PARAMS, "Invalid params: unsupported "
                                           "content block '%.40s'",
                type ? type : "?");
      free(text);
      return NULL;
    }
    size_t n = strlen(t);
    char *p = text ? realloc(text, len + n + 2) : NULL;
    if (!p) {
      free(text);
      acp_error(a, id, ACP_INTERNAL_ERROR, "Internal error: out of memory");
      return NULL;
    }
    text = p;
    if (len) text[len++] = '\n';
    memcpy(text + len, t, n + 1);
    len += n;
  }
  if (!len) {
    free(text);
    acp_error(a, id, ACP_INVALID_PARAMS, "Invalid params: the prompt is "
                                         "empty");
    return NULL;
  }
  return text;
}

static void m_session_prompt(acp *a, const cJSON *id, const cJSON *params)
{
  acp_session *s = session_param(a, id, params);
  if (!s) return;
  if (s->running) {
    acp_error(a, id, ACP_INVALID_REQUEST, "Invalid Request: a prompt turn "
                                          "is already running");
    return;
  }
  char *text = prompt_text(
      a, id, cJSON_GetObjectItemCaseSensitive(params, "prompt"));
  if (!text) return;
  cJSON *user = cJSON_CreateObject();
  cJSON_AddStringToObject(user, "role", "user");
  cJSON_AddStringToObject(user, "content", text);
  free(text);
  int before = cJSON_GetArraySize(s->messages);
  cJSON_AddItemToArray(s->messages, user);
  pt_chat_record_begin(&s->rec, a->provider, a->model, &a->price, s->system,
                       user);
  pt__chat_agent_rec_init(&s->saving, &s->rec, s->messages);
  cJSON_Delete(s->calls);
  s->calls = cJSON_CreateObject();
  s->cancelled = 0;
  cJSON *extra = NULL;
  if (a->max_tokens > 0) {
    extra = cJSON_CreateObject();
    cJSON_AddNumberToObject(extra, "max_tokens", (double)a->max_tokens);
  }
  pt_agent_options o = {
    .provider = a->provider, .model = a->model, .system = s->system,
    .messages = s->messages, .tools = (const char *const *)s->agent.tools,
    .tool_count = s->agent.tool_count, .policy = s->agent.policy,
    .workspace = s->agent.workspace, .session = s->id,
    .max_turns = s->agent.max_turns, .extra_request = extra,
    .ask = acp_on_ask, .ask_ud = s,
    .max_tokens_total = s->agent.max_tokens_total,
    .max_cost_usd = s->agent.max_cost_usd, .price = &a->price,
    .store = s->rec.st, .turn_id = s->rec.turn };
  pt_agent_sink sink = { .on_event = acp_on_event,
                         .on_agent_event = acp_on_agent_event,
                         .on_done = acp_on_done, .ud = s };
  char err[1024] = "";
  s->prompt_id = cJSON_Duplicate(id, 1);
  int32_t rc = pt_agent_turn(a->k, &o, &sink, &s->running, err, sizeof err);
  cJSON_Delete(extra);
  if (rc != PT_OK) {
    s->running = NULL;
    pt_chat_record_end(&s->rec, rc, PT_STOP_ERROR, err);
    while (cJSON_GetArraySize(s->messages) > before)
      cJSON_DeleteItemFromArray(s->messages,
                                cJSON_GetArraySize(s->messages) - 1);
    acp_error(a, id, ACP_INTERNAL_ERROR, "Internal error: %.900s",
              err[0] ? err : pt_strerror(rc));
    cJSON_Delete(s->prompt_id);
    s->prompt_id = NULL;
  }
}

static void m_session_cancel(acp *a, const cJSON *params)
{
  acp_session *s = session_param(a, NULL, params);
  if (!s || !s->running) return;
  s->cancelled = 1;
  acp_asks_deny(a, s);
  pt_agent_cancel(s->running);
}

void acp_dispatch(acp *a, const char *method, const cJSON *id,
                  const cJSON *params)
{
  int notification = id == NULL;
  if (!strcmp(method, "session/cancel")) {
    m_session_cancel(a, params);
    return;
  }
  if (notification) {
    pt_log(PT_LOG_INFO, "acp", "notification %.80s ignored", method);
    return;
  }
  if (params && !cJSON_IsObject(params)) {
    acp_error(a, id, ACP_INVALID_PARAMS,
              "Invalid params: params must be an object");
  } else if (!strcmp(method, "initialize")) {
    m_initialize(a, id, params);
  } else if (!a->initialized && (!strcmp(method, "session/new") ||
                                 !strcmp(method, "session/load") ||
                                 !strcmp(method, "session/prompt"))) {
    acp_error(a, id, ACP_INVALID_REQUEST,
              "Invalid Request: call initialize first");
  } else if (!strcmp(method, "session/new")) {
    m_session_new(a, id, params);
  } else if (!strcmp(method, "session/load")) {
    m_session_load(a, id, params);
  } else if (!strcmp(method, "session/prompt")) {
    m_session_prompt(a, id, params);
  } else {
    acp_error(a, id, ACP_METHOD_NOT_FOUND, "Method not found: %.200s",
              method);
  }
}

/* ------------------------------------------------------------------------ */
/* The command                                                               */

int pt_cli_acp(const pt_cli *cli, int argc, char **argv)
{
  acp a = { 0 };
  for (int i = 0; i < argc; i++) {
    const char *o = argv[i];
    const char *next = i + 1 < argc ? argv[i + 1] : NULL;
    if (pt_cli_is_help(o)) {
      fputs(acp_help, stdout);
      fputs(pt_cli_global_help, stdout);
      return PT_EXIT_OK;
    }
    if (!strcmp(o, "-p") || !strcmp(o, "--provider") || !strcmp(o, "-m") ||
        !strcmp(o, "--model") || !strcmp(o, "--system") ||
        !strcmp(o, "--max-tokens") || !strcmp(o, "--agent") ||
        !strcmp(o, "--tools") || !strcmp(o, "--policy") ||
        !strcmp(o, "--max-turns")) {
      if (!next) return pt_cli_usage_error("acp", "%s needs a value", o);
      if (!strcmp(o, "-p") || !strcmp(o, "--provider")) a.provider = next;
      else if (!strcmp(o, "-m") || !strcmp(o, "--model")) a.model = next;
      else if (!strcmp(o, "--system")) a.system = next;
      else if (!strcmp(o, "--agent")) a.flags.agent = next;
      else if (!strcmp(o, "--tools")) a.flags.tools = next;
      else if (!strcmp(o, "--policy")) a.flags.policy = next;
      else if (!strcmp(o, "--max-turns")) a.flags.max_turns = atoi(next);
      else a.max_tokens = strtol(next, NULL, 10);
      i++;
    } else {
      return pt_cli_usage_error("acp", "unknown argument '%s'", o);
    }
  }
  a.agent_name = a.flags.agent;
  pt_kernel_options ko;
  pt_cli_kernel_options(cli, &ko);
  a.k = pt_cli_kernel(cli, &ko);
  if (!a.k) return PT_EXIT_FAIL;
  int status = PT_EXIT_FAIL;
  if (pt__chat_agent_profile(a.k->config, &a.flags, &a.provider, &a.model,
                             &a.system) == 0 &&
      pt__chat_resolve(a.k, &a.provider, &a.model, &a.price) == 0 &&
      acp_io_start(&a) == 0) {
    pt_log(PT_LOG_INFO, "acp", "ready: %s, %s", a.provider, a.model);
    pt_kernel_run(a.k);
    status = PT_EXIT_OK;
  } else {
    acp_io_close(&a);
  }
  /* Handles the records and streams hold close with the loop's last run. */
  pt_kernel_free(a.k);
  free_sessions(&a);
  return status;
}
