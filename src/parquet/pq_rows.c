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

/*
 * pq_rows.c — record assembly: turns decoded column chunks (levels + packed values) back into
 * rows, printed as JSON (the mapping of every type is in parquet.h and docs/parquet.md), plus
 * the schema description.
 *
 * Assembly follows the levels at any depth (Dremel): the entries of a row are, for each leaf,
 * those from one rep == 0 to the next; an instance of a node bounded by repetition level k
 * spans, in every leaf under it, one entry and the entries after it whose rep > k; a repeated
 * node R starts a new element at each entry whose rep == R's max_rep. Every emitted value is
 * looked up by its entry (vidx), and after each field the cursors must have consumed exactly
 * the row's entries, so inconsistent levels are an error, never shifted values.
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
    size_t *entry, *rlen; /* first entry of the current row, its entry count (SIZE_MAX: unknown) */
    size_t *pos;          /* cursor while a field is emitted */
    uint32_t **vidx;      /* value index of each entry (NULL: entry i is value i) */
    int64_t nrows, row;
    int rg;
    pq_binary_form bin;
    const char *why;      /* what was wrong when an emission failed */
    bool refused;         /* why names a value cat will not print (not corrupt levels) */
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

/* YYYY-MM-DD; a year outside 0000..9999 carries its sign (ISO 8601 expanded: "+52951-07-27"),
 * so far dates (Rust i64 timestamps, Spark INT96) read back unambiguously. */
static int fmt_ymd(char *out, size_t n, int64_t days) {
    int64_t y;
    int m, d;
    civil_from_days(days, &y, &m, &d);
    return snprintf(out, n, y >= 0 && y <= 9999 ? "%04lld-%02d-%02d" : "%+05lld-%02d-%02d", (long long)y, m, d);
}

void pq_format_date(int64_t days, char *out) { fmt_ymd(out, 16, days); }

/* v in units of 1/per second since the epoch (per 1000, 1e6, 1e9) as RFC 3339: 6 fraction
 * digits (9 for nanoseconds), "Z" when the instant is UTC-adjusted. Floor division keeps
 * instants before 1970 right. out >= 48 bytes. */
static void fmt_ts(int64_t v, int64_t per, bool utc, char *out) {
    int64_t q = v / per, r = v % per;
    if (r < 0) {
        r += per;
        q--;
    }
    int64_t days = q / 86400, sod = q % 86400;
    if (sod < 0) {
        sod += 86400;
        days--;
    }
    int64_t y;
    int m, d;
    civil_from_days(days, &y, &m, &d);
    snprintf(out, 48, y >= 0 && y <= 9999 ? "%04lld-%02d-%02dT%02d:%02d:%02d.%0*lld%s" : "%+05lld-%02d-%02dT%02d:%02d:%02d.%0*lld%s",
             (long long)y, m, d, (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60), per == 1000000000 ? 9 : 6,
             (long long)(per == 1000 ? r * 1000 : r), utc ? "Z" : "");
}

void pq_format_ts_us(int64_t us, char *out) {
    char tmp[48];
    fmt_ts(us, 1000000, true, tmp); /* at most 31 bytes: an int64 of microseconds spans +-294247 years */
    memcpy(out, tmp, strlen(tmp) + 1);
}

static int64_t unit_per_sec(int unit) { return unit == 1 ? 1000 : unit == 3 ? 1000000000 : 1000000; }

