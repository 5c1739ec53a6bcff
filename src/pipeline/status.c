/*
 * pipeline/status.c — `ecom stream --listen`: GET /status (JSON) and GET /metrics (Prometheus
 * text). The job thread renders both documents (once a second; live input: also within 50 ms of
 * new events while a client follows the long poll) and publishes them; the server's threads (libmicrohttpd, one per connection) only
 * copy the latest under a mutex, so a slow or hostile client can never stall the stream.
 *
 * Push: every publish numbers the document (X-Ecom-Status-Version). GET /status?after=N
 * answers at once when the current version is not N, else waits for the next publish (at most
 * STATUS_WAIT_US, then answers with the current one): a long poll, which is how `ecom dash`
 * learns of a change without polling once a second (src/dash/engine.c).
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/pipeline_internal.h"

#define STATUS_WAIT_US (5 * TIME_US_PER_SEC) /* longest long poll (dash's fetch allows more) */
/* A long poll that ended this recently still counts as waiting: a follower re-asks right after
 * each answer, and the few milliseconds in between must not skip a push. */
#define STATUS_FOLLOW_GRACE_US (100 * TIME_US_PER_MS)

struct status_server {
    struct MHD_Daemon *d;
    pthread_mutex_t mu;
    pthread_cond_t cv;       /* broadcast on publish and stop */
    bool stopping;
    uint64_t version;        /* publishes so far */
    unsigned waiting;        /* long polls waiting now */
    int64_t last_wait_us;    /* monotonic time the last long poll ended */
    char *json, *prom;
    size_t njson, nprom;
};

static enum MHD_Result reply_v(struct MHD_Connection *c, unsigned code, const char *type, const char *p, size_t n,
                               uint64_t version) {
    struct MHD_Response *r = MHD_create_response_from_buffer(n, (void *)p, MHD_RESPMEM_MUST_COPY);
    if (!r) return MHD_NO;
    if (version) {
        char v[24];
        snprintf(v, sizeof v, "%" PRIu64, version);
        MHD_add_response_header(r, "X-Ecom-Status-Version", v);
    }
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    enum MHD_Result rc = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned code, const char *type, const char *p, size_t n) {
    return reply_v(c, code, type, p, n, 0);
}

/* The long poll of GET /status?after=N: waits, holding mu, while version is N (a thread per
 * connection, so only this client waits), bounded by STATUS_WAIT_US and by the server's stop.
 * A malformed N answers at once. */
static void wait_newer(status_server *s, const char *after) {
    int64_t n;
    if (!after || parse_int64(after, &n) || n < 0) return;
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += STATUS_WAIT_US / TIME_US_PER_SEC;
    if (s->stopping || s->version != (uint64_t)n) return; /* answered at once: not a follower's wait */
    s->waiting++;
    while (!s->stopping && s->version == (uint64_t)n)
        if (pthread_cond_timedwait(&s->cv, &s->mu, &until)) break; /* ETIMEDOUT: answer with what is there */
    s->waiting--;
    s->last_wait_us = time_mono_us();
}

bool status_server_followed(status_server *s) {
    if (!s) return false;
    pthread_mutex_lock(&s->mu);
    bool f = s->waiting > 0 || (s->last_wait_us && time_mono_us() - s->last_wait_us < STATUS_FOLLOW_GRACE_US);
    pthread_mutex_unlock(&s->mu);
    return f;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **state) {
    status_server *s = cls;
    (void)version;
    (void)upload;
    if (strcmp(method, "GET") && strcmp(method, "HEAD"))
        return reply(c, 405, "application/json", "{\"error\":\"method not allowed\"}", 30);
    if (*upload_size) return reply(c, 400, "application/json", "{\"error\":\"unexpected body\"}", 27);
    (void)state;
    bool js = !strcmp(url, "/status"), pm = !strcmp(url, "/metrics");
    if (!js && !pm) return reply(c, 404, "application/json", "{\"error\":\"not found\"}", 21);
    pthread_mutex_lock(&s->mu);
    if (js) wait_newer(s, MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "after"));
    const char *p = js ? s->json : s->prom;
    size_t n = js ? s->njson : s->nprom;
    enum MHD_Result rc;
    if (!p)
        rc = reply(c, 503, "application/json", "{\"error\":\"starting\"}", 20);
    else
        rc = reply_v(c, 200, js ? "application/json" : "text/plain; version=0.0.4", p, n, s->version);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* Parses "HOST:PORT" (IPv4 literal or localhost). */
