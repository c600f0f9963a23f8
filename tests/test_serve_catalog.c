/*
 * tests/test_serve_catalog.c: the read-only routes of `portico serve` that
 * describe the runtime (health, plugins, providers, models, tools, agents,
 * search, usage), through the real binary on a real socket. The plugins
 * folder holds the bundled claude and tools plugins, the echo test
 * provider and a file that is no plugin at all; claude talks to a fake
 * Anthropic API in this process, which also answers the model listings.
 * One server takes every case, in order: the search and usage cases read
 * what the turn case stored, and the fake's replies are queued in the
 * order the cases ask for them.
 *
 * Sessions and turns themselves are tests/test_serve_turns.c's; keys,
 * Host, Origin and the route table tests/test_serve_http.c's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "chat_agent_cases.h"
#include "check.h"
#include "harness.h"
#include "http_probe.h"
#include "serve_cases.h"
#include "serve_proc.h"

#define MS SC_MS
#define KEY "serve-catalog-test-key-0123456789"
#define AUTH "Authorization: Bearer " KEY "\r\n"
/* A word no reply of the fake contains, so a search hit is the prompt. */
#define WORD "zanzibarite"

static cac_env ce;
static fake_anthropic *fa;
static serve_proc sp = { .pid = -1, .out_fd = -1 };
static int port;       /* 0 when the server did not start */
static char sid[64];   /* the session the turn case made */

/* No -p on the command line and two providers loaded, so the default
 * /api/providers names can only come from default_provider here. */
static const char CONFIG_EXTRA[] =
    "default_provider = 'claude',\n"
    "  agents = { reviewer = { model = 'm', tools = { 'fs_read' } } }";

/* ---- The fake's scripts ----------------------------------------------- */

static const char MODELS_PAGE[] =
    "{\"data\":[{\"type\":\"model\",\"id\":\"claude-sonnet-4-5-20250929\","
    "\"display_name\":\"Claude Sonnet 4.5\",\"created_at\":"
    "\"2025-09-29T00:00:00Z\"},{\"type\":\"model\",\"id\":"
    "\"claude-opus-4-1-20250805\",\"display_name\":\"Claude Opus 4.1\","
    "\"created_at\":\"2025-08-05T00:00:00Z\"}],\"has_more\":false,"
    "\"first_id\":\"claude-sonnet-4-5-20250929\",\"last_id\":"
    "\"claude-opus-4-1-20250805\"}";

static void reply_models(void *ud, fake_http_response *res)
{
  fake_anthropic_send_json(res, ud);
}

static void reply_500(void *ud, fake_http_response *res)
{
  fake_anthropic_send_error(res, 500, "api_error", ud, NULL);
}

/* ---- Requests --------------------------------------------------------- */

/* GET `path` with the key; expects 200 and returns the body (caller
 * frees), an empty object when it was not JSON. */
static cJSON *get_ok(const char *path)
{
  cJSON *j = NULL;
  CHECK_INT(sc_call(port, "GET", path, AUTH, NULL, &j), ==, 200);
  return j ? j : cJSON_CreateObject();
}

static const cJSON *arr_at(const cJSON *o, const char *name)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
  CHECK(cJSON_IsArray(v));
  return v;
}

/* The member of array `list` whose string `key` is `value`, or NULL. */
static const cJSON *find_by(const cJSON *list, const char *key,
                            const char *value)
{
  const cJSON *e;
  cJSON_ArrayForEach(e, list)
    if (!strcmp(sc_str(e, key, NULL), value)) return e;
  return NULL;
}

/* Whether array `list` holds the string `s`. */
static int has_string(const cJSON *list, const char *s)
{
  const cJSON *e;
  cJSON_ArrayForEach(e, list)
    if (cJSON_IsString(e) && !strcmp(e->valuestring, s)) return 1;
  return 0;
}

static int ends_with(const char *s, const char *tail)
{
  size_t n = strlen(s), t = strlen(tail);
  return n >= t && !strcmp(s + n - t, tail);
}

/* Expect `status` with error `code` for GET `path`; returns the message
 * (malloc'd, caller frees; "" when there was none). */
static char *expect_error(const char *path, int status, const char *code)
{
  cJSON *j = NULL;
  int got = sc_call(port, "GET", path, AUTH, NULL, &j);
  if (got != status || strcmp(sc_str(j, "error", "code"), code))
    check_fail(__FILE__, __LINE__, "GET %s: %d %s, wanted %d %s", path, got,
               sc_str(j, "error", "code"), status, code);
  char *msg = strdup(sc_str(j, "error", "message"));
  CHECK(msg[0] != '\0');
  cJSON_Delete(j);
  return msg;
}

