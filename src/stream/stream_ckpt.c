/*
 * stream_ckpt.c — checkpoint codec: one partition's whole state to bytes and back.
 *
 * Layout (all integers little-endian):
 *   "ECSTRMCK" | u32 version (7) | u32 partition | u64 payload length | u64 checksum(payload) |
 *   payload
 * payload:
 *   config: i64 window, lateness, view_to_cart, cart_to_purchase | u32 mode
 *   shard:  i64 next_offset, max_ts, forced, closed_through | u64 ok[4], dup[4], late[4],
 *           conflict[4] | u32 n_sources, each: i64 newest event time of that source
 *   u32 n_slots,  each: i64 j | u8 has_agg [agg]
 *   u32 n_closed, each: i64 j | u8 has_agg [agg] | u8 has_funnel | i64 viewed, carted, purchased
 *   u32 n_pairs,  each: pair (put_pair: varint lengths, offsets from the reference point)
 *   u32 n_corr,   each: i64 j | agg      (pending correction deltas of closed window j)
 *   u32 n_ids,    each: u64 a, b, content hash | var zz(k - ref k)  (the live dedup ids, any order)
 *   agg: i64 orders, items, revenue
 *        | u32 n, each: str category | i64 views, adds, removes, units, revenue
 *        | u32 n, each: str product_id, name, category | i64 views, adds, units, revenue
 *        | u32 n, each: str province, city, store_type | i64 orders, revenue
 *        | u32 n, each: str store_type, device | i64 orders, revenue
 * Version 3 (generic rows): products carry adds, units and revenue; channels and corrections
 * are new. Version 4: the dedup ids leave the slots for one table per shard with content
 * hashes, and conflict counters. Version 3 is still read (its ids join the table with content
 * "unknown": duplicates, never conflicts); older ones are refused ("unsupported version").
 * Version 5: the payload checksum is XXH3-64 (ck_sum); the payload is version 4's.
 * Version 6: the pairs and ids, most of the bytes, are compact (a 400k-event backfill's state:
 * 8.2 MB, not 15.5; the kernel's copy of the bytes was half of a commit's checkpoint cost):
 * varint lengths and counts; times, windows and expiries as zigzag varint offsets from the
 * piece's reference point (ck_ref: from the head's max_ts, so not stored). In version 5 a pair
 * was "str user | str product | i64 exp | u32 n_el, each: u8 kind, i64 t" and an id
 * "u64 a, b, content hash | i64 k". Versions 3, 4 and 5 are still read.
 * Version 7: the content hashes are of a new st_event_hash (one 128-bit multiply per field,
 * stream_tab.c); the layout is version 6's. The ids of an older piece are read with content
 * "unknown" (0, as version 3's): a copy of them after the upgrade is a duplicate, never a
 * conflict, since its hash by the new function cannot be compared with the old one.
 *   str: u32 length | bytes;  var: LEB128 varint;  zz: zigzag (a signed value as a small var)
 *
 * A delta (incremental checkpoint, stream.h):
 *   "ECSTRMDL" | u32 version (3) | u32 partition | u64 payload length | u64 XXH3(payload) | payload
 * payload:
 *   u64 checksum of the previous piece of the chain | u32 number in the chain (1, 2, ...)
 *   config and shard: as above
 *   u32 n, each: i64 j             (every open slot: the others were closed)
 *   u32 n, each: i64 j | agg       (the slots whose aggregates changed, whole)
 *   closed section, as above (whole) | pairs section, as above (the pairs changed, whole)
 *   corrections section, as above (whole) | ids section, as above (the ids added)
 * Version 3 is version 7's encoding; 2 (version 6's) and 1 (version 5's) are still read.
 * What a delta omits was evicted by the watermark it carries: slots up to closed_through, pairs
 * whose expiry is closed, ids past the horizon; restore applies that rule (ck_finish).
 * Tracking the changes costs the hot path a flag per slot and one list entry per pair changed
 * (st_pair_mark) and nothing per dedup id (the table is append-only between compactions:
 * st_dedup.mark).
 *
 * (Delta pieces use 0 as "no previous piece": a checksum of 0 is stored as 1 in the chain.)
 * The funnel's per-slot lists (anchors to evaluate, pairs to expire) are not stored: they are
 * rebuilt from each pair's elements and expiry on restore.
 *
 * The reader trusts nothing: every length and count is checked against the bytes left before
 * anything is allocated, so corrupt input gives an error, never a crash or a huge allocation.
 */
#include "stream/stream_internal.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "util/util.h"
#include <xxhash.h>

#define CK_MAGIC "ECSTRMCK"
#define CK_VERSION 7u
#define CK_HEADER 32
#define CK_DELTA_MAGIC "ECSTRMDL"
#define CK_DELTA_VERSION 3u

/* The payload checksum of a piece of this version: XXH3 (libxxhash) from full version 5 and
 * in every delta; versions 3 and 4 used hash64, a byte-at-a-time FNV that was a third of a
 * commit's checkpoint cost. */
static uint64_t ck_sum(bool delta, uint32_t ver, const void *p, size_t n) {
    return delta || ver >= 5 ? XXH3_64bits(p, n) : hash64(p, n);
}

/* ---- writer ---- */

static int put_u64(buf_t *b, uint64_t v) {
    unsigned char x[8];
    for (int i = 0; i < 8; i++) x[i] = (unsigned char)(v >> (8 * i));
    return buf_append(b, x, 8);
}
static int put_u32(buf_t *b, uint32_t v) {
    unsigned char x[4];
    for (int i = 0; i < 4; i++) x[i] = (unsigned char)(v >> (8 * i));
    return buf_append(b, x, 4);
}
static int put_i64(buf_t *b, int64_t v) {
    return put_u64(b, (uint64_t)v);
}
static int put_u8(buf_t *b, unsigned v) {
    return buf_append_char(b, (char)(unsigned char)v);
}
static int put_str(buf_t *b, strview s) {
    return put_u32(b, (uint32_t)s.n) || buf_append(b, s.p, s.n);
}

