/*
 * core/store/sha256.c: the content hash that names blobs, SHA-256 from
 * libcrypto (OpenSSL), as lowercase hex.
 */
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "store_int.h"

void pt__sha256_hex(const void *data, size_t len, char hex[PT_STORE_HASH_LEN])
{
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (!EVP_Digest(data, len, digest, &n, EVP_sha256(), NULL) || n != 32) {
    /* Only an allocation failure inside OpenSSL gets here; an empty name
     * makes the caller's insert fail instead of filing under a wrong one. */
    hex[0] = '\0';
    return;
  }
  static const char digits[] = "0123456789abcdef";
  for (unsigned i = 0; i < n; i++) {
    hex[2 * i] = digits[digest[i] >> 4];
    hex[2 * i + 1] = digits[digest[i] & 15];
  }
  hex[2 * n] = '\0';
}
