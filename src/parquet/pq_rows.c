/*
 * pq_rows.c — record assembly: turns decoded column chunks (levels + packed values) back into
 * rows, printed as JSON, plus the schema description and the value formatters.
 *
 * Only one level of repetition is assembled (flat columns, structs at any depth, one list of
 * primitives or structs): a row then spans, for each leaf, the entries from one rep == 0 to
 * the next, and every list element is one entry of each leaf under it. Deeper repetition is
 * refused at open with a clear error.
 */
#include <math.h>

#include "parquet/pq_internal.h"

struct pq_rows {
    pq_reader *r;
    const pq_schema *s;
    int nf;
    int *fields;
    pq_column *cols;      /* by leaf; only needed leaves decoded */
    bool *have;
    size_t *entry, *vstart, *vpos, *rlen;
    int64_t nrows, row;
    int rg;
};

/* ---- formatting helpers (the module is standalone, so it has its own calendar code) ---- */

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d) {
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

void pq_format_date(int64_t days, char *out) {
    int64_t y;
    int m, d;
    civil_from_days(days, &y, &m, &d);
    snprintf(out, 16, "%04lld-%02d-%02d", (long long)y, m, d);
}

void pq_format_ts_us(int64_t us, char *out) {
    int64_t days = us / 86400000000LL, rem = us % 86400000000LL;
    if (rem < 0) {
        rem += 86400000000LL;
        days--;
    }
    int64_t y;
    int m, d;
    civil_from_days(days, &y, &m, &d);
    int64_t secs = rem / 1000000, frac = rem % 1000000;
    snprintf(out, 32, "%04lld-%02d-%02dT%02d:%02d:%02d.%06lldZ", (long long)y, m, d, (int)(secs / 3600),
             (int)(secs / 60 % 60), (int)(secs % 60), (long long)frac);
}

/* Valid UTF-8 sequence length at p (1..4), or 0 if the bytes are not valid UTF-8. */
static int utf8_len(const unsigned char *p, size_t n) {
    unsigned c = p[0];
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) return n >= 2 && (p[1] & 0xC0) == 0x80 ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        if (n < 3 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80) return 0;
        if (c == 0xE0 && p[1] < 0xA0) return 0;  /* overlong */
        if (c == 0xED && p[1] >= 0xA0) return 0; /* surrogates */
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (n < 4 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 || (p[3] & 0xC0) != 0x80) return 0;
        if (c == 0xF0 && p[1] < 0x90) return 0;
        if (c == 0xF4 && p[1] >= 0x90) return 0;
        return 4;
    }
    return 0;
}

int pq_json_string(pq_text *out, const char *s, size_t n) {
    const unsigned char *p = (const unsigned char *)s;
    if (pq_text_reserve(out, n + 2)) return -1;
    out->data[out->len++] = '"';
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && p[j] >= 0x20 && p[j] < 0x80 && p[j] != '"' && p[j] != '\\') j++;
        if (j > i && pq_text_append(out, s + i, j - i)) return -1;
        i = j;
        if (i >= n) break;
        unsigned c = p[i];
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            if (pq_text_append(out, esc, 2)) return -1;
            i++;
        } else if (c < 0x20) {
            const char *e = c == '\n' ? "\\n" : c == '\t' ? "\\t" : c == '\r' ? "\\r" : c == '\b' ? "\\b"
                          : c == '\f' ? "\\f" : NULL;
            if (e ? pq_text_str(out, e) : pq_text_printf(out, "\\u%04x", c)) return -1;
            i++;
        } else {
            int l = utf8_len(p + i, n - i);
            if (l == 0) {
                if (pq_text_str(out, "\\ufffd")) return -1;
                i++;
            } else {
                if (pq_text_append(out, s + i, (size_t)l)) return -1;
                i += (size_t)l;
            }
        }
    }
    return pq_text_byte(out, '"');
}

