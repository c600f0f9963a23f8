/*
 * tests/support/json_schema_cases.h: what the core/json_schema.c tests
 * (tests/test_json_schema.c, tests/test_json_schema_limits.c) share: JSON
 * written with ' for " so that schemas fit in C strings readably, a UTF-8
 * check for messages, and one schema both files use.
 *
 * Not a general JSON test helper: nothing else uses it.
 */
#ifndef PT_TEST_JSON_SCHEMA_CASES_H
#define PT_TEST_JSON_SCHEMA_CASES_H

#include <stdbool.h>

#include <cjson/cJSON.h>

/* A read_file-like schema: a required string path, an optional
 * non-negative integer offset, and nothing else. */
#define JSC_READ_FILE                                                      \
  "{'type':'object','properties':{'path':{'type':'string'},"               \
  "'offset':{'type':'integer','minimum':0}},'required':['path'],"          \
  "'additionalProperties':false}"

/* Parse `text` with every ' turned into ". Returns a tree the caller frees
 * with cJSON_Delete, or NULL after recording a test failure. */
cJSON *jsc_parse(const char *text);

/* `text` with every ' turned into ", malloc'd; the caller frees it. */
char *jsc_unquote(const char *text);

/* Whether NUL-terminated `s` is well-formed UTF-8. */
bool jsc_valid_utf8(const char *s);

#endif
