/*
 * stream — the stream-processing engine of `ecom stream`: event-time tumbling windows,
 * watermarks, deduplication, the view -> cart -> purchase funnel join. Pure state machines:
 * no I/O, no threads, no clock of its own (the caller passes processing time). See
 * docs/stream.md for the design and the exact semantics of every table.
 *
 * Contract
 *   - Input: parsed, valid events (src/events/events.h) with their input position (partition
 *     index 0..n_partitions-1, offset). Strings in an event are views: the engine copies what it
 *     keeps, so the event may be freed or overwritten as soon as stream_engine_process() returns.
 *   - State is sharded per input partition (the three topics are co-partitioned by user_id, so
 *     partition p of every topic is one shard). A shard's state depends only on the sequence of
 *     events of its partition, so it can be checkpointed, and restored by any instance.
 *   - Time: window w (tumbling, aligned to the epoch), window k = [k*w, (k+1)*w).
 *     A shard's watermark is max(max event time seen - lateness, forced), where forced is raised
 *     to the global watermark by stream_engine_advance(). The global watermark is the minimum
 *     over assigned, non-idle shards of their own (max event time - lateness); it never goes
 *     back. A shard is idle when it had no event for idle_timeout of processing time (the `now`
 *     passed to stream_engine_advance); 0 disables the rule. An event is late when its window
 *     end <= its shard's watermark (the caller still writes it to the raw tables).
 *   - Late is not lost: a late event is added to correction deltas of its own window, kept per
 *     (window, key) in the shard (checkpointed), and emitted as correction rows
 *     (w.correction = true) at the next stream_engine_advance() (MERGED: once the global
 *     watermark has passed the window, i.e. after its final row, merged across shards) or
 *     flush, then dropped. So every additive value of every metric, summed over all rows of a
 *     window incl. corrections, counts every event the caller wrote to the raw tables. The
 *     funnel is a join, not a sum: a late view, add or purchase joins the funnel state like an
 *     on-time one as long as its own window's funnel slot (window + horizon) is still open, so
 *     it counts for every funnel window not yet final; funnel windows already final when it
 *     arrives are not corrected (no funnel correction rows: that needs the pairs kept past
 *     their horizon).
 *   - Duplicates: an event id is remembered per shard, with a hash of the event's content
 *     (every field but the id and the timestamp) and its window k, until the shard's watermark
 *     has passed the end of window k by lateness + one window (ceil(lateness / window) + 1
 *     windows). Within that horizon a copy (same id, same content, any timestamp, on time or
 *     late) is STREAM_DUPLICATE: counted once; the same id with other content is
 *     STREAM_CONFLICT (the caller rejects it). A copy arriving later is late anyway (its window
 *     closed) and counts again, as in the raw tables. Memory: the ids of about lateness +
 *     2 windows of input beyond the open windows, at most twice that before a compaction.
 *   - Output goes through a stream_sink (generic rows of the metric catalog), only from
 *     stream_engine_advance(), stream_engine_flush() and stream_engine_snapshot() (never from
 *     process). Rows are final (except snapshot rows, marked provisional, and correction rows),
 *     emitted once, in a deterministic order: by closing window index, then for each window
 *     the metrics in catalog order (sales, categories by name, products by product_id, cities
 *     by province, city, store_type, channels by store_type, device), then the funnel row of
 *     the window whose funnel closes there; correction rows of a window follow the final rows
 *     of the advance that emits them. Every product with activity (view, add, purchase) has a
 *     row; sales rows exist only when the window has orders (orders != 0). Strings in rows are
 *     valid only during the callback.
 *   - Emit modes: STREAM_EMIT_MERGED (one instance owning every partition) merges the shards'
 *     partials and emits rows when the global watermark passes the window end (funnel: end +
 *     view_to_cart + cart_to_purchase, rounded up to a window boundary). STREAM_EMIT_PARTIAL
 *     emits one partial row set per partition (w.partition = p) as soon as that shard's
 *     watermark passes. Rows of both modes sum into the same answers (docs/stream.md gives the
 *     DuckDB merge queries).
 *   - Errors: functions return 0 (or an outcome >= 0) on success and -1 on failure, with a
 *     message in err when the function takes one. A -1 from process/advance/flush (out of
 *     memory, or a sink callback returning -1) leaves the engine unusable: free it and restore
 *     the shards from their last checkpoints. Bad checkpoint bytes never crash: -1, "corrupt ...".
 *   - Ownership: stream_engine_new() returns an engine freed by stream_engine_free(); the sink
 *     struct is copied, its ctx is the caller's. Checkpoint bytes are appended to the caller's
 *     buf_t. Nothing else is allocated for the caller.
 *   - Threads: an engine is used by one thread at a time. No global state.
 */
