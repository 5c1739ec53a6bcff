/*
 * stream_internal.h — private to src/stream/: the engine's data structures, shared by the
 * engine (stream_engine.c), its tables (stream_tab.c) and its checkpoint codec
 * (stream_ckpt.c). Not part of the module's contract (that is stream.h).
 *
 * Time is split into window indexes k (window k = [k*w, (k+1)*w)). Everything a shard keeps is
 * hung on a "slot" keyed by the index j at which it is processed: slot j holds window j's
 * aggregates (closed when the watermark passes (j+1)*w), the funnel anchors of
 * window j - fw (fw = ceil((view_to_cart + cart_to_purchase) / w)), whose join result is final
 * then, and the funnel pairs that expire then. Closing slots in index order is the whole
 * eviction story, but for the dedup ids (one table per shard, kept longer: st_dedup).
 */
#ifndef ECOM_STREAM_INTERNAL_H
#define ECOM_STREAM_INTERNAL_H

#include <string.h>

#include "stream/stream.h"

/* (src/parquet/pq_write.c has twins of these helpers: the Parquet codec is standalone.)
 *
 * The bytes [p, p + n) of a string shorter than 8 bytes as one word, without a memcpy call
 * (overlapping reads: unique for a given n, which callers mix in). */
static inline uint64_t st_load_short(const char *p, size_t n) {
    if (n >= 4) {
        uint32_t a, b;
        memcpy(&a, p, 4);
        memcpy(&b, p + n - 4, 4);
        return (uint64_t)a << 32 | b;
    }
    if (!n) return 0;
    return (uint64_t)(uint8_t)p[0] << 16 | (uint64_t)(uint8_t)p[n >> 1] << 8 | (uint8_t)p[n - 1];
}

/* Equality of n bytes at a and b without a library call: short strings (ids, names) are
 * compared as one or two words. */
static inline bool st_bytes_eq(const char *a, const char *b, size_t n) {
    uint64_t x, y, u, v;
    if (n < 8) return st_load_short(a, n) == st_load_short(b, n);
    while (n > 16) {
        memcpy(&x, a, 8);
        memcpy(&y, b, 8);
        if (x != y) return false;
        a += 8;
        b += 8;
        n -= 8;
    }
    memcpy(&x, a, 8);
    memcpy(&y, b, 8);
    memcpy(&u, a + n - 8, 8);
    memcpy(&v, b + n - 8, 8);
    return ((x ^ y) | (u ^ v)) == 0;
}

/* The 128-bit product of a and b folded to 64 bits (the "mum" of wyhash): one multiply mixes
 * 16 bytes, where a 64-bit multiply per 8-byte word took two steps and a rotate. */
static inline uint64_t st_mum(uint64_t a, uint64_t b) {
    unsigned __int128 r = (unsigned __int128)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}
#define ST_K0 0xa0761d6478bd642fULL
#define ST_K1 0xe7037ed1a0b428dbULL

/* Folds the bytes of s and its length into h: one 128-bit multiply for a string of up to 16
 * bytes (nearly every field of an event; a longer one takes one per 16 bytes). Short strings
 * are read as overlapping words, unique for a given length, which is mixed in. The result's
 * high and low bits are both mixed (the product's halves are xored), so it serves as a table
 * hash as it is. st_event_hash's values, which checkpoints store, are made of these steps:
 * changing it is a checkpoint version (stream_ckpt.c). */
static inline uint64_t st_fold(uint64_t h, strview s) {
    const char *p = s.p;
    size_t n = s.n;
    uint64_t a, b;
    if (n <= 8) {
        a = st_load_short(p, n); /* also right for n == 8: two 4-byte halves */
        b = 0;
    } else {
        const char *end = p + n;
        for (; end - p > 16; p += 16) {
            memcpy(&a, p, 8);
            memcpy(&b, p + 8, 8);
            h = st_mum(a ^ h ^ ST_K0, b ^ ST_K1);
        }
        /* past a first step, the last 16 bytes (overlapping that step): a word from p could
         * reach beyond the string */
        if (p != s.p) p = end - 16;
        memcpy(&a, p, 8);
        memcpy(&b, end - 8, 8);
    }
    return st_mum(a ^ h ^ ST_K0, b ^ ST_K1 ^ s.n);
}

