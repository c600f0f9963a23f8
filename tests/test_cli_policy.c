/*
 * tests/test_cli_policy.c: `portico policy` through the real binary:
 * explain (text and JSON, stored rules included, a hostile policy), stored
 * rules added, listed and forgotten, `policy test` with a passing and a
 * failing case file, and which policy file is used (shipped, the user's,
 * --policy).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "check.h"
#include "harness.h"
#include "run_cmd.h"

#define WS "/home/tester/proj"

static cmd_result r;
static char *tmp, *cfg, *data;
static char env_cfg[4200], env_data[4200];
static const char *env[4];

#define RUN_P(...)                                                         \
  do {                                                                     \
    const char *argv_[] = { "policy", __VA_ARGS__, NULL };                 \
    run_portico(&r, argv_, env);                                           \
  } while (0)

static char *path_in(const char *dir, const char *name)
{
  static char buf[4][4200];
  static int next;
  char *p = buf[next++ % 4];
  snprintf(p, sizeof buf[0], "%s/%s", dir, name);
  return p;
}

static void write_text(const char *dir, const char *name, const char *text)
{
  h_write_file(dir, name, text, strlen(text), 0644);
}

static cJSON *out_json(void)
{
  cJSON *j = cJSON_Parse(r.out);
  if (!j) check_fail(__FILE__, __LINE__, "not JSON: %s", r.out);
  return j;
}

static const char *s_of(const cJSON *o, const char *k)
{
  return cJSON_GetStringValue(cJSON_GetObjectItem(o, k));
}

static void help_and_usage_errors(void)
{
  RUN_P("--help");
  CHECK_INT(r.status, ==, 0);
  CHECK_CONTAINS(r.out, "portico policy explain TOOL");
  CHECK_CONTAINS(r.out, "portico policy test CASES.lua");
  RUN_P("frobnicate");
  CHECK_INT(r.status, ==, 2);
  CHECK_CONTAINS(r.err, "unknown subcommand 'frobnicate'");
  RUN_P("explain");
  CHECK_INT(r.status, ==, 2);
  RUN_P("explain", "fs_read", "not json");
  CHECK_INT(r.status, ==, 2);
  CHECK_CONTAINS(r.err, "ARGS_JSON must be a JSON object");
  RUN_P("explain", "fs_read", "{}", "--flags", "reads,teleports");
  CHECK_INT(r.status, ==, 2);
  RUN_P("forget", "abc");
  CHECK_INT(r.status, ==, 2);
  RUN_P("explain", "fs_read", "{}", "--bogus");
  CHECK_INT(r.status, ==, 2);
  CHECK_CONTAINS(r.err, "unknown option '--bogus'");
}

static void explain_prints_decision_reason_and_rule(void)
{
  RUN_P("explain", "fs_read", "{\"path\":\"src/main.c\"}", "--workspace", WS);
  CHECK_INT(r.status, ==, 0);
  CHECK_CONTAINS(r.out, "decision: allow\n");
  CHECK_CONTAINS(r.out, "rule:     read-workspace\n");
  CHECK_CONTAINS(r.out, "reason:   reads inside the workspace\n");
  CHECK_CONTAINS(r.out, "share/portico/lua/policy.lua");

  RUN_P("explain", "shell_exec", "{\"command\":\"git status && rm -rf ~\"}",
        "--workspace", WS, "--json");
  CHECK_INT(r.status, ==, 0);
  cJSON *j = out_json();
  CHECK_STR(s_of(j, "decision"), "deny");
  CHECK_STR(s_of(j, "rule"), "write-outside");
  CHECK_CONTAINS(s_of(j, "reason"), "`rm -rf ~`");
  CHECK(cJSON_IsNull(cJSON_GetObjectItem(j, "stored_rule")));
  cJSON_Delete(j);

  RUN_P("explain", "shell_exec", "{\"command\":\"git status\"}", "--workspace", WS);
  CHECK_CONTAINS(r.out, "decision: allow\n");
  RUN_P("explain", "http_fetch", "{\"url\":\"http://169.254.169.254/\"}");
  CHECK_CONTAINS(r.out, "decision: deny\nrule:     cloud-metadata\n");
  /* --flags overrides what the bundled table says. */
  RUN_P("explain", "my_tool", "{\"path\":\"a.txt\"}", "--flags", "reads", "--workspace", WS);
  CHECK_CONTAINS(r.out, "decision: allow\n");
  RUN_P("explain", "my_tool", "{\"path\":\"a.txt\"}", "--workspace", WS);
  CHECK_CONTAINS(r.out, "decision: ask\nrule:     default\n");
}

