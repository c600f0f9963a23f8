/*
 * tests/support/http_cases.h: the shared bench for the core/http_client.c
 * tests (tests/test_http_client.c, tests/test_http_cancel.c). A fake_http
 * server on 127.0.0.1 with one route table, an hc_result that records every
 * callback a request gets, and the loop driving around them.
 *
 * Not a general HTTP test helper: the routes, the records and the callback
 * behaviours are the ones those two files need, and nothing else uses them.
 *
 * USE. hc_init() once from main, before any case. Each case calls
 * hc_setup(), starts requests with hc_begin/hc_begin_url, drives the loop
 * with hc_run_until/hc_run_for, and ends with hc_teardown(), which closes
 * the client and runs the loop dry, so AddressSanitizer sees every release
 * path. main ends with uv_loop_close(&hc_loop).
 *
 * OWNERSHIP. hc_loop belongs to the test program; hc_client and hc_server
 * are made by hc_setup and released by hc_teardown (a case that closes the
 * client itself sets hc_client to NULL once the loop has freed it). Each
 * hc_result is owned by its case; its body is malloc'd by the on_body
 * callback and released by hc_result_free. The hc_recs bodies belong to
 * this file and are released by hc_teardown.
 *
 * THREADS. Everything here runs on the test's thread, except the route
 * handler, which runs on the server's thread and fills hc_recs under a
 * lock; read hc_recs only after the request that wrote it is done.
 */
#ifndef PT_TEST_HTTP_CASES_H
#define PT_TEST_HTTP_CASES_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "fake_http.h"
#include "http_client.h"

/* What "/utf8" sends, cut by the server inside multi-byte characters. */
#define HC_UTF8_TEXT "na\xc3\xafve caf\xc3\xa9 \xe2\x80\x94 \xe2\x98\x95 ok"

extern uv_loop_t hc_loop;
extern pt_http_client *hc_client;
extern fake_http *hc_server;
extern int hc_in_api; /* the test is inside pt_http_start or pt_http_cancel */
extern int hc_dones;  /* on_done calls in the current case */
extern int hc_bodies; /* on_body calls in the current case */

/* What the server saw of one "/echo..." request. */
typedef struct hc_record {
  char method[16], path[128], auth[64], ctype[64], custom[32];
  int has_expect;
  char *body; /* owned here, NUL-terminated; freed by hc_teardown */
  size_t body_len;
} hc_record;

extern hc_record hc_recs[8];
extern int hc_rec_count;

/* Everything the callbacks saw of one request. */
typedef struct hc_result {
  pt_http *r;
  int responses, done_calls, reentrant, after_cancel, cancelled, chunks;
  int http_status;
  int32_t status;
  char message[1024];
  char *body; /* malloc'd by on_body; freed by hc_result_free */
  size_t body_len, body_cap;
  /* What to read with pt_http_header in on_response, and what it gave. */
  const char *hname[3];
  char hval[3][64];
  size_t hlen[3];
  char at_done[64]; /* hname[0] read again in on_done */
  /* Behaviours: cancel in on_response, cancel once this many body bytes
   * arrived, start `then` from on_body or on_done, try to start a request
   * from on_done (for the closing client). */
  int cancel_in_response;
  size_t cancel_at_bytes;
  struct hc_result *then;
  const char *then_url;
  int start_in_body, start_in_done, try_start_in_done;
  int32_t start_rc;
  int close_in_body;
} hc_result;

/* Process setup for a test program: file limit, no proxy, hc_loop. */
void hc_init(void);

/* Start the server and the client for one case; undo it all, check the
 * loop is empty and forget the records. */
void hc_setup(void);
void hc_teardown(void);

/* "http://127.0.0.1:<server port><path>", in one of 8 rotating static
 * buffers: valid until 8 more calls. */
char *hc_url(const char *path);

/* Start a request for `res`; `req` (may be NULL) gives the method, headers,
 * body and timeouts, and gets its url and callbacks filled in. */
int32_t hc_begin_url(hc_result *res, const char *u, pt_http_request *req);
int32_t hc_begin(hc_result *res, const char *path);

/* Cancel `res`'s request as a caller would (marks it cancelled first). */
void hc_cancel(hc_result *res);

void hc_result_free(hc_result *res);

/* Run the loop until *counter reaches `want`, for at most `ms`. Returns
 * whether it got there. */
int hc_run_until(const int *counter, int want, unsigned ms);
void hc_run_for(unsigned ms);

/* The request ended exactly once, never inside the API, with nothing after
 * a cancel, and with `status`. */
void hc_check_once(const hc_result *res, int32_t status);

/* What "/stream" sends, and what it should add up to. */
void hc_stream_expected(char *out, size_t cap);

/* What "/n/<i>" sends, in two chunks cut at *split: bodies differ in
 * content and length from one request to the next. */
size_t hc_numbered_body(int i, char out[160], size_t *split);

#endif
