/*
 * tests/test_json_view.c: the JSON reader the bundled providers share
 * (plugins/common/json_view): what it accepts and refuses, that it never
 * reads past the text it is given (every text here sits in a buffer of
 * exactly its length, for AddressSanitizer to watch), escapes and
 * surrogate pairs, the depth bound, picking members, and a fuzz loop with
 * a fixed seed against a small independent checker.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "json_view.h"

/* A copy of `len` bytes in a buffer of exactly that size. */
static char *exact(const char *s, size_t len)
{
  char *p = malloc(len ? len : 1);
  if (len) memcpy(p, s, len);
  return p;
}

static int32_t parse_n(const char *s, size_t len, pc_json *root)
{
  char *p = exact(s, len);
  int32_t rc = pc_json_parse((pt_str){ p, len }, root);
  free(p);
  return rc;
}

static int32_t parse(const char *s)
{
  pc_json root;
  return parse_n(s, strlen(s), &root);
}

/* ------------------------------------------------------------------------ */
/* A reference checker: recursive, byte at a time, written from RFC 8259
 * without looking at the real one. */

typedef struct ref {
  const char *p, *end;
} ref;

static int ref_value(ref *r, int depth);

static void ref_ws(ref *r)
{
  while (r->p < r->end && strchr(" \t\n\r", *r->p) && *r->p) r->p++;
}

static int ref_digits(ref *r)
{
  int n = 0;
  while (r->p < r->end && *r->p >= '0' && *r->p <= '9') r->p++, n++;
  return n;
}

static int ref_string(ref *r)
{
  if (r->p >= r->end || *r->p != '"') return 0;
  for (r->p++; r->p < r->end; r->p++) {
    unsigned char c = (unsigned char)*r->p;
    if (c == '"') {
      r->p++;
      return 1;
    }
    if (c < 0x20) return 0;
    if (c != '\\') continue;
    if (++r->p >= r->end) return 0;
    if (*r->p == 'u') {
      for (int i = 0; i < 4; i++) {
        if (++r->p >= r->end || !strchr("0123456789abcdefABCDEF", *r->p) ||
            !*r->p)
          return 0;
      }
    } else if (!*r->p || !strchr("\"\\/bfnrt", *r->p)) {
      return 0;
    }
  }
  return 0;
}

static int ref_number(ref *r)
{
  if (r->p < r->end && *r->p == '-') r->p++;
  if (r->p < r->end && *r->p == '0') {
    r->p++;
  } else if (!ref_digits(r)) {
    return 0;
  }
  if (r->p < r->end && *r->p == '.') {
    r->p++;
    if (!ref_digits(r)) return 0;
  }
  if (r->p < r->end && (*r->p == 'e' || *r->p == 'E')) {
    r->p++;
    if (r->p < r->end && (*r->p == '+' || *r->p == '-')) r->p++;
    if (!ref_digits(r)) return 0;
  }
  return 1;
}

static int ref_word(ref *r, const char *w)
{
  size_t n = strlen(w);
  if ((size_t)(r->end - r->p) < n || memcmp(r->p, w, n) != 0) return 0;
  r->p += n;
  return 1;
}

static int ref_value(ref *r, int depth)
{
  if (r->p >= r->end) return 0;
  char c = *r->p;
  if (c == '{' || c == '[') {
    if (depth >= PC_JSON_MAX_DEPTH) return 0;
    char close = c == '{' ? '}' : ']';
    r->p++;
    ref_ws(r);
    if (r->p < r->end && *r->p == close) {
      r->p++;
      return 1;
    }
    for (;;) {
      ref_ws(r);
      if (c == '{') {
        if (!ref_string(r)) return 0;
        ref_ws(r);
        if (r->p >= r->end || *r->p != ':') return 0;
        r->p++;
        ref_ws(r);
      }
      if (!ref_value(r, depth + 1)) return 0;
      ref_ws(r);
      if (r->p >= r->end) return 0;
      if (*r->p == close) {
        r->p++;
        return 1;
      }
      if (*r->p != ',') return 0;
      r->p++;
    }
  }
  if (c == '"') return ref_string(r);
  if (c == 't') return ref_word(r, "true");
  if (c == 'f') return ref_word(r, "false");
  if (c == 'n') return ref_word(r, "null");
  return ref_number(r);
}

