/*
 * core/cli_chat.c: `portico chat` — talk to a provider from a terminal or
 * a script.
 *
 * One prompt on the command line (or piped on stdin) streams one reply;
 * with neither and a terminal, a line-editing REPL keeps the conversation.
 * The reply goes to stdout as it arrives; reasoning, tool calls and errors
 * go to stderr, so `portico chat "…" > answer.txt` captures the answer
 * alone. --json prints every normalized event as one JSON object per line
 * instead (core/event_json.h).
 *
 * Ctrl-C during a reply cancels it; a second Ctrl-C exits at once. With
 * --tools (or an --agent profile that offers tools) a turn runs the agent
 * loop (core/chat_agent.h); without, a reply that asks for a tool ends the
 * turn and shows the call.
 *
 * Every chat is saved as a session (core/chat_record.h) unless --no-store;
 * --session ID continues one, its messages sent again as the history.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <editline/readline.h>

#include "chat_agent.h"
#include "chat_record.h"
#include "chat_shared.h"
#include "cli.h"
#include "event_json.h"
#include "ops.h"
#include "pricing.h"

#define EXIT_CANCELLED 130
#define EXIT_TERMINATED 143

static const char chat_help[] =
    "usage: portico chat [-p|--provider NAME] [-m|--model MODEL]\n"
    "                    [--system TEXT] [--max-tokens N] [--json]\n"
    "                    [--session ID | --no-store] [--agent NAME]\n"
    "                    [--tools LIST] [--workspace DIR] [--policy FILE]\n"
    "                    [--yes] [--max-turns N] [--max-cost USD]\n"
    "                    [--max-tokens-total N] [PROMPT]\n"
    "\n"
    "Stream a model's reply to PROMPT. Without PROMPT, read it from piped\n"
    "stdin, or on a terminal start a conversation (Ctrl-D to leave).\n"
    "Ctrl-C cancels the reply in progress; a second Ctrl-C exits.\n"
    "\n"
    "  -p, --provider NAME  provider id (default: default_provider in\n"
    "                       config.lua, or the only provider loaded)\n"
    "  -m, --model MODEL    model id (default: default_model in config.lua)\n"
    "  --system TEXT        system prompt\n"
    "  --max-tokens N       longest reply, in tokens\n"
    "  --json               one JSON object per event on stdout, the first\n"
    "                       naming the session: {\"type\":\"session\",\"id\":…}\n"
    "  --session ID         continue a saved session (an id or its first\n"
    "                       digits; 'portico sessions list' shows them);\n"
    "                       its provider and model unless given\n"
    "  --no-store           do not save this chat (by default every chat is\n"
    "                       saved in the data folder's portico.db)\n"
    "  --agent NAME         a profile from config.lua's agents table\n"
    "                       (provider, model, system, tools, policy,\n"
    "                       max_turns, max_tokens_total, max_cost_usd);\n"
    "                       flags override its fields\n"
    "  --tools LIST         tools the model may call: ids or plugin names\n"
    "                       (all its tools), comma-separated; default none\n"
    "  --workspace DIR      the folder tools work in (default: here)\n"
    "  --policy FILE        the permission policy (default: the user's\n"
    "                       policy.lua, else the shipped one)\n"
    "  --yes                answer every ask with \"allow once\" (without\n"
    "                       it and without a terminal, asks are denied)\n"
    "  --max-turns N        model calls per turn at most (default 25)\n"
    "  --max-cost USD       end the turn before the next model call once\n"
    "                       its calls cost this much (tools only)\n"
    "  --max-tokens-total N the same for the tokens of its calls\n"
    "\n"
    "Exit status: 0 when the model finished, 1 on an error (one line on\n"
    "stderr), 130 when cancelled.\n"
    "\n";

typedef struct chat {
  pt_kernel *k;
  const char *provider, *model, *system;
  long max_tokens;
  int json;
  int stderr_tty;
  cJSON *messages;             /* the conversation so far */
  pt_price price;
  pt_chat_record rec;          /* the saved session, when recording */
  int recording;
  int session_shown;           /* --json: the session line was printed */

  /* The turn in progress. */
  pt_op_impl *op;
  int done;
  int32_t status;
  uint32_t stop;
  char *reply;                 /* assistant text, NUL-terminated */
  size_t reply_len, reply_cap;
  cJSON *calls;                /* tool_call parts of the reply */
  char error[1024];
  pt_chat_agent agent;         /* tools, workspace, policy */
  int sigints;
  int terminating;             /* SIGTERM: end the turn, then exit */
  uv_signal_t sigint, sigterm;
} chat;

