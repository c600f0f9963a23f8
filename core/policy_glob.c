/*
 * core/policy_glob.c: glob matching for permission rules: paths, where a
 * "**" segment spans folders and everything else stays inside one, and
 * plain text (commands, hosts, tool ids), where '*' matches anything.
 *
 * Both run in time bounded by the product of the lengths and report their
 * work, so that a hostile script calling them in a loop is stopped by the
 * policy's step bound. Not for: the file system (nothing here looks at
 * it), or dot-file rules of shells ('*' matches a leading dot here, so a
 * deny rule for everything under a folder cannot be dodged by a hidden
 * file).
 */
#include <stdlib.h>
#include <string.h>

#include "policy_int.h"

static unsigned char fold_char(unsigned char c, int fold)
{
  return fold && c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

/* A bracket expression at p[0] == '['. Returns its length, or 0 when it
 * is malformed (then '[' is an ordinary character); *hit tells whether c
 * is in it. */
static size_t bracket(const char *p, size_t pn, unsigned char c, int fold,
                      int *hit)
{
  size_t i = 1;
  int negate = 0, found = 0;
  if (i < pn && (p[i] == '!' || p[i] == '^')) {
    negate = 1;
    i++;
  }
  size_t first = i;
  c = fold_char(c, fold);
  while (i < pn && (p[i] != ']' || i == first)) {
    unsigned char lo = (unsigned char)p[i];
    if (lo == '\\' && i + 1 < pn) lo = (unsigned char)p[++i];
    unsigned char hi = lo;
    if (i + 2 < pn && p[i + 1] == '-' && p[i + 2] != ']') {
      hi = (unsigned char)p[i + 2];
      if (hi == '\\' && i + 3 < pn) hi = (unsigned char)p[++i + 2];
      i += 2;
    }
    lo = fold_char(lo, fold);
    hi = fold_char(hi, fold);
    if (c >= lo && c <= hi) found = 1;
    i++;
  }
  if (i >= pn) return 0;
  *hit = found != negate;
  return i + 1;
}

/* One glob against one string; '*' matches any run of characters (the
 * callers cut paths into segments first). The classic algorithm that
 * retries from the last star, which is exact for a single kind of star. */
static int match(const char *p, size_t pn, const char *s, size_t sn, int fold,
                 uint64_t *steps)
{
  size_t pi = 0, si = 0, star_p = (size_t)-1, star_s = 0;
  while (si < sn) {
    (*steps)++;
    if (pi < pn) {
      unsigned char c = (unsigned char)p[pi];
      unsigned char sc = fold_char((unsigned char)s[si], fold);
      if (c == '*') {
        while (pi < pn && p[pi] == '*') pi++;
        star_p = pi;
        star_s = si;
        continue;
      }
      if (c == '?') {
        pi++;
        si++;
        continue;
      }
      if (c == '[') {
        int hit = 0;
        size_t n = bracket(p + pi, pn - pi, (unsigned char)s[si], fold, &hit);
        if (n && hit) {
          pi += n;
          si++;
          continue;
        }
        if (n) goto retry;
      }
      if (c == '\\' && pi + 1 < pn) c = (unsigned char)p[++pi];
      if (fold_char(c, fold) == sc) {
        pi++;
        si++;
        continue;
      }
    }
  retry:
    if (star_p == (size_t)-1) return 0;
    pi = star_p;
    si = ++star_s;
  }
  while (pi < pn && p[pi] == '*') pi++;
  return pi == pn;
}

int pt__glob_plain(const char *pat, size_t pn, const char *s, size_t sn,
                   int fold, uint64_t *steps)
{
  return match(pat, pn, s, sn, fold, steps);
}

typedef struct seg {
  const char *s;
  size_t n;
} seg;

/* Cut at '/', dropping empty segments, into v (cap entries) or, when
 * there are more, a malloc'd array. Returns the count, or -1. */
static long segments(const char *s, size_t n, seg *v, size_t cap, seg **out)
{
  size_t count = 1;
  for (size_t i = 0; i < n; i++) count += s[i] == '/';
  if (count > cap && !(v = malloc(count * sizeof *v))) return -1;
  long k = 0;
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j < n && s[j] != '/') j++;
    if (j > i) v[k++] = (seg){ s + i, j - i };
    i = j + 1;
  }
  *out = v;
  return k;
}

/* Most path globs start with a literal folder ("/home/me/.ssh/..."): a path
 * outside it cannot match, and most paths are. Returns 0 when `path`
 * cannot match `pat`, 1 when the full match must decide. */
static int prefix_may_match(const char *pat, size_t pn, const char *path,
                            size_t sn)
{
  size_t lit = 0, cut = 0;
  while (lit < pn && pat[lit] != '*' && pat[lit] != '?' && pat[lit] != '[' &&
         pat[lit] != '\\') {
    if (pat[lit] == '/') {
      if (lit && pat[lit - 1] == '/') return 1;
      cut = lit + 1;
    }
    lit++;
  }
  if (lit == pn) cut = pn; /* no glob at all: the whole pattern */
  /* path + "/" must start with the folder part of the literal prefix. */
  for (size_t i = 0; i < cut; i++) {
    char c = i < sn ? path[i] : i == sn ? '/' : '\0';
    if (c != pat[i]) return 0;
  }
  return 1;
}

int pt__glob_path(const char *pat, size_t pn, const char *path, size_t sn,
                  uint64_t *steps)
{
  if ((pn && pat[0] == '/') != (sn && path[0] == '/')) return 0;
  (*steps)++;
  if (!prefix_may_match(pat, pn, path, sn)) return 0;
  seg pbuf[32], sbuf[64], *ps = NULL, *ss = NULL;
  unsigned char rbuf[2 * 65], *row = NULL;
  long np = segments(pat, pn, pbuf, 32, &ps);
  long ns = np < 0 ? -1 : segments(path, sn, sbuf, 64, &ss);
  if (ns >= 0) row = ns < 65 ? rbuf : malloc((size_t)(ns + 1) * 2);
  int result = 0;
  if (row) {
    /* next[j]: pattern segments i+1.. match path segments j..; the row
     * for i is filled from the end, so cur[j+1] is ready for "**". */
    unsigned char *next = row, *cur = row + ns + 1;
    for (long j = 0; j <= ns; j++) next[j] = j == ns;
    for (long i = np - 1; i >= 0; i--) {
      int globstar = ps[i].n == 2 && ps[i].s[0] == '*' && ps[i].s[1] == '*';
      for (long j = ns; j >= 0; j--) {
        (*steps)++;
        if (globstar)
          cur[j] = next[j] || (j < ns && cur[j + 1]);
        else
          cur[j] = j < ns && next[j + 1] &&
                   match(ps[i].s, ps[i].n, ss[j].s, ss[j].n, 0, steps);
      }
      unsigned char *t = next;
      next = cur;
      cur = t;
    }
    result = next[0];
  }
  if (row != rbuf) free(row);
  if (ps != pbuf) free(ps);
  if (ss != sbuf) free(ss);
  return result;
}

char *pt__glob_escape(const char *s)
{
  size_t n = strlen(s), k = 0;
  char *out = malloc(2 * n + 1);
  if (!out) return NULL;
  for (size_t i = 0; i < n; i++) {
    if (strchr("*?[]\\", s[i])) out[k++] = '\\';
    out[k++] = s[i];
  }
  out[k] = '\0';
  return out;
}
