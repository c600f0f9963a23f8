/*
 * tests/test_store_durability.c: what survives a crash, and what readers
 * see while a writer writes.
 *
 * The real `portico chat` is killed with SIGKILL at random moments of
 * streaming turns, many times: afterwards the file passes integrity_check,
 * every finished message is whole, every cut-off reply holds at least
 * what the chat had shown (but for the fragment in flight) and is marked
 * interrupted. Readers in another thread and other processes see whole
 * transactions only. A turn whose process is alive is never marked
 * interrupted by another process.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "check.h"
#include "harness.h"
#include "run_cmd.h"
#include "store/store.h"

#define KILLS 30

static char *plugins, *data;
static char env_config[4200];
static const char *env[2];

static pt_store *open_store(void)
{
  pt_store *st;
  char err[1024];
  if (pt_store_open_dir(data, NULL, &st, err, sizeof err) != PT_OK) {
    fprintf(stderr, "open: %s\n", err);
    abort();
  }
  return st;
}

static int integrity_ok(void)
{
  char path[4200];
  snprintf(path, sizeof path, "%s/portico.db", data);
  sqlite3 *db;
  sqlite3_stmt *s;
  int ok = 0;
  sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL);
  if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &s, NULL) ==
      SQLITE_OK) {
    ok = sqlite3_step(s) == SQLITE_ROW &&
         !strcmp((const char *)sqlite3_column_text(s, 0), "ok") &&
         sqlite3_step(s) == SQLITE_DONE;
    sqlite3_finalize(s);
  }
  sqlite3_close(db);
  return ok;
}

/* The text of a message: its content string, or its text parts joined. */
static void message_text(const cJSON *m, char *out, size_t cap)
{
  const cJSON *c = cJSON_GetObjectItem(m, "content"), *p;
  out[0] = '\0';
  if (cJSON_IsString(c)) {
    snprintf(out, cap, "%s", c->valuestring);
    return;
  }
  cJSON_ArrayForEach(p, c) {
    const char *t = cJSON_GetStringValue(cJSON_GetObjectItem(p, "text"));
    if (t) strncat(out, t, cap - strlen(out) - 1);
  }
}

/* Read what the child prints until `fd` closes. Returns 1 once the session
 * line has come when `until_session`, else at EOF. */
static int drain(int fd, char *buf, size_t cap, int until_session)
{
  for (;;) {
    size_t len = strlen(buf);
    char *s = strstr(buf, "{\"type\":\"session\"");
    if (until_session && s && strchr(s, '\n')) return 1;
    struct pollfd p = { fd, POLLIN, 0 };
    if (poll(&p, 1, 20000) <= 0) return 0;
    ssize_t got = read(fd, buf + len, cap - 1 - len);
    if (got <= 0) return 0;
    buf[len + (size_t)got] = '\0';
  }
}

typedef struct run_seen {
  char id[PT_STORE_ID_LEN];
  char prompt[400];
  char shown[4096];      /* reply text the chat printed before it died */
  int done;              /* it printed the reply's end */
} run_seen;

static void parse_output(char *out, run_seen *r)
{
  for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
    cJSON *o = cJSON_Parse(line);
    const char *type = cJSON_GetStringValue(cJSON_GetObjectItem(o, "type"));
    if (type && !strcmp(type, "session"))
      snprintf(r->id, sizeof r->id, "%s",
               cJSON_GetStringValue(cJSON_GetObjectItem(o, "id")));
    else if (type && !strcmp(type, "text"))
      strncat(r->shown, cJSON_GetStringValue(cJSON_GetObjectItem(o, "text")),
              sizeof r->shown - strlen(r->shown) - 1);
    else if (type && !strcmp(type, "done"))
      r->done = 1;
    cJSON_Delete(o);
  }
}

