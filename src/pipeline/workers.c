/*
 * pipeline/workers.c — `ecom stream --threads N` (N > 1): N worker threads parse the input and
 * encode the raw tables, while the job's thread keeps reading the input and running the engine
 * in the input's order. Output is that of the one-thread loop: the same metric rows (the engine
 * sees the same events in the same order, advanced at the same records) and the same raw rows
 * as a set (each worker writes its own files: part-e<epoch>-g<gen>-w<k>-*).
 *
 * Why the engine stays in one thread (and the input is not sharded by user_id over N engines):
 * the one-thread engine decides per event, not per epoch. An event is late when its window
 * ended at or before the shard's watermark, which is its newest on-time event time so far
 * minus the lateness (stream.h): a function of every earlier event of the partition in input
 * order, of every user. Dedup is the same: an id is a duplicate or a conflict against every
 * earlier id of the partition (a conflict may carry another user_id), and which ids are still
 * remembered depends on what advance() closed, i.e. on the record count. A file is one
 * partition, so N engines each fed one user_id shard would each see a watermark and a dedup
 * table of their own users only: some events late in one thread would be on time in N, and
 * the output would differ. Making the watermark move only at barriers would change the
 * one-thread output itself. So the sequential part is kept whole (read the bytes, decide each
 * event: the engine, about a fifth of one thread's CPU in issue 14's profile), and what
 * depends on no other record is spread: parsing (a quarter) and the raw tables' Parquet
 * encoding (two fifths). Measured, the job's thread is about half of a --threads 2 run
 * (docs/benchmarks.md): this design uses two cores, not many more.
 *
 * The work goes through a ring of slots, each a batch of up to SLOT_RECORDS records:
 *   FREE -> (job thread) filled from the source, given to worker seq % N
 *        -> PARSE (worker) each record parsed with the slot's own parser for it (a parsed
 *           event's strings live in its parser until that parser's next parse)
 *        -> PARSED -> (job thread, slots in seq order, i.e. input order) job_decide per record:
 *           counters, max_future, the engine; then job_record_done (position, advance every
 *           source advance_records records, as the one-thread loop)
 *        -> WRITE (worker) the records' rows appended to the worker's raw tables -> FREE.
 * A commit is a barrier (workers_drain): nothing more is read, every slot read is decided and
 * written, then each worker closes its tables (workers_close_tables) and its staged renames
 * join the job's, so one commit record names every file of the epoch, as with one thread.
 * A failure anywhere aborts the epoch: workers_abort waits for the workers to stop, drops every
 * slot and every worker's uncommitted files; the loop then rolls back and re-reads from the
 * commit (pipeline.c), as with one thread.
 *
 * Contract: one job thread calls workers_* (never a worker); each worker owns its storage
 * connection, staging list, ingest and raw tables; the slots' ownership passes between the job
 * thread and a worker under the one mutex. Errors: 0 / -1 with j->err (a worker's message).
 * workers_start's result is freed by workers_stop (also on a failed start).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/pipeline_internal.h"

/* Why 256: a batch must be large enough that handing it over (a mutex and a wake-up each
 * way) is noise next to parsing and encoding it, and small enough that the ring keeps every
 * worker fed; each record of a slot has its own parser (16 KiB, mostly untouched: 512 per
 * slot cost 5k more page faults in a 300k-event run). */
#define SLOT_RECORDS 256
#define SLOTS_PER_WORKER 2
#define POLL_MAX 64
/* Live input (Kafka without --drain, a pipe) stops filling a slot this long after its first
 * poll, so that a trickle of records is not held back until a slot is full. */
#define FILL_MAX_US 10000

typedef enum { SLOT_FREE = 0, SLOT_PARSE, SLOT_PARSED, SLOT_WRITE } slot_state;

