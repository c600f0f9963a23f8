/*
 * core/event_json.c: see event_json.h.
 */
#include "event_json.h"

#include <string.h>

const char *pt_stop_name(uint32_t stop)
{
  switch (stop) {
  case PT_STOP_END_TURN: return "end_turn";
  case PT_STOP_TOOL_USE: return "tool_use";
  case PT_STOP_MAX_TOKENS: return "max_tokens";
  case PT_STOP_STOP_SEQUENCE: return "stop_sequence";
  case PT_STOP_REFUSAL: return "refusal";
  case PT_STOP_CANCELLED: return "cancelled";
  case PT_STOP_ERROR: return "error";
  default: return "unknown";
  }
}

static cJSON *add_str(cJSON *o, const char *key, pt_str s)
{
  /* cJSON wants NUL-terminated text; views are not. */
  char small[256];
  char *buf = s.len < sizeof small ? small : cJSON_malloc(s.len + 1);
  if (!buf) return NULL;
  memcpy(buf, s.ptr ? s.ptr : "", s.len);
  buf[s.len] = '\0';
  cJSON *item = cJSON_AddStringToObject(o, key, buf);
  if (buf != small) cJSON_free(buf);
  return item;
}

static cJSON *typed(const char *type)
{
  cJSON *o = cJSON_CreateObject();
  if (o) cJSON_AddStringToObject(o, "type", type);
  return o;
}

int pt_event_to_json(const pt_chat_event *ev, const pt_price *price,
                     cJSON *out)
{
  cJSON *o = NULL;
  switch (ev->kind) {
  case PT_EV_TEXT:
  case PT_EV_THINKING:
    o = typed(ev->kind == PT_EV_TEXT ? "text" : "thinking");
    if (o && !add_str(o, "text", ev->text)) goto oom;
    break;
  case PT_EV_THINKING_SIGNATURE:
    o = typed("thinking_signature");
    if (o && !add_str(o, "signature", ev->text)) goto oom;
    break;
  case PT_EV_TOOL_CALL_START:
  case PT_EV_TOOL_CALL_DELTA:
    return 0;
  case PT_EV_TOOL_CALL_END: {
    o = typed("tool_call");
    if (!o || !add_str(o, "id", ev->id) || !add_str(o, "name", ev->name))
      goto oom;
    cJSON *args = cJSON_ParseWithLength(ev->json.ptr, ev->json.len);
    cJSON_AddItemToObject(o, "arguments", args ? args : cJSON_CreateObject());
    break;
  }
  case PT_EV_USAGE:
    o = typed("usage");
    if (!o) goto oom;
    cJSON_AddNumberToObject(o, "input_tokens", (double)ev->input_tokens);
    cJSON_AddNumberToObject(o, "output_tokens", (double)ev->output_tokens);
    cJSON_AddNumberToObject(o, "cache_read_tokens",
                            (double)ev->cache_read_tokens);
    cJSON_AddNumberToObject(o, "cache_write_tokens",
                            (double)ev->cache_write_tokens);
    if (price && price->known)
      cJSON_AddNumberToObject(o, "cost_usd", pt_price_cost(price, ev));
    break;
  case PT_EV_DONE:
    if (ev->status < 0 && ev->stop != PT_STOP_CANCELLED) {
      cJSON *e = typed("error");
      if (!e) goto oom;
      cJSON_AddStringToObject(e, "code", pt_errname(ev->status));
      if (ev->text.len) add_str(e, "message", ev->text);
      else cJSON_AddStringToObject(e, "message", pt_strerror(ev->status));
      if (ev->name.len) add_str(e, "error_type", ev->name);
      cJSON_AddBoolToObject(e, "retryable",
                            (ev->flags & PT_EVF_RETRYABLE) != 0);
      cJSON_AddItemToArray(out, e);
    }
    o = typed("done");
    if (o) cJSON_AddStringToObject(o, "stop_reason", pt_stop_name(ev->stop));
    break;
  default:
    return 0;
  }
  if (!o) return -1;
  cJSON_AddItemToArray(out, o);
  return 0;
oom:
  cJSON_Delete(o);
  return -1;
}
