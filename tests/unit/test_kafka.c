/* test_kafka.c — the kafka module against the in-process mock broker: delivery counting,
 * co-partitioning by key, the consumer API, unreachable brokers, the default address file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "kafka/kafka.h"
#include "kafka/kafka_int.h"
#include "util/util.h"

#define N_MSGS 6000
#define N_USERS 200
#define PARTS 3

/* Kafka's Java murmur2 (the default partitioner of Java and kafka-python clients), written
 * here independently as the oracle for "same key -> same partition as the JVM would choose". */
static int32_t java_murmur2(const void *key, size_t len) {
    const uint8_t *d = key;
    const uint32_t m = 0x5bd1e995;
    const int r = 24;
    uint32_t h = 0x9747b28c ^ (uint32_t)len;
    size_t n4 = len / 4;
    for (size_t i = 0; i < n4; i++) {
        uint32_t k = (uint32_t)d[i * 4] | (uint32_t)d[i * 4 + 1] << 8 | (uint32_t)d[i * 4 + 2] << 16 |
                     (uint32_t)d[i * 4 + 3] << 24;
        k *= m;
        k ^= k >> r;
        k *= m;
        h *= m;
        h ^= k;
    }
    switch (len % 4) {
    case 3: h ^= (uint32_t)d[(len & ~3u) + 2] << 16; /* fall through */
    case 2: h ^= (uint32_t)d[(len & ~3u) + 1] << 8;  /* fall through */
    case 1: h ^= d[len & ~3u]; h *= m;
    }
    h ^= h >> 13;
    h *= m;
    h ^= h >> 15;
    return (int32_t)h;
}

static int java_partition(const char *key, int n) {
    return (int)((uint32_t)java_murmur2(key, strlen(key)) & 0x7fffffff) % n;
}

static void test_producer_delivers_and_partitions_by_key(check_state *st) {
    CHECK_STATE(st);
    char err[512] = "";
    kafka_mock *m = kafka_mock_start(kafka_event_topics, KAFKA_NTOPICS, PARTS, err, sizeof err);
    CHECK(m != NULL);
    if (!m) { printf("  %s\n", err); return; }
    kafka_producer *p = kafka_producer_new(kafka_mock_bootstraps(m), 10 * TIME_US_PER_SEC, err, sizeof err);
    CHECK(p != NULL);
    if (!p) { printf("  %s\n", err); kafka_mock_stop(m); return; }
    for (int t = 0; t < KAFKA_NTOPICS; t++)
        CHECK_INTEQ(kafka_producer_partitions(p, kafka_event_topics[t], err, sizeof err), PARTS);
    for (int i = 0; i < N_MSGS; i++) {
        char key[16], val[64];
        snprintf(key, sizeof key, "U%06d", i % N_USERS);
        int n = snprintf(val, sizeof val, "{\"i\":%d,\"user_id\":\"%s\"}", i, key);
        int rc = kafka_producer_send(p, kafka_event_topics[i % KAFKA_NTOPICS], key, strlen(key), val,
                                     (size_t)n, err, sizeof err);
        CHECK(rc == 0);
        if (rc) { printf("  %s\n", err); break; }
    }
    CHECK_INTEQ(kafka_producer_flush(p, 10 * TIME_US_PER_SEC), 0);
    kafka_producer_stats s;
    kafka_producer_stats_get(p, &s);
    CHECK_INTEQ(s.sent, N_MSGS);
    CHECK_INTEQ(s.delivered, N_MSGS);
    CHECK_INTEQ(s.failed, 0);
    CHECK_STREQ(s.last_error, "");
    kafka_producer_free(p);

    /* Read everything back through the consumer API: every key must sit in the partition Java's
     * murmur2 picks, in all three topics; the high watermarks add up to what was sent. */
    const kafka_consumer_config cfg = {
        .brokers = kafka_mock_bootstraps(m), .group_id = "test-kafka", .topics = kafka_event_topics,
        .ntopics = KAFKA_NTOPICS, .session_timeout_ms = 6000, .timeout_us = 5 * TIME_US_PER_SEC,
    };
    kafka_consumer *c = kafka_consumer_new(&cfg, err, sizeof err);
    CHECK(c != NULL);
    if (!c) { printf("  %s\n", err); kafka_mock_stop(m); return; }
    int got = 0, wrong_part = 0, bad_val = 0;
    int64_t t_end = time_mono_us() + 20 * TIME_US_PER_SEC;
    while (got < N_MSGS && time_mono_us() < t_end) {
        kafka_message msg;
        int r = kafka_consumer_poll(c, 200, &msg, err, sizeof err);
        CHECK(r >= 0);
        if (r < 0) break;
        if (r == 0) continue;
        got++;
        char key[16] = "";
        if (msg.klen < sizeof key) memcpy(key, msg.key, msg.klen);
        if (msg.partition != java_partition(key, PARTS)) wrong_part++;
        if (msg.vlen < 10 || memcmp(msg.val, "{\"i\":", 5) || msg.timestamp_us <= 0) bad_val++;
    }
    CHECK_INTEQ(got, N_MSGS);
    CHECK_INTEQ(wrong_part, 0);
    CHECK_INTEQ(bad_val, 0);
    int64_t total_high = 0;
    for (int t = 0; t < KAFKA_NTOPICS; t++)
        for (int part = 0; part < PARTS; part++) {
            int64_t lo = -1, hi = -1;
            CHECK(kafka_consumer_watermarks(c, kafka_event_topics[t], part, &lo, &hi, 5000, err, sizeof err) == 0);
            CHECK_INTEQ(lo, 0);
            total_high += hi;
        }
    CHECK_INTEQ(total_high, N_MSGS);
    kafka_topic_partition off = {"orders", 0, 1};
    CHECK(kafka_consumer_commit(c, &off, 1, 10000, err, sizeof err) == 0);
    kafka_consumer_free(c);
    kafka_mock_stop(m);
}

