/* cmd_dash.c — `ecom dash`: serves the live web dashboard over a lake's committed tables. */
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
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

/* The flags of `ecom dash` (strings point into the flags_store or argv). */
typedef struct {
    cmd_hdfs hdfs;
    storage_opts hso;
    const char *data, *listen, *stream, *token, *tls_cert, *tls_key;
    int64_t max_conn, per_ip, threads, timeout_s, header_timeout_s, poll_us;
} dash_opts;

/* Checks what flags_parse cannot: 0, or 2 after saying why. */
static int dash_check(dash_opts *o) {
    if (!o->data || !*o->data) {
        fprintf(stderr, "ecom dash: --data ROOT is required\n");
        return 2;
    }
    int hu = cmd_hdfs_opts("dash", &o->hdfs, &o->hso);
    if (hu) return hu;
    if (o->poll_us <= 0) {
        fprintf(stderr, "ecom dash: --poll must be positive\n");
        return 2;
    }
    if (o->stream && strncmp(o->stream, "http://", 7) && strncmp(o->stream, "https://", 8)) {
        fprintf(stderr, "ecom dash: --stream must be an http:// or https:// URL\n");
        return 2;
    }
    return 0;
}

/* Parses argv into o. 0: run; 1: --help was printed (exit 0); 2: bad usage (said). */
static int dash_parse(int argc, char **argv, flags_store *fst, dash_opts *o) {
    *o = (dash_opts){.listen = "127.0.0.1:8501", .max_conn = 4096, .per_ip = 256, .threads = 2, .timeout_s = 15,
                     .header_timeout_s = 5, .poll_us = 500 * TIME_US_PER_MS};
    cmd_hdfs_init(&o->hdfs);
    const flag_spec specs[] = {
        {"data", FLAG_STR, &o->data, "lake root to read (required)", 0, 0, NULL},
        CMD_HDFS_FLAGS(o->hdfs),
        {"listen", FLAG_STR, &o->listen, "HOST:PORT to serve on (default 127.0.0.1:8501)", 0, 0, NULL},
        {"stream", FLAG_STR, &o->stream, "base URL of `ecom stream --listen` for live status", 0, 0, NULL},
        {"auth-token", FLAG_STR, &o->token, "require this token (Bearer header or login cookie)", 0, 0, NULL},
        {"auth-token", FLAG_ENV, "ECOM_DASH_TOKEN", NULL, 0, 0, NULL},
        {"tls-cert", FLAG_STR, &o->tls_cert, "serve HTTPS: certificate chain (PEM file; with --tls-key)", 0, 0, NULL},
        {"tls-key", FLAG_STR, &o->tls_key, "serve HTTPS: private key (PEM file, unencrypted)", 0, 0, NULL},
        {"max-connections", FLAG_INT, &o->max_conn,
         "open connections at most, 1/8 kept for 127.0.0.1/::1 (default 4096)", 8, 100000, NULL},
        {"per-ip-connections", FLAG_INT, &o->per_ip,
         "open connections per client address, 127.0.0.1/::1 exempt (default 256)", 1, 100000, NULL},
        {"threads", FLAG_INT, &o->threads, "worker threads (default 2)", 1, 64, NULL},
        {"timeout", FLAG_INT, &o->timeout_s, "idle connection timeout in seconds (default 15)", 1, 3600, NULL},
        {"header-timeout", FLAG_INT, &o->header_timeout_s,
         "seconds a new connection has to send a complete request (default 5)", 1, 3600, NULL},
        {"poll", FLAG_DURATION, &o->poll_us, "re-list the lake at most this often (default 500ms)", 0, 0, NULL},
        {NULL, 0, NULL, NULL, 0, 0, NULL},
    };
    char err[512];
    int npos = 0;
    int rc = flags_parse(specs, argc, argv, NULL, 0, &npos, fst, err, sizeof err);
    if (rc == FLAGS_HELP) {
        flags_usage(stdout, USAGE, specs);
        return 1;
    }
    if (rc != FLAGS_OK) {
        fprintf(stderr, "ecom dash: %s\n", err);
        return 2;
    }
    return dash_check(o);
}

