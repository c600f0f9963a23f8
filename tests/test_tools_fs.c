/*
 * tests/test_tools_fs.c: fs_read, fs_write, fs_edit and fs_list of the
 * bundled tools plugin, through the real loader, in real temp workspaces.
 * Confinement is tests/test_tools_paths.c; glob and grep are
 * tests/test_tools_search.c.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "registry.h"
#include "tools_run.h"

static tr_env env;

static void start(void)
{
  tr_start(&env, "tools.so");
}

/* Lines "line N\n" for N in 1..n. */
static void write_lines(const char *rel, int n)
{
  size_t cap = (size_t)n * 16 + 1, len = 0;
  char *text = malloc(cap);
  for (int i = 1; i <= n; i++)
    len += (size_t)snprintf(text + len, cap - len, "line %d\n", i);
  tr_write(&env, rel, text);
  free(text);
}

static int leftover_temp_files(const char *dir)
{
  DIR *d = opendir(dir);
  int n = 0;
  for (struct dirent *de; d && (de = readdir(d));)
    if (strstr(de->d_name, ".portico-")) n++;
  if (d) closedir(d);
  return n;
}

/* Each tool: its effects, and a schema that is a strict JSON Schema
 * object whose required members are all properties. */
static void every_tool_declares_effects_and_a_strict_schema(void)
{
  static const struct {
    const char *name;
    uint32_t flags;
  } TOOLS[] = {
    { "fs_read", PT_TOOL_READS },
    { "fs_write", PT_TOOL_WRITES },
    { "fs_edit", PT_TOOL_READS | PT_TOOL_WRITES },
    { "fs_list", PT_TOOL_READS },
    { "fs_glob", PT_TOOL_READS },
    { "fs_grep", PT_TOOL_READS },
    { "shell_exec", PT_TOOL_EXECUTES | PT_TOOL_READS | PT_TOOL_WRITES |
                        PT_TOOL_NETWORK },
    { "http_fetch", PT_TOOL_NETWORK },
  };
  start();
  for (size_t i = 0; i < sizeof TOOLS / sizeof TOOLS[0]; i++) {
    const pt_tool_entry *t = pt_registry_tool(&env.f.k->registry,
                                              TOOLS[i].name);
    CHECK(t != NULL);
    if (!t) continue;
    CHECK_INT(t->vt->flags, ==, TOOLS[i].flags);
    CHECK(strlen(t->vt->description) > 200);
    cJSON *schema = cJSON_Parse(t->vt->input_schema);
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(schema, "type")),
              "object");
    CHECK(cJSON_IsFalse(cJSON_GetObjectItem(schema, "additionalProperties")));
    const cJSON *props = cJSON_GetObjectItem(schema, "properties");
    CHECK(cJSON_IsObject(props));
    const cJSON *req;
    cJSON_ArrayForEach(req, cJSON_GetObjectItem(schema, "required"))
      CHECK(cJSON_GetObjectItem(props, req->valuestring) != NULL);
    const cJSON *prop;
    cJSON_ArrayForEach(prop, props) {
      CHECK(cJSON_GetObjectItem(prop, "type") != NULL);
      CHECK(cJSON_GetObjectItem(prop, "description") != NULL);
    }
    cJSON_Delete(schema);
  }
  tr_stop(&env);
}

/* ---- fs_read ------------------------------------------------------------ */

static void fs_read_numbers_lines_from_offset_for_limit(void)
{
  start();
  write_lines("a.txt", 10);
  tr_call c;
  tr_run(&env, "fs_read", "{\"path\":\"a.txt\",\"offset\":3,\"limit\":2}", &c);
  CHECK_INT(c.status, ==, PT_OK);
  CHECK(!c.is_error);
  CHECK_STR(c.content, "     3\tline 3\n     4\tline 4\n[lines 3-4 of 10; "
            "call fs_read with offset 5 to continue]\n");
  CHECK_INT(tr_num(&c, "total_lines", 0), ==, 10);
  CHECK_INT(tr_num(&c, "end", 0), ==, 4);
  tr_free(&c);

  /* The whole of a short file: no note; a last line without newline. */
  tr_write(&env, "b.txt", "one\ntwo");
  tr_run(&env, "fs_read", "{\"path\":\"b.txt\"}", &c);
  CHECK_STR(c.content, "     1\tone\n     2\ttwo\n");
  tr_free(&c);
  tr_stop(&env);
}

