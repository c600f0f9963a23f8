/*
 * tests/test_store_events.c: the per-session event log a server replays
 * to a client that reconnects, on real SQLite files: events read back in
 * seq order from where the client stopped, appends wait for the flush and
 * commit in one transaction with the streamed text, a deleted session
 * takes its events, and every misuse is a clear error that logs nothing
 * and leaves the next flush working.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "check.h"
#include "harness.h"
#include "store/store_int.h"

static char *dir;
static pt_store *st;

static pt_store *open_store(unsigned flags)
{
  pt_store_options o = { .flags = flags };
  pt_store *s;
  char err[1024];
  if (pt_store_open_dir(dir, &o, &s, err, sizeof err) != PT_OK) {
    fprintf(stderr, "open: %s\n", err);
    abort();
  }
  return s;
}

static void fresh(void)
{
  if (st) pt_store_close(st);
  if (dir) h_rmtree(dir);
  free(dir);
  dir = h_tempdir();
  st = open_store(0);
}

/* One integer from the file, through a separate connection: what another
 * process would see. */
static long long q_int(const char *sql)
{
  char path[4200];
  snprintf(path, sizeof path, "%s/portico.db", dir);
  return h_db_int(path, sql);
}

static void session(char id[PT_STORE_ID_LEN])
{
  pt_store_session_info info = { .title = "events" };
  if (pt_store_session_create(st, &info, id) != PT_OK) abort();
}

static int32_t append(const char *id, int64_t seq, const char *json)
{
  return pt_store_event_append(st, id, seq, json, strlen(json));
}

/* The event {"n": seq, "text": ...} most cases log. */
static int32_t append_n(const char *id, int64_t seq)
{
  char json[96];
  snprintf(json, sizeof json, "{\"n\":%lld,\"text\":\"fragment %lld\"}",
           (long long)seq, (long long)seq);
  return append(id, seq, json);
}

/* The seqs of an events_after result, as "1,2,3"; every data's "n" must
 * match its seq. */
static const char *seqs(const cJSON *events)
{
  static char buf[4096];
  size_t at = 0;
  buf[0] = '\0';
  const cJSON *e;
  cJSON_ArrayForEach(e, events) {
    double seq = cJSON_GetNumberValue(cJSON_GetObjectItem(e, "seq"));
    const cJSON *n = cJSON_GetObjectItem(cJSON_GetObjectItem(e, "data"),
                                         "n");
    if (!cJSON_IsNumber(n) || n->valuedouble != seq)
      return "(data does not match seq)";
    at += (size_t)snprintf(buf + at, sizeof buf - at, "%s%lld",
                           at ? "," : "", (long long)seq);
    if (at >= sizeof buf) break;
  }
  return buf;
}

static int commits;
static int count_commit(void *ud)
{
  (void)ud;
  commits++;
  return 0;
}

/* ------------------------------------------------------------------------ */

static void events_read_back_in_seq_order_with_their_data(void)
{
  fresh();
  char a[PT_STORE_ID_LEN], b[PT_STORE_ID_LEN];
  session(a);
  session(b);
  for (int64_t seq = 1; seq <= 5; seq++) {
    CHECK_INT(append_n(a, seq), ==, PT_OK);
    CHECK_INT(append_n(b, seq * 10), ==, PT_OK);
  }
  CHECK_INT(append(a, 6, " [1, \"two\", {\"three\": null}]\n"), ==, PT_OK);
  cJSON *out = NULL;
  CHECK_INT(pt_store_events_after(st, a, 0, 5, &out), ==, PT_OK);
  CHECK_STR(seqs(out), "1,2,3,4,5");
  CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(
                cJSON_GetObjectItem(cJSON_GetArrayItem(out, 2), "data"),
                "text")),
            "fragment 3");
  cJSON_Delete(out);
  CHECK_INT(pt_store_events_after(st, b, 0, 0, &out), ==, PT_OK);
  CHECK_STR(seqs(out), "10,20,30,40,50");
  cJSON_Delete(out);
  /* Any JSON value comes back as a tree, not as text. */
  CHECK_INT(pt_store_events_after(st, a, 5, 0, &out), ==, PT_OK);
  CHECK_INT(cJSON_GetArraySize(out), ==, 1);
  cJSON *data = cJSON_GetObjectItem(cJSON_GetArrayItem(out, 0), "data");
  CHECK(cJSON_IsArray(data));
  CHECK_STR(cJSON_GetStringValue(cJSON_GetArrayItem(data, 1)), "two");
  cJSON_Delete(out);
}

