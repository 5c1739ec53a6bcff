/* engine.c — answers the API: scans the committed rows of a range through the source,
 * aggregates them into JSON, and caches the answers until the committed files change. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dash/dash.h"

typedef enum { EP_SALES, EP_CATEGORY, EP_TOP, EP_CITY, EP_FUNNEL, EP_SUMMARY, EP_HEALTH, EP_COUNT } endpoint;

static const char *const ep_paths[EP_COUNT] = {
    "/api/sales_per_minute", "/api/category_activity", "/api/top_products", "/api/sales_by_city",
    "/api/funnel",           "/api/summary",           "/api/health",
};

static const char *const table_names[DASH_T_COUNT] = {
    "sales_per_minute", "category_activity", "top_products", "sales_by_city", "funnel",
};

const char *dash_table_name(dash_table t) { return (unsigned)t < DASH_T_COUNT ? table_names[t] : "?"; }

struct dash_blob {
    atomic_int refs;
    size_t len;
    char data[];
};

static dash_blob *blob_new(const char *p, size_t n) {
    dash_blob *b = malloc(sizeof *b + n + 1);
    if (!b) return NULL;
    atomic_init(&b->refs, 1);
    b->len = n;
    memcpy(b->data, p, n);
    b->data[n] = 0;
    return b;
}

const char *dash_blob_data(const dash_blob *b) { return b->data; }
size_t dash_blob_len(const dash_blob *b) { return b->len; }

void dash_blob_release(dash_blob *b) {
    if (b && atomic_fetch_sub(&b->refs, 1) == 1) free(b);
}

static dash_blob *blob_ref(dash_blob *b) {
    atomic_fetch_add(&b->refs, 1);
    return b;
}

typedef struct {
    char key[96];
    uint64_t generation;
    uint64_t used;      /* tick of last use, for LRU eviction */
    int status;
    dash_blob *body;    /* one reference held by the cache */
} cache_entry;

struct dash_engine {
    pthread_mutex_t mu;
    dash_source src;
    dash_engine_opts o;
    char *stream_url;
    /* listing state */
    bool polled;
    int64_t last_poll_mono;
    uint64_t generation;
    int64_t latest_end;
    char poll_err[256];
    /* answers */
    cache_entry *cache;
    uint64_t tick;
    /* stream status, refreshed at most once a second (guarded by smu, not mu) */
    pthread_mutex_t smu;
    int64_t status_mono;
    buf_t status;
    char status_err[256];
};

dash_engine *dash_engine_new(dash_source src, const dash_engine_opts *opts, char *err, size_t errlen) {
    dash_engine *e = calloc(1, sizeof *e);
    if (!e) {
        snprintf(err, errlen, "out of memory");
        if (src.destroy) src.destroy(src.ctx);
        return NULL;
    }
    e->src = src;
    if (opts) e->o = *opts;
    if (!e->o.poll_interval_us) e->o.poll_interval_us = 500 * TIME_US_PER_MS;
    if (!e->o.default_last_us) e->o.default_last_us = 3600 * TIME_US_PER_SEC;
    if (!e->o.cache_entries) e->o.cache_entries = 256;
    e->cache = calloc(e->o.cache_entries, sizeof *e->cache);
    e->stream_url = opts && opts->stream_url && *opts->stream_url ? strdup(opts->stream_url) : NULL;
    if (!e->cache || (opts && opts->stream_url && *opts->stream_url && !e->stream_url)) {
        snprintf(err, errlen, "out of memory");
        dash_engine_free(e);
        return NULL;
    }
    e->o.stream_url = e->stream_url;
    pthread_mutex_init(&e->mu, NULL);
    pthread_mutex_init(&e->smu, NULL);
    return e;
}

void dash_engine_free(dash_engine *e) {
    if (!e) return;
    if (e->src.destroy) e->src.destroy(e->src.ctx);
    if (e->cache)
        for (size_t i = 0; i < e->o.cache_entries; i++) dash_blob_release(e->cache[i].body);
    free(e->cache);
    free(e->stream_url);
    buf_free(&e->status);
    pthread_mutex_destroy(&e->mu);
    pthread_mutex_destroy(&e->smu);
    free(e);
}

