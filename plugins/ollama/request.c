/*
 * plugins/ollama/request.c: the normalized chat request (docs/providers.md)
 * as an Ollama /api/chat body.
 *
 * Wire choices, where Ollama's API has no direct counterpart:
 * - Text parts of one message are joined with "\n"; thinking parts become
 *   the assistant message's "thinking" (signatures are dropped: Ollama has
 *   none).
 * - Images go inline as base64 in the message's "images". A "data:" URL is
 *   unpacked; any other URL is refused with a clear error, because Ollama
 *   cannot fetch and this provider does not either.
 * - A tool result becomes a "tool" message whose "tool_name" is found from
 *   the assistant tool call with the same id; is_error prefixes the
 *   content with "Error: " since Ollama has no error flag.
 * - tool_choice: "none" sends no tools; {"name": X} sends only X; "auto"
 *   and "required" send them all (Ollama cannot force a call).
 * - thinking: "think": true, or the effort level itself for gpt-oss models,
 *   the only ones that take levels (others answer 400 to a level).
 * - extra: merged last at the top level, except that an "options" object
 *   is merged member by member into the options built here.
 */
#include "ollama.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

typedef struct builder {
  cJSON *req;        /* the normalized request */
  cJSON *messages;   /* the body's, borrowed */
  char *err;
  size_t errlen;
} builder;

static const char *str_of(const cJSON *obj, const char *name)
{
  return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(obj, name));
}

static int join(pc_buf *b, const char *text)
{
  if (!text) return 0;
  if (b->len && pc_buf_append(b, "\n", 1) != 0) return -1;
  return pc_buf_append(b, text, strlen(text));
}

/* An image part's base64 into `images`. -1 with `err` set when it cannot
 * go inline. */
static int add_image(builder *bd, int index, const cJSON *part,
                     cJSON *images)
{
  const char *data = str_of(part, "data");
  const char *url = str_of(part, "url");
  if (!data && url && strncmp(url, "data:", 5) == 0) {
    const char *comma = strstr(url, ";base64,");
    if (comma) data = comma + 8;
  }
  if (!data) {
    snprintf(bd->err, bd->errlen,
             "messages[%d] has an image given by URL (%.120s); Ollama takes "
             "images inline only and this provider does not fetch URLs, so "
             "send it as base64 \"data\" instead",
             index, url ? url : "none");
    return -1;
  }
  cJSON_AddItemToArray(images, cJSON_CreateString(data));
  return 0;
}

/* The name of the tool call `id`, from the messages before `msg`, latest
 * first (ids may repeat between turns). Walks back through the list's prev
 * links: a long conversation has many results to look up. */
static const char *tool_name_for(const builder *bd, const cJSON *msg,
                                 const char *id)
{
  const cJSON *first =
      cJSON_GetObjectItemCaseSensitive(bd->req, "messages")->child;
  for (const cJSON *m = msg; id && m != first;) {
    m = m->prev;
    const cJSON *part;
    cJSON_ArrayForEach(part, cJSON_GetObjectItemCaseSensitive(m, "content")) {
      const char *type = str_of(part, "type");
      const char *pid = str_of(part, "id");
      if (type && strcmp(type, "tool_call") == 0 && pid &&
          strcmp(pid, id) == 0)
        return str_of(part, "name");
    }
  }
  return NULL;
}

static cJSON *new_message(const char *role, const char *content)
{
  cJSON *m = cJSON_CreateObject();
  cJSON_AddStringToObject(m, "role", role);
  cJSON_AddStringToObject(m, "content", content ? content : "");
  return m;
}

/* Add images to message `m` unless there are none (then free them). */
static void attach_images(cJSON *m, cJSON *images)
{
  if (cJSON_GetArraySize(images) > 0)
    cJSON_AddItemToObject(m, "images", images);
  else
    cJSON_Delete(images);
}

/* A tool_result part as a "tool" message. -1 refused (err set), -2 out of
 * memory. */