static int json_double(pq_text *out, double v) {
    if (!isfinite(v)) return pq_text_str(out, "null");
    char tmp[40];
    snprintf(tmp, sizeof tmp, "%.15g", v);
    if (strtod(tmp, NULL) != v) snprintf(tmp, sizeof tmp, "%.17g", v);
    return pq_text_str(out, tmp);
}

/* Writes a decimal as an exact JSON number: the magnitude's digits with the point placed
 * `scale` digits from the right ("1234", scale 2 -> 12.34; "5" -> 0.05). */
static int put_decimal(pq_text *out, bool neg, const char *digits, size_t nd, int scale) {
    while (nd > 1 && *digits == '0') { /* strip leading zeros, keep one */
        digits++;
        nd--;
    }
    if (neg && !(nd == 1 && *digits == '0') && pq_text_byte(out, '-')) return -1;
    size_t sc = (size_t)scale;
    if (nd <= sc) { /* 0.00ddd */
        if (pq_text_str(out, "0.")) return -1;
        for (size_t i = nd; i < sc; i++)
            if (pq_text_byte(out, '0')) return -1;
        return pq_text_append(out, digits, nd);
    }
    if (pq_text_append(out, digits, nd - sc)) return -1;
    if (sc == 0) return 0;
    return pq_text_byte(out, '.') || pq_text_append(out, digits + nd - sc, sc) ? -1 : 0;
}

static int emit_decimal_int(pq_text *out, int64_t v, int scale) {
    char d[24];
    uint64_t m = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    int n = snprintf(d, sizeof d, "%llu", (unsigned long long)m);
    return put_decimal(out, v < 0, d, (size_t)n, scale);
}

/* FIXED_LEN_BYTE_ARRAY / BYTE_ARRAY decimals: big-endian two's complement of at most
 * PQ_DECIMAL_MAX_BYTES bytes. The magnitude is divided by 10 byte-wise (schoolbook) for its
 * digits; -1 for a longer value. */
static int emit_decimal_bytes(pq_text *out, const uint8_t *p, size_t n, int scale) {
    uint8_t m[PQ_DECIMAL_MAX_BYTES];
    char d[3 * PQ_DECIMAL_MAX_BYTES + 2];
    if (n > sizeof m) return -1;
    bool neg = n > 0 && (p[0] & 0x80);
    memcpy(m, p, n);
    if (neg) { /* magnitude = ~x + 1 */
        unsigned carry = 1;
        for (size_t i = n; i-- > 0;) {
            unsigned b = (uint8_t)~m[i] + carry;
            m[i] = (uint8_t)b;
            carry = b >> 8;
        }
    }
    size_t nd = sizeof d;
    bool zero;
    do {
        unsigned rem = 0;
        zero = true;
        for (size_t i = 0; i < n; i++) {
            unsigned cur = rem << 8 | m[i];
            m[i] = (uint8_t)(cur / 10);
            rem = cur % 10;
            zero &= m[i] == 0;
        }
        d[--nd] = (char)('0' + rem);
    } while (!zero && nd > 0);
    return put_decimal(out, neg, d + nd, sizeof d - nd, scale);
}

static int emit_decimal(pq_text *out, const pq_node *nd, const pq_column *c, size_t vi) {
    switch (nd->phys) {
    case PQ_PHYS_INT32: return emit_decimal_int(out, c->v.i32[vi], nd->scale);
    case PQ_PHYS_INT64: return emit_decimal_int(out, c->v.i64[vi], nd->scale);
    default: return emit_decimal_bytes(out, (const uint8_t *)c->v.bytes[vi].p, c->v.bytes[vi].n, nd->scale);
    }
}

static int64_t ts_to_us(const pq_node *nd, int64_t v) {
    if (nd->phys == PQ_PHYS_INT96 || nd->ts_unit == 2) return v;
    if (nd->ts_unit == 1) return v * 1000;
    return v >= 0 ? v / 1000 : -((-v + 999) / 1000);
}

/* ---- assembly ---- */

