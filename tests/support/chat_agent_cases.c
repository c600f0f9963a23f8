/*
 * tests/support/chat_agent_cases.c: see chat_agent_cases.h.
 */
#include "chat_agent_cases.h"

#include <stdio.h>
#include <stdlib.h>

#include "agent_run.h"
#include "harness.h"

const cac_step CAC_ANSWER = { .text = "The note says hello." };

static void reply_step(void *ud, fake_http_response *res)
{
  const cac_step *s = ud;
  fa_sse e = { 0 };
  fa_sse_message_start(&e, 10, 0, 0);
  if (s->text) {
    fa_sse_text_start(&e, 0);
    fa_sse_text_delta(&e, 0, s->text);
    fa_sse_block_stop(&e, 0);
  } else {
    char *q = ag_escape(s->args);
    fa_sse_tool_start(&e, 0, s->id, s->name);
    fa_sse_json_delta(&e, 0, q);
    fa_sse_block_stop(&e, 0);
    free(q);
  }
  fa_sse_message_delta(&e, s->text ? "end_turn" : "tool_use", 5);
  fa_sse_message_stop(&e);
  fake_anthropic_send_stream(res, &e, 0);
  fa_sse_free(&e);
}

void cac_setup(cac_env *c)
{
  c->dir = h_tempdir();
  c->ws = h_tempdir();
  h_copy_bundled("claude.so", c->dir);
  h_copy_bundled("tools.so", c->dir);
  h_write_file(c->ws, "note.txt", "hello from the note\n", 20, 0644);
  free(h_write_config(c->dir, "return {}\n"));
  snprintf(c->vars[0], sizeof c->vars[0], "PORTICO_CONFIG=%s/config.lua",
           c->dir);
  snprintf(c->vars[1], sizeof c->vars[1], "PORTICO_DATA_DIR=%s", c->dir);
  snprintf(c->vars[2], sizeof c->vars[2], "XDG_CONFIG_HOME=%s", c->dir);
  snprintf(c->vars[3], sizeof c->vars[3], "HOME=%s", c->dir);
  for (int i = 0; i < 4; i++) c->env[i] = c->vars[i];
  c->env[4] = NULL;
}

void cac_teardown(cac_env *c)
{
  h_rmtree(c->ws);
  h_rmtree(c->dir);
  free(c->ws);
  free(c->dir);
}

fake_anthropic *cac_fake_start(const cac_env *c, const cac_step *first,
                               const char *extra)
{
  fake_anthropic *fa = fake_anthropic_start();
  if (first) fake_anthropic_push(fa, reply_step, (void *)first);
  fake_anthropic_push(fa, reply_step, (void *)&CAC_ANSWER);
  char lua[2048];
  snprintf(lua, sizeof lua,
           "return { plugins = { claude = { base_url = '%s', api_key = 'k',"
           " max_attempts = 1 } }, %s }\n", fake_anthropic_url(fa), extra);
  free(h_write_config(c->dir, lua));
  return fa;
}
