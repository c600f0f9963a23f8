/*
 * tests/test_loader.c: the plugin loader through real .so files: what it
 * accepts, what it refuses and why, hot load, and unload while operations
 * are in flight.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "harness.h"
#include "loader.h"
#include "ops.h"
#include "plugin_host.h"

/* What one chat reported, in order, plus a shared trace line. */
typedef struct chat_log {
  char text[4096];
  size_t len;
  int done;
  int32_t status;
  uint32_t stop;
  uint64_t out_tokens;
  h_events *trace;       /* when set, "done <status>" is appended there */
} chat_log;

static void on_chat_event(void *ud, const pt_chat_event *ev)
{
  chat_log *c = ud;
  if (ev->kind == PT_EV_TEXT && c->len + ev->text.len < sizeof c->text) {
    memcpy(c->text + c->len, ev->text.ptr, ev->text.len);
    c->len += ev->text.len;
    c->text[c->len] = '\0';
  } else if (ev->kind == PT_EV_USAGE) {
    c->out_tokens = ev->output_tokens;
  } else if (ev->kind == PT_EV_DONE) {
    c->done++;
    c->status = ev->status;
    c->stop = ev->stop;
    if (c->trace) {
      h_events *t = c->trace;
      t->len += (size_t)snprintf(t->text + t->len, sizeof t->text - t->len,
                                 "done %s\n", pt_errname(ev->status));
    }
  }
}

typedef struct tool_log {
  int done;
  int32_t status;
  char result[1024];
} tool_log;

static void on_tool_done(void *ud, int32_t status, pt_str result)
{
  tool_log *t = ud;
  t->done++;
  t->status = status;
  snprintf(t->result, sizeof t->result, "%.*s", (int)result.len, result.ptr);
}

static int has_refusal(pt_kernel *k, const char *file, const char *why)
{
  for (pt_refusal *r = k->refusals; r; r = r->next) {
    const char *base = strrchr(r->path, '/');
    if (strcmp(base ? base + 1 : r->path, file) != 0) continue;
    if (strstr(r->reason, why)) return 1;
    fprintf(stderr, "  refusal of %s says: %s\n", file, r->reason);
    return 0;
  }
  fprintf(stderr, "  %s was not refused\n", file);
  return 0;
}

static size_t refusal_count(pt_kernel *k)
{
  size_t n = 0;
  for (pt_refusal *r = k->refusals; r; r = r->next) n++;
  return n;
}

static void loads_plugins_and_registers_what_they_offer(void)
{
  char *dir = h_tempdir();
  h_copy_plugin("echo.so", dir, NULL);
  h_copy_plugin("probe.so", dir, NULL);
  const char *dirs[] = { dir };
  pt_kernel_options o = h_options(dirs, NULL, NULL);
  pt_kernel *k = h_kernel(&o);
  CHECK(pt_loader_find(k, "echo") != NULL);
  CHECK(pt_loader_find(k, "probe") != NULL);
  CHECK(pt_registry_provider(&k->registry, "test_echo") != NULL);
  CHECK(pt_registry_tool(&k->registry, "test_sleep") != NULL);
  CHECK(pt_registry_tool(&k->registry, "test_probe") != NULL);
  CHECK_INT(refusal_count(k), ==, 0);
  pt_kernel_free(k);
  h_rmtree(dir);
  free(dir);
}

