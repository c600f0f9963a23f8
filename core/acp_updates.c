/*
 * core/acp_updates.c: what a session's turn tells the client (see acp.h):
 * provider and agent events as session/update notifications, the policy's
 * asks as session/request_permission requests, the turn's end as the
 * session/prompt response, and a stored history replayed on session/load.
 */
#include "acp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

void acp_update(acp_session *s, cJSON *update)
{
  cJSON *p = cJSON_CreateObject();
  cJSON_AddStringToObject(p, "sessionId", s->id);
  cJSON_AddItemToObject(p, "update", update);
  acp_notify(s->a, "session/update", p);
}

static cJSON *text_block(const char *text, size_t len)
{
  cJSON *c = cJSON_CreateObject();
  cJSON_AddStringToObject(c, "type", "text");
  char *t = malloc(len + 1);
  if (t) {
    memcpy(t, text, len);
    t[len] = '\0';
  }
  cJSON_AddStringToObject(c, "text", t ? t : "");
  free(t);
  return c;
}

static void chunk(acp_session *s, const char *kind, const char *text,
                  size_t len)
{
  cJSON *u = cJSON_CreateObject();
  cJSON_AddStringToObject(u, "sessionUpdate", kind);
  cJSON_AddItemToObject(u, "content", text_block(text, len));
  acp_update(s, u);
}

/* ACP's ToolKind for one of our tools, from its name. */
static const char *tool_kind(const char *name)
{
  if (strstr(name, "read") || strstr(name, "list")) return "read";
  if (strstr(name, "write") || strstr(name, "edit")) return "edit";
  if (strstr(name, "delete") || strstr(name, "remove")) return "delete";
  if (strstr(name, "move") || strstr(name, "rename")) return "move";
  if (strstr(name, "search") || strstr(name, "grep") || strstr(name, "glob"))
    return "search";
  if (strstr(name, "exec") || strstr(name, "shell")) return "execute";
  if (strstr(name, "http") || strstr(name, "fetch")) return "fetch";
  return "other";
}

/* A tool_call update (or the toolCall of a permission request). */
static cJSON *tool_call(const char *kind, const char *id, const char *name,
                        const char *args, const char *status)
{
  cJSON *u = cJSON_CreateObject();
  if (kind) cJSON_AddStringToObject(u, "sessionUpdate", kind);
  cJSON_AddStringToObject(u, "toolCallId", id);
  cJSON_AddStringToObject(u, "title", name);
  cJSON_AddStringToObject(u, "kind", tool_kind(name));
  cJSON_AddStringToObject(u, "status", status);
  cJSON *in = args ? cJSON_Parse(args) : NULL;
  cJSON_AddItemToObject(u, "rawInput", in ? in : cJSON_CreateObject());
  return u;
}

static void status_update(acp_session *s, const char *id, const char *status,
                          const char *content, int is_error)
{
  cJSON *u = cJSON_CreateObject();
  cJSON_AddStringToObject(u, "sessionUpdate", "tool_call_update");
  cJSON_AddStringToObject(u, "toolCallId", id);
  cJSON_AddStringToObject(u, "status", status);
  if (content) {
    cJSON *list = cJSON_AddArrayToObject(u, "content");
    cJSON *c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "type", "content");
    cJSON_AddItemToObject(c, "content", text_block(content, strlen(content)));
    cJSON_AddItemToArray(list, c);
    cJSON *raw = cJSON_AddObjectToObject(u, "rawOutput");
    cJSON_AddStringToObject(raw, "content", content);
    cJSON_AddBoolToObject(raw, "is_error", is_error);
  }
  acp_update(s, u);
}

