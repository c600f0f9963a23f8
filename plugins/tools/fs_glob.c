/*
 * plugins/tools/fs_glob.c: fs_glob, the paths of the workspace that match a
 * glob pattern.
 *
 * The pattern is matched against whole paths relative to the folder the
 * search starts in, segment by segment, with "**" for any depth (walk.c).
 * Folders that cannot lead to a match are not entered, so a pattern with a
 * literal start (src/ then anything) only reads that part of the tree.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "tools.h"

typedef struct globbing {
  glob_pat pat;
  tbuf out;
  size_t matches;
} globbing;

static int on_entry(void *ud, const walk_entry *e)
{
  globbing *g = ud;
  int dir = S_ISDIR(e->st.st_mode);
  if (glob_match(&g->pat, e->sub, 0)) {
    if (g->matches++ < TOOLS_GLOB_MAX) {
      tb_add_text(&g->out, e->rel, strlen(e->rel));
      tb_adds(&g->out, dir ? "/\n" : "\n");
    }
  }
  if (dir && !glob_match(&g->pat, e->sub, 1)) return WALK_SKIP;
  return WALK_NEXT;
}

static int check_pattern(tool_job *j, const char *pattern)
{
  if (!*pattern || pattern[0] == '/') {
    result_error(&j->res, "the pattern must be a non-empty relative glob such "
                 "as \"**/*.c\"; to search elsewhere set path");
    return -1;
  }
  for (const char *p = pattern; (p = strstr(p, "..")); p += 2) {
    if ((p == pattern || p[-1] == '/') && (p[2] == '\0' || p[2] == '/')) {
      result_error(&j->res, "the pattern may not contain \"..\"; set path "
                   "to the folder to search instead");
      return -1;
    }
  }
  return 0;
}

static void fs_glob_run(tool_job *j)
{
  const char *pattern, *path;
  if (arg_string(j->args, &j->res, "pattern", 1, &pattern) < 0 ||
      arg_string(j->args, &j->res, "path", 0, &path) < 0 ||
      check_pattern(j, pattern) < 0)
    return;
  if (!path) path = ".";
  globbing g = { 0 };
  if (glob_compile(&g.pat, pattern) < 0) {
    j->res.oom = 1;
    return;
  }
  int fd;
  char *rel;
  if (ws_open_path(j, path, O_RDONLY | O_DIRECTORY, &fd, &rel) < 0) {
    glob_free(&g.pat);
    return;
  }
  walk w = { .j = j, .fn = on_entry, .ud = &g };
  walk_tree(&w, fd, rel);
  if (job_cancelled(j)) {
    job_stop_cancelled(j);
  } else {
    if (g.matches == 0) {
      tb_adds(&g.out, "No paths match ");
      tb_add_text(&g.out, pattern, strlen(pattern));
      tb_adds(&g.out, " in ");
      tb_add_text(&g.out, rel, strlen(rel));
      tb_adds(&g.out, "/\n");
    } else if (g.matches > TOOLS_GLOB_MAX) {
      tb_addf(&g.out, "[%zu paths match; showing the first %d. Narrow the "
              "pattern or set path to see the rest]\n", g.matches,
              TOOLS_GLOB_MAX);
    }
    walk_notes(&g.out, &w);
    if (g.out.oom)
      j->res.oom = 1;
    else
      result_content(&j->res, tb_str(&g.out));
    result_num(&j->res, "matches", (double)g.matches);
    result_bool(&j->res, "truncated",
                g.matches > TOOLS_GLOB_MAX || w.capped || w.too_deep);
  }
  tb_free(&g.out);
  glob_free(&g.pat);
  free(rel);
}

const tool_def tool_fs_glob = {
  .vt = {
    .struct_size = sizeof(pt_tool_vt),
    .flags = PT_TOOL_READS,
    .name = "fs_glob",
    .description =
        "Find files and folders in the workspace by glob pattern, matched "
        "against the whole path relative to path (default the workspace "
        "root): * and ? match within one path segment (dot files "
        "included), [abc] a character class, ** any number of folders. "
        "\"*.c\" finds C files at the top only, \"**/*.c\" at any depth, "
        "\"src/**/test_*\" below src. Returns workspace-relative paths, "
        "folders ending in /, one per line, each folder's entries by name; "
        "at most 500. .git folders are skipped and symbolic links are not "
        "followed.",
    .input_schema =
        "{\"type\":\"object\",\"properties\":{"
        "\"pattern\":{\"type\":\"string\",\"minLength\":1,\"description\":"
        "\"Glob pattern, e.g. **/*.c\"},"
        "\"path\":{\"type\":\"string\",\"description\":\"Folder to search "
        "in, relative to the workspace; default the workspace root\"}},"
        "\"required\":[\"pattern\"],\"additionalProperties\":false}",
    .invoke = tools_job_invoke,
    .cancel = tools_job_cancel,
  },
  .run = fs_glob_run,
  .workspace = 1,
};
