/*
 * core/store/turns.c: a turn's life (begin, end) and what a restart does
 * about turns whose process died.
 *
 * A running turn records its owner, "pid:start-time" of the process
 * running it (the start time from /proc tells a reused pid apart). Any
 * process opening the store marks interrupted the running turns whose
 * owner is gone, so two live processes never interrupt each other.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store_int.h"

/* Process start time (clock ticks since boot) and state letter from
 * /proc/PID/stat; 0 when unreadable. */
static unsigned long long proc_start(long pid, char *state)
{
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%ld/stat", pid);
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  /* The command name may hold spaces and parentheses: fields resume after
   * the last ')'. starttime is field 22; state is field 3. */
  char *p = strrchr(buf, ')');
  if (!p || p[1] != ' ') return 0;
  p += 2;
  if (state) *state = *p;
  for (int field = 3; field < 22 && p; field++) {
    p = strchr(p, ' ');
    if (p) p++;
  }
  return p ? strtoull(p, NULL, 10) : 0;
}

void pt__store_owner(char *buf, size_t len)
{
  long pid = (long)getpid();
  snprintf(buf, len, "%ld:%llu", pid, proc_start(pid, NULL));
}

static int owner_alive(const char *owner)
{
  long pid;
  unsigned long long start;
  if (!owner || sscanf(owner, "%ld:%llu", &pid, &start) != 2 || pid <= 0)
    return 0;
  char state = '?';
  unsigned long long now = proc_start(pid, &state);
  if (now == 0) {
    /* No /proc entry: on a system without /proc, ask the kernel; with
     * one, the process is gone. */
    if (proc_start((long)getpid(), NULL) != 0) return 0;
    return kill((pid_t)pid, 0) == 0 || errno == EPERM;
  }
  if (state == 'Z' || state == 'X') return 0;
  return start == 0 || now == start;
}

int32_t pt_store_turn_begin(pt_store *st, const char *session_id,
                            int64_t *turn_id)
{
  static const char sql[] =
      "INSERT INTO turns(session_id, seq, status, owner, started_at) "
      "VALUES (?1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM turns "
      "WHERE session_id = ?1), 'running', ?2, ?3)";
  static const char touch[] =
      "UPDATE sessions SET updated_at = ?2 WHERE id = ?1";
  int32_t rc = pt__store_begin(st, "start a turn");
  if (rc != PT_OK) return rc;
  int64_t now = pt__store_now_ms();
  sqlite3_stmt *s = pt__store_stmt(st, sql);
  if (!s) return pt__store_end(st, PT_EIO, "start a turn");
  sqlite3_bind_text(s, 1, session_id, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 2, st->owner, -1, SQLITE_STATIC);
  sqlite3_bind_int64(s, 3, now);
  rc = pt__store_run(st, s, "start a turn");
  if (rc == PT_OK) {
    *turn_id = sqlite3_last_insert_rowid(st->db);
    if (!(s = pt__store_stmt(st, touch))) rc = PT_EIO;
  }
  if (rc == PT_OK) {
    sqlite3_bind_text(s, 1, session_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, now);
    rc = pt__store_run(st, s, "start a turn");
  }
  return pt__store_end(st, rc, "start a turn");
}

static const char *const turn_status_names[] = { "running", "done",
                                                 "interrupted", "failed" };

