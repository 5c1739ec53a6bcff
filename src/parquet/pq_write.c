/*
 * pq_write.c — the Parquet writer.
 *
 * Values are buffered per leaf column for the current row group (levels as int16 arrays,
 * fixed-width values in a typed array, strings in an arena). At flush each column chunk is
 * encoded at once: a dictionary is tried first (hash of the values; abandoned as soon as it
 * passes dict_max_bytes, then PLAIN), pages are cut at row boundaries near page_bytes, each
 * page compressed, and the chunk goes out through the caller's write callback in one call.
 * The footer is Thrift compact, written by hand (pq_thrift.c).
 */
#include <math.h>
#include <zstd.h>

#include "parquet/pq_internal.h"

enum { ENC_PLAIN = 0, ENC_RLE = 3, ENC_RLE_DICT = 8 };

typedef struct {
    uint32_t off, len;
} sref;

typedef struct {
    int node, phys, max_def, max_rep;
    int16_t *def, *rep;
    size_t n, cap_lv;
    void *vals;            /* u8 / i32 / i64 / double / sref */
    size_t nv, cap_v;
    pq_text arena;         /* string bytes */
    uint64_t rows;         /* rows appended in the current row group */
    uint64_t bytes;        /* plain-size estimate of buffered data */
} wcol;

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
    bool started, failed, closed;
    wrg *rgs;
    int nrg;
    char **kv;            /* key, value pairs */
    int nkv;
    void *zc;
    pq_text page, comp, chunk;
    uint64_t hdr_bytes;   /* page header bytes of the chunk being flushed */
    uint32_t *idx;        /* dictionary indices scratch */
    size_t idx_cap;
};

static size_t val_size(int phys) {
    switch (phys) {
    case PQ_PHYS_BOOLEAN: return 1;
    case PQ_PHYS_INT32: return 4;
    case PQ_PHYS_INT64: case PQ_PHYS_DOUBLE: return 8;
    default: return sizeof(sref);
    }
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
        w->cols[i].node = w->s->leaves[i];
        w->cols[i].phys = nd->phys;
        w->cols[i].max_def = nd->max_def;
        w->cols[i].max_rep = nd->max_rep;
    }
    if (w->o.codec == PQ_ZSTD && !(w->zc = ZSTD_createCCtx())) goto oom;
    return w;
oom:
    pq_seterr(err, errlen, "out of memory");
fail:
    pq_writer_free(w);
    return NULL;
}

