/*
 * stream_emit.c — rows out of the engine: each typed aggregate entry (st_cat, st_prod, ...) is
 * turned into one generic row of its catalog metric (values in catalog column order, ratios
 * derived by the catalog's rule) and handed to the sink. The only place where the engine's
 * fields meet the catalog's column names: st_emit_check_catalog() checks at engine creation
 * that the catalog still declares the columns filled here, in this order.
 */
#include "stream/stream_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The columns each fill_* function below writes, in order. */
static const char *const engine_cols[METRIC_ID_COUNT][METRIC_MAX_COLS + 1] = {
    [METRIC_ID_SALES] = {"orders", "items", "revenue", "avg_ticket", NULL},
    [METRIC_ID_CATEGORY] = {"category", "views", "adds", "removes", "units_sold", "revenue", NULL},
    [METRIC_ID_PRODUCT] = {"product_id", "product_name", "category", "views", "adds", "units_sold", "revenue", NULL},
    [METRIC_ID_CITY] = {"province", "city", "store_type", "orders", "revenue", NULL},
    [METRIC_ID_CHANNEL] = {"store_type", "device", "orders", "revenue", "avg_ticket", NULL},
    [METRIC_ID_FUNNEL] = {"viewed", "carted", "purchased", "view_to_cart_rate", "cart_to_purchase_rate",
                          "view_to_purchase_rate", "abandoned", "abandonment_rate", NULL},
};

int st_emit_check_catalog(char *err, size_t errlen) {
    for (int m = 0; m < METRIC_ID_COUNT; m++) {
        const metric_def *d = metric_get((metric_id)m);
        int c = 0;
        for (; c < d->ncols && engine_cols[m][c]; c++)
            if (strcmp(d->cols[c].name, engine_cols[m][c])) break;
        if (c < d->ncols || engine_cols[m][c]) {
            if (err && errlen)
                snprintf(err, errlen, "metric catalog and engine disagree on %s column %d", d->name, c);
            return -1;
        }
    }
    return 0;
}

stream_window st_window(const stream_engine *e, int64_t k, int32_t part, bool provisional, bool correction) {
    return (stream_window){k * e->cfg.window_us, (k + 1) * e->cfg.window_us, part, provisional, correction};
}

static metric_val vs(strview s) { return (metric_val){.s = s.p, .n = s.n}; }
static metric_val vi(int64_t i) { return (metric_val){.i = i}; }

static int row(const stream_sink *sk, metric_id m, const stream_window *w, metric_val *v) {
    if (!sk->row) return 0;
    metric_row_derive(metric_get(m), v);
    return sk->row(sk->ctx, m, w, v);
}

static int sv_cmp(strview a, strview b) {
    size_t m = a.n < b.n ? a.n : b.n;
    int c = m ? memcmp(a.p, b.p, m) : 0;
    if (c) return c;
    return a.n < b.n ? -1 : a.n > b.n;
}
static int cmp_cat(const void *x, const void *y) {
    return sv_cmp(((const st_cat *)x)->cat, ((const st_cat *)y)->cat);
}
static int cmp_prod(const void *x, const void *y) {
    return sv_cmp(((const st_prod *)x)->pid, ((const st_prod *)y)->pid);
}
static int cmp_city(const void *x, const void *y) {
    const st_city *a = x, *b = y;
    int c = sv_cmp(a->prov, b->prov);
    if (!c) c = sv_cmp(a->city, b->city);
    if (!c) c = sv_cmp(a->stype, b->stype);
    return c;
}
static int cmp_chan(const void *x, const void *y) {
    const st_chan *a = x, *b = y;
    int c = sv_cmp(a->stype, b->stype);
    return c ? c : sv_cmp(a->device, b->device);
}

/* The arrays of one aggregate's entries, sorted in key order before emission. */
typedef struct {
    st_cat *cats;
    st_prod *prods;
    st_city *cities;
    st_chan *chans;
} agg_view;

