/* cmd_load.c — `ecom load`: loads an NDJSON event file (from `ecom gen`) into the raw Parquet
 * tables views / cart / orders, partitioned by event date; invalid lines go to `rejected`
 * with their reason and never stop the load. File names derive from the input's name, so
 * loading the same file again overwrites its parts instead of duplicating rows. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "lake/lake.h"
#include "util/util.h"

static const char load_usage[] =
    "usage: ecom load --input FILE.ndjson --out ROOT [--codec zstd|snappy|none] [--max-rows N]\n"
    "Loads events into ROOT/{views,cart,orders}/date=YYYY-MM-DD/part-<stem>-NNNNN.parquet;\n"
    "invalid lines go to ROOT/rejected with the reason. ROOT may be a local directory or an\n"
    "hdfs:// / webhdfs:// URI. The stem is derived from the input's file name (or --stem), so a\n"
    "replay of the same input overwrites its own files.";

/* Best-effort UTC day of a rejected line: its "timestamp" field if it parses, else today. */
static int64_t rejected_day(const char *line, size_t n, int64_t now_us) {
    const char *key = "\"timestamp\"";
    const char *p = memmem(line, n, key, strlen(key));
    int64_t us = now_us;
    if (p) {
        const char *end = line + n;
        p += strlen(key);
        while (p < end && (*p == ' ' || *p == ':')) p++;
        if (p < end && *p == '"') {
            const char *q = memchr(p + 1, '"', (size_t)(end - p - 1));
            int64_t t;
            if (q && time_parse_rfc3339(p + 1, (size_t)(q - p - 1), &t) == 0) us = t;
        }
    }
    int64_t d = us / (86400 * TIME_US_PER_SEC);
    return us % (86400 * TIME_US_PER_SEC) < 0 ? d - 1 : d;
}

/* Copies s with invalid UTF-8 bytes replaced by U+FFFD (readers validate STRING columns). */
static void utf8_clean(const char *s, size_t n, buf_t *out) {
    const unsigned char *p = (const unsigned char *)s;
    buf_reset(out);
    for (size_t i = 0; i < n;) {
        unsigned c = p[i];
        size_t l = c < 0x80 ? 1 : (c >= 0xC2 && c <= 0xDF) ? 2 : (c >= 0xE0 && c <= 0xEF) ? 3 : (c >= 0xF0 && c <= 0xF4) ? 4 : 0;
        bool ok = l && i + l <= n;
        for (size_t k = 1; ok && k < l; k++) ok = (p[i + k] & 0xC0) == 0x80;
        if (ok && l == 3) ok = !(c == 0xE0 && p[i + 1] < 0xA0) && !(c == 0xED && p[i + 1] >= 0xA0);
        if (ok && l == 4) ok = !(c == 0xF0 && p[i + 1] < 0x90) && !(c == 0xF4 && p[i + 1] >= 0x90);
        if (ok) {
            buf_append(out, s + i, l);
            i += l;
        } else {
            buf_append(out, "\xEF\xBF\xBD", 3);
            i++;
        }
    }
}

typedef struct {
    storage *s;
    lake_table *t[LAKE_RAW_COUNT];
    uint64_t loaded[LAKE_RAW_COUNT];
} loader;

static void loader_abort(loader *ld) {
    for (int i = 0; i < LAKE_RAW_COUNT; i++) lake_table_abort(ld->t[i]);
    storage_close(ld->s);
}

