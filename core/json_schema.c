/*
 * core/json_schema.c: compiles a JSON Schema into a graph of nodes, one per
 * subschema, which json_schema_check.c walks cJSON values through (see
 * json_schema.h for the subset). Compiling checks the schema, runs regcomp
 * and resolves $ref once, so validating allocates nothing and cannot fail on
 * the schema's account. json_schema_text.c builds the messages and turns
 * "pattern" into POSIX ERE (its top comment says how that differs from
 * ECMAScript).
 *
 * Both the schema (a plugin or MCP server) and the arguments (a model) are
 * untrusted, hence the bounds (json_schema_int.h): a schema nests at most
 * MAX_SCHEMA_DEPTH levels; a $ref cycle that never descends into the value
 * is refused at compile time; validation has at most MAX_APPLY_DEPTH
 * subschemas in flight and does at most MAX_STEPS units of work; regexec
 * sees at most PT_JSON_SCHEMA_MAX_PATTERN_INPUT bytes. Every message is
 * valid UTF-8, as it goes back to a provider inside JSON.
 */
#include "json_schema_int.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "portico/errors.h"

const char *const js_type_names[7] = {"null", "boolean", "object", "array",
                                      "number", "string", "integer"};

typedef struct cctx {
  pt_json_schema *s;
  text loc; /* "#/properties/x": where compile() is */
  char loc_s[PATH_CAP];
  char *err;
  size_t errlen;
  int32_t rc;
} cctx;

/* The first error wins: "schema #/properties/x/minimum: must be ...". */
__attribute__((format(printf, 4, 5)))
static void cfail(cctx *c, const char *loc, const char *kw, const char *fmt, ...)
{
  if (c->rc) return;
  c->rc = PT_EINVAL;
  text t = {c->err, c->err ? c->errlen : 0, 0, false};
  js_puts(&t, "schema ");
  js_puts(&t, loc);
  if (kw) js_put(&t, "/", 1), js_put_clean(&t, kw, strlen(kw), false);
  js_puts(&t, ": ");
  va_list ap;
  va_start(ap, fmt);
  js_vputf(&t, fmt, ap);
  va_end(ap);
}

static void bad(cctx *c, const char *kw, const cJSON *v, const char *want)
{
  char d[96];
  cfail(c, c->loc.s, kw, "must be %s, got %s", want, js_describe(d, sizeof d, v));
}

static void *oom(cctx *c)
{
  if (!c->rc) cfail(c, "#", NULL, "out of memory"), c->rc = PT_ENOMEM;
  return NULL;
}

static void rx_free(rx *r)
{
  if (r) regfree(&r->re), free(r->src), free(r);
}

static rx *rx_compile(cctx *c, const char *kw, const char *src)
{
  char q[EXCERPT_LEN + 8], msg[128] = "";
  size_t len = strlen(src), cap = 16 * len + 64; /* "\W" alone becomes 13 bytes */
  if (len > MAX_PATTERN_LEN) {
    cfail(c, c->loc.s, kw, "pattern is longer than %d bytes", MAX_PATTERN_LEN);
    return NULL;
  }
  rx *r = calloc(1, sizeof *r);
  char *ere = malloc(cap);
  if (!r || !ere || !(r->src = strdup(src))) return free(r), free(ere), oom(c);
  text o = {ere, cap, 0, false};
  ere[0] = '\0'; /* "" translates to nothing */
  const char *why = js_translate(src, &o);
  int rc = -1;
  if (!why) {
    locale_t old = js_enter_utf8();
    rc = regcomp(&r->re, ere, REG_EXTENDED | REG_NOSUB);
    js_leave_utf8(old);
  }
  free(ere);
  if (rc == 0) return r;
  if (!why) regerror(rc, &r->re, msg, sizeof msg);
  cfail(c, c->loc.s, kw, "cannot use pattern %s: %s%s", js_quote(q, sizeof q, src), why ? why : msg,
        rc == REG_ECOLLATE ? " (ranges with non-ASCII ends are not supported)" : "");
  free(r->src);
  free(r);
  return NULL;
}