static int put_agg(buf_t *b, const st_agg *a) {
    int r = put_i64(b, a->orders) | put_i64(b, a->items) | put_i64(b, a->revenue);
    r |= put_u32(b, a->n_cats);
    for (uint32_t i = 0; i < a->n_cats; i++) {
        const st_cat *c = &a->cats[i];
        r |= put_str(b, c->cat) | put_i64(b, c->views) | put_i64(b, c->adds) |
             put_i64(b, c->removes) | put_i64(b, c->units) | put_i64(b, c->revenue);
    }
    r |= put_u32(b, a->n_prods);
    for (uint32_t i = 0; i < a->n_prods; i++) {
        const st_prod *p = &a->prods[i];
        r |= put_str(b, p->pid) | put_str(b, p->name) | put_str(b, p->cat) | put_i64(b, p->views) |
             put_i64(b, p->adds) | put_i64(b, p->units) | put_i64(b, p->revenue);
    }
    r |= put_u32(b, a->n_cities);
    for (uint32_t i = 0; i < a->n_cities; i++) {
        const st_city *c = &a->cities[i];
        r |= put_str(b, c->prov) | put_str(b, c->city) | put_str(b, c->stype) |
             put_i64(b, c->orders) | put_i64(b, c->revenue);
    }
    r |= put_u32(b, a->n_chans);
    for (uint32_t i = 0; i < a->n_chans; i++) {
        const st_chan *c = &a->chans[i];
        r |= put_str(b, c->stype) | put_str(b, c->device) | put_i64(b, c->orders) | put_i64(b, c->revenue);
    }
    return r ? -1 : 0;
}

/* Ids of windows after live_after; expired ones still in the table are left out. */
static int64_t ck_live_after(const stream_engine *e, const st_shard *s) {
    return s->closed_through == INT64_MIN ? INT64_MIN : s->closed_through - e->dd_keep;
}

/* The reference point of a piece's compact sections (version 6): the shard's newest event
 * time in the piece's head (0 before any event), so not stored; times, windows and expiries
 * are stored as small signed offsets from it. */
typedef struct {
    int64_t t, k, x; /* time (µs), its window, and its window + fw (a fresh pair's expiry) */
} ck_ref;

static ck_ref ck_ref_of(const stream_engine *e, const st_shard *s) {
    int64_t t = s->max_ts == INT64_MIN ? 0 : s->max_ts, k = st_floordiv(t, e->cfg.window_us);
    return (ck_ref){t, k, k + e->fw};
}

/* LEB128 varint and zigzag (a signed offset as a small unsigned): at most 10 bytes. */
static unsigned char *enc_var(unsigned char *o, uint64_t v) {
    for (; v >= 0x80; v >>= 7) *o++ = (unsigned char)(v | 0x80);
    *o++ = (unsigned char)v;
    return o;
}
static uint64_t zz(int64_t v) {
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}
static unsigned char *enc_u64(unsigned char *o, uint64_t v) {
    for (int i = 0; i < 8; i++) o[i] = (unsigned char)(v >> (8 * i));
    return o + 8;
}

/* One dedup entry: the id and content hash as three little-endian words (random bits: no
 * smaller form), its window as a varint offset from the reference window. */
enum { CK_DD_MAX = 34 };
static unsigned char *put_dd(unsigned char *o, const st_dd *d, const ck_ref *ref) {
    o = enc_u64(enc_u64(enc_u64(o, d->id.a), d->id.b), d->ch);
    return enc_var(o, zz(d->k - ref->k));
}

/* The live ids among entries from..n-1 of the table and among the reused copies (a delta; a
 * full checkpoint passes from 0 and no copies). */
static int put_ids(buf_t *b, const stream_engine *e, const st_shard *s, uint32_t from, bool reused) {
    int64_t la = ck_live_after(e, s);
    ck_ref ref = ck_ref_of(e, s);
    uint32_t n = 0, nr = reused ? s->dd.n_reused : 0;
    for (uint32_t i = from; i < s->dd.ix.n; i++) n += s->dd.v[i].k > la;
    for (uint32_t i = 0; i < nr; i++) n += s->dd.reused[i].k > la;
    /* tens of thousands of ids per epoch: encoded in place, not four appends each */
    if (put_u32(b, n) || buf_reserve(b, (size_t)n * CK_DD_MAX)) return -1;
    unsigned char *o = (unsigned char *)b->data + b->len, *o0 = o;
    for (uint32_t i = from; i < s->dd.ix.n; i++)
        if (s->dd.v[i].k > la) o = put_dd(o, &s->dd.v[i], &ref);
    for (uint32_t i = 0; i < nr; i++)
        if (s->dd.reused[i].k > la) o = put_dd(o, &s->dd.reused[i], &ref);
    b->len += (size_t)(o - o0);
    b->data[b->len] = '\0'; /* buf_t's invariant (buf_reserve kept room for it) */
    return 0;
}

/* The configuration and the shard's scalars: the first part of both payloads. */
static int put_head(buf_t *b, const stream_engine *e, const st_shard *s) {
    int r = put_i64(b, e->cfg.window_us) | put_i64(b, e->cfg.lateness_us) |
            put_i64(b, e->cfg.view_to_cart_us) | put_i64(b, e->cfg.cart_to_purchase_us) |
            put_u32(b, (uint32_t)e->cfg.mode);
    r |= put_i64(b, s->next_offset) | put_i64(b, s->max_ts) | put_i64(b, s->forced) |
         put_i64(b, s->closed_through);
    for (int t = 0; t < EV_TYPE_COUNT; t++)
        r |= put_u64(b, s->ok[t]) | put_u64(b, s->dup[t]) | put_u64(b, s->late[t]) | put_u64(b, s->conflict[t]);
    r |= put_u32(b, (uint32_t)e->cfg.n_sources);
    for (int i = 0; i < e->cfg.n_sources; i++) r |= put_i64(b, s->src_max[i]);
    return r ? -1 : 0;
}

static int put_closed(buf_t *b, const st_shard *s) {
    int r = put_u32(b, s->n_closed - s->closed_head);
    for (uint32_t i = s->closed_head; i < s->n_closed && !r; i++) {
        const st_closed *c = &s->closed[i];
        r |= put_i64(b, c->j) | put_u8(b, c->ag != NULL);
        if (c->ag) r |= put_agg(b, c->ag);
        r |= put_u8(b, c->has_funnel) | put_i64(b, c->viewed) | put_i64(b, c->carted) |
             put_i64(b, c->purchased);
    }
    return r ? -1 : 0;
}

/* A pair, encoded in place (pairs are most of a checkpoint; a dozen appends each were a visible
 * share of a commit, and half its cost was the kernel copying the bytes: hence the compact form):
 * var ulen | user | var plen | product | var zz(exp - ref.x) | var n | n x element, where an
 * element is var (zz(q) << 3 | (r != 0) << 2 | kind) [var r], t - ref.t = q * 1000 + r,
 * 0 <= r < 1000 (event times are usually whole milliseconds: 4 bytes instead of 9). */
