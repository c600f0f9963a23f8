/*
 * core/shell_split.c: a POSIX sh command line split into simple commands
 * (see shell_split.h): the grammar and the interface.
 *
 * A recursive-descent reader over the tokens of shell_split_lex.c: list,
 * and-or, pipeline, command. A $( … ) or <( … ) inside a word calls back
 * into the list reader on the same lexer, so commands inside substitutions
 * are found at any depth (up to PT_SH_MAX_DEPTH). Not for: expanding
 * anything, or guessing at what it does not understand.
 */
#include "shell_split.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shell_split_int.h"

static token *peek(parser *p)
{
  if (!p->have_peek) {
    token t;
    if (pt__sh_next_token(p, &t) < 0) return NULL;
    p->peek = t;
    p->have_peek = 1;
  }
  return &p->peek;
}

static void consume(parser *p) { p->have_peek = 0; }

static int is_word(const token *t, const char *w)
{
  return t->kind == T_WORD && !(t->word.flags & PT_SH_QUOTED) &&
         strcmp(t->word.text, w) == 0;
}

static const char *describe(const token *t)
{
  static const char *const ops[] = { "'&&'", "'||'", "';'", "';;'", "'&'",
                                     "'|'", "'('", "')'", "a redirection" };
  if (t->kind == T_EOF) return "the end";
  if (t->kind == T_NEWLINE) return "a newline";
  if (t->kind == T_OP) return ops[t->op];
  return "a word";
}

/* ------------------------------------------------------------------------ */
/* Commands                                                                  */

static int push_word(parser *p, wvec *v, const pt_sh_word *w)
{
  if (pt__sh_grow(p, (void **)&v->v, v->n, &v->cap, sizeof *v->v) < 0) return -1;
  v->v[v->n++] = *w;
  return 0;
}

static int parse_redir(parser *p, rvec *rv, int fd)
{
  pt_sh_redir r = { .fd = fd };
  memcpy(r.op, p->peek.redir, sizeof r.op);
  consume(p);
  token *t = peek(p);
  if (!t) return -1;
  if (t->kind != T_WORD && t->kind != T_IONUM)
    return pt__sh_fail(p, "the redirection '%s' has no target", r.op);
  r.target = t->word;
  consume(p);
  if (pt__sh_grow(p, (void **)&rv->v, rv->n, &rv->cap, sizeof *rv->v) < 0) return -1;
  rv->v[rv->n++] = r;
  if (strcmp(r.op, "<<") != 0 && strcmp(r.op, "<<-") != 0) return 0;
  if (p->no_heredoc)
    return pt__sh_fail(p, "cannot understand a here-document inside backquotes or "
                   "another here-document");
  if (pt__sh_grow(p, (void **)&p->hd, p->nhd, &p->hd_cap, sizeof *p->hd) < 0) return -1;
  p->hd[p->nhd++] = (heredoc){ .tmp = rv, .idx = rv->n - 1,
                               .strip = r.op[2] == '-',
                               .expand = !(r.target.flags & PT_SH_QUOTED) };
  return 0;
}

/* Store a finished command; it takes over the vectors. */
static int push_cmd(parser *p, wvec *as, wvec *av, rvec *rv, int pipeline,
                    int stage)
{
  pt_sh_split *s = p->out;
  if (s->ncmds >= PT_SH_MAX_CMDS)
    return pt__sh_fail(p, "more than %d commands", PT_SH_MAX_CMDS);
  if (pt__sh_grow(p, (void **)&s->cmds, s->ncmds, &p->cmd_cap, sizeof *s->cmds) < 0)
    return -1;
  s->cmds[s->ncmds] = (pt_sh_cmd){ as->v, as->n, av->v, av->n, rv->v, rv->n,
                                   0, p->depth, pipeline, stage };
  for (size_t i = p->hd_done; i < p->nhd; i++) {
    if (p->hd[i].tmp == rv) {
      p->hd[i].tmp = NULL;
      p->hd[i].cmd = s->ncmds;
    }
  }
  s->ncmds++;
  memset(as, 0, sizeof *as);
  memset(av, 0, sizeof *av);
  memset(rv, 0, sizeof *rv);
  return 0;
}

static int parse_simple(parser *p, int pipeline, int stage)
{
  wvec as = { 0 }, av = { 0 };
  rvec rv = { 0 };
  int any = 0, rc = 0;
  token *t;
  while (rc == 0 && (t = peek(p))) {
    if (t->kind == T_IONUM) {
      int fd = t->fd;
      consume(p);
      if (!(t = peek(p))) break;
      rc = t->kind == T_OP && t->op == OP_REDIR ? parse_redir(p, &rv, fd)
                                                : pt__sh_fail(p, "cannot understand a number before %s", describe(t));
    } else if (t->kind == T_OP && t->op == OP_REDIR) {
      rc = parse_redir(p, &rv, -1);
    } else if (t->kind == T_WORD) {
      rc = push_word(p, av.n == 0 && t->assign ? &as : &av, &t->word);
      consume(p);
    } else if (t->kind == T_OP && t->op == OP_LPAREN) {
      rc = pt__sh_fail(p, av.n == 1 ? "cannot understand function definitions"
                             : "unexpected '('");
    } else {
      break;
    }
    any = 1;
  }
  if (!p->failed && !any)
    rc = pt__sh_fail(p, "expected a command before %s", describe(&p->peek));
  if (!p->failed) rc = push_cmd(p, &as, &av, &rv, pipeline, stage);
  if (p->failed) {
    /* Nothing reads a here-document body after a failure. */
    free(as.v);
    free(av.v);
    free(rv.v);
    return -1;
  }
  return rc;
}

