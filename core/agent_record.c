/*
 * core/agent_record.c: the store's side of a tool call in the agent loop.
 * Each step goes in as it happens: the call when the answer names it, the
 * decision with who made it, the start, the end with the result. The turn
 * never waits on or stops for the store: a failed write is counted in the
 * result (pt_agent_result.store_errors) and the call goes on.
 *
 * Not the loop itself (agent.c, agent_tools.c).
 */
#include <stdio.h>
#include <string.h>

#include "agent_int.h"
#include "portico/errors.h"

static void failed(pt_agent *a, int32_t rc)
{
  if (rc == PT_OK) return;
  if (!a->res.store_errors++)
    snprintf(a->store_error, sizeof a->store_error, "%.250s",
             pt_store_errmsg(a->store));
}

void pt__agent_record_add(agent_call *c)
{
  pt_agent *a = c->a;
  if (!a->store || !c->id || !c->name) return;
  /* The store keeps arguments as an object; text that is not one is kept
   * under "_raw" so the audit shows what the model sent. */
  char *wrapped = NULL;
  const char *args = c->args_text;
  if (!c->args) {
    cJSON *o = cJSON_CreateObject();
    if (o) cJSON_AddStringToObject(o, "_raw", c->args_text ? c->args_text
                                                             : "");
    wrapped = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    args = wrapped;
  }
  if (!args) return;
  char key[PT_STORE_ID_LEN + 300];
  snprintf(key, sizeof key, "%s/%lld/%.256s", a->session,
           (long long)a->turn_id, c->id);
  pt_store_tool_call tc = { .session_id = a->session, .turn_id = a->turn_id,
                            .call_id = c->id, .name = c->name,
                            .arguments = { args, strlen(args) },
                            .idempotency_key = key };
  int32_t rc = pt_store_tool_call_add(a->store, &tc, &c->row);
  if (rc == PT_EEXIST) {
    /* A provider that reuses a call id within a turn: this call is a new
     * one, so it gets the model call's number as well. */
    snprintf(key, sizeof key, "%s/%lld/%.256s#%d", a->session,
             (long long)a->turn_id, c->id, a->res.model_calls);
    rc = pt_store_tool_call_add(a->store, &tc, &c->row);
  }
  if (rc != PT_OK) c->row = 0;
  if (rc != PT_EEXIST) failed(a, rc);
  cJSON_free(wrapped);
}

void pt__agent_record_policy(agent_call *c, const pt_policy_decision *d)
{
  pt_agent *a = c->a;
  if (!c->row) return;
  if (d->verdict != PT_POLICY_ASK) {
    failed(a, pt_policy_audit(a->store, c->row, d));
    return;
  }
  char reason[PT_POLICY_RULE_MAX + PT_POLICY_REASON_MAX + 8];
  snprintf(reason, sizeof reason, "%s: %s", d->rule, d->reason);
  int32_t rc = pt_store_request_add(a->store, c->row, reason, &c->request);
  if (rc != PT_OK) c->request = 0;
  failed(a, rc);
}

void pt__agent_record_decide(agent_call *c, int allow, const char *by,
                             int64_t rule_id, const char *reason)
{
  pt_agent *a = c->a;
  if (!c->row) return;
  pt_store_decision d = { allow ? "allow" : "deny", by, rule_id, reason };
  int64_t request = c->request;
  c->request = 0;
  failed(a, request ? pt_store_request_answer(a->store, request, &d)
                    : pt_store_tool_call_decide(a->store, c->row, &d));
}

void pt__agent_record_start(agent_call *c)
{
  if (!c->row) return;
  int32_t rc = pt_store_tool_call_start(c->a->store, c->row);
  c->started = rc == PT_OK;
  failed(c->a, rc);
}

void pt__agent_record_finish(agent_call *c)
{
  if (!c->row || !c->started) return;
  const char *s = c->content ? c->content : "";
  failed(c->a, pt_store_tool_call_finish(c->a->store, c->row, c->is_error,
                                         (pt_str){ s, strlen(s) }));
  c->started = 0;
}
