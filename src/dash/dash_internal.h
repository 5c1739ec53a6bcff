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

#endif
