/*
 * plugins/tools/tools.h: what the files of the bundled tool plugin share.
 *
 * One job per invocation (plugin.c starts it, runs it on the host's thread
 * pool and completes it), the limits docs/tools.md promises, the result
 * every tool hands back, text checks (text.c), workspace confinement
 * (workspace.c) and the tree walk with its glob patterns (walk.c). Internal
 * to this plugin: nothing here is ABI, and nothing here includes a core
 * header.
 */
#ifndef PT_TOOLS_H
#define PT_TOOLS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>
#include <portico/plugin.h>

/* ---- Limits (each one is documented in docs/tools.md) ------------------ */

#define TOOLS_READ_LINES 2000           /* fs_read lines when no limit */
#define TOOLS_READ_MAX_BYTES 102400     /* text one fs_read returns */
#define TOOLS_READ_LINE_MAX 2000        /* bytes of one line fs_read shows */
#define TOOLS_READ_COUNT_MAX (256u << 20) /* lines are counted this far */
#define TOOLS_SNIFF_BYTES 8192          /* what the binary check looks at */
#define TOOLS_EDIT_MAX_BYTES (16u << 20) /* largest file fs_edit rewrites */
#define TOOLS_LIST_MAX 1000             /* entries fs_list shows */
#define TOOLS_GLOB_MAX 500              /* paths fs_glob shows */
#define TOOLS_WALK_MAX_ENTRIES 200000   /* entries one walk looks at */
#define TOOLS_WALK_MAX_DEPTH 64         /* folders deep one walk goes */
#define TOOLS_GREP_MAX_MATCHES 200      /* lines fs_grep shows */
#define TOOLS_GREP_LINE_MAX 400         /* bytes of one matching line shown */
#define TOOLS_GREP_FILE_MAX (8u << 20)  /* larger files are not searched */
#define TOOLS_SHELL_TIMEOUT_S 120
#define TOOLS_SHELL_TIMEOUT_MAX_S 600
#define TOOLS_SHELL_HEAD 8192           /* output kept from the start */
#define TOOLS_SHELL_TAIL 24576          /* output kept from the end */
#define TOOLS_SHELL_GRACE_MS 2000       /* SIGTERM to SIGKILL */
#define TOOLS_HTTP_MAX_BODY 131072      /* body bytes fetched and shown */
#define TOOLS_HTTP_TIMEOUT_S 30
#define TOOLS_HTTP_TIMEOUT_MAX_S 120

/* The host, set once in init() before any tool can run. */
extern const pt_host_api *tools_api;
extern pt_host *tools_host;

/* ---- Results ------------------------------------------------------------ */

/*
 * The JSON object a tool completes with: {"content": "...text for the
 * model...", "is_error": true (failures the model should see), ...fields}.
 * `oom` is sticky: once memory ran out the tool completes with PT_ENOMEM.
 */
typedef struct tool_result {
  cJSON *json;   /* owned; NULL until content or an error is set */
  int oom;
} tool_result;

/* Replace the result with {"content": message, "is_error": true}. */
void result_error(tool_result *r, const char *fmt, ...) PT_PRINTF(2, 3);

/* Replace the result with {"content": text}; `text` is valid UTF-8. */
void result_content(tool_result *r, const char *text);

/* Add a field to the result set by result_content or result_error. */
void result_num(tool_result *r, const char *key, double v);
void result_bool(tool_result *r, const char *key, int v);
/* `v` NULL adds a JSON null. */
void result_str(tool_result *r, const char *key, const char *v);

/* The result as JSON text (malloc'd), NULL when memory ran out. */
char *result_print(tool_result *r);
void result_free(tool_result *r);

/* ---- Arguments ---------------------------------------------------------- */

/*
 * Read one argument of `args` (an object), checked again even though the
 * host validated it against the schema. Each returns 0, or -1 after
 * result_error() told the model what was wrong. A missing optional
 * argument leaves the default (`*out` NULL for strings).
 */
int arg_string(const cJSON *args, tool_result *r, const char *name,
               int required, const char **out);
int arg_int(const cJSON *args, tool_result *r, const char *name,
            long long dflt, long long min, long long max, long long *out);
int arg_bool(const cJSON *args, tool_result *r, const char *name, int dflt,
             int *out);

