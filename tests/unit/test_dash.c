/* test_dash.c — the dashboard's layers without HTTP: parameter validation, the JSON helpers, and
 * the engine's aggregation, range resolution and cache over a source that serves rows held in
 * memory (jansson parses every answer: it must be valid JSON). */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "dash/dash.h"

#define MIN_US (60 * TIME_US_PER_SEC)
#define T0 (1764000000LL * TIME_US_PER_SEC)   /* 2025-11-24T16:00:00Z, a minute boundary */

static void test_params(check_state *st) {
    CHECK_STATE(st);
    char err[160];
    dash_params p = {0};
    CHECK(dash_params_add(&p, "last", "15m", err, sizeof err) == 0);
    CHECK(dash_params_add(&p, "limit", "5", err, sizeof err) == 0);
    CHECK(dash_params_finish(&p, err, sizeof err) == 0);
    CHECK_INTEQ(p.last_us, 15 * MIN_US);
    CHECK_INTEQ(p.limit, 5);
    p = (dash_params){0};
    CHECK(dash_params_add(&p, "from", "2026-01-01T00:00:00Z", err, sizeof err) == 0);
    CHECK(dash_params_finish(&p, err, sizeof err) == -1);   /* to missing */
    CHECK(dash_params_add(&p, "to", "2026-01-01T01:00:00+01:00", err, sizeof err) == 0);
    CHECK(dash_params_finish(&p, err, sizeof err) == -1);   /* that is midnight UTC: from == to */
    static const char *const bad[][2] = {{"last", "0"},    {"last", "x"},     {"last", ""},   {"last", "-1m"},
                                         {"last", "500d"}, {"limit", "0"},    {"limit", "1e3"}, {"from", "2026-02-30"},
                                         {"to", "yesterday"}, {"bogus", "1"}, {"last", "1h1"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        p = (dash_params){0};
        CHECK(dash_params_add(&p, bad[i][0], bad[i][1], err, sizeof err) == -1);
        CHECK(err[0] != 0);
    }
    p = (dash_params){0};
    CHECK(dash_params_add(&p, "last", "1h", err, sizeof err) == 0);
    CHECK(dash_params_add(&p, "last", "1h", err, sizeof err) == -1);   /* twice */
    p = (dash_params){0};
    CHECK(dash_params_add(&p, "last", "1h", err, sizeof err) == 0);
    CHECK(dash_params_add(&p, "from", "2026-01-01", err, sizeof err) == 0);
    CHECK(dash_params_add(&p, "to", "2026-01-02", err, sizeof err) == 0);
    CHECK(dash_params_finish(&p, err, sizeof err) == -1);   /* last with from/to */
}

static void test_json(check_state *st) {
    CHECK_STATE(st);
    static const char *const good[] = {"{}", "[]", " {\"a\":[1,-2.5e3,true,false,null,\"x\\u00e9\\n\"]} ", "0",
                                       "\"\"", "{\"a\":{\"b\":{}}}"};
    static const char *const bad[] = {"", "{", "{\"a\"}", "{\"a\":}", "[1,]", "01x", "\"\x01\"", "{} {}", "tru",
                                      "\"\\x\"", "[-]", "1.", "\"\\u12\"", "{\"a\":1,}"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) CHECK(dash_json_valid(good[i], strlen(good[i])));
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) CHECK(!dash_json_valid(bad[i], strlen(bad[i])));
    char deep[200];
    memset(deep, '[', 100);
    memset(deep + 100, ']', 100);
    CHECK(!dash_json_valid(deep, 200));   /* nesting bound */
    CHECK(dash_json_valid(deep + 70, 60));
    const char *doc = "{\"a\":1,\"provisional\":{\"x\":[1,2]},\"b\":\"}\"}";
    const char *v;
    size_t vn;
    CHECK(dash_json_member(doc, strlen(doc), "provisional", &v, &vn));
    CHECK(vn == 11 && !memcmp(v, "{\"x\":[1,2]}", 11));
    CHECK(!dash_json_member(doc, strlen(doc), "c", &v, &vn));
    buf_t b = {0};
    dash_json_money(&b, 0);
    buf_append_char(&b, ' ');
    dash_json_money(&b, -5);
    buf_append_char(&b, ' ');
    dash_json_money(&b, 123456);
    buf_append_char(&b, ' ');
    dash_json_str(&b, "a\"b\\c\n\x01é");
    CHECK_STREQ(b.data, "0.00 -0.05 1234.56 \"a\\\"b\\\\c\\u000a\\u0001é\"");
    buf_free(&b);
}

/* ---- a source over rows in memory ---- */
typedef struct {
    dash_rows t[DASH_T_COUNT];
    uint64_t generation;
    int scans;
    bool fail;
} mem_src;

static int mem_poll(void *ctx, uint64_t *gen, int64_t *latest, char *err, size_t errlen) {
    mem_src *m = ctx;
    *gen = m->generation;
    *latest = INT64_MIN;
    for (int t = 0; t < DASH_T_COUNT; t++)
        for (size_t i = 0; i < m->t[t].n; i++)
            if (m->t[t].rows[i].we > *latest) *latest = m->t[t].rows[i].we;
    return 0;
}

