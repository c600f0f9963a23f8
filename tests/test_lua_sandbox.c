/*
 * tests/test_lua_sandbox.c: every way out of core/lua_sandbox.c that we know
 * of is closed with a clear message, the limits hold, and a state that hit
 * one keeps working.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lualib.h>

#include "check.h"
#include "lua_sandbox.h"
#include "portico/errors.h"

static char err[512];

/* Run `code` as chunk "=t" and leave its first result on the stack. */
static int32_t run(lua_State *L, const char *code)
{
  err[0] = '\0';
  lua_settop(L, 0);
  return pt_lua_dostring(L, code, strlen(code), "=t", 1, err, sizeof err);
}

/* The chunk must fail with a message containing `want`. */
static void expect_error(const char *code, const char *want)
{
  lua_State *L = pt_lua_new(NULL);
  CHECK(L != NULL);
  CHECK_INT(run(L, code), ==, PT_ESCRIPT);
  CHECK_CONTAINS(err, want);
  CHECK_INT(run(L, "return 1 + 1"), ==, PT_OK);
  CHECK_INT(lua_tointeger(L, -1), ==, 2);
  pt_lua_close(L);
}

static char tmpdir[] = "/tmp/pt_lua_sandbox_XXXXXX";

static const char *write_tmp(const char *name, const char *data, size_t len)
{
  static char path[256];
  snprintf(path, sizeof path, "%s/%s", tmpdir, name);
  FILE *f = fopen(path, "wb");
  CHECK(f != NULL);
  if (f) {
    fwrite(data, 1, len, f);
    fclose(f);
  }
  return path;
}

static void normal_code_works(void)
{
  lua_State *L = pt_lua_new(NULL);
  CHECK_INT(run(L, "local t = {}\n"
                   "for w in ('a,b,c'):gmatch('[^,]+') do t[#t+1] = w:upper() end\n"
                   "table.sort(t, function(x, y) return x > y end)\n"
                   "local co = coroutine.wrap(function() coroutine.yield(5) end)\n"
                   "local f = load('return ...', 'x', 't')\n"
                   "return table.concat(t) .. math.floor(3.7) .. utf8.char(233)\n"
                   "  .. co() .. f(7) .. string.format('%03d', 4)\n"
                   "  .. tostring(os.time() > 0) .. type(os.getenv('PATH'))\n"
                   "  .. type(os.clock()) .. #os.date('%Y')"),
            ==, PT_OK);
  CHECK_STR(lua_tostring(L, -1), "CBA3\xc3\xa9" "57004truestringnumber4");
  pt_lua_close(L);
}

static void pt_lua_call_passes_arguments_and_results(void)
{
  lua_State *L = pt_lua_new(NULL);
  CHECK_INT(run(L, "return function(a, b) return a * b, 'x' end"), ==, PT_OK);
  lua_pushinteger(L, 6);
  lua_pushinteger(L, 7);
  CHECK_INT(pt_lua_call(L, 2, 2, err, sizeof err), ==, PT_OK);
  CHECK_INT(lua_gettop(L), ==, 2);
  CHECK_INT(lua_tointeger(L, 1), ==, 42);
  CHECK_STR(lua_tostring(L, 2), "x");
  lua_settop(L, 0);
  CHECK_INT(run(L, "return function() error('nope') end"), ==, PT_OK);
  CHECK_INT(pt_lua_call(L, 0, 0, err, sizeof err), ==, PT_ESCRIPT);
  CHECK_STR(err, "t:1: nope");
  CHECK_INT(lua_gettop(L), ==, 0);
  pt_lua_close(L);
}

static void io_is_unavailable(void)
{
  expect_error("return io.open('/etc/passwd')", "t:1: io.open is not available");
  expect_error("io.write('x')", "io.write is not available");
}

static void os_is_reduced(void)
{
  expect_error("os.execute('true')", "t:1: os.execute is not available");
  expect_error("os.exit(1)", "os.exit is not available");
  expect_error("os.remove('/tmp/x')", "os.remove is not available");
  expect_error("os.rename('/a', '/b')", "os.rename is not available");
  expect_error("return os.tmpname()", "os.tmpname is not available");
  expect_error("os.setlocale('C')", "os.setlocale is not available");
}

static void modules_and_debug_are_unavailable(void)
{
  expect_error("require('os')", "t:1: require is not available");
  expect_error("return package.loadlib('x', 'y')", "package.loadlib is not available");
  expect_error("return package.loaded", "package.loaded is not available");
  expect_error("return debug.getinfo(1)", "debug.getinfo is not available");
  expect_error("return debug.getregistry()", "debug.getregistry is not available");
  expect_error("dofile('/etc/passwd')", "dofile is not available");
  expect_error("loadfile('/etc/passwd')", "loadfile is not available");
  expect_error("getmetatable(io).__index = nil", "attempt to index a boolean");
}