typedef struct {
    int assigned_calls, revoked_calls, assigned_parts;
    int64_t start_at;
} rebalance_log;

/* Starts orders[*] at start_at to prove the callback's offsets are applied. */
static void on_rebalance(void *ctx, int assigned, kafka_topic_partition *parts, size_t n) {
    rebalance_log *log = ctx;
    if (!assigned) {
        log->revoked_calls++;
        return;
    }
    log->assigned_calls++;
    log->assigned_parts += (int)n;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(parts[i].topic, "orders")) parts[i].offset = log->start_at;
}

/* Starts *mp, a mock cluster with one orders partition, and returns a producer on it that has
 * sent n messages "0".."n-1" (key "k") to orders and flushed them; NULL (a failed check, the
 * mock stopped) when either could not be made. The caller frees both. */
static kafka_producer *orders_sent(check_state *st, kafka_mock **mp, int n, char *err, size_t errlen) {
    CHECK_STATE(st);
    static const char *const topics[] = {"orders"};
    kafka_mock *m = *mp = kafka_mock_start(topics, 1, 1, err, errlen);
    CHECK(m != NULL);
    if (!m) return NULL;
    kafka_producer *p = kafka_producer_new(kafka_mock_bootstraps(m), 5 * TIME_US_PER_SEC, err, errlen);
    CHECK(p != NULL);
    if (!p) {
        kafka_mock_stop(m);
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        char v[16];
        int k = snprintf(v, sizeof v, "%d", i);
        CHECK(kafka_producer_send(p, "orders", "k", 1, v, (size_t)k, err, errlen) == 0);
    }
    CHECK_INTEQ(kafka_producer_flush(p, 5 * TIME_US_PER_SEC), 0);
    return p;
}

/* A consumer of orders on mock m in group, its rebalances logged in log (5 s time limit); NULL
 * (a failed check) when it could not be made. The caller frees it. */
static kafka_consumer *orders_consumer(check_state *st, kafka_mock *m, const char *group, rebalance_log *log,
                                       char *err, size_t errlen) {
    CHECK_STATE(st);
    static const char *const topics[] = {"orders"};
    kafka_consumer_config cfg = {
        .brokers = kafka_mock_bootstraps(m), .group_id = group, .topics = topics, .ntopics = 1,
        .timeout_us = 5 * TIME_US_PER_SEC, .on_rebalance = on_rebalance, .ctx = log,
    };
    kafka_consumer *c = kafka_consumer_new(&cfg, err, errlen);
    CHECK(c != NULL);
    return c;
}

