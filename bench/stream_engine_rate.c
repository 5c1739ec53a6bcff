/* stream_engine_rate.c — bench helper: events/s of the stream engine on generated events.
 *
 *   stream_engine_rate [EVENTS] [USERS] [EVENTS_PER_EVENT_SECOND] [PARTITIONS] [PASSES]
 *
 * Generates EVENTS shopper events (the unit tests' generator: views, adds, removes, purchases
 * with funnel-shaped behaviour, 1% re-sent duplicates) as NDJSON in memory with the real
 * encoder, then times, best of PASSES:
 *   parse   event_parse() of every line (the parse-only limit: the peer)
 *   full    event_parse() + stream_engine_process() + advance every 4096 lines + final flush,
 *           rows delivered to a counting sink (default config: 1m windows, 2m lateness,
 *           30m + 60m funnel, MERGED)
 *   engine  the same engine work over events parsed beforehand (the engine alone)
 * and prints one line:
 *   parse_eps full_eps engine_eps full/parse_ratio peak_state_entries rows late dups
 * Times are CPU time of the thread (the bench machine is shared). Built by bench/bench_stream_engine.sh against build/libecom.a. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "events/events.h"
#include "stream/stream.h"
#include "stream_testlib.h"

/* CPU time of this thread: the machine running the benchmarks is shared, and wall time would
 * measure the neighbours as much as the engine. */
static int64_t cpu_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int count_sales(void *c, const stream_row_sales *r) {
    (void)r;
    ++*(uint64_t *)c;
    return 0;
}
static int count_cat(void *c, const stream_row_category *r) {
    (void)r;
    ++*(uint64_t *)c;
    return 0;
}
static int count_prod(void *c, const stream_row_product *r) {
    (void)r;
    ++*(uint64_t *)c;
    return 0;
}
static int count_city(void *c, const stream_row_city *r) {
    (void)r;
    ++*(uint64_t *)c;
    return 0;
}
static int count_funnel(void *c, const stream_row_funnel *r) {
    (void)r;
    ++*(uint64_t *)c;
    return 0;
}

/* Generates n events in chunks (the generator keeps whole arrays) and encodes them. */
static int generate(buf_t *out, size_t n, int users, int per_sec) {
    int64_t t0;
    if (time_parse_rfc3339("2026-11-25T00:00:00Z", 20, &t0)) return -1;
    size_t chunk = 50000;
    int gap_ms = per_sec > 0 ? 2000 / per_sec : 0; /* mean gap = gap_ms / 2 */
    for (size_t done = 0; done < n; done += chunk) {
        size_t k = n - done < chunk ? n - done : chunk;
        tev *v = tl_generate(k, t0, users, 300, gap_ms, 1, 1234 + done);
        for (size_t i = 0; i < k; i++) {
            /* ids unique across chunks (a re-sent copy keeps its original's id) */
            unsigned long long orig = strtoull(v[i].id + 24, NULL, 16);
            snprintf(v[i].id + 24, 13, "%012llx", (unsigned long long)done + orig);
            if (event_json_encode(&v[i].ev, out) || buf_append_char(out, '\n')) return -1;
        }
        t0 = v[k - 1].ev.ts_us;
        free(v);
    }
    return 0;
}

