/* test_lake.c — the table layer: parts rolled by rows, bytes and age with deterministic names,
 * atomic commits (no hidden leftovers, abort leaves nothing), listing with date pruning,
 * reading parts back through storage, raw schemas. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "lake/lake.h"

static char root[256];

static pq_schema *tiny_schema(void) {
    char err[128];
    pq_schema *s = pq_schema_new();
    pq_schema_add(s, -1, "id", PQ_INT64, false, err, sizeof err);
    pq_schema_add(s, -1, "name", PQ_STRING, true, err, sizeof err);
    return s;
}

static int add_row(lake_table *t, int64_t day, int64_t id, int64_t now) {
    char err[256];
    pq_writer *w = lake_table_writer(t, day, err, sizeof err);
    if (!w) return -1;
    char name[32];
    snprintf(name, sizeof name, "n%lld", (long long)id);
    pq_bytes b = {name, (uint32_t)strlen(name)};
    if (pq_write_values(w, 0, 1, &id, NULL, err, sizeof err) || pq_write_values(w, 1, 1, &b, NULL, err, sizeof err))
        return -1;
    return lake_table_rows_done(t, day, 1, now, err, sizeof err);
}

static int64_t count_rows(storage *s, const char *dir, const char *date, size_t *nfiles) {
    char err[256];
    char **paths;
    size_t n;
    if (lake_list_files(s, dir, date, &paths, &n, err, sizeof err)) return -1;
    int64_t rows = 0;
    for (size_t i = 0; i < n; i++) {
        lake_file *f = lake_file_open(s, paths[i], err, sizeof err);
        if (!f) return -1;
        rows += pq_reader_num_rows(lake_file_reader(f));
        lake_file_close(f);
    }
    *nfiles = n;
    lake_paths_free(paths, n);
    return rows;
}

static void test_rolling_and_names(check_state *st) {
    CHECK_STATE(st);
    char err[256];
    storage *s = storage_open(root, err, sizeof err);
    pq_schema *sc = tiny_schema();
    lake_opts o = {.max_rows = 10, .codec = PQ_SNAPPY};
    for (int pass = 0; pass < 2; pass++) { /* the second pass is a replay: same names */
        lake_table *t = lake_table_open(s, "tbl", sc, "run1", &o, err, sizeof err);
        CHECK(t != NULL);
        for (int i = 0; i < 25; i++) CHECK(add_row(t, 20000 + i % 2, i, 1) == 0);
        CHECK(lake_table_close(t, err, sizeof err) == 0);
    }
    storage_entry e;
    bool ex;
    CHECK(storage_stat(s, "tbl/date=2024-10-04/part-run1-00000.parquet", &e, &ex, err, sizeof err) == 0 && ex);
    CHECK(storage_stat(s, "tbl/date=2024-10-04/part-run1-00001.parquet", &e, &ex, err, sizeof err) == 0 && ex);
    CHECK(storage_stat(s, "tbl/date=2024-10-05/part-run1-00001.parquet", &e, &ex, err, sizeof err) == 0 && ex);
    CHECK(storage_stat(s, "tbl/date=2024-10-04/part-run1-00002.parquet", &e, &ex, err, sizeof err) == 0 && !ex);
    size_t nf;
    CHECK_INTEQ(count_rows(s, "tbl", NULL, &nf), 25);
    CHECK_INTEQ(nf, 4);
    CHECK_INTEQ(count_rows(s, "tbl", "2024-10-05", &nf), 12);
    CHECK_INTEQ(nf, 2);
    storage_list_t l;
    CHECK(storage_list(s, "tbl/date=2024-10-04", &l, err, sizeof err) == 0);
    for (size_t i = 0; i < l.n; i++) CHECK(l.entries[i].name[0] != '.');
    storage_list_free(&l);
    pq_schema_free(sc);
    storage_close(s);
}

static void test_age_bytes_abort(check_state *st) {
    CHECK_STATE(st);
    char err[256];
    storage *s = storage_open(root, err, sizeof err);
    pq_schema *sc = tiny_schema();
    lake_opts o = {.max_age_us = 1000, .codec = PQ_ZSTD};
    lake_table *t = lake_table_open(s, "aged", sc, "a", &o, err, sizeof err);
    CHECK(add_row(t, 1, 1, 5000) == 0);
    CHECK(add_row(t, 1, 2, 5500) == 0);
    CHECK(lake_table_flush_aged(t, 5600, err, sizeof err) == 0);
    CHECK_INTEQ(lake_table_files_committed(t), 0);
    CHECK(lake_table_flush_aged(t, 6000, err, sizeof err) == 0);
    CHECK_INTEQ(lake_table_files_committed(t), 1);
    CHECK(add_row(t, 1, 3, 7000) == 0);
    lake_table_abort(t); /* the open part disappears */
    size_t nf;
    CHECK_INTEQ(count_rows(s, "aged", NULL, &nf), 2);
    storage_list_t l;
    CHECK(storage_list(s, "aged/date=1970-01-02", &l, err, sizeof err) == 0);
    CHECK_INTEQ(l.n, 1);
    storage_list_free(&l);
    lake_opts ob = {.max_bytes = 2000, .codec = PQ_ZSTD};
    t = lake_table_open(s, "bytes", sc, "b", &ob, err, sizeof err);
    for (int i = 0; i < 400; i++) CHECK(add_row(t, 3, i, 1) == 0);
    CHECK(lake_table_close(t, err, sizeof err) == 0);
    CHECK_INTEQ(count_rows(s, "bytes", NULL, &nf), 400);
    CHECK(nf >= 2);
    CHECK(lake_table_open(s, "x", sc, "bad/stem", NULL, err, sizeof err) == NULL);
    pq_schema_free(sc);
    storage_close(s);
}

static void test_raw_schemas(check_state *st) {
    CHECK_STATE(st);
    char err[256];
    int leaves[] = {16, 17, 21, 5};
    for (int i = 0; i < LAKE_RAW_COUNT; i++) {
        pq_schema *s = lake_raw_schema((lake_raw)i, err, sizeof err);
        CHECK(s != NULL);
        if (s) CHECK_INTEQ(pq_schema_num_leaves(s), leaves[i]);
        pq_schema_free(s);
    }
    CHECK_STREQ(lake_raw_name(LAKE_ORDERS), "orders");
    CHECK(lake_raw_of_event(EV_REMOVE_FROM_CART) == LAKE_CART);
}

int main(void) {
    check_state st = {0};
    const char *tmp = getenv("TEST_TMP");
    snprintf(root, sizeof root, "%s/lake-%d", tmp ? tmp : "/tmp", (int)getpid());
    RUN(&st, test_rolling_and_names);
    RUN(&st, test_age_bytes_abort);
    RUN(&st, test_raw_schemas);
    return CHECK_EXIT(&st);
}
