/*
 * tests/test_store.c: sessions, turns and messages in the store, on real
 * SQLite files in temporary folders: what is written is what is read back,
 * streamed text lands in order, and every misuse is a clear error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "check.h"
#include "harness.h"
#include "store/store_int.h"

static char *dir;
static pt_store *st;

static void fresh(void)
{
  if (st) pt_store_close(st);
  if (dir) h_rmtree(dir);
  free(dir);
  dir = h_tempdir();
  char err[1024];
  int32_t rc = pt_store_open_dir(dir, NULL, &st, err, sizeof err);
  if (rc != PT_OK) {
    fprintf(stderr, "open: %s\n", err);
    abort();
  }
}

/* One integer from the file, through a separate connection. */
static long long q_int(const char *sql)
{
  char path[4200];
  snprintf(path, sizeof path, "%s/portico.db", dir);
  return h_db_int(path, sql);
}

static cJSON *json(const char *text)
{
  cJSON *j = cJSON_Parse(text);
  if (!j) abort();
  return j;
}

/* Equal as JSON (member order aside); prints both when not. */
#define CHECK_JSON(got, want_text)                                         \
  do {                                                                     \
    cJSON *want_ = json(want_text);                                        \
    if (!cJSON_Compare((got), want_, 1))                                   \
      check_fail(__FILE__, __LINE__, "JSON %s\n  got  %s\n  want %s", #got, \
                 print(got), want_text);                                   \
    cJSON_Delete(want_);                                                   \
  } while (0)

static char *print(const cJSON *j)
{
  static char buf[65536];
  char *t = cJSON_PrintUnformatted(j);
  snprintf(buf, sizeof buf, "%s", t ? t : "(null)");
  cJSON_free(t);
  return buf;
}

static void session(char id[PT_STORE_ID_LEN], const char *title)
{
  pt_store_session_info info = { .provider = "p", .model = "m",
                                 .title = title };
  if (pt_store_session_create(st, &info, id) != PT_OK) abort();
}

/* ------------------------------------------------------------------------ */

static void a_new_file_is_wal_with_the_current_schema(void)
{
  fresh();
  CHECK_INT(q_int("PRAGMA user_version"), ==, PT_STORE_SCHEMA_VERSION);
  CHECK_INT(q_int("SELECT count(*) FROM pragma_journal_mode "
                  "WHERE journal_mode = 'wal'"), ==, 1);
  CHECK_INT(q_int("SELECT count(*) FROM sqlite_schema WHERE name = "
                  "'search'"), ==, 1);
  char path[4200];
  snprintf(path, sizeof path, "%s/portico.db", dir);
  CHECK_STR(pt_store_path(st), path);
  CHECK_STR(pt_store_errmsg(st), "no error");
}

static void open_dir_creates_missing_folders(void)
{
  fresh();
  char deep[4200], err[1024];
  snprintf(deep, sizeof deep, "%s/a/b/c", dir);
  pt_store *s2;
  CHECK_INT(pt_store_open_dir(deep, NULL, &s2, err, sizeof err), ==, PT_OK);
  pt_store_close(s2);
  CHECK_INT(pt_store_open_dir("", NULL, &s2, err, sizeof err), ==,
            PT_EINVAL);
  CHECK_CONTAINS(err, "no data folder");
}

