/* rows.c — dash_rows: a growable array of metric rows whose strings live in chunks that never
 * move (so row pointers stay valid while rows are added). */
#include <stdlib.h>
#include <string.h>

#include "dash/dash.h"

#define CHUNK_BYTES 65536

struct dash_chunk {
    struct dash_chunk *next;
    size_t used, cap;
    char data[];
};

static const char *rows_intern(dash_rows *r, const char *s) {
    if (!s || !*s) return "";
    size_t n = strlen(s) + 1;
    struct dash_chunk *c = r->chunks_;
    if (!c || c->cap - c->used < n) {
        size_t cap = n > CHUNK_BYTES ? n : CHUNK_BYTES;
        struct dash_chunk *nc = malloc(sizeof *nc + cap);
        if (!nc) return NULL;
        nc->used = 0;
        nc->cap = cap;
        nc->next = c;
        r->chunks_ = c = nc;
    }
    char *dst = c->data + c->used;
    memcpy(dst, s, n);
    c->used += n;
    return dst;
}

int dash_rows_add(dash_rows *r, int64_t ws, int64_t we, const char *const s[DASH_ROW_STRS],
                  const int64_t n[DASH_ROW_NUMS]) {
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 256;
        dash_row *nr = realloc(r->rows, cap * sizeof *nr);
        if (!nr) return -1;
        r->rows = nr;
        r->cap = cap;
    }
    dash_row *row = &r->rows[r->n];
    row->ws = ws;
    row->we = we;
    for (int i = 0; i < DASH_ROW_STRS; i++) {
        row->s[i] = rows_intern(r, s ? s[i] : NULL);
        if (!row->s[i]) return -1;
    }
    for (int i = 0; i < DASH_ROW_NUMS; i++) row->n[i] = n ? n[i] : 0;
    r->n++;
    return 0;
}

int dash_rows_extend(dash_rows *dst, const dash_rows *src) {
    for (size_t i = 0; i < src->n; i++) {
        const dash_row *x = &src->rows[i];
        if (dash_rows_add(dst, x->ws, x->we, x->s, x->n)) return -1;
    }
    return 0;
}

void dash_rows_free(dash_rows *r) {
    for (struct dash_chunk *c = r->chunks_, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    free(r->rows);
    memset(r, 0, sizeof *r);
}
