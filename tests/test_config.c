/*
 * tests/test_config.c: config.lua files written to a temporary folder and
 * read through pt_config_load, the good and every kind of broken.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "config.h"
#include "portico/errors.h"

static char dir[] = "/tmp/pt_config_XXXXXX";
static char path[256];
static char err[512];

/* Write `lua` to <dir>/config.lua and load it; *out is NULL on error. */
static int32_t load(const char *lua, pt_config **out)
{
  snprintf(path, sizeof path, "%s/config.lua", dir);
  FILE *f = fopen(path, "w");
  CHECK(f != NULL);
  if (f) {
    fputs(lua, f);
    fclose(f);
  }
  err[0] = '\0';
  return pt_config_load(path, out, err, sizeof err);
}

/* The config must fail with `code` and a message containing `want` after
 * "config <path>". */
static void expect_error(const char *lua, int32_t code, const char *want)
{
  pt_config *c = (pt_config *)1;
  CHECK_INT(load(lua, &c), ==, code);
  CHECK(c == NULL);
  char full[512];
  snprintf(full, sizeof full, "config %s%s", path, want);
  CHECK_STR(err, full);
}

static void full_config_is_read(void)
{
  pt_config *c = NULL;
  CHECK_INT(load("local home = os.getenv('HOME') or '/nowhere'\n"
                 "return {\n"
                 "  default_provider = 'claude',\n"
                 "  default_model = 'claude-sonnet',\n"
                 "  plugin_paths = { home .. '/plugins', '/opt/pt' },\n"
                 "  plugins = {\n"
                 "    claude = { base_url = 'https://x.test', max_tokens = 4096,\n"
                 "               temperature = 0.5, stream = true, tags = { 'a' } },\n"
                 "    empty = {},\n"
                 "  },\n"
                 "  agents = { coder = { tools = { 'read', 'write' } } },\n"
                 "}\n", &c),
            ==, PT_OK);
  CHECK(c != NULL);
  if (!c) return;
  CHECK_STR(pt_config_path(c), path);
  CHECK_STR(pt_config_default_provider(c), "claude");
  CHECK_STR(pt_config_default_model(c), "claude-sonnet");
  CHECK_INT(pt_config_plugin_path_count(c), ==, 2);
  CHECK_CONTAINS(pt_config_plugin_path(c, 0), "/plugins");
  CHECK_STR(pt_config_plugin_path(c, 1), "/opt/pt");
  CHECK(pt_config_plugin_path(c, 2) == NULL);
  const char *claude = pt_config_plugin_json(c, "claude");
  CHECK_CONTAINS(claude, "\"base_url\":\"https://x.test\"");
  CHECK_CONTAINS(claude, "\"max_tokens\":4096");
  CHECK_CONTAINS(claude, "\"temperature\":0.5");
  CHECK_CONTAINS(claude, "\"stream\":true");
  CHECK_CONTAINS(claude, "\"tags\":[\"a\"]");
  CHECK(pt_config_plugin_json(c, "claude") == claude);
  CHECK_STR(pt_config_plugin_json(c, "empty"), "{}");
  CHECK_STR(pt_config_plugin_json(c, "absent"), "{}");
  const cJSON *tools = cJSON_GetObjectItemCaseSensitive(
      cJSON_GetObjectItemCaseSensitive(
          cJSON_GetObjectItemCaseSensitive(pt_config_root(c), "agents"), "coder"),
      "tools");
  CHECK(cJSON_IsArray(tools));
  CHECK_INT(cJSON_GetArraySize(tools), ==, 2);
  pt_config_free(c);
}

static void minimal_config_has_no_known_keys(void)
{
  pt_config *c = NULL;
  CHECK_INT(load("return { plugin_paths = {}, extra = {} }", &c), ==, PT_OK);
  CHECK(pt_config_default_provider(c) == NULL);
  CHECK(pt_config_default_model(c) == NULL);
  CHECK_INT(pt_config_plugin_path_count(c), ==, 0);
  CHECK(cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(pt_config_root(c), "extra")));
  pt_config_free(c);
}

