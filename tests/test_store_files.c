/*
 * tests/test_store_files.c: the database file in every state a user's disk
 * can leave it: from the first schema version, from a newer portico, some
 * other program's, corrupt, truncated, read-only, locked by another
 * writer. Each is a clear error or a clean upgrade: no crash, and nothing
 * that was there is lost.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "check.h"
#include "harness.h"
#include "store/store.h"

static char *dir;
static char path[4200];
static char err[1024];

static void fresh(void)
{
  if (dir) {
    chmod(dir, 0755);
    h_rmtree(dir);
  }
  free(dir);
  dir = h_tempdir();
  snprintf(path, sizeof path, "%s/portico.db", dir);
  err[0] = '\0';
}

static int32_t try_open(pt_store **st, unsigned flags, int busy_ms)
{
  pt_store_options o = { .flags = flags, .busy_timeout_ms = busy_ms };
  err[0] = '\0';
  return pt_store_open(path, &o, st, err, sizeof err);
}

/* A store with one session holding `n` messages; closed again. */
static void populate(int n, char id[PT_STORE_ID_LEN])
{
  pt_store *st;
  if (try_open(&st, 0, 0) != PT_OK) abort();
  pt_store_session_info info = { .title = "precious" };
  pt_store_session_create(st, &info, id);
  char text[600];
  for (int i = 0; i < n; i++) {
    snprintf(text, sizeof text, "{\"role\":\"user\",\"content\":\"message %d "
             "%0500d\"}", i, i);
    cJSON *m = cJSON_Parse(text);
    pt_store_message_add(st, id, 0, m, NULL);
    cJSON_Delete(m);
  }
  pt_store_close(st);
}

static char *slurp(const char *p, size_t *len)
{
  FILE *f = fopen(p, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = malloc((size_t)n + 1);
  *len = fread(buf, 1, (size_t)n, f);
  buf[*len] = '\0';
  fclose(f);
  return buf;
}

static void raw_exec(const char *sql)
{
  sqlite3 *db;
  sqlite3_open(path, &db);
  char *msg = NULL;
  if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
    fprintf(stderr, "raw_exec: %s\n", msg);
    abort();
  }
  sqlite3_close(db);
}

static long long raw_int(const char *sql)
{
  return h_db_int(path, sql);
}

/* ------------------------------------------------------------------------ */

static void the_first_schema_version_is_migrated_with_its_data(void)
{
  fresh();
  char fixture[4200];
  snprintf(fixture, sizeof fixture, "%s/tests/fixtures/store_v1.sql",
           getenv("PORTICO_SOURCE_DIR"));
  size_t len = 0;
  char *sql = slurp(fixture, &len);
  CHECK(sql != NULL);
  if (!sql) return;
  raw_exec(sql);
  free(sql);
  CHECK_INT(raw_int("PRAGMA user_version"), ==, 1);

  pt_store *st;
  CHECK_INT(try_open(&st, 0, 0), ==, PT_OK);
  CHECK_INT(raw_int("PRAGMA user_version"), ==, PT_STORE_SCHEMA_VERSION);
  cJSON *v = NULL;
  CHECK_INT(pt_store_session_get(st, "0123456789abcdef", &v), ==, PT_OK);
  CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(v, "title")),
            "Old session");
  CHECK(cJSON_GetObjectItem(v, "cost_usd")->valuedouble > 0.008);
  cJSON_Delete(v);
  CHECK_INT(pt_store_messages(st, "0123456789abcdef", PT_STORE_FOR_REQUEST,
                              &v), ==, PT_OK);
  CHECK_INT(cJSON_GetArraySize(v), ==, 3);
  cJSON_Delete(v);
  /* The old text was indexed on the way. */
  CHECK_INT(pt_store_search(st, "flux capacitor", 0, &v), ==, PT_OK);
  CHECK_INT(cJSON_GetArraySize(v), ==, 1);
  cJSON_Delete(v);
  CHECK_INT(pt_store_search(st, "delorean", 0, &v), ==, PT_OK);
  CHECK_INT(cJSON_GetArraySize(v), ==, 1);
  cJSON_Delete(v);
  CHECK_INT(pt_store_tool_call_find(st, "turn1:c1", &v), ==, PT_OK);
  CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(v, "result")),
            "garage/delorean.txt:1");
  cJSON_Delete(v);
  CHECK_INT(pt_store_requests_pending(st, NULL, &v), ==, PT_OK);
  CHECK_INT(cJSON_GetArraySize(v), ==, 1);
  cJSON_Delete(v);
  char *theme = NULL;
  CHECK_INT(pt_store_setting_get(st, "theme", &theme), ==, PT_OK);
  CHECK_STR(theme, "\"dark\"");
  free(theme);
  /* And the new version's features work on it. */
  cJSON *img = cJSON_Parse("{\"role\":\"user\",\"content\":[{\"type\":"
                           "\"image\",\"media_type\":\"image/png\","
                           "\"data\":\"AAAA\"}]}");
  CHECK_INT(pt_store_message_add(st, "0123456789abcdef", 0, img, NULL), ==,
            PT_OK);
  cJSON_Delete(img);
  pt_store_close(st);
  CHECK_INT(raw_int("SELECT count(*) FROM pragma_integrity_check WHERE "
                    "integrity_check = 'ok'"), ==, 1);
  CHECK_INT(raw_int("SELECT count(*) FROM pragma_foreign_key_check"), ==, 0);
}

