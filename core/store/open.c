/*
 * core/store/open.c: opening and closing the database file, and the
 * connection settings every store runs with (docs/storage.md says why).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "store_int.h"

#define DEFAULT_BUSY_TIMEOUT_MS 5000

const char *pt_store_errmsg(const pt_store *st)
{
  return st->err[0] ? st->err : "no error";
}

const char *pt_store_path(const pt_store *st)
{
  return st->path;
}

/* WAL lets readers run beside the one writer and makes a commit one
 * append; `synchronous` NORMAL leaves the fsync to checkpoints, which a
 * killed process cannot undo (only a power cut can, and then only the
 * last commits, never the file's integrity). */
static int32_t configure(pt_store *st, const pt_store_options *o)
{
  int32_t rc = pt__store_exec(st, "PRAGMA foreign_keys = ON", "open");
  if (rc != PT_OK || st->readonly) return rc;
  sqlite3_stmt *s = NULL;
  int src = sqlite3_prepare_v2(st->db, "PRAGMA journal_mode = WAL", -1, &s,
                               NULL);
  if (src == SQLITE_OK) src = sqlite3_step(s);
  if (src == SQLITE_ROW) {
    const char *mode = (const char *)sqlite3_column_text(s, 0);
    src = mode && strcmp(mode, "wal") == 0 ? SQLITE_OK : SQLITE_CANTOPEN;
    if (src != SQLITE_OK)
      rc = pt__store_fail(st, PT_EIO,
                          "%s: cannot use write-ahead logging (the journal "
                          "stays '%s'); put the data folder on a local disk",
                          st->path, mode ? mode : "?");
  } else {
    rc = pt__store_error(st, src, "open");
  }
  sqlite3_finalize(s);
  if (rc != PT_OK) return rc;
  /* After a checkpoint restarts the log, its file shrinks back to this. */
  rc = pt__store_exec(st, "PRAGMA journal_size_limit = 67108864", "open");
  if (rc != PT_OK) return rc;
  return pt__store_exec(st,
                        o && o->synchronous_full
                            ? "PRAGMA synchronous = FULL"
                            : "PRAGMA synchronous = NORMAL",
                        "open");
}

/* A read-only reader of a WAL file needs its shared-memory file, which a
 * read-only folder cannot hold; such a file cannot be changing, so it is
 * read as immutable instead. The path becomes a URI for that. */
static int open_immutable(pt_store *st)
{
  size_t n = strlen(st->path);
  char *uri = malloc(3 * n + 32), *u = uri;
  if (!uri) return SQLITE_NOMEM;
  u += sprintf(u, "file:");
  for (const char *p = st->path; *p; p++) {
    unsigned char c = (unsigned char)*p;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
        (c >= '0' && c <= '9') || strchr("/-._~", c))
      *u++ = (char)c;
    else
      u += sprintf(u, "%%%02X", c);
  }
  strcpy(u, "?immutable=1");
  sqlite3_close(st->db);
  st->db = NULL;
  int rc = sqlite3_open_v2(uri, &st->db,
                           SQLITE_OPEN_READONLY | SQLITE_OPEN_URI |
                               SQLITE_OPEN_NOMUTEX,
                           NULL);
  free(uri);
  if (rc == SQLITE_OK) sqlite3_extended_result_codes(st->db, 1);
  return rc;
}

