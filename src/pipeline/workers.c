/*
 * pipeline/workers.c — `ecom stream --threads N` (N > 1): N threads in all, the job's and N - 1
 * workers. Every record is parsed and its raw row encoded by whichever thread is free; the
 * job's thread alone reads the input and runs the engine, in the input's order. Output is that
 * of the one-thread loop: the same metric rows (the engine sees the same events in the same
 * order, advanced at the same records) and the same raw rows as a set (each thread writes its
 * own files: part-e<epoch>-g<gen>-w<k>-*).
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
 * event: the engine), and what depends on no other record is spread: parsing and the raw
 * tables' Parquet encoding, about 60% of one thread's CPU (docs/benchmarks.md).
 *
 * Why the job's thread is one of the N and helps (measured, docs/benchmarks.md): N workers
 * beside a job thread that only read and decided put three threads on two cores and handed
 * every batch over twice; the sequential part (about 40%) leaves the job's thread idle half the
 * time, and its wake-ups, 256 parsers per batch and a copy per record cost ~40% more CPU per
 * event than one thread. Now a worker takes the oldest batch to write, else the oldest to
 * parse (work_next); the job's thread fills every free slot each turn (file input), and when it
 * would wait, parses the next batch in input order that no worker has taken; it writes only
 * when no slot is free and a worker has been inside one step for LONG_STEP_US (a row group's
 * flush, ~100 ms), into its own tables. So two cores stay busy with two threads, no step waits
 * out a flush, and the job's thread balances the two by taking parses (about 40% + its share
 * of the 20% parsing against the worker's 40% encoding and the rest of the parsing), while
 * the rows go to the worker's files but for the flushes (a write on the job's thread delays
 * every decision behind it, and a second set of files costs dictionaries and column buffers
 * built twice: docs/benchmarks.md, threads helper 2026-12-02). Each thread has one
 * parser; a parsed event's views that point into the parser (unescaped strings, an order's
 * items) are moved to the batch's arena (event_keep), the rest stay views into the batch.
 *
 * The work goes through slots (SLOTS_PER_THREAD per thread), each a batch of up to
 * SLOT_RECORDS records, reused in any order (a slot is numbered seq when filled; one long step,
 * such as a row group's flush inside a write, ~100 ms, holds one slot and not the others):
 *   FREE -> (job thread) filled from the source (records lent by it: a file's block, no copy;
 *           else one copy per run of adjacent records)
 *        -> PARSE (any thread) each record parsed, its event made independent of the parser
 *        -> PARSED -> (job thread, slots in seq order, i.e. input order) job_decide per record:
 *           counters, max_future, the engine; then job_record_done (position, advance every
 *           source advance_records records, as the one-thread loop)
 *        -> WRITE (any thread) the records' rows appended to that thread's raw tables -> FREE.
 * A slot being parsed or written is `taken` by one thread. A commit is a barrier
 * (workers_drain): nothing more is read, every slot read is decided and written, then every
 * thread's tables are closed and the staged renames join the job's (workers_close_tables), so
 * one commit record names every file of the epoch, as with one thread. The closes start early
 * (workers_close_begin: at the end of the input before the engine's flush, else right after
 * the barrier) and run in the workers, the job's context's included, while the job's thread
 * does what only it can (the engine's flush, the metric tables, the checkpoint): measured with
 * perf (docs/benchmarks.md), a worker otherwise slept through those. A failure anywhere
 * aborts the epoch: workers_abort waits for the workers to stop, drops every slot and every
 * thread's uncommitted files; the loop then rolls back and re-reads from the commit
 * (pipeline.c), as with one thread.
 *
 * Contract: one job thread calls workers_* (never a worker); each thread's context (w[0] the
 * job's) owns its storage connection, staging list, ingest and raw tables; the slots'
 * ownership passes between threads under the one mutex. Errors: 0 / -1 with j->err (a
 * thread's message). workers_start's result is freed by workers_stop (also on a failed start).
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/pipeline_internal.h"

/* Why 256: a batch must be large enough that handing it over (a mutex and maybe a wake-up each
 * way) is noise next to parsing and encoding it, and small enough that the ring keeps every
 * thread fed. */
#define SLOT_RECORDS 256
/* Why 4 per thread: the job thread reads ahead while the others parse, so that it has a slot to
 * help with (or to decide) instead of waiting. */
#define SLOTS_PER_THREAD 4
#define POLL_MAX 64
/* A slot step this long is a row group's flush (job_help): 2 ms, ten times an ordinary step. */
#define LONG_STEP_US 2000
/* Live input (Kafka without --drain, a pipe) stops filling a slot this long after its first
 * poll, so that a trickle of records is not held back until a slot is full. */
