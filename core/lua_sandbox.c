/*
 * core/lua_sandbox.c: Lua states that untrusted scripts cannot escape (see
 * lua_sandbox.h).
 *
 * The sandbox is the stock libraries minus everything that reaches the file
 * system, processes, modules, bytecode or the debug interface. Removed names
 * are replaced by stubs that raise "X is not available in the sandbox", so a
 * script author learns why instead of reading "attempt to index a nil value".
 * Memory is counted by the allocator, CPU by a count hook that every
 * coroutine inherits (lua_newthread copies the hook) and, inside string
 * patterns, by the matcher's step count (lua_pattern.c). Not for: running
 * workflows or policies; those build on these states elsewhere.
 */
#include "lua_sandbox.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lualib.h>

#include "log.h"
#include "lua_pattern.h"
#include "portico/errors.h"

#define DEFAULT_MAX_BYTES ((size_t)64 << 20)
#define DEFAULT_MAX_INSTRUCTIONS UINT64_C(100000000)
/* Often enough to stop a loop within microseconds, rarely enough that the
 * hook costs nothing measurable. */
#define HOOK_STEP 1000

/* One per state, reachable from any thread of it through lua_getallocf. */
typedef struct sandbox {
  lua_State *main;
  size_t used, max_bytes;
  uint64_t spent, max_instructions;
  int step;
  int depth;   /* pt_lua_call frames on the C stack; the outermost owns the budget */
  int mem_hit; /* the allocator refused a block since the call began */
  int cpu_hit; /* the budget is spent: every later hook or catch rethrows */
  char cpu_msg[256];
} sandbox;

static sandbox *sandbox_of(lua_State *L)
{
  void *ud;
  lua_getallocf(L, &ud);
  return ud;
}

static void *on_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
  sandbox *sb = ud;
  size_t old = ptr ? osize : 0; /* with ptr NULL, osize is a type tag */
  if (nsize == 0) {
    free(ptr);
    sb->used -= old;
    return NULL;
  }
  /* Written so that a huge nsize (string.rep) cannot overflow the sum. */
  if (nsize > old && nsize - old > sb->max_bytes - sb->used) {
    sb->mem_hit = 1;
    return NULL;
  }
  void *p = realloc(ptr, nsize);
  if (p) sb->used = sb->used - old + nsize;
  return p;
}

static void begin(sandbox *sb)
{
  sb->spent = 0;
  sb->cpu_hit = 0;
  sb->mem_hit = 0;
}

/* An error raised inside a hook leaves Lua's per-thread "hooks allowed"
 * flag off until a pcall frame in that thread restores it. A coroutine that
 * dies that way would run its pending __close handlers unhooked when reset,
 * so the hook marks it (in the thread's LUA_EXTRASPACE, which the sandbox
 * owns) and coroutine.close/wrap never reset a marked thread. */
static char hook_mark;

static int hook_killed(lua_State *co)
{
  return *(void **)lua_getextraspace(co) == &hook_mark;
}

static void on_count(lua_State *L, lua_Debug *ar)
{
  sandbox *sb = sandbox_of(L);
  if (!sb->cpu_hit) {
    sb->spent += (uint64_t)sb->step;
    if (sb->spent <= sb->max_instructions) return;
    sb->cpu_hit = 1;
    if (lua_getinfo(L, "Sl", ar) && ar->currentline > 0)
      snprintf(sb->cpu_msg, sizeof sb->cpu_msg,
               "%s:%d: instruction limit of %" PRIu64 " exceeded",
               ar->short_src, ar->currentline, sb->max_instructions);
    else
      snprintf(sb->cpu_msg, sizeof sb->cpu_msg,
               "instruction limit of %" PRIu64 " exceeded",
               sb->max_instructions);
  }
  if (L != sb->main) *(void **)lua_getextraspace(L) = &hook_mark;
  lua_pushstring(L, sb->cpu_msg);
  lua_error(L);
}

/* Pattern matching runs in C, out of the count hook's sight (see
 * lua_pattern.h), so the matcher reports its steps here: one step costs one
 * instruction, and a script cannot outrun the budget by calling s:find in a
 * loop under pcall. */