int32_t pt_store_open(const char *path, const pt_store_options *o,
                      pt_store **out, char *err, size_t errlen)
{
  *out = NULL;
  pt_store *st = calloc(1, sizeof *st);
  if (!st || !(st->path = strdup(path))) {
    free(st);
    snprintf(err, errlen, "out of memory");
    return PT_ENOMEM;
  }
  st->readonly = o && (o->flags & PT_STORE_READONLY);
  st->busy_timeout_ms = o && o->busy_timeout_ms > 0 ? o->busy_timeout_ms
                                                    : DEFAULT_BUSY_TIMEOUT_MS;
  pt__store_owner(st->owner, sizeof st->owner);

  /* One thread uses a connection at a time, so SQLite's own mutexes on it
   * would only cost. */
  int flags = SQLITE_OPEN_NOMUTEX |
              (st->readonly ? SQLITE_OPEN_READONLY
                            : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  int src = sqlite3_open_v2(path, &st->db, flags, NULL);
  int32_t rc = PT_OK;
  if (src != SQLITE_OK) {
    rc = pt__store_error(st, src, "open");
  } else {
    sqlite3_extended_result_codes(st->db, 1);
    sqlite3_busy_timeout(st->db, st->busy_timeout_ms);
    /* SQLite opens a file it may not write read-only without a word;
     * saying so now beats failing at the first write. */
    if (!st->readonly && sqlite3_db_readonly(st->db, "main") == 1)
      rc = pt__store_fail(st, PT_EPERM,
                          "%s is read-only; make it (and its folder) "
                          "writable, or use another --data-dir",
                          path);
  }
  if (rc == PT_OK) rc = configure(st, o);
  if (rc == PT_OK) rc = pt__store_migrate(st);
  int code = st->db ? sqlite3_extended_errcode(st->db) & 0xff : SQLITE_OK;
  if (rc != PT_OK && st->readonly &&
      (code == SQLITE_CANTOPEN || code == SQLITE_READONLY)) {
    src = open_immutable(st);
    rc = src == SQLITE_OK ? configure(st, o) : pt__store_error(st, src, "open");
    if (rc == PT_OK) rc = pt__store_migrate(st);
  }
  if (rc == PT_OK && !st->readonly) {
    pt__store_checkpoints_start(st);
    rc = pt_store_recover(st, NULL);
  }
  if (rc != PT_OK) {
    snprintf(err, errlen, "%s", st->err);
    pt_store_close(st);
    return rc;
  }
  st->err[0] = '\0';
  *out = st;
  return PT_OK;
}

/* mkdir -p with mode 0700 for the folders it creates. */
static int make_dirs(const char *dir)
{
  char *p = strdup(dir);
  if (!p) return -1;
  for (char *s = p + 1;; s++) {
    if (*s != '/' && *s != '\0') continue;
    char c = *s;
    *s = '\0';
    if (mkdir(p, 0700) != 0 && errno != EEXIST) {
      free(p);
      return -1;
    }
    *s = c;
    if (c == '\0') break;
  }
  free(p);
  return 0;
}

int32_t pt_store_open_dir(const char *data_dir, const pt_store_options *o,
                          pt_store **out, char *err, size_t errlen)
{
  *out = NULL;
  if (!data_dir || !*data_dir) {
    snprintf(err, errlen, "no data folder: set HOME, XDG_DATA_HOME or "
                          "PORTICO_DATA_DIR, or pass --data-dir");
    return PT_EINVAL;
  }
  int readonly = o && (o->flags & PT_STORE_READONLY);
  if (!readonly && make_dirs(data_dir) != 0) {
    snprintf(err, errlen, "cannot create the data folder %s: %s; pass "
                          "--data-dir with a writable folder",
             data_dir, strerror(errno));
    return PT_EIO;
  }
  size_t n = strlen(data_dir) + sizeof "/" PT_STORE_FILE;
  char *path = malloc(n);
  if (!path) {
    snprintf(err, errlen, "out of memory");
    return PT_ENOMEM;
  }
  snprintf(path, n, "%s/%s", data_dir, PT_STORE_FILE);
  int32_t rc = pt_store_open(path, o, out, err, errlen);
  free(path);
  return rc;
}

void pt_store_close(pt_store *st)
{
  if (!st) return;
  if (st->db && !st->readonly && pt_store_pending(st)) pt_store_flush(st);
  pt__store_checkpoints_stop(st);
  pt__store_streams_free(st);
  pt__store_events_free(st);
  for (size_t i = 0; i < st->nstmts; i++) sqlite3_finalize(st->stmts[i].stmt);
  free(st->stmts);
  /* The last connection to close checkpoints the log into the file and
   * removes it. */
  if (st->db) sqlite3_close(st->db);
  free(st->path);
  free(st);
}
