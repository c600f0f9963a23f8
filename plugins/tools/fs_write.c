/*
 * plugins/tools/fs_write.c: fs_write, and the atomic replace that fs_edit
 * shares.
 *
 * A file is never written in place: the new bytes go to a temporary file
 * in the same folder (so the rename stays on one filesystem), which is
 * fsynced, renamed over the name, and the folder fsynced, so a reader or a
 * crash sees the old file or the new one, never a mixture. The temporary
 * name starts with ".portico-" and is removed on every failure.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tools.h"

/* Two edits of one file in one batch of calls must not lose either; one
 * lock for every write keeps the read-modify-rename of each whole. */
static pthread_mutex_t writing = PTHREAD_MUTEX_INITIALIZER;
static atomic_uint temp_counter;

void write_lock(void)
{
  pthread_mutex_lock(&writing);
}

void write_unlock(void)
{
  pthread_mutex_unlock(&writing);
}

static int open_temp(int dirfd, char *name, size_t size)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  for (int i = 0; i < 16; i++) {
    unsigned n = atomic_fetch_add(&temp_counter, 1);
    snprintf(name, size, ".portico-%ld-%lx-%x.tmp", (long)getpid(),
             (unsigned long)ts.tv_nsec, n);
    int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
                                     O_NOFOLLOW, 0666);
    if (fd >= 0 || errno != EEXIST) return fd;
  }
  return -1;
}

int write_atomic(tool_job *j, const ws_target *t, const char *shown,
                 const char *data, size_t len)
{
  char tmp[96];
  int fd = open_temp(t->dirfd, tmp, sizeof tmp);
  if (fd < 0) {
    result_error(&j->res, "cannot create a file in the folder of %s: %s",
                 shown, strerror(errno));
    return -1;
  }
  /* A replaced file keeps its permissions (a script stays executable); a
   * new one gets 0666 less the umask, as any editor would make it. */
  if (t->exists) (void)fchmod(fd, t->st.st_mode & 07777);
  const char *what = NULL;
  int e = 0;
  for (size_t done = 0; done < len && !what;) {
    ssize_t n = write(fd, data + done, len - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      what = "write";
      e = n < 0 ? errno : EIO;
    } else {
      done += (size_t)n;
    }
  }
  if (!what && fsync(fd) != 0) {
    what = "flush";
    e = errno;
  }
  if (close(fd) != 0 && !what) {
    what = "close";
    e = errno;
  }
  if (!what && renameat(t->dirfd, tmp, t->dirfd, t->base) != 0) {
    what = "rename";
    e = errno;
  }
  if (what) {
    unlinkat(t->dirfd, tmp, 0);
    result_error(&j->res, "%s was not changed: %s of the new content "
                 "failed: %s", shown, what, strerror(e));
    return -1;
  }
  /* The rename is durable once the folder is; a failure here cannot be
   * undone, and the file is already in place, so it is not reported. */
  (void)fsync(t->dirfd);
  return 0;
}

static long long count_lines(const char *s, size_t n)
{
  long long lines = 0;
  for (const char *p = s; (p = memchr(p, '\n', n - (size_t)(p - s))); p++)
    lines++;
  return lines + (n && s[n - 1] != '\n');
}

static void fs_write_run(tool_job *j)
{
  const char *path, *content;
  int create_dirs;
  if (arg_string(j->args, &j->res, "path", 1, &path) < 0 ||
      arg_string(j->args, &j->res, "content", 1, &content) < 0 ||
      arg_bool(j->args, &j->res, "create_dirs", 0, &create_dirs) < 0)
    return;
  size_t len = strlen(content);
  ws_target t;
  write_lock();
  if (ws_target_open(j, path, create_dirs, &t) == 0) {
    if (write_atomic(j, &t, path, content, len) == 0) {
      tbuf msg = { 0 };
      tb_addf(&msg, "Wrote %zu bytes (%lld lines) to %s (%s)", len,
              count_lines(content, len), t.rel,
              t.exists ? "replaced the existing file" : "created a new file");
      if (msg.oom)
        j->res.oom = 1;
      else
        result_content(&j->res, tb_str(&msg));
      tb_free(&msg);
      result_str(&j->res, "path", t.rel);
      result_num(&j->res, "bytes", (double)len);
      result_bool(&j->res, "created", !t.exists);
    }
    ws_target_close(&t);
  }
  write_unlock();
}

const tool_def tool_fs_write = {
  .vt = {
    .struct_size = sizeof(pt_tool_vt),
    .flags = PT_TOOL_WRITES,
    .name = "fs_write",
    .description =
        "Create a file in the workspace or replace its whole content. The "
        "write is atomic: readers see the old file or the new one, never "
        "part of it, and a replaced file keeps its permissions. Missing "
        "parent folders are an error unless create_dirs is true. For a "
        "change to part of an existing file prefer fs_edit. Writing through "
        "a symbolic link writes the file it points to, and only when that "
        "is inside the workspace. Paths are relative to the workspace.",
    .input_schema =
        "{\"type\":\"object\",\"properties\":{"
        "\"path\":{\"type\":\"string\",\"description\":\"File path, relative "
        "to the workspace\"},"
        "\"content\":{\"type\":\"string\",\"description\":\"The complete new "
        "content of the file\"},"
        "\"create_dirs\":{\"type\":\"boolean\",\"description\":\"Create "
        "missing parent folders; default false\"}},"
        "\"required\":[\"path\",\"content\"],\"additionalProperties\":false}",
    .invoke = tools_job_invoke,
    .cancel = tools_job_cancel,
  },
  .run = fs_write_run,
  .workspace = 1,
};