static void on_pattern_steps(lua_State *L, uint64_t steps)
{
  sandbox *sb = sandbox_of(L);
  if (!sb->cpu_hit) {
    sb->spent += steps;
    if (sb->spent <= sb->max_instructions) return;
    sb->cpu_hit = 1;
    luaL_where(L, 1);
    snprintf(sb->cpu_msg, sizeof sb->cpu_msg,
             "%sinstruction limit of %" PRIu64 " exceeded",
             lua_tostring(L, -1), sb->max_instructions);
    lua_pop(L, 1);
  }
  lua_pushstring(L, sb->cpu_msg);
  lua_error(L);
}

/* Wrappers keep the stock function as upvalue 1 and finish with this. */
static int call_original(lua_State *L)
{
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
  return lua_gettop(L);
}

/* pcall, xpcall, coroutine.resume and coroutine.close call the original
 * (upvalue 1) and rethrow once the budget is spent, so a script cannot
 * catch the limit in a loop and carry on. lua_callk keeps them yieldable. */
static int guard_done(lua_State *L, int status, lua_KContext ctx)
{
  (void)status;
  (void)ctx;
  sandbox *sb = sandbox_of(L);
  if (sb->cpu_hit) {
    lua_pushstring(L, sb->cpu_msg);
    return lua_error(L);
  }
  return lua_gettop(L);
}

static int guard(lua_State *L)
{
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_callk(L, lua_gettop(L) - 1, LUA_MULTRET, 0, guard_done);
  return guard_done(L, LUA_OK, 0);
}

/* A Lua message handler called for an error raised in the hook would run
 * with hooks off (see hook_mark), so once the budget is spent the user's
 * handler is skipped and the error passes through unchanged. */
static int xpcall_handler(lua_State *L)
{
  return sandbox_of(L)->cpu_hit ? 1 : call_original(L);
}

static int sandbox_xpcall(lua_State *L)
{
  luaL_checktype(L, 2, LUA_TFUNCTION);
  lua_pushvalue(L, 2);
  lua_pushcclosure(L, xpcall_handler, 1);
  lua_replace(L, 2);
  return guard(L);
}

static int sandbox_close(lua_State *L)
{
  lua_State *co = lua_tothread(L, 1);
  if (co && hook_killed(co)) {
    lua_pushboolean(L, 0);
    lua_pushliteral(L, "coroutine was stopped by the instruction limit; "
                       "its __close handlers were skipped");
    return 2;
  }
  return guard(L);
}

/* coroutine.wrap's function: upvalue 1 is the thread, 2 the guarded
 * resume. Like the stock one it resets a coroutine that died of an error,
 * unless the hook killed it. */
static int wrapped_call(lua_State *L)
{
  lua_State *co = lua_tothread(L, lua_upvalueindex(1));
  lua_pushvalue(L, lua_upvalueindex(2));
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_rotate(L, 1, 2);
  lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
  if (lua_toboolean(L, 1)) return lua_gettop(L) - 1;
  int status = lua_status(co);
  if (status != LUA_OK && status != LUA_YIELD && !hook_killed(co))
    lua_resetthread(co);
  if (lua_type(L, 2) == LUA_TSTRING) {
    luaL_where(L, 1);
    lua_insert(L, 2);
    lua_concat(L, 2);
  }
  return lua_error(L);
}

static int sandbox_wrap(lua_State *L)
{
  luaL_checktype(L, 1, LUA_TFUNCTION);
  lua_State *co = lua_newthread(L);
  lua_pushvalue(L, 1);
  lua_xmove(L, co, 1);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_pushcclosure(L, wrapped_call, 2);
  return 1;
}

/* Lua runs finalizers with hooks off, so a looping __gc could never be
 * stopped; scripts get no finalizers at all. */
static int sandbox_setmetatable(lua_State *L)
{
  if (lua_type(L, 2) == LUA_TTABLE) {
    lua_pushliteral(L, "__gc");
    if (lua_rawget(L, 2) != LUA_TNIL)
      return luaL_error(L, "__gc metamethods are not available in the sandbox");
    lua_pop(L, 1);
  }
  return call_original(L);
}

/* load(chunk [, chunkname [, mode [, env]]]) with mode forced to text;
 * without env the chunk gets the (sandboxed) globals, as stock load does. */
static int sandbox_load(lua_State *L)
{
  int n = lua_gettop(L);
  lua_settop(L, n < 3 ? 3 : n > 4 ? 4 : n);
  lua_pushliteral(L, "t");
  lua_replace(L, 3);
  return call_original(L);
}

/* "stop" or a generational switch would let a script outgrow the memory cap
 * between collections, so only the harmless options remain. */
