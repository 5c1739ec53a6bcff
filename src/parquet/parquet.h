/*
 * parquet — a standalone Apache Parquet writer and reader (no dependency on the rest of ecom;
 * only libc and the codecs' Debian libraries: libzstd, libsnappy, zlib, liblz4, libbrotlidec).
 * Spec: apache/parquet-format (parquet.thrift, Encodings.md, LogicalTypes.md). See
 * docs/parquet.md for what is supported.
 *
 * Contract
 *   - Naming: every public symbol starts with pq_. No global mutable state; objects are used
 *     from one thread at a time.
 *   - Errors: functions return 0 (or a pointer) on success and -1 (or NULL) on failure with a
 *     NUL-terminated message in the caller's err buffer (errlen bytes, may be 0).
 *   - Ownership: every pq_*_new / pq_*_open result is freed by its pq_*_free / pq_*_close.
 *     Strings passed in are copied; values passed to the writer are copied before return.
 *
 * Schema
 *   A schema is a tree of nodes that mirrors the file's schema elements exactly (a LIST column
 *   has its `list` and `element` nodes). A node's max_def/max_rep count itself. Leaves are BOOL, INT32, INT64, DOUBLE, STRING (BYTE_ARRAY + String),
 *   DATE (INT32 days since 1970-01-01), TIMESTAMP (INT64 microseconds since the epoch, UTC;
 *   logical TIMESTAMP(isAdjustedToUTC, MICROS) plus converted type TIMESTAMP_MICROS). Inner
 *   nodes are STRUCT (a group) and LIST: a LIST node is written the standard 3-level way,
 *   `<rep> group name (LIST) { repeated group list { optional group element {...} } }`, and
 *   the children added to the LIST node become the fields of `element` (a LIST of STRUCT).
 *   Leaf columns are numbered 0.. in depth-first order of the tree (the order they were added
 *   under each parent). DECIMAL (INT64 + DECIMAL converted type + DecimalType logical type,
 *   precision and scale also in the schema element) and BINARY (BYTE_ARRAY, no annotation)
 *   leaves are written too.
 *
 * Writer
 *   Column oriented: for each batch of rows, append to every leaf column (pq_write_values for
 *   leaves with no repeated ancestor, pq_write_levels for any leaf), then call
 *   pq_writer_end_rows(n). A row group is flushed when its buffered size (the PLAIN size of
 *   its values and levels) passes row_group_bytes (checked at end_rows). Pages: data page v1,
 *   levels RLE/bit-packed hybrid, values RLE_DICTIONARY with a PLAIN dictionary page (built
 *   while appending), or PLAIN when the dictionary passes dict_max_bytes or the first 16384
 *   values of the row group are nearly all distinct. Statistics min/max/null_count per chunk (strings over 256 bytes carry no
 *   min/max), column_orders TYPE_ORDER. Output goes through a write callback; nothing is
 *   written before the first row group is flushed, and a file with zero rows is refused by
 *   pq_writer_close (-1, "no rows"), so the caller can discard it.
 *
 * Reader
 *   Reads its input through a read-at callback (or a memory buffer). Understands PLAIN,
 *   PLAIN_DICTIONARY, RLE_DICTIONARY, RLE (booleans), DELTA_BINARY_PACKED (ints),
 *   DELTA_LENGTH_BYTE_ARRAY, DELTA_BYTE_ARRAY (byte arrays, fixed-length), BYTE_STREAM_SPLIT
 *   (FLOAT, DOUBLE, INT32, INT64, FIXED_LEN_BYTE_ARRAY), data pages v1 and v2, every codec but
 *   LZO (pq_codec). Unsupported features give an error naming them ("unsupported codec LZO").
 *   Hostile input: every length is checked against what is left of the file/page, thrift
 *   nesting is bounded, and allocations are capped by pq_read_opts (max_page_bytes,
 *   max_chunk_values); a corrupt file gives -1 with a message, never a crash.
 *   Batches: pq_reader_read_column decodes one column chunk of one row group (a row group is
 *   the unit of iteration); pq_rows_* assembles rows (as JSON) from decoded chunks.
 */
#ifndef ECOM_PARQUET_H
#define ECOM_PARQUET_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

/* Physical types (values are the parquet.thrift Type enum). */
typedef enum {
    PQ_PHYS_BOOLEAN = 0, PQ_PHYS_INT32 = 1, PQ_PHYS_INT64 = 2, PQ_PHYS_INT96 = 3,
    PQ_PHYS_FLOAT = 4, PQ_PHYS_DOUBLE = 5, PQ_PHYS_BYTE_ARRAY = 6, PQ_PHYS_FIXED = 7
} pq_phys;

