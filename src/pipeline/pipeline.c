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
    c->max_rows_per_file = 1000000;
    stream_config_default(&c->engine);
}

int64_t job_day_of(int64_t us) {
    int64_t d = 86400 * TIME_US_PER_SEC;
    return us >= 0 ? us / d : -((-us + d - 1) / d);
}

/* Index 0..2 of a topic name in the job's topics (views, cart, orders), or -1. */
int job_topic_index(const pipeline_job *j, const char *topic) {
    for (int k = 0; k < 3; k++)
        if (!strcmp(topic, j->cfg->topics[k])) return k;
    return -1;
}

/* ---- tables of the current epoch ---- */

static lake_opts job_lake_opts(const pipeline_job *j) {
    lake_opts o = {0};
    o.max_rows = j->cfg->max_rows_per_file;
    o.codec = PQ_ZSTD;
    return o;
}

/* File stems: the epoch (single instance), or the partition and its record's seq (scale-out:
 * a file holds one partition's rows, so its partition's record alone commits it, and a new
 * owner recognises the partition's debris by the name). */
static void epoch_stem(const pipeline_job *j, int part, char *out, size_t n) {
    if (j->cfg->scale_out)
        snprintf(out, n, "p%04d-s%012" PRId64, part, j->seq[part]);
    else
        snprintf(out, n, "e%012" PRId64, j->epoch);
}

static lake_table *job_table(pipeline_job *j, lake_table **slot, const char *name, const pq_schema *schema,
                             int part) {
    if (*slot) return *slot;
    if (j->cfg->scale_out && (part < 0 || part >= j->nparts || !j->owned[part])) {
        snprintf(j->err, sizeof j->err, "row of partition %d, which this instance does not own", part);
        return NULL;
    }
    char stem[48];
    epoch_stem(j, part, stem, sizeof stem);
    lake_opts o = job_lake_opts(j);
    *slot = lake_table_open(j->stage, name, schema, stem, &o, j->err, sizeof j->err);
    return *slot;
}

lake_table *job_metric_table(pipeline_job *j, metric_table m, int part) {
    lake_table **slot = j->cfg->scale_out && part >= 0 && part < j->nparts ? &j->pmetric[part][m] : &j->metric[m];
    return job_table(j, slot, metric_table_name(m), j->metric_schema[m], part);
}

static lake_table *job_raw_table(pipeline_job *j, lake_raw t, int part) {
    lake_table **slot = j->cfg->scale_out && part >= 0 && part < j->nparts ? &j->praw[part][t] : &j->raw[t];
    return job_table(j, slot, lake_raw_name(t), j->raw_schema[t], part);
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
    return close_tables(j, j->pmetric[part], METRIC_COUNT, rc);
}

void job_abort_part_tables(pipeline_job *j, int part) {
    close_tables(j, j->praw[part], LAKE_RAW_COUNT, -1);
    close_tables(j, j->pmetric[part], METRIC_COUNT, -1);
}

/* Closes (commits into the staging list) every table of the epoch. */
static int epoch_close_tables(pipeline_job *j) {
    int rc = 0;
    for (int t = 0; t < LAKE_RAW_COUNT; t++) {
        if (!j->raw[t]) continue;
        if (rc == 0)
            rc = lake_table_close(j->raw[t], j->err, sizeof j->err);
        else
            lake_table_abort(j->raw[t]);
        j->raw[t] = NULL;
    }
    for (int m = 0; m < METRIC_COUNT; m++) {
        if (!j->metric[m]) continue;
        if (rc == 0)
            rc = lake_table_close(j->metric[m], j->err, sizeof j->err);
        else
            lake_table_abort(j->metric[m]);
        j->metric[m] = NULL;
    }
    return rc;
}

static void epoch_abort_tables(pipeline_job *j) {
    for (int t = 0; t < LAKE_RAW_COUNT; t++) {
        lake_table_abort(j->raw[t]);
        j->raw[t] = NULL;
    }
    for (int m = 0; m < METRIC_COUNT; m++) {
        lake_table_abort(j->metric[m]);
        j->metric[m] = NULL;
    }
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
    return c;
}

