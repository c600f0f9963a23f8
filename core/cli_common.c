/*
 * core/cli_common.c: what every command shares: starting a kernel from the
 * global options, and `portico version`.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

void pt_cli_kernel_options(const pt_cli *cli, pt_kernel_options *o)
{
  memset(o, 0, sizeof *o);
  o->config_path = cli->config_path;
  o->data_dir = cli->data_dir;
  o->plugin_dirs = cli->plugin_dirs;
  o->plugin_dir_count = cli->plugin_dir_count;
  o->no_default_plugins = cli->no_default_plugins;
}

pt_kernel *pt_cli_kernel(const pt_cli *cli, pt_kernel_options *o)
{
  pt_kernel *k = NULL;
  char err[1024] = "";
  int32_t rc = pt_kernel_new(o, &k, err, sizeof err);
  if (rc != PT_OK) {
    fprintf(stderr, "portico: %s\n", err[0] ? err : pt_strerror(rc));
    return NULL;
  }
  return k;
}

static const char version_help[] =
    "usage: portico version [--json]\n"
    "\n"
    "Print portico's version and the plugin ABI it speaks.\n"
    "\n"
    "  --json   one JSON object instead of text\n"
    "\n";

int pt_cli_version(const pt_cli *cli, int argc, char **argv)
{
  int json = 0;
  for (int i = 0; i < argc; i++) {
    if (pt_cli_is_help(argv[i])) {
      fputs(version_help, stdout);
      fputs(pt_cli_global_help, stdout);
      return PT_EXIT_OK;
    }
    if (strcmp(argv[i], "--json") == 0) {
      json = 1;
      continue;
    }
    return pt_cli_usage_error("version", "unexpected '%s'", argv[i]);
  }
  if (json)
    printf("{\"version\":\"%s\",\"abi_major\":%d,\"abi_minor\":%d}\n",
           PORTICO_VERSION, PT_ABI_MAJOR, PT_ABI_MINOR);
  else
    printf("portico %s (plugin ABI %d.%d)\n", PORTICO_VERSION, PT_ABI_MAJOR,
           PT_ABI_MINOR);
  return PT_EXIT_OK;
}
