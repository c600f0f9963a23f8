/*
 * core/cli_policy.c: `portico policy` — the stored "always" rules (list,
 * add, forget), and the permission policy asked by hand (explain) or held
 * to a table of expected decisions (test).
 *
 * No kernel is started, so the tools' declared effects come from --flags or
 * from the table of bundled tools below. Not for: deciding (core/policy.c).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "lua_sandbox.h"
#include "paths.h"
#include "policy_int.h"

static const char policy_help[] =
    "usage: portico policy rules [--json]\n"
    "       portico policy forget ID\n"
    "       portico policy allow|deny TOOL PATTERN [--workspace DIR]\n"
    "       portico policy explain TOOL [ARGS_JSON] [--workspace DIR]\n"
    "                              [--flags LIST] [--policy FILE] [--json]\n"
    "       portico policy test CASES.lua [--workspace DIR] [--policy FILE]\n"
    "\n"
    "The permission policy decides whether a tool call is allowed, denied\n"
    "or asked about (docs/policy.md). \"Always\" answers are kept as stored\n"
    "rules, which are consulted before the policy script.\n"
    "\n"
    "  rules     the stored rules, oldest first\n"
    "  forget    delete stored rule ID\n"
    "  allow, deny\n"
    "            store a rule: TOOL (or *) with arguments matching PATTERN,\n"
    "            a glob over each path, host or simple command of a call;\n"
    "            with --workspace only for that folder\n"
    "  explain   the decision on one call, its reason and rule (stored rules\n"
    "            included)\n"
    "  test      run CASES.lua, a Lua file returning a list of\n"
    "            {tool=…, args={…}, expect=\"allow\"|\"deny\"|\"ask\", [rule=…],\n"
    "            [flags={…}], [workspace=…], [name=…]}, against the policy\n"
    "            alone (no stored rules); prints each mismatch, fails if any\n"
    "\n"
    "  --policy FILE     the policy to use (default: the user's policy.lua in\n"
    "                    the config folder, else the shipped one)\n"
    "  --workspace DIR   the session's folder (default: the current one)\n"
    "  --flags LIST      what the tool declares: reads,writes,executes,network\n"
    "                    or none (default: known for the bundled tools)\n"
    "  --json            JSON instead of text\n"
    "\n";

static const struct {
  const char *tool;
  uint32_t flags;
} bundled[] = {
  { "fs_read", PT_TOOL_READS },     { "fs_list", PT_TOOL_READS },
  { "fs_glob", PT_TOOL_READS },     { "fs_grep", PT_TOOL_READS },
  { "fs_write", PT_TOOL_WRITES },   { "fs_edit", PT_TOOL_READS | PT_TOOL_WRITES },
  { "http_fetch", PT_TOOL_NETWORK },
  { "shell_exec", PT_TOOL_EXECUTES | PT_TOOL_READS | PT_TOOL_WRITES | PT_TOOL_NETWORK },
};

static const char *const flag_names[] = { "reads", "writes", "executes", "network" };

static uint32_t default_flags(const char *tool)
{
  for (size_t i = 0; i < sizeof bundled / sizeof *bundled; i++)
    if (!strcmp(tool, bundled[i].tool)) return bundled[i].flags;
  return 0;
}

/* "reads,writes" → bits; -1 for an unknown name. */
static int64_t parse_flag(const char *name, size_t n)
{
  for (size_t i = 0; i < 4; i++)
    if (strlen(flag_names[i]) == n && !strncmp(name, flag_names[i], n)) return 1 << i;
  return n == 4 && !strncmp(name, "none", 4) ? 0 : -1;
}

static int64_t parse_flags(const char *list)
{
  int64_t bits = 0;
  for (const char *s = list; *s;) {
    size_t n = strcspn(s, ",");
    int64_t b = parse_flag(s, n);
    if (b < 0) return -1;
    bits |= b;
    s += n + (s[n] == ',');
  }
  return bits;
}

/* An absolute folder: resolved when it exists, else normalized by text. */
static char *absolute_dir(const char *dir)
{
  char buf[PATH_MAX], cwd[PATH_MAX];
  if (realpath(dir, buf)) return strdup(buf);
  return pt__path_normalize(dir, getcwd(cwd, sizeof cwd) ? cwd : NULL, NULL);
}

typedef struct opts {
  const char *words[4];
  int nwords;
  int json;
  const char *workspace, *policy, *flags;
} opts;

static void print_json(cJSON *v)
{
  char *text = cJSON_Print(v);
  if (text) puts(text);
  cJSON_free(text);
}