static int parse_listen(const char *listen, struct sockaddr_in *sa, char *err, size_t errlen) {
    const char *colon = strrchr(listen, ':');
    char host[64];
    int64_t port;
    if (!colon || (size_t)(colon - listen) >= sizeof host || parse_int64(colon + 1, &port) || port < 0 ||
        port > 65535) {
        snprintf(err, errlen, "bad --listen '%s' (expected HOST:PORT, e.g. 127.0.0.1:9090)", listen);
        return -1;
    }
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = '\0';
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)port);
    if (!strcmp(host, "localhost")) strcpy(host, "127.0.0.1");
    if (inet_pton(AF_INET, host, &sa->sin_addr) != 1) {
        snprintf(err, errlen, "bad --listen host '%s' (expected an IPv4 address)", host);
        return -1;
    }
    return 0;
}

status_server *status_server_start(const char *listen, char *err, size_t errlen) {
    struct sockaddr_in sa;
    if (parse_listen(listen, &sa, err, errlen)) return NULL;
    status_server *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&s->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cv, &ca);
    pthread_condattr_destroy(&ca);
    /* a thread per connection (at most 64): a long poll blocks only its own */
    s->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG, 0,
                            NULL, NULL, on_request, s,
                            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_CONNECTION_LIMIT,
                            (unsigned)64, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10,
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)65536, MHD_OPTION_END);
    if (!s->d) {
        snprintf(err, errlen, "cannot listen on %s (port in use?)", listen);
        pthread_cond_destroy(&s->cv);
        pthread_mutex_destroy(&s->mu);
        free(s);
        return NULL;
    }
    return s;
}

void status_server_publish(status_server *s, const char *json, size_t n1, const char *prom, size_t n2) {
    char *a = malloc(n1 + 1), *b = malloc(n2 + 1);
    if (!a || !b) {
        free(a);
        free(b);
        return;
    }
    memcpy(a, json, n1);
    memcpy(b, prom, n2);
    pthread_mutex_lock(&s->mu);
    free(s->json);
    free(s->prom);
    s->json = a;
    s->prom = b;
    s->njson = n1;
    s->nprom = n2;
    s->version++;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

void status_server_stop(status_server *s) {
    if (!s) return;
    pthread_mutex_lock(&s->mu);
    s->stopping = true; /* long polls answer now, so MHD_stop_daemon's joins end */
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    MHD_stop_daemon(s->d);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s->json);
    free(s->prom);
    free(s);
}

/* ---- rendering ---- */

static void ts_field(buf_t *b, const char *name, int64_t us) {
    char t[25];
    time_format_ms(us, t);
    buf_printf(b, "\"%s\":\"%s\"", name, t);
}

/* The open windows, one JSON array per catalog metric, filled from the engine's provisional
 * snapshot rows (schema 2, see pipeline.h). */
typedef struct {
    buf_t arr[METRIC_ID_COUNT];
    int n[METRIC_ID_COUNT];
    int64_t funnel_delay_us; /* finality of a funnel window: end + this */
} open_windows;

static void render_value(buf_t *b, metric_type type, const metric_val *v) {
    switch (type) {
    case METRIC_STR: json_append_string(b, v->s ? v->s : "", v->n); break;
    case METRIC_INT: buf_printf(b, "%" PRId64, v->i); break;
    case METRIC_MONEY: json_append_cents(b, v->i); break;
    case METRIC_RATE: buf_printf(b, "%.6f", v->d); break;
    }
}

