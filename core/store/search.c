/*
 * core/store/search.c: full-text search over message parts.
 *
 * A person's query is never handed to FTS5 as syntax: each word becomes a
 * quoted phrase (so quotes, operators such as NEAR, column filters and
 * brackets are plain text) and the phrases must all match. A trailing `*`
 * keeps its meaning, a prefix match. Words with nothing to index (lone
 * punctuation) are dropped, so no query is an error.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

/* True when the tokenizer would index something in s[0..n). */
static int indexable(const char *s, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (isalnum((unsigned char)s[i]) || (unsigned char)s[i] >= 0x80) return 1;
  return 0;
}

/* The FTS5 expression for `query`; "" when nothing is left to match.
 * Caller frees. */
static char *fts_query(const char *query)
{
  size_t n = strlen(query);
  /* Worst case every byte is a doubled quote, plus quotes, star, space. */
  char *out = malloc(3 * n + 4), *o = out;
  if (!out) return NULL;
  const char *p = query;
  while (*p) {
    while (*p && isspace((unsigned char)*p)) p++;
    const char *w = p;
    while (*p && !isspace((unsigned char)*p)) p++;
    size_t len = (size_t)(p - w);
    int prefix = 0;
    while (len > 0 && w[len - 1] == '*') {
      prefix = 1;
      len--;
    }
    if (!indexable(w, len)) continue;
    if (o != out) *o++ = ' ';
    *o++ = '"';
    for (size_t i = 0; i < len; i++) {
      if (w[i] == '"') *o++ = '"';
      *o++ = w[i];
    }
    *o++ = '"';
    if (prefix) *o++ = '*';
  }
  *o = '\0';
  return out;
}

int32_t pt_store_search(pt_store *st, const char *query, int limit,
                        cJSON **out)
{
  static const char sql[] =
      "SELECT m.session_id, s.title AS session_title, m.id AS message_id, "
      "m.role, p.type AS kind, "
      "snippet(search, 0, '[', ']', '…', 16) AS snippet, m.created_at "
      "FROM search JOIN parts p ON p.id = search.rowid "
      "JOIN messages m ON m.id = p.message_id "
      "JOIN sessions s ON s.id = m.session_id "
      "WHERE search MATCH ?1 ORDER BY search.rank "
      "LIMIT ?2";
  char *expr = fts_query(query ? query : "");
  if (!expr) return pt__store_fail(st, PT_ENOMEM, "out of memory");
  if (!*expr) {
    free(expr);
    *out = cJSON_CreateArray();
    return *out ? PT_OK : pt__store_fail(st, PT_ENOMEM, "out of memory");
  }
  sqlite3_stmt *s = pt__store_stmt(st, sql);
  int32_t rc = PT_EIO;
  if (s) {
    sqlite3_bind_text(s, 1, expr, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 2, limit > 0 ? limit : 20);
    rc = pt__store_rows(st, s, "search", out);
  }
  free(expr);
  return rc;
}
