/*
 * stream_testlib.h — helpers shared by the stream engine's unit tests: a deterministic event
 * generator that builds `event` structs directly (no parser), a recording sink that renders
 * every row as one text line, and a brute-force oracle of every metric.
 */
#ifndef ECOM_STREAM_TESTLIB_H
#define ECOM_STREAM_TESTLIB_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stream/stream.h"

/* ---- events ---- */

typedef struct {
    event ev;
    event_item items[3];
    char id[37];
    char user[12];
    char pid[8], pname[24], cat[8];
    char ipid[3][8], iname[3][24], icat[3][8];
} tev;

static inline uint64_t tl_rand(uint64_t *s) {
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return *s >> 33;
}

static const char *const TL_CITY[][2] = {
    {"Pichincha", "Quito"}, {"Guayas", "Guayaquil"}, {"Azuay", "Cuenca"}};

static inline void tl_product(int p, char *pid, char *pname, char *cat) {
    snprintf(pid, 8, "P%03d", p);
    snprintf(pname, 24, "Product %d", p);
    snprintf(cat, 8, "Cat%d", p % 5);
}

/* Sets the common fields and a UUID-shaped event_id from n. */
static inline void tl_init(tev *t, event_type type, int64_t ts, int user, uint64_t n) {
    memset(t, 0, sizeof *t);
    t->ev.type = type;
    t->ev.ts_us = ts;
    snprintf(t->id, sizeof t->id, "%08x-0000-4000-8000-%012llx", (unsigned)(n * 2654435761u),
             (unsigned long long)n);
    t->ev.event_id = (strview){t->id, 36};
    snprintf(t->user, sizeof t->user, "U%06d", user);
    t->ev.user_id = sv_cstr(t->user);
    t->ev.session_id = SV("S1");
    t->ev.store_id = SV("ST001");
    t->ev.store_type = (user % 3 == 0) ? SV("physical_store") : SV("online");
    t->ev.device = (user % 3 == 0) ? (strview){"", 0} : SV("mobile");
    t->ev.lat = -0.18, t->ev.lon = -78.47;
    t->ev.province = sv_cstr(TL_CITY[user % 3][0]);
    t->ev.city = sv_cstr(TL_CITY[user % 3][1]);
}

static inline void tl_product_event(tev *t, event_type type, int64_t ts, int user, int p,
                                    uint64_t n, int qty) {
    tl_init(t, type, ts, user, n);
    tl_product(p, t->pid, t->pname, t->cat);
    t->ev.product_id = sv_cstr(t->pid);
    t->ev.product_name = sv_cstr(t->pname);
    t->ev.category = sv_cstr(t->cat);
    t->ev.price_cents = 100 + p * 37;
    t->ev.quantity = type == EV_PAGE_VIEW ? 0 : qty;
}

static inline void tl_purchase(tev *t, int64_t ts, int user, const int *ps, const int *qs,
                               int n_items, uint64_t n) {
    tl_init(t, EV_PURCHASE, ts, user, n);
    int64_t total = 0;
    for (int i = 0; i < n_items; i++) {
        tl_product(ps[i], t->ipid[i], t->iname[i], t->icat[i]);
        t->items[i] = (event_item){sv_cstr(t->ipid[i]), sv_cstr(t->iname[i]), sv_cstr(t->icat[i]),
                                   qs[i], 100 + ps[i] * 37};
        total += (int64_t)qs[i] * (100 + ps[i] * 37);
    }
    t->ev.items = t->items;
    t->ev.n_items = (size_t)n_items;
    t->ev.total_cents = total;
    t->ev.order_id = SV("O1");
    t->ev.currency = SV("USD");
    t->ev.payment_method = SV("card");
}

/* Generates n events in time order from t0 (gaps 0..gap_ms), users 0..nu-1, products 0..np-1,
 * with funnel-shaped behaviour (adds mostly of viewed products, purchases of added ones) and a
 * fraction dup_pct% of exact re-sends. Returns a calloc'd array (free()). */
