/*
 * stream_tab.c — the engine's containers: a string arena, an open-addressing index table, the
 * per-window aggregate maps, the shard's dedup table and the funnel pair table.
 *
 * These are hand-written on purpose: they are the hot path of `ecom stream` (several lookups
 * per event at millions of events per second), and a generic library map would cost an
 * allocation or an indirect call per lookup.
 */
#include "stream/stream_internal.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* ---- arena ---- */

int st_arena_dup(st_arena *a, strview s, strview *out) {
    if (s.n == 0) {
        *out = (strview){"", 0};
        return 0;
    }
    st_chunk *c = a->head;
    if (!c || c->cap - c->used < s.n) {
        size_t cap = s.n > 4000 ? s.n : 4000;
        c = malloc(sizeof *c + cap);
        if (!c) return -1;
        c->cap = cap;
        c->used = 0;
        c->next = a->head;
        a->head = c;
    }
    char *d = c->data + c->used;
    memcpy(d, s.p, s.n);
    c->used += s.n;
    *out = (strview){d, s.n};
    return 0;
}

void st_arena_free(st_arena *a) {
    st_chunk *c = a->head;
    while (c) {
        st_chunk *n = c->next;
        free(c);
        c = n;
    }
    a->head = NULL;
}

/* ---- index table ---- */

/* A zeroed array of bytes for a hash table's slots. One of 2 MiB or more is 2 MiB-aligned and
 * advised into transparent huge pages: every lookup lands on a random slot, and with 4 KiB
 * pages each one was a TLB miss as well as a cache miss (in this VM a nested page walk; it also
 * stalled the prefetch meant to hide the miss). Those large ones are mapped directly: a fresh
 * anonymous mapping is zero-filled by the kernel as it is faulted in, so no memset (the memset
 * after posix_memalign zeroed every page a second time, and faulted it in before its first use;
 * malloc'd memory may be reused, so only a fresh mapping is known to be zero). Freed with
 * st_table_free and the same size; NULL on OOM. */