static void a_failed_migration_leaves_the_old_schema_whole(void)
{
  fresh();
  char fixture[4200];
  snprintf(fixture, sizeof fixture, "%s/tests/fixtures/store_v1.sql",
           getenv("PORTICO_SOURCE_DIR"));
  size_t len = 0;
  char *sql = slurp(fixture, &len);
  if (!sql) return;
  raw_exec(sql);
  free(sql);
  /* Step 2 creates `blobs`; a table already named so makes it fail. */
  raw_exec("CREATE TABLE blobs(x)");
  pt_store *st;
  CHECK(try_open(&st, 0, 0) < 0);
  CHECK_CONTAINS(err, "upgrade the schema");
  CHECK_INT(raw_int("PRAGMA user_version"), ==, 1);
  CHECK_INT(raw_int("SELECT count(*) FROM sqlite_schema WHERE name = "
                    "'search'"), ==, 0);
  CHECK_INT(raw_int("SELECT count(*) FROM parts"), ==, 4);
}

static void a_file_from_a_newer_portico_is_refused_untouched(void)
{
  fresh();
  char id[PT_STORE_ID_LEN];
  populate(3, id);
  raw_exec("PRAGMA user_version = 99");
  pt_store *st;
  CHECK_INT(try_open(&st, 0, 0), ==, PT_EVERSION);
  CHECK_CONTAINS(err, "written by a newer portico (schema version 99; this "
                      "portico knows up to 3); upgrade portico");
  CHECK_INT(try_open(&st, PT_STORE_READONLY, 0), ==, PT_EVERSION);
  CHECK_INT(raw_int("PRAGMA user_version"), ==, 99);
  CHECK_INT(raw_int("SELECT count(*) FROM messages"), ==, 3);
}

static void a_read_only_open_does_not_upgrade(void)
{
  fresh();
  char fixture[4200];
  snprintf(fixture, sizeof fixture, "%s/tests/fixtures/store_v1.sql",
           getenv("PORTICO_SOURCE_DIR"));
  size_t len = 0;
  char *sql = slurp(fixture, &len);
  if (!sql) return;
  raw_exec(sql);
  free(sql);
  pt_store *st;
  CHECK_INT(try_open(&st, PT_STORE_READONLY, 0), ==, PT_EVERSION);
  CHECK_CONTAINS(err, "needs an upgrade to 3");
  CHECK_INT(raw_int("PRAGMA user_version"), ==, 1);
}

static void another_programs_database_is_not_written_into(void)
{
  fresh();
  raw_exec("CREATE TABLE recipes(name TEXT); INSERT INTO recipes "
           "VALUES ('soup')");
  pt_store *st;
  CHECK_INT(try_open(&st, 0, 0), ==, PT_EINVAL);
  CHECK_CONTAINS(err, "another program");
  CHECK_INT(raw_int("SELECT count(*) FROM sqlite_schema"), ==, 1);
  fresh();
  raw_exec("PRAGMA application_id = 42");
  CHECK_INT(try_open(&st, 0, 0), ==, PT_EINVAL);
}

static void a_corrupt_file_is_a_clear_error_and_stays_as_it_was(void)
{
  fresh();
  char junk[8192];
  for (size_t i = 0; i < sizeof junk; i++) junk[i] = (char)(i * 7919 % 251);
  h_write_file(dir, "portico.db", junk, sizeof junk, 0644);
  pt_store *st = NULL;
  CHECK_INT(try_open(&st, 0, 0), ==, PT_EIO);
  CHECK(st == NULL);
  CHECK_CONTAINS(err, "is damaged or is not a portico database");
  CHECK_CONTAINS(err, "move it aside");
  size_t len = 0;
  char *after = slurp(path, &len);
  CHECK_INT(len, ==, sizeof junk);
  CHECK(after && memcmp(after, junk, sizeof junk) == 0);
  free(after);

  /* A good header over damaged pages: found at the first read of them. */
  fresh();
  char id[PT_STORE_ID_LEN];
  populate(400, id);
  int fd = open(path, O_WRONLY);
  char zeros[4096];
  memset(zeros, 0x5a, sizeof zeros);
  for (off_t at = 8 * 4096; at < 40 * 4096; at += 4096)
    CHECK_INT(pwrite(fd, zeros, sizeof zeros, at), ==, (long long)sizeof zeros);
  close(fd);
  int32_t rc = try_open(&st, 0, 0);
  if (rc == PT_OK) {
    cJSON *msgs = NULL;
    rc = pt_store_messages(st, id, 0, &msgs);
    if (rc != PT_OK) snprintf(err, sizeof err, "%s", pt_store_errmsg(st));
    cJSON_Delete(msgs);
    pt_store_close(st);
  }
  CHECK_INT(rc, ==, PT_EIO);
  CHECK_CONTAINS(err, "is damaged");
}