static int add_tool_result(builder *bd, int index, const cJSON *msg,
                           const cJSON *part)
{
  const cJSON *content = cJSON_GetObjectItemCaseSensitive(part, "content");
  pc_buf text = { 0 };
  cJSON *images = cJSON_CreateArray();
  int oom = !images, refused = 0;
  if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(part, "is_error")))
    oom |= pc_buf_append(&text, "Error: ", 7) != 0;
  if (cJSON_IsString(content)) {
    oom |= pc_buf_append(&text, content->valuestring,
                      strlen(content->valuestring)) != 0;
  } else {
    const cJSON *sub;
    int first = 1;
    cJSON_ArrayForEach(sub, content) {
      const char *type = str_of(sub, "type"), *t = str_of(sub, "text");
      if (type && strcmp(type, "image") == 0) {
        refused |= add_image(bd, index, sub, images) != 0;
      } else if (t) {
        if (!first) oom |= pc_buf_append(&text, "\n", 1) != 0;
        oom |= pc_buf_append(&text, t, strlen(t)) != 0;
        first = 0;
      }
    }
  }
  if (!oom && !refused) {
    cJSON *m = new_message("tool", text.p);
    const char *name = tool_name_for(bd, msg, str_of(part, "tool_call_id"));
    if (name) cJSON_AddStringToObject(m, "tool_name", name);
    attach_images(m, images);
    cJSON_AddItemToArray(bd->messages, m);
  } else {
    cJSON_Delete(images);
  }
  pc_buf_free(&text);
  return refused ? -1 : oom ? -2 : 0;
}

static cJSON *tool_call(const cJSON *part)
{
  const cJSON *args = cJSON_GetObjectItemCaseSensitive(part, "arguments");
  cJSON *a = cJSON_IsString(args) ? cJSON_Parse(args->valuestring)
             : args               ? cJSON_Duplicate(args, 1)
                                  : NULL;
  if (!cJSON_IsObject(a)) {
    cJSON_Delete(a);
    a = cJSON_CreateObject();
  }
  cJSON *fn = cJSON_CreateObject();
  const char *name = str_of(part, "name");
  cJSON_AddStringToObject(fn, "name", name ? name : "");
  cJSON_AddItemToObject(fn, "arguments", a);
  cJSON *call = cJSON_CreateObject();
  cJSON_AddItemToObject(call, "function", fn);
  return call;
}

/* One normalized message: tool results become "tool" messages of their
 * own, in order, and the rest one message of the same role. -1 refused
 * (err set), -2 out of memory. */
static int add_message(builder *bd, int index, const cJSON *msg)
{
  const char *role = str_of(msg, "role");
  cJSON *parts = pc_message_parts(msg);
  if (!parts) return -2;
  pc_buf text = { 0 }, thinking = { 0 };
  cJSON *images = cJSON_CreateArray(), *calls = cJSON_CreateArray();
  int rc = 0;
  const cJSON *part;
  cJSON_ArrayForEach(part, parts) {
    const char *type = str_of(part, "type");
    if (!type) continue;
    if (strcmp(type, "text") == 0) {
      if (join(&text, str_of(part, "text")) != 0) rc = -2;
    } else if (strcmp(type, "thinking") == 0) {
      const char *t = str_of(part, "text");
      if (t && pc_buf_append(&thinking, t, strlen(t)) != 0) rc = -2;
    } else if (strcmp(type, "image") == 0) {
      if (add_image(bd, index, part, images) != 0) rc = -1;
    } else if (strcmp(type, "tool_call") == 0) {
      cJSON_AddItemToArray(calls, tool_call(part));
    } else if (strcmp(type, "tool_result") == 0) {
      int r = add_tool_result(bd, index, msg, part);
      if (r != 0) rc = r;
    }
    if (rc != 0) break;
  }
  int has_calls = cJSON_GetArraySize(calls) > 0;
  int has_more = text.len || thinking.len || has_calls ||
                 cJSON_GetArraySize(images) > 0;
  if (rc == 0 && has_more) {
    cJSON *m = new_message(role, text.p);
    if (thinking.len) cJSON_AddStringToObject(m, "thinking", thinking.p);
    attach_images(m, images);
    images = NULL;
    if (has_calls) {
      cJSON_AddItemToObject(m, "tool_calls", calls);
      calls = NULL;
    }
    cJSON_AddItemToArray(bd->messages, m);
  }
  cJSON_Delete(images);
  cJSON_Delete(calls);
  cJSON_Delete(parts);
  pc_buf_free(&text);
  pc_buf_free(&thinking);
  return rc;
}

