/*
 * plugins/tools/plugin.c: the `tools` plugin: registration, and the life of
 * one invocation of a file or shell tool.
 *
 * invoke() copies the arguments and the call's context and queues the job
 * on the host's thread pool; there it parses the arguments, opens the
 * workspace and runs the tool; back on the loop thread the result is
 * handed to op_done(), exactly once. cancel() only sets a flag (and, for
 * the shell, wakes its poll): the tool notices between files or at once,
 * and completes with PT_ECANCELED. http_fetch has its own life on the loop
 * thread (http_fetch.c). The tools themselves live one per file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tools.h"

const pt_host_api *tools_api;
pt_host *tools_host;

static void job_free(tool_job *j)
{
  free(j->args_text);
  free(j->context_text);
  cJSON_Delete(j->args);
  ws_close(&j->ws);
  if (j->wake[0] >= 0) close(j->wake[0]);
  if (j->wake[1] >= 0) close(j->wake[1]);
  result_free(&j->res);
  cJSON_free(j->out);
  free(j);
}

void job_stop_cancelled(tool_job *j)
{
  j->status = PT_ECANCELED;
  result_error(&j->res, "cancelled before %s finished", j->def->vt.name);
}

/* Pool thread: everything up to the printed result. */
static void job_work(void *ud)
{
  tool_job *j = ud;
  if (job_cancelled(j)) {
    job_stop_cancelled(j);
  } else if (!(j->args = cJSON_ParseWithLength(j->args_text, j->args_len)) ||
             !cJSON_IsObject(j->args)) {
    result_error(&j->res, "the arguments of %s must be a JSON object",
                 j->def->vt.name);
  } else if (json_has_nul(j->args_text, j->args_len)) {
    result_error(&j->res, "the arguments of %s hold a NUL character "
                 "(\\u0000); the tools take text only", j->def->vt.name);
  } else if (!j->def->workspace || ws_open(j) == 0) {
    j->def->run(j);
  }
  j->out = result_print(&j->res);
}

/* Loop thread: complete the operation. `status` is PT_ECANCELED when the
 * plugin is being unloaded and the work never ran. */
static void job_done(void *ud, int32_t status)
{
  tool_job *j = ud;
  pt_op *op = j->op;
  int32_t rc = j->status;
  if (status != PT_OK || job_cancelled(j)) rc = PT_ECANCELED;
  const char *out = j->out;
  if (!out && rc == PT_OK) rc = PT_ENOMEM;
  if (!out)
    out = rc == PT_ENOMEM ? "{}"
                          : "{\"content\":\"cancelled\",\"is_error\":true}";
  tools_api->op_done(op, rc, (pt_str){ out, strlen(out) });
  job_free(j);
}

int32_t tools_job_invoke(void *self, pt_op *op, pt_str args_json)
{
  const tool_def *def = self;
  tool_job *j = calloc(1, sizeof *j);
  if (!j) return PT_ENOMEM;
  j->op = op;
  j->def = def;
  j->ws.fd = -1;
  j->wake[0] = j->wake[1] = -1;
  atomic_init(&j->cancelled, 0);
  pt_str ctx = tools_api->op_context(op);
  j->args_len = args_json.len;
  j->args_text = malloc(args_json.len + 1);
  j->context_text = malloc(ctx.len + 1);
  if (!j->args_text || !j->context_text ||
      (def->wakeable && pipe2(j->wake, O_CLOEXEC | O_NONBLOCK) != 0)) {
    job_free(j);
    return PT_ENOMEM;
  }
  if (args_json.len) memcpy(j->args_text, args_json.ptr, args_json.len);
  j->args_text[args_json.len] = '\0';
  if (ctx.len) memcpy(j->context_text, ctx.ptr, ctx.len);
  j->context_text[ctx.len] = '\0';
  op->data = j;
  int32_t rc = tools_api->queue_work(tools_host, job_work, job_done, j);
  if (rc < 0) {
    op->data = NULL;
    job_free(j);
  }
  return rc;
}

/* Loop thread, only while the job exists: the host never cancels an op
 * after op_done(), and the job is freed right after op_done(). */
void tools_job_cancel(void *self, pt_op *op)
{
  tool_job *j = op->data;
  if (!j) return;
  atomic_store(&j->cancelled, 1);
  if (j->wake[1] >= 0) {
    ssize_t w;
    do {
      w = write(j->wake[1], "x", 1);
    } while (w < 0 && errno == EINTR); /* a full pipe is woken already */
  }
}

static const tool_def *const ALL[] = {
  &tool_fs_read,  &tool_fs_write,   &tool_fs_edit,  &tool_fs_list,
  &tool_fs_glob,  &tool_fs_grep,    &tool_shell_exec, &tool_http_fetch,
};

static int32_t tools_init(pt_host *h, const pt_host_api *api)
{
  tools_api = api;
  tools_host = h;
  for (size_t i = 0; i < sizeof ALL / sizeof ALL[0]; i++) {
    int32_t rc = api->add_tool(h, &ALL[i]->vt, (void *)ALL[i]);
    if (rc < 0) return rc;
  }
  return PT_OK;
}

PT_PLUGIN("tools", PORTICO_VERSION, "Apache-2.0",
          "Bundled tools: files in the workspace, a shell, HTTP fetch",
          tools_init, NULL);
