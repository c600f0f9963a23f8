/*
 * core/line_split.c: the newline-delimited splitter behind line_split.h,
 * for NDJSON streams (Ollama and the like). It frames lines and nothing
 * more: it does not parse JSON.
 *
 * A line ends at LF; a CR just before that LF belongs to the line end, any
 * other CR is content. Because a line is only cut at LF, a CR that ends one
 * feed simply waits in the buffer for the next, and a CRLF split across
 * feeds needs no state of its own. A line that ends inside one feed is
 * handed out in place; only a line cut by a feed boundary is copied, into
 * one buffer that grows to the longest such line and is reused.
 *
 * Lines that are empty once the CR is removed are skipped; a line of only
 * spaces or tabs is delivered, because judging content is the parser's job
 * and a framing layer that trimmed would hide the server's bytes. The last
 * line of a stream may lack its LF; pt_lines_end() delivers it, treating a
 * trailing CR as the first half of a CRLF cut off by the end.
 */
#include "line_split.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct pt_lines {
  pt_line_cb cb;
  void *ud;
  size_t max;     /* bound on one line, without its line end */
  char *buf;      /* owned: a line cut by a feed boundary, CR included */
  size_t len, cap;
  int32_t err;    /* sticky: the code that stopped the splitter */
};

/* Keep the start of a line that the feed cut. One byte past `max` is
 * allowed because it may be the CR of a CRLF. */
static int32_t stash(pt_lines *l, const char *p, size_t n)
{
  size_t limit = l->max + 1;
  if (n > limit - l->len) return PT_ETOOBIG;
  if (l->len + n > l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 256;
    if (cap < l->len + n) cap = l->len + n;
    if (cap > limit) cap = limit;
    char *grown = realloc(l->buf, cap);
    if (!grown) return PT_ENOMEM;
    l->buf = grown;
    l->cap = cap;
  }
  memcpy(l->buf + l->len, p, n);
  l->len += n;
  return PT_OK;
}

static int32_t deliver(pt_lines *l, const char *p, size_t n)
{
  if (n > 0 && p[n - 1] == '\r') n--;
  if (n > l->max) return PT_ETOOBIG;
  if (n == 0) return PT_OK;
  int32_t rc = l->cb(l->ud, (pt_str){ p, n });
  return rc < 0 ? rc : PT_OK;
}

/* A line whose LF was just found: `p` is its tail in the current feed. */
static int32_t end_line(pt_lines *l, const char *p, size_t n)
{
  if (l->len == 0) return deliver(l, p, n);
  int32_t rc = stash(l, p, n);
  if (rc != PT_OK) return rc;
  size_t total = l->len;
  l->len = 0; /* the bytes stay valid until the next stash */
  return deliver(l, l->buf, total);
}

pt_lines *pt_lines_new(pt_line_cb cb, void *ud, size_t max_bytes)
{
  if (!cb) return NULL;
  pt_lines *l = calloc(1, sizeof *l);
  if (!l) return NULL;
  l->cb = cb;
  l->ud = ud;
  l->max = max_bytes ? max_bytes : PT_SPLIT_DEFAULT_MAX;
  if (l->max > SIZE_MAX / 2) l->max = SIZE_MAX / 2; /* so max + 1 fits */
  return l;
}

int32_t pt_lines_feed(pt_lines *l, const char *bytes, size_t len)
{
  if (!l || (!bytes && len > 0)) return PT_EINVAL;
  if (l->err) return l->err;
  if (len == 0) return PT_OK;
  const char *p = bytes, *end = bytes + len;
  int32_t rc = PT_OK;
  while (rc == PT_OK && p < end) {
    const char *lf = memchr(p, '\n', (size_t)(end - p));
    if (!lf) {
      rc = stash(l, p, (size_t)(end - p));
      break;
    }
    rc = end_line(l, p, (size_t)(lf - p));
    p = lf + 1;
  }
  if (rc != PT_OK) l->err = rc;
  return rc;
}

int32_t pt_lines_end(pt_lines *l)
{
  if (!l) return PT_EINVAL;
  if (l->err) return l->err;
  size_t total = l->len;
  l->len = 0;
  int32_t rc = deliver(l, l->buf, total);
  if (rc != PT_OK) l->err = rc;
  return rc;
}

void pt_lines_free(pt_lines *l)
{
  if (!l) return;
  free(l->buf);
  free(l);
}
