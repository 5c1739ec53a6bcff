/* test_lake.c — the table layer: parts rolled by rows, bytes and age with deterministic names,
 * atomic commits (no hidden leftovers, abort leaves nothing), listing with date pruning,
 * reading parts back through storage, raw schemas. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "lake/lake.h"
#include "pipeline/pipeline.h"

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

/* The scale-out file names: what the stream writes by, the dashboard reads back (one rule). */
static void test_part_names(check_state *st) {
    CHECK_STATE(st);
    char pre[32], name[96];
    for (int p = 0; p < 300; p += 37) {
        lake_part_prefix(p, pre, sizeof pre);
        snprintf(name, sizeof name, "sales_per_minute/date=2026-12-01/%s12-g1-0.parquet", pre);
        CHECK_INTEQ(lake_part_of_name(name), p);
    }
    CHECK_INTEQ(lake_part_of_name("views/date=2026-12-01/part-p3-x.parquet"), 3);
    CHECK_INTEQ(lake_part_of_name("views/date=2026-12-01/part-e4-g1-0.parquet"), -1);
    CHECK_INTEQ(lake_part_of_name("part-p-1.parquet"), -1);
    CHECK_INTEQ(lake_part_of_name("part-px.parquet"), -1);
    CHECK_INTEQ(lake_part_of_name("part-p99999999999-s1.parquet"), -1);
    CHECK_INTEQ(lake_part_of_name(""), -1);
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
    int leaves[] = {16, 17, 21, 6};
    for (int i = 0; i < LAKE_RAW_COUNT; i++) {
        pq_schema *s = lake_raw_schema((lake_raw)i, err, sizeof err);
        CHECK(s != NULL);
        if (s) CHECK_INTEQ(pq_schema_num_leaves(s), leaves[i]);
        pq_schema_free(s);
    }
    CHECK_STREQ(lake_raw_name(LAKE_ORDERS), "orders");
    CHECK(lake_raw_of_event(EV_REMOVE_FROM_CART) == LAKE_CART);
}

/* The ingest path's classification: blank (empty, spaces, tabs, CR, LF), event, rejected;
 * the line ending is removed and nothing else; a rejected line keeps its reason and bytes;
 * an event turned down by the caller becomes rejected; lake_line_table names the table. */
static void test_ingest_parse(check_state *st) {
    CHECK_STATE(st);
    lake_ingest *g = lake_ingest_new(NULL);
    CHECK(g != NULL);
    if (!g) return;
    const char *blanks[] = {"", "\n", "\r\n", "  \t \r\n", " \t"};
    lake_line l;
    for (size_t i = 0; i < sizeof blanks / sizeof *blanks; i++) {
        lake_input in = {.p = blanks[i], .n = strlen(blanks[i]), .source = "f", .position = 1};
        lake_ingest_parse(g, &in, &l);
        CHECK(l.kind == LAKE_LINE_BLANK);
        CHECK(lake_line_table(&l) == LAKE_RAW_COUNT);
    }
    const char bad[] = "{\"x\":\"\xff\x00\"}\r\n";
    lake_input in = {.p = bad, .n = sizeof bad - 1, .source = "f", .position = 7};
    lake_ingest_parse(g, &in, &l);
    CHECK(l.kind == LAKE_LINE_REJECTED && l.reason[0]);
    CHECK_INTEQ(l.in.n, sizeof bad - 3);
    CHECK(lake_line_table(&l) == LAKE_REJECTED);
    const char ok[] = "{\"event_id\":\"db26b56d-1838-405c-877a-fa6f95596d4f\",\"event_type\":\"page_view\","
                      "\"timestamp\":\"2026-11-25T09:30:00.006Z\",\"user_id\":\"U003955\",\"session_id\":"
                      "\"S8527567b1e15\",\"store_id\":\"ST000\",\"store_type\":\"online\",\"city\":\"Esmeraldas\","
                      "\"province\":\"Esmeraldas\",\"location\":{\"lat\":0.9682,\"lon\":-79.6517},\"device\":"
                      "\"mobile\",\"product_id\":\"P0134\",\"product_name\":\"Columbia Rain Jacket\",\"category\":"
                      "\"fashion\",\"price\":93.49}\n";
    in = (lake_input){.p = ok, .n = sizeof ok - 1, .source = "f", .position = 8};
    lake_ingest_parse(g, &in, &l);
    CHECK(l.kind == LAKE_LINE_EVENT && l.ev.price_cents == 9349);
    CHECK(lake_line_table(&l) == LAKE_VIEWS);
    lake_line_reject(&l, "timestamp out of range");
    CHECK(l.kind == LAKE_LINE_REJECTED && lake_line_table(&l) == LAKE_REJECTED);
    CHECK_STREQ(l.reason, "timestamp out of range");
    lake_ingest_free(g);
}