/* Hash of a short string for the engine's tables (never stored: it may change freely). It was
 * a multiply per 8-byte word and a full final mix; one st_fold step costs about half. */
static inline uint64_t st_hash(strview s, uint64_t seed) {
    return st_fold(seed, s);
}

/* ---- bump arena for strings copied out of events; freed as a whole ---- */
typedef struct st_chunk {
    struct st_chunk *next;
    size_t used, cap;
    char data[];
} st_chunk;
typedef struct {
    st_chunk *head;
} st_arena;
/* Copies s into the arena; result strview points into it. -1 on out of memory. */
int st_arena_dup(st_arena *a, strview s, strview *out);
void st_arena_free(st_arena *a);

/* The size of a transparent huge page (x86-64, arm64 with 4 KiB pages): slot arrays and pool
 * blocks from this size on are aligned to it and advised into huge pages. */
#define ST_HUGE_PAGE ((size_t)2 << 20)

/* A zeroed block for a hash table's slots, in huge pages from ST_HUGE_PAGE on (stream_tab.c says why).
 * Freed with st_table_free(p, bytes) and the bytes it was asked for; NULL on OOM. */
void *st_table_alloc(size_t bytes);
void st_table_free(void *p, size_t bytes);

/* ---- index table: open addressing over indexes into a caller's entry array ----
 * A slot is (hash >> 32) << 32 | (index + 1); 0 is empty. hashes[i] keeps entry i's full hash
 * so the table can grow without calling back. No deletion: tables are dropped whole. */
typedef struct {
    uint64_t *slots;
    uint64_t *hashes;
    uint32_t mask;   /* capacity - 1 (0 when unallocated) */
    uint32_t n;
    uint32_t hcap;
} st_itab;
void st_itab_free(st_itab *t);
/* Makes room for one more entry (grows at 3/4 load). 0 or -1. The test is inline (several
 * lookups per event call it; the call was ~1% of the stream's instructions), the growth not. */
int st_itab_grow_for_one(st_itab *t);
static inline int st_itab_reserve(st_itab *t) {
    if (t->n < t->hcap && t->mask && (uint64_t)(t->n + 1) * 4 <= (uint64_t)(t->mask + 1) * 3) return 0;
    return st_itab_grow_for_one(t);
}
/* Records entry index idx (== t->n) with hash h at the free position pos from a failed probe.
 * Call st_itab_reserve() before the probe that gave pos. */
void st_itab_put(st_itab *t, uint32_t pos, uint64_t h);

/* Probe loop shared by every map (a macro so that the key comparison EQ, written in terms of
 * the candidate entry index ix_, is inlined): walks from h's home position; sets found to the
 * entry index of a match or -1, and pos to the first empty slot. The table must be allocated. */
#define ITAB_FIND(t, h, EQ, found, pos)                                       \
    do {                                                                      \
        (found) = -1;                                                         \
        uint32_t p_ = (uint32_t)(h) & (t)->mask;                              \
        for (;;) {                                                            \
            uint64_t s_ = (t)->slots[p_];                                     \
            if (!s_) break;                                                   \
            if ((s_ >> 32) == ((h) >> 32)) {                                  \
                uint32_t ix_ = (uint32_t)(s_ & 0xffffffff) - 1;               \
                if (EQ) {                                                     \
                    (found) = ix_;                                            \
                    break;                                                    \
                }                                                             \
            }                                                                 \
            p_ = (p_ + 1) & (t)->mask;                                        \
        }                                                                     \
        (pos) = p_;                                                           \
    } while (0)

/* ---- per-window aggregates ---- */
typedef struct {
    strview cat;
    int64_t views, adds, removes, units, revenue;
} st_cat;
typedef struct {
    strview pid, name, cat;
    int64_t views, adds, units, revenue;
} st_prod;
typedef struct {
    strview prov, city, stype;
    int64_t orders, revenue;
} st_city;
typedef struct {
    strview stype, device; /* device "none" when the event has none (physical stores) */
    int64_t orders, revenue;
} st_chan;

typedef struct {
    int64_t orders, items, revenue;
    st_cat *cats;
    uint32_t n_cats, cap_cats;
    st_itab cat_ix;
    st_prod *prods;
    uint32_t n_prods, cap_prods;
    st_itab prod_ix;
    st_city *cities;
    uint32_t n_cities, cap_cities;
    st_itab city_ix;
    st_chan *chans;
    uint32_t n_chans, cap_chans;
    st_itab chan_ix;
    st_arena ar;
} st_agg;

