/*
 * tests/test_provider_openai.c: the bundled openai provider, loaded by the
 * real kernel, talking Chat Completions to a fake OpenAI API
 * (tests/support/fake_openai) on 127.0.0.1: streaming however the bytes are
 * cut, reasoning, tool calls, usage, stop reasons, the exact request
 * bodies, model listing, and a long stream on both APIs.
 *
 * Not here: retries, errors, cancel and cuts
 * (test_provider_openai_failures.c); the Responses API
 * (test_provider_openai_responses.c). The environment, the recorder and
 * pv_q (JSON written with single quotes) are support/provider_cases.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "provider_cases.h"

/* ------------------------------------------------------------------------ */
/* Chat Completions scripts                                                  */

/* The text of chat_text_stream, decoded. */
static const char TEXT[] = "H\xc3\xa9llo, w\xc3\xb6rld \xe4\xb8\x96\xe7\x95\x8c"
                           " \xf0\x9f\x98\x80\n\"q\" \\ \xf0\x9f\x98\x80 end";

static void chat_text_stream(fake_openai_stream *s)
{
  fos_chunk(s, pv_q(PV_OPENAI_ROLE), NULL);
  fos_chunk(s, pv_q("{'content':'H\\u00e9llo, '}"), NULL);
  fos_chunk(s, pv_q("{'content':'w\xc3\xb6rld \xe4\xb8\x96\xe7\x95\x8c'}"),
            NULL);
  fos_chunk(s, pv_q("{'content':' \xf0\x9f\x98\x80\\n\\'q\\' \\\\ '}"), NULL);
  fos_chunk(s, pv_q("{'content':'\\ud83d\\ude00 end'}"), NULL);
  fos_chunk(s, "{}", "stop");
  fos_usage(s, 12, 9, 0);
  fos_done(s);
}

static size_t at(const fake_openai_stream *s, const char *needle, size_t k)
{
  const char *p = strstr(s->text, needle);
  CHECK(p != NULL);
  return p ? (size_t)(p - s->text) + k : 0;
}

/* arg: 0 whole events, else the piece size; cut by hand when 99. */
static void script_text(fake_http_response *res, const void *arg)
{
  size_t piece = (size_t)(uintptr_t)arg;
  fake_openai_stream s;
  fos_init(&s);
  chat_text_stream(&s);
  fake_openai_sse_head(res);
  if (piece == 99) {
    /* Inside "data:", an escape's \u00 | e9, a 2-byte ö, a 3-byte 世, a
     * 4-byte emoji, a \n escape, between two surrogates, between the two
     * newlines that end an event, inside [DONE]. */
    size_t cuts[] = {
      at(&s, "data:", 2), at(&s, "\\u00e9", 4), at(&s, "\xc3\xb6", 1),
      at(&s, "\xe4\xb8\x96", 2), at(&s, "\xf0\x9f\x98\x80", 3),
      at(&s, "\\n", 1), at(&s, "\\ude00", 1), at(&s, "}\n\n", 2),
      at(&s, "[DONE]", 3),
    };
    fake_openai_send_cuts(res, &s, cuts, sizeof cuts / sizeof cuts[0], 15, 1);
  } else if (piece) {
    fake_openai_send_pieces(res, &s, piece, 1, 1);
  } else {
    fake_openai_send_events(res, &s, 0, 1);
  }
  fos_free(&s);
}

/* ------------------------------------------------------------------------ */
/* Chat Completions: streaming                                               */

static void text_streams_exactly_however_the_bytes_are_cut(void)
{
  pv_openai e;
  pv_openai_start(&e, PV_OPENAI_KEY, "");
  static const size_t modes[] = { 0, 1, 3, 99 };
  for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++) {
    fake_openai_push(e.fo, script_text, (const void *)(uintptr_t)modes[m]);
    pv_chat r;
    pv_openai_chat(&e, PV_OPENAI_SIMPLE, &r);
    CHECK_STR(r.text, TEXT);
    CHECK_INT(r.status, ==, PT_OK);
    CHECK_INT(r.stop, ==, PT_STOP_END_TURN);
  }
  const fake_openai_request *req = fake_openai_get(e.fo, 0);
  char h[256];
  CHECK_STR(req->method, "POST");
  CHECK_STR(req->path, "/v1/chat/completions");
  CHECK_STR(fake_openai_header(req, "Authorization", h, sizeof h),
            "Bearer " PV_OPENAI_KEY);
  CHECK_STR(fake_openai_header(req, "Content-Type", h, sizeof h),
            "application/json");
  CHECK_STR(fake_openai_header(req, "Accept", h, sizeof h),
            "text/event-stream");
  cJSON *body = pv_openai_body(&e, 0);
  PV_CHECK_QJSON(body, "{'model':'gpt-4o-mini','messages':[{'role':'user',"
                       "'content':'Hi'}],'stream':true,'stream_options':"
                       "{'include_usage':true}}");
  cJSON_Delete(body);
  pv_openai_stop(&e);
}

