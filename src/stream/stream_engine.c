/*
 * stream_engine.c — the engine: per-event state updates (process), late events into correction
 * deltas, watermark and closing (advance/flush). Rows are built in stream_emit.c. See
 * stream_internal.h for the slot model and docs/stream.md for the semantics.
 */
#include "stream/stream_internal.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "util/util.h"

void stream_config_default(stream_config *c) {
    memset(c, 0, sizeof *c);
    c->window_us = 60 * TIME_US_PER_SEC;
    c->lateness_us = 120 * TIME_US_PER_SEC;
    c->view_to_cart_us = 30 * 60 * TIME_US_PER_SEC;
    c->cart_to_purchase_us = 60 * 60 * TIME_US_PER_SEC;
    c->idle_timeout_us = 10 * TIME_US_PER_SEC;
    c->n_partitions = 1;
    c->n_sources = 1;
    c->mode = STREAM_EMIT_MERGED;
}

int stream_config_check(const stream_config *c, char *err, size_t errlen) {
    const int64_t year = 366LL * 86400 * TIME_US_PER_SEC;
    if (c->window_us <= 0 || c->window_us > year)
        return err_set(err, errlen, "window must be > 0 and at most a year"), -1;
    if (c->lateness_us < 0 || c->view_to_cart_us < 0 || c->cart_to_purchase_us < 0 ||
        c->idle_timeout_us < 0)
        return err_set(err, errlen, "durations must not be negative"), -1;
    if (c->lateness_us > year || c->view_to_cart_us > year || c->cart_to_purchase_us > year)
        return err_set(err, errlen, "durations must be at most a year"), -1;
    if (c->n_partitions < 1 || c->n_partitions > STREAM_MAX_PARTITIONS)
        return err_set(err, errlen, "partitions must be 1..%d", STREAM_MAX_PARTITIONS), -1;
    if (c->n_sources < 1 || c->n_sources > STREAM_MAX_SOURCES)
        return err_set(err, errlen, "sources must be 1..%d", STREAM_MAX_SOURCES), -1;
    if (c->mode != STREAM_EMIT_MERGED && c->mode != STREAM_EMIT_PARTIAL)
        return err_set(err, errlen, "unknown emit mode"), -1;
    return 0;
}

int64_t st_floordiv(int64_t a, int64_t b) {
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) q--;
    return q;
}

/* Highest window index a watermark closes: window j is closed when (j+1)*w <= wm. */
static int64_t closable(const stream_engine *e, int64_t wm) {
    if (wm == INT64_MIN) return INT64_MIN;
    return st_floordiv(wm, e->cfg.window_us) - 1;
}

/* A shard's own watermark: its newest event time minus the lateness, where "newest" is that
 * of its slowest source that is neither idle nor caught up. A source that has sent nothing yet
 * holds the shard back until it turns idle (so a topic that is fetched later than its siblings
 * does not see its events declared late); when every source is idle or caught up the newest
 * event of any counts. */
static int64_t local_wm(const stream_engine *e, const st_shard *s) {
    int64_t m = s->max_ts;
    if (e->cfg.n_sources > 1) {
        int64_t lo = INT64_MAX;
        for (int i = 0; i < e->cfg.n_sources; i++) {
            if (s->src_idle[i] || s->src_caught[i]) continue;
            if (s->src_max[i] < lo) lo = s->src_max[i];
        }
        if (lo != INT64_MAX) m = lo;
    }
    return m == INT64_MIN ? INT64_MIN : m - e->cfg.lateness_us;
}

static int64_t shard_wm(const stream_engine *e, const st_shard *s) {
    int64_t l = local_wm(e, s);
    return l > s->forced ? l : s->forced;
}

/* ---- slots ---- */

void st_slot_free(st_slot *sl) {
    st_agg_free(sl->ag);
    free(sl->eval.v);
    free(sl->expire.v);
    free(sl);
}

/* Finds slot j or creates it in order (the part of st_shard_slot past its cache). */
static st_slot *slot_find(st_shard *s, int64_t j, bool create);
st_slot *st_shard_slot_find(st_shard *s, int64_t j, bool create) {
    st_slot *sl = slot_find(s, j, create);
    if (sl) {
        s->hot[1] = s->hot[0];
        s->hot[0] = sl;
    }
    return sl;
}

static st_slot *slot_find(st_shard *s, int64_t j, bool create) {
    uint32_t lo = 0, hi = s->n_slots;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (s->slots[mid]->j < j)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < s->n_slots && s->slots[lo]->j == j) return s->slots[lo];
    if (!create) return NULL;
    if (s->n_slots == s->cap_slots) {
        uint32_t nc = s->cap_slots ? s->cap_slots * 2 : 16;
        st_slot **v = realloc(s->slots, nc * sizeof *v);
        if (!v) return NULL;
        s->slots = v;
        s->cap_slots = nc;
    }
    st_slot *sl = calloc(1, sizeof *sl);
    if (!sl) return NULL;
    sl->j = j;
    memmove(s->slots + lo + 1, s->slots + lo, (s->n_slots - lo) * sizeof *s->slots);
    s->slots[lo] = sl;
    s->n_slots++;
    return sl;
}

