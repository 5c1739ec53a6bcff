/*
 * pipeline/pipeline.c — the `ecom stream` job: read, parse, process, write, commit.
 * The protocol is described in pipeline.h; the record format in commit.c.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pipeline/pipeline_internal.h"

void pipeline_config_default(pipeline_config *c) {
    memset(c, 0, sizeof *c);
    c->group_id = "ecom-stream";
    c->topics[0] = "page_views";
    c->topics[1] = "cart_events";
    c->topics[2] = "orders";
    c->kafka_timeout_us = 10 * TIME_US_PER_SEC;
    c->commit_interval_us = 5 * TIME_US_PER_SEC;
    c->retry_limit_us = 600 * TIME_US_PER_SEC;
    c->lease_timeout_us = LEASE_TIMEOUT_DEFAULT_US;
    c->max_rows_per_file = 1000000;
    c->ckpt_max_deltas = CKPT_MAX_DELTAS;
    c->max_future_us = 5 * 60 * TIME_US_PER_SEC;
    c->threads = 1;
    stream_config_default(&c->engine);
}

/* Index 0..KAFKA_NTOPICS-1 of a topic name in the job's topics (views, cart, orders), or -1. */
int job_topic_index(const pipeline_job *j, const char *topic) {
    for (int k = 0; k < KAFKA_NTOPICS; k++)
        if (!strcmp(topic, j->cfg->topics[k])) return k;
    return -1;
}

/* ---- tables of the current epoch ---- */

static lake_opts job_lake_opts(const pipeline_job *j, bool metric) {
    lake_opts o = {0};
    o.max_rows = j->cfg->max_rows_per_file;
    o.codec = PQ_ZSTD;
    if (metric) o.kv = j->metric_kv;
    return o;
}

/* File stems: the epoch (single instance), or the partition and its record's seq (scale-out:
 * a file holds one partition's rows, so its partition's record alone commits it, and a new
 * owner recognises the partition's debris by the name); then the lease generation, so that a
 * fenced writer still writing the same epoch never touches its successor's files. */
void job_epoch_stem(const pipeline_job *j, int part, char *out, size_t n) {
    if (j->cfg->scale_out)
        snprintf(out, n, "p%04d-s%012" PRId64 "-g%" PRId64, part, j->seq[part], j->part_lease[part].gen);
    else
        snprintf(out, n, "e%012" PRId64 "-g%" PRId64, j->epoch, j->lease.gen);
}

static lake_table *job_table(pipeline_job *j, lake_table **slot, const char *name, const pq_schema *schema,
                             bool metric, int part) {
    if (*slot) return *slot;
    if (j->cfg->scale_out && (part < 0 || part >= j->nparts || !j->owned[part])) {
        snprintf(j->err, sizeof j->err, "row of partition %d, which this instance does not own", part);
        return NULL;
    }
    char stem[80];
    job_epoch_stem(j, part, stem, sizeof stem);
    lake_opts o = job_lake_opts(j, metric);
    *slot = lake_table_open(j->stage, name, schema, stem, &o, j->err, sizeof j->err);
    return *slot;
}

lake_table *job_metric_table(pipeline_job *j, int m, int part) {
    lake_table **slot = j->cfg->scale_out && part >= 0 && part < j->nparts ? &j->pmetric[part][m] : &j->metric[m];
    return job_table(j, slot, metric_table_name(m), j->metric_schema[m], true, part);
}

static lake_table *job_raw_table(pipeline_job *j, lake_raw t, int part) {
    lake_table **slot = j->cfg->scale_out && part >= 0 && part < j->nparts ? &j->praw[part][t] : &j->raw[t];
    return job_table(j, slot, lake_raw_name(t), j->raw_schema[t], false, part);
}

/* Closes n tables (committing their parts into the staging list); after a failure the rest
 * are aborted. */
static int close_tables(pipeline_job *j, lake_table **v, int n, int rc) {
    for (int i = 0; i < n; i++) {
        if (!v[i]) continue;
        if (rc == 0)
            rc = lake_table_close(v[i], j->err, sizeof j->err);
        else
            lake_table_abort(v[i]);
        v[i] = NULL;
    }
    return rc;
}

int job_close_part_tables(pipeline_job *j, int part) {
    int rc = close_tables(j, j->praw[part], LAKE_RAW_COUNT, 0);
    return close_tables(j, j->pmetric[part], METRIC_TABLE_MAX, rc);
}

void job_abort_part_tables(pipeline_job *j, int part) {
    close_tables(j, j->praw[part], LAKE_RAW_COUNT, -1);
    close_tables(j, j->pmetric[part], METRIC_TABLE_MAX, -1);
}

static void epoch_abort_tables(pipeline_job *j) {
    workers_abort(j);
    close_tables(j, j->raw, LAKE_RAW_COUNT, -1);
    close_tables(j, j->metric, METRIC_TABLE_MAX, -1);
    for (int p = 0; j->praw && p < j->nparts; p++) job_abort_part_tables(j, p);
    if (j->st) staging_clear(j->st);
}

/* ---- one input record ---- */

/* The counters of input partition part (0 for a file; callers check the range). */
static part_counts *job_counts_of(pipeline_job *j, int part) { return &j->pc[part]; }

/* The job's outcome counters as a commit record stores them, and back (a restart continues
 * the counts of the log instead of showing only its own process's). */
