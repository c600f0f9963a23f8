/*
 * tests/support/feed_cuts.c: see feed_cuts.h.
 */
#include "feed_cuts.h"

#include <stdlib.h>

#include "check.h"
#include "portico/errors.h"

void cut_rec_open(cut_rec *r, int stop_at)
{
  *r = (cut_rec){ .stop_at = stop_at };
  r->f = open_memstream(&r->s, &r->len);
  if (!r->f) abort();
}

char *cut_rec_close(cut_rec *r)
{
  fclose(r->f);
  return r->s;
}

int32_t cut_rec_item(cut_rec *r)
{
  r->items++;
  return r->stop_at && r->items >= r->stop_at ? PT_ECANCELED : PT_OK;
}

/* A piece of at most `left` bytes, from xorshift64 state `x`: mostly 1 to
 * 4 bytes, so CRLFs and UTF-8 sequences get cut; some empty, some long. */
static size_t random_chunk(uint64_t *x, size_t left)
{
  *x ^= *x << 13;
  *x ^= *x >> 7;
  *x ^= *x << 17;
  uint64_t r = *x >> 8, n;
  switch (*x % 10) {
  case 0: n = 0; break;
  case 1: n = r % (left + 1); break;
  case 2: case 3: n = 1 + r % 32; break;
  default: n = 1 + r % 4; break;
  }
  return n < left ? (size_t)n : left;
}

char *cut_parse(const cut_parser *p, const char *in, size_t len, size_t max,
                int mode, uint64_t *rng, int stop_at)
{
  cut_rec r;
  cut_rec_open(&r, stop_at);
  void *parser = p->open(&r, max);
  int32_t rc = PT_OK;
  size_t off = 0;
  while (rc == PT_OK && off < len) {
    size_t n = mode == CUT_WHOLE   ? len
               : mode == CUT_BYTES ? 1
                                   : random_chunk(rng, len - off);
    rc = p->feed(parser, in + off, n);
    off += n;
  }
  if (rc == PT_OK) rc = p->end(parser);
  fprintf(r.f, "rc=%s", pt_errname(rc));
  p->close(parser);
  return cut_rec_close(&r);
}

char *cut_parse_all(const cut_parser *p, const char *in, size_t len,
                    size_t max, int stop_at, int rounds)
{
  static uint64_t rng = 0x9E3779B97F4A7C15u; /* fixed: failures replay */
  char *whole = cut_parse(p, in, len, max, CUT_WHOLE, NULL, stop_at);
  for (int i = -1; i < rounds; i++) {
    char *got = cut_parse(p, in, len, max, i < 0 ? CUT_BYTES : CUT_RANDOM,
                          &rng, stop_at);
    CHECK_STR(got, whole);
    free(got);
  }
  return whole;
}
