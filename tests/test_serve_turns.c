/*
 * tests/test_serve_turns.c: turns through `portico serve`, the real binary
 * with the bundled claude provider pointed at a fake Anthropic API in this
 * process, the bundled tools plugin and the shipped default policy, which
 * asks about a shell command that writes a file. A turn is driven over
 * REST with its events on SSE, and over the WebSocket; a client that
 * reconnects is sent the rest of the log from the store; SIGTERM and
 * cancel stop a turn whose upstream stream has stalled.
 *
 * The HTTP surface without turns (keys, Host, Origin, bodies, routes) is
 * tests/test_serve_http.c's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <sqlite3.h>

#include "chat_agent_cases.h"
#include "check.h"
#include "harness.h"
#include "http_probe.h"
#include "serve_cases.h"
#include "serve_proc.h"
#include "store/store.h"

#define MS SC_MS
#define KEY "serve-turns-test-key-0123456789"
#define AUTH "Authorization: Bearer " KEY "\r\n"

static cac_env ce;
static fake_anthropic *fa;
static serve_proc sp = { .pid = -1, .out_fd = -1 };
static int port;

static const cac_step CAT_NOTE = {
  .id = "toolu_1", .name = "shell_exec",
  .args = "{\"command\":\"echo hi > made.txt; cat note.txt\"}" };

/* ---- The fake's scripts ----------------------------------------------- */

static void text_reply(void *ud, fake_http_response *res)
{
  fa_sse e = { 0 };
  fa_sse_message_start(&e, 10, 0, 0);
  fa_sse_text_start(&e, 0);
  fa_sse_text_delta(&e, 0, ud);
  fa_sse_block_stop(&e, 0);
  fa_sse_message_delta(&e, "end_turn", 5);
  fa_sse_message_stop(&e);
  fake_anthropic_send_stream(res, &e, 0);
  fa_sse_free(&e);
}

/* A few words, then nothing for 30 s: a turn that is surely still running
 * when the test stops it. */
static void stalling_reply(void *ud, fake_http_response *res)
{
  (void)ud;
  fa_sse e = { 0 };
  fa_sse_message_start(&e, 10, 0, 0);
  fa_sse_text_start(&e, 0);
  fa_sse_text_delta(&e, 0, "one ");
  fa_sse_text_delta(&e, 0, "two ");
  fa_sse_text_delta(&e, 0, "three ");
  fake_anthropic_stream_head(res);
  fake_anthropic_send_split(res, e.text, e.len, 0);
  fa_sse_free(&e);
  fake_http_wait(res, 30000);
  fa_sse_block_stop(&e, 0);
  fa_sse_message_delta(&e, "end_turn", 5);
  fa_sse_message_stop(&e);
  fake_anthropic_send_split(res, e.text, e.len, 0);
  fake_http_chunk_end(res);
  fa_sse_free(&e);
}

/* ---- The server ------------------------------------------------------- */

static int start_server(void)
{
  const char *argv[] = { "--no-default-plugins", "--plugins", ce.dir,
                         "-p", "claude", "-m", "claude-sonnet-4-5",
                         "--tools", "tools", "--workspace", ce.ws, NULL };
  port = sc_start(&sp, &ce, "PORTICO_API_KEY=" KEY, argv);
  return port != 0;
}

/* A fake with `first` (may be NULL) then the closing answer, and a server
 * using it. */
static int start(const cac_step *first)
{
  fa = cac_fake_start(&ce, first, "");
  return start_server();
}

/* A fake whose first reply stalls and whose later ones say "Back again." */
static int start_stalling(void)
{
  fa = fake_anthropic_start();
  fake_anthropic_push(fa, stalling_reply, NULL);
  fake_anthropic_push(fa, text_reply, "Back again.");
  char lua[1024];
  snprintf(lua, sizeof lua,
           "return { plugins = { claude = { base_url = '%s', api_key = 'k',"
           " max_attempts = 1 } } }\n", fake_anthropic_url(fa));
  free(h_write_config(ce.dir, lua));
  return start_server();
}