static void after_seq_and_limit_pick_what_a_client_missed(void)
{
  fresh();
  char a[PT_STORE_ID_LEN];
  session(a);
  for (int64_t seq = 1; seq <= 20; seq++)
    CHECK_INT(append_n(a, seq), ==, PT_OK);
  cJSON *out = NULL;
  CHECK_INT(pt_store_events_after(st, a, 17, 0, &out), ==, PT_OK);
  CHECK_STR(seqs(out), "18,19,20");
  cJSON_Delete(out);
  CHECK_INT(pt_store_events_after(st, a, 10, 3, &out), ==, PT_OK);
  CHECK_STR(seqs(out), "11,12,13");
  cJSON_Delete(out);
  CHECK_INT(pt_store_events_after(st, a, 20, 0, &out), ==, PT_OK);
  CHECK_INT(cJSON_GetArraySize(out), ==, 0);
  cJSON_Delete(out);
  CHECK_INT(pt_store_events_after(st, a, -5, -1, &out), ==, PT_OK);
  CHECK_INT(cJSON_GetArraySize(out), ==, 20);
  cJSON_Delete(out);
  /* Gaps are allowed; a replay skips what is not there. */
  CHECK_INT(append_n(a, 25), ==, PT_OK);
  CHECK_INT(pt_store_events_after(st, a, 19, 0, &out), ==, PT_OK);
  CHECK_STR(seqs(out), "20,25");
  cJSON_Delete(out);
}

static void last_seq_counts_buffered_and_stored_events(void)
{
  fresh();
  char a[PT_STORE_ID_LEN], b[PT_STORE_ID_LEN];
  session(a);
  session(b);
  int64_t last = -1;
  CHECK_INT(pt_store_event_last_seq(st, a, &last), ==, PT_OK);
  CHECK_INT(last, ==, 0);
  CHECK_INT(append_n(a, 1), ==, PT_OK);
  CHECK_INT(append_n(a, 7), ==, PT_OK);
  CHECK_INT(pt_store_event_last_seq(st, a, &last), ==, PT_OK);
  CHECK_INT(last, ==, 7);
  CHECK(pt_store_pending(st));
  CHECK_INT(pt_store_flush(st), ==, PT_OK);
  CHECK_INT(pt_store_event_last_seq(st, a, &last), ==, PT_OK);
  CHECK_INT(last, ==, 7);
  CHECK_INT(pt_store_event_last_seq(st, b, &last), ==, PT_OK);
  CHECK_INT(last, ==, 0);
}

static void appends_wait_for_the_flush_but_reads_see_them(void)
{
  fresh();
  char a[PT_STORE_ID_LEN];
  session(a);
  CHECK(!pt_store_pending(st));
  CHECK_INT(append_n(a, 1), ==, PT_OK);
  CHECK_INT(append_n(a, 2), ==, PT_OK);
  CHECK(pt_store_pending(st));
  /* Another process sees nothing yet... */
  CHECK_INT(q_int("SELECT count(*) FROM events"), ==, 0);
  /* ...but a replay through the same store does. */
  cJSON *out = NULL;
  CHECK_INT(pt_store_events_after(st, a, 0, 0, &out), ==, PT_OK);
  CHECK_STR(seqs(out), "1,2");
  cJSON_Delete(out);
  CHECK(!pt_store_pending(st));
  CHECK_INT(q_int("SELECT count(*) FROM events"), ==, 2);
  CHECK_INT(append_n(a, 3), ==, PT_OK);
  CHECK_INT(pt_store_flush(st), ==, PT_OK);
  CHECK_INT(q_int("SELECT count(*) FROM events"), ==, 3);
  CHECK_INT(q_int("SELECT count(*) FROM events WHERE created_at > 0"), ==,
            3);
}

