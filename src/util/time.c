/* util/time.c — RFC 3339 parsing/formatting, civil dates, durations. See util.h.
 *
 * Hand-written rather than strptime/timegm: those depend on locale and TZ, are slow on the
 * hot path (every event carries a timestamp), and accept too much. */
#include "util/util.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Howard Hinnant's days_from_civil: exact for the proleptic Gregorian calendar. Inline here
 * for time_parse_rfc3339's fast path, and the exported function below. */
static inline int64_t days_from_civil(int y, int m, int d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int64_t time_days_from_civil(int y, int m, int d) { return days_from_civil(y, m, d); }

void time_civil_from_days(int64_t z, int *y, int *m, int *d) {
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t yy = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int dd = (int)(doy - (153 * mp + 2) / 5 + 1);
    int mm = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yy + (mm <= 2));
    *m = mm;
    *d = dd;
}

/* Inlined at each call so that n is a constant and the loop unrolls (every event's timestamp
 * passes here: the loop as a call was a third of time_parse_rfc3339's instructions). */
static inline __attribute__((always_inline)) int digits(const char *s, int n, int *out) {
    int v = 0;
    for (int i = 0; i < n; i++) {
        unsigned dg = (unsigned)((unsigned char)s[i] - '0');
        if (dg > 9) return -1;
        v = v * 10 + (int)dg;
    }
    *out = v;
    return 0;
}

static int days_in_month(int y, int m) {
    static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) return 29;
    return dm[m - 1];
}

/* The form every producer writes, "YYYY-MM-DDTHH:MM:SS.mmmZ" (24 bytes), read as three 8-byte
 * words: the separators compared under a mask, the 17 digits checked and paired in SWAR (see
 * the comments inside). true and *us when s is that form with every field in range, the value
 * the general parse gives; false for anything else, which the general parse then decides.
 * Why: every event's timestamp passes here, and digit by digit it was ~220 instructions. */
static inline bool rfc3339_ms_fast(const char *s, size_t len, int64_t *us) {
    if (len != 24) return false;
    /* per word: the separator bytes (mask and value) and the digit bytes */
    static const uint64_t sep_m[3] = {0xFF0000FF00000000ULL, 0x0000FF0000FF0000ULL, 0xFF000000FF0000FFULL};
    static const uint64_t sep_v[3] = {0x2D00002D00000000ULL, 0x00003A0000540000ULL, 0x5A0000002E00003AULL};
    static const uint64_t ones = 0x0101010101010101ULL;
    uint64_t p[3];
    for (int i = 0; i < 3; i++) {
        uint64_t w;
        memcpy(&w, s + 8 * i, 8);
        if ((w & sep_m[i]) != sep_v[i]) return false;
        uint64_t dm = ~sep_m[i] & (ones * 0xFF), t = w - (dm & (ones * '0'));
        /* a digit byte is 0..9 after the subtraction; > 9 (or >= 0x80) sets its high bit after
         * + 0x76. Borrows and carries run upward from a bad byte only, so the lowest bad byte is
         * always flagged; separator bytes take part in neither. */
        if ((t | (t + (dm & (ones * 0x76)))) & dm & (ones * 0x80)) return false;
        t &= dm;
        p[i] = t * 10 + (t >> 8); /* byte k: 10 * digit k + digit k+1 (<= 99, no carry) */
    }
#define PB(w, k) ((int)((p[w] >> (8 * (k))) & 0xFF))
    int y = PB(0, 0) * 100 + PB(0, 2), mo = PB(0, 5), d = PB(1, 0), h = PB(1, 3), mi = PB(1, 6), se = PB(2, 1);
    int ms = PB(2, 4) * 10 + (s[22] - '0');
#undef PB
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || se > 60) return false;
    *us = ((days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se) * TIME_US_PER_SEC) + (int64_t)ms * 1000;
    return true;
}

