/*
 * core/json_schema_check.c: validates a cJSON value against a schema that
 * json_schema.c compiled, collecting up to MAX_ERRORS messages that name the
 * offending value by its JSON Pointer. Allocates nothing; the step and depth
 * limits stop work that would otherwise grow without bound. Not for judging
 * the schema itself: compiling has done that.
 */
#include "json_schema_int.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "portico/errors.h"

typedef struct sink {
  text t;
  int count, max;
  bool detail; /* holds one anyOf/oneOf alternative's first error */
} sink;

typedef struct vctx {
  text path; /* JSON Pointer of the value being checked */
  char path_s[PATH_CAP];
  sink *out; /* NULL when only the verdict is wanted (not, if, ...) */
  unsigned long steps;
  int depth;
  bool aborted;
  char why[PATH_CAP + 128];
} vctx;

/* Whether to stop at the first failure rather than look for more. */
static bool done(const vctx *c)
{
  return c->aborted || !c->out || c->out->count >= c->out->max;
}

/* Starts a message with "/path: " and returns where the rest goes, or NULL
 * when no more errors are wanted. */
static text *fail_begin(vctx *c)
{
  if (!c->out || c->out->count >= c->out->max) return NULL;
  text *t = &c->out->t;
  if (c->out->count++) js_puts(t, "; ");
  js_puts(t, c->path.len ? c->path.s : "/");
  js_puts(t, c->path.full ? "...: " : ": ");
  return t;
}

__attribute__((format(printf, 2, 3)))
static bool fail(vctx *c, const char *fmt, ...)
{
  text *t = fail_begin(c);
  va_list ap;
  va_start(ap, fmt);
  if (t) js_vputf(t, fmt, ap);
  va_end(ap);
  return false;
}

/* Ends the whole validation; this message replaces any errors so far. */
__attribute__((format(printf, 2, 3)))
static bool halt(vctx *c, const char *fmt, ...)
{
  if (c->aborted) return false;
  c->aborted = true;
  text t = {c->why, sizeof c->why, 0, false};
  js_puts(&t, c->path.len ? c->path.s : "/");
  js_puts(&t, c->path.full ? "...: " : ": ");
  va_list ap;
  va_start(ap, fmt);
  js_vputf(&t, fmt, ap);
  va_end(ap);
  return false;
}

static bool charge(vctx *c, unsigned long n)
{
  if ((c->steps += n) <= MAX_STEPS) return true;
  return halt(c, "validation stopped: the arguments need more than %u steps of checking "
              "against this schema", MAX_STEPS);
}

static bool equal(vctx *c, const cJSON *a, const cJSON *b, int depth)
{
  if (depth > MAX_APPLY_DEPTH)
    return halt(c, "value nested more than %d levels deep to compare", MAX_APPLY_DEPTH);
  if (!charge(c, 1)) return false;
  if (cJSON_IsNumber(a) && cJSON_IsNumber(b)) return a->valuedouble == b->valuedouble;
  if ((a->type & 0xFF) != (b->type & 0xFF)) return false;
  if (cJSON_IsString(a)) return !strcmp(a->valuestring, b->valuestring);
  if (cJSON_IsArray(a)) {
    const cJSON *x = a->child, *y = b->child;
    for (; x && y; x = x->next, y = y->next)
      if (!equal(c, x, y, depth + 1)) return false;
    return !x && !y;
  }
  if (cJSON_IsObject(a)) {
    if (cJSON_GetArraySize(a) != cJSON_GetArraySize(b)) return false;
    for (const cJSON *x = a->child, *y; x; x = x->next)
      if (!charge(c, (unsigned long)cJSON_GetArraySize(b)) || !(y = js_get(b, x->string)) ||
          !equal(c, x, y, depth + 1))
        return false;
  }
  return true;
}

static bool apply(vctx *c, const node *n, const cJSON *v);

/* Notes a failed check; leaves when no more errors are wanted. */
#define TRY(expr)                                                            \
  do {                                                                       \
    if (!(expr)) {                                                           \
      ok = false;                                                            \
      if (done(c)) return false;                                             \
    }                                                                        \
  } while (0)

/* The value's T_* bits (a whole number is both number and integer). */
static unsigned kind(const cJSON *v)
{
  switch (v->type & 0xFF) {
  case cJSON_False: case cJSON_True: return T_BOOLEAN;
  case cJSON_NULL: return T_NULL;
  case cJSON_String: return T_STRING;
  case cJSON_Array: return T_ARRAY;
  case cJSON_Object: return T_OBJECT;
  case cJSON_Number:
    return T_NUMBER | (isfinite(v->valuedouble) && v->valuedouble == floor(v->valuedouble) ? T_INTEGER : 0);
  default: return 0; /* cJSON_Raw */
  }
}