/* SIGTERM: the server must exit 0. */
static void stop(void)
{
  if (sp.pid > 0) sc_stop(&sp, NULL);
  serve_cleanup(&sp);
  if (fa) fake_anthropic_stop(fa);
  fa = NULL;
  port = 0;
  char made[4200];
  snprintf(made, sizeof made, "%s/made.txt", ce.ws);
  unlink(made);
}

/* ---- Requests --------------------------------------------------------- */

/* sc_call with this file's key. */
static int call(const char *method, const char *path, const char *body,
                cJSON **json)
{
  return sc_call(port, method, path, AUTH, body, json);
}

static void create_session(char *id, size_t cap)
{
  sc_create_session(port, AUTH, "{\"title\":\"turns\"}", id, cap);
}

/* POST a message; returns the turn id (0 when refused). */
static long long prompt(const char *id, const char *text)
{
  char path[128], body[256];
  snprintf(path, sizeof path, "/api/sessions/%s/messages", id);
  snprintf(body, sizeof body, "{\"text\":\"%s\"}", text);
  cJSON *j = NULL;
  CHECK_INT(call("POST", path, body, &j), ==, 202);
  long long turn = (long long)sc_num(j, "turn_id");
  CHECK_INT(turn, >, 0);
  cJSON_Delete(j);
  return turn > 0 ? turn : 0;
}

/* ---- Events ----------------------------------------------------------- */

/* The event stream of session `id` with `extra` headers ("" or
 * Last-Event-ID) and `query` ("" or "?after=N"). */
static hp_sse *events(const char *id, const char *extra, const char *query)
{
  char headers[256];
  snprintf(headers, sizeof headers, AUTH "%s", extra);
  return sc_events(port, id, headers, query);
}

/* Read events into `log` ({"id","event","text","data"} each) until one of
 * `type` came; returns its data (borrowed from log), or NULL when the
 * stream ended or went quiet first. */
static const cJSON *sse_until(hp_sse *s, cJSON *log, const char *type)
{
  hp_sse_event ev;
  while (s && hp_sse_next(s, &ev, MS) == 1) {
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "id", ev.id);
    cJSON_AddStringToObject(e, "event", ev.event);
    cJSON_AddStringToObject(e, "text", ev.data);
    cJSON *data = cJSON_Parse(ev.data);
    CHECK(cJSON_IsObject(data));
    CHECK_STR(sc_str(data, "type", NULL), ev.event);
    cJSON_AddItemToObject(e, "data", data ? data : cJSON_CreateNull());
    cJSON_AddItemToArray(log, e);
    if (!strcmp(ev.event, type))
      return cJSON_GetObjectItemCaseSensitive(e, "data");
  }
  return NULL;
}

/* The data of the first logged event of `type`, or NULL. */
static const cJSON *logged(const cJSON *log, const char *type)
{
  const cJSON *e;
  cJSON_ArrayForEach(e, log)
    if (!strcmp(sc_str(e, "event", NULL), type))
      return cJSON_GetObjectItemCaseSensitive(e, "data");
  return NULL;
}

/* The text of every logged "text" event, joined. */
static void logged_text(const cJSON *log, char *out, size_t cap)
{
  size_t n = 0;
  out[0] = '\0';
  const cJSON *e;
  cJSON_ArrayForEach(e, log)
    if (!strcmp(sc_str(e, "event", NULL), "text") && n < cap)
      n += (size_t)snprintf(out + n, cap - n, "%s",
                            sc_str(cJSON_GetObjectItemCaseSensitive(e, "data"),
                                   "text", NULL));
}

/* Each logged id is one more than the one before. */
static int ids_consecutive(const cJSON *log)
{
  long prev = -1;
  const cJSON *e;
  cJSON_ArrayForEach(e, log) {
    long id = strtol(sc_str(e, "id", NULL), NULL, 10);
    if (prev >= 0 && id != prev + 1) return 0;
    prev = id;
  }
  return prev > 0;
}

