/*
 * core/sse_split.c: the Server-Sent Events parser behind sse_split.h, after
 * the WHATWG "interpreting an event stream" rules. It frames bytes into
 * events and nothing more: no reconnection, no JSON, no I/O.
 *
 * Bytes are buffered, never decoded, so a UTF-8 character cut across feeds
 * comes out whole. A line that ends inside one feed is parsed in place; only
 * a line cut by a feed boundary is copied. The buffers grow to the largest
 * event seen (at most max_bytes) and are reused, so a steady stream of small
 * events allocates nothing.
 *
 * Choices the spec leaves to us, because our events carry what the spec
 * keeps on the EventSource: `retry` belongs to the event whose block held it
 * and is forgotten at every blank line, like the event type; a retry value
 * that does not fit in int64 is ignored like any other invalid one.
 */
#include "sse_split.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* A line may exceed max_bytes by a field name, so that a data line carrying
 * a whole event's worth of data still fits. */
#define LINE_SLACK (sizeof "data: " - 1)

/* A growable byte buffer; `ptr` is owned. */
typedef struct buf {
  char *ptr;
  size_t len, cap;
} buf;

struct pt_sse {
  pt_sse_cb cb;
  void *ud;
  size_t max;      /* bound on one event's data; lines get LINE_SLACK more */
  buf line;        /* a line cut by a feed boundary, without its end */
  buf data;        /* data lines joined with "\n" */
  buf type;        /* the event type; empty means "message" */
  buf id;          /* the last event id; persists across events */
  int64_t retry;   /* -1 unless this event's block had a valid retry */
  int has_data;    /* a data line was seen, even an empty one */
  int after_cr;    /* the last feed ended in CR: a leading LF is its pair */
  int started;     /* past the point where a BOM may appear */
  size_t bom_len;  /* bytes of a BOM matched so far */
  int32_t err;     /* sticky: the code that stopped the splitter */
};

static const char bom[3] = { '\xEF', '\xBB', '\xBF' };

/* Append n bytes, failing with PT_ETOOBIG past `limit` bytes in all. */
static int32_t buf_append(buf *b, const char *p, size_t n, size_t limit)
{
  if (n > limit - b->len) return PT_ETOOBIG;
  if (b->len + n > b->cap) {
    size_t cap = b->cap ? b->cap * 2 : 64;
    if (cap < b->len + n) cap = b->len + n;
    if (cap > limit) cap = limit;
    char *grown = realloc(b->ptr, cap);
    if (!grown) return PT_ENOMEM;
    b->ptr = grown;
    b->cap = cap;
  }
  if (n > 0) memcpy(b->ptr + b->len, p, n);
  b->len += n;
  return PT_OK;
}

/* A buffer's content as a view that is never NULL, for callers who print. */
static pt_str view(const buf *b)
{
  return (pt_str){ b->ptr ? b->ptr : "", b->len };
}

static int is_field(const char *name, size_t len, const char *want)
{
  return len == strlen(want) && memcmp(name, want, len) == 0;
}

/* Digits only; anything else, empty, or past int64 is -1 (ignored). */
static int64_t parse_retry(const char *p, size_t n)
{
  int64_t v = 0;
  if (n == 0) return -1;
  for (size_t i = 0; i < n; i++) {
    if (p[i] < '0' || p[i] > '9') return -1;
    if (v > (INT64_MAX - (p[i] - '0')) / 10) return -1;
    v = v * 10 + (p[i] - '0');
  }
  return v;
}

static int32_t dispatch(pt_sse *s)
{
  int32_t rc = PT_OK;
  if (s->has_data) {
    pt_sse_event ev = { sizeof ev, 0, PT_STR_LIT("message"), view(&s->data),
                        view(&s->id), s->retry };
    if (s->type.len > 0) ev.event = view(&s->type);
    rc = s->cb(s->ud, &ev);
  }
  s->data.len = 0;
  s->type.len = 0;
  s->has_data = 0;
  s->retry = -1;
  return rc < 0 ? rc : PT_OK;
}

/* One complete line, without its end. */
static int32_t on_line(pt_sse *s, const char *p, size_t n)
{
  if (n == 0) return dispatch(s);
  if (p[0] == ':') return PT_OK;

  const char *colon = memchr(p, ':', n);
  size_t name_len = colon ? (size_t)(colon - p) : n;
  const char *value = colon ? colon + 1 : p + n;
  size_t value_len = (size_t)(p + n - value);
  if (value_len > 0 && value[0] == ' ') {
    value++;
    value_len--;
  }

  if (is_field(p, name_len, "data")) {
    int32_t rc = PT_OK;
    if (s->has_data) rc = buf_append(&s->data, "\n", 1, s->max);
    if (rc == PT_OK) rc = buf_append(&s->data, value, value_len, s->max);
    s->has_data = 1;
    return rc;
  }
  if (is_field(p, name_len, "event")) {
    s->type.len = 0;
    return buf_append(&s->type, value, value_len, s->max);
  }
  if (is_field(p, name_len, "id")) {
    if (memchr(value, '\0', value_len)) return PT_OK;
    s->id.len = 0;
    return buf_append(&s->id, value, value_len, s->max);
  }
  if (is_field(p, name_len, "retry")) {
    int64_t v = parse_retry(value, value_len);
    if (v >= 0) s->retry = v;
  }
  return PT_OK;
}

