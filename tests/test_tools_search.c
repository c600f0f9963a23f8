/*
 * tests/test_tools_search.c: fs_glob and fs_grep of the bundled tools
 * plugin over real trees: patterns, filters, caps, and what they skip.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "check.h"
#include "tools_run.h"

static tr_env env;

static void tree(void)
{
  tr_start(&env, "tools.so");
  tr_write(&env, "top.c", "int top;\n");
  tr_write(&env, "README.md", "# main\n");
  tr_write(&env, "docs/x.md", "nothing here\n");
  tr_write(&env, "src/a.c", "int main(void)\n{\n  return 0;\n}\n");
  tr_write(&env, "src/b.h", "#define MAIN 1\n");
  tr_write(&env, "src/lib/b.c", "static int main_count;\n");
  tr_write(&env, "src/lib/deep/c.c", "/* main */\n");
  tr_write(&env, ".git/config.c", "main in git\n");
  tr_write(&env, ".github/ci.c", "int ci;\n");
  h_write_file(env.ws, "blob.bin", "main\0main", 9, 0644);
}

static void glob_is(const char *args, const char *want)
{
  tr_call c;
  tr_run(&env, "fs_glob", args, &c);
  CHECK(!c.is_error);
  CHECK_STR(c.content, want);
  tr_free(&c);
}

static void fs_glob_matches_whole_paths_with_double_star(void)
{
  tree();
  glob_is("{\"pattern\":\"**/*.c\"}",
          ".github/ci.c\nsrc/a.c\nsrc/lib/b.c\nsrc/lib/deep/c.c\ntop.c\n");
  glob_is("{\"pattern\":\"*.c\"}", "top.c\n");
  glob_is("{\"pattern\":\"src/l?b/*.c\"}", "src/lib/b.c\n");
  glob_is("{\"pattern\":\"src/**/[bc].*\"}",
          "src/b.h\nsrc/lib/b.c\nsrc/lib/deep/c.c\n");
  glob_is("{\"pattern\":\"src/*\"}", "src/a.c\nsrc/b.h\nsrc/lib/\n");
  /* Results stay workspace-relative when the search starts lower. */
  glob_is("{\"pattern\":\"**/*.c\",\"path\":\"src/lib\"}",
          "src/lib/b.c\nsrc/lib/deep/c.c\n");
  glob_is("{\"pattern\":\"*.rs\"}", "No paths match *.rs in ./\n");
  tr_stop(&env);
}

static void fs_glob_refuses_climbing_and_absolute_patterns(void)
{
  tree();
  tr_call c;
  tr_run(&env, "fs_glob", "{\"pattern\":\"../*\"}", &c);
  CHECK(c.is_error);
  CHECK_CONTAINS(c.content, "may not contain \"..\"");
  tr_free(&c);
  tr_run(&env, "fs_glob", "{\"pattern\":\"/etc/*\"}", &c);
  CHECK(c.is_error);
  CHECK_CONTAINS(c.content, "relative glob");
  tr_free(&c);
  tr_run(&env, "fs_glob", "{\"pattern\":\"*\",\"path\":\"nope\"}", &c);
  CHECK(c.is_error);
  CHECK_CONTAINS(c.content, "nope does not exist");
  tr_free(&c);
  tr_stop(&env);
}

static void fs_glob_shows_five_hundred_and_counts_the_rest(void)
{
  tr_start(&env, "tools.so");
  char dir[4200];
  mkdir(tr_path(&env, "gen", dir, sizeof dir), 0755);
  for (int i = 0; i < 600; i++) {
    char name[32];
    snprintf(name, sizeof name, "f%03d.txt", i);
    h_write_file(dir, name, "", 0, 0644);
  }
  tr_call c;
  tr_run(&env, "fs_glob", "{\"pattern\":\"**/*.txt\"}", &c);
  CHECK_CONTAINS(c.content, "gen/f499.txt\n[600 paths match; showing the "
                 "first 500. Narrow the pattern or set path to see the rest]");
  CHECK(!strstr(c.content, "f500"));
  CHECK_INT(tr_num(&c, "matches", 0), ==, 600);
  CHECK(cJSON_IsTrue(cJSON_GetObjectItem(c.json, "truncated")));
  tr_free(&c);
  tr_stop(&env);
}

static void grep_is(const char *args, const char *want)
{
  tr_call c;
  tr_run(&env, "fs_grep", args, &c);
  CHECK(!c.is_error);
  CHECK_STR(c.content, want);
  tr_free(&c);
}

