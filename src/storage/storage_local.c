/*
 * storage_local.c — the local-disk backend: plain POSIX files under a root directory.
 * Commit durability: close fsyncs the file; rename fsyncs the destination directory, so a
 * committed name survives a crash and a partial file is never visible under its final name.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage/storage_internal.h"
#include "util/util.h"

typedef struct {
    char *root;
} local_ctx;

/* The backend's file handle (handed to storage.c cast to storage_file*). */
typedef struct {
    int fd;
    char *abs;
    char buf[1 << 16];     /* coalesces small writes */
    size_t len;
} local_file;

/* root + "/" + rel, malloc'd. */
static char *absolute(const local_ctx *c, const char *rel) {
    size_t n = strlen(c->root) + strlen(rel) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s%s%s", c->root, *rel ? "/" : "", rel);
    return p;
}

/* mkdir -p of an absolute path. */
static int mkdirs_abs(const char *path, char *err, size_t errlen) {
    char tmp[PATH_MAX];
    if (strlen(path) >= sizeof tmp) {
        err_set(err, errlen, "path too long");
        return -1;
    }
    strcpy(tmp, path);
    for (char *p = tmp + 1;; p++) {
        if (*p == '/' || !*p) {
            char c = *p;
            *p = 0;
            if (mkdir(tmp, 0755) && errno != EEXIST) {
                err_set(err, errlen, "mkdir %s: %s", tmp, strerror(errno));
                return -1;
            }
            *p = c;
            if (!c) break;
        }
    }
    return 0;
}

static int mkdirs_parent(const char *abs, char *err, size_t errlen) {
    char *slash = strrchr(abs, '/');
    if (!slash || slash == abs) return 0;
    *slash = 0;
    int rc = mkdirs_abs(abs, err, errlen);
    *slash = '/';
    return rc;
}

void *storage_local_open(const char *root, char *err, size_t errlen) {
    local_ctx *c = calloc(1, sizeof *c);
    if (!c || !(c->root = strdup(root))) {
        free(c);
        err_set(err, errlen, "out of memory");
        return NULL;
    }
    size_t n = strlen(c->root);
    while (n > 1 && c->root[n - 1] == '/') c->root[--n] = 0;
    if (mkdirs_abs(c->root, err, errlen)) {
        free(c->root);
        free(c);
        return NULL;
    }
    return c;
}

static void local_destroy(void *ctx) {
    local_ctx *c = ctx;
    free(c->root);
    free(c);
}

