/*
 * core/registry.h: the providers and tools that loaded plugins registered.
 *
 * Ids are unique across all plugins. Entries point at the plugin's static
 * vtable and its `self`; the registry owns neither. A plugin that is being
 * unloaded has its entries removed at once so no new operation can start,
 * while the operations already running keep their own pointers.
 */
#ifndef PT_REGISTRY_H
#define PT_REGISTRY_H

#include <stddef.h>

#include "portico/plugin.h"

typedef struct pt_provider_entry {
  const pt_provider_vt *vt;
  void *self;
  pt_host *plugin;
} pt_provider_entry;

typedef struct pt_tool_entry {
  const pt_tool_vt *vt;
  void *self;
  pt_host *plugin;
} pt_tool_entry;

typedef struct pt_registry {
  pt_provider_entry *providers;
  size_t provider_count, provider_cap;
  pt_tool_entry *tools;
  size_t tool_count, tool_cap;
} pt_registry;

void pt_registry_free(pt_registry *r);

/* True when `id` is 1 to 63 bytes of [a-z0-9_]. */
int pt_registry_valid_id(const char *id);

/* PT_EEXIST (and the current owner in *owner) when taken; PT_ENOMEM. */
int32_t pt_registry_add_provider(pt_registry *r, const pt_provider_vt *vt,
                                 void *self, pt_host *plugin, pt_host **owner);
int32_t pt_registry_add_tool(pt_registry *r, const pt_tool_vt *vt, void *self,
                             pt_host *plugin, pt_host **owner);

/* NULL when absent. The pointer is valid until the registry next changes. */
const pt_provider_entry *pt_registry_provider(const pt_registry *r,
                                              const char *id);
const pt_tool_entry *pt_registry_tool(const pt_registry *r, const char *name);

/* Remove every entry of `plugin`. Nothing is destroyed: the plugin keeps
 * its own list of what it registered (core/plugin_host.h). */
void pt_registry_remove_plugin(pt_registry *r, pt_host *plugin);

#endif
