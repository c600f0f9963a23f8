/*
 * plugins/common/buf.c: see buf.h.
 */
#include "buf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int pc_buf_reserve(pc_buf *b, size_t n)
{
  if (n > SIZE_MAX - 1 - b->len) return -1;
  size_t need = b->len + n + 1;
  if (need <= b->cap) return 0;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < need) cap = cap > SIZE_MAX / 2 ? need : cap * 2;
  char *p = realloc(b->p, cap);
  if (!p) return -1;
  b->p = p;
  b->cap = cap;
  return 0;
}

int pc_buf_append(pc_buf *b, const char *p, size_t n)
{
  if (pc_buf_reserve(b, n) != 0) return -1;
  if (n) memcpy(b->p + b->len, p, n);
  b->len += n;
  b->p[b->len] = '\0';
  return 0;
}

pt_str pc_buf_view(const pc_buf *b)
{
  return (pt_str){ b->p ? b->p : "", b->len };
}

void pc_buf_free(pc_buf *b)
{
  free(b->p);
  memset(b, 0, sizeof *b);
}
