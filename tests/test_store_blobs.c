/*
 * tests/test_store_blobs.c: bytes stored once by content hash: the hash
 * itself (SHA-256 against the standard's vectors), images and big tool
 * output moved out of the rows and back, and blobs freed when the last
 * thing naming them goes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "check.h"
#include "harness.h"
#include "store/store_int.h"

static char *dir;
static pt_store *st;
static char sid[PT_STORE_ID_LEN];

static void fresh(void)
{
  if (st) pt_store_close(st);
  if (dir) h_rmtree(dir);
  free(dir);
  dir = h_tempdir();
  char err[1024];
  if (pt_store_open_dir(dir, NULL, &st, err, sizeof err) != PT_OK ||
      pt_store_session_create(st, NULL, sid) != PT_OK)
    abort();
}

static long long q_int(const char *sql)
{
  char path[4200];
  snprintf(path, sizeof path, "%s/portico.db", dir);
  return h_db_int(path, sql);
}

static void sha256_matches_the_standard_vectors(void)
{
  char hex[PT_STORE_HASH_LEN];
  pt__sha256_hex("", 0, hex);
  CHECK_STR(hex,
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  pt__sha256_hex("abc", 3, hex);
  CHECK_STR(hex,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const char *two =
      "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  pt__sha256_hex(two, strlen(two), hex);
  CHECK_STR(hex,
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  char *million = malloc(1000000);
  memset(million, 'a', 1000000);
  pt__sha256_hex(million, 1000000, hex);
  CHECK_STR(hex,
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  free(million);
  /* The lengths around a block's edge, where the padding changes. */
  static const struct { size_t n; const char *hex; } edges[] = {
    { 55, "d5e285683cd4efc02d021a5c62014694958901005d6f71e89e0989fac77e4072" },
    { 56, "04c26261370ee7541549d16dee320c723e3fd14671e66a099afe0a377c16888e" },
    { 63, "75220b47218278e656f2013bb8f0c455a25eaf01e86c64924e9d48d89776d6f2" },
    { 64, "7ce100971f64e7001e8fe5a51973ecdfe1ced42befe7ee8d5fd6219506b5393c" },
    { 65, "9537c5fdf120482f7d58d25e9ed583f52c02b4e304ea814db1633ad565aed7e9" },
    { 119, "000b48d4edf0fa7bee3c6236ecd2785baa5db4eeb8bb54341b029e0d9fa5fb0c" },
    { 120, "13f05a0b594787f5ecd315edc96141bd3243203d1b7d4f0836f37308b276ba98" },
    { 128, "24da1b81d0b16df6428eee73c69fcb2a93c76bc6df706f0c6670fe6bfe800464" },
  };
  char buf[130];
  memset(buf, 'x', sizeof buf);
  for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++) {
    pt__sha256_hex(buf, edges[i].n, hex);
    CHECK_STR(hex, edges[i].hex);
  }
}

static void base64_round_trips_every_length(void)
{
  unsigned char bytes[40];
  for (size_t i = 0; i < sizeof bytes; i++) bytes[i] = (unsigned char)(i * 37);
  for (size_t n = 0; n <= sizeof bytes; n++) {
    char *b64 = pt__base64_encode(bytes, n);
    CHECK_INT(strlen(b64), ==, (n + 2) / 3 * 4);
    unsigned char *back;
    size_t len;
    CHECK_INT(pt__base64_decode(b64, strlen(b64), &back, &len), ==, PT_OK);
    CHECK_INT(len, ==, n);
    CHECK(memcmp(back, bytes, n) == 0);
    free(back);
    free(b64);
  }
  unsigned char *out;
  size_t len;
  CHECK_INT(pt__base64_decode("aGk=\n", 5, &out, &len), ==, PT_OK);
  CHECK_INT(len, ==, 2);
  free(out);
  CHECK_INT(pt__base64_decode("a$==", 4, &out, &len), ==, PT_EINVAL);
  CHECK_INT(pt__base64_decode("aG=k", 4, &out, &len), ==, PT_EINVAL);
  CHECK_INT(pt__base64_decode("a", 1, &out, &len), ==, PT_EINVAL);
}

