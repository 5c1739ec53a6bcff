/* run.c — `ecom run`: broker + generator + stream + dashboard in one process (see run.h). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "dash/dash.h"
#include "gen/gen.h"
#include "kafka/kafka.h"
#include "pipeline/pipeline.h"
#include "run/run.h"
#include "util/util.h"

void run_config_default(run_config *c) {
    memset(c, 0, sizeof *c);
    c->partitions = 3;
    c->out_root = "data";
    c->listen = "127.0.0.1:8501";
    c->stream_listen = "127.0.0.1:0";
    c->rate = 50;
    c->users = 2000;
    c->lateness_us = 10 * TIME_US_PER_SEC;
    c->commit_interval_us = 2 * TIME_US_PER_SEC;
}

/* One component thread: its own stop flag, and what it reports when it ends. */
typedef struct {
    const run_config *cfg;
    const char *brokers;
    const char *stream_listen;
    volatile sig_atomic_t stop;
    volatile sig_atomic_t done;
    int rc;
    uint64_t sent;
    char err[512];
} run_part;

static void run_sleep_us(int64_t us) {
    struct timespec ts = {(time_t)(us / 1000000), (long)(us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

/* The generator: gen_next() on the wall clock, paced at cfg->rate, each line sent to its
 * topic keyed by user_id (the same routing and delivery rules as `ecom gen --brokers`: every
 * topic checked first, retried until delivered, generation held back while more than
 * RUN_GEN_UNACKED events are unacknowledged). Ends on stop, flushing what is in flight
 * (bounded: 10 s) so the stream sees every event that was generated. */
#define RUN_GEN_UNACKED 1000
static int run_gen_loop(run_part *p, char *err, size_t errlen) {
    const run_config *c = p->cfg;
    kafka_producer_config pc = {.brokers = p->brokers, .connect_timeout_us = 10 * TIME_US_PER_SEC,
                                .settings = c->kafka_settings, .topics = kafka_event_topics,
                                .ntopics = KAFKA_NTOPICS, .stop = &p->stop};
    kafka_producer *kp = kafka_producer_open(&pc, err, errlen);
    if (!kp) return -1;
    gen_config gc = {.seed = c->seed, .users = c->users, .rate = c->rate, .start_us = time_now_us()};
    gen *g = gen_new(&gc, err, errlen);
    if (!g) {
        kafka_producer_free(kp);
        return -1;
    }
    buf_t line = {0};
    gen_meta m;
    int rc = 0;
    int64_t t0 = time_mono_us();
    while (!p->stop) {
        int64_t w0 = time_mono_us();
        if (kafka_producer_wait_unacked(kp, RUN_GEN_UNACKED, 0)) break; /* stopped while waiting */
        t0 += time_mono_us() - w0;                                   /* resume at the rate, no burst */
        int64_t ahead = t0 + (int64_t)((double)p->sent * 1e6 / c->rate) - time_mono_us();
        if (ahead > 0) {
            kafka_producer_poll(kp);
            run_sleep_us(ahead < 100000 ? ahead : 100000);
            continue;
        }
        buf_reset(&line);
        if (gen_next(g, time_now_us(), &line, &m)) {
            snprintf(err, errlen, "generator: out of memory");
            rc = -1;
            break;
        }
        if (kafka_producer_send(kp, kafka_event_topics[m.topic], m.key, m.key_len, line.data, line.len, err,
                                errlen)) {
            rc = -1;
            break;
        }
        p->sent++;
    }
    int64_t left = kafka_producer_flush(kp, 10 * TIME_US_PER_SEC);
    kafka_producer_stats ks;
    kafka_producer_stats_get(kp, &ks);
    if (rc == 0 && ks.failed > 0) {
        snprintf(err, errlen, "generator: %llu events failed: %s", (unsigned long long)ks.failed, ks.last_error);
        rc = -1;
    } else if (rc == 0 && left > 0) {
        snprintf(err, errlen, "generator: %lld events undelivered at stop", (long long)left);
        rc = -1;
    }
    buf_free(&line);
    gen_free(g);
    kafka_producer_free(kp);
    return rc;
}

static void *run_gen_main(void *arg) {
    run_part *p = arg;
    p->rc = run_gen_loop(p, p->err, sizeof p->err);
    p->done = 1;
    return NULL;
}

/* The embedded broker (librdkafka's mock cluster) answers a fetch that finds no data only after
 * the consumer's whole fetch.wait.max.ms (500 ms by default), where a real broker answers as
 * soon as data arrives: every event would wait up to half a second in the broker. So the
 * stream asks it to wait RUN_FETCH_WAIT at most (measured: bench/bench_latency.sh). Each wait
 * is one empty fetch round trip between two threads of this process: 20 ms adds at most 20 ms
 * to an event's way to the page and costs half the CPU of 10 ms (docs/benchmarks.md, "Latency").
 * The user's settings come after it and win; $ECOM_KAFKA_CONF alone (no settings given) is left
 * as is. Returns a NULL-terminated copy to free, or NULL (then use cfg->kafka_settings). */
#define RUN_FETCH_WAIT "fetch.wait.max.ms=20"
static const char **run_stream_settings(const run_config *c) {
    const char *env = getenv("ECOM_KAFKA_CONF");
    if (c->brokers || (!c->kafka_settings && env && *env)) return NULL;
    size_t n = 0;
    while (c->kafka_settings && c->kafka_settings[n]) n++;
    const char **v = calloc(n + 2, sizeof *v);
    if (!v) return NULL;
    v[0] = RUN_FETCH_WAIT;
    for (size_t i = 0; i < n; i++) v[i + 1] = c->kafka_settings[i];
    return v;
}

/* The stream job: pipeline_run() with the short epochs and lateness of a live demo. */
static void *run_stream_main(void *arg) {
    run_part *p = arg;
    pipeline_config pc;
    pipeline_config_default(&pc);
    pc.brokers = p->brokers;
    const char **settings = run_stream_settings(p->cfg);
    pc.kafka_settings = settings ? settings : p->cfg->kafka_settings;
    pc.out_root = p->cfg->out_root;
    pc.storage = p->cfg->storage;
    pc.listen = p->stream_listen;
    pc.quiet = p->cfg->quiet;
    pc.allow_uncounted = p->cfg->allow_uncounted;
    pc.commit_interval_us = p->cfg->commit_interval_us;
    pc.time_zone = p->cfg->time_zone;
    pc.engine.lateness_us = p->cfg->lateness_us;
    pc.catch_up_on_stop = true;                  /* the generator stops first: read its last events */
    pc.fresh_input = p->cfg->brokers == NULL;    /* a new embedded broker starts at offset 0 */
    if (stream_config_check(&pc.engine, p->err, sizeof p->err)) {
        p->rc = -1;
    } else {
        pipeline_stats st;
        p->rc = pipeline_run(&pc, &p->stop, &st, p->err, sizeof p->err);
    }
    free(settings);
    p->done = 1;
    return NULL;
}

/* Resolves "HOST:0" to a free loopback port (bind to port 0, read it back, close): the stream's
 * status server does not report the port it bound, and the dashboard needs the URL. A tiny race
 * with another process taking the port is possible; the stream then fails with a clear error. */
static int run_pick_port(const char *listen, char *out, size_t n, char *err, size_t errlen) {
    const char *colon = strrchr(listen, ':');
    if (!colon || colon == listen) {
        snprintf(err, errlen, "bad --stream-listen '%s' (expected HOST:PORT)", listen);
        return -1;
    }
    if (strcmp(colon + 1, "0") != 0) {
        snprintf(out, n, "%s", listen);
        return 0;
    }
    char host[64];
    if ((size_t)(colon - listen) >= sizeof host) {
        snprintf(err, errlen, "bad --stream-listen host");
        return -1;
    }
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = '\0';
    struct sockaddr_in sa = {.sin_family = AF_INET};
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        snprintf(err, errlen, "bad --stream-listen host '%s' (expected an IPv4 address)", host);
        return -1;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    socklen_t sl = sizeof sa;
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) || getsockname(fd, (struct sockaddr *)&sa, &sl)) {
        snprintf(err, errlen, "cannot find a free port on %s", host);
        if (fd >= 0) close(fd);
        return -1;
    }
    close(fd);
    snprintf(out, n, "%s:%u", host, (unsigned)ntohs(sa.sin_port));
    return 0;
}

/* Starts the dashboard over out_root, its live part fed by the stream's /status. */
static dash_server *run_dash_start(const run_config *c, const char *stream_url, dash_engine **ep, char *err,
                                   size_t errlen) {
    dash_source src;
    if (dash_source_lake(c->out_root, c->storage, &src, err, errlen)) return NULL;
    dash_engine_opts eo = {.stream_url = stream_url};
    dash_engine *e = dash_engine_new(src, &eo, err, errlen);
    if (!e) return NULL;
    dash_server_opts so = {.listen = c->listen, .auth_token = c->auth_token, .tls_cert = c->tls_cert,
                           .tls_key = c->tls_key};
    dash_server *s = dash_server_start(e, &so, err, errlen);
    if (!s) {
        dash_engine_free(e);
        return NULL;
    }
    *ep = e;
    return s;
}

static void run_copy_err(char *err, size_t errlen, const char *who, const run_part *p) {
    if (p->rc && err[0] == '\0') snprintf(err, errlen, "%s: %s", who, p->err);
}

int run_pipeline(const run_config *c, volatile sig_atomic_t *stop, FILE *info, char *err, size_t errlen) {
    err[0] = '\0';
    char e2[512], slisten[128], surl[160];
    if (run_pick_port(c->stream_listen, slisten, sizeof slisten, err, errlen)) return -1;
    snprintf(surl, sizeof surl, "http://%s", slisten);

    kafka_mock *mock = NULL;
    const char *brokers = c->brokers;
    if (!brokers) {
        mock = kafka_mock_start(kafka_event_topics, KAFKA_NTOPICS, c->partitions, e2, sizeof e2);
        if (!mock) {
            snprintf(err, errlen, "embedded broker: %s", e2);
            return -1;
        }
        brokers = kafka_mock_bootstraps(mock);
    }
    run_part sp = {.cfg = c, .brokers = brokers, .stream_listen = slisten};
    run_part gp = {.cfg = c, .brokers = brokers};
    pthread_t st, gt;
    bool s_on = false, g_on = false;
    dash_engine *de = NULL;
    dash_server *ds = NULL;

    if (pthread_create(&st, NULL, run_stream_main, &sp)) {
        snprintf(err, errlen, "cannot start the stream thread");
        goto stop;
    }
    s_on = true;
    if (!(ds = run_dash_start(c, surl, &de, e2, sizeof e2))) {
        snprintf(err, errlen, "dashboard: %s", e2);
        goto stop;
    }
    if (pthread_create(&gt, NULL, run_gen_main, &gp)) {
        snprintf(err, errlen, "cannot start the generator thread");
        goto stop;
    }
    g_on = true;
    const char *colon = strrchr(c->listen, ':');
    fprintf(info, "ecom run: dashboard at %s://%.*s:%u/  (broker %s%s, stream status %s/status, data %s, "
            "%.0f events/s, %lld users); stop with Ctrl-C\n", c->tls_cert ? "https" : "http",
            (int)(colon - c->listen), c->listen,
            (unsigned)dash_server_port(ds), brokers, mock ? " embedded" : "", surl, c->out_root, c->rate,
            (long long)c->users);
    fflush(info);
    while (!*stop && !sp.done && !gp.done) run_sleep_us(100 * TIME_US_PER_MS);

stop:
    /* producer first (its events reach the broker), then the stream commits its epoch, then
     * the readers go, and the broker last (everyone else talks to it) */
    if (g_on) {
        gp.stop = 1;
        pthread_join(gt, NULL);
        run_copy_err(err, errlen, "generator", &gp);
    }
    if (s_on) {
        sp.stop = 1;
        pthread_join(st, NULL);
        run_copy_err(err, errlen, "stream", &sp);
    }
    if (ds) dash_server_stop(ds);
    if (de) dash_engine_free(de);
    kafka_mock_stop(mock);
    if (err[0] == '\0' && !*stop) snprintf(err, errlen, "a component stopped unexpectedly");
    if (err[0]) return -1;
    fprintf(info, "ecom run: stopped cleanly (%llu events generated)\n", (unsigned long long)gp.sent);
    fflush(info);
    return 0;
}
