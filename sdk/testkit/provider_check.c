/*
 * sdk/testkit/provider_check.c: `portico-provider-check`, the conformance
 * check any provider plugin can be run through, bundled or third-party.
 *
 *   portico-provider-check [--provider ID] [--model MODEL] [--request FILE]
 *                          [--config FILE] [--timeout-ms N] PLUGIN.so
 *
 * It loads PLUGIN.so with the real loader and drives each provider it
 * registers (or only ID) through the completion rules of the ABI: exactly
 * one PT_EV_DONE per chat and nothing after it, cancel before the first
 * byte, in the middle of the stream (from inside an event callback), twice,
 * and after the end, many chats at once, a malformed request, and an unload
 * while a chat streams. Completed operations are kept alive while it runs,
 * so a late event is counted rather than written to freed memory; built
 * with the sanitizers, it also catches what the plugin does to its own
 * memory.
 *
 * The provider must reach a server that answers: point it at its real API
 * or at a fake one through --config (plugins.NAME.base_url). Prints one
 * line per case and "N passed, N failed"; exits 0 only when all passed.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel.h"
#include "loader.h"
#include "log.h"
#include "ops.h"
#include "plugin_host.h"

typedef struct run {
  int events_before_done;
  int dones;
  int32_t status;
  uint32_t stop;
  char message[512];
  pt_op_impl *op;
  int cancel_on_first_event;  /* cancel this many times in the first event */
  int cancelled_in_event;
} run;

static pt_kernel *k;
static const char *provider;
static char *request;
static uint64_t timeout_ms = 30000;
static int passed, failed;

static void on_event(void *ud, const pt_chat_event *ev)
{
  run *r = ud;
  if (ev->kind == PT_EV_DONE) {
    r->dones++;
    r->status = ev->status;
    r->stop = ev->stop;
    snprintf(r->message, sizeof r->message, "%.*s", (int)ev->text.len,
             ev->text.ptr);
    return;
  }
  if (r->dones) return; /* the host drops these; counted as violations */
  r->events_before_done++;
  if (r->cancel_on_first_event && !r->cancelled_in_event &&
      (ev->kind == PT_EV_TEXT || ev->kind == PT_EV_THINKING ||
       ev->kind == PT_EV_TOOL_CALL_START)) {
    r->cancelled_in_event = 1;
    for (int i = 0; i < r->cancel_on_first_event; i++) pt_op_cancel(r->op);
  }
}

static uint64_t now_ms(void)
{
  return uv_hrtime() / 1000000;
}

static void spin_until_done(run *runs, int n)
{
  uint64_t deadline = now_ms() + timeout_ms;
  for (;;) {
    int open = 0;
    for (int i = 0; i < n; i++) open += runs[i].dones == 0;
    if (!open || now_ms() > deadline) return;
    pt_kernel_spin(k, 5);
  }
}

/* Let late events, if any, arrive. */
static void settle(void)
{
  uint64_t until = now_ms() + 200;
  while (now_ms() < until) pt_kernel_spin(k, 10);
}

static int32_t start(run *r, const char *req)
{
  pt_op_sink sink = { .on_event = on_event, .ud = r };
  return pt_op_chat(k, provider, (pt_str){ req, strlen(req) }, NULL, &sink,
                    &r->op);
}

static void report(const char *name, const char *fmt, ...)
    PT_PRINTF(2, 3);

static void report(const char *name, const char *fmt, ...)
{
  if (!fmt) {
    printf("ok   %s\n", name);
    passed++;
  } else {
    va_list ap;
    va_start(ap, fmt);
    printf("FAIL %s: ", name);
    vprintf(fmt, ap);
    putchar('\n');
    va_end(ap);
    failed++;
  }
  fflush(stdout);
}

/* The shared verdict: exactly one DONE, no late calls, and the stop. */
static const char *verdict(const run *r, uint64_t violations_before,
                           int want_cancelled, char *buf, size_t cap)
{
  if (r->dones != 1)
    snprintf(buf, cap, "%d DONE events (must be exactly 1)", r->dones);
  else if (k->op_violations != violations_before)
    snprintf(buf, cap, "the plugin called emit/op_done after DONE");
  else if (want_cancelled && r->stop != PT_STOP_CANCELLED)
    snprintf(buf, cap, "ended with stop %u status %s (%s), not cancelled",
             r->stop, pt_errname(r->status), r->message);
  else
    return NULL;
  return buf;
}

