/*
 * core/serve_ws.c: the messages of the WebSocket at /api/ws. One
 * connection follows any number of sessions; a client message is a JSON
 * object with an "op" and, when the client wants to match the answer, an
 * "id" that the reply carries back (docs/http-api.md):
 *
 *   {"op":"subscribe","session_id":S,"after":N}   events after N (optional)
 *   {"op":"unsubscribe","session_id":S}
 *   {"op":"prompt","session_id":S,"text":"..."}   or "content": [parts]
 *   {"op":"permission","session_id":S,"call_id":C,"answer":"allow_once"}
 *   {"op":"cancel","session_id":S}
 *
 * Replies are {"type":"reply","id":ID,"ok":true,...} or
 * {"type":"reply","id":ID,"ok":false,"error":{"code","message"}}; events
 * arrive as {"type":"event","session_id":S,"seq":N,"event":{...}}.
 */
#include "serve.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void reply(serve_stream *s, const cJSON *id, cJSON *o)
{
  cJSON_AddStringToObject(o, "type", "reply");
  if (id) cJSON_AddItemToObject(o, "id", cJSON_Duplicate(id, 1));
  char *text = cJSON_PrintUnformatted(o);
  cJSON_Delete(o);
  if (text) serve_stream_push(s, text, strlen(text));
  free(text);
}

static void ok(serve_stream *s, const cJSON *id, cJSON *o)
{
  if (!o) o = cJSON_CreateObject();
  cJSON_AddBoolToObject(o, "ok", 1);
  reply(s, id, o);
}

static void fail(serve_stream *s, const cJSON *id, const char *code,
                 const char *fmt, ...) PT_PRINTF(4, 5);

static void fail(serve_stream *s, const cJSON *id, const char *code,
                 const char *fmt, ...)
{
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  cJSON *o = cJSON_CreateObject();
  cJSON_AddBoolToObject(o, "ok", 0);
  cJSON *e = cJSON_AddObjectToObject(o, "error");
  cJSON_AddStringToObject(e, "code", code);
  cJSON_AddStringToObject(e, "message", msg);
  reply(s, id, o);
}

static serve_session *msg_session(serve_stream *s, const cJSON *id,
                                  const cJSON *m)
{
  const char *sid = cJSON_GetStringValue(
      cJSON_GetObjectItemCaseSensitive(m, "session_id"));
  if (!sid) {
    fail(s, id, "bad_request", "session_id must be a string");
    return NULL;
  }
  serve_session *ss = NULL;
  int32_t rc = serve_session_get(s->sv, sid, &ss);
  if (rc == PT_ENOENT)
    fail(s, id, "not_found", "no session %.80s", sid);
  else if (rc != PT_OK)
    fail(s, id, "bad_request", "session %.80s: %s", sid, pt_strerror(rc));
  return rc == PT_OK ? ss : NULL;
}

static void op_subscribe(serve_stream *s, const cJSON *id, const cJSON *m)
{
  serve_session *ss = msg_session(s, id, m);
  if (!ss) return;
  const cJSON *after = cJSON_GetObjectItemCaseSensitive(m, "after");
  if (after && (!cJSON_IsNumber(after) || after->valuedouble < 0)) {
    fail(s, id, "bad_request", "after must be an event id (0: the whole "
                               "log)");
    return;
  }
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "session_id", ss->id);
  cJSON_AddNumberToObject(o, "last_event_id", (double)ss->seq);
  /* The reply goes first, so the client sees it before the events. */
  ok(s, id, o);
  if (!serve_subscribe(s, ss, after ? (int64_t)after->valuedouble : -1))
    fail(s, id, "internal", "out of memory");
}

static void op_prompt(serve_stream *s, const cJSON *id, const cJSON *m)
{
  serve_session *ss = msg_session(s, id, m);
  if (!ss) return;
  const cJSON *content = cJSON_GetObjectItemCaseSensitive(m, "text");
  if (!cJSON_IsString(content) || !content->valuestring[0])
    content = cJSON_GetObjectItemCaseSensitive(m, "content");
  if (!(cJSON_IsString(content) && content->valuestring[0]) &&
      !(cJSON_IsArray(content) && cJSON_GetArraySize(content) > 0)) {
    fail(s, id, "bad_request", "send \"text\", or \"content\" as a list of "
                               "parts");
    return;
  }
  int64_t turn = 0;
  char err[1024] = "";
  int32_t rc = serve_session_prompt(ss, content, &turn, err, sizeof err);
  if (rc != PT_OK) {
    fail(s, id, rc == PT_EBUSY ? "busy" : rc == PT_EINVAL ? "bad_request"
                                                           : "failed",
         "%s", err);
    return;
  }
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "session_id", ss->id);
  cJSON_AddNumberToObject(o, "turn_id", (double)turn);
  ok(s, id, o);
}

static void op_permission(serve_stream *s, const cJSON *id, const cJSON *m)
{
  serve_session *ss = msg_session(s, id, m);
  if (!ss) return;
  const char *call = cJSON_GetStringValue(
      cJSON_GetObjectItemCaseSensitive(m, "call_id"));
  const char *answer = cJSON_GetStringValue(
      cJSON_GetObjectItemCaseSensitive(m, "answer"));
  if (!call || !answer) {
    fail(s, id, "bad_request", "call_id and answer must be strings");
    return;
  }
  int32_t rc = serve_session_answer(ss, call, answer);
  if (rc == PT_EINVAL)
    fail(s, id, "bad_request", "answer is allow_once, allow_always, deny or "
                               "deny_always, not '%.40s'", answer);
  else if (rc == PT_ENOENT)
    fail(s, id, "not_found", "no permission request %.80s is waiting",
         call);
  else
    ok(s, id, NULL);
}

void serve_ws_message(serve_stream *s, const char *text, size_t len)
{
  cJSON *m = cJSON_ParseWithLength(text, len);
  if (!cJSON_IsObject(m)) {
    fail(s, NULL, "bad_json", "each message must be one JSON object with an "
                              "\"op\"");
    cJSON_Delete(m);
    return;
  }
  const cJSON *id = cJSON_GetObjectItemCaseSensitive(m, "id");
  const char *op = cJSON_GetStringValue(
      cJSON_GetObjectItemCaseSensitive(m, "op"));
  if (!op) {
    fail(s, id, "bad_request", "\"op\" must be a string");
  } else if (s->sv->stopping) {
    fail(s, id, "stopping", "the server is shutting down");
  } else if (!strcmp(op, "subscribe")) {
    op_subscribe(s, id, m);
  } else if (!strcmp(op, "unsubscribe")) {
    serve_session *ss = msg_session(s, id, m);
    if (ss) {
      serve_unsubscribe(s, ss);
      ok(s, id, NULL);
    }
  } else if (!strcmp(op, "prompt")) {
    op_prompt(s, id, m);
  } else if (!strcmp(op, "permission")) {
    op_permission(s, id, m);
  } else if (!strcmp(op, "cancel")) {
    serve_session *ss = msg_session(s, id, m);
    if (ss) {
      cJSON *o = cJSON_CreateObject();
      cJSON_AddBoolToObject(o, "cancelled", serve_session_cancel(ss));
      ok(s, id, o);
    }
  } else {
    fail(s, id, "unknown_op", "unknown op '%.40s' (subscribe, unsubscribe, "
                              "prompt, permission, cancel)", op);
  }
  cJSON_Delete(m);
}
