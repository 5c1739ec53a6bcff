/*
 * pipeline — the `ecom stream` job: input (Kafka consumer group or an NDJSON file) -> parse and
 * validate (events) -> engine (stream) -> outputs (lake tables), with the commit log and state
 * checkpoints that make the output exactly-once.
 *
 * Epochs and the commit protocol (Flink's two-phase file sink and Spark's _spark_metadata are
 * the models; see docs/stream.md):
 *   - Work is cut into epochs (every commit_interval of processing time, at end of input and on
 *     stop). During epoch N every table part is written under a hidden name (.part-...tmp)
 *     through a staging storage that records renames instead of doing them.
 *   - Commit of epoch N: close every part (flush + fsync); write each partition's engine
 *     checkpoint (_ecom/state/e<N>-p<P>.ckpt); create the commit record _ecom/commits/<N>.commit
 *     whole and exclusively (this is the commit point: input offsets, the checkpoints, the renames); then
 *     do the renames; then commit the offsets to Kafka (informational: the log is the truth);
 *     then delete the records and checkpoints of epochs older than N.
 *   - Recovery at start: read the newest commit record; redo its renames (idempotent); delete
 *     hidden part files that no record names (debris of an uncommitted epoch); restore the
 *     engine from the checkpoints; resume the input at the recorded offsets. Every event's
 *     contribution is then in the tables exactly once, and readers never see a partial or
 *     uncommitted file (they ignore hidden names).
 *   - The log is compact: only the newest record and its checkpoints are kept.
 *   - Every record also holds the cumulative counters (records, ok by type, duplicates, late,
 *     rejected, blank: each input record in exactly one) up to its offsets; recovery continues
 *     them, so counters survive restarts.
 *
 * Scale-out layout (cfg->scale_out, Kafka only; several instances in one group, same ROOT):
 *   - One commit lineage per input partition p: _ecom/parts/p<NNNN>/<seq>.commit names p's
 *     three topic offsets, p's checkpoint (<seq>.ckpt), p's counters and the renames of the files
 *     holding only p's rows (part-p<NNNN>-s<seq>-*.parquet). Writing it is p's commit point;
 *     partitions commit independently (every commit_interval, on stop, and on revoke).
 *   - Metric tables are PARTIAL (stream.h): per-partition rows with a `partition` column and no
 *     ranked tables; docs/stream.md gives the DuckDB queries that merge them into exactly the
 *     single-instance tables (ecom dash merges them itself).
 *   - On assign, each new partition is taken over from its newest record (renames redone, its
 *     debris swept, checkpoint restored, topics resumed at its offsets); on revoke, it is
 *     committed, then dropped. A failed take-over rolls back and rejoins (retry_limit_us).
 *   - _ecom/layout pins the layout and partition count at first start: a ROOT never mixes the
 *     two layouts (-1 with a clear error).
 *   - Counters (stats) are the sums over the partitions the instance owns, each cumulative.
 *   - Fencing: taking a partition over creates its next lease generation
 *     (_ecom/parts/p<NNNN>/lease, lease.c); a commit of p from an older generation (a zombie
 *     that lost p without noticing) is refused and the instance stops writing (-1).
 *
 * Single writer (both layouts' commit path; lease.c, docs/reliability.md): the single layout
 * takes ROOT's lease (_ecom/lease/<generation>.lease, created exclusively) at start; a second
 * writer is refused (-1, naming the holder); the holder renews it at every commit and every
 * third of lease_timeout_us; a crashed holder's lease is taken over after it expires (at once
 * if its pid is gone on this host); every record carries the generation, checked before the
 * checkpoints and again before the record (the commit point): a writer whose lease was taken
 * over stops writing (-1, "fenced"). The check and the record are two storage calls, so the
 * record is also a compare-and-swap: it is created exclusively under its number, and a writer
 * that takes a lineage over first claims the next number (commit.c), so one paused between
 * its check and its record is refused as well. `ecom load` takes the same lease.
 *
 * Metric tables (src/pipeline/tables.c): one per catalog metric (src/metrics/metrics.h) with
 * window_start, window_end, the catalog's columns (money DECIMAL(18,2)), `correction` BOOLEAN
 * (a row adding late events to a window written before: stream.h) and, scale-out, `partition`;
 * in the single layout also the catalog's ranked tables (top_products, top_products_by_revenue:
 * `rank` then the product columns, per window, from the window's final rows).
 *
 * Every metric file's footer holds the key PIPELINE_KV_FUNNEL_HORIZON: the job's funnel horizon
 * (stream_config_funnel_horizon_us) in decimal microseconds. A row of any metric table ending
 * at E then says that every funnel window ending at or before E - horizon is committed, so
 * ecom dash can tell lost funnel files from funnel windows not final yet (docs/dashboard.md).
 *
 * GET /status, schema 2 (contract with ecom dash; every field always present, null if unknown):
 *   {"schema":2, "input":"file"|"kafka", "layout":"single"|"scale-out", "epoch", "uptime_s",
 *    "events_per_s", "watermark": RFC 3339 ms UTC | null, "newest_event_at": the newest
 *    event time seen (RFC 3339 ms UTC | null), "window_s", "lateness_s",
 *    "funnel_horizon_s",
 *    "counters": {"records", "page_view", "add_to_cart", "remove_from_cart", "purchase",
 *                 "duplicates", "late", "corrections", "rejected", "future", "conflicts", "blank", "epochs",
 *                 "files_committed", "storage_errors", "kafka_errors"},
 *    "state_entries", "partitions": [{"partition", "assigned", "idle", "watermark",
 *    "topics": [{"topic", "offset", "lag"}]}], "lag",
 *    "kafka_connected": true|false|null, "last_progress_at": RFC 3339 ms UTC | null,
 *    "open_windows": {"<catalog metric>": [{"window_start", "window_end", "final_at",
 *                     "partition" (scale-out only), <every catalog column by name>}], ...}}
 *   open_windows has one member per catalog metric ([] when none), from the engine's snapshot:
 *   rows not yet emitted as final (emitted-but-uncommitted rows and pending corrections are not
 *   included). final_at = the watermark at which the window is final (window_end; funnel:
 *   window_end + funnel_horizon_s). Counts are integers, money numbers with 2 decimals, rates
 *   numbers. `corrections` = correction rows written by this process.
 *   Health: "lag" (and each topic's) is null while the broker cannot be asked (kafka_connected
 *   false: the once-a-second probe, an exact watermark query, failed); kafka_connected is null
 *   for file input and before the first probe. last_progress_at = when the job last read a
 *   record or was caught up with a broker that answered (null: never). /metrics: ecom_stream_lag
 *   NaN when unknown, ecom_stream_kafka_connected 0|1, ecom_stream_last_progress_seconds.
 *   Every answer carries X-Ecom-Status-Version (the publish number); GET /status?after=N waits
 *   up to 5 s for a version other than N (long poll; status.c). Published once a second and,
 *   for live input, within 50 ms of new events and after every commit.
 *
 * Contract
 *   - pipeline_run() runs until the input ends (file: then every window is flushed as final),
 *     or until *stop becomes non-zero (then the current epoch is committed and it returns 0).
 *   - Errors: 0 on success, -1 with a message in err. A storage failure during an epoch aborts
 *     that epoch (nothing of it becomes visible); pipeline_run() then rolls back to the last
 *     commit and retries with bounded backoff while input is paused (the input is re-read from
 *     the committed position), and fails with -1 only after retry_limit_us. A storage failure
 *     while recovering at start is retried the same way; what ROOT refuses (another layout or
 *     input, a corrupt commit record) fails at once.
 *   - Bad input never stops the job: invalid lines, events dated more than max_future ahead
 *     and conflicting duplicates (an id seen with other content) go to the `rejected` table
 *     with their topic, partition, offset, reason and raw text; late and duplicate events are
 *     counted; every record is in exactly one counter (ok by type, duplicates, late, rejected,
 *     blank).
 *   - Ownership: the config's strings are borrowed for the duration of pipeline_run().
 *   - No global state; one thread runs the job (plus the status server's thread, which only
 *     reads a snapshot under a mutex, and with threads > 1 the workers of workers.c).
 */
