/*
 * tests/test_json_schema_limits.c: where tool-argument validation
 * (core/json_schema.c) says no or stops.
 *
 * Schemas that must be refused at compile time, with the place and the
 * reason; NULL arguments and small message buffers; the shape and length of
 * messages; and hostile schemas and arguments (10,000-deep values, huge
 * enums, exponential anyOf, slow regexes) that must end quickly with an
 * error instead of hanging or crashing, also from many threads at once. The
 * keyword-by-keyword tables are in tests/test_json_schema.c.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "check.h"
#include "json_schema.h"
#include "json_schema_cases.h"
#include "portico/errors.h"

/* ---- schemas refused at compile time ---------------------------------- */

static void expect_compile_error(const char *schema_text, const char *fragment)
{
  char err[512] = "unset";
  pt_json_schema *s = (pt_json_schema *)&err; /* must be reset to NULL */
  cJSON *j = jsc_parse(schema_text);
  char *want = jsc_unquote(fragment);
  int32_t rc = pt_json_schema_compile(j, &s, err, sizeof err);
  if (rc != PT_EINVAL || s || !strstr(err, want))
    check_fail(__FILE__, __LINE__, "%s: expected refusal containing \"%s\", got %d \"%s\"",
               schema_text, want, rc, err);
  CHECK(jsc_valid_utf8(err));
  free(want);
  cJSON_Delete(j);
}

static void malformed_keywords_are_refused_with_their_location(void)
{
  expect_compile_error("{'type':'strng'}", "schema #/type: unknown type 'strng'");
  expect_compile_error("{'type':5}", "schema #/type: must be a type name or a non-empty array of them, got number 5");
  expect_compile_error("{'type':[]}", "#/type: must be a type name");
  expect_compile_error("{'type':['string',1]}", "#/type: unknown type 1");
  expect_compile_error("{'minimum':'3'}", "schema #/minimum: must be a number, got string '3'");
  expect_compile_error("{'exclusiveMaximum':null}", "#/exclusiveMaximum: must be a number, got null");
  expect_compile_error("{'minLength':-1}", "#/minLength: must be a non-negative integer, got number -1");
  expect_compile_error("{'maxItems':1.5}", "#/maxItems: must be a non-negative integer, got number 1.5");
  expect_compile_error("{'multipleOf':0}", "#/multipleOf: must be greater than 0");
  expect_compile_error("{'required':'a'}", "#/required: must be an array of property names, got string 'a'");
  expect_compile_error("{'required':['a',1]}", "#/required: must be an array of property names");
  expect_compile_error("{'properties':[]}", "#/properties: must be an object of schemas, got array []");
  expect_compile_error("{'properties':{'a':5}}", "schema #/properties/a: must be a schema (an object, true or false), got number 5");
  expect_compile_error("{'properties':{'a/b':{'items':'x'}}}", "schema #/properties/a~1b/items: must be a schema");
  expect_compile_error("{'anyOf':[]}", "#/anyOf: must be a non-empty array of schemas, got array []");
  expect_compile_error("{'oneOf':{}}", "#/oneOf: must be a non-empty array of schemas");
  expect_compile_error("{'allOf':[{},{'type':'x'}]}", "schema #/allOf/1/type: unknown type 'x'");
  expect_compile_error("{'enum':5}", "#/enum: must be an array, got number 5");
  expect_compile_error("{'uniqueItems':1}", "#/uniqueItems: must be true or false, got number 1");
  expect_compile_error("{'pattern':5}", "#/pattern: must be a string, got number 5");
  expect_compile_error("{'prefixItems':[{}],'items':[{}]}", "#/items: must be a schema when prefixItems is present");
  expect_compile_error("{'$ref':5}", "#/$ref: must be a string, got number 5");
  expect_compile_error("5", "schema #: must be a schema (an object, true or false), got number 5");
  expect_compile_error("'string'", "schema #: must be a schema");
  expect_compile_error("null", "schema #: must be a schema");
}