static void ten_thousand_appends_commit_in_one_transaction(void)
{
  fresh();
  char ids[10][PT_STORE_ID_LEN];
  for (int i = 0; i < 10; i++) session(ids[i]);
  commits = 0;
  sqlite3_commit_hook(st->db, count_commit, NULL);
  for (int64_t seq = 1; seq <= 1000; seq++)
    for (int i = 0; i < 10; i++) CHECK_INT(append_n(ids[i], seq), ==, PT_OK);
  CHECK_INT(commits, ==, 0);
  CHECK_INT(q_int("SELECT count(*) FROM events"), ==, 0);
  CHECK_INT(pt_store_flush(st), ==, PT_OK);
  CHECK_INT(commits, ==, 1);
  sqlite3_commit_hook(st->db, NULL, NULL);
  CHECK_INT(q_int("SELECT count(*) FROM events"), ==, 10000);
  cJSON *out = NULL;
  CHECK_INT(pt_store_events_after(st, ids[9], 998, 0, &out), ==, PT_OK);
  CHECK_STR(seqs(out), "999,1000");
  cJSON_Delete(out);
}

static void events_and_streamed_text_share_the_flush(void)
{
  fresh();
  char a[PT_STORE_ID_LEN];
  session(a);
  int64_t turn, msg;
  CHECK_INT(pt_store_turn_begin(st, a, &turn), ==, PT_OK);
  CHECK_INT(pt_store_message_begin(st, a, turn, "assistant", &msg), ==,
            PT_OK);
  commits = 0;
  sqlite3_commit_hook(st->db, count_commit, NULL);
  for (int64_t seq = 1; seq <= 50; seq++) {
    CHECK_INT(pt_store_message_delta(st, msg, PT_STORE_DELTA_TEXT,
                                     PT_STR_LIT("word ")), ==, PT_OK);
    CHECK_INT(append_n(a, seq), ==, PT_OK);
  }
  CHECK_INT(pt_store_flush(st), ==, PT_OK);
  CHECK_INT(commits, ==, 1);
  sqlite3_commit_hook(st->db, NULL, NULL);
  CHECK_INT(q_int("SELECT count(*) FROM events"), ==, 50);
  CHECK_INT(q_int("SELECT length(text) FROM parts"), ==, 250);
}

static void a_big_burst_is_flushed_before_the_buffer_passes_2_mib(void)
{
  fresh();
  char a[PT_STORE_ID_LEN];
  session(a);
  size_t n = 100 * 1024;
  char *big = malloc(n + 16);
  snprintf(big, 16, "{\"pad\":\"");
  memset(big + 8, 'x', n - 10);
  memcpy(big + n - 2, "\"}", 3);
  for (int64_t seq = 1; seq <= 30; seq++)
    CHECK_INT(pt_store_event_append(st, a, seq, big, n), ==, PT_OK);
  /* 30 of 100 KiB: the first 20 are in the file, flushed before the 21st
   * would have taken the buffer past 2 MiB. */
  CHECK_INT(q_int("SELECT count(*) FROM events"), ==, 20);
  CHECK_INT(pt_store_flush(st), ==, PT_OK);
  CHECK_INT(q_int("SELECT count(*) FROM events"), ==, 30);
  CHECK_INT(q_int("SELECT max(length(data)) FROM events"), ==, (long long)n);
  free(big);
}