#ifndef ECOM_STREAM_H
#define ECOM_STREAM_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "events/events.h"
#include "metrics/metrics.h"
#include "util/util.h"

#define STREAM_MAX_PARTITIONS 4096
#define STREAM_MAX_SOURCES 4       /* input streams per partition (the three topics) */
#define STREAM_MAX_ABS_TIME_US (1LL << 60) /* events beyond +-36,000 years are refused */

typedef enum { STREAM_EMIT_MERGED = 0, STREAM_EMIT_PARTIAL = 1 } stream_emit_mode;

typedef struct {
    int64_t window_us;           /* tumbling window length; default 1m */
    int64_t lateness_us;         /* allowed lateness; default 2m */
    int64_t view_to_cart_us;     /* funnel: add within [t0, t0 + this]; default 30m */
    int64_t cart_to_purchase_us; /* funnel: purchase within [ta, ta + this]; default 60m */
    int64_t idle_timeout_us;     /* processing time without events before a partition stops
                                    holding the watermark back; default 10s; 0 = never idle */
    int n_partitions;            /* input partitions (= shards); default 1 */
    int n_sources;               /* input streams feeding each partition, read at independent
                                    speeds (Kafka: the three topics' partition p); default 1.
                                    A shard's watermark is held back by its slowest non-idle
                                    source, so a topic read ahead of the others cannot make
                                    the others' events late (watermark alignment). */
    stream_emit_mode mode;       /* default STREAM_EMIT_MERGED */
} stream_config;

/* Fills the defaults above. */
void stream_config_default(stream_config *c);
/* 0 if usable, else -1 and a reason (window <= 0, negative durations, partitions out of range). */
int stream_config_check(const stream_config *c, char *err, size_t errlen);
/* The funnel's horizon: view_to_cart + cart_to_purchase rounded up to whole windows. A window's
 * funnel row is final (emitted) together with the other tables' rows of the window this much
 * later, so a committed row of any other table ending at E means every funnel window ending
 * at or before E - horizon is committed too (ecom dash's lost-funnel check relies on it). A
 * checked config (window > 0). */
int64_t stream_config_funnel_horizon_us(const stream_config *c);

/* STREAM_CONFLICT: the id was seen within the dedup horizon with other content (see the
 * contract above); the event is not counted anywhere else and the state is not changed. */
typedef enum { STREAM_OK = 0, STREAM_DUPLICATE = 1, STREAM_LATE = 2, STREAM_CONFLICT = 3 } stream_outcome;

/* Common leading columns of every row. partition is -1 in MERGED rows. provisional is true only
 * for rows from stream_engine_snapshot(). correction is true for a row that adds late events
 * to a window whose final row was emitted before (its values are deltas: sum them in). */
typedef struct {
    int64_t window_start_us, window_end_us;
    int32_t partition;
    bool provisional;
    bool correction;
} stream_window;

/* Output callbacks. row receives one row of metric m (src/metrics/metrics.h): vals[c] is the
 * value of the catalog's column c (metric_get(m)->cols[c]), keys first; MERGE_RATIO columns
 * are recomputed from the row's own numerator and denominator (metric_ratio_cents for money,
 * num / den for rates, 0 when den is 0). window_done (may be NULL) is called after the last
 * row of each emitted window (final rows, and each window of correction or snapshot rows), so
 * a sink can derive per-window views of the rows (the ranked tables). Either returns 0, or
 * -1 to stop (the engine function then returns -1 with "sink failed"). row may be NULL (rows
 * are dropped). */
typedef struct {
    void *ctx;
    int (*row)(void *ctx, metric_id m, const stream_window *w, const metric_val *vals);
    int (*window_done)(void *ctx, const stream_window *w);
} stream_sink;

typedef struct stream_engine stream_engine;

/* Creates an engine with every partition assigned and empty. NULL with err on bad config or
 * out of memory. */
stream_engine *stream_engine_new(const stream_config *cfg, const stream_sink *sink, char *err,
                                 size_t errlen);
void stream_engine_free(stream_engine *e);

/* The keys the engine derives from one event alone, independent of every other event and of
 * the engine's state: the event id (packed UUID or a 128-bit hash of its text), the content
 * hash (every field but the id and the time), the (user_id, product_id) pair hash of a view or
 * an add (0 for other events), and the window index k. Why a separate step: computing them is
 * about a third of the engine's per-event work and needs no order, so `--threads N` computes
 * them where the event is parsed (src/pipeline/workers.c), off the thread that must decide the
 * events one after the other; and with a batch of keys in hand the decider can prefetch the
 * tables' slots several events ahead (stream_engine_prefetch). */
