/* cmd_load.c — `ecom load`: loads an NDJSON event file (from `ecom gen`) into the raw Parquet
 * tables views / cart / orders, partitioned by event date; invalid lines go to `rejected`
 * with their reason and never stop the load. Each line goes through the lake's one ingest
 * path (lake_ingest_line), the same as `ecom stream`'s. File names derive from the input's name, so
 * loading the same file again overwrites its parts instead of duplicating rows.
 *
 * Why a lease: a load writes into ROOT's raw tables, which a running `ecom stream` (or a second
 * load) also writes; the stream's recovery deletes hidden part files no commit names, and its
 * metric tables would never count the loaded rows. So a load takes ROOT's writer lease, the
 * one `ecom stream` takes (pipeline.h), for its whole duration: it is refused (exit 1, naming
 * the holder) while another writer holds it, or waits up to --wait; it renews it while loading;
 * it checks it before publishing the last parts; it releases it at the end. */
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
    "--wait gives it time to end.";

typedef struct {
    const char *input, *out, *codec, *stem, *time_zone;
    cmd_hdfs hdfs;
    int64_t max_rows, lease_timeout_us, wait_us;
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
} loader;

/* Takes ROOT's writer lease, waiting up to wait_us while another writer holds it (retried twice
 * a second: its holder renews it, or ends and releases it). 0, or -1 with err. */
static int loader_take_lease(loader *ld, const load_args *a, char *err, size_t errlen) {
    lease_init(&ld->lease, LEASE_DIR, a->lease_timeout_us);
    int64_t t0 = time_mono_us();
    for (;;) {
        int rc = lease_acquire(ld->s, &ld->lease, false, err, errlen);
        int64_t left = a->wait_us - (time_mono_us() - t0);
        if (rc != LEASE_HELD) return rc ? -1 : 0;
        if (left <= 0) break;
        usleep((useconds_t)(left < 500000 ? left : 500000)); /* POSIX: below one second */
    }
    size_t k = strlen(err);
    snprintf(err + k, errlen - k, "%s", a->wait_us ? " (waited --wait)" : " (or give ecom load --wait DURATION)");
    return -1;
}

/* The heartbeat, every third of the timeout; a failed renewal is retried at the next call
 * (the check before publishing decides). -1 with err only when the lease was taken over. */
static int loader_renew(loader *ld, char *err, size_t errlen) {
    if (time_mono_us() - ld->lease.renewed_mono_us < ld->lease.timeout_us / 3) return 0;
    char e[512];
    int rc = lease_renew(ld->s, &ld->lease, e, sizeof e);
    if (rc == LEASE_FENCED) snprintf(err, errlen, "%s", e);
    return rc == LEASE_FENCED ? -1 : 0;
}

/* Opens the storage, the four raw tables and the ingest context. */
static int loader_open(loader *ld, const load_args *a, const storage_opts *so, pq_codec pc, char *err,
                       size_t errlen) {
    char stem[64];
    load_stem(a, stem, sizeof stem);
    ld->s = storage_open_opts(a->out, so, err, errlen);
    if (!ld->s || lake_layout_open(ld->s, &ld->tz, err, errlen)) return -1;
    if (loader_take_lease(ld, a, err, errlen)) return -1;
    lake_opts lo = {.max_rows = (uint64_t)a->max_rows, .codec = pc};
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

/* Commits (rc == 0: if the lease is still ours) or drops every table, releases the lease,
 * and frees the loader. */
static int loader_close(loader *ld, int rc, char *err, size_t errlen) {
    if (rc == 0 && ld->lease.gen && lease_check(ld->s, &ld->lease, err, errlen)) rc = -1;
    for (int i = 0; i < LAKE_RAW_COUNT; i++) {
        if (rc) lake_table_abort(ld->t[i]);
        else if (lake_table_close(ld->t[i], err, errlen)) rc = -1;
        ld->t[i] = NULL;
    }
    lake_ingest_free(ld->ingest);
    if (ld->s) lease_release(ld->s, &ld->lease);
    storage_close(ld->s);
    return rc;
}

/* Every line of in through the one ingest path (lake_ingest_line). *lineno counts lines. */
static int load_lines(loader *ld, FILE *in, const char *source, int64_t *lineno, char *err, size_t errlen) {
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int64_t now = time_now_us();
    int rc = 0;
    while (rc == 0 && (n = getline(&line, &cap, in)) >= 0) {
        lake_input li = {.p = line, .n = (size_t)n, .source = source, .position = ++*lineno};
        rc = lake_ingest_line(ld->ingest, &li, ld->t, now, NULL, err, errlen);
        if (rc == 0 && (*lineno & 1023) == 0) rc = loader_renew(ld, err, errlen);
    }
    if (rc == 0 && ferror(in)) {
        snprintf(err, errlen, "%s: read error", source);
        rc = -1;
    }
    free(line);
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
    FILE *in = is_stdin ? stdin : fopen(a.input, "r");
    if (!in) {
        fprintf(stderr, "ecom load: %s: cannot open\n", a.input);
        return 1;
    }
    int64_t lineno = 0;
    int rc = loader_open(&ld, &a, &hso, pc, err, sizeof err);
    if (rc == 0) rc = load_lines(&ld, in, a.input, &lineno, err, sizeof err);
    lake_ingest_counts c = ld.ingest ? *lake_ingest_get_counts(ld.ingest) : (lake_ingest_counts){0};
    rc = loader_close(&ld, rc, err, sizeof err);
    if (!is_stdin) fclose(in);
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
