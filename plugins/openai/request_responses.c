/*
 * plugins/openai/request_responses.c: the normalized request as a
 * Responses API body (POST /responses).
 *
 * Mapping decisions a reader could not guess:
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

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *str_of(const cJSON *o, const char *key)
{
  return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));
}

static int add_image(cJSON *content, const cJSON *image)
{
  char *url = oa_image_url(image);
  if (!url) return -1;
  cJSON *p = cJSON_CreateObject();
  cJSON_AddStringToObject(p, "type", "input_image");
  cJSON_AddStringToObject(p, "image_url", url);
  cJSON_AddStringToObject(p, "detail", "auto");
  cJSON_AddItemToArray(content, p);
  free(url);
  return 0;
}

static void add_text(cJSON *content, const char *text)
{
  cJSON *p = cJSON_CreateObject();
  cJSON_AddStringToObject(p, "type", "input_text");
  cJSON_AddStringToObject(p, "text", text);
  cJSON_AddItemToArray(content, p);
}

/* A user message item from `content` (input parts); a plain string when it
 * is one text part; nothing when empty. Takes `content`. */
static void add_user(cJSON *input, cJSON *content)
{
  if (cJSON_GetArraySize(content) == 0) {
    cJSON_Delete(content);
    return;
  }
  cJSON *m = cJSON_CreateObject();
  cJSON_AddStringToObject(m, "type", "message");
  cJSON_AddStringToObject(m, "role", "user");
  const cJSON *only = cJSON_GetArraySize(content) == 1 ? content->child : NULL;
  const char *type = str_of(only, "type");
  if (type && strcmp(type, "input_text") == 0) {
    cJSON_AddStringToObject(m, "content", str_of(only, "text"));
    cJSON_Delete(content);
  } else {
    cJSON_AddItemToObject(m, "content", content);
  }
  cJSON_AddItemToArray(input, m);
}

static int map_user(cJSON *input, const cJSON *parts, int i, char *err,
                    size_t errlen)
{
  cJSON *content = cJSON_CreateArray();
  const cJSON *p;
  cJSON_ArrayForEach(p, parts) {
    const char *type = str_of(p, "type");
    if (type && strcmp(type, "text") == 0 && str_of(p, "text")) {
      add_text(content, str_of(p, "text"));
    } else if (type && strcmp(type, "image") == 0) {
      if (add_image(content, p) != 0) goto bad_image;
    } else if (type && strcmp(type, "tool_result") == 0) {
      const char *id = str_of(p, "tool_call_id");
      if (!id) {
        snprintf(err, errlen,
                 "messages[%d] has a tool_result without tool_call_id", i);
        goto fail;
      }
      char *text = oa_tool_result_text(p);
      if (!text) {
        snprintf(err, errlen, "out of memory");
        goto fail;
      }
      cJSON *item = cJSON_CreateObject();
      cJSON_AddStringToObject(item, "type", "function_call_output");
      cJSON_AddStringToObject(item, "call_id", id);
      cJSON_AddStringToObject(item, "output", text);
      cJSON_AddItemToArray(input, item);
      free(text);
      const cJSON *c = cJSON_GetObjectItemCaseSensitive(p, "content"), *q;
      cJSON_ArrayForEach(q, (cJSON_IsArray(c) ? c : NULL)) {
        const char *qt = str_of(q, "type");
        if (!qt || strcmp(qt, "image") != 0) continue;
        char line[300];
        snprintf(line, sizeof line, "Image from tool call %.200s:", id);
        add_text(content, line);
        if (add_image(content, q) != 0) goto bad_image;
      }
    } else if (!type || strcmp(type, "thinking") != 0) {
      snprintf(err, errlen,
               "messages[%d] has a part of type \"%.40s\", which the openai "
               "provider cannot send; use text, image or tool_result",
               i, type ? type : "(none)");
      goto fail;
    }
  }
  add_user(input, content);
  return 0;
bad_image:
  snprintf(err, errlen, "messages[%d] has an image with neither data nor url",
           i);
fail:
  cJSON_Delete(content);
  return -1;
}

/* An assistant message: its text as one assistant message item, then one
 * function_call item per tool call. */
static int map_assistant(cJSON *input, const cJSON *parts, int i, char *err,
                         size_t errlen)
{
  jv_buf text = { 0 };
  cJSON *calls = cJSON_CreateArray();
  const cJSON *p;
  int texts = 0;
  cJSON_ArrayForEach(p, parts) {
    const char *type = str_of(p, "type");
    if (type && strcmp(type, "text") == 0 && str_of(p, "text")) {
      const char *t = str_of(p, "text");
      if ((texts++ && jv_buf_add(&text, "\n", 1) != 0) ||
          jv_buf_add(&text, t, strlen(t)) != 0)
        goto oom;
    } else if (type && strcmp(type, "tool_call") == 0) {
      const char *id = str_of(p, "id"), *name = str_of(p, "name");
      if (!id || !name) {
        snprintf(err, errlen,
                 "messages[%d] has a tool_call without id or name", i);
        goto fail;
      }
      const cJSON *args = cJSON_GetObjectItemCaseSensitive(p, "arguments");
      char *json = cJSON_IsString(args) ? strdup(args->valuestring)
                   : args                ? cJSON_PrintUnformatted(args)
                                         : strdup("{}");
      if (!json) goto oom;
      cJSON *call = cJSON_CreateObject();
      cJSON_AddStringToObject(call, "type", "function_call");
      cJSON_AddStringToObject(call, "call_id", id);
      cJSON_AddStringToObject(call, "name", name);
      cJSON_AddStringToObject(call, "arguments", json);
      cJSON_AddItemToArray(calls, call);
      free(json);
    } else if (!type || strcmp(type, "thinking") != 0) {
      snprintf(err, errlen,
               "messages[%d] has a part of type \"%.40s\", which an "
               "assistant message cannot carry to openai; use text or "
               "tool_call",
               i, type ? type : "(none)");
      goto fail;
    }
  }
  if (texts) {
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "type", "message");
    cJSON_AddStringToObject(m, "role", "assistant");
    cJSON_AddStringToObject(m, "content", text.p);
    cJSON_AddItemToArray(input, m);
  }
  while (cJSON_GetArraySize(calls) > 0)
    cJSON_AddItemToArray(input, cJSON_DetachItemFromArray(calls, 0));
  cJSON_Delete(calls);
  jv_buf_free(&text);
  return 0;
