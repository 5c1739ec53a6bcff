/*
 * pq_read.c — the Parquet reader: footer, schema, and column chunk decoding.
 *
 * Every size read from the file is checked before use: the footer against the file size,
 * a chunk's byte range against the file, a page against the chunk and max_page_bytes, the
 * values of a page against the chunk's declared num_values (itself capped by
 * max_chunk_values), and every encoded run against the bytes of its page.
 */
#include <zstd.h>

#include "parquet/pq_internal.h"

enum { ENC_PLAIN = 0, ENC_PLAIN_DICT = 2, ENC_RLE = 3, ENC_BIT_PACKED = 4, ENC_DELTA_BINARY = 5,
       ENC_RLE_DICT = 8 };

struct pq_reader {
    pq_read_fn fn;
    void *ctx;
    uint64_t size;
    pq_read_opts o;
    uint8_t *footer;
    pq_filemeta fm;
    pq_schema *s;
    void *zd;
    char **kv;          /* NUL-terminated key, value copies */
    char *created_by;
    const uint8_t *mem;
};

typedef struct {
    void **bufs;
    size_t n, cap;
} owned_list;

static int mem_read(void *ctx, uint64_t off, void *dst, size_t n, char *err, size_t errlen) {
    pq_reader *r = ctx;
    if (off > r->size || n > r->size - off) {
        pq_seterr(err, errlen, "read past end of file");
        return -1;
    }
    memcpy(dst, r->mem + off, n);
    return 0;
}

/* Converted types (parquet.thrift ConvertedType) and LogicalType union ids the reader maps. */
enum { CT_UTF8 = 0, CT_MAP = 1, CT_LIST = 3, CT_ENUM = 4, CT_DECIMAL = 5, CT_DATE = 6,
       CT_TIME_MILLIS = 7, CT_TIME_MICROS = 8, CT_TS_MILLIS = 9, CT_TS_MICROS = 10, CT_UINT_8 = 11,
       CT_UINT_64 = 14, CT_INT_8 = 15, CT_INT_64 = 18, CT_JSON = 19 };
enum { LT_STRING = 1, LT_MAP = 2, LT_LIST = 3, LT_ENUM = 4, LT_DECIMAL = 5, LT_DATE = 6, LT_TIME = 7,
       LT_TIMESTAMP = 8, LT_INTEGER = 10, LT_JSON = 12, LT_UUID = 14, LT_FLOAT16 = 15 };

/* INT32/INT64 leaves: plain, DATE, TIME, TIMESTAMP, or an INTEGER(bits, signed) annotation. */
static pq_kind int_kind(const pq_selem *e, pq_node *nd) {
    bool i32 = e->type == PQ_PHYS_INT32;
    if (e->logical == LT_TIME || e->converted == CT_TIME_MILLIS || e->converted == CT_TIME_MICROS) {
        nd->ts_unit = e->logical == LT_TIME ? (e->ts_unit ? e->ts_unit : 2) : e->converted == CT_TIME_MILLIS ? 1 : 2;
        nd->ts_utc = e->logical == LT_TIME ? e->ts_utc : true;
        return PQ_TIME;
    }
    if (i32 && (e->logical == LT_DATE || e->converted == CT_DATE)) return PQ_DATE;
    if (!i32 && e->logical == LT_TIMESTAMP) {
        nd->ts_unit = e->ts_unit ? e->ts_unit : 2;
        nd->ts_utc = e->ts_utc;
        return PQ_TIMESTAMP;
    }
    if (!i32 && (e->converted == CT_TS_MILLIS || e->converted == CT_TS_MICROS)) {
        nd->ts_unit = e->converted == CT_TS_MILLIS ? 1 : 2;
        nd->ts_utc = true; /* the spec: converted timestamps are UTC-adjusted */
        return PQ_TIMESTAMP;
    }
    if (e->logical == LT_INTEGER) {
        nd->int_bits = e->int_bits;
        nd->is_unsigned = !e->int_signed;
    } else if (e->converted >= CT_UINT_8 && e->converted <= CT_INT_64) {
        nd->int_bits = 8 << ((e->converted - CT_UINT_8) % 4);
        nd->is_unsigned = e->converted <= CT_UINT_64;
    }
    return i32 ? PQ_INT32 : PQ_INT64;
}

static pq_kind leaf_kind(const pq_selem *e, pq_node *nd) {
    if (e->logical == LT_DECIMAL || e->converted == CT_DECIMAL) {
        nd->precision = e->precision;
        nd->scale = e->scale;
        return PQ_DECIMAL;
    }
    switch (e->type) {
    case PQ_PHYS_BOOLEAN: return PQ_BOOL;
    case PQ_PHYS_INT32: case PQ_PHYS_INT64: return int_kind(e, nd);
    case PQ_PHYS_INT96: nd->ts_unit = 2; nd->ts_utc = false; return PQ_TIMESTAMP;
    case PQ_PHYS_FLOAT: return PQ_FLOAT;
    case PQ_PHYS_DOUBLE: return PQ_DOUBLE;
    case PQ_PHYS_BYTE_ARRAY:
        if (e->logical == LT_STRING || e->logical == LT_ENUM || e->logical == LT_JSON || e->converted == CT_UTF8 ||
            e->converted == CT_ENUM || e->converted == CT_JSON)
            return PQ_STRING;
        return PQ_BINARY;
    case PQ_PHYS_FIXED:
        if (e->logical == LT_FLOAT16 && e->type_length == 2) return PQ_FLOAT16;
        if (e->logical == LT_UUID && e->type_length == 16) return PQ_UUID;
        return PQ_BINARY;
    default: return PQ_OTHER;
    }
}