static void sessions_are_created_found_changed_and_listed(void)
{
  fresh();
  char a[PT_STORE_ID_LEN], b[PT_STORE_ID_LEN], found[PT_STORE_ID_LEN];
  session(a, "first");
  session(b, "second");
  CHECK_INT(strlen(a), ==, 16);
  CHECK(strcmp(a, b) != 0);
  CHECK_INT(pt_store_session_find(st, a, found), ==, PT_OK);
  CHECK_STR(found, a);
  char prefix[8];
  snprintf(prefix, sizeof prefix, "%.6s", b);
  for (char *p = prefix; *p; p++) *p = (char)(*p >= 'a' ? *p - 32 : *p);
  CHECK_INT(pt_store_session_find(st, prefix, found), ==, PT_OK);
  CHECK_STR(found, b);
  CHECK_INT(pt_store_session_find(st, "abc", found), ==, PT_EINVAL);
  CHECK_CONTAINS(pt_store_errmsg(st), "at least 4");
  CHECK_INT(pt_store_session_find(st, "zzzz", found), ==, PT_EINVAL);
  CHECK_INT(pt_store_session_find(st, "0123456789abcdef0", found), ==,
            PT_EINVAL);

  usleep(5000); /* so that a's change is later than b's creation */
  pt_store_session_info change = { .title = "renamed", .agent = "coder" };
  CHECK_INT(pt_store_session_update(st, a, &change, "archived"), ==, PT_OK);
  CHECK_INT(pt_store_session_update(st, "0000000000000000", &change, NULL),
            ==, PT_ENOENT);
  CHECK_INT(pt_store_session_update(st, a, NULL, "bogus"), ==, PT_EINVAL);
  cJSON *s = NULL;
  CHECK_INT(pt_store_session_get(st, a, &s), ==, PT_OK);
  CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(s, "title")), "renamed");
  CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(s, "agent")), "coder");
  CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(s, "model")), "m");
  CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(s, "status")),
            "archived");
  CHECK(cJSON_IsNull(cJSON_GetObjectItem(s, "last_turn_status")));
  cJSON_Delete(s);
  CHECK_INT(pt_store_session_get(st, "0000000000000000", &s), ==, PT_ENOENT);

  /* Newest first: a was just changed. */
  cJSON *list = NULL;
  CHECK_INT(pt_store_session_list(st, 0, &list), ==, PT_OK);
  CHECK_INT(cJSON_GetArraySize(list), ==, 2);
  CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(list->child, "id")), a);
  cJSON_Delete(list);
  CHECK_INT(pt_store_session_list(st, 1, &list), ==, PT_OK);
  CHECK_INT(cJSON_GetArraySize(list), ==, 1);
  cJSON_Delete(list);
}

static void a_prefix_naming_two_sessions_is_ambiguous(void)
{
  fresh();
  char id[PT_STORE_ID_LEN], found[PT_STORE_ID_LEN];
  /* Random ids share a 4-digit prefix after a few hundred sessions;
   * make two that do. */
  for (int i = 0; i < 2000; i++) session(id, NULL);
  char prefix[5] = "";
  cJSON *list = NULL;
  pt_store_session_list(st, 0, &list);
  const cJSON *x, *y;
  cJSON_ArrayForEach(x, list) {
    cJSON_ArrayForEach(y, list) {
      const char *p = cJSON_GetStringValue(cJSON_GetObjectItem(x, "id"));
      const char *q = cJSON_GetStringValue(cJSON_GetObjectItem(y, "id"));
      if (x != y && !strncmp(p, q, 4) && !prefix[0]) memcpy(prefix, p, 4);
    }
  }
  cJSON_Delete(list);
  CHECK(prefix[0] != '\0');
  CHECK_INT(pt_store_session_find(st, prefix, found), ==, PT_EINVAL);
  CHECK_CONTAINS(pt_store_errmsg(st), "more than one session");
}

