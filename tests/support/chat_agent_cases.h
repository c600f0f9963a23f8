/*
 * tests/support/chat_agent_cases.h: the setting the `portico chat` tool
 * tests share: a plugins folder with the bundled claude and tools plugins,
 * a workspace holding note.txt, and a fake Anthropic API that answers with
 * scripted steps (a tool call, then text). Not for tests of the agent loop
 * inside this process (see agent_run.h).
 */
#ifndef PT_TEST_CHAT_AGENT_CASES_H
#define PT_TEST_CHAT_AGENT_CASES_H

#include "fake_anthropic.h"

/* One scripted reply: text, or a tool call when name is set. */
typedef struct cac_step {
  const char *text;
  const char *id, *name, *args;  /* args: JSON text */
} cac_step;

/* The closing answer every case queues after its tool call. */
extern const cac_step CAC_ANSWER;  /* "The note says hello." */

typedef struct cac_env {
  char *dir;   /* plugins, config.lua, the data folder, HOME; malloc'd */
  char *ws;    /* the workspace, holding note.txt; malloc'd */
  /* "NAME=value" for PORTICO_CONFIG, PORTICO_DATA_DIR, XDG_CONFIG_HOME
   * and HOME, all in dir (so no policy.lua of the user's: the shipped
   * default decides); env is NULL-terminated and points into vars. */
  char vars[4][4200];
  const char *env[5];
} cac_env;

/* Make both folders and fill c; config.lua says nothing yet. */
void cac_setup(cac_env *c);

/* Remove both folders and free their names. */
void cac_teardown(cac_env *c);

/* A fresh fake with `first` (may be NULL) then CAC_ANSWER queued, and
 * c->dir's config.lua pointing claude at it; `extra` is more Lua table
 * fields for the config, may be "". The caller stops the fake. */
fake_anthropic *cac_fake_start(const cac_env *c, const cac_step *first,
                               const char *extra);

#endif
