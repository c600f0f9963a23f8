/*
 * core/cli_plugins.c: `portico plugins [list|info|watch]`.
 *
 * The listing is the quickest way for a plugin author to see whether a
 * build was accepted and, if not, why; so refusals are part of the output,
 * not only of the log.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "loader.h"
#include "log.h"
#include "plugin_host.h"
#include "plugin_watch.h"

static const char plugins_help[] =
    "usage: portico plugins [list] [--json]\n"
    "       portico plugins info NAME [--json]\n"
    "       portico plugins watch\n"
    "\n"
    "list   every loaded plugin with its version and ABI, the providers and\n"
    "       tools it registered, and every refused file with the reason\n"
    "info   one plugin in detail, including each tool's input schema\n"
    "watch  load the plugins, then keep watching the plugin folders and\n"
    "       report each plugin loaded, unloaded or refused until Ctrl-C\n"
    "\n"
    "  --json   one JSON document instead of text\n"
    "\n";

static void flag_names(uint32_t flags, char *buf, size_t cap)
{
  static const struct { uint32_t bit; const char *name; } names[] = {
    { PT_TOOL_READS, "reads" },       { PT_TOOL_WRITES, "writes" },
    { PT_TOOL_EXECUTES, "executes" }, { PT_TOOL_NETWORK, "network" },
  };
  buf[0] = '\0';
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    if (!(flags & names[i].bit)) continue;
    size_t n = strlen(buf);
    snprintf(buf + n, cap - n, "%s%s", n ? "," : "", names[i].name);
  }
}

static cJSON *tool_flags_json(uint32_t flags)
{
  char buf[64];
  flag_names(flags, buf, sizeof buf);
  cJSON *arr = cJSON_CreateArray();
  char *save = NULL;
  for (char *f = strtok_r(buf, ",", &save); f; f = strtok_r(NULL, ",", &save))
    cJSON_AddItemToArray(arr, cJSON_CreateString(f));
  return arr;
}

static cJSON *plugin_json(const pt_host *h, int detail)
{
  const pt_plugin_desc *d = h->desc;
  char abi[32];
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "name", d->name);
  cJSON_AddStringToObject(o, "version", d->version ? d->version : "");
  cJSON_AddStringToObject(o, "license", d->license ? d->license : "");
  cJSON_AddStringToObject(o, "description",
                          d->description ? d->description : "");
  cJSON_AddStringToObject(o, "path", h->path);
  snprintf(abi, sizeof abi, "%u.%u", d->abi_major, d->abi_minor);
  cJSON_AddStringToObject(o, "abi", abi);
  snprintf(abi, sizeof abi, "%u.%u", d->abi_major, d->min_host_minor);
  cJSON_AddStringToObject(o, "min_host_abi", abi);
  cJSON *providers = cJSON_AddArrayToObject(o, "providers");
  cJSON *tools = cJSON_AddArrayToObject(o, "tools");
  for (size_t i = 0; i < h->reg_count; i++) {
    const pt_registration *r = &h->regs[i];
    cJSON *e = cJSON_CreateObject();
    if (r->is_tool) {
      const pt_tool_vt *vt = r->vt;
      cJSON_AddStringToObject(e, "name", vt->name);
      cJSON_AddStringToObject(e, "description",
                              vt->description ? vt->description : "");
      cJSON_AddItemToObject(e, "effects", tool_flags_json(vt->flags));
      if (detail) {
        cJSON *schema = cJSON_Parse(vt->input_schema);
        cJSON_AddItemToObject(e, "input_schema",
                              schema ? schema : cJSON_CreateNull());
      }
      cJSON_AddItemToArray(tools, e);
    } else {
      const pt_provider_vt *vt = r->vt;
      cJSON_AddStringToObject(e, "id", vt->id);
      cJSON_AddStringToObject(e, "description",
                              vt->description ? vt->description : "");
      cJSON_AddItemToArray(providers, e);
    }
  }
  return o;
}

static void print_json(cJSON *doc)
{
  char *text = cJSON_Print(doc);
  if (text) puts(text);
  free(text);
  cJSON_Delete(doc);
}

static void print_plugin_text(const pt_host *h, int detail)
{
  const pt_plugin_desc *d = h->desc;
  printf("%s %s  (ABI %u.%u, %s)\n", d->name, d->version ? d->version : "?",
         d->abi_major, d->abi_minor,
         d->license && *d->license ? d->license : "no license given");
  if (d->description && *d->description) printf("  %s\n", d->description);
  printf("  file: %s\n", h->path);
  if (h->reg_count == 0) printf("  (registered nothing)\n");
  for (size_t i = 0; i < h->reg_count; i++) {
    const pt_registration *r = &h->regs[i];
    if (r->is_tool) {
      const pt_tool_vt *vt = r->vt;
      char flags[64];
      flag_names(vt->flags, flags, sizeof flags);
      printf("  tool     %-18s [%s] %s\n", vt->name, flags,
             vt->description ? vt->description : "");
      if (detail) printf("           schema: %s\n", vt->input_schema);
    } else {
      const pt_provider_vt *vt = r->vt;
      printf("  provider %-18s %s\n", vt->id,
             vt->description ? vt->description : "");
    }
  }
}

static size_t active_count(const pt_kernel *k)
{
  size_t n = 0;
  for (const pt_host *h = k->plugins; h; h = h->next)
    n += h->state == PT_PLUGIN_ACTIVE;
  return n;
}

static int list(pt_kernel *k, int json)
{
  if (json) {
    cJSON *doc = cJSON_CreateObject();
    cJSON *plugins = cJSON_AddArrayToObject(doc, "plugins");
    for (const pt_host *h = k->plugins; h; h = h->next)
      if (h->state == PT_PLUGIN_ACTIVE)
        cJSON_AddItemToArray(plugins, plugin_json(h, 0));
    cJSON *refused = cJSON_AddArrayToObject(doc, "refused");
    for (const pt_refusal *r = k->refusals; r; r = r->next) {
      cJSON *e = cJSON_CreateObject();
      cJSON_AddStringToObject(e, "path", r->path);
      cJSON_AddStringToObject(e, "reason", r->reason);
      cJSON_AddItemToArray(refused, e);
    }
    cJSON *path = cJSON_AddArrayToObject(doc, "search_path");
    for (size_t i = 0; i < k->search_path_count; i++)
      cJSON_AddItemToArray(path, cJSON_CreateString(k->search_path[i]));
    print_json(doc);
    return PT_EXIT_OK;
  }
  size_t refused = 0;
  for (const pt_refusal *r = k->refusals; r; r = r->next) refused++;
  printf("%zu plugin%s loaded, %zu refused\n", active_count(k),
         active_count(k) == 1 ? "" : "s", refused);
  for (const pt_host *h = k->plugins; h; h = h->next) {
    if (h->state != PT_PLUGIN_ACTIVE) continue;
    putchar('\n');
    print_plugin_text(h, 0);
  }
  if (refused) printf("\nRefused:\n");
  for (const pt_refusal *r = k->refusals; r; r = r->next)
    printf("  %s: %s\n", r->path, r->reason);
  if (active_count(k) == 0 && refused == 0) {
    printf("\nSearched:");
    for (size_t i = 0; i < k->search_path_count; i++)
      printf(" %s", k->search_path[i]);
    printf("\n");
  }
  return PT_EXIT_OK;
}

static int info(pt_kernel *k, const char *name, int json)
{
  const pt_host *h = pt_loader_find(k, name);
  if (h && h->state == PT_PLUGIN_ACTIVE) {
    if (json) print_json(plugin_json(h, 1));
    else print_plugin_text(h, 1);
    return PT_EXIT_OK;
  }
  /* Not loaded: a refused file named after it is the likely reason. */
  size_t n = strlen(name);
  for (const pt_refusal *r = k->refusals; r; r = r->next) {
    const char *base = strrchr(r->path, '/');
    base = base ? base + 1 : r->path;
    if (strncmp(base, name, n) == 0 && base[n] == '.') {
      fprintf(stderr, "portico: plugin '%s' is not loaded: %s: %s\n", name,
              r->path, r->reason);
      return PT_EXIT_FAIL;
    }
  }
  fprintf(stderr,
          "portico: no plugin named '%s' is loaded; 'portico plugins' lists "
          "the loaded ones and the folders searched\n",
          name);
  return PT_EXIT_FAIL;
}

