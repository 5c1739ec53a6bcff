/*
 * lake_tz.c — the time zone of the date= partitions (contract in lake.h).
 *
 * Why the C library and a process-wide TZ: glibc has no "local time in zone Z" call, and
 * reading TZif files by hand would duplicate what tzdata + glibc already do right (every
 * transition, leap rules, future POSIX rules). So the command sets TZ once in main() and the
 * lake asks localtime_r/mktime. UTC never touches the C library (the common case, and the
 * stream's hot path).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lake/lake.h"
#include "util/util.h"

#define US_PER_DAY 86400000000LL

static int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

/* A zone name is a relative path of [A-Za-z0-9_+-] components: no "..", no leading '/'
 * (TZ=/etc/passwd or TZ=../x would let a flag read any file). */
static bool name_ok(const char *n) {
    if (!*n || *n == '/' || strstr(n, "..") || strlen(n) >= 64) return false;
    for (const char *p = n; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '/' ||
              *p == '_' || *p == '+' || *p == '-'))
            return false;
    return true;
}

/* The zone's file exists and starts with the TZif magic (what glibc needs to use it: for an
 * unknown name glibc silently falls back to UTC, which must not happen to a user's dates). */
static int zone_file_check(const char *name, char *err, size_t errlen) {
    const char *dir = getenv("TZDIR");
    if (!dir || !*dir) dir = "/usr/share/zoneinfo";
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    char magic[4] = {0};
    size_t got = f ? fread(magic, 1, 4, f) : 0;
    if (f) fclose(f);
    if (got == 4 && !memcmp(magic, "TZif", 4)) return 0;
    FILE *d = fopen(dir, "r");
    if (!d) {
        snprintf(err, errlen, "time zone %s: no time zone database at %s (install the Debian package tzdata)", name,
                 dir);
        return -1;
    }
    fclose(d);
    snprintf(err, errlen, "unknown time zone '%s' (an IANA name such as UTC or America/Guayaquil, from %s)", name, dir);
    return -1;
}

int lake_tz_open(lake_tz *z, const char *name, char *err, size_t errlen) {
    memset(z, 0, sizeof *z);
    if (!name || !*name) name = "UTC";
    if (!strcmp(name, "UTC") || !strcmp(name, "Etc/UTC")) {
        z->utc = true;
        snprintf(z->name, sizeof z->name, "UTC");
        return 0;
    }
    if (!name_ok(name)) {
        snprintf(err, errlen, "unknown time zone '%.80s' (an IANA name such as UTC or America/Guayaquil)", name);
        return -1;
    }
    if (zone_file_check(name, err, errlen)) return -1;
    const char *cur = getenv("TZ");
    if (!cur || strcmp(cur, name)) {
        if (setenv("TZ", name, 1)) {
            snprintf(err, errlen, "time zone %s: cannot set TZ", name);
            return -1;
        }
        tzset();
    }
    snprintf(z->name, sizeof z->name, "%s", name);
    return 0;
}

/* Local date of second t, as days since the epoch; false if the C library cannot say. */
static bool local_day(time_t t, int64_t *day) {
    struct tm tm;
    if (!localtime_r(&t, &tm)) return false;
    *day = time_days_from_civil(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
    return true;
}

/* Caches the [start, end) of the local day holding t, after checking both edges with
 * localtime_r (mktime of a midnight that does not exist, on a DST change at 00:00, may land
 * an hour off: then nothing is cached and every row of that day asks the C library). */
static void cache_day(lake_tz *z, time_t t, int64_t day) {
    struct tm tm;
    if (!localtime_r(&t, &tm)) return;
    struct tm a = {.tm_year = tm.tm_year, .tm_mon = tm.tm_mon, .tm_mday = tm.tm_mday, .tm_isdst = -1};
    struct tm b = a;
    b.tm_mday++;
    time_t lo = mktime(&a), hi = mktime(&b);
    int64_t d0, d1, d2, d3;
    if (lo == (time_t)-1 || hi == (time_t)-1 || lo > t || hi <= t) return;
    if (!local_day(lo, &d0) || !local_day(lo - 1, &d1) || !local_day(hi - 1, &d2) || !local_day(hi, &d3)) return;
    if (d0 != day || d1 == day || d2 != day || d3 == day) return;
    z->lo_us = (int64_t)lo * 1000000;
    z->hi_us = (int64_t)hi * 1000000;
    z->day = day;
}

int64_t lake_day_of(lake_tz *z, int64_t us) {
    if (!z || z->utc) return floor_div(us, US_PER_DAY);
    if (us >= z->lo_us && us < z->hi_us) return z->day;
    time_t t = (time_t)floor_div(us, 1000000);
    int64_t day;
    if (!local_day(t, &day)) return floor_div(us, US_PER_DAY);
    cache_day(z, t, day);
    return day;
}