static void deleting_a_session_deletes_its_events(void)
{
  fresh();
  char a[PT_STORE_ID_LEN], b[PT_STORE_ID_LEN];
  session(a);
  session(b);
  for (int64_t seq = 1; seq <= 3; seq++) {
    CHECK_INT(append_n(a, seq), ==, PT_OK);
    CHECK_INT(append_n(b, seq), ==, PT_OK);
  }
  CHECK_INT(pt_store_flush(st), ==, PT_OK);
  CHECK_INT(append_n(a, 4), ==, PT_OK);   /* buffered at the delete */
  CHECK_INT(pt_store_session_delete(st, a), ==, PT_OK);
  CHECK_INT(q_int("SELECT count(*) FROM events"), ==, 3);
  CHECK_INT(q_int("SELECT count(*) FROM events WHERE session_id = "
                  "(SELECT id FROM sessions)"), ==, 3);
  /* What the log knew of the session went with it. */
  CHECK_INT(append_n(a, 5), ==, PT_ENOENT);
  int64_t last;
  CHECK_INT(pt_store_event_last_seq(st, a, &last), ==, PT_ENOENT);
  CHECK_INT(q_int("SELECT count(*) FROM pragma_foreign_key_check"), ==, 0);
}

static void a_session_deleted_by_another_process_does_not_stop_the_flush(void)
{
  fresh();
  char a[PT_STORE_ID_LEN], b[PT_STORE_ID_LEN];
  session(a);
  session(b);
  int64_t turn, msg;
  CHECK_INT(pt_store_turn_begin(st, b, &turn), ==, PT_OK);
  CHECK_INT(pt_store_message_begin(st, b, turn, "assistant", &msg), ==,
            PT_OK);
  CHECK_INT(append_n(a, 1), ==, PT_OK);
  CHECK_INT(pt_store_flush(st), ==, PT_OK);
  CHECK_INT(append_n(a, 2), ==, PT_OK);
  CHECK_INT(append_n(b, 1), ==, PT_OK);
  CHECK_INT(pt_store_message_delta(st, msg, PT_STORE_DELTA_TEXT,
                                   PT_STR_LIT("kept")), ==, PT_OK);
  /* `portico sessions delete` in another process. */
  pt_store *other = open_store(0);
  CHECK_INT(pt_store_session_delete(other, a), ==, PT_OK);
  pt_store_close(other);
  CHECK_INT(pt_store_flush(st), ==, PT_OK);
  CHECK_INT(q_int("SELECT count(*) FROM events"), ==, 1);
  CHECK_INT(q_int("SELECT count(*) FROM parts WHERE text = 'kept'"), ==, 1);
}

static void events_survive_close_and_reopen(void)
{
  fresh();
  char a[PT_STORE_ID_LEN];
  session(a);
  for (int64_t seq = 1; seq <= 4; seq++)
    CHECK_INT(append_n(a, seq), ==, PT_OK);
  pt_store_close(st);   /* flushes */
  st = open_store(0);
  int64_t last = 0;
  CHECK_INT(pt_store_event_last_seq(st, a, &last), ==, PT_OK);
  CHECK_INT(last, ==, 4);
  /* A restarted server numbers on. */
  CHECK_INT(append_n(a, 4), ==, PT_EINVAL);
  CHECK_INT(append_n(a, 5), ==, PT_OK);
  pt_store_close(st);
  st = open_store(PT_STORE_READONLY);
  cJSON *out = NULL;
  CHECK_INT(pt_store_events_after(st, a, 2, 0, &out), ==, PT_OK);
  CHECK_STR(seqs(out), "3,4,5");
  cJSON_Delete(out);
  CHECK_INT(pt_store_event_last_seq(st, a, &last), ==, PT_OK);
  CHECK_INT(last, ==, 5);
  CHECK_INT(append_n(a, 6), ==, PT_EPERM);
  CHECK_INT(pt_store_events_trim(st, a, 5), ==, PT_EPERM);
  pt_store_close(st);
  st = NULL;
  fresh();
}

