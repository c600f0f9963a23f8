/*
 * bench/bench_store.c: what storage costs.
 *
 *   bench_store [PORTICO_BIN] [SEARCH_MESSAGES]
 *
 * 1. Messages written per second, each its own committed transaction and
 *    indexed for search, with synchronous NORMAL (the default) and FULL.
 * 2. A streamed reply on the loop thread: one small transaction per
 *    fragment (what `portico chat` does, one flush per loop iteration),
 *    and the latency of each, with portico's checkpointer thread and with
 *    SQLite's checkpoints inside commits (the store's internals are
 *    reached for that comparison); against a writer thread fed by a
 *    queue, where the loop only pays for the enqueue.
 * 3. How much a turn grows because of storage: a real kernel streaming
 *    from the echo test provider, with `portico chat`'s recorder and
 *    without; the loop time spent inside the store per turn.
 * 4. Search on a database of SEARCH_MESSAGES (default 100000) messages:
 *    the store call, and (given PORTICO_BIN) a whole `portico sessions
 *    search` process.
 * 5. The event log a server keeps for clients that reconnect: appends
 *    from many sessions batched into one flush per loop iteration,
 *    against a commit each, and a replay of what a client missed.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "chat_record.h"
#include "harness.h"
#include "ops.h"
#include "store/store_int.h"

static double now_us(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double pct(double *v, int n, double p)
{
  return v[(int)(p * (n - 1) + 0.5)];
}

static void report(const char *what, double *v, int n)
{
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  printf("  %-44s p50 %7.1f  p99 %7.1f  p99.9 %8.1f  max %8.1f us\n", what,
         pct(v, n, 0.5), pct(v, n, 0.99), pct(v, n, 0.999), v[n - 1]);
}

static double sum(const double *v, int n)
{
  double t = 0;
  for (int i = 0; i < n; i++) t += v[i];
  return t;
}

static pt_store *open_at(const char *dir, int full)
{
  pt_store_options o = { .synchronous_full = full };
  pt_store *st;
  char err[1024];
  if (pt_store_open_dir(dir, &o, &st, err, sizeof err) != PT_OK) {
    fprintf(stderr, "open %s: %s\n", dir, err);
    exit(1);
  }
  return st;
}

/* Text that looks like conversation: words from a skewed vocabulary. */
static const char *const words[] = {
  "the", "a", "to", "of", "and", "in", "is", "it", "that", "for", "file",
  "function", "error", "return", "value", "buffer", "memory", "thread",
  "loop", "socket", "request", "stream", "parser", "token", "session",
  "storage", "index", "query", "result", "plugin", "provider", "model",
  "message", "config", "module", "kernel", "signal", "timeout", "cache",
  "struct", "pointer", "length", "offset", "header", "payload", "json",
  "schema", "commit", "rollback", "checkpoint", "journal", "cursor",
};
#define NWORDS (sizeof words / sizeof words[0])

static unsigned rng = 12345;
static unsigned next_rand(void)
{
  rng = rng * 1103515245u + 12345u;
  return rng >> 8;
}

static void sentence(char *out, size_t cap, size_t len, int n)
{
  size_t at = 0;
  out[0] = '\0';
  while (at + 24 < len && at + 24 < cap) {
    /* Skewed: small indexes (common words) far more often. */
    unsigned r = next_rand() % 1000;
    size_t w = (size_t)(r * r / 1000) * NWORDS / 1000;
    at += (size_t)snprintf(out + at, cap - at, "%s ", words[w]);
  }
  /* One rare word per message, so some queries hit few rows. */
  snprintf(out + at, cap - at, "zq%05d", n % 50000);
}

/* ------------------------------------------------------------------------ */

