/*
 * pipeline/tables.c — the metric tables, derived from the metric catalog (src/metrics/): their
 * Parquet schemas, the one row writer behind the engine sink, and the ranked tables
 * (top_products, top_products_by_revenue) derived per window from their metric's rows by the
 * catalog's rank rule. No table or column is named here: adding a metric to the catalog adds
 * its table.
 *
 * Types: METRIC_STR -> STRING, METRIC_INT -> INT64, METRIC_MONEY -> DECIMAL(18,2) on INT64
 * (the engine's cents, exact), METRIC_RATE -> DOUBLE; window_start/window_end TIMESTAMP (us,
 * UTC); `correction` BOOLEAN (a row adding late events to a window already written); in the
 * scale-out layout `partition` INT32 last.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/pipeline_internal.h"

/* ---- table indexes ---- */

/* The rank behind table index t >= METRIC_ID_COUNT, and its metric; NULL when t is unused. */
static const metric_def *rank_of(int t, const metric_rank **rank) {
    int r = t - METRIC_ID_COUNT;
    for (int m = 0; m < METRIC_ID_COUNT && r >= 0; m++) {
        const metric_def *d = metric_get((metric_id)m);
        if (r < d->nranks) {
            *rank = &d->ranks[r];
            return d;
        }
        r -= d->nranks;
    }
    return NULL;
}

int metric_table_count(void) {
    int n = METRIC_ID_COUNT;
    for (int m = 0; m < METRIC_ID_COUNT; m++) n += metric_get((metric_id)m)->nranks;
    return n;
}

const char *metric_table_name(int t) {
    if (t < METRIC_ID_COUNT) return metric_get((metric_id)t)->name;
    const metric_rank *rk = NULL;
    return rank_of(t, &rk) ? rk->name : "?";
}

/* ---- schemas ---- */

static int add_col(pq_schema *s, const char *name, metric_type type, char *err, size_t errlen) {
    switch (type) {
    case METRIC_STR: return pq_schema_add(s, -1, name, PQ_STRING, false, err, errlen) < 0 ? -1 : 0;
    case METRIC_INT: return pq_schema_add(s, -1, name, PQ_INT64, false, err, errlen) < 0 ? -1 : 0;
    case METRIC_MONEY: return pq_schema_add_decimal(s, -1, name, 18, 2, false, err, errlen) < 0 ? -1 : 0;
    case METRIC_RATE: return pq_schema_add(s, -1, name, PQ_DOUBLE, false, err, errlen) < 0 ? -1 : 0;
    }
    return -1;
}

pq_schema *metric_table_schema(int t, bool scale_out, char *err, size_t errlen) {
    const metric_rank *rk = NULL;
    const metric_def *d = t < METRIC_ID_COUNT ? metric_get((metric_id)t) : rank_of(t, &rk);
    pq_schema *s = d ? pq_schema_new() : NULL;
    if (!s) {
        snprintf(err, errlen, d ? "out of memory" : "no metric table %d", t);
        return NULL;
    }
    int rc = pq_schema_add(s, -1, "window_start", PQ_TIMESTAMP, false, err, errlen) < 0 ||
             pq_schema_add(s, -1, "window_end", PQ_TIMESTAMP, false, err, errlen) < 0;
    if (!rc && rk) rc = pq_schema_add(s, -1, "rank", PQ_INT32, false, err, errlen) < 0;
    for (int c = 0; !rc && c < d->ncols; c++) rc = add_col(s, d->cols[c].name, d->cols[c].type, err, errlen);
    if (!rc && !rk) rc = pq_schema_add(s, -1, "correction", PQ_BOOL, false, err, errlen) < 0;
    if (!rc && !rk && scale_out) rc = pq_schema_add(s, -1, "partition", PQ_INT32, false, err, errlen) < 0;
    if (rc) {
        pq_schema_free(s);
        return NULL;
    }
    return s;
}

/* ---- the row writer: one value per leaf column, in schema order ---- */

