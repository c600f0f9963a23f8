/*
 * core/log.h: leveled logging to stderr.
 *
 * One line per call: "portico[PID] LEVEL component: message". Secrets
 * registered with pt_log_redact() are replaced by "[redacted]" in every line,
 * so a provider that logs a URL or a header by mistake still leaks nothing.
 * stdout is never written: it belongs to protocols and program output.
 *
 * Logging is process-wide state, set once at start and read on the loop
 * thread; the functions are safe to call from any thread.
 */
#ifndef PT_LOG_H
#define PT_LOG_H

#include <stdarg.h>
#include <stddef.h>

#include "portico/plugin.h" /* PT_LOG_*, PT_PRINTF */

void pt_log_set_level(int level);
int pt_log_level(void);

/* Remember `secret` (copied) so that no later log line shows it. Values
 * shorter than 4 bytes are ignored: redacting them would mangle text. */
void pt_log_redact(const char *secret, size_t len);

/* Forget every registered secret (for tests and shutdown). */
void pt_log_reset(void);

void pt_log(int level, const char *component, const char *fmt, ...)
    PT_PRINTF(3, 4);
void pt_logv(int level, const char *component, const char *fmt, va_list ap);

#define pt_log_error(comp, ...) pt_log(PT_LOG_ERROR, comp, __VA_ARGS__)
#define pt_log_warn(comp, ...) pt_log(PT_LOG_WARN, comp, __VA_ARGS__)
#define pt_log_info(comp, ...) pt_log(PT_LOG_INFO, comp, __VA_ARGS__)
#define pt_log_debug(comp, ...) pt_log(PT_LOG_DEBUG, comp, __VA_ARGS__)

#endif