static void the_same_bytes_are_stored_once(void)
{
  fresh();
  char h1[PT_STORE_HASH_LEN], h2[PT_STORE_HASH_LEN];
  CHECK_INT(pt_store_blob_put(st, "abc", 3, "text/plain", h1), ==, PT_OK);
  CHECK_INT(pt_store_blob_put(st, "abc", 3, "text/plain", h2), ==, PT_OK);
  CHECK_STR(h1,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK_STR(h1, h2);
  CHECK_INT(q_int("SELECT count(*) FROM blobs"), ==, 1);
  void *data;
  size_t len;
  char *mt;
  CHECK_INT(pt_store_blob_get(st, h1, &data, &len, &mt), ==, PT_OK);
  CHECK_INT(len, ==, 3);
  CHECK_STR(data, "abc");
  CHECK_STR(mt, "text/plain");
  free(data);
  free(mt);
  CHECK_INT(pt_store_blob_get(st, "00", &data, &len, NULL), ==, PT_ENOENT);
  CHECK_INT(pt_store_blob_put(st, "", 0, NULL, h1), ==, PT_OK);
  CHECK_INT(pt_store_blob_get(st, h1, &data, &len, NULL), ==, PT_OK);
  CHECK_INT(len, ==, 0);
  free(data);
}

static void images_are_kept_as_bytes_once_and_come_back_as_sent(void)
{
  fresh();
  /* 3000 bytes of a fake PNG, sent in two messages. */
  unsigned char png[3000];
  for (size_t i = 0; i < sizeof png; i++) png[i] = (unsigned char)(i % 251);
  char *b64 = pt__base64_encode(png, sizeof png);
  cJSON *msg = cJSON_CreateObject();
  cJSON_AddStringToObject(msg, "role", "user");
  cJSON *content = cJSON_AddArrayToObject(msg, "content");
  cJSON *img = cJSON_CreateObject();
  cJSON_AddStringToObject(img, "type", "image");
  cJSON_AddStringToObject(img, "media_type", "image/png");
  cJSON_AddStringToObject(img, "data", b64);
  cJSON_AddItemToArray(content, img);
  cJSON *url = cJSON_Parse("{\"type\":\"image\",\"url\":\"https://x/c.jpg\"}");
  cJSON_AddItemToArray(content, url);
  CHECK_INT(pt_store_message_add(st, sid, 0, msg, NULL), ==, PT_OK);
  CHECK_INT(pt_store_message_add(st, sid, 0, msg, NULL), ==, PT_OK);
  CHECK_INT(q_int("SELECT count(*) FROM blobs"), ==, 1);
  CHECK_INT(q_int("SELECT size FROM blobs"), ==, 3000);
  CHECK_INT(q_int("SELECT count(*) FROM blob_refs"), ==, 2);
  /* The row keeps a hash, not the base64. */
  CHECK(q_int("SELECT max(length(data)) FROM parts") < 200);
  cJSON *msgs = NULL;
  CHECK_INT(pt_store_messages(st, sid, PT_STORE_FOR_REQUEST, &msgs), ==,
            PT_OK);
  CHECK_INT(cJSON_GetArraySize(msgs), ==, 2);
  CHECK(cJSON_Compare(msgs->child, msg, 1));
  cJSON_Delete(msgs);
  cJSON_Delete(msg);
  free(b64);
}

static void big_tool_output_goes_to_a_blob_and_stays_searchable(void)
{
  fresh();
  size_t n = 100 * 1024;
  char *out = malloc(n + 1);
  for (size_t i = 0; i < n; i++) out[i] = "abcdefgh \n"[i % 10];
  memcpy(out + 50000, " zebracorn ", 11);
  out[n] = '\0';
  cJSON *msg = cJSON_CreateObject();
  cJSON_AddStringToObject(msg, "role", "tool");
  cJSON *part = cJSON_CreateObject();
  cJSON_AddStringToObject(part, "type", "tool_result");
  cJSON_AddStringToObject(part, "tool_call_id", "c1");
  cJSON_AddStringToObject(part, "content", out);
  cJSON_AddBoolToObject(part, "is_error", 0);
  cJSON_AddItemToArray(cJSON_AddArrayToObject(msg, "content"), part);
  CHECK_INT(pt_store_message_add(st, sid, 0, msg, NULL), ==, PT_OK);
  CHECK_INT(q_int("SELECT count(*) FROM parts WHERE text IS NULL"), ==, 1);
  CHECK_INT(q_int("SELECT size FROM blobs"), ==, (long long)n);
  cJSON *hits = NULL;
  CHECK_INT(pt_store_search(st, "zebracorn", 0, &hits), ==, PT_OK);
  CHECK_INT(cJSON_GetArraySize(hits), ==, 1);
  cJSON_Delete(hits);
  cJSON *msgs = NULL;
  pt_store_messages(st, sid, PT_STORE_FOR_REQUEST, &msgs);
  CHECK(cJSON_Compare(msgs->child, msg, 1));
  cJSON_Delete(msgs);

  /* The same output as a tool call's result shares the blob. */
  pt_store_tool_call tc = { .session_id = sid, .name = "cat",
                            .arguments = PT_STR_LIT("{}") };
  int64_t call;
  pt_store_tool_call_add(st, &tc, &call);
  pt_store_tool_call_start(st, call);
  CHECK_INT(pt_store_tool_call_finish(st, call, 0, (pt_str){ out, n }), ==,
            PT_OK);
  CHECK_INT(q_int("SELECT count(*) FROM blobs"), ==, 1);
  cJSON *c = NULL;
  pt_store_tool_call_get(st, call, &c);
  CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(c, "result")), out);
  cJSON_Delete(c);

  /* Tool output with an image: the image leaves, the text is searched. */
  cJSON *mixed = cJSON_Parse(
      "{\"role\":\"tool\",\"content\":[{\"type\":\"tool_result\","
      "\"tool_call_id\":\"c2\",\"content\":[{\"type\":\"text\",\"text\":"
      "\"screenshot taken\"},{\"type\":\"image\",\"media_type\":"
      "\"image/png\",\"data\":\"iVBORw0KGgo=\"}]}]}");
  CHECK_INT(pt_store_message_add(st, sid, 0, mixed, NULL), ==, PT_OK);
  CHECK_INT(q_int("SELECT count(*) FROM blobs"), ==, 2);
  CHECK_INT(pt_store_search(st, "screenshot", 0, &hits), ==, PT_OK);
  CHECK_INT(cJSON_GetArraySize(hits), ==, 1);
  cJSON_Delete(hits);
  pt_store_messages(st, sid, PT_STORE_FOR_REQUEST, &msgs);
  CHECK(cJSON_Compare(cJSON_GetArrayItem(msgs, 1), mixed, 1));
  cJSON_Delete(msgs);
  cJSON_Delete(mixed);
  cJSON_Delete(msg);
  free(out);
}