st_agg *st_agg_new(void);
void st_agg_free(st_agg *a);
st_cat *st_agg_cat(st_agg *a, strview cat);                 /* find or add; NULL on OOM */
st_prod *st_agg_prod(st_agg *a, strview pid, strview name, strview cat);
st_city *st_agg_city(st_agg *a, strview prov, strview city, strview stype);
st_chan *st_agg_chan(st_agg *a, strview stype, strview device); /* device n == 0: "none" */
uint64_t st_agg_entries(const st_agg *a);

/* ---- dedup table of 128-bit event ids (one per shard) ----
 * Each id is kept with a hash of its event's content and its window k, until the shard has
 * closed window k + dd_keep (stream_engine.c: lateness + one window past the window's close),
 * so a copy is recognised over the whole lateness horizon, not only inside its own window. */
typedef struct {
    uint64_t a, b;
} st_id;
/* Windows counted one by one in st_dedup's ring (the dedup horizon is a few windows). */
#define ST_DD_RING 64
typedef struct {
    st_id id;
    uint64_t ch;   /* st_event_hash of the first event with this id */
    int64_t k;     /* its window */
} st_dd;
typedef struct {
    st_dd *v;      /* entries 0..ix.n-1 */
    uint32_t cap;
    int64_t min_k; /* smallest k present (INT64_MAX when empty) */
    st_itab ix;
    /* For incremental checkpoints: entries from index mark on were added since the last
     * checkpoint piece; reused holds copies of older (expired) entries given a new life since
     * then (an id seen again past its horizon, before a compaction dropped it). */
    uint32_t mark;
    st_dd *reused;
    uint32_t n_reused, cap_reused;
    /* Entries by window, so that st_dedup_expire knows how many expired without reading them
     * all (that scan, once per closed window, was ~2% of a backfill's time: the entries are
     * cold): ring[k % ST_DD_RING] counts the entries of window k for k in [ring_lo, ring_lo +
     * ST_DD_RING); far counts the others (hostile clocks; while far > 0, expire scans). */
    uint32_t ring[ST_DD_RING];
    int64_t ring_lo;
    uint32_t far;
} st_dedup;
enum { ST_DD_NEW = 0, ST_DD_DUP = 1, ST_DD_CONFLICT = 2 };
/* Looks id up among the live entries (k > live_after): ST_DD_DUP if present with content hash
 * ch (or with 0, content unknown), ST_DD_CONFLICT if present with another; else ST_DD_NEW, and it is remembered (window k)
 * unless k <= live_after. -1 on OOM. */
int st_dedup_check(st_dedup *d, st_id id, uint64_t ch, int64_t k, int64_t live_after);
/* The index hash of an id (both halves mixed: the slot comes from the low bits, the tag from
 * the high ones). */
static inline uint64_t st_id_hash(st_id id) {
    uint64_t h = (id.a ^ (id.b * 0x9E3779B97F4A7C15ULL));
    h ^= h >> 31;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}
/* Starts loading the slot where id's probe begins: the engine issues it before hashing the
 * event's content, so that the table's cache miss overlaps with that work.
 * ST_PREFETCH_FN: GCC 12 takes a function whose only effect is __builtin_prefetch for pure and,
 * when it is not inlined early (this one was too big for it), deletes the call as dead code;
 * the prefetch was missing from the binary. Inlining it always keeps the prefetch. */
#define ST_PREFETCH_FN static inline __attribute__((always_inline)) void
ST_PREFETCH_FN st_dedup_prefetch(const st_dedup *d, st_id id) {
    if (d->ix.mask) __builtin_prefetch(&d->ix.slots[(uint32_t)st_id_hash(id) & d->ix.mask]);
}
/* The current entries become the base of the next checkpoint piece (mark, reused cleared). */
void st_dedup_mark(st_dedup *d);
/* Forgets the entries with k <= live_after (amortised: see stream_tab.c). 0 or -1 (OOM). */
int st_dedup_expire(st_dedup *d, int64_t live_after);
uint64_t st_dedup_bytes(const st_dedup *d);
uint32_t st_dedup_live(const st_dedup *d, int64_t live_after); /* entries with k > live_after */
void st_dedup_free(st_dedup *d); /* also leaves it empty and usable */
/* The id of an event: its canonical UUID packed exactly, else a 128-bit hash of the text. */
st_id st_id_of(strview event_id);
/* Hash of an event's content: every field but event_id and the timestamp; never 0. */
uint64_t st_event_hash(const event *ev);

