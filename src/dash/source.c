/* source.c — the real dash_source: the committed files of a lake's metric tables, read through
 * ecom's storage interface (local disk or HDFS) and Parquet reader.
 *
 * Layout read (src/lake/): ROOT/<table>/date=YYYY-MM-DD/<name>.parquet; names starting with '.'
 * or '_' are uncommitted or metadata and are never read. Each poll lists every table's
 * partitions and files (names, sizes, mtimes); the hash of that listing is the generation, so
 * the engine's answer cache lives exactly as long as nothing new is committed.
 *
 * A commit is published after its record is written, one rename at a time (pipeline.h "what a
 * reader of ROOT must know"), so a listing between two renames holds part of a committed epoch.
 * Each poll therefore lists the commit log's tips (the newest record of each lineage) before and
 * after listing the tables, and lists again when they differ (a commit began meanwhile); with
 * both equal, only the tips' files can be missing, and each one missing is read at its staged
 * name (the same bytes the rename will publish; its listing entry keeps the final name, size and
 * mtime, so the generation does not change when the rename lands) or, when neither name exists,
 * is lost (gaps.c tells the minutes apart). A poll thus always answers from whole commits.
 *
 * Reading is lazy and cached per row group: a scan for [from, to) opens only files in date
 * partitions that can hold a window starting in the range, and decodes only the row groups whose
 * window_start statistics overlap it. Decoded row groups stay cached (bounded, see
 * CACHE_MAX_ROWS) until their file changes or disappears; committed files never change in place,
 * so in practice each row group is decoded once. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dash/dash.h"
#include "lake/lake.h"
#include "parquet/parquet.h"
#include "pipeline/pipeline.h"
#include "storage/storage.h"

#define DAY_US (86400LL * TIME_US_PER_SEC)
#define ZONE_SLACK_US (14LL * 3600 * TIME_US_PER_SEC)
#define CACHE_MAX_ROWS 4000000   /* decoded rows kept across all files (~60-100 bytes each) */

/* One decoded row group: column arrays (v is row-major, one int64 per catalog column); unk the
 * unknown columns of each row, NULL when every value of the row group is known. */
typedef struct {
    size_t n;
    int64_t *ws, *we, *v;
    int32_t *key;
    dash_unknown *unk;
} rg_rows;

typedef struct {
    char *path;            /* storage-relative: "<table>/date=.../<name>" */
    char *staged;          /* NULL, or the staged name it is read at while its commit's rename is
                              not done yet (owned) */
    int64_t day_start;     /* the partition's date (us) */
    uint64_t size;
    int64_t mtime_us;
    /* cache */
    bool opened;           /* footer facts below are known */
    int nrg;
    int64_t max_end;       /* latest window_end in the file, INT64_MIN if unknown/empty */
    int64_t min_start;     /* earliest window_start in the file, INT64_MAX if empty */
    int64_t horizon_us;    /* the funnel horizon its footer states (PIPELINE_KV_FUNNEL_HORIZON),
                              INT64_MIN when it states none (a file of an older ecom) */
    rg_rows *rg_rows;      /* [nrg]; decoded row groups */
    bool *rg_done;         /* [nrg] */
    int64_t *rg_lo, *rg_hi; /* [nrg]; window_start range from statistics (or the widest) */
    size_t cached_rows;
    int64_t nrows;         /* rows in the file (footer), -1 until read; used for `rejected` */
} lfile;

typedef struct {
    lfile *files;
    size_t n, cap;
} lfiles;

/* The newest commit record of one lineage and the files it publishes (root_commit_files). */
typedef struct {
    root_commit_tip tip;
    char **from, **to;
    size_t n;
    size_t staged;         /* of its files, how many the last poll read at their staged names */
} ctip;

#define POLL_ATTEMPTS 4    /* listings tried when commits begin during them (then: an error) */

typedef struct {
    char *root;
    storage_opts *so;      /* the storage's options (owned copy; NULL: defaults) */
    storage *st;           /* opened on first poll that finds the root */
    lfiles tables[METRIC_ID_COUNT];
    dash_keys *keys[METRIC_ID_COUNT];
    lfiles rejected;       /* the raw rejected table: only its row count is shown */
    int64_t first[METRIC_ID_COUNT];   /* earliest window_start per table (INT64_MIN: none) */
    int64_t horizon[METRIC_ID_COUNT]; /* largest funnel horizon its newest files state (INT64_MIN: none) */
    int64_t part_end[METRIC_ID_COUNT][DASH_MAX_PARTS];   /* latest window_end per scale-out partition */
    bool parted[METRIC_ID_COUNT];     /* some file of the table names its partition */
    size_t cached_rows;
    uint64_t files_opened, rg_decoded, rg_skipped;   /* reading effort, shown by /api/health */
    char not_lake[320];    /* why ROOT does not look like a lake ("" = it does, or it is empty) */
    int64_t *starts;       /* where fresh inputs began (_ecom/starts/<us>.start), ascending */
    size_t nstarts;
    int64_t *stops;        /* where their data ended (<us>.stop, pipeline.h fresh_input), ascending */
    size_t nstops;
    pipeline_marks folded; /* the marks file's (pipeline.h PIPELINE_MARKS_FILE), read when it changes */
    uint64_t folded_size;
    int64_t folded_mtime;
    ctip *tips;            /* the commit log's tips at the last poll, by path */
    size_t ntips;
} lake_src;

static void rg_rows_free(rg_rows *r) {
    free(r->ws);
    free(r->we);
    free(r->v);
    free(r->key);
    free(r->unk);
    memset(r, 0, sizeof *r);
}

static void lfile_drop_cache(lake_src *s, lfile *f) {
    for (int i = 0; f->rg_rows && i < f->nrg; i++) rg_rows_free(&f->rg_rows[i]);
    free(f->rg_rows);
    free(f->rg_done);
    free(f->rg_lo);
    free(f->rg_hi);
    f->rg_rows = NULL;
    f->rg_done = NULL;
    f->rg_lo = f->rg_hi = NULL;
    s->cached_rows -= f->cached_rows;
    f->cached_rows = 0;
    f->opened = false;
    f->nrg = 0;
}

static void lfiles_clear(lake_src *s, lfiles *l) {
    for (size_t i = 0; i < l->n; i++) {
        lfile_drop_cache(s, &l->files[i]);
        free(l->files[i].path);
        free(l->files[i].staged);
    }
    free(l->files);
    memset(l, 0, sizeof *l);
}

static int lfiles_push(lfiles *l, lfile f) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        lfile *nf = realloc(l->files, cap * sizeof *nf);
        if (!nf) return -1;
        l->files = nf;
        l->cap = cap;
    }
    l->files[l->n++] = f;
    return 0;
}

/* "date=YYYY-MM-DD" -> midnight UTC in us; -1 if the name is no partition. */
static int partition_day(const char *name, int64_t *day) {
    if (strncmp(name, "date=", 5) || strlen(name) != 15) return -1;
    return time_parse_rfc3339(name + 5, 10, day);
}

