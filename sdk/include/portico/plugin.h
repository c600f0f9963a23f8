/*
 * portico/plugin.h: the Portico plugin ABI, version 1.
 *
 * A Portico plugin is a shared object (.so, .dylib, .dll) that exports one
 * data symbol, `portico_plugin_v1`, a constant pt_plugin_desc. The host reads
 * that descriptor before it calls any function of the plugin, checks the ABI
 * version, and then calls the descriptor's `init` with a table of host
 * services (pt_host_api). In `init` the plugin registers the providers (model
 * back ends) and tools it offers. Everything else flows through those
 * registrations: the host calls the plugin's vtables, and the plugin answers
 * through the host API.
 *
 * This header is the whole contract. A plugin includes it and nothing else
 * from Portico, and links against nothing from Portico.
 *
 * THREADS. Every host function and every plugin callback runs on the host's
 * loop thread, with one exception: pt_host_api.post() may be called from any
 * thread, and is how a plugin's own threads hand results back. A plugin must
 * never block the loop thread for more than about a millisecond; blocking work
 * goes to pt_host_api.queue_work().
 *
 * OWNERSHIP. Whatever the host passes to a plugin (pt_str views, JSON text,
 * event structs) is borrowed for the duration of the call unless the function
 * says otherwise; copy what you keep. Whatever the plugin passes to the host
 * is copied by the host before the call returns, so stack buffers are fine.
 * Vtables and the descriptor are static and must outlive the registration.
 *
 * COMPLETION. An operation that the host starts (a chat, a tool invocation,
 * a model listing) completes exactly once: a chat with exactly one
 * PT_EV_DONE event, the others with exactly one op_done(). If the starting
 * call returns a negative code, the operation did not start: the plugin must
 * not complete it, and the host will not wait for it. This is libuv's rule.
 *
 * VERSIONING. PT_ABI_MAJOR changes only when an existing layout or meaning
 * changes; it is part of the entry symbol's name, so a plugin built for
 * another major is never mistaken for this one. PT_ABI_MINOR is bumped when a
 * member is appended to a struct. Structs start with `struct_size`; a reader
 * checks a member is present with PT_HAS() before it touches it. See
 * docs/plugin-abi.md for the complete rules.
 */
#ifndef PORTICO_PLUGIN_H
#define PORTICO_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#include "portico/errors.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PT_ABI_MAJOR 1
#define PT_ABI_MINOR 0

/* The name of the entry symbol for this major: "portico_plugin_v1". */
#define PT__STR2(x) #x
#define PT__STR(x) PT__STR2(x)
#define PT__CAT2(a, b) a##b
#define PT__CAT(a, b) PT__CAT2(a, b)
#define PT_ENTRY_NAME PT__CAT(portico_plugin_v, PT_ABI_MAJOR)
#define PT_ENTRY_SYMBOL "portico_plugin_v" PT__STR(PT_ABI_MAJOR)

#if defined(_WIN32) || defined(__CYGWIN__)
#define PT_EXPORT __declspec(dllexport)
#elif defined(__GNUC__)
#define PT_EXPORT __attribute__((visibility("default")))
#else
#define PT_EXPORT
#endif

#if defined(__GNUC__)
#define PT_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define PT_PRINTF(fmt, args)
#endif

/*
 * True when the struct `s` of type T is new enough to contain member `f`.
 * Use it before reading any member that was appended after ABI 1.0, e.g.
 * `if (PT_HAS(pt_host_api, api, some_later_call)) api->some_later_call(...)`.
 */
#define PT_HAS(T, s, f) \
  (offsetof(T, f) + sizeof(((T *)0)->f) <= (size_t)(s)->struct_size)

/* ------------------------------------------------------------------------ */
/* Basic types                                                               */

/*
 * A borrowed view of UTF-8 (or binary) bytes: `ptr` is not NUL-terminated
 * unless a function says so, and may be NULL when `len` is 0.
 */
typedef struct pt_str {
  const char *ptr;
  size_t len;
} pt_str;

/* A pt_str of a string literal or a NUL-terminated string. */
#define PT_STR_LIT(s) ((pt_str){ (s), sizeof(s) - 1 })

