/*
 * plugins/ollama/text_calls.c: tool calls that a local model wrote as text.
 *
 * Ollama parses tool calls out of a model's output when the model's
 * template tells it how; many local models (or templates) leave them in
 * the visible text instead, in one of two shapes:
 *
 *   <tool_call>{"name": "fs_read", "arguments": {"path": "a"}}</tool_call>
 *   {"name": "fs_read", "arguments": {"path": "a"}}     (the whole reply)
 *
 * ("parameters" is accepted for "arguments", as Llama 3 writes it.) Text is
 * streamed, so a possible call is held back until it can be decided: a
 * tagged call at its closing tag (or at the end of the message when the
 * model stopped before closing it), a bare object at the end of the
 * message, since only a reply that is nothing but calls is taken as calls.
 * Only names of tools the request offered are recovered; anything else,
 * and everything held when a stream breaks, is released as text, exactly
 * as it arrived. A request without tools streams straight through.
 */
#include "ollama.h"

#include <string.h>

#include <cjson/cJSON.h>

#define TAG_OPEN "<tool_call>"
#define TAG_OPEN_LEN (sizeof TAG_OPEN - 1)
#define TAG_CLOSE "</tool_call>"
#define TAG_CLOSE_LEN (sizeof TAG_CLOSE - 1)

/* Past this much held text the hold is given up and the text released:
 * a tool call's arguments are rarely this large, and a reader waits. */
#define HOLD_MAX (1024 * 1024)

enum {
  M_LEAD,   /* nothing but whitespace yet (held): a '{' may start a call */
  M_PASS,   /* text flows through */
  M_PREFIX, /* held is a proper prefix of "<tool_call>" */
  M_TAG,    /* held starts with "<tool_call>"; waiting for the close */
  M_BARE    /* held is whitespace and JSON objects, each a known call */
};

