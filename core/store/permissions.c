/*
 * core/store/permissions.c: who allowed or denied each tool call (the
 * audit trail), the "always" answers kept as rules, and the questions
 * still waiting for a person, which survive restarts.
 */
#include <string.h>

#include "store_int.h"

static int valid_decision(const char *d)
{
  return d && (!strcmp(d, "allow") || !strcmp(d, "deny"));
}

/* The decision on a pending call and its audit row; in a transaction. */
static int32_t decide(pt_store *st, int64_t id, const pt_store_decision *d)
{
  static const char sql[] =
      "UPDATE tool_calls SET decision = ?2, decided_by = ?3, rule_id = ?4, "
      "reason = ?5, decided_at = ?6, status = CASE WHEN ?2 = 'deny' "
      "THEN 'denied' ELSE status END "
      "WHERE id = ?1 AND status = 'pending' AND decision IS NULL";
  static const char audit_sql[] =
      "INSERT INTO permission_decisions(session_id, tool_call_id, tool, "
      "arguments, decision, decided_by, rule_id, reason, created_at) "
      "SELECT session_id, id, name, arguments, decision, decided_by, "
      "rule_id, reason, decided_at FROM tool_calls WHERE id = ?1";
  if (!valid_decision(d->decision) || !d->decided_by)
    return pt__store_fail(st, PT_EINVAL,
                          "a decision is \"allow\" or \"deny\", with who "
                          "decided");
  sqlite3_stmt *s = pt__store_stmt(st, sql);
  if (!s) return PT_EIO;
  sqlite3_bind_int64(s, 1, id);
  sqlite3_bind_text(s, 2, d->decision, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 3, d->decided_by, -1, SQLITE_STATIC);
  if (d->rule_id > 0) sqlite3_bind_int64(s, 4, d->rule_id);
  sqlite3_bind_text(s, 5, d->reason, -1, SQLITE_STATIC);
  sqlite3_bind_int64(s, 6, pt__store_now_ms());
  int32_t rc = pt__store_run(st, s, "record a decision");
  if (rc != PT_OK) return rc;
  if (sqlite3_changes(st->db) == 0) {
    cJSON *row = NULL;
    rc = pt_store_tool_call_get(st, id, &row);
    if (rc == PT_OK)
      rc = pt__store_fail(st, PT_ESTATE,
                          "tool call %lld was decided already (it is %s)",
                          (long long)id,
                          cJSON_GetStringValue(
                              cJSON_GetObjectItem(row, "status")));
    cJSON_Delete(row);
    return rc;
  }
  if (!(s = pt__store_stmt(st, audit_sql))) return PT_EIO;
  sqlite3_bind_int64(s, 1, id);
  return pt__store_run(st, s, "record a decision");
}

int32_t pt_store_tool_call_decide(pt_store *st, int64_t id,
                                  const pt_store_decision *d)
{
  int32_t rc = pt__store_begin(st, "record a decision");
  if (rc != PT_OK) return rc;
  return pt__store_end(st, decide(st, id, d), "record a decision");
}

int32_t pt_store_decisions(pt_store *st, const char *session_id,
                           cJSON **out)
{
  static const char sql[] =
      "SELECT id, tool_call_id, tool, arguments, decision, decided_by, "
      "rule_id, reason, created_at FROM permission_decisions "
      "WHERE session_id = ?1 ORDER BY id";
  sqlite3_stmt *s = pt__store_stmt(st, sql);
  if (!s) return PT_EIO;
  sqlite3_bind_text(s, 1, session_id, -1, SQLITE_STATIC);
  int32_t rc = pt__store_rows(st, s, "read decisions", out);
  cJSON *row;
  if (rc == PT_OK) cJSON_ArrayForEach(row, *out) pt__store_fix_row(row);
  return rc;
}

int32_t pt_store_rule_add(pt_store *st, const pt_store_rule *r, int64_t *id)
{
  static const char sql[] =
      "INSERT INTO permission_rules(tool, pattern, decision, workspace, "
      "created_at) VALUES (?1, COALESCE(?2, '*'), ?3, ?4, ?5)";
  if (!r->tool || !valid_decision(r->decision))
    return pt__store_fail(st, PT_EINVAL,
                          "a rule needs a tool and a decision, \"allow\" or "
                          "\"deny\"");
  int32_t rc = pt__store_writable(st);
  sqlite3_stmt *s = rc == PT_OK ? pt__store_stmt(st, sql) : NULL;
  if (!s) return rc != PT_OK ? rc : PT_EIO;
  sqlite3_bind_text(s, 1, r->tool, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 2, r->pattern, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 3, r->decision, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 4, r->workspace, -1, SQLITE_STATIC);
  sqlite3_bind_int64(s, 5, pt__store_now_ms());
  rc = pt__store_run(st, s, "add a rule");
  if (rc == PT_OK && id) *id = sqlite3_last_insert_rowid(st->db);
  return rc;
}

int32_t pt_store_rules(pt_store *st, const char *tool, cJSON **out)
{
  static const char sql[] =
      "SELECT id, tool, pattern, decision, workspace, created_at "
      "FROM permission_rules WHERE ?1 IS NULL OR tool = ?1 ORDER BY id";
  sqlite3_stmt *s = pt__store_stmt(st, sql);
  if (!s) return PT_EIO;
  sqlite3_bind_text(s, 1, tool, -1, SQLITE_STATIC);
  return pt__store_rows(st, s, "read rules", out);
}

