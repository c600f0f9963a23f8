/*
 * core/policy_lua.c: what a policy script sees beyond the sandbox: the
 * `portico` table (shell.split, path.normalize/inside/match, glob,
 * url.parse and a few folders), a `require` for Lua files in the scripts
 * folders only, and the call and context tables built from JSON.
 *
 * Every helper charges its C work to the decision's step bound
 * (pt__policy_charge), and no helper holds malloc'd memory across a call
 * that can raise a Lua error, so a memory error cannot leak. Not for:
 * loading the policy or deciding (policy.c), or stored rules.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <lauxlib.h>

#include "policy_int.h"

static const char policy_key = 0, modules_key = 0, loading_key = 0;

/* Longest path or pattern a helper takes; longer is an error, not a
 * silent "no match". */
#define MAX_PATTERN 8192

pt_policy *pt__policy_of(lua_State *L)
{
  lua_rawgetp(L, LUA_REGISTRYINDEX, &policy_key);
  pt_policy *p = lua_touserdata(L, -1);
  lua_pop(L, 1);
  return p;
}

void pt__policy_charge(lua_State *L, pt_policy *p, uint64_t steps)
{
  p->steps += steps;
  if (p->steps > p->max_steps)
    luaL_error(L, "the policy's helpers (split, glob, path) did more than "
                  "%I steps of work in one decision",
               (lua_Integer)p->max_steps);
}

/* ------------------------------------------------------------------------ */
/* portico.shell.split                                                       */

static void set_bool(lua_State *L, const char *k, int v)
{
  lua_pushboolean(L, v);
  lua_setfield(L, -2, k);
}

static void set_int(lua_State *L, const char *k, lua_Integer v)
{
  lua_pushinteger(L, v);
  lua_setfield(L, -2, k);
}