/* ---- funnel pairs (user_id, product_id) ---- */
enum { EL_VIEW = 0, EL_ADD = 1, EL_BUY = 2 };
/* An element in one word: event times are within +-STREAM_MAX_ABS_TIME_US (2^60), so t fits
 * in 62 bits beside the kind (16 bytes with padding before; a pair's two inline elements and
 * its key now share its one cache line: see st_pair). */
typedef struct {
    int64_t t : 62;
    uint64_t kind : 2; /* EL_*; a VIEW element is the anchor t0 of its window (first view) */
} st_el;
_Static_assert(sizeof(st_el) == 8, "st_el is one word");

/* 48 bytes before the key, so that a pair with a key of up to 16 bytes (a user and a product
 * id) is one 64-byte size class: its header, elements and key in one cache line (the lookup's
 * miss was on the key's line, the second one, when the pair was 96 bytes). Its hash is not
 * kept: the table's slot has it, and a removal recomputes it from the key. */
typedef struct st_pair {
    int64_t exp;          /* slot index at which the pair is freed */
    st_el *el;            /* points to inl or to the heap */
    uint32_t n_el, cap_el;
    st_el inl[2];
    uint16_t ulen, plen;
    uint32_t dirty;       /* 1 + index in the table's dirty list; 0 = unchanged since the last
                             checkpoint piece */
    char key[];           /* user_id then product_id */
} st_pair;
_Static_assert(sizeof(st_pair) == 48, "st_pair's header is 48 bytes");

typedef struct {
    st_pair **v;
    uint32_t n, cap;
} st_pairvec;
int st_pairvec_grow(st_pairvec *v); /* room for one more; 0 or -1 */
/* Appends p (a view event pushes twice: inline, the growth not). 0 or -1 (OOM). */
static inline int st_pairvec_push(st_pairvec *v, st_pair *p) {
    if (v->n == v->cap && st_pairvec_grow(v)) return -1;
    v->v[v->n++] = p;
    return 0;
}

/* Open addressing, linear probing, backward-shift deletion; the full hash sits in the slot so
 * a probe touches a pair only when its hash matches (one cache miss per lookup, not a chain).
 * Load <= 3/4 (it was 1/2): the table grows by doubling into a fresh mapping, and with 700k
 * pairs (1M events) the cascade ended at 2M slots, 64 MiB faulted in and zeroed over the run,
 * which perf put at 7% of it (clear_page under pairtab_resize); at 3/4 it ends at 1M slots. */
typedef struct {
    uint64_t h;
    st_pair *p; /* NULL = empty */
} st_pslot;
/* Pairs are allocated from a pool of blocks (64 KiB, doubling up to 2 MiB, those in huge
 * pages) with a free list per 16-byte size class
 * (pairs up to ST_POOL_MAX bytes; larger ones use malloc): a pair is made and freed per view
 * event, and malloc/free of that many small blocks, with the fastbin consolidation they caused
 * at each window close, was several percent of the run. The pool keeps its blocks until the
 * table is freed (memory is reused, not returned). */
enum { ST_POOL_MAX = 256, ST_POOL_BLOCK = 65536, ST_POOL_BLOCK_MAX = (int)ST_HUGE_PAGE };
typedef struct st_pool_free {
    struct st_pool_free *next;
} st_pool_free;
enum { ST_POOL_ALIGN = 64 };
typedef struct st_pool_block {
    struct st_pool_block *next;
    size_t used, cap;
    _Alignas(ST_POOL_ALIGN) max_align_t data[]; /* a pair of 64 bytes is one cache line */
} st_pool_block;
typedef struct {
    st_pslot *slots;
    uint32_t cap; /* power of two or 0 */
    uint64_t n;
    uint64_t n_el; /* elements over all pairs, for the state count */
    st_pool_free *free[ST_POOL_MAX / 16];
    st_pool_block *blocks;
    /* Incremental checkpoints: while track is set, every pair an event changed (created, an
     * element added, its expiry moved) is listed once in dirty until the next checkpoint piece;
     * a removed pair leaves NULL behind (its removal follows from the shard's close, and so do
     * the anchors a closing window consumes: the restore replays both). */
    bool track;
    st_pairvec dirty;
} st_pairtab;
/* The hash of a (user, product) pair, computed once per event (see st_pairtab_prefetch); never
 * stored (a restore recomputes it from the key). */