static int ref_valid(const char *s, size_t len)
{
  ref r = { s, s + len };
  ref_ws(&r);
  if (!ref_value(&r, 0)) return 0;
  ref_ws(&r);
  return r.p == r.end;
}

/* ------------------------------------------------------------------------ */

static void accepts_every_kind_of_value(void)
{
  static const char *ok[] = {
    "{}", "[]", "0", "-0", "12", "-12.5e+3", "1E-2", "0.0", "true", "false",
    "null", "\"\"", "\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\\u00e9\\uD83D\\ude00\"",
    " \t\r\n{ \"a\" : [ 1 , { } , [ ] , \"x\" ] , \"b\" : null } \n",
    "{\"a\":{\"b\":{\"c\":[true,false,null]}}}", "[\"\x7f\xc3\xa9\xff\"]",
  };
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
    if (parse(ok[i]) != PT_OK)
      check_fail(__FILE__, __LINE__, "refused %s", ok[i]);
}

static void root_view_leaves_out_the_space_around(void)
{
  pc_json root;
  const char *s = "  [1, 2]\n";
  CHECK_INT(pc_json_parse((pt_str){ s, strlen(s) }, &root), ==, PT_OK);
  CHECK_INT(root.len, ==, 6);
  CHECK(root.ptr == s + 2);
  CHECK_INT(pc_json_type(root), ==, PC_JSON_ARRAY);
}

static void refuses_malformed_text(void)
{
  static const char *bad[] = {
    "", " ", "{", "}", "[", "]", "{\"a\"}", "{\"a\":}", "{\"a\" 1}", "{a:1}",
    "{'a':1}", "{\"a\":1,}", "{,\"a\":1}", "[1,]", "[,1]", "[1 2]", "[1,,2]",
    "01", "-01", "1.", ".5", "-", "+1", "1e", "1e+", "0x10", "NaN",
    "Infinity", "tru", "nul", "fals", "truex", "nullnull", "\"abc", "\"\\\"",
    "\"\\x\"", "\"\\u12g4\"", "\"\\u12\"", "\"\\U0041\"", "\"a\nb\"",
    "\"a\tb\"", "\"\x01\"", "{} {}", "[] x", "1 2", "\"\" \"\"", "[}", "{]",
    "[1}", "{\"a\":1]", "[[[]]", "{\"a\":{}", "\xef\xbb\xbf{}",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    pc_json root = { "x", 1 };
    if (parse_n(bad[i], strlen(bad[i]), &root) != PT_EPROTO)
      check_fail(__FILE__, __LINE__, "accepted \"%s\"", bad[i]);
    CHECK_INT(root.len, ==, 0);
  }
  pc_json root;
  CHECK_INT(pc_json_parse((pt_str){ NULL, 0 }, &root), ==, PT_EPROTO);
  /* A NUL byte is no whitespace and no JSON. */
  CHECK_INT(parse_n("{}\0", 3, &root), ==, PT_EPROTO);
  CHECK_INT(parse_n("\"a\0b\"", 5, &root), ==, PT_EPROTO);
}

/* Every proper prefix of a container is cut short; each sits in a buffer
 * of its own length, so a read past the end is ASan's to see. */
static void refuses_every_truncation_without_reading_past_it(void)
{
  static const char *docs[] = {
    "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":"
    "\"text_delta\",\"text\":\"tok \\u00e9 \\ud83d\\ude00 \\\"q\\\"\"}}",
    "[1,-2.5e+10,true,false,null,\"\",{},[],{\"a\":[{\"b\":\"c\"}]}]",
    "{\"long\":\"0123456789abcdefghijklmnopqrstuvwxyz0123456789\"}",
  };
  for (size_t d = 0; d < sizeof docs / sizeof docs[0]; d++) {
    size_t len = strlen(docs[d]);
    pc_json root;
    CHECK_INT(parse_n(docs[d], len, &root), ==, PT_OK);
    for (size_t n = 0; n < len; n++)
      if (parse_n(docs[d], n, &root) != PT_EPROTO)
        check_fail(__FILE__, __LINE__, "accepted %zu bytes of doc %zu", n, d);
  }
}