static int file_exists(const char *dir, const char *name)
{
  char path[4200];
  struct stat st;
  snprintf(path, sizeof path, "%s/%s", dir, name);
  return stat(path, &st) == 0;
}

/* ---- Cases ------------------------------------------------------------ */

static void a_turn_over_rest_and_sse_asks_and_is_allowed(void)
{
  if (!start(&CAT_NOTE)) return;
  char id[64], path[256];
  create_session(id, sizeof id);
  hp_sse *s = events(id, "", "");
  long long turn = prompt(id, "read the note");
  cJSON *log = cJSON_CreateArray();

  const cJSON *ask = sse_until(s, log, "permission_request");
  CHECK(ask != NULL);
  CHECK_STR(sc_str(ask, "tool", NULL), "shell_exec");
  CHECK_STR(sc_str(ask, "id", NULL), "toolu_1");
  CHECK_CONTAINS(sc_str(ask, "arguments", "command"), "made.txt");
  const cJSON *start_ev = logged(log, "turn_start");
  CHECK(start_ev != NULL);
  CHECK_INT(sc_num(start_ev, "turn_id"), ==, turn);
  const cJSON *decision = logged(log, "permission");
  CHECK_STR(sc_str(decision, "decision", NULL), "ask");
  CHECK(!file_exists(ce.ws, "made.txt"));

  cJSON *j = NULL;
  CHECK_INT(call("GET", "/api/permissions", NULL, &j), ==, 200);
  const cJSON *list = cJSON_GetObjectItemCaseSensitive(j, "permissions");
  CHECK_INT(cJSON_GetArraySize(list), ==, 1);
  const cJSON *p = cJSON_GetArrayItem(list, 0);
  CHECK_STR(sc_str(p, "id", NULL), "toolu_1");
  CHECK_STR(sc_str(p, "session_id", NULL), id);
  CHECK_STR(sc_str(p, "tool", NULL), "shell_exec");
  cJSON_Delete(j);
  snprintf(path, sizeof path, "/api/sessions/%s/permissions", id);
  CHECK_INT(call("GET", path, NULL, &j), ==, 200);
  CHECK_INT(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(
                j, "permissions")), ==, 1);
  cJSON_Delete(j);

  snprintf(path, sizeof path, "/api/sessions/%s/permissions/toolu_1", id);
  CHECK_INT(call("POST", path, "{\"answer\":\"perhaps\"}", NULL), ==, 400);
  CHECK_INT(call("POST", path, "{\"answer\":\"allow_once\"}", &j), ==, 200);
  CHECK_STR(sc_str(j, "answer", NULL), "allow_once");
  cJSON_Delete(j);
  CHECK_INT(call("POST", path, "{\"answer\":\"allow_once\"}", NULL), ==,
            404);

  const cJSON *end = sse_until(s, log, "turn_end");
  CHECK(end != NULL);
  CHECK_STR(sc_str(end, "stop_reason", NULL), "end_turn");
  CHECK_INT(sc_num(end, "turn_id"), ==, turn);
  const cJSON *result = logged(log, "tool_result");
  CHECK(result != NULL);
  CHECK(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(result, "is_error")));
  CHECK_CONTAINS(sc_str(result, "content", NULL), "hello from the note");
  CHECK(logged(log, "tool_call") != NULL);
  CHECK(logged(log, "usage") != NULL);
  CHECK(logged(log, "done") != NULL);
  char text[1024];
  logged_text(log, text, sizeof text);
  CHECK_CONTAINS(text, "The note says hello.");
  CHECK(ids_consecutive(log));
  CHECK_STR(sc_str(cJSON_GetArrayItem(log, 0), "event", NULL), "turn_start");
  CHECK(file_exists(ce.ws, "made.txt"));
  CHECK_INT(fake_anthropic_request_count(fa), ==, 2);

  CHECK_INT(call("GET", "/api/permissions", NULL, &j), ==, 200);
  CHECK_INT(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(
                j, "permissions")), ==, 0);
  cJSON_Delete(j);
  snprintf(path, sizeof path, "/api/sessions/%s", id);
  CHECK_INT(call("GET", path, NULL, &j), ==, 200);
  CHECK(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(j, "running")));
  CHECK_STR(sc_str(j, "last_turn_status", NULL), "done");
  const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(j, "messages");
  CHECK(cJSON_IsArray(msgs));
  CHECK_INT(cJSON_GetArraySize(msgs), >=, 4);
  CHECK_STR(sc_str(cJSON_GetArrayItem(msgs, 0), "role", NULL), "user");
  char *all = cJSON_PrintUnformatted(msgs);
  CHECK_CONTAINS(all, "read the note");
  CHECK_CONTAINS(all, "hello from the note");
  CHECK_CONTAINS(all, "The note says hello.");
  free(all);
  cJSON_Delete(j);
  cJSON_Delete(log);
  hp_sse_close(s);
  stop();
}

