/*
 * webhdfs — the HDFS backend of the storage interface (storage.h), over the WebHDFS REST API
 * with libcurl. Also speaks to HttpFS (the same REST API behind one gateway, no DataNode
 * redirect). See docs/hdfs.md for running against a real cluster.
 *
 * Contract
 *   - Root URIs:   hdfs://HOST[:PORT]/path  and  webhdfs://HOST[:PORT]/path   (the NameNode's HTTP
 *                  address, default port 9870);  swebhdfs://... the same over HTTPS;
 *                  httpfs://HOST[:PORT]/path (an HttpFS gateway, default port 14000: uploads go in
 *                  one request with data=true instead of the NameNode's 307 to a DataNode).
 *     The path part is the lake's root inside HDFS ("/" if absent).
 *   - Paths given to the functions are relative to the root, '/'-separated, not absolute, no ".."
 *     or empty components ("" alone means the root for list/stat). Bad ones: -1, "bad path".
 *   - User: opts->user, else $HADOOP_USER_NAME, else none (the server then decides). A secure
 *     cluster: opts->negotiate = SPNEGO/Kerberos instead (libcurl's GSS-API), with a ticket from
 *     the user's cache or a keytab login into a private cache, renewed before expiry
 *     (webhdfs_krb5.h). No or an expired ticket fails at open with a message saying what to do.
 *   - TLS (swebhdfs://): the server's certificate is verified against opts->ca_file, else the
 *     system's CAs; an untrusted one fails at once, naming --hdfs-ca.
 *   - HA: with opts->namenodes the requests go to one NameNode of the list; a StandbyException,
 *     a refused or timed-out connection to it moves to the next one (round robin), counted as a
 *     retry of the same operation (the first move happens without backoff).
 *   - Writes: webhdfs_create() makes a handle; webhdfs_file_write() buffers in memory and past
 *     opts->spill_bytes spills to an unlinked temporary file; webhdfs_file_close() uploads the
 *     whole file in ONE CREATE (overwrite=true) streamed from that buffer/spool, so a retry
 *     after a lost connection simply repeats the idempotent CREATE, and the file is never held
 *     in memory twice. Nothing exists on HDFS before close. A failed close removes any partial
 *     file (best effort).
 *   - webhdfs_rename() replaces the destination atomically (RENAME with renameoptions=OVERWRITE,
 *     one NameNode operation), creating its parent if missing. HDFS's plain rename would fail
 *     on an existing file or, worse, move the source INTO an existing directory.
 *   - Reads: webhdfs_read() of up to 32 KiB fetches the 64 KiB ending at the read's end (or the
 *     file's first 64 KiB) and serves the next reads of the same path from them (a Parquet
 *     footer + small column chunks in one OPEN), within 1 s and until any other operation of
 *     this client (stat, list, create, rename, delete, mkdirs, a read of another path).
 *   - Trace: with $ECOM_WEBHDFS_TRACE set (non-empty), every HTTP request prints one line on
 *     stderr: "webhdfs: METHOD URL -> STATUS in MS ms" (URL without user.name, a delegation
 *     token shown as ***; error messages show URLs the same way).
 *   - Faults: connection errors, timeouts, HTTP 5xx, StandbyException, RetriableException and
 *     SafeModeException are retried opts->retries times with exponential backoff; everything
 *     else (404, 403, FileNotFoundException, ...) fails at once. Each request is bounded:
 *     connect timeout, and a stall timeout (no byte moved for opts->io_timeout_ms).
 *     Errors read "webhdfs OP /abs/path: Exception: message (HTTP 404)" or name the curl error.
 *   - Ownership: webhdfs_open() returns an object freed by webhdfs_close(), which owns one curl
 *     handle (connections reused across requests). A webhdfs_file is freed by
 *     webhdfs_file_close() or webhdfs_file_abort(). webhdfs_list() fills a storage_list_t whose
 *     names and array are malloc'ed (storage_list_free() or webhdfs_list_free() releases it).
 *   - Thread safety: one thread at a time per webhdfs (and its files).
 */
#ifndef ECOM_WEBHDFS_H
#define ECOM_WEBHDFS_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include "storage/storage.h"

typedef struct webhdfs webhdfs;
typedef struct webhdfs_file webhdfs_file;

typedef struct {
    const char *user;           /* user.name; NULL: $HADOOP_USER_NAME; empty: none */
    bool negotiate;             /* SPNEGO (Kerberos) instead of user.name */
    const char *keytab;         /* negotiate: log in from this keytab (webhdfs_krb5.h)... */
    const char *principal;      /* ...as this principal; both NULL: the user's ticket cache */
    const char *ca_file;        /* HTTPS: trust the CA(s) in this PEM file (not the system's) */
    const char *namenodes;      /* HA: "host:port,host:port"; the URI's host is a nameservice name */
    int retries;                /* extra attempts after a retryable failure; <0: 4 */
    long backoff_ms;            /* first backoff, doubled per retry, capped at 2 s; <=0: 200 */
    long connect_timeout_ms;    /* <=0: 5000 */
    long io_timeout_ms;         /* abort a request that moves no byte for this long; <=0: 30000 */
    size_t spill_bytes;         /* a file bigger than this is spooled to a temp file; 0: 8 MiB */
} webhdfs_opts;