static commit_counts stats_counts(const pipeline_stats *s) {
    commit_counts c;
    memcpy(c.ok, s->ok, sizeof c.ok);
    c.duplicates = s->duplicates;
    c.late = s->late;
    c.rejected = s->rejected;
    c.blank = s->blank;
    return c;
}

void job_stats_add(pipeline_job *j, const part_counts *pc, int sign) {
    pipeline_stats *s = &j->stats;
    s->records += (uint64_t)sign * pc->records;
    for (int t = 0; t < EV_TYPE_COUNT; t++) s->ok[t] += (uint64_t)sign * pc->c.ok[t];
    s->duplicates += (uint64_t)sign * pc->c.duplicates;
    s->late += (uint64_t)sign * pc->c.late;
    s->rejected += (uint64_t)sign * pc->c.rejected;
    s->blank += (uint64_t)sign * pc->c.blank;
}

/* "5m0s", "1h0m0s", "30s": a duration in the words of the rejection reasons. */
static void fmt_duration(int64_t us, char *out, size_t n) {
    int64_t s = us / TIME_US_PER_SEC, h = s / 3600, m = s / 60 % 60;
    if (h)
        snprintf(out, n, "%" PRId64 "h%" PRId64 "m%" PRId64 "s", h, m, s % 60);
    else if (m)
        snprintf(out, n, "%" PRId64 "m%" PRId64 "s", m, s % 60);
    else
        snprintf(out, n, "%" PRId64 "s", s);
}

/* An event dated too far ahead would drag the watermark with it and make every later on-time
 * event late (one producer with a bad clock poisons every metric). So it may not advance the
 * watermark: it is rejected when it is more than max_future ahead of the reference time, which
 * is the processing clock for live input, and for a backfill the later of the clock and the
 * watermark (a backfill of old data is then never refused for gaps in its own time, and one
 * dated ahead of the clock is refused only when it also jumps past the watermark). The engine
 * has no clock: the job passes it here. 0, or 1 with the reason in *l (rejected). */
static int job_check_future(pipeline_job *j, lake_line *l) {
    int64_t mf = j->cfg->max_future_us;
    if (mf <= 0) return 0;
    int64_t ref = j->now_us;
    const char *what = "the processing clock";
    int64_t wm = stream_engine_watermark(j->engine);
    if (!j->live && wm != INT64_MIN && wm != INT64_MAX && wm > ref) {
        ref = wm;
        what = "the watermark";
    }
    if (l->ev.ts_us <= ref || l->ev.ts_us - ref <= mf) return 0;
    char ts[25], rs[25], d[32], reason[160];
    time_format_ms(l->ev.ts_us, ts);
    time_format_ms(ref, rs);
    fmt_duration(mf, d, sizeof d);
    snprintf(reason, sizeof reason, "timestamp %s more than %s ahead of %s %s", ts, d, what, rs);
    lake_line_reject(l, reason);
    j->stats.future++;
    return 1;
}

/* Decides what becomes of one parsed record read at (part, offset) of input stream src: counts
 * it; events go to the engine: duplicates are counted and not written again; an event dated too
 * far ahead (job_check_future), one the engine refuses (its time) and a conflicting duplicate
 * (its id seen with other content) are rejected (l is turned into a rejected line); late events
 * are counted, written to the raw tables and excluded from windows (by the engine). Returns 1
 * when l is to be written (lake_ingest_write; blank lines only count there), 0 when not (a
 * duplicate). The engine's order is the input's: the worker threads (workers.c) parse and write
 * in parallel, but this runs in the job's thread, record after record. */
int job_decide(pipeline_job *j, int part, int src, int64_t offset, lake_line *l, const stream_event_keys *keys) {
    j->stats.records++;
    part_counts *pc = job_counts_of(j, part);
    pc->records++;
    if (l->kind == LAKE_LINE_EVENT && !job_check_future(j, l)) {
        int oc = keys ? stream_engine_process_keyed(j->engine, part, src, offset, &l->ev, keys)
                      : stream_engine_process_from(j->engine, part, src, offset, &l->ev);
        if (oc < 0) {
            lake_line_reject(l, "timestamp out of range");
        } else if (oc == STREAM_CONFLICT) {
            char why[128];
            snprintf(why, sizeof why, "conflicting duplicate of event_id %.*s (other content than the first)",
                     (int)(l->ev.event_id.n > 64 ? 64 : l->ev.event_id.n), l->ev.event_id.p);
            lake_line_reject(l, why);
            j->stats.conflicts++;
        } else if (oc == STREAM_DUPLICATE) {
            j->stats.duplicates++;
            pc->c.duplicates++;
            return 0;
        } else if (oc == STREAM_LATE) {
            j->stats.late++;
            pc->c.late++;
        } else {
            j->stats.ok[l->ev.type]++;
            pc->c.ok[l->ev.type]++;
        }
    }
    if (l->kind == LAKE_LINE_BLANK) {
        j->stats.blank++;
        pc->c.blank++;
    }
    if (l->kind == LAKE_LINE_REJECTED) {
        j->stats.rejected++;
        pc->c.rejected++;
    }
    return 1;
}

/* Parses, decides (job_decide) and writes one record through the lake's ingest path (lake.h):
 * the one-thread loop. */
