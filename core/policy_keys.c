/*
 * core/policy_keys.c: what a tool call touches, worked out in C before any
 * script runs (its paths made absolute, its command, its URLs' hosts), and
 * the stored "always" rules matched against those keys (see policy.h for
 * the rule's shape). Not for: judging the call; scripts do that.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policy_int.h"

/* Argument names that hold paths, commands and URLs in Portico's tools and
 * in most others; docs/policy.md lists them for tool authors. */
static const char *const path_args[] = {
  "path", "paths", "file", "files", "file_path", "filepath", "filename",
  "dir", "directory", "cwd", "workdir", "root", "source", "destination",
  "src", "dst", "dest", "old_path", "new_path", "glob"
};
static const char *const url_args[] = { "url", "urls", "uri" };
static const char *const command_args[] = { "command", "cmd" };

int pt__path_normalize_to(const char *path, const char *base,
                          const char *home, char *out, size_t cap)
{
  const char *prefix = "", *rest = path;
  if (path[0] == '~') {
    if ((path[1] && path[1] != '/') || !home || home[0] != '/') return -1;
    prefix = home;
    rest = path + 1;
  } else if (path[0] != '/') {
    if (!base || base[0] != '/') return -1;
    prefix = base;
  }
  if (strlen(prefix) + strlen(rest) + 2 > cap) return -1;
  size_t k = 0;
  for (int part = 0; part < 2; part++) {
    for (const char *s = part ? rest : prefix; *s;) {
      const char *e = strchr(s, '/');
      size_t len = e ? (size_t)(e - s) : strlen(s);
      if (len == 2 && s[0] == '.' && s[1] == '.') {
        while (k > 0 && out[k - 1] != '/') k--;
        if (k > 0) k--;
      } else if (len && !(len == 1 && s[0] == '.')) {
        out[k++] = '/';
        memmove(out + k, s, len);
        k += len;
      }
      s += len + (e != NULL);
    }
  }
  if (k == 0) out[k++] = '/';
  out[k] = '\0';
  return (int)k;
}

char *pt__path_normalize(const char *path, const char *base, const char *home)
{
  size_t cap = strlen(path) + (base ? strlen(base) : 0) +
               (home ? strlen(home) : 0) + 2;
  char *out = malloc(cap);
  if (out && pt__path_normalize_to(path, base, home, out, cap) < 0) {
    free(out);
    out = NULL;
  }
  return out;
}

