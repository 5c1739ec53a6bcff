/*
 * pqtool — a test and benchmark driver for the parquet module (not part of ecom).
 *
 *   pqtool write SCHEMA.json IN.ndjson OUT.parquet [--codec zstd|snappy|none] [--rg-bytes N]
 *                [--page-bytes N] [--dict-max N] [--no-dict] [--batch N]
 *       SCHEMA.json: [{"name":..,"type":"bool|int32|int64|double|string|date|timestamp|struct|list|
 *                      decimal|binary","optional":true,"fields":[...],"precision":18,"scale":2}]
 *                      (date: int days; timestamp: int micros; decimal: the unscaled int;
 *                      binary: a hex string)
 *       Each NDJSON line is one row object; writes it with ecom's writer (Dremel shredding here).
 *   pqtool bench SCHEMA(views|orders) ROWS OUT.parquet CODEC   synthetic rows, times write + read
 *   pqtool read FILE                                             times a full decode of every column
 *   pqtool columns FILE       every decoded column chunk as it leaves pq_reader_read_column, one JSON
 *       line each: {"rg","leaf","node","max_def","max_rep","def":[..],"rep":[..],"values":[..]} (ints
 *       and floats as numbers, non-finite floats as "nan"/"inf"/"-inf", bytes as hex), after a
 *       first line {"nodes":[{"name","rep","parent","leaf","list","phys"}]} with the schema tree; a chunk that
 *       fails to decode gives {"rg","leaf","error"} and exit 1.
 *
 * Uses jansson (a test oracle only).
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "parquet/parquet.h"

typedef struct {
    int16_t *def, *rep;
    size_t n, cap;
    char *vals;          /* typed values */
    size_t nv, vcap;
} leafbuf;

typedef struct {
    pq_schema *s;
    pq_writer *w;
    leafbuf *lb;
    char **strs;         /* string copies of the batch */
    size_t nstrs, capstrs;
    char err[256];
} tool;

/* CPU time of this process: the benchmark compares per-core cost, and the machine may be
 * shared (wall time would measure the neighbours). */
static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int write_file(void *ctx, const void *p, size_t n, char *err, size_t errlen) {
    if (fwrite(p, 1, n, ctx) != n) {
        snprintf(err, errlen, "write failed");
        return -1;
    }
    return 0;
}

static pq_kind kind_of(const char *t) {
    static const struct { const char *name; pq_kind kind; } kinds[] = {
        {"bool", PQ_BOOL}, {"int32", PQ_INT32}, {"int64", PQ_INT64}, {"double", PQ_DOUBLE},
        {"string", PQ_STRING}, {"date", PQ_DATE}, {"timestamp", PQ_TIMESTAMP}, {"struct", PQ_STRUCT},
        {"list", PQ_LIST}, {"decimal", PQ_DECIMAL}, {"binary", PQ_BINARY}};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (!strcmp(t, kinds[i].name)) return kinds[i].kind;
    return PQ_OTHER;
}

static int add_fields(pq_schema *s, int parent, json_t *arr, char *err) {
    size_t i;
    json_t *f;
    json_array_foreach(arr, i, f) {
        const char *name = json_string_value(json_object_get(f, "name"));
        const char *type = json_string_value(json_object_get(f, "type"));
        if (!name || !type || kind_of(type) == PQ_OTHER) {
            snprintf(err, 256, "bad field spec");
            return -1;
        }
        bool opt = json_is_true(json_object_get(f, "optional"));
        int idx = kind_of(type) == PQ_DECIMAL
                      ? pq_schema_add_decimal(s, parent, name, (int)json_integer_value(json_object_get(f, "precision")),
                                              (int)json_integer_value(json_object_get(f, "scale")), opt, err, 256)
                      : pq_schema_add(s, parent, name, kind_of(type), opt, err, 256);
        if (idx < 0) return -1;
        json_t *sub = json_object_get(f, "fields");
        if (sub && add_fields(s, idx, sub, err)) return -1;
    }
    return 0;
}

static size_t vsize(const pq_node *nd) {
    switch (nd->kind) {
    case PQ_BOOL: return 1;
    case PQ_INT32: case PQ_DATE: return 4;
    case PQ_INT64: case PQ_TIMESTAMP: case PQ_DECIMAL: case PQ_DOUBLE: return 8;
    default: return sizeof(pq_bytes);
    }
}

