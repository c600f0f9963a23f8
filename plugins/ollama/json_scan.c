/*
 * plugins/ollama/json_scan.c: reads one /api/chat stream line without
 * building a tree.
 *
 * Every streamed token arrives as a whole JSON object on its own line.
 * Parsing each into a cJSON tree would allocate several times per token;
 * this reader walks the line once, checks it is well-formed JSON, and
 * picks out the few members the stream needs. A string without escapes is
 * returned as a view into the line; one with escapes is decoded into a
 * buffer that is reused from line to line. The tool_calls array, which is
 * rare, is returned as raw text for stream.c to parse with cJSON.
 *
 * Not a general JSON parser: it reads the members named below and skips
 * (while checking) everything else.
 */
#include "ollama.h"

#include <stdlib.h>
#include <string.h>

/* Deeper nesting than this in a stream line is not something Ollama
 * writes; refusing it bounds the recursion. */
#define MAX_DEPTH 64

typedef struct rd {
  const char *p, *e;
} rd;

int ol_buf_put(ol_buf *b, const char *p, size_t n)
{
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n + 1) cap *= 2;
    char *grown = realloc(b->p, cap);
    if (!grown) return -1;
    b->p = grown;
    b->cap = cap;
  }
  if (n) memcpy(b->p + b->len, p, n);
  b->len += n;
  b->p[b->len] = '\0';
  return 0;
}

void ol_buf_free(ol_buf *b)
{
  free(b->p);
  memset(b, 0, sizeof *b);
}

void ol_scan_free(ol_scan *s)
{
  ol_buf_free(&s->content);
  ol_buf_free(&s->thinking);
  ol_buf_free(&s->error);
  ol_buf_free(&s->reason);
}

