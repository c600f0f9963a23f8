/*
 * tests/support/agent_run.h: running pt_agent_turn to its end in tests, with
 * the bundled tools plugin and one bundled provider pointed at a fake, and
 * recording what the turn reported.
 */
#ifndef PT_TEST_AGENT_RUN_H
#define PT_TEST_AGENT_RUN_H

#include <cjson/cJSON.h>

#include "agent.h"
#include "harness.h"

typedef struct ag_run {
  int done;                  /* on_done calls: must end at 1 */
  pt_agent_result res;
  char message[512];
  char events[32768];        /* agent events, one JSON per line */
  size_t events_len;
  int chat_dones;            /* provider DONE events seen */
  /* asking */
  int asks;
  pt_agent_answer answer;    /* what to answer */
  int defer;                 /* keep the token instead of answering */
  void *token;
  void (*answer_fn)(void *token, pt_agent_answer a);
} ag_run;

/* A kernel in `f` loading bundled `provider_so` and tools.so, with config
 * text `lua`. */
void ag_boot(h_fixture *f, const char *provider_so, const char *lua);

/* Start a turn recording into `r`; CHECKs that it started. */
pt_agent *ag_start(pt_kernel *k, pt_agent_options *o, ag_run *r);

/* Run the loop until r is done or `ms` pass. */
int ag_wait(pt_kernel *k, ag_run *r, uint64_t ms);

/* JSON string body (escaped, no quotes) of `s`, malloc'd. */
char *ag_escape(const char *s);

#endif