void *st_table_alloc(size_t bytes) {
    const size_t huge = ST_HUGE_PAGE;
    if (bytes < huge) return calloc(1, bytes);
    bytes = (bytes + huge - 1) / huge * huge;
    char *m = mmap(NULL, bytes + huge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return NULL;
    /* over-map by 2 MiB, then unmap the unaligned head and the rest of the tail */
    size_t head = (huge - (uintptr_t)m % huge) % huge;
    if (head) (void)munmap(m, head);
    (void)munmap(m + head + bytes, huge - head);
    char *p = m + head;
#ifdef MADV_HUGEPAGE
    (void)madvise(p, bytes, MADV_HUGEPAGE); /* advice only: without it, plain pages */
#endif
    return p;
}

void st_table_free(void *p, size_t bytes) {
    const size_t huge = ST_HUGE_PAGE;
    if (!p) return;
    if (bytes < huge) {
        free(p);
        return;
    }
    (void)munmap(p, (bytes + huge - 1) / huge * huge);
}

/* Bytes of an index table's slot array (0 when unallocated). */
static size_t itab_slot_bytes(const st_itab *t) {
    return t->mask ? (size_t)(t->mask + 1) * sizeof *t->slots : 0;
}

void st_itab_free(st_itab *t) {
    st_table_free(t->slots, itab_slot_bytes(t));
    free(t->hashes);
    memset(t, 0, sizeof *t);
}

/* Grows the slot array to twice its size (min 16) and re-inserts every entry from hashes[]. */
static int itab_grow(st_itab *t) {
    uint32_t cap = t->mask ? (t->mask + 1) * 2 : 16;
    uint64_t *s = st_table_alloc((size_t)cap * sizeof *s);
    if (!s) return -1;
    for (uint32_t i = 0; i < t->n; i++) {
        uint64_t h = t->hashes[i];
        uint32_t pos = (uint32_t)h & (cap - 1);
        while (s[pos]) pos = (pos + 1) & (cap - 1);
        s[pos] = (h & 0xffffffff00000000ULL) | (uint64_t)(i + 1);
    }
    st_table_free(t->slots, itab_slot_bytes(t));
    t->slots = s;
    t->mask = cap - 1;
    return 0;
}

int st_itab_grow_for_one(st_itab *t) {
    if (t->n == t->hcap) {
        uint32_t nc = t->hcap ? t->hcap * 2 : 8;
        uint64_t *h = realloc(t->hashes, nc * sizeof *h);
        if (!h) return -1;
        t->hashes = h;
        t->hcap = nc;
    }
    if (!t->mask || (uint64_t)(t->n + 1) * 4 > (uint64_t)(t->mask + 1) * 3) return itab_grow(t);
    return 0;
}

void st_itab_put(st_itab *t, uint32_t pos, uint64_t h) {
    t->hashes[t->n] = h;
    t->slots[pos] = (h & 0xffffffff00000000ULL) | (uint64_t)(t->n + 1);
    t->n++;
}

static inline bool sv_eq(strview a, strview b) {
    return a.n == b.n && st_bytes_eq(a.p, b.p, a.n);
}

static inline uint64_t hmix(uint64_t h, strview s) {
    return st_hash(s, h);
}

/* Grows a typed array to hold one more element. */
static int grow(void **arr, uint32_t *cap, uint32_t n, size_t elem) {
    if (n < *cap) return 0;
    uint32_t nc = *cap ? *cap * 2 : 8;
    void *p = realloc(*arr, (size_t)nc * elem);
    if (!p) return -1;
    *arr = p;
    *cap = nc;
    return 0;
}

/* ---- aggregates ---- */

st_agg *st_agg_new(void) {
    return calloc(1, sizeof(st_agg));
}

void st_agg_free(st_agg *a) {
    if (!a) return;
    free(a->cats);
    free(a->prods);
    free(a->cities);
    free(a->chans);
    st_itab_free(&a->chan_ix);
    st_itab_free(&a->cat_ix);
    st_itab_free(&a->prod_ix);
    st_itab_free(&a->city_ix);
    st_arena_free(&a->ar);
    free(a);
}

uint64_t st_agg_entries(const st_agg *a) {
    return 1 + a->n_cats + a->n_prods + a->n_cities + a->n_chans;
}

st_cat *st_agg_cat(st_agg *a, strview cat) {
    uint64_t h = st_hash(cat, 0);
    uint32_t pos;
    if (st_itab_reserve(&a->cat_ix)) return NULL;
    int64_t i;
    ITAB_FIND(&a->cat_ix, h, sv_eq(a->cats[ix_].cat, cat), i, pos);
    if (i >= 0) return &a->cats[i];
    if (grow((void **)&a->cats, &a->cap_cats, a->n_cats, sizeof *a->cats)) return NULL;
    st_cat *c = &a->cats[a->n_cats];
    memset(c, 0, sizeof *c);
    if (st_arena_dup(&a->ar, cat, &c->cat)) return NULL;
    st_itab_put(&a->cat_ix, pos, h);
    a->n_cats++;
    return c;
}

/* Name and category of a product are those of its lexicographically smallest values, so the
 * choice does not depend on arrival order and merges as min() (DuckDB: min(product_name)). */
static int keep_min(st_arena *ar, strview *have, strview cand) {
    size_t m = have->n < cand.n ? have->n : cand.n;
    int c = m ? memcmp(cand.p, have->p, m) : 0;
    if (c < 0 || (c == 0 && cand.n < have->n)) return st_arena_dup(ar, cand, have);
    return 0;
}

st_prod *st_agg_prod(st_agg *a, strview pid, strview name, strview cat) {
    uint64_t h = st_hash(pid, 0);
    uint32_t pos;
    if (st_itab_reserve(&a->prod_ix)) return NULL;
    int64_t i;
    ITAB_FIND(&a->prod_ix, h, sv_eq(a->prods[ix_].pid, pid), i, pos);
    if (i >= 0) {
        st_prod *p = &a->prods[i];
        if (!sv_eq(p->name, name) && keep_min(&a->ar, &p->name, name)) return NULL;
        if (!sv_eq(p->cat, cat) && keep_min(&a->ar, &p->cat, cat)) return NULL;
        return p;
    }
    if (grow((void **)&a->prods, &a->cap_prods, a->n_prods, sizeof *a->prods)) return NULL;
    st_prod *p = &a->prods[a->n_prods];
    memset(p, 0, sizeof *p);
    if (st_arena_dup(&a->ar, pid, &p->pid) || st_arena_dup(&a->ar, name, &p->name) ||
        st_arena_dup(&a->ar, cat, &p->cat))
        return NULL;
    st_itab_put(&a->prod_ix, pos, h);
    a->n_prods++;
    return p;
}

st_city *st_agg_city(st_agg *a, strview prov, strview city, strview stype) {
    uint64_t h = hmix(hmix(hmix(0, prov), city), stype);
    uint32_t pos;
    if (st_itab_reserve(&a->city_ix)) return NULL;
    int64_t i;
    ITAB_FIND(&a->city_ix, h,
              sv_eq(a->cities[ix_].city, city) && sv_eq(a->cities[ix_].prov, prov) &&
                  sv_eq(a->cities[ix_].stype, stype),
              i, pos);
    if (i >= 0) return &a->cities[i];
    if (grow((void **)&a->cities, &a->cap_cities, a->n_cities, sizeof *a->cities)) return NULL;
    st_city *c = &a->cities[a->n_cities];
    memset(c, 0, sizeof *c);
    if (st_arena_dup(&a->ar, prov, &c->prov) || st_arena_dup(&a->ar, city, &c->city) ||
        st_arena_dup(&a->ar, stype, &c->stype))
        return NULL;
    st_itab_put(&a->city_ix, pos, h);
    a->n_cities++;
    return c;
}

st_chan *st_agg_chan(st_agg *a, strview stype, strview device) {
    if (device.n == 0) device = (strview){"none", 4};
    uint64_t h = hmix(hmix(0, stype), device);
    uint32_t pos;
    if (st_itab_reserve(&a->chan_ix)) return NULL;
    int64_t i;
    ITAB_FIND(&a->chan_ix, h, sv_eq(a->chans[ix_].device, device) && sv_eq(a->chans[ix_].stype, stype), i, pos);
    if (i >= 0) return &a->chans[i];
    if (grow((void **)&a->chans, &a->cap_chans, a->n_chans, sizeof *a->chans)) return NULL;
    st_chan *c = &a->chans[a->n_chans];
    memset(c, 0, sizeof *c);
    if (st_arena_dup(&a->ar, stype, &c->stype) || st_arena_dup(&a->ar, device, &c->device)) return NULL;
    st_itab_put(&a->chan_ix, pos, h);
    a->n_chans++;
    return c;
}

/* ---- dedup ids ---- */

/* Reversed-byte FNV-1a with a different final mix: independent of hash64, so that together
 * they make a 128-bit hash. */
static uint64_t hash64_rev(const char *p, size_t n) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = n; i > 0; i--) {
        h ^= (unsigned char)p[i - 1];
        h *= 0x100000001b3ULL;
    }
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 32;
    return h;
}

