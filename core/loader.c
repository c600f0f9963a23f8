/*
 * core/loader.c: plugin discovery, checks, load and two-phase unload (see
 * loader.h).
 *
 * dlopen() runs a shared object's ELF constructors; nothing else of the
 * plugin runs before its descriptor (a constant data symbol) has been read
 * and accepted. That is why the entry point is data and not a function.
 */
#include "loader.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"
#include "ops.h"
#include "plugin_dl.h"
#include "plugin_host.h"

#define DESC_V1_SIZE \
  (offsetof(pt_plugin_desc, reserved) + sizeof(((pt_plugin_desc *)0)->reserved))

typedef struct file_id {
  dev_t dev;
  ino_t ino;
  int64_t mtime_ns;
  int64_t size;
} file_id;

static file_id file_id_of(const struct stat *st)
{
  return (file_id){ st->st_dev, st->st_ino,
                    (int64_t)st->st_mtim.tv_sec * 1000000000 +
                        st->st_mtim.tv_nsec,
                    (int64_t)st->st_size };
}

static void notify(pt_kernel *k, const char *what, const char *name,
                   const char *path, const char *detail)
{
  if (k->opts.on_plugin_event)
    k->opts.on_plugin_event(k->opts.ud, what, name, path, detail);
}

static pt_refusal *find_refusal(pt_kernel *k, const char *path)
{
  for (pt_refusal *r = k->refusals; r; r = r->next)
    if (strcmp(r->path, path) == 0) return r;
  return NULL;
}

static void drop_refusal(pt_kernel *k, pt_refusal *gone)
{
  for (pt_refusal **pp = &k->refusals; *pp; pp = &(*pp)->next) {
    if (*pp == gone) {
      *pp = gone->next;
      free(gone->path);
      free(gone->reason);
      free(gone);
      return;
    }
  }
}

void pt_loader_free_refusals(pt_kernel *k)
{
  while (k->refusals) drop_refusal(k, k->refusals);
}

/* Record and report why `path` was not loaded. Always returns `code`. */
static int32_t refuse(pt_kernel *k, const char *path, const struct stat *st,
                      int32_t code, const char *fmt, ...)
    PT_PRINTF(5, 6);

static int32_t refuse(pt_kernel *k, const char *path, const struct stat *st,
                      int32_t code, const char *fmt, ...)
{
  char reason[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(reason, sizeof reason, fmt, ap);
  va_end(ap);
  pt_log_warn("loader", "plugin %s refused: %s", path, reason);

  pt_refusal *r = find_refusal(k, path);
  if (r) drop_refusal(k, r);
  r = calloc(1, sizeof *r);
  if (r) {
    r->path = strdup(path);
    r->reason = strdup(reason);
    if (!r->path || !r->reason) {
      free(r->path);
      free(r->reason);
      free(r);
      r = NULL;
    }
  }
  if (r) {
    if (st) {
      file_id id = file_id_of(st);
      r->dev = id.dev;
      r->ino = id.ino;
      r->mtime_ns = id.mtime_ns;
      r->size = id.size;
    }
    pt_refusal **tail = &k->refusals;
    while (*tail) tail = &(*tail)->next;
    *tail = r;
  }
  notify(k, "refused", NULL, path, reason);
  return code;
}

pt_host *pt_loader_find(pt_kernel *k, const char *name)
{
  for (pt_host *h = k->plugins; h; h = h->next)
    if (!h->refused && strcmp(h->desc->name, name) == 0) return h;
  return NULL;
}

static pt_host *find_by_path(pt_kernel *k, const char *path)
{
  for (pt_host *h = k->plugins; h; h = h->next)
    if (strcmp(h->path, path) == 0) return h;
  return NULL;
}

static int valid_plugin_name(const char *name)
{
  if (!name) return 0;
  size_t n = 0;
  for (const char *p = name; *p; p++, n++) {
    if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' ||
          *p == '-'))
      return 0;
  }
  return n >= 1 && n <= 63;
}