/*
 * The plugin's handle on the host. One per loaded plugin; host-owned, valid
 * from init() until fini() returns. Pass it back to the host API calls.
 */
typedef struct pt_host pt_host;

/* Opaque, host-owned handles; see the functions that create them. */
typedef struct pt_timer pt_timer;
typedef struct pt_http pt_http;
typedef struct pt_sse pt_sse;
typedef struct pt_lines pt_lines;

/*
 * One operation the host asked a plugin to perform (a chat, a tool call, a
 * model listing). The host allocates it, passes it to the vtable call that
 * starts the operation, and frees it after the operation completes (the
 * PT_EV_DONE event or op_done()). The plugin must not touch it after that.
 */
typedef struct pt_op {
  uint32_t struct_size;
  uint32_t reserved0;
  uint64_t id;   /* unique for the life of the host process; for log lines */
  void *data;    /* the plugin's own, NULL at start; the host never reads it */
} pt_op;

enum pt_log_level {
  PT_LOG_ERROR = 0,
  PT_LOG_WARN = 1,
  PT_LOG_INFO = 2,
  PT_LOG_DEBUG = 3,
  PT_LOG_TRACE = 4
};

/* ------------------------------------------------------------------------ */
/* Chat streaming events                                                     */

enum pt_event_kind {
  /* `text`: the next fragment of the assistant's visible answer. */
  PT_EV_TEXT = 1,
  /* `text`: the next fragment of the model's reasoning. */
  PT_EV_THINKING = 2,
  /* `text`: the opaque signature of the reasoning just streamed; it must be
   * sent back unchanged with the thinking in later requests. */
  PT_EV_THINKING_SIGNATURE = 3,
  /* `index`, `id`, `name`: the model began a tool call. */
  PT_EV_TOOL_CALL_START = 4,
  /* `index`, `json`: the next fragment of the call's arguments. Fragments
   * need not be valid JSON on their own. */
  PT_EV_TOOL_CALL_DELTA = 5,
  /* `index`, `id`, `name`, `json`: the call is complete; `json` is the whole
   * arguments object and is valid JSON. */
  PT_EV_TOOL_CALL_END = 6,
  /* The token counts of this provider call so far (cumulative, not deltas).
   * Emit again whenever they grow; the last one counts. */
  PT_EV_USAGE = 7,
  /* The last event of every chat: `status`, `stop`, and for errors `text`
   * (message), `name` (provider's error type) and PT_EVF_RETRYABLE. */
  PT_EV_DONE = 8
};

enum pt_stop_reason {
  PT_STOP_NONE = 0,
  PT_STOP_END_TURN = 1,
  PT_STOP_TOOL_USE = 2,
  PT_STOP_MAX_TOKENS = 3,
  PT_STOP_STOP_SEQUENCE = 4,
  PT_STOP_REFUSAL = 5,
  PT_STOP_CANCELLED = 6,
  PT_STOP_ERROR = 7
};

/* pt_chat_event.flags */
#define PT_EVF_RETRYABLE 0x1u /* DONE with an error: trying again may work */

/*
 * One streamed event. Members that the `kind` does not use are zero. The
 * host copies what it needs inside emit(); the plugin may reuse its buffers
 * as soon as emit() returns.
 */
typedef struct pt_chat_event {
  uint32_t struct_size;   /* sizeof(pt_chat_event) */
  uint32_t kind;          /* PT_EV_* */
  int32_t status;         /* DONE: PT_OK or a negative PT_E* code */
  uint32_t stop;          /* DONE: PT_STOP_* */
  uint32_t flags;         /* PT_EVF_* */
  uint32_t index;         /* TOOL_CALL_*: the call's position in the reply */
  pt_str text;
  pt_str id;
  pt_str name;
  pt_str json;
  uint64_t input_tokens;        /* USAGE */
  uint64_t output_tokens;       /* USAGE */
  uint64_t cache_read_tokens;   /* USAGE */
  uint64_t cache_write_tokens;  /* USAGE */
} pt_chat_event;

/* ------------------------------------------------------------------------ */
/* Vtables a plugin registers                                                */

