/*
 * tests/test_lua_pattern.c: the sandbox's string.find, match, gmatch and gsub
 * (core/lua_pattern.c) return exactly what stock Lua 5.4 returns, error
 * messages included, for a hand-written case of every pattern feature and a
 * few thousand random ones; catastrophic patterns stop within a fraction of
 * a second with "pattern too complex" and leave the state usable.
 *
 * Each case runs through the same Lua driver in a plain luaL_openlibs state
 * (the reference) and in a sandboxed one, and the two transcripts must be
 * equal byte for byte.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lauxlib.h>
#include <lualib.h>

#include "check.h"
#include "lua_pattern.h"
#include "lua_sandbox.h"
#include "portico/errors.h"

static char err[512];

/* Defines case(s, p, init, repl, n) and expr(code), which return a
 * transcript: every result of every function with its type, or the error
 * message. Errors carry "driver:LINE:", so positions are compared too. */
static const char driver[] =
    "local fmt, pack, concat = string.format, table.pack, table.concat\n"
    "local function ser(r, i, j)\n"
    "  local t = {}\n"
    "  for k = i, j do\n"
    "    local v = r[k]\n"
    "    t[#t + 1] = type(v) == 'string' and fmt('%q', v)\n"
    "                or type(v) .. ':' .. tostring(v)\n"
    "  end\n"
    "  return (j - i + 1) .. '{' .. concat(t, ',') .. '}'\n"
    "end\n"
    "local function try(f, ...)\n"
    "  local r = pack(pcall(f, ...))\n"
    "  if r[1] then return ser(r, 2, r.n) end\n"
    "  return 'error: ' .. tostring(r[2])\n"
    "end\n"
    "local lookup = { a = 'A', b = false, c = 7, d = true, [''] = 'E',\n"
    "                 [1] = 'one', [2] = 2.5, ['ab'] = 'AB' }\n"
    "local function replacer(log)\n"
    "  return function(...)\n"
    "    local r = pack(...)\n"
    "    log[#log + 1] = ser(r, 1, r.n)\n"
    "    local a = r[1]\n"
    "    if a == 'a' then return nil end\n"
    "    if a == 'b' then return false end\n"
    "    if a == 'c' then return 42 end\n"
    "    if a == 'd' then return {} end\n"
    "    return '<' .. concat(r, '|', 1, r.n) .. '>'\n"
    "  end\n"
    "end\n"
    "function case(s, p, init, repl, n)\n"
    "  local out = {}\n"
    "  local function add(tag, f) out[#out + 1] = tag .. '=' .. try(f) end\n"
    "  add('find', function() return s:find(p, init) end)\n"
    "  add('plain', function() return string.find(s, p, init, true) end)\n"
    "  add('match', function() return s:match(p, init) end)\n"
    "  add('gmatch', function()\n"
    "    local it, res = s:gmatch(p, init), {}\n"
    "    for _ = 1, 40 do\n"
    "      local r = pack(it())\n"
    "      res[#res + 1] = ser(r, 1, r.n)\n"
    "      if r.n == 0 then break end\n"
    "    end\n"
    "    local r = pack(it())\n"
    "    return concat(res, ' ') .. ' then ' .. ser(r, 1, r.n)\n"
    "  end)\n"
    "  add('gsub', function() return s:gsub(p, repl, n) end)\n"
    "  local log = {}\n"
    "  add('gsubf', function() return s:gsub(p, replacer(log), n) end)\n"
    "  out[#out + 1] = 'calls=' .. concat(log, ' ')\n"
    "  add('gsubt', function() return s:gsub(p, lookup, n) end)\n"
    "  return concat(out, '\\n')\n"
    "end\n"
    "function expr(code)\n"
    "  local f, e = load('return ' .. code, '=expr')\n"
    "  if not f then return 'load: ' .. e end\n"
    "  return try(f)\n"
    "end\n";

#define NIL LLONG_MIN /* init or n absent */

typedef struct pcase {
  const char *s, *p;
  long long init;
  const char *repl;
  long long n;
} pcase;

static lua_State *stock, *boxed;
static int mismatches, compared;
#define SHOWN 15 /* mismatches printed in full per test; the rest are counted */

