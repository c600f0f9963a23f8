/*
 * core/store/sessions.c: creating, finding, listing, changing and deleting
 * sessions.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "store_int.h"

/* Ids are random, not sequential, so a short prefix is enough to name one
 * (git's way) and ids from two machines never collide. */
static int32_t new_id(pt_store *st, char id[PT_STORE_ID_LEN])
{
  unsigned char b[8];
  if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b)
    return pt__store_fail(st, PT_EIO, "no random bytes for a session id");
  for (int i = 0; i < 8; i++) snprintf(id + 2 * i, 3, "%02x", b[i]);
  return PT_OK;
}

int32_t pt_store_session_create(pt_store *st,
                                const pt_store_session_info *info,
                                char id[PT_STORE_ID_LEN])
{
  static const char sql[] =
      "INSERT INTO sessions(id, agent, provider, model, workspace, title, "
      "created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)";
  static const pt_store_session_info none = { 0 };
  if (!info) info = &none;
  int32_t rc = pt__store_writable(st);
  if (rc == PT_OK) rc = new_id(st, id);
  sqlite3_stmt *s = rc == PT_OK ? pt__store_stmt(st, sql) : NULL;
  if (!s) return rc != PT_OK ? rc : PT_EIO;
  sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 2, info->agent, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 3, info->provider, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 4, info->model, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 5, info->workspace, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 6, info->title, -1, SQLITE_STATIC);
  sqlite3_bind_int64(s, 7, pt__store_now_ms());
  return pt__store_run(st, s, "create a session");
}

int32_t pt_store_session_find(pt_store *st, const char *prefix,
                              char id[PT_STORE_ID_LEN])
{
  static const char sql[] =
      "SELECT id FROM sessions WHERE id GLOB ?1 ORDER BY id LIMIT 2";
  char pattern[PT_STORE_ID_LEN + 1];
  size_t n = prefix ? strlen(prefix) : 0;
  if (n < 4 || n > PT_STORE_ID_LEN - 1)
    return pt__store_fail(st, PT_EINVAL,
                          "'%s' is not a session id: give at least 4 of its "
                          "16 hex digits ('portico sessions list' shows them)",
                          prefix ? prefix : "");
  for (size_t i = 0; i < n; i++) {
    if (!isxdigit((unsigned char)prefix[i]))
      return pt__store_fail(st, PT_EINVAL,
                            "'%s' is not a session id: ids are hex digits",
                            prefix);
    pattern[i] = (char)tolower((unsigned char)prefix[i]);
  }
  pattern[n] = '*';
  pattern[n + 1] = '\0';
  sqlite3_stmt *s = pt__store_stmt(st, sql);
  if (!s) return PT_EIO;
  sqlite3_bind_text(s, 1, pattern, -1, SQLITE_STATIC);
  int found = 0, rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW)
    if (found++ == 0)
      snprintf(id, PT_STORE_ID_LEN, "%s", sqlite3_column_text(s, 0));
  int32_t out = PT_OK;
  if (rc != SQLITE_DONE) out = pt__store_error(st, rc, "find a session");
  else if (found == 0)
    out = pt__store_fail(st, PT_ENOENT, "no session %s in %s", prefix,
                         st->path);
  else if (found > 1)
    out = pt__store_fail(st, PT_EINVAL,
                         "'%s' names more than one session; give more of "
                         "the id",
                         prefix);
  sqlite3_reset(s);
  return out;
}

