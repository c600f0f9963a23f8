/*
 * tests/test_store_search.c: full-text search finds words in message
 * text, reasoning, tool arguments and tool output; ranks, cuts snippets;
 * and takes any query a person types, FTS5 syntax included, without an
 * error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "harness.h"
#include "store/store.h"

static char *dir;
static pt_store *st;
static char sid[PT_STORE_ID_LEN];

static void add(const char *role, const char *content_json)
{
  char text[4096];
  snprintf(text, sizeof text, "{\"role\":\"%s\",\"content\":%s}", role,
           content_json);
  cJSON *m = cJSON_Parse(text);
  if (!m || pt_store_message_add(st, sid, 0, m, NULL) != PT_OK) {
    fprintf(stderr, "add %s: %s\n", text, pt_store_errmsg(st));
    abort();
  }
  cJSON_Delete(m);
}

static void setup(void)
{
  dir = h_tempdir();
  char err[1024];
  pt_store_session_info info = { .title = "debugging the parser" };
  if (pt_store_open_dir(dir, NULL, &st, err, sizeof err) != PT_OK ||
      pt_store_session_create(st, &info, sid) != PT_OK)
    abort();
  add("user", "\"Why does the tokenizer choke on emoji? Stand near the "
              "door.\"");
  add("assistant",
      "[{\"type\":\"thinking\",\"text\":\"Consider the grapheme clusters.\"},"
      "{\"type\":\"text\",\"text\":\"Let me read the lexer.\"},"
      "{\"type\":\"tool_call\",\"id\":\"c1\",\"name\":\"fs_read\","
      "\"arguments\":{\"path\":\"src/lexer_unicode.c\"}}]");
  add("tool", "[{\"type\":\"tool_result\",\"tool_call_id\":\"c1\","
              "\"content\":\"static int utf8_decode(const char *s) "
              "{ /* surrogate handling */ }\"}]");
  add("assistant", "\"The decoder mishandles surrogate pairs; surrogate "
                   "surrogate surrogate.\"");
  add("user", "\"Ça marche, merci! (parenthesised) \\\"quoted\\\"\"");
}

static cJSON *search(const char *q)
{
  cJSON *hits = NULL;
  int32_t rc = pt_store_search(st, q, 0, &hits);
  if (rc != PT_OK) {
    check_fail(__FILE__, __LINE__, "search '%s': %s", q ? q : "(null)",
               pt_store_errmsg(st));
    return cJSON_CreateArray();
  }
  return hits;
}

static int count(const char *q)
{
  cJSON *h = search(q);
  int n = cJSON_GetArraySize(h);
  cJSON_Delete(h);
  return n;
}

static const char *field(const cJSON *hit, const char *k)
{
  return cJSON_GetStringValue(cJSON_GetObjectItem(hit, k));
}

static void finds_words_in_messages_tool_arguments_and_tool_output(void)
{
  cJSON *h = search("tokenizer");
  CHECK_INT(cJSON_GetArraySize(h), ==, 1);
  CHECK_STR(field(h->child, "role"), "user");
  CHECK_STR(field(h->child, "kind"), "text");
  CHECK_STR(field(h->child, "session_id"), sid);
  CHECK_STR(field(h->child, "session_title"), "debugging the parser");
  CHECK_CONTAINS(field(h->child, "snippet"), "[tokenizer]");
  cJSON_Delete(h);

  h = search("lexer_unicode");
  CHECK_INT(cJSON_GetArraySize(h), ==, 1);
  CHECK_STR(field(h->child, "kind"), "tool_call");
  cJSON_Delete(h);

  h = search("utf8_decode");
  CHECK_INT(cJSON_GetArraySize(h), ==, 1);
  CHECK_STR(field(h->child, "kind"), "tool_result");
  CHECK_STR(field(h->child, "role"), "tool");
  cJSON_Delete(h);

  h = search("grapheme");
  CHECK_INT(cJSON_GetArraySize(h), ==, 1);
  CHECK_STR(field(h->child, "kind"), "thinking");
  cJSON_Delete(h);
}

