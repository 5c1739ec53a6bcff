/*
 * pq_write.c — the Parquet writer.
 *
 * Values are buffered per leaf column for the current row group (levels as int16 arrays).
 * Dictionary encoding happens while appending: each non-boolean column starts a row group with
 * a dictionary (a hash table over the PLAIN-encoded entries) and stores one uint32 index per
 * value, so a low-cardinality string costs a hash probe in a small, cache-resident table
 * rather than a copy into a large buffer and a second pass at flush. The dictionary is
 * abandoned for the rest of the row group when it would pass dict_max_bytes, or when the first
 * 16384 values are nearly all distinct (ids, timestamps); the indices so far are then turned
 * back into PLAIN values (fixed-width values in a typed array, strings PLAIN encoded in an arena,
 * so that a page of them is a slice of it) and the
 * column continues PLAIN; a string column given up as nearly all distinct has its pages
 * compressed as dense (pq_compress). pq_write_group appends a row's values of several leaves
 * at once by the dictionary entries that the same row had before (wgroup). At flush each column
 * chunk is encoded at once: pages are cut at row
 * boundaries near page_bytes, each page compressed, and the chunk goes out through the
 * caller's write callback in one call. The footer is Thrift compact, written by hand
 * (pq_thrift.c).
 */
#include <math.h>
#include <zstd.h>

#include "parquet/pq_internal.h"

enum { ENC_PLAIN = 0, ENC_RLE = 3, ENC_RLE_DICT = 8 };

/* Dictionary states of a column in the current row group: LIVE, values are dictionary
 * indices; DEFER, the dictionary outgrew DICT_LIVE_MAX entries, values are PLAIN and the
 * dictionary is built again at flush; OFF, values are PLAIN and written PLAIN. */
enum { DICT_LIVE, DICT_DEFER, DICT_OFF };
/* A live dictionary's table and entries stay within ~100 KiB, so they stay in a core's cache
 * between rows; larger ones (user or session ids) are cheaper built in one pass at flush. */
enum { DICT_LIVE_MAX = 4096 };
/* dict_entry's refusals: the dictionary would pass dict_max_bytes; the values so far are nearly
 * all distinct (then the column's pages are compressed as dense, see pq_compress). */
enum { DICT_FULL = -2, DICT_DISTINCT = -3 };

typedef struct {
    int node, phys, max_def, max_rep;
    int16_t *def, *rep;
    size_t n, cap_lv;
    size_t nv;             /* non-null values appended in the current row group */
    uint64_t rows;         /* rows appended in the current row group */
    uint64_t bytes;        /* plain-size estimate of buffered data */
    /* PLAIN buffer: used when the dictionary is off or was abandoned */
    void *vals;            /* u8 / i32 / i64 / double (not strings) */
    size_t cap_v;
    pq_text arena;         /* strings, PLAIN encoded: 4-byte length + bytes, as a page holds them */
    int dstate;            /* DICT_LIVE, DICT_DEFER or DICT_OFF (see col_put) */
    bool dense;            /* a string column turned OFF by DICT_DISTINCT in this row group */
    uint32_t *idx;         /* value -> entry */
    size_t cap_idx;
    pq_text dict;          /* entries, PLAIN encoded (strings: 4-byte length + bytes) */
    uint64_t *tab;         /* slots: (hash high 32 bits) << 32 | (entry + 1); 0 = empty */
    int bits;              /* log2 of the slot count (0 = no table yet) */
    uint32_t *doff;        /* entry -> offset of its value in dict */
    uint64_t *hs;          /* entry -> full hash (for rehashing) */
    size_t nd, cap_doff, cap_hs;
    size_t nd_prev;        /* entries of the previous row group's deferred dictionary (a size hint) */
    uint32_t ids[PQ_STR_IDS]; /* a caller's id (pq_write_str_id) -> entry + 1 in the live dictionary */
} wcol;

/* A group (pq_write_group): consecutive flat leaves whose values usually come together. Each
 * distinct row of values seen (a record) keeps the dictionary entry of each leaf for the row group
 * it was last seen in (gen: the writer's flushed row groups then). A record is this header and
 * then the row's cells, PLAIN encoded (len bytes, padded to 8), in one arena: a lookup touches the
 * slot and one place (the header and the cells were two cache misses apart). */
enum { GROUP_MAX = 4, GROUP_RECS = 4096, GROUP_KEY_MAX = 1024, GROUP_PROBES = 16, GROUP_NONE = UINT32_MAX };
typedef struct {
    uint64_t h;                  /* hash of the row (for resizing) */
    int gen;                     /* row group (w->nrg) that ent belongs to */
    uint32_t len;                /* bytes of cells after the header */
    uint32_t ent[PQ_GROUP_LEAVES]; /* leaf -> dictionary entry, GROUP_NONE when not LIVE */
    uint16_t b[PQ_GROUP_LEAVES]; /* leaf -> plain size of its value (what col_put counts in c->bytes) */
} grec;

typedef struct {
    int first, n, nkey;          /* leaves [first, first + n); the first nkey cells are hashed */
    uint8_t vs[PQ_GROUP_LEAVES]; /* leaf -> value size, 0 for a string */
    bool off;                    /* the records filled up: plain appends from now on */
    uint64_t *tab;               /* slots: (hash high 32 bits) << 32 | (record's offset / 8 + 1); 0 = empty */
    int bits;
    pq_text recs;                /* the records, 8-byte aligned */
    size_t nrec;
} wgroup;

typedef struct {
    int64_t num_values, tus, tcs, data_off, dict_off;
    bool dict;
    bool has_minmax;
    pq_text min, max;
    int64_t null_count;
} wchunk;

typedef struct {
    wchunk *cols;
    int64_t num_rows, total_bytes, file_offset, tcs;
} wrg;

struct pq_writer {
    pq_schema *s;
    pq_write_opts o;
    char *created_by;
    pq_write_fn fn;
    void *ctx;
    wcol *cols;
    int ncols;
    uint64_t rows_total, rows_rg, offset;
    uint64_t buffered;    /* sum of the columns' bytes */
    uint64_t cells;       /* sum of the columns' rows (pq_writer_end_rows checks it per row) */
    bool started, failed, closed;
    wrg *rgs;
    int nrg;
    char **kv;            /* key, value pairs */
    int nkv;
    void *zc;
    pq_text page, comp, chunk;
    uint64_t hdr_bytes;   /* page header bytes of the chunk being flushed */
    wgroup groups[GROUP_MAX];
    int ngroups;
};

static size_t val_size(int phys) {
    switch (phys) {
    case PQ_PHYS_BOOLEAN: return 1;
    case PQ_PHYS_INT32: return 4;
    case PQ_PHYS_INT64: case PQ_PHYS_DOUBLE: return 8;
    default: return 0; /* strings: in the arena */
    }
}

static bool col_dict_allowed(const pq_writer *w, const wcol *c) {
    return !w->o.no_dictionary && c->phys != PQ_PHYS_BOOLEAN;
}

pq_writer *pq_writer_new(const pq_schema *schema, const pq_write_opts *opts, pq_write_fn fn, void *ctx,
                         char *err, size_t errlen) {
    pq_writer *w = calloc(1, sizeof *w);
    if (!w) goto oom;
    w->s = pq_schema_copy(schema, err, errlen);
    if (!w->s) {
        free(w);
        return NULL;
    }
    if (opts) w->o = *opts;
    if (!opts) w->o.codec = PQ_ZSTD;
    if (w->o.codec != PQ_UNCOMPRESSED && w->o.codec != PQ_SNAPPY && w->o.codec != PQ_ZSTD) {
        pq_seterr(err, errlen, "unsupported codec %d", w->o.codec);
        goto fail;
    }
    if (!w->o.zstd_level) w->o.zstd_level = 1;
    if (!w->o.row_group_bytes) w->o.row_group_bytes = 64u << 20;
    if (!w->o.page_bytes) w->o.page_bytes = 1u << 20;
    if (!w->o.dict_max_bytes) w->o.dict_max_bytes = 1u << 20;
    w->created_by = strdup(w->o.created_by ? w->o.created_by : "ecom parquet");
    w->o.created_by = NULL;
    w->fn = fn;
    w->ctx = ctx;
    w->ncols = w->s->n_leaves;
    w->cols = calloc((size_t)w->ncols, sizeof *w->cols);
    if (!w->created_by || !w->cols) goto oom;
    for (int i = 0; i < w->ncols; i++) {
        const pq_node *nd = &w->s->nodes[w->s->leaves[i]];
        wcol *c = &w->cols[i];
        c->node = w->s->leaves[i];
        c->phys = nd->phys;
        c->max_def = nd->max_def;
        c->max_rep = nd->max_rep;
        c->dstate = col_dict_allowed(w, c) ? DICT_LIVE : DICT_OFF;
    }
    if (w->o.codec == PQ_ZSTD && !(w->zc = ZSTD_createCCtx())) goto oom;
    return w;
oom:
    pq_seterr(err, errlen, "out of memory");
fail:
    pq_writer_free(w);
    return NULL;
}