/* Whether JSON text holds a string with a NUL character (\u0000): cJSON's
 * strings end at the first NUL, so an argument holding one would be cut
 * short without a word. */
int json_has_nul(const char *text, size_t len);

/* ---- Jobs --------------------------------------------------------------- */

typedef struct tool_job tool_job;

/* The workspace of one call, opened on the pool thread (workspace.c). */
typedef struct tool_ws {
  int fd;        /* O_PATH directory of the workspace; -1 until opened */
  char *path;    /* owned: the workspace as the context names it,
                    normalized (no "//", ".", or trailing "/") */
  char *real;    /* owned: its canonical path, symbolic links resolved */
} tool_ws;

/* What plugin.c needs of a tool besides its vtable. */
typedef struct tool_def {
  pt_tool_vt vt;
  /* Runs on a pool thread with j->args parsed and, when `workspace` is
   * set, j->ws open; fills j->res. Must not call the host API. */
  void (*run)(tool_job *j);
  int workspace;   /* the tool works on files of the workspace */
  int wakeable;    /* cancel() must wake a blocked run (wake pipe) */
} tool_def;

struct tool_job {
  pt_op *op;               /* the host's, until completion */
  const tool_def *def;
  char *args_text;         /* owned copy of the arguments */
  size_t args_len;
  char *context_text;      /* owned copy of op_context() */
  cJSON *args;             /* owned, parsed on the pool thread */
  tool_ws ws;
  atomic_int cancelled;    /* set by cancel() on the loop thread */
  int wake[2];             /* when def->wakeable: cancel() writes wake[1] */
  int32_t status;          /* PT_OK, or PT_ECANCELED from run() */
  tool_result res;
  char *out;               /* owned: res printed, for op_done */
};

static inline int job_cancelled(tool_job *j)
{
  return atomic_load_explicit(&j->cancelled, memory_order_relaxed);
}

/* The vtable calls of every tool but http_fetch (plugin.c). */
int32_t tools_job_invoke(void *self, pt_op *op, pt_str args_json);
void tools_job_cancel(void *self, pt_op *op);

/* Complete as cancelled (a tool that noticed the cancel calls this and
 * returns). */
void job_stop_cancelled(tool_job *j);

/* The tools, each in its own file. */
extern const tool_def tool_fs_read, tool_fs_write, tool_fs_edit,
    tool_fs_list, tool_fs_glob, tool_fs_grep, tool_shell_exec,
    tool_http_fetch;

/* http_fetch runs on the loop thread, not the pool (http_fetch.c). */
int32_t http_fetch_invoke(void *self, pt_op *op, pt_str args_json);
void http_fetch_cancel(void *self, pt_op *op);

/* ---- Text (text.c) ------------------------------------------------------ */

/* A growing text buffer; `oom` is sticky and every call after it does
 * nothing. Zero-initialized it is empty. `p` is NUL-terminated once
 * anything was added. */
typedef struct tbuf {
  char *p;       /* owned */
  size_t len, cap;
  int oom;
} tbuf;

void tb_add(tbuf *b, const char *s, size_t n);     /* bytes as they are */
void tb_adds(tbuf *b, const char *s);
void tb_addf(tbuf *b, const char *fmt, ...) PT_PRINTF(2, 3);
/* Append `n` bytes as valid UTF-8: every byte that is not part of a valid
 * character, and every NUL, becomes U+FFFD. */
void tb_add_text(tbuf *b, const char *s, size_t n);
/* Ensure `p` is a valid string even when nothing was added. */
const char *tb_str(tbuf *b);
void tb_free(tbuf *b);

/* The length of the valid UTF-8 character at s[0..n), 0 when the bytes
 * cannot start one, -1 when they start one that `n` cuts short. */
int utf8_char_len(const unsigned char *s, size_t n);

/* The longest prefix of s[0..n) not longer than `max` bytes that does not
 * end inside a UTF-8 character. */
size_t utf8_cut(const char *s, size_t n, size_t max);

/*
 * Whether s[0..n), the start of a file or body, looks binary: a NUL byte,
 * or bytes that are not UTF-8 (a character cut short at the end is
 * allowed when `more` says the data goes on). When binary, `why` says
 * where, e.g. "a NUL byte at offset 12".
 */
int text_is_binary(const char *s, size_t n, int more, char *why,
                   size_t why_len);