static void syntax_error_names_file_and_line(void)
{
  expect_error("return {\n  default_model = 'x'\n  plugins = {}\n}\n", PT_ESCRIPT,
               ":3: '}' expected (to close '{' at line 1) near 'plugins'");
}

static void runtime_error_names_file_and_line(void)
{
  expect_error("local t = {}\n\nreturn { x = t.a.b }\n", PT_ESCRIPT,
               ":3: attempt to index a nil value (field 'a')");
}

static void config_must_return_a_table(void)
{
  expect_error("local x = 1\n", PT_ECONFIG, ": must return a table (got nil)");
  expect_error("return 'claude'\n", PT_ECONFIG, ": must return a table (got string)");
  expect_error("return { 'a', 'b' }\n", PT_ECONFIG,
               ": must return a table of named settings (got a list)");
}

static void known_keys_have_types(void)
{
  expect_error("return { default_provider = 42 }", PT_ECONFIG,
               ": default_provider must be a string (got number)");
  expect_error("return { default_model = { 'x' } }", PT_ECONFIG,
               ": default_model must be a string (got a list)");
  expect_error("return { plugin_paths = '/opt' }", PT_ECONFIG,
               ": plugin_paths must be a list of folder names (got string)");
  expect_error("return { plugin_paths = { a = '/opt' } }", PT_ECONFIG,
               ": plugin_paths must be a list of folder names (got a table)");
  expect_error("return { plugin_paths = { '/opt', true } }", PT_ECONFIG,
               ": plugin_paths[2] must be a string (got boolean)");
  expect_error("return { plugins = 'claude' }", PT_ECONFIG,
               ": plugins must map plugin names to tables of settings (got string)");
  expect_error("return { plugins = { claude = 'on' } }", PT_ECONFIG,
               ": plugins.claude must be a table of settings (got string)");
}

static void functions_are_refused_with_key_path(void)
{
  expect_error("return { agents = { coder = { hook = function() end } } }",
               PT_ECONFIG, ": agents.coder.hook: functions are not allowed in config.lua");
  expect_error("return { list = { 1, coroutine.create(print) } }", PT_ECONFIG,
               ": list[2]: thread values are not allowed in config.lua");
}

static void tables_without_json_form_are_refused(void)
{
  expect_error("return { plugins = { claude = { 'a', model = 'b' } } }", PT_ECONFIG,
               ": plugins.claude: a table mixes list items and named keys");
  expect_error("return { x = { [1] = 'a', [3] = 'c' } }", PT_ECONFIG,
               ": x: a list has gaps (2 items, highest position 3)");
  expect_error("return { x = { [true] = 1 } }", PT_ECONFIG,
               ": x: keys must be names or list positions 1, 2, ... (found a boolean key)");
  expect_error("return { x = 0/0 }", PT_ECONFIG,
               ": x: numbers must be finite (JSON has no inf or nan)");
  expect_error("local t = { a = {} } t.a.back = t.a return t", PT_ECONFIG,
               ": a.back: a table contains itself; JSON cannot hold cycles");
  expect_error("local t = {} local n = t for i = 1, 40 do n.n = {} n = n.n end return t",
               PT_ECONFIG, ": n.n.n.n.n.n.n.n.n.n.n.n.n.n.n.n.n.n.n.n.n.n.n.n.n.n.n.n."
               "n.n.n.n: tables nest deeper than 32 levels");
  /* Shared subtables are not cycles, but doubling them is bounded. */
  pt_config *c = NULL;
  CHECK_INT(load("local s = { k = 1 } return { a = s, b = s }", &c), ==, PT_OK);
  pt_config_free(c);
  expect_error("local t = { s = ('x'):rep(1000000) }\n"
               "for i = 1, 30 do t = { a = t, b = t } end return t",
               PT_ECONFIG, ": the configuration is too large (over 16777216 bytes as JSON)");
}

static void integers_stay_integers(void)
{
  pt_config *c = NULL;
  CHECK_INT(load("return { plugins = { p = { n = 3, big = 1 << 40, f = 2.0 } } }", &c),
            ==, PT_OK);
  const char *json = c ? pt_config_plugin_json(c, "p") : "";
  CHECK_CONTAINS(json, "\"n\":3");
  CHECK_CONTAINS(json, "\"big\":1099511627776");
  pt_config_free(c);
}

