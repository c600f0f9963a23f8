/*
 * core/store/migrate.c: the schema, as the list of steps that build it.
 *
 * PRAGMA user_version is the number of steps applied. Opening a file runs
 * the missing ones in one transaction, so a crash mid-migration leaves the
 * old schema intact; a file from a newer portico (a higher version) is
 * refused before anything is written. A step, once released, never
 * changes: a new schema is a new step appended here (and documented in
 * docs/storage.md). tests/fixtures/store_v1.sql is a frozen copy of the
 * first version, to test the migration from it.
 */
#include <stdio.h>
#include <string.h>

#include "store_int.h"

/* 'PTIC': marks the file as portico's, so a stranger's SQLite database
 * named on the command line is not written into. */
#define PORTICO_APPLICATION_ID 0x50544943

/* Version 1: sessions, turns, messages and parts, tool calls, permission
 * rules, requests and decisions, the usage ledger, settings. */
static const char v1[] =
    "CREATE TABLE sessions (\n"
    "  id         TEXT PRIMARY KEY,\n"
    "  agent      TEXT,\n"
    "  provider   TEXT,\n"
    "  model      TEXT,\n"
    "  workspace  TEXT,\n"
    "  title      TEXT,\n"
    "  status     TEXT NOT NULL DEFAULT 'active'\n"
    "             CHECK (status IN ('active', 'archived')),\n"
    "  created_at INTEGER NOT NULL,\n"
    "  updated_at INTEGER NOT NULL\n"
    ");\n"
    "CREATE INDEX sessions_updated ON sessions(updated_at);\n"
    "CREATE TABLE turns (\n"
    "  id          INTEGER PRIMARY KEY,\n"
    "  session_id  TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,\n"
    "  seq         INTEGER NOT NULL,\n"
    "  status      TEXT NOT NULL DEFAULT 'running'\n"
    "              CHECK (status IN ('running', 'done', 'interrupted',\n"
    "                                'failed')),\n"
    "  stop_reason TEXT,\n"
    "  error       TEXT,\n"
    "  owner       TEXT,\n"
    "  started_at  INTEGER NOT NULL,\n"
    "  ended_at    INTEGER,\n"
    "  UNIQUE (session_id, seq)\n"
    ");\n"
    "CREATE INDEX turns_running ON turns(status) WHERE status = 'running';\n"
    "CREATE TABLE messages (\n"
    "  id           INTEGER PRIMARY KEY,\n"
    "  session_id   TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,\n"
    "  turn_id      INTEGER REFERENCES turns(id) ON DELETE CASCADE,\n"
    "  seq          INTEGER NOT NULL,\n"
    "  role         TEXT NOT NULL\n"
    "               CHECK (role IN ('system', 'user', 'assistant', 'tool')),\n"
    "  status       TEXT NOT NULL DEFAULT 'complete'\n"
    "               CHECK (status IN ('streaming', 'complete',\n"
    "                                 'interrupted')),\n"
    "  created_at   INTEGER NOT NULL,\n"
    "  completed_at INTEGER,\n"
    "  UNIQUE (session_id, seq)\n"
    ");\n"
    "CREATE INDEX messages_turn ON messages(turn_id);\n"
    "CREATE TABLE parts (\n"
    "  id         INTEGER PRIMARY KEY,\n"
    "  message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,\n"
    "  seq        INTEGER NOT NULL,\n"
    "  type       TEXT NOT NULL,\n"
    "  text       TEXT,\n"
    "  data       TEXT,\n"
    "  UNIQUE (message_id, seq)\n"
    ");\n"
    "CREATE TABLE permission_rules (\n"
    "  id         INTEGER PRIMARY KEY,\n"
    "  tool       TEXT NOT NULL,\n"
    "  pattern    TEXT NOT NULL DEFAULT '*',\n"
    "  decision   TEXT NOT NULL CHECK (decision IN ('allow', 'deny')),\n"
    "  workspace  TEXT,\n"
    "  created_at INTEGER NOT NULL\n"
    ");\n"
    "CREATE INDEX permission_rules_tool ON permission_rules(tool);\n"
    "CREATE TABLE tool_calls (\n"
    "  id              INTEGER PRIMARY KEY,\n"
    "  session_id      TEXT NOT NULL REFERENCES sessions(id)\n"
    "                  ON DELETE CASCADE,\n"
    "  turn_id         INTEGER REFERENCES turns(id) ON DELETE SET NULL,\n"
    "  call_id         TEXT,\n"
    "  name            TEXT NOT NULL,\n"
    "  arguments       TEXT NOT NULL,\n"
    "  idempotency_key TEXT UNIQUE,\n"
    "  status          TEXT NOT NULL DEFAULT 'pending'\n"
    "                  CHECK (status IN ('pending', 'denied', 'running',\n"
    "                                    'done', 'failed', 'interrupted')),\n"
    "  decision        TEXT CHECK (decision IN ('allow', 'deny')),\n"
    "  decided_by      TEXT,\n"
    "  rule_id         INTEGER REFERENCES permission_rules(id)\n"
    "                  ON DELETE SET NULL,\n"
    "  reason          TEXT,\n"
    "  result          TEXT,\n"
    "  is_error        INTEGER NOT NULL DEFAULT 0,\n"
    "  created_at      INTEGER NOT NULL,\n"
    "  decided_at      INTEGER,\n"
    "  started_at      INTEGER,\n"
    "  ended_at        INTEGER\n"
    ");\n"
    "CREATE INDEX tool_calls_session ON tool_calls(session_id);\n"
    "CREATE INDEX tool_calls_turn ON tool_calls(turn_id);\n"
    "CREATE INDEX tool_calls_rule ON tool_calls(rule_id)\n"
    "  WHERE rule_id IS NOT NULL;\n"
    "CREATE TABLE permission_requests (\n"
    "  id           INTEGER PRIMARY KEY,\n"
    "  session_id   TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,\n"
    "  tool_call_id INTEGER NOT NULL REFERENCES tool_calls(id)\n"
    "               ON DELETE CASCADE,\n"
    "  reason       TEXT,\n"
    "  status       TEXT NOT NULL DEFAULT 'pending'\n"
    "               CHECK (status IN ('pending', 'answered', 'cancelled')),\n"
    "  decision     TEXT CHECK (decision IN ('allow', 'deny')),\n"
    "  created_at   INTEGER NOT NULL,\n"
    "  answered_at  INTEGER\n"
    ");\n"
    "CREATE INDEX permission_requests_session ON permission_requests(session_id);\n"
    "CREATE INDEX permission_requests_call ON permission_requests(tool_call_id);\n"
    "CREATE INDEX permission_requests_pending ON permission_requests(status)\n"
    "  WHERE status = 'pending';\n"
    "CREATE TABLE permission_decisions (\n"
    "  id           INTEGER PRIMARY KEY,\n"
    "  session_id   TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,\n"
    "  tool_call_id INTEGER REFERENCES tool_calls(id) ON DELETE SET NULL,\n"
    "  tool         TEXT NOT NULL,\n"
    "  arguments    TEXT,\n"
    "  decision     TEXT NOT NULL CHECK (decision IN ('allow', 'deny')),\n"
    "  decided_by   TEXT NOT NULL,\n"
    "  rule_id      INTEGER REFERENCES permission_rules(id)\n"
    "               ON DELETE SET NULL,\n"
    "  reason       TEXT,\n"
    "  created_at   INTEGER NOT NULL\n"
    ");\n"
    "CREATE INDEX permission_decisions_session\n"
    "  ON permission_decisions(session_id);\n"
    "CREATE INDEX permission_decisions_call\n"
    "  ON permission_decisions(tool_call_id);\n"
    "CREATE INDEX permission_decisions_rule ON permission_decisions(rule_id)\n"
    "  WHERE rule_id IS NOT NULL;\n"
    "CREATE TABLE usage (\n"
    "  id                 INTEGER PRIMARY KEY,\n"
    "  session_id         TEXT REFERENCES sessions(id) ON DELETE SET NULL,\n"
    "  turn_id            INTEGER REFERENCES turns(id) ON DELETE SET NULL,\n"
    "  provider           TEXT NOT NULL,\n"
    "  model              TEXT NOT NULL,\n"
    "  input_tokens       INTEGER NOT NULL DEFAULT 0,\n"
    "  output_tokens      INTEGER NOT NULL DEFAULT 0,\n"
    "  cache_read_tokens  INTEGER NOT NULL DEFAULT 0,\n"
    "  cache_write_tokens INTEGER NOT NULL DEFAULT 0,\n"
    "  cost_usd           REAL,\n"
    "  latency_ms         INTEGER,\n"
    "  retries            INTEGER,\n"
    "  outcome            TEXT NOT NULL,\n"
    "  created_at         INTEGER NOT NULL\n"
    ");\n"
    "CREATE INDEX usage_created ON usage(created_at);\n"
    "CREATE INDEX usage_session ON usage(session_id);\n"
    "CREATE INDEX usage_turn ON usage(turn_id);\n"
    "CREATE TABLE settings (\n"
    "  key        TEXT PRIMARY KEY,\n"
    "  value      TEXT NOT NULL,\n"
    "  updated_at INTEGER NOT NULL\n"
    ") WITHOUT ROWID;\n";