int pt__path_inside(const char *path, const char *dir)
{
  size_t n = strlen(dir);
  if (n == 1 && dir[0] == '/') return path[0] == '/';
  return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

void pt__url_free(pt__url *u)
{
  free(u->url);
  free(u->host);
  memset(u, 0, sizeof *u);
}

/* IPv4 in any form inet_aton takes (2852039166, 0xa9.0xfe.0xa9.0xfe, …) and
 * IPv4-mapped IPv6 become dotted quads, so a rule naming 169.254.169.254
 * cannot be dodged by spelling it another way. */
static void canonical_ip(char *host, size_t cap)
{
  struct in_addr a4;
  struct in6_addr a6;
  if (strspn(host, "0123456789abcdefx.") == strlen(host) && inet_aton(host, &a4)) {
    inet_ntop(AF_INET, &a4, host, (socklen_t)cap);
  } else if (inet_pton(AF_INET6, host, &a6) == 1) {
    if (IN6_IS_ADDR_V4MAPPED(&a6)) inet_ntop(AF_INET, &a6.s6_addr[12], host, (socklen_t)cap);
    else inet_ntop(AF_INET6, &a6, host, (socklen_t)cap);
  }
}

int pt__url_parse(const char *text, pt__url *u)
{
  memset(u, 0, sizeof *u);
  if (!(u->url = strdup(text))) return -1;
  size_t i = 0;
  while (isalnum((unsigned char)text[i]) || text[i] == '+' || text[i] == '-' || text[i] == '.')
    i++;
  if (!i || !isalpha((unsigned char)text[0]) || i >= sizeof u->scheme ||
      strncmp(text + i, "://", 3) != 0)
    return -1;
  for (size_t k = 0; k < i; k++) u->scheme[k] = (char)tolower((unsigned char)text[k]);
  const char *a = text + i + 3;
  size_t an = strcspn(a, "/?#");
  for (size_t k = an; k > 0; k--) {
    if (a[k - 1] == '@') {
      a += k;
      an -= k;
      break;
    }
  }
  for (size_t k = 0; k < an; k++) {
    unsigned char c = (unsigned char)a[k];
    if (c <= ' ' || c >= 0x7f || c == '\\' || c == '%') return -1;
  }
  const char *h = a, *port = NULL;
  size_t hn = an;
  if (an && a[0] == '[') {
    const char *close = memchr(a, ']', an);
    if (!close) return -1;
    h = a + 1;
    hn = (size_t)(close - h);
    if (close + 1 < a + an) {
      if (close[1] != ':') return -1;
      port = close + 2;
    }
  } else {
    const char *colon = memchr(a, ':', an);
    if (colon) {
      hn = (size_t)(colon - a);
      port = colon + 1;
    }
  }
  if (port) {
    size_t pn = (size_t)(a + an - port);
    if (!pn || pn > 5 || strspn(port, "0123456789") < pn) return -1;
    u->port = atoi(port);
    if (u->port > 65535) return -1;
  }
  if (hn && h[hn - 1] == '.') hn--;
  if (!hn && strcmp(u->scheme, "file") != 0) return -1;
  char buf[256];
  if (hn >= sizeof buf) return -1;
  for (size_t k = 0; k < hn; k++) buf[k] = (char)tolower((unsigned char)h[k]);
  buf[hn] = '\0';
  canonical_ip(buf, sizeof buf);
  return (u->host = strdup(buf)) ? 0 : -1;
}

/* ------------------------------------------------------------------------ */
/* A call's keys                                                             */

static int add_path(pt__call_info *ci, const char *s, const char *home)
{
  char **v = realloc(ci->paths, (ci->npaths + 1) * sizeof *v);
  if (!v) return -1;
  ci->paths = v;
  /* NULL (unknown) is a legitimate entry; only a failed strdup inside
   * normalize is out of memory, and then the path is unknown as well. */
  v[ci->npaths++] = pt__path_normalize(s, ci->workspace, home);
  return 0;
}

static int add_url(pt__call_info *ci, const char *s)
{
  pt__url *v = realloc(ci->urls, (ci->nurls + 1) * sizeof *v);
  if (!v) return -1;
  ci->urls = v;
  if (pt__url_parse(s, &v[ci->nurls]) != 0 && !v[ci->nurls].url) return -1;
  if (!v[ci->nurls].host) v[ci->nurls].scheme[0] = '\0';
  ci->nurls++;
  return 0;
}

/* A string, or each string of an array, of args[name]. */
static int each_string(const cJSON *args, const char *name,
                       int (*fn)(pt__call_info *, const char *, const char *),
                       pt__call_info *ci, const char *home)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(args, name), *e;
  if (cJSON_IsString(v)) return fn(ci, v->valuestring, home);
  if (!cJSON_IsArray(v)) return 0;
  cJSON_ArrayForEach(e, v) {
    if (cJSON_IsString(e) && fn(ci, e->valuestring, home) < 0) return -1;
  }
  return 0;
}

static int url_fn(pt__call_info *ci, const char *s, const char *home)
{
  (void)home;
  return add_url(ci, s);
}

/* An argv array becomes one line, each word in single quotes. */
static char *join_argv(const cJSON *arr)
{
  size_t n = 1;
  const cJSON *e;
  cJSON_ArrayForEach(e, arr) {
    if (!cJSON_IsString(e)) return NULL;
    n += 3 + 4 * strlen(e->valuestring);
  }
  char *out = malloc(n), *o = out;
  if (!out) return NULL;
  cJSON_ArrayForEach(e, arr) {
    if (o != out) *o++ = ' ';
    *o++ = '\'';
    for (const char *s = e->valuestring; *s; s++) {
      if (*s == '\'') {
        memcpy(o, "'\\''", 4);
        o += 4;
      } else {
        *o++ = *s;
      }
    }
    *o++ = '\'';
  }
  *o = '\0';
  return out;
}

