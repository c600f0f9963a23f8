/* tests/support/agent_run.c: see agent_run.h. */
#include "agent_run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

void ag_boot(h_fixture *f, const char *provider_so, const char *lua)
{
  h_fixture_prepare(f, NULL);
  h_copy_bundled(provider_so, f->dir);
  h_copy_bundled("tools.so", f->dir);
  char *config = h_write_config(f->dir, lua);
  h_fixture_boot(f, 0, config);
  free(config);
}

static void on_event(void *ud, const pt_chat_event *ev)
{
  ag_run *r = ud;
  if (ev->kind == PT_EV_DONE) r->chat_dones++;
}

static void on_agent_event(void *ud, const cJSON *ev)
{
  ag_run *r = ud;
  char *t = cJSON_PrintUnformatted(ev);
  if (t) {
    size_t n = strlen(t);
    if (r->events_len + n + 2 < sizeof r->events) {
      memcpy(r->events + r->events_len, t, n);
      r->events_len += n;
      r->events[r->events_len++] = '\n';
      r->events[r->events_len] = '\0';
    }
  }
  free(t);
}

static void on_done(void *ud, const pt_agent_result *res)
{
  ag_run *r = ud;
  r->done++;
  r->res = *res;
  snprintf(r->message, sizeof r->message, "%.500s",
           res->message ? res->message : "");
  r->res.message = r->message;
}

static void on_ask(void *ud, const pt_agent_ask_request *req,
                   void (*answer)(void *token, pt_agent_answer a),
                   void *token)
{
  ag_run *r = ud;
  (void)req;
  r->asks++;
  if (r->defer) {
    r->token = token;
    r->answer_fn = answer;
    return;
  }
  answer(token, r->answer);
}

pt_agent *ag_start(pt_kernel *k, pt_agent_options *o, ag_run *r)
{
  pt_agent_sink s = { .on_event = on_event, .on_agent_event = on_agent_event,
                      .on_done = on_done, .ud = r };
  if (!o->ask) {
    o->ask = on_ask;
    o->ask_ud = r;
  }
  pt_agent *a = NULL;
  char err[256] = "";
  int32_t rc = pt_agent_turn(k, o, &s, &a, err, sizeof err);
  if (rc != PT_OK) fprintf(stderr, "  pt_agent_turn: %s\n", err);
  CHECK_INT(rc, ==, PT_OK);
  CHECK_INT(r->done, ==, 0);
  return a;
}

int ag_wait(pt_kernel *k, ag_run *r, uint64_t ms)
{
  return h_run_until(k, &r->done, ms);
}

char *ag_escape(const char *s)
{
  cJSON *j = cJSON_CreateString(s);
  char *t = cJSON_PrintUnformatted(j);
  cJSON_Delete(j);
  size_t n = strlen(t);
  memmove(t, t + 1, n - 2);
  t[n - 2] = '\0';
  return t;
}
