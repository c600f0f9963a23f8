/*
 * plugins/common/tool_calls.h: tool calls assembled from streamed pieces.
 *
 * APIs stream a tool call's arguments as fragments of JSON text, keyed by
 * the call's position in the reply. This keeps one buffer per position,
 * emits PT_EV_TOOL_CALL_START / _DELTA as pieces arrive, and on the end
 * checks that the whole is a JSON object before it emits
 * PT_EV_TOOL_CALL_END (an empty text becomes "{}"). A call whose arguments
 * are not valid JSON fails the chat with PT_EPROTO rather than hand a tool
 * something it cannot read.
 */
#ifndef PT_TOOL_CALLS_H
#define PT_TOOL_CALLS_H

#include <stddef.h>
#include <stdint.h>

#include "provider_call.h"

typedef struct pc_tool_call {
  int open;                 /* started and not yet ended */
  char *id, *name;          /* owned */
  char *args;               /* owned, NUL-terminated */
  size_t args_len, args_cap;
} pc_tool_call;

typedef struct pc_tool_calls {
  pc_tool_call *calls;      /* owned, indexed by position */
  size_t count;
  size_t ended;             /* calls completed in this reply */
} pc_tool_calls;

/* Forget every call (a new attempt or reply), keeping the memory. */
void pc_tools_reset(pc_tool_calls *t);
void pc_tools_free(pc_tool_calls *t);

/* A call begins at `index`. PT_ENOMEM, or PT_OK after emitting START. */
int32_t pc_tools_start(pc_tool_calls *t, pc_call *c, uint32_t index,
                       pt_str id, pt_str name);

/* More argument text for the call at `index` (started first). */
int32_t pc_tools_delta(pc_tool_calls *t, pc_call *c, uint32_t index,
                       pt_str fragment);

/* The call at `index` is complete: check and emit END. On invalid JSON
 * fails the chat and returns PT_EPROTO. Ending a call that is not open is
 * a no-op. */
int32_t pc_tools_end(pc_tool_calls *t, pc_call *c, uint32_t index);

/* End every open call, in index order. */
int32_t pc_tools_end_all(pc_tool_calls *t, pc_call *c);

/* The call at `index`, or NULL. */
pc_tool_call *pc_tools_get(pc_tool_calls *t, uint32_t index);

#endif
