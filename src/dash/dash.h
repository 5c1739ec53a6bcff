/*
 * dash — the web dashboard: an HTTP server (libmicrohttpd) that serves one embedded page and a
 * JSON API over the committed metric tables of a lake (see docs/dashboard.md).
 *
 * Layers (each usable alone, which is how the tests use them)
 *   - range   : dash_range_parse() validates the query parameters of an API call.
 *   - source  : where rows come from. dash_source is a small interface (list the committed files,
 *               scan one table over a time range); dash_source_lake() is the real one, reading the
 *               lake's Parquet files through ecom's reader (one table per catalog metric, columns
 *               by their catalog names), skipping date partitions and row groups outside the
 *               range. Unit tests plug in their own rows.
 *   - engine  : dash_engine answers API calls, one per catalog metric (/api/<metric name>) and
 *               rank (/api/<rank name>) plus /api/summary, /api/health and /api/catalog: it sums
 *               scanned rows by the catalog's merge rules (agg.c), renders JSON, caches the
 *               answers, and throws the cache away when the source's generation (a hash of the
 *               committed file listing) or the stream's open windows change. With a stream URL
 *               it fetches the stream's GET /status (libcurl, schema 2) and merges its open
 *               windows into the answers, each marked final or provisional with its final_at.
 *   - server  : dash_server binds (loopback by default), routes GET/HEAD requests to the embedded
 *               assets and the engine, checks the optional bearer token / cookie, and adds the
 *               security headers. Its flood guard gives every request a deadline, limits
 *               connections per address and keeps a share of them for 127.0.0.1 / ::1.
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

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "metrics/metrics.h"
#include "storage/storage.h"
#include "util/util.h"

/* ---- rows of a catalog metric (src/metrics/metrics.h) ----
 * A source hands the engine blocks of lake rows: their windows, the id of their key tuple (the
 * metric's KEY and ATTR columns, in catalog order) in the metric's dash_keys dictionary, and one
 * int64 per catalog column (INT: the count; MONEY: cents; STR and RATE columns: 0 — strings are
 * in the dictionary, rates are recomputed from their num/den after merging). Why ids: summing a
 * range is then an array add per row, with no string hashing (a day of product_activity is
 * ~470k rows, answered in a few ms). */
typedef struct dash_keys dash_keys;

/* A dictionary of key tuples -> dense ids 0..n-1 for metric m. NULL when out of memory. */
dash_keys *dash_keys_new(const metric_def *m);
void dash_keys_free(dash_keys *k);
/* Id of the tuple s[i] (length n[i]) for each of the metric's first nstr columns (its KEY and
 * ATTR columns), added when new; -1 when out of memory. Strings are copied. */
int32_t dash_keys_intern(dash_keys *k, const char *const *s, const size_t *n);
size_t dash_keys_count(const dash_keys *k);
/* Column col (< nstr) of tuple id, NUL-terminated, owned by k. */
const char *dash_keys_str(const dash_keys *k, int32_t id, int col);
/* Number of leading STR columns (KEY + ATTR) of m: the width of a key tuple. */
int dash_metric_nstr(const metric_def *m);

/* Which catalog columns of a row are not known (bit c = column c): a file written before the
 * catalog had the column (an older ecom: a funnel without `abandoned`), or a null in it. Such a
 * value is unknown, never 0: the engine renders it null and says so (docs/dashboard.md "Columns
 * a file does not have"). */
typedef uint16_t dash_unknown;
_Static_assert(METRIC_MAX_COLS <= 16, "dash_unknown holds one bit per catalog column");

/* A block of rows, column-wise: row i has window [ws[i], we[i]), key tuple id key[i] in the
 * metric's dash_keys (0 for a metric without keys), values v[i * ncols .. + ncols) by catalog
 * column index (0 where unknown) and unk[i] its unknown columns (unk NULL: every value of the
 * block is known, the common case). Why blocks: a consumer sums a decoded row group in one tight
 * loop (no call per row). A block may hold rows outside the scanned range: the consumer filters
 * on ws. */
typedef struct {
    size_t n;
    const int64_t *ws, *we, *v;
    const int32_t *key;
    const dash_unknown *unk;
} dash_block;

/* Called by a scan for each block that may hold rows in [from, to); a non-zero return stops
 * the scan with that code. */
typedef int (*dash_block_fn)(void *ctx, const dash_block *b, int64_t from, int64_t to);

/* Scale-out partitions told apart when merging open windows (a partition number at or above it
 * is compared with the metric's latest end, as in the single layout). */
