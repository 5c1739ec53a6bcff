/*
 * pq_read.c — the Parquet reader: footer, schema, and column chunk decoding.
 *
 * Every size read from the file is checked before use: the footer against the file size,
 * a chunk's byte range against the file, a page against the chunk and max_page_bytes, the
 * values of a page against the chunk's declared num_values (itself capped by
 * max_chunk_values), and every encoded run against the bytes of its page.
 */
#include "parquet/pq_internal.h"

enum { ENC_PLAIN = 0, ENC_PLAIN_DICT = 2, ENC_RLE = 3, ENC_BIT_PACKED = 4, ENC_DELTA_BINARY = 5,
       ENC_DELTA_LENGTH = 6, ENC_DELTA_BYTES = 7, ENC_RLE_DICT = 8, ENC_BSS = 9 };

struct pq_reader {
    pq_read_fn fn;
    void *ctx;
    uint64_t size;
    pq_read_opts o;
    uint8_t *footer;
    pq_filemeta fm;
    pq_schema *s;
    pq_decomp *dc;      /* codec contexts, created on first use */
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
    pq_decomp_free(r->dc);
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
    int rg, leaf;
    pq_column *out;
    owned_list *own;
    size_t cap;              /* entries allocated (= declared num_values) */
    pq_bytes *dict_b;        /* dictionary values */
    void *dict;              /* fixed-width dictionary (elem size vs) */
    size_t ndict;
    size_t vs;               /* size of one decoded value */
    uint32_t *idx;
    void *scratch;           /* page buffer freed after decoding (fixed-width values) */
    pq_bytes prev;           /* DELTA_BYTE_ARRAY: the last value so far (prefixes span pages) */
    uint64_t budget;         /* DELTA_BYTE_ARRAY: bytes its values may still expand to */
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

static const char *phys_name(int phys) {
    static const char *const names[] = {"BOOLEAN", "INT32", "INT64", "INT96", "FLOAT", "DOUBLE", "BYTE_ARRAY",
                                        "FIXED_LEN_BYTE_ARRAY"};
    return phys >= 0 && phys <= PQ_PHYS_FIXED ? names[phys] : "?";
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

/* The encodings of pq_encodings.c, for the physical types the spec allows them on. */
static int decode_other(dctx *d, int enc, const uint8_t *p, size_t len, size_t n, char *dst) {
    int phys = d->nd->phys;
    const char *why = NULL;
    size_t used;
    if (enc == ENC_DELTA_BINARY && (phys == PQ_PHYS_INT32 || phys == PQ_PHYS_INT64))
        return pq_delta_decode(p, len, n, phys == PQ_PHYS_INT32, dst, &used, &why) ? bad(d, why) : 0;
    if (enc == ENC_DELTA_LENGTH && phys == PQ_PHYS_BYTE_ARRAY)
        return pq_delta_length_decode(p, len, n, (pq_bytes *)dst, &why) ? bad(d, why) : 0;
    if (enc == ENC_DELTA_BYTES && (phys == PQ_PHYS_BYTE_ARRAY || phys == PQ_PHYS_FIXED)) {
        uint8_t *store;
        pq_bytes *ob = (pq_bytes *)dst;
        if (pq_delta_bytes_decode(p, len, n, &d->prev, &d->budget, ob, &store, &why)) return bad(d, why);
        if (own(d->own, store)) {
            free(store);
            return bad(d, "out of memory");
        }
        for (size_t i = 0; phys == PQ_PHYS_FIXED && i < n; i++)
            if (ob[i].n != (uint32_t)d->nd->type_length) return bad(d, "fixed-length value of another length");
        return 0;
    }
    if (enc == ENC_BSS && phys != PQ_PHYS_BOOLEAN && phys != PQ_PHYS_BYTE_ARRAY && phys != PQ_PHYS_INT96) {
        if (phys != PQ_PHYS_FIXED) return pq_bss_decode(p, len, n, d->vs, (uint8_t *)dst, &why) ? bad(d, why) : 0;
        size_t tl = (size_t)d->nd->type_length;
        if (n > len / tl) return bad(d, "byte stream split values past end of page");
        uint8_t *buf = malloc(n * tl + 1);
        if (!buf || own(d->own, buf)) {
            free(buf);
            return bad(d, "out of memory");
        }
        if (pq_bss_decode(p, len, n, tl, buf, &why)) return bad(d, why);
        for (size_t i = 0; i < n; i++) ((pq_bytes *)dst)[i] = (pq_bytes){(const char *)buf + i * tl, (uint32_t)tl};
        return 0;
    }
    const char *name = pq_encoding_name(enc);
    if (name) pq_seterr(d->err, d->errlen, "column %s: unsupported encoding %s for %s", d->nd->name, name,
                        phys_name(phys));
    else pq_seterr(d->err, d->errlen, "column %s: unknown encoding %d", d->nd->name, enc);
    return -1;
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
    return decode_other(d, enc, p, len, n, dst);
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
    if (h->encoding != ENC_PLAIN && h->encoding != ENC_PLAIN_DICT) {
        const char *name = pq_encoding_name(h->encoding);
        if (name) pq_seterr(d->err, d->errlen, "column %s: unsupported dictionary page encoding %s", d->nd->name, name);
        else pq_seterr(d->err, d->errlen, "column %s: unknown dictionary page encoding %d", d->nd->name, h->encoding);
        return -1;
    }
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

/* Makes *ub point at the uncompressed body of a data or dictionary page: the body itself when
 * the chunk is uncompressed (or a v2 page says its values are not), else a buffer of
 * h->usize bytes holding the first lv bytes as they are (v2 levels are never compressed) and
 * the rest decompressed. The buffer is owned by the column when values are views into it
 * (byte arrays, dictionaries), else it is d->scratch, freed after the page is decoded. */
static int page_body(dctx *d, const pq_pagehdr *h, const uint8_t *body, size_t lv, bool compressed,
                     uint64_t *inflated, const uint8_t **ub) {
    pq_reader *r = d->r;
    int codec = r->fm.rgs[d->rg].cols[d->leaf].codec;
    *ub = body;
    if (codec == PQ_UNCOMPRESSED || !compressed) {
        if (h->usize != h->csize) return bad(d, "uncompressed page with two sizes");
        return 0;
    }
    *inflated += (uint64_t)h->usize;
    if (*inflated > r->o.max_chunk_bytes) return bad(d, "chunk decompresses past the limit");
    if (!r->dc && !(r->dc = pq_decomp_new())) return bad(d, "out of memory");
    bool keep = d->nd->phys == PQ_PHYS_BYTE_ARRAY || d->nd->phys == PQ_PHYS_FIXED || h->type == 2;
    uint8_t *page = malloc(h->usize ? (size_t)h->usize : 1);
    if (!page || (keep && own(d->own, page))) {
        free(page);
        return bad(d, "out of memory");
    }
    if (!keep) d->scratch = page;
    memcpy(page, body, lv);
    if (pq_decompress(r->dc, codec, body + lv, (size_t)h->csize - lv, page + lv, (size_t)h->usize - lv, d->err,
                      d->errlen))
        return -1;
    *ub = page;
    return 0;
}

/* Decodes one page of the chunk (data v1, v2 or dictionary; other page types are skipped). */
static int read_page(dctx *d, const pq_pagehdr *h, const uint8_t *body, uint64_t *inflated) {
    const uint8_t *ub;
    if (h->type == 0 || h->type == 2) {
        if ((h->type == 0 && !h->has_data) || (h->type == 2 && !h->has_dict))
            return bad(d, "page header without its sub-header");
        if (page_body(d, h, body, 0, true, inflated, &ub)) return -1;
        return h->type == 2 ? decode_dict_page(d, h, ub, (size_t)h->usize)
                            : decode_data_page(d, h, ub, (size_t)h->usize, false);
    }
    if (h->type == 3) {
        if (!h->has_v2) return bad(d, "page header without its sub-header");
        size_t lv = (size_t)h->rlen + (size_t)h->dlen;
        if (lv > (size_t)h->csize || lv > (size_t)h->usize) return bad(d, "levels larger than the page");
        if (page_body(d, h, body, lv, h->is_compressed, inflated, &ub)) return -1;
        return decode_data_page(d, h, ub, (size_t)h->usize, true);
    }
    return 0; /* index pages and unknown page types */
}

/* Checks the chunk's metadata against the file and the caps before anything is allocated. */
static int check_chunk(dctx *d, const pq_colmeta *cm, int64_t *start) {
    *start = cm->data_off;
    if (cm->dict_off > 0 && cm->dict_off < *start) *start = cm->dict_off;
    if (*start < 4 || cm->tcs < 0 || (uint64_t)*start > d->r->size ||
        (uint64_t)cm->tcs > d->r->size - (uint64_t)*start)
        return bad(d, "chunk outside the file");
    if (cm->num_values < 0 || (uint64_t)cm->num_values > d->r->o.max_chunk_values)
        return bad(d, "chunk value count out of bounds");
    char why[64];
    if (pq_codec_check(cm->codec, why, sizeof why)) return bad(d, why);
    return 0;
}

/* parquet-mr up to 1.2.8 left the dictionary page header out of total_compressed_size
 * (PARQUET-816, IMPALA-694): its chunks run up to 100 bytes past their declared end. Like
 * parquet-cpp, a file from such a writer (or from a parquet-mr that gives no "version X.Y.Z")
 * has up to 100 more bytes of each chunk read, within the file; the pages stop at the
 * declared value count, so the extra bytes are never decoded as a page of their own. */
static uint64_t old_mr_padding(const pq_reader *r, uint64_t end) {
    const char *cb = pq_reader_created_by(r);
    if (strncmp(cb, "parquet-mr", 10)) return 0;
    const char *v = strstr(cb, "version ");
    int a = 0, b = 0, c = 0;
    if (v && sscanf(v + 8, "%d.%d.%d", &a, &b, &c) >= 2 && (a > 1 || (a == 1 && (b > 2 || (b == 2 && c >= 9)))))
        return 0;
    return r->size - end < 100 ? r->size - end : 100;
}

/* Reads the chunk's bytes and decodes its pages until the declared value count is reached. */
static int read_chunk(dctx *d, const pq_colmeta *cm, int64_t start) {
    pq_reader *r = d->r;
    size_t clen = (size_t)cm->tcs;
    clen += (size_t)old_mr_padding(r, (uint64_t)start + clen);
    uint8_t *chunk = malloc(clen ? clen : 1);
    if (!chunk || own(d->own, chunk)) {
        free(chunk);
        return bad(d, "out of memory");
    }
    if (clen && r->fn(r->ctx, (uint64_t)start, chunk, clen, d->err, d->errlen)) return -1;
    size_t pos = 0;
    uint64_t inflated = 0;
    while (pos < clen && d->out->n < d->cap) {
        pq_pagehdr h;
        size_t used;
        if (pq_parse_pagehdr(chunk + pos, clen - pos, &h, &used, d->err, d->errlen)) return -1;
        pos += used;
        if ((size_t)h.csize > clen - pos) return bad(d, "page past end of chunk");
        if ((size_t)h.usize > r->o.max_page_bytes) {
            pq_seterr(d->err, d->errlen, "column %s: a page of %d bytes passes the reader's limit of %zu bytes",
                      d->nd->name, h.usize, r->o.max_page_bytes);
            return -1;
        }
        const uint8_t *body = chunk + pos;
        pos += (size_t)h.csize;
        int rc = read_page(d, &h, body, &inflated);
        free(d->scratch);
        d->scratch = NULL;
        if (rc) return -1;
    }
    if (d->out->n != d->cap) return bad(d, "chunk has fewer values than it declares");
    return 0;
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
    dctx d = {.r = r, .nd = nd, .rg = rg, .leaf = leaf, .out = out, .own = ol, .vs = elem_size(nd->phys),
              .budget = r->o.max_chunk_bytes, .err = err, .errlen = errlen};
    size_t cap1 = cm->num_values > 0 ? (size_t)cm->num_values : 1;
    int64_t start = 0;
    /* A chunk of no values has nothing to read: writers leave its offsets at 0
     * (column_chunk_key_value_metadata.parquet), so they are not checked either. */
    if (cm->num_values != 0 && check_chunk(&d, cm, &start)) goto fail;
    d.cap = cm->num_values > 0 ? (size_t)cm->num_values : 0;
    if ((nd->max_def > 0 && !(out->def = malloc(cap1 * sizeof(int16_t)))) ||
        (nd->max_rep > 0 && !(out->rep = malloc(cap1 * sizeof(int16_t)))) || !(out->v.any = malloc(cap1 * d.vs))) {
        bad(&d, "out of memory");
        goto fail;
    }
    if (d.cap && read_chunk(&d, cm, start)) goto fail;
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