/*
 * A model back end. `id` names it in configuration and on the wire; it is
 * made of [a-z0-9_] (1 to 63 characters) and unique among loaded providers:
 * registering a taken id fails with PT_EEXIST.
 */
typedef struct pt_provider_vt {
  uint32_t struct_size;     /* sizeof(pt_provider_vt) */
  uint32_t reserved0;
  const char *id;
  const char *description;  /* one line for `portico plugins` */

  /*
   * Start a streaming chat request on `op`.
   *
   * `request_json` is the normalized request (docs/providers.md), borrowed
   * for the call. On success return PT_OK and emit events through
   * api->emit(op, ...) from the loop thread, ending with exactly one
   * PT_EV_DONE; `op` must not be used after that event. Never emit from
   * inside chat() itself: start the work and return. On failure return a
   * negative PT_E* code and emit nothing.
   *
   * Since ABI 1.0.
   */
  int32_t (*chat)(void *self, pt_op *op, pt_str request_json);

  /*
   * Ask the operation `op` (a chat or a model listing still in flight) to
   * stop. The plugin completes it as usual, as soon as it can, with
   * PT_ECANCELED (a chat: a DONE event with stop PT_STOP_CANCELLED). Must be
   * idempotent; the host may call it more than once for the same op, and
   * never after the op completed.
   */
  void (*cancel)(void *self, pt_op *op);

  /*
   * Optional (may be NULL). Start listing the models this provider can
   * reach; complete with api->op_done(op, PT_OK, json) where json is an
   * array of objects with at least an "id" string.
   */
  int32_t (*list_models)(void *self, pt_op *op);

  /* Optional. Called once when the provider is removed; free `self`. */
  void (*destroy)(void *self);
} pt_provider_vt;

/* pt_tool_vt.flags: what the tool does, for the permission policy. */
#define PT_TOOL_READS    0x1u /* reads files or other local state */
#define PT_TOOL_WRITES   0x2u /* changes files or other local state */
#define PT_TOOL_EXECUTES 0x4u /* runs programs */
#define PT_TOOL_NETWORK  0x8u /* talks to the network */

/*
 * A tool a model may call. `name` is made of [a-z0-9_] (1 to 63
 * characters), because every provider accepts that, and is unique among
 * loaded tools.
 */
typedef struct pt_tool_vt {
  uint32_t struct_size;       /* sizeof(pt_tool_vt) */
  uint32_t flags;             /* PT_TOOL_* */
  const char *name;
  const char *description;    /* shown to the model: say what and when */
  const char *input_schema;   /* JSON Schema (an object) for the arguments */

  /*
   * Run the tool with `args_json`, which the host has already checked
   * against `input_schema`. Borrowed for the call. Complete with exactly one
   * api->op_done(op, status, result_json), never from inside invoke(). The
   * call's context (workspace, session) is api->op_context(op).
   */
  int32_t (*invoke)(void *self, pt_op *op, pt_str args_json);

  /* As pt_provider_vt.cancel. */
  void (*cancel)(void *self, pt_op *op);

  /* Optional. Called once when the tool is removed; free `self`. */
  void (*destroy)(void *self);
} pt_tool_vt;

/* ------------------------------------------------------------------------ */
/* Host services: HTTP client and stream framing                             */

/*
 * An HTTP request for api->http_start(). Everything in it is copied by the
 * host inside http_start(); the struct and its strings may be freed after.
 */
