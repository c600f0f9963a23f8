/*
 * core/store/settings.c: small named values the runtime keeps between runs
 * (the text is the caller's; JSON by convention).
 */
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

int32_t pt_store_setting_set(pt_store *st, const char *key, const char *value)
{
  static const char set_sql[] =
      "INSERT INTO settings(key, value, updated_at) VALUES (?1, ?2, ?3) "
      "ON CONFLICT(key) DO UPDATE SET value = excluded.value, "
      "updated_at = excluded.updated_at";
  static const char del_sql[] = "DELETE FROM settings WHERE key = ?1";
  if (!key) return pt__store_fail(st, PT_EINVAL, "a setting needs a key");
  int32_t rc = pt__store_writable(st);
  sqlite3_stmt *s = rc == PT_OK ? pt__store_stmt(st, value ? set_sql : del_sql)
                                : NULL;
  if (!s) return rc != PT_OK ? rc : PT_EIO;
  sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
  if (value) {
    sqlite3_bind_text(s, 2, value, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, pt__store_now_ms());
  }
  return pt__store_run(st, s, "save a setting");
}

int32_t pt_store_setting_get(pt_store *st, const char *key, char **value)
{
  static const char sql[] = "SELECT value FROM settings WHERE key = ?1";
  sqlite3_stmt *s = pt__store_stmt(st, sql);
  if (!s) return PT_EIO;
  sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
  int src = sqlite3_step(s);
  int32_t rc = PT_OK;
  if (src == SQLITE_ROW) {
    const char *v = (const char *)sqlite3_column_text(s, 0);
    if (!(*value = strdup(v ? v : "")))
      rc = pt__store_fail(st, PT_ENOMEM, "out of memory");
  } else if (src == SQLITE_DONE) {
    rc = pt__store_fail(st, PT_ENOENT, "no setting '%s'", key);
  } else {
    rc = pt__store_error(st, src, "read a setting");
  }
  sqlite3_reset(s);
  return rc;
}