static int first_leaf(const pq_schema *s, int node) {
    while (s->nodes[node].leaf < 0) node = s->nodes[node].children[0];
    return s->nodes[node].leaf;
}

static int collect(pq_rows *rw, int node, char *err, size_t errlen) {
    const pq_node *nd = &rw->s->nodes[node];
    if (nd->leaf >= 0) {
        if (nd->max_rep > 1) {
            pq_seterr(err, errlen, "field %s: nested repetition deeper than one list is not supported", nd->name);
            return -1;
        }
        if (rw->have[nd->leaf]) return 0;
        if (pq_reader_read_column(rw->r, rw->rg, nd->leaf, &rw->cols[nd->leaf], err,
                                  errlen))
            return -1;
        rw->have[nd->leaf] = true;
        return 0;
    }
    for (int c = 0; c < nd->n_children; c++)
        if (collect(rw, nd->children[c], err, errlen)) return -1;
    return 0;
}

/* Counts rows of a decoded leaf and checks they match the row group. */
static int check_rows(pq_rows *rw, int leaf, char *err, size_t errlen) {
    const pq_column *c = &rw->cols[leaf];
    int64_t rows = (int64_t)c->n;
    if (c->rep) {
        rows = 0;
        for (size_t i = 0; i < c->n; i++) rows += c->rep[i] == 0;
    }
    if (rows != rw->nrows) {
        pq_seterr(err, errlen, "column %s has %lld rows, row group says %lld", rw->s->nodes[rw->s->leaves[leaf]].name,
                  (long long)rows, (long long)rw->nrows);
        return -1;
    }
    return 0;
}

pq_rows *pq_rows_open(pq_reader *r, int rg, const int *fields, int nf, char *err, size_t errlen) {
    const pq_schema *s = pq_reader_schema(r);
    if (rg < 0 || rg >= pq_reader_num_row_groups(r)) {
        pq_seterr(err, errlen, "no row group %d", rg);
        return NULL;
    }
    pq_rows *rw = calloc(1, sizeof *rw);
    if (!rw) goto oom;
    rw->r = r;
    rw->s = s;
    rw->nf = nf ? nf : s->n_top;
    rw->fields = malloc((size_t)rw->nf * sizeof(int));
    size_t L = (size_t)s->n_leaves;
    rw->cols = calloc(L, sizeof *rw->cols);
    rw->have = calloc(L, sizeof *rw->have);
    rw->entry = calloc(L, sizeof(size_t));
    rw->vstart = calloc(L, sizeof(size_t));
    rw->vpos = calloc(L, sizeof(size_t));
    rw->rlen = calloc(L, sizeof(size_t));
    if (!rw->fields || !rw->cols || !rw->have || !rw->entry || !rw->vstart || !rw->vpos || !rw->rlen) goto oom;
    for (int i = 0; i < rw->nf; i++) {
        int node = nf ? fields[i] : s->top[i];
        if (node < 0 || node >= s->n || s->nodes[node].parent != -1) {
            pq_seterr(err, errlen, "field %d is not a top-level field", node);
            goto fail;
        }
        rw->fields[i] = node;
    }
    rw->nrows = pq_reader_rg_num_rows(r, rg);
    rw->rg = rg;
    for (int i = 0; i < rw->nf; i++)
        if (collect(rw, rw->fields[i], err, errlen)) goto fail;
    for (size_t l = 0; l < L; l++)
        if (rw->have[l] && check_rows(rw, (int)l, err, errlen)) goto fail;
    for (size_t l = 0; l < L; l++) rw->rlen[l] = SIZE_MAX;
    return rw;
oom:
    pq_seterr(err, errlen, "out of memory");
fail:
    pq_rows_free(rw);
    return NULL;
}

void pq_rows_free(pq_rows *rw) {
    if (!rw) return;
    if (rw->cols)
        for (int l = 0; l < rw->s->n_leaves; l++) pq_column_free(&rw->cols[l]);
    free(rw->cols);
    free(rw->have);
    free(rw->entry);
    free(rw->vstart);
    free(rw->vpos);
    free(rw->rlen);
    free(rw->fields);
    free(rw);
}