static int job_process(pipeline_job *j, const char *source, int part, int src, int64_t offset, const char *p,
                       size_t n, int64_t ts_hint_us) {
    lake_input in = {.p = p, .n = n, .source = source, .position = offset, .ts_hint_us = ts_hint_us};
    lake_line l;
    lake_ingest_parse(j->ingest, &in, &l);
    if (!job_decide(j, part, src, offset, &l, NULL)) return 0;
    lake_table *t = l.kind == LAKE_LINE_BLANK ? NULL : job_raw_table(j, lake_line_table(&l), part);
    if (l.kind != LAKE_LINE_BLANK && !t) return -1;
    return lake_ingest_write(j->ingest, &l, t, j->now_us, j->err, sizeof j->err);
}

/* ---- commit (the steps in pipeline.h, written once for both layouts) ---- */

/* Close the lineage's tables and collect their renames (single layout: every staged rename,
 * borrowed from the staging list; a partition: its own, taken out of the list). */
static int lineage_close(pipeline_job *j, int part, rename_pair **rn, size_t *nrn) {
    if (part < 0) {
        int rc = j->workers ? workers_close_tables(j) : 0;
        rc = close_tables(j, j->raw, LAKE_RAW_COUNT, rc);
        rc = close_tables(j, j->metric, METRIC_TABLE_MAX, rc);
        *rn = (rename_pair *)staging_renames(j->st);
        *nrn = staging_count(j->st);
        if (rc) epoch_abort_tables(j);
        return rc;
    }
    char pre[48];
    lake_part_prefix(part, pre, sizeof pre);
    int rc = job_close_part_tables(j, part);
    if (staging_take(j->st, pre, rn, nrn)) {
        snprintf(j->err, sizeof j->err, "out of memory");
        rc = -1;
    }
    if (rc) {
        job_abort_part_tables(j, part);
        rename_pairs_free(*rn, *nrn);
    }
    return rc;
}

/* The record of lineage part: its input position, counters, checkpoints and renames. */
static commit_record lineage_record(pipeline_job *j, int part, rename_pair *rn, size_t nrn) {
    commit_record r = {.nparts = j->nparts, .part = part, .offsets = j->offsets, .renames = rn, .n_renames = nrn};
    if (part < 0) {
        r.epoch = j->epoch;
        r.generation = j->lease.gen;
        r.kind = j->src.ops->kind;
        r.file_offset = j->in_offset;
        r.records = j->stats.records;
        r.counts = stats_counts(&j->stats);
    } else {
        r.epoch = j->seq[part];
        r.generation = j->part_lease[part].gen;
        r.kind = COMMIT_PARTITION;
        r.records = j->pc[part].records;
        r.counts = j->pc[part].c;
    }
    return r;
}

/* Whether lineage part still holds its lease (the single layout also renews it: a commit is a
 * heartbeat). A lease taken over marks the job fenced: it stops writing. 0 or -1 with j->err. */
static int lineage_fence(pipeline_job *j, int part, bool renew) {
    writer_lease *l = part < 0 ? &j->lease : &j->part_lease[part];
    int rc = renew ? lease_renew(j->base, l, j->err, sizeof j->err) : lease_check(j->base, l, j->err, sizeof j->err);
    if (rc == LEASE_FENCED) j->fenced = true;
    return rc ? -1 : 0;
}

int job_commit_lineage(pipeline_job *j, int part) {
    rename_pair *rn = NULL;
    size_t nrn = 0;
    if (lineage_close(j, part, &rn, &nrn)) return -1;
    commit_record r = lineage_record(j, part, rn, nrn);
    int rc = (r.ckpt = calloc((size_t)j->nparts, sizeof *r.ckpt)) ? lineage_fence(j, part, part < 0) : -1;
    if (!r.ckpt) snprintf(j->err, sizeof j->err, "out of memory");
    ckpt_chain *chain = &j->chains[part < 0 ? 0 : part], next = {0};
    if (rc == 0) rc = ckpt_write(j, &r, chain, &next);
    /* The fence right before the commit point: a writer whose lease was taken over since the
     * check above (it was paused, say) does not even try. One paused between this check and
     * the put is refused by the put itself: its number was claimed by its successor. */
    if (rc == 0) rc = lineage_fence(j, part, false);
    if (rc == 0 && (rc = commit_record_put(j->base, part, &r, j->err, sizeof j->err)) == LEASE_FENCED) {
        j->fenced = true;
        rc = -1;
    }
    /* From here the lineage is committed: a failure below is finished by recovery (or by the
     * partition's next owner). Its checkpoint chain is the one the record names. */
    if (rc == 0) {
        ckpt_chain_free(chain);
        *chain = next;
    } else {
        ckpt_chain_free(&next);
    }
    for (size_t i = 0; rc == 0 && i < nrn; i++)
        rc = storage_rename(j->base, rn[i].from, rn[i].to, j->err, sizeof j->err);
    if (rc == 0) {
        j->stats.files_committed += nrn;
        rc = commit_log_compact_keep(j->base, part, &r, j->err, sizeof j->err);
    }
    for (int p = 0; r.ckpt && p < j->nparts; p++) free(r.ckpt[p]);
    free(r.ckpt);
    for (size_t i = 0; i < r.n_deltas; i++) free(r.deltas[i]);
    free(r.deltas);
    if (part >= 0) {
        rename_pairs_free(rn, nrn);
        if (rc == 0) j->seq[part]++;
    } else if (rc) {
        epoch_abort_tables(j); /* counted by the caller, like every other failure of the epoch */
    } else {
        staging_clear(j->st);
    }
    return rc;
}