/* What the echo provider streams back for a one-message chat. */
static char *expected_reply(const char *prompt)
{
  cJSON *req = cJSON_CreateObject();
  cJSON_AddStringToObject(req, "model", "echo-1");
  cJSON *msgs = cJSON_AddArrayToObject(req, "messages");
  cJSON *m = cJSON_CreateObject();
  cJSON_AddStringToObject(m, "role", "user");
  cJSON_AddStringToObject(m, "content", prompt);
  cJSON_AddItemToArray(msgs, m);
  char *text = cJSON_PrintUnformatted(req);
  cJSON_Delete(req);
  return text;
}

static void a_kill_mid_stream_loses_only_the_fragment_in_flight(void)
{
  static run_seen runs[KILLS];
  static char out[65536];
  unsigned seed = (unsigned)time(NULL);
  fprintf(stderr, "     (seed %u)\n", seed);
  srand(seed);
  for (int i = 0; i < KILLS; i++) {
    run_seen *r = &runs[i];
    memset(r, 0, sizeof *r);
    snprintf(r->prompt, sizeof r->prompt,
             "run %d: the quick brown fox jumps over the lazy dog while the "
             "storage layer keeps every finished message and loses at most "
             "the fragment in flight when the process is killed at a random "
             "moment of its streaming turn",
             i);
    const char *argv[] = { "--data-dir", data, "--no-default-plugins",
                           "--plugins", plugins, "chat", "--json", "-m",
                           "echo-1", r->prompt, NULL };
    int fd;
    out[0] = '\0';
    pid_t pid = start_portico(argv, env, &fd);
    CHECK(drain(fd, out, sizeof out, 1));
    /* The reply streams for about 150 ms; some kills land after it. */
    usleep((useconds_t)(rand() % 180) * 1000);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    drain(fd, out, sizeof out, 0);
    close(fd);
    parse_output(out, r);
    CHECK(r->id[0] != '\0');
  }
  CHECK(integrity_ok());

  pt_store *st = open_store(); /* marks the cut-off turns */
  int cut = 0, whole = 0;
  for (int i = 0; i < KILLS; i++) {
    run_seen *r = &runs[i];
    cJSON *msgs = NULL;
    if (pt_store_messages(st, r->id, 0, &msgs) != PT_OK) {
      check_fail(__FILE__, __LINE__, "run %d: %s", i, pt_store_errmsg(st));
      continue;
    }
    CHECK_INT(cJSON_GetArraySize(msgs), ==, 2);
    cJSON *user = cJSON_GetArrayItem(msgs, 0), *reply = cJSON_GetArrayItem(msgs, 1);
    char text[8192];
    message_text(user, text, sizeof text);
    CHECK_STR(text, r->prompt);
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(user, "status")),
              "complete");
    char *want = expected_reply(r->prompt);
    message_text(reply, text, sizeof text);
    const char *status =
        cJSON_GetStringValue(cJSON_GetObjectItem(reply, "status"));
    const char *turn =
        cJSON_GetStringValue(cJSON_GetObjectItem(reply, "turn_status"));
    /* Never more than was produced, never less than was shown but for
     * the one 4-byte fragment in flight. */
    CHECK(strncmp(text, want, strlen(text)) == 0);
    CHECK(strncmp(r->shown, want, strlen(r->shown)) == 0);
    if (strlen(text) + 4 < strlen(r->shown))
      check_fail(__FILE__, __LINE__, "run %d kept %zu bytes, showed %zu", i,
                 strlen(text), strlen(r->shown));
    if (r->done) {
      CHECK_STR(status, "complete");
      CHECK_STR(text, want);
      CHECK_STR(turn, "done");
    }
    if (!strcmp(status, "complete")) {
      whole++;
      CHECK_STR(text, want);
    } else {
      cut++;
      CHECK_STR(status, "interrupted");
      CHECK_STR(turn, "interrupted");
    }
    free(want);
    cJSON_Delete(msgs);
  }
  fprintf(stderr, "     (%d replies cut off, %d whole)\n", cut, whole);
  CHECK(cut >= KILLS / 4);
  pt_store_close(st);

  /* A cut-off session continues, its partial reply sent again. */
  run_seen *last = NULL;
  for (int i = 0; i < KILLS; i++)
    if (!runs[i].done && runs[i].shown[0]) last = &runs[i];
  if (last) {
    cmd_result *res = malloc(sizeof *res);
    const char *argv[] = { "--data-dir", data, "--no-default-plugins",
                           "--plugins", plugins, "chat", "--session",
                           last->id, "go on", NULL };
    run_portico(res, argv, env);
    CHECK_INT(res->status, ==, 0);
    CHECK_CONTAINS(res->out, "{\"role\":\"assistant\",\"content\":\"{\\\"model");
    CHECK_CONTAINS(res->out, "\"content\":\"go on\"}]}");
    free(res);
  }
}