static void test_consumer_rebalance_and_commit(check_state *st) {
    CHECK_STATE(st);
    char err[512] = "";
    kafka_mock *m;
    kafka_producer *p = orders_sent(st, &m, 10, err, sizeof err);
    if (!p) return;
    kafka_producer_free(p);

    rebalance_log log = {.start_at = 7};
    kafka_consumer *c = orders_consumer(st, m, "g1", &log, err, sizeof err);
    if (!c) { kafka_mock_stop(m); return; }
    kafka_message msg;
    int r = 0;
    int64_t t_end = time_mono_us() + 15 * TIME_US_PER_SEC;
    while (r == 0 && time_mono_us() < t_end) r = kafka_consumer_poll(c, 200, &msg, err, sizeof err);
    CHECK_INTEQ(r, 1);
    CHECK_INTEQ(log.assigned_calls, 1);
    CHECK_INTEQ(log.assigned_parts, 1);
    if (r == 1) {
        CHECK_INTEQ(msg.offset, 7); /* started where the callback said */
        CHECK(msg.vlen == 1 && ((const char *)msg.val)[0] == '7');
        CHECK(msg.klen == 1 && ((const char *)msg.key)[0] == 'k');
    }
    kafka_topic_partition off = {"orders", 0, 8};
    CHECK(kafka_consumer_commit(c, &off, 1, 10000, err, sizeof err) == 0);
    kafka_consumer_free(c);
    CHECK_INTEQ(log.revoked_calls, 1);

    /* (A missing topic is refused by kafka_consumer_new on a real broker; the mock cluster
     * auto-creates any topic it is asked about, so that is covered by the real-broker tests.) */
    kafka_mock_stop(m);
}

/* poll_batch: every message once, in offset order, several per call (rebalance callbacks served
 * inside it); and a lone new message is returned as soon as it arrives, not after the whole
 * timeout (librdkafka's own batch call waits until the batch is full or the time is up). */
static void test_consumer_poll_batch(check_state *st) {
    CHECK_STATE(st);
    char err[512] = "";
    kafka_mock *m;
    enum { N = 500, MAX = 64 };
    kafka_producer *p = orders_sent(st, &m, N, err, sizeof err);
    if (!p) return;
    rebalance_log log = {.start_at = KAFKA_OFFSET_BEGINNING};
    kafka_consumer *c = orders_consumer(st, m, "g-batch", &log, err, sizeof err);
    if (!c) { kafka_producer_free(p); kafka_mock_stop(m); return; }
    kafka_message msg[MAX];
    int got = 0, out_of_order = 0, biggest = 0;
    int64_t t_end = time_mono_us() + 20 * TIME_US_PER_SEC;
    while (got < N && time_mono_us() < t_end) {
        size_t n = 0;
        CHECK(kafka_consumer_poll_batch(c, 200, msg, MAX, &n, err, sizeof err) == 0);
        for (size_t i = 0; i < n; i++, got++) {
            char want[16];
            int wl = snprintf(want, sizeof want, "%d", got);
            if (msg[i].offset != got || msg[i].vlen != (size_t)wl || memcmp(msg[i].val, want, (size_t)wl)) out_of_order++;
        }
        if ((int)n > biggest) biggest = (int)n;
    }
    CHECK_INTEQ(got, N);
    CHECK_INTEQ(out_of_order, 0);
    CHECK(biggest > 1);
    CHECK(biggest <= MAX);
    CHECK_INTEQ(log.assigned_calls, 1);

    CHECK(kafka_producer_send(p, "orders", "k", 1, "last", 4, err, sizeof err) == 0);
    CHECK_INTEQ(kafka_producer_flush(p, 5 * TIME_US_PER_SEC), 0);
    int64_t t0 = time_mono_us();
    size_t n = 0;
    CHECK(kafka_consumer_poll_batch(c, 30000, msg, MAX, &n, err, sizeof err) == 0);
    int64_t waited = time_mono_us() - t0;
    CHECK_INTEQ(n, 1);
    if (n == 1) CHECK(msg[0].offset == N && msg[0].vlen == 4 && !memcmp(msg[0].val, "last", 4));
    /* The wall bound is the behaviour under test (returned on arrival, not at the end of the
     * 30 s timeout). The mock answers within its 500 ms fetch wait; half the timeout leaves a
     * loaded box room and still tells the two apart. */
    CHECK(waited < 15 * TIME_US_PER_SEC);
    kafka_producer_free(p);
    kafka_consumer_free(c);
    kafka_mock_stop(m);
}