/* words as a list, and {[i] = true} tables for the flags asked for. */
static void push_words(lua_State *L, const pt_sh_word *w, size_t n)
{
  lua_createtable(L, (int)n, 0);
  for (size_t i = 0; i < n; i++) {
    lua_pushlstring(L, w[i].text, w[i].len);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
}

static void push_flag_set(lua_State *L, const pt_sh_word *w, size_t n,
                          unsigned flag)
{
  lua_createtable(L, 0, 0);
  for (size_t i = 0; i < n; i++) {
    if (!(w[i].flags & flag)) continue;
    lua_pushboolean(L, 1);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
}

static void push_cmd(lua_State *L, const pt_sh_cmd *c)
{
  lua_createtable(L, 0, 16);
  push_words(L, c->argv, c->argc);
  lua_setfield(L, -2, "argv");
  if (c->argc) {
    lua_pushlstring(L, c->argv[0].text, c->argv[0].len);
    lua_setfield(L, -2, "name");
  }
  push_flag_set(L, c->argv, c->argc, PT_SH_EXPANDS);
  lua_setfield(L, -2, "expands");
  push_flag_set(L, c->argv, c->argc, PT_SH_GLOB);
  lua_setfield(L, -2, "globs");
  push_flag_set(L, c->argv, c->argc, PT_SH_QUOTED);
  lua_setfield(L, -2, "quoted");
  push_words(L, c->assigns, c->nassigns);
  lua_setfield(L, -2, "assigns");
  lua_createtable(L, (int)c->nredirs, 0);
  for (size_t i = 0; i < c->nredirs; i++) {
    const pt_sh_redir *r = &c->redirs[i];
    lua_createtable(L, 0, 8);
    lua_pushstring(L, r->op);
    lua_setfield(L, -2, "op");
    if (r->fd >= 0) set_int(L, "fd", r->fd);
    lua_pushlstring(L, r->target.text, r->target.len);
    lua_setfield(L, -2, "target");
    set_bool(L, "expands", (r->target.flags & PT_SH_EXPANDS) != 0);
    set_bool(L, "glob", (r->target.flags & PT_SH_GLOB) != 0);
    set_bool(L, "file", pt_shell_redir_is_file(r));
    set_bool(L, "writes", pt_shell_redir_writes(r));
    if (r->body) {
      lua_pushlstring(L, r->body, r->body_len);
      lua_setfield(L, -2, "body");
    }
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  lua_setfield(L, -2, "redirects");
  luaL_Buffer b;
  size_t n = pt_shell_cmd_text(c, NULL, 0);
  char *text = luaL_buffinitsize(L, &b, n + 1);
  pt_shell_cmd_text(c, text, n + 1);
  luaL_pushresultsize(&b, n);
  lua_setfield(L, -2, "text");
  set_int(L, "depth", c->depth);
  set_int(L, "pipeline", c->pipeline);
  set_int(L, "stage", c->stage);
  set_bool(L, "background", (c->flags & PT_SH_BACKGROUND) != 0);
  set_bool(L, "subshell", (c->flags & PT_SH_SUBSHELL) != 0);
  set_bool(L, "substitution", (c->flags & PT_SH_SUBSTITUTION) != 0);
  set_bool(L, "negated", (c->flags & PT_SH_NEGATED) != 0);
}

static int push_split(lua_State *L)
{
  const pt_sh_split *s = lua_touserdata(L, 1);
  lua_createtable(L, 0, 3);
  set_bool(L, "ok", s->ok);
  if (!s->ok) {
    lua_pushstring(L, s->error);
    lua_setfield(L, -2, "error");
  }
  lua_createtable(L, (int)s->ncmds, 0);
  for (size_t i = 0; i < s->ncmds; i++) {
    push_cmd(L, &s->cmds[i]);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  lua_setfield(L, -2, "commands");
  return 1;
}

static int l_split(lua_State *L)
{
  size_t len;
  const char *cmd = luaL_checklstring(L, 1, &len);
  pt_policy *p = pt__policy_of(L);
  pt__policy_charge(L, p, len + 1);
  pt_sh_split *s = pt_shell_split(cmd, len);
  if (!s) return luaL_error(L, "out of memory");
  /* Building the tables may raise (memory), so it runs under a pcall and
   * s is freed either way. */
  lua_pushcfunction(L, push_split);
  lua_pushlightuserdata(L, s);
  int status = lua_pcall(L, 1, 1, 0);
  uint64_t cost = s->ncmds * 16;
  pt_shell_split_free(s);
  if (status != LUA_OK) return lua_error(L);
  pt__policy_charge(L, p, cost);
  return 1;
}

/* ------------------------------------------------------------------------ */
/* portico.path, portico.glob, portico.url                                   */

static int l_normalize(lua_State *L)
{
  pt_policy *p = pt__policy_of(L);
  size_t len;
  const char *path = luaL_checklstring(L, 1, &len);
  const char *base = luaL_optstring(L, 2, NULL);
  if (strlen(path) != len) return luaL_error(L, "path holds a NUL byte");
  size_t cap = len + (base ? strlen(base) : 0) + (p->home ? strlen(p->home) : 0) + 2;
  pt__policy_charge(L, p, cap);
  luaL_Buffer b;
  char *out = luaL_buffinitsize(L, &b, cap);
  int n = pt__path_normalize_to(path, base, p->home, out, cap);
  luaL_pushresultsize(&b, n < 0 ? 0 : (size_t)n);
  if (n < 0) lua_pushnil(L);
  return 1;
}

static int l_inside(lua_State *L)
{
  const char *path = luaL_checkstring(L, 1), *dir = luaL_checkstring(L, 2);
  pt__policy_charge(L, pt__policy_of(L), strlen(dir) + 1);
  lua_pushboolean(L, path[0] == '/' && dir[0] == '/' && pt__path_inside(path, dir));
  return 1;
}

/* One glob (path mode: expanded against home and `base`) against s. */
static int glob_one(lua_State *L, pt_policy *p, const char *pat, size_t pn,
                    const char *s, size_t sn, int path_mode, int fold,
                    const char *base)
{
  uint64_t steps = 0;
  int hit;
  if (!path_mode) {
    hit = pt__glob_plain(pat, pn, s, sn, fold, &steps);
  } else if (pat[0] == '/') {
    hit = pt__glob_path(pat, pn, s, sn, &steps);
  } else {
    /* "~/x" at home, "x" at base: prefix + "/" + the rest, by hand, as
     * this runs for every pattern of every list a rule holds. */
    char full[MAX_PATTERN + PATH_MAX + 2];
    const char *prefix = base, *rest = pat;
    if (pat[0] == '~' && (pat[1] == '/' || !pat[1])) {
      prefix = p->home;
      rest = pat + 1 + (pat[1] == '/');
    }
    if (!prefix) return 0;
    size_t fn = strlen(prefix), rn = pn - (size_t)(rest - pat);
    if (rn > MAX_PATTERN || fn >= PATH_MAX)
      return luaL_error(L, "pattern or base longer than %d bytes", MAX_PATTERN);
    memcpy(full, prefix, fn);
    full[fn++] = '/';
    memcpy(full + fn, rest, rn);
    hit = pt__glob_path(full, fn + rn, s, sn, &steps);
  }
  pt__policy_charge(L, p, steps);
  return hit;
}

/* (patterns, s [, base or fold]): the first pattern (a string or a list of
 * them) that matches, or nil. */
static int glob_any(lua_State *L, int path_mode)
{
  pt_policy *p = pt__policy_of(L);
  size_t sn, pn;
  const char *s = luaL_checklstring(L, 2, &sn);
  const char *base = path_mode ? luaL_optstring(L, 3, NULL) : NULL;
  int fold = !path_mode && lua_toboolean(L, 3);
  if (path_mode && sn > MAX_PATTERN)
    return luaL_error(L, "path longer than %d bytes", MAX_PATTERN);
  if (lua_type(L, 1) == LUA_TSTRING) {
    const char *pat = lua_tolstring(L, 1, &pn);
    if (glob_one(L, p, pat, pn, s, sn, path_mode, fold, base)) lua_pushvalue(L, 1);
    else lua_pushnil(L);
    return 1;
  }
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_Integer n = (lua_Integer)lua_rawlen(L, 1);
  for (lua_Integer i = 1; i <= n; i++) {
    if (lua_rawgeti(L, 1, i) != LUA_TSTRING)
      return luaL_error(L, "pattern %I is not a string", i);
    const char *pat = lua_tolstring(L, -1, &pn);
    if (glob_one(L, p, pat, pn, s, sn, path_mode, fold, base)) return 1;
    lua_pop(L, 1);
  }
  lua_pushnil(L);
  return 1;
}

static int l_match(lua_State *L) { return glob_any(L, 1); }
static int l_glob(lua_State *L) { return glob_any(L, 0); }

static int l_url(lua_State *L)
{
  const char *text = luaL_checkstring(L, 1);
  pt__policy_charge(L, pt__policy_of(L), strlen(text) + 1);
  pt__url u;
  char host[256], scheme[16];
  int ok = pt__url_parse(text, &u) == 0;
  int port = u.port;
  snprintf(host, sizeof host, "%s", ok ? u.host : "");
  snprintf(scheme, sizeof scheme, "%s", u.scheme);
  pt__url_free(&u);
  if (!ok) {
    lua_pushnil(L);
    return 1;
  }
  lua_createtable(L, 0, 4);
  lua_pushvalue(L, 1);
  lua_setfield(L, -2, "url");
  lua_pushstring(L, scheme);
  lua_setfield(L, -2, "scheme");
  lua_pushstring(L, host);
  lua_setfield(L, -2, "host");
  if (port) set_int(L, "port", port);
  return 1;
}

/* ------------------------------------------------------------------------ */
/* require                                                                   */

char *pt__policy_read_file(const char *path, size_t *len)
{
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t cap = (size_t)1 << 20, n;
  char *buf = malloc(cap + 1);
  if (buf) {
    n = fread(buf, 1, cap + 1, f);
    if (ferror(f) || n > cap) {
      errno = ferror(f) ? EIO : EFBIG;
      free(buf);
      buf = NULL;
    } else {
      *len = n;
    }
  }
  fclose(f);
  return buf;
}

/* dir/name.lua when it is a regular file inside dir (symlinks resolved). */
static int module_file(const char *dir, const char *name, char *path,
                       size_t cap)
{
  char real_dir[PATH_MAX], real[PATH_MAX];
  struct stat st;
  if (!dir || (size_t)snprintf(path, cap, "%s/%s.lua", dir, name) >= cap) return 0;
  for (char *s = path + strlen(dir) + 1; *s; s++) if (*s == '.' && strcmp(s, ".lua")) *s = '/';
  if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) return 0;
  if (!realpath(dir, real_dir) || !realpath(path, real)) return 0;
  return pt__path_inside(real, real_dir);
}

static int l_require(lua_State *L)
{
  size_t len;
  const char *name = luaL_checklstring(L, 1, &len);
  for (size_t i = 0; i < len; i++) {
    char c = name[i];
    int word = c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
               (i && name[i - 1] != '.' && c >= '0' && c <= '9');
    if (!(word || (c == '.' && i && i + 1 < len && name[i - 1] != '.')))
      return luaL_error(L, "require(\"%s\"): a module name is words joined by dots", name);
  }
  if (!len) return luaL_error(L, "require(\"\"): a module name is words joined by dots");
  lua_rawgetp(L, LUA_REGISTRYINDEX, &modules_key);
  if (lua_getfield(L, -1, name) != LUA_TNIL) {
    if (lua_touserdata(L, -1) == &loading_key)
      return luaL_error(L, "require(\"%s\"): the module requires itself", name);
    return 1;
  }
  lua_pop(L, 1);
  pt_policy *p = pt__policy_of(L);
  char path[PATH_MAX];
  int found = module_file(p->lua_dir, name, path, sizeof path) ||
              module_file(p->user_dir, name, path, sizeof path);
  if (!found)
    return luaL_error(L, "module '%s' not found: require loads only Lua files "
                         "from %s and %s (C modules are not available)",
                      name, p->lua_dir ? p->lua_dir : "(no shipped folder)",
                      p->user_dir ? p->user_dir : "(no user folder)");
  size_t n = 0;
  char *code = pt__policy_read_file(path, &n);
  if (!code)
    return luaL_error(L, "module '%s': cannot read %s: %s", name, path,
                      strerror(errno));
  int binary = n && code[0] == LUA_SIGNATURE[0];
  char chunkname[PATH_MAX + 1];
  snprintf(chunkname, sizeof chunkname, "@%s", path);
  int status = binary ? LUA_ERRSYNTAX : luaL_loadbufferx(L, code, n, chunkname, "t");
  free(code);
  if (binary)
    return luaL_error(L, "module '%s': %s is a precompiled chunk; only Lua "
                         "source is loaded", name, path);
  if (status != LUA_OK) return lua_error(L);
  lua_pushlightuserdata(L, (void *)&loading_key);
  lua_setfield(L, -3, name);
  lua_pushstring(L, name);
  lua_pushstring(L, path);
  if (lua_pcall(L, 2, 1, 0) != LUA_OK) {
    /* Forget the half-loaded module, so a later require tries again. */
    lua_pushnil(L);
    lua_setfield(L, 2, name);
    return lua_error(L);
  }
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    lua_pushboolean(L, 1);
  }
  lua_pushvalue(L, -1);
  lua_setfield(L, -3, name);
  return 1;
}

/* ------------------------------------------------------------------------ */

static void set_string(lua_State *L, const char *k, const char *v)
{
  if (!v) return;
  lua_pushstring(L, v);
  lua_setfield(L, -2, k);
}

int pt__policy_lua_open(lua_State *L)
{
  static const luaL_Reg shell[] = { { "split", l_split }, { NULL, NULL } };
  static const luaL_Reg path[] = { { "normalize", l_normalize },
                                   { "inside", l_inside },
                                   { "match", l_match },
                                   { NULL, NULL } };
  static const luaL_Reg url[] = { { "parse", l_url }, { NULL, NULL } };
  pt_policy *p = lua_touserdata(L, 1);
  lua_pushlightuserdata(L, p);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &policy_key);
  lua_newtable(L);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &modules_key);
  lua_createtable(L, 0, 10);
  luaL_newlib(L, shell);
  lua_setfield(L, -2, "shell");
  luaL_newlib(L, path);
  lua_setfield(L, -2, "path");
  luaL_newlib(L, url);
  lua_setfield(L, -2, "url");
  lua_pushcfunction(L, l_glob);
  lua_setfield(L, -2, "glob");
  set_string(L, "home", p->home);
  set_string(L, "config_dir", p->user_dir);
  set_string(L, "data_dir", p->data_dir);
  set_string(L, "lua_dir", p->lua_dir);
  set_string(L, "policy_file", p->file);
  set_string(L, "version", PORTICO_VERSION);
  lua_setglobal(L, "portico");
  lua_pushcfunction(L, l_require);
  lua_setglobal(L, "require");
  return 0;
}