static void unlink_plugin(pt_kernel *k, pt_host *h)
{
  for (pt_host **pp = &k->plugins; *pp; pp = &(*pp)->next) {
    if (*pp == h) {
      *pp = h->next;
      return;
    }
  }
}

/* Undo the registrations of `h`, newest first. */
static void destroy_registrations(pt_host *h)
{
  pt_registry_remove_plugin(&h->k->registry, h);
  for (size_t i = h->reg_count; i-- > 0;) {
    pt_registration *r = &h->regs[i];
    if (r->is_tool) {
      const pt_tool_vt *vt = r->vt;
      if (vt->destroy) vt->destroy(r->self);
    } else {
      const pt_provider_vt *vt = r->vt;
      if (vt->destroy) vt->destroy(r->self);
    }
  }
  h->reg_count = 0;
}

static void free_host(pt_host *h)
{
  pt__host_free_services(h);
  free(h->regs);
  free(h->path);
  free(h);
}

/* Check the descriptor; NULL when it is acceptable, else why not. */
static const char *check_desc(const pt_plugin_desc *d, char *buf, size_t cap)
{
  if (d->struct_size < DESC_V1_SIZE) {
    snprintf(buf, cap,
             "its descriptor is %u bytes, smaller than the %zu of ABI 1.0; it "
             "was not built with portico/plugin.h: rebuild it against this SDK",
             d->struct_size, (size_t)DESC_V1_SIZE);
    return buf;
  }
  if (d->abi_major != PT_ABI_MAJOR) {
    snprintf(buf, cap,
             "built for ABI %u.%u, this portico speaks %d.%d; rebuild it "
             "against this SDK",
             d->abi_major, d->abi_minor, PT_ABI_MAJOR, PT_ABI_MINOR);
    return buf;
  }
  if (d->min_host_minor > PT_ABI_MINOR) {
    snprintf(buf, cap,
             "needs a host with ABI %u.%u or newer, this portico speaks "
             "%d.%d; upgrade portico or use an older build of the plugin",
             d->abi_major, d->min_host_minor, PT_ABI_MAJOR, PT_ABI_MINOR);
    return buf;
  }
  if (!valid_plugin_name(d->name)) {
    snprintf(buf, cap,
             "its name '%s' is not 1-63 characters of [a-z0-9_-]; fix the "
             "name in PT_PLUGIN()",
             d->name ? d->name : "(null)");
    return buf;
  }
  if (!d->init) {
    snprintf(buf, cap, "its descriptor has no init function; set one in "
                       "PT_PLUGIN()");
    return buf;
  }
  return NULL;
}

/* The refusal text for a file without our entry symbol: say which major it
 * was built for when it carries another one. */
static void explain_missing_entry(void *dl, char *buf, size_t cap)
{
  for (int major = 0; major < 10; major++) {
    if (major == PT_ABI_MAJOR) continue;
    char sym[32];
    snprintf(sym, sizeof sym, "portico_plugin_v%d", major);
    if (pt_dl_sym(dl, sym)) {
      snprintf(buf, cap,
               "built for plugin ABI %d (exports %s), this portico speaks "
               "%d.%d and looks for %s; rebuild it against this SDK",
               major, sym, PT_ABI_MAJOR, PT_ABI_MINOR, PT_ENTRY_SYMBOL);
      return;
    }
  }
  snprintf(buf, cap,
           "no %s symbol: not a Portico plugin, or built without PT_PLUGIN() "
           "or with the symbol hidden; define it with PT_PLUGIN()",
           PT_ENTRY_SYMBOL);
}

