/*
 * tests/test_http_probe.c: the test client for `portico serve` (http_probe)
 * against a minimal loopback server written here with plain sockets, and
 * the serve_proc runner against shell scripts standing in for the binary.
 *
 * Each case starts one "scene": a thread that accepts one connection and
 * plays a fixed part on it. The scene records what it saw in globals, which
 * the case checks after joining it, so that CHECK runs on one thread only.
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "harness.h"
#include "http_probe.h"
#include "run_cmd.h"
#include "serve_proc.h"

/* No scene waits longer than this for the client. */
#define SCENE_MS 5000

static int listen_fd = -1, port;
static pthread_t scene_thread;
static void (*scene)(int fd);
static char request[1 << 16];   /* the head and body the scene read last */
static int go[2];               /* the client's "carry on" to a scene */

/* ---- The scene's side of the wire. ----------------------------------- */

static int wait_readable(int fd)
{
  struct pollfd pf = { fd, POLLIN, 0 };
  return poll(&pf, 1, SCENE_MS) == 1;
}

static int read_exact(int fd, void *buf, size_t n)
{
  char *p = buf;
  while (n > 0) {
    if (!wait_readable(fd)) return -1;
    ssize_t got = read(fd, p, n);
    if (got <= 0) return -1;
    p += got;
    n -= (size_t)got;
  }
  return 0;
}

/* Read one request head and its Content-Length body into `request`. The
 * clients here send nothing more before they get an answer, so reading
 * past the request cannot happen. */
static void read_request(int fd)
{
  size_t len = 0;
  char *end = NULL;
  request[0] = '\0';
  while (!(end = strstr(request, "\r\n\r\n")) && len + 1 < sizeof request) {
    if (!wait_readable(fd)) return;
    ssize_t got = read(fd, request + len, sizeof request - 1 - len);
    if (got <= 0) return;
    len += (size_t)got;
    request[len] = '\0';
  }
  const char *cl = strstr(request, "Content-Length: ");
  if (!end || !cl) return;
  size_t want = (size_t)(end + 4 - request) + strtoul(cl + 16, NULL, 10);
  if (want >= sizeof request || want <= len) return;
  if (read_exact(fd, request + len, want - len) == 0) request[want] = '\0';
}

static void put_n(int fd, const void *bytes, size_t len)
{
  const char *p = bytes;
  while (len > 0) {
    ssize_t sent = send(fd, p, len, MSG_NOSIGNAL);
    if (sent <= 0) return;
    p += sent;
    len -= (size_t)sent;
  }
}

static void put(int fd, const char *s)
{
  put_n(fd, s, strlen(s));
}

static void pause_ms(long ms)
{
  struct timespec t = { ms / 1000, (ms % 1000) * 1000000 };
  nanosleep(&t, NULL);
}

/* Write `s` a few bytes at a time with pauses, so that the client's reads
 * end inside lines, chunk framing and events. */
static void put_in_pieces(int fd, const char *s)
{
  static const size_t sizes[] = { 1, 2, 3, 5, 7 };
  size_t len = strlen(s);
  for (size_t off = 0, i = 0; off < len; i++) {
    size_t n = sizes[i % 5] < len - off ? sizes[i % 5] : len - off;
    put_n(fd, s + off, n);
    off += n;
    pause_ms(1);
  }
}

/* Hold the connection until the client closes it: proof that the client
 * did not need the end of the stream to finish. */
static void wait_eof(int fd)
{
  char scratch[4096];
  while (wait_readable(fd) && read(fd, scratch, sizeof scratch) > 0) {
  }
}

static int wait_go(void)
{
  char c;
  return wait_readable(go[0]) && read(go[0], &c, 1) == 1;
}

static void *scene_main(void *arg)
{
  if (!wait_readable(listen_fd)) return NULL;
  int fd = accept(listen_fd, NULL, NULL);
  if (fd < 0) return NULL;
  scene(fd);
  close(fd);
  return NULL;
}

