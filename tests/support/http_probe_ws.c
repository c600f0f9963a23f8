/*
 * tests/support/http_probe_ws.c: the test client's WebSocket connections
 * (see http_probe.h): the upgrade handshake, and frames sent and received
 * as RFC 6455 says or, for tests, deliberately not. Sockets and heads are
 * http_probe.c's (http_probe_int.h).
 */
#include "http_probe_int.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

/* The largest WebSocket frame payload accepted from the server. */
#define MAX_FRAME ((uint64_t)256 << 20)

struct hp_ws {
  rbuf rb;
  int timeout_ms;   /* for sends */
  int close_sent;
  int closed;       /* the server sent a close frame or ended the stream */
  int close_code;
  sbuf msg;         /* a fragmented message so far */
  int msg_op;       /* its opcode; 0 when none is under way */
  int last_op;
  size_t last_len;
};

void hp_ws_accept_key(const char *key, char out[29])
{
  static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  sbuf b = { 0 };
  hp__sb_adds(&b, key);
  hp__sb_adds(&b, guid);
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1((const unsigned char *)b.p, b.len, digest);
  free(b.p);
  EVP_EncodeBlock((unsigned char *)out, digest, sizeof digest);
}

static void random_bytes(void *buf, size_t len)
{
  if (getrandom(buf, len, 0) != (ssize_t)len) abort();
}

hp_ws *hp_ws_open(int port, const char *path, const char *extra_headers,
                  int timeout_ms, int *status)
{
  uint64_t deadline = hp__deadline_after(timeout_ms);
  if (status) *status = 0;
  unsigned char nonce[16];
  random_bytes(nonce, sizeof nonce);
  char key[25], want[29], key_line[64];
  EVP_EncodeBlock((unsigned char *)key, nonce, sizeof nonce);
  hp_ws_accept_key(key, want);
  snprintf(key_line, sizeof key_line, "Sec-WebSocket-Key: %s\r\n", key);
  const char *const defaults[] = { "Upgrade: websocket\r\n",
                                   "Connection: Upgrade\r\n", key_line,
                                   "Sec-WebSocket-Version: 13\r\n", NULL };
  int fd = hp_connect(port);
  if (fd < 0) return NULL;
  hp_ws *w = calloc(1, sizeof *w);
  if (!w) abort();
  w->rb.fd = fd;
  w->timeout_ms = timeout_ms;
  sbuf req = { 0 };
  hp__build_request(&req, port, "GET", path, defaults, extra_headers, NULL, 0);
  int rc = hp__send_all(fd, req.p, req.len, deadline);
  free(req.p);
  hp_response head = { 0 };
  if (rc == 0) hp__read_head(&w->rb, deadline, &head.status, &head.headers);
  if (status) *status = head.status;
  const char *wrong = NULL;
  char *accept = hp_header(&head, "Sec-WebSocket-Accept");
  if (head.status != 101)
    wrong = "";
  else if (!hp__header_has_token(&head, "Upgrade", "websocket"))
    wrong = "Upgrade is not websocket";
  else if (!hp__header_has_token(&head, "Connection", "upgrade"))
    wrong = "Connection has no upgrade";
  else if (!accept || strcmp(accept, want) != 0)
    wrong = "Sec-WebSocket-Accept is not the key's";
  if (wrong && *wrong)
    fprintf(stderr, "hp_ws_open %s: 101 but %s; headers:\n%s", path, wrong,
            head.headers);
  free(accept);
  hp_response_free(&head);
  if (wrong) {
    hp_ws_drop(w);
    return NULL;
  }
  return w;
}

int hp_ws_send_frame(hp_ws *w, unsigned first_byte, int masked,
                     const void *data, size_t len)
{
  unsigned char hdr[14];
  size_t n = 0;
  hdr[n++] = (unsigned char)first_byte;
  unsigned char mask_bit = masked ? 0x80 : 0;
  if (len < 126) {
    hdr[n++] = mask_bit | (unsigned char)len;
  } else if (len <= 0xFFFF) {
    hdr[n++] = mask_bit | 126;
    hdr[n++] = (unsigned char)(len >> 8);
    hdr[n++] = (unsigned char)len;
  } else {
    hdr[n++] = mask_bit | 127;
    for (int i = 7; i >= 0; i--)
      hdr[n++] = (unsigned char)((uint64_t)len >> (8 * i));
  }
  unsigned char mask[4] = { 0 };
  if (masked) {
    random_bytes(mask, sizeof mask);
    memcpy(hdr + n, mask, 4);
    n += 4;
  }
  unsigned char *frame = malloc(n + len + 1);
  if (!frame) abort();
  memcpy(frame, hdr, n);
  const unsigned char *src = data;
  for (size_t i = 0; i < len; i++) frame[n + i] = src[i] ^ mask[i & 3];
  int rc = hp__send_all(w->rb.fd, frame, n + len,
                        hp__deadline_after(w->timeout_ms));
  free(frame);
  return rc;
}

