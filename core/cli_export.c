/*
 * core/cli_export.c: a saved session as Markdown, for `portico sessions
 * export ID --format markdown` (JSON export is the store's own shape).
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char *str(const cJSON *o, const char *key)
{
  const char *s = cJSON_GetStringValue(cJSON_GetObjectItem(o, key));
  return s ? s : "";
}

static double num(const cJSON *o, const char *key)
{
  const cJSON *v = cJSON_GetObjectItem(o, key);
  return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

/* A fenced block whose fence is longer than any backtick run inside. */
static void fenced(FILE *out, const char *lang, const char *text)
{
  int longest = 0, run = 0;
  for (const char *p = text; *p; p++) {
    run = *p == '`' ? run + 1 : 0;
    if (run > longest) longest = run;
  }
  int n = longest < 3 ? 3 : longest + 1;
  fprintf(out, "%.*s%s\n%s%s%.*s\n\n", n, "``````````````````````````````",
          lang, text, text[0] && text[strlen(text) - 1] != '\n' ? "\n" : "",
          n, "``````````````````````````````");
}

static void part(FILE *out, const cJSON *p)
{
  const char *type = str(p, "type");
  if (!strcmp(type, "text")) {
    fprintf(out, "%s\n\n", str(p, "text"));
  } else if (!strcmp(type, "thinking")) {
    fputs("*Thinking:*\n\n> ", out);
    for (const char *c = str(p, "text"); *c; c++) {
      if (*c == '\n') fputs("\n> ", out);
      else fputc(*c, out);
    }
    fputs("\n\n", out);
  } else if (!strcmp(type, "tool_call")) {
    char *args = cJSON_Print(cJSON_GetObjectItem(p, "arguments"));
    fprintf(out, "**Tool call** `%s` (`%s`):\n\n", str(p, "name"),
            str(p, "id"));
    fenced(out, "json", args ? args : "{}");
    cJSON_free(args);
  } else if (!strcmp(type, "tool_result")) {
    const cJSON *content = cJSON_GetObjectItem(p, "content");
    char *text = cJSON_IsString(content) ? NULL : cJSON_Print(content);
    fprintf(out, "**Tool result** for `%s`%s:\n\n", str(p, "tool_call_id"),
            cJSON_IsTrue(cJSON_GetObjectItem(p, "is_error")) ? " (error)" : "");
    fenced(out, "", text ? text : str(p, "content"));
    cJSON_free(text);
  } else if (!strcmp(type, "image")) {
    fprintf(out, "*[image: %s]*\n\n", str(p, "media_type"));
  } else {
    fprintf(out, "*[%s part]*\n\n", type);
  }
}

void pt_cli_export_markdown(const cJSON *transcript, FILE *out)
{
  const cJSON *s = cJSON_GetObjectItem(transcript, "session");
  char created[32], updated[32];
  pt_cli_time((int64_t)num(s, "created_at"), created, sizeof created);
  pt_cli_time((int64_t)num(s, "updated_at"), updated, sizeof updated);
  fprintf(out, "# %s\n\n", *str(s, "title") ? str(s, "title") : "Session");
  fprintf(out, "- session: `%s`\n- provider: %s, model: %s\n", str(s, "id"),
          str(s, "provider"), str(s, "model"));
  if (*str(s, "workspace"))
    fprintf(out, "- workspace: `%s`\n", str(s, "workspace"));
  fprintf(out, "- created: %s, updated: %s\n", created, updated);
  fprintf(out, "- %.0f turns, %.0f messages, %.0f tokens in, %.0f out, "
               "$%.4f\n\n",
          num(s, "turns"), num(s, "messages"), num(s, "input_tokens"),
          num(s, "output_tokens"), num(s, "cost_usd"));
  const cJSON *m;
  cJSON_ArrayForEach(m, cJSON_GetObjectItem(transcript, "messages")) {
    const char *role = str(m, "role");
    fprintf(out, "## %c%s\n\n", role[0] ? role[0] - 'a' + 'A' : '?',
            role[0] ? role + 1 : "");
    const cJSON *content = cJSON_GetObjectItem(m, "content"), *p;
    const cJSON *parts = cJSON_IsArray(content) ? content : NULL;
    if (cJSON_IsString(content)) fprintf(out, "%s\n\n", content->valuestring);
    cJSON_ArrayForEach(p, parts) part(out, p);
    if (strcmp(str(m, "status"), "complete"))
      fprintf(out, "*(%s)*\n\n", str(m, "status"));
  }
}
