/*
 * core/store/blobs.c: bytes stored once under their SHA-256, so the same
 * image or tool output sent ten times is kept once. A blob lives while a
 * message part (blob_refs) or a tool call (result_blob) names it.
 */
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

int32_t pt__store_blob_put(pt_store *st, const void *data, size_t len,
                           const char *media_type,
                           char hash[PT_STORE_HASH_LEN])
{
  static const char sql[] =
      "INSERT INTO blobs(hash, media_type, size, data, created_at) "
      "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT(hash) DO NOTHING";
  pt__sha256_hex(data, len, hash);
  sqlite3_stmt *s = pt__store_stmt(st, sql);
  if (!s) return PT_EIO;
  sqlite3_bind_text(s, 1, hash, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 2, media_type, -1, SQLITE_STATIC);
  sqlite3_bind_int64(s, 3, (sqlite3_int64)len);
  sqlite3_bind_blob64(s, 4, len ? data : "", len, SQLITE_STATIC);
  sqlite3_bind_int64(s, 5, pt__store_now_ms());
  return pt__store_run(st, s, "store a blob");
}

int32_t pt_store_blob_put(pt_store *st, const void *data, size_t len,
                          const char *media_type,
                          char hash[PT_STORE_HASH_LEN])
{
  int32_t rc = pt__store_begin(st, "store a blob");
  if (rc != PT_OK) return rc;
  rc = pt__store_blob_put(st, data, len, media_type, hash);
  return pt__store_end(st, rc, "store a blob");
}

int32_t pt_store_blob_get(pt_store *st, const char *hash, void **data,
                          size_t *len, char **media_type)
{
  static const char sql[] =
      "SELECT data, media_type FROM blobs WHERE hash = ?1";
  sqlite3_stmt *s = pt__store_stmt(st, sql);
  if (!s) return PT_EIO;
  sqlite3_bind_text(s, 1, hash, -1, SQLITE_STATIC);
  int src = sqlite3_step(s);
  int32_t rc = PT_OK;
  if (src == SQLITE_ROW) {
    size_t n = (size_t)sqlite3_column_bytes(s, 0);
    const void *p = sqlite3_column_blob(s, 0);
    const char *mt = (const char *)sqlite3_column_text(s, 1);
    char *buf = malloc(n + 1);
    char *type = mt ? strdup(mt) : NULL;
    if (!buf || (mt && !type)) {
      free(buf);
      free(type);
      rc = pt__store_fail(st, PT_ENOMEM, "out of memory");
    } else {
      if (n) memcpy(buf, p, n);
      buf[n] = '\0';
      *data = buf;
      *len = n;
      if (media_type) *media_type = type;
      else free(type);
    }
  } else if (src == SQLITE_DONE) {
    rc = pt__store_fail(st, PT_ENOENT, "%s: no blob %s", st->path, hash);
  } else {
    rc = pt__store_error(st, src, "read a blob");
  }
  sqlite3_reset(s);
  return rc;
}

int32_t pt__store_blob_gc(pt_store *st)
{
  static const char sql[] =
      "DELETE FROM blobs WHERE NOT EXISTS "
      "(SELECT 1 FROM blob_refs r WHERE r.hash = blobs.hash) "
      "AND NOT EXISTS "
      "(SELECT 1 FROM tool_calls t WHERE t.result_blob = blobs.hash)";
  sqlite3_stmt *s = pt__store_stmt(st, sql);
  return s ? pt__store_run(st, s, "delete unused blobs") : PT_EIO;
}
