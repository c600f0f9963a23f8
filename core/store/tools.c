/*
 * core/store/tools.c: the record of each tool call: what the model asked
 * (arguments, idempotency key), what was decided, when it ran, what it
 * returned. A resumed turn looks a call up by its key and reuses a stored
 * result instead of running the tool again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

/* Turn a JSON text member of a row into JSON. */
static void parse_member(cJSON *row, const char *key)
{
  const char *text = cJSON_GetStringValue(cJSON_GetObjectItem(row, key));
  cJSON *v = text ? cJSON_Parse(text) : NULL;
  if (v) cJSON_ReplaceItemInObject(row, key, v);
}

void pt__store_fix_row(cJSON *row)
{
  parse_member(row, "arguments");
  cJSON *e = cJSON_GetObjectItem(row, "is_error");
  if (cJSON_IsNumber(e))
    cJSON_ReplaceItemInObject(row, "is_error", cJSON_CreateBool(e->valueint));
}

int32_t pt_store_tool_call_add(pt_store *st, const pt_store_tool_call *tc,
                               int64_t *id)
{
  static const char find_sql[] =
      "SELECT id FROM tool_calls WHERE idempotency_key = ?1";
  static const char sql[] =
      "INSERT INTO tool_calls(session_id, turn_id, call_id, name, arguments, "
      "idempotency_key, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
  cJSON *args = cJSON_ParseWithLength(tc->arguments.ptr, tc->arguments.len);
  int is_object = cJSON_IsObject(args);
  cJSON_Delete(args);
  if (!is_object || !tc->name)
    return pt__store_fail(st, PT_EINVAL,
                          "a tool call needs a name and arguments that are "
                          "a JSON object");
  int32_t rc = pt__store_begin(st, "record a tool call");
  if (rc != PT_OK) return rc;
  sqlite3_stmt *s = pt__store_stmt(st, find_sql);
  if (!s) return pt__store_end(st, PT_EIO, "record a tool call");
  if (tc->idempotency_key) {
    sqlite3_bind_text(s, 1, tc->idempotency_key, -1, SQLITE_STATIC);
    int src = sqlite3_step(s);
    if (src == SQLITE_ROW) {
      *id = sqlite3_column_int64(s, 0);
      rc = pt__store_fail(st, PT_EEXIST,
                          "a tool call with idempotency key '%s' exists "
                          "already (id %lld)",
                          tc->idempotency_key, (long long)*id);
    } else if (src != SQLITE_DONE) {
      rc = pt__store_error(st, src, "record a tool call");
    }
    sqlite3_reset(s);
  }
  if (rc == PT_OK && !(s = pt__store_stmt(st, sql))) rc = PT_EIO;
  if (rc == PT_OK) {
    sqlite3_bind_text(s, 1, tc->session_id, -1, SQLITE_STATIC);
    if (tc->turn_id > 0) sqlite3_bind_int64(s, 2, tc->turn_id);
    sqlite3_bind_text(s, 3, tc->call_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, tc->name, -1, SQLITE_STATIC);
    pt__store_bind_str(s, 5, tc->arguments);
    sqlite3_bind_text(s, 6, tc->idempotency_key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 7, pt__store_now_ms());
    rc = pt__store_run(st, s, "record a tool call");
    if (rc == PT_OK) *id = sqlite3_last_insert_rowid(st->db);
  }
  /* An existing key is an answer, not a failure: nothing was written. */
  if (rc == PT_EEXIST) {
    pt__store_end(st, PT_OK, "record a tool call");
    return PT_EEXIST;
  }
  return pt__store_end(st, rc, "record a tool call");
}

#define TOOL_CALL_SELECT                                                   \
  "SELECT id, session_id, turn_id, call_id, name, arguments, "             \
  "idempotency_key, status, decision, decided_by, rule_id, reason, "       \
  "CASE WHEN result_blob IS NULL THEN result ELSE (SELECT CAST(data AS "   \
  "TEXT) FROM blobs WHERE hash = result_blob) END AS result, is_error, "   \
  "created_at, decided_at, started_at, ended_at FROM tool_calls "

