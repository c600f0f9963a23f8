/*
 * core/loader.h: finding, checking, loading and unloading plugin files.
 *
 * A scan walks the kernel's plugin search path in priority order and loads
 * every *.so (.dylib, .dll) not loaded yet. Each file is checked before any
 * of its functions runs: permissions, that it maps, its entry symbol, its
 * descriptor and ABI version, its name. A file that fails is refused: one
 * line naming the file, the reason and the way out, kept in the kernel's
 * refusal list; the other plugins load regardless.
 *
 * Unloading is two-phase. First the plugin's providers and tools leave the
 * registry, so nothing new starts, and its operations are cancelled. Once
 * every operation, HTTP request, queued job and post of the plugin has
 * completed, a later loop turn destroys its registrations, calls fini() and
 * closes the file. Loop thread only.
 */
#ifndef PT_LOADER_H
#define PT_LOADER_H

#include "kernel.h"

/*
 * Bring the loaded set in line with the search path: load new files, and
 * begin unloading plugins whose file was removed or replaced (a replaced
 * file is loaded again once the old code has drained).
 */
void pt_loader_scan(pt_kernel *k);

/* Load the file at `path`. PT_OK, or a negative code with the refusal
 * recorded (and reported through the kernel's on_plugin_event). */
int32_t pt_loader_load(pt_kernel *k, const char *path);

/* Begin unloading `h`; see above. Idempotent. */
void pt_loader_unload(pt_host *h);

/* Begin unloading every plugin (kernel shutdown). */
void pt_loader_unload_all(pt_kernel *k);

/* A loaded (or draining) plugin by descriptor name, or NULL. */
pt_host *pt_loader_find(pt_kernel *k, const char *name);

/* Free the plugins given up on (see PT_PLUGIN_ABANDONED); after the loop
 * has stopped running their handles. */
void pt_loader_free_abandoned(pt_kernel *k);

/* Free every refusal record. */
void pt_loader_free_refusals(pt_kernel *k);

#endif
