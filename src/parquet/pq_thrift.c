/*
 * pq_thrift.c — the Thrift compact protocol, by hand: an encoder for the footer and page
 * headers we write, and a bounded decoder for FileMetaData and PageHeader of any writer.
 *
 * The decoder treats its input as hostile: every length is checked against the bytes left,
 * nesting is bounded by PQ_MAX_DEPTH, list sizes are bounded by the bytes left (every element
 * takes at least one byte), so allocations never exceed a small multiple of the footer size.
 */
#include "parquet/pq_internal.h"

void pq_seterr(char *err, size_t errlen, const char *fmt, ...) {
    if (!err || !errlen) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

int pq_text_reserve(pq_text *t, size_t extra) {
    if (t->len + extra + 1 <= t->cap) return 0;
    size_t need = t->len + extra + 1;
    if (need < t->len) return -1;
    size_t cap = t->cap ? t->cap : 256;
    while (cap < need) {
        if (cap > SIZE_MAX / 2) return -1;
        cap *= 2;
    }
    char *d = realloc(t->data, cap);
    if (!d) return -1;
    t->data = d;
    t->cap = cap;
    return 0;
}

int pq_text_append(pq_text *t, const void *p, size_t n) {
    if (pq_text_reserve(t, n)) return -1;
    if (n) memcpy(t->data + t->len, p, n);
    t->len += n;
    t->data[t->len] = 0;
    return 0;
}

int pq_text_str(pq_text *t, const char *s) { return pq_text_append(t, s, strlen(s)); }

int pq_text_printf(pq_text *t, const char *fmt, ...) {
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) return -1;
    if ((size_t)n < sizeof tmp) return pq_text_append(t, tmp, (size_t)n);
    if (pq_text_reserve(t, (size_t)n)) return -1;
    va_start(ap, fmt);
    vsnprintf(t->data + t->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    t->len += (size_t)n;
    return 0;
}

void pq_text_free(pq_text *t) {
    free(t->data);
    t->data = NULL;
    t->len = t->cap = 0;
}

/* ---------------- encoder ---------------- */

void tw_init(pq_tw *w, pq_text *out) {
    memset(w, 0, sizeof *w);
    w->out = out;
}

static void tw_byte(pq_tw *w, uint8_t b) {
    if (pq_text_byte(w->out, b)) w->failed = 1;
}

void tw_varint(pq_tw *w, uint64_t v) {
    uint8_t tmp[10];
    int n = 0;
    while (v >= 0x80) {
        tmp[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    tmp[n++] = (uint8_t)v;
    if (pq_text_append(w->out, tmp, (size_t)n)) w->failed = 1;
}

/* Field header: short form (delta << 4 | type) when the id grows by 1..15. */
void tw_field(pq_tw *w, int16_t id, int type) {
    int16_t last = w->last[w->depth];
    if (id > last && id - last <= 15) {
        tw_byte(w, (uint8_t)(((id - last) << 4) | type));
    } else {
        tw_byte(w, (uint8_t)type);
        tw_varint(w, (uint64_t)pq_zigzag(id));
    }
    w->last[w->depth] = id;
}

void tw_i32(pq_tw *w, int16_t id, int32_t v) {
    tw_field(w, id, TT_I32);
    tw_varint(w, (uint64_t)pq_zigzag(v));
}

void tw_i64(pq_tw *w, int16_t id, int64_t v) {
    tw_field(w, id, TT_I64);
    tw_varint(w, (uint64_t)pq_zigzag(v));
}

void tw_bool(pq_tw *w, int16_t id, bool v) { tw_field(w, id, v ? TT_TRUE : TT_FALSE); }

void tw_bin(pq_tw *w, int16_t id, const void *p, size_t n) {
    tw_field(w, id, TT_BINARY);
    tw_elem_bin(w, p, n);
}

void tw_elem_bin(pq_tw *w, const void *p, size_t n) {
    tw_varint(w, n);
    if (pq_text_append(w->out, p, n)) w->failed = 1;
}

void tw_elem_i32(pq_tw *w, int32_t v) { tw_varint(w, (uint64_t)pq_zigzag(v)); }

void tw_struct_begin(pq_tw *w, int16_t id) {
    if (id) tw_field(w, id, TT_STRUCT);
    if (w->depth + 1 >= PQ_MAX_DEPTH) {
        w->failed = 1;
        return;
    }
    w->last[++w->depth] = 0;
}

void tw_struct_end(pq_tw *w) {
    tw_byte(w, TT_STOP);
    if (w->depth > 0) w->depth--;
}

void tw_list_begin(pq_tw *w, int16_t id, int elem_type, size_t n) {
    tw_field(w, id, TT_LIST);
    if (n < 15) {
        tw_byte(w, (uint8_t)((n << 4) | (size_t)elem_type));
    } else {
        tw_byte(w, (uint8_t)(0xF0 | elem_type));
        tw_varint(w, n);
    }
}

/* ---------------- decoder ---------------- */

static int tr_fail(pq_tr *r, const char *msg) {
    if (!r->err) r->err = msg;
    r->p = r->end;
    return -1;
}

static uint64_t tr_varint(pq_tr *r) {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (r->p >= r->end) {
            tr_fail(r, "truncated varint");
            return 0;
        }
        uint8_t b = *r->p++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) return v;
    }
    tr_fail(r, "varint too long");
    return 0;
}

static int64_t tr_zz(pq_tr *r) {
    uint64_t u = tr_varint(r);
    return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

static int32_t tr_i32(pq_tr *r) {
    int64_t v = tr_zz(r);
    if (v < INT32_MIN || v > INT32_MAX) {
        tr_fail(r, "i32 out of range");
        return 0;
    }
    return (int32_t)v;
}

static pq_bytes tr_bin(pq_tr *r) {
    uint64_t n = tr_varint(r);
    pq_bytes b = {NULL, 0};
    if (r->err) return b;
    if (n > (uint64_t)(r->end - r->p) || n > UINT32_MAX) {
        tr_fail(r, "binary length past end");
        return b;
    }
    b.p = (const char *)r->p;
    b.n = (uint32_t)n;
    r->p += n;
    return b;
}

/* Reads the next field header of the current struct. Returns its type (TT_STOP at the end,
 * -1 on error); *id is the field id. Bool fields carry their value in the type. */
static int tr_field(pq_tr *r, int16_t *last, int16_t *id) {
    if (r->p >= r->end) return tr_fail(r, "truncated struct");
    uint8_t b = *r->p++;
    int type = b & 0x0f;
    if (type == TT_STOP) return TT_STOP;
    int delta = b >> 4;
    if (delta) {
        *id = (int16_t)(*last + delta);
    } else {
        int64_t v = tr_zz(r);
        if (v < INT16_MIN || v > INT16_MAX) return tr_fail(r, "bad field id");
        *id = (int16_t)v;
    }
    *last = *id;
    if (type > TT_STRUCT) return tr_fail(r, "bad field type");
    return type;
}

/* List header: element type and size; the size is bounded by the bytes left. */
static int tr_list(pq_tr *r, int *elem, uint32_t *n) {
    if (r->p >= r->end) return tr_fail(r, "truncated list");
    uint8_t b = *r->p++;
    *elem = b & 0x0f;
    uint64_t sz = b >> 4;
    if (sz == 15) sz = tr_varint(r);
    if (r->err) return -1;
    if (sz > (uint64_t)(r->end - r->p)) return tr_fail(r, "list size past end");
    *n = (uint32_t)sz;
    return 0;
}

static int tr_skip(pq_tr *r, int type);

static int tr_skip_struct(pq_tr *r) {
    if (++r->depth > PQ_MAX_DEPTH) return tr_fail(r, "nesting too deep");
    int16_t last = 0, id;
    int t;
    while ((t = tr_field(r, &last, &id)) > 0)
        if (tr_skip(r, t)) return -1;
    r->depth--;
    return t < 0 ? -1 : 0;
}

/* Skips a value of the given type (unknown fields of any writer). */
static int tr_skip(pq_tr *r, int type) {
    switch (type) {
    case TT_TRUE:
    case TT_FALSE:
        return 0;
    case TT_BYTE:
        if (r->p >= r->end) return tr_fail(r, "truncated byte");
        r->p++;
        return 0;
    case TT_I16:
    case TT_I32:
    case TT_I64:
        tr_varint(r);
        return r->err ? -1 : 0;
    case TT_DOUBLE:
        if (r->end - r->p < 8) return tr_fail(r, "truncated double");
        r->p += 8;
        return 0;
    case TT_BINARY:
        tr_bin(r);
        return r->err ? -1 : 0;
    case TT_LIST:
    case TT_SET: {
        int et;
        uint32_t n;
        if (tr_list(r, &et, &n)) return -1;
        if (++r->depth > PQ_MAX_DEPTH) return tr_fail(r, "nesting too deep");
        for (uint32_t i = 0; i < n; i++) {
            if (et == TT_TRUE || et == TT_FALSE) {
                if (r->p >= r->end) return tr_fail(r, "truncated bool");
                r->p++;
            } else if (tr_skip(r, et)) {
                return -1;
            }
        }
        r->depth--;
        return 0;
    }
    case TT_MAP: {
        uint64_t n = tr_varint(r);
        if (r->err) return -1;
        if (n == 0) return 0;
        if (r->p >= r->end) return tr_fail(r, "truncated map");
        uint8_t kv = *r->p++;
        if (n > (uint64_t)(r->end - r->p)) return tr_fail(r, "map size past end");
        if (++r->depth > PQ_MAX_DEPTH) return tr_fail(r, "nesting too deep");
        for (uint64_t i = 0; i < n; i++)
            if (tr_skip(r, kv >> 4) || tr_skip(r, kv & 15)) return -1;
        r->depth--;
        return 0;
    }
    case TT_STRUCT:
        return tr_skip_struct(r);
    default:
        return tr_fail(r, "bad type");
    }
}

#define TR_STRUCT_LOOP(r, ...)                                           \
    do {                                                                  \
        if (++(r)->depth > PQ_MAX_DEPTH) return tr_fail((r), "nesting too deep"); \
        int16_t last_ = 0, id;                                            \
        int t;                                                            \
        while ((t = tr_field((r), &last_, &id)) > 0) {                    \
            __VA_ARGS__                                                   \
            if ((r)->err) return -1;                                      \
        }                                                                 \
        if (t < 0) return -1;                                             \
        (r)->depth--;                                                     \
    } while (0)

static int tr_i32_field(pq_tr *r, int t, int *out) {
    if (t != TT_I32 && t != TT_I16 && t != TT_BYTE) return tr_fail(r, "field has wrong type");
    if (t == TT_BYTE) {
        if (r->p >= r->end) return tr_fail(r, "truncated byte");
        *out = (int8_t)*r->p++;
        return 0;
    }
    *out = tr_i32(r);
    return r->err ? -1 : 0;
}

static int tr_i64_field(pq_tr *r, int t, int64_t *out) {
    if (t != TT_I64 && t != TT_I32) return tr_fail(r, "field has wrong type");
    *out = tr_zz(r);
    return r->err ? -1 : 0;
}

/* Statistics: prefer min_value/max_value (fields 6/5); the legacy min/max (2/1) are used only
 * for types whose legacy order is the same (signed ints, floats, bool). */
static int tr_stats(pq_tr *r, pq_stats *s) {
    pq_bytes lmin = {0}, lmax = {0};
    bool hlmin = false, hlmax = false;
    s->null_count = -1;
    TR_STRUCT_LOOP(r, {
        if (id == 1 && t == TT_BINARY) {
            lmax = tr_bin(r);
            hlmax = true;
        } else if (id == 2 && t == TT_BINARY) {
            lmin = tr_bin(r);
            hlmin = true;
        } else if (id == 3) {
            if (tr_i64_field(r, t, &s->null_count)) return -1;
        } else if (id == 5 && t == TT_BINARY) {
            s->max = tr_bin(r);
            s->has_max = true;
        } else if (id == 6 && t == TT_BINARY) {
            s->min = tr_bin(r);
            s->has_min = true;
        } else if (tr_skip(r, t)) {
            return -1;
        }
    });
    if (!s->has_min && !s->has_max && hlmin && hlmax) {
        s->min = lmin;
        s->max = lmax;
        s->has_min = s->has_max = true;
        s->legacy = true; /* signed order: usable for numbers only */
    }
    return 0;
}

static int tr_colmeta(pq_tr *r, pq_colmeta *c) {
    c->dict_off = -1;
    c->has_meta = true;
    TR_STRUCT_LOOP(r, {
        switch (id) {
        case 1: if (tr_i32_field(r, t, &c->type)) return -1; break;
        case 2: {
            if (t != TT_LIST) return tr_fail(r, "encodings not a list");
            int et;
            uint32_t n;
            if (tr_list(r, &et, &n)) return -1;
            for (uint32_t i = 0; i < n; i++) {
                int e = tr_i32(r);
                if (r->err) return -1;
                if (c->nenc < 8) c->encs[c->nenc++] = e;
            }
            break;
        }
        case 4: if (tr_i32_field(r, t, &c->codec)) return -1; break;
        case 5: if (tr_i64_field(r, t, &c->num_values)) return -1; break;
        case 6: if (tr_i64_field(r, t, &c->tus)) return -1; break;
        case 7: if (tr_i64_field(r, t, &c->tcs)) return -1; break;
        case 9: if (tr_i64_field(r, t, &c->data_off)) return -1; break;
        case 11: if (tr_i64_field(r, t, &c->dict_off)) return -1; break;
        case 12:
            if (t != TT_STRUCT) return tr_fail(r, "statistics not a struct");
            if (tr_stats(r, &c->st)) return -1;
            break;
        default: if (tr_skip(r, t)) return -1;
        }
    });
    return 0;
}

static int tr_colchunk(pq_tr *r, pq_colmeta *c) {
    TR_STRUCT_LOOP(r, {
        if (id == 3 && t == TT_STRUCT) {
            if (tr_colmeta(r, c)) return -1;
        } else if (id == 1 && t == TT_BINARY) {
            return tr_fail(r, "column chunks in other files are not supported");
        } else if (tr_skip(r, t)) {
            return -1;
        }
    });
    if (!c->has_meta) return tr_fail(r, "column chunk without metadata (encrypted?)");
    return 0;
}

static int tr_rowgroup(pq_tr *r, pq_rowgroup *g) {
    TR_STRUCT_LOOP(r, {
        if (id == 1 && t == TT_LIST) {
            int et;
            uint32_t n;
            if (tr_list(r, &et, &n)) return -1;
            if (et != TT_STRUCT || g->cols) return tr_fail(r, "bad column list");
            g->cols = calloc(n ? n : 1, sizeof *g->cols);
            if (!g->cols) return tr_fail(r, "out of memory");
            g->ncols = (int)n;
            for (uint32_t i = 0; i < n; i++)
                if (tr_colchunk(r, &g->cols[i])) return -1;
        } else if (id == 3) {
            if (tr_i64_field(r, t, &g->num_rows)) return -1;
        } else if (tr_skip(r, t)) {
            return -1;
        }
    });
    return 0;
}

/* TimeUnit union inside TimestampType (and TimeType, the same fields). */
static int tr_timestamp(pq_tr *r, pq_selem *e) {
    TR_STRUCT_LOOP(r, {
        if (id == 1 && (t == TT_TRUE || t == TT_FALSE)) {
            e->ts_utc = (t == TT_TRUE);
        } else if (id == 2 && t == TT_STRUCT) {
            if (++r->depth > PQ_MAX_DEPTH) return tr_fail(r, "nesting too deep");
            int16_t l2 = 0, id2;
            int t2;
            while ((t2 = tr_field(r, &l2, &id2)) > 0) {
                if (id2 >= 1 && id2 <= 3) e->ts_unit = id2;
                if (tr_skip(r, t2)) return -1;
            }
            if (t2 < 0) return -1;
            r->depth--;
        } else if (tr_skip(r, t)) {
            return -1;
        }
    });
    return 0;
}

/* DecimalType { 1: scale, 2: precision }; it overrides SchemaElement.scale/precision. */
static int tr_decimal(pq_tr *r, pq_selem *e) {
    TR_STRUCT_LOOP(r, {
        if (id == 1) {
            if (tr_i32_field(r, t, &e->scale)) return -1;
        } else if (id == 2) {
            if (tr_i32_field(r, t, &e->precision)) return -1;
        } else if (tr_skip(r, t)) {
            return -1;
        }
    });
    return 0;
}

/* IntType { 1: bitWidth (i8), 2: isSigned }. */
static int tr_int(pq_tr *r, pq_selem *e) {
    TR_STRUCT_LOOP(r, {
        if (id == 1) {
            if (tr_i32_field(r, t, &e->int_bits)) return -1;
        } else if (id == 2 && (t == TT_TRUE || t == TT_FALSE)) {
            e->int_signed = (t == TT_TRUE);
        } else if (tr_skip(r, t)) {
            return -1;
        }
    });
    return 0;
}

static int tr_logical(pq_tr *r, pq_selem *e) {
    TR_STRUCT_LOOP(r, {
        if (t != TT_STRUCT) return tr_fail(r, "bad logical type");
        e->logical = id;
        if (id == 10) {
            if (tr_int(r, e)) return -1;
        } else if (id == 8 || id == 7) { /* TimestampType and TimeType share { isAdjustedToUTC, unit } */
            if (tr_timestamp(r, e)) return -1;
        } else if (id == 5) {
            if (tr_decimal(r, e)) return -1;
        } else if (tr_skip(r, t)) {
            return -1;
        }
    });
    return 0;
}

static int tr_selem(pq_tr *r, pq_selem *e) {
    bool has_name = false;
    e->type = e->rep = e->converted = -1;
    TR_STRUCT_LOOP(r, {
        switch (id) {
        case 1: if (tr_i32_field(r, t, &e->type)) return -1; break;
        case 2: if (tr_i32_field(r, t, &e->type_length)) return -1; break;
        case 3: if (tr_i32_field(r, t, &e->rep)) return -1; break;
        case 4:
            if (t != TT_BINARY) return tr_fail(r, "name not a string");
            e->name = tr_bin(r);
            has_name = true;
            break;
        case 5: if (tr_i32_field(r, t, &e->num_children)) return -1; break;
        case 6: if (tr_i32_field(r, t, &e->converted)) return -1; break;
        case 7: if (tr_i32_field(r, t, &e->scale)) return -1; break;
        case 8: if (tr_i32_field(r, t, &e->precision)) return -1; break;
        case 10:
            if (t != TT_STRUCT) return tr_fail(r, "logicalType not a struct");
            if (tr_logical(r, e)) return -1;
            break;
        default: if (tr_skip(r, t)) return -1;
        }
    });
    if (!has_name) return tr_fail(r, "schema element without name");
    return 0;
}

static int tr_kv(pq_tr *r, pq_kvb *kv) {
    TR_STRUCT_LOOP(r, {
        if (id == 1 && t == TT_BINARY) {
            kv->key = tr_bin(r);
        } else if (id == 2 && t == TT_BINARY) {
            kv->value = tr_bin(r);
            kv->has_value = true;
        } else if (tr_skip(r, t)) {
            return -1;
        }
    });
    return 0;
}

static int tr_filemeta(pq_tr *r, pq_filemeta *fm) {
    TR_STRUCT_LOOP(r, {
        int et;
        uint32_t n;
        switch (id) {
        case 1: if (tr_i32_field(r, t, &fm->version)) return -1; break;
        case 2:
            if (t != TT_LIST || fm->schema) return tr_fail(r, "bad schema list");
            if (tr_list(r, &et, &n)) return -1;
            if (et != TT_STRUCT || n > PQ_MAX_NODES) return tr_fail(r, "bad schema list");
            fm->schema = calloc(n ? n : 1, sizeof *fm->schema);
            if (!fm->schema) return tr_fail(r, "out of memory");
            fm->n_schema = (int)n;
            for (uint32_t i = 0; i < n; i++)
                if (tr_selem(r, &fm->schema[i])) return -1;
            break;
        case 3: if (tr_i64_field(r, t, &fm->num_rows)) return -1; break;
        case 4:
            if (t != TT_LIST || fm->rgs) return tr_fail(r, "bad row group list");
            if (tr_list(r, &et, &n)) return -1;
            if (et != TT_STRUCT) return tr_fail(r, "bad row group list");
            fm->rgs = calloc(n ? n : 1, sizeof *fm->rgs);
            if (!fm->rgs) return tr_fail(r, "out of memory");
            fm->n_rgs = (int)n;
            for (uint32_t i = 0; i < n; i++)
                if (tr_rowgroup(r, &fm->rgs[i])) return -1;
            break;
        case 5:
            if (t != TT_LIST || fm->kv) return tr_fail(r, "bad key-value list");
            if (tr_list(r, &et, &n)) return -1;
            if (et != TT_STRUCT) return tr_fail(r, "bad key-value list");
            fm->kv = calloc(n ? n : 1, sizeof *fm->kv);
            if (!fm->kv) return tr_fail(r, "out of memory");
            fm->n_kv = (int)n;
            for (uint32_t i = 0; i < n; i++)
                if (tr_kv(r, &fm->kv[i])) return -1;
            break;
        case 6:
            if (t != TT_BINARY) return tr_fail(r, "created_by not a string");
            fm->created_by = tr_bin(r);
            break;
        case 8: return tr_fail(r, "encrypted files are not supported");
        default: if (tr_skip(r, t)) return -1;
        }
    });
    return 0;
}

void pq_filemeta_free(pq_filemeta *fm) {
    if (fm->rgs)
        for (int i = 0; i < fm->n_rgs; i++) free(fm->rgs[i].cols);
    free(fm->rgs);
    free(fm->schema);
    free(fm->kv);
    memset(fm, 0, sizeof *fm);
}

int pq_parse_filemeta(const uint8_t *buf, size_t n, pq_filemeta *fm, char *err, size_t errlen) {
    memset(fm, 0, sizeof *fm);
    pq_tr r = {buf, buf + n, 0, NULL};
    if (tr_filemeta(&r, fm) || r.err) {
        pq_seterr(err, errlen, "bad footer: %s", r.err ? r.err : "parse error");
        pq_filemeta_free(fm);
        return -1;
    }
    return 0;
}

/* The data/dictionary/v2 sub-header of a PageHeader (field id `which`). */
static int tr_subpage(pq_tr *r, int which, pq_pagehdr *h) {
    TR_STRUCT_LOOP(r, {
        int *dst = NULL;
        if (which == 5) {
            dst = id == 1 ? &h->num_values : id == 2 ? &h->encoding : id == 3 ? &h->def_enc
                : id == 4 ? &h->rep_enc : NULL;
        } else if (which == 7) {
            dst = id == 1 ? &h->num_values : id == 2 ? &h->encoding : NULL;
        } else {
            dst = id == 1 ? &h->num_values : id == 2 ? &h->num_nulls : id == 3 ? &h->num_rows
                : id == 4 ? &h->encoding : id == 5 ? &h->dlen : id == 6 ? &h->rlen : NULL;
            if (id == 7 && (t == TT_TRUE || t == TT_FALSE)) h->is_compressed = (t == TT_TRUE);
        }
        if (dst) {
            if (tr_i32_field(r, t, dst)) return -1;
        } else if (tr_skip(r, t)) {
            return -1;
        }
    });
    return 0;
}

static int tr_pagehdr(pq_tr *r, pq_pagehdr *h) {
    TR_STRUCT_LOOP(r, {
        if (id == 1) {
            if (tr_i32_field(r, t, &h->type)) return -1;
        } else if (id == 2) {
            if (tr_i32_field(r, t, &h->usize)) return -1;
        } else if (id == 3) {
            if (tr_i32_field(r, t, &h->csize)) return -1;
        } else if ((id == 5 || id == 7 || id == 8) && t == TT_STRUCT) {
            if (id == 5) h->has_data = true;
            if (id == 7) h->has_dict = true;
            if (id == 8) h->has_v2 = true;
            if (tr_subpage(r, id, h)) return -1;
        } else if (tr_skip(r, t)) {
            return -1;
        }
    });
    return 0;
}

int pq_parse_pagehdr(const uint8_t *buf, size_t n, pq_pagehdr *h, size_t *used, char *err, size_t errlen) {
    memset(h, 0, sizeof *h);
    h->type = -1;
    h->is_compressed = true;
    pq_tr r = {buf, buf + n, 0, NULL};
    if (tr_pagehdr(&r, h) || r.err) {
        pq_seterr(err, errlen, "bad page header: %s", r.err ? r.err : "parse error");
        return -1;
    }
    if (h->usize < 0 || h->csize < 0 || h->num_values < 0 || h->dlen < 0 || h->rlen < 0) {
        pq_seterr(err, errlen, "bad page header: negative size");
        return -1;
    }
    *used = (size_t)(r.p - buf);
    return 0;
}
