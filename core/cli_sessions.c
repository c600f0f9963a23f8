/*
 * core/cli_sessions.c: `portico sessions` — list, show, search, export and
 * delete the saved sessions, and the store opening every store-reading
 * command shares.
 *
 * No kernel is started: these read the data folder's portico.db alone, and
 * may do so while another portico writes it. Markdown export lives in
 * cli_export.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "paths.h"
#include "store/store.h"

static const char sessions_help[] =
    "usage: portico sessions [list] [--json] [--limit N]\n"
    "       portico sessions show ID [--json]\n"
    "       portico sessions search QUERY... [--json] [--limit N]\n"
    "       portico sessions export ID [--format json|markdown]\n"
    "       portico sessions delete ID\n"
    "\n"
    "The saved conversations in the data folder's portico.db. ID is a\n"
    "session's id or its first digits (at least 4).\n"
    "\n"
    "  list     the sessions, most recently used first\n"
    "  show     one session's details and messages\n"
    "  search   messages, tool arguments and tool output containing every\n"
    "           word (a trailing * matches a prefix), best matches first\n"
    "  export   a whole session as JSON (the default) or Markdown, on stdout\n"
    "  delete   a session with everything it holds (its usage stays counted)\n"
    "  --json   JSON instead of text\n"
    "\n";

int32_t pt_cli_store(const pt_cli *cli, int write, pt_store **out)
{
  *out = NULL;
  char *dir = cli->data_dir ? strdup(cli->data_dir) : pt_paths_data_dir();
  char *path = dir ? pt_paths_join(dir, PT_STORE_FILE) : NULL;
  char err[1024] = "";
  int32_t rc;
  if (!path) {
    fprintf(stderr, "portico: no data folder: set HOME, XDG_DATA_HOME or "
                    "PORTICO_DATA_DIR, or pass --data-dir\n");
    rc = PT_EINVAL;
  } else if (access(path, F_OK) != 0) {
    /* Nothing saved yet: reading is answered by an empty store. */
    rc = PT_ENOENT;
  } else {
    /* A writable open also marks cut-off turns interrupted; a read-only
     * file is still readable. */
    rc = pt_store_open(path, NULL, out, err, sizeof err);
    if (rc == PT_EPERM && !write) {
      pt_store_options o = { .flags = PT_STORE_READONLY };
      rc = pt_store_open(path, &o, out, err, sizeof err);
    }
    if (rc != PT_OK) fprintf(stderr, "portico: %s\n", err);
  }
  free(path);
  free(dir);
  return rc;
}

void pt_cli_time(int64_t ms, char *buf, size_t len)
{
  time_t t = (time_t)(ms / 1000);
  struct tm tm;
  localtime_r(&t, &tm);
  strftime(buf, len, "%Y-%m-%d %H:%M", &tm);
}

static void print_json(const cJSON *v)
{
  char *text = cJSON_Print(v);
  if (text) puts(text);
  cJSON_free(text);
}

static const char *str(const cJSON *o, const char *key)
{
  const char *s = cJSON_GetStringValue(cJSON_GetObjectItem(o, key));
  return s ? s : "";
}