static pt_policy *load(const opts *o, pt_store *st)
{
  pt_policy_options po = { .path = o->policy, .store = st };
  pt_policy *p = NULL;
  char err[1024];
  if (pt_policy_load(&po, &p, err, sizeof err) != PT_OK) {
    fprintf(stderr, "portico: %s\n", err);
    return NULL;
  }
  return p;
}

/* ------------------------------------------------------------------------ */
/* rules, forget, allow, deny                                                */

static int rules(const pt_cli *cli, int json)
{
  pt_store *st;
  cJSON *rows = NULL;
  int32_t rc = pt_cli_store(cli, 0, &st);
  if (rc != PT_OK && rc != PT_ENOENT) return PT_EXIT_FAIL;
  if (st && pt_store_rules(st, NULL, &rows) != PT_OK) {
    fprintf(stderr, "portico: %s\n", pt_store_errmsg(st));
    pt_store_close(st);
    return PT_EXIT_FAIL;
  }
  pt_store_close(st);
  if (!rows) rows = cJSON_CreateArray();
  if (json) {
    print_json(rows);
  } else if (!rows->child) {
    fputs("no stored rules; \"always\" answers and 'portico policy allow' add "
          "them\n", stderr);
  } else {
    printf("%-5s  %-8s  %-14s  %-16s  %-30s  %s\n", "ID", "DECISION", "TOOL",
           "CREATED", "PATTERN", "WORKSPACE");
    const cJSON *r;
    cJSON_ArrayForEach(r, rows) {
      char when[32];
      const char *ws = cJSON_GetStringValue(cJSON_GetObjectItem(r, "workspace"));
      pt_cli_time((int64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(r, "created_at")),
                  when, sizeof when);
      printf("%-5.0f  %-8s  %-14s  %-16s  %-30s  %s\n",
             cJSON_GetNumberValue(cJSON_GetObjectItem(r, "id")),
             cJSON_GetStringValue(cJSON_GetObjectItem(r, "decision")),
             cJSON_GetStringValue(cJSON_GetObjectItem(r, "tool")), when,
             cJSON_GetStringValue(cJSON_GetObjectItem(r, "pattern")),
             ws ? ws : "(everywhere)");
    }
  }
  cJSON_Delete(rows);
  return PT_EXIT_OK;
}

static int forget(const pt_cli *cli, const char *arg)
{
  char *end;
  long long id = strtoll(arg, &end, 10);
  if (*end || id <= 0) return pt_cli_usage_error("policy", "forget needs a rule ID, not '%s'", arg);
  pt_store *st;
  int32_t rc = pt_cli_store(cli, 1, &st);
  if (rc == PT_ENOENT) {
    fprintf(stderr, "portico: no rule %lld: nothing has been stored yet\n", id);
    return PT_EXIT_FAIL;
  }
  if (rc != PT_OK) return PT_EXIT_FAIL;
  rc = pt_store_rule_delete(st, id);
  if (rc != PT_OK) fprintf(stderr, "portico: %s\n", pt_store_errmsg(st));
  else printf("forgot rule %lld\n", id);
  pt_store_close(st);
  return rc == PT_OK ? PT_EXIT_OK : PT_EXIT_FAIL;
}

static int add_rule(const pt_cli *cli, const char *decision, const opts *o)
{
  const char *tool = o->words[1], *pattern = o->words[2];
  char *dir = cli->data_dir ? strdup(cli->data_dir) : pt_paths_data_dir();
  char *ws = o->workspace ? absolute_dir(o->workspace) : NULL;
  char err[1024];
  pt_store *st = NULL;
  int status = PT_EXIT_FAIL;
  if (!dir) {
    fprintf(stderr, "portico: no data folder: set HOME, XDG_DATA_HOME or "
                    "PORTICO_DATA_DIR, or pass --data-dir\n");
  } else if (pt_store_open_dir(dir, NULL, &st, err, sizeof err) != PT_OK) {
    fprintf(stderr, "portico: %s\n", err);
  } else {
    pt_store_rule r = { tool, pattern, decision, ws };
    int64_t id = 0;
    if (pt_store_rule_add(st, &r, &id) != PT_OK) {
      fprintf(stderr, "portico: %s\n", pt_store_errmsg(st));
    } else {
      printf("rule %lld: always %s %s \"%s\" %s%s\n", (long long)id, decision,
             tool, pattern, ws ? "in " : "everywhere", ws ? ws : "");
      status = PT_EXIT_OK;
    }
  }
  pt_store_close(st);
  free(dir);
  free(ws);
  return status;
}

/* ------------------------------------------------------------------------ */
/* explain                                                                   */