void job_stats_add(pipeline_job *j, const part_counts *pc, int sign) {
    pipeline_stats *s = &j->stats;
    s->records += (uint64_t)sign * pc->records;
    for (int t = 0; t < EV_TYPE_COUNT; t++) s->ok[t] += (uint64_t)sign * pc->c.ok[t];
    s->duplicates += (uint64_t)sign * pc->c.duplicates;
    s->late += (uint64_t)sign * pc->c.late;
    s->rejected += (uint64_t)sign * pc->c.rejected;
}

static int write_rejected(pipeline_job *j, int part, const char *source, int64_t pos, const char *reason,
                          const char *p, size_t n, int64_t ts_us) {
    lake_table *t = job_raw_table(j, LAKE_REJECTED, part);
    if (!t) return -1;
    j->stats.rejected++;
    job_counts_of(j, part)->c.rejected++;
    return lake_append_rejected(t, job_day_of(ts_us), source, pos, reason, p, n, time_now_us(), j->err,
                                sizeof j->err);
}

/* Parses and processes one record read at (part, offset) of input `source`. Invalid records
 * go to `rejected`; duplicates are counted and not written again; late events are counted,
 * written to the raw tables and excluded from windows (by the engine). */
static int job_process(pipeline_job *j, const char *source, int part, int src, int64_t offset, const char *p,
                       size_t n, int64_t ts_hint_us) {
    event ev;
    char reason[256];
    j->stats.records++;
    part_counts *pc = job_counts_of(j, part);
    pc->records++;
    while (n && (p[n - 1] == '\n' || p[n - 1] == '\r')) n--;
    if (event_parse(j->parser, p, n, &ev, reason, sizeof reason)) {
        if (n == 0) return 0; /* blank line: nothing to keep */
        return write_rejected(j, part, source, offset, reason, p, n, ts_hint_us > 0 ? ts_hint_us : time_now_us());
    }
    int oc = stream_engine_process_from(j->engine, part, src, offset, &ev);
    if (oc < 0) return write_rejected(j, part, source, offset, "timestamp out of range", p, n, time_now_us());
    if (oc == STREAM_DUPLICATE) {
        j->stats.duplicates++;
        pc->c.duplicates++;
        return 0;
    }
    if (oc == STREAM_LATE) {
        j->stats.late++;
        pc->c.late++;
    } else {
        j->stats.ok[ev.type]++;
        pc->c.ok[ev.type]++;
    }
    lake_table *t = job_raw_table(j, lake_raw_of_event(ev.type), part);
    if (!t) return -1;
    return lake_append_event(t, &ev, j->now_us, j->err, sizeof j->err);
}

/* ---- commit ---- */

static int put_checkpoints(pipeline_job *j, commit_record *r) {
    buf_t b = {0};
    int rc = 0;
    for (int p = 0; p < j->nparts && rc == 0; p++) {
        stream_partition_stats ps;
        if (stream_engine_partition_stats(j->engine, p, &ps) || !ps.assigned) continue;
        buf_reset(&b);
        char path[128];
        snprintf(path, sizeof path, "%s/e%012" PRId64 "-p%d.ckpt", STATE_DIR, j->epoch, p);
        rc = stream_engine_checkpoint(j->engine, p, &b, j->err, sizeof j->err);
        if (rc == 0) rc = storage_put_atomic(j->base, path, b.data, b.len, j->err, sizeof j->err);
        if (rc == 0 && !(r->ckpt[p] = strdup(path))) rc = -1;
    }
    buf_free(&b);
    return rc;
}

/* Commits the current epoch (see pipeline.h). On failure nothing of it is visible unless the
 * commit record was written, in which case recovery finishes it. */
