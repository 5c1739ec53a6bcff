/*
 * pipeline_internal.h — shared between the pipeline's files (not for other modules).
 */
#ifndef ECOM_PIPELINE_INTERNAL_H
#define ECOM_PIPELINE_INTERNAL_H

#include <pthread.h>
#include <stdio.h>

#include "events/events.h"
#include "kafka/kafka.h"
#include "lake/lake.h"
#include "parquet/parquet.h"
#include "pipeline/pipeline.h"
#include "pipeline/source.h"
#include "storage/storage.h"
#include "stream/stream.h"
#include "util/util.h"

/* ---- metric tables (tables.c): every schema and row writer derived from the catalog ----
 * A table index t < METRIC_ID_COUNT is metric t's table (src/metrics/metrics.h); t >=
 * METRIC_ID_COUNT is a ranked table: the catalog's ranks in catalog order (top_products,
 * top_products_by_revenue), written in the single layout only. Columns: window_start,
 * window_end, then the catalog's columns (money DECIMAL(18,2)), `correction` BOOLEAN, and
 * `partition` INT32 in the scale-out layout; a ranked table: window_start, window_end, `rank`
 * INT32, then its metric's columns. */
#define METRIC_TABLE_MAX (METRIC_ID_COUNT * (1 + METRIC_MAX_RANKS))
/* Number of table indexes in use (metrics + ranks). */
int metric_table_count(void);
const char *metric_table_name(int t);
/* Schema of table t (scale_out: metric tables get `partition`; ranked tables are the same in
 * both layouts, written only in the single one). Caller frees with pq_schema_free. */
pq_schema *metric_table_schema(int t, bool scale_out, char *err, size_t errlen);

/* ---- staging storage: a wrapper whose rename() is recorded, not done ---- */
typedef struct {
    char *from, *to;
} rename_pair;

typedef struct staging staging;
/* Wraps base (borrowed). *out is the storage to give the lake writers. */
staging *staging_new(storage *base, storage **out, char *err, size_t errlen);
void staging_free(staging *st);   /* also closes the wrapper storage */
size_t staging_count(const staging *st);
const rename_pair *staging_renames(const staging *st);
void staging_clear(staging *st);
/* Moves the recorded renames whose file name (after the directory) starts with "." + prefix
 * into a new array (*out, *n; the caller frees it with rename_pairs_free). 0 or -1 (OOM). */
int staging_take(staging *st, const char *prefix, rename_pair **out, size_t *n);
void rename_pairs_free(rename_pair *v, size_t n);
/* Moves every rename recorded in src to the end of dst (src is left empty). 0 or -1 (OOM: the
 * renames not moved stay in src). */
int staging_move(staging *dst, staging *src);

/* faults_wrap (test-only storage fault injection): in pipeline.h (ecom load uses it too). */

/* ---- commit records ---- */
#define COMMIT_DIR "_ecom/commits"
#define STATE_DIR "_ecom/state"
#define PARTS_DIR "_ecom/parts"     /* scale-out: PARTS_DIR/p<NNNN>/<seq>.commit and .ckpt */
#define LAYOUT_PATH "_ecom/layout"  /* scale-out: written at first start (see pipeline.h) */

enum { COMMIT_KAFKA = 0, COMMIT_FILE = 1, COMMIT_PARTITION = 2 };

/* Cumulative outcome counters up to a record's offsets (so that a restart or a new owner of a
 * partition continues the counts instead of starting from 0). records is kept separately;
 * every record is in exactly one of ok (by type), duplicates, late, rejected, blank. */
typedef struct {
    uint64_t ok[EV_TYPE_COUNT], duplicates, late, rejected;
    uint64_t blank;
} commit_counts;

