/* parse_rate.c — bench helper: parse-only rate of event_parse() over an NDJSON file.
 *
 *   parse_rate FILE [PASSES]   prints "<lines/s wall> <lines/s cpu> <MB/s wall> <accepted> <rejected>",
 *                              the median pass of each (cpu: per second of this thread's CPU time,
 *                              the per-core figure on a shared machine)
 *
 * Built by bench/bench_gen.sh against build/libecom.a. The file is read once into memory so
 * that only the parser is timed. */
#include <stdio.h>
#include <time.h>
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
    if (passes < 1 || passes > 99) passes = 3;
    double wall[100], cpu[100];
    long acc = 0, rej = 0, n = 0;
    for (int k = 0; k < passes; k++) {
        int64_t t0 = time_mono_us();
        struct timespec c0, c1;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
        n = 0;
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
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
        double dc = (double)(c1.tv_sec - c0.tv_sec) + (double)(c1.tv_nsec - c0.tv_nsec) / 1e9;
        wall[k] = dt;
        cpu[k] = dc;
    }
    /* medians (insertion sort, tiny arrays) */
    for (int i = 1; i < passes; i++)
        for (int j = i; j > 0 && wall[j] < wall[j - 1]; j--) {
            double t = wall[j]; wall[j] = wall[j - 1]; wall[j - 1] = t;
        }
    for (int i = 1; i < passes; i++)
        for (int j = i; j > 0 && cpu[j] < cpu[j - 1]; j--) {
            double t = cpu[j]; cpu[j] = cpu[j - 1]; cpu[j - 1] = t;
        }
    double w = wall[passes / 2], c = cpu[passes / 2];
    printf("%.0f %.0f %.1f %ld %ld\n", n / w, n / c, (double)in.len / w / 1e6, acc, rej);
    event_parser_free(p);
    buf_free(&in);
    return 0;
}
