/*
 * tests/plugins/bad_plugin.c: one broken plugin per BAD_* definition, each
 * a way a real plugin goes wrong that the loader must refuse.
 */
#include <portico/plugin.h>

static inline int32_t ok_init(pt_host *h, const pt_host_api *api)
{
  return PT_OK;
}

#if defined(BAD_WRONG_MAJOR_SYMBOL)
/* Built by a future SDK: the entry symbol itself carries major 2. */
PT_EXPORT extern const pt_plugin_desc portico_plugin_v2;
const pt_plugin_desc portico_plugin_v2 = {
  sizeof(pt_plugin_desc), 2, 0, 0, "future", "2.0.0", "MIT", "", ok_init, 0,
  { 0 }
};
#elif defined(BAD_WRONG_MAJOR_FIELD)
PT_EXPORT extern const pt_plugin_desc portico_plugin_v1;
const pt_plugin_desc portico_plugin_v1 = {
  sizeof(pt_plugin_desc), 2, 0, 0, "major-two", "1.0.0", "MIT", "", ok_init,
  0, { 0 }
};
#elif defined(BAD_TOO_NEW_MINOR)
PT_EXPORT extern const pt_plugin_desc portico_plugin_v1;
const pt_plugin_desc portico_plugin_v1 = {
  sizeof(pt_plugin_desc), PT_ABI_MAJOR, PT_ABI_MINOR + 7, PT_ABI_MINOR + 7,
  "too-new", "1.0.0", "MIT", "", ok_init, 0, { 0 }
};
#elif defined(BAD_NO_ENTRY)
PT_EXPORT int not_a_plugin(void);
int not_a_plugin(void)
{
  return 42;
}
#elif defined(BAD_INIT_FAILS)
static int32_t failing_init(pt_host *h, const pt_host_api *api)
{
  return api->set_error(h, PT_ECONFIG,
                        "plugins.init-fails.api_key is not set");
}
PT_PLUGIN("init-fails", "1.0.0", "MIT", "", failing_init, 0);
#elif defined(BAD_UNRESOLVED)
/* Defined nowhere: with RTLD_NOW the load fails instead of a later call. */
extern int portico_test_symbol_that_does_not_exist(void);
static int32_t unresolved_init(pt_host *h, const pt_host_api *api)
{
  return portico_test_symbol_that_does_not_exist();
}
PT_PLUGIN("unresolved", "1.0.0", "MIT", "", unresolved_init, 0);
#elif defined(BAD_BAD_NAME)
PT_PLUGIN("Bad Name", "1.0.0", "MIT", "", ok_init, 0);
#else
#error "define one BAD_* kind"
#endif