typedef struct {
    int64_t epoch;                 /* -1: no record (fresh start); partition records: the seq */
    int kind;                      /* COMMIT_KAFKA, COMMIT_FILE, or COMMIT_PARTITION (one
                                      partition's record in the scale-out layout) */
    int nparts;
    int part;                      /* COMMIT_PARTITION: the partition (0..nparts-1), else -1 */
    int64_t (*offsets)[KAFKA_NTOPICS]; /* kafka: next offset per partition per topic; -1 unknown
                                      (COMMIT_PARTITION: only row `part` is used) */
    int64_t file_offset;           /* file: byte offset of the next unread line */
    int64_t generation;            /* the writer's lease generation (0: a record from before leases) */
    uint64_t records;              /* input records consumed up to the offsets */
    commit_counts counts;          /* outcome counters up to the offsets */
    char **ckpt;                   /* per partition: checkpoint path (or NULL): the full
                                      checkpoint of its chain (ckpt.c) */
    char **deltas;                 /* the chain's delta files after those, oldest first; each
                                      holds one delta piece per partition with a ckpt */
    size_t n_deltas;
    rename_pair *renames;
    size_t n_renames;
} commit_record;

void commit_record_free(commit_record *r);
/* Encodes r as the text of a commit record (see commit.c). */
int commit_record_encode(const commit_record *r, buf_t *out);
/* Decodes; -1 with err on any malformed or corrupt byte. */
int commit_record_decode(const char *p, size_t n, commit_record *r, char *err, size_t errlen);
/* Returned (instead of -1) when what ROOT holds refuses the job: a corrupt record, another
 * layout or input. Retrying cannot help, unlike after a storage error (-1). */
#define COMMIT_REFUSED LEASE_HELD /* one value: a held lease refuses a job like a foreign ROOT */
/* Reads the newest record under ROOT (r->epoch = -1 if none; COMMIT_REFUSED if corrupt). */
int commit_log_read_latest(storage *s, commit_record *r, char *err, size_t errlen);
/* "_ecom/commits/<20-digit seq>.commit" (part < 0), or partition part's record seq. */
void commit_record_path(int part, int64_t seq, char *out, size_t n);
/* The commit point of lineage part (< 0: the single layout's): writes r as record r->epoch
 * only if no record has that number (storage_put_if_absent: exclusive and whole), so that of
 * two writers of one number, a zombie that passed its lease check and the writer that took the
 * lease over, exactly one commits; then, if a higher number exists (the successor committed
 * past it and compacted it away), the record is withdrawn. 0 written (or already there with
 * these very bytes: an earlier attempt), LEASE_FENCED when another writer's record has the
 * number or a higher one (err names it), -1 on a storage error. */
int commit_record_put(storage *s, int part, const commit_record *r, char *err, size_t errlen);
/* Claims lineage part for lease generation gen, right after taking the lease and reading the
 * latest record into r (epoch -1: none), before anything else is written or swept: writes
 * record r->epoch + 1 as a copy of r under gen (same offsets, counters, checkpoint chain and
 * renames; a first record of kind/nparts when there is none), so that a zombie of an older
 * generation, stuck at that number, can never commit. r becomes the claim (the state to
 * recover from; the next commit is r->epoch + 1). A latest record of gen is the claim already.
 * If a zombie commits the number first, its record is read and the next number claimed. 0,
 * LEASE_FENCED (a newer generation's record is there), -1 on a storage error. */
int commit_log_claim(storage *s, int part, commit_record *r, int kind, int nparts, int64_t gen, char *err,
                     size_t errlen);
/* Redoes the record's renames (idempotent) and deletes hidden part files no record names. */
int commit_log_recover_files(storage *s, const commit_record *r, char *err, size_t errlen);
/* Deletes records and checkpoints of epochs before keep_epoch. */
int commit_log_compact(storage *s, int64_t keep_epoch, char *err, size_t errlen);
/* The same, but keeps the checkpoint files r names (its chain's full and deltas may be older
 * than r's epoch). part < 0: the single layout's log; else partition part's lineage. */
int commit_log_compact_keep(storage *s, int part, const commit_record *r, char *err, size_t errlen);

/* ---- scale-out layout: one commit lineage per partition ---- */
/* "_ecom/parts/p0003" */
void part_dir(int part, char *out, size_t n);
/* Reads partition part's newest record (r->epoch = -1 if none; r->part checked). */
int part_log_read_latest(storage *s, int part, commit_record *r, char *err, size_t errlen);
/* Redoes r's renames (idempotent), then deletes the hidden data files of the partitions in
 * parts[0..n) (their uncommitted debris; files of other partitions are never touched). */
