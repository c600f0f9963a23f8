/*
 * plugins/common/buf.h: a growable byte buffer that is reused, never
 * shrunk, until it is freed.
 *
 * What the bundled providers collect or decode into: a response body, a
 * stream event's unescaped strings (json_view.h), text held back while a
 * tool call is decided. Kept from event to event, it settles at the size
 * the stream needs after the first few events, so a stream of many small
 * deltas allocates nothing per delta. Not a string library: it only
 * appends and is emptied by setting `len` to 0.
 */
#ifndef PT_PC_BUF_H
#define PT_PC_BUF_H

#include <stddef.h>

#include <portico/plugin.h>

/* Zero-initialized ({ 0 }) it is an empty buffer that owns nothing. */
typedef struct pc_buf {
  char *p;       /* owned; NULL until the first growth, then always
                    NUL-terminated at p[len] */
  size_t len;    /* bytes held; the holder may set it to 0 (or shorter,
                    then write p[len] = '\0' if it reads p as a C string) */
  size_t cap;    /* bytes allocated at p */
} pc_buf;

/* Make room for `n` more bytes and the NUL after them, keeping what is
 * held. 0, or -1 when memory ran out (then `b` is unchanged). */
int pc_buf_reserve(pc_buf *b, size_t n);

/* Append `n` bytes from `p` (which may be NULL when `n` is 0) and keep a
 * NUL after them, so that even an append of nothing leaves `b->p` a valid
 * C string. 0, or -1 when memory ran out (then `b` is unchanged). */
int pc_buf_append(pc_buf *b, const char *p, size_t n);

/* The bytes held, as a view valid until `b` next grows or is freed; an
 * empty view (never NULL) when nothing was ever held. */
pt_str pc_buf_view(const pc_buf *b);

/* Release the memory and leave `b` empty, as if zero-initialized. */
void pc_buf_free(pc_buf *b);

#endif
