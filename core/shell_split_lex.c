/*
 * core/shell_split_lex.c: the splitter's words and tokens (see
 * shell_split.h): quote removal, $'…' decoding, substitutions (read by
 * calling back into the grammar, or, for backquotes, by a lexer of their
 * own), operators, and here-document bodies, read at the newline that ends
 * their line as sh does. Not for: the grammar (shell_split.c).
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shell_split_int.h"

int pt__sh_fail(parser *p, const char *fmt, ...)
{
  if (!p->failed) {
    p->failed = 1;
    p->out->ok = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->out->error, sizeof p->out->error, fmt, ap);
    va_end(ap);
  }
  return -1;
}

int pt__sh_oom(parser *p)
{
  p->oom = 1;
  return pt__sh_fail(p, "out of memory");
}

static void *arena_alloc(pt_sh_split *s, size_t n)
{
  size_t unit = sizeof(max_align_t), need = (n + unit - 1) / unit;
  struct pt_sh_arena *a = s->arena;
  if (!a || a->cap - a->used < need) {
    size_t cap = need > 512 ? need : 512;
    a = malloc(sizeof *a + cap * unit);
    if (!a) return NULL;
    a->next = s->arena;
    a->used = 0;
    a->cap = cap;
    s->arena = a;
  }
  void *r = a->data + a->used;
  a->used += need;
  return r;
}

char *pt__sh_arena_str(parser *p, const char *s, size_t n)
{
  char *d = arena_alloc(p->out, n + 1);
  if (!d) {
    pt__sh_oom(p);
    return NULL;
  }
  if (n) memcpy(d, s, n);
  d[n] = '\0';
  return d;
}

/* Grow *v (n used of *cap, elements of `size`) to hold one more. */
int pt__sh_grow(parser *p, void **v, size_t n, size_t *cap, size_t size)
{
  if (n < *cap) return 0;
  size_t nc = *cap ? *cap * 2 : 8;
  void *nv = realloc(*v, nc * size);
  if (!nv) return pt__sh_oom(p);
  *v = nv;
  *cap = nc;
  return 0;
}

int pt__sh_put(parser *p, buf *b, const char *s, size_t n)
{
  if (b->n + n + 1 > b->cap) {
    size_t nc = b->cap ? b->cap : 64;
    while (nc < b->n + n + 1) nc *= 2;
    char *d = realloc(b->d, nc);
    if (!d) return pt__sh_oom(p);
    b->d = d;
    b->cap = nc;
  }
  memcpy(b->d + b->n, s, n);
  b->n += n;
  return 0;
}

int pt__sh_putc(parser *p, buf *b, char c) { return pt__sh_put(p, b, &c, 1); }

int pt__sh_enter(parser *p)
{
  if (++p->depth > PT_SH_MAX_DEPTH)
    return pt__sh_fail(p, "nested more than %d deep", PT_SH_MAX_DEPTH);
  return 0;
}

/* ------------------------------------------------------------------------ */
/* Words                                                                     */

static int lex_dq(parser *p, buf *b, unsigned *flags, int in_body);
static int lex_dollar(parser *p, buf *b, unsigned *flags, int in_dq);

/* A list read from the current lexer up to ')' whose commands are marked
 * as substitutions; the raw text from `start` goes into b. */
static int substitution(parser *p, buf *b, unsigned *flags, size_t start)
{
  size_t first = p->out->ncmds;
  if (pt__sh_enter(p) < 0 || pt__sh_parse_list(p, TERM_PAREN) < 0) return -1;
  p->depth--;
  for (size_t i = first; i < p->out->ncmds; i++)
    p->out->cmds[i].flags |= PT_SH_SUBSTITUTION;
  *flags |= PT_SH_EXPANDS;
  return pt__sh_put(p, b, p->lx->s + start, p->lx->pos - start);
}

/* `…`: unescape \$ \` \\ (and \" in double quotes), then read the inside
 * with a lexer of its own. */
