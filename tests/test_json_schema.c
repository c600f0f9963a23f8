/*
 * tests/test_json_schema.c: tool-argument validation (core/json_schema.c).
 *
 * Most cases are rows of (schema, instance, valid?, message fragment),
 * grouped by keyword; JSON in the rows is written with ' for " and turned
 * back before parsing. Then: schemas that must be refused at compile time,
 * the schemas of the bundled tools, and hostile schemas and arguments
 * (10,000-deep values, huge enums, exponential anyOf, slow regexes) that
 * must end quickly with an error instead of hanging or crashing.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "check.h"
#include "json_schema.h"
#include "portico/errors.h"

typedef struct row {
  const char *schema, *instance;
  bool valid;
  const char *msg; /* a fragment of the error; NULL when valid */
} row;

#define ROWS(name) run_rows(name, sizeof name / sizeof name[0])

/* ' becomes ", so rows stay readable; no row needs a real apostrophe. */
static cJSON *parse(const char *text)
{
  char *s = strdup(text);
  for (char *p = s; *p; p++)
    if (*p == '\'') *p = '"';
  cJSON *j = cJSON_Parse(s);
  free(s);
  if (!j) check_fail(__FILE__, __LINE__, "test JSON does not parse: %s", text);
  return j;
}

static char *unquote(const char *text)
{
  char *s = strdup(text);
  for (char *p = s; *p; p++)
    if (*p == '\'') *p = '"';
  return s;
}

static bool valid_utf8(const char *s)
{
  for (const unsigned char *p = (const unsigned char *)s; *p;) {
    int n = *p < 0x80 ? 1 : (*p & 0xE0) == 0xC0 ? 2 : (*p & 0xF0) == 0xE0 ? 3 : (*p & 0xF8) == 0xF0 ? 4 : 0;
    if (!n) return false;
    for (int i = 1; i < n; i++)
      if ((p[i] & 0xC0) != 0x80) return false;
    p += n;
  }
  return true;
}

static void run_rows(const row *rows, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    const row *r = &rows[i];
    char err[1024] = "unset";
    pt_json_schema *s = NULL;
    cJSON *schema = parse(r->schema), *inst = parse(r->instance);
    if (!schema || !inst) goto next;
    int32_t rc = pt_json_schema_compile(schema, &s, err, sizeof err);
    if (rc != PT_OK) {
      check_fail(__FILE__, __LINE__, "row %zu: schema %s does not compile: %s", i, r->schema, err);
      goto next;
    }
    rc = pt_json_schema_validate(s, inst, err, sizeof err);
    if (r->valid && rc != PT_OK)
      check_fail(__FILE__, __LINE__, "row %zu: %s against %s: expected valid, got \"%s\"", i,
                 r->instance, r->schema, err);
    if (!r->valid) {
      char *want = unquote(r->msg);
      if (rc != PT_EINVAL || !strstr(err, want))
        check_fail(__FILE__, __LINE__, "row %zu: %s against %s: expected error containing \"%s\", "
                   "got %d \"%s\"", i, r->instance, r->schema, want, rc, err);
      free(want);
    }
    CHECK(valid_utf8(err));
    CHECK_INT(pt_json_schema_validate(s, inst, NULL, 0), ==, r->valid ? PT_OK : PT_EINVAL);
  next:
    pt_json_schema_free(s);
    cJSON_Delete(schema);
    cJSON_Delete(inst);
  }
}

