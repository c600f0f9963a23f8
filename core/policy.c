/*
 * core/policy.c: loading a permission policy and asking it (see policy.h).
 *
 * The script's chunk and every decision run in a coroutine of the policy's
 * sandboxed state, started from a C function under pt_lua_call (which gives
 * each decision a fresh instruction budget). A coroutine that fails keeps
 * its stack, so the line it failed on can be read even for a memory error,
 * which Lua raises without a position. Not for: the `portico` library
 * (policy_lua.c) or stored rules and a call's keys (policy_keys.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>

#include "log.h"
#include "lua_sandbox.h"
#include "paths.h"
#include "policy_int.h"

#define DEFAULT_MAX_BYTES ((size_t)32 << 20)
#define DEFAULT_MAX_INSTRUCTIONS UINT64_C(5000000)

#ifndef PORTICO_LUA_SUBDIR
#define PORTICO_LUA_SUBDIR "share/portico/lua"
#endif

const char *pt_policy_verdict_name(pt_policy_verdict v)
{
  return v == PT_POLICY_ALLOW ? "allow" : v == PT_POLICY_ASK ? "ask" : "deny";
}

int pt_policy_verdict_parse(const char *s)
{
  if (!s) return -1;
  if (!strcmp(s, "allow")) return PT_POLICY_ALLOW;
  if (!strcmp(s, "ask")) return PT_POLICY_ASK;
  if (!strcmp(s, "deny")) return PT_POLICY_DENY;
  return -1;
}

char *pt_policy_lua_dir(void)
{
  const char *env = getenv("PORTICO_LUA_DIR");
  if (env && *env) return strdup(env);
  char *exe = pt_paths_exe_dir();
  char *dir = exe ? pt__path_normalize("../" PORTICO_LUA_SUBDIR, exe, NULL) : NULL;
  free(exe);
  return dir;
}

char *pt_policy_user_dir(void)
{
  const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
  if (xdg && xdg[0] == '/') return pt_paths_join(xdg, "portico");
  if (home && home[0] == '/') return pt_paths_join(home, ".config/portico");
  return NULL;
}

/* ------------------------------------------------------------------------ */
/* Running the script                                                        */

enum { JOB_LOAD, JOB_DECIDE };

typedef struct job {
  pt_policy *p;
  int kind;
  const char *code;             /* JOB_LOAD */
  size_t len;
  const pt_policy_call *call;   /* JOB_DECIDE */
  const pt__call_info *ci;
  pt_policy_decision *out;
  int failed;
  char msg[PT_POLICY_REASON_MAX];
} job;

/* "FILE:LINE:" at the start, as Lua's own messages have. */
static int has_position(const char *msg)
{
  const char *colon = strchr(msg, ':');
  if (!colon || colon == msg) return 0;
  size_t digits = strspn(colon + 1, "0123456789");
  return digits && colon[1 + digits] == ':';
}

/* Why coroutine `co` stopped, with the line of its innermost Lua frame. */
static void describe_failure(job *j, lua_State *co, int status)
{
  char where[LUA_IDSIZE + 16] = "";
  lua_Debug ar;
  for (int level = 0; lua_getstack(co, level, &ar); level++) {
    if (lua_getinfo(co, "Sl", &ar) && ar.currentline > 0) {
      snprintf(where, sizeof where, "%s:%d", ar.short_src, ar.currentline);
      break;
    }
  }
  const char *msg = lua_type(co, -1) == LUA_TSTRING ? lua_tostring(co, -1) : NULL;
  const char *sep = where[0] ? ": " : "";
  j->failed = 1;
  if (status == LUA_YIELD)
    snprintf(j->msg, sizeof j->msg, "%s%syielded outside a coroutine", where, sep);
  else if (status == LUA_ERRMEM || (msg && strstr(msg, "not enough memory")))
    snprintf(j->msg, sizeof j->msg, "%s%smemory limit of %zu bytes exceeded",
             where, sep, j->p->max_bytes);
  else if (!msg)
    snprintf(j->msg, sizeof j->msg, "%s%serror object is a %s value", where,
             sep, luaL_typename(co, -1));
  else if (has_position(msg) || !where[0])
    snprintf(j->msg, sizeof j->msg, "%s", msg);
  else
    snprintf(j->msg, sizeof j->msg, "%s: %s", where, msg);
}

