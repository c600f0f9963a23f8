/*
 * core/chat_agent.c: see chat_agent.h. What the chat prints and saves for
 * a turn with tools; the loop itself is core/agent.c.
 *
 * Saving: the first model call streams into the reply chat_record_begin
 * opened; each model call's DONE ends that reply, and the first event of
 * the next call stores the tool message the loop appended in between and
 * opens a new reply. So the store holds user, assistant (with its
 * tool_call parts), tool, assistant, ... as the provider saw them, and
 * --session sends them again.
 */
#include "chat_agent.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chat_shared.h"
#include "cli.h"
#include "event_json.h"
#include "plugin_host.h"

#define EXIT_CANCELLED 130
#define EXIT_TERMINATED 143
#define SHOW_MAX 200  /* bytes of arguments or a result shown on stderr */

/* ------------------------------------------------------------------------ */
/* Setup                                                                     */

static const char *profile_string(const cJSON *p, const char *key,
                                  const char *name, int *bad)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(p, key);
  if (!v) return NULL;
  if (!cJSON_IsString(v)) {
    fprintf(stderr, "portico: config.lua: agents.%s.%s must be a string\n",
            name, key);
    *bad = 1;
    return NULL;
  }
  return v->valuestring;
}

/* A budget field: a positive number, or absent. */
static int profile_budget(const cJSON *p, const char *key, const char *name,
                          double *out)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(p, key);
  if (!v) return 0;
  if (!cJSON_IsNumber(v) || !(v->valuedouble > 0)) {
    fprintf(stderr, "portico: config.lua: agents.%s.%s must be a number "
                    "above 0\n", name, key);
    return 1;
  }
  *out = v->valuedouble;
  return 0;
}

/* --max-cost or --max-tokens-total: a positive number. */
static int flag_budget(const char *flag, const char *text, double *out)
{
  char *end = NULL;
  double v = text ? strtod(text, &end) : 0;
  if (!text || end == text || *end || !(v > 0) || v > 1e15) {
    fprintf(stderr, "portico: %s needs a number above 0, not '%s'\n", flag,
            text ? text : "");
    return -1;
  }
  *out = v;
  return 0;
}

int pt__chat_agent_profile(const pt_config *config, pt_chat_agent_flags *f,
                           const char **provider, const char **model,
                           const char **system)
{
  if (!f->agent) return 0;
  const cJSON *agents =
      cJSON_GetObjectItemCaseSensitive(pt_config_root(config), "agents");
  const cJSON *p = cJSON_GetObjectItemCaseSensitive(agents, f->agent);
  if (!cJSON_IsObject(p)) {
    fprintf(stderr, "portico: no agent named '%s' in config.lua's agents "
                    "table (docs/configuration.md shows its shape)\n",
            f->agent);
    return -1;
  }
  int bad = 0;
  const char *v;
  if ((v = profile_string(p, "provider", f->agent, &bad)) && !*provider)
    *provider = v;
  if ((v = profile_string(p, "model", f->agent, &bad)) && !*model)
    *model = v;
  if ((v = profile_string(p, "system", f->agent, &bad)) && !*system)
    *system = v;
  if ((v = profile_string(p, "policy", f->agent, &bad)) && !f->policy)
    f->policy = v;
  const cJSON *tools = cJSON_GetObjectItemCaseSensitive(p, "tools");
  if (tools && !cJSON_IsString(tools) && !cJSON_IsArray(tools)) {
    fprintf(stderr, "portico: config.lua: agents.%s.tools must be a string "
                    "or a list of strings\n", f->agent);
    bad = 1;
  }
  if (tools && !f->tools && !f->profile_tools) f->profile_tools = tools;
  const cJSON *turns = cJSON_GetObjectItemCaseSensitive(p, "max_turns");
  if (turns && !cJSON_IsNumber(turns)) {
    fprintf(stderr, "portico: config.lua: agents.%s.max_turns must be a "
                    "number\n", f->agent);
    bad = 1;
  }
  if (turns && f->max_turns <= 0) f->max_turns = turns->valueint;
  bad |= profile_budget(p, "max_cost_usd", f->agent, &f->profile_cost);
  bad |= profile_budget(p, "max_tokens_total", f->agent, &f->profile_tokens);
  return bad ? -1 : 0;
}

static int add_tool(pt_chat_agent *a, const char *name)
{
  for (size_t i = 0; i < a->tool_count; i++)
    if (!strcmp(a->tools[i], name)) return 0;
  char **p = realloc(a->tools, (a->tool_count + 1) * sizeof *p);
  if (!p) return -1;
  a->tools = p;
  if (!(a->tools[a->tool_count] = strdup(name))) return -1;
  a->tool_count++;
  return 0;
}