static void type_names_json_types_and_integer_means_no_fraction(void)
{
  static const row rows[] = {
    {"{'type':'string'}", "'a'", true, NULL},
    {"{'type':'string'}", "5", false, "/: expected string, got number 5"},
    {"{'type':'integer'}", "5", true, NULL},
    {"{'type':'integer'}", "5.0", true, NULL},
    {"{'type':'integer'}", "-0", true, NULL},
    {"{'type':'integer'}", "1e300", true, NULL},
    {"{'type':'integer'}", "5.5", false, "/: expected integer, got number 5.5"},
    {"{'type':'integer'}", "'5'", false, "expected integer, got string '5'"},
    {"{'type':'number'}", "5", true, NULL},
    {"{'type':'number'}", "0.1", true, NULL},
    {"{'type':'number'}", "'5'", false, "/: expected number, got string '5'"},
    {"{'type':'boolean'}", "true", true, NULL},
    {"{'type':'boolean'}", "0", false, "expected boolean, got number 0"},
    {"{'type':'null'}", "null", true, NULL},
    {"{'type':'null'}", "false", false, "expected null, got boolean false"},
    {"{'type':'array'}", "[]", true, NULL},
    {"{'type':'array'}", "{}", false, "expected array, got object {}"},
    {"{'type':'object'}", "{'a':[1,2]}", true, NULL},
    {"{'type':'object'}", "[1,2]", false, "/: expected object, got array [1,2]"},
    {"{'type':['string','null']}", "null", true, NULL},
    {"{'type':['string','null']}", "'x'", true, NULL},
    {"{'type':['string','null']}", "1", false, "expected null or string, got number 1"},
    {"{'type':['integer','boolean']}", "2.5", false, "expected boolean or integer, got number 2.5"},
    {"{}", "{'anything':[1,'x',null]}", true, NULL},
  };
  ROWS(rows);
}

static void boolean_schemas_and_unknown_keywords(void)
{
  static const row rows[] = {
    {"true", "{'a':1}", true, NULL},
    {"false", "1", false, "/: no value is allowed here"},
    {"{'properties':{'a':true}}", "{'a':[1]}", true, NULL},
    {"{'properties':{'a':false}}", "{'b':1}", true, NULL},
    {"{'properties':{'a':false}}", "{'a':1}", false, "/: property 'a' is not allowed"},
    {"{'items':false}", "[]", true, NULL},
    {"{'items':false}", "[1]", false, "/: must have at most 0 items (got 1)"},
    {"{'type':'string','format':'email','title':'t','description':'d','default':'x',"
     "'examples':['a'],'x-vendor':{'anything':1},'contains':{'type':'number'}}",
     "'not an email'", true, NULL},
  };
  ROWS(rows);
}

#define READ_FILE                                                          \
  "{'type':'object','properties':{'path':{'type':'string'},"               \
  "'offset':{'type':'integer','minimum':0}},'required':['path'],"          \
  "'additionalProperties':false}"

static void properties_required_and_additional_properties(void)
{
  static const row rows[] = {
    {READ_FILE, "{'path':'a.txt'}", true, NULL},
    {READ_FILE, "{'path':'a.txt','offset':10}", true, NULL},
    {READ_FILE, "{}", false, "/: missing required property 'path'"},
    {READ_FILE, "{'path':'a','offset':-1}", false, "/offset: must be >= 0 (got -1)"},
    {READ_FILE, "{'path':'a','offset':1.5}", false, "/offset: expected integer, got number 1.5"},
    {READ_FILE, "{'path':'a','extra':1}", false, "/: additional property 'extra' is not allowed"},
    {READ_FILE, "{'path':3}", false, "/path: expected string, got number 3"},
    {READ_FILE, "'a.txt'", false, "/: expected object, got string 'a.txt'"},
    {READ_FILE, "{'offset':-1,'x':1}", false,
     "/: missing required property 'path'; /offset: must be >= 0 (got -1); "
     "/: additional property 'x' is not allowed"},
    {"{'required':['a']}", "5", true, NULL},
    {"{'required':['a','b']}", "{'a':null}", false, "/: missing required property 'b'"},
    {"{'additionalProperties':{'type':'number'}}", "{'a':1,'b':'x'}", false,
     "/b: expected number, got string 'x'"},
    {"{'properties':{'a':{}},'additionalProperties':{'type':'number'}}", "{'a':'s','b':2}", true, NULL},
    {"{'properties':{'items':{'type':'array','items':{'type':'object','additionalProperties':false}}}}",
     "{'items':[{},{},{},{'foo':1}]}", false, "/items/3: additional property 'foo' is not allowed"},
    {"{'properties':{'a/b':{'properties':{'c~d':{'type':'string'}}}}}", "{'a/b':{'c~d':1}}", false,
     "/a~1b/c~0d: expected string, got number 1"},
    {"{'properties':{'':{'type':'string'}}}", "{'':1}", false, "/: expected string, got number 1"},
    {"{'minProperties':1}", "{}", false, "/: must have at least 1 property (got 0)"},
    {"{'maxProperties':1}", "{'a':1,'b':2}", false, "/: must have at most 1 property (got 2)"},
    {"{'maxProperties':2}", "{'a':1,'b':2}", true, NULL},
    {"{'properties':{'a':{'type':'string'}}}", "{'a':'x','b':5}", true, NULL},
  };
  ROWS(rows);
}

