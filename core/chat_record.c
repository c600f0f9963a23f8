/*
 * core/chat_record.c: see chat_record.h. The glue between `portico chat`
 * and the store; the store's rules (what a turn is, what flush means) live
 * in core/store/.
 */
#include "chat_record.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "event_json.h"

#define TITLE_MAX 60

/* Report a failed write once; later ones are the same story. */
static void failed(pt_chat_record *r, int32_t rc)
{
  if (rc == PT_OK || r->failed) return;
  r->failed = 1;
  fprintf(stderr, "portico: the conversation is not being saved: %s\n",
          pt_store_errmsg(r->st));
}

void pt_chat_record_flush(pt_chat_record *r)
{
  if (r->st && pt_store_pending(r->st)) failed(r, pt_store_flush(r->st));
}

static void on_check(uv_check_t *h)
{
  pt_chat_record_flush(h->data);
}

static void init(pt_chat_record *r, pt_kernel *k)
{
  memset(r, 0, sizeof *r);
  uv_check_init(&k->loop, &r->flush);
  r->flush.data = r;
}

static int32_t find_session(pt_chat_record *r, const char *session)
{
  int32_t rc = PT_OK;
  if (session && (rc = pt_store_session_find(r->st, session, r->session)) !=
                     PT_OK)
    fprintf(stderr, "portico: %s\n", pt_store_errmsg(r->st));
  return rc;
}

int32_t pt_chat_record_open(pt_chat_record *r, pt_kernel *k,
                            const char *session)
{
  init(r, k);
  pt_store_options o = {
    .synchronous_full = pt_config_synchronous_full(k->config) };
  char err[1024];
  int32_t rc = pt_store_open_dir(k->data_dir, &o, &r->st, err, sizeof err);
  if (rc != PT_OK) {
    fprintf(stderr, "portico: %s (or pass --no-store to chat without "
                    "saving)\n", err);
    return rc;
  }
  r->owns_store = 1;
  return find_session(r, session);
}

int32_t pt_chat_record_attach(pt_chat_record *r, pt_kernel *k, pt_store *st,
                              const char *session)
{
  init(r, k);
  if (!st) {
    fprintf(stderr, "portico: a chat record attached to no store\n");
    return PT_EINVAL;
  }
  r->st = st;
  return find_session(r, session);
}

cJSON *pt_chat_record_session(pt_chat_record *r)
{
  cJSON *s = NULL;
  if (r->session[0]) pt_store_session_get(r->st, r->session, &s);
  return s;
}

int32_t pt_chat_record_history(pt_chat_record *r, cJSON **messages,
                               const char **system)
{
  *system = NULL;
  int32_t rc = pt_store_messages(r->st, r->session, PT_STORE_FOR_REQUEST,
                                 messages);
  if (rc != PT_OK) {
    fprintf(stderr, "portico: %s\n", pt_store_errmsg(r->st));
    return rc;
  }
  /* The request carries the system prompt beside the messages. */
  cJSON *m = (*messages)->child;
  while (m) {
    cJSON *next = m->next;
    const char *role = cJSON_GetStringValue(cJSON_GetObjectItem(m, "role"));
    if (role && !strcmp(role, "system")) {
      const char *text =
          cJSON_GetStringValue(cJSON_GetObjectItem(m, "content"));
      free(r->system);
      r->system = text ? strdup(text) : NULL;
      cJSON_Delete(cJSON_DetachItemViaPointer(*messages, m));
    }
    m = next;
  }
  *system = r->system;
  return PT_OK;
}

/* The first line of the user's words, cut at a character boundary. */
static void make_title(const cJSON *user, char *out, size_t cap)
{
  const char *text =
      cJSON_GetStringValue(cJSON_GetObjectItem(user, "content"));
  size_t n = 0;
  while (text && text[n] && text[n] != '\n' && n < TITLE_MAX) n++;
  if (text && text[n] && text[n] != '\n')
    while (n > 0 && ((unsigned char)text[n] & 0xC0) == 0x80) n--;
  snprintf(out, cap, "%.*s%s", (int)n, text ? text : "",
           text && text[n] && text[n] != '\n' ? "…" : "");
}

static int32_t start_session(pt_chat_record *r, const cJSON *user)
{
  char title[TITLE_MAX + 8], cwd[PATH_MAX];
  make_title(user, title, sizeof title);
  pt_store_session_info info = {
    .provider = r->provider, .model = r->model, .title = title,
    .workspace = getcwd(cwd, sizeof cwd) };
  return pt_store_session_create(r->st, &info, r->session);
}

static int32_t save_system(pt_chat_record *r, const char *system)
{
  if (!system || (r->system && !strcmp(r->system, system))) return PT_OK;
  cJSON *msg = cJSON_CreateObject();
  cJSON_AddStringToObject(msg, "role", "system");
  cJSON_AddStringToObject(msg, "content", system);
  int32_t rc = pt_store_message_add(r->st, r->session, 0, msg, NULL);
  cJSON_Delete(msg);
  if (rc == PT_OK) {
    free(r->system);
    r->system = strdup(system);
  }
  return rc;
}