static double num(const cJSON *o, const char *key)
{
  const cJSON *v = cJSON_GetObjectItem(o, key);
  return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

/* ------------------------------------------------------------------------ */
/* list, show                                                                */

static int list(pt_store *st, int json, int limit)
{
  cJSON *rows = NULL;
  if (st && pt_store_session_list(st, limit, &rows) != PT_OK) {
    fprintf(stderr, "portico: %s\n", pt_store_errmsg(st));
    return PT_EXIT_FAIL;
  }
  if (!rows) rows = cJSON_CreateArray();
  if (json) {
    print_json(rows);
  } else if (!rows->child) {
    fputs("no sessions yet; 'portico chat' starts one\n", stderr);
  } else {
    printf("%-16s  %-16s  %5s  %-11s  %9s  %s\n", "ID", "UPDATED", "TURNS",
           "LAST TURN", "COST", "TITLE");
    const cJSON *r;
    cJSON_ArrayForEach(r, rows) {
      char when[32], cost[32];
      pt_cli_time((int64_t)num(r, "updated_at"), when, sizeof when);
      snprintf(cost, sizeof cost, "$%.4f", num(r, "cost_usd"));
      printf("%-16s  %-16s  %5.0f  %-11s  %9s  %s\n", str(r, "id"), when,
             num(r, "turns"), str(r, "last_turn_status"), cost,
             str(r, "title"));
    }
  }
  cJSON_Delete(rows);
  return PT_EXIT_OK;
}

/* Print a part for a person, indented under its message. */
static void show_part(const cJSON *p)
{
  const char *type = str(p, "type");
  if (!strcmp(type, "text")) {
    printf("%s\n", str(p, "text"));
  } else if (!strcmp(type, "thinking")) {
    printf("(thinking) %s\n", str(p, "text"));
  } else if (!strcmp(type, "tool_call")) {
    char *args = cJSON_PrintUnformatted(cJSON_GetObjectItem(p, "arguments"));
    printf("(tool call %s %s) %s\n", str(p, "name"), str(p, "id"),
           args ? args : "{}");
    cJSON_free(args);
  } else if (!strcmp(type, "tool_result")) {
    const cJSON *content = cJSON_GetObjectItem(p, "content");
    char *text = cJSON_IsString(content) ? NULL : cJSON_Print(content);
    printf("(tool result for %s%s) %s\n", str(p, "tool_call_id"),
           cJSON_IsTrue(cJSON_GetObjectItem(p, "is_error")) ? ", an error"
                                                            : "",
           text ? text : content ? content->valuestring : "");
    cJSON_free(text);
  } else if (!strcmp(type, "image")) {
    printf("(image %s)\n", str(p, "media_type"));
  } else {
    printf("(%s part)\n", type);
  }
}

static void show_text(const cJSON *s, const cJSON *msgs)
{
  char created[32], updated[32];
  pt_cli_time((int64_t)num(s, "created_at"), created, sizeof created);
  pt_cli_time((int64_t)num(s, "updated_at"), updated, sizeof updated);
  printf("session %s: %s\n", str(s, "id"), str(s, "title"));
  printf("  provider %s, model %s, %s\n", str(s, "provider"), str(s, "model"),
         str(s, "status"));
  if (*str(s, "workspace")) printf("  workspace %s\n", str(s, "workspace"));
  printf("  created %s, updated %s\n", created, updated);
  printf("  %.0f turns, %.0f messages, %.0f tokens in, %.0f out, $%.4f\n",
         num(s, "turns"), num(s, "messages"), num(s, "input_tokens"),
         num(s, "output_tokens"), num(s, "cost_usd"));
  const cJSON *m;
  cJSON_ArrayForEach(m, msgs) {
    const char *status = str(m, "status");
    const char *turn = str(m, "turn_status");
    printf("\n[%s]%s%s\n", str(m, "role"),
           strcmp(status, "complete") ? " " : "",
           strcmp(status, "complete") ? status : "");
    const cJSON *content = cJSON_GetObjectItem(m, "content"), *p;
    const cJSON *parts = cJSON_IsArray(content) ? content : NULL;
    if (cJSON_IsString(content)) printf("%s\n", content->valuestring);
    cJSON_ArrayForEach(p, parts) show_part(p);
    if (!strcmp(turn, "failed") && !strcmp(str(m, "role"), "user"))
      puts("(this turn failed)");
  }
}

/* Find the session named on the command line; prints the error. */
static int find(pt_store *st, const char *arg, char id[PT_STORE_ID_LEN])
{
  if (!st) {
    fprintf(stderr, "portico: no session %s: nothing has been saved yet\n",
            arg);
    return -1;
  }
  if (pt_store_session_find(st, arg, id) != PT_OK) {
    fprintf(stderr, "portico: %s\n", pt_store_errmsg(st));
    return -1;
  }
  return 0;
}

/* The session and its messages, as export writes them. */
static cJSON *transcript(pt_store *st, const char *id)
{
  cJSON *s = NULL, *msgs = NULL;
  if (pt_store_session_get(st, id, &s) != PT_OK ||
      pt_store_messages(st, id, 0, &msgs) != PT_OK) {
    fprintf(stderr, "portico: %s\n", pt_store_errmsg(st));
    cJSON_Delete(s);
    return NULL;
  }
  cJSON *t = cJSON_CreateObject();
  cJSON_AddItemToObject(t, "session", s);
  cJSON_AddItemToObject(t, "messages", msgs);
  return t;
}

static int show(pt_store *st, const char *arg, int json)
{
  char id[PT_STORE_ID_LEN];
  if (find(st, arg, id) != 0) return PT_EXIT_FAIL;
  cJSON *t = transcript(st, id);
  if (!t) return PT_EXIT_FAIL;
  if (json) print_json(t);
  else show_text(cJSON_GetObjectItem(t, "session"),
                 cJSON_GetObjectItem(t, "messages"));
  cJSON_Delete(t);
  return PT_EXIT_OK;
}

/* ------------------------------------------------------------------------ */
/* search, export, delete                                                    */

static int search(pt_store *st, const char *query, int json, int limit)
{
  cJSON *hits = NULL;
  if (st && pt_store_search(st, query, limit, &hits) != PT_OK) {
    fprintf(stderr, "portico: %s\n", pt_store_errmsg(st));
    return PT_EXIT_FAIL;
  }
  if (!hits) hits = cJSON_CreateArray();
  if (json) {
    print_json(hits);
  } else if (!hits->child) {
    fprintf(stderr, "nothing matches '%s'\n", query);
  } else {
    const cJSON *h;
    cJSON_ArrayForEach(h, hits) {
      char when[32], *snip = strdup(str(h, "snippet"));
      for (char *p = snip; p && *p; p++)
        if (*p == '\n' || *p == '\r' || *p == '\t') *p = ' ';
      pt_cli_time((int64_t)num(h, "created_at"), when, sizeof when);
      printf("%s  %s  %s/%s  %s\n    %s\n", str(h, "session_id"), when,
             str(h, "role"), str(h, "kind"), str(h, "session_title"),
             snip ? snip : "");
      free(snip);
    }
  }
  cJSON_Delete(hits);
  return PT_EXIT_OK;
}

static int export(pt_store *st, const char *arg, const char *format)
{
  char id[PT_STORE_ID_LEN];
  if (find(st, arg, id) != 0) return PT_EXIT_FAIL;
  cJSON *t = transcript(st, id);
  if (!t) return PT_EXIT_FAIL;
  if (!strcmp(format, "json")) print_json(t);
  else pt_cli_export_markdown(t, stdout);
  cJSON_Delete(t);
  return PT_EXIT_OK;
}

static int delete(pt_store *st, const char *arg)
{
  char id[PT_STORE_ID_LEN];
  if (find(st, arg, id) != 0) return PT_EXIT_FAIL;
  if (pt_store_session_delete(st, id) != PT_OK) {
    fprintf(stderr, "portico: %s\n", pt_store_errmsg(st));
    return PT_EXIT_FAIL;
  }
  printf("deleted session %s\n", id);
  return PT_EXIT_OK;
}

/* ------------------------------------------------------------------------ */

int pt_cli_sessions(const pt_cli *cli, int argc, char **argv)
{
  const char *verb = argc > 0 && argv[0][0] != '-' ? argv[0] : "list";
  int first = argc > 0 && argv[0][0] != '-' ? 1 : 0;
  int json = 0, limit = 0;
  const char *format = "json";
  char query[4096] = "";
  const char *arg = NULL;
  for (int i = first; i < argc; i++) {
    const char *a = argv[i];
    if (pt_cli_is_help(a)) {
      fputs(sessions_help, stdout);
      fputs(pt_cli_global_help, stdout);
      return PT_EXIT_OK;
    }
    if (!strcmp(a, "--json")) {
      json = 1;
    } else if (!strcmp(a, "--limit") || !strcmp(a, "--format")) {
      if (i + 1 >= argc)
        return pt_cli_usage_error("sessions", "%s needs a value", a);
      if (!strcmp(a, "--limit")) limit = atoi(argv[++i]);
      else format = argv[++i];
    } else if (a[0] == '-' && a[1] && strcmp(verb, "search") != 0) {
      return pt_cli_usage_error("sessions", "unknown option '%s'", a);
    } else if (!strcmp(verb, "search")) {
      /* Every other word is the query, dashes and all. */
      size_t n = strlen(query);
      snprintf(query + n, sizeof query - n, "%s%s", n ? " " : "", a);
    } else if (!arg) {
      arg = a;
    } else {
      return pt_cli_usage_error("sessions", "unexpected '%s'", a);
    }
  }
  int needs_id = !strcmp(verb, "show") || !strcmp(verb, "export") ||
                 !strcmp(verb, "delete");
  if (!needs_id && strcmp(verb, "list") && strcmp(verb, "search"))
    return pt_cli_usage_error("sessions", "unknown subcommand '%s'", verb);
  if (needs_id && !arg)
    return pt_cli_usage_error("sessions", "%s needs a session ID", verb);
  if (!strcmp(verb, "search") && !query[0])
    return pt_cli_usage_error("sessions", "search needs a QUERY");
  if (!needs_id && arg)
    return pt_cli_usage_error("sessions", "unexpected '%s'", arg);
  if (strcmp(format, "json") && strcmp(format, "markdown"))
    return pt_cli_usage_error("sessions", "--format is json or markdown");

  pt_store *st;
  int32_t rc = pt_cli_store(cli, !strcmp(verb, "delete"), &st);
  if (rc != PT_OK && rc != PT_ENOENT) return PT_EXIT_FAIL;
  int status;
  if (!strcmp(verb, "list")) status = list(st, json, limit);
  else if (!strcmp(verb, "show")) status = show(st, arg, json);
  else if (!strcmp(verb, "search")) status = search(st, query, json, limit);
  else if (!strcmp(verb, "export")) status = export(st, arg, format);
  else status = delete(st, arg);
  pt_store_close(st);
  return status;
}
