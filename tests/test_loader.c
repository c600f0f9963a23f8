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

static const char *const ONLY_ECHO[] = { "echo.so", NULL };
static const char *const ECHO_AND_PROBE[] = { "echo.so", "probe.so", NULL };

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

/* Spin until the event log shows `want`, for at most `ms`. */
static int wait_event(h_fixture *f, const char *want, uint64_t ms)
{
  uint64_t t0 = h_now_ms();
  while (!strstr(f->ev.text, want) && h_now_ms() - t0 < ms)
    pt_kernel_spin(f->k, 5);
  return strstr(f->ev.text, want) != NULL;
}

static void remove_plugin_file(h_fixture *f, const char *name)
{
  char path[4200];
  snprintf(path, sizeof path, "%s/%s", f->dir, name);
  unlink(path);
}

static void loads_plugins_and_registers_what_they_offer(void)
{
  h_fixture f;
  h_fixture_start(&f, ECHO_AND_PROBE, 0, NULL);
  CHECK(pt_loader_find(f.k, "echo") != NULL);
  CHECK(pt_loader_find(f.k, "probe") != NULL);
  CHECK(pt_registry_provider(&f.k->registry, "test_echo") != NULL);
  CHECK(pt_registry_tool(&f.k->registry, "test_sleep") != NULL);
  CHECK(pt_registry_tool(&f.k->registry, "test_probe") != NULL);
  CHECK_INT(refusal_count(f.k), ==, 0);
  h_fixture_stop(&f);
}

static void every_refusal_names_its_reason_and_the_rest_still_load(void)
{
  static const char *const files[] = {
    "bad_wrong_major_symbol.so", "bad_wrong_major_field.so",
    "bad_too_new_minor.so",      "bad_no_entry.so",
    "bad_init_fails.so",         "bad_unresolved.so",
    "bad_bad_name.so",           "echo.so",
    "echo_dup_id.so",            NULL
  };
  h_fixture f;
  h_fixture_prepare(&f, files);
  h_copy_plugin("probe.so", f.dir, "writable.so");
  char path[4200];
  snprintf(path, sizeof path, "%s/writable.so", f.dir);
  chmod(path, 0666);
  unsigned char noise[4096];
  srand(7);
  for (size_t i = 0; i < sizeof noise; i++) noise[i] = (unsigned char)rand();
  h_write_file(f.dir, "x.so", noise, sizeof noise, 0755);
  h_write_file(f.dir, "empty.so", "", 0, 0755);
  h_fixture_boot(&f, 0, NULL);
  pt_kernel *k = f.k;

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
  h_chat c = { 0 };
  pt_op_sink sink = { .on_event = h_on_chat_event, .ud = &c };
  CHECK_INT(pt_op_chat(k, "test_echo", PT_STR_LIT("still here"), NULL, &sink,
                       NULL), ==, PT_OK);
  h_run_until(k, &c.done, 5000);
  CHECK_STR(c.text, "still here");
  h_fixture_stop(&f);
}

static void a_world_writable_folder_is_refused(void)
{
  h_fixture f;
  h_fixture_prepare(&f, ONLY_ECHO);
  chmod(f.dir, 0777);
  h_fixture_boot(&f, 0, NULL);
  CHECK(has_refusal(f.k, "echo.so", "is writable by every user (mode 0777)"));
  CHECK(pt_loader_find(f.k, "echo") == NULL);
  chmod(f.dir, 0755);
  h_fixture_stop(&f);
}

static void a_second_plugin_with_the_same_name_is_refused(void)
{
  h_fixture f;
  h_fixture_prepare(&f, NULL);
  h_copy_plugin("echo.so", f.dir, "a.so");
  h_copy_plugin("echo.so", f.dir, "b.so");
  h_fixture_boot(&f, 0, NULL);
  CHECK(has_refusal(f.k, "b.so", "a plugin named 'echo' is already loaded"));
  CHECK(pt_loader_find(f.k, "echo") != NULL);
  h_fixture_stop(&f);
}

static void a_chat_streams_through_the_abi(void)
{
  h_fixture f;
  h_fixture_start(&f, ONLY_ECHO, 0, NULL);
  h_chat c = { 0 };
  pt_op_sink sink = { .on_event = h_on_chat_event, .ud = &c };
  const char *text = "Ünïcödé survives 4-byte pieces 😀!";
  CHECK_INT(pt_op_chat(f.k, "test_echo", (pt_str){ text, strlen(text) }, NULL,
                       &sink, NULL), ==, PT_OK);
  CHECK_INT(c.done, ==, 0); /* nothing completes inside the call */
  h_run_until(f.k, &c.done, 5000);
  CHECK_INT(c.done, ==, 1);
  CHECK_STR(c.text, text);
  CHECK_INT(c.status, ==, PT_OK);
  CHECK_INT(c.stop, ==, PT_STOP_END_TURN);
  CHECK_INT(c.out_tokens, ==, strlen(text));
  CHECK_INT(pt_op_chat(f.k, "nope", PT_STR_LIT("x"), NULL, &sink, NULL), ==,
            PT_ENOENT);

  h_tool t = { 0 };
  pt_op_sink models = { .on_done = h_on_tool_done, .ud = &t };
  CHECK_INT(pt_op_models(f.k, "test_echo", &models, NULL), ==, PT_OK);
  h_run_until(f.k, &t.done, 5000);
  CHECK_STR(t.result, "[{\"id\":\"echo-1\"}]");
  h_fixture_stop(&f);
}

