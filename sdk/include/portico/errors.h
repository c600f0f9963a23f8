/*
 * portico/errors.h: the one table of Portico error codes.
 *
 * Every fallible function in the Portico host API and every plugin callback
 * returns an int32_t: zero (PT_OK) for success, or one of the negative codes
 * below. The numbers are part of the ABI: a code is never renumbered or
 * removed, and new codes are only appended.
 *
 * pt_strerror() and pt_errname() are header-only so that plugins, which link
 * against nothing from Portico, and the host agree on the same text.
 */
#ifndef PORTICO_ERRORS_H
#define PORTICO_ERRORS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* XX(name, value, message). Append only. */
#define PT_ERRNO_MAP(XX)                                                    \
  XX(EINVAL,       -1,  "invalid argument")                                 \
  XX(ENOMEM,       -2,  "out of memory")                                    \
  XX(ECANCELED,    -3,  "operation cancelled")                              \
  XX(EVERSION,     -4,  "incompatible ABI version")                         \
  XX(ENOENT,       -5,  "not found")                                        \
  XX(EEXIST,       -6,  "already exists")                                   \
  XX(EIO,          -7,  "input/output error")                               \
  XX(EPROTO,       -8,  "malformed data from peer")                         \
  XX(ENOTSUP,      -9,  "not supported")                                    \
  XX(EPERM,        -10, "not permitted")                                    \
  XX(EBUSY,        -11, "resource busy")                                    \
  XX(ECONNECT,     -12, "could not connect")                                \
  XX(ECONNTIMEOUT, -13, "timed out while connecting")                       \
  XX(EFIRSTBYTE,   -14, "timed out waiting for the first response byte")    \
  XX(EIDLE,        -15, "timed out waiting for more response data")         \
  XX(ETIMEDOUT,    -16, "timed out")                                        \
  XX(ECLOSED,      -17, "connection closed before the response ended")     \
  XX(ETOOBIG,      -18, "size limit exceeded")                              \
  XX(EHTTP,        -19, "HTTP request failed")                              \
  XX(EPLUGIN,      -20, "plugin failed")                                    \
  XX(ESCRIPT,      -21, "script error")                                     \
  XX(ECONFIG,      -22, "invalid configuration")                            \
  XX(ESHUTDOWN,    -23, "shutting down")                                    \
  XX(ESTATE,       -24, "operation not valid in the current state")

enum pt_errno {
  PT_OK = 0,
#define PT__ERR_ENUM(name, val, msg) PT_##name = val,
  PT_ERRNO_MAP(PT__ERR_ENUM)
#undef PT__ERR_ENUM
  PT__ERR_LAST = -25
};

/* A static, human-readable description of `code`. Never NULL. */
static inline const char *pt_strerror(int32_t code)
{
  switch (code) {
  case PT_OK: return "success";
#define PT__ERR_STR(name, val, msg) case val: return msg;
  PT_ERRNO_MAP(PT__ERR_STR)
#undef PT__ERR_STR
  default: return "unknown error";
  }
}

/* The code's symbolic name without the prefix ("ECANCELED"). Never NULL. */
static inline const char *pt_errname(int32_t code)
{
  switch (code) {
  case PT_OK: return "OK";
#define PT__ERR_NAME(name, val, msg) case val: return #name;
  PT_ERRNO_MAP(PT__ERR_NAME)
#undef PT__ERR_NAME
  default: return "EUNKNOWN";
  }
}

#ifdef __cplusplus
}
#endif
#endif /* PORTICO_ERRORS_H */
