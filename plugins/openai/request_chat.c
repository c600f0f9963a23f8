/*
 * plugins/openai/request_chat.c: the normalized request as a Chat
 * Completions body (POST /chat/completions).
 *
 * Mapping decisions a reader could not guess:
 * - Thinking parts are dropped: Chat Completions has no way to take
 *   reasoning back.
 * - A tool result becomes a "tool" message; is_error becomes an "Error: "
 *   prefix, since the API has no error flag. Images in a tool result cannot
 *   ride in a tool message, so they follow in one user message after the
 *   tool messages, each introduced by a line naming its call, together
 *   with the rest of the message.
 * - A user message whose only part is text is sent as a plain string, the
 *   form every compatible server reads.
 */
#include "openai.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *str_of(const cJSON *o, const char *key)
{
  return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));
}

static int add_image(cJSON *parts, const cJSON *image)
{
  char *url = oa_image_url(image);
  if (!url) return -1;
  cJSON *p = cJSON_CreateObject();
  cJSON_AddStringToObject(p, "type", "image_url");
  cJSON *iu = cJSON_AddObjectToObject(p, "image_url");
  cJSON_AddStringToObject(iu, "url", url);
  cJSON_AddItemToArray(parts, p);
  free(url);
  return 0;
}

static void add_text_part(cJSON *parts, const char *text)
{
  cJSON *p = cJSON_CreateObject();
  cJSON_AddStringToObject(p, "type", "text");
  cJSON_AddStringToObject(p, "text", text);
  cJSON_AddItemToArray(parts, p);
}

/* A user message from `parts` (text and image_url parts): a plain string
 * when it is a single text part. Nothing when `parts` is empty. */
static void add_user(cJSON *messages, cJSON *parts)
{
  if (cJSON_GetArraySize(parts) == 0) {
    cJSON_Delete(parts);
    return;
  }
  cJSON *m = cJSON_CreateObject();
  cJSON_AddStringToObject(m, "role", "user");
  const cJSON *only = cJSON_GetArraySize(parts) == 1 ? parts->child : NULL;
  const char *type = str_of(only, "type");
  if (type && strcmp(type, "text") == 0) {
    cJSON_AddStringToObject(m, "content", str_of(only, "text"));
    cJSON_Delete(parts);
  } else {
    cJSON_AddItemToObject(m, "content", parts);
  }
  cJSON_AddItemToArray(messages, m);
}

/* A user or tool message: its tool results first (they must follow the
 * assistant message that called), then whatever else it says. */
static int map_user(cJSON *messages, const cJSON *parts, int i, char *err,
                    size_t errlen)
{
  cJSON *user = cJSON_CreateArray();
  const cJSON *p;
  cJSON_ArrayForEach(p, parts) {
    const char *type = str_of(p, "type");
    if (type && strcmp(type, "text") == 0 && str_of(p, "text")) {
      add_text_part(user, str_of(p, "text"));
    } else if (type && strcmp(type, "image") == 0) {
      if (add_image(user, p) != 0) goto bad_image;
    } else if (type && strcmp(type, "tool_result") == 0) {
      const char *id = str_of(p, "tool_call_id");
      if (!id) {
        snprintf(err, errlen,
                 "messages[%d] has a tool_result without tool_call_id", i);
        goto fail;
      }
      char *text = oa_tool_result_text(p);
      if (!text) goto oom;
      cJSON *m = cJSON_CreateObject();
      cJSON_AddStringToObject(m, "role", "tool");
      cJSON_AddStringToObject(m, "tool_call_id", id);
      cJSON_AddStringToObject(m, "content", text);
      cJSON_AddItemToArray(messages, m);
      free(text);
      const cJSON *c = cJSON_GetObjectItemCaseSensitive(p, "content"), *q;
      cJSON_ArrayForEach(q, (cJSON_IsArray(c) ? c : NULL)) {
        const char *qt = str_of(q, "type");
        if (!qt || strcmp(qt, "image") != 0) continue;
        char line[300];
        snprintf(line, sizeof line, "Image from tool call %.200s:", id);
        add_text_part(user, line);
        if (add_image(user, q) != 0) goto bad_image;
      }
    } else if (!type || strcmp(type, "thinking") != 0) {
      snprintf(err, errlen,
               "messages[%d] has a part of type \"%.40s\", which the openai "
               "provider cannot send; use text, image or tool_result",
               i, type ? type : "(none)");
      goto fail;
    }
  }
  add_user(messages, user);
  return 0;
bad_image:
  snprintf(err, errlen, "messages[%d] has an image with neither data nor url",
           i);
  goto fail;
oom:
  snprintf(err, errlen, "out of memory");
fail:
  cJSON_Delete(user);
  return -1;
}

/* An assistant message: text as content (null when there is none beside
 * tool calls), tool_call parts as tool_calls, thinking dropped. */
