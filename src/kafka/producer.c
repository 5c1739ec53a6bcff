/* producer.c — the checked, idempotent Kafka producer over librdkafka (see kafka.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "kafka/kafka.h"
#include "kafka/kafka_int.h"
#include "util/util.h"

/* Cached topic handles: producev() by name looks the topic up on every call; a handle skips it.
 * The event stream uses three topics, a few more are allowed for tests and overrides. */
#define PRODUCER_MAX_TOPICS 16

/* How many send() calls between two non-blocking polls for delivery reports: often enough
 * that the report queue stays small, rarely enough that polling costs nothing per message. */
#define PRODUCER_POLL_EVERY 1024

struct kafka_producer {
    rd_kafka_t *rk;
    int64_t timeout_us;          /* connect and topic checks */
    int64_t delivery_timeout_us; /* message.timeout.ms; 0 = until delivered */
    kafka_delivery_fn on_delivery;
    void *ctx;
    volatile sig_atomic_t *stop;
    rd_kafka_topic_t *topics[PRODUCER_MAX_TOPICS];
    size_t ntopics;
    unsigned since_poll;
    kafka_producer_stats st;
    kafka_client_error cerr;     /* from error_cb: why the brokers are unreachable, etc. */
};

/* Throughput settings, measured on loopback against Kafka 4.1 (docs/kafka.md, "Producer
 * settings"): large batches with a short linger let one request carry thousands of ~400-byte
 * events; lz4 shrinks JSON about 4x at little CPU, which is what the broker has to write. */
const char *const kafka_producer_settings[] = {
    "enable.idempotence=true",      /* no duplicates or reordering on retries */
    "acks=all",
    "partitioner=murmur2_random",   /* Java-compatible: same key -> same partition everywhere */
    "linger.ms=5",
    "batch.size=1000000",
    "batch.num.messages=100000",
    "compression.type=lz4",
    "queue.buffering.max.messages=1000000",
    "queue.buffering.max.kbytes=1048576",
    "socket.nagle.disable=true",
    NULL,
};

/* Delivery report: runs in the caller's thread, inside poll/flush/send. */
static void producer_on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    kafka_producer *p = opaque;
    const char *topic = m->rkt ? rd_kafka_topic_name(m->rkt) : "?";
    if (m->err) {
        p->st.failed++;
        snprintf(p->st.last_error, sizeof p->st.last_error, "%s [%d]: %s", topic, (int)m->partition,
                 rd_kafka_err2str(m->err));
    } else {
        p->st.delivered++;
    }
    if (p->on_delivery)
        p->on_delivery(p->ctx, (uint64_t)(uintptr_t)m->_private, !m->err, topic, m->partition,
                       m->err ? -1 : m->offset, m->payload, m->len, m->err ? rd_kafka_err2str(m->err) : NULL);
}

/* Client-level errors (connection refused, all brokers down, fatal idempotence errors) are kept
 * so that the message for "no broker answered" can say why. */
static void producer_on_error(rd_kafka_t *rk, int code, const char *reason, void *opaque) {
    kafka_producer *p = opaque;
    kafka_client_error_record(&p->cerr, rk, code, reason);
}

/* Sets every producer setting; the delivery limit becomes message.timeout.ms (0 = librdkafka
 * retries a message until the broker acknowledges it). */
static rd_kafka_conf_t *producer_conf(kafka_producer *p, const char *brokers, const char *const *settings,
                                      char *err, size_t errlen) {
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char ms[32];
    int64_t tmo_ms = p->delivery_timeout_us / 1000;
    if (p->delivery_timeout_us > 0 && tmo_ms < 1000) tmo_ms = 1000;
    snprintf(ms, sizeof ms, "%lld", (long long)tmo_ms);
    if (kafka_conf_set(conf, "bootstrap.servers", brokers, err, errlen) ||
        kafka_conf_set(conf, "message.timeout.ms", ms, err, errlen) ||
        kafka_conf_set_list(conf, kafka_producer_settings, err, errlen) ||
        kafka_conf_common(conf, settings, err, errlen)) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_conf_set_opaque(conf, p);
    rd_kafka_conf_set_dr_msg_cb(conf, producer_on_delivery);
    rd_kafka_conf_set_error_cb(conf, producer_on_error);
    return conf;
}

kafka_producer *kafka_producer_new(const char *brokers, int64_t timeout_us, char *err, size_t errlen) {
    return kafka_producer_new_with(brokers, timeout_us, NULL, err, errlen);
}

kafka_producer *kafka_producer_new_with(const char *brokers, int64_t timeout_us, const char *const *settings,
                                        char *err, size_t errlen) {
    int64_t t = timeout_us > 0 ? timeout_us : 10 * TIME_US_PER_SEC;
    kafka_producer_config cfg = {.brokers = brokers, .connect_timeout_us = t, .delivery_timeout_us = t,
                                 .settings = settings};
    return kafka_producer_open(&cfg, err, errlen);
}

static rd_kafka_topic_t *producer_topic(kafka_producer *p, const char *topic, bool wait, char *err, size_t errlen);

