/*
 * core/serve.h: `portico serve`, the HTTP front door (docs/http-api.md).
 * Internal to core/serve*.c:
 *
 *   serve.c           the command: options, the API key, listening, the
 *                     ready line, signals and the orderly stop;
 *   serve_auth.c      the key file, constant-time key checks, Host and
 *                     Origin checks;
 *   serve_http.c      libwebsockets glue: one callback for HTTP requests,
 *                     SSE streams and WebSocket connections, request bodies,
 *                     responses, the route table;
 *   serve_stream.c    outbound queues of SSE and WebSocket clients, their
 *                     bound, subscriptions and replay from the store;
 *   serve_sessions.c  live sessions: loading, turns, events, asks;
 *   serve_routes.c    the session, turn and permission routes;
 *   serve_catalog.c   health, plugins, providers, models, tools, agents,
 *                     search and usage;
 *   serve_ws.c        the WebSocket protocol's messages.
 *
 * HTTP and WebSocket framing come from libwebsockets running on the
 * kernel's libuv loop, so everything here runs on the loop thread and
 * nothing needs a lock.
 */
#ifndef PT_SERVE_H
#define PT_SERVE_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <uv.h>

#include "agent.h"
#include "chat_agent.h"
#include "chat_record.h"
#include "chat_shared.h"
#include "kernel.h"
#include "pricing.h"
#include "store/store.h"

struct lws;
struct lws_context;
struct lws_vhost;

typedef struct pt_serve pt_serve;
typedef struct serve_req serve_req;
typedef struct serve_stream serve_stream;
typedef struct serve_session serve_session;
typedef struct serve_sub serve_sub;
typedef struct serve_ask serve_ask;

#define SERVE_KEY_MAX 256
#define SERVE_DEFAULT_MAX_BODY (1024 * 1024)
#define SERVE_DEFAULT_MAX_QUEUE (1024 * 1024)
/* Idle SSE streams get a comment this often, so proxies and clients can
 * tell a quiet session from a dead connection. */
#define SERVE_KEEPALIVE_MS 15000
/* Events read from the store per refill of a client catching up. */
#define SERVE_REPLAY_PAGE 256
#define SERVE_DEFAULT_EVENT_LOG_KEEP 10000

/* ------------------------------------------------------------------------ */
/* Outbound queues (serve_stream.c)                                          */

/* One queued write: a whole SSE event, or one WebSocket message. `data`
 * starts after LWS_PRE bytes of headroom libwebsockets needs to frame it. */
typedef struct serve_chunk {
  struct serve_chunk *next;
  size_t len;
  unsigned char buf[];   /* LWS_PRE + len (+1 for a NUL) */
} serve_chunk;

typedef enum serve_stream_kind { SERVE_SSE = 1, SERVE_WS = 2 } serve_stream_kind;

/* A client's interest in a session's events. */
struct serve_sub {
  serve_sub *next_in_stream, *next_in_session;
  serve_stream *stream;
  serve_session *session;
  int64_t next_seq;      /* the next event this client needs */
  int catching_up;       /* read from the store until next_seq passes the
                            session's last event */
};

/* An SSE response or a WebSocket connection: the events it is owed. */
struct serve_stream {
  pt_serve *sv;
  struct lws *wsi;       /* NULL once libwebsockets closed it */
  serve_stream_kind kind;
  serve_stream *prev, *next;   /* sv->streams */
  serve_chunk *head, *tail;
  size_t queued;         /* bytes in the queue */
  serve_sub *subs;
  int headers_done;      /* SSE: the response head was written */
  int closing;           /* close once the queue is written */
  int cut;               /* stopped reading: closed without draining */
  uint64_t last_write_ms;
  /* WebSocket: the message being received (owned). */
  char *rx;
  size_t rx_len;
};

/* Queue `len` bytes (a whole message for WebSocket). Cuts the client off
 * instead when its queue would pass the bound. */
void serve_stream_push(serve_stream *s, const char *data, size_t len);
/* Queue a comment line (SSE) to keep an idle connection alive. */
void serve_stream_keepalive(serve_stream *s);
/* The writable callback's work: one write. Returns -1 to close. */
int serve_stream_write(serve_stream *s);
serve_stream *serve_stream_new(pt_serve *sv, struct lws *wsi,
                               serve_stream_kind kind);
/* libwebsockets closed the connection: drop subscriptions and queue. */
void serve_stream_gone(serve_stream *s);
/* Close after what is queued (shutdown). */
void serve_stream_finish(serve_stream *s);

/* Subscribe `s` to `ss` from event `after` + 1 (after < 0: live only). */
serve_sub *serve_subscribe(serve_stream *s, serve_session *ss, int64_t after);
void serve_unsubscribe(serve_stream *s, serve_session *ss);
/* An event of `ss` numbered `seq` with its JSON text: queue it for every
 * live subscriber. */