static int open_row(void *ctx, metric_id m, const stream_window *w, const metric_val *v) {
    open_windows *ow = ctx;
    const metric_def *d = metric_get(m);
    buf_t *b = &ow->arr[m];
    buf_append_str(b, ow->n[m]++ ? ",{" : "{");
    ts_field(b, "window_start", w->window_start_us);
    buf_append_char(b, ',');
    ts_field(b, "window_end", w->window_end_us);
    buf_append_char(b, ',');
    ts_field(b, "final_at", w->window_end_us + (d->final == METRIC_FINAL_FUNNEL ? ow->funnel_delay_us : 0));
    if (w->partition >= 0) buf_printf(b, ",\"partition\":%d", (int)w->partition); /* scale-out partials */
    for (int c = 0; c < d->ncols; c++) {
        buf_printf(b, ",\"%s\":", d->cols[c].name);
        render_value(b, d->cols[c].type, &v[c]);
    }
    buf_append_char(b, '}');
    return 0;
}

static void render_open_windows(pipeline_job *j, buf_t *b) {
    open_windows ow = {0};
    const stream_config *c = &j->cfg->engine;
    int64_t f = c->view_to_cart_us + c->cart_to_purchase_us;
    ow.funnel_delay_us = c->window_us > 0 ? (f + c->window_us - 1) / c->window_us * c->window_us : 0;
    stream_sink sk = {.ctx = &ow, .row = open_row};
    char e2[128];
    if (j->engine) stream_engine_snapshot(j->engine, &sk, e2, sizeof e2);
    buf_append_str(b, "\"open_windows\":{");
    for (int m = 0; m < METRIC_ID_COUNT; m++) {
        buf_printf(b, "%s\"%s\":[", m ? "," : "", metric_get((metric_id)m)->name);
        if (ow.arr[m].len) buf_append(b, ow.arr[m].data, ow.arr[m].len);
        buf_append_char(b, ']');
        buf_free(&ow.arr[m]);
    }
    buf_append_char(b, '}');
}

static void render_time(buf_t *b, const char *name, int64_t us) {
    if (us == INT64_MIN) {
        buf_printf(b, "\"%s\":null", name);
        return;
    }
    ts_field(b, name, us);
}

/* Health fields: kafka_connected (null for file input or before the first probe) and
 * last_progress_at. Also moves last_progress_us when records were read since the last render
 * (render runs in the loop thread, once a second). */
static void render_health(pipeline_job *j, buf_t *b, buf_t *m) {
    if (j->stats.records != j->progress_records) {
        j->progress_records = j->stats.records;
        j->last_progress_us = time_now_us();
    }
    const char *kc = j->broker == JOB_BROKER_UP ? "true" : j->broker == JOB_BROKER_DOWN ? "false" : "null";
    buf_printf(b, "\"kafka_connected\":%s,", kc);
    render_time(b, "last_progress_at", j->last_progress_us > 0 ? j->last_progress_us : INT64_MIN);
    buf_append_char(b, ',');
    if (j->broker != JOB_BROKER_UNKNOWN)
        buf_printf(m, "# HELP ecom_stream_kafka_connected 1 if the broker answered the last probe.\n"
                      "# TYPE ecom_stream_kafka_connected gauge\necom_stream_kafka_connected %d\n",
                   j->broker == JOB_BROKER_UP);
    if (j->last_progress_us > 0)
        buf_printf(m, "# HELP ecom_stream_last_progress_seconds When the stream last read a record or was caught up.\n"
                      "# TYPE ecom_stream_last_progress_seconds gauge\necom_stream_last_progress_seconds %.3f\n",
                   (double)j->last_progress_us / 1e6);
}

/* The newest event time the engine has seen over every partition (INT64_MIN if none): with
 * events stamped when created, now minus this is how far the open windows lag behind. */
static int64_t job_newest_event(const pipeline_job *j) {
    int64_t m = INT64_MIN;
    for (int p = 0; j->engine && p < j->nparts; p++) {
        stream_partition_stats ps;
        if (stream_engine_partition_stats(j->engine, p, &ps) == 0 && ps.max_event_us > m) m = ps.max_event_us;
    }
    return m;
}

/* The "partitions" array's entries of /status: per partition its watermark and, per topic,
 * offset and lag (null while the broker cannot be asked). Returns the total lag. */
