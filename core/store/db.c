/*
 * core/store/db.c: the plumbing every store file uses: cached statements,
 * nested transactions, SQLite errors as PT_E* codes with a message for a
 * person, rows as JSON. No schema knowledge lives here.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store_int.h"

int64_t pt__store_now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int32_t pt__store_fail(pt_store *st, int32_t code, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(st->err, sizeof st->err, fmt, ap);
  va_end(ap);
  return code;
}

int32_t pt__store_error(pt_store *st, int rc, const char *doing)
{
  const char *path = st->path ? st->path : "the database";
  const char *detail = st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc);
  switch (rc & 0xff) {
  case SQLITE_BUSY:
  case SQLITE_LOCKED:
    return pt__store_fail(
        st, PT_EBUSY,
        "%s: cannot %s: another process has held the database locked for "
        "%d ms; close the other program using it, or try again",
        path, doing, st->busy_timeout_ms);
  case SQLITE_READONLY:
  case SQLITE_PERM:
  case SQLITE_AUTH:
    return pt__store_fail(
        st, PT_EPERM,
        "%s: cannot %s: the database is read-only (%s); make the file and "
        "its folder writable, or use another --data-dir",
        path, doing, detail);
  case SQLITE_CORRUPT:
  case SQLITE_NOTADB:
    return pt__store_fail(
        st, PT_EIO,
        "%s: cannot %s: the file is damaged or is not a portico database "
        "(%s); keep a copy, move it aside and portico will start a new one "
        "('sqlite3 FILE .recover' may save what it holds)",
        path, doing, detail);
  case SQLITE_FULL:
    return pt__store_fail(st, PT_EIO,
                          "%s: cannot %s: the disk is full; free some space",
                          path, doing);
  case SQLITE_CANTOPEN:
    return pt__store_fail(
        st, PT_EIO,
        "%s: cannot %s: the file cannot be opened (%s); check that its "
        "folder exists and is writable",
        path, doing, detail);
  case SQLITE_NOMEM:
    return pt__store_fail(st, PT_ENOMEM, "%s: cannot %s: out of memory",
                          path, doing);
  case SQLITE_CONSTRAINT:
    if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
      return pt__store_fail(st, PT_ENOENT,
                            "%s: cannot %s: the session, turn or message it "
                            "belongs to does not exist",
                            path, doing);
    return pt__store_fail(st, PT_EINVAL, "%s: cannot %s: %s", path, doing,
                          detail);
  case SQLITE_MISMATCH:
  case SQLITE_RANGE:
  case SQLITE_TOOBIG:
    return pt__store_fail(st, PT_EINVAL, "%s: cannot %s: %s", path, doing,
                          detail);
  default:
    return pt__store_fail(st, PT_EIO, "%s: cannot %s: %s", path, doing,
                          detail);
  }
}

sqlite3_stmt *pt__store_stmt(pt_store *st, const char *sql)
{
  for (size_t i = 0; i < st->nstmts; i++) {
    if (st->stmts[i].sql == sql) {
      sqlite3_stmt *s = st->stmts[i].stmt;
      sqlite3_reset(s);
      sqlite3_clear_bindings(s);
      return s;
    }
  }
  if (st->nstmts == st->cap_stmts) {
    size_t cap = st->cap_stmts ? st->cap_stmts * 2 : 32;
    pt__stmt_slot *p = realloc(st->stmts, cap * sizeof *p);
    if (!p) {
      pt__store_fail(st, PT_ENOMEM, "out of memory");
      return NULL;
    }
    st->stmts = p;
    st->cap_stmts = cap;
  }
  sqlite3_stmt *s = NULL;
  int rc = sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s,
                              NULL);
  if (rc != SQLITE_OK) {
    pt__store_error(st, rc, "prepare a statement");
    return NULL;
  }
  st->stmts[st->nstmts++] = (pt__stmt_slot){ sql, s };
  return s;
}

int32_t pt__store_run(pt_store *st, sqlite3_stmt *s, const char *doing)
{
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {}
  int32_t out = rc == SQLITE_DONE ? PT_OK : pt__store_error(st, rc, doing);
  sqlite3_reset(s);
  return out;
}

int32_t pt__store_exec(pt_store *st, const char *sql, const char *doing)
{
  int rc = sqlite3_exec(st->db, sql, NULL, NULL, NULL);
  return rc == SQLITE_OK ? PT_OK : pt__store_error(st, rc, doing);
}

int32_t pt__store_writable(pt_store *st)
{
  if (!st->readonly) return PT_OK;
  return pt__store_fail(st, PT_EPERM,
                        "%s: the store was opened read-only; nothing can "
                        "be written through it",
                        st->path);
}

int32_t pt__store_begin(pt_store *st, const char *doing)
{
  int32_t rc = pt__store_writable(st);
  if (rc != PT_OK) return rc;
  if (st->tx_depth++ > 0) return PT_OK;
  st->tx_failed = 0;
  rc = pt__store_exec(st, "BEGIN IMMEDIATE", doing);
  if (rc != PT_OK) st->tx_depth = 0;
  return rc;
}

int32_t pt__store_end(pt_store *st, int32_t rc, const char *doing)
{
  if (rc != PT_OK) st->tx_failed = 1;
  if (--st->tx_depth > 0) return rc;
  if (!st->tx_failed) {
    int32_t crc = pt__store_exec(st, "COMMIT", doing);
    if (crc == PT_OK) return PT_OK;
    rc = crc;
  }
  /* Keep the first error's message: the rollback's would hide it. */
  char saved[sizeof st->err];
  memcpy(saved, st->err, sizeof saved);
  if (!sqlite3_get_autocommit(st->db))
    sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
  memcpy(st->err, saved, sizeof saved);
  st->tx_failed = 0;
  return rc;
}