static void patterns_posix_cannot_express_are_refused(void)
{
  expect_compile_error("{'pattern':'(?=a)'}", "schema #/pattern: cannot use pattern '(?=a)': lookaround assertions are not supported");
  expect_compile_error("{'pattern':'(?<!a)b'}", "lookaround assertions are not supported");
  expect_compile_error("{'pattern':'(a)\\\\1'}", "back-references are not supported");
  expect_compile_error("{'pattern':'\\\\p{L}'}", "an escape POSIX regex lacks");
  expect_compile_error("{'pattern':'a\\\\'}", "it ends with a backslash");
  expect_compile_error("{'pattern':'[a-z'}", "a [...] class is not closed");
  expect_compile_error("{'pattern':'[]'}", "the empty class [] is not supported");
  expect_compile_error("{'pattern':'[\\\\D]'}", "inside [...] are not supported");
  expect_compile_error("{'pattern':'\\\\0'}", "NUL");
  expect_compile_error("{'pattern':'\\\\ud800'}", "unpaired surrogate");
  expect_compile_error("{'pattern':'a('}", "schema #/pattern: cannot use pattern 'a(': ");
  expect_compile_error("{'pattern':'a{5000}'}", "a repeat count above 1000 is not supported");
  expect_compile_error("{'pattern':'(a{1000}){1000}'}", "repeats expand to more than 1000 items");
  expect_compile_error("{'pattern':'((((((((((((((((((((((((((((((((((a))))))))))))))))))))))))))))))))))'}",
                       "groups nest too deeply");
  expect_compile_error("{'pattern':'^[\xd0\xb0-\xd1\x8f]+$'}", "non-ASCII ends are not supported");
  expect_compile_error("{'patternProperties':{'(':{}}}", "schema #/patternProperties/(: cannot use pattern '('");
  expect_compile_error("{'properties':{'x':{'pattern':'(?i)x'}}}", "schema #/properties/x/pattern: cannot use pattern");
}

static void refs_must_be_local_resolvable_and_acyclic(void)
{
  expect_compile_error("{'$ref':'http://example.com/s.json'}", "schema #/$ref: 'http://example.com/s.json' must be '#' or start with '#/'");
  expect_compile_error("{'$ref':'#anchor'}", "only local references are supported");
  expect_compile_error("{'$ref':'other.json#/a'}", "only local references");
  expect_compile_error("{'$ref':'#/$defs/missing','$defs':{}}", "schema #/$ref: '#/$defs/missing' does not point at anything");
  expect_compile_error("{'properties':{'a':{'$ref':'#/$defs'}},'$defs':{}}",
                       "schema #/properties/a/$ref: '#/$defs' does not point at a subschema");
  expect_compile_error("{'enum':[{}],'$ref':'#/enum/0'}", "does not point at a subschema");
  expect_compile_error("{'$ref':'#'}", "schema #/$ref: '#' leads back to itself without descending into the value");
  expect_compile_error("{'$defs':{'a':{'$ref':'#/$defs/b'},'b':{'allOf':[{'$ref':'#/$defs/a'}]}},'$ref':'#/$defs/a'}",
                       "(a $ref cycle)");
  expect_compile_error("{'$defs':{'a':{'anyOf':[{'type':'null'},{'not':{'$ref':'#/$defs/a'}}]}},"
                       "'properties':{'x':{'$ref':'#/$defs/a'}}}", "$ref cycle");
  expect_compile_error("{'$defs':{'a':{'if':{'$ref':'#/$defs/a'}}}}", "$ref cycle");
}

static void compile_and_validate_handle_null_and_small_buffers(void)
{
  char err[64];
  pt_json_schema *s = NULL;
  CHECK_INT(pt_json_schema_compile(NULL, &s, err, sizeof err), ==, PT_EINVAL);
  CHECK(s == NULL);
  CHECK_CONTAINS(err, "no schema");
  cJSON *j = jsc_parse(JSC_READ_FILE), *bad = jsc_parse("{'offset':-1,'x':1}");
  CHECK_INT(pt_json_schema_compile(j, NULL, err, sizeof err), ==, PT_EINVAL);
  CHECK_INT(pt_json_schema_compile(j, &s, NULL, 0), ==, PT_OK);
  cJSON_Delete(j); /* the schema keeps its own copy */
  CHECK_INT(pt_json_schema_validate(s, NULL, err, sizeof err), ==, PT_EINVAL);
  CHECK_INT(pt_json_schema_validate(NULL, bad, err, sizeof err), ==, PT_EINVAL);
  char tiny[12];
  memset(tiny, 'x', sizeof tiny);
  CHECK_INT(pt_json_schema_validate(s, bad, tiny, sizeof tiny), ==, PT_EINVAL);
  CHECK_STR(tiny, "/: missing ");
  CHECK_INT(pt_json_schema_validate(s, bad, tiny, 1), ==, PT_EINVAL);
  CHECK_STR(tiny, "");
  CHECK_INT(pt_json_schema_validate(s, bad, NULL, 0), ==, PT_EINVAL);
  pt_json_schema_free(s);
  pt_json_schema_free(NULL);
  cJSON_Delete(bad);
}

