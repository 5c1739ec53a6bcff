/*
 * stream_merge.c — merging the rows of several shards by the catalog's merge rules. In MERGED
 * mode with more than one shard, each shard's aggregate of a window (final, correction or
 * provisional) is emitted as catalog rows into an st_rows accumulator, which sums MERGE_SUM
 * values and keeps the smallest MERGE_ATTR per (metric, keys); the merged rows then go to the
 * sink in the engine's order with their MERGE_RATIO values derived. The merge knows no metric:
 * a new catalog entry merges without code here.
 */
#include "stream/stream_internal.h"

#include <stdlib.h>
#include <string.h>

static strview sv_of(const metric_val *v) {
    return (strview){v->s ? v->s : "", v->n};
}

/* Byte order, a prefix first (the engine's key order and DuckDB's min()). */
static int val_cmp(const metric_val *a, const metric_val *b) {
    size_t n = a->n < b->n ? a->n : b->n;
    int c = n ? memcmp(a->s, b->s, n) : 0;
    return c ? c : (a->n < b->n ? -1 : a->n > b->n);
}

static uint64_t row_hash(metric_id m, const metric_def *d, const metric_val *v) {
    uint64_t h = (uint64_t)m * 0x9E3779B97F4A7C15ULL;
    for (int c = 0; c < metric_nkeys(d); c++) h = st_hash(sv_of(&v[c]), h);
    return h;
}

static bool same_keys(const st_row *r, metric_id m, const metric_def *d, const metric_val *v) {
    if (r->m != m) return false;
    for (int c = 0; c < metric_nkeys(d); c++)
        if (r->v[c].n != v[c].n || (v[c].n && memcmp(r->v[c].s, v[c].s, v[c].n))) return false;
    return true;
}

/* Copies string value v into the arena as dst. */
static int dup_val(st_arena *ar, metric_val *dst, const metric_val *v) {
    strview out;
    if (st_arena_dup(ar, sv_of(v), &out)) return -1;
    dst->s = out.p;
    dst->n = out.n;
    return 0;
}

static int rows_add(void *ctx, metric_id m, const stream_window *w, const metric_val *v) {
    st_rows *r = ctx;
    const metric_def *d = metric_get(m);
    (void)w;
    uint64_t h = row_hash(m, d, v);
    uint32_t pos;
    int64_t i;
    if (st_itab_reserve(&r->ix)) return -1;
    ITAB_FIND(&r->ix, h, same_keys(&r->rows[ix_], m, d, v), i, pos);
    if (i >= 0) {
        st_row *x = &r->rows[i];
        for (int c = 0; c < d->ncols; c++) {
            if (d->cols[c].merge == MERGE_SUM)
                x->v[c].i += v[c].i;
            else if (d->cols[c].merge == MERGE_ATTR && val_cmp(&v[c], &x->v[c]) < 0 && dup_val(&r->ar, &x->v[c], &v[c]))
                return -1;
        }
        return 0;
    }
    if (r->n == r->cap) {
        uint32_t nc = r->cap ? r->cap * 2 : 64;
        st_row *p = realloc(r->rows, nc * sizeof *p);
        if (!p) return -1;
        r->rows = p;
        r->cap = nc;
    }
    st_row *x = &r->rows[r->n];
    x->m = m;
    for (int c = 0; c < d->ncols; c++) {
        x->v[c] = v[c];
        if (d->cols[c].type == METRIC_STR && dup_val(&r->ar, &x->v[c], &v[c])) return -1;
    }
    st_itab_put(&r->ix, pos, h);
    r->n++;
    return 0;
}

stream_sink st_rows_sink(st_rows *r) {
    return (stream_sink){r, rows_add, NULL};
}

static int row_cmp(const void *x, const void *y) {
    const st_row *a = x, *b = y;
    if (a->m != b->m) return a->m < b->m ? -1 : 1;
    const metric_def *d = metric_get(a->m);
    for (int c = 0; c < metric_nkeys(d); c++) {
        int r = val_cmp(&a->v[c], &b->v[c]);
        if (r) return r;
    }
    return 0;
}

int st_rows_emit(st_rows *r, const stream_sink *sk, const stream_window *w) {
    if (!r->n) return 0;
    /* sorting moves the rows: the index is stale after this, so r is only freed afterwards */
    qsort(r->rows, r->n, sizeof *r->rows, row_cmp);
    for (uint32_t i = 0; i < r->n; i++) {
        st_row *x = &r->rows[i];
        metric_row_derive(metric_get(x->m), x->v);
        if (sk->row && sk->row(sk->ctx, x->m, w, x->v)) return -1;
    }
    return sk->window_done ? sk->window_done(sk->ctx, w) : 0;
}

void st_rows_free(st_rows *r) {
    free(r->rows);
    st_itab_free(&r->ix);
    st_arena_free(&r->ar);
    memset(r, 0, sizeof *r);
}
