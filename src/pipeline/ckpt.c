/*
 * pipeline/ckpt.c — the engine checkpoints of a commit lineage as a chain: a full checkpoint
 * per partition, then one delta file per commit holding each partition's delta piece (the
 * state changed in that epoch; src/stream/stream.h). Contract in pipeline_internal.h.
 *
 * Files (the record names them: `ckpt <p> <path>` for the fulls, `ckpt_delta <path>` for the
 * deltas in order):
 *   single layout  _ecom/state/e<epoch>-g<gen>-p<P>.ckpt   full, one per partition
 *                  _ecom/state/e<epoch>-g<gen>.delta       every partition's delta of the epoch
 *   scale-out      _ecom/parts/p<NNNN>/<seq>-g<gen>.ckpt   full
 *                  _ecom/parts/p<NNNN>/<seq>-g<gen>.delta  the partition's delta of that seq
 * Why a delta file per epoch rather than per partition: one storage write per commit whatever
 * the partition count (on HDFS a file costs a NameNode round trip or two).
 *
 * Why the policy in want_full: a full costs the whole state, a delta the epoch's changes. A new
 * full is written once the deltas since the last one add up to the size a full would have now
 * (estimated from the last full's bytes, scaled by the state's weight then and now:
 * stream_engine_checkpoint_weight), so recovery reads the last full and deltas adding up to
 * less than a full of the state now plus one epoch's delta, at most ckpt_max_deltas of them
 * (about twice the state when it is steady, the state itself while it grows). Comparing
 * with the last full's own size instead (the first rule) wrote fulls at doubling sizes while
 * the state grows (a backfill): there the deltas hold the state itself, once, and fulls were
 * half of the checkpoint's cost.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pipeline/pipeline_internal.h"

void ckpt_chain_free(ckpt_chain *c) {
    for (int i = 0; c->full && i < c->nfull; i++) free(c->full[i]);
    free(c->full);
    for (size_t i = 0; i < c->n_deltas; i++) free(c->deltas[i]);
    free(c->deltas);
    memset(c, 0, sizeof *c);
}

/* Where lineage part (< 0: the single layout) keeps partition p's full checkpoint (delta:
 * the lineage's delta file) of record seq written under lease generation gen (in the name: a
 * fenced writer of the same seq cannot overwrite the file its successor's record names). */
static void ckpt_path(int part, int p, int64_t seq, int64_t gen, bool delta, char *out, size_t n) {
    char dir[64];
    if (part < 0) {
        if (delta)
            snprintf(out, n, "%s/e%012" PRId64 "-g%" PRId64 ".delta", STATE_DIR, seq, gen);
        else
            snprintf(out, n, "%s/e%012" PRId64 "-g%" PRId64 "-p%d.ckpt", STATE_DIR, seq, gen, p);
        return;
    }
    part_dir(part, dir, sizeof dir);
    snprintf(out, n, "%s/%020" PRId64 "-g%" PRId64 ".%s", dir, seq, gen, delta ? "delta" : "ckpt");
}

/* Whether partition p belongs to record r's checkpoints: r's partition, or (single layout) any
 * assigned one. Its index in the chain's full[] goes to *ix. */
static bool covers(pipeline_job *j, const commit_record *r, int p, int *ix) {
    *ix = r->part >= 0 ? 0 : p;
    if (r->part >= 0) return p == r->part;
    return stream_engine_partition_assigned(j->engine, p);
}

static char *dup_or_null(const char *s, bool *oom) {
    char *d = s ? strdup(s) : NULL;
    if (s && !d) *oom = true;
    return d;
}

/* next = cur's paths (deltas: plus room for one more). */
static int chain_copy(const ckpt_chain *cur, int nfull, ckpt_chain *next) {
    bool oom = false;
    next->nfull = nfull;
    next->full = calloc((size_t)nfull, sizeof *next->full);
    next->deltas = calloc(cur->n_deltas + 1, sizeof *next->deltas);
    if (!next->full || !next->deltas) return -1;
    for (int i = 0; cur->full && i < nfull && i < cur->nfull; i++) next->full[i] = dup_or_null(cur->full[i], &oom);
    for (size_t i = 0; i < cur->n_deltas; i++) next->deltas[next->n_deltas++] = dup_or_null(cur->deltas[i], &oom);
    next->full_bytes = cur->full_bytes;
    next->full_weight = cur->full_weight;
    next->delta_bytes = cur->delta_bytes;
    return oom ? -1 : 0;
}

