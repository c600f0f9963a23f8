/*
 * core/shell_split_int.h: what the splitter's two files share
 * (shell_split_lex.c: words, tokens and here-document bodies;
 * shell_split.c: the grammar and the interface). Not a public interface.
 */
#ifndef PT_SHELL_SPLIT_INT_H
#define PT_SHELL_SPLIT_INT_H

#include <stddef.h>

#include "portico/plugin.h" /* PT_PRINTF */
#include "shell_split.h"

struct pt_sh_arena {
  struct pt_sh_arena *next;
  size_t used, cap;
  max_align_t data[];
};

typedef struct buf {
  char *d;
  size_t n, cap;
} buf;

typedef struct wvec {
  pt_sh_word *v;
  size_t n, cap;
} wvec;

typedef struct rvec {
  pt_sh_redir *v;
  size_t n, cap;
} rvec;

typedef struct lexer {
  const char *s;
  size_t len, pos;
} lexer;

enum { T_EOF, T_NEWLINE, T_WORD, T_IONUM, T_OP };
enum { OP_AND_IF, OP_OR_IF, OP_SEMI, OP_DSEMI, OP_AMP, OP_PIPE, OP_LPAREN,
       OP_RPAREN, OP_REDIR };
enum { TERM_EOF, TERM_PAREN, TERM_BRACE };

typedef struct token {
  int kind, op, fd, assign;
  char redir[4];
  pt_sh_word word;
} token;

/* A here-document waiting for its body: in the redirections of the
 * command being read (tmp), or of command `cmd` once that was stored. */
typedef struct heredoc {
  rvec *tmp;
  size_t cmd, idx;
  int strip, expand;
} heredoc;

typedef struct parser {
  pt_sh_split *out;
  size_t cmd_cap;
  lexer *lx;
  token peek;
  int have_peek;
  int depth, pipelines, no_heredoc, failed, oom;
  heredoc *hd;
  size_t nhd, hd_cap, hd_done;
} parser;

/* Record why the line is not understood (the first reason wins); -1. */
int pt__sh_fail(parser *p, const char *fmt, ...) PT_PRINTF(2, 3);
int pt__sh_oom(parser *p);

/* Memory: strings in the split's arena; vectors and buffers that grow. */
char *pt__sh_arena_str(parser *p, const char *s, size_t n);
int pt__sh_grow(parser *p, void **v, size_t n, size_t *cap, size_t size);
int pt__sh_put(parser *p, buf *b, const char *s, size_t n);
int pt__sh_putc(parser *p, buf *b, char c);

/* One level deeper; fails past PT_SH_MAX_DEPTH. */
int pt__sh_enter(parser *p);

int pt__sh_name_char(char c, int first);

/* The next token of p->lx; a newline also reads the bodies of the
 * here-documents its line opened. */
int pt__sh_next_token(parser *p, token *t);

/* Where a waiting here-document's redirection is now. */
pt_sh_redir *pt__sh_heredoc_redir(parser *p, const heredoc *e);

/* A list of and-or lists up to `term` (TERM_*), which it consumes. */
int pt__sh_parse_list(parser *p, int term);

#endif
