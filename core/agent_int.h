/* core/agent_int.h: what agent.c (the model calls) and agent_tools.c (the
 * tool calls) share. Not for other files. */
#ifndef PT_AGENT_INT_H
#define PT_AGENT_INT_H

#include "agent.h"
#include "json_schema.h"
#include "ops.h"

typedef struct agent_tool {
  char *name;
  uint32_t flags;
  pt_json_schema *schema;
  char *schema_text;          /* for error messages */
} agent_tool;

typedef struct agent_ask agent_ask;

typedef struct agent_call {
  pt_agent *a;
  char *id, *name;
  char *args_text;            /* compact JSON */
  cJSON *args;                /* parsed, or NULL when not JSON */
  const agent_tool *tool;     /* NULL: not offered */
  pt_op_impl *op;             /* while running */
  agent_ask *ask;             /* while asking */
  int done;
  char *content;
  int is_error;
  int64_t row;                /* its tool_calls row; 0: not recorded */
  int64_t request;            /* its permission request while asking */
  int started;                /* the row was marked running */
} agent_call;

struct pt_agent {
  pt_kernel *k;
  char *provider, *model, *system, *workspace, *session, *context;
  cJSON *messages;            /* borrowed */
  cJSON *tools_json;          /* the request's "tools" */
  cJSON *extra;               /* owned copy, or NULL */
  agent_tool *tools;
  size_t tool_count;
  pt_policy *policy;
  int max_turns;
  uint64_t max_tokens_total;
  double max_cost_usd;
  pt_price price;
  pt_store *store;            /* borrowed; NULL: nothing recorded */
  int64_t turn_id;
  char store_error[256];      /* res.store_error */
  pt_agent_ask_fn ask;
  void *ask_ud;
  pt_agent_sink sink;

  /* the model call in flight */
  pt_op_impl *chat_op;
  cJSON *parts;               /* the assistant message's parts so far */
  char *buf;                  /* text or thinking being collected */
  size_t buf_len, buf_cap;
  int buf_kind;               /* 0, PT_EV_TEXT or PT_EV_THINKING */
  uint64_t usage[4];          /* this call's last USAGE */

  /* the tool calls of the last answer */
  agent_call *calls;
  size_t call_count;
  int pending;

  int cancelled;
  pt_agent_result res;
  char note[PT_POLICY_REASON_MAX];  /* res.message */
};

/* agent_tools.c */
void pt__agent_run_calls(pt_agent *a);      /* a->calls set; takes over */
void pt__agent_cancel_calls(pt_agent *a);
void pt__agent_free_calls(pt_agent *a);
void pt__agent_emit(pt_agent *a, cJSON *ev); /* emits, then deletes ev */

/* agent_record.c: each step of a tool call in the store; no-ops without
 * one. Failures are counted in a->res, never stop the turn. */
void pt__agent_record_add(agent_call *c);
void pt__agent_record_policy(agent_call *c, const pt_policy_decision *d);
void pt__agent_record_decide(agent_call *c, int allow, const char *by,
                             int64_t rule_id, const char *reason);
void pt__agent_record_start(agent_call *c);
void pt__agent_record_finish(agent_call *c);

/* agent.c */
void pt__agent_calls_done(pt_agent *a);     /* every call has a result */

#endif
