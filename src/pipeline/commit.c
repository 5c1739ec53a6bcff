/*
 * pipeline/commit.c — the staging storage and the commit log that make `ecom stream`'s output
 * exactly-once (protocol in pipeline.h and docs/stream.md).
 *
 * A commit record is a small text file, one fact per line, ending with a checksum line:
 *
 *   ecom-commit 1
 *   epoch 42
 *   input kafka 3                      (or: input file; or: input kafka-partition 2 of 4)
 *   generation 3                       (the writer's lease generation; absent before leases)
 *   records 123456
 *   counters <ok page_view> <ok add> <ok remove> <ok purchase> <duplicates> <late> <rejected>
 *   blank <blank records>
 *   offset <topic 0..2> <partition> <next offset>      (kafka, one line each)
 *   file_offset <bytes>                                (file)
 *   ckpt <partition> <path>                            (the full checkpoint of its chain)
 *   ckpt_delta <path>                                  (the chain's delta files, in order)
 *   rename <hidden tmp path> <final path>
 *   sum <16 hex digits: hash64 of every byte before this line>
 *
 * `input kafka-partition P of N` is one partition's record in the scale-out layout
 * (_ecom/parts/p<NNNN>/<seq>.commit): its offset lines are partition P's only, its ckpt line
 * P's checkpoint, its renames the files holding only P's rows, its counters P's. A record
 * without a counters line (written before they existed) decodes with zero counters; one
 * without a blank line (written before it existed, when blank records were counted in records
 * and nowhere else) decodes with blank = records minus the other counters (0 if negative).
 * A second counters or blank line is corrupt.
 * A record without a generation line (before the writer lease, lease.c) decodes with generation 0.
 *
 * Text rather than binary so that an operator can read what a commit did; paths never contain
 * spaces (table, date and part names are [A-Za-z0-9._=-]).
 *
 * The commit point is a compare-and-swap on the record's number: a record is created whole and
 * exclusively (commit_record_put), and a writer that takes a lineage over first writes its
 * claim (commit_log_claim): the latest record again, one number up, under its generation. A
 * claim is an ordinary record (nothing new in it), so readers need not know about claims.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/pipeline_internal.h"
#include "storage/storage_internal.h"

/* ---- staging storage ---- */

struct staging {
    storage *base;
    storage *self;
    rename_pair *v;
    size_t n, cap;
};

static int st_create(void *ctx, const char *path, storage_file **out, char *err, size_t errlen) {
    staging *st = ctx;
    return storage_create(st->base, path, out, err, errlen);
}
static int st_write(storage_file *f, const void *p, size_t n, char *err, size_t errlen) {
    return storage_file_write(f, p, n, err, errlen);
}
static int st_close_file(storage_file *f, char *err, size_t errlen) { return storage_file_close(f, err, errlen); }
static void st_abort_file(storage_file *f) { storage_file_abort(f); }

/* The one operation that differs: a rename is recorded for the commit, not done. */
static int st_rename(void *ctx, const char *from, const char *to, char *err, size_t errlen) {
    staging *st = ctx;
    if (st->n == st->cap) {
        size_t cap = st->cap ? st->cap * 2 : 32;
        rename_pair *v = realloc(st->v, cap * sizeof *v);
        if (!v) goto oom;
        st->v = v;
        st->cap = cap;
    }
    char *a = strdup(from), *b = strdup(to);
    if (!a || !b) {
        free(a);
        free(b);
        goto oom;
    }
    st->v[st->n++] = (rename_pair){a, b};
    return 0;
oom:
    snprintf(err, errlen, "out of memory");
    return -1;
}
static int st_remove(void *ctx, const char *path, char *err, size_t errlen) {
    return storage_remove(((staging *)ctx)->base, path, err, errlen);
}
static int st_mkdirs(void *ctx, const char *path, char *err, size_t errlen) {
    return storage_mkdirs(((staging *)ctx)->base, path, err, errlen);
}
static int st_list(void *ctx, const char *dir, storage_list_t *out, char *err, size_t errlen) {
    return storage_list(((staging *)ctx)->base, dir, out, err, errlen);
}
static int st_stat(void *ctx, const char *path, storage_entry *out, bool *exists, char *err, size_t errlen) {
    return storage_stat(((staging *)ctx)->base, path, out, exists, err, errlen);
}
static int st_read(void *ctx, const char *path, uint64_t off, void *dst, size_t n, size_t *got, char *err,
                   size_t errlen) {
    return storage_read(((staging *)ctx)->base, path, off, dst, n, got, err, errlen);
}
static void st_destroy(void *ctx) { (void)ctx; /* the staging object owns itself */ }

static const storage_ops staging_ops = {
    .name = "staging",
    .create = st_create,
    .write = st_write,
    .close_file = st_close_file,
    .abort_file = st_abort_file,
    .rename = st_rename,
    .remove = st_remove,
    .mkdirs = st_mkdirs,
    .list = st_list,
    .stat = st_stat,
    .read = st_read,
    .destroy = st_destroy,
};

