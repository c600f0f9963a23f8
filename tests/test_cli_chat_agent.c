/*
 * tests/test_cli_chat_agent.c: `portico chat` with tools, through the real
 * binary: the bundled claude provider against a fake Anthropic API in this
 * process, the bundled tools plugin, the shipped default policy, and a
 * workspace of the test's. The fake answers first with a tool call and
 * then with text, so the second request shows what the model was told.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "chat_agent_cases.h"
#include "check.h"
#include "harness.h"
#include "run_cmd.h"
#include "store/store.h"

static cmd_result r;
static cac_env ce;
static fake_anthropic *fa;

static const cac_step READ_NOTE = { .id = "toolu_1", .name = "fs_read",
                                    .args = "{\"path\":\"note.txt\"}" };
/* The default policy asks about it: the redirection writes a file. */
static const cac_step CAT_NOTE = {
  .id = "toolu_1", .name = "shell_exec",
  .args = "{\"command\":\"echo hi > made.txt; cat note.txt\"}" };

/* A fresh fake with `first` then the answer queued, claude pointed at
 * it (`extra` is more Lua table fields, may be ""). */
static void begin(const cac_step *first, const char *extra)
{
  fa = cac_fake_start(&ce, first, extra);
}

static void end(void)
{
  fake_anthropic_stop(fa);
  fa = NULL;
}

#define CHAT(...)                                                          \
  do {                                                                     \
    const char *argv_[] = { "--no-default-plugins", "--plugins", ce.dir,   \
                            "chat", "--workspace", ce.ws, __VA_ARGS__,     \
                            NULL };                                        \
    run_portico(&r, argv_, ce.env);                                        \
  } while (0)

#define CLAUDE "-p", "claude", "-m", "claude-sonnet-4-5"

/* Request i's body ("" when it did not arrive). */
static const char *body(size_t i)
{
  const fake_anthropic_request *q = fake_anthropic_request_at(fa, i);
  return q ? q->body : "";
}

static void yes_runs_the_tool_and_sends_its_result_back(void)
{
  begin(&CAT_NOTE, "");
  CHAT(CLAUDE, "--tools", "tools", "--yes", "what", "does", "it", "say?");
  CHECK_INT(r.status, ==, 0);
  CHECK_STR(r.out, "The note says hello.\n");
  CHECK_CONTAINS(r.err, "shell_exec");
  CHECK_CONTAINS(r.err, "hello from the note");
  CHECK_INT(fake_anthropic_request_count(fa), ==, 2);
  CHECK_CONTAINS(body(0), "\"name\":\"shell_exec\"");
  CHECK_CONTAINS(body(1), "\"type\":\"tool_result\"");
  CHECK_CONTAINS(body(1), "hello from the note");
  end();
}

static void without_yes_or_a_terminal_an_ask_is_denied_with_a_reason(void)
{
  begin(&CAT_NOTE, "");
  CHAT(CLAUDE, "--tools", "shell_exec", "go");
  CHECK_INT(r.status, ==, 0);
  CHECK_STR(r.out, "The note says hello.\n");
  CHECK_CONTAINS(r.err, "denied");
  CHECK_INT(fake_anthropic_request_count(fa), ==, 2);
  CHECK_CONTAINS(body(1), "\"is_error\":true");
  CHECK_CONTAINS(body(1), "no one is there to give it");
  CHECK(strstr(body(1), "hello from the note") == NULL);
  end();
}

/* The session's id from the --json output's first line. */
static void session_of(const char *out, char *id, size_t cap)
{
  cJSON *o = cJSON_ParseWithOpts(out, NULL, 0);
  const char *s = cJSON_GetStringValue(cJSON_GetObjectItem(o, "id"));
  snprintf(id, cap, "%s", s ? s : "");
  cJSON_Delete(o);
}