/* Commits the epoch: the single layout's one lineage, or each owned partition's (scale-out),
 * then tells the input what is committed. */
static int job_commit(pipeline_job *j) {
    if (!j->cfg->scale_out && job_commit_lineage(j, -1)) return -1;
    for (int p = 0; j->cfg->scale_out && p < j->nparts; p++)
        if (j->owned[p] && job_commit_lineage(j, p)) return -1;
    if (j->src.ops->committed) j->src.ops->committed(&j->src, j->cfg->scale_out ? j->owned : NULL);
    j->stats.epochs++;
    j->epoch++;
    return 0;
}

/* ---- setup and recovery ---- */

int job_make_engine(pipeline_job *j) {
    stream_config ec = j->cfg->engine;
    ec.n_partitions = j->nparts;
    ec.n_sources = j->src.ops->nstreams;
    ec.mode = j->cfg->scale_out ? STREAM_EMIT_PARTIAL : STREAM_EMIT_MERGED;
    stream_sink sink = metric_sink(j);
    stream_engine_free(j->engine);
    j->engine = stream_engine_new(&ec, &sink, j->err, sizeof j->err);
    return j->engine ? 0 : -1;
}

/* Takes ROOT's lease at start, or (a retry after a storage error) checks that it still holds
 * it. 0, COMMIT_REFUSED (another writer holds it, or took it over: fenced) or -1. */
static int job_take_lease(pipeline_job *j) {
    int rc = j->lease.gen ? lease_check(j->base, &j->lease, j->err, sizeof j->err)
                          : lease_acquire(j->base, &j->lease, false, j->err, sizeof j->err);
    if (rc == LEASE_FENCED) j->fenced = true;
    return rc == LEASE_FENCED ? COMMIT_REFUSED : rc;
}

/* Why at a first start only: the stream's metric tables count what the stream read; rows another
 * writer (ecom load) put into the raw tables before it would be in no metric, silently. Once the
 * stream has a commit log, a load into ROOT is refused unless the user allowed it (cmd_load.c).
 * 0, COMMIT_REFUSED naming a part, or -1. */
static int job_refuse_loaded_root(pipeline_job *j) {
    bool found = false;
    char first[128];
    if (root_raw_parts(j->base, &found, first, sizeof first, j->err, sizeof j->err)) return -1;
    if (!found) return 0;
    snprintf(j->err, sizeof j->err, "ROOT's raw tables hold rows no ecom stream wrote (%s: ecom load's); its metric "
             "tables would never count them: use another --out, stream that input instead of loading it, or give "
             "--allow-uncounted (ecom stream, ecom run)", first);
    return COMMIT_REFUSED;
}

/* Brings the job to the state of the newest commit: files, engine state, input offsets,
 * counters. Scale-out: to owning nothing (partitions are taken over one by one on assignment).
 * 0, -1 (a storage error: worth retrying) or COMMIT_REFUSED (ROOT refuses this job). */
static int job_recover(pipeline_job *j) {
    /* Here, not at open: reading (or writing) the lake's version file may meet a storage error,
     * which is retried like any failed epoch; a refusal (another layout or zone) is final. */
    int lr = lake_layout_open(j->base, &j->tz, j->err, sizeof j->err);
    if (lr) return lr == LAKE_REFUSED ? COMMIT_REFUSED : -1;
    if (j->cfg->scale_out) return scaleout_reset(j);
    int rc = layout_check(j->base, false, j->nparts, j->err, sizeof j->err);
    if (rc == 0) rc = job_take_lease(j);
    if (rc) return rc;
    commit_record r;
    if ((rc = commit_log_read_latest(j->base, &r, j->err, sizeof j->err))) return rc;
    if (rc == 0 && r.epoch < 0 && !j->cfg->allow_uncounted) rc = job_refuse_loaded_root(j);
    if (rc == 0 && r.epoch >= 0 && (r.kind != j->src.ops->kind || r.nparts != j->nparts)) {
        snprintf(j->err, sizeof j->err,
                 "ROOT holds the commit log of another input (%s with %d partitions); use another --out",
                 r.kind == COMMIT_FILE ? "a file" : "Kafka", r.nparts);
        rc = COMMIT_REFUSED;
    }
    /* Before any sweep or restore: the next record number becomes ours (commit.c). */
    if (rc == 0) rc = commit_log_claim(j->base, -1, &r, j->src.ops->kind, j->nparts, j->lease.gen, j->err,
                                       sizeof j->err);
    if (rc == LEASE_FENCED) {
        j->fenced = true;
        rc = COMMIT_REFUSED;
    }
    if (rc == 0) rc = commit_log_recover_files(j->base, &r, j->err, sizeof j->err);
    /* A fresh input (a new in-memory broker) holds nothing from before this start, so the
     * window it starts in is partial: the mark tells the dashboard (lake.h). Idempotent. */
    if (rc == 0 && j->cfg->fresh_input) rc = lake_input_start_mark(j->base, j->fresh_start_us, j->err, sizeof j->err);
    /* ... and the marks are folded into one file: the directory the dashboard lists stays small */
    if (rc == 0 && j->cfg->fresh_input) rc = pipeline_marks_fold(j->base, j->err, sizeof j->err);
    if (rc == 0) rc = job_make_engine(j);
    if (rc == 0 && r.epoch >= 0)
        rc = ckpt_restore(j, &r, -1, time_mono_us(), &j->chains[0]);
    else
        ckpt_chain_free(&j->chains[0]);
    if (rc == 0) {
        bool keep = r.epoch >= 0 && r.offsets && !j->cfg->fresh_input;
        for (int p = 0; p < j->nparts; p++)
            for (int t = 0; t < KAFKA_NTOPICS; t++) j->offsets[p][t] = keep ? r.offsets[p][t] : -1;
        j->in_offset = r.epoch >= 0 ? r.file_offset : 0;
        part_counts pc = {0};
        if (r.epoch >= 0) pc = (part_counts){r.records, r.counts};
        j->stats.records = 0;
        memset(j->stats.ok, 0, sizeof j->stats.ok);
        j->stats.duplicates = j->stats.late = j->stats.rejected = j->stats.blank = 0;
        job_stats_add(j, &pc, 1);
        j->epoch = r.epoch + 1;
    }
    commit_record_free(&r);
    return rc;
}

