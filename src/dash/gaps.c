/* gaps.c — the minutes of a range that sales_per_minute has no row for, told apart: quiet (no
 * order: a known 0) or missing (the other tables recorded the minute, so its sales row was lost
 * or never published: no number); the minutes the funnel lost; the windows two tables that count
 * the same events disagree on. The rules and why are in dash_internal.h. */
#include <stdlib.h>
#include <string.h>

#include "dash/dash_internal.h"

const char *gaps_why(gap_kind k) {
    switch (k) {
    case GAP_NO_ORDERS: return "no_orders";
    case GAP_UNITS_SOLD: return "units_sold";
    case GAP_UNITS_UNKNOWN: return "units_unknown";
    case GAP_VIEWS: return "views";
    default: return "no_witness";
    }
}

void gaps_free(gap_list *g) {
    free(g->g);
    memset(g, 0, sizeof *g);
}

static gap_minute *gaps_push(gap_list *g, size_t *cap) {
    if (g->n == *cap) {
        size_t nc = *cap ? *cap * 2 : 32;
        gap_minute *p = realloc(g->g, nc * sizeof *p);
        if (!p) return NULL;
        g->g = p;
        *cap = nc;
    }
    gap_minute *m = &g->g[g->n++];
    memset(m, 0, sizeof *m);
    return m;
}

/* True when the sorted by-window table t has a row starting at ws; *i walks t forward (the
 * callers ask in increasing ws). */
static bool has_window(const agg_table *t, size_t *i, int64_t ws) {
    while (*i < t->n && t->rows[*i].ws < ws) (*i)++;
    return *i < t->n && t->rows[*i].ws == ws;
}

/* What category_activity's totals of one window say about its orders. */
static gap_kind witness(const agg_row *c, int units, int revenue, int64_t *nunits) {
    const metric_def *m = metric_get(METRIC_ID_CATEGORY);
    *nunits = c->v[units];
    if (agg_unknown(m, c, units) || agg_unknown(m, c, revenue)) return GAP_UNITS_UNKNOWN;
    return c->v[units] == 0 && c->v[revenue] == 0 ? GAP_NO_ORDERS : GAP_UNITS_SOLD;
}

static int cmp_gap(const void *a, const void *b) {
    const gap_minute *x = a, *y = b;
    return (x->ws > y->ws) - (x->ws < y->ws);
}

int gaps_find(const agg_table *sales, const agg_table *cat, const agg_table *funnel, gap_list *out) {
    memset(out, 0, sizeof *out);
    const metric_def *cm = metric_get(METRIC_ID_CATEGORY);
    int units = metric_col_index(cm, "units_sold"), revenue = metric_col_index(cm, "revenue");
    size_t cap = 0, si = 0, ci = 0;
    for (size_t i = 0; i < cat->n; i++) {
        const agg_row *c = &cat->rows[i];
        if (has_window(sales, &si, c->ws)) continue;
        gap_minute *g = gaps_push(out, &cap);
        if (!g) goto oom;
        *g = (gap_minute){c->ws, c->we, c->prov ? c->final_at : INT64_MIN, c->prov, GAP_NO_ORDERS, 0};
        g->kind = witness(c, units, revenue, &g->units);
    }
    si = 0;
    for (size_t i = 0; funnel && i < funnel->n; i++) {
        const agg_row *f = &funnel->rows[i];
        if (has_window(sales, &si, f->ws) || has_window(cat, &ci, f->ws)) continue;
        gap_minute *g = gaps_push(out, &cap);
        if (!g) goto oom;
        *g = (gap_minute){f->ws, f->we, INT64_MIN, f->prov, GAP_NO_WITNESS, 0};
    }
    if (out->n > 1) qsort(out->g, out->n, sizeof *out->g, cmp_gap);
    for (size_t i = 0; i < out->n; i++) {
        if (out->g[i].kind == GAP_NO_ORDERS) out->no_orders++;
        else out->missing++;
    }
    return 0;
oom:
    gaps_free(out);
    return -1;
}

int gaps_funnel(const agg_table *funnel, const agg_table *cat, int64_t end, gap_list *out) {
    memset(out, 0, sizeof *out);
    const metric_def *cm = metric_get(METRIC_ID_CATEGORY);
    int views = metric_col_index(cm, "views");
    size_t cap = 0, fi = 0;
    for (size_t i = 0; i < cat->n; i++) {
        const agg_row *c = &cat->rows[i];
        if (c->we > end || agg_unknown(cm, c, views) || c->v[views] <= 0 || has_window(funnel, &fi, c->ws)) continue;
        gap_minute *g = gaps_push(out, &cap);
        if (!g) {
            gaps_free(out);
            return -1;
        }
        *g = (gap_minute){c->ws, c->we, INT64_MIN, c->prov, GAP_VIEWS, c->v[views]};
        out->missing++;
    }
    return 0;
}

/* Whether windows x and y (either NULL: the table lacks the window) differ in a compared pair. */
static bool windows_differ(const agg_table *a, const agg_row *x, const int *ca, const agg_table *b, const agg_row *y,
                           const int *cb, int n) {
    for (int k = 0; k < n; k++) {
        if ((x && agg_unknown(a->m, x, ca[k])) || (y && agg_unknown(b->m, y, cb[k]))) continue;
        if ((x ? x->v[ca[k]] : 0) != (y ? y->v[cb[k]] : 0)) return true;
    }
    return false;
}

size_t gaps_disagree(const agg_table *a, const int *ca, const agg_table *b, const int *cb, int ncols) {
    size_t i = 0, j = 0, n = 0;
    while (i < a->n || j < b->n) {
        const agg_row *x = i < a->n ? &a->rows[i] : NULL, *y = j < b->n ? &b->rows[j] : NULL;
        int64_t ws = !y || (x && x->ws < y->ws) ? x->ws : y->ws;
        if (x && x->ws != ws) x = NULL;
        if (y && y->ws != ws) y = NULL;
        i += x != NULL;
        j += y != NULL;
        n += windows_differ(a, x, ca, b, y, cb, ncols);
    }
    return n;
}
