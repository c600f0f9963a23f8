/*
 * plugins/tools/fs_edit.c: fs_edit, exact-string replacement in a text file.
 *
 * The string must occur exactly once unless replace_all says otherwise:
 * an edit the model aimed at one place must not land in another. The
 * whole file is read, changed in memory and put back with the atomic
 * replace of fs_write.c, under the write lock, so two edits of one file in
 * one batch of calls both survive.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tools.h"

/* Read the whole of `base` in `dirfd` into *out (malloc'd, NUL-ended).
 * -1 after result_error(). */
static int read_file(tool_job *j, const ws_target *t, const char *path,
                     char **out, size_t *len)
{
  *out = NULL;
  int fd = openat(t->dirfd, t->base,
                  O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0) {
    result_error(&j->res, "%s cannot be read: %s", path, strerror(errno));
    if (fd >= 0) close(fd);
    return -1;
  }
  if ((size_t)st.st_size > TOOLS_EDIT_MAX_BYTES) {
    result_error(&j->res, "%s is %lld bytes, larger than fs_edit handles "
                 "(%u MiB)", path, (long long)st.st_size,
                 TOOLS_EDIT_MAX_BYTES >> 20);
    close(fd);
    return -1;
  }
  char *buf = malloc((size_t)st.st_size + 1);
  size_t got = 0;
  while (buf && got < (size_t)st.st_size) {
    ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += (size_t)n;
  }
  close(fd);
  if (!buf) {
    j->res.oom = 1;
    return -1;
  }
  buf[got] = '\0';
  *out = buf;
  *len = got;
  return 0;
}

static long long line_at(const char *s, size_t off)
{
  long long line = 1;
  for (const char *p = s; (p = memchr(p, '\n', off - (size_t)(p - s))); p++)
    line++;
  return line;
}

/* Non-overlapping occurrences of `needle` in `hay`, and the lines of the
 * first few (up to `nlines`). */
static size_t count(const char *hay, size_t len, const char *needle,
                    size_t nlen, long long *lines, size_t nlines)
{
  size_t found = 0;
  for (const char *p = hay;
       (p = memmem(p, len - (size_t)(p - hay), needle, nlen)); p += nlen) {
    if (found < nlines) lines[found] = line_at(hay, (size_t)(p - hay));
    found++;
  }
  return found;
}

static char *replace(const char *s, size_t len, const char *old, size_t olen,
                     const char *new_text, size_t nlen, size_t times,
                     size_t *out_len)
{
  size_t size = len - times * olen + times * nlen;
  char *out = malloc(size + 1), *o = out;
  if (!out) return NULL;
  const char *p = s;
  for (size_t i = 0; i < times; i++) {
    const char *hit = memmem(p, len - (size_t)(p - s), old, olen);
    memcpy(o, p, (size_t)(hit - p));
    o += hit - p;
    memcpy(o, new_text, nlen);
    o += nlen;
    p = hit + olen;
  }
  memcpy(o, p, len - (size_t)(p - s));
  out[size] = '\0';
  *out_len = size;
  return out;
}