static void check_completes_once(int *streams)
{
  char why[600];
  uint64_t v0 = k->op_violations;
  run r = { 0 };
  int32_t rc = start(&r, request);
  if (rc < 0) {
    report("completes_once", "chat() refused the request: %s",
           pt_strerror(rc));
    return;
  }
  spin_until_done(&r, 1);
  settle();
  const char *bad = verdict(&r, v0, 0, why, sizeof why);
  if (!bad && r.status < 0)
    bad = (snprintf(why, sizeof why,
                    "the chat failed (%s: %s); point the provider at a "
                    "server that answers (--config)",
                    pt_errname(r.status), r.message),
           why);
  report("completes_once", bad ? "%s" : NULL, bad);
  *streams = r.events_before_done > 0;
}

static void check_cancel(const char *name, int when)
{
  char why[600];
  uint64_t v0 = k->op_violations;
  /* Cancels in the middle of the stream happen inside the first event's
   * callback: the one moment that is mid-stream however fast the server
   * is, and the hardest for a provider (it is inside its own parser). */
  run r = { .cancel_on_first_event = when == 1 ? 1 : when == 2 ? 2 : 0 };
  if (start(&r, request) < 0) {
    report(name, "chat() refused the request");
    return;
  }
  if (when == 0) pt_op_cancel(r.op);
  spin_until_done(&r, 1);
  if (when == 3 && r.dones) {
    /* After the end: the host must not pass it on, nothing may follow. */
    pt_op_cancel(r.op);
    pt_op_cancel(r.op);
  }
  settle();
  const char *bad = verdict(&r, v0, when != 3, why, sizeof why);
  report(name, bad ? "%s" : NULL, bad);
}

static void check_concurrent(void)
{
  enum { N = 16 };
  char why[600];
  uint64_t v0 = k->op_violations;
  run rs[N];
  memset(rs, 0, sizeof rs);
  for (int i = 0; i < N; i++) {
    if (start(&rs[i], request) < 0) {
      report("many_at_once", "chat() refused request %d", i);
      return;
    }
  }
  spin_until_done(rs, N);
  settle();
  for (int i = 0; i < N; i++) {
    const char *bad = verdict(&rs[i], v0, 0, why, sizeof why);
    if (bad || rs[i].status < 0) {
      report("many_at_once", "chat %d of %d: %s", i + 1, N,
             bad ? bad : rs[i].message);
      return;
    }
  }
  report("many_at_once", NULL);
}

static void check_malformed_request(void)
{
  char why[600];
  uint64_t v0 = k->op_violations;
  run r = { 0 };
  int32_t rc = start(&r, "{\"messages\": 7}");
  if (rc < 0) {
    settle();
    report("malformed_request",
           r.dones || r.events_before_done
               ? "chat() returned an error and still emitted events"
               : NULL);
    return;
  }
  spin_until_done(&r, 1);
  settle();
  /* Refusing it is expected, but the rule checked is the ending. */
  const char *bad = verdict(&r, v0, 0, why, sizeof why);
  report("malformed_request", bad ? "%s" : NULL, bad);
}

static void check_unload_mid_stream(pt_host *h)
{
  run r = { 0 };
  if (start(&r, request) < 0) {
    report("unload_mid_stream", "chat() refused the request");
    return;
  }
  uint64_t deadline = now_ms() + timeout_ms;
  while (!r.events_before_done && !r.dones && now_ms() < deadline)
    pt_kernel_spin(k, 1);
  char name[64];
  snprintf(name, sizeof name, "%s", h->desc->name); /* h goes with it */
  pt_loader_unload(h);
  deadline = now_ms() + timeout_ms;
  while (pt_loader_find(k, name) && now_ms() < deadline)
    pt_kernel_spin(k, 5);
  if (pt_loader_find(k, name))
    report("unload_mid_stream", "the plugin did not finish unloading");
  else if (r.dones != 1)
    report("unload_mid_stream", "%d DONE events (must be exactly 1)",
           r.dones);
  else if (k->abandoned)
    report("unload_mid_stream", "the chat was not ended after cancel");
  else
    report("unload_mid_stream", NULL);
}