static void pattern_properties_select_by_name(void)
{
  static const row rows[] = {
    {"{'patternProperties':{'^x-':{'type':'string'}},'additionalProperties':false}", "{'x-a':'s'}", true, NULL},
    {"{'patternProperties':{'^x-':{'type':'string'}},'additionalProperties':false}", "{'x-a':1}", false,
     "/x-a: expected string, got number 1"},
    {"{'patternProperties':{'^x-':{'type':'string'}},'additionalProperties':false}", "{'y':1}", false,
     "/: additional property 'y' is not allowed"},
    {"{'patternProperties':{'a':{'minimum':0},'b':{'maximum':0}}}", "{'ab':1}", false,
     "/ab: must be <= 0 (got 1)"},
    {"{'patternProperties':{'^\\\\d+$':{'type':'integer'}}}", "{'12':1,'x':'y'}", true, NULL},
  };
  ROWS(rows);
}

static void items_prefix_items_and_counts(void)
{
  static const row rows[] = {
    {"{'items':{'type':'string'}}", "['a','b']", true, NULL},
    {"{'items':{'type':'string'}}", "['a',1]", false, "/1: expected string, got number 1"},
    {"{'items':{'type':'string'}}", "'not an array'", true, NULL},
    {"{'minItems':1}", "[]", false, "/: must have at least 1 item (got 0)"},
    {"{'minItems':2}", "[1]", false, "/: must have at least 2 items (got 1)"},
    {"{'maxItems':2}", "[1,2,3]", false, "/: must have at most 2 items (got 3)"},
    {"{'maxItems':2}", "[1,2]", true, NULL},
    {"{'prefixItems':[{'type':'string'},{'type':'number'}],'items':false}", "['a',1]", true, NULL},
    {"{'prefixItems':[{'type':'string'},{'type':'number'}],'items':false}", "['a','b']", false,
     "/1: expected number, got string 'b'"},
    {"{'prefixItems':[{'type':'string'},{'type':'number'}],'items':false}", "['a',1,2]", false,
     "/: must have at most 2 items (got 3)"},
    {"{'prefixItems':[{'type':'string'}],'items':{'type':'number'}}", "['a',1,2]", true, NULL},
    {"{'prefixItems':[{'type':'string'}],'items':{'type':'number'}}", "['a',1,'c']", false,
     "/2: expected number, got string 'c'"},
    {"{'prefixItems':[{'type':'string'},{'type':'number'}]}", "['a']", true, NULL},
    {"{'items':[{'type':'string'}],'additionalItems':false}", "['a']", true, NULL},
    {"{'items':[{'type':'string'}],'additionalItems':false}", "['a',2]", false,
     "/: must have at most 1 item (got 2)"},
    {"{'items':[{'type':'string'}]}", "['a',2]", true, NULL},
    {"{'items':{'items':{'type':'integer'}}}", "[[1],[2,3.5]]", false, "/1/1: expected integer"},
  };
  ROWS(rows);
}

static void unique_items_compares_json_values(void)
{
  static const row rows[] = {
    {"{'uniqueItems':true}", "[1,2,3]", true, NULL},
    {"{'uniqueItems':true}", "[1,2,1]", false, "/: items 0 and 2 are equal, but items must be unique"},
    {"{'uniqueItems':true}", "[1,1.0]", false, "items 0 and 1 are equal"},
    {"{'uniqueItems':true}", "[1,'1',true,null,[1],{'a':1}]", true, NULL},
    {"{'uniqueItems':true}", "[{'a':1,'b':2},{'b':2,'a':1}]", false, "items 0 and 1 are equal"},
    {"{'uniqueItems':true}", "[{'a':1},{'a':1,'b':2}]", true, NULL},
    {"{'uniqueItems':true}", "[[1,2],[1,2,3],[1]]", true, NULL},
    {"{'uniqueItems':true}", "[[1,[2]],[1,[2]]]", false, "items 0 and 1 are equal"},
    {"{'uniqueItems':true}", "[true,false]", true, NULL},
    {"{'uniqueItems':false}", "[1,1]", true, NULL},
  };
  ROWS(rows);
}

