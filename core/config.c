/*
 * core/config.c: config.lua, read once into an immutable JSON tree (see
 * config.h).
 *
 * The chunk runs in its own sandbox with tight limits, and the state is
 * closed before pt_config_load returns: only plain data (tables, strings,
 * numbers, booleans) crosses into the tree, so nothing in the config can
 * run later. Not for: watching or writing the file, or giving meaning to
 * keys beyond the type checks of the few every subsystem relies on.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>

#include "lua_sandbox.h"
#include "portico/errors.h"
#include "portico/plugin.h" /* PT_PRINTF */

/* A config is a page of settings; these bounds only stop hostile or
 * runaway files, with the process still running. */
#define CONFIG_MAX_BYTES ((size_t)16 << 20)
#define CONFIG_MAX_INSTRUCTIONS UINT64_C(10000000)
#define MAX_DEPTH 32
/* What one JSON value costs against the CONFIG_MAX_BYTES budget, besides
 * its text: roughly a cJSON node. */
#define NODE_COST 64

typedef struct plugin_entry {
  const char *name; /* borrowed from the tree */
  char *json;       /* owned, cJSON_free */
} plugin_entry;

struct pt_config {
  char *path;   /* owned; NULL for an empty config */
  cJSON *root;  /* owned */
  plugin_entry *plugins; /* owned; one per entry of root.plugins */
  size_t plugin_count;
};

/* State of one Lua table to JSON conversion. */
typedef struct convert {
  lua_State *L;
  const char *file;
  char *err;
  size_t errlen;
  size_t budget;                 /* bytes of JSON still accepted */
  const void *open[MAX_DEPTH];   /* tables being converted, for cycles */
  char path[256];                /* key path of the value at hand */
} convert;

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    PT_PRINTF(3, 4);

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
  if (!err || errlen == 0) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

/* "config FILE: PATH: problem", the path left out at the top level. */
static void fail(convert *cv, const char *fmt, ...) PT_PRINTF(2, 3);