/* Full checkpoints of every covered partition; next gets their paths and no deltas. */
static int write_fulls(pipeline_job *j, commit_record *r, ckpt_chain *next) {
    buf_t *b = &j->ckpt_buf;
    int rc = 0;
    for (size_t i = 0; i < next->n_deltas; i++) free(next->deltas[i]);
    next->n_deltas = 0;
    next->full_bytes = next->delta_bytes = next->full_weight = 0;
    for (int p = 0, ix; p < j->nparts && rc == 0; p++) {
        if (!covers(j, r, p, &ix)) continue;
        next->full_weight += stream_engine_checkpoint_weight(j->engine, p);
        char path[128];
        ckpt_path(r->part, p, r->epoch, r->generation, false, path, sizeof path);
        buf_reset(b);
        rc = stream_engine_checkpoint_full(j->engine, p, b, j->err, sizeof j->err);
        if (rc == 0) rc = storage_put_atomic(j->base, path, b->data, b->len, j->err, sizeof j->err);
        free(next->full[ix]);
        next->full[ix] = rc == 0 ? strdup(path) : NULL; /* a failed write names nothing */
        if (rc == 0 && !next->full[ix]) rc = -1;
        next->full_bytes += b->len;
    }
    buf_free(b); /* kept for the deltas, of an epoch's size, not for a full of the state */
    return rc;
}

/* One delta file holding every covered partition's delta piece; next gets it appended. */
static int write_delta(pipeline_job *j, commit_record *r, ckpt_chain *next) {
    buf_t *b = &j->ckpt_buf;
    int rc = 0;
    buf_reset(b);
    for (int p = 0, ix; p < j->nparts && rc == 0; p++)
        if (covers(j, r, p, &ix)) rc = stream_engine_checkpoint_delta(j->engine, p, b, j->err, sizeof j->err);
    char path[128];
    ckpt_path(r->part, 0, r->epoch, r->generation, true, path, sizeof path);
    if (rc == 0) rc = storage_put_atomic(j->base, path, b->data, b->len, j->err, sizeof j->err);
    if (rc == 0 && !(next->deltas[next->n_deltas] = strdup(path))) rc = -1;
    if (rc == 0) next->n_deltas++;
    next->delta_bytes += b->len;
    return rc;
}

/* The bytes full checkpoints of the covered partitions would take now: the last fulls' bytes
 * scaled by the state's weight now over its weight then (after a restore, until the next full,
 * the weight now: ckpt_restore sets full_weight = full_bytes). */
static uint64_t full_bytes_now(pipeline_job *j, const commit_record *r, const ckpt_chain *cur) {
    if (!cur->full_weight) return cur->full_bytes;
    uint64_t w = 0;
    for (int p = 0, ix; p < j->nparts; p++)
        if (covers(j, r, p, &ix)) w += stream_engine_checkpoint_weight(j->engine, p);
    return (uint64_t)((double)cur->full_bytes * (double)w / (double)cur->full_weight);
}

/* A full when a covered partition has none in the chain yet, or by the policy (file header). */
static bool want_full(pipeline_job *j, const commit_record *r, const ckpt_chain *cur) {
    for (int p = 0, ix; p < j->nparts; p++)
        if (covers(j, r, p, &ix) && (!cur->full || ix >= cur->nfull || !cur->full[ix])) return true;
    return cur->n_deltas >= (uint64_t)j->cfg->ckpt_max_deltas || cur->delta_bytes >= full_bytes_now(j, r, cur);
}

/* CPU time of the calling thread (the one serialising the engine), in µs. */
static int64_t thread_cpu_us(void) {
    struct timespec ts;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)) return 0;
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int ckpt_write(pipeline_job *j, commit_record *r, const ckpt_chain *cur, ckpt_chain *next) {
    int nfull = r->part >= 0 ? 1 : j->nparts;
    int64_t t0 = thread_cpu_us();
    int rc = chain_copy(cur, nfull, next);
    bool full = rc == 0 && want_full(j, r, cur);
    if (rc == 0) rc = full ? write_fulls(j, r, next) : write_delta(j, r, next);
    if (rc == 0 && full) {
        j->stats.ckpt_full++;
        j->stats.ckpt_full_bytes += next->full_bytes;
    } else if (rc == 0) {
        j->stats.ckpt_deltas++;
        j->stats.ckpt_delta_bytes += next->delta_bytes - cur->delta_bytes;
    }
    j->stats.ckpt_cpu_us += (uint64_t)(thread_cpu_us() - t0);
    bool oom = rc == 0 && next->n_deltas && !(r->deltas = calloc(next->n_deltas, sizeof *r->deltas));
    for (int p = 0, ix; rc == 0 && !oom && p < j->nparts; p++)
        if (covers(j, r, p, &ix)) r->ckpt[p] = dup_or_null(next->full[ix], &oom);
    for (size_t i = 0; rc == 0 && !oom && i < next->n_deltas; i++)
        r->deltas[r->n_deltas++] = dup_or_null(next->deltas[i], &oom);
    if (oom || (rc && !j->err[0])) snprintf(j->err, sizeof j->err, "out of memory");
    return rc || oom ? -1 : 0;
}

/* ---- restore ---- */

/* Why a bound at all: a checkpoint is read whole into memory; a size beyond this is corruption. */
#define CKPT_MAX ((size_t)4 << 30)

