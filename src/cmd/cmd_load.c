/* cmd_load.c — `ecom load`: loads an NDJSON event file (from `ecom gen`) into the raw Parquet
 * tables views / cart / orders, partitioned by event date; invalid lines go to `rejected`
 * with their reason and never stop the load. Each line goes through the lake's one ingest
 * path (lake_ingest_line), the same as `ecom stream`'s. File names derive from the input's name, so
 * loading the same file again overwrites its parts instead of duplicating rows.
 *
 * Why a lease: a load writes into ROOT's raw tables, which a running `ecom stream` (or a second
 * load) also writes; the stream's recovery deletes hidden part files no commit names. So a load
 * takes ROOT's writer lease, the one `ecom stream` takes (pipeline.h), for its whole duration:
 * it is refused (exit 1, naming the holder) while another writer holds it, or waits up to
 * --wait; it renews it every third of its timeout, also while its input is silent (the reader
 * polls with the heartbeat as timeout); it checks it right before publishing each part (rolled
 * at --max-rows or the last ones: lake_opts.before_publish), and at take-over it deletes the
 * unpublished parts of dead or fenced writers, so a writer that lost the lease while paused
 * between its check and its rename finds its part gone; it releases the lease at the end.
 *
 * Why the refusal of a streamed ROOT: `ecom stream`'s metric tables count what the stream read;
 * rows loaded beside them would be in the raw tables and in no metric, and nothing in ROOT
 * would say so. A load into a ROOT a stream wrote is refused, naming the evidence, unless
 * --allow-uncounted says the user wants exactly that. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "lake/lake.h"
#include "pipeline/pipeline.h"
#include "util/util.h"

static const char load_usage[] =
    "usage: ecom load --input FILE.ndjson --out ROOT [--codec zstd|snappy|none] [--max-rows N]\n"
    "Loads events into ROOT/{views,cart,orders}/date=YYYY-MM-DD/part-<stem>-NNNNN.parquet;\n"
    "invalid lines go to ROOT/rejected with the reason and their bytes; blank lines (empty or\n"
    "only spaces, tabs, CR) are counted and skipped. ROOT may be a local directory or an\n"
    "hdfs:// / webhdfs:// URI. The stem is derived from the input's file name (or --stem), so a\n"
    "replay of the same input overwrites its own files. A load holds ROOT's writer lease (the one\n"
    "`ecom stream` takes) while it runs: it is refused while another writer holds it, unless\n"
    "--wait gives it time to end; it renews it while it reads (also from a silent pipe) and stops\n"
    "(exit 1, \"fenced\") before publishing a part if another writer took ROOT over. A ROOT that\n"
    "`ecom stream` wrote is refused: its metric tables would never count the loaded rows (load\n"
    "into another ROOT, or backfill with `ecom stream --input`; --allow-uncounted loads anyway).";

typedef struct {
    const char *input, *out, *codec, *stem, *time_zone;
    cmd_hdfs hdfs;
    int64_t max_rows, lease_timeout_us, wait_us;
    bool allow_uncounted;
} load_args;

/* Parses the flags into *a; 0 to go on, else the exit code (0 for --help, 2 for bad usage). */
static int load_parse_args(int argc, char **argv, flags_store *fst, load_args *a, bool *done) {
    *a = (load_args){.codec = "zstd", .max_rows = 1000000, .lease_timeout_us = LEASE_TIMEOUT_DEFAULT_US};
    cmd_hdfs_init(&a->hdfs);
    const flag_spec specs[] = {
        {"input", FLAG_STR, &a->input, "NDJSON event file (\"-\" for stdin, then give --stem)", 0, 0, NULL},
        {"out", FLAG_STR, &a->out, "lake root: a directory or hdfs://HOST:PORT/path", 0, 0, NULL},
        CMD_HDFS_FLAGS(a->hdfs),
        {"codec", FLAG_STR, &a->codec, "zstd (default), snappy or none", 0, 0, NULL},
        {"max-rows", FLAG_INT, &a->max_rows, "rows per file before rolling to the next (default 1000000)", 1, 1e12, NULL},
        {"stem", FLAG_STR, &a->stem, "file-name stem (default: from the input name)", 0, 0, NULL},
        {"time-zone", FLAG_STR, &a->time_zone, "IANA zone of the date= partitions (default UTC), e.g. America/Guayaquil", 0, 0, NULL},
        {"wait", FLAG_DURATION, &a->wait_us, "when another writer (ecom stream, ecom load) holds ROOT, wait up to this long for it (default 0: refuse at once)", 0, 0, NULL},
        CMD_ALLOW_UNCOUNTED_FLAG(a->allow_uncounted),
        {"lease-timeout", FLAG_DURATION, &a->lease_timeout_us, "if this load crashes, its lease on --out expires this long after its last heartbeat (default 30s)", 0, 0, NULL},
        {NULL, 0, NULL, NULL, 0, 0, NULL},
    };
    char err[512];
    int npos = 0;
    int r = flags_parse(specs, argc, argv, NULL, 0, &npos, fst, err, sizeof err);
    *done = true;
    if (r == FLAGS_HELP) {
        flags_usage(stdout, load_usage, specs);
        return 0;
    }
    if (r == FLAGS_ERROR || !a->input || !a->out) {
        fprintf(stderr, "ecom load: %s\n", r == FLAGS_ERROR ? err : "--input and --out are required");
        return 2;
    }
    if (a->lease_timeout_us < TIME_US_PER_SEC || a->wait_us < 0) {
        fprintf(stderr, "ecom load: --lease-timeout must be at least 1s, --wait not negative\n");
        return 2;
    }
    if (!strcmp(a->input, "-") && !a->stem) {
        fprintf(stderr, "ecom load: reading stdin needs --stem (file names must be deterministic)\n");
        return 2;
    }
    *done = false;
    return 0;
}

