/*
 * tests/support/pty_session.h: a command on a pseudo-terminal, driven the
 * way a person at a terminal drives it: wait for text to appear, type, wait
 * for the command to end. Not for commands on pipes (see run_cmd.h).
 */
#ifndef PT_TEST_PTY_SESSION_H
#define PT_TEST_PTY_SESSION_H

#include <stddef.h>
#include <sys/types.h>

typedef struct pty_session {
  int master;         /* the terminal's master side; -1 once waited for */
  pid_t pid;          /* the command, in a session of its own */
  char out[65536];    /* all it printed so far, NUL-terminated */
  size_t mark;        /* where the next pty_session_expect looks from */
} pty_session;

/* Start argv (NULL-terminated, argv[0] the path) with a new pty as its
 * controlling terminal and its stdin, stdout and stderr; it inherits this
 * process's environment. CHECKs that the pty opened. */
void pty_session_start(pty_session *s, const char *const *argv);

/* Read until `want` appears after the mark (output arrives in arbitrary
 * pieces, so it may be there already), then move the mark past it. Returns
 * 0 when 10 s pass, the buffer fills or the terminal closes first. */
int pty_session_expect(pty_session *s, const char *want);

/* Type `text` the way a person does: a moment after the prompt appeared,
 * once the line editor has put the terminal in its mode (which may flush
 * input typed before). CHECKs that all of it was written. */
void pty_session_type(pty_session *s, const char *text);

/* Wait up to 10 s for the command to exit, reading what it prints into
 * out; past that, kill it and print out with `what` ("the chat did not
 * end"). Closes the terminal. Returns its exit status, or -1. */
int pty_session_wait(pty_session *s, const char *what);

#endif