typedef struct {
    uint64_t id_a, id_b;
    uint64_t content;
    uint64_t pair;
    int64_t k;
} stream_event_keys;

/* Fills *out for ev under config c (only c->window_us is read). Pure: any thread, any time,
 * for any event; what it returns for an event stream_engine_process refuses is unused. */
void stream_event_keys_of(const stream_config *c, const event *ev, stream_event_keys *out);

/* Feeds one valid event read at (part, offset). Returns its outcome (STREAM_OK,
 * STREAM_DUPLICATE, STREAM_LATE, STREAM_CONFLICT) or -1: partition not assigned or out of range, or a timestamp
 * beyond STREAM_MAX_ABS_TIME_US (these two leave the state untouched; the parser rejects
 * absurd timestamps long before), or out of memory (the engine is then unusable).
 * Emits nothing. Hot path: no allocation in the steady state except for new keys. */
int stream_engine_process(stream_engine *e, int part, int64_t offset, const event *ev);
/* The same for an event read from source src (0..n_sources-1) of partition part.
 * stream_engine_process() is source 0. */
int stream_engine_process_from(stream_engine *e, int part, int src, int64_t offset, const event *ev);
/* The same with ev's keys already computed: keys must be stream_event_keys_of(c, ev) with c
 * the engine's config (its window_us); stream_engine_process_from is exactly keys_of followed
 * by this (one code path), so the outcome and the state are the same whichever is called. */
int stream_engine_process_keyed(stream_engine *e, int part, int src, int64_t offset, const event *ev,
                                const stream_event_keys *keys);
/* A hint, no effect on the state or the output: starts loading the dedup table's and the pair
 * table's slots that the event with these keys will probe in partition part. For a caller that
 * holds a batch of keyed events: call it some events ahead of stream_engine_process_keyed.
 * Out-of-range part: nothing. */
void stream_engine_prefetch(const stream_engine *e, int part, const stream_event_keys *keys);

/* Marks source src of partition part as alive although it sent no event: it has data not yet
 * read (a backlog), so it must not turn idle and stop holding the watermark back. The caller
 * knows backlogs (Kafka: offset < high watermark); idleness is meant for sources with nothing
 * to send, not for ones the consumer has not reached yet (e.g. while rejoining a group). */
void stream_engine_touch(stream_engine *e, int part, int src);

/* The caught-up rule: source src of partition part has nothing left to read at wall-clock time
 * wall_us (Kafka: its offset is the partition's high watermark). When its shard is live (its
 * newest event time within idle_timeout of wall_us), the source stops holding the shard's
 * watermark back at once, as if idle, until its next event or touch; otherwise (a backfill, or
 * idle_timeout 0) nothing changes. So a sparse topic (orders) does not delay the finals of a
 * live stream by the gaps between its events. Why this keeps the tables exact: see the
 * comment above the function and docs/stream.md "Watermark". */
void stream_engine_caught_up(stream_engine *e, int part, int src, int64_t wall_us);

/* Updates idleness with processing time now_us, recomputes the global watermark, closes what
 * it passed and emits the final rows that are due. Call it after every batch of events (state
 * is evicted only here, so memory is bounded only if you do). 0 or -1. */
int stream_engine_advance(stream_engine *e, int64_t now_us, char *err, size_t errlen);

/* End of input: closes and emits every window of every assigned shard as final. Afterwards
 * every event is late. 0 or -1. */
int stream_engine_flush(stream_engine *e, char *err, size_t errlen);

/* Emits the current (provisional) values of every window not yet emitted, merged across shards
 * in MERGED mode, through sink (rows have provisional = true). Funnel rows count the pairs
 * anchored so far with the adds and purchases seen so far. Does not change the state. */
int stream_engine_snapshot(stream_engine *e, const stream_sink *sink, char *err, size_t errlen);

/* Rebalance: revoke drops a shard's state (checkpoint it first) and stops it counting in the
 * watermark; assign makes a partition active again, empty (restore its checkpoint next). */
int stream_engine_assign(stream_engine *e, int part, int64_t now_us);
int stream_engine_revoke(stream_engine *e, int part);

/* Serializes partition part's full state (versioned, length-prefixed, checksummed) and appends
 * it to out. 0 or -1. */
int stream_engine_checkpoint(const stream_engine *e, int part, buf_t *out, char *err,
                             size_t errlen);
/* Replaces partition part's state with a checkpoint (the partition becomes assigned; now_us
 * starts its idle clock). The checkpoint must come from an engine with the same window,
 * lateness, view_to_cart, cart_to_purchase and mode. Subsequent output is identical to that of
 * the engine that wrote it. -1 with "corrupt checkpoint: ..." (state left empty) on any bad
 * byte. */
