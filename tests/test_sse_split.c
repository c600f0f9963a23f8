/*
 * tests/test_sse_split.c: the SSE splitter against the WHATWG event-stream
 * rules, real provider streams, and the property that matters most on the
 * wire: however the bytes are cut into feeds, the same events come out.
 */
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "feed_cuts.h"
#include "sse_split.h"

static int32_t on_event(void *ud, const pt_sse_event *ev)
{
  cut_rec *r = ud;
  fprintf(r->f, "[%zu:%.*s|%zu:%.*s|%zu:%.*s|%lld]\n", ev->event.len,
          (int)ev->event.len, ev->event.ptr, ev->data.len, (int)ev->data.len,
          ev->data.ptr, ev->id.len, (int)ev->id.len, ev->id.ptr,
          (long long)ev->retry_ms);
  return cut_rec_item(r);
}

static void *sse_open(cut_rec *r, size_t max)
{
  return pt_sse_new(on_event, r, max);
}

static int32_t sse_feed(void *p, const char *bytes, size_t len)
{
  return pt_sse_feed(p, bytes, len);
}

static int32_t sse_end(void *p)
{
  return pt_sse_end(p);
}

static void sse_close(void *p)
{
  pt_sse_free(p);
}

static const cut_parser sse_parser = { sse_open, sse_feed, sse_end,
                                       sse_close };

/* Every event, serialized with lengths so that no byte is ambiguous, for
 * every way of cutting `in` (see feed_cuts.h). The caller frees it. */
static char *parse_all_cuts(const char *in, size_t len, size_t max,
                            int stop_at, int rounds)
{
  return cut_parse_all(&sse_parser, in, len, max, stop_at, rounds);
}

static void check_parse_n(const char *in, size_t len, size_t max,
                          const char *want)
{
  char *got = parse_all_cuts(in, len, max, 0, 20);
  CHECK_STR(got, want);
  free(got);
}

/* For literals, which may hold NUL bytes. */
#define CHECK_PARSE(in, want) check_parse_n(in, sizeof in - 1, 0, want)

static void comments_are_ignored(void)
{
  CHECK_PARSE(": hello\n:\ndata: a\n: between\ndata: b\n\n",
              "[7:message|3:a\nb|0:|-1]\nrc=OK");
}

static void one_optional_space_after_colon(void)
{
  CHECK_PARSE("data:a\n\ndata: a\n\ndata:  a\n\ndata:a:b\n\n",
              "[7:message|1:a|0:|-1]\n[7:message|1:a|0:|-1]\n"
              "[7:message|2: a|0:|-1]\n[7:message|3:a:b|0:|-1]\nrc=OK");
}

static void data_lines_are_joined_with_newline(void)
{
  CHECK_PARSE("data: 1\ndata: 2\ndata\ndata: 3\n\n",
              "[7:message|6:1\n2\n\n3|0:|-1]\nrc=OK");
}

static void line_without_colon_is_field_with_empty_value(void)
{
  CHECK_PARSE("data\n\ndata\ndata\n\n",
              "[7:message|0:|0:|-1]\n[7:message|1:\n|0:|-1]\nrc=OK");
}

static void unknown_and_miscased_fields_are_ignored(void)
{
  CHECK_PARSE("foo: bar\nData: x\nEvent: y\ndata: z\n\n",
              "[7:message|1:z|0:|-1]\nrc=OK");
}

static void id_persists_across_events(void)
{
  CHECK_PARSE("id: 1\ndata: a\n\ndata: b\n\n"
              "id: 2\n\ndata: c\n\nid\ndata: d\n\n",
              "[7:message|1:a|1:1|-1]\n[7:message|1:b|1:1|-1]\n"
              "[7:message|1:c|1:2|-1]\n[7:message|1:d|0:|-1]\nrc=OK");
}

static void id_with_nul_is_ignored(void)
{
  CHECK_PARSE("id: 1\ndata: a\n\nid: 2\0x\ndata: b\n\n",
              "[7:message|1:a|1:1|-1]\n[7:message|1:b|1:1|-1]\nrc=OK");
}