static int job_open(pipeline_job *j, const pipeline_config *c) {
    j->cfg = c;
    j->started_us = time_mono_us();
    j->now_us = j->fresh_start_us = time_now_us();
    lease_init(&j->lease, LEASE_DIR, c->lease_timeout_us);
    if (!(j->base = storage_open_opts(c->out_root, c->storage, j->err, sizeof j->err))) return -1;
    /* Test-only (faults.c): the recovery tests fail chosen storage calls of a real run. */
    const char *faults = getenv("ECOM_TEST_STORAGE_FAULTS");
    if (faults && *faults && !(j->base = faults_wrap(j->base, faults, j->err, sizeof j->err))) return -1;
    if (!(j->st = staging_new(j->base, &j->stage, j->err, sizeof j->err))) return -1;
    if (lake_tz_open(&j->tz, c->time_zone, j->err, sizeof j->err)) return -1;
    if (!(j->ingest = lake_ingest_new(&j->tz))) {
        snprintf(j->err, sizeof j->err, "out of memory");
        return -1;
    }
    for (int t = 0; t < LAKE_RAW_COUNT; t++)
        if (!(j->raw_schema[t] = lake_raw_schema((lake_raw)t, j->err, sizeof j->err))) return -1;
    for (int m = 0; m < metric_table_count(); m++)
        if (!(j->metric_schema[m] = metric_table_schema(m, c->scale_out, j->err, sizeof j->err)))
            return -1;
    if (c->engine.window_us > 0) {   /* else the engine refuses the config */
        snprintf(j->funnel_horizon, sizeof j->funnel_horizon, "%" PRId64, stream_config_funnel_horizon_us(&c->engine));
        j->metric_kv[0] = PIPELINE_KV_FUNNEL_HORIZON;
        j->metric_kv[1] = j->funnel_horizon;
    }
    return 0;
}

static int job_alloc_offsets(pipeline_job *j) {
    j->offsets = malloc(sizeof *j->offsets * (size_t)j->nparts);
    j->high = calloc((size_t)j->nparts, sizeof *j->high);
    j->pc = calloc((size_t)j->nparts, sizeof *j->pc);
    j->chains = calloc(j->cfg->scale_out ? (size_t)j->nparts : 1, sizeof *j->chains);
    if (!j->offsets || !j->high || !j->pc || !j->chains || (j->cfg->scale_out && scaleout_alloc(j))) {
        snprintf(j->err, sizeof j->err, "out of memory");
        return -1;
    }
    for (int p = 0; p < j->nparts; p++)
        for (int t = 0; t < KAFKA_NTOPICS; t++) j->offsets[p][t] = j->high[p][t] = -1;
    return 0;
}

static void job_close(pipeline_job *j) {
    j->closing = true; /* the loop committed what it could: leaving the group commits nothing */
    workers_stop(j);
    source_close(&j->src);
    epoch_abort_tables(j);
    stream_engine_free(j->engine);
    lake_ingest_free(j->ingest);
    for (int t = 0; t < LAKE_RAW_COUNT; t++) pq_schema_free(j->raw_schema[t]);
    for (int m = 0; m < METRIC_TABLE_MAX; m++) pq_schema_free(j->metric_schema[m]);
    metric_sink_free(j);
    staging_free(j->st);
    storage_close(j->base);
    free(j->offsets);
    free(j->high);
    free(j->pc);
    for (int p = 0; j->chains && p < (j->cfg->scale_out ? j->nparts : 1); p++) ckpt_chain_free(&j->chains[p]);
    free(j->chains);
    buf_free(&j->ckpt_buf);
    scaleout_free(j);
    status_server_stop(j->status);
}

/* ---- status ---- */

static void job_publish_status(pipeline_job *j) {
    if (!j->status) return;
    buf_t json = {0}, prom = {0};
    if (job_status_render(j, &json, &prom) == 0)
        status_server_publish(j->status, json.data, json.len, prom.data, prom.len);
    buf_free(&json);
    buf_free(&prom);
}