int32_t pt_store_session_update(pt_store *st, const char *id,
                                const pt_store_session_info *info,
                                const char *status)
{
  static const char sql[] =
      "UPDATE sessions SET agent = COALESCE(?2, agent), "
      "provider = COALESCE(?3, provider), model = COALESCE(?4, model), "
      "workspace = COALESCE(?5, workspace), title = COALESCE(?6, title), "
      "status = COALESCE(?7, status), updated_at = ?8 WHERE id = ?1";
  static const pt_store_session_info none = { 0 };
  if (!info) info = &none;
  int32_t rc = pt__store_writable(st);
  sqlite3_stmt *s = rc == PT_OK ? pt__store_stmt(st, sql) : NULL;
  if (!s) return rc != PT_OK ? rc : PT_EIO;
  sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 2, info->agent, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 3, info->provider, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 4, info->model, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 5, info->workspace, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 6, info->title, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 7, status, -1, SQLITE_STATIC);
  sqlite3_bind_int64(s, 8, pt__store_now_ms());
  rc = pt__store_run(st, s, "change a session");
  if (rc == PT_OK && sqlite3_changes(st->db) == 0)
    rc = pt__store_fail(st, PT_ENOENT, "no session %s in %s", id, st->path);
  return rc;
}

/* A session with its totals; shared by get and list. */
#define SESSION_SELECT                                                      \
  "SELECT s.id, s.agent, s.provider, s.model, s.workspace, s.title, "       \
  "s.status, s.created_at, s.updated_at, "                                  \
  "(SELECT count(*) FROM messages m WHERE m.session_id = s.id) "            \
  "AS messages, "                                                           \
  "(SELECT count(*) FROM turns t WHERE t.session_id = s.id) AS turns, "     \
  "(SELECT COALESCE(sum(input_tokens), 0) FROM usage "                      \
  "WHERE session_id = s.id) AS input_tokens, "                              \
  "(SELECT COALESCE(sum(output_tokens), 0) FROM usage "                     \
  "WHERE session_id = s.id) AS output_tokens, "                             \
  "(SELECT COALESCE(sum(cost_usd), 0.0) FROM usage "                        \
  "WHERE session_id = s.id) AS cost_usd, "                                  \
  "(SELECT status FROM turns t WHERE t.session_id = s.id "                  \
  "ORDER BY t.seq DESC LIMIT 1) AS last_turn_status "                       \
  "FROM sessions s "

int32_t pt_store_session_get(pt_store *st, const char *id, cJSON **out)
{
  static const char sql[] = SESSION_SELECT "WHERE s.id = ?1";
  sqlite3_stmt *s = pt__store_stmt(st, sql);
  if (!s) return PT_EIO;
  sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
  cJSON *rows = NULL;
  int32_t rc = pt__store_rows(st, s, "read a session", &rows);
  if (rc != PT_OK) return rc;
  cJSON *first = cJSON_DetachItemFromArray(rows, 0);
  cJSON_Delete(rows);
  if (!first)
    return pt__store_fail(st, PT_ENOENT, "no session %s in %s", id,
                          st->path);
  *out = first;
  return PT_OK;
}

int32_t pt_store_session_list(pt_store *st, int limit, cJSON **out)
{
  static const char sql[] =
      SESSION_SELECT "ORDER BY s.updated_at DESC, s.id LIMIT ?1";
  sqlite3_stmt *s = pt__store_stmt(st, sql);
  if (!s) return PT_EIO;
  sqlite3_bind_int(s, 1, limit > 0 ? limit : -1);
  return pt__store_rows(st, s, "list sessions", out);
}

int32_t pt_store_session_delete(pt_store *st, const char *id)
{
  static const char sql[] = "DELETE FROM sessions WHERE id = ?1";
  int32_t rc = pt_store_flush(st);
  if (rc == PT_OK) rc = pt__store_begin(st, "delete a session");
  if (rc != PT_OK) return rc;
  sqlite3_stmt *s = pt__store_stmt(st, sql);
  if (s) {
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    rc = pt__store_run(st, s, "delete a session");
    if (rc == PT_OK && sqlite3_changes(st->db) == 0)
      rc = pt__store_fail(st, PT_ENOENT, "no session %s in %s", id,
                          st->path);
  } else {
    rc = PT_EIO;
  }
  if (rc == PT_OK) rc = pt__store_blob_gc(st);
  rc = pt__store_end(st, rc, "delete a session");
  if (rc == PT_OK) pt__store_events_forget(st, id);
  return rc;
}
