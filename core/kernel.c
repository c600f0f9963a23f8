/*
 * core/kernel.c: creating, running and stopping the kernel (see kernel.h).
 */
#include "kernel.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loader.h"
#include "log.h"
#include "ops.h"
#include "paths.h"
#include "plugin_host.h"
#include "plugin_watch.h"

static int32_t add_search_dir(pt_kernel *k, const char *dir)
{
  if (!dir || !*dir) return PT_OK;
  /* Compare folders by their resolved path so one folder named two ways
   * is scanned once. */
  char resolved[PATH_MAX];
  const char *key = realpath(dir, resolved) ? resolved : dir;
  for (size_t i = 0; i < k->search_path_count; i++)
    if (strcmp(k->search_path[i], key) == 0) return PT_OK;
  char **grown = realloc(k->search_path,
                         (k->search_path_count + 1) * sizeof *grown);
  if (!grown) return PT_ENOMEM;
  k->search_path = grown;
  if (!(k->search_path[k->search_path_count] = strdup(key))) return PT_ENOMEM;
  k->search_path_count++;
  return PT_OK;
}

/* The plugin search path, highest priority first: --plugins, then
 * PORTICO_PLUGIN_PATH, then config.lua's plugin_paths, then the user's
 * folder, then the folder bundled beside the binary. When two files offer
 * the same name or id, the earlier one wins. */
static int32_t build_search_path(pt_kernel *k)
{
  int32_t rc = PT_OK;
  for (size_t i = 0; i < k->opts.plugin_dir_count && rc == PT_OK; i++)
    rc = add_search_dir(k, k->opts.plugin_dirs[i]);

  const char *env = getenv("PORTICO_PLUGIN_PATH");
  if (env && rc == PT_OK) {
    char *copy = strdup(env), *save = NULL;
    if (!copy) return PT_ENOMEM;
    for (char *dir = strtok_r(copy, ":", &save); dir && rc == PT_OK;
         dir = strtok_r(NULL, ":", &save))
      rc = add_search_dir(k, dir);
    free(copy);
  }
  for (size_t i = 0; i < pt_config_plugin_path_count(k->config) && rc == PT_OK;
       i++)
    rc = add_search_dir(k, pt_config_plugin_path(k->config, i));
  if (k->opts.no_default_plugins || rc != PT_OK) return rc;

  if (k->data_dir) {
    char *user = pt_paths_join(k->data_dir, "plugins");
    if (!user) return PT_ENOMEM;
    rc = add_search_dir(k, user);
    free(user);
  }
  char *exe = pt_paths_exe_dir();
  if (exe && rc == PT_OK) {
    char *bundled = pt_paths_join(exe, "../" PORTICO_PLUGIN_SUBDIR);
    rc = bundled ? add_search_dir(k, bundled) : PT_ENOMEM;
    free(bundled);
  }
  free(exe);
  return rc;
}

static void on_post_async(uv_async_t *a)
{
  pt__host_run_posts(a->data);
}

int32_t pt_kernel_new(const pt_kernel_options *opts, pt_kernel **out,
                      char *err, size_t errlen)
{
  *out = NULL;
  pt_kernel *k = calloc(1, sizeof *k);
  if (!k) {
    snprintf(err, errlen, "out of memory");
    return PT_ENOMEM;
  }
  if (opts) k->opts = *opts;
  int uvrc = uv_loop_init(&k->loop);
  if (uvrc != 0) {
    snprintf(err, errlen, "cannot start the event loop: %s",
             uv_strerror(uvrc));
    free(k);
    return PT_EIO;
  }
  uv_mutex_init(&k->post_lock);
  uv_async_init(&k->loop, &k->post_async, on_post_async);
  k->post_async.data = k;

  int32_t rc = pt_config_load(k->opts.config_path, &k->config, err, errlen);
  if (rc == PT_OK) {
    k->data_dir = k->opts.data_dir ? strdup(k->opts.data_dir)
                                   : pt_paths_data_dir();
    rc = build_search_path(k);
    if (rc != PT_OK) snprintf(err, errlen, "out of memory");
  }
  if (rc == PT_OK && !(k->http = pt_http_client_new(&k->loop))) {
    snprintf(err, errlen, "cannot start the HTTP client (libcurl)");
    rc = PT_ENOMEM;
  }
  if (rc != PT_OK) {
    pt_kernel_free(k);
    return rc;
  }
  pt_loader_scan(k);
  if (k->opts.watch) pt_plugin_watch_start(k);
  *out = k;
  return PT_OK;
}

int pt_kernel_run(pt_kernel *k)
{
  return uv_run(&k->loop, UV_RUN_DEFAULT);
}

/* The last step of a stop: once no plugin is left, close what they used. */
static void finish_stop(pt_kernel *k)
{
  if (!k->stopping || k->plugins || k->stopped) return;
  k->stopped = 1;
  if (k->http) pt_http_client_close(k->http);
  k->http = NULL;
  uv_mutex_lock(&k->post_lock);
  k->post_closed = 1;
  uv_mutex_unlock(&k->post_lock);
  uv_close((uv_handle_t *)&k->post_async, NULL);
}

void pt__kernel_plugin_gone(pt_kernel *k)
{
  finish_stop(k);
}

void pt_kernel_stop(pt_kernel *k)
{
  if (k->stopping) return;
  k->stopping = 1;
  pt_plugin_watch_stop(k);
  pt_loader_unload_all(k);
  finish_stop(k);
}

static void close_any(uv_handle_t *h, void *arg)
{
  if (!uv_is_closing(h)) uv_close(h, NULL);
}

void pt_kernel_free(pt_kernel *k)
{
  if (!k) return;
  pt_kernel_stop(k);
  uv_run(&k->loop, UV_RUN_DEFAULT);
  pt_loader_free_abandoned(k);
  uv_run(&k->loop, UV_RUN_DEFAULT);
  if (uv_loop_close(&k->loop) == UV_EBUSY) {
    /* Something outlived the orderly stop (a plugin that never completed
     * an operation). Closing its handles is better than leaking the loop;
     * its code stays mapped. */
    pt_log_warn("kernel", "handles left open at exit; closing them");
    uv_walk(&k->loop, close_any, NULL);
    uv_run(&k->loop, UV_RUN_DEFAULT);
    uv_loop_close(&k->loop);
  }
  uv_mutex_destroy(&k->post_lock);
  pt__ops_free_completed(k);
  pt_loader_free_refusals(k);
  pt_registry_free(&k->registry);
  for (size_t i = 0; i < k->search_path_count; i++) free(k->search_path[i]);
  free(k->search_path);
  free(k->data_dir);
  pt_config_free(k->config);
  free(k);
}

static void on_spin_timer(uv_timer_t *t)
{
  uv_stop(t->loop);
}

void pt_kernel_spin(pt_kernel *k, uint64_t ms)
{
  if (ms == 0) {
    uv_run(&k->loop, UV_RUN_NOWAIT);
    return;
  }
  uv_timer_t t;
  uv_timer_init(&k->loop, &t);
  uv_timer_start(&t, on_spin_timer, ms, 0);
  uv_run(&k->loop, UV_RUN_DEFAULT);
  uv_close((uv_handle_t *)&t, NULL);
  uv_run(&k->loop, UV_RUN_NOWAIT);
}