static void every_refusal_names_its_reason_and_the_rest_still_load(void)
{
  char *dir = h_tempdir();
  const char *bad[] = { "bad_wrong_major_symbol.so", "bad_wrong_major_field.so",
                        "bad_too_new_minor.so",      "bad_no_entry.so",
                        "bad_init_fails.so",         "bad_unresolved.so",
                        "bad_bad_name.so" };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    h_copy_plugin(bad[i], dir, NULL);
  h_copy_plugin("echo.so", dir, NULL);
  h_copy_plugin("echo_dup_id.so", dir, NULL);
  h_copy_plugin("probe.so", dir, "writable.so");
  char path[4096];
  snprintf(path, sizeof path, "%s/writable.so", dir);
  chmod(path, 0666);
  unsigned char noise[4096];
  srand(7);
  for (size_t i = 0; i < sizeof noise; i++) noise[i] = (unsigned char)rand();
  h_write_file(dir, "x.so", noise, sizeof noise, 0755);
  h_write_file(dir, "empty.so", "", 0, 0755);

  const char *dirs[] = { dir };
  pt_kernel_options o = h_options(dirs, NULL, NULL);
  pt_kernel *k = h_kernel(&o);

  CHECK(has_refusal(k, "bad_wrong_major_symbol.so", "built for plugin ABI 2"));
  CHECK(has_refusal(k, "bad_wrong_major_field.so",
                    "built for ABI 2.0, this portico speaks 1.0; rebuild"));
  CHECK(has_refusal(k, "bad_too_new_minor.so",
                    "needs a host with ABI 1.7 or newer"));
  CHECK(has_refusal(k, "bad_no_entry.so", "no portico_plugin_v1 symbol"));
  CHECK(has_refusal(k, "bad_init_fails.so",
                    "init failed with ECONFIG: plugins.init-fails.api_key is "
                    "not set"));
  CHECK(has_refusal(k, "bad_unresolved.so", "undefined symbol"));
  CHECK(has_refusal(k, "bad_bad_name.so", "'Bad Name' is not 1-63"));
  CHECK(has_refusal(k, "echo_dup_id.so",
                    "provider id 'test_echo' is already provided by plugin "
                    "'echo'"));
  CHECK(has_refusal(k, "writable.so", "writable by every user (mode 0666)"));
  CHECK(has_refusal(k, "x.so", "not a loadable shared object"));
  CHECK(has_refusal(k, "empty.so", "not a loadable shared object"));
  CHECK_INT(refusal_count(k), ==, 11);

  /* The good plugin loaded, and its id stayed with it. */
  const pt_provider_entry *e = pt_registry_provider(&k->registry, "test_echo");
  CHECK(e && strcmp(e->plugin->desc->name, "echo") == 0);
  CHECK(pt_loader_find(k, "echo-dup") == NULL);

  /* Still fully working after all that. */
  chat_log c = { 0 };
  pt_op_sink sink = { .on_event = on_chat_event, .ud = &c };
  CHECK_INT(pt_op_chat(k, "test_echo", PT_STR_LIT("still here"), NULL, &sink,
                       NULL), ==, PT_OK);
  h_run_until(k, &c.done, 5000);
  CHECK_STR(c.text, "still here");
  pt_kernel_free(k);
  h_rmtree(dir);
  free(dir);
}

static void a_world_writable_folder_is_refused(void)
{
  char *dir = h_tempdir();
  h_copy_plugin("echo.so", dir, NULL);
  chmod(dir, 0777);
  const char *dirs[] = { dir };
  pt_kernel_options o = h_options(dirs, NULL, NULL);
  pt_kernel *k = h_kernel(&o);
  CHECK(has_refusal(k, "echo.so", "is writable by every user (mode 0777)"));
  CHECK(pt_loader_find(k, "echo") == NULL);
  pt_kernel_free(k);
  chmod(dir, 0755);
  h_rmtree(dir);
  free(dir);
}

static void a_second_plugin_with_the_same_name_is_refused(void)
{
  char *dir = h_tempdir();
  h_copy_plugin("echo.so", dir, "a.so");
  h_copy_plugin("echo.so", dir, "b.so");
  const char *dirs[] = { dir };
  pt_kernel_options o = h_options(dirs, NULL, NULL);
  pt_kernel *k = h_kernel(&o);
  CHECK(has_refusal(k, "b.so", "a plugin named 'echo' is already loaded"));
  CHECK(pt_loader_find(k, "echo") != NULL);
  pt_kernel_free(k);
  h_rmtree(dir);
  free(dir);
}