int64_t pq_rows_count(const pq_rows *rw) { return rw->nrows; }

/* Entries of leaf in the current row. */
static size_t row_len(pq_rows *rw, int leaf) {
    if (rw->rlen[leaf] != SIZE_MAX) return rw->rlen[leaf];
    const pq_column *c = &rw->cols[leaf];
    size_t e = rw->entry[leaf], k = e + 1;
    if (c->rep)
        while (k < c->n && c->rep[k] != 0) k++;
    if (e >= c->n) k = e; /* past the end: nothing */
    rw->rlen[leaf] = k - e;
    return k - e;
}

static int def_at(pq_rows *rw, int leaf, size_t k) {
    const pq_column *c = &rw->cols[leaf];
    const pq_node *nd = &rw->s->nodes[rw->s->leaves[leaf]];
    size_t i = rw->entry[leaf] + k;
    if (k >= row_len(rw, leaf) || i >= c->n) return -1;
    return c->def ? c->def[i] : nd->max_def;
}

static int emit_leaf(pq_rows *rw, const pq_node *nd, pq_text *out) {
    int leaf = nd->leaf;
    pq_column *c = &rw->cols[leaf];
    size_t vi = rw->vpos[leaf]++;
    if (vi >= c->nvals) return -1;
    char tmp[48];
    switch (nd->kind) {
    case PQ_BOOL: return pq_text_str(out, c->v.b[vi] ? "true" : "false");
    case PQ_INT32: return pq_text_printf(out, "%d", c->v.i32[vi]);
    case PQ_INT64: return pq_text_printf(out, "%lld", (long long)c->v.i64[vi]);
    case PQ_DOUBLE: return json_double(out, c->v.f64[vi]);
    case PQ_FLOAT: return json_double(out, c->v.f32[vi]);
    case PQ_DATE:
        pq_format_date(c->v.i32[vi], tmp);
        return pq_text_printf(out, "\"%s\"", tmp);
    case PQ_TIMESTAMP:
        pq_format_ts_us(ts_to_us(nd, c->v.i64[vi]), tmp);
        return pq_text_printf(out, "\"%s\"", tmp);
    case PQ_DECIMAL: return emit_decimal(out, nd, c, vi);
    case PQ_STRING: case PQ_BINARY: return pq_json_string(out, c->v.bytes[vi].p, c->v.bytes[vi].n);
    default: return pq_text_str(out, "null");
    }
}

static int emit_value(pq_rows *rw, int node, size_t k, bool as_elem, pq_text *out);

static int emit_list(pq_rows *rw, int list, int rnode, int elem, pq_text *out) {
    const pq_schema *s = rw->s;
    int leaf = first_leaf(s, rnode);
    int d = def_at(rw, leaf, 0);
    if (d < 0) return -1;
    if (list >= 0 && s->nodes[list].rep != PQ_REQUIRED && d < s->nodes[list].max_def) return pq_text_str(out, "null");
    if (d < s->nodes[rnode].max_def) return pq_text_str(out, "[]");
    size_t cnt = row_len(rw, leaf);
    if (pq_text_byte(out, '[')) return -1;
    for (size_t i = 0; i < cnt; i++) {
        if (i && pq_text_byte(out, ',')) return -1;
        if (emit_value(rw, elem, i, elem == rnode, out)) return -1;
    }
    return pq_text_byte(out, ']');
}