int part_log_recover_files(storage *s, const commit_record *r, char *err, size_t errlen);
int part_log_sweep(storage *s, const int *parts, int n, char *err, size_t errlen);
/* Deletes partition part's records and checkpoints older than keep_seq. */
int part_log_compact(storage *s, int part, int64_t keep_seq, char *err, size_t errlen);
/* Checks (and at first start records) the layout of ROOT: scale_out or the single-instance
 * commit log. COMMIT_REFUSED with a clear error when ROOT holds the other layout (or another
 * partition count, or a corrupt layout file); -1 on a storage error. */
int layout_check(storage *s, bool scale_out, int nparts, char *err, size_t errlen);

/* ---- the writer lease (lease.c): in pipeline.h (ecom load takes it too) ---- */

/* ---- checkpoint chains (ckpt.c): a full checkpoint per partition, then delta files ----
 * One chain per commit lineage: the single layout's (every partition; one delta file per
 * epoch holds every partition's delta piece) or a scale-out partition's. A chain is what the
 * lineage's last committed record names; the next record names it plus one delta file, or a
 * new full checkpoint when the deltas since the full have grown as large as a full would be
 * now (so recovery reads at most about twice the state; ckpt.c) or cfg->ckpt_max_deltas of
 * them (default CKPT_MAX_DELTAS). */
#define CKPT_MAX_DELTAS 64
typedef struct {
    int nfull;                     /* partitions covered: nparts, or 1 (scale-out: its own) */
    char **full;                   /* [nfull] full checkpoint path of each (NULL: none yet) */
    char **deltas;
    size_t n_deltas;
    uint64_t full_bytes, delta_bytes;
    uint64_t full_weight;          /* the state's weight when the fulls were written
                                      (stream_engine_checkpoint_weight); after a restore,
                                      full_bytes (one byte per unit of weight) */
} ckpt_chain;
/* ---- the job ---- */
/* Whether the Kafka broker can be asked (file input: never asked). */
typedef enum { JOB_BROKER_UNKNOWN = 0, JOB_BROKER_UP, JOB_BROKER_DOWN } job_broker_state;

typedef struct pipeline_job pipeline_job;

struct status_server;

/* Input records and outcome counters of one partition (scale-out) or of the job. */
typedef struct {
    uint64_t records;
    commit_counts c;
} part_counts;

struct pipeline_job {
    const pipeline_config *cfg;
    storage *base;                 /* ROOT */
    storage *stage;                /* staging wrapper over base */
    staging *st;
    stream_engine *engine;
    lake_ingest *ingest;           /* the one ingest path (lake.h): parser + outcome writes */
    lake_tz tz;                    /* the zone of every table's date= (cfg->time_zone) */
    pq_schema *raw_schema[LAKE_RAW_COUNT], *metric_schema[METRIC_TABLE_MAX];
    char funnel_horizon[24];       /* stream_config_funnel_horizon_us, in decimal */
    const char *metric_kv[3];      /* every metric file's footer: PIPELINE_KV_FUNNEL_HORIZON, it */
    lake_table *raw[LAKE_RAW_COUNT], *metric[METRIC_TABLE_MAX];
    uint64_t metric_rows[METRIC_TABLE_MAX];
    struct metric_sink_state *sink_state; /* tables.c: rows buffered for the ranked tables */
    int64_t epoch;                 /* the epoch being written (last committed + 1) */
    int nparts;
    /* input (source.h): the position of what has been processed, stored in commit records */
    input_source src;
    int64_t (*offsets)[KAFKA_NTOPICS]; /* next offset per partition per stream (file: lines read) */
    int64_t (*high)[KAFKA_NTOPICS];  /* broker high watermarks, for lag */
    int64_t in_offset;             /* file: byte offset of the next unread line */
    bool assigned_ready;           /* Kafka: the group has assigned the partitions */
    /* health (/status): whether the broker answered the last probe (source_kafka.c refresh_lag),
     * and when the job last made progress (read a record, or was caught up with a reachable
     * broker): so that "lag 0" never hides an outage */
    job_broker_state broker;
    int64_t last_progress_us;      /* wall clock; 0 = never */
    uint64_t progress_records;     /* stats.records when last_progress_us was last moved */
    pipeline_stats stats;          /* scale-out: counters = sums over the owned partitions */
    /* scale-out layout (cfg->scale_out), all [nparts] */
    bool *owned;                   /* partitions this instance owns now */
    int64_t *seq;                  /* the seq of the partition's next record */
    part_counts *pc;               /* cumulative counters of each owned partition */
    lake_table *(*praw)[LAKE_RAW_COUNT], *(*pmetric)[METRIC_TABLE_MAX];
    bool take_failed;              /* a partition could not be taken over: roll back and rejoin */
    bool closing;                  /* leaving the group at exit: nothing more to commit */
    bool fenced;                   /* a lease was taken over: stop writing, exit 1 (j->err) */
    writer_lease lease;            /* single layout: ROOT's lease */
    writer_lease *part_lease;      /* scale-out [nparts]: each owned partition's lease */
    int64_t started_us;
    int64_t fresh_start_us;        /* wall clock at open: where a fresh input began (its mark) */
    int64_t stop_wall_us;          /* wall clock when a stop was first seen (0: none): where a
                                      fresh input's data ends (its .stop mark, pipeline.h) */
    int64_t now_us;                /* wall clock, refreshed by the input loops (not per row) */
    bool live;                     /* max_future is measured from the clock only (Kafka without
                                      --drain, stdin, a FIFO), not also from the watermark */
    char err[512];
    struct status_server *status;
    struct job_workers *workers;   /* --threads N > 1 (workers.c); NULL: the one-thread loop */
    ckpt_chain *chains;            /* [1] single layout, [nparts] scale-out: each lineage's
                                      committed checkpoint chain (ckpt.c) */
    buf_t ckpt_buf;                /* ckpt.c's encoding buffer, kept between delta commits
                                      (a fresh one faulted its pages in at each); released
                                      after a full, so it holds an epoch's delta, not a state */
};