static void enum_and_const_compare_json_values(void)
{
  static const row rows[] = {
    {"{'enum':['a','b']}", "'a'", true, NULL},
    {"{'enum':['a','b']}", "'c'", false, "/: must be one of 'a','b' (got 'c')"},
    {"{'properties':{'mode':{'enum':['a','b']}}}", "{'mode':'c'}", false, "/mode: must be one of 'a','b'"},
    {"{'enum':[1,'1',null,{'a':[1]}]}", "{'a':[1]}", true, NULL},
    {"{'enum':[1,'1',null,{'a':[1]}]}", "1.0", true, NULL},
    {"{'enum':[1,'1',null,{'a':[1]}]}", "null", true, NULL},
    {"{'enum':[1,'1',null,{'a':[1]}]}", "{'a':[2]}", false, "must be one of 1,'1',null,{'a':[1]} (got {'a':[2]})"},
    {"{'enum':[true]}", "false", false, "must be one of true (got false)"},
    {"{'enum':[]}", "-3", false, "/: no value is allowed here (the enum is empty)"},
    {"{'const':{'a':1}}", "{'a':1}", true, NULL},
    {"{'const':{'a':1}}", "{'a':2}", false, "/: must be {'a':1} (got {'a':2})"},
    {"{'const':null}", "null", true, NULL},
    {"{'const':null}", "0", false, "/: must be null (got 0)"},
    {"{'const':'x'}", "'x'", true, NULL},
    {"{'const':[1,2]}", "[1,2,3]", false, "must be [1,2] (got [1,2,3])"},
  };
  ROWS(rows);
}

static void number_bounds_and_multiple_of(void)
{
  static const row rows[] = {
    {"{'minimum':0}", "0", true, NULL},
    {"{'minimum':0}", "-0.5", false, "/: must be >= 0 (got -0.5)"},
    {"{'maximum':10}", "10", true, NULL},
    {"{'maximum':10}", "10.01", false, "/: must be <= 10 (got 10.01)"},
    {"{'exclusiveMinimum':0}", "0", false, "/: must be > 0 (got 0)"},
    {"{'exclusiveMinimum':0}", "1e-9", true, NULL},
    {"{'exclusiveMaximum':1}", "1", false, "/: must be < 1 (got 1)"},
    {"{'exclusiveMaximum':1}", "0.999", true, NULL},
    {"{'minimum':5,'exclusiveMinimum':true}", "5", false, "must be > 5 (got 5)"},
    {"{'maximum':5,'exclusiveMaximum':false}", "5", true, NULL},
    {"{'multipleOf':0.1}", "0.3", true, NULL},
    {"{'multipleOf':0.01}", "19.99", true, NULL},
    {"{'multipleOf':0.1}", "0.35", false, "/: must be a multiple of 0.1 (got 0.35)"},
    {"{'multipleOf':2}", "7", false, "must be a multiple of 2 (got 7)"},
    {"{'multipleOf':2}", "-8", true, NULL},
    {"{'minimum':1,'maximum':600}", "'not a number'", true, NULL},
    {"{'minimum':1,'maximum':600}", "601", false, "must be <= 600 (got 601)"},
    {"{'maximum':1e308}", "-1.7976931348623157e308", true, NULL},
  };
  ROWS(rows);
}

static void string_lengths_count_code_points(void)
{
  static const row rows[] = {
    {"{'minLength':1}", "''", false, "/: must have at least 1 character (got 0)"},
    {"{'minLength':2}", "'\xc3\xa9'", false, "must have at least 2 characters (got 1)"},
    {"{'minLength':2}", "'\xe6\x97\xa5\xe6\x9c\xac'", true, NULL},
    {"{'maxLength':2}", "'\xe6\x97\xa5\xe6\x9c\xac'", true, NULL},
    {"{'maxLength':2}", "'\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e'", false,
     "must have at most 2 characters (got 3)"},
    {"{'maxLength':1}", "'\\ud83d\\ude00'", true, NULL},
    {"{'maxLength':1}", "'\\u00e9'", true, NULL},
    {"{'maxLength':3}", "'abcd'", false, "/: must have at most 3 characters (got 4)"},
    {"{'minLength':3}", "12", true, NULL},
  };
  ROWS(rows);
}