int32_t pt_loader_load(pt_kernel *k, const char *path)
{
  char why[768];
  struct stat st;
  if (stat(path, &st) != 0)
    return refuse(k, path, NULL, PT_ENOENT, "cannot read it: %s",
                  strerror(errno));
  if (!S_ISREG(st.st_mode))
    return refuse(k, path, &st, PT_EINVAL,
                  "not a regular file; remove it from the plugin folder");
  if (st.st_mode & S_IWOTH)
    return refuse(k, path, &st, PT_EPERM,
                  "the file is writable by every user (mode %04o), so anyone "
                  "could replace the code portico runs; run chmod o-w on it",
                  (unsigned)(st.st_mode & 07777));

  char *slash = strrchr(path, '/');
  char dir[4096];
  snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - path) : 1,
           slash ? (slash == path ? "/" : path) : ".");
  struct stat dst;
  if (stat(dir, &dst) == 0 && (dst.st_mode & S_IWOTH))
    return refuse(k, path, &st, PT_EPERM,
                  "its folder %s is writable by every user (mode %04o), so "
                  "anyone could drop code there; run chmod o-w on the folder",
                  dir, (unsigned)(dst.st_mode & 07777));

  pt_host *same = find_by_path(k, path);
  if (same) return PT_EEXIST;

  char dlerr[512];
  void *dl = pt_dl_open(path, dlerr, sizeof dlerr);
  if (!dl)
    return refuse(k, path, &st, PT_EPLUGIN,
                  "not a loadable shared object (%s); rebuild it as a shared "
                  "library for this platform, or remove it",
                  dlerr);

  const pt_plugin_desc *d = pt_dl_sym(dl, PT_ENTRY_SYMBOL);
  if (!d) {
    explain_missing_entry(dl, why, sizeof why);
    pt_dl_close(dl);
    return refuse(k, path, &st, PT_EVERSION, "%s", why);
  }
  if (check_desc(d, why, sizeof why)) {
    pt_dl_close(dl);
    return refuse(k, path, &st, PT_EVERSION, "%s", why);
  }
  pt_host *dup = pt_loader_find(k, d->name);
  if (dup) {
    snprintf(why, sizeof why,
             "a plugin named '%s' is already loaded from %s; remove one of "
             "the two files from the plugin path",
             d->name, dup->path);
    pt_dl_close(dl);
    return refuse(k, path, &st, PT_EEXIST, "%s", why);
  }

  pt_host *h = calloc(1, sizeof *h);
  if (!h || !(h->path = strdup(path))) {
    free(h);
    pt_dl_close(dl);
    return refuse(k, path, &st, PT_ENOMEM, "out of memory while loading it");
  }
  file_id id = file_id_of(&st);
  h->k = k;
  h->desc = d;
  h->dl = dl;
  h->dev = id.dev;
  h->ino = id.ino;
  h->mtime_ns = id.mtime_ns;
  h->size = id.size;
  h->state = PT_PLUGIN_INIT;
  /* Linked before init() so add_provider() can name it in conflicts. */
  pt_host **tail = &k->plugins;
  while (*tail) tail = &(*tail)->next;
  *tail = h;

  int32_t rc = d->init(h, pt__host_api());
  if (rc < 0 || h->reg_failed) {
    /* A failed registration explains a failed init() better than the
     * code init() passed on. */
    if (rc < 0 && !h->reg_failed)
      snprintf(why, sizeof why,
               "its init failed with %s: %s; check its settings "
               "(plugins.%s in config.lua) and its log lines above",
               pt_errname(rc), h->error[0] ? h->error : pt_strerror(rc),
               d->name);
    else
      snprintf(why, sizeof why, "%s", h->reg_error);
    /* Whatever init() started (HTTP, work) must finish before the code is
     * unmapped, so a refused plugin leaves through the normal unload path;
     * fini() pairs with a successful init() only. */
    h->skip_fini = rc < 0;
    h->refused = 1;
    h->state = PT_PLUGIN_ACTIVE;
    pt_loader_unload(h);
    return refuse(k, path, &st, rc < 0 ? PT_EPLUGIN : PT_EEXIST, "%s", why);
  }
  h->state = PT_PLUGIN_ACTIVE;

  pt_refusal *old = find_refusal(k, path);
  if (old) drop_refusal(k, old);
  pt_log_debug("loader", "loaded plugin %s %s from %s", d->name,
               d->version ? d->version : "", path);
  notify(k, "loaded", d->name, path, d->version);
  return PT_OK;
}

