/*
 * pipeline/status.c — `ecom stream --listen`: GET /status (JSON) and GET /metrics (Prometheus
 * text). The job thread renders both documents about once a second and publishes them; the
 * server thread (libmicrohttpd) only copies the latest under a mutex, so a slow or hostile
 * client can never stall the stream.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/pipeline_internal.h"

struct status_server {
    struct MHD_Daemon *d;
    pthread_mutex_t mu;
    char *json, *prom;
    size_t njson, nprom;
};

static enum MHD_Result reply(struct MHD_Connection *c, unsigned code, const char *type, const char *p, size_t n) {
    struct MHD_Response *r = MHD_create_response_from_buffer(n, (void *)p, MHD_RESPMEM_MUST_COPY);
    if (!r) return MHD_NO;
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    enum MHD_Result rc = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return rc;
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
    const char *p = js ? s->json : s->prom;
    size_t n = js ? s->njson : s->nprom;
    enum MHD_Result rc;
    if (!p)
        rc = reply(c, 503, "application/json", "{\"error\":\"starting\"}", 20);
    else
        rc = reply(c, 200, js ? "application/json" : "text/plain; version=0.0.4", p, n);
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
    s->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL, on_request, s,
                            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_CONNECTION_LIMIT,
                            (unsigned)64, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10,
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)65536, MHD_OPTION_END);
    if (!s->d) {
        snprintf(err, errlen, "cannot listen on %s (port in use?)", listen);
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
    pthread_mutex_unlock(&s->mu);
}

void status_server_stop(status_server *s) {
    if (!s) return;
    MHD_stop_daemon(s->d);
    pthread_mutex_destroy(&s->mu);
    free(s->json);
    free(s->prom);
    free(s);
}

/* ---- rendering ---- */

typedef struct {
    buf_t *b;
    int n;
} prov_ctx;

static void ts_field(buf_t *b, const char *name, int64_t us) {
    char t[25];
    time_format_ms(us, t);
    buf_printf(b, "\"%s\":\"%s\"", name, t);
}

static void prov_begin(prov_ctx *p, const char *table, const stream_window *w) {
    buf_printf(p->b, "%s{\"table\":\"%s\",", p->n++ ? "," : "", table);
    ts_field(p->b, "window_start", w->window_start_us);
    buf_append_char(p->b, ',');
    ts_field(p->b, "window_end", w->window_end_us);
    buf_append_str(p->b, ",\"provisional\":true");
    if (w->partition >= 0) buf_printf(p->b, ",\"partition\":%d", (int)w->partition); /* scale-out partials */
}

static int prov_sales(void *ctx, const stream_row_sales *r) {
    prov_ctx *p = ctx;
    prov_begin(p, "sales_per_minute", &r->w);
    buf_printf(p->b, ",\"orders\":%" PRId64 ",\"items\":%" PRId64 ",\"revenue\":", r->orders, r->items);
    json_append_cents(p->b, r->revenue_cents);
    buf_printf(p->b, ",\"avg_ticket\":%.2f}", r->avg_ticket_cents / 100.0);
    return 0;
}

static int prov_category(void *ctx, const stream_row_category *r) {
    prov_ctx *p = ctx;
    prov_begin(p, "category_activity", &r->w);
    buf_append_str(p->b, ",\"category\":");
    json_append_string(p->b, r->category.p, r->category.n);
    buf_printf(p->b, ",\"views\":%" PRId64 ",\"adds\":%" PRId64 ",\"removes\":%" PRId64 ",\"units_sold\":%" PRId64
               ",\"revenue\":",
               r->views, r->adds, r->removes, r->units_sold);
    json_append_cents(p->b, r->revenue_cents);
    buf_append_char(p->b, '}');
    return 0;
}