static void a_chat_streams_through_the_abi(void)
{
  char *dir = h_tempdir();
  h_copy_plugin("echo.so", dir, NULL);
  const char *dirs[] = { dir };
  pt_kernel_options o = h_options(dirs, NULL, NULL);
  pt_kernel *k = h_kernel(&o);
  chat_log c = { 0 };
  pt_op_sink sink = { .on_event = on_chat_event, .ud = &c };
  const char *text = "Ünïcödé survives 4-byte pieces 😀!";
  CHECK_INT(pt_op_chat(k, "test_echo", (pt_str){ text, strlen(text) }, NULL,
                       &sink, NULL), ==, PT_OK);
  CHECK_INT(c.done, ==, 0); /* nothing completes inside the call */
  h_run_until(k, &c.done, 5000);
  CHECK_INT(c.done, ==, 1);
  CHECK_STR(c.text, text);
  CHECK_INT(c.status, ==, PT_OK);
  CHECK_INT(c.stop, ==, PT_STOP_END_TURN);
  CHECK_INT(c.out_tokens, ==, strlen(text));
  CHECK_INT(pt_op_chat(k, "nope", PT_STR_LIT("x"), NULL, &sink, NULL), ==,
            PT_ENOENT);

  tool_log t = { 0 };
  pt_op_sink models = { .on_done = on_tool_done, .ud = &t };
  CHECK_INT(pt_op_models(k, "test_echo", &models, NULL), ==, PT_OK);
  h_run_until(k, &t.done, 5000);
  CHECK_STR(t.result, "[{\"id\":\"echo-1\"}]");
  pt_kernel_free(k);
  h_rmtree(dir);
  free(dir);
}

static void cancelling_a_chat_ends_it_once_as_cancelled(void)
{
  char *dir = h_tempdir();
  h_copy_plugin("echo.so", dir, NULL);
  const char *dirs[] = { dir };
  pt_kernel_options o = h_options(dirs, NULL, NULL);
  pt_kernel *k = h_kernel(&o);
  chat_log c = { 0 };
  pt_op_sink sink = { .on_event = on_chat_event, .ud = &c };
  pt_op_impl *op = NULL;
  CHECK_INT(pt_op_chat(k, "test_echo", PT_STR_LIT("hang on"), NULL, &sink,
                       &op), ==, PT_OK);
  pt_kernel_spin(k, 20);
  CHECK_INT(c.done, ==, 0);
  pt_op_cancel(op);
  pt_op_cancel(op);
  h_run_until(k, &c.done, 5000);
  pt_kernel_spin(k, 20);
  CHECK_INT(c.done, ==, 1);
  CHECK_INT(c.status, ==, PT_ECANCELED);
  CHECK_INT(c.stop, ==, PT_STOP_CANCELLED);
  pt_kernel_free(k);
  h_rmtree(dir);
  free(dir);
}

static void host_services_work_from_a_plugin(void)
{
  char *dir = h_tempdir();
  h_copy_plugin("probe.so", dir, NULL);
  char cfg[4200];
  snprintf(cfg, sizeof cfg, "%s/config.lua", dir);
  FILE *f = fopen(cfg, "w");
  fputs("return { plugins = { probe = { api_key = 'from-config-1234', "
        "depth = 3 } } }\n",
        f);
  fclose(f);
  const char *dirs[] = { dir };
  pt_kernel_options o = h_options(dirs, NULL, cfg);
  pt_kernel *k = h_kernel(&o);

  tool_log t = { 0 };
  pt_op_sink sink = { .on_done = on_tool_done, .ud = &t };
  CHECK_INT(pt_op_tool(k, "test_probe", PT_STR_LIT("\"config\""), NULL, &sink,
                       NULL), ==, PT_OK);
  h_run_until(k, &t.done, 5000);
  CHECK_CONTAINS(t.result, "\"api_key\":\"from-config-1234\"");
  CHECK_CONTAINS(t.result, "\"depth\":3");

  memset(&t, 0, sizeof t);
  CHECK_INT(pt_op_tool(k, "test_probe", PT_STR_LIT("\"secret\""), NULL, &sink,
                       NULL), ==, PT_OK);
  h_run_until(k, &t.done, 5000);
  CHECK_STR(t.result, "{\"found\":true,\"len\":16}");

  memset(&t, 0, sizeof t);
  CHECK_INT(pt_op_tool(k, "test_probe", PT_STR_LIT("\"post\""), NULL, &sink,
                       NULL), ==, PT_OK);
  h_run_until(k, &t.done, 5000);
  CHECK_STR(t.result, "{\"on_loop\":true}");

  memset(&t, 0, sizeof t);
  CHECK_INT(pt_op_tool(k, "test_sleep", PT_STR_LIT("{\"ms\":20}"), NULL, &sink,
                       NULL), ==, PT_OK);
  h_run_until(k, &t.done, 5000);
  CHECK_INT(t.status, ==, PT_OK);
  CHECK_STR(t.result, "{\"slept\":20}");
  pt_kernel_free(k);
  h_rmtree(dir);
  free(dir);
}

