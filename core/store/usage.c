/*
 * core/store/usage.c: the usage ledger, one row per provider call (tokens,
 * cost, latency, retries, outcome), and its totals for `portico usage`.
 */
#include "store_int.h"

int32_t pt_store_usage_add(pt_store *st, const pt_store_usage *u)
{
  static const char sql[] =
      "INSERT INTO usage(session_id, turn_id, provider, model, input_tokens, "
      "output_tokens, cache_read_tokens, cache_write_tokens, cost_usd, "
      "latency_ms, retries, outcome, created_at) VALUES (?1, ?2, ?3, ?4, ?5, "
      "?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)";
  if (!u->provider || !u->model || !u->outcome)
    return pt__store_fail(st, PT_EINVAL,
                          "a usage row needs a provider, a model and an "
                          "outcome");
  int32_t rc = pt__store_writable(st);
  sqlite3_stmt *s = rc == PT_OK ? pt__store_stmt(st, sql) : NULL;
  if (!s) return rc != PT_OK ? rc : PT_EIO;
  sqlite3_bind_text(s, 1, u->session_id, -1, SQLITE_STATIC);
  if (u->turn_id > 0) sqlite3_bind_int64(s, 2, u->turn_id);
  sqlite3_bind_text(s, 3, u->provider, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 4, u->model, -1, SQLITE_STATIC);
  sqlite3_bind_int64(s, 5, (sqlite3_int64)u->input_tokens);
  sqlite3_bind_int64(s, 6, (sqlite3_int64)u->output_tokens);
  sqlite3_bind_int64(s, 7, (sqlite3_int64)u->cache_read_tokens);
  sqlite3_bind_int64(s, 8, (sqlite3_int64)u->cache_write_tokens);
  if (u->cost_known) sqlite3_bind_double(s, 9, u->cost_usd);
  if (u->latency_ms >= 0) sqlite3_bind_int64(s, 10, u->latency_ms);
  if (u->retries >= 0) sqlite3_bind_int(s, 11, u->retries);
  sqlite3_bind_text(s, 12, u->outcome, -1, SQLITE_STATIC);
  sqlite3_bind_int64(s, 13, pt__store_now_ms());
  return pt__store_run(st, s, "record usage");
}

/* One statement per grouping: the statement cache is keyed by SQL text. */
#define REPORT(key, group, order)                                          \
  "SELECT " key " AS key, count(*) AS calls, "                             \
  "COALESCE(sum(input_tokens), 0) AS input_tokens, "                       \
  "COALESCE(sum(output_tokens), 0) AS output_tokens, "                     \
  "COALESCE(sum(cache_read_tokens), 0) AS cache_read_tokens, "             \
  "COALESCE(sum(cache_write_tokens), 0) AS cache_write_tokens, "           \
  "COALESCE(sum(cost_usd), 0.0) AS cost_usd, "                             \
  "count(*) - count(cost_usd) AS unpriced_calls "                          \
  "FROM usage WHERE created_at >= ?1 " group order

static const char by_none[] = REPORT("'total'", "", "");
static const char by_model[] =
    REPORT("model", "GROUP BY 1 ", "ORDER BY cost_usd DESC, key");
static const char by_provider[] =
    REPORT("provider", "GROUP BY 1 ", "ORDER BY cost_usd DESC, key");
static const char by_day[] =
    REPORT("date(created_at / 1000, 'unixepoch', 'localtime')", "GROUP BY 1 ",
           "ORDER BY key");
static const char by_session[] =
    REPORT("COALESCE(session_id, '(deleted)')", "GROUP BY 1 ",
           "ORDER BY cost_usd DESC, key");

int32_t pt_store_usage_report(pt_store *st, pt_store_usage_by by,
                              int64_t since_ms, cJSON **out)
{
  static const char *const sql[] = { by_none, by_model, by_provider, by_day,
                                     by_session };
  if ((unsigned)by >= sizeof sql / sizeof sql[0])
    return pt__store_fail(st, PT_EINVAL, "unknown usage grouping %d",
                          (int)by);
  sqlite3_stmt *s = pt__store_stmt(st, sql[by]);
  if (!s) return PT_EIO;
  sqlite3_bind_int64(s, 1, since_ms);
  return pt__store_rows(st, s, "read usage", out);
}
