/*
 * tests/test_serve_http.c: the front door of `portico serve`, through the
 * real binary on a real socket: the ready line, the API key (from the
 * environment and from the generated file), the refusal to listen beyond
 * loopback or on a port in use, the Host and Origin checks and their
 * reload on SIGHUP, bodies that are too large or not JSON, the route
 * table's 404 and 405, session creation, listing and deletion, and the
 * WebSocket's handshake and bad messages. One server takes every request
 * of the middle cases and must still be healthy, and stop cleanly, at the
 * end.
 *
 * No model is ever called here; tests/test_serve_turns.c runs turns.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "chat_agent_cases.h"
#include "check.h"
#include "harness.h"
#include "http_probe.h"
#include "run_cmd.h"
#include "serve_cases.h"
#include "serve_proc.h"

#define MS SC_MS
#define KEY "serve-http-test-key-0123456789"
#define AUTH "Authorization: Bearer " KEY "\r\n"
#define ALLOWED "http://app.example"
#define ADDED "http://added.example"
/* serve.max_body_bytes in the config this file writes. */
#define MAX_BODY 16384

static cac_env ce;
static serve_proc sp = { .pid = -1, .out_fd = -1 };  /* the middle cases' */
static int port;        /* its port; 0 when it did not start */
static char sid[64];    /* a session made by an earlier case */

/* config.lua: claude pointed at a port where nothing answers (no case
 * calls a model), a small body limit and `origins` (Lua list items). */
static void write_config(const char *origins)
{
  char lua[1024];
  snprintf(lua, sizeof lua,
           "return { plugins = { claude = { base_url = "
           "'http://127.0.0.1:9', api_key = 'k', max_attempts = 1 } },\n"
           "  serve = { max_body_bytes = %d, origins = { %s } } }\n",
           MAX_BODY, origins);
  free(h_write_config(ce.dir, lua));
}

/* The error code of an {"error":{"code","message"}} answer, or "". */
static const char *code_of(const cJSON *j)
{
  return sc_str(j, "error", "code");
}

/* Expect `status` and error code `code` for a request. */
static void expect_error(const char *method, const char *path,
                         const char *extra, const char *body, int status,
                         const char *code)
{
  cJSON *j = NULL;
  CHECK_INT(sc_call(port, method, path, extra, body, &j), ==, status);
  CHECK_STR(code_of(j), code);
  CHECK(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(j, "error"), "message")) !=
        NULL);
  cJSON_Delete(j);
}

/* The next event of `s`, or one with empty fields when none came. */
static int sse_next(hp_sse *s, hp_sse_event *ev)
{
  int rc = s ? hp_sse_next(s, ev, MS) : -1;
  if (rc != 1) *ev = (hp_sse_event){ "", "", "" };
  return rc;
}

/* ---- Starting and refusing to start ----------------------------------- */

static void the_ready_line_is_all_of_stdout(void)
{
  const char *env[6];
  sc_env(env, &ce, "PORTICO_API_KEY=" KEY);
  const char *argv[] = { "serve", "--no-default-plugins", NULL };
  int fd;
  pid_t pid = start_portico(argv, env, &fd);
  char out[4096] = "";
  CHECK(read_until(fd, out, sizeof out, "\n", MS));
  kill(pid, SIGTERM);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  /* The rest of stdout, to its end: there must be none. */
  size_t len = strlen(out);
  ssize_t got;
  while ((got = read(fd, out + len, sizeof out - 1 - len)) > 0)
    len += (size_t)got;
  out[len] = '\0';
  close(fd);
  static const char prefix[] = "PORTICO_LISTEN_ADDR=127.0.0.1:";
  CHECK_INT(strncmp(out, prefix, sizeof prefix - 1), ==, 0);
  const char *p = out + sizeof prefix - 1;
  char *end;
  long n = strtol(p, &end, 10);
  CHECK(end != p && n > 0 && n < 65536);
  CHECK_STR(end, "\n");
}

static void a_remote_listen_needs_allow_remote(void)
{
  const char *env[6];
  sc_env(env, &ce, "PORTICO_API_KEY=" KEY);
  const char *argv[] = { "serve", "--no-default-plugins", "--listen",
                         "0.0.0.0:0", NULL };
  cmd_result *r = calloc(1, sizeof *r);
  run_portico(r, argv, env);
  CHECK_INT(r->status, ==, 2);
  CHECK_CONTAINS(r->err, "--allow-remote");
  CHECK_STR(r->out, "");
  free(r);
}