static inline uint64_t st_pair_hash(strview user, strview product) {
    return st_fold(st_fold(0x1234567, user), product);
}
/* Starts loading the slot where the pair of hash h would be: the engine issues it before the
 * event's other work so that the table's cache miss overlaps with it. */
ST_PREFETCH_FN st_pairtab_prefetch(const st_pairtab *t, uint64_t h) {
    if (t->cap) __builtin_prefetch(&t->slots[(uint32_t)h & (t->cap - 1)]);
}
/* The hash of pair p's key (st_pair_hash of its user and product). */
static inline uint64_t st_pair_key_hash(const st_pair *p) {
    return st_pair_hash((strview){p->key, p->ulen}, (strview){p->key + p->ulen, p->plen});
}
/* Finds or (create) adds the pair, whose hash is h = st_pair_hash(user, product); *created
 * tells which. NULL on OOM or if absent. */
st_pair *st_pairtab_get(st_pairtab *t, uint64_t h, strview user, strview product, bool create, bool *created);
void st_pairtab_remove(st_pairtab *t, st_pair *p); /* unlinks and frees p; never resizes */
void st_pairtab_remove_h(st_pairtab *t, st_pair *p, uint64_t h); /* the same, h = st_pair_key_hash(p) */
/* Grows the table (once) so that n pairs fit at its load of 3/4. 0 or -1 (OOM, too many). */
int st_pairtab_reserve(st_pairtab *t, uint64_t n);
/* After removals: halves the table while it is under 1/8 full (never below 64 slots), in one
 * rehash, so that memory returns after a burst. */
void st_pairtab_shrink(st_pairtab *t);
void st_pairtab_free(st_pairtab *t);
int st_pair_push(st_pairtab *t, st_pair *p, int64_t ts, int32_t kind);
/* Lists p as changed since the last checkpoint piece (once; nothing unless t->track). 0 or -1. */
static inline int st_pair_mark(st_pairtab *t, st_pair *p) {
    if (!t->track || p->dirty) return 0;
    if (st_pairvec_push(&t->dirty, p)) return -1;
    p->dirty = t->dirty.n;
    return 0;
}
/* Empties the dirty list (every pair unchanged from here on). */
void st_pairtab_clean(st_pairtab *t);

/* ---- slots and shards ---- */
typedef struct {
    int64_t j;
    bool dirty;          /* ag changed since the last checkpoint piece */
    st_agg *ag;          /* window j's aggregates; NULL while no event */
    st_pairvec eval;     /* pairs anchored in window j - fw */
    st_pairvec expire;   /* pairs whose exp was set to j */
} st_slot;

/* Correction deltas of one closed window: the late events added to it since the last emit. */
typedef struct {
    int64_t j;
    st_agg *ag;
} st_corr;

/* A closed slot waiting for the global watermark (MERGED mode). */
typedef struct {
    int64_t j;
    st_agg *ag;          /* may be NULL */
    bool has_funnel;
    int64_t viewed, carted, purchased;
} st_closed;

typedef struct {
    bool assigned, touched, idle;
    int64_t last_active_us;  /* processing time; INT64_MIN = set at next advance */
    int64_t next_offset;
    int64_t max_ts, forced, closed_through;
    /* per source: newest event time, processing time of its last event, idleness, caught up
     * (nothing left to read in a live shard: see stream_engine_caught_up) */
    int64_t src_max[STREAM_MAX_SOURCES], src_active_us[STREAM_MAX_SOURCES];
    bool src_touched[STREAM_MAX_SOURCES], src_idle[STREAM_MAX_SOURCES], src_caught[STREAM_MAX_SOURCES];
    uint64_t ok[EV_TYPE_COUNT], dup[EV_TYPE_COUNT], late[EV_TYPE_COUNT], conflict[EV_TYPE_COUNT];
    st_dedup dd;             /* ids over the lateness horizon */
    st_slot **slots;         /* sorted by j */
    uint32_t n_slots, cap_slots;
    st_slot *hot[2];         /* the two slots hit last (see st_shard_slot) */
    st_closed *closed;       /* MERGED: closed slots, increasing j, from closed_head */
    uint32_t n_closed, cap_closed, closed_head;
    st_corr *corr;           /* pending corrections, increasing j */
    uint32_t n_corr, cap_corr;
    st_pairtab pairs;
    /* The checkpoint chain (stream_ckpt.c): checksum of the last piece written or restored
     * (0: none, so no delta can follow) and the number of deltas since its full checkpoint. */
    uint64_t ck_prev;
    uint32_t ck_n;
} st_shard;

