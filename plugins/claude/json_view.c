/*
 * plugins/claude/json_view.c: reading the small JSON objects of an event
 * stream in place, without building a tree.
 *
 * A streamed reply is mostly content_block_delta events, one per few
 * tokens. Parsing each into a cJSON tree would allocate a handful of nodes
 * per delta; here an event is validated once, members are found by
 * scanning the text, and strings are decoded into a buffer the stream
 * reuses (or not at all when they hold no escape). Not a general JSON
 * library: building JSON is cJSON's job (request.c).
 */
#include "claude.h"

#include <stdlib.h>
#include <string.h>

/* Deeper than any event the API sends; a bound so a hostile stream cannot
 * exhaust the stack. */
#define MAX_DEPTH 64

int cl_buf_reserve(cl_buf *b, size_t n)
{
  if (n <= b->cap) return 0;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < n) cap *= 2;
  char *p = realloc(b->p, cap);
  if (!p) return -1;
  b->p = p;
  b->cap = cap;
  return 0;
}

int cl_buf_append(cl_buf *b, const char *s, size_t n)
{
  if (cl_buf_reserve(b, b->len + n + 1) != 0) return -1;
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
  return 0;
}

void cl_buf_free(cl_buf *b)
{
  free(b->p);
  memset(b, 0, sizeof *b);
}

/* ------------------------------------------------------------------------ */
/* Validation                                                                */

typedef struct cursor {
  const char *p, *end;
} cursor;