int32_t pt__call_info_init(pt__call_info *ci, const pt_policy *p,
                           const pt_policy_call *call, char *err,
                           size_t errlen)
{
  memset(ci, 0, sizeof *ci);
  char cwd[PATH_MAX];
  const char *ws = call->workspace;
  if (!getcwd(cwd, sizeof cwd)) cwd[0] = '\0';
  if (!ws || !*ws) ws = cwd;
  if (!*ws || !(ci->workspace = pt__path_normalize(ws, cwd[0] ? cwd : NULL, NULL))) {
    snprintf(err, errlen, "the call has no workspace folder");
    return PT_EINVAL;
  }
  if (!call->tool || !*call->tool) {
    snprintf(err, errlen, "the call names no tool");
    return PT_EINVAL;
  }
  if (call->args_json.len == 0)
    ci->args = cJSON_CreateObject();
  else
    ci->args = cJSON_ParseWithLength(call->args_json.ptr, call->args_json.len);
  if (!cJSON_IsObject(ci->args)) {
    snprintf(err, errlen, "the arguments of %.64s are not a JSON object",
             call->tool);
    return PT_EINVAL;
  }
  const cJSON *args = ci->args;
  for (size_t i = 0; (call->flags & PT_TOOL_EXECUTES) && !ci->command &&
                     i < sizeof command_args / sizeof *command_args; i++) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(args, command_args[i]);
    if (cJSON_IsString(v)) ci->command = strdup(v->valuestring);
    else if (cJSON_IsArray(v)) ci->command = join_argv(v);
    else continue;
    if (!ci->command) goto nomem;
  }
  for (size_t i = 0; i < sizeof url_args / sizeof *url_args; i++)
    if (each_string(args, url_args[i], url_fn, ci, NULL) < 0) goto nomem;
  for (size_t i = 0; i < sizeof path_args / sizeof *path_args; i++)
    if (each_string(args, path_args[i], add_path, ci, p->home) < 0) goto nomem;
  if (!strcmp(call->tool, "fs_glob") &&
      each_string(args, "pattern", add_path, ci, p->home) < 0)
    goto nomem;
  /* A file tool without a path works on the workspace itself. */
  if (!ci->npaths && !ci->command && (call->flags & (PT_TOOL_READS | PT_TOOL_WRITES)) &&
      add_path(ci, ci->workspace, NULL) < 0)
    goto nomem;
  return PT_OK;
nomem:
  snprintf(err, errlen, "out of memory");
  return PT_ENOMEM;
}

void pt__call_info_free(pt__call_info *ci)
{
  cJSON_Delete(ci->args);
  free(ci->workspace);
  for (size_t i = 0; i < ci->npaths; i++) free(ci->paths[i]);
  free(ci->paths);
  free(ci->command);
  for (size_t i = 0; i < ci->nurls; i++) pt__url_free(&ci->urls[i]);
  free(ci->urls);
  memset(ci, 0, sizeof *ci);
}

/* ------------------------------------------------------------------------ */
/* Stored rules                                                              */

enum { K_TEXT, K_PATH, K_HOST };

typedef struct key {
  char *s;
  int kind;
  int deny_only;  /* the whole command line: matched by deny rules only */
} key;

typedef struct keys {
  key *v;
  size_t n;
  int allow_ok;   /* a stored allow may answer */
} keys;

static int push_key(keys *k, char *s, int kind, int deny_only)
{
  key *v = s ? realloc(k->v, (k->n + 1) * sizeof *v) : NULL;
  if (!v) {
    free(s);
    return -1;
  }
  k->v = v;
  v[k->n++] = (key){ s, kind, deny_only };
  return 0;
}

static void free_keys(keys *k)
{
  for (size_t i = 0; i < k->n; i++) free(k->v[i].s);
  free(k->v);
}

static char *cmd_text(const pt_sh_cmd *c)
{
  size_t n = pt_shell_cmd_text(c, NULL, 0) + 1;
  char *s = malloc(n);
  if (s) pt_shell_cmd_text(c, s, n);
  return s;
}

