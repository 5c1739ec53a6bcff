/* cmd_stream.c — `ecom stream`: consume events (Kafka or a file), compute windowed metrics and
 * the funnel, write raw and metric tables with exactly-once commits. See pipeline.h. */
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "kafka/kafka.h"
#include "lake/lake.h"
#include "pipeline/pipeline.h"
#include "util/util.h"

static volatile sig_atomic_t stream_stop;

static void on_signal(int sig) {
    (void)sig;
    stream_stop = 1;
}

static const char usage[] =
    "usage: ecom stream [--brokers LIST | --input FILE|-] --out ROOT [flags]\n"
    "\n"
    "Consumes page_views, cart_events and orders in a consumer group (or reads an NDJSON file),\n"
    "and writes the raw tables (views, cart, orders, rejected) and the metric tables\n"
    "(sales_per_minute, category_activity, top_products, sales_by_city, funnel) under ROOT,\n"
    "partitioned by date, with exactly-once commits (ROOT/_ecom holds the commit log).\n"
    "Runs until SIGINT/SIGTERM (commits, exits 0) or, with --input, until the input ends\n"
    "(then every window is flushed as final). With no --brokers and no --input it uses the\n"
    "embedded broker's address (ecom broker).";

/* The cores this process may run on (its affinity mask: taskset and cpusets count), capped
 * at PIPELINE_MAX_THREADS: what `--threads 0` means. */
static int64_t stream_cores(void) {
    cpu_set_t set;
    long n = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > PIPELINE_MAX_THREADS ? PIPELINE_MAX_THREADS : n;
}