static bool check_type(vctx *c, const node *n, const cJSON *v, unsigned bits)
{
  char want[96], got[96];
  if (!n->types || (n->types & bits)) return true;
  text t = {want, sizeof want, 0, false};
  for (unsigned i = 0; i < 7; i++)
    if (n->types & (1u << i)) js_puts(&t, t.len ? " or " : ""), js_puts(&t, js_type_names[i]);
  return fail(c, "expected %s, got %s", want, js_describe(got, sizeof got, v));
}

static bool check_enum_const(vctx *c, const node *n, const cJSON *v)
{
  char want[200], got[EXCERPT_LEN + 8];
  bool ok = true;
  if (n->const_val && !equal(c, n->const_val, v, 0) && !c->aborted) {
    char w[EXCERPT_LEN + 8];
    TRY(fail(c, "must be %s (got %s)", js_excerpt(w, sizeof w, n->const_val), js_excerpt(got, sizeof got, v)));
  }
  if (!n->enum_vals || c->aborted) return ok && !c->aborted;
  for (const cJSON *e = n->enum_vals->child; e; e = e->next)
    if (equal(c, e, v, 0)) return ok;
    else if (c->aborted) return false;
  if (!n->enum_vals->child) return fail(c, "no value is allowed here (the enum is empty)");
  text t = {want, sizeof want - 4, 0, false};
  for (const cJSON *e = n->enum_vals->child; e && !t.full; e = e->next) {
    js_puts(&t, e == n->enum_vals->child ? "" : t.len > 120 ? ",..." : ",");
    if (t.len > 120) break;
    js_put_excerpt(&t, e);
  }
  if (t.full) strcpy(want + t.len, "...");
  return fail(c, "must be one of %s (got %s)", want, js_excerpt(got, sizeof got, v));
}

/* minLength, minItems, minProperties and their max twins. */
static bool check_count(vctx *c, size_t have, long long min, long long max, const char *one,
                        const char *many)
{
  bool ok = true;
  if (min >= 0 && have < (unsigned long long)min)
    TRY(fail(c, "must have at least %lld %s (got %zu)", min, min == 1 ? one : many, have));
  if (max >= 0 && have > (unsigned long long)max)
    TRY(fail(c, "must have at most %lld %s (got %zu)", max, max == 1 ? one : many, have));
  return ok;
}

static bool check_number(vctx *c, const node *n, double x)
{
  char a[32], b[32];
  bool ok = true;
  /* Within 1e-9 of a whole quotient, so 0.3 is a multiple of 0.1 despite
   * binary rounding (0.3 / 0.1 == 2.9999999999999996). */
  double q = n->multiple_of ? x / n->multiple_of->valuedouble : 0;
  const struct { const cJSON *lim; bool bad; const char *rule; } r[] = {
    {n->minimum, n->minimum && x < n->minimum->valuedouble, ">="},
    {n->xminimum, n->xminimum && x <= n->xminimum->valuedouble, ">"},
    {n->maximum, n->maximum && x > n->maximum->valuedouble, "<="},
    {n->xmaximum, n->xmaximum && x >= n->xmaximum->valuedouble, "<"},
    {n->multiple_of, !isfinite(q) || fabs(q - nearbyint(q)) > fmax(1e-9, fabs(q) * 4 * DBL_EPSILON),
     "a multiple of"},
  };
  for (size_t i = 0; i < sizeof r / sizeof r[0]; i++)
    if (r[i].lim && r[i].bad) {
      text ta = {a, sizeof a, 0, false}, tb = {b, sizeof b, 0, false};
      js_put_num(&ta, r[i].lim->valuedouble), js_put_num(&tb, x);
      TRY(fail(c, "must be %s %s (got %s)", r[i].rule, a, b));
    }
  return ok;
}

static bool rx_match(vctx *c, const rx *r, const char *s, size_t len)
{
  if (!charge(c, len + 1)) return false;
  locale_t old = js_enter_utf8();
  bool hit = regexec(&r->re, s, 0, NULL, 0) == 0;
  js_leave_utf8(old);
  return hit;
}

static bool check_string(vctx *c, const node *n, const char *s)
{
  char q[EXCERPT_LEN + 8], got[EXCERPT_LEN + 8];
  bool ok = true;
  size_t len = strlen(s), chars = 0;
  for (size_t i = 0; i < len && (n->min_len >= 0 || n->max_len >= 0); i++)
    chars += ((unsigned char)s[i] & 0xC0) != 0x80;
  TRY(check_count(c, chars, n->min_len, n->max_len, "character", "characters"));
  if (!n->pattern) return ok;
  if (len > PT_JSON_SCHEMA_MAX_PATTERN_INPUT)
    return fail(c, "is %zu bytes long; strings checked against pattern %s may be at most %d bytes",
                len, js_quote(q, sizeof q, n->pattern->src), PT_JSON_SCHEMA_MAX_PATTERN_INPUT);
  if (rx_match(c, n->pattern, s, len) || c->aborted) return ok && !c->aborted;
  return fail(c, "must match pattern %s (got %s)", js_quote(q, sizeof q, n->pattern->src),
              js_quote(got, sizeof got, s));
}

