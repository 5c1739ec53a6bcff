/*
 * pipeline/scaleout.c — `ecom stream --scale-out`: several instances in one consumer group share
 * the partitions, each keeping its own partitions' state, output files and commit lineage
 * (protocol in pipeline.h and docs/stream.md).
 *
 * Why one lineage per partition: the three topics are co-partitioned by user_id, so partition
 * p of every topic is one engine shard whose state depends on p's events only. If everything
 * p contributed to ROOT (its engine checkpoint, its three topic offsets, its counters and the
 * files holding only its rows) is tied together by one record of p's own, then whoever owns p
 * next can continue exactly where p's last record ends, without knowing anything about the
 * other partitions or the instance that wrote it.
 *
 *   _ecom/layout                          "ecom-layout 1 / scale-out <N>", written at first start
 *   _ecom/parts/p<NNNN>/<seq>.commit      p's newest record (commit.c format, "kafka-partition")
 *   _ecom/parts/p<NNNN>/<seq>.ckpt        the engine checkpoint that record names
 *   <table>/date=D/part-p<NNNN>-s<seq>-<k>.parquet   files with p's rows only
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/pipeline_internal.h"

int scaleout_alloc(pipeline_job *j) {
    size_t n = (size_t)j->nparts;
    j->owned = calloc(n, sizeof *j->owned);
    j->seq = calloc(n, sizeof *j->seq);
    j->praw = calloc(n, sizeof *j->praw);
    j->pmetric = calloc(n, sizeof *j->pmetric);
    if (!j->owned || !j->seq || !j->praw || !j->pmetric) {
        snprintf(j->err, sizeof j->err, "out of memory");
        return -1;
    }
    return 0;
}

void scaleout_free(pipeline_job *j) {
    free(j->owned);
    free(j->seq);
    free(j->praw);
    free(j->pmetric);
    j->owned = NULL;
    j->seq = NULL;
    j->praw = NULL;
    j->pmetric = NULL;
}

/* Drops partition part's uncommitted renames from the staging list. */
static void drop_part_renames(pipeline_job *j, int part) {
    char pre[48];
    rename_pair *v;
    size_t n;
    part_file_prefix(part, pre, sizeof pre);
    if (staging_take(j->st, pre, &v, &n) == 0) rename_pairs_free(v, n);
}

int scaleout_reset(pipeline_job *j) {
    if (layout_check(j->base, true, j->nparts, j->err, sizeof j->err)) return -1;
    for (int p = 0; p < j->nparts; p++) {
        job_abort_part_tables(j, p);
        j->owned[p] = false;
        j->seq[p] = 0;
        memset(&j->pc[p], 0, sizeof j->pc[p]);
        for (int t = 0; t < 3; t++) j->offsets[p][t] = -1;
    }
    staging_clear(j->st);
    j->stats.records = j->stats.duplicates = j->stats.late = j->stats.rejected = 0;
    memset(j->stats.ok, 0, sizeof j->stats.ok);
    j->take_failed = false;
    if (job_make_engine(j)) return -1;
    for (int p = 0; p < j->nparts; p++) stream_engine_revoke(j->engine, p);
    return 0;
}

/* Commits partition part: its files, checkpoint, offsets and counters in one record of its
 * own (the commit point), then the renames, then compaction of its older records. On failure
 * before the record nothing of the partition's current seq is visible (its hidden files are
 * debris for the next owner to sweep); after it, the next owner finishes the renames. */