/* ------------------------------------------------------------------------ */
/* Unload                                                                    */

static void on_drain_timer_closed(uv_handle_t *t)
{
  free(t);
}

static void finalize(pt_host *h)
{
  pt_kernel *k = h->k;

  /* A post may have slipped in since the counts were read; the lock makes
   * the FINI switch and the last look at post_count one step. */
  uv_mutex_lock(&k->post_lock);
  if (h->post_count > 0) {
    uv_mutex_unlock(&k->post_lock);
    return;
  }
  h->state = PT_PLUGIN_FINI;
  uv_mutex_unlock(&k->post_lock);

  destroy_registrations(h);
  if (h->desc->fini && !h->skip_fini) h->desc->fini(h);
  uv_close((uv_handle_t *)h->drain_timer, on_drain_timer_closed);
  h->drain_timer = NULL;
  unlink_plugin(k, h);

  char *name = strdup(h->desc->name);
  char *path = strdup(h->path);
  int reload = h->reload_after;
  int refused = h->refused;
  void *dl = h->dl;
  free_host(h);
  pt_dl_close(dl);
  if (!refused) {
    pt_log_debug("loader", "unloaded plugin %s (%s)", name ? name : "?",
                 path ? path : "?");
    notify(k, "unloaded", name, path, NULL);
  }
  free(name);
  free(path);

  if (reload && !k->stopping) pt_loader_scan(k);
  pt__kernel_plugin_gone(k);
}

/* The plugin had its time to end its cancelled operations and did not:
 * end them for their callers, stop everything of it that could call back,
 * and set it aside. Its code stays mapped, because what it still holds
 * (threads, callbacks queued elsewhere) may run; it is freed with the
 * kernel. */
static void on_drain_timeout(uv_timer_t *t)
{
  pt_host *h = t->data;
  pt_kernel *k = h->k;
  if (h->state != PT_PLUGIN_DRAINING) return;
  char why[512];
  snprintf(why, sizeof why,
           "plugin %s did not end %zu operation%s within %llu ms of being "
           "asked to stop; they were ended for it. Report this to the "
           "plugin's author",
           h->desc->name, h->op_count, h->op_count == 1 ? "" : "s",
           (unsigned long long)(k->opts.drain_timeout_ms
                                    ? k->opts.drain_timeout_ms
                                    : PT_DRAIN_TIMEOUT_MS));
  pt_log_error("loader", "%s", why);
  pt__ops_abandon_plugin(h, why);
  if (!h->services_cancelled) {
    h->services_cancelled = 1;
    pt__host_cancel_services(h);
  }
  uv_mutex_lock(&k->post_lock);
  h->state = PT_PLUGIN_ABANDONED;
  uv_mutex_unlock(&k->post_lock);
  uv_close((uv_handle_t *)h->drain_timer, on_drain_timer_closed);
  h->drain_timer = NULL;
  unlink_plugin(k, h);
  h->next = k->abandoned;
  k->abandoned = h;
  notify(k, "abandoned", h->desc->name, h->path, why);
  pt__kernel_plugin_gone(k);
}

void pt_loader_free_abandoned(pt_kernel *k)
{
  while (k->abandoned) {
    pt_host *h = k->abandoned;
    k->abandoned = h->next;
    pt__ops_free_plugin(h);
    free_host(h);
  }
}

static void on_drain_timer(uv_timer_t *t)
{
  pt_host *h = t->data;
  if (h->op_count == 0 && h->http_count == 0 && h->work_count == 0 &&
      h->post_count == 0)
    finalize(h);
}