/* Node kinds of a schema. The reader also reports kinds the writer cannot make.
 *   PQ_DECIMAL: writer: INT64 with the DECIMAL(precision, scale) annotation, made by
 *               pq_schema_add_decimal and written with pq_write_i64 (the unscaled value:
 *               cents for scale 2). Reader: a DECIMAL on INT32, INT64, FIXED_LEN_BYTE_ARRAY or
 *               BYTE_ARRAY (big-endian two's complement, at most PQ_DECIMAL_MAX_BYTES bytes).
 *   PQ_BINARY:  BYTE_ARRAY with no annotation (arbitrary bytes, not text); the reader also
 *               reports an unannotated FIXED_LEN_BYTE_ARRAY as PQ_BINARY. */
typedef enum {
    PQ_BOOL, PQ_INT32, PQ_INT64, PQ_DOUBLE, PQ_STRING, PQ_DATE, PQ_TIMESTAMP,
    PQ_STRUCT, PQ_LIST, PQ_DECIMAL, PQ_BINARY,
    /* reader only */
    PQ_FLOAT, PQ_INT96, PQ_OTHER,
    PQ_FLOAT16,  /* FIXED_LEN_BYTE_ARRAY(2) + Float16: IEEE 754 half, little-endian */
    PQ_UUID,     /* FIXED_LEN_BYTE_ARRAY(16) + UUID */
    PQ_TIME,     /* INT32 (MILLIS) or INT64 (MICROS, NANOS) time of day; unit in ts_unit */
    PQ_MAP       /* a group annotated MAP (or MAP_KEY_VALUE): repeated key_value { key, value } */
} pq_kind;

/* Widest FIXED/BYTE_ARRAY decimal the reader accepts (16 bytes: precision 38). */
#define PQ_DECIMAL_MAX_BYTES 16

typedef enum { PQ_REQUIRED = 0, PQ_OPTIONAL = 1, PQ_REPEATED = 2 } pq_rep;

/* Codecs (the parquet.thrift CompressionCodec enum). The writer makes UNCOMPRESSED, SNAPPY and
 * ZSTD; the reader reads all but LZO. */
typedef enum {
    PQ_UNCOMPRESSED = 0, PQ_SNAPPY = 1, PQ_GZIP = 2, PQ_LZO = 3, PQ_BROTLI = 4, PQ_LZ4 = 5, PQ_ZSTD = 6,
    PQ_LZ4_RAW = 7
} pq_codec;

/* Names as the spec spells them ("GZIP", "DELTA_BYTE_ARRAY"), static strings; NULL for a
 * number the spec does not define. pq_codec_supported: whether the reader decompresses it. */
const char *pq_codec_name(int codec);
const char *pq_encoding_name(int encoding);
bool pq_codec_supported(int codec);

/* A byte-string view (strings are not NUL-terminated). */
typedef struct {
    const char *p;
    uint32_t n;
} pq_bytes;

/* One node of a schema tree (read-only view for callers). */
typedef struct pq_node {
    char *name;
    pq_kind kind;
    pq_rep rep;
    int phys;              /* pq_phys for leaves, -1 for groups */
    int type_length;       /* FIXED_LEN_BYTE_ARRAY width */
    int ts_unit;           /* TIMESTAMP, TIME: 1 ms, 2 us, 3 ns (reader); writer always 2 */
    bool ts_utc;           /* isAdjustedToUTC (converted TIMESTAMP_* and TIME_*: true) */
    bool is_unsigned;      /* INT32/INT64 with INTEGER(bits, false) or UINT_8..UINT_64 (reader) */
    int int_bits;          /* INTEGER bit width (8, 16, 32, 64), 0 when not annotated (reader) */
    int logical, converted; /* the file's LogicalType union id (0 none) and ConvertedType (-1 none) (reader) */
    int precision, scale;  /* DECIMAL: digits in all, digits after the point; else 0 */
    int parent;            /* index of the parent node, -1 for top-level fields */
    int *children;         /* child node indexes */
    int n_children;
    int leaf;              /* leaf column index, -1 for groups */
    int max_def, max_rep;  /* definition/repetition level of this node (counting itself) */
    int list_elem;         /* LIST nodes made by pq_schema_add: the `element` group; else -1 */
} pq_node;

typedef struct pq_schema pq_schema;

