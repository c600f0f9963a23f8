/*
 * tests/test_provider_conformance.c: every bundled provider passes the
 * SDK's provider checker (sdk/testkit/provider_check.c) against a fake of
 * its API on loopback: one DONE per chat, cancel at every point, many at
 * once, unload mid-stream.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "check.h"
#include "fake_anthropic.h"
#include "fake_http.h"
#include "fake_ollama.h"
#include "fake_openai.h"
#include "harness.h"

static char out[65536];
static fake_http *server;
static char *dir;

static void serve(void *ud, const fake_http_request *req,
                  fake_http_response *res)
{
  if (strstr(req->path, "/v1/messages"))
    fake_anthropic_stream_deltas(res, 40);
  else if (strstr(req->path, "/chat/completions"))
    fake_openai_stream_deltas(res, 40);
  else if (strstr(req->path, "/responses"))
    fake_openai_responses_stream_deltas(res, 40);
  else if (strstr(req->path, "/api/chat"))
    fake_ollama_stream_deltas(res, 40);
  else
    fake_http_respond(res, 404, "application/json", "{}");
}

/* Run the checker on bundled plugin `so` with `settings` (Lua table
 * fields for plugins.NAME, the base URL added). Returns its exit code. */
static int check_provider(const char *name, const char *model,
                          const char *url_path, const char *settings)
{
  char lua[2048];
  snprintf(lua, sizeof lua,
           "return { default_model = '%s', plugins = { %s = { base_url = "
           "'http://127.0.0.1:%d%s', api_key = 'test-key', %s } } }\n",
           model, name, fake_http_port(server), url_path, settings);
  char *config = h_write_config(dir, lua);
  char cmd[8192];
  snprintf(cmd, sizeof cmd,
           "\"$(dirname '%s')/portico-provider-check\" --config '%s' "
           "--timeout-ms 10000 '%s/%s.so' 2>&1",
           getenv("PORTICO_BIN"), config, getenv("PORTICO_BUNDLED_PLUGIN_DIR"),
           name);
  free(config);
  FILE *p = popen(cmd, "r");
  size_t n = fread(out, 1, sizeof out - 1, p);
  out[n] = '\0';
  int status = pclose(p);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    fprintf(stderr, "%s", out);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void claude_keeps_the_completion_rules(void)
{
  CHECK_INT(check_provider("claude", "claude-sonnet-4-5", "", ""), ==, 0);
  CHECK_CONTAINS(out, "9 passed, 0 failed");
}

static void openai_chat_completions_keeps_the_completion_rules(void)
{
  CHECK_INT(check_provider("openai", "gpt-4.1", "/v1", ""), ==, 0);
  CHECK_CONTAINS(out, "9 passed, 0 failed");
}

static void openai_responses_keeps_the_completion_rules(void)
{
  CHECK_INT(check_provider("openai", "gpt-4.1", "/v1", "api = 'responses'"),
            ==, 0);
  CHECK_CONTAINS(out, "9 passed, 0 failed");
}

static void ollama_keeps_the_completion_rules(void)
{
  CHECK_INT(check_provider("ollama", "llama3.2", "", ""), ==, 0);
  CHECK_CONTAINS(out, "9 passed, 0 failed");
}

int main(void)
{
  server = fake_http_start(serve, NULL);
  dir = h_tempdir();
  RUN(claude_keeps_the_completion_rules);
  RUN(openai_chat_completions_keeps_the_completion_rules);
  RUN(openai_responses_keeps_the_completion_rules);
  RUN(ollama_keeps_the_completion_rules);
  fake_http_stop(server);
  h_rmtree(dir);
  free(dir);
  return check_report();
}