static int epoch_commit(pipeline_job *j) {
    if (epoch_close_tables(j)) {
        epoch_abort_tables(j);
        return -1;
    }
    commit_record r = {0};
    r.epoch = j->epoch;
    r.kind = j->in ? 1 : 0;
    r.nparts = j->nparts;
    r.offsets = j->offsets;
    r.file_offset = j->in_offset;
    r.records = j->stats.records;
    r.counts = stats_counts(&j->stats);
    r.part = -1;
    r.ckpt = calloc((size_t)j->nparts, sizeof *r.ckpt);
    r.renames = (rename_pair *)staging_renames(j->st);
    r.n_renames = staging_count(j->st);
    buf_t b = {0};
    int rc = r.ckpt ? put_checkpoints(j, &r) : -1;
    if (rc == 0) rc = commit_record_encode(&r, &b);
    char path[128];
    snprintf(path, sizeof path, "%s/%020" PRId64 ".commit", COMMIT_DIR, j->epoch);
    if (rc == 0) rc = storage_put_atomic(j->base, path, b.data, b.len, j->err, sizeof j->err);
    /* From here the epoch is committed: a failure below is finished by recovery. */
    for (size_t i = 0; rc == 0 && i < r.n_renames; i++)
        rc = storage_rename(j->base, r.renames[i].from, r.renames[i].to, j->err, sizeof j->err);
    if (rc == 0) j->stats.files_committed += r.n_renames;
    if (rc == 0) rc = commit_log_compact(j->base, j->epoch, j->err, sizeof j->err);
    if (r.ckpt)
        for (int p = 0; p < j->nparts; p++) free(r.ckpt[p]);
    free(r.ckpt);
    buf_free(&b);
    if (rc) { /* counted by the caller, like every other failure of the epoch */
        epoch_abort_tables(j);
        return -1;
    }
    if (j->consumer) {
        kafka_topic_partition *tp = calloc((size_t)j->nparts * 3, sizeof *tp);
        size_t k = 0;
        for (int p = 0; tp && p < j->nparts; p++)
            for (int t = 0; t < 3; t++)
                if (j->offsets[p][t] >= 0)
                    tp[k++] = (kafka_topic_partition){j->cfg->topics[t], p, j->offsets[p][t]};
        char e2[256];
        if (tp && k && kafka_consumer_commit(j->consumer, tp, k, e2, sizeof e2)) j->stats.kafka_errors++;
        free(tp);
    }
    staging_clear(j->st);
    j->stats.epochs++;
    j->epoch++;
    return 0;
}

/* ---- setup and recovery ---- */

int job_make_engine(pipeline_job *j) {
    stream_config ec = j->cfg->engine;
    ec.n_partitions = j->nparts;
    ec.n_sources = j->in ? 1 : 3;
    ec.mode = j->cfg->scale_out ? STREAM_EMIT_PARTIAL : STREAM_EMIT_MERGED;
    stream_sink sink = metric_sink(j);
    stream_engine_free(j->engine);
    j->engine = stream_engine_new(&ec, &sink, j->err, sizeof j->err);
    return j->engine ? 0 : -1;
}

/* Brings the job to the state of the newest commit: files, engine state, input offsets,
 * counters. Scale-out: to owning nothing (partitions are taken over one by one on assignment). */