int32_t pt_store_rule_delete(pt_store *st, int64_t id)
{
  static const char sql[] = "DELETE FROM permission_rules WHERE id = ?1";
  int32_t rc = pt__store_writable(st);
  sqlite3_stmt *s = rc == PT_OK ? pt__store_stmt(st, sql) : NULL;
  if (!s) return rc != PT_OK ? rc : PT_EIO;
  sqlite3_bind_int64(s, 1, id);
  rc = pt__store_run(st, s, "delete a rule");
  if (rc == PT_OK && sqlite3_changes(st->db) == 0)
    rc = pt__store_fail(st, PT_ENOENT, "%s: no rule %lld", st->path,
                        (long long)id);
  return rc;
}

int32_t pt_store_request_add(pt_store *st, int64_t tool_call_id,
                             const char *reason, int64_t *id)
{
  static const char sql[] =
      "INSERT INTO permission_requests(session_id, tool_call_id, reason, "
      "created_at) SELECT session_id, id, ?2, ?3 FROM tool_calls "
      "WHERE id = ?1";
  int32_t rc = pt__store_writable(st);
  sqlite3_stmt *s = rc == PT_OK ? pt__store_stmt(st, sql) : NULL;
  if (!s) return rc != PT_OK ? rc : PT_EIO;
  sqlite3_bind_int64(s, 1, tool_call_id);
  sqlite3_bind_text(s, 2, reason, -1, SQLITE_STATIC);
  sqlite3_bind_int64(s, 3, pt__store_now_ms());
  rc = pt__store_run(st, s, "ask for a permission");
  if (rc == PT_OK && sqlite3_changes(st->db) == 0)
    rc = pt__store_fail(st, PT_ENOENT, "%s: no tool call %lld", st->path,
                        (long long)tool_call_id);
  if (rc == PT_OK && id) *id = sqlite3_last_insert_rowid(st->db);
  return rc;
}

int32_t pt_store_requests_pending(pt_store *st, const char *session_id,
                                  cJSON **out)
{
  static const char sql[] =
      "SELECT r.id, r.session_id, r.tool_call_id, t.name AS tool, "
      "t.arguments, r.reason, r.created_at FROM permission_requests r "
      "JOIN tool_calls t ON t.id = r.tool_call_id WHERE r.status = "
      "'pending' AND (?1 IS NULL OR r.session_id = ?1) ORDER BY r.id";
  sqlite3_stmt *s = pt__store_stmt(st, sql);
  if (!s) return PT_EIO;
  sqlite3_bind_text(s, 1, session_id, -1, SQLITE_STATIC);
  int32_t rc = pt__store_rows(st, s, "read permission requests", out);
  cJSON *row;
  if (rc == PT_OK) cJSON_ArrayForEach(row, *out) pt__store_fix_row(row);
  return rc;
}

int32_t pt_store_request_answer(pt_store *st, int64_t id,
                                const pt_store_decision *d)
{
  static const char sql[] =
      "UPDATE permission_requests SET status = 'answered', decision = ?2, "
      "answered_at = ?3 WHERE id = ?1 AND status = 'pending' "
      "RETURNING tool_call_id";
  static const char exists_sql[] =
      "SELECT status FROM permission_requests WHERE id = ?1";
  if (!valid_decision(d->decision))
    return pt__store_fail(st, PT_EINVAL,
                          "a decision is \"allow\" or \"deny\"");
  int32_t rc = pt__store_begin(st, "answer a permission request");
  if (rc != PT_OK) return rc;
  sqlite3_stmt *s = pt__store_stmt(st, sql);
  int64_t call = 0;
  if (!s) return pt__store_end(st, PT_EIO, "answer a permission request");
  sqlite3_bind_int64(s, 1, id);
  sqlite3_bind_text(s, 2, d->decision, -1, SQLITE_STATIC);
  sqlite3_bind_int64(s, 3, pt__store_now_ms());
  int src = sqlite3_step(s);
  if (src == SQLITE_ROW) call = sqlite3_column_int64(s, 0);
  while (src == SQLITE_ROW) src = sqlite3_step(s);
  if (src != SQLITE_DONE)
    rc = pt__store_error(st, src, "answer a permission request");
  sqlite3_reset(s);
  if (rc == PT_OK && call == 0) {
    /* Not pending: answered before, or no such request. */
    if (!(s = pt__store_stmt(st, exists_sql))) {
      rc = PT_EIO;
    } else {
      sqlite3_bind_int64(s, 1, id);
      src = sqlite3_step(s);
      rc = src == SQLITE_ROW
               ? pt__store_fail(st, PT_ESTATE,
                                "permission request %lld was answered "
                                "already", (long long)id)
               : pt__store_fail(st, PT_ENOENT,
                                "%s: no permission request %lld", st->path,
                                (long long)id);
      sqlite3_reset(s);
    }
  }
  if (rc == PT_OK) rc = decide(st, call, d);
  return pt__store_end(st, rc, "answer a permission request");
}
