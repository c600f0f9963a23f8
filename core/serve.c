/*
 * core/serve.c: `portico serve` — the command, listening, the ready line,
 * signals and the orderly stop (see serve.h and docs/http-api.md).
 *
 * The stop runs in phases on a timer so that it always ends within five
 * seconds: cancel every turn and wait up to 2.5 s for them to end (each is
 * stored as interrupted); close every client after what it is owed; flush
 * the store and destroy the libwebsockets context; stop the kernel. A
 * deadline past all of them flushes the store and exits whatever is left.
 */
#include "serve.h"

#include <arpa/inet.h>
#include <errno.h>
#include <sys/socket.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "cli.h"
#include "log.h"

extern const struct lws_protocols serve_protocols[];

#define TICK_MS 250
#define STOP_TICK_MS 20
#define STOP_TURNS_MS 2500
#define STOP_CLIENTS_MS 3300
#define STOP_DEADLINE_MS 4700

static const char serve_help[] =
    "usage: portico serve [--listen HOST:PORT] [--allow-remote]\n"
    "                     [--workspace DIR] [-p|--provider NAME]\n"
    "                     [-m|--model MODEL] [--agent NAME] [--tools LIST]\n"
    "                     [--policy FILE]\n"
    "\n"
    "Serve the HTTP API (REST, Server-Sent Events and a WebSocket) for apps\n"
    "that drive agents (docs/http-api.md). When ready, prints one line,\n"
    "PORTICO_LISTEN_ADDR=HOST:PORT, on stdout; logs go to stderr. Every\n"
    "route but GET /api/health needs Authorization: Bearer KEY, the key\n"
    "being PORTICO_API_KEY or the api-key file in the data folder (made on\n"
    "first start). SIGTERM or SIGINT stop it within 5 seconds; SIGHUP reads\n"
    "config.lua and the policy again.\n"
    "\n"
    "  --listen HOST:PORT   where to listen (default 127.0.0.1:0, a free\n"
    "                       port); HOST must be a loopback address unless\n"
    "  --allow-remote       is given and PORTICO_API_KEY is set\n"
    "  --workspace DIR      the default workspace of new sessions\n"
    "                       (default: the current folder)\n"
    "  -p, --provider NAME  the default provider of new sessions\n"
    "  -m, --model MODEL    the default model of new sessions\n"
    "  --agent NAME         the default agent profile of new sessions\n"
    "  --tools LIST         the default tools of new sessions\n"
    "  --policy FILE        the default permission policy\n"
    "\n";

/* ------------------------------------------------------------------------ */
/* Settings                                                                  */

static size_t setting_size(const cJSON *serve, const char *name, size_t def,
                           size_t min)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(serve, name);
  if (!cJSON_IsNumber(v)) return def;
  if (v->valuedouble < (double)min) {
    pt_log_warn("serve", "serve.%s below %zu; using %zu", name, min, min);
    return min;
  }
  return (size_t)v->valuedouble;
}

void serve_read_settings(pt_serve *sv)
{
  const cJSON *serve =
      cJSON_GetObjectItemCaseSensitive(pt_config_root(sv->k->config), "serve");
  sv->max_body = setting_size(serve, "max_body_bytes", SERVE_DEFAULT_MAX_BODY,
                              1024);
  sv->max_queue = setting_size(serve, "max_queue_bytes",
                               SERVE_DEFAULT_MAX_QUEUE, 16384);
  const cJSON *keep =
      cJSON_GetObjectItemCaseSensitive(serve, "event_log_keep");
  sv->event_log_keep = cJSON_IsNumber(keep) && keep->valuedouble >= 0
                           ? (int64_t)keep->valuedouble
                           : SERVE_DEFAULT_EVENT_LOG_KEEP;
  if (sv->event_log_keep > 0 && sv->event_log_keep < 1000) {
    pt_log_warn("serve", "serve.event_log_keep below 1000; using 1000");
    sv->event_log_keep = 1000;
  }
  cJSON_Delete(sv->origins);
  sv->origins = cJSON_CreateArray();
  const cJSON *o, *list = cJSON_GetObjectItemCaseSensitive(serve, "origins");
  cJSON_ArrayForEach(o, list)
    if (cJSON_IsString(o))
      cJSON_AddItemToArray(sv->origins, cJSON_CreateString(o->valuestring));
}

