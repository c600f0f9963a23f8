/*
 * bench/bench_serve.c: what `portico serve` costs: how fast it is ready,
 * the latency it adds to a streamed reply's first token, and how many
 * streaming sessions one process holds, at what memory.
 *
 *   bench_serve PORTICO_BIN [STARTS] [TURNS] [SESSIONS]
 *
 * A child process serves the Anthropic Messages API from loopback (the
 * test fake's SSE builders on fake_http); `portico serve` runs as another
 * child with the bundled claude plugin pointed at it; this process is the
 * client of both (tests/support/http_probe.h), so neither's CPU or memory
 * counts against the other.
 *
 * 1. Start: STARTS (default 20) execs of `portico serve` (claude and tools
 *    plugins, an existing data folder) from spawn to its ready line
 *    PORTICO_LISTEN_ADDR=..., its VmRSS then, and SIGTERM to exit; median,
 *    minimum, p95.
 * 2. Added latency to the first token: TURNS (default 200, after 20
 *    warm-up) turns, each in a fresh session whose event stream is open:
 *    from writing POST /api/sessions/ID/messages (on a kept-alive
 *    connection) to reading the first `text` SSE event, against a direct
 *    POST /v1/messages to the fake (also kept alive, as the plugin's libcurl
 *    connection is) to the first bytes holding a text_delta. p50 and p99 of
 *    each and the difference: what the server, the agent loop, the plugin,
 *    the store and the SSE hop add. Every turn's stream stays open until
 *    the end, as a closed one lingers on the server a while.
 * 3. Concurrency: for 100, 500 and SESSIONS (default 1000) sessions, a
 *    fresh server and data folder; every session with its SSE stream open,
 *    all prompted at once, each turn streaming 50 deltas 10 ms apart (so
 *    they overlap); every turn must end end_turn on its stream. Wall time,
 *    the most streams mid-turn at once, and the server's VmRSS before,
 *    with the sessions and streams open, and VmHWM while the turns stream
 *    (reset through /proc/PID/clear_refs), per session. RLIMIT_NOFILE is
 *    raised to its hard limit (the children inherit it).
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "bench_support.h"
#include "fake_anthropic.h"
#include "fake_http.h"
#include "harness.h"
#include "http_probe.h"
#include "serve_proc.h"

#define MS 60000
#define KEY "bench-serve-key-0123456789"
#define AUTH "Authorization: Bearer " KEY "\r\n"
#define JSON_AUTH AUTH "Content-Type: application/json\r\n"

/* ---- The upstream (child process) --------------------------------------- */

static int reply_deltas = 20;
static unsigned reply_gap_ms;   /* 0: the whole reply at once */

static void upstream(void *ud, const fake_http_request *req,
                     fake_http_response *res)
{
  (void)ud;
  if (!strstr(req->path, "/v1/messages")) {
    fake_http_respond(res, 404, "text/plain", "no such route");
    return;
  }
  if (!reply_gap_ms) {
    fake_anthropic_stream_deltas(res, reply_deltas);
    return;
  }
  fa_sse s = { 0 };
  fa_sse_message_start(&s, 12, 0, 0);
  fa_sse_text_start(&s, 0);
  fake_anthropic_stream_head(res);
  fake_http_chunk(res, s.text, s.len);
  for (int i = 0; i < reply_deltas; i++) {
    fa_sse_free(&s);
    fa_sse_text_delta(&s, 0, "tok ");
    fake_http_wait(res, reply_gap_ms);
    fake_http_chunk(res, s.text, s.len);
  }
  fa_sse_free(&s);
  fa_sse_block_stop(&s, 0);
  fa_sse_message_delta(&s, "end_turn", (unsigned)reply_deltas);
  fa_sse_message_stop(&s);
  fake_http_chunk(res, s.text, s.len);
  fake_http_chunk_end(res);
  fa_sse_free(&s);
}

/* ---- Figures ------------------------------------------------------------ */

