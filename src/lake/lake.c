/*
 * lake.c — date-partitioned Parquet tables on a storage: part files with deterministic names,
 * rolled by rows/bytes/age and committed atomically (hidden tmp name, fsync, rename); and the
 * read side: listing committed files with partition pruning, and readers over storage files.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lake/lake.h"
#include "util/util.h"

typedef struct {
    int64_t day;
    bool open;
    uint32_t seq;          /* next part number in this partition */
    pq_writer *w;
    storage_file *f;
    char *tmp, *final;
    int64_t opened_us;
    uint64_t rows;
} part;

struct lake_table {
    storage *s;
    char *name, *stem, *created_by;
    pq_schema *schema;
    lake_opts o;
    part *parts;
    size_t np, cap;
    uint64_t files, rows;
};

static bool safe_name(const char *s) {
    if (!s || !*s) return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '-' ||
              *s == '_' || *s == '.'))
            return false;
    return true;
}

lake_table *lake_table_open(storage *s, const char *name, const pq_schema *schema, const char *stem,
                            const lake_opts *opts, char *err, size_t errlen) {
    if (!safe_name(stem) || !name || !*name || name[0] == '.' || name[0] == '_') {
        err_set(err, errlen, "bad table name or file stem");
        return NULL;
    }
    lake_table *t = calloc(1, sizeof *t);
    if (!t) goto oom;
    t->s = s;
    if (opts) t->o = *opts;
    if (!t->o.max_rows) t->o.max_rows = 1000000;
    if (!t->o.max_bytes) t->o.max_bytes = 128u << 20;
    if (!t->o.codec && !opts) t->o.codec = PQ_ZSTD;
    char cb[64];
    snprintf(cb, sizeof cb, "ecom version %s", ECOM_VERSION);
    t->name = strdup(name);
    t->stem = strdup(stem);
    t->created_by = strdup(t->o.created_by ? t->o.created_by : cb);
    if (!t->name || !t->stem || !t->created_by) goto oom;
    t->schema = pq_schema_clone(schema, err, errlen);
    if (!t->schema) {
        lake_table_abort(t);
        return NULL;
    }
    return t;
oom:
    err_set(err, errlen, "out of memory");
    lake_table_abort(t);
    return NULL;
}

static int write_cb(void *ctx, const void *p, size_t n, char *err, size_t errlen) {
    return storage_file_write(ctx, p, n, err, errlen);
}

static part *find_part(lake_table *t, int64_t day, bool create) {
    for (size_t i = 0; i < t->np; i++)
        if (t->parts[i].day == day) return &t->parts[i];
    if (!create) return NULL;
    if (t->np == t->cap) {
        size_t c = t->cap ? t->cap * 2 : 8;
        part *p = realloc(t->parts, c * sizeof *p);
        if (!p) return NULL;
        t->parts = p;
        t->cap = c;
    }
    part *p = &t->parts[t->np++];
    memset(p, 0, sizeof *p);
    p->day = day;
    return p;
}

static void drop_part(part *p) {
    pq_writer_free(p->w);
    if (p->f) storage_file_abort(p->f);
    free(p->tmp);
    free(p->final);
    p->w = NULL;
    p->f = NULL;
    p->tmp = p->final = NULL;
    p->open = false;
    p->rows = 0;
    p->opened_us = 0;
}

static int open_part(lake_table *t, part *p, char *err, size_t errlen) {
    int y, m, d;
    time_civil_from_days(p->day, &y, &m, &d);
    if (y < 0 || y > 9999) {
        err_set(err, errlen, "date out of range");
        return -1;
    }
    size_t n = strlen(t->name) + strlen(t->stem) + 64;
    p->tmp = malloc(n);
    p->final = malloc(n);
    if (!p->tmp || !p->final) goto oom;
    snprintf(p->final, n, "%s/date=%04d-%02d-%02d/part-%s-%05u.parquet", t->name, y, m, d, t->stem, p->seq);
    snprintf(p->tmp, n, "%s/date=%04d-%02d-%02d/.part-%s-%05u.parquet.tmp", t->name, y, m, d, t->stem, p->seq);
    if (storage_create(t->s, p->tmp, &p->f, err, errlen)) goto fail;
    pq_write_opts o = {.codec = t->o.codec, .row_group_bytes = t->o.row_group_bytes, .created_by = t->created_by};
    p->w = pq_writer_new(t->schema, &o, write_cb, p->f, err, errlen);
    if (!p->w) goto fail;
    for (const char *const *kv = t->o.kv; kv && kv[0] && kv[1]; kv += 2)
        if (pq_writer_add_kv(p->w, kv[0], kv[1], err, errlen)) goto fail;
    p->open = true;
    return 0;
oom:
    err_set(err, errlen, "out of memory");
fail:
    drop_part(p);
    return -1;
}