/* Blocks the stop signals before any thread starts, so only sigwait() (dash_serve) receives
 * them, and ignores SIGPIPE (a client gone is a write error). 0, or -1 with err. */
static int dash_signals_block(sigset_t *stop, char *err, size_t errlen) {
    sigemptyset(stop);
    sigaddset(stop, SIGINT);
    sigaddset(stop, SIGTERM);
    int e = pthread_sigmask(SIG_BLOCK, stop, NULL);
    if (e) {
        snprintf(err, errlen, "cannot block SIGINT/SIGTERM: %s", strerror(e));
        return -1;
    }
    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
        snprintf(err, errlen, "cannot ignore SIGPIPE: %s", strerror(errno));
        return -1;
    }
    return 0;
}

/* The engine over the lake at o->data. NULL with err. Why the root check: a mistyped --data
 * would otherwise serve an empty page that looks like a quiet shop. */
static dash_engine *dash_open(const dash_opts *o, char *err, size_t errlen) {
    char why[400];
    if (lake_root_check(o->data, &o->hso, why, sizeof why)) {
        snprintf(err, errlen, "--data %s", why);
        return NULL;
    }
    dash_source src;
    if (dash_source_lake(o->data, &o->hso, &src, err, errlen)) return NULL;
    dash_engine_opts eo = {.stream_url = o->stream, .poll_interval_us = o->poll_us};
    return dash_engine_new(src, &eo, err, errlen);
}

/* Serves e until SIGINT or SIGTERM, printing the URL (the host as given, with the port bound).
 * The exit status: 0, 1, or 2 for a bad --listen/--auth-token. */
static int dash_serve(dash_engine *e, const dash_opts *o, const sigset_t *stop) {
    char err[512];
    dash_server_opts so = {.listen = o->listen, .auth_token = o->token, .max_connections = (unsigned)o->max_conn,
                           .per_ip_connections = (unsigned)o->per_ip, .threads = (unsigned)o->threads,
                           .timeout_s = (unsigned)o->timeout_s, .header_timeout_s = (unsigned)o->header_timeout_s,
                           .tls_cert = o->tls_cert, .tls_key = o->tls_key};
    dash_server *s = dash_server_start(e, &so, err, sizeof err);
    if (!s) {
        fprintf(stderr, "ecom dash: %s\n", err);
        return strstr(err, "bad") ? 2 : 1;
    }
    const char *colon = strrchr(o->listen, ':');
    printf("ecom dash: serving %s://%.*s:%u/ (data %s)\n", o->tls_cert ? "https" : "http",
           (int)(colon - o->listen), o->listen, (unsigned)dash_server_port(s), o->data);
    fflush(stdout);
    int sig = 0;
    sigwait(stop, &sig);
    fprintf(stderr, "ecom dash: stopping (signal %d)\n", sig);
    dash_server_stop(s);
    return 0;
}

static int dash_main(int argc, char **argv, flags_store *fst) {
    dash_opts o;
    int rc = dash_parse(argc, argv, fst, &o);
    if (rc) return rc == 1 ? 0 : rc;
    char err[512];
    sigset_t stop;
    if (dash_signals_block(&stop, err, sizeof err)) {
        fprintf(stderr, "ecom dash: %s\n", err);
        return 1;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "ecom dash: curl_global_init failed\n");
        return 1;
    }
    dash_engine *e = dash_open(&o, err, sizeof err);
    if (!e) {
        fprintf(stderr, "ecom dash: %s\n", err);
        rc = 1;
    } else {
        rc = dash_serve(e, &o, &stop);
        dash_engine_free(e);
    }
    curl_global_cleanup();
    return rc;
}

/* Values parsed from a config file live in st: it outlasts the whole command. */
int cmd_dash(int argc, char **argv) {
    flags_store st = {0};
    int rc = dash_main(argc, argv, &st);
    flags_store_free(&st);
    return rc;
}