#define DASH_MAX_PARTS 256

/* ---- source: where committed rows come from ---- */
typedef struct {
    void *ctx;
    /* Re-lists the committed files (cheap). Sets *generation to a value that changes whenever
     * the set of committed files (names, sizes, mtimes) changes, and latest_end[m] to the latest
     * window_end of metric m's table (INT64_MIN if it has none). */
    int (*poll)(void *ctx, uint64_t *generation, int64_t latest_end[METRIC_ID_COUNT], char *err, size_t errlen);
    /* Calls fn with blocks holding every row of metric m whose window_start lies in [from, to)
     * (correction rows and every partition's rows included; rows outside the range may come
     * along). A missing table gives no rows and no error. Called after poll, with the listing
     * poll saw. */
    int (*scan)(void *ctx, metric_id m, int64_t from, int64_t to, dash_block_fn fn, void *fnctx, char *err,
                size_t errlen);
    /* The dictionary of metric m's key tuples (owned by the source; ids stay valid for its life). */
    const dash_keys *(*keys)(void *ctx, metric_id m);
    /* Optional (may be NULL): appends a JSON object describing the tables to out
     * ({"sales_per_minute": {"files": n, ...}, ..., "rejected": {...}}). */
    int (*describe)(void *ctx, buf_t *out, char *err, size_t errlen);
    void (*destroy)(void *ctx);
    /* Optional (may be NULL): the earliest window_start of metric m's table (INT64_MIN if it has
     * none), after poll: where the lake's data begins (its first window holds only the part of
     * the minute after the stream started). */
    int64_t (*first_start)(void *ctx, metric_id m);
    /* Optional (may be NULL): the latest committed window_end of each scale-out partition of
     * metric m (ends[p], INT64_MIN for a partition with no file), after poll; false when no
     * file of m names a partition (the single layout). */
    bool (*part_ends)(void *ctx, metric_id m, int64_t ends[DASH_MAX_PARTS]);
    /* Optional (may be NULL): after poll, where fresh inputs began (lake.h's <us>.start marks and
     * pipeline.h's fold of them, "fresh-input marks": an
     * `ecom run` on its new embedded broker, also after a restart), ascending, in *starts (owned
     * by the source until the next poll); returns their count. The window holding one is partial. */
    size_t (*input_starts)(void *ctx, const int64_t **starts);
    /* Optional (may be NULL): after poll, where the data of a fresh input ended (an `ecom run`
     * stopped: pipeline.h fresh_input's .stop marks), ascending, like input_starts. The window
     * holding one is partial too. */
    size_t (*input_stops)(void *ctx, const int64_t **stops);
    /* Optional (may be NULL): after poll, the largest funnel horizon (us) the footers of metric
     * m's newest files state (pipeline.h PIPELINE_KV_FUNNEL_HORIZON), INT64_MIN when none does
     * (files of an older ecom). */
    int64_t (*funnel_horizon)(void *ctx, metric_id m);
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
    int64_t limit;       /* limit=N (1..100) for keyed and ranked lists; 0 = default (rank n, else 100) */
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
 * fixed list: no file system is involved). */
const dash_asset *dash_asset_find(const char *path, dash_asset *out);

/* ---- server ---- */
typedef struct {
    const char *listen;          /* "HOST:PORT" ("127.0.0.1:8501", "[::1]:0", "localhost:8501");
                                    port 0 picks a free port; NULL = 127.0.0.1:8501 */
    const char *auth_token;      /* NULL or "" = no auth */
    unsigned max_connections;    /* 0 = 4096; capped to what RLIMIT_NOFILE allows (the server raises
                                    the soft limit to the hard one); 1/8 of them are kept for
                                    requests from 127.0.0.1 / ::1 (the operator) */
    unsigned per_ip_connections; /* per client address, the operator's exempt; 0 = 256 */
    unsigned timeout_s;          /* idle connection timeout; 0 = 15 */
    unsigned header_timeout_s;   /* the first request (headers and body) must be complete within
                                    this after the connection opens, else it is closed (a next
                                    one on a kept-alive connection: within timeout_s of the
                                    previous answer); 0 = 5 */
    unsigned threads;            /* worker threads; 0 = 2 */
    size_t memory_limit;         /* per connection (bounds headers and URL); 0 = 64 KiB */
    const char *tls_cert;        /* HTTPS (GnuTLS via libmicrohttpd): PEM certificate chain file and */
    const char *tls_key;         /* its unencrypted PEM private key file; both or neither (NULL = HTTP) */
} dash_server_opts;