static int cmp_files(const void *a, const void *b) {
    const lfile *x = a, *y = b;
    if (x->day_start != y->day_start) return x->day_start < y->day_start ? -1 : 1;
    return strcmp(x->path, y->path);
}

static bool listed(const lfiles *l, const char *path) {
    for (size_t i = 0; i < l->n; i++)
        if (!strcmp(l->files[i].path, path)) return true;
    return false;
}

/* The date partition of a published path "<table>/date=YYYY-MM-DD/<name>.parquet" of table
 * (in *day); false for any other path. */
static bool published_in(const char *table, const char *path, int64_t *day) {
    size_t tl = strlen(table), nl = strlen(path);
    if (strncmp(path, table, tl) || path[tl] != '/' || nl < tl + 17 + 9 || path[tl + 16] != '/') return false;
    char part[16];
    memcpy(part, path + tl + 1, 15);
    part[15] = 0;
    const char *name = path + tl + 17;
    return !partition_day(part, day) && !strchr(name, '/') && !storage_name_hidden(name) &&
           !strcmp(path + nl - 8, ".parquet");
}

/* Adds to l the files of table that the commit log's tips name and the listing lacks: one still
 * at its staged name (read there), or one renamed while the table was listed; one at neither
 * name is lost and stays out. Why: a poll between two renames of a commit saw part of it. */
static int complete_table(lake_src *s, const char *table, lfiles *l, char *err, size_t errlen) {
    for (size_t t = 0; t < s->ntips; t++) {
        ctip *c = &s->tips[t];
        for (size_t i = 0; i < c->n; i++) {
            int64_t day;
            if (!published_in(table, c->to[i], &day) || listed(l, c->to[i])) continue;
            storage_entry e = {0};
            bool staged = false, done = false;
            if (storage_stat(s->st, c->from[i], &e, &staged, err, errlen)) return -1;
            if (!staged && storage_stat(s->st, c->to[i], &e, &done, err, errlen)) return -1;
            if (!staged && !done) continue;
            lfile f = {.path = strdup(c->to[i]), .staged = staged ? strdup(c->from[i]) : NULL, .day_start = day,
                       .size = e.size, .mtime_us = e.mtime_us, .max_end = INT64_MIN, .min_start = INT64_MAX,
                       .horizon_us = INT64_MIN, .nrows = -1};
            if (!f.path || (staged && !f.staged) || lfiles_push(l, f)) {
                free(f.path);
                free(f.staged);
                snprintf(err, errlen, "out of memory");
                return -1;
            }
            c->staged += staged;
        }
    }
    return 0;
}

/* Lists one table's committed files into l (sorted by day, then path), completed with the
 * files of a commit being published (complete_table). A missing table is empty. */
static int list_table(lake_src *s, const char *table, lfiles *l, char *err, size_t errlen) {
    storage_list_t parts = {0};
    if (storage_list(s->st, table, &parts, err, errlen)) return -1;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < parts.n; i++) {
        const storage_entry *pe = &parts.entries[i];
        int64_t day;
        if (!pe->is_dir || storage_name_hidden(pe->name) || partition_day(pe->name, &day)) continue;
        char pdir[1024];
        snprintf(pdir, sizeof pdir, "%s/%s", table, pe->name);
        storage_list_t files = {0};
        if (storage_list(s->st, pdir, &files, err, errlen)) {
            rc = -1;
            break;
        }
        for (size_t j = 0; rc == 0 && j < files.n; j++) {
            const storage_entry *fe = &files.entries[j];
            size_t nl = strlen(fe->name);
            if (fe->is_dir || storage_name_hidden(fe->name) || nl < 9 || strcmp(fe->name + nl - 8, ".parquet"))
                continue;
            char path[2048];
            snprintf(path, sizeof path, "%s/%s", pdir, fe->name);
            lfile f = {.path = strdup(path), .day_start = day, .size = fe->size, .mtime_us = fe->mtime_us,
                       .max_end = INT64_MIN, .min_start = INT64_MAX, .horizon_us = INT64_MIN, .nrows = -1};
            if (!f.path || lfiles_push(l, f)) {
                free(f.path);
                snprintf(err, errlen, "out of memory");
                rc = -1;
            }
        }
        storage_list_free(&files);
    }
    storage_list_free(&parts);
    if (rc == 0) rc = complete_table(s, table, l, err, errlen);
    if (rc == 0 && l->n) qsort(l->files, l->n, sizeof *l->files, cmp_files);
    return rc;
}

/* Moves the caches of files unchanged since the last listing (same path, size and mtime) from
 * old to l; both are sorted the same way, so one merge pass does it. */
static void carry_cache(lfiles *old, lfiles *l) {
    size_t i = 0, j = 0;
    while (i < old->n && j < l->n) {
        int c = cmp_files(&old->files[i], &l->files[j]);
        if (c < 0) {
            i++;
        } else if (c > 0) {
            j++;
        } else {
            lfile *o = &old->files[i], *n = &l->files[j];
            if (o->size == n->size && o->mtime_us == n->mtime_us) n->nrows = o->nrows;
            if (o->size == n->size && o->mtime_us == n->mtime_us && o->opened) {
                n->opened = true;
                n->nrg = o->nrg;
                n->max_end = o->max_end;
                n->min_start = o->min_start;
                n->horizon_us = o->horizon_us;
                n->rg_rows = o->rg_rows;
                n->rg_done = o->rg_done;
                n->rg_lo = o->rg_lo;
                n->rg_hi = o->rg_hi;
                n->cached_rows = o->cached_rows;
                o->rg_rows = NULL;
                o->rg_done = NULL;
                o->rg_lo = o->rg_hi = NULL;
                o->cached_rows = 0;
                o->opened = false;
                o->nrg = 0;
            }
            i++;
            j++;
        }
    }
}

/* ---- reading one file ---- */
/* path: where the bytes are read; alt: the final name of a file read at its staged name, tried
 * when the staged one fails (its rename landed since the poll: the same bytes). */
typedef struct {
    storage *st;
    const char *path, *alt;
} read_ctx;

static read_ctx file_ctx(storage *st, const lfile *f) {
    return (read_ctx){st, f->staged ? f->staged : f->path, f->staged ? f->path : NULL};
}

/* After reading f through c: a file found at its final name is no longer staged. */
static void file_ctx_done(lfile *f, const read_ctx *c) {
    if (f->staged && c->path == f->path) {
        free(f->staged);
        f->staged = NULL;
    }
}

static int read_at(void *ctx, uint64_t off, void *dst, size_t n, char *err, size_t errlen) {
    read_ctx *rc = ctx;
    size_t got = 0;
    if (storage_read(rc->st, rc->path, off, dst, n, &got, err, errlen)) {
        char e2[64];
        if (!rc->alt || storage_read(rc->st, rc->alt, off, dst, n, &got, e2, sizeof e2)) return -1;
        rc->path = rc->alt;
        rc->alt = NULL;
    }
    if (got != n) {
        snprintf(err, errlen, "%s: short read", rc->path);
        return -1;
    }
    return 0;
}