void st_shard_reset(st_shard *s) {
    for (uint32_t i = 0; i < s->n_slots; i++) st_slot_free(s->slots[i]);
    free(s->slots);
    for (uint32_t i = s->closed_head; i < s->n_closed; i++) st_agg_free(s->closed[i].ag);
    free(s->closed);
    for (uint32_t i = 0; i < s->n_corr; i++) st_agg_free(s->corr[i].ag);
    free(s->corr);
    st_pairtab_free(&s->pairs);
    st_dedup_free(&s->dd);
    memset(s, 0, sizeof *s);
    s->dd.min_k = INT64_MAX;
    s->last_active_us = INT64_MIN;
    s->next_offset = -1;
    s->max_ts = s->forced = s->closed_through = INT64_MIN;
    for (int i = 0; i < STREAM_MAX_SOURCES; i++) s->src_max[i] = s->src_active_us[i] = INT64_MIN;
}

int64_t stream_config_funnel_horizon_us(const stream_config *c) {
    int64_t f = c->view_to_cart_us + c->cart_to_purchase_us;
    return (f + c->window_us - 1) / c->window_us * c->window_us;
}

/* ---- engine ---- */

stream_engine *stream_engine_new(const stream_config *cfg, const stream_sink *sink, char *err,
                                 size_t errlen) {
    if (stream_config_check(cfg, err, errlen) || st_emit_check_catalog(err, errlen)) return NULL;
    stream_engine *e = calloc(1, sizeof *e);
    if (!e) return err_set(err, errlen, "out of memory"), NULL;
    e->cfg = *cfg;
    if (sink) e->sink = *sink;
    e->fw = stream_config_funnel_horizon_us(cfg) / cfg->window_us;
    e->dd_keep = (cfg->lateness_us + cfg->window_us - 1) / cfg->window_us + 1;
    e->global_wm = INT64_MIN;
    e->shards = calloc((size_t)cfg->n_partitions, sizeof *e->shards);
    if (!e->shards) {
        free(e);
        return err_set(err, errlen, "out of memory"), NULL;
    }
    for (int i = 0; i < cfg->n_partitions; i++) {
        st_shard_reset(&e->shards[i]);
        e->shards[i].assigned = true;
    }
    return e;
}

void stream_engine_free(stream_engine *e) {
    if (!e) return;
    for (int i = 0; i < e->cfg.n_partitions; i++) st_shard_reset(&e->shards[i]);
    free(e->shards);
    free(e);
}

/* ---- process: the hot path ---- */

/* Drops the add/purchase times of p that no open or pending anchor can use any more (their
 * window + fw is already closed); done only when p's element array is full, so amortised. */
static void pair_prune(stream_engine *e, st_shard *s, st_pair *p) {
    if (s->closed_through == INT64_MIN) return;
    uint32_t o = 0;
    for (uint32_t i = 0; i < p->n_el; i++) {
        st_el el = p->el[i];
        if (el.kind != EL_VIEW && st_floordiv(el.t, e->cfg.window_us) + e->fw <= s->closed_through)
            continue;
        p->el[o++] = el;
    }
    s->pairs.n_el -= p->n_el - o;
    p->n_el = o;
}

/* Registers pair p as touched by an event of window k: it must live until slot k + fw. */
static int pair_touch(stream_engine *e, st_shard *s, st_pair *p, int64_t k) {
    int64_t x = k + e->fw;
    if (x <= p->exp) return 0;
    p->exp = x;
    st_slot *sl = st_shard_slot(s, x, true);
    return sl ? st_pairvec_push(&sl->expire, p) : -1;
}

static int funnel_view(stream_engine *e, st_shard *s, const event *ev, int64_t k, uint64_t h) {
    st_pair *p = st_pairtab_get(&s->pairs, h, ev->user_id, ev->product_id, true, NULL);
    if (!p || st_pair_mark(&s->pairs, p)) return -1;
    for (uint32_t i = 0; i < p->n_el; i++) {
        st_el *el = &p->el[i];
        if (el->kind == EL_VIEW && st_floordiv(el->t, e->cfg.window_us) == k) {
            if (ev->ts_us < el->t) el->t = ev->ts_us;
            return 0;
        }
    }
    if (p->n_el == p->cap_el) pair_prune(e, s, p);
    if (st_pair_push(&s->pairs, p, ev->ts_us, EL_VIEW)) return -1;
    st_slot *sl = st_shard_slot(s, k + e->fw, true);
    if (!sl || st_pairvec_push(&sl->eval, p)) return -1;
    return pair_touch(e, s, p, k);
}

static int funnel_time(stream_engine *e, st_shard *s, uint64_t h, strview user, strview product,
                       int64_t ts, int32_t kind, int64_t k) {
    st_pair *p = st_pairtab_get(&s->pairs, h, user, product, true, NULL);
    if (!p || st_pair_mark(&s->pairs, p)) return -1;
    if (kind == EL_BUY && p->n_el && p->el[p->n_el - 1].kind == EL_BUY &&
        p->el[p->n_el - 1].t == ts)
        return 0; /* same product twice in one order */
    if (p->n_el == p->cap_el) pair_prune(e, s, p);
    if (st_pair_push(&s->pairs, p, ts, kind)) return -1;
    return pair_touch(e, s, p, k);
}

/* Adds one event to aggregate a: the measured-hot step (typed tables, no catalog lookups); the
 * catalog's columns are filled from these fields in stream_emit.c. */
