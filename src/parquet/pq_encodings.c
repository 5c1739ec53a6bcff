/*
 * pq_encodings.c — the reader's value encodings beyond PLAIN and dictionaries (spec:
 * parquet-format Encodings.md): DELTA_BINARY_PACKED (ints, and the lengths inside the two
 * byte-array encodings), DELTA_LENGTH_BYTE_ARRAY, DELTA_BYTE_ARRAY and BYTE_STREAM_SPLIT.
 *
 * No Debian library implements these (they live inside parquet implementations), so they are
 * written here from the spec. Each decoder reads only inside p[0..len), produces exactly the
 * n values asked for or fails with a short reason in *why, and never trusts a count or length
 * from the page without checking it against the bytes left.
 */
#include "parquet/pq_internal.h"

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

static int64_t unzigzag(uint64_t v) { return (int64_t)(v >> 1) ^ -(int64_t)(v & 1); }

/* Value k (bw bits wide, LSB first) of a bit-packed run of nbytes bytes. */
static uint64_t unpack_at(const uint8_t *p, size_t nbytes, size_t k, int bw) {
    if (bw == 0) return 0;
    size_t bit = k * (size_t)bw, byte = bit / 8;
    unsigned sh = (unsigned)(bit % 8);
    uint8_t tmp[16] = {0};
    size_t take = nbytes - byte < 9 ? nbytes - byte : 9;
    memcpy(tmp, p + byte, take);
    uint64_t lo;
    memcpy(&lo, tmp, 8);
    uint64_t x = lo >> sh;
    if (sh && (unsigned)bw + sh > 64) x |= (uint64_t)tmp[8] << (64 - sh);
    return bw == 64 ? x : x & ((1ull << bw) - 1);
}

/* One miniblock: per values of bit width bw at p (its bytes checked by the caller), added to
 * *last + min_delta each; stores up to n - *got of them. */
static void delta_miniblock(const uint8_t *p, size_t bytes, size_t per, int bw, int64_t min_delta,
                            int64_t *last, bool i32, void *dst, size_t *got, size_t n) {
    for (size_t k = 0; k < per && *got < n; k++) {
        *last = (int64_t)((uint64_t)*last + (uint64_t)min_delta + unpack_at(p, bytes, k, bw));
        if (i32) ((int32_t *)dst)[(*got)++] = (int32_t)*last;
        else ((int64_t *)dst)[(*got)++] = *last;
    }
}

int pq_delta_decode(const uint8_t *p, size_t len, size_t n, bool i32, void *dst, size_t *used, const char **why) {
    const uint8_t *start = p, *end = p + len;
    uint64_t bsize, nmini, total, zz;
    *why = "bad delta header";
    if (uvarint(&p, end, &bsize) || uvarint(&p, end, &nmini) || uvarint(&p, end, &total) || uvarint(&p, end, &zz))
        return -1;
    if (bsize == 0 || bsize % 128 || nmini == 0 || bsize % nmini || (bsize / nmini) % 32 || bsize > 1u << 20 ||
        total < n)
        return -1;
    int64_t last = unzigzag(zz);
    size_t got = 0, per = (size_t)(bsize / nmini);
    if (n > 0) {
        if (i32) ((int32_t *)dst)[got++] = (int32_t)last;
        else ((int64_t *)dst)[got++] = last;
    }
    while (got < n) {
        uint64_t mzz;
        *why = "bad delta block";
        if (uvarint(&p, end, &mzz) || (uint64_t)(end - p) < nmini) return -1;
        int64_t min_delta = unzigzag(mzz);
        const uint8_t *bws = p;
        p += nmini;
        for (uint64_t m = 0; m < nmini && got < n; m++) {
            int bw = bws[m];
            size_t bytes = per * (size_t)bw / 8;
            *why = bw > 64 ? "bad delta bit width" : "delta block past end of page";
            if (bw > 64 || bytes > (size_t)(end - p)) return -1;
            delta_miniblock(p, bytes, per, bw, min_delta, &last, i32, dst, &got, n);
            p += bytes;
        }
    }
    *used = (size_t)(p - start);
    return 0;
}