/* Invalid UTF-8 in a value, cut excerpts and cut buffers still give valid
 * UTF-8, since the message goes back to the provider inside JSON. */
static void messages_are_valid_utf8_and_short(void)
{
  char err[256];
  pt_json_schema *s = NULL;
  cJSON *schema = jsc_parse("{'properties':{'a':{'type':'number'},'b':{'enum':['x']}}}");
  CHECK_INT(pt_json_schema_compile(schema, &s, err, sizeof err), ==, PT_OK);
  cJSON *inst = cJSON_CreateObject();
  cJSON_AddStringToObject(inst, "a", "bad \xff\xfe utf8 \xe6\x97");
  char *big = malloc(1 << 20);
  memset(big, 'a', (1 << 20) - 1);
  big[(1 << 20) - 1] = '\0';
  for (int i = 0; i < 1000; i++) memcpy(big + 3 * i + 1, "\xe6\x97\xa5", 3);
  cJSON_AddStringToObject(inst, "b", big);
  CHECK_INT(pt_json_schema_validate(s, inst, err, sizeof err), ==, PT_EINVAL);
  CHECK(jsc_valid_utf8(err));
  CHECK_CONTAINS(err, "/a: expected number, got string \"bad \xef\xbf\xbd\xef\xbf\xbd utf8 \xef\xbf\xbd");
  CHECK_CONTAINS(err, "/b: must be one of \"x\" (got \"a\xe6\x97\xa5");
  CHECK_CONTAINS(err, "...)");
  CHECK(strlen(err) < 250);
  for (size_t cap = 1; cap < 200; cap++) {
    char small[200];
    pt_json_schema_validate(s, inst, small, cap);
    CHECK(jsc_valid_utf8(small));
    CHECK(strlen(small) < cap);
  }
  free(big);
  cJSON_Delete(inst);
  cJSON_Delete(schema);
  pt_json_schema_free(s);
}

static void at_most_five_errors_are_reported(void)
{
  char err[2048];
  pt_json_schema *s = NULL;
  cJSON *schema = jsc_parse("{'additionalProperties':{'type':'string'}}");
  CHECK_INT(pt_json_schema_compile(schema, &s, err, sizeof err), ==, PT_OK);
  cJSON *inst = cJSON_CreateObject();
  for (int i = 0; i < 20; i++) {
    char k[8];
    snprintf(k, sizeof k, "k%d", i);
    cJSON_AddNumberToObject(inst, k, i);
  }
  CHECK_INT(pt_json_schema_validate(s, inst, err, sizeof err), ==, PT_EINVAL);
  int seps = 0;
  for (const char *p = err; (p = strstr(p, "; ")); p++) seps++;
  CHECK_INT(seps, ==, 4);
  CHECK_CONTAINS(err, "/k0: expected string, got number 0; /k1:");
  CHECK_CONTAINS(err, "/k4: expected string, got number 4");
  cJSON_Delete(inst);
  cJSON_Delete(schema);
  pt_json_schema_free(s);
}

/* ---- hostile schemas and arguments ------------------------------------ */

static double now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* [[[...]]] or {"a":{"a":...}} built by hand: cJSON_Parse stops at 1000. */
static cJSON *deep(int levels, bool object)
{
  cJSON *v = cJSON_CreateNumber(1);
  for (int i = 0; i < levels; i++) {
    cJSON *outer = object ? cJSON_CreateObject() : cJSON_CreateArray();
    if (object) cJSON_AddItemToObject(outer, "a", v);
    else cJSON_AddItemToArray(outer, v);
    v = outer;
  }
  return v;
}