/* ------------------------------------------------------------------------ */
/* Events                                                                    */

static void print_json_events(chat *c, const pt_chat_event *ev)
{
  cJSON *lines = cJSON_CreateArray();
  if (!lines || pt_event_to_json(ev, &c->price, lines) != 0) {
    cJSON_Delete(lines);
    return;
  }
  const cJSON *line;
  cJSON_ArrayForEach(line, lines) {
    char *text = cJSON_PrintUnformatted(line);
    if (text) puts(text);
    cJSON_free(text);
  }
  cJSON_Delete(lines);
  fflush(stdout);
}

static void keep_text(chat *c, pt_str t)
{
  if (c->reply_len + t.len + 1 > c->reply_cap) {
    size_t cap = c->reply_cap ? c->reply_cap : 1024;
    while (cap < c->reply_len + t.len + 1) cap *= 2;
    char *p = realloc(c->reply, cap);
    if (!p) return;
    c->reply = p;
    c->reply_cap = cap;
  }
  memcpy(c->reply + c->reply_len, t.ptr, t.len);
  c->reply_len += t.len;
  c->reply[c->reply_len] = '\0';
}

/* Save first, then show: what the chat shows as finished is on disk. */
static void record_event(chat *c, const pt_chat_event *ev)
{
  if (!c->recording) return;
  if (ev->kind != PT_EV_DONE) {
    pt_chat_record_event(&c->rec, ev);
    return;
  }
  char error[1024] = "";
  if (ev->status < 0 && ev->text.len)
    snprintf(error, sizeof error, "%.*s", (int)ev->text.len, ev->text.ptr);
  else if (ev->status < 0)
    snprintf(error, sizeof error, "%s", pt_strerror(ev->status));
  pt_chat_record_end(&c->rec, ev->status, ev->stop, error[0] ? error : NULL);
}

static void on_event(void *ud, const pt_chat_event *ev)
{
  chat *c = ud;
  record_event(c, ev);
  if (c->json) print_json_events(c, ev);
  switch (ev->kind) {
  case PT_EV_TEXT:
    keep_text(c, ev->text);
    if (!c->json) {
      fwrite(ev->text.ptr, 1, ev->text.len, stdout);
      fflush(stdout);
    }
    break;
  case PT_EV_THINKING:
    if (!c->json) {
      fprintf(stderr, "%s%.*s%s", c->stderr_tty ? "\033[2m" : "",
              (int)ev->text.len, ev->text.ptr, c->stderr_tty ? "\033[0m" : "");
    }
    break;
  case PT_EV_TOOL_CALL_END: {
    cJSON *part = cJSON_CreateObject();
    cJSON_AddStringToObject(part, "type", "tool_call");
    char id[256], name[256];
    snprintf(id, sizeof id, "%.*s", (int)ev->id.len, ev->id.ptr);
    snprintf(name, sizeof name, "%.*s", (int)ev->name.len, ev->name.ptr);
    cJSON_AddStringToObject(part, "id", id);
    cJSON_AddStringToObject(part, "name", name);
    cJSON *args = cJSON_ParseWithLength(ev->json.ptr, ev->json.len);
    cJSON_AddItemToObject(part, "arguments",
                          args ? args : cJSON_CreateObject());
    cJSON_AddItemToArray(c->calls, part);
    if (!c->json)
      fprintf(stderr, "\n[the model asks to call %s %.*s]\n", name,
              (int)ev->json.len, ev->json.ptr);
    break;
  }
  case PT_EV_DONE:
    c->done = 1;
    c->op = NULL;
    c->status = ev->status;
    c->stop = ev->stop;
    if (ev->status < 0 && ev->stop != PT_STOP_CANCELLED && ev->text.len)
      snprintf(c->error, sizeof c->error, "%s: %.*s", c->provider,
               (int)ev->text.len, ev->text.ptr);
    else if (ev->status < 0 && ev->stop != PT_STOP_CANCELLED)
      snprintf(c->error, sizeof c->error, "%s: %s", c->provider,
               pt_strerror(ev->status));
    break;
  default:
    break;
  }
}

/* ------------------------------------------------------------------------ */
/* A turn                                                                    */

static void on_sigint(uv_signal_t *s, int signum)
{
  chat *c = s->data;
  if (++c->sigints > 1) {
    fputs("\n", stderr);
    if (c->recording)
      pt_chat_record_end(&c->rec, PT_ECANCELED, PT_STOP_CANCELLED,
                         "Ctrl-C twice");
    _exit(EXIT_CANCELLED);
  }
  if (c->op || c->agent.running) {
    if (!c->json) fputs("\n^C cancelling (again to quit)\n", stderr);
    if (c->op) pt_op_cancel(c->op);
    pt__chat_agent_cancel(&c->agent);
  }
}

