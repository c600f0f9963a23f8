/*
 * plugins/common/provider_call.h: one streaming provider request, from the
 * first HTTP attempt to the one PT_EV_DONE, shared by the bundled provider
 * plugins.
 *
 * A provider builds its API request and parses its API's stream; everything
 * between is the same for every API and lives here: retries with backoff
 * and jitter on 429, 5xx and overloaded answers (honouring retry-after, and
 * never once output was emitted), collecting an error response's body,
 * cancellation at any point, the rule that a chat completes exactly once,
 * and freeing everything only after the last callback. Built against the
 * public SDK alone, so a third-party provider may copy it as it is.
 *
 * Loop thread only, like everything a plugin does.
 */
#ifndef PT_PROVIDER_CALL_H
#define PT_PROVIDER_CALL_H

#include <stddef.h>
#include <stdint.h>

#include <portico/plugin.h>

typedef struct pc_call pc_call;

/* What a provider makes of an error response. */
typedef struct pc_error {
  int32_t status;       /* PT_E*: PT_EPERM, PT_EINVAL, PT_EBUSY, PT_EHTTP... */
  int retryable;
  char type[64];        /* the API's error type, e.g. "overloaded_error" */
  char message[512];    /* for a person: what happened, what to do */
} pc_error;

typedef struct pc_call_vt {
  /* A 2xx response begins (on every attempt): reset the stream parser. */
  void (*on_begin)(pc_call *c, void *ud);

  /* The next bytes of a 2xx body. Parse, emit, and finish the call when
   * the API's last event arrives. */
  void (*on_body)(pc_call *c, void *ud, pt_str bytes);

  /* A 2xx body ended, with the transport's `status` and message, and the
   * call is not finished: the stream was cut. Typically
   * pc_call_fail(c, PT_ECLOSED, 1, ...) unless the API allows that end. */
  void (*on_end)(pc_call *c, void *ud, int32_t status, pt_str message);

  /* Describe a non-2xx answer. `body` holds its first 64 KiB. `err` comes
   * pre-filled from the status alone (401: PT_EPERM, 429: PT_EBUSY and
   * retryable, 5xx: PT_EHTTP and retryable, ...); refine it from the body. */
  void (*on_http_error)(pc_call *c, void *ud, int http_status, pt_str body,
                        pc_error *err);

  /* The call is over and nothing of it will run again: free `ud`. */
  void (*on_free)(void *ud);
} pc_call_vt;

typedef struct pc_call_opts {
  const char *name;                /* provider id, for log lines */
  const char *url;
  const char *const *headers;      /* NULL-terminated; copied */
  pt_str body;                     /* copied */
  uint32_t connect_timeout_ms;     /* 0: the host's defaults */
  uint32_t first_byte_timeout_ms;
  uint32_t idle_timeout_ms;
  int max_attempts;                /* 0: 4 */
  uint32_t backoff_base_ms;        /* 0: 500 */
  uint32_t backoff_cap_ms;         /* 0: 8000 */
  uint32_t max_retry_after_ms;     /* 0: 60000; a longer wait fails */
} pc_call_opts;

/*
 * Start a request for chat `op`. On success *out is the call, valid until
 * its on_free; the provider's vt runs from the loop later, never inside
 * this function. On failure returns a negative code and nothing runs (the
 * caller still owns `ud`).
 */
int32_t pc_call_start(const pt_host_api *api, pt_host *h, pt_op *op,
                      const pc_call_opts *o, const pc_call_vt *vt, void *ud,
                      pc_call **out);

/* The provider's cancel(): end the call with `cancelled` on a later loop
 * turn, closing the connection. Idempotent; nothing after it finishes. */
void pc_call_cancel(pc_call *c);

/* Emit one event that is not DONE. Text, thinking and tool-call events
 * count as output, after which the call is never retried. */
void pc_call_emit(pc_call *c, const pt_chat_event *ev);

/* Shorthands for pc_call_emit. */
void pc_call_text(pc_call *c, uint32_t kind, pt_str text);
void pc_call_usage(pc_call *c, uint64_t input, uint64_t output,
                   uint64_t cache_read, uint64_t cache_write);

/* End the call successfully with stop reason `stop` (PT_STOP_*). What is
 * left of the response is read and dropped. */
void pc_call_finish(pc_call *c, uint32_t stop);

/*
 * End the call with an error: PT_EV_DONE with `status`, stop `error`, the
 * formatted message and the API's error `type` (may be NULL). When
 * `retryable`, nothing was emitted yet and attempts are left, the request
 * is tried again after a backoff instead, and the call goes on.
 */
void pc_call_fail(pc_call *c, int32_t status, int retryable, const char *type,
                  const char *fmt, ...) PT_PRINTF(5, 6);

/* True once DONE was emitted (or is about to be, after a cancel). */
int pc_call_finished(const pc_call *c);

/* A header of the current response (see pt_host_api.http_header). */
pt_str pc_call_header(pc_call *c, const char *name);

/* Which attempt this is, from 1. */
int pc_call_attempt(const pc_call *c);

/*
 * The wait before attempt `attempt_no + 1`: base * 2^(attempt_no - 1),
 * capped at `cap`, then a random point in its upper half (jitter), and
 * never less than `retry_after_ms`. `rng` is xorshift64 state.
 */
uint64_t pc_backoff_ms(int attempt_no, uint64_t base, uint64_t cap,
                       uint64_t retry_after_ms, uint64_t *rng);

/* A retry-after header value (seconds, or an HTTP date) in milliseconds;
 * 0 when absent or unreadable. */
uint64_t pc_parse_retry_after(pt_str value);

#endif
