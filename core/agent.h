/*
 * core/agent.h: the agent loop. One call of pt_agent_turn runs a model
 * with tools until it ends its turn (docs/agent.md):
 *
 *   1. send the history, the system prompt and the offered tools to the
 *      provider, forwarding every streamed event to the sink;
 *   2. append the assistant message (thinking with its signature, text,
 *      tool calls, in the order they streamed) to the history;
 *   3. when the model stopped for tool use: check each call's arguments
 *      against the tool's schema (invalid: an error result explaining why,
 *      the tool never runs), ask the policy (deny: an error result with the
 *      reason; ask: the ask callback), run the allowed calls concurrently,
 *      and append ONE tool message whose tool_result parts follow the order
 *      of the calls;
 *   4. repeat until the model ends its turn, max_turns model calls were
 *      made, the token or cost budget is spent, an error, or
 *      pt_agent_cancel.
 *
 * With a store, each tool call is written to it as it happens: recorded
 * when the answer names it, its decision (who decided and by which rule),
 * its start, and its end with the result (see pt_agent_options.store).
 *
 * Many turns may run at once on the one loop; a turn waiting for an answer
 * to an ask holds up nothing else. Loop thread only.
 */
#ifndef PT_AGENT_H
#define PT_AGENT_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "kernel.h"
#include "policy.h"
#include "pricing.h"
#include "portico/plugin.h"

typedef struct pt_agent pt_agent;

/* Why a turn ended. */
typedef enum pt_agent_stop {
  PT_AGENT_END_TURN = 0,      /* the model ended its turn */
  PT_AGENT_MAX_TURNS = 1,     /* max_turns model calls were made */
  PT_AGENT_MAX_TOKENS = 2,    /* the model's answer was cut at max_tokens */
  PT_AGENT_STOP_SEQUENCE = 3,
  PT_AGENT_REFUSAL = 4,
  PT_AGENT_CANCELLED = 5,     /* pt_agent_cancel */
  PT_AGENT_ERROR = 6,         /* the provider failed; see status/message */
  PT_AGENT_BUDGET = 7         /* max_tokens_total or max_cost_usd was spent
                                 before the next model call */
} pt_agent_stop;

/* "end_turn", "max_turns", ... */
const char *pt_agent_stop_name(pt_agent_stop s);

/* The answer to an ask. */
typedef enum pt_agent_answer {
  PT_AGENT_ALLOW_ONCE = 0,
  PT_AGENT_ALLOW_ALWAYS = 1,  /* also pt_policy_remember(allow) */
  PT_AGENT_DENY = 2,
  PT_AGENT_DENY_ALWAYS = 3    /* also pt_policy_remember(deny) */
} pt_agent_answer;

/* What the policy asks a person about; borrowed for the ask call only. */
typedef struct pt_agent_ask_request {
  const char *id;         /* the tool call's id */
  const char *tool;
  const char *args_json;  /* the arguments, compact JSON */
  uint32_t flags;         /* PT_TOOL_* the tool declares */
  const char *reason;     /* the policy's reason for asking */
  const char *rule;       /* the rule that asked */
} pt_agent_ask_request;

/* Give the answer to one ask. Call it exactly once per ask, on the loop
 * thread, at once or later (also after the turn was cancelled or ended:
 * it is then ignored). `token` comes from the ask callback. */
void pt_agent_answer_ask(void *token, pt_agent_answer answer);

/* Ask a person; answer through answer(token, ...). */
typedef void (*pt_agent_ask_fn)(void *ud, const pt_agent_ask_request *req,
                                void (*answer)(void *token,
                                               pt_agent_answer answer),
                                void *token);

/* How a turn ended; borrowed for the on_done call. */
typedef struct pt_agent_result {
  pt_agent_stop stop;
  int32_t status;          /* PT_OK, or the provider's error code */
  const char *message;     /* a note for a person ("" when none): the
                              error, or the turn limit that was reached */
  int model_calls;         /* provider requests made */
  int tool_calls;          /* tool results appended (run or refused) */
  uint64_t input_tokens, output_tokens, cache_read_tokens,
      cache_write_tokens;  /* summed over the model calls */
  double cost_usd;         /* the same at options.price; 0 without one */
  int store_errors;        /* tool call writes that failed */
  const char *store_error; /* the first one's message, or "" */
} pt_agent_result;

