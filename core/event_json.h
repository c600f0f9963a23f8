/*
 * core/event_json.h: normalized chat events as JSON objects, the form
 * `portico chat --json` prints one per line (and the HTTP and stdio front
 * doors will carry):
 *
 *   {"type":"text","text":"…"}
 *   {"type":"thinking","text":"…"}
 *   {"type":"tool_call","id":"…","name":"…","arguments":{…}}
 *   {"type":"usage","input_tokens":N,"output_tokens":N,
 *    "cache_read_tokens":N,"cache_write_tokens":N,"cost_usd":X}
 *   {"type":"error","code":"EHTTP","message":"…","retryable":true}
 *   {"type":"done","stop_reason":"end_turn"}
 *
 * Tool-call starts and argument fragments are folded into the one
 * "tool_call" object at the call's end; a thinking signature becomes
 * {"type":"thinking_signature","signature":"…"}.
 */
#ifndef PT_EVENT_JSON_H
#define PT_EVENT_JSON_H

#include <cjson/cJSON.h>

#include "portico/plugin.h"
#include "pricing.h"

/* "end_turn", "tool_use", ... for a PT_STOP_* value. */
const char *pt_stop_name(uint32_t stop);

/*
 * The JSON objects for `ev`, appended to `out` (an array): none for events
 * that are folded into a later one, one for most, and two for a DONE with
 * an error (the error, then the done). `price` may be NULL (no cost_usd).
 * Returns 0, or -1 when out of memory.
 */
int pt_event_to_json(const pt_chat_event *ev, const pt_price *price,
                     cJSON *out);

#endif