static void push_level(tool *t, int leaf, int d, int r) {
    leafbuf *b = &t->lb[leaf];
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 1024;
        b->def = realloc(b->def, b->cap * 2);
        b->rep = realloc(b->rep, b->cap * 2);
    }
    b->def[b->n] = (int16_t)d;
    b->rep[b->n] = (int16_t)r;
    b->n++;
}

static void push_value(tool *t, const pq_node *nd, json_t *v) {
    leafbuf *b = &t->lb[nd->leaf];
    size_t vs = vsize(nd);
    if (b->nv == b->vcap) {
        b->vcap = b->vcap ? b->vcap * 2 : 1024;
        b->vals = realloc(b->vals, b->vcap * vs);
    }
    char *dst = b->vals + b->nv * vs;
    b->nv++;
    switch (nd->kind) {
    case PQ_BOOL: *(uint8_t *)dst = json_is_true(v); break;
    case PQ_INT32: case PQ_DATE: *(int32_t *)dst = (int32_t)json_integer_value(v); break;
    case PQ_INT64: case PQ_TIMESTAMP: case PQ_DECIMAL: *(int64_t *)dst = (int64_t)json_integer_value(v); break;
    case PQ_DOUBLE: {
        double x = json_is_integer(v) ? (double)json_integer_value(v) : json_real_value(v);
        if (json_is_string(v)) { /* "nan", "inf", "-inf", "-0" */
            const char *s = json_string_value(v);
            x = !strcmp(s, "nan") ? NAN : !strcmp(s, "inf") ? INFINITY : !strcmp(s, "-inf") ? -INFINITY : -0.0;
        }
        memcpy(dst, &x, 8);
        break;
    }
    default: {
        size_t n = json_string_length(v);
        char *c = malloc(n + 1);
        memcpy(c, json_string_value(v), n);
        if (nd->kind == PQ_BINARY) { /* binary values are given as hex strings */
            for (size_t k = 0; k + 1 < n; k += 2) {
                unsigned x = 0;
                sscanf(json_string_value(v) + k, "%2x", &x);
                c[k / 2] = (char)x;
            }
            n /= 2;
        }
        if (t->nstrs == t->capstrs) {
            t->capstrs = t->capstrs ? t->capstrs * 2 : 1024;
            t->strs = realloc(t->strs, t->capstrs * sizeof(char *));
        }
        t->strs[t->nstrs++] = c;
        pq_bytes pb = {c, (uint32_t)n};
        memcpy(dst, &pb, sizeof pb);
    }
    }
}

static void null_leaves(tool *t, int node, int d, int r) {
    const pq_node *nd = pq_schema_node(t->s, node);
    if (nd->leaf >= 0) {
        push_level(t, nd->leaf, d, r);
        return;
    }
    for (int c = 0; c < nd->n_children; c++) null_leaves(t, nd->children[c], d, r);
}

/* Dremel shredding of value v (NULL = absent) at node with repetition level r. */
static void shred(tool *t, int node, json_t *v, int r) {
    const pq_node *nd = pq_schema_node(t->s, node);
    if (!v || json_is_null(v)) {
        null_leaves(t, node, nd->max_def - 1 < 0 ? 0 : nd->max_def - 1, r);
        return;
    }
    if (nd->kind == PQ_LIST) {
        const pq_node *lst = pq_schema_node(t->s, nd->children[0]);
        if (json_array_size(v) == 0) {
            null_leaves(t, node, nd->max_def, r);
            return;
        }
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e) shred(t, lst->children[0], e, i == 0 ? r : lst->max_rep);
        return;
    }
    if (nd->leaf >= 0) {
        push_level(t, nd->leaf, nd->max_def, r);
        push_value(t, nd, v);
        return;
    }
    for (int c = 0; c < nd->n_children; c++) {
        const pq_node *ch = pq_schema_node(t->s, nd->children[c]);
        shred(t, nd->children[c], json_object_get(v, ch->name), r);
    }
}

static int flush_batch(tool *t, size_t rows) {
    int L = pq_schema_num_leaves(t->s);
    for (int l = 0; l < L; l++) {
        leafbuf *b = &t->lb[l];
        if (pq_write_levels(t->w, l, b->n, b->def, b->rep, b->vals, b->nv, t->err, sizeof t->err)) return -1;
        b->n = b->nv = 0;
    }
    for (size_t i = 0; i < t->nstrs; i++) free(t->strs[i]);
    t->nstrs = 0;
    return pq_writer_end_rows(t->w, rows, t->err, sizeof t->err);
}