/* A DECIMAL the reader can print exactly: INT32 up to 9 digits, INT64 up to 18, FIXED and
 * BYTE_ARRAY up to PQ_DECIMAL_MAX_BYTES bytes (38 digits; BYTE_ARRAY lengths are checked again
 * per value). Anything else is refused by column name rather than misread. */
static int check_decimal(const pq_selem *e, const pq_node *nd, char *err, size_t errlen) {
    int maxp = e->type == PQ_PHYS_INT32 ? 9 : e->type == PQ_PHYS_INT64 ? 18 : 38;
    bool phys_ok = e->type == PQ_PHYS_INT32 || e->type == PQ_PHYS_INT64 || e->type == PQ_PHYS_BYTE_ARRAY ||
                   (e->type == PQ_PHYS_FIXED && e->type_length <= PQ_DECIMAL_MAX_BYTES);
    if (phys_ok && nd->precision >= 1 && nd->precision <= maxp && nd->scale >= 0 && nd->scale <= nd->precision)
        return 0;
    pq_seterr(err, errlen, "column %.*s: DECIMAL(%d,%d) on physical type %d (length %d) is not supported",
              (int)e->name.n, e->name.p ? e->name.p : "", nd->precision, nd->scale, e->type, e->type_length);
    return -1;
}

/* Builds the schema tree from the flat element list (depth-first, num_children). */
static int build_schema(pq_reader *r, int *pos, int parent, int nchild, int depth, char *err, size_t errlen) {
    const pq_filemeta *fm = &r->fm;
    if (depth > PQ_MAX_DEPTH) {
        pq_seterr(err, errlen, "schema nested too deep");
        return -1;
    }
    for (int c = 0; c < nchild; c++) {
        if (*pos >= fm->n_schema) {
            pq_seterr(err, errlen, "schema shorter than its num_children say");
            return -1;
        }
        const pq_selem *e = &fm->schema[(*pos)++];
        bool group = e->num_children > 0 || e->type < 0;
        int rep = e->rep < 0 ? PQ_REQUIRED : e->rep;
        if (rep > PQ_REPEATED || e->num_children < 0 || e->num_children > fm->n_schema) {
            pq_seterr(err, errlen, "bad schema element");
            return -1;
        }
        pq_node tmp = {0};
        pq_kind kind = !group ? leaf_kind(e, &tmp)
                       : e->converted == CT_LIST || e->logical == LT_LIST ? PQ_LIST
                       : e->converted == CT_MAP || e->logical == LT_MAP ? PQ_MAP
                       : PQ_STRUCT;
        if (!group && kind == PQ_OTHER) {
            pq_seterr(err, errlen, "unknown physical type %d", e->type);
            return -1;
        }
        if (!group && kind == PQ_DECIMAL && check_decimal(e, &tmp, err, errlen)) return -1;
        if (group && e->num_children == 0) {
            pq_seterr(err, errlen, "empty group in schema");
            return -1;
        }
        int idx = pq_schema_add_raw(r->s, parent, e->name.p ? e->name.p : "", e->name.n, kind, (pq_rep)rep,
                                    group ? -1 : e->type, err, errlen);
        if (idx < 0) return -1;
        pq_node *nd = &r->s->nodes[idx];
        nd->type_length = e->type_length;
        nd->logical = e->logical;
        nd->converted = e->converted;
        if (!group) {
            nd->ts_unit = tmp.ts_unit ? tmp.ts_unit : 2;
            nd->ts_utc = tmp.ts_unit ? tmp.ts_utc : true;
            nd->is_unsigned = tmp.is_unsigned;
            nd->int_bits = tmp.int_bits;
            nd->precision = tmp.precision;
            nd->scale = tmp.scale;
            if (e->type == PQ_PHYS_FIXED && (e->type_length <= 0 || (uint64_t)e->type_length > r->size)) {
                pq_seterr(err, errlen, "bad fixed length %d", e->type_length);
                return -1;
            }
        }
        if (group && build_schema(r, pos, idx, e->num_children, depth + 1, err, errlen)) return -1;
    }
    return 0;
}

static char *dup_bytes(pq_bytes b) {
    char *s = malloc((size_t)b.n + 1);
    if (!s) return NULL;
    if (b.n) memcpy(s, b.p, b.n);
    s[b.n] = 0;
    return s;
}