/* The turn's rows, ended; inside the caller's transaction. */
static int32_t end_rows(pt_store *st, int64_t turn_id,
                        pt_store_turn_status status, const char *stop,
                        const char *error)
{
  static const char turn_sql[] =
      "UPDATE turns SET status = ?2, stop_reason = ?3, error = ?4, "
      "ended_at = ?5 WHERE id = ?1 AND status = 'running'";
  static const char msg_sql[] =
      "UPDATE messages SET status = ?2, completed_at = ?3 "
      "WHERE turn_id = ?1 AND status = 'streaming'";
  static const char call_sql[] =
      "UPDATE tool_calls SET status = 'interrupted', ended_at = ?2 "
      "WHERE turn_id = ?1 AND status = 'running'";
  static const char touch[] =
      "UPDATE sessions SET updated_at = ?2 "
      "WHERE id = (SELECT session_id FROM turns WHERE id = ?1)";
  int64_t now = pt__store_now_ms();
  sqlite3_stmt *s = pt__store_stmt(st, turn_sql);
  if (!s) return PT_EIO;
  sqlite3_bind_int64(s, 1, turn_id);
  sqlite3_bind_text(s, 2, turn_status_names[status], -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 3, stop, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 4, error, -1, SQLITE_STATIC);
  sqlite3_bind_int64(s, 5, now);
  int32_t rc = pt__store_run(st, s, "end a turn");
  if (rc != PT_OK) return rc;
  if (sqlite3_changes(st->db) == 0)
    return pt__store_fail(st, PT_ESTATE,
                          "%s: turn %lld does not exist or has ended already",
                          st->path, (long long)turn_id);
  if (!(s = pt__store_stmt(st, msg_sql))) return PT_EIO;
  sqlite3_bind_int64(s, 1, turn_id);
  sqlite3_bind_text(s, 2,
                    status == PT_STORE_TURN_DONE ? "complete" : "interrupted",
                    -1, SQLITE_STATIC);
  sqlite3_bind_int64(s, 3, now);
  rc = pt__store_run(st, s, "end a turn");
  if (rc == PT_OK && !(s = pt__store_stmt(st, call_sql))) rc = PT_EIO;
  if (rc == PT_OK) {
    sqlite3_bind_int64(s, 1, turn_id);
    sqlite3_bind_int64(s, 2, now);
    rc = pt__store_run(st, s, "end a turn");
  }
  if (rc == PT_OK && !(s = pt__store_stmt(st, touch))) rc = PT_EIO;
  if (rc == PT_OK) {
    sqlite3_bind_int64(s, 1, turn_id);
    sqlite3_bind_int64(s, 2, now);
    rc = pt__store_run(st, s, "end a turn");
  }
  return rc;
}

int32_t pt_store_turn_end(pt_store *st, int64_t turn_id,
                          pt_store_turn_status status, const char *stop,
                          const char *error)
{
  if (status <= PT_STORE_TURN_RUNNING || status > PT_STORE_TURN_FAILED)
    return pt__store_fail(st, PT_EINVAL, "a turn ends done, interrupted "
                                         "or failed");
  /* What was streamed so far reaches the file before the messages close. */
  int32_t rc = pt_store_flush(st);
  if (rc == PT_OK) rc = pt__store_begin(st, "end a turn");
  if (rc != PT_OK) return rc;
  rc = end_rows(st, turn_id, status, stop, error);
  rc = pt__store_end(st, rc, "end a turn");
  if (rc == PT_OK) pt__store_streams_forget_turn(st, turn_id);
  return rc;
}

int32_t pt_store_recover(pt_store *st, int *marked)
{
  static const char sql[] =
      "SELECT id, owner FROM turns WHERE status = 'running'";
  if (marked) *marked = 0;
  int32_t rc = pt__store_writable(st);
  if (rc != PT_OK) return rc;
  sqlite3_stmt *s = pt__store_stmt(st, sql);
  if (!s) return PT_EIO;
  int64_t *dead = NULL;
  size_t ndead = 0, cap = 0;
  int src;
  while ((src = sqlite3_step(s)) == SQLITE_ROW) {
    const char *owner = (const char *)sqlite3_column_text(s, 1);
    if ((owner && strcmp(owner, st->owner) == 0) || owner_alive(owner))
      continue;
    if (ndead == cap) {
      cap = cap ? cap * 2 : 8;
      int64_t *p = realloc(dead, cap * sizeof *p);
      if (!p) {
        free(dead);
        sqlite3_reset(s);
        return pt__store_fail(st, PT_ENOMEM, "out of memory");
      }
      dead = p;
    }
    dead[ndead++] = sqlite3_column_int64(s, 0);
  }
  if (src != SQLITE_DONE) rc = pt__store_error(st, src, "find cut-off turns");
  sqlite3_reset(s);
  if (rc == PT_OK && ndead > 0) {
    rc = pt__store_begin(st, "mark cut-off turns interrupted");
    if (rc == PT_OK) {
      /* Another process may have marked some since the scan: those are
       * skipped, not errors. */
      for (size_t i = 0; rc == PT_OK && i < ndead; i++) {
        int32_t one = end_rows(st, dead[i], PT_STORE_TURN_INTERRUPTED,
                               "cancelled", "the process running it ended");
        if (one == PT_OK && marked) (*marked)++;
        else if (one != PT_OK && one != PT_ESTATE) rc = one;
      }
      rc = pt__store_end(st, rc, "mark cut-off turns interrupted");
    }
  }
  free(dead);
  return rc;
}