static void expect_bad_request(const char *path)
{
  free(expect_error(path, 400, "bad_request"));
}

/* ---- Health, plugins, providers, tools, agents ------------------------ */

static void health_counts_the_active_plugins_without_a_key(void)
{
  cJSON *j = NULL;
  CHECK_INT(sc_call(port, "GET", "/api/health", NULL, NULL, &j), ==, 200);
  CHECK_STR(sc_str(j, "status", NULL), "ok");
  CHECK(sc_str(j, "version", NULL)[0] != '\0');
  CHECK(sc_num(j, "uptime_ms") >= 0);
  /* claude, tools and echo; the refused file is not counted. */
  CHECK_INT(sc_num(j, "plugins"), ==, 3);
  CHECK_INT(sc_num(j, "sessions_live"), ==, 0);
  CHECK(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(j, "stopping")));
  cJSON_Delete(j);
}

static void plugins_name_what_they_registered_and_the_refused_file(void)
{
  cJSON *j = get_ok("/api/plugins");
  const cJSON *plugins = arr_at(j, "plugins");
  CHECK_INT(cJSON_GetArraySize(plugins), ==, 3);
  const cJSON *claude = find_by(plugins, "name", "claude");
  CHECK(claude != NULL);
  CHECK(ends_with(sc_str(claude, "path", NULL), "/claude.so"));
  CHECK_STR(sc_str(claude, "abi", NULL), "1.0");
  CHECK(sc_str(claude, "version", NULL)[0] != '\0');
  CHECK(sc_str(claude, "description", NULL)[0] != '\0');
  const cJSON *prov = arr_at(claude, "providers");
  CHECK_INT(cJSON_GetArraySize(prov), ==, 1);
  CHECK(has_string(prov, "claude"));
  CHECK_INT(cJSON_GetArraySize(arr_at(claude, "tools")), ==, 0);

  const cJSON *tools = find_by(plugins, "name", "tools");
  CHECK(tools != NULL);
  CHECK_INT(cJSON_GetArraySize(arr_at(tools, "providers")), ==, 0);
  const cJSON *names = arr_at(tools, "tools");
  CHECK(has_string(names, "fs_read"));
  CHECK(has_string(names, "fs_write"));
  CHECK(has_string(names, "shell_exec"));

  const cJSON *echo = find_by(plugins, "name", "echo");
  CHECK(echo != NULL);
  CHECK(has_string(arr_at(echo, "providers"), "test_echo"));
  CHECK(find_by(plugins, "name", "broken") == NULL);

  const cJSON *refused = arr_at(j, "refused");
  CHECK_INT(cJSON_GetArraySize(refused), ==, 1);
  const cJSON *r = cJSON_GetArrayItem(refused, 0);
  CHECK(ends_with(sc_str(r, "path", NULL), "/broken.so"));
  CHECK_CONTAINS(sc_str(r, "reason", NULL), "not a Portico plugin");
  cJSON_Delete(j);
}

static void providers_are_listed_with_the_configured_default(void)
{
  cJSON *j = get_ok("/api/providers");
  const cJSON *list = arr_at(j, "providers");
  CHECK_INT(cJSON_GetArraySize(list), ==, 2);
  const cJSON *claude = find_by(list, "id", "claude");
  CHECK_STR(sc_str(claude, "plugin", NULL), "claude");
  CHECK(sc_str(claude, "description", NULL)[0] != '\0');
  CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(claude,
                                                      "lists_models")));
  const cJSON *echo = find_by(list, "id", "test_echo");
  CHECK_STR(sc_str(echo, "plugin", NULL), "echo");
  /* Two providers and no -p: only config.lua can have chosen it. */
  CHECK_STR(sc_str(j, "default", NULL), "claude");
  cJSON_Delete(j);
}