#ifndef ECOM_PIPELINE_H
#define ECOM_PIPELINE_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kafka/kafka.h"
#include "storage/storage.h"
#include "stream/stream.h"

typedef struct {
    /* input: either brokers (Kafka) or input_path (NDJSON file, "-" = stdin) */
    const char *brokers;
    const char *group_id;          /* default "ecom-stream" */
    const char *topics[KAFKA_NTOPICS]; /* page_views, cart_events, orders (overridable) */
    const char *input_path;
    int64_t kafka_timeout_us;      /* connect/metadata limit; default 10 s */
    const char *const *kafka_settings; /* extra librdkafka settings, NULL-terminated (kafka.h); NULL = $ECOM_KAFKA_CONF */

    /* output */
    const char *out_root;          /* local path or hdfs://... */
    const storage_opts *storage;   /* options of out_root's storage (borrowed); NULL: defaults */
    int64_t commit_interval_us;    /* default 5 s */
    int64_t retry_limit_us;        /* storage retries before giving up; default 10 min */
    int64_t lease_timeout_us;      /* the single layout's writer lease expires this long after its
                                      holder's last heartbeat (every commit and every third of it);
                                      a crashed writer's successor waits that long. Default 30 s */
    uint64_t max_rows_per_file;    /* raw table rolling inside an epoch; default 1,000,000 */
    bool allow_uncounted;          /* single layout: a first start on a ROOT whose raw tables hold
                                      parts no stream wrote (ecom load's) goes on although its
                                      metric tables will never count them; else refused */
    int64_t ckpt_max_deltas;       /* engine checkpoints: at most this many deltas between two
                                      full ones (docs/stream.md "Checkpoints"); default 64;
                                      0 = a full checkpoint at every commit */
    const char *time_zone;         /* IANA zone of every table's date= partition; NULL = UTC.
                                      Opened with lake_tz_open: the command sets it first */

    /* engine */
    stream_config engine;
    int64_t max_future_us;         /* an event more than this ahead of the reference time
                                      (live input: the processing clock; a backfill, i.e. a
                                      regular file or --drain: the later of the clock and the
                                      watermark) is rejected and cannot move the watermark;
                                      default 5 min; 0 = no limit (docs/stream.md) */

    /* status server: "127.0.0.1:PORT" or NULL */
    const char *listen;

    bool drain;                    /* Kafka: stop once every partition is read to its end,
                                      flushing every window as final (a backfill, like Spark's
                                      availableNow trigger); later events would all be late */
    bool catch_up_on_stop;         /* Kafka: on stop, first read every partition to its end
                                      (bounded by 10 s), then commit: for an in-memory broker
                                      whose data is gone at exit (ecom run) */
    bool fresh_input;              /* the input starts empty (a new in-memory broker): keep the
                                      tables, engine state and epoch numbers of the commit log
                                      but read every partition from its beginning; its start is
                                      marked (lake.h lake_input_start_mark) and, after a stop
                                      that committed everything, where its data ends:
                                      ROOT/_ecom/starts/<20-digit wall clock us>.stop, the wall
                                      clock when the stop was first seen (an empty file; none
                                      after a crash). The dashboard marks the windows holding
                                      either instant partial (docs/dashboard.md). */
    bool scale_out;                /* Kafka: this instance is one of several in the group: PARTIAL
                                      metric tables, one commit lineage per partition (below) */
    bool quiet;                    /* no status line on stderr */
    int64_t max_events;            /* stop after this many input records (0 = no limit); tests */
    int threads;                   /* threads in all: the job's (reads, runs the engine) and
                                      threads - 1 workers; any of them parses and encodes the
                                      raw tables (workers.c); output equals one thread's.
                                      1: no workers. Single layout only */
} pipeline_config;