/* ---- checkpoint chains (ckpt.c), continued ---- */
void ckpt_chain_free(ckpt_chain *c);
/* Writes lineage part's checkpoints for record r (r->part >= 0: that partition's; else every
 * assigned one's) as the next piece of chain cur: fills r->ckpt and r->deltas (r owns them)
 * and *next, the chain r names (the caller keeps it once r is committed). 0 or -1 with j->err. */
int ckpt_write(pipeline_job *j, commit_record *r, const ckpt_chain *cur, ckpt_chain *next);
/* Restores the engine's partitions named by r (part >= 0: only that one) from r's chain and
 * fills *out with it. 0, -1 with j->err (storage: worth retrying), or COMMIT_REFUSED when a
 * piece is corrupt, out of place or absent from its delta file ("corrupt checkpoint ..." naming
 * the partition and the file): retrying cannot help. */
int ckpt_restore(pipeline_job *j, const commit_record *r, int part, int64_t now_us, ckpt_chain *out);

/* Index 0..KAFKA_NTOPICS-1 of a topic name in cfg->topics (views, cart, orders), or -1. */
int job_topic_index(const pipeline_job *j, const char *topic);
/* True when the job reads a file or stdin (one stream), false for Kafka. */
static inline bool job_file_input(const pipeline_job *j) { return j->src.ops == &source_file_ops; }
/* Commits one commit lineage (commit steps in pipeline.h): part < 0 is the single layout's
 * epoch (every table, every partition's checkpoint, _ecom/commits/<epoch>.commit); part >= 0 is
 * that partition's seq in the scale-out layout (its tables and checkpoint,
 * _ecom/parts/p<NNNN>/<seq>.commit), after which its seq advances. On failure before the record
 * nothing of it is visible; after the record, recovery (or the partition's next owner) finishes
 * the renames. 0 or -1 with j->err. */
int job_commit_lineage(pipeline_job *j, int part);
/* The metric table m of the current epoch (scale-out: of partition part's current seq), opened
 * on first use; NULL with j->err. */
lake_table *job_metric_table(pipeline_job *j, int t, int part);
int job_make_engine(pipeline_job *j);
/* Adds (sign 1) or removes (sign -1) a partition's counters to/from the job's. */
void job_stats_add(pipeline_job *j, const part_counts *pc, int sign);
/* Closes partition part's tables into the staging list (scale-out); aborts them on failure. */
int job_close_part_tables(pipeline_job *j, int part);
void job_abort_part_tables(pipeline_job *j, int part);