static void retry_digits_only_and_per_event(void)
{
  CHECK_PARSE("retry: 3000\ndata: a\n\ndata: b\n\n"
              "retry: 12a\ndata: c\n\n"
              "retry: -5\nretry:\nretry: 1.5\ndata: d\n\n"
              "retry: 99999999999999999999\ndata: e\n\n"
              "retry: 0\n\ndata: f\n\n",
              "[7:message|1:a|0:|3000]\n[7:message|1:b|0:|-1]\n"
              "[7:message|1:c|0:|-1]\n[7:message|1:d|0:|-1]\n"
              "[7:message|1:e|0:|-1]\n[7:message|1:f|0:|-1]\nrc=OK");
}

static void event_type_resets_after_dispatch(void)
{
  CHECK_PARSE("event: ping\ndata: 1\n\ndata: 2\n\nevent:\ndata: 3\n\n",
              "[4:ping|1:1|0:|-1]\n[7:message|1:2|0:|-1]\n"
              "[7:message|1:3|0:|-1]\nrc=OK");
}

static void block_without_data_is_not_dispatched(void)
{
  CHECK_PARSE("event: lost\n\n\n\ndata: x\n\nevent: y\nid: 9\n\ndata: z\n\n",
              "[7:message|1:x|0:|-1]\n[7:message|1:z|1:9|-1]\nrc=OK");
}

static void bom_is_skipped_only_at_start(void)
{
  CHECK_PARSE("\xEF\xBB\xBF" "data: a\n\n", "[7:message|1:a|0:|-1]\nrc=OK");
  /* A second BOM is part of the first field name, which is then unknown. */
  CHECK_PARSE("\xEF\xBB\xBF\xEF\xBB\xBF" "data: a\n\ndata: b\n\n",
              "[7:message|1:b|0:|-1]\nrc=OK");
  CHECK_PARSE("data: \xEF\xBB\xBF\n\n",
              "[7:message|3:\xEF\xBB\xBF|0:|-1]\nrc=OK");
  /* Bytes that only began like a BOM are stream bytes: a dropped line. */
  CHECK_PARSE("\xEF\xBB", "rc=ECLOSED");
  CHECK_PARSE("\xEF\xBB\n\xEF\xBB\xBF" "data: x\n\n", "rc=OK");
}

/* Fed byte by byte, every CRLF arrives as "\r" then "\n": still one line
 * end, or the LF would be a blank line that dispatches early. */
static void cr_lf_and_crlf_line_ends_agree(void)
{
  const char *want = "[1:e|3:a\nb|1:1|-1]\n[7:message|1:c|1:1|-1]\nrc=OK";
  CHECK_PARSE("event: e\nid: 1\ndata: a\ndata: b\n\ndata: c\n\n", want);
  CHECK_PARSE("event: e\rid: 1\rdata: a\rdata: b\r\rdata: c\r\r", want);
  CHECK_PARSE("event: e\r\nid: 1\r\ndata: a\r\ndata: b\r\n\r\ndata: c\r\n\r\n",
              want);
  CHECK_PARSE("event: e\r\nid: 1\rdata: a\ndata: b\r\n\rdata: c\n\r\n", want);
  CHECK_PARSE("data: a\r\ndata: b\rdata: c\r\r\n",
              "[7:message|5:a\nb\nc|0:|-1]\nrc=OK");
}

static void end_reports_dropped_event(void)
{
  CHECK_PARSE("data: a\n\ndata: b\n", "[7:message|1:a|0:|-1]\nrc=ECLOSED");
  CHECK_PARSE("data: a\n\ndata: b", "[7:message|1:a|0:|-1]\nrc=ECLOSED");
  CHECK_PARSE("data: a\n\n: partial", "[7:message|1:a|0:|-1]\nrc=ECLOSED");
  CHECK_PARSE("data: a\r\r", "[7:message|1:a|0:|-1]\nrc=OK");
  CHECK_PARSE("event: x\nid: 1\n", "rc=OK");
  CHECK_PARSE("", "rc=OK");
}