void serve_fanout(serve_session *ss, int64_t seq, const char *type,
                  const char *json, size_t len);

/* ------------------------------------------------------------------------ */
/* HTTP requests (serve_http.c)                                              */

struct serve_req {
  pt_serve *sv;
  struct lws *wsi;       /* NULL once the client is gone */
  int refs;              /* the connection, plus one per pending operation */
  char method[8];
  char path[512];        /* decoded, without the query */
  char origin[256];      /* "" when the request had no Origin header */
  int64_t last_event_id; /* Last-Event-ID, or -1 */
  char *body;            /* owned; as received */
  size_t body_len, body_cap;
  cJSON *json;           /* owned: the parsed body; NULL when empty */
  /* The response. */
  int status;
  char *resp;            /* JSON text, owned */
  size_t resp_len, resp_off;
  int replied, headers_done, close_after;
  serve_stream *stream;  /* the request turned into an SSE stream */
};

/* One URL query argument, decoded, into buf (cut to fit, so a route's
 * checks refuse an over-long value); NULL when absent. */
const char *serve_req_arg(serve_req *r, const char *name, char *buf,
                          size_t len);
/* Answer with `body` (taken; NULL: no body), now or later. A reply to a
 * client that has gone is dropped. */
void serve_reply(serve_req *r, int status, cJSON *body);
/* Answer {"error":{"code":CODE,"message":...}}. */
void serve_reply_error(serve_req *r, int status, const char *code,
                       const char *fmt, ...) PT_PRINTF(4, 5);
/* Keep `r` for an answer after the handler returns; release once it was
 * given (or the operation ended). */
void serve_req_hold(serve_req *r);
void serve_req_release(serve_req *r);
/* The handler turned `r` into r->stream: write the SSE head when the
 * socket allows. */
void serve_req_stream_started(serve_req *r);

/* A route's handler; params are the ":name" parts of its pattern, in
 * order. It must answer (now, or later with serve_req_hold). */
typedef void (*serve_handler)(pt_serve *sv, serve_req *r,
                              const char *const *params);

/* ------------------------------------------------------------------------ */
/* Sessions (serve_sessions.c)                                               */

/* An ask waiting for a person's answer. */
struct serve_ask {
  serve_ask *next;
  serve_session *ss;
  char *call_id, *tool, *reason, *rule;   /* owned */
  cJSON *arguments;                       /* owned; NULL if not JSON */
  int64_t created_ms;
  void (*answer)(void *token, pt_agent_answer a);
  void *token;
};

struct serve_session {
  serve_session *next;
  pt_serve *sv;
  char id[PT_STORE_ID_LEN];
  int64_t seq;            /* the last event's number */
  serve_sub *subs;
  /* Set up on the first prompt (serve_session_prepare). */
  int prepared, reload;
  char *provider, *model, *system, *agent_name;   /* owned */
  long max_tokens;
  pt_price price;
  pt_chat_record rec;     /* on the server's store */
  int rec_open;           /* rec was attached (closed at exit) */
  int32_t rec_rc;         /* what attaching it returned */
  pt_chat_agent agent;    /* tools, workspace, policy */
  cJSON *messages;        /* owned: the history */
  cJSON *options;         /* owned: how it was created (stored as a
                             setting) */
  /* The turn in progress. */
  pt_agent *running;
  int64_t turn_id;
  pt_chat_agent_rec saving;
  serve_ask *asks;
  int deleted;
};

/* The live session `id` (an id or a prefix of one), loaded from the store
 * when needed. PT_ENOENT, PT_EINVAL (ambiguous), or PT_OK with *out. */
int32_t serve_session_get(pt_serve *sv, const char *id, serve_session **out);
/* Create a session from a request body (see docs/http-api.md); on error
 * writes one line to err and returns a negative code. */
int32_t serve_session_create(pt_serve *sv, const cJSON *body,
                             serve_session **out, char *err, size_t errlen);
/* Start a turn with the user's `content` (a string or an array of parts);
 * *turn_id gets its id. PT_EBUSY when one runs. */
int32_t serve_session_prompt(serve_session *ss, const cJSON *content,
                             int64_t *turn_id, char *err, size_t errlen);
/* Cancel the running turn; 0 when none ran. */
int serve_session_cancel(serve_session *ss);
/* Answer the ask about `call_id` ("allow_once", "allow_always", "deny",
 * "deny_always"). PT_ENOENT when no such ask waits, PT_EINVAL for an
 * unknown answer. */
int32_t serve_session_answer(serve_session *ss, const char *call_id,
                             const char *answer);