kafka_producer *kafka_producer_open(const kafka_producer_config *cfg, char *err, size_t errlen) {
    const char *brokers = cfg->brokers;
    if (!brokers || !*brokers) {
        snprintf(err, errlen, "no Kafka brokers given");
        return NULL;
    }
    kafka_producer *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    p->timeout_us = cfg->connect_timeout_us > 0 ? cfg->connect_timeout_us : 10 * TIME_US_PER_SEC;
    p->delivery_timeout_us = cfg->delivery_timeout_us > 0 ? cfg->delivery_timeout_us : 0;
    p->on_delivery = cfg->on_delivery;
    p->ctx = cfg->ctx;
    p->stop = cfg->stop;
    rd_kafka_conf_t *conf = producer_conf(p, brokers, cfg->settings, err, errlen);
    if (!conf) {
        free(p);
        return NULL;
    }
    p->rk = kafka_client_new(RD_KAFKA_PRODUCER, conf, "producer", err, errlen);
    if (!p->rk) {
        free(p);
        return NULL;
    }
    if (kafka_wait_brokers(p->rk, brokers, p->timeout_us, &p->cerr, err, errlen)) {
        kafka_producer_free(p);
        return NULL;
    }
    /* every topic before the first message: a missing one must not leave the others half-fed */
    for (size_t i = 0; i < cfg->ntopics; i++)
        if (!producer_topic(p, cfg->topics[i], true, err, errlen)) {
            kafka_producer_free(p);
            return NULL;
        }
    return p;
}

/* True when topic's metadata shows it with every partition led; else err says why not. Why the
 * leaders: a topic the broker is auto-creating is first shown without them, and producing then
 * fails (or, with librdkafka < 2.0.2, lost messages: see admin.c). Returns the partition count,
 * 0 (not ready yet) or -1 on an error that waiting cannot cure. */
static int producer_topic_ready(kafka_producer *p, rd_kafka_topic_t *t, const char *topic, char *err,
                                size_t errlen) {
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(p->rk, 0, t, &md, 1000);
    if (e) {
        snprintf(err, errlen, "metadata for topic %s: %s", topic, rd_kafka_err2str(e));
        return 0;
    }
    int n = 0;
    if (md->topic_cnt != 1) {
        snprintf(err, errlen, "topic %s: not in the broker's metadata", topic);
    } else if (md->topics[0].err) {
        snprintf(err, errlen, "topic %s: %s", topic, rd_kafka_err2str(md->topics[0].err));
        if (md->topics[0].err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED ||
            md->topics[0].err == RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION) n = -1;
    } else {
        n = md->topics[0].partition_cnt;
        for (int i = 0; i < md->topics[0].partition_cnt && n > 0; i++)
            if (md->topics[0].partitions[i].err || md->topics[0].partitions[i].leader < 0) n = 0;
        if (n == 0) snprintf(err, errlen, "topic %s: a partition has no leader", topic);
    }
    rd_kafka_metadata_destroy(md);
    return n;
}

/* Waits within the connect limit for topic to be ready (an auto-created topic appears after the
 * first metadata request asked for it). 0 or -1 with the last reason. */
static int producer_topic_wait(kafka_producer *p, rd_kafka_topic_t *t, const char *topic, char *err,
                               size_t errlen) {
    int64_t deadline = time_mono_us() + p->timeout_us;
    for (;;) {
        int n = producer_topic_ready(p, t, topic, err, errlen);
        if (n > 0) return 0;
        if (n < 0 || time_mono_us() >= deadline || (p->stop && *p->stop)) return -1;
        rd_kafka_poll(p->rk, 100);
    }
}

/* Finds or creates the cached handle for topic, checking that the topic exists (wait: and
 * waiting, within the connect limit, until it is ready). */
static rd_kafka_topic_t *producer_topic(kafka_producer *p, const char *topic, bool wait, char *err, size_t errlen) {
    for (size_t i = 0; i < p->ntopics; i++)
        if (!strcmp(rd_kafka_topic_name(p->topics[i]), topic)) return p->topics[i];
    if (p->ntopics == PRODUCER_MAX_TOPICS) {
        snprintf(err, errlen, "too many topics for one producer (max %d)", PRODUCER_MAX_TOPICS);
        return NULL;
    }
    rd_kafka_topic_t *t = rd_kafka_topic_new(p->rk, topic, NULL);
    if (!t) {
        snprintf(err, errlen, "topic %s: %s", topic, rd_kafka_err2str(rd_kafka_last_error()));
        return NULL;
    }
    /* One metadata round trip on first use: a missing topic is a clear error now, instead of
     * every message failing with "Unknown topic" at the end of the time limit. */
    if (wait ? producer_topic_wait(p, t, topic, err, errlen) != 0
             : kafka_topic_partition_count(p->rk, t, topic, p->timeout_us, err, errlen) < 0) {
        rd_kafka_topic_destroy(t);
        return NULL;
    }
    p->topics[p->ntopics++] = t;
    return t;
}

