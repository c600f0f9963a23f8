/*
 * core/chat_shared.c: see chat_shared.h.
 */
#include "chat_shared.h"

#include <stdio.h>
#include <string.h>

int pt__chat_resolve(pt_kernel *k, const char **provider, const char **model,
                     pt_price *price)
{
  if (!*provider) *provider = pt_config_default_provider(k->config);
  if (!*provider && k->registry.provider_count == 1)
    *provider = k->registry.providers[0].vt->id;
  if (!*provider) {
    fprintf(stderr, "portico: which provider? pass --provider NAME or set "
                    "default_provider in config.lua ('portico plugins' "
                    "lists the providers)\n");
    return -1;
  }
  if (!pt_registry_provider(&k->registry, *provider)) {
    fprintf(stderr, "portico: no provider named '%s' is loaded; 'portico "
                    "plugins' lists them\n", *provider);
    return -1;
  }
  if (!*model) *model = pt_config_default_model(k->config);
  if (!*model) {
    fprintf(stderr, "portico: which model? pass --model MODEL or set "
                    "default_model in config.lua ('portico models' lists "
                    "them)\n");
    return -1;
  }
  *price = pt_price_lookup(k->config, *provider, *model);
  return 0;
}

void pt__chat_agent_rec_init(pt_chat_agent_rec *s, pt_chat_record *rec,
                             const cJSON *messages)
{
  s->rec = rec;
  s->messages = messages;
  s->seen = cJSON_GetArraySize(messages);
}

/* Save the tool messages the loop appended since the last look; its
 * assistant messages were saved as they streamed. */
static void save_appended(pt_chat_agent_rec *s)
{
  int n = cJSON_GetArraySize(s->messages);
  for (; s->seen < n; s->seen++) {
    const cJSON *m = cJSON_GetArrayItem(s->messages, s->seen);
    const char *role = cJSON_GetStringValue(cJSON_GetObjectItem(m, "role"));
    if (role && !strcmp(role, "tool")) pt_chat_record_message(s->rec, m);
  }
}

void pt__chat_agent_rec_event(pt_chat_agent_rec *s, const pt_chat_event *ev)
{
  if (!s->rec) return;
  if (ev->kind == PT_EV_DONE) {
    pt_chat_record_reply_end(s->rec, ev->status < 0);
    return;
  }
  if (!s->rec->reply) {
    save_appended(s);
    pt_chat_record_reply_begin(s->rec);
  }
  pt_chat_record_event(s->rec, ev);
}

static uint32_t stop_of(const pt_agent_result *r)
{
  switch (r->stop) {
  case PT_AGENT_END_TURN: return PT_STOP_END_TURN;
  case PT_AGENT_MAX_TURNS: return PT_STOP_TOOL_USE;
  case PT_AGENT_MAX_TOKENS: return PT_STOP_MAX_TOKENS;
  case PT_AGENT_BUDGET: return PT_STOP_MAX_TOKENS;
  case PT_AGENT_STOP_SEQUENCE: return PT_STOP_STOP_SEQUENCE;
  case PT_AGENT_REFUSAL: return PT_STOP_REFUSAL;
  case PT_AGENT_CANCELLED: return PT_STOP_CANCELLED;
  default: return PT_STOP_ERROR;
  }
}

void pt__chat_agent_rec_end(pt_chat_agent_rec *s, const pt_agent_result *r,
                            const char *message)
{
  pt_chat_record *rec = s->rec;
  if (!rec) return;
  save_appended(s);
  /* The turn's usage is the sum over its model calls. */
  rec->usage.kind = PT_EV_USAGE;
  rec->usage.input_tokens = r->input_tokens;
  rec->usage.output_tokens = r->output_tokens;
  rec->usage.cache_read_tokens = r->cache_read_tokens;
  rec->usage.cache_write_tokens = r->cache_write_tokens;
  rec->have_usage = r->model_calls > 0;
  int32_t status = r->stop == PT_AGENT_CANCELLED ? PT_ECANCELED
                   : r->stop == PT_AGENT_ERROR   ? (r->status < 0 ? r->status
                                                                  : PT_EIO)
                                                 : PT_OK;
  pt_chat_record_end(rec, status, stop_of(r),
                     message && message[0] ? message : NULL);
}