/* Where the decide function is defined, for messages about its result. */
static void decide_where(lua_State *L, pt_policy *p, char *buf, size_t cap)
{
  lua_Debug ar;
  lua_rawgeti(L, LUA_REGISTRYINDEX, p->decide_ref);
  if (lua_getinfo(L, ">S", &ar) && ar.linedefined > 0)
    snprintf(buf, cap, "%s:%d", ar.short_src, ar.linedefined);
  else
    snprintf(buf, cap, "%s", p->file);
}

static void loaded(lua_State *L, job *j)
{
  pt_policy *p = j->p;
  int t = lua_type(L, -1);
  if (t == LUA_TTABLE) {
    if (lua_getfield(L, -1, "decide") == LUA_TFUNCTION) {
      p->decide_ref = luaL_ref(L, LUA_REGISTRYINDEX);
      p->self_ref = luaL_ref(L, LUA_REGISTRYINDEX);
      return;
    }
  } else if (t == LUA_TFUNCTION) {
    p->decide_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return;
  }
  j->failed = 1;
  snprintf(j->msg, sizeof j->msg,
           "%s must return a function, or a table with a decide function "
           "(it returned %s)", p->file,
           t == LUA_TTABLE ? "a table without decide" : lua_typename(L, t));
}

/* The decision from what decide returned: a table {decision, reason, rule}
 * or the three values. Only strings count; a reason is cut to fit. */
static void decided(lua_State *L, job *j, int base, int n)
{
  pt_policy_decision *out = j->out;
  const char *d = NULL, *reason = NULL, *rule = NULL;
  if (n >= 1 && lua_type(L, base) == LUA_TTABLE) {
    lua_getfield(L, base, "decision");
    lua_getfield(L, base, "reason");
    lua_getfield(L, base, "rule");
    base = lua_gettop(L) - 2;
    n = 3;
  }
  if (n >= 1 && lua_type(L, base) == LUA_TSTRING) d = lua_tostring(L, base);
  if (n >= 2 && lua_type(L, base + 1) == LUA_TSTRING) reason = lua_tostring(L, base + 1);
  if (n >= 3 && lua_type(L, base + 2) == LUA_TSTRING) rule = lua_tostring(L, base + 2);
  int v = pt_policy_verdict_parse(d);
  if (v < 0) {
    char where[LUA_IDSIZE + 16];
    decide_where(L, j->p, where, sizeof where);
    j->failed = 1;
    snprintf(j->msg, sizeof j->msg,
             "%s: the policy returned %s%.40s%s; it must return \"allow\", "
             "\"deny\" or \"ask\"", where, d ? "\"" : "",
             d ? d : n >= 1 ? luaL_typename(L, base) : "nothing", d ? "\"" : "");
    return;
  }
  out->verdict = (pt_policy_verdict)v;
  snprintf(out->rule, sizeof out->rule, "%s", rule && *rule ? rule : "policy");
  if (reason && *reason) snprintf(out->reason, sizeof out->reason, "%s", reason);
  else snprintf(out->reason, sizeof out->reason, "the policy says %s", d);
}

/* lua_CFunction run under pt_lua_call: the job's chunk or decision in a
 * coroutine. Results go into the job; it returns nothing. */
static int run(lua_State *L)
{
  job *j = lua_touserdata(L, 1);
  pt_policy *p = j->p;
  lua_State *co = lua_newthread(L);
  int nargs = 0;
  if (j->kind == JOB_LOAD) {
    char chunkname[4096];
    snprintf(chunkname, sizeof chunkname, "@%s", p->file);
    if (luaL_loadbufferx(L, j->code, j->len, chunkname, "t") != LUA_OK) {
      j->failed = 1;
      snprintf(j->msg, sizeof j->msg, "%s", lua_tostring(L, -1));
      return 0;
    }
  } else {
    lua_rawgeti(L, LUA_REGISTRYINDEX, p->decide_ref);
    if (p->self_ref != LUA_NOREF) {
      lua_rawgeti(L, LUA_REGISTRYINDEX, p->self_ref);
      nargs++;
    }
    pt__policy_push_call(L, p, j->call, j->ci);
    nargs += 2;
  }
  lua_xmove(L, co, nargs + 1);
  int nres = 0, status = lua_resume(co, L, nargs, &nres);
  if (status != LUA_OK) {
    describe_failure(j, co, status);
    return 0;
  }
  int base = lua_gettop(L) + 1;
  lua_xmove(co, L, nres);
  if (j->kind == JOB_LOAD) {
    lua_settop(L, nres ? base : base - 1);
    if (!nres) lua_pushnil(L);
    loaded(L, j);
  } else {
    decided(L, j, base, nres);
  }
  return 0;
}