#define FILL_MAX_US 10000
/* The relocation arena's block size (see event_keep): small, since most events keep nothing
 * (test_stream_threads' escaped input then fills several blocks of a batch, and a large
 * order takes one of its own). */
#define ARENA_BLOCK ((size_t)16 << 10)

/* A record the source lent (source_ops.hold): its val and name are the source's, not in buf. */
#define SLOT_LENT SIZE_MAX

typedef enum { SLOT_FREE = 0, SLOT_PARSE, SLOT_PARSED, SLOT_WRITE } slot_state;

/* A bump allocator of blocks that never move: views taken into it stay valid until the reset. */
typedef struct arena_block {
    struct arena_block *next;
    size_t cap, used;
    char data[];
} arena_block;

typedef struct {
    arena_block *head, *cur;
} slot_arena;

typedef struct {
    slot_state state;
    bool taken;                      /* a thread is parsing or writing it (mutex) */
    uint64_t seq;
    size_t n;
    source_record rec[SLOT_RECORDS]; /* val and name point into buf once filled (or are lent) */
    size_t val_off[SLOT_RECORDS], name_off[SLOT_RECORDS]; /* SLOT_LENT: lent by the source */
    buf_t buf;
    void *hold[SLOT_RECORDS];        /* the source's holds on lent records (one per poll at most) */
    size_t nhold;
    slot_arena arena;                /* parsed views that pointed into a parser (event_keep) */
    lake_line line[SLOT_RECORDS];
    stream_event_keys keys[SLOT_RECORDS]; /* an event's engine keys, computed by its parser */
    bool write[SLOT_RECORDS];        /* job_decide's verdict */
    int64_t now_us;                  /* the job's clock when read (rejected rows' ingest time) */
    char stem[80];                   /* the epoch's file stem (each thread adds -w<k>) */
} work_slot;

typedef enum { CMD_NONE = 0, CMD_CLOSE, CMD_ABORT } worker_cmd;

/* One thread's context: w[0] is the job thread's own (it helps when it would wait), w[1..n)
 * each a worker thread's. */
typedef struct {
    struct job_workers *ws;
    int index;
    pthread_t tid;
    bool started, working;
    int64_t step_since_us;           /* when its current step (a slot's or a close) began (mutex; working) */
    storage *base, *stage;
    staging *st;
    lake_ingest *ingest;             /* the thread's parser, zone cache and counters */
    lake_tz tz;
    lake_table *raw[LAKE_RAW_COUNT];
    worker_cmd cmd;
    int cmd_rc;
    bool closed;                     /* its tables closed this epoch (cmd_rc holds the result) */
    bool failed;
    char err[512];
} worker;

struct job_workers {
    pthread_mutex_t mu;
    pthread_cond_t main_cond;        /* a slot or a command finished */
    pthread_cond_t work_cond;        /* a slot or a command is waiting for a worker */
    bool quit, paused;
    int n, nslots;                   /* n threads in all, the job's included */
    worker *w;
    work_slot *slots;
    work_slot **order;               /* order[seq % nslots]: the slot filled as seq (fill_next) */
    uint64_t fill_seq, decide_seq;   /* next slot to fill, next to decide */
    uint64_t in_flight;              /* records read and not yet decided */
    bool src_end;                    /* the source said end (until the next abort) */
    const pipeline_job *job;         /* schemas and options, read-only for the workers */
};

/* The slot filled as seq, for decide_seq <= seq < fill_seq (at most nslots are in flight, so
 * the entry is not yet reused). */
static work_slot *slot_of(job_workers *ws, uint64_t seq) { return ws->order[seq % (uint64_t)ws->nslots]; }

/* Any slot free to fill (mutex held), NULL: none. Not the oldest by position: a slot is reused
 * as soon as it is free, so one long step (a row group's flush in a write, ~100 ms) holds one
 * slot, not the ring, and the other threads go on with the rest. */
static work_slot *slot_free(job_workers *ws) {
    for (int i = 0; i < ws->nslots; i++)
        if (ws->slots[i].state == SLOT_FREE && !ws->slots[i].taken) return &ws->slots[i];
    return NULL;
}

/* Gives back the source's holds on the slot's records (job's thread: the source is one thread's). */
static void slot_release(input_source *src, work_slot *sl) {
    for (size_t i = 0; i < sl->nhold; i++) src->ops->release(src, sl->hold[i]);
    sl->nhold = 0;
}

/* ---- the relocation arena ---- */

static void arena_reset(slot_arena *a) {
    for (arena_block *b = a->head; b; b = b->next) b->used = 0;
    a->cur = a->head;
}

static void arena_free(slot_arena *a) {
    for (arena_block *b = a->head, *nx; b; b = nx) {
        nx = b->next;
        free(b);
    }
    a->head = a->cur = NULL;
}

