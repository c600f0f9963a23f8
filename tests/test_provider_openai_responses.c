/*
 * tests/test_provider_openai_responses.c: the bundled openai provider with
 * api = 'responses', against a fake OpenAI API speaking the Responses API's
 * typed events: text with usage, incomplete responses, reasoning summaries,
 * function calls, errors before and after output, and the request body.
 *
 * Not here: Chat Completions (test_provider_openai.c,
 * test_provider_openai_failures.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "provider_cases.h"

/* ------------------------------------------------------------------------ */
/* Responses API                                                             */

static void message_begin(fake_openai_stream *s, int oi)
{
  fos_event(s, "response.output_item.added",
            "\"output_index\":%d,\"item\":{\"id\":\"msg_1\",\"type\":"
            "\"message\",\"status\":\"in_progress\",\"content\":[],"
            "\"role\":\"assistant\"}", oi);
  fos_event(s, "response.content_part.added",
            "\"item_id\":\"msg_1\",\"output_index\":%d,\"content_index\":0,"
            "\"part\":{\"type\":\"output_text\",\"annotations\":[],"
            "\"text\":\"\"}", oi);
}

static void text_delta(fake_openai_stream *s, int oi, const char *delta)
{
  fos_event(s, "response.output_text.delta",
            "\"item_id\":\"msg_1\",\"output_index\":%d,\"content_index\":0,"
            "\"delta\":\"%s\",\"logprobs\":[]", oi, delta);
}

static void message_end(fake_openai_stream *s, int oi, const char *text)
{
  fos_event(s, "response.output_text.done",
            "\"item_id\":\"msg_1\",\"output_index\":%d,\"content_index\":0,"
            "\"text\":\"%s\",\"logprobs\":[]", oi, text);
  fos_event(s, "response.output_item.done",
            "\"output_index\":%d,\"item\":{\"id\":\"msg_1\",\"type\":"
            "\"message\",\"status\":\"completed\",\"content\":[{\"type\":"
            "\"output_text\",\"annotations\":[],\"text\":\"%s\"}],"
            "\"role\":\"assistant\"}", oi, text);
}

static void script_resp_text(fake_http_response *res, const void *arg)
{
  fake_openai_stream s;
  fos_init(&s);
  fos_response_begin(&s);
  message_begin(&s, 0);
  text_delta(&s, 0, "H\\u00e9");
  text_delta(&s, 0, "llo \xe4\xb8\x96\xe7\x95\x8c");
  message_end(&s, 0, "H\\u00e9llo \xe4\xb8\x96\xe7\x95\x8c");
  fos_response_end(&s, arg, 50, 7, 10);
  fake_openai_sse_head(res);
  fake_openai_send_pieces(res, &s, 7, 1, 1);
  fos_free(&s);
}

static void responses_text_streams_with_usage(void)
{
  pv_openai e;
  pv_openai_start(&e, PV_OPENAI_KEY, PV_OPENAI_RESPONSES);
  fake_openai_push(e.fo, script_resp_text, NULL);
  pv_chat r;
  pv_openai_chat(&e, PV_OPENAI_SIMPLE, &r);
  CHECK_STR(r.text, "H\xc3\xa9llo \xe4\xb8\x96\xe7\x95\x8c");
  CHECK_INT(r.status, ==, PT_OK);
  CHECK_INT(r.stop, ==, PT_STOP_END_TURN);
  CHECK_INT(r.in, ==, 40);
  CHECK_INT(r.out, ==, 7);
  CHECK_INT(r.cache_read, ==, 10);
  const fake_openai_request *req = fake_openai_get(e.fo, 0);
  CHECK_STR(req->path, "/v1/responses");
  cJSON *body = pv_openai_body(&e, 0);
  PV_CHECK_QJSON(body, "{'model':'gpt-4o-mini','input':[{'type':'message',"
                       "'role':'user','content':'Hi'}],'stream':true}");
  cJSON_Delete(body);
  pv_openai_stop(&e);
}

static void responses_incomplete_at_max_output_tokens_is_max_tokens(void)
{
  pv_openai e;
  pv_openai_start(&e, PV_OPENAI_KEY, PV_OPENAI_RESPONSES);
  fake_openai_push(e.fo, script_resp_text, "max_output_tokens");
  fake_openai_push(e.fo, script_resp_text, "content_filter");
  pv_chat r;
  pv_openai_chat(&e, PV_OPENAI_SIMPLE, &r);
  CHECK_INT(r.status, ==, PT_OK);
  CHECK_INT(r.stop, ==, PT_STOP_MAX_TOKENS);
  pv_openai_chat(&e, PV_OPENAI_SIMPLE, &r);
  CHECK_INT(r.stop, ==, PT_STOP_REFUSAL);
  pv_openai_stop(&e);
}

