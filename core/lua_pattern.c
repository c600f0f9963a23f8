/*
 * core/lua_pattern.c: string.find, string.match, string.gmatch and
 * string.gsub for the sandbox, with a step budget (see lua_pattern.h).
 *
 * Written from the Lua 5.4 reference manual (section 6.4.1, "Patterns", and
 * the four functions in 6.4) and pinned to the stock library's observable
 * behaviour by tests/test_lua_pattern.c. Matching is a backtracking walk of
 * the pattern text, as in stock, and it has to stay that way: stock reports
 * a malformed pattern only when the walk reaches the bad spot (so
 * ("b"):find("a[") is nil, not an error) and stops at 200 nested matcher
 * frames ("pattern too complex"); a compiling matcher would differ in both.
 * Not for: other string functions, which run in bounded time already.
 */
#include "lua_pattern.h"

#include <ctype.h>
#include <stddef.h>
#include <string.h>

#include <lauxlib.h>

#define ESC '%'
#define SPECIALS "^$*+?.([%-" /* find treats a pattern without these as plain */
#define MAX_CAPTURES 32       /* stock LUA_MAXCAPTURES */
#define MAX_DEPTH 200         /* stock MAXCCALLS: bounds the C stack */
#define CAP_OPEN (-1)         /* capture length while its ')' is pending */
#define CAP_POSITION (-2)     /* a "()" capture: yields its position */
/* Steps between checks of the cap and reports to the meter: about ten
 * microseconds of matching, so a spent budget stops the match promptly. */
#define CHECK_EVERY 4096

typedef struct budget {
  uint64_t max_steps;
  pt__lua_pattern_meter meter;
} budget;

typedef struct matcher {
  lua_State *L;
  const budget *b;
  const char *src, *src_end; /* the whole subject: %f looks before init */
  const char *pat_end;
  int depth; /* matcher frames still allowed */
  int level; /* captures opened so far */
  struct {
    const char *init;
    ptrdiff_t len; /* or CAP_OPEN, CAP_POSITION */
  } cap[MAX_CAPTURES];
  uint64_t steps, next_check, reported;
} matcher;

static void matcher_init(matcher *m, lua_State *L, const char *s, size_t ls,
                         const char *p, size_t lp)
{
  m->L = L;
  m->b = lua_touserdata(L, lua_upvalueindex(1));
  m->src = s;
  m->src_end = s + ls;
  m->pat_end = p + lp;
  m->steps = m->reported = m->next_check = 0; /* first step sets it */
}

/* Before each match attempt: no captures, the full depth allowance. */
static void matcher_reset(matcher *m)
{
  m->level = 0;
  m->depth = MAX_DEPTH;
}

static void report(matcher *m)
{
  if (m->b->meter && m->steps > m->reported) {
    uint64_t n = m->steps - m->reported;
    m->reported = m->steps;
    m->b->meter(m->L, n);
  }
}

/* Report before enforcing the cap: the steps were spent either way. */
static void checkpoint(matcher *m)
{
  report(m);
  if (m->steps > m->b->max_steps)
    luaL_error(m->L, "pattern too complex: step limit of %I exceeded",
               (lua_Integer)m->b->max_steps);
  m->next_check = m->b->max_steps - m->steps < CHECK_EVERY
                      ? m->b->max_steps + 1
                      : m->steps + CHECK_EVERY;
}

static void charge(matcher *m, size_t n)
{
  m->steps += n;
  if (m->steps >= m->next_check) checkpoint(m);
}

/* The characters after a single class at p: "x", "%x" or a "[...]" set. A
 * set's first character is always a member, so "[]]" and "[^]]" hold ']';
 * "%" inside a set escapes the next character, ']' included. */