static node *compile(cctx *c, const cJSON *j);

const cJSON *js_get(const cJSON *j, const char *kw)
{
  return cJSON_GetObjectItemCaseSensitive(j, kw);
}

static node *kw_schema(cctx *c, const cJSON *j, const char *kw)
{
  const cJSON *v = js_get(j, kw);
  if (!v) return NULL;
  mark m = js_push(&c->loc, kw);
  node *n = compile(c, v);
  js_pop(&c->loc, m);
  return n;
}

static void kw_list(cctx *c, const cJSON *v, const char *kw, nodelist *out, bool nonempty)
{
  if (!cJSON_IsArray(v) || (nonempty && !v->child)) {
    bad(c, kw, v, nonempty ? "a non-empty array of schemas" : "an array of schemas");
    return;
  }
  size_t n = (size_t)cJSON_GetArraySize(v), i = 0;
  if (n && !(out->v = calloc(n, sizeof *out->v))) {
    oom(c);
    return;
  }
  mark m = js_push(&c->loc, kw);
  for (const cJSON *e = v->child; e && !c->rc; e = e->next, i++) {
    mark mi = js_push_index(&c->loc, i);
    out->v[i] = compile(c, e);
    js_pop(&c->loc, mi);
  }
  out->n = c->rc ? 0 : n;
  js_pop(&c->loc, m);
}

static const cJSON *kw_number(cctx *c, const cJSON *j, const char *kw)
{
  const cJSON *v = js_get(j, kw);
  if (v && !cJSON_IsNumber(v)) return bad(c, kw, v, "a number"), NULL;
  return v;
}

static long long kw_count(cctx *c, const cJSON *j, const char *kw)
{
  const cJSON *v = js_get(j, kw);
  if (!v) return -1;
  if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0) || v->valuedouble != floor(v->valuedouble))
    return bad(c, kw, v, "a non-negative integer"), -1;
  return v->valuedouble >= 9e18 ? (long long)9e18 : (long long)v->valuedouble;
}

static int prop_cmp(const void *a, const void *b)
{
  return strcmp(((const prop *)a)->name, ((const prop *)b)->name);
}

/* properties, patternProperties, $defs and definitions: name -> schema. */
static void kw_map(cctx *c, const cJSON *j, const char *kw, prop **out, size_t *count)
{
  const cJSON *v = js_get(j, kw);
  if (!v) return;
  size_t n = (size_t)cJSON_GetArraySize(v);
  if (!cJSON_IsObject(v)) bad(c, kw, v, "an object of schemas");
  else if (out && n && !(*out = calloc(n, sizeof **out))) oom(c);
  if (c->rc) return;
  mark m = js_push(&c->loc, kw);
  for (const cJSON *e = v->child; e && !c->rc; e = e->next) {
    mark mk = js_push(&c->loc, e->string);
    node *sub = compile(c, e);
    rx *re = sub && !strcmp(kw, "patternProperties") ? rx_compile(c, NULL, e->string) : NULL;
    if (out && !c->rc) (*out)[(*count)++] = (prop){e->string, sub, re};
    js_pop(&c->loc, mk);
  }
  js_pop(&c->loc, m);
}

static unsigned kw_type(cctx *c, const cJSON *v)
{
  char d[96];
  unsigned bits = 0;
  if (!cJSON_IsString(v) && !(cJSON_IsArray(v) && v->child))
    return bad(c, "type", v, "a type name or a non-empty array of them"), 0;
  for (const cJSON *e = cJSON_IsArray(v) ? v->child : v; e; e = cJSON_IsArray(v) ? e->next : NULL) {
    unsigned bit = 0;
    for (unsigned i = 0; cJSON_IsString(e) && i < 7; i++)
      if (!strcmp(e->valuestring, js_type_names[i])) bit = 1u << i;
    if (!bit)
      return cfail(c, c->loc.s, "type", "unknown type %s (expected null, boolean, object, array, "
                   "number, string or integer)", js_excerpt(d, sizeof d, e)), 0;
    bits |= bit;
  }
  return bits;
}