int main(int argc, char **argv) {
    size_t n = argc > 1 ? (size_t)atol(argv[1]) : 600000;
    int users = argc > 2 ? atoi(argv[2]) : 100000;
    int per_sec = argc > 3 ? atoi(argv[3]) : 50;
    int parts = argc > 4 ? atoi(argv[4]) : 1;
    int passes = argc > 5 ? atoi(argv[5]) : 3;
    if (n == 0 || users <= 0 || per_sec <= 0 || parts <= 0 || passes <= 0) {
        fprintf(stderr, "usage: stream_engine_rate [EVENTS] [USERS] [EV_PER_EVENT_S] [PARTS] [PASSES]\n");
        return 2;
    }
    buf_t in = {0};
    if (generate(&in, n, users, per_sec)) {
        fprintf(stderr, "stream_engine_rate: out of memory generating\n");
        return 1;
    }
    event_parser *p = event_parser_new();
    if (!p) return 1;
    /* pre-parsed copy for the engine-alone mode: the parser's string views point into `in`
     * (the generated text has no escapes); items are copied out of the parser's arena */
    event *evs = malloc(n * sizeof *evs);
    event_item *items = malloc(n * 3 * sizeof *items);
    size_t nev = 0;
    if (!evs || !items) return 1;
    for (const char *s = in.data, *end = in.data + in.len; s < end && nev < n;) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        size_t len = nl ? (size_t)(nl - s) : (size_t)(end - s);
        char reason[128];
        if (event_parse(p, s, len, &evs[nev], reason, sizeof reason) == 0) {
            if (evs[nev].user_id.p < in.data || evs[nev].user_id.p >= end) return 1;
            memcpy(&items[nev * 3], evs[nev].items, evs[nev].n_items * sizeof *items);
            evs[nev].items = &items[nev * 3];
            nev++;
        }
        s += len + 1;
    }
    if (nev != n) {
        fprintf(stderr, "stream_engine_rate: %zu of %zu generated events failed to parse\n", n - nev, n);
        return 1;
    }
    double best_parse = 1e30, best_full = 1e30, best_eng = 1e30;
    uint64_t peak = 0, rows = 0, late = 0, dups = 0;
    for (int pass = 0; pass < passes; pass++) {
        for (int mode = 0; mode < 3; mode++) {
            if (getenv("BENCH_ENGINE_ONLY") && mode != 2) continue; /* for profiling */
            stream_config cfg;
            stream_config_default(&cfg);
            cfg.n_partitions = parts;
            cfg.idle_timeout_us = 0;
            uint64_t nrows = 0;
            stream_sink sink = {&nrows, count_sales, count_cat, count_prod, count_prod, count_city,
                                count_funnel};
            char err[128];
            stream_engine *e = mode ? stream_engine_new(&cfg, &sink, err, sizeof err) : NULL;
            if (mode && !e) return fprintf(stderr, "%s\n", err), 1;
            uint64_t lt = 0, dp = 0, pk = 0;
            int64_t t0 = cpu_us();
            const char *s = in.data, *end = in.data + in.len;
            size_t line = 0;
            if (mode == 2) {
                for (size_t i = 0; i < nev; i++) {
                    int part = parts > 1 ? tl_part(&evs[i], parts) : 0;
                    if (stream_engine_process(e, part, (int64_t)i, &evs[i]) < 0) return 1;
                    if ((i & 4095) == 4095 && stream_engine_advance(e, 0, err, sizeof err)) return 1;
                }
                s = end;
            }
            while (s < end) {
                const char *nl = memchr(s, '\n', (size_t)(end - s));
                size_t len = nl ? (size_t)(nl - s) : (size_t)(end - s);
                event ev;
                char reason[128];
                if (event_parse(p, s, len, &ev, reason, sizeof reason) == 0 && mode) {
                    int part = parts > 1 ? tl_part(&ev, parts) : 0;
                    int r = stream_engine_process(e, part, (int64_t)line, &ev);
                    if (r < 0) return fprintf(stderr, "process failed\n"), 1;
                    lt += r == STREAM_LATE;
                    dp += r == STREAM_DUPLICATE;
                }
                if (mode && (++line & 4095) == 0) {
                    if (stream_engine_advance(e, 0, err, sizeof err)) return 1;
                    if ((line & 65535) == 0) {
                        uint64_t st = stream_engine_state_entries(e);
                        if (st > pk) pk = st;
                    }
                }
                s += len + 1;
            }
            if (mode && stream_engine_flush(e, err, sizeof err)) return 1;
            double dt = (double)(cpu_us() - t0) / 1e6;
            if (getenv("BENCH_DEBUG")) fprintf(stderr, "mode %d: %.3f s\n", mode, dt);
            if (mode == 2) {
                if (dt < best_eng) best_eng = dt;
                stream_engine_free(e);
            } else if (mode) {
                if (dt < best_full) best_full = dt;
                peak = pk, rows = nrows, late = lt, dups = dp;
                stream_engine_free(e);
            } else if (dt < best_parse) {
                best_parse = dt;
            }
        }
    }
    double eng = (double)nev / best_eng;
    printf("%.0f %.0f %.0f %.2f %llu %llu %llu %llu\n", (double)n / best_parse,
           (double)n / best_full, eng, best_full / best_parse, (unsigned long long)peak,
           (unsigned long long)rows, (unsigned long long)late, (unsigned long long)dups);
    event_parser_free(p);
    buf_free(&in);
    free(evs);
    free(items);
    return 0;
}
