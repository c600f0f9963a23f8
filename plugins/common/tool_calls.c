/*
 * plugins/common/tool_calls.c: see tool_calls.h.
 */
#include "tool_calls.h"

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

/* Indices come from the network: a reply with more calls than this is not
 * a reply any model writes. */
#define MAX_CALLS 1024

void pc_tools_reset(pc_tool_calls *t)
{
  for (size_t i = 0; i < t->count; i++) {
    pc_tool_call *tc = &t->calls[i];
    free(tc->id);
    free(tc->name);
    tc->id = tc->name = NULL;
    tc->open = 0;
    tc->args_len = 0;
    if (tc->args) tc->args[0] = '\0';
  }
  t->ended = 0;
}

void pc_tools_free(pc_tool_calls *t)
{
  pc_tools_reset(t);
  for (size_t i = 0; i < t->count; i++) free(t->calls[i].args);
  free(t->calls);
  memset(t, 0, sizeof *t);
}

pc_tool_call *pc_tools_get(pc_tool_calls *t, uint32_t index)
{
  return index < t->count ? &t->calls[index] : NULL;
}

static char *dup_str(pt_str s)
{
  char *p = malloc(s.len + 1);
  if (!p) return NULL;
  memcpy(p, s.ptr, s.len);
  p[s.len] = '\0';
  return p;
}

static int append(pc_tool_call *tc, pt_str s)
{
  if (tc->args_len + s.len + 1 > tc->args_cap) {
    size_t cap = tc->args_cap ? tc->args_cap : 256;
    while (cap < tc->args_len + s.len + 1) cap *= 2;
    char *p = realloc(tc->args, cap);
    if (!p) return -1;
    tc->args = p;
    tc->args_cap = cap;
  }
  memcpy(tc->args + tc->args_len, s.ptr, s.len);
  tc->args_len += s.len;
  tc->args[tc->args_len] = '\0';
  return 0;
}

int32_t pc_tools_start(pc_tool_calls *t, pc_call *c, uint32_t index,
                       pt_str id, pt_str name)
{
  if (index >= MAX_CALLS) {
    pc_call_fail(c, PT_EPROTO, 0, NULL, "tool call index %u is out of range",
                 index);
    return PT_EPROTO;
  }
  if (index >= t->count) {
    pc_tool_call *p = realloc(t->calls, (index + 1) * sizeof *p);
    if (!p) return PT_ENOMEM;
    memset(p + t->count, 0, (index + 1 - t->count) * sizeof *p);
    t->calls = p;
    t->count = index + 1;
  }
  pc_tool_call *tc = &t->calls[index];
  free(tc->id);
  free(tc->name);
  tc->id = dup_str(id);
  tc->name = dup_str(name);
  if (!tc->id || !tc->name) return PT_ENOMEM;
  tc->args_len = 0;
  if (append(tc, (pt_str){ "", 0 }) != 0) return PT_ENOMEM;
  tc->open = 1;
  pt_chat_event ev = { .struct_size = sizeof ev,
                       .kind = PT_EV_TOOL_CALL_START, .index = index,
                       .id = id, .name = name };
  pc_call_emit(c, &ev);
  return PT_OK;
}

int32_t pc_tools_delta(pc_tool_calls *t, pc_call *c, uint32_t index,
                       pt_str fragment)
{
  pc_tool_call *tc = pc_tools_get(t, index);
  if (!tc || !tc->open) {
    pc_call_fail(c, PT_EPROTO, 0, NULL,
                 "arguments arrived for tool call %u, which never began",
                 index);
    return PT_EPROTO;
  }
  if (fragment.len == 0) return PT_OK;
  if (append(tc, fragment) != 0) return PT_ENOMEM;
  pt_chat_event ev = { .struct_size = sizeof ev,
                       .kind = PT_EV_TOOL_CALL_DELTA, .index = index,
                       .json = fragment };
  pc_call_emit(c, &ev);
  return PT_OK;
}

int32_t pc_tools_end(pc_tool_calls *t, pc_call *c, uint32_t index)
{
  pc_tool_call *tc = pc_tools_get(t, index);
  if (!tc || !tc->open) return PT_OK;
  tc->open = 0;
  const char *args = tc->args_len ? tc->args : "{}";
  size_t len = tc->args_len ? tc->args_len : 2;
  cJSON *parsed = cJSON_ParseWithLength(args, len);
  int object = cJSON_IsObject(parsed);
  cJSON_Delete(parsed);
  if (!object) {
    pc_call_fail(c, PT_EPROTO, 0, NULL,
                 "the arguments of tool call %s (%s) are not a JSON object: "
                 "%.200s",
                 tc->id, tc->name, args);
    return PT_EPROTO;
  }
  pt_chat_event ev = { .struct_size = sizeof ev, .kind = PT_EV_TOOL_CALL_END,
                       .index = index,
                       .id = { tc->id, strlen(tc->id) },
                       .name = { tc->name, strlen(tc->name) },
                       .json = { args, len } };
  pc_call_emit(c, &ev);
  t->ended++;
  return PT_OK;
}

int32_t pc_tools_end_all(pc_tool_calls *t, pc_call *c)
{
  for (size_t i = 0; i < t->count; i++) {
    int32_t rc = pc_tools_end(t, c, (uint32_t)i);
    if (rc < 0) return rc;
  }
  return PT_OK;
}