static void allow_remote_needs_the_key_in_the_environment(void)
{
  const char *env[6];
  sc_env(env, &ce, "PORTICO_API_KEY=");
  const char *argv[] = { "serve", "--no-default-plugins", "--listen",
                         "0.0.0.0:0", "--allow-remote", NULL };
  cmd_result *r = calloc(1, sizeof *r);
  run_portico(r, argv, env);
  CHECK_INT(r->status, ==, 2);
  CHECK_CONTAINS(r->err, "PORTICO_API_KEY");
  CHECK_STR(r->out, "");
  free(r);
}

/* libwebsockets hands back a context whose default vhost could not bind;
 * destroying it and running the loop jumped into unmapped code (SIGSEGV)
 * after the message had been printed. */
static void a_port_in_use_is_an_error_not_a_crash(void)
{
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in a = { .sin_family = AF_INET,
                           .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
  socklen_t alen = sizeof a;
  CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        listen(fd, 1) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &alen) == 0);
  char listen_at[64];
  snprintf(listen_at, sizeof listen_at, "127.0.0.1:%d", ntohs(a.sin_port));
  const char *env[6];
  sc_env(env, &ce, "PORTICO_API_KEY=" KEY);
  const char *argv[] = { "serve", "--no-default-plugins", "--listen",
                         listen_at, NULL };
  cmd_result *r = calloc(1, sizeof *r);
  run_portico(r, argv, env);
  CHECK_INT(r->status, ==, 1);
  CHECK_CONTAINS(r->err, listen_at);
  /* Under AddressSanitizer the crash exits 1 too; its report gives it
   * away. */
  CHECK(strstr(r->err, "Sanitizer") == NULL);
  CHECK_STR(r->out, "");
  free(r);
  if (fd >= 0) close(fd);
}

static void a_generated_key_file_is_private_and_works(void)
{
  char *data = h_tempdir();
  char data_var[4200];
  snprintf(data_var, sizeof data_var, "PORTICO_DATA_DIR=%s/data", data);
  const char *env[] = { ce.vars[0], data_var, ce.vars[2], ce.vars[3],
                        "PORTICO_API_KEY=", NULL };
  const char *argv[] = { "--no-default-plugins", NULL };
  serve_proc p;
  if (serve_start(&p, argv, env, MS) != 0) {
    CHECK(!"the server started");
    h_rmtree(data);
    free(data);
    return;
  }
  char path[4300], key[256] = "";
  snprintf(path, sizeof path, "%s/data/api-key", data);
  struct stat st;
  CHECK_INT(stat(path, &st), ==, 0);
  CHECK_INT(st.st_mode & 0777, ==, 0600);
  FILE *f = fopen(path, "r");
  if (f) {
    if (!fgets(key, sizeof key, f)) key[0] = '\0';
    fclose(f);
  }
  key[strcspn(key, "\r\n")] = '\0';
  CHECK_INT(strlen(key), >=, 16);

  char auth[512];
  snprintf(auth, sizeof auth, "Authorization: Bearer %s\r\n", key);
  hp_response r;
  CHECK_INT(hp_request(p.port, "GET", "/api/sessions", auth, NULL, 0, &r,
                       MS), ==, 0);
  CHECK_INT(r.status, ==, 200);
  hp_response_free(&r);
  CHECK_INT(hp_request(p.port, "GET", "/api/sessions", AUTH, NULL, 0, &r,
                       MS), ==, 0);
  CHECK_INT(r.status, ==, 401);
  hp_response_free(&r);

  CHECK_INT(serve_stop(&p, SIGTERM, 10000, NULL), ==, 0);
  char *log = serve_stderr(&p);
  CHECK_CONTAINS(log, path);
  CHECK(key[0] && strstr(log, key) == NULL);
  free(log);
  serve_cleanup(&p);

  /* A second start reads the same key rather than making another. */
  CHECK_INT(serve_start(&p, argv, env, MS), ==, 0);
  if (p.pid > 0) {
    CHECK_INT(hp_request(p.port, "GET", "/api/sessions", auth, NULL, 0, &r,
                         MS), ==, 0);
    CHECK_INT(r.status, ==, 200);
    hp_response_free(&r);
    CHECK_INT(serve_stop(&p, SIGTERM, 10000, NULL), ==, 0);
    log = serve_stderr(&p);
    CHECK(key[0] && strstr(log, key) == NULL);
    free(log);
    serve_cleanup(&p);
  }
  h_rmtree(data);
  free(data);
}