int stream_engine_restore(stream_engine *e, int part, const void *p, size_t n, int64_t now_us,
                          char *err, size_t errlen);

/* Incremental checkpoints. A partition's checkpoints form a chain: a full one
 * (stream_engine_checkpoint_full), then deltas (stream_engine_checkpoint_delta), each holding
 * only what changed since the previous piece of the chain: the shard's counters and watermark,
 * the list of open windows, the aggregates of the windows that received events, the closed
 * windows and pending corrections (small: written whole), the funnel pairs changed, and the
 * dedup ids added. What was evicted follows from the watermark, so deletions cost nothing.
 * Each delta names the checksum of the piece it follows and its number in the chain (1, 2, ...),
 * so restoring refuses a chain with a piece missing, repeated, out of order or from another
 * chain, by name. The write cost of a delta is that of the epoch's changes, not of the state.
 *
 * Both writers append a piece (header + checksummed payload, like stream_engine_checkpoint)
 * to out and make the current state the base of the next delta: a piece the caller then loses
 * breaks the chain (the next delta names it), so after a failed write take a full one next
 * (or restore). stream_engine_checkpoint_full writes the bytes stream_engine_checkpoint
 * would. stream_engine_checkpoint_delta is -1 ("no checkpoint to build a delta on") when no
 * full piece was written or restored since the partition was created or assigned. */
int stream_engine_checkpoint_full(stream_engine *e, int part, buf_t *out, char *err, size_t errlen);
int stream_engine_checkpoint_delta(stream_engine *e, int part, buf_t *out, char *err, size_t errlen);

/* What the size of partition part's full checkpoint grows with, without encoding it (0 if
 * not assigned): about its bytes (dedup ids, funnel pairs and their times, the windows'
 * aggregate rows; expired ids not yet compacted count too), for a caller's full-or-delta
 * policy, which scales a full's measured bytes by the weight now over the weight then. */
uint64_t stream_engine_checkpoint_weight(const stream_engine *e, int part);

typedef struct {
    const void *p;
    size_t n;
} stream_ckpt_piece;
/* Replaces partition part's state with chain v[0..n): v[0] a full checkpoint (or any
 * stream_engine_checkpoint), then its deltas in order. As stream_engine_restore, which is this
 * with n == 1; afterwards a delta can follow. -1 with "corrupt checkpoint: ..." naming the bad
 * piece ("delta 3: checksum mismatch", "delta 2 of the chain (numbered 3) does not follow piece
 * 1: ...") and the state left empty. */
int stream_engine_restore_chain(stream_engine *e, int part, const stream_ckpt_piece *v, size_t n, int64_t now_us,
                                char *err, size_t errlen);

/* What the header of the piece at p says (no checksum check): a caller storing several pieces
 * in one file walks them with it. -1 when p holds no piece header. */
typedef struct {
    bool delta;
    int partition;
    size_t len; /* header + payload bytes */
} stream_ckpt_info;
int stream_checkpoint_peek(const void *p, size_t n, stream_ckpt_info *out);

typedef struct {
    bool assigned, idle;
    int64_t next_offset;          /* offset after the last event processed; -1 if none */
    int64_t max_event_us;         /* INT64_MIN if none */
    int64_t watermark_us;         /* the shard's watermark; INT64_MIN if none */
    uint64_t ok[EV_TYPE_COUNT], duplicates[EV_TYPE_COUNT], late[EV_TYPE_COUNT], conflicts[EV_TYPE_COUNT];
    uint64_t dedup_ids, dedup_bytes; /* ids remembered; heap bytes of the table (with expired
                                      entries not yet compacted) */
    uint64_t state_entries;       /* dedup ids + window/product/category/city/channel entries +
                                     funnel pairs and their times + open slots + pending windows
                                     + pending corrections */
    uint64_t funnel_pairs;
} stream_partition_stats;

/* 0, or -1 if part is out of range. Counts the live dedup ids: a walk over the table. */
int stream_engine_partition_stats(const stream_engine *e, int part, stream_partition_stats *out);
/* Whether partition part is in range and assigned (constant time: what a commit asks per
 * partition, where partition_stats' walks were 8% of the checkpoint's cost). */
bool stream_engine_partition_assigned(const stream_engine *e, int part);
/* Global watermark (INT64_MIN before it is defined). */
int64_t stream_engine_watermark(const stream_engine *e);
/* Sum of state_entries over all shards (plus windows waiting for the global watermark). */
uint64_t stream_engine_state_entries(const stream_engine *e);

#endif