static int is_ws(char c)
{
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

void ol_tc_reset(ol_text_calls *t)
{
  t->mode = M_LEAD;
  t->held.len = 0;
  t->scan_from = 0;
  t->depth = t->in_str = t->esc = 0;
  t->objects = 0;
}

void ol_tc_free(ol_text_calls *t)
{
  pc_buf_free(&t->held);
}

static void emit_text(ol_text_calls *t, const char *p, size_t n)
{
  if (n) t->sink.text(t->sink.ud, (pt_str){ p, n });
}

static void release(ol_text_calls *t)
{
  emit_text(t, t->held.p, t->held.len);
  t->held.len = 0;
  t->mode = M_PASS;
}

static int hold(ol_text_calls *t, const char *p, size_t n)
{
  if (t->held.len + n > HOLD_MAX || pc_buf_append(&t->held, p, n) != 0) {
    /* Give up the hold rather than the text. */
    release(t);
    emit_text(t, p, n);
    return -1;
  }
  return 0;
}

static int offered(const ol_text_calls *t, const char *name)
{
  for (size_t i = 0; i < t->name_count; i++)
    if (strcmp(t->names[i], name) == 0) return 1;
  return 0;
}

/*
 * Read [p, p+n) as one call of an offered tool. With `emit`, hand it to
 * the sink. Returns 1 when it is one.
 */
static int recover(ol_text_calls *t, const char *p, size_t n, int emit)
{
  while (n && is_ws(p[n - 1])) n--;
  while (n && is_ws(*p)) p++, n--;
  if (n == 0 || *p != '{') return 0;
  cJSON *obj = cJSON_ParseWithLength(p, n);
  int ok = 0;
  const cJSON *name = cJSON_GetObjectItemCaseSensitive(obj, "name");
  const cJSON *args = cJSON_GetObjectItemCaseSensitive(obj, "arguments");
  if (!args) args = cJSON_GetObjectItemCaseSensitive(obj, "parameters");
  cJSON *parsed = NULL;
  if (cJSON_IsString(args)) {
    /* Some models write the arguments as a JSON string, OpenAI style. */
    parsed = cJSON_Parse(args->valuestring);
    args = parsed ? parsed : args;
  }
  if (cJSON_IsObject(obj) && cJSON_IsString(name) &&
      offered(t, name->valuestring) && (!args || cJSON_IsObject(args))) {
    ok = 1;
    if (emit) {
      char *json = args ? cJSON_PrintUnformatted(args) : NULL;
      const char *a = json ? json : "{}";
      t->sink.call(t->sink.ud,
                   (pt_str){ name->valuestring, strlen(name->valuestring) },
                   (pt_str){ a, strlen(a) });
      cJSON_free(json);
    }
  }
  cJSON_Delete(parsed);
  cJSON_Delete(obj);
  return ok;
}

/* Hand every object held in BARE mode to the sink (each was checked as it
 * closed). */
static void emit_bare(ol_text_calls *t)
{
  const char *p = t->held.p, *e = p + t->held.len, *start = p;
  int depth = 0, in_str = 0, esc = 0;
  for (const char *q = p; q < e; q++) {
    char c = *q;
    if (in_str) {
      if (esc) esc = 0;
      else if (c == '\\') esc = 1;
      else if (c == '"') in_str = 0;
    } else if (c == '"') {
      in_str = 1;
    } else if (c == '{') {
      if (depth++ == 0) start = q;
    } else if (c == '}' && --depth == 0) {
      recover(t, start, (size_t)(q + 1 - start), 1);
    }
  }
}

/* BARE: follow the JSON of [p, p+n) character by character, holding it.
 * Returns how much was consumed; less than n when the mode changed to
 * PASS and the rest is to be read as plain text. */
static size_t feed_bare(ol_text_calls *t, const char *p, size_t n)
{
  size_t run = 0; /* p[run..] is not held yet */
  for (size_t i = 0; i < n; i++) {
    char c = p[i];
    if (t->depth == 0) {
      if (c == '{') {
        t->depth = 1;
        t->scan_from = t->held.len + (i - run); /* where this object starts */
      } else if (!is_ws(c)) {
        /* Prose after the objects: this reply is not only calls. */
        if (hold(t, p + run, i - run) == 0) release(t);
        return i;
      }
    } else if (t->in_str) {
      if (t->esc) t->esc = 0;
      else if (c == '\\') t->esc = 1;
      else if (c == '"') t->in_str = 0;
    } else if (c == '"') {
      t->in_str = 1;
    } else if (c == '{') {
      t->depth++;
    } else if (c == '}' && --t->depth == 0) {
      if (hold(t, p + run, i + 1 - run) != 0) return i + 1;
      run = i + 1;
      /* Decide each object as it closes, so that a reply that merely
       * starts with JSON flows on as soon as it is shown not to be a call. */
      if (!recover(t, t->held.p + t->scan_from, t->held.len - t->scan_from,
                   0)) {
        release(t);
        return i + 1;
      }
      t->objects++;
    }
  }
  hold(t, p + run, n - run);
  return n;
}

void ol_tc_feed(ol_text_calls *t, pt_str text)
{
  const char *p = text.ptr;
  size_t n = text.len, i = 0;
  if (t->name_count == 0) {
    emit_text(t, p, n);
    return;
  }
  while (i < n) {
    switch (t->mode) {
    case M_LEAD: {
      size_t j = i;
      while (j < n && is_ws(p[j])) j++;
      if (j > i) hold(t, p + i, j - i);
      i = j;
      if (i < n && t->mode == M_LEAD) {
        if (p[i] == '{') t->mode = M_BARE;
        else release(t);
      }
      break;
    }
    case M_BARE:
      i += feed_bare(t, p + i, n - i);
      break;
    case M_PASS: {
      const char *lt = NULL;
      size_t seg = i, k = 0;
      while (i < n && (lt = memchr(p + i, '<', n - i)) != NULL) {
        k = n - (size_t)(lt - p);
        if (k > TAG_OPEN_LEN) k = TAG_OPEN_LEN;
        if (memcmp(lt, TAG_OPEN, k) == 0) break;
        i = (size_t)(lt - p) + 1;
        lt = NULL;
      }
      if (!lt) {
        emit_text(t, p + seg, n - seg);
        i = n;
        break;
      }
      emit_text(t, p + seg, (size_t)(lt - p) - seg);
      i = (size_t)(lt - p) + k;
      if (hold(t, lt, k) == 0) {
        t->mode = k == TAG_OPEN_LEN ? M_TAG : M_PREFIX;
        t->scan_from = TAG_OPEN_LEN;
      }
      break;
    }
    case M_PREFIX: {
      size_t have = t->held.len, k = n - i;
      if (k > TAG_OPEN_LEN - have) k = TAG_OPEN_LEN - have;
      if (memcmp(p + i, TAG_OPEN + have, k) != 0) {
        release(t); /* p[i] is read again in PASS mode */
        break;
      }
      i += k;
      if (hold(t, p + i - k, k) == 0 && t->held.len == TAG_OPEN_LEN)
        t->mode = M_TAG;
      break;
    }
    case M_TAG: {
      size_t before = t->held.len;
      if (hold(t, p + i, n - i) != 0) return;
      const char *close =
          memmem(t->held.p + t->scan_from, t->held.len - t->scan_from,
                 TAG_CLOSE, TAG_CLOSE_LEN);
      if (!close) {
        /* The close tag may straddle this fragment and the next. */
        if (t->held.len >= TAG_OPEN_LEN + TAG_CLOSE_LEN)
          t->scan_from = t->held.len - TAG_CLOSE_LEN + 1;
        return;
      }
      size_t end = (size_t)(close - t->held.p) + TAG_CLOSE_LEN;
      i += end - before;
      t->held.len = end;
      if (recover(t, t->held.p + TAG_OPEN_LEN,
                  (size_t)(close - t->held.p) - TAG_OPEN_LEN, 1)) {
        t->held.len = 0;
        t->mode = M_PASS;
      } else {
        release(t);
      }
      break;
    }
    }
  }
}

void ol_tc_finish(ol_text_calls *t, int recover_held)
{
  if (recover_held && t->mode == M_TAG &&
      recover(t, t->held.p + TAG_OPEN_LEN, t->held.len - TAG_OPEN_LEN, 1)) {
    t->held.len = 0;
  } else if (recover_held && t->mode == M_BARE && t->depth == 0 &&
             t->objects > 0) {
    emit_bare(t);
    t->held.len = 0;
  }
  release(t);
  t->mode = M_LEAD;
  t->depth = t->in_str = t->esc = t->objects = 0;
}