typedef struct {
    slot_state state;
    int worker;
    uint64_t seq;
    size_t n;
    source_record rec[SLOT_RECORDS]; /* val and name point into buf once filled */
    size_t val_off[SLOT_RECORDS], name_off[SLOT_RECORDS];
    buf_t buf;
    lake_ingest *parser[SLOT_RECORDS];
    lake_line line[SLOT_RECORDS];
    bool write[SLOT_RECORDS];        /* job_decide's verdict */
    int64_t now_us;                  /* the job's clock when read (rejected rows' ingest time) */
    char stem[96];                   /* the worker's file stem for this epoch */
} work_slot;

typedef enum { CMD_NONE = 0, CMD_CLOSE, CMD_ABORT } worker_cmd;

typedef struct {
    struct job_workers *ws;
    int index;
    pthread_t tid;
    bool started, working;
    pthread_cond_t cond;
    storage *base, *stage;
    staging *st;
    lake_ingest *ingest;             /* the writer's: its zone cache and counters */
    lake_tz tz;
    lake_table *raw[LAKE_RAW_COUNT];
    worker_cmd cmd;
    int cmd_rc;
    bool failed;
    char err[512];
} worker;

struct job_workers {
    pthread_mutex_t mu;
    pthread_cond_t main_cond;        /* a slot or a command finished */
    bool quit, paused;
    int n, nslots;
    worker *w;
    work_slot *slots;
    uint64_t fill_seq, decide_seq;   /* next slot to fill, next to decide */
    uint64_t in_flight;              /* records read and not yet decided */
    bool src_end;                    /* the source said end (until the next abort) */
    const pipeline_job *job;         /* schemas and options, read-only for the workers */
};

static work_slot *slot_of(job_workers *ws, uint64_t seq) { return &ws->slots[seq % (uint64_t)ws->nslots]; }

/* ---- the worker side ---- */

static void slot_parse(work_slot *sl) {
    for (size_t i = 0; i < sl->n; i++) {
        const source_record *r = &sl->rec[i];
        lake_input in = {.p = r->val, .n = r->len, .source = r->name, .position = r->offset, .ts_hint_us = r->ts_us};
        lake_ingest_parse(sl->parser[i], &in, &sl->line[i]);
    }
}

static lake_table *worker_table(worker *w, lake_raw t, const char *stem) {
    if (w->raw[t]) return w->raw[t];
    const pipeline_job *j = w->ws->job;
    lake_opts o = {.max_rows = j->cfg->max_rows_per_file, .codec = PQ_ZSTD};
    w->raw[t] = lake_table_open(w->stage, lake_raw_name(t), j->raw_schema[t], stem, &o, w->err, sizeof w->err);
    return w->raw[t];
}

static int slot_write(worker *w, work_slot *sl) {
    for (size_t i = 0; i < sl->n; i++) {
        if (!sl->write[i]) continue;
        const lake_line *l = &sl->line[i];
        lake_table *t = NULL;
        if (l->kind != LAKE_LINE_BLANK && !(t = worker_table(w, lake_line_table(l), sl->stem))) return -1;
        if (lake_ingest_write(w->ingest, l, t, sl->now_us, w->err, sizeof w->err)) return -1;
    }
    return 0;
}

/* Closes (commit: rc 0 so far) or aborts the worker's tables; after a failure the rest are
 * aborted. Renames go to the worker's staging list. */
static int worker_tables_end(worker *w, bool commit) {
    int rc = commit ? 0 : -1;
    for (int t = 0; t < LAKE_RAW_COUNT; t++) {
        if (!w->raw[t]) continue;
        if (rc == 0)
            rc = lake_table_close(w->raw[t], w->err, sizeof w->err);
        else
            lake_table_abort(w->raw[t]);
        w->raw[t] = NULL;
    }
    if (!commit && w->st) staging_clear(w->st);
    return commit ? rc : 0;
}

/* The worker's next job, with the mutex held: a command, else its lowest-seq slot to parse or
 * write. NULL: nothing (or paused). */
