/*
 * pq_schema.c — the schema tree shared by writer and reader: nodes mirror the file's schema
 * elements; leaves are numbered in depth-first order; levels are computed on finalize.
 */
#include "parquet/pq_internal.h"

pq_schema *pq_schema_new(void) { return calloc(1, sizeof(pq_schema)); }

void pq_schema_free(pq_schema *s) {
    if (!s) return;
    for (int i = 0; i < s->n; i++) {
        free(s->nodes[i].name);
        free(s->nodes[i].children);
    }
    free(s->nodes);
    free(s->top);
    free(s->leaves);
    free(s);
}

static int push_int(int **arr, int *n, int v) {
    int *a = realloc(*arr, (size_t)(*n + 1) * sizeof(int));
    if (!a) return -1;
    a[(*n)++] = v;
    *arr = a;
    return 0;
}

static bool is_group(pq_kind k) { return k == PQ_STRUCT || k == PQ_LIST || k == PQ_MAP; }

static int phys_of(pq_kind k) {
    switch (k) {
    case PQ_BOOL: return PQ_PHYS_BOOLEAN;
    case PQ_INT32: case PQ_DATE: return PQ_PHYS_INT32;
    case PQ_INT64: case PQ_TIMESTAMP: case PQ_DECIMAL: return PQ_PHYS_INT64;
    case PQ_DOUBLE: return PQ_PHYS_DOUBLE;
    case PQ_STRING: case PQ_BINARY: return PQ_PHYS_BYTE_ARRAY;
    case PQ_FLOAT: return PQ_PHYS_FLOAT;
    case PQ_INT96: return PQ_PHYS_INT96;
    default: return -1;
    }
}

int pq_schema_add_raw(pq_schema *s, int parent, const char *name, size_t name_len, pq_kind kind, pq_rep rep,
                      int phys, char *err, size_t errlen) {
    if (parent < -1 || parent >= s->n || (parent >= 0 && !is_group(s->nodes[parent].kind))) {
        pq_seterr(err, errlen, "bad parent node %d", parent);
        return -1;
    }
    if (s->n >= PQ_MAX_NODES) {
        pq_seterr(err, errlen, "too many schema nodes");
        return -1;
    }
    if (s->n == s->cap) {
        int cap = s->cap ? s->cap * 2 : 16;
        pq_node *nn = realloc(s->nodes, (size_t)cap * sizeof *nn);
        if (!nn) goto oom;
        s->nodes = nn;
        s->cap = cap;
    }
    pq_node *nd = &s->nodes[s->n];
    memset(nd, 0, sizeof *nd);
    nd->name = malloc(name_len + 1);
    if (!nd->name) goto oom;
    memcpy(nd->name, name, name_len);
    nd->name[name_len] = 0;
    nd->kind = kind;
    nd->rep = rep;
    nd->phys = phys;
    nd->parent = parent;
    nd->leaf = -1;
    nd->list_elem = -1;
    nd->ts_unit = 2;
    nd->ts_utc = true;
    nd->converted = -1;
    int idx = s->n;
    if (parent >= 0 ? push_int(&s->nodes[parent].children, &s->nodes[parent].n_children, idx)
                    : push_int(&s->top, &s->n_top, idx)) {
        free(nd->name);
        goto oom;
    }
    s->n++;
    s->finalized = false;
    return idx;
oom:
    pq_seterr(err, errlen, "out of memory");
    return -1;
}

int pq_schema_add(pq_schema *s, int parent, const char *name, pq_kind kind, bool optional, char *err,
                  size_t errlen) {
    if (!name || !*name) {
        pq_seterr(err, errlen, "empty field name");
        return -1;
    }
    if (kind > PQ_BINARY || kind == PQ_DECIMAL) {
        pq_seterr(err, errlen, "field %s: kind not writable%s", name,
                  kind == PQ_DECIMAL ? " (use pq_schema_add_decimal)" : "");
        return -1;
    }
    if (parent >= 0 && parent < s->n && s->nodes[parent].list_elem >= 0) parent = s->nodes[parent].list_elem;
    const int *sib = parent < 0 ? s->top : (parent < s->n ? s->nodes[parent].children : NULL);
    int nsib = parent < 0 ? s->n_top : (parent < s->n ? s->nodes[parent].n_children : 0);
    for (int i = 0; i < nsib; i++)
        if (!strcmp(s->nodes[sib[i]].name, name)) {
            pq_seterr(err, errlen, "duplicate field name %s", name);
            return -1;
        }
    pq_rep rep = optional ? PQ_OPTIONAL : PQ_REQUIRED;
    int idx = pq_schema_add_raw(s, parent, name, strlen(name), kind, rep, phys_of(kind), err, errlen);
    if (idx < 0 || kind != PQ_LIST) return idx;
    int l = pq_schema_add_raw(s, idx, "list", 4, PQ_STRUCT, PQ_REPEATED, -1, err, errlen);
    if (l < 0) return -1;
    int e = pq_schema_add_raw(s, l, "element", 7, PQ_STRUCT, PQ_OPTIONAL, -1, err, errlen);
    if (e < 0) return -1;
    s->nodes[idx].list_elem = e;
    return idx;
}

