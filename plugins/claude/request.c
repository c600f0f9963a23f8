/*
 * plugins/claude/request.c: the normalized chat request (docs/providers.md)
 * as a Messages API body.
 *
 * The API is stricter than the normalized model in a few ways this file
 * absorbs: roles must alternate, so consecutive messages that land on the
 * same role are merged (a `tool` message becomes a `user` message of
 * tool_result blocks, and so does the user's next message when it follows
 * at once); empty text blocks are refused, so they are dropped; thinking
 * without a signature (from another provider) cannot be sent back, so it
 * is dropped; max_tokens is required. Not for reading the stream.
 */
#include "claude.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct build {
  char *err;
  size_t errlen;
  int32_t rc;
} build;

static cJSON *fail(build *b, int32_t rc, const char *fmt, ...)
    PT_PRINTF(3, 4);

static cJSON *fail(build *b, int32_t rc, const char *fmt, ...)
{
  if (b->rc == PT_OK) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b->err, b->errlen, fmt, ap);
    va_end(ap);
    b->rc = rc;
  }
  return NULL;
}

static const char *str_member(const cJSON *o, const char *name)
{
  return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, name));
}

/* An image part: base64 `data` with `media_type`, or a `url` (a data: URL
 * is unpacked to base64, since that is what the API takes for inline
 * bytes). */
static cJSON *image_block(build *b, const cJSON *part, const char *where)
{
  const char *data = str_member(part, "data");
  const char *media = str_member(part, "media_type");
  const char *url = str_member(part, "url");
  char media_buf[128];
  if (!data && url && strncmp(url, "data:", 5) == 0) {
    const char *semi = strstr(url, ";base64,");
    if (!semi || (size_t)(semi - url - 5) >= sizeof media_buf)
      return fail(b, PT_EINVAL, "%s: a data: URL image must be base64 "
                                "(data:<type>;base64,...)", where);
    snprintf(media_buf, sizeof media_buf, "%.*s", (int)(semi - url - 5),
             url + 5);
    media = media_buf;
    data = semi + 8;
    url = NULL;
  }
  cJSON *blk = cJSON_CreateObject();
  cJSON *src = cJSON_CreateObject();
  cJSON_AddStringToObject(blk, "type", "image");
  cJSON_AddItemToObject(blk, "source", src);
  if (data && media) {
    cJSON_AddStringToObject(src, "type", "base64");
    cJSON_AddStringToObject(src, "media_type", media);
    cJSON_AddStringToObject(src, "data", data);
  } else if (url) {
    cJSON_AddStringToObject(src, "type", "url");
    cJSON_AddStringToObject(src, "url", url);
  } else {
    cJSON_Delete(blk);
    return fail(b, PT_EINVAL, "%s: an image needs \"data\" and "
                              "\"media_type\", or \"url\"", where);
  }
  return blk;
}

static cJSON *text_block(const char *text)
{
  cJSON *blk = cJSON_CreateObject();
  cJSON_AddStringToObject(blk, "type", "text");
  cJSON_AddStringToObject(blk, "text", text);
  return blk;
}

/* A tool_result's content: a string as it is, an array of text and image
 * parts as blocks. */
static cJSON *result_content(build *b, const cJSON *content, const char *where)
{
  if (!content || cJSON_IsNull(content)) return cJSON_CreateString("");
  if (cJSON_IsString(content)) return cJSON_CreateString(content->valuestring);
  if (!cJSON_IsArray(content))
    return fail(b, PT_EINVAL, "%s: a tool_result's content must be a string "
                              "or an array of parts", where);
  cJSON *blocks = cJSON_CreateArray();
  const cJSON *part;
  int j = 0;
  cJSON_ArrayForEach(part, content) {
    char inner[160];
    snprintf(inner, sizeof inner, "%s.content[%d]", where, j++);
    const char *type = str_member(part, "type");
    cJSON *blk = NULL;
    if (type && strcmp(type, "text") == 0) {
      const char *text = str_member(part, "text");
      if (!text || !text[0]) continue;
      blk = text_block(text);
    } else if (type && strcmp(type, "image") == 0) {
      blk = image_block(b, part, inner);
    } else {
      fail(b, PT_EINVAL, "%s: a tool_result holds text and image parts, "
                         "not \"%s\"", inner, type ? type : "(none)");
    }
    if (!blk) {
      cJSON_Delete(blocks);
      return NULL;
    }
    cJSON_AddItemToArray(blocks, blk);
  }
  return blocks;
}

