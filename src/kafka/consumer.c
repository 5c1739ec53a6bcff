/* consumer.c — a group consumer with explicit commits, for the stream stage (see kafka.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "kafka/kafka.h"
#include "kafka/kafka_int.h"
#include "util/util.h"

struct kafka_consumer {
    rd_kafka_t *rk;
    kafka_rebalance_fn on_rebalance;
    void *ctx;
    char **topics;              /* owned copies; kafka_topic_partition.topic points here */
    size_t ntopics;
    rd_kafka_message_t *cur;    /* the message handed out by the last poll */
    rd_kafka_queue_t *q;        /* the consumer queue (poll_batch reads it) */
    rd_kafka_message_t **batch; /* the messages handed out by the last poll_batch */
    size_t nbatch, capbatch;
    unsigned rebalances;        /* rebalance callbacks so far */
    kafka_consumer_stats st;
    kafka_client_error cerr;    /* from error_cb */
};

/* Topic names in callbacks point at the consumer's own copies, so they outlive the
 * librdkafka partition lists they came from. */
static const char *consumer_topic_name(kafka_consumer *c, const char *t) {
    for (size_t i = 0; i < c->ntopics; i++)
        if (!strcmp(c->topics[i], t)) return c->topics[i];
    return "?";
}

/* Hands the change to the caller's callback (which may set start offsets on assignment), then
 * applies it. Eager protocol (range assignor): the whole assignment is replaced each time. */
static void consumer_on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t e,
                                  rd_kafka_topic_partition_list_t *parts, void *opaque) {
    kafka_consumer *c = opaque;
    int assigned = e == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS;
    c->rebalances++;
    if (c->on_rebalance && parts->cnt > 0) {
        kafka_topic_partition *tp = calloc((size_t)parts->cnt, sizeof *tp);
        if (tp) {
            for (int i = 0; i < parts->cnt; i++) {
                tp[i].topic = consumer_topic_name(c, parts->elems[i].topic);
                tp[i].partition = parts->elems[i].partition;
                tp[i].offset = KAFKA_OFFSET_STORED;
            }
            c->on_rebalance(c->ctx, assigned, tp, (size_t)parts->cnt);
            for (int i = 0; assigned && i < parts->cnt; i++)
                parts->elems[i].offset =
                    tp[i].offset == KAFKA_OFFSET_STORED ? RD_KAFKA_OFFSET_STORED : tp[i].offset;
            free(tp);
        } else {
            c->st.errors++;
            snprintf(c->st.last_error, sizeof c->st.last_error, "rebalance: out of memory");
        }
    }
    rd_kafka_assign(rk, assigned ? parts : NULL);
}

static void consumer_on_error(rd_kafka_t *rk, int code, const char *reason, void *opaque) {
    kafka_consumer *c = opaque;
    kafka_client_error_record(&c->cerr, rk, code, reason);
}

static rd_kafka_conf_t *consumer_conf(kafka_consumer *c, const kafka_consumer_config *cfg,
                                      char *err, size_t errlen) {
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char sto[32];
    snprintf(sto, sizeof sto, "%d", cfg->session_timeout_ms > 0 ? cfg->session_timeout_ms : 6000);
    const char *const fixed[] = {
        "enable.auto.commit=false",
        "enable.auto.offset.store=false",
        "partition.assignment.strategy=range",
        "enable.partition.eof=false",
        "heartbeat.interval.ms=1000",
        /* When the prefetched queue is over its limit (the stream is behind: a backfill),
         * librdkafka waits this long before fetching again; its default 1000 ms left the stream
         * idle for most of a --drain (12.4-13.9 s wall against 7.0-8.1 s with 10 ms, same CPU;
         * docs/benchmarks.md). Live input never reaches the limit. */
        "fetch.queue.backoff.ms=10",
        NULL,
    };
    if (kafka_conf_set(conf, "bootstrap.servers", cfg->brokers, err, errlen) ||
        kafka_conf_set(conf, "group.id", cfg->group_id, err, errlen) ||
        kafka_conf_set(conf, "session.timeout.ms", sto, err, errlen) ||
        kafka_conf_set(conf, "auto.offset.reset",
                       cfg->auto_offset_reset ? cfg->auto_offset_reset : "earliest", err, errlen) ||
        kafka_conf_set_list(conf, fixed, err, errlen) || kafka_conf_common(conf, cfg->settings, err, errlen)) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_conf_set_opaque(conf, c);
    rd_kafka_conf_set_rebalance_cb(conf, consumer_on_rebalance);
    rd_kafka_conf_set_error_cb(conf, consumer_on_error);
    return conf;
}

