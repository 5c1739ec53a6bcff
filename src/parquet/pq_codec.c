/*
 * pq_codec.c — page decompression for the reader, every codec through its Debian library:
 * SNAPPY (libsnappy), GZIP (zlib), BROTLI (libbrotlidec), ZSTD (libzstd), LZ4_RAW and the
 * Hadoop-framed LZ4 (liblz4); plus the names of codecs and encodings for messages.
 *
 * Every decoder writes into a caller buffer of exactly the page's declared uncompressed size
 * and must fill it exactly: more or less output is "corrupt <codec> page", so a hostile size
 * can neither overrun nor leave uninitialised bytes behind.
 */
#include <brotli/decode.h>
#include <limits.h>
#include <lz4.h>
#include <lz4frame.h>
#include <snappy-c.h>
#include <zlib.h>
#include <zstd.h>

#include "parquet/pq_internal.h"

struct pq_decomp {
    ZSTD_DCtx *zstd;
    LZ4F_dctx *lz4f;
};

pq_decomp *pq_decomp_new(void) { return calloc(1, sizeof(pq_decomp)); }

void pq_decomp_free(pq_decomp *dc) {
    if (!dc) return;
    if (dc->zstd) ZSTD_freeDCtx(dc->zstd);
    if (dc->lz4f) LZ4F_freeDecompressionContext(dc->lz4f);
    free(dc);
}

const char *pq_codec_name(int codec) {
    static const char *const names[] = {"UNCOMPRESSED", "SNAPPY", "GZIP", "LZO", "BROTLI", "LZ4", "ZSTD",
                                        "LZ4_RAW"};
    return codec >= 0 && codec < (int)(sizeof names / sizeof *names) ? names[codec] : NULL;
}

const char *pq_encoding_name(int enc) {
    static const char *const names[] = {"PLAIN", "GROUP_VAR_INT", "PLAIN_DICTIONARY", "RLE", "BIT_PACKED",
                                        "DELTA_BINARY_PACKED", "DELTA_LENGTH_BYTE_ARRAY", "DELTA_BYTE_ARRAY",
                                        "RLE_DICTIONARY", "BYTE_STREAM_SPLIT"};
    return enc >= 0 && enc < (int)(sizeof names / sizeof *names) ? names[enc] : NULL;
}

bool pq_codec_supported(int codec) {
    return codec == PQ_UNCOMPRESSED || codec == PQ_SNAPPY || codec == PQ_GZIP || codec == PQ_BROTLI ||
           codec == PQ_LZ4 || codec == PQ_ZSTD || codec == PQ_LZ4_RAW;
}

int pq_codec_check(int codec, char *err, size_t errlen) {
    if (pq_codec_supported(codec)) return 0;
    const char *name = pq_codec_name(codec);
    if (name) pq_seterr(err, errlen, "unsupported codec %s", name);
    else pq_seterr(err, errlen, "unknown codec %d", codec);
    return -1;
}

static int corrupt(char *err, size_t errlen, int codec, const char *why) {
    pq_seterr(err, errlen, "corrupt %s page%s%s", pq_codec_name(codec), why ? ": " : "", why ? why : "");
    return -1;
}

static int snappy_page(const uint8_t *src, size_t n, uint8_t *dst, size_t dn) {
    size_t ulen, got = dn;
    if (snappy_uncompressed_length((const char *)src, n, &ulen) != SNAPPY_OK || ulen != dn) return -1;
    return snappy_uncompress((const char *)src, n, (char *)dst, &got) == SNAPPY_OK && got == dn ? 0 : -1;
}

/* GZIP: zlib with automatic gzip/zlib header detection. A page may hold several gzip members
 * back to back (concatenated_gzip_members.parquet, as `cat a.gz b.gz` makes): after each
 * member's end the stream is reset and inflation goes on while input is left. */
static int gzip_page(const uint8_t *src, size_t n, uint8_t *dst, size_t dn) {
    z_stream z = {0};
    if (n > UINT_MAX || dn > UINT_MAX || inflateInit2(&z, 15 + 32) != Z_OK) return -1;
    z.next_in = (Bytef *)src;
    z.avail_in = (uInt)n;
    z.next_out = dst;
    z.avail_out = (uInt)dn;
    int rc;
    while ((rc = inflate(&z, Z_FINISH)) == Z_STREAM_END && z.avail_in > 0 && z.avail_out > 0)
        if (inflateReset(&z) != Z_OK) break;
    bool ok = rc == Z_STREAM_END && z.avail_out == 0;
    inflateEnd(&z);
    return ok ? 0 : -1;
}

static int brotli_page(const uint8_t *src, size_t n, uint8_t *dst, size_t dn) {
    size_t got = dn;
    return BrotliDecoderDecompress(n, src, &got, dst) == BROTLI_DECODER_RESULT_SUCCESS && got == dn ? 0 : -1;
}