static int32_t check_value(const char *schema_text, const cJSON *inst, char *err, size_t errlen)
{
  pt_json_schema *s = NULL;
  cJSON *schema = jsc_parse(schema_text);
  int32_t rc = pt_json_schema_compile(schema, &s, err, errlen);
  if (rc != PT_OK) {
    check_fail(__FILE__, __LINE__, "%s: %s", schema_text, err);
    cJSON_Delete(schema);
    return rc;
  }
  rc = pt_json_schema_validate(s, inst, err, errlen);
  pt_json_schema_free(s);
  cJSON_Delete(schema);
  return rc;
}

static void values_nested_10000_deep_end_with_an_error(void)
{
  char err[512];
  cJSON *arr = deep(10000, false), *obj = deep(10000, true);
  CHECK_INT(check_value("{'type':'array'}", arr, err, sizeof err), ==, PT_OK);
  CHECK_INT(check_value("{'items':{'$ref':'#'}}", arr, err, sizeof err), ==, PT_EINVAL);
  CHECK_CONTAINS(err, "/0/0/0/0/0/0/0/0/0/0");
  CHECK_CONTAINS(err, "nested too deeply to validate (more than 256 levels of subschemas)");
  CHECK_INT(check_value("{'additionalProperties':{'$ref':'#'}}", obj, err, sizeof err), ==, PT_EINVAL);
  CHECK_CONTAINS(err, "/a/a/a/a/a");
  CHECK_CONTAINS(err, "nested too deeply");
  CHECK_INT(check_value("{'type':'string'}", arr, err, sizeof err), ==, PT_EINVAL);
  CHECK_CONTAINS(err, "/: expected string, got array [[[[[[[[[[");
  CHECK_INT(check_value("{'const':[[[1]]]}", arr, err, sizeof err), ==, PT_EINVAL);
  CHECK_CONTAINS(err, "/: must be [[[1]]] (got [[[[[");
  CHECK_INT(check_value("{'enum':[1,{'a':{'a':2}}]}", obj, err, sizeof err), ==, PT_EINVAL);
  cJSON *pair = cJSON_CreateArray();
  cJSON_AddItemToArray(pair, deep(10000, false));
  cJSON_AddItemToArray(pair, deep(10000, false));
  CHECK_INT(check_value("{'uniqueItems':true}", pair, err, sizeof err), ==, PT_EINVAL);
  CHECK_CONTAINS(err, "/: value nested more than 256 levels deep to compare");
  cJSON_Delete(pair);
  cJSON_Delete(arr);
  cJSON_Delete(obj);
}

static void schemas_nested_too_deeply_are_refused(void)
{
  char err[1024];
  pt_json_schema *s = NULL;
  cJSON *schema = cJSON_CreateObject(), *cur = schema;
  for (int i = 0; i < 100; i++) {
    cJSON *props = cJSON_AddObjectToObject(cur, "properties");
    cur = cJSON_AddObjectToObject(props, "p");
  }
  CHECK_INT(pt_json_schema_compile(schema, &s, err, sizeof err), ==, PT_EINVAL);
  CHECK_STR(err, "schema #: nested deeper than 128 levels");
  CHECK(s == NULL);
  cJSON_Delete(schema);
  cJSON *enum_deep = cJSON_CreateObject();
  cJSON *list = cJSON_AddArrayToObject(enum_deep, "enum");
  cJSON_AddItemToArray(list, deep(10000, false));
  CHECK_INT(pt_json_schema_compile(enum_deep, &s, err, sizeof err), ==, PT_EINVAL);
  CHECK_CONTAINS(err, "nested deeper than 128 levels");
  cJSON_Delete(enum_deep);
  /* 60 levels of properties (120 of JSON) are fine, and so is a path that
   * long in a message. */
  schema = cJSON_CreateObject(), cur = schema;
  for (int i = 0; i < 60; i++) {
    cJSON *props = cJSON_AddObjectToObject(cur, "properties");
    cur = cJSON_AddObjectToObject(props, "a_fairly_long_property_name");
  }
  cJSON_AddStringToObject(cur, "type", "string");
  CHECK_INT(pt_json_schema_compile(schema, &s, err, sizeof err), ==, PT_OK);
  cJSON *inst = cJSON_CreateNumber(1);
  for (int i = 0; i < 60; i++) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "a_fairly_long_property_name", inst);
    inst = o;
  }
  CHECK_INT(pt_json_schema_validate(s, inst, err, sizeof err), ==, PT_EINVAL);
  CHECK_CONTAINS(err, "/a_fairly_long_property_name/a_fairly");
  CHECK_CONTAINS(err, "...: expected string, got number 1");
  cJSON_Delete(inst);
  cJSON_Delete(schema);
  pt_json_schema_free(s);
}

