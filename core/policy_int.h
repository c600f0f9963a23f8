/*
 * core/policy_int.h: what the policy's files share (policy.c: loading and
 * deciding; policy_keys.c: a call's paths, command and hosts, and stored
 * rules; policy_glob.c: glob matching; policy_lua.c: the `portico` library,
 * require and the JSON <-> Lua bridge). Not a public interface.
 */
#ifndef PT_POLICY_INT_H
#define PT_POLICY_INT_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <lua.h>

#include "policy.h"
#include "shell_split.h"

struct pt_policy {
  lua_State *L;
  char *file;            /* the policy file */
  char *lua_dir;         /* shipped scripts, may be NULL */
  char *user_dir;        /* the user's scripts, may be NULL */
  char *home;            /* may be NULL: ~ is then unknown */
  char *data_dir;        /* portico's data folder, may be NULL */
  pt_store *store;       /* borrowed */
  size_t max_bytes;
  uint64_t max_instructions;
  char *error;           /* the load error: every decision denies with it */
  int decide_ref;        /* the decide function (registry) */
  int self_ref;          /* the table it is a method of, or LUA_NOREF */
  /* Work done in C for the script (splitting, globbing, building tables)
   * during one decision, bounded beside the instruction budget because the
   * count hook does not see C code. */
  uint64_t steps, max_steps;
};

typedef struct pt__url {
  char *url;             /* as given */
  char scheme[16];       /* lowercase; "" when unknown */
  char *host;            /* lowercase, without [ ]; NULL when unknown */
  int port;              /* 0 when not given */
} pt__url;

/* What C works out about a call before anyone looks at it. */
typedef struct pt__call_info {
  cJSON *args;           /* the arguments, parsed; owned */
  char *workspace;       /* absolute, normalized; owned */
  char **paths;          /* path arguments, absolute and normalized; an
                            entry is NULL when it cannot be known */
  size_t npaths;
  char *command;         /* the "command" argument, or NULL; owned */
  pt__url *urls;
  size_t nurls;
} pt__call_info;

/* Parse the call's arguments and find its keys. On a malformed call
 * returns PT_EINVAL with the reason in err; PT_ENOMEM. Free with
 * pt__call_info_free() either way. */
int32_t pt__call_info_init(pt__call_info *ci, const pt_policy *p,
                           const pt_policy_call *call, char *err,
                           size_t errlen);
void pt__call_info_free(pt__call_info *ci);

/* `path` made absolute against `base` (NULL: relative is unknown) with "~"
 * and "~/" at `home`, and ".", ".." and repeated slashes resolved by
 * text. NULL when unknown ("~user", no base or home) or out of memory. */
char *pt__path_normalize(const char *path, const char *base,
                         const char *home);

/* The same into out[cap] (which must not overlap the inputs); returns the
 * length, or -1 when unknown or when cap is too small. */
int pt__path_normalize_to(const char *path, const char *base,
                          const char *home, char *out, size_t cap);

/* Whether `path` is `dir` or inside it (both normalized). */
int pt__path_inside(const char *path, const char *dir);

/* Split a URL; 0 on success (u->host set), -1 when it has no host that can
 * be trusted (no scheme, odd characters). Free with pt__url_free(). */
int pt__url_parse(const char *text, pt__url *u);
void pt__url_free(pt__url *u);

/* Glob matching; each adds the work it did to *steps. Path globs: '*', '?'
 * and [...] stay inside one segment, a "**" segment spans any number of
 * segments. Plain globs: '*' matches anything; `fold` ignores ASCII case.
 * '\' escapes the next character in both. */
int pt__glob_path(const char *pat, size_t pn, const char *path, size_t sn,
                  uint64_t *steps);
int pt__glob_plain(const char *pat, size_t pn, const char *s, size_t sn,
                   int fold, uint64_t *steps);

/* `s` with * ? [ ] \ escaped, so that as a glob it matches only itself.
 * Caller frees; NULL when out of memory. */
char *pt__glob_escape(const char *s);

/* Stored rules: 1 when one answered (*out filled), 0 when none did, or a
 * negative code with *out a deny naming the failure. */
int pt__policy_stored(pt_policy *p, const pt_policy_call *call,
                      const pt__call_info *ci, pt_policy_decision *out);

/* The keys pt_policy_remember stores for `call`, as a JSON array of
 * strings; NULL with err set when an allow cannot be remembered. */
cJSON *pt__policy_remember_keys(const pt_policy *p, const pt__call_info *ci,
                                int allow, char *err, size_t errlen);

/* Install the `portico` table and `require` in a policy's state: a
 * lua_CFunction taking the pt_policy as a light userdata, to be run
 * through pt_lua_call (it allocates). */
int pt__policy_lua_open(lua_State *L);

/* Push the call and context tables of a decision (in protected mode). */
void pt__policy_push_call(lua_State *L, pt_policy *p,
                          const pt_policy_call *call,
                          const pt__call_info *ci);

/* Count `steps` of C work against the decision's bound; raises a Lua
 * error past it. */
void pt__policy_charge(lua_State *L, pt_policy *p, uint64_t steps);

/* The policy a state belongs to (kept in its registry). */
pt_policy *pt__policy_of(lua_State *L);

/* A Lua value (tables of strings, numbers, booleans) as JSON; NULL with
 * err set for functions, cycles, mixed tables, depth past 32. */
cJSON *pt__policy_lua_to_json(lua_State *L, int idx, char *err,
                              size_t errlen);

/* Read a Lua source file into memory (at most 1 MiB); caller frees. NULL
 * with errno set; EFBIG when too large. */
char *pt__policy_read_file(const char *path, size_t *len);

#endif