staging *staging_new(storage *base, storage **out, char *err, size_t errlen) {
    staging *st = calloc(1, sizeof *st);
    if (!st) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    st->base = base;
    st->self = storage_open_ops(&staging_ops, st, storage_root(base), err, errlen);
    if (!st->self) {
        free(st);
        return NULL;
    }
    *out = st->self;
    return st;
}

void staging_clear(staging *st) {
    for (size_t i = 0; i < st->n; i++) {
        free(st->v[i].from);
        free(st->v[i].to);
    }
    st->n = 0;
}

void staging_free(staging *st) {
    if (!st) return;
    staging_clear(st);
    free(st->v);
    storage_close(st->self);
    free(st);
}

size_t staging_count(const staging *st) { return st->n; }

void rename_pairs_free(rename_pair *v, size_t n) {
    for (size_t i = 0; i < n; i++) {
        free(v[i].from);
        free(v[i].to);
    }
    free(v);
}

/* Why a filter: in the scale-out layout each partition commits its own files, but rolled parts
 * of every partition are recorded into one staging list as they happen. */
int staging_take(staging *st, const char *prefix, rename_pair **out, size_t *n) {
    *out = NULL;
    *n = 0;
    size_t pl = strlen(prefix), k = 0, m = 0;
    for (size_t i = 0; i < st->n; i++) {
        const char *slash = strrchr(st->v[i].from, '/');
        const char *nm = slash ? slash + 1 : st->v[i].from;
        if (nm[0] == '.' && !strncmp(nm + 1, prefix, pl)) m++;
    }
    if (m == 0) return 0;
    rename_pair *v = malloc(m * sizeof *v);
    if (!v) return -1;
    for (size_t i = 0; i < st->n; i++) {
        const char *slash = strrchr(st->v[i].from, '/');
        const char *nm = slash ? slash + 1 : st->v[i].from;
        if (nm[0] == '.' && !strncmp(nm + 1, prefix, pl))
            v[(*n)++] = st->v[i];
        else
            st->v[k++] = st->v[i];
    }
    st->n = k;
    *out = v;
    return 0;
}
const rename_pair *staging_renames(const staging *st) { return st->v; }

int staging_move(staging *dst, staging *src) {
    for (size_t i = 0; i < src->n; i++) {
        if (dst->n == dst->cap) {
            size_t cap = dst->cap ? dst->cap * 2 : 32;
            rename_pair *v = realloc(dst->v, cap * sizeof *v);
            if (!v) return -1;
            dst->v = v;
            dst->cap = cap;
        }
        dst->v[dst->n++] = src->v[i];
    }
    src->n = 0;
    return 0;
}

/* ---- commit records ---- */

void commit_record_free(commit_record *r) {
    if (r->ckpt)
        for (int i = 0; i < r->nparts; i++) free(r->ckpt[i]);
    free(r->ckpt);
    for (size_t i = 0; i < r->n_deltas; i++) free(r->deltas[i]);
    free(r->deltas);
    free(r->offsets);
    for (size_t i = 0; i < r->n_renames; i++) {
        free(r->renames[i].from);
        free(r->renames[i].to);
    }
    free(r->renames);
    memset(r, 0, sizeof *r);
    r->epoch = -1;
    r->part = -1;
}

int commit_record_encode(const commit_record *r, buf_t *out) {
    size_t start = out->len;
    int rc = buf_printf(out, "ecom-commit 1\nepoch %" PRId64 "\n", r->epoch);
    if (r->kind == COMMIT_KAFKA)
        rc |= buf_printf(out, "input kafka %d\n", r->nparts);
    else if (r->kind == COMMIT_PARTITION)
        rc |= buf_printf(out, "input kafka-partition %d of %d\n", r->part, r->nparts);
    else
        rc |= buf_printf(out, "input file\n");
    if (r->generation > 0) rc |= buf_printf(out, "generation %" PRId64 "\n", r->generation);
    rc |= buf_printf(out, "records %" PRIu64 "\n", r->records);
    const commit_counts *c = &r->counts;
    rc |= buf_printf(out, "counters %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 "\n",
                     c->ok[0], c->ok[1], c->ok[2], c->ok[3], c->duplicates, c->late, c->rejected);
    rc |= buf_printf(out, "blank %" PRIu64 "\n", c->blank);
    if (r->kind != COMMIT_FILE) {
        for (int p = 0; p < r->nparts; p++)
            for (int t = 0; t < KAFKA_NTOPICS; t++)
                if ((r->kind == COMMIT_KAFKA || p == r->part) && r->offsets[p][t] >= 0)
                    rc |= buf_printf(out, "offset %d %d %" PRId64 "\n", t, p, r->offsets[p][t]);
    } else {
        rc |= buf_printf(out, "file_offset %" PRId64 "\n", r->file_offset);
    }
    for (int p = 0; p < r->nparts; p++)
        if (r->ckpt && r->ckpt[p] && (r->kind != COMMIT_PARTITION || p == r->part))
            rc |= buf_printf(out, "ckpt %d %s\n", p, r->ckpt[p]);
    for (size_t i = 0; i < r->n_deltas; i++) rc |= buf_printf(out, "ckpt_delta %s\n", r->deltas[i]);
    for (size_t i = 0; i < r->n_renames; i++)
        rc |= buf_printf(out, "rename %s %s\n", r->renames[i].from, r->renames[i].to);
    if (rc) return -1;
    uint64_t h = hash64(out->data + start, out->len - start);
    return buf_printf(out, "sum %016" PRIx64 "\n", h);
}