static void reasoning_content_and_reasoning_stream_as_thinking(void)
{
  static const pv_openai_deltas d = {
    "stop",
    { "{'reasoning_content':'Let me '}", "{'reasoning_content':'th\\u00efnk.'}",
      "{'reasoning':' More.','reasoning_content':null}",
      "{'reasoning':' Again.','reasoning_content':' Again.'}",
      "{'content':'Answer'}", NULL },
    2,
  };
  pv_openai e;
  pv_openai_start(&e, PV_OPENAI_KEY, "");
  fake_openai_push(e.fo, pv_openai_script_deltas, &d);
  pv_chat r;
  pv_openai_chat(&e, PV_OPENAI_SIMPLE, &r);
  CHECK_STR(r.thinking, "Let me th\xc3\xafnk. More. Again.");
  CHECK_STR(r.text, "Answer");
  CHECK_INT(r.stop, ==, PT_STOP_END_TURN);
  pv_openai_stop(&e);
}

static void a_tool_call_in_many_fragments_ends_with_the_whole_object(void)
{
  static const pv_openai_deltas d = {
    "tool_calls",
    { "{'role':'assistant','content':null,'tool_calls':[{'index':0,"
      "'id':'call_abc','type':'function','function':{'name':'fs_read',"
      "'arguments':''}}],'refusal':null}",
      "{'tool_calls':[{'index':0,'function':{'arguments':'{\\'pa'}}]}",
      "{'tool_calls':[{'index':0,'function':{'arguments':'th\\': \\'/tmp/caf"
      "\\\\u00e9 \\\\\\'x'}}]}",
      "{'tool_calls':[{'index':0,'function':{'arguments':'\\\\\\'\\', "
      "\\'n\\': [1,'}}]}",
      "{'tool_calls':[{'index':0,'function':{'arguments':' 2], \\'u\\': "
      "\\'\xe6\x97\xa5\xe6\x9c\xac'}}]}",
      "{'tool_calls':[{'index':0,'function':{'arguments':'\\'}'}}]}", NULL },
    3,
  };
  pv_openai e;
  pv_openai_start(&e, PV_OPENAI_KEY, "");
  fake_openai_push(e.fo, pv_openai_script_deltas, &d);
  pv_chat r;
  pv_openai_chat(&e, PV_OPENAI_SIMPLE, &r);
  CHECK_INT(r.status, ==, PT_OK);
  CHECK_INT(r.stop, ==, PT_STOP_TOOL_USE);
  CHECK_INT(r.starts, ==, 1);
  CHECK_INT(r.deltas, ==, 5);
  CHECK_INT(r.ends, ==, 1);
  CHECK_STR(r.calls[0].id, "call_abc");
  CHECK_STR(r.calls[0].name, "fs_read");
  PV_CHECK_QJSON_TEXT(r.calls[0].json,
                      "{'path':'/tmp/caf\xc3\xa9 \\'x\\'','n':[1,2],"
                      "'u':'\xe6\x97\xa5\xe6\x9c\xac'}");
  pv_openai_stop(&e);
}