static void pattern_is_ecmascript_translated_to_posix(void)
{
  static const row rows[] = {
    {"{'pattern':'^[a-z]+$'}", "'abc'", true, NULL},
    {"{'pattern':'^[a-z]+$'}", "'aBc'", false, "/: must match pattern '^[a-z]+$' (got 'aBc')"},
    {"{'pattern':'\\\\d{3}'}", "'ab123'", true, NULL},
    {"{'pattern':'\\\\d{3}'}", "'abd'", false, "must match pattern '\\\\d{3}'"},
    {"{'pattern':'^\\\\d{4}-\\\\d{2}-\\\\d{2}$'}", "'2024-01-31'", true, NULL},
    {"{'pattern':'^\\\\D+$'}", "'a1'", false, "must match pattern"},
    {"{'pattern':'^\\\\w+$'}", "'a_1'", true, NULL},
    {"{'pattern':'^\\\\w+$'}", "'a-1'", false, "must match pattern"},
    {"{'pattern':'^\\\\S+$'}", "'a b'", false, "must match pattern"},
    {"{'pattern':'^\\\\s$'}", "'\\t'", true, NULL},
    {"{'pattern':'^[\\\\w.-]+$'}", "'a.b-c_d'", true, NULL},
    {"{'pattern':'^[\\\\w.-]+$'}", "'a b'", false, "must match pattern"},
    {"{'pattern':'^[^\\\\s]+$'}", "'ab'", true, NULL},
    {"{'pattern':'^[^\\\\s]+$'}", "'a b'", false, "must match pattern"},
    {"{'pattern':'^(?:ab)+$'}", "'abab'", true, NULL},
    {"{'pattern':'^(?:ab)+$'}", "'aba'", false, "must match pattern"},
    {"{'pattern':'^(?<word>x)y$'}", "'xy'", true, NULL},
    {"{'pattern':'^a+?b*?$'}", "'aaa'", true, NULL},
    {"{'pattern':'^\\\\u00e9\\\\x41$'}", "'\xc3\xa9" "A'", true, NULL},
    {"{'pattern':'^.{2}$'}", "'\xe6\x97\xa5\xe6\x9c\xac'", true, NULL},
    {"{'pattern':'^[\\\\]\\\\-]+$'}", "']-]'", true, NULL},
    {"{'pattern':'^[\\\\]\\\\-]+$'}", "'a'", false, "must match pattern"},
    {"{'pattern':'^[\\\\^]$'}", "'^'", true, NULL},
    {"{'pattern':'^[\\\\^-]+$'}", "'-^'", true, NULL},
    {"{'pattern':'^[\\\\^-]+$'}", "'a'", false, "must match pattern"},
    {"{'pattern':'^[^\\\\^]$'}", "'a'", true, NULL},
    {"{'pattern':'^[^\\\\^]$'}", "'^'", false, "must match pattern"},
    {"{'pattern':'^\\\\$\\\\d+\\\\.\\\\d{2}$'}", "'$10.00'", true, NULL},
    {"{'pattern':'^\\\\$\\\\d+\\\\.\\\\d{2}$'}", "'$10x00'", false, "must match pattern"},
    {"{'pattern':'^a{,2}$'}", "'a{,2}'", true, NULL},
    {"{'pattern':'^\\\\/tmp\\\\/'}", "'/tmp/x'", true, NULL},
    {"{'pattern':'^[a-zA-Z0-9_-]{1,64}$'}", "'get_weather'", true, NULL},
    {"{'pattern':'^[a-zA-Z0-9_-]{1,64}$'}", "'get weather'", false, "must match pattern"},
    {"{'pattern':'^(foo|bar)\\\\b'}", "'foo bar'", true, NULL},
    {"{'pattern':'^[^]$'}", "'x'", true, NULL},
    {"{'pattern':'^[[a]+$'}", "'[a['", true, NULL},
    {"{'pattern':'x'}", "5", true, NULL},
    {"{'pattern':'^\\\\ud83d\\\\ude00$'}", "'\\ud83d\\ude00'", true, NULL},
    {"{'pattern':'^a\\\\.b$'}", "'axb'", false, "must match pattern '^a\\\\.b$' (got 'axb')"},
  };
  ROWS(rows);
}

/* Found by fuzzing: "" translated to no bytes at all, and the unterminated
 * buffer went to regcomp. */