static void edit(tool_job *j, const ws_target *t, const char *path,
                 const char *old, const char *new_text, int all)
{
  char *text, *changed = NULL;
  size_t len, changed_len;
  if (read_file(j, t, path, &text, &len) < 0) return;
  char why[96];
  size_t olen = strlen(old), nlen = strlen(new_text);
  long long lines[5];
  size_t hits = 0;
  if (text_is_binary(text, len < TOOLS_SNIFF_BYTES ? len : TOOLS_SNIFF_BYTES,
                     len > TOOLS_SNIFF_BYTES, why, sizeof why)) {
    result_error(&j->res, "%s looks like a binary file (%s); fs_edit changes "
                 "text files only", path, why);
  } else if ((hits = count(text, len, old, olen, lines, 5)) == 0) {
    result_error(&j->res, "old_string was not found in %s. It must match the "
                 "file exactly, including whitespace and indentation, and "
                 "without the line numbers fs_read shows; read the file "
                 "again and copy the text", path);
  } else if (hits > 1 && !all) {
    tbuf at = { 0 };
    for (size_t i = 0; i < hits && i < 5; i++)
      tb_addf(&at, "%s%lld", i ? ", " : "", lines[i]);
    result_error(&j->res, "old_string occurs %zu times in %s (at lines %s%s); "
                 "include more of the surrounding lines to make it unique, "
                 "or pass \"replace_all\": true to replace every one",
                 hits, path, tb_str(&at), hits > 5 ? ", ..." : "");
    tb_free(&at);
  } else if (!(changed = replace(text, len, old, olen, new_text, nlen, hits,
                                 &changed_len))) {
    j->res.oom = 1;
  } else if (write_atomic(j, t, path, changed, changed_len) == 0) {
    tbuf msg = { 0 };
    tb_addf(&msg, "Replaced %zu occurrence%s in %s (the first at line %lld)",
            hits, hits == 1 ? "" : "s", t->rel, lines[0]);
    if (msg.oom)
      j->res.oom = 1;
    else
      result_content(&j->res, tb_str(&msg));
    tb_free(&msg);
    result_str(&j->res, "path", t->rel);
    result_num(&j->res, "replacements", (double)hits);
    result_num(&j->res, "first_line", (double)lines[0]);
  }
  free(changed);
  free(text);
}

static void fs_edit_run(tool_job *j)
{
  const char *path, *old, *new_text;
  int all;
  if (arg_string(j->args, &j->res, "path", 1, &path) < 0 ||
      arg_string(j->args, &j->res, "old_string", 1, &old) < 0 ||
      arg_string(j->args, &j->res, "new_string", 1, &new_text) < 0 ||
      arg_bool(j->args, &j->res, "replace_all", 0, &all) < 0)
    return;
  if (!*old) {
    result_error(&j->res, "old_string is empty; to create a file or replace "
                 "all of it use fs_write");
    return;
  }
  if (strcmp(old, new_text) == 0) {
    result_error(&j->res, "old_string and new_string are the same; there is "
                 "nothing to change");
    return;
  }
  ws_target t;
  write_lock();
  if (ws_target_open(j, path, 0, &t) == 0) {
    if (!t.exists)
      result_error(&j->res, "%s does not exist; create it with fs_write",
                   path);
    else
      edit(j, &t, path, old, new_text, all);
    ws_target_close(&t);
  }
  write_unlock();
}

const tool_def tool_fs_edit = {
  .vt = {
    .struct_size = sizeof(pt_tool_vt),
    .flags = PT_TOOL_READS | PT_TOOL_WRITES,
    .name = "fs_edit",
    .description =
        "Replace an exact string in a text file of the workspace. "
        "old_string must match the file exactly (whitespace and indentation "
        "included, without fs_read's line numbers) and occur exactly once, "
        "unless replace_all is true; otherwise the edit fails and says how "
        "many times the string was found and where. Include enough "
        "surrounding lines to make it unique. The file is replaced "
        "atomically and keeps its permissions. Files up to 16 MiB.",
    .input_schema =
        "{\"type\":\"object\",\"properties\":{"
        "\"path\":{\"type\":\"string\",\"description\":\"File path, relative "
        "to the workspace\"},"
        "\"old_string\":{\"type\":\"string\",\"minLength\":1,\"description\":"
        "\"The exact text to replace\"},"
        "\"new_string\":{\"type\":\"string\",\"description\":\"The text to "
        "put in its place\"},"
        "\"replace_all\":{\"type\":\"boolean\",\"description\":\"Replace "
        "every occurrence instead of requiring exactly one; default false\"}"
        "},\"required\":[\"path\",\"old_string\",\"new_string\"],"
        "\"additionalProperties\":false}",
    .invoke = tools_job_invoke,
    .cancel = tools_job_cancel,
  },
  .run = fs_edit_run,
  .workspace = 1,
};
