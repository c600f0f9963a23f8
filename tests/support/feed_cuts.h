/*
 * tests/support/feed_cuts.h: feed a stream parser the same bytes cut in
 * every way that matters (whole, one byte at a time, random pieces) and
 * record what it produced, so a test can check that the cuts never change
 * the result.
 */
#ifndef PT_TEST_FEED_CUTS_H
#define PT_TEST_FEED_CUTS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* What the parser produced, serialized into a memory stream. */
typedef struct cut_rec {
  FILE *f;        /* write each item here */
  char *s;
  size_t len;
  int items;
  int stop_at;    /* cut_rec_item() says stop from this item on; 0: never */
} cut_rec;

/* Start and finish a recording by hand; cut_rec_close() returns the text,
 * which the caller frees. */
void cut_rec_open(cut_rec *r, int stop_at);
char *cut_rec_close(cut_rec *r);

/* Count one item: returns 0, or PT_ECANCELED once stop_at is reached. */
int32_t cut_rec_item(cut_rec *r);

/* The parser under test, behind four adapters. `open` returns a parser
 * that reports each item to `r` (using cut_rec_item for its return). */
typedef struct cut_parser {
  void *(*open)(cut_rec *r, size_t max);
  int32_t (*feed)(void *p, const char *bytes, size_t len);
  int32_t (*end)(void *p);
  void (*close)(void *p);
} cut_parser;

enum { CUT_WHOLE, CUT_BYTES, CUT_RANDOM };

/* Feed `in` cut as `mode` says (rng: xorshift64 state for CUT_RANDOM);
 * returns the items and the final code as text, which the caller frees. */
char *cut_parse(const cut_parser *p, const char *in, size_t len, size_t max,
                int mode, uint64_t *rng, int stop_at);

/* Whole, byte by byte (which cuts every CRLF and UTF-8 sequence), then
 * `rounds` random cuts from a fixed seed: CHECKs that every cut gives the
 * text of the whole feed, and returns that text for the caller to free. */
char *cut_parse_all(const cut_parser *p, const char *in, size_t len,
                    size_t max, int stop_at, int rounds);

#endif