static void whole_messages_read_back_as_sent(void)
{
  fresh();
  char id[PT_STORE_ID_LEN];
  session(id, "t");
  cJSON *user = json("{\"role\":\"user\",\"content\":\"hello\"}");
  cJSON *asst = json(
      "{\"role\":\"assistant\",\"content\":[{\"type\":\"thinking\","
      "\"text\":\"hmm\",\"signature\":\"sig\"},{\"type\":\"text\",\"text\":"
      "\"Reading.\"},{\"type\":\"tool_call\",\"id\":\"c1\",\"name\":"
      "\"fs_read\",\"arguments\":{\"path\":\"README.md\"}},{\"type\":"
      "\"future_part\",\"x\":1}]}");
  cJSON *tool = json(
      "{\"role\":\"tool\",\"content\":[{\"type\":\"tool_result\","
      "\"tool_call_id\":\"c1\",\"content\":\"# Portico\",\"is_error\":"
      "false}]}");
  int64_t mid = 0;
  CHECK_INT(pt_store_message_add(st, id, 0, user, &mid), ==, PT_OK);
  CHECK(mid > 0);
  CHECK_INT(pt_store_message_add(st, id, 0, asst, NULL), ==, PT_OK);
  CHECK_INT(pt_store_message_add(st, id, 0, tool, NULL), ==, PT_OK);
  cJSON *msgs = NULL;
  CHECK_INT(pt_store_messages(st, id, PT_STORE_FOR_REQUEST, &msgs), ==,
            PT_OK);
  cJSON *want = cJSON_CreateArray();
  cJSON_AddItemReferenceToArray(want, user);
  cJSON_AddItemReferenceToArray(want, asst);
  cJSON_AddItemReferenceToArray(want, tool);
  CHECK(cJSON_Compare(msgs, want, 1));
  cJSON_Delete(want);
  cJSON_Delete(msgs);

  /* The full form carries ids, order and status. */
  CHECK_INT(pt_store_messages(st, id, 0, &msgs), ==, PT_OK);
  cJSON *first = msgs->child;
  CHECK_INT(cJSON_GetObjectItem(first, "seq")->valueint, ==, 1);
  CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(first, "status")),
            "complete");
  CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(first, "content")),
            "hello");
  cJSON_Delete(msgs);
  cJSON_Delete(user);
  cJSON_Delete(asst);
  cJSON_Delete(tool);
}

static void malformed_messages_are_refused_and_write_nothing(void)
{
  fresh();
  char id[PT_STORE_ID_LEN];
  session(id, "t");
  const char *bad[] = {
    "{\"role\":\"wizard\",\"content\":\"x\"}",
    "{\"role\":\"user\"}",
    "{\"role\":\"user\",\"content\":[{\"text\":\"no type\"}]}",
    "{\"role\":\"user\",\"content\":[{\"type\":\"text\"}]}",
    "{\"role\":\"user\",\"content\":[{\"type\":\"image\",\"data\":\"!!\"}]}",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    cJSON *m = json(bad[i]);
    CHECK_INT(pt_store_message_add(st, id, 0, m, NULL), ==, PT_EINVAL);
    cJSON_Delete(m);
  }
  cJSON *m = json("{\"role\":\"user\",\"content\":\"x\"}");
  CHECK_INT(pt_store_message_add(st, "0000000000000000", 0, m, NULL), ==,
            PT_ENOENT);
  CHECK_INT(pt_store_message_add(st, id, 999, m, NULL), ==, PT_ENOENT);
  cJSON_Delete(m);
  CHECK_INT(q_int("SELECT count(*) FROM messages"), ==, 0);
  CHECK_INT(q_int("SELECT count(*) FROM parts"), ==, 0);
}