static void *arena_alloc(slot_arena *a, size_t n) {
    n = (n + 15) & ~(size_t)15;
    while (a->cur && a->cur->used + n > a->cur->cap && a->cur->next) a->cur = a->cur->next;
    if (!a->cur || a->cur->used + n > a->cur->cap) {
        size_t cap = n > ARENA_BLOCK ? n : ARENA_BLOCK;
        arena_block *b = malloc(sizeof *b + cap);
        if (!b) return NULL;
        b->cap = cap;
        b->used = 0;
        b->next = a->cur ? a->cur->next : NULL;
        if (a->cur) a->cur->next = b;
        else a->head = b;
        a->cur = b;
    }
    void *p = a->cur->data + a->cur->used;
    a->cur->used += n;
    return p;
}

/* A view that is not inside the record [lo, hi) points into the parser (an unescaped string),
 * which its next parse reuses: copied into the slot's arena. 0 or -1 (out of memory). */
static int view_keep(slot_arena *a, strview *v, uintptr_t lo, uintptr_t hi) {
    uintptr_t p = (uintptr_t)v->p;
    if (v->n == 0 || (p >= lo && p + v->n <= hi)) return 0;
    char *d = arena_alloc(a, v->n);
    if (!d) return -1;
    memcpy(d, v->p, v->n);
    v->p = d;
    return 0;
}

/* The event's own views (not its items') that lie outside the record [lo, hi), into the arena.
 * Apart from event_keep so that the compiler builds the array only for an event with a decoded
 * string (inlined, it built it for every event: ~30 instructions each). */
static int event_keep_views(slot_arena *a, event *e, uintptr_t lo, uintptr_t hi) {
    strview *v[] = {&e->event_id,   &e->user_id,  &e->session_id,   &e->store_id, &e->store_type,
                    &e->city,       &e->province, &e->device,       &e->product_id,
                    &e->product_name, &e->category, &e->order_id, &e->currency, &e->payment_method};
    for (size_t i = 0; i < sizeof v / sizeof *v; i++)
        if (view_keep(a, v[i], lo, hi)) return -1;
    return 0;
}

/* Makes a parsed event independent of the parser that produced it, so that one parser per
 * thread serves every record of a slot (a parser per record thrashed the caches: 256 x 16 KiB
 * per slot). Views into the record stay; the rest (unescaped strings, the order's items) move
 * to the slot's arena. decoded: the parser decoded a string (event_parser_decoded() > 0); if
 * not, every view is in the record and the checks are skipped (they were ~200 instructions an
 * event, docs/benchmarks.md): only an order's items move. 0 or -1 (out of memory). */
/* event_keep names every view of an event: a new field in event or event_item (events.h)
 * stops the build here until it is added to the lists in event_keep_views and below. */
_Static_assert(sizeof(event) == 312 && sizeof(event_item) == 64, "event changed: update event_keep's views");
static int event_keep(slot_arena *a, event *e, const char *rec, size_t len, bool decoded) {
    uintptr_t lo = (uintptr_t)rec, hi = lo + len;
    if (decoded && event_keep_views(a, e, lo, hi)) return -1;
    if (!e->n_items) return 0;
    event_item *it = arena_alloc(a, e->n_items * sizeof *it);
    if (!it) return -1;
    memcpy(it, e->items, e->n_items * sizeof *it);
    for (size_t i = 0; decoded && i < e->n_items; i++)
        if (view_keep(a, &it[i].product_id, lo, hi) || view_keep(a, &it[i].product_name, lo, hi) ||
            view_keep(a, &it[i].category, lo, hi))
            return -1;
    e->items = it;
    return 0;
}

/* ---- the work of any thread ---- */

/* How many records ahead the decide and write loops prefetch (slot_prefetch). */
#define PREFETCH_AHEAD 2

/* Asks for record i's parsed event and its bytes (the views point into them) before the loop
 * reaches it. Why: the record was read and parsed on the other core, or long enough ago (a
 * slot waits behind up to nslots others) to have left this core's L2, and the per-record work
 * between two records (the engine's hash probes, a row's appends) is too long and too random
 * for the hardware prefetchers to follow the two streams. all: every line of the record (the
 * write reads each field); else the event and the fields the engine hashes first. */
static inline void slot_prefetch(const work_slot *sl, size_t i, bool all) {
    if (i >= sl->n) return;
    const lake_line *l = &sl->line[i];
    const char *ev = (const char *)&l->ev;
    for (size_t k = 0; k < sizeof l->ev; k += 64) __builtin_prefetch(ev + k);
    const char *p = sl->rec[i].val;
    if (all) {
        for (size_t k = 0; k < sl->rec[i].len; k += 64) __builtin_prefetch(p + k);
        return;
    }
    __builtin_prefetch(p);
    __builtin_prefetch(p + sl->rec[i].len / 2);
}


