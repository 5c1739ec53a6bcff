/* test_dash.c — the dashboard's layers without HTTP: parameter validation, the JSON helpers, and
 * the engine's aggregation, range resolution and cache over a source that serves rows held in
 * memory (jansson parses every answer: it must be valid JSON). */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "dash/dash_internal.h"

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
    /* invalid UTF-8 (a stray byte, a truncated sequence, an overlong, a surrogate) becomes U+FFFD */
    b = (buf_t){0};
    dash_json_str(&b, "x\xff\xc3(\xe2\x82\xc0\xaf\xed\xa0\x80€\xf0\x9f\x98\x80");
    CHECK_STREQ(b.data, "\"x\\ufffd\\ufffd(\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd€\xf0\x9f\x98\x80\"");
    buf_free(&b);
}

/* ---- a source over rows in memory (catalog rows: strings then values, by column index) ---- */
typedef struct {
    int64_t ws, we;
    int32_t key;
    int64_t v[METRIC_MAX_COLS];
} mem_row;

typedef struct {
    mem_row *rows[METRIC_ID_COUNT];
    size_t n[METRIC_ID_COUNT];
    dash_keys *keys[METRIC_ID_COUNT];
    uint64_t generation;
    int scans;
    bool fail;
    int64_t starts[4];   /* where fresh inputs began (input_starts) */
    size_t nstarts;
    int64_t stops[4];    /* where their data ended (input_stops) */
    size_t nstops;
    int64_t horizon;     /* the funnel horizon category_activity's files state (funnel_horizon) */
    int64_t cat_part_end[2]; /* scale-out: category_activity's newest end per partition (part_ends) */
} mem_src;

static int mem_poll(void *ctx, uint64_t *gen, int64_t latest[METRIC_ID_COUNT], char *err, size_t errlen) {
    mem_src *m = ctx;
    *gen = m->generation;
    for (int t = 0; t < METRIC_ID_COUNT; t++) {
        latest[t] = INT64_MIN;
        for (size_t i = 0; i < m->n[t]; i++)
            if (m->rows[t][i].we > latest[t]) latest[t] = m->rows[t][i].we;
    }
    return 0;
}

static int mem_scan(void *ctx, metric_id t, int64_t from, int64_t to, dash_block_fn fn, void *fnctx, char *err,
                    size_t errlen) {
    mem_src *m = ctx;
    m->scans++;
    if (m->fail) {
        snprintf(err, errlen, "disk on fire");
        return -1;
    }
    for (size_t i = 0; i < m->n[t]; i++) {
        const mem_row *r = &m->rows[t][i];
        dash_block x = {1, &r->ws, &r->we, r->v, &r->key, NULL};   /* one row per block; filtered by fn */
        if (fn(fnctx, &x, from, to)) return -1;
    }
    return 0;
}

static const dash_keys *mem_keys(void *ctx, metric_id t) { return ((mem_src *)ctx)->keys[t]; }

static void mem_destroy(void *ctx) {
    mem_src *m = ctx;
    for (int t = 0; t < METRIC_ID_COUNT; t++) {
        free(m->rows[t]);
        dash_keys_free(m->keys[t]);
    }
    free(m);
}

/* Adds a row of metric t at minute: strs for its KEY/ATTR columns, then its values in order. */
static void add(mem_src *m, metric_id t, int minute, const char *s0, const char *s1, const char *s2, int64_t n0,
                int64_t n1, int64_t n2, int64_t n3, int64_t n4) {
    const metric_def *md = metric_get(t);
    const char *s[3] = {s0 ? s0 : "", s1 ? s1 : "", s2 ? s2 : ""};
    size_t sl[3] = {strlen(s[0]), strlen(s[1]), strlen(s[2])};
    int nstr = dash_metric_nstr(md);
    mem_row r = {T0 + minute * MIN_US, T0 + (minute + 1) * MIN_US, dash_keys_intern(m->keys[t], s, sl), {0}};
    int64_t n[5] = {n0, n1, n2, n3, n4};
    for (int c = nstr, k = 0; c < md->ncols && k < 5; c++)
        if (md->cols[c].merge == MERGE_SUM) r.v[c] = n[k++];
    m->rows[t] = realloc(m->rows[t], (m->n[t] + 1) * sizeof r);
    m->rows[t][m->n[t]++] = r;
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
    for (int t = 0; t < METRIC_ID_COUNT; t++) m->keys[t] = dash_keys_new(metric_get((metric_id)t));
    /* Two partial rows for minute 0 (two partitions, or a correction row), one for 1 and 59. */
    add(m, METRIC_ID_SALES, 0, NULL, NULL, NULL, 2, 3, 1000, 0, 0);
    add(m, METRIC_ID_SALES, 0, NULL, NULL, NULL, 1, 1, 501, 0, 0);
    add(m, METRIC_ID_SALES, 1, NULL, NULL, NULL, 4, 9, 2000, 0, 0);
    add(m, METRIC_ID_SALES, 59, NULL, NULL, NULL, 1, 1, 99, 0, 0);
    add(m, METRIC_ID_SALES, -5, NULL, NULL, NULL, 100, 100, 100000, 0, 0);   /* outside last=1h */
    add(m, METRIC_ID_CATEGORY, 0, "Ropa", NULL, NULL, 10, 2, 1, 3, 300);
    add(m, METRIC_ID_CATEGORY, 1, "Ropa", NULL, NULL, 5, 1, 0, 1, 100);
    add(m, METRIC_ID_CATEGORY, 1, "Hogar", NULL, NULL, 15, 4, 0, 2, 250);
    /* product_activity: views, adds, units_sold, revenue. P4 is never in a minute's top 2 but is
     * the range's most viewed: a sum of per-minute tops would miss it. */
    add(m, METRIC_ID_PRODUCT, 0, "P2", "Two", "Hogar", 7, 0, 1, 500, 0);
    add(m, METRIC_ID_PRODUCT, 0, "P1", "One", "Ropa", 5, 1, 0, 0, 0);
    add(m, METRIC_ID_PRODUCT, 0, "P4", "Four", "Ropa", 4, 0, 0, 0, 0);
    add(m, METRIC_ID_PRODUCT, 1, "P1", "One", "Ropa", 2, 0, 2, 900, 0);
    add(m, METRIC_ID_PRODUCT, 1, "P3", "Three", "Ropa", 6, 0, 0, 0, 0);
    add(m, METRIC_ID_PRODUCT, 1, "P4", "Four", "Ropa", 5, 0, 0, 0, 0);
    add(m, METRIC_ID_PRODUCT, 1, "P1", "Aaa", "Ropa", 0, 1, 0, 0, 0);   /* attr: the smallest wins */
    add(m, METRIC_ID_CITY, 0, "Pichincha", "Quito", "online", 2, 700, 0, 0, 0);
    add(m, METRIC_ID_CITY, 1, "Pichincha", "Quito", "online", 1, 300, 0, 0, 0);
    add(m, METRIC_ID_CITY, 1, "Guayas", "Guayaquil", "online", 5, 1000, 0, 0, 0);
    add(m, METRIC_ID_CHANNEL, 0, "online", "mobile", NULL, 2, 1001, 0, 0, 0);
    add(m, METRIC_ID_CHANNEL, 1, "online", "mobile", NULL, 1, 0, 0, 0, 0);
    add(m, METRIC_ID_FUNNEL, 0, NULL, NULL, NULL, 100, 20, 5, 0, 0);
    add(m, METRIC_ID_FUNNEL, 1, NULL, NULL, NULL, 100, 10, 5, 0, 0);
    return m;
}

