/*
 * dash — the web dashboard: an HTTP server (libmicrohttpd) that serves one embedded page and a
 * JSON API over the committed metric tables of a lake (see docs/dashboard.md).
 *
 * Layers (each usable alone, which is how the tests use them)
 *   - range   : dash_range_parse() validates the query parameters of an API call.
 *   - source  : where rows come from. dash_source is a small interface (list the committed files,
 *               scan one table over a time range); dash_source_lake() is the real one, reading the
 *               lake's Parquet files through ecom's reader, skipping date partitions and row groups
 *               outside the range. Unit tests plug in their own rows.
 *   - engine  : dash_engine answers API calls: it aggregates scanned rows into JSON, caches the
 *               answers, and throws the cache away when the source's generation (a hash of the
 *               committed file listing) changes. With a stream URL it also fetches the stream's
 *               GET /status (libcurl) and adds its open windows, marked "provisional": true.
 *   - server  : dash_server binds (loopback by default), routes GET/HEAD requests to the embedded
 *               assets and the engine, checks the optional bearer token / cookie, and adds the
 *               security headers.
 *
 * Contract
 *   - Errors: 0 / -1 (or NULL) with a NUL-terminated message in a caller buffer (err, errlen).
 *     Bad client input is never an error of the engine: it is an HTTP status (400/404/405/401)
 *     with a JSON body {"error": "..."}; the engine returns 503 when the lake cannot be read.
 *   - Ownership: dash_source_lake() returns a source the engine takes over (dash_engine_free
 *     frees it); dash_engine_new / dash_engine_free; dash_server_start / dash_server_stop (the
 *     server does not own the engine: stop the server first, then free the engine). A dash_rows
 *     owns its rows and their strings (dash_rows_free). JSON answers are appended to the
 *     caller's buf_t.
 *   - Threads: dash_engine_handle() may be called from several threads at once (one mutex
 *     inside). A dash_source is only ever called with that mutex held.
 *   - Money is int64 cents inside and a JSON number with two decimals outside. Instants are
 *     int64 microseconds (UTC) inside and RFC 3339 UTC strings outside.
 */
#ifndef ECOM_DASH_H
#define ECOM_DASH_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "storage/storage.h"
#include "util/util.h"

/* ---- the metric tables the dashboard reads (columns as written by `ecom stream`) ---- */
typedef enum {
    DASH_T_SALES = 0,   /* sales_per_minute: orders, items, revenue, avg_ticket */
    DASH_T_CATEGORY,    /* category_activity: category | views, adds, removes, units_sold, revenue */
    DASH_T_TOP,         /* top_products: product_id, product_name, category | rank, views */
    DASH_T_CITY,        /* sales_by_city: province, city, store_type | orders, revenue */
    DASH_T_FUNNEL,      /* funnel: viewed, carted, purchased */
    DASH_T_COUNT
} dash_table;

const char *dash_table_name(dash_table t);   /* "sales_per_minute", ... */

/* One row of any metric table: the window, up to 3 text columns and up to 5 integers, in the
 * order listed above (money columns in cents). */
#define DASH_ROW_STRS 3
#define DASH_ROW_NUMS 5
typedef struct {
    int64_t ws, we;                  /* window_start, window_end (us) */
    const char *s[DASH_ROW_STRS];    /* owned by the dash_rows that holds the row; never NULL */
    int64_t n[DASH_ROW_NUMS];
} dash_row;

typedef struct {
    dash_row *rows;
    size_t n, cap;
    struct dash_chunk *chunks_;      /* internal: string storage that never moves */
} dash_rows;

/* Appends a row; the strings are copied (NULL counts as ""). 0 or -1 (out of memory). */
int dash_rows_add(dash_rows *r, int64_t ws, int64_t we, const char *const s[DASH_ROW_STRS],
                  const int64_t n[DASH_ROW_NUMS]);
/* Appends every row of src to dst. 0 or -1. */
int dash_rows_extend(dash_rows *dst, const dash_rows *src);
void dash_rows_free(dash_rows *r);

/* ---- source: where committed rows come from ---- */
typedef struct {
    void *ctx;
    /* Re-lists the committed files (cheap). Sets *generation to a value that changes whenever
     * the set of committed files (names, sizes, mtimes) changes, and *latest_end to the latest
     * window_end of any metric table (INT64_MIN if there is none). */
    int (*poll)(void *ctx, uint64_t *generation, int64_t *latest_end, char *err, size_t errlen);
    /* Appends to out the rows of table t whose window_start lies in [from, to). A missing table
     * gives no rows and no error. Called after poll, with the listing poll saw. */
    int (*scan)(void *ctx, dash_table t, int64_t from, int64_t to, dash_rows *out, char *err, size_t errlen);
    /* Optional (may be NULL): appends a JSON object describing the tables to out
     * ({"sales_per_minute": {"files": n, ...}, ..., "rejected_rows": n}). */
    int (*describe)(void *ctx, buf_t *out, char *err, size_t errlen);
    void (*destroy)(void *ctx);
} dash_source;

/* The real source over a lake root (a local path or a storage URI) opened with options so
 * (copied; NULL: defaults). Returns 0 and fills *out, or -1. */
int dash_source_lake(const char *root, const storage_opts *so, dash_source *out, char *err, size_t errlen);