static const char *class_end(matcher *m, const char *p)
{
  char c = *p++;
  if (c == ESC) {
    if (p >= m->pat_end)
      luaL_error(m->L, "malformed pattern (ends with '%%')");
    return p + 1;
  }
  if (c == '[') {
    if (p < m->pat_end && *p == '^') p++;
    do {
      if (p >= m->pat_end) luaL_error(m->L, "malformed pattern (missing ']')");
      c = *p++;
      if (c == ESC && p < m->pat_end) p++;
    } while (p >= m->pat_end || *p != ']');
    return p + 1;
  }
  return p;
}

/* Does c belong to class %cl? A letter that names no class, or any other
 * character, stands for itself. %z (the NUL byte) is gone from the manual
 * since 5.2 but stock 5.4 still accepts it. */
static int class_match(int c, int cl)
{
  int in;
  switch (tolower(cl)) {
  case 'a': in = isalpha(c); break;
  case 'c': in = iscntrl(c); break;
  case 'd': in = isdigit(c); break;
  case 'g': in = isgraph(c); break;
  case 'l': in = islower(c); break;
  case 'p': in = ispunct(c); break;
  case 's': in = isspace(c); break;
  case 'u': in = isupper(c); break;
  case 'w': in = isalnum(c); break;
  case 'x': in = isxdigit(c); break;
  case 'z': in = c == 0; break;
  default: return cl == c;
  }
  return isupper(cl) ? !in : in != 0;
}

/* Does c belong to the set from '[' at p to ']' at end? "x-y" is a range
 * only when a character follows the '-' before the ']'; "%a-z" is the class
 * %a, a '-' and a 'z'. */
static int set_match(int c, const char *p, const char *end)
{
  int member = 1;
  if (p[1] == '^') {
    member = 0;
    p++;
  }
  while (++p < end) {
    if (*p == ESC) {
      p++;
      if (class_match(c, (unsigned char)*p)) return member;
    } else if (p[1] == '-' && p + 2 < end) {
      if ((unsigned char)p[0] <= c && c <= (unsigned char)p[2]) return member;
      p += 2;
    } else if ((unsigned char)*p == c) {
      return member;
    }
  }
  return !member;
}

/* Does the character at s (if any) match the class from p to ep? */
static int single_match(matcher *m, const char *s, const char *p,
                        const char *ep)
{
  charge(m, 1);
  if (s >= m->src_end) return 0;
  int c = (unsigned char)*s;
  switch (*p) {
  case '.': return 1;
  case ESC: return class_match(c, (unsigned char)p[1]);
  case '[':
    charge(m, (size_t)(ep - p) / 4); /* a long set is a loop of its own */
    return set_match(c, p, ep - 1);
  default: return (unsigned char)*p == c;
  }
}

static const char *match(matcher *m, const char *s, const char *p);

/* x* and x+ (after its first x): take the longest run, then give back one
 * character at a time until the rest of the pattern matches. */
static const char *max_expand(matcher *m, const char *s, const char *p,
                              const char *ep)
{
  ptrdiff_t n = 0;
  while (single_match(m, s + n, p, ep)) n++;
  for (; n >= 0; n--) {
    const char *e = match(m, s + n, ep + 1);
    if (e) return e;
  }
  return NULL;
}

/* x-: try the rest of the pattern first, taking one more x each time. */
static const char *min_expand(matcher *m, const char *s, const char *p,
                              const char *ep)
{
  for (;; s++) {
    const char *e = match(m, s, ep + 1);
    if (e) return e;
    if (!single_match(m, s, p, ep)) return NULL;
  }
}

static const char *open_capture(matcher *m, const char *s, const char *p,
                                ptrdiff_t what)
{
  if (m->level >= MAX_CAPTURES) luaL_error(m->L, "too many captures");
  m->cap[m->level].init = s;
  m->cap[m->level].len = what;
  m->level++;
  const char *e = match(m, s, p);
  if (!e) m->level--;
  return e;
}

