/* test_parquet.c — the Parquet codec: RLE hybrid, thrift footer, write -> read round trips of
 * every type (nulls, nesting, many row groups, dictionary fallback, all codecs), statistics,
 * row group skipping, and hostile input (every truncation and many corruptions). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "parquet/pq_internal.h"

typedef struct {
    pq_text t;
} membuf;

static int mem_write(void *ctx, const void *p, size_t n, char *err, size_t errlen) {
    (void)err;
    (void)errlen;
    return pq_text_append(&((membuf *)ctx)->t, p, n);
}

static void test_rle(check_state *st) {
    CHECK_STATE(st);
    uint64_t x = 7;
    for (int bw = 0; bw <= 20; bw++) {
        for (int trial = 0; trial < 20; trial++) {
            size_t n = (size_t)(x % 3000) + 1;
            uint32_t *v = malloc(n * 4), *o = malloc(n * 4);
            for (size_t i = 0; i < n; i++) {
                x = x * 6364136223846793005ULL + 1442695040888963407ULL;
                uint32_t mask = bw == 0 ? 0 : (uint32_t)((1ull << bw) - 1);
                /* mix runs and noise */
                v[i] = (trial % 3 == 0) ? (uint32_t)(x >> 40) & mask : (i > 0 && (x >> 60) < 12) ? v[i - 1] : (uint32_t)(x >> 33) & mask;
            }
            pq_text t = {0};
            CHECK(pq_rle_encode(&t, v, n, bw) == 0);
            CHECK(pq_rle_decode((const uint8_t *)t.data, t.len, bw, o, n, -1) == 0);
            CHECK(memcmp(v, o, n * 4) == 0);
            /* truncated data must fail, never overrun */
            if (t.len > 1) CHECK(pq_rle_decode((const uint8_t *)t.data, t.len / 2, bw, o, n, -1) != 0 || bw == 0);
            pq_text_free(&t);
            free(v);
            free(o);
        }
    }
    /* hand-made: spec example, 1..7 with width 3 bit-packed: header 0x03, bytes 88 C6 FA */
    const uint8_t enc[] = {0x03, 0x88, 0xC6, 0xFA};
    uint32_t out[8];
    CHECK(pq_rle_decode(enc, sizeof enc, 3, out, 8, -1) == 0);
    for (int i = 0; i < 8; i++) CHECK_INTEQ(out[i], i);
    /* a value above max is refused */
    CHECK(pq_rle_decode(enc, sizeof enc, 3, out, 8, 5) != 0);
}

/* Where the encoder puts RLE runs (bytes pinned from the value-by-value encoder this one
 * replaced, width 3): a run of >= 8 becomes an RLE run once the bit-packed values before it fill
 * whole groups of 8; a run the alignment would cut below 8 stays bit-packed, as does a run of 7. */
static void test_rle_runs(check_state *st) {
    CHECK_STATE(st);
    static const struct {
        uint32_t v[25];
        size_t n;
        uint8_t enc[10];
        size_t len;
    } cases[] = {
        {{1, 2, 3, 5, 5, 5, 5, 5, 5, 5, 5, 5, 4}, 13, {0x05, 0xD1, 0xDA, 0xB6, 0x6D, 0x4B, 0x00}, 7},
        {{1, 2, 3, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5}, 16, {0x03, 0xD1, 0xDA, 0xB6, 0x10, 0x05}, 6},
        {{7, 7, 7, 7, 7, 7, 7, 7}, 8, {0x10, 0x07}, 2},
        {{1, 2, 3, 4, 5, 6, 0, 7, 7, 7, 7, 7, 7, 7}, 14, {0x05, 0xD1, 0x58, 0xE3, 0xFF, 0xFF, 0x03}, 7},
        {{1, 1, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 6}, 25,
         {0x03, 0x89, 0xA4, 0x6D, 0x20, 0x03, 0x03, 0x06, 0x00, 0x00}, 10},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        pq_text t = {0};
        CHECK(pq_rle_encode(&t, cases[c].v, cases[c].n, 3) == 0);
        CHECK_INTEQ(t.len, cases[c].len);
        CHECK(t.len == cases[c].len && memcmp(t.data, cases[c].enc, t.len) == 0);
        pq_text_free(&t);
    }
}

/* Builds the test schema: flat types, a struct, a list of structs. */
static pq_schema *make_schema(void) {
    char err[128];
    pq_schema *s = pq_schema_new();
    pq_schema_add(s, -1, "b", PQ_BOOL, true, err, sizeof err);
    pq_schema_add(s, -1, "i32", PQ_INT32, false, err, sizeof err);
    pq_schema_add(s, -1, "i64", PQ_INT64, true, err, sizeof err);
    pq_schema_add(s, -1, "f64", PQ_DOUBLE, true, err, sizeof err);
    pq_schema_add(s, -1, "s", PQ_STRING, true, err, sizeof err);
    pq_schema_add(s, -1, "d", PQ_DATE, false, err, sizeof err);
    pq_schema_add(s, -1, "ts", PQ_TIMESTAMP, false, err, sizeof err);
    int loc = pq_schema_add(s, -1, "loc", PQ_STRUCT, true, err, sizeof err);
    pq_schema_add(s, loc, "lat", PQ_DOUBLE, false, err, sizeof err);
    pq_schema_add(s, loc, "lon", PQ_DOUBLE, false, err, sizeof err);
    int items = pq_schema_add(s, -1, "items", PQ_LIST, true, err, sizeof err);
    pq_schema_add(s, items, "pid", PQ_STRING, false, err, sizeof err);
    pq_schema_add(s, items, "qty", PQ_INT32, true, err, sizeof err);
    return s;
}

#define NROWS 5000

/* Row i's values (deterministic). */
static void row_vals(size_t i, uint8_t *b, int32_t *i32, int64_t *i64, double *f, char *s, size_t *sn, int32_t *d,
                     int64_t *ts) {
    *b = i % 3 == 0;
    *i32 = (int32_t)(i * 7919) - 1000000;
    *i64 = i == 1 ? INT64_MIN : i == 2 ? INT64_MAX : (int64_t)i * 1000003;
    *f = i == 4 ? -0.0 : (double)i / 7.0;
    *sn = (size_t)snprintf(s, 64, "%s-%zu", i % 2 ? "ñandú" : "x", i % 300);
    if (i == 10) *sn = 0;
    *d = (int32_t)(i % 40000) - 1000;
    *ts = 1764000000000000LL + (int64_t)i * 1234567;
}