void pt__host_maybe_drained(pt_host *h)
{
  if (h->state != PT_PLUGIN_DRAINING) return;
  if (h->op_count > 0) return;
  if (!h->services_cancelled) {
    h->services_cancelled = 1;
    pt__host_cancel_services(h);
  }
  if (h->http_count == 0 && h->work_count == 0 && h->post_count == 0)
    uv_timer_start(h->drain_timer, on_drain_timer, 0, 0);
}

void pt_loader_unload(pt_host *h)
{
  if (h->state != PT_PLUGIN_ACTIVE) return;
  h->drain_timer = malloc(sizeof *h->drain_timer);
  if (!h->drain_timer) {
    pt_log_error("loader", "out of memory unloading plugin %s; it stays",
                 h->desc->name);
    return;
  }
  uv_timer_init(&h->k->loop, h->drain_timer);
  h->drain_timer->data = h;
  uv_timer_start(h->drain_timer, on_drain_timeout,
                 h->k->opts.drain_timeout_ms ? h->k->opts.drain_timeout_ms
                                             : PT_DRAIN_TIMEOUT_MS,
                 0);
  h->state = PT_PLUGIN_DRAINING;
  pt_registry_remove_plugin(&h->k->registry, h);
  pt_log_debug("loader", "unloading plugin %s: %zu operations in flight",
               h->desc->name, h->op_count);
  pt__ops_cancel_plugin(h);
  pt__host_maybe_drained(h);
}

void pt_loader_unload_all(pt_kernel *k)
{
  pt_host *h = k->plugins;
  while (h) {
    pt_host *next = h->next;
    pt_loader_unload(h);
    h = next;
  }
}

/* ------------------------------------------------------------------------ */
/* Scan                                                                      */

static int has_suffix(const char *name, const char *suffix)
{
  size_t n = strlen(name), s = strlen(suffix);
  return n > s && strcmp(name + n - s, suffix) == 0;
}

static int plugin_file_filter(const struct dirent *e)
{
  return e->d_name[0] != '.' && has_suffix(e->d_name, PT_DL_SUFFIX);
}

static void scan_dir(pt_kernel *k, const char *dir)
{
  struct dirent **names;
  int n = scandir(dir, &names, plugin_file_filter, alphasort);
  if (n < 0) return;
  for (int i = 0; i < n; i++) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
    free(names[i]);
    struct stat st;
    if (stat(path, &st) != 0) continue;
    file_id id = file_id_of(&st);

    pt_host *h = find_by_path(k, path);
    if (h) {
      int changed = h->dev != id.dev || h->ino != id.ino ||
                    h->mtime_ns != id.mtime_ns || h->size != id.size;
      if (changed && h->state == PT_PLUGIN_ACTIVE) {
        pt_log_info("loader", "plugin %s changed on disk; reloading it",
                    path);
        h->reload_after = 1;
        pt_loader_unload(h);
      } else if (changed) {
        h->reload_after = 1;
      }
      continue;
    }
    pt_refusal *r = find_refusal(k, path);
    if (r && r->dev == id.dev && r->ino == id.ino &&
        r->mtime_ns == id.mtime_ns && r->size == id.size)
      continue;
    pt_loader_load(k, path);
  }
  free(names);
}

void pt_loader_scan(pt_kernel *k)
{
  if (k->stopping) return;
  for (pt_host *h = k->plugins; h; h = h->next) {
    struct stat st;
    if (h->state == PT_PLUGIN_ACTIVE && stat(h->path, &st) != 0) {
      pt_log_info("loader", "plugin %s was removed; unloading it", h->path);
      pt_loader_unload(h);
    }
  }
  pt_refusal *r = k->refusals;
  while (r) {
    pt_refusal *next = r->next;
    struct stat st;
    if (stat(r->path, &st) != 0) drop_refusal(k, r);
    r = next;
  }
  for (size_t i = 0; i < k->search_path_count; i++)
    scan_dir(k, k->search_path[i]);
}
