/* tests/support/tools_run.c: see tools_run.h. */
#include "tools_run.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "check.h"

static void start(tr_env *e, const char *plugin, int watch)
{
  memset(e, 0, sizeof *e);
  h_fixture_prepare(&e->f, NULL);
  if (strcmp(plugin, "tools.so") == 0)
    h_copy_bundled(plugin, e->f.dir);
  else
    h_copy_plugin(plugin, e->f.dir, NULL);
  h_fixture_boot(&e->f, watch, NULL);
  e->ws = h_tempdir();
  char *q = tr_quote(e->ws);
  snprintf(e->context, sizeof e->context, "{\"workspace\":%s,\"session\":"
           "\"s1\"}", q);
  free(q);
}

void tr_start(tr_env *e, const char *plugin)
{
  start(e, plugin, 0);
}

void tr_start_watched(tr_env *e, const char *plugin)
{
  start(e, plugin, 1);
}

void tr_stop(tr_env *e)
{
  h_fixture_stop(&e->f);
  h_rmtree(e->ws);
  free(e->ws);
}

static void on_done(void *ud, int32_t status, pt_str result)
{
  tr_call *c = ud;
  c->done++;
  c->status = status;
  free(c->result);
  cJSON_Delete(c->json);
  c->result = strndup(result.ptr ? result.ptr : "", result.len);
  c->json = cJSON_ParseWithLength(result.ptr, result.len);
  const cJSON *content = cJSON_GetObjectItemCaseSensitive(c->json, "content");
  c->content = cJSON_IsString(content) ? content->valuestring : "";
  c->is_error = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c->json,
                                                              "is_error"));
}

pt_op_impl *tr_begin(tr_env *e, const char *tool, const char *args,
                     const char *context, tr_call *c)
{
  memset(c, 0, sizeof *c);
  c->content = "";
  pt_op_sink sink = { .on_done = on_done, .ud = c };
  pt_op_impl *op = NULL;
  int32_t rc = pt_op_tool(e->f.k, tool, (pt_str){ args, strlen(args) },
                          context ? context : e->context, &sink, &op);
  CHECK_INT(rc, ==, PT_OK);
  CHECK_INT(c->done, ==, 0); /* never completes inside invoke */
  return rc == PT_OK ? op : NULL;
}

int tr_wait(tr_env *e, tr_call *c, uint64_t ms)
{
  return h_run_until(e->f.k, &c->done, ms);
}

void tr_run(tr_env *e, const char *tool, const char *args, tr_call *c)
{
  tr_begin(e, tool, args, NULL, c);
  tr_wait(e, c, 20000);
  pt_kernel_spin(e->f.k, 1); /* a second completion would show up here */
  CHECK_INT(c->done, ==, 1);
  if (!c->json) fprintf(stderr, "  result is not JSON: %s\n", c->result);
}

void tr_free(tr_call *c)
{
  free(c->result);
  cJSON_Delete(c->json);
  memset(c, 0, sizeof *c);
}

double tr_num(const tr_call *c, const char *key, double dflt)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(c->json, key);
  return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

const char *tr_path(tr_env *e, const char *rel, char *buf, size_t size)
{
  snprintf(buf, size, "%s/%s", e->ws, rel);
  return buf;
}

void tr_write(tr_env *e, const char *rel, const char *text)
{
  char path[4200];
  tr_path(e, rel, path, sizeof path);
  for (char *p = path + strlen(e->ws) + 1; (p = strchr(p, '/')); p++) {
    *p = '\0';
    if (mkdir(path, 0755) != 0 && errno != EEXIST) perror(path);
    *p = '/';
  }
  FILE *f = fopen(path, "wb");
  if (!f) {
    perror(path);
    abort();
  }
  fputs(text, f);
  fclose(f);
}

char *tr_read(tr_env *e, const char *rel)
{
  char path[4200];
  FILE *f = fopen(tr_path(e, rel, path, sizeof path), "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = malloc((size_t)n + 1);
  size_t got = fread(buf, 1, (size_t)n, f);
  buf[got] = '\0';
  fclose(f);
  return buf;
}

char *tr_quote(const char *s)
{
  cJSON *str = cJSON_CreateString(s);
  char *out = cJSON_PrintUnformatted(str);
  cJSON_Delete(str);
  return out;
}
