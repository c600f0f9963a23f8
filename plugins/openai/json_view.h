/*
 * plugins/openai/json_view.h: reading streamed JSON events without building
 * a tree.
 *
 * A stream event is checked once (jv_parse), then read in place: a jv is a
 * view of one value's text inside the event, members and items are found by
 * scanning, and strings are decoded into a buffer the caller reuses. Nothing
 * here allocates except jv_buf growing, which settles after the first few
 * events, so a stream of many small deltas costs no allocation per delta.
 *
 * Not for building requests or reading whole responses: cJSON does that.
 */
#ifndef PT_OPENAI_JSON_VIEW_H
#define PT_OPENAI_JSON_VIEW_H

#include <stddef.h>
#include <stdint.h>

#include <portico/plugin.h>

/* The text of one JSON value, without surrounding whitespace. `len` 0
 * means absent (no member of that name, no such item). */
typedef struct jv {
  const char *p;
  size_t len;
} jv;

enum { JV_ABSENT, JV_NULL, JV_BOOL, JV_NUMBER, JV_STRING, JV_ARRAY,
       JV_OBJECT };

/* A growable text buffer, reused from event to event. Owns `p`. */
typedef struct jv_buf {
  char *p;       /* NUL-terminated once used; NULL before */
  size_t len, cap;
} jv_buf;

/*
 * Check that `text` is exactly one well-formed JSON value (whitespace
 * around it allowed, nesting at most 64 deep) and set *out to it. Returns
 * 0, or -1 when it is not. Every other function trusts a jv that came from
 * here, directly or through jv_get/jv_next.
 */
int jv_parse(pt_str text, jv *out);

/* JV_* of `v`. */
int jv_type(jv v);

/* Member `key` of object `o` (the first of that name), or absent when `o`
 * is no object or has no such member. */
jv jv_get(jv o, const char *key);

/* Iterate an object in one pass, for a reader that wants several
 * members: `*cursor` starts at 0; each call sets *key (the quoted key, for
 * jv_is) and *value and returns 1, or returns 0 at the end (or when `o` is
 * no object). */
int jv_next_member(jv o, size_t *cursor, jv *key, jv *value);

/* Iterate an array: `*cursor` starts at 0; each call sets *item to the next
 * element and returns 1, or returns 0 at the end (or when `a` is no
 * array). */
int jv_next(jv a, size_t *cursor, jv *item);

/* Decode string `v` into `b` (replacing its text; NUL-terminated). Returns
 * 0, or -1 when `v` is not a string or memory ran out. */
int jv_str(jv v, jv_buf *b);

/* As jv_str, appending to what `b` holds. */
int jv_str_append(jv v, jv_buf *b);

/* True when `v` is a string equal to `s` (compared after decoding). */
int jv_is(jv v, const char *s);

/* A number member as an unsigned integer; `dflt` when absent, negative,
 * or no number. */
uint64_t jv_u64(jv v, uint64_t dflt);

/* Append bytes to `b`. 0, or -1 when memory ran out. */
int jv_buf_add(jv_buf *b, const char *p, size_t n);
void jv_buf_free(jv_buf *b);

#endif