/* Splits the next line off [*p, end); returns its length or -1 at the end. */
static long next_line(const char **p, const char *end, const char **line) {
    if (*p >= end) return -1;
    const char *nl = memchr(*p, '\n', (size_t)(end - *p));
    if (!nl) return -1;
    *line = *p;
    long n = nl - *p;
    *p = nl + 1;
    return n;
}

static int grow_renames(commit_record *r, size_t *cap) {
    if (r->n_renames < *cap) return 0;
    size_t c = *cap ? *cap * 2 : 16;
    rename_pair *v = realloc(r->renames, c * sizeof *v);
    if (!v) return -1;
    r->renames = v;
    *cap = c;
    return 0;
}

/* Allocates the per-partition arrays of a Kafka record of n partitions. */
static int alloc_kafka(commit_record *r, int kind, int64_t n) {
    if (n < 1 || n > STREAM_MAX_PARTITIONS || r->offsets || r->ckpt) return -1;
    r->kind = kind;
    r->nparts = (int)n;
    r->offsets = malloc(sizeof *r->offsets * (size_t)n);
    r->ckpt = calloc((size_t)n, sizeof *r->ckpt);
    if (!r->offsets || !r->ckpt) return -1;
    for (int p = 0; p < r->nparts; p++) r->offsets[p][0] = r->offsets[p][1] = r->offsets[p][2] = -1;
    return 0;
}

/* Parses "counters a b c d e f g" into r. */
static int decode_counters(commit_record *r, const char *s) {
    uint64_t v[7];
    int n = 0;
    if (sscanf(s, "counters %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 "%n",
               &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &n) != 7 || s[n] || strchr(s, '-'))
        return -1;
    commit_counts *c = &r->counts;
    for (int i = 0; i < 4; i++) c->ok[i] = v[i];
    c->duplicates = v[4];
    c->late = v[5];
    c->rejected = v[6];
    return 0;
}

/* A record from before the blank line: its blank records were counted in records only. */
static void derive_blank(commit_record *r) {
    const commit_counts *c = &r->counts;
    uint64_t other = c->ok[0] + c->ok[1] + c->ok[2] + c->ok[3] + c->duplicates + c->late + c->rejected;
    r->counts.blank = r->records > other ? r->records - other : 0;
}

/* True when partition p may appear in r's offset and ckpt lines. */
static bool part_ok(const commit_record *r, int64_t p) {
    return p >= 0 && p < r->nparts && (r->kind != COMMIT_PARTITION || p == r->part);
}

/* Parses one line after the header into r. 0 or -1. */
/* Lines that may appear at most once (the others are checked by their contents). */
typedef struct {
    int counters, blank;
} seen_lines;

static int decode_line(commit_record *r, const char *s, size_t *cap, seen_lines *seen) {
    char a[1024], b[1024];
    int64_t x, y, z;
    int n = 0;
    if (sscanf(s, "epoch %" SCNd64 "%n", &x, &n) == 1 && !s[n]) {
        r->epoch = x;
    } else if (sscanf(s, "input kafka %" SCNd64 "%n", &x, &n) == 1 && !s[n]) {
        return alloc_kafka(r, COMMIT_KAFKA, x);
    } else if (sscanf(s, "input kafka-partition %" SCNd64 " of %" SCNd64 "%n", &x, &y, &n) == 2 && !s[n]) {
        if (x < 0 || x >= y) return -1;
        r->part = (int)x;
        return alloc_kafka(r, COMMIT_PARTITION, y);
    } else if (!strncmp(s, "counters ", 9)) {
        if (seen->counters++) return -1;
        return decode_counters(r, s);
    } else if (sscanf(s, "blank %" SCNd64 "%n", &x, &n) == 1 && !s[n] && x >= 0 && !strchr(s, '-')) {
        if (seen->blank++) return -1;
        r->counts.blank = (uint64_t)x;
    } else if (!strcmp(s, "input file")) {
        if (r->ckpt) return -1;
        r->kind = COMMIT_FILE;
        r->nparts = 1;
        r->ckpt = calloc(1, sizeof *r->ckpt);
        if (!r->ckpt) return -1;
    } else if (sscanf(s, "generation %" SCNd64 "%n", &x, &n) == 1 && !s[n] && x > 0 && !r->generation) {
        r->generation = x;
    } else if (sscanf(s, "records %" SCNd64 "%n", &x, &n) == 1 && !s[n] && x >= 0) {
        r->records = (uint64_t)x;
    } else if (sscanf(s, "offset %" SCNd64 " %" SCNd64 " %" SCNd64 "%n", &x, &y, &z, &n) == 3 && !s[n]) {
        if (!r->offsets || x < 0 || x >= KAFKA_NTOPICS || !part_ok(r, y) || z < 0) return -1;
        r->offsets[y][x] = z;
    } else if (sscanf(s, "file_offset %" SCNd64 "%n", &x, &n) == 1 && !s[n] && x >= 0) {
        r->file_offset = x;
    } else if (sscanf(s, "ckpt %" SCNd64 " %1023s%n", &x, a, &n) == 2 && !s[n]) {
        if (!r->ckpt || !part_ok(r, x) || r->ckpt[x]) return -1;
        if (!(r->ckpt[x] = strdup(a))) return -1;
    } else if (sscanf(s, "ckpt_delta %1023s%n", a, &n) == 1 && !s[n]) {
        char **v = realloc(r->deltas, (r->n_deltas + 1) * sizeof *v);
        if (!v) return -1;
        r->deltas = v;
        if (!(r->deltas[r->n_deltas] = strdup(a))) return -1;
        r->n_deltas++;
    } else if (sscanf(s, "rename %1023s %1023s%n", a, b, &n) == 2 && !s[n]) {
        if (grow_renames(r, cap)) return -1;
        char *f = strdup(a), *t = strdup(b);
        if (!f || !t) {
            free(f);
            free(t);
            return -1;
        }
        r->renames[r->n_renames++] = (rename_pair){f, t};
    } else {
        return -1;
    }
    return 0;
}