/* The file-name stem: --stem, or a hash of the input's base name (a replay of the same file
 * overwrites its own parts). */
static void load_stem(const load_args *a, char *stem, size_t n) {
    if (a->stem) {
        snprintf(stem, n, "%s", a->stem);
        return;
    }
    const char *base = strrchr(a->input, '/');
    base = base ? base + 1 : a->input;
    snprintf(stem, n, "load-%012llx", (unsigned long long)(hash64(base, strlen(base)) & 0xffffffffffffULL));
}

typedef struct {
    storage *s;
    lake_table *t[LAKE_RAW_COUNT];
    lake_tz tz;
    lake_ingest *ingest;
    writer_lease lease;
    int64_t renew_due_mono_us;     /* when the next heartbeat is due (monotonic) */
} loader;

/* Takes ROOT's writer lease, waiting up to wait_us while another writer holds it (retried twice
 * a second: its holder renews it, or ends and releases it). 0, or -1 with err. */
static int loader_take_lease(loader *ld, const load_args *a, char *err, size_t errlen) {
    lease_init(&ld->lease, LEASE_DIR, a->lease_timeout_us);
    int64_t t0 = time_mono_us();
    for (;;) {
        int rc = lease_acquire(ld->s, &ld->lease, false, err, errlen);
        int64_t left = a->wait_us - (time_mono_us() - t0);
        if (rc != LEASE_HELD) {
            ld->renew_due_mono_us = ld->lease.renewed_mono_us + ld->lease.timeout_us / 3;
            return rc ? -1 : 0;
        }
        if (left <= 0) break;
        usleep((useconds_t)(left < 500000 ? left : 500000)); /* POSIX: below one second */
    }
    size_t k = strlen(err);
    snprintf(err + k, errlen - k, "%s", a->wait_us ? " (waited --wait)" : " (or give ecom load --wait DURATION)");
    return -1;
}

/* The heartbeat, every third of the timeout; a failed renewal is retried a tenth of the timeout
 * later (the check before each publish decides). -1 with err only when the lease was taken over. */
static int loader_renew(loader *ld, char *err, size_t errlen) {
    int64_t now = time_mono_us();
    if (now < ld->renew_due_mono_us) return 0;
    char e[512];
    int rc = lease_renew(ld->s, &ld->lease, e, sizeof e);
    if (rc == LEASE_FENCED) snprintf(err, errlen, "%s", e);
    ld->renew_due_mono_us = rc ? now + ld->lease.timeout_us / 10 : ld->lease.renewed_mono_us + ld->lease.timeout_us / 3;
    return rc == LEASE_FENCED ? -1 : 0;
}

/* lake_opts.before_publish: a part is published only while ROOT's lease is still ours. */
static int loader_fence(void *ctx, char *err, size_t errlen) {
    loader *ld = ctx;
    return lease_check(ld->s, &ld->lease, err, errlen) ? -1 : 0;
}

/* What ROOT holds before the first row: a streamed ROOT is refused (unless allowed: then only a
 * note); the unpublished parts of earlier writers are swept, except in a scale-out ROOT, whose
 * instances write without ROOT's lease (their hidden parts may be live). */
