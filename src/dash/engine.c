/* engine.c — answers the API: resolves the path to a catalog metric or rank, scans the committed
 * rows of the range through the source, adds the stream's open (provisional) windows, merges by
 * the catalog's rules (agg.c) and renders JSON, caching answers until the committed files or the
 * open windows change. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dash/dash_internal.h"
#include "gen/gen.h"

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
    char key[160];
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
    int64_t latest_end;                      /* max over metrics */
    int64_t metric_end[METRIC_ID_COUNT];     /* latest committed window_end per metric */
    int64_t part_end[METRIC_ID_COUNT][DASH_MAX_PARTS];   /* the same per scale-out partition */
    bool parted[METRIC_ID_COUNT];            /* part_end is known (the lake names partitions) */
    int64_t cat_horizon;                     /* the funnel horizon category_activity's newest files
                                                state (INT64_MIN: unknown) */
    int64_t lake_first;                      /* earliest committed window_start, INT64_MIN: none */
    char poll_err[256];
    /* answers */
    cache_entry *cache;
    uint64_t tick;
    /* stream status, refreshed at most once a second (guarded by smu, not mu) */
    pthread_mutex_t smu;
    int64_t status_mono;
    buf_t status;
    char status_err[256];
    dash_prov prov;                          /* the status's open windows (guarded by smu) */
    /* the feed (dash_engine_feed_start): its thread, stop flag and the change counter, guarded
     * by fmu; fcv wakes its waits at stop and when a first client follows the push */
    pthread_mutex_t fmu;
    pthread_cond_t fcv;
    pthread_t feed;
    bool feed_on, feed_stop;
    atomic_bool feed_cancel;                 /* feed_stop for the fetch in flight (no lock) */
    bool feed_passive;                       /* the stream cannot long-poll: answers fetch (smu) */
    unsigned watchers;                       /* clients following the push (fmu) */
    dash_notify_fn notify;
    void *notify_ctx;
    uint64_t live_seq;
    buf_t live;                              /* the SSE payload of the latest change */
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
    dash_prov_free(&e->prov);
    pthread_mutex_init(&e->mu, NULL);
    pthread_mutex_init(&e->smu, NULL);
    pthread_mutex_init(&e->fmu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&e->fcv, &ca);
    pthread_condattr_destroy(&ca);
    return e;
}

void dash_engine_free(dash_engine *e) {
    if (!e) return;
    dash_engine_feed_stop(e);
    if (e->src.destroy) e->src.destroy(e->src.ctx);
    if (e->cache)
        for (size_t i = 0; i < e->o.cache_entries; i++) dash_blob_release(e->cache[i].body);
    free(e->cache);
    free(e->stream_url);
    buf_free(&e->status);
    buf_free(&e->live);
    dash_prov_free(&e->prov);
    pthread_mutex_destroy(&e->mu);
    pthread_mutex_destroy(&e->smu);
    pthread_mutex_destroy(&e->fmu);
    pthread_cond_destroy(&e->fcv);
    free(e);
}

bool dash_engine_is_api(const char *path) { return !strncmp(path, "/api/", 5); }

/* ---- endpoints: derived from the catalog ---- */
typedef enum { EP_METRIC, EP_RANK, EP_SUMMARY, EP_HEALTH, EP_CATALOG, EP_PLACES } ep_kind;

typedef struct {
    ep_kind kind;
    const metric_def *m;         /* EP_METRIC, EP_RANK */
    const metric_rank *rank;     /* EP_RANK */
} endpoint;

/* /api/<metric name>, /api/<rank name>, /api/summary, /api/health, /api/catalog, /api/places. */
static bool ep_find(const char *path, endpoint *ep) {
    if (!dash_engine_is_api(path)) return false;
    const char *name = path + 5;
    *ep = (endpoint){0};
    if (!strcmp(name, "summary")) ep->kind = EP_SUMMARY;
    else if (!strcmp(name, "health")) ep->kind = EP_HEALTH;
    else if (!strcmp(name, "catalog")) ep->kind = EP_CATALOG;
    else if (!strcmp(name, "places")) ep->kind = EP_PLACES;
    else if ((ep->m = metric_find(name))) ep->kind = EP_METRIC;
    else if ((ep->m = metric_find_rank(name, &ep->rank))) ep->kind = EP_RANK;
    else return false;
    return true;
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
    uint64_t g = 0;
    int64_t ends[METRIC_ID_COUNT];
    if (e->src.poll(e->src.ctx, &g, ends, e->poll_err, sizeof e->poll_err)) {
        if (!e->poll_err[0]) snprintf(e->poll_err, sizeof e->poll_err, "cannot list the lake");
        return -1;
    }
    e->generation = g;
    e->cat_horizon = e->src.funnel_horizon ? e->src.funnel_horizon(e->src.ctx, METRIC_ID_CATEGORY) : INT64_MIN;
    e->latest_end = INT64_MIN;
    e->lake_first = INT64_MIN;
    for (int m = 0; m < METRIC_ID_COUNT; m++) {
        e->metric_end[m] = ends[m];
        if (ends[m] > e->latest_end) e->latest_end = ends[m];
        e->parted[m] = e->src.part_ends && e->src.part_ends(e->src.ctx, (metric_id)m, e->part_end[m]);
        int64_t f = e->src.first_start ? e->src.first_start(e->src.ctx, (metric_id)m) : INT64_MIN;
        if (f != INT64_MIN && (e->lake_first == INT64_MIN || f < e->lake_first)) e->lake_first = f;
    }
    return 0;
}

