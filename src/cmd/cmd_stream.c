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
 * at PIPELINE_MAX_THREADS: what the default (`--threads 0`) means. */
static int64_t stream_cores(void) {
    cpu_set_t set;
    long n = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > PIPELINE_MAX_THREADS ? PIPELINE_MAX_THREADS : n;
}

/* What the flags set: the pipeline's config and the command's own options. The storage
 * options hso must outlive the run (c.storage points to them). */
typedef struct {
    pipeline_config c;
    cmd_hdfs hdfs;
    storage_opts hso;
    const char *brokers, *input, *out, *listen;
    int64_t partitions_hint, max_events, threads;
    bool quiet;
    char defb[512]; /* the embedded broker's address, when neither --brokers nor --input */
} stream_opts;

/* Parses the command line into o (defaults first). Returns -1 to go on, else the exit code:
 * 0 after --help, 2 on a flag error (said on stderr). */
static int stream_parse(stream_opts *o, int argc, char **argv, flags_store *fst) {
    memset(o, 0, sizeof *o);
    cmd_hdfs_init(&o->hdfs);
    pipeline_config_default(&o->c);
    o->threads = 0; /* the cores (stream_check) */
    flag_spec specs[] = {
        {"brokers", FLAG_STR, &o->brokers, "Kafka bootstrap servers (default: the embedded broker's address)", 0, 0, NULL},
        {"input", FLAG_STR, &o->input, "read NDJSON events from FILE (or - for stdin) instead of Kafka", 0, 0, NULL},
        {"out", FLAG_STR, &o->out, "output ROOT: a directory, file:///dir or hdfs://namenode:port/dir", 0, 0, NULL},
        CMD_HDFS_FLAGS(o->hdfs),
        {"group", FLAG_STR, &o->c.group_id, "consumer group id (default ecom-stream)", 0, 0, NULL},
        {"topic-views", FLAG_STR, &o->c.topics[0], "page view topic (default page_views)", 0, 0, NULL},
        {"topic-cart", FLAG_STR, &o->c.topics[1], "cart topic (default cart_events)", 0, 0, NULL},
        {"topic-orders", FLAG_STR, &o->c.topics[2], "order topic (default orders)", 0, 0, NULL},
        {"window", FLAG_DURATION, &o->c.engine.window_us, "tumbling window length (default 1m)", 0, 0, NULL},
        {"lateness", FLAG_DURATION, &o->c.engine.lateness_us, "allowed lateness (default 2m)", 0, 0, NULL},
        {"view-to-cart", FLAG_DURATION, &o->c.engine.view_to_cart_us, "funnel: view -> add window (default 30m)", 0, 0, NULL},
        {"cart-to-purchase", FLAG_DURATION, &o->c.engine.cart_to_purchase_us,
         "funnel: add -> purchase window (default 60m)", 0, 0, NULL},
        {"idle-timeout", FLAG_DURATION, &o->c.engine.idle_timeout_us,
         "a partition without events this long stops holding the watermark (default 10s; 0 = never)", 0, 0, NULL},
        {"max-future", FLAG_DURATION, &o->c.max_future_us,
         "reject events dated more than this ahead of the clock (live) or of the clock and the watermark "
         "(a file, --drain), so one bad producer clock cannot make later events late (default 5m; 0 = no limit)",
         0, 0, NULL},
        {"commit-interval", FLAG_DURATION, &o->c.commit_interval_us, "epoch length (default 5s)", 0, 0, NULL},
        {"checkpoint-deltas", FLAG_INT, &o->c.ckpt_max_deltas,
         "at most N incremental engine checkpoints between two full ones (default 64; 0 = full at every commit)",
         0, 1e6, NULL},
        {"listen", FLAG_STR, &o->listen, "serve GET /status and /metrics on HOST:PORT", 0, 0, NULL},
        {"timeout", FLAG_DURATION, &o->c.kafka_timeout_us, "Kafka connect/metadata time limit (default 10s)", 0, 0, NULL},
        {"retry-limit", FLAG_DURATION, &o->c.retry_limit_us, "give up after storage failures this long (default 10m)", 0, 0, NULL},
        CMD_ALLOW_UNCOUNTED_FLAG(o->c.allow_uncounted),
        {"lease-timeout", FLAG_DURATION, &o->c.lease_timeout_us, "a crashed writer's lease on --out expires this long after its last heartbeat (default 30s)", 0, 0, NULL},
        {"threads", FLAG_INT, &o->threads,
         "threads in all: one reads and runs the engine in input order, every one parses the input and "
         "encodes the raw tables; output equals one thread's (default 0: the cores this process may "
         "use; --scale-out runs one)",
         0, PIPELINE_MAX_THREADS, NULL},
        {"max-events", FLAG_INT, &o->max_events, "stop after N input records (testing)", 0, 1e15, NULL},
        {"partitions", FLAG_INT, &o->partitions_hint, "(ignored: partitions are read from the topics)", 0, 4096, NULL},
        {"drain", FLAG_BOOL, &o->c.drain,
         "Kafka: read every partition to its end, flush all windows as final, exit (a backfill)", 0, 0, NULL},
        {"scale-out", FLAG_BOOL, &o->c.scale_out,
         "Kafka: one of several instances in the group: per-partition commits and partial metric tables "
         "(merge them with the queries in docs/stream.md; ecom dash does)", 0, 0, NULL},
        {"time-zone", FLAG_STR, &o->c.time_zone,
         "IANA zone of every table's date= partition (default UTC), e.g. America/Guayaquil", 0, 0, NULL},
        {"quiet", FLAG_BOOL, &o->quiet, "no status line on stderr", 0, 0, NULL},
        CMD_KAFKA_FLAGS(fst->kafka, ""),
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
    return -1;
}

/* Refuses what cannot run together, resolves --threads 0 and the default broker, and checks
 * the engine's settings. Says why on stderr; returns 0 to go on, else the exit code. */
static int stream_check(stream_opts *o) {
    char err[512];
    pipeline_config *c = &o->c;
    if (!o->out) {
        fprintf(stderr, "ecom stream: --out ROOT is required\n");
        return 2;
    }
    int hu = cmd_hdfs_opts("stream", &o->hdfs, &o->hso);
    if (hu) return hu;
    if (o->brokers && o->input) {
        fprintf(stderr, "ecom stream: give --brokers or --input, not both\n");
        return 2;
    }
    if (o->threads == 0) o->threads = c->scale_out ? 1 : stream_cores();
    if (c->scale_out && o->threads > 1) {
        fprintf(stderr, "ecom stream: --threads needs the single layout (not --scale-out)\n");
        return 2;
    }
    if (c->scale_out && o->input) {
        fprintf(stderr, "ecom stream: --scale-out needs Kafka input (--brokers), not --input\n");
        return 2;
    }
    if (!o->brokers && !o->input) {
        if (kafka_default_brokers(o->defb, sizeof o->defb, err, sizeof err)) {
            fprintf(stderr, "ecom stream: no --brokers or --input, and no embedded broker: %s\n", err);
            return 2;
        }
        o->brokers = o->defb;
    }
    if (stream_config_check(&c->engine, err, sizeof err)) {
        fprintf(stderr, "ecom stream: %s\n", err);
        return 2;
    }
    if (c->commit_interval_us <= 0) {
        fprintf(stderr, "ecom stream: --commit-interval must be positive\n");
        return 2;
    }
    if (c->lease_timeout_us < TIME_US_PER_SEC) {
        fprintf(stderr, "ecom stream: --lease-timeout must be at least 1s\n");
        return 2;
    }
    return 0;
}

/* The last status line: what the run did. */
static void stream_report(const pipeline_stats *st) {
    fprintf(stderr,
            "stream: done: %llu records, %llu rejected, %llu late, %llu duplicates, %llu epochs, %llu files, "
            "%llu blank; checkpoints: %llu full (%.1f MiB), %llu delta (%.1f MiB), %.3f s CPU\n",
            (unsigned long long)st->records, (unsigned long long)st->rejected, (unsigned long long)st->late,
            (unsigned long long)st->duplicates, (unsigned long long)st->epochs,
            (unsigned long long)st->files_committed, (unsigned long long)st->blank,
            (unsigned long long)st->ckpt_full, st->ckpt_full_bytes / 1048576.0, (unsigned long long)st->ckpt_deltas,
            st->ckpt_delta_bytes / 1048576.0, st->ckpt_cpu_us / 1e6);
}

static int stream_main(int argc, char **argv, flags_store *fst) {
    stream_opts o;
    int rc = stream_parse(&o, argc, argv, fst);
    if (rc >= 0) return rc;
    if ((rc = stream_check(&o))) return rc;
    char err[512];
    lake_tz tz; /* sets the process's TZ here, before the pipeline starts any thread */
    if (lake_tz_open(&tz, o.c.time_zone, err, sizeof err)) {
        fprintf(stderr, "ecom stream: --time-zone: %s\n", err);
        return 2;
    }
    pipeline_config *c = &o.c;
    c->brokers = o.brokers;
    c->kafka_settings = kv_list_items(&fst->kafka);
    c->storage = &o.hso;
    c->input_path = o.input;
    c->out_root = o.out;
    c->listen = o.listen;
    c->quiet = o.quiet;
    c->max_events = o.max_events;
    c->threads = (int)o.threads;
    /* SIGINT/SIGTERM: the pipeline commits, then returns */
    if (cmd_signals_install(on_signal, err, sizeof err)) {
        fprintf(stderr, "ecom stream: %s\n", err);
        return 1;
    }

    pipeline_stats st;
    if (pipeline_run(c, &stream_stop, &st, err, sizeof err)) {
        fprintf(stderr, "ecom stream: %s\n", err);
        return 1;
    }
    if (!o.quiet) stream_report(&st);
    return 0;
}

/* Values parsed from a config file live in st: it outlasts the whole command. */
int cmd_stream(int argc, char **argv) {
    flags_store st = {0};
    int rc = stream_main(argc, argv, &st);
    flags_store_free(&st);
    return rc;
}