static int zstd_page(pq_decomp *dc, const uint8_t *src, size_t n, uint8_t *dst, size_t dn, char *err,
                     size_t errlen) {
    if (!dc->zstd && !(dc->zstd = ZSTD_createDCtx())) {
        pq_seterr(err, errlen, "out of memory");
        return -1;
    }
    size_t got = ZSTD_decompressDCtx(dc->zstd, dst, dn, src, n);
    if (ZSTD_isError(got)) return corrupt(err, errlen, PQ_ZSTD, ZSTD_getErrorName(got));
    return got == dn ? 0 : corrupt(err, errlen, PQ_ZSTD, "size differs from the page header");
}

/* One raw LZ4 block (LZ4_RAW, and each frame of the Hadoop format) of exactly dn bytes. */
static int lz4_block(const uint8_t *src, size_t n, uint8_t *dst, size_t dn) {
    if (n > INT_MAX || dn > INT_MAX) return -1;
    int got = LZ4_decompress_safe((const char *)src, (char *)dst, (int)n, (int)dn);
    return got >= 0 && (size_t)got == dn ? 0 : -1;
}

static uint32_t be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Hadoop's LZ4 framing (parquet-java's codec 5): frames of [uncompressed size BE32]
 * [compressed size BE32][raw LZ4 block], back to back, filling the page exactly. */
static int lz4_hadoop(const uint8_t *src, size_t n, uint8_t *dst, size_t dn) {
    size_t out = 0;
    while (n >= 8) {
        uint32_t ul = be32(src), cl = be32(src + 4);
        src += 8;
        n -= 8;
        if (cl > n || ul > dn - out || lz4_block(src, cl, dst + out, ul)) return -1;
        src += cl;
        n -= cl;
        out += ul;
    }
    return n == 0 && out == dn ? 0 : -1;
}

/* The LZ4 frame format (lz4 command line, LZ4F API), which some writers put under codec 5. */
static int lz4_frame(pq_decomp *dc, const uint8_t *src, size_t n, uint8_t *dst, size_t dn) {
    if (!dc->lz4f && LZ4F_isError(LZ4F_createDecompressionContext(&dc->lz4f, LZ4F_VERSION))) {
        dc->lz4f = NULL;
        return -1;
    }
    LZ4F_resetDecompressionContext(dc->lz4f);
    size_t in = 0, out = 0, rc = 1;
    while (rc != 0) { /* each call consumes what it can; no progress means truncated or too large */
        size_t ia = n - in, oa = dn - out;
        rc = LZ4F_decompress(dc->lz4f, dst + out, &oa, src + in, &ia, NULL);
        if (LZ4F_isError(rc) || (ia == 0 && oa == 0 && rc != 0)) return -1;
        in += ia;
        out += oa;
    }
    return in == n && out == dn ? 0 : -1;
}

/* Codec 5 (LZ4, deprecated) has meant three formats in practice, tried in the order of
 * arrow-rs's reader (parquet-cpp's tries the first and the last): the Hadoop framing
 * (parquet-java), the LZ4 frame format, and a bare LZ4 block (older parquet-cpp). */
static int lz4_legacy(pq_decomp *dc, const uint8_t *src, size_t n, uint8_t *dst, size_t dn) {
    if (lz4_hadoop(src, n, dst, dn) == 0) return 0;
    if (lz4_frame(dc, src, n, dst, dn) == 0) return 0;
    return lz4_block(src, n, dst, dn);
}

int pq_decompress(pq_decomp *dc, int codec, const uint8_t *src, size_t n, uint8_t *dst, size_t dn, char *err,
                  size_t errlen) {
    /* An empty page body: some writers store zero bytes rather than the codec's encoding of
     * nothing (datapage_v2_empty_datapage.snappy.parquet). */
    if (n == 0 && dn == 0) return 0;
    switch (codec) {
    case PQ_UNCOMPRESSED:
        if (n != dn) {
            pq_seterr(err, errlen, "page size mismatch (%zu vs %zu)", n, dn);
            return -1;
        }
        memcpy(dst, src, n);
        return 0;
    case PQ_SNAPPY: return snappy_page(src, n, dst, dn) ? corrupt(err, errlen, codec, NULL) : 0;
    case PQ_GZIP: return gzip_page(src, n, dst, dn) ? corrupt(err, errlen, codec, NULL) : 0;
    case PQ_BROTLI: return brotli_page(src, n, dst, dn) ? corrupt(err, errlen, codec, NULL) : 0;
    case PQ_ZSTD: return zstd_page(dc, src, n, dst, dn, err, errlen);
    case PQ_LZ4_RAW: return lz4_block(src, n, dst, dn) ? corrupt(err, errlen, codec, NULL) : 0;
    case PQ_LZ4: return lz4_legacy(dc, src, n, dst, dn) ? corrupt(err, errlen, codec, NULL) : 0;
    }
    return pq_codec_check(codec, err, errlen);
}
