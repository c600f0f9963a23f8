/*
 * core/cli_models.c: `portico models` — the models each provider can
 * reach, asked of all providers at once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ops.h"

static const char models_help[] =
    "usage: portico models [--provider NAME] [--json]\n"
    "\n"
    "List the models each loaded provider can reach (all providers are\n"
    "asked at once), or only those of NAME.\n"
    "\n"
    "  -p, --provider NAME  ask only this provider\n"
    "  --json               one JSON document instead of text\n"
    "\n";

typedef struct listing {
  const char *provider;
  int done;
  int32_t status;
  cJSON *models;     /* owned: the provider's array, or NULL */
} listing;

static void on_done(void *ud, int32_t status, pt_str result)
{
  listing *l = ud;
  l->done = 1;
  l->status = status;
  if (status == PT_OK) l->models = cJSON_ParseWithLength(result.ptr, result.len);
}

int pt_cli_models(const pt_cli *cli, int argc, char **argv)
{
  const char *only = NULL;
  int json = 0;
  for (int i = 0; i < argc; i++) {
    if (pt_cli_is_help(argv[i])) {
      fputs(models_help, stdout);
      fputs(pt_cli_global_help, stdout);
      return PT_EXIT_OK;
    }
    if (!strcmp(argv[i], "--json")) json = 1;
    else if ((!strcmp(argv[i], "-p") || !strcmp(argv[i], "--provider")) &&
             i + 1 < argc)
      only = argv[++i];
    else
      return pt_cli_usage_error("models", "unexpected '%s'", argv[i]);
  }
  pt_kernel_options o;
  pt_cli_kernel_options(cli, &o);
  pt_kernel *k = pt_cli_kernel(cli, &o);
  if (!k) return PT_EXIT_FAIL;

  size_t n = k->registry.provider_count;
  listing *ls = calloc(n ? n : 1, sizeof *ls);
  size_t asked = 0, pending = 0;
  for (size_t i = 0; ls && i < n; i++) {
    const char *id = k->registry.providers[i].vt->id;
    if (only && strcmp(only, id) != 0) continue;
    listing *l = &ls[asked++];
    l->provider = id;
    pt_op_sink sink = { .on_done = on_done, .ud = l };
    l->status = pt_op_models(k, id, &sink, NULL);
    if (l->status < 0) l->done = 1;
    else pending++;
  }
  if (only && asked == 0) {
    fprintf(stderr, "portico: no provider named '%s' is loaded; 'portico "
                    "plugins' lists them\n", only);
    free(ls);
    pt_kernel_free(k);
    return PT_EXIT_FAIL;
  }
  for (;;) {
    size_t left = 0;
    for (size_t i = 0; i < asked; i++) left += !ls[i].done;
    if (!left) break;
    uv_run(&k->loop, UV_RUN_ONCE);
  }

  int failures = 0;
  cJSON *doc = json ? cJSON_CreateObject() : NULL;
  cJSON *all = json ? cJSON_AddArrayToObject(doc, "models") : NULL;
  cJSON *errors = json ? cJSON_AddArrayToObject(doc, "errors") : NULL;
  for (size_t i = 0; i < asked; i++) {
    listing *l = &ls[i];
    if (l->status < 0 || !cJSON_IsArray(l->models)) {
      failures++;
      const char *why = l->status == PT_ENOTSUP ? "does not list its models"
                        : l->status < 0         ? pt_strerror(l->status)
                                                : "answered with no list";
      if (json) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "provider", l->provider);
        cJSON_AddStringToObject(e, "message", why);
        cJSON_AddItemToArray(errors, e);
      } else {
        fprintf(stderr, "portico: %s %s\n", l->provider, why);
      }
      continue;
    }
    cJSON *m;
    cJSON_ArrayForEach(m, l->models) {
      const char *id = cJSON_GetStringValue(cJSON_GetObjectItem(m, "id"));
      if (!id) continue;
      if (json) {
        cJSON *row = cJSON_Duplicate(m, 1);
        cJSON_AddStringToObject(row, "provider", l->provider);
        cJSON_AddItemToArray(all, row);
      } else {
        printf("%-10s %s\n", l->provider, id);
      }
    }
  }
  if (json) {
    char *text = cJSON_Print(doc);
    if (text) puts(text);
    cJSON_free(text);
    cJSON_Delete(doc);
  }
  for (size_t i = 0; i < asked; i++) cJSON_Delete(ls[i].models);
  free(ls);
  pt_kernel_free(k);
  return failures == (int)asked ? PT_EXIT_FAIL : PT_EXIT_OK;
}
