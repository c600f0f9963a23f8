/*
 * plugins/tools/fs_grep.c: fs_grep, the lines of the workspace's files that
 * match a POSIX extended regular expression or a fixed string.
 *
 * Files are searched one at a time, whole (up to TOOLS_GREP_FILE_MAX), in
 * the walk's order; binary files (text.c's test on their start) are
 * skipped, as fs_read would refuse them. The search stops one match past
 * the cap, so the note can say for certain that more exist.
 */
#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tools.h"

typedef struct grep {
  tool_job *j;
  const char *needle;     /* fixed_strings */
  int icase;
  regex_t re;
  int have_re;
  glob_pat filter;
  int have_filter, filter_by_path;
  char *buf;              /* one file's bytes, reused */
  size_t cap;
  tbuf out;
  size_t matches, files_matched, searched, binary, large, unreadable;
} grep;

static int line_matches(grep *g, const char *line)
{
  if (g->have_re) return regexec(&g->re, line, 0, NULL, 0) == 0;
  return (g->icase ? strcasestr(line, g->needle) : strstr(line, g->needle)) !=
         NULL;
}

/* Search the open file `fd` of `size` bytes. WALK_STOP once past the cap. */
static int grep_file(grep *g, int fd, const char *rel, size_t size)
{
  if (size + 1 > g->cap) {
    char *grown = realloc(g->buf, size + 1);
    if (!grown) {
      g->j->res.oom = 1;
      return WALK_STOP;
    }
    g->buf = grown;
    g->cap = size + 1;
  }
  size_t len = 0;
  while (len < size) {
    ssize_t n = read(fd, g->buf + len, size - len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    len += (size_t)n;
  }
  char why[96];
  if (text_is_binary(g->buf, len < TOOLS_SNIFF_BYTES ? len : TOOLS_SNIFF_BYTES,
                     len > TOOLS_SNIFF_BYTES, why, sizeof why)) {
    g->binary++;
    return WALK_NEXT;
  }
  g->searched++;
  g->buf[len] = '\0';
  size_t before = g->matches;
  long long lineno = 1;
  for (char *line = g->buf; line < g->buf + len; lineno++) {
    char *nl = memchr(line, '\n', len - (size_t)(line - g->buf));
    if (nl) *nl = '\0';
    size_t llen = nl ? (size_t)(nl - line) : strlen(line);
    if (line_matches(g, line) && ++g->matches <= TOOLS_GREP_MAX_MATCHES) {
      size_t cut = utf8_cut(line, llen, TOOLS_GREP_LINE_MAX);
      tb_add_text(&g->out, rel, strlen(rel));
      tb_addf(&g->out, ":%lld:", lineno);
      tb_add_text(&g->out, line, cut);
      tb_adds(&g->out, cut < llen ? " [...]\n" : "\n");
    }
    if (g->matches > TOOLS_GREP_MAX_MATCHES) break;
    if (!nl) break;
    line = nl + 1;
  }
  if (g->matches > before) g->files_matched++;
  return g->matches > TOOLS_GREP_MAX_MATCHES ? WALK_STOP : WALK_NEXT;
}

static int on_entry(void *ud, const walk_entry *e)
{
  grep *g = ud;
  if (!S_ISREG(e->st.st_mode)) return WALK_NEXT;
  if (g->have_filter &&
      !glob_match(&g->filter, g->filter_by_path ? e->sub : e->name, 0))
    return WALK_NEXT;
  if ((size_t)e->st.st_size > TOOLS_GREP_FILE_MAX) {
    g->large++;
    return WALK_NEXT;
  }
  int fd = openat(e->dirfd, e->name,
                  O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) {
    g->unreadable++;
    return WALK_NEXT;
  }
  int what = grep_file(g, fd, e->rel, (size_t)e->st.st_size);
  close(fd);
  return what;
}

static void summarize(grep *g, const walk *w, const char *pattern)
{
  tbuf *out = &g->out;
  if (g->matches == 0) {
    tb_adds(out, "No matches for ");
    tb_add_text(out, pattern, strlen(pattern));
    tb_addf(out, " in %zu files searched\n", g->searched);
  } else if (g->matches > TOOLS_GREP_MAX_MATCHES) {
    tb_addf(out, "[stopped at %d matching lines; there are more. Narrow the "
            "search with path, glob or a more specific pattern]\n",
            TOOLS_GREP_MAX_MATCHES);
  } else {
    tb_addf(out, "[%zu matching line%s in %zu file%s; %zu files searched]\n",
            g->matches, g->matches == 1 ? "" : "s", g->files_matched,
            g->files_matched == 1 ? "" : "s", g->searched);
  }
  if (g->binary || g->large)
    tb_addf(out, "[skipped: %zu binary files, %zu files over %u MiB]\n",
            g->binary, g->large, TOOLS_GREP_FILE_MAX >> 20);
  if (g->unreadable)
    tb_addf(out, "[%zu files could not be opened]\n", g->unreadable);
  if (w) walk_notes(out, w);
}

static int prepare(grep *g, const char *pattern, const char *filter,
                   int fixed)
{
  tool_job *j = g->j;
  if (fixed) {
    g->needle = pattern;
  } else {
    int rc = regcomp(&g->re, pattern, REG_EXTENDED | REG_NEWLINE | REG_NOSUB |
                                          (g->icase ? REG_ICASE : 0));
    if (rc != 0) {
      char msg[256];
      regerror(rc, &g->re, msg, sizeof msg);
      result_error(&j->res, "the pattern is not a valid POSIX extended "
                   "regular expression (%s); pass \"fixed_strings\": true "
                   "to search for it literally", msg);
      return -1;
    }
    g->have_re = 1;
  }
  if (filter) {
    if (glob_compile(&g->filter, filter) < 0) {
      j->res.oom = 1;
      return -1;
    }
    g->have_filter = 1;
    g->filter_by_path = strchr(filter, '/') != NULL;
  }
  return 0;
}

static void search(grep *g, const char *path, const char *pattern)
{
  tool_job *j = g->j;
  int fd;
  char *rel;
  struct stat st;
  if (ws_open_path(j, path, O_RDONLY | O_NONBLOCK | O_NOCTTY, &fd, &rel) < 0)
    return;
  walk w = { .j = j, .fn = on_entry, .ud = g };
  int walked = 0;
  if (fstat(fd, &st) != 0 || !(S_ISDIR(st.st_mode) || S_ISREG(st.st_mode))) {
    result_error(&j->res, "%s is neither a folder nor a regular file", path);
    close(fd);
  } else if (S_ISREG(st.st_mode)) {
    if ((size_t)st.st_size > TOOLS_GREP_FILE_MAX)
      g->large++;
    else
      grep_file(g, fd, rel, (size_t)st.st_size);
    close(fd);
  } else {
    walk_tree(&w, fd, rel);
    walked = 1;
  }
  if (job_cancelled(j)) {
    job_stop_cancelled(j);
  } else if (!j->res.json) {
    summarize(g, walked ? &w : NULL, pattern);
    if (g->out.oom)
      j->res.oom = 1;
    else
      result_content(&j->res, tb_str(&g->out));
    result_num(&j->res, "matches",
               (double)(g->matches > TOOLS_GREP_MAX_MATCHES
                            ? TOOLS_GREP_MAX_MATCHES
                            : g->matches));
    result_num(&j->res, "files_searched", (double)g->searched);
    result_bool(&j->res, "truncated",
                g->matches > TOOLS_GREP_MAX_MATCHES || w.capped ||
                    w.too_deep);
  }
  free(rel);
}

static void fs_grep_run(tool_job *j)
{
  const char *pattern, *path, *filter;
  int fixed, icase;
  if (arg_string(j->args, &j->res, "pattern", 1, &pattern) < 0 ||
      arg_string(j->args, &j->res, "path", 0, &path) < 0 ||
      arg_string(j->args, &j->res, "glob", 0, &filter) < 0 ||
      arg_bool(j->args, &j->res, "fixed_strings", 0, &fixed) < 0 ||
      arg_bool(j->args, &j->res, "ignore_case", 0, &icase) < 0)
    return;
  if (!*pattern) {
    result_error(&j->res, "the pattern is empty");
    return;
  }
  grep g = { .j = j, .icase = icase };
  if (prepare(&g, pattern, filter, fixed) == 0)
    search(&g, path ? path : ".", pattern);
  if (g.have_re) regfree(&g.re);
  if (g.have_filter) glob_free(&g.filter);
  free(g.buf);
  tb_free(&g.out);
}

const tool_def tool_fs_grep = {
  .vt = {
    .struct_size = sizeof(pt_tool_vt),
    .flags = PT_TOOL_READS,
    .name = "fs_grep",
    .description =
        "Search the contents of files in the workspace for lines matching a "
        "POSIX extended regular expression (like grep -E: no \\d or lazy "
        "quantifiers; use [0-9]), or a literal string with fixed_strings. "
        "Searches path (a folder, recursively, or one file; default the "
        "workspace root), optionally only files matching glob (\"*.c\" "
        "matches file names, a pattern with / matches paths below path). "
        "Returns path:line:text per matching line, at most 200 lines, each "
        "cut at 400 bytes. Binary files, files over 8 MiB and .git folders "
        "are skipped; symbolic links are not followed.",
    .input_schema =
        "{\"type\":\"object\",\"properties\":{"
        "\"pattern\":{\"type\":\"string\",\"minLength\":1,\"description\":"
        "\"POSIX extended regular expression, or a literal string with "
        "fixed_strings\"},"
        "\"path\":{\"type\":\"string\",\"description\":\"Folder or file to "
        "search, relative to the workspace; default the workspace root\"},"
        "\"glob\":{\"type\":\"string\",\"description\":\"Only search files "
        "matching this glob, e.g. *.py or src/**/*.c\"},"
        "\"fixed_strings\":{\"type\":\"boolean\",\"description\":\"Treat "
        "pattern as a literal string; default false\"},"
        "\"ignore_case\":{\"type\":\"boolean\",\"description\":\"Match "
        "regardless of case; default false\"}},"
        "\"required\":[\"pattern\"],\"additionalProperties\":false}",
    .invoke = tools_job_invoke,
    .cancel = tools_job_cancel,
  },
  .run = fs_grep_run,
  .workspace = 1,
};
