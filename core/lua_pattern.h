/*
 * core/lua_pattern.h: Lua 5.4 pattern matching with a step budget, for the
 * sandbox (core/lua_sandbox.c).
 *
 * Stock string.find, string.match, string.gmatch and string.gsub backtrack in
 * C, where the instruction-count hook never fires, so one call with a hostile
 * pattern can run for hours. These replacements behave exactly like stock
 * Lua 5.4 (results, error messages, which malformed patterns go unnoticed)
 * except that each call counts its matcher steps and stops with an error
 * once it has used too many.
 */
#ifndef PT_LUA_PATTERN_H
#define PT_LUA_PATTERN_H

#include <stdint.h>

#include <lua.h>

/* The per-call step cap used when the caller passes 0: tens of milliseconds
 * of matching, far more than any configuration script needs. */
#define PT__LUA_PATTERN_DEFAULT_STEPS UINT64_C(10000000)

/*
 * Reports `steps` matcher steps that a call in thread `L` has used since the
 * last report, so the caller can charge them to a wider CPU budget. Called
 * from inside the string function, every few thousand steps and once at the
 * end; it may raise a Lua error (lua_error) to stop the match, and must
 * leave the stack as it found it otherwise.
 */
typedef void (*pt__lua_pattern_meter)(lua_State *L, uint64_t steps);

/*
 * Replace find, match, gmatch and gsub in the table at stack index `idx`
 * (the string library table, which is also the string metatable's __index,
 * so method calls such as s:find() use the replacements too).
 *
 * Each call of find, match or gsub, and each call of a gmatch iterator, may
 * take at most `max_steps` steps (0: PT__LUA_PATTERN_DEFAULT_STEPS); past
 * that it raises "pattern too complex: step limit of N exceeded" with the
 * caller's position. A step is one attempt to match one character or one
 * pattern item; bulk work (%b, back-references, long sets, plain find,
 * gsub replacement strings) counts in proportion to the bytes it scans.
 * `meter` may be NULL. Needs a few stack slots; raises a Lua memory error
 * if it cannot allocate.
 */
void pt__lua_pattern_install(lua_State *L, int idx, uint64_t max_steps,
                             pt__lua_pattern_meter meter);

#endif