/* Delete it from the store; subscribers get a final event. */
int32_t serve_session_delete(serve_session *ss);
/* Number, store and send an event of the session (takes ev). */
void serve_session_emit(serve_session *ss, cJSON *ev);
/* The pending asks of `ss` (NULL: every session) as an array. */
cJSON *serve_asks_json(pt_serve *sv, serve_session *ss);
/* Cancel every turn; returns how many were running. */
int serve_sessions_cancel_all(pt_serve *sv);
int serve_sessions_running(const pt_serve *sv);
void serve_sessions_free(pt_serve *sv);

/* ------------------------------------------------------------------------ */
/* Auth (serve_auth.c)                                                       */

/* The key from PORTICO_API_KEY, else the key file in the data folder
 * (created 0600 with a random key when missing). */
int32_t serve_key_load(pt_serve *sv, char *err, size_t errlen);
/* `header` is the Authorization value (may be NULL); constant time in the
 * key's length. */
int serve_key_ok(const pt_serve *sv, const char *header);
/* Whether the Host header names this server on a loopback name. */
int serve_host_ok(const pt_serve *sv, const char *host);
/* Whether a browser Origin is on the allow-list (empty: no Origin). */
int serve_origin_ok(const pt_serve *sv, const char *origin);

/* ------------------------------------------------------------------------ */
/* Routes                                                                    */

/* serve_catalog.c */
void serve_get_health(pt_serve *sv, serve_req *r, const char *const *p);
void serve_get_plugins(pt_serve *sv, serve_req *r, const char *const *p);
void serve_get_providers(pt_serve *sv, serve_req *r, const char *const *p);
void serve_get_models(pt_serve *sv, serve_req *r, const char *const *p);
void serve_get_tools(pt_serve *sv, serve_req *r, const char *const *p);
void serve_get_agents(pt_serve *sv, serve_req *r, const char *const *p);
void serve_get_search(pt_serve *sv, serve_req *r, const char *const *p);
void serve_get_usage(pt_serve *sv, serve_req *r, const char *const *p);

/* serve_routes.c */
void serve_post_sessions(pt_serve *sv, serve_req *r, const char *const *p);
void serve_get_sessions(pt_serve *sv, serve_req *r, const char *const *p);
void serve_get_session(pt_serve *sv, serve_req *r, const char *const *p);
void serve_delete_session(pt_serve *sv, serve_req *r, const char *const *p);
void serve_post_message(pt_serve *sv, serve_req *r, const char *const *p);
void serve_post_cancel(pt_serve *sv, serve_req *r, const char *const *p);
void serve_get_events(pt_serve *sv, serve_req *r, const char *const *p);
void serve_get_permissions(pt_serve *sv, serve_req *r, const char *const *p);
void serve_get_session_permissions(pt_serve *sv, serve_req *r,
                                   const char *const *p);
void serve_post_permission(pt_serve *sv, serve_req *r, const char *const *p);

/* serve_ws.c: one whole text message from a WebSocket client. */
void serve_ws_message(serve_stream *s, const char *text, size_t len);

/* ------------------------------------------------------------------------ */
/* The server (serve.c)                                                      */

struct pt_serve {
  pt_kernel *k;
  pt_store *st;           /* owned: the one connection every session uses */
  struct lws_context *lws;  /* owned; set to NULL by libwebsockets when
                               its destroy completes */
  struct lws_vhost *vhost;
  char listen_host[64];   /* as bound: "127.0.0.1", "::1", ... */
  int port;
  int loopback;           /* bound to a loopback address */
  int allow_remote;
  char key[SERVE_KEY_MAX];
  size_t key_len;
  size_t max_body, max_queue;
  int64_t event_log_keep;  /* events kept per session; 0: all */
  cJSON *origins;         /* allowed browser origins (owned) */
  const char *workspace;  /* --workspace, or NULL: the current folder */
  /* Defaults for new sessions, from the command line (borrowed from
   * argv, like workspace). */
  const char *provider, *model, *agent, *tools, *policy;
  serve_session *sessions;  /* owned, freed by serve_sessions_free */
  serve_stream *streams;    /* owned by their connections: each is freed
                               when libwebsockets closes it */
  uv_signal_t sigterm, sigint, sighup;
  uv_timer_t tick;        /* keepalives and the stop's phases */
  uv_check_t flush;       /* writes buffered events once per iteration */
  uint64_t started_ms;
  int stopping;           /* 1: cancelling turns, 2: closing clients,
                             3: libwebsockets destroyed, 4: the kernel
                             stopping */
  uint64_t stop_started_ms;
  pt_config **old_configs;  /* replaced by SIGHUP; kept, as sessions may
                               borrow from them */
  size_t old_config_count;
};

/* Milliseconds since an arbitrary point (uv_hrtime). */
uint64_t serve_now_ms(void);
/* Re-read serve.* from the current config (origins, limits). */
void serve_read_settings(pt_serve *sv);

#endif