/* Counters, by outcome. */
typedef struct {
    uint64_t records;              /* input records read */
    uint64_t ok[EV_TYPE_COUNT];
    uint64_t duplicates, late, rejected;
    uint64_t blank;                /* blank input records (lake.h) */
    uint64_t future, conflicts;    /* of `rejected`: timestamps beyond max_future, ids repeated
                                      with other content; since this process started */
    uint64_t corrections;          /* correction rows written by this process (late events
                                      added to windows already written; see stream.h) */
    uint64_t epochs, files_committed, rows_committed;
    uint64_t storage_errors, kafka_errors;
    uint64_t ckpt_full, ckpt_deltas;         /* engine checkpoint files written (full, delta) */
    uint64_t ckpt_full_bytes, ckpt_delta_bytes;
    uint64_t ckpt_cpu_us;                    /* CPU time of the thread that wrote them, in it */
    int64_t watermark_us;
} pipeline_stats;

#define PIPELINE_MAX_THREADS 64
/* The footer key of every metric file that holds the funnel horizon (see "Every metric file's
 * footer" above). */
#define PIPELINE_KV_FUNNEL_HORIZON "ecom.funnel_horizon_us"

void pipeline_config_default(pipeline_config *c);

/* Runs the job (see above). stats may be NULL; it is filled at the end. */
int pipeline_run(const pipeline_config *c, volatile sig_atomic_t *stop, pipeline_stats *stats,
                 char *err, size_t errlen);