/* The text search indexes for a part `p` of a finished message: its text,
 * or the text blob it was moved to, capped so that one huge tool output
 * cannot balloon the index. */
#define PART_BODY(p)                                                       \
  "substr(COALESCE(" p ".text, (SELECT CAST(b.data AS TEXT) FROM blobs b " \
  "WHERE b.hash = json_extract(" p ".data, '$.text_blob'))), 1, 262144)"

/* Version 2: blobs by content hash, and the full-text index over message
 * parts (text, reasoning, tool arguments, tool output), kept by triggers:
 * a part enters it when its message stops streaming. */
static const char v2[] =
    "CREATE TABLE blobs (\n"
    "  hash       TEXT PRIMARY KEY,\n"
    "  media_type TEXT,\n"
    "  size       INTEGER NOT NULL,\n"
    "  data       BLOB NOT NULL,\n"
    "  created_at INTEGER NOT NULL\n"
    ");\n"
    "CREATE TABLE blob_refs (\n"
    "  part_id INTEGER NOT NULL REFERENCES parts(id) ON DELETE CASCADE,\n"
    "  hash    TEXT NOT NULL REFERENCES blobs(hash),\n"
    "  PRIMARY KEY (part_id, hash)\n"
    ") WITHOUT ROWID;\n"
    "CREATE INDEX blob_refs_hash ON blob_refs(hash);\n"
    "ALTER TABLE tool_calls ADD COLUMN result_blob TEXT\n"
    "  REFERENCES blobs(hash);\n"
    "CREATE INDEX tool_calls_result_blob ON tool_calls(result_blob)\n"
    "  WHERE result_blob IS NOT NULL;\n"
    "CREATE VIRTUAL TABLE search USING fts5(\n"
    "  body, tokenize = 'unicode61 remove_diacritics 2');\n"
    "CREATE TRIGGER parts_search_insert AFTER INSERT ON parts\n"
    "  WHEN (SELECT status FROM messages WHERE id = new.message_id)\n"
    "       <> 'streaming'\n"
    "BEGIN\n"
    "  INSERT INTO search(rowid, body)\n"
    "    SELECT new.id, body FROM (SELECT " PART_BODY("new") " AS body)\n"
    "    WHERE body IS NOT NULL;\n"
    "END;\n"
    "CREATE TRIGGER messages_search_end AFTER UPDATE OF status ON messages\n"
    "  WHEN old.status = 'streaming' AND new.status <> 'streaming'\n"
    "BEGIN\n"
    "  INSERT INTO search(rowid, body)\n"
    "    SELECT id, body FROM (SELECT p.id AS id, " PART_BODY("p") " AS body\n"
    "                          FROM parts p WHERE p.message_id = new.id)\n"
    "    WHERE body IS NOT NULL;\n"
    "END;\n"
    "CREATE TRIGGER parts_search_delete AFTER DELETE ON parts\n"
    "BEGIN\n"
    "  DELETE FROM search WHERE rowid = old.id;\n"
    "END;\n"
    "INSERT INTO search(rowid, body)\n"
    "  SELECT p.id, substr(p.text, 1, 262144) FROM parts p\n"
    "  JOIN messages m ON m.id = p.message_id\n"
    "  WHERE m.status <> 'streaming' AND p.text IS NOT NULL;\n";

