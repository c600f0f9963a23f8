/*
 * tests/test_serve_load.c: `portico serve` under load, through the real
 * binary with the bundled claude plugin against a fake Anthropic API in
 * this process: many sessions streaming at once, and a client that stops
 * reading while a turn streams far more than its queue may hold.
 *
 * Not for the routes' behaviour one request at a time, nor for timings:
 * every wait here is generous, as these run under AddressSanitizer too.
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "chat_agent_cases.h"
#include "check.h"
#include "harness.h"
#include "http_probe.h"
#include "serve_cases.h"
#include "serve_proc.h"

#define MS 60000
#define KEY "load-test-key-0123456789"
#define AUTH "Authorization: Bearer " KEY "\r\n"
#define JSON_AUTH AUTH "Content-Type: application/json\r\n"

/* Under AddressSanitizer, freed memory waits in a quarantine (256 MiB by
 * default) that the server's RSS would count; the server gets a small one,
 * so that its RSS still says what it keeps. */
#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

static cac_env ce;
static fake_anthropic *fa;
static serve_proc sp;
static int deltas;   /* text deltas in every model reply */

static long now_ms(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* A reply of `n` deltas, each in its own chunk 20 ms after the last, so
 * that a turn streams for a while and turns started together overlap. */
static void reply_slow(void *ud, fake_http_response *res)
{
  int n = *(const int *)ud;
  fa_sse s = { 0 };
  fa_sse_message_start(&s, 12, 0, 0);
  fa_sse_text_start(&s, 0);
  fake_anthropic_stream_head(res);
  fake_http_chunk(res, s.text, s.len);
  for (int i = 0; i < n; i++) {
    fa_sse_free(&s);
    fa_sse_text_delta(&s, 0, "tok ");
    fake_http_wait(res, 20);
    fake_http_chunk(res, s.text, s.len);
  }
  fa_sse_free(&s);
  fa_sse_block_stop(&s, 0);
  fa_sse_message_delta(&s, "end_turn", (unsigned)n);
  fa_sse_message_stop(&s);
  fake_http_chunk(res, s.text, s.len);
  fake_http_chunk_end(res);
  fa_sse_free(&s);
}

/* The same reply at a steady pace: 2 KiB of the upstream stream (some 18
 * deltas) a millisecond. Far faster than a model streams, yet slow enough
 * that a client reading promptly mostly keeps up, so that the one that
 * never reads is what runs into its bound. (Unpaced, one read of the upstream can queue more
 * than 64 KiB of events at once, while core/serve_stream.c writes a client
 * one event per writable callback, so the reader would be cut off too.) */
static void reply_paced(void *ud, fake_http_response *res)
{
  int n = *(const int *)ud;
  fa_sse s = { 0 };
  fa_sse_message_start(&s, 12, 0, 0);
  fa_sse_text_start(&s, 0);
  for (int i = 0; i < n; i++) fa_sse_text_delta(&s, 0, "tok ");
  fa_sse_block_stop(&s, 0);
  fa_sse_message_delta(&s, "end_turn", (unsigned)n);
  fa_sse_message_stop(&s);
  fake_anthropic_stream_head(res);
  for (size_t off = 0; off < s.len; off += 2048) {
    size_t len = s.len - off < 2048 ? s.len - off : 2048;
    fake_http_chunk(res, s.text + off, len);
    fake_http_wait(res, 1);
  }
  fake_http_chunk_end(res);
  fa_sse_free(&s);
}

/* A fake answering every request with `n` deltas, a config pointing claude
 * at it (plus `extra` Lua fields), and the server on them. */
static int start(int n, const char *extra, fake_anthropic_reply fn)
{
  cac_setup(&ce);
  deltas = n;
  fa = fake_anthropic_start();
  fake_anthropic_push(fa, fn, &deltas);
  char lua[2048];
  snprintf(lua, sizeof lua,
           "return { plugins = { claude = { base_url = '%s', api_key = 'k',"
           " max_attempts = 1 } }, %s }\n", fake_anthropic_url(fa), extra);
  free(h_write_config(ce.dir, lua));
  /* sc_env's six, and room for ASAN_OPTIONS before the NULL. */
  const char *env[7] = { NULL };
  sc_env(env, &ce, "PORTICO_API_KEY=" KEY);
#ifdef UNDER_ASAN
  static char asan[4096];
  const char *inherited = getenv("ASAN_OPTIONS");
  snprintf(asan, sizeof asan, "ASAN_OPTIONS=%s%squarantine_size_mb=4",
           inherited ? inherited : "", inherited && *inherited ? ":" : "");
  env[5] = asan;
#endif
  const char *argv[] = { "--no-default-plugins", "--plugins", ce.dir, "-p",
                         "claude", "-m", "claude-sonnet-4-5", NULL };
  if (serve_start(&sp, argv, env, MS) == 0) return 0;
  fake_anthropic_stop(fa);
  fa = NULL;
  cac_teardown(&ce);
  return -1;
}

static void stop(void)
{
  sc_stop(&sp, NULL);
  serve_cleanup(&sp);
  fake_anthropic_stop(fa);
  fa = NULL;
  cac_teardown(&ce);
}

/* POST `body` to `path`; the parsed answer when the status is `want`. */
static cJSON *post(const char *path, const char *body, int want)
{
  hp_response r;
  int rc = hp_request(sp.port, "POST", path, JSON_AUTH, body, strlen(body),
                      &r, MS);
  cJSON *o = NULL;
  if (rc == 0 && r.status == want) o = cJSON_Parse(r.body);
  else
    fprintf(stderr, "POST %s: status %d, body %s\n", path, r.status,
            r.body ? r.body : "(none)");
  hp_response_free(&r);
  return o;
}

/* A new session's id into `id` (cap >= 64); 0, or -1. */
static int new_session(char *id)
{
  cJSON *o = post("/api/sessions", "{}", 201);
  const char *s = cJSON_GetStringValue(cJSON_GetObjectItem(o, "id"));
  int ok = s && strlen(s) < 64;
  if (ok) snprintf(id, 64, "%s", s);
  cJSON_Delete(o);
  return ok ? 0 : -1;
}

/* Prompt every session of `ids` at once: all the requests are sent, each
 * on its own connection, before any answer is read. Returns how many were
 * answered 202. */
static int prompt_all(char (*ids)[64], int n)
{
  hp_conn **c = calloc((size_t)n, sizeof *c);
  if (!c) abort();
  static const char body[] = "{\"text\":\"hi\"}";
  for (int i = 0; i < n; i++) {
    char path[128];
    snprintf(path, sizeof path, "/api/sessions/%.63s/messages", ids[i]);
    c[i] = hp_conn_open(sp.port);
    if (c[i] && hp_conn_send_request(c[i], sp.port, "POST", path, JSON_AUTH,
                                     body, sizeof body - 1, MS) != 0) {
      hp_conn_close(c[i]);
      c[i] = NULL;
    }
  }
  int accepted = 0;
  for (int i = 0; i < n; i++) {
    hp_response r;
    if (c[i] && hp_conn_read_response(c[i], 0, &r, MS) == 0)
      accepted += r.status == 202;
    if (c[i]) hp_response_free(&r);
    hp_conn_close(c[i]);
  }
  free(c);
  return accepted;
}

static int prompt(const char *id)
{
  char path[128];
  snprintf(path, sizeof path, "/api/sessions/%.63s/messages", id);
  cJSON *o = post(path, "{\"text\":\"hi\"}", 202);
  int ok = cJSON_IsNumber(cJSON_GetObjectItem(o, "turn_id"));
  cJSON_Delete(o);
  return ok ? 0 : -1;
}

/* The events of session `id` after event `after` (0: live ones only). */
static hp_sse *events(const char *id, long long after)
{
  char path[128], headers[256];
  snprintf(path, sizeof path, "/api/sessions/%.63s/events", id);
  if (after)
    snprintf(headers, sizeof headers, AUTH "Last-Event-ID: %lld\r\n", after);
  else
    snprintf(headers, sizeof headers, AUTH);
  int status = 0;
  hp_sse *s = hp_sse_open(sp.port, path, headers, MS, &status, NULL);
  if (!s) fprintf(stderr, "GET %s: status %d\n", path, status);
  return s;
}

static int healthy(void)
{
  hp_response r;
  int ok = hp_request(sp.port, "GET", "/api/health", NULL, NULL, 0, &r,
                      MS) == 0 &&
           r.status == 200 && r.body && strstr(r.body, "\"status\":\"ok\"");
  hp_response_free(&r);
  return ok;
}

/* What one stream saw of its turn. */
typedef struct watch {
  hp_sse *s;
  char *text;          /* the text events' text joined; owned */
  size_t len, cap;
  int texts;
  int started;         /* turn_start seen */
  long long last_id;   /* the last event's id; 0 before the first */
  int gaps;            /* events whose id did not follow the last one's */
  int ended;           /* 1: turn_end seen; -1: the stream ended first */
  char stop_reason[32];
} watch;

static void watch_add(watch *w, const char *t)
{
  size_t n = strlen(t);
  if (w->len + n + 1 > w->cap) {
    w->cap = (w->len + n + 1) * 2;
    w->text = realloc(w->text, w->cap);
    if (!w->text) abort();
  }
  memcpy(w->text + w->len, t, n + 1);
  w->len += n;
}

/* Take every whole event `w` has buffered or waiting on its socket,
 * without waiting for more. */
static void watch_drain(watch *w)
{
  hp_sse_event ev;
  int r;
  while (!w->ended && (r = hp_sse_next(w->s, &ev, 0)) != -1) {
    if (r == 0) {
      w->ended = -1;
      break;
    }
    long long id = strtoll(ev.id, NULL, 10);
    w->gaps += w->last_id && id != w->last_id + 1;
    w->last_id = id;
    cJSON *d = cJSON_Parse(ev.data);
    if (!strcmp(ev.event, "text")) {
      const char *t = cJSON_GetStringValue(cJSON_GetObjectItem(d, "text"));
      if (t) watch_add(w, t);
      w->texts++;
    } else if (!strcmp(ev.event, "turn_start")) {
      w->started = 1;
    } else if (!strcmp(ev.event, "turn_end")) {
      const char *sr =
          cJSON_GetStringValue(cJSON_GetObjectItem(d, "stop_reason"));
      snprintf(w->stop_reason, sizeof w->stop_reason, "%s", sr ? sr : "");
      w->ended = 1;
    }
    cJSON_Delete(d);
  }
}

/* The most turns the clients saw streaming at once (started, not ended). */
static int most_running;

/* Poll the unfinished streams of `ws` until each saw its turn end (or its
 * stream end) or `ms` pass; returns how many are still unfinished. */
static int watch_all(watch *ws, int n, int ms)
{
  struct pollfd *pf = calloc((size_t)n, sizeof *pf);
  int *idx = calloc((size_t)n, sizeof *idx);
  if (!pf || !idx) abort();
  long deadline = now_ms() + ms;
  int left = n;
  while (left > 0 && now_ms() < deadline) {
    int m = 0;
    for (int i = 0; i < n; i++)
      if (!ws[i].ended) {
        pf[m] = (struct pollfd){ hp_sse_fd(ws[i].s), POLLIN, 0 };
        idx[m++] = i;
      }
    int r = poll(pf, (nfds_t)m, 200);
    if (r < 0 && errno != EINTR) break;
    for (int j = 0; j < m && r > 0; j++)
      if (pf[j].revents) watch_drain(&ws[idx[j]]);
    int running = 0;
    left = 0;
    for (int i = 0; i < n; i++) {
      left += !ws[i].ended;
      running += ws[i].started && !ws[i].ended;
    }
    if (running > most_running) most_running = running;
  }
  free(pf);
  free(idx);
  return left;
}

static void raise_fd_limit(void)
{
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

/* ---- Many sessions at once ------------------------------------------- */

#define SESSIONS 200
#define SESSION_DELTAS 30

static void two_hundred_sessions_stream_their_turns_at_once(void)
{
  /* This process holds an SSE socket per session, and the server (which
   * inherits the limit) those plus one upstream connection per turn. */
  raise_fd_limit();
  if (start(SESSION_DELTAS, "", reply_slow) != 0) {
    CHECK(!"the server started");
    return;
  }
  static char ids[SESSIONS][64];
  static watch ws[SESSIONS];
  memset(ws, 0, sizeof ws);
  int opened = 0;
  while (opened < SESSIONS && new_session(ids[opened]) == 0 &&
         (ws[opened].s = events(ids[opened], 0)) != NULL)
    opened++;
  CHECK_INT(opened, ==, SESSIONS);
  if (opened < SESSIONS) goto out;
  /* Every stream is subscribed (its head came back) before any turn runs,
   * so the turns' events reach every one of them. */
  CHECK_INT(prompt_all(ids, opened), ==, opened);
  most_running = 0;
  CHECK_INT(watch_all(ws, opened, MS), ==, 0);
  fprintf(stderr, "at most %d turns streaming at once, as the clients saw "
          "them\n", most_running);
  /* Each turn streams for 600 ms and more; starting 200 takes the server
   * far less, so they overlap (all of them, in practice). */
  CHECK_INT(most_running, >=, SESSIONS / 2);
  char want[SESSION_DELTAS * 4 + 1] = "";
  for (int i = 0; i < SESSION_DELTAS; i++) strcat(want, "tok ");
  int whole = 0, end_turn = 0;
  for (int i = 0; i < opened; i++) {
    whole += ws[i].texts > 0 && ws[i].text && !strcmp(ws[i].text, want);
    end_turn += ws[i].ended == 1 && !strcmp(ws[i].stop_reason, "end_turn");
    if (ws[i].ended != 1 || strcmp(ws[i].stop_reason, "end_turn") ||
        !ws[i].text || strcmp(ws[i].text, want))
      fprintf(stderr, "session %s: ended %d (%s), %d text events, %zu "
              "bytes of text\n", ids[i], ws[i].ended, ws[i].stop_reason,
              ws[i].texts, ws[i].len);
  }
  CHECK_INT(whole, ==, opened);
  CHECK_INT(end_turn, ==, opened);
  CHECK_INT(fake_anthropic_request_count(fa), ==, SESSIONS);
  CHECK(healthy());
  char *log = serve_stderr(&sp);
  CHECK(!strstr(log, "stopped reading"));
  free(log);
out:
  for (int i = 0; i < opened; i++) {
    hp_sse_close(ws[i].s);
    free(ws[i].text);
  }
  stop();
}

/* ---- A client that stops reading ------------------------------------- */

/* A text event is 58 to 60 bytes on the wire ("id: N\nevent: text\ndata:
 * {\"type\":\"text\",\"text\":\"tok \"}\n\n"): 100,000 of them are 5.8 MB,
 * more than the kernel will buffer for a client that reads nothing (the
 * server's send buffer grows to net.ipv4.tcp_wmem's maximum, 4 MiB by
 * default), so the rest has to go through the 64 KiB bound. */
#define FLOOD 100000
#define BOUND 65536

/* GET the events of `id` on a socket with a small receive buffer, and
 * never read it. Returns the socket once the response's head arrived
 * (seen through poll, nothing read), so the client is subscribed. */
static int silent_events(const char *id)
{
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int small = 4096;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  struct sockaddr_in a = { .sin_family = AF_INET,
                           .sin_port = htons((uint16_t)sp.port),
                           .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
  char req[512];
  int n = snprintf(req, sizeof req,
                   "GET /api/sessions/%.63s/events HTTP/1.1\r\n"
                   "Host: 127.0.0.1:%d\r\n" AUTH
                   "Accept: text/event-stream\r\n\r\n", id, sp.port);
  struct pollfd pf = { fd, POLLIN, 0 };
  if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
      send(fd, req, (size_t)n, MSG_NOSIGNAL) != n || poll(&pf, 1, MS) != 1) {
    close(fd);
    return -1;
  }
  return fd;
}

/* The "stopped reading" lines of the log: how many, and whether each says
 * the client was cut with no more than `bound` bytes queued for it, when
 * the next event would have passed the bound. */
static int cut_lines(const char *log, size_t bound, int *within)
{
  int n = 0;
  *within = 1;
  for (const char *p = log; (p = strstr(p, "stopped reading")); p++) {
    size_t queued = 0, wanted = 0, b = 0;
    const char *f = strchr(p, '(');
    if (!f || sscanf(f, "(%zu bytes queued, %zu more wanted, bound %zu)",
                     &queued, &wanted, &b) != 3 ||
        b != bound || queued > bound || queued + wanted <= bound)
      *within = 0;
    n++;
  }
  return n;
}

static void a_client_that_stops_reading_is_cut_off_and_memory_stays_bounded(
    void)
{
  if (start(FLOOD, "serve = { max_queue_bytes = 65536 }", reply_paced) !=
      0) {
    CHECK(!"the server started");
    return;
  }
  char id[64] = "";
  CHECK_INT(new_session(id), ==, 0);
  int slow = silent_events(id);
  CHECK(slow >= 0);
  watch w = { .s = events(id, 0) };
  CHECK(w.s != NULL);
  if (slow < 0 || !w.s) {
    if (slow >= 0) close(slow);
    hp_sse_close(w.s);
    stop();
    return;
  }
  long idle = serve_rss_kib(sp.pid), peak = idle;
  CHECK_INT(prompt(id), ==, 0);
  /* The reader reads as fast as it can. Should the server cut it off all
   * the same (a burst it could not write out in time), it comes back
   * with Last-Event-ID as a browser would, so that the turn's end is
   * still seen; each time is counted against the log below. */
  int resumed = 0;
  long deadline = now_ms() + 3 * MS;
  while (w.ended != 1 && now_ms() < deadline && resumed < 100) {
    watch_all(&w, 1, 50);
    long rss = serve_rss_kib(sp.pid);
    if (rss > peak) peak = rss;
    if (w.ended == -1) {
      hp_sse_close(w.s);
      if (!(w.s = events(id, w.last_id))) break;
      w.ended = 0;
      resumed++;
    }
  }
  CHECK_INT(w.ended, ==, 1);
  CHECK_STR(w.stop_reason, "end_turn");
  CHECK_INT(w.len, ==, (size_t)FLOOD * 4);
  CHECK_INT(w.gaps, ==, 0);

  /* One cut for the silent client, one per time the reader came back. */
  CHECK_INT(serve_wait_for_stderr(&sp, "stopped reading", MS), ==, 1);
  char *log = serve_stderr(&sp);
  int within = 0;
  CHECK_INT(cut_lines(log, BOUND, &within), ==, 1 + resumed);
  CHECK(within);
  free(log);
  if (resumed)
    fprintf(stderr, "note: the reading client was cut off too, %d time%s, "
            "and resumed\n", resumed, resumed == 1 ? "" : "s");

  /* Had the silent client's events been queued, not bounded, they would
   * hold ~10 MB (each event's ~60 bytes with its chunk header, LWS_PRE
   * and malloc's rounding: ~100 bytes, times 100,000, less the few MB
   * the kernel took). Bounded, it costs at most 64 KiB; what grows is the
   * turn's own (the reply's 400 KB of text, the history, SQLite's cache,
   * the upstream buffers): ~6 MiB in a release build, 15 to 25 MiB under
   * AddressSanitizer with the server's 4 MiB quarantine. So this bound
   * catches a runaway, not the queue's last byte: the log's figures above
   * pin the bound itself. */
  fprintf(stderr, "server VmRSS: %ld KiB idle, %ld KiB at most during the "
          "flood\n", idle, peak);
  CHECK(idle > 0);
  CHECK_INT(peak - idle, <, 64 * 1024);

  /* The server closed the silent client: what it had sent drains, then
   * the stream ends. */
  CHECK_INT(hp_wait_closed(slow, MS), ==, 1);
  close(slow);
  CHECK(healthy());

  /* The turn's ~100,000 events were trimmed to the last 10,000 (the
   * default serve.event_log_keep) when it ended: the whole log starts
   * past the first event. */
  char path[160];
  snprintf(path, sizeof path, "/api/sessions/%.63s/events?after=0", id);
  hp_sse *all = hp_sse_open(sp.port, path, AUTH, MS, NULL, NULL);
  hp_sse_event first;
  CHECK(all && hp_sse_next(all, &first, MS) == 1);
  if (all) CHECK_INT(atoll(first.id), >, 80000);
  hp_sse_close(all);
  hp_sse_close(w.s);
  free(w.text);
  stop();
}

int main(void)
{
  RUN(two_hundred_sessions_stream_their_turns_at_once);
  RUN(a_client_that_stops_reading_is_cut_off_and_memory_stays_bounded);
  return check_report();
}
