/*
 * plugins/tools/fs_read.c: fs_read, a text file of the workspace shown with
 * line numbers, a window of lines at a time.
 *
 * The file is streamed, never held whole: lines before the window are only
 * counted, lines in it are numbered into the result until the byte cap,
 * and lines after it are counted (up to TOOLS_READ_COUNT_MAX bytes) so the
 * note can say how many remain. The first TOOLS_SNIFF_BYTES decide whether
 * the file is text at all (text.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tools.h"

typedef struct reader {
  long long first, last;  /* the window asked for, 1-based, inclusive */
  long long lineno;       /* the line being read */
  long long shown_last;   /* the last line shown; 0: none yet */
  int full;               /* the byte cap was reached */
  tbuf out;
  tbuf line;              /* the shown part of the line being read */
  size_t line_len;        /* the whole length of that line */
} reader;

static int in_window(const reader *r)
{
  return !r->full && r->lineno >= r->first && r->lineno <= r->last;
}

static void end_line(reader *r)
{
  if (in_window(r)) {
    size_t cut = utf8_cut(r->line.p ? r->line.p : "", r->line.len,
                          TOOLS_READ_LINE_MAX);
    /* Room for the number, the line and a note; the first line always
     * shows, so a window never comes back empty. */
    if (r->shown_last &&
        r->out.len + cut + 64 > (size_t)TOOLS_READ_MAX_BYTES) {
      r->full = 1;
    } else {
      tb_addf(&r->out, "%6lld\t", r->lineno);
      tb_add_text(&r->out, r->line.p ? r->line.p : "", cut);
      if (r->line_len > cut)
        tb_addf(&r->out, " [... line cut here: %zu bytes long]", r->line_len);
      tb_add(&r->out, "\n", 1);
      r->shown_last = r->lineno;
    }
  }
  r->line.len = 0;
  r->line_len = 0;
  r->lineno++;
}

static void feed(reader *r, const char *p, size_t n)
{
  while (n) {
    const char *nl = memchr(p, '\n', n);
    size_t seg = nl ? (size_t)(nl - p) : n;
    if (in_window(r) && r->line.len < TOOLS_READ_LINE_MAX + 4) {
      size_t room = TOOLS_READ_LINE_MAX + 4 - r->line.len;
      tb_add(&r->line, p, seg < room ? seg : room);
    }
    r->line_len += seg;
    if (!nl) break;
    end_line(r);
    p = nl + 1;
    n -= seg + 1;
  }
}