/* Parses the slot's records and computes each event's engine keys (stream_event_keys_of): the
 * hashes the engine would compute on the job's thread, which must decide the events one by
 * one, are computed here by whichever thread parses. */
static int slot_parse(worker *w, work_slot *sl) {
    const stream_config *ec = &w->ws->job->cfg->engine;
    for (size_t i = 0; i < sl->n; i++) {
        const source_record *r = &sl->rec[i];
        lake_input in = {.p = r->val, .n = r->len, .source = r->name, .position = r->offset, .ts_hint_us = r->ts_us};
        lake_line *l = &sl->line[i];
        lake_ingest_parse(w->ingest, &in, l);
        if (l->kind != LAKE_LINE_EVENT) continue;
        if (event_keep(&sl->arena, &l->ev, r->val, r->len, lake_ingest_decoded(w->ingest) > 0))
            return err_set(w->err, sizeof w->err, "out of memory"), -1;
        stream_event_keys_of(ec, &l->ev, &sl->keys[i]);
    }
    return 0;
}

static lake_table *worker_table(worker *w, lake_raw t, const char *epoch_stem) {
    if (w->raw[t]) return w->raw[t];
    const pipeline_job *j = w->ws->job;
    lake_opts o = {.max_rows = j->cfg->max_rows_per_file, .codec = PQ_ZSTD};
    char stem[96];
    snprintf(stem, sizeof stem, "%s-w%d", epoch_stem, w->index);
    w->raw[t] = lake_table_open(w->stage, lake_raw_name(t), j->raw_schema[t], stem, &o, w->err, sizeof w->err);
    return w->raw[t];
}

static int slot_write(worker *w, work_slot *sl) {
    for (size_t i = 0; i < PREFETCH_AHEAD; i++) slot_prefetch(sl, i, true);
    for (size_t i = 0; i < sl->n; i++) {
        slot_prefetch(sl, i + PREFETCH_AHEAD, true);
        if (!sl->write[i]) continue;
        const lake_line *l = &sl->line[i];
        lake_table *t = NULL;
        if (l->kind != LAKE_LINE_BLANK && !(t = worker_table(w, lake_line_table(l), sl->stem))) return -1;
        if (lake_ingest_write(w->ingest, l, t, sl->now_us, w->err, sizeof w->err)) return -1;
    }
    return 0;
}

/* Closes (commit: rc 0 so far) or aborts the thread's tables; after a failure the rest are
 * aborted. Renames go to the thread's staging list. */
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

/* A worker's next slot step, with the mutex held: the oldest slot to write, else the oldest
 * to parse. Writes first: the job's thread helps with parsing (job_help), which needs no
 * tables of its own, so with two threads the rows have one writer (one set of files and
 * dictionaries, as with one thread) unless the worker falls behind. NULL: none (or paused). */
static work_slot *work_next(job_workers *ws) {
    work_slot *parse = NULL, *write = NULL;
    if (ws->paused) return NULL;
    for (int i = 0; i < ws->nslots; i++) {
        work_slot *sl = &ws->slots[i];
        if (sl->taken) continue;
        if (sl->state == SLOT_PARSE && (!parse || sl->seq < parse->seq)) parse = sl;
        if (sl->state == SLOT_WRITE && (!write || sl->seq < write->seq)) write = sl;
    }
    work_slot *sl = write ? write : parse;
    if (sl) sl->taken = true;
    return sl;
}

/* Runs one slot step (taken by work_next) with the mutex released; reports back under it. */
static void slot_step(job_workers *ws, worker *w, work_slot *sl) {
    w->working = true;
    w->step_since_us = time_mono_us();
    pthread_mutex_unlock(&ws->mu);
    int rc = sl->state == SLOT_PARSE ? slot_parse(w, sl) : slot_write(w, sl);
    pthread_mutex_lock(&ws->mu);
    w->working = false;
    sl->taken = false;
    sl->state = sl->state == SLOT_PARSE ? SLOT_PARSED : SLOT_FREE;
    if (rc) w->failed = true;
    pthread_cond_signal(&ws->main_cond);
}

/* Runs the thread's pending command with the mutex released; reports back under it. */
static void cmd_step(job_workers *ws, worker *w) {
    worker_cmd cmd = w->cmd;
    w->working = true;
    w->step_since_us = time_mono_us(); /* a close is a long step too (worker_stuck) */
    pthread_mutex_unlock(&ws->mu);
    int rc = worker_tables_end(w, cmd == CMD_CLOSE);
    pthread_mutex_lock(&ws->mu);
    w->working = false;
    w->cmd_rc = rc;
    w->closed = cmd == CMD_CLOSE;
    w->cmd = CMD_NONE;
    pthread_cond_signal(&ws->main_cond);
}