bool dash_engine_is_api(const char *path) { return !strncmp(path, "/api/", 5); }

static int ep_find(const char *path) {
    for (int i = 0; i < EP_COUNT; i++)
        if (!strcmp(path, ep_paths[i])) return i;
    return -1;
}

static int error_body(buf_t *out, const char *msg) {
    buf_reset(out);
    buf_append_str(out, "{\"error\":");
    dash_json_str(out, msg);
    buf_append_str(out, "}");
    return 0;
}

/* Re-lists the lake when the last listing is older than the poll interval. Holding mu. */
static int engine_refresh(dash_engine *e) {
    int64_t now = time_mono_us();
    if (e->polled && now - e->last_poll_mono < e->o.poll_interval_us) return e->poll_err[0] ? -1 : 0;
    e->polled = true;
    e->last_poll_mono = now;
    e->poll_err[0] = 0;
    uint64_t gen = 0;
    int64_t latest = INT64_MIN;
    if (e->src.poll(e->src.ctx, &gen, &latest, e->poll_err, sizeof e->poll_err)) {
        if (!e->poll_err[0]) snprintf(e->poll_err, sizeof e->poll_err, "cannot list the lake");
        return -1;
    }
    e->generation = gen;
    e->latest_end = latest;
    return 0;
}

/* Resolves the parameters to [from, to). `last` (and the default) counts back from the latest
 * committed window end, so a replayed or paused lake still shows its newest data; with no data
 * at all it counts back from now (rounded down to the minute). */
static void engine_range(const dash_engine *e, const dash_params *p, int64_t *from, int64_t *to) {
    if (p->has_from_to) {
        *from = p->from_us;
        *to = p->to_us;
        return;
    }
    int64_t span = p->has_last ? p->last_us : e->o.default_last_us;
    int64_t end = e->latest_end;
    if (end == INT64_MIN) {
        int64_t minute = 60 * TIME_US_PER_SEC;
        end = time_now_us() / minute * minute;
    }
    *to = end;
    *from = end - span;
}

/* ---- aggregation helpers ---- */
typedef struct {
    int nkeys;   /* number of leading string columns that form the group key */
} sort_ctx;

static int cmp_by_strings(const void *a, const void *b, void *ctx) {
    const dash_row *x = a, *y = b;
    int nk = ((const sort_ctx *)ctx)->nkeys;
    for (int i = 0; i < nk; i++) {
        int c = strcmp(x->s[i], y->s[i]);
        if (c) return c;
    }
    return 0;
}

static int cmp_by_window(const void *a, const void *b) {
    const dash_row *x = a, *y = b;
    return (x->ws > y->ws) - (x->ws < y->ws);
}

/* Merges rows with equal keys (the first nkeys strings, or the window when nkeys == 0) by
 * summing their numbers, in place. Why merge at all: two stream instances (or a table rewritten
 * across partitions) may each hold part of one window's counts; every metric here is a sum. */
static void rows_merge(dash_rows *r, int nkeys) {
    if (r->n == 0) return;
    if (nkeys) {
        sort_ctx c = {nkeys};
        qsort_r(r->rows, r->n, sizeof *r->rows, cmp_by_strings, &c);
    } else {
        qsort(r->rows, r->n, sizeof *r->rows, cmp_by_window);
    }
    size_t w = 0;
    sort_ctx c = {nkeys};
    for (size_t i = 1; i < r->n; i++) {
        dash_row *a = &r->rows[w], *b = &r->rows[i];
        bool same = nkeys ? !cmp_by_strings(a, b, &c) : a->ws == b->ws;
        if (same) {
            for (int k = 0; k < DASH_ROW_NUMS; k++) a->n[k] += b->n[k];
            if (b->we > a->we) a->we = b->we;
        } else {
            r->rows[++w] = *b;
        }
    }
    r->n = w + 1;
}

static int cmp_views_desc(const void *a, const void *b) {   /* top_products: views desc, id asc */
    const dash_row *x = a, *y = b;
    if (x->n[1] != y->n[1]) return x->n[1] < y->n[1] ? 1 : -1;
    return strcmp(x->s[0], y->s[0]);
}