static char *read_file(const char *path)
{
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = malloc((size_t)n + 1);
  if (buf && fread(buf, 1, (size_t)n, f) == (size_t)n) buf[n] = '\0';
  fclose(f);
  return buf;
}

static const char usage[] =
    "usage: portico-provider-check [--provider ID] [--model MODEL]\n"
    "       [--request FILE] [--config FILE] [--timeout-ms N] PLUGIN.so\n";

int main(int argc, char **argv)
{
  const char *plugin = NULL, *model = NULL, *request_file = NULL;
  pt_kernel_options o = { 0 };
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      fputs(usage, stdout);
      return 0;
    } else if (!strcmp(a, "--provider") && v) provider = argv[++i];
    else if (!strcmp(a, "--model") && v) model = argv[++i];
    else if (!strcmp(a, "--request") && v) request_file = argv[++i];
    else if (!strcmp(a, "--config") && v) o.config_path = argv[++i];
    else if (!strcmp(a, "--timeout-ms") && v) timeout_ms = strtoull(argv[++i], NULL, 10);
    else if (a[0] != '-' && !plugin) plugin = a;
    else {
      fprintf(stderr, "portico-provider-check: unexpected '%s'\n%s", a, usage);
      return 2;
    }
  }
  if (!plugin) {
    fputs(usage, stderr);
    return 2;
  }
  pt_log_set_level(PT_LOG_WARN);
  o.no_default_plugins = 1;
  o.keep_completed_ops = 1;
  char err[1024] = "";
  if (pt_kernel_new(&o, &k, err, sizeof err) != PT_OK) {
    fprintf(stderr, "portico-provider-check: %s\n", err);
    return 1;
  }
  int32_t rc = pt_loader_load(k, plugin);
  pt_host *h = k->plugins;
  if (rc < 0 || !h) {
    report("loads", "%s", k->refusals ? k->refusals->reason : pt_strerror(rc));
    pt_kernel_free(k);
    printf("%d passed, %d failed\n", passed, failed);
    return 1;
  }
  report("loads", NULL);
  if (!provider) {
    for (size_t i = 0; i < h->reg_count && !provider; i++)
      if (!h->regs[i].is_tool)
        provider = ((const pt_provider_vt *)h->regs[i].vt)->id;
  }
  if (!model) model = pt_config_default_model(k->config);
  if (!provider || !model) {
    fprintf(stderr, "portico-provider-check: %s\n",
            !provider ? "the plugin registers no provider"
                      : "which model? pass --model or set default_model");
    pt_kernel_free(k);
    return 1;
  }
  if (request_file) {
    request = read_file(request_file);
    if (!request) {
      fprintf(stderr, "portico-provider-check: cannot read %s\n",
              request_file);
      pt_kernel_free(k);
      return 1;
    }
  } else {
    size_t n = strlen(model) + 200;
    request = malloc(n);
    snprintf(request, n,
             "{\"model\":\"%s\",\"max_tokens\":200,\"messages\":[{\"role\":"
             "\"user\",\"content\":\"Count from 1 to 20.\"}]}",
             model);
  }
  printf("checking provider %s of %s\n", provider, plugin);
  int streams = 0;
  check_completes_once(&streams);
  check_cancel("cancel_before_first_byte", 0);
  if (streams) {
    check_cancel("cancel_inside_first_event", 1);
    check_cancel("cancel_twice_mid_stream", 2);
  } else {
    printf("skip cancel_inside_first_event, cancel_twice_mid_stream: the "
           "reply streamed no event before DONE\n");
  }
  check_cancel("cancel_after_done", 3);
  check_concurrent();
  check_malformed_request();
  if (streams) check_unload_mid_stream(h);
  pt_kernel_free(k);
  free(request);
  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