static int write_file(pq_text *out, pq_codec codec, size_t rg_bytes, size_t dict_max, bool levels_api) {
    char err[256];
    pq_schema *s = make_schema();
    pq_write_opts o = {.codec = codec, .row_group_bytes = rg_bytes, .dict_max_bytes = dict_max, .page_bytes = 4096,
                       .created_by = "ecom version test"};
    membuf mb = {{0}};
    pq_writer *w = pq_writer_new(s, &o, mem_write, &mb, err, sizeof err);
    if (!w) return -1;
    pq_writer_add_kv(w, "k", "v", err, sizeof err);
    char sbuf[64];
    for (size_t i = 0; i < NROWS; i++) {
        uint8_t b;
        int32_t i32, d;
        int64_t i64, ts;
        double f;
        size_t sn;
        row_vals(i, &b, &i32, &i64, &f, sbuf, &sn, &d, &ts);
        uint8_t valid = i % 5 != 0;
        pq_bytes sv = {sbuf, (uint32_t)sn};
        int rc = pq_write_values(w, 0, 1, &b, &valid, err, sizeof err) | pq_write_values(w, 1, 1, &i32, NULL, err, sizeof err) |
                 pq_write_values(w, 2, 1, &i64, &valid, err, sizeof err) | pq_write_values(w, 3, 1, &f, &valid, err, sizeof err) |
                 pq_write_values(w, 4, 1, &sv, &valid, err, sizeof err) | pq_write_values(w, 5, 1, &d, NULL, err, sizeof err) |
                 pq_write_values(w, 6, 1, &ts, NULL, err, sizeof err);
        /* loc: null every 7th row */
        uint8_t lv = i % 7 != 0;
        double lat = (double)i, lon = -(double)i;
        if (levels_api) {
            int16_t def = lv ? 1 : 0;
            rc |= pq_write_levels(w, 7, 1, &def, NULL, &lat, lv, err, sizeof err);
            rc |= pq_write_levels(w, 8, 1, &def, NULL, &lon, lv, err, sizeof err);
        } else {
            rc |= pq_write_values(w, 7, 1, &lat, &lv, err, sizeof err);
            rc |= pq_write_values(w, 8, 1, &lon, &lv, err, sizeof err);
        }
        /* items: i%4 elements; i%11==0 null list; element k of row: pid "p<k>", qty null when k==2 */
        int16_t def[8], rep[8], qdef[8];
        pq_bytes pids[8];
        int32_t qtys[8];
        char pbuf[8][16];
        size_t n = 0, nq = 0;
        if (i % 11 == 0) {
            def[0] = 0, rep[0] = 0, qdef[0] = 0;
            n = 1;
        } else if (i % 4 == 0) {
            def[0] = 1, rep[0] = 0, qdef[0] = 1;
            n = 1;
        } else {
            for (size_t k = 0; k < i % 4; k++) {
                def[k] = 3; /* items(1) list(2) element(3), pid required */
                rep[k] = k ? 1 : 0;
                snprintf(pbuf[k], 16, "p%zu", k);
                pids[k] = (pq_bytes){pbuf[k], (uint32_t)strlen(pbuf[k])};
                qdef[k] = k == 2 ? 3 : 4;
                if (k != 2) qtys[nq++] = (int32_t)(k * 10 + i);
                n++;
            }
        }
        size_t np = def[0] == 3 ? n : 0;
        rc |= pq_write_levels(w, 9, n, def, rep, pids, np, err, sizeof err);
        rc |= pq_write_levels(w, 10, n, qdef, rep, qtys, nq, err, sizeof err);
        rc |= pq_writer_end_rows(w, 1, err, sizeof err);
        if (rc) {
            printf("  write error: %s\n", err);
            pq_writer_free(w);
            pq_schema_free(s);
            return -1;
        }
    }
    int rc = pq_writer_close(w, err, sizeof err);
    if (rc) printf("  close error: %s\n", err);
    pq_writer_free(w);
    pq_schema_free(s);
    *out = mb.t;
    return rc;
}

/* Reads the file back through the row assembler and checks every value of every row. */
static int verify_file(check_state *st, const pq_text *f, int *nrg) {
    CHECK_STATE(st);
    char err[256];
    pq_reader *r = pq_reader_open_mem(f->data, f->len, NULL, err, sizeof err);
    CHECK(r != NULL);
    if (!r) {
        printf("  open: %s\n", err);
        return -1;
    }
    CHECK_INTEQ(pq_reader_num_rows(r), NROWS);
    CHECK_STREQ(pq_reader_created_by(r), "ecom version test");
    *nrg = pq_reader_num_row_groups(r);
    size_t row = 0;
    pq_text t = {0}, want = {0};
    char sbuf[64], tsb[32], db[16];
    int bad = 0;
    for (int g = 0; g < *nrg; g++) {
        pq_rows *rows = pq_rows_open(r, g, NULL, 0, err, sizeof err);
        CHECK(rows != NULL);
        if (!rows) {
            printf("  rows: %s\n", err);
            break;
        }
        for (int64_t k = 0; k < pq_rows_count(rows); k++, row++) {
            t.len = 0;
            for (int fi = 0; fi < 9; fi++) {
                if (fi) pq_text_append(&t, ",", 1);
                CHECK(pq_rows_field_json(rows, fi, &t, err, sizeof err) == 0);
            }
            uint8_t b;
            int32_t i32, d;
            int64_t i64, ts;
            double fv;
            size_t sn;
            row_vals(row, &b, &i32, &i64, &fv, sbuf, &sn, &d, &ts);
            bool v = row % 5 != 0;
            want.len = 0;
            pq_format_ts_us(ts, tsb);
            pq_format_date(d, db);
            char fb[40];
            for (int p = 15; p <= 17; p++) { /* the shortest round trip of 15..17 digits */
                snprintf(fb, sizeof fb, "%.*g", p, fv);
                if (strtod(fb, NULL) == fv) break;
            }
            pq_text_printf(&want, "%s,%d,", v ? (b ? "true" : "false") : "null", i32);
            if (v) pq_text_printf(&want, "%lld,%s,", (long long)i64, fb);
            else pq_text_str(&want, "null,null,");
            if (v) pq_json_string(&want, sbuf, sn);
            else pq_text_str(&want, "null");
            pq_text_printf(&want, ",\"%s\",\"%s\",", db, tsb);
            if (row % 7) pq_text_printf(&want, "{\"lat\":%zu,\"lon\":-%zu},", row, row);
            else pq_text_str(&want, "null,");
            if (row % 11 == 0) pq_text_str(&want, "null");
            else if (row % 4 == 0) pq_text_str(&want, "[]");
            else {
                pq_text_str(&want, "[");
                for (size_t e = 0; e < row % 4; e++) {
                    if (e == 2) pq_text_printf(&want, ",{\"pid\":\"p2\",\"qty\":null}");
                    else pq_text_printf(&want, "%s{\"pid\":\"p%zu\",\"qty\":%zu}", e ? "," : "", e, e * 10 + row);
                }
                pq_text_str(&want, "]");
            }
            if (strcmp(t.data, want.data) && bad++ < 3) printf("  row %zu:\n   got  %s\n   want %s\n", row, t.data, want.data);
            pq_rows_next(rows, err, sizeof err);
        }
        pq_rows_free(rows);
    }
    CHECK_INTEQ(bad, 0);
    CHECK_INTEQ(row, NROWS);
    pq_text_free(&t);
    pq_text_free(&want);
    pq_reader_close(r);
    return 0;
}

