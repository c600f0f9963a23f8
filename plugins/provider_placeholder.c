/*
 * plugins/provider_placeholder.c: the registration half of a provider
 * plugin, built once per bundled provider (claude, openai, ollama) with
 * PROVIDER_ID, PROVIDER_DESCRIPTION and KEY_ENV set by CMake.
 *
 * It registers the provider id so that configuration, listings and the
 * loader see the real set of bundled providers, and looks up the API key
 * through the host's secret service so a missing key shows in `-vv` logs.
 * Streaming chat lives in each provider's own directory once written;
 * until then chat() answers PT_ENOTSUP rather than pretending.
 */
#include <portico/plugin.h>

static const pt_host_api *api;
static pt_host *host;

static int32_t placeholder_chat(void *self, pt_op *op, pt_str request_json)
{
  api->log(host, PT_LOG_WARN,
           "the %s provider cannot chat in this build of portico",
           PROVIDER_ID);
  return PT_ENOTSUP;
}

static void placeholder_cancel(void *self, pt_op *op)
{
}

static const pt_provider_vt provider_vt = {
  .struct_size = sizeof(pt_provider_vt),
  .id = PROVIDER_ID,
  .description = PROVIDER_DESCRIPTION,
  .chat = placeholder_chat,
  .cancel = placeholder_cancel,
};

static int32_t placeholder_init(pt_host *h, const pt_host_api *host_api)
{
  api = host_api;
  host = h;
  pt_str key;
  int has_key = KEY_ENV[0] == '\0' ||
                api->secret(h, "api_key", KEY_ENV, &key) == PT_OK;
  api->log(h, PT_LOG_DEBUG, "API key %s", has_key ? "found" : "not set");
  return api->add_provider(h, &provider_vt, NULL);
}

PT_PLUGIN(PROVIDER_ID, PORTICO_VERSION, "Apache-2.0", PROVIDER_DESCRIPTION,
          placeholder_init, NULL);
