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

/* The 24-byte form "YYYY-MM-DDTHH:MM:SS.mmmZ" (time_parse_rfc3339's SWAR path) against a
 * digit-at-a-time reference: every byte value at every position of a few instants (leap days,
 * a leap second, month ends, bounds), so every separator, digit and range check is hit. */
static bool ts_ref(const char *s, int64_t *us) {
    static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int v[7] = {0}, pos[7] = {0, 5, 8, 11, 14, 17, 20}, len[7] = {4, 2, 2, 2, 2, 2, 3};
    for (int f = 0; f < 7; f++)
        for (int i = 0; i < len[f]; i++) {
            int c = (unsigned char)s[pos[f] + i];
            if (c < '0' || c > '9') return false;
            v[f] = v[f] * 10 + c - '0';
        }
    if (s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || s[13] != ':' ||
        s[16] != ':' || s[19] != '.' || (s[23] != 'Z' && s[23] != 'z'))
        return false;
    int y = v[0], leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > dm[v[1] - 1] + (v[1] == 2 && leap) || v[3] > 23 ||
        v[4] > 59 || v[5] > 60)
        return false;
    *us = (time_days_from_civil(y, v[1], v[2]) * 86400 + v[3] * 3600 + v[4] * 60 + v[5]) * TIME_US_PER_SEC +
          (int64_t)v[6] * 1000;
    return true;
}

static void test_time_ms_form(check_state *st) {
    CHECK_STATE(st);
    const char *bases[] = {"2026-11-25T09:30:00.123Z", "2024-02-29T23:59:60.999Z", "2023-02-28T00:00:00.000Z",
                           "2000-12-31T19:09:59.001Z", "1999-01-31T10:10:10.010Z", "2100-04-30T20:20:20.500Z"};
    long mismatches = 0;
    for (size_t b = 0; b < sizeof bases / sizeof *bases; b++)
        for (int pos = 0; pos < 24; pos++)
            for (int c = 0; c < 256; c++) {
                char s[24];
                memcpy(s, bases[b], 24);
                s[pos] = (char)c;
                int64_t got = 0, want = 0;
                bool ok = ts_ref(s, &want);
                int r = time_parse_rfc3339(s, 24, &got);
                if (r != (ok ? 0 : -1) || (ok && got != want)) mismatches++;
            }
    CHECK_INTEQ(mismatches, 0);
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
    RUN(&st, test_time_ms_form);
    RUN(&st, test_duration);
    RUN(&st, test_flags);
    RUN(&st, test_buf);
    return CHECK_EXIT(&st);
}
