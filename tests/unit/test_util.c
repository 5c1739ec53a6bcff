/* Unit tests for util: time parsing/formatting, durations, flags, buffers. */
#include "check.h"
#include "util/util.h"

#include <stdlib.h>

static void test_time_roundtrip(check_state *st) {
    CHECK_STATE(st);
    int64_t us;
    CHECK(time_parse_rfc3339("2026-11-25T09:30:00.123Z", 24, &us) == 0);
    char out[25];
    time_format_ms(us, out);
    CHECK_STREQ(out, "2026-11-25T09:30:00.123Z");
    CHECK(time_parse_rfc3339("1970-01-01T00:00:00Z", 20, &us) == 0);
    CHECK_INTEQ(us, 0);
    CHECK(time_parse_rfc3339("1969-12-31T23:59:59.999Z", 24, &us) == 0);
    CHECK_INTEQ(us, -1000);
    time_format_ms(us, out);
    CHECK_STREQ(out, "1969-12-31T23:59:59.999Z");
    CHECK(time_parse_rfc3339("2026-11-25T10:30:00+01:00", 25, &us) == 0);
    time_format_ms(us, out);
    CHECK_STREQ(out, "2026-11-25T09:30:00.000Z");
    CHECK(time_parse_rfc3339("2024-02-29", 10, &us) == 0);
    char d[11];
    time_format_date(us, d);
    CHECK_STREQ(d, "2024-02-29");
    char o2[28];
    time_format_us(123456, o2);
    CHECK_STREQ(o2, "1970-01-01T00:00:00.123456Z");
}

static void test_time_rejects(check_state *st) {
    CHECK_STATE(st);
    int64_t us;
    const char *bad[] = {"", "2026-13-01T00:00:00Z", "2025-02-29", "2026-11-25T24:00:00Z",
                         "2026-11-25T09:30:00", "2026-11-25T09:30:00.Z", "2026-11-25X09:30:00Z",
                         "20x6-11-25", "2026-11-25T09:30:00Zjunk", "2026-11-25T09:30:00+0100"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        CHECK(time_parse_rfc3339(bad[i], strlen(bad[i]), &us) == -1);
}

static void test_duration(check_state *st) {
    CHECK_STATE(st);
    int64_t us;
    CHECK(duration_parse("2m", &us) == 0 && us == 120000000);
    CHECK(duration_parse("250ms", &us) == 0 && us == 250000);
    CHECK(duration_parse("1.5h", &us) == 0 && us == 5400000000LL);
    CHECK(duration_parse("10", &us) == 0 && us == 10000000);
    CHECK(duration_parse("-1s", &us) == -1);
    CHECK(duration_parse("5 parsecs", &us) == -1);
    CHECK(duration_parse("", &us) == -1);
}

static void test_flags(check_state *st) {
    CHECK_STATE(st);
    int64_t n = 5;
    double x = 0;
    bool q = false;
    const char *s = NULL;
    int64_t dur = 0;
    flag_spec specs[] = {
        {"count", FLAG_INT, &n, "", 0, 100, NULL},
        {"frac", FLAG_DOUBLE, &x, "", 0, 1, NULL},
        {"quiet", FLAG_BOOL, &q, "", 0, 0, NULL},
        {"out", FLAG_STR, &s, "", 0, 0, NULL},
        {"window", FLAG_DURATION, &dur, "", 0, 0, NULL},
        {0},
    };
    char err[256];
    const char *pos[2];
    int np;
    flags_store fs = {0};
    char *ok[] = {"gen", "--count", "7", "--frac=0.5", "--quiet", "--out", "-", "--window", "1m", "x"};
    CHECK(flags_parse(specs, 10, ok, pos, 2, &np, &fs, err, sizeof err) == FLAGS_OK);
    CHECK(n == 7 && x == 0.5 && q && s && !strcmp(s, "-") && dur == 60000000 && np == 1);
    char *bad1[] = {"gen", "--nope"};
    CHECK(flags_parse(specs, 2, bad1, pos, 2, &np, &fs, err, sizeof err) == FLAGS_ERROR);
    CHECK(strstr(err, "unknown flag") != NULL);
    char *bad2[] = {"gen", "--count", "abc"};
    CHECK(flags_parse(specs, 3, bad2, pos, 2, &np, &fs, err, sizeof err) == FLAGS_ERROR);
    char *bad3[] = {"gen", "--count", "1000"};
    CHECK(flags_parse(specs, 3, bad3, pos, 2, &np, &fs, err, sizeof err) == FLAGS_ERROR);
    char *bad4[] = {"gen", "--count"};
    CHECK(flags_parse(specs, 2, bad4, pos, 2, &np, &fs, err, sizeof err) == FLAGS_ERROR);
    char *bad5[] = {"gen", "--quiet=1"};
    CHECK(flags_parse(specs, 2, bad5, pos, 2, &np, &fs, err, sizeof err) == FLAGS_ERROR);
    char *help[] = {"gen", "--help"};
    CHECK(flags_parse(specs, 2, help, pos, 2, &np, &fs, err, sizeof err) == FLAGS_HELP);
    flags_store_free(&fs);
}

static void test_buf(check_state *st) {
    CHECK_STATE(st);
    buf_t b = {0};
    for (int i = 0; i < 1000; i++) CHECK(buf_printf(&b, "%d,", i) == 0);
    CHECK(b.len > 2000 && b.data[b.len] == '\0');
    CHECK(!strncmp(b.data, "0,1,2,", 6));
    buf_reset(&b);
    CHECK(b.len == 0);
    CHECK(buf_append_char(&b, 'x') == 0 && !strcmp(b.data, "x"));
    buf_free(&b);
    CHECK(b.data == NULL);
}

int main(void) {
    check_state st = {0};
    RUN(&st, test_time_roundtrip);
    RUN(&st, test_time_rejects);
    RUN(&st, test_duration);
    RUN(&st, test_flags);
    RUN(&st, test_buf);
    return CHECK_EXIT(&st);
}