static void script_resp_reasoning(fake_http_response *res, const void *arg)
{
  fake_openai_stream s;
  fos_init(&s);
  fos_response_begin(&s);
  fos_event(&s, "response.output_item.added",
            "\"output_index\":0,\"item\":{\"id\":\"rs_1\",\"type\":"
            "\"reasoning\",\"summary\":[]}");
  for (int part = 0; part < 2; part++) {
    fos_event(&s, "response.reasoning_summary_part.added",
              "\"item_id\":\"rs_1\",\"output_index\":0,\"summary_index\":%d,"
              "\"part\":{\"type\":\"summary_text\",\"text\":\"\"}", part);
    fos_event(&s, "response.reasoning_summary_text.delta",
              "\"item_id\":\"rs_1\",\"output_index\":0,\"summary_index\":%d,"
              "\"delta\":\"%s\"", part, part ? "Second." : "**Plan** first");
  }
  fos_event(&s, "response.output_item.done",
            "\"output_index\":0,\"item\":{\"id\":\"rs_1\",\"type\":"
            "\"reasoning\",\"summary\":[]}");
  message_begin(&s, 1);
  text_delta(&s, 1, "OK");
  message_end(&s, 1, "OK");
  fos_response_end(&s, NULL, 5, 5, 0);
  fake_openai_sse_head(res);
  fake_openai_send_pieces(res, &s, 11, 0, 1);
  fos_free(&s);
}

static void responses_reasoning_summaries_stream_as_thinking(void)
{
  pv_openai e;
  pv_openai_start(&e, PV_OPENAI_KEY, PV_OPENAI_RESPONSES);
  fake_openai_push(e.fo, script_resp_reasoning, NULL);
  pv_chat r;
  pv_openai_chat(&e, "{'model':'o3','messages':[{'role':'user',"
                     "'content':'Hi'}],'thinking':{'effort':'medium'}}",
                 &r);
  CHECK_STR(r.thinking, "**Plan** first\n\nSecond.");
  CHECK_STR(r.text, "OK");
  cJSON *body = pv_openai_body(&e, 0);
  PV_CHECK_QJSON(cJSON_GetObjectItem(body, "reasoning"),
                 "{'effort':'medium','summary':'auto'}");
  cJSON_Delete(body);
  pv_openai_stop(&e);
}

static void script_resp_tool(fake_http_response *res, const void *arg)
{
  static const char *const frags[] = { "{\\\"pa", "th\\\": \\\"caf\\\\u00e9",
                                       "/a.txt\\\"", "}" };
  fake_openai_stream s;
  fos_init(&s);
  fos_response_begin(&s);
  fos_event(&s, "response.output_item.added",
            "\"output_index\":0,\"item\":{\"id\":\"rs_1\",\"type\":"
            "\"reasoning\",\"summary\":[]}");
  fos_event(&s, "response.output_item.done",
            "\"output_index\":0,\"item\":{\"id\":\"rs_1\",\"type\":"
            "\"reasoning\",\"summary\":[]}");
  fos_event(&s, "response.output_item.added",
            "\"output_index\":1,\"item\":{\"id\":\"fc_1\",\"type\":"
            "\"function_call\",\"status\":\"in_progress\",\"arguments\":\"\","
            "\"call_id\":\"call_9\",\"name\":\"fs_read\"}");
  for (int i = 0; i < 4; i++)
    fos_event(&s, "response.function_call_arguments.delta",
              "\"item_id\":\"fc_1\",\"output_index\":1,\"delta\":\"%s\"",
              frags[i]);
  fos_event(&s, "response.function_call_arguments.done",
            "\"item_id\":\"fc_1\",\"output_index\":1,\"arguments\":"
            "\"{\\\"path\\\": \\\"caf\\\\u00e9/a.txt\\\"}\"");
  fos_event(&s, "response.output_item.done",
            "\"output_index\":1,\"item\":{\"id\":\"fc_1\",\"type\":"
            "\"function_call\",\"status\":\"completed\",\"arguments\":"
            "\"{\\\"path\\\": \\\"caf\\\\u00e9/a.txt\\\"}\","
            "\"call_id\":\"call_9\",\"name\":\"fs_read\"}");
  fos_response_end(&s, NULL, 20, 12, 0);
  fake_openai_sse_head(res);
  fake_openai_send_pieces(res, &s, 5, 0, 1);
  fos_free(&s);
}

static void responses_a_function_call_streams_as_a_tool_call(void)
{
  pv_openai e;
  pv_openai_start(&e, PV_OPENAI_KEY, PV_OPENAI_RESPONSES);
  fake_openai_push(e.fo, script_resp_tool, NULL);
  pv_chat r;
  pv_openai_chat(&e, PV_OPENAI_SIMPLE, &r);
  CHECK_INT(r.status, ==, PT_OK);
  CHECK_INT(r.stop, ==, PT_STOP_TOOL_USE);
  CHECK_INT(r.starts, ==, 1);
  CHECK_INT(r.deltas, ==, 4);
  CHECK_INT(r.ends, ==, 1);
  CHECK_STR(r.calls[0].id, "call_9");
  CHECK_STR(r.calls[0].name, "fs_read");
  PV_CHECK_QJSON_TEXT(r.calls[0].json, "{'path':'caf\xc3\xa9/a.txt'}");
  CHECK_INT(r.out, ==, 12);
  pv_openai_stop(&e);
}

