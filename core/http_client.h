/*
 * core/http_client.h: the kernel's asynchronous HTTP client.
 *
 * libcurl's multi-socket interface driven by the kernel's libuv loop: socket
 * readiness comes from uv_poll handles, curl's timeout from one uv_timer.
 * Many requests run at once on the one loop thread; nothing here blocks.
 * Plugins reach it through pt_host_api.http_start(); the semantics of
 * pt_http_request (callbacks, timeouts, exactly-once on_done) are documented
 * in sdk/include/portico/plugin.h and are the contract this file keeps.
 *
 * Everything here runs on the loop thread.
 */
#ifndef PT_HTTP_CLIENT_H
#define PT_HTTP_CLIENT_H

#include <stddef.h>
#include <uv.h>

#include "portico/plugin.h"

typedef struct pt_http_client pt_http_client;

/* A client on `loop` (borrowed; must outlive the client). NULL when out of
 * memory or when libcurl cannot start. Caller owns it: pt_http_client_close.
 */
pt_http_client *pt_http_client_new(uv_loop_t *loop);

/*
 * Cancel every request still running (each on_done follows with
 * PT_ECANCELED on a later loop turn), close the client's handles, and free
 * the client once the loop has run their close callbacks. The caller keeps
 * running the loop until it has no more active handles.
 */
void pt_http_client_close(pt_http_client *c);

/* Start `req` (copied). On success `*out` is valid until req->on_done
 * returns. On failure returns a negative code and no callback runs. */
int32_t pt_http_start(pt_http_client *c, const pt_http_request *req,
                      pt_http **out);

/* See pt_host_api.http_cancel. Safe from inside any of r's callbacks. */
void pt_http_cancel(pt_http *r);

/* See pt_host_api.http_header. */
pt_str pt_http_header(pt_http *r, const char *name);

/* Requests started and not yet completed. */
size_t pt_http_active(const pt_http_client *c);

#endif