static int emit_value(pq_rows *rw, int node, size_t k, bool as_elem, pq_text *out) {
    const pq_schema *s = rw->s;
    const pq_node *nd = &s->nodes[node];
    if (nd->rep == PQ_REPEATED && !as_elem) return emit_list(rw, -1, node, node, out);
    if (nd->kind == PQ_LIST && nd->n_children == 1 && s->nodes[nd->children[0]].rep == PQ_REPEATED) {
        int rn = nd->children[0];
        const pq_node *R = &s->nodes[rn];
        int elem = rn;
        if (R->leaf < 0 && R->n_children == 1 && strcmp(R->name, "array")) {
            char tuple[300];
            snprintf(tuple, sizeof tuple, "%s_tuple", nd->name);
            if (strcmp(R->name, tuple)) elem = R->children[0];
        }
        return emit_list(rw, node, rn, elem, out);
    }
    int leaf = first_leaf(s, node);
    int d = def_at(rw, leaf, k);
    if (d < 0) return -1;
    if (d < nd->max_def) return pq_text_str(out, "null");
    if (nd->leaf >= 0) return emit_leaf(rw, nd, out);
    if (pq_text_byte(out, '{')) return -1;
    for (int c = 0; c < nd->n_children; c++) {
        const pq_node *ch = &s->nodes[nd->children[c]];
        if ((c && pq_text_byte(out, ',')) || pq_json_string(out, ch->name, strlen(ch->name)) ||
            pq_text_byte(out, ':'))
            return -1;
        if (emit_value(rw, nd->children[c], k, false, out)) return -1;
    }
    return pq_text_byte(out, '}');
}

int pq_rows_field_json(pq_rows *rw, int i, pq_text *out, char *err, size_t errlen) {
    if (i < 0 || i >= rw->nf || rw->row >= rw->nrows) {
        pq_seterr(err, errlen, "no field %d in row %lld", i, (long long)rw->row);
        return -1;
    }
    if (emit_value(rw, rw->fields[i], 0, false, out)) {
        pq_seterr(err, errlen, "corrupt levels in row %lld", (long long)rw->row);
        return -1;
    }
    return 0;
}

bool pq_rows_field_int(pq_rows *rw, int i, int64_t *out) {
    if (i < 0 || i >= rw->nf || rw->row >= rw->nrows) return false;
    const pq_node *nd = &rw->s->nodes[rw->fields[i]];
    if (nd->leaf < 0 || nd->max_rep > 0) return false;
    const pq_column *c = &rw->cols[nd->leaf];
    size_t e = rw->entry[nd->leaf];
    if (e >= c->n || (c->def && c->def[e] != nd->max_def)) return false;
    size_t vi = rw->vstart[nd->leaf];
    if (vi >= c->nvals) return false;
    switch (nd->phys) {
    case PQ_PHYS_INT32: *out = c->v.i32[vi]; return true;
    case PQ_PHYS_INT64: case PQ_PHYS_INT96:
        *out = nd->kind == PQ_TIMESTAMP ? ts_to_us(nd, c->v.i64[vi]) : c->v.i64[vi];
        return true;
    default: return false;
    }
}

int pq_rows_next(pq_rows *rw, char *err, size_t errlen) {
    if (rw->row >= rw->nrows) {
        pq_seterr(err, errlen, "no more rows");
        return -1;
    }
    for (int l = 0; l < rw->s->n_leaves; l++) {
        if (!rw->have[l]) continue;
        const pq_column *c = &rw->cols[l];
        const pq_node *nd = &rw->s->nodes[rw->s->leaves[l]];
        size_t len = row_len(rw, l), e = rw->entry[l], present = len;
        if (c->def) {
            present = 0;
            for (size_t k = e; k < e + len && k < c->n; k++) present += c->def[k] == nd->max_def;
        }
        rw->entry[l] += len;
        rw->vstart[l] += present;
        rw->vpos[l] = rw->vstart[l];
        rw->rlen[l] = SIZE_MAX;
    }
    rw->row++;
    return 0;
}

/* ---- schema description ---- */

static const char *phys_name(int p) {
    static const char *n[] = {"boolean", "int32", "int64", "int96", "float", "double", "binary", "fixed_len_byte_array"};
    return p >= 0 && p <= 7 ? n[p] : "?";
}