static int part_commit(pipeline_job *j, int part) {
    rename_pair *rn = NULL;
    size_t nrn = 0;
    char pre[48], dir[64], ckpath[128], path[128];
    part_file_prefix(part, pre, sizeof pre);
    part_dir(part, dir, sizeof dir);
    int rc = job_close_part_tables(j, part);
    if (staging_take(j->st, pre, &rn, &nrn)) {
        snprintf(j->err, sizeof j->err, "out of memory");
        rc = -1;
    }
    if (rc) {
        job_abort_part_tables(j, part);
        rename_pairs_free(rn, nrn);
        return -1;
    }
    snprintf(ckpath, sizeof ckpath, "%s/%020" PRId64 ".ckpt", dir, j->seq[part]);
    snprintf(path, sizeof path, "%s/%020" PRId64 ".commit", dir, j->seq[part]);
    buf_t b = {0};
    rc = stream_engine_checkpoint(j->engine, part, &b, j->err, sizeof j->err);
    if (rc == 0) rc = storage_put_atomic(j->base, ckpath, b.data, b.len, j->err, sizeof j->err);
    char **ck = calloc((size_t)j->nparts, sizeof *ck);
    if (!ck) rc = -1;
    if (rc == 0) {
        ck[part] = ckpath;
        commit_record r = {.epoch = j->seq[part], .kind = COMMIT_PARTITION, .nparts = j->nparts, .part = part,
                           .offsets = j->offsets, .records = j->pc[part].records, .counts = j->pc[part].c,
                           .ckpt = ck, .renames = rn, .n_renames = nrn};
        buf_reset(&b);
        rc = commit_record_encode(&r, &b);
        if (rc == 0) rc = storage_put_atomic(j->base, path, b.data, b.len, j->err, sizeof j->err);
    }
    /* From here the partition's seq is committed. */
    for (size_t i = 0; rc == 0 && i < nrn; i++)
        rc = storage_rename(j->base, rn[i].from, rn[i].to, j->err, sizeof j->err);
    if (rc == 0) {
        j->stats.files_committed += nrn;
        rc = part_log_compact(j->base, part, j->seq[part], j->err, sizeof j->err);
    }
    if (rc == 0) j->seq[part]++;
    free(ck);
    buf_free(&b);
    rename_pairs_free(rn, nrn);
    return rc;
}

/* Commits the Kafka offsets of the partitions in want[] (informational: the records are the
 * truth; this is what lag monitors read). */
static void commit_kafka_offsets(pipeline_job *j, const bool *want) {
    if (!j->consumer) return;
    kafka_topic_partition *tp = calloc((size_t)j->nparts * 3, sizeof *tp);
    size_t k = 0;
    for (int p = 0; tp && p < j->nparts; p++)
        for (int t = 0; t < 3; t++)
            if (want[p] && j->offsets[p][t] >= 0)
                tp[k++] = (kafka_topic_partition){j->cfg->topics[t], p, j->offsets[p][t]};
    char e2[256];
    if (!tp || (k && kafka_consumer_commit(j->consumer, tp, k, e2, sizeof e2))) j->stats.kafka_errors++;
    free(tp);
}

int scaleout_commit_all(pipeline_job *j) {
    for (int p = 0; p < j->nparts; p++)
        if (j->owned[p] && part_commit(j, p)) return -1;
    commit_kafka_offsets(j, j->owned);
    j->stats.epochs++;
    j->epoch++;
    return 0;
}

/* Reads a whole (small) file of ROOT into b. */
static int read_all(pipeline_job *j, const char *path, buf_t *b) {
    storage_entry e;
    bool exists = false;
    size_t got = 0;
    if (storage_stat(j->base, path, &e, &exists, j->err, sizeof j->err)) return -1;
    if (!exists) {
        snprintf(j->err, sizeof j->err, "checkpoint %s named by the commit log is missing", path);
        return -1;
    }
    if (buf_reserve(b, e.size) || storage_read(j->base, path, 0, b->data, e.size, &got, j->err, sizeof j->err))
        return -1;
    b->len = got;
    return 0;
}

/* Takes partition part over from its newest record: redo its renames, restore its engine
 * shard, resume its three topic-partitions at the recorded offsets, continue its counters
 * and seq. No record: the partition starts empty, from the beginning of its topics. */
static int part_take(pipeline_job *j, int part, int64_t now_us) {
    commit_record r;
    if (part_log_read_latest(j->base, part, &r, j->err, sizeof j->err)) return -1;
    int rc = part_log_recover_files(j->base, &r, j->err, sizeof j->err);
    if (rc == 0 && r.epoch >= 0 && r.ckpt[part]) {
        buf_t b = {0};
        rc = read_all(j, r.ckpt[part], &b);
        if (rc == 0) rc = stream_engine_restore(j->engine, part, b.data, b.len, now_us, j->err, sizeof j->err);
        buf_free(&b);
    } else if (rc == 0) {
        rc = stream_engine_assign(j->engine, part, now_us);
        if (rc) snprintf(j->err, sizeof j->err, "cannot assign partition %d", part);
    }
    if (rc == 0) {
        for (int t = 0; t < 3; t++) j->offsets[part][t] = r.epoch >= 0 ? r.offsets[part][t] : -1;
        j->seq[part] = r.epoch + 1;
        j->pc[part] = r.epoch >= 0 ? (part_counts){r.records, r.counts} : (part_counts){0};
        job_stats_add(j, &j->pc[part], 1);
        j->owned[part] = true;
    } else {
        stream_engine_revoke(j->engine, part);
    }
    commit_record_free(&r);
    return rc;
}

