/*
 * kafka — Kafka I/O over librdkafka: a producer with checked delivery, a consumer (for the
 * stream stage), and the embedded in-memory broker (librdkafka's mock cluster).
 *
 * Contract
 *   - Every function returns 0 on success, -1 on error with a message in the caller's err buffer
 *     (or NULL for constructors). Nothing here exits or aborts.
 *   - Ownership: objects returned by *_new are owned by the caller and released by *_free;
 *     send() copies key and value, so the caller may reuse its buffers at once.
 *   - The producer is idempotent with acks=all. Every delivery report is checked: stats count
 *     delivered and failed messages, and kafka_producer_flush() says how many are left undelivered.
 *   - Brokers: a comma-separated bootstrap list. When a command is given none, it reads the
 *     address the embedded broker wrote (kafka_default_brokers()).
 */
#ifndef ECOM_KAFKA_H
#define ECOM_KAFKA_H

#include <stddef.h>
#include <stdint.h>

/* ---- producer ---- */
typedef struct kafka_producer kafka_producer;

typedef struct {
    uint64_t sent;        /* accepted into the local queue */
    uint64_t delivered;   /* acknowledged by the broker */
    uint64_t failed;      /* delivery reports with an error */
    char last_error[256]; /* text of the most recent delivery error, "" if none */
} kafka_producer_stats;

/* Connects to brokers; fails within timeout_us (clear error) if none answers. */
kafka_producer *kafka_producer_new(const char *brokers, int64_t timeout_us, char *err, size_t errlen);

/* Queues one message. Blocks (serving delivery reports) while the local queue is full, up to
 * the producer's timeout; returns -1 on a fatal error or time-out. */
int kafka_producer_send(kafka_producer *p, const char *topic, const void *key, size_t klen,
                        const void *val, size_t vlen, char *err, size_t errlen);

/* Serves delivery reports without blocking. */
void kafka_producer_poll(kafka_producer *p);

/* Waits up to timeout_us for everything in flight. Returns the number of messages still
 * undelivered (0 = all delivered). */
int64_t kafka_producer_flush(kafka_producer *p, int64_t timeout_us);

void kafka_producer_stats_get(kafka_producer *p, kafka_producer_stats *out);

/* Partition count of topic (created by the broker/admin beforehand), or -1 with err. */
int kafka_producer_partitions(kafka_producer *p, const char *topic, char *err, size_t errlen);

void kafka_producer_free(kafka_producer *p);

/* ---- default bootstrap address (written by `ecom broker`) ----
 * The file is $ECOM_BROKER_FILE, else $HOME/.cache/ecom/broker.addr. */
int kafka_default_brokers(char *out, size_t n, char *err, size_t errlen);
int kafka_default_brokers_path(char *out, size_t n);

#endif