static int open_footer(pq_reader *r, char *err, size_t errlen) {
    uint8_t tail[8], head[4];
    if (r->size < 12) {
        pq_seterr(err, errlen, "not a parquet file (too short)");
        return -1;
    }
    if (r->fn(r->ctx, 0, head, 4, err, errlen) || r->fn(r->ctx, r->size - 8, tail, 8, err, errlen)) return -1;
    if (memcmp(head, PQ_MAGIC, 4) || memcmp(tail + 4, PQ_MAGIC, 4)) {
        pq_seterr(err, errlen, memcmp(tail + 4, "PARE", 4) ? "not a parquet file (bad magic)"
                                                           : "encrypted parquet files are not supported");
        return -1;
    }
    uint32_t flen;
    memcpy(&flen, tail, 4);
    if (flen == 0 || (uint64_t)flen > r->size - 12) {
        pq_seterr(err, errlen, "bad footer length %u", flen);
        return -1;
    }
    r->footer = malloc(flen);
    if (!r->footer) {
        pq_seterr(err, errlen, "out of memory");
        return -1;
    }
    if (r->fn(r->ctx, r->size - 8 - flen, r->footer, flen, err, errlen)) return -1;
    if (pq_parse_filemeta(r->footer, flen, &r->fm, err, errlen)) return -1;
    const pq_filemeta *fm = &r->fm;
    if (fm->n_schema < 2 || fm->schema[0].num_children <= 0) {
        pq_seterr(err, errlen, "file has an empty schema");
        return -1;
    }
    r->s = pq_schema_new();
    if (!r->s) {
        pq_seterr(err, errlen, "out of memory");
        return -1;
    }
    int pos = 1;
    if (build_schema(r, &pos, -1, fm->schema[0].num_children, 1, err, errlen)) return -1;
    if (pq_schema_finalize(r->s, err, errlen)) return -1;
    if (fm->num_rows < 0) {
        pq_seterr(err, errlen, "negative row count");
        return -1;
    }
    for (int g = 0; g < fm->n_rgs; g++) {
        const pq_rowgroup *rg = &fm->rgs[g];
        if (rg->ncols != r->s->n_leaves || rg->num_rows < 0) {
            pq_seterr(err, errlen, "row group %d: %d columns for %d leaves", g, rg->ncols, r->s->n_leaves);
            return -1;
        }
        for (int c = 0; c < rg->ncols; c++)
            if (rg->cols[c].type != r->s->nodes[r->s->leaves[c]].phys) {
                pq_seterr(err, errlen, "row group %d column %d: type differs from schema", g, c);
                return -1;
            }
    }
    r->kv = calloc((size_t)fm->n_kv * 2 + 1, sizeof(char *));
    r->created_by = dup_bytes(fm->created_by);
    if (!r->kv || !r->created_by) {
        pq_seterr(err, errlen, "out of memory");
        return -1;
    }
    for (int i = 0; i < fm->n_kv; i++) {
        r->kv[2 * i] = dup_bytes(fm->kv[i].key);
        if (fm->kv[i].has_value) r->kv[2 * i + 1] = dup_bytes(fm->kv[i].value);
        if (!r->kv[2 * i] || (fm->kv[i].has_value && !r->kv[2 * i + 1])) {
            pq_seterr(err, errlen, "out of memory");
            return -1;
        }
    }
    return 0;
}

pq_reader *pq_reader_open(pq_read_fn fn, void *ctx, uint64_t size, const pq_read_opts *opts, char *err,
                          size_t errlen) {
    pq_reader *r = calloc(1, sizeof *r);
    if (!r) {
        pq_seterr(err, errlen, "out of memory");
        return NULL;
    }
    r->fn = fn;
    r->ctx = ctx;
    r->size = size;
    if (opts) r->o = *opts;
    if (!r->o.max_page_bytes) r->o.max_page_bytes = 256u << 20;
    if (!r->o.max_chunk_values) r->o.max_chunk_values = 1u << 27;
    if (!r->o.max_chunk_bytes) r->o.max_chunk_bytes = 4ull << 30;
    if (open_footer(r, err, errlen)) {
        pq_reader_close(r);
        return NULL;
    }
    return r;
}

pq_reader *pq_reader_open_mem(const void *data, size_t size, const pq_read_opts *opts, char *err,
                              size_t errlen) {
    pq_reader *r = calloc(1, sizeof *r);
    if (!r) {
        pq_seterr(err, errlen, "out of memory");
        return NULL;
    }
    r->mem = data;
    r->fn = mem_read;
    r->ctx = r;
    r->size = size;
    if (opts) r->o = *opts;
    if (!r->o.max_page_bytes) r->o.max_page_bytes = 256u << 20;
    if (!r->o.max_chunk_values) r->o.max_chunk_values = 1u << 27;
    if (!r->o.max_chunk_bytes) r->o.max_chunk_bytes = 4ull << 30;
    if (open_footer(r, err, errlen)) {
        pq_reader_close(r);
        return NULL;
    }
    return r;
}