pq_schema *pq_schema_new(void);
void pq_schema_free(pq_schema *s);
/* Deep copy (freed with pq_schema_free). NULL with err on failure. */
pq_schema *pq_schema_clone(const pq_schema *s, char *err, size_t errlen);
/* Adds a node under parent (-1 = top level; a STRUCT or LIST node otherwise). Returns its node
 * index, or -1 with err (bad parent, duplicate or empty name, bad kind; PQ_DECIMAL needs
 * pq_schema_add_decimal). */
int pq_schema_add(pq_schema *s, int parent, const char *name, pq_kind kind, bool optional, char *err,
                  size_t errlen);
/* Adds a DECIMAL(precision, scale) leaf stored as INT64 (1 <= precision <= 18,
 * 0 <= scale <= precision), e.g. money as DECIMAL(18,2) holding cents. Returns the node index
 * like pq_schema_add, or -1 with err. Values are the unscaled int64 (pq_write_i64 and the
 * int64_t arrays of pq_write_values / pq_write_levels). */
int pq_schema_add_decimal(pq_schema *s, int parent, const char *name, int precision, int scale, bool optional,
                          char *err, size_t errlen);
int pq_schema_num_nodes(const pq_schema *s);
const pq_node *pq_schema_node(const pq_schema *s, int i);
int pq_schema_num_leaves(const pq_schema *s);
/* Node index of leaf column i. */
int pq_schema_leaf_node(const pq_schema *s, int leaf);
/* Top-level field by name: node index or -1. */
int pq_schema_find(const pq_schema *s, const char *name);
/* Dotted path of leaf column i ("location.lat", "items.list.element.qty"); into out. */
void pq_schema_leaf_path(const pq_schema *s, int leaf, char *out, size_t outlen);

/* ---- writer ---- */
typedef int (*pq_write_fn)(void *ctx, const void *p, size_t n, char *err, size_t errlen);

typedef struct {
    pq_codec codec;            /* default PQ_ZSTD */
    int zstd_level;            /* default 1 */
    size_t row_group_bytes;    /* default 64 MiB of buffered (uncompressed) data */
    size_t page_bytes;         /* default 1 MiB */
    size_t dict_max_bytes;     /* default 1 MiB; 0 = default; SIZE_MAX never falls back */
    bool no_dictionary;        /* PLAIN only */
    const char *created_by;    /* e.g. "ecom version 0.1.0"; copied */
} pq_write_opts;

typedef struct pq_writer pq_writer;

/* Starts a writer over schema s (copied). opts may be NULL for defaults. */
pq_writer *pq_writer_new(const pq_schema *s, const pq_write_opts *opts, pq_write_fn fn, void *ctx,
                         char *err, size_t errlen);
/* Adds a key-value pair to the footer (copied). */
int pq_writer_add_kv(pq_writer *w, const char *key, const char *value, char *err, size_t errlen);

/* Appends n rows to leaf column `leaf` which must have no repeated ancestor. values points to
 * n elements of the column's C type (uint8_t for BOOL, int32_t for INT32/DATE, int64_t for
 * INT64/TIMESTAMP/DECIMAL, double, pq_bytes for STRING/BINARY); valid (NULL = all valid) marks
 * nulls, whose value slots are ignored; a null is recorded at the deepest level (def = max_def - 1). */
int pq_write_values(pq_writer *w, int leaf, size_t n, const void *values, const uint8_t *valid, char *err,
                    size_t errlen);
/* One value appended to a leaf with no repeated ancestor: the same as pq_write_values with
 * n = 1 and no array set up (the row-at-a-time path of a streaming writer). The value's C type
 * must match the leaf's physical type (pq_write_str: BYTE_ARRAY, copied; i32: INT32/DATE;
 * i64: INT64/TIMESTAMP/DECIMAL; f64: DOUBLE), else -1. pq_write_null appends a null (-1 for a
 * required column). */
int pq_write_str(pq_writer *w, int leaf, const char *p, size_t n, char *err, size_t errlen);
/* pq_write_str for a string the caller has already numbered: id (0 <= id < PQ_STR_IDS) stands
 * for exactly these bytes in every call on this leaf (an enum of the value: an event type).
 * The writer then finds its dictionary entry by the id instead of hashing; the file is the same
 * as pq_write_str's. Two different strings under one id on a leaf give a wrong file. */
