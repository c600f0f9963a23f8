/*
 * tests/test_store_tools.c: tool calls (idempotency, decisions, timings,
 * results), permission rules, requests and the audit trail, and the usage
 * ledger with its totals, on real SQLite files.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "harness.h"
#include "store/store.h"

static char *dir;
static pt_store *st;
static char sid[PT_STORE_ID_LEN];

static void fresh(void)
{
  if (st) pt_store_close(st);
  if (dir) h_rmtree(dir);
  free(dir);
  dir = h_tempdir();
  char err[1024];
  if (pt_store_open_dir(dir, NULL, &st, err, sizeof err) != PT_OK ||
      pt_store_session_create(st, NULL, sid) != PT_OK) {
    fprintf(stderr, "open: %s\n", err);
    abort();
  }
}

static const char *s_of(const cJSON *o, const char *k)
{
  return cJSON_GetStringValue(cJSON_GetObjectItem(o, k));
}

static double n_of(const cJSON *o, const char *k)
{
  const cJSON *v = cJSON_GetObjectItem(o, k);
  return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

static int64_t add_call(const char *key, int64_t turn)
{
  pt_store_tool_call tc = { .session_id = sid, .turn_id = turn,
                            .call_id = "call_1", .name = "fs_read",
                            .arguments = PT_STR_LIT("{\"path\":\"a.txt\"}"),
                            .idempotency_key = key };
  int64_t id = 0;
  if (pt_store_tool_call_add(st, &tc, &id) != PT_OK) abort();
  return id;
}

static void a_completed_call_is_found_by_its_key_and_not_added_twice(void)
{
  fresh();
  int64_t turn;
  pt_store_turn_begin(st, sid, &turn);
  int64_t id = add_call("turn1:call_1", turn);
  pt_store_tool_call tc = { .session_id = sid, .name = "fs_read",
                            .arguments = PT_STR_LIT("{}"),
                            .idempotency_key = "turn1:call_1" };
  int64_t again = 0;
  CHECK_INT(pt_store_tool_call_add(st, &tc, &again), ==, PT_EEXIST);
  CHECK_INT(again, ==, id);
  pt_store_decision allow = { .decision = "allow", .decided_by = "policy",
                              .reason = "reads are fine" };
  CHECK_INT(pt_store_tool_call_decide(st, id, &allow), ==, PT_OK);
  CHECK_INT(pt_store_tool_call_start(st, id), ==, PT_OK);
  CHECK_INT(pt_store_tool_call_finish(st, id, 0, PT_STR_LIT("contents")), ==,
            PT_OK);
  cJSON *c = NULL;
  CHECK_INT(pt_store_tool_call_find(st, "turn1:call_1", &c), ==, PT_OK);
  CHECK_STR(s_of(c, "status"), "done");
  CHECK_STR(s_of(c, "result"), "contents");
  CHECK_STR(s_of(c, "decision"), "allow");
  CHECK_STR(s_of(c, "decided_by"), "policy");
  CHECK_STR(s_of(c, "name"), "fs_read");
  CHECK_STR(s_of(c, "call_id"), "call_1");
  CHECK_STR(s_of(cJSON_GetObjectItem(c, "arguments"), "path"), "a.txt");
  CHECK(cJSON_IsFalse(cJSON_GetObjectItem(c, "is_error")));
  CHECK(n_of(c, "started_at") > 0 && n_of(c, "ended_at") >= n_of(c, "started_at"));
  CHECK_INT(n_of(c, "turn_id"), ==, turn);
  cJSON_Delete(c);
  CHECK_INT(pt_store_tool_call_find(st, "nope", &c), ==, PT_ENOENT);
  CHECK_INT(pt_store_tool_call_get(st, 999, &c), ==, PT_ENOENT);

  /* A call with no key may be recorded any number of times. */
  pt_store_tool_call bare = { .session_id = sid, .name = "ls",
                              .arguments = PT_STR_LIT("{}") };
  int64_t x, y;
  CHECK_INT(pt_store_tool_call_add(st, &bare, &x), ==, PT_OK);
  CHECK_INT(pt_store_tool_call_add(st, &bare, &y), ==, PT_OK);
  CHECK(x != y);
}