static void job_status_line(pipeline_job *j, int64_t now, int64_t *last_us, uint64_t *last_records) {
    if (j->cfg->quiet || now - *last_us < 2 * TIME_US_PER_SEC) return;
    double rate = (double)(j->stats.records - *last_records) * 1e6 / (double)(now - *last_us);
    char wm[25] = "-";
    int64_t w = stream_engine_watermark(j->engine);
    if (w != INT64_MIN) time_format_ms(w, wm);
    fprintf(stderr,
            "stream: %.0f records/s, %" PRIu64 " records, %" PRIu64 " rejected, %" PRIu64 " late, %" PRIu64
            " dup, epoch %" PRId64 ", watermark %s\n",
            rate, j->stats.records, j->stats.rejected, j->stats.late, j->stats.duplicates, j->epoch, wm);
    *last_us = now;
    *last_records = j->stats.records;
}

/* ---- the epoch loop (one for every source) ---- */

/* Retries a failed epoch: rolls back to the last commit (files, engine, offsets) with
 * exponential backoff, up to the retry limit. The input is then re-read from the committed
 * position (source seek). */
static int job_rollback(pipeline_job *j, volatile sig_atomic_t *stop, int64_t *backoff_us, int64_t first_fail_us) {
    for (;;) {
        if (time_mono_us() - first_fail_us > j->cfg->retry_limit_us) return -1;
        if (!j->cfg->quiet) fprintf(stderr, "stream: storage error: %s; retrying\n", j->err);
        /* Publish now: a paused job must show its storage errors on /status and /metrics while
         * storage is down, not only after the next successful commit. */
        job_publish_status(j);
        int64_t until = time_mono_us() + *backoff_us;
        while (!*stop && time_mono_us() < until) usleep(20000);
        if (*stop) return -1;
        *backoff_us = *backoff_us * 2 > 10 * TIME_US_PER_SEC ? 10 * TIME_US_PER_SEC : *backoff_us * 2;
        epoch_abort_tables(j);
        int rc = job_recover(j);
        if (rc == 0) return 0;
        if (rc == COMMIT_REFUSED) return -1;
        j->stats.storage_errors++;
    }
}

#define BATCH_MAX 64            /* records per poll (a source may return fewer) */
#define BACKOFF_FIRST_US 200000 /* first retry delay after a failed epoch */
/* Live input: the status (open windows) is republished this soon after new events, instead of
 * once a second; the render costs ~0.1-1 ms at `ecom run`'s rates (bench/bench_latency.sh). */
#define STATUS_PUSH_US 50000

static bool job_stop_requested(const pipeline_job *j, volatile sig_atomic_t *stop) {
    return *stop || (j->cfg->max_events && (int64_t)j->stats.records >= j->cfg->max_events);
}

/* Whether this turn stops (commits and ends). With catch_up_on_stop (an in-memory broker whose
 * data is gone at exit), a stop first reads what the input still holds, for up to 10 s. */
static bool loop_stopping(pipeline_job *j, volatile sig_atomic_t *stop, loop_state *ls) {
    if (!job_stop_requested(j, stop)) return false;
    if (!j->stop_wall_us) j->stop_wall_us = time_now_us();
    if (!j->cfg->catch_up_on_stop || ls->caught_up || !j->src.ops->drained) return true;
    if (!ls->stop_seen) ls->stop_seen = time_mono_us();
    return time_mono_us() - ls->stop_seen >= 10 * TIME_US_PER_SEC;
}

/* Advances the engine's processing-time clock, first keeping the streams with unread data
 * from turning idle and, for live input, telling the engine which streams have nothing left
 * to read (the caught-up rule, stream.h: a sparse topic does not hold a live watermark back). */
static int loop_advance(pipeline_job *j, loop_state *ls, int64_t now) {
    ls->last_adv = now;
    ls->since_adv = 0;
    int64_t wall = time_now_us();
    for (int p = 0; p < j->nparts; p++)
        for (int s = 0; s < j->src.ops->nstreams; s++) {
            if (j->src.ops->backlogged(&j->src, p, s)) stream_engine_touch(j->engine, p, s);
            else if (j->live) stream_engine_caught_up(j->engine, p, s, wall);
        }
    return stream_engine_advance(j->engine, now, j->err, sizeof j->err);
}

int job_record_done(pipeline_job *j, loop_state *ls, const source_record *r) {
    source_consumed(&j->src, r);
    uint64_t every = j->src.ops->advance_records;
    return every && ++ls->since_adv >= every ? loop_advance(j, ls, time_mono_us()) : 0;
}

/* Polls one batch and processes it (with worker threads: workers_pump). *idle: no record came;
 * *end: the input ended. */
static loop_turn_result loop_read(pipeline_job *j, loop_state *ls, bool *idle, bool *end) {
    if (j->workers) return workers_pump(j, ls, idle, end);
    source_record rec[BATCH_MAX];
    size_t n = 0, max = BATCH_MAX;
    if (j->cfg->max_events && (uint64_t)j->cfg->max_events - j->stats.records < max)
        max = (size_t)((uint64_t)j->cfg->max_events - j->stats.records);
    int pr = j->src.ops->poll(&j->src, rec, max, &n, j->err, sizeof j->err);
    if (pr < 0) return TURN_FATAL;
    j->now_us = time_now_us();
    *end = pr == 1;
    *idle = n == 0;
    for (size_t i = 0; i < n; i++) {
        const source_record *r = &rec[i];
        if (job_process(j, r->name, r->part, r->stream, r->offset, r->val, r->len, r->ts_us) ||
            job_record_done(j, ls, r))
            return TURN_RETRY;
    }
    return TURN_GO_ON;
}

/* The window index the global watermark has reached: windows ending at or before k * w are
 * final. INT64_MIN while it is undefined (or after a flush). */