static void tools_carry_their_schema_and_flags(void)
{
  cJSON *j = get_ok("/api/tools");
  const cJSON *list = arr_at(j, "tools");
  const cJSON *fs_read = find_by(list, "name", "fs_read");
  CHECK(fs_read != NULL);
  CHECK_STR(sc_str(fs_read, "plugin", NULL), "tools");
  CHECK(sc_str(fs_read, "description", NULL)[0] != '\0');
  const cJSON *schema =
      cJSON_GetObjectItemCaseSensitive(fs_read, "input_schema");
  CHECK(cJSON_IsObject(schema));
  CHECK_STR(sc_str(schema, "type", NULL), "object");
  CHECK(cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(schema,
                                                        "properties")));
  const cJSON *flags = arr_at(fs_read, "flags");
  CHECK_INT(cJSON_GetArraySize(flags), ==, 1);
  CHECK(has_string(flags, "reads"));
  const cJSON *fs_write = find_by(list, "name", "fs_write");
  CHECK(has_string(arr_at(fs_write, "flags"), "writes"));
  const cJSON *shell = find_by(list, "name", "shell_exec");
  CHECK(has_string(arr_at(shell, "flags"), "executes"));
  cJSON_Delete(j);
}

static void agents_are_the_config_profiles_as_written(void)
{
  cJSON *j = get_ok("/api/agents");
  const cJSON *list = arr_at(j, "agents");
  CHECK_INT(cJSON_GetArraySize(list), ==, 1);
  const cJSON *a = cJSON_GetArrayItem(list, 0);
  CHECK_STR(sc_str(a, "name", NULL), "reviewer");
  CHECK_STR(sc_str(a, "model", NULL), "m");
  const cJSON *tools = arr_at(a, "tools");
  CHECK_INT(cJSON_GetArraySize(tools), ==, 1);
  CHECK(has_string(tools, "fs_read"));
  cJSON_Delete(j);
}

/* ---- A turn, then search and usage ------------------------------------ */

/* Read events from `s` until one of `type`; returns whether it came. */
static int sse_until(hp_sse *s, const char *type, char *data, size_t cap)
{
  hp_sse_event ev;
  while (s && hp_sse_next(s, &ev, MS) == 1)
    if (!strcmp(ev.event, type)) {
      snprintf(data, cap, "%s", ev.data);
      return 1;
    }
  return 0;
}

static void a_turn_stores_a_distinctive_word(void)
{
  sc_create_session(port, AUTH, "{\"title\":\"catalog\"}", sid,
                    sizeof sid);
  if (!sid[0]) return;

  char path[256], data[4096] = "";
  hp_sse *s = sc_events(port, sid, AUTH, "");
  snprintf(path, sizeof path, "/api/sessions/%s/messages", sid);
  CHECK_INT(sc_call(port, "POST", path, AUTH,
                    "{\"text\":\"Remember the word " WORD " for me\"}",
                    NULL), ==, 202);
  CHECK(sse_until(s, "turn_end", data, sizeof data));
  CHECK_CONTAINS(data, "\"stop_reason\":\"end_turn\"");
  hp_sse_close(s);
  CHECK_INT(fake_anthropic_request_count(fa), ==, 1);
}

static void search_finds_the_stored_word(void)
{
  cJSON *j = get_ok("/api/search?q=" WORD);
  const cJSON *results = arr_at(j, "results");
  CHECK_INT(cJSON_GetArraySize(results), ==, 1);
  const cJSON *hit = cJSON_GetArrayItem(results, 0);
  CHECK_STR(sc_str(hit, "session_id", NULL), sid);
  CHECK_STR(sc_str(hit, "session_title", NULL), "catalog");
  CHECK_STR(sc_str(hit, "role", NULL), "user");
  CHECK_CONTAINS(sc_str(hit, "snippet", NULL), "[" WORD "]");
  CHECK(sc_num(hit, "created_at") > 0);
  cJSON_Delete(j);

  /* A prefix, the assistant's answer, a limit, and a word not there. */
  j = get_ok("/api/search?q=zanzib*&limit=5");
  CHECK_INT(cJSON_GetArraySize(arr_at(j, "results")), ==, 1);
  cJSON_Delete(j);
  j = get_ok("/api/search?q=note+says&limit=1000");
  hit = cJSON_GetArrayItem(arr_at(j, "results"), 0);
  CHECK_STR(sc_str(hit, "role", NULL), "assistant");
  CHECK_STR(sc_str(hit, "session_id", NULL), sid);
  cJSON_Delete(j);
  j = get_ok("/api/search?q=" WORD "&limit=1");
  CHECK_INT(cJSON_GetArraySize(arr_at(j, "results")), ==, 1);
  cJSON_Delete(j);
  j = get_ok("/api/search?q=quetzalcoatl");
  CHECK_INT(cJSON_GetArraySize(arr_at(j, "results")), ==, 0);
  cJSON_Delete(j);
}