static int agg_event(st_agg *a, const event *ev) {
    if (ev->type == EV_PAGE_VIEW) {
        st_cat *c = st_agg_cat(a, ev->category);
        st_prod *p = c ? st_agg_prod(a, ev->product_id, ev->product_name, ev->category) : NULL;
        if (!p) return -1;
        c->views++;
        p->views++;
        return 0;
    }
    if (ev->type == EV_ADD_TO_CART) {
        st_cat *c = st_agg_cat(a, ev->category);
        st_prod *p = c ? st_agg_prod(a, ev->product_id, ev->product_name, ev->category) : NULL;
        if (!p) return -1;
        c->adds++;
        p->adds++;
        return 0;
    }
    if (ev->type == EV_REMOVE_FROM_CART) {
        st_cat *c = st_agg_cat(a, ev->category);
        if (!c) return -1;
        c->removes++;
        return 0;
    }
    st_city *ci = st_agg_city(a, ev->province, ev->city, ev->store_type);
    st_chan *ch = ci ? st_agg_chan(a, ev->store_type, ev->device) : NULL;
    if (!ch) return -1;
    ci->orders++;
    ci->revenue += ev->total_cents;
    ch->orders++;
    ch->revenue += ev->total_cents;
    a->orders++;
    a->revenue += ev->total_cents;
    for (size_t i = 0; i < ev->n_items; i++) {
        const event_item *it = &ev->items[i];
        int64_t cents = (int64_t)it->quantity * it->unit_price_cents;
        st_cat *c = st_agg_cat(a, it->category);
        st_prod *p = c ? st_agg_prod(a, it->product_id, it->product_name, it->category) : NULL;
        if (!p) return -1;
        c->units += it->quantity;
        c->revenue += cents;
        p->units += it->quantity;
        p->revenue += cents;
        a->items += it->quantity;
    }
    return 0;
}

static int apply_agg(st_slot *sl, const event *ev) {
    if (!sl->ag && !(sl->ag = st_agg_new())) return -1;
    sl->dirty = true;
    return agg_event(sl->ag, ev);
}

/* h is the pair hash of (user, product) for a view or an add (0 for other events). */
static int apply_funnel(stream_engine *e, st_shard *s, const event *ev, int64_t k, uint64_t h) {
    switch (ev->type) {
    case EV_PAGE_VIEW:
        return funnel_view(e, s, ev, k, h);
    case EV_ADD_TO_CART:
        return funnel_time(e, s, h, ev->user_id, ev->product_id, ev->ts_us, EL_ADD, k);
    case EV_PURCHASE:
        for (size_t i = 0; i < ev->n_items; i++) {
            strview pid = ev->items[i].product_id;
            if (funnel_time(e, s, st_pair_hash(ev->user_id, pid), ev->user_id, pid, ev->ts_us, EL_BUY, k))
                return -1;
        }
        return 0;
    default:
        return 0;
    }
}

st_corr *st_shard_corr(st_shard *s, int64_t j, bool create) {
    uint32_t lo = 0, hi = s->n_corr;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (s->corr[mid].j < j)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < s->n_corr && s->corr[lo].j == j) return &s->corr[lo];
    if (!create) return NULL;
    if (s->n_corr == s->cap_corr) {
        uint32_t nc = s->cap_corr ? s->cap_corr * 2 : 8;
        st_corr *v = realloc(s->corr, nc * sizeof *v);
        if (!v) return NULL;
        s->corr = v;
        s->cap_corr = nc;
    }
    memmove(s->corr + lo + 1, s->corr + lo, (s->n_corr - lo) * sizeof *s->corr);
    s->corr[lo] = (st_corr){j, NULL};
    s->n_corr++;
    return &s->corr[lo];
}

/* A late event (its window k is closed in this shard; ph as apply_funnel's): its aggregates go
 * to window k's correction deltas, emitted at the next advance; it joins the funnel state like
 * an on-time event if window k's funnel slot is still open (then it counts for every funnel
 * window not yet final; see stream.h for what is not corrected). */
static int late_apply(stream_engine *e, st_shard *s, const event *ev, int64_t k, uint64_t ph) {
    st_corr *c = st_shard_corr(s, k, true);
    if (!c || (!c->ag && !(c->ag = st_agg_new())) || agg_event(c->ag, ev)) return -1;
    if (k + e->fw <= s->closed_through) return 0;
    return apply_funnel(e, s, ev, k, ph);
}

/* Ids of windows <= this are forgotten: kept dd_keep windows after their window closed. */
static int64_t dd_live_after(const stream_engine *e, const st_shard *s) {
    return s->closed_through == INT64_MIN ? INT64_MIN : s->closed_through - e->dd_keep;
}

int stream_engine_process(stream_engine *e, int part, int64_t offset, const event *ev) {
    return stream_engine_process_from(e, part, 0, offset, ev);
}

 /* Inlined in both entry points (event_keys, process_shard, process_in): as calls of their own, keys passed through
 * memory, the three cost ~80 instructions an event more than the one function they were
 * (callgrind, one thread). */
#define ST_HOT static inline __attribute__((always_inline))

/* The keys of ev (stream_event_keys_of); s: the shard it goes to, whose dedup and pair slots
 * are then prefetched as soon as their hashes are known, so that the misses overlap with the
 * content hash (the one-thread path); NULL: pure. */