/* ---- Workspace (workspace.c) -------------------------------------------- */

/* Open the workspace the call's context names. -1 after result_error(). */
int ws_open(tool_job *j);
void ws_close(tool_ws *w);

/* `path` as the model gave it, made relative to the workspace and
 * normalized ("." for the workspace itself); malloc'd into *rel. -1 after
 * result_error() for an absolute path outside the workspace. */
int ws_relative(tool_job *j, const char *path, char **rel);

/*
 * Open `path` (as the model gave it) with `flags` (O_RDONLY, O_PATH,
 * O_DIRECTORY...; O_CLOEXEC is added), following symbolic links only while
 * they stay inside the workspace. *fd is the descriptor, *rel (may be NULL)
 * the malloc'd workspace-relative path. -1 after result_error().
 */
int ws_open_path(tool_job *j, const char *path, int flags, int *fd,
                 char **rel);

/* Where a write lands: the folder, opened for reading and fsync, and the
 * name in it, after a symbolic link at the end (inside the workspace) was
 * followed. */
typedef struct ws_target {
  int dirfd;
  char *base;      /* owned: the name inside dirfd */
  char *rel;       /* owned: workspace-relative path of the file */
  int exists;
  struct stat st;  /* when exists */
} ws_target;

/* Resolve `path` for writing, creating missing folders when
 * `create_dirs`. -1 after result_error(). */
int ws_target_open(tool_job *j, const char *path, int create_dirs,
                   ws_target *t);
void ws_target_close(ws_target *t);

/* ---- Walking and globs (walk.c) ----------------------------------------- */

/* A compiled glob: segments split at "/", "**" matching any number of
 * folders, fnmatch() within a segment (a leading "." matched by "*"). */
typedef struct glob_pat {
  char *buf;                /* owned */
  const char **seg;         /* owned array of views into buf */
  size_t n;
} glob_pat;

int glob_compile(glob_pat *g, const char *pattern); /* -1: out of memory */
void glob_free(glob_pat *g);
/* Whether `path` ("a/b/c") matches; with `partial`, whether some path
 * below `path` could. */
int glob_match(const glob_pat *g, const char *path, int partial);

typedef struct walk_entry {
  const char *rel;      /* workspace-relative path */
  const char *sub;      /* path relative to where the walk started */
  const char *name;
  int dirfd;            /* the open folder holding it */
  struct stat st;       /* lstat: symbolic links are never followed */
} walk_entry;

enum { WALK_NEXT, WALK_SKIP, WALK_STOP };

typedef struct walk {
  tool_job *j;
  int (*fn)(void *ud, const walk_entry *e); /* returns WALK_* */
  void *ud;
  size_t visited;
  int capped;           /* stopped at TOOLS_WALK_MAX_ENTRIES */
  int too_deep;         /* folders below TOOLS_WALK_MAX_DEPTH were skipped */
  int unreadable;       /* folders that could not be opened or read */
  int stopped;          /* by fn, the cap or a cancel */
} walk;

/*
 * Visit everything below the open folder `dirfd` (taken over and closed),
 * whose workspace-relative path is `rel`: each folder's entries by name,
 * a folder's contents right after it, `.git` folders skipped, symbolic
 * links reported but never followed. Stops when fn says so, at
 * TOOLS_WALK_MAX_ENTRIES, or when the job is cancelled.
 */
void walk_tree(walk *w, int dirfd, const char *rel);

/* Append a line to `out` for each thing the walk left out (the entry
 * cap, the depth cap, unreadable folders). */
void walk_notes(tbuf *out, const walk *w);

/* "a" + "/" + "b", or "b" when `a` is "."; malloc'd. */
char *path_join(const char *a, const char *b);

/* ---- Writing (fs_write.c) ----------------------------------------------- */

/*
 * Make t->base hold `data` atomically: a temporary file beside it is
 * written, fsynced and renamed over it, then the folder is fsynced, so a
 * reader sees the old file or the new one and never a part. A replaced
 * file keeps its permission bits. -1 after result_error().
 */
int write_atomic(tool_job *j, const ws_target *t, const char *shown,
                 const char *data, size_t len);

/* Serializes read-modify-write of files across concurrent calls. */
void write_lock(void);
void write_unlock(void);

#endif