enum { PQ_STR_IDS = 16 };
int pq_write_str_id(pq_writer *w, int leaf, int id, const char *p, size_t n, char *err, size_t errlen);
/* A row's values of n (1..PQ_GROUP_LEAVES) consecutive leaves from first_leaf that usually come
 * together (a product's id, name, category and price; a store's id, type, city and place): v[i]
 * is leaf first_leaf + i's value, the bytes for a string, else .p points to one value of the
 * leaf's C type (.n unused). The first nkey (1..n) values are hashed: they should tell rows apart
 * (a product's id). The leaves must be required, with no repeated ancestor, not BOOLEAN; a writer
 * takes up to 4 groups, which do not overlap, each named by its first leaf and always called with
 * the same n and nkey.
 * The writer remembers up to 4096 distinct rows of a group with their dictionary entries, so a row
 * seen before costs one hash and one compare instead of a lookup per leaf. The file is the same as
 * that of n single appends. */
enum { PQ_GROUP_LEAVES = 8 };
int pq_write_group(pq_writer *w, int first_leaf, int n, int nkey, const pq_bytes *v, char *err, size_t errlen);
int pq_write_i32(pq_writer *w, int leaf, int32_t v, char *err, size_t errlen);
int pq_write_i64(pq_writer *w, int leaf, int64_t v, char *err, size_t errlen);
int pq_write_f64(pq_writer *w, int leaf, double v, char *err, size_t errlen);
int pq_write_null(pq_writer *w, int leaf, char *err, size_t errlen);
/* General form: n level entries (def/rep arrays; NULL means all max_def / all 0), and the
 * values of the entries whose def == max_def, packed (nvals of them). */
int pq_write_levels(pq_writer *w, int leaf, size_t n, const int16_t *def, const int16_t *rep,
                    const void *values, size_t nvals, char *err, size_t errlen);
/* Declares that n more complete rows were appended to every column; may flush a row group.
 * -1 (and the writer fails) when the columns' row counts do not add up to n more rows each. The
 * check per call is of their sum: a column short by a row while another is over by one passes
 * it, and is caught (-1, the column named) by the per-column check before the row group is
 * flushed, here or in pq_writer_close, so no file is written with columns of unequal rows. */
int pq_writer_end_rows(pq_writer *w, size_t n, char *err, size_t errlen);
/* Rows so far, bytes written so far (flushed row groups), bytes buffered (current group). */
uint64_t pq_writer_rows(const pq_writer *w);
uint64_t pq_writer_bytes_written(const pq_writer *w);
uint64_t pq_writer_bytes_buffered(const pq_writer *w);
/* Flushes the last row group and the footer. -1 "no rows" if nothing was written. Does not
 * free: call pq_writer_free after. */
int pq_writer_close(pq_writer *w, char *err, size_t errlen);
void pq_writer_free(pq_writer *w);

/* ---- reader ---- */
typedef int (*pq_read_fn)(void *ctx, uint64_t off, void *dst, size_t n, char *err, size_t errlen);

typedef struct {
    size_t max_page_bytes;     /* largest uncompressed page accepted; default 256 MiB */
    uint64_t max_chunk_values; /* largest column chunk (level entries); default 1<<27 */
    uint64_t max_chunk_bytes;  /* most decompressed bytes per column chunk; default 4 GiB */
} pq_read_opts;

typedef struct pq_reader pq_reader;

/* Opens a file of `size` bytes read through fn. opts may be NULL. */
pq_reader *pq_reader_open(pq_read_fn fn, void *ctx, uint64_t size, const pq_read_opts *opts, char *err,
                          size_t errlen);
/* Opens a file held in memory (not copied: data must outlive the reader). */
pq_reader *pq_reader_open_mem(const void *data, size_t size, const pq_read_opts *opts, char *err,
                              size_t errlen);
void pq_reader_close(pq_reader *r);

const pq_schema *pq_reader_schema(const pq_reader *r);
int64_t pq_reader_num_rows(const pq_reader *r);
int pq_reader_num_row_groups(const pq_reader *r);
int64_t pq_reader_rg_num_rows(const pq_reader *r, int rg);
const char *pq_reader_created_by(const pq_reader *r);   /* "" when absent */
int pq_reader_version(const pq_reader *r);
int pq_reader_num_kv(const pq_reader *r);
/* Key/value i (value may be NULL). Views into the reader. */
void pq_reader_kv(const pq_reader *r, int i, const char **key, const char **value);

/* Column chunk facts of (row group, leaf). */
typedef struct {
    int codec;
    int64_t num_values;
    int64_t compressed_size, uncompressed_size;
    int64_t null_count;       /* -1 when absent */
    bool has_min_max;
    pq_bytes min, max;        /* raw statistics bytes (PLAIN encoding of the value) */
    int n_encodings;
    int encodings[8];
} pq_chunk_info;
int pq_reader_chunk_info(const pq_reader *r, int rg, int leaf, pq_chunk_info *out);

