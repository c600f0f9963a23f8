/*
 * plugins/tools/workspace.c: keeping the file tools inside the call's
 * workspace.
 *
 * Paths from the model are relative to the workspace (absolute ones are
 * accepted when they lie in it). Every open goes through openat2() with
 * RESOLVE_BENEATH on the workspace's descriptor, so the kernel itself
 * refuses "..", absolute symbolic links and relative ones that climb out,
 * at every step of the walk and without a window between checking and
 * opening. A symbolic link that leaves and comes back (an absolute link to
 * a file inside) is let through by resolving it and opening the resolved
 * path with no links allowed at all. Writes are resolved to a folder and a
 * name in it (ws_target_open), so the rename that replaces a file never
 * follows a link. Not for walking trees: walk.c opens entry by entry
 * without following links.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__linux__)
#include <linux/openat2.h>
#include <sys/syscall.h>
#endif

#include "tools.h"

#if defined(SYS_openat2) && defined(RESOLVE_BENEATH) && \
    !defined(TOOLS_NO_OPENAT2)
#define HAVE_OPENAT2 1
static atomic_int openat2_missing;
#endif
#ifndef RESOLVE_NO_SYMLINKS
#define RESOLVE_NO_SYMLINKS 0
#endif

char *path_join(const char *a, const char *b)
{
  if (strcmp(a, ".") == 0) return strdup(b);
  size_t na = strlen(a), nb = strlen(b);
  if (na && a[na - 1] == '/') na--; /* "/" + "x" is "/x", not "//x" */
  char *p = malloc(na + nb + 2);
  if (!p) return NULL;
  memcpy(p, a, na);
  p[na] = '/';
  memcpy(p + na + 1, b, nb + 1);
  return p;
}

/* `path` without empty and "." segments and without a trailing "/"; ".."
 * is kept, for the kernel to judge. "." when nothing is left of a
 * relative path, "/" of an absolute one. */
static char *normalize(const char *path)
{
  size_t n = strlen(path);
  char *out = malloc(n + 2), *o = out;
  if (!out) return NULL;
  int absolute = path[0] == '/';
  if (absolute) *o++ = '/';
  for (const char *p = path; *p;) {
    while (*p == '/') p++;
    const char *end = strchr(p, '/');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    if (len && !(len == 1 && p[0] == '.')) {
      if (o > out && o[-1] != '/') *o++ = '/';
      memcpy(o, p, len);
      o += len;
    }
    p += len;
  }
  if (o == out) *o++ = '.';
  *o = '\0';
  return out;
}

/* The part of `path` below `root` ("." for root itself), or NULL when
 * `path` is not inside `root`. Both are normalized. */
static const char *below(const char *root, const char *path)
{
  size_t n = strlen(root);
  if (strcmp(root, "/") == 0) return path[1] ? path + 1 : ".";
  if (strncmp(path, root, n) != 0) return NULL;
  if (path[n] == '\0') return ".";
  return path[n] == '/' ? path + n + 1 : NULL;
}

static int has_dotdot(const char *rel)
{
  for (const char *p = rel; (p = strstr(p, "..")); p += 2)
    if ((p == rel || p[-1] == '/') && (p[2] == '\0' || p[2] == '/')) return 1;
  return 0;
}

/* Whether `rel`, read without following links, goes above where it
 * starts ("..", "a/../.."). */
static int climbs_out(const char *rel)
{
  long depth = 0;
  for (const char *p = rel; *p;) {
    size_t len = strcspn(p, "/");
    if (len == 2 && p[0] == '.' && p[1] == '.') {
      if (--depth < 0) return 1;
    } else if (len && !(len == 1 && p[0] == '.')) {
      depth++;
    }
    p += len;
    while (*p == '/') p++;
  }
  return 0;
}

