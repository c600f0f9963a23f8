/*
 * tests/test_plugin_dl_ltdl.c: the libltdl branch of core/plugin_dl.c, the
 * one Windows builds use, compiled here with PORTICO_USE_LTDL so that it is
 * exercised on every run: it maps a real plugin, finds its descriptor, and
 * refuses a file that is not a shared object with the linker's reason.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "harness.h"
#include "plugin_dl.h"
#include "portico/plugin.h"

static void ltdl_maps_a_plugin_and_finds_its_descriptor(void)
{
  char *dir = h_tempdir();
  h_copy_plugin("echo.so", dir, NULL);
  char path[4200], err[512] = "";
  snprintf(path, sizeof path, "%s/echo.so", dir);
  void *dl = pt_dl_open(path, err, sizeof err);
  CHECK(dl != NULL);
  const pt_plugin_desc *d = dl ? pt_dl_sym(dl, PT_ENTRY_SYMBOL) : NULL;
  CHECK(d != NULL);
  if (d) {
    CHECK_STR(d->name, "echo");
    CHECK_INT(d->abi_major, ==, PT_ABI_MAJOR);
  }
  CHECK(dl == NULL || pt_dl_sym(dl, "portico_plugin_v2") == NULL);
  pt_dl_close(dl);
  h_rmtree(dir);
  free(dir);
}

static void ltdl_refuses_a_file_that_is_not_an_object(void)
{
  char *dir = h_tempdir();
  h_write_file(dir, "junk.so", "not an object", 13, 0755);
  char path[4200], err[512] = "";
  snprintf(path, sizeof path, "%s/junk.so", dir);
  CHECK(pt_dl_open(path, err, sizeof err) == NULL);
  CHECK(err[0] != '\0');
  h_rmtree(dir);
  free(dir);
}

int main(void)
{
  RUN(ltdl_maps_a_plugin_and_finds_its_descriptor);
  RUN(ltdl_refuses_a_file_that_is_not_an_object);
  return check_report();
}
