/*
 * core/json_schema_text.c: the text the JSON Schema validator writes and
 * reads. Bounded UTF-8 text builds its messages and JSON Pointers without
 * allocating; the pattern half rewrites an ECMAScript "pattern" as POSIX ERE
 * and holds the C.UTF-8 locale that regcomp and regexec run under. Not for
 * deciding what is valid: json_schema.c and json_schema_check.c do that.
 *
 * "pattern" is ECMAScript; POSIX ERE stands in for it. js_translate()
 * rewrites what ERE spells differently (\d \w \s and their negations,
 * \uXXXX, \xHH, escapes inside [...], (?:...) and (?<name>...), lazy
 * quantifiers, which cannot change a yes/no answer) and refuses what ERE
 * lacks (lookaround, back-references, \p{...}). Matching runs in the
 * C.UTF-8 locale so "." and {n,m} count code points. Still different: "."
 * also matches line breaks; \b and \B rely on glibc's GNU extensions; ranges
 * with non-ASCII ends fail to compile (glibc 2.36's C.UTF-8 refuses them);
 * \s is [[:space:]].
 */
#include "json_schema_int.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- bounded UTF-8 text ------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s (at most n bytes), else 0. */
static size_t utf8_len(const char *s, size_t n)
{
  unsigned char c = (unsigned char)s[0];
  size_t len = c < 0x80 ? 1 : c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3
             : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
  if (len > n) return 0;
  for (size_t i = 1; i < len; i++)
    if (((unsigned char)s[i] & 0xC0) != 0x80) return 0;
  return len;
}

void js_put(text *t, const char *p, size_t n)
{
  if (t->full || t->cap == 0) { t->full = true; return; }
  if (n > t->cap - 1 - t->len) {
    n = t->cap - 1 - t->len;
    while (n > 0 && ((unsigned char)p[n] & 0xC0) == 0x80) n--;
    t->full = true;
  }
  memcpy(t->s + t->len, p, n);
  t->s[t->len += n] = '\0';
}

void js_puts(text *t, const char *p) { js_put(t, p, strlen(p)); }