static void misuse_is_a_clear_error_that_logs_nothing(void)
{
  fresh();
  char a[PT_STORE_ID_LEN];
  session(a);
  int64_t last;
  cJSON *out = NULL;
  CHECK_INT(append_n(NULL, 1), ==, PT_EINVAL);
  CHECK_CONTAINS(pt_store_errmsg(st), "no session id");
  CHECK_INT(append_n("", 1), ==, PT_EINVAL);
  CHECK_INT(pt_store_event_last_seq(st, NULL, &last), ==, PT_EINVAL);
  CHECK_INT(pt_store_events_after(st, NULL, 0, 0, &out), ==, PT_EINVAL);
  CHECK_INT(pt_store_events_trim(st, NULL, 0), ==, PT_EINVAL);

  CHECK_INT(append_n("0123456789abcdef", 1), ==, PT_ENOENT);
  CHECK_CONTAINS(pt_store_errmsg(st), "no session 0123456789abcdef");
  CHECK_CONTAINS(pt_store_errmsg(st), "create it before logging");
  /* A prefix is not enough: ids are whole here. */
  char prefix[8];
  snprintf(prefix, sizeof prefix, "%.6s", a);
  CHECK_INT(append_n(prefix, 1), ==, PT_ENOENT);
  CHECK_INT(pt_store_event_last_seq(st, "0123456789abcdef", &last), ==,
            PT_ENOENT);
  CHECK_INT(pt_store_events_after(st, "0123456789abcdef", 0, 0, &out), ==,
            PT_ENOENT);
  CHECK_INT(pt_store_events_trim(st, "0123456789abcdef", 0), ==, PT_ENOENT);

  CHECK_INT(append(a, 1, "{\"open\": "), ==, PT_EINVAL);
  CHECK_CONTAINS(pt_store_errmsg(st), "not one JSON value");
  CHECK_INT(append(a, 1, "{} {}"), ==, PT_EINVAL);
  CHECK_INT(append(a, 1, ""), ==, PT_EINVAL);
  CHECK_INT(pt_store_event_append(st, a, 1, NULL, 0), ==, PT_EINVAL);
  /* The length given is what counts, not a NUL further on. */
  CHECK_INT(pt_store_event_append(st, a, 1, "{}garbage", 2), ==, PT_OK);

  CHECK_INT(append_n(a, 1), ==, PT_EINVAL);
  CHECK_CONTAINS(pt_store_errmsg(st), "not after the last one logged, 1");
  CHECK_INT(append_n(a, 0), ==, PT_EINVAL);
  CHECK_INT(append_n(a, -3), ==, PT_EINVAL);
  CHECK_INT(append_n(a, 2), ==, PT_OK);

  /* Nothing refused was buffered, and the flush goes through. */
  CHECK_INT(pt_store_flush(st), ==, PT_OK);
  CHECK_INT(q_int("SELECT count(*) FROM events"), ==, 2);
  CHECK_INT(pt_store_events_after(st, a, 0, 0, &out), ==, PT_OK);
  CHECK_INT(cJSON_GetArraySize(out), ==, 2);
  CHECK(cJSON_IsObject(cJSON_GetObjectItem(cJSON_GetArrayItem(out, 0),
                                           "data")));
  cJSON_Delete(out);
}

static void trim_deletes_older_events_but_keeps_the_newest(void)
{
  fresh();
  char a[PT_STORE_ID_LEN], b[PT_STORE_ID_LEN];
  session(a);
  session(b);
  for (int64_t seq = 1; seq <= 10; seq++) {
    CHECK_INT(append_n(a, seq), ==, PT_OK);
    CHECK_INT(append_n(b, seq), ==, PT_OK);
  }
  /* Buffered events are trimmed too. */
  CHECK_INT(pt_store_events_trim(st, a, 6), ==, PT_OK);
  cJSON *out = NULL;
  CHECK_INT(pt_store_events_after(st, a, 0, 0, &out), ==, PT_OK);
  CHECK_STR(seqs(out), "7,8,9,10");
  cJSON_Delete(out);
  CHECK_INT(pt_store_events_after(st, b, 0, 0, &out), ==, PT_OK);
  CHECK_INT(cJSON_GetArraySize(out), ==, 10);
  cJSON_Delete(out);
  /* Past the end, the newest stays, so numbering survives a restart. */
  CHECK_INT(pt_store_events_trim(st, a, 1000), ==, PT_OK);
  CHECK_INT(pt_store_events_after(st, a, 0, 0, &out), ==, PT_OK);
  CHECK_STR(seqs(out), "10");
  cJSON_Delete(out);
  pt_store_close(st);
  st = open_store(0);
  int64_t last;
  CHECK_INT(pt_store_event_last_seq(st, a, &last), ==, PT_OK);
  CHECK_INT(last, ==, 10);
  /* Trimming an empty log is no error. */
  char c[PT_STORE_ID_LEN];
  session(c);
  CHECK_INT(pt_store_events_trim(st, c, 5), ==, PT_OK);
}

