/*
 * storage — where the lake lives: local disk or HDFS (WebHDFS), behind one interface.
 *
 * Contract
 *   - A storage is opened from a root URI: a local path ("./data", "/lake"), "file:///lake",
 *     or an HDFS one: "hdfs://HOST:PORT/path", "webhdfs://...", "swebhdfs://..." (HTTPS),
 *     "httpfs://..." (see webhdfs.h), with options (storage_opts) that only HDFS reads.
 *   - Paths given to the functions below are relative to the root, '/'-separated, never
 *     absolute and never containing "..": storage_* rejects them (-1, "bad path").
 *   - Atomic commit protocol used by every writer: create "dir/.name.tmp" (a name readers
 *     ignore: leading '.' or '_'), write, storage_file_close() (which flushes and fsyncs),
 *     then storage_rename() onto the final name, replacing it if present. Rename is atomic on
 *     POSIX file systems and on HDFS.
 *   - Errors: every function returns 0 on success and -1 on failure with a message in err;
 *     storage_file_* keep the first error and report it again on close.
 *   - Ownership: storage_open() returns an object freed by storage_close(); a storage_file is
 *     freed by storage_file_close() or storage_file_abort() (which also deletes the partial file).
 *     storage_list() fills a list freed by storage_list_free().
 *   - Thread safety: a storage may be used from one thread at a time.
 */
#ifndef ECOM_STORAGE_H
#define ECOM_STORAGE_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

typedef struct storage storage;
typedef struct storage_file storage_file;

typedef struct {
    char *name;       /* entry name within the listed directory (not a path); owned by the list */
    bool is_dir;
    uint64_t size;
    int64_t mtime_us;
} storage_entry;

typedef struct {
    storage_entry *entries;
    size_t n;
} storage_list_t;

/* Backend operations; each backend fills one of these. */
typedef struct {
    const char *name; /* "local", "webhdfs" */
    int (*create)(void *ctx, const char *path, storage_file **out, char *err, size_t errlen);
    int (*write)(storage_file *f, const void *p, size_t n, char *err, size_t errlen);
    int (*close_file)(storage_file *f, char *err, size_t errlen);
    void (*abort_file)(storage_file *f);
    int (*rename)(void *ctx, const char *from, const char *to, char *err, size_t errlen);
    int (*remove)(void *ctx, const char *path, char *err, size_t errlen);
    int (*mkdirs)(void *ctx, const char *path, char *err, size_t errlen);
    int (*list)(void *ctx, const char *dir, storage_list_t *out, char *err, size_t errlen);
    int (*stat)(void *ctx, const char *path, storage_entry *out, bool *exists, char *err, size_t errlen);
    int (*read)(void *ctx, const char *path, uint64_t off, void *dst, size_t n, size_t *got, char *err,
                size_t errlen);
    void (*destroy)(void *ctx);
    /* Create-exclusive (may be NULL: storage_put_if_absent() then fails): writes a whole small
     * file at path only if nothing is there; 0 created, 1 already present, -1 error. */
    int (*put_new)(void *ctx, const char *path, const void *p, size_t n, char *err, size_t errlen);
} storage_ops;

/* Options of storage_open_opts(). The local backend ignores them; the HDFS one reads all.
 * Strings are borrowed for the call only (the backend copies what it keeps); NULL = default.
 * Zero-initialise, then set retries = -1 for the default (storage_opts_init() does both). */
typedef struct {
    const char *user;        /* HDFS user.name (simple auth); NULL: $HADOOP_USER_NAME */
    const char *auth;        /* "simple" (default) or "kerberos" (SPNEGO) */
    const char *keytab;      /* kerberos: log in from this keytab into a private cache... */
    const char *principal;   /* ...as this principal (required with keytab) */
    const char *ca_file;     /* swebhdfs: PEM file of the CA(s) to trust instead of the system's */
    const char *namenodes;   /* HA: "host:port,host:port" (HTTP addresses); the URI's host is then
                              * the nameservice's name */
    int retries;             /* extra attempts after a retryable failure; <0: the backend's default */
    long connect_timeout_ms; /* <=0: default */
    long io_timeout_ms;      /* a request moving no byte this long fails; <=0: default */
} storage_opts;

void storage_opts_init(storage_opts *o);
/* A deep copy, for a caller that opens its storage later (the dashboard's lake source): NULL o
 * gives NULL with no error; NULL on out of memory otherwise. Freed by storage_opts_free(). */
storage_opts *storage_opts_copy(const storage_opts *o);
void storage_opts_free(storage_opts *o);