int cmd_load(int argc, char **argv) {
    cmd_hdfs hdfs;
    cmd_hdfs_init(&hdfs);
    storage_opts hso;
    const char *input = NULL, *out = NULL, *codec = "zstd", *stem_arg = NULL;
    int64_t max_rows = 1000000;
    const flag_spec specs[] = {
        {"input", FLAG_STR, &input, "NDJSON event file (\"-\" for stdin, then give --stem)", 0, 0, NULL},
        {"out", FLAG_STR, &out, "lake root: a directory or hdfs://HOST:PORT/path", 0, 0, NULL},
        CMD_HDFS_FLAGS(hdfs),
        {"codec", FLAG_STR, &codec, "zstd (default), snappy or none", 0, 0, NULL},
        {"max-rows", FLAG_INT, &max_rows, "rows per file before rolling to the next (default 1000000)", 1, 1e12, NULL},
        {"stem", FLAG_STR, &stem_arg, "file-name stem (default: from the input name)", 0, 0, NULL},
        {NULL, 0, NULL, NULL, 0, 0, NULL},
    };
    char err[512];
    int npos = 0;
    int r = flags_parse(specs, argc, argv, NULL, 0, &npos, err, sizeof err);
    if (r == FLAGS_HELP) {
        flags_usage(stdout, load_usage, specs);
        return 0;
    }
    if (r == FLAGS_ERROR || !input || !out) {
        fprintf(stderr, "ecom load: %s\n", r == FLAGS_ERROR ? err : "--input and --out are required");
        return 2;
    }
    int hu = cmd_hdfs_opts("load", &hdfs, &hso);
    if (hu) return hu;
    pq_codec pc = !strcmp(codec, "zstd") ? PQ_ZSTD : !strcmp(codec, "snappy") ? PQ_SNAPPY : !strcmp(codec, "none") ? PQ_UNCOMPRESSED : (pq_codec)-1;
    if ((int)pc < 0) {
        fprintf(stderr, "ecom load: --codec must be zstd, snappy or none\n");
        return 2;
    }
    bool is_stdin = !strcmp(input, "-");
    if (is_stdin && !stem_arg) {
        fprintf(stderr, "ecom load: reading stdin needs --stem (file names must be deterministic)\n");
        return 2;
    }
    char stem[64];
    if (stem_arg) {
        snprintf(stem, sizeof stem, "%s", stem_arg);
    } else {
        const char *base = strrchr(input, '/');
        base = base ? base + 1 : input;
        snprintf(stem, sizeof stem, "load-%012llx", (unsigned long long)(hash64(base, strlen(base)) & 0xffffffffffffULL));
    }
    FILE *in = is_stdin ? stdin : fopen(input, "r");
    if (!in) {
        fprintf(stderr, "ecom load: %s: cannot open\n", input);
        return 1;
    }
    loader ld = {0};
    ld.s = storage_open_opts(out, &hso, err, sizeof err);
    lake_opts lo = {.max_rows = (uint64_t)max_rows, .codec = pc};
    int rc = ld.s ? 0 : 1;
    for (int i = 0; i < LAKE_RAW_COUNT && rc == 0; i++) {
        pq_schema *sc = lake_raw_schema((lake_raw)i, err, sizeof err);
        ld.t[i] = sc ? lake_table_open(ld.s, lake_raw_name((lake_raw)i), sc, stem, &lo, err, sizeof err) : NULL;
        pq_schema_free(sc);
        if (!ld.t[i]) rc = 1;
    }
    if (rc) {
        fprintf(stderr, "ecom load: %s\n", err);
        loader_abort(&ld);
        if (!is_stdin) fclose(in);
        return 1;
    }
    event_parser *p = event_parser_new();
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int64_t lineno = 0, now = time_now_us();
    uint64_t rejected = 0, blank = 0;
    buf_t clean = {0};
    while (rc == 0 && p && (n = getline(&line, &cap, in)) >= 0) {
        lineno++;
        size_t len = (size_t)n;
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) len--;
        size_t k = 0;
        while (k < len && (line[k] == ' ' || line[k] == '\t')) k++;
        if (k == len) {
            blank++;
            continue;
        }
        event e;
        char reason[256];
        if (event_parse(p, line, len, &e, reason, sizeof reason) == 0) {
            lake_raw t = lake_raw_of_event(e.type);
            if (lake_append_event(ld.t[t], &e, now, err, sizeof err)) rc = 1;
            else ld.loaded[t]++;
        } else {
            utf8_clean(line, len, &clean);
            if (lake_append_rejected(ld.t[LAKE_REJECTED], rejected_day(line, len, now), input, lineno, reason,
                                     clean.data ? clean.data : "", clean.len, now, err, sizeof err))
                rc = 1;
            else rejected++;
        }
    }
    if (!p) snprintf(err, sizeof err, "out of memory");
    if (!p || (rc == 0 && ferror(in))) {
        if (p) snprintf(err, sizeof err, "%s: read error", input);
        rc = 1;
    }
    for (int i = 0; i < LAKE_RAW_COUNT; i++) {
        if (rc) {
            lake_table_abort(ld.t[i]);
        } else if (lake_table_close(ld.t[i], err, sizeof err)) {
            rc = 1;
        }
        ld.t[i] = NULL;
    }
    if (rc) fprintf(stderr, "ecom load: %s (line %lld)\n", err, (long long)lineno);
    else
        fprintf(stderr, "ecom load: %lld lines: views %llu, cart %llu, orders %llu, rejected %llu, blank %llu -> %s\n",
                (long long)lineno, (unsigned long long)ld.loaded[LAKE_VIEWS], (unsigned long long)ld.loaded[LAKE_CART],
                (unsigned long long)ld.loaded[LAKE_ORDERS], (unsigned long long)rejected, (unsigned long long)blank, out);
    buf_free(&clean);
    free(line);
    event_parser_free(p);
    storage_close(ld.s);
    if (!is_stdin) fclose(in);
    return rc;
}