typedef struct dash_server dash_server;

/* Starts serving in background threads. NULL with err on failure (bad address, port in use,
 * unreadable or invalid TLS certificate/key: the message names --tls-cert/--tls-key). */
dash_server *dash_server_start(dash_engine *e, const dash_server_opts *opts, char *err, size_t errlen);
/* The port actually bound (useful with port 0). */
uint16_t dash_server_port(const dash_server *s);
void dash_server_stop(dash_server *s);

/* ---- the stream's status (libcurl) ---- */
/* GETs BASE_URL/status (at most 1 MiB, 500 ms in all) into out, checking that it is one JSON
 * object. 0 or -1 with err. Only http:// and https:// URLs are accepted. The program must have
 * called curl_global_init() once before starting threads (cmd_dash does). */
int dash_status_fetch(const char *base_url, buf_t *out, char *err, size_t errlen);
/* The long poll: GET /status?after=after (after 0: at once), waiting up to wait_ms for the
 * stream's next publish; *version = its X-Ecom-Status-Version, 0 when the stream does not send
 * one (then it cannot long-poll either: poll it once a second). A non-zero *cancel (may be
 * NULL; checked about once a second) abandons the wait. 0 or -1 like dash_status_fetch. */
int dash_status_fetch_after(const char *base_url, uint64_t after, long wait_ms, const atomic_bool *cancel,
                            uint64_t *version, buf_t *out, char *err, size_t errlen);

/* ---- push (the engine's feed; served as Server-Sent Events by the server) ----
 * dash_engine_feed_start() starts a thread that follows the stream's status by long poll (no
 * 1 s poll; a stream that is down is asked once a second) and keeps the engine's copy of it,
 * so answers no longer fetch it (a stream that answers without X-Ecom-Status-Version cannot
 * long-poll: then answers fetch it as without a feed). After each fetch it calls notify(ctx) from that thread
 * (also without a change, at least every 5 s: a heartbeat); a commit seen in the status makes
 * the next answer re-list the lake. Without a stream URL it does nothing. 0 or -1 (err).
 * dash_engine_feed_stop() joins the thread (dash_engine_free does too); notify is not called
 * after it returns. */
typedef void (*dash_notify_fn)(void *ctx);
int dash_engine_feed_start(dash_engine *e, dash_notify_fn notify, void *ctx, char *err, size_t errlen);
void dash_engine_feed_stop(dash_engine *e);
/* How many clients follow the push (the server's SSE connections). With none, the feed follows
 * the stream at most every 250 ms instead of at every publish (answers may then be that much
 * older); a first client wakes it at once. */
void dash_engine_set_watchers(dash_engine *e, unsigned n);
/* The change counter (0 before the first status) and, in out, the SSE payload of the latest
 * change: {"seq":N,"epoch":E,"newest_event_at":T|null,"stream_error":S|null}. */
uint64_t dash_engine_live(dash_engine *e, buf_t *out);

/* One open (provisional) window row of a metric, from /status schema 2 (docs/stream.md):
 * strings for the metric's KEY/ATTR columns, int64 values by catalog column index (money in
 * cents, rates not kept: recomputed), and when it becomes final. */
typedef struct {
    int64_t ws, we, final_at;    /* final_at: INT64_MIN when the stream gave null */
    char *s[METRIC_MAX_COLS];    /* [nstr], owned */
    int64_t v[METRIC_MAX_COLS];
    dash_unknown unk;            /* columns the status does not carry (an older stream) */
    int part;                    /* its scale-out partition, -1 without one (the single layout) */
} dash_prov_row;

typedef struct {
    dash_prov_row *rows[METRIC_ID_COUNT];
    size_t n[METRIC_ID_COUNT];
    int64_t watermark;           /* INT64_MIN when null */
    int64_t max_end;             /* latest window_end of any open window, INT64_MIN if none */
    uint64_t hash;               /* of the open windows (changes when any number changes) */
    int64_t epoch;               /* the stream's epoch (-1 when absent): a change means a commit */
    int64_t newest_event;        /* newest_event_at, INT64_MIN when null or absent */
} dash_prov;

/* Parses a /status document (schema 2) into p (zeroed by the caller). Metrics absent from
 * open_windows have no rows; a member that is not a catalog metric is ignored. -1 with err when
 * the document is not schema 2 or a row is malformed (p is then empty). */
int dash_prov_parse(const char *json, size_t n, dash_prov *p, char *err, size_t errlen);
void dash_prov_free(dash_prov *p);

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