static cJSON *tool_use_block(build *b, const cJSON *part, const char *where)
{
  const char *id = str_member(part, "id");
  const char *name = str_member(part, "name");
  if (!id || !name)
    return fail(b, PT_EINVAL, "%s: a tool_call needs \"id\" and \"name\"",
                where);
  const cJSON *args = cJSON_GetObjectItemCaseSensitive(part, "arguments");
  cJSON *input = NULL;
  if (cJSON_IsObject(args)) input = cJSON_Duplicate(args, 1);
  else if (cJSON_IsString(args)) input = cJSON_Parse(args->valuestring);
  else if (!args || cJSON_IsNull(args)) input = cJSON_CreateObject();
  if (!cJSON_IsObject(input)) {
    cJSON_Delete(input);
    return fail(b, PT_EINVAL, "%s: a tool_call's \"arguments\" must be a "
                              "JSON object", where);
  }
  cJSON *blk = cJSON_CreateObject();
  cJSON_AddStringToObject(blk, "type", "tool_use");
  cJSON_AddStringToObject(blk, "id", id);
  cJSON_AddStringToObject(blk, "name", name);
  cJSON_AddItemToObject(blk, "input", input);
  return blk;
}

static cJSON *tool_result_block(build *b, const cJSON *part, const char *where)
{
  const char *id = str_member(part, "tool_call_id");
  if (!id)
    return fail(b, PT_EINVAL, "%s: a tool_result needs \"tool_call_id\"",
                where);
  cJSON *content = result_content(
      b, cJSON_GetObjectItemCaseSensitive(part, "content"), where);
  if (!content) return NULL;
  cJSON *blk = cJSON_CreateObject();
  cJSON_AddStringToObject(blk, "type", "tool_result");
  cJSON_AddStringToObject(blk, "tool_use_id", id);
  cJSON_AddItemToObject(blk, "content", content);
  const cJSON *is_error = cJSON_GetObjectItemCaseSensitive(part, "is_error");
  if (cJSON_IsBool(is_error))
    cJSON_AddBoolToObject(blk, "is_error", cJSON_IsTrue(is_error));
  return blk;
}

/* One part as a block; NULL with b->rc still PT_OK means "drop it". */
static cJSON *part_block(build *b, const cJSON *part, const char *where)
{
  const char *type = str_member(part, "type");
  if (!type)
    return fail(b, PT_EINVAL, "%s has no \"type\"", where);
  if (strcmp(type, "text") == 0) {
    const char *text = str_member(part, "text");
    return text && text[0] ? text_block(text) : NULL;
  }
  if (strcmp(type, "image") == 0) return image_block(b, part, where);
  if (strcmp(type, "tool_call") == 0) return tool_use_block(b, part, where);
  if (strcmp(type, "tool_result") == 0)
    return tool_result_block(b, part, where);
  if (strcmp(type, "thinking") == 0) {
    const char *text = str_member(part, "text");
    const char *sig = str_member(part, "signature");
    if (!sig || !sig[0]) return NULL;
    cJSON *blk = cJSON_CreateObject();
    cJSON_AddStringToObject(blk, "type", "thinking");
    cJSON_AddStringToObject(blk, "thinking", text ? text : "");
    cJSON_AddStringToObject(blk, "signature", sig);
    return blk;
  }
  return fail(b, PT_EINVAL, "%s has type \"%s\"; use text, image, "
                            "tool_call, tool_result or thinking", where, type);
}