int ws_open(tool_job *j)
{
  tool_ws *w = &j->ws;
  cJSON *ctx = cJSON_Parse(j->context_text);
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(ctx, "workspace");
  int rc = -1;
  if (!cJSON_IsString(v) || v->valuestring[0] != '/') {
    result_error(&j->res,
                 "%s needs a workspace, and this call has %s; the host must "
                 "pass {\"workspace\": \"/absolute/folder\"} in the call's "
                 "context",
                 j->def->vt.name,
                 cJSON_IsString(v) ? "a relative one" : "none");
  } else if (!(w->path = normalize(v->valuestring))) {
    j->res.oom = 1;
  } else if ((w->fd = open(w->path, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0) {
    result_error(&j->res, "the workspace %s cannot be opened: %s", w->path,
                 strerror(errno));
  } else if (!(w->real = realpath(w->path, NULL))) {
    result_error(&j->res, "the workspace %s cannot be resolved: %s", w->path,
                 strerror(errno));
  } else {
    rc = 0;
  }
  cJSON_Delete(ctx);
  return rc;
}

void ws_close(tool_ws *w)
{
  if (w->fd >= 0) close(w->fd);
  free(w->path);
  free(w->real);
  w->fd = -1;
  w->path = w->real = NULL;
}

int ws_relative(tool_job *j, const char *path, char **rel)
{
  *rel = NULL;
  if (path[0] == '~') {
    result_error(&j->res,
                 "%s: \"~\" is not expanded; paths are relative to the "
                 "workspace %s",
                 path, j->ws.path);
    return -1;
  }
  char *norm = normalize(path);
  if (!norm) {
    j->res.oom = 1;
    return -1;
  }
  if (norm[0] != '/') {
    *rel = norm;
    return 0;
  }
  /* The model may have the workspace's path either as the host named it or
   * as `pwd -P` shows it. */
  const char *in = below(j->ws.path, norm);
  if (!in) in = below(j->ws.real, norm);
  if (in && !(*rel = strdup(in))) j->res.oom = 1;
  if (!in)
    result_error(&j->res,
                 "%s is outside the workspace %s; refused. Use a path "
                 "inside it, relative to it",
                 path, j->ws.path);
  free(norm);
  return *rel ? 0 : -1;
}

/*
 * Where openat2 is missing (Linux before 5.6, a seccomp filter that
 * answers ENOSYS, or a build without it), checking and opening are two
 * steps: realpath() resolves the path, the result must lie in the
 * workspace, and that resolved path is opened with O_NOFOLLOW. A folder
 * swapped for a symbolic link between the two steps could still be
 * followed; openat2 closes that window where it exists.
 */
static int open_portable(const tool_ws *w, const char *rel, int flags)
{
  char *full = path_join(w->real, rel);
  if (!full) return -ENOMEM;
  char *canon = realpath(full, NULL);
  int e = errno;
  free(full);
  /* A missing path that climbs out is refused as such, as openat2 would,
   * rather than telling what exists outside. */
  if (!canon) return climbs_out(rel) ? -EXDEV : -e;
  const char *in = below(w->real, canon);
  int fd = in ? open(canon, flags | O_CLOEXEC | O_NOFOLLOW) : -1;
  e = in ? errno : EXDEV;
  free(canon);
  return fd >= 0 ? fd : -e;
}

/* Open `rel` below the workspace: a descriptor, or -errno, -EXDEV when the
 * path leaves the workspace at any step. `resolve` adds RESOLVE_* bits. */
static int open_beneath(const tool_ws *w, const char *rel, int flags,
                        uint64_t resolve)
{
#ifdef HAVE_OPENAT2
  if (!atomic_load_explicit(&openat2_missing, memory_order_relaxed)) {
    struct open_how how = { 0 };
    how.flags = (uint64_t)(flags | O_CLOEXEC);
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | resolve;
    for (int tries = 0;; tries++) {
      long fd = syscall(SYS_openat2, w->fd, rel, &how, sizeof how);
      if (fd >= 0) return (int)fd;
      /* EAGAIN: a rename raced a ".." step; the kernel asks for a retry. */
      if (errno == EINTR || (errno == EAGAIN && tries < 16)) continue;
      if (errno != ENOSYS) return -errno;
      break;
    }
    atomic_store(&openat2_missing, 1);
  }
#endif
  (void)resolve;
  return open_portable(w, rel, flags);
}

/*
 * open_beneath said EXDEV: the path leaves the workspace at some step,
 * through ".." or a symbolic link (an absolute link always counts, even one
 * that points back inside). Judge it by where it ends: when its resolved
 * form lies in the workspace, open that, with no symbolic links allowed, so
 * that a link swapped in meanwhile makes the open fail rather than escape.
 */
static int open_reentering(const tool_ws *w, const char *rel, int flags)
{
  char *full = path_join(w->real, rel);
  if (!full) return -ENOMEM;
  char *canon = realpath(full, NULL);
  free(full);
  const char *in = canon ? below(w->real, canon) : NULL;
  int fd = in ? open_beneath(w, in, flags, RESOLVE_NO_SYMLINKS) : -EXDEV;
  free(canon);
  return fd;
}

static int open_confined(const tool_ws *w, const char *rel, int flags)
{
  int fd = open_beneath(w, rel, flags, 0);
  return fd == -EXDEV ? open_reentering(w, rel, flags) : fd;
}

static void fail_open(tool_job *j, const char *path, const char *rel, int e)
{
  tool_result *r = &j->res;
  switch (e) {
  case ENOENT:
    result_error(r, "%s does not exist (paths are relative to the workspace "
                 "%s)", path, j->ws.path);
    break;
  case EXDEV:
    if (has_dotdot(rel))
      result_error(r, "%s is outside the workspace %s; refused", path,
                   j->ws.path);
    else
      result_error(r, "%s goes through a symbolic link that leads outside "
                   "the workspace %s; refused", path, j->ws.path);
    break;
  case ENOTDIR:
    result_error(r, "%s: a part of the path is not a folder", path);
    break;
  case EACCES:
  case EPERM:
    result_error(r, "%s: permission denied", path);
    break;
  case ENOMEM:
    r->oom = 1;
    break;
  default:
    result_error(r, "%s cannot be opened: %s", path, strerror(e));
  }
}

int ws_open_path(tool_job *j, const char *path, int flags, int *fd,
                 char **rel)
{
  char *r;
  *fd = -1;
  if (rel) *rel = NULL;
  if (ws_relative(j, path, &r) < 0) return -1;
  int got = open_confined(&j->ws, r, flags);
  if (got < 0) {
    if (got == -ENOTDIR && (flags & O_DIRECTORY))
      result_error(&j->res, "%s is not a folder", path);
    else
      fail_open(j, path, r, -got);
    free(r);
    return -1;
  }
  *fd = got;
  if (rel)
    *rel = r;
  else
    free(r);
  return 0;
}

/* Create each missing folder of `dir`, one level at a time, each inside a
 * folder opened beneath the workspace. 0 or -errno. */
static int make_dirs(const tool_ws *w, const char *dir)
{
  char *buf = strdup(dir);
  if (!buf) return -ENOMEM;
  int rc = 0;
  for (char *p = buf;; p++) {
    if (*p != '/' && *p != '\0') continue;
    char saved = *p;
    *p = '\0';
    int fd = open_confined(w, buf, O_PATH | O_DIRECTORY);
    if (fd == -ENOENT) {
      char *slash = strrchr(buf, '/');
      if (slash) *slash = '\0';
      int parent = open_confined(w, slash ? buf : ".", O_PATH | O_DIRECTORY);
      if (slash) *slash = '/';
      if (parent < 0) {
        rc = parent;
        break;
      }
      if (mkdirat(parent, slash ? slash + 1 : buf, 0777) != 0 &&
          errno != EEXIST)
        rc = -errno;
      close(parent);
      if (rc < 0) break;
    } else if (fd < 0) {
      rc = fd;
      break;
    } else {
      close(fd);
    }
    *p = saved;
    if (!saved) break;
  }
  free(buf);
  return rc;
}

static int open_parent(tool_job *j, const char *path, const char *dir,
                       int create_dirs)
{
  int fd = open_confined(&j->ws, dir, O_RDONLY | O_DIRECTORY);
  if (fd == -ENOENT && create_dirs) {
    int rc = make_dirs(&j->ws, dir);
    fd = rc < 0 ? rc : open_confined(&j->ws, dir, O_RDONLY | O_DIRECTORY);
  }
  if (fd == -ENOENT && !create_dirs)
    result_error(&j->res, "the folder %s of %s does not exist; pass "
                 "\"create_dirs\": true to create it", dir, path);
  else if (fd < 0)
    fail_open(j, path, dir, -fd);
  return fd;
}

int ws_target_open(tool_job *j, const char *path, int create_dirs,
                   ws_target *t)
{
  memset(t, 0, sizeof *t);
  t->dirfd = -1;
  char *rel;
  if (ws_relative(j, path, &rel) < 0) return -1;
  for (int hop = 0;; hop++) {
    char *slash = strrchr(rel, '/');
    const char *base = slash ? slash + 1 : rel;
    if (strcmp(base, ".") == 0 || strcmp(base, "..") == 0) {
      result_error(&j->res, "%s is a folder, not a file", path);
      break;
    }
    if (slash) *slash = '\0';
    int fd = open_parent(j, path, slash ? rel : ".", create_dirs);
    if (slash) *slash = '/';
    if (fd < 0) break;
    struct stat st;
    if (fstatat(fd, base, &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno != ENOENT) {
        fail_open(j, path, rel, errno);
        close(fd);
        break;
      }
    } else if (S_ISLNK(st.st_mode) && hop == 0) {
      /* Write to where the link points, if that is inside: find the
       * resolved path and start over from it. */
      close(fd);
      char *full = path_join(j->ws.real, rel);
      char *canon = full ? realpath(full, NULL) : NULL;
      int e = errno;
      const char *in = canon ? below(j->ws.real, canon) : NULL;
      free(full);
      if (!canon && e == ENOENT)
        result_error(&j->res, "%s is a symbolic link to something that does "
                     "not exist; refused", path);
      else if (!in)
        result_error(&j->res, "%s is a symbolic link that leads outside the "
                     "workspace %s; refused", path, j->ws.path);
      free(rel);
      rel = in ? strdup(in) : NULL;
      free(canon);
      if (!rel) {
        if (in) j->res.oom = 1;
        return -1;
      }
      continue;
    } else if (S_ISDIR(st.st_mode)) {
      result_error(&j->res, "%s is a folder, not a file", path);
      close(fd);
      break;
    } else if (!S_ISREG(st.st_mode)) {
      result_error(&j->res, "%s is not a regular file; refused", path);
      close(fd);
      break;
    } else {
      t->exists = 1;
      t->st = st;
    }
    t->dirfd = fd;
    t->rel = rel;
    if (!(t->base = strdup(base))) {
      j->res.oom = 1;
      ws_target_close(t);
      return -1;
    }
    return 0;
  }
  free(rel);
  return -1;
}

void ws_target_close(ws_target *t)
{
  if (t->dirfd >= 0) close(t->dirfd);
  free(t->base);
  free(t->rel);
  memset(t, 0, sizeof *t);
  t->dirfd = -1;
}
