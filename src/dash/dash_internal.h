/*
 * dash_internal.h — inside the dashboard: merging rows by the catalog's rules (agg.c), shared
 * by the engine and its unit test. Not for other modules.
 *
 * Contract: agg_* return 0 or -1 (out of memory, or the source's error in err); an agg_table
 * owns its rows, not their strings (they point into the source's dash_keys or the dash_prov
 * given, which must outlive the table); agg_free releases it.
 */
#ifndef ECOM_DASH_INTERNAL_H
#define ECOM_DASH_INTERNAL_H

#include "dash/dash.h"

typedef struct {
    int64_t ws, we;              /* by-window tables: the window; by-key tables: INT64_MIN */
    int64_t final_at;            /* provisional rows: when the latest of them becomes final */
    bool prov;                   /* holds numbers of an open (provisional) window */
    dash_unknown unk;            /* columns not known: a SUM column when any row summed in lacked
                                    it, an ATTR column when every row did (docs/dashboard.md) */
    const char *s[METRIC_MAX_COLS];
    int64_t v[METRIC_MAX_COLS];  /* MERGE_SUM columns summed; others 0 (rendered from num/den) */
} agg_row;

typedef struct {
    const metric_def *m;
    bool by_window;              /* one row per window (metrics without keys), else per key */
    agg_row *rows;
    size_t n, cap;
    size_t prov_windows;         /* distinct open windows merged in */
    int64_t final_at;            /* latest final_at of those, INT64_MIN when none */
} agg_table;

/* Sums the committed rows of [from, to) into t (initialised here): per window when the metric
 * has no KEY column, else per key (ATTR columns: the smallest). */
int agg_lake(const dash_source *src, const metric_def *m, int64_t from, int64_t to, agg_table *t, char *err,
             size_t errlen);
/* The same, per window whatever the metric's keys (the window's totals over every key; the key
 * and attribute strings of t's rows are NULL). */
int agg_lake_windows(const dash_source *src, const metric_def *m, int64_t from, int64_t to, agg_table *t,
                     char *err, size_t errlen);
/* Merges the open windows of t's metric in [from, to) whose window_end is after lake_end (the
 * latest committed window_end of the metric: a window both committed and still listed by a
 * status fetched just before the commit is counted once). part_end (NULL: the single layout)
 * gives it per scale-out partition instead, for a row that names one below DASH_MAX_PARTS:
 * partitions commit at different times, so a window one partition committed may still be open
 * in another, whose part is then added, not left out. */
int agg_add_prov(agg_table *t, const dash_prov *p, int64_t lake_end, const int64_t *part_end, int64_t from,
                 int64_t to);
/* Orders by window (by-window tables) or by column `by` desc, then the keys asc (byte order). */
void agg_sort(agg_table *t, int by);
/* Column c of row r over its num/den for MERGE_RATIO columns: *num, *den; false for others. */
bool agg_ratio(const metric_def *m, const agg_row *r, int c, int64_t *num, int64_t *den);
/* True when column c of row r is not known: its bit in r->unk, or for a MERGE_RATIO column the
 * bit of its numerator or denominator. */
bool agg_unknown(const metric_def *m, const agg_row *r, int c);
void agg_free(agg_table *t);

/* ---- minutes without a sales row (gaps.c) ----
 * sales_per_minute has a row only for a minute with orders, so a minute without one either had
 * no order (a known 0) or lost its row (its file deleted, or never published): that table alone
 * cannot tell them apart, and drawing every such minute as $0 turns a lost file into a quiet
 * shop. category_activity can tell: the stream writes it in the same commits with the same
 * finality, it has a row for every minute with a view or a cart event, and its units_sold is 0
 * exactly when the minute had no order line. So a minute is a known 0 only when
 * category_activity has it with no unit sold and $0; any other minute some table has is
 * missing, with why. */
typedef enum {
    GAP_NO_ORDERS,       /* category_activity has the minute, with 0 units sold and $0: quiet */
    GAP_UNITS_SOLD,      /* category_activity counts units sold (or revenue) in it: lost */
    GAP_UNITS_UNKNOWN,   /* category_activity does not know its units sold: cannot tell */
    GAP_NO_WITNESS,      /* only the funnel has the minute (views): cannot tell */
    GAP_VIEWS,           /* (the funnel's gaps) category_activity counts views in it: lost */
} gap_kind;

typedef struct {
    int64_t ws, we;
    int64_t final_at;    /* GAP_NO_ORDERS of an open window: when it becomes final */
    bool prov;           /* the witness' window is open (provisional) */
    gap_kind kind;
    int64_t units;       /* GAP_UNITS_SOLD: the units category_activity counts; GAP_VIEWS: its views */
} gap_minute;

typedef struct {
    gap_minute *g;       /* by window_start */
    size_t n, no_orders, missing;
} gap_list;

/* The windows of cat (category_activity per window: agg_lake_windows) or funnel that sales
 * lacks, classified (all three by window and sorted, as agg_lake leaves them). 0 or -1 (out of
 * memory); *out is initialised here, free it with gaps_free. */
int gaps_find(const agg_table *sales, const agg_table *cat, const agg_table *funnel, gap_list *out);
/* The funnel has the same kind of hole: a lost funnel file is minutes without a funnel row,
 * and the funnel's totals and the conversion would silently shrink. category_activity is the
 * witness again: the stream gives every window with a view a funnel row, so a window that
 * category_activity (per window, cat) counts views in and the funnel lacks is missing
 * (GAP_VIEWS) — but only up to end, the funnel's latest committed window_end (its windows
 * become final 90 min later than the others by default, so the newer ones are not written yet).
 * One case is not a loss and reads as one: a window whose every view came after its funnel was
 * final (the funnel is not corrected, stream.h), so it has no funnel row. 0 or -1 (out of
 * memory); *out is initialised here (its no_orders stays 0). */
int gaps_funnel(const agg_table *funnel, const agg_table *cat, int64_t end, gap_list *out);
void gaps_free(gap_list *g);
/* The API's name of a missing minute's reason ("units_sold", ...). */
const char *gaps_why(gap_kind k);
/* How many windows of the by-window tables a and b (sorted) disagree on: for some i < n, column
 * ca[i] of a differs from column cb[i] of b, a window one of them lacks counting as 0 there (one
 * lost a file for it, or has not published it yet); a pair where either value is unknown is not
 * compared. Why: some tables count the same events per window over different keys (engine.c
 * WITNESSES: sales_by_city and sales_by_channel the orders of sales_per_minute, category_activity
 * and product_activity the same views, adds, units and revenue), so a lost file of one shows as
 * windows where they differ, and a per-key total is then partial. */
size_t gaps_disagree(const agg_table *a, const int *ca, const agg_table *b, const int *cb, int n);

#endif