/* Each simple command, and the whole line for deny rules. */
static int command_keys(keys *k, const char *command)
{
  pt_sh_split *s = pt_shell_split(command, strlen(command));
  if (!s) return -1;
  int rc = 0;
  size_t total = 1;
  if (!s->ok || s->ncmds == 0) k->allow_ok = 0;
  for (size_t i = 0; rc == 0 && i < s->ncmds; i++) {
    const pt_sh_cmd *c = &s->cmds[i];
    for (size_t j = 0; j < c->nredirs; j++)
      if (pt_shell_redir_writes(&c->redirs[j]) && strcmp(c->redirs[j].target.text, "/dev/null"))
        k->allow_ok = 0;
    char *t = cmd_text(c);
    if (t) total += strlen(t) + 3;
    rc = push_key(k, t, K_TEXT, 0);
  }
  char *full = rc == 0 ? malloc(s->ok ? total : strlen(command) + 1) : NULL;
  if (full && s->ok) {
    full[0] = '\0';
    for (size_t i = 0; i < s->ncmds; i++) {
      if (i) strcat(full, " ; ");
      strcat(full, k->v[k->n - s->ncmds + i].s);
    }
  } else if (full) {
    size_t a = strspn(command, " \t\n"), b = strlen(command);
    while (b > a && strchr(" \t\n", command[b - 1])) b--;
    memcpy(full, command + a, b - a);
    full[b - a] = '\0';
  }
  if (rc == 0) rc = push_key(k, full, K_TEXT, 1);
  pt_shell_split_free(s);
  return rc;
}

static int call_keys(keys *k, const pt__call_info *ci)
{
  k->allow_ok = 1;
  if (ci->command) {
    /* The command's own keys; a folder outside the workspace (its cwd)
     * leaves it to the script. */
    for (size_t i = 0; i < ci->npaths; i++)
      if (!ci->paths[i] || !pt__path_inside(ci->paths[i], ci->workspace)) k->allow_ok = 0;
    return command_keys(k, ci->command);
  }
  for (size_t i = 0; i < ci->npaths; i++) {
    if (!ci->paths[i]) k->allow_ok = 0;
    else if (push_key(k, strdup(ci->paths[i]), K_PATH, 0) < 0) return -1;
  }
  for (size_t i = 0; i < ci->nurls; i++) {
    if (!ci->urls[i].host) k->allow_ok = 0;
    else if (push_key(k, strdup(ci->urls[i].host), K_HOST, 0) < 0) return -1;
  }
  if (k->n == 0 && push_key(k, strdup(""), K_TEXT, 0) < 0) return -1;
  return 0;
}

static int pattern_matches(const pt_policy *p, const char *pattern,
                           const char *rule_ws, const char *call_ws,
                           const key *k, uint64_t *steps)
{
  if (!strcmp(pattern, "*") || !strcmp(pattern, "**")) return 1;
  if (k->kind != K_PATH)
    return pt__glob_plain(pattern, strlen(pattern), k->s, strlen(k->s),
                          k->kind == K_HOST, steps);
  const char *base = NULL, *rest = pattern;
  if (pattern[0] == '~' && (pattern[1] == '/' || !pattern[1])) {
    if (!p->home) return 0;
    base = p->home;
    rest = pattern + 1;
  } else if (pattern[0] != '/') {
    base = rule_ws ? rule_ws : call_ws;
  }
  size_t n = (base ? strlen(base) : 0) + strlen(rest) + 2;
  char *full = malloc(n);
  if (!full) return 0;
  snprintf(full, n, "%s%s%s", base ? base : "", base && rest[0] != '/' ? "/" : "", rest);
  int r = pt__glob_path(full, strlen(full), k->s, strlen(k->s), steps);
  free(full);
  return r;
}

static const char *row_str(const cJSON *row, const char *name)
{
  return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(row, name));
}

static void stored_decision(pt_policy_decision *out, const cJSON *row,
                            pt_policy_verdict v)
{
  double id = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(row, "id"));
  out->verdict = v;
  out->stored_rule = (int64_t)id;
  snprintf(out->rule, sizeof out->rule, "stored:%lld", (long long)id);
  snprintf(out->reason, sizeof out->reason,
           "%s by stored rule %lld (an earlier \"always %s\": %.64s \"%.160s\"%s%.160s)",
           v == PT_POLICY_DENY ? "denied" : "allowed", (long long)id,
           pt_policy_verdict_name(v), row_str(row, "tool"),
           row_str(row, "pattern"), row_str(row, "workspace") ? " in " : "",
           row_str(row, "workspace") ? row_str(row, "workspace") : "");
}