/* Whether a write step is left that no thread has taken (mutex held). */
static bool write_left(const job_workers *ws) {
    for (int i = 0; i < ws->nslots; i++)
        if (ws->slots[i].state == SLOT_WRITE && !ws->slots[i].taken) return true;
    return false;
}

/* The context whose command the worker w runs now (mutex held), NULL: none. Its own: an abort
 * at once, a close once no write is left untaken (a write in another thread goes to that
 * thread's tables), so every write of the epoch is in before its files close. Then the job's
 * context (workers_close_begin hands its close over too): once no write is left at all, so
 * the job's thread, busy with the engine's flush and the metric tables, does not wait for it. */
static worker *cmd_due(job_workers *ws, worker *w) {
    if (w->cmd == CMD_ABORT || (w->cmd == CMD_CLOSE && !write_left(ws))) return w;
    worker *job = &ws->w[0];
    if (w->cmd == CMD_NONE && job->cmd == CMD_CLOSE && !job->working && !write_left(ws)) return job;
    return NULL;
}

static void *worker_main(void *arg) {
    worker *w = arg;
    job_workers *ws = w->ws;
    pthread_mutex_lock(&ws->mu);
    while (!ws->quit) {
        worker *ctx = cmd_due(ws, w);
        if (ctx) {
            cmd_step(ws, ctx);
            continue;
        }
        work_slot *sl = work_next(ws);
        if (sl)
            slot_step(ws, w, sl);
        else
            pthread_cond_wait(&ws->work_cond, &ws->mu);
    }
    pthread_mutex_unlock(&ws->mu);
    return NULL;
}

/* At the commit barrier every step must be done before the job's thread goes on: it takes
 * any (mutex held). False: none untaken. */
static bool job_help_any(job_workers *ws) {
    work_slot *sl = work_next(ws);
    if (!sl) return false;
    slot_step(ws, &ws->w[0], sl);
    return true;
}

/* Whether every worker is inside a step or a command (mutex held). Why the barrier asks: a
 * write the job's thread takes goes to its own set of files. At a live trickle the epoch's
 * last slot is written at the barrier, and taking it there, while the worker was waking up
 * for it, gave every epoch two files per raw table instead of one (measured: 99 views files
 * against 51 for one thread, 3,000 piped events at 500 ms epochs). A busy worker is another
 * matter: a backfill's barrier then goes faster with the job's thread writing beside it. */
static bool workers_all_busy(const job_workers *ws) {
    for (int i = 1; i < ws->n; i++)
        if (!ws->w[i].working) return false;
    return true;
}

/* Whether a worker has been inside one slot step for LONG_STEP_US or more (mutex held): a row
 * group's flush inside a write (~50-100 ms), not a step's ordinary ~0.1-0.3 ms. */
static bool worker_stuck(const job_workers *ws) {
    int64_t now = time_mono_us();
    for (int i = 1; i < ws->n; i++)
        if (ws->w[i].working && now - ws->w[i].step_since_us >= LONG_STEP_US) return true;
    return false;
}

/* The job thread, instead of waiting (mutex held): the step it waits on, with its own
 * context: parsing the slot it decides next when no worker has taken it, else the next slot in
 * input order still to parse (it decides that one soon), else, when no slot is free to fill
 * and a worker is inside a long step (a row group's flush), the oldest step left (work_next: a
 * write first, into the job's own tables). Not a write otherwise: a write on the sequential
 * thread delays every decision behind it, and rows in a second set of files cost more than
 * rows in the worker's (dictionaries and column buffers built twice); the worker frees a slot
 * within a step. With a free slot it reads on instead: taking parallel work then would put it
 * on the sequential thread while a worker is about to take it. False: none (then wait). */
static bool job_help(job_workers *ws) {
    if (ws->paused) return false;
    for (uint64_t q = ws->decide_seq; q < ws->fill_seq; q++) {
        work_slot *sl = slot_of(ws, q);
        if (sl->taken || sl->state != SLOT_PARSE) continue;
        if (q > ws->decide_seq && slot_free(ws)) return false;
        sl->taken = true;
        slot_step(ws, &ws->w[0], sl);
        return true;
    }
    return !slot_free(ws) && worker_stuck(ws) && job_help_any(ws);
}

/* ---- setup ---- */