/* Leaf column index of top-level field name, or -1 if absent (or not a leaf). */
static int leaf_of(const pq_schema *sc, const char *name) {
    if (!name) return -1;
    int node = pq_schema_find(sc, name);
    if (node < 0) return -1;
    const pq_node *nd = pq_schema_node(sc, node);
    return nd->leaf;
}

/* A big-endian two's complement integer of n bytes (a FIXED/BYTE_ARRAY DECIMAL) into *out;
 * false when it does not fit in an int64. */
static bool be_int64(const pq_bytes *b, int64_t *out) {
    if (b->n == 0 || b->n > PQ_DECIMAL_MAX_BYTES) return false;
    const unsigned char *p = (const unsigned char *)b->p;
    unsigned char sign = (p[0] & 0x80) ? 0xff : 0x00;
    size_t skip = b->n > 8 ? b->n - 8 : 0;
    for (size_t i = 0; i < skip; i++)
        if (p[i] != sign) return false;
    if (skip && ((p[skip] ^ sign) & 0x80)) return false;   /* the kept bytes must carry the sign */
    uint64_t v = sign ? UINT64_MAX : 0;
    for (size_t i = skip; i < b->n; i++) v = (v << 8) | p[i];
    *out = (int64_t)v;
    return true;
}

/* An unscaled DECIMAL value of the given scale as cents (scale 2: as is), rounded half away from
 * zero like metric_ratio_cents; false when it overflows. Why: money written by another tool
 * (pyarrow, Spark) may be DECIMAL(p, s) with s != 2, and read as cents it would be a wrong number. */
static bool decimal_cents(int64_t v, int scale, int64_t *out) {
    if (scale == 2) return (*out = v), true;
    if (scale < 2) {
        for (int i = scale; i < 2; i++) {
            if (v > INT64_MAX / 10 || v < INT64_MIN / 10) return false;
            v *= 10;
        }
        return (*out = v), true;
    }
    if (scale > 20) return false;
    int64_t d = 1;
    for (int i = 2; i < scale && d <= INT64_MAX / 10; i++) d *= 10;
    return (*out = metric_ratio_cents(v, d)), true;
}

/* Reads value i (0-based row) of a flat column as an integer, scaling money and time units.
 * *vi is the running index into the packed non-null values. Returns false for a null (or a value
 * that cannot be read: unknown, never 0). Money: a DECIMAL (on INT32, INT64 or FIXED/BYTE_ARRAY)
 * is rescaled to cents from its scale; a plain INT64 is the first layout's cents; a DOUBLE (the
 * previous layout) holds dollars, rounded to cents. */
typedef enum { AS_COUNT, AS_MONEY, AS_TIME } int_kind;

static bool col_int(const pq_column *c, const pq_node *nd, size_t row, size_t *vi, int_kind kind,
                    int64_t *out) {
    if (c->def && c->def[row] < nd->max_def) return false;
    if (*vi >= c->nvals) return false;
    size_t k = (*vi)++;
    int64_t v;
    switch (c->phys) {
    case PQ_PHYS_INT32: v = c->v.i32[k]; break;
    case PQ_PHYS_INT64:
    case PQ_PHYS_INT96: v = c->v.i64[k]; break;
    case PQ_PHYS_BYTE_ARRAY:
    case PQ_PHYS_FIXED:
        if (nd->kind != PQ_DECIMAL || !be_int64(&c->v.bytes[k], &v)) return false;
        break;
    case PQ_PHYS_DOUBLE:
    case PQ_PHYS_FLOAT: {
        double d = (c->phys == PQ_PHYS_DOUBLE ? c->v.f64[k] : (double)c->v.f32[k]) * (kind == AS_MONEY ? 100.0 : 1.0);
        if (!isfinite(d) || fabs(d) > 9e18) return false;
        return (*out = llround(d)), true;
    }
    default: return false;
    }
    if (kind == AS_MONEY && nd->kind == PQ_DECIMAL) return decimal_cents(v, nd->scale, out);
    if (kind == AS_TIME && nd->kind == PQ_TIMESTAMP) {
        if (nd->ts_unit == 1) v *= 1000;          /* ms -> us */
        else if (nd->ts_unit == 3) v /= 1000;     /* ns -> us */
    }
    *out = v;
    return true;
}

/* Value i of a flat string column into *out; false (and "") for a null or a non-string column. */
static bool col_str(const pq_column *c, const pq_node *nd, size_t row, size_t *vi, pq_bytes *out) {
    *out = (pq_bytes){"", 0};
    if (c->def && c->def[row] < nd->max_def) return false;
    if (*vi >= c->nvals || (c->phys != PQ_PHYS_BYTE_ARRAY && c->phys != PQ_PHYS_FIXED)) return false;
    *out = c->v.bytes[(*vi)++];
    return true;
}

/* Where each catalog column of metric m is in one file: leaf indexes (-1 = absent: unknown, see
 * dash_unknown). RATE columns are never read (recomputed from num/den after merging). Leaves 0
 * and 1 of the map are window_start and window_end; leaf 2 + c is catalog column c. absent has
 * the bits of the readable columns the file does not have. */
typedef struct {
    const metric_def *m;
    int nleaves;
    int leaf[2 + METRIC_MAX_COLS];
    int_kind kind[2 + METRIC_MAX_COLS];
    dash_unknown absent;
} col_map;

static int map_columns(const pq_schema *sc, metric_id id, col_map *m, const char *path, char *err, size_t errlen) {
    m->m = metric_get(id);
    m->nleaves = 2 + m->m->ncols;
    m->absent = 0;
    m->leaf[0] = leaf_of(sc, "window_start");
    m->leaf[1] = leaf_of(sc, "window_end");
    m->kind[0] = m->kind[1] = AS_TIME;
    if (m->leaf[0] < 0 || m->leaf[1] < 0) {
        snprintf(err, errlen, "%s: no window_start/window_end column", path);
        return -1;
    }
    for (int c = 0; c < m->m->ncols; c++) {
        const metric_col *mc = &m->m->cols[c];
        m->kind[2 + c] = mc->type == METRIC_MONEY ? AS_MONEY : AS_COUNT;
        m->leaf[2 + c] = mc->type == METRIC_RATE || mc->merge == MERGE_RATIO ? -1 : leaf_of(sc, mc->name);
        if (m->leaf[2 + c] < 0 && mc->type == METRIC_MONEY && mc->merge == MERGE_SUM) {
            char alt[80];   /* the first layout's name for money in cents */
            snprintf(alt, sizeof alt, "%s_cents", mc->name);
            m->leaf[2 + c] = leaf_of(sc, alt);
        }
        if (m->leaf[2 + c] < 0 && mc->merge != MERGE_RATIO) m->absent |= (dash_unknown)(1u << c);
    }
    return 0;
}