static work_slot *worker_next(job_workers *ws, worker *w) {
    work_slot *best = NULL;
    if (ws->paused) return NULL;
    for (int i = 0; i < ws->nslots; i++) {
        work_slot *sl = &ws->slots[i];
        if (sl->worker == w->index && (sl->state == SLOT_PARSE || sl->state == SLOT_WRITE) &&
            (!best || sl->seq < best->seq))
            best = sl;
    }
    return best;
}

/* Runs one command or one slot step with the mutex released; reports back under it. */
static void worker_step(job_workers *ws, worker *w, work_slot *sl) {
    w->working = true;
    pthread_mutex_unlock(&ws->mu);
    int rc = 0;
    worker_cmd cmd = sl ? CMD_NONE : w->cmd;
    if (cmd != CMD_NONE)
        rc = worker_tables_end(w, cmd == CMD_CLOSE);
    else if (sl->state == SLOT_PARSE)
        slot_parse(sl);
    else
        rc = slot_write(w, sl);
    pthread_mutex_lock(&ws->mu);
    w->working = false;
    if (cmd != CMD_NONE) {
        w->cmd_rc = rc;
        w->cmd = CMD_NONE;
    } else {
        sl->state = sl->state == SLOT_PARSE ? SLOT_PARSED : SLOT_FREE;
        if (rc) w->failed = true;
    }
    pthread_cond_signal(&ws->main_cond);
}

static void *worker_main(void *arg) {
    worker *w = arg;
    job_workers *ws = w->ws;
    pthread_mutex_lock(&ws->mu);
    while (!ws->quit) {
        work_slot *sl = w->cmd != CMD_NONE ? NULL : worker_next(ws, w);
        if (!sl && w->cmd == CMD_NONE) {
            pthread_cond_wait(&w->cond, &ws->mu);
            continue;
        }
        worker_step(ws, w, sl);
    }
    pthread_mutex_unlock(&ws->mu);
    return NULL;
}

/* ---- setup ---- */

static int worker_open(pipeline_job *j, worker *w) {
    const pipeline_config *c = j->cfg;
    if (!(w->base = storage_open_opts(c->out_root, c->storage, j->err, sizeof j->err))) return -1;
    /* Test-only (faults.c): each worker's storage fails the same chosen calls of its own. */
    const char *faults = getenv("ECOM_TEST_STORAGE_FAULTS");
    if (faults && *faults && !(w->base = faults_wrap(w->base, faults, j->err, sizeof j->err))) return -1;
    if (!(w->st = staging_new(w->base, &w->stage, j->err, sizeof j->err))) return -1;
    w->tz = j->tz;
    if (!(w->ingest = lake_ingest_new(&w->tz))) return err_set(j->err, sizeof j->err, "out of memory"), -1;
    return 0;
}

static int slots_alloc(job_workers *ws, pipeline_job *j) {
    ws->nslots = ws->n * SLOTS_PER_WORKER;
    if (!(ws->slots = calloc((size_t)ws->nslots, sizeof *ws->slots))) return err_set(j->err, sizeof j->err, "out of memory"), -1;
    for (int i = 0; i < ws->nslots; i++)
        for (int r = 0; r < SLOT_RECORDS; r++)
            if (!(ws->slots[i].parser[r] = lake_ingest_new(&j->tz)))
                return err_set(j->err, sizeof j->err, "out of memory"), -1;
    return 0;
}