static int64_t job_final_k(const pipeline_job *j) {
    int64_t wm = stream_engine_watermark(j->engine), w = j->cfg->engine.window_us;
    if (wm == INT64_MIN || wm == INT64_MAX || w <= 0) return INT64_MIN;
    return wm / w - (wm % w < 0);
}

/* Whether live input made a recent window final since the last commit: the watermark reached
 * a window index the last commit had not, and that window ended within the lateness plus two
 * windows of the wall clock. Then the epoch commits now instead of at the interval, so a final
 * row is visible about when its window closes (docs/stream.md "Latency"). Only live input and
 * recent windows: a backfill or a catch-up closes windows every few milliseconds, and
 * committing each would write thousands of tiny files. */
static bool loop_final_due(pipeline_job *j, const loop_state *ls) {
    int64_t k = job_final_k(j), w = j->cfg->engine.window_us;
    if (!j->live || k == INT64_MIN || k <= ls->final_k) return false;
    return k * w >= time_now_us() - j->cfg->engine.lateness_us - 2 * w;
}

/* Commits the epoch when it is due (interval, a window made final, end of input, stop). */
static loop_turn_result loop_maybe_commit(pipeline_job *j, loop_state *ls, int64_t now, bool end, bool stopping) {
    if (!end && !stopping && now - ls->epoch_start < j->cfg->commit_interval_us && !loop_final_due(j, ls))
        return TURN_GO_ON;
    if (j->workers && workers_drain(j, ls)) return TURN_RETRY; /* the barrier: all read is decided and written */
    if (j->workers) workers_close_begin(j); /* their files close while this thread goes on with the commit */
    if (!end && !stopping && loop_advance(j, ls, time_mono_us())) return TURN_RETRY;
    if (job_commit(j)) return TURN_RETRY;
    ls->fail_since = 0;
    ls->backoff = BACKOFF_FIRST_US;
    ls->epoch_start = time_mono_us();
    job_publish_status(j);
    ls->last_pub = ls->epoch_start;
    ls->pub_records = j->stats.records;
    ls->final_k = job_final_k(j);
    return end || stopping ? TURN_DONE : TURN_GO_ON;
}

/* Renews ROOT's lease when a third of its timeout passed since the last renewal (commits renew
 * it too). A failed renewal is retried next turn (the commit's check decides); only a lease
 * taken over stops the job: -1 with j->err. */
static int loop_heartbeat(pipeline_job *j, int64_t now) {
    if (!j->lease.gen || now - j->lease.renewed_mono_us < j->lease.timeout_us / 3) return 0;
    char e[512];
    int rc = lease_renew(j->base, &j->lease, e, sizeof e);
    if (rc == LEASE_FENCED) {
        snprintf(j->err, sizeof j->err, "%s", e);
        j->fenced = true;
        return -1;
    }
    if (rc) {
        j->stats.storage_errors++;
        if (!j->cfg->quiet) fprintf(stderr, "stream: lease heartbeat failed: %s; retrying\n", e);
    }
    return 0;
}

/* One turn of the loop: read a batch; at the end of the input flush every window; pace the
 * engine's clock; commit when due; refresh the status. */
/* Whether the engine also advances by time (every advance_us). A regular file (a backfill) does
 * not: it advances only every advance_records records, so where the watermark moves, which
 * events are late and which ids the dedup horizon still holds depend on the file alone — two
 * runs, or one thread and N (workers.c), give the same tables. A live pipe and Kafka do, so
 * their windows close without waiting for more records. */
static bool loop_by_time(const pipeline_job *j) {
    return j->src.ops->advance_us && (j->live || !job_file_input(j));
}

/* Whether the 50 ms push of new events is worth rendering. With nobody following /status (no
 * long poll waiting), the once-a-second publish is enough when a push skipped now is made up at
 * the next turn, which comes within 50 ms when the source's poll never blocks for long (Kafka:
 * no ready op, source.h). A pipe's next turn waits for its next line, so there every push is made. */
static bool loop_push_wanted(const pipeline_job *j) {
    return j->src.ops->ready || status_server_followed(j->status);
}

static loop_turn_result loop_turn(pipeline_job *j, volatile sig_atomic_t *stop, loop_state *ls) {
    const source_ops *o = j->src.ops;
    bool stopping = loop_stopping(j, stop, ls), idle = true, end = false;
    loop_turn_result t = stopping ? TURN_GO_ON : loop_read(j, ls, &idle, &end);
    if (t != TURN_GO_ON) return t;
    if (idle && ls->stop_seen && !ls->caught_up && o->drained && o->drained(&j->src)) {
        ls->caught_up = true; /* caught up after a stop: the next turn commits and ends */
        return TURN_GO_ON;
    }
    if (idle && !end && !stopping && j->cfg->drain && o->drained && o->drained(&j->src)) end = true;
    /* Every record is decided: the workers write what is left and close their files meanwhile. */
    if (end && j->workers) workers_close_begin(j);
    if (end && stream_engine_flush(j->engine, j->err, sizeof j->err)) return TURN_RETRY;
    int64_t now = time_mono_us();
    if (!end && loop_by_time(j) && (idle || now - ls->last_adv >= o->advance_us) && loop_advance(j, ls, now))
        return TURN_RETRY;
    if (j->fenced) return TURN_FATAL;
    if (j->take_failed) return TURN_RETRY;
    if ((t = loop_maybe_commit(j, ls, now, end, stopping)) != TURN_GO_ON) return t;
    if (loop_heartbeat(j, now)) return TURN_FATAL;
    if (now - ls->last_lag >= TIME_US_PER_SEC) {
        ls->last_lag = now;
        if (o->refresh_lag) o->refresh_lag(&j->src);
        job_publish_status(j);
        ls->last_pub = now;
        ls->pub_records = j->stats.records;
    } else if (j->live && j->stats.records != ls->pub_records && now - ls->last_pub >= STATUS_PUSH_US &&
               loop_push_wanted(j)) {
        job_publish_status(j); /* live input: new events reach /status (and dash's push) within STATUS_PUSH_US */
        ls->last_pub = now;
        ls->pub_records = j->stats.records;
    }
    job_status_line(j, now, &ls->last_status, &ls->last_records);
    return TURN_GO_ON;
}

