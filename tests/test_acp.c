/*
 * tests/test_acp.c: `portico acp` through the real binary over pipes: the
 * bundled claude provider against a fake Anthropic API in this process,
 * the bundled tools plugin and the shipped default policy, which asks
 * about a shell command that writes a file, so the ask goes to the client
 * as session/request_permission.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "acp_client.h"
#include "chat_agent_cases.h"
#include "check.h"

#define MS 15000

static cac_env ce;
static fake_anthropic *fa;
static ac_client cl;
static char stored[64];   /* the session the first case saved */

static const cac_step CAT_NOTE = {
  .id = "toolu_1", .name = "shell_exec",
  .args = "{\"command\":\"echo hi > made.txt; cat note.txt\"}" };

static void start(const cac_step *first)
{
  fa = cac_fake_start(&ce, first, "");
  const char *argv[] = { "--no-default-plugins", "--plugins", ce.dir, "acp",
                         "-p", "claude", "-m", "claude-sonnet-4-5",
                         "--tools", "tools", NULL };
  ac_start(&cl, argv, ce.env);
}

static void stop(void)
{
  CHECK_INT(ac_stop(&cl, 10000), ==, 0);
  fake_anthropic_stop(fa);
  fa = NULL;
}

static const char *str(const cJSON *o, const char *path1, const char *path2)
{
  const cJSON *v = cJSON_GetObjectItem(o, path1);
  if (path2) v = cJSON_GetObjectItem(v, path2);
  return cJSON_GetStringValue(v) ? cJSON_GetStringValue(v) : "";
}

static int error_code(const cJSON *m)
{
  const cJSON *c = cJSON_GetObjectItem(cJSON_GetObjectItem(m, "error"),
                                       "code");
  return cJSON_IsNumber(c) ? c->valueint : 0;
}

static void initialize(void)
{
  ac_send(&cl, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\","
               "\"params\":{\"protocolVersion\":1,\"clientCapabilities\":"
               "{\"fs\":{\"readTextFile\":false}}}}");
  const cJSON *r = ac_response(&cl, 1, MS);
  CHECK(r != NULL);
  const cJSON *res = cJSON_GetObjectItem(r, "result");
  CHECK_INT(cJSON_GetObjectItem(res, "protocolVersion")->valueint, ==, 1);
  const cJSON *caps = cJSON_GetObjectItem(res, "agentCapabilities");
  CHECK(cJSON_IsTrue(cJSON_GetObjectItem(caps, "loadSession")));
  CHECK(cJSON_IsObject(cJSON_GetObjectItem(caps, "promptCapabilities")));
}

/* session/new in the workspace; its id in `id`. */
static void new_session(int rpc, char *id, size_t cap)
{
  ac_send(&cl, "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"session/new\","
               "\"params\":{\"cwd\":\"%s\",\"mcpServers\":[]}}", rpc, ce.ws);
  const cJSON *r = ac_response(&cl, rpc, MS);
  CHECK(r != NULL);
  snprintf(id, cap, "%s", str(cJSON_GetObjectItem(r, "result"), "sessionId",
                              NULL));
  CHECK(id[0] != '\0');
}

static void prompt(int rpc, const char *sid, const char *text)
{
  ac_send(&cl, "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"session/prompt\","
               "\"params\":{\"sessionId\":\"%s\",\"prompt\":[{\"type\":"
               "\"text\",\"text\":\"%s\"}]}}", rpc, sid, text);
}

/* Updates of kind `kind` seen so far (with toolCallId/status when given). */
static int count_updates(const char *kind, const char *status,
                         const char *text)
{
  int n = 0;
  const cJSON *m;
  cJSON_ArrayForEach(m, cl.seen) {
    if (strcmp(str(m, "method", NULL), "session/update")) continue;
    const cJSON *u = cJSON_GetObjectItem(cJSON_GetObjectItem(m, "params"),
                                         "update");
    if (strcmp(str(u, "sessionUpdate", NULL), kind)) continue;
    if (status && strcmp(str(u, "status", NULL), status)) continue;
    if (text && !strstr(str(u, "content", "text"), text)) continue;
    n++;
  }
  return n;
}

static void answer(const cJSON *req, const char *option)
{
  int id = cJSON_GetObjectItem(req, "id")->valueint;
  if (option)
    ac_send(&cl, "{\"jsonrpc\":\"2.0\",\"id\":%d,\"result\":{\"outcome\":"
                 "{\"outcome\":\"selected\",\"optionId\":\"%s\"}}}", id,
            option);
  else
    ac_send(&cl, "{\"jsonrpc\":\"2.0\",\"id\":%d,\"result\":{\"outcome\":"
                 "{\"outcome\":\"cancelled\"}}}", id);
}