static int rg_alloc(rg_rows *out, size_t n, int ncols) {
    size_t cnt = n ? n : 1;
    out->ws = malloc(cnt * sizeof *out->ws);
    out->we = malloc(cnt * sizeof *out->we);
    out->key = malloc(cnt * sizeof *out->key);
    out->v = calloc(cnt * (size_t)ncols, sizeof *out->v);
    return out->ws && out->we && out->key && out->v ? 0 : -1;
}

/* Reads the columns of row group rg that the map names into cols (cols[i] zeroed when absent). */
static int read_leaves(pq_reader *r, const col_map *m, int rg, pq_column *cols, const pq_node **nodes,
                       const char *path, char *err, size_t errlen) {
    const pq_schema *sc = pq_reader_schema(r);
    int64_t nrows = pq_reader_rg_num_rows(r, rg);
    for (int i = 0; i < m->nleaves; i++) {
        memset(&cols[i], 0, sizeof cols[i]);
        nodes[i] = NULL;
        if (m->leaf[i] < 0) continue;
        nodes[i] = pq_schema_node(sc, pq_schema_leaf_node(sc, m->leaf[i]));
        if (nodes[i]->max_rep > 0) {
            snprintf(err, errlen, "%s: column %s is repeated", path, nodes[i]->name);
            return -1;
        }
        if (pq_reader_read_column(r, rg, m->leaf[i], &cols[i], err, errlen)) return -1;
        if (cols[i].n < (size_t)nrows) {
            snprintf(err, errlen, "%s: column shorter than its row group", path);
            return -1;
        }
    }
    return 0;
}

/* Decodes row group rg of r into out: windows, key ids (interned into keys), values. -1 with err
 * naming the file and row for a row without its window_start or window_end. */
static int decode_rg(pq_reader *r, const col_map *m, dash_keys *keys, int rg, rg_rows *out, const char *path,
                     char *err, size_t errlen) {
    pq_column cols[2 + METRIC_MAX_COLS];
    const pq_node *nodes[2 + METRIC_MAX_COLS];
    int nstr = dash_metric_nstr(m->m), ncols = m->m->ncols;
    int64_t nrows = pq_reader_rg_num_rows(r, rg);
    int rc = read_leaves(r, m, rg, cols, nodes, path, err, errlen);
    if (rc == 0 && rg_alloc(out, (size_t)nrows, ncols)) {
        snprintf(err, errlen, "out of memory");
        rc = -1;
    }
    size_t vi[2 + METRIC_MAX_COLS] = {0};
    for (int64_t row = 0; rc == 0 && row < nrows; row++) {
        int64_t ws = 0, we = 0, *v = out->v + out->n * (size_t)ncols;
        bool has_ws = col_int(&cols[0], nodes[0], (size_t)row, &vi[0], AS_TIME, &ws);
        bool has_we = col_int(&cols[1], nodes[1], (size_t)row, &vi[1], AS_TIME, &we);
        const char *sp[METRIC_MAX_COLS];
        size_t sn[METRIC_MAX_COLS];
        dash_unknown unk = m->absent;   /* a column the file lacks, or a null in this row: unknown */
        for (int c = 0; c < ncols; c++) {
            int i = 2 + c;
            v[c] = 0;
            if (m->leaf[i] < 0) {
                sp[c] = "";
                sn[c] = 0;
            } else if (c < nstr) {
                pq_bytes b;
                if (!col_str(&cols[i], nodes[i], (size_t)row, &vi[i], &b)) unk |= (dash_unknown)(1u << c);
                sp[c] = b.p;
                sn[c] = b.n;
            } else if (!col_int(&cols[i], nodes[i], (size_t)row, &vi[i], m->kind[i], &v[c])) {
                v[c] = 0;
                unk |= (dash_unknown)(1u << c);
            }
        }
        /* A row without its window cannot be placed, and skipping it would lower every sum the
         * page shows: the file is refused by name (another tool wrote it; ecom never does). */
        if (!has_ws || !has_we) {
            snprintf(err, errlen, "%s: row group %d, row %lld has no %s: a metric row without its window cannot be counted",
                     path, rg, (long long)row, has_ws ? "window_end" : "window_start");
            rc = -1;
            break;
        }
        if (unk && !out->unk && !(out->unk = calloc(nrows ? (size_t)nrows : 1, sizeof *out->unk))) {
            snprintf(err, errlen, "out of memory");
            rc = -1;
            break;
        }
        if (out->unk) out->unk[out->n] = unk;
        int32_t id = dash_keys_intern(keys, sp, sn);
        if (id < 0) {
            snprintf(err, errlen, "out of memory");
            rc = -1;
            break;
        }
        out->ws[out->n] = ws;
        out->we[out->n] = we;
        out->key[out->n] = id;
        out->n++;
    }
    for (int i = 0; i < m->nleaves; i++) pq_column_free(&cols[i]);
    if (rc) rg_rows_free(out);   /* a failed decode leaves nothing: the next request decodes again */
    return rc;
}

/* Min and max of an INT64 (or TIMESTAMP) leaf in row group rg, in us, from the statistics
 * (PLAIN little-endian int64). Returns false when there are none. */
static bool rg_stats(pq_reader *r, int leaf, int rg, int64_t *lo, int64_t *hi) {
    pq_chunk_info ci;
    const pq_schema *sc = pq_reader_schema(r);
    const pq_node *nd = pq_schema_node(sc, pq_schema_leaf_node(sc, leaf));
    if (nd->phys != PQ_PHYS_INT64 || pq_reader_chunk_info(r, rg, leaf, &ci) || !ci.has_min_max || ci.min.n != 8 ||
        ci.max.n != 8)
        return false;
    memcpy(lo, ci.min.p, 8);   /* PLAIN is little-endian, as is every machine we build for */
    memcpy(hi, ci.max.p, 8);
    if (nd->kind == PQ_TIMESTAMP && nd->ts_unit == 1) {
        *lo *= 1000;
        *hi *= 1000;
    } else if (nd->kind == PQ_TIMESTAMP && nd->ts_unit == 3) {
        *lo /= 1000;
        *hi /= 1000;
    }
    return true;
}

/* The most a stream's funnel horizon can be: two durations of at most a year each (stream.h),
 * rounded up to a window of at most a year. A larger value is no horizon ecom wrote. */
#define HORIZON_MAX_US (3 * 366LL * 86400 * 1000000)

/* The funnel horizon r's footer states (pipeline.h PIPELINE_KV_FUNNEL_HORIZON: decimal
 * microseconds), INT64_MIN when it states none or something else than a horizon ecom writes. */