static void fail(convert *cv, const char *fmt, ...)
{
  char what[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  set_err(cv->err, cv->errlen, "config %s: %s%s%s", cv->file, cv->path,
          cv->path[0] ? ": " : "", what);
}

/* Append ".key" or "[i]" to the path; returns the old length to restore. */
static size_t path_push(convert *cv, const char *key, lua_Integer index)
{
  size_t len = strlen(cv->path);
  if (key)
    snprintf(cv->path + len, sizeof cv->path - len, "%s%s", len ? "." : "", key);
  else
    snprintf(cv->path + len, sizeof cv->path - len, "[%lld]", (long long)index);
  return len;
}

static int spend(convert *cv, size_t bytes)
{
  if (bytes > cv->budget) {
    cv->path[0] = '\0'; /* the whole file is at fault, not one key */
    fail(cv, "the configuration is too large (over %zu bytes as JSON)",
         CONFIG_MAX_BYTES);
    return 0;
  }
  cv->budget -= bytes;
  return 1;
}

/* The string at idx, or NULL (error set) when it holds a NUL byte that
 * would silently cut it short in JSON. */
static const char *plain_string(convert *cv, int idx)
{
  size_t len;
  const char *s = lua_tolstring(cv->L, idx, &len);
  if (strlen(s) != len) {
    fail(cv, "strings must not contain NUL bytes");
    return NULL;
  }
  return spend(cv, len) ? s : NULL;
}

static cJSON *value_to_json(convert *cv, int idx, int depth);

/* Tables whose keys are exactly 1..n become arrays, all-string keys (or
 * none) objects; anything else has no JSON form and is an error. */
static cJSON *table_to_json(convert *cv, int idx, int depth)
{
  lua_State *L = cv->L;
  const void *self = lua_topointer(L, idx);
  for (int i = 0; i < depth; i++) {
    if (cv->open[i] == self) {
      fail(cv, "a table contains itself; JSON cannot hold cycles");
      return NULL;
    }
  }
  if (depth == MAX_DEPTH) {
    fail(cv, "tables nest deeper than %d levels", MAX_DEPTH);
    return NULL;
  }
  if (!lua_checkstack(L, 4)) {
    fail(cv, "out of memory");
    return NULL;
  }
  cv->open[depth] = self;

  lua_Integer count = 0, max = 0, strings = 0;
  int odd_key = LUA_TNONE;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    if (lua_type(L, -1) == LUA_TSTRING) {
      strings++;
    } else if (lua_isinteger(L, -1) && lua_tointeger(L, -1) >= 1) {
      count++;
      if (lua_tointeger(L, -1) > max) max = lua_tointeger(L, -1);
    } else {
      odd_key = lua_type(L, -1);
    }
  }
  if (odd_key != LUA_TNONE) {
    fail(cv, "keys must be names or list positions 1, 2, ... (found a %s key)",
         lua_typename(L, odd_key));
    return NULL;
  }
  if (strings && count) {
    fail(cv, "a table mixes list items and named keys");
    return NULL;
  }
  if (count != max) {
    fail(cv, "a list has gaps (%lld items, highest position %lld)",
         (long long)count, (long long)max);
    return NULL;
  }

  cJSON *out = count ? cJSON_CreateArray() : cJSON_CreateObject();
  if (!out || !spend(cv, NODE_COST)) {
    if (!out) fail(cv, "out of memory");
    cJSON_Delete(out);
    return NULL;
  }
  for (lua_Integer i = 1; i <= count; i++) {
    lua_rawgeti(L, idx, i);
    size_t mark = path_push(cv, NULL, i);
    cJSON *item = value_to_json(cv, lua_gettop(L), depth + 1);
    cv->path[mark] = '\0';
    lua_pop(L, 1);
    if (!item) goto fail;
    cJSON_AddItemToArray(out, item);
  }
  if (count) return out;

  lua_pushnil(L);
  while (lua_next(L, idx)) {
    const char *key = plain_string(cv, -2);
    size_t mark = path_push(cv, key ? key : "?", 0);
    cJSON *item = key ? value_to_json(cv, lua_gettop(L), depth + 1) : NULL;
    lua_pop(L, 1);
    if (item && !cJSON_AddItemToObject(out, key, item)) {
      cJSON_Delete(item);
      item = NULL;
      fail(cv, "out of memory");
    }
    cv->path[mark] = '\0';
    if (!item) {
      lua_pop(L, 1);
      goto fail;
    }
  }
  return out;
fail:
  cJSON_Delete(out);
  return NULL;
}

static cJSON *value_to_json(convert *cv, int idx, int depth)
{
  lua_State *L = cv->L;
  cJSON *v;
  switch (lua_type(L, idx)) {
  case LUA_TTABLE:
    return table_to_json(cv, idx, depth);
  case LUA_TBOOLEAN:
    v = cJSON_CreateBool(lua_toboolean(L, idx));
    break;
  case LUA_TNUMBER:
    if (!isfinite(lua_tonumber(L, idx))) {
      fail(cv, "numbers must be finite (JSON has no inf or nan)");
      return NULL;
    }
    v = cJSON_CreateNumber(lua_isinteger(L, idx) ? (double)lua_tointeger(L, idx)
                                                 : lua_tonumber(L, idx));
    break;
  case LUA_TSTRING: {
    const char *s = plain_string(cv, idx);
    if (!s) return NULL;
    v = cJSON_CreateString(s);
    break;
  }
  case LUA_TFUNCTION:
    fail(cv, "functions are not allowed in config.lua");
    return NULL;
  default:
    fail(cv, "%s values are not allowed in config.lua", luaL_typename(L, idx));
    return NULL;
  }
  if (!v) fail(cv, "out of memory");
  if (v && !spend(cv, NODE_COST)) {
    cJSON_Delete(v);
    return NULL;
  }
  return v;
}

/* The type name a config author knows: Lua's, with lists told apart. */
static const char *json_kind(const cJSON *v)
{
  if (cJSON_IsString(v)) return "string";
  if (cJSON_IsNumber(v)) return "number";
  if (cJSON_IsBool(v)) return "boolean";
  if (cJSON_IsArray(v)) return "a list";
  return "a table";
}