/* Version 3: the event log a server replays to a client that reconnects
 * (store_events.c). Without a rowid, the key is the table's order: a
 * session's events sit together in seq order, and a replay is one range
 * scan. The key's first column also serves the cascade from sessions. */
static const char v3[] =
    "CREATE TABLE events (\n"
    "  session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,\n"
    "  seq        INTEGER NOT NULL,\n"
    "  created_at INTEGER NOT NULL,\n"
    "  data       TEXT NOT NULL,\n"
    "  PRIMARY KEY (session_id, seq)\n"
    ") WITHOUT ROWID;\n";

static const char *const steps[PT_STORE_SCHEMA_VERSION] = { v1, v2, v3 };

static int32_t pragma_int(pt_store *st, const char *sql, int64_t *out)
{
  sqlite3_stmt *s = NULL;
  int rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
  if (rc == SQLITE_OK) rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) {
    *out = sqlite3_column_int64(s, 0);
    rc = SQLITE_OK;
  }
  int32_t r = rc == SQLITE_OK ? PT_OK
                              : pt__store_error(st, rc, "read the schema");
  sqlite3_finalize(s);
  return r;
}

/* Refuse what is not ours, and what is newer than this build. */
static int32_t check(pt_store *st, int64_t version, int64_t app,
                     int64_t tables)
{
  if ((app != 0 && app != PORTICO_APPLICATION_ID) ||
      (app == 0 && (version != 0 || tables != 0)))
    return pt__store_fail(st, PT_EINVAL,
                          "%s is a SQLite database of another program, not "
                          "portico's; point --data-dir elsewhere",
                          st->path);
  if (version > PT_STORE_SCHEMA_VERSION)
    return pt__store_fail(
        st, PT_EVERSION,
        "%s was written by a newer portico (schema version %lld; this "
        "portico knows up to %d); upgrade portico, or use another "
        "--data-dir",
        st->path, (long long)version, PT_STORE_SCHEMA_VERSION);
  return PT_OK;
}