static void open_states(void)
{
  mismatches = compared = 0;
  stock = luaL_newstate();
  luaL_openlibs(stock);
  CHECK_INT(luaL_loadbuffer(stock, driver, sizeof driver - 1, "=driver"), ==,
            LUA_OK);
  CHECK_INT(lua_pcall(stock, 0, 0, 0), ==, LUA_OK);
  boxed = pt_lua_new(NULL);
  CHECK(boxed != NULL);
  CHECK_INT(pt_lua_dostring(boxed, driver, sizeof driver - 1, "=driver", 0,
                            err, sizeof err),
            ==, PT_OK);
}

static void close_states(void)
{
  if (mismatches > SHOWN)
    check_fail(__FILE__, __LINE__, "%d of %d cases differ from stock",
               mismatches, compared);
  lua_close(stock);
  pt_lua_close(boxed);
}

static void push_opt_int(lua_State *L, long long v)
{
  if (v == NIL)
    lua_pushnil(L);
  else
    lua_pushinteger(L, (lua_Integer)v);
}

/* Call global `fn` with the arguments pushed by `push` in one state and
 * return its transcript (a copy the caller frees). */
static char *transcript(lua_State *L, int sandboxed, const char *fn,
                        int (*push)(lua_State *, const void *), const void *arg)
{
  lua_settop(L, 0);
  lua_getglobal(L, fn);
  int nargs = push(L, arg);
  int rc = sandboxed ? pt_lua_call(L, nargs, 1, err, sizeof err)
                     : lua_pcall(L, nargs, 1, 0);
  const char *out = rc == 0 && lua_isstring(L, -1) ? lua_tostring(L, -1)
                    : sandboxed                    ? err
                                                   : lua_tostring(L, -1);
  char *copy = strdup(out ? out : "(no transcript)");
  lua_settop(L, 0);
  return copy;
}

static int push_case(lua_State *L, const void *arg)
{
  const pcase *c = arg;
  lua_pushstring(L, c->s);
  lua_pushstring(L, c->p);
  push_opt_int(L, c->init);
  lua_pushstring(L, c->repl ? c->repl : "%0");
  push_opt_int(L, c->n);
  return 5;
}

static int push_expr(lua_State *L, const void *arg)
{
  lua_pushstring(L, arg);
  return 1;
}

/* Stock and sandbox must agree; the first SHOWN differences are printed in
 * full, the rest only counted, so a regression does not flood the log. */
static void compare(const char *what, const char *fn,
                    int (*push)(lua_State *, const void *), const void *arg)
{
  char *want = transcript(stock, 0, fn, push, arg);
  char *got = transcript(boxed, 1, fn, push, arg);
  compared++;
  if (strcmp(want, got) != 0 && mismatches++ < SHOWN)
    check_fail(__FILE__, __LINE__, "%s\n--- stock:\n%s\n--- sandbox:\n%s",
               what, want, got);
  free(want);
  free(got);
}

static void compare_case(const pcase *c)
{
  char what[600], init[24] = "nil", n[24] = "nil";
  if (c->init != NIL) snprintf(init, sizeof init, "%lld", c->init);
  if (c->n != NIL) snprintf(n, sizeof n, "%lld", c->n);
  snprintf(what, sizeof what, "s=\"%s\" p=\"%s\" init=%s repl=\"%s\" n=%s",
           c->s, c->p, init, c->repl ? c->repl : "%0", n);
  compare(what, "case", push_case, c);
}

static void compare_expr(const char *code)
{
  compare(code, "expr", push_expr, code);
}