static int lex_backtick(parser *p, buf *b, unsigned *flags, int in_dq)
{
  lexer *lx = p->lx;
  size_t start = lx->pos++;
  buf in = { 0 };
  int rc = 0;
  for (;;) {
    if (lx->pos >= lx->len) {
      rc = pt__sh_fail(p, "unterminated backquote");
      break;
    }
    char c = lx->s[lx->pos], n = lx->pos + 1 < lx->len ? lx->s[lx->pos + 1] : 0;
    if (c == '`') {
      lx->pos++;
      break;
    }
    if (c == '\\' && (n == '$' || n == '`' || n == '\\' || (in_dq && n == '"'))) {
      rc = pt__sh_putc(p, &in, n);
      lx->pos += 2;
    } else if (c == '\\' && n == '\n') {
      lx->pos += 2;
    } else {
      rc = pt__sh_putc(p, &in, c);
      lx->pos++;
    }
    if (rc < 0) break;
  }
  char *text = rc == 0 ? pt__sh_arena_str(p, in.d ? in.d : "", in.n) : NULL;
  size_t len = in.n;
  free(in.d);
  if (!text || pt__sh_enter(p) < 0) return -1;
  lexer sub = { text, len, 0 };
  size_t first = p->out->ncmds;
  p->lx = &sub;
  p->no_heredoc++;
  rc = pt__sh_parse_list(p, TERM_EOF);
  p->no_heredoc--;
  p->lx = lx;
  p->depth--;
  if (rc < 0) return -1;
  for (size_t i = first; i < p->out->ncmds; i++)
    p->out->cmds[i].flags |= PT_SH_SUBSTITUTION;
  *flags |= PT_SH_EXPANDS;
  return pt__sh_put(p, b, lx->s + start, lx->pos - start);
}

/* ${…}: skipped to its closing brace, substitutions inside read. */
static int lex_param(parser *p, buf *b, unsigned *flags, int in_dq)
{
  lexer *lx = p->lx;
  size_t start = lx->pos;
  buf scratch = { 0 };
  unsigned f = 0;
  int rc = pt__sh_enter(p);
  lx->pos += 2;
  while (rc == 0) {
    if (lx->pos >= lx->len) {
      rc = pt__sh_fail(p, "unterminated ${");
      break;
    }
    char c = lx->s[lx->pos];
    if (c == '}') {
      lx->pos++;
      break;
    }
    if (c == '\\') {
      lx->pos += 2;
    } else if (c == '\'' && !in_dq) {
      const char *q = memchr(lx->s + lx->pos + 1, '\'', lx->len - lx->pos - 1);
      if (!q) rc = pt__sh_fail(p, "unterminated single quote");
      else lx->pos = (size_t)(q - lx->s) + 1;
    } else if (c == '"') {
      lx->pos++;
      rc = lex_dq(p, &scratch, &f, 0);
    } else if (c == '$') {
      rc = lex_dollar(p, &scratch, &f, in_dq);
    } else if (c == '`') {
      rc = lex_backtick(p, &scratch, &f, in_dq);
    } else {
      lx->pos++;
    }
  }
  free(scratch.d);
  if (rc < 0) return -1;
  p->depth--;
  *flags |= PT_SH_EXPANDS;
  return pt__sh_put(p, b, lx->s + start, lx->pos - start);
}

