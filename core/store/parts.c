/*
 * core/store/parts.c: a normalized message part (docs/providers.md) as a
 * row of `parts`, and back.
 *
 * The row keeps what search needs in `text` (a text or thinking part's
 * text, a tool call's arguments, a tool result's output) and every other
 * member, unknown ones included, as JSON in `data`. Image bytes leave the
 * JSON for a blob ({"blob": hash} instead of "data"), and so does tool
 * output over 16 KiB (data.text_blob), so each is stored once however often
 * it is sent.
 */
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

/* Move an image's base64 data into a blob; remember its hash. */
static int32_t put_image(pt_store *st, cJSON *img, cJSON *hashes)
{
  cJSON *b64 = cJSON_GetObjectItemCaseSensitive(img, "data");
  if (!cJSON_IsString(b64)) return PT_OK; /* an image by URL */
  unsigned char *bytes;
  size_t n;
  if (pt__base64_decode(b64->valuestring, strlen(b64->valuestring), &bytes,
                        &n) != PT_OK)
    return pt__store_fail(st, PT_EINVAL,
                          "an image part's data is not base64");
  char hash[PT_STORE_HASH_LEN];
  const char *mt = cJSON_GetStringValue(
      cJSON_GetObjectItemCaseSensitive(img, "media_type"));
  int32_t rc = pt__store_blob_put(st, bytes, n, mt, hash);
  free(bytes);
  if (rc != PT_OK) return rc;
  cJSON_DeleteItemFromObjectCaseSensitive(img, "data");
  if (!cJSON_AddStringToObject(img, "blob", hash) ||
      !cJSON_AddItemToArray(hashes, cJSON_CreateString(hash)))
    return pt__store_fail(st, PT_ENOMEM, "out of memory");
  return PT_OK;
}

/* The searchable text of a tool result's content array: its text parts. */
static char *content_text(cJSON *content, cJSON *hashes, pt_store *st,
                          int32_t *rc)
{
  size_t len = 0;
  char *out = calloc(1, 1);
  cJSON *item;
  cJSON_ArrayForEach(item, content) {
    const char *type = cJSON_GetStringValue(
        cJSON_GetObjectItemCaseSensitive(item, "type"));
    if (type && strcmp(type, "image") == 0) {
      if ((*rc = put_image(st, item, hashes)) != PT_OK) break;
      continue;
    }
    const char *t = cJSON_GetStringValue(
        cJSON_GetObjectItemCaseSensitive(item, "text"));
    if (!t || !out) continue;
    size_t n = strlen(t);
    char *p = realloc(out, len + n + 2);
    if (!p) {
      free(out);
      out = NULL;
      continue;
    }
    out = p;
    if (len) out[len++] = '\n';
    memcpy(out + len, t, n + 1);
    len += n;
  }
  if (!out && *rc == PT_OK)
    *rc = pt__store_fail(st, PT_ENOMEM, "out of memory");
  return out;
}

/* Take `key`'s string out of `data` as the row's text. */
static char *take_string(cJSON *data, const char *key)
{
  cJSON *v = cJSON_DetachItemFromObjectCaseSensitive(data, key);
  char *s = NULL;
  if (cJSON_IsString(v)) {
    s = v->valuestring;
    v->valuestring = NULL;
  }
  cJSON_Delete(v);
  return s;
}

/* Split a part into text and data; *text is owned (cJSON_free). */
static int32_t split(pt_store *st, const char *type, cJSON *data,
                     char **text, cJSON *hashes)
{
  int32_t rc = PT_OK;
  if (!strcmp(type, "text") || !strcmp(type, "thinking")) {
    *text = take_string(data, "text");
    if (!*text) return pt__store_fail(st, PT_EINVAL,
                                      "a %s part needs a \"text\" string",
                                      type);
  } else if (!strcmp(type, "tool_call")) {
    cJSON *args = cJSON_DetachItemFromObjectCaseSensitive(data, "arguments");
    if (cJSON_IsString(args)) {
      *text = args->valuestring;
      args->valuestring = NULL;
    } else {
      *text = args ? cJSON_PrintUnformatted(args) : cJSON_malloc(3);
      if (*text && !args) strcpy(*text, "{}");
    }
    cJSON_Delete(args);
    if (!*text) return pt__store_fail(st, PT_ENOMEM, "out of memory");
  } else if (!strcmp(type, "tool_result")) {
    cJSON *content = cJSON_GetObjectItemCaseSensitive(data, "content");
    if (cJSON_IsArray(content)) {
      char *t = content_text(content, hashes, st, &rc);
      if (t) {
        *text = cJSON_malloc(strlen(t) + 1);
        if (*text) strcpy(*text, t);
        free(t);
      }
    } else {
      *text = take_string(data, "content");
    }
  } else if (!strcmp(type, "image")) {
    rc = put_image(st, data, hashes);
  }
  return rc;
}

