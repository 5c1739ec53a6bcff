/*
 * pipeline/tables.c — the metric tables (sales_per_minute, category_activity, top_products,
 * sales_by_city, funnel): their Parquet schemas and the engine sink that appends the engine's
 * rows to them. Money leaves the engine as integer cents and is stored as DOUBLE dollars
 * (cents / 100, exact to the cent when read back and rounded to two decimals).
 */
#include <stdio.h>
#include <string.h>

#include "pipeline/pipeline_internal.h"

typedef struct {
    const char *name;
    pq_kind kind;
} col_def;

#define WINDOW_COLS {"window_start", PQ_TIMESTAMP}, {"window_end", PQ_TIMESTAMP}

static const col_def sales_cols[] = {WINDOW_COLS, {"orders", PQ_INT64}, {"items", PQ_INT64},
                                     {"revenue", PQ_DOUBLE}, {"avg_ticket", PQ_DOUBLE}, {NULL, 0}};
static const col_def category_cols[] = {WINDOW_COLS,           {"category", PQ_STRING},
                                        {"views", PQ_INT64},   {"adds", PQ_INT64},
                                        {"removes", PQ_INT64}, {"units_sold", PQ_INT64},
                                        {"revenue", PQ_DOUBLE}, {NULL, 0}};
static const col_def top_cols[] = {WINDOW_COLS,          {"rank", PQ_INT32},
                                   {"product_id", PQ_STRING}, {"product_name", PQ_STRING},
                                   {"category", PQ_STRING},   {"views", PQ_INT64}, {NULL, 0}};
static const col_def product_views_cols[] = {WINDOW_COLS, {"product_id", PQ_STRING}, {"product_name", PQ_STRING},
                                            {"category", PQ_STRING}, {"views", PQ_INT64}, {NULL, 0}};
static const col_def city_cols[] = {WINDOW_COLS,             {"province", PQ_STRING},
                                    {"city", PQ_STRING},     {"store_type", PQ_STRING},
                                    {"orders", PQ_INT64},    {"revenue", PQ_DOUBLE}, {NULL, 0}};
static const col_def funnel_cols[] = {WINDOW_COLS,
                                      {"viewed", PQ_INT64},
                                      {"carted", PQ_INT64},
                                      {"purchased", PQ_INT64},
                                      {"view_to_cart_rate", PQ_DOUBLE},
                                      {"cart_to_purchase_rate", PQ_DOUBLE},
                                      {"view_to_purchase_rate", PQ_DOUBLE},
                                      {NULL, 0}};

static const struct {
    const char *name;
    const col_def *cols;
} metric_defs[METRIC_COUNT] = {
    [METRIC_SALES] = {"sales_per_minute", sales_cols},
    [METRIC_CATEGORY] = {"category_activity", category_cols},
    [METRIC_TOP] = {"top_products", top_cols},
    [METRIC_CITY] = {"sales_by_city", city_cols},
    [METRIC_FUNNEL] = {"funnel", funnel_cols},
    [METRIC_PRODUCT_VIEWS] = {"product_views", product_views_cols},
};

const char *metric_table_name(metric_table m) { return metric_defs[m].name; }

pq_schema *metric_table_schema(metric_table m, bool partial, char *err, size_t errlen) {
    pq_schema *s = pq_schema_new();
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    for (const col_def *c = metric_defs[m].cols; c->name; c++) {
        if (pq_schema_add(s, -1, c->name, c->kind, false, err, errlen) < 0) {
            pq_schema_free(s);
            return NULL;
        }
    }
    if (partial && pq_schema_add(s, -1, "partition", PQ_INT32, false, err, errlen) < 0) {
        pq_schema_free(s);
        return NULL;
    }
    return s;
}

/* ---- row appenders: one value per leaf column, in schema order ---- */

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

static void put_f64(row_put *r, double v) {
    if (r->rc == 0) r->rc = pq_write_f64(r->w, r->leaf, v, r->err, r->errlen);
    r->leaf++;
}

static void put_str(row_put *r, strview s) {
    if (r->rc == 0) r->rc = pq_write_str(r->w, r->leaf, s.p ? s.p : "", s.n, r->err, r->errlen);
    r->leaf++;
}

static void put_money(row_put *r, int64_t cents) { put_f64(r, (double)cents / 100.0); }