static void bench_messages(int n, int full)
{
  char *dir = h_tempdir();
  pt_store *st = open_at(dir, full);
  char id[PT_STORE_ID_LEN], text[1024], json[1200];
  pt_store_session_create(st, NULL, id);
  double *lat = malloc((size_t)n * sizeof *lat);
  double t0 = now_us();
  for (int i = 0; i < n; i++) {
    sentence(text, sizeof text, 400, i);
    snprintf(json, sizeof json, "{\"role\":\"%s\",\"content\":\"%s\"}",
             i % 2 ? "assistant" : "user", text);
    cJSON *m = cJSON_Parse(json);
    double a = now_us();
    if (pt_store_message_add(st, id, 0, m, NULL) != PT_OK) exit(1);
    lat[i] = now_us() - a;
    cJSON_Delete(m);
  }
  double secs = (now_us() - t0) / 1e6;
  printf("  synchronous %-6s %7.0f messages/s (400 B each, FTS-indexed, "
         "one commit each)\n", full ? "FULL" : "NORMAL", n / secs);
  report(full ? "  commit latency, FULL" : "  commit latency, NORMAL", lat, n);
  free(lat);
  pt_store_close(st);
  h_rmtree(dir);
  free(dir);
}

/* Fragments arrive over time, not all at once: one per 200 us, the
 * rate of some dozens of replies streaming at once. */
#define PACE_US 200

/* One streamed reply of `n` fragments, a transaction per fragment. With
 * `inline_checkpoints`, SQLite's own checkpointing inside commits instead
 * of portico's checkpointer thread. */
static void bench_stream_loop(int n, int full, int inline_checkpoints)
{
  char *dir = h_tempdir();
  pt_store *st = open_at(dir, full);
  if (inline_checkpoints) {
    pt__store_checkpoints_stop(st);
    sqlite3_wal_autocheckpoint(st->db, 1000);
  }
  char id[PT_STORE_ID_LEN];
  int64_t turn, msg;
  pt_store_session_create(st, NULL, id);
  pt_store_turn_begin(st, id, &turn);
  pt_store_message_begin(st, id, turn, "assistant", &msg);
  double *lat = malloc((size_t)n * sizeof *lat);
  double t0 = now_us();
  for (int i = 0; i < n; i++) {
    double a = now_us();
    pt_store_message_delta(st, msg, PT_STORE_DELTA_TEXT,
                           PT_STR_LIT("a fragment of text "));
    pt_store_flush(st);
    lat[i] = now_us() - a;
    while (now_us() - a < PACE_US) {}
  }
  pt_store_message_end(st, msg, 0);
  pt_store_turn_end(st, turn, PT_STORE_TURN_DONE, "end_turn", NULL);
  double total = now_us() - t0;
  char what[96];
  snprintf(what, sizeof what, "loop thread, %s%s: delta + commit",
           full ? "FULL" : "NORMAL",
           inline_checkpoints ? ", inline checkpoints" : "");
  report(what, lat, n);
  printf("  %-44s %.1f%% of the loop's time in the store\n", "",
         100.0 * sum(lat, n) / total);
  free(lat);
  pt_store_close(st);
  h_rmtree(dir);
  free(dir);
}

/* The alternative: the loop hands fragments to a writer thread. */
typedef struct queue {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  char **items;
  int head, tail, cap, closed;
  pt_store *st;
  int64_t msg;
  int commits;
} queue;

static void *writer_main(void *arg)
{
  queue *q = arg;
  pthread_mutex_lock(&q->lock);
  for (;;) {
    while (q->head == q->tail && !q->closed)
      pthread_cond_wait(&q->cond, &q->lock);
    if (q->head == q->tail && q->closed) break;
    int from = q->head, to = q->tail;
    q->head = to;
    pthread_mutex_unlock(&q->lock);
    /* Whatever queued up while the last commit ran is one transaction. */
    for (int i = from; i < to; i++) {
      pt_store_message_delta(q->st, q->msg, PT_STORE_DELTA_TEXT,
                             (pt_str){ q->items[i], strlen(q->items[i]) });
      free(q->items[i]);
    }
    pt_store_flush(q->st);
    q->commits++;
    pthread_mutex_lock(&q->lock);
  }
  pthread_mutex_unlock(&q->lock);
  return NULL;
}