static unsigned char *put_el(unsigned char *o, const st_el *el, const ck_ref *ref) {
    int64_t dt = el->t - ref->t, q = dt / 1000, rem = dt % 1000;
    if (rem < 0) q--, rem += 1000; /* floor division */
    o = enc_var(o, zz(q) << 3 | (uint64_t)(rem != 0) << 2 | (uint64_t)el->kind);
    return rem ? enc_var(o, (uint64_t)rem) : o;
}
/* The pairs are scattered over the heap: the encoder fetches a few ahead, both cache lines
 * (the key starts in the second), so a pair costs no miss of its own. */
static void ck_prefetch_pair(const st_pair *p) {
    if (!p) return;
    __builtin_prefetch(p);
    __builtin_prefetch((const char *)p + 64);
}
static int put_pair(buf_t *b, const st_pair *p, const ck_ref *ref) {
    size_t need = 3 + (size_t)p->ulen + 3 + p->plen + 10 + 5 + (size_t)p->n_el * 12;
    if (buf_reserve(b, need)) return -1;
    unsigned char *o = (unsigned char *)b->data + b->len, *o0 = o;
    o = enc_var(o, p->ulen);
    memcpy(o, p->key, p->ulen);
    o = enc_var(o + p->ulen, p->plen);
    memcpy(o, p->key + p->ulen, p->plen);
    o = enc_var(o + p->plen, zz((int64_t)((uint64_t)p->exp - (uint64_t)ref->x))); /* no UB if unset */
    o = enc_var(o, p->n_el);
    for (uint32_t x = 0; x < p->n_el; x++) o = put_el(o, &p->el[x], ref);
    b->len += (size_t)(o - o0);
    b->data[b->len] = '\0'; /* buf_t's invariant (buf_reserve kept room for it) */
    return 0;
}

static int put_corr(buf_t *b, const st_shard *s) {
    int r = put_u32(b, s->n_corr);
    for (uint32_t i = 0; i < s->n_corr && !r; i++) {
        static const st_agg none;
        r |= put_i64(b, s->corr[i].j) | put_agg(b, s->corr[i].ag ? s->corr[i].ag : &none);
    }
    return r ? -1 : 0;
}

static int put_shard(buf_t *b, const stream_engine *e, const st_shard *s) {
    ck_ref ref = ck_ref_of(e, s);
    int r = put_head(b, e, s) | put_u32(b, s->n_slots);
    for (uint32_t i = 0; i < s->n_slots && !r; i++) {
        const st_slot *sl = s->slots[i];
        r |= put_i64(b, sl->j) | put_u8(b, sl->ag != NULL);
        if (sl->ag) r |= put_agg(b, sl->ag);
    }
    r |= put_closed(b, s) | put_u32(b, (uint32_t)s->pairs.n);
    for (uint32_t i = 0; i < s->pairs.cap && !r; i++) {
        if (i + 16 < s->pairs.cap) ck_prefetch_pair(s->pairs.slots[i + 16].p);
        if (s->pairs.slots[i].p) r |= put_pair(b, s->pairs.slots[i].p, &ref);
    }
    r |= put_corr(b, s);
    return r ? -1 : put_ids(b, e, s, 0, false);
}

/* A delta's payload: what changed since the piece of checksum s->ck_prev (see the layout). */
static int put_delta(buf_t *b, const stream_engine *e, const st_shard *s) {
    uint32_t nd = 0, np = 0;
    for (uint32_t i = 0; i < s->n_slots; i++) nd += s->slots[i]->dirty && s->slots[i]->ag;
    for (uint32_t i = 0; i < s->pairs.dirty.n; i++) np += s->pairs.dirty.v[i] != NULL;
    ck_ref ref = ck_ref_of(e, s);
    int r = put_u64(b, s->ck_prev) | put_u32(b, s->ck_n + 1) | put_head(b, e, s) | put_u32(b, s->n_slots);
    for (uint32_t i = 0; i < s->n_slots; i++) r |= put_i64(b, s->slots[i]->j);
    r |= put_u32(b, nd);
    for (uint32_t i = 0; i < s->n_slots && !r; i++)
        if (s->slots[i]->dirty && s->slots[i]->ag) r |= put_i64(b, s->slots[i]->j) | put_agg(b, s->slots[i]->ag);
    r |= put_closed(b, s) | put_u32(b, np);
    for (uint32_t i = 0; i < s->pairs.dirty.n && !r; i++) {
        if (i + 16 < s->pairs.dirty.n) ck_prefetch_pair(s->pairs.dirty.v[i + 16]);
        if (s->pairs.dirty.v[i]) r |= put_pair(b, s->pairs.dirty.v[i], &ref);
    }
    r |= put_corr(b, s);
    return r ? -1 : put_ids(b, e, s, s->dd.mark, true);
}

/* Appends header + payload (written by fn) and returns the payload's checksum in *sum. */
static int ck_write(const stream_engine *e, int part, const char *magic, uint32_t version,
                    int (*fn)(buf_t *, const stream_engine *, const st_shard *), buf_t *out,
                    uint64_t *sum, char *err, size_t errlen) {
    if (part < 0 || part >= e->cfg.n_partitions || !e->shards[part].assigned)
        return err_set(err, errlen, "partition %d is not assigned", part), -1;
    size_t start = out->len;
    if (buf_append(out, magic, 8) || put_u32(out, version) || put_u32(out, (uint32_t)part) ||
        put_u64(out, 0) || put_u64(out, 0) || fn(out, e, &e->shards[part])) {
        out->len = start;
        return err_set(err, errlen, "out of memory"), -1;
    }
    size_t plen = out->len - start - CK_HEADER;
    uint64_t h = ck_sum(version == CK_DELTA_VERSION && !memcmp(magic, CK_DELTA_MAGIC, 8), version,
                        out->data + start + CK_HEADER, plen);
    for (int i = 0; i < 8; i++) {
        out->data[start + 16 + i] = (char)(unsigned char)((uint64_t)plen >> (8 * i));
        out->data[start + 24 + i] = (char)(unsigned char)(h >> (8 * i));
    }
    *sum = h ? h : 1; /* 0 means "no piece" in the chain */
    return 0;
}

int stream_engine_checkpoint(const stream_engine *e, int part, buf_t *out, char *err,
                             size_t errlen) {
    uint64_t h;
    return ck_write(e, part, CK_MAGIC, CK_VERSION, put_shard, out, &h, err, errlen);
}

