/* parse_rate.c — bench helper: parse-only rate of event_parse() over an NDJSON file.
 *
 *   parse_rate FILE [PASSES]   prints "<lines/s> <MB/s> <accepted> <rejected>" for the best pass
 *
 * Built by bench/bench_gen.sh against build/libecom.a. The file is read once into memory so
 * that only the parser is timed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events/events.h"

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: parse_rate FILE [PASSES]\n");
        return 2;
    }
    int passes = argc > 2 ? atoi(argv[2]) : 3;
    buf_t in = {0};
    if (file_read_all(argv[1], &in) != 0) {
        perror(argv[1]);
        return 1;
    }
    event_parser *p = event_parser_new();
    if (!p) return 1;
    double best = 0, best_mb = 0;
    long acc = 0, rej = 0;
    for (int k = 0; k < passes; k++) {
        int64_t t0 = time_mono_us();
        long n = 0;
        acc = rej = 0;
        const char *s = in.data, *end = in.data + in.len;
        while (s < end) {
            const char *nl = memchr(s, '\n', (size_t)(end - s));
            size_t len = nl ? (size_t)(nl - s) : (size_t)(end - s);
            event e;
            char reason[128];
            if (event_parse(p, s, len, &e, reason, sizeof reason) == 0) acc++;
            else rej++;
            n++;
            s += len + 1;
        }
        double dt = (double)(time_mono_us() - t0) / 1e6;
        if (dt > 0 && n / dt > best) {
            best = n / dt;
            best_mb = (double)in.len / dt / 1e6;
        }
    }
    printf("%.0f %.1f %ld %ld\n", best, best_mb, acc, rej);
    event_parser_free(p);
    buf_free(&in);
    return 0;
}