/* `depth` arrays, one inside the other. */
static char *nested_arrays(int depth)
{
  char *s = malloc((size_t)depth * 2 + 1);
  memset(s, '[', (size_t)depth);
  memset(s + depth, ']', (size_t)depth);
  s[depth * 2] = '\0';
  return s;
}

/* `depth` objects, one inside the other: {"a":{"a":{}}}. */
static char *nested_objects(int depth)
{
  char *s = malloc((size_t)depth * 6 + 1);
  size_t n = 0;
  for (int i = 0; i < depth - 1; i++) n += (size_t)sprintf(s + n, "{\"a\":");
  n += (size_t)sprintf(s + n, "{}");
  for (int i = 0; i < depth - 1; i++) s[n++] = '}';
  s[n] = '\0';
  return s;
}

static void nests_to_the_limit_and_no_deeper(void)
{
  char *(*make[2])(int) = { nested_arrays, nested_objects };
  for (int k = 0; k < 2; k++) {
    char *at = make[k](PC_JSON_MAX_DEPTH);
    char *over = make[k](PC_JSON_MAX_DEPTH + 1);
    CHECK_INT(parse(at), ==, PT_OK);
    CHECK_INT(parse(over), ==, PT_EPROTO);
    free(at);
    free(over);
  }
  /* Far deeper than a recursive reader's stack would bear. */
  char *deep = nested_arrays(1000000);
  CHECK_INT(parse(deep), ==, PT_EPROTO);
  free(deep);
}

static void text_is_a_view_without_escapes_and_decoded_with(void)
{
  const char *s = "[\"plain text\",\"a\\nb\"]";
  pc_json root, item;
  pc_buf scratch = { 0 };
  pt_str out;
  size_t cursor = 0;
  CHECK_INT(pc_json_parse((pt_str){ s, strlen(s) }, &root), ==, PT_OK);
  CHECK(pc_json_next(root, &cursor, &item));
  CHECK_INT(pc_json_text(item, &scratch, &out), ==, PT_OK);
  CHECK(out.ptr == s + 2);
  CHECK_INT(out.len, ==, 10);
  CHECK(scratch.p == NULL);
  CHECK(pc_json_next(root, &cursor, &item));
  CHECK_INT(pc_json_text(item, &scratch, &out), ==, PT_OK);
  CHECK(out.ptr == scratch.p);
  CHECK_INT(out.len, ==, 3);
  CHECK(memcmp(out.ptr, "a\nb", 3) == 0);
  CHECK(!pc_json_next(root, &cursor, &item));
  /* Not a string: refused, with an empty view. */
  CHECK_INT(pc_json_text(root, &scratch, &out), ==, PT_EPROTO);
  CHECK(out.ptr != NULL && out.len == 0);
  pc_json absent = { NULL, 0 };
  CHECK_INT(pc_json_text(absent, &scratch, &out), ==, PT_EPROTO);
  pc_buf_free(&scratch);
}

/* The decoded text of JSON string literal `json` (quotes included). */
static void check_decodes(const char *json, const char *want, size_t want_len,
                          int line)
{
  pc_json root;
  pc_buf scratch = { 0 };
  pt_str out = { NULL, 0 };
  char *p = exact(json, strlen(json));
  if (pc_json_parse((pt_str){ p, strlen(json) }, &root) != PT_OK ||
      pc_json_text(root, &scratch, &out) != PT_OK || out.len != want_len ||
      memcmp(out.ptr, want, want_len) != 0)
    check_fail(__FILE__, line, "%s decoded as \"%.*s\"", json, (int)out.len,
               out.ptr ? out.ptr : "");
  else if (!pc_json_is(root, want) && !memchr(want, '\0', want_len))
    check_fail(__FILE__, line, "pc_json_is(%s) is false", json);
  free(p);
  pc_buf_free(&scratch);
}

#define CHECK_DECODES(json, want)                                          \
  check_decodes(json, want, sizeof want - 1, __LINE__)