static int sandbox_collectgarbage(lua_State *L)
{
  static const char *const allowed[] = { "collect", "count", "step" };
  const char *opt = luaL_optstring(L, 1, "collect");
  for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++) {
    if (strcmp(opt, allowed[i]) == 0) return call_original(L);
  }
  return luaL_error(L, "collectgarbage(\"%s\") is not available in the sandbox",
                    opt);
}

/* stdout belongs to protocols and program output, so print goes to the log. */
static int sandbox_print(lua_State *L)
{
  int n = lua_gettop(L);
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  for (int i = 1; i <= n; i++) {
    if (i > 1) luaL_addchar(&b, '\t');
    luaL_tolstring(L, i, NULL);
    luaL_addvalue(&b);
  }
  luaL_pushresult(&b);
  pt_log_info("lua", "%s", lua_tostring(L, -1));
  return 0;
}

static int unavailable_function(lua_State *L)
{
  return luaL_error(L, "%s is not available in the sandbox",
                    lua_tostring(L, lua_upvalueindex(1)));
}

static int unavailable_field(lua_State *L)
{
  const char *key = lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : "?";
  return luaL_error(L, "%s.%s is not available in the sandbox",
                    lua_tostring(L, lua_upvalueindex(1)), key);
}

/* Set a metatable on the table on top whose __index raises for `lib`.key. */
static void set_unavailable_meta(lua_State *L, const char *lib)
{
  lua_createtable(L, 0, 2);
  lua_pushstring(L, lib);
  lua_pushcclosure(L, unavailable_field, 1);
  lua_setfield(L, -2, "__index");
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "__metatable");
  lua_setmetatable(L, -2);
}

/* Replace t[name] (t on top of the stack) by fn with the original as
 * upvalue 1. */
static void wrap_field(lua_State *L, const char *name, lua_CFunction fn)
{
  lua_getfield(L, -1, name);
  lua_pushcclosure(L, fn, 1);
  lua_setfield(L, -2, name);
}

static int setup(lua_State *L)
{
  static const luaL_Reg libs[] = {
    { LUA_GNAME, luaopen_base },         { LUA_STRLIBNAME, luaopen_string },
    { LUA_TABLIBNAME, luaopen_table },   { LUA_MATHLIBNAME, luaopen_math },
    { LUA_UTF8LIBNAME, luaopen_utf8 },   { LUA_COLIBNAME, luaopen_coroutine },
  };
  static const char *const os_kept[] = { "getenv", "time", "clock", "date" };
  static const char *const gone_functions[] = { "dofile", "loadfile",
                                                "require" };
  static const char *const gone_libs[] = { "io", "debug", "package" };

  for (size_t i = 0; i < sizeof libs / sizeof libs[0]; i++) {
    luaL_requiref(L, libs[i].name, libs[i].func, 1);
    lua_pop(L, 1);
  }

  /* The full os table stays only long enough to copy four functions; the
   * reduced one also replaces it in the registry's loaded-modules table. */
  luaL_requiref(L, LUA_OSLIBNAME, luaopen_os, 0);
  lua_createtable(L, 0, 4);
  for (size_t i = 0; i < sizeof os_kept / sizeof os_kept[0]; i++) {
    lua_getfield(L, -2, os_kept[i]);
    lua_setfield(L, -2, os_kept[i]);
  }
  set_unavailable_meta(L, "os");
  lua_pushvalue(L, -1);
  lua_setglobal(L, LUA_OSLIBNAME);
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
  lua_insert(L, -2);
  lua_setfield(L, -2, LUA_OSLIBNAME);
  lua_pop(L, 2);

  lua_pushglobaltable(L);
  for (size_t i = 0; i < sizeof gone_functions / sizeof gone_functions[0]; i++) {
    lua_pushstring(L, gone_functions[i]);
    lua_pushcclosure(L, unavailable_function, 1);
    lua_setfield(L, -2, gone_functions[i]);
  }
  for (size_t i = 0; i < sizeof gone_libs / sizeof gone_libs[0]; i++) {
    lua_newtable(L);
    set_unavailable_meta(L, gone_libs[i]);
    lua_setfield(L, -2, gone_libs[i]);
  }
  wrap_field(L, "load", sandbox_load);
  wrap_field(L, "collectgarbage", sandbox_collectgarbage);
  wrap_field(L, "pcall", guard);
  wrap_field(L, "xpcall", sandbox_xpcall);
  wrap_field(L, "setmetatable", sandbox_setmetatable);
  lua_pushcfunction(L, sandbox_print);
  lua_setfield(L, -2, "print");
  lua_getfield(L, -1, LUA_COLIBNAME);
  wrap_field(L, "resume", guard);
  wrap_field(L, "close", sandbox_close);
  lua_getfield(L, -1, "resume");
  lua_pushcclosure(L, sandbox_wrap, 1);
  lua_setfield(L, -2, "wrap");
  lua_pop(L, 1);
  lua_getfield(L, -1, LUA_STRLIBNAME);
  lua_pushnil(L);
  lua_setfield(L, -2, "dump");
  pt__lua_pattern_install(L, -1, 0, on_pattern_steps);
  lua_pop(L, 2);

  /* Hide the shared string metatable so getmetatable("").__index cannot be
   * swapped; the string table itself stays the script's own business. */
  lua_pushliteral(L, "");
  lua_getmetatable(L, -1);
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "__metatable");
  lua_pop(L, 2);
  return 0;
}