static void json_adds_permission_and_tool_result_lines(void)
{
  begin(&READ_NOTE, "");
  CHAT(CLAUDE, "--tools", "fs_read,fs_list", "--json", "read the note");
  CHECK_INT(r.status, ==, 0);
  int permission = 0, result = 0;
  char copy[sizeof r.out];
  memcpy(copy, r.out, sizeof copy);
  for (char *line = strtok(copy, "\n"); line; line = strtok(NULL, "\n")) {
    cJSON *o = cJSON_Parse(line);
    CHECK(o != NULL);
    const char *type = cJSON_GetStringValue(cJSON_GetObjectItem(o, "type"));
    if (type && !strcmp(type, "permission")) {
      permission++;
      CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(o, "id")),
                "toolu_1");
      CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(o, "tool")),
                "fs_read");
      CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(o, "decision")),
                "allow");
    } else if (type && !strcmp(type, "tool_result")) {
      result++;
      CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(o, "name")),
                "fs_read");
      CHECK_CONTAINS(cJSON_GetStringValue(cJSON_GetObjectItem(o, "content")),
                     "hello from the note");
      CHECK(cJSON_IsFalse(cJSON_GetObjectItem(o, "is_error")));
    }
    cJSON_Delete(o);
  }
  CHECK_INT(permission, ==, 1);
  CHECK_INT(result, ==, 1);
  char id[64];
  session_of(r.out, id, sizeof id);
  CHECK(id[0] != '\0');
  end();

  /* The stored turn is the history of the next: call, result, answer. */
  begin(NULL, "");
  CHAT(CLAUDE, "--tools", "fs_read", "--session", id, "and", "then?");
  CHECK_INT(r.status, ==, 0);
  const char *b = body(0);
  CHECK_CONTAINS(b, "\"type\":\"tool_use\"");
  CHECK_CONTAINS(b, "\"type\":\"tool_result\"");
  CHECK_CONTAINS(b, "hello from the note");
  CHECK_CONTAINS(b, "The note says hello.");
  CHECK_CONTAINS(b, "and then?");
  end();
}

static void an_agent_profile_picks_provider_model_and_tools(void)
{
  begin(&READ_NOTE, "agents = { reader = { provider = 'claude', model = "
                    "'claude-haiku-4-5', system = 'You read notes.', "
                    "tools = { 'fs_read' }, max_turns = 4 } }");
  CHAT("--agent", "reader", "read it");
  CHECK_INT(r.status, ==, 0);
  CHECK_STR(r.out, "The note says hello.\n");
  CHECK_INT(fake_anthropic_request_count(fa), ==, 2);
  CHECK_CONTAINS(body(0), "\"model\":\"claude-haiku-4-5\"");
  CHECK_CONTAINS(body(0), "You read notes.");
  CHECK_CONTAINS(body(0), "\"name\":\"fs_read\"");
  CHECK(strstr(body(0), "shell_exec") == NULL);
  CHECK_CONTAINS(body(1), "hello from the note");
  end();

  begin(NULL, "");
  CHAT("--agent", "nosuch", "hi");
  CHECK_INT(r.status, ==, 1);
  CHECK_CONTAINS(r.err, "no agent named 'nosuch'");
  end();
}

static void a_policy_file_denies_the_call(void)
{
  static const char LUA[] =
      "return function(call, ctx)\n"
      "  if call.tool == 'fs_read' then\n"
      "    return 'deny', 'reading is off today', 'no-reads'\n"
      "  end\n"
      "  return 'allow', 'fine', 'rest'\n"
      "end\n";
  h_write_file(ce.dir, "deny_reads.lua", LUA, strlen(LUA), 0644);
  char path[4200];
  snprintf(path, sizeof path, "%s/deny_reads.lua", ce.dir);
  begin(&READ_NOTE, "");
  CHAT(CLAUDE, "--tools", "tools", "--yes", "--policy", path, "read it");
  CHECK_INT(r.status, ==, 0);
  CHECK_CONTAINS(r.err, "reading is off today");
  CHECK_CONTAINS(body(1), "\"is_error\":true");
  CHECK_CONTAINS(body(1), "reading is off today");
  CHECK(strstr(body(1), "hello from the note") == NULL);
  end();
}

/* The tool calls of session `id`, in the order of their decisions, each
 * with its decision merged in ({"decided_by","reason",...}). */