void pq_writer_free(pq_writer *w) {
    if (!w) return;
    for (int i = 0; w->cols && i < w->ncols; i++) {
        free(w->cols[i].def);
        free(w->cols[i].rep);
        free(w->cols[i].vals);
        pq_text_free(&w->cols[i].arena);
    }
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
    free(w->idx);
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
uint64_t pq_writer_bytes_buffered(const pq_writer *w) {
    uint64_t b = 0;
    for (int i = 0; i < w->ncols; i++) b += w->cols[i].bytes;
    return b;
}

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

/* Copies one value (index i of src) into the column buffer. */
static int put_value(wcol *c, const void *src, size_t i) {
    size_t vs = val_size(c->phys);
    if (c->nv == c->cap_v && grow(&c->vals, &c->cap_v, c->nv + 1, vs)) return -1;
    if (c->phys == PQ_PHYS_BYTE_ARRAY) {
        const pq_bytes *b = (const pq_bytes *)src + i;
        if (c->arena.len + b->n >= UINT32_MAX) return -1;
        sref r = {(uint32_t)c->arena.len, b->n};
        if (pq_text_append(&c->arena, b->p, b->n)) return -1;
        ((sref *)c->vals)[c->nv++] = r;
        c->bytes += 4 + b->n;
    } else if (c->phys == PQ_PHYS_BOOLEAN) {
        ((uint8_t *)c->vals)[c->nv++] = ((const uint8_t *)src)[i] ? 1 : 0;
        c->bytes += 1;
    } else {
        memcpy((char *)c->vals + c->nv * vs, (const char *)src + i * vs, vs);
        c->nv++;
        c->bytes += vs;
    }
    return 0;
}

int pq_write_values(pq_writer *w, int leaf, size_t n, const void *values, const uint8_t *valid, char *err,
                    size_t errlen) {
    if (leaf < 0 || leaf >= w->ncols) {
        pq_seterr(err, errlen, "no leaf column %d", leaf);
        return -1;
    }
    wcol *c = &w->cols[leaf];
    if (c->max_rep > 0) {
        pq_seterr(err, errlen, "leaf %d is repeated: use pq_write_levels", leaf);
        return -1;
    }
    if (reserve_levels(c, n)) goto oom;
    /* Fast path: fixed-width values without nulls are copied in one go. */
    if (!valid && c->phys != PQ_PHYS_BYTE_ARRAY && c->phys != PQ_PHYS_BOOLEAN) {
        size_t vs = val_size(c->phys);
        if (grow(&c->vals, &c->cap_v, c->nv + n, vs)) goto oom;
        memcpy((char *)c->vals + c->nv * vs, values, n * vs);
        c->nv += n;
        c->bytes += n * vs;
        if (c->def)
            for (size_t i = 0; i < n; i++) c->def[c->n + i] = (int16_t)c->max_def;
        c->n += n;
        c->rows += n;
        return 0;
    }
    /* Strings: reserve the arena once for the batch, then copy. */
    if (c->phys == PQ_PHYS_BYTE_ARRAY) {
        const pq_bytes *b = values;
        size_t total = 0;
        for (size_t i = 0; i < n; i++) total += (!valid || valid[i]) ? b[i].n : 0;
        if (c->arena.len + total >= UINT32_MAX || pq_text_reserve(&c->arena, total) ||
            grow(&c->vals, &c->cap_v, c->nv + n, sizeof(sref)))
            goto oom;
        sref *sv = c->vals;
        for (size_t i = 0; i < n; i++) {
            bool ok = !valid || valid[i];
            if (!ok && c->max_def == 0) {
                pq_seterr(err, errlen, "null in required column %s", w->s->nodes[c->node].name);
                return -1;
            }
            if (c->def) c->def[c->n] = (int16_t)(ok ? c->max_def : c->max_def - 1);
            c->n++;
            if (!ok) continue;
            sv[c->nv++] = (sref){(uint32_t)c->arena.len, b[i].n};
            memcpy(c->arena.data + c->arena.len, b[i].p, b[i].n);
            c->arena.len += b[i].n;
            c->bytes += 4 + b[i].n;
        }
        c->bytes += n * (c->def ? 2 : 0);
        c->rows += n;
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        bool ok = !valid || valid[i];
        if (!ok && c->max_def == 0) {
            pq_seterr(err, errlen, "null in required column %s", w->s->nodes[c->node].name);
            return -1;
        }
        if (c->def) c->def[c->n] = (int16_t)(ok ? c->max_def : c->max_def - 1);
        c->n++;
        if (ok && put_value(c, values, i)) goto oom;
    }
    c->bytes += n * (c->def ? 2 : 0);
    c->rows += n;
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
    for (size_t i = 0; i < nvals; i++)
        if (put_value(c, values, i)) goto oom;
    c->bytes += n * ((c->def ? 2 : 0) + (c->rep ? 2 : 0));
    c->rows += rows;
    return 0;
oom:
    pq_seterr(err, errlen, "out of memory");
    return -1;
}

/* ---------- dictionary ---------- */

/* murmur3's fmix64: every input bit reaches every output bit (slots use the top bits). */
static inline uint64_t mix64(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

static uint64_t hash_bytes(const char *p, size_t n) {
    uint64_t h = 0x9E3779B97F4A7C15ULL ^ ((uint64_t)n * 0x100000001b3ULL);
    while (n >= 8) {
        uint64_t x;
        memcpy(&x, p, 8);
        h = mix64(h ^ x);
        p += 8;
        n -= 8;
    }
    uint64_t x = 0;
    memcpy(&x, p, n);
    return mix64(h ^ x ^ ((uint64_t)n << 59));
}

/* Equality of short byte strings without a library call (most dictionary hits are short). */
static inline bool bytes_eq(const char *a, const char *b, size_t n) {
    while (n >= 8) {
        uint64_t x, y;
        memcpy(&x, a, 8);
        memcpy(&y, b, 8);
        if (x != y) return false;
        a += 8;
        b += 8;
        n -= 8;
    }
    while (n--)
        if (*a++ != *b++) return false;
    return true;
}

/* Builds the dictionary of column c into dict (PLAIN encoded, appended as entries are found)
 * and indices into w->idx. Hot path, hand-written: open addressing whose 8-byte slots hold
 * (hash high 32 bits, entry + 1), so a probe touches one cache line and compares bytes only
 * when the hashes agree, against the compact dictionary copy (which stays in cache), not
 * the scattered input. Returns the entry count, or 0 when the dictionary would pass
 * dict_max_bytes (the chunk is then written PLAIN) or on OOM. */
static size_t build_dict(pq_writer *w, wcol *c, pq_text *dict) {
    size_t nv = c->nv;
    if (nv == 0) return 0;
    if (grow((void **)&w->idx, &w->idx_cap, nv, sizeof(uint32_t))) return 0;
    int bits = 12;
    size_t cap = (size_t)1 << bits;
    uint64_t *tab = calloc(cap, sizeof *tab);
    uint32_t *doff = NULL;    /* entry -> offset of its value in dict */
    uint64_t *hs = NULL;      /* entry -> full hash (for rehashing) */
    size_t dcap = 0, hcap = 0, nd = 0, limit = w->o.dict_max_bytes;
    if (!tab) return 0;
    dict->len = 0;
    size_t vs = val_size(c->phys);
    bool str = c->phys == PQ_PHYS_BYTE_ARRAY;
    const sref *sv = c->vals;
    for (size_t i = 0; i < nv; i++) {
        const char *vp = str ? c->arena.data + sv[i].off : (const char *)c->vals + i * vs;
        uint32_t vl = str ? sv[i].len : (uint32_t)vs;
        uint64_t h;
        if (str) {
            h = hash_bytes(vp, vl);
        } else {
            uint64_t x = 0;
            memcpy(&x, vp, vs);
            h = mix64(x);
        }
        uint32_t tag = (uint32_t)(h >> 32);
        size_t m = cap - 1, s = (size_t)(h >> (64 - bits));
        uint64_t slot;
        while ((slot = tab[s])) {
            if ((uint32_t)(slot >> 32) == tag) {
                const char *dp = dict->data + doff[(uint32_t)slot - 1];
                if (str) {
                    uint32_t dl;
                    memcpy(&dl, dp, 4);
                    if (dl == vl && bytes_eq(dp + 4, vp, vl)) break;
                } else if (!memcmp(dp, vp, vs)) {
                    break;
                }
            }
            s = (s + 1) & m;
        }
        if (slot) {
            w->idx[i] = (uint32_t)slot - 1;
            continue;
        }
        size_t add = str ? 4 + (size_t)vl : vs;
        if (dict->len + add > limit || nd >= UINT32_MAX - 1) goto fail;
        /* Nearly all distinct so far (ids, timestamps): a dictionary would not pay, stop early. */
        if (i == 16384 && nd > i - i / 8) goto fail;
        if (nd == dcap && grow((void **)&doff, &dcap, nd + 1, sizeof *doff)) goto fail;
        if (nd == hcap && grow((void **)&hs, &hcap, nd + 1, sizeof *hs)) goto fail;
        doff[nd] = (uint32_t)dict->len;
        if (str ? (pq_text_append(dict, &vl, 4) || pq_text_append(dict, vp, vl)) : pq_text_append(dict, vp, vs))
            goto fail;
        hs[nd] = h;
        tab[s] = ((uint64_t)tag << 32) | (uint32_t)(nd + 1);
        w->idx[i] = (uint32_t)nd++;
        if (nd * 2 > cap) { /* rehash at half full */
            int nbits = bits + 1;
            size_t ncap = (size_t)1 << nbits;
            uint64_t *nt = calloc(ncap, sizeof *nt);
            if (!nt) goto fail;
            for (size_t k = 0; k < nd; k++) {
                size_t q = (size_t)(hs[k] >> (64 - nbits));
                while (nt[q]) q = (q + 1) & (ncap - 1);
                nt[q] = ((hs[k] >> 32) << 32) | (uint32_t)(k + 1);
            }
            free(tab);
            tab = nt;
            cap = ncap;
            bits = nbits;
        }
    }
    free(tab);
    free(doff);
    free(hs);
    return nd;
fail:
    free(tab);
    free(doff);
    free(hs);
    return 0;
}

/* ---------- statistics ---------- */

static int cmp_sref(const char *base, sref a, sref b) {
    size_t n = a.len < b.len ? a.len : b.len;
    int r = memcmp(base + a.off, base + b.off, n);
    if (r) return r;
    return a.len < b.len ? -1 : a.len > b.len;
}

/* min/max of nv values (typed array vals; strings as sref into base), PLAIN encoded. Doubles
 * skip NaN; a zero min is -0.0 and a zero max +0.0 as the spec asks; strings over 256 bytes
 * give no min/max. Called on the dictionary when there is one (far fewer values). */
static int chunk_stats(int phys, const void *vals, size_t nv, const char *base, wchunk *k) {
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
        const sref *v = vals;
        sref mn = v[0], mx = v[0];
        for (size_t i = 1; i < nv; i++) {
            if (cmp_sref(base, v[i], mn) < 0) mn = v[i];
            if (cmp_sref(base, v[i], mx) > 0) mx = v[i];
        }
        if (mn.len > 256 || mx.len > 256) return 0;
        if (pq_text_append(&k->min, base + mn.off, mn.len) ||
            pq_text_append(&k->max, base + mx.off, mx.len))
            return -1;
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

/* PLAIN-encodes values [a, b) of column c. */
static int put_plain(pq_text *t, const wcol *c, size_t a, size_t b) {
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
    if (c->phys != PQ_PHYS_BYTE_ARRAY) {
        size_t vs = val_size(c->phys);
        return pq_text_append(t, (const char *)c->vals + a * vs, (b - a) * vs);
    }
    const sref *v = c->vals;
    size_t need = 0;
    for (size_t i = a; i < b; i++) need += 4 + v[i].len;
    if (pq_text_reserve(t, need)) return -1;
    char *o = t->data + t->len;
    for (size_t i = a; i < b; i++) {
        memcpy(o, &v[i].len, 4);
        memcpy(o + 4, c->arena.data + v[i].off, v[i].len);
        o += 4 + v[i].len;
    }
    t->len += need;
    return 0;
}

/* Compresses w->page and appends header + body to w->chunk. */
static int emit_page(pq_writer *w, int type, int num_values, int encoding, char *err, size_t errlen) {
    w->comp.len = 0;
    if (pq_compress(w->o.codec, w->o.zstd_level, w->zc, w->page.data, w->page.len, &w->comp, err, errlen))
        return -1;
    if (w->page.len > INT32_MAX || w->comp.len > INT32_MAX) {
        pq_seterr(err, errlen, "page too large");
        return -1;
    }
    pq_tw t;
    size_t before = w->chunk.len;
    tw_init(&t, &w->chunk);
    tw_struct_begin(&t, 0);
    tw_i32(&t, 1, type);
    tw_i32(&t, 2, (int32_t)w->page.len);
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

/* Encodes and writes column chunk `ci` of the current row group. */
static int flush_chunk(pq_writer *w, int ci, wchunk *k, char *err, size_t errlen) {
    wcol *c = &w->cols[ci];
    w->chunk.len = 0;
    w->hdr_bytes = 0;
    k->dict_off = -1;
    k->num_values = (int64_t)c->n;
    k->null_count = (int64_t)(c->n - c->nv);
    size_t ndict = 0;
    uint64_t tus = 0;
    if (!w->o.no_dictionary && c->phys != PQ_PHYS_BOOLEAN) {
        w->page.len = 0;
        ndict = build_dict(w, c, &w->page);
    }
    if (ndict && c->phys == PQ_PHYS_BYTE_ARRAY) {
        sref *dv = malloc(ndict * sizeof *dv);
        if (!dv) goto oom;
        size_t off = 0;
        for (size_t e = 0; e < ndict; e++) {
            uint32_t l;
            memcpy(&l, w->page.data + off, 4);
            dv[e] = (sref){(uint32_t)off + 4, l};
            off += 4 + l;
        }
        int rc = chunk_stats(c->phys, dv, ndict, w->page.data, k);
        free(dv);
        if (rc) goto oom;
    } else if (chunk_stats(c->phys, ndict ? (const void *)w->page.data : c->vals, ndict ? ndict : c->nv,
                           c->arena.data, k)) {
        goto oom;
    }
    if (ndict) {
        tus += w->page.len;
        if (emit_page(w, 2, (int)ndict, ENC_PLAIN, err, errlen)) return -1;
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
    size_t a = 0, va = 0;
    do {
        size_t b = a + step < c->n ? a + step : c->n;
        if (c->rep)
            while (b < c->n && c->rep[b] != 0) b++;
        size_t nvals = b - a;
        if (c->def) {
            nvals = 0;
            for (size_t i = a; i < b; i++) nvals += c->def[i] == c->max_def;
        }
        w->page.len = 0;
        if (c->rep && put_levels(&w->page, c->rep + a, b - a, c->max_rep)) goto oom;
        if (c->def && put_levels(&w->page, c->def + a, b - a, c->max_def)) goto oom;
        if (ndict) {
            if (pq_text_byte(&w->page, (uint8_t)bw) || pq_rle_encode(&w->page, w->idx + va, nvals, bw)) goto oom;
        } else if (put_plain(&w->page, c, va, va + nvals)) {
            goto oom;
        }
        tus += w->page.len;
        if (emit_page(w, 0, (int)(b - a), ndict ? ENC_RLE_DICT : ENC_PLAIN, err, errlen)) return -1;
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
        wcol *c = &w->cols[i];
        c->n = c->nv = 0;
        c->rows = c->bytes = 0;
        c->arena.len = 0;
    }
    w->rows_total += w->rows_rg;
    w->rows_rg = 0;
    return 0;
oom:
    pq_seterr(err, errlen, "out of memory");
    return -1;
}

int pq_writer_end_rows(pq_writer *w, size_t n, char *err, size_t errlen) {
    if (w->failed || w->closed) {
        pq_seterr(err, errlen, "writer already failed or closed");
        return -1;
    }
    for (int i = 0; i < w->ncols; i++)
        if (w->cols[i].rows != w->rows_rg + n) {
            char path[256];
            pq_schema_leaf_path(w->s, i, path, sizeof path);
            pq_seterr(err, errlen, "column %s has %llu rows, expected %llu", path,
                      (unsigned long long)w->cols[i].rows, (unsigned long long)(w->rows_rg + n));
            w->failed = true;
            return -1;
        }
    w->rows_rg += n;
    if (pq_writer_bytes_buffered(w) >= w->o.row_group_bytes && flush_rowgroup(w, err, errlen)) {
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
    default: break;
    }
    if (conv >= 0) tw_i32(t, 6, conv);
    if (logical) {
        tw_struct_begin(t, 10);
        tw_struct_begin(t, (int16_t)logical);
        if (logical == 8) {
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
    if (flush_rowgroup(w, err, errlen)) {
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