static int worker_open(pipeline_job *j, worker *w) {
    const pipeline_config *c = j->cfg;
    if (!(w->base = storage_open_opts(c->out_root, c->storage, j->err, sizeof j->err))) return -1;
    /* Test-only (faults.c): each thread's storage fails the same chosen calls of its own. */
    const char *faults = getenv("ECOM_TEST_STORAGE_FAULTS");
    if (faults && *faults && !(w->base = faults_wrap(w->base, faults, j->err, sizeof j->err))) return -1;
    if (!(w->st = staging_new(w->base, &w->stage, j->err, sizeof j->err))) return -1;
    w->tz = j->tz;
    if (!(w->ingest = lake_ingest_new(&w->tz))) return err_set(j->err, sizeof j->err, "out of memory"), -1;
    return 0;
}

int workers_start(pipeline_job *j, int n) {
    job_workers *ws = calloc(1, sizeof *ws);
    if (!ws) return err_set(j->err, sizeof j->err, "out of memory"), -1;
    j->workers = ws;
    ws->job = j;
    ws->n = n;
    ws->nslots = n * SLOTS_PER_THREAD;
    pthread_mutex_init(&ws->mu, NULL);
    pthread_cond_init(&ws->main_cond, NULL);
    pthread_cond_init(&ws->work_cond, NULL);
    if (!(ws->w = calloc((size_t)n, sizeof *ws->w)) || !(ws->slots = calloc((size_t)ws->nslots, sizeof *ws->slots)) ||
        !(ws->order = calloc((size_t)ws->nslots, sizeof *ws->order)))
        return err_set(j->err, sizeof j->err, "out of memory"), -1;
    for (int i = 0; i < n; i++) {
        worker *w = &ws->w[i];
        w->ws = ws;
        w->index = i;
        if (worker_open(j, w)) return -1;
        if (i == 0) continue; /* the job thread's own */
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
    pthread_cond_broadcast(&ws->work_cond);
    pthread_mutex_unlock(&ws->mu);
    for (int i = 0; ws->w && i < ws->n; i++) {
        worker *w = &ws->w[i];
        if (w->started) pthread_join(w->tid, NULL);
        worker_tables_end(w, false);
        lake_ingest_free(w->ingest);
        staging_free(w->st);
        storage_close(w->base);
    }
    for (int i = 0; ws->slots && i < ws->nslots; i++) {
        slot_release(&j->src, &ws->slots[i]); /* the source closes after the workers */
        buf_free(&ws->slots[i].buf);
        arena_free(&ws->slots[i].arena);
    }
    free(ws->slots);
    free(ws->order);
    free(ws->w);
    pthread_cond_destroy(&ws->work_cond);
    pthread_cond_destroy(&ws->main_cond);
    pthread_mutex_destroy(&ws->mu);
    free(ws);
    j->workers = NULL;
}

/* ---- the job side ---- */

/* A thread's failure, with the mutex held: its message into j->err. */
static bool workers_failed(job_workers *ws, pipeline_job *j) {
    for (int i = 0; i < ws->n; i++)
        if (ws->w[i].failed) {
            snprintf(j->err, sizeof j->err, "%s", ws->w[i].err);
            return true;
        }
    return false;
}

/* The record's source name into the slot: a run of records of one name stores it once (by
 * content: the Kafka source rewrites one buffer for every message). */
static int slot_add_name(work_slot *sl, size_t i, const char *name) {
    if (i > 0 && sl->name_off[i - 1] != SLOT_LENT && !strcmp(sl->buf.data + sl->name_off[i - 1], name)) {
        sl->name_off[i] = sl->name_off[i - 1];
        return 0;
    }
    sl->name_off[i] = sl->buf.len;
    return buf_append(&sl->buf, name, strlen(name) + 1);
}

/* One poll's records into the slot: lent by the source when it can (a file's block: no copy;
 * consecutive polls from one block keep one hold), else copied (the source's buffers are
 * reused by its next poll). Copied records that lie one after the other in one buffer are
 * copied in one piece: one memcpy per run instead of one per record. */
static int slot_add(input_source *src, work_slot *sl, const source_record *rec, size_t got) {
    void *h = got && src->ops->hold ? src->ops->hold(src) : NULL;
    if (h) {
        if (sl->nhold && sl->hold[sl->nhold - 1] == h)
            src->ops->release(src, h);
        else
            sl->hold[sl->nhold++] = h;
        for (size_t i = 0; i < got; i++, sl->n++) {
            sl->rec[sl->n] = rec[i];
            sl->val_off[sl->n] = sl->name_off[sl->n] = SLOT_LENT;
        }
        return 0;
    }
    for (size_t i = 0; i < got;) {
        uintptr_t lo = (uintptr_t)rec[i].val, hi = lo + rec[i].len;
        size_t k = i + 1;
        while (k < got && (uintptr_t)rec[k].val >= hi && (uintptr_t)rec[k].val - hi <= 2) {
            hi = (uintptr_t)rec[k].val + rec[k].len;
            k++;
        }
        size_t base = sl->buf.len;
        if (buf_append(&sl->buf, rec[i].val, (size_t)(hi - lo))) return -1;
        for (; i < k; i++) {
            size_t at = sl->n++;
            sl->rec[at] = rec[i];
            sl->val_off[at] = base + (size_t)((uintptr_t)rec[i].val - lo);
            if (slot_add_name(sl, at, rec[i].name)) return -1;
        }
    }
    return 0;
}

/* Fills a FREE slot from the source: up to SLOT_RECORDS records, fewer when the source has
 * nothing more right now (a poll returned none, or would block: a pipe's next read waits for
 * its writer, so the records read so far go on), live input filled for FILL_MAX_US, the input
 * ends, or --max-events is reached.
 * 0, or -1 (fatal, j->err). */
static int slot_fill(pipeline_job *j, job_workers *ws, work_slot *sl) {
    slot_release(&j->src, sl);
    sl->n = 0;
    buf_reset(&sl->buf);
    arena_reset(&sl->arena);
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
        if (slot_add(&j->src, sl, rec, got)) return err_set(j->err, sizeof j->err, "out of memory"), -1;
        if (pr == 1) ws->src_end = true;
        if (got == 0) break;
    }
    for (size_t i = 0; i < sl->n; i++) {
        if (sl->val_off[i] == SLOT_LENT) continue;
        sl->rec[i].val = sl->buf.data + sl->val_off[i];
        sl->rec[i].name = sl->buf.data + sl->name_off[i];
    }
    sl->now_us = j->now_us;
    return 0;
}