/* Drops partition part's tables, state and counters from this instance (after its commit on
 * a graceful revoke, or without one when rolling back). */
static void part_release(pipeline_job *j, int part) {
    job_abort_part_tables(j, part);
    drop_part_renames(j, part);
    stream_engine_revoke(j->engine, part);
    job_stats_add(j, &j->pc[part], -1);
    memset(&j->pc[part], 0, sizeof j->pc[part]);
    for (int t = 0; t < 3; t++) j->offsets[part][t] = -1;
    j->owned[part] = false;
}

/* The partitions named by a rebalance (each topic-partition of p counts once). */
static void distinct_parts(pipeline_job *j, const kafka_topic_partition *parts, size_t n, bool *set) {
    memset(set, 0, (size_t)j->nparts * sizeof *set);
    for (size_t i = 0; i < n; i++) {
        int p = parts[i].partition;
        if (p >= 0 && p < j->nparts) set[p] = true;
    }
}

/* Why commit on revoke: with the eager protocol (range assignor) every member gives up all its
 * partitions before the group reassigns them, so committing here hands each partition over at
 * an exact record: the new owner neither redoes nor loses anything the old one read. A failed
 * commit loses only the work since the partition's last record, which the next owner redoes
 * from that record's offsets. */
static void on_revoke(pipeline_job *j, const bool *set) {
    bool *ok = calloc((size_t)j->nparts, sizeof *ok);
    for (int p = 0; p < j->nparts; p++) {
        if (!set[p] || !j->owned[p]) continue;
        if (part_commit(j, p) == 0) {
            if (ok) ok[p] = true;
            continue;
        }
        j->stats.storage_errors++;
        if (!j->cfg->quiet)
            fprintf(stderr, "stream: partition %d: commit on revoke failed: %s (its next owner resumes from its "
                            "last record)\n", p, j->err);
    }
    if (ok) commit_kafka_offsets(j, ok);
    free(ok);
    for (int p = 0; p < j->nparts; p++)
        if (set[p] && j->owned[p]) part_release(j, p);
}

/* Why a new engine when nothing is owned (always the case with the eager protocol): the
 * engine's global watermark never goes back and raises every shard's forced watermark, so an
 * engine that owned other partitions before would close windows of a restored shard that its
 * previous owner had not closed yet, making its events late. A fresh engine's global
 * watermark starts from the restored shards' own. */
static void on_assign(pipeline_job *j, const bool *set, kafka_topic_partition *parts, size_t n) {
    int64_t now = time_mono_us();
    int *taken = calloc((size_t)j->nparts, sizeof *taken);
    int nt = 0;
    bool any = false;
    for (int p = 0; p < j->nparts; p++) any |= j->owned[p];
    if (!any && !j->take_failed) {
        if (job_make_engine(j)) j->take_failed = true;
        for (int p = 0; !j->take_failed && p < j->nparts; p++) stream_engine_revoke(j->engine, p);
    }
    for (int p = 0; taken && p < j->nparts && !j->take_failed; p++) {
        if (!set[p] || j->owned[p]) continue;
        if (part_take(j, p, now)) {
            j->take_failed = true;
            break;
        }
        taken[nt++] = p;
    }
    if (!taken || (!j->take_failed && part_log_sweep(j->base, taken, nt, j->err, sizeof j->err)))
        j->take_failed = true;
    if (!taken) snprintf(j->err, sizeof j->err, "out of memory");
    free(taken);
    if (j->take_failed && !j->cfg->quiet) fprintf(stderr, "stream: taking partitions over failed: %s\n", j->err);
    for (size_t i = 0; i < n; i++) {
        int t = job_topic_index(j, parts[i].topic);
        int p = parts[i].partition;
        if (t < 0 || p < 0 || p >= j->nparts) continue;
        parts[i].offset = j->owned[p] && j->offsets[p][t] >= 0 ? j->offsets[p][t] : KAFKA_OFFSET_BEGINNING;
    }
    j->assigned_ready = true;
}

void scaleout_on_rebalance(pipeline_job *j, int assigned, kafka_topic_partition *parts, size_t n) {
    if (j->closing) return;
    bool *set = calloc((size_t)j->nparts, sizeof *set);
    if (!set) {
        j->take_failed = true;
        snprintf(j->err, sizeof j->err, "out of memory");
        return;
    }
    distinct_parts(j, parts, n, set);
    if (assigned)
        on_assign(j, set, parts, n);
    else
        on_revoke(j, set);
    free(set);
}