static void ws(rd *r)
{
  while (r->p < r->e &&
         (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
    r->p++;
}

static int hex4(const char *p, unsigned *out)
{
  unsigned v = 0;
  for (int i = 0; i < 4; i++) {
    char c = p[i];
    v <<= 4;
    if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
    else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
    else return -1;
  }
  *out = v;
  return 0;
}

/* Step over the string at r->p (a '"'), checking its escapes. *esc says
 * whether it had any. 0, or -1 when malformed. */
static int skip_string(rd *r, int *esc)
{
  *esc = 0;
  r->p++;
  while (r->p < r->e) {
    unsigned char c = (unsigned char)*r->p++;
    if (c == '"') return 0;
    if (c < 0x20) return -1;
    if (c != '\\') continue;
    if (r->p >= r->e) return -1;
    char x = *r->p++;
    *esc = 1;
    if (x == 'u') {
      unsigned v;
      if (r->e - r->p < 4 || hex4(r->p, &v) != 0) return -1;
      r->p += 4;
    } else if (!strchr("\"\\/bfnrt", x) || x == '\0') {
      return -1;
    }
  }
  return -1;
}

static void put_utf8(char **o, unsigned cp)
{
  char *q = *o;
  if (cp < 0x80) {
    *q++ = (char)cp;
  } else if (cp < 0x800) {
    *q++ = (char)(0xC0 | (cp >> 6));
    *q++ = (char)(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    *q++ = (char)(0xE0 | (cp >> 12));
    *q++ = (char)(0x80 | ((cp >> 6) & 0x3F));
    *q++ = (char)(0x80 | (cp & 0x3F));
  } else {
    *q++ = (char)(0xF0 | (cp >> 18));
    *q++ = (char)(0x80 | ((cp >> 12) & 0x3F));
    *q++ = (char)(0x80 | ((cp >> 6) & 0x3F));
    *q++ = (char)(0x80 | (cp & 0x3F));
  }
  *o = q;
}

/* Decode the checked string body [p, e) into `b`. Decoding never grows the
 * text (an escape of n bytes yields at most n bytes), so one reservation
 * covers it. */
static int decode(const char *p, const char *e, ol_buf *b)
{
  b->len = 0;
  if (ol_buf_put(b, p, (size_t)(e - p)) != 0) return -1;
  char *o = b->p;
  while (p < e) {
    if (*p != '\\') {
      *o++ = *p++;
      continue;
    }
    p++;
    char x = *p++;
    switch (x) {
    case 'b': *o++ = '\b'; break;
    case 'f': *o++ = '\f'; break;
    case 'n': *o++ = '\n'; break;
    case 'r': *o++ = '\r'; break;
    case 't': *o++ = '\t'; break;
    case 'u': {
      unsigned cp, lo;
      hex4(p, &cp);
      p += 4;
      if (cp >= 0xD800 && cp <= 0xDBFF && e - p >= 6 && p[0] == '\\' &&
          p[1] == 'u' && hex4(p + 2, &lo) == 0 && lo >= 0xDC00 &&
          lo <= 0xDFFF) {
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        p += 6;
      } else if (cp >= 0xD800 && cp <= 0xDFFF) {
        cp = 0xFFFD; /* a lone surrogate: no character to give */
      }
      put_utf8(&o, cp);
      break;
    }
    default: *o++ = x; break; /* " \ / */
    }
  }
  b->len = (size_t)(o - b->p);
  b->p[b->len] = '\0';
  return 0;
}

/* Read the string at r->p into *out: a view into the line, or decoded into
 * `b`. 0, -1 malformed, -2 out of memory. */
static int read_string(rd *r, ol_buf *b, pt_str *out)
{
  const char *start = r->p + 1;
  int esc;
  if (skip_string(r, &esc) != 0) return -1;
  const char *end = r->p - 1;
  if (!esc) {
    *out = (pt_str){ start, (size_t)(end - start) };
    return 0;
  }
  if (decode(start, end, b) != 0) return -2;
  *out = (pt_str){ b->p, b->len };
  return 0;
}

static int lit(rd *r, const char *word)
{
  size_t n = strlen(word);
  if ((size_t)(r->e - r->p) < n || memcmp(r->p, word, n) != 0) return -1;
  r->p += n;
  return 0;
}

static int digits(rd *r)
{
  const char *s = r->p;
  while (r->p < r->e && *r->p >= '0' && *r->p <= '9') r->p++;
  return r->p > s ? 0 : -1;
}

static int skip_number(rd *r)
{
  if (r->p < r->e && *r->p == '-') r->p++;
  if (r->p < r->e && *r->p == '0') r->p++;
  else if (digits(r) != 0) return -1;
  if (r->p < r->e && *r->p == '.') {
    r->p++;
    if (digits(r) != 0) return -1;
  }
  if (r->p < r->e && (*r->p == 'e' || *r->p == 'E')) {
    r->p++;
    if (r->p < r->e && (*r->p == '+' || *r->p == '-')) r->p++;
    if (digits(r) != 0) return -1;
  }
  return 0;
}

static int skip_value(rd *r, int depth);

/* Walk the members of the object at r->p ('{'), calling `member` for each
 * key with r->p at the value; `member` must consume the value. */
typedef int (*member_fn)(rd *r, pt_str key, void *ud, int depth);

static int each_member(rd *r, member_fn member, void *ud, int depth)
{
  if (depth > MAX_DEPTH) return -1;
  r->p++;
  ws(r);
  if (r->p < r->e && *r->p == '}') {
    r->p++;
    return 0;
  }
  for (;;) {
    ws(r);
    if (r->p >= r->e || *r->p != '"') return -1;
    const char *ks = r->p + 1;
    int esc;
    if (skip_string(r, &esc) != 0) return -1;
    pt_str key = { ks, (size_t)(r->p - 1 - ks) };
    ws(r);
    if (r->p >= r->e || *r->p != ':') return -1;
    r->p++;
    ws(r);
    int rc = member(r, key, ud, depth);
    if (rc != 0) return rc;
    ws(r);
    if (r->p >= r->e) return -1;
    if (*r->p == '}') {
      r->p++;
      return 0;
    }
    if (*r->p != ',') return -1;
    r->p++;
  }
}

static int skip_member(rd *r, pt_str key, void *ud, int depth)
{
  return skip_value(r, depth + 1);
}

static int skip_value(rd *r, int depth)
{
  int esc;
  if (depth > MAX_DEPTH || r->p >= r->e) return -1;
  switch (*r->p) {
  case '"': return skip_string(r, &esc);
  case '{': return each_member(r, skip_member, NULL, depth);
  case '[':
    r->p++;
    ws(r);
    if (r->p < r->e && *r->p == ']') {
      r->p++;
      return 0;
    }
    for (;;) {
      ws(r);
      if (skip_value(r, depth + 1) != 0) return -1;
      ws(r);
      if (r->p >= r->e) return -1;
      if (*r->p == ']') {
        r->p++;
        return 0;
      }
      if (*r->p != ',') return -1;
      r->p++;
    }
  case 't': return lit(r, "true");
  case 'f': return lit(r, "false");
  case 'n': return lit(r, "null");
  default: return skip_number(r);
  }
}

/* A whole number; a fraction is cut off, a huge value saturates. */
static int read_count(rd *r, long long *out)
{
  const char *s = r->p;
  if (skip_number(r) != 0) return -1;
  long long v = 0;
  int neg = *s == '-';
  for (const char *q = s + neg; q < r->p && *q >= '0' && *q <= '9'; q++)
    v = v > (long long)9e17 ? v : v * 10 + (*q - '0');
  *out = neg ? -v : v;
  return 0;
}

static int key_is(pt_str key, const char *name)
{
  size_t n = strlen(name);
  return key.len == n && memcmp(key.ptr, name, n) == 0;
}

typedef struct scan_ctx {
  ol_scan *s;
  ol_line *o;
} scan_ctx;

/* A string member, or null (treated as absent). */
static int string_member(rd *r, ol_buf *b, pt_str *out)
{
  if (r->p < r->e && *r->p == 'n') return lit(r, "null");
  if (r->p >= r->e || *r->p != '"') return -1;
  return read_string(r, b, out);
}

static int message_member(rd *r, pt_str key, void *ud, int depth)
{
  scan_ctx *x = ud;
  if (key_is(key, "content"))
    return string_member(r, &x->s->content, &x->o->content);
  if (key_is(key, "thinking"))
    return string_member(r, &x->s->thinking, &x->o->thinking);
  if (key_is(key, "tool_calls")) {
    const char *start = r->p;
    if (skip_value(r, depth + 1) != 0) return -1;
    if (*start == '[')
      x->o->tool_calls = (pt_str){ start, (size_t)(r->p - start) };
    return 0;
  }
  return skip_value(r, depth + 1);
}

static int line_member(rd *r, pt_str key, void *ud, int depth)
{
  scan_ctx *x = ud;
  ol_line *o = x->o;
  if (key_is(key, "message")) {
    if (r->p < r->e && *r->p == '{') {
      o->has_message = 1;
      return each_member(r, message_member, x, depth + 1);
    }
    return skip_value(r, depth + 1);
  }
  if (key_is(key, "done")) {
    if (r->p < r->e && *r->p == 't') {
      o->done = 1;
      return lit(r, "true");
    }
    return skip_value(r, depth + 1);
  }
  if (key_is(key, "done_reason"))
    return string_member(r, &x->s->reason, &o->done_reason);
  if (key_is(key, "error")) {
    o->has_error = 1;
    if (r->p < r->e && *r->p == '"')
      return read_string(r, &x->s->error, &o->error);
    const char *start = r->p;
    if (skip_value(r, depth + 1) != 0) return -1;
    o->error = (pt_str){ start, (size_t)(r->p - start) };
    return 0;
  }
  if (key_is(key, "prompt_eval_count") && r->p < r->e && *r->p != 'n')
    return read_count(r, &o->prompt_eval_count);
  if (key_is(key, "eval_count") && r->p < r->e && *r->p != 'n')
    return read_count(r, &o->eval_count);
  return skip_value(r, depth + 1);
}

int32_t ol_scan_line(ol_scan *s, pt_str line, ol_line *out)
{
  memset(out, 0, sizeof *out);
  out->prompt_eval_count = out->eval_count = -1;
  rd r = { line.ptr, line.ptr + line.len };
  scan_ctx x = { s, out };
  ws(&r);
  if (r.p >= r.e || *r.p != '{') return PT_EPROTO;
  int rc = each_member(&r, line_member, &x, 0);
  if (rc == -2) return PT_ENOMEM;
  if (rc != 0) return PT_EPROTO;
  ws(&r);
  return r.p == r.e ? PT_OK : PT_EPROTO;
}
