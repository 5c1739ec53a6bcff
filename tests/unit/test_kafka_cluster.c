/* test_kafka_cluster.c — the kafka module against a REAL Apache Kafka broker (started on demand by
 * tests/services/kafka.sh ensure): topic creation, checked delivery, and the consumer API the
 * stream stage uses — two group members splitting co-partitioned topics with the range
 * assignor, explicit commits, watermarks, and a missing topic refused. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "kafka/kafka.h"
#include "util/util.h"

#define PARTS 3
#define N_MSGS 30000
#define N_USERS 500

static char brokers[256];
static char topic_names[3][64];
static const char *topics[3];

/* Starts (or finds) the test broker through the service script; the address is its last line. */
static int real_broker(void) {
    const char *repo = getenv("REPO");
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "bash '%s/tests/services/kafka.sh' ensure", repo ? repo : ".");
    FILE *f = popen(cmd, "r");
    if (!f) return -1;
    char line[256] = "";
    while (fgets(line, sizeof line, f)) snprintf(brokers, sizeof brokers, "%s", line);
    int rc = pclose(f);
    brokers[strcspn(brokers, "\r\n")] = 0;
    return rc == 0 && brokers[0] ? 0 : -1;
}

/* Same oracle as test_kafka.c: Java's murmur2 partitioner, written independently. */
static int java_partition(const char *key, size_t len, int n) {
    const uint8_t *d = (const uint8_t *)key;
    const uint32_t m = 0x5bd1e995;
    uint32_t h = 0x9747b28c ^ (uint32_t)len;
    for (size_t i = 0; i + 4 <= len; i += 4) {
        uint32_t k = (uint32_t)d[i] | (uint32_t)d[i + 1] << 8 | (uint32_t)d[i + 2] << 16 | (uint32_t)d[i + 3] << 24;
        k *= m;
        k ^= k >> 24;
        k *= m;
        h *= m;
        h ^= k;
    }
    size_t t = len & ~(size_t)3;
    switch (len % 4) {
    case 3: h ^= (uint32_t)d[t + 2] << 16; /* fall through */
    case 2: h ^= (uint32_t)d[t + 1] << 8;  /* fall through */
    case 1: h ^= d[t]; h *= m;
    }
    h ^= h >> 13;
    h *= m;
    h ^= h >> 15;
    return (int)((h & 0x7fffffff) % (uint32_t)n);
}

static void test_create_topics(check_state *st) {
    CHECK_STATE(st);
    char err[512] = "";
    int rc = kafka_topics_create(brokers, topics, 3, PARTS, 1, 15 * TIME_US_PER_SEC, err, sizeof err);
    CHECK(rc == 0);
    if (rc) printf("  %s\n", err);
    /* Again: already there with the same count is fine; another count is refused. */
    CHECK(kafka_topics_create(brokers, topics, 3, PARTS, 1, 15 * TIME_US_PER_SEC, err, sizeof err) == 0);
    CHECK(kafka_topics_create(brokers, topics, 1, PARTS + 1, 1, 15 * TIME_US_PER_SEC, err, sizeof err) == -1);
    CHECK(strstr(err, "exists with 3 partitions, not 4") != NULL);
}

typedef struct {
    const char *name;
    int nassigned;
    kafka_topic_partition assigned[16];
    int rebalances;
} member;

static void on_rebalance(void *ctx, int assigned, kafka_topic_partition *parts, size_t n) {
    member *mb = ctx;
    mb->rebalances++;
    if (!assigned) {
        mb->nassigned = 0;
        return;
    }
    mb->nassigned = 0;
    for (size_t i = 0; i < n && i < 16; i++) mb->assigned[mb->nassigned++] = parts[i];
}

/* With the range assignor, a member holding partition p of one topic holds p of all three. */
static int member_copartitioned(const member *mb) {
    for (int i = 0; i < mb->nassigned; i++) {
        int same = 0;
        for (int j = 0; j < mb->nassigned; j++) same += mb->assigned[j].partition == mb->assigned[i].partition;
        if (same != 3) return 0;
    }
    return 1;
}

