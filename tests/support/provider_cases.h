/*
 * tests/support/provider_cases.h: the shared bench for the bundled provider
 * tests (tests/test_provider_claude*.c, test_provider_ollama*.c,
 * test_provider_openai*.c). A recorder that keeps everything one chat emits
 * and counts whatever comes after its DONE; a kernel booted with one bundled
 * provider and a config pointing it at a fake; running a chat to its one
 * DONE; JSON comparison; and, per provider, the environment, the requests
 * and the stock replies that provider's files share.
 *
 * Not a general chat sink or plugin fixture: the loader, conformance and
 * CLI tests have their own (support/harness.h). What only one test file
 * needs stays in that file.
 *
 * USE. main calls pv_init once, naming the provider's environment
 * variables. A case starts its provider's environment (pv_claude_start, ...),
 * queues replies on the fake, runs chats with its provider's chat function
 * (which CHECKs exactly one DONE and nothing after it) and ends with the
 * matching stop, which frees the kernel, the plugin folder and the fake.
 *
 * OWNERSHIP. Each pv_chat, env and h_tool is owned by the case that declared
 * it; nothing here allocates on its behalf, except pv_*_body, whose cJSON the
 * caller deletes. pv_q returns one of six rotating static buffers, valid for
 * six more calls. Text in a pv_chat is NUL-terminated; a piece that would
 * overflow its buffer is dropped, never cut. A pv_chat is large (about
 * 100 KB): one or two per case, on the stack, is the intended use.
 *
 * THREADS. Everything runs on the test's thread except the reply functions,
 * which the fakes call on their server threads. The openai scripts call
 * pv_q there too, while the test's thread waits in the loop; its buffers
 * are not locked.
 */
#ifndef PT_TEST_PROVIDER_CASES_H
#define PT_TEST_PROVIDER_CASES_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "fake_anthropic.h"
#include "fake_ollama.h"
#include "fake_openai.h"
#include "harness.h"
#include "ops.h"

/* Process setup for a provider test program, first thing in main: no
 * proxy, and none of the NULL-ended environment variables named (the
 * provider's own settings) set, so that only what the cases configure
 * reaches the plugin. */
void pv_init(const char *name, ...) __attribute__((sentinel));

/* ------------------------------------------------------------------------ */
/* What one chat emitted                                                     */

#define PV_CALLS 4

/* One tool call, filed under its event index. */
typedef struct pv_call {
  int starts, deltas, ends;
  int after_end;            /* events for this index after its END */
  char id[128], name[128];  /* from START */
  char args[4096];          /* the DELTA fragments, joined */
  size_t args_len;
  char json[4096];          /* END's json */
} pv_call;

typedef struct pv_chat {
  char text[65536];
  size_t text_len;
  char thinking[4096];
  size_t thinking_len;
  char signature[1024];     /* the last THINKING_SIGNATURE */
  int signatures;
  char order[1024];         /* one letter per event: T K S s d e u D */
  size_t order_len;
  pv_call calls[PV_CALLS];
  int starts, deltas, ends; /* tool call events over every index */
  int bad_index;            /* tool call events with index >= PV_CALLS */
  int end_id_mismatches;    /* ENDs without their START's id */
  uint64_t in, out, cache_read, cache_write; /* the last USAGE */
  int usages;
  int done, after_done;     /* DONE events, and any event after the first */
  int32_t status;           /* from DONE */
  uint32_t stop, flags;
  char message[1024], error_type[128];
} pv_chat;

/* A pt_op_sink on_event that records into the pv_chat `ud`. */
void pv_on_event(void *ud, const pt_chat_event *ev);

/* Reset `r` and start a chat of `request` on `provider`, CHECKing that it
 * started. Returns the op (NULL if it did not start), for pt_op_cancel. */
pt_op_impl *pv_chat_start(pt_kernel *k, const char *provider,
                          const char *request, pv_chat *r);

/* Run the loop until `r` has its DONE (at most `ms`), then 40 ms more so
 * that an event after DONE would be seen; CHECKs exactly one DONE and
 * nothing after it. */
void pv_chat_finish(pt_kernel *k, pv_chat *r, uint64_t ms);

/* Run the loop until `r` holds `len` bytes of text, or `ms` pass. */
void pv_run_until_text(pt_kernel *k, const pv_chat *r, size_t len,
                       uint64_t ms);

/* ------------------------------------------------------------------------ */
/* Kernels, model listings, JSON                                             */

/* Boot `f`: a fresh folder holding bundled plugin `plugin` ("claude.so")
 * and a config.lua whose text is `lua`. */
void pv_kernel_start(h_fixture *f, const char *plugin, const char *lua);

/* Reset `t`, list `provider`'s models into it, CHECKing that the listing
 * started, and run the loop until it completes or 10 s pass. */
void pv_list_models(pt_kernel *k, const char *provider, h_tool *t);