int commit_record_decode(const char *p, size_t n, commit_record *r, char *err, size_t errlen) {
    memset(r, 0, sizeof *r);
    r->epoch = -1;
    r->part = -1;
    const char *cur = p, *end = p + n, *line;
    long len;
    size_t cap = 0;
    seen_lines seen = {0, 0};
    char tmp[2100];
    if ((len = next_line(&cur, end, &line)) < 0 || len != 13 || memcmp(line, "ecom-commit 1", 13))
        goto bad;
    for (;;) {
        const char *before = cur;
        if ((len = next_line(&cur, end, &line)) < 0 || len >= (long)sizeof tmp) goto bad;
        memcpy(tmp, line, (size_t)len);
        tmp[len] = '\0';
        if (!strncmp(tmp, "sum ", 4)) {
            uint64_t want = strtoull(tmp + 4, NULL, 16);
            if (len != 20 || hash64(p, (size_t)(before - p)) != want || cur != end) goto bad;
            break;
        }
        if (decode_line(r, tmp, &cap, &seen)) goto bad;
    }
    if (r->epoch < 0 || !r->ckpt) goto bad;
    if (seen.counters && !seen.blank) derive_blank(r);
    return 0;
bad:
    commit_record_free(r);
    snprintf(err, errlen, "corrupt commit record");
    return -1;
}

/* Commit record names are 20-digit epoch numbers, so the newest sorts last. */
static int read_latest_in(storage *s, const char *dir, commit_record *r, char *err, size_t errlen) {
    memset(r, 0, sizeof *r);
    r->epoch = -1;
    r->part = -1;
    storage_list_t l = {0};
    if (storage_list(s, dir, &l, err, errlen)) return -1;
    const char *best = NULL;
    for (size_t i = 0; i < l.n; i++) {
        const char *nm = l.entries[i].name;
        if (l.entries[i].is_dir || strlen(nm) != 27 || strcmp(nm + 20, ".commit")) continue;
        if (!best || strcmp(nm, best) > 0) best = nm;
    }
    int rc = 0;
    if (best) {
        char path[256];
        snprintf(path, sizeof path, "%s/%s", dir, best);
        bool exists = false;
        char *txt = NULL;
        size_t got = 0;
        rc = storage_get_all(s, path, 64u << 20, &txt, &got, &exists, err, errlen);
        if (!rc && !exists) {
            snprintf(err, errlen, "commit record %s unreadable", path);
            rc = -1;
        }
        if (!rc && commit_record_decode(txt, got, r, err, errlen)) {
            char tmp[256];
            snprintf(tmp, sizeof tmp, "%s", err);
            snprintf(err, errlen, "%s: %s (refusing to guess: inspect or remove ROOT/%s)", path, tmp, dir);
            rc = COMMIT_REFUSED;
        }
        free(txt);
    }
    storage_list_free(&l);
    return rc;
}

int commit_log_read_latest(storage *s, commit_record *r, char *err, size_t errlen) {
    return read_latest_in(s, COMMIT_DIR, r, err, errlen);
}

/* ---- the commit point: one record per number, whoever writes it first ---- */

static void lineage_dir(int part, char *out, size_t n) {
    if (part < 0)
        snprintf(out, n, "%s", COMMIT_DIR);
    else
        part_dir(part, out, n);
}

void commit_record_path(int part, int64_t seq, char *out, size_t n) {
    char dir[64];
    lineage_dir(part, dir, sizeof dir);
    snprintf(out, n, "%s/%020" PRId64 ".commit", dir, seq);
}