static int cmp_cat_views_desc(const void *a, const void *b) { /* category: views desc, name asc */
    const dash_row *x = a, *y = b;
    if (x->n[0] != y->n[0]) return x->n[0] < y->n[0] ? 1 : -1;
    return strcmp(x->s[0], y->s[0]);
}

static int cmp_city_revenue_desc(const void *a, const void *b) { /* revenue desc, province, city */
    const dash_row *x = a, *y = b;
    if (x->n[1] != y->n[1]) return x->n[1] < y->n[1] ? 1 : -1;
    int c = strcmp(x->s[0], y->s[0]);
    return c ? c : strcmp(x->s[1], y->s[1]);
}

/* ---- one renderer per endpoint; each appends the members after the envelope ---- */
static int scan(dash_engine *e, dash_table t, int64_t from, int64_t to, dash_rows *r, char *err, size_t errlen) {
    return e->src.scan(e->src.ctx, t, from, to, r, err, errlen);
}

static int render_sales(dash_engine *e, int64_t from, int64_t to, buf_t *b, char *err, size_t errlen) {
    dash_rows r = {0};
    if (scan(e, DASH_T_SALES, from, to, &r, err, errlen)) goto fail;
    rows_merge(&r, 0);
    buf_append_str(b, ",\"rows\":[");
    for (size_t i = 0; i < r.n; i++) {
        const dash_row *x = &r.rows[i];
        buf_append_str(b, i ? ",{\"window_start\":" : "{\"window_start\":");
        dash_json_time(b, x->ws);
        buf_append_str(b, ",\"window_end\":");
        dash_json_time(b, x->we);
        buf_printf(b, ",\"orders\":%lld,\"items\":%lld,\"revenue\":", (long long)x->n[0], (long long)x->n[1]);
        dash_json_money(b, x->n[2]);
        buf_append_str(b, ",\"avg_ticket\":");
        if (x->n[0] > 0) buf_printf(b, "%.2f", (double)x->n[2] / (double)x->n[0] / 100.0);
        else buf_append_str(b, "null");
        buf_append_char(b, '}');
    }
    buf_append_char(b, ']');
    dash_rows_free(&r);
    return 0;
fail:
    dash_rows_free(&r);
    return -1;
}

static int render_category(dash_engine *e, int64_t from, int64_t to, buf_t *b, char *err, size_t errlen) {
    dash_rows r = {0};
    if (scan(e, DASH_T_CATEGORY, from, to, &r, err, errlen)) {
        dash_rows_free(&r);
        return -1;
    }
    rows_merge(&r, 1);
    if (r.n) qsort(r.rows, r.n, sizeof *r.rows, cmp_cat_views_desc);
    buf_append_str(b, ",\"rows\":[");
    for (size_t i = 0; i < r.n; i++) {
        const dash_row *x = &r.rows[i];
        buf_append_str(b, i ? ",{\"category\":" : "{\"category\":");
        dash_json_str(b, x->s[0]);
        buf_printf(b, ",\"views\":%lld,\"adds\":%lld,\"removes\":%lld,\"units_sold\":%lld,\"revenue\":",
                   (long long)x->n[0], (long long)x->n[1], (long long)x->n[2], (long long)x->n[3]);
        dash_json_money(b, x->n[4]);
        buf_append_char(b, '}');
    }
    buf_append_char(b, ']');
    dash_rows_free(&r);
    return 0;
}

