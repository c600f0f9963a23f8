/*
 * core/plugin_dl.c: dlopen or libltdl behind one interface (see
 * plugin_dl.h for why both exist and which is used where).
 */
#include "plugin_dl.h"

#include <stdio.h>

#if defined(PORTICO_USE_LTDL) || defined(_WIN32)

#include <ltdl.h>

static int ltdl_ready;

void *pt_dl_open(const char *path, char *err, size_t errlen)
{
  if (!ltdl_ready) {
    if (lt_dlinit() != 0) {
      snprintf(err, errlen, "%s", lt_dlerror());
      return NULL;
    }
    ltdl_ready = 1;
  }
  lt_dladvise advise;
  lt_dlhandle h = NULL;
  if (lt_dladvise_init(&advise) == 0 && lt_dladvise_local(&advise) == 0)
    h = lt_dlopenadvise(path, advise);
  lt_dladvise_destroy(&advise);
  if (!h) {
    const char *why = lt_dlerror();
    snprintf(err, errlen, "%s", why ? why : "unknown error");
  }
  return h;
}

void *pt_dl_sym(void *handle, const char *name)
{
  return lt_dlsym((lt_dlhandle)handle, name);
}

void pt_dl_close(void *handle)
{
  if (handle) lt_dlclose((lt_dlhandle)handle);
}

#else

#include <dlfcn.h>

void *pt_dl_open(const char *path, char *err, size_t errlen)
{
  void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    const char *why = dlerror();
    snprintf(err, errlen, "%s", why ? why : "unknown error");
  }
  return h;
}

void *pt_dl_sym(void *handle, const char *name)
{
  dlerror();
  return dlsym(handle, name);
}

void pt_dl_close(void *handle)
{
  if (handle) dlclose(handle);
}

#endif