static void a_hostile_policy_denies_with_its_line(void)
{
  write_text(tmp, "loop.lua", "return function(call)\n  while true do end\nend\n");
  RUN_P("explain", "fs_read", "{\"path\":\"a.txt\"}", "--policy", path_in(tmp, "loop.lua"));
  CHECK_INT(r.status, ==, 0);
  CHECK_CONTAINS(r.out, "decision: deny\nrule:     policy-error\n");
  CHECK_CONTAINS(r.out, "loop.lua:2: instruction limit of");
  RUN_P("explain", "fs_read", "{}", "--policy", path_in(tmp, "missing.lua"));
  CHECK_INT(r.status, ==, 1);
  CHECK_CONTAINS(r.err, "missing.lua: cannot read");
}

static void stored_rules_are_added_listed_used_and_forgotten(void)
{
  RUN_P("rules");
  CHECK_INT(r.status, ==, 0);
  CHECK_CONTAINS(r.err, "no stored rules");
  RUN_P("rules", "--json");
  CHECK_STR(r.out, "[]\n");
  RUN_P("forget", "7");
  CHECK_INT(r.status, ==, 1);
  CHECK_CONTAINS(r.err, "no rule 7");

  RUN_P("allow", "shell_exec", "npm test", "--workspace", WS);
  CHECK_INT(r.status, ==, 0);
  CHECK_STR(r.out, "rule 1: always allow shell_exec \"npm test\" in " WS "\n");
  RUN_P("deny", "fs_read", "~/notes/**");
  CHECK_INT(r.status, ==, 0);
  CHECK_CONTAINS(r.out, "rule 2: always deny fs_read \"~/notes/**\" everywhere");

  RUN_P("rules");
  CHECK_INT(r.status, ==, 0);
  CHECK_CONTAINS(r.out, "npm test");
  CHECK_CONTAINS(r.out, "(everywhere)");
  RUN_P("rules", "--json");
  cJSON *rows = out_json();
  CHECK_INT(cJSON_GetArraySize(rows), ==, 2);
  CHECK_STR(s_of(cJSON_GetArrayItem(rows, 0), "pattern"), "npm test");
  CHECK_STR(s_of(cJSON_GetArrayItem(rows, 0), "workspace"), WS);
  CHECK_STR(s_of(cJSON_GetArrayItem(rows, 1), "decision"), "deny");
  cJSON_Delete(rows);

  RUN_P("explain", "shell_exec", "{\"command\":\"npm test\"}", "--workspace", WS, "--json");
  cJSON *j = out_json();
  CHECK_STR(s_of(j, "decision"), "allow");
  CHECK_STR(s_of(j, "rule"), "stored:1");
  CHECK_INT(cJSON_GetObjectItem(j, "stored_rule")->valueint, ==, 1);
  cJSON_Delete(j);
  RUN_P("explain", "shell_exec", "{\"command\":\"npm test && rm -rf ~\"}", "--workspace", WS);
  CHECK_CONTAINS(r.out, "decision: deny\n");
  RUN_P("explain", "fs_read", "{\"path\":\"~/notes/todo.md\"}", "--workspace", WS);
  CHECK_CONTAINS(r.out, "decision: deny\nrule:     stored:2\n");

  RUN_P("forget", "1");
  CHECK_INT(r.status, ==, 0);
  CHECK_STR(r.out, "forgot rule 1\n");
  RUN_P("forget", "1");
  CHECK_INT(r.status, ==, 1);
  CHECK_CONTAINS(r.err, "no rule 1");
  RUN_P("explain", "shell_exec", "{\"command\":\"npm test\"}", "--workspace", WS);
  CHECK_CONTAINS(r.out, "decision: ask\n");
}

static const char passing[] =
    "return {\n"
    "  { tool = 'fs_read', args = { path = 'src/main.c' }, expect = 'allow', rule = 'read-workspace' },\n"
    "  { tool = 'fs_read', args = { path = '~/.ssh/id_rsa' }, expect = 'deny', rule = 'secrets' },\n"
    "  { tool = 'fs_write', args = { path = 'x' }, expect = 'ask' },\n"
    "  { tool = 'shell_exec', args = { command = 'git status' }, expect = 'allow' },\n"
    "  { tool = 'shell_exec', args = { command = 'git status && rm -rf ~' }, expect = 'deny' },\n"
    "  { tool = 'http_fetch', args = { url = 'https://example.com' }, expect = 'ask', rule = 'network' },\n"
    "  { tool = 'my_tool', flags = { 'reads' }, args = { paths = { 'a', 'b/c' } }, expect = 'allow' },\n"
    "  { name = 'elsewhere', tool = 'fs_read', args = { path = 'x' }, workspace = '/srv/other', expect = 'allow' },\n"
    "  { tool = 'fs_list', expect = 'allow' },\n"
    "}\n";

