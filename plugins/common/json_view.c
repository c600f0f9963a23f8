/*
 * plugins/common/json_view.c: see json_view.h.
 *
 * Two walkers. The strict one (pc_json_parse_pick) checks the grammar of a
 * whole event once, iteratively: the kind of each open container is one
 * bit of a 64-bit word (hence PC_JSON_MAX_DEPTH) and what it knows of each
 * a few array slots, so no input deepens the C stack. On the way it notes
 * where the members a reader named begin and end, since a reader wants a
 * few of those and would otherwise walk the event again to find them. The
 * fast one (every other function) skips values it may trust because the
 * strict one passed them. Both find a string's end eight bytes at a time:
 * strings are most of an event's bytes. A lookup inside a value rescans
 * its object from the start: objects are small and a reader asks for a
 * handful of members, which costs less than building any index.
 */
#include "json_view.h"

#include <string.h>

#if PC_JSON_MAX_DEPTH > 64
#error "the open containers are kept as the bits of a uint64_t"
#endif

static const char *ws(const char *p, const char *end)
{
  while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
    p++;
  return p;
}

/* 1 for the bytes that end a run of plain string text: the quote, the
 * backslash, and the control characters JSON does not allow unescaped. */
static const unsigned char string_stop[256] = {
  1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
  1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
  ['"'] = 1, ['\\'] = 1,
};

/* Nonzero when the eight bytes of `x` hold one equal to `c`, or
 * (HAS_BELOW) one less than `c` (at most 0x80). The lowest bit set marks
 * the first such byte exactly, which lets a little-endian machine jump to
 * it; elsewhere it is found again one byte at a time. */
#define ONES 0x0101010101010101ull
#define HIGHS 0x8080808080808080ull
#define HAS_BELOW(x, c) (((x) - ONES * (c)) & ~(x) & HIGHS)
#define HAS_BYTE(x, c) HAS_BELOW((x) ^ (ONES * (c)), 1)
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && \
    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define FIRST_BYTE(m) ((size_t)__builtin_ctzll(m) >> 3)
#endif

/* Past the plain text of a string from p: at the first quote, backslash
 * or (with `controls`) control character, or at `end`. Inline, so that
 * each caller gets the loop for its `controls`. */
static inline const char *plain_run(const char *p, const char *end,
                                    int controls)
{
  while (end - p >= 8) {
    uint64_t x;
    memcpy(&x, p, 8);
    /* x ^ 0x02 moves '"' to 0x20 and the control characters among
     * themselves: the bytes below 0x21 are then exactly those. */
    uint64_t m = controls ? HAS_BELOW(x ^ (ONES * 2), 0x21)
                          : HAS_BYTE(x, '"');
    m |= HAS_BYTE(x, '\\');
    if (m) {
#ifdef FIRST_BYTE
      return p + FIRST_BYTE(m);
#else
      break;
#endif
    }
    p += 8;
  }
  while (p < end && !string_stop[(unsigned char)*p]) p++;
  return p;
}

