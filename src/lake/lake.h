/*
 * lake — Parquet tables on a storage (local disk or HDFS): date-partitioned, atomically
 * committed, with deterministic file names; plus the raw event tables (views, cart, orders,
 * rejected), the event -> row mapping, and the one ingest path (record -> raw row, rejected
 * row or blank) shared by `ecom load` and `ecom stream`; the partitions' time zone.
 *
 * Layout
 *   <root>/<table>/date=YYYY-MM-DD/part-<stem>-<seq>.parquet   (Hive style; the date column
 *   lives only in the path). <stem> is given by the caller and must be deterministic for a
 *   replay of the same input (e.g. a hash of the input file, or "p<partition>-o<offset>");
 *   <seq> counts files of that stem in that partition from 00000, so a replay with the same
 *   rolling limits writes the same names and overwrites instead of duplicating.
 *
 * Commit protocol
 *   A part is written as date=D/.part-....parquet.tmp (hidden from readers: leading '.'),
 *   closed (flush + fsync), then renamed onto its final name (atomic, replaces). A reader
 *   never sees a partial file. A failed part is deleted. A file with zero rows is never made.
 *   With opts->before_publish, every rename is preceded by that check (a writer's fence).
 *
 * Rolling
 *   A part is committed and the next one started when it reaches max_rows rows, or about
 *   max_bytes bytes (written + buffered), or is older than max_age_us (checked on each append
 *   and by lake_table_flush_aged), or when the table is closed.
 *
 * Errors: 0 / -1 with a message in err. Ownership: lake_table_open's result is freed by
 * lake_table_close (commits) or lake_table_abort (drops uncommitted parts). The storage and
 * schema passed in are borrowed (the schema is copied by each part writer).
 * Thread safety: one thread per table object.
 */
#ifndef ECOM_LAKE_H
#define ECOM_LAKE_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "events/events.h"
#include "parquet/parquet.h"
#include "storage/storage.h"

typedef struct {
    uint64_t max_rows;        /* default 1,000,000 */
    uint64_t max_bytes;       /* default 128 MiB */
    int64_t max_age_us;       /* 0 = no age limit */
    pq_codec codec;           /* default PQ_ZSTD */
    size_t row_group_bytes;   /* default 64 MiB */
    const char *created_by;   /* default "ecom version <ECOM_VERSION>" */
    /* Key-value metadata of every part's footer: key, value, key, value, ..., NULL (borrowed:
     * it must outlive the table). NULL: none. */
    const char *const *kv;
    /* The writer's fence, called right before each part is published (renamed into place),
     * rolled or closed: non-zero refuses the publish (the part is dropped, the call fails with
     * err). `ecom load` checks its writer lease here. NULL: no check. */
    int (*before_publish)(void *ctx, char *err, size_t errlen);
    void *publish_ctx;
} lake_opts;

typedef struct lake_table lake_table;

/* Opens table `name` (a directory under the storage root) for writing parts named with
 * `stem` (copied; [A-Za-z0-9._-] only). opts may be NULL. */
lake_table *lake_table_open(storage *s, const char *name, const pq_schema *schema, const char *stem,
                            const lake_opts *opts, char *err, size_t errlen);
/* The writer of the open part of partition `day` (days since 1970-01-01), opening one if
 * needed. Append one or more rows to every column, then call lake_table_rows_done. */
pq_writer *lake_table_writer(lake_table *t, int64_t day, char *err, size_t errlen);
/* Declares n rows appended to the part of `day`; commits it if it reached a rolling limit. */
int lake_table_rows_done(lake_table *t, int64_t day, size_t n, int64_t now_us, char *err, size_t errlen);
/* Commits every part older than max_age_us at now_us. */
int lake_table_flush_aged(lake_table *t, int64_t now_us, char *err, size_t errlen);
/* Commits every open part and frees the table. On error the remaining parts are dropped. */
int lake_table_close(lake_table *t, char *err, size_t errlen);
void lake_table_abort(lake_table *t);
uint64_t lake_table_files_committed(const lake_table *t);
uint64_t lake_table_rows_committed(const lake_table *t);

/* ---- reading ---- */

/* Lists the committed .parquet files under dir (relative to the storage root; recursive,
 * names starting with '.' or '_' skipped), sorted by path. With date != NULL
 * ("YYYY-MM-DD"), only directories date=<date> are entered (other date=... are pruned).
 * *paths is a malloc'd array of malloc'd strings: free with lake_paths_free. */
int lake_list_files(storage *s, const char *dir, const char *date, char ***paths, size_t *n, char *err,
                    size_t errlen);
void lake_paths_free(char **paths, size_t n);
/* The tables the listed files (lake_list_files' paths) belong to: a file's table is its path
 * up to its date=... directory (or its directory when it has none); "" is the listed
 * directory itself. Returns how many distinct tables there are and writes them, sorted and
 * comma-separated, into out (truncated to outlen). A reader given a lake root (several
 * tables) lists them instead of mixing their rows. */
size_t lake_files_tables(char *const *paths, size_t n, char *out, size_t outlen);

