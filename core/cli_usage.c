/*
 * core/cli_usage.c: `portico usage` — tokens and cost from the usage
 * ledger, grouped by model, provider, day or session.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

static const char usage_help[] =
    "usage: portico usage [--by model|provider|day|session] [--since DATE]\n"
    "                     [--json]\n"
    "\n"
    "Tokens and cost of every provider call saved in portico.db (deleted\n"
    "sessions included), grouped by model (the default), provider, day\n"
    "(local time) or session, costliest first.\n"
    "\n"
    "  --by WHAT     the grouping\n"
    "  --since DATE  only calls from DATE on: YYYY-MM-DD or\n"
    "                YYYY-MM-DDTHH:MM[:SS], local time\n"
    "  --json        one JSON array instead of a table\n"
    "\n"
    "A cost marked * leaves out calls whose model has no known price (set\n"
    "one in config.lua's prices table).\n"
    "\n";

/* DATE as local time to Unix milliseconds; -1 when malformed. */
static int64_t parse_since(const char *s)
{
  struct tm tm = { 0 };
  int y, mo, d, h = 0, mi = 0, sec = 0, n = 0;
  if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3) return -1;
  if (s[n] == 'T' || s[n] == ' ') {
    int m = 0;
    if (sscanf(s + n + 1, "%2d:%2d%n", &h, &mi, &m) != 2) return -1;
    n += 1 + m;
    if (s[n] == ':') {
      if (sscanf(s + n + 1, "%2d%n", &sec, &m) != 1) return -1;
      n += 1 + m;
    }
  }
  if (s[n] || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
      sec > 60)
    return -1;
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  tm.tm_isdst = -1;
  time_t t = mktime(&tm);
  return t == (time_t)-1 ? -1 : (int64_t)t * 1000;
}

static double num(const cJSON *o, const char *key)
{
  const cJSON *v = cJSON_GetObjectItem(o, key);
  return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static void row(const char *key, const cJSON *r)
{
  char cost[40];
  snprintf(cost, sizeof cost, "$%.4f%s", num(r, "cost_usd"),
           num(r, "unpriced_calls") > 0 ? "*" : " ");
  printf("%-28s %6.0f %12.0f %12.0f %12.0f %12.0f %12s\n", key,
         num(r, "calls"), num(r, "input_tokens"), num(r, "output_tokens"),
         num(r, "cache_read_tokens"), num(r, "cache_write_tokens"), cost);
}

int pt_cli_usage(const pt_cli *cli, int argc, char **argv)
{
  static const char *const names[] = { "total", "model", "provider", "day",
                                       "session" };
  pt_store_usage_by by = PT_STORE_BY_MODEL;
  int64_t since = 0;
  int json = 0;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    if (pt_cli_is_help(a)) {
      fputs(usage_help, stdout);
      fputs(pt_cli_global_help, stdout);
      return PT_EXIT_OK;
    }
    if (!strcmp(a, "--json")) {
      json = 1;
    } else if (!strcmp(a, "--by") || !strcmp(a, "--since")) {
      if (i + 1 >= argc)
        return pt_cli_usage_error("usage", "%s needs a value", a);
      const char *v = argv[++i];
      if (!strcmp(a, "--since")) {
        if ((since = parse_since(v)) < 0)
          return pt_cli_usage_error("usage", "--since takes YYYY-MM-DD or "
                                             "YYYY-MM-DDTHH:MM, not '%s'", v);
        continue;
      }
      size_t k = 1;
      while (k < sizeof names / sizeof names[0] && strcmp(v, names[k])) k++;
      if (k == sizeof names / sizeof names[0])
        return pt_cli_usage_error("usage", "--by is model, provider, day or "
                                           "session, not '%s'", v);
      by = (pt_store_usage_by)k;
    } else {
      return pt_cli_usage_error("usage", "unexpected '%s'", a);
    }
  }
  pt_store *st;
  int32_t rc = pt_cli_store(cli, 0, &st);
  if (rc != PT_OK && rc != PT_ENOENT) return PT_EXIT_FAIL;
  cJSON *rows = NULL, *total = NULL;
  if (st && (pt_store_usage_report(st, by, since, &rows) != PT_OK ||
             pt_store_usage_report(st, PT_STORE_BY_NONE, since, &total) !=
                 PT_OK)) {
    fprintf(stderr, "portico: %s\n", pt_store_errmsg(st));
    cJSON_Delete(rows);
    pt_store_close(st);
    return PT_EXIT_FAIL;
  }
  pt_store_close(st);
  if (!rows) rows = cJSON_CreateArray();
  if (json) {
    char *text = cJSON_Print(rows);
    if (text) puts(text);
    cJSON_free(text);
  } else {
    char head[16];
    snprintf(head, sizeof head, "%s", names[by]);
    for (char *p = head; *p; p++) *p = (char)(*p - 'a' + 'A');
    printf("%-28s %6s %12s %12s %12s %12s %11s\n", head, "CALLS", "INPUT",
           "OUTPUT", "CACHE READ", "CACHE WRITE", "COST");
    const cJSON *r;
    cJSON_ArrayForEach(r, rows)
      row(cJSON_GetStringValue(cJSON_GetObjectItem(r, "key")), r);
    if (total && total->child) row("total", total->child);
  }
  cJSON_Delete(rows);
  cJSON_Delete(total);
  return PT_EXIT_OK;
}
