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
 *     kafka_producer_open() is the producer of long-running writers (gen, run): every topic
 *     checked before the first message, retried until delivered unless a delivery limit is
 *     given, a backlog bound for backpressure, and a per-message delivery callback.
 *   - Brokers: a comma-separated bootstrap list. When a command is given none, it reads the
 *     address the embedded broker wrote (kafka_default_brokers()).
 *   - Partitioning: the producer uses Kafka's Java-compatible murmur2 partitioner on the key, so a
 *     key (user_id) maps to the same partition number in every topic with the same partition
 *     count (the three event topics are co-partitioned), and Java / Python clients agree.
 *   - Threads: a producer or consumer is used from one thread at a time (its callbacks run in
 *     that thread, inside send/poll/flush). Different objects are independent: no global state.
 *   - librdkafka's own log lines are not printed; errors reach the caller through err buffers,
 *     stats.last_error, or the consumer's error count. Set ECOM_KAFKA_DEBUG=1 to see them.
 */
#ifndef ECOM_KAFKA_H
#define ECOM_KAFKA_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

/* The librdkafka version this process runs (rd_kafka_version_str(): the loaded library, not the
 * headers ecom was compiled with), e.g. "2.8.0". Static string. */
const char *kafka_library_version(void);

/* ---- producer ---- */
typedef struct kafka_producer kafka_producer;

typedef struct {
    uint64_t sent;        /* accepted into the local queue */
    uint64_t delivered;   /* acknowledged by the broker */
    uint64_t failed;      /* delivery reports with an error */
    char last_error[256]; /* text of the most recent delivery error, "" if none */
} kafka_producer_stats;

/* Connects to brokers; fails within timeout_us (clear error) if none answers. timeout_us is
 * also the producer's time limit: a message not acknowledged within it fails (delivery report
 * with an error), and send() gives up after blocking that long on a full queue. */
kafka_producer *kafka_producer_new(const char *brokers, int64_t timeout_us, char *err, size_t errlen);

/* The same with extra librdkafka settings ("name=value", NULL-terminated; applied after ecom's
 * own, so they may override them; of a name given twice only the last entry is applied). settings NULL = $ECOM_KAFKA_CONF, which
 * is what kafka_producer_new() uses. A command passes the list its flags built (config file
 * `kafka.*` keys, then $ECOM_KAFKA_CONF, then -X). The same rule holds for every constructor
 * below that takes settings. */
kafka_producer *kafka_producer_new_with(const char *brokers, int64_t timeout_us, const char *const *settings,
                                        char *err, size_t errlen);

/* Called from the delivery report of each message (inside send/poll/flush/wait, in the caller's
 * thread), in the order the broker acknowledged them (per partition: the order they were sent).
 * tag is the one given to kafka_producer_send_tagged() (0 for kafka_producer_send()). ok = 1
 * with the partition and offset Kafka stored it at, or 0 with why it failed (offset -1).
 * val/vlen is the message's value, valid during the call only. */
typedef void (*kafka_delivery_fn)(void *ctx, uint64_t tag, int ok, const char *topic, int32_t partition,
                                  int64_t offset, const void *val, size_t vlen, const char *why);

typedef struct {
    const char *brokers;
    int64_t connect_timeout_us;     /* bounded wait for a first broker answer and for topics; 0 = 10 s */
    int64_t delivery_timeout_us;    /* per-message delivery limit; 0 = retry until delivered (infinite) */
    const char *const *settings;    /* extra librdkafka settings; NULL = $ECOM_KAFKA_CONF */
    const char *const *topics;      /* checked (waited for) before the constructor returns; may be NULL */
    size_t ntopics;
    kafka_delivery_fn on_delivery;  /* may be NULL */
    void *ctx;
    volatile sig_atomic_t *stop;    /* when set, blocking waits (full queue, backlog) give up; may be NULL */
} kafka_producer_config;

/* The producer for a long-running writer (gen, run): connects within connect_timeout_us, then
 * checks every topic in cfg->topics (a topic the broker auto-creates is waited for until every
 * partition has a leader, within connect_timeout_us) so that no message is sent unless every
 * topic can take it. With delivery_timeout_us = 0 a message is retried until the broker
 * acknowledges it, and send() blocks on a full queue for as long as it takes (or until *stop).
 * NULL with err. */