/* ------------------------------------------------------------------------ */

#define ROUNDS 150

static char session_id[PT_STORE_ID_LEN];
static volatile int writer_done;

static void answer(int i, char *out, size_t cap)
{
  snprintf(out, cap, "answer %d: %s", i,
           "alpha bravo charlie delta echo foxtrot golf hotel india juliet "
           "kilo lima mike november oscar papa quebec romeo sierra tango");
}

static void *writer(void *arg)
{
  pt_store *st = arg;
  char text[256], q[64];
  for (int i = 0; i < ROUNDS; i++) {
    int64_t turn, msg;
    snprintf(q, sizeof q, "{\"role\":\"user\",\"content\":\"question %d\"}", i);
    cJSON *m = cJSON_Parse(q);
    pt_store_turn_begin(st, session_id, &turn);
    pt_store_message_add(st, session_id, turn, m, NULL);
    cJSON_Delete(m);
    pt_store_message_begin(st, session_id, turn, "assistant", &msg);
    answer(i, text, sizeof text);
    size_t n = strlen(text);
    for (size_t at = 0; at < n; at += 16) {
      pt_store_message_delta(st, msg, PT_STORE_DELTA_TEXT,
                             (pt_str){ text + at, n - at < 16 ? n - at : 16 });
      pt_store_flush(st);
    }
    pt_store_message_end(st, msg, 0);
    pt_store_turn_end(st, turn, PT_STORE_TURN_DONE, "end_turn", NULL);
  }
  writer_done = 1;
  return NULL;
}

typedef struct reader_report {
  int reads, bad, regressions, streaming_seen;
  char first_bad[512];
} reader_report;

static void *reader(void *arg)
{
  reader_report *rep = arg;
  pt_store *st = open_store();
  int last = 0;
  char text[8192], want[256];
  while (!writer_done) {
    cJSON *msgs = NULL;
    if (pt_store_messages(st, session_id, 0, &msgs) != PT_OK) {
      rep->bad++;
      snprintf(rep->first_bad, sizeof rep->first_bad, "%s",
               pt_store_errmsg(st));
      continue;
    }
    rep->reads++;
    int n = cJSON_GetArraySize(msgs);
    if (n < last) rep->regressions++;
    last = n;
    int i = 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, msgs) {
      const char *role = cJSON_GetStringValue(cJSON_GetObjectItem(m, "role"));
      const char *status =
          cJSON_GetStringValue(cJSON_GetObjectItem(m, "status"));
      message_text(m, text, sizeof text);
      int k = i++ / 2;
      if (!strcmp(role, "user")) {
        snprintf(want, sizeof want, "question %d", k);
      } else {
        answer(k, want, sizeof want);
      }
      int ok = !strcmp(status, "complete") ? !strcmp(text, want)
               : !strncmp(text, want, strlen(text));
      if (strcmp(status, "complete")) rep->streaming_seen++;
      if (!ok && !rep->bad++)
        snprintf(rep->first_bad, sizeof rep->first_bad,
                 "message %d (%s, %s): '%.300s'", i, role, status, text);
    }
    cJSON_Delete(msgs);
    cJSON *hits = NULL;
    if (pt_store_search(st, "foxtrot", 5, &hits) != PT_OK) rep->bad++;
    cJSON_Delete(hits);
  }
  pt_store_close(st);
  return NULL;
}