static void empty_pattern_matches_everything(void)
{
  static const row rows[] = {
    {"{'pattern':''}", "''", true, NULL},
    {"{'pattern':''}", "'abc'", true, NULL},
    {"{'patternProperties':{'':{'type':'string'}}}", "{'a':1}", false, "/a: expected string"},
  };
  ROWS(rows);
}

static void any_of_one_of_all_of_not_and_if(void)
{
  static const row rows[] = {
    {"{'anyOf':[{'type':'string'},{'type':'integer'}]}", "'a'", true, NULL},
    {"{'anyOf':[{'type':'string'},{'type':'integer'}]}", "1", true, NULL},
    {"{'anyOf':[{'type':'string'},{'type':'integer'}]}", "1.5", false,
     "/: matches no anyOf alternative (0: expected string, got number 1.5; "
     "1: expected integer, got number 1.5)"},
    {"{'properties':{'x':{'anyOf':[{'type':'string'},{'type':'array','items':{'type':'string'}}]}}}",
     "{'x':[1]}", false,
     "/x: matches no anyOf alternative (0: expected string, got array [1]; "
     "1: /x/0: expected string, got number 1)"},
    {"{'anyOf':[{'const':1},{'const':2},{'const':3},{'const':4},{'const':5}]}", "6", false,
     "3: must be 4 (got 6); ...)"},
    {"{'anyOf':[{'const':1},{'const':2},{'const':3},{'const':4},{'const':5}]}", "5", true, NULL},
    {"{'oneOf':[{'type':'integer'},{'minimum':0}]}", "-1", true, NULL},
    {"{'oneOf':[{'type':'integer'},{'minimum':0}]}", "'x'", true, NULL},
    {"{'oneOf':[{'type':'integer'},{'minimum':0}]}", "5", false,
     "/: matches oneOf alternatives 0 and 1, but must match exactly one"},
    {"{'oneOf':[{'type':'integer'},{'minimum':0}]}", "-1.5", false,
     "/: matches no oneOf alternative (0: expected integer, got number -1.5; 1: must be >= 0 (got -1.5))"},
    {"{'allOf':[{'minimum':0},{'maximum':10}]}", "5", true, NULL},
    {"{'allOf':[{'minimum':0},{'maximum':10}]}", "11", false, "/: must be <= 10 (got 11)"},
    {"{'not':{'type':'null'}}", "1", true, NULL},
    {"{'not':{'type':'null'}}", "null", false, "/: must not match the schema in 'not'"},
    {"{'if':{'properties':{'kind':{'const':'file'}}},'then':{'required':['path']},"
     "'else':{'required':['url']}}", "{'kind':'file'}", false, "/: missing required property 'path'"},
    {"{'if':{'properties':{'kind':{'const':'file'}}},'then':{'required':['path']},"
     "'else':{'required':['url']}}", "{'kind':'web','url':'x'}", true, NULL},
    {"{'if':{'properties':{'kind':{'const':'file'}}},'then':{'required':['path']},"
     "'else':{'required':['url']}}", "{'kind':'web'}", false, "missing required property 'url'"},
    {"{'if':{'type':'string'},'then':{'minLength':2}}", "5", true, NULL},
    {"{'not':{'anyOf':[{'type':'string'},{'not':{'type':'number'}}]}}", "1", true, NULL},
  };
  ROWS(rows);
}

#define TREE                                                                   \
  "{'type':'object','properties':{'name':{'type':'string'},"                   \
  "'children':{'type':'array','items':{'$ref':'#'}}},'required':['name']}"

