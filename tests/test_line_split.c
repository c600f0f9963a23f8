/*
 * tests/test_line_split.c: the newline-delimited splitter on line-end
 * rules, an Ollama-style NDJSON stream, limits, and the property that the
 * same lines come out however the bytes are cut into feeds.
 */
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "feed_cuts.h"
#include "line_split.h"

static int32_t on_line(void *ud, pt_str line)
{
  cut_rec *r = ud;
  fprintf(r->f, "[%zu:%.*s]\n", line.len, (int)line.len, line.ptr);
  return cut_rec_item(r);
}

static void *lines_open(cut_rec *r, size_t max)
{
  return pt_lines_new(on_line, r, max);
}

static int32_t lines_feed(void *p, const char *bytes, size_t len)
{
  return pt_lines_feed(p, bytes, len);
}

static int32_t lines_end(void *p)
{
  return pt_lines_end(p);
}

static void lines_close(void *p)
{
  pt_lines_free(p);
}

static const cut_parser line_parser = { lines_open, lines_feed, lines_end,
                                        lines_close };

/* Every line, serialized with lengths so that no byte is ambiguous, for
 * every way of cutting `in` (see feed_cuts.h). The caller frees it. */
static char *split_all_cuts(const char *in, size_t len, size_t max,
                            int stop_at, int rounds)
{
  return cut_parse_all(&line_parser, in, len, max, stop_at, rounds);
}

static void check_split_n(const char *in, size_t len, size_t max,
                          const char *want)
{
  char *got = split_all_cuts(in, len, max, 0, 20);
  CHECK_STR(got, want);
  free(got);
}

/* For literals, which may hold NUL bytes. */
#define CHECK_SPLIT(in, max, want) check_split_n(in, sizeof in - 1, max, want)

static void lf_and_crlf_end_lines(void)
{
  CHECK_SPLIT("a\nbc\r\nd\n", 0, "[1:a]\n[2:bc]\n[1:d]\nrc=OK");
}

static void lone_cr_is_content(void)
{
  CHECK_SPLIT("a\rb\n\rc\n\r\r\n", 0, "[3:a\rb]\n[2:\rc]\n[1:\r]\nrc=OK");
}

/* Byte by byte, a CR waits for the next feed to learn whether an LF
 * follows: split across feeds, CRLF is still one line end. */
static void crlf_split_across_feeds(void)
{
  CHECK_SPLIT("{\"a\":1}\r\n{\"b\":2}\r\n", 0,
              "[7:{\"a\":1}]\n[7:{\"b\":2}]\nrc=OK");
}

static void empty_lines_are_skipped(void)
{
  CHECK_SPLIT("\n\r\n\na\n\n\r\nb\r\n\r\n", 0, "[1:a]\n[1:b]\nrc=OK");
}

/* A decision, not an accident: trimming is the parser's business. */
static void whitespace_only_line_is_delivered(void)
{
  CHECK_SPLIT(" \n\t\r\n", 0, "[1: ]\n[1:\t]\nrc=OK");
}

static void end_delivers_unterminated_last_line(void)
{
  CHECK_SPLIT("a\nlast", 0, "[1:a]\n[4:last]\nrc=OK");
  CHECK_SPLIT("a\nlast\r", 0, "[1:a]\n[4:last]\nrc=OK");
  CHECK_SPLIT("a\n\r", 0, "[1:a]\nrc=OK");
  CHECK_SPLIT("", 0, "rc=OK");
}

#define OLLAMA \
    "{\"model\":\"llama3.2\",\"created_at\":\"2025-01-01T00:00:00Z\"," \
    "\"message\":{\"role\":\"assistant\",\"content\":\"héllo\"}," \
    "\"done\":false}\n" \
    "{\"model\":\"llama3.2\",\"created_at\":\"2025-01-01T00:00:01Z\"," \
    "\"message\":{\"role\":\"assistant\",\"content\":\" 😀 — ok\"}," \
    "\"done\":false}\r\n" \
    "\n" \
    "{\"model\":\"llama3.2\",\"message\":{\"role\":\"assistant\"," \
    "\"content\":\"\"},\"done\":true,\"done_reason\":\"stop\"," \
    "\"eval_count\":3}"

static void ollama_stream(void)
{
  char *got = split_all_cuts(OLLAMA, strlen(OLLAMA), 0, 0, 100);
  CHECK_CONTAINS(got, "[119:{\"model\"");
  CHECK_CONTAINS(got, "\"content\":\"héllo\"},\"done\":false}]\n[");
  CHECK_CONTAINS(got, "\"content\":\" 😀 — ok\"},\"done\":false}]\n[");
  CHECK_CONTAINS(got, "\"eval_count\":3}]\nrc=OK");
  free(got);
}