static cJSON *stored_calls(const char *id)
{
  char path[4200], err[256];
  snprintf(path, sizeof path, "%s/portico.db", ce.dir);
  pt_store_options so = { .flags = PT_STORE_READONLY };
  pt_store *st = NULL;
  cJSON *calls = cJSON_CreateArray(), *decisions = NULL, *d;
  CHECK_INT(pt_store_open(path, &so, &st, err, sizeof err), ==, PT_OK);
  if (!st) return calls;
  CHECK_INT(pt_store_decisions(st, id, &decisions), ==, PT_OK);
  cJSON_ArrayForEach(d, decisions) {
    cJSON *tc = NULL;
    double row = cJSON_GetNumberValue(cJSON_GetObjectItem(d, "tool_call_id"));
    CHECK_INT(pt_store_tool_call_get(st, (int64_t)row, &tc), ==, PT_OK);
    if (tc) cJSON_AddItemToArray(calls, tc);
  }
  cJSON_Delete(decisions);
  pt_store_close(st);
  return calls;
}

static const char *member(const cJSON *o, const char *key)
{
  const char *s = cJSON_GetStringValue(cJSON_GetObjectItem(o, key));
  return s ? s : "";
}

static void each_tool_call_is_saved_with_its_decision_and_result(void)
{
  /* Asked, answered by --yes: decided by the user. */
  begin(&CAT_NOTE, "");
  CHAT(CLAUDE, "--tools", "tools", "--yes", "--json", "what", "is", "it?");
  CHECK_INT(r.status, ==, 0);
  char id[64];
  session_of(r.out, id, sizeof id);
  cJSON *calls = stored_calls(id);
  CHECK_INT(cJSON_GetArraySize(calls), ==, 1);
  const cJSON *c = cJSON_GetArrayItem(calls, 0);
  CHECK_STR(member(c, "name"), "shell_exec");
  CHECK_STR(member(c, "call_id"), "toolu_1");
  CHECK_CONTAINS(member(c, "idempotency_key"), id);
  CHECK_CONTAINS(member(c, "idempotency_key"), "/toolu_1");
  CHECK_STR(member(cJSON_GetObjectItem(c, "arguments"), "command"),
            "echo hi > made.txt; cat note.txt");
  CHECK_STR(member(c, "decision"), "allow");
  CHECK_STR(member(c, "decided_by"), "user");
  CHECK_STR(member(c, "status"), "done");
  CHECK_CONTAINS(member(c, "result"), "hello from the note");
  CHECK(cJSON_IsFalse(cJSON_GetObjectItem(c, "is_error")));
  double started = cJSON_GetNumberValue(cJSON_GetObjectItem(c, "started_at"));
  double ended = cJSON_GetNumberValue(cJSON_GetObjectItem(c, "ended_at"));
  CHECK(started > 0);
  CHECK(ended >= started);
  cJSON_Delete(calls);
  end();

  /* Allowed by the policy: decided by it, the rule in the reason. */
  begin(&READ_NOTE, "");
  CHAT(CLAUDE, "--tools", "fs_read", "--json", "read it");
  CHECK_INT(r.status, ==, 0);
  session_of(r.out, id, sizeof id);
  calls = stored_calls(id);
  CHECK_INT(cJSON_GetArraySize(calls), ==, 1);
  c = cJSON_GetArrayItem(calls, 0);
  CHECK_STR(member(c, "name"), "fs_read");
  CHECK_STR(member(cJSON_GetObjectItem(c, "arguments"), "path"), "note.txt");
  CHECK_STR(member(c, "decision"), "allow");
  CHECK_STR(member(c, "decided_by"), "policy");
  CHECK(strlen(member(c, "reason")) > 0);
  CHECK_STR(member(c, "status"), "done");
  CHECK_CONTAINS(member(c, "result"), "hello from the note");
  cJSON_Delete(calls);
  end();

  /* Denied for want of a person: decided, never started. */
  begin(&CAT_NOTE, "");
  CHAT(CLAUDE, "--tools", "shell_exec", "--json", "go");
  CHECK_INT(r.status, ==, 0);
  session_of(r.out, id, sizeof id);
  calls = stored_calls(id);
  CHECK_INT(cJSON_GetArraySize(calls), ==, 1);
  c = cJSON_GetArrayItem(calls, 0);
  CHECK_STR(member(c, "decision"), "deny");
  CHECK_STR(member(c, "decided_by"), "no-prompt");
  CHECK_STR(member(c, "status"), "denied");
  CHECK(cJSON_IsNull(cJSON_GetObjectItem(c, "started_at")));
  cJSON_Delete(calls);
  end();
}

