/*
 * plugins/openai/request.c: what Chat Completions and the Responses API
 * make of a normalized request alike: the walk over its messages (the rules
 * for tool results, images, thinking and errors), its tools and
 * tool_choice, and the members copied as they are. How each API spells the
 * pieces is its own file's oa_wire (request_chat.c, request_responses.c);
 * what is in one body only is there too.
 */
#include "openai.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *oa_string(const cJSON *o, const char *key)
{
  return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));
}

/* An image part as a URL (a data: URL for base64 data), malloc'd, or NULL
 * when the part has neither. */
static char *image_url(const cJSON *part)
{
  const char *url = oa_string(part, "url");
  if (url) return strdup(url);
  const char *data = oa_string(part, "data");
  const char *type = oa_string(part, "media_type");
  if (!data) return NULL;
  if (!type) type = "image/png";
  size_t n = strlen(type) + strlen(data) + 16;
  char *out = malloc(n);
  if (out) snprintf(out, n, "data:%s;base64,%s", type, data);
  return out;
}

/* A tool result's text: its string content, or its text parts joined with
 * newlines, prefixed "Error: " when is_error (the APIs have no error flag
 * on a tool result, so the model reads it in words). malloc'd, or NULL
 * when memory ran out. */
static char *tool_result_text(const cJSON *part)
{
  const cJSON *content = cJSON_GetObjectItemCaseSensitive(part, "content");
  pc_buf b = { 0 };
  int ok = pc_buf_append(&b, "", 0) == 0;
  if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(part, "is_error")))
    ok = ok && pc_buf_append(&b, "Error: ", 7) == 0;
  if (cJSON_IsString(content)) {
    ok = ok && pc_buf_append(&b, content->valuestring,
                             strlen(content->valuestring)) == 0;
  } else if (cJSON_IsArray(content)) {
    const cJSON *item;
    int pieces = 0;
    cJSON_ArrayForEach(item, content) {
      const char *type = oa_string(item, "type");
      const char *text = oa_string(item, "text");
      if (!type || strcmp(type, "text") != 0 || !text) continue;
      if (pieces++) ok = ok && pc_buf_append(&b, "\n", 1) == 0;
      ok = ok && pc_buf_append(&b, text, strlen(text)) == 0;
    }
  } else if (content && !cJSON_IsNull(content)) {
    /* A tool that handed back a JSON value: the model reads its text. */
    char *printed = cJSON_PrintUnformatted(content);
    ok = ok && printed && pc_buf_append(&b, printed, strlen(printed)) == 0;
    free(printed);
  }
  if (!ok) pc_buf_free(&b);
  return b.p;
}

static void add_text(cJSON *parts, const oa_wire *w, const char *text)
{
  cJSON *p = cJSON_CreateObject();
  cJSON_AddStringToObject(p, "type", w->text_type);
  cJSON_AddStringToObject(p, "text", text);
  cJSON_AddItemToArray(parts, p);
}

static int add_image(cJSON *parts, const oa_wire *w, const cJSON *image)
{
  char *url = image_url(image);
  if (!url) return -1;
  cJSON_AddItemToArray(parts, w->image(url));
  free(url);
  return 0;
}

/* A user message from `parts` (text and image parts), taking them: a plain
 * string when it is a single text part, the form every compatible server
 * reads. Nothing when `parts` is empty. */
static void add_user(cJSON *out, const oa_wire *w, cJSON *parts)
{
  if (cJSON_GetArraySize(parts) == 0) {
    cJSON_Delete(parts);
    return;
  }
  cJSON *m = cJSON_CreateObject();
  if (w->message_type) cJSON_AddStringToObject(m, "type", w->message_type);
  cJSON_AddStringToObject(m, "role", "user");
  const cJSON *only = cJSON_GetArraySize(parts) == 1 ? parts->child : NULL;
  const char *type = oa_string(only, "type");
  if (type && strcmp(type, w->text_type) == 0) {
    cJSON_AddStringToObject(m, "content", oa_string(only, "text"));
    cJSON_Delete(parts);
  } else {
    cJSON_AddItemToObject(m, "content", parts);
  }
  cJSON_AddItemToArray(out, m);
}

/* A user or tool message: its tool results first (they must follow the
 * assistant message that called), then whatever else it says. Images in
 * a tool result cannot ride in the result, so they follow in that user
 * message, each introduced by a line naming its call. Thinking parts are
 * dropped: neither API takes reasoning back in this form. */
