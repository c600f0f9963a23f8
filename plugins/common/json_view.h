/*
 * plugins/common/json_view.h: reading stream events' JSON in place,
 * without building a tree, for every bundled provider.
 *
 * A streamed reply is mostly small events, one per few tokens; parsing each
 * into a cJSON tree would allocate a handful of nodes per delta. Here one
 * pass over an event checks it strictly and finds the members the reader
 * named in a static table (pc_json_parse_pick). A pc_json is then a view of
 * one value's text inside the event; a string is handed back as a view of
 * the event's own bytes when it holds no escape, or decoded into a buffer
 * the caller reuses when it does. Nothing here allocates except that
 * buffer growing, which settles after the first few events.
 *
 * Not for building JSON or reading whole responses (cJSON does that), and
 * not a general JSON library: numbers are read only as counts, and bytes
 * of 0x80 and above in strings are passed through as they came, unchecked.
 *
 * Ownership: nothing here owns memory but the caller's pc_buf (buf.h).
 * Every pc_json and pt_str handed out points either into the text given to
 * pc_json_parse or pc_json_parse_pick, which the caller keeps alive and
 * unchanged while it reads, or into the caller's scratch buffer, until that
 * buffer is next written. No function keeps a pointer once it returns, and
 * none has state of its own: any thread may call them.
 */
#ifndef PT_PC_JSON_VIEW_H
#define PT_PC_JSON_VIEW_H

#include <stddef.h>
#include <stdint.h>

#include <portico/plugin.h>

#include "buf.h"

/* Containers nested deeper than this are refused: no API event comes near,
 * and the bound caps what a hostile one can make the checker keep. */
#define PC_JSON_MAX_DEPTH 64

/*
 * The text of one JSON value inside checked text, without the whitespace
 * around it. Borrowed: `ptr` points into the caller's text. `len` 0 means
 * absent (no member of that name, no further item, a lookup inside
 * something that is no object).
 *
 * The readers below trust a pc_json to be one this file handed out; one
 * made up by hand is read as far as its text says, past its end if that
 * text is not well-formed JSON.
 */
typedef struct pc_json {
  const char *ptr;
  size_t len;
} pc_json;

enum pc_json_type {
  PC_JSON_ABSENT,
  PC_JSON_NULL,
  PC_JSON_BOOL,
  PC_JSON_NUMBER,
  PC_JSON_STRING,
  PC_JSON_ARRAY,
  PC_JSON_OBJECT
};

/*
 * A member a reader wants: its name (borrowed; as it reads once unescaped)
 * and where it is: PC_JSON_ROOT for a member of the object read, else the
 * index, in the same table, of the key whose value (an object) holds it.
 * Members of objects inside arrays are not picked; walk the array with
 * pc_json_next and pick from each item. In a static table:
 *
 *   enum { K_DELTA, K_TEXT, K_COUNT };
 *   static const pc_json_key keys[K_COUNT] = {
 *     [K_DELTA] = PC_JSON_KEY("delta", PC_JSON_ROOT),
 *     [K_TEXT] = PC_JSON_KEY("text", K_DELTA),     (root.delta.text)
 *   };
 */
typedef struct pc_json_key {
  pt_str name;
  int parent;
} pc_json_key;

#define PC_JSON_ROOT (-1)
#define PC_JSON_KEY(s, parent) { { (s), sizeof(s) - 1 }, (parent) }

/*
 * Check that `text` is exactly one well-formed JSON value (RFC 8259:
 * whitespace around it allowed; no control character unescaped in a
 * string, only the escapes JSON has, numbers in JSON's form; containers at
 * most PC_JSON_MAX_DEPTH deep), set *root to a view of it, and in the same
 * pass set values[i] to the member keys[i] names, for each i below `n`:
 * the first member of that name, absent when there is none or what should
 * hold it is no object. Never reads outside [text.ptr, text.ptr +
 * text.len); `text` needs no NUL, and the C stack it uses does not grow
 * with the nesting.
 *
 * `keys` (borrowed) and `values` (the caller's, `n` of each) may be NULL
 * when `n` is 0. Returns PT_OK, or PT_EPROTO when the text is not one JSON
 * value (empty text included), leaving *root and every value absent.
 */
int32_t pc_json_parse_pick(pt_str text, pc_json *root, const pc_json_key *keys,
                           size_t n, pc_json *values);

/* pc_json_parse_pick without keys: check `text`, and view it in *root. */
int32_t pc_json_parse(pt_str text, pc_json *root);

/* As pc_json_parse_pick, for `object`, a value inside checked text
 * (PC_JSON_ROOT then names a member of `object`): one scan of each object
 * involved, which stops once it holds none of `keys` still missing. */
void pc_json_pick(pc_json object, const pc_json_key *keys, size_t n,
                  pc_json *values);

/* Member `key` (NUL-terminated, compared as unescaped) of `object`: the
 * first of that name, absent when there is none or `object` is no object.
 * For one member; pc_json_pick finds several in one scan. */
pc_json pc_json_get(pc_json object, const char *key);

/*
 * Walk array `array` one item at a time. `*cursor` starts at 0 and is the
 * caller's to keep between calls, not to read. Each call sets *item and
 * returns 1; at the end, or when `array` is no array, returns 0.
 */
int pc_json_next(pc_json array, size_t *cursor, pc_json *item);

/* PC_JSON_* of `v`; PC_JSON_ABSENT when `v.len` is 0. */
int pc_json_type(pc_json v);

/* True when `v` is a string whose unescaped text is `s` (NUL-terminated).
 * Allocates nothing, whatever the length. */
int pc_json_is(pc_json v, const char *s);

/* True when `v` is the literal true. */
int pc_json_is_true(pc_json v);

/*
 * The text of string `v`, unescaped: UTF-16 surrogate pairs (\ud83d\ude00)
 * become one UTF-8 character, a surrogate alone becomes U+FFFD, \u0000 a
 * NUL byte inside the text. When `v` holds no escape, *out is a view into
 * `v` itself and `scratch` is not touched; otherwise the text is decoded
 * into `scratch`, replacing what it held (NUL-terminated), and *out is a
 * view into it, valid until `scratch` is next written. Returns PT_OK;
 * PT_EPROTO when `v` is no string (absent included); PT_ENOMEM when
 * `scratch` could not grow. On failure *out is empty, never NULL.
 */
int32_t pc_json_text(pc_json v, pc_buf *scratch, pt_str *out);

/*
 * Number `v` as a count: its value when it is written without a sign or an
 * exponent and fits in 64 bits, any fraction cut off. `dflt` otherwise,
 * and when `v` is absent or no number.
 */
uint64_t pc_json_u64(pc_json v, uint64_t dflt);

#endif