static void a_truncated_file_is_a_clear_error_and_is_not_shortened_more(void)
{
  fresh();
  char id[PT_STORE_ID_LEN];
  populate(2000, id);
  struct stat sb;
  stat(path, &sb);
  off_t half = sb.st_size / 2 / 4096 * 4096;
  CHECK_INT(truncate(path, half), ==, 0);
  pt_store *st = NULL;
  int32_t rc = try_open(&st, 0, 0);
  if (rc == PT_OK) {
    cJSON *msgs = NULL;
    rc = pt_store_messages(st, id, 0, &msgs);
    if (rc != PT_OK) snprintf(err, sizeof err, "%s", pt_store_errmsg(st));
    cJSON_Delete(msgs);
    pt_store_close(st);
  }
  CHECK_INT(rc, ==, PT_EIO);
  CHECK_CONTAINS(err, "is damaged");
  stat(path, &sb);
  CHECK_INT(sb.st_size, ==, half);
}

/* Run `fn` in a child that cannot write the folder or the file, even when
 * the tests run as root (then the child becomes nobody). Returns the
 * child's exit status. */
static int as_unprivileged(int (*fn)(void))
{
  pid_t pid = fork();
  if (pid == 0) {
    if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
      _exit(99);
    _exit(fn());
  }
  int status;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 100 + WTERMSIG(status);
}

static int read_only_child(void)
{
  pt_store *st;
  if (try_open(&st, 0, 0) != PT_EPERM) return 1;
  if (!strstr(err, "read-only")) return 2;
  if (try_open(&st, PT_STORE_READONLY, 0) != PT_OK) {
    fprintf(stderr, "read-only open: %s\n", err);
    return 3;
  }
  cJSON *list = NULL;
  int ok = pt_store_session_list(st, 0, &list) == PT_OK &&
           cJSON_GetArraySize(list) == 1;
  cJSON_Delete(list);
  char id[PT_STORE_ID_LEN];
  int refused = pt_store_session_create(st, NULL, id) == PT_EPERM;
  pt_store_close(st);
  return ok ? (refused ? 0 : 5) : 4;
}

static void a_read_only_file_is_read_but_never_written(void)
{
  fresh();
  char id[PT_STORE_ID_LEN];
  populate(5, id);
  size_t before_len = 0, after_len = 0;
  char *before = slurp(path, &before_len);
  chmod(path, 0444);
  chmod(dir, 0555);
  CHECK_INT(as_unprivileged(read_only_child), ==, 0);
  chmod(dir, 0755);
  chmod(path, 0644);
  char *after = slurp(path, &after_len);
  CHECK_INT(after_len, ==, before_len);
  CHECK(before && after && memcmp(before, after, before_len) == 0);
  free(before);
  free(after);
}

/* A child holding the write lock (BEGIN IMMEDIATE, or an exclusive lock
 * that shuts readers out too) until told to commit. */
static pid_t hold_lock(int exclusive, int *go_fd)
{
  int ready[2], go[2];
  if (pipe(ready) != 0 || pipe(go) != 0) abort();
  pid_t pid = fork();
  if (pid == 0) {
    sqlite3 *db;
    sqlite3_open(path, &db);
    sqlite3_exec(db,
                 exclusive ? "PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE"
                           : "BEGIN IMMEDIATE",
                 NULL, NULL, NULL);
    sqlite3_exec(db, "INSERT INTO settings VALUES ('other', '1', 0)", NULL,
                 NULL, NULL);
    if (write(ready[1], "r", 1) != 1) _exit(1);
    char c;
    if (read(go[0], &c, 1) != 1) _exit(1);
    int rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    sqlite3_close(db);
    _exit(rc == SQLITE_OK ? 0 : 2);
  }
  close(ready[1]);
  close(go[0]);
  char c;
  if (read(ready[0], &c, 1) != 1) abort();
  close(ready[0]);
  *go_fd = go[1];
  return pid;
}