static void two_parallel_tool_calls_interleave_by_index(void)
{
  static const pv_openai_deltas d = {
    "tool_calls",
    { "{'role':'assistant','content':null,'tool_calls':[{'index':0,"
      "'id':'call_a','type':'function','function':{'name':'fs_read',"
      "'arguments':''}}]}",
      "{'tool_calls':[{'index':1,'id':'call_b','type':'function',"
      "'function':{'name':'web_get','arguments':''}}]}",
      "{'tool_calls':[{'index':0,'function':{'arguments':'{\\'path\\':'}}]}",
      "{'tool_calls':[{'index':1,'function':{'arguments':'{\\'url\\':"
      "\\'https://x.test\\'}'}}]}",
      "{'tool_calls':[{'index':0,'function':{'arguments':'\\'a.txt\\'}'}}]}",
      NULL },
    0,
  };
  pv_openai e;
  pv_openai_start(&e, PV_OPENAI_KEY, "");
  fake_openai_push(e.fo, pv_openai_script_deltas, &d);
  pv_chat r;
  pv_openai_chat(&e, PV_OPENAI_SIMPLE, &r);
  CHECK_INT(r.stop, ==, PT_STOP_TOOL_USE);
  CHECK_INT(r.starts, ==, 2);
  CHECK_INT(r.ends, ==, 2);
  CHECK_STR(r.calls[0].id, "call_a");
  CHECK_STR(r.calls[1].name, "web_get");
  PV_CHECK_QJSON_TEXT(r.calls[0].json, "{'path':'a.txt'}");
  PV_CHECK_QJSON_TEXT(r.calls[1].json, "{'url':'https://x.test'}");
  pv_openai_stop(&e);
}

static void script_usage(fake_http_response *res, const void *arg)
{
  fake_openai_stream s;
  fos_init(&s);
  fos_chunk(&s, pv_q("{'content':'ok'}"), NULL);
  fos_chunk(&s, "{}", "stop");
  fos_usage(&s, 100, 20, 40);
  fos_done(&s);
  fake_openai_sse_head(res);
  fake_openai_send_events(res, &s, 0, 1);
  fos_free(&s);
}

static void usage_counts_cached_prompt_tokens_apart(void)
{
  pv_openai e;
  pv_openai_start(&e, PV_OPENAI_KEY, "");
  fake_openai_push(e.fo, script_usage, NULL);
  pv_chat r;
  pv_openai_chat(&e, PV_OPENAI_SIMPLE, &r);
  CHECK_INT(r.usages, ==, 1);
  CHECK_INT(r.in, ==, 60);
  CHECK_INT(r.out, ==, 20);
  CHECK_INT(r.cache_read, ==, 40);
  pv_openai_stop(&e);
}

static void script_vllm_stop(fake_http_response *res, const void *arg)
{
  fake_openai_stream s;
  fos_init(&s);
  fos_data(&s, "%s", pv_q("{'id':'cmpl-1','object':'chat.completion.chunk',"
                          "'created':1,'model':'m','choices':[{'index':0,"
                          "'delta':{'content':'1 2 3'},'logprobs':null,"
                          "'finish_reason':null}]}"));
  fos_data(&s, "%s", pv_q("{'id':'cmpl-1','object':'chat.completion.chunk',"
                          "'created':1,'model':'m','choices':[{'index':0,"
                          "'delta':{'content':''},'logprobs':null,"
                          "'finish_reason':'stop','stop_reason':'###'}]}"));
  fos_done(&s);
  fake_openai_sse_head(res);
  fake_openai_send_events(res, &s, 0, 1);
  fos_free(&s);
}

static void each_finish_reason_maps_to_its_stop_reason(void)
{
  static const pv_openai_deltas stop = {
    "stop", { "{'content':'a'}", NULL }, 0 };
  static const pv_openai_deltas length = {
    "length", { "{'content':'a'}", NULL }, 0 };
  static const pv_openai_deltas filter = {
    "content_filter", { "{'content':'a'}", NULL }, 0 };
  static const pv_openai_deltas refusal = {
    "stop", { "{'refusal':'I can\\u2019t help with that.'}", NULL }, 0 };
  pv_openai e;
  pv_openai_start(&e, PV_OPENAI_KEY, "");
  fake_openai_push(e.fo, pv_openai_script_deltas, &stop);
  fake_openai_push(e.fo, pv_openai_script_deltas, &length);
  fake_openai_push(e.fo, pv_openai_script_deltas, &filter);
  fake_openai_push(e.fo, pv_openai_script_deltas, &refusal);
  fake_openai_push(e.fo, script_vllm_stop, NULL);
  static const uint32_t want[] = { PT_STOP_END_TURN, PT_STOP_MAX_TOKENS,
                                   PT_STOP_REFUSAL, PT_STOP_REFUSAL,
                                   PT_STOP_STOP_SEQUENCE };
  for (int i = 0; i < 5; i++) {
    pv_chat r;
    pv_openai_chat(&e, PV_OPENAI_SIMPLE, &r);
    CHECK_INT(r.status, ==, PT_OK);
    CHECK_INT(r.stop, ==, want[i]);
    if (i == 3) CHECK_STR(r.text, "I can\xe2\x80\x99t help with that.");
  }
  pv_openai_stop(&e);
}