/* arg NULL: an error event at once; else text, then response.failed. */
static void script_resp_error(fake_http_response *res, const void *arg)
{
  fake_openai_stream s;
  fos_init(&s);
  fos_response_begin(&s);
  if (arg) {
    message_begin(&s, 0);
    text_delta(&s, 0, "Part");
    fos_event(&s, "response.failed",
              "\"response\":{\"id\":\"resp_fake1\",\"object\":\"response\","
              "\"status\":\"failed\",\"error\":{\"code\":\"server_error\","
              "\"message\":\"The model failed to generate a response.\"},"
              "\"incomplete_details\":null,\"output\":[],\"usage\":null}");
  } else {
    fos_event(&s, "error",
              "\"code\":\"server_error\",\"message\":\"The server had an "
              "error while processing your request.\",\"param\":null");
  }
  fake_openai_sse_head(res);
  fake_openai_send_events(res, &s, 1, 1);
  fos_free(&s);
}

static void script_resp_hello(fake_http_response *res, const void *arg)
{
  fake_openai_stream s;
  fos_init(&s);
  fos_response_begin(&s);
  message_begin(&s, 0);
  text_delta(&s, 0, "Hello");
  message_end(&s, 0, "Hello");
  fos_response_end(&s, NULL, 3, 1, 0);
  fake_openai_sse_head(res);
  fake_openai_send_events(res, &s, 0, 1);
  fos_free(&s);
}

static void responses_errors_retry_before_output_and_end_after(void)
{
  pv_openai e;
  pv_openai_start(&e, PV_OPENAI_KEY, PV_OPENAI_RESPONSES);
  fake_openai_push(e.fo, script_resp_error, NULL);
  fake_openai_push(e.fo, script_resp_hello, NULL);
  pv_chat r;
  pv_openai_chat(&e, PV_OPENAI_SIMPLE, &r);
  CHECK_INT(fake_openai_count(e.fo), ==, 2);
  CHECK_STR(r.text, "Hello");
  CHECK_INT(r.status, ==, PT_OK);

  fake_openai_push(e.fo, script_resp_error, "after output");
  pv_openai_chat(&e, PV_OPENAI_SIMPLE, &r);
  CHECK_INT(fake_openai_count(e.fo), ==, 3);
  CHECK_STR(r.text, "Part");
  CHECK_INT(r.status, ==, PT_EHTTP);
  CHECK(r.flags & PT_EVF_RETRYABLE);
  CHECK_STR(r.error_type, "server_error");
  CHECK_CONTAINS(r.message, "failed to generate");
  pv_openai_stop(&e);
}

static void the_responses_body_maps_every_part(void)
{
  pv_openai e;
  pv_openai_start(&e, PV_OPENAI_KEY, PV_OPENAI_RESPONSES);
  fake_openai_push(e.fo, script_resp_hello, NULL);
  pv_chat r;
  pv_openai_chat(&e, PV_OPENAI_FULL_REQUEST, &r);
  CHECK_INT(r.status, ==, PT_OK);
  cJSON *body = pv_openai_body(&e, 0);
  PV_CHECK_QJSON(body,
    "{'model':'gpt-4o-mini','instructions':'Be brief.','input':["
    "{'type':'message','role':'user','content':'Read README.md'},"
    "{'type':'message','role':'assistant','content':'Reading it.'},"
    "{'type':'function_call','call_id':'call_1','name':'fs_read',"
    "'arguments':'{\\'path\\':\\'README.md\\'}'},"
    "{'type':'function_call_output','call_id':'call_1','output':'# Portico'},"
    "{'type':'function_call','call_id':'call_2','name':'fs_read',"
    "'arguments':'{\\'path\\':\\'nope\\'}'},"
    "{'type':'function_call_output','call_id':'call_2',"
    "'output':'Error: no such file'},"
    "{'type':'message','role':'user','content':[{'type':'input_text',"
    "'text':'And this picture?'},{'type':'input_image','image_url':"
    "'data:image/png;base64,iVBORw0KGgo=','detail':'auto'},"
    "{'type':'input_image','image_url':'https://example.com/cat.jpg',"
    "'detail':'auto'}]}],"
    "'tools':[{'type':'function','name':'fs_read','description':"
    "'Read a file.','parameters':" PV_OPENAI_SCHEMA "}],"
    "'tool_choice':{'type':'function','name':'fs_read'},"
    "'max_output_tokens':1024,'temperature':0.5,'top_p':0.9,"
    "'reasoning':{'effort':'high','summary':'auto'},'stream':true,"
    "'metadata':{'user_id':'u-42'},'parallel_tool_calls':false}");
  cJSON_Delete(body);
  pv_openai_stop(&e);
}

int main(void)
{
  pv_init("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_ORG_ID",
          "OPENAI_PROJECT_ID", NULL);
  RUN(responses_text_streams_with_usage);
  RUN(responses_incomplete_at_max_output_tokens_is_max_tokens);
  RUN(responses_reasoning_summaries_stream_as_thinking);
  RUN(responses_a_function_call_streams_as_a_tool_call);
  RUN(responses_errors_retry_before_output_and_end_after);
  RUN(the_responses_body_maps_every_part);
  return check_report();
}