ST_HOT void event_keys(const stream_config *c, const event *ev, stream_event_keys *out, const st_shard *s) {
    st_id id = ev->id_packed ? (st_id){ev->id_hi, ev->id_lo} : st_id_of(ev->event_id);
    if (s) st_dedup_prefetch(&s->dd, id);
    uint64_t ph = 0;
    if (ev->type == EV_PAGE_VIEW || ev->type == EV_ADD_TO_CART) {
        ph = st_pair_hash(ev->user_id, ev->product_id);
        if (s) st_pairtab_prefetch(&s->pairs, ph);
    }
    *out = (stream_event_keys){.id_a = id.a, .id_b = id.b, .content = st_event_hash(ev), .pair = ph,
                               .k = st_floordiv(ev->ts_us, c->window_us)};
}

void stream_event_keys_of(const stream_config *c, const event *ev, stream_event_keys *out) {
    event_keys(c, ev, out, NULL);
}

/* The shard an event read from (part, src) goes to, NULL when the engine refuses it (part or
 * src out of range or not assigned, a bad type, a time beyond STREAM_MAX_ABS_TIME_US). */
ST_HOT st_shard *process_shard(stream_engine *e, int part, int src, const event *ev) {
    if (part < 0 || part >= e->cfg.n_partitions || src < 0 || src >= e->cfg.n_sources ||
        (unsigned)ev->type >= EV_TYPE_COUNT || ev->ts_us <= -STREAM_MAX_ABS_TIME_US ||
        ev->ts_us >= STREAM_MAX_ABS_TIME_US)
        return NULL;
    st_shard *s = &e->shards[part];
    return s->assigned ? s : NULL;
}

void stream_engine_prefetch(const stream_engine *e, int part, const stream_event_keys *keys) {
    if (part < 0 || part >= e->cfg.n_partitions) return;
    const st_shard *s = &e->shards[part];
    st_dedup_prefetch(&s->dd, (st_id){keys->id_a, keys->id_b});
    if (keys->pair) st_pairtab_prefetch(&s->pairs, keys->pair);
}

/* Decides ev (keys: its keys) in shard s, which process_shard gave for it: both entry points. */
ST_HOT int process_in(stream_engine *e, st_shard *s, int src, int64_t offset, const event *ev,
                      const stream_event_keys *keys) {
    s->next_offset = offset + 1;
    s->touched = true;
    s->src_touched[src] = true;
    s->src_caught[src] = false;
    int64_t k = keys->k;
    int d = st_dedup_check(&s->dd, (st_id){keys->id_a, keys->id_b}, keys->content, k, dd_live_after(e, s));
    if (d < 0) return -1;
    if (d == ST_DD_DUP) {
        s->dup[ev->type]++;
        return STREAM_DUPLICATE;
    }
    if (d == ST_DD_CONFLICT) {
        s->conflict[ev->type]++;
        return STREAM_CONFLICT;
    }
    if (k <= closable(e, shard_wm(e, s))) {
        s->late[ev->type]++;
        return late_apply(e, s, ev, k, keys->pair) ? -1 : STREAM_LATE;
    }
    st_slot *sl = st_shard_slot(s, k, true);
    if (!sl) return -1;
    if (ev->ts_us > s->max_ts) s->max_ts = ev->ts_us;
    if (ev->ts_us > s->src_max[src]) s->src_max[src] = ev->ts_us;
    if (apply_agg(sl, ev) || apply_funnel(e, s, ev, k, keys->pair)) return -1;
    s->ok[ev->type]++;
    return STREAM_OK;
}

int stream_engine_process_from(stream_engine *e, int part, int src, int64_t offset, const event *ev) {
    st_shard *s = process_shard(e, part, src, ev);
    if (!s) return -1;
    stream_event_keys keys;
    event_keys(&e->cfg, ev, &keys, s);
    return process_in(e, s, src, offset, ev, &keys);
}

int stream_engine_process_keyed(stream_engine *e, int part, int src, int64_t offset, const event *ev,
                                const stream_event_keys *keys) {
    st_shard *s = process_shard(e, part, src, ev);
    return s ? process_in(e, s, src, offset, ev, keys) : -1;
}

/* ---- closing ---- */

/* Join result of one pair for its anchor t0: carted when an add falls in [t0, t0 + v2c];
 * purchased when, for such an add at ta, a purchase falls in [ta, ta + c2p]. */
static void pair_eval(const stream_engine *e, const st_pair *p, int64_t t0, bool *carted,
                      bool *bought) {
    *carted = *bought = false;
    for (uint32_t i = 0; i < p->n_el; i++) {
        const st_el *a = &p->el[i];
        if (a->kind != EL_ADD || a->t < t0 || a->t > t0 + e->cfg.view_to_cart_us) continue;
        *carted = true;
        for (uint32_t j = 0; j < p->n_el; j++) {
            const st_el *b = &p->el[j];
            if (b->kind == EL_BUY && b->t >= a->t && b->t <= a->t + e->cfg.cart_to_purchase_us) {
                *bought = true;
                return;
            }
        }
    }
}