/* After a failed epoch: roll back to the last commit, then read again from its position. */
static int loop_recover(pipeline_job *j, volatile sig_atomic_t *stop, loop_state *ls) {
    if (j->fenced) return -1; /* retrying cannot help: another writer holds the lineage */
    workers_abort(j);         /* the slots read ahead are dropped: the seek reads them again */
    j->stats.storage_errors++;
    if (!ls->fail_since) ls->fail_since = time_mono_us();
    if (job_rollback(j, stop, &ls->backoff, ls->fail_since)) return -1;
    if (j->src.ops->seek(&j->src, j->err, sizeof j->err)) return -1;
    ls->epoch_start = time_mono_us();
    ls->last_records = j->stats.records; /* the counters went back to the commit: no negative rate */
    return 0;
}

/* Live input is read as it is produced (Kafka without --drain, stdin, a FIFO); a regular file
 * or a drained topic is a backfill (see job_check_future). */
static bool job_input_live(const pipeline_job *j) {
    if (!job_file_input(j)) return !j->cfg->drain;
    struct stat st;
    return !strcmp(j->cfg->input_path, "-") || stat(j->cfg->input_path, &st) != 0 || !S_ISREG(st.st_mode);
}

/* Opens the input, recovers the newest commit, and runs epochs until the input ends or a stop.
 * A storage error while recovering at start is retried like one during an epoch. */
static int job_run(pipeline_job *j, volatile sig_atomic_t *stop) {
    if (source_open(&j->src, j, j->err, sizeof j->err) || job_alloc_offsets(j)) return -1;
    j->live = job_input_live(j);
    int64_t now = time_mono_us();
    loop_state ls = {.epoch_start = now, .last_status = now, .backoff = BACKOFF_FIRST_US, .final_k = INT64_MIN};
    int rc = job_recover(j);
    if (rc == COMMIT_REFUSED || (rc ? loop_recover(j, stop, &ls) : j->src.ops->seek(&j->src, j->err, sizeof j->err)))
        return -1;
    ls.last_records = j->stats.records;
    job_publish_status(j); /* /status answers from the start, not after the first second */
    for (;;) {
        loop_turn_result t = loop_turn(j, stop, &ls);
        if (t == TURN_DONE) return 0;
        if (t == TURN_FATAL || (t == TURN_RETRY && loop_recover(j, stop, &ls))) return -1;
    }
}

/* Why a stop mark: a fresh input (ecom run's embedded broker) is gone at exit, so the window the
 * run stopped in holds only what came before the stop, and a next run's broker starts empty:
 * the dashboard marks that window partial, as it marks the one a start falls in (pipeline.h). */
static int job_mark_stop(pipeline_job *j) {
    char path[64];
    snprintf(path, sizeof path, "%s/%020lld.stop", LAKE_STARTS_DIR, (long long)j->stop_wall_us);
    return storage_put_atomic(j->base, path, "", 0, j->err, sizeof j->err);
}

int pipeline_run(const pipeline_config *c, volatile sig_atomic_t *stop, pipeline_stats *stats, char *err,
                 size_t errlen) {
    pipeline_job j;
    memset(&j, 0, sizeof j);
    if (c->scale_out && (c->input_path || c->fresh_input || c->catch_up_on_stop)) {
        snprintf(err, errlen, "scale-out needs Kafka input (a consumer group shares the partitions)");
        return -1;
    }
    if (c->threads < 1 || c->threads > PIPELINE_MAX_THREADS || (c->scale_out && c->threads > 1)) {
        snprintf(err, errlen, "threads must be 1..%d (1 with scale-out)", PIPELINE_MAX_THREADS);
        return -1;
    }
    int rc = job_open(&j, c);
    if (rc == 0 && c->threads > 1) rc = workers_start(&j, c->threads);
    if (rc == 0 && c->listen && !(j.status = status_server_start(c->listen, j.err, sizeof j.err))) rc = -1;
    if (rc == 0) rc = job_run(&j, stop);
    if (rc == 0 && c->fresh_input && j.stop_wall_us) rc = job_mark_stop(&j);
    if (rc == 0) job_publish_status(&j);
    if (!j.fenced) lease_release(j.base, &j.lease); /* the next writer need not wait for expiry */
    j.stats.watermark_us = j.engine ? stream_engine_watermark(j.engine) : INT64_MIN;
    if (stats) *stats = j.stats;
    if (rc) snprintf(err, errlen, "%s", j.err);
    job_close(&j);
    return rc;
}