/* A broker that goes away: every message fails by the producer's time limit (1.5 s, librdkafka's
 * message.timeout.ms) and is counted. No wall-clock upper bound: on a loaded box librdkafka's
 * timeout scan may run late, so the proof is what the delivery reports say. left == 0 means the
 * flush ended because every report had come, not because its own (generous) limit ran out; the
 * reason "Message timed out" and the lower bound say they came from the time limit and not from
 * an earlier transport error (a lower bound cannot flake under load). */
static void test_producer_counts_failed_deliveries(check_state *st) {
    CHECK_STATE(st);
    char err[512] = "";
    kafka_mock *m = kafka_mock_start(kafka_event_topics, KAFKA_NTOPICS, 1, err, sizeof err);
    CHECK(m != NULL);
    if (!m) return;
    const int64_t limit = 1500 * TIME_US_PER_MS;
    kafka_producer *p = kafka_producer_new(kafka_mock_bootstraps(m), limit, err, sizeof err);
    CHECK(p != NULL);
    if (!p) { kafka_mock_stop(m); return; }
    CHECK_INTEQ(kafka_producer_partitions(p, "orders", err, sizeof err), 1);
    kafka_mock_stop(m);
    int64_t t0 = time_mono_us();   /* before the sends: no message can time out before t0 + limit */
    for (int i = 0; i < 5; i++) CHECK(kafka_producer_send(p, "orders", "k", 1, "v", 1, err, sizeof err) == 0);
    int64_t left = kafka_producer_flush(p, 30 * TIME_US_PER_SEC);
    int64_t took = time_mono_us() - t0;
    kafka_producer_stats s;
    kafka_producer_stats_get(p, &s);
    printf("  flush after %.2f s: %s\n", (double)took / 1e6, s.last_error);
    CHECK_INTEQ(left, 0);
    CHECK_INTEQ(s.failed, 5);
    CHECK_INTEQ(s.delivered, 0);
    CHECK(strstr(s.last_error, "orders") != NULL);
    CHECK(strstr(s.last_error, "Message timed out") != NULL);
    CHECK(took >= limit);
    kafka_producer_free(p);
}

static void test_unreachable_broker_fails_fast(check_state *st) {
    CHECK_STATE(st);
    char err[512] = "";
    int64_t t0 = time_mono_us();
    kafka_producer *p = kafka_producer_new("127.0.0.1:1", 1500 * TIME_US_PER_MS, err, sizeof err);
    int64_t took = time_mono_us() - t0;
    CHECK(p == NULL);
    /* The wall bound is the behaviour under test: it gives up at its own 1.5 s limit instead of
     * librdkafka's retries (which go on without end). The message says the limit was the reason;
     * 10 s leaves a loaded box room for the handle's teardown and still catches a hang. */
    CHECK(took < 10 * TIME_US_PER_SEC);
    CHECK(strstr(err, "no Kafka broker answered at 127.0.0.1:1 within 1.5 s") != NULL);
    printf("  message: %s\n", err);
    kafka_producer_free(p);

    err[0] = 0;
    CHECK(kafka_producer_new("", TIME_US_PER_SEC, err, sizeof err) == NULL);
    CHECK(err[0] != 0);

    const char *topics[] = {"orders"};
    err[0] = 0;
    CHECK(kafka_topics_create("127.0.0.1:1", topics, 1, 3, 1, TIME_US_PER_SEC, err, sizeof err) == -1);
    CHECK(strstr(err, "no Kafka broker answered") != NULL);
}

static void write_file(const char *path, const char *s) {
    FILE *f = fopen(path, "w");
    if (!f) return;
    fputs(s, f);
    fclose(f);
}