static int32_t get_one(pt_store *st, sqlite3_stmt *s, const char *what,
                       cJSON **out)
{
  cJSON *rows = NULL;
  int32_t rc = pt__store_rows(st, s, "read a tool call", &rows);
  if (rc != PT_OK) return rc;
  cJSON *row = cJSON_DetachItemFromArray(rows, 0);
  cJSON_Delete(rows);
  if (!row)
    return pt__store_fail(st, PT_ENOENT, "%s: no tool call %s", st->path,
                          what);
  pt__store_fix_row(row);
  *out = row;
  return PT_OK;
}

int32_t pt_store_tool_call_get(pt_store *st, int64_t id, cJSON **out)
{
  static const char sql[] = TOOL_CALL_SELECT "WHERE id = ?1";
  sqlite3_stmt *s = pt__store_stmt(st, sql);
  if (!s) return PT_EIO;
  sqlite3_bind_int64(s, 1, id);
  char what[32];
  snprintf(what, sizeof what, "%lld", (long long)id);
  return get_one(st, s, what, out);
}

int32_t pt_store_tool_call_find(pt_store *st, const char *key, cJSON **out)
{
  static const char sql[] = TOOL_CALL_SELECT "WHERE idempotency_key = ?1";
  sqlite3_stmt *s = pt__store_stmt(st, sql);
  if (!s) return PT_EIO;
  sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
  return get_one(st, s, key, out);
}

/* PT_ENOENT or PT_ESTATE for a call an UPDATE did not find in `want`. */
static int32_t not_changed(pt_store *st, int64_t id, const char *want)
{
  cJSON *row = NULL;
  int32_t rc = pt_store_tool_call_get(st, id, &row);
  if (rc != PT_OK) return rc;
  rc = pt__store_fail(st, PT_ESTATE, "tool call %lld is %s, not %s",
                      (long long)id,
                      cJSON_GetStringValue(cJSON_GetObjectItem(row, "status")),
                      want);
  cJSON_Delete(row);
  return rc;
}

int32_t pt_store_tool_call_start(pt_store *st, int64_t id)
{
  static const char sql[] =
      "UPDATE tool_calls SET status = 'running', started_at = ?2 "
      "WHERE id = ?1 AND status = 'pending'";
  int32_t rc = pt__store_writable(st);
  sqlite3_stmt *s = rc == PT_OK ? pt__store_stmt(st, sql) : NULL;
  if (!s) return rc != PT_OK ? rc : PT_EIO;
  sqlite3_bind_int64(s, 1, id);
  sqlite3_bind_int64(s, 2, pt__store_now_ms());
  rc = pt__store_run(st, s, "start a tool call");
  if (rc == PT_OK && sqlite3_changes(st->db) == 0)
    rc = not_changed(st, id, "pending");
  return rc;
}

int32_t pt_store_tool_call_finish(pt_store *st, int64_t id, int is_error,
                                  pt_str result)
{
  static const char sql[] =
      "UPDATE tool_calls SET status = ?2, result = ?3, result_blob = ?4, "
      "is_error = ?5, ended_at = ?6 WHERE id = ?1 AND status = 'running'";
  int32_t rc = pt__store_begin(st, "finish a tool call");
  if (rc != PT_OK) return rc;
  char hash[PT_STORE_HASH_LEN];
  int big = result.len > PT__STORE_INLINE_MAX;
  if (big)
    rc = pt__store_blob_put(st, result.ptr, result.len, "text/plain", hash);
  sqlite3_stmt *s = rc == PT_OK ? pt__store_stmt(st, sql) : NULL;
  if (s) {
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_text(s, 2, is_error ? "failed" : "done", -1, SQLITE_STATIC);
    if (!big) pt__store_bind_str(s, 3, result);
    if (big) sqlite3_bind_text(s, 4, hash, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 5, is_error != 0);
    sqlite3_bind_int64(s, 6, pt__store_now_ms());
    rc = pt__store_run(st, s, "finish a tool call");
    if (rc == PT_OK && sqlite3_changes(st->db) == 0)
      rc = not_changed(st, id, "running");
  } else if (rc == PT_OK) {
    rc = PT_EIO;
  }
  return pt__store_end(st, rc, "finish a tool call");
}