/* Closes the part's Parquet writer and storage file, then (if the writer's fence allows)
 * renames it into place. */
static int commit_part(lake_table *t, part *p, char *err, size_t errlen) {
    if (!p->open) return 0;
    if (p->rows == 0) {
        drop_part(p);
        return 0;
    }
    if (pq_writer_close(p->w, err, errlen)) goto fail;
    storage_file *f = p->f;
    p->f = NULL;
    if (storage_file_close(f, err, errlen)) goto fail;
    if (t->o.before_publish && t->o.before_publish(t->o.publish_ctx, err, errlen)) {
        storage_remove(t->s, p->tmp, NULL, 0);
        goto fail;
    }
    if (storage_rename(t->s, p->tmp, p->final, err, errlen)) {
        storage_remove(t->s, p->tmp, NULL, 0);
        goto fail;
    }
    t->files++;
    t->rows += p->rows;
    p->seq++;
    drop_part(p);
    return 0;
fail:
    drop_part(p);
    return -1;
}

pq_writer *lake_table_writer(lake_table *t, int64_t day, char *err, size_t errlen) {
    part *p = find_part(t, day, true);
    if (!p) {
        err_set(err, errlen, "out of memory");
        return NULL;
    }
    if (!p->open && open_part(t, p, err, errlen)) return NULL;
    return p->w;
}

int lake_table_rows_done(lake_table *t, int64_t day, size_t n, int64_t now_us, char *err, size_t errlen) {
    part *p = find_part(t, day, false);
    if (!p || !p->open) {
        err_set(err, errlen, "no open part for that day");
        return -1;
    }
    if (pq_writer_end_rows(p->w, n, err, errlen)) {
        drop_part(p);
        return -1;
    }
    p->rows += n;
    if (!p->opened_us) p->opened_us = now_us;
    uint64_t bytes = pq_writer_bytes_written(p->w) + pq_writer_bytes_buffered(p->w);
    if (p->rows >= t->o.max_rows || bytes >= t->o.max_bytes ||
        (t->o.max_age_us > 0 && now_us - p->opened_us >= t->o.max_age_us))
        return commit_part(t, p, err, errlen);
    return 0;
}

int lake_table_flush_aged(lake_table *t, int64_t now_us, char *err, size_t errlen) {
    int rc = 0;
    for (size_t i = 0; i < t->np; i++) {
        part *p = &t->parts[i];
        if (p->open && t->o.max_age_us > 0 && p->opened_us && now_us - p->opened_us >= t->o.max_age_us &&
            commit_part(t, p, err, errlen))
            rc = -1;
    }
    return rc;
}

int lake_table_close(lake_table *t, char *err, size_t errlen) {
    int rc = 0;
    for (size_t i = 0; i < t->np; i++) {
        if (rc) {
            drop_part(&t->parts[i]);
        } else if (commit_part(t, &t->parts[i], err, errlen)) {
            rc = -1;
        }
    }
    lake_table_abort(t);
    return rc;
}

void lake_table_abort(lake_table *t) {
    if (!t) return;
    for (size_t i = 0; i < t->np; i++) drop_part(&t->parts[i]);
    free(t->parts);
    free(t->name);
    free(t->stem);
    free(t->created_by);
    pq_schema_free(t->schema);
    free(t);
}

uint64_t lake_table_files_committed(const lake_table *t) { return t->files; }
uint64_t lake_table_rows_committed(const lake_table *t) { return t->rows; }

/* ---------------- reading ---------------- */

typedef struct {
    char **v;
    size_t n, cap;
} strvec;

static int strvec_push(strvec *sv, char *s) {
    if (sv->n == sv->cap) {
        size_t c = sv->cap ? sv->cap * 2 : 16;
        char **v = realloc(sv->v, c * sizeof *v);
        if (!v) return -1;
        sv->v = v;
        sv->cap = c;
    }
    sv->v[sv->n++] = s;
    return 0;
}

static int cmp_name(const void *a, const void *b) {
    return strcmp(((const storage_entry *)a)->name, ((const storage_entry *)b)->name);
}