static void thousands_of_sessions_keep_their_numbering(void)
{
  fresh();
  /* More sessions than the log keeps in memory past a commit, so the
   * table grows and is then forgotten and read back from the file. */
  enum { N = 4200 };
  char (*ids)[PT_STORE_ID_LEN] = malloc(N * sizeof *ids);
  for (int i = 0; i < N; i++) session(ids[i]);
  int bad = 0;
  for (int i = 0; i < N; i++)
    bad += append_n(ids[i], 1) != PT_OK || append_n(ids[i], 2) != PT_OK;
  CHECK_INT(bad, ==, 0);
  CHECK_INT(pt_store_flush(st), ==, PT_OK);
  for (int i = 0; i < N; i++)
    bad += append_n(ids[i], 2) != PT_EINVAL || append_n(ids[i], 3) != PT_OK;
  CHECK_INT(bad, ==, 0);
  CHECK_INT(pt_store_flush(st), ==, PT_OK);
  CHECK_INT(q_int("SELECT count(*) FROM events"), ==, 3 * N);
  free(ids);
}

static void a_version_2_file_gains_the_event_log(void)
{
  fresh();
  char a[PT_STORE_ID_LEN];
  session(a);
  cJSON *m = cJSON_Parse("{\"role\":\"user\",\"content\":\"before\"}");
  CHECK_INT(pt_store_message_add(st, a, 0, m, NULL), ==, PT_OK);
  cJSON_Delete(m);
  pt_store_close(st);
  st = NULL;
  /* Make the file what version 2 wrote. */
  CHECK_INT(q_int("PRAGMA user_version"), ==, 3);
  char path[4200];
  snprintf(path, sizeof path, "%s/portico.db", dir);
  sqlite3 *db;
  sqlite3_open(path, &db);
  CHECK_INT(sqlite3_exec(db, "DROP TABLE events; PRAGMA user_version = 2",
                         NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close(db);
  st = open_store(0);
  CHECK_INT(q_int("PRAGMA user_version"), ==, PT_STORE_SCHEMA_VERSION);
  CHECK_INT(append_n(a, 1), ==, PT_OK);
  CHECK_INT(pt_store_flush(st), ==, PT_OK);
  CHECK_INT(q_int("SELECT count(*) FROM events"), ==, 1);
  CHECK_INT(q_int("SELECT count(*) FROM messages"), ==, 1);
}

int main(void)
{
  RUN(events_read_back_in_seq_order_with_their_data);
  RUN(after_seq_and_limit_pick_what_a_client_missed);
  RUN(last_seq_counts_buffered_and_stored_events);
  RUN(appends_wait_for_the_flush_but_reads_see_them);
  RUN(ten_thousand_appends_commit_in_one_transaction);
  RUN(events_and_streamed_text_share_the_flush);
  RUN(a_big_burst_is_flushed_before_the_buffer_passes_2_mib);
  RUN(deleting_a_session_deletes_its_events);
  RUN(a_session_deleted_by_another_process_does_not_stop_the_flush);
  RUN(events_survive_close_and_reopen);
  RUN(misuse_is_a_clear_error_that_logs_nothing);
  RUN(trim_deletes_older_events_but_keeps_the_newest);
  RUN(thousands_of_sessions_keep_their_numbering);
  RUN(a_version_2_file_gains_the_event_log);
  pt_store_close(st);
  h_rmtree(dir);
  free(dir);
  return check_report();
}