cJSON *pt__store_row(sqlite3_stmt *s)
{
  cJSON *o = cJSON_CreateObject();
  if (!o) return NULL;
  int n = sqlite3_column_count(s);
  for (int i = 0; i < n; i++) {
    const char *name = sqlite3_column_name(s, i);
    cJSON *v;
    switch (sqlite3_column_type(s, i)) {
    case SQLITE_INTEGER:
      v = cJSON_CreateNumber((double)sqlite3_column_int64(s, i));
      break;
    case SQLITE_FLOAT:
      v = cJSON_CreateNumber(sqlite3_column_double(s, i));
      break;
    case SQLITE_NULL:
      v = cJSON_CreateNull();
      break;
    default:
      v = cJSON_CreateString((const char *)sqlite3_column_text(s, i));
      break;
    }
    if (!v || !cJSON_AddItemToObject(o, name, v)) {
      cJSON_Delete(v);
      cJSON_Delete(o);
      return NULL;
    }
  }
  return o;
}

int32_t pt__store_rows(pt_store *st, sqlite3_stmt *s, const char *doing,
                       cJSON **out)
{
  cJSON *arr = cJSON_CreateArray();
  int rc;
  if (!arr) {
    sqlite3_reset(s);
    return pt__store_fail(st, PT_ENOMEM, "out of memory");
  }
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    cJSON *row = pt__store_row(s);
    if (!row) {
      sqlite3_reset(s);
      cJSON_Delete(arr);
      return pt__store_fail(st, PT_ENOMEM, "out of memory");
    }
    cJSON_AddItemToArray(arr, row);
  }
  if (rc != SQLITE_DONE) {
    int32_t e = pt__store_error(st, rc, doing);
    sqlite3_reset(s);
    cJSON_Delete(arr);
    return e;
  }
  sqlite3_reset(s);
  *out = arr;
  return PT_OK;
}

int pt__store_bind_str(sqlite3_stmt *s, int i, pt_str v)
{
  return sqlite3_bind_text(s, i, v.ptr ? v.ptr : "", (int)v.len,
                           SQLITE_STATIC);
}

int32_t pt_store_batch_begin(pt_store *st)
{
  return pt__store_begin(st, "starting a batch of writes");
}

int32_t pt_store_batch_end(pt_store *st, int32_t rc)
{
  return pt__store_end(st, rc, "committing a batch of writes");
}