static void cancelling_a_chat_ends_it_once_as_cancelled(void)
{
  h_fixture f;
  h_fixture_start(&f, ONLY_ECHO, 0, NULL);
  h_chat c = { 0 };
  pt_op_sink sink = { .on_event = h_on_chat_event, .ud = &c };
  pt_op_impl *op = NULL;
  CHECK_INT(pt_op_chat(f.k, "test_echo", PT_STR_LIT("hang on"), NULL, &sink,
                       &op), ==, PT_OK);
  pt_kernel_spin(f.k, 20);
  CHECK_INT(c.done, ==, 0);
  pt_op_cancel(op);
  pt_op_cancel(op);
  h_run_until(f.k, &c.done, 5000);
  pt_kernel_spin(f.k, 20);
  CHECK_INT(c.done, ==, 1);
  CHECK_INT(c.status, ==, PT_ECANCELED);
  CHECK_INT(c.stop, ==, PT_STOP_CANCELLED);
  h_fixture_stop(&f);
}

/* Run tool `name` with `args` and wait for its completion. */
static h_tool run_tool(pt_kernel *k, const char *name, const char *args)
{
  h_tool t = { 0 };
  pt_op_sink sink = { .on_done = h_on_tool_done, .ud = &t };
  CHECK_INT(pt_op_tool(k, name, (pt_str){ args, strlen(args) }, NULL, &sink,
                       NULL), ==, PT_OK);
  h_run_until(k, &t.done, 5000);
  CHECK_INT(t.done, ==, 1);
  return t;
}

static void host_services_work_from_a_plugin(void)
{
  h_fixture f;
  h_fixture_prepare(&f, (const char *const[]){ "probe.so", NULL });
  char cfg[4200];
  snprintf(cfg, sizeof cfg, "%s/config.lua", f.dir);
  FILE *file = fopen(cfg, "w");
  fputs("return { plugins = { probe = { api_key = 'from-config-1234', "
        "depth = 3 } } }\n",
        file);
  fclose(file);
  h_fixture_boot(&f, 0, cfg);

  h_tool t = run_tool(f.k, "test_probe", "\"config\"");
  CHECK_CONTAINS(t.result, "\"api_key\":\"from-config-1234\"");
  CHECK_CONTAINS(t.result, "\"depth\":3");
  t = run_tool(f.k, "test_probe", "\"secret\"");
  CHECK_STR(t.result, "{\"found\":true,\"len\":16}");
  t = run_tool(f.k, "test_probe", "\"post\"");
  CHECK_STR(t.result, "{\"on_loop\":true}");
  t = run_tool(f.k, "test_sleep", "{\"ms\":20}");
  CHECK_INT(t.status, ==, PT_OK);
  CHECK_STR(t.result, "{\"slept\":20}");
  h_fixture_stop(&f);
}

static void a_plugin_dropped_into_a_watched_folder_loads_within_a_second(void)
{
  h_fixture f;
  h_fixture_start(&f, NULL, 1, NULL);
  CHECK(pt_loader_find(f.k, "echo") == NULL);
  uint64_t t0 = h_now_ms();
  h_copy_plugin("echo.so", f.dir, NULL);
  CHECK(wait_event(&f, "loaded echo echo.so", 3000));
  CHECK_INT(h_now_ms() - t0, <, 1000);
  CHECK(pt_loader_find(f.k, "echo") != NULL);

  /* A broken file dropped in is refused and reported, nothing else. */
  h_write_file(f.dir, "junk.so", "not elf", 7, 0755);
  CHECK(wait_event(&f, "refused - junk.so: not a loadable shared object",
                   3000));
  CHECK(pt_loader_find(f.k, "echo") != NULL);
  h_fixture_stop(&f);
}