/* ---- The shared server ------------------------------------------------ */

static void health_answers_without_a_key(void)
{
  const char *argv[] = { "--no-default-plugins", "--plugins", ce.dir,
                         "-p", "claude", "-m", "claude-sonnet-4-5",
                         "--tools", "tools", "--workspace", ce.ws, NULL };
  port = sc_start(&sp, &ce, "PORTICO_API_KEY=" KEY, argv);
  if (!port) return;
  cJSON *j = NULL;
  CHECK_INT(sc_call(port, "GET", "/api/health", NULL, NULL, &j), ==, 200);
  CHECK_STR(sc_str(j, "status", NULL), "ok");
  CHECK(sc_str(j, "version", NULL)[0] != '\0');
  cJSON_Delete(j);
}

static void routes_but_health_need_the_key(void)
{
  hp_response r;
  CHECK_INT(hp_request(port, "GET", "/api/sessions", NULL, NULL, 0, &r, MS),
            ==, 0);
  CHECK_INT(r.status, ==, 401);
  char *www = hp_header(&r, "WWW-Authenticate");
  CHECK_STR(www, "Bearer");
  free(www);
  cJSON *j = cJSON_Parse(r.body ? r.body : "");
  CHECK_STR(code_of(j), "unauthorized");
  cJSON_Delete(j);
  hp_response_free(&r);

  CHECK_INT(hp_request(port, "GET", "/api/sessions",
                       "Authorization: Bearer " KEY "x\r\n", NULL, 0, &r,
                       MS), ==, 0);
  CHECK_INT(r.status, ==, 401);
  www = hp_header(&r, "WWW-Authenticate");
  CHECK_STR(www, "Bearer");
  free(www);
  hp_response_free(&r);

  expect_error("GET", "/api/sessions", "Authorization: Basic " KEY "\r\n",
               NULL, 401, "unauthorized");
  /* A prefix of the key is not the key. */
  expect_error("GET", "/api/sessions", "Authorization: Bearer serve\r\n",
               NULL, 401, "unauthorized");
  expect_error("POST", "/api/sessions", NULL, "{}", 401, "unauthorized");
  /* The query form is for the event stream alone. */
  expect_error("GET", "/api/sessions?access_token=" KEY, NULL, NULL, 401,
               "unauthorized");
  CHECK_INT(sc_call(port, "GET", "/api/sessions", AUTH, NULL, NULL), ==, 200);
}

static void the_event_stream_takes_access_token(void)
{
  sc_create_session(port, AUTH, "{\"title\":\"tokened\"}", sid, sizeof sid);
  char path[256];
  int status = 0;
  char *body = NULL;
  snprintf(path, sizeof path, "/api/sessions/%s/events?after=0", sid);
  hp_sse *s = hp_sse_open(port, path, NULL, MS, &status, &body);
  CHECK(s == NULL);
  CHECK_INT(status, ==, 401);
  cJSON *j = cJSON_Parse(body ? body : "");
  CHECK_STR(code_of(j), "unauthorized");
  cJSON_Delete(j);
  free(body);

  snprintf(path, sizeof path,
           "/api/sessions/%s/events?after=0&access_token=%s", sid, KEY);
  s = hp_sse_open(port, path, NULL, MS, &status, NULL);
  CHECK_INT(status, ==, 200);
  if (!s) return;
  char *type = hp_header(hp_sse_response(s), "Content-Type");
  CHECK_CONTAINS(type, "text/event-stream");
  free(type);
  hp_sse_event ev;
  CHECK_INT(sse_next(s, &ev), ==, 1);
  CHECK_STR(ev.id, "1");
  CHECK_STR(ev.event, "session_created");
  j = cJSON_Parse(ev.data);
  CHECK_STR(sc_str(j, "session_id", NULL), sid);
  cJSON_Delete(j);
  hp_sse_close(s);
}

/* libwebsockets' lws_get_urlarg_by_name stops at the first query argument
 * longer than the buffer it is given, so a 32-byte buffer for "after" did
 * not see it behind a 64-character access_token: the order an EventSource
 * URL is most naturally written in. */
