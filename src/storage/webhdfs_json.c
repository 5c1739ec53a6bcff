/*
 * webhdfs_json.c — a minimal JSON reader for WebHDFS answers (FileStatuses, FileStatus,
 * {"boolean":..}, RemoteException). Hand-written because the answers are small and few, and
 * jansson is only a test oracle here. Nodes live in one growable array and refer to each other
 * by index; decoded strings live in one growable arena, so a document is two allocations.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <math.h>

#include "storage/webhdfs.h"

#define WJ_MAX_DEPTH 64

typedef struct {
    wj_doc *d;
    const char *p, *end, *start;
    char *err;
    size_t errlen;
} wj_parser;

static int wj_fail(wj_parser *ps, const char *what) {
    snprintf(ps->err, ps->errlen, "bad JSON at byte %zu: %s", (size_t)(ps->p - ps->start), what);
    return -1;
}

static void wj_skip_ws(wj_parser *ps) {
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r')) ps->p++;
}

/* Appends a new node; returns its index or -1 (out of memory). */
static int wj_new_node(wj_parser *ps, int type) {
    wj_doc *d = ps->d;
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 32;
        wj_node *nn = realloc(d->nodes, cap * sizeof *nn);
        if (!nn) return -1;
        d->nodes = nn;
        d->cap = cap;
    }
    if (d->n >= (size_t)0x7fffffff) return -1;
    wj_node *x = &d->nodes[d->n];
    memset(x, 0, sizeof *x);
    x->type = type;
    x->next = x->child = -1;
    return (int)d->n++;
}

static int wj_strs_put(wj_doc *d, const char *p, size_t n) {
    if (d->strs_len + n + 1 > d->strs_cap) {
        size_t cap = d->strs_cap ? d->strs_cap : 256;
        while (cap < d->strs_len + n + 1) cap *= 2;
        char *ns = realloc(d->strs, cap);
        if (!ns) return -1;
        d->strs = ns;
        d->strs_cap = cap;
    }
    memcpy(d->strs + d->strs_len, p, n);
    d->strs_len += n;
    return 0;
}

static int wj_hex4(const char *p, unsigned *out) {
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
        else return -1;
    }
    *out = v;
    return 0;
}

static int wj_put_utf8(wj_doc *d, unsigned cp) {
    char b[4];
    size_t n;
    if (cp < 0x80) { b[0] = (char)cp; n = 1; }
    else if (cp < 0x800) { b[0] = (char)(0xC0 | (cp >> 6)); b[1] = (char)(0x80 | (cp & 0x3F)); n = 2; }
    else if (cp < 0x10000) {
        b[0] = (char)(0xE0 | (cp >> 12)); b[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (char)(0x80 | (cp & 0x3F)); n = 3;
    } else {
        b[0] = (char)(0xF0 | (cp >> 18)); b[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        b[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); b[3] = (char)(0x80 | (cp & 0x3F)); n = 4;
    }
    return wj_strs_put(d, b, n);
}

/* Parses a string literal at ps->p (on the opening quote) into the arena; *off, *len locate it. */
static int wj_parse_string(wj_parser *ps, size_t *off, size_t *len) {
    wj_doc *d = ps->d;
    ps->p++;
    *off = d->strs_len;
    for (;;) {
        const char *run = ps->p;
        while (ps->p < ps->end && *ps->p != '"' && *ps->p != '\\' && (unsigned char)*ps->p >= 0x20) ps->p++;
        if (wj_strs_put(d, run, (size_t)(ps->p - run))) return wj_fail(ps, "out of memory");
        if (ps->p >= ps->end) return wj_fail(ps, "unterminated string");
        char c = *ps->p;
        if (c == '"') { ps->p++; break; }
        if (c != '\\') return wj_fail(ps, "control character in string");
        if (ps->end - ps->p < 2) return wj_fail(ps, "unterminated escape");
        char e = ps->p[1];
        ps->p += 2;
        const char *simple = strchr("\"\\/bfnrt", e);
        if (e && simple) {
            static const char map[] = "\"\\/\b\f\n\r\t";
            if (wj_strs_put(d, &map[simple - "\"\\/bfnrt"], 1)) return wj_fail(ps, "out of memory");
            continue;
        }
        if (e != 'u') return wj_fail(ps, "bad escape");
        unsigned cp, lo;
        if (ps->end - ps->p < 4 || wj_hex4(ps->p, &cp)) return wj_fail(ps, "bad \\u escape");
        ps->p += 4;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (ps->end - ps->p < 6 || ps->p[0] != '\\' || ps->p[1] != 'u' || wj_hex4(ps->p + 2, &lo) ||
                lo < 0xDC00 || lo > 0xDFFF)
                return wj_fail(ps, "lone surrogate");
            ps->p += 6;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            return wj_fail(ps, "lone surrogate");
        }
        if (wj_put_utf8(d, cp)) return wj_fail(ps, "out of memory");
    }
    *len = d->strs_len - *off;
    if (wj_strs_put(d, "", 1)) return wj_fail(ps, "out of memory");
    return 0;
}

/* Checks the JSON number grammar at ps->p and converts it with strtod. */
static int wj_parse_number(wj_parser *ps, wj_node *x) {
    const char *s = ps->p;
    if (ps->p < ps->end && *ps->p == '-') ps->p++;
    if (ps->p >= ps->end) return wj_fail(ps, "bad number");
    if (*ps->p == '0') ps->p++;
    else if (*ps->p >= '1' && *ps->p <= '9') while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') ps->p++;
    else return wj_fail(ps, "bad number");
    if (ps->p < ps->end && *ps->p == '.') {
        ps->p++;
        if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9') return wj_fail(ps, "bad number");
        while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') ps->p++;
    }
    if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
        ps->p++;
        if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-')) ps->p++;
        if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9') return wj_fail(ps, "bad number");
        while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') ps->p++;
    }
    /* Keep the text (for an exact int64 conversion) and a double. The node array does not
     * move while the string arena grows, so x stays valid. */
    size_t off = ps->d->strs_len, n = (size_t)(ps->p - s);
    if (wj_strs_put(ps->d, s, n) || wj_strs_put(ps->d, "", 1)) return wj_fail(ps, "out of memory");
    x->str = off;
    x->len = n;
    x->num = strtod(ps->d->strs + off, NULL);
    return 0;
}