#define ANTHROPIC \
    "event: message_start\n" \
    "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_01\"," \
    "\"role\":\"assistant\",\"content\":[],\"usage\":{\"input_tokens\":12}}}\n\n" \
    "event: ping\n" \
    "data: {\"type\": \"ping\"}\n\n" \
    "event: content_block_delta\n" \
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":" \
    "{\"type\":\"text_delta\",\"text\":\"héllo 😀\"}}\n\n" \
    "event: message_stop\n" \
    "data: {\"type\":\"message_stop\"}\n\n"

#define OPENAI \
    "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":" \
    "\"héllo\"}}]}\n\n" \
    ": OPENROUTER PROCESSING\n\n" \
    "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":" \
    "\" 😀\"}}]}\n\n" \
    "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{}," \
    "\"finish_reason\":\"stop\"}]}\n\n" \
    "data: [DONE]\n\n"

static void anthropic_stream(void)
{
  char *got = parse_all_cuts(ANTHROPIC, strlen(ANTHROPIC), 0, 0, 100);
  CHECK_CONTAINS(got, "[13:message_start|");
  CHECK_CONTAINS(got, "[4:ping|16:{\"type\": \"ping\"}|0:|-1]\n");
  CHECK_CONTAINS(got, "[19:content_block_delta|91:{\"type\":\"content_block_"
                      "delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\","
                      "\"text\":\"héllo 😀\"}}|0:|-1]\n");
  CHECK_CONTAINS(got, "[12:message_stop|23:{\"type\":\"message_stop\"}|0:|-1]"
                      "\nrc=OK");
  free(got);
}

static void openai_stream_ends_with_done(void)
{
  char *got = parse_all_cuts(OPENAI, strlen(OPENAI), 0, 0, 100);
  CHECK_CONTAINS(got, "{\"content\":\"héllo\"}}]}|0:|-1]\n[7:message|");
  CHECK_CONTAINS(got, "{\"content\":\" 😀\"}}]}|0:|-1]\n[7:message|");
  CHECK_CONTAINS(got, "}]}|0:|-1]\n[7:message|6:[DONE]|0:|-1]\nrc=OK");
  free(got);
}

/* Everything above in one stream, with every line-end style, so random
 * cuts land inside CRLFs, BOMs and UTF-8 sequences. */
static void random_splits_match_whole(void)
{
  static const char in[] =
      "\xEF\xBB\xBF: hi\r\nretry: 2500\r\nid: 7\r\ndata: é\r\n\r\n"
      "event: e\rdata: a\rdata: 😀\r\r"
      "event: x\n\ndata\ndata:\n\n"
      "id: 8\r\ndata: b\r\n\n"
      "data: c\n\r" ANTHROPIC OPENAI;
  size_t len = sizeof in - 1;
  char *got = parse_all_cuts(in, len, 0, 0, 2000);
  CHECK_CONTAINS(got, "[7:message|2:é|1:7|2500]\n[1:e|6:a\n😀|1:7|-1]\n");
  CHECK_CONTAINS(got, "[7:message|6:[DONE]|1:8|-1]\nrc=OK");
  free(got);
  /* Stopping and failing are just as independent of the cuts. */
  got = parse_all_cuts(in, len, 0, 9, 300);
  CHECK_CONTAINS(got, "rc=ECANCELED");
  free(got);
  got = parse_all_cuts(in, len, 100, 0, 300);
  CHECK_CONTAINS(got, "rc=ETOOBIG");
  free(got);
}

/* max_bytes bounds the data; a line may carry "data: " on top of it. */
static void event_data_and_lines_are_bounded(void)
{
  check_parse_n("data: 0123456789\n\n", 18, 10,
                "[7:message|10:0123456789|0:|-1]\nrc=OK");
  check_parse_n("data: 01234\ndata: 6789\n\n", 24, 10,
                "[7:message|10:01234\n6789|0:|-1]\nrc=OK");
  check_parse_n("data: a\n\ndata: 01234\ndata: 67890\n\ndata: b\n\n", 43,
                10, "[7:message|1:a|0:|-1]\nrc=ETOOBIG");
  check_parse_n(": 0123456789abcd\n", 17, 10, "rc=OK");
  check_parse_n(": 0123456789abcde\n", 18, 10, "rc=ETOOBIG");
  check_parse_n("event: 0123456789abcdef\n", 24, 10, "rc=ETOOBIG");
}

