/* test_pq_decode.c — the reader's page decoders on their own: every codec of pq_codec.c on
 * bytes made by the codec's own library (zlib, liblz4; gzip members concatenated, Hadoop
 * frames, the LZ4 frame format, a bare block under codec 5), the spec's examples of
 * DELTA_LENGTH_BYTE_ARRAY and DELTA_BYTE_ARRAY (prefixes across pages), BYTE_STREAM_SPLIT,
 * and hostile input: every truncation, wrong sizes, prefixes longer than their predecessor,
 * expansion past the budget, codecs named in errors. (pyarrow-written files of every codec and
 * encoding: tests/integ/test_parquet_decode.py.) */
#include <lz4.h>
#include <lz4frame.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "check.h"
#include "parquet/pq_internal.h"

static uint8_t plain[5000];

static void fill_plain(void) {
    for (size_t i = 0; i < sizeof plain; i++) plain[i] = (uint8_t)("abcabcabd"[i % 9] + (i / 700));
}

static size_t gzip_member(const uint8_t *src, size_t n, uint8_t *out, size_t cap) {
    z_stream z = {0};
    if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return 0;
    z.next_in = (Bytef *)src;
    z.avail_in = (uInt)n;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    int rc = deflate(&z, Z_FINISH);
    size_t got = cap - z.avail_out;
    deflateEnd(&z);
    return rc == Z_STREAM_END ? got : 0;
}

static void put_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* dst must hold exactly n bytes that equal plain[0..n); every truncation of src must fail. */
static void check_codec(check_state *st, int codec, const uint8_t *src, size_t n, size_t dn) {
    CHECK_STATE(st);
    char err[128];
    uint8_t *dst = malloc(dn + 1);
    pq_decomp *dc = pq_decomp_new();
    CHECK(dst && dc);
    if (!dst || !dc) return;
    CHECK(pq_decompress(dc, codec, src, n, dst, dn, err, sizeof err) == 0);
    CHECK(memcmp(dst, plain, dn) == 0);
    CHECK(pq_decompress(dc, codec, src, n, dst, dn - 1, err, sizeof err) == -1);
    CHECK(strstr(err, pq_codec_name(codec)) != NULL);
    CHECK(pq_decompress(dc, codec, src, n, dst, dn + 1, err, sizeof err) == -1);
    for (size_t cut = 1; cut < n; cut += cut < 64 ? 1 : 97)
        CHECK(pq_decompress(dc, codec, src, n - cut, dst, dn, err, sizeof err) == -1);
    pq_decomp_free(dc);
    free(dst);
}

static void test_codecs(check_state *st) {
    CHECK_STATE(st);
    static uint8_t buf[3 * sizeof plain];
    size_t half = sizeof plain / 2;
    /* GZIP: two members back to back (concatenated_gzip_members.parquet) */
    size_t a = gzip_member(plain, half, buf, sizeof buf);
    size_t b = gzip_member(plain + half, sizeof plain - half, buf + a, sizeof buf - a);
    CHECK(a && b);
    check_codec(st, PQ_GZIP, buf, a + b, sizeof plain);
    /* LZ4_RAW: one block */
    int n = LZ4_compress_default((const char *)plain, (char *)buf, (int)sizeof plain, (int)sizeof buf);
    CHECK(n > 0);
    check_codec(st, PQ_LZ4_RAW, buf, (size_t)n, sizeof plain);
    /* codec 5, bare block (older parquet-cpp) */
    check_codec(st, PQ_LZ4, buf, (size_t)n, sizeof plain);
    /* codec 5, Hadoop framing: two frames [ulen BE][clen BE][block] */
    uint8_t *p = buf;
    for (int f = 0; f < 2; f++) {
        const uint8_t *part = plain + (f ? half : 0);
        size_t plen = f ? sizeof plain - half : half;
        int c = LZ4_compress_default((const char *)part, (char *)p + 8, (int)plen, (int)(sizeof buf - (size_t)(p - buf) - 8));
        CHECK(c > 0);
        put_be32(p, (uint32_t)plen);
        put_be32(p + 4, (uint32_t)c);
        p += 8 + c;
    }
    check_codec(st, PQ_LZ4, buf, (size_t)(p - buf), sizeof plain);
    /* codec 5, LZ4 frame format */
    size_t fn = LZ4F_compressFrame(buf, sizeof buf, plain, sizeof plain, NULL);
    CHECK(!LZ4F_isError(fn));
    check_codec(st, PQ_LZ4, buf, fn, sizeof plain);
    /* names in errors; empty bodies */
    char err[128];
    pq_decomp *dc = pq_decomp_new();
    CHECK(pq_decompress(dc, PQ_LZO, buf, 10, buf + 100, 10, err, sizeof err) == -1);
    CHECK_STREQ(err, "unsupported codec LZO");
    CHECK(pq_decompress(dc, 42, buf, 10, buf + 100, 10, err, sizeof err) == -1);
    CHECK_STREQ(err, "unknown codec 42");
    CHECK(pq_decompress(dc, PQ_SNAPPY, buf, 0, buf + 100, 0, err, sizeof err) == 0);
    CHECK(pq_decompress(dc, PQ_SNAPPY, buf, 0, buf + 100, 1, err, sizeof err) == -1);
    CHECK(pq_codec_supported(PQ_BROTLI) && !pq_codec_supported(PQ_LZO) && !pq_codec_supported(8));
    CHECK_STREQ(pq_encoding_name(7), "DELTA_BYTE_ARRAY");
    CHECK(pq_encoding_name(10) == NULL && pq_codec_name(-1) == NULL);
    pq_decomp_free(dc);
}