static void blobs_go_with_the_last_session_naming_them(void)
{
  fresh();
  char other[PT_STORE_ID_LEN];
  pt_store_session_create(st, NULL, other);
  cJSON *shared = cJSON_Parse("{\"role\":\"user\",\"content\":[{\"type\":"
                              "\"image\",\"media_type\":\"image/png\","
                              "\"data\":\"AAAA\"}]}");
  cJSON *own = cJSON_Parse("{\"role\":\"user\",\"content\":[{\"type\":"
                           "\"image\",\"media_type\":\"image/png\","
                           "\"data\":\"BBBB\"}]}");
  pt_store_message_add(st, sid, 0, shared, NULL);
  pt_store_message_add(st, sid, 0, own, NULL);
  pt_store_message_add(st, other, 0, shared, NULL);
  CHECK_INT(q_int("SELECT count(*) FROM blobs"), ==, 2);
  CHECK_INT(pt_store_session_delete(st, sid), ==, PT_OK);
  CHECK_INT(q_int("SELECT count(*) FROM blobs"), ==, 1);
  CHECK_INT(pt_store_session_delete(st, other), ==, PT_OK);
  CHECK_INT(q_int("SELECT count(*) FROM blobs"), ==, 0);
  cJSON_Delete(shared);
  cJSON_Delete(own);
}

int main(void)
{
  RUN(sha256_matches_the_standard_vectors);
  RUN(base64_round_trips_every_length);
  RUN(the_same_bytes_are_stored_once);
  RUN(images_are_kept_as_bytes_once_and_come_back_as_sent);
  RUN(big_tool_output_goes_to_a_blob_and_stays_searchable);
  RUN(blobs_go_with_the_last_session_naming_them);
  pt_store_close(st);
  h_rmtree(dir);
  free(dir);
  return check_report();
}