static void bench_stream_thread(int n, int full)
{
  char *dir = h_tempdir();
  queue q = { .cap = n };
  pthread_mutex_init(&q.lock, NULL);
  pthread_cond_init(&q.cond, NULL);
  q.items = calloc((size_t)n, sizeof *q.items);
  q.st = open_at(dir, full);
  char id[PT_STORE_ID_LEN];
  int64_t turn;
  pt_store_session_create(q.st, NULL, id);
  pt_store_turn_begin(q.st, id, &turn);
  pt_store_message_begin(q.st, id, turn, "assistant", &q.msg);
  pthread_t t;
  pthread_create(&t, NULL, writer_main, &q);
  double *lat = malloc((size_t)n * sizeof *lat);
  double t0 = now_us();
  for (int i = 0; i < n; i++) {
    double a = now_us();
    char *copy = strdup("a fragment of text ");
    pthread_mutex_lock(&q.lock);
    q.items[q.tail++] = copy;
    pthread_cond_signal(&q.cond);
    pthread_mutex_unlock(&q.lock);
    lat[i] = now_us() - a;
    while (now_us() - a < PACE_US) {}
  }
  pthread_mutex_lock(&q.lock);
  q.closed = 1;
  pthread_cond_signal(&q.cond);
  pthread_mutex_unlock(&q.lock);
  pthread_join(t, NULL);
  double total = now_us() - t0;
  pt_store_message_end(q.st, q.msg, 0);
  pt_store_turn_end(q.st, turn, PT_STORE_TURN_DONE, "end_turn", NULL);
  char what[96];
  snprintf(what, sizeof what, "writer thread, %s: enqueue", full ? "FULL" : "NORMAL");
  report(what, lat, n);
  printf("  %-44s %d commits for %d fragments, %.0f ms to disk\n", "",
         q.commits, n, total / 1e3);
  free(lat);
  free(q.items);
  pt_store_close(q.st);
  pthread_mutex_destroy(&q.lock);
  pthread_cond_destroy(&q.cond);
  h_rmtree(dir);
  free(dir);
}

/* ------------------------------------------------------------------------ */
/* A turn through the kernel                                                 */

typedef struct turn_run {
  pt_chat_record *rec;
  int done;
  double store_us;           /* loop time inside the recorder */
} turn_run;

static void on_event(void *ud, const pt_chat_event *ev)
{
  turn_run *t = ud;
  double a = now_us();
  if (t->rec && ev->kind == PT_EV_DONE)
    pt_chat_record_end(t->rec, ev->status, ev->stop, NULL);
  else if (t->rec)
    pt_chat_record_event(t->rec, ev);
  t->store_us += now_us() - a;
  if (ev->kind == PT_EV_DONE) t->done = 1;
}

/* One turn; with a recorder, the loop time spent in the store is summed
 * into *store_us. The recorder's flush-per-iteration handle is replaced by
 * the same flush done here after each iteration, so it can be timed. */
static double run_turn(pt_kernel *k, pt_chat_record *rec, const char *req,
                       double *store_us)
{
  turn_run t = { .rec = rec };
  cJSON *user = cJSON_Parse("{\"role\":\"user\",\"content\":\"benchmark\"}");
  pt_price price = { 0 };
  double t0 = now_us();
  if (rec) {
    double a = now_us();
    pt_chat_record_begin(rec, "test_echo", "echo-1", &price, NULL, user);
    t.store_us += now_us() - a;
    uv_check_stop(&rec->flush);
  }
  pt_op_sink sink = { .on_event = on_event, .ud = &t };
  if (pt_op_chat(k, "test_echo", (pt_str){ req, strlen(req) }, NULL, &sink,
                 NULL) != PT_OK)
    exit(1);
  while (!t.done) {
    uv_run(&k->loop, UV_RUN_ONCE);
    if (rec && pt_store_pending(rec->st)) {
      double b = now_us();
      pt_store_flush(rec->st);
      t.store_us += now_us() - b;
    }
  }
  cJSON_Delete(user);
  *store_us = t.store_us;
  return now_us() - t0;
}