static int describe_node(const pq_schema *s, int i, int depth, pq_text *out) {
    const pq_node *nd = &s->nodes[i];
    static const char *reps[] = {"required", "optional", "repeated"};
    if (pq_text_printf(out, "%*s%s ", 2 * depth, "", reps[nd->rep])) return -1;
    if (nd->leaf < 0) {
        if (pq_text_printf(out, "group %s%s {\n", nd->name, nd->kind == PQ_LIST ? " (LIST)" : "")) return -1;
        for (int c = 0; c < nd->n_children; c++)
            if (describe_node(s, nd->children[c], depth + 1, out)) return -1;
        return pq_text_printf(out, "%*s}\n", 2 * depth, "");
    }
    const char *ann = "";
    char tmp[80];
    if (nd->kind == PQ_STRING) ann = " (STRING)";
    else if (nd->kind == PQ_DATE) ann = " (DATE)";
    else if (nd->kind == PQ_DECIMAL) {
        snprintf(tmp, sizeof tmp, " (DECIMAL(%d,%d))", nd->precision, nd->scale);
        ann = tmp;
    }
    else if (nd->kind == PQ_TIMESTAMP && nd->phys != PQ_PHYS_INT96) {
        snprintf(tmp, sizeof tmp, " (TIMESTAMP(%s,%s))", nd->ts_unit == 1 ? "MILLIS" : nd->ts_unit == 3 ? "NANOS" : "MICROS",
                 nd->ts_utc ? "true" : "false");
        ann = tmp;
    }
    if (nd->phys == PQ_PHYS_FIXED)
        return pq_text_printf(out, "fixed_len_byte_array(%d) %s%s;\n", nd->type_length, nd->name, ann);
    return pq_text_printf(out, "%s %s%s;\n", phys_name(nd->phys), nd->name, ann);
}

int pq_reader_describe(const pq_reader *r, pq_text *out) {
    const pq_schema *s = pq_reader_schema(r);
    if (pq_text_str(out, "message schema {\n")) return -1;
    for (int i = 0; i < s->n_top; i++)
        if (describe_node(s, s->top[i], 1, out)) return -1;
    if (pq_text_str(out, "}\n")) return -1;
    if (pq_text_printf(out, "created_by: %s\nversion: %d\nnum_rows: %lld\nrow_groups: %d\n", pq_reader_created_by(r),
                       pq_reader_version(r), (long long)pq_reader_num_rows(r), pq_reader_num_row_groups(r)))
        return -1;
    for (int i = 0; i < pq_reader_num_kv(r); i++) {
        const char *k, *v;
        pq_reader_kv(r, i, &k, &v);
        if (pq_text_str(out, "key_value: ") || pq_json_string(out, k, strlen(k)) || pq_text_str(out, " = ") ||
            (v ? pq_json_string(out, v, strlen(v)) : pq_text_str(out, "null")) || pq_text_byte(out, '\n'))
            return -1;
    }
    static const char *codecs[] = {"UNCOMPRESSED", "SNAPPY", "GZIP", "LZO", "BROTLI", "LZ4", "ZSTD", "LZ4_RAW"};
    for (int g = 0; g < pq_reader_num_row_groups(r); g++) {
        if (pq_text_printf(out, "row_group %d: rows %lld\n", g, (long long)pq_reader_rg_num_rows(r, g))) return -1;
        for (int l = 0; l < s->n_leaves; l++) {
            pq_chunk_info ci;
            char path[512];
            pq_reader_chunk_info(r, g, l, &ci);
            pq_schema_leaf_path(s, l, path, sizeof path);
            if (pq_text_printf(out, "  %s: %s values %lld nulls %lld size %lld/%lld encodings", path,
                               ci.codec >= 0 && ci.codec <= 7 ? codecs[ci.codec] : "?", (long long)ci.num_values,
                               (long long)ci.null_count, (long long)ci.compressed_size, (long long)ci.uncompressed_size))
                return -1;
            for (int e = 0; e < ci.n_encodings; e++)
                if (pq_text_printf(out, " %d", ci.encodings[e])) return -1;
            if (pq_text_byte(out, '\n')) return -1;
        }
    }
    return 0;
}