static int render_top(dash_engine *e, int64_t from, int64_t to, int64_t limit, buf_t *b, char *err,
                      size_t errlen) {
    dash_rows r = {0};
    if (scan(e, DASH_T_TOP, from, to, &r, err, errlen)) {
        dash_rows_free(&r);
        return -1;
    }
    /* Group by product_id only; rank (n[0]) is meaningless once summed and is reassigned. */
    rows_merge(&r, 1);
    if (r.n) qsort(r.rows, r.n, sizeof *r.rows, cmp_views_desc);
    buf_append_str(b, ",\"rows\":[");
    size_t n = r.n < (size_t)limit ? r.n : (size_t)limit;
    for (size_t i = 0; i < n; i++) {
        const dash_row *x = &r.rows[i];
        buf_printf(b, "%s{\"rank\":%zu,\"product_id\":", i ? "," : "", i + 1);
        dash_json_str(b, x->s[0]);
        buf_append_str(b, ",\"product_name\":");
        dash_json_str(b, x->s[1]);
        buf_append_str(b, ",\"category\":");
        dash_json_str(b, x->s[2]);
        buf_printf(b, ",\"views\":%lld}", (long long)x->n[1]);
    }
    buf_append_char(b, ']');
    dash_rows_free(&r);
    return 0;
}

static int render_city(dash_engine *e, int64_t from, int64_t to, int64_t limit, buf_t *b, char *err,
                       size_t errlen) {
    dash_rows r = {0};
    if (scan(e, DASH_T_CITY, from, to, &r, err, errlen)) {
        dash_rows_free(&r);
        return -1;
    }
    rows_merge(&r, 2);   /* (province, city): online and physical stores together */
    if (r.n) qsort(r.rows, r.n, sizeof *r.rows, cmp_city_revenue_desc);
    buf_append_str(b, ",\"rows\":[");
    size_t n = r.n < (size_t)limit ? r.n : (size_t)limit;
    for (size_t i = 0; i < n; i++) {
        const dash_row *x = &r.rows[i];
        buf_append_str(b, i ? ",{\"province\":" : "{\"province\":");
        dash_json_str(b, x->s[0]);
        buf_append_str(b, ",\"city\":");
        dash_json_str(b, x->s[1]);
        buf_printf(b, ",\"orders\":%lld,\"revenue\":", (long long)x->n[0]);
        dash_json_money(b, x->n[1]);
        buf_append_char(b, '}');
    }
    buf_printf(b, "],\"total_cities\":%zu", r.n);
    dash_rows_free(&r);
    return 0;
}

static void funnel_sums(const dash_rows *r, int64_t s[3]) {
    s[0] = s[1] = s[2] = 0;
    for (size_t i = 0; i < r->n; i++)
        for (int k = 0; k < 3; k++) s[k] += r->rows[i].n[k];
}

static int render_funnel(dash_engine *e, int64_t from, int64_t to, buf_t *b, char *err, size_t errlen) {
    dash_rows r = {0};
    if (scan(e, DASH_T_FUNNEL, from, to, &r, err, errlen)) {
        dash_rows_free(&r);
        return -1;
    }
    rows_merge(&r, 0);   /* one row per window, however many partitions wrote partial rows */
    int64_t s[3];
    funnel_sums(&r, s);
    buf_printf(b, ",\"windows\":%zu,\"viewed\":%lld,\"carted\":%lld,\"purchased\":%lld", r.n, (long long)s[0],
               (long long)s[1], (long long)s[2]);
    buf_append_str(b, ",\"view_to_cart_rate\":");
    dash_json_ratio(b, s[1], s[0]);
    buf_append_str(b, ",\"cart_to_purchase_rate\":");
    dash_json_ratio(b, s[2], s[1]);
    buf_append_str(b, ",\"view_to_purchase_rate\":");
    dash_json_ratio(b, s[2], s[0]);
    dash_rows_free(&r);
    return 0;
}

static int render_summary(dash_engine *e, int64_t from, int64_t to, buf_t *b, char *err, size_t errlen) {
    dash_rows r = {0}, f = {0};
    if (scan(e, DASH_T_SALES, from, to, &r, err, errlen) || scan(e, DASH_T_FUNNEL, from, to, &f, err, errlen)) {
        dash_rows_free(&r);
        dash_rows_free(&f);
        return -1;
    }
    int64_t orders = 0, items = 0, revenue = 0;
    for (size_t i = 0; i < r.n; i++) {
        orders += r.rows[i].n[0];
        items += r.rows[i].n[1];
        revenue += r.rows[i].n[2];
    }
    int64_t s[3];
    funnel_sums(&f, s);
    buf_printf(b, ",\"orders\":%lld,\"items\":%lld,\"revenue\":", (long long)orders, (long long)items);
    dash_json_money(b, revenue);
    buf_append_str(b, ",\"avg_ticket\":");
    if (orders > 0) buf_printf(b, "%.2f", (double)revenue / (double)orders / 100.0);
    else buf_append_str(b, "null");
    buf_printf(b, ",\"viewed\":%lld,\"purchased\":%lld,\"conversion\":", (long long)s[0], (long long)s[2]);
    dash_json_ratio(b, s[2], s[0]);
    dash_rows_free(&r);
    dash_rows_free(&f);
    return 0;
}

