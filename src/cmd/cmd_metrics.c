/* cmd_metrics.c — `ecom metrics`: prints the metric catalog (src/metrics/metrics.h): every
 * metric table with its columns, types, merge rules and finality, and the ranked tables.
 * --markdown prints the table of metrics of docs/stream.md (a test checks that the page holds
 * exactly this output between its two marker comments). */
#include <stdio.h>

#include "cmd/cmd.h"
#include "metrics/metrics.h"
#include "util/util.h"

static const char metrics_usage[] =
    "usage: ecom metrics [--markdown]\n"
    "Prints the metric catalog: the tables `ecom stream` writes and `ecom dash` serves.";

static const char *type_name(metric_type t) {
    static const char *n[] = {"STRING", "BIGINT", "DECIMAL(18,2)", "DOUBLE"};
    return n[t];
}

/* How a column merges over rows (partitions, corrections, a range of windows). */
static void merge_text(const metric_def *m, const metric_col *c, char *out, size_t n) {
    switch (c->merge) {
    case MERGE_KEY: snprintf(out, n, "key"); break;
    case MERGE_ATTR: snprintf(out, n, "min"); break;
    case MERGE_SUM: snprintf(out, n, "sum"); break;
    case MERGE_RATIO:
        snprintf(out, n, "%s / %s%s", m->cols[c->num].name, m->cols[c->den].name,
                 c->type == METRIC_MONEY ? " (cents, half away from zero)" : "");
        break;
    }
}

static const char *final_text(const metric_def *m) {
    return m->final == METRIC_FINAL_FUNNEL ? "watermark >= window end + view_to_cart + cart_to_purchase (rounded up to a window)"
                                           : "watermark >= window end";
}

static void print_markdown(void) {
    for (int i = 0; i < METRIC_ID_COUNT; i++) {
        const metric_def *m = metric_get((metric_id)i);
        printf("### `%s`\n\n%s. Final when: %s.\n\n", m->name, m->doc, final_text(m));
        printf("| column | type | merge | meaning |\n|---|---|---|---|\n");
        printf("| `window_start`, `window_end` | TIMESTAMP | key | the window [start, end) |\n");
        for (int c = 0; c < m->ncols; c++) {
            char mt[128];
            merge_text(m, &m->cols[c], mt, sizeof mt);
            printf("| `%s` | %s | %s | %s |\n", m->cols[c].name, type_name(m->cols[c].type), mt, m->cols[c].doc);
        }
        printf("| `correction` | BOOLEAN | - | true: a later row adding late events to the window |\n");
        printf("| `partition` | INTEGER | - | scale-out layout only: the input partition |\n\n");
        for (int r = 0; r < m->nranks; r++)
            printf("Ranked table `%s` (single layout): %s, the %d rows with the largest `%s` per window "
                   "(ties by key ascending, 0 not ranked), columns `rank` then those of `%s`.\n\n",
                   m->ranks[r].name, m->ranks[r].doc, m->ranks[r].n, m->cols[m->ranks[r].by].name, m->name);
    }
}

static void print_text(void) {
    for (int i = 0; i < METRIC_ID_COUNT; i++) {
        const metric_def *m = metric_get((metric_id)i);
        printf("%s: %s\n  final: %s\n", m->name, m->doc, final_text(m));
        for (int c = 0; c < m->ncols; c++) {
            char mt[128];
            merge_text(m, &m->cols[c], mt, sizeof mt);
            printf("  %-22s %-14s %-8s %s\n", m->cols[c].name, type_name(m->cols[c].type), mt, m->cols[c].doc);
        }
        for (int r = 0; r < m->nranks; r++)
            printf("  rank %s: top %d by %s (%s)\n", m->ranks[r].name, m->ranks[r].n, m->cols[m->ranks[r].by].name,
                   m->ranks[r].doc);
    }
}

int cmd_metrics(int argc, char **argv) {
    bool markdown = false;
    const flag_spec specs[] = {{"markdown", FLAG_BOOL, &markdown, "print the docs' Markdown table", 0, 0, NULL},
                               {NULL, 0, NULL, NULL, 0, 0, NULL}};
    char err[512];
    int npos = 0;
    flags_store st = {0};   /* --config is accepted like on every command; nothing here reads it */
    int r = flags_parse(specs, argc, argv, NULL, 0, &npos, &st, err, sizeof err);
    flags_store_free(&st);
    if (r == FLAGS_HELP) {
        flags_usage(stdout, metrics_usage, specs);
        return 0;
    }
    if (r == FLAGS_ERROR) {
        fprintf(stderr, "ecom metrics: %s\n", err);
        return 2;
    }
    if (markdown)
        print_markdown();
    else
        print_text();
    return fflush(stdout) == 0 && !ferror(stdout) ? 0 : 1;
}