/* ------------------------------------------------------------------------ */
/* Chat Completions: the request                                             */

static void the_chat_completions_body_maps_every_part(void)
{
  pv_openai e;
  pv_openai_start(&e, PV_OPENAI_KEY, "");
  fake_openai_push(e.fo, pv_openai_script_hello, NULL);
  pv_chat r;
  pv_openai_chat(&e, PV_OPENAI_FULL_REQUEST, &r);
  CHECK_INT(r.status, ==, PT_OK);
  cJSON *body = pv_openai_body(&e, 0);
  PV_CHECK_QJSON(body,
    "{'model':'gpt-4o-mini','messages':["
    "{'role':'system','content':'Be brief.'},"
    "{'role':'user','content':'Read README.md'},"
    "{'role':'assistant','content':'Reading it.','tool_calls':[{'id':'call_1',"
    "'type':'function','function':{'name':'fs_read',"
    "'arguments':'{\\'path\\':\\'README.md\\'}'}}]},"
    "{'role':'tool','tool_call_id':'call_1','content':'# Portico'},"
    "{'role':'assistant','content':null,'tool_calls':[{'id':'call_2',"
    "'type':'function','function':{'name':'fs_read',"
    "'arguments':'{\\'path\\':\\'nope\\'}'}}]},"
    "{'role':'tool','tool_call_id':'call_2','content':'Error: no such file'},"
    "{'role':'user','content':[{'type':'text','text':'And this picture?'},"
    "{'type':'image_url','image_url':{'url':'data:image/png;base64,"
    "iVBORw0KGgo='}},{'type':'image_url','image_url':"
    "{'url':'https://example.com/cat.jpg'}}]}],"
    "'tools':[{'type':'function','function':{'name':'fs_read',"
    "'description':'Read a file.','parameters':" PV_OPENAI_SCHEMA "}}],"
    "'tool_choice':{'type':'function','function':{'name':'fs_read'}},"
    "'max_completion_tokens':1024,'temperature':0.5,'top_p':0.9,"
    "'stop':['\\n\\nHuman:','END'],'reasoning_effort':'high','stream':true,"
    "'stream_options':{'include_usage':true},"
    "'metadata':{'user_id':'u-42'},'parallel_tool_calls':false}");
  cJSON_Delete(body);
  pv_openai_stop(&e);
}

static void tool_choice_strings_pass_through(void)
{
  static const char *const choices[] = { "auto", "none", "required" };
  pv_openai e;
  pv_openai_start(&e, PV_OPENAI_KEY, "");
  for (int i = 0; i < 3; i++) {
    char req[512];
    snprintf(req, sizeof req,
             "{'model':'m','messages':[{'role':'user','content':'Hi'}],"
             "'tools':[{'name':'t','input_schema':{'type':'object'}}],"
             "'tool_choice':'%s'}",
             choices[i]);
    fake_openai_push(e.fo, pv_openai_script_hello, NULL);
    pv_chat r;
    pv_openai_chat(&e, req, &r);
    cJSON *body = pv_openai_body(&e, i);
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(body, "tool_choice")),
              choices[i]);
    cJSON_Delete(body);
  }
  pv_openai_stop(&e);
}