static void the_best_match_comes_first(void)
{
  cJSON *h = search("surrogate");
  CHECK_INT(cJSON_GetArraySize(h), ==, 2);
  /* Four mentions beat one. */
  CHECK_STR(field(h->child, "kind"), "text");
  CHECK_STR(field(h->child, "role"), "assistant");
  cJSON_Delete(h);
}

static void every_word_must_match_and_a_star_matches_a_prefix(void)
{
  CHECK_INT(count("surrogate pairs"), ==, 1);
  CHECK_INT(count("surrogate nonexistentword"), ==, 0);
  CHECK_INT(count("tokeni*"), ==, 1);
  CHECK_INT(count("lex*"), ==, 2);
  /* Accents fold; words are not stemmed, so a prefix does that job. */
  CHECK_INT(count("ca"), ==, 1);
  CHECK_INT(count("handle"), ==, 0);
  CHECK_INT(count("handl*"), ==, 1);
}

static void fts5_syntax_in_a_query_is_plain_text(void)
{
  static const char *hostile[] = {
    "\"", "\"\"", "\"unbalanced", "a\"b", "*", "**", "***", "tok*en",
    "NEAR", "NEAR(a b)", "NEAR(tokenizer door, 3)", "(", ")", "((", "())",
    "(parenthesised", "a AND", "AND", "OR", "NOT", "a OR b", "NOT tokenizer",
    "-x", "+", "^", "^tokenizer", "col:foo", "body:tokenizer", ":", "{a b}",
    "'", "\\", "tokenizer\"", "\"tokenizer", "", "   ", "\t\n",
    "sel*ect * from search", "x' OR 1=1 --", "\xff\xfe", "é", "🙂",
  };
  for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++) {
    cJSON *h = NULL;
    int32_t rc = pt_store_search(st, hostile[i], 5, &h);
    if (rc != PT_OK)
      check_fail(__FILE__, __LINE__, "query '%s': %s", hostile[i],
                 pt_store_errmsg(st));
    CHECK(cJSON_IsArray(h));
    cJSON_Delete(h);
  }
  /* Operators are words: "near" is in the first message. */
  CHECK_INT(count("NEAR"), ==, 1);
  CHECK_INT(count("NEAR(the"), ==, 1);
  CHECK_INT(count("(parenthesised)"), ==, 1);
  CHECK_INT(count("\"quoted\""), ==, 1);
  CHECK_INT(count("body:tokenizer"), ==, 0);
  CHECK_INT(count("tokenizer \""), ==, 1);
  CHECK_INT(count(NULL), ==, 0);
}

static void unfinished_and_deleted_messages_are_not_found(void)
{
  char other[PT_STORE_ID_LEN];
  pt_store_session_create(st, NULL, other);
  int64_t turn, msg;
  pt_store_turn_begin(st, other, &turn);
  pt_store_message_begin(st, other, turn, "assistant", &msg);
  pt_store_message_delta(st, msg, PT_STORE_DELTA_TEXT,
                         PT_STR_LIT("quixotic words"));
  pt_store_flush(st);
  CHECK_INT(count("quixotic"), ==, 0);
  pt_store_message_end(st, msg, 1);
  CHECK_INT(count("quixotic"), ==, 1);
  pt_store_turn_end(st, turn, PT_STORE_TURN_INTERRUPTED, "cancelled", NULL);
  CHECK_INT(pt_store_session_delete(st, other), ==, PT_OK);
  CHECK_INT(count("quixotic"), ==, 0);
}

static void the_limit_caps_the_hits(void)
{
  cJSON *h = NULL;
  CHECK_INT(pt_store_search(st, "the", 1, &h), ==, PT_OK);
  CHECK_INT(cJSON_GetArraySize(h), ==, 1);
  cJSON_Delete(h);
  CHECK(count("the") > 1);
}

int main(void)
{
  setup();
  RUN(finds_words_in_messages_tool_arguments_and_tool_output);
  RUN(the_best_match_comes_first);
  RUN(every_word_must_match_and_a_star_matches_a_prefix);
  RUN(fts5_syntax_in_a_query_is_plain_text);
  RUN(unfinished_and_deleted_messages_are_not_found);
  RUN(the_limit_caps_the_hits);
  pt_store_close(st);
  h_rmtree(dir);
  free(dir);
  return check_report();
}
