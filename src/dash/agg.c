/* agg.c — merging rows of a catalog metric over a range (see metrics.h "Model"): every value is
 * a sum (MERGE_SUM), a ratio recomputed from summed columns (MERGE_RATIO) or the smallest
 * attribute (MERGE_ATTR). Committed rows are first summed per key id of the source's dictionary
 * (an array add per row: this is the hot path of a 24 h answer), then rows with equal keys —
 * several ids for one key, open windows from the stream — are merged by sorting. */
#include <stdlib.h>
#include <string.h>

#include "dash/dash_internal.h"

void agg_free(agg_table *t) {
    free(t->rows);
    memset(t, 0, sizeof *t);
}

static agg_row *agg_push(agg_table *t) {
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        agg_row *r = realloc(t->rows, cap * sizeof *r);
        if (!r) return NULL;
        t->rows = r;
        t->cap = cap;
    }
    agg_row *r = &t->rows[t->n++];
    memset(r, 0, sizeof *r);
    r->ws = r->we = INT64_MIN;
    r->final_at = INT64_MIN;
    return r;
}

static void sum_into(const metric_def *m, int64_t *dst, const int64_t *src) {
    for (int c = 0; c < m->ncols; c++)
        if (m->cols[c].merge == MERGE_SUM) dst[c] += src[c];
}

/* ---- committed rows ---- */
typedef struct {
    const metric_def *m;
    int ncols, nsum;
    int sum[METRIC_MAX_COLS];   /* indexes of the MERGE_SUM columns */
    int64_t *sums;              /* [cap * ncols] */
    uint8_t *seen;              /* [cap] */
    dash_unknown *unk;          /* [cap]: columns some row of the key lacked */
    size_t cap;
} key_sums;

static int sums_grow(key_sums *k, size_t need) {
    size_t cap = k->cap ? k->cap : 64;
    while (cap <= need) cap *= 2;
    int64_t *s = realloc(k->sums, cap * (size_t)k->ncols * sizeof *s);
    if (!s) return -1;
    k->sums = s;
    uint8_t *seen = realloc(k->seen, cap);
    if (!seen) return -1;
    k->seen = seen;
    dash_unknown *unk = realloc(k->unk, cap * sizeof *unk);
    if (!unk) return -1;
    k->unk = unk;
    memset(k->sums + k->cap * (size_t)k->ncols, 0, (cap - k->cap) * (size_t)k->ncols * sizeof *s);
    memset(k->seen + k->cap, 0, cap - k->cap);
    memset(k->unk + k->cap, 0, (cap - k->cap) * sizeof *unk);
    k->cap = cap;
    return 0;
}

/* The hot loop of a range answer: per row, a range test and one add per summed column. */
static int sum_block(void *ctx, const dash_block *b, int64_t from, int64_t to) {
    key_sums *k = ctx;
    int32_t maxkey = -1;
    for (size_t i = 0; i < b->n; i++)
        if (b->key[i] > maxkey) maxkey = b->key[i];
    if ((size_t)maxkey >= k->cap && sums_grow(k, (size_t)maxkey)) return -1;
    const size_t nc = (size_t)k->ncols;
    for (size_t i = 0; i < b->n; i++) {
        if (b->ws[i] < from || b->ws[i] >= to) continue;
        int64_t *dst = k->sums + (size_t)b->key[i] * nc;
        const int64_t *src = b->v + i * nc;
        k->seen[b->key[i]] = 1;
        for (int j = 0; j < k->nsum; j++) dst[k->sum[j]] += src[k->sum[j]];
    }
    if (b->unk)   /* rare (a file of an older layout): kept out of the loop above */
        for (size_t i = 0; i < b->n; i++)
            if (b->ws[i] >= from && b->ws[i] < to) k->unk[b->key[i]] |= b->unk[i];
    return 0;
}

static int add_block_by_window(void *ctx, const dash_block *b, int64_t from, int64_t to) {
    agg_table *t = ctx;
    for (size_t i = 0; i < b->n; i++) {
        if (b->ws[i] < from || b->ws[i] >= to) continue;
        agg_row *a = agg_push(t);
        if (!a) return -1;
        a->ws = b->ws[i];
        a->we = b->we[i];
        a->unk = b->unk ? b->unk[i] : 0;
        sum_into(t->m, a->v, b->v + i * (size_t)t->m->ncols);
    }
    return 0;
}

static int cmp_keys(const agg_row *x, const agg_row *y, int nkeys) {
    for (int c = 0; c < nkeys; c++) {
        int d = strcmp(x->s[c], y->s[c]);
        if (d) return d;
    }
    return 0;
}

static int cmp_row_keys(const void *a, const void *b, void *ctx) {
    return cmp_keys(a, b, *(const int *)ctx);
}

static int cmp_row_window(const void *a, const void *b) {
    const agg_row *x = a, *y = b;
    return (x->ws > y->ws) - (x->ws < y->ws);
}

/* Sorts by window or key and merges equal neighbours (sums, smallest attributes, prov if any). */
static void agg_merge(agg_table *t) {
    if (t->n < 2) return;
    const metric_def *m = t->m;
    int nkeys = metric_nkeys(m), nstr = dash_metric_nstr(m);
    if (t->by_window) qsort(t->rows, t->n, sizeof *t->rows, cmp_row_window);
    else qsort_r(t->rows, t->n, sizeof *t->rows, cmp_row_keys, &nkeys);
    size_t w = 0;
    for (size_t i = 1; i < t->n; i++) {
        agg_row *a = &t->rows[w], *b = &t->rows[i];
        bool same = t->by_window ? a->ws == b->ws : cmp_keys(a, b, nkeys) == 0;
        if (!same) {
            t->rows[++w] = *b;
            continue;
        }
        sum_into(m, a->v, b->v);
        dash_unknown attrs = 0;
        for (int c = nkeys; !t->by_window && c < nstr; c++) {   /* a known attribute wins over an unknown one */
            dash_unknown bit = (dash_unknown)(1u << c);
            attrs |= bit;
            if (b->unk & bit) continue;
            if ((a->unk & bit) || strcmp(b->s[c], a->s[c]) < 0) a->s[c] = b->s[c];
            a->unk &= (dash_unknown)~bit;
        }
        a->unk |= b->unk & (dash_unknown)~attrs;   /* a sum with an unknown part is unknown */
        if (b->we > a->we) a->we = b->we;
        if (b->final_at > a->final_at) a->final_at = b->final_at;
        a->prov = a->prov || b->prov;
    }
    t->n = w + 1;
}