static void streamed_text_lands_in_order_as_few_parts(void)
{
  fresh();
  char id[PT_STORE_ID_LEN];
  session(id, "t");
  int64_t turn, msg;
  CHECK_INT(pt_store_turn_begin(st, id, &turn), ==, PT_OK);
  CHECK_INT(pt_store_message_begin(st, id, turn, "assistant", &msg), ==,
            PT_OK);
  CHECK_INT(pt_store_message_begin(st, id, 0, "assistant", &msg), ==,
            PT_EINVAL);
  CHECK_INT(pt_store_message_begin(st, id, turn, "assistant", &msg), ==,
            PT_OK);
  CHECK(!pt_store_pending(st));
  pt_store_message_delta(st, msg, PT_STORE_DELTA_THINKING, PT_STR_LIT("let "));
  pt_store_message_delta(st, msg, PT_STORE_DELTA_THINKING, PT_STR_LIT("me"));
  CHECK(pt_store_pending(st));
  CHECK_INT(pt_store_flush(st), ==, PT_OK);
  CHECK(!pt_store_pending(st));
  pt_store_message_delta(st, msg, PT_STORE_DELTA_THINKING,
                         PT_STR_LIT(" think"));
  pt_store_message_delta(st, msg, PT_STORE_DELTA_SIGNATURE, PT_STR_LIT("S1"));
  pt_store_message_delta(st, msg, PT_STORE_DELTA_TEXT, PT_STR_LIT("Hel"));
  pt_store_message_delta(st, msg, PT_STORE_DELTA_TEXT, PT_STR_LIT(""));
  CHECK_INT(pt_store_flush(st), ==, PT_OK);
  pt_store_message_delta(st, msg, PT_STORE_DELTA_TEXT, PT_STR_LIT("lo"));
  cJSON *call = json("{\"type\":\"tool_call\",\"id\":\"c\",\"name\":\"ls\","
                     "\"arguments\":{}}");
  CHECK_INT(pt_store_message_part(st, msg, call), ==, PT_OK);
  cJSON_Delete(call);
  pt_store_message_delta(st, msg, PT_STORE_DELTA_TEXT, PT_STR_LIT("after"));
  CHECK_INT(pt_store_message_delta(st, msg, 7, PT_STR_LIT("x")), ==,
            PT_EINVAL);
  /* Streamed text is not searchable until the message ends. */
  CHECK_INT(q_int("SELECT count(*) FROM search"), ==, 0);
  CHECK_INT(pt_store_message_end(st, msg, 0), ==, PT_OK);
  CHECK_INT(q_int("SELECT count(*) FROM search"), ==, 4);
  CHECK_INT(pt_store_message_end(st, msg, 0), ==, PT_ESTATE);
  CHECK_INT(pt_store_message_delta(st, msg, PT_STORE_DELTA_TEXT,
                                   PT_STR_LIT("late")), ==, PT_ESTATE);
  CHECK_INT(pt_store_message_delta(st, 12345, PT_STORE_DELTA_TEXT,
                                   PT_STR_LIT("x")), ==, PT_ENOENT);
  CHECK_INT(pt_store_turn_end(st, turn, PT_STORE_TURN_DONE, "end_turn", NULL),
            ==, PT_OK);
  cJSON *msgs = NULL;
  CHECK_INT(pt_store_messages(st, id, PT_STORE_FOR_REQUEST, &msgs), ==,
            PT_OK);
  /* The first message was ended by its turn, empty, and is left out. */
  CHECK_JSON(msgs,
            "[{\"role\":\"assistant\",\"content\":[{\"type\":\"thinking\","
            "\"signature\":\"S1\",\"text\":\"let me think\"},{\"type\":"
            "\"text\",\"text\":\"Hello\"},{\"type\":\"tool_call\",\"id\":\"c\","
            "\"name\":\"ls\",\"arguments\":{}},{\"type\":\"text\",\"text\":"
            "\"after\"}]}]");
  cJSON_Delete(msgs);
  CHECK_INT(q_int("SELECT count(*) FROM parts"), ==, 4);
}

static void a_lone_signature_is_its_own_thinking_part(void)
{
  fresh();
  char id[PT_STORE_ID_LEN];
  session(id, "t");
  int64_t turn, msg;
  pt_store_turn_begin(st, id, &turn);
  pt_store_message_begin(st, id, turn, "assistant", &msg);
  pt_store_message_delta(st, msg, PT_STORE_DELTA_SIGNATURE, PT_STR_LIT("S"));
  pt_store_message_delta(st, msg, PT_STORE_DELTA_TEXT, PT_STR_LIT("t"));
  CHECK_INT(pt_store_message_end(st, msg, 0), ==, PT_OK);
  cJSON *msgs = NULL;
  pt_store_messages(st, id, PT_STORE_FOR_REQUEST, &msgs);
  CHECK_JSON(msgs, "[{\"role\":\"assistant\",\"content\":[{\"type\":"
                         "\"thinking\",\"signature\":\"S\",\"text\":\"\"},"
                         "{\"type\":\"text\",\"text\":\"t\"}]}]");
  cJSON_Delete(msgs);
}

