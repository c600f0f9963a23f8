/*
 * core/json_schema.h: checks a tool call's arguments against the tool's JSON
 * Schema before the tool runs, with messages a model can act on.
 *
 * The subset is what tool schemas use in practice (draft 2020-12 and
 * draft-07 spellings): type, enum, const, properties, required,
 * additionalProperties, patternProperties, minProperties, maxProperties,
 * items (a schema, or draft-07's array form with additionalItems),
 * prefixItems, minItems, maxItems, uniqueItems, minimum, maximum,
 * exclusiveMinimum, exclusiveMaximum (numbers, or draft-04 booleans),
 * multipleOf, minLength, maxLength, pattern, allOf, anyOf, oneOf, not,
 * if/then/else, local $ref ("#", "#/$defs/...", "#/definitions/...", any
 * JSON Pointer to a subschema), and the boolean schemas true and false.
 * Every other keyword (format, title, description, default, examples,
 * contains, propertyNames, dependentRequired, ...) is ignored.
 *
 * Where this differs from the specification (see json_schema.c for detail):
 * "pattern" is an ECMAScript regex approximated by POSIX ERE, so lookaround,
 * back-references and ranges with non-ASCII ends make the schema fail to
 * compile; a string checked against "pattern" may be at most
 * PT_JSON_SCHEMA_MAX_PATTERN_INPUT bytes; multipleOf accepts a quotient
 * within 1e-9 of a whole number (so 0.3 is a multiple of 0.1); $ref next to
 * other keywords applies both (2020-12); and validation stops with an error
 * past fixed depth and work limits (256 nested subschemas, about 0.1 s).
 *
 * Not for: fetching remote schemas, $id/$anchor resolution, annotations,
 * or filling in defaults.
 */
#ifndef PT_JSON_SCHEMA_H
#define PT_JSON_SCHEMA_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

/* Longest string, in bytes, that "pattern" and "patternProperties" hand to
 * regexec(3). POSIX regexec has no step limit, and glibc's matcher is
 * quadratic or worse in the input for some patterns (about 0.1 s at 1 KiB
 * and 1.5 s at 4 KiB for "(.*a){20}x"); a longer string is reported as an
 * error rather than checked. */
#define PT_JSON_SCHEMA_MAX_PATTERN_INPUT 4096

typedef struct pt_json_schema pt_json_schema;

/*
 * Compile `schema` (an object or a boolean) into a validator.
 *
 * `schema` is borrowed for the duration of the call: the result keeps its
 * own copy. The schema itself is checked: a keyword with a malformed value,
 * a pattern that cannot be compiled, a $ref that is not local or points
 * nowhere, a $ref cycle that never descends into the value, or nesting
 * deeper than 128 levels is an error. On success returns PT_OK and stores
 * the validator in *out; the caller owns it (pt_json_schema_free). On
 * failure returns PT_EINVAL (bad schema) or PT_ENOMEM, leaves *out NULL and
 * writes one line naming the keyword by its JSON Pointer to `err`, e.g.
 * `schema #/properties/n/minimum: must be a number, got string "3"`.
 * `err` may be NULL. Any thread may call it.
 */
int32_t pt_json_schema_compile(const cJSON *schema, pt_json_schema **out,
                               char *err, size_t errlen);

/*
 * Check `instance` (borrowed) against `s`.
 *
 * Returns PT_OK when it is valid. Otherwise returns PT_EINVAL and writes up
 * to five errors, joined by "; ", to `err` (truncated to `errlen`). Each
 * starts with the JSON Pointer of the offending value ("/" for the whole
 * instance, "~0" and "~1" for "~" and "/" in names), then the rule and a
 * short excerpt of the value:
 *
 *   /: missing required property "command"
 *   /offset: expected integer, got number 1.5
 *   /mode: must be one of "a","b" (got "c")
 *   /items/3: additional property "foo" is not allowed
 *
 * A value nested too deeply for the schema's recursion or a schema/instance
 * pair that needs too much work also returns PT_EINVAL, with a message that
 * says so. Never allocates. `s` is not modified, so several threads may
 * validate against one compiled schema at once. `err` may be NULL when
 * only the verdict is wanted.
 */
int32_t pt_json_schema_validate(const pt_json_schema *s,
                                const cJSON *instance, char *err,
                                size_t errlen);

/* Release `s` and everything it owns. NULL is a no-op. */
void pt_json_schema_free(pt_json_schema *s);

#endif
