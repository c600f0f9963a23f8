/*
 * core/plugin_host.h: what the kernel keeps for each loaded plugin.
 *
 * struct pt_host is the SDK's opaque plugin handle. It counts everything the
 * plugin has in flight (operations, HTTP requests, queued work, posts) so
 * that an unload can wait until the count reaches zero before it calls
 * fini() and closes the shared object: code must never be unmapped while
 * the loop may still call into it.
 */
#ifndef PT_PLUGIN_HOST_H
#define PT_PLUGIN_HOST_H

#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "kernel.h"
#include "portico/plugin.h"

typedef enum pt_plugin_state {
  PT_PLUGIN_INIT,      /* inside init(): registrations allowed */
  PT_PLUGIN_ACTIVE,
  PT_PLUGIN_DRAINING,  /* unregistered; waiting for in-flight work */
  PT_PLUGIN_FINI,      /* inside fini() or being freed */
  PT_PLUGIN_ABANDONED  /* did not drain in time: its operations were ended
                          for their callers, its code stays mapped, and
                          nothing of it is freed until the kernel is */
} pt_plugin_state;

typedef struct pt_registration {
  int is_tool;
  const void *vt;      /* pt_provider_vt or pt_tool_vt, plugin-static */
  void *self;
} pt_registration;

/* Strings handed to the plugin (config values, secrets) that must stay
 * valid until fini(). */
typedef struct pt_kept_str {
  struct pt_kept_str *next;
  size_t len;
  char text[];
} pt_kept_str;

struct pt_op_impl;
struct pt_host_http;
struct pt_host_work;

struct pt_host {
  pt_kernel *k;
  pt_host *next;                 /* kernel's list, load order */
  char *path;                    /* owned: the file it was loaded from */
  const pt_plugin_desc *desc;    /* inside the mapped object */
  void *dl;                      /* plugin_dl handle */
  dev_t dev;
  ino_t ino;
  int64_t mtime_ns;
  int64_t size;
  pt_plugin_state state;
  int reload_after;              /* rescan once this unload completes */

  pt_registration *regs;         /* owned array */
  size_t reg_count, reg_cap;
  int reg_failed;                /* an add_* during init failed */
  char reg_error[512];

  char error[512];               /* set_error() message */
  pt_kept_str *kept;             /* owned list */

  struct pt_op_impl *ops;        /* in flight, doubly linked */
  size_t op_count;
  pt_timer *timers;
  struct pt_host_http *https;
  size_t http_count;
  struct pt_host_work *works;
  size_t work_count;
  size_t post_count;             /* posts accepted, not yet run */
  uv_timer_t *drain_timer;       /* owned: finishes the unload on a clean
                                    loop turn, with no plugin code on the
                                    stack */
  int services_cancelled;
  int refused;                   /* init() failed: leaving, never loaded */
  int skip_fini;                 /* init() returned an error */
};

/* Keep a copy of text[0..len) until the plugin is freed; NULL on ENOMEM. */
const char *pt__host_keep(pt_host *h, const char *text, size_t len);

/* Called whenever one of h's in-flight counts drops: finishes an unload
 * that was waiting for it. */
void pt__host_maybe_drained(pt_host *h);

/* Cancel what a draining plugin still has in flight that is not an
 * operation: HTTP requests, queued work, timers (defined in host_api.c). */
void pt__host_cancel_services(pt_host *h);

/* How long an unloading plugin may take to finish its operations after
 * they were cancelled, unless the kernel options say otherwise. Short
 * enough that a stop on SIGTERM still ends within five seconds. */
#define PT_DRAIN_TIMEOUT_MS 3000

/* Free the timers and kept strings of a plugin being freed. */
void pt__host_free_services(pt_host *h);

/* Run the posts queued by other threads (the async handle's callback). */
void pt__host_run_posts(pt_kernel *k);

/* The table handed to every plugin's init(). */
const pt_host_api *pt__host_api(void);

#endif
