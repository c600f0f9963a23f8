/*
 * tests/test_tools_paths.c: the file tools stay inside the workspace.
 *
 * "..", absolute paths outside, and symbolic links leading out (in the
 * middle of a path or at its end, absolute or relative) are refused for
 * reading, listing, searching and writing, and nothing outside is read,
 * created or changed; links that stay inside work. Every case runs twice:
 * against tools.so (openat2) and tools_portable.so (the realpath fallback
 * for kernels without it).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "tools_run.h"

static const char *plugin = "tools.so";
static tr_env env;
static char *outside;          /* a folder beside the workspace */
static const char *out_name;   /* its last component */

static void start(void)
{
  tr_start(&env, plugin);
  outside = h_tempdir();
  out_name = strrchr(outside, '/') + 1;
  h_write_file(outside, "secret.txt", "secret\n", 7, 0644);
  tr_write(&env, "inside.txt", "inside\n");
  tr_write(&env, "sub/file.txt", "in sub\n");
  char link[4200], target[4200];
  symlink(outside, tr_path(&env, "out_dir", link, sizeof link));
  snprintf(target, sizeof target, "%s/secret.txt", outside);
  symlink(target, tr_path(&env, "out_file", link, sizeof link));
  snprintf(target, sizeof target, "../%s/secret.txt", out_name);
  symlink(target, tr_path(&env, "rel_out", link, sizeof link));
  symlink("inside.txt", tr_path(&env, "in_link", link, sizeof link));
  snprintf(target, sizeof target, "%s/inside.txt", env.ws);
  symlink(target, tr_path(&env, "abs_in_link", link, sizeof link));
  symlink("../inside.txt", tr_path(&env, "sub/up_link", link, sizeof link));
  symlink("sub", tr_path(&env, "dir_link", link, sizeof link));
}

static void stop(void)
{
  char path[4200];
  snprintf(path, sizeof path, "%s/secret.txt", outside);
  FILE *f = fopen(path, "r");
  char text[64] = "";
  if (f) {
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
  }
  CHECK_STR(text, "secret\n"); /* never changed */
  h_rmtree(outside);
  free(outside);
  tr_stop(&env);
}

/* Run and expect an error result that mentions `why` and never shows the
 * secret. */
static void refused(const char *tool, const char *args, const char *why)
{
  tr_call c;
  tr_run(&env, tool, args, &c);
  CHECK_INT(c.status, ==, PT_OK);
  CHECK(c.is_error);
  CHECK_CONTAINS(c.content, why);
  if (strstr(c.content, "secret\n") || !c.is_error)
    fprintf(stderr, "  %s %s gave: %s\n", tool, args, c.content);
  tr_free(&c);
}

static void allowed(const char *tool, const char *args, const char *want)
{
  tr_call c;
  tr_run(&env, tool, args, &c);
  CHECK(!c.is_error);
  CHECK_CONTAINS(c.content, want);
  tr_free(&c);
}

static void dotdot_escapes_are_refused(void)
{
  start();
  char args[4400];
  snprintf(args, sizeof args, "{\"path\":\"../%s/secret.txt\"}", out_name);
  refused("fs_read", args, "is outside the workspace");
  refused("fs_read", "{\"path\":\"sub/../../x\"}", "is outside the workspace");
  /* Missing outside is "outside", not "does not exist". */
  refused("fs_read", "{\"path\":\"../no-such-portico-dir/x\"}",
          "is outside the workspace");
  refused("fs_list", "{\"path\":\"..\"}", "is outside the workspace");
  refused("fs_grep", "{\"pattern\":\"secret\",\"path\":\"..\"}",
          "is outside the workspace");
  refused("fs_glob", "{\"pattern\":\"*\",\"path\":\"sub/../..\"}",
          "is outside the workspace");
  snprintf(args, sizeof args, "{\"path\":\"../%s/new.txt\",\"content\":\"x\"}",
           out_name);
  refused("fs_write", args, "is outside the workspace");
  /* ".." that stays inside is fine. */
  allowed("fs_read", "{\"path\":\"sub/../inside.txt\"}", "1\tinside");
  stop();
}

static void absolute_paths_must_lie_inside(void)
{
  start();
  char args[4400];
  snprintf(args, sizeof args, "{\"path\":\"%s/secret.txt\"}", outside);
  refused("fs_read", args, "is outside the workspace");
  refused("fs_read", "{\"path\":\"/etc/passwd\"}", "is outside the workspace");
  refused("fs_list", "{\"path\":\"/\"}", "is outside the workspace");
  snprintf(args, sizeof args, "{\"path\":\"%s/x\",\"content\":\"x\"}", outside);
  refused("fs_write", args, "is outside the workspace");
  snprintf(args, sizeof args, "{\"path\":\"%s/../%s/secret.txt\"}", env.ws,
           out_name);
  refused("fs_read", args, "is outside the workspace");
  refused("fs_read", "{\"path\":\"~/.ssh/id_rsa\"}", "\"~\" is not expanded");

  snprintf(args, sizeof args, "{\"path\":\"%s/sub/file.txt\"}", env.ws);
  allowed("fs_read", args, "1\tin sub");
  snprintf(args, sizeof args, "{\"path\":\"%s\"}", env.ws);
  allowed("fs_list", args, "inside.txt");
  stop();
}