static int on_panic(lua_State *L)
{
  const char *msg = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "?";
  pt_log_error("lua", "error outside a protected call, aborting: %s", msg);
  return 0;
}

lua_State *pt_lua_new(const pt_lua_limits *limits)
{
  sandbox *sb = calloc(1, sizeof *sb);
  if (!sb) return NULL;
  sb->max_bytes = limits && limits->max_bytes ? limits->max_bytes
                                              : DEFAULT_MAX_BYTES;
  sb->max_instructions = limits && limits->max_instructions
                             ? limits->max_instructions
                             : DEFAULT_MAX_INSTRUCTIONS;
  sb->step = sb->max_instructions < HOOK_STEP ? (int)sb->max_instructions
                                              : HOOK_STEP;
  lua_State *L = lua_newstate(on_alloc, sb);
  if (!L) {
    free(sb);
    return NULL;
  }
  sb->main = L;
  memset(lua_getextraspace(L), 0, LUA_EXTRASPACE); /* threads copy it */
  lua_atpanic(L, on_panic);
  lua_pushcfunction(L, setup);
  if (lua_pcall(L, 0, 0, 0) != LUA_OK) {
    lua_close(L);
    free(sb);
    return NULL;
  }
  lua_sethook(L, on_count, LUA_MASKCOUNT, sb->step);
  return L;
}

void pt_lua_close(lua_State *L)
{
  if (!L) return;
  sandbox *sb = sandbox_of(L);
  lua_close(L);
  free(sb);
}

/* Message handler: a string error already carries "FILE:LINE:"; anything
 * else gets the position of the innermost Lua frame and a description. */
static int on_error(lua_State *L)
{
  if (lua_type(L, 1) == LUA_TSTRING) return 1;
  lua_Debug ar;
  int found = 0;
  for (int level = 1; !found && lua_getstack(L, level, &ar); level++) {
    lua_getinfo(L, "Sl", &ar);
    if (ar.currentline > 0) {
      lua_pushfstring(L, "%s:%d: ", ar.short_src, ar.currentline);
      found = 1;
    }
  }
  if (!found) lua_pushliteral(L, "");
  if (lua_type(L, 1) == LUA_TNUMBER ||
      luaL_getmetafield(L, 1, "__tostring") != LUA_TNIL) {
    if (lua_type(L, 1) != LUA_TNUMBER) lua_pop(L, 1);
    luaL_tolstring(L, 1, NULL);
  } else {
    lua_pushfstring(L, "error object is a %s value", luaL_typename(L, 1));
  }
  lua_concat(L, 2);
  return 1;
}

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

/* Turn the error object on top into one line. A memory error carries no
 * position (the allocator cannot ask where it is), so `where` names the
 * chunk or function instead. */
static void describe(lua_State *L, int status, const char *where, char *err,
                     size_t errlen)
{
  sandbox *sb = sandbox_of(L);
  const char *msg =
      lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "unknown error";
  if (sb->cpu_hit)
    set_err(err, errlen, "%s", sb->cpu_msg);
  else if (status == LUA_ERRMEM ||
           (sb->mem_hit && strstr(msg, "not enough memory")))
    set_err(err, errlen, "%s: memory limit of %zu bytes exceeded", where,
            sb->max_bytes);
  else
    set_err(err, errlen, "%s", msg);
}