static int job_recover(pipeline_job *j) {
    if (j->cfg->scale_out) return scaleout_reset(j);
    if (layout_check(j->base, false, j->nparts, j->err, sizeof j->err)) return -1;
    commit_record r;
    if (commit_log_read_latest(j->base, &r, j->err, sizeof j->err)) return -1;
    int rc = 0;
    if (r.epoch >= 0 && ((r.kind == 1) != (j->in != NULL) || r.nparts != j->nparts)) {
        snprintf(j->err, sizeof j->err,
                 "ROOT holds the commit log of another input (%s with %d partitions); use another --out",
                 r.kind ? "a file" : "Kafka", r.nparts);
        rc = -1;
    }
    if (rc == 0) rc = commit_log_recover_files(j->base, &r, j->err, sizeof j->err);
    if (rc == 0) rc = job_make_engine(j);
    for (int p = 0; rc == 0 && r.epoch >= 0 && p < j->nparts; p++) {
        if (!r.ckpt[p]) continue;
        storage_entry e;
        bool exists = false;
        buf_t b = {0};
        size_t got = 0;
        rc = storage_stat(j->base, r.ckpt[p], &e, &exists, j->err, sizeof j->err);
        if (rc == 0 && !exists) {
            snprintf(j->err, sizeof j->err, "checkpoint %s named by the commit log is missing", r.ckpt[p]);
            rc = -1;
        }
        if (rc == 0 && buf_reserve(&b, e.size)) rc = -1;
        if (rc == 0) rc = storage_read(j->base, r.ckpt[p], 0, b.data, e.size, &got, j->err, sizeof j->err);
        if (rc == 0)
            rc = stream_engine_restore(j->engine, p, b.data, got, time_mono_us(), j->err, sizeof j->err);
        buf_free(&b);
    }
    if (rc == 0) {
        bool keep = r.epoch >= 0 && r.offsets && !j->cfg->fresh_input;
        for (int p = 0; p < j->nparts; p++)
            for (int t = 0; t < 3; t++) j->offsets[p][t] = keep ? r.offsets[p][t] : -1;
        j->in_offset = r.epoch >= 0 ? r.file_offset : 0;
        part_counts pc = {0};
        if (r.epoch >= 0) pc = (part_counts){r.records, r.counts};
        j->stats.records = 0;
        memset(j->stats.ok, 0, sizeof j->stats.ok);
        j->stats.duplicates = j->stats.late = j->stats.rejected = 0;
        job_stats_add(j, &pc, 1);
        j->epoch = r.epoch + 1;
    }
    commit_record_free(&r);
    return rc;
}

static int job_open(pipeline_job *j, const pipeline_config *c) {
    j->cfg = c;
    j->started_us = time_mono_us();
    j->now_us = time_now_us();
    if (!(j->base = storage_open_opts(c->out_root, c->storage, j->err, sizeof j->err))) return -1;
    if (!(j->st = staging_new(j->base, &j->stage, j->err, sizeof j->err))) return -1;
    if (!(j->parser = event_parser_new())) {
        snprintf(j->err, sizeof j->err, "out of memory");
        return -1;
    }
    for (int t = 0; t < LAKE_RAW_COUNT; t++)
        if (!(j->raw_schema[t] = lake_raw_schema((lake_raw)t, j->err, sizeof j->err))) return -1;
    for (int m = 0; m < METRIC_COUNT; m++)
        if (!(j->metric_schema[m] = metric_table_schema((metric_table)m, c->scale_out, j->err, sizeof j->err)))
            return -1;
    return 0;
}

static int job_alloc_offsets(pipeline_job *j) {
    j->offsets = malloc(sizeof *j->offsets * (size_t)j->nparts);
    j->high = calloc((size_t)j->nparts, sizeof *j->high);
    j->pc = calloc((size_t)j->nparts, sizeof *j->pc);
    if (!j->offsets || !j->high || !j->pc || (j->cfg->scale_out && scaleout_alloc(j))) {
        snprintf(j->err, sizeof j->err, "out of memory");
        return -1;
    }
    for (int p = 0; p < j->nparts; p++)
        for (int t = 0; t < 3; t++) j->offsets[p][t] = j->high[p][t] = -1;
    return 0;
}

static void job_close(pipeline_job *j) {
    j->closing = true; /* the loop committed what it could: leaving the group commits nothing */
    kafka_consumer_free(j->consumer);
    j->consumer = NULL;
    epoch_abort_tables(j);
    if (j->in && j->in != stdin) fclose(j->in);
    stream_engine_free(j->engine);
    event_parser_free(j->parser);
    for (int t = 0; t < LAKE_RAW_COUNT; t++) pq_schema_free(j->raw_schema[t]);
    for (int m = 0; m < METRIC_COUNT; m++) pq_schema_free(j->metric_schema[m]);
    staging_free(j->st);
    storage_close(j->base);
    free(j->offsets);
    free(j->high);
    free(j->pc);
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

/* ---- the loops ---- */

/* Retries a failed epoch: rolls back to the last commit (files, engine, offsets) with
 * exponential backoff, up to the retry limit. The input is re-read from the committed position
 * by the caller (file: seek; Kafka: a new consumer). */
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
        if (job_recover(j) == 0) return 0;
        j->stats.storage_errors++;
    }
}