/* ------------------------------------------------------------------------ */
/* The call and the context                                                  */

static void push_json(lua_State *L, pt_policy *p, const cJSON *v, int depth)
{
  pt__policy_charge(L, p, 1);
  if (depth > 64) luaL_error(L, "the arguments are nested more than 64 deep");
  luaL_checkstack(L, 4, "arguments");
  if (cJSON_IsString(v)) {
    lua_pushstring(L, v->valuestring);
  } else if (cJSON_IsNumber(v)) {
    double d = v->valuedouble;
    if (d >= -9007199254740992.0 && d <= 9007199254740992.0 && d == (double)(lua_Integer)d)
      lua_pushinteger(L, (lua_Integer)d);
    else
      lua_pushnumber(L, d);
  } else if (cJSON_IsBool(v)) {
    lua_pushboolean(L, cJSON_IsTrue(v));
  } else if (cJSON_IsArray(v) || cJSON_IsObject(v)) {
    int arr = cJSON_IsArray(v);
    lua_createtable(L, arr ? cJSON_GetArraySize(v) : 0, arr ? 0 : cJSON_GetArraySize(v));
    lua_Integer i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, v) {
      i++;
      if (cJSON_IsNull(e)) continue;
      push_json(L, p, e, depth + 1);
      if (arr) lua_rawseti(L, -2, i);
      else lua_setfield(L, -2, e->string);
    }
  } else {
    lua_pushnil(L);
  }
}

