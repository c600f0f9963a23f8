/*
 * tests/support/tools_run.h: the bundled tools plugin on a real kernel, a
 * temp workspace for it, and tool calls run to completion.
 *
 * Paths returned are malloc'd and owned by the caller unless noted.
 */
#ifndef PT_TEST_TOOLS_RUN_H
#define PT_TEST_TOOLS_RUN_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "harness.h"
#include "ops.h"

typedef struct tr_env {
  h_fixture f;
  char *ws;              /* owned temp folder: the calls' workspace */
  char context[4200];    /* {"workspace": ws} */
} tr_env;

/* A kernel loading `plugin`: "tools.so" from the bundled folder, or
 * "tools_portable.so" (openat2 compiled out) from the test plugins. */
void tr_start(tr_env *e, const char *plugin);
/* tr_start with the plugin folder watched, so a test can unload the
 * plugin by removing its file. */
void tr_start_watched(tr_env *e, const char *plugin);
void tr_stop(tr_env *e);

/* One call's completion. */
typedef struct tr_call {
  int done;              /* how many times it completed: must end at 1 */
  int32_t status;
  char *result;          /* owned JSON text */
  cJSON *json;           /* owned: result parsed; NULL when not JSON */
  const char *content;   /* json's "content", or "" */
  int is_error;          /* json's "is_error" */
} tr_call;

/* Start `tool` with `args` (JSON text) and context `context` (NULL: the
 * workspace's). The returned handle is valid until it completes. */
pt_op_impl *tr_begin(tr_env *e, const char *tool, const char *args,
                     const char *context, tr_call *c);

/* Run the loop until `c` completes or `ms` pass; returns c->done. */
int tr_wait(tr_env *e, tr_call *c, uint64_t ms);

/* tr_begin, then tr_wait for up to 20 s, and a check that it completed
 * once. Free with tr_free. */
void tr_run(tr_env *e, const char *tool, const char *args, tr_call *c);
void tr_free(tr_call *c);

/* A number field of the result, or `dflt` when absent or not a number. */
double tr_num(const tr_call *c, const char *key, double dflt);

/* Write `text` to workspace path `rel` (parents created), mode 0644. */
void tr_write(tr_env *e, const char *rel, const char *text);

/* The content of workspace path `rel` (malloc'd), NULL when unreadable. */
char *tr_read(tr_env *e, const char *rel);

/* ws + "/" + rel in `buf`. */
const char *tr_path(tr_env *e, const char *rel, char *buf, size_t size);

/* JSON string literal of `s` (quotes included, malloc'd). */
char *tr_quote(const char *s);

#endif