static void test_roundtrip(check_state *st) {
    CHECK_STATE(st);
    pq_codec codecs[] = {PQ_UNCOMPRESSED, PQ_SNAPPY, PQ_ZSTD};
    for (int c = 0; c < 3; c++) {
        pq_text f = {0};
        CHECK(write_file(&f, codecs[c], 0, 0, c == 1) == 0);
        int nrg = 0;
        verify_file(st, &f, &nrg);
        CHECK_INTEQ(nrg, 1);
        pq_text_free(&f);
    }
}

static void test_rowgroups_and_fallback(check_state *st) {
    CHECK_STATE(st);
    pq_text f = {0};
    /* tiny row groups, tiny dictionary limit: many groups, PLAIN fallback for strings/ints */
    CHECK(write_file(&f, PQ_ZSTD, 20000, 256, false) == 0);
    int nrg = 0;
    verify_file(st, &f, &nrg);
    CHECK(nrg > 5);
    char err[256];
    pq_reader *r = pq_reader_open_mem(f.data, f.len, NULL, err, sizeof err);
    CHECK(r != NULL);
    if (r) {
        pq_chunk_info ci;
        CHECK(pq_reader_chunk_info(r, 0, 1, &ci) == 0);
        bool dict = false;
        for (int e = 0; e < ci.n_encodings; e++) dict |= ci.encodings[e] == 8;
        CHECK(!dict); /* i32 values are all distinct: more than 256 bytes of dictionary */
        CHECK(pq_reader_chunk_info(r, 0, 0, &ci) == 0);
        CHECK(ci.null_count > 0);
        /* ts statistics: row group g covers a known range; a filter outside skips it */
        int skipped = 0;
        for (int g = 0; g < pq_reader_num_row_groups(r); g++)
            skipped += !pq_reader_rg_may_match(r, g, 6, 1764000000000000LL, 1764000000000000LL + 1234567 * 10LL);
        CHECK_INTEQ(skipped, pq_reader_num_row_groups(r) - 1);
        pq_reader_close(r);
    }
    pq_text_free(&f);
}

static void test_errors(check_state *st) {
    CHECK_STATE(st);
    char err[256];
    pq_schema *s = make_schema();
    membuf mb = {{0}};
    pq_writer *w = pq_writer_new(s, NULL, mem_write, &mb, err, sizeof err);
    CHECK(w != NULL);
    CHECK(pq_writer_close(w, err, sizeof err) == -1);
    CHECK(strstr(err, "no rows") != NULL);
    CHECK_INTEQ(mb.t.len, 0);
    pq_writer_free(w);
    /* a null in a required column, a row count mismatch */
    w = pq_writer_new(s, NULL, mem_write, &mb, err, sizeof err);
    uint8_t zero = 0;
    int32_t v = 1;
    CHECK(pq_write_values(w, 1, 1, &v, &zero, err, sizeof err) == -1);
    CHECK(pq_write_values(w, 1, 1, &v, NULL, err, sizeof err) == 0);
    CHECK(pq_writer_end_rows(w, 1, err, sizeof err) == -1);
    pq_writer_free(w);
    CHECK(pq_schema_add(s, -1, "b", PQ_INT32, false, err, sizeof err) == -1); /* duplicate */
    pq_schema_free(s);
}

/* pq_writer_end_rows checks the columns' row counts as one sum per call: a column over by a row
 * and another short by one pass it, and the per-column check before a flush (at end_rows when the
 * row group is full, at close) fails the writer with the column named and writes nothing. A count
 * that changes the sum fails at end_rows at once. */
