/*
 * plugins/openai/request_chat.c: the normalized request as a Chat
 * Completions body (POST /chat/completions).
 *
 * The walk over the request is request.c's; here is how this API spells
 * what it finds, and what only this body has. Mapping decisions a reader
 * could not guess:
 * - Thinking parts are dropped: Chat Completions has no way to take
 *   reasoning back.
 * - A tool result becomes a "tool" message; is_error becomes an "Error: "
 *   prefix, since the API has no error flag. Images in a tool result cannot
 *   ride in a tool message, so they follow in one user message after the
 *   tool messages, each introduced by a line naming its call, together
 *   with the rest of the message.
 * - An assistant message with tool calls and no text has null content.
 */
#include "openai.h"

static cJSON *image(const char *url)
{
  cJSON *p = cJSON_CreateObject();
  cJSON_AddStringToObject(p, "type", "image_url");
  cJSON_AddStringToObject(cJSON_AddObjectToObject(p, "image_url"), "url",
                          url);
  return p;
}

static cJSON *tool_result(const char *id, const char *text)
{
  cJSON *m = cJSON_CreateObject();
  cJSON_AddStringToObject(m, "role", "tool");
  cJSON_AddStringToObject(m, "tool_call_id", id);
  cJSON_AddStringToObject(m, "content", text);
  return m;
}

static cJSON *tool_call(const char *id, const char *name,
                        const char *arguments)
{
  cJSON *call = cJSON_CreateObject();
  cJSON_AddStringToObject(call, "id", id);
  cJSON_AddStringToObject(call, "type", "function");
  cJSON *fn = cJSON_AddObjectToObject(call, "function");
  cJSON_AddStringToObject(fn, "name", name);
  cJSON_AddStringToObject(fn, "arguments", arguments);
  return call;
}

/* One message: text as content (null when there is none beside tool
 * calls), the calls as tool_calls. */
static void assistant(cJSON *out, const char *text, cJSON *calls)
{
  cJSON *m = cJSON_CreateObject();
  cJSON_AddStringToObject(m, "role", "assistant");
  if (text)
    cJSON_AddStringToObject(m, "content", text);
  else if (cJSON_GetArraySize(calls) > 0)
    cJSON_AddNullToObject(m, "content");
  else
    cJSON_AddStringToObject(m, "content", "");
  if (cJSON_GetArraySize(calls) > 0)
    cJSON_AddItemToObject(m, "tool_calls", calls);
  else
    cJSON_Delete(calls);
  cJSON_AddItemToArray(out, m);
}

static const oa_wire chat_wire = {
  .text_type = "text",
  .message_type = NULL,
  .nested_function = 1,
  .image = image,
  .tool_result = tool_result,
  .tool_call = tool_call,
  .assistant = assistant,
};

char *oa_chat_body(const cJSON *req, const oa_settings *s, char *err,
                   size_t errlen)
{
  cJSON *body = cJSON_CreateObject();
  cJSON_AddStringToObject(body, "model", oa_string(req, "model"));
  cJSON *messages = cJSON_AddArrayToObject(body, "messages");
  const char *system = oa_string(req, "system");
  if (system && system[0]) {
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "role", s->system_role);
    cJSON_AddStringToObject(m, "content", system);
    cJSON_AddItemToArray(messages, m);
  }
  if (oa_write_messages(messages, req, &chat_wire, err, errlen) != 0 ||
      oa_write_tools(body, req, &chat_wire, err, errlen) != 0) {
    cJSON_Delete(body);
    return NULL;
  }
  oa_copy_member(body, req, "max_tokens",
                 s->legacy_max_tokens ? "max_tokens"
                                      : "max_completion_tokens");
  oa_copy_member(body, req, "temperature", "temperature");
  oa_copy_member(body, req, "top_p", "top_p");
  oa_copy_member(body, req, "stop", "stop");
  const char *effort = oa_reasoning_effort(req);
  if (effort) cJSON_AddStringToObject(body, "reasoning_effort", effort);
  cJSON_AddTrueToObject(body, "stream");
  cJSON_AddTrueToObject(cJSON_AddObjectToObject(body, "stream_options"),
                        "include_usage");
  return oa_body_text(body, req, err, errlen);
}