static void a_plugin_dropped_into_a_watched_folder_loads_within_a_second(void)
{
  char *dir = h_tempdir();
  h_events ev = { 0 };
  const char *dirs[] = { dir };
  pt_kernel_options o = h_options(dirs, &ev, NULL);
  o.watch = 1;
  pt_kernel *k = h_kernel(&o);
  CHECK(pt_loader_find(k, "echo") == NULL);
  uint64_t t0 = h_now_ms();
  h_copy_plugin("echo.so", dir, NULL);
  int loaded = 0;
  while (!loaded && h_now_ms() - t0 < 3000) {
    pt_kernel_spin(k, 5);
    loaded = pt_loader_find(k, "echo") != NULL;
  }
  uint64_t took = h_now_ms() - t0;
  CHECK(loaded);
  CHECK_INT(took, <, 1000);
  CHECK_CONTAINS(ev.text, "loaded echo echo.so");

  /* A broken file dropped in is refused and reported, nothing else. */
  h_write_file(dir, "junk.so", "not elf", 7, 0755);
  t0 = h_now_ms();
  while (!strstr(ev.text, "refused - junk.so") && h_now_ms() - t0 < 3000)
    pt_kernel_spin(k, 5);
  CHECK_CONTAINS(ev.text, "refused - junk.so: not a loadable shared object");
  CHECK(pt_loader_find(k, "echo") != NULL);
  pt_kernel_free(k);
  h_rmtree(dir);
  free(dir);
}

static void removing_a_plugin_cancels_its_operations_before_unloading(void)
{
  char *dir = h_tempdir();
  h_copy_plugin("echo.so", dir, NULL);
  h_copy_plugin("probe.so", dir, NULL);
  h_events ev = { 0 };
  const char *dirs[] = { dir };
  pt_kernel_options o = h_options(dirs, &ev, NULL);
  o.watch = 1;
  pt_kernel *k = h_kernel(&o);

  chat_log c = { .trace = &ev };
  pt_op_sink sink = { .on_event = on_chat_event, .ud = &c };
  CHECK_INT(pt_op_chat(k, "test_echo", PT_STR_LIT("hang"), NULL, &sink, NULL),
            ==, PT_OK);
  tool_log t = { 0 };
  pt_op_sink tsink = { .on_done = on_tool_done, .ud = &t };
  CHECK_INT(pt_op_tool(k, "test_sleep", PT_STR_LIT("{\"ms\":60000}"), NULL,
                       &tsink, NULL), ==, PT_OK);
  pt_kernel_spin(k, 30);

  char path[4096];
  snprintf(path, sizeof path, "%s/echo.so", dir);
  unlink(path);
  snprintf(path, sizeof path, "%s/probe.so", dir);
  unlink(path);
  uint64_t t0 = h_now_ms();
  while ((pt_loader_find(k, "echo") || pt_loader_find(k, "probe")) &&
         h_now_ms() - t0 < 5000)
    pt_kernel_spin(k, 5);

  CHECK(pt_loader_find(k, "echo") == NULL);
  CHECK(pt_loader_find(k, "probe") == NULL);
  CHECK_INT(c.done, ==, 1);
  CHECK_INT(c.stop, ==, PT_STOP_CANCELLED);
  CHECK_INT(t.done, ==, 1);
  CHECK_INT(t.status, ==, PT_ECANCELED);
  /* The operation ended before the code went away. */
  const char *done = strstr(ev.text, "done ECANCELED");
  const char *gone = strstr(ev.text, "unloaded echo");
  CHECK(done && gone && done < gone);
  CHECK(pt_registry_provider(&k->registry, "test_echo") == NULL);
  pt_kernel_free(k);
  h_rmtree(dir);
  free(dir);
}