/* Resolves the parameters to [from, to). `last` (and the default) counts back from the latest
 * window end known — committed, or open in the stream's status — so a replayed or paused lake
 * still shows its newest data and a fresh stream its first minute; with no data at all it counts
 * back from now (rounded down to the minute). */
static void engine_range(const dash_engine *e, const dash_params *p, int64_t *from, int64_t *to) {
    if (p->has_from_to) {
        *from = p->from_us;
        *to = p->to_us;
        return;
    }
    int64_t span = p->has_last ? p->last_us : e->o.default_last_us;
    int64_t end = e->latest_end > e->prov.max_end ? e->latest_end : e->prov.max_end;
    if (end == INT64_MIN) {
        int64_t minute = 60 * TIME_US_PER_SEC;
        end = time_now_us() / minute * minute;
    }
    *to = end;
    *from = end - span;
}

/* Where the data begins: the earliest committed window_start, or, before the first commit, the
 * earliest open window of the stream; INT64_MIN when there is no data. Why: that window holds
 * only the part of the minute after the stream started (the lake's first event lies inside
 * it), so it is marked partial, and a range starting earlier is told where the data begins. */
static int64_t data_first(const dash_engine *e) {
    if (e->lake_first != INT64_MIN) return e->lake_first;
    int64_t first = INT64_MIN;
    for (int m = 0; m < METRIC_ID_COUNT; m++)
        for (size_t i = 0; i < e->prov.n[m]; i++)
            if (first == INT64_MIN || e->prov.rows[m][i].ws < first) first = e->prov.rows[m][i].ws;
    return first;
}

/* ---- rendering by the catalog's column types ---- */
/* A value that is not known (a column the file's writer did not have) is null, never 0. */
static void render_value(buf_t *b, const metric_def *m, const agg_row *r, int c) {
    const metric_col *mc = &m->cols[c];
    int64_t num, den;
    if (agg_unknown(m, r, c)) {
        buf_append_str(b, "null");
    } else if (mc->type == METRIC_STR) {
        dash_json_str(b, r->s[c] ? r->s[c] : "");
    } else if (agg_ratio(m, r, c, &num, &den)) {
        if (den == 0) buf_append_str(b, "null");
        else if (mc->type == METRIC_MONEY) dash_json_money(b, metric_ratio_cents(num, den));
        else dash_json_ratio(b, num, den);
    } else if (mc->type == METRIC_MONEY) {
        dash_json_money(b, r->v[c]);
    } else {
        buf_printf(b, "%lld", (long long)r->v[c]);
    }
}

/* "col":value for every catalog column of r, each preceded by a comma. */
static void render_cols(buf_t *b, const metric_def *m, const agg_row *r) {
    for (int c = 0; c < m->ncols; c++) {
        buf_printf(b, ",\"%s\":", m->cols[c].name);
        render_value(b, m, r, c);
    }
}

/* ,"not_recorded":["col",...]: the columns of r that are not known (nothing when all are). */
static void render_row_unknown(buf_t *b, const metric_def *m, const agg_row *r) {
    int n = 0;
    for (int c = 0; c < m->ncols; c++)
        if (agg_unknown(m, r, c)) buf_printf(b, "%s\"%s\"", n++ ? "," : ",\"not_recorded\":[", m->cols[c].name);
    if (n) buf_append_char(b, ']');
}

/* "col":N for each column of t that N of its rows (windows, or keys) do not know; *n counts the
 * members written (for the commas). */
static void render_unknown_counts(buf_t *b, const agg_table *t, int *n) {
    for (int c = 0; c < t->m->ncols; c++) {
        size_t k = 0;
        for (size_t i = 0; i < t->n; i++) k += agg_unknown(t->m, &t->rows[i], c);
        if (k) buf_printf(b, "%s\"%s\":%zu", (*n)++ ? "," : "", t->m->cols[c].name, k);
    }
}

/* ,"not_recorded":{"col":N,...} ({} when every number of t is known). */
static void render_table_unknown(buf_t *b, const agg_table *t) {
    int n = 0;
    buf_append_str(b, ",\"not_recorded\":{");
    render_unknown_counts(b, t, &n);
    buf_append_char(b, '}');
}

static void render_opt_time(buf_t *b, int64_t us) {
    if (us == INT64_MIN) buf_append_str(b, "null");
    else dash_json_time(b, us);
}

/* The members every metric answer carries about finality. */
static void render_finality(buf_t *b, const agg_table *t) {
    buf_printf(b, ",\"provisional_windows\":%zu,\"final_at\":", t->prov_windows);
    render_opt_time(b, t->final_at);
}

/* The range's committed rows of m plus the status's open windows, merged: per key, or with
 * per_window per window whatever m's keys (agg_lake_windows). */
