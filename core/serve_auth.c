/*
 * core/serve_auth.c: who may talk to `portico serve`: the API key, and the
 * Host and Origin checks that keep a web page the user happens to visit
 * from reaching the server through DNS rebinding or a cross-site request.
 */
#include "serve.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "log.h"

#define KEY_FILE "api-key"

static size_t trim(char *s, size_t n)
{
  while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' ||
               s[n - 1] == '\t'))
    s[--n] = '\0';
  return n;
}

/* A key file another user can read is as good as published: refuse it
 * rather than serve with a key that is not secret. */
static int32_t read_key_file(pt_serve *sv, const char *path, char *err,
                             size_t errlen)
{
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return errno == ENOENT ? PT_ENOENT : PT_EIO;
  struct stat stt;
  if (fstat(fd, &stt) != 0 || !S_ISREG(stt.st_mode)) {
    close(fd);
    snprintf(err, errlen, "%s is not a regular file; remove it", path);
    return PT_EINVAL;
  }
  if (stt.st_mode & 077) {
    close(fd);
    snprintf(err, errlen, "%s can be read by other users (mode %03o); "
             "chmod 600 it, or remove it for a new key", path,
             (unsigned)(stt.st_mode & 0777));
    return PT_EPERM;
  }
  ssize_t n = read(fd, sv->key, sizeof sv->key - 1);
  close(fd);
  if (n < 0) {
    snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
    return PT_EIO;
  }
  sv->key[n] = '\0';
  sv->key_len = trim(sv->key, (size_t)n);
  if (sv->key_len < 16) {
    snprintf(err, errlen, "%s holds a key shorter than 16 characters; "
             "remove it for a new key", path);
    return PT_EINVAL;
  }
  return PT_OK;
}

static int32_t write_key_file(pt_serve *sv, const char *path, char *err,
                              size_t errlen)
{
  unsigned char raw[32];
  if (RAND_bytes(raw, sizeof raw) != 1) {
    snprintf(err, errlen, "cannot make a random API key (libcrypto)");
    return PT_EIO;
  }
  static const char hex[] = "0123456789abcdef";
  for (size_t i = 0; i < sizeof raw; i++) {
    sv->key[2 * i] = hex[raw[i] >> 4];
    sv->key[2 * i + 1] = hex[raw[i] & 15];
  }
  sv->key_len = 2 * sizeof raw;
  sv->key[sv->key_len] = '\0';
  /* O_EXCL: two servers starting at once must not each write a key and
   * leave one of them with a key the file no longer holds. */
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
                0600);
  if (fd < 0) {
    if (errno == EEXIST) return PT_EEXIST;
    snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
    return PT_EIO;
  }
  char line[SERVE_KEY_MAX + 1];
  int len = snprintf(line, sizeof line, "%s\n", sv->key);
  ssize_t w = write(fd, line, (size_t)len);
  int ok = w == len && fsync(fd) == 0;
  close(fd);
  if (!ok) {
    unlink(path);
    snprintf(err, errlen, "cannot write %s", path);
    return PT_EIO;
  }
  return PT_OK;
}

int32_t serve_key_load(pt_serve *sv, char *err, size_t errlen)
{
  const char *env = getenv("PORTICO_API_KEY");
  if (env && *env) {
    size_t n = strlen(env);
    if (n < 16 || n >= sizeof sv->key) {
      snprintf(err, errlen, "PORTICO_API_KEY must be 16 to %zu characters",
               sizeof sv->key - 1);
      return PT_EINVAL;
    }
    memcpy(sv->key, env, n + 1);
    sv->key_len = n;
    pt_log(PT_LOG_INFO, "serve", "API key from PORTICO_API_KEY");
    return PT_OK;
  }
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", sv->k->data_dir, KEY_FILE);
  int32_t rc = read_key_file(sv, path, err, errlen);
  if (rc == PT_ENOENT) {
    rc = write_key_file(sv, path, err, errlen);
    if (rc == PT_EEXIST) rc = read_key_file(sv, path, err, errlen);
    else if (rc == PT_OK)
      pt_log(PT_LOG_INFO, "serve", "generated an API key in %s", path);
  } else if (rc == PT_OK) {
    pt_log(PT_LOG_INFO, "serve", "API key from %s", path);
  } else if (rc == PT_EIO && !err[0]) {
    snprintf(err, errlen, "cannot read %s", path);
  }
  return rc;
}

int serve_key_ok(const pt_serve *sv, const char *header)
{
  if (!header || strncasecmp(header, "Bearer ", 7) != 0) return 0;
  const char *k = header + 7;
  while (*k == ' ') k++;
  size_t n = strlen(k);
  while (n && (k[n - 1] == ' ' || k[n - 1] == '\t')) n--;
  /* Compare as many bytes as the key has whatever the length offered, so
   * the time taken says nothing about how much of a guess was right. */
  char guess[SERVE_KEY_MAX];
  memset(guess, 0, sizeof guess);
  memcpy(guess, k, n < sizeof guess ? n : sizeof guess - 1);
  int same = CRYPTO_memcmp(guess, sv->key, sv->key_len) == 0;
  return same && n == sv->key_len;
}

static int host_is(const char *host, size_t n, const char *name)
{
  return strlen(name) == n && strncasecmp(host, name, n) == 0;
}

int serve_host_ok(const pt_serve *sv, const char *host)
{
  if (!host || !*host) return 0;
  /* With --allow-remote the key is the defence; the name a client used
   * to reach us (a LAN address, a tunnel) cannot be known in advance. */
  if (sv->allow_remote) return 1;
  const char *port = NULL;
  size_t n;
  if (host[0] == '[') {
    const char *close = strchr(host, ']');
    if (!close) return 0;
    n = (size_t)(close - host) + 1;
    if (close[1] == ':') port = close + 2;
    else if (close[1]) return 0;
  } else {
    const char *colon = strchr(host, ':');
    n = colon ? (size_t)(colon - host) : strlen(host);
    if (colon) port = colon + 1;
  }
  if (port) {
    char *end;
    long p = strtol(port, &end, 10);
    if (*end || p != sv->port) return 0;
  }
  return host_is(host, n, "127.0.0.1") || host_is(host, n, "localhost") ||
         host_is(host, n, "[::1]") || host_is(host, n, sv->listen_host);
}

int serve_origin_ok(const pt_serve *sv, const char *origin)
{
  if (!origin || !*origin) return 1;
  const cJSON *o;
  cJSON_ArrayForEach(o, sv->origins) {
    const char *allowed = cJSON_GetStringValue(o);
    if (allowed && !strcmp(allowed, origin)) return 1;
  }
  return 0;
}