/* After a piece: the current state is the base of the next delta. */
static void ck_chain_mark(st_shard *s, uint64_t sum, uint32_t n) {
    s->ck_prev = sum;
    s->ck_n = n;
    for (uint32_t i = 0; i < s->n_slots; i++) s->slots[i]->dirty = false;
    s->pairs.track = true;
    st_pairtab_clean(&s->pairs);
    st_dedup_mark(&s->dd);
}

int stream_engine_checkpoint_full(stream_engine *e, int part, buf_t *out, char *err, size_t errlen) {
    uint64_t h;
    if (ck_write(e, part, CK_MAGIC, CK_VERSION, put_shard, out, &h, err, errlen)) return -1;
    ck_chain_mark(&e->shards[part], h, 0);
    return 0;
}

int stream_engine_checkpoint_delta(stream_engine *e, int part, buf_t *out, char *err, size_t errlen) {
    if (part >= 0 && part < e->cfg.n_partitions && e->shards[part].assigned && !e->shards[part].ck_prev)
        return err_set(err, errlen, "partition %d has no checkpoint to build a delta on", part), -1;
    uint64_t h;
    if (ck_write(e, part, CK_DELTA_MAGIC, CK_DELTA_VERSION, put_delta, out, &h, err, errlen)) return -1;
    st_shard *s = &e->shards[part];
    ck_chain_mark(s, h, s->ck_n + 1);
    return 0;
}

/* An aggregate's entries (product, category, city, channel rows) at ~64 bytes each. */
static uint64_t ck_agg_weight(const st_agg *a) {
    return a ? 64 * st_agg_entries(a) : 0;
}

/* Version 6's typical bytes per item: an id 25, a pair ~17 with a short key and ~3 per
 * element, an aggregate row ~64 (a 1M-event backfill's state: ~0.9 bytes per unit of weight,
 * expired ids not yet compacted included). Constant time but for the windows' few dozen. */
uint64_t stream_engine_checkpoint_weight(const stream_engine *e, int part) {
    if (part < 0 || part >= e->cfg.n_partitions || !e->shards[part].assigned) return 0;
    const st_shard *s = &e->shards[part];
    uint64_t w = 256 + (uint64_t)s->dd.ix.n * 25 + s->pairs.n * 17 + s->pairs.n_el * 3;
    for (uint32_t i = 0; i < s->n_slots; i++) w += 16 + ck_agg_weight(s->slots[i]->ag);
    for (uint32_t i = s->closed_head; i < s->n_closed; i++) w += 48 + ck_agg_weight(s->closed[i].ag);
    for (uint32_t i = 0; i < s->n_corr; i++) w += 16 + ck_agg_weight(s->corr[i].ag);
    return w;
}

/* ---- reader ---- */

typedef struct {
    const unsigned char *p;
    size_t n, off;
    bool bad;
    uint32_t ver; /* the full format's version (3..7; a delta's: that of its payload) */
    ck_ref ref;   /* version 6: the piece's reference point (ck_ref_of) */
} rd;

static bool need(rd *r, size_t k) {
    if (r->bad || r->n - r->off < k) {
        r->bad = true;
        return false;
    }
    return true;
}
static uint64_t get_u64(rd *r) {
    if (!need(r, 8)) return 0;
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)r->p[r->off + i] << (8 * i);
    r->off += 8;
    return v;
}
static uint32_t get_u32(rd *r) {
    if (!need(r, 4)) return 0;
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) v |= (uint32_t)r->p[r->off + i] << (8 * i);
    r->off += 4;
    return v;
}
static int64_t get_i64(rd *r) {
    return (int64_t)get_u64(r);
}
static unsigned get_u8(rd *r) {
    if (!need(r, 1)) return 0;
    return r->p[r->off++];
}
static strview get_str(rd *r) {
    uint32_t n = get_u32(r);
    if (!need(r, n)) return (strview){"", 0};
    strview s = {(const char *)r->p + r->off, n};
    r->off += n;
    return s;
}
/* A varint (enc_var): at most 10 bytes, the last one nonzero unless the only one (one
 * encoding per value). */
static uint64_t get_var(rd *r) {
    uint64_t v = 0;
    for (int i = 0; i < 10; i++) {
        if (!need(r, 1)) return 0;
        unsigned c = r->p[r->off++];
        if (i == 9 && c > 1) break;
        v |= (uint64_t)(c & 0x7f) << (7 * i);
        if (c < 0x80) {
            if (i && !c) break;
            return v;
        }
    }
    r->bad = true;
    return 0;
}
/* ref + a zigzag varint offset, which must land inside +-STREAM_MAX_ABS_TIME_US. */
static int64_t get_off(rd *r, int64_t ref) {
    uint64_t z = get_var(r);
    int64_t d = (int64_t)(z >> 1) ^ -(int64_t)(z & 1), v = 0;
    if (__builtin_add_overflow(ref, d, &v) || v <= -STREAM_MAX_ABS_TIME_US || v >= STREAM_MAX_ABS_TIME_US)
        r->bad = true;
    return r->bad ? 0 : v;
}
/* A string with a varint length (version 6 pairs). */
static strview get_vstr(rd *r) {
    uint64_t n = get_var(r);
    if (r->bad || !need(r, n)) return (strview){"", 0};
    strview s = {(const char *)r->p + r->off, (size_t)n};
    r->off += n;
    return s;
}
/* A count of items at least min_size bytes each: more than the bytes left is corruption. */
static uint32_t get_count(rd *r, size_t min_size) {
    uint32_t n = get_u32(r);
    if (!r->bad && (size_t)n > (r->n - r->off) / min_size) r->bad = true;
    return r->bad ? 0 : n;
}

/* get_count with a varint count (version 6 pairs' elements). */
static uint32_t get_vcount(rd *r, size_t min_size) {
    uint64_t n = get_var(r);
    if (!r->bad && (n > UINT32_MAX || n > (r->n - r->off) / min_size)) r->bad = true;
    return r->bad ? 0 : (uint32_t)n;
}

/* Times and window indexes in a checkpoint stay well inside int64 so that no arithmetic on them
 * can overflow (the engine refuses events beyond STREAM_MAX_ABS_TIME_US as well). */
static bool sane_time(int64_t t) {
    return t > -STREAM_MAX_ABS_TIME_US && t < STREAM_MAX_ABS_TIME_US;
}