/* ')' closes the innermost capture still open. */
static const char *close_capture(matcher *m, const char *s, const char *p)
{
  int i = m->level - 1;
  while (i >= 0 && m->cap[i].len != CAP_OPEN) i--;
  if (i < 0) luaL_error(m->L, "invalid pattern capture");
  m->cap[i].len = s - m->cap[i].init;
  const char *e = match(m, s, p);
  if (!e) m->cap[i].len = CAP_OPEN;
  return e;
}

/* %bxy at s: x, then text in which x and y balance, then y. Testing y
 * first makes %bxx end at the second x. */
static const char *balance(matcher *m, const char *s, const char *p)
{
  if (m->pat_end - p < 2)
    luaL_error(m->L, "malformed pattern (missing arguments to '%%b')");
  charge(m, 1);
  if (s >= m->src_end || *s != p[0]) return NULL;
  size_t open = 1;
  const char *q = s;
  while (++q < m->src_end) {
    if (*q == p[1]) {
      if (--open == 0) break;
    } else if (*q == p[0]) {
      open++;
    }
  }
  charge(m, (size_t)(q - s));
  return q < m->src_end ? q + 1 : NULL;
}

/* %1-%9 in a pattern: the text of an earlier, closed capture. A position
 * capture never matches (stock reads its length as a huge unsigned). */
static const char *back_reference(matcher *m, const char *s, int digit)
{
  int i = digit - '1';
  if (i < 0 || i >= m->level || m->cap[i].len == CAP_OPEN)
    luaL_error(m->L, "invalid capture index %%%d", i + 1);
  ptrdiff_t len = m->cap[i].len;
  if (len < 0 || m->src_end - s < len) return NULL;
  charge(m, (size_t)len / 8);
  return memcmp(m->cap[i].init, s, (size_t)len) == 0 ? s + len : NULL;
}

/* %f[set] at s, p just past "%f": the character before s is not in the
 * set and the one at s is; the subject's ends count as the NUL byte.
 * Returns the pattern after the set, or NULL. */
static const char *frontier(matcher *m, const char *s, const char *p)
{
  if (p >= m->pat_end || *p != '[')
    luaL_error(m->L, "missing '[' after '%%f' in pattern");
  const char *ep = class_end(m, p);
  charge(m, 1 + (size_t)(ep - p) / 4);
  int before = s == m->src ? 0 : (unsigned char)s[-1];
  int at = s < m->src_end ? (unsigned char)*s : 0;
  return !set_match(before, p, ep - 1) && set_match(at, p, ep - 1) ? ep : NULL;
}

static const char *match_here(matcher *m, const char *s, const char *p);

/* The end of a match of pattern p (to pat_end) starting at s, or NULL.
 * Every nested attempt passes here: like stock, at most 200 deep, which
 * bounds the C stack and fails deep patterns the same way. */
static const char *match(matcher *m, const char *s, const char *p)
{
  if (m->depth-- == 0) luaL_error(m->L, "pattern too complex");
  charge(m, 1);
  const char *e = match_here(m, s, p);
  m->depth++;
  return e;
}

/* Items that cannot backtrack loop here instead of recursing, so the C
 * stack grows only at captures and quantifiers, as in stock. */