/* Read until `buf` holds `want` bytes or the file ends. */
static ssize_t read_full(int fd, char *buf, size_t want)
{
  size_t got = 0;
  while (got < want) {
    ssize_t n = read(fd, buf + got, want - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -1;
    if (n == 0) break;
    got += (size_t)n;
  }
  return (ssize_t)got;
}

static void report(tool_job *j, reader *r, const char *rel, int counted_all)
{
  long long total = r->lineno - 1;
  if (total == 0) {
    result_content(&j->res, "(the file is empty)");
  } else if (r->first > total && counted_all) {
    result_error(&j->res, "offset %lld is past the end of %s, which has %lld "
                 "lines", r->first, rel, total);
    return;
  } else {
    long long next = r->shown_last + 1;
    if (!counted_all)
      tb_addf(&r->out, "[lines %lld-%lld; the file goes on past %u MiB, not "
              "counted further; call fs_read with offset %lld to continue]\n",
              r->first, r->shown_last, TOOLS_READ_COUNT_MAX >> 20, next);
    else if (r->shown_last < total)
      tb_addf(&r->out, "[lines %lld-%lld of %lld%s; call fs_read with offset "
              "%lld to continue]\n", r->first, r->shown_last, total,
              r->full ? ", cut at the size limit" : "", next);
    if (r->out.oom) {
      j->res.oom = 1;
      return;
    }
    result_content(&j->res, tb_str(&r->out));
  }
  result_str(&j->res, "path", rel);
  result_num(&j->res, "start", (double)(total ? r->first : 0));
  result_num(&j->res, "end", (double)r->shown_last);
  if (counted_all)
    result_num(&j->res, "total_lines", (double)total);
  else
    result_str(&j->res, "total_lines", NULL);
  result_bool(&j->res, "truncated", r->shown_last < total || !counted_all);
}

static void fs_read_run(tool_job *j)
{
  const char *path;
  long long offset, limit;
  if (arg_string(j->args, &j->res, "path", 1, &path) < 0 ||
      arg_int(j->args, &j->res, "offset", 1, 1, 1000000000000LL, &offset) <
          0 ||
      arg_int(j->args, &j->res, "limit", TOOLS_READ_LINES, 1, 100000,
              &limit) < 0)
    return;
  int fd;
  char *rel;
  if (ws_open_path(j, path, O_RDONLY | O_NONBLOCK | O_NOCTTY, &fd, &rel) < 0)
    return;
  reader r = { .first = offset, .last = offset + limit - 1, .lineno = 1 };
  char *buf = malloc(65536);
  struct stat st;
  int counted_all = 1;
  if (!buf) {
    j->res.oom = 1;
  } else if (fstat(fd, &st) != 0 || S_ISDIR(st.st_mode)) {
    result_error(&j->res, "%s is a folder; list it with fs_list", path);
  } else if (!S_ISREG(st.st_mode)) {
    result_error(&j->res, "%s is not a regular file; refused", path);
  } else {
    ssize_t n = read_full(fd, buf, TOOLS_SNIFF_BYTES);
    char why[96];
    size_t total = 0;
    if (n >= 0 &&
        text_is_binary(buf, (size_t)n, n == TOOLS_SNIFF_BYTES, why,
                       sizeof why)) {
      result_error(&j->res, "%s looks like a binary file (%s); fs_read shows "
                   "text only. Inspect it with shell_exec (e.g. file, xxd "
                   "| head) if that is allowed", path, why);
      n = -2;
    }
    while (n > 0) {
      feed(&r, buf, (size_t)n);
      total += (size_t)n;
      if (job_cancelled(j)) break;
      if (total >= TOOLS_READ_COUNT_MAX && r.lineno > r.last) {
        counted_all = 0;
        break;
      }
      n = read_full(fd, buf, 65536);
    }
    if (n == -1)
      result_error(&j->res, "%s cannot be read: %s", path, strerror(errno));
    else if (job_cancelled(j))
      job_stop_cancelled(j);
    else if (n == 0 || !counted_all) {
      if (r.line_len || r.line.len) end_line(&r); /* no newline at the end */
      if (r.out.oom || r.line.oom)
        j->res.oom = 1;
      else
        report(j, &r, rel, counted_all);
    }
  }
  free(buf);
  tb_free(&r.out);
  tb_free(&r.line);
  free(rel);
  close(fd);
}

const tool_def tool_fs_read = {
  .vt = {
    .struct_size = sizeof(pt_tool_vt),
    .flags = PT_TOOL_READS,
    .name = "fs_read",
    .description =
        "Read a text file in the workspace. Returns its lines numbered like "
        "`cat -n` (number, tab, line), by default the first 2000 lines. Use "
        "offset (first line to show, 1-based) and limit (how many lines) to "
        "page through long files; the result ends with a note saying which "
        "lines were shown and the offset to continue from. At most 100 KB "
        "of text is returned per call and lines longer than 2000 bytes are "
        "cut. Binary files (a NUL byte or text that is not UTF-8 in the "
        "first 8 KB) are refused. Paths are relative to the workspace.",
    .input_schema =
        "{\"type\":\"object\",\"properties\":{"
        "\"path\":{\"type\":\"string\",\"description\":\"File path, relative "
        "to the workspace\"},"
        "\"offset\":{\"type\":\"integer\",\"minimum\":1,\"description\":"
        "\"First line to show (1-based); default 1\"},"
        "\"limit\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":100000,"
        "\"description\":\"How many lines to show; default 2000\"}},"
        "\"required\":[\"path\"],\"additionalProperties\":false}",
    .invoke = tools_job_invoke,
    .cancel = tools_job_cancel,
  },
  .run = fs_read_run,
  .workspace = 1,
};
