/*
 * tests/support/provider_cases.c: the chat recorder, kernel and chat
 * driving, JSON checks and per-provider environments shared by the bundled
 * provider tests. What each piece is for, who owns what and which thread
 * touches it is in provider_cases.h. No main() and no constructors: every
 * test program links this file, and only the provider tests pull it in.
 */
#include "provider_cases.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

void pv_init(const char *name, ...)
{
  static const char *const proxies[] = { "http_proxy", "HTTP_PROXY",
                                         "all_proxy", "ALL_PROXY" };
  for (size_t i = 0; i < sizeof proxies / sizeof proxies[0]; i++)
    unsetenv(proxies[i]);
  va_list ap;
  va_start(ap, name);
  for (; name; name = va_arg(ap, const char *)) unsetenv(name);
  va_end(ap);
}

/* ------------------------------------------------------------------------ */
/* The recorder                                                              */

static void append(char *buf, size_t cap, size_t *len, pt_str s)
{
  if (*len + s.len >= cap) return;
  memcpy(buf + *len, s.ptr, s.len);
  *len += s.len;
  buf[*len] = '\0';
}

static void copy(char *dst, size_t cap, pt_str s)
{
  snprintf(dst, cap, "%.*s", (int)s.len, s.ptr ? s.ptr : "");
}

void pv_on_event(void *ud, const pt_chat_event *ev)
{
  static const char letters[] = "?TKSsdeuD";
  pv_chat *r = ud;
  if (r->done) {
    r->after_done++;
    return;
  }
  if (r->order_len + 1 < sizeof r->order)
    r->order[r->order_len++] = ev->kind < 9 ? letters[ev->kind] : '?';
  pv_call *c = NULL;
  if (ev->kind >= PT_EV_TOOL_CALL_START && ev->kind <= PT_EV_TOOL_CALL_END) {
    if (ev->index >= PV_CALLS) {
      r->bad_index++;
      return;
    }
    c = &r->calls[ev->index];
    if (c->ends) c->after_end++;
  }
  switch (ev->kind) {
  case PT_EV_TEXT:
    append(r->text, sizeof r->text, &r->text_len, ev->text);
    break;
  case PT_EV_THINKING:
    append(r->thinking, sizeof r->thinking, &r->thinking_len, ev->text);
    break;
  case PT_EV_THINKING_SIGNATURE:
    r->signatures++;
    copy(r->signature, sizeof r->signature, ev->text);
    break;
  case PT_EV_TOOL_CALL_START:
    r->starts++;
    c->starts++;
    copy(c->id, sizeof c->id, ev->id);
    copy(c->name, sizeof c->name, ev->name);
    break;
  case PT_EV_TOOL_CALL_DELTA:
    r->deltas++;
    c->deltas++;
    append(c->args, sizeof c->args, &c->args_len, ev->json);
    break;
  case PT_EV_TOOL_CALL_END:
    r->ends++;
    c->ends++;
    if (!ev->id.len || strncmp(c->id, ev->id.ptr, ev->id.len) != 0)
      r->end_id_mismatches++;
    copy(c->json, sizeof c->json, ev->json);
    break;
  case PT_EV_USAGE:
    r->usages++;
    r->in = ev->input_tokens;
    r->out = ev->output_tokens;
    r->cache_read = ev->cache_read_tokens;
    r->cache_write = ev->cache_write_tokens;
    break;
  case PT_EV_DONE:
    r->done++;
    r->status = ev->status;
    r->stop = ev->stop;
    r->flags = ev->flags;
    copy(r->message, sizeof r->message, ev->text);
    copy(r->error_type, sizeof r->error_type, ev->name);
    break;
  }
}

pt_op_impl *pv_chat_start(pt_kernel *k, const char *provider,
                          const char *request, pv_chat *r)
{
  memset(r, 0, sizeof *r);
  pt_op_sink sink = { .on_event = pv_on_event, .ud = r };
  pt_op_impl *op = NULL;
  CHECK_INT(pt_op_chat(k, provider, (pt_str){ request, strlen(request) },
                       NULL, &sink, &op), ==, PT_OK);
  return op;
}

void pv_chat_finish(pt_kernel *k, pv_chat *r, uint64_t ms)
{
  h_run_until(k, &r->done, ms);
  uint64_t t0 = h_now_ms();
  while (h_now_ms() - t0 < 40) pt_kernel_spin(k, 5);
  CHECK_INT(r->done, ==, 1);
  CHECK_INT(r->after_done, ==, 0);
}

void pv_run_until_text(pt_kernel *k, const pv_chat *r, size_t len,
                       uint64_t ms)
{
  uint64_t t0 = h_now_ms();
  while (r->text_len < len && h_now_ms() - t0 < ms) pt_kernel_spin(k, 5);
}

