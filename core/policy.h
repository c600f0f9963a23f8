/*
 * core/policy.h: the permission policy, which decides whether a tool call
 * may run: allow, deny, or ask whoever drives the session.
 *
 * A policy is a Lua file (docs/policy.md): the shipped scripts/lua/policy.lua
 * by default; the user's $XDG_CONFIG_HOME/portico/policy.lua replaces it
 * when present; an explicit path replaces both. It runs in its own sandboxed
 * state (core/lua_sandbox.h) with a memory cap and a fresh instruction
 * budget for every decision. A script that fails to load, errors, loops or
 * runs out of memory is stopped and the decision is deny, with the file and
 * line in the reason; the process and the policy go on.
 *
 * Stored "always" rules (core/store, table permission_rules) are consulted
 * before the script. A rule is (tool, pattern, decision, workspace): the
 * pattern is a glob over the call's keys, which are
 *   - for a command (a tool declaring PT_TOOL_EXECUTES with a "command"
 *     argument): each simple command of it, as pt_shell_cmd_text writes it;
 *   - for URLs ("url", "urls", "uri"): each host, lowercase;
 *   - for paths ("path", "file", "dir", ... see docs/policy.md): each path,
 *     absolute and lexically normalized;
 *   - for a call with none of these: "" (matched by the pattern "*").
 * In a path pattern '*' stays inside one segment and '**' spans segments;
 * a relative pattern is relative to the rule's workspace (else the call's),
 * "~/" is the home folder. In other patterns '*' matches anything. A stored
 * deny answers when any key matches it; a stored allow answers when every
 * key matches an allow rule, and, for a command, when the whole line was
 * understood and writes no file by redirection. Otherwise the script
 * decides.
 *
 * THREADS. A pt_policy is used by one thread at a time (the loop thread).
 */
#ifndef PT_POLICY_H
#define PT_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "portico/plugin.h"
#include "store/store.h"

typedef struct pt_policy pt_policy;

typedef enum pt_policy_verdict {
  PT_POLICY_DENY = 0,
  PT_POLICY_ASK = 1,
  PT_POLICY_ALLOW = 2
} pt_policy_verdict;

typedef struct pt_policy_options {
  const char *path;      /* the policy file; NULL: the user's, else shipped */
  const char *lua_dir;   /* shipped scripts; NULL: pt_policy_lua_dir() */
  const char *user_dir;  /* the user's scripts; NULL: $XDG_CONFIG_HOME/portico
                            (else ~/.config/portico) */
  const char *home;      /* what ~ means; NULL: $HOME */
  pt_store *store;       /* stored rules; borrowed, may be NULL */
  size_t max_bytes;      /* the state's memory cap; 0: 32 MiB */
  uint64_t max_instructions; /* per decision, and for loading; 0: 5 million */
} pt_policy_options;

/* One tool call to decide on. Everything is borrowed for the call. */
typedef struct pt_policy_call {
  const char *tool;        /* the tool id */
  pt_str args_json;        /* its arguments, a JSON object; empty: {} */
  uint32_t flags;          /* PT_TOOL_* the tool declares */
  const char *session_id;  /* may be NULL */
  const char *agent;       /* may be NULL */
  const char *workspace;   /* absolute; NULL: the current directory */
} pt_policy_call;

#define PT_POLICY_RULE_MAX 128
#define PT_POLICY_REASON_MAX 512

typedef struct pt_policy_decision {
  pt_policy_verdict verdict;
  int64_t stored_rule;                /* > 0: the stored rule that answered */
  char rule[PT_POLICY_RULE_MAX];      /* the rule's name ("stored:ID" for a
                                         stored one, "policy-error" when
                                         the script failed) */
  char reason[PT_POLICY_REASON_MAX];  /* for a person and for the model */
} pt_policy_decision;

/*
 * Load a policy. A script that cannot be read, parsed or run still yields
 * a policy, whose every decision is deny with the error as the reason;
 * pt_policy_error() tells. Errors: PT_ENOENT when `o->path` is given but
 * missing, or no policy file is found at all (the message names where it
 * looked); PT_ENOMEM. On error writes one line for a person to `err`.
 * Caller owns *out: pt_policy_free().
 */
int32_t pt_policy_load(const pt_policy_options *o, pt_policy **out, char *err,
                       size_t errlen);

void pt_policy_free(pt_policy *p);

/* The file the policy came from (owned by p). */
const char *pt_policy_file(const pt_policy *p);

/* Why the script could not load ("FILE:LINE: message"), or NULL. */
const char *pt_policy_error(const pt_policy *p);

/*
 * Decide on `call`. Always fills *out; on any failure (bad arguments, a
 * failing script, a stored rule that cannot be read) the verdict is deny
 * with the reason, and the return is PT_OK. Returns PT_ENOMEM (with a deny)
 * only when even that cannot be worked out.
 */
int32_t pt_policy_decide(pt_policy *p, const pt_policy_call *call,
                         pt_policy_decision *out);

/*
 * Store an "always" answer for `call`: one rule per key (see above) with
 * the key as its exact pattern, for this tool, in the call's workspace
 * only when `this_workspace`. An allow of a command stores each simple
 * command; a deny stores the whole line. Refused (PT_EINVAL) for ask, for a
 * policy without a store, and for an allow of a command or path that cannot
 * be understood. *first_id (may be NULL) gets the first new rule's id.
 */
int32_t pt_policy_remember(pt_policy *p, const pt_policy_call *call,
                           pt_policy_verdict verdict, int this_workspace,
                           int64_t *first_id, char *err, size_t errlen);

/* Record an allow or deny on tool call `tool_call_id` in the store's audit
 * trail (pt_store_tool_call_decide), decided by "rule" or "policy".
 * PT_EINVAL for ask, which is not an answer. */
int32_t pt_policy_audit(pt_store *st, int64_t tool_call_id,
                        const pt_policy_decision *d);

/* "allow", "deny" or "ask". */
const char *pt_policy_verdict_name(pt_policy_verdict v);

/* Parse "allow", "deny" or "ask"; -1 for anything else. */
int pt_policy_verdict_parse(const char *s);

/* The shipped scripts folder: $PORTICO_LUA_DIR, else
 * <exe_dir>/../share/portico/lua. Caller frees; NULL when unknown. */
char *pt_policy_lua_dir(void);

/* The user's scripts folder: $XDG_CONFIG_HOME/portico, else
 * ~/.config/portico. Caller frees; NULL when unknown. */
char *pt_policy_user_dir(void);

#endif