/* How many events ahead slot_decide asks the engine to load the table slots an event will
 * probe (stream_engine_prefetch). Measured (perf, the decide path's samples, 1M events, under
 * load): without it ~2x those of 6; 10, and a second stage 3 ahead that also loaded the pair a
 * slot points to, no better than 6. */
#define KEYS_AHEAD 6

/* The engine's prefetch for record i of the slot, if it is an event. */
static inline void slot_prefetch_keys(const pipeline_job *j, const work_slot *sl, size_t i) {
    if (i < sl->n && sl->line[i].kind == LAKE_LINE_EVENT)
        stream_engine_prefetch(j->engine, sl->rec[i].part, &sl->keys[i]);
}

/* Decides a PARSED slot's records in order (the job thread owns it meanwhile). Why the
 * prefetches: the engine's dedup and pair probes are cache misses in tables of MiBs, and with
 * the keys of the whole slot computed (slot_parse) they are started events ahead, not at the
 * event, where only a few hundred instructions overlapped with them. */
static int slot_decide(pipeline_job *j, loop_state *ls, work_slot *sl) {
    job_epoch_stem(j, -1, sl->stem, sizeof sl->stem);
    for (size_t i = 0; i < PREFETCH_AHEAD; i++) slot_prefetch(sl, i, false);
    for (size_t i = 0; i < KEYS_AHEAD; i++) slot_prefetch_keys(j, sl, i);
    for (size_t i = 0; i < sl->n; i++) {
        slot_prefetch(sl, i + PREFETCH_AHEAD, false);
        slot_prefetch_keys(j, sl, i + KEYS_AHEAD);
        const source_record *r = &sl->rec[i];
        lake_line *l = &sl->line[i];
        const stream_event_keys *keys = l->kind == LAKE_LINE_EVENT ? &sl->keys[i] : NULL;
        sl->write[i] = job_decide(j, r->part, r->stream, r->offset, l, keys) == 1;
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
        pthread_cond_signal(&ws->work_cond);
    }
    return 0;
}

/* Fills a free slot, if any, as the next seq; mutex held (released while reading). *got:
 * records read. A read that would block (a pipe whose writer pauses) waits until every record
 * read before it is decided: those must not wait for the writer's next line. */
static int fill_next(pipeline_job *j, job_workers *ws, size_t *got) {
    work_slot *sl = slot_free(ws);
    const source_ops *o = j->src.ops;
    *got = 0;
    if (!sl || ws->src_end) return 0;
    if (o->ready && ws->decide_seq < ws->fill_seq && !o->ready(&j->src)) return 0;
    pthread_mutex_unlock(&ws->mu);
    int rc = slot_fill(j, ws, sl);
    pthread_mutex_lock(&ws->mu);
    if (rc || sl->n == 0) return rc;
    *got = sl->n;
    sl->seq = ws->fill_seq;
    ws->order[ws->fill_seq++ % (uint64_t)ws->nslots] = sl;
    ws->in_flight += sl->n;
    sl->state = SLOT_PARSE;
    pthread_cond_signal(&ws->work_cond);
    return 0;
}