/* Read WebSocket messages into `log` until the reply with `reply_id`
 * (when >= 0) or the event of `type` (when not NULL); returns it (borrowed
 * from log), NULL when the socket ended or went quiet first. */
static const cJSON *ws_until(hp_ws *w, cJSON *log, int reply_id,
                             const char *type)
{
  char *text;
  while (w && hp_ws_recv(w, &text, MS) == 1) {
    cJSON *m = cJSON_Parse(text);
    free(text);
    CHECK(cJSON_IsObject(m));
    if (!m) continue;
    cJSON_AddItemToArray(log, m);
    const char *kind = sc_str(m, "type", NULL);
    if (reply_id >= 0 && !strcmp(kind, "reply") &&
        sc_num(m, "id") == reply_id)
      return m;
    const cJSON *ev = cJSON_GetObjectItemCaseSensitive(m, "event");
    if (type && !strcmp(kind, "event") && !strcmp(sc_str(ev, "type", NULL),
                                                  type))
      return ev;
  }
  return NULL;
}

static void a_turn_over_websocket_is_denied(void)
{
  if (!start(&CAT_NOTE)) return;
  char id[64], msg[512];
  create_session(id, sizeof id);
  int status = 0;
  hp_ws *w = hp_ws_open(port, "/api/ws", AUTH, MS, &status);
  CHECK_INT(status, ==, 101);
  cJSON *log = cJSON_CreateArray();

  snprintf(msg, sizeof msg,
           "{\"op\":\"subscribe\",\"session_id\":\"%s\",\"id\":1}", id);
  CHECK(w && hp_ws_send_text(w, msg) == 0);
  const cJSON *r = ws_until(w, log, 1, NULL);
  CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "ok")));
  snprintf(msg, sizeof msg, "{\"op\":\"prompt\",\"session_id\":\"%s\","
           "\"text\":\"go\",\"id\":2}", id);
  CHECK(w && hp_ws_send_text(w, msg) == 0);
  r = ws_until(w, log, 2, NULL);
  CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "ok")));
  double turn = sc_num(r, "turn_id");
  CHECK(turn > 0);

  const cJSON *ask = ws_until(w, log, -1, "permission_request");
  CHECK(ask != NULL);
  CHECK_STR(sc_str(ask, "tool", NULL), "shell_exec");
  snprintf(msg, sizeof msg, "{\"op\":\"permission\",\"session_id\":\"%s\","
           "\"call_id\":\"%s\",\"answer\":\"deny\",\"id\":3}", id,
           sc_str(ask, "id", NULL));
  CHECK(w && hp_ws_send_text(w, msg) == 0);
  r = ws_until(w, log, 3, NULL);
  CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "ok")));

  const cJSON *end = ws_until(w, log, -1, "turn_end");
  CHECK(end != NULL);
  CHECK_STR(sc_str(end, "stop_reason", NULL), "end_turn");
  CHECK(sc_num(end, "turn_id") == turn);
  /* Every event: this session, numbered one after another. */
  const cJSON *result = NULL, *m;
  double prev = -1;
  cJSON_ArrayForEach(m, log) {
    if (strcmp(sc_str(m, "type", NULL), "event")) continue;
    CHECK_STR(sc_str(m, "session_id", NULL), id);
    double seq = sc_num(m, "seq");
    CHECK(prev < 0 || seq == prev + 1);
    prev = seq;
    const cJSON *ev = cJSON_GetObjectItemCaseSensitive(m, "event");
    if (!result && !strcmp(sc_str(ev, "type", NULL), "tool_result"))
      result = ev;
  }
  CHECK(result != NULL);
  CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(result, "is_error")));
  CHECK(!file_exists(ce.ws, "made.txt"));
  CHECK_INT(fake_anthropic_request_count(fa), ==, 2);
  const fake_anthropic_request *q = fake_anthropic_request_at(fa, 1);
  CHECK_CONTAINS(q ? q->body : "", "\"is_error\":true");

  /* An answer to an ask that is no more. */
  snprintf(msg, sizeof msg, "{\"op\":\"permission\",\"session_id\":\"%s\","
           "\"call_id\":\"toolu_1\",\"answer\":\"deny\",\"id\":4}", id);
  CHECK(w && hp_ws_send_text(w, msg) == 0);
  r = ws_until(w, log, 4, NULL);
  CHECK(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(r, "ok")));
  CHECK_STR(sc_str(r, "error", "code"), "not_found");
  cJSON_Delete(log);
  hp_ws_close(w);
  stop();
}

