/*
 * core/line_split.h: newline-delimited framing (NDJSON and the like) over an
 * arbitrarily split byte stream. A pure parser: no I/O, no loop, one owner.
 * The behaviour is the one documented for pt_host_api.lines_new() in
 * portico/plugin.h.
 */
#ifndef PT_LINE_SPLIT_H
#define PT_LINE_SPLIT_H

#include <stddef.h>

#include "portico/plugin.h"
#include "sse_split.h" /* PT_SPLIT_DEFAULT_MAX */

/* A splitter that calls cb(ud, line) per non-empty line, without its LF or
 * CRLF. `max_bytes` bounds one line (0: PT_SPLIT_DEFAULT_MAX). Caller owns
 * the result (pt_lines_free); NULL when out of memory. */
pt_lines *pt_lines_new(pt_line_cb cb, void *ud, size_t max_bytes);

/* As pt_sse_feed. */
int32_t pt_lines_feed(pt_lines *l, const char *bytes, size_t len);

/* Deliver a last line that had no newline; PT_OK or a callback's code. */
int32_t pt_lines_end(pt_lines *l);

void pt_lines_free(pt_lines *l);

#endif
