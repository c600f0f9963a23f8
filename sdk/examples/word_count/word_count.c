/*
 * word_count.c: the smallest useful shape of a Portico tool.
 *
 * Counts the words of {"text": "..."} on the host's thread pool (as any
 * tool that might take more than a millisecond must), then completes on the
 * loop thread with {"words": N}. Shows: a JSON Schema for the arguments,
 * the effects flags the permission policy reads, queue_work(), and exactly
 * one op_done() per invocation.
 */
#include <portico/plugin.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const pt_host_api *api;
static pt_host *host;

typedef struct job {
  pt_op *op;
  char *text;     /* the arguments, copied: they are borrowed for invoke() */
  size_t len;
  long words;
} job;

/* Runs on a pool thread: touch only the job, never the host API. The host
 * has already checked the arguments against the schema, so the value of
 * "text" is the string after the first `"text"` key's colon. */
static void count_words(void *ud)
{
  job *j = ud;
  const char *p = strstr(j->text, "\"text\"");
  p = p ? strchr(p + 6, '"') : NULL;
  if (!p) return;
  int in_word = 0;
  for (p++; *p && *p != '"'; p++) {
    int space = *p == ' ' || *p == '\t' || (*p == '\\' && p[1] == 'n');
    if (*p == '\\' && p[1]) p++; /* skip the escaped character */
    if (space) {
      in_word = 0;
    } else if (!in_word) {
      in_word = 1;
      j->words++;
    }
  }
}

static void count_done(void *ud, int32_t status)
{
  job *j = ud;
  char out[64];
  int n = snprintf(out, sizeof out, "{\"words\":%ld}", j->words);
  pt_op *op = j->op;
  free(j->text);
  free(j);
  api->op_done(op, status, (pt_str){ out, (size_t)n });
}

static int32_t word_count_invoke(void *self, pt_op *op, pt_str args_json)
{
  (void)self;
  job *j = calloc(1, sizeof *j);
  if (!j || !(j->text = malloc(args_json.len + 1))) {
    free(j);
    return PT_ENOMEM;
  }
  memcpy(j->text, args_json.ptr, args_json.len);
  j->text[args_json.len] = '\0';
  j->op = op;
  int32_t rc = api->queue_work(host, count_words, count_done, j);
  if (rc < 0) {
    free(j->text);
    free(j);
  }
  return rc;
}

/* Counting is quick; there is nothing to interrupt. */
static void word_count_cancel(void *self, pt_op *op)
{
  (void)self;
  (void)op;
}

static const pt_tool_vt word_count_vt = {
  .struct_size = sizeof(pt_tool_vt),
  .flags = 0, /* reads nothing, writes nothing: the policy may allow freely */
  .name = "word_count",
  .description = "Count the words in a text.",
  .input_schema = "{\"type\":\"object\",\"properties\":{\"text\":"
                  "{\"type\":\"string\"}},\"required\":[\"text\"]}",
  .invoke = word_count_invoke,
  .cancel = word_count_cancel,
};

static int32_t word_count_init(pt_host *h, const pt_host_api *host_api)
{
  api = host_api;
  host = h;
  return api->add_tool(h, &word_count_vt, NULL);
}

PT_PLUGIN("word_count", "1.0.0", "MIT",
          "Example tool built against the Portico SDK", word_count_init, NULL);
