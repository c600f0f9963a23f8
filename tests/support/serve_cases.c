/*
 * tests/support/serve_cases.c: see serve_cases.h.
 */
#include "serve_cases.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "check.h"

void sc_env(const char **env, const cac_env *c, const char *key_entry)
{
  for (int i = 0; i < 4; i++) env[i] = c->vars[i];
  env[4] = key_entry;
  env[5] = NULL;
}

int sc_start(serve_proc *p, const cac_env *c, const char *key_entry,
             const char *const *argv)
{
  const char *env[6];
  sc_env(env, c, key_entry);
  if (serve_start(p, argv, env, SC_MS) != 0) {
    CHECK(!"the server started");
    return 0;
  }
  return p->port;
}

void sc_stop(serve_proc *p, int *elapsed_ms)
{
  int status = serve_stop(p, SIGTERM, 10000, elapsed_ms);
  CHECK(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

int sc_call(int port, const char *method, const char *path,
            const char *extra, const char *body, cJSON **json)
{
  hp_response r;
  int rc = hp_request(port, method, path, extra, body,
                      body ? strlen(body) : 0, &r, SC_MS);
  if (json) *json = r.body ? cJSON_Parse(r.body) : NULL;
  int status = rc == 0 ? r.status : 0;
  hp_response_free(&r);
  return status;
}

const char *sc_str(const cJSON *o, const char *a, const char *b)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, a);
  if (b) v = cJSON_GetObjectItemCaseSensitive(v, b);
  return cJSON_GetStringValue(v) ? cJSON_GetStringValue(v) : "";
}

double sc_num(const cJSON *o, const char *name)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
  return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

void sc_create_session(int port, const char *headers, const char *body,
                       char *id, size_t cap)
{
  cJSON *j = NULL;
  CHECK_INT(sc_call(port, "POST", "/api/sessions", headers, body, &j), ==,
            201);
  snprintf(id, cap, "%s", sc_str(j, "id", NULL));
  CHECK(id[0] != '\0');
  cJSON_Delete(j);
}

hp_sse *sc_events(int port, const char *id, const char *headers,
                  const char *query)
{
  char path[256];
  snprintf(path, sizeof path, "/api/sessions/%s/events%s", id, query);
  int status = 0;
  hp_sse *s = hp_sse_open(port, path, headers, SC_MS, &status, NULL);
  CHECK_INT(status, ==, 200);
  return s;
}
