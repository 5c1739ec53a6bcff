/*
 * lake_layout.c — the lake layout version of a ROOT (contract in lake.h).
 *
 * ROOT/_ecom/lake_version holds "ecom-lake <version>\ntime-zone <zone>\n". Layout 1 (before
 * this file existed) had raw columns `ts`, `price_cents`, `total_cents`, `unit_price_cents`,
 * rejected.raw as STRING and DOUBLE money in metric tables; layout 2 has the event's names,
 * DECIMAL(18,2) money, BINARY rejected bytes and a stated partition zone. A writer refuses
 * any ROOT it would turn into a mix of layouts or of calendars; readers read both. Also the
 * marks of where a fresh input began (LAKE_STARTS_DIR).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lake/lake.h"

#define VERSION_PATH "_ecom/lake_version"

/* True if directory dir (relative to ROOT) holds a date=... partition: a table. */
static int is_table_dir(storage *s, const char *dir, bool *yes, char *err, size_t errlen) {
    storage_list_t l = {0};
    *yes = false;
    if (storage_list(s, dir, &l, err, errlen)) return -1;
    for (size_t i = 0; i < l.n && !*yes; i++) *yes = l.entries[i].is_dir && !strncmp(l.entries[i].name, "date=", 5);
    storage_list_free(&l);
    return 0;
}

/* Layout 1 left tables (directories of date= partitions) or a stream's commit state
 * (_ecom/commits, _ecom/layout, _ecom/parts) without a version file. */
static int has_old_data(storage *s, bool *old, char *err, size_t errlen) {
    static const char *state[] = {"_ecom/commits", "_ecom/layout", "_ecom/parts"};
    *old = false;
    for (size_t i = 0; i < sizeof state / sizeof *state && !*old; i++) {
        storage_entry e;
        if (storage_stat(s, state[i], &e, old, err, errlen)) return -1;
    }
    storage_list_t l = {0};
    if (*old || storage_list(s, "", &l, err, errlen)) return *old ? 0 : -1;
    int rc = 0;
    for (size_t i = 0; i < l.n && !*old && rc == 0; i++)
        if (l.entries[i].is_dir && l.entries[i].name[0] != '_' && l.entries[i].name[0] != '.')
            rc = is_table_dir(s, l.entries[i].name, old, err, errlen);
    storage_list_free(&l);
    return rc;
}

int lake_layout_read(storage *s, int *version, char *zone, size_t zlen, char *err, size_t errlen) {
    storage_entry e;
    bool exists = false;
    if (zlen) zone[0] = 0;
    if (storage_stat(s, VERSION_PATH, &e, &exists, err, errlen)) return -1;
    if (!exists) {
        bool old;
        if (has_old_data(s, &old, err, errlen)) return -1;
        *version = old ? 1 : 0;
        if (old && zlen) snprintf(zone, zlen, "UTC");
        return 0;
    }
    char txt[256] = {0}, z[80] = {0};
    size_t got = 0;
    if (e.size >= sizeof txt) {
        snprintf(err, errlen, "ROOT/%s is not a lake version file", VERSION_PATH);
        return LAKE_REFUSED;
    }
    if (storage_read(s, VERSION_PATH, 0, txt, e.size, &got, err, errlen)) return -1;
    int v = 0, used = 0;
    if (sscanf(txt, "ecom-lake %d\ntime-zone %79s\n%n", &v, z, &used) != 2 || (size_t)used != got || v < 2) {
        snprintf(err, errlen, "ROOT/%s is corrupt (refusing to guess the layout)", VERSION_PATH);
        return LAKE_REFUSED;
    }
    *version = v;
    if (zlen) snprintf(zone, zlen, "%s", z);
    return 0;
}

int lake_layout_open(storage *s, const lake_tz *z, char *err, size_t errlen) {
    int v;
    char zone[80];
    const char *want = z ? z->name : "UTC";
    int rc = lake_layout_read(s, &v, zone, sizeof zone, err, errlen);
    if (rc) return rc;
    if (v == 1) {
        snprintf(err, errlen,
                 "ROOT was written by lake layout 1 (raw columns ts/price_cents, DOUBLE money); this ecom writes "
                 "lake layout %d: use a new --out, or migrate the tables as docs/parquet.md (Migration) shows "
                 "(readers: ecom cat, ecom dash, DuckDB, pyarrow still read layout 1)",
                 LAKE_LAYOUT_VERSION);
        return LAKE_REFUSED;
    }
    if (v > LAKE_LAYOUT_VERSION) {
        snprintf(err, errlen, "ROOT was written by lake layout %d; this ecom writes lake layout %d: use a newer ecom "
                 "or a new --out", v, LAKE_LAYOUT_VERSION);
        return LAKE_REFUSED;
    }
    if (v == LAKE_LAYOUT_VERSION) {
        if (strcmp(zone, want)) {
            snprintf(err, errlen, "ROOT's date= partitions are dates in %s; --time-zone %s would mix two calendars "
                     "in its tables: give --time-zone %s, or a new --out", zone, want, zone);
            return LAKE_REFUSED;
        }
        return 0;
    }
    char txt[160];
    int n = snprintf(txt, sizeof txt, "ecom-lake %d\ntime-zone %s\n", LAKE_LAYOUT_VERSION, want);
    if (storage_put_atomic(s, VERSION_PATH, txt, (size_t)n, err, errlen) == 0) return 0;
    /* Scale-out instances starting together on an empty ROOT write this file at once, through the
     * same temporary name: the loser's rename finds nothing. What counts is what is there now. */
    char e2[256];
    if (lake_layout_read(s, &v, zone, sizeof zone, e2, sizeof e2) == 0 && v == LAKE_LAYOUT_VERSION) {
        if (!strcmp(zone, want)) return 0;
        snprintf(err, errlen, "ROOT's date= partitions are dates in %s; --time-zone %s would mix two calendars "
                 "in its tables: give --time-zone %s, or a new --out", zone, want, zone);
        return LAKE_REFUSED;
    }
    return -1;
}

void lake_part_prefix(int part, char *out, size_t n) { snprintf(out, n, "part-p%04d-s", part); }

int lake_part_of_name(const char *path) {
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    if (strncmp(b, "part-p", 6) != 0) return -1;
    char *end;
    long p = strtol(b + 6, &end, 10);
    return end > b + 6 && (*end == '-' || *end == '.') && p >= 0 && p < INT32_MAX ? (int)p : -1;
}

int lake_input_start_mark(storage *s, int64_t start_us, char *err, size_t errlen) {
    char path[64];
    snprintf(path, sizeof path, "%s/%020lld.start", LAKE_STARTS_DIR, (long long)start_us);
    return storage_put_atomic(s, path, "", 0, err, errlen);
}
