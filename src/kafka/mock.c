/* mock.c — the embedded broker: librdkafka's mock cluster, kept in memory (see kafka.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "kafka/kafka.h"
#include "kafka/kafka_int.h"

struct kafka_mock {
    rd_kafka_t *rk;                 /* the handle the mock cluster lives in */
    rd_kafka_mock_cluster_t *mc;
    char bootstraps[256];
};

/* The mock cluster needs a client handle to own it; a producer handle with no brokers of its
 * own does nothing else. One mock broker: the embedded broker is a single node. */
kafka_mock *kafka_mock_start(const char *const *topics, size_t ntopics, int partitions,
                             char *err, size_t errlen) {
    if (partitions < 1) {
        snprintf(err, errlen, "partitions must be at least 1");
        return NULL;
    }
    kafka_mock *m = calloc(1, sizeof *m);
    if (!m) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char errstr[256];
    rd_kafka_conf_set_log_cb(conf, NULL); /* the mock's own logs would only be noise */
    m->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!m->rk) {
        snprintf(err, errlen, "cannot create the broker's client handle: %s", errstr);
        rd_kafka_conf_destroy(conf);
        free(m);
        return NULL;
    }
    m->mc = rd_kafka_mock_cluster_new(m->rk, 1);
    if (!m->mc) {
        snprintf(err, errlen, "cannot start the mock cluster (no free port on 127.0.0.1?)");
        kafka_mock_stop(m);
        return NULL;
    }
    snprintf(m->bootstraps, sizeof m->bootstraps, "%s", rd_kafka_mock_cluster_bootstraps(m->mc));
    for (size_t i = 0; i < ntopics; i++) {
        rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(m->mc, topics[i], partitions, 1);
        if (e) {
            snprintf(err, errlen, "cannot create topic %s: %s", topics[i], rd_kafka_err2str(e));
            kafka_mock_stop(m);
            return NULL;
        }
    }
    return m;
}

const char *kafka_mock_bootstraps(const kafka_mock *m) {
    return m->bootstraps;
}

void kafka_mock_stop(kafka_mock *m) {
    if (!m) return;
    if (m->mc) rd_kafka_mock_cluster_destroy(m->mc);
    if (m->rk) rd_kafka_destroy(m->rk);
    free(m);
}