/* Reads an aggregate; NULL with *oom or r->bad set on failure. */
static st_agg *get_agg(rd *r, bool *oom) {
    st_agg *a = st_agg_new();
    if (!a) return *oom = true, NULL;
    a->orders = get_i64(r);
    a->items = get_i64(r);
    a->revenue = get_i64(r);
    uint32_t n = get_count(r, 44);
    for (uint32_t i = 0; i < n && !r->bad; i++) {
        strview name = get_str(r);
        int64_t v[5];
        for (int x = 0; x < 5; x++) v[x] = get_i64(r);
        if (r->bad) break;
        st_cat *c = st_agg_cat(a, name);
        if (!c) return *oom = true, st_agg_free(a), NULL;
        if (c->views || c->adds || c->removes || c->units || c->revenue) r->bad = true;
        c->views = v[0], c->adds = v[1], c->removes = v[2], c->units = v[3], c->revenue = v[4];
    }
    n = get_count(r, 44);
    for (uint32_t i = 0; i < n && !r->bad; i++) {
        strview pid = get_str(r), name = get_str(r), cat = get_str(r);
        int64_t v[4];
        for (int x = 0; x < 4; x++) v[x] = get_i64(r);
        if (r->bad) break;
        uint32_t before = a->n_prods;
        st_prod *p = st_agg_prod(a, pid, name, cat);
        if (!p) return *oom = true, st_agg_free(a), NULL;
        if (a->n_prods == before) r->bad = true; /* duplicate key */
        p->views = v[0], p->adds = v[1], p->units = v[2], p->revenue = v[3];
    }
    n = get_count(r, 28);
    for (uint32_t i = 0; i < n && !r->bad; i++) {
        strview prov = get_str(r), city = get_str(r), st = get_str(r);
        int64_t o = get_i64(r), rev = get_i64(r);
        if (r->bad) break;
        uint32_t before = a->n_cities;
        st_city *c = st_agg_city(a, prov, city, st);
        if (!c) return *oom = true, st_agg_free(a), NULL;
        if (a->n_cities == before) r->bad = true;
        c->orders = o, c->revenue = rev;
    }
    n = get_count(r, 24);
    for (uint32_t i = 0; i < n && !r->bad; i++) {
        strview st = get_str(r), dev = get_str(r);
        int64_t o = get_i64(r), rev = get_i64(r);
        if (r->bad) break;
        if (dev.n == 0) r->bad = true; /* the engine stores "none", never an empty device */
        uint32_t before = a->n_chans;
        st_chan *c = st_agg_chan(a, st, dev);
        if (!c) return *oom = true, st_agg_free(a), NULL;
        if (a->n_chans == before) r->bad = true;
        c->orders = o, c->revenue = rev;
    }
    if (r->bad) {
        st_agg_free(a);
        return NULL;
    }
    return a;
}

/* Rebuilds the funnel lists a pair belongs to: its anchors' eval slots and its expiry slot. */
int st_slot_add_pair_refs(stream_engine *e, st_shard *s, st_pair *p) {
    for (uint32_t i = 0; i < p->n_el; i++) {
        if (p->el[i].kind != EL_VIEW) continue;
        st_slot *sl = st_shard_slot(s, st_floordiv(p->el[i].t, e->cfg.window_us) + e->fw, true);
        if (!sl || st_pairvec_push(&sl->eval, p)) return -1;
    }
    st_slot *sl = st_shard_slot(s, p->exp, true);
    return sl ? st_pairvec_push(&sl->expire, p) : -1;
}

/* Version 3 kept window j's ids in its slot, without content: they join the dedup table with
 * content hash 0 ("unknown": any copy of them is a duplicate, never a conflict). */
static int get_v3_ids(rd *r, const stream_engine *e, st_shard *s, int64_t j, bool *oom) {
    uint32_t nid = get_count(r, 16);
    for (uint32_t x = 0; x < nid && !r->bad; x++) {
        st_id id = {get_u64(r), get_u64(r)};
        if (r->bad) break;
        uint32_t before = s->dd.ix.n;
        if (st_dedup_check(&s->dd, id, 0, j, ck_live_after(e, s)) < 0) return *oom = true, -1;
        if (s->dd.ix.n == before) r->bad = true;
    }
    return r->bad ? -1 : 0;
}

/* Reads the slots section into s. 0, or -1 with r->bad / *oom. */
static int get_slots(rd *r, const stream_engine *e, st_shard *s, bool *oom) {
    uint32_t n = get_count(r, 13);
    int64_t prev = INT64_MIN;
    for (uint32_t i = 0; i < n && !r->bad; i++) {
        int64_t j = get_i64(r);
        if (r->bad || !sane_time(j) || j <= prev || j <= s->closed_through)
            return r->bad = true, -1;
        prev = j;
        st_slot *sl = st_shard_slot(s, j, true);
        if (!sl) return *oom = true, -1;
        unsigned has = get_u8(r);
        if (has > 1) return r->bad = true, -1;
        if (has && !(sl->ag = get_agg(r, oom))) return -1;
        if (r->ver == 3 && get_v3_ids(r, e, s, j, oom)) return -1;
    }
    return r->bad ? -1 : 0;
}

/* The dedup ids of a full checkpoint or those a delta adds: each live (k after the horizon),
 * sane, and new (a live id twice, or one the chain already holds live, is corrupt). In a full
 * every entry is live, so "new" is "present once". */
static int get_ids(rd *r, const stream_engine *e, st_shard *s, bool *oom) {
    bool v6 = r->ver >= 6;
    uint32_t n = get_count(r, v6 ? 25 : 32);
    int64_t la = ck_live_after(e, s);
    for (uint32_t i = 0; i < n && !r->bad; i++) {
        st_id id = {get_u64(r), get_u64(r)};
        uint64_t ch = get_u64(r);
        if (r->ver < 7) ch = 0; /* another hash function's: unknown (see the header) */
        int64_t k = v6 ? get_off(r, r->ref.k) : get_i64(r);
        if (r->bad || !sane_time(k) || k <= la) return r->bad = true, -1;
        int d = st_dedup_check(&s->dd, id, ch, k, la);
        if (d < 0) return *oom = true, -1;
        if (d != ST_DD_NEW) return r->bad = true, -1;
    }
    return r->bad ? -1 : 0;
}