static int explain(const pt_cli *cli, const opts *o)
{
  const char *tool = o->words[1], *args = o->nwords > 2 ? o->words[2] : "{}";
  int64_t flags = o->flags ? parse_flags(o->flags) : default_flags(tool);
  if (flags < 0)
    return pt_cli_usage_error("policy", "--flags takes reads, writes, executes, "
                                        "network (joined by commas) or none");
  cJSON *parsed = cJSON_Parse(args);
  int object = cJSON_IsObject(parsed);
  cJSON_Delete(parsed);
  if (!object)
    return pt_cli_usage_error("policy", "ARGS_JSON must be a JSON object, like "
                                        "'{\"path\":\"src/main.c\"}'");
  pt_store *st = NULL;
  int32_t rc = pt_cli_store(cli, 0, &st);
  if (rc != PT_OK && rc != PT_ENOENT) return PT_EXIT_FAIL;
  pt_policy *p = load(o, st);
  char *ws = o->workspace ? absolute_dir(o->workspace) : NULL;
  int status = PT_EXIT_FAIL;
  if (p) {
    pt_policy_call call = { .tool = tool, .args_json = { args, strlen(args) },
                            .flags = (uint32_t)flags, .workspace = ws };
    pt_policy_decision d;
    pt_policy_decide(p, &call, &d);
    if (o->json) {
      cJSON *j = cJSON_CreateObject();
      cJSON_AddStringToObject(j, "decision", pt_policy_verdict_name(d.verdict));
      cJSON_AddStringToObject(j, "rule", d.rule);
      cJSON_AddStringToObject(j, "reason", d.reason);
      if (d.stored_rule > 0) cJSON_AddNumberToObject(j, "stored_rule", (double)d.stored_rule);
      else cJSON_AddNullToObject(j, "stored_rule");
      cJSON_AddStringToObject(j, "policy", pt_policy_file(p));
      print_json(j);
      cJSON_Delete(j);
    } else {
      printf("decision: %s\nrule:     %s\nreason:   %s\npolicy:   %s\n",
             pt_policy_verdict_name(d.verdict), d.rule, d.reason, pt_policy_file(p));
    }
    status = PT_EXIT_OK;
  }
  pt_policy_free(p);
  pt_store_close(st);
  free(ws);
  return status;
}

/* ------------------------------------------------------------------------ */
/* test                                                                      */

/* The cases file's table as JSON; it runs in a sandbox of its own. */
static cJSON *read_cases(const char *path)
{
  pt_lua_limits limits = { (size_t)64 << 20, UINT64_C(100000000) };
  lua_State *L = pt_lua_new(&limits);
  char err[1024];
  cJSON *cases = NULL;
  if (!L) {
    fprintf(stderr, "portico: out of memory\n");
  } else if (pt_lua_dofile(L, path, 1, err, sizeof err) != PT_OK) {
    fprintf(stderr, "portico: %s\n", err);
  } else if (!(cases = pt__policy_lua_to_json(L, -1, err, sizeof err)) ||
             !cJSON_IsArray(cases)) {
    fprintf(stderr, "portico: %s: must return a list of cases%s%s\n", path,
            cases ? "" : ": ", cases ? "" : err);
    cJSON_Delete(cases);
    cases = NULL;
  }
  pt_lua_close(L);
  return cases;
}

static const char *field(const cJSON *c, const char *k)
{
  return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, k));
}

/* One case; returns 1 when it passed. Prints a mismatch. */
static int run_case(pt_policy *p, const cJSON *c, int n, const char *ws,
                    const char *cases_dir)
{
  const char *tool = field(c, "tool"), *expect = field(c, "expect");
  const char *want_rule = field(c, "rule"), *name = field(c, "name");
  const cJSON *args = cJSON_GetObjectItemCaseSensitive(c, "args");
  const cJSON *fl = cJSON_GetObjectItemCaseSensitive(c, "flags"), *e;
  char label[512];
  char *args_text = args ? cJSON_PrintUnformatted(args) : NULL;
  snprintf(label, sizeof label, "case %d%s%.100s%s (%.64s %.300s)", n,
           name ? " \"" : "", name ? name : "", name ? "\"" : "",
           tool ? tool : "?", args_text ? args_text : "{}");
  int64_t flags = tool ? default_flags(tool) : 0;
  if (cJSON_IsString(fl)) flags = parse_flags(fl->valuestring);
  if (cJSON_IsArray(fl)) {
    flags = 0;
    cJSON_ArrayForEach(e, fl) {
      int64_t b = cJSON_IsString(e) ? parse_flag(e->valuestring, strlen(e->valuestring)) : -1;
      flags = b < 0 || flags < 0 ? -1 : flags | b;
    }
  }
  int passed = 0;
  if (!tool || pt_policy_verdict_parse(expect) < 0 || (args && !cJSON_IsObject(args)) ||
      flags < 0) {
    printf("FAIL %s: a case needs tool, expect (\"allow\", \"deny\" or \"ask\"), "
           "args as a table of named fields, and flags from reads, writes, "
           "executes, network\n", label);
  } else {
    const char *cws = field(c, "workspace");
    char *case_ws = cws ? pt__path_normalize(cws, cases_dir, NULL) : NULL;
    pt_policy_call call = { .tool = tool, .flags = (uint32_t)flags,
                            .session_id = field(c, "session"),
                            .agent = field(c, "agent"),
                            .workspace = case_ws ? case_ws : ws };
    if (args_text) call.args_json = (pt_str){ args_text, strlen(args_text) };
    pt_policy_decision d;
    pt_policy_decide(p, &call, &d);
    const char *got = pt_policy_verdict_name(d.verdict);
    if (strcmp(got, expect) != 0)
      printf("FAIL %s: expected %s, got %s (rule %s: %s)\n", label, expect, got,
             d.rule, d.reason);
    else if (want_rule && strcmp(want_rule, d.rule) != 0)
      printf("FAIL %s: expected rule %s, got rule %s (%s: %s)\n", label,
             want_rule, d.rule, got, d.reason);
    else
      passed = 1;
    free(case_ws);
  }
  cJSON_free(args_text);
  return passed;
}