static int64_t footer_horizon(const pq_reader *r) {
    for (int i = 0; i < pq_reader_num_kv(r); i++) {
        const char *k, *v;
        pq_reader_kv(r, i, &k, &v);
        if (!k || !v || strcmp(k, PIPELINE_KV_FUNNEL_HORIZON)) continue;
        char *end;
        errno = 0;
        long long h = strtoll(v, &end, 10);
        return end != v && !*end && !errno && h >= 0 && h <= HORIZON_MAX_US ? (int64_t)h : INT64_MIN;
    }
    return INT64_MIN;
}

/* Reads f's footer: row groups, their window_start ranges, the file's earliest window_start and
 * latest window_end (a row group without statistics is decoded now: it is needed anyway). */
static int file_open_facts(lake_src *s, metric_id t, lfile *f, pq_reader *r, const col_map *m, char *err,
                           size_t errlen) {
    lfile_drop_cache(s, f);   /* a half-done earlier attempt leaves nothing behind */
    int n = pq_reader_num_row_groups(r);
    size_t cnt = (size_t)(n > 0 ? n : 1);
    f->rg_rows = calloc(cnt, sizeof *f->rg_rows);
    f->rg_done = calloc(cnt, sizeof *f->rg_done);
    f->rg_lo = calloc(cnt, sizeof *f->rg_lo);
    f->rg_hi = calloc(cnt, sizeof *f->rg_hi);
    if (!f->rg_rows || !f->rg_done || !f->rg_lo || !f->rg_hi) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    f->nrg = n;
    f->max_end = INT64_MIN;
    f->min_start = INT64_MAX;
    f->horizon_us = footer_horizon(r);
    for (int g = 0; g < n; g++) {
        f->rg_lo[g] = INT64_MIN;
        f->rg_hi[g] = INT64_MAX;
        if (pq_reader_rg_num_rows(r, g) == 0) {
            f->rg_done[g] = true;   /* nothing to decode */
            continue;
        }
        bool has_lo = rg_stats(r, m->leaf[0], g, &f->rg_lo[g], &f->rg_hi[g]);
        int64_t lo = f->rg_lo[g], hi;
        if (!rg_stats(r, m->leaf[1], g, &(int64_t){0}, &hi) || !has_lo) {
            if (decode_rg(r, m, s->keys[t], g, &f->rg_rows[g], f->path, err, errlen)) return -1;
            s->rg_decoded++;
            f->rg_done[g] = true;
            f->cached_rows += f->rg_rows[g].n;
            s->cached_rows += f->rg_rows[g].n;
            hi = INT64_MIN;
            lo = INT64_MAX;
            for (size_t i = 0; i < f->rg_rows[g].n; i++) {
                if (f->rg_rows[g].we[i] > hi) hi = f->rg_rows[g].we[i];
                if (f->rg_rows[g].ws[i] < lo) lo = f->rg_rows[g].ws[i];
            }
        }
        if (hi > f->max_end) f->max_end = hi;
        if (lo < f->min_start) f->min_start = lo;
    }
    f->opened = true;
    return 0;
}

/* Ensures f's footer facts are known and, when fn != NULL, passes the rows whose window_start
 * lies in [from, to) to fn, decoding (and caching) only the row groups that may hold some. The
 * file is opened only when something is not cached yet. */
static int file_scan(lake_src *s, metric_id t, lfile *f, int64_t from, int64_t to, dash_block_fn fn, void *fnctx,
                     char *err, size_t errlen) {
    pq_reader *r = NULL;
    read_ctx rc = file_ctx(s->st, f);
    col_map m;
    int ret = -1;
    bool need = !f->opened;
    if (fn && f->opened)
        for (int g = 0; g < f->nrg; g++)
            if (!f->rg_done[g] && f->rg_hi[g] >= from && f->rg_lo[g] < to) need = true;
    if (need) {
        char e2[256] = "";
        r = pq_reader_open(read_at, &rc, f->size, NULL, e2, sizeof e2);
        if (!r) {
            snprintf(err, errlen, "%s: %s", f->path, e2);
            return -1;
        }
        s->files_opened++;
        if (map_columns(pq_reader_schema(r), t, &m, f->path, err, errlen)) goto out;
        if (!f->opened && file_open_facts(s, t, f, r, &m, err, errlen)) goto out;
    }
    for (int g = 0; fn && g < f->nrg; g++) {
        if (f->rg_hi[g] < from || f->rg_lo[g] >= to) {   /* statistics say: not in range */
            if (!f->rg_done[g]) s->rg_skipped++;
            continue;
        }
        if (!f->rg_done[g]) {
            s->rg_decoded++;
            if (decode_rg(r, &m, s->keys[t], g, &f->rg_rows[g], f->path, err, errlen)) goto out;
            f->rg_done[g] = true;
            f->cached_rows += f->rg_rows[g].n;
            s->cached_rows += f->rg_rows[g].n;
        }
        const rg_rows *rr = &f->rg_rows[g];
        dash_block blk = {rr->n, rr->ws, rr->we, rr->v, rr->key, rr->unk};
        if (rr->n && fn(fnctx, &blk, from, to)) {
            snprintf(err, errlen, "out of memory");
            goto out;
        }
    }
    ret = 0;
out:
    if (r) pq_reader_close(r);
    file_ctx_done(f, &rc);
    return ret;
}

/* ---- the dash_source functions ---- */

/* Opens the storage once the root exists. A local root that does not exist yet is an empty
 * lake (and is not created: the writer does that). */
static int ensure_storage(lake_src *s, bool *present, char *err, size_t errlen) {
    *present = true;
    if (s->st) return 0;
    if (!strstr(s->root, "://")) {
        struct stat st;
        if (stat(s->root, &st) != 0 || !S_ISDIR(st.st_mode)) {
            *present = false;
            return 0;
        }
    }
    s->st = storage_open_opts(s->root, s->so, err, errlen);
    /* test-only: $ECOM_TEST_STORAGE_FAULTS (pipeline/faults.c) can stop the dashboard at an
     * exact storage call, as it does the stream (test_dash_commit.py: a commit mid-listing) */
    const char *faults = getenv("ECOM_TEST_STORAGE_FAULTS");
    if (s->st && faults && *faults) s->st = faults_wrap(s->st, faults, err, errlen);
    return s->st ? 0 : -1;
}

static void ctip_free(ctip *c) {
    free(c->tip.path);
    lake_paths_free(c->from, c->n);
    lake_paths_free(c->to, c->n);
    memset(c, 0, sizeof *c);
}

static void tips_clear(lake_src *s) {
    for (size_t i = 0; i < s->ntips; i++) ctip_free(&s->tips[i]);
    free(s->tips);
    s->tips = NULL;
    s->ntips = 0;
}

static bool tip_same(const root_commit_tip *a, const root_commit_tip *b) {
    return !strcmp(a->path, b->path) && a->size == b->size && a->mtime_us == b->mtime_us;
}