static void a_full_session_with_an_allowed_tool_call(void)
{
  start(&CAT_NOTE);
  initialize();
  /* Bad input is answered and the process carries on. */
  ac_send(&cl, "{not json");
  const cJSON *e = ac_next(&cl, MS);
  CHECK_INT(error_code(e), ==, -32700);
  CHECK(cJSON_IsNull(cJSON_GetObjectItem(e, "id")));
  ac_send(&cl, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"no/such\"}");
  CHECK_INT(error_code(ac_response(&cl, 2, MS)), ==, -32601);
  ac_send(&cl, "{\"jsonrpc\":\"1.0\",\"id\":3,\"method\":\"initialize\"}");
  CHECK_INT(error_code(ac_response(&cl, 3, MS)), ==, -32600);
  ac_send(&cl, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"session/new\","
               "\"params\":{\"cwd\":\"relative\"}}");
  CHECK_INT(error_code(ac_response(&cl, 4, MS)), ==, -32602);

  char sid[64];
  new_session(5, sid, sizeof sid);
  snprintf(stored, sizeof stored, "%s", sid);
  prompt(6, sid, "read the note");
  const cJSON *req = ac_request(&cl, "session/request_permission", MS);
  CHECK(req != NULL);
  const cJSON *p = cJSON_GetObjectItem(req, "params");
  CHECK_STR(str(p, "sessionId", NULL), sid);
  CHECK_STR(str(p, "toolCall", "toolCallId"), "toolu_1");
  const char *kinds[] = { "allow_once", "allow_always", "reject_once",
                          "reject_always" };
  const cJSON *opts = cJSON_GetObjectItem(p, "options");
  CHECK_INT(cJSON_GetArraySize(opts), ==, 4);
  for (int i = 0; i < 4 && i < cJSON_GetArraySize(opts); i++)
    CHECK_STR(str(cJSON_GetArrayItem(opts, i), "kind", NULL), kinds[i]);
  CHECK_INT(count_updates("tool_call", "pending", NULL), ==, 1);
  answer(req, "allow_once");
  const cJSON *r = ac_response(&cl, 6, MS);
  CHECK(r != NULL);
  CHECK_STR(str(r, "result", "stopReason"), "end_turn");
  CHECK_INT(count_updates("tool_call_update", "completed", NULL), ==, 1);
  CHECK_INT(count_updates("agent_message_chunk", NULL,
                          "The note says hello."), ==, 1);
  CHECK_INT(fake_anthropic_request_count(fa), ==, 2);
  const fake_anthropic_request *q = fake_anthropic_request_at(fa, 1);
  CHECK_CONTAINS(q ? q->body : "", "hello from the note");
  stop();
}

static void a_rejected_call_is_told_to_the_model(void)
{
  start(&CAT_NOTE);
  initialize();
  char sid[64];
  new_session(2, sid, sizeof sid);
  prompt(3, sid, "go");
  const cJSON *req = ac_request(&cl, "session/request_permission", MS);
  CHECK(req != NULL);
  if (req) answer(req, "reject_once");
  const cJSON *r = ac_response(&cl, 3, MS);
  CHECK_STR(str(r, "result", "stopReason"), "end_turn");
  CHECK_INT(count_updates("tool_call_update", "failed", NULL), ==, 1);
  CHECK_INT(fake_anthropic_request_count(fa), ==, 2);
  const fake_anthropic_request *q = fake_anthropic_request_at(fa, 1);
  CHECK_CONTAINS(q ? q->body : "", "\"is_error\":true");
  CHECK(!q || strstr(q->body, "hello from the note") == NULL);
  stop();
}

static void cancel_mid_turn_ends_it_cancelled(void)
{
  start(&CAT_NOTE);
  initialize();
  char sid[64];
  new_session(2, sid, sizeof sid);
  prompt(3, sid, "go");
  const cJSON *req = ac_request(&cl, "session/request_permission", MS);
  CHECK(req != NULL);
  ac_send(&cl, "{\"jsonrpc\":\"2.0\",\"method\":\"session/cancel\","
               "\"params\":{\"sessionId\":\"%s\"}}", sid);
  if (req) answer(req, NULL);
  const cJSON *r = ac_response(&cl, 3, MS);
  CHECK_STR(str(r, "result", "stopReason"), "cancelled");
  /* The session still works. */
  ac_send(&cl, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"x\"}");
  CHECK_INT(error_code(ac_response(&cl, 4, MS)), ==, -32601);
  stop();
}

static void closing_stdin_mid_turn_ends_the_process(void)
{
  start(&CAT_NOTE);
  initialize();
  char sid[64];
  new_session(2, sid, sizeof sid);
  prompt(3, sid, "go");
  CHECK(ac_request(&cl, "session/request_permission", MS) != NULL);
  /* The client goes away while the agent waits for its answer. */
  CHECK_INT(ac_stop(&cl, 10000), ==, 0);
  fake_anthropic_stop(fa);
  fa = NULL;
}

static void load_replays_the_stored_history(void)
{
  start(NULL);
  initialize();
  ac_send(&cl, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"session/load\","
               "\"params\":{\"sessionId\":\"%s\",\"cwd\":\"%s\","
               "\"mcpServers\":[]}}", stored, ce.ws);
  const cJSON *r = ac_response(&cl, 2, MS);
  CHECK(r != NULL && cJSON_GetObjectItem(r, "result") != NULL);
  CHECK_INT(count_updates("user_message_chunk", NULL, "read the note"), ==,
            1);
  CHECK_INT(count_updates("tool_call", NULL, NULL), ==, 1);
  CHECK_INT(count_updates("tool_call_update", "completed", NULL), ==, 1);
  CHECK_INT(count_updates("agent_message_chunk", NULL,
                          "The note says hello."), ==, 1);
  /* And goes on: a prompt in the loaded session. */
  prompt(3, stored, "again");
  r = ac_response(&cl, 3, MS);
  CHECK_STR(str(r, "result", "stopReason"), "end_turn");
  const fake_anthropic_request *q = fake_anthropic_request_at(fa, 0);
  CHECK_CONTAINS(q ? q->body : "", "hello from the note");
  ac_send(&cl, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"session/load\","
               "\"params\":{\"sessionId\":\"ffffffffffff\",\"cwd\":\"%s\"}}",
          ce.ws);
  CHECK(error_code(ac_response(&cl, 4, MS)) != 0);
  stop();
}

int main(void)
{
  cac_setup(&ce);
  RUN(a_full_session_with_an_allowed_tool_call);
  RUN(a_rejected_call_is_told_to_the_model);
  RUN(cancel_mid_turn_ends_it_cancelled);
  RUN(closing_stdin_mid_turn_ends_the_process);
  RUN(load_replays_the_stored_history);
  cac_teardown(&ce);
  return check_report();
}