/* Counts the funnel of window j - fw over the pairs anchored there (slot j's eval list). With
 * consume, the anchors are removed (the window is final). A checkpoint delta does not list
 * the pairs changed only by this: the restore replays it (stream_ckpt.c ck_consume), so keep
 * the two in step. */
static void funnel_count(const stream_engine *e, st_slot *sl, st_pairtab *consume,
                         int64_t *viewed, int64_t *carted, int64_t *bought) {
    int64_t k = sl->j - e->fw;
    for (uint32_t i = 0; i < sl->eval.n; i++) {
        /* the pairs are scattered over the heap: fetch a few ahead (a closing window walks
         * thousands of them, each a cache miss otherwise) */
        if (i + 8 < sl->eval.n) __builtin_prefetch(sl->eval.v[i + 8]);
        st_pair *p = sl->eval.v[i];
        for (uint32_t x = 0; x < p->n_el; x++) {
            if (p->el[x].kind != EL_VIEW || st_floordiv(p->el[x].t, e->cfg.window_us) != k)
                continue;
            bool c, b;
            pair_eval(e, p, p->el[x].t, &c, &b);
            (*viewed)++;
            *carted += c;
            *bought += c && b;
            if (consume) {
                p->el[x] = p->el[--p->n_el];
                consume->n_el--;
            }
            break;
        }
    }
}

static int closed_push(st_shard *s, st_closed c) {
    if (s->n_closed == s->cap_closed) {
        if (s->closed_head > 0) { /* compact consumed entries first */
            memmove(s->closed, s->closed + s->closed_head,
                    (s->n_closed - s->closed_head) * sizeof *s->closed);
            s->n_closed -= s->closed_head;
            s->closed_head = 0;
        }
        if (s->n_closed == s->cap_closed) {
            uint32_t nc = s->cap_closed ? s->cap_closed * 2 : 16;
            st_closed *v = realloc(s->closed, nc * sizeof *v);
            if (!v) return -1;
            s->closed = v;
            s->cap_closed = nc;
        }
    }
    s->closed[s->n_closed++] = c;
    return 0;
}

/* Closes the first slot of shard s (index j): final funnel of window j - fw, final aggregates
 * of window j (emitted now in PARTIAL mode, parked for the global watermark in MERGED mode),
 * dedup ids dropped, expiring pairs freed. */
static int close_first_slot(stream_engine *e, int part) {
    st_shard *s = &e->shards[part];
    st_slot *sl = s->slots[0];
    memmove(s->slots, s->slots + 1, (s->n_slots - 1) * sizeof *s->slots);
    s->n_slots--;
    if (s->hot[0] == sl) s->hot[0] = NULL;
    if (s->hot[1] == sl) s->hot[1] = NULL;
    s->closed_through = sl->j;
    st_closed c = {sl->j, sl->ag, sl->eval.n > 0, 0, 0, 0};
    sl->ag = NULL;
    funnel_count(e, sl, &s->pairs, &c.viewed, &c.carted, &c.purchased);
    int rc = 0;
    if (e->cfg.mode == STREAM_EMIT_PARTIAL) {
        if (c.ag) rc = st_emit_agg(e, &e->sink, st_window(e, c.j, part, false, false), c.ag, true);
        if (!rc && c.has_funnel)
            rc = st_emit_funnel(e, &e->sink, st_window(e, c.j - e->fw, part, false, false), c.viewed,
                                c.carted, c.purchased);
        st_agg_free(c.ag);
    } else if (c.ag || c.has_funnel) {
        if (closed_push(s, c)) {
            st_agg_free(c.ag);
            rc = -1;
        }
    }
    /* as in funnel_count: the pair 8 ahead, and the table slot of the one 4 ahead, whose hash
     * (recomputed from its key: a pair does not keep it) is kept for its removal in hq */
    st_pair **ex = sl->expire.v;
    uint64_t hq[4];
    for (uint32_t i = 0; i < 4 && i < sl->expire.n; i++) hq[i] = st_pair_key_hash(ex[i]);
    for (uint32_t i = 0; i < sl->expire.n; i++) {
        uint64_t h = hq[i & 3];
        if (i + 8 < sl->expire.n) __builtin_prefetch(ex[i + 8]);
        if (i + 4 < sl->expire.n) {
            hq[(i + 4) & 3] = st_pair_key_hash(ex[i + 4]);
            st_pairtab_prefetch(&s->pairs, hq[(i + 4) & 3]);
        }
        if (ex[i]->exp == sl->j) st_pairtab_remove_h(&s->pairs, ex[i], h);
    }
    /* At the end of the input (stream_engine_flush) the table only empties: each halving
     * there faulted in a fresh slot array (16 MiB, then 8, ...: zeroed huge pages) to be
     * dropped a few windows later, so it shrinks once, when it is empty. */
    if (e->global_wm != INT64_MAX || s->pairs.n == 0) st_pairtab_shrink(&s->pairs);
    st_slot_free(sl);
    return rc;
}

static int shard_close_through(stream_engine *e, int part, int64_t jmax) {
    st_shard *s = &e->shards[part];
    while (s->n_slots && s->slots[0]->j <= jmax)
        if (close_first_slot(e, part)) return -1;
    if (jmax > s->closed_through) s->closed_through = jmax;
    return st_dedup_expire(&s->dd, dd_live_after(e, s));
}

