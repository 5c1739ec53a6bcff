/* kafka_int.h — helpers shared by the kafka module's files; not part of its contract. */
#ifndef ECOM_KAFKA_INT_H
#define ECOM_KAFKA_INT_H

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

/* Sets one property; on error writes "name=value: reason" to err (a secret's value as ***). 0 or -1. */
int kafka_conf_set(rd_kafka_conf_t *conf, const char *name, const char *value, char *err, size_t errlen);

/* Sets a NULL-terminated list of "name=value" strings. 0 or -1. */
int kafka_conf_set_list(rd_kafka_conf_t *conf, const char *const *kv, char *err, size_t errlen);

/* Silences librdkafka's stderr logger unless ECOM_KAFKA_DEBUG is set (1, or a debug context
 * list), then applies settings ("name=value" strings, NULL-terminated), or, when settings is
 * NULL, $ECOM_KAFKA_CONF ("name=value;...", see config_split_settings). 0 or -1. */
int kafka_conf_common(rd_kafka_conf_t *conf, const char *const *settings, char *err, size_t errlen);

/* Asks a broker for metadata within timeout_us. On failure writes a clear message naming the
 * brokers and, if the client's error callback recorded one, the reason (why[]), after serving
 * pending callbacks so that why[] is up to date. 0 or -1. */
int kafka_wait_brokers(rd_kafka_t *rk, const char *brokers, int64_t timeout_us, const char *why,
                       char *err, size_t errlen);

/* Partition count of topic from broker metadata; -1 with err (also for a missing topic). */
int kafka_topic_partition_count(rd_kafka_t *rk, rd_kafka_topic_t *t, const char *topic,
                                int64_t timeout_us, char *err, size_t errlen);

#endif
