/*
 * pipeline/marks.c — where a fresh input's data begins and ends (ROOT/_ecom/starts), folded so
 * that the directory a reader lists at every poll stays small (pipeline.h "fresh-input marks").
 *
 * Every start of a stream on a fresh input writes <us>.start (lake.h lake_input_start_mark) and
 * every stop that committed everything <us>.stop (pipeline.c). Left alone, the directory grows by
 * one or two entries per run, and the dashboard lists it at every poll. So each start, after its
 * own mark, folds the single marks into one file, ROOT/_ecom/starts/marks:
 *
 *   ecom-marks 1
 *   start 00000001764633600000000
 *   stop 00000001764633700000000
 *
 * written whole (storage_put_atomic), then the single marks it holds are removed. A crash between
 * the two leaves marks in both places: readers take the union (duplicates are one mark). Only the
 * holder of ROOT's lease writes (the stream, after taking it), so folds never race.
 */
#include <stdlib.h>
#include <string.h>

#include "pipeline/pipeline_internal.h"

#define MARKS_PATH LAKE_STARTS_DIR "/" PIPELINE_MARKS_FILE

static int push(int64_t **v, size_t *n, size_t *cap, int64_t x) {
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 16;
        int64_t *nv = realloc(*v, c * sizeof *nv);
        if (!nv) return -1;
        *v = nv;
        *cap = c;
    }
    (*v)[(*n)++] = x;
    return 0;
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Sorts v and drops repeats (a mark both folded and still single after a crash). */
static void sort_unique(int64_t *v, size_t *n) {
    if (*n < 2) return;
    qsort(v, *n, sizeof *v, cmp_i64);
    size_t k = 1;
    for (size_t i = 1; i < *n; i++)
        if (v[i] != v[k - 1]) v[k++] = v[i];
    *n = k;
}

void pipeline_marks_free(pipeline_marks *m) {
    free(m->starts);
    free(m->stops);
    memset(m, 0, sizeof *m);
}

/* Adds one mark of kind ".start"/".stop" or "start"/"stop" (the file's words). */
static int marks_add(pipeline_marks *m, bool stop, int64_t us, size_t caps[2]) {
    return stop ? push(&m->stops, &m->nstops, &caps[1], us) : push(&m->starts, &m->nstarts, &caps[0], us);
}

int pipeline_marks_parse(const char *txt, size_t n, pipeline_marks *m, char *err, size_t errlen) {
    size_t caps[2] = {m->nstarts, m->nstops};
    const char *p = txt, *end = txt + n;
    if (n < 13 || memcmp(p, "ecom-marks 1\n", 13)) goto bad;
    for (p += 13; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) goto bad;
        size_t len = (size_t)(nl - p), w = len == 26 && !memcmp(p, "start ", 6) ? 6 : len == 25 && !memcmp(p, "stop ", 5) ? 5 : 0;
        if (!w || strspn(p + w, "0123456789") != 20) goto bad;
        char num[21];
        memcpy(num, p + w, 20);
        num[20] = 0;
        if (marks_add(m, w == 5, strtoll(num, NULL, 10), caps)) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        p = nl + 1;
    }
    return 0;
bad:
    snprintf(err, errlen, "ROOT/%s is corrupt (not ecom-marks 1 with start/stop lines)", MARKS_PATH);
    return -1;
}

int pipeline_marks_name(const char *name, int64_t *us) {
    char *e;
    long long v = strtoll(name, &e, 10);
    if (e != name + 20 || v < 0) return 0;
    int kind = !strcmp(e, ".start") ? 1 : !strcmp(e, ".stop") ? 2 : 0;
    if (kind) *us = (int64_t)v;
    return kind;
}

/* Adds the single marks (<us>.start, <us>.stop) of the listing l to m. */
static int singles(const storage_list_t *l, pipeline_marks *m, size_t caps[2]) {
    for (size_t i = 0; i < l->n; i++) {
        int64_t us;
        int kind = l->entries[i].is_dir ? 0 : pipeline_marks_name(l->entries[i].name, &us);
        if (kind && marks_add(m, kind == 2, us, caps)) return -1;
    }
    return 0;
}

int pipeline_marks_fold(storage *s, char *err, size_t errlen) {
    storage_list_t l = {0};
    if (storage_list(s, LAKE_STARTS_DIR, &l, err, errlen)) return -1;
    pipeline_marks m = {0};
    size_t caps[2] = {0, 0};
    char *txt = NULL;
    size_t got = 0;
    bool exists = false;
    buf_t b = {0};
    int rc = storage_get_all(s, MARKS_PATH, 64u << 20, &txt, &got, &exists, err, errlen);
    if (rc == 0 && exists) rc = pipeline_marks_parse(txt, got, &m, err, errlen);
    caps[0] = m.nstarts;
    caps[1] = m.nstops;
    size_t before = m.nstarts + m.nstops;
    if (rc == 0 && singles(&l, &m, caps)) {
        snprintf(err, errlen, "out of memory");
        rc = -1;
    }
    if (rc == 0 && m.nstarts + m.nstops > before) {
        sort_unique(m.starts, &m.nstarts);
        sort_unique(m.stops, &m.nstops);
        rc = buf_append_str(&b, "ecom-marks 1\n");
        for (size_t i = 0; i < m.nstarts; i++) rc |= buf_printf(&b, "start %020lld\n", (long long)m.starts[i]);
        for (size_t i = 0; i < m.nstops; i++) rc |= buf_printf(&b, "stop %020lld\n", (long long)m.stops[i]);
        if (rc) snprintf(err, errlen, "out of memory");
        if (rc == 0) rc = storage_put_atomic(s, MARKS_PATH, b.data, b.len, err, errlen);
        for (size_t i = 0; rc == 0 && i < l.n; i++) {   /* folded: the single marks go */
            const char *nm = l.entries[i].name;
            size_t k = strlen(nm);
            if (l.entries[i].is_dir || k < 25 || strspn(nm, "0123456789") != 20 ||
                (strcmp(nm + 20, ".start") && strcmp(nm + 20, ".stop")))
                continue;
            char path[96];
            snprintf(path, sizeof path, "%s/%s", LAKE_STARTS_DIR, nm);
            rc = storage_remove(s, path, err, errlen);
        }
    }
    buf_free(&b);
    free(txt);
    pipeline_marks_free(&m);
    storage_list_free(&l);
    return rc;
}