static void removing_a_plugin_cancels_its_operations_before_unloading(void)
{
  h_fixture f;
  h_fixture_start(&f, ECHO_AND_PROBE, 1, NULL);
  h_chat c = { .trace = &f.ev };
  pt_op_sink sink = { .on_event = h_on_chat_event, .ud = &c };
  CHECK_INT(pt_op_chat(f.k, "test_echo", PT_STR_LIT("hang"), NULL, &sink,
                       NULL), ==, PT_OK);
  h_tool t = { 0 };
  pt_op_sink tsink = { .on_done = h_on_tool_done, .ud = &t };
  CHECK_INT(pt_op_tool(f.k, "test_sleep", PT_STR_LIT("{\"ms\":60000}"), NULL,
                       &tsink, NULL), ==, PT_OK);
  pt_kernel_spin(f.k, 30);

  remove_plugin_file(&f, "echo.so");
  remove_plugin_file(&f, "probe.so");
  CHECK(wait_event(&f, "unloaded echo", 5000));
  CHECK(wait_event(&f, "unloaded probe", 5000));
  CHECK(pt_loader_find(f.k, "echo") == NULL);
  CHECK(pt_loader_find(f.k, "probe") == NULL);
  CHECK_INT(c.done, ==, 1);
  CHECK_INT(c.stop, ==, PT_STOP_CANCELLED);
  CHECK_INT(t.done, ==, 1);
  CHECK_INT(t.status, ==, PT_ECANCELED);
  /* The operation ended before the code went away. */
  const char *done = strstr(f.ev.text, "done ECANCELED");
  const char *gone = strstr(f.ev.text, "unloaded echo");
  CHECK(done && gone && done < gone);
  CHECK(pt_registry_provider(&f.k->registry, "test_echo") == NULL);
  h_fixture_stop(&f);
}

static void replacing_a_plugin_reloads_it_after_its_work_drains(void)
{
  h_fixture f;
  h_fixture_start(&f, ONLY_ECHO, 1, NULL);
  h_chat c = { .trace = &f.ev };
  pt_op_sink sink = { .on_event = h_on_chat_event, .ud = &c };
  CHECK_INT(pt_op_chat(f.k, "test_echo", PT_STR_LIT("hang"), NULL, &sink,
                       NULL), ==, PT_OK);
  pt_kernel_spin(f.k, 20);
  h_copy_plugin("echo.so", f.dir, NULL); /* a new file (inode) at the path */

  CHECK(wait_event(&f, "unloaded echo", 5000));
  const char *gone = strstr(f.ev.text, "unloaded echo");
  uint64_t t0 = h_now_ms();
  while (!strstr(gone, "loaded echo echo.so") && h_now_ms() - t0 < 5000)
    pt_kernel_spin(f.k, 5);
  const char *done = strstr(f.ev.text, "done ECANCELED");
  const char *back = strstr(gone, "loaded echo echo.so");
  CHECK(done && back && done < gone);
  CHECK(pt_loader_find(f.k, "echo") != NULL);

  h_chat c2 = { 0 };
  sink.ud = &c2;
  CHECK_INT(pt_op_chat(f.k, "test_echo", PT_STR_LIT("new code"), NULL, &sink,
                       NULL), ==, PT_OK);
  h_run_until(f.k, &c2.done, 5000);
  CHECK_STR(c2.text, "new code");
  h_fixture_stop(&f);
}

static void a_plugin_that_ignores_cancel_is_abandoned_after_a_deadline(void)
{
  h_fixture f;
  h_fixture_start(&f, (const char *const[]){ "echo_stubborn.so", NULL }, 1,
                  NULL);
  f.k->opts.drain_timeout_ms = 200;
  h_chat c = { .trace = &f.ev };
  pt_op_sink sink = { .on_event = h_on_chat_event, .ud = &c };
  CHECK_INT(pt_op_chat(f.k, "test_stubborn", PT_STR_LIT("hang"), NULL, &sink,
                       NULL), ==, PT_OK);
  pt_kernel_spin(f.k, 20);
  remove_plugin_file(&f, "echo_stubborn.so");
  CHECK(wait_event(&f, "abandoned stubborn", 5000));
  CHECK_CONTAINS(f.ev.text, "did not end 1 operation within 200 ms");
  CHECK_INT(c.done, ==, 1);
  CHECK_INT(c.status, ==, PT_ECANCELED);
  CHECK(pt_loader_find(f.k, "stubborn") == NULL);
  CHECK(pt_registry_provider(&f.k->registry, "test_stubborn") == NULL);
  /* The process goes on, and stops cleanly. */
  uint64_t t0 = h_now_ms();
  h_fixture_stop(&f);
  CHECK_INT(h_now_ms() - t0, <, 2000);
  CHECK_INT(c.done, ==, 1);
}

static void stopping_the_kernel_completes_operations_in_flight(void)
{
  h_fixture f;
  h_fixture_start(&f, ONLY_ECHO, 0, NULL);
  h_chat c = { 0 };
  pt_op_sink sink = { .on_event = h_on_chat_event, .ud = &c };
  CHECK_INT(pt_op_chat(f.k, "test_echo", PT_STR_LIT("hang"), NULL, &sink,
                       NULL), ==, PT_OK);
  h_fixture_stop(&f);
  CHECK_INT(c.done, ==, 1);
  CHECK_INT(c.status, ==, PT_ECANCELED);
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
  RUN(a_plugin_that_ignores_cancel_is_abandoned_after_a_deadline);
  RUN(stopping_the_kernel_completes_operations_in_flight);
  return check_report();
}