/* SIGTERM ends the reply as a cancel does, so what streamed is kept and
 * the turn is recorded as interrupted, and then the process exits. */
static void on_sigterm(uv_signal_t *s, int signum)
{
  chat *c = s->data;
  c->terminating = 1;
  if (c->op) pt_op_cancel(c->op);
  pt__chat_agent_cancel(&c->agent);
}

static int run_agent_turn(chat *c)
{
  pt_chat_agent_turn t = {
    .k = c->k, .provider = c->provider, .model = c->model,
    .system = c->system, .max_tokens = c->max_tokens,
    .messages = c->messages, .json = c->json, .stderr_tty = c->stderr_tty,
    .price = &c->price, .rec = c->recording ? &c->rec : NULL,
    .terminating = &c->terminating };
  uv_signal_start(&c->sigint, on_sigint, SIGINT);
  uv_signal_start(&c->sigterm, on_sigterm, SIGTERM);
  int status = pt__chat_agent_run(&c->agent, &t);
  uv_signal_stop(&c->sigint);
  uv_signal_stop(&c->sigterm);
  return status;
}

static cJSON *build_request(chat *c)
{
  cJSON *req = cJSON_CreateObject();
  cJSON_AddStringToObject(req, "model", c->model);
  if (c->system) cJSON_AddStringToObject(req, "system", c->system);
  if (c->max_tokens > 0)
    cJSON_AddNumberToObject(req, "max_tokens", (double)c->max_tokens);
  cJSON_AddItemReferenceToObject(req, "messages", c->messages);
  return req;
}

/* Record the reply as the assistant's message, so a REPL keeps context. */
static void keep_reply(chat *c)
{
  if (c->reply_len == 0 && cJSON_GetArraySize(c->calls) == 0) return;
  cJSON *msg = cJSON_CreateObject();
  cJSON_AddStringToObject(msg, "role", "assistant");
  cJSON *content = cJSON_AddArrayToObject(msg, "content");
  if (c->reply_len) {
    cJSON *part = cJSON_CreateObject();
    cJSON_AddStringToObject(part, "type", "text");
    cJSON_AddStringToObject(part, "text", c->reply);
    cJSON_AddItemToArray(content, part);
  }
  cJSON *call;
  cJSON_ArrayForEach(call, c->calls)
    cJSON_AddItemToArray(content, cJSON_Duplicate(call, 1));
  cJSON_AddItemToArray(c->messages, msg);
}

/* Send the conversation and stream the reply. Returns the exit status. */
static int run_turn(chat *c)
{
  c->done = 0;
  c->status = PT_OK;
  c->stop = PT_STOP_NONE;
  c->reply_len = 0;
  c->error[0] = '\0';
  c->sigints = 0;
  cJSON_Delete(c->calls);
  c->calls = cJSON_CreateArray();

  if (c->recording) {
    int n = cJSON_GetArraySize(c->messages);
    pt_chat_record_begin(&c->rec, c->provider, c->model, &c->price,
                         c->system, cJSON_GetArrayItem(c->messages, n - 1));
    if (c->json && !c->session_shown && c->rec.session[0]) {
      printf("{\"type\":\"session\",\"id\":\"%s\"}\n", c->rec.session);
      c->session_shown = 1;
    }
  }
  if (c->agent.tool_count) return run_agent_turn(c);
  cJSON *req = build_request(c);
  char *text = cJSON_PrintUnformatted(req);
  cJSON_Delete(req);
  pt_op_sink sink = { .on_event = on_event, .ud = c };
  int32_t rc = text ? pt_op_chat(c->k, c->provider,
                                 (pt_str){ text, strlen(text) }, NULL, &sink,
                                 &c->op)
                    : PT_ENOMEM;
  free(text);
  if (rc < 0 && c->recording)
    pt_chat_record_end(&c->rec, rc, PT_STOP_ERROR, pt_strerror(rc));
  if (rc == PT_ENOENT) {
    fprintf(stderr, "portico: no provider named '%s' is loaded; 'portico "
                    "plugins' lists them\n", c->provider);
    return PT_EXIT_FAIL;
  }
  if (rc < 0) {
    fprintf(stderr, "portico: %s could not start the chat: %s%s\n",
            c->provider, pt_strerror(rc),
            rc == PT_ENOTSUP ? " (this build of the plugin cannot chat)" : "");
    return PT_EXIT_FAIL;
  }
  uv_signal_start(&c->sigint, on_sigint, SIGINT);
  uv_signal_start(&c->sigterm, on_sigterm, SIGTERM);
  while (!c->done) {
    uv_run(&c->k->loop, UV_RUN_ONCE);
    if (c->recording) pt_chat_record_flush(&c->rec);
  }
  uv_signal_stop(&c->sigint);
  uv_signal_stop(&c->sigterm);

  if (!c->json && c->reply_len && c->reply[c->reply_len - 1] != '\n')
    putchar('\n');
  fflush(stdout);
  if (c->stop == PT_STOP_CANCELLED) {
    keep_reply(c);
    if (!c->json) fputs("portico: cancelled\n", stderr);
    return c->terminating ? EXIT_TERMINATED : EXIT_CANCELLED;
  }
  if (c->status < 0) {
    fprintf(stderr, "portico: %s\n", c->error);
    return PT_EXIT_FAIL;
  }
  keep_reply(c);
  if (c->recording && !pt_chat_record_ok(&c->rec)) return PT_EXIT_FAIL;
  if (!c->json && c->stop == PT_STOP_MAX_TOKENS)
    fputs("portico: the reply was cut at the token limit\n", stderr);
  return PT_EXIT_OK;
}