static int32_t count_event(void *ud, const pt_sse_event *ev)
{
  (void)ev;
  ++*(long *)ud;
  return PT_OK;
}

static void endless_line_fails_without_buffering_it(void)
{
  char chunk[1024];
  memset(chunk, 'x', sizeof chunk);
  long count = 0;
  pt_sse *s = pt_sse_new(count_event, &count, 4096);
  int32_t rc = PT_OK;
  int feeds = 0;
  while (rc == PT_OK && feeds < 1000) {
    rc = pt_sse_feed(s, chunk, sizeof chunk);
    feeds++;
  }
  CHECK_INT(rc, ==, PT_ETOOBIG);
  CHECK_INT(feeds, ==, 5);
  CHECK_INT(pt_sse_feed(s, "\n\n", 2), ==, PT_ETOOBIG);
  CHECK_INT(count, ==, 0);
  pt_sse_free(s);
}

static void callback_error_stops_the_feed(void)
{
  cut_rec r;
  cut_rec_open(&r, 2);
  pt_sse *s = pt_sse_new(on_event, &r, 0);
  CHECK_INT(pt_sse_feed(s, "data: 1\n\ndata: 2\n\ndata: 3\n\n", 27), ==,
            PT_ECANCELED);
  CHECK_INT(r.items, ==, 2);
  CHECK_INT(pt_sse_feed(s, "data: 4\n\n", 9), ==, PT_ECANCELED);
  CHECK_INT(pt_sse_end(s), ==, PT_ECANCELED);
  CHECK_INT(r.items, ==, 2);
  pt_sse_free(s);
  free(cut_rec_close(&r));
}

/* A provider's usual traffic: a flood of small events in network-sized
 * reads that cut them anywhere. */
static void many_small_events(void)
{
  static const char ev[] =
      "event: content_block_delta\ndata: {\"t\":\"é\"}\n\n";
  enum { N = 200000, EV = sizeof ev - 1, READ = 4093 };
  size_t len = (size_t)N * EV;
  char *in = malloc(len);
  for (size_t i = 0; i < N; i++) memcpy(in + i * EV, ev, EV);
  long count = 0;
  pt_sse *s = pt_sse_new(count_event, &count, 0);
  for (size_t off = 0; off < len; off += READ)
    CHECK_INT(pt_sse_feed(s, in + off, len - off < READ ? len - off : READ),
              ==, PT_OK);
  CHECK_INT(pt_sse_end(s), ==, PT_OK);
  CHECK_INT(count, ==, N);
  pt_sse_free(s);
  free(in);
}

int main(void)
{
  RUN(comments_are_ignored);
  RUN(one_optional_space_after_colon);
  RUN(data_lines_are_joined_with_newline);
  RUN(line_without_colon_is_field_with_empty_value);
  RUN(unknown_and_miscased_fields_are_ignored);
  RUN(id_persists_across_events);
  RUN(id_with_nul_is_ignored);
  RUN(retry_digits_only_and_per_event);
  RUN(event_type_resets_after_dispatch);
  RUN(block_without_data_is_not_dispatched);
  RUN(bom_is_skipped_only_at_start);
  RUN(cr_lf_and_crlf_line_ends_agree);
  RUN(end_reports_dropped_event);
  RUN(anthropic_stream);
  RUN(openai_stream_ends_with_done);
  RUN(random_splits_match_whole);
  RUN(event_data_and_lines_are_bounded);
  RUN(endless_line_fails_without_buffering_it);
  RUN(callback_error_stops_the_feed);
  RUN(many_small_events);
  return check_report();
}
