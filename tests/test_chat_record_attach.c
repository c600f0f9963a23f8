/*
 * tests/test_chat_record_attach.c: chat records on a borrowed store, as a
 * server keeps its sessions on one connection: two records share a store
 * and each saves its own session, a record attached to a session its
 * caller created saves into that one, and closing a record leaves the
 * store open.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat_record.h"
#include "check.h"
#include "harness.h"

static h_fixture f;
static char *dir;
static pt_store *st;

static void fresh(void)
{
  if (st) pt_store_close(st);
  if (dir) h_rmtree(dir);
  free(dir);
  dir = h_tempdir();
  char err[1024];
  if (pt_store_open_dir(dir, NULL, &st, err, sizeof err) != PT_OK) {
    fprintf(stderr, "open: %s\n", err);
    abort();
  }
}

/* One turn of `r`: the user's words, a streamed reply, a clean end. */
static void turn(pt_chat_record *r, const char *words, const char *reply)
{
  static const pt_price free_model = { .known = 1 };
  char json[256];
  snprintf(json, sizeof json, "{\"role\":\"user\",\"content\":\"%s\"}",
           words);
  cJSON *user = cJSON_Parse(json);
  pt_chat_record_begin(r, "test_echo", "echo-1", &free_model, NULL, user);
  pt_chat_event ev = { .struct_size = sizeof ev, .kind = PT_EV_TEXT,
                       .text = { reply, strlen(reply) } };
  pt_chat_record_event(r, &ev);
  pt_chat_record_end(r, PT_OK, PT_STOP_END_TURN, NULL);
  cJSON_Delete(user);
}

/* The session's messages as "role:text|role:text". */
static const char *transcript(const char *id)
{
  static char buf[1024];
  size_t at = 0;
  buf[0] = '\0';
  cJSON *msgs = NULL;
  if (pt_store_messages(st, id, PT_STORE_FOR_REQUEST, &msgs) != PT_OK)
    return pt_store_errmsg(st);
  const cJSON *m;
  cJSON_ArrayForEach(m, msgs) {
    at += (size_t)snprintf(
        buf + at, sizeof buf - at, "%s%s:%s", at ? "|" : "",
        cJSON_GetStringValue(cJSON_GetObjectItem(m, "role")),
        cJSON_GetStringValue(cJSON_GetObjectItem(m, "content")));
    if (at >= sizeof buf) break;
  }
  cJSON_Delete(msgs);
  return buf;
}

static int sessions(void)
{
  cJSON *list = NULL;
  if (pt_store_session_list(st, 0, &list) != PT_OK) return -1;
  int n = cJSON_GetArraySize(list);
  cJSON_Delete(list);
  return n;
}

/* Let the loop run the records' closing handles. */
static void settle(void)
{
  uv_run(&f.k->loop, UV_RUN_NOWAIT);
}

/* ------------------------------------------------------------------------ */