static int32_t check_known_keys(const pt_config *c, char *err, size_t errlen)
{
  static const char *const strings[] = { "default_provider", "default_model" };
  for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(c->root, strings[i]);
    if (v && !cJSON_IsString(v)) {
      set_err(err, errlen, "config %s: %s must be a string (got %s)", c->path,
              strings[i], json_kind(v));
      return PT_ECONFIG;
    }
  }
  const cJSON *paths = cJSON_GetObjectItemCaseSensitive(c->root, "plugin_paths");
  if (paths && !cJSON_IsArray(paths) &&
      !(cJSON_IsObject(paths) && !paths->child)) {
    set_err(err, errlen,
            "config %s: plugin_paths must be a list of folder names (got %s)",
            c->path, json_kind(paths));
    return PT_ECONFIG;
  }
  int i = 1;
  for (const cJSON *p = paths ? paths->child : NULL; p; p = p->next, i++) {
    if (!cJSON_IsString(p)) {
      set_err(err, errlen, "config %s: plugin_paths[%d] must be a string (got %s)",
              c->path, i, json_kind(p));
      return PT_ECONFIG;
    }
  }
  const cJSON *plugins = cJSON_GetObjectItemCaseSensitive(c->root, "plugins");
  if (plugins && !cJSON_IsObject(plugins)) {
    set_err(err, errlen,
            "config %s: plugins must map plugin names to tables of settings "
            "(got %s)", c->path, json_kind(plugins));
    return PT_ECONFIG;
  }
  for (const cJSON *p = plugins ? plugins->child : NULL; p; p = p->next) {
    if (!cJSON_IsObject(p)) {
      set_err(err, errlen,
              "config %s: plugins.%s must be a table of settings (got %s)",
              c->path, p->string, json_kind(p));
      return PT_ECONFIG;
    }
  }
  return PT_OK;
}

/* Print every plugins.<name> once, so the lookup needs no lock or cache. */
static int32_t cache_plugins(pt_config *c)
{
  const cJSON *plugins = cJSON_GetObjectItemCaseSensitive(c->root, "plugins");
  size_t n = (size_t)cJSON_GetArraySize(plugins);
  if (n == 0) return PT_OK;
  c->plugins = calloc(n, sizeof *c->plugins);
  if (!c->plugins) return PT_ENOMEM;
  for (const cJSON *p = plugins->child; p; p = p->next) {
    char *json = cJSON_PrintUnformatted(p);
    if (!json) return PT_ENOMEM;
    c->plugins[c->plugin_count].name = p->string;
    c->plugins[c->plugin_count++].json = json;
  }
  return PT_OK;
}

pt_config *pt_config_empty(void)
{
  pt_config *c = calloc(1, sizeof *c);
  if (c) c->root = cJSON_CreateObject();
  if (c && !c->root) {
    free(c);
    return NULL;
  }
  return c;
}

void pt_config_free(pt_config *c)
{
  if (!c) return;
  for (size_t i = 0; i < c->plugin_count; i++) cJSON_free(c->plugins[i].json);
  free(c->plugins);
  cJSON_Delete(c->root);
  free(c->path);
  free(c);
}

/* $XDG_CONFIG_HOME/portico/config.lua, else ~/.config/portico/config.lua;
 * NULL when neither variable helps. The XDG spec says a relative
 * XDG_CONFIG_HOME is invalid and must be ignored. */
static char *default_path(void)
{
  const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
  const char *base = xdg && xdg[0] == '/' ? xdg : home && home[0] ? home : NULL;
  const char *tail = base == xdg ? "/portico/config.lua"
                                 : "/.config/portico/config.lua";
  if (!base) return NULL;
  size_t len = strlen(base) + strlen(tail) + 1;
  char *path = malloc(len);
  if (path) snprintf(path, len, "%s%s", base, tail);
  return path;
}