static void decodes_escapes_and_surrogate_pairs(void)
{
  CHECK_DECODES("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "\"\\/\b\f\n\r\t");
  CHECK_DECODES("\"\\u0041\\u00e9\\u20AC\"", "A\xc3\xa9\xe2\x82\xac");
  CHECK_DECODES("\"\\ud83d\\ude00\"", "\xf0\x9f\x98\x80");
  CHECK_DECODES("\"\\uD834\\uDD1E!\"", "\xf0\x9d\x84\x9e!");
  CHECK_DECODES("\"\\udbff\\udfff\"", "\xf4\x8f\xbf\xbf");
  /* A surrogate alone has no UTF-8 form: U+FFFD stands for it. */
  CHECK_DECODES("\"\\ud83d\"", "\xef\xbf\xbd");
  CHECK_DECODES("\"\\ude00x\"", "\xef\xbf\xbdx");
  CHECK_DECODES("\"\\ud83d\\u0041\"", "\xef\xbf\xbd" "A");
  CHECK_DECODES("\"\\ud83d\\ud83d\\ude00\"", "\xef\xbf\xbd\xf0\x9f\x98\x80");
  CHECK_DECODES("\"\\ud83d\\\\ude00\"", "\xef\xbf\xbd\\ude00");
  CHECK_DECODES("\"\\u0000\"", "\0");
  CHECK_DECODES("\"raw \xf0\x9f\x98\x80 and \\ud83d\\ude00\"",
                "raw \xf0\x9f\x98\x80 and \xf0\x9f\x98\x80");
}

static void compares_strings_as_decoded(void)
{
  const char *s = "[\"type\",\"\\u0074ype\",\"typ\",\"types\",\"\\\\n\",1]";
  pc_json root, v[6];
  size_t cursor = 0;
  CHECK_INT(pc_json_parse((pt_str){ s, strlen(s) }, &root), ==, PT_OK);
  for (int i = 0; i < 6; i++) CHECK(pc_json_next(root, &cursor, &v[i]));
  CHECK(pc_json_is(v[0], "type"));
  CHECK(pc_json_is(v[1], "type"));
  CHECK(!pc_json_is(v[2], "type"));
  CHECK(!pc_json_is(v[3], "type"));
  CHECK(!pc_json_is(v[0], "typ"));
  CHECK(!pc_json_is(v[0], ""));
  CHECK(pc_json_is(v[4], "\\n"));
  CHECK(!pc_json_is(v[4], "\n"));
  CHECK(!pc_json_is(v[5], "1"));
}

static void picks_members_in_the_checking_pass(void)
{
  enum { K_TYPE, K_DELTA, K_DTYPE, K_TEXT, K_MISSING, K_DEEP, K_COUNT };
  static const pc_json_key keys[K_COUNT] = {
    [K_TYPE] = PC_JSON_KEY("type", PC_JSON_ROOT),
    [K_DELTA] = PC_JSON_KEY("delta", PC_JSON_ROOT),
    [K_DTYPE] = PC_JSON_KEY("type", K_DELTA),
    [K_TEXT] = PC_JSON_KEY("text", K_DELTA),
    [K_MISSING] = PC_JSON_KEY("missing", PC_JSON_ROOT),
    [K_DEEP] = PC_JSON_KEY("type", K_TEXT),
  };
  const char *s = "{\"index\":[{\"type\":\"no\"}],\"\\u0074ype\":\"first\","
                  "\"delta\":{\"type\":\"text_delta\",\"text\":\"hi\","
                  "\"type\":\"second\"},\"type\":\"second\"}";
  char *p = exact(s, strlen(s));
  pc_json root, v[K_COUNT], w[K_COUNT];
  CHECK_INT(pc_json_parse_pick((pt_str){ p, strlen(s) }, &root, keys, K_COUNT,
                               v),
            ==, PT_OK);
  CHECK(pc_json_is(v[K_TYPE], "first"));
  CHECK_INT(pc_json_type(v[K_DELTA]), ==, PC_JSON_OBJECT);
  CHECK(pc_json_is(v[K_DTYPE], "text_delta"));
  CHECK(pc_json_is(v[K_TEXT], "hi"));
  CHECK_INT(v[K_MISSING].len, ==, 0);
  CHECK_INT(v[K_DEEP].len, ==, 0);
  /* The same from checked text, and one member at a time. */
  pc_json_pick(root, keys, K_COUNT, w);
  for (int i = 0; i < K_COUNT; i++)
    CHECK(w[i].ptr == v[i].ptr && w[i].len == v[i].len);
  CHECK(pc_json_get(root, "delta").ptr == v[K_DELTA].ptr);
  CHECK(pc_json_get(pc_json_get(root, "delta"), "text").ptr == v[K_TEXT].ptr);
  CHECK_INT(pc_json_get(v[K_TEXT], "type").len, ==, 0);
  free(p);

  /* A root that is no object, and malformed text, pick nothing. */
  CHECK_INT(pc_json_parse_pick((pt_str){ "[{\"type\":1}]", 12 }, &root, keys,
                               K_COUNT, v),
            ==, PT_OK);
  for (int i = 0; i < K_COUNT; i++) CHECK_INT(v[i].len, ==, 0);
  CHECK_INT(pc_json_parse_pick((pt_str){ "{\"type\":1,}", 11 }, &root, keys,
                               K_COUNT, v),
            ==, PT_EPROTO);
  for (int i = 0; i < K_COUNT; i++) CHECK_INT(v[i].len, ==, 0);
}