typedef struct pt_http_request {
  uint32_t struct_size;        /* sizeof(pt_http_request) */
  uint32_t reserved0;
  const char *method;          /* "GET", "POST", ...; NULL: GET, or POST
                                  when `body` is not empty */
  const char *url;             /* http:// or https:// */
  const char *const *headers;  /* NULL-terminated "Name: value" lines, or
                                  NULL */
  pt_str body;

  /* Each 0 means the default: connect 10 s, first byte 120 s, idle 120 s,
   * total none. The first-byte clock runs from the start of the request to
   * the first byte of the response; the idle clock restarts on every byte. */
  uint32_t connect_timeout_ms;
  uint32_t first_byte_timeout_ms;
  uint32_t idle_timeout_ms;
  uint32_t total_timeout_ms;

  /* Optional: the response's status line and headers have arrived. The
   * headers can be read with api->http_header() from now until on_done
   * returns. */
  void (*on_response)(pt_http *r, void *ud, int32_t http_status);

  /* Optional: the next piece of the response body, in arrival order. The
   * bytes are borrowed for the call. Pieces split the body arbitrarily
   * (inside a line, inside a UTF-8 character). */
  void (*on_body)(pt_http *r, void *ud, pt_str chunk);

  /*
   * Required: the request is over, called exactly once and never from
   * inside http_start() or http_cancel(). `status` is PT_OK when the whole
   * response arrived (whatever its HTTP status), or a negative code: e.g.
   * PT_ECONNECT, PT_ECONNTIMEOUT, PT_EFIRSTBYTE, PT_EIDLE, PT_ETIMEDOUT,
   * PT_ECLOSED, PT_ECANCELED. `message` says what happened in words and is
   * borrowed for the call. `r` is freed when on_done returns.
   */
  void (*on_done)(pt_http *r, void *ud, int32_t status, pt_str message);

  void *ud;
} pt_http_request;

/*
 * One Server-Sent Event, dispatched by the SSE splitter when a blank line
 * ends it (https://html.spec.whatwg.org/multipage/server-sent-events.html).
 * `data` is the event's data lines joined with "\n". `event` is "message"
 * when the stream named no type. `id` is the last event id seen so far in
 * the stream (empty if none). `retry_ms` is -1 unless this event carried a
 * valid `retry:` field. All views are borrowed for the callback.
 */
typedef struct pt_sse_event {
  uint32_t struct_size;
  uint32_t reserved0;
  pt_str event;
  pt_str data;
  pt_str id;
  int64_t retry_ms;
} pt_sse_event;

/* Splitter callbacks return 0 to go on, or a negative PT_E* code to stop:
 * the feed call then returns that code at once. */
typedef int32_t (*pt_sse_cb)(void *ud, const pt_sse_event *ev);
typedef int32_t (*pt_line_cb)(void *ud, pt_str line);

/* ------------------------------------------------------------------------ */
/* The host API table                                                        */

/*
 * Services the host lends a plugin. Filled by the host; read-only for the
 * plugin; valid from init() until fini() returns. Members are only ever
 * appended at the end, so a plugin built against an older header reads a
 * prefix of it.
 */