/* Real bytecode from an unsandboxed state: the sandbox must refuse it from
 * load(), from a file and from pt_lua_dostring. */
typedef struct dump {
  char data[4096];
  size_t len;
} dump;

static int collect_dump(lua_State *L, const void *p, size_t sz, void *ud)
{
  (void)L;
  dump *d = ud;
  if (sz > sizeof d->data - d->len) return 1;
  memcpy(d->data + d->len, p, sz);
  d->len += sz;
  return 0;
}

static void binary_chunks_are_refused(void)
{
  static dump d;
  lua_State *plain = luaL_newstate();
  luaL_loadstring(plain, "return 'escaped'");
  CHECK_INT(lua_dump(plain, collect_dump, &d, 0), ==, 0);
  lua_close(plain);
  const char *bc = d.data;
  size_t len = d.len;
  CHECK(len > 4 && memcmp(bc, "\x1bLua", 4) == 0);

  lua_State *L = pt_lua_new(NULL);
  lua_pushlstring(L, bc, len);
  lua_setglobal(L, "bc");
  CHECK_INT(run(L, "local f, e = load(bc) return e"), ==, PT_OK);
  CHECK_CONTAINS(lua_tostring(L, -1), "binary chunk");
  CHECK_INT(run(L, "local f, e = load(bc, 'x', 'b') return e"), ==, PT_OK);
  CHECK_CONTAINS(lua_tostring(L, -1), "binary chunk");
  CHECK_INT(run(L, "return string.dump"), ==, PT_OK);
  CHECK(lua_isnil(L, -1));
  CHECK_INT(pt_lua_dostring(L, bc, len, "=bc", 1, err, sizeof err), ==, PT_ESCRIPT);
  CHECK_CONTAINS(err, "bc: precompiled (binary) chunks are refused");
  const char *path = write_tmp("bin.luac", bc, len);
  CHECK_INT(pt_lua_dofile(L, path, 0, err, sizeof err), ==, PT_ESCRIPT);
  CHECK_CONTAINS(err, "bin.luac: precompiled (binary) chunks are refused");
  unlink(path);
  pt_lua_close(L);
}

static void string_metatable_is_locked_and_per_state(void)
{
  lua_State *a = pt_lua_new(NULL), *b = pt_lua_new(NULL);
  CHECK_INT(run(a, "getmetatable('').__index = {}"), ==, PT_ESCRIPT);
  CHECK_CONTAINS(err, "attempt to index a boolean value");
  CHECK_INT(run(a, "string.upper = function() return 'pwned' end "
                   "return ('x'):upper()"), ==, PT_OK);
  CHECK_STR(lua_tostring(a, -1), "pwned");
  CHECK_INT(run(b, "return ('x'):upper()"), ==, PT_OK);
  CHECK_STR(lua_tostring(b, -1), "X");
  pt_lua_close(a);
  pt_lua_close(b);
}

static void collectgarbage_cannot_stop_the_collector(void)
{
  expect_error("collectgarbage('stop')", "collectgarbage(\"stop\") is not available");
  expect_error("collectgarbage('generational')", "is not available");
  lua_State *L = pt_lua_new(NULL);
  CHECK_INT(run(L, "collectgarbage() collectgarbage('step') "
                   "return collectgarbage('count')"), ==, PT_OK);
  CHECK(lua_tonumber(L, -1) > 0);
  pt_lua_close(L);
}

static void non_string_errors_are_readable(void)
{
  expect_error("error({})", "t:1: error object is a table value");
  expect_error("\nerror(nil)", "t:2: error object is a nil value");
  expect_error("error(setmetatable({}, {__tostring = function() return 'mine' end}))",
               "t:1: mine");
  expect_error("error(42)", "t:1: 42");
}

static void file_errors_name_file_and_line(void)
{
  const char *path = write_tmp("syntax.lua", "local x = 1\nlocal = 2\n", 22);
  lua_State *L = pt_lua_new(NULL);
  CHECK_INT(pt_lua_dofile(L, path, 0, err, sizeof err), ==, PT_ESCRIPT);
  CHECK_CONTAINS(err, "syntax.lua:2:");
  path = write_tmp("runtime.lua", "local x = 1\n\nerror('boom')\n", 27);
  CHECK_INT(pt_lua_dofile(L, path, 0, err, sizeof err), ==, PT_ESCRIPT);
  CHECK_CONTAINS(err, "runtime.lua:3: boom");
  CHECK_INT(pt_lua_dofile(L, "/nonexistent/x.lua", 0, err, sizeof err), ==, PT_ENOENT);
  CHECK_STR(err, "/nonexistent/x.lua: cannot read: No such file or directory");
  pt_lua_close(L);
}