static void a_big_burst_is_flushed_without_waiting(void)
{
  fresh();
  char id[PT_STORE_ID_LEN];
  session(id, "t");
  int64_t turn, msg;
  pt_store_turn_begin(st, id, &turn);
  pt_store_message_begin(st, id, turn, "assistant", &msg);
  static char chunk[4096];
  memset(chunk, 'x', sizeof chunk);
  for (int i = 0; i < 100; i++)
    pt_store_message_delta(st, msg, PT_STORE_DELTA_TEXT,
                           (pt_str){ chunk, sizeof chunk });
  /* Past 256 KiB the buffer went to the file by itself. */
  CHECK(q_int("SELECT sum(length(text)) FROM parts") >= 256 * 1024);
  CHECK_INT(pt_store_message_end(st, msg, 0), ==, PT_OK);
  CHECK_INT(q_int("SELECT sum(length(text)) FROM parts"), ==, 100 * 4096);
}

static void a_long_reply_is_kept_in_bounded_rows_and_read_as_one_part(void)
{
  fresh();
  char id[PT_STORE_ID_LEN];
  session(id, "t");
  int64_t turn, msg;
  pt_store_turn_begin(st, id, &turn);
  pt_store_message_begin(st, id, turn, "assistant", &msg);
  char want[40001] = "";
  for (int i = 0; i < 2000; i++) {
    char frag[32];
    snprintf(frag, sizeof frag, "w%05d ", i);
    strcat(want, frag);
    pt_store_message_delta(st, msg, PT_STORE_DELTA_THINKING,
                           (pt_str){ frag, strlen(frag) });
    pt_store_flush(st);
  }
  pt_store_message_delta(st, msg, PT_STORE_DELTA_SIGNATURE, PT_STR_LIT("SIG"));
  pt_store_message_end(st, msg, 0);
  /* Each commit rewrote at most one 8 KiB row. */
  CHECK(q_int("SELECT max(length(text)) FROM parts") <= 8 * 1024);
  CHECK(q_int("SELECT count(*) FROM parts") >= 2);
  cJSON *msgs = NULL;
  pt_store_messages(st, id, PT_STORE_FOR_REQUEST, &msgs);
  cJSON *part = cJSON_GetArrayItem(
      cJSON_GetObjectItem(msgs->child, "content"), 0);
  CHECK_INT(cJSON_GetArraySize(cJSON_GetObjectItem(msgs->child, "content")),
            ==, 1);
  CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(part, "text")), want);
  CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(part, "signature")),
            "SIG");
  CHECK(!cJSON_GetObjectItem(part, "continues"));
  cJSON_Delete(msgs);
  /* Words at either end of the reply are found. */
  cJSON *hits = NULL;
  pt_store_search(st, "w00000", 0, &hits);
  CHECK_INT(cJSON_GetArraySize(hits), ==, 1);
  cJSON_Delete(hits);
  pt_store_search(st, "w01999", 0, &hits);
  CHECK_INT(cJSON_GetArraySize(hits), ==, 1);
  cJSON_Delete(hits);
}

