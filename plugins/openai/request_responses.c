/*
 * plugins/openai/request_responses.c: the normalized request as a
 * Responses API body (POST /responses).
 *
 * The walk over the request is request.c's; here is how this API spells
 * what it finds, and what only this body has. Mapping decisions a reader
 * could not guess:
 * - The system prompt goes in "instructions".
 * - Thinking parts are dropped: the API takes reasoning back only as its
 *   own reasoning items (by id, or encrypted), which the normalized model
 *   does not carry.
 * - A tool result becomes a function_call_output item whose output is
 *   text, "Error: "-prefixed when is_error; its images follow in a user
 *   message, as in Chat Completions.
 * - "stop" has no counterpart in this API and is not sent.
 * - Reasoning summaries are asked for ("summary": "auto") whenever the
 *   request asks for thinking, since they are the only reasoning text the
 *   API streams.
 */
#include "openai.h"

static cJSON *image(const char *url)
{
  cJSON *p = cJSON_CreateObject();
  cJSON_AddStringToObject(p, "type", "input_image");
  cJSON_AddStringToObject(p, "image_url", url);
  cJSON_AddStringToObject(p, "detail", "auto");
  return p;
}

static cJSON *tool_result(const char *id, const char *text)
{
  cJSON *item = cJSON_CreateObject();
  cJSON_AddStringToObject(item, "type", "function_call_output");
  cJSON_AddStringToObject(item, "call_id", id);
  cJSON_AddStringToObject(item, "output", text);
  return item;
}

static cJSON *tool_call(const char *id, const char *name,
                        const char *arguments)
{
  cJSON *call = cJSON_CreateObject();
  cJSON_AddStringToObject(call, "type", "function_call");
  cJSON_AddStringToObject(call, "call_id", id);
  cJSON_AddStringToObject(call, "name", name);
  cJSON_AddStringToObject(call, "arguments", arguments);
  return call;
}

/* The text as one assistant message item, then one function_call item per
 * tool call. */
static void assistant(cJSON *input, const char *text, cJSON *calls)
{
  if (text) {
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "type", "message");
    cJSON_AddStringToObject(m, "role", "assistant");
    cJSON_AddStringToObject(m, "content", text);
    cJSON_AddItemToArray(input, m);
  }
  while (cJSON_GetArraySize(calls) > 0)
    cJSON_AddItemToArray(input, cJSON_DetachItemFromArray(calls, 0));
  cJSON_Delete(calls);
}

static const oa_wire responses_wire = {
  .text_type = "input_text",
  .message_type = "message",
  .nested_function = 0,
  .image = image,
  .tool_result = tool_result,
  .tool_call = tool_call,
  .assistant = assistant,
};

char *oa_responses_body(const cJSON *req, const oa_settings *s, char *err,
                        size_t errlen)
{
  cJSON *body = cJSON_CreateObject();
  cJSON_AddStringToObject(body, "model", oa_string(req, "model"));
  const char *system = oa_string(req, "system");
  if (system && system[0])
    cJSON_AddStringToObject(body, "instructions", system);
  cJSON *input = cJSON_AddArrayToObject(body, "input");
  if (oa_write_messages(input, req, &responses_wire, err, errlen) != 0 ||
      oa_write_tools(body, req, &responses_wire, err, errlen) != 0) {
    cJSON_Delete(body);
    return NULL;
  }
  oa_copy_member(body, req, "max_tokens", "max_output_tokens");
  oa_copy_member(body, req, "temperature", "temperature");
  oa_copy_member(body, req, "top_p", "top_p");
  const char *effort = oa_reasoning_effort(req);
  if (effort) {
    cJSON *r = cJSON_AddObjectToObject(body, "reasoning");
    cJSON_AddStringToObject(r, "effort", effort);
    cJSON_AddStringToObject(r, "summary", "auto");
  }
  cJSON_AddTrueToObject(body, "stream");
  return oa_body_text(body, req, err, errlen);
}