/* Lists the commit log's tips and knows the files of each (read once per record: a record is
 * never rewritten in place). 0; 1 when a record went away before it was read (list again). */
static int tips_refresh(lake_src *s, char *err, size_t errlen) {
    root_commit_tip *now = NULL;
    size_t n = 0;
    if (root_commit_tips(s->st, &now, &n, err, errlen)) return -1;
    ctip *v = n ? calloc(n, sizeof *v) : NULL;
    int rc = n && !v ? -1 : 0;
    if (rc) snprintf(err, errlen, "out of memory");
    for (size_t i = 0; rc == 0 && i < n; i++) {
        v[i].tip = now[i];
        now[i].path = NULL;
        for (size_t j = 0; j < s->ntips; j++)
            if (s->tips[j].tip.path && tip_same(&s->tips[j].tip, &v[i].tip)) {
                v[i].from = s->tips[j].from;
                v[i].to = s->tips[j].to;
                v[i].n = s->tips[j].n;
                s->tips[j].from = s->tips[j].to = NULL;
                s->tips[j].n = 0;
                break;
            }
        if (!v[i].from) rc = root_commit_files(s->st, v[i].tip.path, &v[i].from, &v[i].to, &v[i].n, err, errlen);
    }
    root_commit_tips_free(now, n);
    tips_clear(s);
    if (rc) {
        for (size_t i = 0; i < n; i++) ctip_free(&v[i]);
        free(v);
        return rc;
    }
    s->tips = v;
    s->ntips = n;
    return 0;
}

/* Whether the tips listed now are the ones the tables were completed with. */
static bool tips_unchanged(const lake_src *s, const root_commit_tip *now, size_t n) {
    if (n != s->ntips) return false;
    for (size_t i = 0; i < n; i++)
        if (!tip_same(&s->tips[i].tip, &now[i])) return false;
    return true;
}