static int cmd_write(int argc, char **argv) {
    if (argc < 5) return 2;
    pq_write_opts o = {.codec = PQ_ZSTD, .created_by = "ecom version test"};
    size_t batch = 1000;
    for (int i = 5; i < argc; i++) {
        if (!strcmp(argv[i], "--codec") && i + 1 < argc) {
            const char *c = argv[++i];
            o.codec = !strcmp(c, "snappy") ? PQ_SNAPPY : !strcmp(c, "none") ? PQ_UNCOMPRESSED : PQ_ZSTD;
        } else if (!strcmp(argv[i], "--rg-bytes") && i + 1 < argc) {
            o.row_group_bytes = strtoull(argv[++i], NULL, 10);
        } else if (!strcmp(argv[i], "--page-bytes") && i + 1 < argc) {
            o.page_bytes = strtoull(argv[++i], NULL, 10);
        } else if (!strcmp(argv[i], "--dict-max") && i + 1 < argc) {
            o.dict_max_bytes = strtoull(argv[++i], NULL, 10);
        } else if (!strcmp(argv[i], "--no-dict")) {
            o.no_dictionary = true;
        } else if (!strcmp(argv[i], "--batch") && i + 1 < argc) {
            batch = strtoull(argv[++i], NULL, 10);
        }
    }
    tool t = {0};
    json_error_t je;
    json_t *sch = json_load_file(argv[2], 0, &je);
    if (!sch) {
        fprintf(stderr, "pqtool: schema: %s\n", je.text);
        return 1;
    }
    t.s = pq_schema_new();
    if (add_fields(t.s, -1, sch, t.err)) {
        fprintf(stderr, "pqtool: %s\n", t.err);
        return 1;
    }
    json_decref(sch);
    FILE *in = fopen(argv[3], "r"), *out = fopen(argv[4], "wb");
    if (!in || !out) {
        perror("pqtool");
        return 1;
    }
    t.w = pq_writer_new(t.s, &o, write_file, out, t.err, sizeof t.err);
    if (!t.w) {
        fprintf(stderr, "pqtool: %s\n", t.err);
        return 1;
    }
    pq_writer_add_kv(t.w, "ecom.test", "pqtool", t.err, sizeof t.err);
    int L = pq_schema_num_leaves(t.s);
    t.lb = calloc((size_t)L, sizeof *t.lb);
    char *line = NULL;
    size_t cap = 0, rows = 0;
    ssize_t n;
    int rc = 0;
    while ((n = getline(&line, &cap, in)) > 0) {
        json_t *row = json_loadb(line, (size_t)n, JSON_ALLOW_NUL, &je);
        if (!row) {
            fprintf(stderr, "pqtool: bad row: %s\n", je.text);
            rc = 1;
            break;
        }
        const pq_schema *s = t.s;
        for (int i = 0; i < pq_schema_num_nodes(s); i++) {
            const pq_node *nd = pq_schema_node(s, i);
            if (nd->parent == -1) shred(&t, i, json_object_get(row, nd->name), 0);
        }
        json_decref(row);
        if (++rows == batch) {
            if (flush_batch(&t, rows)) {
                rc = 1;
                break;
            }
            rows = 0;
        }
    }
    if (!rc && rows && flush_batch(&t, rows)) rc = 1;
    if (!rc && pq_writer_close(t.w, t.err, sizeof t.err)) rc = 1;
    if (rc) fprintf(stderr, "pqtool: %s\n", t.err);
    pq_writer_free(t.w);
    for (int l = 0; l < L; l++) {
        free(t.lb[l].def);
        free(t.lb[l].rep);
        free(t.lb[l].vals);
    }
    for (size_t i = 0; i < t.nstrs; i++) free(t.strs[i]);
    free(t.strs);
    free(t.lb);
    free(line);
    pq_schema_free(t.s);
    fclose(in);
    if (fclose(out)) rc = 1;
    return rc;
}

/* ---- bench ---- */