static int render_health(dash_engine *e, buf_t *b, char *err, size_t errlen) {
    buf_append_str(b, ",\"latest_window_end\":");
    if (e->latest_end == INT64_MIN) {
        buf_append_str(b, "null,\"data_age_s\":null");
    } else {
        dash_json_time(b, e->latest_end);
        buf_printf(b, ",\"data_age_s\":%.1f", (double)(time_now_us() - e->latest_end) / 1e6);
    }
    buf_append_str(b, ",\"tables\":");
    if (e->src.describe) {
        if (e->src.describe(e->src.ctx, b, err, errlen)) return -1;
    } else {
        buf_append_str(b, "null");
    }
    return 0;
}

/* ---- the stream's /status ---- */

/* Refreshes the stream status at most once a second (a stream that is down costs each caller
 * at most one bounded fetch per second, not one per request). Holding smu. */
static void status_refresh(dash_engine *e) {
    int64_t now = time_mono_us();
    if (e->status_mono && now - e->status_mono < TIME_US_PER_SEC) return;
    e->status_mono = now;
    buf_reset(&e->status);
    e->status_err[0] = 0;
    if (dash_status_fetch(e->stream_url, &e->status, e->status_err, sizeof e->status_err)) buf_reset(&e->status);
}

/* Appends the stream's part of an answer: for /api/health the whole status, otherwise its open
 * windows, always marked provisional. */
static void status_append(dash_engine *e, int ep, buf_t *out) {
    pthread_mutex_lock(&e->smu);
    status_refresh(e);
    const char *v = NULL;
    size_t vn = 0;
    bool ok = e->status.len > 0;
    if (ep == EP_HEALTH) {
        buf_append_str(out, ",\"stream\":");
        if (ok) buf_append(out, e->status.data, e->status.len);
        else buf_append_str(out, "null");
    } else {
        buf_append_str(out, ",\"provisional\":");
        if (ok && (dash_json_member(e->status.data, e->status.len, "provisional", &v, &vn) ||
                   dash_json_member(e->status.data, e->status.len, "open_windows", &v, &vn))) {
            buf_append_str(out, "{\"provisional\":true,\"windows\":");
            buf_append(out, v, vn);
            buf_append_char(out, '}');
        } else {
            buf_append_str(out, "null");
        }
    }
    buf_append_str(out, ",\"stream_error\":");
    if (e->status_err[0]) dash_json_str(out, e->status_err);
    else buf_append_str(out, "null");
    pthread_mutex_unlock(&e->smu);
}

/* ---- answer cache: immutable, reference-counted answers, so a hit is sent without a copy ---- */
static cache_entry *cache_get(dash_engine *e, const char *key) {
    for (size_t i = 0; i < e->o.cache_entries; i++) {
        cache_entry *c = &e->cache[i];
        if (c->body && c->generation == e->generation && !strcmp(c->key, key)) {
            c->used = ++e->tick;
            return c;
        }
    }
    return NULL;
}

static void cache_put(dash_engine *e, const char *key, int status, dash_blob *body) {
    cache_entry *victim = &e->cache[0];
    for (size_t i = 0; i < e->o.cache_entries; i++) {
        cache_entry *c = &e->cache[i];
        if (!c->body || c->generation != e->generation) {
            victim = c;
            break;
        }
        if (c->used < victim->used) victim = c;
    }
    dash_blob_release(victim->body);
    snprintf(victim->key, sizeof victim->key, "%s", key);
    victim->generation = e->generation;
    victim->status = status;
    victim->used = ++e->tick;
    victim->body = blob_ref(body);
}

