/* json.c — the little JSON the dashboard needs: writing strings/money/rates, and checking (and
 * picking a top-level member out of) a JSON document fetched from the stream's /status. */
#include <stdio.h>
#include <string.h>

#include "dash/dash.h"
#include "parquet/parquet.h"

/* Invalid UTF-8 (a client's bytes echoed in an error, a key read from a file) becomes U+FFFD,
 * so every JSON text the dashboard writes is valid UTF-8. */
int dash_json_str(buf_t *b, const char *s) {
    static const char hex[] = "0123456789abcdef";
    if (buf_append_char(b, '"')) return -1;
    size_t n = strlen(s);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        int rc;
        if (c >= 0x80) {
            int l = pq_utf8_len(p, n - (size_t)(p - (const unsigned char *)s));
            if (l == 0) {
                rc = buf_append_str(b, "\\ufffd");
            } else {
                rc = buf_append(b, (const char *)p, (size_t)l);
                p += l - 1;
            }
        } else if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            rc = buf_append(b, e, 2);
        } else if (c < 0x20 || c == 0x7f) {
            char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            rc = buf_append(b, e, 6);
        } else {
            rc = buf_append_char(b, (char)c);
        }
        if (rc) return -1;
    }
    return buf_append_char(b, '"');
}

int dash_json_money(buf_t *b, int64_t cents) {
    /* Cents stay exact: print the integer part and two digits, never through a double. */
    uint64_t a = cents < 0 ? (uint64_t)0 - (uint64_t)cents : (uint64_t)cents;
    return buf_printf(b, "%s%llu.%02llu", cents < 0 ? "-" : "", (unsigned long long)(a / 100),
                      (unsigned long long)(a % 100));
}

int dash_json_ratio(buf_t *b, int64_t num, int64_t den) {
    if (den <= 0) return buf_append_str(b, "null");
    return buf_printf(b, "%.6g", (double)num / (double)den);
}

int dash_json_time(buf_t *b, int64_t us) {
    char t[25];
    time_format_ms(us, t);
    return buf_printf(b, "\"%s\"", t);
}

/* ---- validation: a bounded recursive-descent skipper ---- */
typedef struct {
    const char *p, *end;
    int depth;
} scan_t;

static void ws(scan_t *s) {
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r')) s->p++;
}

static int skip_value(scan_t *s);

static int skip_string(scan_t *s) {
    if (s->p >= s->end || *s->p != '"') return -1;
    s->p++;
    while (s->p < s->end) {
        unsigned char c = (unsigned char)*s->p++;
        if (c == '"') return 0;
        if (c < 0x20) return -1;
        if (c == '\\') {
            if (s->p >= s->end) return -1;
            char e = *s->p++;
            if (e == 'u') {
                for (int i = 0; i < 4; i++, s->p++)
                    if (s->p >= s->end || !strchr("0123456789abcdefABCDEF", *s->p) || !*s->p) return -1;
            } else if (!strchr("\"\\/bfnrt", e) || !e) {
                return -1;
            }
        }
    }
    return -1;
}

static int skip_number(scan_t *s) {
    const char *q = s->p;
    if (q < s->end && *q == '-') q++;
    const char *digits = q;
    while (q < s->end && *q >= '0' && *q <= '9') q++;
    if (q == digits) return -1;
    if (q < s->end && *q == '.') {
        const char *f = ++q;
        while (q < s->end && *q >= '0' && *q <= '9') q++;
        if (q == f) return -1;
    }
    if (q < s->end && (*q == 'e' || *q == 'E')) {
        q++;
        if (q < s->end && (*q == '+' || *q == '-')) q++;
        const char *x = q;
        while (q < s->end && *q >= '0' && *q <= '9') q++;
        if (q == x) return -1;
    }
    s->p = q;
    return 0;
}

static int skip_word(scan_t *s, const char *w) {
    size_t n = strlen(w);
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, w, n)) return -1;
    s->p += n;
    return 0;
}

static int skip_container(scan_t *s, char close) {
    if (++s->depth > DASH_JSON_MAX_DEPTH) return -1;
    s->p++;
    ws(s);
    if (s->p < s->end && *s->p == close) {
        s->p++;
        s->depth--;
        return 0;
    }
    for (;;) {
        ws(s);
        if (close == '}') {
            if (skip_string(s)) return -1;
            ws(s);
            if (s->p >= s->end || *s->p != ':') return -1;
            s->p++;
            ws(s);
        }
        if (skip_value(s)) return -1;
        ws(s);
        if (s->p >= s->end) return -1;
        if (*s->p == ',') {
            s->p++;
            continue;
        }
        if (*s->p != close) return -1;
        s->p++;
        s->depth--;
        return 0;
    }
}

static int skip_value(scan_t *s) {
    ws(s);
    if (s->p >= s->end) return -1;
    switch (*s->p) {
    case '{': return skip_container(s, '}');
    case '[': return skip_container(s, ']');
    case '"': return skip_string(s);
    case 't': return skip_word(s, "true");
    case 'f': return skip_word(s, "false");
    case 'n': return skip_word(s, "null");
    default: return skip_number(s);
    }
}

bool dash_json_valid(const char *p, size_t n) {
    scan_t s = {p, p + n, 0};
    if (skip_value(&s)) return false;
    ws(&s);
    return s.p == s.end;
}

/* Walks the members of a top-level object (already validated) and returns the value span of
 * the first member whose key (unescaped keys only) equals key. */
bool dash_json_member(const char *p, size_t n, const char *key, const char **vp, size_t *vn) {
    scan_t s = {p, p + n, 0};
    ws(&s);
    if (s.p >= s.end || *s.p != '{') return false;
    s.p++;
    size_t klen = strlen(key);
    for (;;) {
        ws(&s);
        if (s.p >= s.end || *s.p != '"') return false;
        const char *k = s.p + 1;
        if (skip_string(&s)) return false;
        bool match = (size_t)(s.p - 1 - k) == klen && !memcmp(k, key, klen);
        ws(&s);
        if (s.p >= s.end || *s.p != ':') return false;
        s.p++;
        ws(&s);
        const char *v = s.p;
        if (skip_value(&s)) return false;
        if (match) {
            *vp = v;
            *vn = (size_t)(s.p - v);
            return true;
        }
        ws(&s);
        if (s.p >= s.end || *s.p != ',') return false;
        s.p++;
    }
}