static kafka_consumer *new_member(member *mb, char *err, size_t errlen) {
    kafka_consumer_config cfg = {
        .brokers = brokers, .group_id = topic_names[0], .topics = topics, .ntopics = 3,
        .session_timeout_ms = 6000, .timeout_us = 10 * TIME_US_PER_SEC,
        .on_rebalance = on_rebalance, .ctx = mb,
    };
    return kafka_consumer_new(&cfg, err, errlen);
}

typedef struct {
    int got, wrong_partition, key_mismatch, dup;
    unsigned char *seen; /* per (topic, partition, offset) below N_MSGS */
} tally;

static void tally_one(tally *t, const kafka_message *m) {
    int ti = !strcmp(m->topic, topics[0]) ? 0 : !strcmp(m->topic, topics[1]) ? 1 : 2;
    size_t slot = ((size_t)ti * PARTS + (size_t)m->partition) * N_MSGS + (size_t)m->offset;
    if (m->offset < 0 || m->offset >= N_MSGS) return;
    if (t->seen[slot]++) t->dup++;
    t->got++;
    if (m->partition != java_partition(m->key, m->klen, PARTS)) t->wrong_partition++;
    /* the value names its key: {"user_id":"U000123",...} */
    if (m->vlen < 12 + m->klen || memcmp((const char *)m->val + 12, m->key, m->klen)) t->key_mismatch++;
}