/* ---- the writer lease (lease.c): one writer per lineage, fencing by generation ----
 * Public because every command that writes a ROOT takes it: `ecom stream` (both layouts) and
 * `ecom load` (the single layout's LEASE_DIR, for the duration of the load).
 * Contract: a lease lives in dir (LEASE_DIR for the single layout; a partition's
 * "_ecom/parts/p<NNNN>/lease" in the scale-out one). lease_acquire() takes it: 0 (l->gen is the
 * new generation, or ours already), LEASE_HELD when another writer's unexpired lease holds
 * it (err names host, pid, since, expiry), -1 on a storage error (worth retrying). force: take
 * it whoever holds it (scale-out: the consumer group's assignment decides the owner; the lease
 * only lets storage refuse the previous owner). lease_check() is called before every commit
 * point: 0 while the newest generation is l->gen, LEASE_FENCED (err says who holds it now) or
 * -1. lease_renew() = check + rewrite of the holder's file with a new `renewed` (the
 * heartbeat). lease_release() marks it expired at once (clean exit). A new holder also deletes
 * the put_if_absent temporaries older than its timeout in the lease's directory and in the
 * records' it fences (storage_sweep_put_temporaries: crashed writers' leftovers). */
#define LEASE_DIR "_ecom/lease"
#define LEASE_HELD (-2)
#define LEASE_TIMEOUT_DEFAULT_US (30 * 1000000LL) /* --lease-timeout of stream and load */
#define LEASE_FENCED (-3)
typedef struct {
    char dir[96];
    int64_t gen;                   /* held generation; 0 = none */
    int64_t since_us;              /* wall clock when taken (with host and pid: who we are) */
    int64_t timeout_us;            /* the lease expires this long after its last renewal */
    int64_t renewed_mono_us;       /* monotonic time of our last renewal */
    char host[128];
    long pid;
} writer_lease;
void lease_init(writer_lease *l, const char *dir, int64_t timeout_us);
int lease_acquire(storage *s, writer_lease *l, bool force, char *err, size_t errlen);
int lease_check(storage *s, const writer_lease *l, char *err, size_t errlen);
int lease_renew(storage *s, writer_lease *l, char *err, size_t errlen);
void lease_release(storage *s, writer_lease *l);

/* ---- test-only storage fault injection (faults.c; `ecom stream`, `ecom load`, `ecom dash`) ---- */
/* Wraps base (owned: closed with the wrapper) in a storage that fails the calls chosen by spec
 * (the syntax of $ECOM_TEST_STORAGE_FAULTS, see faults.c). NULL with err (base closed). */
storage *faults_wrap(storage *base, const char *spec, char *err, size_t errlen);

/* ---- what a writer other than the stream (ecom load) must know about ROOT (commit.c) ---- */
typedef enum { ROOT_STREAM_NONE = 0, ROOT_STREAM_SINGLE, ROOT_STREAM_SCALE_OUT } root_stream_kind;
/* Whether `ecom stream` ever wrote ROOT: *kind = ROOT_STREAM_SINGLE when its commit log
 * (_ecom/commits) holds a record, ROOT_STREAM_SCALE_OUT when _ecom/layout is there (per-partition
 * lineages, which do not take ROOT's lease), else NONE; `what` gets the evidence ("its commit log
 * ROOT/_ecom/commits holds record 12 ..."). 0; -1 with err on a storage error or a corrupt record
 * (the stream's own refusal, which names it). */