/* True unless the chunk's statistics prove no value of an integer leaf (INT32/INT64/DATE/
 * TIMESTAMP) lies in [lo, hi]. Missing statistics give true. */
bool pq_reader_rg_may_match(const pq_reader *r, int rg, int leaf, int64_t lo, int64_t hi);

/* A decoded column chunk. Arrays are owned by the column (pq_column_free). Levels are those
 * of the file at any depth of nesting: def[i] in 0..max_def and rep[i] in 0..max_rep of the
 * leaf (rep[0] == 0, checked), one entry per value or per null/empty at some level; a row
 * starts at each rep == 0. Values are packed: only entries with def == max_def have one. */
typedef struct {
    size_t n;             /* level entries */
    int16_t *def;         /* NULL when max_def == 0 (all present) */
    int16_t *rep;         /* NULL when max_rep == 0 */
    size_t nvals;         /* non-null values, packed */
    int phys;
    union {
        uint8_t *b;       /* BOOLEAN: 0/1 */
        int32_t *i32;     /* INT32 */
        int64_t *i64;     /* INT64; INT96 is converted to microseconds */
        float *f32;
        double *f64;
        pq_bytes *bytes;  /* BYTE_ARRAY / FIXED: views into buffers owned by the column */
        void *any;
    } v;
    void *owned_;         /* internal: buffers kept alive for the views */
} pq_column;

/* Decodes chunk (rg, leaf) into *out (which it initialises). */
int pq_reader_read_column(pq_reader *r, int rg, int leaf, pq_column *out, char *err, size_t errlen);
void pq_column_free(pq_column *c);

/* ---- rows: record assembly of decoded chunks into JSON text ----
 * Any tree: structs, lists (3-level LIST, the legacy 2-level forms, repeated fields without
 * annotation) and maps at any repetition depth. One JSON value per top-level field; how each
 * type prints (exact decimals, base64 binaries, "NaN", RFC 3339 timestamps, ...) is the table
 * "What `ecom cat` prints" in docs/parquet.md, which tests/integ/test_parquet_corpus.py checks
 * against pyarrow. */
typedef enum { PQ_BIN_BASE64 = 0, PQ_BIN_HEX = 1 } pq_binary_form;
typedef struct pq_rows pq_rows;
typedef struct {
    char *data;
    size_t len, cap;
} pq_text;
int pq_text_append(pq_text *t, const void *p, size_t n);
void pq_text_free(pq_text *t);

/* Prepares to assemble row group rg of r for the top-level fields fields[0..nf-1] (node
 * indexes; nf == 0 means all). Decodes the needed chunks. */
pq_rows *pq_rows_open(pq_reader *r, int rg, const int *fields, int nf, char *err, size_t errlen);
int64_t pq_rows_count(const pq_rows *rows);
/* How BINARY values print (default PQ_BIN_BASE64). */
void pq_rows_set_binary(pq_rows *rows, pq_binary_form form);
/* Appends the value of field i (0..nf-1) of the next row as JSON to out; call for each field
 * in order, then pq_rows_next. */
int pq_rows_field_json(pq_rows *rows, int i, pq_text *out, char *err, size_t errlen);
/* Integer value of top-level leaf field i in the current row (for filters); false if null. */
bool pq_rows_field_int(pq_rows *rows, int i, int64_t *out);
int pq_rows_next(pq_rows *rows, char *err, size_t errlen);
void pq_rows_free(pq_rows *rows);

/* Length (1..4) of the valid UTF-8 sequence at s[0..n), or 0 if it is not valid UTF-8 (a
 * truncated, overlong or surrogate sequence, a byte above 0xF4, n == 0). */
int pq_utf8_len(const void *s, size_t n);
/* Appends a JSON string literal for s[0..n) (quotes included). */
int pq_json_string(pq_text *out, const char *s, size_t n);
/* Formats microseconds since the epoch as "YYYY-MM-DDTHH:MM:SS.uuuuuuZ" (out >= 32 bytes). */
void pq_format_ts_us(int64_t us, char *out);
/* Formats days since the epoch as "YYYY-MM-DD" (out >= 16 bytes). */
void pq_format_date(int64_t days, char *out);

/* Writes a human-readable schema + metadata description (like parquet-tools schema). */
int pq_reader_describe(const pq_reader *r, pq_text *out);

#endif