/* Run a job with a fresh budget; a failure leaves j->failed and j->msg. */
static void run_job(pt_policy *p, job *j)
{
  lua_State *L = p->L;
  char msg[PT_POLICY_REASON_MAX];
  p->steps = 0;
  lua_settop(L, 0);
  lua_pushcfunction(L, run);
  lua_pushlightuserdata(L, j);
  if (pt_lua_call(L, 1, 0, msg, sizeof msg) != PT_OK && !j->failed) {
    j->failed = 1;
    snprintf(j->msg, sizeof j->msg, "%s", msg);
  }
  lua_settop(L, 0);
  /* What a failed run held (a memory bomb's tables) goes now, not when
   * the next decision needs the room. */
  if (j->failed) lua_gc(L, LUA_GCCOLLECT);
}

/* ------------------------------------------------------------------------ */

/* The file to load: the explicit one, the user's, or the shipped one. */
static int32_t find_file(pt_policy *p, const char *explicit_path, char *err,
                         size_t errlen)
{
  if (explicit_path) {
    if (access(explicit_path, R_OK) != 0) {
      snprintf(err, errlen, "policy %s: cannot read: %s", explicit_path,
               strerror(errno));
      return PT_ENOENT;
    }
    return (p->file = strdup(explicit_path)) ? PT_OK : PT_ENOMEM;
  }
  const char *dirs[2] = { p->user_dir, p->lua_dir };
  for (int i = 0; i < 2; i++) {
    char *f = dirs[i] ? pt_paths_join(dirs[i], "policy.lua") : NULL;
    if (f && access(f, F_OK) == 0) {
      p->file = f;
      return PT_OK;
    }
    free(f);
  }
  snprintf(err, errlen,
           "no policy found: looked for %.1000s/policy.lua and "
           "%.1000s/policy.lua; reinstall portico, set PORTICO_LUA_DIR, or "
           "pass --policy FILE",
           p->user_dir ? p->user_dir : "(no config folder)",
           p->lua_dir ? p->lua_dir : "(no shipped folder)");
  return PT_ENOENT;
}

static void set_error(pt_policy *p, const char *msg)
{
  free(p->error);
  p->error = strdup(msg);
  pt_log_warn("policy", "%s; every tool call will be denied", msg);
}

int32_t pt_policy_load(const pt_policy_options *o, pt_policy **out, char *err,
                       size_t errlen)
{
  static const pt_policy_options none = { 0 };
  *out = NULL;
  if (!o) o = &none;
  pt_policy *p = calloc(1, sizeof *p);
  if (!p) goto nomem;
  const char *home = o->home ? o->home : getenv("HOME");
  p->lua_dir = o->lua_dir ? strdup(o->lua_dir) : pt_policy_lua_dir();
  p->user_dir = o->user_dir ? strdup(o->user_dir) : pt_policy_user_dir();
  p->home = home && home[0] == '/' ? pt__path_normalize(home, NULL, NULL) : NULL;
  p->data_dir = pt_paths_data_dir();
  p->store = o->store;
  p->max_bytes = o->max_bytes ? o->max_bytes : DEFAULT_MAX_BYTES;
  p->max_instructions = o->max_instructions ? o->max_instructions
                                            : DEFAULT_MAX_INSTRUCTIONS;
  p->max_steps = p->max_instructions;
  p->decide_ref = p->self_ref = LUA_NOREF;
  int32_t rc = find_file(p, o->path, err, errlen);
  if (rc != PT_OK) {
    pt_policy_free(p);
    p = NULL;
    if (rc == PT_ENOMEM) goto nomem;
    return rc;
  }
  pt_lua_limits limits = { p->max_bytes, p->max_instructions };
  if (!(p->L = pt_lua_new(&limits))) goto nomem;

  char msg[PT_POLICY_REASON_MAX];
  lua_pushcfunction(p->L, pt__policy_lua_open);
  lua_pushlightuserdata(p->L, p);
  if (pt_lua_call(p->L, 1, 0, msg, sizeof msg) != PT_OK) goto nomem;
  size_t len = 0;
  char *code = pt__policy_read_file(p->file, &len);
  if (!code) {
    snprintf(msg, sizeof msg, "%.400s: cannot read: %s", p->file,
             errno == EFBIG ? "larger than 1 MiB" : strerror(errno));
    set_error(p, msg);
  } else if (len && code[0] == LUA_SIGNATURE[0]) {
    snprintf(msg, sizeof msg, "%.400s: precompiled (binary) chunks are "
             "refused; load Lua source text", p->file);
    set_error(p, msg);
  } else {
    job j = { .p = p, .kind = JOB_LOAD, .code = code, .len = len };
    run_job(p, &j);
    if (j.failed) set_error(p, j.msg);
  }
  free(code);
  *out = p;
  return PT_OK;
nomem:
  pt_policy_free(p);
  snprintf(err, errlen, "policy: out of memory");
  return PT_ENOMEM;
}

