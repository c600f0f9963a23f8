/*
 * tests/support/json_schema_cases.c: the quoting and UTF-8 helpers shared
 * by the core/json_schema.c tests; see json_schema_cases.h. No main():
 * every test program links this file.
 */
#include "json_schema_cases.h"

#include <stdlib.h>
#include <string.h>

#include "check.h"

/* ' becomes ", so rows stay readable; no row needs a real apostrophe. */
cJSON *jsc_parse(const char *text)
{
  char *s = strdup(text);
  for (char *p = s; *p; p++)
    if (*p == '\'') *p = '"';
  cJSON *j = cJSON_Parse(s);
  free(s);
  if (!j) check_fail(__FILE__, __LINE__, "test JSON does not parse: %s", text);
  return j;
}

char *jsc_unquote(const char *text)
{
  char *s = strdup(text);
  for (char *p = s; *p; p++)
    if (*p == '\'') *p = '"';
  return s;
}

bool jsc_valid_utf8(const char *s)
{
  for (const unsigned char *p = (const unsigned char *)s; *p;) {
    int n = *p < 0x80 ? 1 : (*p & 0xE0) == 0xC0 ? 2 : (*p & 0xF0) == 0xE0 ? 3 : (*p & 0xF8) == 0xF0 ? 4 : 0;
    if (!n) return false;
    for (int i = 1; i < n; i++)
      if ((p[i] & 0xC0) != 0x80) return false;
    p += n;
  }
  return true;
}