/* The lengths block of the two byte-array encodings: n non-negative int32 lengths. */
static int delta_lengths(const uint8_t *p, size_t len, size_t n, int32_t *lens, size_t *used, const char **why) {
    if (pq_delta_decode(p, len, n, true, lens, used, why)) return -1;
    for (size_t i = 0; i < n; i++)
        if (lens[i] < 0) {
            *why = "negative length";
            return -1;
        }
    return 0;
}

int pq_delta_length_decode(const uint8_t *p, size_t len, size_t n, pq_bytes *out, const char **why) {
    int32_t *lens = malloc((n ? n : 1) * sizeof *lens);
    size_t used;
    if (!lens) {
        *why = "out of memory";
        return -1;
    }
    int rc = delta_lengths(p, len, n, lens, &used, why);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if ((size_t)lens[i] > len - used) {
            *why = "byte array past end of page";
            rc = -1;
            break;
        }
        out[i].p = (const char *)p + used;
        out[i].n = (uint32_t)lens[i];
        used += (size_t)lens[i];
    }
    free(lens);
    return rc;
}

/* Builds the values of DELTA_BYTE_ARRAY from prefix lengths and suffixes into one buffer. */
static int delta_bytes_join(const int32_t *pre, const pq_bytes *suf, size_t n, pq_bytes *prev, uint64_t *budget,
                            pq_bytes *out, uint8_t **store, const char **why) {
    uint64_t total = 0;
    pq_bytes last = *prev;
    for (size_t i = 0; i < n; i++) { /* sizes first: a prefix may not be longer than its predecessor */
        if ((uint64_t)pre[i] > (i ? (uint64_t)pre[i - 1] + suf[i - 1].n : last.n)) {
            *why = "prefix longer than the previous value";
            return -1;
        }
        total += (uint64_t)pre[i] + suf[i].n;
        if (total > *budget || (uint64_t)pre[i] + suf[i].n > UINT32_MAX) {
            *why = "byte arrays expand past the limit";
            return -1;
        }
    }
    *budget -= total;
    uint8_t *buf = malloc(total ? (size_t)total : 1);
    if (!buf) {
        *why = "out of memory";
        return -1;
    }
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        if (pre[i]) memcpy(buf + off, last.p, (size_t)pre[i]);
        if (suf[i].n) memcpy(buf + off + pre[i], suf[i].p, suf[i].n);
        out[i].p = (const char *)buf + off;
        out[i].n = (uint32_t)pre[i] + suf[i].n;
        last = out[i];
        off += out[i].n;
    }
    if (n) *prev = last;
    *store = buf;
    return 0;
}

int pq_delta_bytes_decode(const uint8_t *p, size_t len, size_t n, pq_bytes *prev, uint64_t *budget, pq_bytes *out,
                          uint8_t **store, const char **why) {
    int32_t *pre = malloc((n ? n : 1) * sizeof *pre);
    pq_bytes *suf = malloc((n ? n : 1) * sizeof *suf);
    size_t used = 0;
    int rc = -1;
    *store = NULL;
    *why = "out of memory";
    if (pre && suf && delta_lengths(p, len, n, pre, &used, why) == 0 &&
        pq_delta_length_decode(p + used, len - used, n, suf, why) == 0)
        rc = delta_bytes_join(pre, suf, n, prev, budget, out, store, why);
    free(pre);
    free(suf);
    return rc;
}

int pq_bss_decode(const uint8_t *p, size_t len, size_t n, size_t width, uint8_t *dst, const char **why) {
    size_t stride = width ? len / width : 0;
    if (width == 0 || stride < n) {
        *why = "byte stream split values past end of page";
        return -1;
    }
    for (size_t k = 0; k < width; k++) {
        const uint8_t *s = p + k * stride;
        for (size_t i = 0; i < n; i++) dst[i * width + k] = s[i];
    }
    return 0;
}