static int hexval(char c)
{
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static int put_utf8(parser *p, buf *b, uint32_t u)
{
  char o[4];
  size_t n;
  if (u < 0x80) { o[0] = (char)u; n = 1; }
  else if (u < 0x800) { o[0] = (char)(0xc0 | u >> 6); o[1] = (char)(0x80 | (u & 0x3f)); n = 2; }
  else if (u < 0x10000) { o[0] = (char)(0xe0 | u >> 12); o[1] = (char)(0x80 | (u >> 6 & 0x3f)); o[2] = (char)(0x80 | (u & 0x3f)); n = 3; }
  else { o[0] = (char)(0xf0 | (u >> 18 & 0x07)); o[1] = (char)(0x80 | (u >> 12 & 0x3f)); o[2] = (char)(0x80 | (u >> 6 & 0x3f)); o[3] = (char)(0x80 | (u & 0x3f)); n = 4; }
  return pt__sh_put(p, b, o, n);
}

/* $'…' with bash's escapes; a NUL ends the string's value, as in bash. */
static int lex_ansi(parser *p, buf *b)
{
  static const char from[] = "abeEfnrtv\\'\"?", to[] = "\a\b\033\033\f\n\r\t\v\\'\"?";
  lexer *lx = p->lx;
  int cut = 0;
  lx->pos += 2;
  for (;;) {
    if (lx->pos >= lx->len) return pt__sh_fail(p, "unterminated $'");
    char c = lx->s[lx->pos++];
    if (c == '\'') return 0;
    uint32_t v = (unsigned char)c;
    if (c == '\\' && lx->pos < lx->len) {
      char e = lx->s[lx->pos++];
      const char *k = strchr(from, e);
      int digits = 0, max = e == 'x' ? 2 : e == 'u' ? 4 : e == 'U' ? 8 : 0;
      if (k && e) {
        v = (unsigned char)to[k - from];
      } else if (e >= '0' && e <= '7') {
        v = (uint32_t)(e - '0');
        for (int i = 0; i < 2 && lx->pos < lx->len && lx->s[lx->pos] >= '0' &&
                        lx->s[lx->pos] <= '7'; i++)
          v = v * 8 + (uint32_t)(lx->s[lx->pos++] - '0');
        v &= 0xff;
      } else if (max) {
        v = 0;
        while (digits < max && lx->pos < lx->len && hexval(lx->s[lx->pos]) >= 0) {
          v = v * 16 + (uint32_t)hexval(lx->s[lx->pos++]);
          digits++;
        }
        if (!digits) return pt__sh_fail(p, "cannot understand \\%c without digits in $'…'", e);
      } else if (e == 'c' && lx->pos < lx->len) {
        v = (uint32_t)(lx->s[lx->pos++] & 0x1f);
      } else {
        if (!cut && pt__sh_putc(p, b, '\\') < 0) return -1;
        v = (unsigned char)e;
      }
      if (v == 0) cut = 1;
      if (!cut && (e == 'u' || e == 'U') && put_utf8(p, b, v) < 0) return -1;
      if (e == 'u' || e == 'U') continue;
    }
    if (!cut && pt__sh_putc(p, b, (char)v) < 0) return -1;
  }
}

static int lex_dollar(parser *p, buf *b, unsigned *flags, int in_dq)
{
  lexer *lx = p->lx;
  size_t start = lx->pos, i;
  char n = lx->pos + 1 < lx->len ? lx->s[lx->pos + 1] : 0;
  if (n == '(' && lx->pos + 2 < lx->len && lx->s[lx->pos + 2] == '(') {
    int depth = 0;
    for (i = lx->pos + 1; i < lx->len; i++) {
      char c = lx->s[i];
      if (c == '(') depth++;
      else if (c == ')' && --depth == 0) break;
      else if (c == '`' || c == '\'' || c == '"' || (c == '$' && i + 1 < lx->len && lx->s[i + 1] == '('))
        return pt__sh_fail(p, "cannot understand quotes or substitutions inside $(( ))");
    }
    if (i >= lx->len) return pt__sh_fail(p, "unterminated $((");
    lx->pos = i + 1;
    *flags |= PT_SH_EXPANDS;
    return pt__sh_put(p, b, lx->s + start, lx->pos - start);
  }
  if (n == '(') {
    lx->pos += 2;
    return substitution(p, b, flags, start);
  }
  if (n == '{') return lex_param(p, b, flags, in_dq);
  if (n == '\'' && !in_dq) {
    *flags |= PT_SH_QUOTED;
    return lex_ansi(p, b);
  }
  if (n == '"' && !in_dq) {
    *flags |= PT_SH_QUOTED;
    lx->pos += 2;
    return lex_dq(p, b, flags, 0);
  }
  if (n == '_' || (n >= 'a' && n <= 'z') || (n >= 'A' && n <= 'Z')) {
    i = lx->pos + 1;
    while (i < lx->len && (lx->s[i] == '_' || (lx->s[i] >= 'a' && lx->s[i] <= 'z') ||
                           (lx->s[i] >= 'A' && lx->s[i] <= 'Z') ||
                           (lx->s[i] >= '0' && lx->s[i] <= '9')))
      i++;
    lx->pos = i;
  } else if (n && strchr("0123456789@*#?$!-", n)) {
    lx->pos += 2;
  } else {
    lx->pos++;
    return pt__sh_putc(p, b, '$');
  }
  *flags |= PT_SH_EXPANDS;
  return pt__sh_put(p, b, lx->s + start, lx->pos - start);
}

/* Double-quoted text after the opening quote, up to the closing one; in a
 * here-document body (in_body), to the end of the lexer, quotes plain. */
static int lex_dq(parser *p, buf *b, unsigned *flags, int in_body)
{
  lexer *lx = p->lx;
  for (;;) {
    if (lx->pos >= lx->len) return in_body ? 0 : pt__sh_fail(p, "unterminated double quote");
    char c = lx->s[lx->pos], n = lx->pos + 1 < lx->len ? lx->s[lx->pos + 1] : 0;
    int rc;
    if (c == '"' && !in_body) {
      lx->pos++;
      return 0;
    }
    if (c == '\\' && n == '\n') {
      lx->pos += 2;
      continue;
    }
    if (c == '\\' && (n == '$' || n == '`' || n == '\\' || (n == '"' && !in_body))) {
      rc = pt__sh_putc(p, b, n);
      lx->pos += 2;
    } else if (c == '$') {
      rc = lex_dollar(p, b, flags, 1);
    } else if (c == '`') {
      rc = lex_backtick(p, b, flags, 1);
    } else {
      rc = pt__sh_putc(p, b, c);
      lx->pos++;
    }
    if (rc < 0) return -1;
  }
}

int pt__sh_name_char(char c, int first)
{
  return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (!first && c >= '0' && c <= '9');
}

static int lex_word(parser *p, token *t)
{
  lexer *lx = p->lx;
  buf b = { 0 };
  unsigned flags = 0;
  int name_ok = 1, assign = 0, rc = 0;
  if (lx->s[lx->pos] == '~') flags |= PT_SH_TILDE;
  while (rc == 0 && lx->pos < lx->len) {
    char c = lx->s[lx->pos], n = lx->pos + 1 < lx->len ? lx->s[lx->pos + 1] : 0;
    if (c == ' ' || c == '\t' || c == '\n' || c == ';' || c == '&' || c == '|' ||
        c == '(' || c == ')')
      break;
    if (c == '<' || c == '>') {
      if (b.n || flags || n != '(') break;
      lx->pos += 2;
      rc = substitution(p, &b, &flags, lx->pos - 2);
      name_ok = 0;
      continue;
    }
    if (c == '=' && name_ok && b.n && !assign) assign = 1;
    else if (!pt__sh_name_char(c, b.n == 0)) name_ok = 0;
    if (c == '\\') {
      if (n == '\n') {
        lx->pos += 2;
        continue;
      }
      if (!n) {
        rc = pt__sh_fail(p, "cannot understand a backslash at the end");
        break;
      }
      flags |= PT_SH_QUOTED;
      rc = pt__sh_putc(p, &b, n);
      lx->pos += 2;
    } else if (c == '\'') {
      const char *q = memchr(lx->s + lx->pos + 1, '\'', lx->len - lx->pos - 1);
      if (!q) {
        rc = pt__sh_fail(p, "unterminated single quote");
        break;
      }
      flags |= PT_SH_QUOTED;
      rc = pt__sh_put(p, &b, lx->s + lx->pos + 1, (size_t)(q - lx->s) - lx->pos - 1);
      lx->pos = (size_t)(q - lx->s) + 1;
    } else if (c == '"') {
      flags |= PT_SH_QUOTED;
      lx->pos++;
      rc = lex_dq(p, &b, &flags, 0);
    } else if (c == '$') {
      rc = lex_dollar(p, &b, &flags, 0);
    } else if (c == '`') {
      rc = lex_backtick(p, &b, &flags, 0);
    } else {
      if (strchr("*?[{}", c)) flags |= PT_SH_GLOB;
      rc = pt__sh_putc(p, &b, c);
      lx->pos++;
    }
  }
  char *text = rc == 0 ? pt__sh_arena_str(p, b.d ? b.d : "", b.n) : NULL;
  t->kind = T_WORD;
  t->assign = assign;
  t->word = (pt_sh_word){ text, b.n, flags };
  free(b.d);
  return text ? 0 : -1;
}

/* ------------------------------------------------------------------------ */
/* Tokens                                                                    */

static int read_heredocs(parser *p);

static int op(token *t, lexer *lx, int kind, size_t n, const char *redir)
{
  t->kind = T_OP;
  t->op = kind;
  if (redir) snprintf(t->redir, sizeof t->redir, "%s", redir);
  lx->pos += n;
  return 0;
}

int pt__sh_next_token(parser *p, token *t)
{
  lexer *lx = p->lx;
  memset(t, 0, sizeof *t);
  for (;;) {
    while (lx->pos < lx->len && (lx->s[lx->pos] == ' ' || lx->s[lx->pos] == '\t'))
      lx->pos++;
    if (lx->pos + 1 < lx->len && lx->s[lx->pos] == '\\' && lx->s[lx->pos + 1] == '\n') {
      lx->pos += 2;
    } else if (lx->pos < lx->len && lx->s[lx->pos] == '#') {
      while (lx->pos < lx->len && lx->s[lx->pos] != '\n') lx->pos++;
    } else {
      break;
    }
  }
  if (lx->pos >= lx->len) {
    t->kind = T_EOF;
    return 0;
  }
  const char *s = lx->s + lx->pos;
  size_t left = lx->len - lx->pos;
  char c = s[0], c2 = left > 1 ? s[1] : 0, c3 = left > 2 ? s[2] : 0;
  switch (c) {
  case '\n':
    lx->pos++;
    t->kind = T_NEWLINE;
    return p->no_heredoc ? 0 : read_heredocs(p);
  case '&':
    if (c2 == '&') return op(t, lx, OP_AND_IF, 2, NULL);
    if (c2 == '>') return op(t, lx, OP_REDIR, c3 == '>' ? 3 : 2, c3 == '>' ? "&>>" : "&>");
    return op(t, lx, OP_AMP, 1, NULL);
  case '|':
    if (c2 == '|') return op(t, lx, OP_OR_IF, 2, NULL);
    return op(t, lx, OP_PIPE, c2 == '&' ? 2 : 1, NULL);
  case ';':
    return op(t, lx, c2 == ';' || c2 == '&' ? OP_DSEMI : OP_SEMI, c2 == ';' || c2 == '&' ? 2 : 1, NULL);
  case '(':
    return op(t, lx, OP_LPAREN, 1, NULL);
  case ')':
    return op(t, lx, OP_RPAREN, 1, NULL);
  case '<':
    if (c2 == '(') break;
    if (c2 == '<' && c3 == '<') return op(t, lx, OP_REDIR, 3, "<<<");
    if (c2 == '<' && c3 == '-') return op(t, lx, OP_REDIR, 3, "<<-");
    if (c2 == '<' || c2 == '&' || c2 == '>') {
      char r[3] = { '<', c2, 0 };
      return op(t, lx, OP_REDIR, 2, r);
    }
    return op(t, lx, OP_REDIR, 1, "<");
  case '>':
    if (c2 == '(') break;
    if (c2 == '>' || c2 == '|' || c2 == '&') {
      char r[3] = { '>', c2, 0 };
      return op(t, lx, OP_REDIR, 2, r);
    }
    return op(t, lx, OP_REDIR, 1, ">");
  default:
    break;
  }
  if (lex_word(p, t) < 0) return -1;
  const pt_sh_word *w = &t->word;
  if (!w->flags && w->len && w->len <= 4 && lx->pos < lx->len &&
      (lx->s[lx->pos] == '<' || lx->s[lx->pos] == '>') &&
      strspn(w->text, "0123456789") == w->len) {
    t->kind = T_IONUM;
    t->fd = atoi(w->text);
  }
  return 0;
}

/* ------------------------------------------------------------------------ */
/* Here-documents                                                            */

pt_sh_redir *pt__sh_heredoc_redir(parser *p, const heredoc *e)
{
  return e->tmp ? &e->tmp->v[e->idx] : &p->out->cmds[e->cmd].redirs[e->idx];
}

/* Bodies of the here-documents of the line that just ended, in order. */
static int read_heredocs(parser *p)
{
  lexer *lx = p->lx;
  while (p->hd_done < p->nhd) {
    heredoc *e = &p->hd[p->hd_done++];
    pt_sh_redir *r = pt__sh_heredoc_redir(p, e);
    const char *delim = r->target.text;
    size_t dlen = r->target.len, start = lx->pos, end;
    buf body = { 0 };
    for (;;) {
      if (lx->pos >= lx->len) {
        free(body.d);
        return pt__sh_fail(p, "here-document ends before its delimiter '%.40s'", delim);
      }
      size_t ls = lx->pos, le = ls;
      while (le < lx->len && lx->s[le] != '\n') le++;
      size_t cs = ls;
      if (e->strip) while (cs < le && lx->s[cs] == '\t') cs++;
      lx->pos = le < lx->len ? le + 1 : le;
      if (le - cs == dlen && memcmp(lx->s + cs, delim, dlen) == 0) {
        end = ls;
        break;
      }
      if (pt__sh_put(p, &body, lx->s + cs, lx->pos - cs) < 0) {
        free(body.d);
        return -1;
      }
    }
    char *text = pt__sh_arena_str(p, body.d ? body.d : "", body.n);
    free(body.d);
    if (!text) return -1;
    r = pt__sh_heredoc_redir(p, e);
    r->body = text;
    r->body_len = body.n;
    if (e->expand) {
      lexer sub = { lx->s + start, end - start, 0 };
      buf scratch = { 0 };
      unsigned f = 0;
      p->lx = &sub;
      p->no_heredoc++;
      int rc = lex_dq(p, &scratch, &f, 1);
      p->no_heredoc--;
      p->lx = lx;
      free(scratch.d);
      if (rc < 0) return -1;
    }
  }
  return 0;
}