/* Every subscribed topic must exist: subscribing to a missing one would silently wait. */
static int consumer_check_topics(kafka_consumer *c, int64_t tmo, char *err, size_t errlen) {
    for (size_t i = 0; i < c->ntopics; i++) {
        rd_kafka_topic_t *t = rd_kafka_topic_new(c->rk, c->topics[i], NULL);
        if (!t) {
            snprintf(err, errlen, "topic %s: %s", c->topics[i], rd_kafka_err2str(rd_kafka_last_error()));
            return -1;
        }
        int n = kafka_topic_partition_count(c->rk, t, c->topics[i], tmo, err, errlen);
        rd_kafka_topic_destroy(t);
        if (n < 0) return -1;
    }
    return 0;
}

static int consumer_subscribe(kafka_consumer *c, char *err, size_t errlen) {
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)c->ntopics);
    for (size_t i = 0; i < c->ntopics; i++)
        rd_kafka_topic_partition_list_add(l, c->topics[i], RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(c->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (e) {
        snprintf(err, errlen, "subscribe: %s", rd_kafka_err2str(e));
        return -1;
    }
    return 0;
}

kafka_consumer *kafka_consumer_new(const kafka_consumer_config *cfg, char *err, size_t errlen) {
    if (!cfg->brokers || !*cfg->brokers || !cfg->group_id || !cfg->ntopics) {
        snprintf(err, errlen, "consumer needs brokers, a group id and at least one topic");
        return NULL;
    }
    kafka_consumer *c = calloc(1, sizeof *c);
    if (!c || !(c->topics = calloc(cfg->ntopics, sizeof *c->topics))) {
        free(c);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->on_rebalance = cfg->on_rebalance;
    c->ctx = cfg->ctx;
    for (; c->ntopics < cfg->ntopics; c->ntopics++) {
        if (!(c->topics[c->ntopics] = strdup(cfg->topics[c->ntopics]))) {
            snprintf(err, errlen, "out of memory");
            kafka_consumer_free(c);
            return NULL;
        }
    }
    int64_t tmo = cfg->timeout_us > 0 ? cfg->timeout_us : 10 * TIME_US_PER_SEC;
    rd_kafka_conf_t *conf = consumer_conf(c, cfg, err, errlen);
    if (!conf) {
        kafka_consumer_free(c);
        return NULL;
    }
    c->rk = kafka_client_new(RD_KAFKA_CONSUMER, conf, "consumer", err, errlen);
    if (!c->rk) {
        kafka_consumer_free(c);
        return NULL;
    }
    /* The main queue goes to the consumer queue only after the broker check: until then
     * rd_kafka_poll() serves the error callback, which lets the check end early. */
    if (kafka_wait_brokers(c->rk, cfg->brokers, tmo, &c->cerr, err, errlen)) {
        kafka_consumer_free(c);
        return NULL;
    }
    rd_kafka_poll_set_consumer(c->rk);
    if (!(c->q = rd_kafka_queue_get_consumer(c->rk))) {
        snprintf(err, errlen, "no consumer queue");
        kafka_consumer_free(c);
        return NULL;
    }
    if (consumer_check_topics(c, tmo, err, errlen) || consumer_subscribe(c, err, errlen)) {
        kafka_consumer_free(c);
        return NULL;
    }
    return c;
}

/* Gives back what the last poll or poll_batch handed out. */
static void consumer_release(kafka_consumer *c) {
    if (c->cur) {
        rd_kafka_message_destroy(c->cur);
        c->cur = NULL;
    }
    for (size_t i = 0; i < c->nbatch; i++) rd_kafka_message_destroy(c->batch[i]);
    c->nbatch = 0;
}

/* A message with an error: a fatal one ends the consumer (-1 with err), the others are counted
 * (librdkafka recovers from them by itself). The message is destroyed either way. */
static int consumer_error(kafka_consumer *c, rd_kafka_message_t *m, char *err, size_t errlen) {
    char fatal[256];
    int rc = 0;
    if (m->err == RD_KAFKA_RESP_ERR__FATAL && rd_kafka_fatal_error(c->rk, fatal, sizeof fatal)) {
        snprintf(err, errlen, "fatal consumer error: %s", fatal);
        rc = -1;
    } else {
        c->st.errors++;
        snprintf(c->st.last_error, sizeof c->st.last_error, "%s", rd_kafka_message_errstr(m));
    }
    rd_kafka_message_destroy(m);
    return rc;
}

static void consumer_fill(kafka_consumer *c, const rd_kafka_message_t *m, kafka_message *out) {
    rd_kafka_timestamp_type_t tt;
    int64_t ts = rd_kafka_message_timestamp(m, &tt);
    out->topic = consumer_topic_name(c, rd_kafka_topic_name(m->rkt));
    out->partition = m->partition;
    out->offset = m->offset;
    out->key = m->key;
    out->klen = m->key_len;
    out->val = m->payload;
    out->vlen = m->len;
    out->timestamp_us = ts >= 0 ? ts * 1000 : -1;
    c->st.messages++;
}

/* Consumer errors that librdkafka recovers from by itself are counted, not returned; only a
 * fatal error stops the caller. */
int kafka_consumer_poll(kafka_consumer *c, int timeout_ms, kafka_message *out, char *err, size_t errlen) {
    consumer_release(c);
    int64_t deadline = time_mono_us() + (int64_t)timeout_ms * 1000;
    for (;;) {
        int64_t left = (deadline - time_mono_us()) / 1000;
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c->rk, left > 0 ? (int)left : 0);
        if (!m) return 0;
        if (m->err) {
            if (consumer_error(c, m, err, errlen)) return -1;
            if (time_mono_us() >= deadline) return 0;
            continue;
        }
        c->cur = m;
        consumer_fill(c, m, out);
        return 1;
    }
}

/* Why two calls: librdkafka's batch call waits until the batch is full or the time is up, which
 * would hold a live stream's first event back for the whole timeout; so it waits for one
 * message only, then takes what is queued already without waiting. */
int kafka_consumer_poll_batch(kafka_consumer *c, int timeout_ms, kafka_message *out, size_t max, size_t *n,
                              char *err, size_t errlen) {
    consumer_release(c);
    *n = 0;
    if (max == 0) return 0;
    if (max > c->capbatch) {
        rd_kafka_message_t **b = realloc(c->batch, max * sizeof *b);
        if (!b) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        c->batch = b;
        c->capbatch = max;
    }
    int64_t deadline = time_mono_us() + (int64_t)timeout_ms * 1000;
    for (;;) {
        int64_t left = (deadline - time_mono_us()) / 1000;
        ssize_t got = rd_kafka_consume_batch_queue(c->q, left > 0 ? (int)left : 0, c->batch, 1);
        if (got <= 0) return 0;
        ssize_t first = 0;
        if (max > 1) {
            unsigned r0 = c->rebalances;
            ssize_t more = rd_kafka_consume_batch_queue(c->q, 0, c->batch + 1, max - 1);
            if (more > 0) got += more;
            /* A rebalance served by the second call came after the first message, which the
             * caller would now see after its callback (and perhaps after new start offsets that
             * do not count it): drop it; it is read again from the position the callback set. */
            if (c->rebalances != r0 && !c->batch[0]->err) {
                rd_kafka_message_destroy(c->batch[0]);
                first = 1;
            }
        }
        int rc = 0;
        for (ssize_t i = first; i < got; i++) {
            rd_kafka_message_t *m = c->batch[i];
            if (rc == 0 && !m->err) {
                consumer_fill(c, m, &out[c->nbatch]);
                c->batch[c->nbatch++] = m;
            } else if (m->err) {
                if (consumer_error(c, m, err, errlen)) rc = -1;
            } else {
                rd_kafka_message_destroy(m); /* after a fatal error: dropped */
            }
        }
        if (rc) {
            consumer_release(c);
            return -1;
        }
        *n = c->nbatch;
        if (*n || time_mono_us() >= deadline) return 0;
    }
}

/* The commit's result comes as an event on a queue of its own, waited for within the bound
 * (kafka.h); a queue given up on is released here and librdkafka drops the late answer. */
int kafka_consumer_commit(kafka_consumer *c, const kafka_topic_partition *offs, size_t n, int timeout_ms,
                          char *err, size_t errlen) {
    if (n == 0) return 0;
    rd_kafka_queue_t *q = rd_kafka_queue_new(c->rk);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)n);
    for (size_t i = 0; i < n; i++)
        rd_kafka_topic_partition_list_add(l, offs[i].topic, offs[i].partition)->offset = offs[i].offset;
    rd_kafka_resp_err_t e = q ? rd_kafka_commit_queue(c->rk, l, q, NULL, NULL) : RD_KAFKA_RESP_ERR__NOENT;
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_event_t *ev = NULL;
    if (!e) {
        int64_t until = time_mono_us() + (int64_t)timeout_ms * 1000;
        while (!ev && time_mono_us() < until) {   /* only the commit's answer is ever put on q */
            ev = rd_kafka_queue_poll(q, (int)((until - time_mono_us()) / 1000) + 1);
            if (ev && rd_kafka_event_type(ev) != RD_KAFKA_EVENT_OFFSET_COMMIT) {
                rd_kafka_event_destroy(ev);
                ev = NULL;
            }
        }
        if (!ev) {
            snprintf(err, errlen, "commit: no answer within %d ms (it goes on in the background)", timeout_ms);
            if (q) rd_kafka_queue_destroy(q);
            return -1;
        }
        e = rd_kafka_event_error(ev);
        const rd_kafka_topic_partition_list_t *got = rd_kafka_event_topic_partition_list(ev);
        for (int i = 0; !e && got && i < got->cnt; i++) e = got->elems[i].err;
        rd_kafka_event_destroy(ev);
    }
    if (q) rd_kafka_queue_destroy(q);
    if (e) {
        snprintf(err, errlen, "commit: %s", rd_kafka_err2str(e));
        return -1;
    }
    return 0;
}