/* CHECK that JSON text `got` is the JSON `want` (member order aside). */
#define PV_CHECK_JSON(got, want) pv_check_json(__FILE__, __LINE__, (got), (want))
void pv_check_json(const char *file, int line, const char *got,
                   const char *want);

/* The same for a parsed value; `got` NULL never matches. */
#define PV_CHECK_JSON_VALUE(got, want) \
  pv_check_json_value(__FILE__, __LINE__, (got), (want))
void pv_check_json_value(const char *file, int line, const cJSON *got,
                         const char *want);

/* The same for member `name` of `body`; a missing member reads as null. */
#define PV_CHECK_MEMBER(body, name, want) \
  pv_check_member(__FILE__, __LINE__, (body), (name), (want))
void pv_check_member(const char *file, int line, const cJSON *body,
                     const char *name, const char *want);

/* ------------------------------------------------------------------------ */
/* claude.so against fake_anthropic                                          */

#define PV_CLAUDE_KEY "sk-ant-test-0123456789abcdef"
#define PV_CLAUDE_HELLO "{\"model\":\"claude-sonnet-4-5\",\"messages\":" \
                        "[{\"role\":\"user\",\"content\":\"Hi\"}]}"

typedef struct pv_claude {
  fake_anthropic *fa;
  h_fixture f;
} pv_claude;

/* A fresh fake and a kernel with claude.so. `settings` are the Lua fields
 * of plugins.claude; NULL: base_url and api_key (PV_CLAUDE_KEY) pointing
 * at the fake, and 5 ms backoff. */
void pv_claude_start(pv_claude *e, const char *settings);
void pv_claude_stop(pv_claude *e);

/* Run one chat to its end: CHECKs that nothing completed inside the
 * starting call, exactly one DONE, nothing after, every index in range. */
void pv_claude_chat(pv_claude *e, const char *request, pv_chat *r);

/* The body of the fake's request `i`, parsed (caller deletes). */
cJSON *pv_claude_body(pv_claude *e, size_t i);

/* A whole stream: message_start, one text block saying `text`,
 * message_delta with `stop_reason` and `output` tokens, message_stop. */
void pv_claude_send_text(fake_http_response *res, const char *text,
                         const char *stop_reason, unsigned output);

/* Replies for fake_anthropic_push. reply_text: the text `ud` (NULL:
 * "Hello"), end_turn. reply_error: `ud` is a const char *const[4] of
 * status, error type, message and extra header lines (may be NULL). */
void pv_claude_reply_text(void *ud, fake_http_response *res);
void pv_claude_reply_error(void *ud, fake_http_response *res);

/* ------------------------------------------------------------------------ */
/* ollama.so against fake_ollama                                             */

#define PV_OLLAMA_SIMPLE                                                \
  "{\"model\":\"llama3.2\",\"messages\":[{\"role\":\"user\","          \
  "\"content\":\"hi\"}]}"
#define PV_OLLAMA_WITH_TOOLS                                            \
  "{\"model\":\"qwen2.5\",\"messages\":[{\"role\":\"user\","           \
  "\"content\":\"read it\"}],\"tools\":[{\"name\":\"fs_read\","        \
  "\"description\":\"Read a file.\",\"input_schema\":{\"type\":"       \
  "\"object\",\"properties\":{\"path\":{\"type\":\"string\"}}}}]}"

typedef struct pv_ollama {
  fake_ollama *srv;
  h_fixture f;
} pv_ollama;

/* A fake answering chats with `fn(ud, ...)` and a kernel with ollama.so
 * pointed at it, 10 ms backoff, and `settings` (more Lua fields of
 * plugins.ollama, or NULL). */
void pv_ollama_start(pv_ollama *e, fake_ollama_chat_fn fn, void *ud,
                     const char *settings);
void pv_ollama_stop(pv_ollama *e);

/* pv_chat_finish, then CHECK that every call that started ended and saw
 * nothing after its END. */
void pv_ollama_finish(pv_ollama *e, pv_chat *r, uint64_t ms);

/* Start a chat and pv_ollama_finish it within 10 s. */
void pv_ollama_chat(pv_ollama *e, const char *request, pv_chat *r);

/* The `n`-th request the fake received into `s` (free it with
 * fake_ollama_seen_free), and its body parsed (caller deletes); NULL when
 * there is no such request. */
cJSON *pv_ollama_body(pv_ollama *e, size_t n, fake_ollama_seen *s);

/* "Hello" in two lines, trickled; and a chat script that always sends it. */
void pv_ollama_send_hello(fake_http_response *res);
void pv_ollama_reply_hello(void *ud, int attempt, const fake_http_request *req,
                           fake_http_response *res);

/* ------------------------------------------------------------------------ */
/* openai.so against fake_openai                                             */