static void col_free(wcol *c) {
    free(c->def);
    free(c->rep);
    free(c->vals);
    pq_text_free(&c->arena);
    free(c->idx);
    pq_text_free(&c->dict);
    free(c->tab);
    free(c->doff);
    free(c->hs);
}

void pq_writer_free(pq_writer *w) {
    if (!w) return;
    for (int i = 0; w->cols && i < w->ncols; i++) col_free(&w->cols[i]);
    for (int g = 0; g < w->nrg; g++) {
        for (int i = 0; i < w->ncols; i++) {
            pq_text_free(&w->rgs[g].cols[i].min);
            pq_text_free(&w->rgs[g].cols[i].max);
        }
        free(w->rgs[g].cols);
    }
    for (int i = 0; i < 2 * w->nkv; i++) free(w->kv[i]);
    free(w->kv);
    free(w->rgs);
    free(w->cols);
    free(w->created_by);
    pq_schema_free(w->s);
    if (w->zc) ZSTD_freeCCtx(w->zc);
    pq_text_free(&w->page);
    pq_text_free(&w->comp);
    pq_text_free(&w->chunk);
    for (int i = 0; i < w->ngroups; i++) {
        free(w->groups[i].tab);
        pq_text_free(&w->groups[i].recs);
    }
    free(w);
}

int pq_writer_add_kv(pq_writer *w, const char *key, const char *value, char *err, size_t errlen) {
    char **kv = realloc(w->kv, (size_t)(w->nkv + 1) * 2 * sizeof(char *));
    if (!kv) goto oom;
    w->kv = kv;
    kv[2 * w->nkv] = strdup(key);
    kv[2 * w->nkv + 1] = value ? strdup(value) : NULL;
    w->nkv++;
    if (!kv[2 * w->nkv - 2] || (value && !kv[2 * w->nkv - 1])) goto oom;
    return 0;
oom:
    pq_seterr(err, errlen, "out of memory");
    return -1;
}

uint64_t pq_writer_rows(const pq_writer *w) { return w->rows_total + w->rows_rg; }
uint64_t pq_writer_bytes_written(const pq_writer *w) { return w->offset; }
uint64_t pq_writer_bytes_buffered(const pq_writer *w) { return w->buffered; }

static int grow(void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return 0;
    size_t c = *cap ? *cap : 1024;
    while (c < need) c *= 2;
    void *q = realloc(*p, c * elem);
    if (!q) return -1;
    *p = q;
    *cap = c;
    return 0;
}

/* Reserves room for n more level entries (levels arrays exist only when needed). */
static int reserve_levels(wcol *c, size_t n) {
    if (c->n + n <= c->cap_lv) return 0;
    size_t cap = c->cap_lv ? c->cap_lv : 1024;
    while (cap < c->n + n) cap *= 2;
    if (c->max_def > 0) {
        int16_t *d = realloc(c->def, cap * sizeof *d);
        if (!d) return -1;
        c->def = d;
    }
    if (c->max_rep > 0) {
        int16_t *r = realloc(c->rep, cap * sizeof *r);
        if (!r) return -1;
        c->rep = r;
    }
    c->cap_lv = cap;
    return 0;
}

/* ---------- hashing ---------- */