/* Counters since open, for status pages and benchmarks. */
typedef struct {
    uint64_t requests;          /* HTTP requests sent (each attempt, each redirect step) */
    uint64_t retries;           /* attempts repeated after a retryable failure */
    uint64_t failovers;         /* HA: moves to another NameNode */
    uint64_t errors;            /* operations that failed (returned -1) */
    uint64_t bytes_up, bytes_down;
} webhdfs_stats;

/* Opens a client for uri (see above); opts may be NULL for defaults. Does no HTTP request (a
 * keytab login talks to the KDC; the ticket cache is read). */
webhdfs *webhdfs_open(const char *uri, const webhdfs_opts *opts, char *err, size_t errlen);
void webhdfs_close(webhdfs *w);
/* "http://HOST:PORT/webhdfs/v1" + root path, for messages. */
const char *webhdfs_base(const webhdfs *w);
void webhdfs_get_stats(const webhdfs *w, webhdfs_stats *out);

int webhdfs_create(webhdfs *w, const char *path, webhdfs_file **out, char *err, size_t errlen);
int webhdfs_file_write(webhdfs_file *f, const void *p, size_t n, char *err, size_t errlen);
int webhdfs_file_close(webhdfs_file *f, char *err, size_t errlen);   /* upload + free */
/* Writes a whole small file only if path does not exist (a private temporary file, then a
 * RENAME without overwrite): 0 created, 1 it existed, -1 other error (storage_put_if_absent()). */
int webhdfs_put_new(webhdfs *w, const char *path, const void *p, size_t n, char *err, size_t errlen);
void webhdfs_file_abort(webhdfs_file *f);                            /* discard + free */

int webhdfs_rename(webhdfs *w, const char *from, const char *to, char *err, size_t errlen);
/* A file or an empty directory; a missing path is not an error. */
int webhdfs_remove(webhdfs *w, const char *path, char *err, size_t errlen);
int webhdfs_mkdirs(webhdfs *w, const char *path, char *err, size_t errlen);
/* A missing directory gives an empty list; a file gives an error. */
int webhdfs_list(webhdfs *w, const char *dir, storage_list_t *out, char *err, size_t errlen);
void webhdfs_list_free(storage_list_t *l);
/* Fills is_dir, size, mtime_us of out (out->name is set to NULL); out may be NULL. */
int webhdfs_stat(webhdfs *w, const char *path, storage_entry *out, bool *exists, char *err, size_t errlen);
/* OPEN with offset/length: reads up to n bytes at off; *got < n only at end of file. */
int webhdfs_read(webhdfs *w, const char *path, uint64_t off, void *dst, size_t n, size_t *got, char *err,
                 size_t errlen);

/* The storage_ops table of this backend: ctx is a webhdfs*, a storage_file* is a webhdfs_file*. */
const storage_ops *webhdfs_storage_ops(void);
/* Opens ctx for a storage root with the options of storage.h (o may be NULL). A bad option
 * (unknown auth, keytab without principal, a bad namenodes list) fails here. */
void *webhdfs_storage_open(const char *root, const storage_opts *o, char *err, size_t errlen);
/* The NameNode origin ("http://host:port") requests go to now (HA: changes on failover). */
const char *webhdfs_origin(const webhdfs *w);
/* True for the URI schemes this backend serves (hdfs, webhdfs, swebhdfs, httpfs). */
bool webhdfs_is_uri(const char *root);

/* ---- internal, exposed for unit tests: a minimal JSON reader for WebHDFS answers ----
 * wj_parse() builds a read-only tree of the whole text; node 0 is the root. Strings are decoded
 * (escapes, \u surrogate pairs to UTF-8) and NUL-terminated. Nesting deeper than 64, bad
 * syntax, trailing junk: -1 with a message naming the byte offset. wj_free() releases it. */
enum { WJ_NULL, WJ_FALSE, WJ_TRUE, WJ_NUM, WJ_STR, WJ_ARR, WJ_OBJ };
typedef struct {
    int type;
    int next;          /* next sibling (array element / object member), -1 at the end */
    int child;         /* first element / member, -1 if none or not a container */
    size_t key;        /* object members: offset of the key in strs */
    size_t str, len;   /* WJ_STR: offset in strs and byte length; WJ_NUM: offset of its text */
    double num;
} wj_node;
typedef struct {
    wj_node *nodes;
    size_t n, cap;
    char *strs;
    size_t strs_len, strs_cap;
} wj_doc;
int wj_parse(wj_doc *d, const char *text, size_t len, char *err, size_t errlen);
void wj_free(wj_doc *d);
/* Member of object node obj named key, or -1. */
int wj_get(const wj_doc *d, int obj, const char *key);
/* String value of node (NULL if not a string). */
const char *wj_str(const wj_doc *d, int node);
/* Integer value of a number node; 0 or -1 if not an integral number in int64 range. */
int wj_int(const wj_doc *d, int node, int64_t *out);

#endif
