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
 *   _ecom/parts/p<NNNN>/<seq>-g<gen>.ckpt the engine checkpoint that record names
 *   _ecom/parts/p<NNNN>/lease/<gen>.lease p's writer lease (lease.c), one file per generation
 *   <table>/date=D/part-p<NNNN>-s<seq>-g<gen>-<k>.parquet   files with p's rows only
 *
 * Fencing: the consumer group decides who owns p; taking p over creates p's next lease
 * generation (forced: whoever held it). Every commit of p checks, before its checkpoint and
 * again right before its record, that p's newest generation is still the one this instance
 * created: an instance paused past its session timeout (a zombie) finds a newer one, its
 * commit is refused and it stops writing (exit 1).
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
    j->part_lease = calloc(n, sizeof *j->part_lease);
    if (!j->owned || !j->seq || !j->praw || !j->pmetric || !j->part_lease) {
        snprintf(j->err, sizeof j->err, "out of memory");
        return -1;
    }
    for (int p = 0; p < j->nparts; p++) {
        char dir[80];
        part_dir(p, dir, sizeof dir);
        strcat(dir, "/lease");
        lease_init(&j->part_lease[p], dir, j->cfg->lease_timeout_us);
    }
    return 0;
}

void scaleout_free(pipeline_job *j) {
    free(j->owned);
    free(j->seq);
    free(j->praw);
    free(j->pmetric);
    free(j->part_lease);
    j->part_lease = NULL;
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
    lake_part_prefix(part, pre, sizeof pre);
    if (staging_take(j->st, pre, &v, &n) == 0) rename_pairs_free(v, n);
}

int scaleout_reset(pipeline_job *j) {
    int rc = layout_check(j->base, true, j->nparts, j->err, sizeof j->err);
    if (rc) return rc;
    for (int p = 0; p < j->nparts; p++) {
        job_abort_part_tables(j, p);
        j->owned[p] = false;
        j->seq[p] = 0;
        memset(&j->pc[p], 0, sizeof j->pc[p]);
        for (int t = 0; t < KAFKA_NTOPICS; t++) j->offsets[p][t] = -1;
    }
    staging_clear(j->st);
    for (int p = 0; p < j->nparts; p++) ckpt_chain_free(&j->chains[p]);
    j->stats.records = j->stats.duplicates = j->stats.late = j->stats.rejected = j->stats.blank = 0;
    memset(j->stats.ok, 0, sizeof j->stats.ok);
    j->take_failed = false;
    if (job_make_engine(j)) return -1;
    for (int p = 0; p < j->nparts; p++) stream_engine_revoke(j->engine, p);
    return 0;
}

/* Takes partition part over from its newest record: redo its renames, restore its engine
 * shard, resume its three topic-partitions at the recorded offsets, continue its counters
 * and seq. No record: the partition starts empty, from the beginning of its topics. */
static int part_take(pipeline_job *j, int part, int64_t now_us) {
    commit_record r;
    j->part_lease[part].gen = 0; /* a new generation on every take-over: the group's word counts */
    if (lease_acquire(j->base, &j->part_lease[part], true, j->err, sizeof j->err)) return -1;
    if (part_log_read_latest(j->base, part, &r, j->err, sizeof j->err)) return -1;
    /* Before restoring: the partition's next seq becomes ours, so its previous owner, paused
     * past its lease check, can never commit it (commit.c). */
    int rc = commit_log_claim(j->base, part, &r, COMMIT_PARTITION, j->nparts, j->part_lease[part].gen, j->err,
                              sizeof j->err);
    if (rc == LEASE_FENCED) j->fenced = true;
    if (rc == 0) rc = part_log_recover_files(j->base, &r, j->err, sizeof j->err);
    if (rc == 0 && r.epoch >= 0 && r.ckpt[part]) {
        rc = ckpt_restore(j, &r, part, now_us, &j->chains[part]);
    } else if (rc == 0) {
        ckpt_chain_free(&j->chains[part]);
        rc = stream_engine_assign(j->engine, part, now_us);
        if (rc) snprintf(j->err, sizeof j->err, "cannot assign partition %d", part);
    }
    if (rc == 0) {
        for (int t = 0; t < KAFKA_NTOPICS; t++) j->offsets[part][t] = r.epoch >= 0 ? r.offsets[part][t] : -1;
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
    ckpt_chain_free(&j->chains[part]);
    job_stats_add(j, &j->pc[part], -1);
    memset(&j->pc[part], 0, sizeof j->pc[part]);
    for (int t = 0; t < KAFKA_NTOPICS; t++) j->offsets[part][t] = -1;
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
        if (!j->fenced && job_commit_lineage(j, p) == 0) {
            if (ok) ok[p] = true;
            continue;
        }
        if (j->fenced) {
            if (!j->cfg->quiet) fprintf(stderr, "stream: partition %d: commit on revoke refused: %s\n", p, j->err);
            continue;
        }
        j->stats.storage_errors++;
        if (!j->cfg->quiet)
            fprintf(stderr, "stream: partition %d: commit on revoke failed: %s (its next owner resumes from its "
                            "last record)\n", p, j->err);
    }
    if (ok && j->src.ops->committed) j->src.ops->committed(&j->src, ok);
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
    if (j->closing || (assigned && j->fenced)) return; /* a fenced instance takes nothing: it exits */
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
