/*
 * pq_enc.c — the RLE / bit-packed hybrid (levels, dictionary indices, booleans) and the
 * writer's page compression (snappy, zstd through their Debian libraries; the reader's
 * decompression is pq_codec.c).
 *
 * Hand-written because it is the hot path of both writer and reader: the encoder emits RLE
 * runs for >= 8 equal values and bit-packed groups of 8 otherwise; the decoder checks every
 * run against the bytes left and the values wanted, so hostile input cannot overrun.
 */
#include <snappy-c.h>
#define ZSTD_STATIC_LINKING_ONLY /* ZSTD_c_literalCompressionMode (zstd_dense) */
#include <zstd.h>

#include "parquet/pq_internal.h"

static int put_varint(pq_text *t, uint64_t v) {
    uint8_t tmp[10];
    int n = 0;
    while (v >= 0x80) {
        tmp[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    tmp[n++] = (uint8_t)v;
    return pq_text_append(t, tmp, (size_t)n);
}

/* Eight values of at most 16 bits each, bit-packed LSB first into bw bytes at o: two words of
 * four values joined in one 128-bit word, stored whole (the caller has 16 bytes of room; the
 * next group overwrites the rest). Dictionary indices of up to 65536 entries take this path:
 * the loop below, a few shifts per value, was 2.3% of `ecom stream`'s instructions. Little-endian hosts only (the stored word's byte order). */
#if defined(__SIZEOF_INT128__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define PACK_WIDE 1
#define DEFINE_PACK8(NAME, T)                                                                  \
    static inline void NAME##_pack8(uint8_t *o, const T *v, int bw) {                          \
        uint64_t lo = 0, hi = 0; /* four values each: 4 * 16 bits fit a word */                \
        for (int k = 3; k >= 0; k--) {                                                         \
            lo = lo << bw | (uint16_t)v[k];                                                    \
            hi = hi << bw | (uint16_t)v[k + 4];                                                \
        }                                                                                      \
        unsigned __int128 acc = lo | (unsigned __int128)hi << (4 * bw);                        \
        memcpy(o, &acc, 16);                                                                   \
    }
#else
#define PACK_WIDE 0
#define DEFINE_PACK8(NAME, T)                                                                  \
    static inline void NAME##_pack8(uint8_t *o, const T *v, int bw) { (void)o, (void)v, (void)bw; }
#endif

/* Bit-packs cnt values (cnt a multiple of 8, or the final padded group) LSB first.
 * NAME: runs of >= 8 equal values become RLE runs (one is left in the bit-packed group when the
 * group's alignment would cut it below 8), the rest bit-packed groups. NAME_next8 finds, from
 * the start of a run at i, where the next run of >= 8 begins (n: none). Why not value by value:
 * dictionary indices rarely repeat, and a run of 8 must cover both ends of any 7-value window,
 * so one unequal pair (v[t+6], v[t+7]) rules out 7 starts at once (value by value, this scan was
 * 1.7% of `ecom stream`'s instructions). */
#define DEFINE_RLE_ENCODE(NAME, T)                                                             \
    DEFINE_PACK8(NAME, T)                                                                      \
    static int NAME##_pack(pq_text *out, const T *v, size_t cnt, int bw) {                     \
        size_t groups = (cnt + 7) / 8;                                                        \
        if (put_varint(out, ((uint64_t)groups << 1) | 1)) return -1;                           \
        size_t bytes = groups * (size_t)bw;                                                    \
        if (pq_text_reserve(out, bytes + 16)) return -1;                                       \
        uint8_t *o = (uint8_t *)out->data + out->len;                                          \
        uint64_t acc = 0;                                                                      \
        int nb = 0;                                                                            \
        size_t k = 0, i = 0;                                                                   \
        if (PACK_WIDE && bw <= 16)                                                             \
            for (; i + 8 <= cnt; i += 8, k += (size_t)bw) NAME##_pack8(o + k, v + i, bw);      \
        for (; i < groups * 8; i++) {                                                          \
            uint64_t x = i < cnt ? (uint64_t)(uint32_t)v[i] : 0;                               \
            acc |= x << nb;                                                                    \
            nb += bw;                                                                          \
            while (nb >= 8) {                                                                  \
                o[k++] = (uint8_t)acc;                                                         \
                acc >>= 8;                                                                     \
                nb -= 8;                                                                       \
            }                                                                                  \
        }                                                                                      \
        out->len += bytes;                                                                     \
        return 0;                                                                              \
    }                                                                                          \
    static int NAME##_run(pq_text *out, T val, size_t cnt, int bw) {                           \
        if (put_varint(out, (uint64_t)cnt << 1)) return -1;                                    \
        uint32_t x = (uint32_t)val;                                                            \
        for (int b = 0; b < (bw + 7) / 8; b++)                                                 \
            if (pq_text_byte(out, (uint8_t)(x >> (8 * b)))) return -1;                         \
        return 0;                                                                              \
    }                                                                                          \
    static size_t NAME##_next8(const T *v, size_t i, size_t n) {                               \
        size_t t = i;                                                                          \
        while (t + 8 <= n) {                                                                   \
            if (v[t + 7] != v[t + 6]) {                                                        \
                t += 7;                                                                        \
                continue;                                                                      \
            }                                                                                  \
            size_t k = t + 6;                                                                  \
            while (k > t && v[k - 1] == v[t + 7]) k--;                                         \
            if (k > t) {                                                                       \
                t = k;                                                                         \
                continue;                                                                      \
            }                                                                                  \
            while (t > i && v[t - 1] == v[t]) t--;                                             \
            return t;                                                                          \
        }                                                                                      \
        return n;                                                                              \
    }                                                                                          \
    static int NAME(pq_text *out, const T *v, size_t n, int bw) {                              \
        size_t i = 0, lit = 0;                                                                 \
        while ((i = NAME##_next8(v, i, n)) < n) {                                              \
            size_t j = i + 8;                                                                  \
            while (j < n && v[j] == v[i]) j++;                                                 \
            size_t run = j - i, pend = i - lit;                                                \
            if (pend % 8) {                                                                    \
                size_t k = 8 - pend % 8;                                                       \
                if (run - k < 8) {                                                             \
                    i = j;                                                                     \
                    continue;                                                                  \
                }                                                                              \
                i += k;                                                                        \
            }                                                                                  \
            if (i > lit && NAME##_pack(out, v + lit, i - lit, bw)) return -1;                  \
            if (NAME##_run(out, v[i], j - i, bw)) return -1;                                   \
            lit = i = j;                                                                       \
        }                                                                                      \
        if (n > lit && NAME##_pack(out, v + lit, n - lit, bw)) return -1;                      \
        return 0;                                                                              \
    }

DEFINE_RLE_ENCODE(rle_enc32, uint32_t)
DEFINE_RLE_ENCODE(rle_enc16, int16_t)

int pq_rle_encode(pq_text *out, const uint32_t *v, size_t n, int bw) { return rle_enc32(out, v, n, bw); }
int pq_rle_encode16(pq_text *out, const int16_t *v, size_t n, int bw) { return rle_enc16(out, v, n, bw); }

/* Decoder: any run is clipped to the values still wanted; a bit-packed run may be shorter than
 * its header says at the very end of the data (some writers trim it). */
#define DEFINE_RLE_DECODE(NAME, T)                                                             \
    static int NAME(const uint8_t *p, size_t len, int bw, T *out, size_t n, int64_t max) {     \
        const uint8_t *end = p + len;                                                          \
        size_t i = 0;                                                                          \
        if (bw < 0 || bw > 32) return -1;                                                      \
        uint64_t mask = bw == 32 ? 0xffffffffu : ((1ull << bw) - 1);                           \
        while (i < n) {                                                                        \
            uint64_t h = 0;                                                                    \
            int shift = 0;                                                                     \
            for (;;) {                                                                         \
                if (p >= end || shift > 63) return -1;                                         \
                uint8_t b = *p++;                                                              \
                h |= (uint64_t)(b & 0x7f) << shift;                                            \
                shift += 7;                                                                    \
                if (!(b & 0x80)) break;                                                        \
            }                                                                                  \
            if (h & 1) {                                                                       \
                uint64_t cnt = (h >> 1) * 8;                                                   \
                if (cnt == 0) return -1;                                                       \
                size_t take = cnt < n - i ? (size_t)cnt : n - i;                               \
                size_t need = (take * (size_t)bw + 7) / 8;                                     \
                if (need > (size_t)(end - p)) return -1;                                       \
                uint64_t acc = 0;                                                              \
                int nb = 0;                                                                    \
                const uint8_t *q = p;                                                          \
                for (size_t k = 0; k < take; k++) {                                            \
                    while (nb < bw) {                                                          \
                        acc |= (uint64_t)(*q++) << nb;                                         \
                        nb += 8;                                                               \
                    }                                                                          \
                    uint64_t x = acc & mask;                                                   \
                    acc >>= bw;                                                                \
                    nb -= bw;                                                                  \
                    if (max >= 0 && (int64_t)x > max) return -1;                               \
                    out[i + k] = (T)x;                                                         \
                }                                                                              \
                uint64_t full = (h >> 1) * (uint64_t)bw;                                       \
                p += full < (uint64_t)(end - p) ? (size_t)full : (size_t)(end - p);            \
                i += take;                                                                     \
            } else {                                                                           \
                uint64_t cnt = h >> 1;                                                         \
                if (cnt == 0) return -1;                                                       \
                int nbytes = (bw + 7) / 8;                                                     \
                if ((size_t)(end - p) < (size_t)nbytes) return -1;                             \
                uint64_t x = 0;                                                                \
                for (int b = 0; b < nbytes; b++) x |= (uint64_t)p[b] << (8 * b);               \
                p += nbytes;                                                                   \
                if ((max >= 0 && (int64_t)x > max) || x > mask) return -1;                     \
                size_t take = cnt < n - i ? (size_t)cnt : n - i;                               \
                for (size_t k = 0; k < take; k++) out[i + k] = (T)x;                           \
                i += take;                                                                     \
            }                                                                                  \
        }                                                                                      \
        return 0;                                                                              \
    }

DEFINE_RLE_DECODE(rle_dec32, uint32_t)
DEFINE_RLE_DECODE(rle_dec16, int16_t)

int pq_rle_decode(const uint8_t *p, size_t len, int bw, uint32_t *out, size_t n, int64_t max) {
    return rle_dec32(p, len, bw, out, n, max);
}
int pq_rle_decode16(const uint8_t *p, size_t len, int bw, int16_t *out, size_t n, int max) {
    if (bw > 15) return -1;
    return rle_dec16(p, len, bw, out, n, max);
}

/* zstd over values that are nearly all distinct (a column of random UUIDs: 36 hex digits, 4 bits
 * of entropy in 8): level 1's match finder probes at every position and finds almost nothing,
 * half of all compression time in `ecom stream`. targetLength is the fast strategy's step (what
 * zstd's negative levels raise), so the finder skips ahead; it would also turn off the entropy
 * coding of literals (the negative levels' 0.9x instead of 0.5x), which literalCompressionMode
 * keeps on. Measured on the event_id page of 300k events: 46% fewer instructions, 1.6% more
 * bytes (docs/benchmarks.md). The settings are advice: a library that refuses one (the mode is
 * in zstd's experimental API) gets the plain level instead. Returns the compressed size or a
 * zstd error code. */
static size_t zstd_dense(ZSTD_CCtx *z, void *dst, size_t cap, const void *src, size_t n, int level) {
    ZSTD_CCtx_reset(z, ZSTD_reset_session_and_parameters);
    if (ZSTD_isError(ZSTD_CCtx_setParameter(z, ZSTD_c_compressionLevel, level)) ||
        ZSTD_isError(ZSTD_CCtx_setParameter(z, ZSTD_c_literalCompressionMode, ZSTD_ps_enable)) ||
        ZSTD_isError(ZSTD_CCtx_setParameter(z, ZSTD_c_targetLength, 8))) {
        ZSTD_CCtx_reset(z, ZSTD_reset_session_and_parameters);
        return ZSTD_compressCCtx(z, dst, cap, src, n, level);
    }
    size_t got = ZSTD_compress2(z, dst, cap, src, n);
    ZSTD_CCtx_reset(z, ZSTD_reset_session_and_parameters);
    return got;
}

int pq_compress(int codec, int level, bool dense, void *zctx, const void *src, size_t n, pq_text *out, char *err,
                size_t errlen) {
    if (codec == PQ_UNCOMPRESSED) {
        if (pq_text_append(out, src, n)) goto oom;
        return 0;
    }
    if (codec == PQ_SNAPPY) {
        size_t cap = snappy_max_compressed_length(n);
        if (pq_text_reserve(out, cap)) goto oom;
        size_t got = cap;
        if (snappy_compress(src, n, out->data + out->len, &got) != SNAPPY_OK) {
            pq_seterr(err, errlen, "snappy compression failed");
            return -1;
        }
        out->len += got;
        return 0;
    }
    if (codec == PQ_ZSTD) {
        size_t cap = ZSTD_compressBound(n);
        if (pq_text_reserve(out, cap)) goto oom;
        char *dst = out->data + out->len;
        size_t got = !zctx  ? ZSTD_compress(dst, cap, src, n, level)
                     : dense ? zstd_dense(zctx, dst, cap, src, n, level)
                             : ZSTD_compressCCtx(zctx, dst, cap, src, n, level);
        if (ZSTD_isError(got)) {
            pq_seterr(err, errlen, "zstd compression failed: %s", ZSTD_getErrorName(got));
            return -1;
        }
        out->len += got;
        return 0;
    }
    pq_seterr(err, errlen, "unsupported codec %d", codec);
    return -1;
oom:
    pq_seterr(err, errlen, "out of memory");
    return -1;
}
