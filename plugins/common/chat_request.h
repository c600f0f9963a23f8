/*
 * plugins/common/chat_request.h: reading the normalized chat request
 * (docs/providers.md) and a provider plugin's settings, the same way in
 * every bundled provider.
 */
#ifndef PT_CHAT_REQUEST_H
#define PT_CHAT_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <portico/plugin.h>

#include "provider_call.h"

/*
 * Parse `json` and check its shape: an object with a "model" string and a
 * "messages" array whose items have a known "role". Returns the tree
 * (caller frees with cJSON_Delete) or NULL with a sentence in `err`.
 */
cJSON *pc_request_parse(pt_str json, char *err, size_t errlen);

/* A message's content as an array of parts: a string becomes one text
 * part. Always a new array (caller frees), or NULL when out of memory. */
cJSON *pc_message_parts(const cJSON *message);

/* Copy every member of the request's "extra" object into `body`,
 * replacing members of the same name. */
void pc_merge_extra(cJSON *body, const cJSON *request);

/* The request's number `name` as an integer, or `dflt` when absent. */
long long pc_request_int(const cJSON *request, const char *name,
                         long long dflt);

/* A provider plugin's settings, from plugins.<name> in config.lua with the
 * ecosystem's environment variables as fallbacks. */
typedef struct pc_settings {
  char base_url[1024];        /* no trailing slash */
  pt_str api_key;             /* host-owned; empty when none */
  uint32_t connect_timeout_ms, first_byte_timeout_ms, idle_timeout_ms;
  int max_attempts;
  uint32_t backoff_base_ms;
} pc_settings;

/*
 * base_url: the setting, else $env_base, else `default_base`; a value
 * without a scheme ("127.0.0.1:11434", as OLLAMA_HOST often is) gets
 * http://. api_key: the setting, else $env_key (may be NULL). Timeouts,
 * max_attempts and backoff_base_ms: settings of those names.
 */
void pc_settings_load(const pt_host_api *api, pt_host *h, const char *env_base,
                      const char *default_base, const char *env_key,
                      pc_settings *s);

/* Copy the timeouts and retry settings into call options. */
void pc_settings_apply(const pc_settings *s, pc_call_opts *o);

#endif
