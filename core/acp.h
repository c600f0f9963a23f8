/*
 * core/acp.h: `portico acp`, the Agent Client Protocol (v1) over stdio
 * (docs/acp.md). Internal to core/acp*.c:
 *
 *   acp.c          the command, sessions, method dispatch;
 *   acp_rpc.c      JSON-RPC 2.0 framing: one message per line on stdin and
 *                  stdout, errors, requests to the client and their answers;
 *   acp_updates.c  agent events as session/update notifications, asking
 *                  with session/request_permission, replaying a history.
 *
 * Loop thread only.
 */
#ifndef PT_ACP_H
#define PT_ACP_H

#include <cjson/cJSON.h>
#include <uv.h>

#include "agent.h"
#include "chat_agent.h"
#include "chat_record.h"
#include "chat_shared.h"
#include "kernel.h"
#include "line_split.h"

enum {
  ACP_PARSE_ERROR = -32700,
  ACP_INVALID_REQUEST = -32600,
  ACP_METHOD_NOT_FOUND = -32601,
  ACP_INVALID_PARAMS = -32602,
  ACP_INTERNAL_ERROR = -32603,
  ACP_NOT_FOUND = -32002
};

typedef struct acp acp;
typedef struct acp_session acp_session;

/* Called with the client's answer to a request (result or error; both NULL
 * when the connection closed first). */
typedef void (*acp_reply_fn)(acp *a, void *ud, const cJSON *result,
                             const cJSON *error);

typedef struct acp_pending {
  struct acp_pending *next;
  long id;
  acp_reply_fn fn;
  void *ud;
} acp_pending;

/* An ask waiting for the client. */
typedef struct acp_ask {
  struct acp_ask *next;
  acp_session *s;
  void (*answer)(void *token, pt_agent_answer a);
  void *token;
  int answered;
} acp_ask;

struct acp_session {
  acp_session *next;
  acp *a;
  char id[PT_STORE_ID_LEN];
  pt_chat_record rec;
  int rec_open;
  pt_chat_agent agent;        /* tools, workspace, policy */
  cJSON *messages;            /* the history */
  char *system;               /* owned */
  /* The turn in progress. */
  pt_agent *running;
  cJSON *prompt_id;           /* the session/prompt request's id */
  int cancelled;
  pt_chat_agent_rec saving;
  cJSON *calls;               /* {"ID": {title, kind, rawInput}} this turn */
};

struct acp {
  pt_kernel *k;
  uv_pipe_t in_pipe;
  uv_tty_t in_tty;
  uv_stream_t *in;
  uv_pipe_t out_pipe;
  uv_stream_t *out;           /* NULL: blocking writes to stdout */
  pt_lines *lines;
  int eof, closing;
  size_t queued;              /* bytes written but not yet flushed */
  long next_id;
  acp_pending *pending;
  acp_ask *asks;
  acp_session *sessions;
  /* What `portico acp` was started with. */
  const char *provider, *model, *system, *agent_name;
  long max_tokens;
  pt_chat_agent_flags flags;
  pt_price price;
  int initialized;
};

/* acp_rpc.c */
int acp_io_start(acp *a);
void acp_io_close(acp *a);
void acp_send(acp *a, cJSON *msg);  /* takes msg */
void acp_result(acp *a, const cJSON *id, cJSON *result);  /* takes result */
void acp_error(acp *a, const cJSON *id, int code, const char *fmt, ...)
    PT_PRINTF(4, 5);
void acp_notify(acp *a, const char *method, cJSON *params);  /* takes */
void acp_request(acp *a, const char *method, cJSON *params, acp_reply_fn fn,
                 void *ud);
/* Answer every request still waiting for the client with (NULL, NULL). */
void acp_drop_pending(acp *a);

/* acp.c: one request (id not NULL) or notification. */
void acp_dispatch(acp *a, const char *method, const cJSON *id,
                  const cJSON *params);
void acp_maybe_stop(acp *a);

/* acp_updates.c */
void acp_update(acp_session *s, cJSON *update);  /* takes update */
void acp_on_event(void *ud, const pt_chat_event *ev);
void acp_on_agent_event(void *ud, const cJSON *ev);
void acp_on_done(void *ud, const pt_agent_result *r);
void acp_on_ask(void *ud, const pt_agent_ask_request *req,
                void (*answer)(void *token, pt_agent_answer a), void *token);
/* Deny every ask of `s` still waiting (all sessions when s is NULL). */
void acp_asks_deny(acp *a, acp_session *s);
void acp_replay(acp_session *s);

#endif