/* Computes one complete answer (or finds it in the cache) into *out. Holding mu. */
static int engine_compute(dash_engine *e, int ep, const dash_params *p, dash_blob **out) {
    int64_t from, to;
    engine_range(e, p, &from, &to);
    int64_t limit = p->limit ? p->limit : (ep == EP_CITY ? 100 : 10);
    char key[96];
    snprintf(key, sizeof key, "%d|%lld|%lld|%lld", ep, (long long)from, (long long)to, (long long)limit);
    if (ep != EP_HEALTH) {
        cache_entry *c = cache_get(e, key);
        if (c) {
            *out = blob_ref(c->body);
            return c->status;
        }
    }
    buf_t b = {0};
    buf_append_str(&b, "{\"from\":");
    dash_json_time(&b, from);
    buf_append_str(&b, ",\"to\":");
    dash_json_time(&b, to);
    buf_printf(&b, ",\"generation\":\"%016llx\"", (unsigned long long)e->generation);
    char err[256] = "";
    int rc = 0;
    switch (ep) {
    case EP_SALES: rc = render_sales(e, from, to, &b, err, sizeof err); break;
    case EP_CATEGORY: rc = render_category(e, from, to, &b, err, sizeof err); break;
    case EP_TOP: rc = render_top(e, from, to, limit, &b, err, sizeof err); break;
    case EP_CITY: rc = render_city(e, from, to, limit, &b, err, sizeof err); break;
    case EP_FUNNEL: rc = render_funnel(e, from, to, &b, err, sizeof err); break;
    case EP_SUMMARY: rc = render_summary(e, from, to, &b, err, sizeof err); break;
    default: rc = render_health(e, &b, err, sizeof err); break;
    }
    int status = 200;
    if (rc) {
        char msg[320];
        snprintf(msg, sizeof msg, "cannot read the lake: %s", err[0] ? err : "unknown error");
        error_body(&b, msg);
        status = 503;
    } else {
        buf_append_char(&b, '}');
    }
    *out = b.data ? blob_new(b.data, b.len) : NULL;
    buf_free(&b);
    if (!*out) return 500;   /* out of memory: the server drops the connection */
    if (status == 200 && ep != EP_HEALTH) cache_put(e, key, 200, *out);
    return status;
}

/* Answer plus the stream's part (inserted before the closing brace). Not cached: it changes
 * every second. */
static int with_stream(dash_engine *e, int ep, dash_blob **ans) {
    buf_t b = {0};
    buf_append(&b, (*ans)->data, (*ans)->len - 1);
    status_append(e, ep, &b);
    buf_append_char(&b, '}');
    dash_blob *n = b.data ? blob_new(b.data, b.len) : NULL;
    buf_free(&b);
    if (!n) return -1;
    dash_blob_release(*ans);
    *ans = n;
    return 0;
}

int dash_engine_answer(dash_engine *e, const char *path, const dash_params *p, dash_blob **out) {
    *out = NULL;
    int ep = ep_find(path);
    buf_t b = {0};
    int status;
    if (ep < 0) {
        error_body(&b, "no such API");
        status = 404;
    } else {
        pthread_mutex_lock(&e->mu);
        if (engine_refresh(e)) {
            char msg[320];
            snprintf(msg, sizeof msg, "cannot read the lake: %s", e->poll_err);
            error_body(&b, msg);
            status = 503;
        } else {
            status = engine_compute(e, ep, p, out);
        }
        pthread_mutex_unlock(&e->mu);
        if (*out) {
            if (status == 200 && e->stream_url && with_stream(e, ep, out)) {
                dash_blob_release(*out);
                *out = NULL;
                return 500;
            }
            return status;
        }
    }
    if (!b.data || !(*out = blob_new(b.data, b.len))) status = 500;
    buf_free(&b);
    return status;
}

int dash_engine_handle(dash_engine *e, const char *path, const dash_params *p, buf_t *out) {
    dash_blob *b;
    int status = dash_engine_answer(e, path, p, &b);
    if (b) {
        buf_append(out, b->data, b->len);
        dash_blob_release(b);
    }
    return status;
}