static void fs_read_says_where_to_continue_past_the_default_limit(void)
{
  start();
  write_lines("long.txt", 3000);
  tr_call c;
  tr_run(&env, "fs_read", "{\"path\":\"long.txt\"}", &c);
  CHECK_CONTAINS(c.content, "  2000\tline 2000\n");
  CHECK(!strstr(c.content, "line 2001"));
  CHECK_CONTAINS(c.content, "[lines 1-2000 of 3000; call fs_read with offset "
                 "2001 to continue]");
  CHECK(cJSON_IsTrue(cJSON_GetObjectItem(c.json, "truncated")));
  tr_free(&c);
  tr_run(&env, "fs_read", "{\"path\":\"long.txt\",\"offset\":2001}", &c);
  CHECK_CONTAINS(c.content, "  3000\tline 3000\n");
  CHECK(!strstr(c.content, "continue"));
  tr_free(&c);
  tr_stop(&env);
}

static void fs_read_cuts_long_lines_and_stops_at_the_byte_cap(void)
{
  start();
  size_t n = 3000;
  char *line = malloc(n + 2);
  memset(line, 'x', n);
  line[n] = '\n';
  line[n + 1] = '\0';
  tr_write(&env, "wide.txt", line);
  free(line);
  tr_call c;
  tr_run(&env, "fs_read", "{\"path\":\"wide.txt\"}", &c);
  CHECK_CONTAINS(c.content, "[... line cut here: 3000 bytes long]");
  CHECK(strlen(c.content) < 2200);
  tr_free(&c);

  /* 2000 lines of 100 bytes are 200 KB: more than one call returns. */
  size_t cap = 2000 * 101 + 1, len = 0;
  char *text = malloc(cap);
  for (int i = 0; i < 2000; i++) {
    memset(text + len, 'y', 100);
    text[len + 100] = '\n';
    len += 101;
  }
  text[len] = '\0';
  tr_write(&env, "big.txt", text);
  free(text);
  tr_run(&env, "fs_read", "{\"path\":\"big.txt\"}", &c);
  CHECK(strlen(c.content) <= 102400);
  CHECK_CONTAINS(c.content, "of 2000, cut at the size limit; call fs_read "
                 "with offset");
  int end = (int)tr_num(&c, "end", 0);
  CHECK(end > 500 && end < 1100);
  tr_free(&c);
  tr_stop(&env);
}

static void fs_read_refuses_binary_files(void)
{
  start();
  h_write_file(env.ws, "nul.bin", "abc\0def", 7, 0644);
  tr_write(&env, "latin1.txt", "caf\xe9\n");
  tr_call c;
  tr_run(&env, "fs_read", "{\"path\":\"nul.bin\"}", &c);
  CHECK_INT(c.status, ==, PT_OK);
  CHECK(c.is_error);
  CHECK_CONTAINS(c.content, "nul.bin looks like a binary file (a NUL byte at "
                 "offset 3)");
  tr_free(&c);
  tr_run(&env, "fs_read", "{\"path\":\"latin1.txt\"}", &c);
  CHECK(c.is_error);
  CHECK_CONTAINS(c.content, "not UTF-8 at offset 3");
  tr_free(&c);

  /* Valid UTF-8 is text, and a character cut by the 8 KiB sample is not
   * mistaken for binary. */
  char *text = malloc(8200);
  for (int i = 0; i < 81; i++) {
    memset(text + i * 101, 'a', 100);
    text[i * 101 + 100] = '\n';
  }
  strcpy(text + 81 * 101, "bbbbbbbbbb\xc3\xa9\n"); /* the 2 bytes at 8191 */
  tr_write(&env, "edge.txt", text);
  free(text);
  tr_run(&env, "fs_read", "{\"path\":\"edge.txt\"}", &c);
  CHECK(!c.is_error);
  CHECK_CONTAINS(c.content, "    82\tbbbbbbbbbb\xc3\xa9\n");
  tr_free(&c);
  tr_stop(&env);
}