static void bench_turns(const char *test_plugins, int turns)
{
  char *dir = h_tempdir(), *plugin_dir = h_tempdir();
  setenv("PORTICO_TEST_PLUGIN_DIR", test_plugins, 1);
  h_copy_plugin("echo.so", plugin_dir, NULL);
  char *config = h_write_config(dir, "return { plugins = { echo = { "
                                     "interval_ms = 1 } } }\n");
  const char *dirs[1] = { plugin_dir };
  pt_kernel_options o = h_options(dirs, NULL, config);
  o.data_dir = dir;
  pt_kernel *k = h_kernel(&o);
  /* 400 fragments of 4 bytes, one per millisecond. */
  char req[1700];
  memset(req, 'x', sizeof req - 1);
  req[sizeof req - 1] = '\0';
  double *with = malloc((size_t)turns * sizeof *with);
  double *without = malloc((size_t)turns * sizeof *without);
  double *store = malloc((size_t)turns * sizeof *store);
  pt_chat_record rec;
  pt_chat_record_open(&rec, k, NULL);
  double ignored;
  for (int i = 0; i < turns; i++) {
    without[i] = run_turn(k, NULL, req, &ignored) / 1e3;
    with[i] = run_turn(k, &rec, req, &store[i]) / 1e3;
  }
  pt_chat_record_close(&rec);
  qsort(with, (size_t)turns, sizeof *with, cmp_double);
  qsort(without, (size_t)turns, sizeof *without, cmp_double);
  qsort(store, (size_t)turns, sizeof *store, cmp_double);
  printf("  echo turn of 425 fragments (1 ms apart), median of %d:\n", turns);
  printf("    without storage %8.1f ms   with storage %8.1f ms   "
         "difference %+.1f ms\n",
         without[turns / 2], with[turns / 2],
         with[turns / 2] - without[turns / 2]);
  printf("    loop time inside the store per turn: p50 %.2f ms, max %.2f ms "
         "(%.1f us per fragment)\n",
         store[turns / 2] / 1e3, store[turns - 1] / 1e3,
         store[turns / 2] / 425);
  free(with);
  free(without);
  free(store);
  pt_kernel_free(k);
  h_rmtree(dir);
  h_rmtree(plugin_dir);
  free(dir);
  free(plugin_dir);
  free(config);
}

/* ------------------------------------------------------------------------ */

static void bench_search(int n, const char *bin)
{
  char *dir = h_tempdir();
  pt_store *st = open_at(dir, 0);
  char id[PT_STORE_ID_LEN], text[1024], json[1200];
  double t0 = now_us();
  for (int i = 0; i < n; i++) {
    if (i % 100 == 0) {
      pt_store_session_info info = { .title = "bench" };
      pt_store_session_create(st, &info, id);
    }
    sentence(text, sizeof text, 300, i);
    snprintf(json, sizeof json, "{\"role\":\"%s\",\"content\":\"%s\"}",
             i % 2 ? "assistant" : "user", text);
    cJSON *m = cJSON_Parse(json);
    pt_store_message_add(st, id, 0, m, NULL);
    cJSON_Delete(m);
  }
  pt_store_close(st);
  st = open_at(dir, 0);
  char path[4200];
  snprintf(path, sizeof path, "%s/portico.db", dir);
  struct stat sb;
  stat(path, &sb);
  printf("  %d messages written in %.1f s; portico.db is %.1f MB\n", n,
         (now_us() - t0) / 1e6, sb.st_size / 1e6);
  static const char *const queries[] = {
    "zq01234", "checkpoint rollback", "the", "pars*", "\"NEAR(\" (",
  };
  static const char *const names[] = {
    "rare word", "two words", "most common word", "prefix",
    "hostile syntax",
  };
  for (size_t q = 0; q < sizeof queries / sizeof queries[0]; q++) {
    double v[21];
    int hits = 0;
    for (int r = 0; r < 21; r++) {
      cJSON *out = NULL;
      double a = now_us();
      pt_store_search(st, queries[q], 20, &out);
      v[r] = (now_us() - a) / 1e3;
      hits = cJSON_GetArraySize(out);
      cJSON_Delete(out);
    }
    qsort(v, 21, sizeof *v, cmp_double);
    printf("    search %-22s %-24s p50 %7.2f ms  max %7.2f ms (%d shown)\n",
           names[q], queries[q], v[10], v[20], hits);
  }
  pt_store_close(st);
  if (bin) {
    double v[11];
    for (int r = 0; r < 11; r++) {
      double a = now_us();
      pid_t pid = fork();
      if (pid == 0) {
        if (!freopen("/dev/null", "w", stdout)) _exit(1);
        execl(bin, bin, "--data-dir", dir, "sessions", "search", "checkpoint",
              "rollback", (char *)NULL);
        _exit(127);
      }
      waitpid(pid, NULL, 0);
      v[r] = (now_us() - a) / 1e3;
    }
    qsort(v, 11, sizeof *v, cmp_double);
    printf("    `portico sessions search checkpoint rollback`, whole "
           "process: p50 %.1f ms\n", v[5]);
  }
  h_rmtree(dir);
  free(dir);
}