/* A canonical UUID (8-4-4-4-12 hex digits, either case) is packed exactly into 128 bits, so two
 * different UUIDs are never taken for duplicates. Any other id text gets a 128-bit hash (a false
 * duplicate needs a 2^-128 coincidence). */
st_id st_id_of(strview s) {
    st_id id = {0, 0};
    if (event_uuid_pack(s, &id.a, &id.b)) return id;
    id.a = hash64(s.p, s.n);
    id.b = hash64_rev(s.p, s.n);
    return id;
}


/* Two words into h: the numbers of an event. */
static inline uint64_t fold2(uint64_t h, uint64_t a, uint64_t b) {
    return st_mum(a ^ h ^ ST_K0, b ^ ST_K1);
}

/* What makes two events with one id the same event: every field but the id and the time (a
 * producer that re-sends an event may stamp it again). Doubles are folded by their bits. Not
 * collision-resistant against a crafted input: a collision makes a conflicting copy count as a
 * duplicate (dropped), which is what every copy was before. The checkpoint stores these
 * hashes (stream_ckpt.c): a change of this function (or of st_fold) is a new checkpoint
 * version. */
uint64_t st_event_hash(const event *ev) {
    uint64_t h = 0x51ed270b27a4e3c5ULL ^ (uint64_t)ev->type, lat, lon;
    h = st_fold(h, ev->user_id);
    h = st_fold(h, ev->session_id);
    h = st_fold(h, ev->store_id);
    h = st_fold(h, ev->store_type);
    h = st_fold(h, ev->city);
    h = st_fold(h, ev->province);
    h = st_fold(h, ev->device);
    h = st_fold(h, ev->product_id);
    h = st_fold(h, ev->product_name);
    h = st_fold(h, ev->category);
    h = st_fold(h, ev->order_id);
    h = st_fold(h, ev->currency);
    h = st_fold(h, ev->payment_method);
    memcpy(&lat, &ev->lat, 8);
    memcpy(&lon, &ev->lon, 8);
    h = fold2(h, lat, lon);
    h = fold2(h, (uint64_t)ev->price_cents, (uint64_t)(uint32_t)ev->quantity);
    h = fold2(h, (uint64_t)ev->total_cents, (uint64_t)ev->n_items);
    for (size_t i = 0; i < ev->n_items; i++) {
        const event_item *it = &ev->items[i];
        h = st_fold(h, it->product_id), h = st_fold(h, it->product_name), h = st_fold(h, it->category);
        h = fold2(h, (uint64_t)(uint32_t)it->quantity, (uint64_t)it->unit_price_cents);
    }
    h = st_mum(h ^ ST_K0, ST_K1);
    return h ? h : 1; /* 0 marks an unknown content (ids from a version-3 checkpoint) */
}