static void huge_enum_is_linear_and_its_message_short(void)
{
  char err[512];
  cJSON *schema = cJSON_CreateObject(), *list = cJSON_AddArrayToObject(schema, "enum");
  for (int i = 0; i < 100000; i++) {
    char v[16];
    snprintf(v, sizeof v, "v%d", i);
    cJSON_AddItemToArray(list, cJSON_CreateString(v));
  }
  pt_json_schema *s = NULL;
  CHECK_INT(pt_json_schema_compile(schema, &s, err, sizeof err), ==, PT_OK);
  cJSON *hit = cJSON_CreateString("v99999"), *miss = cJSON_CreateString("nope");
  double t0 = now();
  CHECK_INT(pt_json_schema_validate(s, hit, err, sizeof err), ==, PT_OK);
  CHECK_INT(pt_json_schema_validate(s, miss, err, sizeof err), ==, PT_EINVAL);
  CHECK(now() - t0 < 2.0);
  CHECK_CONTAINS(err, "/: must be one of \"v0\",\"v1\",\"v2\"");
  CHECK_CONTAINS(err, ",... (got \"nope\")");
  CHECK(strlen(err) < 200);
  cJSON_Delete(hit);
  cJSON_Delete(miss);
  cJSON_Delete(schema);
  pt_json_schema_free(s);
}

static void quadratic_and_exponential_work_stops_at_the_step_limit(void)
{
  char err[512];
  cJSON *arr = cJSON_CreateArray();
  for (int i = 0; i < 20000; i++) cJSON_AddItemToArray(arr, cJSON_CreateNumber(i));
  double t0 = now();
  CHECK_INT(check_value("{'uniqueItems':true}", arr, err, sizeof err), ==, PT_EINVAL);
  CHECK_CONTAINS(err, "/: validation stopped: the arguments need more than 1000000 steps");
  CHECK(now() - t0 < 5.0);
  cJSON_Delete(arr);
  /* d0 tries d1 twice, which tries d2 twice, ...: 2^30 paths, all failing. */
  char schema[4096] = "{'$defs':{";
  for (int i = 0; i < 30; i++) {
    char def[128];
    snprintf(def, sizeof def, "'d%d':{'anyOf':[{'$ref':'#/$defs/d%d'},{'$ref':'#/$defs/d%d'}]},", i, i + 1, i + 1);
    strcat(schema, def);
  }
  strcat(schema, "'d30':false},'$ref':'#/$defs/d0'}");
  cJSON *one = cJSON_CreateNumber(1);
  t0 = now();
  CHECK_INT(check_value(schema, one, err, sizeof err), ==, PT_EINVAL);
  CHECK_CONTAINS(err, "validation stopped");
  CHECK(now() - t0 < 5.0);
  cJSON_Delete(one);
}

static void large_ordinary_arguments_fit_the_step_limit(void)
{
  char err[512];
  cJSON *list = cJSON_CreateArray();
  for (int i = 0; i < 10000; i++) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "path", "src/some/file.c");
    cJSON_AddNumberToObject(o, "offset", i);
    cJSON_AddItemToArray(list, o);
  }
  CHECK_INT(check_value("{'type':'array','items':" JSC_READ_FILE "}", list, err, sizeof err), ==, PT_OK);
  cJSON_Delete(list);
}