static cJSON *map_messages(build *b, const cJSON *messages)
{
  cJSON *out = cJSON_CreateArray();
  cJSON *last = NULL;          /* the last message added, for merging */
  const char *last_role = "";
  const cJSON *m;
  int i = 0;
  cJSON_ArrayForEach(m, messages) {
    const char *role = str_member(m, "role");
    const char *api_role = strcmp(role, "assistant") == 0 ? "assistant"
                                                          : "user";
    cJSON *parts = pc_message_parts(m);
    cJSON *blocks = cJSON_CreateArray();
    const cJSON *part;
    int j = 0;
    cJSON_ArrayForEach(part, parts) {
      char where[96];
      snprintf(where, sizeof where, "messages[%d].content[%d]", i, j++);
      cJSON *blk = part_block(b, part, where);
      if (blk) cJSON_AddItemToArray(blocks, blk);
      if (b->rc != PT_OK) break;
    }
    cJSON_Delete(parts);
    i++;
    if (b->rc != PT_OK) {
      cJSON_Delete(blocks);
      break;
    }
    if (cJSON_GetArraySize(blocks) == 0) {
      cJSON_Delete(blocks);
      continue;
    }
    if (last && strcmp(last_role, api_role) == 0) {
      cJSON *content = cJSON_GetObjectItemCaseSensitive(last, "content");
      cJSON *blk;
      while ((blk = cJSON_DetachItemFromArray(blocks, 0)) != NULL)
        cJSON_AddItemToArray(content, blk);
      cJSON_Delete(blocks);
      continue;
    }
    last = cJSON_CreateObject();
    cJSON_AddStringToObject(last, "role", api_role);
    cJSON_AddItemToObject(last, "content", blocks);
    cJSON_AddItemToArray(out, last);
    last_role = api_role;
  }
  if (b->rc != PT_OK) {
    cJSON_Delete(out);
    return NULL;
  }
  return out;
}

static cJSON *map_tools(build *b, const cJSON *tools)
{
  if (!cJSON_IsArray(tools))
    return fail(b, PT_EINVAL, "\"tools\" must be an array");
  cJSON *out = cJSON_CreateArray();
  const cJSON *t;
  int i = 0;
  cJSON_ArrayForEach(t, tools) {
    const char *name = str_member(t, "name");
    if (!name) {
      cJSON_Delete(out);
      return fail(b, PT_EINVAL, "tools[%d] has no \"name\"", i);
    }
    cJSON *tool = cJSON_CreateObject();
    cJSON_AddStringToObject(tool, "name", name);
    const char *desc = str_member(t, "description");
    if (desc) cJSON_AddStringToObject(tool, "description", desc);
    const cJSON *schema = cJSON_GetObjectItemCaseSensitive(t, "input_schema");
    /* The API requires a schema; a tool without arguments has this one. */
    cJSON_AddItemToObject(tool, "input_schema",
                          cJSON_IsObject(schema)
                              ? cJSON_Duplicate(schema, 1)
                              : cJSON_Parse("{\"type\":\"object\","
                                            "\"properties\":{}}"));
    cJSON_AddItemToArray(out, tool);
    i++;
  }
  return out;
}

static cJSON *map_tool_choice(build *b, const cJSON *choice)
{
  cJSON *out = cJSON_CreateObject();
  const char *s = cJSON_GetStringValue(choice);
  const char *name = cJSON_IsObject(choice) ? str_member(choice, "name")
                                            : NULL;
  if (s && strcmp(s, "auto") == 0) {
    cJSON_AddStringToObject(out, "type", "auto");
  } else if (s && strcmp(s, "none") == 0) {
    cJSON_AddStringToObject(out, "type", "none");
  } else if (s && strcmp(s, "required") == 0) {
    cJSON_AddStringToObject(out, "type", "any");
  } else if (name) {
    cJSON_AddStringToObject(out, "type", "tool");
    cJSON_AddStringToObject(out, "name", name);
  } else {
    cJSON_Delete(out);
    return fail(b, PT_EINVAL, "\"tool_choice\" must be \"auto\", \"none\", "
                              "\"required\" or {\"name\": ...}");
  }
  return out;
}

/* The thinking budget the request asks for, 0 for none. */
static long long thinking_budget(build *b, const cJSON *thinking)
{
  if (!thinking || cJSON_IsNull(thinking) || cJSON_IsFalse(thinking))
    return 0;
  if (cJSON_IsTrue(thinking)) return CL_BUDGET_MEDIUM;
  if (!cJSON_IsObject(thinking)) {
    fail(b, PT_EINVAL, "\"thinking\" must be an object with \"effort\" "
                       "and/or \"budget_tokens\"");
    return 0;
  }
  long long budget = pc_request_int(thinking, "budget_tokens", 0);
  if (budget > 0) return budget;
  const char *effort = str_member(thinking, "effort");
  if (!effort || strcmp(effort, "medium") == 0) return CL_BUDGET_MEDIUM;
  if (strcmp(effort, "low") == 0) return CL_BUDGET_LOW;
  if (strcmp(effort, "high") == 0) return CL_BUDGET_HIGH;
  fail(b, PT_EINVAL, "thinking \"effort\" is \"%s\"; use low, medium or "
                     "high", effort);
  return 0;
}