/* MERGED mode: emits, in index order, every parked closed slot with j <= jmax, merging the
 * shards' partials of the same index. */
static int emit_merged(stream_engine *e, int64_t jmax) {
    int n = e->cfg.n_partitions;
    for (;;) {
        int64_t j = INT64_MAX;
        int nsrc = 0, src = -1;
        for (int i = 0; i < n; i++) {
            st_shard *s = &e->shards[i];
            if (s->closed_head < s->n_closed && s->closed[s->closed_head].j <= j) {
                if (s->closed[s->closed_head].j < j) {
                    j = s->closed[s->closed_head].j;
                    nsrc = 0;
                }
                nsrc++;
                src = i;
            }
        }
        if (j == INT64_MAX || j > jmax) return 0;
        st_agg *m = NULL;
        st_rows acc = {0}; /* several shards: their rows merged by the catalog's rules */
        stream_window w = st_window(e, j, -1, false, false);
        bool has_funnel = false;
        int64_t v = 0, c = 0, b = 0;
        int rc = 0;
        if (nsrc == 1) { /* the common case with one shard: no copy */
            st_closed *cl = &e->shards[src].closed[e->shards[src].closed_head];
            m = cl->ag;
            has_funnel = cl->has_funnel;
            v = cl->viewed, c = cl->carted, b = cl->purchased;
            e->shards[src].closed_head++;
        } else {
            for (int i = 0; i < n; i++) {
                st_shard *s = &e->shards[i];
                if (s->closed_head >= s->n_closed || s->closed[s->closed_head].j != j) continue;
                st_closed *cl = &s->closed[s->closed_head++];
                if (cl->ag) {
                    if (!rc) rc = st_emit_agg_into(&acc, w, cl->ag);
                    st_agg_free(cl->ag);
                }
                has_funnel |= cl->has_funnel;
                v += cl->viewed, c += cl->carted, b += cl->purchased;
            }
        }
        if (!rc && m) rc = st_emit_agg(e, &e->sink, w, m, true);
        if (!rc) rc = st_rows_emit(&acc, &e->sink, &w);
        if (!rc && has_funnel)
            rc = st_emit_funnel(e, &e->sink, st_window(e, j - e->fw, -1, false, false), v, c, b);
        st_agg_free(m);
        st_rows_free(&acc);
        if (rc) return -1;
    }
}

/* Emits and drops the pending corrections of windows <= jmax (correction rows). PARTIAL: each
 * shard's own (all of them: a shard's corrections are of windows it has closed and emitted).
 * MERGED: merged over the shards per window, in window order, only once the global watermark
 * has passed the window (so after its final row). */
static int emit_corrections(stream_engine *e, int64_t jmax) {
    int n = e->cfg.n_partitions;
    if (e->cfg.mode == STREAM_EMIT_PARTIAL) {
        for (int i = 0; i < n; i++) {
            st_shard *s = &e->shards[i];
            int rc = 0;
            for (uint32_t x = 0; x < s->n_corr; x++) {
                if (!rc && s->corr[x].ag)
                    rc = st_emit_agg(e, &e->sink, st_window(e, s->corr[x].j, i, false, true), s->corr[x].ag, true);
                st_agg_free(s->corr[x].ag);
            }
            s->n_corr = 0;
            if (rc) return -1;
        }
        return 0;
    }
    for (;;) {
        int64_t j = INT64_MAX;
        for (int i = 0; i < n; i++)
            if (e->shards[i].n_corr && e->shards[i].corr[0].j < j) j = e->shards[i].corr[0].j;
        if (j == INT64_MAX || j > jmax) return 0;
        stream_window w = st_window(e, j, -1, false, true);
        st_agg *one = NULL; /* the deltas of the only shard with some: emitted without a merge */
        st_rows acc = {0};
        int rc = 0, nag = 0;
        for (int i = 0; i < n; i++) {
            st_shard *s = &e->shards[i];
            if (!s->n_corr || s->corr[0].j != j) continue;
            st_agg *a = s->corr[0].ag;
            memmove(s->corr, s->corr + 1, (s->n_corr - 1) * sizeof *s->corr);
            s->n_corr--;
            if (!a) continue;
            if (++nag == 1) {
                one = a;
                continue;
            }
            if (nag == 2 && !rc) rc = st_emit_agg_into(&acc, w, one);
            if (!rc) rc = st_emit_agg_into(&acc, w, a);
            st_agg_free(a);
        }
        if (!rc && nag == 1) rc = st_emit_agg(e, &e->sink, w, one, true);
        if (!rc && nag > 1) rc = st_rows_emit(&acc, &e->sink, &w);
        st_agg_free(one);
        st_rows_free(&acc);
        if (rc) return -1;
    }
}

void stream_engine_touch(stream_engine *e, int part, int src) {
    if (part < 0 || part >= e->cfg.n_partitions || src < 0 || src >= e->cfg.n_sources) return;
    e->shards[part].touched = true;
    e->shards[part].src_touched[src] = true;
    e->shards[part].src_caught[src] = false;
}