static void calls_move_through_their_states_in_order_only(void)
{
  fresh();
  int64_t id = add_call(NULL, 0);
  CHECK_INT(pt_store_tool_call_finish(st, id, 0, PT_STR_LIT("x")), ==,
            PT_ESTATE);
  CHECK_CONTAINS(pt_store_errmsg(st), "is pending, not running");
  pt_store_decision deny = { .decision = "deny", .decided_by = "user" };
  CHECK_INT(pt_store_tool_call_decide(st, id, &deny), ==, PT_OK);
  CHECK_INT(pt_store_tool_call_decide(st, id, &deny), ==, PT_ESTATE);
  CHECK_INT(pt_store_tool_call_start(st, id), ==, PT_ESTATE);
  CHECK_CONTAINS(pt_store_errmsg(st), "is denied");
  CHECK_INT(pt_store_tool_call_start(st, 999), ==, PT_ENOENT);
  pt_store_decision bad = { .decision = "maybe", .decided_by = "user" };
  int64_t other = add_call(NULL, 0);
  CHECK_INT(pt_store_tool_call_decide(st, other, &bad), ==, PT_EINVAL);
  pt_store_tool_call broken = { .session_id = sid, .name = "x",
                                .arguments = PT_STR_LIT("[1,2") };
  CHECK_INT(pt_store_tool_call_add(st, &broken, &other), ==, PT_EINVAL);
  broken.arguments = PT_STR_LIT("{}");
  broken.session_id = "0000000000000000";
  CHECK_INT(pt_store_tool_call_add(st, &broken, &other), ==, PT_ENOENT);

  int64_t failing = add_call(NULL, 0);
  pt_store_tool_call_start(st, failing);
  CHECK_INT(pt_store_tool_call_finish(st, failing, 1, PT_STR_LIT("ENOENT")),
            ==, PT_OK);
  cJSON *c = NULL;
  pt_store_tool_call_get(st, failing, &c);
  CHECK_STR(s_of(c, "status"), "failed");
  CHECK(cJSON_IsTrue(cJSON_GetObjectItem(c, "is_error")));
  cJSON_Delete(c);
}

static void ending_a_turn_interrupts_its_running_calls(void)
{
  fresh();
  int64_t turn;
  pt_store_turn_begin(st, sid, &turn);
  int64_t running = add_call("k1", turn), done = add_call("k2", turn);
  pt_store_tool_call_start(st, running);
  pt_store_tool_call_start(st, done);
  pt_store_tool_call_finish(st, done, 0, PT_STR_LIT("ok"));
  pt_store_turn_end(st, turn, PT_STORE_TURN_INTERRUPTED, "cancelled", NULL);
  cJSON *c = NULL;
  pt_store_tool_call_get(st, running, &c);
  CHECK_STR(s_of(c, "status"), "interrupted");
  cJSON_Delete(c);
  pt_store_tool_call_get(st, done, &c);
  CHECK_STR(s_of(c, "status"), "done");
  CHECK_STR(s_of(c, "result"), "ok");
  cJSON_Delete(c);
}

static void decisions_leave_an_audit_trail(void)
{
  fresh();
  pt_store_rule r = { .tool = "fs_read", .decision = "allow",
                      .workspace = "/w" };
  int64_t rule = 0;
  CHECK_INT(pt_store_rule_add(st, &r, &rule), ==, PT_OK);
  int64_t a = add_call(NULL, 0), b = add_call(NULL, 0);
  pt_store_decision by_rule = { .decision = "allow", .decided_by = "rule",
                                .rule_id = rule };
  pt_store_decision by_user = { .decision = "deny", .decided_by = "user",
                                .reason = "not now" };
  pt_store_tool_call_decide(st, a, &by_rule);
  pt_store_tool_call_decide(st, b, &by_user);
  cJSON *log = NULL;
  CHECK_INT(pt_store_decisions(st, sid, &log), ==, PT_OK);
  CHECK_INT(cJSON_GetArraySize(log), ==, 2);
  cJSON *first = cJSON_GetArrayItem(log, 0), *second = cJSON_GetArrayItem(log, 1);
  CHECK_STR(s_of(first, "decided_by"), "rule");
  CHECK_INT(n_of(first, "rule_id"), ==, rule);
  CHECK_STR(s_of(first, "tool"), "fs_read");
  CHECK_STR(s_of(cJSON_GetObjectItem(first, "arguments"), "path"), "a.txt");
  CHECK_STR(s_of(second, "decision"), "deny");
  CHECK_STR(s_of(second, "reason"), "not now");
  CHECK(n_of(second, "created_at") > 0);
  cJSON_Delete(log);
  /* Deleting the rule keeps the decisions it made, unlinked. */
  CHECK_INT(pt_store_rule_delete(st, rule), ==, PT_OK);
  CHECK_INT(pt_store_rule_delete(st, rule), ==, PT_ENOENT);
  pt_store_decisions(st, sid, &log);
  CHECK(cJSON_IsNull(cJSON_GetObjectItem(log->child, "rule_id")));
  cJSON_Delete(log);
}

