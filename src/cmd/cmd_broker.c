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
    "usage: ecom broker [--partitions N] [--addr-file PATH]\n"
    "       ecom broker --create-topics --brokers LIST [--partitions N] [--replication R]\n"
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

static int broker_create_topics(const char *brokers, int64_t partitions, int64_t replication, int64_t timeout) {
    char err[512];
    if (!brokers) {
        fprintf(stderr, "ecom broker: --create-topics needs --brokers\n");
        return 2;
    }
    if (kafka_topics_create(brokers, kafka_event_topics, KAFKA_NTOPICS, (int)partitions,
                            (int)replication, timeout, err, sizeof err)) {
        fprintf(stderr, "ecom broker: %s\n", err);
        return 1;
    }
    printf("topics page_views, cart_events, orders: %lld partitions each on %s\n",
           (long long)partitions, brokers);
    return 0;
}

static int broker_serve(const char *addr_file, int64_t partitions, bool quiet) {
    char err[512], path[4096];
    if (addr_file) {
        snprintf(path, sizeof path, "%s", addr_file);
    } else if (kafka_default_brokers_path(path, sizeof path)) {
        fprintf(stderr, "ecom broker: no --addr-file, and neither ECOM_BROKER_FILE nor HOME is set\n");
        return 2;
    }
    kafka_mock *m = kafka_mock_start(kafka_event_topics, KAFKA_NTOPICS, (int)partitions, err, sizeof err);
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
        fprintf(stderr, "ecom broker: listening on %s (page_views, cart_events, orders: %lld partitions "
                "each; in memory only); address in %s; stop with Ctrl-C\n", addr, (long long)partitions, path);
    int rc = broker_wait_signal() ? 1 : 0;
    if (rc) fprintf(stderr, "ecom broker: cannot wait for signals\n");
    broker_remove_addr(path, addr);
    kafka_mock_stop(m);
    if (!quiet) fprintf(stderr, "ecom broker: stopped\n");
    return rc;
}

int cmd_broker(int argc, char **argv) {
    int64_t partitions = 3, replication = 1, timeout = 10 * TIME_US_PER_SEC;
    const char *addr_file = NULL, *brokers = NULL;
    bool create = false, quiet = false;
    const flag_spec specs[] = {
        {"partitions", FLAG_INT, &partitions, "partitions per topic (equal for all three; default 3)", 1, 1024, NULL},
        {"addr-file", FLAG_STR, &addr_file, "where to write the address (default $ECOM_BROKER_FILE or ~/.cache/ecom/broker.addr)", 0, 0, NULL},
        {"create-topics", FLAG_BOOL, &create, "create the three topics on the cluster at --brokers, then exit", 0, 0, NULL},
        {"brokers", FLAG_STR, &brokers, "bootstrap list of a real cluster (with --create-topics)", 0, 0, NULL},
        {"replication", FLAG_INT, &replication, "replication factor (with --create-topics; default 1)", 1, 32, NULL},
        {"timeout", FLAG_DURATION, &timeout, "time limit for --create-topics (default 10s)", 0, 0, NULL},
        {"quiet", FLAG_BOOL, &quiet, "no messages on stderr", 0, 0, NULL},
        {NULL, 0, NULL, NULL, 0, 0, NULL},
    };
    char err[256];
    int npos = 0;
    int r = flags_parse(specs, argc, argv, NULL, 0, &npos, err, sizeof err);
    if (r == FLAGS_HELP) {
        flags_usage(stdout, broker_usage, specs);
        return 0;
    }
    if (r == FLAGS_ERROR) {
        fprintf(stderr, "ecom broker: %s\n", err);
        return 2;
    }
    if (create) return broker_create_topics(brokers, partitions, replication, timeout);
    if (brokers) {
        fprintf(stderr, "ecom broker: --brokers only goes with --create-topics\n");
        return 2;
    }
    return broker_serve(addr_file, partitions, quiet);
}