static int64_t render_partitions(pipeline_job *j, buf_t *b, bool lag_known) {
    int64_t total_lag = 0;
    for (int p = 0; p < j->nparts; p++) {
        stream_partition_stats ps = {0};
        if (j->engine) stream_engine_partition_stats(j->engine, p, &ps);
        buf_printf(b, "%s{\"partition\":%d,\"assigned\":%s,\"idle\":%s,", p ? "," : "", p,
                   ps.assigned ? "true" : "false", ps.idle ? "true" : "false");
        render_time(b, "watermark", ps.watermark_us == INT64_MAX ? INT64_MIN : ps.watermark_us);
        buf_append_str(b, ",\"topics\":[");
        for (int t = 0; t < (job_file_input(j) ? 1 : KAFKA_NTOPICS); t++) {
            int64_t off = j->offsets[p][t], hi = j->high ? j->high[p][t] : 0;
            int64_t lag = (hi > 0 && off >= 0) ? hi - off : (hi > 0 ? hi : 0);
            if (lag < 0) lag = 0;
            total_lag += lag;
            buf_printf(b, "%s{\"topic\":\"%s\",\"offset\":%" PRId64 ",\"lag\":", t ? "," : "",
                       job_file_input(j) ? "file" : j->cfg->topics[t], off);
            if (lag_known) buf_printf(b, "%" PRId64 "}", lag);
            else buf_append_str(b, "null}");
        }
        buf_append_str(b, "]}");
    }
    return total_lag;
}

/* The /metrics text (Prometheus exposition) of the job's counters; render_health() wrote its
 * own lines into m before. */
static void render_metrics(pipeline_job *j, buf_t *m, bool lag_known, int64_t total_lag, int64_t wm) {
    static const char *tn[EV_TYPE_COUNT] = {"page_view", "add_to_cart", "remove_from_cart", "purchase"};
    const pipeline_stats *s = &j->stats;
    buf_printf(m, "# HELP ecom_stream_records_total Input records read.\n# TYPE ecom_stream_records_total counter\n"
                  "ecom_stream_records_total %" PRIu64 "\n",
               s->records);
    buf_printf(m, "# HELP ecom_stream_events_total Events by type and outcome.\n# TYPE ecom_stream_events_total counter\n");
    for (int t = 0; t < EV_TYPE_COUNT; t++)
        buf_printf(m, "ecom_stream_events_total{type=\"%s\",outcome=\"ok\"} %" PRIu64 "\n", tn[t], s->ok[t]);
    buf_printf(m, "ecom_stream_events_total{type=\"any\",outcome=\"duplicate\"} %" PRIu64 "\n", s->duplicates);
    buf_printf(m, "ecom_stream_events_total{type=\"any\",outcome=\"late\"} %" PRIu64 "\n", s->late);
    buf_printf(m, "ecom_stream_events_total{type=\"any\",outcome=\"rejected\"} %" PRIu64 "\n", s->rejected);
    buf_printf(m, "ecom_stream_events_total{type=\"any\",outcome=\"blank\"} %" PRIu64 "\n", s->blank);
    buf_printf(m, "# HELP ecom_stream_rejected_reason_total Rejected events by engine reason (a part of rejected; since "
                  "the process started).\n# TYPE ecom_stream_rejected_reason_total counter\n"
                  "ecom_stream_rejected_reason_total{reason=\"future\"} %" PRIu64 "\n"
                  "ecom_stream_rejected_reason_total{reason=\"conflicting_duplicate\"} %" PRIu64 "\n",
               s->future, s->conflicts);
    buf_printf(m, "# HELP ecom_stream_corrections_total Correction rows written (late events added to their windows).\n"
                  "# TYPE ecom_stream_corrections_total counter\necom_stream_corrections_total %" PRIu64 "\n",
               s->corrections);
    buf_printf(m, "# TYPE ecom_stream_epochs_total counter\necom_stream_epochs_total %" PRIu64 "\n", s->epochs);
    buf_printf(m, "# TYPE ecom_stream_files_committed_total counter\necom_stream_files_committed_total %" PRIu64 "\n",
               s->files_committed);
    buf_printf(m, "# TYPE ecom_stream_storage_errors_total counter\necom_stream_storage_errors_total %" PRIu64 "\n",
               s->storage_errors);
    buf_printf(m, "# TYPE ecom_stream_kafka_errors_total counter\necom_stream_kafka_errors_total %" PRIu64 "\n",
               s->kafka_errors);
    buf_printf(m, "# TYPE ecom_stream_state_entries gauge\necom_stream_state_entries %" PRIu64 "\n",
               j->engine ? stream_engine_state_entries(j->engine) : 0);
    if (lag_known) buf_printf(m, "# TYPE ecom_stream_lag gauge\necom_stream_lag %" PRId64 "\n", total_lag);
    else buf_append_str(m, "# TYPE ecom_stream_lag gauge\necom_stream_lag NaN\n");
    if (wm != INT64_MIN)
        buf_printf(m, "# TYPE ecom_stream_watermark_seconds gauge\necom_stream_watermark_seconds %.3f\n",
                   (double)wm / 1e6);
}

