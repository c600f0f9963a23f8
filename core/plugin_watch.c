/*
 * core/plugin_watch.c: folder watches and the settle timer (see
 * plugin_watch.h).
 */
#include "plugin_watch.h"

#include <stdlib.h>
#include <sys/stat.h>

#include "loader.h"
#include "log.h"

struct pt_plugin_watch {
  pt_kernel *k;
  uv_timer_t settle;
  uv_fs_event_t *events;  /* one slot per search-path folder */
  unsigned char *active;  /* slot i is watching */
  size_t slots;
  size_t count;
  size_t open_handles;    /* freed when the last close callback ran */
};

static void on_settled(uv_timer_t *t)
{
  struct pt_plugin_watch *w = t->data;
  pt_loader_scan(w->k);
}

static void on_folder_event(uv_fs_event_t *e, const char *filename,
                            int events, int status)
{
  struct pt_plugin_watch *w = e->data;
  if (status < 0) {
    pt_log_warn("loader", "watching a plugin folder failed: %s",
                uv_strerror(status));
    return;
  }
  uv_timer_start(&w->settle, on_settled, PT_PLUGIN_WATCH_SETTLE_MS, 0);
}

static void on_closed(uv_handle_t *handle)
{
  struct pt_plugin_watch *w = handle->data;
  if (--w->open_handles == 0) {
    free(w->events);
    free(w->active);
    free(w);
  }
}

int32_t pt_plugin_watch_start(pt_kernel *k)
{
  if (k->watch) return PT_OK;
  struct pt_plugin_watch *w = calloc(1, sizeof *w);
  if (!w) return PT_ENOMEM;
  w->slots = k->search_path_count;
  w->events = calloc(w->slots ? w->slots : 1, sizeof *w->events);
  w->active = calloc(w->slots ? w->slots : 1, 1);
  if (!w->events || !w->active) {
    free(w->events);
    free(w->active);
    free(w);
    return PT_ENOMEM;
  }
  w->k = k;
  uv_timer_init(&k->loop, &w->settle);
  w->settle.data = w;
  w->open_handles = 1;
  for (size_t i = 0; i < k->search_path_count; i++) {
    struct stat st;
    if (stat(k->search_path[i], &st) != 0 || !S_ISDIR(st.st_mode)) continue;
    uv_fs_event_t *e = &w->events[i];
    uv_fs_event_init(&k->loop, e);
    e->data = w;
    w->open_handles++;
    int rc = uv_fs_event_start(e, on_folder_event, k->search_path[i], 0);
    if (rc != 0) {
      pt_log_warn("loader", "cannot watch plugin folder %s: %s; new plugins "
                  "there load at the next start",
                  k->search_path[i], uv_strerror(rc));
      uv_close((uv_handle_t *)e, on_closed);
      continue;
    }
    w->active[i] = 1;
    w->count++;
  }
  k->watch = w;
  return PT_OK;
}

void pt_plugin_watch_stop(pt_kernel *k)
{
  struct pt_plugin_watch *w = k->watch;
  if (!w) return;
  k->watch = NULL;
  for (size_t i = 0; i < w->slots; i++)
    if (w->active[i]) uv_close((uv_handle_t *)&w->events[i], on_closed);
  uv_close((uv_handle_t *)&w->settle, on_closed);
}

size_t pt_plugin_watch_count(const pt_kernel *k)
{
  return k->watch ? k->watch->count : 0;
}