static void reads_counts(void)
{
  static const struct {
    const char *json;
    uint64_t want;
  } cases[] = {
    { "0", 0 },
    { "42", 42 },
    { "7.9", 7 },
    { "18446744073709551615", UINT64_MAX },
    { "18446744073709551616", 99 },
    { "-1", 99 },
    { "-0", 99 },
    { "1e3", 99 },
    { "\"5\"", 99 },
    { "null", 99 },
    { "[1]", 99 },
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    pc_json root;
    char *p = exact(cases[i].json, strlen(cases[i].json));
    CHECK_INT(pc_json_parse((pt_str){ p, strlen(cases[i].json) }, &root), ==,
              PT_OK);
    if (pc_json_u64(root, 99) != cases[i].want)
      check_fail(__FILE__, __LINE__, "%s read as %llu", cases[i].json,
                 (unsigned long long)pc_json_u64(root, 99));
    free(p);
  }
  CHECK(pc_json_u64((pc_json){ NULL, 0 }, 5) == 5);
}

static void walks_arrays_and_types(void)
{
  const char *s = "[ 1 , \"two\" , [3] , {\"4\":4} , true , null ]";
  static const int types[] = { PC_JSON_NUMBER, PC_JSON_STRING, PC_JSON_ARRAY,
                               PC_JSON_OBJECT, PC_JSON_BOOL, PC_JSON_NULL };
  pc_json root, item;
  size_t cursor = 0;
  int n = 0;
  CHECK_INT(pc_json_parse((pt_str){ s, strlen(s) }, &root), ==, PT_OK);
  while (pc_json_next(root, &cursor, &item)) {
    CHECK_INT(pc_json_type(item), ==, types[n]);
    n++;
  }
  CHECK_INT(n, ==, 6);
  CHECK(pc_json_is_true((pc_json){ strstr(s, "true"), 4 }));
  CHECK(!pc_json_is_true(root));
  cursor = 0;
  CHECK(!pc_json_next((pc_json){ "{}", 2 }, &cursor, &item));
  cursor = 0;
  CHECK(!pc_json_next((pc_json){ "[]", 2 }, &cursor, &item));
}

/* ------------------------------------------------------------------------ */
/* Fuzz: random documents, valid by construction, then mutated. */

static uint64_t rng = 0x9E3779B97F4A7C15ull;

static uint32_t rnd(uint32_t n)
{
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (uint32_t)(rng % n);
}

typedef struct doc {
  char *s;
  size_t len, cap;
} doc;

static void put(doc *d, const char *s, size_t n)
{
  if (d->len + n + 1 > d->cap) {
    d->cap = (d->len + n + 1) * 2;
    d->s = realloc(d->s, d->cap);
  }
  memcpy(d->s + d->len, s, n);
  d->len += n;
  d->s[d->len] = '\0';
}

static void puts_(doc *d, const char *s)
{
  put(d, s, strlen(s));
}

static void gen_ws(doc *d)
{
  static const char *ws[] = { "", "", "", " ", "\n", "\t ", "\r\n  " };
  puts_(d, ws[rnd(7)]);
}

