/* keys.c — dash_keys: the dictionary of one metric's key tuples (its KEY and ATTR columns) to
 * dense ids. Open addressing on a 64-bit hash of the tuple; the strings of a tuple live in one
 * allocation that never moves, so dash_keys_str pointers stay valid for the dictionary's life. */
#include <stdlib.h>
#include <string.h>

#include "dash/dash.h"

struct dash_keys {
    int nstr;
    char **tuples;       /* [n]: nstr NUL-terminated strings back to back */
    uint64_t *hashes;    /* [n] */
    size_t n, cap;
    int32_t *slots;      /* [nslots]: id + 1, 0 = empty */
    size_t nslots;
};

int dash_metric_nstr(const metric_def *m) {
    int n = 0;
    while (n < m->ncols && m->cols[n].type == METRIC_STR) n++;
    return n;
}

dash_keys *dash_keys_new(const metric_def *m) {
    dash_keys *k = calloc(1, sizeof *k);
    if (!k) return NULL;
    k->nstr = dash_metric_nstr(m);
    return k;
}

void dash_keys_free(dash_keys *k) {
    if (!k) return;
    for (size_t i = 0; i < k->n; i++) free(k->tuples[i]);
    free(k->tuples);
    free(k->hashes);
    free(k->slots);
    free(k);
}

size_t dash_keys_count(const dash_keys *k) { return k->n; }

const char *dash_keys_str(const dash_keys *k, int32_t id, int col) {
    const char *p = k->tuples[id];
    for (int c = 0; c < col; c++) p += strlen(p) + 1;
    return p;
}

/* Hash of the tuple with each string's length mixed in, so ("ab","c") != ("a","bc"). */
static uint64_t tuple_hash(int nstr, const char *const *s, const size_t *n) {
    uint64_t h = 0x9e3779b97f4a7c15ULL;
    for (int i = 0; i < nstr; i++) {
        uint64_t v[2] = {hash64(s[i], n[i]), n[i]};
        h = (h ^ hash64(v, sizeof v)) * 0x100000001b3ULL;
    }
    return h;
}

static bool tuple_equal(const char *t, int nstr, const char *const *s, const size_t *n) {
    for (int i = 0; i < nstr; i++) {
        size_t tl = strlen(t);
        if (tl != n[i] || memcmp(t, s[i], tl)) return false;
        t += tl + 1;
    }
    return true;
}

static int keys_grow(dash_keys *k) {
    size_t ns = k->nslots ? k->nslots * 2 : 64;
    int32_t *slots = calloc(ns, sizeof *slots);
    if (!slots) return -1;
    for (size_t i = 0; i < k->n; i++) {
        size_t j = k->hashes[i] & (ns - 1);
        while (slots[j]) j = (j + 1) & (ns - 1);
        slots[j] = (int32_t)i + 1;
    }
    free(k->slots);
    k->slots = slots;
    k->nslots = ns;
    return 0;
}

static int32_t keys_add(dash_keys *k, uint64_t h, const char *const *s, const size_t *n) {
    if (k->n == k->cap) {
        size_t cap = k->cap ? k->cap * 2 : 64;
        char **t = realloc(k->tuples, cap * sizeof *t);
        if (!t) return -1;
        k->tuples = t;
        uint64_t *hs = realloc(k->hashes, cap * sizeof *hs);
        if (!hs) return -1;
        k->hashes = hs;
        k->cap = cap;
    }
    size_t len = 1;
    for (int i = 0; i < k->nstr; i++) len += n[i] + 1;
    char *t = malloc(len), *p = t;
    if (!t) return -1;
    for (int i = 0; i < k->nstr; i++) {
        memcpy(p, s[i], n[i]);
        p[n[i]] = 0;
        p += n[i] + 1;
    }
    k->tuples[k->n] = t;
    k->hashes[k->n] = h;
    return (int32_t)k->n++;
}

int32_t dash_keys_intern(dash_keys *k, const char *const *s, const size_t *n) {
    if ((k->n + 1) * 2 > k->nslots && keys_grow(k)) return -1;
    uint64_t h = tuple_hash(k->nstr, s, n);
    size_t j = h & (k->nslots - 1);
    for (; k->slots[j]; j = (j + 1) & (k->nslots - 1)) {
        int32_t id = k->slots[j] - 1;
        if (k->hashes[id] == h && tuple_equal(k->tuples[id], k->nstr, s, n)) return id;
    }
    int32_t id = keys_add(k, h, s, n);
    if (id >= 0) k->slots[j] = id + 1;
    return id;
}