/* $ref: "#" or "#/json/pointer", percent-decoded, then ~1 and ~0. */
static const cJSON *resolve(const cJSON *doc, const char *ref, const char **why)
{
  char buf[512], tok[512];
  size_t n = 0;
  *why = "must be \"#\" or start with \"#/\" (only local references are supported)";
  if (ref[0] != '#' || (ref[1] && ref[1] != '/')) return NULL;
  *why = "is too long";
  for (const char *p = ref + 1; *p; p++, n++) {
    long h = *p == '%' ? js_hex(p + 1, 2) : -1;
    if (n + 1 >= sizeof buf) return NULL;
    buf[n] = h > 0 ? (char)h : *p;
    p += h > 0 ? 2 : 0;
  }
  buf[n] = '\0';
  *why = "does not point at anything in this schema";
  const cJSON *cur = doc;
  for (const char *p = buf; *p == '/' && cur;) {
    size_t t = 0;
    for (p++; *p && *p != '/'; p++)
      tok[t++] = *p == '~' && (p[1] == '0' || p[1] == '1') ? (*++p == '0' ? '~' : '/') : *p;
    tok[t] = '\0';
    bool index = t && t < 9 && strspn(tok, "0123456789") == t && (t == 1 || tok[0] != '0');
    cur = cJSON_IsObject(cur) ? js_get(cur, tok) : cJSON_IsArray(cur) && index ? cJSON_GetArrayItem(cur, atoi(tok)) : NULL;
  }
  return cur;
}

static node *new_node(cctx *c, const cJSON *j)
{
  pt_json_schema *s = c->s;
  if (s->n == s->cap) {
    node **v = realloc(s->nodes, (s->cap ? 2 * s->cap : 16) * sizeof *v);
    if (!v) return oom(c);
    s->nodes = v;
    s->cap = s->cap ? 2 * s->cap : 16;
  }
  node *n = calloc(1, sizeof *n);
  if (!n) return oom(c);
  *n = (node){.json = j, .boolean = -1, .min_len = -1, .max_len = -1, .min_items = -1,
              .max_items = -1, .min_props = -1, .max_props = -1};
  return s->nodes[s->n++] = n;
}

/* The document nests at most MAX_SCHEMA_DEPTH levels, which bounds this
 * recursion. */