/* Redirections after ( … ) or { …; } apply to every command inside. */
static int group_redirs(parser *p, size_t first)
{
  rvec rv = { 0 };
  token *t;
  int rc = 0;
  while (rc == 0 && (t = peek(p)) && (t->kind == T_IONUM || (t->kind == T_OP && t->op == OP_REDIR))) {
    int fd = -1;
    if (t->kind == T_IONUM) {
      fd = t->fd;
      consume(p);
      if (!(t = peek(p))) break;
      if (t->kind != T_OP || t->op != OP_REDIR) {
        rc = pt__sh_fail(p, "cannot understand a number before %s", describe(t));
        break;
      }
    }
    if (!strncmp(t->redir, "<<", 2) && strcmp(t->redir, "<<<") != 0)
      rc = pt__sh_fail(p, "cannot understand a here-document after ( ) or { }");
    else
      rc = parse_redir(p, &rv, fd);
  }
  for (size_t i = first; rv.n && rc == 0 && !p->failed && i < p->out->ncmds; i++) {
    pt_sh_cmd *c = &p->out->cmds[i];
    pt_sh_redir *nv = realloc(c->redirs, (c->nredirs + rv.n) * sizeof *nv);
    if (!nv) {
      rc = pt__sh_oom(p);
      break;
    }
    memcpy(nv + c->nredirs, rv.v, rv.n * sizeof *nv);
    c->redirs = nv;
    c->nredirs += rv.n;
  }
  free(rv.v);
  return p->failed ? -1 : rc;
}

static int parse_command(parser *p, int pipeline, int stage)
{
  static const char *const reserved[] = {
    "if", "then", "else", "elif", "fi", "do", "done", "case", "esac", "while",
    "until", "for", "in", "function", "select", "[[", "]]", "}", "coproc"
  };
  token *t = peek(p);
  if (!t) return -1;
  int paren = t->kind == T_OP && t->op == OP_LPAREN;
  if (paren || is_word(t, "{")) {
    size_t first = p->out->ncmds;
    consume(p);
    if (pt__sh_enter(p) < 0 || pt__sh_parse_list(p, paren ? TERM_PAREN : TERM_BRACE) < 0) return -1;
    p->depth--;
    for (size_t i = first; paren && i < p->out->ncmds; i++)
      p->out->cmds[i].flags |= PT_SH_SUBSHELL;
    return group_redirs(p, first);
  }
  for (size_t i = 0; t->kind == T_WORD && i < sizeof reserved / sizeof *reserved; i++) {
    if (is_word(t, reserved[i]))
      return pt__sh_fail(p, "cannot understand '%s': if, for, while, case, functions "
                     "and [[ ]] are not supported", reserved[i]);
  }
  return parse_simple(p, pipeline, stage);
}

static int skip_newlines(parser *p)
{
  token *t;
  while ((t = peek(p)) && t->kind == T_NEWLINE) consume(p);
  return t ? 0 : -1;
}

static int parse_pipeline(parser *p)
{
  token *t = peek(p);
  if (!t) return -1;
  int negated = is_word(t, "!");
  if (negated) consume(p);
  size_t first = p->out->ncmds;
  int id = ++p->pipelines, stage = 1;
  if (parse_command(p, id, stage) < 0) return -1;
  while ((t = peek(p)) && t->kind == T_OP && t->op == OP_PIPE) {
    consume(p);
    if (skip_newlines(p) < 0 || parse_command(p, id, ++stage) < 0) return -1;
  }
  for (size_t i = first; negated && i < p->out->ncmds; i++)
    p->out->cmds[i].flags |= PT_SH_NEGATED;
  return t ? 0 : -1;
}

static int parse_and_or(parser *p)
{
  if (parse_pipeline(p) < 0) return -1;
  token *t;
  while ((t = peek(p)) && t->kind == T_OP && (t->op == OP_AND_IF || t->op == OP_OR_IF)) {
    consume(p);
    if (skip_newlines(p) < 0 || parse_pipeline(p) < 0) return -1;
  }
  return t ? 0 : -1;
}