/* ------------------------------------------------------------------------ */
/* Kernels, model listings, JSON                                             */

void pv_kernel_start(h_fixture *f, const char *plugin, const char *lua)
{
  h_fixture_prepare(f, NULL);
  h_copy_bundled(plugin, f->dir);
  char *config = h_write_config(f->dir, lua);
  h_fixture_boot(f, 0, config);
  free(config);
}

void pv_list_models(pt_kernel *k, const char *provider, h_tool *t)
{
  memset(t, 0, sizeof *t);
  pt_op_sink sink = { .on_done = h_on_tool_done, .ud = t };
  CHECK_INT(pt_op_models(k, provider, &sink, NULL), ==, PT_OK);
  h_run_until(k, &t->done, 10000);
}

void pv_check_json(const char *file, int line, const char *got,
                   const char *want)
{
  cJSON *g = got ? cJSON_Parse(got) : NULL, *w = cJSON_Parse(want);
  if (!w)
    check_fail(file, line, "expected JSON does not parse: %s", want);
  else if (!g || !cJSON_Compare(g, w, 1))
    check_fail(file, line, "JSON differs:\n  got  %s\n  want %s",
               got ? got : "(null)", want);
  cJSON_Delete(g);
  cJSON_Delete(w);
}

void pv_check_json_value(const char *file, int line, const cJSON *got,
                         const char *want)
{
  char *g = got ? cJSON_PrintUnformatted(got) : NULL;
  if (got)
    pv_check_json(file, line, g, want);
  else
    check_fail(file, line, "JSON differs:\n  got  (none)\n  want %s", want);
  free(g);
}

void pv_check_member(const char *file, int line, const cJSON *body,
                     const char *name, const char *want)
{
  char *got = cJSON_PrintUnformatted(
      cJSON_GetObjectItemCaseSensitive(body, name));
  pv_check_json(file, line, got ? got : "null", want);
  free(got);
}

/* ------------------------------------------------------------------------ */
/* claude.so                                                                 */

void pv_claude_start(pv_claude *e, const char *settings)
{
  char lua[2048];
  e->fa = fake_anthropic_start();
  if (settings)
    snprintf(lua, sizeof lua, "return { plugins = { claude = { %s } } }\n",
             settings);
  else
    snprintf(lua, sizeof lua,
             "return { plugins = { claude = { base_url = '%s', "
             "api_key = '" PV_CLAUDE_KEY "', backoff_base_ms = 5 } } }\n",
             fake_anthropic_url(e->fa));
  pv_kernel_start(&e->f, "claude.so", lua);
}

void pv_claude_stop(pv_claude *e)
{
  h_fixture_stop(&e->f);
  fake_anthropic_stop(e->fa);
}

void pv_claude_chat(pv_claude *e, const char *request, pv_chat *r)
{
  pv_chat_start(e->f.k, "claude", request, r);
  CHECK_INT(r->done, ==, 0); /* nothing completes inside the call */
  pv_chat_finish(e->f.k, r, 20000);
  CHECK_INT(r->bad_index, ==, 0);
}

cJSON *pv_claude_body(pv_claude *e, size_t i)
{
  const fake_anthropic_request *req = fake_anthropic_request_at(e->fa, i);
  CHECK(req != NULL);
  return req ? cJSON_Parse(req->body) : NULL;
}

void pv_claude_send_text(fake_http_response *res, const char *text,
                         const char *stop_reason, unsigned output)
{
  fa_sse s = { 0 };
  fa_sse_message_start(&s, 10, 0, 0);
  fa_sse_text_start(&s, 0);
  fa_sse_text_delta(&s, 0, text);
  fa_sse_block_stop(&s, 0);
  fa_sse_message_delta(&s, stop_reason, output);
  fa_sse_message_stop(&s);
  fake_anthropic_send_stream(res, &s, 0);
  fa_sse_free(&s);
}

void pv_claude_reply_text(void *ud, fake_http_response *res)
{
  pv_claude_send_text(res, ud ? ud : "Hello", "end_turn", 3);
}

void pv_claude_reply_error(void *ud, fake_http_response *res)
{
  const char *const *e = ud; /* status, type, message, headers */
  fake_anthropic_send_error(res, atoi(e[0]), e[1], e[2], e[3]);
}

/* ------------------------------------------------------------------------ */
/* ollama.so                                                                 */