static void fs_read_reports_missing_files_folders_and_bad_offsets(void)
{
  start();
  write_lines("a.txt", 3);
  tr_write(&env, "empty.txt", "");
  tr_call c;
  tr_run(&env, "fs_read", "{\"path\":\"nope.txt\"}", &c);
  CHECK(c.is_error);
  CHECK_CONTAINS(c.content, "nope.txt does not exist");
  tr_free(&c);
  tr_run(&env, "fs_read", "{\"path\":\".\"}", &c);
  CHECK(c.is_error);
  CHECK_CONTAINS(c.content, "is a folder; list it with fs_list");
  tr_free(&c);
  tr_run(&env, "fs_read", "{\"path\":\"a.txt\",\"offset\":9}", &c);
  CHECK(c.is_error);
  CHECK_CONTAINS(c.content, "offset 9 is past the end of a.txt, which has 3 "
                 "lines");
  tr_free(&c);
  tr_run(&env, "fs_read", "{\"path\":\"empty.txt\"}", &c);
  CHECK(!c.is_error);
  CHECK_STR(c.content, "(the file is empty)");
  tr_free(&c);
  /* What the schema would refuse is still checked by the tool. */
  tr_run(&env, "fs_read", "{\"path\":7}", &c);
  CHECK(c.is_error);
  CHECK_CONTAINS(c.content, "argument \"path\" must be a string");
  tr_free(&c);
  tr_run(&env, "fs_read", "{\"path\":\"a.txt\",\"offset\":0}", &c);
  CHECK(c.is_error);
  CHECK_CONTAINS(c.content, "\"offset\" must be a whole number from 1");
  tr_free(&c);
  tr_run(&env, "fs_read", "[1]", &c);
  CHECK(c.is_error);
  CHECK_CONTAINS(c.content, "must be a JSON object");
  tr_free(&c);
  tr_stop(&env);
}

/* ---- fs_write ----------------------------------------------------------- */

static void fs_write_replaces_through_a_temp_file_and_rename(void)
{
  start();
  char dir[4200], path[4200];
  snprintf(dir, sizeof dir, "%s", env.ws);
  tr_write(&env, "a.txt", "old\n");
  chmod(tr_path(&env, "a.txt", path, sizeof path), 0750);
  struct stat before, after;
  stat(path, &before);
  int old_fd = open(path, O_RDONLY);

  int in = inotify_init1(IN_NONBLOCK);
  CHECK(in >= 0);
  inotify_add_watch(in, dir, IN_CREATE | IN_MODIFY | IN_OPEN | IN_CLOSE_WRITE |
                                 IN_MOVED_TO);
  /* A large content, so that a write in place would take many writes. */
  size_t n = 1 << 20;
  char *big = malloc(n + 64);
  const char *head = "{\"path\":\"a.txt\",\"content\":\"";
  size_t hl = strlen(head);
  memcpy(big, head, hl);
  memset(big + hl, 'z', n);
  strcpy(big + hl + n, "\"}");
  tr_call c;
  tr_run(&env, "fs_write", big, &c);
  free(big);
  CHECK_INT(c.status, ==, PT_OK);
  CHECK(!c.is_error);
  CHECK_STR(c.content, "Wrote 1048576 bytes (1 lines) to a.txt (replaced the "
            "existing file)");
  CHECK(cJSON_IsFalse(cJSON_GetObjectItem(c.json, "created")));
  tr_free(&c);

  /* The name only ever appeared by rename; the bytes went to a temp file. */
  char evbuf[65536];
  ssize_t got = read(in, evbuf, sizeof evbuf);
  int moved_to = 0, touched_in_place = 0, temp_created = 0;
  for (char *p = evbuf; got > 0 && p < evbuf + got;) {
    struct inotify_event *ev = (struct inotify_event *)p;
    if (ev->len && strcmp(ev->name, "a.txt") == 0) {
      if (ev->mask & IN_MOVED_TO)
        moved_to++;
      else
        touched_in_place++;
    }
    if (ev->len && strstr(ev->name, ".portico-") && (ev->mask & IN_CREATE))
      temp_created++;
    p += sizeof *ev + ev->len;
  }
  close(in);
  CHECK_INT(moved_to, ==, 1);
  CHECK_INT(touched_in_place, ==, 0);
  CHECK_INT(temp_created, ==, 1);
  CHECK_INT(leftover_temp_files(dir), ==, 0);

  /* Whoever had the old file open still reads the old file, whole. */
  char old[16] = "";
  CHECK_INT(read(old_fd, old, sizeof old - 1), ==, 4);
  CHECK_STR(old, "old\n");
  close(old_fd);
  stat(path, &after);
  CHECK(after.st_ino != before.st_ino);
  CHECK_INT(after.st_size, ==, 1 << 20);
  CHECK_INT(after.st_mode & 07777, ==, 0750);
  tr_stop(&env);
}