static node *compile(cctx *c, const cJSON *j)
{
  const cJSON *v, *items = js_get(j, "items"), *prefix = js_get(j, "prefixItems");
  const char *why;
  node *n = c->rc ? NULL : new_node(c, j);
  if (!n || cJSON_IsBool(j)) {
    if (n) n->boolean = (signed char)cJSON_IsTrue(j);
    return n;
  }
  if (!cJSON_IsObject(j)) return bad(c, NULL, j, "a schema (an object, true or false)"), NULL;
  if ((v = js_get(j, "type"))) n->types = kw_type(c, v);
  if ((n->enum_vals = v = js_get(j, "enum")) && !cJSON_IsArray(v)) bad(c, "enum", v, "an array");
  n->const_val = js_get(j, "const");
  n->minimum = kw_number(c, j, "minimum");
  n->maximum = kw_number(c, j, "maximum");
  if (cJSON_IsBool(v = js_get(j, "exclusiveMinimum"))) { /* draft-04 */
    if (cJSON_IsTrue(v)) n->xminimum = n->minimum, n->minimum = NULL;
  } else n->xminimum = kw_number(c, j, "exclusiveMinimum");
  if (cJSON_IsBool(v = js_get(j, "exclusiveMaximum"))) {
    if (cJSON_IsTrue(v)) n->xmaximum = n->maximum, n->maximum = NULL;
  } else n->xmaximum = kw_number(c, j, "exclusiveMaximum");
  if ((n->multiple_of = kw_number(c, j, "multipleOf")) && !(n->multiple_of->valuedouble > 0))
    cfail(c, c->loc.s, "multipleOf", "must be greater than 0");
  n->min_len = kw_count(c, j, "minLength");
  n->max_len = kw_count(c, j, "maxLength");
  n->min_items = kw_count(c, j, "minItems");
  n->max_items = kw_count(c, j, "maxItems");
  n->min_props = kw_count(c, j, "minProperties");
  n->max_props = kw_count(c, j, "maxProperties");
  if ((v = js_get(j, "uniqueItems")) && !cJSON_IsBool(v)) bad(c, "uniqueItems", v, "true or false");
  n->unique = cJSON_IsTrue(v);
  if ((v = js_get(j, "pattern")) && !cJSON_IsString(v)) bad(c, "pattern", v, "a string");
  else if (v) n->pattern = rx_compile(c, "pattern", v->valuestring);
  if ((n->required = v = js_get(j, "required"))) {
    bool ok = cJSON_IsArray(v);
    for (const cJSON *e = ok ? v->child : NULL; e; e = e->next) ok &= cJSON_IsString(e);
    if (!ok) bad(c, "required", v, "an array of property names");
  }
  kw_map(c, j, "properties", &n->props, &n->nprops);
  kw_map(c, j, "patternProperties", &n->patprops, &n->npatprops);
  kw_map(c, j, "$defs", NULL, NULL);
  kw_map(c, j, "definitions", NULL, NULL);
  if (n->props) qsort(n->props, n->nprops, sizeof *n->props, prop_cmp);
  n->additional = kw_schema(c, j, "additionalProperties");
  if (prefix) kw_list(c, prefix, "prefixItems", &n->prefix, true);
  if (cJSON_IsArray(items) && prefix)
    cfail(c, c->loc.s, "items", "must be a schema when prefixItems is present");
  else if (cJSON_IsArray(items)) { /* draft-07's tuple form */
    kw_list(c, items, "items", &n->prefix, false);
    n->items = kw_schema(c, j, "additionalItems");
  } else n->items = kw_schema(c, j, "items");
  if ((v = js_get(j, "allOf"))) kw_list(c, v, "allOf", &n->all_of, true);
  if ((v = js_get(j, "anyOf"))) kw_list(c, v, "anyOf", &n->any_of, true);
  if ((v = js_get(j, "oneOf"))) kw_list(c, v, "oneOf", &n->one_of, true);
  n->not_ = kw_schema(c, j, "not");
  n->if_ = kw_schema(c, j, "if");
  n->then_ = kw_schema(c, j, "then");
  n->else_ = kw_schema(c, j, "else");
  if ((v = js_get(j, "$ref")) && !cJSON_IsString(v)) bad(c, "$ref", v, "a string");
  else if (v && !(n->ref_json = resolve(c->s->doc, v->valuestring, &why))) {
    char q[EXCERPT_LEN + 8];
    cfail(c, c->loc.s, "$ref", "%s %s", js_excerpt(q, sizeof q, v), why);
  } else if (v && !(n->ref_loc = strdup(c->loc.s))) oom(c);
  return c->rc ? NULL : n;
}

static int node_cmp(const void *a, const void *b)
{
  uintptr_t x = (uintptr_t)(*(node *const *)a)->json, y = (uintptr_t)(*(node *const *)b)->json;
  return x < y ? -1 : x > y;
}

/* Subschemas applied to the very value their parent checks. A cycle of them
 * ({"$ref":"#"} at the top, two $defs naming each other) would recurse
 * forever. `via` is the last $ref on the way in, to name in the message. */