static void test_default_brokers_file(check_state *st) {
    CHECK_STATE(st);
    char dir[] = "/tmp/test_kafka.XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[256], out[256], err[512];
    snprintf(path, sizeof path, "%s/sub/dir/broker.addr", dir);
    setenv("ECOM_BROKER_FILE", path, 1);

    CHECK(kafka_default_brokers_path(out, sizeof out) == 0);
    CHECK_STREQ(out, path);
    CHECK(kafka_default_brokers(out, sizeof out, err, sizeof err) == -1); /* no file yet */
    CHECK(strstr(err, "ecom broker") != NULL);

    CHECK(kafka_brokers_file_write(path, "127.0.0.1:40001", err, sizeof err) == 0);
    CHECK(kafka_default_brokers(out, sizeof out, err, sizeof err) == 0);
    CHECK_STREQ(out, "127.0.0.1:40001");

    write_file(path, "  \t host1:9092,host2:9092 \r\n\n");
    CHECK(kafka_default_brokers(out, sizeof out, err, sizeof err) == 0);
    CHECK_STREQ(out, "host1:9092,host2:9092");

    write_file(path, " \n");
    CHECK(kafka_default_brokers(out, sizeof out, err, sizeof err) == -1);
    CHECK(strstr(err, "empty") != NULL);

    write_file(path, "a:1\nb:2\n");
    CHECK(kafka_default_brokers(out, sizeof out, err, sizeof err) == -1);

    char small[4];
    write_file(path, "127.0.0.1:9092\n");
    CHECK(kafka_default_brokers(small, sizeof small, err, sizeof err) == -1);

    /* Without ECOM_BROKER_FILE: $HOME/.cache/ecom/broker.addr. */
    unsetenv("ECOM_BROKER_FILE");
    const char *home = getenv("HOME");
    char want[512];
    snprintf(want, sizeof want, "%s/.cache/ecom/broker.addr", home ? home : "");
    if (home) {
        CHECK(kafka_default_brokers_path(out, sizeof out) == 0);
        CHECK_STREQ(out, want);
    }
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
}

/* kafka_diagnose() on librdkafka's texts that the real-broker test (test_kafka_secure.py) does not
 * produce with 2.8.0: 2.0.2's "Invalid response size" for a plain client on a TLS port, and an
 * unrelated error (connection refused), which must not count as a configuration mistake. The
 * password must never appear in the message. */
static void test_diagnose_messages(check_state *st) {
    CHECK_STATE(st);
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char err[256], out[640] = "";
    CHECK(kafka_conf_set(conf, "sasl.password", "hunter2-secret", err, sizeof err) == 0);
    CHECK(kafka_conf_set(conf, "sasl.mechanism", "SCRAM-SHA-512", err, sizeof err) == 0);
    const char *size = "127.0.0.1:9093/bootstrap: Receive failed: Invalid response size 352518912 (0..100000000): "
                       "increase receive.message.max.bytes";
    CHECK(kafka_diagnose(conf, RD_KAFKA_RESP_ERR__BAD_MSG, size, out, sizeof out) == 1);
    CHECK(strstr(out, "security.protocol=SSL or SASL_SSL") != NULL);
    out[0] = 0;
    CHECK(kafka_diagnose(conf, RD_KAFKA_RESP_ERR__TRANSPORT,
                         "127.0.0.1:1/bootstrap: Connect to ipv4#127.0.0.1:1 failed: Connection refused", out,
                         sizeof out) == 0);
    CHECK_STREQ(out, "");
    CHECK(kafka_diagnose(conf, RD_KAFKA_RESP_ERR__AUTHENTICATION, "SASL authentication error: invalid credentials",
                         out, sizeof out) == 1);
    CHECK(strstr(out, "sasl.password") != NULL);
    CHECK(strstr(out, "hunter2") == NULL);
    /* A username with librdkafka's default mechanism (GSSAPI): the mechanism is what to fix. */
    CHECK(kafka_conf_set(conf, "sasl.mechanism", "GSSAPI", err, sizeof err) == 0);
    CHECK(kafka_conf_set(conf, "sasl.username", "alice", err, sizeof err) == 0);
    CHECK(kafka_diagnose(conf, RD_KAFKA_RESP_ERR__AUTHENTICATION, "SASL handshake failed", out, sizeof out) == 1);
    CHECK(strstr(out, "set sasl.mechanism=PLAIN") != NULL);
    rd_kafka_conf_destroy(conf);
}

int main(void) {
    check_state st = {0};
    RUN(&st, test_default_brokers_file);
    RUN(&st, test_diagnose_messages);
    RUN(&st, test_unreachable_broker_fails_fast);
    RUN(&st, test_producer_delivers_and_partitions_by_key);
    RUN(&st, test_consumer_rebalance_and_commit);
    RUN(&st, test_consumer_poll_batch);
    RUN(&st, test_producer_counts_failed_deliveries);
    return CHECK_EXIT(&st);
}