/* The source over m, which it owns; the optional callbacks are left NULL for the test to set. */
static dash_source mem_source(mem_src *m) {
    return (dash_source){.ctx = m, .poll = mem_poll, .scan = mem_scan, .keys = mem_keys, .destroy = mem_destroy};
}

static dash_engine *mem_engine(mem_src *m, const dash_engine_opts *o) {
    char err[160];
    return dash_engine_new(mem_source(m), o, err, sizeof err);
}

static const char *row_str(json_t *rows, size_t i, const char *k) {
    return json_string_value(json_object_get(json_array_get(rows, i), k));
}

static long long row_int(json_t *rows, size_t i, const char *k) {
    return json_integer_value(json_object_get(json_array_get(rows, i), k));
}

static void test_engine_numbers(check_state *st) {
    CHECK_STATE(st);
    mem_src *m = fill();
    dash_engine *e = mem_engine(m, NULL);
    CHECK(e != NULL);
    if (!e) return;
    int status = 0;
    json_t *j = ask(e, "/api/sales_per_minute", NULL, NULL, &status);
    CHECK_INTEQ(status, 200);
    json_t *rows = json_object_get(j, "rows");
    CHECK_INTEQ(json_array_size(rows), 3);   /* minutes 0 (merged), 1, 59; not -5 */
    CHECK_INTEQ(row_int(rows, 0, "orders"), 3);
    CHECK_INTEQ(row_int(rows, 0, "items"), 4);
    CHECK(json_real_value(json_object_get(json_array_get(rows, 0), "revenue")) == 15.01);
    CHECK(json_real_value(json_object_get(json_array_get(rows, 0), "avg_ticket")) == 5.0);   /* 1501/3 = 500.33 -> 5.00 */
    CHECK(json_is_true(json_object_get(json_array_get(rows, 0), "final")));
    CHECK_STREQ(row_str(rows, 0, "window_start"), "2025-11-24T16:00:00.000Z");
    CHECK_STREQ(json_string_value(json_object_get(j, "to")), "2025-11-24T17:00:00.000Z");   /* latest end */
    CHECK_INTEQ(json_integer_value(json_object_get(j, "windows")), 3);
    CHECK_INTEQ(json_integer_value(json_object_get(j, "orders")), 8);
    json_decref(j);

    j = ask(e, "/api/summary", NULL, NULL, &status);
    CHECK_INTEQ(json_integer_value(json_object_get(j, "orders")), 8);
    CHECK(json_real_value(json_object_get(j, "revenue")) == 36.0);
    CHECK(json_real_value(json_object_get(j, "avg_ticket")) == 4.5);
    CHECK(json_real_value(json_object_get(j, "conversion")) == 0.05);
    CHECK_INTEQ(json_integer_value(json_object_get(j, "provisional_windows")), 0);
    json_decref(j);

    j = ask(e, "/api/top_products", "limit", "2", &status);
    rows = json_object_get(j, "rows");
    CHECK_INTEQ(json_array_size(rows), 2);
    /* P4: 4 + 5 = 9, P1: 5 + 2 = 7 ties P2: 7 -> product_id order: P1 before P2. */
    CHECK_STREQ(row_str(rows, 0, "product_id"), "P4");
    CHECK_INTEQ(row_int(rows, 0, "views"), 9);
    CHECK_STREQ(row_str(rows, 1, "product_id"), "P1");
    CHECK_STREQ(row_str(rows, 1, "product_name"), "Aaa");
    CHECK_INTEQ(row_int(rows, 1, "adds"), 2);
    CHECK_INTEQ(row_int(rows, 1, "rank"), 2);
    CHECK_INTEQ(json_integer_value(json_object_get(j, "total_rows")), 4);
    json_decref(j);
    j = ask(e, "/api/top_products", NULL, NULL, &status);
    CHECK_INTEQ(json_array_size(json_object_get(j, "rows")), 4);   /* default limit: the rank's n (10) */
    json_decref(j);
    j = ask(e, "/api/top_products_by_revenue", NULL, NULL, &status);
    rows = json_object_get(j, "rows");
    CHECK_STREQ(row_str(rows, 0, "product_id"), "P1");   /* 9.00 */
    CHECK_STREQ(row_str(rows, 1, "product_id"), "P2");   /* 5.00 */
    CHECK_STREQ(row_str(rows, 2, "product_id"), "P3");   /* 0.00 ties P4: by product_id */
    json_decref(j);

    j = ask(e, "/api/sales_by_city", NULL, NULL, &status);
    rows = json_object_get(j, "rows");
    CHECK_INTEQ(json_array_size(rows), 2);   /* Quito's two windows merged */
    CHECK_STREQ(row_str(rows, 0, "city"), "Guayaquil");   /* by orders: 5 > 3 */
    CHECK_INTEQ(row_int(rows, 1, "orders"), 3);
    json_decref(j);

    j = ask(e, "/api/sales_by_channel", NULL, NULL, &status);
    rows = json_object_get(j, "rows");
    CHECK_INTEQ(json_array_size(rows), 1);
    CHECK(json_real_value(json_object_get(json_array_get(rows, 0), "avg_ticket")) == 3.34);   /* 1001 / 3 -> 334 */
    json_decref(j);

    j = ask(e, "/api/category_activity", NULL, NULL, &status);
    rows = json_object_get(j, "rows");
    CHECK_STREQ(row_str(rows, 0, "category"), "Hogar");   /* 15 = 15 */
    CHECK_INTEQ(row_int(rows, 1, "units_sold"), 4);
    json_decref(j);

    j = ask(e, "/api/funnel", NULL, NULL, &status);
    CHECK_INTEQ(json_integer_value(json_object_get(j, "carted")), 30);
    CHECK(json_real_value(json_object_get(j, "view_to_cart_rate")) == 0.15);
    CHECK(fabs(json_real_value(json_object_get(j, "cart_to_purchase_rate")) - 1.0 / 3.0) < 1e-6);
    json_decref(j);

    j = ask(e, "/api/catalog", NULL, NULL, &status);
    CHECK_INTEQ(status, 200);
    CHECK_INTEQ(json_array_size(json_object_get(j, "metrics")), METRIC_ID_COUNT);
    json_decref(j);

    j = ask(e, "/api/nope", NULL, NULL, &status);
    CHECK_INTEQ(status, 404);
    json_decref(j);
    dash_engine_free(e);
}