static int prov_top(void *ctx, const stream_row_product *r) {
    prov_ctx *p = ctx;
    prov_begin(p, "top_products", &r->w);
    buf_printf(p->b, ",\"rank\":%d,\"product_id\":", r->rank);
    json_append_string(p->b, r->product_id.p, r->product_id.n);
    buf_append_str(p->b, ",\"product_name\":");
    json_append_string(p->b, r->product_name.p, r->product_name.n);
    buf_append_str(p->b, ",\"category\":");
    json_append_string(p->b, r->category.p, r->category.n);
    buf_printf(p->b, ",\"views\":%" PRId64 "}", r->views);
    return 0;
}

static int prov_city(void *ctx, const stream_row_city *r) {
    prov_ctx *p = ctx;
    prov_begin(p, "sales_by_city", &r->w);
    buf_append_str(p->b, ",\"province\":");
    json_append_string(p->b, r->province.p, r->province.n);
    buf_append_str(p->b, ",\"city\":");
    json_append_string(p->b, r->city.p, r->city.n);
    buf_append_str(p->b, ",\"store_type\":");
    json_append_string(p->b, r->store_type.p, r->store_type.n);
    buf_printf(p->b, ",\"orders\":%" PRId64 ",\"revenue\":", r->orders);
    json_append_cents(p->b, r->revenue_cents);
    buf_append_char(p->b, '}');
    return 0;
}

static int prov_funnel(void *ctx, const stream_row_funnel *r) {
    prov_ctx *p = ctx;
    prov_begin(p, "funnel", &r->w);
    buf_printf(p->b,
               ",\"viewed\":%" PRId64 ",\"carted\":%" PRId64 ",\"purchased\":%" PRId64
               ",\"view_to_cart_rate\":%.6f,\"cart_to_purchase_rate\":%.6f,\"view_to_purchase_rate\":%.6f}",
               r->viewed, r->carted, r->purchased, r->view_to_cart_rate, r->cart_to_purchase_rate,
               r->view_to_purchase_rate);
    return 0;
}

static void render_time(buf_t *b, const char *name, int64_t us) {
    if (us == INT64_MIN) {
        buf_printf(b, "\"%s\":null", name);
        return;
    }
    ts_field(b, name, us);
}