static inline tev *tl_generate(size_t n, int64_t t0, int nu, int np, int gap_ms, int dup_pct,
                               uint64_t seed) {
    tev *v = calloc(n, sizeof *v);
    int *last_view = calloc((size_t)nu, sizeof(int));
    int *last_add = calloc((size_t)nu, sizeof(int));
    if (!v || !last_view || !last_add) abort();
    uint64_t s = seed;
    int64_t t = t0;
    for (size_t i = 0; i < n; i++) {
        t += (int64_t)(tl_rand(&s) % (uint64_t)(gap_ms + 1)) * 1000;
        if (i > 0 && (int)(tl_rand(&s) % 100) < dup_pct) {
            size_t from = i - 1 - tl_rand(&s) % (i < 3 ? i : 3);
            v[i] = v[from];
            /* re-point the views into the copy */
            tev *c = &v[i];
            c->ev.event_id = (strview){c->id, 36};
            c->ev.user_id = sv_cstr(c->user);
            c->ev.product_id = sv_cstr(c->pid);
            c->ev.product_name = sv_cstr(c->pname);
            c->ev.category = sv_cstr(c->cat);
            for (size_t k = 0; k < c->ev.n_items; k++)
                c->items[k] = (event_item){sv_cstr(c->ipid[k]), sv_cstr(c->iname[k]),
                                           sv_cstr(c->icat[k]), c->items[k].quantity,
                                           c->items[k].unit_price_cents};
            c->ev.items = c->items;
            continue;
        }
        int u = (int)(tl_rand(&s) % (uint64_t)nu);
        int r = (int)(tl_rand(&s) % 100);
        if (r < 60) {
            int p = (int)(tl_rand(&s) % (uint64_t)np);
            if (tl_rand(&s) % 2) p = p % 7; /* a few popular products */
            tl_product_event(&v[i], EV_PAGE_VIEW, t, u, p, i, 0);
            last_view[u] = p;
        } else if (r < 80) {
            int p = tl_rand(&s) % 4 ? last_view[u] : (int)(tl_rand(&s) % (uint64_t)np);
            tl_product_event(&v[i], EV_ADD_TO_CART, t, u, p, i, 1 + (int)(tl_rand(&s) % 3));
            last_add[u] = p;
        } else if (r < 87) {
            tl_product_event(&v[i], EV_REMOVE_FROM_CART, t, u, last_add[u], i, 1);
        } else {
            int ps[3] = {last_add[u], last_view[u], (int)(tl_rand(&s) % (uint64_t)np)};
            int qs[3] = {1 + (int)(tl_rand(&s) % 3), 1, 2};
            int k = 1 + (int)(tl_rand(&s) % 3);
            tl_purchase(&v[i], t, u, ps, qs, k, i);
        }
    }
    free(last_view);
    free(last_add);
    return v;
}

static inline int tl_part(const event *e, int nparts) {
    return (int)(hash64(e->user_id.p, e->user_id.n) % (uint64_t)nparts);
}

/* ---- recording sink: one text line per row ----
 * "<tag>|<window start>|<length ms>|p<partition>[|prov][|corr]|<catalog values...>" with tags
 * S sales, C category, P product, Y city, H channel, F funnel; strings raw, counts and money
 * (cents) as integers, rates %.6f. */

typedef struct {
    buf_t out;
    size_t rows, windows_done;
} tl_rec;

static const char TL_TAG[METRIC_ID_COUNT] = {'S', 'C', 'P', 'Y', 'H', 'F'};

static inline void tl_values(buf_t *b, const metric_def *d, const metric_val *v) {
    for (int c = 0; c < d->ncols; c++) {
        if (d->cols[c].type == METRIC_STR)
            buf_printf(b, "|%.*s", (int)v[c].n, v[c].s);
        else if (d->cols[c].type == METRIC_RATE)
            buf_printf(b, "|%.6f", v[c].d);
        else
            buf_printf(b, "|%lld", (long long)v[c].i);
    }
    buf_append_char(b, '\n');
}

static int tl_row(void *c, metric_id m, const stream_window *w, const metric_val *v) {
    tl_rec *r = c;
    char a[25];
    time_format_ms(w->window_start_us, a);
    buf_printf(&r->out, "%c|%s|%lld|p%d%s%s", TL_TAG[m], a,
               (long long)((w->window_end_us - w->window_start_us) / 1000), (int)w->partition,
               w->provisional ? "|prov" : "", w->correction ? "|corr" : "");
    tl_values(&r->out, metric_get(m), v);
    r->rows++;
    return 0;
}

static int tl_window_done(void *c, const stream_window *w) {
    (void)w;
    ((tl_rec *)c)->windows_done++;
    return 0;
}

