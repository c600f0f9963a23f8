/*
 * core/serve_routes.c: the routes that drive sessions: create, list, read
 * and delete them, prompt, cancel, stream their events, and answer the
 * permission requests their turns raise (docs/http-api.md).
 */
#include "serve.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* The session named by the route, or an answer saying why there is none. */
static serve_session *route_session(pt_serve *sv, serve_req *r,
                                    const char *id)
{
  serve_session *ss = NULL;
  int32_t rc = serve_session_get(sv, id, &ss);
  if (rc == PT_ENOENT)
    serve_reply_error(r, 404, "not_found", "no session %.80s "
                      "(GET /api/sessions lists them)", id);
  else if (rc == PT_EINVAL)
    serve_reply_error(r, 400, "bad_request", "session id %.80s is not an id "
                      "or matches several; give more of it", id);
  else if (rc != PT_OK)
    serve_reply_error(r, 500, "internal", "the store: %s",
                      pt_store_errmsg(sv->st));
  return rc == PT_OK ? ss : NULL;
}

static int status_for(int32_t rc)
{
  switch (rc) {
  case PT_EINVAL: return 400;
  case PT_ENOENT: return 404;
  case PT_EBUSY: return 409;
  default: return 500;
  }
}

static const char *code_for(int32_t rc)
{
  switch (rc) {
  case PT_EINVAL: return "bad_request";
  case PT_ENOENT: return "not_found";
  case PT_EBUSY: return "busy";
  default: return "internal";
  }
}

static cJSON *session_json(pt_serve *sv, serve_session *ss)
{
  cJSON *o = NULL;
  if (pt_store_session_get(sv->st, ss->id, &o) != PT_OK) return NULL;
  cJSON_AddBoolToObject(o, "running", ss->running != NULL);
  if (ss->running) cJSON_AddNumberToObject(o, "turn_id", (double)ss->turn_id);
  cJSON_AddNumberToObject(o, "last_event_id", (double)ss->seq);
  return o;
}

void serve_post_sessions(pt_serve *sv, serve_req *r, const char *const *p)
{
  (void)p;
  serve_session *ss = NULL;
  char err[1024] = "";
  int32_t rc = serve_session_create(sv, r->json, &ss, err, sizeof err);
  if (rc != PT_OK) {
    serve_reply_error(r, status_for(rc), code_for(rc), "%s",
                      err[0] ? err : pt_strerror(rc));
    return;
  }
  cJSON *o = session_json(sv, ss);
  if (!o) {
    serve_reply_error(r, 500, "internal", "the store: %s",
                      pt_store_errmsg(sv->st));
    return;
  }
  serve_reply(r, 201, o);
}

void serve_get_sessions(pt_serve *sv, serve_req *r, const char *const *p)
{
  (void)p;
  char buf[32];
  int limit = 50;
  const char *l = serve_req_arg(r, "limit", buf, sizeof buf);
  if (l) {
    char *end;
    long v = strtol(l, &end, 10);
    if (*end || v < 1 || v > 10000) {
      serve_reply_error(r, 400, "bad_request", "limit is a whole number "
                        "from 1 to 10000, not '%.20s'", l);
      return;
    }
    limit = (int)v;
  }
  cJSON *list = NULL;
  if (pt_store_session_list(sv->st, limit, &list) != PT_OK) {
    serve_reply_error(r, 500, "internal", "the store: %s",
                      pt_store_errmsg(sv->st));
    return;
  }
  const cJSON *s;
  cJSON_ArrayForEach(s, list) {
    const char *id = cJSON_GetStringValue(cJSON_GetObjectItem(s, "id"));
    int running = 0;
    for (serve_session *ss = sv->sessions; id && ss; ss = ss->next)
      if (!strcmp(ss->id, id)) running = ss->running != NULL;
    cJSON_AddBoolToObject((cJSON *)s, "running", running);
  }
  cJSON *o = cJSON_CreateObject();
  cJSON_AddItemToObject(o, "sessions", list);
  serve_reply(r, 200, o);
}

void serve_get_session(pt_serve *sv, serve_req *r, const char *const *p)
{
  serve_session *ss = route_session(sv, r, p[0]);
  if (!ss) return;
  cJSON *o = session_json(sv, ss);
  cJSON *msgs = NULL;
  if (!o || pt_store_messages(sv->st, ss->id, 0, &msgs) != PT_OK) {
    cJSON_Delete(o);
    serve_reply_error(r, 500, "internal", "the store: %s",
                      pt_store_errmsg(sv->st));
    return;
  }
  /* The listing's count stays as message_count; "messages" is the list. */
  cJSON *count = cJSON_DetachItemFromObjectCaseSensitive(o, "messages");
  if (count) {
    cJSON_AddNumberToObject(o, "message_count", cJSON_GetNumberValue(count));
    cJSON_Delete(count);
  }
  cJSON_AddItemToObject(o, "messages", msgs);
  cJSON_AddItemToObject(o, "permissions", serve_asks_json(sv, ss));
  serve_reply(r, 200, o);
}