static void after_is_read_behind_a_long_access_token(void)
{
  char path[256];
  snprintf(path, sizeof path,
           "/api/sessions/%s/events?access_token=%s&after=0", sid, KEY);
  int status = 0;
  hp_sse *s = hp_sse_open(port, path, NULL, MS, &status, NULL);
  CHECK_INT(status, ==, 200);
  hp_sse_event ev;
  CHECK_INT(sse_next(s, &ev), ==, 1);
  CHECK_STR(ev.id, "1");
  CHECK_STR(ev.event, "session_created");
  hp_sse_close(s);
}

static void a_foreign_host_is_forbidden(void)
{
  char wrong_port[128];
  snprintf(wrong_port, sizeof wrong_port, "Host: 127.0.0.1:%d\r\n" AUTH,
           port == 65535 ? 1 : port + 1);
  expect_error("GET", "/api/sessions", "Host: evil.example\r\n" AUTH, NULL,
               403, "forbidden_host");
  /* Health too: a rebinding page must not learn the server is there. */
  expect_error("GET", "/api/health", "Host: evil.example\r\n", NULL, 403,
               "forbidden_host");
  expect_error("GET", "/api/health", wrong_port, NULL, 403,
               "forbidden_host");
  char ok[128];
  snprintf(ok, sizeof ok, "Host: localhost:%d\r\n", port);
  CHECK_INT(sc_call(port, "GET", "/api/health", ok, NULL, NULL), ==, 200);
}

static void origins_are_checked_against_the_config(void)
{
  expect_error("GET", "/api/sessions", "Origin: http://evil.example\r\n" AUTH,
               NULL, 403, "forbidden_origin");
  hp_response r;
  CHECK_INT(hp_request(port, "GET", "/api/sessions",
                       "Origin: " ALLOWED "\r\n" AUTH, NULL, 0, &r, MS),
            ==, 0);
  CHECK_INT(r.status, ==, 200);
  char *acao = hp_header(&r, "Access-Control-Allow-Origin");
  CHECK_STR(acao, ALLOWED);
  free(acao);
  hp_response_free(&r);
  /* Without an Origin there is no CORS header at all. */
  CHECK_INT(hp_request(port, "GET", "/api/sessions", AUTH, NULL, 0, &r, MS),
            ==, 0);
  CHECK_INT(r.status, ==, 200);
  CHECK(hp_header(&r, "Access-Control-Allow-Origin") == NULL);
  hp_response_free(&r);
}

/* Poll until a request from `origin` gets `status`; 1 when it did. */
static int origin_gets(const char *origin, int status)
{
  char extra[256];
  snprintf(extra, sizeof extra, "Origin: %s\r\n", origin);
  for (int i = 0; i < 150; i++) {
    if (sc_call(port, "GET", "/api/health", extra, NULL, NULL) == status)
      return 1;
    usleep(100 * 1000);
  }
  return 0;
}

static void sighup_reloads_the_origins(void)
{
  expect_error("GET", "/api/health", "Origin: " ADDED "\r\n", NULL, 403,
               "forbidden_origin");
  write_config("'" ALLOWED "', '" ADDED "'");
  CHECK_INT(kill(sp.pid, SIGHUP), ==, 0);
  CHECK(origin_gets(ADDED, 200));
  CHECK(origin_gets(ALLOWED, 200));
  CHECK(serve_wait_for_stderr(&sp, "SIGHUP: config reloaded", MS));

  /* A config that does not load leaves the running one in place. */
  free(h_write_config(ce.dir, "return { serve = \n"));
  CHECK_INT(kill(sp.pid, SIGHUP), ==, 0);
  CHECK(serve_wait_for_stderr(&sp, "config not reloaded", MS));
  CHECK(origin_gets(ADDED, 200));
  write_config("'" ALLOWED "', '" ADDED "'");
}