/* Fills every free slot (mutex held; *got: records read), one for live input. Why all: a
 * worker that finds nothing to parse sleeps until the job's thread next fills one, and the
 * job's thread, busy deciding, then parses the slot itself (measured: the worker waited
 * 1.5-3x as often with one fill a turn, docs/benchmarks.md). Live input fills one: a slot
 * may take FILL_MAX_US to fill, and the records read must not wait for the next slots. */
static int fill_free(pipeline_job *j, job_workers *ws, size_t *got) {
    size_t g = 0;
    *got = 0;
    do {
        if (fill_next(j, ws, &g)) return -1;
        *got += g;
    } while (g && !j->live);
    return 0;
}

/* Waits (mutex held) for a worker to finish something, at most 20 ms: the loop's clocks
 * (commit interval, status) keep turning while the workers are busy. Less while a worker's
 * step may be turning long (job_help then writes beside it instead of waiting it out). */
static void wait_workers(job_workers *ws) {
    long wait_ns = 20 * 1000000L;
    int64_t now = time_mono_us();
    for (int i = 1; i < ws->n; i++) {
        int64_t left = ws->w[i].step_since_us + LONG_STEP_US - now;
        if (ws->w[i].working && left > 0 && left * 1000 < wait_ns) wait_ns = (long)left * 1000 + 1000;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += wait_ns;
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
    else if (fill_free(j, ws, &got))
        t = TURN_FATAL;
    bool blocked = ws->decide_seq < ws->fill_seq || !slot_free(ws);
    /* blocked on the threads, not the input: help them, else wait for them */
    if (t == TURN_GO_ON && !decided && !got && blocked && !job_help(ws)) wait_workers(ws);
    *idle = !decided && !got && !blocked;
    *end = ws->src_end && ws->decide_seq == ws->fill_seq;
    pthread_mutex_unlock(&ws->mu);
    return t;
}

/* True (mutex held) when every slot is FREE and none is being worked on (a slot's step holds
 * it taken until it is done). A worker may still be closing its tables (workers_close_begin). */
static bool all_idle(job_workers *ws) {
    for (int i = 0; i < ws->nslots; i++)
        if (ws->slots[i].state != SLOT_FREE || ws->slots[i].taken) return false;
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
        if (!job_help(ws) && !(workers_all_busy(ws) && job_help_any(ws))) wait_workers(ws);
    }
    pthread_mutex_unlock(&ws->mu);
    return rc;
}

/* Runs cmd on every thread's context (the job's own here, the others in their threads) and
 * waits for all; mutex held. A close already run this epoch (workers_close_begin) is not run
 * again: its result stands. The first failure's message. */
static int run_command(pipeline_job *j, job_workers *ws, worker_cmd cmd) {
    for (int i = 0; i < ws->n; i++)
        if (cmd != CMD_CLOSE || (!ws->w[i].closed && ws->w[i].cmd == CMD_NONE)) ws->w[i].cmd = cmd;
    pthread_cond_broadcast(&ws->work_cond);
    if (ws->w[0].cmd != CMD_NONE && !ws->w[0].working) cmd_step(ws, &ws->w[0]); /* else a worker has it */
    int rc = 0;
    for (int i = 0; i < ws->n; i++) {
        while (ws->w[i].cmd != CMD_NONE) pthread_cond_wait(&ws->main_cond, &ws->mu);
        if (ws->w[i].cmd_rc && rc == 0) {
            snprintf(j->err, sizeof j->err, "%s", ws->w[i].err);
            rc = -1;
        }
        ws->w[i].closed = false;
    }
    return rc;
}

void workers_close_begin(pipeline_job *j) {
    job_workers *ws = j->workers;
    pthread_mutex_lock(&ws->mu);
    for (int i = 0; i < ws->n; i++) /* the job's context too: the first worker free closes it */
        if (ws->w[i].cmd == CMD_NONE && !ws->w[i].closed) ws->w[i].cmd = CMD_CLOSE;
    pthread_cond_broadcast(&ws->work_cond);
    pthread_mutex_unlock(&ws->mu);
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
    for (int i = 0; i < ws->nslots; i++) {
        ws->slots[i].state = SLOT_FREE;
        ws->slots[i].taken = false;
        slot_release(&j->src, &ws->slots[i]); /* before the seek, which may reuse the blocks */
    }
    ws->decide_seq = ws->fill_seq;
    ws->in_flight = 0;
    ws->src_end = false;
    ws->paused = false;
    for (int i = 0; i < ws->n; i++) ws->w[i].failed = false;
    run_command(j, ws, CMD_ABORT);
    pthread_mutex_unlock(&ws->mu);
}