static int map_assistant(cJSON *messages, const cJSON *parts, int i,
                         char *err, size_t errlen)
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
      cJSON_AddStringToObject(call, "id", id);
      cJSON_AddStringToObject(call, "type", "function");
      cJSON *fn = cJSON_AddObjectToObject(call, "function");
      cJSON_AddStringToObject(fn, "name", name);
      cJSON_AddStringToObject(fn, "arguments", json);
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
  cJSON *m = cJSON_CreateObject();
  cJSON_AddStringToObject(m, "role", "assistant");
  if (texts)
    cJSON_AddStringToObject(m, "content", text.p);
  else if (cJSON_GetArraySize(calls) > 0)
    cJSON_AddNullToObject(m, "content");
  else
    cJSON_AddStringToObject(m, "content", "");
  if (cJSON_GetArraySize(calls) > 0)
    cJSON_AddItemToObject(m, "tool_calls", calls);
  else
    cJSON_Delete(calls);
  cJSON_AddItemToArray(messages, m);
  jv_buf_free(&text);
  return 0;
oom:
  snprintf(err, errlen, "out of memory");
fail:
  jv_buf_free(&text);
  cJSON_Delete(calls);
  return -1;
}

static int map_tools(cJSON *body, const cJSON *req)
{
  const cJSON *tools = cJSON_GetObjectItemCaseSensitive(req, "tools"), *t;
  if (cJSON_GetArraySize(tools) == 0) return 0;
  cJSON *out = cJSON_AddArrayToObject(body, "tools");
  cJSON_ArrayForEach(t, tools) {
    cJSON *tool = cJSON_CreateObject();
    cJSON_AddStringToObject(tool, "type", "function");
    cJSON *fn = cJSON_AddObjectToObject(tool, "function");
    cJSON_AddStringToObject(fn, "name", str_of(t, "name") ? str_of(t, "name")
                                                           : "");
    if (str_of(t, "description"))
      cJSON_AddStringToObject(fn, "description", str_of(t, "description"));
    const cJSON *schema = cJSON_GetObjectItemCaseSensitive(t, "input_schema");
    cJSON_AddItemToObject(fn, "parameters",
                          schema ? cJSON_Duplicate(schema, 1)
                                 : cJSON_Parse("{\"type\":\"object\","
                                               "\"properties\":{}}"));
    cJSON_AddItemToArray(out, tool);
  }
  return 0;
}

/* tool_choice: "auto", "none", "required" (or Anthropic's "any"), or
 * {"name": ...} for one tool. */
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
  cJSON_AddStringToObject(cJSON_AddObjectToObject(o, "function"), "name",
                          name);
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

char *oa_chat_body(const cJSON *req, const oa_settings *s, char *err,
                   size_t errlen)
{
  cJSON *body = cJSON_CreateObject();
  cJSON_AddStringToObject(body, "model", str_of(req, "model"));
  cJSON *messages = cJSON_AddArrayToObject(body, "messages");
  const char *system = str_of(req, "system");
  if (system && system[0]) {
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "role", s->system_role);
    cJSON_AddStringToObject(m, "content", system);
    cJSON_AddItemToArray(messages, m);
  }
  const cJSON *msg;
  int i = 0, rc = 0;
  cJSON_ArrayForEach(msg, cJSON_GetObjectItemCaseSensitive(req, "messages")) {
    cJSON *parts = pc_message_parts(msg);
    if (!parts) {
      snprintf(err, errlen, "out of memory");
      rc = -1;
    } else if (strcmp(str_of(msg, "role"), "assistant") == 0) {
      rc = map_assistant(messages, parts, i, err, errlen);
    } else {
      rc = map_user(messages, parts, i, err, errlen);
    }
    cJSON_Delete(parts);
    if (rc != 0) break;
    i++;
  }
  if (rc == 0) rc = map_tools(body, req);
  if (rc == 0) rc = map_tool_choice(body, req, err, errlen);
  if (rc != 0) {
    cJSON_Delete(body);
    return NULL;
  }
  copy_member(body, req, "max_tokens",
              s->legacy_max_tokens ? "max_tokens" : "max_completion_tokens");
  copy_member(body, req, "temperature", "temperature");
  copy_member(body, req, "top_p", "top_p");
  copy_member(body, req, "stop", "stop");
  const char *effort = oa_reasoning_effort(req);
  if (effort) cJSON_AddStringToObject(body, "reasoning_effort", effort);
  cJSON_AddTrueToObject(body, "stream");
  cJSON_AddTrueToObject(cJSON_AddObjectToObject(body, "stream_options"),
                        "include_usage");
  pc_merge_extra(body, req);
  char *out = cJSON_PrintUnformatted(body);
  cJSON_Delete(body);
  if (!out) snprintf(err, errlen, "out of memory");
  return out;
}
