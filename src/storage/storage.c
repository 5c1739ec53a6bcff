/*
 * storage.c — dispatch from the storage.h interface to a backend (local disk now; WebHDFS
 * plugs in through the same ops table), plus the checks every backend shares: relative,
 * '..'-free paths and first-error latching on files.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/storage_internal.h"
#include "storage/webhdfs.h"
#include "util/util.h"

struct storage {
    const storage_ops *ops;
    void *ctx;
    char *root;
};

/* The wrapper every caller holds: the backend's own handle plus the latched first error. */
struct storage_file {
    const storage_ops *ops;
    storage_file *h;
    bool failed;
    char err[256];
};

static void *local_open(const char *root, const storage_opts *o, char *err, size_t errlen) {
    (void)o;
    return storage_local_open(!strncmp(root, "file://", 7) ? root + 7 : root, err, errlen);
}

void storage_opts_init(storage_opts *o) {
    memset(o, 0, sizeof *o);
    o->retries = -1;
}

storage_opts *storage_opts_copy(const storage_opts *o) {
    if (!o) return NULL;
    storage_opts *c = malloc(sizeof *c);
    if (!c) return NULL;
    *c = *o;
    const char **f[] = {&c->user, &c->auth, &c->keytab, &c->principal, &c->ca_file, &c->namenodes};
    bool ok = true;
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (*f[i] && !(*f[i] = strdup(*f[i]))) ok = false;   /* the failed one is NULL: free skips it */
    if (!ok) {
        storage_opts_free(c);
        return NULL;
    }
    return c;
}

void storage_opts_free(storage_opts *o) {
    if (!o) return;
    free((char *)o->user);
    free((char *)o->auth);
    free((char *)o->keytab);
    free((char *)o->principal);
    free((char *)o->ca_file);
    free((char *)o->namenodes);
    free(o);
}

storage *storage_open(const char *root, char *err, size_t errlen) {
    return storage_open_opts(root, NULL, err, errlen);
}

storage *storage_open_opts(const char *root, const storage_opts *o, char *err, size_t errlen) {
    storage_opts dflt;
    storage_opts_init(&dflt);
    if (!o) o = &dflt;
    if (!root || !*root) {
        err_set(err, errlen, "empty storage root");
        return NULL;
    }
    const storage_ops *ops = &storage_local_ops;
    void *(*open)(const char *, const storage_opts *, char *, size_t) = local_open;
    if (webhdfs_is_uri(root)) {
        ops = webhdfs_storage_ops();
        open = webhdfs_storage_open;
    } else if (strstr(root, "://") && strncmp(root, "file://", 7)) {
        err_set(err, errlen, "no storage backend for %s", root);
        return NULL;
    }
    storage *s = calloc(1, sizeof *s);
    if (!s || !(s->root = strdup(root))) {
        free(s);
        err_set(err, errlen, "out of memory");
        return NULL;
    }
    s->ops = ops;
    s->ctx = open(root, o, err, errlen);
    if (!s->ctx) {
        free(s->root);
        free(s);
        return NULL;
    }
    return s;
}

storage *storage_open_ops(const storage_ops *ops, void *ctx, const char *root, char *err, size_t errlen) {
    storage *s = calloc(1, sizeof *s);
    if (!s || !(s->root = strdup(root ? root : ""))) {
        free(s);
        err_set(err, errlen, "out of memory");
        return NULL;
    }
    s->ops = ops;
    s->ctx = ctx;
    return s;
}

void storage_close(storage *s) {
    if (!s) return;
    s->ops->destroy(s->ctx);
    free(s->root);
    free(s);
}

const char *storage_root(const storage *s) { return s->root; }
const char *storage_backend(const storage *s) { return s->ops->name; }

/* Relative, '/'-separated, no "." or ".." component, no empty component except "" itself
 * (the root, allowed when allow_root). */