kafka_producer *kafka_producer_open(const kafka_producer_config *cfg, char *err, size_t errlen);

/* Messages sent and not yet acknowledged or failed. */
uint64_t kafka_producer_unacked(kafka_producer *p);

/* Backpressure: serves delivery reports until fewer than max_unacked messages are in flight.
 * Returns 0 then, 1 if *stop (the config's) was set first, or after waiting wait_us without
 * getting under the bound (wait_us 0 = no limit), so the caller can report progress and call
 * again. */
int kafka_producer_wait_unacked(kafka_producer *p, uint64_t max_unacked, int64_t wait_us);

/* The librdkafka producer settings applied (name=value pairs, NULL-terminated), for docs/tests. */
extern const char *const kafka_producer_settings[];

/* Queues one message. The first message to a topic not checked by kafka_producer_open checks
 * that the topic exists (one metadata request; -1 with "topic X: Broker: Unknown topic or
 * partition" if not). Blocks (serving delivery reports) while the local queue is full, up to the
 * delivery time limit (forever when it is 0, unless *stop); returns -1 on a fatal error,
 * time-out or stop. */
int kafka_producer_send(kafka_producer *p, const char *topic, const void *key, size_t klen,
                        const void *val, size_t vlen, char *err, size_t errlen);

/* The same, with a tag handed back to the config's on_delivery callback. */
int kafka_producer_send_tagged(kafka_producer *p, const char *topic, const void *key, size_t klen, const void *val,
                               size_t vlen, uint64_t tag, char *err, size_t errlen);

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

/* Writes addr (plus a newline) to path atomically (temp file + rename), creating the parent
 * directory if missing. 0 or -1 with err. */
int kafka_brokers_file_write(const char *path, const char *addr, char *err, size_t errlen);

/* ---- topics ---- */
/* The three event topics, in event_topic order (events.h): page_views, cart_events, orders. */
#define KAFKA_NTOPICS 3
extern const char *const kafka_event_topics[KAFKA_NTOPICS];

/* Creates topics on a real cluster (CreateTopics admin request) with the same partition count
 * and the given replication factor. A topic that already exists with that partition count is
 * fine; with another count it is an error (co-partitioning would break). Returns once the
 * broker's metadata shows every partition with a leader (safe to produce; see admin.c), within
 * timeout_us. 0 or -1 with err. */
int kafka_topics_create(const char *brokers, const char *const *topics, size_t ntopics,
                        int partitions, int replication, int64_t timeout_us, char *err, size_t errlen);
/* The same with extra settings (see kafka_producer_new_with). */
int kafka_topics_create_with(const char *brokers, const char *const *topics, size_t ntopics, int partitions,
                             int replication, int64_t timeout_us, const char *const *settings, char *err,
                             size_t errlen);

/* ---- consumer (for the stream stage) ----
 * A group member subscribed to a set of topics. Offsets are never committed automatically: the
 * caller commits explicitly what it has made durable. Partitions are assigned with the "range"
 * assignor, which gives one member the same partition numbers of every subscribed topic with
 * equal partition counts: a user's page views, cart events and orders reach the same member. */
typedef struct kafka_consumer kafka_consumer;

typedef struct {
    const char *topic;     /* valid while the consumer lives */
    int32_t partition;
    int64_t offset;        /* next offset to read; KAFKA_OFFSET_* below are special values */
} kafka_topic_partition;

#define KAFKA_OFFSET_STORED    (-1000)  /* the group's committed offset, else auto_offset_reset */
#define KAFKA_OFFSET_BEGINNING (-2)
#define KAFKA_OFFSET_END       (-1)

/* Called inside kafka_consumer_poll() when partitions are assigned (assigned = 1) or revoked
 * (assigned = 0, before they go: the last chance to commit them). On assignment, parts[i].offset
 * is KAFKA_OFFSET_STORED and the callback may set it (e.g. to resume from its own checkpoint);
 * the consumer then starts each partition there. */
typedef void (*kafka_rebalance_fn)(void *ctx, int assigned, kafka_topic_partition *parts, size_t n);