static const char *match_here(matcher *m, const char *s, const char *p)
{
  while (p < m->pat_end) {
    char next = p + 1 < m->pat_end ? p[1] : '\0';
    switch (*p) {
    case '(':
      return next == ')' ? open_capture(m, s, p + 2, CAP_POSITION)
                         : open_capture(m, s, p + 1, CAP_OPEN);
    case ')':
      return close_capture(m, s, p + 1);
    case '$':
      if (p + 1 == m->pat_end) return s == m->src_end ? s : NULL;
      break; /* elsewhere '$' is an ordinary character */
    case ESC:
      if (next == 'b') {
        if (!(s = balance(m, s, p + 2))) return NULL;
        p += 4;
        continue;
      }
      if (next == 'f') {
        if (!(p = frontier(m, s, p + 2))) return NULL;
        continue;
      }
      if (next >= '0' && next <= '9') {
        if (!(s = back_reference(m, s, next))) return NULL;
        p += 2;
        continue;
      }
      break;
    }
    /* A single class, maybe followed by a quantifier. */
    const char *ep = class_end(m, p);
    char q = ep < m->pat_end ? *ep : '\0';
    if (!single_match(m, s, p, ep)) {
      if (q != '*' && q != '?' && q != '-') return NULL;
      p = ep + 1; /* zero repetitions will do */
      continue;
    }
    switch (q) {
    case '?': {
      const char *e = match(m, s + 1, ep + 1);
      if (e) return e;
      p = ep + 1;
      continue;
    }
    case '+': return max_expand(m, s + 1, p, ep);
    case '*': return max_expand(m, s, p, ep);
    case '-': return min_expand(m, s, p, ep);
    default:
      s++;
      p = ep;
      continue;
    }
  }
  return s;
}

/* Capture i of a match s..e: its length with *start set, or CAP_POSITION
 * for a position capture. With no captures, "capture 1" is the whole match
 * (gsub's %1, gmatch's and match's single result). */
static ptrdiff_t capture_span(matcher *m, int i, const char *s,
                              const char *e, const char **start)
{
  if (i >= m->level) {
    if (i != 0) luaL_error(m->L, "invalid capture index %%%d", i + 1);
    *start = s;
    return e - s;
  }
  if (m->cap[i].len == CAP_OPEN) luaL_error(m->L, "unfinished capture");
  *start = m->cap[i].init;
  return m->cap[i].len;
}

static void push_capture(matcher *m, int i, const char *s, const char *e)
{
  const char *start;
  ptrdiff_t len = capture_span(m, i, s, e, &start);
  if (len == CAP_POSITION)
    lua_pushinteger(m->L, start - m->src + 1);
  else
    lua_pushlstring(m->L, start, (size_t)len);
}

/* Push every capture, or the whole match s..e when there are none and s is
 * not NULL (find passes NULL: it returns positions instead). */
static int push_captures(matcher *m, const char *s, const char *e)
{
  int n = m->level == 0 && s ? 1 : m->level;
  luaL_checkstack(m->L, n, "too many captures");
  for (int i = 0; i < n; i++) push_capture(m, i, s, e);
  return n;
}

/* Stock's rule for init: negative counts from the end, 0 and anything
 * before the start mean 1. The result may lie past the end. */
static size_t start_offset(lua_Integer pos, size_t len)
{
  if (pos > 0) return (size_t)pos - 1;
  if (pos == 0 || pos < -(lua_Integer)len) return 0;
  return len - (size_t)-pos;
}

static int has_specials(const char *p, size_t lp)
{
  for (size_t i = 0; i < lp; i++) {
    if (memchr(SPECIALS, p[i], sizeof SPECIALS - 1)) return 1; /* not NUL */
  }
  return 0;
}

/* First occurrence of p in s, byte for byte. Naive, so a hostile needle
 * can make it quadratic: the bytes it compares count as steps. */
static const char *plain_find(matcher *m, const char *s, size_t ls,
                              const char *p, size_t lp)
{
  if (lp == 0) return s;
  if (lp > ls) return NULL;
  const char *last = s + (ls - lp);
  while (s <= last) {
    const char *hit = memchr(s, *p, (size_t)(last - s) + 1);
    charge(m, 1 + (size_t)((hit ? hit : last) - s) / 8);
    if (!hit) return NULL;
    charge(m, lp / 8);
    if (memcmp(hit + 1, p + 1, lp - 1) == 0) return hit;
    s = hit + 1;
  }
  return NULL;
}