static int local_create(void *ctx, const char *path, storage_file **out, char *err, size_t errlen) {
    local_ctx *c = ctx;
    local_file *lf = calloc(1, sizeof *lf);
    if (!lf || !(lf->abs = absolute(c, path))) {
        err_set(err, errlen, "out of memory");
        goto fail;
    }
    if (mkdirs_parent(lf->abs, err, errlen)) goto fail;
    lf->fd = open(lf->abs, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (lf->fd < 0) {
        err_set(err, errlen, "create %s: %s", lf->abs, strerror(errno));
        goto fail;
    }
    *out = (storage_file *)lf;
    return 0;
fail:
    if (lf) free(lf->abs);
    free(lf);
    return -1;
}

static int flush_buf(storage_file *f, char *err, size_t errlen) {
    local_file *lf = (local_file *)f;
    if (lf->len && write_all(lf->fd, lf->buf, lf->len)) {
        err_set(err, errlen, "write %s: %s", lf->abs, strerror(errno));
        return -1;
    }
    lf->len = 0;
    return 0;
}

static int local_write(storage_file *f, const void *p, size_t n, char *err, size_t errlen) {
    local_file *lf = (local_file *)f;
    if (lf->len + n <= sizeof lf->buf) {
        memcpy(lf->buf + lf->len, p, n);
        lf->len += n;
        return 0;
    }
    if (flush_buf(f, err, errlen)) return -1;
    if (n >= sizeof lf->buf) {
        if (write_all(lf->fd, p, n)) {
            err_set(err, errlen, "write %s: %s", lf->abs, strerror(errno));
            return -1;
        }
        return 0;
    }
    memcpy(lf->buf, p, n);
    lf->len = n;
    return 0;
}

static void free_file(storage_file *f) {
    local_file *lf = (local_file *)f;
    free(lf->abs);
    free(lf);
}

static int local_close(storage_file *f, char *err, size_t errlen) {
    local_file *lf = (local_file *)f;
    int rc = flush_buf(f, err, errlen);
    if (rc == 0 && fsync(lf->fd)) {
        err_set(err, errlen, "fsync %s: %s", lf->abs, strerror(errno));
        rc = -1;
    }
    if (close(lf->fd) && rc == 0) {
        err_set(err, errlen, "close %s: %s", lf->abs, strerror(errno));
        rc = -1;
    }
    if (rc) unlink(lf->abs);
    free_file(f);
    return rc;
}

static void local_abort(storage_file *f) {
    local_file *lf = (local_file *)f;
    close(lf->fd);
    unlink(lf->abs);
    free_file(f);
}

static void fsync_dir_of(const char *abs) {
    char *d = strdup(abs);
    if (!d) return;
    char *slash = strrchr(d, '/');
    if (slash) *slash = 0;
    int fd = open(slash ? d : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(d);
}

static int local_rename(void *ctx, const char *from, const char *to, char *err, size_t errlen) {
    char *a = absolute(ctx, from), *b = absolute(ctx, to);
    int rc = -1;
    if (!a || !b) {
        err_set(err, errlen, "out of memory");
    } else if (mkdirs_parent(b, err, errlen) == 0) {
        if (rename(a, b)) {
            err_set(err, errlen, "rename %s -> %s: %s", a, b, strerror(errno));
        } else {
            fsync_dir_of(b);
            rc = 0;
        }
    }
    free(a);
    free(b);
    return rc;
}

static int local_remove(void *ctx, const char *path, char *err, size_t errlen) {
    char *a = absolute(ctx, path);
    if (!a) {
        err_set(err, errlen, "out of memory");
        return -1;
    }
    int rc = 0;
    if (unlink(a) && errno != ENOENT) {
        if ((errno == EISDIR || errno == EPERM) && rmdir(a) == 0) {
            rc = 0;
        } else {
            err_set(err, errlen, "remove %s: %s", a, strerror(errno));
            rc = -1;
        }
    }
    free(a);
    return rc;
}

static int local_mkdirs(void *ctx, const char *path, char *err, size_t errlen) {
    char *a = absolute(ctx, path);
    if (!a) {
        err_set(err, errlen, "out of memory");
        return -1;
    }
    int rc = mkdirs_abs(a, err, errlen);
    free(a);
    return rc;
}

static int local_list(void *ctx, const char *dir, storage_list_t *out, char *err, size_t errlen) {
    char *a = absolute(ctx, dir);
    if (!a) {
        err_set(err, errlen, "out of memory");
        return -1;
    }
    DIR *d = opendir(a);
    if (!d) {
        int e = errno;
        free(a);
        if (e == ENOENT) return 0;
        err_set(err, errlen, "list %s: %s", dir, strerror(e));
        return -1;
    }
    size_t cap = 0;
    struct dirent *de;
    int rc = 0;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        struct stat st;
        if (fstatat(dirfd(d), de->d_name, &st, 0)) continue; /* vanished meanwhile */
        if (out->n == cap) {
            size_t nc = cap ? cap * 2 : 16;
            storage_entry *e = realloc(out->entries, nc * sizeof *e);
            if (!e) {
                rc = -1;
                break;
            }
            out->entries = e;
            cap = nc;
        }
        storage_entry *e = &out->entries[out->n];
        if (!(e->name = strdup(de->d_name))) {
            rc = -1;
            break;
        }
        e->is_dir = S_ISDIR(st.st_mode);
        e->size = (uint64_t)st.st_size;
        e->mtime_us = (int64_t)st.st_mtim.tv_sec * 1000000 + st.st_mtim.tv_nsec / 1000;
        out->n++;
    }
    closedir(d);
    free(a);
    if (rc) {
        storage_list_free(out);
        err_set(err, errlen, "out of memory");
    }
    return rc;
}

static int local_stat(void *ctx, const char *path, storage_entry *out, bool *exists, char *err, size_t errlen) {
    char *a = absolute(ctx, path);
    if (!a) {
        err_set(err, errlen, "out of memory");
        return -1;
    }
    struct stat st;
    int rc = 0;
    if (stat(a, &st)) {
        if (errno != ENOENT && errno != ENOTDIR) {
            err_set(err, errlen, "stat %s: %s", path, strerror(errno));
            rc = -1;
        }
    } else {
        *exists = true;
        out->name = NULL;
        out->is_dir = S_ISDIR(st.st_mode);
        out->size = (uint64_t)st.st_size;
        out->mtime_us = (int64_t)st.st_mtim.tv_sec * 1000000 + st.st_mtim.tv_nsec / 1000;
    }
    free(a);
    return rc;
}

static int local_read(void *ctx, const char *path, uint64_t off, void *dst, size_t n, size_t *got, char *err,
                      size_t errlen) {
    char *a = absolute(ctx, path);
    if (!a) {
        err_set(err, errlen, "out of memory");
        return -1;
    }
    int fd = open(a, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        err_set(err, errlen, "open %s: %s", path, strerror(errno));
        free(a);
        return -1;
    }
    size_t done = 0;
    int rc = 0;
    while (done < n) {
        ssize_t r = pread(fd, (char *)dst + done, n - done, (off_t)(off + done));
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            err_set(err, errlen, "read %s: %s", path, strerror(errno));
            rc = -1;
            break;
        }
        if (r == 0) break;
        done += (size_t)r;
    }
    close(fd);
    free(a);
    *got = done;
    return rc;
}