static void an_oversized_body_is_413(void)
{
  size_t n = MAX_BODY + 4000;
  char *body = malloc(n + 1);
  if (!body) abort();
  memset(body, 'x', n);
  memcpy(body, "{\"title\":\"", 10);
  memcpy(body + n - 2, "\"}", 2);
  body[n] = '\0';
  expect_error("POST", "/api/sessions", AUTH, body, 413, "too_large");

  /* A Content-Length past the limit is refused before any body comes. */
  char raw[512];
  int len = snprintf(raw, sizeof raw,
                     "POST /api/sessions HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                     AUTH "Content-Length: 2000000\r\n\r\n", port);
  hp_response r;
  CHECK_INT(hp_request_raw(port, raw, (size_t)len, 0, &r, MS), ==, 0);
  CHECK_INT(r.status, ==, 413);
  hp_response_free(&r);

  /* The server carries on, and a body under the limit is taken. */
  CHECK_INT(sc_call(port, "GET", "/api/health", NULL, NULL, NULL), ==, 200);
  n = MAX_BODY / 2;
  body[n - 2] = '"', body[n - 1] = '}', body[n] = '\0';
  char id[64];
  sc_create_session(port, AUTH, body, id, sizeof id);
  free(body);
}

static void bodies_that_are_not_a_json_object_are_400(void)
{
  expect_error("POST", "/api/sessions", AUTH, "{\"title\": ", 400,
               "bad_json");
  expect_error("POST", "/api/sessions", AUTH, "not json at all", 400,
               "bad_json");
  expect_error("POST", "/api/sessions", AUTH, "[1, 2]", 400, "bad_json");
  expect_error("POST", "/api/sessions", AUTH, "\"a string\"", 400,
               "bad_json");
  expect_error("POST", "/api/sessions", AUTH, "42", 400, "bad_json");
  char path[128];
  snprintf(path, sizeof path, "/api/sessions/%s/messages", sid);
  expect_error("POST", path, AUTH, "{\"text\": [", 400, "bad_json");
  CHECK_INT(sc_call(port, "GET", "/api/health", NULL, NULL, NULL), ==, 200);
}

static void unknown_routes_are_404_and_wrong_methods_405(void)
{
  expect_error("GET", "/api/nothing", AUTH, NULL, 404, "not_found");
  expect_error("GET", "/index.html", AUTH, NULL, 404, "not_found");
  expect_error("GET", "/api/sessions/0123456789abcdef", AUTH, NULL, 404,
               "not_found");
  expect_error("PUT", "/api/sessions", AUTH, "{}", 405,
               "method_not_allowed");
  expect_error("DELETE", "/api/health", AUTH, NULL, 405,
               "method_not_allowed");
  char path[128];
  snprintf(path, sizeof path, "/api/sessions/%s/events", sid);
  expect_error("POST", path, AUTH, "{}", 405, "method_not_allowed");
}

static void a_bad_field_type_is_400_naming_the_field(void)
{
  static const struct { const char *body, *field; } cases[] = {
    { "{\"model\": 5}", "\"model\"" },
    { "{\"provider\": true}", "\"provider\"" },
    { "{\"title\": {}}", "\"title\"" },
    { "{\"workspace\": [\"/\"]}", "\"workspace\"" },
    { "{\"tools\": 7}", "\"tools\"" },
    { "{\"max_turns\": \"ten\"}", "\"max_turns\"" },
    { "{\"max_tokens\": 0}", "\"max_tokens\"" },
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    cJSON *j = NULL;
    CHECK_INT(sc_call(port, "POST", "/api/sessions", AUTH, cases[i].body,
                      &j), ==, 400);
    CHECK_STR(code_of(j), "bad_request");
    CHECK_CONTAINS(sc_str(j, "error", "message"), cases[i].field);
    cJSON_Delete(j);
  }
}

/* Whether GET /api/sessions lists `id`, with `title` when not NULL. */
static int listed(const char *id, const char *title)
{
  cJSON *j = NULL;
  int found = 0;
  if (sc_call(port, "GET", "/api/sessions", AUTH, NULL, &j) != 200) return -1;
  const cJSON *s;
  cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(j, "sessions"))
    if (!strcmp(sc_str(s, "id", NULL), id))
      found = !title || !strcmp(sc_str(s, "title", NULL), title);
  cJSON_Delete(j);
  return found;
}