static const pt_lua_limits small = { 4u << 20, 1000000 };

static void infinite_loop_hits_instruction_limit(void)
{
  lua_State *L = pt_lua_new(&small);
  CHECK_INT(run(L, "local n = 0\nwhile true do n = n + 1 end"), ==, PT_ESCRIPT);
  CHECK_STR(err, "t:2: instruction limit of 1000000 exceeded");
  /* The budget is per call: two calls of 600k instructions each pass. */
  for (int i = 0; i < 2; i++) {
    CHECK_INT(run(L, "local n = 0 for i = 1, 150000 do n = n + i end return n"), ==,
              PT_OK);
  }
  pt_lua_close(L);
}

static void loop_in_coroutine_hits_instruction_limit(void)
{
  lua_State *L = pt_lua_new(&small);
  CHECK_INT(run(L, "local co = coroutine.create(function() while true do end end)\n"
                   "local ok, e = coroutine.resume(co)\nreturn 'survived'"),
            ==, PT_ESCRIPT);
  CHECK_CONTAINS(err, "t:1: instruction limit of 1000000 exceeded");
  CHECK_INT(run(L, "coroutine.wrap(function() while true do end end)()"), ==,
            PT_ESCRIPT);
  CHECK_CONTAINS(err, "instruction limit of 1000000 exceeded");
  CHECK_INT(run(L, "return 'alive'"), ==, PT_OK);
  CHECK_STR(lua_tostring(L, -1), "alive");
  pt_lua_close(L);
}

static void pcall_cannot_swallow_instruction_limit(void)
{
  lua_State *L = pt_lua_new(&small);
  CHECK_INT(run(L, "while true do pcall(function() while true do end end) end"),
            ==, PT_ESCRIPT);
  CHECK_CONTAINS(err, "instruction limit of 1000000 exceeded");
  CHECK_INT(run(L, "while true do xpcall(function() while true do end end,\n"
                   "  function() while true do end end) end"), ==, PT_ESCRIPT);
  CHECK_CONTAINS(err, "instruction limit of 1000000 exceeded");
  CHECK_INT(run(L, "while true do coroutine.close(coroutine.create(print)) "
                   "coroutine.resume(coroutine.create(function() while true do end end)) end"),
            ==, PT_ESCRIPT);
  CHECK_CONTAINS(err, "instruction limit of 1000000 exceeded");
  CHECK_INT(run(L, "return select(2, pcall(error, 'caught'))"), ==, PT_OK);
  CHECK_STR(lua_tostring(L, -1), "caught");
  pt_lua_close(L);
}

/* Pattern matching runs in C, where the count hook never fires; its steps
 * are charged to the same budget, so neither one hostile call nor a pcall
 * loop of calls that each stay under the per-call step cap can hang. */
static void pattern_matching_hits_instruction_limit(void)
{
  lua_State *L = pt_lua_new(&small);
  CHECK_INT(run(L, "return ('a'):rep(22):find(('a*'):rep(22) .. 'b')"), ==,
            PT_ESCRIPT);
  CHECK_STR(err, "t:1: instruction limit of 1000000 exceeded");
  CHECK_INT(run(L, "local s, p = ('a'):rep(16), ('a*'):rep(16) .. 'b'\n"
                   "while true do pcall(function() return s:find(p) end) end"),
            ==, PT_ESCRIPT);
  CHECK_STR(err, "t:2: instruction limit of 1000000 exceeded");
  CHECK_INT(run(L, "for w in ('a'):rep(22):gmatch(('a*'):rep(22) .. 'b') do end"),
            ==, PT_ESCRIPT);
  CHECK_STR(err, "t:1: instruction limit of 1000000 exceeded");
  CHECK_INT(run(L, "return (('a'):rep(1000):gsub('%w', '%0%0'))"), ==, PT_OK);
  CHECK_INT(lua_rawlen(L, -1), ==, 2000);
  pt_lua_close(L);
}

static void memory_bombs_hit_memory_limit(void)
{
  static const char *const bombs[] = {
    "return string.rep('x', 2e9)",
    "return ('x'):rep(1e8, ',')",
    "local s = 'x' while true do s = s .. s end",
    "local t = {} for i = 1, 1e9 do t[i] = i end",
    "local t = {} for i = 1, 1e9 do t[i] = {} end",
    "return table.concat(setmetatable({}, {__index = function() return 'xxxx' end}), '', 1, 1e8)",
  };
  lua_State *L = pt_lua_new(&(pt_lua_limits){ 4u << 20, 0 });
  for (size_t i = 0; i < sizeof bombs / sizeof bombs[0]; i++) {
    CHECK_INT(run(L, bombs[i]), ==, PT_ESCRIPT);
    CHECK_CONTAINS(err, "memory limit of 4194304 bytes exceeded");
    CHECK_INT(run(L, "return #string.rep('y', 1000)"), ==, PT_OK);
    CHECK_INT(lua_tointeger(L, -1), ==, 1000);
  }
  pt_lua_close(L);
}