static void fs_write_creates_parents_only_when_asked(void)
{
  start();
  tr_call c;
  tr_run(&env, "fs_write", "{\"path\":\"new/deep/x.txt\",\"content\":\"hi\"}",
         &c);
  CHECK(c.is_error);
  CHECK_CONTAINS(c.content, "the folder new/deep of new/deep/x.txt does not "
                 "exist; pass \"create_dirs\": true to create it");
  tr_free(&c);
  char *text = tr_read(&env, "new/deep/x.txt");
  CHECK(text == NULL);
  tr_run(&env, "fs_write", "{\"path\":\"new/deep/x.txt\",\"content\":"
         "\"h\\u00e9\\n\",\"create_dirs\":true}", &c);
  CHECK(!c.is_error);
  CHECK_STR(c.content, "Wrote 4 bytes (1 lines) to new/deep/x.txt (created a "
            "new file)");
  CHECK(cJSON_IsTrue(cJSON_GetObjectItem(c.json, "created")));
  tr_free(&c);
  text = tr_read(&env, "new/deep/x.txt");
  CHECK_STR(text, "h\xc3\xa9\n");
  free(text);
  char path[4200];
  struct stat st;
  stat(tr_path(&env, "new/deep/x.txt", path, sizeof path), &st);
  mode_t mask = umask(0);
  umask(mask);
  CHECK_INT(st.st_mode & 0777, ==, 0666 & ~mask);
  CHECK_INT(leftover_temp_files(tr_path(&env, "new/deep", path, sizeof path)),
            ==, 0);

  /* A NUL would cut the content short unseen: refused. An escaped
   * backslash before "u0000" is just text. */
  tr_run(&env, "fs_write", "{\"path\":\"n.txt\",\"content\":\"a\\u0000b\"}",
         &c);
  CHECK(c.is_error);
  CHECK_CONTAINS(c.content, "hold a NUL character");
  tr_free(&c);
  CHECK(tr_read(&env, "n.txt") == NULL);
  tr_run(&env, "fs_write", "{\"path\":\"n.txt\",\"content\":"
         "\"a\\\\u0000b\"}", &c);
  CHECK(!c.is_error);
  tr_free(&c);
  text = tr_read(&env, "n.txt");
  CHECK_STR(text, "a\\u0000b");
  free(text);

  /* A folder is not a file to write. */
  tr_run(&env, "fs_write", "{\"path\":\"new\",\"content\":\"x\"}", &c);
  CHECK(c.is_error);
  CHECK_CONTAINS(c.content, "new is a folder, not a file");
  tr_free(&c);
  tr_stop(&env);
}