/* Why this cannot make an event late that alignment would have kept on time: alignment waits
 * for a source only because its unread events may be older than what its siblings delivered
 * (read skew). A source with nothing left to read has no unread events, so its next event is
 * produced after wall_us. In a live shard (newest event within idle_timeout of the wall clock:
 * events are stamped when created) that event is then late only if it is older than the
 * shard's newest event by more than the lateness, which is the rule for any event of a single
 * stream. A backfill (old timestamps produced faster than real time) is not live: there a
 * caught-up topic may still be behind its siblings in event time, so only the idle rule
 * applies. Nothing is lost either way: late events become correction rows. */
void stream_engine_caught_up(stream_engine *e, int part, int src, int64_t wall_us) {
    if (part < 0 || part >= e->cfg.n_partitions || src < 0 || src >= e->cfg.n_sources) return;
    st_shard *s = &e->shards[part];
    int64_t age = s->max_ts == INT64_MIN ? INT64_MAX : wall_us - s->max_ts; /* |age| fits: both < 2^60 */
    s->src_caught[src] = e->cfg.idle_timeout_us > 0 && age <= e->cfg.idle_timeout_us && age >= -e->cfg.idle_timeout_us;
}

static bool shard_idle(const stream_engine *e, const st_shard *s, int64_t now) {
    return e->cfg.idle_timeout_us > 0 && s->last_active_us != INT64_MIN &&
           now - s->last_active_us >= e->cfg.idle_timeout_us;
}

int stream_engine_advance(stream_engine *e, int64_t now_us, char *err, size_t errlen) {
    int n = e->cfg.n_partitions;
    int64_t g = INT64_MAX;
    bool any = false;
    for (int i = 0; i < n; i++) {
        st_shard *s = &e->shards[i];
        if (!s->assigned) continue;
        if (s->touched || s->last_active_us == INT64_MIN) s->last_active_us = now_us;
        s->touched = false;
        for (int k = 0; k < e->cfg.n_sources; k++) {
            if (s->src_touched[k] || s->src_active_us[k] == INT64_MIN) s->src_active_us[k] = now_us;
            s->src_touched[k] = false;
            s->src_idle[k] = e->cfg.idle_timeout_us > 0 && now_us - s->src_active_us[k] >= e->cfg.idle_timeout_us;
        }
        s->idle = shard_idle(e, s, now_us);
        if (s->idle) continue;
        int64_t l = local_wm(e, s);
        if (l < g) g = l;
        any = true;
    }
    if (any && g > e->global_wm) e->global_wm = g;
    for (int i = 0; i < n; i++) {
        st_shard *s = &e->shards[i];
        if (!s->assigned) continue;
        if (e->global_wm > s->forced) s->forced = e->global_wm;
        int64_t jmax = closable(e, shard_wm(e, s));
        if (jmax > s->closed_through && shard_close_through(e, i, jmax))
            return err_set(err, errlen, "out of memory or sink failed"), -1;
    }
    if (e->cfg.mode == STREAM_EMIT_MERGED && emit_merged(e, closable(e, e->global_wm)))
        return err_set(err, errlen, "out of memory or sink failed"), -1;
    if (emit_corrections(e, closable(e, e->global_wm)))
        return err_set(err, errlen, "out of memory or sink failed"), -1;
    return 0;
}

int stream_engine_flush(stream_engine *e, char *err, size_t errlen) {
    e->global_wm = INT64_MAX;
    for (int i = 0; i < e->cfg.n_partitions; i++) {
        st_shard *s = &e->shards[i];
        if (!s->assigned) continue;
        s->forced = INT64_MAX;
        if (shard_close_through(e, i, INT64_MAX - 1))
            return err_set(err, errlen, "out of memory or sink failed"), -1;
    }
    if (e->cfg.mode == STREAM_EMIT_MERGED && emit_merged(e, INT64_MAX - 1))
        return err_set(err, errlen, "out of memory or sink failed"), -1;
    if (emit_corrections(e, INT64_MAX - 1)) return err_set(err, errlen, "out of memory or sink failed"), -1;
    return 0;
}

/* ---- provisional snapshot ---- */

typedef struct {
    int64_t k;      /* window index of the aggregate, or of the funnel */
    int32_t part;
    bool funnel;
    st_agg *ag;
    int64_t v, c, b;
} snap_item;

static int snap_cmp(const void *x, const void *y) {
    const snap_item *a = x, *b = y;
    if (a->k != b->k) return a->k < b->k ? -1 : 1;
    if (a->funnel != b->funnel) return a->funnel ? 1 : -1;
    return a->part < b->part ? -1 : a->part > b->part;
}

static int snap_push(snap_item **v, size_t *n, size_t *cap, snap_item it) {
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        snap_item *p = realloc(*v, nc * sizeof *p);
        if (!p) return -1;
        *v = p;
        *cap = nc;
    }
    (*v)[(*n)++] = it;
    return 0;
}