static void missing_explicit_file_is_an_error(void)
{
  pt_config *c = (pt_config *)1;
  CHECK_INT(pt_config_load("/nonexistent/portico.lua", &c, err, sizeof err), ==,
            PT_ENOENT);
  CHECK(c == NULL);
  CHECK_STR(err, "config /nonexistent/portico.lua: cannot read: "
                 "No such file or directory");
}

static void missing_default_file_is_an_empty_config(void)
{
  setenv("XDG_CONFIG_HOME", dir, 1);
  pt_config *c = NULL;
  CHECK_INT(pt_config_load(NULL, &c, err, sizeof err), ==, PT_OK);
  CHECK(c != NULL);
  if (c) {
    CHECK(pt_config_path(c) == NULL);
    CHECK(cJSON_IsObject(pt_config_root(c)));
    CHECK(pt_config_root(c)->child == NULL);
    CHECK_INT(pt_config_plugin_path_count(c), ==, 0);
    CHECK_STR(pt_config_plugin_json(c, "claude"), "{}");
  }
  pt_config_free(c);
}

static void default_file_is_found_under_xdg_config_home(void)
{
  char sub[300], file[320];
  snprintf(sub, sizeof sub, "%s/portico", dir);
  snprintf(file, sizeof file, "%s/config.lua", sub);
  CHECK_INT(mkdir(sub, 0700), ==, 0);
  FILE *f = fopen(file, "w");
  if (f) {
    fputs("return { default_model = 'from-xdg' }", f);
    fclose(f);
  }
  setenv("XDG_CONFIG_HOME", dir, 1);
  pt_config *c = NULL;
  CHECK_INT(pt_config_load(NULL, &c, err, sizeof err), ==, PT_OK);
  if (c) {
    CHECK_STR(pt_config_path(c), file);
    CHECK_STR(pt_config_default_model(c), "from-xdg");
  }
  pt_config_free(c);
  unlink(file);
  rmdir(sub);
}

static void os_getenv_works(void)
{
  setenv("PT_TEST_MODEL", "env-model", 1);
  pt_config *c = NULL;
  CHECK_INT(load("return { default_model = os.getenv('PT_TEST_MODEL') }", &c), ==,
            PT_OK);
  CHECK_STR(c ? pt_config_default_model(c) : NULL, "env-model");
  pt_config_free(c);
}

static void hostile_configs_stop_at_the_limits(void)
{
  expect_error("local n = 0\nwhile true do n = n + 1 end\n", PT_ESCRIPT,
               ":2: instruction limit of 10000000 exceeded");
  expect_error("local t = {}\nfor i = 1, 1e9 do t[i] = ('x'):rep(64) .. i end\n",
               PT_ESCRIPT, ": memory limit of 16777216 bytes exceeded");
  expect_error("return { x = io.open('/etc/passwd') }", PT_ESCRIPT,
               ":1: io.open is not available in the sandbox");
  expect_error("os.execute('touch /tmp/pwned')", PT_ESCRIPT,
               ":1: os.execute is not available in the sandbox");
}

int main(void)
{
  if (!mkdtemp(dir)) return 1;
  RUN(full_config_is_read);
  RUN(minimal_config_has_no_known_keys);
  RUN(syntax_error_names_file_and_line);
  RUN(runtime_error_names_file_and_line);
  RUN(config_must_return_a_table);
  RUN(known_keys_have_types);
  RUN(functions_are_refused_with_key_path);
  RUN(tables_without_json_form_are_refused);
  RUN(integers_stay_integers);
  RUN(missing_explicit_file_is_an_error);
  RUN(missing_default_file_is_an_empty_config);
  RUN(default_file_is_found_under_xdg_config_home);
  RUN(os_getenv_works);
  RUN(hostile_configs_stop_at_the_limits);
  unlink(path);
  rmdir(dir);
  return check_report();
}
