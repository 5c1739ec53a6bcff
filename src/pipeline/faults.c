/*
 * pipeline/faults.c — TEST-ONLY storage fault injection for `ecom stream` and `ecom load` (and
 * the lake reader of `ecom dash`, src/dash/source.c).
 *
 * Why: the stream's recovery paths (a storage error in any step of an epoch, then rollback and
 * retry) must be tested against a real run, and the tests run as root, for whom chmod does not
 * make a directory unwritable. So a wrapper around the lake's storage fails chosen calls.
 *
 * It is enabled only by the environment variable ECOM_TEST_STORAGE_FAULTS (read once when the
 * job or the load opens its storage; unset in production, where this file does nothing):
 *
 *   ECOM_TEST_STORAGE_FAULTS="[prefix=PATH,][match=S,][from=N,][count=K][,reads][,report][,stop]"
 *
 * Calls are numbered from 1 in the order they are made; calls from..from+K-1 fail with
 * "injected storage fault (call N)". Only calls whose path (either path of a rename) starts
 * with PATH and contains S count (default: every path). Only mutating calls (create, put_new, rename, remove,
 * mkdirs) count unless `reads` is given (then also list, stat, read). Writes and closes of an open
 * file are passed through (their file was created by a counted call). Defaults: from=1, count=1.
 * `report` prints "storage faults: C calls counted, F failed" on stderr when the storage closes
 * (so that a test can sweep N over every call of a run). `stop`: the chosen calls do not fail;
 * the process stops itself (SIGSTOP) right before making them, as if the OS paused it there,
 * and makes them once resumed (SIGCONT): a zombie frozen at an exact point (the fencing tests).
 *
 * Example: "prefix=_ecom/commits,count=3" makes the first three attempts to write a commit
 * record fail, as if ROOT/_ecom/commits were unwritable for a while.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/pipeline_internal.h"

typedef struct {
    storage *base;
    char prefix[256], match[256];
    uint64_t from, count, calls, failed;
    bool reads, report, stop;
} faults;

/* Counts a call on path(s) a and b (b may be NULL); -1 with err when it is one to fail. */
static int fault_hit(faults *f, bool mutating, const char *a, const char *b, char *err, size_t errlen) {
    if (!mutating && !f->reads) return 0;
    size_t n = strlen(f->prefix);
    if (n && strncmp(a, f->prefix, n) && (!b || strncmp(b, f->prefix, n))) return 0;
    if (f->match[0] && !strstr(a, f->match) && (!b || !strstr(b, f->match))) return 0;
    uint64_t k = ++f->calls;
    if (k < f->from || k >= f->from + f->count) return 0;
    if (f->stop) {
        fprintf(stderr, "storage faults: stopping before call %llu on %s\n", (unsigned long long)k, a);
        raise(SIGSTOP);
        return 0;
    }
    f->failed++;
    snprintf(err, errlen, "injected storage fault (call %llu on %s)", (unsigned long long)k, a);
    return -1;
}