/* ---- range parameters ---- */
typedef struct {
    bool has_last;       /* last=DURATION (relative to the latest committed window end) */
    int64_t last_us;
    bool has_from_to;    /* from=RFC3339&to=RFC3339 */
    int64_t from_us, to_us;
    int64_t limit;       /* limit=N (1..100) for ranked lists; 0 = default */
} dash_params;

/* Longest range accepted (bounds the work of one request). */
#define DASH_MAX_RANGE_US (400LL * 86400 * TIME_US_PER_SEC)

/* Validates one query parameter and records it into p. Unknown keys, duplicates, malformed or
 * out-of-range values give -1 with a message for a 400. Call dash_params_finish after all. */
int dash_params_add(dash_params *p, const char *key, const char *value, char *err, size_t errlen);
/* Checks the combination (last excludes from/to; from and to come together; from < to). */
int dash_params_finish(dash_params *p, char *err, size_t errlen);

/* ---- engine ---- */
typedef struct dash_engine dash_engine;

typedef struct {
    const char *stream_url;      /* base URL of `ecom stream --listen`, or NULL */
    int64_t poll_interval_us;    /* re-list the lake at most this often; 0 = 500 ms */
    int64_t default_last_us;     /* range when no parameter is given; 0 = 1 h */
    size_t cache_entries;        /* answers kept; 0 = 256 */
} dash_engine_opts;

/* Takes over src (also on failure). opts may be NULL. */
dash_engine *dash_engine_new(dash_source src, const dash_engine_opts *opts, char *err, size_t errlen);
void dash_engine_free(dash_engine *e);

/* True if path is one of the engine's API paths ("/api/..."). */
bool dash_engine_is_api(const char *path);

/* An answer: immutable bytes shared by reference count (the cache and the responses in flight
 * hold references), so a cached answer is sent without a copy. */
typedef struct dash_blob dash_blob;
const char *dash_blob_data(const dash_blob *b);
size_t dash_blob_len(const dash_blob *b);
void dash_blob_release(dash_blob *b);   /* drops one reference; NULL is fine */

/* Answers GET path with the validated params: sets *out to a JSON body (the caller releases it)
 * and returns the HTTP status: 200, 404 unknown API path, 503 the lake could not be read (error
 * bodies are {"error": "..."}), or 500 with *out = NULL only when memory ran out. */
int dash_engine_answer(dash_engine *e, const char *path, const dash_params *p, dash_blob **out);
/* The same, appending the body to out (for tests and tools). */
int dash_engine_handle(dash_engine *e, const char *path, const dash_params *p, buf_t *out);

/* ---- embedded assets ---- */
typedef struct {
    const char *path;            /* URL path: "/", "/app.js", ... */
    const char *content_type;
    const unsigned char *data;
    size_t len;
} dash_asset;

/* Fills *out with the asset served at path and returns out, or NULL (exact match against a
 * fixed list: no file system is involved). An asset of length 0 was not installed at build
 * time (the chart library without setup). */
const dash_asset *dash_asset_find(const char *path, dash_asset *out);

/* ---- server ---- */
typedef struct {
    const char *listen;          /* "HOST:PORT" ("127.0.0.1:8501", "[::1]:0", "localhost:8501");
                                    port 0 picks a free port; NULL = 127.0.0.1:8501 */
    const char *auth_token;      /* NULL or "" = no auth */
    unsigned max_connections;    /* 0 = 512 */
    unsigned per_ip_connections; /* 0 = 256 */
    unsigned timeout_s;          /* idle connection timeout; 0 = 15 */
    unsigned threads;            /* worker threads; 0 = 2 */
    size_t memory_limit;         /* per connection (bounds headers and URL); 0 = 64 KiB */
} dash_server_opts;

typedef struct dash_server dash_server;

/* Starts serving in background threads. NULL with err on failure (bad address, port in use). */
dash_server *dash_server_start(dash_engine *e, const dash_server_opts *opts, char *err, size_t errlen);
/* The port actually bound (useful with port 0). */
uint16_t dash_server_port(const dash_server *s);
void dash_server_stop(dash_server *s);

/* ---- the stream's status (libcurl) ---- */
/* GETs BASE_URL/status (at most 1 MiB, 500 ms in all) into out, checking that it is one JSON
 * object. 0 or -1 with err. Only http:// and https:// URLs are accepted. The program must have
 * called curl_global_init() once before starting threads (cmd_dash does). */
int dash_status_fetch(const char *base_url, buf_t *out, char *err, size_t errlen);

/* ---- JSON helpers (used by the engine; exposed for tests) ---- */
#define DASH_JSON_MAX_DEPTH 32
int dash_json_str(buf_t *b, const char *s);              /* a JSON string literal, escaped */
int dash_json_money(buf_t *b, int64_t cents);            /* 1234 -> 12.34 (exact) */
int dash_json_ratio(buf_t *b, int64_t num, int64_t den); /* num/den, or null when den <= 0 */
int dash_json_time(buf_t *b, int64_t us);                /* "2026-11-25T09:30:00.000Z" */
/* True if p[0..n) is exactly one JSON value (nesting at most DASH_JSON_MAX_DEPTH). */
bool dash_json_valid(const char *p, size_t n);
/* In a valid JSON object, finds the value of top-level member key: its span in *vp, *vn. */
bool dash_json_member(const char *p, size_t n, const char *key, const char **vp, size_t *vn);

#endif