/* Counts an entry of window k in (add = 1) or out (add = -1) of d's ring or far count. */
static void dedup_count(st_dedup *d, int64_t k, int add) {
    if (k >= d->ring_lo && k - d->ring_lo < ST_DD_RING)
        d->ring[(uint64_t)k % ST_DD_RING] += (uint32_t)add;
    else
        d->far += (uint32_t)add;
}

/* Starts the ring at window lo (empty: the entries are recounted by the caller). */
static void dedup_ring_reset(st_dedup *d, int64_t lo) {
    memset(d->ring, 0, sizeof d->ring);
    d->ring_lo = lo;
    d->far = 0;
}

int st_dedup_check(st_dedup *d, st_id id, uint64_t ch, int64_t k, int64_t live_after) {
    uint64_t h = st_id_hash(id);
    uint32_t pos;
    if (st_itab_reserve(&d->ix)) return -1;
    int64_t i;
    ITAB_FIND(&d->ix, h, d->v[ix_].id.a == id.a && d->v[ix_].id.b == id.b, i, pos);
    if (i >= 0 && d->v[i].k > live_after)
        return d->v[i].ch == ch || d->v[i].ch == 0 ? ST_DD_DUP : ST_DD_CONFLICT; /* 0: unknown */
    if (k <= live_after) return ST_DD_NEW; /* beyond the horizon: not remembered */
    if (i >= 0) { /* an expired entry not yet compacted: reused */
        dedup_count(d, d->v[i].k, -1);
        dedup_count(d, k, 1);
        d->v[i].ch = ch;
        d->v[i].k = k;
        /* older than the last checkpoint piece: the next delta must carry it (rare) */
        if ((uint32_t)i < d->mark) {
            if (grow((void **)&d->reused, &d->cap_reused, d->n_reused, sizeof *d->reused)) return -1;
            d->reused[d->n_reused++] = d->v[i];
        }
        return ST_DD_NEW;
    }
    if (grow((void **)&d->v, &d->cap, d->ix.n, sizeof *d->v)) return -1;
    /* a first entry starts the ring a little before its window (the input's disorder) */
    if (!d->ix.n) dedup_ring_reset(d, k - ST_DD_RING / 8);
    dedup_count(d, k, 1);
    d->v[d->ix.n] = (st_dd){id, ch, k};
    st_itab_put(&d->ix, pos, h);
    if (k < d->min_k) d->min_k = k;
    return ST_DD_NEW;
}

/* Rebuilds the index over the first n entries (after a compaction). The slot array is kept
 * when it is large enough, cleared in place: a compaction comes every few windows, and a fresh
 * one (calloc of MiBs: new pages from the kernel, each faulted in and zeroed) was a fifth of
 * the stream's page faults. So the table stays at its high-water size (at most twice the
 * live ids, see st_dedup_expire), with a lower load after a compaction. */