/* Read from `s` the events of `log` from index `from` on, each with the
 * same id, type and data; then nothing more for a while. */
static void expect_replay(hp_sse *s, const cJSON *log, int from)
{
  int n = cJSON_GetArraySize(log);
  for (int i = from; i < n; i++) {
    const cJSON *want = cJSON_GetArrayItem(log, i);
    hp_sse_event ev;
    int rc = s ? hp_sse_next(s, &ev, MS) : -1;
    CHECK_INT(rc, ==, 1);
    if (rc != 1) return;
    CHECK_STR(ev.id, sc_str(want, "id", NULL));
    CHECK_STR(ev.event, sc_str(want, "event", NULL));
    CHECK_STR(ev.data, sc_str(want, "text", NULL));
  }
  hp_sse_event ev;
  CHECK_INT(hp_sse_next(s, &ev, 700), ==, -1);
}

static void a_reconnecting_client_gets_the_rest_of_the_log(void)
{
  if (!start(NULL)) return;
  char id[64];
  create_session(id, sizeof id);
  hp_sse *s = events(id, "", "?after=0");
  prompt(id, "hello");
  cJSON *log = cJSON_CreateArray();
  CHECK(sse_until(s, log, "turn_end") != NULL);
  hp_sse_close(s);
  int n = cJSON_GetArraySize(log);
  CHECK_INT(n, >=, 6);
  CHECK_STR(sc_str(cJSON_GetArrayItem(log, 0), "id", NULL), "1");
  CHECK_STR(sc_str(cJSON_GetArrayItem(log, 0), "event", NULL),
            "session_created");
  CHECK(ids_consecutive(log));
  if (n < 6) {
    cJSON_Delete(log);
    stop();
    return;
  }
  const char *third = sc_str(cJSON_GetArrayItem(log, 2), "id", NULL);
  char leid[64];
  snprintf(leid, sizeof leid, "Last-Event-ID: %s\r\n", third);

  s = events(id, leid, "");
  expect_replay(s, log, 3);
  hp_sse_close(s);
  s = events(id, "", "?after=0");
  expect_replay(s, log, 0);
  hp_sse_close(s);
  /* The header wins over the query. */
  s = events(id, leid, "?after=0");
  expect_replay(s, log, 3);
  hp_sse_close(s);
  /* Caught up already: nothing. */
  snprintf(leid, sizeof leid, "Last-Event-ID: %d\r\n", n);
  s = events(id, leid, "");
  expect_replay(s, log, n);
  hp_sse_close(s);

  /* A WebSocket subscription from the same point gets the same events. */
  hp_ws *w = hp_ws_open(port, "/api/ws", AUTH, MS, NULL);
  char msg[256];
  snprintf(msg, sizeof msg, "{\"op\":\"subscribe\",\"session_id\":\"%s\","
           "\"after\":3,\"id\":1}", id);
  CHECK(w && hp_ws_send_text(w, msg) == 0);
  cJSON *wlog = cJSON_CreateArray();
  const cJSON *r = ws_until(w, wlog, 1, NULL);
  CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "ok")));
  CHECK(ws_until(w, wlog, -1, "turn_end") != NULL);
  int k = 3;
  const cJSON *m;
  cJSON_ArrayForEach(m, wlog) {
    if (strcmp(sc_str(m, "type", NULL), "event")) continue;
    const cJSON *want = cJSON_GetArrayItem(log, k++);
    CHECK(sc_num(m, "seq") == strtol(sc_str(want, "id", NULL), NULL, 10));
    CHECK(cJSON_Compare(cJSON_GetObjectItemCaseSensitive(m, "event"),
                        cJSON_GetObjectItemCaseSensitive(want, "data"), 1));
  }
  CHECK_INT(k, ==, n);
  cJSON_Delete(wlog);
  hp_ws_close(w);

  /* And from a server started again on the same store. */
  if (sp.pid > 0) sc_stop(&sp, NULL);
  serve_cleanup(&sp);
  if (start_server()) {
    snprintf(leid, sizeof leid, "Last-Event-ID: %s\r\n", third);
    s = events(id, leid, "");
    expect_replay(s, log, 3);
    hp_sse_close(s);
  }
  cJSON_Delete(log);
  stop();
}