/* ---- fs_edit ------------------------------------------------------------ */

static void fs_edit_replaces_one_exact_occurrence(void)
{
  start();
  tr_write(&env, "s.sh", "#!/bin/sh\necho one\necho two\n");
  char path[4200];
  chmod(tr_path(&env, "s.sh", path, sizeof path), 0755);
  tr_call c;
  tr_run(&env, "fs_edit", "{\"path\":\"s.sh\",\"old_string\":\"echo two\","
         "\"new_string\":\"echo 2\\necho 3\"}", &c);
  CHECK(!c.is_error);
  CHECK_STR(c.content, "Replaced 1 occurrence in s.sh (the first at line 3)");
  CHECK_INT(tr_num(&c, "replacements", 0), ==, 1);
  tr_free(&c);
  char *text = tr_read(&env, "s.sh");
  CHECK_STR(text, "#!/bin/sh\necho one\necho 2\necho 3\n");
  free(text);
  struct stat st;
  stat(path, &st);
  CHECK_INT(st.st_mode & 07777, ==, 0755);
  CHECK_INT(leftover_temp_files(env.ws), ==, 0);
  tr_stop(&env);
}

static void fs_edit_fails_when_missing_or_not_unique(void)
{
  start();
  tr_write(&env, "a.c", "x = 1;\ny = 2;\nx = 1;\nz = 3;\nx = 1;\n");
  tr_call c;
  tr_run(&env, "fs_edit", "{\"path\":\"a.c\",\"old_string\":\"w = 0;\","
         "\"new_string\":\"w = 1;\"}", &c);
  CHECK_INT(c.status, ==, PT_OK);
  CHECK(c.is_error);
  CHECK_CONTAINS(c.content, "old_string was not found in a.c");
  tr_free(&c);
  tr_run(&env, "fs_edit", "{\"path\":\"a.c\",\"old_string\":\"x = 1;\","
         "\"new_string\":\"x = 9;\"}", &c);
  CHECK(c.is_error);
  CHECK_CONTAINS(c.content, "old_string occurs 3 times in a.c (at lines 1, 3, "
                 "5); include more of the surrounding lines");
  tr_free(&c);
  char *text = tr_read(&env, "a.c");
  CHECK_STR(text, "x = 1;\ny = 2;\nx = 1;\nz = 3;\nx = 1;\n");
  free(text);

  tr_run(&env, "fs_edit", "{\"path\":\"a.c\",\"old_string\":\"x = 1;\","
         "\"new_string\":\"x = 9;\",\"replace_all\":true}", &c);
  CHECK(!c.is_error);
  CHECK_STR(c.content, "Replaced 3 occurrences in a.c (the first at line 1)");
  tr_free(&c);
  text = tr_read(&env, "a.c");
  CHECK_STR(text, "x = 9;\ny = 2;\nx = 9;\nz = 3;\nx = 9;\n");
  free(text);

  tr_run(&env, "fs_edit", "{\"path\":\"nope.c\",\"old_string\":\"a\","
         "\"new_string\":\"b\"}", &c);
  CHECK(c.is_error);
  CHECK_CONTAINS(c.content, "nope.c does not exist; create it with fs_write");
  tr_free(&c);
  tr_run(&env, "fs_edit", "{\"path\":\"a.c\",\"old_string\":\"\","
         "\"new_string\":\"b\"}", &c);
  CHECK(c.is_error);
  CHECK_CONTAINS(c.content, "old_string is empty");
  tr_free(&c);
  h_write_file(env.ws, "bin.dat", "a\0b", 3, 0644);
  tr_run(&env, "fs_edit", "{\"path\":\"bin.dat\",\"old_string\":\"a\","
         "\"new_string\":\"b\"}", &c);
  CHECK(c.is_error);
  CHECK_CONTAINS(c.content, "binary file");
  tr_free(&c);
  tr_stop(&env);
}