static int dedup_reindex(st_dedup *d, uint32_t n) {
    uint32_t cap = 16;
    while ((uint64_t)(n + 1) * 4 > (uint64_t)cap * 3) cap *= 2;
    uint64_t *sl = d->ix.slots;
    if (sl && d->ix.mask + 1 >= cap) {
        cap = d->ix.mask + 1;
        memset(sl, 0, (size_t)cap * sizeof *sl);
    } else if (!(sl = st_table_alloc((size_t)cap * sizeof *sl))) {
        return -1;
    }
    for (uint32_t i = 0; i < n; i++) {
        uint64_t h = st_id_hash(d->v[i].id);
        uint32_t pos = (uint32_t)h & (cap - 1);
        while (sl[pos]) pos = (pos + 1) & (cap - 1);
        sl[pos] = (h & 0xffffffff00000000ULL) | (uint64_t)(i + 1);
        d->ix.hashes[i] = h;
    }
    if (sl != d->ix.slots) st_table_free(d->ix.slots, itab_slot_bytes(&d->ix));
    d->ix.slots = sl;
    d->ix.mask = cap - 1;
    d->ix.n = n;
    return 0;
}

/* Entries of windows <= live_after: from the ring when every entry is in it, else by a scan. */
static uint32_t dedup_dead(const st_dedup *d, int64_t live_after) {
    uint32_t dead = 0;
    if (d->far) {
        for (uint32_t i = 0; i < d->ix.n; i++) dead += d->v[i].k <= live_after;
        return dead;
    }
    for (int64_t k = d->ring_lo; k <= live_after && k - d->ring_lo < ST_DD_RING; k++)
        dead += d->ring[(uint64_t)k % ST_DD_RING];
    return dead;
}

/* Forgetting an id is a compaction, not a deletion (the index has none): done when at least
 * half of the entries are expired, so each entry is copied O(1) times over its life, and the
 * table holds at most twice the live ids. */
int st_dedup_expire(st_dedup *d, int64_t live_after) {
    uint32_t n = d->ix.n;
    if (!n || live_after < d->min_k) return 0;
    if (dedup_dead(d, live_after) * 2 < n) return 0;
    uint32_t o = 0, mark = 0;
    int64_t mk = INT64_MAX;
    dedup_ring_reset(d, live_after + 1);
    for (uint32_t i = 0; i < n; i++) {
        if (d->v[i].k <= live_after) continue;
        if (d->v[i].k < mk) mk = d->v[i].k;
        dedup_count(d, d->v[i].k, 1);
        mark += i < d->mark; /* the order is kept: entries before the mark stay before it */
        d->v[o++] = d->v[i];
    }
    d->min_k = mk;
    d->mark = mark;
    return dedup_reindex(d, o);
}

uint32_t st_dedup_live(const st_dedup *d, int64_t live_after) {
    uint32_t n = 0;
    for (uint32_t i = 0; i < d->ix.n; i++) n += d->v[i].k > live_after;
    return n;
}

uint64_t st_dedup_bytes(const st_dedup *d) {
    return (uint64_t)d->cap * sizeof *d->v + (uint64_t)d->ix.hcap * 8 + (d->ix.mask ? (uint64_t)(d->ix.mask + 1) * 8 : 0);
}

void st_dedup_mark(st_dedup *d) {
    d->mark = d->ix.n;
    d->n_reused = 0;
}

void st_dedup_free(st_dedup *d) {
    free(d->v);
    free(d->reused);
    st_itab_free(&d->ix);
    memset(d, 0, sizeof *d);
    d->min_k = INT64_MAX;
}

/* ---- funnel pairs ---- */

int st_pairvec_grow(st_pairvec *v) {
    return grow((void **)&v->v, &v->cap, v->n, sizeof *v->v);
}

/* A pool block with cap bytes of room, its data 64-byte aligned; the largest ones are 2 MiB-aligned in huge pages (pairs
 * are reached at random, see st_table_alloc). Freed with free(). */