static int test(const pt_cli *cli, const opts *o)
{
  const char *path = o->words[1];
  cJSON *cases = read_cases(path);
  if (!cases) return PT_EXIT_FAIL;
  pt_policy *p = load(o, NULL);
  if (!p) {
    cJSON_Delete(cases);
    return PT_EXIT_FAIL;
  }
  char *ws = o->workspace ? absolute_dir(o->workspace) : NULL;
  /* A case's relative workspace is relative to the cases file's folder. */
  char *file_abs = absolute_dir(path), *slash = file_abs ? strrchr(file_abs, '/') : NULL;
  if (slash && slash == file_abs) slash[1] = '\0';
  else if (slash) *slash = '\0';
  int n = 0, passed = 0;
  const cJSON *c;
  cJSON_ArrayForEach(c, cases) {
    n++;
    passed += run_case(p, c, n, ws, file_abs);
  }
  printf("%s: %d cases, %d passed, %d failed (policy %s)\n", path, n, passed,
         n - passed, pt_policy_file(p));
  pt_policy_free(p);
  cJSON_Delete(cases);
  free(ws);
  free(file_abs);
  return passed == n ? PT_EXIT_OK : PT_EXIT_FAIL;
}

/* ------------------------------------------------------------------------ */

int pt_cli_policy(const pt_cli *cli, int argc, char **argv)
{
  opts o = { 0 };
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    const char **slot = !strcmp(a, "--workspace") ? &o.workspace
                        : !strcmp(a, "--policy")  ? &o.policy
                        : !strcmp(a, "--flags")   ? &o.flags
                                                  : NULL;
    if (pt_cli_is_help(a)) {
      fputs(policy_help, stdout);
      fputs(pt_cli_global_help, stdout);
      return PT_EXIT_OK;
    }
    if (slot) {
      if (i + 1 >= argc) return pt_cli_usage_error("policy", "%s needs a value", a);
      *slot = argv[++i];
    } else if (!strcmp(a, "--json")) {
      o.json = 1;
    } else if (a[0] == '-' && a[1]) {
      return pt_cli_usage_error("policy", "unknown option '%s'", a);
    } else if (o.nwords < 4) {
      o.words[o.nwords++] = a;
    } else {
      return pt_cli_usage_error("policy", "unexpected '%s'", a);
    }
  }
  const char *verb = o.nwords ? o.words[0] : "rules";
  struct { const char *verb; int min, max; } shapes[] = {
    { "rules", 0, 1 }, { "forget", 2, 2 }, { "allow", 3, 3 }, { "deny", 3, 3 },
    { "explain", 2, 3 }, { "test", 2, 2 },
  };
  for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) {
    if (strcmp(verb, shapes[i].verb) != 0) continue;
    if (o.nwords < shapes[i].min)
      return pt_cli_usage_error("policy", "%s needs more arguments", verb);
    if (o.nwords > shapes[i].max)
      return pt_cli_usage_error("policy", "unexpected '%s'", o.words[shapes[i].max]);
    if (!strcmp(verb, "rules")) return rules(cli, o.json);
    if (!strcmp(verb, "forget")) return forget(cli, o.words[1]);
    if (!strcmp(verb, "explain")) return explain(cli, &o);
    if (!strcmp(verb, "test")) return test(cli, &o);
    return add_rule(cli, verb, &o);
  }
  return pt_cli_usage_error("policy", "unknown subcommand '%s'", verb);
}