/* Emits a's rows from the entry arrays of v, sorted first when sort (then window_done). */
static int emit_rows(const stream_sink *sk, const stream_window *w, const st_agg *a, agg_view v, bool sort) {
    metric_val x[METRIC_MAX_COLS];
    if (a->orders != 0) {
        x[0] = vi(a->orders), x[1] = vi(a->items), x[2] = vi(a->revenue);
        if (row(sk, METRIC_ID_SALES, w, x)) return -1;
    }
    if (sort && a->n_cats > 1) qsort(v.cats, a->n_cats, sizeof *v.cats, cmp_cat);
    for (uint32_t i = 0; i < a->n_cats; i++) {
        const st_cat *c = &v.cats[i];
        x[0] = vs(c->cat), x[1] = vi(c->views), x[2] = vi(c->adds), x[3] = vi(c->removes);
        x[4] = vi(c->units), x[5] = vi(c->revenue);
        if (row(sk, METRIC_ID_CATEGORY, w, x)) return -1;
    }
    if (sort && a->n_prods > 1) qsort(v.prods, a->n_prods, sizeof *v.prods, cmp_prod);
    for (uint32_t i = 0; i < a->n_prods; i++) {
        const st_prod *p = &v.prods[i];
        x[0] = vs(p->pid), x[1] = vs(p->name), x[2] = vs(p->cat), x[3] = vi(p->views);
        x[4] = vi(p->adds), x[5] = vi(p->units), x[6] = vi(p->revenue);
        if (row(sk, METRIC_ID_PRODUCT, w, x)) return -1;
    }
    if (sort && a->n_cities > 1) qsort(v.cities, a->n_cities, sizeof *v.cities, cmp_city);
    for (uint32_t i = 0; i < a->n_cities; i++) {
        const st_city *c = &v.cities[i];
        x[0] = vs(c->prov), x[1] = vs(c->city), x[2] = vs(c->stype), x[3] = vi(c->orders), x[4] = vi(c->revenue);
        if (row(sk, METRIC_ID_CITY, w, x)) return -1;
    }
    if (sort && a->n_chans > 1) qsort(v.chans, a->n_chans, sizeof *v.chans, cmp_chan);
    for (uint32_t i = 0; i < a->n_chans; i++) {
        const st_chan *c = &v.chans[i];
        x[0] = vs(c->stype), x[1] = vs(c->device), x[2] = vi(c->orders), x[3] = vi(c->revenue);
        if (row(sk, METRIC_ID_CHANNEL, w, x)) return -1;
    }
    return sort && sk->window_done ? sk->window_done(sk->ctx, w) : 0;
}

/* A copy of n elements (at least one byte allocated), or NULL. */
static void *dup_array(const void *p, size_t n, size_t elem) {
    void *d = malloc(n ? n * elem : 1);
    if (d && n) memcpy(d, p, n * elem);
    return d;
}

int st_emit_agg(const stream_engine *e, const stream_sink *sk, stream_window w, st_agg *a, bool in_place) {
    (void)e;
    if (in_place) return emit_rows(sk, &w, a, (agg_view){a->cats, a->prods, a->cities, a->chans}, true);
    agg_view v = {dup_array(a->cats, a->n_cats, sizeof *a->cats), dup_array(a->prods, a->n_prods, sizeof *a->prods),
                  dup_array(a->cities, a->n_cities, sizeof *a->cities),
                  dup_array(a->chans, a->n_chans, sizeof *a->chans)};
    int rc = v.cats && v.prods && v.cities && v.chans ? emit_rows(sk, &w, a, v, true) : -1;
    free(v.cats);
    free(v.prods);
    free(v.cities);
    free(v.chans);
    return rc;
}

int st_emit_agg_into(st_rows *r, stream_window w, const st_agg *a) {
    stream_sink into = st_rows_sink(r);
    return emit_rows(&into, &w, a, (agg_view){a->cats, a->prods, a->cities, a->chans}, false);
}

int st_emit_funnel(const stream_engine *e, const stream_sink *sk, stream_window w, int64_t v, int64_t c,
                   int64_t b) {
    (void)e;
    if (v == 0) return 0;
    /* abandoned: the carted pairs whose purchase did not follow within the horizon */
    metric_val x[METRIC_MAX_COLS] = {vi(v), vi(c), vi(b), {0}, {0}, {0}, vi(c - b)};
    if (row(sk, METRIC_ID_FUNNEL, &w, x)) return -1;
    return sk->window_done ? sk->window_done(sk->ctx, &w) : 0;
}