static int list_rec(storage *s, const char *dir, const char *date, int depth, strvec *out, char *err,
                    size_t errlen) {
    if (depth > 16) return 0;
    storage_list_t l;
    if (storage_list(s, dir, &l, err, errlen)) return -1;
    if (l.n > 1) qsort(l.entries, l.n, sizeof *l.entries, cmp_name); /* a missing dir's list is NULL */
    int rc = 0;
    for (size_t i = 0; i < l.n && rc == 0; i++) {
        const storage_entry *e = &l.entries[i];
        if (e->name[0] == '.' || e->name[0] == '_') continue;
        size_t n = strlen(dir) + strlen(e->name) + 2;
        char *p = malloc(n);
        if (!p) {
            err_set(err, errlen, "out of memory");
            rc = -1;
            break;
        }
        snprintf(p, n, "%s%s%s", dir, *dir ? "/" : "", e->name);
        if (e->is_dir) {
            bool skip = date && !strncmp(e->name, "date=", 5) && strcmp(e->name + 5, date);
            if (!skip) rc = list_rec(s, p, date, depth + 1, out, err, errlen);
            free(p);
        } else {
            size_t nl = strlen(e->name);
            if (nl > 8 && !strcmp(e->name + nl - 8, ".parquet")) {
                if (strvec_push(out, p)) {
                    free(p);
                    err_set(err, errlen, "out of memory");
                    rc = -1;
                }
            } else {
                free(p);
            }
        }
    }
    storage_list_free(&l);
    return rc;
}

int lake_list_files(storage *s, const char *dir, const char *date, char ***paths, size_t *n, char *err,
                    size_t errlen) {
    strvec sv = {0};
    *paths = NULL;
    *n = 0;
    if (list_rec(s, dir, date, 0, &sv, err, errlen)) {
        lake_paths_free(sv.v, sv.n);
        return -1;
    }
    *paths = sv.v;
    *n = sv.n;
    return 0;
}

/* Length of the table part of a listed path: up to "/date=" or "date=" at its start, else
 * up to its last '/' (0: the listed directory). */
static size_t table_len(const char *p) {
    if (!strncmp(p, "date=", 5)) return 0;
    const char *d = strstr(p, "/date=");
    if (d) return (size_t)(d - p);
    const char *slash = strrchr(p, '/');
    return slash ? (size_t)(slash - p) : 0;
}

size_t lake_files_tables(char *const *paths, size_t n, char *out, size_t outlen) {
    size_t count = 0, used = 0;
    if (outlen) out[0] = 0;
    for (size_t i = 0; i < n; i++) { /* paths are sorted: a table's files are adjacent */
        size_t l = table_len(paths[i]);
        if (i && l == table_len(paths[i - 1]) && !strncmp(paths[i], paths[i - 1], l)) continue;
        count++;
        if (outlen && used < outlen - 1) {
            int w = snprintf(out + used, outlen - used, "%s%.*s", count > 1 ? ", " : "", (int)l, paths[i]);
            used += w > 0 ? (size_t)w : 0;
            if (used >= outlen) used = outlen - 1;
        }
    }
    return count;
}

void lake_paths_free(char **paths, size_t n) {
    for (size_t i = 0; i < n; i++) free(paths[i]);
    free(paths);
}

struct lake_file {
    storage *s;
    char *path;
    pq_reader *r;
};

static int read_cb(void *ctx, uint64_t off, void *dst, size_t n, char *err, size_t errlen) {
    lake_file *f = ctx;
    size_t got;
    if (storage_read(f->s, f->path, off, dst, n, &got, err, errlen)) return -1;
    if (got != n) {
        err_set(err, errlen, "%s: short read (file changed?)", f->path);
        return -1;
    }
    return 0;
}

lake_file *lake_file_open(storage *s, const char *path, char *err, size_t errlen) {
    storage_entry st;
    bool exists;
    if (storage_stat(s, path, &st, &exists, err, errlen)) return NULL;
    if (!exists || st.is_dir) {
        err_set(err, errlen, "%s: no such file", path);
        return NULL;
    }
    lake_file *f = calloc(1, sizeof *f);
    if (!f || !(f->path = strdup(path))) {
        free(f);
        err_set(err, errlen, "out of memory");
        return NULL;
    }
    f->s = s;
    char e2[200];
    f->r = pq_reader_open(read_cb, f, st.size, NULL, e2, sizeof e2);
    if (!f->r) {
        err_set(err, errlen, "%s: %s", path, e2);
        lake_file_close(f);
        return NULL;
    }
    return f;
}

