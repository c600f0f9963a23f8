/*
 * core/sse_split.h: Server-Sent Events framing over an arbitrarily split
 * byte stream. A pure parser: no I/O, no loop, one owner. The behaviour is
 * the one documented for pt_host_api.sse_new() in portico/plugin.h, after
 * the WHATWG event-stream parsing rules.
 */
#ifndef PT_SSE_SPLIT_H
#define PT_SSE_SPLIT_H

#include <stddef.h>

#include "portico/plugin.h"

/* The largest event (or line) a splitter buffers unless told otherwise. */
#define PT_SPLIT_DEFAULT_MAX ((size_t)16 << 20)

/* A splitter that calls cb(ud, ev) per event. `max_bytes` bounds one
 * event's buffered bytes (0: PT_SPLIT_DEFAULT_MAX). Caller owns the result
 * (pt_sse_free); NULL when out of memory. */
pt_sse *pt_sse_new(pt_sse_cb cb, void *ud, size_t max_bytes);

/* Feed the next bytes. Returns PT_OK, the first negative code a callback
 * returned, or PT_ETOOBIG. After an error the splitter only accepts
 * pt_sse_free(). */
int32_t pt_sse_feed(pt_sse *s, const char *bytes, size_t len);

/* End of stream: PT_ECLOSED when an unfinished event was dropped, else
 * PT_OK. */
int32_t pt_sse_end(pt_sse *s);

void pt_sse_free(pt_sse *s);

#endif