int32_t cl_request_build(const cJSON *req, char **body, char *err,
                         size_t errlen)
{
  build b = { err, errlen, PT_OK };
  *body = NULL;
  cJSON *out = cJSON_CreateObject();
  if (!out) return PT_ENOMEM;

  long long budget =
      thinking_budget(&b, cJSON_GetObjectItemCaseSensitive(req, "thinking"));
  /* The API requires max_tokens, and with thinking it must exceed the
   * budget: the default leaves the usual room for the answer. */
  long long max_tokens = pc_request_int(
      req, "max_tokens", CL_DEFAULT_MAX_TOKENS + (budget > 0 ? budget : 0));
  cJSON_AddStringToObject(out, "model", str_member(req, "model"));
  cJSON_AddNumberToObject(out, "max_tokens", (double)max_tokens);

  const cJSON *system = cJSON_GetObjectItemCaseSensitive(req, "system");
  if (cJSON_IsString(system) && system->valuestring[0])
    cJSON_AddStringToObject(out, "system", system->valuestring);
  else if (cJSON_IsArray(system))
    cJSON_AddItemToObject(out, "system", cJSON_Duplicate(system, 1));

  cJSON *messages = b.rc == PT_OK
      ? map_messages(&b, cJSON_GetObjectItemCaseSensitive(req, "messages"))
      : NULL;
  if (messages) cJSON_AddItemToObject(out, "messages", messages);

  const cJSON *tools = cJSON_GetObjectItemCaseSensitive(req, "tools");
  if (b.rc == PT_OK && tools && !cJSON_IsNull(tools)) {
    cJSON *t = map_tools(&b, tools);
    if (t) cJSON_AddItemToObject(out, "tools", t);
  }
  const cJSON *choice = cJSON_GetObjectItemCaseSensitive(req, "tool_choice");
  if (b.rc == PT_OK && choice && !cJSON_IsNull(choice)) {
    cJSON *c = map_tool_choice(&b, choice);
    if (c) cJSON_AddItemToObject(out, "tool_choice", c);
  }

  const cJSON *temperature = cJSON_GetObjectItemCaseSensitive(req,
                                                              "temperature");
  if (cJSON_IsNumber(temperature))
    cJSON_AddNumberToObject(out, "temperature", temperature->valuedouble);
  const cJSON *top_p = cJSON_GetObjectItemCaseSensitive(req, "top_p");
  if (cJSON_IsNumber(top_p))
    cJSON_AddNumberToObject(out, "top_p", top_p->valuedouble);

  const cJSON *stop = cJSON_GetObjectItemCaseSensitive(req, "stop");
  if (cJSON_IsString(stop)) {
    cJSON *seq = cJSON_AddArrayToObject(out, "stop_sequences");
    cJSON_AddItemToArray(seq, cJSON_CreateString(stop->valuestring));
  } else if (cJSON_IsArray(stop) && cJSON_GetArraySize(stop) > 0) {
    cJSON_AddItemToObject(out, "stop_sequences", cJSON_Duplicate(stop, 1));
  }

  if (budget > 0) {
    cJSON *t = cJSON_AddObjectToObject(out, "thinking");
    cJSON_AddStringToObject(t, "type", "enabled");
    cJSON_AddNumberToObject(t, "budget_tokens", (double)budget);
  }
  cJSON_AddBoolToObject(out, "stream", 1);
  pc_merge_extra(out, req);

  if (b.rc == PT_OK) {
    *body = cJSON_PrintUnformatted(out);
    if (!*body) {
      snprintf(err, errlen, "out of memory while building the request");
      b.rc = PT_ENOMEM;
    }
  }
  cJSON_Delete(out);
  return b.rc;
}