static st_pool_block *pool_block_alloc(size_t cap) {
    size_t bytes = sizeof(st_pool_block) + cap, huge = ST_HUGE_PAGE;
    st_pool_block *b = NULL;
    if (cap < ST_POOL_BLOCK_MAX) {
        /* cache-line aligned, so that 64-byte pairs are one line each (C17: a multiple) */
        b = aligned_alloc(ST_POOL_ALIGN, (bytes + ST_POOL_ALIGN - 1) / ST_POOL_ALIGN * ST_POOL_ALIGN);
    } else {
        void *p = NULL;
        bytes = (bytes + huge - 1) / huge * huge;
        if (posix_memalign(&p, huge, bytes)) return NULL;
#ifdef MADV_HUGEPAGE
        (void)madvise(p, bytes, MADV_HUGEPAGE);
#endif
        b = p;
        cap = bytes - sizeof *b;
    }
    if (!b) return NULL;
    b->used = 0;
    b->cap = cap;
    return b;
}

/* Size class of a pair with a key of klen bytes: 1.. for pooled sizes, 0 for malloc. */
static size_t pair_class(size_t klen) {
    size_t sz = sizeof(st_pair) + klen;
    return sz <= ST_POOL_MAX ? (sz + 15) / 16 : 0;
}

static st_pair *pair_alloc(st_pairtab *t, size_t klen) {
    size_t c = pair_class(klen);
    if (!c) return malloc(sizeof(st_pair) + klen);
    st_pool_free *f = t->free[c - 1];
    if (f) {
        t->free[c - 1] = f->next;
        return (st_pair *)(void *)f;
    }
    size_t sz = c * 16;
    st_pool_block *b = t->blocks;
    if (!b || b->cap - b->used < sz) {
        size_t cap = b ? b->cap * 2 : ST_POOL_BLOCK;
        if (cap > ST_POOL_BLOCK_MAX) cap = ST_POOL_BLOCK_MAX;
        st_pool_block *nb = pool_block_alloc(cap);
        if (!nb) return NULL;
        nb->next = b;
        t->blocks = b = nb;
    }
    void *p = (char *)b->data + b->used;
    b->used += sz;
    return p;
}

static void pair_release(st_pairtab *t, st_pair *p) {
    if (p->el != p->inl) free(p->el);
    size_t c = pair_class((size_t)p->ulen + p->plen);
    if (!c) {
        free(p);
        return;
    }
    st_pool_free *f = (st_pool_free *)(void *)p;
    f->next = t->free[c - 1];
    t->free[c - 1] = f;
}

static st_pslot *slots_alloc(uint32_t cap) {
    return st_table_alloc((size_t)cap * sizeof(st_pslot));
}

static void slots_free(st_pslot *s, uint32_t cap) {
    st_table_free(s, (size_t)cap * sizeof *s);
}

/* Rehashes into cap slots (a power of two). */
static int pairtab_resize(st_pairtab *t, uint32_t cap) {
    st_pslot *ns = slots_alloc(cap);
    if (!ns) return -1;
    for (uint32_t i = 0; i < t->cap; i++) {
        if (!t->slots[i].p) continue;
        uint32_t k = (uint32_t)t->slots[i].h & (cap - 1);
        while (ns[k].p) k = (k + 1) & (cap - 1);
        ns[k] = t->slots[i];
    }
    slots_free(t->slots, t->cap);
    t->slots = ns;
    t->cap = cap;
    return 0;
}

/* One rehash to the final size when the count is known (a checkpoint's pairs), instead of
 * the doubling cascade from 64 slots, each step a fresh slot array faulted in and zeroed. */
int st_pairtab_reserve(st_pairtab *t, uint64_t n) {
    uint64_t cap = t->cap ? t->cap : 64;
    while (n * 4 > cap * 3 && cap < (uint64_t)1 << 31) cap *= 2;
    if (n * 4 > cap * 3) return -1; /* beyond a uint32_t slot count */
    return cap > t->cap ? pairtab_resize(t, (uint32_t)cap) : 0;
}