static bool check_array(vctx *c, const node *n, const cJSON *v)
{
  bool ok = true;
  size_t count = 0, i = 0;
  for (const cJSON *e = v->child; e; e = e->next) count++;
  if (!charge(c, count)) return false;
  TRY(check_count(c, count, n->min_items, n->max_items, "item", "items"));
  for (const cJSON *e = v->child; e; e = e->next, i++) {
    const node *sub = i < n->prefix.n ? n->prefix.v[i] : n->items;
    if (!sub) break;
    if (sub->boolean == 0) { /* items: false after the prefix */
      TRY(fail(c, "must have at most %zu item%s (got %zu)", i, i == 1 ? "" : "s", count));
      break;
    }
    mark m = js_push_index(&c->path, i);
    bool r = apply(c, sub, e);
    js_pop(&c->path, m);
    TRY(r);
  }
  i = 0;
  for (const cJSON *a = v->child; a && n->unique; a = a->next, i++) {
    size_t k = i + 1;
    for (const cJSON *b = a->next; b; b = b->next, k++)
      if (equal(c, a, b, 0)) return fail(c, "items %zu and %zu are equal, but items must be unique", i, k);
      else if (c->aborted) return false;
  }
  return ok;
}

/* A property's value against its schema. The schema false is reported at
 * the object, naming the property: clearer than "/x: not allowed". */
static bool check_member(vctx *c, const node *schema, const cJSON *k, bool additional)
{
  char q[EXCERPT_LEN + 8];
  if (schema->boolean == 0)
    return fail(c, "%sproperty %s is not allowed", additional ? "additional " : "",
                js_quote(q, sizeof q, k->string));
  mark m = js_push(&c->path, k->string);
  bool r = apply(c, schema, k);
  js_pop(&c->path, m);
  return r;
}

static int prop_find(const void *key, const void *p)
{
  return strcmp(key, ((const prop *)p)->name);
}

static bool check_object(vctx *c, const node *n, const cJSON *v)
{
  char q[EXCERPT_LEN + 8];
  bool ok = true;
  size_t count = 0;
  for (const cJSON *e = v->child; e; e = e->next) count++;
  if (!charge(c, count)) return false;
  TRY(check_count(c, count, n->min_props, n->max_props, "property", "properties"));
  for (const cJSON *r = n->required ? n->required->child : NULL; r; r = r->next) {
    if (!charge(c, count + 1)) return false;
    if (!js_get(v, r->valuestring)) TRY(fail(c, "missing required property %s", js_quote(q, sizeof q, r->valuestring)));
  }
  for (const cJSON *k = v->child; k; k = k->next) {
    if (!k->string || !charge(c, 1 + n->npatprops)) return false;
    const prop *p = n->nprops ? bsearch(k->string, n->props, n->nprops, sizeof *p, prop_find) : NULL;
    size_t len = n->npatprops ? strlen(k->string) : 0;
    bool matched = p != NULL;
    if (p) TRY(check_member(c, p->schema, k, false));
    if (len > PT_JSON_SCHEMA_MAX_PATTERN_INPUT) {
      TRY(fail(c, "property name %s is longer than the %d bytes checked against patternProperties",
               js_quote(q, sizeof q, k->string), PT_JSON_SCHEMA_MAX_PATTERN_INPUT));
      continue;
    }
    for (size_t i = 0; i < n->npatprops; i++)
      if (rx_match(c, n->patprops[i].re, k->string, len)) {
        matched = true;
        TRY(check_member(c, n->patprops[i].schema, k, false));
      } else if (c->aborted) return false;
    if (!matched && n->additional) TRY(check_member(c, n->additional, k, true));
  }
  return ok;
}

/* anyOf (one = false) or oneOf. The outermost one quotes the first error of
 * its first few alternatives, minus the path they share; nested ones inside
 * such a quote only say that nothing matched, which keeps the message short
 * and stops 2^n alternatives from each formatting a message. */