/* Resolves what a user typed: a Parquet file, or a directory of them (a table, a partition),
 * on local disk or at a storage URI (opened with options so; NULL: defaults). Opens *s (caller closes) rooted at the directory (or the
 * file's parent) and lists the files relative to it, pruned to date as lake_list_files does.
 * *is_dir tells which it was. Errors: no such path, storage failures. */
int lake_resolve(const char *path, const storage_opts *so, const char *date, storage **s, char ***files,
                 size_t *n, bool *is_dir, char *err, size_t errlen);

/* 0 if root (a local path or a storage URI) is an existing directory; else -1 with an error
 * naming it ("no such directory", "is not a directory", or the storage's failure). For readers
 * that must not take a mistyped path for an empty lake (`ecom dash`). */
int lake_root_check(const char *root, const storage_opts *so, char *err, size_t errlen);

/* A Parquet reader over a storage file. */
typedef struct lake_file lake_file;
lake_file *lake_file_open(storage *s, const char *path, char *err, size_t errlen);
pq_reader *lake_file_reader(lake_file *f);
void lake_file_close(lake_file *f);

/* ---- the date of a partition: the lake's time zone ----
 * Every table's date=YYYY-MM-DD is the date of the row's instant (an event's timestamp, a
 * window's start) in one zone, UTC unless --time-zone names another. UTC is arithmetic; any
 * other zone goes through the C library (localtime_r/mktime over the process's TZ, which
 * lake_tz_open sets: the zone is process-wide state owned by the command's main()). A lake_tz
 * also caches the last day's [start, end) so a run of rows of one day costs two compares. */
typedef struct {
    bool utc;
    char name[64];
    int64_t lo_us, hi_us, day;   /* cache: every instant in [lo_us, hi_us) falls on `day` */
} lake_tz;

/* Validates `name` (NULL or "" = UTC): "UTC", or an IANA zone whose TZif file is under $TZDIR or
 * /usr/share/zoneinfo (Debian package tzdata), e.g. "America/Guayaquil"; anything else is -1
 * with err naming the zone. For a zone other than UTC it sets TZ=name (setenv + tzset) unless
 * TZ is that already: call it from main() before starting threads (a later call with the same
 * zone, as a thread's, changes nothing). */
int lake_tz_open(lake_tz *z, const char *name, char *err, size_t errlen);
/* Days since 1970-01-01 of the date of instant us (microseconds since the epoch) in zone z
 * (NULL = UTC). Updates z's cache: one lake_tz per thread. */
int64_t lake_day_of(lake_tz *z, int64_t us);

/* ---- the lake layout version (ROOT/_ecom/lake_version) ----
 * Layout 1: raw columns ts, price_cents, total_cents, unit_price_cents, rejected.raw STRING,
 * DOUBLE money in metric tables, UTC dates, no version file. Layout 2 (this ecom): the event's
 * field names, DECIMAL(18,2) money, rejected.raw BINARY + raw_preview, dates in a stated zone.
 * Writers (ecom load, ecom stream) call lake_layout_open before writing; readers read both. */
#define LAKE_LAYOUT_VERSION 2
/* Returned (instead of -1) when ROOT refuses a writer: retrying cannot help (the -1 of a storage
 * failure may). */
#define LAKE_REFUSED (-2)
/* The layout of ROOT: *version = 0 (nothing written yet), 1 (tables or stream state but no
 * version file), or the file's version; zone gets the partitions' zone ("UTC" for layout 1,
 * "" for an empty ROOT). -1 with err on a storage failure, LAKE_REFUSED on a corrupt version file. */
int lake_layout_read(storage *s, int *version, char *zone, size_t zlen, char *err, size_t errlen);
/* A writer's check: an empty ROOT gets the version file (layout 2, z's zone; z NULL = UTC); a
 * layout-2 ROOT with the same zone is accepted; any other ROOT is refused with a message
 * naming both layout versions (or both zones): LAKE_REFUSED. -1 on a storage failure. */
int lake_layout_open(storage *s, const lake_tz *z, char *err, size_t errlen);
/* The scale-out layout's file names: every data file of partition part starts with
 * "part-p0003-s" (the stream writes by it, the dashboard reads the partition back from it). */
void lake_part_prefix(int part, char *out, size_t n);
/* The partition a file's base name gives ("part-p0003-s12-g1-0.parquet" -> 3; also the
 * unpadded "part-p3-..."), -1 for a file of the single layout. */
int lake_part_of_name(const char *path);

/* ---- where a fresh input began (ROOT/_ecom/starts/<20-digit wall clock us>.start) ----
 * A stream whose input starts empty (`ecom run`'s embedded broker, new at every start) holds,
 * in the window it starts in, only what came after its start: the dashboard marks that window
 * partial, as it marks the lake's first. A restart of `ecom stream` on a durable input resumes
 * from its offsets, loses nothing, and writes no mark. lake_input_start_mark writes one (empty
 * file, atomic; 0 or -1 with err). Where a fresh input's data ended (<us>.stop), the file the
 * single marks are folded into, and how readers take them: pipeline.h "fresh-input marks". */
#define LAKE_STARTS_DIR "_ecom/starts"
int lake_input_start_mark(storage *s, int64_t start_us, char *err, size_t errlen);