void acp_on_event(void *ud, const pt_chat_event *ev)
{
  acp_session *s = ud;
  pt__chat_agent_rec_event(&s->saving, ev);
  if (ev->kind == PT_EV_TEXT && ev->text.len) {
    chunk(s, "agent_message_chunk", ev->text.ptr, ev->text.len);
  } else if (ev->kind == PT_EV_THINKING && ev->text.len) {
    chunk(s, "agent_thought_chunk", ev->text.ptr, ev->text.len);
  } else if (ev->kind == PT_EV_TOOL_CALL_END) {
    char id[256], name[256];
    snprintf(id, sizeof id, "%.*s", (int)(ev->id.len < 255 ? ev->id.len : 255),
             ev->id.ptr);
    snprintf(name, sizeof name, "%.*s",
             (int)(ev->name.len < 255 ? ev->name.len : 255), ev->name.ptr);
    char *args = malloc(ev->json.len + 1);
    if (args) {
      memcpy(args, ev->json.ptr, ev->json.len);
      args[ev->json.len] = '\0';
    }
    acp_update(s, tool_call("tool_call", id, name, args, "pending"));
    free(args);
  }
}

void acp_on_agent_event(void *ud, const cJSON *ev)
{
  acp_session *s = ud;
  const char *type = cJSON_GetStringValue(cJSON_GetObjectItem(ev, "type"));
  const char *id = cJSON_GetStringValue(cJSON_GetObjectItem(ev, "id"));
  if (!type || !id) return;
  if (!strcmp(type, "permission")) {
    const char *d = cJSON_GetStringValue(cJSON_GetObjectItem(ev, "decision"));
    if (d && !strcmp(d, "allow"))
      status_update(s, id, "in_progress", NULL, 0);
  } else if (!strcmp(type, "tool_result")) {
    const char *content =
        cJSON_GetStringValue(cJSON_GetObjectItem(ev, "content"));
    int err = cJSON_IsTrue(cJSON_GetObjectItem(ev, "is_error"));
    status_update(s, id, err ? "failed" : "completed",
                  content ? content : "", err);
  }
}

static const char *stop_reason(const pt_agent_result *r, int cancelled)
{
  if (cancelled || r->stop == PT_AGENT_CANCELLED) return "cancelled";
  switch (r->stop) {
  case PT_AGENT_MAX_TOKENS:
  case PT_AGENT_BUDGET: return "max_tokens";
  case PT_AGENT_MAX_TURNS: return "max_turn_requests";
  case PT_AGENT_REFUSAL: return "refusal";
  case PT_AGENT_ERROR: return NULL;
  default: return "end_turn";
  }
}

void acp_on_done(void *ud, const pt_agent_result *r)
{
  acp_session *s = ud;
  acp *a = s->a;
  s->running = NULL;
  pt__chat_agent_rec_end(&s->saving, r, r->message);
  acp_asks_deny(a, s);
  const char *why = stop_reason(r, s->cancelled);
  if (why) {
    cJSON *res = cJSON_CreateObject();
    cJSON_AddStringToObject(res, "stopReason", why);
    acp_result(a, s->prompt_id, res);
  } else {
    acp_error(a, s->prompt_id, ACP_INTERNAL_ERROR, "Internal error: %.900s",
              r->message && r->message[0] ? r->message
                                          : pt_strerror(r->status));
  }
  cJSON_Delete(s->prompt_id);
  s->prompt_id = NULL;
  acp_maybe_stop(a);
}

/* ------------------------------------------------------------------------ */
/* Permission                                                                */

static const struct {
  const char *id, *name;
  pt_agent_answer answer;
} OPTIONS[] = {
  { "allow_once", "Allow once", PT_AGENT_ALLOW_ONCE },
  { "allow_always", "Allow always", PT_AGENT_ALLOW_ALWAYS },
  { "reject_once", "Reject", PT_AGENT_DENY },
  { "reject_always", "Reject always", PT_AGENT_DENY_ALWAYS },
};

static void give(acp_ask *q, pt_agent_answer answer)
{
  if (q->answered) return;
  q->answered = 1;
  q->answer(q->token, answer);
}

static void on_permission(acp *a, void *ud, const cJSON *result,
                          const cJSON *error)
{
  acp_ask *q = ud;
  pt_agent_answer answer = PT_AGENT_DENY;   /* not approved by default */
  const cJSON *o = cJSON_GetObjectItemCaseSensitive(result, "outcome");
  const char *kind =
      cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "outcome"));
  const char *opt =
      cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "optionId"));
  if (kind && !strcmp(kind, "selected") && opt)
    for (size_t i = 0; i < sizeof OPTIONS / sizeof OPTIONS[0]; i++)
      if (!strcmp(opt, OPTIONS[i].id)) answer = OPTIONS[i].answer;
  if (error) pt_log(PT_LOG_WARN, "acp", "the client failed a permission "
                                        "request; denied");
  give(q, answer);
  for (acp_ask **pp = &a->asks; *pp; pp = &(*pp)->next)
    if (*pp == q) {
      *pp = q->next;
      break;
    }
  free(q);
}