/* Code point `cp` in UTF-8 into out; its length. */
static int utf8(uint32_t cp, char *out)
{
  if (cp < 0x80) {
    out[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    out[0] = (char)(0xC0 | cp >> 6);
    out[1] = (char)(0x80 | (cp & 63));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = (char)(0xE0 | cp >> 12);
    out[1] = (char)(0x80 | (cp >> 6 & 63));
    out[2] = (char)(0x80 | (cp & 63));
    return 3;
  }
  out[0] = (char)(0xF0 | cp >> 18);
  out[1] = (char)(0x80 | (cp >> 12 & 63));
  out[2] = (char)(0x80 | (cp >> 6 & 63));
  out[3] = (char)(0x80 | (cp & 63));
  return 4;
}

/* A string whose text is also written, decoded, to `text` (when given). */
static void gen_string(doc *d, doc *text)
{
  static const char *names[] = { "type", "delta", "text", "index", "a", "" };
  puts_(d, "\"");
  int n = (int)rnd(12);
  if (rnd(3) == 0) {
    const char *name = names[rnd(6)];
    puts_(d, name);
    if (text) puts_(text, name);
    n = 0;
  }
  for (int i = 0; i < n; i++) {
    char buf[16], utf8_bytes[4];
    uint32_t cp;
    switch (rnd(6)) {
    case 0: cp = 0x20 + rnd(0x5F); break;
    case 1: cp = rnd(0x20); break;
    case 2: cp = 0x80 + rnd(0x780); break;
    case 3: cp = 0x800 + rnd(0xD000); break;
    case 4: cp = 0x10000 + rnd(0x100000); break;
    default: cp = "\"\\/"[rnd(3)]; break;
    }
    if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xE000;
    int len = utf8(cp, utf8_bytes);
    /* Written as itself when JSON allows, else (or at random) escaped. */
    int plain = cp >= 0x20 && cp != '"' && cp != '\\' && rnd(2);
    if (plain) {
      put(d, utf8_bytes, (size_t)len);
    } else if (cp >= 0x10000) {
      uint32_t v = cp - 0x10000;
      snprintf(buf, sizeof buf, rnd(2) ? "\\u%04x\\u%04x" : "\\u%04X\\u%04X",
               0xD800 + (v >> 10), 0xDC00 + (v & 0x3FF));
      puts_(d, buf);
    } else if (cp == '\n' && rnd(2)) {
      puts_(d, "\\n");
    } else if ((cp == '"' || cp == '\\' || cp == '/') && rnd(2)) {
      buf[0] = '\\', buf[1] = (char)cp, buf[2] = '\0';
      puts_(d, buf);
    } else {
      snprintf(buf, sizeof buf, "\\u%04x", cp);
      puts_(d, buf);
    }
    if (text) put(text, utf8_bytes, (size_t)len);
  }
  puts_(d, "\"");
}

static void gen_value(doc *d, int depth)
{
  static const char *scalars[] = { "0", "-1", "12.5", "1e10", "-0.0E-3",
                                   "true", "false", "null", "123456789" };
  uint32_t kind = rnd(depth > 6 ? 3 : 5);
  if (kind == 0) {
    puts_(d, scalars[rnd(9)]);
  } else if (kind <= 2) {
    gen_string(d, NULL);
  } else {
    int object = kind == 3, n = (int)rnd(5);
    puts_(d, object ? "{" : "[");
    gen_ws(d);
    for (int i = 0; i < n; i++) {
      if (i) {
        puts_(d, ",");
        gen_ws(d);
      }
      if (object) {
        gen_string(d, NULL);
        gen_ws(d);
        puts_(d, ":");
        gen_ws(d);
      }
      gen_value(d, depth + 1);
      gen_ws(d);
    }
    puts_(d, object ? "}" : "]");
  }
}

/* For an accepted document: every member pc_json_pick finds is what
 * pc_json_get finds, and both walkers agree. */
static void check_picks_agree(pc_json root, const pc_json *picked,
                              const pc_json_key *keys, size_t n)
{
  pc_json again[4];
  pc_json_pick(root, keys, n, again);
  for (size_t i = 0; i < n; i++) {
    pc_json holder = keys[i].parent == PC_JSON_ROOT
                         ? root
                         : picked[keys[i].parent];
    pc_json want = pc_json_get(holder, keys[i].name.ptr);
    if (want.ptr != picked[i].ptr || want.len != picked[i].len ||
        again[i].ptr != picked[i].ptr || again[i].len != picked[i].len)
      check_fail(__FILE__, __LINE__, "picks disagree on key %zu", i);
  }
}

static void fuzz_against_a_reference_checker(void)
{
  static const pc_json_key keys[4] = {
    PC_JSON_KEY("type", PC_JSON_ROOT),
    PC_JSON_KEY("delta", PC_JSON_ROOT),
    PC_JSON_KEY("text", 1),
    PC_JSON_KEY("a", PC_JSON_ROOT),
  };
  static const char junk[] = "{}[],:\"\\ 0-.eEtfnu\x01\x7f\xc3";
  doc d = { 0 };
  pc_buf scratch = { 0 };
  int accepted = 0, refused = 0;
  for (int round = 0; round < 20000; round++) {
    d.len = 0;
    gen_ws(&d);
    if (rnd(2)) {
      /* An event-shaped object, so that picks find something. */
      puts_(&d, "{\"type\":");
      gen_value(&d, 1);
      puts_(&d, ",\"delta\":{\"text\":");
      gen_value(&d, 2);
      puts_(&d, "},");
      gen_string(&d, NULL);
      puts_(&d, ":");
      gen_value(&d, 1);
      puts_(&d, "}");
    } else {
      gen_value(&d, 0);
    }
    gen_ws(&d);
    int mutate = round % 3;
    for (int m = 0; m < mutate && d.len; m++) {
      size_t at = rnd((uint32_t)d.len);
      switch (rnd(3)) {
      case 0: d.s[at] = junk[rnd(sizeof junk - 1)]; break;
      case 1: d.len = at; break;
      default:
        memmove(d.s + at, d.s + at + 1, d.len - at - 1);
        d.len--;
        break;
      }
    }
    char *p = exact(d.s, d.len);
    pc_json root, v[4];
    int32_t rc = pc_json_parse_pick((pt_str){ p, d.len }, &root, keys, 4, v);
    int want = ref_valid(p, d.len);
    if ((rc == PT_OK) != want) {
      check_fail(__FILE__, __LINE__, "round %d: %s \"%.*s\"", round,
                 want ? "refused" : "accepted", (int)d.len, p);
    } else if (rc == PT_OK) {
      accepted++;
      check_picks_agree(root, v, keys, 4);
      pt_str out;
      for (int i = 0; i < 4; i++)
        if (pc_json_type(v[i]) == PC_JSON_STRING &&
            pc_json_text(v[i], &scratch, &out) != PT_OK)
          check_fail(__FILE__, __LINE__, "round %d: text failed", round);
    } else {
      refused++;
    }
    free(p);
  }
  CHECK_INT(accepted, >, 5000);
  CHECK_INT(refused, >, 5000);

  /* Strings decode to the text they were written from. */
  for (int round = 0; round < 5000; round++) {
    doc text = { 0 };
    d.len = 0;
    gen_string(&d, &text);
    put(&text, "", 0);
    char *p = exact(d.s, d.len);
    pc_json root;
    pt_str out = { "", 0 };
    if (pc_json_parse((pt_str){ p, d.len }, &root) != PT_OK ||
        pc_json_text(root, &scratch, &out) != PT_OK ||
        out.len != text.len || memcmp(out.ptr, text.s, text.len) != 0 ||
        (!memchr(text.s, '\0', text.len) && !pc_json_is(root, text.s)))
      check_fail(__FILE__, __LINE__, "round %d: %.*s decoded wrong", round,
                 (int)d.len, p);
    free(p);
    free(text.s);
  }
  free(d.s);
  pc_buf_free(&scratch);
}

int main(void)
{
  RUN(accepts_every_kind_of_value);
  RUN(root_view_leaves_out_the_space_around);
  RUN(refuses_malformed_text);
  RUN(refuses_every_truncation_without_reading_past_it);
  RUN(nests_to_the_limit_and_no_deeper);
  RUN(text_is_a_view_without_escapes_and_decoded_with);
  RUN(decodes_escapes_and_surrogate_pairs);
  RUN(compares_strings_as_decoded);
  RUN(picks_members_in_the_checking_pass);
  RUN(reads_counts);
  RUN(walks_arrays_and_types);
  RUN(fuzz_against_a_reference_checker);
  return check_report();
}