static int read_file(pipeline_job *j, const char *path, char **data, size_t *n) {
    bool exists = false;
    if (storage_get_all(j->base, path, CKPT_MAX, data, n, &exists, j->err, sizeof j->err)) return -1;
    if (!exists) {
        snprintf(j->err, sizeof j->err, "checkpoint %s named by the commit log is missing", path);
        return COMMIT_REFUSED; /* storage answered: retrying cannot bring it back */
    }
    return 0;
}

/* Partition p's piece of delta file i (exactly one; a piece of a partition without a full
 * checkpoint in the record is corrupt too). */
static int find_piece(pipeline_job *j, const commit_record *r, size_t i, const char *d, size_t n, int p,
                      stream_ckpt_piece *out) {
    int found = 0;
    for (size_t off = 0; off < n;) {
        stream_ckpt_info in;
        if (stream_checkpoint_peek(d + off, n - off, &in) || !in.delta || in.partition >= r->nparts ||
            !r->ckpt[in.partition]) {
            snprintf(j->err, sizeof j->err, "corrupt checkpoint delta %s: bad piece at byte %zu", r->deltas[i], off);
            return COMMIT_REFUSED;
        }
        if (in.partition == p) {
            *out = (stream_ckpt_piece){d + off, in.len};
            found++;
        }
        off += in.len;
    }
    if (found != 1)
        snprintf(j->err, sizeof j->err, "corrupt checkpoint delta %s: %s piece of partition %d", r->deltas[i],
                 found ? "more than one" : "no", p);
    return found == 1 ? 0 : COMMIT_REFUSED;
}

/* Restores partition p from its full file and its piece of each delta file dd[0..nd). */
static int restore_one(pipeline_job *j, const commit_record *r, int p, char **dd, size_t *dn, int64_t now_us,
                       ckpt_chain *out, int ix) {
    char *full = NULL;
    size_t fn = 0;
    stream_ckpt_piece *pc = calloc(r->n_deltas + 1, sizeof *pc);
    int rc = pc ? read_file(j, r->ckpt[p], &full, &fn) : -1;
    if (!pc) snprintf(j->err, sizeof j->err, "out of memory");
    if (rc == 0) pc[0] = (stream_ckpt_piece){full, fn};
    for (size_t i = 0; rc == 0 && i < r->n_deltas; i++) rc = find_piece(j, r, i, dd[i], dn[i], p, &pc[i + 1]);
    if (rc == 0 && stream_engine_restore_chain(j->engine, p, pc, r->n_deltas + 1, now_us, j->err, sizeof j->err)) {
        char why[sizeof j->err];
        size_t bad = 0;
        snprintf(why, sizeof why, "%s", j->err);
        const char *file = sscanf(why, "corrupt checkpoint: delta %zu", &bad) == 1 && bad >= 1 && bad <= r->n_deltas
                               ? r->deltas[bad - 1] : r->ckpt[p];
        snprintf(j->err, sizeof j->err, "partition %d, %.120s: %.300s (refusing to guess: inspect ROOT/_ecom)", p,
                 file, why);
        rc = strstr(why, "corrupt checkpoint") ? COMMIT_REFUSED : -1; /* else out of memory: retried */
    }
    if (rc == 0) {
        out->full_bytes += fn;
        out->full_weight += fn; /* the weight then is unknown: bytes per weight taken as 1 */
        if (!(out->full[ix] = strdup(r->ckpt[p]))) rc = -1;
    }
    free(full);
    free(pc);
    return rc;
}

int ckpt_restore(pipeline_job *j, const commit_record *r, int part, int64_t now_us, ckpt_chain *out) {
    ckpt_chain_free(out);
    out->nfull = part >= 0 ? 1 : j->nparts;
    out->full = calloc((size_t)out->nfull, sizeof *out->full);
    out->deltas = calloc(r->n_deltas + 1, sizeof *out->deltas);
    char **dd = calloc(r->n_deltas + 1, sizeof *dd);
    size_t *dn = calloc(r->n_deltas + 1, sizeof *dn);
    int rc = out->full && out->deltas && dd && dn ? 0 : -1;
    if (rc) snprintf(j->err, sizeof j->err, "out of memory");
    for (size_t i = 0; rc == 0 && i < r->n_deltas; i++) {
        rc = read_file(j, r->deltas[i], &dd[i], &dn[i]);
        if (rc == 0 && !(out->deltas[out->n_deltas++] = strdup(r->deltas[i]))) rc = -1;
        out->delta_bytes += dn[i];
    }
    for (int p = 0; rc == 0 && p < r->nparts; p++)
        if ((part < 0 || p == part) && r->ckpt && r->ckpt[p])
            rc = restore_one(j, r, p, dd, dn, now_us, out, part >= 0 ? 0 : p);
    for (size_t i = 0; dd && i < r->n_deltas; i++) free(dd[i]);
    free(dd);
    free(dn);
    if (rc) ckpt_chain_free(out);
    return rc;
}