typedef struct {
    pq_writer *w;
    int leaf;
    char *err;
    size_t errlen;
    int rc;
} row_put;

static void put_i64(row_put *r, int64_t v) {
    if (r->rc == 0) r->rc = pq_write_i64(r->w, r->leaf, v, r->err, r->errlen);
    r->leaf++;
}

static void put_i32(row_put *r, int32_t v) {
    if (r->rc == 0) r->rc = pq_write_i32(r->w, r->leaf, v, r->err, r->errlen);
    r->leaf++;
}

static void put_bool(row_put *r, bool v) {
    uint8_t b = v;
    if (r->rc == 0) r->rc = pq_write_values(r->w, r->leaf, 1, &b, NULL, r->err, r->errlen);
    r->leaf++;
}

static void put_val(row_put *r, metric_type type, const metric_val *v) {
    if (type == METRIC_STR) {
        if (r->rc == 0) r->rc = pq_write_str(r->w, r->leaf, v->s ? v->s : "", v->n, r->err, r->errlen);
        r->leaf++;
    } else if (type == METRIC_RATE) {
        if (r->rc == 0) r->rc = pq_write_f64(r->w, r->leaf, v->d, r->err, r->errlen);
        r->leaf++;
    } else {
        put_i64(r, v->i); /* counts, and money as DECIMAL(18,2) cents */
    }
}

/* Appends one row to table t: rank > 0 for a ranked table, else the metric row with its
 * correction flag (and partition in the scale-out layout). Partitioned by the window's start
 * date. */
static int write_row(pipeline_job *j, int t, const metric_def *d, const stream_window *w, int32_t rank,
                     const metric_val *v) {
    int64_t day = lake_day_of(&j->tz, w->window_start_us);
    lake_table *lt = job_metric_table(j, t, w->partition);
    pq_writer *pw = lt ? lake_table_writer(lt, day, j->err, sizeof j->err) : NULL;
    if (!pw) return -1;
    row_put r = {pw, 0, j->err, sizeof j->err, 0};
    put_i64(&r, w->window_start_us);
    put_i64(&r, w->window_end_us);
    if (rank > 0) put_i32(&r, rank);
    for (int c = 0; c < d->ncols; c++) put_val(&r, d->cols[c].type, &v[c]);
    if (rank == 0) {
        put_bool(&r, w->correction);
        if (j->cfg->scale_out) put_i32(&r, w->partition);
    }
    if (r.rc) return -1;
    j->metric_rows[t]++;
    return lake_table_rows_done(lt, day, 1, j->now_us, j->err, sizeof j->err);
}

/* ---- ranked tables ----
 * The final rows of one window of a ranked metric are buffered (strings copied, their offsets
 * kept in metric_val.i while buffered) until the engine says the window is done; then each
 * rank writes its n best rows: largest `by` first, ties by the key columns ascending (byte
 * order), rows whose `by` is 0 left out. Correction rows are not re-ranked: a ranked table is
 * the per-window view of the final rows (exact answers over corrections and ranges are ranked
 * from the metric table itself, as the dashboard does). */
struct metric_sink_state {
    metric_id m;
    size_t n, cap;     /* rows buffered */
    metric_val *vals;  /* n * METRIC_MAX_COLS */
    buf_t strs;
};

/* What cmp_ranked compares by (qsort_r's argument). */
typedef struct {
    const metric_def *d;
    int by;
} rank_order;

static int buffer_row(struct metric_sink_state *b, metric_id m, const metric_val *v) {
    const metric_def *d = metric_get(m);
    if (b->n && b->m != m) return -1; /* the engine emits one metric's rows together */
    if (b->n == b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 256;
        metric_val *p = realloc(b->vals, nc * METRIC_MAX_COLS * sizeof *p);
        if (!p) return -1;
        b->vals = p;
        b->cap = nc;
    }
    metric_val *dst = &b->vals[b->n * METRIC_MAX_COLS];
    for (int c = 0; c < d->ncols; c++) {
        dst[c] = v[c];
        if (d->cols[c].type != METRIC_STR) continue;
        dst[c].i = (int64_t)b->strs.len;
        if (buf_append(&b->strs, v[c].s ? v[c].s : "", v[c].n)) return -1;
    }
    b->m = m;
    b->n++;
    return 0;
}

