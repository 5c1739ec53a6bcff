/* admin.c — creating the event topics on a real cluster (CreateTopics), see kafka.h. */
#include <stdbool.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "kafka/kafka.h"
#include "kafka/kafka_int.h"
#include "util/util.h"

/* An existing topic is accepted only with the requested partition count: the stream join
 * relies on equal counts (co-partitioning). */
static int admin_check_existing(rd_kafka_t *rk, const char *topic, int partitions, int64_t tmo,
                                char *err, size_t errlen) {
    rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
    if (!t) {
        snprintf(err, errlen, "topic %s: %s", topic, rd_kafka_err2str(rd_kafka_last_error()));
        return -1;
    }
    int n = kafka_topic_partition_count(rk, t, topic, tmo, err, errlen);
    rd_kafka_topic_destroy(t);
    if (n < 0) return -1;
    if (n != partitions) {
        snprintf(err, errlen, "topic %s exists with %d partitions, not %d", topic, n, partitions);
        return -1;
    }
    return 0;
}

/* Reads the per-topic results of one CreateTopics request. */
static int admin_results(rd_kafka_t *rk, rd_kafka_event_t *ev, int partitions, int64_t tmo,
                         char *err, size_t errlen) {
    if (rd_kafka_event_error(ev)) {
        snprintf(err, errlen, "create topics: %s", rd_kafka_event_error_string(ev));
        return -1;
    }
    size_t n = 0;
    const rd_kafka_topic_result_t **res =
        rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
    for (size_t i = 0; i < n; i++) {
        rd_kafka_resp_err_t e = rd_kafka_topic_result_error(res[i]);
        const char *name = rd_kafka_topic_result_name(res[i]);
        if (e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
            if (admin_check_existing(rk, name, partitions, tmo, err, errlen)) return -1;
        } else if (e) {
            snprintf(err, errlen, "create topic %s: %s", name, rd_kafka_topic_result_error_string(res[i]));
            return -1;
        }
    }
    return 0;
}

/* True when the broker's metadata shows topic with `partitions` partitions, each with a leader. */
static bool admin_topic_ready(rd_kafka_t *rk, const char *topic, int partitions) {
    rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
    if (!t) return false;
    const struct rd_kafka_metadata *md = NULL;
    bool ok = rd_kafka_metadata(rk, 0, t, &md, 1000) == RD_KAFKA_RESP_ERR_NO_ERROR && md->topic_cnt == 1 &&
              md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR && md->topics[0].partition_cnt == partitions;
    for (int i = 0; ok && i < md->topics[0].partition_cnt; i++)
        ok = md->topics[0].partitions[i].err == RD_KAFKA_RESP_ERR_NO_ERROR && md->topics[0].partitions[i].leader >= 0;
    if (md) rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(t);
    return ok;
}

/* Waits until every topic is ready on the broker we talk to. Why: CreateTopics returns when the
 * controller has committed the topics, before every broker's metadata shows them with leaders.
 * Producing into a topic that fresh lost the first few messages in tests (3 of 30,000, the
 * first messages of one topic, gen reporting every delivery as successful). The suspected
 * mechanism (librdkafka issue #3712): a partition that vanishes from the metadata and comes back
 * restarts the idempotent producer's sequence numbers, and the broker acknowledges the next
 * messages as duplicates of the first ones without storing them. */
static int admin_wait_ready(rd_kafka_t *rk, const char *const *topics, size_t ntopics, int partitions,
                            int64_t tmo, char *err, size_t errlen) {
    int64_t deadline = time_mono_us() + tmo;
    for (size_t i = 0; i < ntopics; i++) {
        while (!admin_topic_ready(rk, topics[i], partitions)) {
            if (time_mono_us() >= deadline) {
                snprintf(err, errlen, "topic %s: created, but not shown with %d partitions and their leaders "
                         "within %.1f s", topics[i], partitions, (double)tmo / 1e6);
                return -1;
            }
            struct timespec ts = {0, 50 * 1000 * 1000};
            nanosleep(&ts, NULL); /* between two metadata requests */
        }
    }
    return 0;
}

static int admin_create(rd_kafka_t *rk, const char *const *topics, size_t ntopics, int partitions,
                        int replication, int64_t tmo, char *err, size_t errlen) {
    rd_kafka_NewTopic_t **nt = calloc(ntopics, sizeof *nt);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *opt = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    int rc = -1;
    char errstr[256];
    if (!nt || !q || !opt) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    rd_kafka_AdminOptions_set_operation_timeout(opt, (int)(tmo / 1000), errstr, sizeof errstr);
    rd_kafka_AdminOptions_set_request_timeout(opt, (int)(tmo / 1000), errstr, sizeof errstr);
    for (size_t i = 0; i < ntopics; i++) {
        nt[i] = rd_kafka_NewTopic_new(topics[i], partitions, replication, errstr, sizeof errstr);
        if (!nt[i]) {
            snprintf(err, errlen, "topic %s: %s", topics[i], errstr);
            goto done;
        }
    }
    rd_kafka_CreateTopics(rk, nt, ntopics, opt, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, (int)(tmo / 1000) + 1000);
    if (!ev) {
        snprintf(err, errlen, "create topics: no answer within %.1f s", (double)tmo / 1e6);
        goto done;
    }
    rc = admin_results(rk, ev, partitions, tmo, err, errlen);
    rd_kafka_event_destroy(ev);
done:
    for (size_t i = 0; nt && i < ntopics; i++)
        if (nt[i]) rd_kafka_NewTopic_destroy(nt[i]);
    free(nt);
    if (opt) rd_kafka_AdminOptions_destroy(opt);
    if (q) rd_kafka_queue_destroy(q);
    return rc;
}

/* The admin client's opaque is its kafka_client_error (it has no other state). */
static void admin_on_error(rd_kafka_t *rk, int code, const char *reason, void *opaque) {
    kafka_client_error_record(opaque, rk, code, reason);
}

int kafka_topics_create(const char *brokers, const char *const *topics, size_t ntopics,
                        int partitions, int replication, int64_t timeout_us, char *err, size_t errlen) {
    return kafka_topics_create_with(brokers, topics, ntopics, partitions, replication, timeout_us, NULL, err, errlen);
}

int kafka_topics_create_with(const char *brokers, const char *const *topics, size_t ntopics, int partitions,
                             int replication, int64_t timeout_us, const char *const *settings, char *err,
                             size_t errlen) {
    if (!brokers || !*brokers || partitions < 1 || replication < 1) {
        snprintf(err, errlen, "create topics: need brokers, partitions >= 1, replication >= 1");
        return -1;
    }
    int64_t tmo = timeout_us > 0 ? timeout_us : 10 * TIME_US_PER_SEC;
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    kafka_client_error ce = {0};
    if (kafka_conf_set(conf, "bootstrap.servers", brokers, err, errlen) ||
        kafka_conf_common(conf, settings, err, errlen)) {
        rd_kafka_conf_destroy(conf);
        return -1;
    }
    rd_kafka_conf_set_opaque(conf, &ce);
    rd_kafka_conf_set_error_cb(conf, admin_on_error);
    rd_kafka_t *rk = kafka_client_new(RD_KAFKA_PRODUCER, conf, "admin client", err, errlen);
    if (!rk) return -1;
    int rc = kafka_wait_brokers(rk, brokers, tmo, &ce, err, errlen);
    if (rc == 0) rc = admin_create(rk, topics, ntopics, partitions, replication, tmo, err, errlen);
    if (rc == 0) rc = admin_wait_ready(rk, topics, ntopics, partitions, tmo, err, errlen);
    rd_kafka_destroy(rk);
    return rc;
}