static int find_or_match(lua_State *L, int find)
{
  size_t ls, lp;
  const char *s = luaL_checklstring(L, 1, &ls);
  const char *p = luaL_checklstring(L, 2, &lp);
  size_t init = start_offset(luaL_optinteger(L, 3, 1), ls);
  if (init > ls) {
    luaL_pushfail(L);
    return 1;
  }
  matcher m;
  matcher_init(&m, L, s, ls, p, lp);
  if (find && (lua_toboolean(L, 4) || !has_specials(p, lp))) {
    const char *at = plain_find(&m, s + init, ls - init, p, lp);
    report(&m);
    if (at) {
      lua_pushinteger(L, at - s + 1);
      lua_pushinteger(L, (lua_Integer)(at - s + lp));
      return 2;
    }
  } else {
    int anchored = lp > 0 && *p == '^';
    const char *start = s + init;
    do {
      matcher_reset(&m);
      const char *e = match(&m, start, p + anchored);
      if (e) {
        report(&m);
        if (!find) return push_captures(&m, start, e);
        lua_pushinteger(L, start - s + 1);
        lua_pushinteger(L, e - s);
        return push_captures(&m, NULL, NULL) + 2;
      }
    } while (start++ < m.src_end && !anchored);
    report(&m);
  }
  luaL_pushfail(L);
  return 1;
}

static int str_find(lua_State *L)
{
  return find_or_match(L, 1);
}

static int str_match(lua_State *L)
{
  return find_or_match(L, 0);
}

/* Where a gmatch iterator resumes, as offsets into its subject. */
typedef struct gmatch_state {
  size_t next;
  ptrdiff_t last_end; /* end of the previous match; -1 before the first */
} gmatch_state;

/* Upvalues: budget, subject, pattern, gmatch_state. A '^' is an ordinary
 * character here, as the manual says: an anchor would stop the iteration.
 * An empty match right where the previous match ended is skipped, so
 * ("abc"):gmatch("%a*") yields "abc" once and no trailing "". */
static int gmatch_next(lua_State *L)
{
  size_t ls, lp;
  const char *s = lua_tolstring(L, lua_upvalueindex(2), &ls);
  const char *p = lua_tolstring(L, lua_upvalueindex(3), &lp);
  gmatch_state *g = lua_touserdata(L, lua_upvalueindex(4));
  matcher m;
  matcher_init(&m, L, s, ls, p, lp);
  for (const char *at = s + g->next; at <= m.src_end; at++) {
    matcher_reset(&m);
    const char *e = match(&m, at, p);
    if (e && e - s != g->last_end) {
      g->next = (size_t)(e - s);
      g->last_end = e - s;
      report(&m);
      return push_captures(&m, at, e);
    }
  }
  report(&m);
  return 0;
}

static int str_gmatch(lua_State *L)
{
  size_t ls;
  luaL_checklstring(L, 1, &ls);
  luaL_checklstring(L, 2, NULL);
  size_t init = start_offset(luaL_optinteger(L, 3, 1), ls);
  lua_settop(L, 2);
  gmatch_state *g = lua_newuserdatauv(L, sizeof *g, 0);
  g->next = init > ls ? ls + 1 : init;
  g->last_end = -1;
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_pushcclosure(L, gmatch_next, 4);
  return 1;
}

/* gsub's replacement string for the match s..e: "%0" is the match, "%1"-"%9"
 * captures, "%%" a '%'; any other '%' is an error. Its length counts as
 * steps: ("%1"):rep(1e6) against a million empty matches adds nothing to
 * the result but would otherwise run for minutes. */