/* Opens root (creating a local root directory if missing) with options o (NULL: defaults).
 * NULL with err on failure (a bad option is an error here, before any I/O of the caller). */
storage *storage_open_opts(const char *root, const storage_opts *o, char *err, size_t errlen);
/* storage_open_opts(root, NULL, ...). */
storage *storage_open(const char *root, char *err, size_t errlen);
void storage_close(storage *s);
/* Makes a storage over a caller's backend: ops (borrowed, must outlive the storage) and ctx
 * (passed to every op; ops->destroy(ctx) runs at storage_close). For wrappers such as the
 * stream's staging storage, whose rename is recorded for a later commit. */
storage *storage_open_ops(const storage_ops *ops, void *ctx, const char *root, char *err, size_t errlen);
const char *storage_root(const storage *s);
const char *storage_backend(const storage *s);

/* Creates (truncating) a file for writing; parent directories are created as needed. */
int storage_create(storage *s, const char *path, storage_file **out, char *err, size_t errlen);
int storage_file_write(storage_file *f, const void *p, size_t n, char *err, size_t errlen);
int storage_file_close(storage_file *f, char *err, size_t errlen);   /* flush + fsync + free */
void storage_file_abort(storage_file *f);                            /* delete partial + free */

/* Atomically renames from -> to, replacing to if it exists. */
int storage_rename(storage *s, const char *from, const char *to, char *err, size_t errlen);
/* Deletes a file or an empty directory; a missing path is not an error. */
int storage_remove(storage *s, const char *path, char *err, size_t errlen);
int storage_mkdirs(storage *s, const char *path, char *err, size_t errlen);
/* Lists dir (relative; "" is the root). A missing dir gives an empty list, not an error. */
int storage_list(storage *s, const char *dir, storage_list_t *out, char *err, size_t errlen);
void storage_list_free(storage_list_t *l);
/* Stats path; *exists = false (and 0 returned) when it does not exist. */
int storage_stat(storage *s, const char *path, storage_entry *out, bool *exists, char *err, size_t errlen);
/* Reads up to n bytes at off; *got < n only at end of file. */
int storage_read(storage *s, const char *path, uint64_t off, void *dst, size_t n, size_t *got, char *err,
                 size_t errlen);

/* Writes a whole small file atomically (tmp + fsync + rename). For commit logs, checkpoints. */
int storage_put_atomic(storage *s, const char *path, const void *p, size_t n, char *err, size_t errlen);

/* Writes a whole small file only if path does not exist: 0 when this call created it, 1 when
 * a file was already there (nothing written), -1 on an error. Of two concurrent callers exactly
 * one gets 0, and readers see no file or the whole one: the bytes go to a private temporary
 * name (".<name>.<pid>-<random>.tmp" beside it), which then takes the final name only if that
 * is free (local: link(), EEXIST; WebHDFS/HttpFS: a RENAME without overwrite). For the writer
 * lease and the commit records (pipeline/lease.c, commit.c). A local file system without hard
 * links gets O_CREAT|O_EXCL in place (a crash there can leave a short file, which those
 * readers refuse or judge by its mtime). A retry inside the backend after a lost answer can
 * report 1 for a file this call wrote: the caller recognises its own content. A crash can
 * leave the temporary file (a hidden name): the next lease holder deletes it once it is older
 * than its lease timeout (storage_sweep_put_temporaries). */
int storage_put_if_absent(storage *s, const char *path, const void *p, size_t n, char *err, size_t errlen);
/* Deletes the private temporaries storage_put_if_absent() left in dir (not recursive) whose
 * mtime (the storage's clock) is more than max_age_us before now_us (the caller's wall clock):
 * a put takes milliseconds, so one that old is a crashed or fenced writer's. For the holder of
 * the writer lease of the files in dir (pipeline/lease.c), which passes its lease timeout: a
 * younger temporary may be a live writer's and is kept. *removed (may be NULL) counts them. */
int storage_sweep_put_temporaries(storage *s, const char *dir, int64_t max_age_us, int64_t now_us, size_t *removed,
                                  char *err, size_t errlen);

/* Reads a whole small file (commit records, checkpoints, layout files): *out is malloc'ed,
 * NUL-terminated (not counted in *n) and freed by the caller. A missing file gives 0 with
 * *exists = false and *out = NULL; one larger than max bytes is an error. */
int storage_get_all(storage *s, const char *path, size_t max, char **out, size_t *n, bool *exists, char *err,
                    size_t errlen);
/* True if a path component starts with '.' or '_' (hidden from readers by convention). */
bool storage_name_hidden(const char *name);

#endif