static void search_without_words_or_with_a_bad_limit_is_400(void)
{
  char *msg = expect_error("/api/search", 400, "bad_request");
  CHECK_CONTAINS(msg, "?q=");
  free(msg);
  expect_bad_request("/api/search?q=");
  expect_bad_request("/api/search?limit=5");
  msg = expect_error("/api/search?q=" WORD "&limit=0", 400, "bad_request");
  CHECK_CONTAINS(msg, "limit");
  free(msg);
  expect_bad_request("/api/search?q=" WORD "&limit=1001");
  expect_bad_request("/api/search?q=" WORD "&limit=-1");
  expect_bad_request("/api/search?q=" WORD "&limit=ten");
  expect_bad_request("/api/search?q=" WORD "&limit=5x");
  expect_bad_request("/api/search?q=" WORD "&limit=");
}

static void usage_by_model_counts_the_turn(void)
{
  cJSON *j = get_ok("/api/usage?by=model");
  CHECK_STR(sc_str(j, "by", NULL), "model");
  const cJSON *row = find_by(arr_at(j, "rows"), "key", "claude-sonnet-4-5");
  CHECK(row != NULL);
  CHECK_INT(sc_num(row, "calls"), >=, 1);
  /* The fake's reply: 10 tokens in, 5 out. */
  CHECK_INT(sc_num(row, "input_tokens"), >=, 10);
  CHECK_INT(sc_num(row, "output_tokens"), >=, 5);
  cJSON_Delete(j);

  /* By model is the default; none is one total row; since filters. */
  j = get_ok("/api/usage");
  CHECK_STR(sc_str(j, "by", NULL), "model");
  CHECK(find_by(arr_at(j, "rows"), "key", "claude-sonnet-4-5") != NULL);
  cJSON_Delete(j);
  j = get_ok("/api/usage?by=none");
  CHECK_STR(sc_str(j, "by", NULL), "none");
  const cJSON *rows = arr_at(j, "rows");
  CHECK_INT(cJSON_GetArraySize(rows), ==, 1);
  CHECK_STR(sc_str(cJSON_GetArrayItem(rows, 0), "key", NULL), "total");
  CHECK_INT(sc_num(cJSON_GetArrayItem(rows, 0), "calls"), >=, 1);
  cJSON_Delete(j);
  j = get_ok("/api/usage?by=provider&since=0");
  CHECK(find_by(arr_at(j, "rows"), "key", "claude") != NULL);
  cJSON_Delete(j);
  j = get_ok("/api/usage?by=session");
  CHECK(find_by(arr_at(j, "rows"), "key", sid) != NULL);
  cJSON_Delete(j);
  /* The year 2286: nothing yet. */
  j = get_ok("/api/usage?since=9999999999999");
  CHECK_INT(cJSON_GetArraySize(arr_at(j, "rows")), ==, 0);
  cJSON_Delete(j);
}

static void usage_with_a_bad_by_or_since_is_400(void)
{
  char *msg = expect_error("/api/usage?by=week", 400, "bad_request");
  CHECK_CONTAINS(msg, "'week'");
  free(msg);
  expect_bad_request("/api/usage?by=");
  expect_bad_request("/api/usage?by=Model");
  msg = expect_error("/api/usage?since=yesterday", 400, "bad_request");
  CHECK_CONTAINS(msg, "since");
  free(msg);
  expect_bad_request("/api/usage?since=-1");
  expect_bad_request("/api/usage?since=1.5");
  expect_bad_request("/api/usage?since=");
  expect_bad_request("/api/usage?by=model&since=99999999999999999999");
}

/* ---- Models ----------------------------------------------------------- */