/* Each fake answer reports 10 input and 5 output tokens: at
 * claude-sonnet-4-5's $3 and $15 per million, $0.000105. */
static void a_budget_stops_the_loop_before_the_next_model_call(void)
{
  begin(&READ_NOTE, "");
  CHAT(CLAUDE, "--tools", "fs_read", "--max-tokens-total", "15", "go");
  CHECK_INT(r.status, ==, 0);
  CHECK_INT(fake_anthropic_request_count(fa), ==, 1);
  CHECK_CONTAINS(r.err, "the token budget of 15 was reached");
  CHECK_CONTAINS(r.err, "fs_read");
  end();

  begin(&READ_NOTE, "");
  CHAT(CLAUDE, "--tools", "fs_read", "--max-tokens-total", "16", "go");
  CHECK_INT(r.status, ==, 0);
  CHECK_INT(fake_anthropic_request_count(fa), ==, 2);
  CHECK_STR(r.out, "The note says hello.\n");
  end();

  begin(&READ_NOTE, "");
  CHAT(CLAUDE, "--tools", "fs_read", "--max-cost", "0.0001", "go");
  CHECK_INT(r.status, ==, 0);
  CHECK_INT(fake_anthropic_request_count(fa), ==, 1);
  CHECK_CONTAINS(r.err, "the cost budget of $0.0001 was reached");
  end();

  /* From the profile; a flag overrides it. */
  begin(&READ_NOTE, "agents = { thrifty = { provider = 'claude', model = "
                    "'claude-sonnet-4-5', tools = 'fs_read', "
                    "max_cost_usd = 0.0001, max_tokens_total = 1000 } }");
  CHAT("--agent", "thrifty", "go");
  CHECK_INT(r.status, ==, 0);
  CHECK_INT(fake_anthropic_request_count(fa), ==, 1);
  CHECK_CONTAINS(r.err, "cost budget");
  end();
  begin(&READ_NOTE, "agents = { thrifty = { provider = 'claude', model = "
                    "'claude-sonnet-4-5', tools = 'fs_read', "
                    "max_cost_usd = 0.0001 } }");
  CHAT("--agent", "thrifty", "--max-cost", "1", "go");
  CHECK_INT(r.status, ==, 0);
  CHECK_INT(fake_anthropic_request_count(fa), ==, 2);
  end();

  begin(NULL, "");
  CHAT(CLAUDE, "--tools", "fs_read", "--max-cost", "-1", "go");
  CHECK_INT(r.status, ==, 1);
  CHECK_CONTAINS(r.err, "--max-cost needs a number above 0");
  end();
}

static void an_unknown_tool_is_one_clear_line(void)
{
  begin(NULL, "");
  CHAT(CLAUDE, "--tools", "fs_read,nosuch", "hi");
  CHECK_INT(r.status, ==, 1);
  CHECK_CONTAINS(r.err, "no tool or plugin named 'nosuch'");
  CHECK_INT(fake_anthropic_request_count(fa), ==, 0);
  end();
}

int main(void)
{
  cac_setup(&ce);
  RUN(yes_runs_the_tool_and_sends_its_result_back);
  RUN(without_yes_or_a_terminal_an_ask_is_denied_with_a_reason);
  RUN(json_adds_permission_and_tool_result_lines);
  RUN(an_agent_profile_picks_provider_model_and_tools);
  RUN(a_policy_file_denies_the_call);
  RUN(an_unknown_tool_is_one_clear_line);
  RUN(each_tool_call_is_saved_with_its_decision_and_result);
  RUN(a_budget_stops_the_loop_before_the_next_model_call);
  cac_teardown(&ce);
  return check_report();
}