/* Says why a send failed; a fatal producer error (idempotence broken) explains itself. */
static void producer_send_error(kafka_producer *p, const char *topic, rd_kafka_resp_err_t e,
                                char *err, size_t errlen) {
    char fatal[256];
    if (e == RD_KAFKA_RESP_ERR__FATAL && rd_kafka_fatal_error(p->rk, fatal, sizeof fatal))
        snprintf(err, errlen, "fatal producer error: %s", fatal);
    else
        snprintf(err, errlen, "cannot queue message for %s: %s", topic, rd_kafka_err2str(e));
}

/* The hot path: one produce call with the cached handle. On a full local queue it serves
 * delivery reports (which frees room) and retries, up to the producer's time limit. */
int kafka_producer_send(kafka_producer *p, const char *topic, const void *key, size_t klen,
                        const void *val, size_t vlen, char *err, size_t errlen) {
    return kafka_producer_send_tagged(p, topic, key, klen, val, vlen, 0, err, errlen);
}

int kafka_producer_send_tagged(kafka_producer *p, const char *topic, const void *key, size_t klen, const void *val,
                               size_t vlen, uint64_t tag, char *err, size_t errlen) {
    rd_kafka_topic_t *t = producer_topic(p, topic, false, err, errlen);
    if (!t) return -1;
    int64_t deadline = 0;
    for (;;) {
        rd_kafka_resp_err_t e = rd_kafka_producev(
            p->rk, RD_KAFKA_V_RKT(t), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_KEY(key, klen), RD_KAFKA_V_VALUE((void *)val, vlen),
            RD_KAFKA_V_OPAQUE((void *)(uintptr_t)tag), RD_KAFKA_V_END);
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR) break;
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            producer_send_error(p, topic, e, err, errlen);
            return -1;
        }
        int64_t now = time_mono_us();
        if (p->stop && *p->stop) {
            snprintf(err, errlen, "stopped while the local queue was full");
            return -1;
        }
        if (!deadline) deadline = now + p->delivery_timeout_us;
        if (p->delivery_timeout_us > 0 && now >= deadline) {
            snprintf(err, errlen, "local queue full for %.1f s: the broker does not keep up%s%s",
                     (double)p->delivery_timeout_us / 1e6, p->cerr.reason[0] ? " (" : "",
                     p->cerr.reason[0] ? p->cerr.reason : "");
            if (p->cerr.reason[0]) strncat(err, ")", errlen - strlen(err) - 1);
            return -1;
        }
        rd_kafka_poll(p->rk, 10);
    }
    p->st.sent++;
    if (++p->since_poll >= PRODUCER_POLL_EVERY) {
        p->since_poll = 0;
        rd_kafka_poll(p->rk, 0);
    }
    return 0;
}

uint64_t kafka_producer_unacked(kafka_producer *p) {
    return p->st.sent - p->st.delivered - p->st.failed;
}

int kafka_producer_wait_unacked(kafka_producer *p, uint64_t max_unacked, int64_t wait_us) {
    int64_t deadline = time_mono_us() + wait_us;
    for (;;) {
        rd_kafka_poll(p->rk, 0);
        if (kafka_producer_unacked(p) < max_unacked) return 0;
        if ((p->stop && *p->stop) || (wait_us > 0 && time_mono_us() >= deadline)) return 1;
        rd_kafka_poll(p->rk, 20);
    }
}

void kafka_producer_poll(kafka_producer *p) {
    p->since_poll = 0;
    rd_kafka_poll(p->rk, 0);
}

int64_t kafka_producer_flush(kafka_producer *p, int64_t timeout_us) {
    int64_t deadline = time_mono_us() + (timeout_us > 0 ? timeout_us : 0);
    for (;;) {
        int64_t left = deadline - time_mono_us();
        rd_kafka_flush(p->rk, left > 0 ? (int)(left / 1000) : 0);
        rd_kafka_poll(p->rk, 0); /* serve the reports flush() has made ready */
        if (rd_kafka_outq_len(p->rk) == 0 || time_mono_us() >= deadline) break;
    }
    return (int64_t)rd_kafka_outq_len(p->rk);
}

void kafka_producer_stats_get(kafka_producer *p, kafka_producer_stats *out) {
    *out = p->st;
}

int kafka_producer_partitions(kafka_producer *p, const char *topic, char *err, size_t errlen) {
    rd_kafka_topic_t *t = producer_topic(p, topic, false, err, errlen);
    if (!t) return -1;
    return kafka_topic_partition_count(p->rk, t, topic, p->timeout_us, err, errlen);
}

void kafka_producer_free(kafka_producer *p) {
    if (!p) return;
    for (size_t i = 0; i < p->ntopics; i++) rd_kafka_topic_destroy(p->topics[i]);
    if (p->rk) {
        /* Messages still queued are purged, not waited for: the caller decided (via flush)
         * how long to wait. Their failed reports are not counted any more. */
        p->on_delivery = NULL;
        rd_kafka_purge(p->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_destroy(p->rk);
    }
    free(p);
}