void serve_delete_session(pt_serve *sv, serve_req *r, const char *const *p)
{
  serve_session *ss = route_session(sv, r, p[0]);
  if (!ss) return;
  int32_t rc = serve_session_delete(ss);
  if (rc == PT_EBUSY)
    serve_reply_error(r, 409, "busy", "a turn of this session is running; "
                      "cancel it (POST /api/sessions/%s/cancel) first",
                      ss->id);
  else if (rc != PT_OK && rc != PT_ENOENT)
    serve_reply_error(r, 500, "internal", "the store: %s",
                      pt_store_errmsg(sv->st));
  else
    serve_reply(r, 204, NULL);
}

void serve_post_message(pt_serve *sv, serve_req *r, const char *const *p)
{
  serve_session *ss = route_session(sv, r, p[0]);
  if (!ss) return;
  const cJSON *text = cJSON_GetObjectItemCaseSensitive(r->json, "text");
  const cJSON *content = cJSON_GetObjectItemCaseSensitive(r->json, "content");
  if (cJSON_IsString(text) && text->valuestring[0]) {
    content = text;
  } else if (!(cJSON_IsString(content) && content->valuestring[0]) &&
             !(cJSON_IsArray(content) && cJSON_GetArraySize(content) > 0)) {
    serve_reply_error(r, 400, "bad_request", "send {\"text\": \"...\"}, or "
                      "{\"content\": [parts]} in the shape of "
                      "docs/providers.md");
    return;
  }
  int64_t turn = 0;
  char err[1024] = "";
  int32_t rc = serve_session_prompt(ss, content, &turn, err, sizeof err);
  if (rc == PT_EBUSY) {
    serve_reply_error(r, 409, "busy", "%s", err);
    return;
  }
  if (rc != PT_OK && !turn) {
    serve_reply_error(r, status_for(rc), code_for(rc), "%s", err);
    return;
  }
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "session_id", ss->id);
  cJSON_AddNumberToObject(o, "turn_id", (double)turn);
  if (rc != PT_OK) {
    /* The turn was stored and ended at once; say why as its end did. */
    cJSON *e = cJSON_AddObjectToObject(o, "error");
    cJSON_AddStringToObject(e, "code", pt_errname(rc));
    cJSON_AddStringToObject(e, "message", err);
    serve_reply(r, 502, o);
    return;
  }
  serve_reply(r, 202, o);
}

void serve_post_cancel(pt_serve *sv, serve_req *r, const char *const *p)
{
  serve_session *ss = route_session(sv, r, p[0]);
  if (!ss) return;
  int64_t turn = ss->turn_id;
  int was = serve_session_cancel(ss);
  cJSON *o = cJSON_CreateObject();
  cJSON_AddBoolToObject(o, "cancelled", was);
  if (was) cJSON_AddNumberToObject(o, "turn_id", (double)turn);
  serve_reply(r, 200, o);
}

void serve_get_events(pt_serve *sv, serve_req *r, const char *const *p)
{
  serve_session *ss = route_session(sv, r, p[0]);
  if (!ss) return;
  int64_t after = r->last_event_id;
  char buf[32];
  const char *a = serve_req_arg(r, "after", buf, sizeof buf);
  if (a && after < 0) {
    char *end;
    long long v = strtoll(a, &end, 10);
    if (*end || v < 0) {
      serve_reply_error(r, 400, "bad_request", "after is an event id "
                        "(0 for the whole log), not '%.20s'", a);
      return;
    }
    after = v;
  }
  serve_stream *s = serve_stream_new(sv, r->wsi, SERVE_SSE);
  if (!s || !serve_subscribe(s, ss, after)) {
    if (s) serve_stream_gone(s);
    serve_reply_error(r, 500, "internal", "out of memory");
    return;
  }
  r->stream = s;
  r->replied = 1;
  serve_req_stream_started(r);
}

void serve_get_permissions(pt_serve *sv, serve_req *r, const char *const *p)
{
  (void)p;
  cJSON *o = cJSON_CreateObject();
  cJSON_AddItemToObject(o, "permissions", serve_asks_json(sv, NULL));
  serve_reply(r, 200, o);
}

void serve_get_session_permissions(pt_serve *sv, serve_req *r,
                                   const char *const *p)
{
  serve_session *ss = route_session(sv, r, p[0]);
  if (!ss) return;
  cJSON *o = cJSON_CreateObject();
  cJSON_AddItemToObject(o, "permissions", serve_asks_json(sv, ss));
  serve_reply(r, 200, o);
}

void serve_post_permission(pt_serve *sv, serve_req *r, const char *const *p)
{
  serve_session *ss = route_session(sv, r, p[0]);
  if (!ss) return;
  const char *answer = cJSON_GetStringValue(
      cJSON_GetObjectItemCaseSensitive(r->json, "answer"));
  if (!answer) {
    serve_reply_error(r, 400, "bad_request", "send {\"answer\": "
                      "\"allow_once\" | \"allow_always\" | \"deny\" | "
                      "\"deny_always\"}");
    return;
  }
  int32_t rc = serve_session_answer(ss, p[1], answer);
  if (rc == PT_EINVAL)
    serve_reply_error(r, 400, "bad_request", "answer is allow_once, "
                      "allow_always, deny or deny_always, not '%.40s'",
                      answer);
  else if (rc == PT_ENOENT)
    serve_reply_error(r, 404, "not_found", "no permission request %.80s is "
                      "waiting in session %s (answered already, or its turn "
                      "ended)", p[1], ss->id);
  else {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", p[1]);
    cJSON_AddStringToObject(o, "answer", answer);
    serve_reply(r, 200, o);
  }
}
