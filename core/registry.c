/*
 * core/registry.c: providers and tools by id (see registry.h).
 *
 * A handful of plugins register a few dozen entries at most, so flat arrays
 * with linear lookup beat a hash table in both code and time.
 */
#include "registry.h"

#include <stdlib.h>
#include <string.h>

void pt_registry_free(pt_registry *r)
{
  free(r->providers);
  free(r->tools);
  memset(r, 0, sizeof *r);
}

int pt_registry_valid_id(const char *id)
{
  if (!id) return 0;
  size_t n = 0;
  for (const char *p = id; *p; p++, n++) {
    if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
      return 0;
  }
  return n >= 1 && n <= 63;
}

static int grow(void **items, size_t *cap, size_t count, size_t size)
{
  if (count < *cap) return 0;
  size_t ncap = *cap ? *cap * 2 : 8;
  void *p = realloc(*items, ncap * size);
  if (!p) return -1;
  *items = p;
  *cap = ncap;
  return 0;
}

const pt_provider_entry *pt_registry_provider(const pt_registry *r,
                                              const char *id)
{
  for (size_t i = 0; i < r->provider_count; i++)
    if (strcmp(r->providers[i].vt->id, id) == 0) return &r->providers[i];
  return NULL;
}

const pt_tool_entry *pt_registry_tool(const pt_registry *r, const char *name)
{
  for (size_t i = 0; i < r->tool_count; i++)
    if (strcmp(r->tools[i].vt->name, name) == 0) return &r->tools[i];
  return NULL;
}

int32_t pt_registry_add_provider(pt_registry *r, const pt_provider_vt *vt,
                                 void *self, pt_host *plugin, pt_host **owner)
{
  const pt_provider_entry *taken = pt_registry_provider(r, vt->id);
  if (taken) {
    if (owner) *owner = taken->plugin;
    return PT_EEXIST;
  }
  if (grow((void **)&r->providers, &r->provider_cap, r->provider_count,
           sizeof *r->providers) != 0)
    return PT_ENOMEM;
  r->providers[r->provider_count++] = (pt_provider_entry){ vt, self, plugin };
  return PT_OK;
}

int32_t pt_registry_add_tool(pt_registry *r, const pt_tool_vt *vt, void *self,
                             pt_host *plugin, pt_host **owner)
{
  const pt_tool_entry *taken = pt_registry_tool(r, vt->name);
  if (taken) {
    if (owner) *owner = taken->plugin;
    return PT_EEXIST;
  }
  if (grow((void **)&r->tools, &r->tool_cap, r->tool_count, sizeof *r->tools)
      != 0)
    return PT_ENOMEM;
  r->tools[r->tool_count++] = (pt_tool_entry){ vt, self, plugin };
  return PT_OK;
}

void pt_registry_remove_plugin(pt_registry *r, pt_host *plugin)
{
  size_t keep = 0;
  for (size_t i = 0; i < r->provider_count; i++)
    if (r->providers[i].plugin != plugin) r->providers[keep++] = r->providers[i];
  r->provider_count = keep;
  keep = 0;
  for (size_t i = 0; i < r->tool_count; i++)
    if (r->tools[i].plugin != plugin) r->tools[keep++] = r->tools[i];
  r->tool_count = keep;
}