static void scene_start(void (*fn)(int fd))
{
  request[0] = '\0';
  scene = fn;
  if (pthread_create(&scene_thread, NULL, scene_main, NULL) != 0) abort();
}

static void scene_end(void)
{
  pthread_join(scene_thread, NULL);
}

static long now_ms(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* ---- Plain requests. ------------------------------------------------- */

static void content_length_scene(int fd)
{
  read_request(fd);
  put(fd, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
          "X-Spaced:   a b  \r\nContent-Length: 11\r\n\r\nhello");
  pause_ms(20);
  put(fd, " world");
  wait_eof(fd);
}

static void content_length_body_needs_no_close(void)
{
  scene_start(content_length_scene);
  hp_response r;
  int rc = hp_request(port, "POST", "/v1/x", "X-Test: 1\r\n", "{\"a\":1}", 7,
                      &r, 3000);
  scene_end();
  CHECK_INT(rc, ==, 0);
  CHECK_INT(r.status, ==, 200);
  CHECK_STR(r.body, "hello world");
  CHECK_INT(r.body_len, ==, 11);
  char *spaced = hp_header(&r, "x-spaced");
  char *type = hp_header(&r, "CONTENT-TYPE");
  char *missing = hp_header(&r, "X-Space");
  CHECK_STR(spaced, "a b");
  CHECK_STR(type, "text/plain");
  CHECK(missing == NULL);
  free(spaced);
  free(type);
  hp_response_free(&r);

  char host[64];
  snprintf(host, sizeof host, "\r\nHost: 127.0.0.1:%d\r\n", port);
  CHECK(strncmp(request, "POST /v1/x HTTP/1.1\r\n", 21) == 0);
  CHECK_CONTAINS(request, host);
  CHECK_CONTAINS(request, "\r\nX-Test: 1\r\n");
  CHECK_CONTAINS(request, "\r\nContent-Length: 7\r\n");
  CHECK_CONTAINS(request, "\r\n\r\n{\"a\":1}");
}

static void misdirected_scene(int fd)
{
  read_request(fd);
  put(fd, "HTTP/1.1 421 Misdirected Request\r\nContent-Length: 0\r\n\r\n");
  wait_eof(fd);
}

static void a_host_line_replaces_the_default_one(void)
{
  scene_start(misdirected_scene);
  hp_response r;
  int rc = hp_request(port, "GET", "/", "host: evil.example\r\n", NULL, 0, &r,
                      3000);
  scene_end();
  CHECK_INT(rc, ==, 0);
  CHECK_INT(r.status, ==, 421);
  CHECK_STR(r.body, "");
  CHECK_INT(r.body_len, ==, 0);
  CHECK_CONTAINS(request, "\r\nhost: evil.example\r\n");
  CHECK(strstr(request, "127.0.0.1") == NULL);
  CHECK(strstr(request, "Content-Length") == NULL);
  hp_response_free(&r);
}

static void chunked_scene(int fd)
{
  read_request(fd);
  put(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel");
  pause_ms(10);
  put(fd, "lo\r\n6;ext=1\r");
  pause_ms(10);
  put(fd, "\n worl");
  put(fd, "d\r\n0\r\nX-Trailer: 1\r\n");
  pause_ms(10);
  put(fd, "\r\n");
  wait_eof(fd);
}

static void chunked_body_is_dechunked(void)
{
  scene_start(chunked_scene);
  hp_response r;
  int rc = hp_request(port, "GET", "/chunks", NULL, NULL, 0, &r, 3000);
  scene_end();
  CHECK_INT(rc, ==, 0);
  CHECK_INT(r.status, ==, 200);
  CHECK_STR(r.body, "hello world");
  CHECK_INT(r.body_len, ==, 11);
  hp_response_free(&r);
}

static void interim_scene(int fd)
{
  read_request(fd);
  put(fd, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n"
          "X-After: 1\r\n\r\n");
  wait_eof(fd);
}

static void interim_100_is_skipped_and_204_has_no_body(void)
{
  scene_start(interim_scene);
  hp_response r;
  int rc = hp_request(port, "DELETE", "/x", NULL, NULL, 0, &r, 3000);
  scene_end();
  CHECK_INT(rc, ==, 0);
  CHECK_INT(r.status, ==, 204);
  CHECK_STR(r.headers, "X-After: 1\r\n");
  CHECK_INT(r.body_len, ==, 0);
  hp_response_free(&r);
}

static void silent_scene(int fd)
{
  read_request(fd);
  wait_eof(fd);
}

static void a_silent_server_times_out(void)
{
  scene_start(silent_scene);
  hp_response r;
  long start = now_ms();
  int rc = hp_request(port, "GET", "/", NULL, NULL, 0, &r, 200);
  long spent = now_ms() - start;
  scene_end();
  CHECK_INT(rc, ==, -1);
  CHECK_INT(r.status, ==, 0);
  CHECK_INT(spent, >=, 190);
  CHECK_INT(spent, <, 2000);
  hp_response_free(&r);
}

static void close_scene(int fd)
{
  read_request(fd);
  put(fd, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end");
}

static void an_unframed_body_runs_to_the_close(void)
{
  scene_start(close_scene);
  hp_response r;
  int rc = hp_request(port, "GET", "/", NULL, NULL, 0, &r, 3000);
  scene_end();
  CHECK_INT(rc, ==, 0);
  CHECK_INT(r.status, ==, 200);
  CHECK_STR(r.body, "until the end");
  hp_response_free(&r);
}

/* ---- Server-Sent Events. --------------------------------------------- */

/* `body` as chunks of at most 10 bytes, framing included, appended to
 * `out`. */
static void chunk_into(char *out, size_t cap, const char *body)
{
  size_t len = strlen(body), used = strlen(out);
  for (size_t off = 0; off < len;) {
    size_t n = len - off < 10 ? len - off : 10;
    int w = snprintf(out + used, cap - used, "%zx\r\n%.*s\r\n", n, (int)n,
                     body + off);
    if (w < 0 || (size_t)w >= cap - used) abort();
    used += (size_t)w;
    off += n;
  }
}

static void sse_scene(int fd)
{
  static char wire[4096];
  read_request(fd);
  put(fd, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
          "Transfer-Encoding: chunked\r\n\r\n");
  wire[0] = '\0';
  chunk_into(wire, sizeof wire,
             ": keep-alive\n\n"
             "id: 1\nevent: delta\ndata: hel\ndata: lo\n\n"
             "data: {\"x\":2}\r\n\r\n"
             "event: done\ndata:\nretry: 10\n\n"
             "data: par");
  put_in_pieces(fd, wire);
  if (!wait_go()) return;
  wire[0] = '\0';
  chunk_into(wire, sizeof wire, "tial\n\nevent: cut\ndata: x\n");
  put_in_pieces(fd, wire);
  put(fd, "0\r\n\r\n");
  wait_eof(fd);
}

static void sse_events_survive_any_cut(void)
{
  scene_start(sse_scene);
  int status = -1;
  hp_sse *s = hp_sse_open(port, "/v1/events", NULL, 3000, &status, NULL);
  CHECK(s != NULL);
  CHECK_INT(status, ==, 200);
  if (!s) {
    if (write(go[1], "g", 1) != 1) abort();
    scene_end();
    return;
  }
  char *type = hp_header(hp_sse_response(s), "Content-Type");
  CHECK_STR(type, "text/event-stream");
  free(type);

  hp_sse_event ev;
  CHECK_INT(hp_sse_next(s, &ev, 3000), ==, 1);
  CHECK_STR(ev.id, "1");
  CHECK_STR(ev.event, "delta");
  CHECK_STR(ev.data, "hel\nlo");
  CHECK_INT(hp_sse_next(s, &ev, 3000), ==, 1);
  CHECK_STR(ev.id, "");
  CHECK_STR(ev.event, "");
  CHECK_STR(ev.data, "{\"x\":2}");
  CHECK_INT(hp_sse_next(s, &ev, 3000), ==, 1);
  CHECK_STR(ev.event, "done");
  CHECK_STR(ev.data, "");
  /* "data: par" has arrived but is no event yet: the wait times out, and
   * the next call picks the event up where it was cut. */
  CHECK_INT(hp_sse_next(s, &ev, 50), ==, -1);
  if (write(go[1], "g", 1) != 1) abort();
  CHECK_INT(hp_sse_next(s, &ev, 3000), ==, 1);
  CHECK_STR(ev.data, "partial");
  /* "event: cut" never got its blank line before the last chunk. */
  CHECK_INT(hp_sse_next(s, &ev, 3000), ==, 0);
  CHECK_INT(hp_sse_comments(s), ==, 1);
  hp_sse_close(s);
  scene_end();
  CHECK_CONTAINS(request, "GET /v1/events HTTP/1.1\r\n");
  CHECK_CONTAINS(request, "\r\nAccept: text/event-stream\r\n");
}

static void not_found_scene(int fd)
{
  read_request(fd);
  put(fd, "HTTP/1.1 404 Not Found\r\nContent-Length: 14\r\n\r\n"
          "no such stream");
  wait_eof(fd);
}

static void sse_open_returns_the_body_of_a_refusal(void)
{
  scene_start(not_found_scene);
  int status = 0;
  char *body = NULL;
  hp_sse *s = hp_sse_open(port, "/nope", "Accept: */*\r\n", 3000, &status,
                          &body);
  scene_end();
  CHECK(s == NULL);
  CHECK_INT(status, ==, 404);
  CHECK_STR(body, "no such stream");
  CHECK_CONTAINS(request, "\r\nAccept: */*\r\n");
  CHECK(strstr(request, "text/event-stream") == NULL);
  free(body);
}

/* ---- WebSocket. ------------------------------------------------------ */

static int ws_pongs_ok, ws_unmasked, ws_close_op, ws_close_code;

/* One client frame, unmasked into a malloc'd *payload (NUL-terminated).
 * Returns its length, or -1. */
static long ws_read_frame(int fd, int *op, int *fin, char **payload)
{
  unsigned char h[14];
  *payload = NULL;
  if (read_exact(fd, h, 2) != 0) return -1;
  *op = h[0] & 0x0F;
  *fin = (h[0] & 0x80) != 0;
  if (!(h[1] & 0x80)) ws_unmasked = 1;
  uint64_t len = h[1] & 0x7F;
  size_t extra = len == 126 ? 2 : len == 127 ? 8 : 0;
  if (read_exact(fd, h + 2, extra + ((h[1] & 0x80) ? 4 : 0)) != 0) return -1;
  if (extra) {
    len = 0;
    for (size_t i = 0; i < extra; i++) len = len << 8 | h[2 + i];
  }
  if (len > (1u << 20)) return -1;
  unsigned char *mask = h + 2 + extra;
  char *p = malloc((size_t)len + 1);
  if (!p || read_exact(fd, p, (size_t)len) != 0) {
    free(p);
    return -1;
  }
  if (h[1] & 0x80)
    for (size_t i = 0; i < len; i++) p[i] ^= (char)mask[i & 3];
  p[len] = '\0';
  *payload = p;
  return (long)len;
}

static void ws_send_frame(int fd, unsigned first, const char *data,
                          size_t len)
{
  unsigned char h[10];
  size_t n = 0;
  h[n++] = (unsigned char)first;
  if (len < 126) {
    h[n++] = (unsigned char)len;
  } else if (len <= 0xFFFF) {
    h[n++] = 126;
    h[n++] = (unsigned char)(len >> 8);
    h[n++] = (unsigned char)len;
  } else {
    h[n++] = 127;
    for (int i = 7; i >= 0; i--)
      h[n++] = (unsigned char)((uint64_t)len >> (8 * i));
  }
  put_n(fd, h, n);
  put_n(fd, data, len);
}

static int ws_handshake(int fd)
{
  read_request(fd);
  const char *k = strstr(request, "\r\nSec-WebSocket-Key: ");
  if (!k) return -1;
  char key[64], accept[29], head[256];
  snprintf(key, sizeof key, "%.*s", (int)strcspn(k + 21, "\r"), k + 21);
  hp_ws_accept_key(key, accept);
  snprintf(head, sizeof head,
           "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
           "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
           accept);
  put(fd, head);
  return 0;
}

/* Echo each text message after a ping the client must answer; a long one
 * comes back in three fragments with a ping between them, a very long one
 * in a frame with a 64-bit length. "bye" gets a 1001 close. */
static void ws_echo_scene(int fd)
{
  if (ws_handshake(fd) != 0) return;
  for (;;) {
    int op, fin;
    char *msg;
    long len = ws_read_frame(fd, &op, &fin, &msg);
    if (len < 0) return;
    if (op == HP_WS_PONG) {
      free(msg);
      continue;
    }
    if (op != HP_WS_TEXT) {
      free(msg);
      return;
    }
    if (strcmp(msg, "bye") == 0) {
      free(msg);
      ws_send_frame(fd, 0x88, "\x03\xE9going", 7);
      if (ws_read_frame(fd, &ws_close_op, &fin, &msg) == 2)
        ws_close_code = (unsigned char)msg[0] << 8 | (unsigned char)msg[1];
      free(msg);
      return;
    }
    ws_send_frame(fd, 0x89, "p1", 2);
    char *pong;
    int pong_op;
    if (ws_read_frame(fd, &pong_op, &fin, &pong) == 2 &&
        pong_op == HP_WS_PONG && strcmp(pong, "p1") == 0)
      ws_pongs_ok++;
    free(pong);
    size_t n = (size_t)len;
    if (n > 0xFFFF || n < 100) {
      ws_send_frame(fd, 0x81, msg, n);
    } else {
      ws_send_frame(fd, 0x01, msg, n / 3);
      ws_send_frame(fd, 0x00, msg + n / 3, n / 3);
      ws_send_frame(fd, 0x89, "mid", 3);
      ws_send_frame(fd, 0x80, msg + 2 * (n / 3), n - 2 * (n / 3));
    }
    free(msg);
  }
}

static char *filled(size_t n)
{
  char *s = malloc(n + 1);
  if (!s) abort();
  for (size_t i = 0; i < n; i++) s[i] = (char)('a' + i % 26);
  s[n] = '\0';
  return s;
}

static void websocket_echo_answers_pings_and_reassembles(void)
{
  ws_pongs_ok = ws_unmasked = ws_close_op = ws_close_code = 0;
  scene_start(ws_echo_scene);
  int status = 0;
  hp_ws *w = hp_ws_open(port, "/v1/ws", "Origin: http://127.0.0.1\r\n", 3000,
                        &status);
  CHECK(w != NULL);
  CHECK_INT(status, ==, 101);
  if (!w) {
    scene_end();
    return;
  }
  char *text = NULL;
  int op = 0;
  size_t len = 0;
  CHECK_INT(hp_ws_send_text(w, "hello"), ==, 0);
  CHECK_INT(hp_ws_recv(w, &text, 3000), ==, 1);
  CHECK_STR(text, "hello");
  hp_ws_last(w, &op, &len);
  CHECK_INT(op, ==, HP_WS_TEXT);
  CHECK_INT(len, ==, 5);
  free(text);
  CHECK_INT(hp_ws_recv(w, &text, 50), ==, -1);
  CHECK(text == NULL);

  static const size_t sizes[] = { 1000, 70000 };
  for (size_t i = 0; i < 2; i++) {
    char *big = filled(sizes[i]);
    CHECK_INT(hp_ws_send_text(w, big), ==, 0);
    CHECK_INT(hp_ws_recv(w, &text, 3000), ==, 1);
    CHECK(text && strcmp(text, big) == 0);
    hp_ws_last(w, NULL, &len);
    CHECK_INT(len, ==, sizes[i]);
    free(text);
    free(big);
  }

  CHECK_INT(hp_ws_send_text(w, "bye"), ==, 0);
  CHECK_INT(hp_ws_recv(w, &text, 3000), ==, 0);
  CHECK_INT(hp_ws_close_code(w), ==, 1001);
  CHECK_INT(hp_ws_recv(w, &text, 3000), ==, 0);
  hp_ws_close(w);
  scene_end();
  CHECK_INT(ws_pongs_ok, ==, 3);
  CHECK_INT(ws_unmasked, ==, 0);
  CHECK_INT(ws_close_op, ==, HP_WS_CLOSE);
  CHECK_INT(ws_close_code, ==, 1001);
  CHECK(strncmp(request, "GET /v1/ws HTTP/1.1\r\n", 21) == 0);
  CHECK_CONTAINS(request, "\r\nUpgrade: websocket\r\n");
  CHECK_CONTAINS(request, "\r\nConnection: Upgrade\r\n");
  CHECK_CONTAINS(request, "\r\nSec-WebSocket-Version: 13\r\n");
  CHECK_CONTAINS(request, "\r\nOrigin: http://127.0.0.1\r\n");
}

static void ws_close_scene(int fd)
{
  if (ws_handshake(fd) != 0) return;
  int fin;
  char *msg;
  if (ws_read_frame(fd, &ws_close_op, &fin, &msg) == 2)
    ws_close_code = (unsigned char)msg[0] << 8 | (unsigned char)msg[1];
  free(msg);
  ws_send_frame(fd, 0x88, "\x03\xE8", 2);
}

static void websocket_close_sends_1000_and_waits(void)
{
  ws_close_op = ws_close_code = ws_unmasked = 0;
  scene_start(ws_close_scene);
  hp_ws *w = hp_ws_open(port, "/v1/ws", NULL, 3000, NULL);
  CHECK(w != NULL);
  hp_ws_close(w);
  scene_end();
  CHECK_INT(ws_close_op, ==, HP_WS_CLOSE);
  CHECK_INT(ws_close_code, ==, 1000);
  CHECK_INT(ws_unmasked, ==, 0);
}

static void bad_accept_scene(int fd)
{
  read_request(fd);
  put(fd, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
          "Connection: Upgrade\r\nSec-WebSocket-Accept: AAAA\r\n\r\n");
  wait_eof(fd);
}

static void websocket_with_a_wrong_accept_is_refused(void)
{
  scene_start(bad_accept_scene);
  int status = 0;
  hp_ws *w = hp_ws_open(port, "/v1/ws", NULL, 3000, &status);
  scene_end();
  CHECK(w == NULL);
  CHECK_INT(status, ==, 101);
  hp_ws_drop(w);
}

static void accept_key_matches_rfc_6455(void)
{
  char out[29];
  hp_ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", out);
  CHECK_STR(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

/* ---- serve_proc, with shell scripts standing in for the binary. ------- */

static char *script_dir;

static void use_script(const char *name, const char *text)
{
  static char bin[4200];
  h_write_file(script_dir, name, text, strlen(text), 0755);
  snprintf(bin, sizeof bin, "%s/%s", script_dir, name);
  setenv("PORTICO_BIN", bin, 1);
}

static void serve_start_reads_the_ready_line_and_stop_signals(void)
{
  use_script("good.sh",
             "#!/bin/sh\n"
             "[ \"$1\" = serve ] && [ \"$2\" = --flag ] || exit 2\n"
             "trap 'echo bye >&2; exit 0' TERM\n"
             "echo \"starting $PROBE_ENV\" >&2\n"
             "echo noise\n"
             "echo PORTICO_LISTEN_ADDR=127.0.0.1:4242\n"
             "echo after\n"
             "while :; do sleep 0.02; done\n");
  const char *argv[] = { "--flag", NULL };
  const char *env[] = { "PROBE_ENV=set", NULL };
  serve_proc p;
  CHECK_INT(serve_start(&p, argv, env, 3000), ==, 0);
  CHECK_INT(p.port, ==, 4242);
  CHECK_STR(p.addr, "127.0.0.1:4242");
  CHECK_INT(serve_wait_for_stderr(&p, "starting set", 3000), ==, 1);
  CHECK_INT(serve_wait_for_stderr(&p, "never said", 50), ==, 0);
  CHECK_INT(serve_rss_kib(p.pid), >, 0);
  char line[64] = "";
  CHECK(read_until(p.out_fd, line, sizeof line, "after\n", 3000));
  CHECK_STR(line, "after\n");
  int elapsed = -1;
  int status = serve_stop(&p, SIGTERM, 3000, &elapsed);
  CHECK(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0);
  CHECK_INT(elapsed, >=, 0);
  CHECK_INT(elapsed, <, 3000);
  char *err = serve_stderr(&p);
  CHECK_CONTAINS(err, "bye\n");
  free(err);
  char path[512];
  memcpy(path, p.err_path, sizeof path);
  serve_cleanup(&p);
  CHECK(access(path, F_OK) != 0);
}

static void serve_stop_kills_a_child_that_ignores_the_signal(void)
{
  use_script("deaf.sh", "#!/bin/sh\ntrap '' TERM\n"
                        "echo PORTICO_LISTEN_ADDR=127.0.0.1:1\n"
                        "while :; do sleep 0.02; done\n");
  serve_proc p;
  CHECK_INT(serve_start(&p, NULL, NULL, 3000), ==, 0);
  int elapsed = 0;
  CHECK_INT(serve_stop(&p, SIGTERM, 100, &elapsed), ==, -1);
  CHECK_INT(elapsed, ==, 100);
  CHECK_INT(p.pid, ==, -1);
  CHECK_INT(serve_stop(&p, SIGTERM, 100, NULL), ==, -1);
  serve_cleanup(&p);
}

static void serve_start_fails_fast_when_the_child_exits(void)
{
  use_script("dies.sh", "#!/bin/sh\necho 'boom: no such command' >&2\n"
                        "exit 3\n");
  serve_proc p;
  long start = now_ms();
  CHECK_INT(serve_start(&p, NULL, NULL, 5000), ==, -1);
  CHECK_INT(now_ms() - start, <, 4000);
  CHECK_INT(p.pid, ==, -1);
  CHECK_INT(p.out_fd, ==, -1);
}

static void serve_start_refuses_a_malformed_ready_line(void)
{
  use_script("bad.sh", "#!/bin/sh\necho PORTICO_LISTEN_ADDR=127.0.0.1:http\n"
                       "while :; do sleep 0.02; done\n");
  serve_proc p;
  long start = now_ms();
  CHECK_INT(serve_start(&p, NULL, NULL, 5000), ==, -1);
  CHECK_INT(now_ms() - start, <, 4000);
  CHECK_INT(p.pid, ==, -1);
}

int main(void)
{
  listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in a = { .sin_family = AF_INET,
                           .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
  socklen_t alen = sizeof a;
  if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *)&a, sizeof a) ||
      listen(listen_fd, 8) || getsockname(listen_fd, (struct sockaddr *)&a,
                                          &alen) || pipe(go)) {
    perror("test_http_probe: loopback listener");
    return EXIT_FAILURE;
  }
  port = ntohs(a.sin_port);
  script_dir = h_tempdir();

  RUN(content_length_body_needs_no_close);
  RUN(a_host_line_replaces_the_default_one);
  RUN(chunked_body_is_dechunked);
  RUN(interim_100_is_skipped_and_204_has_no_body);
  RUN(a_silent_server_times_out);
  RUN(an_unframed_body_runs_to_the_close);
  RUN(sse_events_survive_any_cut);
  RUN(sse_open_returns_the_body_of_a_refusal);
  RUN(accept_key_matches_rfc_6455);
  RUN(websocket_echo_answers_pings_and_reassembles);
  RUN(websocket_close_sends_1000_and_waits);
  RUN(websocket_with_a_wrong_accept_is_refused);
  RUN(serve_start_reads_the_ready_line_and_stop_signals);
  RUN(serve_stop_kills_a_child_that_ignores_the_signal);
  RUN(serve_start_fails_fast_when_the_child_exits);
  RUN(serve_start_refuses_a_malformed_ready_line);

  h_rmtree(script_dir);
  free(script_dir);
  close(listen_fd);
  return check_report();
}
