/*
 * plugins/tools/walk.c: walking a folder tree of the workspace, and the
 * glob patterns fs_glob and fs_grep match paths with.
 *
 * The walk opens each folder relative to the open folder above it with
 * O_NOFOLLOW and reports symbolic links without following them, so it
 * never leaves the folder it started in, whatever the tree holds. It
 * visits entries in name order so that results, and where a cap cuts them,
 * are the same on every run. Not for opening what the model named:
 * workspace.c.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tools.h"

#define GLOB_MAX_SEGMENTS 128

int glob_compile(glob_pat *g, const char *pattern)
{
  memset(g, 0, sizeof *g);
  size_t n = strlen(pattern);
  if (!(g->buf = strdup(pattern)) ||
      !(g->seg = malloc(sizeof *g->seg * (n / 2 + 2)))) {
    glob_free(g);
    return -1;
  }
  for (char *save = NULL, *p = strtok_r(g->buf, "/", &save); p;
       p = strtok_r(NULL, "/", &save)) {
    if (strcmp(p, ".") == 0) continue;
    /* "**" twice in a row means what "**" once does. */
    if (strcmp(p, "**") == 0 && g->n && strcmp(g->seg[g->n - 1], "**") == 0)
      continue;
    g->seg[g->n++] = p;
  }
  return 0;
}

void glob_free(glob_pat *g)
{
  free(g->buf);
  free(g->seg);
  memset(g, 0, sizeof *g);
}

/*
 * Dynamic programming over (pattern segment i, path segment k): whether
 * segments i.. match path segments k... Two rows, filled from the end, so
 * any number of "**" costs (segments x path depth) steps rather than
 * exponentially many.
 */
int glob_match(const glob_pat *g, const char *path, int partial)
{
  char buf[4096];
  const char *s[GLOB_MAX_SEGMENTS];
  size_t ns = 0, len = strlen(path);
  if (len >= sizeof buf || g->n >= GLOB_MAX_SEGMENTS) return 0;
  memcpy(buf, path, len + 1);
  for (char *save = NULL, *p = strtok_r(buf, "/", &save); p;
       p = strtok_r(NULL, "/", &save)) {
    if (ns == GLOB_MAX_SEGMENTS) return 0;
    s[ns++] = p;
  }
  unsigned char row[GLOB_MAX_SEGMENTS + 1], next[GLOB_MAX_SEGMENTS + 1];
  /* Row i = g->n: the pattern is used up. */
  for (size_t k = 0; k <= ns; k++) next[k] = k == ns;
  for (size_t i = g->n; i-- > 0;) {
    int star = strcmp(g->seg[i], "**") == 0;
    /* Path used up, pattern left: a prefix of something that may match. */
    row[ns] = partial ? 1 : (unsigned char)(star && next[ns]);
    for (size_t k = ns; k-- > 0;) {
      if (star)
        row[k] = next[k] || row[k + 1];
      else
        row[k] = next[k + 1] && fnmatch(g->seg[i], s[k], 0) == 0;
    }
    memcpy(next, row, ns + 1);
  }
  return next[0];
}

static int by_name(const void *a, const void *b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in `d`, sorted; NULL with *n 0 when empty or unreadable. */
static char **read_names(walk *w, DIR *d, size_t *n)
{
  char **names = NULL;
  size_t cap = 0;
  *n = 0;
  struct dirent *de;
  errno = 0;
  while ((de = readdir(d))) {
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
      continue;
    if (*n == cap) {
      size_t c = cap ? cap * 2 : 32;
      char **grown = realloc(names, c * sizeof *names);
      if (!grown) break;
      names = grown;
      cap = c;
    }
    if (!(names[*n] = strdup(de->d_name))) break;
    (*n)++;
    errno = 0;
  }
  if (errno) w->unreadable++;
  if (*n) qsort(names, *n, sizeof *names, by_name);
  return names;
}

static void walk_dir(walk *w, int fd, const char *rel, size_t sub_off,
                     int depth)
{
  DIR *d = fdopendir(fd);
  if (!d) {
    close(fd);
    w->unreadable++;
    return;
  }
  size_t n;
  char **names = read_names(w, d, &n);
  for (size_t i = 0; i < n; i++) {
    const char *name = names[i];
    if (w->stopped) break;
    if (job_cancelled(w->j) || w->visited >= TOOLS_WALK_MAX_ENTRIES) {
      w->capped = !job_cancelled(w->j);
      w->stopped = 1;
      break;
    }
    w->visited++;
    walk_entry e = { .name = name, .dirfd = dirfd(d) };
    if (fstatat(e.dirfd, name, &e.st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    int is_dir = S_ISDIR(e.st.st_mode);
    if (is_dir && strcmp(name, ".git") == 0) continue;
    char *child = path_join(rel, name);
    if (!child) {
      w->j->res.oom = 1;
      w->stopped = 1;
      break;
    }
    e.rel = child;
    e.sub = child + sub_off;
    int what = w->fn(w->ud, &e);
    if (what == WALK_STOP) {
      w->stopped = 1;
    } else if (what == WALK_NEXT && is_dir) {
      if (depth + 1 >= TOOLS_WALK_MAX_DEPTH) {
        w->too_deep = 1;
      } else {
        int cfd = openat(e.dirfd, name,
                         O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (cfd < 0)
          w->unreadable++;
        else
          walk_dir(w, cfd, child, sub_off, depth + 1);
      }
    }
    free(child);
  }
  for (size_t i = 0; i < n; i++) free(names[i]);
  free(names);
  closedir(d);
}

void walk_tree(walk *w, int dirfd, const char *rel)
{
  size_t sub_off = strcmp(rel, ".") == 0 ? 0 : strlen(rel) + 1;
  walk_dir(w, dirfd, rel, sub_off, 0);
}

void walk_notes(tbuf *out, const walk *w)
{
  if (w->capped)
    tb_addf(out, "[the search stopped after looking at %d entries; narrow "
            "it with path]\n", TOOLS_WALK_MAX_ENTRIES);
  if (w->too_deep)
    tb_addf(out, "[folders more than %d levels deep were not searched]\n",
            TOOLS_WALK_MAX_DEPTH);
  if (w->unreadable)
    tb_addf(out, "[%d folders could not be read]\n", w->unreadable);
}