static int get_closed(rd *r, st_shard *s, bool *oom) {
    uint32_t n = get_count(r, 34);
    if (!n) return r->bad ? -1 : 0;
    s->closed = calloc(n, sizeof *s->closed);
    if (!s->closed) return *oom = true, -1;
    s->cap_closed = n;
    int64_t prev = INT64_MIN;
    for (uint32_t i = 0; i < n && !r->bad; i++) {
        st_closed *c = &s->closed[s->n_closed];
        c->j = get_i64(r);
        unsigned has = get_u8(r);
        if (r->bad || has > 1 || c->j <= prev || c->j > s->closed_through)
            return r->bad = true, -1;
        prev = c->j;
        if (has && !(c->ag = get_agg(r, oom))) return -1;
        s->n_closed++; /* owned by s from here on */
        unsigned hf = get_u8(r);
        c->viewed = get_i64(r), c->carted = get_i64(r), c->purchased = get_i64(r);
        if (hf > 1) r->bad = true;
        c->has_funnel = hf == 1;
    }
    return r->bad ? -1 : 0;
}

/* A version-6 element (put_el): its time, and its kind in *kind. */
static int64_t get_el(rd *r, unsigned *kind) {
    uint64_t w = get_var(r), rem = w & 4 ? get_var(r) : 0;
    *kind = (unsigned)(w & 3);
    uint64_t zq = w >> 3;
    int64_t q = (int64_t)(zq >> 1) ^ -(int64_t)(zq & 1), t = 0;
    if ((w & 4 && (rem == 0 || rem >= 1000)) || q <= -(1LL << 52) || q >= 1LL << 52 ||
        __builtin_add_overflow(r->ref.t, q * 1000 + (int64_t)rem, &t))
        r->bad = true;
    return r->bad ? 0 : t;
}

/* Reads a pairs section. A full checkpoint creates each pair; a delta (upsert) replaces one
 * the chain already holds. mark (the piece's number + 1) tags each pair read, so a pair twice
 * in one piece is corrupt. The elements are checked, and the funnel lists built, once the
 * whole chain is read (ck_finish). */
static int get_pairs(rd *r, st_shard *s, bool upsert, uint32_t mark, bool *oom) {
    bool v6 = r->ver >= 6;
    uint32_t n = get_count(r, v6 ? 4 : 20);
    /* a full checkpoint's pairs are all new: one resize to their size (get_count bounds n by
     * the bytes left, so a corrupt count cannot ask for more than a few times the file) */
    if (!r->bad && !upsert && st_pairtab_reserve(&s->pairs, s->pairs.n + n)) return *oom = true, -1;
    for (uint32_t i = 0; i < n && !r->bad; i++) {
        strview u = v6 ? get_vstr(r) : get_str(r), pr = v6 ? get_vstr(r) : get_str(r);
        int64_t exp = v6 ? get_off(r, r->ref.x) : get_i64(r);
        uint32_t nel = v6 ? get_vcount(r, 1) : get_count(r, 9);
        if (r->bad || !sane_time(exp) || exp <= s->closed_through) return r->bad = true, -1;
        bool created;
        st_pair *p = st_pairtab_get(&s->pairs, st_pair_hash(u, pr), u, pr, true, &created);
        if (!p) {
            if (u.n > UINT16_MAX || pr.n > UINT16_MAX)
                r->bad = true;
            else
                *oom = true;
            return -1;
        }
        if ((!created && !upsert) || p->dirty == mark) return r->bad = true, -1;
        p->dirty = mark;
        s->pairs.n_el -= p->n_el;
        p->n_el = 0;
        p->exp = exp;
        for (uint32_t x = 0; x < nel && !r->bad; x++) {
            unsigned kind;
            int64_t t = v6 ? get_el(r, &kind) : (kind = get_u8(r), get_i64(r));
            if (kind > EL_BUY || !sane_time(t)) r->bad = true;
            if (r->bad) break;
            if (st_pair_push(&s->pairs, p, t, (int32_t)kind)) return *oom = true, -1;
        }
        if (r->bad) return -1;
    }
    return r->bad ? -1 : 0;
}

/* Pending corrections: windows in increasing order, each already closed by the shard's
 * watermark wm (a late event's window), so their rows can only ever be corrections. */
static int get_corr(rd *r, st_shard *s, int64_t closable_through, bool *oom) {
    uint32_t n = get_count(r, 48);
    int64_t prev = INT64_MIN;
    for (uint32_t i = 0; i < n && !r->bad; i++) {
        int64_t j = get_i64(r);
        if (r->bad || !sane_time(j) || j <= prev || j > closable_through) return r->bad = true, -1;
        prev = j;
        st_corr *c = st_shard_corr(s, j, true);
        if (!c) return *oom = true, -1;
        if (!(c->ag = get_agg(r, oom))) return -1;
    }
    return r->bad ? -1 : 0;
}

/* Reads the configuration and the shard's scalars (the head of both payloads) into s, and
 * the highest window index its watermark may have closed (*closable; INT64_MAX - 1 after a
 * flush). 0, or -1 with *why. */
static int get_head(rd *r, const stream_engine *e, st_shard *s, int64_t *closable, const char **why) {
    int64_t w = get_i64(r), l = get_i64(r), v2c = get_i64(r), c2p = get_i64(r);
    uint32_t mode = get_u32(r);
    if (r->bad) return *why = "truncated", -1;
    if (w != e->cfg.window_us || l != e->cfg.lateness_us || v2c != e->cfg.view_to_cart_us ||
        c2p != e->cfg.cart_to_purchase_us || mode != (uint32_t)e->cfg.mode)
        return *why = "written with a different window/lateness/funnel/mode configuration", -1;
    s->next_offset = get_i64(r);
    s->max_ts = get_i64(r);
    s->forced = get_i64(r);
    s->closed_through = get_i64(r);
    for (int t = 0; t < EV_TYPE_COUNT; t++) {
        s->ok[t] = get_u64(r);
        s->dup[t] = get_u64(r);
        s->late[t] = get_u64(r);
        if (r->ver >= 4) s->conflict[t] = get_u64(r);
    }
    if (get_u32(r) != (uint32_t)e->cfg.n_sources) return *why = "written with another number of sources", -1;
    for (int i = 0; i < e->cfg.n_sources; i++) {
        s->src_max[i] = get_i64(r);
        if (s->src_max[i] != INT64_MIN && !sane_time(s->src_max[i])) r->bad = true;
    }
    if (r->bad) return *why = "truncated", -1;
    if ((s->max_ts != INT64_MIN && !sane_time(s->max_ts)) ||
        (s->forced != INT64_MIN && s->forced != INT64_MAX && !sane_time(s->forced)) ||
        (s->closed_through != INT64_MIN && s->closed_through != INT64_MAX - 1 &&
         !sane_time(s->closed_through)))
        return *why = "time out of range", -1;
    int64_t lw = s->max_ts == INT64_MIN ? INT64_MIN : s->max_ts - l;
    int64_t wm = lw > s->forced ? lw : s->forced;
    int64_t cl = wm == INT64_MIN ? INT64_MIN : st_floordiv(wm, w) - 1;
    bool flushed = s->forced == INT64_MAX && s->closed_through == INT64_MAX - 1; /* after flush */
    if (s->closed_through > cl && !flushed) return *why = "inconsistent watermark", -1;
    *closable = flushed ? INT64_MAX - 1 : cl;
    r->ref = ck_ref_of(e, s);
    return 0;
}

