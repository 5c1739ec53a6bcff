/*
 * pipeline/source_kafka.c — the Kafka consumer group as a source (interface in source.h): the
 * three co-partitioned topics are the streams of each partition.
 *
 * Position: the next offset per partition per topic (j->offsets; -1 unknown), stored in the
 * commit record. seek() (at start and after every rollback) makes a new consumer: joining the
 * group assigns the partitions, and the rebalance callback starts each at the job's offset (from
 * the beginning when it has none). In the scale-out layout the callback is scaleout.c's, which
 * takes partitions over from their own records.
 */
#include <stdlib.h>
#include <string.h>

#include "pipeline/pipeline_internal.h"

/* Records per consumer poll: what the loop asks for is capped here (the stack arrays). */
#define KAFKA_POLL_MAX 256

typedef struct {
    kafka_consumer *consumer;
    char (*names)[300];            /* "topic:partition" per (partition, topic), made on first use */
    kafka_message msg[KAFKA_POLL_MAX];
} kafka_src;

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

/* The partition count of the topics, which must be equal (the funnel joins partition p of
 * every topic). */
static int kafka_open(input_source *s, char *err, size_t errlen) {
    pipeline_job *j = s->job;
    if (!(s->ctx = calloc(1, sizeof(kafka_src)))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    kafka_producer *pr = kafka_producer_new_with(j->cfg->brokers, j->cfg->kafka_timeout_us, j->cfg->kafka_settings, err,
                                                 errlen);
    if (!pr) return -1;
    int np = -1;
    for (int t = 0; t < KAFKA_NTOPICS; t++) {
        int k = kafka_producer_partitions(pr, j->cfg->topics[t], err, errlen);
        if (k < 0) {
            np = -1;
            break;
        }
        if (np >= 0 && k != np) {
            snprintf(err, errlen,
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
        snprintf(err, errlen, "too many partitions (%d)", np);
        return -1;
    }
    j->nparts = np;
    return np > 0 ? 0 : -1;
}

static int kafka_seek(input_source *s, char *err, size_t errlen) {
    kafka_src *k = s->ctx;
    pipeline_job *j = s->job;
    kafka_consumer_free(k->consumer);
    kafka_consumer_config kc = {0};
    kc.brokers = j->cfg->brokers;
    kc.group_id = j->cfg->group_id;
    kc.topics = j->cfg->topics;
    kc.ntopics = KAFKA_NTOPICS;
    kc.auto_offset_reset = "earliest";
    kc.timeout_us = j->cfg->kafka_timeout_us;
    kc.on_rebalance = on_rebalance;
    kc.settings = j->cfg->kafka_settings;
    kc.ctx = j;
    k->consumer = kafka_consumer_new(&kc, err, errlen);
    return k->consumer ? 0 : -1;
}

/* The name of (partition, topic) for `rejected`, made once: formatting it per record cost more
 * than the rest of the source's work. NULL when out of memory. */
static const char *kafka_name(kafka_src *k, const pipeline_job *j, int p, int t) {
    if (!k->names && !(k->names = calloc((size_t)j->nparts * KAFKA_NTOPICS, sizeof *k->names))) return NULL;
    char *n = k->names[p * KAFKA_NTOPICS + t];
    if (!n[0]) snprintf(n, sizeof k->names[0], "%s:%d", j->cfg->topics[t], p);
    return n;
}

/* The records the consumer has (up to max) within 50 ms; messages of partitions this instance
 * does not own (scale-out, during a rebalance) are skipped. */
static int kafka_poll(input_source *s, source_record *out, size_t max, size_t *n, char *err, size_t errlen) {
    kafka_src *k = s->ctx;
    pipeline_job *j = s->job;
    size_t got = 0;
    *n = 0;
    if (max > KAFKA_POLL_MAX) max = KAFKA_POLL_MAX;
    if (max == 0) return 0;
    if (kafka_consumer_poll_batch(k->consumer, 50, k->msg, max, &got, err, errlen)) return -1;
    for (size_t i = 0; i < got; i++) {
        const kafka_message *m = &k->msg[i];
        int t = job_topic_index(j, m->topic);
        if (t < 0 || m->partition < 0 || m->partition >= j->nparts || (j->owned && !j->owned[m->partition])) continue;
        const char *name = kafka_name(k, j, m->partition, t);
        if (!name) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        out[(*n)++] = (source_record){.part = m->partition, .stream = t, .offset = m->offset, .next = m->offset + 1,
                                      .ts_us = m->timestamp_us, .val = m->val ? m->val : "", .len = m->vlen,
                                      .name = name};
    }
    return 0;
}

/* Refreshes the high watermarks: from the consumer's cache for the status page (cheap), or
 * from the brokers (exact, a round trip per partition) when deciding whether --drain is done. */
static void refresh_high(input_source *s, bool exact) {
    kafka_src *k = s->ctx;
    pipeline_job *j = s->job;
    for (int p = 0; p < j->nparts; p++)
        for (int t = 0; t < KAFKA_NTOPICS; t++) {
            int64_t lo = -1, hi = -1;
            char e2[128];
            int rc = exact ? kafka_consumer_watermarks(k->consumer, j->cfg->topics[t], p, &lo, &hi, 2000, e2, sizeof e2)
                           : kafka_consumer_watermarks_cached(k->consumer, j->cfg->topics[t], p, &lo, &hi);
            if (rc == 0 && hi >= 0) j->high[p][t] = hi;
        }
}

/* How long an epoch's offset commit to Kafka may wait for its answer: the commit is for
 * information (the commit log is the truth), and the loop that waits also serves /status, so a
 * broker gone away must not freeze it (kafka.h kafka_consumer_commit). On loopback an answer
 * takes milliseconds; one later than this counts as a kafka error. */
#define KAFKA_COMMIT_MS 1000

/* How long the status probe may wait for the broker: the loop pauses that long once a second
 * while the broker is away (it processes nothing then anyway). */
#define KAFKA_PROBE_MS 500

/* Lag for /status, once a second. The cached watermarks alone would keep showing the last lag
 * (often 0) through an outage, so one exact watermark query probes the broker first: when it
 * fails, lag is unknown (the broker state says so) and the cache is not trusted. Progress: a
 * record read, or caught up with a broker that answered. */
static void kafka_refresh_lag(input_source *s) {
    kafka_src *k = s->ctx;
    pipeline_job *j = s->job;
    int64_t lo = -1, hi = -1;
    char e2[160];
    if (!k->consumer || j->nparts <= 0) return;
    if (kafka_consumer_watermarks(k->consumer, j->cfg->topics[0], 0, &lo, &hi, KAFKA_PROBE_MS, e2, sizeof e2)) {
        j->broker = JOB_BROKER_DOWN;
        return;
    }
    j->broker = JOB_BROKER_UP;
    refresh_high(s, false);
    if (hi >= 0) j->high[0][0] = hi;
    bool caught_up = j->assigned_ready;
    for (int p = 0; caught_up && p < j->nparts; p++)
        for (int t = 0; t < KAFKA_NTOPICS; t++)
            if ((!j->owned || j->owned[p]) && j->high[p][t] > (j->offsets[p][t] < 0 ? 0 : j->offsets[p][t]))
                caught_up = false;
    if (caught_up) j->last_progress_us = time_now_us();
}

/* A topic-partition with unread data (or not known yet) must not turn idle: the idle rule is
 * for partitions with nothing to send, not for ones we have not caught up with. One never read
 * (offset -1) starts at its low watermark: an empty partition has nothing to read, and counting
 * it as backlogged would hold the watermark back for good (a sparse orders topic). */
static bool kafka_backlogged(input_source *s, int part, int stream) {
    kafka_src *k = s->ctx;
    pipeline_job *j = s->job;
    if (j->owned && !j->owned[part]) return false;
    int64_t lo = -1, hi = -1;
    if (kafka_consumer_watermarks_cached(k->consumer, j->cfg->topics[stream], part, &lo, &hi) || hi < 0 || lo < 0)
        return true;
    int64_t off = j->offsets[part][stream];
    return (off < 0 ? lo : off) < hi;
}

/* True when every partition of every topic has been read up to the broker's high watermark. */
static bool kafka_drained(input_source *s) {
    pipeline_job *j = s->job;
    if (!j->assigned_ready) return false;
    /* scale-out: a backfill ends only when this instance owns every partition (the others
     * have left the group), so that every window can be flushed as final */
    for (int p = 0; j->owned && p < j->nparts; p++)
        if (!j->owned[p]) return false;
    refresh_high(s, true);
    for (int p = 0; p < j->nparts; p++)
        for (int t = 0; t < KAFKA_NTOPICS; t++) {
            int64_t off = j->offsets[p][t] < 0 ? 0 : j->offsets[p][t];
            if (j->high[p][t] < 0 || off < j->high[p][t]) return false;
        }
    return true;
}

static void kafka_committed(input_source *s, const bool *want) {
    kafka_src *k = s->ctx;
    pipeline_job *j = s->job;
    if (!k->consumer) return;
    kafka_topic_partition *tp = calloc((size_t)j->nparts * KAFKA_NTOPICS, sizeof *tp);
    size_t n = 0;
    for (int p = 0; tp && p < j->nparts; p++)
        for (int t = 0; t < KAFKA_NTOPICS; t++)
            if ((!want || want[p]) && j->offsets[p][t] >= 0)
                tp[n++] = (kafka_topic_partition){j->cfg->topics[t], p, j->offsets[p][t]};
    char e2[256];
    if (!tp || (n && kafka_consumer_commit(k->consumer, tp, n, KAFKA_COMMIT_MS, e2, sizeof e2))) j->stats.kafka_errors++;
    free(tp);
}

static void kafka_close(input_source *s) {
    kafka_src *k = s->ctx;
    if (!k) return;
    kafka_consumer_free(k->consumer);
    free(k->names);
    free(k);
    s->ctx = NULL;
}

const source_ops source_kafka_ops = {
    .name = "kafka",
    .kind = COMMIT_KAFKA,
    .nstreams = KAFKA_NTOPICS,
    .advance_records = 0,
    .advance_us = 50000,
    .open = kafka_open,
    .poll = kafka_poll,
    .seek = kafka_seek,
    .backlogged = kafka_backlogged,
    .drained = kafka_drained,
    .refresh_lag = kafka_refresh_lag,
    .committed = kafka_committed,
    .close = kafka_close,
};