void pt__policy_push_call(lua_State *L, pt_policy *p,
                          const pt_policy_call *call, const pt__call_info *ci)
{
  lua_createtable(L, 0, 8);
  set_string(L, "tool", call->tool);
  push_json(L, p, ci->args, 0);
  lua_setfield(L, -2, "args");
  lua_createtable(L, 0, 4);
  set_bool(L, "reads", (call->flags & PT_TOOL_READS) != 0);
  set_bool(L, "writes", (call->flags & PT_TOOL_WRITES) != 0);
  set_bool(L, "executes", (call->flags & PT_TOOL_EXECUTES) != 0);
  set_bool(L, "network", (call->flags & PT_TOOL_NETWORK) != 0);
  lua_setfield(L, -2, "flags");
  lua_createtable(L, (int)ci->npaths, 0);
  for (size_t i = 0; i < ci->npaths; i++) {
    if (ci->paths[i]) lua_pushstring(L, ci->paths[i]);
    else lua_pushboolean(L, 0);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  lua_setfield(L, -2, "paths");
  set_string(L, "command", ci->command);
  lua_createtable(L, (int)ci->nurls, 0);
  lua_createtable(L, (int)ci->nurls, 0);
  for (size_t i = 0, h = 0; i < ci->nurls; i++) {
    const pt__url *u = &ci->urls[i];
    lua_createtable(L, 0, 4);
    set_string(L, "url", u->url);
    set_string(L, "scheme", u->scheme);
    set_string(L, "host", u->host);
    if (u->port) set_int(L, "port", u->port);
    lua_rawseti(L, -3, (lua_Integer)i + 1);
    if (u->host) {
      lua_pushstring(L, u->host);
      lua_rawseti(L, -2, (lua_Integer)++h);
    }
  }
  lua_setfield(L, -3, "hosts");
  lua_setfield(L, -2, "urls");
  lua_createtable(L, 0, 4);
  set_string(L, "session", call->session_id);
  set_string(L, "agent", call->agent);
  set_string(L, "workspace", ci->workspace);
  set_string(L, "home", p->home);
}

/* ------------------------------------------------------------------------ */
/* Lua to JSON, for test cases                                               */

static cJSON *to_json(lua_State *L, int idx, int depth, char *err,
                      size_t errlen)
{
  int t = lua_type(L, idx);
  if (t == LUA_TSTRING) return cJSON_CreateString(lua_tostring(L, idx));
  if (t == LUA_TBOOLEAN) return cJSON_CreateBool(lua_toboolean(L, idx));
  if (t == LUA_TNUMBER) return cJSON_CreateNumber(lua_tonumber(L, idx));
  if (t != LUA_TTABLE) {
    snprintf(err, errlen, "a %s cannot be an argument", lua_typename(L, t));
    return NULL;
  }
  if (depth > 32 || !lua_checkstack(L, 3)) {
    snprintf(err, errlen, "arguments nested more than 32 deep");
    return NULL;
  }
  idx = lua_absindex(L, idx);
  size_t n = lua_rawlen(L, idx), count = 0;
  int is_array = 1;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    count++;
    if (!lua_isinteger(L, -2) || lua_tointeger(L, -2) < 1 ||
        (size_t)lua_tointeger(L, -2) > n)
      is_array = 0;
    lua_pop(L, 1);
  }
  is_array = is_array && count == n && n > 0;
  cJSON *out = is_array ? cJSON_CreateArray() : cJSON_CreateObject();
  for (size_t i = 1; out && is_array && i <= n; i++) {
    lua_rawgeti(L, idx, (lua_Integer)i);
    cJSON *e = to_json(L, -1, depth + 1, err, errlen);
    lua_pop(L, 1);
    if (!e) goto bad;
    cJSON_AddItemToArray(out, e);
  }
  if (!is_array) lua_pushnil(L);
  while (out && !is_array && lua_next(L, idx)) {
    if (lua_type(L, -2) != LUA_TSTRING) {
      snprintf(err, errlen, "a table mixes a list and named fields");
      lua_pop(L, 2);
      goto bad;
    }
    cJSON *e = to_json(L, -1, depth + 1, err, errlen);
    if (!e) {
      lua_pop(L, 2);
      goto bad;
    }
    cJSON_AddItemToObject(out, lua_tostring(L, -2), e);
    lua_pop(L, 1);
  }
  return out;
bad:
  cJSON_Delete(out);
  return NULL;
}

cJSON *pt__policy_lua_to_json(lua_State *L, int idx, char *err, size_t errlen)
{
  return to_json(L, idx, 0, err, errlen);
}