int32_t pt__store_part_insert(pt_store *st, int64_t message_id, int seq,
                              const cJSON *part)
{
  static const char sql[] =
      "INSERT INTO parts(message_id, seq, type, text, data) "
      "VALUES (?1, ?2, ?3, ?4, ?5)";
  static const char ref_sql[] =
      "INSERT OR IGNORE INTO blob_refs(part_id, hash) VALUES (?1, ?2)";
  const char *type = cJSON_GetStringValue(
      cJSON_GetObjectItemCaseSensitive(part, "type"));
  if (!type)
    return pt__store_fail(st, PT_EINVAL,
                          "a message part needs a \"type\" string");
  cJSON *data = cJSON_Duplicate(part, 1);
  cJSON *hashes = cJSON_CreateArray();
  char *text = NULL, *json = NULL;
  int32_t rc = data && hashes ? PT_OK
                              : pt__store_fail(st, PT_ENOMEM, "out of memory");
  if (rc == PT_OK) {
    cJSON_DeleteItemFromObjectCaseSensitive(data, "type");
    rc = split(st, type, data, &text, hashes);
  }
  /* Big tool output goes to a blob, the row keeping its hash. */
  if (rc == PT_OK && text && !strcmp(type, "tool_result") &&
      strlen(text) > PT__STORE_INLINE_MAX) {
    char hash[PT_STORE_HASH_LEN];
    rc = pt__store_blob_put(st, text, strlen(text), "text/plain", hash);
    if (rc == PT_OK) {
      cJSON_free(text);
      text = NULL;
      if (!cJSON_AddStringToObject(data, "text_blob", hash) ||
          !cJSON_AddItemToArray(hashes, cJSON_CreateString(hash)))
        rc = pt__store_fail(st, PT_ENOMEM, "out of memory");
    }
  }
  if (rc == PT_OK && cJSON_GetArraySize(data) > 0 &&
      !(json = cJSON_PrintUnformatted(data)))
    rc = pt__store_fail(st, PT_ENOMEM, "out of memory");
  sqlite3_stmt *s = rc == PT_OK ? pt__store_stmt(st, sql) : NULL;
  if (s) {
    sqlite3_bind_int64(s, 1, message_id);
    sqlite3_bind_int(s, 2, seq);
    sqlite3_bind_text(s, 3, type, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, text, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 5, json, -1, SQLITE_STATIC);
    rc = pt__store_run(st, s, "add a message part");
  } else if (rc == PT_OK) {
    rc = PT_EIO;
  }
  int64_t part_id = sqlite3_last_insert_rowid(st->db);
  cJSON *h;
  cJSON_ArrayForEach(h, hashes) {
    if (rc != PT_OK) break;
    if (!(s = pt__store_stmt(st, ref_sql))) {
      rc = PT_EIO;
      break;
    }
    sqlite3_bind_int64(s, 1, part_id);
    sqlite3_bind_text(s, 2, h->valuestring, -1, SQLITE_STATIC);
    rc = pt__store_run(st, s, "add a message part");
  }
  cJSON_free(text);
  cJSON_free(json);
  cJSON_Delete(data);
  cJSON_Delete(hashes);
  return rc;
}

/* Put an image's bytes back as base64 data. */
static void get_image(pt_store *st, cJSON *img)
{
  const char *hash = cJSON_GetStringValue(
      cJSON_GetObjectItemCaseSensitive(img, "blob"));
  void *bytes;
  size_t n;
  if (!hash || pt_store_blob_get(st, hash, &bytes, &n, NULL) != PT_OK) return;
  char *b64 = pt__base64_encode(bytes, n);
  free(bytes);
  if (!b64) return;
  cJSON_DeleteItemFromObjectCaseSensitive(img, "blob");
  cJSON_AddStringToObject(img, "data", b64);
  free(b64);
}

cJSON *pt__store_part_load(pt_store *st, const char *type, const char *text,
                           const char *data)
{
  cJSON *rest = data ? cJSON_Parse(data) : NULL;
  cJSON *part = cJSON_CreateObject();
  if (!part) {
    cJSON_Delete(rest);
    return NULL;
  }
  cJSON_AddStringToObject(part, "type", type);
  char *big = NULL;
  const char *blob = cJSON_GetStringValue(
      cJSON_GetObjectItemCaseSensitive(rest, "text_blob"));
  size_t n;
  if (blob && pt_store_blob_get(st, blob, (void **)&big, &n, NULL) == PT_OK)
    text = big;
  cJSON_DeleteItemFromObjectCaseSensitive(rest, "text_blob");
  /* The stored members first, in their order; then the text back in its
   * place. */
  while (rest && rest->child) {
    cJSON *item = cJSON_DetachItemViaPointer(rest, rest->child);
    char *key = item->string;
    item->string = NULL;
    cJSON_AddItemToObject(part, key, item);
    cJSON_free(key);
  }
  cJSON_Delete(rest);

  if (!strcmp(type, "text") || !strcmp(type, "thinking")) {
    cJSON_AddStringToObject(part, "text", text ? text : "");
  } else if (!strcmp(type, "tool_call")) {
    cJSON *args = text ? cJSON_Parse(text) : NULL;
    cJSON_AddItemToObject(part, "arguments",
                          args ? args : cJSON_CreateObject());
  } else if (!strcmp(type, "tool_result")) {
    cJSON *content = cJSON_GetObjectItemCaseSensitive(part, "content");
    cJSON *item;
    if (cJSON_IsArray(content)) {
      cJSON_ArrayForEach(item, content) get_image(st, item);
    } else {
      cJSON_AddStringToObject(part, "content", text ? text : "");
    }
  } else if (!strcmp(type, "image")) {
    get_image(st, part);
  }
  free(big);
  return part;
}