/* Collects every not-yet-emitted aggregate and funnel count of every shard. */
static int snap_collect(stream_engine *e, snap_item **v, size_t *n, size_t *cap) {
    for (int i = 0; i < e->cfg.n_partitions; i++) {
        st_shard *s = &e->shards[i];
        if (!s->assigned) continue;
        for (uint32_t x = s->closed_head; x < s->n_closed; x++) {
            st_closed *c = &s->closed[x];
            if (c->ag && snap_push(v, n, cap, (snap_item){c->j, i, false, c->ag, 0, 0, 0}))
                return -1;
            if (c->has_funnel && snap_push(v, n, cap,
                                           (snap_item){c->j - e->fw, i, true, NULL, c->viewed,
                                                       c->carted, c->purchased}))
                return -1;
        }
        for (uint32_t x = 0; x < s->n_slots; x++) {
            st_slot *sl = s->slots[x];
            if (sl->ag && snap_push(v, n, cap, (snap_item){sl->j, i, false, sl->ag, 0, 0, 0}))
                return -1;
            if (sl->eval.n) {
                snap_item it = {sl->j - e->fw, i, true, NULL, 0, 0, 0};
                funnel_count(e, sl, NULL, &it.v, &it.c, &it.b);
                if (snap_push(v, n, cap, it)) return -1;
            }
        }
    }
    return 0;
}

int stream_engine_snapshot(stream_engine *e, const stream_sink *sink, char *err, size_t errlen) {
    snap_item *v = NULL;
    size_t n = 0, cap = 0;
    int rc = snap_collect(e, &v, &n, &cap);
    if (n) qsort(v, n, sizeof *v, snap_cmp);
    bool merged = e->cfg.mode == STREAM_EMIT_MERGED;
    for (size_t i = 0; !rc && i < n;) {
        size_t j = i + 1;
        if (merged)
            while (j < n && v[j].k == v[i].k && v[j].funnel == v[i].funnel) j++;
        int32_t part = merged ? -1 : v[i].part;
        if (v[i].funnel) {
            int64_t a = 0, b = 0, c = 0;
            for (size_t x = i; x < j; x++) a += v[x].v, b += v[x].c, c += v[x].b;
            rc = st_emit_funnel(e, sink, st_window(e, v[i].k, part, true, false), a, b, c);
        } else if (j == i + 1) {
            rc = st_emit_agg(e, sink, st_window(e, v[i].k, part, true, false), v[i].ag, false);
        } else {
            st_rows acc = {0};
            stream_window w = st_window(e, v[i].k, part, true, false);
            for (size_t x = i; !rc && x < j; x++) rc = st_emit_agg_into(&acc, w, v[x].ag);
            if (!rc) rc = st_rows_emit(&acc, sink, &w);
            st_rows_free(&acc);
        }
        i = j;
    }
    free(v);
    if (rc) err_set(err, errlen, "out of memory or sink failed");
    return rc;
}

/* ---- rebalance and introspection ---- */

int stream_engine_assign(stream_engine *e, int part, int64_t now_us) {
    if (part < 0 || part >= e->cfg.n_partitions) return -1;
    st_shard *s = &e->shards[part];
    st_shard_reset(s);
    s->assigned = true;
    s->last_active_us = now_us;
    /* a newly assigned partition cannot reopen what the global watermark closed */
    s->forced = e->global_wm == INT64_MAX ? INT64_MIN : e->global_wm;
    return 0;
}

int stream_engine_revoke(stream_engine *e, int part) {
    if (part < 0 || part >= e->cfg.n_partitions) return -1;
    st_shard_reset(&e->shards[part]);
    e->shards[part].assigned = false;
    return 0;
}

static uint64_t shard_entries(const stream_engine *e, const st_shard *s) {
    uint64_t n = s->n_slots + s->pairs.n + s->pairs.n_el + st_dedup_live(&s->dd, dd_live_after(e, s));
    for (uint32_t i = 0; i < s->n_slots; i++) {
        const st_slot *sl = s->slots[i];
        n += sl->ag ? st_agg_entries(sl->ag) : 0;
    }
    for (uint32_t i = s->closed_head; i < s->n_closed; i++)
        n += 1 + (s->closed[i].ag ? st_agg_entries(s->closed[i].ag) : 0);
    for (uint32_t i = 0; i < s->n_corr; i++) n += 1 + (s->corr[i].ag ? st_agg_entries(s->corr[i].ag) : 0);
    return n;
}

int stream_engine_partition_stats(const stream_engine *e, int part, stream_partition_stats *out) {
    if (part < 0 || part >= e->cfg.n_partitions) return -1;
    const st_shard *s = &e->shards[part];
    memset(out, 0, sizeof *out);
    out->assigned = s->assigned;
    out->idle = s->assigned && s->idle;
    out->next_offset = s->next_offset;
    out->max_event_us = s->max_ts;
    out->watermark_us = shard_wm(e, s);
    memcpy(out->ok, s->ok, sizeof out->ok);
    memcpy(out->duplicates, s->dup, sizeof out->duplicates);
    memcpy(out->late, s->late, sizeof out->late);
    memcpy(out->conflicts, s->conflict, sizeof out->conflicts);
    out->dedup_ids = st_dedup_live(&s->dd, dd_live_after(e, s));
    out->dedup_bytes = st_dedup_bytes(&s->dd);
    out->state_entries = shard_entries(e, s);
    out->funnel_pairs = s->pairs.n;
    return 0;
}

bool stream_engine_partition_assigned(const stream_engine *e, int part) {
    return part >= 0 && part < e->cfg.n_partitions && e->shards[part].assigned;
}

int64_t stream_engine_watermark(const stream_engine *e) {
    return e->global_wm;
}

uint64_t stream_engine_state_entries(const stream_engine *e) {
    uint64_t n = 0;
    for (int i = 0; i < e->cfg.n_partitions; i++) n += shard_entries(e, &e->shards[i]);
    return n;
}