static int read_all(const char *path, double *secs, uint64_t *rows) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)sz);
    if (fread(buf, 1, (size_t)sz, f) != (size_t)sz) return -1;
    fclose(f);
    char err[256];
    double t0 = now();
    pq_reader *r = pq_reader_open_mem(buf, (size_t)sz, NULL, err, sizeof err);
    if (!r) {
        fprintf(stderr, "pqtool: %s\n", err);
        return -1;
    }
    const pq_schema *s = pq_reader_schema(r);
    for (int g = 0; g < pq_reader_num_row_groups(r); g++)
        for (int l = 0; l < pq_schema_num_leaves(s); l++) {
            pq_column c;
            if (pq_reader_read_column(r, g, l, &c, err, sizeof err)) {
                fprintf(stderr, "pqtool: %s\n", err);
                return -1;
            }
            pq_column_free(&c);
        }
    *secs = now() - t0;
    *rows = (uint64_t)pq_reader_num_rows(r);
    pq_reader_close(r);
    free(buf);
    return 0;
}

static int cmd_read(int argc, char **argv) {
    double secs;
    uint64_t rows;
    if (argc < 3 || read_all(argv[2], &secs, &rows)) return 1;
    printf("read rows=%llu secs=%.4f\n", (unsigned long long)rows, secs);
    return 0;
}

static const char *CITIES[] = {"Quito", "Guayaquil", "Cuenca", "Ambato", "Loja", "Manta", "Machala", "Ibarra"};
static const char *CATS[] = {"electronics", "home", "toys", "books", "fashion", "sports", "beauty", "food"};

/* Synthetic rows shaped like ecom's views/orders tables (same generator as bench/bench_parquet.py,
 * driven by a fixed LCG so both sides see the same shapes; values need not match exactly). */