static void skip_ws(cursor *c)
{
  while (c->p < c->end &&
         (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
    c->p++;
}

static int hex4(const char *p, unsigned *out)
{
  unsigned v = 0;
  for (int i = 0; i < 4; i++) {
    char ch = p[i];
    v <<= 4;
    if (ch >= '0' && ch <= '9') v |= (unsigned)(ch - '0');
    else if (ch >= 'a' && ch <= 'f') v |= (unsigned)(ch - 'a' + 10);
    else if (ch >= 'A' && ch <= 'F') v |= (unsigned)(ch - 'A' + 10);
    else return -1;
  }
  *out = v;
  return 0;
}

static int check_string(cursor *c)
{
  c->p++; /* the opening quote */
  while (c->p < c->end) {
    unsigned char ch = (unsigned char)*c->p;
    if (ch == '"') {
      c->p++;
      return 0;
    }
    if (ch < 0x20) return -1;
    if (ch != '\\') {
      c->p++;
      continue;
    }
    if (c->end - c->p < 2) return -1;
    char e = c->p[1];
    unsigned u;
    if (e == 'u') {
      if (c->end - c->p < 6 || hex4(c->p + 2, &u) != 0) return -1;
      c->p += 6;
    } else if (e && strchr("\"\\/bfnrt", e)) {
      c->p += 2;
    } else {
      return -1;
    }
  }
  return -1;
}

static int digits(cursor *c)
{
  const char *start = c->p;
  while (c->p < c->end && *c->p >= '0' && *c->p <= '9') c->p++;
  return c->p > start ? 0 : -1;
}

static int check_number(cursor *c)
{
  if (*c->p == '-') c->p++;
  if (c->p >= c->end) return -1;
  if (*c->p == '0') c->p++;
  else if (digits(c) != 0) return -1;
  if (c->p < c->end && *c->p == '.') {
    c->p++;
    if (digits(c) != 0) return -1;
  }
  if (c->p < c->end && (*c->p == 'e' || *c->p == 'E')) {
    c->p++;
    if (c->p < c->end && (*c->p == '+' || *c->p == '-')) c->p++;
    if (digits(c) != 0) return -1;
  }
  return 0;
}

static int check_literal(cursor *c, const char *lit)
{
  size_t n = strlen(lit);
  if ((size_t)(c->end - c->p) < n || memcmp(c->p, lit, n) != 0) return -1;
  c->p += n;
  return 0;
}

static int check_value(cursor *c, int depth);

/* An object or array, from its opening bracket. */
static int check_container(cursor *c, int depth)
{
  char close = *c->p == '{' ? '}' : ']';
  int object = close == '}';
  if (depth >= MAX_DEPTH) return -1;
  c->p++;
  skip_ws(c);
  if (c->p < c->end && *c->p == close) {
    c->p++;
    return 0;
  }
  for (;;) {
    skip_ws(c);
    if (object) {
      if (c->p >= c->end || *c->p != '"' || check_string(c) != 0) return -1;
      skip_ws(c);
      if (c->p >= c->end || *c->p != ':') return -1;
      c->p++;
    }
    if (check_value(c, depth + 1) != 0) return -1;
    skip_ws(c);
    if (c->p >= c->end) return -1;
    if (*c->p == close) {
      c->p++;
      return 0;
    }
    if (*c->p != ',') return -1;
    c->p++;
  }
}

static int check_value(cursor *c, int depth)
{
  skip_ws(c);
  if (c->p >= c->end) return -1;
  switch (*c->p) {
  case '{':
  case '[': return check_container(c, depth);
  case '"': return check_string(c);
  case 't': return check_literal(c, "true");
  case 'f': return check_literal(c, "false");
  case 'n': return check_literal(c, "null");
  default: return check_number(c);
  }
}

int cl_json_valid(pt_str text)
{
  cursor c = { text.ptr, text.ptr + text.len };
  if (!text.ptr || check_value(&c, 0) != 0) return 0;
  skip_ws(&c);
  return c.p == c.end;
}

/* ------------------------------------------------------------------------ */
/* Reading text that cl_json_valid accepted                                  */

/* Past one valid value starting at p (no leading space). */
static const char *skip_value(const char *p, const char *end)
{
  if (*p == '"') {
    for (p++; p < end && *p != '"'; p++)
      if (*p == '\\') p++;
    return p + 1;
  }
  if (*p == '{' || *p == '[') {
    int depth = 0;
    for (; p < end; p++) {
      if (*p == '"') {
        p = skip_value(p, end) - 1;
      } else if (*p == '{' || *p == '[') {
        depth++;
      } else if (*p == '}' || *p == ']') {
        if (--depth == 0) return p + 1;
      }
    }
    return end;
  }
  while (p < end && *p != ',' && *p != '}' && *p != ']' && *p != ' ' &&
         *p != '\t' && *p != '\n' && *p != '\r')
    p++;
  return p;
}

static pt_str trim(pt_str v)
{
  while (v.len && (*v.ptr == ' ' || *v.ptr == '\t' || *v.ptr == '\n' ||
                   *v.ptr == '\r'))
    v.ptr++, v.len--;
  while (v.len && (v.ptr[v.len - 1] == ' ' || v.ptr[v.len - 1] == '\t' ||
                   v.ptr[v.len - 1] == '\n' || v.ptr[v.len - 1] == '\r'))
    v.len--;
  return v;
}

int cl_json_member(pt_str object, const char *key, pt_str *value)
{
  object = trim(object);
  if (object.len < 2 || object.ptr[0] != '{') return 0;
  cursor c = { object.ptr + 1, object.ptr + object.len - 1 };
  size_t klen = strlen(key);
  for (;;) {
    skip_ws(&c);
    if (c.p >= c.end || *c.p != '"') return 0;
    const char *kstart = c.p + 1;
    const char *kend = skip_value(c.p, c.end) - 1;
    c.p = kend + 1;
    skip_ws(&c);
    c.p++; /* the colon */
    skip_ws(&c);
    const char *vstart = c.p;
    c.p = skip_value(c.p, c.end);
    /* Keys the API sends hold no escapes; a key that does is not ours. */
    if ((size_t)(kend - kstart) == klen && memcmp(kstart, key, klen) == 0) {
      *value = (pt_str){ vstart, (size_t)(c.p - vstart) };
      return 1;
    }
    skip_ws(&c);
    if (c.p >= c.end || *c.p != ',') return 0;
    c.p++;
  }
}

int cl_json_path(pt_str object, const char *k1, const char *k2, pt_str *value)
{
  pt_str mid;
  if (!cl_json_member(object, k1, &mid)) return 0;
  return k2 ? cl_json_member(mid, k2, value) : (*value = mid, 1);
}

int cl_json_is_string(pt_str v)
{
  return v.len >= 2 && v.ptr[0] == '"';
}

int cl_json_equals(pt_str v, const char *s)
{
  size_t n = strlen(s);
  return v.len == n + 2 && v.ptr[0] == '"' && memcmp(v.ptr + 1, s, n) == 0;
}

static size_t put_utf8(char *out, unsigned cp)
{
  if (cp < 0x80) {
    out[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    out[0] = (char)(0xC0 | (cp >> 6));
    out[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = (char)(0xE0 | (cp >> 12));
    out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
  }
  out[0] = (char)(0xF0 | (cp >> 18));
  out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
  out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
  out[3] = (char)(0x80 | (cp & 0x3F));
  return 4;
}

int cl_json_text(pt_str v, cl_buf *scratch, pt_str *out)
{
  if (!cl_json_is_string(v)) return -1;
  const char *p = v.ptr + 1, *end = v.ptr + v.len - 1;
  if (!memchr(p, '\\', (size_t)(end - p))) {
    *out = (pt_str){ p, (size_t)(end - p) };
    return 0;
  }
  /* Decoding never grows the text: every escape is at least as long as
   * the UTF-8 it stands for. */
  scratch->len = 0;
  if (cl_buf_reserve(scratch, (size_t)(end - p) + 1) != 0) return -1;
  char *o = scratch->p;
  while (p < end) {
    if (*p != '\\') {
      *o++ = *p++;
      continue;
    }
    char e = p[1];
    p += 2;
    switch (e) {
    case 'b': *o++ = '\b'; break;
    case 'f': *o++ = '\f'; break;
    case 'n': *o++ = '\n'; break;
    case 'r': *o++ = '\r'; break;
    case 't': *o++ = '\t'; break;
    case 'u': {
      unsigned cp, lo;
      hex4(p, &cp);
      p += 4;
      if (cp >= 0xD800 && cp <= 0xDBFF && end - p >= 6 && p[0] == '\\' &&
          p[1] == 'u' && hex4(p + 2, &lo) == 0 && lo >= 0xDC00 &&
          lo <= 0xDFFF) {
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        p += 6;
      } else if (cp >= 0xD800 && cp <= 0xDFFF) {
        cp = 0xFFFD; /* a lone surrogate has no UTF-8 spelling */
      }
      o += put_utf8(o, cp);
      break;
    }
    default: *o++ = e; break; /* " \ / */
    }
  }
  scratch->len = (size_t)(o - scratch->p);
  scratch->p[scratch->len] = '\0';
  *out = (pt_str){ scratch->p, scratch->len };
  return 0;
}

int cl_json_u64(pt_str v, uint64_t *out)
{
  v = trim(v);
  if (v.len == 0 || v.ptr[0] < '0' || v.ptr[0] > '9') return -1;
  uint64_t n = 0;
  for (size_t i = 0; i < v.len; i++) {
    char ch = v.ptr[i];
    if (ch == '.' || ch == 'e' || ch == 'E') break;
    if (ch < '0' || ch > '9') return -1;
    if (n > (UINT64_MAX - 9) / 10) return -1;
    n = n * 10 + (uint64_t)(ch - '0');
  }
  *out = n;
  return 0;
}