static void pattern_input_is_capped_before_regexec(void)
{
  char err[512];
  char *s = malloc(PT_JSON_SCHEMA_MAX_PATTERN_INPUT + 2);
  memset(s, 'a', PT_JSON_SCHEMA_MAX_PATTERN_INPUT + 1);
  s[PT_JSON_SCHEMA_MAX_PATTERN_INPUT + 1] = '\0';
  cJSON *over = cJSON_CreateString(s);
  s[PT_JSON_SCHEMA_MAX_PATTERN_INPUT] = '\0';
  cJSON *at = cJSON_CreateString(s);
  double t0 = now();
  CHECK_INT(check_value("{'pattern':'(a|aa)*b'}", at, err, sizeof err), ==, PT_EINVAL);
  CHECK_CONTAINS(err, "/: must match pattern \"(a|aa)*b\" (got \"aaaa");
  CHECK_INT(check_value("{'pattern':'(.*a){20}x'}", over, err, sizeof err), ==, PT_EINVAL);
  CHECK_CONTAINS(err, "/: is 4097 bytes long; strings checked against pattern \"(.*a){20}x\" may be at most 4096 bytes");
  CHECK(now() - t0 < 5.0);
  cJSON *obj = cJSON_CreateObject();
  cJSON_AddNumberToObject(obj, s, 1);
  CHECK_INT(check_value("{'patternProperties':{'^b':{}}}", obj, err, sizeof err), ==, PT_OK);
  s[0] = 'x';
  s[PT_JSON_SCHEMA_MAX_PATTERN_INPUT] = 'a';
  cJSON_AddNumberToObject(obj, s, 1);
  CHECK_INT(check_value("{'patternProperties':{'^b':{}}}", obj, err, sizeof err), ==, PT_EINVAL);
  CHECK_CONTAINS(err, "/: property name \"xaaa");
  CHECK_CONTAINS(err, "is longer than the 4096 bytes checked against patternProperties");
  cJSON_Delete(obj);
  cJSON_Delete(over);
  cJSON_Delete(at);
  free(s);
}

typedef struct shared {
  pt_json_schema *s;
  int failures;
} shared;

static void *validate_many(void *arg)
{
  shared *sh = arg;
  cJSON *good = jsc_parse("{'id':'ab-12','n':[1,2]}"), *bad = jsc_parse("{'id':'AB','n':[1,1]}");
  for (int i = 0; i < 2000; i++) {
    char err[256];
    if (pt_json_schema_validate(sh->s, good, err, sizeof err) != PT_OK) sh->failures++;
    if (pt_json_schema_validate(sh->s, bad, err, sizeof err) != PT_EINVAL ||
        !strstr(err, "/id: must match pattern") || !strstr(err, "/n: items 0 and 1 are equal"))
      sh->failures++;
  }
  cJSON_Delete(good);
  cJSON_Delete(bad);
  return NULL;
}

static void one_compiled_schema_serves_many_threads(void)
{
  char err[256];
  shared sh[4] = {{0}};
  pt_json_schema *s = NULL;
  cJSON *schema = jsc_parse("{'properties':{'id':{'pattern':'^[a-z]+-\\\\d+$'},"
                        "'n':{'uniqueItems':true,'items':{'type':'integer'}}}}");
  CHECK_INT(pt_json_schema_compile(schema, &s, err, sizeof err), ==, PT_OK);
  pthread_t t[4];
  for (int i = 0; i < 4; i++) {
    sh[i].s = s;
    pthread_create(&t[i], NULL, validate_many, &sh[i]);
  }
  for (int i = 0; i < 4; i++) {
    pthread_join(t[i], NULL);
    CHECK_INT(sh[i].failures, ==, 0);
  }
  pt_json_schema_free(s);
  cJSON_Delete(schema);
}

int main(void)
{
  RUN(malformed_keywords_are_refused_with_their_location);
  RUN(patterns_posix_cannot_express_are_refused);
  RUN(refs_must_be_local_resolvable_and_acyclic);
  RUN(compile_and_validate_handle_null_and_small_buffers);
  RUN(messages_are_valid_utf8_and_short);
  RUN(at_most_five_errors_are_reported);
  RUN(values_nested_10000_deep_end_with_an_error);
  RUN(schemas_nested_too_deeply_are_refused);
  RUN(huge_enum_is_linear_and_its_message_short);
  RUN(quadratic_and_exponential_work_stops_at_the_step_limit);
  RUN(large_ordinary_arguments_fit_the_step_limit);
  RUN(pattern_input_is_capped_before_regexec);
  RUN(one_compiled_schema_serves_many_threads);
  return check_report();
}