static void hand_written_cases_match_stock(void)
{
  static const pcase cases[] = {
    /* literals, '.', init */
    { "hello world", "o w", NIL, NULL, NIL },
    { "hello world", "o", 5, NULL, NIL },
    { "hello world", "o", 6, "0", NIL },
    { "hello world", "l", -3, NULL, NIL },
    { "hello world", "l", -100, NULL, NIL },
    { "hello world", "l", 0, NULL, NIL },
    { "hello", "", 6, NULL, NIL },
    { "hello", "", 7, NULL, NIL },
    { "hello", "", 100, NULL, NIL },
    { "", "", NIL, "x", NIL },
    { "", "a*", 1, "x", NIL },
    { "", "a", 2, NULL, NIL },
    { "abc", "...", NIL, "%0%0", NIL },
    { "a.b", ".", NIL, "[%0]", NIL },
    { "a.b", "%.", NIL, "[%0]", NIL },
    { "a+b", "a+b", NIL, NULL, NIL },
    { "a+b", "a%+b", NIL, NULL, NIL },
    { "a)b", "a)", NIL, NULL, NIL },
    { "a]b", "]", NIL, "x", NIL },
    { "x^y", "^y", NIL, NULL, NIL },
    { "x^y", "x^y", NIL, NULL, NIL },
    { "^a^a", "^a", NIL, "!", NIL },
    { "a$b", "a$b", NIL, NULL, NIL },
    { "a$", "a$", NIL, NULL, NIL },
    { "ab", "b$", NIL, NULL, NIL },
    { "ab", "a$", NIL, NULL, NIL },
    { "ab", "^ab$", NIL, NULL, NIL },
    { "ab", "$", NIL, "!", NIL },
    { "ab", "^", NIL, "!", NIL },
    { "ab", "^$", NIL, "!", NIL },
    { "", "^$", NIL, "!", NIL },
    /* classes and their complements */
    { "aZ9 \t\n!_~\x01\x7f", "%a", NIL, "<%0>", NIL },
    { "aZ9 \t\n!_~\x01\x7f", "%A", NIL, "<%0>", NIL },
    { "aZ9 \t\n!_~\x01\x7f", "%c+", NIL, "<%0>", NIL },
    { "aZ9 \t\n!_~\x01\x7f", "%C+", NIL, "<%0>", NIL },
    { "aZ9 \t\n!_~\x01\x7f", "%d", NIL, "<%0>", NIL },
    { "aZ9 \t\n!_~\x01\x7f", "%D+", NIL, "<%0>", NIL },
    { "aZ9 \t\n!_~\x01\x7f", "%g+", NIL, "<%0>", NIL },
    { "aZ9 \t\n!_~\x01\x7f", "%G+", NIL, "<%0>", NIL },
    { "aZ9 \t\n!_~\x01\x7f", "%l", NIL, "<%0>", NIL },
    { "aZ9 \t\n!_~\x01\x7f", "%L+", NIL, "<%0>", NIL },
    { "aZ9 \t\n!_~\x01\x7f", "%p", NIL, "<%0>", NIL },
    { "aZ9 \t\n!_~\x01\x7f", "%P+", NIL, "<%0>", NIL },
    { "aZ9 \t\n!_~\x01\x7f", "%s", NIL, "<%0>", NIL },
    { "aZ9 \t\n!_~\x01\x7f", "%S+", NIL, "<%0>", NIL },
    { "aZ9 \t\n!_~\x01\x7f", "%u", NIL, "<%0>", NIL },
    { "aZ9 \t\n!_~\x01\x7f", "%U+", NIL, "<%0>", NIL },
    { "aZ9 \t\n!_~\x01\x7f", "%w+", NIL, "<%0>", NIL },
    { "aZ9 \t\n!_~\x01\x7f", "%W+", NIL, "<%0>", NIL },
    { "0x1fG", "%x+", NIL, "<%0>", NIL },
    { "0x1fG", "%X+", NIL, "<%0>", NIL },
    { "a\xe9\xff", "%a", NIL, "<%0>", NIL },
    { "a\xe9\xff", "[\xe0-\xff]", NIL, "<%0>", NIL },
    { "a.b%c(d)", "%%", NIL, "<%0>", NIL },
    { "a.b%c(d)", "%(", NIL, "<%0>", NIL },
    { "a.b%c(d)", "%)", NIL, "<%0>", NIL },
    { "a-b", "%-", NIL, "<%0>", NIL },
    { "akz", "%k", NIL, "<%0>", NIL },
    { "a k", "% ", NIL, "<%0>", NIL },
    /* sets */
    { "abcxyz-]^", "[a-c]", NIL, "<%0>", NIL },
    { "abcxyz-]^", "[^a-c]", NIL, "<%0>", NIL },
    { "abcxyz-]^", "[]]", NIL, "<%0>", NIL },
    { "abcxyz-]^", "[^]]", NIL, "<%0>", NIL },
    { "abcxyz-]^", "[]a]+", NIL, "<%0>", NIL },
    { "abcxyz-]^", "[a-]", NIL, "<%0>", NIL },
    { "abcxyz-]^", "[-a]", NIL, "<%0>", NIL },
    { "abcxyz-]^", "[a-c-z]", NIL, "<%0>", NIL },
    { "abcxyz-]^", "[z-a]", NIL, "<%0>", NIL },
    { "abcxyz-]^", "[%a-]", NIL, "<%0>", NIL },
    { "abcxyz-]^", "[%a-z]", NIL, "<%0>", NIL },
    { "abcxyz-]^", "[%]]", NIL, "<%0>", NIL },
    { "abcxyz-]^", "[%^]", NIL, "<%0>", NIL },
    { "abcxyz-]^", "[a^]", NIL, "<%0>", NIL },
    { "abcxyz-]^", "[^^]", NIL, "<%0>", NIL },
    { "abcxyz-]^", "[%-]", NIL, "<%0>", NIL },
    { "abcxyz-]^", "[%w_]+", NIL, "<%0>", NIL },
    { "abcxyz-]^", "[^%W]+", NIL, "<%0>", NIL },
    { "a1 b2", "[%d%s]+", NIL, "<%0>", NIL },
    { "abc", "[a", NIL, NULL, NIL },
    { "abc", "[^", NIL, NULL, NIL },
    { "abc", "[", NIL, NULL, NIL },
    { "abc", "[]", NIL, NULL, NIL },
    { "abc", "[^]", NIL, NULL, NIL },
    { "abc", "[a%", NIL, NULL, NIL },
    { "abc", "[a%]", NIL, NULL, NIL },
    { "abc", "x[", NIL, NULL, NIL },
    { "xbc", "x[", NIL, NULL, NIL },
    { "abc", "%", NIL, NULL, NIL },
    { "abc", "a%", NIL, NULL, NIL },
    { "abc", "x%", NIL, NULL, NIL },
    /* quantifiers */
    { "aaab", "a*", NIL, "<%0>", NIL },
    { "aaab", "a+", NIL, "<%0>", NIL },
    { "aaab", "a-", NIL, "<%0>", NIL },
    { "aaab", "a-b", NIL, "<%0>", NIL },
    { "aaab", "a?", NIL, "<%0>", NIL },
    { "aaab", "a?a?a?a?b", NIL, "<%0>", NIL },
    { "aaab", "b*", NIL, "<%0>", NIL },
    { "aaab", "x*", 2, "<%0>", NIL },
    { "abc", "%w*", NIL, "-", NIL },
    { "abc", "", NIL, "-", NIL },
    { "abc", "", 2, "-", 2 },
    { "abc def", "%a*", NIL, "<%0>", NIL },
    { "<a><b>", "<.->", NIL, "[%0]", NIL },
    { "<a><b>", "<.*>", NIL, "[%0]", NIL },
    { "  trim  ", "^%s*(.-)%s*$", NIL, "%1", NIL },
    { "a*b", "a**", NIL, NULL, NIL },
    { "a", "*", NIL, NULL, NIL },
    { "a", "+a", NIL, NULL, NIL },
    { "a-b", "-", NIL, "_", NIL },
    { "?", "?", NIL, "_", NIL },
    { "a", "a+?", NIL, NULL, NIL },
    { "key = value", "(%w+)%s*=%s*(%w+)", NIL, "%2=%1", NIL },
    /* captures */
    { "hello world", "(o)(.)", NIL, "%2%1", NIL },
    { "hello world", "()ll()", NIL, "%1-%2", NIL },
    { "hello", "()", NIL, "%1", NIL },
    { "hello", "(h)(e)(l)(l)(o)", NIL, "%5%4%3%2%1", NIL },
    { "hello", "((h)(e))", NIL, "%1|%2|%3", NIL },
    { "hello", "(h(e(l)))", NIL, "%3", NIL },
    { "hello", "(", NIL, NULL, NIL },
    { "hello", "(h", NIL, NULL, NIL },
    { "hello", "(x", NIL, NULL, NIL },
    { "hello", "h)", NIL, NULL, NIL },
    { "hello", "x)", NIL, NULL, NIL },
    { "hello", "(h))", NIL, NULL, NIL },
    { "hello", "()", 3, NULL, NIL },
    { "hello", "(()l)", NIL, "%1%2", NIL },
    { "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
      "(a)(a)(a)(a)(a)(a)(a)(a)(a)(a)(a)(a)(a)(a)(a)(a)(a)(a)(a)(a)(a)(a)"
      "(a)(a)(a)(a)(a)(a)(a)(a)(a)(a)", NIL, "%9", NIL },
    { "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
      "(a)(a)(a)(a)(a)(a)(a)(a)(a)(a)(a)(a)(a)(a)(a)(a)(a)(a)(a)(a)(a)(a)"
      "(a)(a)(a)(a)(a)(a)(a)(a)(a)(a)(a)", NIL, NULL, NIL },
    /* back-references */
    { "abab xyxy", "(..)%1", NIL, "<%1>", NIL },
    { "say \"hi\" 'there'", "([\"'])(.-)%1", NIL, "%2", NIL },
    { "aa", "(a)%1", NIL, NULL, NIL },
    { "aa", "(a)%2", NIL, NULL, NIL },
    { "aa", "(a%1)", NIL, NULL, NIL },
    { "aa", "%1", NIL, NULL, NIL },
    { "aa", "%0", NIL, NULL, NIL },
    { "aa", "x%1", NIL, NULL, NIL },
    { "aa", "()%1", NIL, NULL, NIL },
    { "abcabc", "(a)(b)(c)%3%2", NIL, NULL, NIL },
    /* %b */
    { "f(a(b)c) g(d)", "%b()", NIL, "[]", NIL },
    { "f(a(b)c", "%b()", NIL, "[]", NIL },
    { "x[[y]]z", "%b[]", NIL, "<%0>", NIL },
    { "'a' 'b'", "%b''", NIL, "<%0>", NIL },
    { "((", "%b((", NIL, "<%0>", NIL },
    { "abc", "%b", NIL, NULL, NIL },
    { "abc", "%b(", NIL, NULL, NIL },
    { "abc", "x%b(", NIL, NULL, NIL },
    { "(a)(b)", "%b()+", NIL, NULL, NIL },
    /* %f */
    { "THE (quick) fox", "%f[%a]%a+", NIL, "<%0>", NIL },
    { "THE (quick) fox", "%f[%A]", NIL, "|", NIL },
    { "the end", "%f[%z]", NIL, "|", NIL },
    { "hello", "%f[%l]", 2, NULL, NIL },
    { "hello", "%f[%w]", NIL, "|", NIL },
    { "hello", "%f[^%w]", NIL, "|", NIL },
    { "hello", "%f", NIL, NULL, NIL },
    { "hello", "%fa", NIL, NULL, NIL },
    { "hello", "%f[a", NIL, NULL, NIL },
    { "hello", "%f[]]", NIL, NULL, NIL },
    /* gsub's replacement string and count */
    { "hello world", "o", NIL, "%%", NIL },
    { "hello world", "o", NIL, "%", NIL },
    { "hello world", "o", NIL, "a%", NIL },
    { "hello world", "o", NIL, "%x", NIL },
    { "hello world", "o", NIL, "%1", NIL },
    { "hello world", "o", NIL, "%2", NIL },
    { "hello world", "(o)", NIL, "%2", NIL },
    { "hello world", "x", NIL, "%2", NIL },
    { "hello world", "o", 1, "0", 1 },
    { "hello world", "o", NIL, "0", 0 },
    { "hello world", "o", NIL, "0", -1 },
    { "hello world", "", NIL, "-", 3 },
    { "hello world", "(", NIL, "%1", NIL },
    { "abc", "^a", NIL, "x", NIL },
    { "abc", "^b", NIL, "x", NIL },
    { "abc", "^", NIL, "x", NIL },
    { "abc", "%w", NIL, "%0%0", NIL },
    { "a b c d", "%w", NIL, "ab", NIL },
    { "a b c d", "(%w)", NIL, "c", NIL },
    { "abcd", "(%w)(%w)", NIL, "d", NIL },
    { "abcd", "()", NIL, "-", NIL },
    { "a-b", "%W", NIL, "%", NIL },
    { "aaa", "a-", NIL, "-", NIL },
    { "aaa", "a*", NIL, "-", NIL },
    { "abc", "b*", NIL, "-", NIL },
    { "abc", "a", 3, NULL, NIL },
  };
  open_states();
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    compare_case(&cases[i]);
  close_states();
}

