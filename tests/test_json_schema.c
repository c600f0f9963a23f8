/*
 * tests/test_json_schema.c: tool-argument validation (core/json_schema.c),
 * keyword by keyword.
 *
 * Each case is a table of rows (schema, instance, valid?, message fragment),
 * grouped by keyword, ending with the schemas of the bundled tools; JSON in
 * the rows is written with ' for " (see json_schema_cases.h). Schemas refused
 * at compile time, bad calls and hostile inputs are in
 * tests/test_json_schema_limits.c.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "check.h"
#include "json_schema.h"
#include "json_schema_cases.h"
#include "portico/errors.h"

typedef struct row {
  const char *schema, *instance;
  bool valid;
  const char *msg; /* a fragment of the error; NULL when valid */
} row;

#define ROWS(name) run_rows(name, sizeof name / sizeof name[0])

static void run_rows(const row *rows, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    const row *r = &rows[i];
    char err[1024] = "unset";
    pt_json_schema *s = NULL;
    cJSON *schema = jsc_parse(r->schema), *inst = jsc_parse(r->instance);
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
      char *want = jsc_unquote(r->msg);
      if (rc != PT_EINVAL || !strstr(err, want))
        check_fail(__FILE__, __LINE__, "row %zu: %s against %s: expected error containing \"%s\", "
                   "got %d \"%s\"", i, r->instance, r->schema, want, rc, err);
      free(want);
    }
    CHECK(jsc_valid_utf8(err));
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

static void properties_required_and_additional_properties(void)
{
  static const row rows[] = {
    {JSC_READ_FILE, "{'path':'a.txt'}", true, NULL},
    {JSC_READ_FILE, "{'path':'a.txt','offset':10}", true, NULL},
    {JSC_READ_FILE, "{}", false, "/: missing required property 'path'"},
    {JSC_READ_FILE, "{'path':'a','offset':-1}", false, "/offset: must be >= 0 (got -1)"},
    {JSC_READ_FILE, "{'path':'a','offset':1.5}", false, "/offset: expected integer, got number 1.5"},
    {JSC_READ_FILE, "{'path':'a','extra':1}", false, "/: additional property 'extra' is not allowed"},
    {JSC_READ_FILE, "{'path':3}", false, "/path: expected string, got number 3"},
    {JSC_READ_FILE, "'a.txt'", false, "/: expected object, got string 'a.txt'"},
    {JSC_READ_FILE, "{'offset':-1,'x':1}", false,
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
  return check_report();
}
