/*
 * core/cli.h: the command-line front door.
 *
 * main.c reads the global options (which may stand anywhere on the line),
 * picks the command, and hands it the rest of the words. Each command lives
 * in its own cli_<command>.c and returns the process exit status: 0 on
 * success, 1 when the work failed, 2 when the words were wrong.
 */
#ifndef PT_CLI_H
#define PT_CLI_H

#include <stddef.h>

#include "kernel.h"

enum { PT_EXIT_OK = 0, PT_EXIT_FAIL = 1, PT_EXIT_USAGE = 2 };

typedef struct pt_cli {
  const char *config_path;      /* --config, else PORTICO_CONFIG */
  const char *data_dir;         /* --data-dir */
  const char **plugin_dirs;     /* --plugins, in order; owned array */
  size_t plugin_dir_count;
  int no_default_plugins;       /* --no-default-plugins */
  int verbose;                  /* -v: 1, -vv: 2 */
  int log_level_set;            /* -v or PORTICO_LOG given */
} pt_cli;

/* Fill kernel options from the global options. */
void pt_cli_kernel_options(const pt_cli *cli, pt_kernel_options *o);

/* Start a kernel for a command; on failure prints the reason and returns
 * NULL. */
pt_kernel *pt_cli_kernel(const pt_cli *cli, pt_kernel_options *o);

/* True when `arg` is -h or --help. */
int pt_cli_is_help(const char *arg);

/* Print to stderr "portico: <message>" and the hint to run --help; returns
 * PT_EXIT_USAGE. */
int pt_cli_usage_error(const char *command, const char *fmt, ...)
    PT_PRINTF(2, 3);

/* The global options, for every command's --help. */
extern const char pt_cli_global_help[];

int pt_cli_version(const pt_cli *cli, int argc, char **argv);
int pt_cli_plugins(const pt_cli *cli, int argc, char **argv);
int pt_cli_chat(const pt_cli *cli, int argc, char **argv);
int pt_cli_models(const pt_cli *cli, int argc, char **argv);

#endif
