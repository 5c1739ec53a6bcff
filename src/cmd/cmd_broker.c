/* cmd_broker.c — `ecom broker`: the embedded in-memory Kafka-protocol broker, or (with
 * --create-topics) creating the event topics on a real cluster. See docs/kafka.md. */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "kafka/kafka.h"
#include "util/util.h"

static volatile sig_atomic_t broker_stop;

static void broker_on_signal(int sig) {
    (void)sig;
    broker_stop = 1;
}

static const char broker_usage[] =
    "usage: ecom broker [--partitions N] [--addr-file PATH] [--topics V,C,O]\n"
    "       ecom broker --create-topics --brokers LIST [--partitions N] [--replication R] [--topics V,C,O]\n"
    "Runs an in-memory Kafka-protocol broker (librdkafka's mock cluster) on 127.0.0.1 with the\n"
    "topics page_views, cart_events, orders; prints its address and writes it to the address\n"
    "file that `ecom gen` and `ecom stream` read when given no --brokers. Runs until SIGINT or\n"
    "SIGTERM; data is kept in memory only. With --create-topics it instead creates the three\n"
    "topics (equal partition counts) on a real cluster and exits.";

/* Removes the address file only if it still holds our address: a broker started after us may
 * have replaced it, and its users must keep finding it. */
static void broker_remove_addr(const char *path, const char *addr) {
    buf_t b = {0};
    if (file_read_all(path, &b) == 0) {
        size_t n = strlen(addr);
        if (b.len >= n && !memcmp(b.data, addr, n) && (b.len == n || b.data[n] == '\n')) unlink(path);
    }
    buf_free(&b);
}

/* Blocks SIGINT/SIGTERM and waits for one with sigsuspend: no window where a signal arriving
 * between the check and the wait is lost. */
static int broker_wait_signal(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = broker_on_signal;
    sigemptyset(&sa.sa_mask);
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    if (sigprocmask(SIG_BLOCK, &block, &old) || sigaction(SIGINT, &sa, NULL) || sigaction(SIGTERM, &sa, NULL))
        return -1;
    sigset_t wait_set = old;
    sigdelset(&wait_set, SIGINT);
    sigdelset(&wait_set, SIGTERM);
    while (!broker_stop) sigsuspend(&wait_set);
    sigprocmask(SIG_SETMASK, &old, NULL);
    return 0;
}

/* Splits "a,b,c" into exactly KAFKA_NTOPICS non-empty names (in buf). 0 or -1. */
static int broker_parse_topics(const char *list, char *buf, size_t buflen, const char *names[KAFKA_NTOPICS]) {
    if (strlen(list) >= buflen) return -1;
    strcpy(buf, list);
    size_t n = 0;
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (n == KAFKA_NTOPICS) return -1;
        names[n++] = t;
    }
    return n == KAFKA_NTOPICS ? 0 : -1;
}

static int broker_create_topics(const char *brokers, const char *const *topics, int64_t partitions,
                                int64_t replication, int64_t timeout, const char *const *settings) {
    char err[512];
    if (!brokers) {
        fprintf(stderr, "ecom broker: --create-topics needs --brokers\n");
        return 2;
    }
    if (kafka_topics_create_with(brokers, topics, KAFKA_NTOPICS, (int)partitions, (int)replication, timeout,
                                 settings, err, sizeof err)) {
        fprintf(stderr, "ecom broker: %s\n", err);
        return 1;
    }
    printf("topics %s, %s, %s: %lld partitions each on %s\n", topics[0], topics[1], topics[2],
           (long long)partitions, brokers);
    return 0;
}