/* What the corpus above cannot say: other argument types and counts,
 * embedded NULs, numbers as strings, find's plain flag, gmatch's init. */
static void argument_handling_matches_stock(void)
{
  static const char *const exprs[] = {
    "string.find()",
    "string.find('a')",
    "string.find(nil, 'a')",
    "string.find('a', {})",
    "('a'):find('a', 1.5)",
    "('a'):find('a', '1')",
    "('a'):find('a', 'x')",
    "('abc'):find('b', math.maxinteger)",
    "('abc'):find('b', math.mininteger)",
    "('a.c'):find('.', 1, true)",
    "('a.c'):find('.', 2, 1)",
    "('a.c'):find('.', 1, false)",
    "('a.c'):find('.', 1, nil)",
    "('a(c'):find('(', 1, true)",
    "('a%c'):find('%', 1, true)",
    "('abc'):find('', 4, true)",
    "('abc'):find('', 5, true)",
    "('abc'):find('abcd', 1, true)",
    "('abcabc'):find('ca', -4, true)",
    "string.find(12345, 34)",
    "string.find(12345, '3(4)')",
    "string.match(12.5, '%d+')",
    "string.gsub(12345, '3', 'x')",
    "string.gsub(12345, 'x', 'y')",
    "math.type(string.gsub(12345, 'x', 'y'))",
    "string.gsub('abc', 'b', 7)",
    "string.gsub('abc', '(b)', 2.5)",
    "string.gsub('abc', 'b')",
    "string.gsub('abc', 'b', true)",
    "string.gsub('abc', 'b', 'x', 1.5)",
    "string.gsub('abc', 'b', 'x', '1')",
    "string.gsub('abc', 'b', nil, 1.5)",
    "string.gsub('abc', '%w', 'x', math.maxinteger)",
    "string.gsub('abc', '%w', 'x', math.mininteger)",
    "string.gsub('abc', '%w', function() return 1.5 end)",
    "string.gsub('abc', '%w', function() end)",
    "string.gsub('abc', '%w', function() return true end)",
    "string.gsub('abc', '%w', function() error('inner') end)",
    "string.gsub('abc', '%w', setmetatable({}, {__index = function(t, k) return k:upper() end}))",
    "string.gsub('abc', '(%w)(%w)', {ab = 1})",
    "string.gsub('abc', '()', {'x', 'y'})",
    "string.gsub('abc', '(', {})",
    "string.gsub('abc', '(', function(...) return select('#', ...) end)",
    "string.gmatch('abc')",
    "string.gmatch(nil, 'a')",
    "string.gmatch('abc', '.', 'x')",
    "select('#', string.gmatch('abc', 'x')())",
    "string.gmatch('abc', '.', 0)()",
    "string.gmatch('abc', '.', 3)()",
    "string.gmatch('abc', '.', 4)()",
    "string.gmatch('abc', '', 4)()",
    "string.gmatch('abc', '.', -2)()",
    "string.gmatch('abc', '.', -20)()",
    "string.gmatch('abc', '.', math.mininteger)()",
    "string.gmatch('abc', '.', math.maxinteger)()",
    "string.gmatch('abc', '(')()",
    "string.gmatch(123, '%d')()",
    "('a\\0b\\0c'):find('\\0')",
    "('a\\0b\\0c'):find('%z')",
    "('a\\0b\\0c'):find('%Z+', 2)",
    "('a\\0b\\0c'):find('b\\0', 1, true)",
    "('a\\0b\\0c'):find('b\\0c')",
    "('a\\0b\\0c'):find('b\\0.')",
    "('a\\0b\\0c'):gsub('[\\0]', '0')",
    "('a\\0b\\0c'):gsub('[^\\0]', '.')",
    "('a\\0b\\0c'):gsub('[a-\\0]', '.')",
    "('a\\0b\\0c'):gsub('.', '%0\\0')",
    "('a\\0b'):gsub('%\\0', '!')",
    "('a\\0b'):gsub('b', '%\\0')",
    "('a\\0b'):match('%f[%z]')",
    "('a\\0b'):match('()%f[%Z]', 2)",
    "('a\\0b'):match('%b\\0b')",
    "('a[\\0'):find('[\\0')",
    "('x'):rep(300):find(('x?'):rep(300))",
    "('x'):rep(199):find(('x?'):rep(199))",
    "('x'):rep(198):find(('x?'):rep(198))",
    "('x'):rep(300):find(('(x)'):rep(40))",
    "('x'):rep(300):find(('()'):rep(32))",
    "('x'):rep(300):find(('()'):rep(33))",
    "('x'):rep(300):find('%b' .. ('x'):rep(300))",
    "string.gsub(('x'):rep(500), 'x', '%0%0')",
    "#string.gsub(('ab'):rep(10000), '%w', '%0%0')",
    "string.find(('a'):rep(10000) .. 'b', 'a-b')",
    "string.find(('a'):rep(5000) .. 'b', 'a*a*b')",
  };
  open_states();
  for (size_t i = 0; i < sizeof exprs / sizeof exprs[0]; i++)
    compare_expr(exprs[i]);
  close_states();
}