/* ---- raw event tables ---- */
typedef enum { LAKE_VIEWS = 0, LAKE_CART, LAKE_ORDERS, LAKE_REJECTED, LAKE_RAW_COUNT } lake_raw;

const char *lake_raw_name(lake_raw t);            /* "views", "cart", "orders", "rejected" */
lake_raw lake_raw_of_event(event_type t);         /* page_view -> VIEWS, cart -> CART, ... */
/* Builds the schema of a raw table (caller frees with pq_schema_free). */
pq_schema *lake_raw_schema(lake_raw t, char *err, size_t errlen);
/* Appends event e as one row of t (which must have been opened with lake_raw_schema of
 * lake_raw_of_event(e->type)) in partition `day` (lake_day_of its timestamp). */
int lake_append_event(lake_table *t, const event *e, int64_t day, int64_t now_us, char *err, size_t errlen);
/* Appends one rejected input record to t (LAKE_REJECTED) in partition `day`: ingest_ts = now_us,
 * source, position, reason, raw = the bytes exactly (BINARY), raw_preview = at most
 * LAKE_PREVIEW_BYTES of valid UTF-8 made from the first bytes (invalid ones become U+FFFD). */
#define LAKE_PREVIEW_BYTES 1024
int lake_append_rejected(lake_table *t, int64_t day, const char *source, int64_t position, const char *reason,
                         const char *raw, size_t rawlen, int64_t now_us, char *err, size_t errlen);

/* ---- one ingest path: an input record -> exactly one outcome ----
 * `ecom load` (file, stdin) and `ecom stream` (file, stdin, Kafka) both turn each record into
 * one of: an event row in its raw table, a rejected row, or nothing for a blank line, through
 * lake_ingest_parse + lake_ingest_write (or lake_ingest_line, both at once). The stream runs
 * its engine between the two steps and may turn an event into a rejected line
 * (lake_line_reject) or drop it (a duplicate: it does not call write).
 *
 *   blank     the record is empty or holds only spaces, tabs, CR and LF: nothing is written,
 *             it is counted (counts.blank).
 *   event     event_parse accepted it: one row in views / cart / orders, in the partition of
 *             its timestamp's date in the lake's zone.
 *   rejected  anything else: one row in `rejected` with the reason and the bytes exactly.
 *             Its partition (one rule for every source): the date of the record's own
 *             "timestamp" field if it has one that parses as RFC 3339, else of the source's
 *             time for the record (the Kafka message timestamp) if any, else of the ingest
 *             time; in the lake's zone.
 * The line ending (LF or CR LF) is not part of the record. */
typedef enum { LAKE_LINE_EVENT = 0, LAKE_LINE_REJECTED, LAKE_LINE_BLANK } lake_line_kind;

typedef struct {
    const char *p;        /* the record's bytes (need not be NUL-terminated), borrowed */
    size_t n;
    const char *source;   /* input name: the file, "-" for stdin, "topic:partition"; borrowed */
    int64_t position;     /* line number from 1 (file, stdin) or the Kafka offset */
    int64_t ts_hint_us;   /* the source's time for the record (Kafka timestamp), 0 = none */
} lake_input;

typedef struct {
    lake_line_kind kind;
    event ev;             /* EVENT: views into the record and the parser, valid until the next parse */
    char reason[256];     /* REJECTED */
    lake_input in;        /* the record, line ending removed */
} lake_line;

typedef struct {
    uint64_t events[EV_TYPE_COUNT], rejected, blank;
} lake_ingest_counts;

typedef struct lake_ingest lake_ingest;

/* An ingest context: the event parser and the counters. tz is borrowed (NULL = UTC). NULL on
 * out of memory. One thread at a time. */
lake_ingest *lake_ingest_new(lake_tz *tz);
void lake_ingest_free(lake_ingest *g);
/* Step 1: classifies and parses one record into *out (never fails). */
void lake_ingest_parse(lake_ingest *g, const lake_input *in, lake_line *out);
/* Turns a parsed line into a rejected one with `reason` (e.g. the engine refused its time). */
void lake_line_reject(lake_line *l, const char *reason);
/* The raw table a line goes to, or LAKE_RAW_COUNT for a blank line (no table). */
lake_raw lake_line_table(const lake_line *l);
/* Step 2: writes the line's outcome into t (the table lake_line_table names; NULL for blank)
 * and counts it. -1 with err on a write failure (the line is then not counted). */
int lake_ingest_write(lake_ingest *g, const lake_line *l, lake_table *t, int64_t now_us, char *err, size_t errlen);
/* Both steps: tables[] are the four raw tables indexed by lake_raw. *kind (may be NULL) gets
 * the outcome. */
int lake_ingest_line(lake_ingest *g, const lake_input *in, lake_table *const tables[LAKE_RAW_COUNT], int64_t now_us,
                     lake_line_kind *kind, char *err, size_t errlen);
const lake_ingest_counts *lake_ingest_get_counts(const lake_ingest *g);
/* The parser's event_parser_decoded() for the last line parsed as an event. */
size_t lake_ingest_decoded(const lake_ingest *g);

#endif