/* The highest record number in lineage part's directory (-1: none). */
static int newest_number(storage *s, int part, int64_t *seq, char *err, size_t errlen) {
    char dir[64];
    storage_list_t l = {0};
    lineage_dir(part, dir, sizeof dir);
    *seq = -1;
    if (storage_list(s, dir, &l, err, errlen)) return -1;
    for (size_t i = 0; i < l.n; i++) {
        const char *nm = l.entries[i].name;
        char *end;
        if (l.entries[i].is_dir || strlen(nm) != 27 || strcmp(nm + 20, ".commit")) continue;
        int64_t q = strtoll(nm, &end, 10);
        if (end == nm + 20 && q > *seq) *seq = q;
    }
    storage_list_free(&l);
    return 0;
}

/* Why a look after the put: the number may be free only because the successor's compaction
 * deleted it (the successor claimed it and committed past it). A record above ours means that:
 * ours is withdrawn (no reader takes it, the newest wins; deleted at once anyway) and refused. */
static int record_stale(storage *s, int part, const commit_record *r, const char *path, char *err,
                        size_t errlen) {
    int64_t top;
    if (newest_number(s, part, &top, err, errlen)) return -1;
    if (top <= r->epoch) return 0;
    char e2[256];
    storage_remove(s, path, e2, sizeof e2);
    snprintf(err, errlen, "fenced: ROOT/%s is behind record %" PRId64 " of a newer writer; this instance's "
             "lease (generation %" PRId64 ") was taken over: it stops writing", path, top, r->generation);
    return LEASE_FENCED;
}

/* path was taken when put: 0 if it holds exactly want (an earlier attempt of ours whose answer
 * was lost), else LEASE_FENCED naming the generation of the writer that has it. */
static int record_taken(storage *s, const char *path, const buf_t *want, char *err, size_t errlen) {
    char *txt = NULL, e2[64];
    size_t n = 0;
    bool exists = false;
    if (storage_get_all(s, path, 64u << 20, &txt, &n, &exists, err, errlen)) return -1;
    bool same = exists && n == want->len && !memcmp(txt, want->data, n);
    commit_record o;
    int64_t gen = -1;
    if (!same && exists && commit_record_decode(txt, n, &o, e2, sizeof e2) == 0) {
        gen = o.generation;
        commit_record_free(&o);
    }
    free(txt);
    if (same) return 0;
    snprintf(err, errlen, "fenced: ROOT/%s was committed by another writer (lease generation %" PRId64
             "); this instance's lease was taken over: it stops writing", path, gen);
    return LEASE_FENCED;
}

int commit_record_put(storage *s, int part, const commit_record *r, char *err, size_t errlen) {
    buf_t b = {0};
    char path[128];
    commit_record_path(part, r->epoch, path, sizeof path);
    int rc = commit_record_encode(r, &b);
    if (rc) snprintf(err, errlen, "out of memory");
    if (rc == 0) rc = storage_put_if_absent(s, path, b.data, b.len, err, errlen);
    if (rc == 1) rc = record_taken(s, path, &b, err, errlen);
    if (rc == 0) rc = record_stale(s, part, r, path, err, errlen);
    buf_free(&b);
    return rc;
}

/* The latest record of lineage part (the single layout's log for part < 0). */
static int lineage_read_latest(storage *s, int part, commit_record *r, char *err, size_t errlen) {
    return part < 0 ? commit_log_read_latest(s, r, err, errlen) : part_log_read_latest(s, part, r, err, errlen);
}

/* Makes r (no record: epoch -1) a first record of its lineage: no offsets, no checkpoint. */
static int empty_record(commit_record *r, int kind, int nparts, int part) {
    if (kind == COMMIT_FILE) {
        r->kind = COMMIT_FILE;
        r->nparts = 1;
        return (r->ckpt = calloc(1, sizeof *r->ckpt)) ? 0 : -1;
    }
    r->part = kind == COMMIT_PARTITION ? part : -1;
    return alloc_kafka(r, kind, nparts);
}

int commit_log_claim(storage *s, int part, commit_record *r, int kind, int nparts, int64_t gen, char *err,
                     size_t errlen) {
    for (int i = 0; i < 4; i++) {
        if (r->generation == gen) return 0; /* claimed already (a retried recovery) */
        if (r->generation > gen) {
            snprintf(err, errlen, "fenced: the lineage's latest record is of lease generation %" PRId64
                     ", newer than this instance's %" PRId64 ": it stops writing", r->generation, gen);
            return LEASE_FENCED;
        }
        if (r->epoch < 0 && empty_record(r, kind, nparts, part)) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        r->epoch++;
        int64_t old = r->generation;
        r->generation = gen;
        int rc = commit_record_put(s, part, r, err, errlen);
        if (rc != LEASE_FENCED) return rc;
        r->generation = old;
        /* The number was taken by a writer that passed its lease check just before ours: read
         * what it committed and claim the next one (it cannot commit another). */
        commit_record_free(r);
        if ((rc = lineage_read_latest(s, part, r, err, errlen))) return rc;
    }
    snprintf(err, errlen, "lost the race for the next commit record four times in a row");
    return -1;
}

static bool is_debris(const char *name) {
    size_t n = strlen(name);
    return !strncmp(name, ".part-", 6) && n > 4 && !strcmp(name + n - 4, ".tmp");
}