typedef struct pt_host_api {
  uint32_t struct_size;        /* sizeof(pt_host_api) in the host */
  uint32_t abi_major;          /* PT_ABI_MAJOR of the host */
  uint32_t abi_minor;          /* PT_ABI_MINOR of the host */
  uint32_t reserved0;
  const char *host_version;    /* "0.1.0" */

  /* Memory the host frees, or that the plugin frees after the host
   * allocated it. Never mix with the plugin's own malloc/free. */
  void *(*alloc)(size_t n);
  void (*free)(void *p);

  /*
   * Write one log line, prefixed with the plugin's name, at `level`
   * (PT_LOG_*). Lines below the host's verbosity cost one comparison. Any
   * secret the host handed out through secret() is replaced with
   * "[redacted]" before the line is written.
   */
  void (*log)(pt_host *h, int32_t level, const char *fmt, ...) PT_PRINTF(3, 4);

  /*
   * Record why the plugin's current call failed, for the message the host
   * shows a person (e.g. why init() refused to start). Returns `code`, so
   * `return api->set_error(h, PT_ECONFIG, "...");` reads well.
   */
  int32_t (*set_error)(pt_host *h, int32_t code, const char *fmt, ...)
      PT_PRINTF(3, 4);

  /*
   * Register a provider or tool. `vt` must be static; `self` is the
   * plugin's, handed back to every vtable call and to destroy(). Only valid
   * during init() (PT_ESTATE after). Returns PT_EEXIST when the id is taken
   * (by this or another plugin), PT_EINVAL when the id or vtable is
   * malformed. Either failure refuses the whole plugin, whatever init()
   * returns: a plugin that loads always has everything it registered.
   */
  int32_t (*add_provider)(pt_host *h, const pt_provider_vt *vt, void *self);
  int32_t (*add_tool)(pt_host *h, const pt_tool_vt *vt, void *self);

  /* Deliver one chat event for `op`; see pt_chat_event. A PT_EV_DONE event
   * completes `op`: it is freed before emit() returns. */
  void (*emit)(pt_op *op, const pt_chat_event *ev);

  /* Complete a tool invocation or model listing with a status and a JSON
   * result (copied). `op` is freed before op_done() returns. */
  void (*op_done)(pt_op *op, int32_t status, pt_str result_json);

  /* The JSON object the host attached to `op` (e.g. {"workspace": "...",
   * "session": "..."}); "{}" when there is none. Valid until completion. */
  pt_str (*op_context)(pt_op *op);

  /*
   * The one call that is safe from any thread: run fn(ud) soon on the loop
   * thread, in the order posted. Accepted until fini() begins (an unload
   * waits for accepted posts to run); after that it returns PT_ESHUTDOWN
   * and never calls fn. A plugin with threads of its own joins them in
   * fini().
   */
  int32_t (*post)(pt_host *h, void (*fn)(void *ud), void *ud);

  /*
   * Timers. timer_new() returns a stopped timer (NULL when out of memory);
   * timer_start() (re)arms it to fire after `timeout_ms` and then every
   * `repeat_ms` (0: once); timer_stop() disarms it; timer_free() disarms
   * and frees it, and may be called from its own callback. Timers a plugin
   * forgets are freed when it is unloaded.
   */
  pt_timer *(*timer_new)(pt_host *h, void (*on_fire)(pt_timer *t, void *ud),
                         void *ud);
  int32_t (*timer_start)(pt_timer *t, uint64_t timeout_ms, uint64_t repeat_ms);
  void (*timer_stop)(pt_timer *t);
  void (*timer_free)(pt_timer *t);

  /*
   * Run work(ud) on the host's thread pool, then done(ud, status) on the
   * loop thread with PT_OK, or PT_ECANCELED when the work never ran because
   * the plugin is being unloaded. `work` must not call the host API except
   * post().
   */
  int32_t (*queue_work)(pt_host *h, void (*work)(void *ud),
                        void (*done)(void *ud, int32_t status), void *ud);

  /*
   * This plugin's settings: the table `plugins.<name>` of config.lua, as a
   * JSON object ("{}" when absent). Host-owned; valid until fini().
   */
  pt_str (*config)(pt_host *h);

  /*
   * One top-level setting of this plugin rendered as text (strings as they
   * are, numbers and booleans in their JSON spelling). Host-owned, valid
   * until fini(). PT_ENOENT when absent or not a scalar.
   */
  int32_t (*config_string)(pt_host *h, const char *key, pt_str *out);

  /*
   * A secret: the plugin setting `key` if set, else the environment variable
   * `env_fallback` (may be NULL), e.g. secret(h, "api_key",
   * "ANTHROPIC_API_KEY", &key). Host-owned, valid until fini(). PT_ENOENT
   * when neither is set. The host redacts the value from every log line.
   */
  int32_t (*secret)(pt_host *h, const char *key, const char *env_fallback,
                    pt_str *out);

  /*
   * Start an HTTP request (libcurl on the host's loop). On success `*out`
   * is the request's handle until its on_done returns. Many requests may
   * run at once. Requests still running when the plugin is unloaded are
   * cancelled, and their on_done runs before fini().
   */
  int32_t (*http_start)(pt_host *h, const pt_http_request *req, pt_http **out);

  /* Stop a request at any point. No on_body follows; on_done follows with
   * PT_ECANCELED on a later loop turn (unless it already ran: then `r` is
   * gone and this call is a use after free; clear your pointer in on_done). */
  void (*http_cancel)(pt_http *r);

  /* The value of response header `name` (case-insensitive), trimmed; an
   * empty view when absent. Borrowed until on_done returns. */
  pt_str (*http_header)(pt_http *r, const char *name);

  /*
   * Server-Sent Events splitter: feed it response bytes split anywhere (LF,
   * CR or CRLF line ends, a CRLF split across feeds, many events per feed,
   * one event over many feeds, a UTF-8 character cut in two) and it calls
   * `cb` once per complete event. sse_end() says the stream is over: it
   * returns PT_ECLOSED when an unfinished event had to be dropped, else
   * PT_OK. An event larger than 16 MiB fails the feed with PT_ETOOBIG.
   * After a feed fails, every later call returns the same code. A callback
   * must not feed or free the splitter that called it.
   */
  pt_sse *(*sse_new)(pt_host *h, pt_sse_cb cb, void *ud);
  int32_t (*sse_feed)(pt_sse *s, pt_str bytes);
  int32_t (*sse_end)(pt_sse *s);
  void (*sse_free)(pt_sse *s);

  /*
   * Newline-delimited splitter (NDJSON and similar): calls `cb` once per
   * non-empty line, without its LF or CRLF. lines_end() delivers a last
   * line that had no newline. Same rules and limits as the SSE splitter.
   */
  pt_lines *(*lines_new)(pt_host *h, pt_line_cb cb, void *ud);
  int32_t (*lines_feed)(pt_lines *l, pt_str bytes);
  int32_t (*lines_end)(pt_lines *l);
  void (*lines_free)(pt_lines *l);

  /* ABI 1.1 and later append members here, never above. */
} pt_host_api;