static void turns_end_once_and_close_their_messages(void)
{
  fresh();
  char id[PT_STORE_ID_LEN];
  session(id, "t");
  int64_t t1, t2, m1, m2;
  CHECK_INT(pt_store_turn_begin(st, id, &t1), ==, PT_OK);
  CHECK_INT(pt_store_turn_begin(st, "0000000000000000", &t2), ==, PT_ENOENT);
  pt_store_message_begin(st, id, t1, "assistant", &m1);
  pt_store_message_delta(st, m1, PT_STORE_DELTA_TEXT, PT_STR_LIT("partial"));
  CHECK_INT(pt_store_turn_end(st, t1, PT_STORE_TURN_INTERRUPTED, "cancelled",
                              NULL), ==, PT_OK);
  CHECK_INT(pt_store_turn_end(st, t1, PT_STORE_TURN_DONE, NULL, NULL), ==,
            PT_ESTATE);
  CHECK_INT(pt_store_turn_end(st, t1, PT_STORE_TURN_RUNNING, NULL, NULL), ==,
            PT_EINVAL);
  CHECK_STR(pt_store_errmsg(st), "a turn ends done, interrupted or failed");
  /* What the cut-off turn produced is kept, marked. */
  CHECK_INT(q_int("SELECT count(*) FROM messages WHERE status = "
                  "'interrupted' AND id IN (SELECT message_id FROM parts "
                  "WHERE text = 'partial')"), ==, 1);

  /* A failed turn's messages stay on file but not in the next request. */
  cJSON *u = json("{\"role\":\"user\",\"content\":\"try\"}");
  pt_store_turn_begin(st, id, &t2);
  pt_store_message_add(st, id, t2, u, NULL);
  pt_store_message_begin(st, id, t2, "assistant", &m2);
  CHECK_INT(pt_store_turn_end(st, t2, PT_STORE_TURN_FAILED, "error",
                              "overloaded"), ==, PT_OK);
  cJSON_Delete(u);
  cJSON *msgs = NULL;
  pt_store_messages(st, id, PT_STORE_FOR_REQUEST, &msgs);
  CHECK_JSON(msgs, "[{\"role\":\"assistant\",\"content\":\"partial\"}]");
  cJSON_Delete(msgs);
  pt_store_messages(st, id, 0, &msgs);
  CHECK_INT(cJSON_GetArraySize(msgs), ==, 3);
  cJSON_Delete(msgs);
  cJSON *s = NULL;
  pt_store_session_get(st, id, &s);
  CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(s, "last_turn_status")),
            "failed");
  CHECK_INT(cJSON_GetObjectItem(s, "turns")->valueint, ==, 2);
  CHECK_INT(cJSON_GetObjectItem(s, "messages")->valueint, ==, 3);
  cJSON_Delete(s);
  CHECK_INT(q_int("SELECT seq FROM turns WHERE id = (SELECT max(id) FROM "
                  "turns)"), ==, 2);
}

static void settings_keep_the_last_value(void)
{
  fresh();
  char *v = NULL;
  CHECK_INT(pt_store_setting_get(st, "theme", &v), ==, PT_ENOENT);
  CHECK_INT(pt_store_setting_set(st, "theme", "\"dark\""), ==, PT_OK);
  CHECK_INT(pt_store_setting_set(st, "theme", "\"light\""), ==, PT_OK);
  CHECK_INT(pt_store_setting_get(st, "theme", &v), ==, PT_OK);
  CHECK_STR(v, "\"light\"");
  free(v);
  CHECK_INT(pt_store_setting_set(st, "theme", NULL), ==, PT_OK);
  CHECK_INT(pt_store_setting_get(st, "theme", &v), ==, PT_ENOENT);
  CHECK_INT(pt_store_setting_set(st, NULL, "x"), ==, PT_EINVAL);
}

static void a_read_only_store_reads_and_refuses_writes(void)
{
  fresh();
  char id[PT_STORE_ID_LEN], err[1024];
  session(id, "kept");
  pt_store_setting_set(st, "k", "v");
  pt_store_options o = { .flags = PT_STORE_READONLY };
  pt_store *ro;
  CHECK_INT(pt_store_open_dir(dir, &o, &ro, err, sizeof err), ==, PT_OK);
  cJSON *list = NULL;
  CHECK_INT(pt_store_session_list(ro, 0, &list), ==, PT_OK);
  CHECK_INT(cJSON_GetArraySize(list), ==, 1);
  cJSON_Delete(list);
  char other[PT_STORE_ID_LEN];
  CHECK_INT(pt_store_session_create(ro, NULL, other), ==, PT_EPERM);
  CHECK_CONTAINS(pt_store_errmsg(ro), "opened read-only");
  CHECK_INT(pt_store_setting_set(ro, "k", "w"), ==, PT_EPERM);
  CHECK_INT(pt_store_session_delete(ro, id), ==, PT_EPERM);
  int64_t t;
  CHECK_INT(pt_store_turn_begin(ro, id, &t), ==, PT_EPERM);
  CHECK_INT(pt_store_recover(ro, NULL), ==, PT_EPERM);
  pt_store_close(ro);
}