/* All of the above in one stream, so random cuts land everywhere. */
static void random_splits_match_whole(void)
{
  static const char in[] =
      "\r\n\r\na\rb\r\n \n\n{\"x\":\"日本\"}\r\n" OLLAMA "\r\n" OLLAMA;
  char *got = split_all_cuts(in, sizeof in - 1, 0, 0, 2000);
  CHECK_CONTAINS(got, "[3:a\rb]\n[1: ]\n[14:{\"x\":\"日本\"}]\n[");
  CHECK_CONTAINS(got, "\"eval_count\":3}]\nrc=OK");
  free(got);
  /* Stopping and failing are just as independent of the cuts. */
  got = split_all_cuts(in, sizeof in - 1, 0, 5, 300);
  CHECK_CONTAINS(got, "rc=ECANCELED");
  free(got);
  got = split_all_cuts(in, sizeof in - 1, 100, 0, 300);
  CHECK_CONTAINS(got, "rc=ETOOBIG");
  free(got);
}

static void line_of_max_bytes_passes_one_more_fails(void)
{
  CHECK_SPLIT("0123456789\n", 10, "[10:0123456789]\nrc=OK");
  CHECK_SPLIT("0123456789\r\n", 10, "[10:0123456789]\nrc=OK");
  CHECK_SPLIT("0123456789", 10, "[10:0123456789]\nrc=OK");
  CHECK_SPLIT("0123456789\r", 10, "[10:0123456789]\nrc=OK");
  CHECK_SPLIT("a\n0123456789x\nb\n", 10, "[1:a]\nrc=ETOOBIG");
  CHECK_SPLIT("a\n0123456789x", 10, "[1:a]\nrc=ETOOBIG");
  CHECK_SPLIT("a\n0123456789\r\r\n", 10, "[1:a]\nrc=ETOOBIG");
}

static void endless_line_fails_without_buffering_it(void)
{
  cut_rec r;
  cut_rec_open(&r, 0);
  char chunk[1024];
  memset(chunk, 'x', sizeof chunk);
  pt_lines *l = pt_lines_new(on_line, &r, 4096);
  int32_t rc = PT_OK;
  int feeds = 0;
  while (rc == PT_OK && feeds < 1000) {
    rc = pt_lines_feed(l, chunk, sizeof chunk);
    feeds++;
  }
  CHECK_INT(rc, ==, PT_ETOOBIG);
  CHECK_INT(feeds, ==, 5);
  CHECK_INT(pt_lines_feed(l, "\n", 1), ==, PT_ETOOBIG);
  CHECK_INT(pt_lines_end(l), ==, PT_ETOOBIG);
  CHECK_INT(r.items, ==, 0);
  pt_lines_free(l);
  free(cut_rec_close(&r));
}

static void callback_error_stops_the_feed(void)
{
  cut_rec r;
  cut_rec_open(&r, 2);
  pt_lines *l = pt_lines_new(on_line, &r, 0);
  CHECK_INT(pt_lines_feed(l, "1\n2\n3\n", 6), ==, PT_ECANCELED);
  CHECK_INT(r.items, ==, 2);
  CHECK_INT(pt_lines_feed(l, "4\n", 2), ==, PT_ECANCELED);
  CHECK_INT(pt_lines_end(l), ==, PT_ECANCELED);
  CHECK_INT(r.items, ==, 2);
  pt_lines_free(l);
  free(cut_rec_close(&r));

  cut_rec_open(&r, 1);
  l = pt_lines_new(on_line, &r, 0);
  CHECK_INT(pt_lines_feed(l, "last", 4), ==, PT_OK);
  CHECK_INT(pt_lines_end(l), ==, PT_ECANCELED);
  CHECK_INT(r.items, ==, 1);
  pt_lines_free(l);
  free(cut_rec_close(&r));
}

int main(void)
{
  RUN(lf_and_crlf_end_lines);
  RUN(lone_cr_is_content);
  RUN(crlf_split_across_feeds);
  RUN(empty_lines_are_skipped);
  RUN(whitespace_only_line_is_delivered);
  RUN(end_delivers_unterminated_last_line);
  RUN(ollama_stream);
  RUN(random_splits_match_whole);
  RUN(line_of_max_bytes_passes_one_more_fails);
  RUN(endless_line_fails_without_buffering_it);
  RUN(callback_error_stops_the_feed);
  return check_report();
}