/* ------------------------------------------------------------------------ */
/* watch                                                                     */

static void on_plugin_event(void *ud, const char *what, const char *name,
                            const char *path, const char *detail)
{
  if (strcmp(what, "refused") == 0)
    printf("refused %s: %s\n", path, detail ? detail : "");
  else if (strcmp(what, "loaded") == 0)
    printf("loaded %s %s from %s\n", name ? name : "?", detail ? detail : "",
           path);
  else
    printf("%s %s (%s)\n", what, name ? name : "?", path);
  fflush(stdout);
}

typedef struct watch_signals {
  pt_kernel *k;
  uv_signal_t sigint, sigterm;
} watch_signals;

static void on_signal(uv_signal_t *s, int signum)
{
  watch_signals *ws = s->data;
  uv_close((uv_handle_t *)&ws->sigint, NULL);
  uv_close((uv_handle_t *)&ws->sigterm, NULL);
  pt_kernel_stop(ws->k);
}

static int watch(const pt_cli *cli)
{
  pt_kernel_options o;
  pt_cli_kernel_options(cli, &o);
  o.watch = 1;
  o.on_plugin_event = on_plugin_event;
  pt_kernel *k = pt_cli_kernel(cli, &o);
  if (!k) return PT_EXIT_FAIL;
  watch_signals ws = { .k = k };
  uv_signal_init(&k->loop, &ws.sigint);
  uv_signal_init(&k->loop, &ws.sigterm);
  ws.sigint.data = ws.sigterm.data = &ws;
  uv_signal_start(&ws.sigint, on_signal, SIGINT);
  uv_signal_start(&ws.sigterm, on_signal, SIGTERM);
  printf("ready: %zu plugins loaded, watching %zu folders (Ctrl-C to stop)\n",
         active_count(k), pt_plugin_watch_count(k));
  fflush(stdout);
  pt_kernel_run(k);
  pt_kernel_free(k);
  return PT_EXIT_OK;
}