int workers_start(pipeline_job *j, int n) {
    job_workers *ws = calloc(1, sizeof *ws);
    if (!ws) return err_set(j->err, sizeof j->err, "out of memory"), -1;
    j->workers = ws;
    ws->job = j;
    ws->n = n;
    pthread_mutex_init(&ws->mu, NULL);
    pthread_cond_init(&ws->main_cond, NULL);
    if (!(ws->w = calloc((size_t)n, sizeof *ws->w)) || slots_alloc(ws, j))
        return err_set(j->err, sizeof j->err, "out of memory"), -1;
    for (int i = 0; i < n; i++) {
        worker *w = &ws->w[i];
        w->ws = ws;
        w->index = i;
        pthread_cond_init(&w->cond, NULL);
        if (worker_open(j, w)) return -1;
        if (pthread_create(&w->tid, NULL, worker_main, w))
            return err_set(j->err, sizeof j->err, "cannot start worker thread %d", i), -1;
        w->started = true;
    }
    return 0;
}

void workers_stop(pipeline_job *j) {
    job_workers *ws = j->workers;
    if (!ws) return;
    pthread_mutex_lock(&ws->mu);
    ws->quit = true;
    for (int i = 0; ws->w && i < ws->n; i++) pthread_cond_signal(&ws->w[i].cond);
    pthread_mutex_unlock(&ws->mu);
    for (int i = 0; ws->w && i < ws->n; i++) {
        worker *w = &ws->w[i];
        if (w->started) pthread_join(w->tid, NULL);
        worker_tables_end(w, false);
        lake_ingest_free(w->ingest);
        staging_free(w->st);
        storage_close(w->base);
        pthread_cond_destroy(&w->cond);
    }
    for (int i = 0; ws->slots && i < ws->nslots; i++) {
        for (int r = 0; r < SLOT_RECORDS; r++) lake_ingest_free(ws->slots[i].parser[r]);
        buf_free(&ws->slots[i].buf);
    }
    free(ws->slots);
    free(ws->w);
    pthread_cond_destroy(&ws->main_cond);
    pthread_mutex_destroy(&ws->mu);
    free(ws);
    j->workers = NULL;
}

/* ---- the job side ---- */

/* A worker's failure, with the mutex held: its message into j->err. */
static bool workers_failed(job_workers *ws, pipeline_job *j) {
    for (int i = 0; i < ws->n; i++)
        if (ws->w[i].failed) {
            snprintf(j->err, sizeof j->err, "%s", ws->w[i].err);
            return true;
        }
    return false;
}

/* Copies one polled record into the slot (the source's buffers are reused by its next poll). */
static int slot_add(work_slot *sl, const source_record *r) {
    size_t i = sl->n;
    sl->rec[i] = *r;
    sl->val_off[i] = sl->buf.len;
    if (buf_append(&sl->buf, r->val, r->len)) return -1;
    /* a run of records of one source name stores it once (by content: the Kafka source
     * rewrites one buffer for every message) */
    if (i > 0 && !strcmp(sl->buf.data + sl->name_off[i - 1], r->name)) {
        sl->name_off[i] = sl->name_off[i - 1];
    } else {
        sl->name_off[i] = sl->buf.len;
        if (buf_append(&sl->buf, r->name, strlen(r->name) + 1)) return -1;
    }
    sl->n++;
    return 0;
}

/* Fills a FREE slot from the source: up to SLOT_RECORDS records, fewer when the source has
 * nothing more right now (a poll returned none, or would block: a pipe's next read waits for
 * its writer, so the records read so far go on), live input filled for FILL_MAX_US, the input
 * ends, or --max-events is reached.
 * 0, or -1 (fatal, j->err). */