/* Decodes a whole full payload into the fresh shard s. */
static int get_shard(rd *r, stream_engine *e, st_shard *s, bool *oom, const char **why) {
    int64_t cl;
    if (get_head(r, e, s, &cl, why)) return -1;
    if (get_slots(r, e, s, oom) || get_closed(r, s, oom) || get_pairs(r, s, false, 1, oom) ||
        get_corr(r, s, cl, oom) || (r->ver >= 4 && get_ids(r, e, s, oom)))
        return *why = "bad state section", -1;
    if (r->off != r->n) return *why = "trailing bytes", -1;
    return 0;
}

/* ---- deltas ---- */

/* The delta's slot list replaces the shard's: slots it lists are kept (or created empty),
 * slots it omits must have been closed (j <= closed_through). Then the changed aggregates. */
static int get_delta_slots(rd *r, st_shard *s, bool *oom) {
    uint32_t n = get_count(r, 8), o = 0, k = 0;
    st_slot **v = n ? calloc(n, sizeof *v) : NULL;
    if (n && !v) return *oom = true, -1;
    int64_t prev = INT64_MIN;
    for (uint32_t i = 0; i < n && !r->bad; i++) {
        int64_t j = get_i64(r);
        if (r->bad || !sane_time(j) || j <= prev || j <= s->closed_through) break;
        prev = j;
        for (; k < s->n_slots && s->slots[k]->j < j; k++) {
            if (s->slots[k]->j > s->closed_through) r->bad = true; /* an open slot vanished */
            st_slot_free(s->slots[k]);
        }
        if (k < s->n_slots && s->slots[k]->j == j) {
            v[o++] = s->slots[k++];
        } else if (!(v[o] = calloc(1, sizeof **v))) {
            *oom = true;
            break;
        } else {
            v[o++]->j = j;
        }
    }
    if (o < n) r->bad = true;
    for (; k < s->n_slots; k++) {
        if (s->slots[k]->j > s->closed_through) r->bad = true;
        st_slot_free(s->slots[k]);
    }
    free(s->slots);
    s->slots = v;
    s->n_slots = s->cap_slots = o;
    s->hot[0] = s->hot[1] = NULL;
    uint32_t nd = get_count(r, 48);
    for (uint32_t i = 0; i < nd && !r->bad && !*oom; i++) {
        st_slot *sl = st_shard_slot(s, get_i64(r), false);
        if (!sl) return r->bad = true, -1;
        st_agg_free(sl->ag);
        if (!(sl->ag = get_agg(r, oom))) return -1;
    }
    return r->bad || *oom ? -1 : 0;
}

/* Drops the closed windows and pending corrections (a delta carries them whole). */
static void drop_closed_corr(st_shard *s) {
    for (uint32_t i = s->closed_head; i < s->n_closed; i++) st_agg_free(s->closed[i].ag);
    free(s->closed);
    s->closed = NULL;
    s->n_closed = s->cap_closed = s->closed_head = 0;
    for (uint32_t i = 0; i < s->n_corr; i++) st_agg_free(s->corr[i].ag);
    s->n_corr = 0;
}

/* What closing the slots (from, to] did to every pair: each window's anchor consumed, in
 * window order, by swapping the last element into its place (stream_engine.c funnel_count).
 * A delta lists only the pairs an event changed, so the others are replayed here, in the same
 * order, which keeps their element order (the engine's same-order purchase check reads the
 * last element) identical to the live shard's. */
static void ck_consume(const stream_engine *e, st_shard *s, int64_t from, int64_t to) {
    if (to <= from) return;
    for (uint32_t i = 0; i < s->pairs.cap; i++) {
        st_pair *p = s->pairs.slots[i].p;
        for (; p;) {
            int64_t best = INT64_MAX;
            uint32_t at = 0;
            for (uint32_t x = 0; x < p->n_el; x++) {
                if (p->el[x].kind != EL_VIEW) continue;
                int64_t j = st_floordiv(p->el[x].t, e->cfg.window_us) + e->fw;
                if (j > from && j <= to && j < best) best = j, at = x;
            }
            if (best == INT64_MAX) break;
            p->el[at] = p->el[--p->n_el];
            s->pairs.n_el--;
        }
    }
}

/* Applies delta payload number `num` of the chain to s (which holds the chain up to it). */
static int get_delta(rd *r, stream_engine *e, st_shard *s, uint32_t num, bool *oom, const char **why) {
    int64_t before = s->closed_through, cl;
    if (get_head(r, e, s, &cl, why)) return -1;
    if (s->closed_through < before) return *why = "delta closes fewer windows than its base", -1;
    ck_consume(e, s, before, s->closed_through);
    drop_closed_corr(s);
    if (get_delta_slots(r, s, oom) || get_closed(r, s, oom) || get_pairs(r, s, true, num + 1, oom) ||
        get_corr(r, s, cl, oom) || get_ids(r, e, s, oom))
        return *why = "bad state section", -1;
    if (r->off != r->n) return *why = "trailing bytes", -1;
    return 0;
}

/* After the whole chain: pairs whose expiry the shard has closed are gone (as the engine frees
 * them), the others are checked against the final watermark and hung on their funnel slots;
 * the shard starts tracking changes for the next delta. */