static void test_produce_and_consume_group(check_state *st) {
    CHECK_STATE(st);
    char err[512] = "";
    member a = {.name = "a"}, b = {.name = "b"};
    kafka_consumer *ca = new_member(&a, err, sizeof err);
    CHECK(ca != NULL);
    if (!ca) { printf("  %s\n", err); return; }
    kafka_message msg;
    int64_t t_end = time_mono_us() + 30 * TIME_US_PER_SEC;
    while (a.nassigned < 3 * PARTS && time_mono_us() < t_end) kafka_consumer_poll(ca, 100, &msg, err, sizeof err);
    CHECK_INTEQ(a.nassigned, 3 * PARTS);

    /* A second member joins: the group splits the partitions, by partition number. */
    kafka_consumer *cb = new_member(&b, err, sizeof err);
    CHECK(cb != NULL);
    if (!cb) { printf("  %s\n", err); kafka_consumer_free(ca); return; }
    while ((b.nassigned == 0 || a.nassigned + b.nassigned != 3 * PARTS) && time_mono_us() < t_end) {
        kafka_consumer_poll(ca, 100, &msg, err, sizeof err);
        kafka_consumer_poll(cb, 100, &msg, err, sizeof err);
    }
    CHECK(a.nassigned > 0 && b.nassigned > 0);
    CHECK_INTEQ(a.nassigned + b.nassigned, 3 * PARTS);
    CHECK(member_copartitioned(&a));
    CHECK(member_copartitioned(&b));

    kafka_producer *p = kafka_producer_new(brokers, 15 * TIME_US_PER_SEC, err, sizeof err);
    CHECK(p != NULL);
    if (!p) { kafka_consumer_free(ca); kafka_consumer_free(cb); return; }
    for (int i = 0; i < N_MSGS; i++) {
        char key[16], val[96];
        snprintf(key, sizeof key, "U%06d", (i * 7) % N_USERS);
        int n = snprintf(val, sizeof val, "{\"user_id\":\"%s\",\"i\":%d}", key, i);
        if (kafka_producer_send(p, topics[i % 3], key, strlen(key), val, (size_t)n, err, sizeof err)) {
            CHECK(0);
            printf("  %s\n", err);
            break;
        }
    }
    CHECK_INTEQ(kafka_producer_flush(p, 20 * TIME_US_PER_SEC), 0);
    kafka_producer_stats ps;
    kafka_producer_stats_get(p, &ps);
    CHECK_INTEQ(ps.delivered, N_MSGS);
    CHECK_INTEQ(ps.failed, 0);
    kafka_producer_free(p);

    tally t = {.seen = calloc((size_t)3 * PARTS * N_MSGS, 1)};
    int got_a = 0, got_b = 0;
    t_end = time_mono_us() + 30 * TIME_US_PER_SEC;
    while (t.got < N_MSGS && time_mono_us() < t_end) {
        while (kafka_consumer_poll(ca, 50, &msg, err, sizeof err) == 1) { tally_one(&t, &msg); got_a++; }
        while (kafka_consumer_poll(cb, 50, &msg, err, sizeof err) == 1) { tally_one(&t, &msg); got_b++; }
    }
    CHECK_INTEQ(t.got, N_MSGS);
    CHECK_INTEQ(t.dup, 0);
    CHECK_INTEQ(t.wrong_partition, 0);
    CHECK_INTEQ(t.key_mismatch, 0);
    CHECK(got_a > 0 && got_b > 0);
    free(t.seen);

    /* Lag: high watermarks add up to what was produced; commit them all and a restarted member
     * finds nothing left to read. */
    int64_t total = 0;
    kafka_topic_partition offs[3 * PARTS];
    int noffs = 0;
    for (int ti = 0; ti < 3; ti++)
        for (int part = 0; part < PARTS; part++) {
            int64_t lo = -1, hi = -1;
            CHECK(kafka_consumer_watermarks(ca, topics[ti], part, &lo, &hi, 5000, err, sizeof err) == 0);
            total += hi;
            offs[noffs++] = (kafka_topic_partition){topics[ti], part, hi};
        }
    CHECK_INTEQ(total, N_MSGS);
    /* Each member commits what it owns (the group refuses commits for another's partitions). */
    kafka_topic_partition mine[3 * PARTS];
    for (int who = 0; who < 2; who++) {
        const member *mb = who ? &b : &a;
        int nm = 0;
        for (int i = 0; i < noffs; i++)
            for (int j = 0; j < mb->nassigned; j++)
                if (!strcmp(mb->assigned[j].topic, offs[i].topic) && mb->assigned[j].partition == offs[i].partition)
                    mine[nm++] = offs[i];
        CHECK(nm > 0);
        CHECK(kafka_consumer_commit(who ? cb : ca, mine, (size_t)nm, 10000, err, sizeof err) == 0);
    }
    int rebal_b = b.rebalances;
    kafka_consumer_free(ca);
    /* b takes over a's partitions at their committed ends: nothing is read again. */
    int again = 0;
    t_end = time_mono_us() + 20 * TIME_US_PER_SEC;
    while ((b.nassigned != 3 * PARTS || b.rebalances == rebal_b) && time_mono_us() < t_end)
        again += kafka_consumer_poll(cb, 100, &msg, err, sizeof err) == 1;
    for (int i = 0; i < 10; i++) again += kafka_consumer_poll(cb, 100, &msg, err, sizeof err) == 1;
    CHECK_INTEQ(b.nassigned, 3 * PARTS);
    CHECK_INTEQ(again, 0);
    kafka_consumer_free(cb);
}

static void test_missing_topic_refused(check_state *st) {
    CHECK_STATE(st);
    char err[512] = "";
    const char *missing[] = {"ecom_no_such_topic"};
    kafka_consumer_config cfg = {
        .brokers = brokers, .group_id = "g-missing", .topics = missing, .ntopics = 1,
        .timeout_us = 5 * TIME_US_PER_SEC,
    };
    kafka_consumer *c = kafka_consumer_new(&cfg, err, sizeof err);
    CHECK(c == NULL);
    CHECK(strstr(err, "ecom_no_such_topic") != NULL);
    printf("  message: %s\n", err);
    kafka_consumer_free(c);
}

int main(void) {
    check_state st = {0};
    if (real_broker()) {
        printf("FAIL real_broker (tests/services/kafka.sh ensure failed)\n");
        return 1;
    }
    for (int i = 0; i < 3; i++) {
        snprintf(topic_names[i], sizeof topic_names[i], "unit_%s_%ld", kafka_event_topics[i], (long)getpid());
        topics[i] = topic_names[i];
    }
    RUN(&st, test_create_topics);
    RUN(&st, test_produce_and_consume_group);
    RUN(&st, test_missing_topic_refused);
    return CHECK_EXIT(&st);
}