static int map_user(cJSON *out, const oa_wire *w, const cJSON *parts, int i,
                    char *err, size_t errlen)
{
  cJSON *user = cJSON_CreateArray();
  const cJSON *p;
  cJSON_ArrayForEach(p, parts) {
    const char *type = oa_string(p, "type");
    if (type && strcmp(type, "text") == 0 && oa_string(p, "text")) {
      add_text(user, w, oa_string(p, "text"));
    } else if (type && strcmp(type, "image") == 0) {
      if (add_image(user, w, p) != 0) goto bad_image;
    } else if (type && strcmp(type, "tool_result") == 0) {
      const char *id = oa_string(p, "tool_call_id");
      if (!id) {
        snprintf(err, errlen,
                 "messages[%d] has a tool_result without tool_call_id", i);
        goto fail;
      }
      char *text = tool_result_text(p);
      if (!text) goto oom;
      cJSON_AddItemToArray(out, w->tool_result(id, text));
      free(text);
      const cJSON *c = cJSON_GetObjectItemCaseSensitive(p, "content"), *q;
      cJSON_ArrayForEach(q, (cJSON_IsArray(c) ? c : NULL)) {
        const char *qt = oa_string(q, "type");
        if (!qt || strcmp(qt, "image") != 0) continue;
        char line[300];
        snprintf(line, sizeof line, "Image from tool call %.200s:", id);
        add_text(user, w, line);
        if (add_image(user, w, q) != 0) goto bad_image;
      }
    } else if (!type || strcmp(type, "thinking") != 0) {
      snprintf(err, errlen,
               "messages[%d] has a part of type \"%.40s\", which the openai "
               "provider cannot send; use text, image or tool_result",
               i, type ? type : "(none)");
      goto fail;
    }
  }
  add_user(out, w, user);
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

/* An assistant message: its text parts joined with newlines and its tool
 * calls, for the wire to write; thinking dropped. */
static int map_assistant(cJSON *out, const oa_wire *w, const cJSON *parts,
                         int i, char *err, size_t errlen)
{
  pc_buf text = { 0 };
  cJSON *calls = cJSON_CreateArray();
  const cJSON *p;
  int texts = 0;
  cJSON_ArrayForEach(p, parts) {
    const char *type = oa_string(p, "type");
    if (type && strcmp(type, "text") == 0 && oa_string(p, "text")) {
      const char *t = oa_string(p, "text");
      if ((texts++ && pc_buf_append(&text, "\n", 1) != 0) ||
          pc_buf_append(&text, t, strlen(t)) != 0)
        goto oom;
    } else if (type && strcmp(type, "tool_call") == 0) {
      const char *id = oa_string(p, "id"), *name = oa_string(p, "name");
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
      cJSON_AddItemToArray(calls, w->tool_call(id, name, json));
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
  w->assistant(out, texts ? text.p : NULL, calls);
  pc_buf_free(&text);
  return 0;
oom:
  snprintf(err, errlen, "out of memory");
fail:
  pc_buf_free(&text);
  cJSON_Delete(calls);
  return -1;
}

int oa_write_messages(cJSON *out, const cJSON *req, const oa_wire *w,
                      char *err, size_t errlen)
{
  const cJSON *msg;
  int i = 0;
  cJSON_ArrayForEach(msg, cJSON_GetObjectItemCaseSensitive(req, "messages")) {
    cJSON *parts = pc_message_parts(msg);
    if (!parts) {
      snprintf(err, errlen, "out of memory");
      return -1;
    }
    int rc = strcmp(oa_string(msg, "role"), "assistant") == 0
                 ? map_assistant(out, w, parts, i, err, errlen)
                 : map_user(out, w, parts, i, err, errlen);
    cJSON_Delete(parts);
    if (rc != 0) return -1;
    i++;
  }
  return 0;
}

/* Where a function's name goes in a tool or tool_choice object `o`. */
static cJSON *function_of(cJSON *o, const oa_wire *w)
{
  return w->nested_function ? cJSON_AddObjectToObject(o, "function") : o;
}

int oa_write_tools(cJSON *body, const cJSON *req, const oa_wire *w,
                   char *err, size_t errlen)
{
  const cJSON *tools = cJSON_GetObjectItemCaseSensitive(req, "tools"), *t;
  if (cJSON_GetArraySize(tools) > 0) {
    cJSON *out = cJSON_AddArrayToObject(body, "tools");
    cJSON_ArrayForEach(t, tools) {
      cJSON *tool = cJSON_CreateObject();
      cJSON_AddStringToObject(tool, "type", "function");
      cJSON *fn = function_of(tool, w);
      const char *name = oa_string(t, "name");
      cJSON_AddStringToObject(fn, "name", name ? name : "");
      if (oa_string(t, "description"))
        cJSON_AddStringToObject(fn, "description",
                                oa_string(t, "description"));
      const cJSON *schema =
          cJSON_GetObjectItemCaseSensitive(t, "input_schema");
      cJSON_AddItemToObject(fn, "parameters",
                            schema ? cJSON_Duplicate(schema, 1)
                                   : cJSON_Parse("{\"type\":\"object\","
                                                 "\"properties\":{}}"));
      cJSON_AddItemToArray(out, tool);
    }
  }

  /* tool_choice: "auto", "none", "required" (or Anthropic's "any"), or
   * {"name": ...} for one tool. */
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
  const char *name = oa_string(tc, "name");
  if (!name) goto bad;
  cJSON *o = cJSON_AddObjectToObject(body, "tool_choice");
  cJSON_AddStringToObject(o, "type", "function");
  cJSON_AddStringToObject(function_of(o, w), "name", name);
  return 0;
bad:
  snprintf(err, errlen, "tool_choice must be \"auto\", \"none\", "
                        "\"required\" or {\"name\": \"...\"}");
  return -1;
}

void oa_copy_member(cJSON *body, const cJSON *req, const char *from,
                    const char *to)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(req, from);
  if (v && !cJSON_IsNull(v))
    cJSON_AddItemToObject(body, to, cJSON_Duplicate(v, 1));
}

char *oa_body_text(cJSON *body, const cJSON *req, char *err, size_t errlen)
{
  pc_merge_extra(body, req);
  char *out = cJSON_PrintUnformatted(body);
  cJSON_Delete(body);
  if (!out) snprintf(err, errlen, "out of memory");
  return out;
}

const char *oa_reasoning_effort(const cJSON *req)
{
  const cJSON *thinking = cJSON_GetObjectItemCaseSensitive(req, "thinking");
  const char *effort = oa_string(thinking, "effort");
  if (effort) return effort;
  const cJSON *budget =
      cJSON_GetObjectItemCaseSensitive(thinking, "budget_tokens");
  if (!cJSON_IsNumber(budget)) return NULL;
  /* OpenAI takes an effort, not a budget: pick the effort whose typical
   * reasoning length is nearest the budget asked for. */
  if (budget->valuedouble < 4096) return "low";
  if (budget->valuedouble < 16384) return "medium";
  return "high";
}
