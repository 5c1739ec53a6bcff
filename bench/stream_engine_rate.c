/* stream_engine_rate.c — bench helper: events/s of the stream engine on generated events.
 *
 *   stream_engine_rate [EVENTS] [USERS] [EVENTS_PER_EVENT_SECOND] [PARTITIONS] [PASSES]
 *   stream_engine_rate FILE.ndjson [PARTITIONS] [PASSES]     (e.g. from `ecom gen --start`)
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

static int count_row(void *c, metric_id m, const stream_window *w, const metric_val *v) {
    (void)m, (void)w, (void)v;
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

/* Keeps a string view valid after the parser moves on: views into the input stay, views into
 * the parser's arena (unescaped text) are copied into chunks listed in *keep. */
typedef struct {
    char **chunks;
    size_t n, used, cap;
} keep_t;
static int keep_view(keep_t *k, const buf_t *in, strview *v) {
    if (v->n == 0 || (v->p >= in->data && v->p < in->data + in->len)) return 0;
    if (k->n == 0 || k->cap - k->used < v->n) {
        char **c = realloc(k->chunks, (k->n + 1) * sizeof *c);
        if (!c) return -1;
        k->chunks = c;
        k->cap = v->n > 65536 ? v->n : 65536;
        if (!(c[k->n] = malloc(k->cap))) return -1;
        k->n++;
        k->used = 0;
    }
    char *d = k->chunks[k->n - 1] + k->used;
    memcpy(d, v->p, v->n);
    k->used += v->n;
    v->p = d;
    return 0;
}
static int keep_event(keep_t *k, const buf_t *in, event *e, event_item *items) {
    strview *sv[] = {&e->event_id, &e->user_id, &e->session_id, &e->store_id, &e->store_type,
                     &e->city, &e->province, &e->device, &e->product_id, &e->product_name,
                     &e->category, &e->order_id, &e->currency, &e->payment_method};
    for (size_t i = 0; i < sizeof sv / sizeof *sv; i++)
        if (keep_view(k, in, sv[i])) return -1;
    for (size_t i = 0; i < e->n_items; i++)
        if (keep_view(k, in, &items[i].product_id) || keep_view(k, in, &items[i].product_name) ||
            keep_view(k, in, &items[i].category))
            return -1;
    return 0;
}

/* Reads an NDJSON file; n = its number of lines. */
static int load_file(const char *path, buf_t *in, size_t *n) {
    if (file_read_all(path, in)) return perror(path), -1;
    *n = 0;
    for (size_t i = 0; i < in->len; i++) *n += in->data[i] == '\n';
    if (in->len && in->data[in->len - 1] != '\n') (*n)++;
    return *n ? 0 : -1;
}

int main(int argc, char **argv) {
    bool from_file = argc > 1 && (argv[1][0] < '0' || argv[1][0] > '9');
    int a = from_file ? -2 : 0; /* file form: [PARTITIONS] [PASSES] follow the file */
    size_t n = !from_file && argc > 1 ? (size_t)atol(argv[1]) : 600000;
    int users = !from_file && argc > 2 ? atoi(argv[2]) : 100000;
    int per_sec = !from_file && argc > 3 ? atoi(argv[3]) : 50;
    int parts = argc > 4 + a ? atoi(argv[4 + a]) : 1;
    int passes = argc > 5 + a ? atoi(argv[5 + a]) : 3;
    if (n == 0 || users <= 0 || per_sec <= 0 || parts <= 0 || passes <= 0) {
        fprintf(stderr, "usage: stream_engine_rate [EVENTS] [USERS] [EV_PER_EVENT_S] [PARTS] [PASSES]\n"
                        "       stream_engine_rate FILE [PARTS] [PASSES]\n");
        return 2;
    }
    buf_t in = {0};
    if (from_file ? load_file(argv[1], &in, &n) : generate(&in, n, users, per_sec)) {
        fprintf(stderr, "stream_engine_rate: cannot get input\n");
        return 1;
    }
    event_parser *p = event_parser_new();
    if (!p) return 1;
    /* pre-parsed copy for the engine-alone mode: the parser's string views point into `in`
     * (the generated text has no escapes); items are copied out of the parser's arena */
    event *evs = malloc(n * sizeof *evs);
    event_item *items = malloc(n * EVENT_MAX_ITEMS / 32 * sizeof *items + EVENT_MAX_ITEMS * sizeof *items);
    size_t nitems = 0, cap_items = n * EVENT_MAX_ITEMS / 32;
    keep_t keep = {0};
    size_t nev = 0;
    if (!evs || !items) return 1;
    for (const char *s = in.data, *end = in.data + in.len; s < end && nev < n;) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        size_t len = nl ? (size_t)(nl - s) : (size_t)(end - s);
        char reason[128];
        if (event_parse(p, s, len, &evs[nev], reason, sizeof reason) == 0) {
            if (nitems + evs[nev].n_items > cap_items + EVENT_MAX_ITEMS) return 1;
            memcpy(&items[nitems], evs[nev].items, evs[nev].n_items * sizeof *items);
            evs[nev].items = &items[nitems];
            if (keep_event(&keep, &in, &evs[nev], &items[nitems])) return 1;
            nitems += evs[nev].n_items;
            nev++;
        }
        s += len + 1;
    }
    if (nev != n && !from_file) {
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
            stream_sink sink = {&nrows, count_row, NULL};
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
    for (size_t i = 0; i < keep.n; i++) free(keep.chunks[i]);
    free(keep.chunks);
    return 0;
}