static int check_path(const char *p, bool allow_root, char *err, size_t errlen) {
    if (!p || (!*p && !allow_root) || *p == '/') goto bad;
    for (const char *c = p; *c;) {
        const char *e = strchr(c, '/');
        size_t n = e ? (size_t)(e - c) : strlen(c);
        if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.')) goto bad;
        c += n + (e ? 1 : 0);
        if (e && !*c) goto bad;
    }
    return 0;
bad:
    err_set(err, errlen, "bad path '%s'", p ? p : "(null)");
    return -1;
}

int storage_create(storage *s, const char *path, storage_file **out, char *err, size_t errlen) {
    *out = NULL;
    if (check_path(path, false, err, errlen)) return -1;
    storage_file *f = calloc(1, sizeof *f);
    if (!f) {
        err_set(err, errlen, "out of memory");
        return -1;
    }
    f->ops = s->ops;
    if (s->ops->create(s->ctx, path, &f->h, err, errlen)) {
        free(f);
        return -1;
    }
    *out = f;
    return 0;
}

int storage_file_write(storage_file *f, const void *p, size_t n, char *err, size_t errlen) {
    if (f->failed) {
        err_set(err, errlen, "%s", f->err);
        return -1;
    }
    if (f->ops->write(f->h, p, n, f->err, sizeof f->err)) {
        f->failed = true;
        err_set(err, errlen, "%s", f->err);
        return -1;
    }
    return 0;
}

int storage_file_close(storage_file *f, char *err, size_t errlen) {
    int rc;
    if (f->failed) {
        err_set(err, errlen, "%s", f->err);
        f->ops->abort_file(f->h);
        rc = -1;
    } else {
        rc = f->ops->close_file(f->h, err, errlen);
    }
    free(f);
    return rc;
}

void storage_file_abort(storage_file *f) {
    if (!f) return;
    f->ops->abort_file(f->h);
    free(f);
}

int storage_rename(storage *s, const char *from, const char *to, char *err, size_t errlen) {
    if (check_path(from, false, err, errlen) || check_path(to, false, err, errlen)) return -1;
    return s->ops->rename(s->ctx, from, to, err, errlen);
}

int storage_remove(storage *s, const char *path, char *err, size_t errlen) {
    if (check_path(path, false, err, errlen)) return -1;
    return s->ops->remove(s->ctx, path, err, errlen);
}

int storage_mkdirs(storage *s, const char *path, char *err, size_t errlen) {
    if (check_path(path, true, err, errlen)) return -1;
    return s->ops->mkdirs(s->ctx, path, err, errlen);
}

int storage_list(storage *s, const char *dir, storage_list_t *out, char *err, size_t errlen) {
    out->entries = NULL;
    out->n = 0;
    if (check_path(dir, true, err, errlen)) return -1;
    return s->ops->list(s->ctx, dir, out, err, errlen);
}

void storage_list_free(storage_list_t *l) {
    for (size_t i = 0; i < l->n; i++) free(l->entries[i].name);
    free(l->entries);
    l->entries = NULL;
    l->n = 0;
}

int storage_stat(storage *s, const char *path, storage_entry *out, bool *exists, char *err, size_t errlen) {
    *exists = false;
    if (check_path(path, true, err, errlen)) return -1;
    return s->ops->stat(s->ctx, path, out, exists, err, errlen);
}

int storage_read(storage *s, const char *path, uint64_t off, void *dst, size_t n, size_t *got, char *err,
                 size_t errlen) {
    *got = 0;
    if (check_path(path, false, err, errlen)) return -1;
    return s->ops->read(s->ctx, path, off, dst, n, got, err, errlen);
}