int kafka_consumer_watermarks(kafka_consumer *c, const char *topic, int32_t partition,
                              int64_t *low, int64_t *high, int timeout_ms, char *err, size_t errlen) {
    rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(c->rk, topic, partition, low, high, timeout_ms);
    if (e) {
        snprintf(err, errlen, "watermarks of %s [%d]: %s", topic, (int)partition, rd_kafka_err2str(e));
        return -1;
    }
    return 0;
}

void kafka_consumer_stats_get(kafka_consumer *c, kafka_consumer_stats *out) {
    *out = c->st;
}

void kafka_consumer_free(kafka_consumer *c) {
    if (!c) return;
    consumer_release(c);
    free(c->batch);
    if (c->q) rd_kafka_queue_destroy(c->q);
    if (c->rk) {
        rd_kafka_consumer_close(c->rk); /* leaves the group; the revoke callback runs here */
        rd_kafka_destroy(c->rk);
    }
    for (size_t i = 0; i < c->ntopics; i++) free(c->topics[i]);
    free(c->topics);
    free(c);
}

int kafka_consumer_watermarks_cached(kafka_consumer *c, const char *topic, int32_t partition, int64_t *low,
                                     int64_t *high) {
    return rd_kafka_get_watermark_offsets(c->rk, topic, partition, low, high) ? -1 : 0;
}