int pt_cli_plugins(const pt_cli *cli, int argc, char **argv)
{
  int json = 0;
  const char *sub = NULL, *name = NULL;
  for (int i = 0; i < argc; i++) {
    if (pt_cli_is_help(argv[i])) {
      fputs(plugins_help, stdout);
      fputs(pt_cli_global_help, stdout);
      return PT_EXIT_OK;
    }
    if (strcmp(argv[i], "--json") == 0) json = 1;
    else if (argv[i][0] == '-')
      return pt_cli_usage_error("plugins", "unknown option '%s'", argv[i]);
    else if (!sub) sub = argv[i];
    else if (!name) name = argv[i];
    else return pt_cli_usage_error("plugins", "unexpected '%s'", argv[i]);
  }
  if (!sub) sub = "list";
  if (strcmp(sub, "list") != 0 && strcmp(sub, "info") != 0 &&
      strcmp(sub, "watch") != 0)
    return pt_cli_usage_error("plugins", "unknown subcommand '%s'", sub);
  if (strcmp(sub, "info") == 0 && !name)
    return pt_cli_usage_error("plugins", "info needs a plugin NAME");
  if (strcmp(sub, "info") != 0 && name)
    return pt_cli_usage_error("plugins", "unexpected '%s'", name);
  if (strcmp(sub, "watch") == 0) return watch(cli);

  /* The listing shows refusals itself; repeating them as log lines would
   * say everything twice. */
  if (!cli->log_level_set) pt_log_set_level(PT_LOG_ERROR);
  pt_kernel_options o;
  pt_cli_kernel_options(cli, &o);
  pt_kernel *k = pt_cli_kernel(cli, &o);
  if (!k) return PT_EXIT_FAIL;
  int status = strcmp(sub, "info") == 0 ? info(k, name, json) : list(k, json);
  fflush(stdout);
  pt_kernel_free(k);
  return status;
}
