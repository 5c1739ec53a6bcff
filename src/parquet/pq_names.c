/*
 * pq_names.c — the spec's names of codecs and encodings (parquet.thrift CompressionCodec and
 * Encoding), for messages and `ecom schema`.
 */
#include "parquet/pq_internal.h"

const char *pq_codec_name(int codec) {
    static const char *const n[] = {"UNCOMPRESSED", "SNAPPY", "GZIP", "LZO", "BROTLI", "LZ4", "ZSTD", "LZ4_RAW"};
    return codec >= 0 && codec < (int)(sizeof n / sizeof *n) ? n[codec] : NULL;
}

const char *pq_encoding_name(int encoding) {
    static const char *const n[] = {"PLAIN", NULL, "PLAIN_DICTIONARY", "RLE", "BIT_PACKED", "DELTA_BINARY_PACKED",
                                    "DELTA_LENGTH_BYTE_ARRAY", "DELTA_BYTE_ARRAY", "RLE_DICTIONARY",
                                    "BYTE_STREAM_SPLIT"};
    return encoding >= 0 && encoding < (int)(sizeof n / sizeof *n) ? n[encoding] : NULL;
}