static void fs_grep_finds_lines_by_regex_or_fixed_string(void)
{
  tree();
  grep_is("{\"pattern\":\"ma[i]n([^_]|$)\"}",
          "README.md:1:# main\n"
          "src/a.c:1:int main(void)\n"
          "src/lib/deep/c.c:1:/* main */\n"
          "[3 matching lines in 3 files; 8 files searched]\n"
          "[skipped: 1 binary files, 0 files over 8 MiB]\n");
  grep_is("{\"pattern\":\"^#define [A-Z]+ [0-9]$\"}",
          "src/b.h:1:#define MAIN 1\n"
          "[1 matching line in 1 file; 8 files searched]\n"
          "[skipped: 1 binary files, 0 files over 8 MiB]\n");
  grep_is("{\"pattern\":\"main\",\"ignore_case\":true,\"glob\":\"*.h\"}",
          "src/b.h:1:#define MAIN 1\n"
          "[1 matching line in 1 file; 1 files searched]\n");
  grep_is("{\"pattern\":\"(void)\",\"fixed_strings\":true}",
          "src/a.c:1:int main(void)\n"
          "[1 matching line in 1 file; 8 files searched]\n"
          "[skipped: 1 binary files, 0 files over 8 MiB]\n");
  grep_is("{\"pattern\":\"MAIN\",\"fixed_strings\":true,\"ignore_case\":true,"
          "\"glob\":\"src/*/*.c\"}",
          "src/lib/b.c:1:static int main_count;\n"
          "[1 matching line in 1 file; 1 files searched]\n");
  grep_is("{\"pattern\":\"return\",\"path\":\"src/a.c\"}",
          "src/a.c:3:  return 0;\n"
          "[1 matching line in 1 file; 1 files searched]\n");
  grep_is("{\"pattern\":\"zebra\"}",
          "No matches for zebra in 8 files searched\n"
          "[skipped: 1 binary files, 0 files over 8 MiB]\n");
  tr_stop(&env);
}

static void fs_grep_explains_a_bad_regular_expression(void)
{
  tree();
  tr_call c;
  tr_run(&env, "fs_grep", "{\"pattern\":\"(unclosed\"}", &c);
  CHECK_INT(c.status, ==, PT_OK);
  CHECK(c.is_error);
  CHECK_CONTAINS(c.content, "not a valid POSIX extended regular expression");
  CHECK_CONTAINS(c.content, "\"fixed_strings\": true");
  tr_free(&c);
  tr_run(&env, "fs_grep", "{\"pattern\":\"(unclosed\",\"fixed_strings\":true}",
         &c);
  CHECK(!c.is_error);
  CHECK_CONTAINS(c.content, "No matches for (unclosed");
  tr_free(&c);
  tr_stop(&env);
}

static void fs_grep_stops_at_two_hundred_lines_and_cuts_long_ones(void)
{
  tr_start(&env, "tools.so");
  size_t cap = 300 * 16 + 1, len = 0;
  char *text = malloc(cap);
  for (int i = 1; i <= 300; i++)
    len += (size_t)snprintf(text + len, cap - len, "hit %d\n", i);
  tr_write(&env, "many.txt", text);
  free(text);
  tr_call c;
  tr_run(&env, "fs_grep", "{\"pattern\":\"hit\"}", &c);
  CHECK_CONTAINS(c.content, "many.txt:200:hit 200\n[stopped at 200 matching "
                 "lines; there are more.");
  CHECK(!strstr(c.content, "hit 201"));
  CHECK(cJSON_IsTrue(cJSON_GetObjectItem(c.json, "truncated")));
  tr_free(&c);

  char *wide = malloc(1002);
  memset(wide, 'w', 1000);
  strcpy(wide + 1000, "\n");
  tr_write(&env, "wide.txt", wide);
  free(wide);
  tr_run(&env, "fs_grep", "{\"pattern\":\"w+\",\"glob\":\"wide.txt\"}", &c);
  CHECK_CONTAINS(c.content, "wide.txt:1:www");
  CHECK_CONTAINS(c.content, "w [...]\n");
  CHECK(strlen(c.content) < 500);
  tr_free(&c);
  tr_stop(&env);
}

static void a_cancelled_search_completes_once_as_cancelled(void)
{
  tr_start(&env, "tools.so");
  char dir[4200];
  mkdir(tr_path(&env, "gen", dir, sizeof dir), 0755);
  for (int i = 0; i < 2000; i++) {
    char name[32];
    snprintf(name, sizeof name, "f%04d.txt", i);
    h_write_file(dir, name, "needle\n", 7, 0644);
  }
  tr_call c;
  pt_op_impl *op = tr_begin(&env, "fs_grep", "{\"pattern\":\"needle\"}", NULL,
                            &c);
  pt_op_cancel(op);
  tr_wait(&env, &c, 10000);
  pt_kernel_spin(env.f.k, 20);
  CHECK_INT(c.done, ==, 1);
  CHECK_INT(c.status, ==, PT_ECANCELED);
  tr_free(&c);
  tr_stop(&env);
}

int main(void)
{
  RUN(fs_glob_matches_whole_paths_with_double_star);
  RUN(fs_glob_refuses_climbing_and_absolute_patterns);
  RUN(fs_glob_shows_five_hundred_and_counts_the_rest);
  RUN(fs_grep_finds_lines_by_regex_or_fixed_string);
  RUN(fs_grep_explains_a_bad_regular_expression);
  RUN(fs_grep_stops_at_two_hundred_lines_and_cuts_long_ones);
  RUN(a_cancelled_search_completes_once_as_cancelled);
  return check_report();
}