int pq_utf8_len(const void *s, size_t n) {
    const unsigned char *p = s;
    if (n == 0) return 0;
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
            int l = pq_utf8_len(p + i, n - i);
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

/* NaN and the infinities are not JSON numbers: they print as the strings "NaN", "Infinity" and
 * "-Infinity", which no null and no number can be mistaken for. */
static int json_special(pq_text *out, double v) {
    return pq_text_str(out, isnan(v) ? "\"NaN\"" : v > 0 ? "\"Infinity\"" : "\"-Infinity\"");
}

static int json_double(pq_text *out, double v) {
    if (!isfinite(v)) return json_special(out, v);
    char tmp[40];
    for (int p = 15; p <= 17; p++) { /* the shortest of 15..17 digits that reads back exactly */
        snprintf(tmp, sizeof tmp, "%.*g", p, v);
        if (strtod(tmp, NULL) == v) break;
    }
    return pq_text_str(out, tmp);
}

/* A FLOAT prints as the shortest decimal that reads back as the same float32 ("0.1", not the
 * double 0.100000001490116). */
static int json_float(pq_text *out, float v) {
    if (!isfinite(v)) return json_special(out, v);
    char tmp[40];
    for (int p = 6; p <= 9; p++) {
        snprintf(tmp, sizeof tmp, "%.*g", p, (double)v);
        if (strtof(tmp, NULL) == v) break;
    }
    return pq_text_str(out, tmp);
}

/* IEEE 754 binary16 (FLOAT16 logical type, little-endian in the file) as a double (exact). */
static double half_to_double(const uint8_t *p) {
    unsigned h = (unsigned)p[0] | (unsigned)p[1] << 8;
    int e = (int)(h >> 10 & 0x1f), m = (int)(h & 0x3ff);
    double v = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp(m | 0x400, e - 25);
    return h & 0x8000 ? -v : v;
}

/* The float16 nearest to x (round half to even, overflow to infinity), as a double: the check
 * that a short decimal reads back as the same half. */
static double half_round(double x) {
    if (!isfinite(x) || x == 0) return x;
    int e;
    frexp(x, &e);
    int q = e - 11 < -24 ? -24 : e - 11; /* 11 significant bits; subnormals step by 2^-24 */
    double r = ldexp(nearbyint(ldexp(x, -q)), q);
    return fabs(r) > 65504 ? copysign(INFINITY, x) : r;
}

static int json_half(pq_text *out, const uint8_t *p) {
    double v = half_to_double(p);
    if (!isfinite(v)) return json_special(out, v);
    char tmp[40];
    for (int d = 1; d <= 17; d++) {
        snprintf(tmp, sizeof tmp, "%.*g", d, v);
        if (half_round(strtod(tmp, NULL)) == v) break;
    }
    return pq_text_str(out, tmp);
}

/* Binary values: base64 (RFC 4648, padded) by default, or lowercase hex. */
static int json_binary(pq_text *out, const uint8_t *p, size_t n, pq_binary_form form) {
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    static const char hex[] = "0123456789abcdef";
    if (pq_text_reserve(out, 2 * n + 8) || pq_text_byte(out, '"')) return -1;
    char *o = out->data + out->len;
    if (form == PQ_BIN_HEX) {
        for (size_t i = 0; i < n; i++) {
            *o++ = hex[p[i] >> 4];
            *o++ = hex[p[i] & 15];
        }
    } else {
        for (size_t i = 0; i < n; i += 3) {
            uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
            *o++ = b64[v >> 18];
            *o++ = b64[v >> 12 & 63];
            *o++ = i + 1 < n ? b64[v >> 6 & 63] : '=';
            *o++ = i + 2 < n ? b64[v & 63] : '=';
        }
    }
    out->len = (size_t)(o - out->data);
    return pq_text_byte(out, '"');
}

static int json_uuid(pq_text *out, const uint8_t *p) {
    return pq_text_printf(out, "\"%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x\"", p[0], p[1],
                          p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10], p[11], p[12], p[13], p[14], p[15]);
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

/* ---- assembly ---- */

static int first_leaf(const pq_schema *s, int node) {
    while (s->nodes[node].leaf < 0) node = s->nodes[node].children[0];
    return s->nodes[node].leaf;
}

/* Leaves are numbered depth-first, so a subtree's leaves are first_leaf..last_leaf. */
static int last_leaf(const pq_schema *s, int node) {
    while (s->nodes[node].leaf < 0) node = s->nodes[node].children[s->nodes[node].n_children - 1];
    return s->nodes[node].leaf;
}

/* Schema shapes whose values no reader agrees on are refused before any row is printed: a MAP
 * key must be required (the spec; pyarrow refuses the file too). */
static int check_shape(const pq_schema *s, int node, char *err, size_t errlen) {
    const pq_node *nd = &s->nodes[node];
    if (nd->kind == PQ_MAP && nd->n_children == 1) {
        const pq_node *kv = &s->nodes[nd->children[0]];
        if (kv->rep == PQ_REPEATED && kv->n_children >= 1 && s->nodes[kv->children[0]].rep != PQ_REQUIRED) {
            pq_seterr(err, errlen, "field %s: a MAP whose key is not required is not supported (the spec requires it)",
                      nd->name);
            return -1;
        }
    }
    for (int c = 0; c < nd->n_children; c++)
        if (check_shape(s, nd->children[c], err, errlen)) return -1;
    return 0;
}

static int collect(pq_rows *rw, int node, char *err, size_t errlen) {
    const pq_schema *s = rw->s;
    for (int l = first_leaf(s, node); l <= last_leaf(s, node); l++) {
        if (rw->have[l]) continue;
        if (pq_reader_read_column(rw->r, rw->rg, l, &rw->cols[l], err, errlen)) return -1;
        rw->have[l] = true;
    }
    return 0;
}

/* Counts rows of a decoded leaf, checks they match the row group, and indexes its values by
 * entry (only a leaf with nulls needs the index). */
static int index_leaf(pq_rows *rw, int leaf, char *err, size_t errlen) {
    const pq_column *c = &rw->cols[leaf];
    const pq_node *nd = &rw->s->nodes[rw->s->leaves[leaf]];
    int64_t rows = (int64_t)c->n;
    if (c->rep) {
        rows = 0;
        for (size_t i = 0; i < c->n; i++) rows += c->rep[i] == 0;
    }
    if (rows != rw->nrows) {
        pq_seterr(err, errlen, "column %s has %lld rows, row group says %lld", nd->name, (long long)rows,
                  (long long)rw->nrows);
        return -1;
    }
    if (!c->def) return 0;
    uint32_t *v = malloc((c->n + 1) * sizeof *v);
    if (!v) {
        pq_seterr(err, errlen, "out of memory");
        return -1;
    }
    uint32_t k = 0;
    for (size_t i = 0; i < c->n; i++) {
        v[i] = k;
        k += c->def[i] == nd->max_def;
    }
    v[c->n] = k;
    rw->vidx[leaf] = v;
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
    rw->rlen = calloc(L, sizeof(size_t));
    rw->pos = calloc(L, sizeof(size_t));
    rw->vidx = calloc(L, sizeof *rw->vidx);
    if (!rw->fields || !rw->cols || !rw->have || !rw->entry || !rw->rlen || !rw->pos || !rw->vidx) goto oom;
    for (int i = 0; i < rw->nf; i++) {
        int node = nf ? fields[i] : s->top[i];
        if (node < 0 || node >= s->n || s->nodes[node].parent != -1) {
            pq_seterr(err, errlen, "field %d is not a top-level field", node);
            goto fail;
        }
        rw->fields[i] = node;
        if (check_shape(s, node, err, errlen)) goto fail;
    }
    rw->nrows = pq_reader_rg_num_rows(r, rg);
    rw->rg = rg;
    for (int i = 0; i < rw->nf; i++)
        if (collect(rw, rw->fields[i], err, errlen)) goto fail;
    for (size_t l = 0; l < L; l++)
        if (rw->have[l] && index_leaf(rw, (int)l, err, errlen)) goto fail;
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
    for (int l = 0; l < rw->s->n_leaves; l++) {
        if (rw->cols) pq_column_free(&rw->cols[l]);
        if (rw->vidx) free(rw->vidx[l]);
    }
    free(rw->cols);
    free(rw->have);
    free(rw->entry);
    free(rw->rlen);
    free(rw->pos);
    free(rw->vidx);
    free(rw->fields);
    free(rw);
}

int64_t pq_rows_count(const pq_rows *rw) { return rw->nrows; }

void pq_rows_set_binary(pq_rows *rw, pq_binary_form form) { rw->bin = form; }

/* One past the last entry of leaf in the current row. */
static size_t row_end(pq_rows *rw, int leaf) {
    if (rw->rlen[leaf] == SIZE_MAX) {
        const pq_column *c = &rw->cols[leaf];
        size_t e = rw->entry[leaf], k = e + 1;
        if (c->rep)
            while (k < c->n && c->rep[k] != 0) k++;
        rw->rlen[leaf] = e >= c->n ? 0 : k - e;
    }
    return rw->entry[leaf] + rw->rlen[leaf];
}

static int corrupt(pq_rows *rw, const char *why) {
    rw->why = why;
    return -1;
}

/* A STRING whose bytes are not UTF-8 cannot be a JSON string without changing them (U+FFFD
 * would stand for the bad bytes): it is refused by name rather than printed lossy. */
static bool utf8_valid(const unsigned char *p, size_t n) {
    for (size_t i = 0; i < n;) {
        int l = p[i] < 0x80 ? 1 : pq_utf8_len(p + i, n - i);
        if (l == 0) return false;
        i += (size_t)l;
    }
    return true;
}

/* Definition level at the cursor of leaf, -1 past the row's entries. */
static int cur_def(pq_rows *rw, int leaf) {
    size_t i = rw->pos[leaf];
    if (i >= row_end(rw, leaf)) return -1;
    const pq_column *c = &rw->cols[leaf];
    return c->def ? c->def[i] : rw->s->nodes[rw->s->leaves[leaf]].max_def;
}

/* Moves every cursor under node past one instance bounded by level k: its entry and the
 * entries after it that repeat deeper than k. */
static int skip(pq_rows *rw, int node, int k) {
    for (int l = first_leaf(rw->s, node); l <= last_leaf(rw->s, node); l++) {
        const pq_column *c = &rw->cols[l];
        size_t end = row_end(rw, l), i = rw->pos[l];
        if (i >= end) return corrupt(rw, "a column has fewer entries than its siblings");
        i++;
        while (i < end && c->rep && c->rep[i] > k) i++;
        rw->pos[l] = i;
    }
    return 0;
}

static int emit_leaf(pq_rows *rw, const pq_node *nd, pq_text *out) {
    int leaf = nd->leaf;
    const pq_column *c = &rw->cols[leaf];
    size_t i = rw->pos[leaf]++;
    size_t vi = rw->vidx[leaf] ? rw->vidx[leaf][i] : i;
    if (vi >= c->nvals) return corrupt(rw, "more values referenced than decoded");
    const uint8_t *bp = c->phys == PQ_PHYS_BYTE_ARRAY || c->phys == PQ_PHYS_FIXED ? (const uint8_t *)c->v.bytes[vi].p
                                                                                  : NULL;
    char tmp[48];
    switch (nd->kind) {
    case PQ_BOOL: return pq_text_str(out, c->v.b[vi] ? "true" : "false");
    case PQ_INT32:
        return nd->is_unsigned ? pq_text_printf(out, "%u", (unsigned)(uint32_t)c->v.i32[vi])
                               : pq_text_printf(out, "%d", c->v.i32[vi]);
    case PQ_INT64:
        return nd->is_unsigned ? pq_text_printf(out, "%llu", (unsigned long long)(uint64_t)c->v.i64[vi])
                               : pq_text_printf(out, "%lld", (long long)c->v.i64[vi]);
    case PQ_DOUBLE: return json_double(out, c->v.f64[vi]);
    case PQ_FLOAT: return json_float(out, c->v.f32[vi]);
    case PQ_FLOAT16: return json_half(out, bp);
    case PQ_DATE:
        pq_format_date(c->v.i32[vi], tmp);
        return pq_text_printf(out, "\"%s\"", tmp);
    case PQ_TIMESTAMP:
        fmt_ts(c->v.i64[vi], nd->phys == PQ_PHYS_INT96 ? 1000000 : unit_per_sec(nd->ts_unit), nd->ts_utc, tmp);
        return pq_text_printf(out, "\"%s\"", tmp);
    case PQ_TIME: {
        int64_t per = unit_per_sec(nd->ts_unit), v = nd->phys == PQ_PHYS_INT32 ? c->v.i32[vi] : c->v.i64[vi];
        if (v < 0 || v / per >= 86400) return corrupt(rw, "TIME value outside one day");
        return pq_text_printf(out, "\"%02d:%02d:%02d.%0*lld\"", (int)(v / per / 3600), (int)(v / per / 60 % 60),
                              (int)(v / per % 60), per == 1000000000 ? 9 : 6,
                              (long long)(per == 1000 ? v % per * 1000 : v % per));
    }
    case PQ_DECIMAL:
        if (emit_decimal(out, nd, c, vi)) return corrupt(rw, "DECIMAL value wider than 16 bytes");
        return 0;
    case PQ_STRING:
        if (!utf8_valid((const unsigned char *)c->v.bytes[vi].p, c->v.bytes[vi].n)) {
            rw->refused = true;
            return corrupt(rw, "a STRING value is not valid UTF-8: not printed, it would lose bytes");
        }
        return pq_json_string(out, c->v.bytes[vi].p, c->v.bytes[vi].n);
    case PQ_UUID: return json_uuid(out, bp);
    case PQ_BINARY: return json_binary(out, bp, c->v.bytes[vi].n, rw->bin);
    default: return corrupt(rw, "a leaf of an unknown kind");
    }
}

static int emit_field(pq_rows *rw, int node, int k, pq_text *out);

/* The elements of repeated node R under the current instance (bounded by k) as a JSON array.
 * Each element prints as elem: R itself, or R's only child in a 3-level LIST. MAP entries
 * (map set) print as {"key": .., "value": ..} whatever the file calls its two fields, or as
 * the key alone when the map has no value field (pyarrow's reading). */
static int emit_repeated(pq_rows *rw, int R, int elem, bool map, int k, pq_text *out) {
    const pq_node *rn = &rw->s->nodes[R];
    int leaf = first_leaf(rw->s, R);
    int d = cur_def(rw, leaf);
    if (d < 0) return corrupt(rw, "a list without entries");
    if (d < rn->max_def) return skip(rw, R, k) || pq_text_str(out, "[]") ? -1 : 0;
    if (pq_text_byte(out, '[')) return -1;
    for (int i = 0;; i++) {
        if (i && pq_text_byte(out, ',')) return -1;
        if (map && rn->n_children >= 2) {
            if (pq_text_str(out, "{\"key\":") || emit_field(rw, rn->children[0], rn->max_rep, out) ||
                pq_text_str(out, ",\"value\":") || emit_field(rw, rn->children[1], rn->max_rep, out))
                return -1;
            for (int c = 2; c < rn->n_children; c++) {
                const char *nm = rw->s->nodes[rn->children[c]].name;
                if (pq_text_byte(out, ',') || pq_json_string(out, nm, strlen(nm)) || pq_text_byte(out, ':') ||
                    emit_field(rw, rn->children[c], rn->max_rep, out))
                    return -1;
            }
            if (pq_text_byte(out, '}')) return -1;
        } else if (emit_field(rw, elem, rn->max_rep, out)) {
            return -1;
        }
        const pq_column *c = &rw->cols[leaf];
        size_t p = rw->pos[leaf];
        if (p >= row_end(rw, leaf) || c->rep[p] != rn->max_rep) break;
    }
    return pq_text_byte(out, ']');
}

/* The element of a LIST's repeated child R (parquet-format LogicalTypes.md, backward
 * compatibility rules): R itself when it is a primitive, has several fields, or is a
 * one-field group named "array" or "<list>_tuple" (2-level lists); else its only field. */
static int list_element(const pq_schema *s, int list, int R) {
    const pq_node *rn = &s->nodes[R];
    if (rn->leaf >= 0 || rn->n_children != 1 || !strcmp(rn->name, "array")) return R;
    char tuple[300];
    snprintf(tuple, sizeof tuple, "%s_tuple", s->nodes[list].name);
    return strcmp(rn->name, tuple) ? rn->children[0] : R;
}

/* One instance of node bounded by level k. A repeated node here is one element (its own
 * instance); emit_field turns a repeated field into its list. */
static int emit_instance(pq_rows *rw, int node, int k, pq_text *out) {
    const pq_schema *s = rw->s;
    const pq_node *nd = &s->nodes[node];
    int d = cur_def(rw, first_leaf(s, node));
    if (d < 0) return corrupt(rw, "a field without entries");
    if (d < nd->max_def) return skip(rw, node, k) || pq_text_str(out, "null") ? -1 : 0;
    if (nd->leaf >= 0) return emit_leaf(rw, nd, out);
    if ((nd->kind == PQ_LIST || nd->kind == PQ_MAP) && nd->n_children == 1 &&
        s->nodes[nd->children[0]].rep == PQ_REPEATED) {
        int R = nd->children[0];
        bool map = nd->kind == PQ_MAP;
        int elem = map ? (s->nodes[R].n_children == 1 ? s->nodes[R].children[0] : R) : list_element(s, node, R);
        return emit_repeated(rw, R, elem, map, k, out);
    }
    if (pq_text_byte(out, '{')) return -1;
    for (int c = 0; c < nd->n_children; c++) {
        const pq_node *ch = &s->nodes[nd->children[c]];
        if ((c && pq_text_byte(out, ',')) || pq_json_string(out, ch->name, strlen(ch->name)) ||
            pq_text_byte(out, ':') || emit_field(rw, nd->children[c], k, out))
            return -1;
    }
    return pq_text_byte(out, '}');
}

/* A field of a struct (or of the row): a repeated field without a LIST annotation is a list
 * of its instances. */
static int emit_field(pq_rows *rw, int node, int k, pq_text *out) {
    const pq_node *nd = &rw->s->nodes[node];
    if (nd->rep == PQ_REPEATED && nd->max_rep > k) return emit_repeated(rw, node, node, false, k, out);
    return emit_instance(rw, node, k, out);
}

int pq_rows_field_json(pq_rows *rw, int i, pq_text *out, char *err, size_t errlen) {
    if (i < 0 || i >= rw->nf || rw->row >= rw->nrows) {
        pq_seterr(err, errlen, "no field %d in row %lld", i, (long long)rw->row);
        return -1;
    }
    int node = rw->fields[i];
    int lo = first_leaf(rw->s, node), hi = last_leaf(rw->s, node);
    for (int l = lo; l <= hi; l++) rw->pos[l] = rw->entry[l];
    rw->why = NULL;
    rw->refused = false;
    int rc = emit_field(rw, node, 0, out);
    for (int l = lo; l <= hi && rc == 0; l++)
        if (rw->pos[l] != row_end(rw, l)) rc = corrupt(rw, "columns of one field disagree on the row's entries");
    if (rc) {
        pq_seterr(err, errlen, rw->refused ? "field %s, row %lld: %s" : "field %s, row %lld: corrupt levels (%s)",
                  rw->s->nodes[node].name, (long long)rw->row, rw->why ? rw->why : "out of memory");
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
    size_t vi = rw->vidx[nd->leaf] ? rw->vidx[nd->leaf][e] : e;
    if (vi >= c->nvals) return false;
    int64_t v;
    switch (nd->phys) {
    case PQ_PHYS_INT32: *out = c->v.i32[vi]; return true;
    case PQ_PHYS_INT64: case PQ_PHYS_INT96:
        v = c->v.i64[vi];
        if (nd->kind == PQ_TIMESTAMP && nd->phys == PQ_PHYS_INT64 && nd->ts_unit != 2)
            v = nd->ts_unit == 1 ? (int64_t)((uint64_t)v * 1000u) : v >= 0 ? v / 1000 : -((-(v + 1)) / 1000) - 1;
        *out = v;
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
        rw->entry[l] = row_end(rw, l);
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

static const char *unit_name(int u) { return u == 1 ? "MILLIS" : u == 3 ? "NANOS" : "MICROS"; }

/* The annotation of a node as parquet-java's schema printer writes it ("DECIMAL(18,2)",
 * "TIMESTAMP(MICROS,true)", "INTEGER(16,false)"), "" for none. */
/* Annotations the reader keeps only as the file's ids (the value prints as its kind). */
static const char *other_annotation(const pq_node *nd) {
    switch (nd->logical) {
    case 4: return "ENUM";
    case 11: return "UNKNOWN";
    case 12: return "JSON";
    case 13: return "BSON";
    case 16: return "VARIANT";
    case 17: return "GEOMETRY";
    case 18: return "GEOGRAPHY";
    default: break;
    }
    switch (nd->converted) {
    case 4: return "ENUM";
    case 19: return "JSON";
    case 20: return "BSON";
    case 21: return "INTERVAL";
    default: return nd->logical > 0 && nd->kind == PQ_BINARY ? "UNKNOWN" : NULL;
    }
}

static void node_annotation(const pq_node *nd, char *tmp, size_t n) {
    tmp[0] = 0;
    const char *other = other_annotation(nd);
    if (other) {
        snprintf(tmp, n, " (%s)", other);
        return;
    }
    switch (nd->kind) {
    case PQ_STRING: snprintf(tmp, n, " (STRING)"); break;
    case PQ_DATE: snprintf(tmp, n, " (DATE)"); break;
    case PQ_LIST: snprintf(tmp, n, " (LIST)"); break;
    case PQ_MAP: snprintf(tmp, n, " (MAP)"); break;
    case PQ_UUID: snprintf(tmp, n, " (UUID)"); break;
    case PQ_FLOAT16: snprintf(tmp, n, " (FLOAT16)"); break;
    case PQ_DECIMAL: snprintf(tmp, n, " (DECIMAL(%d,%d))", nd->precision, nd->scale); break;
    case PQ_TIME: snprintf(tmp, n, " (TIME(%s,%s))", unit_name(nd->ts_unit), nd->ts_utc ? "true" : "false"); break;
    case PQ_TIMESTAMP:
        if (nd->phys != PQ_PHYS_INT96)
            snprintf(tmp, n, " (TIMESTAMP(%s,%s))", unit_name(nd->ts_unit), nd->ts_utc ? "true" : "false");
        break;
    case PQ_INT32: case PQ_INT64:
        if (nd->int_bits) snprintf(tmp, n, " (INTEGER(%d,%s))", nd->int_bits, nd->is_unsigned ? "false" : "true");
        break;
    default: break;
    }
}

static int describe_node(const pq_schema *s, int i, int depth, pq_text *out) {
    const pq_node *nd = &s->nodes[i];
    static const char *reps[] = {"required", "optional", "repeated"};
    char ann[80];
    node_annotation(nd, ann, sizeof ann);
    if (pq_text_printf(out, "%*s%s ", 2 * depth, "", reps[nd->rep])) return -1;
    if (nd->leaf < 0) {
        if (pq_text_printf(out, "group %s%s {\n", nd->name, ann)) return -1;
        for (int c = 0; c < nd->n_children; c++)
            if (describe_node(s, nd->children[c], depth + 1, out)) return -1;
        return pq_text_printf(out, "%*s}\n", 2 * depth, "");
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
    for (int g = 0; g < pq_reader_num_row_groups(r); g++) {
        if (pq_text_printf(out, "row_group %d: rows %lld\n", g, (long long)pq_reader_rg_num_rows(r, g))) return -1;
        for (int l = 0; l < s->n_leaves; l++) {
            pq_chunk_info ci;
            char path[512];
            pq_reader_chunk_info(r, g, l, &ci);
            pq_schema_leaf_path(s, l, path, sizeof path);
            const char *cn = pq_codec_name(ci.codec);
            if (pq_text_printf(out, "  %s: %s values %lld nulls %lld size %lld/%lld encodings", path,
                               cn ? cn : "?", (long long)ci.num_values,
                               (long long)ci.null_count, (long long)ci.compressed_size, (long long)ci.uncompressed_size))
                return -1;
            for (int e = 0; e < ci.n_encodings; e++) {
                const char *en = pq_encoding_name(ci.encodings[e]);
                if (en ? pq_text_printf(out, " %s", en) : pq_text_printf(out, " %d", ci.encodings[e])) return -1;
            }
            if (pq_text_byte(out, '\n')) return -1;
        }
    }
    return 0;
}