static void test_engine_cache(check_state *st) {
    CHECK_STATE(st);
    mem_src *m = fill();
    dash_engine_opts o = {.poll_interval_us = 1};
    dash_engine *e = mem_engine(m, &o);
    if (!e) return;
    int status;
    json_decref(ask(e, "/api/summary", "last", "15m", &status));
    int scans = m->scans;
    json_decref(ask(e, "/api/summary", "last", "15m", &status));
    CHECK_INTEQ(m->scans, scans);   /* answered from the cache */
    add(m, METRIC_ID_SALES, 58, NULL, NULL, NULL, 1, 1, 100, 0, 0);
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

/* /status schema 2 parsing: rows by catalog names, money in cents, schema checked. */
static void test_prov_parse(check_state *st) {
    CHECK_STATE(st);
    const char *doc = "{\"schema\":2,\"watermark\":\"2025-11-24T17:00:30.000Z\",\"open_windows\":{"
                      "\"sales_per_minute\":[{\"window_start\":\"2025-11-24T17:00:00.000Z\",\"window_end\":"
                      "\"2025-11-24T17:01:00.000Z\",\"final_at\":\"2025-11-24T17:01:00.000Z\",\"orders\":2,"
                      "\"items\":3,\"revenue\":10.07,\"avg_ticket\":5.04}],"
                      "\"product_activity\":[{\"window_start\":\"2025-11-24T17:00:00.000Z\",\"window_end\":"
                      "\"2025-11-24T17:01:00.000Z\",\"final_at\":null,\"partition\":1,\"product_id\":\"P9\","
                      "\"product_name\":\"Nine\",\"category\":\"Ropa\",\"views\":50,\"adds\":1,\"units_sold\":0,"
                      "\"revenue\":0.00}],\"funnel\":[],\"bogus\":[1]}}";
    dash_prov p = {0};
    char err[200];
    CHECK(dash_prov_parse(doc, strlen(doc), &p, err, sizeof err) == 0);
    CHECK_INTEQ(p.n[METRIC_ID_SALES], 1);
    CHECK_INTEQ(p.rows[METRIC_ID_SALES][0].v[2], 1007);
    CHECK_INTEQ(p.n[METRIC_ID_PRODUCT], 1);
    CHECK_STREQ(p.rows[METRIC_ID_PRODUCT][0].s[1], "Nine");
    CHECK(p.rows[METRIC_ID_PRODUCT][0].final_at == INT64_MIN);
    CHECK_INTEQ(p.max_end, T0 + 61 * MIN_US);
    dash_prov_free(&p);
    const char *old = "{\"watermark\":null,\"open_windows\":[]}";
    CHECK(dash_prov_parse(old, strlen(old), &p, err, sizeof err) == -1);
    CHECK(strstr(err, "schema") != NULL);
    const char *bad = "{\"schema\":2,\"watermark\":null,\"open_windows\":{\"funnel\":[{\"window_start\":\"x\"}]}}";
    CHECK(dash_prov_parse(bad, strlen(bad), &p, err, sizeof err) == -1);
    CHECK_INTEQ(p.n[METRIC_ID_FUNNEL], 0);
    /* a window that ends where (or before) it starts is refused, not merged as a window */
    const char *backwards = "{\"schema\":2,\"watermark\":null,\"open_windows\":{\"funnel\":[{\"window_start\":"
                            "\"2025-11-24T17:01:00.000Z\",\"window_end\":\"2025-11-24T17:01:00.000Z\","
                            "\"final_at\":null,\"viewed\":1,\"carted\":0,\"purchased\":0,\"abandoned\":0}]}}";
    CHECK(dash_prov_parse(backwards, strlen(backwards), &p, err, sizeof err) == -1);
    CHECK(strstr(err, "open_windows.funnel[0]") != NULL);
    CHECK_INTEQ(p.n[METRIC_ID_FUNNEL], 0);
}

/* Open windows merge with committed rows: P9 only open is ranked first, marked provisional; a
 * window both committed and still listed is counted once. */
static void test_prov_merge(check_state *st) {
    CHECK_STATE(st);
    mem_src *m = fill();
    dash_prov p = {0};
    char err[200];
    const char *doc = "{\"schema\":2,\"watermark\":null,\"open_windows\":{\"product_activity\":["
                      "{\"window_start\":\"2025-11-24T16:59:00.000Z\",\"window_end\":\"2025-11-24T17:00:00.000Z\","
                      "\"final_at\":null,\"product_id\":\"P1\",\"product_name\":\"One\",\"category\":\"Ropa\","
                      "\"views\":1000,\"adds\":0,\"units_sold\":0,\"revenue\":0},"
                      "{\"window_start\":\"2025-11-24T17:00:00.000Z\",\"window_end\":\"2025-11-24T17:01:00.000Z\","
                      "\"final_at\":\"2025-11-24T17:01:00.000Z\",\"product_id\":\"P9\",\"product_name\":\"Nine\","
                      "\"category\":\"Ropa\",\"views\":50,\"adds\":1,\"units_sold\":0,\"revenue\":0}]}}";
    CHECK(dash_prov_parse(doc, strlen(doc), &p, err, sizeof err) == 0);
    const metric_def *pm = metric_get(METRIC_ID_PRODUCT);
    dash_source src = {.ctx = m, .poll = mem_poll, .scan = mem_scan, .keys = mem_keys};
    agg_table t;
    CHECK(agg_lake(&src, pm, T0, T0 + 2 * MIN_US, &t, err, sizeof err) == 0);
    /* lake_end 17:00: the 16:59 window (committed) is not added again; 17:00 is out of range. */
    CHECK(agg_add_prov(&t, &p, T0 + 60 * MIN_US, NULL, T0, T0 + 120 * MIN_US) == 0);
    CHECK_INTEQ(t.prov_windows, 1);
    agg_sort(&t, metric_col_index(pm, "views"));
    CHECK_STREQ(t.rows[0].s[0], "P9");
    CHECK(t.rows[0].prov);
    CHECK(!t.rows[1].prov);
    CHECK(t.final_at == T0 + 61 * MIN_US);
    agg_free(&t);
    dash_prov_free(&p);
    mem_destroy(m);
}

/* Scale-out: an open window is compared with its own partition's commits. Minute 1 (16:01) is
 * committed by partition 0 (part_end[0] = 16:02) and still open in partition 1 (no commit of
 * it): partition 1's part is added, partition 0's listing of it (a status a moment old) is not;
 * without part ends, both are left out (the metric's latest end is 16:02). */
static void test_prov_parts(check_state *st) {
    CHECK_STATE(st);
    mem_src *m = fill();
    const char *doc = "{\"schema\":2,\"watermark\":null,\"open_windows\":{\"sales_per_minute\":["
                      "{\"window_start\":\"2025-11-24T16:01:00.000Z\",\"window_end\":\"2025-11-24T16:02:00.000Z\","
                      "\"final_at\":null,\"partition\":1,\"orders\":3,\"items\":3,\"revenue\":1.5},"
                      "{\"window_start\":\"2025-11-24T16:01:00.000Z\",\"window_end\":\"2025-11-24T16:02:00.000Z\","
                      "\"final_at\":null,\"partition\":0,\"orders\":4,\"items\":9,\"revenue\":20}]}}";
    dash_prov p = {0};
    char err[200];
    CHECK(dash_prov_parse(doc, strlen(doc), &p, err, sizeof err) == 0);
    CHECK_INTEQ(p.rows[METRIC_ID_SALES][0].part, 1);
    const metric_def *sm = metric_get(METRIC_ID_SALES);
    dash_source src = {.ctx = m, .poll = mem_poll, .scan = mem_scan, .keys = mem_keys};
    int64_t ends[DASH_MAX_PARTS];
    for (int i = 0; i < DASH_MAX_PARTS; i++) ends[i] = INT64_MIN;
    ends[0] = T0 + 2 * MIN_US;
    int orders = metric_col_index(sm, "orders");
    for (int parted = 0; parted < 2; parted++) {
        agg_table t;
        CHECK(agg_lake(&src, sm, T0 + MIN_US, T0 + 2 * MIN_US, &t, err, sizeof err) == 0);
        CHECK(agg_add_prov(&t, &p, T0 + 2 * MIN_US, parted ? ends : NULL, T0, T0 + 60 * MIN_US) == 0);
        CHECK_INTEQ(t.n, 1);
        CHECK_INTEQ(t.rows[0].v[orders], parted ? 4 + 3 : 4);
        CHECK(t.rows[0].prov == (parted == 1));
        CHECK_INTEQ(t.prov_windows, parted ? 1 : 0);
        agg_free(&t);
    }
    dash_prov_free(&p);
    mem_destroy(m);
}

/* A column a status (or file) does not carry is unknown, never 0: a sum with an unknown part is
 * unknown, a known attribute wins over an unknown one, a ratio of an unknown is unknown. */
static void test_unknown_merge(check_state *st) {
    CHECK_STATE(st);
    mem_src *m = fill();
    const char *doc = "{\"schema\":2,\"watermark\":null,\"open_windows\":{\"product_activity\":["
                      "{\"window_start\":\"2025-11-24T18:00:00.000Z\",\"window_end\":\"2025-11-24T18:01:00.000Z\","
                      "\"final_at\":null,\"product_id\":\"P7\",\"product_name\":\"Seven\",\"views\":4,"
                      "\"units_sold\":1,\"revenue\":2.5},"
                      "{\"window_start\":\"2025-11-24T18:01:00.000Z\",\"window_end\":\"2025-11-24T18:02:00.000Z\","
                      "\"final_at\":null,\"product_id\":\"P7\",\"product_name\":\"Seven\",\"category\":\"Ropa\","
                      "\"views\":3,\"adds\":1,\"units_sold\":0,\"revenue\":0}],"
                      "\"funnel\":[{\"window_start\":\"2025-11-24T18:00:00.000Z\",\"window_end\":"
                      "\"2025-11-24T18:01:00.000Z\",\"final_at\":null,\"viewed\":9,\"carted\":3,\"purchased\":1}]}}";
    dash_prov p = {0};
    char err[200];
    CHECK(dash_prov_parse(doc, strlen(doc), &p, err, sizeof err) == 0);
    const metric_def *pm = metric_get(METRIC_ID_PRODUCT), *fm = metric_get(METRIC_ID_FUNNEL);
    dash_source src = {.ctx = m, .poll = mem_poll, .scan = mem_scan, .keys = mem_keys};
    int64_t from = T0 + 120 * MIN_US, to = T0 + 130 * MIN_US;   /* 18:00-18:10: no committed row */
    agg_table t;
    CHECK(agg_lake(&src, pm, from, to, &t, err, sizeof err) == 0);
    CHECK(agg_add_prov(&t, &p, INT64_MIN, NULL, from, to) == 0);
    CHECK_INTEQ(t.n, 1);
    int cat = metric_col_index(pm, "category"), adds = metric_col_index(pm, "adds");
    CHECK_STREQ(t.rows[0].s[cat], "Ropa");
    CHECK(!agg_unknown(pm, &t.rows[0], cat));
    CHECK(agg_unknown(pm, &t.rows[0], adds));
    CHECK(!agg_unknown(pm, &t.rows[0], metric_col_index(pm, "views")));
    CHECK_INTEQ(t.rows[0].v[metric_col_index(pm, "views")], 7);
    agg_free(&t);
    CHECK(agg_lake(&src, fm, from, to, &t, err, sizeof err) == 0);
    CHECK(agg_add_prov(&t, &p, INT64_MIN, NULL, from, to) == 0);
    CHECK_INTEQ(t.n, 1);
    CHECK(agg_unknown(fm, &t.rows[0], metric_col_index(fm, "abandoned")));
    CHECK(agg_unknown(fm, &t.rows[0], metric_col_index(fm, "abandonment_rate")));
    CHECK(!agg_unknown(fm, &t.rows[0], metric_col_index(fm, "cart_to_purchase_rate")));
    agg_free(&t);
    dash_prov_free(&p);
    mem_destroy(m);
}

static size_t mem_starts(void *ctx, const int64_t **starts) {
    mem_src *m = ctx;
    *starts = m->starts;
    return m->nstarts;
}

/* An `ecom run` restarted on its new embedded broker at 16:01:20 holds only what came after
 * that in minute 1: the window is partial, as the lake's first is; the others are not. */
static void test_restart_window_partial(check_state *st) {
    CHECK_STATE(st);
    mem_src *m = fill();
    m->starts[m->nstarts++] = T0 + MIN_US + 20 * 1000000LL;
    char err[160];
    dash_source src = mem_source(m);
    src.input_starts = mem_starts;
    dash_engine *e = dash_engine_new(src, NULL, err, sizeof err);
    CHECK(e != NULL);
    if (!e) return;
    int status = 0;
    json_t *j = ask(e, "/api/sales_per_minute", NULL, NULL, &status);
    json_t *rows = json_object_get(j, "rows");
    CHECK_INTEQ(json_array_size(rows), 3);   /* minutes 0, 1, 59 */
    CHECK(json_is_false(json_object_get(json_array_get(rows, 0), "partial")));
    CHECK(json_is_true(json_object_get(json_array_get(rows, 1), "partial")));
    CHECK(json_is_false(json_object_get(json_array_get(rows, 2), "partial")));
    json_decref(j);
    dash_engine_free(e);
}

static size_t mem_stops(void *ctx, const int64_t **stops) {
    mem_src *m = ctx;
    *stops = m->stops;
    return m->nstops;
}

/* An `ecom run` that stopped at 16:00:40 holds only what came before that in minute 0: partial,
 * "stop"; one that started and stopped inside minute 1: "start_stop"; a stop exactly where
 * minute 59 begins leaves that minute whole (to the next run). The quiet minutes say it too. */
static void test_stop_window_partial(check_state *st) {
    CHECK_STATE(st);
    mem_src *m = fill();
    m->stops[m->nstops++] = T0 + 40 * 1000000LL;
    m->starts[m->nstarts++] = T0 + MIN_US + 10 * 1000000LL;
    m->stops[m->nstops++] = T0 + MIN_US + 30 * 1000000LL;
    m->stops[m->nstops++] = T0 + 59 * MIN_US;
    char err[160];
    dash_source src = mem_source(m);
    src.input_starts = mem_starts;
    src.input_stops = mem_stops;
    dash_engine *e = dash_engine_new(src, NULL, err, sizeof err);
    CHECK(e != NULL);
    if (!e) return;
    int status = 0;
    json_t *j = ask(e, "/api/sales_per_minute", NULL, NULL, &status);
    json_t *rows = json_object_get(j, "rows");
    CHECK_INTEQ(json_array_size(rows), 3);   /* minutes 0, 1, 59 */
    static const char *const want[3] = {"stop", "start_stop", NULL};
    for (size_t i = 0; i < 3 && i < json_array_size(rows); i++) {
        json_t *r = json_array_get(rows, i);
        CHECK(json_is_boolean(json_object_get(r, "partial")) && json_is_true(json_object_get(r, "partial")) == (want[i] != NULL));
        const char *why = json_string_value(json_object_get(r, "partial_why"));
        CHECK(want[i] ? why && !strcmp(why, want[i]) : why == NULL);
    }
    json_decref(j);
    dash_engine_free(e);
}

/* A minute without a sales_per_minute row is a known 0 only when category_activity has it with no
 * unit sold; one it counts units sold in (the sales file was lost) or only the funnel has is
 * missing, with why, and the range's sales totals are then no totals (null), never a $0 sum. */
static mem_src *gaps_fill(bool lost) {
    mem_src *m = calloc(1, sizeof *m);
    m->generation = 1;
    for (int t = 0; t < METRIC_ID_COUNT; t++) m->keys[t] = dash_keys_new(metric_get((metric_id)t));
    add(m, METRIC_ID_SALES, 0, NULL, NULL, NULL, 2, 3, 1000, 0, 0);
    add(m, METRIC_ID_CATEGORY, 0, "Ropa", NULL, NULL, 9, 1, 0, 3, 1000);
    add(m, METRIC_ID_CATEGORY, 1, "Ropa", NULL, NULL, 5, 1, 0, 0, 0);   /* views, no order: quiet */
    add(m, METRIC_ID_CATEGORY, 1, "Hogar", NULL, NULL, 2, 0, 1, 0, 0);
    for (int k = 0; k < 2; k++) add(m, METRIC_ID_FUNNEL, k, NULL, NULL, NULL, 10, 2, 1, 1, 0);
    add(m, METRIC_ID_CHANNEL, 0, "online", "mobile", NULL, 1, 400, 0, 0, 0);   /* 1 + 1 = sales' 2 */
    add(m, METRIC_ID_CHANNEL, 0, "physical_store", "none", NULL, 1, 600, 0, 0, 0);
    if (lost) {
        add(m, METRIC_ID_CHANNEL, 2, "online", "mobile", NULL, 1, 500, 0, 0, 0);   /* sales lost it */
        add(m, METRIC_ID_CATEGORY, 2, "Ropa", NULL, NULL, 4, 1, 0, 2, 500);   /* its sales row is lost */
        add(m, METRIC_ID_FUNNEL, 3, NULL, NULL, NULL, 10, 0, 0, 0, 0);        /* only the funnel has 3 */
    }
    return m;
}

static void test_sales_gaps(check_state *st) {
    CHECK_STATE(st);
    mem_src *m = gaps_fill(true);
    dash_engine *e = mem_engine(m, NULL);
    int status = 0;
    json_t *j = ask(e, "/api/sales_per_minute", "last", "10m", &status);
    CHECK_INTEQ(status, 200);
    CHECK_INTEQ(json_array_size(json_object_get(j, "rows")), 1);
    json_t *q = json_object_get(j, "no_orders"), *mi = json_object_get(j, "missing");
    CHECK_INTEQ(json_array_size(q), 1);
    CHECK_STREQ(row_str(q, 0, "window_start"), "2025-11-24T16:01:00.000Z");
    CHECK(json_is_true(json_object_get(json_array_get(q, 0), "final")));
    CHECK_INTEQ(json_array_size(mi), 2);
    CHECK_STREQ(row_str(mi, 0, "window_start"), "2025-11-24T16:02:00.000Z");
    CHECK_STREQ(row_str(mi, 0, "why"), "units_sold");
    CHECK_INTEQ(row_int(mi, 0, "units_sold"), 2);
    CHECK_STREQ(row_str(mi, 1, "window_start"), "2025-11-24T16:03:00.000Z");
    CHECK_STREQ(row_str(mi, 1, "why"), "no_witness");
    CHECK_INTEQ(json_integer_value(json_object_get(j, "missing_windows")), 2);
    CHECK(json_is_null(json_object_get(j, "revenue")));   /* a sum of part of the range is no total */
    json_decref(j);
    j = ask(e, "/api/summary", "last", "10m", &status);
    CHECK_INTEQ(status, 200);
    CHECK(json_is_null(json_object_get(j, "revenue")));
    CHECK(json_is_null(json_object_get(j, "orders")));
    CHECK(json_is_null(json_object_get(j, "avg_ticket")));
    CHECK_INTEQ(json_integer_value(json_object_get(j, "missing_windows")), 2);
    CHECK_INTEQ(json_integer_value(json_object_get(j, "no_order_windows")), 1);
    json_decref(j);
    /* a keyed table counting orders says in how many minutes it disagrees with sales */
    j = ask(e, "/api/sales_by_channel", "last", "10m", &status);
    CHECK_INTEQ(json_integer_value(json_object_get(j, "disagree_windows")), 1);
    CHECK_STREQ(json_string_value(json_object_get(j, "disagree_with")), "sales_per_minute");
    json_decref(j);
    j = ask(e, "/api/sales_by_city", "last", "10m", &status);   /* no row at all: 2 orders differ */
    CHECK_INTEQ(json_integer_value(json_object_get(j, "disagree_windows")), 1);
    json_decref(j);
    j = ask(e, "/api/category_activity", "last", "10m", &status);   /* its witness is product_activity */
    CHECK_STREQ(json_string_value(json_object_get(j, "disagree_with")), "product_activity");
    json_decref(j);
    dash_engine_free(e);

    e = mem_engine(gaps_fill(false), NULL);
    j = ask(e, "/api/sales_by_channel", "last", "10m", &status);
    CHECK_INTEQ(json_integer_value(json_object_get(j, "disagree_windows")), 0);
    json_decref(j);
    j = ask(e, "/api/summary", "last", "10m", &status);
    CHECK(json_real_value(json_object_get(j, "revenue")) == 10.0);
    CHECK_INTEQ(json_integer_value(json_object_get(j, "orders")), 2);
    CHECK_INTEQ(json_integer_value(json_object_get(j, "missing_windows")), 0);
    CHECK_INTEQ(json_integer_value(json_object_get(j, "no_order_windows")), 1);
    json_decref(j);
    j = ask(e, "/api/sales_per_minute", "last", "10m", &status);
    CHECK_INTEQ(json_array_size(json_object_get(j, "missing")), 0);
    CHECK_INTEQ(json_array_size(json_object_get(j, "no_orders")), 1);
    json_decref(j);
    dash_engine_free(e);
}

/* A lost funnel file and a lost product_activity (or category_activity) file: category_activity
 * witnesses both (gaps.c gaps_funnel, engine.c WITNESSES). Minutes 0-3 have views; the funnel and
 * product_activity lack minute 2 when lost; minute 5 has views but is after the funnel's latest
 * committed end (minute 4's), so its funnel row is not written yet: not missing. */
static mem_src *witness_fill(bool lost) {
    mem_src *m = calloc(1, sizeof *m);
    m->generation = 1;
    for (int t = 0; t < METRIC_ID_COUNT; t++) m->keys[t] = dash_keys_new(metric_get((metric_id)t));
    for (int k = 0; k < 6; k++) {
        if (k == 4) continue;
        add(m, METRIC_ID_CATEGORY, k, "Ropa", NULL, NULL, 7 + k, 2, 0, 1, 1000);
        if (!lost || k != 2) add(m, METRIC_ID_PRODUCT, k, "p1", "Camisa", "Ropa", 7 + k, 2, 1, 1000, 0);
        if (k < 4 && (!lost || k != 2)) add(m, METRIC_ID_FUNNEL, k, NULL, NULL, NULL, 5, 2, 1, 1, 0);
    }
    add(m, METRIC_ID_FUNNEL, 4, NULL, NULL, NULL, 0, 0, 0, 0, 0);   /* the funnel's latest end: minute 4's */
    return m;
}

static int64_t mem_horizon(void *ctx, metric_id t) {
    const mem_src *m = ctx;
    return t == METRIC_ID_CATEGORY ? m->horizon : INT64_MIN;
}

static bool mem_part_ends(void *ctx, metric_id t, int64_t ends[DASH_MAX_PARTS]) {
    const mem_src *m = ctx;
    if (t != METRIC_ID_CATEGORY) return false;
    for (int p = 0; p < DASH_MAX_PARTS; p++) ends[p] = p < 2 ? m->cat_part_end[p] : INT64_MIN;
    return true;
}

/* Every funnel row lost: with the horizon category_activity's files state (2 min), the minutes
 * it counts views in that end by its latest end (minute 5's, 16:06) minus 2 min are missing;
 * without it (an older lake) nothing can be said. */
static void test_lost_funnel_horizon(check_state *st) {
    CHECK_STATE(st);
    for (int known = 0; known < 2; known++) {
        mem_src *m = witness_fill(false);
        m->n[METRIC_ID_FUNNEL] = 0;
        m->horizon = 2 * MIN_US;
        char err[160];
        dash_source src = mem_source(m);
        src.funnel_horizon = known ? mem_horizon : NULL;
        dash_engine *e = dash_engine_new(src, NULL, err, sizeof err);
        int status = 0;
        json_t *j = ask(e, "/api/funnel", "last", "10m", &status);
        CHECK_INTEQ(status, 200);
        json_t *mi = json_object_get(j, "missing");
        CHECK_INTEQ(json_integer_value(json_object_get(j, "missing_windows")), known ? 4 : 0);
        CHECK_INTEQ(json_array_size(mi), known ? 4 : 0);
        if (known) {
            CHECK_STREQ(row_str(mi, 0, "window_start"), "2025-11-24T16:00:00.000Z");
            CHECK_STREQ(row_str(mi, 3, "window_end"), "2025-11-24T16:04:00.000Z");
            CHECK_INTEQ(row_int(mi, 3, "views"), 10);
            CHECK(json_is_null(json_object_get(j, "viewed")));
        }
        json_decref(j);
        dash_engine_free(e);
    }
    /* scale-out: the bound is the earliest partition's end (16:05) minus H: 3 minutes */
    mem_src *m = witness_fill(false);
    m->n[METRIC_ID_FUNNEL] = 0;
    m->horizon = 2 * MIN_US;
    m->cat_part_end[0] = m->rows[METRIC_ID_CATEGORY][m->n[METRIC_ID_CATEGORY] - 1].we;
    m->cat_part_end[1] = m->cat_part_end[0] - MIN_US;
    char err[160];
    dash_source src = mem_source(m);
    src.part_ends = mem_part_ends;
    src.funnel_horizon = mem_horizon;
    dash_engine *e = dash_engine_new(src, NULL, err, sizeof err);
    int status = 0;
    json_t *j = ask(e, "/api/funnel", "last", "10m", &status);
    CHECK_INTEQ(status, 200);
    CHECK_INTEQ(json_integer_value(json_object_get(j, "missing_windows")), 3);
    CHECK_STREQ(row_str(json_object_get(j, "missing"), 2, "window_end"), "2025-11-24T16:03:00.000Z");
    json_decref(j);
    dash_engine_free(e);
}

static void test_lost_witnessed(check_state *st) {
    CHECK_STATE(st);
    dash_engine *e = mem_engine(witness_fill(true), NULL);
    int status = 0;
    json_t *j = ask(e, "/api/funnel", "last", "10m", &status);
    CHECK_INTEQ(status, 200);
    json_t *mi = json_object_get(j, "missing");
    CHECK_INTEQ(json_integer_value(json_object_get(j, "missing_windows")), 1);
    CHECK_INTEQ(json_array_size(mi), 1);
    CHECK_STREQ(row_str(mi, 0, "window_start"), "2025-11-24T16:02:00.000Z");
    CHECK_STREQ(row_str(mi, 0, "why"), "views");
    CHECK_INTEQ(row_int(mi, 0, "views"), 9);
    CHECK(json_is_null(json_object_get(j, "viewed")));   /* the other minutes' sum is no total */
    CHECK(json_is_null(json_object_get(j, "view_to_purchase_rate")));
    CHECK(json_object_get(j, "no_orders") == NULL);
    json_decref(j);
    j = ask(e, "/api/summary", "last", "10m", &status);
    CHECK_INTEQ(json_integer_value(json_object_get(j, "funnel_missing_windows")), 1);
    CHECK(json_is_null(json_object_get(j, "viewed")));
    CHECK(json_is_null(json_object_get(j, "conversion")));
    json_decref(j);
    static const char *const keyed[][2] = {{"/api/category_activity", "product_activity"},
                                           {"/api/product_activity", "category_activity"},
                                           {"/api/top_products", "category_activity"}};
    for (int i = 0; i < 3; i++) {
        j = ask(e, keyed[i][0], "last", "10m", &status);
        CHECK_INTEQ(json_integer_value(json_object_get(j, "disagree_windows")), 1);
        CHECK_STREQ(json_string_value(json_object_get(j, "disagree_with")), keyed[i][1]);
        json_decref(j);
    }
    dash_engine_free(e);

    e = mem_engine(witness_fill(false), NULL);
    j = ask(e, "/api/funnel", "last", "10m", &status);
    CHECK_INTEQ(json_integer_value(json_object_get(j, "missing_windows")), 0);
    CHECK_INTEQ(json_integer_value(json_object_get(j, "viewed")), 20);
    json_decref(j);
    j = ask(e, "/api/summary", "last", "10m", &status);
    CHECK_INTEQ(json_integer_value(json_object_get(j, "funnel_missing_windows")), 0);
    CHECK(json_is_number(json_object_get(j, "conversion")));
    json_decref(j);
    for (int i = 0; i < 3; i++) {
        j = ask(e, keyed[i][0], "last", "10m", &status);
        CHECK_INTEQ(json_integer_value(json_object_get(j, "disagree_windows")), 0);
        json_decref(j);
    }
    dash_engine_free(e);
}

int main(void) {
    check_state st = {0};
    RUN(&st, test_params);
    RUN(&st, test_json);
    RUN(&st, test_engine_numbers);
    RUN(&st, test_engine_cache);
    RUN(&st, test_prov_parse);
    RUN(&st, test_prov_merge);
    RUN(&st, test_prov_parts);
    RUN(&st, test_unknown_merge);
    RUN(&st, test_restart_window_partial);
    RUN(&st, test_stop_window_partial);
    RUN(&st, test_sales_gaps);
    RUN(&st, test_lost_witnessed);
    RUN(&st, test_lost_funnel_horizon);
    return CHECK_EXIT(&st);
}