static void test_row_count_errors(check_state *st) {
    CHECK_STATE(st);
    char err[256];
    pq_schema *s = pq_schema_new();
    CHECK(pq_schema_add(s, -1, "a", PQ_INT32, false, err, sizeof err) >= 0);
    CHECK(pq_schema_add(s, -1, "b", PQ_STRING, false, err, sizeof err) >= 0);
    for (int at_flush = 0; at_flush < 2; at_flush++) {
        membuf mb = {{0}};
        pq_write_opts o = {.row_group_bytes = at_flush ? 1 : 64 << 20};
        pq_writer *w = pq_writer_new(s, &o, mem_write, &mb, err, sizeof err);
        CHECK(w != NULL);
        CHECK(pq_write_i32(w, 0, 1, err, sizeof err) == 0);
        CHECK(pq_write_i32(w, 0, 2, err, sizeof err) == 0); /* a: 2 rows, b: none */
        if (at_flush) {
            CHECK(pq_writer_end_rows(w, 1, err, sizeof err) == -1);
        } else {
            CHECK(pq_writer_end_rows(w, 1, err, sizeof err) == 0);
            CHECK(pq_writer_close(w, err, sizeof err) == -1);
        }
        CHECK(strstr(err, "column a has 2 rows, expected 1") != NULL);
        CHECK(pq_writer_end_rows(w, 0, err, sizeof err) == -1); /* the writer failed */
        CHECK(pq_writer_close(w, err, sizeof err) == -1);
        CHECK_INTEQ(mb.t.len, 0);
        pq_writer_free(w);
        pq_text_free(&mb.t);
    }
    /* the sum off: caught by end_rows itself, the short column named */
    membuf mb = {{0}};
    pq_writer *w = pq_writer_new(s, NULL, mem_write, &mb, err, sizeof err);
    CHECK(pq_write_i32(w, 0, 1, err, sizeof err) == 0);
    CHECK(pq_write_str(w, 1, "x", 1, err, sizeof err) == 0);
    CHECK(pq_writer_end_rows(w, 1, err, sizeof err) == 0);
    CHECK(pq_write_str(w, 1, "y", 1, err, sizeof err) == 0);
    CHECK(pq_writer_end_rows(w, 1, err, sizeof err) == -1);
    CHECK(strstr(err, "column a has 1 rows, expected 2") != NULL);
    CHECK(pq_writer_close(w, err, sizeof err) == -1);
    CHECK_INTEQ(mb.t.len, 0);
    pq_writer_free(w);
    pq_text_free(&mb.t);
    pq_schema_free(s);
}

/* Every truncation and a sweep of byte corruptions: an error or a result, never a crash
 * (ASan/UBSan watch this test). */
static void test_hostile(check_state *st) {
    CHECK_STATE(st);
    pq_text f = {0};
    CHECK(write_file(&f, PQ_SNAPPY, 30000, 0, false) == 0);
    char err[256];
    pq_read_opts o = {.max_page_bytes = 1 << 20, .max_chunk_values = 1 << 16};
    size_t opened = 0;
    for (size_t len = 0; len < f.len; len += (len < 200 || f.len - len < 400) ? 1 : 97) {
        pq_reader *r = pq_reader_open_mem(f.data, len, &o, err, sizeof err);
        opened += r != NULL;
        pq_reader_close(r);
    }
    CHECK_INTEQ(opened, 0);
    uint64_t x = 99;
    char *copy = malloc(f.len);
    int ok = 0, failed = 0;
    for (int trial = 0; trial < 200; trial++) {
        memcpy(copy, f.data, f.len);
        for (int k = 0; k < 4; k++) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            size_t pos = trial % 2 ? f.len - 8 - (size_t)(x >> 33) % 600 : (size_t)(x >> 33) % f.len;
            copy[pos] = (char)(x >> 20);
        }
        pq_reader *r = pq_reader_open_mem(copy, f.len, &o, err, sizeof err);
        if (!r) {
            failed++;
            continue;
        }
        for (int g = 0; g < pq_reader_num_row_groups(r); g++) {
            pq_rows *rows = pq_rows_open(r, g, NULL, 0, err, sizeof err);
            if (!rows) {
                failed++;
                continue;
            }
            pq_text t = {0};
            for (int64_t i = 0; i < pq_rows_count(rows); i++) {
                for (int fi = 0; fi < 9; fi++) pq_rows_field_json(rows, fi, &t, err, sizeof err);
                t.len = 0;
                pq_rows_next(rows, err, sizeof err);
            }
            pq_text_free(&t);
            pq_rows_free(rows);
            ok++;
        }
        pq_reader_close(r);
    }
    CHECK(failed > 0);
    free(copy);
    pq_text_free(&f);
}

/* The dictionary states of the streaming path, through the one-value appends: a low-cardinality
 * column with nulls keeps its dictionary; a column of 15000 distinct values repeated outgrows
 * the live dictionary and gets one built at flush; an all-distinct column gives its
 * dictionary up after 16384 values (and is PLAIN); a dictionary limit hit in the middle of a
 * row group turns the values so far back into PLAIN ones. Every value is read back. */
static bool chunk_has_dict(pq_reader *r, int rg, int leaf) {
    pq_chunk_info ci;
    if (pq_reader_chunk_info(r, rg, leaf, &ci)) return false;
    for (int e = 0; e < ci.n_encodings; e++)
        if (ci.encodings[e] == 8) return true;
    return false;
}

