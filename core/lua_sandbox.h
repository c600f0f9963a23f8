/*
 * core/lua_sandbox.h: Lua 5.4 states that untrusted scripts cannot escape.
 *
 * Configuration, permission policies and workflows all run here. A sandboxed
 * state has the base library without dofile/loadfile and with a text-only
 * load, plus string, table, math, utf8, coroutine and a reduced os (getenv,
 * time, clock, date). There is no io, no debug, no package/require, no
 * os.execute and no binary chunks. Memory is capped by the allocator and CPU
 * by an instruction-count hook; string.find/match/gmatch/gsub are replaced
 * by a matcher of our own (core/lua_pattern.c) that counts its backtracking
 * steps against the same budget, since the stock one runs in C where the
 * hook never fires. Every failure raises an ordinary Lua error that names
 * the limit.
 */
#ifndef PT_LUA_SANDBOX_H
#define PT_LUA_SANDBOX_H

#include <stddef.h>
#include <stdint.h>

#include <lua.h>

typedef struct pt_lua_limits {
  size_t max_bytes;          /* 0: 64 MiB */
  uint64_t max_instructions; /* per pt_lua_call; 0: 100 million */
} pt_lua_limits;

/* A new sandboxed state (NULL when out of memory). `limits` may be NULL.
 * Caller owns it: pt_lua_close(). */
lua_State *pt_lua_new(const pt_lua_limits *limits);

void pt_lua_close(lua_State *L);

/*
 * Load the text file `path` as a chunk (binary chunks are refused) and call
 * it with no arguments, leaving `nresults` values on the stack. The
 * instruction budget starts afresh for the call. On error returns a
 * negative code (PT_ENOENT: cannot read; PT_ESCRIPT: syntax or run-time
 * error, limits included) and writes "FILE:LINE: message" to err.
 */
int32_t pt_lua_dofile(lua_State *L, const char *path, int nresults,
                      char *err, size_t errlen);

/* As pt_lua_dofile for a chunk in memory named `chunkname` ("=name"). */
int32_t pt_lua_dostring(lua_State *L, const char *code, size_t len,
                        const char *chunkname, int nresults, char *err,
                        size_t errlen);

/*
 * lua_pcall with a fresh instruction budget and a traceback-free message:
 * the function and its `nargs` arguments are on the stack. Same errors as
 * pt_lua_dofile. A call made from inside another one (a C function the
 * script called) shares the outer call's budget, so nesting cannot reset
 * it.
 */
int32_t pt_lua_call(lua_State *L, int nargs, int nresults, char *err,
                    size_t errlen);

#endif