static void caught_memory_error_leaves_state_usable(void)
{
  lua_State *L = pt_lua_new(&(pt_lua_limits){ 4u << 20, 0 });
  CHECK_INT(run(L, "local ok = pcall(string.rep, 'x', 1e9) "
                   "return tostring(ok) .. #('z'):rep(100)"), ==, PT_OK);
  CHECK_STR(lua_tostring(L, -1), "false100");
  pt_lua_close(L);
}

static void tiny_memory_limit_fails_cleanly(void)
{
  CHECK(pt_lua_new(&(pt_lua_limits){ 1000, 0 }) == NULL);
}

/* Lua runs finalizers with hooks off: a looping __gc would hang forever. */
static void finalizers_are_refused(void)
{
  expect_error("setmetatable({}, {__gc = function() while true do end end})\n"
               "collectgarbage()",
               "t:1: __gc metamethods are not available in the sandbox");
  expect_error("setmetatable({}, {__gc = false})", "__gc metamethods are not available");
}

/* A coroutine killed inside the hook has Lua's hooks switched off; closing
 * it later must not run its looping __close handler unhooked. */
static void killed_coroutine_close_handlers_do_not_escape(void)
{
  lua_State *L = pt_lua_new(&small);
  CHECK_INT(run(L, "co = coroutine.create(function()\n"
                   "  local x <close> = setmetatable({}, {__close = function()\n"
                   "    while true do end end})\n"
                   "  while true do end end)\n"
                   "coroutine.resume(co)"),
            ==, PT_ESCRIPT);
  CHECK_CONTAINS(err, "instruction limit");
  CHECK_INT(run(L, "return select(2, coroutine.close(co))"), ==, PT_OK);
  CHECK_CONTAINS(lua_tostring(L, -1), "stopped by the instruction limit");
  CHECK_INT(run(L, "local f = coroutine.wrap(function()\n"
                   "  local x <close> = setmetatable({}, {__close = function()\n"
                   "    while true do end end})\n"
                   "  while true do end end)\n"
                   "f()"),
            ==, PT_ESCRIPT);
  CHECK_CONTAINS(err, "instruction limit");
  /* An ordinary error still closes the coroutine's variables. */
  CHECK_INT(run(L, "closed = false\n"
                   "local f = coroutine.wrap(function()\n"
                   "  local x <close> = setmetatable({}, {__close = function() closed = true end})\n"
                   "  error('inner') end)\n"
                   "local ok, e = pcall(f) return tostring(closed) .. ' ' .. e"),
            ==, PT_OK);
  CHECK_STR(lua_tostring(L, -1), "true t:4: inner");
  pt_lua_close(L);
}

static void print_goes_to_the_log(void)
{
  lua_State *L = pt_lua_new(NULL);
  CHECK_INT(run(L, "print('from lua', 1, nil, {}) return 1"), ==, PT_OK);
  pt_lua_close(L);
}

int main(void)
{
  if (!mkdtemp(tmpdir)) return 1;
  RUN(normal_code_works);
  RUN(pt_lua_call_passes_arguments_and_results);
  RUN(io_is_unavailable);
  RUN(os_is_reduced);
  RUN(modules_and_debug_are_unavailable);
  RUN(binary_chunks_are_refused);
  RUN(string_metatable_is_locked_and_per_state);
  RUN(collectgarbage_cannot_stop_the_collector);
  RUN(non_string_errors_are_readable);
  RUN(file_errors_name_file_and_line);
  RUN(infinite_loop_hits_instruction_limit);
  RUN(loop_in_coroutine_hits_instruction_limit);
  RUN(pcall_cannot_swallow_instruction_limit);
  RUN(pattern_matching_hits_instruction_limit);
  RUN(memory_bombs_hit_memory_limit);
  RUN(caught_memory_error_leaves_state_usable);
  RUN(tiny_memory_limit_fails_cleanly);
  RUN(finalizers_are_refused);
  RUN(killed_coroutine_close_handlers_do_not_escape);
  RUN(print_goes_to_the_log);
  unlink(write_tmp("syntax.lua", "", 0));
  unlink(write_tmp("runtime.lua", "", 0));
  rmdir(tmpdir);
  return check_report();
}
