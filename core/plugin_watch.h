/*
 * core/plugin_watch.h: reload plugins as their folders change.
 *
 * Each existing folder of the search path gets a uv_fs_event watch. Events
 * arrive in bursts while a file is copied, so they only (re)arm a short
 * settle timer; when it fires, the loader rescans. A copy that was caught
 * half-written is refused, and retried when the file changes again.
 */
#ifndef PT_PLUGIN_WATCH_H
#define PT_PLUGIN_WATCH_H

#include "kernel.h"

/* How long a folder must be quiet before it is rescanned. */
#define PT_PLUGIN_WATCH_SETTLE_MS 150

/* Start watching k's search path; PT_OK or a negative code. */
int32_t pt_plugin_watch_start(pt_kernel *k);

/* Stop watching; the handles close on the loop. Idempotent. */
void pt_plugin_watch_stop(pt_kernel *k);

/* Folders being watched. */
size_t pt_plugin_watch_count(const pt_kernel *k);

#endif
