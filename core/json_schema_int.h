/*
 * core/json_schema_int.h: what the JSON Schema validator's files share
 * (json_schema.c: compiling a schema into nodes; json_schema_check.c:
 * validating a value against them; json_schema_text.c: bounded UTF-8
 * messages and ECMAScript patterns as POSIX ERE). Not a public interface:
 * json_schema.h is.
 */
#ifndef PT_JSON_SCHEMA_INT_H
#define PT_JSON_SCHEMA_INT_H

#include <locale.h>
#include <regex.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "json_schema.h"

#define MAX_SCHEMA_DEPTH 128 /* JSON nesting of the schema document */
#define MAX_APPLY_DEPTH 256  /* subschemas in flight: bounds the C stack */
#define MAX_STEPS 1000000u   /* at most about 0.1 s of checking */
#define MAX_ERRORS 5
#define MAX_DETAILS 4        /* anyOf/oneOf alternatives whose error is quoted */
#define DETAIL_LEN 160
#define PATH_CAP 256
#define EXCERPT_LEN 48
#define MAX_PATTERN_LEN 4096
/* glibc's regcomp copies a group once per repeat, so "(a{999}){999}" would
 * build a million nodes: refuse patterns that expand past this many items. */
#define MAX_PATTERN_COST 1000
#define MAX_GROUPS 32

enum { T_NULL = 1, T_BOOLEAN = 2, T_OBJECT = 4, T_ARRAY = 8, T_NUMBER = 16,
       T_STRING = 32, T_INTEGER = 64 };
/* The names of the T_* bits, lowest first (json_schema.c). */
extern const char *const js_type_names[7];

/* Writes past the end are dropped, never mid-character, and remembered. */
typedef struct text {
  char *s;
  size_t cap, len;
  bool full;
} text;

/* JSON Pointers grow and shrink as the walk goes down and back up. */
typedef struct mark {
  size_t len;
  bool full;
} mark;

typedef struct rx {
  regex_t re;
  char *src; /* the ECMAScript text, for messages */
} rx;

typedef struct node node;
typedef struct nodelist {
  node **v;
  size_t n;
} nodelist;
typedef struct prop {
  const char *name;
  node *schema;
  rx *re; /* patternProperties only */
} prop;

/* One subschema. cJSON pointers are into the compiled schema's own copy. */
struct node {
  const cJSON *json;
  signed char boolean; /* 0 or 1 for the schemas false and true; -1 */
  unsigned types;      /* T_* bits; 0 allows every type */
  const cJSON *enum_vals, *const_val, *required;
  const cJSON *minimum, *maximum, *xminimum, *xmaximum, *multiple_of;
  long long min_len, max_len, min_items, max_items, min_props, max_props; /* -1: none */
  bool unique;
  rx *pattern;
  prop *props, *patprops; /* props sorted by name, for bsearch */
  size_t nprops, npatprops;
  node *additional;       /* NULL allows any other property */
  nodelist prefix;        /* prefixItems, or draft-07's items: [...] */
  node *items;            /* items after the prefix; NULL allows any */
  nodelist all_of, any_of, one_of;
  node *not_, *if_, *then_, *else_;
  const cJSON *ref_json;  /* where $ref points; then ref is its node */
  node *ref;
  char *ref_loc;          /* this node's location, for $ref errors */
  unsigned char colour;   /* find_cycle: 0 unseen, 1 on the path, 2 done */
};

struct pt_json_schema {
  cJSON *doc;   /* owned copy of the schema */
  node **nodes; /* every node, owned */
  size_t n, cap;
  node *root;
};

/* json_schema.c */
const cJSON *js_get(const cJSON *j, const char *kw);

/* json_schema_text.c: bounded UTF-8 text */
void js_put(text *t, const char *p, size_t n);
void js_puts(text *t, const char *p);
void js_vputf(text *t, const char *fmt, va_list ap);
void js_put_clean(text *t, const char *s, size_t n, bool json);
void js_put_num(text *t, double d);
void js_put_excerpt(text *t, const cJSON *v);
const char *js_excerpt(char *buf, size_t cap, const cJSON *v);
const char *js_quote(char *buf, size_t cap, const char *s);
const char *js_describe(char *buf, size_t cap, const cJSON *v);
mark js_push(text *p, const char *tok);
mark js_push_index(text *p, size_t i);
void js_pop(text *p, mark m);

/* json_schema_text.c: ECMAScript patterns as POSIX ERE */
locale_t js_enter_utf8(void);
void js_leave_utf8(locale_t old);
long js_hex(const char *p, int n);
const char *js_translate(const char *p, text *o);

#endif