static int broker_serve(const char *addr_file, const char *const *topics, int64_t partitions, bool quiet) {
    char err[512], path[4096];
    if (addr_file) {
        snprintf(path, sizeof path, "%s", addr_file);
    } else if (kafka_default_brokers_path(path, sizeof path)) {
        fprintf(stderr, "ecom broker: no --addr-file, and neither ECOM_BROKER_FILE nor HOME is set\n");
        return 2;
    }
    kafka_mock *m = kafka_mock_start(topics, KAFKA_NTOPICS, (int)partitions, err, sizeof err);
    if (!m) {
        fprintf(stderr, "ecom broker: %s\n", err);
        return 1;
    }
    const char *addr = kafka_mock_bootstraps(m);
    if (kafka_brokers_file_write(path, addr, err, sizeof err)) {
        fprintf(stderr, "ecom broker: %s\n", err);
        kafka_mock_stop(m);
        return 1;
    }
    printf("%s\n", addr);
    fflush(stdout);
    if (!quiet)
        fprintf(stderr, "ecom broker: listening on %s (%s, %s, %s: %lld partitions each; in memory "
                "only); address in %s; stop with Ctrl-C\n", addr, topics[0], topics[1], topics[2],
                (long long)partitions, path);
    int rc = broker_wait_signal() ? 1 : 0;
    if (rc) fprintf(stderr, "ecom broker: cannot wait for signals\n");
    broker_remove_addr(path, addr);
    kafka_mock_stop(m);
    if (!quiet) fprintf(stderr, "ecom broker: stopped\n");
    return rc;
}

static int broker_main(int argc, char **argv, flags_store *fst) {
    int64_t partitions = 3, replication = 1, timeout = 10 * TIME_US_PER_SEC;
    const char *addr_file = NULL, *brokers = NULL, *topic_list = NULL;
    bool create = false, quiet = false;
    const flag_spec specs[] = {
        {"partitions", FLAG_INT, &partitions, "partitions per topic (equal for all three; default 3)", 1, 1024, NULL},
        {"addr-file", FLAG_STR, &addr_file, "where to write the address (default $ECOM_BROKER_FILE or ~/.cache/ecom/broker.addr)", 0, 0, NULL},
        {"create-topics", FLAG_BOOL, &create, "create the three topics on the cluster at --brokers, then exit", 0, 0, NULL},
        {"brokers", FLAG_STR, &brokers, "bootstrap list of a real cluster (with --create-topics)", 0, 0, NULL},
        {"topics", FLAG_STR, &topic_list, "the three topic names, views,cart,orders (default page_views,cart_events,orders)", 0, 0, NULL},
        {"replication", FLAG_INT, &replication, "replication factor (with --create-topics; default 1)", 1, 32, NULL},
        {"timeout", FLAG_DURATION, &timeout, "time limit for --create-topics (default 10s)", 0, 0, NULL},
        {"quiet", FLAG_BOOL, &quiet, "no messages on stderr", 0, 0, NULL},
        CMD_KAFKA_FLAGS(fst->kafka, "with --create-topics: "),
        {NULL, 0, NULL, NULL, 0, 0, NULL},
    };
    char err[256];
    int npos = 0;
    int r = flags_parse(specs, argc, argv, NULL, 0, &npos, fst, err, sizeof err);
    if (r == FLAGS_HELP) {
        flags_usage(stdout, broker_usage, specs);
        return 0;
    }
    if (r == FLAGS_ERROR) {
        fprintf(stderr, "ecom broker: %s\n", err);
        return 2;
    }
    const char *topics[KAFKA_NTOPICS] = {kafka_event_topics[0], kafka_event_topics[1], kafka_event_topics[2]};
    char tbuf[1024];
    if (topic_list && broker_parse_topics(topic_list, tbuf, sizeof tbuf, topics)) {
        fprintf(stderr, "ecom broker: --topics needs three comma-separated names (views,cart,orders)\n");
        return 2;
    }
    if (create)
        return broker_create_topics(brokers, topics, partitions, replication, timeout, kv_list_items(&fst->kafka));
    if (brokers) {
        fprintf(stderr, "ecom broker: --brokers only goes with --create-topics\n");
        return 2;
    }
    return broker_serve(addr_file, topics, partitions, quiet);
}

/* Values parsed from a config file live in st: it outlasts the whole command. */
int cmd_broker(int argc, char **argv) {
    flags_store st = {0};
    int rc = broker_main(argc, argv, &st);
    flags_store_free(&st);
    return rc;
}
