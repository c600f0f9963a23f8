/*
 * plugins/openai/json_view.c: see json_view.h.
 *
 * Two walkers: a strict one that checks an event's grammar once (jv_parse),
 * and a fast one that skips values it may trust because they passed the
 * strict one. Lookups rescan from the start of an object; events are small
 * and a reader asks for a handful of members, so that is cheaper than any
 * index.
 */
#include "json_view.h"

#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 64

/* ------------------------------------------------------------------------ */
/* Checking                                                                  */

static const char *ws(const char *p, const char *end)
{
  while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
    p++;
  return p;
}

static int hexval(char c)
{
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Each check_* returns the end of the value that starts at p, or NULL. */
static const char *check_value(const char *p, const char *end, int depth);

static const char *check_string(const char *p, const char *end)
{
  p++; /* the opening quote */
  while (p < end) {
    unsigned char c = (unsigned char)*p;
    if (c == '"') return p + 1;
    if (c < 0x20) return NULL;
    if (c == '\\') {
      if (++p >= end) return NULL;
      if (*p == 'u') {
        if (end - p < 5) return NULL;
        for (int i = 1; i <= 4; i++)
          if (hexval(p[i]) < 0) return NULL;
        p += 4;
      } else if (!strchr("\"\\/bfnrt", *p)) {
        return NULL;
      }
    }
    p++;
  }
  return NULL;
}

static const char *check_number(const char *p, const char *end)
{
  const char *start;
  if (p < end && *p == '-') p++;
  if (p >= end) return NULL;
  if (*p == '0') {
    p++;
  } else if (*p >= '1' && *p <= '9') {
    while (p < end && *p >= '0' && *p <= '9') p++;
  } else {
    return NULL;
  }
  if (p < end && *p == '.') {
    start = ++p;
    while (p < end && *p >= '0' && *p <= '9') p++;
    if (p == start) return NULL;
  }
  if (p < end && (*p == 'e' || *p == 'E')) {
    p++;
    if (p < end && (*p == '+' || *p == '-')) p++;
    start = p;
    while (p < end && *p >= '0' && *p <= '9') p++;
    if (p == start) return NULL;
  }
  return p;
}

static const char *check_word(const char *p, const char *end, const char *w)
{
  size_t n = strlen(w);
  return (size_t)(end - p) >= n && memcmp(p, w, n) == 0 ? p + n : NULL;
}

static const char *check_container(const char *p, const char *end,
                                   int depth)
{
  char close = *p == '{' ? '}' : ']';
  int object = *p == '{';
  if (depth >= MAX_DEPTH) return NULL;
  p = ws(p + 1, end);
  if (p < end && *p == close) return p + 1;
  for (;;) {
    if (object) {
      if (p >= end || *p != '"' || !(p = check_string(p, end))) return NULL;
      p = ws(p, end);
      if (p >= end || *p != ':') return NULL;
      p = ws(p + 1, end);
    }
    if (!(p = check_value(p, end, depth + 1))) return NULL;
    p = ws(p, end);
    if (p >= end) return NULL;
    if (*p == close) return p + 1;
    if (*p != ',') return NULL;
    p = ws(p + 1, end);
  }
}

static const char *check_value(const char *p, const char *end, int depth)
{
  if (p >= end) return NULL;
  switch (*p) {
  case '"': return check_string(p, end);
  case '{':
  case '[': return check_container(p, end, depth);
  case 't': return check_word(p, end, "true");
  case 'f': return check_word(p, end, "false");
  case 'n': return check_word(p, end, "null");
  default: return check_number(p, end);
  }
}

int jv_parse(pt_str text, jv *out)
{
  const char *end = text.ptr + text.len;
  const char *p = ws(text.ptr, end);
  const char *v = check_value(p, end, 0);
  if (!v || ws(v, end) != end) return -1;
  out->p = p;
  out->len = (size_t)(v - p);
  return 0;
}

/* ------------------------------------------------------------------------ */
/* Reading checked values                                                    */

int jv_type(jv v)
{
  if (v.len == 0) return JV_ABSENT;
  switch (v.p[0]) {
  case '"': return JV_STRING;
  case '{': return JV_OBJECT;
  case '[': return JV_ARRAY;
  case 't':
  case 'f': return JV_BOOL;
  case 'n': return JV_NULL;
  default: return JV_NUMBER;
  }
}

/* The end of the checked string at p: the next quote that no odd run of
 * backslashes escapes. memchr, because strings are most of an event. */
static const char *skip_string(const char *p, const char *end)
{
  const char *q = p + 1;
  for (;;) {
    q = memchr(q, '"', (size_t)(end - q));
    if (!q) return end;
    const char *b = q;
    while (b > p + 1 && b[-1] == '\\') b--;
    if (((q - b) & 1) == 0) return q + 1;
    q++;
  }
}

/* The end of the checked value at p. */
static const char *skip(const char *p, const char *end)
{
  if (*p == '"') return skip_string(p, end);
  if (*p == '{' || *p == '[') {
    int depth = 0;
    while (p < end) {
      char c = *p;
      if (c == '"') {
        p = skip_string(p, end);
        continue;
      }
      if (c == '{' || c == '[') {
        depth++;
      } else if ((c == '}' || c == ']') && --depth == 0) {
        return p + 1;
      }
      p++;
    }
    return end;
  }
  while (p < end && *p != ',' && *p != '}' && *p != ']' && *p != ' ' &&
         *p != '\t' && *p != '\n' && *p != '\r')
    p++;
  return p;
}

static void put_utf8(char *out, size_t *n, uint32_t cp)
{
  if (cp < 0x80) {
    out[(*n)++] = (char)cp;
  } else if (cp < 0x800) {
    out[(*n)++] = (char)(0xC0 | (cp >> 6));
    out[(*n)++] = (char)(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out[(*n)++] = (char)(0xE0 | (cp >> 12));
    out[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[(*n)++] = (char)(0x80 | (cp & 0x3F));
  } else {
    out[(*n)++] = (char)(0xF0 | (cp >> 18));
    out[(*n)++] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[(*n)++] = (char)(0x80 | (cp & 0x3F));
  }
}

static uint32_t hex4(const char *p)
{
  return (uint32_t)(hexval(p[0]) << 12 | hexval(p[1]) << 8 |
                    hexval(p[2]) << 4 | hexval(p[3]));
}

/* Decode the checked string body [p, end) into out (room for end - p
 * bytes: no escape decodes longer than it is written). */
static size_t decode(const char *p, const char *end, char *out)
{
  size_t n = 0;
  while (p < end) {
    if (*p != '\\') {
      out[n++] = *p++;
      continue;
    }
    p++;
    switch (*p++) {
    case 'b': out[n++] = '\b'; break;
    case 'f': out[n++] = '\f'; break;
    case 'n': out[n++] = '\n'; break;
    case 'r': out[n++] = '\r'; break;
    case 't': out[n++] = '\t'; break;
    case 'u': {
      uint32_t cp = hex4(p);
      p += 4;
      if (cp >= 0xD800 && cp <= 0xDBFF && end - p >= 6 && p[0] == '\\' &&
          p[1] == 'u') {
        uint32_t lo = hex4(p + 2);
        if (lo >= 0xDC00 && lo <= 0xDFFF) {
          cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          p += 6;
        }
      }
      /* A lone surrogate has no UTF-8 form. */
      if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xFFFD;
      put_utf8(out, &n, cp);
      break;
    }
    default: out[n++] = p[-1]; break; /* " \ / */
    }
  }
  return n;
}

int jv_is(jv v, const char *s)
{
  if (jv_type(v) != JV_STRING) return 0;
  const char *body = v.p + 1;
  size_t blen = v.len - 2, slen = strlen(s);
  if (!memchr(body, '\\', blen)) return blen == slen && !memcmp(body, s, slen);
  char tmp[256];
  if (blen > sizeof tmp) return 0;
  size_t n = decode(body, body + blen, tmp);
  return n == slen && !memcmp(tmp, s, slen);
}

int jv_next_member(jv o, size_t *cursor, jv *key, jv *value)
{
  if (jv_type(o) != JV_OBJECT) return 0;
  const char *end = o.p + o.len;
  const char *p = ws(o.p + (*cursor ? *cursor : 1), end);
  if (p < end && *p == ',') p = ws(p + 1, end);
  if (p >= end || *p != '"') return 0;
  const char *kend = skip_string(p, end);
  *key = (jv){ p, (size_t)(kend - p) };
  p = ws(ws(kend, end) + 1, end); /* past the colon */
  const char *vend = skip(p, end);
  *value = (jv){ p, (size_t)(vend - p) };
  *cursor = (size_t)(vend - o.p);
  return 1;
}

jv jv_get(jv o, const char *key)
{
  jv k, v;
  size_t cursor = 0;
  while (jv_next_member(o, &cursor, &k, &v))
    if (jv_is(k, key)) return v;
  return (jv){ NULL, 0 };
}

int jv_next(jv a, size_t *cursor, jv *item)
{
  if (jv_type(a) != JV_ARRAY) return 0;
  const char *end = a.p + a.len;
  const char *p = ws(a.p + (*cursor ? *cursor : 1), end);
  if (p < end && *p == ',') p = ws(p + 1, end);
  if (p >= end || *p == ']') return 0;
  const char *vend = skip(p, end);
  *item = (jv){ p, (size_t)(vend - p) };
  *cursor = (size_t)(vend - a.p);
  return 1;
}

static int reserve(jv_buf *b, size_t n)
{
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n + 1) cap *= 2;
    char *grown = realloc(b->p, cap);
    if (!grown) return -1;
    b->p = grown;
    b->cap = cap;
  }
  return 0;
}

int jv_buf_add(jv_buf *b, const char *p, size_t n)
{
  if (reserve(b, n) != 0) return -1;
  if (n) memcpy(b->p + b->len, p, n);
  b->len += n;
  b->p[b->len] = '\0';
  return 0;
}

int jv_str_append(jv v, jv_buf *b)
{
  if (jv_type(v) != JV_STRING) return -1;
  size_t blen = v.len - 2;
  if (reserve(b, blen) != 0) return -1;
  b->len += decode(v.p + 1, v.p + 1 + blen, b->p + b->len);
  b->p[b->len] = '\0';
  return 0;
}

int jv_str(jv v, jv_buf *b)
{
  b->len = 0;
  if (b->p) b->p[0] = '\0';
  return jv_str_append(v, b);
}

uint64_t jv_u64(jv v, uint64_t dflt)
{
  if (jv_type(v) != JV_NUMBER || v.p[0] == '-') return dflt;
  uint64_t n = 0;
  for (size_t i = 0; i < v.len && v.p[i] >= '0' && v.p[i] <= '9'; i++)
    n = n * 10 + (uint64_t)(v.p[i] - '0');
  return n;
}

void jv_buf_free(jv_buf *b)
{
  free(b->p);
  memset(b, 0, sizeof *b);
}