int32_t pt_lua_call(lua_State *L, int nargs, int nresults, char *err,
                    size_t errlen)
{
  sandbox *sb = sandbox_of(L);
  int base = lua_gettop(L) - nargs;
  if (!lua_checkstack(L, 3)) {
    lua_pop(L, nargs + 1);
    set_err(err, errlen, "lua: out of stack space");
    return PT_ENOMEM;
  }
  lua_Debug ar;
  char where[LUA_IDSIZE] = "lua";
  if (lua_isfunction(L, base)) {
    lua_pushvalue(L, base);
    lua_getinfo(L, ">S", &ar);
    if (strcmp(ar.what, "C") != 0) snprintf(where, sizeof where, "%s", ar.short_src);
  }
  lua_pushcfunction(L, on_error);
  lua_insert(L, base);
  if (sb->depth++ == 0) begin(sb);
  int status = lua_pcall(L, nargs, nresults, base);
  sb->depth--;
  if (status == LUA_OK) {
    lua_remove(L, base);
    return PT_OK;
  }
  describe(L, status, where, err, errlen);
  lua_pop(L, 2);
  return PT_ESCRIPT;
}

static int32_t refuse_binary(const char *where, char *err, size_t errlen)
{
  set_err(err, errlen,
          "%s: precompiled (binary) chunks are refused; load Lua source text",
          where);
  return PT_ESCRIPT;
}

/* After lua_load: run the chunk, or report why it did not load. */
static int32_t call_loaded(lua_State *L, int status, const char *where,
                           int nresults, char *err, size_t errlen)
{
  if (status == LUA_OK) return pt_lua_call(L, 0, nresults, err, errlen);
  describe(L, status, where, err, errlen);
  lua_pop(L, 1);
  return PT_ESCRIPT;
}

int32_t pt_lua_dostring(lua_State *L, const char *code, size_t len,
                        const char *chunkname, int nresults, char *err,
                        size_t errlen)
{
  if (!chunkname) chunkname = "=string";
  const char *where = chunkname[0] == '@' || chunkname[0] == '=' ? chunkname + 1
                                                                 : chunkname;
  if (len > 0 && code[0] == LUA_SIGNATURE[0]) return refuse_binary(where, err, errlen);
  sandbox *sb = sandbox_of(L);
  if (sb->depth == 0) begin(sb);
  int status = luaL_loadbufferx(L, code, len, chunkname, "t");
  return call_loaded(L, status, where, nresults, err, errlen);
}

typedef struct file_reader {
  FILE *f;
  int error; /* errno of a failed read; lua_load's allocations may clobber errno */
  char buf[4096];
} file_reader;

static const char *read_chunk(lua_State *L, void *ud, size_t *size)
{
  (void)L;
  file_reader *r = ud;
  *size = fread(r->buf, 1, sizeof r->buf, r->f);
  if (*size == 0 && ferror(r->f)) r->error = errno;
  return *size ? r->buf : NULL;
}

/* Read through lua_load rather than into one buffer, so the file's size is
 * bounded by the state's memory cap and nothing else. */
int32_t pt_lua_dofile(lua_State *L, const char *path, int nresults, char *err,
                      size_t errlen)
{
  file_reader r = { .f = fopen(path, "rb") };
  int first = r.f ? getc(r.f) : EOF;
  if (!r.f || ferror(r.f)) {
    set_err(err, errlen, "%s: cannot read: %s", path, strerror(errno));
    if (r.f) fclose(r.f);
    return PT_ENOENT;
  }
  char *chunkname = malloc(strlen(path) + 2);
  int32_t rc;
  if (!chunkname) {
    set_err(err, errlen, "%s: out of memory", path);
    rc = PT_ENOMEM;
  } else if (first == LUA_SIGNATURE[0]) {
    rc = refuse_binary(path, err, errlen);
  } else {
    if (first != EOF) ungetc(first, r.f);
    chunkname[0] = '@';
    strcpy(chunkname + 1, path);
    sandbox *sb = sandbox_of(L);
    if (sb->depth == 0) begin(sb);
    int status = lua_load(L, read_chunk, &r, chunkname, "t");
    if (r.error) {
      set_err(err, errlen, "%s: cannot read: %s", path, strerror(r.error));
      lua_pop(L, 1);
      rc = PT_ENOENT;
    } else {
      rc = call_loaded(L, status, path, nresults, err, errlen);
    }
  }
  fclose(r.f);
  free(chunkname);
  return rc;
}