struct stream_engine {
    stream_config cfg;
    stream_sink sink;
    int64_t fw;        /* funnel delay in windows */
    int64_t dd_keep;   /* windows an id is kept after its window closed: ceil(lateness / w) + 1 */
    int64_t global_wm; /* INT64_MIN until defined */
    st_shard *shards;  /* cfg.n_partitions */
};

void st_shard_reset(st_shard *s);                    /* frees all state, keeps counters zeroed */
void st_slot_free(st_slot *sl);
/* Slot j of shard s, created in order when create; NULL if absent and !create, or on OOM. An
 * event touches its window's slot and its funnel slot (window + fw) in turn, so a two-entry
 * cache (hot) in front of the binary search hits almost always: that test is inline (a view
 * asks three times), the search not. */
st_slot *st_shard_slot_find(st_shard *s, int64_t j, bool create);
static inline st_slot *st_shard_slot(st_shard *s, int64_t j, bool create) {
    if (s->hot[0] && s->hot[0]->j == j) return s->hot[0];
    if (s->hot[1] && s->hot[1]->j == j) return s->hot[1];
    return st_shard_slot_find(s, j, create);
}
int64_t st_floordiv(int64_t a, int64_t b);

/* The pending correction of window j (created in order when create); NULL on OOM/absent. */
st_corr *st_shard_corr(st_shard *s, int64_t j, bool create);

/* ---- rows (stream_emit.c): the bridge from the typed tables to the catalog's generic rows ---- */
/* 0 if the catalog's columns are those the engine fills (in order), else -1 naming the first
 * that differs: a catalog edit without its engine step fails at engine creation, not silently. */
int st_emit_check_catalog(char *err, size_t errlen);
stream_window st_window(const stream_engine *e, int64_t k, int32_t part, bool provisional, bool correction);
/* Emits window w's rows of every aggregate metric from a, then sink.window_done. in_place:
 * a's arrays may be sorted (a is dropped after); otherwise copies are sorted (a stays live). */
int st_emit_agg(const stream_engine *e, const stream_sink *sk, stream_window w, st_agg *a, bool in_place);
/* Emits window w's funnel row (nothing when v == 0), then sink.window_done. */
int st_emit_funnel(const stream_engine *e, const stream_sink *sk, stream_window w, int64_t v, int64_t c,
                   int64_t b);

/* ---- merging rows of several shards by the catalog's rules (stream_merge.c) ---- */
typedef struct {
    metric_id m;
    metric_val v[METRIC_MAX_COLS];
} st_row;
typedef struct {
    st_row *rows;
    uint32_t n, cap;
    st_itab ix;
    st_arena ar; /* the rows' strings */
} st_rows;
/* A sink whose rows are merged into r (MERGE_SUM summed, MERGE_ATTR the smallest, per metric
 * and keys); window_done is not called. A failed add (OOM) returns -1. */
stream_sink st_rows_sink(st_rows *r);
/* Emits r's rows to sk for window w in the engine's order (catalog order, keys ascending byte
 * order; MERGE_RATIO values derived), then sk.window_done; nothing when r is empty. */
int st_rows_emit(st_rows *r, const stream_sink *sk, const stream_window *w);
void st_rows_free(st_rows *r);
/* Adds aggregate a's rows (unsorted, a unchanged) to r: one shard's part of a merged window. */
int st_emit_agg_into(st_rows *r, stream_window w, const st_agg *a);

/* Checkpoint codec helpers used by stream_ckpt.c. */
int st_slot_add_pair_refs(stream_engine *e, st_shard *s, st_pair *p);

#endif