static bool check_alternatives(vctx *c, const nodelist *l, const cJSON *v, const char *kw, bool one)
{
  char detail[MAX_DETAILS][DETAIL_LEN];
  sink *outer = c->out;
  bool quote_them = outer && outer->count < outer->max && !outer->detail;
  size_t matched = 0, first = 0;
  for (size_t i = 0; i < l->n; i++) {
    sink s = {{detail[i < MAX_DETAILS ? i : 0], DETAIL_LEN, 0, false}, 0, 1, true};
    if (i < MAX_DETAILS) detail[i][0] = '\0';
    c->out = quote_them && i < MAX_DETAILS ? &s : NULL;
    bool r = apply(c, l->v[i], v);
    c->out = outer;
    if (c->aborted) return false;
    if (r && (!one || matched++ == 0)) first = i;
    else if (r) return fail(c, "matches %s alternatives %zu and %zu, but must match exactly one", kw, first, i);
    if (r && !one) return true;
  }
  if (matched == 1) return true;
  text *t = fail_begin(c);
  if (!t) return false;
  const char *path = c->path.len ? c->path.s : "/";
  size_t plen = strlen(path);
  js_puts(t, "matches no ");
  js_puts(t, kw);
  js_puts(t, " alternative");
  for (size_t i = 0; quote_them && i < l->n && i < MAX_DETAILS; i++) {
    const char *dt = detail[i];
    char num[24];
    dt += !strncmp(dt, path, plen) && !strncmp(dt + plen, ": ", 2) ? plen + 2 : 0;
    snprintf(num, sizeof num, "%s%zu: ", i ? "; " : " (", i);
    js_puts(t, num);
    js_puts(t, dt);
  }
  if (quote_them) js_puts(t, l->n > MAX_DETAILS ? "; ...)" : ")");
  return false;
}

/* Applies a subschema for its verdict alone. */
static bool matches(vctx *c, const node *n, const cJSON *v)
{
  sink *outer = c->out;
  c->out = NULL;
  bool r = apply(c, n, v);
  c->out = outer;
  return r && !c->aborted;
}

static bool check_applicators(vctx *c, const node *n, const cJSON *v)
{
  bool ok = true;
  if (n->ref) TRY(apply(c, n->ref, v));
  for (size_t i = 0; i < n->all_of.n; i++) TRY(apply(c, n->all_of.v[i], v));
  if (n->any_of.n) TRY(check_alternatives(c, &n->any_of, v, "anyOf", false));
  if (n->one_of.n) TRY(check_alternatives(c, &n->one_of, v, "oneOf", true));
  if (n->not_ && matches(c, n->not_, v)) TRY(fail(c, "must not match the schema in \"not\""));
  const node *branch = n->if_ && !c->aborted ? (matches(c, n->if_, v) ? n->then_ : n->else_) : NULL;
  if (branch && !c->aborted) TRY(apply(c, branch, v));
  return ok && !c->aborted;
}

static bool apply_node(vctx *c, const node *n, const cJSON *v)
{
  bool ok = true;
  unsigned bits = kind(v);
  if (!check_type(c, n, v, bits)) return false; /* the other rules would only repeat it */
  if (n->enum_vals || n->const_val) TRY(check_enum_const(c, n, v));
  if ((bits & T_NUMBER) && (n->minimum || n->xminimum || n->maximum || n->xmaximum || n->multiple_of))
    TRY(check_number(c, n, v->valuedouble));
  else if (bits & T_STRING) TRY(check_string(c, n, v->valuestring));
  else if (bits & T_ARRAY) TRY(check_array(c, n, v));
  else if (bits & T_OBJECT) TRY(check_object(c, n, v));
  TRY(check_applicators(c, n, v));
  return ok;
}

static bool apply(vctx *c, const node *n, const cJSON *v)
{
  if (n->boolean >= 0)
    return n->boolean || fail(c, "no value is allowed here (the schema is false)");
  if (c->depth >= MAX_APPLY_DEPTH)
    return halt(c, "nested too deeply to validate (more than %d levels of subschemas)", MAX_APPLY_DEPTH);
  if (!charge(c, 1)) return false;
  c->depth++;
  bool ok = apply_node(c, n, v);
  c->depth--;
  return ok && !c->aborted;
}

int32_t pt_json_schema_validate(const pt_json_schema *s, const cJSON *instance, char *err,
                                size_t errlen)
{
  vctx c = {.out = NULL};
  sink out = {{err, err ? errlen : 0, 0, false}, 0, MAX_ERRORS, false};
  c.path = (text){c.path_s, sizeof c.path_s, 0, false};
  if (err && errlen) err[0] = '\0', c.out = &out;
  if (!s || !instance) return fail(&c, "nothing to validate"), PT_EINVAL;
  if (apply(&c, s->root, instance)) return PT_OK;
  if (c.aborted) {
    out.t = (text){err, err ? errlen : 0, 0, false};
    js_puts(&out.t, c.why);
  } else if (out.count == 0) fail(&c, "does not match the schema");
  return PT_EINVAL;
}