static int mem_scan(void *ctx, dash_table t, int64_t from, int64_t to, dash_rows *out, char *err, size_t errlen) {
    mem_src *m = ctx;
    m->scans++;
    if (m->fail) {
        snprintf(err, errlen, "disk on fire");
        return -1;
    }
    for (size_t i = 0; i < m->t[t].n; i++) {
        const dash_row *r = &m->t[t].rows[i];
        if (r->ws >= from && r->ws < to && dash_rows_add(out, r->ws, r->we, r->s, r->n)) return -1;
    }
    return 0;
}

static void mem_destroy(void *ctx) {
    mem_src *m = ctx;
    for (int t = 0; t < DASH_T_COUNT; t++) dash_rows_free(&m->t[t]);
    free(m);
}

static void add(mem_src *m, dash_table t, int minute, const char *s0, const char *s1, const char *s2, int64_t n0,
                int64_t n1, int64_t n2, int64_t n3, int64_t n4) {
    const char *s[3] = {s0, s1, s2};
    int64_t n[5] = {n0, n1, n2, n3, n4};
    dash_rows_add(&m->t[t], T0 + minute * MIN_US, T0 + (minute + 1) * MIN_US, s, n);
}

static json_t *ask(dash_engine *e, const char *path, const char *k1, const char *v1, int *status) {
    dash_params p = {0};
    char err[160];
    if (k1 && dash_params_add(&p, k1, v1, err, sizeof err)) return NULL;
    if (dash_params_finish(&p, err, sizeof err)) return NULL;
    buf_t b = {0};
    *status = dash_engine_handle(e, path, &p, &b);
    json_error_t je;
    json_t *j = json_loadb(b.data ? b.data : "", b.len, 0, &je);
    if (!j) printf("  bad JSON from %s: %s: %.*s\n", path, je.text, (int)b.len, b.data);
    buf_free(&b);
    return j;
}

static mem_src *fill(void) {
    mem_src *m = calloc(1, sizeof *m);
    m->generation = 1;
    /* Two partial rows for minute 0 (as two stream instances write them), one for 1 and 59. */
    add(m, DASH_T_SALES, 0, NULL, NULL, NULL, 2, 3, 1000, 0, 0);
    add(m, DASH_T_SALES, 0, NULL, NULL, NULL, 1, 1, 501, 0, 0);
    add(m, DASH_T_SALES, 1, NULL, NULL, NULL, 4, 9, 2000, 0, 0);
    add(m, DASH_T_SALES, 59, NULL, NULL, NULL, 1, 1, 99, 0, 0);
    add(m, DASH_T_SALES, -5, NULL, NULL, NULL, 100, 100, 100000, 0, 0);   /* outside last=1h */
    add(m, DASH_T_CATEGORY, 0, "Ropa", NULL, NULL, 10, 2, 1, 3, 300);
    add(m, DASH_T_CATEGORY, 1, "Ropa", NULL, NULL, 5, 1, 0, 1, 100);
    add(m, DASH_T_CATEGORY, 1, "Hogar", NULL, NULL, 15, 4, 0, 2, 250);
    add(m, DASH_T_TOP, 0, "P2", "Two", "Hogar", 1, 7, 0, 0, 0);
    add(m, DASH_T_TOP, 0, "P1", "One", "Ropa", 2, 5, 0, 0, 0);
    add(m, DASH_T_TOP, 1, "P1", "One", "Ropa", 1, 2, 0, 0, 0);
    add(m, DASH_T_TOP, 1, "P3", "Three", "Ropa", 2, 1, 0, 0, 0);
    add(m, DASH_T_CITY, 0, "Pichincha", "Quito", "online", 2, 700, 0, 0, 0);
    add(m, DASH_T_CITY, 1, "Pichincha", "Quito", "physical_store", 1, 300, 0, 0, 0);
    add(m, DASH_T_CITY, 1, "Guayas", "Guayaquil", "online", 5, 1000, 0, 0, 0);
    add(m, DASH_T_FUNNEL, 0, NULL, NULL, NULL, 100, 20, 5, 0, 0);
    add(m, DASH_T_FUNNEL, 1, NULL, NULL, NULL, 100, 10, 5, 0, 0);
    return m;
}