static int sv_cmp(const metric_val *a, const metric_val *b) {
    size_t n = a->n < b->n ? a->n : b->n;
    int c = n ? memcmp(a->s, b->s, n) : 0;
    return c ? c : (a->n < b->n ? -1 : a->n > b->n);
}

static int cmp_ranked(const void *x, const void *y, void *arg) {
    const metric_val *a = x, *b = y;
    const rank_order *o = arg;
    if (a[o->by].i != b[o->by].i) return a[o->by].i > b[o->by].i ? -1 : 1;
    for (int c = 0; c < metric_nkeys(o->d); c++) {
        int r = sv_cmp(&a[c], &b[c]);
        if (r) return r;
    }
    return 0;
}

static int write_ranks(pipeline_job *j, struct metric_sink_state *b, const stream_window *w) {
    const metric_def *d = metric_get(b->m);
    for (int c = 0; c < d->ncols; c++) /* offsets back to pointers: strs no longer grows */
        if (d->cols[c].type == METRIC_STR)
            for (size_t i = 0; i < b->n; i++) b->vals[i * METRIC_MAX_COLS + c].s = b->strs.data + b->vals[i * METRIC_MAX_COLS + c].i;
    int t0 = METRIC_ID_COUNT;
    for (int m = 0; m < (int)b->m; m++) t0 += metric_get((metric_id)m)->nranks;
    for (int r = 0; r < d->nranks; r++) {
        rank_order o = {d, d->ranks[r].by};
        qsort_r(b->vals, b->n, METRIC_MAX_COLS * sizeof *b->vals, cmp_ranked, &o);
        for (size_t i = 0; i < b->n && i < (size_t)d->ranks[r].n; i++) {
            const metric_val *v = &b->vals[i * METRIC_MAX_COLS];
            if (v[d->ranks[r].by].i == 0) break;
            if (write_row(j, t0 + r, d, w, (int32_t)i + 1, v)) return -1;
        }
    }
    return 0;
}

/* ---- the sink ---- */

static int sink_row(void *ctx, metric_id m, const stream_window *w, const metric_val *v) {
    pipeline_job *j = ctx;
    if (w->correction) j->stats.corrections++;
    if (write_row(j, (int)m, metric_get(m), w, 0, v)) return -1;
    if (j->cfg->scale_out || w->correction || !metric_get(m)->nranks) return 0;
    if (buffer_row(j->sink_state, m, v)) {
        snprintf(j->err, sizeof j->err, "out of memory (ranked rows)");
        return -1;
    }
    return 0;
}

static int sink_window_done(void *ctx, const stream_window *w) {
    pipeline_job *j = ctx;
    struct metric_sink_state *b = j->sink_state;
    if (!b->n) return 0;
    int rc = write_ranks(j, b, w);
    b->n = 0;
    buf_reset(&b->strs);
    return rc;
}

static int sink_oom(void *ctx, metric_id m, const stream_window *w, const metric_val *v) {
    pipeline_job *j = ctx;
    (void)m, (void)w, (void)v;
    snprintf(j->err, sizeof j->err, "out of memory");
    return -1;
}

stream_sink metric_sink(pipeline_job *j) {
    if (!j->sink_state) j->sink_state = calloc(1, sizeof *j->sink_state);
    if (!j->sink_state) return (stream_sink){.ctx = j, .row = sink_oom};
    j->sink_state->n = 0; /* a new engine: rows of an aborted emission are gone */
    buf_reset(&j->sink_state->strs);
    return (stream_sink){.ctx = j, .row = sink_row, .window_done = sink_window_done};
}

void metric_sink_free(pipeline_job *j) {
    if (!j->sink_state) return;
    free(j->sink_state->vals);
    buf_free(&j->sink_state->strs);
    free(j->sink_state);
    j->sink_state = NULL;
}