static int fs_create(void *ctx, const char *path, storage_file **out, char *err, size_t errlen) {
    faults *f = ctx;
    if (fault_hit(f, true, path, NULL, err, errlen)) return -1;
    return storage_create(f->base, path, out, err, errlen);
}
static int fs_write(storage_file *h, const void *p, size_t n, char *err, size_t errlen) {
    return storage_file_write(h, p, n, err, errlen);
}
static int fs_close_file(storage_file *h, char *err, size_t errlen) { return storage_file_close(h, err, errlen); }
static void fs_abort_file(storage_file *h) { storage_file_abort(h); }
static int fs_rename(void *ctx, const char *from, const char *to, char *err, size_t errlen) {
    faults *f = ctx;
    if (fault_hit(f, true, from, to, err, errlen)) return -1;
    return storage_rename(f->base, from, to, err, errlen);
}
static int fs_remove(void *ctx, const char *path, char *err, size_t errlen) {
    faults *f = ctx;
    if (fault_hit(f, true, path, NULL, err, errlen)) return -1;
    return storage_remove(f->base, path, err, errlen);
}
static int fs_mkdirs(void *ctx, const char *path, char *err, size_t errlen) {
    faults *f = ctx;
    if (fault_hit(f, true, path, NULL, err, errlen)) return -1;
    return storage_mkdirs(f->base, path, err, errlen);
}
static int fs_list(void *ctx, const char *dir, storage_list_t *out, char *err, size_t errlen) {
    faults *f = ctx;
    if (fault_hit(f, false, dir, NULL, err, errlen)) return -1;
    return storage_list(f->base, dir, out, err, errlen);
}
static int fs_stat(void *ctx, const char *path, storage_entry *out, bool *exists, char *err, size_t errlen) {
    faults *f = ctx;
    if (fault_hit(f, false, path, NULL, err, errlen)) return -1;
    return storage_stat(f->base, path, out, exists, err, errlen);
}
static int fs_read(void *ctx, const char *path, uint64_t off, void *dst, size_t n, size_t *got, char *err,
                   size_t errlen) {
    faults *f = ctx;
    if (fault_hit(f, false, path, NULL, err, errlen)) return -1;
    return storage_read(f->base, path, off, dst, n, got, err, errlen);
}
static int fs_put_new(void *ctx, const char *path, const void *p, size_t n, char *err, size_t errlen) {
    faults *f = ctx;
    if (fault_hit(f, true, path, NULL, err, errlen)) return -1;
    return storage_put_if_absent(f->base, path, p, n, err, errlen);
}
static void fs_destroy(void *ctx) {
    faults *f = ctx;
    if (f->report)
        fprintf(stderr, "storage faults: %llu calls counted, %llu failed\n", (unsigned long long)f->calls,
                (unsigned long long)f->failed);
    storage_close(f->base);
    free(f);
}

static const storage_ops fault_ops = {
    .name = "faults",
    .create = fs_create,
    .write = fs_write,
    .close_file = fs_close_file,
    .abort_file = fs_abort_file,
    .rename = fs_rename,
    .remove = fs_remove,
    .mkdirs = fs_mkdirs,
    .list = fs_list,
    .stat = fs_stat,
    .read = fs_read,
    .destroy = fs_destroy,
    .put_new = fs_put_new,
};

/* Parses the spec (see above) into f; -1 with err on an unknown or malformed item. */
static int faults_parse(faults *f, const char *spec, char *err, size_t errlen) {
    f->from = f->count = 1;
    char buf[512];
    snprintf(buf, sizeof buf, "%s", spec);
    char *save = NULL;
    for (char *it = strtok_r(buf, ",", &save); it; it = strtok_r(NULL, ",", &save)) {
        char *end = NULL;
        if (!strncmp(it, "prefix=", 7)) {
            snprintf(f->prefix, sizeof f->prefix, "%s", it + 7);
        } else if (!strncmp(it, "from=", 5)) {
            f->from = strtoull(it + 5, &end, 10);
        } else if (!strncmp(it, "count=", 6)) {
            f->count = strtoull(it + 6, &end, 10);
        } else if (!strncmp(it, "match=", 6)) {
            snprintf(f->match, sizeof f->match, "%s", it + 6);
        } else if (!strcmp(it, "stop")) {
            f->stop = true;
        } else if (!strcmp(it, "reads")) {
            f->reads = true;
        } else if (!strcmp(it, "report")) {
            f->report = true;
        } else {
            end = it;
        }
        if (end && *end) {
            snprintf(err, errlen, "ECOM_TEST_STORAGE_FAULTS: bad item '%s'", it);
            return -1;
        }
    }
    return 0;
}

storage *faults_wrap(storage *base, const char *spec, char *err, size_t errlen) {
    faults *f = calloc(1, sizeof *f);
    if (!f) {
        snprintf(err, errlen, "out of memory");
        storage_close(base);
        return NULL;
    }
    f->base = base;
    storage *s = NULL;
    if (faults_parse(f, spec, err, errlen) == 0) s = storage_open_ops(&fault_ops, f, storage_root(base), err, errlen);
    if (!s) fs_destroy(f);
    return s;
}
