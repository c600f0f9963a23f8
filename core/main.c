/*
 * core/main.c: `portico` — global options and command dispatch.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "log.h"

const char pt_cli_global_help[] =
    "Global options (anywhere on the line):\n"
    "  --plugins DIR          also load plugins from DIR (repeatable; searched\n"
    "                         before PORTICO_PLUGIN_PATH and the defaults)\n"
    "  --no-default-plugins   skip the user and bundled plugin folders\n"
    "  --config FILE          config.lua to read (env PORTICO_CONFIG; default\n"
    "                         $XDG_CONFIG_HOME/portico/config.lua)\n"
    "  --data-dir DIR         where portico keeps its data (env\n"
    "                         PORTICO_DATA_DIR; default $XDG_DATA_HOME/portico)\n"
    "  -v, --verbose          more log lines on stderr (-vv for debug)\n"
    "  -h, --help             help for portico or for a command\n";

static const char main_help[] =
    "usage: portico [options] COMMAND [ARGS]\n"
    "\n"
    "A local-first AI agent runtime.\n"
    "\n"
    "Commands:\n"
    "  acp                        speak the Agent Client Protocol on stdio\n"
    "                             (for editors that run an ACP agent)\n"
    "  serve                      serve the HTTP API (REST, SSE, WebSocket)\n"
    "  chat [PROMPT]              stream a model's reply, or converse\n"
    "  models                     the models each provider can reach\n"
    "  plugins [list|info|watch]  what the plugins provide, and why any\n"
    "                             plugin was refused\n"
    "  policy [rules|forget|allow|deny|explain|test]\n"
    "                             the permission policy and stored rules\n"
    "  sessions [list|show|search|export|delete]\n"
    "                             the saved conversations\n"
    "  usage                      tokens and cost, by model, provider, day\n"
    "                             or session\n"
    "  version                    print the version and plugin ABI\n"
    "\n";

int pt_cli_is_help(const char *arg)
{
  return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0;
}

int pt_cli_usage_error(const char *command, const char *fmt, ...)
{
  va_list ap;
  fputs("portico: ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\nrun 'portico %s%s--help' for usage\n",
          command ? command : "", command ? " " : "");
  return PT_EXIT_USAGE;
}

/* `--name VALUE` or `--name=VALUE`; advances *i past a separate value. */
static const char *option_value(int argc, char **argv, int *i,
                                const char *name, int *bad)
{
  size_t n = strlen(name);
  const char *arg = argv[*i];
  if (strncmp(arg, name, n) != 0) return NULL;
  if (arg[n] == '=') return arg + n + 1;
  if (arg[n] != '\0') return NULL;
  if (*i + 1 >= argc) {
    *bad = 1;
    return NULL;
  }
  return argv[++*i];
}

int main(int argc, char **argv)
{
  pt_cli cli = { 0 };
  char **rest = calloc((size_t)argc + 1, sizeof *rest);
  cli.plugin_dirs = calloc((size_t)argc + 1, sizeof *cli.plugin_dirs);
  if (!rest || !cli.plugin_dirs) {
    fputs("portico: out of memory\n", stderr);
    return PT_EXIT_FAIL;
  }
  int nrest = 0, bad = 0, status;
  const char *v;

  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    if (strcmp(arg, "--") == 0) {
      while (++i < argc) rest[nrest++] = argv[i];
      break;
    }
    if ((v = option_value(argc, argv, &i, "--plugins", &bad))) {
      cli.plugin_dirs[cli.plugin_dir_count++] = v;
    } else if ((v = option_value(argc, argv, &i, "--config", &bad))) {
      cli.config_path = v;
    } else if ((v = option_value(argc, argv, &i, "--data-dir", &bad))) {
      cli.data_dir = v;
    } else if (bad) {
      status = pt_cli_usage_error(NULL, "%s needs a value", arg);
      goto out;
    } else if (strcmp(arg, "--no-default-plugins") == 0) {
      cli.no_default_plugins = 1;
    } else if (strcmp(arg, "-v") == 0 || strcmp(arg, "--verbose") == 0) {
      cli.verbose++;
    } else if (strcmp(arg, "-vv") == 0) {
      cli.verbose += 2;
    } else {
      rest[nrest++] = argv[i];
    }
  }
  if (!cli.config_path) {
    const char *env = getenv("PORTICO_CONFIG");
    if (env && *env) cli.config_path = env;
  }
  cli.log_level_set = cli.verbose > 0;
  pt_log_set_level(PT_LOG_WARN + cli.verbose);

  if (nrest == 0 || pt_cli_is_help(rest[0])) {
    fputs(main_help, stdout);
    fputs(pt_cli_global_help, stdout);
    status = nrest == 0 ? PT_EXIT_USAGE : PT_EXIT_OK;
  } else if (strcmp(rest[0], "--version") == 0 ||
             strcmp(rest[0], "version") == 0) {
    status = pt_cli_version(&cli, nrest - 1, rest + 1);
  } else if (strcmp(rest[0], "acp") == 0) {
    status = pt_cli_acp(&cli, nrest - 1, rest + 1);
  } else if (strcmp(rest[0], "serve") == 0) {
    status = pt_cli_serve(&cli, nrest - 1, rest + 1);
  } else if (strcmp(rest[0], "chat") == 0) {
    status = pt_cli_chat(&cli, nrest - 1, rest + 1);
  } else if (strcmp(rest[0], "models") == 0) {
    status = pt_cli_models(&cli, nrest - 1, rest + 1);
  } else if (strcmp(rest[0], "plugins") == 0) {
    status = pt_cli_plugins(&cli, nrest - 1, rest + 1);
  } else if (strcmp(rest[0], "policy") == 0) {
    status = pt_cli_policy(&cli, nrest - 1, rest + 1);
  } else if (strcmp(rest[0], "sessions") == 0) {
    status = pt_cli_sessions(&cli, nrest - 1, rest + 1);
  } else if (strcmp(rest[0], "usage") == 0) {
    status = pt_cli_usage(&cli, nrest - 1, rest + 1);
  } else {
    status = pt_cli_usage_error(NULL, "unknown command '%s'", rest[0]);
  }
out:
  free(rest);
  free(cli.plugin_dirs);
  pt_log_reset();
  return status;
}