/* One entry of the list: a tool id, or a plugin's name for its tools. */
static int add_entry(pt_chat_agent *a, const pt_registry *reg,
                     const char *name)
{
  if (pt_registry_tool(reg, name)) return add_tool(a, name);
  int found = 0;
  for (size_t i = 0; i < reg->tool_count; i++) {
    const pt_host *h = reg->tools[i].plugin;
    if (h && h->desc && h->desc->name && !strcmp(h->desc->name, name)) {
      found = 1;
      if (add_tool(a, reg->tools[i].vt->name) != 0) return -1;
    }
  }
  if (!found)
    fprintf(stderr, "portico: no tool or plugin named '%s' is loaded; "
                    "'portico plugins' lists them\n", name);
  return found ? 0 : -1;
}

/* A comma-separated list. */
static int add_list(pt_chat_agent *a, const pt_registry *reg, const char *s)
{
  while (*s) {
    while (*s == ',' || *s == ' ') s++;
    size_t n = strcspn(s, ", ");
    if (n) {
      char name[128];
      snprintf(name, sizeof name, "%.*s", (int)(n < 127 ? n : 127), s);
      if (add_entry(a, reg, name) != 0) return -1;
    }
    s += n;
  }
  return 0;
}

int pt__chat_agent_setup(pt_chat_agent *a, pt_kernel *k,
                         const pt_chat_agent_flags *f, pt_store *st)
{
  memset(a, 0, sizeof *a);
  a->yes = f->yes;
  a->max_turns = f->max_turns;
  double tokens = f->profile_tokens;
  a->max_cost_usd = f->profile_cost;
  if ((f->max_cost &&
       flag_budget("--max-cost", f->max_cost, &a->max_cost_usd) != 0) ||
      (f->max_tokens_total &&
       flag_budget("--max-tokens-total", f->max_tokens_total, &tokens) != 0))
    return -1;
  a->max_tokens_total = (uint64_t)tokens;
  a->ask_tty = isatty(STDIN_FILENO) && isatty(STDERR_FILENO);
  const pt_registry *reg = &k->registry;
  if (f->tools) {
    if (add_list(a, reg, f->tools) != 0) return -1;
  } else if (cJSON_IsString(f->profile_tools)) {
    if (add_list(a, reg, f->profile_tools->valuestring) != 0) return -1;
  } else if (f->profile_tools) {
    const cJSON *t;
    cJSON_ArrayForEach(t, f->profile_tools) {
      if (!cJSON_IsString(t) || add_list(a, reg, t->valuestring) != 0)
        return -1;
    }
  }
  char abs[PATH_MAX];
  const char *ws = f->workspace ? f->workspace : ".";
  if (!realpath(ws, abs)) {
    fprintf(stderr, "portico: workspace %s: %s\n", ws, strerror(errno));
    return -1;
  }
  if (!(a->workspace = strdup(abs))) return -1;
  if (!a->tool_count) return 0;
  pt_policy_options po = { .path = f->policy, .store = st };
  char err[1024];
  if (pt_policy_load(&po, &a->policy, err, sizeof err) != PT_OK) {
    fprintf(stderr, "portico: %s\n", err);
    return -1;
  }
  if (pt_policy_error(a->policy))
    fprintf(stderr, "portico: the policy failed to load, so every tool call "
                    "is denied: %s\n", pt_policy_error(a->policy));
  return 0;
}

void pt__chat_agent_free(pt_chat_agent *a)
{
  for (size_t i = 0; i < a->tool_count; i++) free(a->tools[i]);
  free(a->tools);
  free(a->workspace);
  pt_policy_free(a->policy);
  memset(a, 0, sizeof *a);
}

/* ------------------------------------------------------------------------ */
/* A turn                                                                    */

typedef struct turn {
  pt_chat_agent *a;
  const pt_chat_agent_turn *t;
  pt_chat_agent_rec saving;
  int done;
  pt_agent_result res;
  char message[1024];
  int out_mid_line;        /* stdout's last byte was not a newline */
} turn;

static void print_json(const cJSON *o)
{
  char *text = cJSON_PrintUnformatted(o);
  if (text) puts(text);
  cJSON_free(text);
  fflush(stdout);
}

/* One line on stderr; `s` cut at SHOW_MAX bytes, newlines as spaces. */
static void show_line(turn *u, const char *head, const char *s)
{
  if (u->out_mid_line) {
    putchar('\n');
    fflush(stdout);
    u->out_mid_line = 0;
  }
  char buf[SHOW_MAX + 1];
  snprintf(buf, sizeof buf, "%.200s", s);
  for (char *p = buf; *p; p++)
    if (*p == '\n' || *p == '\r' || *p == '\t') *p = ' ';
  int dim = u->t->stderr_tty;
  fprintf(stderr, "%s%s%s%s%s\n", dim ? "\033[2m" : "", head, buf,
          strlen(s) > SHOW_MAX ? "…" : "", dim ? "\033[0m" : "");
}