static void add_user_message(chat *c, const char *text)
{
  cJSON *msg = cJSON_CreateObject();
  cJSON_AddStringToObject(msg, "role", "user");
  cJSON_AddStringToObject(msg, "content", text);
  cJSON_AddItemToArray(c->messages, msg);
}

/* ------------------------------------------------------------------------ */
/* Modes                                                                     */

static char *read_all_stdin(void)
{
  size_t len = 0, cap = 4096;
  char *buf = malloc(cap);
  while (buf) {
    size_t n = fread(buf + len, 1, cap - len - 1, stdin);
    len += n;
    if (n == 0) break;
    if (len + 1 == cap) {
      char *p = realloc(buf, cap *= 2);
      if (!p) {
        free(buf);
        return NULL;
      }
      buf = p;
    }
  }
  if (buf) buf[len] = '\0';
  return buf;
}

static int repl(chat *c)
{
  fprintf(stderr, "portico chat: %s, %s. Ctrl-D leaves.\n", c->provider,
          c->model);
  for (;;) {
    char *line = readline("> ");
    if (!line) {
      fputc('\n', stderr);
      if (c->recording && c->rec.session[0])
        fprintf(stderr, "portico: saved as session %s; 'portico chat "
                        "--session %s' continues it\n",
                c->rec.session, c->rec.session);
      return PT_EXIT_OK;
    }
    if (!*line) {
      free(line);
      continue;
    }
    add_history(line);
    int before = cJSON_GetArraySize(c->messages);
    add_user_message(c, line);
    free(line);
    int status = run_turn(c);
    if (c->terminating) return status;
    /* A failed turn is taken back, so the next line can try again. */
    while (status == PT_EXIT_FAIL && cJSON_GetArraySize(c->messages) > before)
      cJSON_DeleteItemFromArray(c->messages,
                                cJSON_GetArraySize(c->messages) - 1);
  }
}

/* Provider and model from the flags, then config.lua, then (for the
 * provider) the only one loaded. -1 with a message when undecided. */
static int resolve(chat *c)
{
  return pt__chat_resolve(c->k, &c->provider, &c->model, &c->price);
}

/* Continue session `id`: its history, and its provider, model and system
 * prompt where the flags leave them open. `info` keeps the strings alive. */
static int continue_session(chat *c, cJSON **info)
{
  *info = pt_chat_record_session(&c->rec);
  const char *provider =
      cJSON_GetStringValue(cJSON_GetObjectItem(*info, "provider"));
  const char *model = cJSON_GetStringValue(cJSON_GetObjectItem(*info, "model"));
  /* The stored model belongs to the stored provider. */
  if (!c->model && (!c->provider || (provider && !strcmp(c->provider,
                                                         provider))))
    c->model = model;
  if (!c->provider) c->provider = provider;
  const char *system;
  cJSON *history = NULL;
  if (pt_chat_record_history(&c->rec, &history, &system) != PT_OK) return -1;
  cJSON_Delete(c->messages);
  c->messages = history;
  if (!c->system) c->system = system;
  return 0;
}