typedef struct {
    const char *brokers;
    const char *group_id;
    const char *const *topics;
    size_t ntopics;
    const char *auto_offset_reset;  /* "earliest" (default when NULL) or "latest" */
    int session_timeout_ms;         /* 0 = 6000 (short: a restarted member rejoins quickly) */
    int64_t timeout_us;             /* connect/metadata time limit; 0 = 10 s */
    kafka_rebalance_fn on_rebalance;/* may be NULL */
    const char *const *settings;    /* extra librdkafka settings (see kafka_producer_new_with); NULL = $ECOM_KAFKA_CONF */
    void *ctx;
} kafka_consumer_config;

typedef struct {
    const char *topic;
    int32_t partition;
    int64_t offset;
    const void *key;      /* NULL when the message has no key */
    size_t klen;
    const void *val;
    size_t vlen;
    int64_t timestamp_us; /* the message's Kafka timestamp (create time), -1 if none */
} kafka_message;

typedef struct {
    uint64_t messages;    /* returned by poll */
    uint64_t errors;      /* non-fatal consumer errors seen (e.g. broker down, offset reset) */
    char last_error[256];
} kafka_consumer_stats;

/* Joins the group and subscribes. Fails within cfg->timeout_us if no broker answers, or if a
 * topic does not exist. */
kafka_consumer *kafka_consumer_new(const kafka_consumer_config *cfg, char *err, size_t errlen);

/* Waits up to timeout_ms for one message. Returns 1 with *out filled (its pointers stay valid
 * until the next poll or free), 0 if none came, -1 on a fatal error (err says why). Non-fatal
 * errors are counted in the stats and poll goes on. Rebalance callbacks run in here. */
int kafka_consumer_poll(kafka_consumer *c, int timeout_ms, kafka_message *out, char *err, size_t errlen);

/* The same for up to max messages: waits up to timeout_ms for the first, then adds only what
 * is already queued (a live stream's event is never held back to fill a batch). *n messages in
 * out[0..*n), in the order poll would return them; their pointers stay valid until the next
 * poll, poll_batch or free. 0 (also when none came), or -1 on a fatal error (err). */
int kafka_consumer_poll_batch(kafka_consumer *c, int timeout_ms, kafka_message *out, size_t max, size_t *n,
                              char *err, size_t errlen);

/* Commits offsets (offset = next message to read, i.e. last processed + 1), waiting up to
 * timeout_ms for the coordinator's answer; past it -1 ("no answer within ...") while the commit
 * goes on in the background. Why bounded: a caller that commits for information only (the
 * stream: its commit log is the truth) must not stall on a broker that went away — a plain
 * sync commit waited for librdkafka's own timeout (socket.timeout.ms, 60 s) with the caller's
 * loop, and its /status, frozen. */
int kafka_consumer_commit(kafka_consumer *c, const kafka_topic_partition *offs, size_t n, int timeout_ms,
                          char *err, size_t errlen);

/* Low and high watermark of a partition as the broker knows them (high - position = lag). */
int kafka_consumer_watermarks(kafka_consumer *c, const char *topic, int32_t partition,
                              int64_t *low, int64_t *high, int timeout_ms, char *err, size_t errlen);

/* The same from the consumer's cache (updated by every fetch response; no network round trip,
 * so cheap enough for a status page refreshed every second). -1 (*high = -1) when unknown. */
int kafka_consumer_watermarks_cached(kafka_consumer *c, const char *topic, int32_t partition, int64_t *low,
                                     int64_t *high);

void kafka_consumer_stats_get(kafka_consumer *c, kafka_consumer_stats *out);

/* Leaves the group (revoke callback runs) and releases everything. NULL is fine. */
void kafka_consumer_free(kafka_consumer *c);

/* ---- embedded broker: librdkafka's mock cluster, in memory ----
 * One in-process broker on 127.0.0.1 with an ephemeral port, serving the Kafka protocol from
 * its own thread. Limits (measured on librdkafka 2.0.2, see docs/kafka.md): data in memory
 * only, each partition keeps about the last 5 MiB / 100,000 message sets, no fixed port. */
typedef struct kafka_mock kafka_mock;

/* Starts the broker and creates topics with partitions each. NULL with err on failure. */
kafka_mock *kafka_mock_start(const char *const *topics, size_t ntopics, int partitions,
                             char *err, size_t errlen);

/* Bootstrap address ("127.0.0.1:PORT"), owned by the mock, valid until kafka_mock_stop(). */
const char *kafka_mock_bootstraps(const kafka_mock *m);

/* Stops the broker; its data is gone. NULL is fine. */
void kafka_mock_stop(kafka_mock *m);

#endif
