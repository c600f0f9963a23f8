/*
 * core/shell_split.h: a POSIX sh command line split into its simple
 * commands, for the permission policy.
 *
 * The policy judges a shell command by what it runs, so the splitter reads
 * it the way sh would: quotes, backslashes, pipes, && || ; & and newlines,
 * subshells ( … ) and groups { …; }, command substitution $( … ) and
 * backticks (their commands are commands too, split recursively), process
 * substitution <( … ) >( … ), redirections with their targets, NAME=value
 * prefixes and here-documents (whose bodies are scanned for substitutions
 * unless the delimiter is quoted). Nothing is expanded or run: a word keeps
 * its $VAR, $( … ) or glob text and is flagged, so a caller knows its value
 * is decided only when it runs.
 *
 * What it does not understand (if/for/while/case, functions, [[ ]], unclosed
 * quotes, a here-document without its end, nesting past PT_SH_MAX_DEPTH)
 * makes the result not ok, with the reason; the commands read before that
 * point are still there, so a caller can deny on them, but must never allow
 * a command that was not understood.
 *
 * Not for: running commands, or any shell's extensions beyond the few that
 * change what runs ($'…', <( … ), |&, &>, <<<, which are read as bash does).
 */
#ifndef PT_SHELL_SPLIT_H
#define PT_SHELL_SPLIT_H

#include <stddef.h>

/* Bounds that stop hostile input; a command line past them is not ok. */
#define PT_SH_MAX_LEN ((size_t)1 << 20)
#define PT_SH_MAX_DEPTH 32
#define PT_SH_MAX_CMDS 10000

/* pt_sh_word.flags */
enum {
  PT_SH_EXPANDS = 1u << 0, /* holds $…, ${…}, $( … ), `…` or <( … ): its
                              value is known only when it runs */
  PT_SH_GLOB = 1u << 1,    /* holds an unquoted * ? [ { or }: it may become
                              other words (pathname or brace expansion) */
  PT_SH_QUOTED = 1u << 2,  /* some part was quoted or backslash-escaped */
  PT_SH_TILDE = 1u << 3    /* starts with an unquoted ~ */
};

/* pt_sh_cmd.flags */
enum {
  PT_SH_BACKGROUND = 1u << 0,   /* its and-or list ends with & */
  PT_SH_SUBSHELL = 1u << 1,     /* inside ( … ) */
  PT_SH_SUBSTITUTION = 1u << 2, /* inside $( … ), `…`, <( … ) or >( … ) */
  PT_SH_NEGATED = 1u << 3       /* its pipeline starts with ! */
};

/* A word after quote removal. `text` is NUL-terminated (it may also hold
 * NUL bytes from $'\0'; `len` is the whole length). */
typedef struct pt_sh_word {
  const char *text;
  size_t len;
  unsigned flags;
} pt_sh_word;

typedef struct pt_sh_redir {
  int fd;          /* the explicit fd (2>…), or -1 for the default */
  char op[4];      /* < > >> >| <> <& >& &> &>> << <<- <<< */
  pt_sh_word target; /* file, fd number, "-", delimiter, or here-string */
  const char *body;  /* a here-document's text, else NULL */
  size_t body_len;
} pt_sh_redir;

typedef struct pt_sh_cmd {
  pt_sh_word *assigns;  /* NAME=value words before the command */
  size_t nassigns;
  pt_sh_word *argv;     /* the command and its arguments; may be empty
                           (a line of assignments or redirections only) */
  size_t argc;
  pt_sh_redir *redirs;  /* its own, then those of enclosing ( ) and { } */
  size_t nredirs;
  unsigned flags;       /* PT_SH_BACKGROUND ... */
  int depth;            /* 0 at top level; 1 more inside each ( ), { },
                           $( ), `…`, <( ) */
  int pipeline;         /* commands of one pipeline share this number */
  int stage;            /* 1 for the first command of its pipeline */
} pt_sh_cmd;

/* A split command line. The commands are in the order sh starts them: a
 * substitution's commands before the command whose word holds it. */
typedef struct pt_sh_split {
  pt_sh_cmd *cmds;
  size_t ncmds;
  int ok;               /* 0: not understood; `error` says why */
  char error[160];
  struct pt_sh_arena *arena;
} pt_sh_split;

/*
 * Split the `len` bytes at `cmd`. Returns NULL only when out of memory; a
 * line that cannot be understood still returns a split, with ok 0. Caller
 * owns the result: pt_shell_split_free().
 */
pt_sh_split *pt_shell_split(const char *cmd, size_t len);

void pt_shell_split_free(pt_sh_split *s);

/* Whether redirection `r` opens a file for writing: > >> >| <> &> &>>, and
 * >& with a target that is not an fd number or "-". */
int pt_shell_redir_writes(const pt_sh_redir *r);

/* Whether `r` names a file at all (not a dup to an fd, not a here-document
 * or here-string). */
int pt_shell_redir_is_file(const pt_sh_redir *r);

/*
 * The command as one canonical line: assignments and arguments separated
 * by single spaces, each word quoted with '…' when it holds anything but
 * plain characters, words with expansions as written. Redirections are
 * left out. Writes at most `cap` bytes including the NUL; returns the
 * length the whole text needs (as snprintf).
 */
size_t pt_shell_cmd_text(const pt_sh_cmd *c, char *buf, size_t cap);

#endif