static void deleting_a_session_takes_its_rows_and_keeps_usage(void)
{
  fresh();
  char a[PT_STORE_ID_LEN], b[PT_STORE_ID_LEN];
  session(a, "doomed");
  session(b, "kept");
  cJSON *m = json("{\"role\":\"user\",\"content\":\"findme\"}");
  int64_t turn;
  pt_store_turn_begin(st, a, &turn);
  pt_store_message_add(st, a, turn, m, NULL);
  pt_store_message_add(st, b, 0, m, NULL);
  cJSON_Delete(m);
  pt_store_usage u = { .session_id = a, .turn_id = turn, .provider = "p",
                       .model = "m", .outcome = "ok", .input_tokens = 5 };
  CHECK_INT(pt_store_usage_add(st, &u), ==, PT_OK);
  CHECK_INT(pt_store_session_delete(st, a), ==, PT_OK);
  CHECK_INT(pt_store_session_delete(st, a), ==, PT_ENOENT);
  CHECK_INT(q_int("SELECT count(*) FROM messages"), ==, 1);
  CHECK_INT(q_int("SELECT count(*) FROM turns"), ==, 0);
  CHECK_INT(q_int("SELECT count(*) FROM search"), ==, 1);
  CHECK_INT(q_int("SELECT count(*) FROM usage WHERE session_id IS NULL AND "
                  "input_tokens = 5"), ==, 1);
  CHECK_INT(q_int("SELECT count(*) FROM pragma_foreign_key_check"), ==, 0);
}

static void the_log_is_checkpointed_off_the_committing_thread(void)
{
  fresh();
  char id[PT_STORE_ID_LEN];
  session(id, "big");
  char text[4200], path[4200];
  memset(text, 'y', 4000);
  text[4000] = '\0';
  char json[4300];
  snprintf(json, sizeof json, "{\"role\":\"user\",\"content\":\"%s\"}",
           text);
  cJSON *m = cJSON_Parse(json);
  /* About 5000 pages of commits: several checkpoints' worth. */
  for (int i = 0; i < 2500; i++)
    CHECK_INT(pt_store_message_add(st, id, 0, m, NULL), ==, PT_OK);
  cJSON_Delete(m);
  for (int i = 0; i < 200 && pt__store_checkpoints_done(st) == 0; i++)
    usleep(10000);
  CHECK(pt__store_checkpoints_done(st) > 0);
  /* The log is restarted and cut back to journal_size_limit (64 MiB), not
   * grown without end. How far it grew before a checkpoint caught up
   * depends on how busy the machine is, so only the limit is checked. */
  snprintf(path, sizeof path, "%s/portico.db-wal", dir);
  struct stat sb;
  CHECK_INT(stat(path, &sb), ==, 0);
  CHECK(sb.st_size <= 80 * 1024 * 1024);
  pt_store_close(st);
  st = NULL;
  /* Closing checkpoints the rest and removes the log. */
  CHECK(stat(path, &sb) != 0);
  CHECK_INT(q_int("SELECT count(*) FROM messages"), ==, 2500);
  fresh();
}

int main(void)
{
  RUN(a_new_file_is_wal_with_the_current_schema);
  RUN(open_dir_creates_missing_folders);
  RUN(sessions_are_created_found_changed_and_listed);
  RUN(a_prefix_naming_two_sessions_is_ambiguous);
  RUN(whole_messages_read_back_as_sent);
  RUN(malformed_messages_are_refused_and_write_nothing);
  RUN(streamed_text_lands_in_order_as_few_parts);
  RUN(a_lone_signature_is_its_own_thinking_part);
  RUN(a_big_burst_is_flushed_without_waiting);
  RUN(a_long_reply_is_kept_in_bounded_rows_and_read_as_one_part);
  RUN(turns_end_once_and_close_their_messages);
  RUN(settings_keep_the_last_value);
  RUN(a_read_only_store_reads_and_refuses_writes);
  RUN(deleting_a_session_takes_its_rows_and_keeps_usage);
  RUN(the_log_is_checkpointed_off_the_committing_thread);
  pt_store_close(st);
  h_rmtree(dir);
  free(dir);
  return check_report();
}
