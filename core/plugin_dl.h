/*
 * core/plugin_dl.h: the one seam between the loader and the platform's
 * dynamic linker.
 *
 * On POSIX systems this is dlopen() with RTLD_NOW | RTLD_LOCAL: RTLD_NOW so
 * that a plugin with an unresolved symbol is refused at load time instead of
 * crashing the first time it calls the missing function, RTLD_LOCAL so that
 * two plugins exporting the same symbol never bind to each other. libltdl
 * cannot ask for RTLD_NOW (it always binds lazily where it can), so it is
 * used only where dlfcn.h is missing (Windows: LoadLibrary binds at load
 * anyway); configure with -DPORTICO_USE_LTDL=ON to use it everywhere.
 */
#ifndef PT_PLUGIN_DL_H
#define PT_PLUGIN_DL_H

#include <stddef.h>

#if defined(_WIN32)
#define PT_DL_SUFFIX ".dll"
#elif defined(__APPLE__)
#define PT_DL_SUFFIX ".dylib"
#else
#define PT_DL_SUFFIX ".so"
#endif

/* Map the object at `path`. NULL on failure, with the linker's reason in
 * err. The handle is owned by the caller: pt_dl_close(). */
void *pt_dl_open(const char *path, char *err, size_t errlen);

/* The address of exported symbol `name`, or NULL. */
void *pt_dl_sym(void *handle, const char *name);

void pt_dl_close(void *handle);

#endif