static void readers_see_whole_transactions_while_a_writer_writes(void)
{
  pt_store *w = open_store();
  pt_store_session_info info = { .title = "busy" };
  pt_store_session_create(w, &info, session_id);
  writer_done = 0;
  reader_report rep = { 0 };
  pthread_t wt, rt;
  pthread_create(&rt, NULL, reader, &rep);
  pthread_create(&wt, NULL, writer, w);
  /* Other processes read too, the way `portico sessions` does. */
  int cli_runs = 0, cli_ok = 0;
  cmd_result *res = malloc(sizeof *res);
  while (!writer_done) {
    /* (show would outgrow the 64 KiB the runner keeps) */
    const char *list[] = { "--data-dir", data, "sessions", "list", "--json",
                           NULL };
    const char *search[] = { "--data-dir", data, "sessions", "search",
                             "foxtrot", "--json", "--limit", "3", NULL };
    const char *const *argv = cli_runs % 2 ? search : list;
    run_portico(res, argv, NULL);
    cli_runs++;
    cJSON *j = cJSON_Parse(res->out);
    cli_ok += res->status == 0 && j != NULL;
    if (res->status != 0) fprintf(stderr, "     cli: %s", res->err);
    cJSON_Delete(j);
  }
  free(res);
  pthread_join(wt, NULL);
  pthread_join(rt, NULL);
  pt_store_close(w);
  fprintf(stderr, "     (%d reads, %d mid-stream messages seen, %d CLI "
                  "reads)\n", rep.reads, rep.streaming_seen, cli_runs);
  if (rep.bad) fprintf(stderr, "     first bad read: %s\n", rep.first_bad);
  CHECK_INT(rep.bad, ==, 0);
  CHECK_INT(rep.regressions, ==, 0);
  CHECK(rep.reads > 0);
  CHECK_INT(cli_ok, ==, cli_runs);
  CHECK(integrity_ok());
}

/* ------------------------------------------------------------------------ */

static void raw_exec(const char *sql)
{
  char path[4200];
  snprintf(path, sizeof path, "%s/portico.db", data);
  sqlite3 *db;
  sqlite3_open(path, &db);
  sqlite3_busy_timeout(db, 5000);
  if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK) {
    fprintf(stderr, "raw_exec: %s\n", sqlite3_errmsg(db));
    abort();
  }
  sqlite3_close(db);
}

static const char *str_of(const cJSON *o, const char *k)
{
  return cJSON_GetStringValue(cJSON_GetObjectItem(o, k));
}