static bool named_in(const commit_record *r, const char *path) {
    for (size_t i = 0; i < r->n_renames; i++)
        if (!strcmp(r->renames[i].from, path)) return true;
    return false;
}

/* Which hidden files a sweep deletes: every uncommitted part (single-instance log), or only
 * those of some partitions (scale-out: other partitions may be mid-epoch in another instance). */
typedef struct {
    const commit_record *r;        /* files it names are kept (NULL: none) */
    const int *parts;              /* NULL: any part file; else only these partitions' */
    int nparts;
} sweep_filter;

static bool sweep_wants(const sweep_filter *f, const char *name, const char *path) {
    if (!is_debris(name) || (f->r && named_in(f->r, path))) return false;
    if (!f->parts) return true;
    for (int i = 0; i < f->nparts; i++) {
        char pre[64];
        lake_part_prefix(f->parts[i], pre, sizeof pre);
        if (!strncmp(name + 1, pre, strlen(pre))) return true;
    }
    return false;
}

/* Walks dir (depth-limited: table/date=D/file) deleting uncommitted part files. */
static int sweep_dir(storage *s, const sweep_filter *f, const char *dir, int depth, char *err, size_t errlen) {
    storage_list_t l = {0};
    if (storage_list(s, dir, &l, err, errlen)) return -1;
    int rc = 0;
    for (size_t i = 0; i < l.n && !rc; i++) {
        const char *nm = l.entries[i].name;
        char path[1024];
        snprintf(path, sizeof path, "%s%s%s", dir, *dir ? "/" : "", nm);
        if (l.entries[i].is_dir) {
            if (depth < 2 && strcmp(nm, "_ecom")) rc = sweep_dir(s, f, path, depth + 1, err, errlen);
        } else if (sweep_wants(f, nm, path)) {
            rc = storage_remove(s, path, err, errlen);
        }
    }
    storage_list_free(&l);
    return rc;
}

int root_sweep_unpublished(storage *s, char *err, size_t errlen) {
    sweep_filter f = {NULL, NULL, 0};
    for (int t = 0; t < LAKE_RAW_COUNT; t++)
        if (sweep_dir(s, &f, lake_raw_name((lake_raw)t), 1, err, errlen)) return -1;
    return 0;
}

int root_raw_parts(storage *s, bool *found, char *first, size_t n, char *err, size_t errlen) {
    *found = false;
    for (int t = 0; t < LAKE_RAW_COUNT && !*found; t++) {
        char **paths = NULL;
        size_t np = 0;
        if (lake_list_files(s, lake_raw_name((lake_raw)t), NULL, &paths, &np, err, errlen)) return -1;
        if (np) {
            *found = true;
            snprintf(first, n, "%s", paths[0]);
        }
        lake_paths_free(paths, np);
    }
    return 0;
}

int root_stream_state(storage *s, root_stream_kind *kind, char *what, size_t n, char *err, size_t errlen) {
    storage_entry e;
    bool exists = false;
    *kind = ROOT_STREAM_NONE;
    what[0] = 0;
    if (storage_stat(s, LAYOUT_PATH, &e, &exists, err, errlen)) return -1;
    if (exists) {
        *kind = ROOT_STREAM_SCALE_OUT;
        snprintf(what, n, "a scale-out ecom stream writes it (ROOT/%s)", LAYOUT_PATH);
        return 0;
    }
    commit_record r;
    if (commit_log_read_latest(s, &r, err, errlen)) return -1;
    if (r.epoch >= 0) {
        *kind = ROOT_STREAM_SINGLE;
        snprintf(what, n, "ecom stream wrote it (its commit log ROOT/%s holds record %" PRId64 ", lease generation %"
                 PRId64 ")", COMMIT_DIR, r.epoch, r.generation);
    }
    commit_record_free(&r);
    return 0;
}

/* The newest "<20 digits>.commit" of dir (no entry: out->path stays NULL). */
static int tip_in(storage *s, const char *dir, root_commit_tip *out, char *err, size_t errlen) {
    storage_list_t l = {0};
    if (storage_list(s, dir, &l, err, errlen)) return -1;
    const storage_entry *best = NULL;
    for (size_t i = 0; i < l.n; i++) {
        const char *nm = l.entries[i].name;
        if (l.entries[i].is_dir || strlen(nm) != 27 || strcmp(nm + 20, ".commit")) continue;
        if (!best || strcmp(nm, best->name) > 0) best = &l.entries[i];
    }
    int rc = 0;
    if (best) {
        size_t k = strlen(dir) + 29;
        if ((out->path = malloc(k))) {
            snprintf(out->path, k, "%s/%s", dir, best->name);
            out->size = best->size;
            out->mtime_us = best->mtime_us;
        } else {
            snprintf(err, errlen, "out of memory");
            rc = -1;
        }
    }
    storage_list_free(&l);
    return rc;
}

static int tips_push(root_commit_tip **v, size_t *n, root_commit_tip t) {
    root_commit_tip *nv = realloc(*v, (*n + 1) * sizeof *nv);
    if (!nv) return -1;
    *v = nv;
    nv[(*n)++] = t;
    return 0;
}

