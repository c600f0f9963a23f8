/*
 * core/store/checkpoint.c: moving the write-ahead log into the database
 * file on a thread of its own.
 *
 * With WAL and synchronous NORMAL a commit is one write() into the log and
 * no fsync; the fsyncs happen when the log is copied back into the file
 * (a checkpoint). SQLite runs that inside whichever commit pushes the log
 * past 1000 pages, which put 10-60 ms stalls on the loop thread in
 * bench/bench_store.c. Here a commit only notes the log's size; past the
 * same threshold a checkpointer thread, with its own connection, runs a
 * PASSIVE checkpoint, which never blocks the loop's writers or any reader.
 * The thread starts at the first checkpoint a store needs, so short-lived
 * stores (a CLI listing) never start one.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

/* SQLite's own default threshold, in pages. */
#define CHECKPOINT_PAGES 1000

/* The log restarts from its beginning only once a checkpoint has caught
 * up with every commit, which a writer that never pauses does not allow.
 * Past this many pages (40 MB at 4 KiB) the committing thread checkpoints
 * itself, as SQLite would: the back-pressure of a sustained burst that the
 * disk cannot absorb. */
#define INLINE_PAGES 10000

struct pt__checkpointer {
  pthread_t thread;
  pthread_mutex_t lock;
  pthread_cond_t cond;
  int wanted, stop;
  char *path;
  int busy_timeout_ms;
  int next_at;              /* log pages at which to ask again */
  uint64_t runs;            /* checkpoints done (tests read it) */
};

static void *main_loop(void *arg)
{
  pt__checkpointer *c = arg;
  sqlite3 *db = NULL;
  if (sqlite3_open_v2(c->path, &db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                      NULL) == SQLITE_OK) {
    sqlite3_busy_timeout(db, c->busy_timeout_ms);
    /* A connection learns that the file is in WAL mode at its first read;
     * until then a checkpoint through it does nothing at all. */
    sqlite3_exec(db, "SELECT count(*) FROM sqlite_schema", NULL, NULL, NULL);
  }
  pthread_mutex_lock(&c->lock);
  for (;;) {
    while (!c->wanted && !c->stop) pthread_cond_wait(&c->cond, &c->lock);
    if (c->stop) break;
    c->wanted = 0;
    pthread_mutex_unlock(&c->lock);
    /* A failure (a reader holding old frames, another checkpoint) only
     * means the log stays longer; the next commit asks again. */
    int log = -1;
    sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log,
                              NULL);
    pthread_mutex_lock(&c->lock);
    if (log >= 0) c->runs++;
  }
  pthread_mutex_unlock(&c->lock);
  sqlite3_close(db);
  return NULL;
}

static pt__checkpointer *start_thread(pt_store *st)
{
  pt__checkpointer *c = calloc(1, sizeof *c);
  if (!c || !(c->path = strdup(st->path))) {
    free(c);
    return NULL;
  }
  c->busy_timeout_ms = st->busy_timeout_ms;
  pthread_mutex_init(&c->lock, NULL);
  pthread_cond_init(&c->cond, NULL);
  if (pthread_create(&c->thread, NULL, main_loop, c) != 0) {
    pthread_mutex_destroy(&c->lock);
    pthread_cond_destroy(&c->cond);
    free(c->path);
    free(c);
    return NULL;
  }
  return c;
}

/* sqlite3_wal_hook: called on the committing thread after each commit. */
static int on_commit(void *ud, sqlite3 *db, const char *name, int pages)
{
  pt_store *st = ud;
  pt__checkpointer *c = st->checkpointer;
  if (pages >= INLINE_PAGES) {
    sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL,
                              NULL);
    return SQLITE_OK;
  }
  /* Once per 1000 new pages, as often as SQLite would; a log that
   * restarted counts from its beginning again. */
  int next_at = c ? c->next_at : CHECKPOINT_PAGES;
  if (pages + CHECKPOINT_PAGES < next_at) next_at = CHECKPOINT_PAGES;
  if (c) c->next_at = next_at;
  if (pages < next_at) return SQLITE_OK;
  if (!c && !(c = st->checkpointer = start_thread(st))) {
    /* No thread: checkpoint here, as SQLite would have. */
    sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL,
                              NULL);
    return SQLITE_OK;
  }
  c->next_at = pages + CHECKPOINT_PAGES;
  pthread_mutex_lock(&c->lock);
  c->wanted = 1;
  pthread_cond_signal(&c->cond);
  pthread_mutex_unlock(&c->lock);
  return SQLITE_OK;
}

void pt__store_checkpoints_start(pt_store *st)
{
  sqlite3_wal_hook(st->db, on_commit, st);
}

uint64_t pt__store_checkpoints_done(pt_store *st)
{
  pt__checkpointer *c = st->checkpointer;
  if (!c) return 0;
  pthread_mutex_lock(&c->lock);
  uint64_t n = c->runs;
  pthread_mutex_unlock(&c->lock);
  return n;
}

void pt__store_checkpoints_stop(pt_store *st)
{
  pt__checkpointer *c = st->checkpointer;
  if (st->db) sqlite3_wal_hook(st->db, NULL, NULL);
  if (!c) return;
  pthread_mutex_lock(&c->lock);
  c->stop = 1;
  pthread_cond_signal(&c->cond);
  pthread_mutex_unlock(&c->lock);
  pthread_join(c->thread, NULL);
  pthread_mutex_destroy(&c->lock);
  pthread_cond_destroy(&c->cond);
  free(c->path);
  free(c);
  st->checkpointer = NULL;
}