/* One row per committed row, merged by window (key strings left NULL). */
int agg_lake_windows(const dash_source *src, const metric_def *m, int64_t from, int64_t to, agg_table *t,
                     char *err, size_t errlen) {
    memset(t, 0, sizeof *t);
    t->m = m;
    t->by_window = true;
    t->final_at = INT64_MIN;
    if (src->scan(src->ctx, m->id, from, to, add_block_by_window, t, err, errlen)) return -1;
    agg_merge(t);
    return 0;
}

int agg_lake(const dash_source *src, const metric_def *m, int64_t from, int64_t to, agg_table *t, char *err,
             size_t errlen) {
    if (metric_nkeys(m) == 0) return agg_lake_windows(src, m, from, to, t, err, errlen);
    memset(t, 0, sizeof *t);
    t->m = m;
    t->final_at = INT64_MIN;
    key_sums k = {m, m->ncols, 0, {0}, NULL, NULL, NULL, 0};
    for (int c = 0; c < m->ncols; c++)
        if (m->cols[c].merge == MERGE_SUM) k.sum[k.nsum++] = c;
    int rc = src->scan(src->ctx, m->id, from, to, sum_block, &k, err, errlen);
    const dash_keys *keys = rc == 0 ? src->keys(src->ctx, m->id) : NULL;
    int nstr = dash_metric_nstr(m);
    for (size_t id = 0; rc == 0 && id < k.cap; id++) {
        if (!k.seen[id]) continue;
        agg_row *a = agg_push(t);
        if (!a) {
            rc = -1;
            break;
        }
        for (int c = 0; c < nstr; c++) a->s[c] = dash_keys_str(keys, (int32_t)id, c);
        memcpy(a->v, k.sums + id * (size_t)m->ncols, (size_t)m->ncols * sizeof *a->v);
        a->unk = k.unk[id];
    }
    free(k.sums);
    free(k.seen);
    free(k.unk);
    if (rc == 0) agg_merge(t);
    return rc;
}

/* ---- open windows ---- */
static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int agg_add_prov(agg_table *t, const dash_prov *p, int64_t lake_end, const int64_t *part_end, int64_t from,
                 int64_t to) {
    const metric_def *m = t->m;
    size_t n = p->n[m->id], nw = 0;
    int64_t *wins = n ? malloc(n * sizeof *wins) : NULL;
    if (n && !wins) return -1;
    int nstr = dash_metric_nstr(m);
    for (size_t i = 0; i < n; i++) {
        const dash_prov_row *r = &p->rows[m->id][i];
        int64_t end = part_end && r->part >= 0 && r->part < DASH_MAX_PARTS ? part_end[r->part] : lake_end;
        if (r->ws < from || r->ws >= to || (end != INT64_MIN && r->we <= end)) continue;
        agg_row *a = agg_push(t);
        if (!a) {
            free(wins);
            return -1;
        }
        if (t->by_window) {
            a->ws = r->ws;
            a->we = r->we;
        }
        a->prov = true;
        a->unk = r->unk;
        a->final_at = r->final_at;
        for (int c = 0; c < nstr; c++) a->s[c] = r->s[c];
        memcpy(a->v, r->v, sizeof a->v);
        wins[nw++] = r->ws;
        if (r->final_at > t->final_at) t->final_at = r->final_at;
    }
    if (nw) qsort(wins, nw, sizeof *wins, cmp_i64);
    for (size_t i = 0; i < nw; i++)
        if (i == 0 || wins[i] != wins[i - 1]) t->prov_windows++;
    free(wins);
    agg_merge(t);
    return 0;
}

/* ---- output order ---- */
typedef struct {
    int by, nkeys;
} by_ctx;

static int cmp_row_by(const void *a, const void *b, void *ctx) {
    const agg_row *x = a, *y = b;
    const by_ctx *c = ctx;
    if (x->v[c->by] != y->v[c->by]) return x->v[c->by] < y->v[c->by] ? 1 : -1;
    return cmp_keys(x, y, c->nkeys);
}

void agg_sort(agg_table *t, int by) {
    if (t->n < 2) return;
    if (t->by_window) {
        qsort(t->rows, t->n, sizeof *t->rows, cmp_row_window);
        return;
    }
    by_ctx c = {by, metric_nkeys(t->m)};
    qsort_r(t->rows, t->n, sizeof *t->rows, cmp_row_by, &c);
}

bool agg_ratio(const metric_def *m, const agg_row *r, int c, int64_t *num, int64_t *den) {
    const metric_col *mc = &m->cols[c];
    if (mc->merge != MERGE_RATIO) return false;
    *num = r->v[mc->num];
    *den = r->v[mc->den];
    return true;
}

bool agg_unknown(const metric_def *m, const agg_row *r, int c) {
    const metric_col *mc = &m->cols[c];
    if (mc->merge == MERGE_RATIO) return ((r->unk >> mc->num) | (r->unk >> mc->den)) & 1u;
    return (r->unk >> c) & 1u;
}