static int slot_fill(pipeline_job *j, job_workers *ws, work_slot *sl) {
    sl->n = 0;
    buf_reset(&sl->buf);
    const source_ops *o = j->src.ops;
    int64_t until = time_mono_us() + FILL_MAX_US;
    while (sl->n < SLOT_RECORDS && !ws->src_end && (sl->n == 0 || !o->ready || o->ready(&j->src)) &&
           (sl->n == 0 || !j->live || time_mono_us() < until)) {
        size_t max = SLOT_RECORDS - sl->n, got = 0;
        if (max > POLL_MAX) max = POLL_MAX;
        uint64_t read = j->stats.records + ws->in_flight + sl->n;
        if (j->cfg->max_events && (uint64_t)j->cfg->max_events - read < max)
            max = (size_t)((uint64_t)j->cfg->max_events - read);
        if (max == 0) break;
        source_record rec[POLL_MAX];
        int pr = j->src.ops->poll(&j->src, rec, max, &got, j->err, sizeof j->err);
        if (pr < 0) return -1;
        j->now_us = time_now_us();
        for (size_t i = 0; i < got; i++)
            if (slot_add(sl, &rec[i])) return err_set(j->err, sizeof j->err, "out of memory"), -1;
        if (pr == 1) ws->src_end = true;
        if (got == 0) break;
    }
    for (size_t i = 0; i < sl->n; i++) {
        sl->rec[i].val = sl->buf.data + sl->val_off[i];
        sl->rec[i].name = sl->buf.data + sl->name_off[i];
    }
    sl->now_us = j->now_us;
    return 0;
}

/* Decides a PARSED slot's records in order (the job thread owns it meanwhile). */
static int slot_decide(pipeline_job *j, loop_state *ls, work_slot *sl) {
    char stem[80];
    job_epoch_stem(j, -1, stem, sizeof stem);
    snprintf(sl->stem, sizeof sl->stem, "%s-w%d", stem, sl->worker);
    for (size_t i = 0; i < sl->n; i++) {
        const source_record *r = &sl->rec[i];
        sl->write[i] = job_decide(j, r->part, r->stream, r->offset, &sl->line[i]) == 1;
        if (job_record_done(j, ls, r)) return -1;
    }
    return 0;
}

/* Decides every PARSED slot at the head, in order; mutex held (released while deciding). */
static int decide_ready(pipeline_job *j, job_workers *ws, loop_state *ls, size_t *done) {
    while (ws->decide_seq < ws->fill_seq) {
        work_slot *sl = slot_of(ws, ws->decide_seq);
        if (sl->state != SLOT_PARSED) return 0;
        pthread_mutex_unlock(&ws->mu);
        int rc = slot_decide(j, ls, sl);
        pthread_mutex_lock(&ws->mu);
        if (rc) return -1;
        ws->decide_seq++;
        ws->in_flight -= sl->n;
        *done += sl->n;
        sl->state = SLOT_WRITE;
        pthread_cond_signal(&ws->w[sl->worker].cond);
    }
    return 0;
}

/* Fills the next slot if it is FREE; mutex held (released while reading). *got: records read.
 * A read that would block (a pipe whose writer pauses) waits until every record read before
 * it is decided: those must not wait for the writer's next line. */
static int fill_next(pipeline_job *j, job_workers *ws, size_t *got) {
    work_slot *sl = slot_of(ws, ws->fill_seq);
    const source_ops *o = j->src.ops;
    *got = 0;
    if (sl->state != SLOT_FREE || ws->src_end) return 0;
    if (o->ready && ws->decide_seq < ws->fill_seq && !o->ready(&j->src)) return 0;
    pthread_mutex_unlock(&ws->mu);
    int rc = slot_fill(j, ws, sl);
    pthread_mutex_lock(&ws->mu);
    if (rc || sl->n == 0) return rc;
    *got = sl->n;
    sl->seq = ws->fill_seq++;
    sl->worker = (int)(sl->seq % (uint64_t)ws->n);
    ws->in_flight += sl->n;
    sl->state = SLOT_PARSE;
    pthread_cond_signal(&ws->w[sl->worker].cond);
    return 0;
}

/* Waits (mutex held) for a worker to finish something, at most 20 ms: the loop's clocks
 * (commit interval, status) keep turning while the workers are busy. */
static void wait_workers(job_workers *ws) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 20 * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&ws->main_cond, &ws->mu, &ts);
}