static void two_records_share_one_store_and_close_leaves_it_open(void)
{
  fresh();
  pt_chat_record a, b;
  CHECK_INT(pt_chat_record_attach(&a, f.k, st, NULL), ==, PT_OK);
  CHECK_INT(pt_chat_record_attach(&b, f.k, st, NULL), ==, PT_OK);
  CHECK(a.st == st && b.st == st);
  turn(&a, "hello from a", "reply to a");
  turn(&b, "hello from b", "reply to b");
  CHECK(a.session[0] && b.session[0]);
  CHECK(strcmp(a.session, b.session) != 0);
  CHECK_STR(transcript(a.session),
            "user:hello from a|assistant:reply to a");
  CHECK_STR(transcript(b.session),
            "user:hello from b|assistant:reply to b");
  CHECK(pt_chat_record_ok(&a) && pt_chat_record_ok(&b));

  /* A turn streaming on one record is flushed by its check handle, on
   * the store the other record shares. */
  cJSON *user = cJSON_Parse("{\"role\":\"user\",\"content\":\"more\"}");
  static const pt_price free_model = { .known = 1 };
  pt_chat_record_begin(&a, "test_echo", "echo-1", &free_model, NULL, user);
  cJSON_Delete(user);
  pt_chat_event ev = { .struct_size = sizeof ev, .kind = PT_EV_TEXT,
                       .text = PT_STR_LIT("streamed") };
  pt_chat_record_event(&a, &ev);
  CHECK(pt_store_pending(st));
  settle();
  CHECK(!pt_store_pending(st));

  /* Closing ends the open turn on the shared store, and leaves it open. */
  pt_chat_record_close(&a);
  CHECK(a.st == NULL);
  CHECK_INT(sessions(), ==, 2);
  turn(&b, "still here", "yes");
  CHECK_STR(transcript(b.session),
            "user:hello from b|assistant:reply to b|user:still here|"
            "assistant:yes");
  pt_chat_record_close(&b);
  settle();
  CHECK_INT(sessions(), ==, 2);
  cJSON *s = NULL;
  CHECK_INT(pt_store_session_get(st, a.session, &s), ==, PT_OK);
  CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(s, "last_turn_status")),
            "interrupted");
  cJSON_Delete(s);
}

static void a_session_the_caller_created_gets_the_first_turn(void)
{
  fresh();
  char id[PT_STORE_ID_LEN];
  pt_store_session_info info = { .title = "made by the server",
                                 .agent = "coder" };
  CHECK_INT(pt_store_session_create(st, &info, id), ==, PT_OK);
  pt_chat_record r;
  CHECK_INT(pt_chat_record_attach(&r, f.k, st, id), ==, PT_OK);
  CHECK_STR(r.session, id);
  cJSON *s = pt_chat_record_session(&r);
  CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(s, "title")),
            "made by the server");
  cJSON_Delete(s);
  cJSON *history = NULL;
  const char *system = "x";
  CHECK_INT(pt_chat_record_history(&r, &history, &system), ==, PT_OK);
  CHECK_INT(cJSON_GetArraySize(history), ==, 0);
  CHECK(system == NULL);
  cJSON_Delete(history);
  turn(&r, "first words", "first reply");
  CHECK_INT(sessions(), ==, 1);
  CHECK_STR(transcript(id), "user:first words|assistant:first reply");
  /* The server's title stays: the record titles only what it creates. */
  s = NULL;
  CHECK_INT(pt_store_session_get(st, id, &s), ==, PT_OK);
  CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(s, "title")),
            "made by the server");
  cJSON_Delete(s);
  pt_chat_record_close(&r);
  settle();

  /* And by a prefix, as pt_store_session_find takes it. */
  char prefix[8];
  snprintf(prefix, sizeof prefix, "%.6s", id);
  CHECK_INT(pt_chat_record_attach(&r, f.k, st, prefix), ==, PT_OK);
  CHECK_STR(r.session, id);
  pt_chat_record_close(&r);
  settle();
}

static void a_failed_attach_can_be_closed_and_leaves_the_store_open(void)
{
  fresh();
  pt_chat_record r;
  fprintf(stderr, "(two error lines expected)\n");
  CHECK_INT(pt_chat_record_attach(&r, f.k, st, "0123456789abcdef"), ==,
            PT_ENOENT);
  pt_chat_record_close(&r);
  settle();
  CHECK_INT(sessions(), ==, 0);
  CHECK_INT(pt_chat_record_attach(&r, f.k, NULL, NULL), ==, PT_EINVAL);
  pt_chat_record_close(&r);
  settle();
}

int main(void)
{
  h_fixture_start(&f, NULL, 0, NULL);
  RUN(two_records_share_one_store_and_close_leaves_it_open);
  RUN(a_session_the_caller_created_gets_the_first_turn);
  RUN(a_failed_attach_can_be_closed_and_leaves_the_store_open);
  pt_store_close(st);
  h_rmtree(dir);
  free(dir);
  h_fixture_stop(&f);
  return check_report();
}