/* A line whose end was just found: `p` is its tail in the current feed. */
static int32_t end_line(pt_sse *s, const char *p, size_t n)
{
  if (s->line.len == 0) {
    if (n > s->max + LINE_SLACK) return PT_ETOOBIG;
    return on_line(s, p, n);
  }
  int32_t rc = buf_append(&s->line, p, n, s->max + LINE_SLACK);
  if (rc != PT_OK) return rc;
  size_t total = s->line.len;
  s->line.len = 0; /* the bytes stay valid: on_line never touches `line` */
  return on_line(s, s->line.ptr, total);
}

/* Split bytes into lines. CR and LF are found with memchr, each pointer
 * reused until the scan passes it, so the work stays linear. */
static int32_t scan(pt_sse *s, const char *p, size_t n)
{
  const char *end = p + n;
  if (n > 0 && s->after_cr) {
    s->after_cr = 0;
    if (*p == '\n') p++;
  }
  const char *cr = memchr(p, '\r', (size_t)(end - p));
  const char *lf = memchr(p, '\n', (size_t)(end - p));
  if (!cr) cr = end;
  if (!lf) lf = end;

  while (p < end) {
    if (cr < p && !(cr = memchr(p, '\r', (size_t)(end - p)))) cr = end;
    if (lf < p && !(lf = memchr(p, '\n', (size_t)(end - p)))) lf = end;
    const char *eol = cr < lf ? cr : lf;
    if (eol == end)
      return buf_append(&s->line, p, (size_t)(end - p), s->max + LINE_SLACK);

    int32_t rc = end_line(s, p, (size_t)(eol - p));
    if (rc != PT_OK) return rc;
    p = eol + 1;
    if (*eol == '\r') {
      if (p == end) s->after_cr = 1;
      else if (*p == '\n') p++;
    }
  }
  return PT_OK;
}

/* Drop a BOM at the very start of the stream, even one cut across feeds.
 * Returns how many bytes of `p` it consumed. */
static size_t skip_bom(pt_sse *s, const char *p, size_t n, int32_t *rc)
{
  size_t i = 0;
  while (!s->started && i < n) {
    if (p[i] != bom[s->bom_len]) {
      s->started = 1; /* not a BOM after all: its prefix is stream bytes */
      *rc = scan(s, bom, s->bom_len);
      return i;
    }
    i++;
    if (++s->bom_len == sizeof bom) s->started = 1;
  }
  return i;
}

pt_sse *pt_sse_new(pt_sse_cb cb, void *ud, size_t max_bytes)
{
  if (!cb) return NULL;
  pt_sse *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  s->cb = cb;
  s->ud = ud;
  s->max = max_bytes ? max_bytes : PT_SPLIT_DEFAULT_MAX;
  if (s->max > SIZE_MAX / 2) s->max = SIZE_MAX / 2; /* so the slack fits */
  s->retry = -1;
  return s;
}

int32_t pt_sse_feed(pt_sse *s, const char *bytes, size_t len)
{
  if (!s || (!bytes && len > 0)) return PT_EINVAL;
  if (s->err) return s->err;
  if (len == 0) return PT_OK;
  int32_t rc = PT_OK;
  size_t skipped = s->started ? 0 : skip_bom(s, bytes, len, &rc);
  if (rc == PT_OK) rc = scan(s, bytes + skipped, len - skipped);
  if (rc != PT_OK) s->err = rc;
  return rc;
}

int32_t pt_sse_end(pt_sse *s)
{
  if (!s) return PT_EINVAL;
  if (s->err) return s->err;
  int dropped = s->has_data || s->line.len > 0 ||
                (!s->started && s->bom_len > 0);
  s->line.len = 0;
  s->data.len = 0;
  s->type.len = 0;
  s->has_data = 0;
  s->retry = -1;
  return dropped ? PT_ECLOSED : PT_OK;
}

void pt_sse_free(pt_sse *s)
{
  if (!s) return;
  free(s->line.ptr);
  free(s->data.ptr);
  free(s->type.ptr);
  free(s->id.ptr);
  free(s);
}