static void on_event(void *ud, const pt_chat_event *ev)
{
  turn *u = ud;
  const pt_chat_agent_turn *t = u->t;
  pt__chat_agent_rec_event(&u->saving, ev);
  if (t->json) {
    cJSON *lines = cJSON_CreateArray();
    const cJSON *line;
    if (lines && pt_event_to_json(ev, t->price, lines) == 0)
      cJSON_ArrayForEach(line, lines) print_json(line);
    cJSON_Delete(lines);
    return;
  }
  if (ev->kind == PT_EV_TEXT && ev->text.len) {
    fwrite(ev->text.ptr, 1, ev->text.len, stdout);
    fflush(stdout);
    u->out_mid_line = ev->text.ptr[ev->text.len - 1] != '\n';
  } else if (ev->kind == PT_EV_THINKING) {
    fprintf(stderr, "%s%.*s%s", t->stderr_tty ? "\033[2m" : "",
            (int)ev->text.len, ev->text.ptr, t->stderr_tty ? "\033[0m" : "");
  } else if (ev->kind == PT_EV_TOOL_CALL_END) {
    char head[160], args[SHOW_MAX + 1];
    snprintf(head, sizeof head, "→ %.*s ", (int)ev->name.len, ev->name.ptr);
    snprintf(args, sizeof args, "%.*s",
             (int)(ev->json.len < SHOW_MAX ? ev->json.len : SHOW_MAX),
             ev->json.ptr);
    show_line(u, head, args);
  }
}

static void on_agent_event(void *ud, const cJSON *ev)
{
  turn *u = ud;
  if (u->t->json) {
    print_json(ev);
    return;
  }
  const char *type = cJSON_GetStringValue(cJSON_GetObjectItem(ev, "type"));
  const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(ev, "name"));
  char head[160];
  if (type && !strcmp(type, "tool_result")) {
    const char *content =
        cJSON_GetStringValue(cJSON_GetObjectItem(ev, "content"));
    int err = cJSON_IsTrue(cJSON_GetObjectItem(ev, "is_error"));
    snprintf(head, sizeof head, "← %.64s%s: ", name ? name : "?",
             err ? " (error)" : "");
    show_line(u, head, content ? content : "");
  } else if (type && !strcmp(type, "permission")) {
    const char *d = cJSON_GetStringValue(cJSON_GetObjectItem(ev, "decision"));
    const char *why = cJSON_GetStringValue(cJSON_GetObjectItem(ev, "reason"));
    const char *tool = cJSON_GetStringValue(cJSON_GetObjectItem(ev, "tool"));
    if (d && !strcmp(d, "deny")) {
      snprintf(head, sizeof head, "✗ %.64s denied: ", tool ? tool : "?");
      show_line(u, head, why ? why : "");
    }
  }
}

static void on_done(void *ud, const pt_agent_result *r)
{
  turn *u = ud;
  u->done = 1;
  u->res = *r;
  snprintf(u->message, sizeof u->message, "%.1000s",
           r->message ? r->message : "");
  u->res.message = u->message;
  u->res.store_error = NULL;
  if (r->store_errors && u->t->rec && !u->t->rec->failed) {
    /* As chat_record reports its own failed writes: once. */
    fprintf(stderr, "portico: could not save a tool call: %s\n",
            r->store_error);
    u->t->rec->failed = 1;
  }
  u->a->running = NULL;
}

/* a, A, d, D or the words; -1 when not understood. */
static int parse_answer(const char *s)
{
  static const struct { const char *word; int answer; } words[] = {
    { "a", PT_AGENT_ALLOW_ONCE },      { "allow", PT_AGENT_ALLOW_ONCE },
    { "once", PT_AGENT_ALLOW_ONCE },   { "allow once", PT_AGENT_ALLOW_ONCE },
    { "y", PT_AGENT_ALLOW_ONCE },      { "yes", PT_AGENT_ALLOW_ONCE },
    { "A", PT_AGENT_ALLOW_ALWAYS },    { "always", PT_AGENT_ALLOW_ALWAYS },
    { "allow always", PT_AGENT_ALLOW_ALWAYS },
    { "d", PT_AGENT_DENY },            { "deny", PT_AGENT_DENY },
    { "n", PT_AGENT_DENY },            { "no", PT_AGENT_DENY },
    { "D", PT_AGENT_DENY_ALWAYS },     { "deny always", PT_AGENT_DENY_ALWAYS },
  };
  for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
    if (!strcmp(s, words[i].word)) return words[i].answer;
  return -1;
}