/* ---- a DELTA_BINARY_PACKED encoder for the tests: one block of 128, 4 miniblocks of 32 ---- */
static size_t put_uv(uint8_t *o, uint64_t v) {
    size_t n = 0;
    while (v >= 0x80) {
        o[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    o[n++] = (uint8_t)v;
    return n;
}

/* Deltas wrap like the decoder's (two's complement), so extremes next to each other encode. */
static int64_t wdelta(const int64_t *v, size_t i) { return (int64_t)((uint64_t)v[i] - (uint64_t)v[i - 1]); }

static size_t enc_delta(const int64_t *v, size_t n, uint8_t *o) {
    size_t k = put_uv(o, 128);
    k += put_uv(o + k, 4);
    k += put_uv(o + k, n);
    k += put_uv(o + k, (uint64_t)pq_zigzag(n ? v[0] : 0));
    for (size_t b = 1; b < n; b += 128) {
        size_t cnt = n - b < 128 ? n - b : 128;
        int64_t mind = INT64_MAX;
        for (size_t i = 0; i < cnt; i++) mind = wdelta(v, b + i) < mind ? wdelta(v, b + i) : mind;
        k += put_uv(o + k, (uint64_t)pq_zigzag(mind));
        uint8_t *bw = o + k;
        k += 4;
        for (size_t m = 0; m < 4; m++) {
            bw[m] = 0;
            if (m * 32 >= cnt) continue;
            uint64_t mx = 0;
            for (size_t i = m * 32; i < cnt && i < m * 32 + 32; i++) {
                uint64_t d = (uint64_t)wdelta(v, b + i) - (uint64_t)mind;
                mx = d > mx ? d : mx;
            }
            bw[m] = (uint8_t)pq_bit_width(mx);
            memset(o + k, 0, 4 * (size_t)bw[m]);
            for (size_t i = 0; i < 32 && m * 32 + i < cnt; i++) {
                uint64_t d = (uint64_t)wdelta(v, b + m * 32 + i) - (uint64_t)mind;
                for (int t = 0; t < bw[m]; t++)
                    if (d >> t & 1) o[k + (i * bw[m] + (size_t)t) / 8] |= (uint8_t)(1u << ((i * bw[m] + (size_t)t) % 8));
            }
            k += 4 * (size_t)bw[m];
        }
    }
    return k;
}

static size_t enc_delta_length(const char *const *s, size_t n, uint8_t *o) {
    int64_t lens[16] = {0};
    for (size_t i = 0; i < n; i++) lens[i] = (int64_t)strlen(s[i]);
    size_t k = enc_delta(lens, n, o);
    for (size_t i = 0; i < n; i++) {
        memcpy(o + k, s[i], strlen(s[i]));
        k += strlen(s[i]);
    }
    return k;
}

static void test_delta(check_state *st) {
    CHECK_STATE(st);
    uint8_t b[1024];
    const char *why;
    size_t used;
    /* DELTA_BINARY_PACKED over more than one block, extremes included */
    int64_t v[300], got[300];
    for (int i = 0; i < 300; i++) v[i] = i % 7 == 0 ? INT64_MIN + i : i % 5 == 0 ? INT64_MAX - i : (int64_t)i * i - 900;
    static uint8_t big[8192];
    size_t n = enc_delta(v, 300, big);
    CHECK(pq_delta_decode(big, n, 300, false, got, &used, &why) == 0 && used == n);
    CHECK(memcmp(got, v, sizeof v) == 0);
    for (size_t cut = 1; cut < n; cut++) CHECK(pq_delta_decode(big, n - cut, 300, false, got, &used, &why) == -1);
    /* the spec's DELTA_LENGTH_BYTE_ARRAY example */
    const char *words[] = {"Hello", "World", "Foobar", "ABCDEF"};
    pq_bytes out[8];
    n = enc_delta_length(words, 4, b);
    CHECK(pq_delta_length_decode(b, n, 4, out, &why) == 0);
    for (int i = 0; i < 4; i++) CHECK(out[i].n == strlen(words[i]) && !memcmp(out[i].p, words[i], out[i].n));
    for (size_t cut = 1; cut < n; cut++) CHECK(pq_delta_length_decode(b, n - cut, 4, out, &why) == -1);
    /* the spec's DELTA_BYTE_ARRAY example, split over two pages: page 2 starts with a prefix of
     * page 1's last value */
    int64_t pre1[] = {0, 2}, pre2[] = {0, 3}, pre3[] = {3};
    const char *suf1[] = {"axis", "le"}, *suf2[] = {"babble", "yhood"}, *suf3[] = {"y"};
    pq_bytes prev = {0};
    uint64_t budget = 1000;
    uint8_t *store1, *store2, *store3;
    size_t k = enc_delta(pre1, 2, b);
    k += enc_delta_length(suf1, 2, b + k);
    CHECK(pq_delta_bytes_decode(b, k, 2, &prev, &budget, out, &store1, &why) == 0);
    k = enc_delta(pre2, 2, b);
    k += enc_delta_length(suf2, 2, b + k);
    CHECK(pq_delta_bytes_decode(b, k, 2, &prev, &budget, out + 2, &store2, &why) == 0);
    const char *want[] = {"axis", "axle", "babble", "babyhood"};
    for (int i = 0; i < 4; i++) CHECK(out[i].n == strlen(want[i]) && !memcmp(out[i].p, want[i], out[i].n));
    CHECK(budget == 1000 - 22);
    k = enc_delta(pre3, 1, b); /* "bab" + "y": the prefix comes from the previous page */
    k += enc_delta_length(suf3, 1, b + k);
    CHECK(pq_delta_bytes_decode(b, k, 1, &prev, &budget, out + 4, &store3, &why) == 0);
    CHECK(out[4].n == 4 && !memcmp(out[4].p, "baby", 4));
    free(store1);
    free(store2);
    free(store3);
    /* hostile: a prefix longer than its predecessor; expansion past the budget */
    int64_t badpre[] = {0, 5};
    const char *badsuf[] = {"ab", "c"};
    k = enc_delta(badpre, 2, b);
    k += enc_delta_length(badsuf, 2, b + k);
    prev = (pq_bytes){0};
    CHECK(pq_delta_bytes_decode(b, k, 2, &prev, &budget, out, &store1, &why) == -1);
    CHECK(strstr(why, "prefix") != NULL);
    budget = 4;
    k = enc_delta(pre1, 2, b);
    k += enc_delta_length(suf1, 2, b + k);
    CHECK(pq_delta_bytes_decode(b, k, 2, &prev, &budget, out, &store1, &why) == -1);
    CHECK(strstr(why, "limit") != NULL);
}

static void test_byte_stream_split(check_state *st) {
    CHECK_STATE(st);
    float f[3] = {1.5f, -2.25f, 1e30f}, g[3];
    uint8_t raw[12], split[16];
    memcpy(raw, f, sizeof f);
    for (int k = 0; k < 4; k++)
        for (int i = 0; i < 3; i++) split[k * 3 + i] = raw[i * 4 + k];
    const char *why;
    CHECK(pq_bss_decode(split, 12, 3, 4, (uint8_t *)g, &why) == 0 && !memcmp(f, g, sizeof f));
    CHECK(pq_bss_decode(split, 11, 3, 4, (uint8_t *)g, &why) == -1);
    CHECK(pq_bss_decode(split, 12, 3, 0, (uint8_t *)g, &why) == -1);
    /* FIXED_LEN_BYTE_ARRAY(3): "abc", "def" -> streams "ad", "be", "cf" */
    uint8_t out[6];
    CHECK(pq_bss_decode((const uint8_t *)"adbecf", 6, 2, 3, out, &why) == 0 && !memcmp(out, "abcdef", 6));
}

int main(void) {
    check_state st = {0};
    fill_plain();
    RUN(&st, test_codecs);
    RUN(&st, test_delta);
    RUN(&st, test_byte_stream_split);
    return CHECK_EXIT(&st);
}