int job_status_render(pipeline_job *j, buf_t *b, buf_t *m) {
    static const char *tn[EV_TYPE_COUNT] = {"page_view", "add_to_cart", "remove_from_cart", "purchase"};
    const pipeline_stats *s = &j->stats;
    int64_t wm = j->engine ? stream_engine_watermark(j->engine) : INT64_MIN;
    double up = (double)(time_mono_us() - j->started_us) / 1e6;
    buf_printf(b, "{\"input\":\"%s\",\"layout\":\"%s\",\"epoch\":%" PRId64 ",\"uptime_s\":%.1f,",
               job_file_input(j) ? "file" : "kafka", j->cfg->scale_out ? "scale-out" : "single", j->epoch, up);
    render_time(b, "watermark", wm);
    buf_printf(b, ",\"events_per_s\":%.1f,\"counters\":{\"records\":%" PRIu64, up > 0 ? s->records / up : 0.0,
               s->records);
    for (int t = 0; t < EV_TYPE_COUNT; t++) buf_printf(b, ",\"%s\":%" PRIu64, tn[t], s->ok[t]);
    buf_printf(b,
               ",\"duplicates\":%" PRIu64 ",\"late\":%" PRIu64 ",\"rejected\":%" PRIu64 ",\"epochs\":%" PRIu64
               ",\"files_committed\":%" PRIu64 ",\"storage_errors\":%" PRIu64 ",\"kafka_errors\":%" PRIu64
               "},\"state_entries\":%" PRIu64 ",\"partitions\":[",
               s->duplicates, s->late, s->rejected, s->epochs, s->files_committed, s->storage_errors,
               s->kafka_errors, j->engine ? stream_engine_state_entries(j->engine) : 0);
    int64_t total_lag = 0;
    for (int p = 0; p < j->nparts; p++) {
        stream_partition_stats ps = {0};
        if (j->engine) stream_engine_partition_stats(j->engine, p, &ps);
        buf_printf(b, "%s{\"partition\":%d,\"assigned\":%s,\"idle\":%s,", p ? "," : "", p,
                   ps.assigned ? "true" : "false", ps.idle ? "true" : "false");
        render_time(b, "watermark", ps.watermark_us);
        buf_append_str(b, ",\"topics\":[");
        for (int t = 0; t < (job_file_input(j) ? 1 : KAFKA_NTOPICS); t++) {
            int64_t off = j->offsets[p][t], hi = j->high ? j->high[p][t] : 0;
            int64_t lag = (hi > 0 && off >= 0) ? hi - off : (hi > 0 ? hi : 0);
            if (lag < 0) lag = 0;
            total_lag += lag;
            buf_printf(b, "%s{\"topic\":\"%s\",\"offset\":%" PRId64 ",\"lag\":%" PRId64 "}", t ? "," : "",
                       job_file_input(j) ? "file" : j->cfg->topics[t], off, lag);
        }
        buf_append_str(b, "]}");
    }
    buf_printf(b, "],\"lag\":%" PRId64 ",\"open_windows\":[", total_lag);
    prov_ctx pc = {b, 0};
    stream_sink ps = {.ctx = &pc, .sales = prov_sales, .category = prov_category, .top_product = prov_top,
                      .city = prov_city, .funnel = prov_funnel};
    char e2[128];
    if (j->engine) stream_engine_snapshot(j->engine, &ps, e2, sizeof e2);
    buf_append_str(b, "]}\n");

    buf_printf(m, "# HELP ecom_stream_records_total Input records read.\n# TYPE ecom_stream_records_total counter\n"
                  "ecom_stream_records_total %" PRIu64 "\n",
               s->records);
    buf_printf(m, "# HELP ecom_stream_events_total Events by type and outcome.\n# TYPE ecom_stream_events_total counter\n");
    for (int t = 0; t < EV_TYPE_COUNT; t++)
        buf_printf(m, "ecom_stream_events_total{type=\"%s\",outcome=\"ok\"} %" PRIu64 "\n", tn[t], s->ok[t]);
    buf_printf(m, "ecom_stream_events_total{type=\"any\",outcome=\"duplicate\"} %" PRIu64 "\n", s->duplicates);
    buf_printf(m, "ecom_stream_events_total{type=\"any\",outcome=\"late\"} %" PRIu64 "\n", s->late);
    buf_printf(m, "ecom_stream_events_total{type=\"any\",outcome=\"rejected\"} %" PRIu64 "\n", s->rejected);
    buf_printf(m, "# TYPE ecom_stream_epochs_total counter\necom_stream_epochs_total %" PRIu64 "\n", s->epochs);
    buf_printf(m, "# TYPE ecom_stream_files_committed_total counter\necom_stream_files_committed_total %" PRIu64 "\n",
               s->files_committed);
    buf_printf(m, "# TYPE ecom_stream_storage_errors_total counter\necom_stream_storage_errors_total %" PRIu64 "\n",
               s->storage_errors);
    buf_printf(m, "# TYPE ecom_stream_kafka_errors_total counter\necom_stream_kafka_errors_total %" PRIu64 "\n",
               s->kafka_errors);
    buf_printf(m, "# TYPE ecom_stream_state_entries gauge\necom_stream_state_entries %" PRIu64 "\n",
               j->engine ? stream_engine_state_entries(j->engine) : 0);
    buf_printf(m, "# TYPE ecom_stream_lag gauge\necom_stream_lag %" PRId64 "\n", total_lag);
    if (wm != INT64_MIN)
        buf_printf(m, "# TYPE ecom_stream_watermark_seconds gauge\necom_stream_watermark_seconds %.3f\n",
                   (double)wm / 1e6);
    return 0;
}
