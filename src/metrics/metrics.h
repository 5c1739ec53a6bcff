/*
 * metrics — the metric catalog: one declaration per metric that `ecom stream` computes and
 * `ecom dash` serves. Everything else derives from it: the engine's emit (one generic row per
 * key and window, values in catalog column order), the lake's table schemas, the stream's
 * /status open windows, the dashboard's readers, API and page, and the docs' table of metrics
 * (`ecom metrics --markdown`, checked against docs/stream.md by a test).
 *
 * Adding a metric: one entry in metrics.c (name, keys, values, merge rules, finality, ranks)
 * plus its aggregate step in the engine (src/stream/): nothing else names its columns.
 *
 * Model
 *   - A metric is a table of rows (window, keys..., values...). Windows are the stream's
 *     tumbling event-time windows; every row also carries `correction` (false for the row
 *     written when the window became final, true for a later row that adds late events to it)
 *     and, in the scale-out layout, `partition`.
 *   - Every value is additive (MERGE_SUM) or derived from additive values (MERGE_RATIO:
 *     num / den recomputed after summing; MERGE_ATTR: a descriptive attribute of the key,
 *     merged by taking the smallest). So any set of rows of one metric — several partitions,
 *     correction rows, a range of windows — merges into exact answers by summing per key: this
 *     is what makes range answers exact (a top-N over a range is ranked from the summed counts,
 *     never from per-window top-Ns).
 *   - Ranks (metric_rank) are declared views of a metric: the n keys with the largest `by`
 *     value, ties broken by the keys ascending (byte order); keys whose `by` value is 0 are not
 *     ranked. The stream writes each rank as its
 *     own per-window table in the single-instance layout (the seed's "most viewed products");
 *     the dashboard ranks over any range from the metric itself.
 *   - Finality: a window of a METRIC_FINAL_WINDOW metric is final once the watermark passes its
 *     end; METRIC_FINAL_FUNNEL once it passes end + view_to_cart + cart_to_purchase (rounded up
 *     to a window boundary). Until then its numbers are provisional (/status, the API).
 *
 * Types
 *   - METRIC_STR: UTF-8 text (Parquet STRING). METRIC_INT: count (INT64). METRIC_MONEY: int64
 *     cents inside, Parquet DECIMAL(18,2) on INT64 in the lake, a JSON number with two
 *     decimals outside. METRIC_RATE: a ratio in [0, 1] (DOUBLE), only for MERGE_RATIO columns.
 *   - A MERGE_RATIO column of type MONEY (avg_ticket) is num / den cents rounded half away
 *     from zero to the cent (metric_ratio_cents); of type RATE, num / den as a double. Both are
 *     0 when den is 0 in the lake (the row exists only if the metric has activity) and null in
 *     the API.
 *
 * Contract: static data and pure functions; no allocation, no errors, no state. Ownership:
 * every pointer returned points into the catalog (valid for the life of the program).
 */
#ifndef ECOM_METRICS_H
#define ECOM_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    METRIC_ID_SALES = 0,   /* sales_per_minute */
    METRIC_ID_CATEGORY,    /* category_activity */
    METRIC_ID_PRODUCT,     /* product_activity (ranks: top_products, top_products_by_revenue) */
    METRIC_ID_CITY,        /* sales_by_city */
    METRIC_ID_CHANNEL,     /* sales_by_channel */
    METRIC_ID_FUNNEL,      /* funnel */
    METRIC_ID_COUNT
} metric_id;

typedef enum { METRIC_STR, METRIC_INT, METRIC_MONEY, METRIC_RATE } metric_type;
typedef enum { MERGE_KEY, MERGE_ATTR, MERGE_SUM, MERGE_RATIO } metric_merge;
typedef enum { METRIC_FINAL_WINDOW, METRIC_FINAL_FUNNEL } metric_final;

#define METRIC_MAX_COLS 12
#define METRIC_MAX_RANKS 2

typedef struct {
    const char *name;      /* column name in the lake, /status and the API */
    metric_type type;
    metric_merge merge;
    int8_t num, den;       /* MERGE_RATIO: indexes of the numerator and denominator columns */
    const char *doc;       /* one line, for the docs */
} metric_col;

typedef struct {
    const char *name;      /* table and API name: "top_products" */
    int8_t by;             /* column ranked on, largest first; ties by the key columns asc */
    int n;                 /* rows per window (table) and the API's default limit */
    const char *doc;
} metric_rank;

typedef struct {
    metric_id id;
    const char *name;      /* table name in the lake; API path /api/<name> */
    const char *doc;
    metric_final final;
    int ncols;             /* keys first (MERGE_KEY), then attributes, then values */
    metric_col cols[METRIC_MAX_COLS];
    int nranks;
    metric_rank ranks[METRIC_MAX_RANKS];
} metric_def;

/* The catalog entry of id (id < METRIC_ID_COUNT). */
const metric_def *metric_get(metric_id id);
/* The entry named name (a table name), or NULL. */
const metric_def *metric_find(const char *name);
/* The metric and rank named name ("top_products"), or NULL. */
const metric_def *metric_find_rank(const char *name, const metric_rank **rank);
/* Index of column name in m, or -1. */
int metric_col_index(const metric_def *m, const char *name);
/* Number of MERGE_KEY columns (they come first). */
int metric_nkeys(const metric_def *m);

/* One value of a row, by its column's type: s for STR (bytes + length, not NUL-terminated),
 * i for INT and MONEY (cents), d for RATE. */
typedef struct {
    const char *s;
    size_t n;
    int64_t i;
    double d;
} metric_val;

/* num / den cents rounded half away from zero (0 when den == 0). The one rounding rule of
 * every average money value (lake, /status, API). */
int64_t metric_ratio_cents(int64_t num, int64_t den);

/* Fills every MERGE_RATIO value of a row of m from its numerator and denominator values
 * (metric_ratio_cents for money, num / den for rates, 0 when den is 0): the engine, the lake
 * and the API derive ratios with this one rule. */
void metric_row_derive(const metric_def *m, metric_val *vals);

#endif