static void release(pid_t pid, int go_fd)
{
  CHECK_INT(write(go_fd, "g", 1), ==, 1);
  close(go_fd);
  int status;
  waitpid(pid, &status, 0);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void another_writer_makes_writes_wait_then_fail_clearly(void)
{
  fresh();
  char id[PT_STORE_ID_LEN];
  populate(2, id);
  int go;
  pid_t pid = hold_lock(0, &go);
  pt_store *st;
  CHECK_INT(try_open(&st, 0, 200), ==, PT_OK);
  /* Readers go on while another process writes. */
  cJSON *list = NULL;
  CHECK_INT(pt_store_session_list(st, 0, &list), ==, PT_OK);
  CHECK_INT(cJSON_GetArraySize(list), ==, 1);
  cJSON_Delete(list);
  uint64_t t0 = h_now_ms();
  CHECK_INT(pt_store_setting_set(st, "mine", "1"), ==, PT_EBUSY);
  CHECK(h_now_ms() - t0 >= 150);
  CHECK_CONTAINS(pt_store_errmsg(st), "another process has held the "
                                      "database locked for 200 ms");
  char other[PT_STORE_ID_LEN];
  CHECK_INT(pt_store_session_create(st, NULL, other), ==, PT_EBUSY);
  release(pid, go);
  CHECK_INT(pt_store_setting_set(st, "mine", "1"), ==, PT_OK);
  pt_store_close(st);
  /* Both writers' rows are there. */
  CHECK_INT(raw_int("SELECT count(*) FROM settings"), ==, 2);
  CHECK_INT(raw_int("SELECT count(*) FROM messages"), ==, 2);
}

static void a_writer_holding_the_lock_briefly_is_waited_for(void)
{
  fresh();
  char id[PT_STORE_ID_LEN];
  populate(1, id);
  int go;
  pid_t pid = hold_lock(0, &go);
  pt_store *st;
  CHECK_INT(try_open(&st, 0, 0), ==, PT_OK); /* the default 5 s */
  pid_t releaser = fork();
  if (releaser == 0) {
    usleep(300 * 1000);
    _exit(write(go, "g", 1) == 1 ? 0 : 1);
  }
  close(go);
  uint64_t t0 = h_now_ms();
  CHECK_INT(pt_store_setting_set(st, "mine", "1"), ==, PT_OK);
  CHECK(h_now_ms() - t0 >= 250);
  int status;
  waitpid(releaser, NULL, 0);
  waitpid(pid, &status, 0);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  pt_store_close(st);
  CHECK_INT(raw_int("SELECT count(*) FROM settings"), ==, 2);
}

static void an_exclusive_lock_is_a_clear_error_at_open(void)
{
  fresh();
  char id[PT_STORE_ID_LEN];
  populate(1, id);
  int go;
  pid_t pid = hold_lock(1, &go);
  pt_store *st = NULL;
  CHECK_INT(try_open(&st, 0, 200), ==, PT_EBUSY);
  CHECK(st == NULL);
  CHECK_CONTAINS(err, "locked");
  CHECK_INT(try_open(&st, PT_STORE_READONLY, 200), ==, PT_EBUSY);
  release(pid, go);
  CHECK_INT(try_open(&st, 0, 200), ==, PT_OK);
  pt_store_close(st);
  CHECK_INT(raw_int("SELECT count(*) FROM messages"), ==, 1);
}

static void a_missing_folder_is_a_clear_error(void)
{
  fresh();
  snprintf(path, sizeof path, "%s/no/such/dir/portico.db", dir);
  pt_store *st;
  CHECK_INT(try_open(&st, 0, 0), ==, PT_EIO);
  CHECK_CONTAINS(err, "cannot be opened");
  CHECK_INT(try_open(&st, PT_STORE_READONLY, 0), ==, PT_EIO);
}

int main(void)
{
  signal(SIGPIPE, SIG_IGN);
  RUN(the_first_schema_version_is_migrated_with_its_data);
  RUN(a_failed_migration_leaves_the_old_schema_whole);
  RUN(a_file_from_a_newer_portico_is_refused_untouched);
  RUN(a_read_only_open_does_not_upgrade);
  RUN(another_programs_database_is_not_written_into);
  RUN(a_corrupt_file_is_a_clear_error_and_stays_as_it_was);
  RUN(a_truncated_file_is_a_clear_error_and_is_not_shortened_more);
  RUN(a_read_only_file_is_read_but_never_written);
  RUN(another_writer_makes_writes_wait_then_fail_clearly);
  RUN(a_writer_holding_the_lock_briefly_is_waited_for);
  RUN(an_exclusive_lock_is_a_clear_error_at_open);
  RUN(a_missing_folder_is_a_clear_error);
  h_rmtree(dir);
  free(dir);
  return check_report();
}