/* ------------------------------------------------------------------------ */
/* Stopping                                                                  */

static void close_handle(uv_handle_t *h)
{
  if (!uv_is_closing(h)) uv_close(h, NULL);
}

static void stop_kernel(pt_serve *sv)
{
  close_handle((uv_handle_t *)&sv->sigterm);
  close_handle((uv_handle_t *)&sv->sigint);
  close_handle((uv_handle_t *)&sv->sighup);
  close_handle((uv_handle_t *)&sv->flush);
  for (serve_session *ss = sv->sessions; ss; ss = ss->next)
    if (ss->rec_open) {
      pt_chat_record_close(&ss->rec);
      ss->rec_open = 0;
    }
  pt_store_flush(sv->st);
  pt_kernel_stop(sv->k);
}

/* libwebsockets 4.1 does not read an HTTP/1 connection whose response is
 * still being written, which an SSE stream's always is: a client that
 * hangs up goes unnoticed (and its readable socket wakes the loop each
 * iteration) until a write fails. A peek at each tick notices it. */
static int sse_client_left(serve_stream *s)
{
  if (s->kind != SERVE_SSE) return 0;
  char c;
  ssize_t n = recv(lws_get_socket_fd(s->wsi), &c, 1, MSG_PEEK | MSG_DONTWAIT);
  return n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

static void on_tick(uv_timer_t *t)
{
  pt_serve *sv = t->data;
  uint64_t now = serve_now_ms();
  if (!sv->stopping) {
    for (serve_stream *s = sv->streams; s; s = s->next) {
      if (!s->headers_done || !s->wsi) continue;
      if (sse_client_left(s)) {
        lws_set_timeout(s->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
        continue;
      }
      if (now - s->last_write_ms >= SERVE_KEEPALIVE_MS)
        serve_stream_keepalive(s);
    }
    return;
  }
  uint64_t elapsed = now - sv->stop_started_ms;
  if (elapsed >= STOP_DEADLINE_MS) {
    /* Something would not let go (a plugin ignoring cancel, a socket lws
     * would not close). What was stored is kept; exit now. */
    pt_log_warn("serve", "stop deadline reached; exiting");
    pt_store_flush(sv->st);
    fflush(NULL);
    _exit(0);
  }
  if (sv->stopping == 1 &&
      (serve_sessions_running(sv) == 0 || elapsed >= STOP_TURNS_MS)) {
    sv->stopping = 2;
    for (serve_stream *s = sv->streams; s; s = s->next)
      serve_stream_finish(s);
  }
  if (sv->stopping == 2 && (!sv->streams || elapsed >= STOP_CLIENTS_MS)) {
    sv->stopping = 3;
    pt_store_flush(sv->st);
    if (sv->lws) lws_context_destroy(sv->lws);
  }
  /* libwebsockets closes its handles on the loop after the destroy call;
   * the kernel's stop can begin alongside. */
  else if (sv->stopping == 3) {
    sv->stopping = 4;
    stop_kernel(sv);
    /* The tick stays, unreferenced, as the deadline: it does not hold the
     * loop open once everything else has closed. */
    uv_unref((uv_handle_t *)&sv->tick);
  }
}

static void begin_stop(pt_serve *sv, const char *why)
{
  if (sv->stopping) {
    pt_log_info("serve", "%s again: already stopping", why);
    return;
  }
  sv->stopping = 1;
  sv->stop_started_ms = serve_now_ms();
  int n = serve_sessions_cancel_all(sv);
  pt_log_info("serve", "%s: stopping (%d turn%s cancelled)", why, n,
              n == 1 ? "" : "s");
  uv_timer_start(&sv->tick, on_tick, STOP_TICK_MS, STOP_TICK_MS);
}

static void on_signal(uv_signal_t *h, int signum)
{
  pt_serve *sv = h->data;
  begin_stop(sv, signum == SIGINT ? "SIGINT" : "SIGTERM");
}

/* SIGHUP: config.lua again; sessions read the policy and their profile
 * again before their next turn. A config that does not load leaves the
 * running one in place. */
static void on_sighup(uv_signal_t *h, int signum)
{
  (void)signum;
  pt_serve *sv = h->data;
  pt_config *nc = NULL;
  char err[1024] = "";
  if (pt_config_load(sv->k->opts.config_path, &nc, err, sizeof err) !=
      PT_OK) {
    pt_log_error("serve", "SIGHUP: config not reloaded: %s", err);
    return;
  }
  pt_config **grown = realloc(sv->old_configs, (sv->old_config_count + 1) *
                                                   sizeof *grown);
  if (!grown) {
    pt_config_free(nc);
    return;
  }
  sv->old_configs = grown;
  sv->old_configs[sv->old_config_count++] = sv->k->config;
  sv->k->config = nc;
  serve_read_settings(sv);
  int n = 0;
  for (serve_session *ss = sv->sessions; ss; ss = ss->next)
    if (ss->prepared) ss->reload = 1, n++;
  pt_log_info("serve", "SIGHUP: config reloaded; the policy of %d session%s "
              "is read again before its next turn", n, n == 1 ? "" : "s");
}

static void on_check(uv_check_t *c)
{
  pt_serve *sv = c->data;
  if (pt_store_pending(sv->st)) pt_store_flush(sv->st);
}

/* ------------------------------------------------------------------------ */
/* Listening                                                                 */

static void lws_log(int level, const char *line)
{
  char buf[512];
  snprintf(buf, sizeof buf, "%s", line);
  size_t n = strlen(buf);
  while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) buf[--n] = '\0';
  pt_log(level & LLL_ERR ? PT_LOG_ERROR : PT_LOG_WARN, "http", "%s", buf);
}

/* HOST:PORT, [V6]:PORT or PORT into host and *port. */
static int parse_listen(const char *s, char *host, size_t hostlen, int *port)
{
  const char *colon;
  if (s[0] == '[') {
    const char *close = strchr(s, ']');
    if (!close || close[1] != ':') return -1;
    snprintf(host, hostlen, "%.*s", (int)(close - s - 1), s + 1);
    colon = close + 1;
  } else {
    colon = strrchr(s, ':');
    if (!colon) return -1;
    snprintf(host, hostlen, "%.*s", (int)(colon - s), s);
  }
  char *end;
  long p = strtol(colon + 1, &end, 10);
  if (*end || end == colon + 1 || p < 0 || p > 65535) return -1;
  *port = (int)p;
  if (!strcmp(host, "localhost")) snprintf(host, hostlen, "127.0.0.1");
  return 0;
}

/* 1 loopback, 0 not, -1 not an address. */
static int is_loopback(const char *host, int *v6)
{
  unsigned char a[16];
  *v6 = 0;
  if (inet_pton(AF_INET, host, a) == 1) return a[0] == 127;
  if (inet_pton(AF_INET6, host, a) == 1) {
    *v6 = 1;
    static const unsigned char one[16] = { [15] = 1 };
    return memcmp(a, one, 16) == 0;
  }
  return -1;
}

static int start_lws(pt_serve *sv, int v6)
{
  lws_set_log_level(LLL_ERR | LLL_WARN, lws_log);
  struct lws_context_creation_info info;
  memset(&info, 0, sizeof info);
  void *loops[1] = { &sv->k->loop };
  info.foreign_loops = loops;
  /* An explicit vhost: a default one that cannot bind still leaves a
   * context, whose destroy would unload the libuv glue while its handles
   * are on our loop. */
  info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_VALIDATE_UTF8 |
                 LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
  if (!v6) info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
  info.port = sv->port;
  info.iface = sv->listen_host;
  info.protocols = serve_protocols;
  info.user = sv;
  info.pcontext = &sv->lws;
  info.vhost_name = "portico";
  info.server_string = "portico";
  /* A request head beyond this is refused: libwebsockets closes the
   * connection. */
  info.max_http_header_data = 8192;
  sv->lws = lws_create_context(&info);
  if (!sv->lws) return -1;
  sv->vhost = lws_create_vhost(sv->lws, &info);
  int port = sv->vhost ? lws_get_vhost_listen_port(sv->vhost) : -1;
  if (port <= 0) return -1;
  sv->port = port;
  return 0;
}

/* ------------------------------------------------------------------------ */
/* The command                                                               */

static int parse_args(pt_serve *sv, int argc, char **argv,
                      const char **listen)
{
  for (int i = 0; i < argc; i++) {
    const char *o = argv[i];
    const char *next = i + 1 < argc ? argv[i + 1] : NULL;
    if (pt_cli_is_help(o)) {
      fputs(serve_help, stdout);
      fputs(pt_cli_global_help, stdout);
      return 1;
    }
    if (!strcmp(o, "--allow-remote")) {
      sv->allow_remote = 1;
      continue;
    }
    static const char *const valued[] = { "--listen", "--workspace", "-p",
                                          "--provider", "-m", "--model",
                                          "--agent", "--tools", "--policy" };
    size_t j = 0;
    while (j < sizeof valued / sizeof valued[0] && strcmp(o, valued[j])) j++;
    if (j == sizeof valued / sizeof valued[0])
      return pt_cli_usage_error("serve", "unknown argument '%s'", o);
    if (!next) return pt_cli_usage_error("serve", "%s needs a value", o);
    if (!strcmp(o, "--listen")) *listen = next;
    else if (!strcmp(o, "--workspace")) sv->workspace = next;
    else if (!strcmp(o, "-p") || !strcmp(o, "--provider")) sv->provider = next;
    else if (!strcmp(o, "-m") || !strcmp(o, "--model")) sv->model = next;
    else if (!strcmp(o, "--agent")) sv->agent = next;
    else if (!strcmp(o, "--tools")) sv->tools = next;
    else sv->policy = next;
    i++;
  }
  return 0;
}

static int check_listen(pt_serve *sv, const char *listen, int *v6)
{
  if (parse_listen(listen, sv->listen_host, sizeof sv->listen_host,
                   &sv->port) != 0)
    return pt_cli_usage_error("serve", "--listen takes HOST:PORT (like "
                              "127.0.0.1:8080, [::1]:8080), not '%s'",
                              listen);
  int lo = is_loopback(sv->listen_host, v6);
  if (lo < 0)
    return pt_cli_usage_error("serve", "--listen needs an IP address, not "
                              "'%s'", sv->listen_host);
  sv->loopback = lo;
  if (!lo && !sv->allow_remote)
    return pt_cli_usage_error("serve", "refusing to listen on %s: it is not "
                              "a loopback address; pass --allow-remote (with "
                              "PORTICO_API_KEY set) to serve other machines",
                              sv->listen_host);
  if (!lo && !(getenv("PORTICO_API_KEY") && *getenv("PORTICO_API_KEY")))
    return pt_cli_usage_error("serve", "--allow-remote needs PORTICO_API_KEY "
                              "set: a key in a file on this machine is not "
                              "one a remote client should be handed");
  if (lo) sv->allow_remote = 0;
  return 0;
}

int pt_cli_serve(const pt_cli *cli, int argc, char **argv)
{
  pt_serve sv;
  memset(&sv, 0, sizeof sv);
  const char *listen = "127.0.0.1:0";
  int v6 = 0, rc = parse_args(&sv, argc, argv, &listen);
  if (rc) return rc == 1 ? PT_EXIT_OK : rc;
  if ((rc = check_listen(&sv, listen, &v6)) != 0) return rc;

  /* A server's log is its only voice: say what it does (where the key
   * is, who was cut off) unless the user chose a level. */
  if (!cli->log_level_set) pt_log_set_level(PT_LOG_INFO);
  pt_kernel_options ko;
  pt_cli_kernel_options(cli, &ko);
  sv.k = pt_cli_kernel(cli, &ko);
  if (!sv.k) return PT_EXIT_FAIL;
  sv.started_ms = serve_now_ms();
  int status = PT_EXIT_FAIL;
  char err[1024] = "";
  pt_store_options so = {
    .synchronous_full = pt_config_synchronous_full(sv.k->config) };
  if (pt_store_open_dir(sv.k->data_dir, &so, &sv.st, err, sizeof err) !=
      PT_OK) {
    fprintf(stderr, "portico: %s\n", err);
    goto out;
  }
  if (serve_key_load(&sv, err, sizeof err) != PT_OK) {
    fprintf(stderr, "portico: API key: %s\n", err);
    goto out;
  }
  pt_log_redact(sv.key, sv.key_len);
  serve_read_settings(&sv);
  if (start_lws(&sv, v6) != 0) {
    fprintf(stderr, "portico: cannot listen on %s (is the port in use? is "
                    "the Debian package libwebsockets-evlib-uv installed?)\n",
            listen);
    goto out;
  }
  uv_signal_init(&sv.k->loop, &sv.sigterm);
  uv_signal_init(&sv.k->loop, &sv.sigint);
  uv_signal_init(&sv.k->loop, &sv.sighup);
  sv.sigterm.data = sv.sigint.data = sv.sighup.data = &sv;
  uv_signal_start(&sv.sigterm, on_signal, SIGTERM);
  uv_signal_start(&sv.sigint, on_signal, SIGINT);
  uv_signal_start(&sv.sighup, on_sighup, SIGHUP);
  uv_timer_init(&sv.k->loop, &sv.tick);
  sv.tick.data = &sv;
  uv_timer_start(&sv.tick, on_tick, TICK_MS, TICK_MS);
  uv_check_init(&sv.k->loop, &sv.flush);
  sv.flush.data = &sv;
  uv_check_start(&sv.flush, on_check);
  uv_unref((uv_handle_t *)&sv.flush);

  pt_log_info("serve", "listening on %s%s%s:%d", v6 ? "[" : "",
              sv.listen_host, v6 ? "]" : "", sv.port);
  printf("PORTICO_LISTEN_ADDR=%s%s%s:%d\n", v6 ? "[" : "", sv.listen_host,
         v6 ? "]" : "", sv.port);
  fflush(stdout);
  pt_kernel_run(sv.k);
  close_handle((uv_handle_t *)&sv.tick);
  status = PT_EXIT_OK;

out:
  if (sv.lws && !sv.stopping) {
    /* Failed before serving: the kernel stops too, so the loop can run
     * lws's handles closed and then end. */
    lws_context_destroy(sv.lws);
    pt_kernel_stop(sv.k);
    uv_run(&sv.k->loop, UV_RUN_DEFAULT);
  }
  /* On a foreign loop the first destroy only closes lws's handles; once
   * the loop has run them closed, a second one frees the context (and
   * clears sv.lws through info.pcontext). */
  if (sv.lws) lws_context_destroy(sv.lws);
  if (!sv.stopping) {
    for (serve_session *ss = sv.sessions; ss; ss = ss->next)
      if (ss->rec_open) pt_chat_record_close(&ss->rec);
  }
  pt_kernel_free(sv.k);
  serve_sessions_free(&sv);
  while (sv.streams) serve_stream_gone(sv.streams);
  pt_store_close(sv.st);
  for (size_t i = 0; i < sv.old_config_count; i++)
    pt_config_free(sv.old_configs[i]);
  free(sv.old_configs);
  cJSON_Delete(sv.origins);
  return status;
}