static int cmp_tips(const void *a, const void *b) {
    return strcmp(((const root_commit_tip *)a)->path, ((const root_commit_tip *)b)->path);
}

void root_commit_tips_free(root_commit_tip *tips, size_t n) {
    for (size_t i = 0; i < n; i++) free(tips[i].path);
    free(tips);
}

int root_commit_tips(storage *s, root_commit_tip **tips, size_t *n, char *err, size_t errlen) {
    *tips = NULL;
    *n = 0;
    root_commit_tip t = {0};
    int rc = tip_in(s, COMMIT_DIR, &t, err, errlen);
    if (rc == 0 && t.path && tips_push(tips, n, t)) rc = -2;
    storage_list_t l = {0};
    if (rc == 0) rc = storage_list(s, PARTS_DIR, &l, err, errlen);
    for (size_t i = 0; rc == 0 && i < l.n; i++) {
        const char *nm = l.entries[i].name;
        if (!l.entries[i].is_dir || nm[0] != 'p' || strlen(nm) != 5 || strspn(nm + 1, "0123456789") != 4) continue;
        char dir[64];
        snprintf(dir, sizeof dir, "%s/%s", PARTS_DIR, nm);
        t = (root_commit_tip){0};
        rc = tip_in(s, dir, &t, err, errlen);
        if (rc == 0 && t.path && tips_push(tips, n, t)) rc = -2;
    }
    storage_list_free(&l);
    if (rc == -2) {
        free(t.path);
        snprintf(err, errlen, "out of memory");
    }
    if (rc) {
        root_commit_tips_free(*tips, *n);
        *tips = NULL;
        *n = 0;
        return -1;
    }
    if (*n > 1) qsort(*tips, *n, sizeof **tips, cmp_tips);
    return 0;
}

int root_commit_files(storage *s, const char *path, char ***from, char ***to, size_t *n, char *err,
                      size_t errlen) {
    *from = *to = NULL;
    *n = 0;
    char *txt = NULL, e2[256];
    size_t got = 0;
    bool exists = false;
    if (storage_get_all(s, path, 64u << 20, &txt, &got, &exists, err, errlen)) return -1;
    if (!exists) return 1;
    commit_record r;
    int rc = commit_record_decode(txt, got, &r, e2, sizeof e2);
    free(txt);
    if (rc) {
        snprintf(err, errlen, "ROOT/%s: %s", path, e2);
        return -1;
    }
    char **f = calloc(r.n_renames + 1, sizeof *f), **t = calloc(r.n_renames + 1, sizeof *t);
    if (f && t) {
        for (size_t i = 0; i < r.n_renames; i++) {   /* moved out of the record */
            f[i] = r.renames[i].from;
            t[i] = r.renames[i].to;
            r.renames[i].from = r.renames[i].to = NULL;
        }
        *n = r.n_renames;
        *from = f;
        *to = t;
    } else {
        free(f);
        free(t);
        snprintf(err, errlen, "out of memory");
        rc = -1;
    }
    commit_record_free(&r);
    return rc;
}

/* Redoes a record's renames: each file is either still hidden (rename it) or already in place. */
static int redo_renames(storage *s, const commit_record *r, char *err, size_t errlen) {
    for (size_t i = 0; i < r->n_renames; i++) {
        bool exists = false;
        storage_entry e;
        if (storage_stat(s, r->renames[i].from, &e, &exists, err, errlen)) return -1;
        if (exists) {
            if (storage_rename(s, r->renames[i].from, r->renames[i].to, err, errlen)) return -1;
            continue;
        }
        if (storage_stat(s, r->renames[i].to, &e, &exists, err, errlen)) return -1;
        if (!exists) {
            snprintf(err, errlen, "committed file %s is missing (and so is %s)", r->renames[i].to,
                     r->renames[i].from);
            return -1;
        }
    }
    return 0;
}

int commit_log_recover_files(storage *s, const commit_record *r, char *err, size_t errlen) {
    if (redo_renames(s, r, err, errlen)) return -1;
    sweep_filter f = {r, NULL, 0};
    return sweep_dir(s, &f, "", 0, err, errlen);
}

/* Deletes entries of dir whose epoch number is below keep: records, checkpoints, and the
 * temporary files ('.' + name + ".tmp") of writers killed while writing one (their names carry
 * the writer's lease generation, so no later write of the same epoch replaces them). */
static bool names_ckpt(const commit_record *r, const char *path) {
    for (int p = 0; r && r->ckpt && p < r->nparts; p++)
        if (r->ckpt[p] && !strcmp(r->ckpt[p], path)) return true;
    for (size_t i = 0; r && i < r->n_deltas; i++)
        if (!strcmp(r->deltas[i], path)) return true;
    return false;
}

