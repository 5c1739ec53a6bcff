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

/* ---- diag.c: clear, early connection errors ----
 * A client's error callback hands every error to kafka_client_error_record(), which keeps the
 * latest cause and, the first time it recognises a configuration mistake (kafka_diagnose()),
 * a one-line fix. kafka_wait_brokers() returns as soon as a fix is known. */
typedef struct {
    char reason[256]; /* the latest error's text ("" if none); "all brokers down" keeps the cause */
    int code;         /* its rd_kafka_resp_err_t */
    char fix[640];    /* one line naming the setting to fix; "" until such an error is seen */
} kafka_client_error;

void kafka_client_error_record(kafka_client_error *ce, rd_kafka_t *rk, int code, const char *reason);

/* Writes to out a one-line message naming the setting to fix when (code, reason) is a
 * configuration mistake that retrying cannot cure — wrong credentials, an untrusted broker CA,
 * a missing or refused client certificate, a plain client on a TLS port or the reverse — and
 * returns 1; returns 0 (out untouched) for anything else. Never prints a password. */
int kafka_diagnose(const rd_kafka_conf_t *conf, int code, const char *reason, char *out, size_t n);

/* rd_kafka_new() after checking that every file a setting names (ssl.ca.location, ...) can be
 * read, so that a bad path is reported with its setting and path, and that a SASL username does
 * not come with librdkafka's default mechanism (GSSAPI). Takes conf in all cases (on
 * failure it is destroyed). what ("producer", ...) goes into the message. NULL with err. */
rd_kafka_t *kafka_client_new(rd_kafka_type_t type, rd_kafka_conf_t *conf, const char *what, char *err,
                             size_t errlen);

/* Asks a broker for metadata within timeout_us. On failure writes a clear message naming the
 * brokers: ce->fix as soon as one is known (well before the time limit), else the latest
 * cause. ce may be NULL. 0 or -1. */
int kafka_wait_brokers(rd_kafka_t *rk, const char *brokers, int64_t timeout_us, kafka_client_error *ce,
                       char *err, size_t errlen);

/* Partition count of topic from broker metadata; -1 with err (also for a missing topic). */
int kafka_topic_partition_count(rd_kafka_t *rk, rd_kafka_topic_t *t, const char *topic,
                                int64_t timeout_us, char *err, size_t errlen);

#endif