static void sigterm_mid_turn_exits_in_time_and_keeps_the_store(void)
{
  if (!start_stalling()) return;
  char id[64];
  create_session(id, sizeof id);
  hp_sse *s = events(id, "", "");
  prompt(id, "count slowly");
  cJSON *log = cJSON_CreateArray();
  CHECK(sse_until(s, log, "text") != NULL);

  int elapsed = 0;
  sc_stop(&sp, &elapsed);
  CHECK_INT(elapsed, <, 5000);
  /* The client was sent how the turn ended, then the end of the stream. */
  const cJSON *end = sse_until(s, log, "turn_end");
  CHECK_STR(sc_str(end, "stop_reason", NULL), "cancelled");
  hp_sse_event ev;
  CHECK_INT(s ? hp_sse_next(s, &ev, MS) : -1, ==, 0);
  hp_sse_close(s);
  char *err = serve_stderr(&sp);
  CHECK_CONTAINS(err, "SIGTERM: stopping (1 turn cancelled)");
  /* The orderly stop, not the deadline's _exit. */
  CHECK(err && strstr(err, "stop deadline") == NULL);
  free(err);

  /* Read only: opening for writing would mark the turn interrupted
   * itself, hiding whether the server did. */
  pt_store_options o = { .flags = PT_STORE_READONLY };
  pt_store *st = NULL;
  char msg[1024] = "";
  CHECK_INT(pt_store_open_dir(ce.dir, &o, &st, msg, sizeof msg), ==, PT_OK);
  cJSON *row = NULL;
  if (st) CHECK_INT(pt_store_session_get(st, id, &row), ==, PT_OK);
  CHECK_STR(sc_str(row, "last_turn_status", NULL), "interrupted");
  cJSON_Delete(row);
  cJSON *msgs = NULL;
  if (st) CHECK_INT(pt_store_messages(st, id, 0, &msgs), ==, PT_OK);
  char *all = msgs ? cJSON_PrintUnformatted(msgs) : NULL;
  CHECK_CONTAINS(all, "count slowly");
  CHECK_CONTAINS(all, "one two");
  free(all);
  cJSON_Delete(msgs);
  pt_store_close(st);

  char path[4200];
  snprintf(path, sizeof path, "%s/%s", ce.dir, PT_STORE_FILE);
  sqlite3 *db = NULL;
  CHECK_INT(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), ==,
            SQLITE_OK);
  sqlite3_stmt *q = NULL;
  CHECK_INT(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &q, NULL),
            ==, SQLITE_OK);
  CHECK_INT(sqlite3_step(q), ==, SQLITE_ROW);
  CHECK_STR((const char *)sqlite3_column_text(q, 0), "ok");
  sqlite3_finalize(q);
  sqlite3_close(db);
  cJSON_Delete(log);
  stop();
}

