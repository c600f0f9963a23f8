/*
 * tests/support/harness.c: see harness.h.
 */
#include "harness.h"

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

static void die(const char *what)
{
  perror(what);
  abort();
}

char *h_tempdir(void)
{
  const char *base = getenv("TMPDIR");
  char tmpl[4096];
  snprintf(tmpl, sizeof tmpl, "%s/portico-test-XXXXXX",
           base && *base ? base : "/tmp");
  if (!mkdtemp(tmpl)) die("mkdtemp");
  chmod(tmpl, 0755);
  return strdup(tmpl);
}

static int rm_one(const char *path, const struct stat *st, int flag,
                  struct FTW *ftw)
{
  return remove(path);
}

void h_rmtree(const char *dir)
{
  if (dir && strstr(dir, "portico-test-"))
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

void h_write_file(const char *dir, const char *name, const void *data,
                  size_t len, unsigned mode)
{
  char path[4096], tmp[4200];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  /* Write beside and rename, as an installer would, so a watching kernel
   * never sees a half-written file. */
  snprintf(tmp, sizeof tmp, "%s/.%s.tmp", dir, name);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) die(tmp);
  const char *p = data;
  while (len > 0) {
    ssize_t w = write(fd, p, len);
    if (w <= 0) die("write");
    p += w;
    len -= (size_t)w;
  }
  fchmod(fd, mode);
  close(fd);
  if (rename(tmp, path) != 0) die("rename");
}

static void copy_from(const char *env, const char *name, const char *dir,
                      const char *as)
{
  const char *from_dir = getenv(env);
  if (!from_dir) {
    fprintf(stderr, "%s is not set; run through ctest\n", env);
    abort();
  }
  char src[4096];
  snprintf(src, sizeof src, "%s/%s", from_dir, name);
  FILE *f = fopen(src, "rb");
  if (!f) die(src);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = malloc((size_t)n);
  if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) die("read plugin");
  fclose(f);
  h_write_file(dir, as ? as : name, buf, (size_t)n, 0755);
  free(buf);
}

void h_copy_plugin(const char *name, const char *dir, const char *as)
{
  copy_from("PORTICO_TEST_PLUGIN_DIR", name, dir, as);
}

void h_copy_bundled(const char *name, const char *dir)
{
  copy_from("PORTICO_BUNDLED_PLUGIN_DIR", name, dir, NULL);
}

char *h_write_config(const char *dir, const char *lua)
{
  h_write_file(dir, "config.lua", lua, strlen(lua), 0644);
  char path[4200];
  snprintf(path, sizeof path, "%s/config.lua", dir);
  return strdup(path);
}

static void on_event(void *ud, const char *what, const char *name,
                     const char *path, const char *detail)
{
  h_events *ev = ud;
  const char *base = path ? strrchr(path, '/') : NULL;
  int n = snprintf(ev->text + ev->len, sizeof ev->text - ev->len,
                   "%s %s %s: %s\n", what, name ? name : "-",
                   base ? base + 1 : (path ? path : "-"),
                   detail ? detail : "");
  if (n > 0 && (size_t)n < sizeof ev->text - ev->len) ev->len += (size_t)n;
  ev->count++;
}

pt_kernel_options h_options(const char **dir, h_events *ev,
                            const char *config_path)
{
  static char empty_config[4096];
  pt_kernel_options o;
  memset(&o, 0, sizeof o);
  o.plugin_dirs = dir;
  o.plugin_dir_count = dir ? 1 : 0;
  o.no_default_plugins = 1;
  o.on_plugin_event = ev ? on_event : NULL;
  o.ud = ev;
  if (!config_path) {
    /* An explicit empty config keeps the user's own config.lua out. */
    if (!empty_config[0]) {
      char *d = h_tempdir();
      snprintf(empty_config, sizeof empty_config, "%s/config.lua", d);
      FILE *f = fopen(empty_config, "w");
      if (!f) die(empty_config);
      fputs("return {}\n", f);
      fclose(f);
      free(d);
    }
    config_path = empty_config;
  }
  o.config_path = config_path;
  return o;
}

pt_kernel *h_kernel(const pt_kernel_options *o)
{
  pt_kernel *k = NULL;
  char err[1024] = "";
  if (pt_kernel_new(o, &k, err, sizeof err) != PT_OK) {
    fprintf(stderr, "kernel: %s\n", err);
    abort();
  }
  return k;
}

uint64_t h_now_ms(void)
{
  return uv_hrtime() / 1000000;
}

int h_run_until(pt_kernel *k, const int *flag, uint64_t ms)
{
  uint64_t deadline = h_now_ms() + ms;
  while (!*flag && h_now_ms() < deadline) pt_kernel_spin(k, 5);
  return *flag;
}

void h_fixture_prepare(h_fixture *f, const char *const *plugins)
{
  memset(f, 0, sizeof *f);
  f->dir = h_tempdir();
  for (size_t i = 0; plugins && plugins[i]; i++)
    h_copy_plugin(plugins[i], f->dir, NULL);
  f->dirs[0] = f->dir;
}

void h_fixture_boot(h_fixture *f, int watch, const char *config_path)
{
  f->o = h_options(f->dirs, &f->ev, config_path);
  f->o.watch = watch;
  f->k = h_kernel(&f->o);
}

void h_fixture_start(h_fixture *f, const char *const *plugins, int watch,
                     const char *config_path)
{
  h_fixture_prepare(f, plugins);
  h_fixture_boot(f, watch, config_path);
}

void h_fixture_stop(h_fixture *f)
{
  pt_kernel_free(f->k);
  h_rmtree(f->dir);
  free(f->dir);
  memset(f, 0, sizeof *f);
}

static void trace_done(h_events *t, int32_t status)
{
  if (!t) return;
  int n = snprintf(t->text + t->len, sizeof t->text - t->len, "done %s\n",
                   pt_errname(status));
  if (n > 0 && (size_t)n < sizeof t->text - t->len) t->len += (size_t)n;
}

void h_on_chat_event(void *ud, const pt_chat_event *ev)
{
  h_chat *c = ud;
  if (ev->kind == PT_EV_TEXT && c->len + ev->text.len < sizeof c->text) {
    memcpy(c->text + c->len, ev->text.ptr, ev->text.len);
    c->len += ev->text.len;
    c->text[c->len] = '\0';
  } else if (ev->kind == PT_EV_USAGE) {
    c->out_tokens = ev->output_tokens;
  } else if (ev->kind == PT_EV_DONE) {
    c->done++;
    c->status = ev->status;
    c->stop = ev->stop;
    trace_done(c->trace, ev->status);
  }
}

void h_on_tool_done(void *ud, int32_t status, pt_str result)
{
  h_tool *t = ud;
  t->done++;
  t->status = status;
  snprintf(t->result, sizeof t->result, "%.*s", (int)result.len, result.ptr);
  trace_done(t->trace, status);
}

long long h_db_int(const char *db_path, const char *sql)
{
  sqlite3 *db = NULL;
  sqlite3_stmt *s = NULL;
  long long v = -1;
  sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL);
  if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK &&
      sqlite3_step(s) == SQLITE_ROW)
    v = sqlite3_column_int64(s, 0);
  else
    fprintf(stderr, "h_db_int(%s): %s\n", sql, sqlite3_errmsg(db));
  sqlite3_finalize(s);
  sqlite3_close(db);
  return v;
}