void pt_policy_free(pt_policy *p)
{
  if (!p) return;
  pt_lua_close(p->L);
  free(p->file);
  free(p->lua_dir);
  free(p->user_dir);
  free(p->home);
  free(p->data_dir);
  free(p->error);
  free(p);
}

const char *pt_policy_file(const pt_policy *p) { return p->file; }

const char *pt_policy_error(const pt_policy *p) { return p->error; }

static void deny(pt_policy_decision *out, const char *rule, const char *what,
                 const char *msg)
{
  out->verdict = PT_POLICY_DENY;
  out->stored_rule = 0;
  snprintf(out->rule, sizeof out->rule, "%s", rule);
  int room = (int)(sizeof out->reason - 1 - strlen(what));
  snprintf(out->reason, sizeof out->reason, "%s%.*s", what, room, msg);
}

int32_t pt_policy_decide(pt_policy *p, const pt_policy_call *call,
                         pt_policy_decision *out)
{
  memset(out, 0, sizeof *out);
  deny(out, "policy-error", "", "not decided");
  pt__call_info ci;
  char msg[PT_POLICY_REASON_MAX];
  int32_t rc = pt__call_info_init(&ci, p, call, msg, sizeof msg);
  if (rc != PT_OK) {
    deny(out, "invalid-call", "", msg);
    pt__call_info_free(&ci);
    return rc == PT_ENOMEM ? rc : PT_OK;
  }
  int stored = pt__policy_stored(p, call, &ci, out);
  if (stored == 0 && p->error) {
    deny(out, "policy-error", "the policy cannot run, so every call is denied: ",
         p->error);
  } else if (stored == 0) {
    job j = { .p = p, .kind = JOB_DECIDE, .call = call, .ci = &ci, .out = out };
    run_job(p, &j);
    if (j.failed) {
      pt_log_warn("policy", "%s: %s", call->tool, j.msg);
      deny(out, "policy-error", "the policy failed, so the call is denied: ",
           j.msg);
    }
  }
  pt__call_info_free(&ci);
  return stored == PT_ENOMEM ? PT_ENOMEM : PT_OK;
}

int32_t pt_policy_remember(pt_policy *p, const pt_policy_call *call,
                           pt_policy_verdict verdict, int this_workspace,
                           int64_t *first_id, char *err, size_t errlen)
{
  if (verdict == PT_POLICY_ASK || !p->store) {
    snprintf(err, errlen, "%s", verdict == PT_POLICY_ASK
                                    ? "only allow and deny can be remembered"
                                    : "this policy has no store to remember in");
    return PT_EINVAL;
  }
  pt__call_info ci;
  int32_t rc = pt__call_info_init(&ci, p, call, err, errlen);
  cJSON *keys = rc == PT_OK ? pt__policy_remember_keys(p, &ci, verdict == PT_POLICY_ALLOW,
                                                       err, errlen)
                            : NULL;
  if (rc == PT_OK && !keys) rc = PT_EINVAL;
  const cJSON *k;
  int first = 1;
  cJSON_ArrayForEach(k, keys) {
    pt_store_rule r = { call->tool, k->valuestring, pt_policy_verdict_name(verdict),
                        this_workspace ? ci.workspace : NULL };
    int64_t id = 0;
    if ((rc = pt_store_rule_add(p->store, &r, &id)) != PT_OK) {
      snprintf(err, errlen, "%s", pt_store_errmsg(p->store));
      break;
    }
    if (first && first_id) *first_id = id;
    first = 0;
  }
  cJSON_Delete(keys);
  pt__call_info_free(&ci);
  return rc;
}

int32_t pt_policy_audit(pt_store *st, int64_t tool_call_id,
                        const pt_policy_decision *d)
{
  if (d->verdict == PT_POLICY_ASK) return PT_EINVAL;
  char reason[PT_POLICY_RULE_MAX + PT_POLICY_REASON_MAX + 8];
  snprintf(reason, sizeof reason, "%s: %s", d->rule, d->reason);
  pt_store_decision sd = { pt_policy_verdict_name(d->verdict),
                           d->stored_rule > 0 ? "rule" : "policy",
                           d->stored_rule, reason };
  return pt_store_tool_call_decide(st, tool_call_id, &sd);
}