static int wj_parse_value(wj_parser *ps, int depth);

/* Parses the members/elements of an object or array whose node is idx (ps->p after the bracket). */
static int wj_parse_container(wj_parser *ps, int idx, bool is_obj, int depth) {
    char close = is_obj ? '}' : ']';
    int prev = -1;
    wj_skip_ws(ps);
    if (ps->p < ps->end && *ps->p == close) { ps->p++; return 0; }
    for (;;) {
        size_t koff = 0, klen = 0;
        wj_skip_ws(ps);
        if (is_obj) {
            if (ps->p >= ps->end || *ps->p != '"') return wj_fail(ps, "expected a key");
            if (wj_parse_string(ps, &koff, &klen)) return -1;
            wj_skip_ws(ps);
            if (ps->p >= ps->end || *ps->p != ':') return wj_fail(ps, "expected ':'");
            ps->p++;
        }
        int child = wj_parse_value(ps, depth + 1);
        if (child < 0) return -1;
        ps->d->nodes[child].key = koff;
        if (prev < 0) ps->d->nodes[idx].child = child;
        else ps->d->nodes[prev].next = child;
        prev = child;
        wj_skip_ws(ps);
        if (ps->p >= ps->end) return wj_fail(ps, "unterminated container");
        if (*ps->p == ',') { ps->p++; continue; }
        if (*ps->p == close) { ps->p++; return 0; }
        return wj_fail(ps, is_obj ? "expected ',' or '}'" : "expected ',' or ']'");
    }
}

/* Parses one value; returns its node index or -1. */
static int wj_parse_value(wj_parser *ps, int depth) {
    if (depth > WJ_MAX_DEPTH) return wj_fail(ps, "nested too deep");
    wj_skip_ws(ps);
    if (ps->p >= ps->end) return wj_fail(ps, "expected a value");
    char c = *ps->p;
    int idx;
    if (c == '{' || c == '[') {
        if ((idx = wj_new_node(ps, c == '{' ? WJ_OBJ : WJ_ARR)) < 0) return wj_fail(ps, "out of memory");
        ps->p++;
        return wj_parse_container(ps, idx, c == '{', depth) ? -1 : idx;
    }
    if (c == '"') {
        if ((idx = wj_new_node(ps, WJ_STR)) < 0) return wj_fail(ps, "out of memory");
        size_t off, len;
        if (wj_parse_string(ps, &off, &len)) return -1;
        ps->d->nodes[idx].str = off;
        ps->d->nodes[idx].len = len;
        return idx;
    }
    static const struct { const char *word; int type; } words[] = {
        {"null", WJ_NULL}, {"true", WJ_TRUE}, {"false", WJ_FALSE}};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        size_t wl = strlen(words[i].word);
        if ((size_t)(ps->end - ps->p) >= wl && !memcmp(ps->p, words[i].word, wl)) {
            ps->p += wl;
            if ((idx = wj_new_node(ps, words[i].type)) < 0) return wj_fail(ps, "out of memory");
            return idx;
        }
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
        if ((idx = wj_new_node(ps, WJ_NUM)) < 0) return wj_fail(ps, "out of memory");
        return wj_parse_number(ps, &ps->d->nodes[idx]) ? -1 : idx;
    }
    return wj_fail(ps, "unexpected character");
}

int wj_parse(wj_doc *d, const char *text, size_t len, char *err, size_t errlen) {
    memset(d, 0, sizeof *d);
    wj_parser ps = {d, text, text + len, text, err, errlen};
    if (wj_parse_value(&ps, 0) < 0) { wj_free(d); return -1; }
    wj_skip_ws(&ps);
    if (ps.p != ps.end) { wj_fail(&ps, "trailing characters"); wj_free(d); return -1; }
    return 0;
}

void wj_free(wj_doc *d) {
    free(d->nodes);
    free(d->strs);
    memset(d, 0, sizeof *d);
}

int wj_get(const wj_doc *d, int obj, const char *key) {
    if (obj < 0 || (size_t)obj >= d->n || d->nodes[obj].type != WJ_OBJ) return -1;
    for (int c = d->nodes[obj].child; c >= 0; c = d->nodes[c].next)
        if (!strcmp(d->strs + d->nodes[c].key, key)) return c;
    return -1;
}

const char *wj_str(const wj_doc *d, int node) {
    if (node < 0 || (size_t)node >= d->n || d->nodes[node].type != WJ_STR) return NULL;
    return d->strs + d->nodes[node].str;
}

int wj_int(const wj_doc *d, int node, int64_t *out) {
    if (node < 0 || (size_t)node >= d->n || d->nodes[node].type != WJ_NUM) return -1;
    const char *s = d->strs + d->nodes[node].str;
    if (strpbrk(s, ".eE")) {
        double v = d->nodes[node].num;
        if (v != floor(v) || v < -9.2e18 || v > 9.2e18) return -1;
        *out = (int64_t)v;
        return 0;
    }
    errno = 0;
    long long v = strtoll(s, NULL, 10);
    if (errno) return -1;
    *out = v;
    return 0;
}