/* ------------------------------------------------------------------------ */

/* What a server logs per streamed fragment. */
static int event_json(char *out, size_t cap, int64_t seq)
{
  return snprintf(out, cap, "{\"type\":\"text\",\"turn\":3,\"seq\":%lld,"
                  "\"text\":\"a fragment of text \"}", (long long)seq);
}

/* `sessions` sessions each log one event per loop iteration, `rounds`
 * times; the loop flushes once per iteration (batched), or every append
 * commits on its own. */
static void bench_events(int sessions, int rounds, int batched)
{
  char *dir = h_tempdir();
  pt_store *st = open_at(dir, 0);
  char (*ids)[PT_STORE_ID_LEN] = malloc((size_t)sessions * sizeof *ids);
  for (int i = 0; i < sessions; i++) pt_store_session_create(st, NULL, ids[i]);
  double *lat = malloc((size_t)rounds * sizeof *lat);
  char json[160];
  double t0 = now_us();
  for (int r = 0; r < rounds; r++) {
    double a = now_us();
    for (int i = 0; i < sessions; i++) {
      int n = event_json(json, sizeof json, r + 1);
      if (pt_store_event_append(st, ids[i], r + 1, json, (size_t)n) != PT_OK)
        exit(1);
      if (!batched && pt_store_flush(st) != PT_OK) exit(1);
    }
    if (batched && pt_store_flush(st) != PT_OK) exit(1);
    lat[r] = now_us() - a;
  }
  double secs = (now_us() - t0) / 1e6;
  long total = (long)sessions * rounds;
  if (batched) {
    printf("  event appends/s (batched)      %9.0f  (%d sessions, one "
           "flush per %d appends)\n", total / secs, sessions, sessions);
    char what[96];
    snprintf(what, sizeof what, "  %d appends + their flush", sessions);
    report(what, lat, rounds);
  } else {
    printf("  event appends/s (a commit each) %8.0f\n", total / secs);
  }
  if (batched) {
    /* A client that missed the last 100 events of one session. */
    double v[101];
    for (int r = 0; r < 101; r++) {
      cJSON *out = NULL;
      double a = now_us();
      pt_store_events_after(st, ids[r % sessions], rounds - 100, 0, &out);
      v[r] = now_us() - a;
      cJSON_Delete(out);
    }
    report("  replay of the last 100 events", v, 101);
  }
  free(lat);
  free(ids);
  pt_store_close(st);
  h_rmtree(dir);
  free(dir);
}

int main(int argc, char **argv)
{
  const char *bin = argc > 1 ? argv[1] : NULL;
  int search_n = argc > 2 ? atoi(argv[2]) : 100000;
  setvbuf(stdout, NULL, _IOLBF, 0);
  printf("storage (SQLite %s, WAL)\n\nmessages written:\n",
         sqlite3_libversion());
  bench_messages(20000, 0);
  bench_messages(2000, 1);
  printf("\nstreamed reply (5000 fragments; 1000 with FULL):\n");
  bench_stream_loop(5000, 0, 1);
  bench_stream_loop(5000, 0, 0);
  bench_stream_thread(5000, 0);
  bench_stream_loop(1000, 1, 0);
  bench_stream_thread(1000, 1);
  printf("\nturn latency:\n");
  bench_turns(PORTICO_BENCH_TEST_PLUGIN_DIR, 15);
  printf("\nsearch:\n");
  bench_search(search_n, bin);
  printf("\nevent log (~80 B events, synchronous NORMAL):\n");
  bench_events(200, 500, 1);
  bench_events(200, 25, 0);
  return 0;
}
