/*
 * core/kernel.h: the one process-wide object, passed explicitly.
 *
 * The kernel owns the libuv loop and everything that runs on it: the
 * configuration, the HTTP client, the loaded plugins and their
 * registrations, and the queue through which other threads post work to the
 * loop. Every function here runs on the loop thread unless it says so.
 */
#ifndef PT_KERNEL_H
#define PT_KERNEL_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "config.h"
#include "http_client.h"
#include "portico/plugin.h"
#include "registry.h"

typedef struct pt_kernel pt_kernel;
typedef struct pt_refusal pt_refusal;

typedef struct pt_kernel_options {
  const char *config_path;          /* NULL: the default location */
  const char *data_dir;             /* NULL: PORTICO_DATA_DIR, else XDG */
  const char *const *plugin_dirs;   /* --plugins folders, searched first */
  size_t plugin_dir_count;
  int no_default_plugins;           /* skip the user and bundled folders */
  int watch;                        /* load and unload as folders change */
  uint64_t drain_timeout_ms;        /* 0: PT_DRAIN_TIMEOUT_MS */
  /* Keep completed operations allocated until the kernel is freed, so
   * that a plugin touching one after its completion is counted in
   * op_violations instead of writing to freed memory (the provider
   * checker runs plugins this way). */
  int keep_completed_ops;
  /* Called on the loop thread whenever a plugin is loaded, refused or
   * unloaded (for `portico plugins watch`); may be NULL. */
  void (*on_plugin_event)(void *ud, const char *what, const char *name,
                          const char *path, const char *detail);
  void *ud;
} pt_kernel_options;

/* A record of a plugin file that was not loaded, and why. */
struct pt_refusal {
  char *path;
  char *reason;   /* one line: the file, the problem, what to do */
  dev_t dev;      /* identity of the file when refused, so an unchanged */
  ino_t ino;      /* file is not retried (and re-reported) on every scan */
  int64_t mtime_ns;
  int64_t size;
  pt_refusal *next;
};

struct pt_kernel {
  uv_loop_t loop;
  pt_kernel_options opts;
  pt_config *config;
  pt_http_client *http;
  pt_registry registry;

  char *data_dir;
  char **search_path;               /* plugin folders, in priority order */
  size_t search_path_count;

  pt_host *plugins;                 /* loaded, in load order */
  pt_host *abandoned;               /* gave up on; freed with the kernel */
  pt_refusal *refusals;
  uint64_t next_op_id;
  struct pt_op_impl *completed_ops; /* with keep_completed_ops */
  uint64_t op_violations;           /* completion rules a plugin broke */
  int stopping;
  int stopped;                      /* shared services closed */

  /* Cross-thread posts: pt_host_api.post() appends under the lock and wakes
   * the loop through the async handle. */
  uv_async_t post_async;
  uv_mutex_t post_lock;
  struct pt_post *post_head, *post_tail;
  int post_closed;                  /* under post_lock: refuse new posts */

  struct pt_plugin_watch *watch;
};

/*
 * Create a kernel: read the config, resolve the data folder and the plugin
 * search path, start the HTTP client, load every plugin found. Plugins that
 * cannot load are refused (see pt_kernel_refusals) without failing this
 * call. On error returns a negative code and writes one line for a person
 * to `err`. Caller owns *out: pt_kernel_free().
 */
int32_t pt_kernel_new(const pt_kernel_options *opts, pt_kernel **out,
                      char *err, size_t errlen);

/* Run the loop until pt_kernel_stop() and the shutdown it starts finish. */
int pt_kernel_run(pt_kernel *k);

/* Begin an orderly stop: stop watching, cancel every operation, unload
 * every plugin once its work has completed, close the HTTP client. Safe to
 * call more than once. */
void pt_kernel_stop(pt_kernel *k);

/* Stop (if not yet), run the loop until nothing is left, free everything. */
void pt_kernel_free(pt_kernel *k);

/* Run the loop once without blocking, or until `ms` passed with nothing to
 * do; for tests and for commands that want one pass of work. */
void pt_kernel_spin(pt_kernel *k, uint64_t ms);

/* A plugin finished unloading: completes a stop waiting for the last. */
void pt__kernel_plugin_gone(pt_kernel *k);

#endif