void pq_reader_close(pq_reader *r) {
    if (!r) return;
    if (r->kv)
        for (int i = 0; i < 2 * r->fm.n_kv; i++) free(r->kv[i]);
    free(r->kv);
    free(r->created_by);
    pq_filemeta_free(&r->fm);
    pq_schema_free(r->s);
    free(r->footer);
    if (r->zd) ZSTD_freeDCtx(r->zd);
    free(r);
}

const pq_schema *pq_reader_schema(const pq_reader *r) { return r->s; }
int64_t pq_reader_num_rows(const pq_reader *r) { return r->fm.num_rows; }
int pq_reader_num_row_groups(const pq_reader *r) { return r->fm.n_rgs; }
int64_t pq_reader_rg_num_rows(const pq_reader *r, int rg) {
    return rg >= 0 && rg < r->fm.n_rgs ? r->fm.rgs[rg].num_rows : 0;
}
const char *pq_reader_created_by(const pq_reader *r) { return r->created_by ? r->created_by : ""; }
int pq_reader_version(const pq_reader *r) { return r->fm.version; }
int pq_reader_num_kv(const pq_reader *r) { return r->fm.n_kv; }
void pq_reader_kv(const pq_reader *r, int i, const char **key, const char **value) {
    *key = i >= 0 && i < r->fm.n_kv ? r->kv[2 * i] : NULL;
    *value = i >= 0 && i < r->fm.n_kv ? r->kv[2 * i + 1] : NULL;
}

int pq_reader_chunk_info(const pq_reader *r, int rg, int leaf, pq_chunk_info *out) {
    memset(out, 0, sizeof *out);
    if (rg < 0 || rg >= r->fm.n_rgs || leaf < 0 || leaf >= r->s->n_leaves) return -1;
    const pq_colmeta *c = &r->fm.rgs[rg].cols[leaf];
    out->codec = c->codec;
    out->num_values = c->num_values;
    out->compressed_size = c->tcs;
    out->uncompressed_size = c->tus;
    out->null_count = c->st.null_count;
    out->has_min_max = c->st.has_min && c->st.has_max;
    out->min = c->st.min;
    out->max = c->st.max;
    out->n_encodings = c->nenc;
    memcpy(out->encodings, c->encs, sizeof out->encodings);
    return 0;
}

bool pq_reader_rg_may_match(const pq_reader *r, int rg, int leaf, int64_t lo, int64_t hi) {
    pq_chunk_info ci;
    if (pq_reader_chunk_info(r, rg, leaf, &ci) || !ci.has_min_max) return true;
    int phys = r->s->nodes[r->s->leaves[leaf]].phys;
    int64_t mn, mx;
    if (phys == PQ_PHYS_INT32 && ci.min.n == 4 && ci.max.n == 4) {
        int32_t a, b;
        memcpy(&a, ci.min.p, 4);
        memcpy(&b, ci.max.p, 4);
        mn = a;
        mx = b;
    } else if (phys == PQ_PHYS_INT64 && ci.min.n == 8 && ci.max.n == 8) {
        memcpy(&mn, ci.min.p, 8);
        memcpy(&mx, ci.max.p, 8);
    } else {
        return true;
    }
    return !(mx < lo || mn > hi);
}

/* ---------------- column decoding ---------------- */

typedef struct {
    pq_reader *r;
    const pq_node *nd;
    pq_column *out;
    owned_list *own;
    size_t cap;              /* entries allocated (= declared num_values) */
    pq_bytes *dict_b;        /* dictionary values */
    void *dict;              /* fixed-width dictionary (elem size vs) */
    size_t ndict;
    size_t vs;               /* size of one decoded value */
    uint32_t *idx;
    void *scratch;           /* page buffer freed after decoding (fixed-width values) */
    char *err;
    size_t errlen;
} dctx;

static int own(owned_list *o, void *p) {
    if (o->n == o->cap) {
        size_t c = o->cap ? o->cap * 2 : 8;
        void **b = realloc(o->bufs, c * sizeof *b);
        if (!b) return -1;
        o->bufs = b;
        o->cap = c;
    }
    o->bufs[o->n++] = p;
    return 0;
}

static int bad(dctx *d, const char *msg) {
    pq_seterr(d->err, d->errlen, "column %s: %s", d->nd->name, msg);
    return -1;
}

static size_t elem_size(int phys) {
    switch (phys) {
    case PQ_PHYS_BOOLEAN: return 1;
    case PQ_PHYS_INT32: case PQ_PHYS_FLOAT: return 4;
    case PQ_PHYS_INT64: case PQ_PHYS_DOUBLE: case PQ_PHYS_INT96: return 8;
    default: return sizeof(pq_bytes);
    }
}