static int cmd_bench(int argc, char **argv) {
    if (argc < 6) return 2;
    bool orders = !strcmp(argv[2], "orders");
    size_t rows = strtoull(argv[3], NULL, 10);
    const char *codec = argv[5];
    char err[256];
    pq_schema *s = pq_schema_new();
    const char *strs[] = {"event_id", "user_id", "session_id", "store_id", "store_type", "city", "province"};
    for (int i = 0; i < 7; i++) pq_schema_add(s, -1, strs[i], PQ_STRING, false, err, sizeof err);
    pq_schema_add(s, -1, "ts", PQ_TIMESTAMP, false, err, sizeof err);
    int loc = pq_schema_add(s, -1, "location", PQ_STRUCT, false, err, sizeof err);
    pq_schema_add(s, loc, "lat", PQ_DOUBLE, false, err, sizeof err);
    pq_schema_add(s, loc, "lon", PQ_DOUBLE, false, err, sizeof err);
    pq_schema_add(s, -1, "device", PQ_STRING, true, err, sizeof err);
    int items = -1;
    if (!orders) {
        pq_schema_add(s, -1, "product_id", PQ_STRING, false, err, sizeof err);
        pq_schema_add(s, -1, "category", PQ_STRING, false, err, sizeof err);
        pq_schema_add(s, -1, "price_cents", PQ_INT64, false, err, sizeof err);
    } else {
        pq_schema_add(s, -1, "order_id", PQ_STRING, false, err, sizeof err);
        pq_schema_add(s, -1, "total_cents", PQ_INT64, false, err, sizeof err);
        items = pq_schema_add(s, -1, "items", PQ_LIST, false, err, sizeof err);
        pq_schema_add(s, items, "product_id", PQ_STRING, false, err, sizeof err);
        pq_schema_add(s, items, "category", PQ_STRING, false, err, sizeof err);
        pq_schema_add(s, items, "quantity", PQ_INT32, false, err, sizeof err);
        pq_schema_add(s, items, "unit_price_cents", PQ_INT64, false, err, sizeof err);
    }
    int L = pq_schema_num_leaves(s);
    /* Generate all columns in memory first (not timed), like pyarrow's Table. */
    uint64_t x = 42;
#define RND() (x = x * 6364136223846793005ULL + 1442695040888963407ULL, (x >> 33))
    size_t B = rows;
    char *text = malloc(rows * 160 + 1024), *tp = text;
    pq_bytes *sv[16] = {0};
    for (int i = 0; i < 16; i++) sv[i] = malloc(rows * 4 * sizeof(pq_bytes));
    int64_t *ts = malloc(rows * sizeof(int64_t)), *price = malloc(rows * sizeof(int64_t));
    double *lat = malloc(rows * 8), *lon = malloc(rows * 8);
    uint8_t *valid = malloc(rows);
    size_t nitems = 0;
    int16_t *idef = malloc(rows * 4 * 2), *irep = malloc(rows * 4 * 2);
    int32_t *qty = malloc(rows * 4 * 4);
    int64_t *up = malloc(rows * 4 * 8);
    uint64_t raw = 0;
    for (size_t i = 0; i < B; i++) {
        unsigned long long r1 = RND(), r2 = RND() & 0xffff, r3 = RND() & 0xfff, r4 = RND() & 0xfff, r5 = RND();
        int n = sprintf(tp, "%08llx-%04llx-4%03llx-a%03llx-%012llx", r1, r2, r3, r4, r5 & 0xffffffffffffULL);
        sv[0][i] = (pq_bytes){tp, (uint32_t)n};
        tp += n;
        n = sprintf(tp, "U%05llu", (unsigned long long)(RND() % 50000));
        sv[1][i] = (pq_bytes){tp, (uint32_t)n};
        tp += n;
        n = sprintf(tp, "S%07llu", (unsigned long long)(i / 8));
        sv[2][i] = (pq_bytes){tp, (uint32_t)n};
        tp += n;
        int st = (int)(RND() % 20);
        n = sprintf(tp, "ST%03d", st);
        sv[3][i] = (pq_bytes){tp, (uint32_t)n};
        tp += n;
        sv[4][i] = st < 5 ? (pq_bytes){"physical_store", 14} : (pq_bytes){"online", 6};
        sv[5][i] = (pq_bytes){CITIES[st % 8], (uint32_t)strlen(CITIES[st % 8])};
        sv[6][i] = (pq_bytes){CITIES[(st + 3) % 8], (uint32_t)strlen(CITIES[(st + 3) % 8])};
        ts[i] = 1764000000000000LL + (int64_t)i * 1000 + (int64_t)(RND() % 1000);
        lat[i] = -2.0 + (double)(RND() % 100000) / 1e5;
        lon[i] = -79.0 - (double)(RND() % 100000) / 1e5;
        valid[i] = st >= 5;
        sv[7][i] = (pq_bytes){"mobile", 6};
        int pid = (int)(RND() % 2000);
        n = sprintf(tp, "P%04d", pid);
        sv[8][i] = (pq_bytes){tp, (uint32_t)n};
        tp += n;
        sv[9][i] = (pq_bytes){CATS[pid % 8], (uint32_t)strlen(CATS[pid % 8])};
        price[i] = 100 + (int64_t)(RND() % 100000);
        raw += 36 + 6 + 9 + 5 + sv[4][i].n + sv[5][i].n + sv[6][i].n + 8 + 16 + 6 + 5 + sv[9][i].n + 8;
        if (orders) {
            int k = 1 + (int)(RND() % 4);
            for (int j = 0; j < k; j++) {
                int p2 = (int)(RND() % 2000);
                n = sprintf(tp, "P%04d", p2);
                sv[10][nitems] = (pq_bytes){tp, (uint32_t)n};
                tp += n;
                sv[11][nitems] = (pq_bytes){CATS[p2 % 8], (uint32_t)strlen(CATS[p2 % 8])};
                qty[nitems] = 1 + (int32_t)(RND() % 5);
                up[nitems] = 100 + (int64_t)(RND() % 50000);
                idef[nitems] = 2; /* items required(0) list(1) element(2), fields required */
                irep[nitems] = j ? 1 : 0;
                raw += 5 + sv[11][nitems].n + 4 + 8;
                nitems++;
            }
        }
    }
    pq_write_opts o = {.codec = !strcmp(codec, "snappy") ? PQ_SNAPPY : !strcmp(codec, "none") ? PQ_UNCOMPRESSED : PQ_ZSTD,
                       .created_by = "ecom version bench"};
    FILE *out = fopen(argv[4], "wb");
    double t0 = now();
    pq_writer *w = pq_writer_new(s, &o, write_file, out, err, sizeof err);
    size_t step = 65536;
    for (size_t a = 0; !orders && a < rows; a += step) {
        size_t m = rows - a < step ? rows - a : step;
        int l = 0;
        for (int c = 0; c < 7; c++) pq_write_values(w, l++, m, sv[c] + a, NULL, err, sizeof err);
        pq_write_values(w, l++, m, ts + a, NULL, err, sizeof err);
        pq_write_values(w, l++, m, lat + a, NULL, err, sizeof err);
        pq_write_values(w, l++, m, lon + a, NULL, err, sizeof err);
        pq_write_values(w, l++, m, sv[7] + a, valid + a, err, sizeof err);
        if (!orders) {
            pq_write_values(w, l++, m, sv[8] + a, NULL, err, sizeof err);
            pq_write_values(w, l++, m, sv[9] + a, NULL, err, sizeof err);
            pq_write_values(w, l++, m, price + a, NULL, err, sizeof err);
        } else {
            pq_write_values(w, l++, m, sv[0] + a, NULL, err, sizeof err);
            pq_write_values(w, l++, m, price + a, NULL, err, sizeof err);
        }
        if (pq_writer_end_rows(w, m, err, sizeof err) && !orders) {
            fprintf(stderr, "pqtool: %s\n", err);
            return 1;
        }
    }
    if (orders) {
        size_t ia = 0;
        for (size_t a = 0; a < rows; a += step) {
            size_t m = rows - a < step ? rows - a : step;
            int l = 0;
            for (int c = 0; c < 7; c++) pq_write_values(w, l++, m, sv[c] + a, NULL, err, sizeof err);
            pq_write_values(w, l++, m, ts + a, NULL, err, sizeof err);
            pq_write_values(w, l++, m, lat + a, NULL, err, sizeof err);
            pq_write_values(w, l++, m, lon + a, NULL, err, sizeof err);
            pq_write_values(w, l++, m, sv[7] + a, valid + a, err, sizeof err);
            pq_write_values(w, l++, m, sv[0] + a, NULL, err, sizeof err);
            pq_write_values(w, l++, m, price + a, NULL, err, sizeof err);
            size_t ib = ia, rr = 0;
            while (ib < nitems && (irep[ib] != 0 || rr < m)) {
                if (irep[ib] == 0) rr++;
                if (rr > m) break;
                ib++;
            }
            size_t ni = ib - ia;
            if (pq_write_levels(w, l++, ni, idef + ia, irep + ia, sv[10] + ia, ni, err, sizeof err) ||
                pq_write_levels(w, l++, ni, idef + ia, irep + ia, sv[11] + ia, ni, err, sizeof err) ||
                pq_write_levels(w, l++, ni, idef + ia, irep + ia, qty + ia, ni, err, sizeof err) ||
                pq_write_levels(w, l++, ni, idef + ia, irep + ia, up + ia, ni, err, sizeof err) ||
                pq_writer_end_rows(w, m, err, sizeof err)) {
                fprintf(stderr, "pqtool: %s\n", err);
                return 1;
            }
            ia = ib;
        }
    }
    if (pq_writer_close(w, err, sizeof err)) {
        fprintf(stderr, "pqtool: %s\n", err);
        return 1;
    }
    fflush(out);
    double wsecs = now() - t0;
    fclose(out);
    pq_writer_free(w);
    double rsecs;
    uint64_t rrows;
    if (read_all(argv[4], &rsecs, &rrows) || rrows != rows) return 1;
    printf("rows=%zu raw_bytes=%llu write_secs=%.4f read_secs=%.4f leaves=%d\n", rows, (unsigned long long)raw, wsecs,
           rsecs, L);
    for (int i = 0; i < 16; i++) free(sv[i]);
    free(text);
    free(ts);
    free(price);
    free(lat);
    free(lon);
    free(valid);
    free(idef);
    free(irep);
    free(qty);
    free(up);
    pq_schema_free(s);
    return 0;
}