static void sessions_are_listed_and_deleted(void)
{
  char id[64], path[128];
  sc_create_session(port, AUTH, "{\"title\":\"to delete\"}", id, sizeof id);
  CHECK_INT(listed(id, "to delete"), ==, 1);
  expect_error("GET", "/api/sessions?limit=0", AUTH, NULL, 400,
               "bad_request");

  /* A subscriber hears of the deletion, then its stream ends. */
  snprintf(path, sizeof path, "/api/sessions/%s/events", id);
  hp_sse *s = hp_sse_open(port, path, AUTH, MS, NULL, NULL);
  CHECK(s != NULL);
  snprintf(path, sizeof path, "/api/sessions/%s", id);
  cJSON *j = NULL;
  CHECK_INT(sc_call(port, "GET", path, AUTH, NULL, &j), ==, 200);
  CHECK_STR(sc_str(j, "id", NULL), id);
  CHECK(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(j, "messages")));
  cJSON_Delete(j);
  CHECK_INT(sc_call(port, "DELETE", path, AUTH, NULL, NULL), ==, 204);
  if (s) {
    hp_sse_event ev;
    CHECK_INT(sse_next(s, &ev), ==, 1);
    CHECK_STR(ev.event, "session_deleted");
    CHECK_INT(sse_next(s, &ev), ==, 0);
    hp_sse_close(s);
  }
  expect_error("GET", path, AUTH, NULL, 404, "not_found");
  expect_error("DELETE", path, AUTH, NULL, 404, "not_found");
  CHECK_INT(listed(id, NULL), ==, 0);
  CHECK_INT(listed(sid, NULL), ==, 1);
}

/* GET /api/sessions/ID added its "messages" array next to the stored
 * row's "messages" count, so the object had the member twice: a client
 * reading the first got a number. The count is message_count now. */
static void a_session_has_one_messages_member(void)
{
  char path[128];
  snprintf(path, sizeof path, "/api/sessions/%s", sid);
  hp_response r;
  CHECK_INT(hp_request(port, "GET", path, AUTH, NULL, 0, &r, MS), ==, 0);
  CHECK_INT(r.status, ==, 200);
  const char *first = r.body ? strstr(r.body, "\"messages\":") : NULL;
  CHECK(first != NULL);
  CHECK(first && strstr(first + 1, "\"messages\":") == NULL);
  cJSON *j = cJSON_Parse(r.body ? r.body : "");
  CHECK(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(j, "messages")));
  CHECK(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(j, "message_count")));
  cJSON_Delete(j);
  hp_response_free(&r);
}

static const char UPGRADE[] =
    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Version: 13\r\n";

static void a_websocket_upgrade_without_the_key_is_401(void)
{
  cJSON *j = NULL;
  CHECK_INT(sc_call(port, "GET", "/api/ws", UPGRADE, NULL, &j), ==, 401);
  CHECK_STR(code_of(j), "unauthorized");
  cJSON_Delete(j);
  char wrong[512];
  snprintf(wrong, sizeof wrong, "%sAuthorization: Bearer nope-nope-nope\r\n",
           UPGRADE);
  CHECK_INT(sc_call(port, "GET", "/api/ws", wrong, NULL, &j), ==, 401);
  CHECK_STR(code_of(j), "unauthorized");
  cJSON_Delete(j);
  char host[512];
  snprintf(host, sizeof host, "%sHost: evil.example\r\n" AUTH, UPGRADE);
  CHECK_INT(sc_call(port, "GET", "/api/ws", host, NULL, &j), ==, 403);
  CHECK_STR(code_of(j), "forbidden_host");
  cJSON_Delete(j);

  int status = 0;
  hp_ws *w = hp_ws_open(port, "/api/ws", NULL, MS, &status);
  CHECK(w == NULL);
  CHECK_INT(status, ==, 401);
  hp_ws_drop(w);
  w = hp_ws_open(port, "/api/ws", AUTH, MS, &status);
  CHECK_INT(status, ==, 101);
  hp_ws_close(w);
}

/* The next WebSocket message as JSON (caller frees); NULL when none. */
static cJSON *ws_next(hp_ws *w)
{
  char *text = NULL;
  if (hp_ws_recv(w, &text, MS) != 1) return NULL;
  cJSON *j = cJSON_Parse(text);
  free(text);
  return j;
}