static int engine_agg_as(dash_engine *e, const metric_def *m, bool per_window, int64_t from, int64_t to,
                         agg_table *t, char *err, size_t errlen) {
    if ((per_window ? agg_lake_windows : agg_lake)(&e->src, m, from, to, t, err, errlen)) return -1;
    const int64_t *parts = e->parted[m->id] ? e->part_end[m->id] : NULL;
    if (agg_add_prov(t, &e->prov, e->metric_end[m->id], parts, from, to)) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

static int engine_agg(dash_engine *e, const metric_def *m, int64_t from, int64_t to, agg_table *t, char *err,
                      size_t errlen) {
    return engine_agg_as(e, m, false, from, to, t, err, errlen);
}

/* The minutes of [from, to) that the sales rows s lack, told apart (gaps.c) by category_activity
 * per window and the funnel (f: its rows when the caller has them, NULL: read here). */
static int engine_gaps(dash_engine *e, const agg_table *s, const agg_table *f, int64_t from, int64_t to,
                       gap_list *g, char *err, size_t errlen) {
    agg_table c, own;
    memset(g, 0, sizeof *g);
    memset(&own, 0, sizeof own);
    int rc = engine_agg_as(e, metric_get(METRIC_ID_CATEGORY), true, from, to, &c, err, errlen);
    if (rc == 0 && !f) {
        rc = engine_agg(e, metric_get(METRIC_ID_FUNNEL), from, to, &own, err, errlen);
        f = &own;
    }
    if (rc == 0 && gaps_find(s, &c, f, g)) {
        snprintf(err, errlen, "out of memory");
        rc = -1;
    }
    agg_free(&c);
    agg_free(&own);
    return rc;
}

/* Metric f's latest committed window_end; scale-out, the earliest of its partitions' (one
 * behind has not written its part of the later windows). INT64_MIN: no file. */
static int64_t committed_end(const dash_engine *e, metric_id f) {
    int64_t end = INT64_MAX;
    for (int p = 0; e->parted[f] && p < DASH_MAX_PARTS; p++)
        if (e->part_end[f][p] != INT64_MIN && e->part_end[f][p] < end) end = e->part_end[f][p];
    return end == INT64_MAX ? e->metric_end[f] : end;
}

/* How far the funnel's gaps may be looked for: up to its own latest committed window_end, and,
 * when category_activity's files state the funnel horizon H, up to category_activity's latest
 * end minus H: the stream emits a window's funnel row H after its other rows (stream.h
 * stream_config_funnel_horizon_us), so older funnel windows are committed even if the funnel's
 * newest files (or all of them) are lost. */
static int64_t funnel_end(const dash_engine *e) {
    int64_t end = committed_end(e, METRIC_ID_FUNNEL);
    int64_t cat = committed_end(e, METRIC_ID_CATEGORY);
    if (e->cat_horizon != INT64_MIN && cat != INT64_MIN && cat - e->cat_horizon > end) end = cat - e->cat_horizon;
    return end;
}

/* The minutes of [from, to) the funnel rows f lack though category_activity counts views in
 * them (gaps.c gaps_funnel: a lost funnel file). */
static int engine_funnel_gaps(dash_engine *e, const agg_table *f, int64_t from, int64_t to, gap_list *g, char *err,
                              size_t errlen) {
    agg_table c;
    memset(g, 0, sizeof *g);
    int rc = engine_agg_as(e, metric_get(METRIC_ID_CATEGORY), true, from, to, &c, err, errlen);
    if (rc == 0 && gaps_funnel(f, &c, funnel_end(e), g)) {
        snprintf(err, errlen, "out of memory");
        rc = -1;
    }
    agg_free(&c);
    return rc;
}

/* A sales total over a range with missing minutes (gaps.c) is no total: every summed column
 * is then unknown (null), as a column some window does not know. */
static dash_unknown gaps_unknown(const metric_def *m, const gap_list *g) {
    dash_unknown u = 0;
    for (int c = 0; g && g->missing && c < m->ncols; c++)
        if (m->cols[c].merge == MERGE_SUM) u |= (dash_unknown)(1u << c);
    return u;
}

/* Tables that count the same events per window over other keys (each summed per window), so a
 * window where a table differs from its witness lost a file of one of them (gaps_disagree). */
typedef struct {
    metric_id m, witness;
    const char *cols[4];         /* compared with the witness' columns of the same names */
} witness_rel;

static const witness_rel WITNESSES[] = {
    {METRIC_ID_CITY, METRIC_ID_SALES, {"orders"}},
    {METRIC_ID_CHANNEL, METRIC_ID_SALES, {"orders"}},
    {METRIC_ID_CATEGORY, METRIC_ID_PRODUCT, {"views", "adds", "units_sold", "revenue"}},
    {METRIC_ID_PRODUCT, METRIC_ID_CATEGORY, {"views", "adds", "units_sold", "revenue"}},
};

/* ,"disagree_with":"<witness>","disagree_windows":N for a keyed metric with a witness: the
 * windows of [from, to) where the two differ; nothing for other metrics. */
static int render_disagree(dash_engine *e, const metric_def *m, int64_t from, int64_t to, buf_t *b, char *err,
                           size_t errlen) {
    const witness_rel *w = NULL;
    for (size_t i = 0; i < sizeof WITNESSES / sizeof *WITNESSES; i++)
        if (WITNESSES[i].m == m->id) w = &WITNESSES[i];
    if (!w) return 0;
    const metric_def *wm = metric_get(w->witness);
    int ca[4], cb[4], n = 0;
    for (; n < 4 && w->cols[n]; n++) {
        ca[n] = metric_col_index(m, w->cols[n]);
        cb[n] = metric_col_index(wm, w->cols[n]);
    }
    agg_table a, s;
    memset(&s, 0, sizeof s);
    int rc = engine_agg_as(e, m, true, from, to, &a, err, errlen);
    if (rc == 0) rc = engine_agg_as(e, wm, true, from, to, &s, err, errlen);
    if (rc == 0)
        buf_printf(b, ",\"disagree_with\":\"%s\",\"disagree_windows\":%zu", wm->name,
                   gaps_disagree(&a, ca, &s, cb, n));
    agg_free(&a);
    agg_free(&s);
    return rc;
}

/* ,"no_order_windows":N,"missing_windows":M: the counts the KPI tiles and notes go by. */
static void render_gap_counts(buf_t *b, const gap_list *g) {
    buf_printf(b, ",\"no_order_windows\":%zu,\"missing_windows\":%zu", g->no_orders, g->missing);
}

/* Where the data begins inside a window: the lake's first (data_first) and each fresh input's
 * start (an `ecom run` on its new embedded broker, at every start: its .start mark); and where
 * it ends inside one: each fresh input's stop (its .stop mark, pipeline.h fresh_input). */
typedef struct {
    int64_t first;
    const int64_t *starts, *stops; /* ascending */
    size_t nstarts, nstops;
} data_begins;

static data_begins engine_data_begins(const dash_engine *e) {
    data_begins d = {data_first(e), NULL, NULL, 0, 0};
    if (e->src.input_starts) d.nstarts = e->src.input_starts(e->src.ctx, &d.starts);
    if (e->src.input_stops) d.nstops = e->src.input_stops(e->src.ctx, &d.stops);
    return d;
}

/* Why [ws, we) holds only part of its minute: the data begins inside it (PARTIAL_START) and/or
 * a run stopped strictly inside it (PARTIAL_STOP: a stop at ws left the window to the next run);
 * 0 when it is whole. */
enum { PARTIAL_START = 1, PARTIAL_STOP = 2 };

static int window_partial(const data_begins *d, int64_t ws, int64_t we) {
    int why = ws == d->first ? PARTIAL_START : 0;
    for (size_t i = 0; !why && i < d->nstarts && d->starts[i] < we; i++)
        if (d->starts[i] >= ws) why = PARTIAL_START;
    for (size_t i = 0; i < d->nstops && d->stops[i] < we; i++)
        if (d->stops[i] > ws) why |= PARTIAL_STOP;
    return why;
}

/* ,"partial":true|false and, when true, why: "start" (the data begins inside the window),
 * "stop" (an `ecom run` stopped inside it), "start_stop" (both). */
static void render_partial(buf_t *b, const data_begins *d, int64_t ws, int64_t we) {
    static const char *const why[] = {"", "start", "stop", "start_stop"};
    int w = window_partial(d, ws, we);
    if (w) buf_printf(b, ",\"partial\":true,\"partial_why\":\"%s\"", why[w]);
    else buf_append_str(b, ",\"partial\":false");
}

/* The minutes of g: for sales_per_minute (sales) "no_orders" (quiet: a known 0, final or open,
 * partial when the data begins in it) and its count; for both by-window tables "missing" (no
 * number, with why and, for units_sold and views, how many the witness counts) and its count. */
static void render_gaps(buf_t *b, const gap_list *g, const data_begins *d, bool sales) {
    if (sales) render_gap_counts(b, g);
    else buf_printf(b, ",\"missing_windows\":%zu", g->missing);
    for (int pass = !sales; pass < 2; pass++) {
        buf_append_str(b, pass ? ",\"missing\":[" : ",\"no_orders\":[");
        int n = 0;
        for (size_t i = 0; i < g->n; i++) {
            const gap_minute *m = &g->g[i];
            if ((m->kind == GAP_NO_ORDERS) == (pass == 1)) continue;
            buf_append_str(b, n++ ? ",{\"window_start\":" : "{\"window_start\":");
            dash_json_time(b, m->ws);
            buf_append_str(b, ",\"window_end\":");
            dash_json_time(b, m->we);
            if (pass) {
                buf_printf(b, ",\"why\":\"%s\"", gaps_why(m->kind));
                if (m->kind == GAP_UNITS_SOLD || m->kind == GAP_VIEWS)
                    buf_printf(b, ",\"%s\":%lld", m->kind == GAP_VIEWS ? "views" : "units_sold", (long long)m->units);
                buf_append_char(b, '}');
                continue;
            }
            buf_printf(b, ",\"final\":%s,\"final_at\":", m->prov ? "false" : "true");
            render_opt_time(b, m->final_at);
            render_partial(b, d, m->ws, m->we);
            buf_append_char(b, '}');
        }
        buf_append_char(b, ']');
    }
}

/* Sums of every row of t into one row (the totals of a by-window metric): a column some window
 * does not know is not known in the total either (a sum of part of the range is no total). */
static agg_row agg_totals(const agg_table *t) {
    agg_row s;
    memset(&s, 0, sizeof s);
    for (size_t i = 0; i < t->n; i++) {
        s.unk |= t->rows[i].unk;
        for (int c = 0; c < t->m->ncols; c++)
            if (t->m->cols[c].merge == MERGE_SUM) s.v[c] += t->rows[i].v[c];
    }
    return s;
}


/* A metric without keys: its totals at the top level, and one row per window marked final or
 * provisional, and partial when the data begins inside it (window_partial); for
 * sales_per_minute the minutes it has no row for, for the funnel the ones it lost (g). */
static void render_windows(buf_t *b, const agg_table *t, const data_begins *d, const gap_list *g) {
    agg_row tot = agg_totals(t);
    tot.unk |= gaps_unknown(t->m, g);
    buf_printf(b, ",\"windows\":%zu", t->n);
    render_finality(b, t);
    render_table_unknown(b, t);
    render_cols(b, t->m, &tot);
    buf_append_str(b, ",\"rows\":[");
    for (size_t i = 0; i < t->n; i++) {
        const agg_row *r = &t->rows[i];
        buf_append_str(b, i ? ",{\"window_start\":" : "{\"window_start\":");
        dash_json_time(b, r->ws);
        buf_append_str(b, ",\"window_end\":");
        dash_json_time(b, r->we);
        render_cols(b, t->m, r);
        render_row_unknown(b, t->m, r);
        buf_printf(b, ",\"final\":%s,\"final_at\":", r->prov ? "false" : "true");
        render_opt_time(b, r->prov ? r->final_at : INT64_MIN);
        render_partial(b, d, r->ws, r->we);
        buf_append_char(b, '}');
    }
    buf_append_char(b, ']');
    render_gaps(b, g, d, t->m->id == METRIC_ID_SALES);
}

/* A metric with keys (or a rank of one): the rows merged per key over the range, by `by` desc
 * then keys asc, the first limit of them. */
static void render_keyed(buf_t *b, agg_table *t, int by, int64_t limit, bool ranked) {
    agg_sort(t, by);
    render_finality(b, t);
    render_table_unknown(b, t);
    buf_printf(b, ",\"total_rows\":%zu,\"rows\":[", t->n);
    size_t n = t->n < (size_t)limit ? t->n : (size_t)limit;
    for (size_t i = 0; i < n; i++) {
        const agg_row *r = &t->rows[i];
        buf_append_char(b, i ? ',' : '{');
        if (i) buf_append_char(b, '{');
        if (ranked) buf_printf(b, "\"rank\":%zu,", i + 1);
        buf_printf(b, "\"provisional\":%s", r->prov ? "true" : "false");
        render_cols(b, t->m, r);
        render_row_unknown(b, t->m, r);
        buf_append_char(b, '}');
    }
    buf_append_char(b, ']');
}

/* The column a keyed metric's plain endpoint is ordered by: its first value column. */
static int first_value_col(const metric_def *m) {
    int c = dash_metric_nstr(m);
    return c < m->ncols ? c : 0;
}

static int render_metric(dash_engine *e, const endpoint *ep, int64_t from, int64_t to, int64_t limit, buf_t *b,
                         char *err, size_t errlen) {
    agg_table t;
    if (engine_agg(e, ep->m, from, to, &t, err, errlen)) {
        agg_free(&t);
        return -1;
    }
    data_begins d = engine_data_begins(e);
    gap_list g = {0};
    bool sales = ep->m->id == METRIC_ID_SALES, funnel = ep->m->id == METRIC_ID_FUNNEL;
    if ((sales && engine_gaps(e, &t, NULL, from, to, &g, err, errlen)) ||
        (funnel && engine_funnel_gaps(e, &t, from, to, &g, err, errlen))) {
        agg_free(&t);
        return -1;
    }
    if (!t.by_window && render_disagree(e, ep->m, from, to, b, err, errlen)) {
        agg_free(&t);
        return -1;
    }
    if (t.by_window) render_windows(b, &t, &d, &g);
    else if (ep->kind == EP_RANK) render_keyed(b, &t, ep->rank->by, limit ? limit : ep->rank->n, true);
    else render_keyed(b, &t, first_value_col(ep->m), limit ? limit : 100, false);
    gaps_free(&g);
    agg_free(&t);
    return 0;
}

/* KPIs: sales totals and the funnel's conversion, open windows included. */
static int render_summary(dash_engine *e, int64_t from, int64_t to, buf_t *b, char *err, size_t errlen) {
    const metric_def *sm = metric_get(METRIC_ID_SALES), *fm = metric_get(METRIC_ID_FUNNEL);
    agg_table s, f;
    gap_list g = {0}, fg = {0};
    int rc = engine_agg(e, sm, from, to, &s, err, errlen);
    if (rc == 0) rc = engine_agg(e, fm, from, to, &f, err, errlen);
    else memset(&f, 0, sizeof f);
    if (rc == 0) rc = engine_gaps(e, &s, &f, from, to, &g, err, errlen);
    if (rc == 0) rc = engine_funnel_gaps(e, &f, from, to, &fg, err, errlen);
    if (rc == 0) {
        agg_row st = agg_totals(&s), ft = agg_totals(&f);
        st.unk |= gaps_unknown(sm, &g);
        ft.unk |= gaps_unknown(fm, &fg);
        int viewed = metric_col_index(fm, "viewed"), purchased = metric_col_index(fm, "purchased");
        render_cols(b, sm, &st);
        static const char *const fcols[] = {"viewed", "carted", "purchased"};
        for (int i = 0; i < 3; i++) {
            buf_printf(b, ",\"%s\":", fcols[i]);
            render_value(b, fm, &ft, metric_col_index(fm, fcols[i]));
        }
        buf_append_str(b, ",\"conversion\":");
        if (agg_unknown(fm, &ft, viewed) || agg_unknown(fm, &ft, purchased)) buf_append_str(b, "null");
        else dash_json_ratio(b, ft.v[purchased], ft.v[viewed]);
        render_finality(b, &s);
        buf_printf(b, ",\"funnel_provisional_windows\":%zu,\"funnel_final_at\":", f.prov_windows);
        render_opt_time(b, f.final_at);
        /* which KPIs are not known, in how many of their windows (sales: "windows", funnel:
         * "funnel_windows"): the KPI tiles say why they show no number */
        render_gap_counts(b, &g);
        buf_printf(b, ",\"funnel_missing_windows\":%zu", fg.missing);
        buf_printf(b, ",\"windows\":%zu,\"funnel_windows\":%zu,\"not_recorded\":{", s.n, f.n);
        int n = 0;
        render_unknown_counts(b, &s, &n);
        size_t k[4] = {0};
        for (size_t i = 0; i < f.n; i++) {
            for (int j = 0; j < 3; j++) k[j] += agg_unknown(fm, &f.rows[i], metric_col_index(fm, fcols[j]));
            k[3] += agg_unknown(fm, &f.rows[i], viewed) || agg_unknown(fm, &f.rows[i], purchased);
        }
        for (int j = 0; j < 4; j++)
            if (k[j]) buf_printf(b, "%s\"%s\":%zu", n++ ? "," : "", j < 3 ? fcols[j] : "conversion", k[j]);
        buf_append_char(b, '}');
    }
    gaps_free(&g);
    gaps_free(&fg);
    agg_free(&s);
    agg_free(&f);
    return rc;
}

/* Health. "now" is the dashboard's clock: the page measures every age against it (the
 * stream's newest event, its last progress), not against the viewer's own clock, which may be
 * anything. */
static int render_health(dash_engine *e, buf_t *b, char *err, size_t errlen) {
    int64_t now = time_now_us();
    buf_append_str(b, ",\"now\":");
    dash_json_time(b, now);
    buf_append_str(b, ",\"latest_window_end\":");
    if (e->latest_end == INT64_MIN) {
        buf_append_str(b, "null,\"data_age_s\":null");
    } else {
        dash_json_time(b, e->latest_end);
        buf_printf(b, ",\"data_age_s\":%.1f", (double)(now - e->latest_end) / 1e6);
    }
    buf_append_str(b, ",\"tables\":");
    if (e->src.describe) {
        if (e->src.describe(e->src.ctx, b, err, errlen)) return -1;
    } else {
        buf_append_str(b, "null");
    }
    return 0;
}

/* The catalog as JSON: what the page builds its cards, labels and columns from. */
static void render_catalog(buf_t *b) {
    static const char *const types[] = {"str", "int", "money", "rate"};
    static const char *const merges[] = {"key", "attr", "sum", "ratio"};
    buf_append_str(b, ",\"metrics\":[");
    for (int i = 0; i < METRIC_ID_COUNT; i++) {
        const metric_def *m = metric_get((metric_id)i);
        buf_printf(b, "%s{\"name\":\"%s\",\"doc\":", i ? "," : "", m->name);
        dash_json_str(b, m->doc);
        buf_printf(b, ",\"final\":\"%s\",\"columns\":[", m->final == METRIC_FINAL_FUNNEL ? "funnel" : "window");
        for (int c = 0; c < m->ncols; c++) {
            const metric_col *mc = &m->cols[c];
            buf_printf(b, "%s{\"name\":\"%s\",\"type\":\"%s\",\"merge\":\"%s\",\"doc\":", c ? "," : "", mc->name,
                       types[mc->type], merges[mc->merge]);
            dash_json_str(b, mc->doc);
            buf_append_char(b, '}');
        }
        buf_append_str(b, "],\"ranks\":[");
        for (int r = 0; r < m->nranks; r++) {
            buf_printf(b, "%s{\"name\":\"%s\",\"by\":\"%s\",\"n\":%d,\"doc\":", r ? "," : "", m->ranks[r].name,
                       m->cols[m->ranks[r].by].name, m->ranks[r].n);
            dash_json_str(b, m->ranks[r].doc);
            buf_append_char(b, '}');
        }
        buf_append_str(b, "]}");
    }
    buf_append_char(b, ']');
}

/* Where the shop's cities are (the generator's geography, src/gen/geo.c): what the page's map
 * places its circles by, matched on (province, city). A city of the data that is not here is
 * drawn in no circle (the map says how many); its province is still shaded. */
static void render_places(buf_t *b) {
    buf_append_str(b, ",\"cities\":[");
    for (size_t i = 0; i < gen_city_count(); i++) {
        const gen_city *c = gen_city_get(i);
        buf_append_str(b, i ? ",{\"city\":" : "{\"city\":");
        dash_json_str(b, c->name);
        buf_append_str(b, ",\"province\":");
        dash_json_str(b, c->province);
        buf_printf(b, ",\"lat\":%.4f,\"lon\":%.4f}", c->lat, c->lon);
    }
    buf_append_char(b, ']');
}

/* ---- the stream's /status ---- */

/* Refreshes the stream status at most once a second (a stream that is down costs each caller
 * at most one bounded fetch per second, not one per request) and parses its open windows.
 * Holding smu. */
static void status_refresh(dash_engine *e) {
    int64_t now = time_mono_us();
    /* the feed keeps the status once it has fetched it (before that, as without a feed) */
    if (e->feed_on && !e->feed_passive && e->status_mono) return;
    if (!e->stream_url || (e->status_mono && now - e->status_mono < TIME_US_PER_SEC)) return;
    e->status_mono = now;
    buf_reset(&e->status);
    e->status_err[0] = 0;
    if (dash_status_fetch(e->stream_url, &e->status, e->status_err, sizeof e->status_err)) {
        buf_reset(&e->status);
        dash_prov_free(&e->prov);
        return;
    }
    dash_prov_parse(e->status.data, e->status.len, &e->prov, e->status_err, sizeof e->status_err);
}

/* ---- the feed: the stream's status by long poll, and the change counter the SSE serves ---- */

#define FEED_WAIT_MS 5000L /* the stream answers a long poll within 5 s (pipeline/status.c) */
#define FEED_EAGER_US (10 * TIME_US_PER_SEC)
/* Why a pace: a live stream publishes up to 20 times a second, and following every publish
 * (fetch, parse, install) was most of `ecom run`'s CPU with no page open (docs/benchmarks.md,
 * "Latency"). With no client on the push, the feed asks at most this often; a page that opens
 * wakes it at once. */
#define FEED_UNWATCHED_MS 250L

/* Installs a fetched status (or its error) as the engine's, under smu; a new epoch (a commit)
 * makes the next answer re-list the lake at once instead of within poll_interval. Returns
 * whether anything the page shows may have changed. */
static bool feed_install(dash_engine *e, int rc, buf_t *b, const char *ferr) {
    pthread_mutex_lock(&e->smu);
    int64_t old_epoch = e->prov.epoch;
    uint64_t old = e->prov.hash ^ hash64(e->status_err, strlen(e->status_err));
    buf_t t = e->status;
    e->status = *b;
    *b = t;
    e->status_mono = time_mono_us();
    snprintf(e->status_err, sizeof e->status_err, "%s", rc ? ferr : "");
    if (rc) {
        buf_reset(&e->status);
        dash_prov_free(&e->prov);
    } else {
        dash_prov_parse(e->status.data, e->status.len, &e->prov, e->status_err, sizeof e->status_err);
    }
    bool commit = e->prov.epoch != old_epoch;
    bool changed = commit || (e->prov.hash ^ hash64(e->status_err, strlen(e->status_err))) != old;
    buf_t *l = &e->live;
    buf_reset(l);
    buf_printf(l, "{\"seq\":%llu,\"epoch\":%lld,\"newest_event_at\":", (unsigned long long)(e->live_seq + changed),
               (long long)e->prov.epoch);
    if (e->prov.newest_event == INT64_MIN) buf_append_str(l, "null");
    else dash_json_time(l, e->prov.newest_event);
    buf_append_str(l, ",\"stream_error\":");
    if (e->status_err[0]) dash_json_str(l, e->status_err);
    else buf_append_str(l, "null");
    buf_append_char(l, '}');
    pthread_mutex_unlock(&e->smu);
    if (commit) {
        pthread_mutex_lock(&e->mu);
        e->polled = false;
        pthread_mutex_unlock(&e->mu);
    }
    return changed;
}

/* Waits up to ms for a stop; true when stopping. With unwatched, a browser that starts
 * following the push (dash_engine_set_watchers) also ends the wait. Holding fmu. */
static bool feed_wait(dash_engine *e, long ms, bool unwatched) {
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    while (!e->feed_stop && !(unwatched && e->watchers != 0))
        if (pthread_cond_timedwait(&e->fcv, &e->fmu, &until)) break;
    return e->feed_stop;
}

void dash_engine_set_watchers(dash_engine *e, unsigned n) {
    pthread_mutex_lock(&e->fmu);
    e->watchers = n;
    pthread_cond_broadcast(&e->fcv);
    pthread_mutex_unlock(&e->fmu);
}

/* The feed thread: long polls /status?after=<last version>; a stream that is down is asked again
 * after 1 s. A stream that answers without a version cannot long-poll (an older ecom, a test's
 * fake): the feed then goes passive for good, answers fetch the status as without a feed (at
 * most once a second), and the feed only sends the SSE heartbeat once a second. */
static void *feed_main(void *arg) {
    dash_engine *e = arg;
    uint64_t ver = 0;
    buf_t b = {0};
    /* a stream started with the dashboard (`ecom run`) answers 503 or nothing for its first
     * moments: until a first answer, for up to FEED_EAGER_US, retry every 100 ms, not 1 s */
    int64_t t0 = time_mono_us();
    bool answered = false;
    for (;;) {
        char ferr[256] = "";
        uint64_t nv = 0;
        buf_reset(&b);
        int rc = dash_status_fetch_after(e->stream_url, ver, FEED_WAIT_MS, &e->feed_cancel, &nv, &b, ferr, sizeof ferr);
        bool changed = feed_install(e, rc, &b, ferr);
        if (rc == 0 && nv == 0) {
            pthread_mutex_lock(&e->smu);
            e->feed_passive = true;
            pthread_mutex_unlock(&e->smu);
        }
        pthread_mutex_lock(&e->fmu);
        if (changed) e->live_seq++;
        dash_notify_fn fn = e->feed_stop ? NULL : e->notify;
        void *ctx = e->notify_ctx;
        pthread_mutex_unlock(&e->fmu);
        if (fn) fn(ctx); /* outside fmu: the server's callback takes its own lock */
        ver = rc ? 0 : nv;
        answered = answered || rc == 0;
        long retry_ms = !answered && time_mono_us() - t0 < FEED_EAGER_US ? 100 : 1000;
        pthread_mutex_lock(&e->fmu);
        bool stop = ver == 0 ? feed_wait(e, retry_ms, false)
                             : e->watchers ? e->feed_stop : feed_wait(e, FEED_UNWATCHED_MS, true);
        while (!stop && rc == 0 && nv == 0) { /* passive: heartbeats only */
            fn = e->notify;
            ctx = e->notify_ctx;
            pthread_mutex_unlock(&e->fmu);
            if (fn) fn(ctx);
            pthread_mutex_lock(&e->fmu);
            stop = feed_wait(e, 1000, false);
        }
        pthread_mutex_unlock(&e->fmu);
        if (stop) break;
    }
    buf_free(&b);
    return NULL;
}

int dash_engine_feed_start(dash_engine *e, dash_notify_fn notify, void *ctx, char *err, size_t errlen) {
    if (!e->stream_url || e->feed_on) return 0;
    e->notify = notify;
    e->notify_ctx = ctx;
    e->feed_stop = false;
    atomic_store(&e->feed_cancel, false);
    if (pthread_create(&e->feed, NULL, feed_main, e)) {
        snprintf(err, errlen, "cannot start the stream status thread");
        return -1;
    }
    e->feed_on = true;
    return 0;
}

void dash_engine_feed_stop(dash_engine *e) {
    if (!e->feed_on) return;
    pthread_mutex_lock(&e->fmu);
    e->feed_stop = true;
    atomic_store(&e->feed_cancel, true);
    pthread_cond_broadcast(&e->fcv);
    pthread_mutex_unlock(&e->fmu);
    pthread_join(e->feed, NULL); /* a long poll in flight is abandoned within about a second */
    e->feed_on = false;
}

uint64_t dash_engine_live(dash_engine *e, buf_t *out) {
    pthread_mutex_lock(&e->fmu);
    uint64_t seq = e->live_seq;
    pthread_mutex_unlock(&e->fmu);
    pthread_mutex_lock(&e->smu);
    if (e->live.len) buf_append(out, e->live.data, e->live.len);
    pthread_mutex_unlock(&e->smu);
    return seq;
}

static void status_append(dash_engine *e, bool health, buf_t *out) {
    if (health) {
        buf_append_str(out, ",\"stream\":");
        if (e->status.len) buf_append(out, e->status.data, e->status.len);
        else buf_append_str(out, "null");
    }
    buf_append_str(out, ",\"stream_error\":");
    if (e->status_err[0]) dash_json_str(out, e->status_err);
    else buf_append_str(out, "null");
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

static int render_body(dash_engine *e, const endpoint *ep, int64_t from, int64_t to, int64_t limit, buf_t *b,
                       char *err, size_t errlen) {
    if (ep->kind == EP_METRIC || ep->kind == EP_RANK || ep->kind == EP_SUMMARY) {
        buf_append_str(b, ",\"data_from\":");   /* where the data begins (data_first) */
        render_opt_time(b, data_first(e));
    }
    switch (ep->kind) {
    case EP_METRIC:
    case EP_RANK: return render_metric(e, ep, from, to, limit, b, err, errlen);
    case EP_SUMMARY: return render_summary(e, from, to, b, err, errlen);
    case EP_CATALOG: render_catalog(b); return 0;
    case EP_PLACES: render_places(b); return 0;
    default: return render_health(e, b, err, errlen);
    }
}

/* Computes one complete answer (or finds it in the cache) into *out. Holding smu and mu. The
 * cache key holds a hash of the open windows and of the stream error: an answer lives until a
 * commit or a change of what the stream says. */
static int engine_compute(dash_engine *e, const char *path, const endpoint *ep, const dash_params *p,
                          dash_blob **out) {
    int64_t from, to;
    engine_range(e, p, &from, &to);
    char key[160];
    uint64_t live = e->prov.hash ^ hash64(e->status_err, strlen(e->status_err));   /* stream_error is shown */
    snprintf(key, sizeof key, "%.80s|%lld|%lld|%lld|%016llx", path, (long long)from, (long long)to,
             (long long)p->limit, (unsigned long long)live);
    bool cacheable = ep->kind != EP_HEALTH;
    cache_entry *c = cacheable ? cache_get(e, key) : NULL;
    if (c) {
        *out = blob_ref(c->body);
        return c->status;
    }
    buf_t b = {0};
    buf_append_str(&b, "{\"from\":");
    dash_json_time(&b, from);
    buf_append_str(&b, ",\"to\":");
    dash_json_time(&b, to);
    buf_printf(&b, ",\"generation\":\"%016llx\"", (unsigned long long)e->generation);
    char err[256] = "";
    int status = 200;
    if (render_body(e, ep, from, to, p->limit, &b, err, sizeof err)) {
        char msg[320];
        snprintf(msg, sizeof msg, "cannot read the lake: %s", err[0] ? err : "unknown error");
        error_body(&b, msg);
        status = 503;
    } else {
        if (e->stream_url) status_append(e, ep->kind == EP_HEALTH, &b);
        buf_append_char(&b, '}');
    }
    *out = b.data ? blob_new(b.data, b.len) : NULL;
    buf_free(&b);
    if (!*out) return 500;   /* out of memory: the server drops the connection */
    if (status == 200 && cacheable) cache_put(e, key, 200, *out);
    return status;
}

int dash_engine_answer(dash_engine *e, const char *path, const dash_params *p, dash_blob **out) {
    *out = NULL;
    endpoint ep;
    buf_t b = {0};
    int status;
    if (!ep_find(path, &ep)) {
        error_body(&b, "no such API");
        status = 404;
    } else {
        pthread_mutex_lock(&e->smu);   /* order: smu, then mu */
        status_refresh(e);
        pthread_mutex_lock(&e->mu);
        if (engine_refresh(e)) {
            char msg[320];
            snprintf(msg, sizeof msg, "cannot read the lake: %s", e->poll_err);
            error_body(&b, msg);
            status = 503;
        } else {
            status = engine_compute(e, path, &ep, p, out);
        }
        pthread_mutex_unlock(&e->mu);
        pthread_mutex_unlock(&e->smu);
        if (*out) return status;
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