/* A fixed-seed LCG: the same cases on every run and every platform. */
static unsigned long long rng = 0x5eed2024ULL;

static unsigned pick(unsigned n)
{
  rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
  return (unsigned)(rng >> 33) % n;
}

static const char *pick_from(const char *const *list, size_t n)
{
  return list[pick((unsigned)n)];
}
#define PICK(list) pick_from(list, sizeof list / sizeof list[0])

/* Short patterns over a small alphabet: they reach every branch of the
 * matcher, malformed spots included, while staying far from stock's own
 * exponential cases (at most five quantifiers over eleven characters).
 * Every other case draws only well-formed items, some captured, so that
 * plenty of patterns match rather than fail or raise. */
static void random_patterns_match_stock(void)
{
  static const char *const atoms[] = {
    /* well-formed and capture-free: the first WELL_FORMED */
    "a", "a", "a", "a", "b", "b", "b", "c", ".", ".", "%a", "%a", "%A", "%d",
    "%s", "%w", "%p", "%%", "%(", "%.", "[ab]", "[ab]", "[^a]", "[a-c]",
    "[%a%d]", "[]a]", "[^]]", "[a-]", "[%]]", "%bab", "%f[a]", "%f[^a]",
    "%f[%w]", "%f[%z]", "%z", "]", "[b-a]", " ", "-", "?", "%g", "%b()",
    /* the rest */
    "()", "(", "(", "(", ")", ")", ")", "%1", "%1", "%2", "%0", "$", "^", "%",
    "[", "%f", "%b",
  };
  enum { WELL_FORMED = 42 };
  static const char *const quantifiers[] = { "", "", "*", "+", "-", "?" };
  static const char subject_chars[] = "aaaabbbc() .1A-%";
  static const char *const repl_parts[] = { "x", "%0", "%1", "%2", "%%", "<",
                                            "%", "%x", "", "%3" };
  open_states();
  for (int i = 0; i < 4000; i++) {
    char s[16], p[96], r[16];
    size_t sl = pick(12);
    for (size_t k = 0; k < sl; k++)
      s[k] = subject_chars[pick(sizeof subject_chars - 1)];
    s[sl] = '\0';
    int tame = i % 2;
    unsigned natoms = tame ? WELL_FORMED : sizeof atoms / sizeof atoms[0];
    p[0] = '\0';
    if (pick(5) == 0) strcat(p, "^");
    for (int k = (int)pick(5); k >= 0; k--) {
      int captured = tame && pick(4) == 0;
      if (captured) strcat(p, pick(3) ? "(" : "()");
      strcat(p, atoms[pick(natoms)]);
      strcat(p, PICK(quantifiers));
      if (captured) strcat(p, pick(3) ? ")" : ")%1");
    }
    if (pick(6) == 0) strcat(p, "$");
    r[0] = '\0';
    for (int k = (int)pick(3); k >= 0; k--) strcat(r, PICK(repl_parts));
    pcase c = { s, p, pick(2) ? NIL : (long long)pick(25) - 12, r,
                pick(4) ? NIL : (long long)pick(5) - 1 };
    compare_case(&c);
  }
  close_states();
}