static int stream_main(int argc, char **argv, flags_store *fst) {
    cmd_hdfs hdfs;
    cmd_hdfs_init(&hdfs);
    storage_opts hso;
    pipeline_config c;
    pipeline_config_default(&c);
    const char *brokers = NULL, *input = NULL, *out = NULL, *listen = NULL;
    int64_t partitions_hint = 0;
    bool quiet = false;
    int64_t max_events = 0, threads = 1;
    flag_spec specs[] = {
        {"brokers", FLAG_STR, &brokers, "Kafka bootstrap servers (default: the embedded broker's address)", 0, 0, NULL},
        {"input", FLAG_STR, &input, "read NDJSON events from FILE (or - for stdin) instead of Kafka", 0, 0, NULL},
        {"out", FLAG_STR, &out, "output ROOT: a directory, file:///dir or hdfs://namenode:port/dir", 0, 0, NULL},
        CMD_HDFS_FLAGS(hdfs),
        {"group", FLAG_STR, &c.group_id, "consumer group id (default ecom-stream)", 0, 0, NULL},
        {"topic-views", FLAG_STR, &c.topics[0], "page view topic (default page_views)", 0, 0, NULL},
        {"topic-cart", FLAG_STR, &c.topics[1], "cart topic (default cart_events)", 0, 0, NULL},
        {"topic-orders", FLAG_STR, &c.topics[2], "order topic (default orders)", 0, 0, NULL},
        {"window", FLAG_DURATION, &c.engine.window_us, "tumbling window length (default 1m)", 0, 0, NULL},
        {"lateness", FLAG_DURATION, &c.engine.lateness_us, "allowed lateness (default 2m)", 0, 0, NULL},
        {"view-to-cart", FLAG_DURATION, &c.engine.view_to_cart_us, "funnel: view -> add window (default 30m)", 0, 0, NULL},
        {"cart-to-purchase", FLAG_DURATION, &c.engine.cart_to_purchase_us,
         "funnel: add -> purchase window (default 60m)", 0, 0, NULL},
        {"idle-timeout", FLAG_DURATION, &c.engine.idle_timeout_us,
         "a partition without events this long stops holding the watermark (default 10s; 0 = never)", 0, 0, NULL},
        {"max-future", FLAG_DURATION, &c.max_future_us,
         "reject events dated more than this ahead of the clock (live) or of the clock and the watermark "
         "(a file, --drain), so one bad producer clock cannot make later events late (default 5m; 0 = no limit)",
         0, 0, NULL},
        {"commit-interval", FLAG_DURATION, &c.commit_interval_us, "epoch length (default 5s)", 0, 0, NULL},
        {"checkpoint-deltas", FLAG_INT, &c.ckpt_max_deltas,
         "at most N incremental engine checkpoints between two full ones (default 64; 0 = full at every commit)",
         0, 1e6, NULL},
        {"listen", FLAG_STR, &listen, "serve GET /status and /metrics on HOST:PORT", 0, 0, NULL},
        {"timeout", FLAG_DURATION, &c.kafka_timeout_us, "Kafka connect/metadata time limit (default 10s)", 0, 0, NULL},
        {"retry-limit", FLAG_DURATION, &c.retry_limit_us, "give up after storage failures this long (default 10m)", 0, 0, NULL},
        {"lease-timeout", FLAG_DURATION, &c.lease_timeout_us, "a crashed writer's lease on --out expires this long after its last heartbeat (default 30s)", 0, 0, NULL},
        {"threads", FLAG_INT, &threads,
         "threads in all: one reads and runs the engine in input order, every one parses the input and "
         "encodes the raw tables; output equals one thread's; 0 = the cores this process may use "
         "(default 1; not with --scale-out)",
         0, PIPELINE_MAX_THREADS, NULL},
        {"max-events", FLAG_INT, &max_events, "stop after N input records (testing)", 0, 1e15, NULL},
        {"partitions", FLAG_INT, &partitions_hint, "(ignored: partitions are read from the topics)", 0, 4096, NULL},
        {"drain", FLAG_BOOL, &c.drain,
         "Kafka: read every partition to its end, flush all windows as final, exit (a backfill)", 0, 0, NULL},
        {"scale-out", FLAG_BOOL, &c.scale_out,
         "Kafka: one of several instances in the group: per-partition commits and partial metric tables "
         "(merge them with the queries in docs/stream.md; ecom dash does)", 0, 0, NULL},
        {"time-zone", FLAG_STR, &c.time_zone,
         "IANA zone of every table's date= partition (default UTC), e.g. America/Guayaquil", 0, 0, NULL},
        {"quiet", FLAG_BOOL, &quiet, "no status line on stderr", 0, 0, NULL},
        {"kafka", FLAG_KV, &fst->kafka, "librdkafka property, e.g. -X security.protocol=SASL_SSL (repeatable; config file: kafka.NAME)", 0, 0, NULL},
        {"kafka", FLAG_ENV, "ECOM_KAFKA_CONF", NULL, 0, 0, NULL},
        {"X", FLAG_ALIAS, "kafka", NULL, 0, 0, NULL},
        {0},
    };
    char err[512];
    const char *pos[1];
    int np = 0;
    int fr = flags_parse(specs, argc, argv, pos, 0, &np, fst, err, sizeof err);
    if (fr == FLAGS_HELP) {
        flags_usage(stdout, usage, specs);
        return 0;
    }
    if (fr == FLAGS_ERROR) {
        fprintf(stderr, "ecom stream: %s\n", err);
        return 2;
    }
    if (!out) {
        fprintf(stderr, "ecom stream: --out ROOT is required\n");
        return 2;
    }
    int hu = cmd_hdfs_opts("stream", &hdfs, &hso);
    if (hu) return hu;
    if (brokers && input) {
        fprintf(stderr, "ecom stream: give --brokers or --input, not both\n");
        return 2;
    }
    if (threads == 0) threads = c.scale_out ? 1 : stream_cores();
    if (c.scale_out && threads > 1) {
        fprintf(stderr, "ecom stream: --threads needs the single layout (not --scale-out)\n");
        return 2;
    }
    if (c.scale_out && input) {
        fprintf(stderr, "ecom stream: --scale-out needs Kafka input (--brokers), not --input\n");
        return 2;
    }
    char defb[512];
    if (!brokers && !input) {
        if (kafka_default_brokers(defb, sizeof defb, err, sizeof err)) {
            fprintf(stderr, "ecom stream: no --brokers or --input, and no embedded broker: %s\n", err);
            return 2;
        }
        brokers = defb;
    }
    if (stream_config_check(&c.engine, err, sizeof err)) {
        fprintf(stderr, "ecom stream: %s\n", err);
        return 2;
    }
    if (c.commit_interval_us <= 0) {
        fprintf(stderr, "ecom stream: --commit-interval must be positive\n");
        return 2;
    }
    if (c.lease_timeout_us < TIME_US_PER_SEC) {
        fprintf(stderr, "ecom stream: --lease-timeout must be at least 1s\n");
        return 2;
    }
    lake_tz tz; /* sets the process's TZ here, before the pipeline starts any thread */
    if (lake_tz_open(&tz, c.time_zone, err, sizeof err)) {
        fprintf(stderr, "ecom stream: --time-zone: %s\n", err);
        return 2;
    }
    c.brokers = brokers;
    c.kafka_settings = kv_list_items(&fst->kafka);
    c.storage = &hso;
    c.input_path = input;
    c.out_root = out;
    c.listen = listen;
    c.quiet = quiet;
    c.max_events = max_events;
    c.threads = (int)threads;

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    pipeline_stats st;
    if (pipeline_run(&c, &stream_stop, &st, err, sizeof err)) {
        fprintf(stderr, "ecom stream: %s\n", err);
        return 1;
    }
    if (!quiet)
        fprintf(stderr,
                "stream: done: %llu records, %llu rejected, %llu late, %llu duplicates, %llu epochs, %llu files, "
                "%llu blank; checkpoints: %llu full (%.1f MiB), %llu delta (%.1f MiB), %.3f s CPU\n",
                (unsigned long long)st.records, (unsigned long long)st.rejected, (unsigned long long)st.late,
                (unsigned long long)st.duplicates, (unsigned long long)st.epochs,
                (unsigned long long)st.files_committed, (unsigned long long)st.blank,
                (unsigned long long)st.ckpt_full, st.ckpt_full_bytes / 1048576.0, (unsigned long long)st.ckpt_deltas,
                st.ckpt_delta_bytes / 1048576.0, st.ckpt_cpu_us / 1e6);
    return 0;
}

/* Values parsed from a config file live in st: it outlasts the whole command. */
int cmd_stream(int argc, char **argv) {
    flags_store st = {0};
    int rc = stream_main(argc, argv, &st);
    flags_store_free(&st);
    return rc;
}