static int32_t read_state(pt_store *st, int64_t *version, int64_t *app,
                          int64_t *tables)
{
  int32_t rc = pragma_int(st, "PRAGMA user_version", version);
  if (rc == PT_OK) rc = pragma_int(st, "PRAGMA application_id", app);
  if (rc == PT_OK)
    rc = pragma_int(st, "SELECT count(*) FROM sqlite_schema", tables);
  return rc;
}

int32_t pt__store_migrate(pt_store *st)
{
  int64_t version = 0, app = 0, tables = 0;
  int32_t rc = read_state(st, &version, &app, &tables);
  if (rc == PT_OK) rc = check(st, version, app, tables);
  if (rc != PT_OK || version == PT_STORE_SCHEMA_VERSION) return rc;
  if (st->readonly)
    return pt__store_fail(
        st, PT_EVERSION,
        "%s has schema version %lld and needs an upgrade to %d, which a "
        "read-only open cannot do; run portico once with write access to it",
        st->path, (long long)version, PT_STORE_SCHEMA_VERSION);

  rc = pt__store_begin(st, "upgrade the schema");
  if (rc != PT_OK) return rc;
  /* Read again under the write lock: another process may have migrated
   * the file since. */
  rc = read_state(st, &version, &app, &tables);
  if (rc == PT_OK) rc = check(st, version, app, tables);
  for (int64_t v = version; rc == PT_OK && v < PT_STORE_SCHEMA_VERSION; v++) {
    rc = pt__store_exec(st, steps[v], "upgrade the schema");
    if (rc != PT_OK && strstr(st->err, "no such module: fts5"))
      rc = pt__store_fail(st, PT_ENOTSUP,
                          "%s: this SQLite library (%s) lacks FTS5; install "
                          "one built with it (Debian's has it)",
                          st->path, sqlite3_libversion());
  }
  if (rc == PT_OK && version < PT_STORE_SCHEMA_VERSION) {
    char sql[96];
    snprintf(sql, sizeof sql, "PRAGMA user_version = %d; "
             "PRAGMA application_id = %d", PT_STORE_SCHEMA_VERSION,
             PORTICO_APPLICATION_ID);
    rc = pt__store_exec(st, sql, "upgrade the schema");
  }
  return pt__store_end(st, rc, "upgrade the schema");
}