int storage_put_atomic(storage *s, const char *path, const void *p, size_t n, char *err, size_t errlen) {
    if (check_path(path, false, err, errlen)) return -1;
    const char *slash = strrchr(path, '/');
    size_t dirlen = slash ? (size_t)(slash - path) + 1 : 0;
    char *tmp = malloc(strlen(path) + 8);
    if (!tmp) {
        err_set(err, errlen, "out of memory");
        return -1;
    }
    sprintf(tmp, "%.*s.%s.tmp", (int)dirlen, path, path + dirlen);
    storage_file *f;
    int rc = -1;
    if (storage_create(s, tmp, &f, err, errlen) == 0) {
        if (storage_file_write(f, p, n, err, errlen)) {
            storage_file_abort(f);
        } else if (storage_file_close(f, err, errlen) == 0) {
            rc = storage_rename(s, tmp, path, err, errlen);
            if (rc) storage_remove(s, tmp, NULL, 0);
        }
    }
    free(tmp);
    return rc;
}

int storage_put_if_absent(storage *s, const char *path, const void *p, size_t n, char *err, size_t errlen) {
    if (check_path(path, false, err, errlen)) return -1;
    if (!s->ops->put_new) {
        err_set(err, errlen, "the %s storage cannot create a file exclusively", s->ops->name);
        return -1;
    }
    return s->ops->put_new(s->ctx, path, p, n, err, errlen);
}

/* Whether nm has the shape of a put_if_absent temporary (STORAGE_PUT_TMP_FORMAT). */
static bool put_temporary_name(const char *nm) {
    size_t n = strlen(nm);
    if (n < 25 || nm[0] != '.' || strcmp(nm + n - 4, ".tmp")) return false;
    const char *hex = nm + n - 20, *p = hex - 1;
    for (int i = 0; i < 16; i++)
        if (!strchr("0123456789abcdef", hex[i])) return false;
    if (*p != '-') return false;
    const char *d = p;
    while (d > nm + 1 && d[-1] >= '0' && d[-1] <= '9') d--;
    return d < p && d > nm + 2 && d[-1] == '.';
}

int storage_sweep_put_temporaries(storage *s, const char *dir, int64_t max_age_us, int64_t now_us, size_t *removed,
                                  char *err, size_t errlen) {
    storage_list_t ls = {0};
    if (removed) *removed = 0;
    if (storage_list(s, dir, &ls, err, errlen)) return -1;
    int rc = 0;
    for (size_t i = 0; i < ls.n && rc == 0; i++) {
        const storage_entry *e = &ls.entries[i];
        if (e->is_dir || !put_temporary_name(e->name) || now_us - e->mtime_us <= max_age_us) continue;
        char *path = malloc(strlen(dir) + strlen(e->name) + 2);
        if (!path) {
            err_set(err, errlen, "out of memory");
            rc = -1;
            break;
        }
        sprintf(path, "%s%s%s", dir, *dir ? "/" : "", e->name);
        rc = storage_remove(s, path, err, errlen);
        if (rc == 0 && removed) ++*removed;
        free(path);
    }
    storage_list_free(&ls);
    return rc;
}

int storage_get_all(storage *s, const char *path, size_t max, char **out, size_t *n, bool *exists, char *err,
                    size_t errlen) {
    *out = NULL;
    *n = 0;
    storage_entry e;
    if (storage_stat(s, path, &e, exists, err, errlen)) return -1;
    if (!*exists) return 0;
    if (e.size > max) {
        err_set(err, errlen, "%s: %llu bytes, more than the %zu expected", path, (unsigned long long)e.size, max);
        return -1;
    }
    char *p = malloc((size_t)e.size + 1);
    if (!p) {
        err_set(err, errlen, "out of memory");
        return -1;
    }
    size_t got = 0;
    if (storage_read(s, path, 0, p, (size_t)e.size, &got, err, errlen)) {
        free(p);
        return -1;
    }
    p[got] = 0;
    *out = p;
    *n = got;
    return 0;
}

bool storage_name_hidden(const char *name) {
    for (const char *c = name; c && *c;) {
        if (*c == '.' || *c == '_') return true;
        const char *e = strchr(c, '/');
        c = e ? e + 1 : NULL;
    }
    return false;
}