static int ck_finish(stream_engine *e, st_shard *s, bool *oom) {
    st_pairvec gone = {0};
    int rc = 0;
    for (uint32_t i = 0; i < s->pairs.cap && !rc; i++) {
        st_pair *p = s->pairs.slots[i].p;
        if (!p) continue;
        p->dirty = 0;
        if (p->exp <= s->closed_through) {
            if (st_pairvec_push(&gone, p)) rc = -2;
            continue;
        }
        for (uint32_t x = 0; x < p->n_el && !rc; x++) {
            /* an element or anchor must be due no later than the pair's expiry */
            int64_t k = st_floordiv(p->el[x].t, e->cfg.window_us);
            if (k > p->exp - e->fw || (p->el[x].kind == EL_VIEW && k + e->fw <= s->closed_through)) rc = -1;
        }
    }
    for (uint32_t i = 0; i < gone.n; i++) st_pairtab_remove(&s->pairs, gone.v[i]);
    st_pairtab_shrink(&s->pairs);
    free(gone.v);
    for (uint32_t i = 0; i < s->pairs.cap && !rc; i++)
        if (s->pairs.slots[i].p && st_slot_add_pair_refs(e, s, s->pairs.slots[i].p)) rc = -2;
    if (!rc && st_dedup_expire(&s->dd, ck_live_after(e, s))) rc = -2;
    if (rc == -2) *oom = true;
    return rc ? -1 : 0;
}

/* Checks piece i's header: magic and version (a full first, deltas after), partition, length,
 * checksum. Sets r to its payload and *sum to its checksum. NULL, or why not. */
static const char *ck_header(rd *r, const stream_ckpt_piece *pc, size_t i, int part, uint64_t *sum) {
    const unsigned char *d = pc->p;
    bool delta = i > 0;
    *r = (rd){.p = d, .n = pc->n};
    if (pc->n < CK_HEADER || memcmp(d, delta ? CK_DELTA_MAGIC : CK_MAGIC, 8) != 0)
        return delta && pc->n >= 8 && !memcmp(d, CK_MAGIC, 8) ? "a full checkpoint where a delta belongs"
               : !delta && pc->n >= 8 && !memcmp(d, CK_DELTA_MAGIC, 8) ? "a delta without its full checkpoint"
                                                                      : "bad magic";
    r->off = 8;
    uint32_t ver = get_u32(r), p = get_u32(r);
    uint64_t plen = get_u64(r), h = get_u64(r);
    r->ver = delta ? ver + 4 : ver; /* a delta of version 1 holds version 5's encoding, 2 version 6's, 3 7's */
    if (delta ? ver < 1 || ver > CK_DELTA_VERSION : ver < 3 || ver > CK_VERSION) return "unsupported version";
    if (p != (uint32_t)part) return "checkpoint of another partition";
    if (plen != pc->n - CK_HEADER) return "length mismatch";
    if (ck_sum(delta, ver, d + CK_HEADER, plen) != h) return "checksum mismatch";
    *sum = h ? h : 1;
    r->p = d + CK_HEADER;
    r->n = plen;
    r->off = 0;
    return NULL;
}

/* Decodes the chain v[0..n) into the reset shard s: the full, then each delta in order, each
 * naming its predecessor's checksum and its own number. NULL, or why not (*oom: memory). */
static const char *ck_read_chain(stream_engine *e, int part, const stream_ckpt_piece *v, size_t n, bool *oom,
                                 char *buf, size_t buflen) {
    st_shard *s = &e->shards[part];
    uint64_t sum = 0;
    for (size_t i = 0; i < n; i++) {
        rd r;
        uint64_t h;
        const char *why = ck_header(&r, &v[i], i, part, &h);
        if (!why && i == 0 && get_shard(&r, e, s, oom, &why) && !why) why = "bad state";
        if (!why && i > 0) {
            uint64_t prev = get_u64(&r);
            uint32_t num = get_u32(&r);
            if (r.bad)
                why = "truncated";
            else if (prev != sum || num != i) {
                snprintf(buf, buflen, "delta %zu of the chain (numbered %u) does not follow piece %zu: a delta is missing, repeated or out of order",
                         i, num, i - 1);
                return buf;
            } else if (get_delta(&r, e, s, num, oom, &why) && !why)
                why = "bad state";
        }
        if (why || *oom) {
            if (i == 0 || !why) return why;
            snprintf(buf, buflen, "delta %zu: %s", i, why);
            return buf;
        }
        sum = h;
    }
    if (ck_finish(e, s, oom)) return *oom ? NULL : "bad funnel state";
    s->ck_prev = sum;
    s->ck_n = (uint32_t)(n - 1);
    s->pairs.track = true;
    st_dedup_mark(&s->dd);
    return NULL;
}

int stream_engine_restore_chain(stream_engine *e, int part, const stream_ckpt_piece *v, size_t n, int64_t now_us,
                                char *err, size_t errlen) {
    if (part < 0 || part >= e->cfg.n_partitions)
        return err_set(err, errlen, "partition %d out of range", part), -1;
    st_shard *s = &e->shards[part];
    st_shard_reset(s);
    s->assigned = true;
    s->last_active_us = now_us;
    bool oom = false;
    char buf[200];
    const char *why = n ? ck_read_chain(e, part, v, n, &oom, buf, sizeof buf) : "empty chain";
    if (why || oom) {
        char msg[240];
        snprintf(msg, sizeof msg, "%s", why ? why : "");
        st_shard_reset(s);
        s->assigned = true;
        s->last_active_us = now_us;
        if (oom) return err_set(err, errlen, "out of memory"), -1;
        return err_set(err, errlen, "corrupt checkpoint: %s", msg), -1;
    }
    if (e->global_wm != INT64_MIN && e->global_wm != INT64_MAX && e->global_wm > s->forced)
        s->forced = e->global_wm;
    return 0;
}

int stream_engine_restore(stream_engine *e, int part, const void *data, size_t n, int64_t now_us, char *err,
                          size_t errlen) {
    stream_ckpt_piece one = {data, n};
    return stream_engine_restore_chain(e, part, &one, 1, now_us, err, errlen);
}

int stream_checkpoint_peek(const void *p, size_t n, stream_ckpt_info *out) {
    const unsigned char *d = p;
    if (n < CK_HEADER) return -1;
    bool full = !memcmp(d, CK_MAGIC, 8), delta = !memcmp(d, CK_DELTA_MAGIC, 8);
    if (!full && !delta) return -1;
    rd r = {.p = d, .n = n, .off = 8};
    get_u32(&r);
    uint32_t part = get_u32(&r);
    uint64_t plen = get_u64(&r);
    if (plen > n - CK_HEADER || part >= STREAM_MAX_PARTITIONS) return -1;
    out->delta = delta;
    out->partition = (int)part;
    out->len = (size_t)plen + CK_HEADER;
    return 0;
}