static void lake_clear(lake_src *s) {
    tips_clear(s);
    pipeline_marks_free(&s->folded);
    s->folded_size = 0;
    s->folded_mtime = 0;
    for (int t = 0; t < METRIC_ID_COUNT; t++) lfiles_clear(s, &s->tables[t]);
    lfiles_clear(s, &s->rejected);
    free(s->starts);
    free(s->stops);
    s->starts = s->stops = NULL;
    s->nstarts = s->nstops = 0;
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Re-reads the marks file of _ecom/starts (pipeline.h PIPELINE_MARKS_FILE) when its listing
 * entry e changed (e NULL: there is none). */
static int reread_folded(lake_src *s, const storage_entry *e, char *err, size_t errlen) {
    if (e && s->folded_size == e->size && s->folded_mtime == e->mtime_us) return 0;
    pipeline_marks_free(&s->folded);
    s->folded_size = 0;
    s->folded_mtime = 0;
    if (!e) return 0;
    char *txt = NULL, path[64];
    size_t got = 0;
    bool exists = false;
    snprintf(path, sizeof path, "%s/%s", LAKE_STARTS_DIR, PIPELINE_MARKS_FILE);
    int rc = storage_get_all(s->st, path, 64u << 20, &txt, &got, &exists, err, errlen);
    if (rc == 0 && exists) rc = pipeline_marks_parse(txt, got, &s->folded, err, errlen);
    free(txt);
    if (rc) {
        pipeline_marks_free(&s->folded);
        return -1;
    }
    s->folded_size = e->size;
    s->folded_mtime = e->mtime_us;
    return 0;
}

/* Re-reads the marks of where fresh inputs began (lake.h lake_input_start_mark's <us>.start) and
 * where their data ended (<us>.stop): the single ones and the file they are folded into
 * (pipeline.h "fresh-input marks"), in one listing (the file is read only when it changed),
 * folding them into h (a new one is a change). Other names are ignored. */
static int relist_starts(lake_src *s, uint64_t *h, char *err, size_t errlen) {
    free(s->starts);
    free(s->stops);
    s->starts = s->stops = NULL;
    s->nstarts = s->nstops = 0;
    storage_list_t l = {0};
    if (storage_list(s->st, LAKE_STARTS_DIR, &l, err, errlen)) return -1;
    const storage_entry *file = NULL;
    for (size_t i = 0; i < l.n; i++)
        if (!l.entries[i].is_dir && !strcmp(l.entries[i].name, PIPELINE_MARKS_FILE)) file = &l.entries[i];
    if (reread_folded(s, file, err, errlen)) {
        storage_list_free(&l);
        return -1;
    }
    size_t na = l.n + s->folded.nstarts, nb = l.n + s->folded.nstops;
    if ((na && !(s->starts = malloc(na * sizeof *s->starts))) || (nb && !(s->stops = malloc(nb * sizeof *s->stops)))) {
        storage_list_free(&l);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (s->folded.nstarts) memcpy(s->starts, s->folded.starts, s->folded.nstarts * sizeof *s->starts);
    if (s->folded.nstops) memcpy(s->stops, s->folded.stops, s->folded.nstops * sizeof *s->stops);
    s->nstarts = s->folded.nstarts;
    s->nstops = s->folded.nstops;
    for (size_t i = 0; i < l.n; i++) {
        int64_t us;
        int kind = l.entries[i].is_dir ? 0 : pipeline_marks_name(l.entries[i].name, &us);
        if (kind == 1) s->starts[s->nstarts++] = us;
        else if (kind == 2) s->stops[s->nstops++] = us;
    }
    storage_list_free(&l);
    if (s->nstarts > 1) qsort(s->starts, s->nstarts, sizeof *s->starts, cmp_i64);
    if (s->nstops > 1) qsort(s->stops, s->nstops, sizeof *s->stops, cmp_i64);
    if (s->nstarts) *h ^= hash64(s->starts, s->nstarts * sizeof *s->starts) * 0x100000001b3ULL;
    if (s->nstops) *h ^= hash64(s->stops, s->nstops * sizeof *s->stops) * 0x9e3779b97f4a7c15ULL;
    return 0;
}

/* Lists table name into *cur, keeping the caches of unchanged files, and folds the listing into h. */
static int relist(lake_src *s, const char *name, lfiles *cur, uint64_t salt, uint64_t *h, char *err, size_t errlen) {
    lfiles fresh = {0};
    if (list_table(s, name, &fresh, err, errlen)) {
        lfiles_clear(s, &fresh);
        return -1;
    }
    carry_cache(cur, &fresh);
    lfiles_clear(s, cur);
    *cur = fresh;
    for (size_t i = 0; i < fresh.n; i++) {
        const lfile *f = &fresh.files[i];
        uint64_t v[4] = {hash64(f->path, strlen(f->path)), f->size, (uint64_t)f->mtime_us, salt};
        *h = hash64(v, sizeof v) ^ (*h * 0x100000001b3ULL);
    }
    return 0;
}

/* Lists every table between two listings of the commit log's tips (the header: then only the
 * tips' files can be half published, and complete_table finds them); again when the tips
 * differ, since a commit that began during the listing may be half in it. */
static int relist_tables(lake_src *s, uint64_t *h, char *err, size_t errlen) {
    uint64_t seed = *h;
    for (int attempt = 0; attempt < POLL_ATTEMPTS; attempt++) {
        int rc = tips_refresh(s, err, errlen);
        if (rc < 0) return -1;
        if (rc > 0) continue;
        *h = seed;
        for (int t = 0; rc == 0 && t < METRIC_ID_COUNT; t++)
            rc = relist(s, metric_get((metric_id)t)->name, &s->tables[t], (uint64_t)t, h, err, errlen);
        if (rc == 0) rc = relist(s, "rejected", &s->rejected, METRIC_ID_COUNT, h, err, errlen);
        root_commit_tip *now = NULL;
        size_t n = 0;
        if (rc || root_commit_tips(s->st, &now, &n, err, errlen)) return -1;
        bool same = tips_unchanged(s, now, n);
        root_commit_tips_free(now, n);
        if (same) return 0;
    }
    snprintf(err, errlen, "commits began during %d listings of the lake in a row (ROOT/_ecom's commit log moved "
             "each time): the tables are not listed whole", POLL_ATTEMPTS);
    return -1;
}

/* True if name is something a lake root holds: a catalog table or rank, a raw table, _ecom. */
static bool lake_entry_name(const char *name) {
    if (!strcmp(name, "_ecom") || metric_find(name) || metric_find_rank(name, NULL)) return true;
    for (int r = 0; r < LAKE_RAW_COUNT; r++)
        if (!strcmp(name, lake_raw_name((lake_raw)r))) return true;
    return false;
}

/* Why: a --data that names the wrong folder (the lake's parent, one table's folder, a home
 * directory) serves an empty page that looks like a quiet shop. When no table has a file, the
 * root's own entries say whether it is a lake not yet written (empty, or holding lake names)
 * or something else; then s->not_lake says so, for /api/health and the page's banner. */
static int lake_shape_check(lake_src *s, char *err, size_t errlen) {
    s->not_lake[0] = 0;
    for (int t = 0; t < METRIC_ID_COUNT; t++)
        if (s->tables[t].n) return 0;
    if (s->rejected.n) return 0;
    storage_list_t l = {0};
    if (storage_list(s->st, "", &l, err, errlen)) return -1;
    size_t seen = 0, dates = 0;
    bool lakeish = false;
    char names[160] = "";
    for (size_t i = 0; i < l.n; i++) {
        const char *n = l.entries[i].name;
        if (n[0] == '.') continue;
        lakeish |= lake_entry_name(n);
        dates += !strncmp(n, "date=", 5);
        if (seen++ < 4) {
            size_t k = strlen(names);
            snprintf(names + k, sizeof names - k, "%s%s", k ? ", " : "", n);
        }
    }
    storage_list_free(&l);
    if (lakeish || !seen) return 0;
    if (dates)
        snprintf(s->not_lake, sizeof s->not_lake, "%s looks like one table's folder (it holds date= partitions): "
                 "--data wants the lake's root, its parent", s->root);
    else
        snprintf(s->not_lake, sizeof s->not_lake, "%s is not a lake: it holds %zu entries (%s%s) but no table "
                 "(sales_per_minute, ..., _ecom); is --data the folder `ecom stream --out` wrote?", s->root, seen,
                 names, seen > 4 ? ", ..." : "");
    return 0;
}

/* The earliest window_start of table t: from the files of its oldest partition (footers only,
 * each file once: the facts are cached with the file). INT64_MIN when it has no row. */
static int table_first_start(lake_src *s, metric_id t, int64_t *first, char *err, size_t errlen) {
    lfiles *l = &s->tables[t];
    int64_t lo = INT64_MAX;
    for (size_t i = 0; i < l->n && l->files[i].day_start == l->files[0].day_start; i++) {
        if (file_scan(s, t, &l->files[i], 0, 0, NULL, NULL, err, errlen)) return -1;
        if (l->files[i].min_start < lo) lo = l->files[i].min_start;
    }
    *first = lo == INT64_MAX ? INT64_MIN : lo;
    return 0;
}

/* Each scale-out partition's latest window_end of table t, from the files of its two newest
 * dates (footers only): a partition behind the others across midnight still has its last
 * commit there. Partitions commit at different times, so the merge of open windows compares
 * each partition's with its own commits (agg_add_prov). */
static int table_part_ends(lake_src *s, metric_id t, char *err, size_t errlen) {
    lfiles *l = &s->tables[t];
    for (int p = 0; p < DASH_MAX_PARTS; p++) s->part_end[t][p] = INT64_MIN;
    s->parted[t] = false;
    if (!l->n) return 0;
    int64_t newest = l->files[l->n - 1].day_start;
    for (size_t i = l->n; i-- > 0 && l->files[i].day_start >= newest - DAY_US;) {
        int p = lake_part_of_name(l->files[i].path);
        if (p < 0) continue;
        s->parted[t] = true;
        if (p >= DASH_MAX_PARTS) continue;
        if (file_scan(s, t, &l->files[i], 0, 0, NULL, NULL, err, errlen)) return -1;
        if (l->files[i].max_end > s->part_end[t][p]) s->part_end[t][p] = l->files[i].max_end;
    }
    return 0;
}

static bool lake_part_ends(void *ctx, metric_id t, int64_t ends[DASH_MAX_PARTS]) {
    lake_src *s = ctx;
    if ((unsigned)t >= METRIC_ID_COUNT || !s->parted[t]) return false;
    memcpy(ends, s->part_end[t], sizeof s->part_end[t]);
    return true;
}

static int64_t lake_funnel_horizon(void *ctx, metric_id t) {
    const lake_src *s = ctx;
    return (unsigned)t < METRIC_ID_COUNT ? s->horizon[t] : INT64_MIN;
}

static int lake_poll(void *ctx, uint64_t *generation, int64_t latest_end[METRIC_ID_COUNT], char *err,
                     size_t errlen) {
    lake_src *s = ctx;
    uint64_t h = 0x9e3779b97f4a7c15ULL;
    for (int t = 0; t < METRIC_ID_COUNT; t++) {
        latest_end[t] = s->first[t] = s->horizon[t] = INT64_MIN;
        s->parted[t] = false;
    }
    bool present;
    if (ensure_storage(s, &present, err, errlen)) return -1;
    if (!present) {
        lake_clear(s);
        *generation = h;
        return 0;
    }
    if (relist_tables(s, &h, err, errlen)) return -1;
    if (relist_starts(s, &h, err, errlen)) return -1;
    if (lake_shape_check(s, err, errlen)) return -1;
    if (s->not_lake[0]) h = hash64(s->not_lake, strlen(s->not_lake)) ^ h;   /* a new warning is a change */
    /* Too much decoded data cached: start over (rare; a day of minute windows is ~0.5M rows). */
    if (s->cached_rows > CACHE_MAX_ROWS)
        for (int t = 0; t < METRIC_ID_COUNT; t++)
            for (size_t i = 0; i < s->tables[t].n; i++) lfile_drop_cache(s, &s->tables[t].files[i]);
    /* The latest window end: from the files of each table's newest partition (footers only). */
    for (int t = 0; t < METRIC_ID_COUNT; t++) {
        lfiles *l = &s->tables[t];
        if (!l->n) continue;
        int64_t newest = l->files[l->n - 1].day_start;
        for (size_t i = l->n; i-- > 0 && l->files[i].day_start == newest;) {
            if (file_scan(s, (metric_id)t, &l->files[i], 0, 0, NULL, NULL, err, errlen)) return -1;
            if (l->files[i].max_end > latest_end[t]) latest_end[t] = l->files[i].max_end;
            if (l->files[i].horizon_us > s->horizon[t]) s->horizon[t] = l->files[i].horizon_us;
        }
        if (table_first_start(s, (metric_id)t, &s->first[t], err, errlen)) return -1;
        if (table_part_ends(s, (metric_id)t, err, errlen)) return -1;
    }
    *generation = h;
    return 0;
}

static int lake_scan(void *ctx, metric_id t, int64_t from, int64_t to, dash_block_fn fn, void *fnctx, char *err,
                     size_t errlen) {
    lake_src *s = ctx;
    if ((unsigned)t >= METRIC_ID_COUNT) {
        snprintf(err, errlen, "no such metric");
        return -1;
    }
    lfiles *l = &s->tables[t];
    for (size_t i = 0; i < l->n; i++) {
        lfile *f = &l->files[i];
        /* A partition holds the windows that start on its date in the lake's zone (--time-zone;
         * UTC offsets lie within -12 h..+14 h), so its UTC day widened by 14 h on each side
         * holds them all; the row groups' statistics prune the rest. */
        if (f->day_start + DAY_US + ZONE_SLACK_US <= from || f->day_start - ZONE_SLACK_US >= to) continue;
        if (file_scan(s, t, f, from, to, fn, fnctx, err, errlen)) return -1;
    }
    return 0;
}

static size_t lake_input_starts_get(void *ctx, const int64_t **starts) {
    lake_src *s = ctx;
    *starts = s->starts;
    return s->nstarts;
}

static size_t lake_input_stops_get(void *ctx, const int64_t **stops) {
    lake_src *s = ctx;
    *stops = s->stops;
    return s->nstops;
}

static int64_t lake_first_start(void *ctx, metric_id t) {
    lake_src *s = ctx;
    return (unsigned)t < METRIC_ID_COUNT ? s->first[t] : INT64_MIN;
}

static const dash_keys *lake_keys(void *ctx, metric_id t) {
    lake_src *s = ctx;
    return (unsigned)t < METRIC_ID_COUNT ? s->keys[t] : NULL;
}

/* Counts the rows of the raw `rejected` table from footers, each file once (for health). */
static int count_rejected(lake_src *s, int64_t *rows, char *err, size_t errlen) {
    *rows = 0;
    for (size_t i = 0; i < s->rejected.n; i++) {
        lfile *f = &s->rejected.files[i];
        if (f->nrows < 0) {
            read_ctx c = file_ctx(s->st, f);
            pq_reader *r = pq_reader_open(read_at, &c, f->size, NULL, err, errlen);
            file_ctx_done(f, &c);
            if (!r) return -1;
            f->nrows = pq_reader_num_rows(r);
            pq_reader_close(r);
        }
        *rows += f->nrows;
    }
    return 0;
}

static int lake_describe(void *ctx, buf_t *out, char *err, size_t errlen) {
    lake_src *s = ctx;
    buf_append_char(out, '{');
    for (int t = 0; t < METRIC_ID_COUNT; t++) {
        const lfiles *l = &s->tables[t];
        uint64_t bytes = 0;
        size_t parts = 0;
        for (size_t i = 0; i < l->n; i++) {
            bytes += l->files[i].size;
            if (i == 0 || l->files[i].day_start != l->files[i - 1].day_start) parts++;
        }
        buf_printf(out, "%s\"%s\":{\"files\":%zu,\"partitions\":%zu,\"bytes\":%llu}", t ? "," : "",
                   metric_get((metric_id)t)->name, l->n, parts, (unsigned long long)bytes);
    }
    int64_t rej = 0;
    if (count_rejected(s, &rej, err, errlen)) return -1;
    buf_printf(out, ",\"rejected\":{\"files\":%zu,\"rows\":%lld}", s->rejected.n, (long long)rej);
    buf_printf(out, ",\"reads\":{\"files_opened\":%llu,\"row_groups_decoded\":%llu,\"row_groups_skipped\":%llu,"
               "\"cached_rows\":%zu}", (unsigned long long)s->files_opened, (unsigned long long)s->rg_decoded,
               (unsigned long long)s->rg_skipped, s->cached_rows);
    size_t k = 0;
    for (size_t i = 0; i < s->ntips; i++) {   /* commits read partly at their staged names */
        if (!s->tips[i].staged) continue;
        buf_append_str(out, k++ ? ",{\"record\":" : ",\"publishing\":[{\"record\":");
        dash_json_str(out, s->tips[i].tip.path);
        buf_printf(out, ",\"staged\":%zu}", s->tips[i].staged);
    }
    if (k) buf_append_char(out, ']');
    if (s->not_lake[0]) {
        buf_append_str(out, ",\"not_a_lake\":");
        dash_json_str(out, s->not_lake);
    }
    return buf_append_char(out, '}');
}

static void lake_destroy(void *ctx) {
    lake_src *s = ctx;
    lake_clear(s);
    for (int t = 0; t < METRIC_ID_COUNT; t++) dash_keys_free(s->keys[t]);
    if (s->st) storage_close(s->st);
    storage_opts_free(s->so);
    free(s->root);
    free(s);
}

int dash_source_lake(const char *root, const storage_opts *so, dash_source *out, char *err, size_t errlen) {
    lake_src *s = calloc(1, sizeof *s);
    if (!s || !(s->root = strdup(root)) || (so && !(s->so = storage_opts_copy(so)))) {
        if (s) free(s->root);
        free(s);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (int t = 0; t < METRIC_ID_COUNT; t++)
        if (!(s->keys[t] = dash_keys_new(metric_get((metric_id)t)))) {
            lake_destroy(s);
            snprintf(err, errlen, "out of memory");
            return -1;
        }
    *out = (dash_source){.ctx = s, .poll = lake_poll, .scan = lake_scan, .keys = lake_keys, .describe = lake_describe,
                         .destroy = lake_destroy, .first_start = lake_first_start, .part_ends = lake_part_ends,
                         .input_starts = lake_input_starts_get, .input_stops = lake_input_stops_get,
                         .funnel_horizon = lake_funnel_horizon};
    return 0;
}