/* Run the file and turn its table into c->root. */
static int32_t read_config(pt_config *c, char *err, size_t errlen)
{
  pt_lua_limits limits = { CONFIG_MAX_BYTES, CONFIG_MAX_INSTRUCTIONS };
  lua_State *L = pt_lua_new(&limits);
  if (!L) {
    set_err(err, errlen, "config %s: out of memory", c->path);
    return PT_ENOMEM;
  }
  char msg[512];
  int32_t rc = pt_lua_dofile(L, c->path, 1, msg, sizeof msg);
  if (rc != PT_OK) {
    set_err(err, errlen, "config %s", msg);
  } else if (!lua_istable(L, -1)) {
    set_err(err, errlen, "config %s: must return a table (got %s)", c->path,
            luaL_typename(L, -1));
    rc = PT_ECONFIG;
  } else {
    convert cv = { .L = L, .file = c->path, .err = err, .errlen = errlen,
                   .budget = CONFIG_MAX_BYTES };
    cJSON *root = table_to_json(&cv, lua_gettop(L), 0);
    if (!root) {
      rc = PT_ECONFIG;
    } else if (!cJSON_IsObject(root)) {
      set_err(err, errlen, "config %s: must return a table of named settings "
              "(got a list)", c->path);
      cJSON_Delete(root);
      rc = PT_ECONFIG;
    } else {
      cJSON_Delete(c->root);
      c->root = root;
    }
  }
  pt_lua_close(L);
  return rc;
}

int32_t pt_config_load(const char *path, pt_config **out, char *err,
                       size_t errlen)
{
  *out = NULL;
  pt_config *c = pt_config_empty();
  char *file = path ? strdup(path) : default_path();
  if (!c || (!file && path)) {
    set_err(err, errlen, "config: out of memory");
    pt_config_free(c);
    free(file);
    return PT_ENOMEM;
  }
  if (!path && (!file || (access(file, F_OK) != 0 &&
                          (errno == ENOENT || errno == ENOTDIR)))) {
    free(file);
    *out = c;
    return PT_OK;
  }
  c->path = file;
  int32_t rc = read_config(c, err, errlen);
  if (rc == PT_OK) rc = check_known_keys(c, err, errlen);
  if (rc == PT_OK && cache_plugins(c) != PT_OK) {
    set_err(err, errlen, "config %s: out of memory", c->path);
    rc = PT_ENOMEM;
  }
  if (rc != PT_OK) {
    pt_config_free(c);
    return rc;
  }
  *out = c;
  return PT_OK;
}

const char *pt_config_path(const pt_config *c)
{
  return c->path;
}

const cJSON *pt_config_root(const pt_config *c)
{
  return c->root;
}

static const char *string_key(const pt_config *c, const char *key)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(c->root, key);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

const char *pt_config_default_provider(const pt_config *c)
{
  return string_key(c, "default_provider");
}

const char *pt_config_default_model(const pt_config *c)
{
  return string_key(c, "default_model");
}

static const cJSON *plugin_paths(const pt_config *c)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(c->root, "plugin_paths");
  return cJSON_IsArray(v) ? v : NULL;
}

size_t pt_config_plugin_path_count(const pt_config *c)
{
  return (size_t)cJSON_GetArraySize(plugin_paths(c));
}

const char *pt_config_plugin_path(const pt_config *c, size_t i)
{
  const cJSON *v = cJSON_GetArrayItem(plugin_paths(c), (int)i);
  return v ? v->valuestring : NULL;
}

const char *pt_config_plugin_json(const pt_config *c, const char *name)
{
  for (size_t i = 0; name && i < c->plugin_count; i++) {
    if (strcmp(c->plugins[i].name, name) == 0) return c->plugins[i].json;
  }
  return "{}";
}

int pt_config_synchronous_full(const pt_config *c)
{
  const cJSON *storage =
      cJSON_GetObjectItemCaseSensitive(pt_config_root(c), "storage");
  const char *sync = cJSON_GetStringValue(
      cJSON_GetObjectItemCaseSensitive(storage, "synchronous"));
  return sync && strcmp(sync, "full") == 0;
}