int hp_ws_send_raw(hp_ws *w, int opcode, const void *data, size_t len)
{
  return hp_ws_send_frame(w, 0x80u | ((unsigned)opcode & 0x0Fu), 1, data,
                          len);
}

int hp_ws_send_text(hp_ws *w, const char *text)
{
  return hp_ws_send_raw(w, HP_WS_TEXT, text, strlen(text));
}

static int ws_protocol_error(const char *what)
{
  fprintf(stderr, "hp_ws_recv: the server sent %s\n", what);
  return -1;
}

int hp_ws_recv(hp_ws *w, char **text, int timeout_ms)
{
  uint64_t deadline = hp__deadline_after(timeout_ms);
  int r;
  *text = NULL;
  if (w->closed) return 0;
  for (;;) {
    if ((r = hp__rb_need(&w->rb, 2, deadline)) <= 0) goto ended;
    const unsigned char *p = (const unsigned char *)hp__rb_ptr(&w->rb);
    int fin = p[0] & 0x80, op = p[0] & 0x0F;
    size_t hdr = 2 + ((p[1] & 0x7F) == 126 ? 2 : (p[1] & 0x7F) == 127 ? 8 : 0);
    if (p[1] & 0x80) return ws_protocol_error("a masked frame");
    if (p[0] & 0x70) return ws_protocol_error("a frame with RSV bits set");
    if ((r = hp__rb_need(&w->rb, hdr, deadline)) <= 0) goto ended;
    p = (const unsigned char *)hp__rb_ptr(&w->rb);
    uint64_t len = p[1] & 0x7F;
    if (hdr > 2) {
      len = 0;
      for (size_t i = 2; i < hdr; i++) len = len << 8 | p[i];
    }
    if (op >= 8 && (!fin || len > 125))
      return ws_protocol_error("a fragmented or long control frame");
    if (len > MAX_FRAME) return ws_protocol_error("a frame over 256 MiB");
    if ((r = hp__rb_need(&w->rb, hdr + (size_t)len, deadline)) <= 0)
      goto ended;
    p = (const unsigned char *)hp__rb_ptr(&w->rb);
    const unsigned char *payload = p + hdr;
    size_t n = (size_t)len;
    switch (op) {
    case HP_WS_PING:
      if (hp_ws_send_raw(w, HP_WS_PONG, payload, n) != 0) return -1;
      break;
    case HP_WS_PONG:
      break;
    case HP_WS_CLOSE:
      w->close_code = n >= 2 ? payload[0] << 8 | payload[1] : 1005;
      w->closed = 1;
      if (!w->close_sent) {
        w->close_sent = 1;
        hp_ws_send_raw(w, HP_WS_CLOSE, payload, n >= 2 ? 2 : 0);
      }
      hp__rb_consume(&w->rb, hdr + n);
      return 0;
    case HP_WS_TEXT:
    case HP_WS_BINARY:
      if (w->msg_op)
        return ws_protocol_error("a new message inside a fragmented one");
      hp__sb_clear(&w->msg);
      w->msg_op = op;
      /* fall through */
    case HP_WS_CONT:
      if (!w->msg_op) return ws_protocol_error("a stray continuation frame");
      hp__sb_add(&w->msg, payload, n);
      break;
    default:
      return ws_protocol_error("a reserved opcode");
    }
    hp__rb_consume(&w->rb, hdr + n);
    if (fin && op < 8) {
      w->last_op = w->msg_op;
      w->last_len = w->msg.len;
      w->msg_op = 0;
      *text = hp__sb_take(&w->msg);
      return 1;
    }
  }
ended:
  if (r < 0) return -1;
  w->closed = 1;
  return 0;
}

void hp_ws_last(const hp_ws *w, int *opcode, size_t *len)
{
  if (opcode) *opcode = w->last_op;
  if (len) *len = w->last_len;
}

int hp_ws_close_code(const hp_ws *w)
{
  return w->close_code;
}

int hp_ws_fd(const hp_ws *w)
{
  return w->rb.fd;
}

void hp_ws_close(hp_ws *w)
{
  if (!w) return;
  if (!w->closed && !w->close_sent) {
    static const unsigned char normal[2] = { 0x03, 0xE8 };
    w->close_sent = 1;
    /* Closing at once would reset a connection whose server still has
     * bytes in flight; waiting for its close keeps the ending clean. */
    if (hp_ws_send_raw(w, HP_WS_CLOSE, normal, sizeof normal) == 0)
      hp_wait_closed(w->rb.fd, 1000);
  }
  hp_ws_drop(w);
}

void hp_ws_drop(hp_ws *w)
{
  if (!w) return;
  hp__rb_free(&w->rb);
  free(w->msg.p);
  free(w);
}