void js_vputf(text *t, const char *fmt, va_list ap)
{
  char buf[512];
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  if (n > 0) js_put(t, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

/* s[0..n) with bad UTF-8 replaced by U+FFFD and escaped as in a JSON string
 * (json) or a JSON Pointer token ("~0", "~1"; controls become '?'). */
void js_put_clean(text *t, const char *s, size_t n, bool json)
{
  for (size_t i = 0, len; i < n && !t->full; i += len ? len : 1) {
    unsigned char ch = (unsigned char)s[i];
    char e[8];
    if (!(len = utf8_len(s + i, n - i))) js_put(t, "\xEF\xBF\xBD", 3);
    else if (ch >= 0x80) js_put(t, s + i, len);
    else if (json && (ch == '"' || ch == '\\')) js_put(t, ch == '"' ? "\\\"" : "\\\\", 2);
    else if (json && ch < 0x20) {
      snprintf(e, sizeof e, "\\u%04x", ch);
      js_puts(t, ch == '\n' ? "\\n" : ch == '\t' ? "\\t" : e);
    } else if (!json && (ch < 0x20 || ch == '~' || ch == '/'))
      js_puts(t, ch == '~' ? "~0" : ch == '/' ? "~1" : "?");
    else js_put(t, s + i, 1);
  }
}

void js_put_num(text *t, double d)
{
  char b[32];
  snprintf(b, sizeof b, "%.15g", d);
  if (strtod(b, NULL) != d) snprintf(b, sizeof b, "%.17g", d);
  js_puts(t, b);
}

/* Compact JSON. Each level writes a byte before it recurses and stops once t
 * is full, so a value nested 10,000 deep costs at most t->cap frames. */
static void put_value(text *t, const cJSON *v)
{
  if (t->full) return;
  if (cJSON_IsNumber(v)) js_put_num(t, v->valuedouble);
  else if (cJSON_IsBool(v) || cJSON_IsNull(v))
    js_puts(t, cJSON_IsTrue(v) ? "true" : cJSON_IsFalse(v) ? "false" : "null");
  else if (cJSON_IsString(v)) {
    js_put(t, "\"", 1);
    js_put_clean(t, v->valuestring, strnlen(v->valuestring, t->cap + 8), true);
    js_put(t, "\"", 1);
  } else if (cJSON_IsArray(v) || cJSON_IsObject(v)) {
    js_put(t, cJSON_IsObject(v) ? "{" : "[", 1);
    for (const cJSON *e = v->child; e && !t->full; e = e->next) {
      if (e != v->child) js_put(t, ",", 1);
      if (cJSON_IsObject(v)) {
        js_put(t, "\"", 1);
        js_put_clean(t, e->string, strnlen(e->string, t->cap + 8), true);
        js_put(t, "\":", 2);
      }
      put_value(t, e);
    }
    js_put(t, cJSON_IsObject(v) ? "}" : "]", 1);
  } else js_puts(t, "(raw)");
}

/* A short excerpt of v, ending in "..." when cut. */
void js_put_excerpt(text *t, const cJSON *v)
{
  char b[EXCERPT_LEN];
  text e = {b, sizeof b, 0, false};
  put_value(&e, v);
  js_puts(t, b);
  if (e.full) js_puts(t, "...");
}

const char *js_excerpt(char *buf, size_t cap, const cJSON *v)
{
  text t = {buf, cap, 0, false};
  js_put_excerpt(&t, v);
  return buf;
}

const char *js_quote(char *buf, size_t cap, const char *s)
{
  cJSON tmp = {.type = cJSON_String, .valuestring = (char *)s};
  return js_excerpt(buf, cap, &tmp);
}

/* What a value is, for "got ...": "number 5", "string \"x\"", "null". */
const char *js_describe(char *buf, size_t cap, const cJSON *v)
{
  text t = {buf, cap, 0, false};
  js_puts(&t, cJSON_IsNull(v) ? "null" : cJSON_IsBool(v) ? "boolean " : cJSON_IsNumber(v) ? "number "
            : cJSON_IsString(v) ? "string " : cJSON_IsArray(v) ? "array "
            : cJSON_IsObject(v) ? "object " : "raw JSON ");
  if (!cJSON_IsNull(v)) js_put_excerpt(&t, v);
  return buf;
}

mark js_push(text *p, const char *tok)
{
  mark m = {p->len, p->full};
  js_put(p, "/", 1);
  js_put_clean(p, tok, strlen(tok), false);
  return m;
}

mark js_push_index(text *p, size_t i)
{
  char b[24];
  snprintf(b, sizeof b, "%zu", i);
  return js_push(p, b);
}

void js_pop(text *p, mark m)
{
  p->s[p->len = m.len] = '\0';
  p->full = m.full;
}

/* ---- ECMAScript patterns as POSIX ERE ------------------------------------ */

static pthread_once_t utf8_once = PTHREAD_ONCE_INIT;
static locale_t utf8_locale; /* for the life of the process; 0 if missing */

static void utf8_init(void)
{
  utf8_locale = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
}

/* uselocale is per thread, so the rest of the process is undisturbed;
 * regcomp and regexec must run under the same locale. */
locale_t js_enter_utf8(void)
{
  pthread_once(&utf8_once, utf8_init);
  return utf8_locale ? uselocale(utf8_locale) : (locale_t)0;
}

void js_leave_utf8(locale_t old)
{
  if (old) uselocale(old);
}

typedef struct esc {
  char cls;      /* 'd' 'D' 'w' 'W' 's' 'S', 'b' 'B' outside [...], or 0 */
  char bytes[5]; /* else the character, UTF-8 */
  size_t n;
} esc;

long js_hex(const char *p, int n)
{
  long v = 0;
  for (int i = 0; i < n; i++) {
    if (!isxdigit((unsigned char)p[i])) return -1;
    v = v * 16 + (isdigit((unsigned char)p[i]) ? p[i] - '0' : (p[i] | 0x20) - 'a' + 10);
  }
  return v;
}

/* Reads one character or escape at *pp and moves past it. */
static const char *read_char(const char **pp, esc *e, bool in_class)
{
  const char *p = *pp;
  long cp = -1;
  e->cls = 0;
  if (*p++ != '\\') p--;
  else if (!*p) return "it ends with a backslash";
  else if (strchr("dDwWsS", *p) || (!in_class && (*p == 'b' || *p == 'B'))) e->cls = *p++;
  else if (*p == 'B') return "\\B inside [...] is not valid";
  else if (strchr("tnvfrb", *p)) cp = "\t\n\v\f\r\b"[strchr("tnvfrb", *p++) - "tnvfrb"];
  else if (*p == 'x' || *p == 'u') {
    int n = *p++ == 'x' ? 2 : 4;
    if ((cp = js_hex(p, n)) < 0) return "\\x needs 2 hex digits and \\u 4";
    p += n;
    long lo = cp >= 0xD800 && cp <= 0xDBFF && p[0] == '\\' && p[1] == 'u' ? js_hex(p + 2, 4) : -1;
    if (lo >= 0xDC00 && lo <= 0xDFFF) cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00), p += 6;
    if (cp >= 0xD800 && cp <= 0xDFFF) return "it has an unpaired surrogate";
  } else if (*p == 'c' && isalpha((unsigned char)p[1])) cp = p[1] % 32, p += 2;
  else if (isdigit((unsigned char)*p)) return *p == '0' ? "NUL cannot be matched" : "back-references are not supported";
  else if (isalnum((unsigned char)*p)) return "it uses an escape POSIX regex lacks (such as \\p or \\k)";
  if (cp == 0) return "NUL cannot be matched";
  if (cp < 0 && !e->cls) { /* a plain or identity-escaped character */
    e->n = utf8_len(p, 4) ? utf8_len(p, 4) : 1;
    memcpy(e->bytes, p, e->n);
    p += e->n;
  } else if (cp > 0) {
    static const unsigned long limit[] = {0x80, 0x800, 0x10000};
    static const unsigned char lead[] = {0, 0xC0, 0xE0, 0xF0};
    e->n = 1;
    while (e->n < 4 && (unsigned long)cp >= limit[e->n - 1]) e->n++;
    for (size_t i = e->n - 1; i > 0; i--, cp >>= 6) e->bytes[i] = (char)(0x80 | (cp & 0x3F));
    e->bytes[0] = (char)(lead[e->n - 1] | cp);
  }
  *pp = p;
  return NULL;
}

static bool is_one(const esc *e, const char *set)
{
  return !e->cls && e->n == 1 && strchr(set, e->bytes[0]);
}

/* ECMAScript [...] at *pp to a POSIX bracket expression. POSIX brackets
 * have no escapes: "]" must come first, "-" last, "^" anywhere but first
 * and "[" where it cannot start "[:", so those four are held back. */
static const char *translate_class(const char **pp, text *o)
{
  const char *p = *pp + 1, *why;
  bool neg = *p == '^', rbr = false, lbr = false, caret = false, dash = false;
  p += neg;
  if (*p == ']') { /* [] matches nothing, [^] anything */
    *pp = p + 1;
    js_put(o, ".", 1);
    return neg ? NULL : "the empty class [] is not supported";
  }
  js_put(o, "[^", neg ? 2 : 1);
  size_t start = o->len;
  while (*p != ']') {
    esc a, b;
    const char *q;
    if (!*p) return "a [...] class is not closed";
    if ((why = read_char(&p, &a, true))) return why;
    if (!a.cls && p[0] == '-' && p[1] && p[1] != ']' && !read_char((q = p + 1, &q), &b, true) && !b.cls) {
      if (is_one(&a, "]-^[") || is_one(&b, "]-^["))
        return "a range that starts or ends with ] [ ^ or - is not supported";
      js_put(o, a.bytes, a.n), js_put(o, "-", 1), js_put(o, b.bytes, b.n);
      p = q;
    } else if (a.cls) {
      if (isupper((unsigned char)a.cls)) return "\\D, \\W and \\S inside [...] are not supported";
      js_puts(o, a.cls == 'd' ? "0-9" : a.cls == 'w' ? "A-Za-z0-9_" : "[:space:]");
    } else if (is_one(&a, "]")) rbr = true;
    else if (is_one(&a, "[")) lbr = true;
    else if (is_one(&a, "^")) caret = true;
    else if (is_one(&a, "-")) dash = true;
    else js_put(o, a.bytes, a.n);
  }
  *pp = p + 1;
  if (rbr && o->len + 1 < o->cap) {
    memmove(o->s + start + 1, o->s + start, o->len - start + 1);
    o->s[start] = ']', o->len++;
  }
  if (lbr) js_put(o, "[", 1);
  if (caret && o->len == start && !neg) {
    if (!dash) { /* [\^]: no bracket holds "^" alone */
      o->s[o->len = start - 1] = '\0';
      js_put(o, "\\^", 2);
      return NULL;
    }
    js_put(o, "-", 1), dash = false;
  }
  js_put(o, "^", caret);
  js_put(o, "-", dash);
  js_put(o, "]", 1);
  return NULL;
}

static unsigned long digits(const char **q)
{
  unsigned long v = 0;
  for (; isdigit((unsigned char)**q); (*q)++)
    if (v < 100000) v = v * 10 + (unsigned long)(**q - '0'); /* saturates */
  return v;
}

/* "{n}", "{n,}" or "{n,m}" at p: its length, else 0 (and then "{" is a
 * literal, as ECMAScript's Annex B reads it). */
static size_t quantifier(const char *p, unsigned long *count)
{
  const char *q = p + 1;
  if (!isdigit((unsigned char)*q)) return 0;
  unsigned long lo = digits(&q), hi = lo;
  if (*q == ',') q++, hi = digits(&q);
  *count = hi > lo ? hi : lo;
  return *q == '}' ? (size_t)(q + 1 - p) : 0;
}

/* ECMAScript pattern p as POSIX ERE into o; NULL, or why it cannot be.
 * sum[d] estimates the items regcomp will build for the group at depth d. */
const char *js_translate(const char *p, text *o)
{
  static const char *const cls[] = {"[0-9]", "[^0-9]", "[A-Za-z0-9_]", "[^A-Za-z0-9_]",
                                    "[[:space:]]", "[^[:space:]]", "\\b", "\\B"};
  size_t sum[MAX_GROUPS + 1] = {0}, last = 0, qlen;
  int d = 0;
  const char *why;
  while (*p) {
    size_t atom = 1;
    unsigned long count;
    esc e;
    if (*p == '[') {
      if ((why = translate_class(&p, o))) return why;
    } else if (*p == '(') {
      if (p[1] == '?' && p[2] == ':') p += 2;
      else if (p[1] == '?' && p[2] == '<' && p[3] != '=' && p[3] != '!' && strchr(p, '>'))
        p = strchr(p, '>'); /* a named group: names only matter to captures */
      else if (p[1] == '?') return "lookaround assertions are not supported";
      if (d == MAX_GROUPS) return "its groups nest too deeply";
      sum[++d] = atom = 0;
      p++;
      js_put(o, "(", 1);
    } else if (*p == ')') {
      js_put(o, p++, 1);
      atom = d > 0 ? sum[d--] : 0;
    } else if (*p == '*' || *p == '+' || *p == '?') {
      js_put(o, p++, 1);
      p += *p == '?'; /* lazy or greedy, the answer to "is there a match" is the same */
      atom = 0;
    } else if (*p == '{' && (qlen = quantifier(p, &count))) {
      if (count > MAX_PATTERN_COST) return "a repeat count above 1000 is not supported";
      js_put(o, p, qlen);
      p += qlen;
      p += *p == '?';
      sum[d] += last * (count > 1 ? count - 1 : 0);
      atom = 0;
    } else if (strchr("^$|", *p)) {
      js_put(o, p++, 1);
      atom = 0;
    } else if (*p == '.') js_put(o, p++, 1);
    else {
      if ((why = read_char(&p, &e, false))) return why;
      if (e.cls) js_puts(o, cls[strchr("dDwWsSbB", e.cls) - "dDwWsSbB"]);
      else {
        if (is_one(&e, ".[()*+?{|^$\\")) js_put(o, "\\", 1);
        js_put(o, e.bytes, e.n);
      }
      atom = e.cls != 'b' && e.cls != 'B';
    }
    sum[d] += atom;
    last = atom;
    if (sum[d] > MAX_PATTERN_COST) return "its repeats expand to more than 1000 items";
  }
  return o->full ? "it is too long" : NULL;
}