static int hexval(char c)
{
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static uint32_t hex4(const char *p)
{
  return (uint32_t)(hexval(p[0]) << 12 | hexval(p[1]) << 8 |
                    hexval(p[2]) << 4 | hexval(p[3]));
}

/* The UTF-8 form of code point `cp` into out; its length. */
static size_t put_utf8(char *out, uint32_t cp)
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

/* Decode the checked escape at *p (a backslash, inside a string body that
 * ends at `end`) into out (room for 4 bytes), moving *p past it; returns
 * the bytes written. Never more than the escape's own length, which is
 * what lets a string decode into as many bytes as it is written with. */
static size_t unescape(const char **p, const char *end, char *out)
{
  const char *q = *p + 1;
  char e = *q++;
  size_t n = 1;
  switch (e) {
  case 'b': out[0] = '\b'; break;
  case 'f': out[0] = '\f'; break;
  case 'n': out[0] = '\n'; break;
  case 'r': out[0] = '\r'; break;
  case 't': out[0] = '\t'; break;
  case 'u': {
    uint32_t cp = hex4(q);
    q += 4;
    if (cp >= 0xD800 && cp <= 0xDBFF && end - q >= 6 && q[0] == '\\' &&
        q[1] == 'u') {
      uint32_t lo = hex4(q + 2);
      if (lo >= 0xDC00 && lo <= 0xDFFF) {
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        q += 6;
      }
    }
    /* A surrogate left alone has no UTF-8 form. */
    if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xFFFD;
    n = put_utf8(out, cp);
    break;
  }
  default: out[0] = e; break; /* " \ / */
  }
  *p = q;
  return n;
}

/* True when the checked string body [p, end), unescaped, is `s`. */
static int body_is(const char *p, const char *end, pt_str s)
{
  size_t i = 0;
  while (p < end) {
    const char *bs = memchr(p, '\\', (size_t)(end - p));
    size_t run = (size_t)((bs ? bs : end) - p);
    if (run > s.len - i || memcmp(p, s.ptr + i, run) != 0) return 0;
    i += run;
    p += run;
    if (!bs) break;
    char u[4];
    size_t k = unescape(&p, end, u);
    if (k > s.len - i || memcmp(u, s.ptr + i, k) != 0) return 0;
    i += k;
  }
  return i == s.len;
}

/* Not the value of a key anyone asked for: nothing inside is picked. */
#define NOT_PICKED (-2)

/* One of 64 bits for a name of `len` bytes starting with `c`: the bits of
 * the keys, or'ed, let most names that are none of them pass without a
 * look at the keys. */
static uint64_t name_bit(size_t len, char c)
{
  return 1ull << ((len * 7 + (unsigned char)c) & 63);
}

/* The first of keys[0..n) held by `scope` (PC_JSON_ROOT or a key's index)
 * that member name `name` (quotes and all; `esc` when it holds an escape)
 * spells and that is not picked yet; NOT_PICKED when none is. */
static int pick_index(pc_json name, int esc, int scope,
                      const pc_json_key *keys, size_t n,
                      const pc_json *values)
{
  const char *p = name.ptr + 1;
  size_t len = name.len - 2;
  for (size_t i = 0; i < n; i++) {
    const pt_str *k = &keys[i].name;
    /* Unescaped, a name is as long as its text: most differ in length. */
    if ((k->len != len && !esc) || keys[i].parent != scope || values[i].len)
      continue;
    if (esc) {
      if (body_is(p, p + len, *k)) return (int)i;
      continue;
    }
    size_t j = 0;
    while (j < len && p[j] == k->ptr[j]) j++;
    if (j == len) return (int)i;
  }
  return NOT_PICKED;
}

/* ------------------------------------------------------------------------ */
/* Checking                                                                  */

/* Each check_* takes the start of a token and returns its end, or NULL
 * when it is malformed or runs past `end`. */

/* Sets *esc when the string holds an escape. */
static inline const char *check_string(const char *p, const char *end,
                                       int *esc)
{
  p++; /* the opening quote */
  for (;;) {
    p = plain_run(p, end, 1);
    if (p >= end) return NULL;
    if (*p == '"') return p + 1;
    if (*p != '\\' || end - p < 2) return NULL;
    *esc = 1;
    switch (p[1]) {
    case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r':
    case 't':
      p += 2;
      break;
    case 'u':
      if (end - p < 6 || (hexval(p[2]) | hexval(p[3]) | hexval(p[4]) |
                          hexval(p[5])) < 0)
        return NULL;
      p += 6;
      break;
    default:
      return NULL;
    }
  }
}

static const char *check_digits(const char *p, const char *end)
{
  const char *start = p;
  while (p < end && *p >= '0' && *p <= '9') p++;
  return p > start ? p : NULL;
}

static const char *check_number(const char *p, const char *end)
{
  if (*p == '-') p++;
  if (p < end && *p == '0') p++;
  else if (!(p = check_digits(p, end))) return NULL;
  if (p < end && *p == '.' && !(p = check_digits(p + 1, end))) return NULL;
  if (p < end && (*p == 'e' || *p == 'E')) {
    p++;
    if (p < end && (*p == '+' || *p == '-')) p++;
    p = check_digits(p, end);
  }
  return p;
}

static const char *check_word(const char *p, const char *end, const char *w,
                              size_t n)
{
  return (size_t)(end - p) >= n && memcmp(p, w, n) == 0 ? p + n : NULL;
}

/* What the strict walker keeps per open container (index 1 the
 * outermost; entries up to the current depth are live): whose value it
 * is (PC_JSON_ROOT, a key's index, or NOT_PICKED), and the member being
 * read in it when that is a key's (else NOT_PICKED), with where its value
 * began. */
typedef struct walk {
  const pc_json_key *keys;
  size_t n;
  pc_json *values;
  uint64_t names;       /* name_bit of every key */
  int scope[PC_JSON_MAX_DEPTH + 1];
  int member[PC_JSON_MAX_DEPTH + 1];
  const char *began[PC_JSON_MAX_DEPTH + 1];
} walk;

/* A member name and its colon in the object open at `depth`: returns the
 * start of the value, noting whether it is a key's. */
static inline const char *check_name(walk *w, int depth, const char *p,
                                     const char *end)
{
  int esc = 0;
  if (p >= end || *p != '"') return NULL;
  const char *q = check_string(p, end, &esc);
  if (!q) return NULL;
  pc_json name = { p, (size_t)(q - p) };
  q = ws(q, end);
  if (q >= end || *q != ':') return NULL;
  q = ws(q + 1, end);
  int scope = w->scope[depth];
  if (scope != NOT_PICKED &&
      (esc || (w->names & name_bit(name.len - 2, p[1]))) &&
      (w->member[depth] = pick_index(name, esc, scope, w->keys, w->n,
                                     w->values)) >= 0)
    w->began[depth] = q;
  return q;
}

/* The end of the value at p (no space before it), or NULL. */
static const char *check(walk *w, const char *p, const char *end)
{
  uint64_t objects = 0; /* bit 0: the innermost open container is {} */
  int depth = 0, esc;
  for (;;) {
    /* p is at a value. */
    if (p >= end) return NULL;
    switch (*p) {
    case '{':
    case '[': {
      int object = *p == '{';
      if (depth == PC_JSON_MAX_DEPTH) return NULL;
      p = ws(p + 1, end);
      if (p < end && *p == (object ? '}' : ']')) {
        p++;
        break; /* empty: a whole value */
      }
      /* A key's value holds the keys whose parent it is. */
      w->scope[depth + 1] = depth == 0 ? PC_JSON_ROOT : w->member[depth];
      depth++;
      w->member[depth] = NOT_PICKED;
      objects = objects << 1 | (uint64_t)object;
      if (object && !(p = check_name(w, depth, p, end))) return NULL;
      continue;
    }
    case '"': p = check_string(p, end, &esc); break;
    case 't': p = check_word(p, end, "true", 4); break;
    case 'f': p = check_word(p, end, "false", 5); break;
    case 'n': p = check_word(p, end, "null", 4); break;
    default: p = check_number(p, end); break;
    }
    if (!p) return NULL;
    /* A value ended: close what it ends, up to the next value. */
    for (;;) {
      if (depth == 0) return p;
      int m = w->member[depth];
      if (m >= 0) {
        w->values[m] = (pc_json){ w->began[depth],
                                  (size_t)(p - w->began[depth]) };
        w->member[depth] = NOT_PICKED;
      }
      p = ws(p, end);
      if (p >= end) return NULL;
      if (*p == ',') {
        p = ws(p + 1, end);
        if ((objects & 1) && !(p = check_name(w, depth, p, end)))
          return NULL;
        break;
      }
      if (*p != ((objects & 1) ? '}' : ']')) return NULL;
      p++;
      depth--;
      objects >>= 1;
    }
  }
}

int32_t pc_json_parse_pick(pt_str text, pc_json *root, const pc_json_key *keys,
                           size_t n, pc_json *values)
{
  *root = (pc_json){ NULL, 0 };
  for (size_t i = 0; i < n; i++) values[i] = (pc_json){ NULL, 0 };
  if (!text.ptr || text.len == 0) return PT_EPROTO;
  const char *end = text.ptr + text.len;
  const char *start = ws(text.ptr, end);
  walk w;
  w.keys = keys;
  w.n = n;
  w.values = values;
  w.names = 0;
  for (size_t i = 0; i < n; i++)
    w.names |= name_bit(keys[i].name.len,
                        keys[i].name.len ? keys[i].name.ptr[0] : '"');
  const char *stop = check(&w, start, end);
  if (!stop || ws(stop, end) != end) {
    for (size_t i = 0; i < n; i++) values[i] = (pc_json){ NULL, 0 };
    return PT_EPROTO;
  }
  *root = (pc_json){ start, (size_t)(stop - start) };
  return PT_OK;
}

int32_t pc_json_parse(pt_str text, pc_json *root)
{
  return pc_json_parse_pick(text, root, NULL, 0, NULL);
}

/* ------------------------------------------------------------------------ */
/* Reading checked values                                                    */

int pc_json_type(pc_json v)
{
  if (v.len == 0) return PC_JSON_ABSENT;
  switch (v.ptr[0]) {
  case '"': return PC_JSON_STRING;
  case '{': return PC_JSON_OBJECT;
  case '[': return PC_JSON_ARRAY;
  case 't':
  case 'f': return PC_JSON_BOOL;
  case 'n': return PC_JSON_NULL;
  default: return PC_JSON_NUMBER;
  }
}

/* The end of the checked string at p; *esc set when it holds an escape. */
static const char *skip_string(const char *p, const char *end, int *esc)
{
  p++;
  for (;;) {
    p = plain_run(p, end, 0);
    if (p >= end) return end;
    if (*p == '"') return p + 1;
    *esc = 1;
    p += 2; /* the backslash and the byte after it */
  }
}

/* The end of the checked value at p. */
static const char *skip(const char *p, const char *end)
{
  int esc;
  if (*p == '"') return skip_string(p, end, &esc);
  if (*p == '{' || *p == '[') {
    int depth = 0;
    while (p < end) {
      char c = *p;
      if (c == '"') {
        p = skip_string(p, end, &esc);
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
         *p != '\n' && *p != '\r' && *p != '\t')
    p++;
  return p;
}

/* The member at p (its name's quote) of a checked object ending at `end`:
 * sets *name, *esc and *value, and returns where the next member's search
 * starts. */
static const char *member_at(const char *p, const char *end, pc_json *name,
                             int *esc, pc_json *value)
{
  *esc = 0;
  const char *q = skip_string(p, end, esc);
  *name = (pc_json){ p, (size_t)(q - p) };
  q = ws(ws(q, end) + 1, end); /* past the colon */
  const char *vend = skip(q, end);
  *value = (pc_json){ q, (size_t)(vend - q) };
  return vend;
}

/* The next member's name from p (after '{' or a value), or NULL at the
 * end. */
static const char *next_name(const char *p, const char *end)
{
  p = ws(p, end);
  if (p < end && *p == ',') p = ws(p + 1, end);
  return p < end && *p == '"' ? p : NULL;
}

/* Pick the keys held by `scope` among the members of checked `object`,
 * and the keys those hold inside the values picked: recursion as deep as
 * the chains of parents in `keys`, whatever the text. */
static void pick_in(pc_json object, int scope, const pc_json_key *keys,
                    size_t n, pc_json *values)
{
  size_t left = 0;
  for (size_t i = 0; i < n; i++) left += keys[i].parent == scope;
  if (!left || pc_json_type(object) != PC_JSON_OBJECT) return;
  const char *end = object.ptr + object.len, *p = object.ptr + 1;
  pc_json name, value;
  int esc;
  while (left && (p = next_name(p, end))) {
    p = member_at(p, end, &name, &esc, &value);
    int k = pick_index(name, esc, scope, keys, n, values);
    if (k < 0) continue;
    values[k] = value;
    left--;
    pick_in(value, k, keys, n, values);
  }
}

void pc_json_pick(pc_json object, const pc_json_key *keys, size_t n,
                  pc_json *values)
{
  for (size_t i = 0; i < n; i++) values[i] = (pc_json){ NULL, 0 };
  pick_in(object, PC_JSON_ROOT, keys, n, values);
}

pc_json pc_json_get(pc_json object, const char *key)
{
  pc_json_key k = { { key, strlen(key) }, PC_JSON_ROOT };
  pc_json v;
  pc_json_pick(object, &k, 1, &v);
  return v;
}

int pc_json_next(pc_json array, size_t *cursor, pc_json *item)
{
  if (pc_json_type(array) != PC_JSON_ARRAY) return 0;
  const char *end = array.ptr + array.len;
  const char *p = ws(array.ptr + (*cursor ? *cursor : 1), end);
  if (p < end && *p == ',') p = ws(p + 1, end);
  if (p >= end || *p == ']') return 0;
  const char *vend = skip(p, end);
  *item = (pc_json){ p, (size_t)(vend - p) };
  *cursor = (size_t)(vend - array.ptr);
  return 1;
}

int pc_json_is(pc_json v, const char *s)
{
  if (pc_json_type(v) != PC_JSON_STRING) return 0;
  return body_is(v.ptr + 1, v.ptr + v.len - 1, (pt_str){ s, strlen(s) });
}

int pc_json_is_true(pc_json v)
{
  return v.len == 4 && v.ptr[0] == 't';
}

int32_t pc_json_text(pc_json v, pc_buf *scratch, pt_str *out)
{
  *out = (pt_str){ "", 0 };
  if (pc_json_type(v) != PC_JSON_STRING) return PT_EPROTO;
  const char *p = v.ptr + 1, *end = v.ptr + v.len - 1;
  const char *bs = memchr(p, '\\', (size_t)(end - p));
  if (!bs) {
    *out = (pt_str){ p, (size_t)(end - p) };
    return PT_OK;
  }
  scratch->len = 0;
  if (pc_buf_reserve(scratch, (size_t)(end - p)) != 0) return PT_ENOMEM;
  char *o = scratch->p;
  while (bs) {
    memcpy(o, p, (size_t)(bs - p));
    o += bs - p;
    p = bs;
    o += unescape(&p, end, o);
    bs = memchr(p, '\\', (size_t)(end - p));
  }
  memcpy(o, p, (size_t)(end - p));
  o += end - p;
  scratch->len = (size_t)(o - scratch->p);
  scratch->p[scratch->len] = '\0';
  *out = (pt_str){ scratch->p, scratch->len };
  return PT_OK;
}

uint64_t pc_json_u64(pc_json v, uint64_t dflt)
{
  if (pc_json_type(v) != PC_JSON_NUMBER || v.ptr[0] == '-') return dflt;
  uint64_t n = 0;
  size_t i = 0;
  for (; i < v.len && v.ptr[i] >= '0' && v.ptr[i] <= '9'; i++) {
    uint64_t d = (uint64_t)(v.ptr[i] - '0');
    if (n > (UINT64_MAX - d) / 10) return dflt;
    n = n * 10 + d;
  }
  if (i < v.len && v.ptr[i] == '.')
    for (i++; i < v.len && v.ptr[i] >= '0' && v.ptr[i] <= '9'; i++) {
    }
  return i == v.len ? n : dflt;
}