static void test_dictionary_states(check_state *st) {
    CHECK_STATE(st);
    char err[256];
    pq_schema *s = pq_schema_new();
    pq_schema_add(s, -1, "low", PQ_STRING, true, err, sizeof err);
    pq_schema_add(s, -1, "mid", PQ_STRING, false, err, sizeof err);
    pq_schema_add(s, -1, "uniq", PQ_INT64, false, err, sizeof err);
    pq_schema_add(s, -1, "big", PQ_STRING, false, err, sizeof err);
    pq_schema_add(s, -1, "f", PQ_DOUBLE, false, err, sizeof err);
    pq_schema_add(s, -1, "q", PQ_INT32, false, err, sizeof err);
    enum { N = 100000 };
    pq_write_opts o = {.codec = PQ_ZSTD, .dict_max_bytes = 200000};
    membuf mb = {{0}};
    pq_writer *w = pq_writer_new(s, &o, mem_write, &mb, err, sizeof err);
    CHECK(w != NULL);
    char b[64];
    int rc = 0;
    for (int i = 0; w && i < N; i++) {
        int n = snprintf(b, sizeof b, "cat-%d", i % 7);
        rc |= i % 13 == 0 ? pq_write_null(w, 0, err, sizeof err) : pq_write_str(w, 0, b, (size_t)n, err, sizeof err);
        n = snprintf(b, sizeof b, "U%06d", i % 15000);
        rc |= pq_write_str(w, 1, b, (size_t)n, err, sizeof err);
        rc |= pq_write_i64(w, 2, (int64_t)i * 7919, err, sizeof err);
        /* 20000 distinct 20-byte values: the 200000-byte limit is hit near row 8000 */
        n = snprintf(b, sizeof b, "a-rather-long-%06d", i % 20000);
        rc |= pq_write_str(w, 3, b, (size_t)n, err, sizeof err);
        rc |= pq_write_f64(w, 4, (double)(i % 33) / 4, err, sizeof err);
        rc |= pq_write_i32(w, 5, i % 5, err, sizeof err);
        rc |= pq_writer_end_rows(w, 1, err, sizeof err);
    }
    CHECK_INTEQ(rc, 0);
    /* wrong physical type and null in a required column are refused */
    CHECK(pq_write_i32(w, 2, 1, err, sizeof err) == -1);
    CHECK(pq_write_null(w, 1, err, sizeof err) == -1);
    CHECK(pq_writer_close(w, err, sizeof err) == 0);
    pq_writer_free(w);
    pq_schema_free(s);
    pq_reader *r = pq_reader_open_mem(mb.t.data, mb.t.len, NULL, err, sizeof err);
    CHECK(r != NULL);
    if (!r) return;
    CHECK_INTEQ(pq_reader_num_row_groups(r), 1);
    CHECK(chunk_has_dict(r, 0, 0));
    CHECK(chunk_has_dict(r, 0, 1));
    CHECK(!chunk_has_dict(r, 0, 2));
    CHECK(!chunk_has_dict(r, 0, 3));
    CHECK(chunk_has_dict(r, 0, 4));
    pq_column c[6];
    int bad = 0;
    for (int l = 0; l < 6; l++) CHECK(pq_reader_read_column(r, 0, l, &c[l], err, sizeof err) == 0);
    CHECK_INTEQ(c[0].nvals, N - (N + 12) / 13);
    for (int i = 0, v = 0; i < N; i++) {
        int n = snprintf(b, sizeof b, "cat-%d", i % 7);
        if (i % 13 == 0) {
            bad += c[0].def[i] != 0;
        } else {
            bad += c[0].def[i] != 1 || c[0].v.bytes[v].n != (uint32_t)n || memcmp(c[0].v.bytes[v].p, b, (size_t)n);
            v++;
        }
        n = snprintf(b, sizeof b, "U%06d", i % 15000);
        bad += c[1].v.bytes[i].n != (uint32_t)n || memcmp(c[1].v.bytes[i].p, b, (size_t)n);
        bad += c[2].v.i64[i] != (int64_t)i * 7919;
        n = snprintf(b, sizeof b, "a-rather-long-%06d", i % 20000);
        bad += c[3].v.bytes[i].n != (uint32_t)n || memcmp(c[3].v.bytes[i].p, b, (size_t)n);
        bad += c[4].v.f64[i] != (double)(i % 33) / 4;
        bad += c[5].v.i32[i] != i % 5;
    }
    CHECK_INTEQ(bad, 0);
    for (int l = 0; l < 6; l++) pq_column_free(&c[l]);
    pq_reader_close(r);
    pq_text_free(&mb.t);
}

/* Random UUIDs (the event_id column): the dictionary is given up as nearly all distinct and the
 * pages are compressed as dense (pq_compress). They read back exactly, and zstd still
 * entropy-codes the hex digits: the chunk stays near half the PLAIN bytes (fast-strategy settings
 * without literal compression would leave it at ~0.9x). */
static void test_dense_ids(check_state *st) {
    CHECK_STATE(st);
    char err[256] = "";
    pq_schema *s = pq_schema_new();
    pq_schema_add(s, -1, "id", PQ_STRING, false, err, sizeof err);
    enum { N = 40000 };
    membuf mb = {{0}};
    pq_writer *w = pq_writer_new(s, NULL, mem_write, &mb, err, sizeof err);
    pq_schema_free(s);
    CHECK(w != NULL);
    if (!w) return;
    uint64_t x = 12345;
    char id[37];
    int rc = 0;
    for (int i = 0; i < N; i++) {
        for (int k = 0; k < 36; k++) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            id[k] = k == 8 || k == 13 || k == 18 || k == 23 ? '-' : "0123456789abcdef"[x >> 60];
        }
        rc |= pq_write_str(w, 0, id, 36, err, sizeof err);
        rc |= pq_writer_end_rows(w, 1, err, sizeof err);
    }
    CHECK_INTEQ(rc, 0);
    CHECK(pq_writer_close(w, err, sizeof err) == 0);
    pq_writer_free(w);
    CHECK(mb.t.len < (size_t)N * 40 * 6 / 10);
    pq_reader *r = pq_reader_open_mem(mb.t.data, mb.t.len, NULL, err, sizeof err);
    CHECK(r != NULL);
    if (!r) return;
    CHECK(!chunk_has_dict(r, 0, 0));
    pq_column c;
    CHECK(pq_reader_read_column(r, 0, 0, &c, err, sizeof err) == 0);
    CHECK_INTEQ(c.nvals, N);
    x = 12345;
    int bad = 0;
    for (int i = 0; i < N && (size_t)i < c.nvals; i++) {
        for (int k = 0; k < 36; k++) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            id[k] = k == 8 || k == 13 || k == 18 || k == 23 ? '-' : "0123456789abcdef"[x >> 60];
        }
        bad += c.v.bytes[i].n != 36 || memcmp(c.v.bytes[i].p, id, 36);
    }
    CHECK_INTEQ(bad, 0);
    pq_column_free(&c);
    pq_reader_close(r);
    pq_text_free(&mb.t);
}

/* Writes a file twice, with the plain appends and with a variant of them (write(false) /
 * write(true)): the bytes must be the same, over more than one row group, with a dictionary in
 * leaf dict_leaf of the first row group and none in leaf plain_leaf (-1: no such check). */