loop_turn_result workers_pump(pipeline_job *j, loop_state *ls, bool *idle, bool *end) {
    job_workers *ws = j->workers;
    size_t decided = 0, got = 0;
    loop_turn_result t = TURN_GO_ON;
    pthread_mutex_lock(&ws->mu);
    if (workers_failed(ws, j) || decide_ready(j, ws, ls, &decided))
        t = TURN_RETRY;
    else if (fill_next(j, ws, &got))
        t = TURN_FATAL;
    bool blocked = ws->decide_seq < ws->fill_seq || slot_of(ws, ws->fill_seq)->state != SLOT_FREE;
    if (t == TURN_GO_ON && !decided && !got && blocked) wait_workers(ws); /* on the workers, not the input */
    *idle = !decided && !got && !blocked;
    *end = ws->src_end && ws->decide_seq == ws->fill_seq;
    pthread_mutex_unlock(&ws->mu);
    return t;
}

/* True (mutex held) when every slot is FREE and no worker is busy. */
static bool all_idle(job_workers *ws) {
    for (int i = 0; i < ws->nslots; i++)
        if (ws->slots[i].state != SLOT_FREE) return false;
    for (int i = 0; i < ws->n; i++)
        if (ws->w[i].working || ws->w[i].cmd != CMD_NONE) return false;
    return true;
}

int workers_drain(pipeline_job *j, loop_state *ls) {
    job_workers *ws = j->workers;
    int rc = 0;
    size_t decided = 0;
    pthread_mutex_lock(&ws->mu);
    while (rc == 0) {
        if (workers_failed(ws, j) || decide_ready(j, ws, ls, &decided)) {
            rc = -1;
            break;
        }
        if (ws->decide_seq == ws->fill_seq && all_idle(ws)) break;
        wait_workers(ws);
    }
    pthread_mutex_unlock(&ws->mu);
    return rc;
}

/* Runs cmd on every worker and waits for all; mutex held. The first failure's message. */
static int run_command(pipeline_job *j, job_workers *ws, worker_cmd cmd) {
    for (int i = 0; i < ws->n; i++) {
        ws->w[i].cmd = cmd;
        pthread_cond_signal(&ws->w[i].cond);
    }
    int rc = 0;
    for (int i = 0; i < ws->n; i++) {
        while (ws->w[i].cmd != CMD_NONE) pthread_cond_wait(&ws->main_cond, &ws->mu);
        if (ws->w[i].cmd_rc && rc == 0) {
            snprintf(j->err, sizeof j->err, "%s", ws->w[i].err);
            rc = -1;
        }
    }
    return rc;
}

int workers_close_tables(pipeline_job *j) {
    job_workers *ws = j->workers;
    pthread_mutex_lock(&ws->mu);
    int rc = run_command(j, ws, CMD_CLOSE);
    for (int i = 0; rc == 0 && i < ws->n; i++)
        if (staging_move(j->st, ws->w[i].st)) {
            err_set(j->err, sizeof j->err, "out of memory");
            rc = -1;
        }
    pthread_mutex_unlock(&ws->mu);
    return rc;
}

void workers_abort(pipeline_job *j) {
    job_workers *ws = j->workers;
    if (!ws) return;
    pthread_mutex_lock(&ws->mu);
    ws->paused = true; /* no new step starts; wait for those running */
    for (;;) {
        bool busy = false;
        for (int i = 0; i < ws->n; i++) busy |= ws->w[i].working;
        if (!busy) break;
        pthread_cond_wait(&ws->main_cond, &ws->mu);
    }
    for (int i = 0; i < ws->nslots; i++) ws->slots[i].state = SLOT_FREE;
    ws->decide_seq = ws->fill_seq;
    ws->in_flight = 0;
    ws->src_end = false;
    ws->paused = false;
    for (int i = 0; i < ws->n; i++) ws->w[i].failed = false;
    run_command(j, ws, CMD_ABORT);
    pthread_mutex_unlock(&ws->mu);
}