static void add_template(matcher *m, luaL_Buffer *b, const char *s,
                         const char *e)
{
  size_t l;
  const char *t = lua_tolstring(m->L, 3, &l);
  const char *end = t + l, *pct;
  charge(m, 1 + l / 2); /* at most one escape per two bytes */
  while ((pct = memchr(t, ESC, (size_t)(end - t))) != NULL) {
    luaL_addlstring(b, t, (size_t)(pct - t));
    char c = pct + 1 < end ? pct[1] : '\0';
    if (c == ESC) {
      luaL_addchar(b, ESC);
    } else if (c == '0') {
      luaL_addlstring(b, s, (size_t)(e - s));
    } else if (c >= '1' && c <= '9') {
      const char *start;
      ptrdiff_t len = capture_span(m, c - '1', s, e, &start);
      if (len == CAP_POSITION) {
        lua_pushinteger(m->L, start - m->src + 1);
        luaL_addvalue(b);
      } else {
        luaL_addlstring(b, start, (size_t)len);
      }
    } else {
      luaL_error(m->L, "invalid use of '%c' in replacement string", ESC);
    }
    t = pct + 2;
  }
  luaL_addlstring(b, t, (size_t)(end - t));
}

/* Append the replacement for the match s..e; 0 when the match is kept
 * because a table or function gave false or nil. */
static int add_replacement(matcher *m, luaL_Buffer *b, const char *s,
                           const char *e, int type)
{
  lua_State *L = m->L;
  if (type == LUA_TFUNCTION) {
    lua_pushvalue(L, 3);
    int n = push_captures(m, s, e);
    lua_call(L, n, 1);
  } else if (type == LUA_TTABLE) {
    push_capture(m, 0, s, e);
    lua_gettable(L, 3);
  } else {
    add_template(m, b, s, e);
    return 1;
  }
  if (!lua_toboolean(L, -1)) {
    lua_pop(L, 1);
    luaL_addlstring(b, s, (size_t)(e - s));
    return 0;
  }
  if (!lua_isstring(L, -1))
    return luaL_error(L, "invalid replacement value (a %s)",
                      luaL_typename(L, -1));
  luaL_addvalue(b);
  return 1;
}

/* As stock: an empty match right where the previous one ended is skipped,
 * and when nothing was replaced the subject itself is returned. */
static int str_gsub(lua_State *L)
{
  size_t ls, lp;
  const char *src = luaL_checklstring(L, 1, &ls);
  const char *p = luaL_checklstring(L, 2, &lp);
  int type = lua_type(L, 3);
  lua_Integer max_n = luaL_optinteger(L, 4, (lua_Integer)ls + 1);
  luaL_argexpected(L, type == LUA_TNUMBER || type == LUA_TSTRING ||
                          type == LUA_TFUNCTION || type == LUA_TTABLE,
                   3, "string/function/table");
  int anchored = lp > 0 && *p == '^';
  const char *last_end = NULL;
  lua_Integer n = 0;
  int changed = 0;
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  matcher m;
  matcher_init(&m, L, src, ls, p + anchored, lp - (size_t)anchored);
  while (n < max_n) {
    matcher_reset(&m);
    const char *e = match(&m, src, p + anchored);
    if (e && e != last_end) {
      n++;
      changed |= add_replacement(&m, &b, src, e, type);
      src = last_end = e;
    } else if (src < m.src_end) {
      luaL_addchar(&b, *src++);
    } else {
      break;
    }
    if (anchored) break;
  }
  report(&m);
  if (changed) {
    luaL_addlstring(&b, src, (size_t)(m.src_end - src));
    luaL_pushresult(&b);
  } else {
    lua_pushvalue(L, 1);
  }
  lua_pushinteger(L, n);
  return 2;
}

void pt__lua_pattern_install(lua_State *L, int idx, uint64_t max_steps,
                             pt__lua_pattern_meter meter)
{
  static const luaL_Reg fns[] = {
    { "find", str_find },     { "match", str_match },
    { "gmatch", str_gmatch }, { "gsub", str_gsub },
    { NULL, NULL },
  };
  lua_pushvalue(L, idx);
  budget *b = lua_newuserdatauv(L, sizeof *b, 0);
  b->max_steps = max_steps ? max_steps : PT__LUA_PATTERN_DEFAULT_STEPS;
  b->meter = meter;
  luaL_setfuncs(L, fns, 1);
  lua_pop(L, 1);
}