static void local_refs_resolve_json_pointers(void)
{
  static const row rows[] = {
    {"{'$defs':{'pos':{'type':'integer','minimum':0}},'properties':{'a':{'$ref':'#/$defs/pos'}}}",
     "{'a':1}", true, NULL},
    {"{'$defs':{'pos':{'type':'integer','minimum':0}},'properties':{'a':{'$ref':'#/$defs/pos'}}}",
     "{'a':-1}", false, "/a: must be >= 0 (got -1)"},
    {"{'definitions':{'s':{'type':'string'}},'items':{'$ref':'#/definitions/s'}}", "['a',2]", false,
     "/1: expected string, got number 2"},
    {TREE, "{'name':'r','children':[{'name':'a'},{'name':'b','children':[{'name':'c'}]}]}", true, NULL},
    {TREE, "{'name':'r','children':[{'name':'a','children':[{'name':'c'},{}]}]}", false,
     "/children/0/children/1: missing required property 'name'"},
    {"{'$defs':{'s':{'type':'string'}},'$ref':'#/$defs/s','maxLength':2}", "'abc'", false,
     "/: must have at most 2 characters (got 3)"},
    {"{'$defs':{'s':{'type':'string'}},'$ref':'#/$defs/s','maxLength':2}", "5", false,
     "/: expected string, got number 5"},
    {"{'$defs':{'a':{'$ref':'#/$defs/b'},'b':{'$ref':'#/$defs/c'},'c':{'type':'null'}},'$ref':'#/$defs/a'}",
     "0", false, "expected null, got number 0"},
    {"{'properties':{'a':{'type':'string'},'b':{'$ref':'#/properties/a'}}}", "{'b':1}", false,
     "/b: expected string, got number 1"},
    {"{'$defs':{'a/b':{'type':'string'},'c~d':{'type':'number'}},"
     "'properties':{'x':{'$ref':'#/$defs/a~1b'},'y':{'$ref':'#/$defs/c~0d'}}}", "{'x':1}", false,
     "/x: expected string"},
    {"{'$defs':{'a/b':{'type':'string'},'c~d':{'type':'number'}},"
     "'properties':{'x':{'$ref':'#/$defs/a~1b'},'y':{'$ref':'#/$defs/c~0d'}}}", "{'y':'s'}", false,
     "/y: expected number"},
    {"{'$defs':{'a b':{'type':'string'}},'$ref':'#/$defs/a%20b'}", "1", false, "expected string"},
    {"{'prefixItems':[{'type':'string'},{'$ref':'#/prefixItems/0'}]}", "['a',1]", false,
     "/1: expected string"},
    {"{'properties':{'next':{'$ref':'#'}},'additionalProperties':false}", "{'next':{'next':{'x':1}}}", false,
     "/next/next: additional property 'x' is not allowed"},
    {"{'$defs':{'n':{'properties':{'v':{'$defs':{'m':{'type':'integer'}},'$ref':'#/$defs/n/properties/v/$defs/m'}}}},"
     "'$ref':'#/$defs/n'}", "{'v':'x'}", false, "/v: expected integer"},
  };
  ROWS(rows);
}

/* The schemas the bundled tools declare (plugins/tools/). */
#define SHELL_EXEC                                                                  \
  "{'type':'object','properties':{'command':{'type':'string','minLength':1,"        \
  "'description':'The shell command line'},'timeout_seconds':{'type':'integer',"    \
  "'minimum':1,'maximum':600}},'required':['command'],'additionalProperties':false}"
#define FS_EDIT                                                                     \
  "{'type':'object','properties':{'path':{'type':'string'},"                        \
  "'old_string':{'type':'string','minLength':1},'new_string':{'type':'string'},"    \
  "'replace_all':{'type':'boolean'}},'required':['path','old_string','new_string']," \
  "'additionalProperties':false}"
#define FS_READ                                                                     \
  "{'type':'object','properties':{'path':{'type':'string'},"                        \
  "'offset':{'type':'integer','minimum':1},'limit':{'type':'integer','minimum':1,"  \
  "'maximum':100000}},'required':['path'],'additionalProperties':false}"

static void bundled_tool_schemas(void)
{
  static const row rows[] = {
    {SHELL_EXEC, "{'command':'ls -la'}", true, NULL},
    {SHELL_EXEC, "{'command':'sleep 1','timeout_seconds':30}", true, NULL},
    {SHELL_EXEC, "{}", false, "/: missing required property 'command'"},
    {SHELL_EXEC, "{'command':''}", false, "/command: must have at least 1 character (got 0)"},
    {SHELL_EXEC, "{'command':['ls']}", false, "/command: expected string, got array ['ls']"},
    {SHELL_EXEC, "{'command':'ls','timeout_seconds':'30'}", false,
     "/timeout_seconds: expected integer, got string '30'"},
    {SHELL_EXEC, "{'command':'ls','timeout_seconds':601}", false,
     "/timeout_seconds: must be <= 600 (got 601)"},
    {SHELL_EXEC, "{'cmd':'ls'}", false,
     "/: missing required property 'command'; /: additional property 'cmd' is not allowed"},
    {FS_EDIT, "{'path':'a.c','old_string':'x','new_string':'y','replace_all':true}", true, NULL},
    {FS_EDIT, "{'path':'a.c','old_string':'x','new_string':'y','replace_all':'yes'}", false,
     "/replace_all: expected boolean, got string 'yes'"},
    {FS_EDIT, "{'path':'a.c','new_string':'y'}", false, "/: missing required property 'old_string'"},
    {FS_READ, "{'path':'a','offset':0}", false, "/offset: must be >= 1 (got 0)"},
    {FS_READ, "{'path':'a','limit':100000}", true, NULL},
    {FS_READ, "null", false, "/: expected object, got null"},
  };
  ROWS(rows);
}