static void replacing_a_plugin_reloads_it_after_its_work_drains(void)
{
  char *dir = h_tempdir();
  h_copy_plugin("echo.so", dir, NULL);
  h_events ev = { 0 };
  const char *dirs[] = { dir };
  pt_kernel_options o = h_options(dirs, &ev, NULL);
  o.watch = 1;
  pt_kernel *k = h_kernel(&o);
  pt_host *old = pt_loader_find(k, "echo");

  chat_log c = { .trace = &ev };
  pt_op_sink sink = { .on_event = on_chat_event, .ud = &c };
  CHECK_INT(pt_op_chat(k, "test_echo", PT_STR_LIT("hang"), NULL, &sink, NULL),
            ==, PT_OK);
  pt_kernel_spin(k, 20);
  h_copy_plugin("echo.so", dir, NULL); /* a new file (inode) at the path */

  uint64_t t0 = h_now_ms();
  while (!strstr(ev.text, "loaded echo echo.so: 1.0.0\nunloaded") &&
         !(strstr(ev.text, "unloaded echo") &&
           strstr(strstr(ev.text, "unloaded echo"), "loaded echo")) &&
         h_now_ms() - t0 < 5000)
    pt_kernel_spin(k, 5);
  const char *done = strstr(ev.text, "done ECANCELED");
  const char *gone = strstr(ev.text, "unloaded echo");
  const char *back = gone ? strstr(gone + 1, "loaded echo") : NULL;
  CHECK(done && gone && back && done < gone && gone < back);
  pt_host *now = pt_loader_find(k, "echo");
  CHECK(now != NULL);

  chat_log c2 = { 0 };
  sink.ud = &c2;
  CHECK_INT(pt_op_chat(k, "test_echo", PT_STR_LIT("new code"), NULL, &sink,
                       NULL), ==, PT_OK);
  h_run_until(k, &c2.done, 5000);
  CHECK_STR(c2.text, "new code");
  (void)old;
  pt_kernel_free(k);
  h_rmtree(dir);
  free(dir);
}

static void stopping_the_kernel_completes_operations_in_flight(void)
{
  char *dir = h_tempdir();
  h_copy_plugin("echo.so", dir, NULL);
  const char *dirs[] = { dir };
  pt_kernel_options o = h_options(dirs, NULL, NULL);
  pt_kernel *k = h_kernel(&o);
  chat_log c = { 0 };
  pt_op_sink sink = { .on_event = on_chat_event, .ud = &c };
  CHECK_INT(pt_op_chat(k, "test_echo", PT_STR_LIT("hang"), NULL, &sink, NULL),
            ==, PT_OK);
  pt_kernel_free(k);
  CHECK_INT(c.done, ==, 1);
  CHECK_INT(c.status, ==, PT_ECANCELED);
  h_rmtree(dir);
  free(dir);
}

int main(void)
{
  RUN(loads_plugins_and_registers_what_they_offer);
  RUN(every_refusal_names_its_reason_and_the_rest_still_load);
  RUN(a_world_writable_folder_is_refused);
  RUN(a_second_plugin_with_the_same_name_is_refused);
  RUN(a_chat_streams_through_the_abi);
  RUN(cancelling_a_chat_ends_it_once_as_cancelled);
  RUN(host_services_work_from_a_plugin);
  RUN(a_plugin_dropped_into_a_watched_folder_loads_within_a_second);
  RUN(removing_a_plugin_cancels_its_operations_before_unloading);
  RUN(replacing_a_plugin_reloads_it_after_its_work_drains);
  RUN(stopping_the_kernel_completes_operations_in_flight);
  return check_report();
}
