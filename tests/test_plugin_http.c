/*
 * tests/test_plugin_http.c: a plugin's HTTP requests through the host API,
 * and what becomes of one still in flight when the plugin is unloaded.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "fake_http.h"
#include "harness.h"
#include "loader.h"
#include "ops.h"

static const char *const PROBE[] = { "probe.so", NULL };

static void handler(void *ud, const fake_http_request *req,
                    fake_http_response *res)
{
  if (strcmp(req->path, "/ping") == 0) {
    fake_http_head(res, 200, "Content-Length: 4\r\n");
    fake_http_send(res, "po", 2);
    fake_http_wait(res, 20);
    fake_http_send(res, "ng", 2);
  } else {
    fake_http_hang(res);
  }
}

static void a_plugin_fetches_through_the_host_client(void)
{
  fake_http *srv = fake_http_start(handler, NULL);
  h_fixture f;
  h_fixture_start(&f, PROBE, 0, NULL);
  pt_kernel *k = f.k;
  char args[256];
  snprintf(args, sizeof args, "\"http:http://127.0.0.1:%d/ping\"",
           fake_http_port(srv));
  h_tool t = { 0 };
  pt_op_sink sink = { .on_done = h_on_tool_done, .ud = &t };
  CHECK_INT(pt_op_tool(k, "test_probe", (pt_str){ args, strlen(args) }, NULL,
                       &sink, NULL), ==, PT_OK);
  h_run_until(k, &t.done, 10000);
  CHECK_INT(t.status, ==, PT_OK);
  CHECK_STR(t.result, "{\"status\":200,\"result\":\"OK\",\"body\":\"pong\"}");
  h_fixture_stop(&f);
  fake_http_stop(srv);
}

static void unloading_cancels_a_request_in_flight_before_the_code_goes(void)
{
  fake_http *srv = fake_http_start(handler, NULL);
  h_fixture f;
  h_fixture_start(&f, PROBE, 1, NULL);
  pt_kernel *k = f.k;
  h_events *ev = &f.ev;
  char args[256];
  snprintf(args, sizeof args, "\"http:http://127.0.0.1:%d/hang\"",
           fake_http_port(srv));
  h_tool t = { .trace = ev };
  pt_op_sink sink = { .on_done = h_on_tool_done, .ud = &t };
  CHECK_INT(pt_op_tool(k, "test_probe", (pt_str){ args, strlen(args) }, NULL,
                       &sink, NULL), ==, PT_OK);
  /* Wait until the server holds the request, so it is truly in flight. */
  for (int i = 0; i < 400 && fake_http_request_count(srv) == 0; i++)
    pt_kernel_spin(k, 5);
  CHECK_INT(fake_http_request_count(srv), ==, 1);
  CHECK_INT(k->http ? pt_http_active(k->http) : 0, ==, 1);

  char path[4200];
  snprintf(path, sizeof path, "%s/probe.so", f.dir);
  unlink(path);
  uint64_t t0 = h_now_ms();
  while (!strstr(ev->text, "unloaded probe") && h_now_ms() - t0 < 5000)
    pt_kernel_spin(k, 5);
  CHECK_INT(t.done, ==, 1);
  CHECK_INT(t.status, ==, PT_ECANCELED);
  const char *done = strstr(ev->text, "done ECANCELED");
  const char *gone = strstr(ev->text, "unloaded probe");
  CHECK(done && gone && done < gone);
  CHECK_INT(pt_http_active(k->http), ==, 0);
  h_fixture_stop(&f);
  fake_http_stop(srv);
}

int main(void)
{
  unsetenv("http_proxy");
  unsetenv("HTTP_PROXY");
  unsetenv("all_proxy");
  unsetenv("ALL_PROXY");
  RUN(a_plugin_fetches_through_the_host_client);
  RUN(unloading_cancels_a_request_in_flight_before_the_code_goes);
  return check_report();
}