static double now_ms(void)
{
  return bench_clock_us(CLOCK_MONOTONIC) / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double pct(const double *sorted, int n, double p)
{
  int i = (int)(p * (n - 1) + 0.5);
  return sorted[i < 0 ? 0 : i >= n ? n - 1 : i];
}

static void report(const char *what, const char *unit, double *v, int n)
{
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  printf("  %-30s median %8.2f %s   min %8.2f   p95 %8.2f   (n=%d)\n", what,
         pct(v, n, 0.5), unit, v[0], pct(v, n, 0.95), n);
}

/* A "Key: N kB" line of /proc/PID/status in KiB; -1. */
static long proc_kib(pid_t pid, const char *key)
{
  char path[64], line[256];
  snprintf(path, sizeof path, "/proc/%ld/status", (long)pid);
  FILE *f = fopen(path, "r");
  long kib = -1;
  size_t n = strlen(key);
  while (f && fgets(line, sizeof line, f))
    if (strncmp(line, key, n) == 0 && line[n] == ':') {
      kib = strtol(line + n + 1, NULL, 10);
      break;
    }
  if (f) fclose(f);
  return kib;
}

/* VmHWM of `pid` back to its current RSS (Linux 4.0+). */
static void reset_hwm(pid_t pid)
{
  char path[64];
  snprintf(path, sizeof path, "/proc/%ld/clear_refs", (long)pid);
  FILE *f = fopen(path, "w");
  if (f) {
    fputs("5", f);
    fclose(f);
  }
}

/* ---- The server --------------------------------------------------------- */

static char *plugins;          /* claude.so and tools.so; owned */
static char vars[5][4200];
static const char *env[6];
static serve_proc sp;

/* Point config.lua at the upstream on `port` and the data folder at
 * `data`. */
static void configure(const char *dir, const char *data, int port)
{
  char lua[1024];
  snprintf(lua, sizeof lua,
           "return { plugins = { claude = { base_url = "
           "'http://127.0.0.1:%d', api_key = 'bench', max_attempts = 1,"
           " first_byte_timeout_ms = 600000, idle_timeout_ms = 600000 } } }\n",
           port);
  free(h_write_config(dir, lua));
  snprintf(vars[0], sizeof vars[0], "PORTICO_CONFIG=%s/config.lua", dir);
  snprintf(vars[1], sizeof vars[1], "PORTICO_DATA_DIR=%s", data);
  snprintf(vars[2], sizeof vars[2], "XDG_CONFIG_HOME=%s", dir);
  snprintf(vars[3], sizeof vars[3], "HOME=%s", dir);
  snprintf(vars[4], sizeof vars[4], "PORTICO_API_KEY=%s", KEY);
  for (int i = 0; i < 5; i++) env[i] = vars[i];
  env[5] = NULL;
}

static int serve_up(void)
{
  const char *argv[] = { "--no-default-plugins", "--plugins", plugins, "-p",
                         "claude", "-m", "claude-sonnet-4-5", NULL };
  if (serve_start(&sp, argv, env, MS) == 0) return 0;
  fprintf(stderr, "bench_serve: portico serve did not start\n");
  return -1;
}

static void serve_down(void)
{
  serve_stop(&sp, SIGTERM, 10000, NULL);
  serve_cleanup(&sp);
}

/* One request on the kept-alive `c`; the parsed body when the status is
 * `want`, else NULL (said on stderr). */
static cJSON *call(hp_conn *c, const char *method, const char *path,
                   const char *body, int want)
{
  hp_response r = { 0 };
  cJSON *o = NULL;
  if (hp_conn_send_request(c, sp.port, method, path, JSON_AUTH, body,
                           body ? strlen(body) : 0, MS) == 0 &&
      hp_conn_read_response(c, 0, &r, MS) == 0 && r.status == want)
    o = cJSON_Parse(r.body);
  else
    fprintf(stderr, "bench_serve: %s %s: status %d %s\n", method, path,
            r.status, r.body ? r.body : "");
  hp_response_free(&r);
  return o;
}

static int new_session(hp_conn *c, char id[64])
{
  cJSON *o = call(c, "POST", "/api/sessions", "{}", 201);
  const char *s = cJSON_GetStringValue(cJSON_GetObjectItem(o, "id"));
  int ok = s && strlen(s) < 64;
  if (ok) memcpy(id, s, strlen(s) + 1);
  cJSON_Delete(o);
  return ok ? 0 : -1;
}

static hp_sse *events(const char *id)
{
  char path[128];
  snprintf(path, sizeof path, "/api/sessions/%.63s/events", id);
  return hp_sse_open(sp.port, path, AUTH, MS, NULL, NULL);
}

static const char PROMPT[] = "{\"text\":\"hi\"}";

static int send_prompt(hp_conn *c, const char *id)
{
  char path[128];
  snprintf(path, sizeof path, "/api/sessions/%.63s/messages", id);
  return hp_conn_send_request(c, sp.port, "POST", path, JSON_AUTH, PROMPT,
                              sizeof PROMPT - 1, MS);
}

/* Read `s` until an event of `type`; 0, or -1 (the stream ended or
 * `ms` passed). */
static int until_event(hp_sse *s, const char *type, int ms)
{
  hp_sse_event ev;
  double deadline = now_ms() + ms;
  while (now_ms() < deadline) {
    int r = hp_sse_next(s, &ev, (int)(deadline - now_ms()) + 1);
    if (r <= 0) return -1;
    if (!strcmp(ev.event, type)) return 0;
  }
  return -1;
}

/* ---- 1. Start ----------------------------------------------------------- */

static int starts(int n)
{
  double *ready = calloc((size_t)n, sizeof *ready);
  double *rss = calloc((size_t)n, sizeof *rss);
  double *stop = calloc((size_t)n, sizeof *stop);
  if (!ready || !rss || !stop) abort();
  /* One start first, uncounted, makes the data folder and its store. */
  int rc = 0;
  for (int i = -1; i < n && rc == 0; i++) {
    double t0 = now_ms();
    if ((rc = serve_up()) != 0) break;
    double t1 = now_ms();
    long kib = serve_rss_kib(sp.pid);
    int stop_ms = 0;
    serve_stop(&sp, SIGTERM, 10000, &stop_ms);
    serve_cleanup(&sp);
    if (i < 0) continue;
    ready[i] = t1 - t0;
    rss[i] = kib / 1024.0;
    stop[i] = stop_ms;
  }
  if (rc == 0) {
    printf("portico serve start (claude and tools plugins, data folder "
           "made):\n");
    report("spawn to ready line", "ms", ready, n);
    report("VmRSS at the ready line", "MiB", rss, n);
    report("SIGTERM to exit", "ms", stop, n);
  }
  free(ready);
  free(rss);
  free(stop);
  return rc;
}

/* ---- 2. Latency to the first token -------------------------------------- */

/* POST /v1/messages to the upstream on the kept-alive socket `fd`; the
 * milliseconds to the first bytes holding a text_delta, after which the
 * rest of the reply is read (to its last chunk). -1 on error. */
static double direct_first_token(int fd, int port)
{
  static const char body[] =
      "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":1024,\"stream\":true,"
      "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
  char req[1024];
  int n = snprintf(req, sizeof req,
                   "POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                   "x-api-key: bench\r\nanthropic-version: 2023-06-01\r\n"
                   "content-type: application/json\r\n"
                   "Content-Length: %zu\r\n\r\n%s",
                   port, sizeof body - 1, body);
  static char buf[1 << 20];
  size_t len = 0;
  double t0 = now_ms(), first = -1;
  if (send(fd, req, (size_t)n, MSG_NOSIGNAL) != n) return -1;
  for (;;) {
    struct pollfd pf = { fd, POLLIN, 0 };
    if (poll(&pf, 1, MS) != 1) return -1;
    ssize_t got = recv(fd, buf + len, sizeof buf - 1 - len, 0);
    if (got <= 0) return -1;
    len += (size_t)got;
    buf[len] = '\0';
    if (first < 0 && strstr(buf, "text_delta")) first = now_ms() - t0;
    if (len >= 7 && !memcmp(buf + len - 7, "\r\n0\r\n\r\n", 7)) break;
    if (len == sizeof buf - 1) return -1;
  }
  return first;
}

static int latency(const char *dir, int port, int n)
{
  char *data = h_tempdir();
  configure(dir, data, port);
  int rc = -1;
  if (serve_up() != 0) goto out;
  double *via = calloc((size_t)n, sizeof *via);
  double *direct = calloc((size_t)n, sizeof *direct);
  int warm = 20;
  /* Each turn's stream stays open to the end: libwebsockets 4.1 does not
   * notice an SSE client's close until a write fails (a keepalive, up to
   * 15 s later), and the loop spins on the readable socket meanwhile,
   * which would weigh on every turn after it. */
  hp_sse **streams = calloc((size_t)(n + warm), sizeof *streams);
  hp_conn *c = hp_conn_open(sp.port);
  int fd = hp_connect(port);
  if (!via || !direct || !streams || !c || fd < 0) abort();
  for (int i = -warm; i < n; i++) {
    char id[64];
    hp_sse *s = NULL;
    if (new_session(c, id) != 0 || !(s = streams[i + warm] = events(id)))
      goto done;
    double t0 = now_ms();
    int ok = send_prompt(c, id) == 0 && until_event(s, "text", MS) == 0;
    double t1 = now_ms();
    hp_response r = { 0 };
    ok = ok && hp_conn_read_response(c, 0, &r, MS) == 0 && r.status == 202;
    hp_response_free(&r);
    ok = ok && until_event(s, "turn_end", MS) == 0;
    double d = direct_first_token(fd, port);
    if (!ok || d < 0) {
      fprintf(stderr, "bench_serve: turn %d did not stream\n", i);
      goto done;
    }
    if (i >= 0) {
      via[i] = t1 - t0;
      direct[i] = d;
    }
  }
  qsort(via, (size_t)n, sizeof *via, cmp_double);
  qsort(direct, (size_t)n, sizeof *direct, cmp_double);
  printf("first token, %d turns (+%d warm-up), %d deltas a reply, each turn "
         "in a fresh session:\n", n, warm, reply_deltas);
  printf("  through the server (POST to SSE text)   p50 %7.3f ms   p99 "
         "%7.3f ms\n", pct(via, n, 0.5), pct(via, n, 0.99));
  printf("  direct to the upstream (to text_delta)  p50 %7.3f ms   p99 "
         "%7.3f ms\n", pct(direct, n, 0.5), pct(direct, n, 0.99));
  printf("  added by the server                     p50 %+7.3f ms   p99 "
         "%+7.3f ms\n", pct(via, n, 0.5) - pct(direct, n, 0.5),
         pct(via, n, 0.99) - pct(direct, n, 0.99));
  rc = 0;
done:
  serve_down();
  for (int i = 0; i < n + warm; i++) hp_sse_close(streams[i]);
  free(streams);
  close(fd);
  hp_conn_close(c);
  free(via);
  free(direct);
out:
  h_rmtree(data);
  free(data);
  return rc;
}

/* ---- 3. Many streaming sessions ----------------------------------------- */

typedef struct stream {
  hp_sse *s;
  int started, ended;   /* turn_start seen; 1: turn_end end_turn, -1: not */
} stream;

/* Read what `st` has without waiting. */
static void drain(stream *st)
{
  hp_sse_event ev;
  int r;
  while (!st->ended && (r = hp_sse_next(st->s, &ev, 0)) != -1) {
    if (r == 0) {
      st->ended = -1;
    } else if (!strcmp(ev.event, "turn_start")) {
      st->started = 1;
    } else if (!strcmp(ev.event, "turn_end")) {
      st->ended = strstr(ev.data, "\"stop_reason\":\"end_turn\"") ? 1 : -1;
    }
  }
}

static int concurrency(const char *dir, int port, int n)
{
  char *data = h_tempdir();
  configure(dir, data, port);
  int rc = -1;
  char (*ids)[64] = calloc((size_t)n, sizeof *ids);
  stream *st = calloc((size_t)n, sizeof *st);
  hp_conn **posts = calloc((size_t)n, sizeof *posts);
  struct pollfd *pf = calloc((size_t)n, sizeof *pf);
  int *idx = calloc((size_t)n, sizeof *idx);
  if (!ids || !st || !posts || !pf || !idx) abort();
  if (serve_up() != 0) goto out;
  hp_conn *c = hp_conn_open(sp.port);
  if (!c) abort();
  /* One turn first, so the plugin's lazy state and the first upstream
   * connection are in the baseline. */
  char warm[64];
  hp_sse *ws = NULL;
  if (new_session(c, warm) != 0 || !(ws = events(warm)) ||
      send_prompt(c, warm) != 0 || until_event(ws, "turn_end", MS) != 0) {
    fprintf(stderr, "bench_serve: the warm-up turn did not stream\n");
    hp_sse_close(ws);
    goto done;
  }
  hp_sse_close(ws);
  hp_response r;
  hp_conn_read_response(c, 0, &r, MS);
  hp_response_free(&r);
  long rss0 = serve_rss_kib(sp.pid);

  int opened = 0;
  while (opened < n && new_session(c, ids[opened]) == 0 &&
         (st[opened].s = events(ids[opened])))
    opened++;
  if (opened < n) {
    fprintf(stderr, "bench_serve: %d of %d sessions opened\n", opened, n);
    goto done;
  }
  long rss1 = serve_rss_kib(sp.pid);
  reset_hwm(sp.pid);

  /* Every prompt is written, each on its own connection, before any
   * answer is read, so the turns start together. */
  double t0 = now_ms();
  for (int i = 0; i < n; i++)
    if ((posts[i] = hp_conn_open(sp.port)) && send_prompt(posts[i], ids[i]))
      fprintf(stderr, "bench_serve: prompt %d not sent\n", i);
  int accepted = 0;
  for (int i = 0; i < n; i++) {
    if (posts[i] && hp_conn_read_response(posts[i], 0, &r, MS) == 0)
      accepted += r.status == 202;
    if (posts[i]) hp_response_free(&r);
    hp_conn_close(posts[i]);
    posts[i] = NULL;
  }
  double accepted_ms = now_ms() - t0;
  int left = n, most = 0;
  long peak = rss1;
  double deadline = now_ms() + 120000, next_sample = 0;
  while (left > 0 && now_ms() < deadline) {
    int m = 0;
    for (int i = 0; i < n; i++)
      if (!st[i].ended) {
        pf[m] = (struct pollfd){ hp_sse_fd(st[i].s), POLLIN, 0 };
        idx[m++] = i;
      }
    int k = poll(pf, (nfds_t)m, 100);
    if (k < 0 && errno != EINTR) break;
    for (int j = 0; j < m && k > 0; j++)
      if (pf[j].revents) drain(&st[idx[j]]);
    int running = 0;
    left = 0;
    for (int i = 0; i < n; i++) {
      left += !st[i].ended;
      running += st[i].started && !st[i].ended;
    }
    if (running > most) most = running;
    if (now_ms() >= next_sample) {
      long kib = serve_rss_kib(sp.pid);
      if (kib > peak) peak = kib;
      next_sample = now_ms() + 50;
    }
  }
  double wall = now_ms() - t0;
  long hwm = proc_kib(sp.pid, "VmHWM");
  int good = 0;
  for (int i = 0; i < n; i++) good += st[i].ended == 1;
  printf("  %4d sessions: %d prompts accepted in %.0f ms, %d turns ended "
         "end_turn in %.0f ms; at most %d mid-turn at once\n",
         n, accepted, accepted_ms, good, wall, most);
  printf("        server VmRSS %6.1f MiB before, %6.1f MiB with the "
         "sessions and streams open (%+.1f KiB each)\n",
         rss0 / 1024.0, rss1 / 1024.0, (double)(rss1 - rss0) / n);
  printf("        VmHWM while streaming %6.1f MiB (%+.1f KiB a session over "
         "before; sampled VmRSS peak %.1f MiB)\n",
         hwm / 1024.0, (double)(hwm - rss0) / n, peak / 1024.0);
  fflush(stdout);
  rc = good == n ? 0 : -1;
done:
  for (int i = 0; i < n; i++) hp_sse_close(st[i].s);
  hp_conn_close(c);
  serve_down();
out:
  free(ids);
  free(st);
  free(posts);
  free(pf);
  free(idx);
  h_rmtree(data);
  free(data);
  return rc;
}

/* ---- Main --------------------------------------------------------------- */

int main(int argc, char **argv)
{
  if (argc < 2) {
    fprintf(stderr, "usage: %s PORTICO_BIN [STARTS] [TURNS] [SESSIONS]\n",
            argv[0]);
    return 2;
  }
  int nstart = argc > 2 ? atoi(argv[2]) : 20;
  int turns = argc > 3 ? atoi(argv[3]) : 200;
  int nsess = argc > 4 ? atoi(argv[4]) : 1000;
  if (nstart < 1) nstart = 1;
  if (turns < 1) turns = 1;
  if (nsess < 0) nsess = 0;
  setenv("PORTICO_BIN", argv[1], 1);
  setenv("PORTICO_BUNDLED_PLUGIN_DIR", PORTICO_BENCH_PLUGIN_DIR, 0);

  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  getrlimit(RLIMIT_NOFILE, &rl);

  char *dir = h_tempdir();
  plugins = h_tempdir();
  h_copy_bundled("claude.so", plugins);
  h_copy_bundled("tools.so", plugins);
  char *data = h_tempdir();
  configure(dir, data, 9);
  int rc = starts(nstart);
  h_rmtree(data);
  free(data);

  if (rc == 0) {
    printf("\n");
    int port, keepalive;
    pid_t up = bench_server_start("bench_serve", upstream, &port, &keepalive);
    rc = latency(dir, port, turns);
    bench_server_stop(up, keepalive);
  }

  if (rc == 0 && nsess > 0) {
    printf("\nconcurrent streaming sessions, each turn 50 deltas 10 ms apart "
           "(RLIMIT_NOFILE %llu):\n", (unsigned long long)rl.rlim_cur);
    reply_deltas = 50;
    reply_gap_ms = 10;
    int port, keepalive;
    pid_t up = bench_server_start("bench_serve", upstream, &port, &keepalive);
    static const int ladder[] = { 100, 500 };
    for (size_t i = 0; rc == 0 && i < sizeof ladder / sizeof ladder[0]; i++)
      if (ladder[i] < nsess) rc = concurrency(dir, port, ladder[i]);
    if (rc == 0) rc = concurrency(dir, port, nsess);
    bench_server_stop(up, keepalive);
  }

  h_rmtree(plugins);
  h_rmtree(dir);
  free(plugins);
  free(dir);
  return rc == 0 ? 0 : 1;
}