static double seconds_since(const struct timespec *t0)
{
  struct timespec t1;
  clock_gettime(CLOCK_MONOTONIC, &t1);
  return (double)(t1.tv_sec - t0->tv_sec) + (t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Each of these runs for minutes to years in stock Lua. */
static void catastrophic_patterns_stop_quickly(void)
{
  static const char *const hostile[] = {
    "return ('a'):rep(22):find(('a*'):rep(22) .. 'b')",
    "return ('a'):rep(30):match(('a?'):rep(30) .. ('a'):rep(30))",
    "for w in ('a'):rep(25):gmatch(('a*'):rep(25) .. 'b') do end",
    "return ('x'):rep(40):gsub(('x-'):rep(20) .. 'y', '')",
    "return ('a'):rep(25):find(('(a*)'):rep(20) .. 'b')",
    "return ('('):rep(100000):gsub('%b()', '')",
    "return ('a'):rep(50000):find('(.-)%1b')",
    "return ('a'):rep(100000):gsub('', ('%0'):rep(100000))",
    "return ('a'):rep(2000000):find(('a'):rep(100000) .. 'b', 1, true)",
    "return ('a'):rep(100000):find('[' .. ('b'):rep(100000) .. ']')",
  };
  lua_State *L = pt_lua_new(NULL);
  for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++) {
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK_INT(pt_lua_dostring(L, hostile[i], strlen(hostile[i]), "=t", 0, err,
                              sizeof err),
              ==, PT_ESCRIPT);
    CHECK_STR(err, "t:1: pattern too complex: step limit of 10000000 exceeded");
    double took = seconds_since(&t0);
    if (took > 5.0)
      check_fail(__FILE__, __LINE__, "%s took %.1f s", hostile[i], took);
    const char *again = "return ('key=value'):match('(%w+)=(%w+)')";
    CHECK_INT(pt_lua_dostring(L, again, strlen(again), "=t", 2, err, sizeof err),
              ==, PT_OK);
    CHECK_STR(lua_tostring(L, -2), "key");
    CHECK_STR(lua_tostring(L, -1), "value");
    lua_settop(L, 0);
  }
  pt_lua_close(L);
}

/* The limit is an ordinary error: pcall catches it and the script goes on. */
static void step_limit_error_can_be_caught(void)
{
  lua_State *L = pt_lua_new(NULL);
  const char *code =
      "local ok, e = pcall(string.find, ('a'):rep(22), ('a*'):rep(22) .. 'b')\n"
      "return tostring(ok) .. ' ' .. e .. ' ' .. ('x'):rep(3):gsub('x', 'y')";
  CHECK_INT(pt_lua_dostring(L, code, strlen(code), "=t", 1, err, sizeof err),
            ==, PT_OK);
  CHECK_STR(lua_tostring(L, -1),
            "false pattern too complex: step limit of 10000000 exceeded yyy");
  pt_lua_close(L);
}

static uint64_t metered;

static void count_steps(lua_State *L, uint64_t steps)
{
  (void)L;
  metered += steps;
}

/* The installer's own parameters: a custom cap, and a meter that sees every
 * step (the sandbox charges them to its instruction budget). */
static void step_cap_and_meter_are_parameters(void)
{
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  lua_getglobal(L, "string");
  pt__lua_pattern_install(L, -1, 1000, count_steps);
  lua_pop(L, 1);
  CHECK_INT(luaL_dostring(L, "return ('a'):rep(200):find('a-b')"), !=, LUA_OK);
  CHECK_STR(lua_tostring(L, -1),
            "[string \"return ('a'):rep(200):find('a-b')\"]:1: "
            "pattern too complex: step limit of 1000 exceeded");
  CHECK_INT(metered, >=, 1000);
  CHECK_INT(metered, <=, 1001);
  lua_settop(L, 0);
  metered = 0;
  CHECK_INT(luaL_dostring(L, "return ('a'):rep(20):find('a-b')"), ==, LUA_OK);
  CHECK(lua_isnil(L, -1));
  CHECK_INT(metered, >, 20);
  CHECK_INT(metered, <, 1000);
  lua_close(L);
}

/* What configuration scripts do every day, with the expected answers
 * written out rather than taken from stock. */
static void config_style_usage_works(void)
{
  lua_State *L = pt_lua_new(NULL);
  const char *code =
      "local conf = '# comment\\nname = portico\\n  port=8080  \\n"
      "tags = a, b ,c\\n'\n"
      "local t = {}\n"
      "for line in conf:gmatch('[^\\n]+') do\n"
      "  local k, v = line:match('^%s*([%w_]+)%s*=%s*(.-)%s*$')\n"
      "  if k then t[k] = v end\n"
      "end\n"
      "local tags = {}\n"
      "for tag in t.tags:gmatch('%s*([^,]-)%s*,') do tags[#tags + 1] = tag end\n"
      "local greeting = ('Hi $USER at $HOME!'):gsub('%$(%w+)',\n"
      "  { USER = 'ann', HOME = '/home/ann' })\n"
      "local upper = ('snake_case_name'):gsub('_(%l)', string.upper)\n"
      "local s, e = ('model: claude-3'):find('%d+')\n"
      "local quoted = ('say \"hi\"'):match('\"(.-)\"')\n"
      "local pos = ('abc'):find('b', 1, true)\n"
      "return table.concat({ t.name, t.port, table.concat(tags, '|'),\n"
      "  greeting, upper, s .. '-' .. e, quoted, pos }, ';')";
  CHECK_INT(pt_lua_dostring(L, code, strlen(code), "=conf", 1, err, sizeof err),
            ==, PT_OK);
  CHECK_STR(lua_tostring(L, -1), "portico;8080;a|b;Hi ann at /home/ann!;"
                                 "snakeCaseName;15-15;hi;2");
  pt_lua_close(L);
}

int main(void)
{
  RUN(hand_written_cases_match_stock);
  RUN(argument_handling_matches_stock);
  RUN(random_patterns_match_stock);
  RUN(catastrophic_patterns_stop_quickly);
  RUN(step_limit_error_can_be_caught);
  RUN(step_cap_and_meter_are_parameters);
  RUN(config_style_usage_works);
  return check_report();
}