typedef int (*variant_writer)(bool variant, membuf *mb, char *err, size_t errlen);
static void check_variant_same_bytes(check_state *st, variant_writer write, int dict_leaf, int plain_leaf) {
    CHECK_STATE(st);
    char err[256] = "";
    membuf a = {{0}}, b = {{0}};
    CHECK(write(false, &a, err, sizeof err) == 0);
    CHECK(write(true, &b, err, sizeof err) == 0);
    if (err[0]) printf("  %s\n", err);
    CHECK(a.t.len > 0 && a.t.len == b.t.len && !memcmp(a.t.data, b.t.data, a.t.len));
    pq_reader *r = pq_reader_open_mem(b.t.data, b.t.len, NULL, err, sizeof err);
    CHECK(r != NULL);
    if (r) {
        CHECK(pq_reader_num_row_groups(r) > 1);
        CHECK(chunk_has_dict(r, 0, dict_leaf));
        if (plain_leaf >= 0) CHECK(!chunk_has_dict(r, 0, plain_leaf));
        pq_reader_close(r);
    }
    pq_text_free(&a.t);
    pq_text_free(&b.t);
}

/* One file of the test below: a closed set of strings written with pq_write_str or numbered with
 * pq_write_str_id, in a column of its own and in one that also takes free text (whose dictionary
 * outgrows the live limit), over several row groups. */
static int write_numbered(bool ids, membuf *mb, char *err, size_t errlen) {
    static const char *const set[] = {"page_view", "add_to_cart", "remove_from_cart"};
    pq_schema *s = pq_schema_new();
    pq_schema_add(s, -1, "kind", PQ_STRING, false, err, errlen);
    pq_schema_add(s, -1, "mixed", PQ_STRING, false, err, errlen);
    pq_write_opts o = {.codec = PQ_ZSTD, .row_group_bytes = 300000};
    pq_writer *w = pq_writer_new(s, &o, mem_write, mb, err, errlen);
    pq_schema_free(s);
    if (!w) return -1;
    char b[32];
    int rc = 0;
    uint64_t x = 99;
    for (int i = 0; i < 50000; i++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        int k = (int)(x >> 62) % 3; /* so each row group meets the set in another order */
        const char *v = set[k];
        rc |= ids ? pq_write_str_id(w, 0, k, v, strlen(v), err, errlen) : pq_write_str(w, 0, v, strlen(v), err, errlen);
        int n = snprintf(b, sizeof b, "free-%d", i);
        if (i % 2) rc |= pq_write_str(w, 1, b, (size_t)n, err, errlen);
        else if (ids) rc |= pq_write_str_id(w, 1, k, v, strlen(v), err, errlen);
        else rc |= pq_write_str(w, 1, v, strlen(v), err, errlen);
        rc |= pq_writer_end_rows(w, 1, err, errlen);
    }
    if (ids) /* an id out of range is refused */
        rc |= pq_write_str_id(w, 0, PQ_STR_IDS, "x", 1, err, errlen) != -1 || pq_write_str_id(w, 0, -1, "x", 1, err, errlen) != -1;
    rc |= pq_writer_close(w, err, errlen);
    pq_writer_free(w);
    return rc ? -1 : 0;
}

/* pq_write_str_id (dictionary entries found by the caller's number) writes the very same bytes as
 * pq_write_str, across row groups and a dictionary that leaves the live state. */
static void test_write_str_id(check_state *st) {
    check_variant_same_bytes(st, write_numbered, 0, -1);
}

/* One file of the test below: rows written leaf by leaf, or as three groups (pq_write_group): a
 * catalogue (300 keys, one row in 11 with another name, price and place), rows that are all
 * distinct (the group stops remembering after 4096; its string column outgrows the live
 * dictionary), and 4500 long keys cycling (their dictionary passes dict_max_bytes and turns PLAIN
 * while the group still remembers rows), over several row groups. */
static int write_grouped(bool group, membuf *mb, char *err, size_t errlen) {
    pq_schema *s = pq_schema_new();
    static const char *const names[] = {"key", "name", "price", "lat", "uniq", "qty", "long", "tag"};
    static const pq_kind kinds[] = {PQ_STRING, PQ_STRING, PQ_INT64, PQ_DOUBLE, PQ_STRING, PQ_INT32, PQ_STRING, PQ_STRING};
    for (int i = 0; i < 8; i++) pq_schema_add(s, -1, names[i], kinds[i], false, err, errlen);
    pq_schema_add(s, -1, "opt", PQ_STRING, true, err, errlen);
    pq_write_opts o = {.codec = PQ_ZSTD, .dict_max_bytes = 60000, .row_group_bytes = 400000};
    pq_writer *w = pq_writer_new(s, &o, mem_write, mb, err, errlen);
    pq_schema_free(s);
    if (!w) return -1;
    char kb[32], nb[64], ub[32], lb[64];
    int rc = 0;
    for (int i = 0; i < 60000; i++) {
        int k = (i * 7) % 300, drift = i % 11 == 0;
        int64_t price = drift ? k * 3 : k * 100;
        double lat = drift ? -1.5 : k / 8.0;
        int32_t qty = i % 5;
        pq_bytes v[8] = {{kb, (uint32_t)snprintf(kb, sizeof kb, "K%d", k)},
                         {nb, (uint32_t)snprintf(nb, sizeof nb, "name of %d", drift ? k + 1 : k)},
                         {(const char *)&price, 0},
                         {(const char *)&lat, 0},
                         {ub, (uint32_t)snprintf(ub, sizeof ub, "id-%d", i)},
                         {(const char *)&qty, 0},
                         {lb, (uint32_t)snprintf(lb, sizeof lb, "a long key number %d", i % 4500)},
                         {i % 3 ? "" : "t", i % 3 ? 0 : 1}};
        if (group) {
            rc |= pq_write_group(w, 0, 4, 1, v, err, errlen);
            rc |= pq_write_group(w, 4, 2, 2, v + 4, err, errlen);
            rc |= pq_write_group(w, 6, 2, 1, v + 6, err, errlen);
        } else {
            for (int l = 0; l < 8; l++) {
                if (kinds[l] == PQ_STRING) rc |= pq_write_str(w, l, v[l].p, v[l].n, err, errlen);
                else if (kinds[l] == PQ_INT64) rc |= pq_write_i64(w, l, price, err, errlen);
                else if (kinds[l] == PQ_DOUBLE) rc |= pq_write_f64(w, l, lat, err, errlen);
                else rc |= pq_write_i32(w, l, qty, err, errlen);
            }
        }
        rc |= pq_write_null(w, 8, err, errlen);
        rc |= pq_writer_end_rows(w, 1, err, errlen);
    }
    if (group) { /* an optional leaf, another size or key count for a first leaf, leaves past the end: refused */
        pq_bytes x[2] = {{"x", 1}, {"y", 1}};
        rc |= pq_write_group(w, 7, 2, 1, x, err, errlen) != -1;
        rc |= pq_write_group(w, 0, 3, 1, x, err, errlen) != -1 || pq_write_group(w, 0, 4, 2, x, err, errlen) != -1;
        rc |= pq_write_group(w, 8, 1, 1, x, err, errlen) != -1 || pq_write_group(w, 9, 1, 1, x, err, errlen) != -1;
        rc |= pq_write_group(w, 1, 1, 0, x, err, errlen) != -1 || pq_write_group(w, 1, 1, 2, x, err, errlen) != -1;
    }
    rc |= pq_writer_close(w, err, errlen);
    pq_writer_free(w);
    return rc ? -1 : 0;
}