static void developer_role_legacy_max_tokens_and_org_are_settings(void)
{
  pv_openai e;
  pv_openai_start(&e, PV_OPENAI_KEY,
                  "system_role = 'developer', legacy_max_tokens = true, "
                  "organization = 'org-42', project = 'proj_7'");
  fake_openai_push(e.fo, pv_openai_script_hello, NULL);
  pv_chat r;
  pv_openai_chat(&e, "{'model':'o3','system':'Sys.','max_tokens':50,"
                     "'thinking':{'budget_tokens':2000},"
                     "'messages':[{'role':'user','content':'Hi'}]}",
                 &r);
  cJSON *body = pv_openai_body(&e, 0);
  PV_CHECK_QJSON(body, "{'model':'o3','messages':[{'role':'developer',"
                       "'content':'Sys.'},{'role':'user','content':'Hi'}],"
                       "'max_tokens':50,'reasoning_effort':'low','stream':true,"
                       "'stream_options':{'include_usage':true}}");
  cJSON_Delete(body);
  char h[256];
  const fake_openai_request *req = fake_openai_get(e.fo, 0);
  CHECK_STR(fake_openai_header(req, "OpenAI-Organization", h, sizeof h),
            "org-42");
  CHECK_STR(fake_openai_header(req, "OpenAI-Project", h, sizeof h), "proj_7");
  pv_openai_stop(&e);
}

/* ------------------------------------------------------------------------ */
/* Models                                                                    */

static void script_models(fake_http_response *res, const void *arg)
{
  fake_http_respond(res, 200, "application/json",
                    pv_q("{'object':'list','data':[{'id':'gpt-4o-mini',"
                         "'object':'model','created':1721172741,"
                         "'owned_by':'system'},{'id':'o3','object':'model',"
                         "'created':1744225308,'owned_by':'system'}]}"));
}

static void models_are_listed_from_get_models(void)
{
  pv_openai e;
  pv_openai_start(&e, PV_OPENAI_KEY, "");
  fake_openai_push(e.fo, script_models, NULL);
  h_tool t;
  pv_list_models(e.f.k, "openai", &t);
  CHECK_INT(t.done, ==, 1);
  CHECK_INT(t.status, ==, PT_OK);
  PV_CHECK_QJSON_TEXT(t.result, "[{'id':'gpt-4o-mini','owned_by':'system'},"
                                "{'id':'o3','owned_by':'system'}]");
  const fake_openai_request *req = fake_openai_get(e.fo, 0);
  char h[256];
  CHECK_STR(req->method, "GET");
  CHECK_STR(req->path, "/v1/models");
  CHECK_STR(fake_openai_header(req, "Authorization", h, sizeof h),
            "Bearer " PV_OPENAI_KEY);

  fake_openai_require_key(e.fo, "sk-another-key-00000000000000");
  pv_list_models(e.f.k, "openai", &t);
  CHECK_INT(t.status, ==, PT_EPERM);
  CHECK_CONTAINS(t.result, "OPENAI_API_KEY");
  CHECK(strstr(t.result, PV_OPENAI_KEY) == NULL);
  pv_openai_stop(&e);
}

/* ------------------------------------------------------------------------ */
/* Benchmark scenarios                                                       */

static void script_bench(fake_http_response *res, const void *arg)
{
  if (arg)
    fake_openai_responses_stream_deltas(res, 3000);
  else
    fake_openai_stream_deltas(res, 3000);
}

static void the_benchmark_streams_arrive_whole(void)
{
  for (int api = 0; api < 2; api++) {
    pv_openai e;
    pv_openai_start(&e, PV_OPENAI_KEY, api ? PV_OPENAI_RESPONSES : "");
    fake_openai_push(e.fo, script_bench, api ? "responses" : NULL);
    pv_chat r;
    pv_openai_chat(&e, PV_OPENAI_SIMPLE, &r);
    CHECK_INT(r.status, ==, PT_OK);
    CHECK_INT(r.text_len, ==, 3000 * 4);
    CHECK_INT(r.out, ==, 3000);
    pv_openai_stop(&e);
  }
}


int main(void)
{
  pv_init("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_ORG_ID",
          "OPENAI_PROJECT_ID", NULL);
  RUN(text_streams_exactly_however_the_bytes_are_cut);
  RUN(reasoning_content_and_reasoning_stream_as_thinking);
  RUN(a_tool_call_in_many_fragments_ends_with_the_whole_object);
  RUN(two_parallel_tool_calls_interleave_by_index);
  RUN(usage_counts_cached_prompt_tokens_apart);
  RUN(each_finish_reason_maps_to_its_stop_reason);
  RUN(the_chat_completions_body_maps_every_part);
  RUN(tool_choice_strings_pass_through);
  RUN(developer_role_legacy_max_tokens_and_org_are_settings);
  RUN(models_are_listed_from_get_models);
  RUN(the_benchmark_streams_arrive_whole);
  return check_report();
}