static cJSON *tool_def(const cJSON *tool)
{
  const cJSON *schema = cJSON_GetObjectItemCaseSensitive(tool, "input_schema");
  cJSON *fn = cJSON_CreateObject();
  cJSON_AddStringToObject(fn, "name", str_of(tool, "name"));
  if (str_of(tool, "description"))
    cJSON_AddStringToObject(fn, "description", str_of(tool, "description"));
  cJSON_AddItemToObject(fn, "parameters",
                        cJSON_IsObject(schema)
                            ? cJSON_Duplicate(schema, 1)
                            : cJSON_Parse("{\"type\":\"object\","
                                          "\"properties\":{}}"));
  cJSON *t = cJSON_CreateObject();
  cJSON_AddStringToObject(t, "type", "function");
  cJSON_AddItemToObject(t, "function", fn);
  return t;
}

/* "tools", per tool_choice, and the names offered into `out`. */
static int add_tools(builder *bd, cJSON *body, ol_request *out)
{
  const cJSON *tools = cJSON_GetObjectItemCaseSensitive(bd->req, "tools");
  const cJSON *choice = cJSON_GetObjectItemCaseSensitive(bd->req,
                                                         "tool_choice");
  const char *only = str_of(choice, "name");
  if (!cJSON_IsArray(tools) || cJSON_GetArraySize(tools) == 0) return 0;
  if (cJSON_IsString(choice) && strcmp(choice->valuestring, "none") == 0)
    return 0;
  cJSON *list = cJSON_CreateArray();
  out->tool_names = calloc((size_t)cJSON_GetArraySize(tools), sizeof(char *));
  if (!list || !out->tool_names) {
    cJSON_Delete(list);
    return -2;
  }
  const cJSON *tool;
  cJSON_ArrayForEach(tool, tools) {
    const char *name = str_of(tool, "name");
    if (!name || (only && strcmp(only, name) != 0)) continue;
    cJSON_AddItemToArray(list, tool_def(tool));
    out->tool_names[out->tool_count] = strdup(name);
    if (!out->tool_names[out->tool_count++]) {
      cJSON_Delete(list);
      return -2;
    }
  }
  if (only && out->tool_count == 0) {
    snprintf(bd->err, bd->errlen,
             "tool_choice names \"%.64s\", which is not among the request's "
             "tools",
             only);
    cJSON_Delete(list);
    return -1;
  }
  cJSON_AddItemToObject(body, "tools", list);
  return 0;
}

static void add_options(builder *bd, cJSON *body)
{
  cJSON *opts = cJSON_CreateObject();
  const char *copy[] = { "temperature", "top_p" };
  for (size_t i = 0; i < sizeof copy / sizeof copy[0]; i++) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(bd->req, copy[i]);
    if (cJSON_IsNumber(v))
      cJSON_AddItemToObject(opts, copy[i], cJSON_Duplicate(v, 0));
  }
  const cJSON *stop = cJSON_GetObjectItemCaseSensitive(bd->req, "stop");
  if (cJSON_IsString(stop)) {
    cJSON *list = cJSON_AddArrayToObject(opts, "stop");
    cJSON_AddItemToArray(list, cJSON_CreateString(stop->valuestring));
  } else if (cJSON_IsArray(stop) && cJSON_GetArraySize(stop) > 0) {
    cJSON_AddItemToObject(opts, "stop", cJSON_Duplicate(stop, 1));
  }
  long long max = pc_request_int(bd->req, "max_tokens", -1);
  if (max > 0) cJSON_AddNumberToObject(opts, "num_predict", (double)max);
  /* Ollama's default context is small for an agent's prompts; the setting
   * raises it for every request without a Modelfile. */
  pt_str ctx;
  if (ol_api->config_string(ol_host, "num_ctx", &ctx) == PT_OK && ctx.len) {
    long long n = strtoll(ctx.ptr, NULL, 10);
    if (n > 0) cJSON_AddNumberToObject(opts, "num_ctx", (double)n);
  }
  if (cJSON_GetArraySize(opts) > 0)
    cJSON_AddItemToObject(body, "options", opts);
  else
    cJSON_Delete(opts);
}