static const char failing[] =
    "return {\n"
    "  { tool = 'fs_read', args = { path = 'src/main.c' }, expect = 'allow' },\n"
    "  { name = 'wrong', tool = 'shell_exec', args = { command = 'rm -rf ~' }, expect = 'allow' },\n"
    "  { tool = 'fs_read', args = { path = '/etc/shadow' }, expect = 'deny', rule = 'not-this-one' },\n"
    "  { tool = 'fs_read', args = { path = 'x' } },\n"
    "}\n";

static void policy_test_reports_each_mismatch(void)
{
  write_text(tmp, "pass.lua", passing);
  write_text(tmp, "fail.lua", failing);
  RUN_P("test", path_in(tmp, "pass.lua"), "--workspace", WS);
  CHECK_INT(r.status, ==, 0);
  CHECK_CONTAINS(r.out, "9 cases, 9 passed, 0 failed");
  CHECK(strstr(r.out, "FAIL") == NULL);

  RUN_P("test", path_in(tmp, "fail.lua"), "--workspace", WS);
  CHECK_INT(r.status, ==, 1);
  CHECK_CONTAINS(r.out, "FAIL case 2 \"wrong\" (shell_exec {\"command\":\"rm -rf ~\"}): "
                        "expected allow, got deny (rule write-outside:");
  CHECK_CONTAINS(r.out, "FAIL case 3 (fs_read {\"path\":\"/etc/shadow\"}): expected rule "
                        "not-this-one, got rule secrets");
  CHECK_CONTAINS(r.out, "FAIL case 4 (fs_read {\"path\":\"x\"}): a case needs tool, expect");
  CHECK(strstr(r.out, "FAIL case 1") == NULL);
  CHECK_CONTAINS(r.out, "4 cases, 1 passed, 3 failed");

  write_text(tmp, "broken.lua", "return {\n  { tool = \n");
  RUN_P("test", path_in(tmp, "broken.lua"));
  CHECK_INT(r.status, ==, 1);
  CHECK_CONTAINS(r.err, "broken.lua:3:");
  write_text(tmp, "notalist.lua", "return 5\n");
  RUN_P("test", path_in(tmp, "notalist.lua"));
  CHECK_INT(r.status, ==, 1);
  CHECK_CONTAINS(r.err, "must return a list of cases");
  /* The same cases against another policy. */
  write_text(tmp, "open.lua", "return function() return 'allow', 'open', 'open' end\n");
  RUN_P("test", path_in(tmp, "fail.lua"), "--policy", path_in(tmp, "open.lua"));
  CHECK_INT(r.status, ==, 1);
  CHECK_CONTAINS(r.out, "4 cases, 2 passed, 2 failed");
}

static void the_users_policy_replaces_the_shipped_one(void)
{
  const char *mine = "local rules = require 'rules'\n"
                     "return require('policy'):with {\n"
                     "  rules.allow { name = 'mine', commands = 'npm test' },\n"
                     "}\n";
  char dir[4200];
  snprintf(dir, sizeof dir, "%s/portico", cfg);
  CHECK_INT(mkdir(dir, 0755), ==, 0);
  write_text(dir, "policy.lua", mine);
  RUN_P("explain", "shell_exec", "{\"command\":\"npm test\"}", "--workspace", WS);
  CHECK_CONTAINS(r.out, "decision: allow\nrule:     mine\n");
  CHECK_CONTAINS(r.out, "portico/policy.lua");
  RUN_P("explain", "shell_exec", "{\"command\":\"npm test\"}", "--workspace", WS,
        "--policy", path_in(tmp, "open.lua"));
  CHECK_CONTAINS(r.out, "rule:     open\n");
}

int main(void)
{
  tmp = h_tempdir();
  cfg = h_tempdir();
  data = h_tempdir();
  snprintf(env_cfg, sizeof env_cfg, "XDG_CONFIG_HOME=%s", cfg);
  snprintf(env_data, sizeof env_data, "PORTICO_DATA_DIR=%s", data);
  env[0] = env_cfg;
  env[1] = env_data;
  env[2] = "HOME=/home/tester";
  RUN(help_and_usage_errors);
  RUN(explain_prints_decision_reason_and_rule);
  RUN(a_hostile_policy_denies_with_its_line);
  RUN(stored_rules_are_added_listed_used_and_forgotten);
  RUN(policy_test_reports_each_mismatch);
  RUN(the_users_policy_replaces_the_shipped_one);
  h_rmtree(tmp);
  h_rmtree(cfg);
  h_rmtree(data);
  free(tmp);
  free(cfg);
  free(data);
  return check_report();
}