pq_reader *lake_file_reader(lake_file *f) { return f->r; }

void lake_file_close(lake_file *f) {
    if (!f) return;
    pq_reader_close(f->r);
    free(f->path);
    free(f);
}

/* A storage URI names a directory or a file that may not exist; the backend cannot tell before
 * asking (a WebHDFS listing of a missing directory is empty, like an empty one). So ask: a
 * missing path is an error naming it, and a file is reopened rooted at its parent directory.
 * *s is open at *dir on entry; on success it is open at the (possibly new) *dir. */
static int uri_resolve(const char *path, const storage_opts *so, storage **s, char **dir, char **base,
                       bool *is_dir, char *err, size_t errlen) {
    storage_entry e = {0};
    bool exists = false;
    if (storage_stat(*s, "", &e, &exists, err, errlen)) return -1;
    if (!exists) {
        err_set(err, errlen, "%s: no such file or directory", path);
        return -1;
    }
    if (e.is_dir) return 0;
    char *slash = strrchr(*dir, '/');
    const char *authority = strstr(*dir, "://") + 3;
    if (!slash || slash < authority) {
        err_set(err, errlen, "%s: not a path inside the storage", path);
        return -1;
    }
    if (!(*base = strdup(slash + 1))) {
        err_set(err, errlen, "out of memory");
        return -1;
    }
    slash[slash == strchr(authority, '/') ? 1 : 0] = 0;   /* the parent; "/" stays the root */
    *is_dir = false;
    storage_close(*s);
    *s = storage_open_opts(*dir, so, err, errlen);
    return *s ? 0 : -1;
}

int lake_root_check(const char *root, const storage_opts *so, char *err, size_t errlen) {
    if (!strstr(root, "://")) {
        struct stat st;
        if (stat(root, &st)) {
            err_set(err, errlen, "%s: no such directory", root);
            return -1;
        }
        if (!S_ISDIR(st.st_mode)) {
            err_set(err, errlen, "%s: not a directory", root);
            return -1;
        }
        return 0;
    }
    storage *s = storage_open_opts(root, so, err, errlen);
    if (!s) return -1;
    storage_entry e = {0};
    bool exists = false;
    int rc = storage_stat(s, "", &e, &exists, err, errlen);
    if (rc == 0 && (!exists || !e.is_dir)) {
        err_set(err, errlen, "%s: %s", root, exists ? "not a directory" : "no such directory");
        rc = -1;
    }
    storage_close(s);
    return rc;
}

int lake_resolve(const char *path, const storage_opts *so, const char *date, storage **s, char ***files,
                 size_t *n, bool *is_dir, char *err, size_t errlen) {
    *s = NULL;
    *files = NULL;
    *n = 0;
    *is_dir = true;
    char *dir = strdup(path), *base = NULL;
    if (!dir) {
        err_set(err, errlen, "out of memory");
        return -1;
    }
    size_t len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/') dir[--len] = 0;
    if (!strstr(dir, "://")) {
        struct stat st;
        if (stat(dir, &st)) {
            err_set(err, errlen, "%s: no such file or directory", path);
            free(dir);
            return -1;
        }
        if (!S_ISDIR(st.st_mode)) {
            *is_dir = false;
            char *slash = strrchr(dir, '/');
            base = strdup(slash ? slash + 1 : dir);
            if (slash == dir) dir[1] = 0;
            else if (slash) *slash = 0;
            else strcpy(dir, ".");
        }
    }
    int rc = -1;
    *s = storage_open_opts(dir, so, err, errlen);
    if (!*s) goto done;
    if (strstr(dir, "://") && uri_resolve(path, so, s, &dir, &base, is_dir, err, errlen)) goto done;
    if (*is_dir) {
        rc = lake_list_files(*s, "", date, files, n, err, errlen);
    } else if (base) {
        char **v = malloc(sizeof *v);
        if (v && (v[0] = strdup(base))) {
            *files = v;
            *n = 1;
            rc = 0;
        } else {
            free(v);
            err_set(err, errlen, "out of memory");
        }
    }
done:
    if (rc) {
        storage_close(*s);
        *s = NULL;
    }
    free(dir);
    free(base);
    return rc;
}
