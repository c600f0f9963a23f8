/*
 * plugins/tools/fs_list.c: fs_list, the entries of one folder of the
 * workspace with their types and sizes.
 *
 * One folder, not a tree (fs_glob walks trees). Entries come sorted by
 * name, hidden ones and .git included, symbolic links shown with their
 * target and never followed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tools.h"

static int by_name(const struct dirent **a, const struct dirent **b)
{
  return strcmp((*a)->d_name, (*b)->d_name);
}

static int not_dots(const struct dirent *d)
{
  return strcmp(d->d_name, ".") != 0 && strcmp(d->d_name, "..") != 0;
}

static const char *type_name(mode_t m)
{
  if (S_ISDIR(m)) return "dir";
  if (S_ISREG(m)) return "file";
  if (S_ISLNK(m)) return "link";
  return "other";
}

static void list_entry(tbuf *out, int dirfd, const char *name)
{
  struct stat st;
  if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
    tb_adds(out, "?          ");
    tb_add_text(out, name, strlen(name));
    tb_adds(out, " (vanished)\n");
    return;
  }
  if (S_ISREG(st.st_mode))
    tb_addf(out, "file %10lld  ", (long long)st.st_size);
  else
    tb_addf(out, "%-4s %10s  ", type_name(st.st_mode), "");
  tb_add_text(out, name, strlen(name));
  if (S_ISDIR(st.st_mode)) tb_add(out, "/", 1);
  if (S_ISLNK(st.st_mode)) {
    char target[4096];
    ssize_t n = readlinkat(dirfd, name, target, sizeof target);
    if (n >= 0) {
      tb_adds(out, " -> ");
      tb_add_text(out, target, (size_t)n);
    }
  }
  tb_add(out, "\n", 1);
}

static void fs_list_run(tool_job *j)
{
  const char *path;
  if (arg_string(j->args, &j->res, "path", 0, &path) < 0) return;
  if (!path) path = ".";
  int fd;
  char *rel;
  if (ws_open_path(j, path, O_RDONLY | O_DIRECTORY, &fd, &rel) < 0) return;
  struct dirent **names = NULL;
  int n = scandirat(fd, ".", &names, not_dots, by_name);
  if (n < 0) {
    result_error(&j->res, "%s cannot be listed: %s", path, strerror(errno));
  } else {
    tbuf out = { 0 };
    tb_add_text(&out, rel, strlen(rel));
    tb_addf(&out, "/ (%d entr%s)\n", n, n == 1 ? "y" : "ies");
    for (int i = 0; i < n && i < TOOLS_LIST_MAX; i++)
      list_entry(&out, fd, names[i]->d_name);
    if (n > TOOLS_LIST_MAX)
      tb_addf(&out, "[%d more entries not shown; find specific ones with "
              "fs_glob]\n", n - TOOLS_LIST_MAX);
    if (out.oom)
      j->res.oom = 1;
    else
      result_content(&j->res, tb_str(&out));
    result_str(&j->res, "path", rel);
    result_num(&j->res, "entries", n);
    result_bool(&j->res, "truncated", n > TOOLS_LIST_MAX);
    tb_free(&out);
  }
  for (int i = 0; i < n; i++) free(names[i]);
  free(names);
  free(rel);
  close(fd);
}

const tool_def tool_fs_list = {
  .vt = {
    .struct_size = sizeof(pt_tool_vt),
    .flags = PT_TOOL_READS,
    .name = "fs_list",
    .description =
        "List one folder of the workspace: each entry's type (file, dir, "
        "link, other), size in bytes for files, and name (folders end in "
        "/, symbolic links show their target), sorted by name, hidden "
        "entries included. Not recursive: use fs_glob to find files in a "
        "tree. At most 1000 entries are shown. path defaults to the "
        "workspace root.",
    .input_schema =
        "{\"type\":\"object\",\"properties\":{"
        "\"path\":{\"type\":\"string\",\"description\":\"Folder path, "
        "relative to the workspace; default the workspace root\"}},"
        "\"additionalProperties\":false}",
    .invoke = tools_job_invoke,
    .cancel = tools_job_cancel,
  },
  .run = fs_list_run,
  .workspace = 1,
};