int pt__sh_parse_list(parser *p, int term)
{
  for (;;) {
    token *t = peek(p);
    if (!t) return -1;
    if (t->kind == T_NEWLINE) {
      consume(p);
      continue;
    }
    if (t->kind == T_EOF) {
      if (term == TERM_EOF) return 0;
      return pt__sh_fail(p, term == TERM_PAREN ? "missing ')'" : "missing '}'");
    }
    if (t->kind == T_OP && t->op == OP_RPAREN) {
      if (term != TERM_PAREN) return pt__sh_fail(p, "unexpected ')'");
      consume(p);
      return 0;
    }
    if (term == TERM_BRACE && is_word(t, "}")) {
      consume(p);
      return 0;
    }
    if (t->kind == T_OP && t->op == OP_DSEMI)
      return pt__sh_fail(p, "cannot understand ';;' outside case");
    size_t first = p->out->ncmds;
    if (parse_and_or(p) < 0 || !(t = peek(p))) return -1;
    if (t->kind == T_OP && (t->op == OP_SEMI || t->op == OP_AMP)) {
      for (size_t i = first; t->op == OP_AMP && i < p->out->ncmds; i++)
        p->out->cmds[i].flags |= PT_SH_BACKGROUND;
      consume(p);
    } else if (t->kind == T_OP && t->op == OP_DSEMI) {
      return pt__sh_fail(p, "cannot understand ';;' outside case");
    } else if (t->kind != T_NEWLINE && t->kind != T_EOF &&
               !(t->kind == T_OP && t->op == OP_RPAREN)) {
      return pt__sh_fail(p, "unexpected %s", describe(t));
    }
  }
}

/* ------------------------------------------------------------------------ */

pt_sh_split *pt_shell_split(const char *cmd, size_t len)
{
  pt_sh_split *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  s->ok = 1;
  lexer lx = { cmd, len, 0 };
  parser p = { .out = s, .lx = &lx };
  if (len > PT_SH_MAX_LEN)
    pt__sh_fail(&p, "longer than %zu bytes", PT_SH_MAX_LEN);
  else if (len && memchr(cmd, '\0', len))
    pt__sh_fail(&p, "holds a NUL byte");
  else if (pt__sh_parse_list(&p, TERM_EOF) == 0 && p.hd_done < p.nhd)
    pt__sh_fail(&p, "here-document ends before its delimiter '%.40s'",
         pt__sh_heredoc_redir(&p, &p.hd[p.hd_done])->target.text);
  free(p.hd);
  if (p.oom) {
    pt_shell_split_free(s);
    return NULL;
  }
  return s;
}

void pt_shell_split_free(pt_sh_split *s)
{
  if (!s) return;
  for (size_t i = 0; i < s->ncmds; i++) {
    free(s->cmds[i].assigns);
    free(s->cmds[i].argv);
    free(s->cmds[i].redirs);
  }
  free(s->cmds);
  while (s->arena) {
    struct pt_sh_arena *next = s->arena->next;
    free(s->arena);
    s->arena = next;
  }
  free(s);
}

int pt_shell_redir_is_file(const pt_sh_redir *r)
{
  if (!strcmp(r->op, "<<") || !strcmp(r->op, "<<-") || !strcmp(r->op, "<<<"))
    return 0;
  if (!strcmp(r->op, "<&") || !strcmp(r->op, ">&")) {
    const pt_sh_word *t = &r->target;
    int fd = t->len && strspn(t->text, "0123456789") == t->len;
    return !(fd || !strcmp(t->text, "-")) || (t->flags & PT_SH_EXPANDS);
  }
  return 1;
}

int pt_shell_redir_writes(const pt_sh_redir *r)
{
  return r->op[0] != '<' ? pt_shell_redir_is_file(r) : !strcmp(r->op, "<>");
}

static int plain_word(const pt_sh_word *w)
{
  if (w->flags & (PT_SH_EXPANDS | PT_SH_GLOB)) return 1;
  if (!w->len || strlen(w->text) != w->len) return 0;
  for (size_t i = 0; i < w->len; i++) {
    char c = w->text[i];
    if (!(pt__sh_name_char(c, 0) || strchr("@%+=:,./-", c) ||
          (c == '~' && i == 0 && (w->flags & PT_SH_TILDE))))
      return 0;
  }
  return 1;
}

size_t pt_shell_cmd_text(const pt_sh_cmd *c, char *out, size_t cap)
{
  size_t n = 0;
#define EMIT(ch)                                                             \
  do {                                                                       \
    if (n + 1 < cap) out[n] = (ch);                                          \
    n++;                                                                     \
  } while (0)
  for (size_t i = 0; i < c->nassigns + c->argc; i++) {
    const pt_sh_word *w = i < c->nassigns ? &c->assigns[i] : &c->argv[i - c->nassigns];
    int plain = plain_word(w);
    if (i) EMIT(' ');
    if (!plain) EMIT('\'');
    for (size_t j = 0; j < w->len; j++) {
      if (!plain && w->text[j] == '\'') {
        EMIT('\'');
        EMIT('\\');
        EMIT('\'');
      }
      EMIT(w->text[j]);
    }
    if (!plain) EMIT('\'');
  }
#undef EMIT
  if (cap) out[n < cap ? n : cap - 1] = '\0';
  return n;
}
