/*
 * core/store/base64.c: base64 (RFC 4648, padded), because the normalized
 * message model carries image bytes as base64 text and the store keeps the
 * bytes themselves, hashed once. Written here rather than taken from
 * libcrypto because clients send base64 with line breaks and in the URL
 * alphabet, which EVP_DecodeBlock refuses, and because its decoder reports
 * padding as output bytes.
 */
#include <stdlib.h>

#include "store_int.h"

static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *pt__base64_encode(const void *data, size_t len)
{
  const unsigned char *p = data;
  char *out = malloc((len + 2) / 3 * 4 + 1), *o = out;
  if (!out) return NULL;
  size_t i = 0;
  for (; i + 3 <= len; i += 3) {
    unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8 | p[i + 2];
    *o++ = alphabet[v >> 18];
    *o++ = alphabet[(v >> 12) & 63];
    *o++ = alphabet[(v >> 6) & 63];
    *o++ = alphabet[v & 63];
  }
  if (i < len) {
    unsigned v = (unsigned)p[i] << 16 | (i + 1 < len ? (unsigned)p[i + 1] << 8 : 0);
    *o++ = alphabet[v >> 18];
    *o++ = alphabet[(v >> 12) & 63];
    *o++ = i + 1 < len ? alphabet[(v >> 6) & 63] : '=';
    *o++ = '=';
  }
  *o = '\0';
  return out;
}

static int value(char c)
{
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+' || c == '-') return 62; /* '-' and '_': the URL alphabet */
  if (c == '/' || c == '_') return 63;
  return -1;
}

int32_t pt__base64_decode(const char *text, size_t len, unsigned char **out,
                          size_t *out_len)
{
  unsigned char *buf = malloc(len / 4 * 3 + 3), *o = buf;
  if (!buf) return PT_ENOMEM;
  unsigned acc = 0;
  int bits = 0, pad = 0;
  for (size_t i = 0; i < len; i++) {
    char c = text[i];
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
    if (c == '=') {
      pad++;
      continue;
    }
    int v = value(c);
    if (v < 0 || pad) {
      free(buf);
      return PT_EINVAL;
    }
    acc = (acc << 6) | (unsigned)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      *o++ = (unsigned char)(acc >> bits);
      acc &= (1u << bits) - 1;
    }
  }
  if (pad > 2 || bits >= 6) {
    free(buf);
    return PT_EINVAL;
  }
  *out = buf;
  *out_len = (size_t)(o - buf);
  return PT_OK;
}