static void cancel_ends_a_turn_and_a_second_prompt_is_409(void)
{
  if (!start_stalling()) return;
  char id[64], path[256];
  create_session(id, sizeof id);
  hp_sse *s = events(id, "", "");
  long long turn = prompt(id, "count slowly");
  cJSON *log = cJSON_CreateArray();
  CHECK(sse_until(s, log, "text") != NULL);

  cJSON *j = NULL;
  snprintf(path, sizeof path, "/api/sessions/%s/messages", id);
  CHECK_INT(call("POST", path, "{\"text\":\"and another\"}", &j), ==, 409);
  CHECK_STR(sc_str(j, "error", "code"), "busy");
  cJSON_Delete(j);
  snprintf(path, sizeof path, "/api/sessions/%s", id);
  CHECK_INT(call("GET", path, NULL, &j), ==, 200);
  CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "running")));
  CHECK_INT(sc_num(j, "turn_id"), ==, turn);
  cJSON_Delete(j);
  CHECK_INT(call("DELETE", path, NULL, NULL), ==, 409);

  snprintf(path, sizeof path, "/api/sessions/%s/cancel", id);
  CHECK_INT(call("POST", path, NULL, &j), ==, 200);
  CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "cancelled")));
  CHECK_INT(sc_num(j, "turn_id"), ==, turn);
  cJSON_Delete(j);
  const cJSON *end = sse_until(s, log, "turn_end");
  CHECK_STR(sc_str(end, "stop_reason", NULL), "cancelled");
  CHECK_INT(sc_num(end, "turn_id"), ==, turn);
  CHECK_INT(call("POST", path, NULL, &j), ==, 200);
  CHECK(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(j, "cancelled")));
  cJSON_Delete(j);

  snprintf(path, sizeof path, "/api/sessions/%s", id);
  CHECK_INT(call("GET", path, NULL, &j), ==, 200);
  CHECK(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(j, "running")));
  CHECK_STR(sc_str(j, "last_turn_status", NULL), "interrupted");
  cJSON_Delete(j);

  /* The session takes the next prompt. */
  long long next = prompt(id, "again");
  CHECK_INT(next, >, turn);
  end = sse_until(s, log, "turn_end");
  CHECK_STR(sc_str(end, "stop_reason", NULL), "end_turn");
  char text[1024];
  logged_text(log, text, sizeof text);
  CHECK_CONTAINS(text, "Back again.");
  cJSON_Delete(log);
  hp_sse_close(s);
  stop();
}

int main(void)
{
  cac_setup(&ce);
  RUN(a_turn_over_rest_and_sse_asks_and_is_allowed);
  RUN(a_turn_over_websocket_is_denied);
  RUN(a_reconnecting_client_gets_the_rest_of_the_log);
  RUN(sigterm_mid_turn_exits_in_time_and_keeps_the_store);
  RUN(cancel_ends_a_turn_and_a_second_prompt_is_409);
  cac_teardown(&ce);
  return check_report();
}
