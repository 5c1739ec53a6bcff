/*
 * lake — Parquet tables on a storage (local disk or HDFS): date-partitioned, atomically
 * committed, with deterministic file names; plus the raw event tables (views, cart, orders,
 * rejected) and the event -> row mapping used by `ecom load` (and by the stream writer).
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

/* Resolves what a user typed: a Parquet file, or a directory of them (a table, a partition),
 * on local disk or at a storage URI (opened with options so; NULL: defaults). Opens *s (caller closes) rooted at the directory (or the
 * file's parent) and lists the files relative to it, pruned to date as lake_list_files does.
 * *is_dir tells which it was. Errors: no such path, storage failures. */
int lake_resolve(const char *path, const storage_opts *so, const char *date, storage **s, char ***files,
                 size_t *n, bool *is_dir, char *err, size_t errlen);

/* A Parquet reader over a storage file. */
typedef struct lake_file lake_file;
lake_file *lake_file_open(storage *s, const char *path, char *err, size_t errlen);
pq_reader *lake_file_reader(lake_file *f);
void lake_file_close(lake_file *f);

/* ---- raw event tables ---- */
typedef enum { LAKE_VIEWS = 0, LAKE_CART, LAKE_ORDERS, LAKE_REJECTED, LAKE_RAW_COUNT } lake_raw;

const char *lake_raw_name(lake_raw t);            /* "views", "cart", "orders", "rejected" */
lake_raw lake_raw_of_event(event_type t);         /* page_view -> VIEWS, cart -> CART, ... */
/* Builds the schema of a raw table (caller frees with pq_schema_free). */
pq_schema *lake_raw_schema(lake_raw t, char *err, size_t errlen);
/* Appends event e as one row of t (which must have been opened with lake_raw_schema of
 * lake_raw_of_event(e->type)) in the partition of its timestamp's UTC date. */
int lake_append_event(lake_table *t, const event *e, int64_t now_us, char *err, size_t errlen);
/* Appends one rejected line: source (input name), line number, reason and raw text, in the
 * partition `day`. */
int lake_append_rejected(lake_table *t, int64_t day, const char *source, int64_t line_no, const char *reason,
                         const char *raw, size_t rawlen, int64_t now_us, char *err, size_t errlen);

#endif