/* murmur3's fmix64: every input bit reaches every output bit (slots use the top bits). */
static inline uint64_t mix64(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

/* load_short, the word hash below and bytes_eq have twins in src/stream/stream_internal.h:
 * deliberately, since this codec is standalone (no project headers; see parquet.h).
 *
 * The bytes [p, p + n) of a string shorter than 8 bytes, packed without a memcpy call (a
 * variable-length copy into a word costs a call and a store-forwarding stall per value).
 * Overlapping reads: unique for a given n, which the caller mixes in. */
static inline uint64_t load_short(const char *p, size_t n) {
    if (n >= 4) {
        uint32_t a, b;
        memcpy(&a, p, 4);
        memcpy(&b, p + n - 4, 4);
        return (uint64_t)a << 32 | b;
    }
    if (!n) return 0;
    return (uint64_t)(uint8_t)p[0] << 16 | (uint64_t)(uint8_t)p[n >> 1] << 8 | (uint8_t)p[n - 1];
}

static inline uint64_t load8(const char *p) {
    uint64_t x;
    memcpy(&x, p, 8);
    return x;
}

/* Hash of a byte string for the dictionary: one multiply per 8 bytes, a full mix at the end
 * (the slot index comes from the top bits, the tag from the high half). */
static inline uint64_t hash_bytes(const char *p, size_t n) {
    uint64_t h = 0x9E3779B97F4A7C15ULL ^ ((uint64_t)n * 0x100000001b3ULL);
    if (n < 8) return mix64(h ^ load_short(p, n));
    const char *end = p + n;
    while (end - p > 8) {
        uint64_t x;
        memcpy(&x, p, 8);
        h = (h ^ x) * 0xff51afd7ed558ccdULL;
        h ^= h >> 32;
        p += 8;
    }
    uint64_t x;
    memcpy(&x, end - 8, 8); /* the last 8 bytes, overlapping the previous word if need be */
    return mix64(h ^ x);
}

/* Equality of byte strings, n bytes at a and b. Most dictionary values are short: up to 16
 * bytes they are compared as two (possibly overlapping) words, with no loop to mispredict. */
static inline bool bytes_eq(const char *a, const char *b, size_t n) {
    uint64_t x, y, u, v;
    if (n < 8) return load_short(a, n) == load_short(b, n);
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

/* ---------- appending one value ---------- */

/* Appends one value to the PLAIN buffer at index c->nv (the caller counts it). vp points to
 * the value's bytes: vl string bytes, or one fixed-width value. A string goes into the arena
 * already PLAIN encoded, so that a page of them is a slice of it (no index of offsets, no copy
 * at flush; see put_plain). */
static int plain_put(wcol *c, const char *vp, uint32_t vl) {
    if (c->phys == PQ_PHYS_BYTE_ARRAY) {
        if (c->arena.len + 4 + (size_t)vl >= UINT32_MAX || pq_text_reserve(&c->arena, 4 + (size_t)vl)) return -1;
        char *o = c->arena.data + c->arena.len;
        memcpy(o, &vl, 4);
        if (vl) memcpy(o + 4, vp, vl);
        c->arena.len += 4 + (size_t)vl;
        return 0;
    }
    size_t vs = val_size(c->phys);
    if (c->nv >= c->cap_v && grow(&c->vals, &c->cap_v, c->nv + 1, vs)) return -1;
    if (c->phys == PQ_PHYS_BOOLEAN) {
        ((uint8_t *)c->vals)[c->nv] = *vp ? 1 : 0;
    } else {
        memcpy((char *)c->vals + c->nv * vs, vp, vs);
    }
    return 0;
}

/* Turns the dictionary indices of values [0, n) back into PLAIN values; empties the
 * dictionary. */
static int dict_to_plain(wcol *c, size_t n) {
    size_t nv = c->nv;
    bool str = c->phys == PQ_PHYS_BYTE_ARRAY;
    for (size_t i = 0; i < n; i++) {
        const char *dp = c->dict.data + c->doff[c->idx[i]];
        uint32_t dl = 0;
        if (str) {
            memcpy(&dl, dp, 4);
            dp += 4;
        }
        c->nv = i;
        if (plain_put(c, dp, dl)) return -1;
    }
    c->nv = nv;
    c->nd = 0;
    c->dict.len = 0;
    memset(c->ids, 0, sizeof c->ids);
    if (c->bits > 16) {
        free(c->tab);
        c->tab = NULL;
        c->bits = 0;
    } else if (c->bits) {
        memset(c->tab, 0, ((size_t)1 << c->bits) * sizeof *c->tab);
    }
    return 0;
}

/* Makes the slot table 2^nbits slots and re-inserts every entry. */
static int dict_resize(wcol *c, int nbits) {
    size_t ncap = (size_t)1 << nbits;
    uint64_t *nt = calloc(ncap, sizeof *nt);
    if (!nt) return -1;
    for (size_t k = 0; k < c->nd; k++) {
        size_t q = (size_t)(c->hs[k] >> (64 - nbits));
        while (nt[q]) q = (q + 1) & (ncap - 1);
        nt[q] = ((c->hs[k] >> 32) << 32) | (uint32_t)(k + 1);
    }
    free(c->tab);
    c->tab = nt;
    c->bits = nbits;
    return 0;
}

/* Doubles the slot table (or makes the first one: 256 slots). */
static int dict_rehash(wcol *c) { return dict_resize(c, c->bits ? c->bits + 1 : 8); }

/* The dictionary entry of a value (vp, vl as for plain_put), added if new. i is the value's
 * index in the row group. Hot path, hand-written: open addressing whose 8-byte slots hold
 * (hash high 32 bits, entry + 1), so a probe touches one cache line and compares bytes only
 * when the hashes agree, against the compact dictionary copy. Returns the entry, DICT_FULL
 * when a new entry would pass dict_max_bytes, DICT_DISTINCT when the values so far are nearly
 * all distinct (ids, timestamps: a dictionary would not pay), -1 on out of memory. */
static int64_t dict_entry_h(pq_writer *w, wcol *c, const char *vp, uint32_t vl, size_t i, uint64_t h) {
    bool str = c->phys == PQ_PHYS_BYTE_ARRAY;
    size_t vs = str ? vl : val_size(c->phys);
    if (!c->bits && dict_rehash(c)) return -1;
    uint32_t tag = (uint32_t)(h >> 32);
    size_t m = ((size_t)1 << c->bits) - 1, s = (size_t)(h >> (64 - c->bits));
    uint64_t slot;
    while ((slot = c->tab[s])) {
        if ((uint32_t)(slot >> 32) == tag) {
            const char *dp = c->dict.data + c->doff[(uint32_t)slot - 1];
            if (str) {
                uint32_t dl;
                memcpy(&dl, dp, 4);
                if (dl == vl && bytes_eq(dp + 4, vp, vl)) break;
            } else if (vs == 8 ? load8(dp) == load8(vp) : load_short(dp, vs) == load_short(vp, vs)) {
                break;
            }
        }
        s = (s + 1) & m;
    }
    if (slot) return (uint32_t)slot - 1;
    size_t add = str ? 4 + (size_t)vl : vs, nd = c->nd;
    if (i >= 16384 && nd > i - i / 8) return DICT_DISTINCT;
    if (c->dict.len + add > w->o.dict_max_bytes || nd >= UINT32_MAX - 1) return DICT_FULL;
    if (grow((void **)&c->doff, &c->cap_doff, nd + 1, sizeof *c->doff) ||
        grow((void **)&c->hs, &c->cap_hs, nd + 1, sizeof *c->hs))
        return -1;
    c->doff[nd] = (uint32_t)c->dict.len;
    if (str ? (pq_text_append(&c->dict, &vl, 4) || pq_text_append(&c->dict, vp, vl))
            : pq_text_append(&c->dict, vp, vs))
        return -1;
    c->hs[nd] = h;
    c->tab[s] = ((uint64_t)tag << 32) | (uint32_t)(nd + 1);
    c->nd = nd + 1;
    if (c->nd * 2 > ((size_t)1 << c->bits) && dict_rehash(c)) return -1; /* rehash at half full */
    return (int64_t)nd;
}

/* The dictionary hash of a value of c (vp, vl as for plain_put). */
static inline uint64_t value_hash(const wcol *c, const char *vp, uint32_t vl) {
    if (c->phys == PQ_PHYS_BYTE_ARRAY) return hash_bytes(vp, vl);
    size_t vs = val_size(c->phys);
    return mix64(vs == 8 ? load8(vp) : load_short(vp, vs));
}

static int64_t dict_entry(pq_writer *w, wcol *c, const char *vp, uint32_t vl, size_t i) {
    return dict_entry_h(w, c, vp, vl, i, value_hash(c, vp, vl));
}

/* Whether dictionary entry e of c holds the value (vp, vl as for plain_put). */
static inline bool entry_is(const wcol *c, size_t e, const char *vp, uint32_t vl) {
    const char *dp = c->dict.data + c->doff[e];
    if (c->phys != PQ_PHYS_BYTE_ARRAY) return val_size(c->phys) == 8 ? load8(dp) == load8(vp) : !memcmp(dp, vp, val_size(c->phys));
    uint32_t dl;
    memcpy(&dl, dp, 4);
    return dl == vl && bytes_eq(dp + 4, vp, vl);
}

/* Appends one non-null value (see plain_put for vp, vl) and counts its plain size. A LIVE
 * column stores the value's dictionary index (found by the caller's id cid when there is one and
 * it was seen in this dictionary, else by dict_entry); when the dictionary fills up (DICT_FULL)
 * the column turns OFF, when it outgrows DICT_LIVE_MAX it turns DEFER, and either way the indices
 * so far become PLAIN values. Inlined into each append (the per-value path of a streaming
 * writer: calls were a third of its instructions). */
static inline __attribute__((always_inline)) int col_put(pq_writer *w, wcol *c, int phys, const char *vp,
                                                         uint32_t vl, int cid) {
    if (c->dstate == DICT_LIVE) {
        if (c->nv >= c->cap_idx && grow((void **)&c->idx, &c->cap_idx, c->nv + 1, sizeof *c->idx)) return -1;
        int64_t e = cid >= 0 && c->ids[cid] ? (int64_t)c->ids[cid] - 1 : -1;
        if (e < 0) {
            e = dict_entry(w, c, vp, vl, c->nv);
            if (e == -1) return -1;
            if (e >= 0 && cid >= 0) c->ids[cid] = (uint32_t)e + 1;
        }
        if (e >= 0) c->idx[c->nv] = (uint32_t)e;
        if (e < 0 || c->nd > DICT_LIVE_MAX) {
            if (dict_to_plain(c, e >= 0 ? c->nv + 1 : c->nv)) return -1;
            c->dstate = e >= 0 ? DICT_DEFER : DICT_OFF;
            c->dense = e == DICT_DISTINCT && phys == PQ_PHYS_BYTE_ARRAY;
        }
        if (e < 0 && plain_put(c, vp, vl)) return -1;
    } else if (plain_put(c, vp, vl)) {
        return -1;
    }
    c->nv++;
    uint64_t b = phys == PQ_PHYS_BYTE_ARRAY ? 4 + (uint64_t)vl : val_size(phys);
    c->bytes += b;
    w->buffered += b;
    return 0;
}

/* Value i of c's PLAIN buffer, as (bytes, length); *at is the arena offset of string value i,
 * moved past it (strings are reached in order). */
static inline const char *plain_value(const wcol *c, size_t i, size_t *at, uint32_t *vl) {
    if (c->phys == PQ_PHYS_BYTE_ARRAY) {
        const char *p = c->arena.data + *at;
        memcpy(vl, p, 4);
        *at += 4 + (size_t)*vl;
        return p + 4;
    }
    *vl = 0;
    return (const char *)c->vals + i * val_size(c->phys);
}

/* The values whose hashes a deferred build computes ahead (a power of two). */
enum { DICT_AHEAD = 16 };

/* Builds the dictionary of a DEFER column from its PLAIN values in one pass. Returns the entry
 * count, 0 when the dictionary does not pay (then written PLAIN), -1 on out of memory. Hot path,
 * hand-written: these are the large dictionaries (user and session ids: tens of thousands of
 * entries, a slot table of MiBs), where each probe was a cache miss on its slot; so the hash of
 * value i + DICT_AHEAD is computed, and its slot prefetched, while value i is looked up; and the
 * table starts at the size the previous row group's needed. */
static int64_t dict_build_deferred(pq_writer *w, wcol *c) {
    if (grow((void **)&c->idx, &c->cap_idx, c->nv, sizeof *c->idx)) return -1;
    int nbits = 8; /* sized at once for the previous row group's count: no rehash on the way there */
    while (((size_t)1 << nbits) < 2 * c->nd_prev + 2) nbits++;
    if (c->nd_prev && nbits > c->bits && dict_resize(c, nbits)) return -1;
    uint64_t ahead[DICT_AHEAD];
    uint32_t vl;
    size_t at = 0, at_ahead = 0; /* arena offsets of value i and of value i + DICT_AHEAD */
    for (size_t i = 0; i < DICT_AHEAD && i < c->nv; i++) {
        const char *vp = plain_value(c, i, &at_ahead, &vl);
        ahead[i] = value_hash(c, vp, vl);
    }
    for (size_t i = 0; i < c->nv; i++) {
        uint64_t h = ahead[i % DICT_AHEAD];
        if (i + DICT_AHEAD < c->nv) {
            const char *np = plain_value(c, i + DICT_AHEAD, &at_ahead, &vl);
            uint64_t nh = value_hash(c, np, vl);
            ahead[i % DICT_AHEAD] = nh;
            if (c->bits) __builtin_prefetch(&c->tab[nh >> (64 - c->bits)]);
        }
        const char *vp = plain_value(c, i, &at, &vl);
        int64_t e = dict_entry_h(w, c, vp, vl, i, h);
        if (e == -1) return -1;
        if (e < 0) {
            c->dense = e == DICT_DISTINCT && c->phys == PQ_PHYS_BYTE_ARRAY;
            return 0;
        }
        c->idx[i] = (uint32_t)e;
    }
    return (int64_t)c->nd;
}

/* Value i of a caller's array in the column's C type, as (bytes, length). */
static inline const char *src_value(const wcol *c, const void *src, size_t i, uint32_t *vl) {
    if (c->phys == PQ_PHYS_BYTE_ARRAY) {
        const pq_bytes *b = (const pq_bytes *)src + i;
        *vl = b->n;
        return b->p;
    }
    *vl = 0;
    return (const char *)src + i * val_size(c->phys);
}

/* Checks that leaf names a column with no repeated ancestor. */
static wcol *flat_col(pq_writer *w, int leaf, char *err, size_t errlen) {
    if (leaf < 0 || leaf >= w->ncols) {
        pq_seterr(err, errlen, "no leaf column %d", leaf);
        return NULL;
    }
    wcol *c = &w->cols[leaf];
    if (c->max_rep > 0) {
        pq_seterr(err, errlen, "leaf %d is repeated: use pq_write_levels", leaf);
        return NULL;
    }
    return c;
}

/* One row of a flat column: level entry (if any) and value (unless null). */
static inline __attribute__((always_inline)) int flat_put(pq_writer *w, wcol *c, int phys, const char *vp,
                                                          uint32_t vl, bool ok, int cid,
                                                          char *err, size_t errlen) {
    if (!ok && c->max_def == 0) {
        pq_seterr(err, errlen, "null in required column %s", w->s->nodes[c->node].name);
        return -1;
    }
    if (c->n >= c->cap_lv && reserve_levels(c, 1)) goto oom;
    if (c->def) {
        c->def[c->n] = (int16_t)(ok ? c->max_def : c->max_def - 1);
        c->bytes += 2;
        w->buffered += 2;
    }
    c->n++;
    c->rows++;
    w->cells++;
    if (ok && col_put(w, c, phys, vp, vl, cid)) goto oom;
    return 0;
oom:
    pq_seterr(err, errlen, "out of memory");
    return -1;
}

int pq_write_values(pq_writer *w, int leaf, size_t n, const void *values, const uint8_t *valid, char *err,
                    size_t errlen) {
    wcol *c = flat_col(w, leaf, err, errlen);
    if (!c) return -1;
    if (reserve_levels(c, n)) {
        pq_seterr(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        uint32_t vl;
        const char *vp = src_value(c, values, i, &vl);
        if (flat_put(w, c, c->phys, vp, vl, !valid || valid[i], -1, err, errlen)) return -1;
    }
    return 0;
}

int pq_write_str(pq_writer *w, int leaf, const char *p, size_t n, char *err, size_t errlen) {
    wcol *c = flat_col(w, leaf, err, errlen);
    if (!c) return -1;
    if (c->phys != PQ_PHYS_BYTE_ARRAY || n >= UINT32_MAX) {
        pq_seterr(err, errlen, "leaf %d: not a string column, or string too long", leaf);
        return -1;
    }
    return flat_put(w, c, PQ_PHYS_BYTE_ARRAY, n ? p : "", (uint32_t)n, true, -1, err, errlen);
}

int pq_write_str_id(pq_writer *w, int leaf, int id, const char *p, size_t n, char *err, size_t errlen) {
    wcol *c = flat_col(w, leaf, err, errlen);
    if (!c) return -1;
    if (c->phys != PQ_PHYS_BYTE_ARRAY || n >= UINT32_MAX || id < 0 || id >= PQ_STR_IDS) {
        pq_seterr(err, errlen, "leaf %d: not a string column, string too long, or id %d out of range", leaf, id);
        return -1;
    }
    return flat_put(w, c, PQ_PHYS_BYTE_ARRAY, n ? p : "", (uint32_t)n, true, id, err, errlen);
}

/* The fixed-width single-value appends share this check of the column's physical type. */
static inline int flat_fixed(pq_writer *w, int leaf, int phys, const void *v, char *err, size_t errlen) {
    wcol *c = flat_col(w, leaf, err, errlen);
    if (!c) return -1;
    if (c->phys != phys) {
        pq_seterr(err, errlen, "leaf %d: value of the wrong physical type", leaf);
        return -1;
    }
    return flat_put(w, c, phys, v, 0, true, -1, err, errlen);
}

int pq_write_i32(pq_writer *w, int leaf, int32_t v, char *err, size_t errlen) {
    return flat_fixed(w, leaf, PQ_PHYS_INT32, &v, err, errlen);
}

int pq_write_i64(pq_writer *w, int leaf, int64_t v, char *err, size_t errlen) {
    return flat_fixed(w, leaf, PQ_PHYS_INT64, &v, err, errlen);
}

int pq_write_f64(pq_writer *w, int leaf, double v, char *err, size_t errlen) {
    return flat_fixed(w, leaf, PQ_PHYS_DOUBLE, &v, err, errlen);
}

int pq_write_null(pq_writer *w, int leaf, char *err, size_t errlen) {
    wcol *c = flat_col(w, leaf, err, errlen);
    return c ? flat_put(w, c, c->phys, NULL, 0, false, -1, err, errlen) : -1;
}

/* ---------- groups of leaves (pq_write_group) ---------- */

/* Group of leaves [first, first + n) whose first nkey cells are hashed, made on its first call:
 * the leaves must be required and flat, and dictionary-encodable (not BOOLEAN). NULL with err set
 * when they do not qualify, when they overlap another group, or when the writer has GROUP_MAX
 * groups. */
static wgroup *group_of(pq_writer *w, int first, int n, int nkey, char *err, size_t errlen) {
    for (int i = 0; i < w->ngroups; i++)
        if (w->groups[i].first == first && w->groups[i].n == n && w->groups[i].nkey == nkey) return &w->groups[i];
    bool ok = n >= 1 && n <= PQ_GROUP_LEAVES && nkey >= 1 && nkey <= n && first >= 0 && first <= w->ncols - n &&
              w->ngroups < GROUP_MAX;
    for (int i = 0; ok && i < w->ngroups; i++) /* groups do not overlap */
        ok = first + n <= w->groups[i].first || first >= w->groups[i].first + w->groups[i].n;
    for (int i = first; ok && i < first + n; i++) {
        const wcol *c = &w->cols[i];
        ok = !c->max_def && !c->max_rep && (c->phys == PQ_PHYS_BYTE_ARRAY || val_size(c->phys) >= 4);
    }
    if (!ok) {
        pq_seterr(err, errlen, "leaves %d..%d: not a group (required flat non-boolean leaves, not in another "
                  "group, at most %d groups)", first, first + n - 1, GROUP_MAX);
        return NULL;
    }
    wgroup *g = &w->groups[w->ngroups++];
    memset(g, 0, sizeof *g);
    g->first = first;
    g->n = n;
    g->nkey = nkey;
    for (int i = 0; i < n; i++) g->vs[i] = (uint8_t)val_size(w->cols[first + i].phys);
    return g;
}

/* Cell i's bytes: a string's (v->n of them, never NULL), else one value of g->vs[i] bytes. */
static inline const char *cell_bytes(const pq_bytes *v) { return v->n ? v->p : ""; }

/* The hash of a row's first nkey cells (vs: the group's value sizes). An empty string's pointer
 * may be NULL: hash_bytes and bytes_eq read nothing for 0 bytes. Always inlined, so that a caller
 * with constant n and nkey (group_find_n) gets the loops unrolled. */
static inline __attribute__((always_inline)) uint64_t group_hash_n(const uint8_t *vs, const pq_bytes *v, int nkey) {
    uint64_t h = 0;
    _Pragma("GCC unroll 8")
    for (int i = 0; i < nkey; i++) {
        uint64_t x = vs[i] ? mix64(vs[i] == 8 ? load8(v[i].p) : load_short(v[i].p, vs[i])) : hash_bytes(v[i].p, v[i].n);
        h = (h ^ x) * 0x9E3779B97F4A7C15ULL;
    }
    return h ^ h >> 29;
}

/* Whether record r holds the row v of n cells: its cells are stored PLAIN encoded, one after the
 * other (a value size vs[i] is 8 or 4; 0 is a string, its 4-byte length then its bytes). Every
 * cell is compared, key or not: a row with a remembered key and another name is another row.
 * Hot path, hand-written: the sizes are only ever 8, 4 or 0, and n is the caller's constant. */
static inline __attribute__((always_inline)) bool group_rec_is_n(const uint8_t *vs, const grec *r, const pq_bytes *v,
                                                                 int n) {
    const char *k = (const char *)(r + 1);
    _Pragma("GCC unroll 8")
    for (int i = 0; i < n; i++) {
        if (vs[i] == 8) {
            if (load8(k) != load8(v[i].p)) return false;
            k += 8;
        } else if (vs[i]) {
            uint32_t a, b;
            memcpy(&a, k, 4);
            memcpy(&b, v[i].p, 4);
            if (a != b) return false;
            k += 4;
        } else {
            uint32_t kl;
            memcpy(&kl, k, 4);
            if (kl != v[i].n || !bytes_eq(k + 4, v[i].p, kl)) return false;
            k += 4 + (size_t)kl;
        }
    }
    return true;
}

/* Bytes of a record whose cells take len bytes. */
static inline size_t group_rec_size(size_t len) { return sizeof(grec) + ((len + 7) & ~(size_t)7); }

/* Makes g's slot table 2^nbits slots and re-inserts every record. */
static int group_resize(wgroup *g, int nbits) {
    size_t ncap = (size_t)1 << nbits;
    uint64_t *nt = calloc(ncap, sizeof *nt);
    if (!nt) return -1;
    for (size_t o = 0; o < g->recs.len; o += group_rec_size(((const grec *)(g->recs.data + o))->len)) {
        uint64_t h = ((const grec *)(g->recs.data + o))->h;
        size_t q = (size_t)(h >> (64 - nbits));
        while (nt[q]) q = (q + 1) & (ncap - 1);
        nt[q] = ((h >> 32) << 32) | (uint32_t)(o / 8 + 1);
    }
    free(g->tab);
    g->tab = nt;
    g->bits = nbits;
    return 0;
}

/* Stores row v (hash h) as a new record in slot s of g. Returns it, or NULL: out of memory
 * (*oom), or the row is longer than GROUP_KEY_MAX (then written value by value, not remembered).
 * Out of line: a few hundred calls per run. */
static __attribute__((noinline)) grec *group_add(wgroup *g, const pq_bytes *v, uint64_t h, size_t s, bool *oom) {
    size_t len = 0;
    for (int i = 0; i < g->n; i++) len += g->vs[i] ? g->vs[i] : 4 + (size_t)v[i].n;
    if (len > GROUP_KEY_MAX) return NULL;
    size_t at = g->recs.len, size = group_rec_size(len);
    if ((*oom = pq_text_reserve(&g->recs, size) != 0)) return NULL;
    grec *r = (grec *)(g->recs.data + at);
    memset(r, 0, size);
    r->h = h;
    r->gen = -1;
    r->len = (uint32_t)len;
    char *o = (char *)(r + 1);
    for (int i = 0; i < g->n; i++) {
        uint32_t vl = g->vs[i];
        r->b[i] = (uint16_t)(vl ? vl : 4 + v[i].n); /* <= GROUP_KEY_MAX */
        if (!vl) {
            vl = v[i].n;
            memcpy(o, &vl, 4);
            o += 4;
        }
        if (vl) memcpy(o, v[i].p, vl);
        o += vl;
    }
    g->recs.len += size;
    g->tab[s] = (h >> 32 << 32) | (uint32_t)(at / 8 + 1);
    g->nrec++;
    if (g->nrec * 2 > ((size_t)1 << g->bits) && (*oom = group_resize(g, g->bits + 1) != 0)) return NULL;
    return r;
}

/* The record of row v (n cells, the first nkey hashed) in g, added if new. NULL when the row is
 * not remembered (see group_add; a row GROUP_PROBES slots from its home, whose key cells collide
 * with many others'; and once GROUP_RECS rows are, g turns off: a group of many distinct rows
 * would only cost a hash more per row) or on out of memory (*oom). Hot path, hand-written: the
 * open addressing of dict_entry_h, over whole rows; inlined with the caller's n and nkey. */
static inline __attribute__((always_inline)) grec *group_find_n(wgroup *g, const pq_bytes *v, int n, int nkey,
                                                                bool *oom) {
    *oom = false;
    if (!g->bits && (*oom = group_resize(g, 6) != 0)) return NULL;
    uint64_t h = group_hash_n(g->vs, v, nkey), slot;
    uint32_t tag = (uint32_t)(h >> 32);
    size_t m = ((size_t)1 << g->bits) - 1, s = (size_t)(h >> (64 - g->bits));
    for (int probes = 0; (slot = g->tab[s]); probes++) {
        grec *r = (grec *)(g->recs.data + ((size_t)(uint32_t)slot - 1) * 8);
        if ((uint32_t)(slot >> 32) == tag && group_rec_is_n(g->vs, r, v, n)) return r;
        if (probes == GROUP_PROBES) return NULL;
        s = (s + 1) & m;
    }
    if (g->nrec >= GROUP_RECS) {
        g->off = true;
        return NULL;
    }
    return group_add(g, v, h, s, oom);
}

/* Leaf i of a group's row v, the way that is not pq_write_group's fast path: by the record's
 * entry once the column's buffers have grown, or by col_put (the record r, when there is one,
 * then keeps the entry found, GROUP_NONE when the column is not LIVE). Kept out of line so
 * that the fast path stays a few instructions per leaf. */
static __attribute__((noinline)) int group_put_leaf(pq_writer *w, const wgroup *g, grec *r, bool seen,
                                                     const pq_bytes *v, int i) {
    wcol *c = &w->cols[g->first + i];
    uint32_t vl = g->vs[i] ? 0 : v[i].n;
    if (reserve_levels(c, 1)) return -1;
    c->n++;
    c->rows++;
    if (seen && r->ent[i] != GROUP_NONE && c->dstate == DICT_LIVE) {
        if (grow((void **)&c->idx, &c->cap_idx, c->nv + 1, sizeof *c->idx)) return -1;
        c->idx[c->nv++] = r->ent[i];
        uint64_t b = g->vs[i] ? g->vs[i] : 4 + (uint64_t)vl;
        c->bytes += b;
        w->buffered += b;
        return 0;
    }
    if (col_put(w, c, c->phys, g->vs[i] ? v[i].p : cell_bytes(&v[i]), vl, -1)) return -1;
    if (r) r->ent[i] = c->dstate == DICT_LIVE ? c->idx[c->nv - 1] : GROUP_NONE;
    return 0;
}

/* The n leaves of a row whose record r was seen in this row group (entries are valid while the
 * column's dictionary is LIVE: it only grows until the flush, which counts w->nrg up): each leaf
 * whose buffers have room takes the record's entry, what flat_put and col_put do for a required
 * flat column whose lookup finds that entry, with the value's plain size kept in the record; any
 * other leaf goes through group_put_leaf. Inlined with the caller's n. */
static inline __attribute__((always_inline)) int group_put_seen_n(pq_writer *w, const wgroup *g, grec *r,
                                                                  const pq_bytes *v, int n) {
    wcol *c = &w->cols[g->first];
    uint64_t added = 0;
    _Pragma("GCC unroll 8")
    for (int i = 0; i < n; i++, c++) {
        uint32_t e = r->ent[i];
        size_t k = c->nv;
        if (e == GROUP_NONE || c->dstate != DICT_LIVE || c->n >= c->cap_lv || k >= c->cap_idx) {
            if (group_put_leaf(w, g, r, true, v, i)) return -1;
            continue;
        }
        c->idx[k] = e;
        c->nv = k + 1;
        c->n++;
        c->rows++;
        c->bytes += r->b[i];
        added += r->b[i];
    }
    w->buffered += added;
    return 0;
}

/* A row seen in this row group takes its leaves' entries from its record (group_put_seen_n); any
 * other row goes leaf by leaf through group_put_leaf, which fills the record's entries for the
 * rows after it. The lake's two shapes (a store: 6 leaves keyed by 3, a product: 4 keyed by 1) get
 * their loops unrolled; any other shape runs the same code with loops. */
int pq_write_group(pq_writer *w, int first_leaf, int n, int nkey, const pq_bytes *v, char *err, size_t errlen) {
    wgroup *g = group_of(w, first_leaf, n, nkey, err, errlen);
    if (!g) return -1;
    w->cells += (uint64_t)n; /* the group's leaves' rows, counted here once (see pq_writer_end_rows) */
    bool oom = false;
    grec *r = NULL;
    if (!g->off) {
        if (n == 6 && nkey == 3) r = group_find_n(g, v, 6, 3, &oom);
        else if (n == 4 && nkey == 1) r = group_find_n(g, v, 4, 1, &oom);
        else r = group_find_n(g, v, n, nkey, &oom);
    }
    if (oom) goto oom;
    if (r && r->gen == w->nrg) {
        int rc = n == 6 ? group_put_seen_n(w, g, r, v, 6)
                 : n == 4 ? group_put_seen_n(w, g, r, v, 4)
                          : group_put_seen_n(w, g, r, v, n);
        if (rc) goto oom;
        return 0;
    }
    for (int i = 0; i < n; i++)
        if (group_put_leaf(w, g, r, false, v, i)) goto oom;
    if (r) r->gen = w->nrg;
    return 0;
oom:
    pq_seterr(err, errlen, "out of memory");
    return -1;
}

int pq_write_levels(pq_writer *w, int leaf, size_t n, const int16_t *def, const int16_t *rep,
                    const void *values, size_t nvals, char *err, size_t errlen) {
    if (leaf < 0 || leaf >= w->ncols) {
        pq_seterr(err, errlen, "no leaf column %d", leaf);
        return -1;
    }
    wcol *c = &w->cols[leaf];
    size_t want = 0, rows = 0;
    for (size_t i = 0; i < n; i++) {
        int d = def ? def[i] : c->max_def, r = rep ? rep[i] : 0;
        if (d < 0 || d > c->max_def || r < 0 || r > c->max_rep || (i == 0 && r != 0)) {
            pq_seterr(err, errlen, "bad levels at entry %zu of leaf %d (def %d rep %d)", i, leaf, d, r);
            return -1;
        }
        want += d == c->max_def;
        rows += r == 0;
    }
    if (want != nvals) {
        pq_seterr(err, errlen, "leaf %d: %zu values given, levels say %zu", leaf, nvals, want);
        return -1;
    }
    if (reserve_levels(c, n)) goto oom;
    for (size_t i = 0; i < n; i++) {
        if (c->def) c->def[c->n + i] = def ? def[i] : (int16_t)c->max_def;
        if (c->rep) c->rep[c->n + i] = rep ? rep[i] : 0;
    }
    c->n += n;
    for (size_t i = 0; i < nvals; i++) {
        uint32_t vl;
        const char *vp = src_value(c, values, i, &vl);
        if (col_put(w, c, c->phys, vp, vl, -1)) goto oom;
    }
    uint64_t lb = n * ((c->def ? 2 : 0) + (c->rep ? 2 : 0));
    c->bytes += lb;
    w->buffered += lb;
    c->rows += rows;
    w->cells += rows;
    return 0;
oom:
    pq_seterr(err, errlen, "out of memory");
    return -1;
}

/* ---------- statistics ---------- */

/* Byte order of two strings of PLAIN encoding (each at its 4-byte length). */
static int cmp_plain_str(const char *a, const char *b) {
    uint32_t la, lb;
    memcpy(&la, a, 4);
    memcpy(&lb, b, 4);
    int r = memcmp(a + 4, b + 4, la < lb ? la : lb);
    if (r) return r;
    return la < lb ? -1 : la > lb;
}

/* min/max of nv values (typed array vals; strings PLAIN encoded at vals), PLAIN encoded. Doubles
 * skip NaN; a zero min is -0.0 and a zero max +0.0 as the spec asks; strings over 256 bytes
 * give no min/max. Called on the dictionary when there is one (far fewer values). */
static int chunk_stats(int phys, const void *vals, size_t nv, wchunk *k) {
    k->has_minmax = false;
    if (nv == 0) return 0;
    switch (phys) {
    case PQ_PHYS_BOOLEAN: {
        const uint8_t *v = vals;
        uint8_t mn = 1, mx = 0;
        for (size_t i = 0; i < nv; i++) {
            mn &= v[i];
            mx |= v[i];
        }
        if (pq_text_append(&k->min, &mn, 1) || pq_text_append(&k->max, &mx, 1)) return -1;
        break;
    }
    case PQ_PHYS_INT32: {
        const int32_t *v = vals;
        int32_t mn = v[0], mx = v[0];
        for (size_t i = 1; i < nv; i++) {
            mn = v[i] < mn ? v[i] : mn;
            mx = v[i] > mx ? v[i] : mx;
        }
        if (pq_text_append(&k->min, &mn, 4) || pq_text_append(&k->max, &mx, 4)) return -1;
        break;
    }
    case PQ_PHYS_INT64: {
        const int64_t *v = vals;
        int64_t mn = v[0], mx = v[0];
        for (size_t i = 1; i < nv; i++) {
            mn = v[i] < mn ? v[i] : mn;
            mx = v[i] > mx ? v[i] : mx;
        }
        if (pq_text_append(&k->min, &mn, 8) || pq_text_append(&k->max, &mx, 8)) return -1;
        break;
    }
    case PQ_PHYS_DOUBLE: {
        const double *v = vals;
        double mn = INFINITY, mx = -INFINITY;
        bool any = false;
        for (size_t i = 0; i < nv; i++) {
            if (isnan(v[i])) continue;
            any = true;
            mn = v[i] < mn ? v[i] : mn;
            mx = v[i] > mx ? v[i] : mx;
        }
        if (!any) return 0;
        if (mn == 0) mn = -0.0;
        if (mx == 0) mx = 0.0;
        if (pq_text_append(&k->min, &mn, 8) || pq_text_append(&k->max, &mx, 8)) return -1;
        break;
    }
    default: {
        const char *p = vals, *mn = p, *mx = p;
        uint32_t l, ln, lx;
        for (size_t i = 0; i < nv; i++) {
            if (cmp_plain_str(p, mn) < 0) mn = p;
            if (cmp_plain_str(p, mx) > 0) mx = p;
            memcpy(&l, p, 4);
            p += 4 + (size_t)l;
        }
        memcpy(&ln, mn, 4);
        memcpy(&lx, mx, 4);
        if (ln > 256 || lx > 256) return 0;
        if (pq_text_append(&k->min, mn + 4, ln) || pq_text_append(&k->max, mx + 4, lx)) return -1;
    }
    }
    k->has_minmax = true;
    return 0;
}

/* ---------- pages ---------- */

static void put_u32(pq_text *t, size_t at, uint32_t v) { memcpy(t->data + at, &v, 4); }

/* Appends levels v[0..n) as a length-prefixed RLE hybrid run (data page v1). */
static int put_levels(pq_text *t, const int16_t *v, size_t n, int maxlvl) {
    size_t at = t->len;
    if (pq_text_append(t, "\0\0\0\0", 4)) return -1;
    if (pq_rle_encode16(t, v, n, pq_bit_width((uint64_t)maxlvl))) return -1;
    put_u32(t, at, (uint32_t)(t->len - at - 4));
    return 0;
}

/* The PLAIN bytes of values [a, b) of column c (strings: from arena offset *at, moved past
 * them), as a slice of its buffer: a page without levels is compressed from there. */
static const char *plain_slice(const wcol *c, size_t a, size_t b, size_t *at, size_t *len) {
    if (c->phys != PQ_PHYS_BYTE_ARRAY) {
        size_t vs = val_size(c->phys);
        *len = (b - a) * vs;
        return c->vals ? (const char *)c->vals + a * vs : "";
    }
    if (!c->arena.data) {
        *len = 0;
        return "";
    }
    const char *p = c->arena.data + *at;
    size_t o = 0;
    for (size_t i = a; i < b; i++) {
        uint32_t l;
        memcpy(&l, p + o, 4);
        o += 4 + (size_t)l;
    }
    *at += o;
    *len = o;
    return p;
}

/* PLAIN-encodes values [a, b) of column c (strings: see plain_slice for *at). */
static int put_plain(pq_text *t, const wcol *c, size_t a, size_t b, size_t *at) {
    if (c->phys == PQ_PHYS_BOOLEAN) {
        const uint8_t *v = c->vals;
        size_t nb = (b - a + 7) / 8;
        if (pq_text_reserve(t, nb)) return -1;
        memset(t->data + t->len, 0, nb);
        for (size_t i = a; i < b; i++)
            if (v[i]) t->data[t->len + (i - a) / 8] |= (char)(1 << ((i - a) % 8));
        t->len += nb;
        return 0;
    }
    size_t len;
    const char *p = plain_slice(c, a, b, at, &len);
    return pq_text_append(t, p, len);
}

/* Compresses len bytes at data (dense: see pq_compress) and appends header + body to w->chunk. */
static int emit_page(pq_writer *w, const char *data, size_t len, int type, int num_values, int encoding, bool dense,
                     char *err, size_t errlen) {
    w->comp.len = 0;
    if (pq_compress(w->o.codec, w->o.zstd_level, dense, w->zc, data, len, &w->comp, err, errlen)) return -1;
    if (len > INT32_MAX || w->comp.len > INT32_MAX) {
        pq_seterr(err, errlen, "page too large");
        return -1;
    }
    pq_tw t;
    size_t before = w->chunk.len;
    tw_init(&t, &w->chunk);
    tw_struct_begin(&t, 0);
    tw_i32(&t, 1, type);
    tw_i32(&t, 2, (int32_t)len);
    tw_i32(&t, 3, (int32_t)w->comp.len);
    tw_struct_begin(&t, type == 2 ? 7 : 5);
    tw_i32(&t, 1, num_values);
    tw_i32(&t, 2, encoding);
    if (type == 0) {
        tw_i32(&t, 3, ENC_RLE);
        tw_i32(&t, 4, ENC_RLE);
    }
    tw_struct_end(&t);
    tw_struct_end(&t);
    w->hdr_bytes += w->chunk.len - before;
    if (t.failed || pq_text_append(&w->chunk, w->comp.data, w->comp.len)) {
        pq_seterr(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

/* Statistics of the chunk: from the dictionary entries when there is one (far fewer values). */
static int flush_stats(wcol *c, size_t ndict, wchunk *k) {
    if (ndict) return chunk_stats(c->phys, c->dict.data, ndict, k);
    return chunk_stats(c->phys, c->phys == PQ_PHYS_BYTE_ARRAY ? (const void *)c->arena.data : c->vals, c->nv, k);
}

/* Encodes and writes column chunk `ci` of the current row group. */
static int flush_chunk(pq_writer *w, int ci, wchunk *k, char *err, size_t errlen) {
    wcol *c = &w->cols[ci];
    w->chunk.len = 0;
    w->hdr_bytes = 0;
    k->dict_off = -1;
    k->num_values = (int64_t)c->n;
    k->null_count = (int64_t)(c->n - c->nv);
    size_t ndict = c->dstate == DICT_LIVE ? c->nd : 0;
    if (c->dstate == DICT_DEFER) {
        int64_t nd = dict_build_deferred(w, c);
        if (nd < 0) goto oom;
        ndict = (size_t)nd;
    }
    uint64_t tus = 0;
    if (flush_stats(c, ndict, k)) goto oom;
    if (ndict) {
        tus += c->dict.len;
        if (emit_page(w, c->dict.data, c->dict.len, 2, (int)ndict, ENC_PLAIN, false, err, errlen)) return -1;
        k->dict_off = (int64_t)w->offset;
        k->dict = true;
    }
    size_t data_start = w->chunk.len;
    int bw = ndict ? pq_bit_width(ndict - 1) : 0;
    /* Entries per page: aim at page_bytes of plain data, cut at row starts. */
    double per = c->n ? (double)c->bytes / (double)c->n : 1;
    size_t step = (size_t)((double)w->o.page_bytes / (per > 0 ? per : 1));
    if (step < 64) step = 64;
    if (step > 1u << 20) step = 1u << 20;
    size_t a = 0, va = 0, at = 0; /* at: arena offset of string value va */
    do {
        size_t b = a + step < c->n ? a + step : c->n;
        if (c->rep)
            while (b < c->n && c->rep[b] != 0) b++;
        size_t nvals = b - a;
        if (c->def) {
            nvals = 0;
            for (size_t i = a; i < b; i++) nvals += c->def[i] == c->max_def;
        }
        const char *pd;
        size_t pl;
        if (!ndict && !c->rep && !c->def && c->phys != PQ_PHYS_BOOLEAN) {
            pd = plain_slice(c, va, va + nvals, &at, &pl); /* values alone: compressed in place */
        } else {
            w->page.len = 0;
            if (c->rep && put_levels(&w->page, c->rep + a, b - a, c->max_rep)) goto oom;
            if (c->def && put_levels(&w->page, c->def + a, b - a, c->max_def)) goto oom;
            if (ndict) {
                if (pq_text_byte(&w->page, (uint8_t)bw) || pq_rle_encode(&w->page, c->idx + va, nvals, bw))
                    goto oom;
            } else if (put_plain(&w->page, c, va, va + nvals, &at)) {
                goto oom;
            }
            pd = w->page.data;
            pl = w->page.len;
        }
        tus += pl;
        if (emit_page(w, pd, pl, 0, (int)(b - a), ndict ? ENC_RLE_DICT : ENC_PLAIN, !ndict && c->dense, err,
                      errlen))
            return -1;
        a = b;
        va += nvals;
    } while (a < c->n);
    /* Header bytes count towards the uncompressed size too (as other writers do). */
    k->data_off = (int64_t)(w->offset + data_start);
    k->tcs = (int64_t)w->chunk.len;
    k->tus = (int64_t)(tus + w->hdr_bytes);
    if (w->fn(w->ctx, w->chunk.data, w->chunk.len, err, errlen)) return -1;
    w->offset += w->chunk.len;
    return 0;
oom:
    pq_seterr(err, errlen, "out of memory");
    return -1;
}

/* Empties column c for the next row group; buffers are kept for reuse, except a slot table
 * grown past 4096 slots (a high-cardinality row group should not tax the next one's resets). */
static void col_reset(pq_writer *w, wcol *c) {
    c->nd_prev = c->dstate == DICT_DEFER ? c->nd : 0;
    c->n = c->nv = 0;
    c->rows = c->bytes = 0;
    c->arena.len = 0;
    c->dict.len = 0;
    c->nd = 0;
    memset(c->ids, 0, sizeof c->ids);
    c->dstate = col_dict_allowed(w, c) ? DICT_LIVE : DICT_OFF;
    c->dense = false;
    if (c->bits > 12) {
        free(c->tab);
        c->tab = NULL;
        c->bits = 0;
    } else if (c->bits) {
        memset(c->tab, 0, ((size_t)1 << c->bits) * sizeof *c->tab);
    }
}

static int flush_rowgroup(pq_writer *w, char *err, size_t errlen) {
    if (w->rows_rg == 0) return 0;
    if (!w->started) {
        if (w->fn(w->ctx, PQ_MAGIC, 4, err, errlen)) return -1;
        w->offset = 4;
        w->started = true;
    }
    wrg *rgs = realloc(w->rgs, (size_t)(w->nrg + 1) * sizeof *rgs);
    if (!rgs) goto oom;
    w->rgs = rgs;
    wrg *g = &rgs[w->nrg];
    memset(g, 0, sizeof *g);
    g->cols = calloc((size_t)w->ncols, sizeof *g->cols);
    if (!g->cols) goto oom;
    w->nrg++;
    g->file_offset = (int64_t)w->offset;
    g->num_rows = (int64_t)w->rows_rg;
    for (int i = 0; i < w->ncols; i++) {
        if (flush_chunk(w, i, &g->cols[i], err, errlen)) return -1;
        g->total_bytes += g->cols[i].tus;
        g->tcs += g->cols[i].tcs;
        col_reset(w, &w->cols[i]);
    }
    w->buffered = 0;
    w->cells = 0;
    w->rows_total += w->rows_rg;
    w->rows_rg = 0;
    return 0;
oom:
    pq_seterr(err, errlen, "out of memory");
    return -1;
}

/* Whether every column holds `want` rows; else the first that does not is named in err and the
 * writer fails. */
static int rows_check(pq_writer *w, uint64_t want, char *err, size_t errlen) {
    for (int i = 0; i < w->ncols; i++)
        if (w->cols[i].rows != want) {
            char path[256];
            pq_schema_leaf_path(w->s, i, path, sizeof path);
            pq_seterr(err, errlen, "column %s has %llu rows, expected %llu", path,
                      (unsigned long long)w->cols[i].rows, (unsigned long long)want);
            w->failed = true;
            return -1;
        }
    return 0;
}

/* Per call, the columns' rows are checked as one sum (w->cells: a handful of instructions, where a
 * loop over the columns was ~107 a row of the lake's tables); each column's own count is checked
 * when the sum is off (to name the column) and before a row group is flushed (parquet.h: a +1/-1
 * between two columns is caught there). */
int pq_writer_end_rows(pq_writer *w, size_t n, char *err, size_t errlen) {
    if (w->failed || w->closed) {
        pq_seterr(err, errlen, "writer already failed or closed");
        return -1;
    }
    uint64_t want = w->rows_rg + n;
    if (w->cells != want * (uint64_t)w->ncols && rows_check(w, want, err, errlen)) return -1;
    w->rows_rg = want;
    if (w->buffered >= w->o.row_group_bytes && (rows_check(w, want, err, errlen) || flush_rowgroup(w, err, errlen))) {
        w->failed = true;
        return -1;
    }
    return 0;
}

/* ---------- footer ---------- */

static void put_schema_node(pq_tw *t, const pq_schema *s, int i) {
    const pq_node *nd = &s->nodes[i];
    tw_struct_begin(t, 0);
    if (nd->leaf >= 0) tw_i32(t, 1, nd->phys);
    tw_i32(t, 3, nd->rep);
    tw_bin(t, 4, nd->name, strlen(nd->name));
    if (nd->leaf < 0) tw_i32(t, 5, nd->n_children);
    int conv = -1, logical = 0;
    switch (nd->kind) {
    case PQ_STRING: conv = 0; logical = 1; break;
    case PQ_DATE: conv = 6; logical = 6; break;
    case PQ_TIMESTAMP: conv = 10; logical = 8; break;
    case PQ_LIST: conv = 3; logical = 3; break;
    case PQ_DECIMAL: conv = 5; logical = 5; break;
    default: break;
    }
    if (conv >= 0) tw_i32(t, 6, conv);
    if (nd->kind == PQ_DECIMAL) { /* SchemaElement.scale / .precision, required with DECIMAL */
        tw_i32(t, 7, nd->scale);
        tw_i32(t, 8, nd->precision);
    }
    if (logical) {
        tw_struct_begin(t, 10);
        tw_struct_begin(t, (int16_t)logical);
        if (logical == 5) { /* DecimalType { 1: scale, 2: precision } */
            tw_i32(t, 1, nd->scale);
            tw_i32(t, 2, nd->precision);
        } else if (logical == 8) {
            tw_bool(t, 1, true);
            tw_struct_begin(t, 2);
            tw_struct_begin(t, 2); /* MICROS */
            tw_struct_end(t);
            tw_struct_end(t);
        }
        tw_struct_end(t);
        tw_struct_end(t);
    }
    tw_struct_end(t);
    for (int c = 0; c < nd->n_children; c++) put_schema_node(t, s, nd->children[c]);
}

static void put_colmeta(pq_tw *t, const pq_writer *w, int ci, const wchunk *k) {
    const pq_schema *s = w->s;
    tw_struct_begin(t, 0);
    tw_i64(t, 2, k->dict_off >= 0 ? k->dict_off : k->data_off);
    tw_struct_begin(t, 3);
    tw_i32(t, 1, w->cols[ci].phys);
    int encs[3], ne = 0;
    encs[ne++] = ENC_PLAIN;
    encs[ne++] = ENC_RLE;
    if (k->dict) encs[ne++] = ENC_RLE_DICT;
    tw_list_begin(t, 2, TT_I32, (size_t)ne);
    for (int i = 0; i < ne; i++) tw_elem_i32(t, encs[i]);
    int chain[PQ_MAX_DEPTH + 2], n = 0;
    for (int i = s->leaves[ci]; i >= 0 && n < PQ_MAX_DEPTH + 2; i = s->nodes[i].parent) chain[n++] = i;
    tw_list_begin(t, 3, TT_BINARY, (size_t)n);
    for (int i = n - 1; i >= 0; i--) tw_elem_bin(t, s->nodes[chain[i]].name, strlen(s->nodes[chain[i]].name));
    tw_i32(t, 4, w->o.codec);
    tw_i64(t, 5, k->num_values);
    tw_i64(t, 6, k->tus);
    tw_i64(t, 7, k->tcs);
    tw_i64(t, 9, k->data_off);
    if (k->dict_off >= 0) tw_i64(t, 11, k->dict_off);
    tw_struct_begin(t, 12);
    tw_i64(t, 3, k->null_count);
    if (k->has_minmax) {
        tw_bin(t, 5, k->max.data, k->max.len);
        tw_bin(t, 6, k->min.data, k->min.len);
    }
    tw_struct_end(t);
    tw_struct_end(t);
    tw_struct_end(t);
}

int pq_writer_close(pq_writer *w, char *err, size_t errlen) {
    if (w->failed || w->closed) {
        pq_seterr(err, errlen, "writer already failed or closed");
        return -1;
    }
    if (w->rows_rg == 0 && w->rows_total == 0) {
        pq_seterr(err, errlen, "no rows: a zero-row file is not written");
        return -1;
    }
    if (rows_check(w, w->rows_rg, err, errlen) || flush_rowgroup(w, err, errlen)) {
        w->failed = true;
        return -1;
    }
    pq_text foot = {0};
    pq_tw t;
    tw_init(&t, &foot);
    tw_struct_begin(&t, 0);
    tw_i32(&t, 1, 2);
    tw_list_begin(&t, 2, TT_STRUCT, (size_t)w->s->n + 1);
    tw_struct_begin(&t, 0);
    tw_bin(&t, 4, "schema", 6);
    tw_i32(&t, 5, w->s->n_top);
    tw_struct_end(&t);
    for (int i = 0; i < w->s->n_top; i++) put_schema_node(&t, w->s, w->s->top[i]);
    tw_i64(&t, 3, (int64_t)w->rows_total);
    tw_list_begin(&t, 4, TT_STRUCT, (size_t)w->nrg);
    for (int g = 0; g < w->nrg; g++) {
        const wrg *r = &w->rgs[g];
        tw_struct_begin(&t, 0);
        tw_list_begin(&t, 1, TT_STRUCT, (size_t)w->ncols);
        for (int i = 0; i < w->ncols; i++) put_colmeta(&t, w, i, &r->cols[i]);
        tw_i64(&t, 2, r->total_bytes);
        tw_i64(&t, 3, r->num_rows);
        tw_i64(&t, 5, r->file_offset);
        tw_i64(&t, 6, r->tcs);
        tw_field(&t, 7, TT_I16);
        tw_varint(&t, (uint64_t)pq_zigzag(g));
        tw_struct_end(&t);
    }
    if (w->nkv) {
        tw_list_begin(&t, 5, TT_STRUCT, (size_t)w->nkv);
        for (int i = 0; i < w->nkv; i++) {
            tw_struct_begin(&t, 0);
            tw_bin(&t, 1, w->kv[2 * i], strlen(w->kv[2 * i]));
            if (w->kv[2 * i + 1]) tw_bin(&t, 2, w->kv[2 * i + 1], strlen(w->kv[2 * i + 1]));
            tw_struct_end(&t);
        }
    }
    tw_bin(&t, 6, w->created_by, strlen(w->created_by));
    tw_list_begin(&t, 7, TT_STRUCT, (size_t)w->ncols);
    for (int i = 0; i < w->ncols; i++) {
        tw_struct_begin(&t, 0);
        tw_struct_begin(&t, 1);
        tw_struct_end(&t);
        tw_struct_end(&t);
    }
    tw_struct_end(&t);
    uint32_t flen = (uint32_t)foot.len;
    int rc = -1;
    if (t.failed || pq_text_append(&foot, &flen, 4) || pq_text_append(&foot, PQ_MAGIC, 4)) {
        pq_seterr(err, errlen, "out of memory");
    } else if (w->fn(w->ctx, foot.data, foot.len, err, errlen) == 0) {
        w->offset += foot.len;
        rc = 0;
    }
    pq_text_free(&foot);
    w->closed = true;
    if (rc) w->failed = true;
    return rc;
}