st_pair *st_pairtab_get(st_pairtab *t, uint64_t h, strview user, strview product, bool create,
                        bool *created) {
    if (created) *created = false;
    uint32_t k = 0;
    if (t->cap) {
        for (k = (uint32_t)h & (t->cap - 1); t->slots[k].p; k = (k + 1) & (t->cap - 1)) {
            st_pair *p = t->slots[k].p;
            if (t->slots[k].h == h && p->ulen == user.n && p->plen == product.n &&
                st_bytes_eq(p->key, user.p, user.n) && st_bytes_eq(p->key + user.n, product.p, product.n))
                return p;
        }
    }
    if (!create || user.n > UINT16_MAX || product.n > UINT16_MAX) return NULL;
    if ((t->n + 1) * 4 > (uint64_t)t->cap * 3) { /* load <= 3/4 */
        if (pairtab_resize(t, t->cap ? t->cap * 2 : 64)) return NULL;
        for (k = (uint32_t)h & (t->cap - 1); t->slots[k].p; k = (k + 1) & (t->cap - 1)) {
        }
    }
    st_pair *p = pair_alloc(t, user.n + product.n);
    if (!p) return NULL;
    p->exp = INT64_MIN;
    p->el = p->inl;
    p->n_el = 0;
    p->cap_el = 2;
    p->ulen = (uint16_t)user.n;
    p->plen = (uint16_t)product.n;
    p->dirty = 0;
    if (user.n) memcpy(p->key, user.p, user.n);
    if (product.n) memcpy(p->key + user.n, product.p, product.n);
    t->slots[k] = (st_pslot){h, p};
    t->n++;
    if (created) *created = true;
    return p;
}

/* Backward-shift deletion: after emptying slot i, moves later entries of the probe run back
 * into the hole when their home position allows, so lookups never need tombstones. */
static void pairtab_delete_slot(st_pairtab *t, uint32_t i) {
    uint32_t mask = t->cap - 1, j = i;
    for (;;) {
        j = (j + 1) & mask;
        if (!t->slots[j].p) break;
        uint32_t home = (uint32_t)t->slots[j].h & mask;
        /* entry j may move to i if i lies cyclically in [home, j) */
        bool movable = i <= j ? (home <= i || home > j) : (home <= i && home > j);
        if (movable) {
            t->slots[i] = t->slots[j];
            i = j;
        }
    }
    t->slots[i] = (st_pslot){0, NULL};
}

void st_pairtab_remove(st_pairtab *t, st_pair *p) {
    st_pairtab_remove_h(t, p, st_pair_key_hash(p));
}

void st_pairtab_remove_h(st_pairtab *t, st_pair *p, uint64_t h) {
    uint32_t k = (uint32_t)h & (t->cap - 1);
    while (t->slots[k].p && t->slots[k].p != p) k = (k + 1) & (t->cap - 1);
    if (t->slots[k].p) pairtab_delete_slot(t, k);
    if (p->dirty) t->dirty.v[p->dirty - 1] = NULL;
    t->n--;
    t->n_el -= p->n_el;
    pair_release(t, p);
}

/* One resize after a batch of removals, not one per removal (a window's close removes its
 * expiring pairs in a loop; halving inside it rehashed the table at every step). */
void st_pairtab_shrink(st_pairtab *t) {
    uint32_t cap = t->cap;
    while (cap > 64 && t->n * 8 < cap) cap /= 2;
    if (cap != t->cap) (void)pairtab_resize(t, cap); /* on OOM the larger table stays */
}

void st_pairtab_free(st_pairtab *t) {
    for (uint32_t i = 0; i < t->cap; i++)
        if (t->slots[i].p) pair_release(t, t->slots[i].p);
    for (st_pool_block *b = t->blocks, *nb; b; b = nb) {
        nb = b->next;
        free(b);
    }
    slots_free(t->slots, t->cap);
    free(t->dirty.v);
    memset(t, 0, sizeof *t);
}

void st_pairtab_clean(st_pairtab *t) {
    for (uint32_t i = 0; i < t->dirty.n; i++)
        if (t->dirty.v[i]) t->dirty.v[i]->dirty = 0;
    t->dirty.n = 0;
}

int st_pair_push(st_pairtab *t, st_pair *p, int64_t ts, int32_t kind) {
    if (p->n_el == p->cap_el) {
        uint32_t nc = p->cap_el * 2;
        st_el *n = malloc((size_t)nc * sizeof *n);
        if (!n) return -1;
        memcpy(n, p->el, (size_t)p->n_el * sizeof *n);
        if (p->el != p->inl) free(p->el);
        p->el = n;
        p->cap_el = nc;
    }
    p->el[p->n_el++] = (st_el){ts, kind};
    t->n_el++;
    return 0;
}