static void test_engine_numbers(check_state *st) {
    CHECK_STATE(st);
    mem_src *m = fill();
    char err[160];
    dash_engine *e = dash_engine_new((dash_source){m, mem_poll, mem_scan, NULL, mem_destroy}, NULL, err, sizeof err);
    CHECK(e != NULL);
    if (!e) return;
    int status = 0;
    json_t *j = ask(e, "/api/sales_per_minute", NULL, NULL, &status);
    CHECK_INTEQ(status, 200);
    json_t *rows = json_object_get(j, "rows");
    CHECK_INTEQ(json_array_size(rows), 3);   /* minutes 0 (merged), 1, 59; not -5 */
    json_t *r0 = json_array_get(rows, 0);
    CHECK_INTEQ(json_integer_value(json_object_get(r0, "orders")), 3);
    CHECK_INTEQ(json_integer_value(json_object_get(r0, "items")), 4);
    CHECK(json_real_value(json_object_get(r0, "revenue")) == 15.01);
    CHECK(json_real_value(json_object_get(r0, "avg_ticket")) == 5.0);
    CHECK_STREQ(json_string_value(json_object_get(r0, "window_start")), "2025-11-24T16:00:00.000Z");
    CHECK_STREQ(json_string_value(json_object_get(j, "to")), "2025-11-24T17:00:00.000Z");   /* latest end */
    json_decref(j);

    j = ask(e, "/api/summary", NULL, NULL, &status);
    CHECK_INTEQ(json_integer_value(json_object_get(j, "orders")), 8);
    CHECK(json_real_value(json_object_get(j, "revenue")) == 36.0);
    CHECK(json_real_value(json_object_get(j, "avg_ticket")) == 4.5);
    CHECK(json_real_value(json_object_get(j, "conversion")) == 0.05);
    json_decref(j);

    j = ask(e, "/api/top_products", "limit", "2", &status);
    rows = json_object_get(j, "rows");
    CHECK_INTEQ(json_array_size(rows), 2);
    /* P1: 5 + 2 = 7 ties P2: 7 -> product_id order: P1 first. */
    CHECK_STREQ(json_string_value(json_object_get(json_array_get(rows, 0), "product_id")), "P1");
    CHECK_INTEQ(json_integer_value(json_object_get(json_array_get(rows, 0), "views")), 7);
    CHECK_INTEQ(json_integer_value(json_object_get(json_array_get(rows, 1), "rank")), 2);
    CHECK_STREQ(json_string_value(json_object_get(json_array_get(rows, 1), "product_name")), "Two");
    json_decref(j);

    j = ask(e, "/api/sales_by_city", NULL, NULL, &status);
    rows = json_object_get(j, "rows");
    CHECK_INTEQ(json_array_size(rows), 2);   /* Quito's online and store rows merged */
    CHECK_STREQ(json_string_value(json_object_get(json_array_get(rows, 0), "city")), "Guayaquil");   /* 10.00 = 10.00, G < P */
    CHECK_INTEQ(json_integer_value(json_object_get(json_array_get(rows, 1), "orders")), 3);
    json_decref(j);

    j = ask(e, "/api/category_activity", NULL, NULL, &status);
    rows = json_object_get(j, "rows");
    CHECK_STREQ(json_string_value(json_object_get(json_array_get(rows, 0), "category")), "Hogar");   /* 15 = 15 */
    CHECK_INTEQ(json_integer_value(json_object_get(json_array_get(rows, 1), "units_sold")), 4);
    json_decref(j);

    j = ask(e, "/api/funnel", NULL, NULL, &status);
    CHECK_INTEQ(json_integer_value(json_object_get(j, "carted")), 30);
    CHECK(json_real_value(json_object_get(j, "view_to_cart_rate")) == 0.15);
    CHECK(json_real_value(json_object_get(j, "cart_to_purchase_rate")) == 10.0 / 30.0 ||
          fabs(json_real_value(json_object_get(j, "cart_to_purchase_rate")) - 1.0 / 3.0) < 1e-6);
    json_decref(j);

    j = ask(e, "/api/nope", NULL, NULL, &status);
    CHECK_INTEQ(status, 404);
    json_decref(j);
    dash_engine_free(e);
}

static void test_engine_cache(check_state *st) {
    CHECK_STATE(st);
    mem_src *m = fill();
    char err[160];
    dash_engine_opts o = {.poll_interval_us = 1};
    dash_engine *e = dash_engine_new((dash_source){m, mem_poll, mem_scan, NULL, mem_destroy}, &o, err, sizeof err);
    if (!e) return;
    int status;
    json_decref(ask(e, "/api/summary", "last", "15m", &status));
    int scans = m->scans;
    json_decref(ask(e, "/api/summary", "last", "15m", &status));
    CHECK_INTEQ(m->scans, scans);   /* answered from the cache */
    add(m, DASH_T_SALES, 58, NULL, NULL, NULL, 1, 1, 100, 0, 0);
    m->generation = 2;              /* a new commit */
    json_t *j = ask(e, "/api/summary", "last", "15m", &status);
    CHECK(m->scans > scans);
    CHECK_INTEQ(json_integer_value(json_object_get(j, "orders")), 2);
    json_decref(j);
    m->fail = true;
    m->generation = 3;
    j = ask(e, "/api/funnel", NULL, NULL, &status);
    CHECK_INTEQ(status, 503);
    CHECK(strstr(json_string_value(json_object_get(j, "error")), "disk on fire") != NULL);
    json_decref(j);
    dash_engine_free(e);
}

int main(void) {
    check_state st = {0};
    RUN(&st, test_params);
    RUN(&st, test_json);
    RUN(&st, test_engine_numbers);
    RUN(&st, test_engine_cache);
    return CHECK_EXIT(&st);
}