static void find_cycle(cctx *c, node *n, const node *via, int depth)
{
  char q[EXCERPT_LEN + 8];
  node *one[5] = {n->ref, n->not_, n->if_, n->then_, n->else_};
  const nodelist lists[4] = {{one, 5}, n->all_of, n->any_of, n->one_of};
  via = n->ref ? n : via;
  if (depth > MAX_APPLY_DEPTH) {
    cfail(c, via ? via->ref_loc : "#", via ? "$ref" : NULL,
          "subschemas apply to one value more than %d deep", MAX_APPLY_DEPTH);
    return;
  }
  n->colour = 1;
  for (size_t k = 0; k < 4; k++)
    for (size_t i = 0; i < lists[k].n && !c->rc; i++) {
      node *s = lists[k].v[i];
      if (s && s->colour == 1)
        cfail(c, via->ref_loc, "$ref", "%s leads back to itself without descending into the "
              "value (a $ref cycle)", js_excerpt(q, sizeof q, js_get(via->json, "$ref")));
      else if (s && !s->colour) find_cycle(c, s, via, depth + 1);
    }
  n->colour = 2;
}

static void link_refs(cctx *c)
{
  char q[EXCERPT_LEN + 8];
  pt_json_schema *s = c->s;
  qsort(s->nodes, s->n, sizeof *s->nodes, node_cmp);
  for (size_t i = 0; i < s->n && !c->rc; i++) {
    node *n = s->nodes[i], key = {.json = n->ref_json}, *kp = &key, **hit;
    if (!n->ref_json) continue;
    if ((hit = bsearch(&kp, s->nodes, s->n, sizeof *s->nodes, node_cmp))) n->ref = *hit;
    else cfail(c, n->ref_loc, "$ref", "%s does not point at a subschema",
               js_excerpt(q, sizeof q, js_get(n->json, "$ref")));
  }
  for (size_t i = 0; i < s->n && !c->rc; i++)
    if (!s->nodes[i]->colour) find_cycle(c, s->nodes[i], NULL, 0);
}

static bool too_deep(const cJSON *j, int left)
{
  for (const cJSON *e = j->child; e; e = e->next)
    if ((cJSON_IsArray(e) || cJSON_IsObject(e)) && (left == 0 || too_deep(e, left - 1))) return true;
  return false;
}

int32_t pt_json_schema_compile(const cJSON *schema, pt_json_schema **out, char *err,
                               size_t errlen)
{
  cctx c = {.err = err, .errlen = errlen};
  c.loc = (text){c.loc_s, sizeof c.loc_s, 0, false};
  js_put(&c.loc, "#", 1);
  if (err && errlen) err[0] = '\0';
  if (out) *out = NULL;
  if (!schema || !out) cfail(&c, "#", NULL, "no schema given");
  else if (too_deep(schema, MAX_SCHEMA_DEPTH - 1))
    cfail(&c, "#", NULL, "nested deeper than %d levels", MAX_SCHEMA_DEPTH);
  else if (!(c.s = calloc(1, sizeof *c.s)) || !(c.s->doc = cJSON_Duplicate(schema, 1))) oom(&c);
  else if ((c.s->root = compile(&c, c.s->doc))) link_refs(&c);
  if (c.rc) pt_json_schema_free(c.s);
  else *out = c.s;
  return c.rc;
}

void pt_json_schema_free(pt_json_schema *s)
{
  if (!s) return;
  for (size_t i = 0; i < s->n; i++) {
    node *n = s->nodes[i];
    for (size_t k = 0; k < n->npatprops; k++) rx_free(n->patprops[k].re);
    rx_free(n->pattern);
    free(n->props), free(n->patprops), free(n->prefix.v), free(n->all_of.v);
    free(n->any_of.v), free(n->one_of.v), free(n->ref_loc), free(n);
  }
  free(s->nodes);
  cJSON_Delete(s->doc);
  free(s);
}