static void fs_edits_of_one_file_at_once_all_survive(void)
{
  start();
  tr_write(&env, "many.txt", "a0\na1\na2\na3\na4\na5\na6\na7\n");
  tr_call c[8];
  for (int i = 0; i < 8; i++) {
    char args[128];
    snprintf(args, sizeof args, "{\"path\":\"many.txt\",\"old_string\":"
             "\"a%d\\n\",\"new_string\":\"b%d\\n\"}", i, i);
    tr_begin(&env, "fs_edit", args, NULL, &c[i]);
  }
  for (int i = 0; i < 8; i++) {
    tr_wait(&env, &c[i], 10000);
    CHECK(!c[i].is_error);
    tr_free(&c[i]);
  }
  char *text = tr_read(&env, "many.txt");
  CHECK_STR(text, "b0\nb1\nb2\nb3\nb4\nb5\nb6\nb7\n");
  free(text);
  tr_stop(&env);
}

/* ---- fs_list ------------------------------------------------------------ */

static void fs_list_shows_types_and_sizes_sorted(void)
{
  start();
  tr_write(&env, "b.txt", "12345");
  tr_write(&env, "a/inner.txt", "x");
  tr_write(&env, ".hidden", "");
  char path[4200];
  CHECK_INT(symlink("b.txt", tr_path(&env, "link", path, sizeof path)), ==, 0);
  tr_call c;
  tr_run(&env, "fs_list", "{}", &c);
  CHECK(!c.is_error);
  CHECK_STR(c.content, "./ (4 entries)\n"
                       "file          0  .hidden\n"
                       "dir              a/\n"
                       "file          5  b.txt\n"
                       "link             link -> b.txt\n");
  tr_free(&c);
  tr_run(&env, "fs_list", "{\"path\":\"a\"}", &c);
  CHECK_STR(c.content, "a/ (1 entry)\nfile          1  inner.txt\n");
  tr_free(&c);
  tr_run(&env, "fs_list", "{\"path\":\"b.txt\"}", &c);
  CHECK(c.is_error);
  CHECK_CONTAINS(c.content, "b.txt is not a folder");
  tr_free(&c);
  tr_stop(&env);
}

static void fs_list_stops_at_a_thousand_entries(void)
{
  start();
  char path[4200];
  mkdir(tr_path(&env, "many", path, sizeof path), 0755);
  for (int i = 0; i < 1005; i++) {
    char name[32];
    snprintf(name, sizeof name, "f%04d", i);
    h_write_file(path, name, "", 0, 0644);
  }
  tr_call c;
  tr_run(&env, "fs_list", "{\"path\":\"many\"}", &c);
  CHECK_CONTAINS(c.content, "many/ (1005 entries)\n");
  CHECK_CONTAINS(c.content, "f0999\n[5 more entries not shown; find specific "
                 "ones with fs_glob]\n");
  CHECK(!strstr(c.content, "f1000"));
  CHECK(cJSON_IsTrue(cJSON_GetObjectItem(c.json, "truncated")));
  tr_free(&c);
  tr_stop(&env);
}

int main(void)
{
  RUN(every_tool_declares_effects_and_a_strict_schema);
  RUN(fs_read_numbers_lines_from_offset_for_limit);
  RUN(fs_read_says_where_to_continue_past_the_default_limit);
  RUN(fs_read_cuts_long_lines_and_stops_at_the_byte_cap);
  RUN(fs_read_refuses_binary_files);
  RUN(fs_read_reports_missing_files_folders_and_bad_offsets);
  RUN(fs_write_replaces_through_a_temp_file_and_rename);
  RUN(fs_write_creates_parents_only_when_asked);
  RUN(fs_edit_replaces_one_exact_occurrence);
  RUN(fs_edit_fails_when_missing_or_not_unique);
  RUN(fs_edits_of_one_file_at_once_all_survive);
  RUN(fs_list_shows_types_and_sizes_sorted);
  RUN(fs_list_stops_at_a_thousand_entries);
  return check_report();
}