/* Writes p[0..n) to a new file at abs (O_EXCL: 1 when something is there), fsynced. */
static int write_new_file(const char *abs, const void *p, size_t n, char *err, size_t errlen) {
    int fd = open(abs, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        if (errno == EEXIST) return 1;
        err_set(err, errlen, "create %s: %s", abs, strerror(errno));
        return -1;
    }
    int rc = 0;
    if (write_all(fd, p, n) || fsync(fd)) {
        err_set(err, errlen, "write %s: %s", abs, strerror(errno));
        rc = -1;
    }
    if (close(fd) && rc == 0) {
        err_set(err, errlen, "close %s: %s", abs, strerror(errno));
        rc = -1;
    }
    if (rc) unlink(abs);
    return rc;
}

/* Why link(): it is the POSIX test-and-create that also publishes a whole file: the content
 * goes to a private temporary name first (pid and random bits in it, so that two writers never
 * share one), then link() gives it the final name only if that name is free (EEXIST: 1), so a
 * reader never sees a partial file and of two writers exactly one wins (also over NFS). On a
 * file system without hard links the content is written in place under O_EXCL instead (still
 * exclusive; a crash there can leave a short file, storage.h). */
static int local_put_new(void *ctx, const char *path, const void *p, size_t n, char *err, size_t errlen) {
    char *a = absolute(ctx, path);
    if (!a) {
        err_set(err, errlen, "out of memory");
        return -1;
    }
    int rc = mkdirs_parent(a, err, errlen);
    const char *slash = strrchr(a, '/');
    int dirlen = slash ? (int)(slash - a) + 1 : 0;
    uint64_t rnd = 0;
    if (getrandom(&rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) rnd = (uint64_t)time_mono_us();
    char tmp[PATH_MAX];
    if (rc == 0 && snprintf(tmp, sizeof tmp, STORAGE_PUT_TMP_FORMAT, dirlen, a, a + dirlen, (long)getpid(),
                            (unsigned long long)rnd) >= (int)sizeof tmp) {
        err_set(err, errlen, "%s: path too long", a);
        rc = -1;
    }
    if (rc == 0 && (rc = write_new_file(tmp, p, n, err, errlen)) == 0) {
        if (link(tmp, a) == 0) {
            fsync_dir_of(a);
        } else if (errno == EEXIST) {
            rc = 1;
        } else if (errno == EPERM || errno == EOPNOTSUPP || errno == ENOSYS) {
            rc = write_new_file(a, p, n, err, errlen); /* no hard links here */
            if (rc == 0) fsync_dir_of(a);
        } else {
            err_set(err, errlen, "link %s -> %s: %s", tmp, a, strerror(errno));
            rc = -1;
        }
        unlink(tmp);
    } else if (rc == 1) {
        err_set(err, errlen, "%s: temporary name taken", tmp);
        rc = -1;
    }
    free(a);
    return rc;
}

const storage_ops storage_local_ops = {
    .name = "local",
    .create = local_create,
    .write = local_write,
    .close_file = local_close,
    .abort_file = local_abort,
    .rename = local_rename,
    .remove = local_remove,
    .mkdirs = local_mkdirs,
    .list = local_list,
    .stat = local_stat,
    .read = local_read,
    .destroy = local_destroy,
    .put_new = local_put_new,
};