/* Dates in a zone: UTC arithmetic (negative instants too), America/Guayaquil (UTC-5, no DST),
 * and zones with DST changes (Europe/Madrid at 02:00/03:00, America/Santiago and
 * America/Havana whose changes happen at midnight): every hour and the seconds around each
 * midnight of 2026 agree with localtime_r (the cache never gives another day). Bad names are
 * refused. */
static int64_t civil_days(int y, int m, int d) {
    struct tm tm = {.tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d};
    return (int64_t)(timegm(&tm) / 86400);
}

/* A start mark is an empty file whose name the one parser of mark names (pipeline.h
 * pipeline_marks_name) reads back; writing one twice is harmless; other names are not marks. */
static void test_input_starts(check_state *st) {
    CHECK_STATE(st);
    char err[256];
    storage *s = storage_open(root, err, sizeof err);
    CHECK(s != NULL);
    if (!s) return;
    CHECK(lake_input_start_mark(s, 1764632400000000, err, sizeof err) == 0);
    CHECK(lake_input_start_mark(s, 1764632000000000, err, sizeof err) == 0);
    CHECK(lake_input_start_mark(s, 1764632000000000, err, sizeof err) == 0);   /* idempotent */
    CHECK(storage_put_atomic(s, LAKE_STARTS_DIR "/notes.txt", "x", 1, err, sizeof err) == 0);
    storage_list_t l = {0};
    CHECK(storage_list(s, LAKE_STARTS_DIR, &l, err, sizeof err) == 0);
    int64_t sum = 0, us;
    size_t marks = 0;
    for (size_t i = 0; i < l.n; i++)
        if (pipeline_marks_name(l.entries[i].name, &us) == 1) marks++, sum += us;
    CHECK_INTEQ(marks, 2);
    CHECK(sum == 1764632000000000 + 1764632400000000);
    CHECK(pipeline_marks_name("00000000000000000001.stop", &us) == 2 && us == 1);
    CHECK(pipeline_marks_name("0000000000000000001.start", &us) == 0);   /* 19 digits */
    CHECK(pipeline_marks_name("00000000000000000001.start~", &us) == 0);
    CHECK(pipeline_marks_name("marks", &us) == 0);
    storage_list_free(&l);
    storage_close(s);
}

static void test_time_zone(check_state *st) {
    CHECK_STATE(st);
    char err[256];
    lake_tz z;
    CHECK(lake_tz_open(&z, NULL, err, sizeof err) == 0 && z.utc);
    CHECK_INTEQ(lake_day_of(&z, -1), -1);
    CHECK_INTEQ(lake_day_of(&z, 0), 0);
    CHECK_INTEQ(lake_day_of(NULL, 86400000000LL - 1), 0);
    CHECK(lake_tz_open(&z, "Mars/Olympus", err, sizeof err) == -1 && strstr(err, "Mars/Olympus"));
    CHECK(lake_tz_open(&z, "../../etc/passwd", err, sizeof err) == -1);
    CHECK(lake_tz_open(&z, "/etc/localtime", err, sizeof err) == -1);
    CHECK(lake_tz_open(&z, "America/Guayaquil", err, sizeof err) == 0 && !z.utc);
    int64_t t = 1795575600LL * 1000000; /* 2026-11-25T03:00:00Z = 2026-11-24 22:00 in Guayaquil */
    CHECK_INTEQ(lake_day_of(&z, t), civil_days(2026, 11, 24));
    CHECK_INTEQ(lake_day_of(&z, t + 2 * 3600000000LL - 1), civil_days(2026, 11, 24));
    CHECK_INTEQ(lake_day_of(&z, t + 2 * 3600000000LL), civil_days(2026, 11, 25));
    const char *zones[] = {"Europe/Madrid", "America/Santiago", "America/Havana", "Asia/Kolkata"};
    for (size_t k = 0; k < sizeof zones / sizeof *zones; k++) {
        CHECK(lake_tz_open(&z, zones[k], err, sizeof err) == 0);
        int bad = 0;
        int64_t y0 = civil_days(2026, 1, 1) * 86400;
        for (int64_t s = y0; s < y0 + 366 * 86400; s += 1800) {
            for (int64_t d = -1; d <= 1; d++) {
                time_t tt = (time_t)(s + d);
                struct tm tm;
                localtime_r(&tt, &tm);
                int64_t want = civil_days(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
                bad += lake_day_of(&z, (s + d) * 1000000 + 999999) != want;
            }
        }
        CHECK_INTEQ(bad, 0);
    }
}

int main(void) {
    check_state st = {0};
    const char *tmp = getenv("TEST_TMP");
    snprintf(root, sizeof root, "%s/lake-%d", tmp ? tmp : "/tmp", (int)getpid());
    RUN(&st, test_rolling_and_names);
    RUN(&st, test_part_names);
    RUN(&st, test_age_bytes_abort);
    RUN(&st, test_raw_schemas);
    RUN(&st, test_ingest_parse);
    RUN(&st, test_time_zone);
    RUN(&st, test_input_starts);
    return CHECK_EXIT(&st);
}