static void rules_are_kept_and_listed_by_tool(void)
{
  fresh();
  pt_store_rule a = { .tool = "shell", .pattern = "git *",
                      .decision = "allow" };
  pt_store_rule b = { .tool = "fs_write", .decision = "deny" };
  pt_store_rule bad = { .tool = "x", .decision = "sometimes" };
  int64_t ia, ib, ix;
  CHECK_INT(pt_store_rule_add(st, &a, &ia), ==, PT_OK);
  CHECK_INT(pt_store_rule_add(st, &b, &ib), ==, PT_OK);
  CHECK_INT(pt_store_rule_add(st, &bad, &ix), ==, PT_EINVAL);
  cJSON *rules = NULL;
  CHECK_INT(pt_store_rules(st, NULL, &rules), ==, PT_OK);
  CHECK_INT(cJSON_GetArraySize(rules), ==, 2);
  cJSON_Delete(rules);
  CHECK_INT(pt_store_rules(st, "fs_write", &rules), ==, PT_OK);
  CHECK_INT(cJSON_GetArraySize(rules), ==, 1);
  CHECK_STR(s_of(rules->child, "pattern"), "*");
  CHECK(cJSON_IsNull(cJSON_GetObjectItem(rules->child, "workspace")));
  cJSON_Delete(rules);
}

static void pending_requests_survive_a_restart_until_answered(void)
{
  fresh();
  int64_t call = add_call("k", 0), req = 0;
  CHECK_INT(pt_store_request_add(st, call, "writes outside the workspace",
                                 &req), ==, PT_OK);
  CHECK_INT(pt_store_request_add(st, 999, NULL, NULL), ==, PT_ENOENT);
  pt_store_close(st);
  char err[1024];
  CHECK_INT(pt_store_open_dir(dir, NULL, &st, err, sizeof err), ==, PT_OK);
  cJSON *pending = NULL;
  CHECK_INT(pt_store_requests_pending(st, sid, &pending), ==, PT_OK);
  CHECK_INT(cJSON_GetArraySize(pending), ==, 1);
  CHECK_STR(s_of(pending->child, "tool"), "fs_read");
  CHECK_STR(s_of(pending->child, "reason"), "writes outside the workspace");
  CHECK_STR(s_of(cJSON_GetObjectItem(pending->child, "arguments"), "path"),
            "a.txt");
  cJSON_Delete(pending);
  pt_store_decision yes = { .decision = "allow", .decided_by = "user" };
  CHECK_INT(pt_store_request_answer(st, req, &yes), ==, PT_OK);
  CHECK_INT(pt_store_request_answer(st, req, &yes), ==, PT_ESTATE);
  CHECK_INT(pt_store_request_answer(st, 999, &yes), ==, PT_ENOENT);
  pt_store_decision bad = { .decision = "perhaps", .decided_by = "user" };
  CHECK_INT(pt_store_request_answer(st, req, &bad), ==, PT_EINVAL);
  CHECK_INT(pt_store_requests_pending(st, NULL, &pending), ==, PT_OK);
  CHECK_INT(cJSON_GetArraySize(pending), ==, 0);
  cJSON_Delete(pending);
  cJSON *c = NULL;
  pt_store_tool_call_get(st, call, &c);
  CHECK_STR(s_of(c, "decision"), "allow");
  CHECK_STR(s_of(c, "decided_by"), "user");
  cJSON_Delete(c);

  /* An answer to a call decided meanwhile is refused whole. */
  int64_t call2 = add_call(NULL, 0), req2;
  pt_store_request_add(st, call2, NULL, &req2);
  pt_store_tool_call_decide(st, call2, &yes);
  CHECK_INT(pt_store_request_answer(st, req2, &yes), ==, PT_ESTATE);
  pt_store_requests_pending(st, sid, &pending);
  CHECK_INT(cJSON_GetArraySize(pending), ==, 1);
  cJSON_Delete(pending);
}