void pt_chat_record_begin(pt_chat_record *r, const char *provider,
                          const char *model, const pt_price *price,
                          const char *system, const cJSON *user)
{
  r->provider = provider;
  r->model = model;
  r->price = *price;
  r->have_usage = 0;
  r->turn = r->reply = 0;
  r->started_ns = uv_hrtime();
  /* One commit for the turn's start: it stands between the user's prompt
   * and the request to the model, so each commit saved is latency. */
  int32_t rc = pt_store_batch_begin(r->st);
  if (rc == PT_OK) {
    if (!r->session[0]) rc = start_session(r, user);
    if (rc == PT_OK) rc = save_system(r, system);
    if (rc == PT_OK) rc = pt_store_turn_begin(r->st, r->session, &r->turn);
    if (rc == PT_OK)
      rc = pt_store_message_add(r->st, r->session, r->turn, user, NULL);
    if (rc == PT_OK)
      rc = pt_store_message_begin(r->st, r->session, r->turn, "assistant",
                                  &r->reply);
    rc = pt_store_batch_end(r->st, rc);
    if (rc != PT_OK) r->turn = r->reply = 0;
  }
  if (rc == PT_OK) uv_check_start(&r->flush, on_check);
  failed(r, rc);
}

void pt_chat_record_event(pt_chat_record *r, const pt_chat_event *ev)
{
  if (!r->reply) return;
  int32_t rc = PT_OK;
  switch (ev->kind) {
  case PT_EV_TEXT:
    rc = pt_store_message_delta(r->st, r->reply, PT_STORE_DELTA_TEXT,
                                ev->text);
    break;
  case PT_EV_THINKING:
    rc = pt_store_message_delta(r->st, r->reply, PT_STORE_DELTA_THINKING,
                                ev->text);
    break;
  case PT_EV_THINKING_SIGNATURE:
    rc = pt_store_message_delta(r->st, r->reply, PT_STORE_DELTA_SIGNATURE,
                                ev->text);
    break;
  case PT_EV_TOOL_CALL_END: {
    /* event_json's object for a finished call is the normalized part. */
    cJSON *lines = cJSON_CreateArray();
    if (lines && pt_event_to_json(ev, NULL, lines) == 0 && lines->child)
      rc = pt_store_message_part(r->st, r->reply, lines->child);
    cJSON_Delete(lines);
    break;
  }
  case PT_EV_USAGE:
    r->usage = *ev;
    r->have_usage = 1;
    break;
  default:
    break;
  }
  failed(r, rc);
}

void pt_chat_record_reply_end(pt_chat_record *r, int interrupted)
{
  if (!r->reply) return;
  failed(r, pt_store_message_end(r->st, r->reply, interrupted));
  r->reply = 0;
}

void pt_chat_record_message(pt_chat_record *r, const cJSON *msg)
{
  if (r->turn)
    failed(r, pt_store_message_add(r->st, r->session, r->turn, msg, NULL));
}

void pt_chat_record_reply_begin(pt_chat_record *r)
{
  if (r->turn && !r->reply)
    failed(r, pt_store_message_begin(r->st, r->session, r->turn,
                                     "assistant", &r->reply));
}

void pt_chat_record_end(pt_chat_record *r, int32_t status, uint32_t stop,
                        const char *error)
{
  if (!r->turn) return;
  uv_check_stop(&r->flush);
  int cancelled = stop == PT_STOP_CANCELLED || status == PT_ECANCELED;
  pt_store_usage u = {
    .session_id = r->session, .turn_id = r->turn, .provider = r->provider,
    .model = r->model, .cost_known = r->price.known, .retries = -1,
    .latency_ms = (int64_t)((uv_hrtime() - r->started_ns) / 1000000),
    .outcome = status == PT_OK ? "ok"
               : cancelled     ? "cancelled"
                               : pt_errname(status) };
  if (r->have_usage) {
    u.input_tokens = r->usage.input_tokens;
    u.output_tokens = r->usage.output_tokens;
    u.cache_read_tokens = r->usage.cache_read_tokens;
    u.cache_write_tokens = r->usage.cache_write_tokens;
    u.cost_usd = pt_price_cost(&r->price, &r->usage);
  }
  int32_t rc = pt_store_usage_add(r->st, &u);
  failed(r, rc);
  pt_store_turn_status ts = status == PT_OK ? PT_STORE_TURN_DONE
                            : cancelled     ? PT_STORE_TURN_INTERRUPTED
                                            : PT_STORE_TURN_FAILED;
  failed(r, pt_store_turn_end(r->st, r->turn, ts, pt_stop_name(stop),
                              status == PT_OK ? NULL : error));
  r->turn = r->reply = 0;
}

int pt_chat_record_ok(const pt_chat_record *r)
{
  return !r->failed;
}

void pt_chat_record_close(pt_chat_record *r)
{
  if (r->st && r->turn)
    pt_chat_record_end(r, PT_ECANCELED, PT_STOP_CANCELLED,
                       "the chat ended during the turn");
  if (!uv_is_closing((uv_handle_t *)&r->flush))
    uv_close((uv_handle_t *)&r->flush, NULL);
  if (r->owns_store) pt_store_close(r->st);
  r->st = NULL;
  r->owns_store = 0;
  free(r->system);
  r->system = NULL;
}