static int loader_check_root(loader *ld, const load_args *a, char *err, size_t errlen) {
    root_stream_kind kind;
    char what[256];
    if (root_stream_state(ld->s, &kind, what, sizeof what, err, errlen)) return -1;
    if (kind != ROOT_STREAM_NONE && !a->allow_uncounted) {
        snprintf(err, errlen, "ROOT holds metric tables: %s; rows loaded here would be in the raw tables and never in "
                 "its metrics. Load into another --out, or backfill with `ecom stream --input FILE --out ROOT` "
                 "(which counts them), or give --allow-uncounted to load raw rows anyway", what);
        return -1;
    }
    if (kind != ROOT_STREAM_NONE)
        fprintf(stderr, "ecom load: --allow-uncounted: %s; its metric tables will not count these rows\n", what);
    return kind == ROOT_STREAM_SCALE_OUT ? 0 : root_sweep_unpublished(ld->s, err, errlen);
}

/* Opens the storage, takes the lease, checks ROOT, opens the four raw tables (each publish
 * fenced by the lease) and the ingest context. */
static int loader_open(loader *ld, const load_args *a, const storage_opts *so, pq_codec pc, char *err,
                       size_t errlen) {
    char stem[64];
    load_stem(a, stem, sizeof stem);
    ld->s = storage_open_opts(a->out, so, err, errlen);
    /* Test-only (pipeline/faults.c): the fencing tests freeze a load at a chosen storage call. */
    const char *faults = getenv("ECOM_TEST_STORAGE_FAULTS");
    if (ld->s && faults && *faults && !(ld->s = faults_wrap(ld->s, faults, err, errlen))) return -1;
    if (!ld->s || lake_layout_open(ld->s, &ld->tz, err, errlen)) return -1;
    if (loader_take_lease(ld, a, err, errlen) || loader_check_root(ld, a, err, errlen)) return -1;
    lake_opts lo = {.max_rows = (uint64_t)a->max_rows, .codec = pc, .before_publish = loader_fence, .publish_ctx = ld};
    for (int i = 0; i < LAKE_RAW_COUNT; i++) {
        pq_schema *sc = lake_raw_schema((lake_raw)i, err, errlen);
        ld->t[i] = sc ? lake_table_open(ld->s, lake_raw_name((lake_raw)i), sc, stem, &lo, err, errlen) : NULL;
        pq_schema_free(sc);
        if (!ld->t[i]) return -1;
    }
    if (!(ld->ingest = lake_ingest_new(&ld->tz))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

/* Commits (rc == 0; each part fenced) or drops every table; a failure while the lease was taken
 * over is reported as the fence (its cause) rather than as the storage call that met it (a
 * rename of a part the new holder swept); releases the lease and frees the loader. */
static int loader_close(loader *ld, int rc, char *err, size_t errlen) {
    for (int i = 0; i < LAKE_RAW_COUNT; i++) {
        if (rc) lake_table_abort(ld->t[i]);
        else if (lake_table_close(ld->t[i], err, errlen)) rc = -1;
        ld->t[i] = NULL;
    }
    char e[512];
    if (rc && ld->lease.gen && lease_check(ld->s, &ld->lease, e, sizeof e) == LEASE_FENCED) snprintf(err, errlen, "%s", e);
    lake_ingest_free(ld->ingest);
    if (ld->s) lease_release(ld->s, &ld->lease);
    storage_close(ld->s);
    return rc;
}

/* Lines from a file descriptor. Why not getline: stdio cannot say whether the next read would
 * block, so a load fed by a pipe that stays silent could not renew its lease until a byte came;
 * here every wait for input is a poll whose timeout is the next heartbeat. */
typedef struct {
    int fd;
    char *buf;
    size_t cap, beg, end, scanned; /* unread bytes are buf[beg, end); no '\n' in [beg, scanned) */
    bool eof;
} line_reader;

/* Reads more bytes into r (growing it for a long line), renewing ld's lease while none come. */
static int reader_fill(line_reader *r, loader *ld, const char *source, char *err, size_t errlen) {
    if (r->beg > 0) {
        memmove(r->buf, r->buf + r->beg, r->end - r->beg);
        r->end -= r->beg;
        r->scanned -= r->beg;
        r->beg = 0;
    }
    if (r->end == r->cap) {
        size_t c = r->cap ? r->cap * 2 : 1u << 20;
        char *b = realloc(r->buf, c);
        if (!b) return snprintf(err, errlen, "out of memory"), -1;
        r->buf = b;
        r->cap = c;
    }
    for (;;) {
        int64_t wait_ms = (ld->renew_due_mono_us - time_mono_us()) / 1000 + 1;
        struct pollfd pf = {.fd = r->fd, .events = POLLIN};
        int pr = poll(&pf, 1, wait_ms < 1 ? 1 : wait_ms > 60000 ? 60000 : (int)wait_ms);
        if (pr == 0 || (pr < 0 && errno == EINTR)) {
            if (loader_renew(ld, err, errlen)) return -1;
            continue;
        }
        ssize_t got = pr < 0 ? -1 : read(r->fd, r->buf + r->end, r->cap - r->end);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) return snprintf(err, errlen, "%s: read error: %s", source, strerror(errno)), -1;
        r->end += (size_t)got;
        r->eof = got == 0;
        return loader_renew(ld, err, errlen);
    }
}

/* The next line with its newline (the last may lack one) in *p, *n: 1, 0 at the end, -1 error. */
static int reader_next(line_reader *r, loader *ld, const char *source, const char **p, size_t *n, char *err,
                       size_t errlen) {
    for (;;) {
        char *nl = r->end > r->scanned ? memchr(r->buf + r->scanned, '\n', r->end - r->scanned) : NULL;
        r->scanned = nl ? (size_t)(nl - r->buf) + 1 : r->end;
        if (nl || (r->eof && r->end > r->beg)) {
            *p = r->buf + r->beg;
            *n = r->scanned - r->beg;
            r->beg = r->scanned;
            return 1;
        }
        if (r->eof) return 0;
        if (reader_fill(r, ld, source, err, errlen)) return -1;
    }
}

/* Every line of fd through the one ingest path (lake_ingest_line). *lineno counts lines. */
static int load_lines(loader *ld, int fd, const char *source, int64_t *lineno, char *err, size_t errlen) {
    line_reader r = {.fd = fd};
    int64_t now = time_now_us();
    const char *p = NULL;
    size_t n = 0;
    int rc = 0, more;
    while (rc == 0 && (more = reader_next(&r, ld, source, &p, &n, err, errlen)) == 1) {
        lake_input li = {.p = p, .n = n, .source = source, .position = ++*lineno};
        rc = lake_ingest_line(ld->ingest, &li, ld->t, now, NULL, err, errlen);
        if (rc == 0 && (*lineno & 1023) == 0) rc = loader_renew(ld, err, errlen);
    }
    if (rc == 0 && more < 0) rc = -1;
    free(r.buf);
    return rc;
}

static int load_main(int argc, char **argv, flags_store *fst) {
    load_args a;
    bool done;
    int r = load_parse_args(argc, argv, fst, &a, &done);
    if (done) return r;
    storage_opts hso;
    int hu = cmd_hdfs_opts("load", &a.hdfs, &hso);
    if (hu) return hu;
    pq_codec pc = !strcmp(a.codec, "zstd") ? PQ_ZSTD : !strcmp(a.codec, "snappy") ? PQ_SNAPPY : !strcmp(a.codec, "none") ? PQ_UNCOMPRESSED : (pq_codec)-1;
    if ((int)pc < 0) {
        fprintf(stderr, "ecom load: --codec must be zstd, snappy or none\n");
        return 2;
    }
    char err[512];
    loader ld = {0};
    if (lake_tz_open(&ld.tz, a.time_zone, err, sizeof err)) {
        fprintf(stderr, "ecom load: --time-zone: %s\n", err);
        return 2;
    }
    bool is_stdin = !strcmp(a.input, "-");
    int fd = is_stdin ? STDIN_FILENO : open(a.input, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "ecom load: %s: cannot open: %s\n", a.input, strerror(errno));
        return 1;
    }
    int64_t lineno = 0;
    int rc = loader_open(&ld, &a, &hso, pc, err, sizeof err);
    if (rc == 0) rc = load_lines(&ld, fd, a.input, &lineno, err, sizeof err);
    lake_ingest_counts c = ld.ingest ? *lake_ingest_get_counts(ld.ingest) : (lake_ingest_counts){0};
    rc = loader_close(&ld, rc, err, sizeof err);
    if (!is_stdin) close(fd);
    if (rc) {
        if (lineno)
            fprintf(stderr, "ecom load: %s (line %lld)\n", err, (long long)lineno);
        else
            fprintf(stderr, "ecom load: %s\n", err);
        return 1;
    }
    fprintf(stderr, "ecom load: %lld lines: views %llu, cart %llu, orders %llu, rejected %llu, blank %llu -> %s\n",
            (long long)lineno, (unsigned long long)c.events[EV_PAGE_VIEW],
            (unsigned long long)(c.events[EV_ADD_TO_CART] + c.events[EV_REMOVE_FROM_CART]),
            (unsigned long long)c.events[EV_PURCHASE], (unsigned long long)c.rejected, (unsigned long long)c.blank, a.out);
    return 0;
}

/* Values parsed from a config file live in st: it outlasts the whole command. */
int cmd_load(int argc, char **argv) {
    flags_store st = {0};
    int rc = load_main(argc, argv, &st);
    flags_store_free(&st);
    return rc;
}