/* ------------------------------------------------------------------------ */
/* The descriptor                                                            */

/*
 * What a plugin says about itself, read by the host before any plugin code
 * runs. Exported as the constant data symbol `portico_plugin_v1`; use
 * PT_PLUGIN() to define it.
 *
 * `name` is made of [a-z0-9_-] and unique among loaded plugins; it is how a
 * user addresses the plugin (`portico plugins info NAME`, `plugins.NAME` in
 * config.lua). `abi_major` must equal the host's; `min_host_minor` is the
 * oldest host minor the plugin works with (the host refuses it when its own
 * minor is lower). `abi_minor` says which header the plugin was built with.
 */
typedef struct pt_plugin_desc {
  uint32_t struct_size;      /* sizeof(pt_plugin_desc) */
  uint32_t abi_major;
  uint32_t abi_minor;
  uint32_t min_host_minor;
  const char *name;
  const char *version;       /* the plugin's own version, e.g. "1.2.0" */
  const char *license;       /* SPDX identifier, e.g. "MIT" */
  const char *description;   /* one line */

  /*
   * Called once after the descriptor was accepted. Register providers and
   * tools here. Return PT_OK, or a negative code (ideally through
   * api->set_error) to refuse loading: the host then removes whatever was
   * registered, calling each registered vtable's destroy(), does not call
   * fini(), and unloads the file once anything init() started is over.
   */
  int32_t (*init)(pt_host *h, const pt_host_api *api);

  /* Optional. Called once before unload, after every operation, HTTP
   * request, queued work and post() of the plugin has completed. */
  void (*fini)(pt_host *h);

  void *reserved[4];
} pt_plugin_desc;

/*
 * Define the descriptor, e.g.
 *   PT_PLUGIN("acme", "1.0.0", "MIT", "Acme tools", acme_init, acme_fini);
 * Requires a host of at least this header's minor; write the descriptor by
 * hand to accept older hosts.
 */
#ifdef __cplusplus
#define PT__EXTERN_C extern "C"
#else
#define PT__EXTERN_C extern
#endif
#define PT_PLUGIN(NAME, VERSION, LICENSE, DESCRIPTION, INIT, FINI)         \
  PT__EXTERN_C PT_EXPORT const pt_plugin_desc PT_ENTRY_NAME;               \
  const pt_plugin_desc PT_ENTRY_NAME = {                                   \
    sizeof(pt_plugin_desc), PT_ABI_MAJOR, PT_ABI_MINOR, PT_ABI_MINOR,      \
    NAME, VERSION, LICENSE, DESCRIPTION, INIT, FINI, { 0, 0, 0, 0 }        \
  }

#ifdef __cplusplus
}
#endif
#endif /* PORTICO_PLUGIN_H */