int pt_cli_chat(const pt_cli *cli, int argc, char **argv)
{
  chat c = { 0 };
  char *prompt = NULL;
  size_t prompt_len = 0;
  const char *session = NULL;
  int no_store = 0;
  pt_chat_agent_flags af = { 0 };
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    const char *next = i + 1 < argc ? argv[i + 1] : NULL;
    if (pt_cli_is_help(a)) {
      fputs(chat_help, stdout);
      fputs(pt_cli_global_help, stdout);
      free(prompt);
      return PT_EXIT_OK;
    }
    if (!strcmp(a, "--json")) {
      c.json = 1;
    } else if (!strcmp(a, "--no-store")) {
      no_store = 1;
    } else if (!strcmp(a, "--yes")) {
      af.yes = 1;
    } else if (!strcmp(a, "-p") || !strcmp(a, "--provider") ||
               !strcmp(a, "-m") || !strcmp(a, "--model") ||
               !strcmp(a, "--system") || !strcmp(a, "--max-tokens") ||
               !strcmp(a, "--session") || !strcmp(a, "--agent") ||
               !strcmp(a, "--tools") || !strcmp(a, "--workspace") ||
               !strcmp(a, "--policy") || !strcmp(a, "--max-turns") ||
               !strcmp(a, "--max-cost") ||
               !strcmp(a, "--max-tokens-total")) {
      if (!next) {
        free(prompt);
        return pt_cli_usage_error("chat", "%s needs a value", a);
      }
      if (a[1] == 'p' || !strcmp(a, "--provider")) c.provider = next;
      else if (a[1] == 'm' || !strcmp(a, "--model")) c.model = next;
      else if (!strcmp(a, "--system")) c.system = next;
      else if (!strcmp(a, "--session")) session = next;
      else if (!strcmp(a, "--agent")) af.agent = next;
      else if (!strcmp(a, "--tools")) af.tools = next;
      else if (!strcmp(a, "--workspace")) af.workspace = next;
      else if (!strcmp(a, "--policy")) af.policy = next;
      else if (!strcmp(a, "--max-turns")) af.max_turns = atoi(next);
      else if (!strcmp(a, "--max-cost")) af.max_cost = next;
      else if (!strcmp(a, "--max-tokens-total")) af.max_tokens_total = next;
      else c.max_tokens = strtol(next, NULL, 10);
      i++;
    } else if (a[0] == '-' && a[1]) {
      free(prompt);
      return pt_cli_usage_error("chat", "unknown option '%s'", a);
    } else {
      /* The words of the prompt, joined by spaces. */
      size_t n = strlen(a);
      char *p = realloc(prompt, prompt_len + n + 2);
      if (!p) break;
      prompt = p;
      if (prompt_len) prompt[prompt_len++] = ' ';
      memcpy(prompt + prompt_len, a, n + 1);
      prompt_len += n;
    }
  }

  if (session && no_store) {
    free(prompt);
    return pt_cli_usage_error("chat", "--session and --no-store exclude "
                                      "each other");
  }

  pt_kernel_options o;
  pt_cli_kernel_options(cli, &o);
  c.k = pt_cli_kernel(cli, &o);
  if (!c.k) {
    free(prompt);
    return PT_EXIT_FAIL;
  }
  int status = PT_EXIT_FAIL;
  c.messages = cJSON_CreateArray();
  c.stderr_tty = isatty(STDERR_FILENO);
  uv_signal_init(&c.k->loop, &c.sigint);
  uv_signal_init(&c.k->loop, &c.sigterm);
  c.sigint.data = c.sigterm.data = &c;
  cJSON *info = NULL;
  int ready = pt__chat_agent_profile(c.k->config, &af, &c.provider,
                                     &c.model, &c.system) == 0;
  int opened = ready && !no_store;
  if (opened) {
    ready = pt_chat_record_open(&c.rec, c.k, session) == PT_OK;
    c.recording = ready;
    if (ready && session) ready = continue_session(&c, &info) == 0;
  }
  if (ready)
    ready = pt__chat_agent_setup(&c.agent, c.k, &af,
                                 c.recording ? c.rec.st : NULL) == 0;
  if (ready && resolve(&c) == 0) {
    if (!prompt && !isatty(STDIN_FILENO)) prompt = read_all_stdin();
    if (prompt && !*prompt) {
      fprintf(stderr, "portico: the prompt is empty\n");
    } else if (prompt) {
      add_user_message(&c, prompt);
      status = run_turn(&c);
    } else {
      status = repl(&c);
    }
  }
  uv_close((uv_handle_t *)&c.sigint, NULL);
  uv_close((uv_handle_t *)&c.sigterm, NULL);
  pt__chat_agent_free(&c.agent);
  if (opened) pt_chat_record_close(&c.rec);
  cJSON_Delete(info);
  cJSON_Delete(c.messages);
  cJSON_Delete(c.calls);
  free(c.reply);
  free(prompt);
  pt_kernel_free(c.k);
  return status;
}