/* The DECIMAL leaf is added as an INT64 leaf whose kind and annotation are then set, so the
 * name checks and the LIST redirection of pq_schema_add apply to it too. */
int pq_schema_add_decimal(pq_schema *s, int parent, const char *name, int precision, int scale, bool optional,
                          char *err, size_t errlen) {
    if (precision < 1 || precision > 18 || scale < 0 || scale > precision) {
        pq_seterr(err, errlen, "field %s: DECIMAL(%d,%d) does not fit INT64 (precision 1..18, scale 0..precision)",
                  name ? name : "", precision, scale);
        return -1;
    }
    int idx = pq_schema_add(s, parent, name, PQ_INT64, optional, err, errlen);
    if (idx < 0) return -1;
    s->nodes[idx].kind = PQ_DECIMAL;
    s->nodes[idx].precision = precision;
    s->nodes[idx].scale = scale;
    return idx;
}

static int finalize_node(pq_schema *s, int i, int def, int rep, int depth, char *err, size_t errlen) {
    pq_node *nd = &s->nodes[i];
    if (depth > PQ_MAX_DEPTH) {
        pq_seterr(err, errlen, "schema nested too deep");
        return -1;
    }
    nd->max_def = def + (nd->rep != PQ_REQUIRED);
    nd->max_rep = rep + (nd->rep == PQ_REPEATED);
    if (!is_group(nd->kind)) {
        nd->leaf = s->n_leaves;
        if (push_int(&s->leaves, &s->n_leaves, i)) {
            pq_seterr(err, errlen, "out of memory");
            return -1;
        }
        return 0;
    }
    if (nd->n_children == 0) {
        pq_seterr(err, errlen, "group %s has no fields", nd->name);
        return -1;
    }
    for (int c = 0; c < nd->n_children; c++)
        if (finalize_node(s, nd->children[c], nd->max_def, nd->max_rep, depth + 1, err, errlen)) return -1;
    return 0;
}

int pq_schema_finalize(pq_schema *s, char *err, size_t errlen) {
    if (s->finalized) return 0;
    free(s->leaves);
    s->leaves = NULL;
    s->n_leaves = 0;
    if (s->n_top == 0) {
        pq_seterr(err, errlen, "schema has no fields");
        return -1;
    }
    for (int i = 0; i < s->n_top; i++)
        if (finalize_node(s, s->top[i], 0, 0, 1, err, errlen)) return -1;
    s->finalized = true;
    return 0;
}

pq_schema *pq_schema_copy(const pq_schema *src, char *err, size_t errlen) {
    pq_schema *s = pq_schema_new();
    if (!s) goto oom;
    for (int i = 0; i < src->n; i++) {
        const pq_node *o = &src->nodes[i];
        int idx = pq_schema_add_raw(s, o->parent, o->name, strlen(o->name), o->kind, o->rep, o->phys, err, errlen);
        if (idx < 0) {
            pq_schema_free(s);
            return NULL;
        }
        pq_node *nd = &s->nodes[idx];
        nd->type_length = o->type_length;
        nd->ts_unit = o->ts_unit;
        nd->ts_utc = o->ts_utc;
        nd->precision = o->precision;
        nd->scale = o->scale;
        nd->is_unsigned = o->is_unsigned;
        nd->int_bits = o->int_bits;
        nd->logical = o->logical;
        nd->converted = o->converted;
        nd->list_elem = o->list_elem;
    }
    if (pq_schema_finalize(s, err, errlen)) {
        pq_schema_free(s);
        return NULL;
    }
    return s;
oom:
    pq_seterr(err, errlen, "out of memory");
    return NULL;
}

int pq_schema_num_nodes(const pq_schema *s) { return s->n; }
const pq_node *pq_schema_node(const pq_schema *s, int i) { return i >= 0 && i < s->n ? &s->nodes[i] : NULL; }
int pq_schema_num_leaves(const pq_schema *s) {
    if (!s->finalized && pq_schema_finalize((pq_schema *)s, NULL, 0)) return 0;
    return s->n_leaves;
}
int pq_schema_leaf_node(const pq_schema *s, int leaf) {
    return leaf >= 0 && leaf < pq_schema_num_leaves(s) ? s->leaves[leaf] : -1;
}

int pq_schema_find(const pq_schema *s, const char *name) {
    for (int i = 0; i < s->n_top; i++)
        if (!strcmp(s->nodes[s->top[i]].name, name)) return s->top[i];
    return -1;
}

void pq_schema_leaf_path(const pq_schema *s, int leaf, char *out, size_t outlen) {
    int chain[PQ_MAX_DEPTH + 2], n = 0;
    int i = pq_schema_leaf_node(s, leaf);
    if (!outlen) return;
    out[0] = 0;
    while (i >= 0 && n < PQ_MAX_DEPTH + 2) {
        chain[n++] = i;
        i = s->nodes[i].parent;
    }
    size_t len = 0;
    for (int k = n - 1; k >= 0; k--) {
        int w = snprintf(out + len, outlen - len, "%s%s", k == n - 1 ? "" : ".", s->nodes[chain[k]].name);
        if (w < 0 || (size_t)w >= outlen - len) return;
        len += (size_t)w;
    }
}

pq_schema *pq_schema_clone(const pq_schema *s, char *err, size_t errlen) { return pq_schema_copy(s, err, errlen); }