/* The whole file at path in a malloc'd buffer (*n bytes), or NULL. */
static uint8_t *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    uint8_t *buf = NULL;
    long sz = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    if (sz >= 0 && fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)sz + 1)) &&
        fread(buf, 1, (size_t)sz, f) != (size_t)sz) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *n = (size_t)sz;
    return buf;
}

static json_t *value_json(const pq_column *c, size_t i) {
    double f;
    switch (c->phys) {
    case PQ_PHYS_BOOLEAN: return json_integer(c->v.b[i]);
    case PQ_PHYS_INT32: return json_integer(c->v.i32[i]);
    case PQ_PHYS_INT64: case PQ_PHYS_INT96: return json_integer(c->v.i64[i]);
    case PQ_PHYS_FLOAT: f = c->v.f32[i]; break;
    case PQ_PHYS_DOUBLE: f = c->v.f64[i]; break;
    default: {
        char *hex = malloc((size_t)c->v.bytes[i].n * 2 + 1);
        if (!hex) return NULL;
        for (uint32_t k = 0; k < c->v.bytes[i].n; k++) sprintf(hex + 2 * k, "%02x", (uint8_t)c->v.bytes[i].p[k]);
        hex[(size_t)c->v.bytes[i].n * 2] = 0;
        json_t *j = json_string(hex);
        free(hex);
        return j;
    }
    }
    if (isnan(f)) return json_string("nan");
    if (isinf(f)) return json_string(f > 0 ? "inf" : "-inf");
    return json_real(f);
}