/*
 * What a turn reports. Every callback may be NULL except on_done.
 *
 * on_event: every provider event, as the provider emitted it, including
 *   each model call's PT_EV_DONE (one per model call; the turn's own end is
 *   on_done).
 * on_agent_event: a JSON object (borrowed), one of
 *   {"type":"permission","id":CALL_ID,"tool":NAME,
 *    "decision":"allow"|"deny"|"ask","reason":TEXT,"rule":NAME}
 *      the policy's decision on a call ("ask" is followed by a second
 *      permission event with the answer, rule "user" or "user:always");
 *      a call refused for invalid arguments has decision "deny" and rule
 *      "schema"; without a policy every call is "allow", rule "none".
 *   {"type":"tool_result","id":CALL_ID,"name":NAME,"content":TEXT,
 *    "is_error":BOOL}
 *      a call's result as it goes back to the model, when it is known.
 * on_done: exactly once per successful pt_agent_turn, last; the turn's
 *   handle is freed when it returns.
 */
typedef struct pt_agent_sink {
  void (*on_event)(void *ud, const pt_chat_event *ev);
  void (*on_agent_event)(void *ud, const cJSON *ev);
  void (*on_done)(void *ud, const pt_agent_result *r);
  void *ud;
} pt_agent_sink;

typedef struct pt_agent_options {
  const char *provider;       /* provider id */
  const char *model;
  const char *system;         /* may be NULL */
  cJSON *messages;            /* the history, borrowed: the turn appends the
                                 assistant and tool messages to it; leave it
                                 alone until on_done */
  const char *const *tools;   /* tool names offered to the model */
  size_t tool_count;
  pt_policy *policy;          /* NULL: allow every call (tests) */
  const char *workspace;      /* absolute; goes into the op context */
  const char *session;        /* may be NULL */
  int max_turns;              /* model calls at most; <= 0: 25 */
  const cJSON *extra_request; /* may be NULL: members merged into each
                                 request (max_tokens, thinking, ...) */
  pt_agent_ask_fn ask;        /* NULL: every ask is a deny */
  void *ask_ud;
  /* Budgets, checked before each model call after the first: the turn
   * ends with PT_AGENT_BUDGET once the tokens so far (input, output and
   * cache, summed over the turn's model calls) reach max_tokens_total, or
   * their cost at `price` reaches max_cost_usd. 0: no limit. */
  uint64_t max_tokens_total;
  double max_cost_usd;
  const pt_price *price;      /* copied; NULL: every call costs 0 */
  /* Where each tool call is recorded (borrowed until on_done; NULL: not
   * recorded; needs `session`). A call's idempotency key is
   * "SESSION/TURN/CALL_ID" (the provider's id); a decision goes in as
   * pt_policy_audit (decided by "policy" or the stored "rule"), a person's
   * answer as a permission request answered by "user" (with the rule an
   * "always" answer stored), a refusal before the policy as decided by
   * "schema", "unknown-tool", "no-prompt" or "cancelled". */
  pt_store *store;
  int64_t turn_id;            /* the store's turn; 0: none */
} pt_agent_options;

/*
 * Start a turn. Everything in `o` is copied except `messages` and `policy`
 * (borrowed until on_done). Returns PT_OK and the handle in *out (may be
 * NULL; valid until on_done returns), or an error with one line in `err`
 * and no callback: PT_EINVAL (bad options, a tool whose schema does not
 * compile), PT_ENOENT (an unknown tool or provider), PT_ENOMEM, or the
 * provider's refusal of the first request.
 */
int32_t pt_agent_turn(pt_kernel *k, const pt_agent_options *o,
                      const pt_agent_sink *sink, pt_agent **out, char *err,
                      size_t errlen);

/*
 * Stop the turn: cancels the running model call, or every running tool
 * call (pending asks are treated as denied). The turn ends through on_done
 * with PT_AGENT_CANCELLED once every operation has completed. Idempotent.
 */
void pt_agent_cancel(pt_agent *a);

#endif