/* The loop's clocks and retry state between turns (pipeline.c). */
typedef struct loop_state {
    int64_t epoch_start, last_adv, last_status, last_lag, stop_seen;
    int64_t backoff, fail_since;
    int64_t final_k;           /* window index the watermark had reached at the last commit (job_final_k) */
    int64_t last_pub;          /* when the status was last published */
    uint64_t last_records, since_adv, pub_records;
    bool caught_up;
} loop_state;

typedef enum { TURN_GO_ON, TURN_DONE, TURN_RETRY, TURN_FATAL } loop_turn_result;

/* The file stem of lineage part's tables in the current epoch (pipeline.c). */
void job_epoch_stem(const pipeline_job *j, int part, char *out, size_t n);
/* Counts a parsed record read at (part, offset) of stream src and runs it through the engine
 * (pipeline.c, in input order): 1 when l is to be written to its raw table (it may have been
 * turned into a rejected line), 0 when not (a duplicate). keys: an event's keys computed where
 * it was parsed (stream_event_keys_of with j->cfg->engine; workers.c), NULL: the engine
 * computes them. */
int job_decide(pipeline_job *j, int part, int src, int64_t offset, lake_line *l, const stream_event_keys *keys);
/* After a record was decided: moves the job's position past it and advances the engine every
 * source advance_records records. 0 or -1 (j->err). */
int job_record_done(pipeline_job *j, loop_state *ls, const source_record *r);

/* ---- worker threads (workers.c: --threads N > 1; the contract is in its header) ---- */
typedef struct job_workers job_workers;
/* Starts n - 1 worker threads beside the job's (n threads in all) into j->workers; -1 with j->err (then call workers_stop). */
int workers_start(pipeline_job *j, int n);
/* Stops and frees them (their uncommitted tables are aborted). NULL-safe. */
void workers_stop(pipeline_job *j);
/* The threaded loop_read: decides what the workers parsed, reads the next slot. *idle: no
 * record came; *end: the input ended and every record read is decided. */
loop_turn_result workers_pump(pipeline_job *j, loop_state *ls, bool *idle, bool *end);
/* The commit barrier: reads nothing more; decides and writes every record read. 0 or -1. */
int workers_drain(pipeline_job *j, loop_state *ls);
/* Every record read is decided (the input ended, or workers_drain): each worker finishes the
 * writes left and closes its raw tables meanwhile, while the job's thread goes on with its own
 * part of the commit (the engine's flush, the metric tables). workers_close_tables collects. */
void workers_close_begin(pipeline_job *j);
/* After workers_drain: each thread's raw tables closed (by workers_close_begin or now); their
 * renames join j->st. 0 or -1 (the first failure). */
int workers_close_tables(pipeline_job *j);
/* Stops the workers' current steps, drops every slot, aborts their uncommitted tables. */
void workers_abort(pipeline_job *j);

/* ---- scale-out (scaleout.c) ---- */
int scaleout_alloc(pipeline_job *j);
void scaleout_free(pipeline_job *j);
/* Fresh start or rollback: checks the layout, makes an engine owning no partition. */
int scaleout_reset(pipeline_job *j);
/* The consumer's rebalance callback in the scale-out layout. */
void scaleout_on_rebalance(pipeline_job *j, int assigned, kafka_topic_partition *parts, size_t n);
/* The engine sink that writes metric rows into the job's tables and derives the ranked tables
 * (rows of ranked metrics are buffered in j->sink_state, allocated here, until the window is
 * done). metric_sink_free() frees that state (idempotent). */
stream_sink metric_sink(pipeline_job *j);
void metric_sink_free(pipeline_job *j);

/* ---- status server (GET /status, GET /metrics) ---- */
typedef struct status_server status_server;
status_server *status_server_start(const char *listen, char *err, size_t errlen);
/* Publishes a new snapshot (copied). */
void status_server_publish(status_server *s, const char *status_json, size_t n1, const char *metrics,
                           size_t n2);
void status_server_stop(status_server *s);
/* True while a client follows the pushes: a long poll (GET /status?after=N) is waiting, or one
 * that waited ended within the last 100 ms (the follower is asking again). NULL: false. */
bool status_server_followed(status_server *s);
/* Builds the /status JSON and /metrics text from the job. */
int job_status_render(pipeline_job *j, buf_t *json, buf_t *prom);

#endif