/* pq_write_group (a row's leaves appended by remembered dictionary entries) writes the very same
 * bytes as the single appends: rows that break the pattern, a group that stops remembering,
 * dictionaries that turn PLAIN inside a group, several row groups (entries remembered in one are
 * stale in the next). */
static void test_write_group(check_state *st) {
    check_variant_same_bytes(st, write_grouped, 1, 6);
}

/* One file of the test below: the lake's two group shapes (a store: 6 leaves keyed by 3, with two
 * doubles; a product: 4 leaves keyed by 1, with an int64), whose lookups are unrolled, written leaf
 * by leaf or as groups. Rows come back with the key cells of a remembered row and exactly one
 * other cell changed, in every position: a string of the same length with another last byte, a
 * longer one, an empty one (NULL pointer), a double one ulp off, -0.0 for 0.0 (other bytes), a
 * price one cent off, a key cell changed. Each must be written as it is, never as the remembered
 * row (a miss of the fast path), over several row groups. */
static int write_group_shapes(bool group, membuf *mb, char *err, size_t errlen) {
    pq_schema *s = pq_schema_new();
    static const char *const names[] = {"store_id", "store_type", "city", "province", "lat", "lon",
                                        "product_id", "product_name", "category", "price"};
    static const pq_kind kinds[] = {PQ_STRING, PQ_STRING, PQ_STRING, PQ_STRING, PQ_DOUBLE,
                                    PQ_DOUBLE, PQ_STRING, PQ_STRING, PQ_STRING, PQ_INT64};
    for (int i = 0; i < 10; i++) pq_schema_add(s, -1, names[i], kinds[i], false, err, errlen);
    pq_write_opts o = {.codec = PQ_ZSTD, .row_group_bytes = 300000};
    pq_writer *w = pq_writer_new(s, &o, mem_write, mb, err, errlen);
    pq_schema_free(s);
    if (!w) return -1;
    char sid[16], typ[32], city[32], prov[32], pid[16], pname[64], cat[16];
    int rc = 0;
    for (int i = 0; i < 40000; i++) {
        int k = i % 37, m = (i / 37) % 10;
        double lat = k / 4.0, lon = m == 5 ? -0.0 : 0.0;
        if (m == 4) lat = nextafter(lat, 100.0);
        int64_t price = k * 1000 + (m == 9);
        pq_bytes v[10] = {
            {sid, (uint32_t)snprintf(sid, sizeof sid, "ST%03d", m == 7 ? k + 100 : k)},
            {typ, (uint32_t)snprintf(typ, sizeof typ, "%s", m == 1 ? "physical_storf" : "physical_store")},
            {city, (uint32_t)snprintf(city, sizeof city, "%s%d", m == 2 ? "Guayaquil" : "Quito", m == 6 ? k + 1 : k)},
            {m == 3 ? NULL : prov, m == 3 ? 0 : (uint32_t)snprintf(prov, sizeof prov, "Pichincha")},
            {(const char *)&lat, 0},
            {(const char *)&lon, 0},
            {pid, (uint32_t)snprintf(pid, sizeof pid, "P%04d", k)},
            {pname, (uint32_t)snprintf(pname, sizeof pname, "a product name longer than sixteen %d%c", k,
                                       m == 8 ? 'y' : 'x')},
            {cat, (uint32_t)snprintf(cat, sizeof cat, "%s", m == 2 ? "" : "fashion")},
            {(const char *)&price, 0}};
        if (group) {
            rc |= pq_write_group(w, 0, 6, 3, v, err, errlen);
            rc |= pq_write_group(w, 6, 4, 1, v + 6, err, errlen);
        } else {
            for (int l = 0; l < 10; l++) {
                if (kinds[l] == PQ_STRING) rc |= pq_write_str(w, l, v[l].p, v[l].n, err, errlen);
                else if (kinds[l] == PQ_INT64) rc |= pq_write_i64(w, l, price, err, errlen);
                else rc |= pq_write_f64(w, l, l == 4 ? lat : lon, err, errlen);
            }
        }
        rc |= pq_writer_end_rows(w, 1, err, errlen);
    }
    rc |= pq_writer_close(w, err, errlen);
    pq_writer_free(w);
    return rc ? -1 : 0;
}

/* The unrolled group shapes write the very same bytes as the single appends, whichever cell of a
 * remembered row differs. */
static void test_write_group_shapes(check_state *st) {
    check_variant_same_bytes(st, write_group_shapes, 0, -1);
}

/* DECIMAL(18,2) on INT64 and BINARY: the schema elements carry the annotations (read back as
 * PQ_DECIMAL with precision/scale, PQ_BINARY), values come back exact (unscaled int64, every
 * byte), JSON prints the decimal exactly, describe names DECIMAL(18,2); bad precisions and a
 * PQ_DECIMAL through pq_schema_add are refused. */
