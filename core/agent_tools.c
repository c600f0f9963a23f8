/*
 * core/agent_tools.c: the tool calls of one answer: schema check, policy,
 * asking, running them concurrently, and collecting their results in the
 * order of the calls. See agent.h.
 *
 * Counting: a->pending holds one for the round itself while the calls are
 * being started, and one per call until its result is known, so the round
 * ends (pt__agent_calls_done) exactly once, after the last of them,
 * whether results arrive at once or later.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent_int.h"
#include "portico/errors.h"

struct agent_ask {
  agent_call *call;  /* NULL once the turn no longer waits for it */
};

void pt__agent_emit(pt_agent *a, cJSON *ev)
{
  if (ev && a->sink.on_agent_event) a->sink.on_agent_event(a->sink.ud, ev);
  cJSON_Delete(ev);
}

static void emit_permission(agent_call *c, const char *decision,
                            const char *reason, const char *rule)
{
  cJSON *ev = cJSON_CreateObject();
  if (!ev) return;
  cJSON_AddStringToObject(ev, "type", "permission");
  cJSON_AddStringToObject(ev, "id", c->id ? c->id : "");
  cJSON_AddStringToObject(ev, "tool", c->name ? c->name : "");
  cJSON_AddStringToObject(ev, "decision", decision);
  cJSON_AddStringToObject(ev, "reason", reason ? reason : "");
  cJSON_AddStringToObject(ev, "rule", rule ? rule : "");
  pt__agent_emit(c->a, ev);
}

static void settle(pt_agent *a)
{
  if (--a->pending == 0) pt__agent_calls_done(a);
}

/* The call's result is known: report it and count it. */
static void complete(agent_call *c, const char *content, int is_error)
{
  pt_agent *a = c->a;
  c->done = 1;
  c->op = NULL;
  free(c->content);
  c->content = strdup(content ? content : "");
  c->is_error = is_error;
  pt__agent_record_finish(c);
  cJSON *ev = cJSON_CreateObject();
  if (ev) {
    cJSON_AddStringToObject(ev, "type", "tool_result");
    cJSON_AddStringToObject(ev, "id", c->id ? c->id : "");
    cJSON_AddStringToObject(ev, "name", c->name ? c->name : "");
    cJSON_AddStringToObject(ev, "content", c->content ? c->content : "");
    cJSON_AddBoolToObject(ev, "is_error", is_error);
    pt__agent_emit(a, ev);
  }
  settle(a);
}

static void on_tool_done(void *ud, int32_t status, pt_str result)
{
  agent_call *c = ud;
  cJSON *r = cJSON_ParseWithLength(result.ptr ? result.ptr : "", result.len);
  const cJSON *content = cJSON_GetObjectItemCaseSensitive(r, "content");
  int is_error = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r,
                                                               "is_error"));
  char msg[256];
  const char *text = cJSON_IsString(content) ? content->valuestring : NULL;
  if (status != PT_OK) {
    is_error = 1;
    if (!text || !*text) {
      snprintf(msg, sizeof msg, "the tool failed: %s (%s)",
               pt_strerror(status), pt_errname(status));
      text = msg;
    }
  } else if (!text) {
    text = r ? "" : "the tool's result was not JSON";
    is_error = is_error || !r;
  }
  complete(c, text, is_error);
  cJSON_Delete(r);
}

static void run(agent_call *c)
{
  pt_agent *a = c->a;
  if (a->cancelled) {
    complete(c, "not run: the turn was cancelled", 1);
    return;
  }
  pt_op_sink s = { .on_done = on_tool_done, .ud = c };
  pt__agent_record_start(c);
  const char *args = c->args_text ? c->args_text : "{}";
  int32_t rc = pt_op_tool(a->k, c->name, (pt_str){ args, strlen(args) },
                          a->context, &s, &c->op);
  if (rc != PT_OK) {
    char msg[256];
    snprintf(msg, sizeof msg, "the tool %.64s could not start: %s",
             c->name, pt_strerror(rc));
    c->op = NULL;
    complete(c, msg, 1);
  }
}

static pt_policy_call policy_call(const agent_call *c)
{
  pt_policy_call pc = {
    .tool = c->name,
    .args_json = { c->args_text, c->args_text ? strlen(c->args_text) : 0 },
    .flags = c->tool ? c->tool->flags : 0,
    .session_id = c->a->session,
    .workspace = c->a->workspace,
  };
  return pc;
}

static void answer(void *token, pt_agent_answer ans)
{
  agent_ask *t = token;
  agent_call *c = t ? t->call : NULL;
  free(t);
  if (!c) return;
  c->ask = NULL;
  pt_agent *a = c->a;
  int allow = ans == PT_AGENT_ALLOW_ONCE || ans == PT_AGENT_ALLOW_ALWAYS;
  int always = ans == PT_AGENT_ALLOW_ALWAYS || ans == PT_AGENT_DENY_ALWAYS;
  char note[PT_POLICY_REASON_MAX] = "";
  int64_t rule = 0;
  if (always && a->policy) {
    pt_policy_call pc = policy_call(c);
    char why[256] = "";
    if (pt_policy_remember(a->policy, &pc,
                           allow ? PT_POLICY_ALLOW : PT_POLICY_DENY, 1, &rule,
                           why, sizeof why) != PT_OK)
      snprintf(note, sizeof note, " (not remembered: %.200s)", why);
  }
  char reason[PT_POLICY_REASON_MAX + 64];
  snprintf(reason, sizeof reason, "%s by the user%.300s",
           allow ? "allowed" : "denied", note);
  emit_permission(c, allow ? "allow" : "deny", reason,
                  always ? "user:always" : "user");
  pt__agent_record_decide(c, allow, "user", rule, reason);
  if (allow) {
    run(c);
  } else {
    char msg[PT_POLICY_REASON_MAX + 96];
    snprintf(msg, sizeof msg, "Permission denied: the user refused this "
             "call to %.64s.", c->name);
    complete(c, msg, 1);
  }
}

