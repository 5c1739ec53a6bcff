/* cmd_run.c — `ecom run`: the whole pipeline in one command (src/run): embedded broker,
 * generator at a real-time rate, stream job and dashboard; Ctrl-C stops it cleanly. */
#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "lake/lake.h"
#include "run/run.h"
#include "util/util.h"

static volatile sig_atomic_t run_stop;

static void run_on_signal(int sig) {
    (void)sig;
    run_stop = 1;
}

static const char run_usage[] =
    "usage: ecom run [--out ROOT] [--listen HOST:PORT] [--rate N] [--users N] [--brokers LIST] [flags]\n"
    "Runs the whole pipeline in one process: an embedded Kafka-protocol broker (or a real cluster\n"
    "with --brokers; the three topics must exist), the shopper simulator on the wall clock, the\n"
    "stream job writing tables under ROOT (default ./data; local or hdfs://) and the dashboard.\n"
    "Prints the dashboard URL. Ctrl-C (SIGINT/SIGTERM) stops the generator, lets the stream commit,\n"
    "stops the dashboard and the broker, and exits 0. Defaults suit a live demo: 10 s allowed\n"
    "lateness and a commit as soon as a window is final (else every 2 s), so a minute window is\n"
    "final on the dashboard within about 11 s of its end (the lateness + up to about 1 s); until\n"
    "then the page shows it as it fills, pushed within a few hundred ms of each event (more on a\n"
    "loaded machine; measured: docs/benchmarks.md \"Latency\").";

static int run_main(int argc, char **argv, flags_store *fst) {
    run_config c;
    run_config_default(&c);
    cmd_hdfs hdfs;
    cmd_hdfs_init(&hdfs);
    storage_opts hso;
    int64_t partitions = c.partitions, seed = 0;
    bool seen_seed = false;
    const flag_spec specs[] = {
        {"out", FLAG_STR, &c.out_root, "lake root: a directory or hdfs://namenode:port/dir (default data)", 0, 0, NULL},
        {"listen", FLAG_STR, &c.listen, "dashboard HOST:PORT (default 127.0.0.1:8501; port 0 = any)", 0, 0, NULL},
        {"stream-listen", FLAG_STR, &c.stream_listen, "stream /status HOST:PORT (default 127.0.0.1:0 = a free port)", 0, 0, NULL},
        {"brokers", FLAG_STR, &c.brokers, "use this Kafka cluster instead of the embedded broker", 0, 0, NULL},
        {"partitions", FLAG_INT, &partitions, "embedded broker: partitions per topic (default 3)", 1, 64, NULL},
        {"rate", FLAG_DOUBLE, &c.rate, "generated events per second (default 50)", 0.01, 100000, NULL},
        {"users", FLAG_INT, &c.users, "simulated shoppers (default 2000)", 1, 10000000, NULL},
        {"seed", FLAG_INT, &seed, "generator seed (default: random)", 0, 9e18, &seen_seed},
        {"lateness", FLAG_DURATION, &c.lateness_us, "allowed lateness of the stream (default 10s)", 0, 0, NULL},
        {"commit-interval", FLAG_DURATION, &c.commit_interval_us, "stream epoch length (default 2s)", 0, 0, NULL},
        {"auth-token", FLAG_STR, &c.auth_token, "dashboard token (any value may be @/path/to/file)", 0, 0, NULL},
        {"auth-token", FLAG_ENV, "ECOM_DASH_TOKEN", NULL, 0, 0, NULL},
        {"tls-cert", FLAG_STR, &c.tls_cert, "dashboard over HTTPS: certificate chain (PEM file; with --tls-key)", 0, 0, NULL},
        {"tls-key", FLAG_STR, &c.tls_key, "dashboard over HTTPS: private key (PEM file, unencrypted)", 0, 0, NULL},
        {"time-zone", FLAG_STR, &c.time_zone, "IANA zone of the lake's date= partitions (default UTC)", 0, 0, NULL},
        {"quiet", FLAG_BOOL, &c.quiet, "no stream status lines on stderr", 0, 0, NULL},
        CMD_ALLOW_UNCOUNTED_FLAG(c.allow_uncounted),
        CMD_KAFKA_FLAGS(fst->kafka, ""),
        CMD_HDFS_FLAGS(hdfs),
        {NULL, 0, NULL, NULL, 0, 0, NULL},
    };
    char err[1024];
    int npos = 0;
    int r = flags_parse(specs, argc, argv, NULL, 0, &npos, fst, err, sizeof err);
    if (r == FLAGS_HELP) {
        flags_usage(stdout, run_usage, specs);
        return 0;
    }
    if (r != FLAGS_OK) {
        fprintf(stderr, "ecom run: %s\n", err);
        return 2;
    }
    const char *bad = NULL;
    if (!*c.out_root) bad = "--out is empty";
    else if (c.brokers && !*c.brokers) bad = "--brokers is empty";
    else if (c.commit_interval_us <= 0) bad = "--commit-interval must be positive";
    else if (c.lateness_us < 0) bad = "--lateness must not be negative";
    if (bad) {
        fprintf(stderr, "ecom run: %s\n", bad);
        return 2;
    }
    lake_tz tz; /* sets the process's TZ before the broker, gen, stream and dash threads start */
    if (lake_tz_open(&tz, c.time_zone, err, sizeof err)) {
        fprintf(stderr, "ecom run: --time-zone: %s\n", err);
        return 2;
    }
    int hu = cmd_hdfs_opts("run", &hdfs, &hso);
    if (hu) return hu;
    c.storage = &hso;
    c.partitions = (int)partitions;
    c.seed = seen_seed ? (uint64_t)seed : (uint64_t)time_now_us() ^ ((uint64_t)getpid() << 32);
    c.kafka_settings = kv_list_items(&fst->kafka);

    if (cmd_signals_install(run_on_signal, err, sizeof err)) {
        fprintf(stderr, "ecom run: %s\n", err);
        return 1;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "ecom run: curl_global_init failed\n");
        return 1;
    }
    int rc = run_pipeline(&c, &run_stop, stdout, err, sizeof err);
    curl_global_cleanup();
    if (rc) {
        fprintf(stderr, "ecom run: %s\n", err);
        return 1;
    }
    return 0;
}

/* Values parsed from a config file live in st: it outlasts the whole command. */
int cmd_run(int argc, char **argv) {
    flags_store st = {0};
    int rc = run_main(argc, argv, &st);
    flags_store_free(&st);
    return rc;
}