static void test_decimal_binary(check_state *st) {
    CHECK_STATE(st);
    char err[256];
    pq_schema *s = pq_schema_new();
    CHECK(pq_schema_add_decimal(s, -1, "price", 18, 2, false, err, sizeof err) == 0);
    CHECK(pq_schema_add_decimal(s, -1, "total", 18, 2, true, err, sizeof err) == 1);
    CHECK(pq_schema_add(s, -1, "raw", PQ_BINARY, false, err, sizeof err) == 2);
    int items = pq_schema_add(s, -1, "items", PQ_LIST, true, err, sizeof err);
    CHECK(items == 3);
    CHECK(pq_schema_add_decimal(s, items, "unit_price", 18, 2, false, err, sizeof err) > items);
    CHECK(pq_schema_add_decimal(s, -1, "bad", 19, 2, false, err, sizeof err) == -1);
    CHECK(strstr(err, "DECIMAL(19,2)") != NULL);
    CHECK(pq_schema_add_decimal(s, -1, "bad", 4, 5, false, err, sizeof err) == -1);
    CHECK(pq_schema_add_decimal(s, -1, "bad", 0, 0, false, err, sizeof err) == -1);
    CHECK(pq_schema_add(s, -1, "bad", PQ_DECIMAL, false, err, sizeof err) == -1);
    CHECK(pq_schema_add_decimal(s, -1, "price", 18, 2, false, err, sizeof err) == -1); /* duplicate */
    const int64_t vals[] = {1234, -5, 0, -1, 100, INT64_MAX, INT64_MIN + 1, 999999999999999999LL, 7};
    enum { NV = sizeof vals / sizeof vals[0] };
    membuf mb = {{0}};
    pq_writer *w = pq_writer_new(s, NULL, mem_write, &mb, err, sizeof err);
    CHECK(w != NULL);
    uint8_t bytes[256];
    for (int i = 0; i < 256; i++) bytes[i] = (uint8_t)i;
    int rc = 0;
    for (int i = 0; w && i < NV; i++) {
        rc |= pq_write_i64(w, 0, vals[i], err, sizeof err);
        rc |= i % 3 == 1 ? pq_write_null(w, 1, err, sizeof err) : pq_write_i64(w, 1, -vals[i], err, sizeof err);
        rc |= pq_write_str(w, 2, (const char *)bytes, (size_t)(i * 32) % 257, err, sizeof err);
        int16_t def[2] = {3, 3}, rep[2] = {0, 1};
        int64_t up[2] = {vals[i], 42};
        rc |= pq_write_levels(w, 3, 2, def, rep, up, 2, err, sizeof err);
        rc |= pq_writer_end_rows(w, 1, err, sizeof err);
    }
    CHECK_INTEQ(rc, 0);
    CHECK(pq_write_f64(w, 0, 1.5, err, sizeof err) == -1); /* a decimal takes int64 only */
    CHECK(pq_writer_close(w, err, sizeof err) == 0);
    pq_writer_free(w);
    pq_schema_free(s);
    pq_reader *r = pq_reader_open_mem(mb.t.data, mb.t.len, NULL, err, sizeof err);
    CHECK(r != NULL);
    if (!r) return;
    const pq_schema *rs = pq_reader_schema(r);
    const pq_node *pn = pq_schema_node(rs, pq_schema_find(rs, "price"));
    CHECK(pn && pn->kind == PQ_DECIMAL && pn->precision == 18 && pn->scale == 2 && pn->phys == PQ_PHYS_INT64);
    const pq_node *un = pq_schema_node(rs, pq_schema_leaf_node(rs, 3));
    CHECK(un && un->kind == PQ_DECIMAL && un->precision == 18 && un->scale == 2);
    const pq_node *bn = pq_schema_node(rs, pq_schema_find(rs, "raw"));
    CHECK(bn && bn->kind == PQ_BINARY);
    pq_column c;
    CHECK(pq_reader_read_column(r, 0, 0, &c, err, sizeof err) == 0);
    for (int i = 0; i < NV; i++) CHECK(c.v.i64[i] == vals[i]);
    pq_column_free(&c);
    CHECK(pq_reader_read_column(r, 0, 2, &c, err, sizeof err) == 0);
    for (int i = 0; i < NV; i++) {
        size_t n = (size_t)(i * 32) % 257;
        CHECK(c.v.bytes[i].n == n && (n == 0 || memcmp(c.v.bytes[i].p, bytes, n) == 0));
    }
    pq_column_free(&c);
    const char *want[NV] = {"12.34", "-0.05", "0.00", "-0.01", "1.00", "92233720368547758.07",
                            "-92233720368547758.07", "9999999999999999.99", "0.07"};
    pq_rows *rows = pq_rows_open(r, 0, NULL, 0, err, sizeof err);
    CHECK(rows != NULL);
    pq_text t = {0};
    for (int i = 0; rows && i < NV; i++) {
        t.len = 0;
        CHECK(pq_rows_field_json(rows, 0, &t, err, sizeof err) == 0);
        CHECK_STREQ(t.data, want[i]);
        t.len = 0;
        CHECK(pq_rows_field_json(rows, 3, &t, err, sizeof err) == 0);
        char list[64];
        snprintf(list, sizeof list, "[{\"unit_price\":%s},{\"unit_price\":0.42}]", want[i]);
        CHECK_STREQ(t.data, list);
        CHECK(pq_rows_next(rows, err, sizeof err) == 0);
    }
    pq_rows_free(rows);
    t.len = 0;
    CHECK(pq_reader_describe(r, &t) == 0);
    CHECK(t.data && strstr(t.data, "required int64 price (DECIMAL(18,2));") != NULL);
    CHECK(t.data && strstr(t.data, "required binary raw;") != NULL);
    pq_text_free(&t);
    pq_reader_close(r);
    pq_text_free(&mb.t);
}

int main(void) {
    check_state st = {0};
    RUN(&st, test_rle);
    RUN(&st, test_rle_runs);
    RUN(&st, test_roundtrip);
    RUN(&st, test_rowgroups_and_fallback);
    RUN(&st, test_dictionary_states);
    RUN(&st, test_dense_ids);
    RUN(&st, test_decimal_binary);
    RUN(&st, test_write_group);
    RUN(&st, test_write_group_shapes);
    RUN(&st, test_write_str_id);
    RUN(&st, test_errors);
    RUN(&st, test_row_count_errors);
    RUN(&st, test_hostile);
    return CHECK_EXIT(&st);
}