/* ---- schemas refused at compile time ---------------------------------- */

static void expect_compile_error(const char *schema_text, const char *fragment)
{
  char err[512] = "unset";
  pt_json_schema *s = (pt_json_schema *)&err; /* must be reset to NULL */
  cJSON *j = parse(schema_text);
  char *want = unquote(fragment);
  int32_t rc = pt_json_schema_compile(j, &s, err, sizeof err);
  if (rc != PT_EINVAL || s || !strstr(err, want))
    check_fail(__FILE__, __LINE__, "%s: expected refusal containing \"%s\", got %d \"%s\"",
               schema_text, want, rc, err);
  CHECK(valid_utf8(err));
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
  cJSON *j = parse(READ_FILE), *bad = parse("{'offset':-1,'x':1}");
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
  cJSON *schema = parse("{'properties':{'a':{'type':'number'},'b':{'enum':['x']}}}");
  CHECK_INT(pt_json_schema_compile(schema, &s, err, sizeof err), ==, PT_OK);
  cJSON *inst = cJSON_CreateObject();
  cJSON_AddStringToObject(inst, "a", "bad \xff\xfe utf8 \xe6\x97");
  char *big = malloc(1 << 20);
  memset(big, 'a', (1 << 20) - 1);
  big[(1 << 20) - 1] = '\0';
  for (int i = 0; i < 1000; i++) memcpy(big + 3 * i + 1, "\xe6\x97\xa5", 3);
  cJSON_AddStringToObject(inst, "b", big);
  CHECK_INT(pt_json_schema_validate(s, inst, err, sizeof err), ==, PT_EINVAL);
  CHECK(valid_utf8(err));
  CHECK_CONTAINS(err, "/a: expected number, got string \"bad \xef\xbf\xbd\xef\xbf\xbd utf8 \xef\xbf\xbd");
  CHECK_CONTAINS(err, "/b: must be one of \"x\" (got \"a\xe6\x97\xa5");
  CHECK_CONTAINS(err, "...)");
  CHECK(strlen(err) < 250);
  for (size_t cap = 1; cap < 200; cap++) {
    char small[200];
    pt_json_schema_validate(s, inst, small, cap);
    CHECK(valid_utf8(small));
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
  cJSON *schema = parse("{'additionalProperties':{'type':'string'}}");
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
  cJSON *schema = parse(schema_text);
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
  CHECK_INT(check_value("{'type':'array','items':" READ_FILE "}", list, err, sizeof err), ==, PT_OK);
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
  cJSON *good = parse("{'id':'ab-12','n':[1,2]}"), *bad = parse("{'id':'AB','n':[1,1]}");
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
  cJSON *schema = parse("{'properties':{'id':{'pattern':'^[a-z]+-\\\\d+$'},"
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
  RUN(type_names_json_types_and_integer_means_no_fraction);
  RUN(boolean_schemas_and_unknown_keywords);
  RUN(properties_required_and_additional_properties);
  RUN(pattern_properties_select_by_name);
  RUN(items_prefix_items_and_counts);
  RUN(unique_items_compares_json_values);
  RUN(enum_and_const_compare_json_values);
  RUN(number_bounds_and_multiple_of);
  RUN(string_lengths_count_code_points);
  RUN(pattern_is_ecmascript_translated_to_posix);
  RUN(empty_pattern_matches_everything);
  RUN(any_of_one_of_all_of_not_and_if);
  RUN(local_refs_resolve_json_pointers);
  RUN(bundled_tool_schemas);
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