static int run_file(pipeline_job *j, volatile sig_atomic_t *stop) {
    const char *path = j->cfg->input_path;
    bool is_stdin = !strcmp(path, "-");
    j->in = is_stdin ? stdin : fopen(path, "rb");
    if (!j->in) {
        snprintf(j->err, sizeof j->err, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    j->nparts = 1;
    if (job_alloc_offsets(j) || job_recover(j)) return -1;
    char *line = NULL;
    size_t cap = 0;
    int rc = 0;
    int64_t backoff = 200000, fail_since = 0, last_status = time_mono_us(), last_line = 0;
    uint64_t last_records = j->stats.records;
    int64_t line_no = 0;
reposition:
    if (j->in_offset > 0) {
        if (is_stdin || fseeko(j->in, j->in_offset, SEEK_SET)) {
            snprintf(j->err, sizeof j->err, "cannot resume %s at byte %" PRId64 " (a commit log exists in ROOT)",
                     path, j->in_offset);
            rc = -1;
            goto out;
        }
    }
    line_no = (int64_t)j->stats.records;
    /* A regular file is read far faster than the clock needs to be: read the clocks every 64
     * lines (a vDSO call per line was ~3% of the run); a pipe may trickle, so every line. */
    struct stat in_st;
    bool clock_per_line = is_stdin || fstat(fileno(j->in), &in_st) || !S_ISREG(in_st.st_mode);
    int64_t epoch_start = time_mono_us(), mono = epoch_start;
    for (;;) {
        bool eof = false;
        ssize_t n = 0;
        if (clock_per_line || (line_no & 63) == 0) {
            mono = time_mono_us();
            j->now_us = time_now_us();
        }
        if (*stop || (j->cfg->max_events && (int64_t)j->stats.records >= j->cfg->max_events)) {
            eof = false;
        } else if ((n = getline(&line, &cap, j->in)) < 0) {
            eof = true;
        }
        bool stopping = *stop || (j->cfg->max_events && (int64_t)j->stats.records >= j->cfg->max_events);
        if (n > 0) {
            line_no++;
            if (job_process(j, path, 0, 0, line_no, line, (size_t)n, 0)) goto fail;
            j->in_offset += n;
            j->offsets[0][0] = line_no;
            if (line_no - last_line >= 4096) {
                last_line = line_no;
                if (stream_engine_advance(j->engine, time_mono_us(), j->err, sizeof j->err)) goto fail;
            }
        }
        if (eof && !stopping && stream_engine_flush(j->engine, j->err, sizeof j->err)) goto fail;
        if (eof || stopping || mono - epoch_start >= j->cfg->commit_interval_us) {
            if (!eof && !stopping && stream_engine_advance(j->engine, time_mono_us(), j->err, sizeof j->err))
                goto fail;
            if (epoch_commit(j)) goto fail;
            fail_since = 0;
            backoff = 200000;
            epoch_start = mono = time_mono_us();
            job_publish_status(j);
            if (eof || stopping) break;
        }
        job_status_line(j, mono, &last_status, &last_records);
        continue;
    fail:
        j->stats.storage_errors++;
        if (!fail_since) fail_since = time_mono_us();
        clearerr(j->in);
        if (job_rollback(j, stop, &backoff, fail_since)) {
            rc = -1;
            goto out;
        }
        goto reposition;
    }
out:
    free(line);
    return rc;
}

static void on_rebalance(void *ctx, int assigned, kafka_topic_partition *parts, size_t n) {
    pipeline_job *j = ctx;
    if (j->cfg->scale_out) {
        scaleout_on_rebalance(j, assigned, parts, n);
        return;
    }
    if (!assigned) return;
    for (size_t i = 0; i < n; i++) {
        int t = job_topic_index(j, parts[i].topic);
        int p = parts[i].partition;
        if (t < 0 || p < 0 || p >= j->nparts) continue;
        parts[i].offset = j->offsets[p][t] >= 0 ? j->offsets[p][t] : KAFKA_OFFSET_BEGINNING;
    }
    j->assigned_ready = true;
}

static int kafka_partitions(pipeline_job *j) {
    kafka_producer *pr = kafka_producer_new(j->cfg->brokers, j->cfg->kafka_timeout_us, j->err, sizeof j->err);
    if (!pr) return -1;
    int np = -1;
    for (int t = 0; t < 3; t++) {
        int k = kafka_producer_partitions(pr, j->cfg->topics[t], j->err, sizeof j->err);
        if (k < 0) {
            np = -1;
            break;
        }
        if (np >= 0 && k != np) {
            snprintf(j->err, sizeof j->err,
                     "topics are not co-partitioned (%s has %d partitions, %s has %d): the funnel join needs "
                     "equal counts",
                     j->cfg->topics[0], np, j->cfg->topics[t], k);
            np = -1;
            break;
        }
        np = k;
    }
    kafka_producer_free(pr);
    if (np > STREAM_MAX_PARTITIONS) {
        snprintf(j->err, sizeof j->err, "too many partitions (%d)", np);
        return -1;
    }
    j->nparts = np;
    return np > 0 ? 0 : -1;
}

static int kafka_connect(pipeline_job *j) {
    kafka_consumer_free(j->consumer);
    kafka_consumer_config kc = {0};
    kc.brokers = j->cfg->brokers;
    kc.group_id = j->cfg->group_id;
    kc.topics = j->cfg->topics;
    kc.ntopics = 3;
    kc.auto_offset_reset = "earliest";
    kc.timeout_us = j->cfg->kafka_timeout_us;
    kc.on_rebalance = on_rebalance;
    kc.ctx = j;
    j->consumer = kafka_consumer_new(&kc, j->err, sizeof j->err);
    return j->consumer ? 0 : -1;
}

/* Refreshes the high watermarks: from the consumer's cache for the status page (cheap), or
 * from the brokers (exact, a round trip per partition) when deciding whether --drain is done. */
static void kafka_refresh_lag(pipeline_job *j, bool exact) {
    for (int p = 0; p < j->nparts; p++)
        for (int t = 0; t < 3; t++) {
            int64_t lo = -1, hi = -1;
            char e2[128];
            int rc = exact ? kafka_consumer_watermarks(j->consumer, j->cfg->topics[t], p, &lo, &hi, 2000, e2, sizeof e2)
                           : kafka_consumer_watermarks_cached(j->consumer, j->cfg->topics[t], p, &lo, &hi);
            if (rc == 0 && hi >= 0) j->high[p][t] = hi;
        }
}

/* Keeps every topic-partition with unread data (or not known yet) from turning idle: the idle
 * rule is for partitions with nothing to send, not for ones we have not caught up with. */
static void kafka_touch_backlogged(pipeline_job *j) {
    for (int p = 0; p < j->nparts; p++)
        for (int t = 0; t < 3 && (!j->owned || j->owned[p]); t++) {
            int64_t lo = -1, hi = -1;
            if (kafka_consumer_watermarks_cached(j->consumer, j->cfg->topics[t], p, &lo, &hi) || hi < 0 ||
                j->offsets[p][t] < hi)
                stream_engine_touch(j->engine, p, t);
        }
}

/* True when every partition of every topic has been read up to the broker's high watermark. */
static bool kafka_drained(pipeline_job *j) {
    if (!j->assigned_ready) return false;
    /* scale-out: a backfill ends only when this instance owns every partition (the others
     * have left the group), so that every window can be flushed as final */
    for (int p = 0; j->owned && p < j->nparts; p++)
        if (!j->owned[p]) return false;
    kafka_refresh_lag(j, true);
    for (int p = 0; p < j->nparts; p++)
        for (int t = 0; t < 3; t++) {
            int64_t off = j->offsets[p][t] < 0 ? 0 : j->offsets[p][t];
            if (j->high[p][t] < 0 || off < j->high[p][t]) return false;
        }
    return true;
}

static int run_kafka(pipeline_job *j, volatile sig_atomic_t *stop) {
    if (kafka_partitions(j) || job_alloc_offsets(j) || job_recover(j)) return -1;
    if (kafka_connect(j)) return -1;
    int64_t epoch_start = time_mono_us(), last_adv = 0, last_status = time_mono_us(), last_lag = 0;
    int64_t backoff = 200000, fail_since = 0;
    uint64_t last_records = j->stats.records;
    char source[300];
    int64_t stop_seen = 0;
    bool caught_up = false;
    for (;;) {
        bool stopping = *stop || (j->cfg->max_events && (int64_t)j->stats.records >= j->cfg->max_events);
        if (stopping && j->cfg->catch_up_on_stop && !caught_up) {
            /* read what the (in-memory) broker still holds before the last commit */
            if (!stop_seen) stop_seen = time_mono_us();
            if (time_mono_us() - stop_seen < 10 * TIME_US_PER_SEC) stopping = false;
        }
        kafka_message m;
        int rc = stopping ? 0 : kafka_consumer_poll(j->consumer, 50, &m, j->err, sizeof j->err);
        if (rc < 0) return -1;
        j->now_us = time_now_us();
        if (rc == 1) {
            int t = job_topic_index(j, m.topic);
            if (t >= 0 && m.partition >= 0 && m.partition < j->nparts && (!j->owned || j->owned[m.partition])) {
                snprintf(source, sizeof source, "%s:%d", m.topic, m.partition);
                if (job_process(j, source, m.partition, t, m.offset, m.val ? m.val : "", m.vlen, m.timestamp_us))
                    goto fail;
                j->offsets[m.partition][t] = m.offset + 1;
            }
        }
        bool drained = false;
        if (rc == 0 && stop_seen && !caught_up && kafka_drained(j)) {
            caught_up = true;
            continue;
        }
        if (rc == 0 && j->cfg->drain && !stopping && kafka_drained(j)) {
            if (stream_engine_flush(j->engine, j->err, sizeof j->err)) goto fail;
            drained = stopping = true;
        }
        int64_t now = time_mono_us();
        if (!drained && (now - last_adv >= 50000 || rc == 0)) {
            last_adv = now;
            kafka_touch_backlogged(j);
            if (stream_engine_advance(j->engine, now, j->err, sizeof j->err)) goto fail;
        }
        if (j->take_failed) goto fail;
        if (stopping || now - epoch_start >= j->cfg->commit_interval_us) {
            if (j->cfg->scale_out ? scaleout_commit_all(j) : epoch_commit(j)) goto fail;
            fail_since = 0;
            backoff = 200000;
            epoch_start = time_mono_us();
            if (stopping) break;
        }
        if (now - last_lag >= TIME_US_PER_SEC) {
            last_lag = now;
            kafka_refresh_lag(j, false);
            job_publish_status(j);
        }
        job_status_line(j, now, &last_status, &last_records);
        continue;
    fail:
        j->stats.storage_errors++;
        if (!fail_since) fail_since = time_mono_us();
        if (job_rollback(j, stop, &backoff, fail_since) || kafka_connect(j)) return -1;
        epoch_start = time_mono_us();
    }
    return 0;
}

int pipeline_run(const pipeline_config *c, volatile sig_atomic_t *stop, pipeline_stats *stats, char *err,
                 size_t errlen) {
    pipeline_job j;
    memset(&j, 0, sizeof j);
    if (c->scale_out && (c->input_path || c->fresh_input || c->catch_up_on_stop)) {
        snprintf(err, errlen, "scale-out needs Kafka input (a consumer group shares the partitions)");
        return -1;
    }
    int rc = job_open(&j, c);
    if (rc == 0 && c->listen && !(j.status = status_server_start(c->listen, j.err, sizeof j.err))) rc = -1;
    if (rc == 0) rc = c->input_path ? run_file(&j, stop) : run_kafka(&j, stop);
    if (rc == 0) job_publish_status(&j);
    j.stats.watermark_us = j.engine ? stream_engine_watermark(j.engine) : INT64_MIN;
    if (stats) *stats = j.stats;
    if (rc) snprintf(err, errlen, "%s", j.err);
    job_close(&j);
    return rc;
}