static void usage_rows_add_up_by_every_grouping(void)
{
  fresh();
  char other[PT_STORE_ID_LEN];
  pt_store_session_create(st, NULL, other);
  pt_store_usage u = { .session_id = sid, .provider = "claude",
                       .model = "claude-sonnet-4", .input_tokens = 100,
                       .output_tokens = 50, .cache_read_tokens = 10,
                       .cache_write_tokens = 5, .cost_usd = 0.25,
                       .cost_known = 1, .latency_ms = 1200, .retries = 1,
                       .outcome = "ok" };
  CHECK_INT(pt_store_usage_add(st, &u), ==, PT_OK);
  CHECK_INT(pt_store_usage_add(st, &u), ==, PT_OK);
  pt_store_usage local = { .session_id = other, .provider = "ollama",
                           .model = "llama3", .input_tokens = 7,
                           .output_tokens = 3, .latency_ms = -1,
                           .retries = -1, .outcome = "cancelled" };
  CHECK_INT(pt_store_usage_add(st, &local), ==, PT_OK);
  pt_store_usage bad = { .provider = "x" };
  CHECK_INT(pt_store_usage_add(st, &bad), ==, PT_EINVAL);

  cJSON *rows = NULL;
  CHECK_INT(pt_store_usage_report(st, PT_STORE_BY_NONE, 0, &rows), ==, PT_OK);
  CHECK_INT(cJSON_GetArraySize(rows), ==, 1);
  CHECK_INT(n_of(rows->child, "calls"), ==, 3);
  CHECK_INT(n_of(rows->child, "input_tokens"), ==, 207);
  CHECK_INT(n_of(rows->child, "cache_read_tokens"), ==, 20);
  CHECK_INT(n_of(rows->child, "unpriced_calls"), ==, 1);
  CHECK(n_of(rows->child, "cost_usd") > 0.499 &&
        n_of(rows->child, "cost_usd") < 0.501);
  cJSON_Delete(rows);

  CHECK_INT(pt_store_usage_report(st, PT_STORE_BY_MODEL, 0, &rows), ==, PT_OK);
  CHECK_INT(cJSON_GetArraySize(rows), ==, 2);
  CHECK_STR(s_of(rows->child, "key"), "claude-sonnet-4"); /* costliest */
  cJSON_Delete(rows);
  CHECK_INT(pt_store_usage_report(st, PT_STORE_BY_PROVIDER, 0, &rows), ==,
            PT_OK);
  CHECK_STR(s_of(cJSON_GetArrayItem(rows, 1), "key"), "ollama");
  cJSON_Delete(rows);
  CHECK_INT(pt_store_usage_report(st, PT_STORE_BY_DAY, 0, &rows), ==, PT_OK);
  CHECK_INT(cJSON_GetArraySize(rows), ==, 1);
  CHECK_INT(strlen(s_of(rows->child, "key")), ==, 10);
  cJSON_Delete(rows);
  CHECK_INT(pt_store_usage_report(st, PT_STORE_BY_SESSION, 0, &rows), ==,
            PT_OK);
  CHECK_STR(s_of(rows->child, "key"), sid);
  cJSON_Delete(rows);
  /* Nothing after a moment in the future. */
  CHECK_INT(pt_store_usage_report(st, PT_STORE_BY_MODEL, INT64_MAX / 2,
                                  &rows), ==, PT_OK);
  CHECK_INT(cJSON_GetArraySize(rows), ==, 0);
  cJSON_Delete(rows);
  CHECK_INT(pt_store_usage_report(st, (pt_store_usage_by)9, 0, &rows), ==,
            PT_EINVAL);

  /* A session's totals come from its usage. */
  cJSON *s = NULL;
  pt_store_session_get(st, sid, &s);
  CHECK_INT(n_of(s, "input_tokens"), ==, 200);
  CHECK(n_of(s, "cost_usd") > 0.499);
  cJSON_Delete(s);
}

int main(void)
{
  RUN(a_completed_call_is_found_by_its_key_and_not_added_twice);
  RUN(calls_move_through_their_states_in_order_only);
  RUN(ending_a_turn_interrupts_its_running_calls);
  RUN(decisions_leave_an_audit_trail);
  RUN(rules_are_kept_and_listed_by_tool);
  RUN(pending_requests_survive_a_restart_until_answered);
  RUN(usage_rows_add_up_by_every_grouping);
  pt_store_close(st);
  h_rmtree(dir);
  free(dir);
  return check_report();
}