int time_parse_rfc3339(const char *s, size_t len, int64_t *us) {
    if (rfc3339_ms_fast(s, len, us)) return 0;
    int y, mo, d, h = 0, mi = 0, se = 0;
    if (len < 10 || digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) || s[7] != '-' ||
        digits(s + 8, 2, &d))
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo)) return -1;
    int64_t frac = 0, off = 0;
    size_t i = 10;
    if (len > 10) {
        if (len < 20 || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || digits(s + 11, 2, &h) ||
            s[13] != ':' || digits(s + 14, 2, &mi) || s[16] != ':' || digits(s + 17, 2, &se))
            return -1;
        if (h > 23 || mi > 59 || se > 60) return -1;
        i = 19;
        if (s[i] == '.') {
            i++;
            static const int64_t scale[6] = {100000, 10000, 1000, 100, 10, 1};
            int nd = 0;
            while (i < len && s[i] >= '0' && s[i] <= '9') {
                if (nd < 6) frac += (s[i] - '0') * scale[nd];
                nd++;
                i++;
            }
            if (nd == 0) return -1;
        }
        if (i >= len) return -1;
        if (s[i] == 'Z' || s[i] == 'z') {
            i++;
        } else if (s[i] == '+' || s[i] == '-') {
            int oh, om;
            if (len - i < 6 || digits(s + i + 1, 2, &oh) || s[i + 3] != ':' || digits(s + i + 4, 2, &om) ||
                oh > 23 || om > 59)
                return -1;
            off = (int64_t)(oh * 60 + om) * 60 * TIME_US_PER_SEC;
            if (s[i] == '+') off = -off;
            i += 6;
        } else {
            return -1;
        }
    }
    if (i != len) return -1;
    int64_t days = days_from_civil(y, mo, d);
    *us = ((days * 86400 + h * 3600 + mi * 60 + se) * TIME_US_PER_SEC) + frac + off;
    return 0;
}

static int64_t floor_div(int64_t a, int64_t b) {
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) q--;
    return q;
}

static void put2(char *p, int v) { p[0] = (char)('0' + v / 10); p[1] = (char)('0' + v % 10); }

/* Writes "YYYY-MM-DDTHH:MM:SS" (19 chars) and returns the sub-second microseconds. */
static int64_t format_base(int64_t us, char *out) {
    int64_t secs = floor_div(us, TIME_US_PER_SEC);
    int64_t sub = us - secs * TIME_US_PER_SEC;
    int64_t days = floor_div(secs, 86400);
    int64_t sod = secs - days * 86400;
    int y, m, d;
    time_civil_from_days(days, &y, &m, &d);
    if (y < 0 || y > 9999) y = y < 0 ? 0 : 9999;
    out[0] = (char)('0' + y / 1000);
    out[1] = (char)('0' + y / 100 % 10);
    out[2] = (char)('0' + y / 10 % 10);
    out[3] = (char)('0' + y % 10);
    out[4] = '-'; put2(out + 5, m); out[7] = '-'; put2(out + 8, d);
    out[10] = 'T';
    put2(out + 11, (int)(sod / 3600)); out[13] = ':';
    put2(out + 14, (int)(sod / 60 % 60)); out[16] = ':';
    put2(out + 17, (int)(sod % 60));
    return sub;
}

void time_format_ms(int64_t us, char out[25]) {
    int64_t sub = format_base(us, out) / 1000;
    out[19] = '.';
    out[20] = (char)('0' + sub / 100);
    out[21] = (char)('0' + sub / 10 % 10);
    out[22] = (char)('0' + sub % 10);
    out[23] = 'Z';
    out[24] = '\0';
}

void time_format_us(int64_t us, char out[28]) {
    int64_t sub = format_base(us, out);
    out[19] = '.';
    for (int i = 25; i >= 20; i--) { out[i] = (char)('0' + sub % 10); sub /= 10; }
    out[26] = 'Z';
    out[27] = '\0';
}

void time_format_date(int64_t us, char out[11]) {
    char tmp[25];
    time_format_ms(us, tmp);
    memcpy(out, tmp, 10);
    out[10] = '\0';
}

int64_t time_now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * TIME_US_PER_SEC + ts.tv_nsec / 1000;
}

int64_t time_mono_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * TIME_US_PER_SEC + ts.tv_nsec / 1000;
}

int duration_parse(const char *s, int64_t *us) {
    if (!s || !*s) return -1;
    char *end;
    double v = strtod(s, &end);
    if (end == s || v < 0 || v != v) return -1;
    double mult;
    if (!strcmp(end, "") || !strcmp(end, "s")) mult = 1e6;
    else if (!strcmp(end, "ms")) mult = 1e3;
    else if (!strcmp(end, "us")) mult = 1;
    else if (!strcmp(end, "m")) mult = 60e6;
    else if (!strcmp(end, "h")) mult = 3600e6;
    else if (!strcmp(end, "d")) mult = 86400e6;
    else return -1;
    double r = v * mult;
    if (r > 9.2e18) return -1;
    *us = (int64_t)r;
    return 0;
}