/* PLAIN-decodes n values from p[0..len) into dst (typed per phys); *used = bytes consumed. */
static int plain_decode(dctx *d, const uint8_t *p, size_t len, size_t n, void *dst, size_t *used) {
    int phys = d->nd->phys;
    size_t need;
    switch (phys) {
    case PQ_PHYS_BOOLEAN:
        need = (n + 7) / 8;
        if (need > len) return bad(d, "boolean values past end of page");
        for (size_t i = 0; i < n; i++) ((uint8_t *)dst)[i] = (p[i / 8] >> (i % 8)) & 1;
        *used = need;
        return 0;
    case PQ_PHYS_INT32: case PQ_PHYS_FLOAT: case PQ_PHYS_INT64: case PQ_PHYS_DOUBLE:
        need = n * elem_size(phys);
        if (n > len || need > len) return bad(d, "values past end of page");
        memcpy(dst, p, need);
        *used = need;
        return 0;
    case PQ_PHYS_INT96: {
        if (n > len / 12) return bad(d, "values past end of page");
        for (size_t i = 0; i < n; i++) {
            int64_t nanos;
            int32_t jd;
            memcpy(&nanos, p + 12 * i, 8);
            memcpy(&jd, p + 12 * i + 8, 4);
            if (nanos % 1000) return bad(d, "INT96 timestamps with nanoseconds are not supported");
            /* Spark's arithmetic: wraps (defined, unsigned) for its dates past the int64 range */
            ((int64_t *)dst)[i] = (int64_t)((uint64_t)((int64_t)jd - 2440588) * 86400000000u + (uint64_t)(nanos / 1000));
        }
        *used = n * 12;
        return 0;
    }
    case PQ_PHYS_BYTE_ARRAY: {
        pq_bytes *o = dst;
        size_t off = 0;
        for (size_t i = 0; i < n; i++) {
            if (len - off < 4) return bad(d, "string length past end of page");
            uint32_t l;
            memcpy(&l, p + off, 4);
            off += 4;
            if (l > len - off) return bad(d, "string past end of page");
            o[i].p = (const char *)p + off;
            o[i].n = l;
            off += l;
        }
        *used = off;
        return 0;
    }
    case PQ_PHYS_FIXED: {
        size_t tl = (size_t)d->nd->type_length;
        if (n > len / tl) return bad(d, "values past end of page");
        pq_bytes *o = dst;
        for (size_t i = 0; i < n; i++) {
            o[i].p = (const char *)p + i * tl;
            o[i].n = (uint32_t)tl;
        }
        *used = n * tl;
        return 0;
    }
    }
    return bad(d, "unsupported type");
}

