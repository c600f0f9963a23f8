/*
 * bench/bench_providers.c: what a streamed delta costs, per provider.
 *
 *   bench_providers [DELTAS]
 *
 * A child process serves each provider's wire format from loopback (the
 * test fakes: Anthropic SSE, OpenAI Chat Completions and Responses SSE,
 * Ollama NDJSON), DELTAS text deltas per reply (default 100000), written in
 * large pieces so the client is the bottleneck. This process runs the real
 * kernel with the bundled plugins and measures, per provider, the loop
 * thread's CPU time from request to DONE divided by the deltas (socket read,
 * HTTP, framing, JSON, normalized event, the sink), the wall time, and the
 * peak resident memory while streaming (VmHWM, reset before each run). The
 * server runs in another process so its buffers do not count.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_support.h"
#include "fake_anthropic.h"
#include "fake_http.h"
#include "fake_ollama.h"
#include "fake_openai.h"
#include "harness.h"
#include "ops.h"

static int deltas = 100000;

static void serve(void *ud, const fake_http_request *req,
                  fake_http_response *res)
{
  if (strstr(req->path, "/v1/messages"))
    fake_anthropic_stream_deltas(res, deltas);
  else if (strstr(req->path, "/chat/completions"))
    fake_openai_stream_deltas(res, deltas);
  else if (strstr(req->path, "/responses"))
    fake_openai_responses_stream_deltas(res, deltas);
  else if (strstr(req->path, "/api/chat"))
    fake_ollama_stream_deltas(res, deltas);
  else
    fake_http_respond(res, 404, "text/plain", "no such route");
}

typedef struct counter {
  long texts;
  size_t bytes;
  int done;
  int32_t status;
  char message[256];
} counter;

static void on_event(void *ud, const pt_chat_event *ev)
{
  counter *c = ud;
  if (ev->kind == PT_EV_TEXT) {
    c->texts++;
    c->bytes += ev->text.len;
  } else if (ev->kind == PT_EV_DONE) {
    c->done = 1;
    c->status = ev->status;
    snprintf(c->message, sizeof c->message, "%.*s", (int)ev->text.len,
             ev->text.ptr);
  }
}

static void run(pt_kernel *k, const char *label, const char *provider,
                const char *model)
{
  char req[256];
  snprintf(req, sizeof req,
           "{\"model\":\"%s\",\"messages\":[{\"role\":\"user\",\"content\":"
           "\"go\"}]}",
           model);
  counter c = { 0 };
  pt_op_sink sink = { .on_event = on_event, .ud = &c };
  bench_reset_hwm();
  double cpu0 = bench_clock_us(CLOCK_THREAD_CPUTIME_ID) / 1e3;
  uint64_t wall0 = uv_hrtime();
  if (pt_op_chat(k, provider, (pt_str){ req, strlen(req) }, NULL, &sink,
                 NULL) != PT_OK) {
    printf("%-22s could not start\n", label);
    return;
  }
  while (!c.done) uv_run(&k->loop, UV_RUN_ONCE);
  double cpu = bench_clock_us(CLOCK_THREAD_CPUTIME_ID) / 1e3 - cpu0;
  double wall = (double)(uv_hrtime() - wall0) / 1e6;
  if (c.status < 0) {
    printf("%-22s failed: %s\n", label, c.message);
    return;
  }
  printf("%-22s %7ld deltas  %7.0f ns CPU/delta  %7.1f ms CPU  %7.1f ms "
         "wall  peak RSS %5.1f MiB\n",
         label, c.texts, c.texts ? cpu * 1e6 / (double)c.texts : 0.0, cpu,
         wall, (double)bench_status_kib("VmHWM") / 1024.0);
  fflush(stdout);
}

int main(int argc, char **argv)
{
  if (argc > 1) deltas = atoi(argv[1]);
  if (deltas < 1) deltas = 1;
  int port, keepalive;
  pid_t server = bench_server_start("bench_providers", serve, &port, &keepalive);

  char *dir = h_tempdir();
  char cfg[2048];
  snprintf(cfg, sizeof cfg,
           "local url = 'http://127.0.0.1:%d'\n"
           "return { plugins = {\n"
           "  claude = { base_url = url, api_key = 'bench' },\n"
           "  openai = { base_url = url .. '/v1', api_key = 'bench' },\n"
           "  ollama = { base_url = url },\n"
           "} }\n",
           port);
  char *config = h_write_config(dir, cfg);
  const char *bundled = getenv("PORTICO_BUNDLED_PLUGIN_DIR");
  const char *dirs[] = { bundled ? bundled : PORTICO_BENCH_PLUGIN_DIR };
  pt_kernel_options o = { .config_path = config, .plugin_dirs = dirs,
                          .plugin_dir_count = 1, .no_default_plugins = 1 };
  pt_kernel *k = NULL;
  char err[512];
  if (pt_kernel_new(&o, &k, err, sizeof err) != PT_OK) {
    fprintf(stderr, "bench_providers: %s\n", err);
    return 1;
  }
  printf("provider streaming, %d text deltas per reply, loopback server in "
         "another process\n", deltas);
  run(k, "claude (SSE)", "claude", "claude-sonnet-4-5");
  run(k, "openai chat (SSE)", "openai", "gpt-4.1");
  run(k, "ollama (NDJSON)", "ollama", "llama3.2");
  pt_kernel_free(k);
  bench_server_stop(server, keepalive);
  h_rmtree(dir);
  free(dir);
  free(config);
  return 0;
}