int pt__policy_stored(pt_policy *p, const pt_policy_call *call,
                      const pt__call_info *ci, pt_policy_decision *out)
{
  if (!p->store) return 0;
  /* Only this tool's rules and those for every tool ("*"): two indexed
   * reads, as this runs before every decision. */
  cJSON *rows = NULL, *any = NULL, *row;
  int32_t qrc = pt_store_rules(p->store, call->tool, &rows);
  if (qrc == PT_OK) qrc = pt_store_rules(p->store, "*", &any);
  while (any && any->child) cJSON_AddItemToArray(rows, cJSON_DetachItemViaPointer(any, any->child));
  cJSON_Delete(any);
  if (qrc != PT_OK) {
    cJSON_Delete(rows);
    out->verdict = PT_POLICY_DENY;
    snprintf(out->rule, sizeof out->rule, "stored-rules");
    snprintf(out->reason, sizeof out->reason,
             "the stored rules cannot be read: %.400s", pt_store_errmsg(p->store));
    return PT_EIO;
  }
  uint64_t steps = 0;
  keys k = { 0 };
  int have = 0, decided = 0, rc = 0;
  cJSON_ArrayForEach(row, rows) {
    const char *ws = row_str(row, "workspace");
    int ok = !ws || !strcmp(ws, ci->workspace);
    cJSON_AddBoolToObject(row, "applies", ok);
    have |= ok;
  }
  if (have && call_keys(&k, ci) < 0) rc = PT_ENOMEM;
  /* Deny first, over every key; then allow, when every key has one. */
  for (int pass = 0; have && rc == 0 && !decided && pass < 2; pass++) {
    const char *want = pass == 0 ? "deny" : "allow";
    size_t covered = 0;
    const cJSON *first = NULL;
    if (pass == 1 && !k.allow_ok) break;
    for (size_t i = 0; i < k.n && !decided; i++) {
      if (pass == 1 && k.v[i].deny_only) continue;
      int hit = 0;
      cJSON_ArrayForEach(row, rows) {
        const char *d = row_str(row, "decision"), *pat = row_str(row, "pattern");
        if (!cJSON_IsTrue(cJSON_GetObjectItem(row, "applies")) || !d || !pat ||
            strcmp(d, want) != 0 ||
            !pattern_matches(p, pat, row_str(row, "workspace"), ci->workspace, &k.v[i], &steps))
          continue;
        if (!first) first = row;
        hit = 1;
        break;
      }
      if (hit && pass == 0) decided = 1;
      covered += hit;
    }
    if (pass == 0 && decided) stored_decision(out, first, PT_POLICY_DENY);
    if (pass == 1 && covered && covered == k.n - (k.n && k.v[k.n - 1].deny_only)) {
      decided = 1;
      stored_decision(out, first, PT_POLICY_ALLOW);
    }
  }
  free_keys(&k);
  cJSON_Delete(rows);
  if (rc != PT_OK) {
    out->verdict = PT_POLICY_DENY;
    snprintf(out->rule, sizeof out->rule, "stored-rules");
    snprintf(out->reason, sizeof out->reason, "out of memory");
    return rc;
  }
  return decided;
}

cJSON *pt__policy_remember_keys(const pt_policy *p, const pt__call_info *ci,
                                int allow, char *err, size_t errlen)
{
  (void)p;
  keys k = { 0 };
  cJSON *out = cJSON_CreateArray();
  if (!out || call_keys(&k, ci) < 0) {
    snprintf(err, errlen, "out of memory");
    cJSON_Delete(out);
    free_keys(&k);
    return NULL;
  }
  if (allow && !k.allow_ok) {
    snprintf(err, errlen, "%s", ci->command
                 ? "an allow cannot be remembered for a command that was not "
                   "understood, writes files by redirection, or runs outside "
                   "the workspace"
                 : "an allow cannot be remembered for a path or URL that "
                   "cannot be resolved");
    cJSON_Delete(out);
    free_keys(&k);
    return NULL;
  }
  for (size_t i = 0; i < k.n; i++) {
    /* A deny of a command is remembered for its whole line, an allow for
     * each of its parts. */
    if (ci->command && k.v[i].deny_only == allow) continue;
    char *pat = k.v[i].s[0] ? pt__glob_escape(k.v[i].s) : strdup("*");
    if (!pat) break;
    int dup = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, out) dup |= !strcmp(e->valuestring, pat);
    if (!dup) cJSON_AddItemToArray(out, cJSON_CreateString(pat));
    free(pat);
  }
  free_keys(&k);
  return out;
}
