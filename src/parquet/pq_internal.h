/*
 * pq_internal.h — internals shared by the parquet module's files (not part of the contract).
 */
#ifndef ECOM_PQ_INTERNAL_H
#define ECOM_PQ_INTERNAL_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parquet/parquet.h"

#define PQ_MAGIC "PAR1"
#define PQ_MAX_DEPTH 32        /* schema and thrift nesting bound */
#define PQ_MAX_NODES 100000    /* schema elements */

void pq_seterr(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int pq_text_reserve(pq_text *t, size_t extra);
static inline int pq_text_byte(pq_text *t, uint8_t b) {
    if (t->len + 2 > t->cap && pq_text_reserve(t, 1)) return -1;
    t->data[t->len++] = (char)b;
    t->data[t->len] = 0;
    return 0;
}
int pq_text_str(pq_text *t, const char *s);
int pq_text_printf(pq_text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- schema internals ---- */
struct pq_schema {
    pq_node *nodes;
    int n, cap;
    int *top;          /* top-level node indexes */
    int n_top;
    int *leaves;       /* leaf -> node */
    int n_leaves;
    bool finalized;    /* levels and leaf numbering computed */
};
int pq_schema_finalize(pq_schema *s, char *err, size_t errlen);
pq_schema *pq_schema_copy(const pq_schema *s, char *err, size_t errlen);
/* Appends a raw node (reader): like pq_schema_add but with everything given. */
int pq_schema_add_raw(pq_schema *s, int parent, const char *name, size_t name_len, pq_kind kind, pq_rep rep,
                      int phys, char *err, size_t errlen);

/* ---- thrift compact protocol ---- */
enum { TT_STOP = 0, TT_TRUE = 1, TT_FALSE = 2, TT_BYTE = 3, TT_I16 = 4, TT_I32 = 5, TT_I64 = 6,
       TT_DOUBLE = 7, TT_BINARY = 8, TT_LIST = 9, TT_SET = 10, TT_MAP = 11, TT_STRUCT = 12 };

typedef struct {
    pq_text *out;
    int16_t last[PQ_MAX_DEPTH];
    int depth;
    int failed;
} pq_tw;

void tw_init(pq_tw *w, pq_text *out);
void tw_field(pq_tw *w, int16_t id, int type);
void tw_varint(pq_tw *w, uint64_t v);
void tw_i32(pq_tw *w, int16_t id, int32_t v);
void tw_i64(pq_tw *w, int16_t id, int64_t v);
void tw_bool(pq_tw *w, int16_t id, bool v);
void tw_bin(pq_tw *w, int16_t id, const void *p, size_t n);
void tw_struct_begin(pq_tw *w, int16_t id);     /* id 0: a list element */
void tw_struct_end(pq_tw *w);                   /* writes STOP */
void tw_list_begin(pq_tw *w, int16_t id, int elem_type, size_t n);
void tw_elem_i32(pq_tw *w, int32_t v);
void tw_elem_bin(pq_tw *w, const void *p, size_t n);
static inline int64_t pq_zigzag(int64_t v) { return (int64_t)(((uint64_t)v << 1) ^ (uint64_t)(v >> 63)); }

typedef struct {
    const uint8_t *p, *end;
    int depth;
    const char *err;
} pq_tr;

/* ---- parsed metadata ---- */
typedef struct {
    pq_bytes name;
    int type, type_length, rep, num_children, converted;
    int logical;          /* LogicalType union field id, 0 none */
    bool ts_utc;
    int ts_unit;          /* 1 ms 2 us 3 ns */
    int precision, scale; /* DECIMAL: from the element (7, 8) or the DecimalType */
    int int_bits;         /* IntType: bit width (0 absent) */
    bool int_signed;
} pq_selem;

typedef struct {
    pq_bytes min, max;
    bool has_min, has_max;
    bool legacy;          /* from the deprecated min/max fields (signed order) */
    int64_t null_count;   /* -1 absent */
} pq_stats;

typedef struct {
    int type, codec;
    int64_t num_values, tus, tcs, data_off, dict_off;
    pq_stats st;
    int encs[8];
    int nenc;
    bool has_meta;
} pq_colmeta;

typedef struct {
    pq_colmeta *cols;
    int ncols;
    int64_t num_rows;
} pq_rowgroup;

typedef struct {
    pq_bytes key, value;
    bool has_value;
} pq_kvb;

typedef struct {
    int version;
    pq_selem *schema;
    int n_schema;
    int64_t num_rows;
    pq_rowgroup *rgs;
    int n_rgs;
    pq_kvb *kv;
    int n_kv;
    pq_bytes created_by;
} pq_filemeta;

typedef struct {
    int type, usize, csize;
    int num_values, encoding, def_enc, rep_enc;     /* data page v1 / v2 / dict */
    int num_nulls, num_rows, dlen, rlen;            /* v2 */
    bool is_compressed;                             /* v2 */
    bool has_data, has_dict, has_v2;
} pq_pagehdr;

/* Parses FileMetaData from buf[0..n); arrays are allocated (pq_filemeta_free), byte views
 * point into buf. */
int pq_parse_filemeta(const uint8_t *buf, size_t n, pq_filemeta *fm, char *err, size_t errlen);
void pq_filemeta_free(pq_filemeta *fm);
/* Parses a PageHeader at buf; *used = its length. */
int pq_parse_pagehdr(const uint8_t *buf, size_t n, pq_pagehdr *h, size_t *used, char *err, size_t errlen);

/* ---- RLE / bit-packed hybrid ---- */
/* Appends the hybrid encoding of v[0..n) with bit width bw (no length prefix). */
int pq_rle_encode(pq_text *out, const uint32_t *v, size_t n, int bw);
int pq_rle_encode16(pq_text *out, const int16_t *v, size_t n, int bw);
/* Decodes exactly n values from p[0..len) into out (uint32 or int16). -1 if the data runs out
 * or a value exceeds max (when max >= 0). */
int pq_rle_decode(const uint8_t *p, size_t len, int bw, uint32_t *out, size_t n, int64_t max);
int pq_rle_decode16(const uint8_t *p, size_t len, int bw, int16_t *out, size_t n, int max);
static inline int pq_bit_width(uint64_t max) {
    int b = 0;
    while (max) { b++; max >>= 1; }
    return b;
}

/* ---- value encodings (pq_encodings.c) ----
 * Each decodes exactly n values from p[0..len) or returns -1 with a short reason in *why.
 * pq_delta_decode: DELTA_BINARY_PACKED into int32_t (i32) or int64_t dst; *used = the bytes
 *   it spans. pq_delta_length_decode: DELTA_LENGTH_BYTE_ARRAY, views into p.
 * pq_delta_bytes_decode: DELTA_BYTE_ARRAY; prefixes are taken from *prev (the chunk's last
 *   value so far, updated), values land in *store (malloc'd, the caller's to free) and count
 *   against *budget bytes (decremented). pq_bss_decode: BYTE_STREAM_SPLIT of width-byte
 *   values into dst (n * width bytes). */
int pq_delta_decode(const uint8_t *p, size_t len, size_t n, bool i32, void *dst, size_t *used, const char **why);
int pq_delta_length_decode(const uint8_t *p, size_t len, size_t n, pq_bytes *out, const char **why);
int pq_delta_bytes_decode(const uint8_t *p, size_t len, size_t n, pq_bytes *prev, uint64_t *budget, pq_bytes *out,
                          uint8_t **store, const char **why);
int pq_bss_decode(const uint8_t *p, size_t len, size_t n, size_t width, uint8_t *dst, const char **why);

/* ---- compression ---- */
/* Appends the compressed form of src to out. zctx: a ZSTD_CCtx (may be NULL). dense: src holds
 * values that are nearly all distinct (random ids): zstd then skips faster over bytes where it
 * finds no match but still entropy-codes the literals (see pq_enc.c); no effect on other codecs. */
int pq_compress(int codec, int level, bool dense, void *zctx, const void *src, size_t n, pq_text *out, char *err,
                size_t errlen);
/* Reader-side decompression (pq_codec.c): a pq_decomp holds the codecs' contexts, created
 * on first use; one per reader. pq_decompress fills dst with exactly dn bytes (a size
 * mismatch is an error); an unsupported codec is named in the message. */
typedef struct pq_decomp pq_decomp;
/* 0 if the reader decompresses codec, else -1 with "unsupported codec LZO" / "unknown codec 9". */
int pq_codec_check(int codec, char *err, size_t errlen);
pq_decomp *pq_decomp_new(void);
void pq_decomp_free(pq_decomp *dc);
int pq_decompress(pq_decomp *dc, int codec, const uint8_t *src, size_t n, uint8_t *dst, size_t dn, char *err,
                  size_t errlen);

#endif
