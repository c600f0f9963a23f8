/*
 * core/paths.c: see paths.h.
 */
#include "paths.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

static char *dup_or_null(const char *s)
{
  return s && *s ? strdup(s) : NULL;
}

char *pt_paths_join(const char *a, const char *b)
{
  size_t la = strlen(a), lb = strlen(b);
  char *p = malloc(la + lb + 2);
  if (!p) return NULL;
  memcpy(p, a, la);
  size_t at = la;
  if (la == 0 || a[la - 1] != '/') p[at++] = '/';
  memcpy(p + at, b, lb + 1);
  return p;
}

char *pt_paths_data_dir(void)
{
  char *dir = dup_or_null(getenv("PORTICO_DATA_DIR"));
  if (dir) return dir;
  const char *xdg = getenv("XDG_DATA_HOME");
  if (xdg && *xdg == '/') return pt_paths_join(xdg, "portico");
  const char *home = getenv("HOME");
  if (!home || !*home) return NULL;
  return pt_paths_join(home, ".local/share/portico");
}

char *pt_paths_exe_dir(void)
{
  char buf[PATH_MAX];
  size_t len = sizeof buf;
  if (uv_exepath(buf, &len) != 0) return NULL;
  char *slash = strrchr(buf, '/');
  if (!slash) return NULL;
  *slash = '\0';
  return strdup(buf[0] ? buf : "/");
}
