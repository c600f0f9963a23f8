/*
 * core/pricing.c: see pricing.h.
 */
#include "pricing.h"

#include <string.h>

typedef struct price_row {
  const char *prefix;
  double input, output, cache_read, cache_write;
} price_row;

/* USD per million tokens, as published by each provider at the time of
 * writing. Longer prefixes first is not required: lookup takes the
 * longest match. */
static const price_row builtin[] = {
  { "claude-opus-4", 15.0, 75.0, 1.50, 18.75 },
  { "claude-opus-4-5", 5.0, 25.0, 0.50, 6.25 },
  { "claude-sonnet-4", 3.0, 15.0, 0.30, 3.75 },
  { "claude-3-7-sonnet", 3.0, 15.0, 0.30, 3.75 },
  { "claude-haiku-4-5", 1.0, 5.0, 0.10, 1.25 },
  { "claude-3-5-haiku", 0.80, 4.0, 0.08, 1.0 },
  { "gpt-5", 1.25, 10.0, 0.125, 0 },
  { "gpt-5-mini", 0.25, 2.0, 0.025, 0 },
  { "gpt-5-nano", 0.05, 0.40, 0.005, 0 },
  { "gpt-4.1", 2.0, 8.0, 0.50, 0 },
  { "gpt-4.1-mini", 0.40, 1.60, 0.10, 0 },
  { "gpt-4.1-nano", 0.10, 0.40, 0.025, 0 },
  { "gpt-4o", 2.50, 10.0, 1.25, 0 },
  { "gpt-4o-mini", 0.15, 0.60, 0.075, 0 },
  { "o3", 2.0, 8.0, 0.50, 0 },
  { "o4-mini", 1.10, 4.40, 0.275, 0 },
};

static double number(const cJSON *o, const char *key)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static pt_price from_config(const pt_config *config, const char *model)
{
  pt_price p = { 0 };
  const cJSON *prices =
      cJSON_GetObjectItemCaseSensitive(pt_config_root(config), "prices");
  const cJSON *best = NULL;
  size_t best_len = 0;
  const cJSON *row;
  cJSON_ArrayForEach(row, prices) {
    size_t n = row->string ? strlen(row->string) : 0;
    if (n && n >= best_len && strncmp(model, row->string, n) == 0 &&
        cJSON_IsObject(row)) {
      best = row;
      best_len = n;
    }
  }
  if (best) {
    p.input = number(best, "input");
    p.output = number(best, "output");
    p.cache_read = number(best, "cache_read");
    p.cache_write = number(best, "cache_write");
    p.known = 1;
  }
  return p;
}

pt_price pt_price_lookup(const pt_config *config, const char *provider,
                         const char *model)
{
  pt_price p = { 0 };
  if (!model) return p;
  if (config) {
    p = from_config(config, model);
    if (p.known) return p;
  }
  if (provider && strcmp(provider, "ollama") == 0) {
    p.known = 1;
    return p;
  }
  const price_row *best = NULL;
  size_t best_len = 0;
  for (size_t i = 0; i < sizeof builtin / sizeof builtin[0]; i++) {
    size_t n = strlen(builtin[i].prefix);
    if (n >= best_len && strncmp(model, builtin[i].prefix, n) == 0) {
      best = &builtin[i];
      best_len = n;
    }
  }
  if (best)
    p = (pt_price){ best->input, best->output, best->cache_read,
                    best->cache_write, 1 };
  return p;
}

double pt_price_cost(const pt_price *price, const pt_chat_event *u)
{
  return ((double)u->input_tokens * price->input +
          (double)u->output_tokens * price->output +
          (double)u->cache_read_tokens * price->cache_read +
          (double)u->cache_write_tokens * price->cache_write) /
         1e6;
}