/* Starts a row of table m in the partition of the window's start date. */
static int row_begin(pipeline_job *j, metric_table m, const stream_window *w, row_put *r) {
    int64_t day = lake_day_of(&j->tz, w->window_start_us);
    lake_table *t = job_metric_table(j, m, w->partition);
    if (!t) return -1;
    pq_writer *pw = lake_table_writer(t, day, j->err, sizeof j->err);
    if (!pw) return -1;
    *r = (row_put){pw, 0, j->err, sizeof j->err, 0};
    put_i64(r, w->window_start_us);
    put_i64(r, w->window_end_us);
    return 0;
}

/* Partial rows (scale-out) end with their partition. */
static int row_end(pipeline_job *j, metric_table m, const stream_window *w, row_put *r) {
    if (j->cfg->scale_out) put_i32(r, w->partition);
    if (r->rc) return -1;
    j->metric_rows[m]++;
    return lake_table_rows_done(job_metric_table(j, m, w->partition), lake_day_of(&j->tz, w->window_start_us), 1, j->now_us, j->err, sizeof j->err);
}

static int sink_sales(void *ctx, const stream_row_sales *s) {
    pipeline_job *j = ctx;
    row_put r;
    if (row_begin(j, METRIC_SALES, &s->w, &r)) return -1;
    put_i64(&r, s->orders);
    put_i64(&r, s->items);
    put_money(&r, s->revenue_cents);
    put_f64(&r, s->avg_ticket_cents / 100.0);
    return row_end(j, METRIC_SALES, &s->w, &r);
}

static int sink_category(void *ctx, const stream_row_category *c) {
    pipeline_job *j = ctx;
    row_put r;
    if (row_begin(j, METRIC_CATEGORY, &c->w, &r)) return -1;
    put_str(&r, c->category);
    put_i64(&r, c->views);
    put_i64(&r, c->adds);
    put_i64(&r, c->removes);
    put_i64(&r, c->units_sold);
    put_money(&r, c->revenue_cents);
    return row_end(j, METRIC_CATEGORY, &c->w, &r);
}

static int sink_top(void *ctx, const stream_row_product *p) {
    pipeline_job *j = ctx;
    row_put r;
    if (row_begin(j, METRIC_TOP, &p->w, &r)) return -1;
    put_i32(&r, p->rank);
    put_str(&r, p->product_id);
    put_str(&r, p->product_name);
    put_str(&r, p->category);
    put_i64(&r, p->views);
    return row_end(j, METRIC_TOP, &p->w, &r);
}

static int sink_product_views(void *ctx, const stream_row_product *p) {
    pipeline_job *j = ctx;
    row_put r;
    if (row_begin(j, METRIC_PRODUCT_VIEWS, &p->w, &r)) return -1;
    put_str(&r, p->product_id);
    put_str(&r, p->product_name);
    put_str(&r, p->category);
    put_i64(&r, p->views);
    return row_end(j, METRIC_PRODUCT_VIEWS, &p->w, &r);
}

static int sink_city(void *ctx, const stream_row_city *c) {
    pipeline_job *j = ctx;
    row_put r;
    if (row_begin(j, METRIC_CITY, &c->w, &r)) return -1;
    put_str(&r, c->province);
    put_str(&r, c->city);
    put_str(&r, c->store_type);
    put_i64(&r, c->orders);
    put_money(&r, c->revenue_cents);
    return row_end(j, METRIC_CITY, &c->w, &r);
}

static int sink_funnel(void *ctx, const stream_row_funnel *f) {
    pipeline_job *j = ctx;
    row_put r;
    if (row_begin(j, METRIC_FUNNEL, &f->w, &r)) return -1;
    put_i64(&r, f->viewed);
    put_i64(&r, f->carted);
    put_i64(&r, f->purchased);
    put_f64(&r, f->view_to_cart_rate);
    put_f64(&r, f->cart_to_purchase_rate);
    put_f64(&r, f->view_to_purchase_rate);
    return row_end(j, METRIC_FUNNEL, &f->w, &r);
}

stream_sink metric_sink(pipeline_job *j) {
    return (stream_sink){.ctx = j,
                         .sales = sink_sales,
                         .category = sink_category,
                         .top_product = sink_top,
                         .product_views = sink_product_views,
                         .city = sink_city,
                         .funnel = sink_funnel};
}