static void models_of_claude_come_from_the_api(void)
{
  size_t before = fake_anthropic_request_count(fa);
  fake_anthropic_push(fa, reply_models, (void *)MODELS_PAGE);
  cJSON *j = get_ok("/api/models?provider=claude");
  CHECK_STR(sc_str(j, "provider", NULL), "claude");
  const cJSON *models = arr_at(j, "models");
  CHECK_INT(cJSON_GetArraySize(models), ==, 2);
  CHECK_STR(sc_str(cJSON_GetArrayItem(models, 0), "id", NULL),
            "claude-sonnet-4-5-20250929");
  CHECK_STR(sc_str(cJSON_GetArrayItem(models, 0), "name", NULL),
            "Claude Sonnet 4.5");
  CHECK_STR(sc_str(cJSON_GetArrayItem(models, 1), "id", NULL),
            "claude-opus-4-1-20250805");
  cJSON_Delete(j);
  CHECK_INT(fake_anthropic_request_count(fa), ==, before + 1);
  const fake_anthropic_request *q = fake_anthropic_request_at(fa, before);
  CHECK_STR(q ? q->method : "", "GET");
  CHECK_STR(q ? q->path : "", "/v1/models?limit=1000");

  /* Without ?provider=, the default; the fake repeats its last reply. */
  j = get_ok("/api/models");
  CHECK_STR(sc_str(j, "provider", NULL), "claude");
  CHECK_INT(cJSON_GetArraySize(arr_at(j, "models")), ==, 2);
  cJSON_Delete(j);
  CHECK_INT(fake_anthropic_request_count(fa), ==, before + 2);

  j = get_ok("/api/models?provider=test_echo");
  CHECK_STR(sc_str(j, "provider", NULL), "test_echo");
  CHECK_STR(sc_str(cJSON_GetArrayItem(arr_at(j, "models"), 0), "id", NULL),
            "echo-1");
  cJSON_Delete(j);
}

static void models_of_an_unknown_provider_are_404(void)
{
  size_t before = fake_anthropic_request_count(fa);
  char *msg = expect_error("/api/models?provider=nosuch", 404, "not_found");
  CHECK_CONTAINS(msg, "'nosuch'");
  CHECK_CONTAINS(msg, "/api/providers");
  free(msg);
  CHECK_INT(fake_anthropic_request_count(fa), ==, before);
}

static void models_from_a_failing_upstream_are_502_with_its_message(void)
{
  size_t before = fake_anthropic_request_count(fa);
  fake_anthropic_push(fa, reply_500, "the model shelf collapsed");
  char *msg = expect_error("/api/models?provider=claude", 502, "upstream");
  CHECK_CONTAINS(msg, "provider 'claude' could not list its models");
  CHECK_CONTAINS(msg, "the model shelf collapsed");
  free(msg);
  CHECK_INT(fake_anthropic_request_count(fa), ==, before + 1);
  /* The server took the failure in its stride. */
  CHECK_INT(sc_call(port, "GET", "/api/health", NULL, NULL, NULL), ==, 200);
}

static void the_server_stops_cleanly(void)
{
  cJSON *j = NULL;
  CHECK_INT(sc_call(port, "GET", "/api/health", NULL, NULL, &j), ==, 200);
  CHECK_INT(sc_num(j, "sessions_live"), ==, 1);
  cJSON_Delete(j);
  sc_stop(&sp, NULL);
  char *log = serve_stderr(&sp);
  CHECK_CONTAINS(log, "broken.so refused");
  CHECK(strstr(log, KEY) == NULL);
  CHECK(strstr(log, "stop deadline") == NULL);
  free(log);
}

int main(void)
{
  cac_setup(&ce);
  h_copy_plugin("echo.so", ce.dir, NULL);
  h_copy_plugin("bad_no_entry.so", ce.dir, "broken.so");
  fa = cac_fake_start(&ce, NULL, CONFIG_EXTRA);
  const char *argv[] = { "--no-default-plugins", "--plugins", ce.dir,
                         "-m", "claude-sonnet-4-5", "--tools", "tools",
                         "--workspace", ce.ws, NULL };
  port = sc_start(&sp, &ce, "PORTICO_API_KEY=" KEY, argv);
  if (port) {
    RUN(health_counts_the_active_plugins_without_a_key);
    RUN(plugins_name_what_they_registered_and_the_refused_file);
    RUN(providers_are_listed_with_the_configured_default);
    RUN(tools_carry_their_schema_and_flags);
    RUN(agents_are_the_config_profiles_as_written);
    /* The turn takes the fake's first reply; the model cases push theirs
     * after it. */
    RUN(a_turn_stores_a_distinctive_word);
    RUN(search_finds_the_stored_word);
    RUN(search_without_words_or_with_a_bad_limit_is_400);
    RUN(usage_by_model_counts_the_turn);
    RUN(usage_with_a_bad_by_or_since_is_400);
    RUN(models_of_claude_come_from_the_api);
    RUN(models_of_an_unknown_provider_are_404);
    RUN(models_from_a_failing_upstream_are_502_with_its_message);
    RUN(the_server_stops_cleanly);
  }
  serve_cleanup(&sp);
  fake_anthropic_stop(fa);
  cac_teardown(&ce);
  return check_report();
}