static json_t *levels_json(const int16_t *lv, size_t n) {
    json_t *a = json_array();
    for (size_t i = 0; lv && i < n; i++) json_array_append_new(a, json_integer(lv[i]));
    return a;
}

/* The oracle side of tests/integ/test_parquet_decode.py: what the column layer delivers. */
static int cmd_columns(int argc, char **argv) {
    if (argc < 3) return 2;
    char err[256];
    size_t n;
    uint8_t *buf = slurp(argv[2], &n);
    pq_reader *r = buf ? pq_reader_open_mem(buf, n, NULL, err, sizeof err) : NULL;
    if (!r) {
        fprintf(stderr, "pqtool: %s: %s\n", argv[2], buf ? err : "cannot read");
        free(buf);
        return 1;
    }
    const pq_schema *s = pq_reader_schema(r);
    json_t *nodes = json_array();
    for (int i = 0; i < pq_schema_num_nodes(s); i++) {
        const pq_node *nd = pq_schema_node(s, i);
        json_array_append_new(nodes, json_pack("{s:s,s:i,s:i,s:i,s:b,s:i}", "name", nd->name, "rep", (int)nd->rep,
                                               "parent", nd->parent, "leaf", nd->leaf, "list", nd->kind == PQ_LIST,
                                               "phys", nd->phys));
    }
    json_t *top = json_pack("{s:o}", "nodes", nodes);
    json_dumpf(top, stdout, JSON_COMPACT);
    putchar('\n');
    json_decref(top);
    int rc = 0;
    for (int g = 0; g < pq_reader_num_row_groups(r) && !rc; g++)
        for (int l = 0; l < pq_schema_num_leaves(s) && !rc; l++) {
            pq_column c;
            const pq_node *nd = pq_schema_node(s, pq_schema_leaf_node(s, l));
            json_t *o = json_pack("{s:i,s:i,s:i,s:i,s:i}", "rg", g, "leaf", l, "node", pq_schema_leaf_node(s, l),
                                  "max_def", nd->max_def, "max_rep", nd->max_rep);
            if (pq_reader_read_column(r, g, l, &c, err, sizeof err)) {
                json_object_set_new(o, "error", json_string(err));
                rc = 1;
            } else {
                json_t *vals = json_array();
                for (size_t i = 0; i < c.nvals; i++) json_array_append_new(vals, value_json(&c, i));
                json_object_set_new(o, "def", levels_json(c.def, c.n));
                json_object_set_new(o, "rep", levels_json(c.rep, c.n));
                json_object_set_new(o, "n", json_integer((json_int_t)c.n));
                json_object_set_new(o, "values", vals);
                pq_column_free(&c);
            }
            json_dumpf(o, stdout, JSON_COMPACT);
            putchar('\n');
            json_decref(o);
        }
    pq_reader_close(r);
    free(buf);
    return rc;
}

int main(int argc, char **argv) {
    int rc = 2;
    if (argc >= 2 && !strcmp(argv[1], "write")) rc = cmd_write(argc, argv);
    else if (argc >= 2 && !strcmp(argv[1], "bench")) rc = cmd_bench(argc, argv);
    else if (argc >= 2 && !strcmp(argv[1], "read")) rc = cmd_read(argc, argv);
    else if (argc >= 2 && !strcmp(argv[1], "columns")) rc = cmd_columns(argc, argv);
    if (rc == 2)
        fprintf(stderr, "usage: pqtool write SCHEMA IN OUT [opts] | bench views|orders ROWS OUT CODEC | read FILE"
                        " | columns FILE\n");
    return rc;
}