static inline stream_sink tl_sink(tl_rec *r) {
    return (stream_sink){r, tl_row, tl_window_done};
}

/* ---- summing sink: rows of any partitions and corrections summed per (metric, window, keys)
 * by the catalog's merge rules, rendered as MERGED final rows (p-1, no flags) ---- */

typedef struct {
    char key[200];
    metric_id m;
    stream_window w;
    metric_val v[METRIC_MAX_COLS];
    char str[METRIC_MAX_COLS][48];
} tl_sum_row;

typedef struct {
    tl_sum_row *r;
    size_t n, cap;
    size_t corrections;
} tl_sum;

static int tl_sum_add(void *c, metric_id m, const stream_window *w, const metric_val *v) {
    tl_sum *t = c;
    const metric_def *d = metric_get(m);
    char key[200];
    int k = snprintf(key, sizeof key, "%d|%lld|%lld", (int)m, (long long)w->window_start_us,
                     (long long)w->window_end_us);
    for (int i = 0; i < metric_nkeys(d); i++) k += snprintf(key + k, sizeof key - (size_t)k, "|%.*s", (int)v[i].n, v[i].s);
    t->corrections += w->correction;
    tl_sum_row *x = NULL;
    bool fresh = false;
    for (size_t i = 0; i < t->n && !x; i++)
        if (!strcmp(t->r[i].key, key)) x = &t->r[i];
    if (!x) {
        if (t->n == t->cap) {
            t->cap = t->cap ? t->cap * 2 : 256;
            t->r = realloc(t->r, t->cap * sizeof *t->r);
            if (!t->r) abort();
        }
        x = &t->r[t->n++];
        memset(x, 0, sizeof *x);
        snprintf(x->key, sizeof x->key, "%s", key);
        x->m = m;
        x->w = *w;
        x->w.partition = -1;
        x->w.correction = x->w.provisional = false;
        fresh = true;
    }
    for (int i = 0; i < d->ncols; i++) {
        if (d->cols[i].type == METRIC_STR) {
            /* keys are equal; an attribute merges as the smallest seen */
            char cand[48];
            snprintf(cand, sizeof cand, "%.*s", (int)v[i].n, v[i].s);
            if (fresh || strcmp(cand, x->str[i]) < 0) memcpy(x->str[i], cand, sizeof cand);
        } else if (d->cols[i].merge == MERGE_SUM) {
            x->v[i].i += v[i].i;
        }
    }
    return 0;
}

static inline stream_sink tl_sum_sink(tl_sum *t) {
    return (stream_sink){t, tl_sum_add, NULL};
}

/* Renders the sums in tl_row's format (ratios recomputed); rows whose values are all zero
 * (none expected) are rendered too. */
static inline void tl_sum_render(tl_sum *t, tl_rec *out) {
    for (size_t i = 0; i < t->n; i++) {
        tl_sum_row *x = &t->r[i];
        const metric_def *d = metric_get(x->m);
        for (int c = 0; c < d->ncols; c++)
            if (d->cols[c].type == METRIC_STR) x->v[c] = (metric_val){.s = x->str[c], .n = strlen(x->str[c])};
        metric_row_derive(d, x->v);
        tl_row(out, x->m, &x->w, x->v);
    }
}

static inline void tl_sum_free(tl_sum *t) {
    free(t->r);
    memset(t, 0, sizeof *t);
}

static inline const char *tl_text(tl_rec *r) {
    return r->out.data ? r->out.data : "";
}

/* Sorts the lines of a text (for order-insensitive comparison); returns a malloc'd copy. */
static int tl_cmp_line(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}
static inline char *tl_sorted(const char *text) {
    size_t n = strlen(text), k = 0;
    char *copy = malloc(n + 1), *out = malloc(n + 2);
    char **lines = malloc((n + 1) * sizeof *lines);
    if (!copy || !out || !lines) abort();
    memcpy(copy, text, n + 1);
    for (char *p = strtok(copy, "\n"); p; p = strtok(NULL, "\n")) lines[k++] = p;
    qsort(lines, k, sizeof *lines, tl_cmp_line);
    out[0] = 0;
    size_t o = 0;
    for (size_t i = 0; i < k; i++) o += (size_t)sprintf(out + o, "%s\n", lines[i]);
    free(copy);
    free(lines);
    return out;
}

#endif