oom:
  snprintf(err, errlen, "out of memory");
fail:
  jv_buf_free(&text);
  cJSON_Delete(calls);
  return -1;
}

static void map_tools(cJSON *body, const cJSON *req)
{
  const cJSON *tools = cJSON_GetObjectItemCaseSensitive(req, "tools"), *t;
  if (cJSON_GetArraySize(tools) == 0) return;
  cJSON *out = cJSON_AddArrayToObject(body, "tools");
  cJSON_ArrayForEach(t, tools) {
    cJSON *tool = cJSON_CreateObject();
    cJSON_AddStringToObject(tool, "type", "function");
    cJSON_AddStringToObject(tool, "name", str_of(t, "name") ? str_of(t, "name")
                                                             : "");
    if (str_of(t, "description"))
      cJSON_AddStringToObject(tool, "description", str_of(t, "description"));
    const cJSON *schema = cJSON_GetObjectItemCaseSensitive(t, "input_schema");
    cJSON_AddItemToObject(tool, "parameters",
                          schema ? cJSON_Duplicate(schema, 1)
                                 : cJSON_Parse("{\"type\":\"object\","
                                               "\"properties\":{}}"));
    cJSON_AddItemToArray(out, tool);
  }
}

static int map_tool_choice(cJSON *body, const cJSON *req, char *err,
                           size_t errlen)
{
  const cJSON *tc = cJSON_GetObjectItemCaseSensitive(req, "tool_choice");
  if (!tc || cJSON_IsNull(tc)) return 0;
  if (cJSON_IsString(tc)) {
    const char *v = tc->valuestring;
    if (strcmp(v, "any") == 0) v = "required";
    if (strcmp(v, "auto") != 0 && strcmp(v, "none") != 0 &&
        strcmp(v, "required") != 0)
      goto bad;
    cJSON_AddStringToObject(body, "tool_choice", v);
    return 0;
  }
  const char *name = str_of(tc, "name");
  if (!name) goto bad;
  cJSON *o = cJSON_AddObjectToObject(body, "tool_choice");
  cJSON_AddStringToObject(o, "type", "function");
  cJSON_AddStringToObject(o, "name", name);
  return 0;
bad:
  snprintf(err, errlen, "tool_choice must be \"auto\", \"none\", "
                        "\"required\" or {\"name\": \"...\"}");
  return -1;
}

static void copy_member(cJSON *body, const cJSON *req, const char *from,
                        const char *to)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(req, from);
  if (v && !cJSON_IsNull(v))
    cJSON_AddItemToObject(body, to, cJSON_Duplicate(v, 1));
}

char *oa_responses_body(const cJSON *req, const oa_settings *s, char *err,
                        size_t errlen)
{
  cJSON *body = cJSON_CreateObject();
  cJSON_AddStringToObject(body, "model", str_of(req, "model"));
  const char *system = str_of(req, "system");
  if (system && system[0])
    cJSON_AddStringToObject(body, "instructions", system);
  cJSON *input = cJSON_AddArrayToObject(body, "input");
  const cJSON *msg;
  int i = 0, rc = 0;
  cJSON_ArrayForEach(msg, cJSON_GetObjectItemCaseSensitive(req, "messages")) {
    cJSON *parts = pc_message_parts(msg);
    if (!parts) {
      snprintf(err, errlen, "out of memory");
      rc = -1;
    } else if (strcmp(str_of(msg, "role"), "assistant") == 0) {
      rc = map_assistant(input, parts, i, err, errlen);
    } else {
      rc = map_user(input, parts, i, err, errlen);
    }
    cJSON_Delete(parts);
    if (rc != 0) break;
    i++;
  }
  if (rc == 0) {
    map_tools(body, req);
    rc = map_tool_choice(body, req, err, errlen);
  }
  if (rc != 0) {
    cJSON_Delete(body);
    return NULL;
  }
  copy_member(body, req, "max_tokens", "max_output_tokens");
  copy_member(body, req, "temperature", "temperature");
  copy_member(body, req, "top_p", "top_p");
  const char *effort = oa_reasoning_effort(req);
  if (effort) {
    cJSON *r = cJSON_AddObjectToObject(body, "reasoning");
    cJSON_AddStringToObject(r, "effort", effort);
    cJSON_AddStringToObject(r, "summary", "auto");
  }
  cJSON_AddTrueToObject(body, "stream");
  pc_merge_extra(body, req);
  char *out = cJSON_PrintUnformatted(body);
  cJSON_Delete(body);
  if (!out) snprintf(err, errlen, "out of memory");
  return out;
}