/* A prompt on the terminal. The loop waits while the person reads and
 * types: the chat runs one turn, so nothing else is held up. */
static void on_ask(void *ud, const pt_agent_ask_request *req,
                   void (*answer)(void *token, pt_agent_answer a),
                   void *token)
{
  turn *u = ud;
  if (u->a->yes) {
    answer(token, PT_AGENT_ALLOW_ONCE);
    return;
  }
  if (u->out_mid_line) {
    putchar('\n');
    fflush(stdout);
    u->out_mid_line = 0;
  }
  fprintf(stderr, "? %s %.200s%s\n  %s (%s)\n", req->tool, req->args_json,
          strlen(req->args_json) > SHOW_MAX ? "…" : "", req->reason,
          req->rule);
  for (;;) {
    fputs("  allow [a] once, [A] always, [d] deny, [D] deny always? ",
          stderr);
    char line[64];
    if (!fgets(line, sizeof line, stdin)) {
      clearerr(stdin);
      fputc('\n', stderr);
      answer(token, PT_AGENT_DENY);
      return;
    }
    line[strcspn(line, "\r\n")] = '\0';
    int a = parse_answer(line);
    if (a >= 0) {
      answer(token, (pt_agent_answer)a);
      return;
    }
  }
}

int pt__chat_agent_run(pt_chat_agent *a, const pt_chat_agent_turn *t)
{
  turn u = { .a = a, .t = t };
  pt__chat_agent_rec_init(&u.saving, t->rec, t->messages);
  cJSON *extra = NULL;
  if (t->max_tokens > 0) {
    extra = cJSON_CreateObject();
    cJSON_AddNumberToObject(extra, "max_tokens", (double)t->max_tokens);
  }
  pt_agent_options o = {
    .provider = t->provider, .model = t->model, .system = t->system,
    .messages = t->messages, .tools = (const char *const *)a->tools,
    .tool_count = a->tool_count, .policy = a->policy,
    .workspace = a->workspace,
    .session = t->rec && t->rec->session[0] ? t->rec->session : NULL,
    .max_turns = a->max_turns, .extra_request = extra,
    .ask = a->yes || a->ask_tty ? on_ask : NULL, .ask_ud = &u,
    .max_tokens_total = a->max_tokens_total,
    .max_cost_usd = a->max_cost_usd, .price = t->price,
    .store = t->rec ? t->rec->st : NULL,
    .turn_id = t->rec ? t->rec->turn : 0 };
  pt_agent_sink sink = { .on_event = on_event,
                         .on_agent_event = on_agent_event,
                         .on_done = on_done, .ud = &u };
  char err[1024] = "";
  int32_t rc = pt_agent_turn(t->k, &o, &sink, &a->running, err, sizeof err);
  cJSON_Delete(extra);
  if (rc != PT_OK) {
    a->running = NULL;
    if (t->rec) pt_chat_record_end(t->rec, rc, PT_STOP_ERROR, err);
    fprintf(stderr, "portico: %s\n", err[0] ? err : pt_strerror(rc));
    return PT_EXIT_FAIL;
  }
  while (!u.done) {
    uv_run(&t->k->loop, UV_RUN_ONCE);
    if (t->rec) pt_chat_record_flush(t->rec);
  }
  if (t->rec) pt__chat_agent_rec_end(&u.saving, &u.res, u.message);
  if (u.out_mid_line) putchar('\n');
  fflush(stdout);
  const pt_agent_result *r = &u.res;
  if (r->stop == PT_AGENT_CANCELLED) {
    if (!t->json) fputs("portico: cancelled\n", stderr);
    return *t->terminating ? EXIT_TERMINATED : EXIT_CANCELLED;
  }
  if (r->stop == PT_AGENT_ERROR) {
    fprintf(stderr, "portico: %s: %s\n", t->provider,
            u.message[0] ? u.message : pt_strerror(r->status));
    return PT_EXIT_FAIL;
  }
  if (t->rec && !pt_chat_record_ok(t->rec)) return PT_EXIT_FAIL;
  if ((!t->json && r->stop == PT_AGENT_MAX_TURNS) ||
      r->stop == PT_AGENT_BUDGET)
    fprintf(stderr, "portico: %s\n", u.message);
  if (!t->json && r->stop == PT_AGENT_MAX_TOKENS)
    fputs("portico: the reply was cut at the token limit\n", stderr);
  return PT_EXIT_OK;
}

int pt__chat_agent_cancel(pt_chat_agent *a)
{
  if (!a->running) return 0;
  pt_agent_cancel(a->running);
  return 1;
}
