/* test_metrics.c — the metric catalog: every declaration well formed, lookups, the rounding rule. */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "metrics/metrics.h"

/* Every entry: keys first, unique names, ratio operands in range and additive, ranks on a value. */
static void test_catalog_well_formed(check_state *st) {
    CHECK_STATE(st);
    for (int i = 0; i < METRIC_ID_COUNT; i++) {
        const metric_def *m = metric_get((metric_id)i);
        CHECK(m && m->id == (metric_id)i);
        CHECK(m->ncols > 0 && m->ncols <= METRIC_MAX_COLS);
        CHECK(metric_find(m->name) == m);
        bool past_keys = false;
        for (int c = 0; c < m->ncols; c++) {
            const metric_col *col = &m->cols[c];
            if (col->merge != MERGE_KEY) past_keys = true;
            CHECK(!(past_keys && col->merge == MERGE_KEY));
            CHECK(metric_col_index(m, col->name) == c);
            CHECK((col->merge == MERGE_KEY || col->merge == MERGE_ATTR) == (col->type == METRIC_STR));
            if (col->merge == MERGE_RATIO) {
                CHECK(col->num >= 0 && col->num < m->ncols && m->cols[col->num].merge == MERGE_SUM);
                CHECK(col->den >= 0 && col->den < m->ncols && m->cols[col->den].merge == MERGE_SUM);
            }
            CHECK(col->type != METRIC_RATE || col->merge == MERGE_RATIO);
        }
        for (int r = 0; r < m->nranks; r++) {
            const metric_rank *rk = NULL;
            CHECK(metric_find_rank(m->ranks[r].name, &rk) == m && rk == &m->ranks[r]);
            CHECK(m->ranks[r].by >= 0 && m->ranks[r].by < m->ncols && m->cols[m->ranks[r].by].merge == MERGE_SUM);
            CHECK(m->ranks[r].n > 0);
            CHECK(metric_find(m->ranks[r].name) == NULL);
        }
    }
    CHECK(metric_find("nope") == NULL && metric_find_rank("nope", NULL) == NULL);
    CHECK(metric_nkeys(metric_get(METRIC_ID_CITY)) == 3 && metric_nkeys(metric_get(METRIC_ID_SALES)) == 0);
}

static void test_ratio_cents(check_state *st) {
    CHECK_STATE(st);
    CHECK(metric_ratio_cents(1000, 3) == 333);
    CHECK(metric_ratio_cents(1001, 2) == 501);     /* 500.5 -> 501 */
    CHECK(metric_ratio_cents(-1001, 2) == -501);   /* away from zero */
    CHECK(metric_ratio_cents(1001, -2) == -501);
    CHECK(metric_ratio_cents(999, 2) == 500);
    CHECK(metric_ratio_cents(7, 0) == 0);
    CHECK(metric_ratio_cents(INT64_MAX, 2) == INT64_MAX / 2 + 1);
    CHECK(metric_ratio_cents(INT64_MIN + 1, 2) == (INT64_MIN + 1) / 2 - 1);
    CHECK(metric_ratio_cents(5, 10) == 1 && metric_ratio_cents(4, 10) == 0);
}

static void test_row_derive(check_state *st) {
    CHECK_STATE(st);
    const metric_def *m = metric_get(METRIC_ID_CHANNEL);
    metric_val v[METRIC_MAX_COLS] = {{0}};
    v[2].i = 3, v[3].i = 1000; /* orders, revenue cents */
    metric_row_derive(m, v);
    CHECK(v[4].i == 333);
    v[2].i = 0;
    metric_row_derive(m, v);
    CHECK(v[4].i == 0);
    const metric_def *f = metric_get(METRIC_ID_FUNNEL);
    metric_val x[METRIC_MAX_COLS] = {{0}};
    x[0].i = 8, x[1].i = 2, x[2].i = 0;
    metric_row_derive(f, x);
    CHECK(x[3].d == 0.25 && x[4].d == 0.0 && x[5].d == 0.0);
}

int main(void) {
    check_state st = {0};
    RUN(&st, test_row_derive);
    RUN(&st, test_catalog_well_formed);
    RUN(&st, test_ratio_cents);
    return CHECK_EXIT(&st);
}