/* Renders /status schema 2 (documented in pipeline.h; every field always present). Lag is null
 * (and ecom_stream_lag NaN) while the broker cannot be asked: the last known value would claim
 * a health the job cannot know. */
int job_status_render(pipeline_job *j, buf_t *b, buf_t *m) {
    static const char *tn[EV_TYPE_COUNT] = {"page_view", "add_to_cart", "remove_from_cart", "purchase"};
    const pipeline_stats *s = &j->stats;
    const stream_config *ec = &j->cfg->engine;
    int64_t wm = j->engine ? stream_engine_watermark(j->engine) : INT64_MIN;
    if (wm == INT64_MAX) wm = INT64_MIN; /* after a flush: no meaningful time */
    double up = (double)(time_mono_us() - j->started_us) / 1e6;
    int64_t horizon = ec->window_us > 0 ? stream_config_funnel_horizon_us(ec) : 0;
    buf_printf(b, "{\"schema\":2,\"input\":\"%s\",\"layout\":\"%s\",\"epoch\":%" PRId64 ",\"uptime_s\":%.1f,",
               job_file_input(j) ? "file" : "kafka", j->cfg->scale_out ? "scale-out" : "single", j->epoch, up);
    buf_printf(b, "\"events_per_s\":%.1f,", up > 0 ? s->records / up : 0.0);
    render_time(b, "watermark", wm);
    buf_append_char(b, ',');
    render_time(b, "newest_event_at", job_newest_event(j));
    buf_printf(b, ",\"window_s\":%.0f,\"lateness_s\":%.0f,\"funnel_horizon_s\":%.0f", ec->window_us / 1e6,
               ec->lateness_us / 1e6, horizon / 1e6);
    buf_printf(b, ",\"counters\":{\"records\":%" PRIu64, s->records);
    for (int t = 0; t < EV_TYPE_COUNT; t++) buf_printf(b, ",\"%s\":%" PRIu64, tn[t], s->ok[t]);
    buf_printf(b,
               ",\"duplicates\":%" PRIu64 ",\"late\":%" PRIu64 ",\"corrections\":%" PRIu64 ",\"rejected\":%" PRIu64
               ",\"future\":%" PRIu64 ",\"conflicts\":%" PRIu64 ",\"blank\":%" PRIu64 ",\"epochs\":%" PRIu64 ",\"files_committed\":%" PRIu64
               ",\"storage_errors\":%" PRIu64 ",\"kafka_errors\":%" PRIu64 "},\"state_entries\":%" PRIu64
               ",\"partitions\":[",
               s->duplicates, s->late, s->corrections, s->rejected, s->future, s->conflicts, s->blank, s->epochs, s->files_committed,
               s->storage_errors, s->kafka_errors, j->engine ? stream_engine_state_entries(j->engine) : 0);
    bool lag_known = j->broker != JOB_BROKER_DOWN;
    int64_t total_lag = render_partitions(j, b, lag_known);
    if (lag_known) buf_printf(b, "],\"lag\":%" PRId64 ",", total_lag);
    else buf_append_str(b, "],\"lag\":null,");
    render_health(j, b, m);
    render_open_windows(j, b);
    buf_append_str(b, "}\n");

    render_metrics(j, m, lag_known, total_lag, wm);
    return 0;
}
