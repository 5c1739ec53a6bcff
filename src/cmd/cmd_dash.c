/* cmd_dash.c — `ecom dash`: serves the live web dashboard over a lake's committed tables. */
#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "dash/dash.h"
#include "lake/lake.h"
#include "util/util.h"

static const char USAGE[] =
    "usage: ecom dash --data ROOT [--listen 127.0.0.1:8501] [--stream URL] [--auth-token T]\n"
    "                 [--tls-cert CERT.pem --tls-key KEY.pem]\n"
    "Serves the dashboard page and its JSON API (/api/...) over the committed tables in ROOT.\n"
    "Binds to loopback unless --listen says otherwise; port 0 picks a free port. The token may\n"
    "also come from the environment variable ECOM_DASH_TOKEN or a file (--auth-token @FILE), kept\n"
    "out of `ps`. With --tls-cert and --tls-key the dashboard is served over HTTPS only.";

static int dash_main(int argc, char **argv, flags_store *fst) {
    cmd_hdfs hdfs;
    cmd_hdfs_init(&hdfs);
    storage_opts hso;
    const char *data = NULL, *listen = "127.0.0.1:8501", *stream = NULL, *token = NULL;
    const char *tls_cert = NULL, *tls_key = NULL;
    int64_t max_conn = 4096, per_ip = 256, threads = 2, timeout_s = 15, header_timeout_s = 5;
    int64_t poll_us = 500 * TIME_US_PER_MS;
    const flag_spec specs[] = {
        {"data", FLAG_STR, &data, "lake root to read (required)", 0, 0, NULL},
        CMD_HDFS_FLAGS(hdfs),
        {"listen", FLAG_STR, &listen, "HOST:PORT to serve on (default 127.0.0.1:8501)", 0, 0, NULL},
        {"stream", FLAG_STR, &stream, "base URL of `ecom stream --listen` for live status", 0, 0, NULL},
        {"auth-token", FLAG_STR, &token, "require this token (Bearer header or login cookie)", 0, 0, NULL},
        {"auth-token", FLAG_ENV, "ECOM_DASH_TOKEN", NULL, 0, 0, NULL},
        {"tls-cert", FLAG_STR, &tls_cert, "serve HTTPS: certificate chain (PEM file; with --tls-key)", 0, 0, NULL},
        {"tls-key", FLAG_STR, &tls_key, "serve HTTPS: private key (PEM file, unencrypted)", 0, 0, NULL},
        {"max-connections", FLAG_INT, &max_conn, "open connections at most, 1/8 kept for 127.0.0.1/::1 (default 4096)",
         8, 100000, NULL},
        {"per-ip-connections", FLAG_INT, &per_ip, "open connections per client address, 127.0.0.1/::1 exempt (default 256)",
         1, 100000, NULL},
        {"threads", FLAG_INT, &threads, "worker threads (default 2)", 1, 64, NULL},
        {"timeout", FLAG_INT, &timeout_s, "idle connection timeout in seconds (default 15)", 1, 3600, NULL},
        {"header-timeout", FLAG_INT, &header_timeout_s,
         "seconds a new connection has to send a complete request (default 5)", 1, 3600, NULL},
        {"poll", FLAG_DURATION, &poll_us, "re-list the lake at most this often (default 500ms)", 0, 0, NULL},
        {NULL, 0, NULL, NULL, 0, 0, NULL},
    };
    char err[512];
    int npos = 0;
    int rc = flags_parse(specs, argc, argv, NULL, 0, &npos, fst, err, sizeof err);
    if (rc == FLAGS_HELP) {
        flags_usage(stdout, USAGE, specs);
        return 0;
    }
    if (rc != FLAGS_OK) {
        fprintf(stderr, "ecom dash: %s\n", err);
        return 2;
    }
    if (!data || !*data) {
        fprintf(stderr, "ecom dash: --data ROOT is required\n");
        return 2;
    }
    int hu = cmd_hdfs_opts("dash", &hdfs, &hso);
    if (hu) return hu;
    if (poll_us <= 0) {
        fprintf(stderr, "ecom dash: --poll must be positive\n");
        return 2;
    }
    if (stream && strncmp(stream, "http://", 7) && strncmp(stream, "https://", 8)) {
        fprintf(stderr, "ecom dash: --stream must be an http:// or https:// URL\n");
        return 2;
    }

    /* Block the stop signals before any thread starts, so only sigwait() below receives them. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "ecom dash: curl_global_init failed\n");
        return 1;
    }

    /* A mistyped --data would otherwise serve an empty page that looks like a quiet shop. */
    if (lake_root_check(data, &hso, err, sizeof err)) {
        fprintf(stderr, "ecom dash: --data %s\n", err);
        curl_global_cleanup();
        return 1;
    }
    dash_source src;
    if (dash_source_lake(data, &hso, &src, err, sizeof err)) {
        fprintf(stderr, "ecom dash: %s\n", err);
        curl_global_cleanup();
        return 1;
    }
    dash_engine_opts eo = {.stream_url = stream, .poll_interval_us = poll_us};
    dash_engine *e = dash_engine_new(src, &eo, err, sizeof err);
    if (!e) {
        fprintf(stderr, "ecom dash: %s\n", err);
        curl_global_cleanup();
        return 1;
    }
    dash_server_opts so = {.listen = listen, .auth_token = token, .max_connections = (unsigned)max_conn,
                           .per_ip_connections = (unsigned)per_ip, .threads = (unsigned)threads,
                           .timeout_s = (unsigned)timeout_s, .header_timeout_s = (unsigned)header_timeout_s,
                           .tls_cert = tls_cert, .tls_key = tls_key};
    dash_server *s = dash_server_start(e, &so, err, sizeof err);
    if (!s) {
        fprintf(stderr, "ecom dash: %s\n", err);
        dash_engine_free(e);
        curl_global_cleanup();
        return strstr(err, "bad") ? 2 : 1;
    }
    /* The printed URL uses the host as given (with the port actually bound). */
    const char *colon = strrchr(listen, ':');
    printf("ecom dash: serving %s://%.*s:%u/ (data %s)\n", tls_cert ? "https" : "http", (int)(colon - listen), listen,
           (unsigned)dash_server_port(s), data);
    fflush(stdout);

    int sig = 0;
    sigwait(&stop, &sig);
    fprintf(stderr, "ecom dash: stopping (signal %d)\n", sig);
    dash_server_stop(s);
    dash_engine_free(e);
    curl_global_cleanup();
    return 0;
}

/* Values parsed from a config file live in st: it outlasts the whole command. */
int cmd_dash(int argc, char **argv) {
    flags_store st = {0};
    int rc = dash_main(argc, argv, &st);
    flags_store_free(&st);
    return rc;
}