/* The openai files write JSON with single quotes, turned into real JSON by
 * pv_q, so that expected bodies stay readable. */
#define PV_OPENAI_KEY "sk-test-abcdefghijklmnop0123"
#define PV_OPENAI_SIMPLE \
  "{'model':'gpt-4o-mini','messages':[{'role':'user','content':'Hi'}]}"

/* The setting that switches openai.so to the Responses API. */
#define PV_OPENAI_RESPONSES "api = 'responses'"

/* `s` with every ' turned into ". */
const char *pv_q(const char *s);

/* PV_CHECK_JSON_VALUE and PV_CHECK_JSON with `want` written in quotes. */
#define PV_CHECK_QJSON(got, want) PV_CHECK_JSON_VALUE((got), pv_q(want))
#define PV_CHECK_QJSON_TEXT(got, want) PV_CHECK_JSON((got), pv_q(want))

typedef struct pv_openai {
  fake_openai *fo;
  h_fixture f;
} pv_openai;

/* A fresh fake and a kernel with openai.so pointed at it: api_key `key`
 * (NULL: none), 5 ms backoff, and `settings` (more Lua fields, may be ""). */
void pv_openai_start(pv_openai *e, const char *key, const char *settings);
void pv_openai_stop(pv_openai *e);

/* pv_chat_start with `request` in quotes. */
pt_op_impl *pv_openai_chat_start(pv_openai *e, const char *request,
                                 pv_chat *r);

/* Run one chat to its end within 15 s: exactly one DONE, nothing after,
 * and every tool call END carrying its START's id. */
void pv_openai_chat(pv_openai *e, const char *request, pv_chat *r);

/* The body of the fake's request `i`, parsed (caller deletes). */
cJSON *pv_openai_body(pv_openai *e, int i);

/* The assistant's opening delta of a Chat Completions stream. */
#define PV_OPENAI_ROLE "{'role':'assistant','content':'','refusal':null}"

/* A Chat Completions stream: the role, then each delta of `list` (in
 * quotes, NULL-ended), then a chunk finishing with `finish`, usage (30 in,
 * 8 out) and [DONE]; sent in `piece`-byte pieces, or whole events when 0. */
typedef struct pv_openai_deltas {
  const char *finish;
  const char *list[12];
  size_t piece;
} pv_openai_deltas;

/* Scripts for fake_openai_push: deltas takes a pv_openai_deltas; hello
 * answers "Hello", finishing with stop. */
void pv_openai_script_deltas(fake_http_response *res, const void *arg);
void pv_openai_script_hello(fake_http_response *res, const void *arg);

/* A request with every kind of part, which both APIs map (see the
 * the_*_body_maps_every_part cases): thinking with a signature, an erroring
 * tool result, images both ways, tools, tool_choice, sampling, stop,
 * effort, extra. PV_OPENAI_SCHEMA is its fs_read tool's schema. */
#define PV_OPENAI_FULL_REQUEST                                             \
  "{'model':'gpt-4o-mini','system':'Be brief.','messages':["              \
  "{'role':'user','content':'Read README.md'},"                            \
  "{'role':'assistant','content':["                                        \
  "{'type':'thinking','text':'I should read it.','signature':'sig-1'},"   \
  "{'type':'text','text':'Reading it.'},"                                  \
  "{'type':'tool_call','id':'call_1','name':'fs_read',"                    \
  "'arguments':{'path':'README.md'}}]},"                                   \
  "{'role':'tool','content':[{'type':'tool_result','tool_call_id':'call_1'," \
  "'content':'# Portico','is_error':false}]},"                             \
  "{'role':'assistant','content':[{'type':'tool_call','id':'call_2',"     \
  "'name':'fs_read','arguments':{'path':'nope'}}]},"                       \
  "{'role':'tool','content':[{'type':'tool_result','tool_call_id':'call_2'," \
  "'content':[{'type':'text','text':'no such file'}],'is_error':true}]},"  \
  "{'role':'user','content':[{'type':'text','text':'And this picture?'},"  \
  "{'type':'image','media_type':'image/png','data':'iVBORw0KGgo='},"       \
  "{'type':'image','url':'https://example.com/cat.jpg'}]}],"               \
  "'tools':[{'name':'fs_read','description':'Read a file.',"               \
  "'input_schema':{'type':'object','properties':{'path':{'type':'string'}}," \
  "'required':['path']}}],"                                                \
  "'tool_choice':{'name':'fs_read'},'max_tokens':1024,'temperature':0.5,"  \
  "'top_p':0.9,'stop':['\\n\\nHuman:','END'],'thinking':{'effort':'high'}," \
  "'extra':{'metadata':{'user_id':'u-42'},'parallel_tool_calls':false}}"

#define PV_OPENAI_SCHEMA                                                   \
  "{'type':'object','properties':{'path':{'type':'string'}},"             \
  "'required':['path']}"

#endif
