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
#include <stdio.h>

#include "kernel.h"
#include "store/store.h"

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

/*
 * Open the data folder's store for a command that reads (write = 0) or
 * changes it: read-write when possible (marking cut-off turns interrupted
 * on the way), read-only when the file cannot be written and `write` is 0.
 * PT_ENOENT with *out NULL when nothing was saved yet; other errors are
 * printed. Caller owns *out: pt_store_close().
 */
int32_t pt_cli_store(const pt_cli *cli, int write, pt_store **out);

/* Unix milliseconds as local "YYYY-MM-DD HH:MM". */
void pt_cli_time(int64_t ms, char *buf, size_t len);

/* A session as Markdown: `transcript` is {"session":…, "messages":…}
 * (pt_store_session_get and pt_store_messages). */
void pt_cli_export_markdown(const cJSON *transcript, FILE *out);

int pt_cli_version(const pt_cli *cli, int argc, char **argv);
int pt_cli_plugins(const pt_cli *cli, int argc, char **argv);
int pt_cli_chat(const pt_cli *cli, int argc, char **argv);
int pt_cli_models(const pt_cli *cli, int argc, char **argv);
int pt_cli_sessions(const pt_cli *cli, int argc, char **argv);
int pt_cli_usage(const pt_cli *cli, int argc, char **argv);
int pt_cli_policy(const pt_cli *cli, int argc, char **argv);
int pt_cli_acp(const pt_cli *cli, int argc, char **argv);
int pt_cli_serve(const pt_cli *cli, int argc, char **argv);

#endif
