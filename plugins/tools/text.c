/*
 * plugins/tools/text.c: building the text a tool hands the model, and
 * deciding what is text at all.
 *
 * Everything a tool returns ends up in a JSON string and then in a provider
 * request, both of which need valid UTF-8 without NUL bytes; files, command
 * output and HTTP bodies promise neither. tb_add_text() makes any bytes
 * safe; text_is_binary() is the one heuristic behind "binary file" in
 * fs_read, fs_edit, fs_grep and http_fetch, so the tools agree.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools.h"

static int grow(tbuf *b, size_t n)
{
  if (b->oom) return -1;
  if (b->len + n + 1 <= b->cap) return 0;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < b->len + n + 1) {
    if (cap > ((size_t)-1) / 2) {
      b->oom = 1;
      return -1;
    }
    cap *= 2;
  }
  char *p = realloc(b->p, cap);
  if (!p) {
    b->oom = 1;
    return -1;
  }
  b->p = p;
  b->cap = cap;
  return 0;
}

void tb_add(tbuf *b, const char *s, size_t n)
{
  if (grow(b, n) < 0) return;
  if (n) memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}

void tb_adds(tbuf *b, const char *s)
{
  tb_add(b, s, strlen(s));
}

void tb_addf(tbuf *b, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0 || grow(b, (size_t)n) < 0) return;
  va_start(ap, fmt);
  vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
}

int utf8_char_len(const unsigned char *s, size_t n)
{
  unsigned c = s[0];
  int len;
  unsigned lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
  if (c < 0x80) return 1;
  if (c < 0xC2) return 0;         /* continuation byte or overlong */
  if (c < 0xE0) {
    len = 2;
  } else if (c < 0xF0) {
    len = 3;
    if (c == 0xE0) lo = 0xA0;     /* overlong */
    if (c == 0xED) hi = 0x9F;     /* UTF-16 surrogates */
  } else if (c < 0xF5) {
    len = 4;
    if (c == 0xF0) lo = 0x90;     /* overlong */
    if (c == 0xF4) hi = 0x8F;     /* above U+10FFFF */
  } else {
    return 0;
  }
  for (int i = 1; i < len; i++) {
    if ((size_t)i >= n) return -1;
    unsigned lo_i = i == 1 ? lo : 0x80, hi_i = i == 1 ? hi : 0xBF;
    if (s[i] < lo_i || s[i] > hi_i) return 0;
  }
  return len;
}

void tb_add_text(tbuf *b, const char *s, size_t n)
{
  static const char REPLACEMENT[] = "\xEF\xBF\xBD"; /* U+FFFD */
  const unsigned char *u = (const unsigned char *)s;
  size_t run = 0; /* valid bytes not yet copied, ending at i */
  size_t i = 0;
  while (i < n) {
    int len = u[i] ? utf8_char_len(u + i, n - i) : 0;
    if (len > 0) {
      i += (size_t)len;
      run += (size_t)len;
      continue;
    }
    tb_add(b, s + i - run, run);
    tb_add(b, REPLACEMENT, 3);
    run = 0;
    i++;
  }
  tb_add(b, s + n - run, run);
}

const char *tb_str(tbuf *b)
{
  if (!b->p) tb_add(b, "", 0);
  return b->p ? b->p : "";
}

void tb_free(tbuf *b)
{
  free(b->p);
  memset(b, 0, sizeof *b);
}

size_t utf8_cut(const char *s, size_t n, size_t max)
{
  if (n <= max) return n;
  size_t cut = max, lowest = max > 3 ? max - 3 : 0;
  /* Back up over continuation bytes to the start of the cut character. */
  while (cut > lowest && ((unsigned char)s[cut] & 0xC0) == 0x80) cut--;
  return cut;
}

int text_is_binary(const char *s, size_t n, int more, char *why,
                   size_t why_len)
{
  const unsigned char *u = (const unsigned char *)s;
  for (size_t i = 0; i < n;) {
    if (u[i] == 0) {
      snprintf(why, why_len, "a NUL byte at offset %zu", i);
      return 1;
    }
    int len = utf8_char_len(u + i, n - i);
    if (len < 0 && more) return 0;
    if (len <= 0) {
      snprintf(why, why_len, "bytes that are not UTF-8 at offset %zu", i);
      return 1;
    }
    i += (size_t)len;
  }
  return 0;
}