int root_stream_state(storage *s, root_stream_kind *kind, char *what, size_t n, char *err, size_t errlen);
/* Deletes every hidden, unpublished part file (".part-...tmp") in ROOT's raw tables (views, cart,
 * orders, rejected: all a load writes): the debris of dead or fenced writers, as the stream's
 * recovery does in every table. Only for the holder of ROOT's lease (LEASE_DIR) on a ROOT no
 * scale-out stream writes (its instances do not take that lease). */
int root_sweep_unpublished(storage *s, char *err, size_t errlen);
/* Whether ROOT's raw tables (views, cart, orders, rejected) hold any published part: *found, and
 * the first one's path in `first`. For a stream's first start (no commit record yet): such rows
 * came from another writer (ecom load) and its metric tables would never count them. */
int root_raw_parts(storage *s, bool *found, char *first, size_t n, char *err, size_t errlen);

/* ---- fresh-input marks (marks.c): where a fresh input's data begins and ends ----
 * ROOT/_ecom/starts holds <us>.start (lake.h lake_input_start_mark), <us>.stop (pipeline_config
 * fresh_input) and the file PIPELINE_MARKS_FILE into which each start folds the single marks
 * ("ecom-marks 1" then "start <20 digits>" / "stop <20 digits>" lines), so the directory a
 * reader lists at every poll holds the file plus the marks of the runs since the last start
 * (one or two), however many runs there were. A reader takes the union of the file and the
 * single marks (a crash between the fold and the removals leaves both). */
#define PIPELINE_MARKS_FILE "marks"
typedef struct {
    int64_t *starts, *stops;     /* instants (wall clock us), malloc'd */
    size_t nstarts, nstops;
} pipeline_marks;
/* Folds the single marks into the file (written whole), then removes them; nothing to fold:
 * nothing written. 0, or -1 with err (a storage error, or a corrupt file: named, refusing). */
int pipeline_marks_fold(storage *s, char *err, size_t errlen);
/* Appends the marks of the file's text txt[0..n) to m (unsorted). 0 or -1 with err (corrupt). */
int pipeline_marks_parse(const char *txt, size_t n, pipeline_marks *m, char *err, size_t errlen);
void pipeline_marks_free(pipeline_marks *m);
/* Whether a name in ROOT/_ecom/starts is a single mark: 1 "<20 digits>.start", 2 "....stop"
 * (*us set), 0 anything else (the marks file, other names: ignored by every reader). */
int pipeline_marks_name(const char *name, int64_t *us);

/* ---- what a reader of ROOT (ecom dash) must know about its commits (commit.c) ----
 * A commit writes its record (the commit point) and then publishes its files one rename at a
 * time (staged hidden name -> final name), so a reader listing the tables between two renames
 * sees part of a committed epoch. Records < the newest of a lineage were fully published before
 * it was written, so the newest record of each lineage names every file that may be half
 * published. A reader lists the tips, lists the tables, lists the tips again: when both lists
 * are equal, only the tips' files can be missing from its listing, and each such file is
 * either still at its staged name (read it there: same bytes) or lost. */
typedef struct {
    char *path;          /* ROOT-relative: "_ecom/commits/<20 digits>.commit" or
                            "_ecom/parts/p<NNNN>/<20 digits>.commit" (owned) */
    uint64_t size;       /* from the listing: a number reused after a withdrawn record differs */
    int64_t mtime_us;
} root_commit_tip;
/* The newest record of every lineage of ROOT (the single layout's log and each scale-out
 * partition's), sorted by path, into *tips (malloc'd; root_commit_tips_free); none: NULL, 0.
 * Listings only (the single layout: two). 0 or -1 with err. */
int root_commit_tips(storage *s, root_commit_tip **tips, size_t *n, char *err, size_t errlen);
void root_commit_tips_free(root_commit_tip *tips, size_t n);
/* The files the record at path publishes: (*from)[i] its staged name, (*to)[i] its final one
 * (ROOT-relative; both arrays malloc'd, free each with lake_paths_free). 0; 1 when the record
 * is gone (compacted since it was listed: list again); -1 with err on a storage error or a
 * corrupt record. */
int root_commit_files(storage *s, const char *path, char ***from, char ***to, size_t *n, char *err, size_t errlen);

#endif
