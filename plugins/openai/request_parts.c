/*
 * plugins/openai/request_parts.c: the pieces of a normalized request that
 * Chat Completions and the Responses API read the same way: image URLs,
 * tool result text, reasoning effort.
 */
#include "openai.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *oa_image_url(const cJSON *part)
{
  const char *url =
      cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(part, "url"));
  if (url) return strdup(url);
  const char *data =
      cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(part, "data"));
  const char *type = cJSON_GetStringValue(
      cJSON_GetObjectItemCaseSensitive(part, "media_type"));
  if (!data) return NULL;
  if (!type) type = "image/png";
  size_t n = strlen(type) + strlen(data) + 16;
  char *out = malloc(n);
  if (out) snprintf(out, n, "data:%s;base64,%s", type, data);
  return out;
}

char *oa_tool_result_text(const cJSON *part)
{
  const cJSON *content = cJSON_GetObjectItemCaseSensitive(part, "content");
  jv_buf b = { 0 };
  int ok = jv_buf_add(&b, "", 0) == 0;
  if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(part, "is_error")))
    ok = ok && jv_buf_add(&b, "Error: ", 7) == 0;
  if (cJSON_IsString(content)) {
    ok = ok && jv_buf_add(&b, content->valuestring,
                          strlen(content->valuestring)) == 0;
  } else if (cJSON_IsArray(content)) {
    const cJSON *item;
    int pieces = 0;
    cJSON_ArrayForEach(item, content) {
      const char *type = cJSON_GetStringValue(
          cJSON_GetObjectItemCaseSensitive(item, "type"));
      const char *text = cJSON_GetStringValue(
          cJSON_GetObjectItemCaseSensitive(item, "text"));
      if (!type || strcmp(type, "text") != 0 || !text) continue;
      if (pieces++) ok = ok && jv_buf_add(&b, "\n", 1) == 0;
      ok = ok && jv_buf_add(&b, text, strlen(text)) == 0;
    }
  } else if (content && !cJSON_IsNull(content)) {
    /* A tool that handed back a JSON value: the model reads its text. */
    char *printed = cJSON_PrintUnformatted(content);
    ok = ok && printed && jv_buf_add(&b, printed, strlen(printed)) == 0;
    free(printed);
  }
  if (!ok) jv_buf_free(&b);
  return b.p;
}

const char *oa_reasoning_effort(const cJSON *req)
{
  const cJSON *thinking = cJSON_GetObjectItemCaseSensitive(req, "thinking");
  const char *effort = cJSON_GetStringValue(
      cJSON_GetObjectItemCaseSensitive(thinking, "effort"));
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