static void add_think(builder *bd, cJSON *body)
{
  const cJSON *thinking = cJSON_GetObjectItemCaseSensitive(bd->req,
                                                           "thinking");
  if (cJSON_IsBool(thinking)) {
    cJSON_AddBoolToObject(body, "think", cJSON_IsTrue(thinking));
    return;
  }
  if (!cJSON_IsObject(thinking)) return;
  const char *effort = str_of(thinking, "effort");
  const char *model = str_of(bd->req, "model");
  if (effort && strncmp(model, "gpt-oss", 7) == 0 &&
      (strcmp(effort, "low") == 0 || strcmp(effort, "medium") == 0 ||
       strcmp(effort, "high") == 0))
    cJSON_AddStringToObject(body, "think", effort);
  else
    cJSON_AddTrueToObject(body, "think");
}

static void merge_extra(builder *bd, cJSON *body)
{
  const cJSON *extra = cJSON_GetObjectItemCaseSensitive(bd->req, "extra");
  const cJSON *item;
  cJSON_ArrayForEach(item, extra) {
    if (!item->string) continue;
    cJSON *mine = cJSON_GetObjectItemCaseSensitive(body, item->string);
    if (strcmp(item->string, "options") == 0 && cJSON_IsObject(mine) &&
        cJSON_IsObject(item)) {
      const cJSON *opt;
      cJSON_ArrayForEach(opt, item) {
        cJSON_DeleteItemFromObjectCaseSensitive(mine, opt->string);
        cJSON_AddItemToObject(mine, opt->string, cJSON_Duplicate(opt, 1));
      }
      continue;
    }
    cJSON_DeleteItemFromObjectCaseSensitive(body, item->string);
    cJSON_AddItemToObject(body, item->string, cJSON_Duplicate(item, 1));
  }
}

static void add_system(builder *bd)
{
  const cJSON *system = cJSON_GetObjectItemCaseSensitive(bd->req, "system");
  if (cJSON_IsString(system) && system->valuestring[0]) {
    cJSON_AddItemToArray(bd->messages,
                         new_message("system", system->valuestring));
  } else if (cJSON_IsArray(system)) {
    pc_buf text = { 0 };
    const cJSON *part;
    cJSON_ArrayForEach(part, system) join(&text, str_of(part, "text"));
    if (text.len)
      cJSON_AddItemToArray(bd->messages, new_message("system", text.p));
    pc_buf_free(&text);
  }
}

int32_t ol_request_build(pt_str request_json, ol_request *out, char *err,
                         size_t errlen)
{
  memset(out, 0, sizeof *out);
  builder bd = { .err = err, .errlen = errlen };
  bd.req = pc_request_parse(request_json, err, errlen);
  if (!bd.req) return PT_EINVAL;
  cJSON *body = cJSON_CreateObject();
  int rc = body ? 0 : -2;
  if (rc == 0) {
    cJSON_AddStringToObject(body, "model", str_of(bd.req, "model"));
    bd.messages = cJSON_AddArrayToObject(body, "messages");
    add_system(&bd);
    const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(bd.req, "messages");
    int i = 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, msgs) {
      rc = add_message(&bd, i++, m);
      if (rc != 0) break;
    }
  }
  if (rc == 0) rc = add_tools(&bd, body, out);
  if (rc == 0) {
    cJSON_AddTrueToObject(body, "stream");
    add_options(&bd, body);
    add_think(&bd, body);
    merge_extra(&bd, body);
    out->body = cJSON_PrintUnformatted(body);
    if (!out->body) rc = -2;
  }
  cJSON_Delete(body);
  cJSON_Delete(bd.req);
  if (rc != 0) {
    if (rc == -2) snprintf(err, errlen, "out of memory building the request");
    ol_request_free(out);
    return rc == -2 ? PT_ENOMEM : PT_EINVAL;
  }
  out->body_len = strlen(out->body);
  return PT_OK;
}

void ol_request_free(ol_request *r)
{
  for (size_t i = 0; i < r->tool_count; i++) free(r->tool_names[i]);
  free(r->tool_names);
  cJSON_free(r->body);
  memset(r, 0, sizeof *r);
}