/* DELTA_BINARY_PACKED for INT32/INT64 (DuckDB and parquet v2 writers). */
static int uvarint(const uint8_t **p, const uint8_t *end, uint64_t *v) {
    uint64_t x = 0;
    for (int s = 0; s < 64; s += 7) {
        if (*p >= end) return -1;
        uint8_t b = *(*p)++;
        x |= (uint64_t)(b & 0x7f) << s;
        if (!(b & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return -1;
}

static int delta_decode(dctx *d, const uint8_t *p, size_t len, size_t n, void *dst) {
    const uint8_t *end = p + len;
    uint64_t bsize, nmini, total, zz;
    if (uvarint(&p, end, &bsize) || uvarint(&p, end, &nmini) || uvarint(&p, end, &total) ||
        uvarint(&p, end, &zz))
        return bad(d, "bad delta header");
    if (bsize == 0 || bsize % 128 || nmini == 0 || bsize % nmini || (bsize / nmini) % 32 || bsize > 1u << 20 ||
        total < n)
        return bad(d, "bad delta header");
    int64_t last = (int64_t)(zz >> 1) ^ -(int64_t)(zz & 1);
    bool i32 = d->nd->phys == PQ_PHYS_INT32;
    size_t got = 0, per = (size_t)(bsize / nmini);
    if (n == 0) return 0;
    if (i32) ((int32_t *)dst)[got++] = (int32_t)last;
    else ((int64_t *)dst)[got++] = last;
    while (got < n) {
        uint64_t mzz;
        if (uvarint(&p, end, &mzz)) return bad(d, "bad delta block");
        int64_t mind = (int64_t)(mzz >> 1) ^ -(int64_t)(mzz & 1);
        if ((uint64_t)(end - p) < nmini) return bad(d, "bad delta block");
        const uint8_t *bws = p;
        p += nmini;
        for (uint64_t m = 0; m < nmini && got < n; m++) {
            int bw = bws[m];
            if (bw > 64) return bad(d, "bad delta bit width");
            size_t bytes = per * (size_t)bw / 8;
            if (bytes > (size_t)(end - p)) return bad(d, "delta block past end");
            size_t bit = 0;
            for (size_t k = 0; k < per && got < n; k++) {
                uint64_t x = 0;
                for (int b = 0; b < bw; b++, bit++) x |= (uint64_t)((p[bit / 8] >> (bit % 8)) & 1) << b;
                last = (int64_t)((uint64_t)last + (uint64_t)mind + x);
                if (i32) ((int32_t *)dst)[got++] = (int32_t)last;
                else ((int64_t *)dst)[got++] = last;
            }
            p += bytes;
        }
    }
    return 0;
}

/* Decodes n present values of one page (encoding enc) appended at out->nvals. */
static int decode_values(dctx *d, int enc, const uint8_t *p, size_t len, size_t n) {
    pq_column *o = d->out;
    char *dst = (char *)o->v.any + o->nvals * d->vs;
    size_t used;
    if (n == 0) return 0;
    if (enc == ENC_PLAIN) return plain_decode(d, p, len, n, dst, &used);
    if (enc == ENC_PLAIN_DICT || enc == ENC_RLE_DICT) {
        if (!d->ndict) return bad(d, "dictionary-encoded page without a dictionary");
        if (len < 1) return bad(d, "missing index bit width");
        int bw = p[0];
        if (bw > 32) return bad(d, "bad index bit width");
        if (!d->idx && !(d->idx = malloc(d->cap * sizeof(uint32_t)))) return bad(d, "out of memory");
        if (pq_rle_decode(p + 1, len - 1, bw, d->idx, n, (int64_t)d->ndict - 1))
            return bad(d, "corrupt dictionary indices");
        if (d->vs == sizeof(pq_bytes) && (d->nd->phys == PQ_PHYS_BYTE_ARRAY || d->nd->phys == PQ_PHYS_FIXED)) {
            pq_bytes *ob = (pq_bytes *)dst;
            for (size_t i = 0; i < n; i++) ob[i] = d->dict_b[d->idx[i]];
        } else if (d->vs == 8) {
            const int64_t *dv = d->dict;
            int64_t *ov = (int64_t *)dst;
            for (size_t i = 0; i < n; i++) ov[i] = dv[d->idx[i]];
        } else if (d->vs == 4) {
            const int32_t *dv = d->dict;
            int32_t *ov = (int32_t *)dst;
            for (size_t i = 0; i < n; i++) ov[i] = dv[d->idx[i]];
        } else {
            const uint8_t *dv = d->dict;
            for (size_t i = 0; i < n; i++) ((uint8_t *)dst)[i] = dv[d->idx[i]];
        }
        return 0;
    }
    if (enc == ENC_RLE && d->nd->phys == PQ_PHYS_BOOLEAN) {
        if (len < 4) return bad(d, "truncated boolean run");
        uint32_t l;
        memcpy(&l, p, 4);
        if (l > len - 4) return bad(d, "boolean run past end");
        if (!d->idx && !(d->idx = malloc(d->cap * sizeof(uint32_t)))) return bad(d, "out of memory");
        if (pq_rle_decode(p + 4, l, 1, d->idx, n, 1)) return bad(d, "corrupt boolean run");
        for (size_t i = 0; i < n; i++) ((uint8_t *)dst)[i] = (uint8_t)d->idx[i];
        return 0;
    }
    if (enc == ENC_DELTA_BINARY && (d->nd->phys == PQ_PHYS_INT32 || d->nd->phys == PQ_PHYS_INT64))
        return delta_decode(d, p, len, n, dst);
    const char *en = pq_encoding_name(enc);
    pq_seterr(d->err, d->errlen, "column %s: unsupported encoding %s%.0d", d->nd->name, en ? en : "", en ? 0 : enc);
    return -1;
}

/* Reads levels (v1: 4-byte length prefix + hybrid) into dst[0..n). */
static int read_levels_v1(dctx *d, const uint8_t **p, const uint8_t *end, int enc, int maxl, int16_t *dst,
                          size_t n) {
    if (enc == ENC_BIT_PACKED) return bad(d, "deprecated BIT_PACKED levels are not supported");
    if (end - *p < 4) return bad(d, "truncated levels");
    uint32_t l;
    memcpy(&l, *p, 4);
    *p += 4;
    if (l > (size_t)(end - *p)) return bad(d, "levels past end of page");
    if (pq_rle_decode16(*p, l, pq_bit_width((uint64_t)maxl), dst, n, maxl)) return bad(d, "corrupt levels");
    *p += l;
    return 0;
}

static int decode_dict_page(dctx *d, const pq_pagehdr *h, const uint8_t *p, size_t len) {
    if (d->ndict) return bad(d, "second dictionary page");
    if (h->encoding != ENC_PLAIN && h->encoding != ENC_PLAIN_DICT) return bad(d, "dictionary not PLAIN");
    size_t n = (size_t)h->num_values;
    if (n > len * 8 + 1 || n > d->r->o.max_chunk_values) return bad(d, "dictionary too large for its page");
    if (n == 0) return 0;
    void *dst = malloc(n * d->vs);
    if (!dst || own(d->own, dst)) {
        free(dst);
        return bad(d, "out of memory");
    }
    size_t used;
    if (plain_decode(d, p, len, n, dst, &used)) return -1;
    d->dict = dst;
    d->dict_b = dst;
    d->ndict = n;
    return 0;
}

/* Decodes one data page (v1 or v2) whose body is buf[0..len) (already decompressed except
 * for the v2 values which are handled by the caller). */
static int decode_data_page(dctx *d, const pq_pagehdr *h, const uint8_t *buf, size_t len, bool v2) {
    pq_column *o = d->out;
    size_t n = (size_t)h->num_values;
    const pq_node *nd = d->nd;
    if (n > d->cap - o->n) return bad(d, "more values than the chunk declares");
    const uint8_t *p = buf, *end = buf + len;
    if (v2) {
        if ((size_t)h->rlen + (size_t)h->dlen > len) return bad(d, "levels past end of page");
        if (nd->max_rep > 0 &&
            pq_rle_decode16(p, (size_t)h->rlen, pq_bit_width((uint64_t)nd->max_rep), o->rep + o->n, n, nd->max_rep))
            return bad(d, "corrupt repetition levels");
        p += h->rlen;
        if (nd->max_def > 0 &&
            pq_rle_decode16(p, (size_t)h->dlen, pq_bit_width((uint64_t)nd->max_def), o->def + o->n, n, nd->max_def))
            return bad(d, "corrupt definition levels");
        p += h->dlen;
    } else {
        if (nd->max_rep > 0 && read_levels_v1(d, &p, end, h->rep_enc, nd->max_rep, o->rep + o->n, n)) return -1;
        if (nd->max_def > 0 && read_levels_v1(d, &p, end, h->def_enc, nd->max_def, o->def + o->n, n)) return -1;
    }
    size_t present = n;
    if (nd->max_def > 0) {
        present = 0;
        for (size_t i = 0; i < n; i++) present += o->def[o->n + i] == nd->max_def;
    }
    if (nd->max_rep > 0 && o->n == 0 && n > 0 && o->rep[0] != 0) return bad(d, "first entry continues a row");
    if (decode_values(d, h->encoding, p, (size_t)(end - p), present)) return -1;
    o->n += n;
    o->nvals += present;
    return 0;
}

static int zstd_ctx(pq_reader *r) {
    if (!r->zd) r->zd = ZSTD_createDCtx();
    return r->zd ? 0 : -1;
}

/* parquet-mr before 1.2.9 wrote column chunk sizes without the dictionary page header; like
 * parquet-cpp, the reader then reads up to 100 bytes more (within the file): the page loop
 * stops at the chunk's declared value count, so the extra bytes are never decoded. */
static bool old_parquet_mr(const pq_reader *r) {
    const char *cb = pq_reader_created_by(r);
    int a = 0, b = 0, c = 0;
    if (strncmp(cb, "parquet-mr", 10)) return false;
    if (sscanf(cb, "parquet-mr version %d.%d.%d", &a, &b, &c) != 3) return true;
    return a < 1 || (a == 1 && (b < 2 || (b == 2 && c < 9)));
}

int pq_reader_read_column(pq_reader *r, int rg, int leaf, pq_column *out, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    if (rg < 0 || rg >= r->fm.n_rgs || leaf < 0 || leaf >= r->s->n_leaves) {
        pq_seterr(err, errlen, "no column chunk (%d, %d)", rg, leaf);
        return -1;
    }
    const pq_colmeta *cm = &r->fm.rgs[rg].cols[leaf];
    const pq_node *nd = &r->s->nodes[r->s->leaves[leaf]];
    owned_list *ol = calloc(1, sizeof *ol);
    if (!ol) {
        pq_seterr(err, errlen, "out of memory");
        return -1;
    }
    out->owned_ = ol;
    out->phys = nd->phys;
    dctx d = {.r = r, .nd = nd, .out = out, .own = ol, .vs = elem_size(nd->phys), .err = err, .errlen = errlen};
    uint8_t *chunk = NULL, *page = NULL;
    int64_t start = cm->data_off;
    if (cm->dict_off > 0 && cm->dict_off < start) start = cm->dict_off;
    if (start < 4 || cm->tcs < 0 || (uint64_t)start > r->size || (uint64_t)cm->tcs > r->size - (uint64_t)start) {
        bad(&d, "chunk outside the file");
        goto fail;
    }
    if (cm->num_values < 0 || (uint64_t)cm->num_values > r->o.max_chunk_values) {
        bad(&d, "chunk value count out of bounds");
        goto fail;
    }
    if (cm->codec != PQ_UNCOMPRESSED && cm->codec != PQ_SNAPPY && cm->codec != PQ_ZSTD) {
        const char *cn = pq_codec_name(cm->codec);
        pq_seterr(err, errlen, "column %s: unsupported codec %s%.0d", nd->name, cn ? cn : "", cn ? 0 : cm->codec);
        goto fail;
    }
    d.cap = (size_t)cm->num_values;
    size_t cap1 = d.cap ? d.cap : 1;
    if ((nd->max_def > 0 && !(out->def = malloc(cap1 * sizeof(int16_t)))) ||
        (nd->max_rep > 0 && !(out->rep = malloc(cap1 * sizeof(int16_t)))) || !(out->v.any = malloc(cap1 * d.vs))) {
        bad(&d, "out of memory");
        goto fail;
    }
    size_t clen = (size_t)cm->tcs;
    if (old_parquet_mr(r)) /* its chunk sizes leave out the dictionary page header (PARQUET-816) */
        clen = (size_t)(r->size - (uint64_t)start < clen + 100 ? r->size - (uint64_t)start : clen + 100);
    chunk = malloc(clen ? clen : 1);
    if (!chunk || own(ol, chunk)) {
        free(chunk);
        bad(&d, "out of memory");
        goto fail;
    }
    if (clen && r->fn(r->ctx, (uint64_t)start, chunk, clen, err, errlen)) goto fail;
    size_t pos = 0;
    uint64_t inflated = 0;
    bool views = nd->phys == PQ_PHYS_BYTE_ARRAY || nd->phys == PQ_PHYS_FIXED;
    while (pos < clen && out->n < d.cap) {
        pq_pagehdr h;
        size_t used;
        if (pq_parse_pagehdr(chunk + pos, clen - pos, &h, &used, err, errlen)) goto fail;
        pos += used;
        if ((size_t)h.csize > clen - pos) {
            bad(&d, "page past end of chunk");
            goto fail;
        }
        if ((size_t)h.usize > r->o.max_page_bytes) {
            bad(&d, "page larger than the limit");
            goto fail;
        }
        const uint8_t *body = chunk + pos;
        pos += (size_t)h.csize;
        if (h.type == 0 || h.type == 2) {
            if ((h.type == 0 && !h.has_data) || (h.type == 2 && !h.has_dict)) {
                bad(&d, "page header without its sub-header");
                goto fail;
            }
            const uint8_t *ub = body;
            if (cm->codec != PQ_UNCOMPRESSED) {
                inflated += (uint64_t)h.usize;
                if (inflated > r->o.max_chunk_bytes) {
                    bad(&d, "chunk decompresses past the limit");
                    goto fail;
                }
                page = malloc(h.usize ? (size_t)h.usize : 1);
                if (!page || ((views || h.type == 2) && own(ol, page))) {
                    free(page);
                    page = NULL;
                    bad(&d, "out of memory");
                    goto fail;
                }
                if (!views && h.type != 2) d.scratch = page;
                if (cm->codec == PQ_ZSTD && zstd_ctx(r)) {
                    bad(&d, "out of memory");
                    goto fail;
                }
                if (pq_decompress(cm->codec, r->zd, body, (size_t)h.csize, page, (size_t)h.usize, err, errlen))
                    goto fail;
                ub = page;
            } else if (h.usize != h.csize) {
                bad(&d, "uncompressed page with two sizes");
                goto fail;
            }
            if (h.type == 2 ? decode_dict_page(&d, &h, ub, (size_t)h.usize)
                            : decode_data_page(&d, &h, ub, (size_t)h.usize, false))
                goto fail;
            free(d.scratch);
            d.scratch = NULL;
        } else if (h.type == 3) {
            if (!h.has_v2) {
                bad(&d, "page header without its sub-header");
                goto fail;
            }
            size_t lv = (size_t)h.rlen + (size_t)h.dlen;
            if (lv > (size_t)h.csize || lv > (size_t)h.usize) {
                bad(&d, "levels larger than the page");
                goto fail;
            }
            const uint8_t *ub = body;
            if (cm->codec != PQ_UNCOMPRESSED && h.is_compressed) {
                inflated += (uint64_t)h.usize;
                if (inflated > r->o.max_chunk_bytes) {
                    bad(&d, "chunk decompresses past the limit");
                    goto fail;
                }
                page = malloc(h.usize ? (size_t)h.usize : 1);
                if (!page || ((views || h.type == 2) && own(ol, page))) {
                    free(page);
                    page = NULL;
                    bad(&d, "out of memory");
                    goto fail;
                }
                if (!views && h.type != 2) d.scratch = page;
                memcpy(page, body, lv);
                if (cm->codec == PQ_ZSTD && zstd_ctx(r)) {
                    bad(&d, "out of memory");
                    goto fail;
                }
                if (pq_decompress(cm->codec, r->zd, body + lv, (size_t)h.csize - lv, page + lv,
                                  (size_t)h.usize - lv, err, errlen))
                    goto fail;
                ub = page;
            } else if (h.usize != h.csize) {
                bad(&d, "uncompressed page with two sizes");
                goto fail;
            }
            if (decode_data_page(&d, &h, ub, (size_t)h.usize, true)) goto fail;
            free(d.scratch);
            d.scratch = NULL;
        }
        /* index pages and unknown page types are skipped */
    }
    if (out->n != d.cap) {
        bad(&d, "chunk has fewer values than it declares");
        goto fail;
    }
    free(d.idx);
    return 0;
fail:
    free(d.idx);
    free(d.scratch);
    pq_column_free(out);
    return -1;
}

void pq_column_free(pq_column *c) {
    if (!c) return;
    owned_list *ol = c->owned_;
    if (ol) {
        for (size_t i = 0; i < ol->n; i++) free(ol->bufs[i]);
        free(ol->bufs);
        free(ol);
    }
    free(c->def);
    free(c->rep);
    free(c->v.any);
    memset(c, 0, sizeof *c);
}