static void a_websocket_message_that_is_not_json_is_answered(void)
{
  int status = 0;
  hp_ws *w = hp_ws_open(port, "/api/ws?access_token=" KEY, NULL, MS,
                        &status);
  CHECK_INT(status, ==, 101);
  if (!w) return;
  CHECK_INT(hp_ws_send_text(w, "this is not json"), ==, 0);
  cJSON *j = ws_next(w);
  CHECK_STR(sc_str(j, "type", NULL), "reply");
  CHECK(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(j, "ok")));
  CHECK_STR(code_of(j), "bad_json");
  cJSON_Delete(j);

  CHECK_INT(hp_ws_send_text(w, "[1,2,3]"), ==, 0);
  j = ws_next(w);
  CHECK_STR(code_of(j), "bad_json");
  cJSON_Delete(j);

  CHECK_INT(hp_ws_send_text(w, "{\"op\":\"dance\",\"id\":\"d1\"}"), ==, 0);
  j = ws_next(w);
  CHECK(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(j, "ok")));
  CHECK_STR(code_of(j), "unknown_op");
  CHECK_STR(sc_str(j, "id", NULL), "d1");
  cJSON_Delete(j);

  char msg[256];
  snprintf(msg, sizeof msg,
           "{\"op\":\"subscribe\",\"session_id\":\"%s\",\"id\":7}", sid);
  CHECK_INT(hp_ws_send_text(w, msg), ==, 0);
  j = ws_next(w);
  CHECK_STR(sc_str(j, "type", NULL), "reply");
  CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "ok")));
  const cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "id");
  CHECK(cJSON_IsNumber(id) && id->valueint == 7);
  CHECK_STR(sc_str(j, "session_id", NULL), sid);
  cJSON_Delete(j);

  CHECK_INT(hp_ws_send_text(w, "{\"op\":\"subscribe\",\"session_id\":"
                               "\"ffffffffffffffff\",\"id\":8}"), ==, 0);
  j = ws_next(w);
  CHECK_STR(code_of(j), "not_found");
  cJSON_Delete(j);
  hp_ws_close(w);
}

static void the_server_survived_and_stops_on_sigterm(void)
{
  CHECK_INT(sc_call(port, "GET", "/api/health", NULL, NULL, NULL), ==, 200);
  /* A WebSocket client is told the server is going away (1001). */
  int wstatus = 0;
  hp_ws *w = hp_ws_open(port, "/api/ws", AUTH, MS, &wstatus);
  CHECK_INT(wstatus, ==, 101);
  int elapsed = 0;
  kill(sp.pid, SIGTERM);
  char *msg = NULL;
  int got_ws = w ? hp_ws_recv(w, &msg, MS) : -1;
  free(msg);
  CHECK_INT(got_ws, ==, 0);
  if (w) CHECK_INT(hp_ws_close_code(w), ==, 1001);
  hp_ws_close(w);
  sc_stop(&sp, &elapsed);
  CHECK_INT(elapsed, <, 5000);
  /* Nothing on stdout past the ready line. */
  char rest[256];
  ssize_t got = sp.out_fd >= 0 ? read(sp.out_fd, rest, sizeof rest) : -1;
  CHECK_INT(got, ==, 0);
  char *log = serve_stderr(&sp);
  CHECK(strstr(log, KEY) == NULL);
  CHECK(strstr(log, "stop deadline") == NULL);
  free(log);
  serve_cleanup(&sp);
}

int main(void)
{
  cac_setup(&ce);
  write_config("'" ALLOWED "'");
  RUN(the_ready_line_is_all_of_stdout);
  RUN(a_remote_listen_needs_allow_remote);
  RUN(allow_remote_needs_the_key_in_the_environment);
  RUN(a_port_in_use_is_an_error_not_a_crash);
  RUN(a_generated_key_file_is_private_and_works);
  RUN(health_answers_without_a_key);
  if (port) {
    RUN(routes_but_health_need_the_key);
    RUN(the_event_stream_takes_access_token);
    RUN(after_is_read_behind_a_long_access_token);
    RUN(a_foreign_host_is_forbidden);
    RUN(origins_are_checked_against_the_config);
    RUN(sighup_reloads_the_origins);
    RUN(an_oversized_body_is_413);
    RUN(bodies_that_are_not_a_json_object_are_400);
    RUN(unknown_routes_are_404_and_wrong_methods_405);
    RUN(a_bad_field_type_is_400_naming_the_field);
    RUN(sessions_are_listed_and_deleted);
    RUN(a_session_has_one_messages_member);
    RUN(a_websocket_upgrade_without_the_key_is_401);
    RUN(a_websocket_message_that_is_not_json_is_answered);
    RUN(the_server_survived_and_stops_on_sigterm);
  }
  serve_cleanup(&sp);
  cac_teardown(&ce);
  return check_report();
}
