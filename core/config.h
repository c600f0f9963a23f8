/*
 * core/config.h: the user's config.lua, read once into an immutable tree.
 *
 * config.lua is a sandboxed Lua chunk (core/lua_sandbox.h) that returns a
 * table. Known top-level keys:
 *
 *   default_provider = "claude",        -- string
 *   default_model    = "claude-...",    -- string
 *   plugin_paths     = { "dir", ... },  -- extra plugin folders
 *   plugins          = { claude = { base_url = "...", ... }, ... },
 *
 * Other keys are kept for later subsystems (agents, policy). The table is
 * converted to JSON once; the Lua state is closed before this returns, so
 * nothing in the config runs later. Unknown keys are kept; a known key of
 * the wrong type is an error naming the key.
 */
#ifndef PT_CONFIG_H
#define PT_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

typedef struct pt_config pt_config;

/*
 * Read the config file at `path`. When `path` is NULL the default location
 * is used ($XDG_CONFIG_HOME/portico/config.lua, else
 * ~/.config/portico/config.lua) and a missing file yields an empty config;
 * a missing file that was named explicitly is an error. On error returns a
 * negative code (PT_ENOENT, PT_ESCRIPT, PT_ECONFIG) and writes one line for
 * a person, naming the file (and line, for Lua errors) and the problem, to
 * err. Caller owns *out: pt_config_free().
 */
int32_t pt_config_load(const char *path, pt_config **out, char *err,
                       size_t errlen);

/* An empty config (no file). NULL when out of memory. */
pt_config *pt_config_empty(void);

void pt_config_free(pt_config *c);

/* The file it was read from, or NULL for an empty config. Owned by c. */
const char *pt_config_path(const pt_config *c);

/* The whole table as JSON (owned by c, never NULL). */
const cJSON *pt_config_root(const pt_config *c);

/* default_provider / default_model, or NULL. Owned by c. */
const char *pt_config_default_provider(const pt_config *c);
const char *pt_config_default_model(const pt_config *c);

/* Whether storage.synchronous is "full": every commit waits for the disk,
 * trading speed for surviving a power cut (docs/storage.md). */
int pt_config_synchronous_full(const pt_config *c);

/* plugin_paths: the number of entries and entry i. Owned by c. */
size_t pt_config_plugin_path_count(const pt_config *c);
const char *pt_config_plugin_path(const pt_config *c, size_t i);

/* plugins.<name> as compact JSON text ("{}" when absent). Owned by c. */
const char *pt_config_plugin_json(const pt_config *c, const char *name);

#endif
