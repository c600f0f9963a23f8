/*
 * core/pricing.h: what a provider call cost, in US dollars.
 *
 * Prices are per million tokens for the four counts a PT_EV_USAGE event
 * carries. A built-in table covers the common hosted models (a snapshot:
 * providers change prices, so config.lua's `prices` table overrides any
 * entry and adds new ones); local providers cost nothing unless configured.
 * Lookup is by longest model-name prefix, so "claude-sonnet-4-5-20250929"
 * finds "claude-sonnet-4".
 */
#ifndef PT_PRICING_H
#define PT_PRICING_H

#include <stdint.h>

#include "config.h"
#include "portico/plugin.h"

typedef struct pt_price {
  double input, output, cache_read, cache_write; /* USD per million tokens */
  int known;                                     /* found in a table */
} pt_price;

/*
 * The price of `model` on `provider`: config.lua's prices[model] (or the
 * longest matching prefix there), else the built-in table, else zero with
 * `known` unset (local providers such as ollama are known and free).
 */
pt_price pt_price_lookup(const pt_config *config, const char *provider,
                         const char *model);

/* The cost of a usage event at `price`. */
double pt_price_cost(const pt_price *price, const pt_chat_event *usage);

#endif