void pv_ollama_start(pv_ollama *e, fake_ollama_chat_fn fn, void *ud,
                     const char *settings)
{
  char lua[2048];
  e->srv = fake_ollama_start(fn, ud);
  if (!e->srv) abort();
  snprintf(lua, sizeof lua,
           "return { plugins = { ollama = { base_url = "
           "'http://127.0.0.1:%d', backoff_base_ms = 10, %s } } }\n",
           fake_ollama_port(e->srv), settings ? settings : "");
  pv_kernel_start(&e->f, "ollama.so", lua);
}

void pv_ollama_stop(pv_ollama *e)
{
  h_fixture_stop(&e->f);
  fake_ollama_stop(e->srv);
}

void pv_ollama_finish(pv_ollama *e, pv_chat *r, uint64_t ms)
{
  pv_chat_finish(e->f.k, r, ms);
  for (int i = 0; i < PV_CALLS; i++) {
    if (!r->calls[i].starts) continue;
    CHECK(r->calls[i].ends);
    CHECK_INT(r->calls[i].after_end, ==, 0);
  }
}

void pv_ollama_chat(pv_ollama *e, const char *request, pv_chat *r)
{
  pv_chat_start(e->f.k, "ollama", request, r);
  pv_ollama_finish(e, r, 10000);
}

cJSON *pv_ollama_body(pv_ollama *e, size_t n, fake_ollama_seen *s)
{
  if (!fake_ollama_seen_get(e->srv, n, s)) return NULL;
  return cJSON_Parse(s->body);
}

void pv_ollama_send_hello(fake_http_response *res)
{
  fake_ollama_text t = { 0 };
  fake_ollama_add_content(&t, "Hel");
  fake_ollama_add_content(&t, "lo");
  fake_ollama_add_done(&t, "stop", 4, 2);
  fake_ollama_head(res);
  fake_ollama_send_trickle(res, t.s, 9, 1);
  fake_ollama_end(res);
  fake_ollama_text_free(&t);
}

void pv_ollama_reply_hello(void *ud, int attempt, const fake_http_request *req,
                           fake_http_response *res)
{
  pv_ollama_send_hello(res);
}

/* ------------------------------------------------------------------------ */
/* openai.so                                                                 */

const char *pv_q(const char *s)
{
  static char bufs[6][16384];
  static int next;
  char *b = bufs[next++ % 6];
  snprintf(b, sizeof bufs[0], "%s", s);
  for (char *p = b; *p; p++)
    if (*p == '\'') *p = '"';
  return b;
}

void pv_openai_start(pv_openai *e, const char *key, const char *settings)
{
  char base[128], lua[2048], keyline[128] = "";
  e->fo = fake_openai_start();
  fake_openai_base_url(e->fo, base, sizeof base);
  if (key) snprintf(keyline, sizeof keyline, "api_key = '%s', ", key);
  snprintf(lua, sizeof lua,
           "return { plugins = { openai = { base_url = '%s', %s"
           "backoff_base_ms = 5, %s } } }\n",
           base, keyline, settings);
  pv_kernel_start(&e->f, "openai.so", lua);
}

void pv_openai_stop(pv_openai *e)
{
  h_fixture_stop(&e->f);
  fake_openai_stop(e->fo);
}

pt_op_impl *pv_openai_chat_start(pv_openai *e, const char *request,
                                 pv_chat *r)
{
  return pv_chat_start(e->f.k, "openai", pv_q(request), r);
}

void pv_openai_chat(pv_openai *e, const char *request, pv_chat *r)
{
  pv_openai_chat_start(e, request, r);
  pv_chat_finish(e->f.k, r, 15000);
  CHECK_INT(r->end_id_mismatches, ==, 0);
}

cJSON *pv_openai_body(pv_openai *e, int i)
{
  const fake_openai_request *req = fake_openai_get(e->fo, i);
  CHECK(req != NULL);
  return req ? cJSON_Parse(req->body) : NULL;
}

void pv_openai_script_deltas(fake_http_response *res, const void *arg)
{
  const pv_openai_deltas *d = arg;
  fake_openai_stream s;
  fos_init(&s);
  fos_chunk(&s, pv_q(PV_OPENAI_ROLE), NULL);
  for (int i = 0; d->list[i]; i++) fos_chunk(&s, pv_q(d->list[i]), NULL);
  fos_chunk(&s, "{}", d->finish);
  fos_usage(&s, 30, 8, 0);
  fos_done(&s);
  fake_openai_sse_head(res);
  if (d->piece)
    fake_openai_send_pieces(res, &s, d->piece, 1, 1);
  else
    fake_openai_send_events(res, &s, 0, 1);
  fos_free(&s);
}

void pv_openai_script_hello(fake_http_response *res, const void *arg)
{
  static const pv_openai_deltas d = {
    "stop", { "{'content':'Hello'}", NULL }, 0
  };
  pv_openai_script_deltas(res, &d);
}