static void links_leading_out_in_the_middle_are_refused(void)
{
  start();
  refused("fs_read", "{\"path\":\"out_dir/secret.txt\"}",
          "goes through a symbolic link that leads outside");
  refused("fs_list", "{\"path\":\"out_dir\"}", "leads outside");
  refused("fs_grep", "{\"pattern\":\"s\",\"path\":\"out_dir\"}",
          "leads outside");
  refused("fs_write", "{\"path\":\"out_dir/new.txt\",\"content\":\"x\"}",
          "leads outside");
  refused("fs_write", "{\"path\":\"out_dir/made/new.txt\",\"content\":\"x\","
          "\"create_dirs\":true}", "leads outside");
  refused("fs_edit", "{\"path\":\"out_dir/secret.txt\",\"old_string\":"
          "\"secret\",\"new_string\":\"owned\"}", "leads outside");
  char path[4200];
  snprintf(path, sizeof path, "%s/new.txt", outside);
  CHECK(access(path, F_OK) != 0);
  snprintf(path, sizeof path, "%s/made", outside);
  CHECK(access(path, F_OK) != 0);
  stop();
}

static void links_leading_out_at_the_end_are_refused(void)
{
  start();
  refused("fs_read", "{\"path\":\"out_file\"}", "leads outside");
  refused("fs_read", "{\"path\":\"rel_out\"}", "leads outside");
  refused("fs_write", "{\"path\":\"out_file\",\"content\":\"owned\"}",
          "is a symbolic link that leads outside the workspace");
  refused("fs_write", "{\"path\":\"rel_out\",\"content\":\"owned\"}",
          "is a symbolic link that leads outside the workspace");
  refused("fs_edit", "{\"path\":\"out_file\",\"old_string\":\"secret\","
          "\"new_string\":\"owned\"}", "leads outside");
  /* The links are still links: nothing was written in their place. */
  char path[4200];
  struct stat st;
  CHECK_INT(lstat(tr_path(&env, "out_file", path, sizeof path), &st), ==, 0);
  CHECK(S_ISLNK(st.st_mode));
  stop();
}

static void links_that_stay_inside_work(void)
{
  start();
  allowed("fs_read", "{\"path\":\"in_link\"}", "1\tinside");
  allowed("fs_read", "{\"path\":\"abs_in_link\"}", "1\tinside");
  allowed("fs_read", "{\"path\":\"sub/up_link\"}", "1\tinside");
  allowed("fs_read", "{\"path\":\"dir_link/file.txt\"}", "1\tin sub");
  allowed("fs_list", "{\"path\":\"dir_link\"}", "file.txt");
  allowed("fs_write", "{\"path\":\"in_link\",\"content\":\"via link\\n\"}",
          "to inside.txt (replaced the existing file)");
  allowed("fs_edit", "{\"path\":\"abs_in_link\",\"old_string\":\"via\","
          "\"new_string\":\"through\"}", "in inside.txt");
  allowed("fs_write", "{\"path\":\"dir_link/made.txt\",\"content\":\"m\"}",
          "to dir_link/made.txt (created a new file)");
  char *text = tr_read(&env, "inside.txt");
  CHECK_STR(text, "through link\n");
  free(text);
  text = tr_read(&env, "sub/made.txt");
  CHECK_STR(text, "m");
  free(text);
  char path[4200];
  struct stat st;
  CHECK_INT(lstat(tr_path(&env, "in_link", path, sizeof path), &st), ==, 0);
  CHECK(S_ISLNK(st.st_mode));
  stop();
}

static void walks_never_follow_links(void)
{
  start();
  tr_call c;
  tr_run(&env, "fs_glob", "{\"pattern\":\"**\"}", &c);
  CHECK_CONTAINS(c.content, "out_dir\n");
  CHECK(!strstr(c.content, "secret.txt"));
  CHECK(!strstr(c.content, "dir_link/"));
  tr_free(&c);
  tr_run(&env, "fs_grep", "{\"pattern\":\"secret\"}", &c);
  CHECK_CONTAINS(c.content, "No matches for secret");
  tr_free(&c);
  stop();
}

static void calls_without_a_usable_workspace_are_refused(void)
{
  start();
  tr_call c;
  tr_begin(&env, "fs_read", "{\"path\":\"inside.txt\"}", "{}", &c);
  tr_wait(&env, &c, 5000);
  CHECK(c.is_error);
  CHECK_CONTAINS(c.content, "fs_read needs a workspace, and this call has "
                 "none");
  tr_free(&c);
  tr_begin(&env, "shell_exec", "{\"command\":\"true\"}",
           "{\"workspace\":\"rel/dir\"}", &c);
  tr_wait(&env, &c, 5000);
  CHECK(c.is_error);
  CHECK_CONTAINS(c.content, "a relative one");
  tr_free(&c);
  tr_begin(&env, "fs_list", "{}", "{\"workspace\":\"/nonexistent/portico\"}",
           &c);
  tr_wait(&env, &c, 5000);
  CHECK(c.is_error);
  CHECK_CONTAINS(c.content, "the workspace /nonexistent/portico cannot be "
                 "opened");
  tr_free(&c);
  stop();
}

static void run_all(void)
{
  RUN(dotdot_escapes_are_refused);
  RUN(absolute_paths_must_lie_inside);
  RUN(links_leading_out_in_the_middle_are_refused);
  RUN(links_leading_out_at_the_end_are_refused);
  RUN(links_that_stay_inside_work);
  RUN(walks_never_follow_links);
  RUN(calls_without_a_usable_workspace_are_refused);
}

int main(void)
{
  run_all();
  fprintf(stderr, "-- again with the realpath fallback (no openat2)\n");
  plugin = "tools_portable.so";
  run_all();
  return check_report();
}