/* Below keep, the files r names (its checkpoint chain) are kept. */
static int compact_dir(storage *s, const char *dir, int64_t keep, const commit_record *r, char *err,
                       size_t errlen) {
    storage_list_t l = {0};
    if (storage_list(s, dir, &l, err, errlen)) return -1;
    int rc = 0;
    for (size_t i = 0; i < l.n && !rc; i++) {
        const char *nm = l.entries[i].name, *num = nm + (nm[0] == '.');
        char *end;
        num += num[0] == 'e';
        int64_t ep = strtoll(num, &end, 10);
        if (end == num || ep >= keep || l.entries[i].is_dir) continue;
        char path[512];
        snprintf(path, sizeof path, "%s/%s", dir, nm);
        if (!names_ckpt(r, path)) rc = storage_remove(s, path, err, errlen);
    }
    storage_list_free(&l);
    return rc;
}

int commit_log_compact(storage *s, int64_t keep_epoch, char *err, size_t errlen) {
    if (compact_dir(s, COMMIT_DIR, keep_epoch, NULL, err, errlen)) return -1;
    return compact_dir(s, STATE_DIR, keep_epoch, NULL, err, errlen);
}

int commit_log_compact_keep(storage *s, int part, const commit_record *r, char *err, size_t errlen) {
    if (part >= 0) {
        char dir[64];
        part_dir(part, dir, sizeof dir);
        return compact_dir(s, dir, r->epoch, r, err, errlen);
    }
    if (compact_dir(s, COMMIT_DIR, r->epoch, NULL, err, errlen)) return -1;
    return compact_dir(s, STATE_DIR, r->epoch, r, err, errlen);
}

/* ---- scale-out: one lineage per partition ---- */

void part_dir(int part, char *out, size_t n) { snprintf(out, n, "%s/p%04d", PARTS_DIR, part); }

int part_log_read_latest(storage *s, int part, commit_record *r, char *err, size_t errlen) {
    char dir[64];
    part_dir(part, dir, sizeof dir);
    if (read_latest_in(s, dir, r, err, errlen)) return -1;
    if (r->epoch >= 0 && (r->kind != COMMIT_PARTITION || r->part != part)) {
        snprintf(err, errlen, "%s holds a record of another partition (refusing to guess)", dir);
        commit_record_free(r);
        return -1;
    }
    return 0;
}

int part_log_recover_files(storage *s, const commit_record *r, char *err, size_t errlen) {
    return redo_renames(s, r, err, errlen);
}

int part_log_sweep(storage *s, const int *parts, int n, char *err, size_t errlen) {
    if (n == 0) return 0;
    sweep_filter f = {NULL, parts, n};
    return sweep_dir(s, &f, "", 0, err, errlen);
}

int part_log_compact(storage *s, int part, int64_t keep_seq, char *err, size_t errlen) {
    char dir[64];
    part_dir(part, dir, sizeof dir);
    return compact_dir(s, dir, keep_seq, NULL, err, errlen);
}

/* The layout file is written once, by the first scale-out start; the single-instance log
 * (_ecom/commits) never writes it, so its absence plus a record in _ecom/commits means
 * "single instance" and an existing ROOT keeps working unchanged. */
int layout_check(storage *s, bool scale_out, int nparts, char *err, size_t errlen) {
    bool exists = false;
    char *txt = NULL;
    size_t got = 0;
    if (storage_get_all(s, LAYOUT_PATH, 127, &txt, &got, &exists, err, errlen)) return -1;
    if (exists) {
        long long n = -1;
        int used = 0;
        int ok = sscanf(txt, "ecom-layout 1\nscale-out %lld\n%n", &n, &used) == 1 && (size_t)used == got;
        free(txt);
        if (!ok) {
            snprintf(err, errlen, "ROOT/%s is corrupt (refusing to guess)", LAYOUT_PATH);
            return COMMIT_REFUSED;
        }
        if (!scale_out) {
            snprintf(err, errlen,
                     "ROOT holds the scale-out layout (per-partition commits, partial metric tables): "
                     "run with --scale-out, or use another --out");
            return COMMIT_REFUSED;
        }
        if (n != nparts) {
            snprintf(err, errlen, "ROOT was written from topics with %lld partitions, they have %d now", n, nparts);
            return COMMIT_REFUSED;
        }
        return 0;
    }
    if (!scale_out) return 0;
    commit_record r;
    int rc = commit_log_read_latest(s, &r, err, errlen);
    if (rc) return rc;
    bool merged = r.epoch >= 0;
    commit_record_free(&r);
    if (merged) {
        snprintf(err, errlen,
                 "ROOT holds a single-instance commit log (merged metric tables): run without --scale-out, "
                 "or use another --out");
        return COMMIT_REFUSED;
    }
    char line[64];
    int n = snprintf(line, sizeof line, "ecom-layout 1\nscale-out %d\n", nparts);
    if (storage_put_atomic(s, LAYOUT_PATH, line, (size_t)n, err, errlen) == 0) return 0;
    /* Instances started together race to write it through the same temporary name, so the
     * loser's rename can fail: then the winner's file, if it says the same, is the answer. */
    char e2[256];
    exists = false;
    if (storage_get_all(s, LAYOUT_PATH, 127, &txt, &got, &exists, e2, sizeof e2) == 0 && exists) {
        bool same = got == (size_t)n && !memcmp(txt, line, got);
        free(txt);
        if (same) return 0;
        return layout_check(s, scale_out, nparts, err, errlen); /* names the difference */
    }
    return -1;
}