void pt_agent_answer_ask(void *token, pt_agent_answer ans)
{
  answer(token, ans);
}

/* The schema check failed: the model gets the error and the schema. */
static void refuse_invalid(agent_call *c, const char *why)
{
  char msg[2048];
  snprintf(msg, sizeof msg, "Invalid arguments for tool %.64s: %.600s. The "
           "call did not run. Its input schema is: %.1200s", c->name, why,
           c->tool ? c->tool->schema_text : "{}");
  emit_permission(c, "deny", why, "schema");
  pt__agent_record_decide(c, 0, "schema", 0, why);
  complete(c, msg, 1);
}

static void start_call(agent_call *c)
{
  pt_agent *a = c->a;
  char why[512];
  if (!c->tool) {
    snprintf(why, sizeof why, "no tool named \"%.64s\" is offered", c->name);
    emit_permission(c, "deny", why, "unknown-tool");
    pt__agent_record_decide(c, 0, "unknown-tool", 0, why);
    complete(c, why, 1);
    return;
  }
  if (!c->args) {
    refuse_invalid(c, "the arguments are not a JSON object");
    return;
  }
  if (pt_json_schema_validate(c->tool->schema, c->args, why, sizeof why) !=
      PT_OK) {
    refuse_invalid(c, why);
    return;
  }
  if (a->cancelled) {
    pt__agent_record_decide(c, 0, "cancelled", 0, "the turn was cancelled");
    complete(c, "not run: the turn was cancelled", 1);
    return;
  }
  if (!a->policy) {
    emit_permission(c, "allow", "no policy", "none");
    pt__agent_record_decide(c, 1, "none", 0, "no policy");
    run(c);
    return;
  }
  pt_policy_call pc = policy_call(c);
  pt_policy_decision d;
  memset(&d, 0, sizeof d);
  pt_policy_decide(a->policy, &pc, &d);
  emit_permission(c, pt_policy_verdict_name(d.verdict), d.reason, d.rule);
  pt__agent_record_policy(c, &d);
  if (d.verdict == PT_POLICY_ALLOW) {
    run(c);
  } else if (d.verdict == PT_POLICY_DENY) {
    char msg[PT_POLICY_REASON_MAX + 96];
    snprintf(msg, sizeof msg, "Permission denied by the policy: %.500s",
             d.reason);
    complete(c, msg, 1);
  } else if (!a->ask) {
    emit_permission(c, "deny", "no one is there to answer", "no-prompt");
    pt__agent_record_decide(c, 0, "no-prompt", 0,
                            "no one is there to answer");
    complete(c, "Permission denied: this call needs a person's approval and "
             "no one is there to give it.", 1);
  } else {
    agent_ask *t = calloc(1, sizeof *t);
    if (!t) {
      pt__agent_record_decide(c, 0, "agent", 0, "out of memory");
      complete(c, "Permission denied: out of memory", 1);
      return;
    }
    t->call = c;
    c->ask = t;
    pt_agent_ask_request req = {
      .id = c->id, .tool = c->name, .args_json = c->args_text,
      .flags = c->tool->flags, .reason = d.reason, .rule = d.rule,
    };
    a->ask(a->ask_ud, &req, answer, t);
  }
}

void pt__agent_run_calls(pt_agent *a)
{
  a->pending = 1;
  for (size_t i = 0; i < a->call_count; i++) {
    agent_call *c = &a->calls[i];
    a->pending++;
    if (!c->id || !c->name || !c->args_text) {
      complete(c, "out of memory", 1);
      continue;
    }
    pt__agent_record_add(c);
    start_call(c);
  }
  settle(a);
}

void pt__agent_cancel_calls(pt_agent *a)
{
  if (!a->call_count || a->pending <= 0) return;
  /* Guard: answering an ask below may end the round, and the turn. */
  a->pending++;
  for (size_t i = 0; i < a->call_count; i++) {
    agent_call *c = &a->calls[i];
    if (c->op) {
      pt_op_cancel(c->op);
    } else if (c->ask) {
      agent_ask *t = c->ask;
      c->ask = NULL;
      t->call = NULL; /* the front end's later answer is ignored */
      emit_permission(c, "deny", "the turn was cancelled", "cancelled");
      pt__agent_record_decide(c, 0, "cancelled", 0,
                              "the turn was cancelled");
      complete(c, "not run: the turn was cancelled", 1);
    }
  }
  settle(a);
}

void pt__agent_free_calls(pt_agent *a)
{
  for (size_t i = 0; i < a->call_count; i++) {
    agent_call *c = &a->calls[i];
    if (c->ask) c->ask->call = NULL;
    free(c->id);
    free(c->name);
    free(c->args_text);
    cJSON_Delete(c->args);
    free(c->content);
  }
  free(a->calls);
  a->calls = NULL;
  a->call_count = 0;
}