static void only_turns_of_dead_processes_are_marked_interrupted(void)
{
  int to_parent[2];
  if (pipe(to_parent) != 0) abort();
  pid_t pid = fork();
  if (pid == 0) {
    /* A process in the middle of a turn: text streamed, a tool running,
     * one done, a question pending. */
    pt_store *st = open_store();
    char id[PT_STORE_ID_LEN];
    pt_store_session_create(st, NULL, id);
    int64_t turn, msg, running, done, req;
    pt_store_turn_begin(st, id, &turn);
    pt_store_message_begin(st, id, turn, "assistant", &msg);
    pt_store_message_delta(st, msg, PT_STORE_DELTA_TEXT,
                           PT_STR_LIT("halfway through the zeppelin"));
    pt_store_flush(st);
    pt_store_tool_call a = { .session_id = id, .turn_id = turn, .name = "ls",
                             .arguments = PT_STR_LIT("{}"),
                             .idempotency_key = "dur:a" };
    pt_store_tool_call b = a;
    b.idempotency_key = "dur:b";
    pt_store_tool_call_add(st, &a, &done);
    pt_store_tool_call_start(st, done);
    pt_store_tool_call_finish(st, done, 0, PT_STR_LIT("file1 file2"));
    pt_store_tool_call_add(st, &b, &running);
    pt_store_tool_call_start(st, running);
    pt_store_request_add(st, running, "asks first", &req);
    if (write(to_parent[1], id, PT_STORE_ID_LEN) != PT_STORE_ID_LEN) _exit(1);
    for (;;) pause();
  }
  close(to_parent[1]);
  char id[PT_STORE_ID_LEN] = "";
  CHECK_INT(read(to_parent[0], id, sizeof id), ==, PT_STORE_ID_LEN);
  close(to_parent[0]);

  pt_store *st = open_store();
  int marked = -1;
  CHECK_INT(pt_store_recover(st, &marked), ==, PT_OK);
  CHECK_INT(marked, ==, 0);
  cJSON *s = NULL;
  pt_store_session_get(st, id, &s);
  CHECK_STR(str_of(s, "last_turn_status"), "running");
  cJSON_Delete(s);

  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  CHECK_INT(pt_store_recover(st, &marked), ==, PT_OK);
  CHECK_INT(marked, ==, 1);
  cJSON *msgs = NULL;
  pt_store_messages(st, id, 0, &msgs);
  CHECK_STR(str_of(msgs->child, "status"), "interrupted");
  CHECK_STR(str_of(msgs->child, "content"), "halfway through the zeppelin");
  cJSON_Delete(msgs);
  cJSON *hits = NULL;
  pt_store_search(st, "zeppelin", 0, &hits);
  CHECK_INT(cJSON_GetArraySize(hits), ==, 1);
  cJSON_Delete(hits);
  cJSON *c = NULL;
  CHECK_INT(pt_store_tool_call_find(st, "dur:a", &c), ==, PT_OK);
  CHECK_STR(str_of(c, "status"), "done");
  CHECK_STR(str_of(c, "result"), "file1 file2");
  cJSON_Delete(c);
  pt_store_tool_call_find(st, "dur:b", &c);
  CHECK_STR(str_of(c, "status"), "interrupted");
  cJSON_Delete(c);
  cJSON *pending = NULL;
  pt_store_requests_pending(st, id, &pending);
  CHECK_INT(cJSON_GetArraySize(pending), ==, 1);
  cJSON_Delete(pending);

  /* A reused pid (start time differs), no owner at all: dead. Our own
   * running turn: alive. */
  int64_t mine;
  pt_store_turn_begin(st, id, &mine);
  char sql[512];
  snprintf(sql, sizeof sql,
           "INSERT INTO turns(session_id, seq, status, owner, started_at) "
           "VALUES ('%s', 100, 'running', '1:999999999999', 0), "
           "('%s', 101, 'running', NULL, 0), "
           "('%s', 102, 'running', 'garbage', 0)", id, id, id);
  raw_exec(sql);
  CHECK_INT(pt_store_recover(st, &marked), ==, PT_OK);
  CHECK_INT(marked, ==, 3);
  CHECK_INT(pt_store_turn_end(st, mine, PT_STORE_TURN_DONE, "end_turn", NULL),
            ==, PT_OK);
  pt_store_close(st);
}

int main(void)
{
  signal(SIGPIPE, SIG_IGN);
  plugins = h_tempdir();
  data = h_tempdir();
  h_copy_plugin("echo.so", plugins, NULL);
  /* 2 ms per 4-byte piece: a reply streams for about 150 ms, so most of
   * the random kills (0-180 ms in) land mid-stream and some after it. */
  char *config = h_write_config(plugins, "return { plugins = { echo = { "
                                         "interval_ms = 2 } } }\n");
  snprintf(env_config, sizeof env_config, "PORTICO_CONFIG=%s", config);
  env[0] = env_config;
  RUN(a_kill_mid_stream_loses_only_the_fragment_in_flight);
  RUN(readers_see_whole_transactions_while_a_writer_writes);
  RUN(only_turns_of_dead_processes_are_marked_interrupted);
  h_rmtree(plugins);
  h_rmtree(data);
  free(plugins);
  free(data);
  free(config);
  return check_report();
}