void acp_on_ask(void *ud, const pt_agent_ask_request *req,
                void (*answer)(void *token, pt_agent_answer a), void *token)
{
  acp_session *s = ud;
  acp *a = s->a;
  acp_ask *q = calloc(1, sizeof *q);
  if (!q) {
    answer(token, PT_AGENT_DENY);
    return;
  }
  q->s = s;
  q->answer = answer;
  q->token = token;
  q->next = a->asks;
  a->asks = q;
  cJSON *p = cJSON_CreateObject();
  cJSON_AddStringToObject(p, "sessionId", s->id);
  cJSON_AddItemToObject(p, "toolCall", tool_call(NULL, req->id, req->tool,
                                                 req->args_json, "pending"));
  cJSON *opts = cJSON_AddArrayToObject(p, "options");
  for (size_t i = 0; i < sizeof OPTIONS / sizeof OPTIONS[0]; i++) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "optionId", OPTIONS[i].id);
    cJSON_AddStringToObject(o, "name", OPTIONS[i].name);
    cJSON_AddStringToObject(o, "kind", OPTIONS[i].id);
    cJSON_AddItemToArray(opts, o);
  }
  acp_request(a, "session/request_permission", p, on_permission, q);
}

void acp_asks_deny(acp *a, acp_session *s)
{
  for (acp_ask *q = a->asks; q; q = q->next)
    if (!s || q->s == s) give(q, PT_AGENT_DENY);
}

/* ------------------------------------------------------------------------ */
/* Replay                                                                    */

static void replay_parts(acp_session *s, const char *role,
                         const cJSON *content)
{
  int user = !strcmp(role, "user");
  if (cJSON_IsString(content)) {
    chunk(s, user ? "user_message_chunk" : "agent_message_chunk",
          content->valuestring, strlen(content->valuestring));
    return;
  }
  const cJSON *p;
  cJSON_ArrayForEach(p, content) {
    const char *type = cJSON_GetStringValue(cJSON_GetObjectItem(p, "type"));
    const char *text = cJSON_GetStringValue(cJSON_GetObjectItem(p, "text"));
    if (!type) continue;
    if (!strcmp(type, "text") && text) {
      chunk(s, user ? "user_message_chunk" : "agent_message_chunk", text,
            strlen(text));
    } else if (!strcmp(type, "thinking")) {
      if (!text)
        text = cJSON_GetStringValue(cJSON_GetObjectItem(p, "thinking"));
      if (text) chunk(s, "agent_thought_chunk", text, strlen(text));
    } else if (!strcmp(type, "tool_call")) {
      const char *id = cJSON_GetStringValue(cJSON_GetObjectItem(p, "id"));
      const char *name =
          cJSON_GetStringValue(cJSON_GetObjectItem(p, "name"));
      char *args = cJSON_PrintUnformatted(cJSON_GetObjectItem(p,
                                                              "arguments"));
      acp_update(s, tool_call("tool_call", id ? id : "", name ? name : "",
                              args, "pending"));
      cJSON_free(args);
    } else if (!strcmp(type, "tool_result")) {
      const char *id =
          cJSON_GetStringValue(cJSON_GetObjectItem(p, "tool_call_id"));
      const char *c = cJSON_GetStringValue(cJSON_GetObjectItem(p, "content"));
      int err = cJSON_IsTrue(cJSON_GetObjectItem(p, "is_error"));
      status_update(s, id ? id : "", err ? "failed" : "completed",
                    c ? c : "", err);
    }
  }
}

void acp_replay(acp_session *s)
{
  const cJSON *m;
  cJSON_ArrayForEach(m, s->messages) {
    const char *role = cJSON_GetStringValue(cJSON_GetObjectItem(m, "role"));
    if (role && strcmp(role, "system") != 0)
      replay_parts(s, role, cJSON_GetObjectItem(m, "content"));
  }
}
