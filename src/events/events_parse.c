/* events/events_parse.c — the validating event parser. See events.h.
 *
 * Hand-written (not jansson) because it is the stream stage's hot path: one pass over the line,
 * no tree, no allocation in steady state. Strings without escapes are views into the line;
 * escaped strings are decoded into the parser's arena, which is reserved once per line at
 * 2 x its length (decoded text is never longer than its escaped form; the other half is a
 * scratch area for the rare number that needs strtod). Memory is therefore bounded by the
 * longest line seen.
 *
 * Strictness follows RFC 8259 as jansson applies it (the unit tests check one against the
 * other): no trailing garbage, no raw control characters in strings, valid escapes, valid
 * UTF-8 (no overlongs, no surrogates), no \u0000, integers within int64, reals finite.
 * Syntax errors stop the parse at once; field-level errors (wrong type, duplicate known field)
 * are remembered, the parse goes on, and the first one is reported if the JSON is well formed. */
#include "events/events.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* Known fields, one bit each in the "seen" mask. */
enum {
    F_EVENT_ID, F_EVENT_TYPE, F_TIMESTAMP, F_USER_ID, F_SESSION_ID, F_STORE_ID, F_STORE_TYPE,
    F_CITY, F_PROVINCE, F_LOCATION, F_DEVICE, F_PRODUCT_ID, F_PRODUCT_NAME, F_CATEGORY, F_PRICE,
    F_QUANTITY, F_ORDER_ID, F_ITEMS, F_TOTAL, F_CURRENCY, F_PAYMENT_METHOD, F_COUNT
};

static const char *const field_names[F_COUNT] = {
    "event_id", "event_type", "timestamp", "user_id", "session_id", "store_id", "store_type",
    "city", "province", "location", "device", "product_id", "product_name", "category", "price",
    "quantity", "order_id", "items", "total", "currency", "payment_method"};

/* A top-level key as it appears quoted in a line ("event_id":), for the key guess (see
 * guess_key): its bytes padded to 16, a mask of the bytes that count, its length, and whether
 * the pattern ends with the ':' that follows the key (when key and colon fit in 16 bytes). */
typedef struct {
    char pat[16];
    unsigned mask;
    int len;
    bool colon;
} key_pat;

struct event_parser {
    char *arena;
    size_t cap;
    key_pat keys[F_COUNT];
    int8_t next[F_COUNT + 1];  /* the field that followed each one in the last line (F_COUNT: the first), -1 */
    event_item items[EVENT_MAX_ITEMS];
    size_t decoded;            /* event_parser_decoded() */
};

event_parser *event_parser_new(void) {
    event_parser *p = calloc(1, sizeof(event_parser));
    if (!p) return NULL;
    for (int i = 0; i < F_COUNT; i++) {
        size_t n = strlen(field_names[i]);
        key_pat *k = &p->keys[i];
        k->pat[0] = '"';
        memcpy(k->pat + 1, field_names[i], n);
        k->pat[n + 1] = '"';
        k->len = (int)n + 2;
        if (k->len < 16) {
            k->pat[k->len++] = ':';
            k->colon = true;
        }
        k->mask = k->len >= 16 ? 0xFFFFu : (1u << k->len) - 1;
    }
    memset(p->next, -1, sizeof p->next);
    return p;
}

void event_parser_free(event_parser *p) {
    if (!p) return;
    free(p->arena);
    free(p);
}

/* A parsed JSON number: its text and, when it is an integer that fits, its value. */
typedef struct {
    const char *s;
    size_t n;
    bool is_int;
    int64_t i;
    double d;
} jnum;

typedef struct {
    const char *start, *s, *end;
    char *arena;       /* next free byte for decoded strings */
    char *scratch;     /* len + 1 bytes for strtod */
    char *reason;
    size_t rlen;
    int bad_field;     /* a field-level error has been written into reason */
    int depth;
} pctx;

#define MAX_DEPTH 64

/* ---- errors ---- */

static int syntax_error(pctx *c, const char *what) {
    snprintf(c->reason, c->rlen, "malformed JSON at byte %zu: %s", (size_t)(c->s - c->start), what);
    return -1;
}

static void field_error(pctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void field_error(pctx *c, const char *fmt, ...) {
    if (c->bad_field) return;
    c->bad_field = 1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->reason, c->rlen, fmt, ap);
    va_end(ap);
}

static int fail(char *reason, size_t rlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *reason, size_t rlen, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, rlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* ---- lexing ---- */

/* Why the first test: every byte above ' ' is not whitespace, and the lines the stream reads have
 * none between tokens, so one compare settles nearly every call (24 call sites, a tenth of the
 * parser's instructions before). */
static inline void skip_ws(pctx *c) {
    while (c->s < c->end && (unsigned char)*c->s <= ' ' &&
           (*c->s == ' ' || *c->s == '\t' || *c->s == '\n' || *c->s == '\r'))
        c->s++;
}

static int expect(pctx *c, char ch, const char *what) {
    skip_ws(c);
    if (c->s >= c->end || *c->s != ch) return syntax_error(c, what);
    c->s++;
    return 0;
}

/* Checks one UTF-8 sequence starting with lead byte at s (>= 0x80); returns its length or 0. */
static size_t utf8_seq(const unsigned char *s, const unsigned char *end) {
    unsigned char b = s[0];
    size_t n;
    uint32_t cp;
    if (b >= 0xC2 && b <= 0xDF) { n = 2; cp = b & 0x1F; }
    else if (b >= 0xE0 && b <= 0xEF) { n = 3; cp = b & 0x0F; }
    else if (b >= 0xF0 && b <= 0xF4) { n = 4; cp = b & 0x07; }
    else return 0;
    if ((size_t)(end - s) < n) return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

static int hex4(const char *s, uint32_t *out) {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        char h = s[i];
        v <<= 4;
        if (h >= '0' && h <= '9') v |= (uint32_t)(h - '0');
        else if (h >= 'a' && h <= 'f') v |= (uint32_t)(h - 'a' + 10);
        else if (h >= 'A' && h <= 'F') v |= (uint32_t)(h - 'A' + 10);
        else return -1;
    }
    *out = v;
    return 0;
}

static char *put_utf8(char *d, uint32_t cp) {
    if (cp < 0x80) {
        *d++ = (char)cp;
    } else if (cp < 0x800) {
        *d++ = (char)(0xC0 | (cp >> 6));
        *d++ = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        *d++ = (char)(0xE0 | (cp >> 12));
        *d++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *d++ = (char)(0x80 | (cp & 0x3F));
    } else {
        *d++ = (char)(0xF0 | (cp >> 18));
        *d++ = (char)(0x80 | ((cp >> 12) & 0x3F));
        *d++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *d++ = (char)(0x80 | (cp & 0x3F));
    }
    return d;
}

/* Decodes the rest of a string that has an escape, from c->s (just past the opening quote,
 * prefix bytes [begin, c->s) already plain) into the arena. */
static int parse_string_slow(pctx *c, const char *begin, strview *out) {
    char *d0 = c->arena, *d = d0;
    memcpy(d, begin, (size_t)(c->s - begin));
    d += c->s - begin;
    for (;;) {
        if (c->s >= c->end) return syntax_error(c, "unterminated string");
        unsigned char ch = (unsigned char)*c->s;
        if (ch == '"') {
            c->s++;
            break;
        }
        if (ch < 0x20) return syntax_error(c, "control character in string");
        if (ch == '\\') {
            if (c->end - c->s < 2) return syntax_error(c, "unterminated string");
            char e = c->s[1];
            c->s += 2;
            switch (e) {
            case '"': *d++ = '"'; break;
            case '\\': *d++ = '\\'; break;
            case '/': *d++ = '/'; break;
            case 'b': *d++ = '\b'; break;
            case 'f': *d++ = '\f'; break;
            case 'n': *d++ = '\n'; break;
            case 'r': *d++ = '\r'; break;
            case 't': *d++ = '\t'; break;
            case 'u': {
                uint32_t cp;
                if (c->end - c->s < 4 || hex4(c->s, &cp)) return syntax_error(c, "bad \\u escape");
                c->s += 4;
                if (cp >= 0xDC00 && cp <= 0xDFFF) return syntax_error(c, "lone low surrogate");
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    uint32_t lo;
                    if (c->end - c->s < 6 || c->s[0] != '\\' || c->s[1] != 'u' || hex4(c->s + 2, &lo) ||
                        lo < 0xDC00 || lo > 0xDFFF)
                        return syntax_error(c, "lone high surrogate");
                    c->s += 6;
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                }
                if (cp == 0) return syntax_error(c, "\\u0000 in string");
                d = put_utf8(d, cp);
                break;
            }
            default: c->s -= 1; return syntax_error(c, "bad escape");
            }
            continue;
        }
        if (ch >= 0x80) {
            size_t n = utf8_seq((const unsigned char *)c->s, (const unsigned char *)c->end);
            if (!n) return syntax_error(c, "invalid UTF-8");
            memcpy(d, c->s, n);
            d += n;
            c->s += n;
            continue;
        }
        *d++ = (char)ch;
        c->s++;
    }
    out->p = d0;
    out->n = (size_t)(d - d0);
    c->arena = d;
    return 0;
}

/* The rest of a string from c->s (begun at begin, just past the quote): scans to the next byte
 * that needs a look and handles it (closing quote, escape, control character, UTF-8), and so on
 * to the end of the string. Out of line: parse_string's 16-byte loop settles most strings, and
 * keeping this body apart keeps that loop's call cheap. */
static __attribute__((noinline)) int parse_string_rest(pctx *c, const char *begin, strview *out) {
    for (;;) {
#ifdef __SSE2__
        /* 16 bytes at a time where the line has them (hand-written: JSON strings are a fifth of
         * the parse): '"', '\\', and every byte below 0x20 or from 0x80 (a signed compare
         * with 0x20 catches both) are flagged; the lowest flag is the first byte to look at. */
        while (c->end - c->s >= 16) {
            __m128i v = _mm_loadu_si128((const __m128i *)(const void *)c->s);
            __m128i f = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
                                                  _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))),
                                     _mm_cmplt_epi8(v, _mm_set1_epi8(0x20)));
            unsigned m = (unsigned)_mm_movemask_epi8(f);
            if (m) {
                c->s += __builtin_ctz(m);
                goto look;
            }
            c->s += 16;
        }
#endif
        /* 8 bytes at a time up to the first byte that needs a look: '"', '\\', a control
         * character or a UTF-8 byte. The lowest flagged byte is exact (borrows only run upward). */
        while (c->end - c->s >= 8) {
            uint64_t v;
            memcpy(&v, c->s, 8);
            const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
            uint64_t q = v ^ (ones * 0x22), b = v ^ (ones * 0x5C);
            uint64_t m = (((v - ones * 0x20) | (q - ones) | (b - ones)) & ~v & highs) | (v & highs);
            if (m) {
                c->s += __builtin_ctzll(m) >> 3;
                break;
            }
            c->s += 8;
        }
        while (c->s < c->end) {
            unsigned char ch = (unsigned char)*c->s;
            if (ch < 0x20 || ch == '"' || ch == '\\' || ch >= 0x80) break;
            c->s++;
        }
#ifdef __SSE2__
    look:
#endif
        if (c->s >= c->end) return syntax_error(c, "unterminated string");
        unsigned char ch = (unsigned char)*c->s;
        if (ch == '"') {
            out->p = begin;
            out->n = (size_t)(c->s - begin);
            c->s++;
            return 0;
        }
        if (ch == '\\') return parse_string_slow(c, begin, out);
        if (ch < 0x20) return syntax_error(c, "control character in string");
        size_t n = utf8_seq((const unsigned char *)c->s, (const unsigned char *)c->end);
        if (!n) return syntax_error(c, "invalid UTF-8");
        c->s += n;
    }
}

/* Parses a string at c->s (which must be '"'). Fast path: plain ASCII/UTF-8 text without
 * escapes becomes a view into the line. Why this split: a string whose first flagged byte in
 * 16-byte steps is its closing quote (nearly every one: ids, names, keys) is settled here in a
 * few instructions; anything else goes on in parse_string_rest from where the scan stopped. */
static inline int parse_string(pctx *c, strview *out) {
    const char *s = c->s, *end = c->end;
    if (s >= end || *s != '"') return syntax_error(c, "expected string");
    const char *begin = ++s;
#ifdef __SSE2__
    while (end - s >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)s);
        __m128i f = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
                                              _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))),
                                 _mm_cmplt_epi8(v, _mm_set1_epi8(0x20)));
        unsigned m = (unsigned)_mm_movemask_epi8(f);
        if (m) {
            s += __builtin_ctz(m);
            if (*s == '"') {
                out->p = begin;
                out->n = (size_t)(s - begin);
                c->s = s + 1;
                return 0;
            }
            break;
        }
        s += 16;
    }
#endif
    c->s = s;
    return parse_string_rest(c, begin, out);
}

static const double pow10_tab[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                     1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                     1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* Parses a JSON number. Integers must fit int64 and reals must be finite (as jansson
 * requires). Fast path for reals: with <= 15 significant digits and a small exponent,
 * mantissa * or / 10^k is exact in double arithmetic, i.e. correctly rounded like strtod. */
static int parse_number(pctx *c, jnum *out) {
    const char *s = c->s, *e = c->end, *p = s;
    bool neg = false;
    if (p < e && *p == '-') { neg = true; p++; }
    if (p >= e || *p < '0' || *p > '9') return syntax_error(c, "bad number");
    uint64_t mant = 0;
    int ndig = 0, exp10 = 0;
    bool is_int = true, overflow = false;
    if (*p == '0') {
        p++;
    } else {
        while (p < e && *p >= '0' && *p <= '9') {
            if (ndig < 19) mant = mant * 10 + (uint64_t)(*p - '0');
            else { overflow = true; exp10++; }
            if (mant) ndig++;
            p++;
        }
    }
    if (p < e && *p == '.') {
        is_int = false;
        p++;
        if (p >= e || *p < '0' || *p > '9') { c->s = p; return syntax_error(c, "bad number"); }
        while (p < e && *p >= '0' && *p <= '9') {
            if (ndig < 19) { mant = mant * 10 + (uint64_t)(*p - '0'); exp10--; if (mant) ndig++; }
            else overflow = true;
            p++;
        }
    }
    bool has_exp = false;
    if (p < e && (*p == 'e' || *p == 'E')) {
        is_int = false;
        has_exp = true;
        p++;
        if (p < e && (*p == '+' || *p == '-')) p++;
        if (p >= e || *p < '0' || *p > '9') { c->s = p; return syntax_error(c, "bad number"); }
        while (p < e && *p >= '0' && *p <= '9') p++;
    }
    out->s = s;
    out->n = (size_t)(p - s);
    out->is_int = is_int;
    if (is_int) {
        if (overflow || mant > (uint64_t)INT64_MAX + neg) return syntax_error(c, "integer out of range");
        out->i = neg ? (int64_t)(0 - mant) : (int64_t)mant;
        out->d = (double)out->i;
    } else if (!has_exp && !overflow && ndig <= 15 && exp10 >= -22) {
        double v = (double)mant / pow10_tab[-exp10];
        out->d = neg ? -v : v;
    } else {
        memcpy(c->scratch, s, out->n);
        c->scratch[out->n] = '\0';
        double v = strtod(c->scratch, NULL);
        if (isinf(v)) return syntax_error(c, "number out of range");
        out->d = v;
    }
    c->s = p;
    return 0;
}

/* The shapes the producers write (an optional '-', an integer part without leading zeros, an
 * optional '.' and fraction, 15 digits at most in all, no exponent), parsed in one pass: true
 * and *out set exactly as parse_number sets it (with <= 15 digits parse_number takes the same
 * exact path: no overflow, mantissa / 10^k). Anything else (an exponent, more digits, a digit,
 * '.' or 'e' right after the shape, as in "01" or "1.2.3", a '.' without digits) gives false
 * with c->s unchanged, and parse_number decides from the start. (An 8-byte SWAR digit scan
 * instead of the loops cost 5% more here: the numbers are 1-5 digits.) */
static inline bool parse_number_fast(pctx *c, jnum *out) {
    const char *s = c->s, *e = c->end, *p = s;
    bool neg = p < e && *p == '-';
    p += neg;
    if (p >= e || (unsigned)(*p - '0') > 9) return false;
    uint64_t mant = 0;
    int nd = 0;
    if (*p == '0') {
        p++;
        nd = 1;
    } else {
        while (p < e && (unsigned)(*p - '0') <= 9 && nd < 16) { mant = mant * 10 + (uint64_t)(*p - '0'); nd++; p++; }
    }
    int nf = 0;
    bool frac = p < e && *p == '.';
    if (frac) {
        p++;
        while (p < e && (unsigned)(*p - '0') <= 9 && nd + nf < 16) { mant = mant * 10 + (uint64_t)(*p - '0'); nf++; p++; }
        if (nf == 0) return false;
    }
    if (nd + nf > 15) return false;
    if (p < e && ((unsigned)(*p - '0') <= 9 || *p == '.' || *p == 'e' || *p == 'E')) return false;
    out->s = s;
    out->n = (size_t)(p - s);
    out->is_int = !frac;
    if (!frac) {
        out->i = neg ? (int64_t)(0 - mant) : (int64_t)mant;
        out->d = (double)out->i;
    } else {
        double v = (double)mant / pow10_tab[nf];
        out->d = neg ? -v : v;
    }
    c->s = p;
    return true;
}

static int skip_value(pctx *c);

static int skip_container(pctx *c, char close) {
    if (++c->depth > MAX_DEPTH) return syntax_error(c, "nesting too deep");
    c->s++;
    skip_ws(c);
    if (c->s < c->end && *c->s == close) {
        c->s++;
        c->depth--;
        return 0;
    }
    for (;;) {
        skip_ws(c);
        if (close == '}') {
            strview k;
            if (parse_string(c, &k) || expect(c, ':', "expected ':'")) return -1;
        }
        if (skip_value(c)) return -1;
        skip_ws(c);
        if (c->s < c->end && *c->s == ',') { c->s++; continue; }
        if (c->s < c->end && *c->s == close) { c->s++; break; }
        return syntax_error(c, close == '}' ? "expected ',' or '}'" : "expected ',' or ']'");
    }
    c->depth--;
    return 0;
}

static int match_lit(pctx *c, const char *lit, size_t n) {
    if ((size_t)(c->end - c->s) < n || memcmp(c->s, lit, n)) return syntax_error(c, "bad literal");
    c->s += n;
    return 0;
}

/* Skips any JSON value (unknown fields, values of the wrong type), checking its syntax. */
static int skip_value(pctx *c) {
    skip_ws(c);
    if (c->s >= c->end) return syntax_error(c, "expected value");
    strview sv;
    jnum num;
    switch (*c->s) {
    case '"': return parse_string(c, &sv);
    case '{': return skip_container(c, '}');
    case '[': return skip_container(c, ']');
    case 't': return match_lit(c, "true", 4);
    case 'f': return match_lit(c, "false", 5);
    case 'n': return match_lit(c, "null", 4);
    default: return parse_number(c, &num);
    }
}

/* ---- typed field values ---- */

static const char *json_kind(char ch) {
    switch (ch) {
    case '"': return "string";
    case '{': return "object";
    case '[': return "array";
    case 't': case 'f': return "boolean";
    case 'n': return "null";
    default: return "number";
    }
}

static int wrong_type(pctx *c, const char *field, const char *want) {
    field_error(c, "field %s: expected %s, got %s", field, want, json_kind(*c->s));
    return skip_value(c);
}

/* A string field; null is accepted only where allow_null (then *out is empty, *present false). */
static int field_string(pctx *c, const char *name, strview *out, bool *present, bool allow_null) {
    if (c->s < c->end && *c->s == '"') { /* the usual case first: no blank before the value */
        *present = true;
        return parse_string(c, out);
    }
    skip_ws(c);
    if (c->s < c->end && *c->s == '"') {
        *present = true;
        return parse_string(c, out);
    }
    if (allow_null && c->s < c->end && *c->s == 'n') return match_lit(c, "null", 4);
    if (c->s >= c->end) return syntax_error(c, "expected value");
    *present = true;
    return wrong_type(c, name, "string");
}

static int field_number(pctx *c, const char *name, jnum *out, bool *present) {
    if (c->s < c->end && (unsigned char)*c->s <= ' ') skip_ws(c);
    if (c->s >= c->end) return syntax_error(c, "expected value");
    *present = true;
    if (parse_number_fast(c, out)) return 0;
    if (*c->s == '-' || (*c->s >= '0' && *c->s <= '9')) return parse_number(c, out);
    out->is_int = true;
    out->i = 0;
    out->d = 0;
    return wrong_type(c, name, "number");
}

/* Money: a JSON number to cents, rounded half away from zero. Bounded so sums cannot overflow. */
#define MONEY_MAX_CENTS 100000000000LL /* 1,000,000,000.00 */
static int to_cents(const jnum *n, int64_t *cents) {
    double v = n->is_int ? (double)n->i * 100.0 : n->d * 100.0;
    if (!(fabs(v) <= (double)MONEY_MAX_CENTS)) return -1;
    *cents = llround(v);
    return 0;
}

/* Scratch for the fields of one line before validation. */
typedef struct {
    uint32_t seen;
    strview str[F_COUNT];
    jnum num[F_COUNT];
    bool have_lat, have_lon;
    double lat, lon;
    size_t n_items;
    bool items_bad; /* a field-level problem inside items has been reported */
} fields;

static int field_id(const char *k, size_t n) {
    /* why a switch on length: one compare per key instead of a search over 21 names */
    switch (n) {
    case 4: if (!memcmp(k, "city", 4)) return F_CITY; break;
    case 5:
        if (!memcmp(k, "price", 5)) return F_PRICE;
        if (!memcmp(k, "items", 5)) return F_ITEMS;
        if (!memcmp(k, "total", 5)) return F_TOTAL;
        break;
    case 6: if (!memcmp(k, "device", 6)) return F_DEVICE; break;
    case 7: if (!memcmp(k, "user_id", 7)) return F_USER_ID; break;
    case 8:
        if (!memcmp(k, "event_id", 8)) return F_EVENT_ID;
        if (!memcmp(k, "store_id", 8)) return F_STORE_ID;
        if (!memcmp(k, "province", 8)) return F_PROVINCE;
        if (!memcmp(k, "location", 8)) return F_LOCATION;
        if (!memcmp(k, "category", 8)) return F_CATEGORY;
        if (!memcmp(k, "quantity", 8)) return F_QUANTITY;
        if (!memcmp(k, "order_id", 8)) return F_ORDER_ID;
        if (!memcmp(k, "currency", 8)) return F_CURRENCY;
        break;
    case 9: if (!memcmp(k, "timestamp", 9)) return F_TIMESTAMP; break;
    case 10:
        if (!memcmp(k, "event_type", 10)) return F_EVENT_TYPE;
        if (!memcmp(k, "session_id", 10)) return F_SESSION_ID;
        if (!memcmp(k, "store_type", 10)) return F_STORE_TYPE;
        if (!memcmp(k, "product_id", 10)) return F_PRODUCT_ID;
        break;
    case 12: if (!memcmp(k, "product_name", 12)) return F_PRODUCT_NAME; break;
    case 14: if (!memcmp(k, "payment_method", 14)) return F_PAYMENT_METHOD; break;
    }
    return -1;
}

/* location: {"lat": number, "lon": number}; other keys are ignored. */
static int parse_location(pctx *c, fields *f) {
    skip_ws(c);
    if (c->s >= c->end) return syntax_error(c, "expected value");
    if (*c->s != '{') return wrong_type(c, "location", "object");
    if (++c->depth > MAX_DEPTH) return syntax_error(c, "nesting too deep");
    c->s++;
    skip_ws(c);
    if (c->s < c->end && *c->s == '}') {
        c->s++;
        c->depth--;
        return 0;
    }
    for (;;) {
        strview k;
        skip_ws(c);
        if (parse_string(c, &k) || expect(c, ':', "expected ':'")) return -1;
        bool is_lat = k.n == 3 && !memcmp(k.p, "lat", 3), is_lon = k.n == 3 && !memcmp(k.p, "lon", 3);
        if (is_lat || is_lon) {
            jnum n;
            bool pres = false;
            const char *nm = is_lat ? "location.lat" : "location.lon";
            if (field_number(c, nm, &n, &pres)) return -1;
            if ((is_lat && f->have_lat) || (is_lon && f->have_lon)) field_error(c, "duplicate field %s", nm);
            if (is_lat) { f->have_lat = true; f->lat = n.d; }
            else { f->have_lon = true; f->lon = n.d; }
        } else if (skip_value(c)) {
            return -1;
        }
        skip_ws(c);
        if (c->s < c->end && *c->s == ',') { c->s++; continue; }
        if (c->s < c->end && *c->s == '}') { c->s++; break; }
        return syntax_error(c, "expected ',' or '}'");
    }
    c->depth--;
    return 0;
}

/* What one element of items has given so far: the members seen (a bit each, in the order of
 * item_names), quantity and unit_price as numbers; the strings go straight into the item. */
typedef struct {
    unsigned seen;
    jnum q, up;
} item_acc;

static const char *const item_names[5] = {"product_id", "product_name", "category", "quantity", "unit_price"};

/* One member of an item, its key k already read (with the ':'): a known member is parsed into
 * it / a, anything else skipped. Mistyped or repeated members set *bad (a field error). */
/* item_member and item_check are out of line: only orders have items, and inlined they cost
 * the per-field loop of every line ~4M instructions per 200k lines (the compiler's register
 * choices in event_parse; parse_rate callgrind). */
static __attribute__((noinline)) int item_member(pctx *c, size_t idx, strview k, event_item *it, item_acc *a, bool *bad) {
    int which = -1; /* constant-length compares, as in field_id */
    if (k.n == 10 && !memcmp(k.p, "product_id", 10)) which = 0;
    else if (k.n == 12 && !memcmp(k.p, "product_name", 12)) which = 1;
    else if (k.n == 8 && !memcmp(k.p, "category", 8)) which = 2;
    else if (k.n == 8 && !memcmp(k.p, "quantity", 8)) which = 3;
    else if (k.n == 10 && !memcmp(k.p, "unit_price", 10)) which = 4;
    if (which < 0) return skip_value(c);
    char nm[40];
    snprintf(nm, sizeof nm, "items[%zu].%.*s", idx, (int)k.n, k.p);
    if (a->seen & (1u << which)) { field_error(c, "duplicate field %s", nm); *bad = true; }
    a->seen |= 1u << which;
    bool pres = false;
    int before = c->bad_field;
    int r;
    if (which == 0) r = field_string(c, nm, &it->product_id, &pres, false);
    else if (which == 1) r = field_string(c, nm, &it->product_name, &pres, false);
    else if (which == 2) r = field_string(c, nm, &it->category, &pres, false);
    else if (which == 3) r = field_number(c, nm, &a->q, &pres);
    else r = field_number(c, nm, &a->up, &pres);
    if (r) return -1;
    if (c->bad_field != before) *bad = true;
    return 0;
}

/* The rules for a well-formed item: every member present, the strings not empty, quantity in
 * 1..1000000, unit_price >= 0 and within MONEY_MAX_CENTS. The first rule broken is the field
 * error (and sets *bad); otherwise the item's numbers are set. */
static __attribute__((noinline)) void item_check(pctx *c, size_t idx, event_item *it, const item_acc *a, bool *bad) {
    for (int i = 0; i < 5; i++) {
        if (!(a->seen & (1u << i))) {
            field_error(c, "items[%zu]: missing field %s", idx, item_names[i]);
            *bad = true;
            return;
        }
    }
    if (!it->product_id.n || !it->product_name.n || !it->category.n) {
        field_error(c, "items[%zu]: empty product_id, product_name or category", idx);
        *bad = true;
        return;
    }
    const jnum *q = &a->q, *up = &a->up;
    if (!q->is_int) {
        field_error(c, "items[%zu]: quantity not an integer", idx);
    } else if (q->i <= 0) {
        field_error(c, "items[%zu]: quantity must be > 0", idx);
    } else if (q->i > 1000000) {
        field_error(c, "items[%zu]: quantity too large", idx);
    } else if (up->d < 0 || (up->is_int && up->i < 0)) {
        field_error(c, "items[%zu]: negative unit_price", idx);
    } else if (to_cents(up, &it->unit_price_cents)) {
        field_error(c, "items[%zu]: unit_price too large", idx);
    } else {
        it->quantity = (int32_t)q->i;
        return;
    }
    *bad = true;
}

/* One element of items: an object with product_id, product_name, category, quantity,
 * unit_price. Missing or mistyped members are reported as field errors (syntax errors: -1). */
static int parse_item(pctx *c, size_t idx, event_item *it, bool *bad) {
    skip_ws(c);
    if (c->s >= c->end) return syntax_error(c, "expected value");
    if (*c->s != '{') {
        field_error(c, "items[%zu]: expected object, got %s", idx, json_kind(*c->s));
        *bad = true;
        return skip_value(c);
    }
    if (++c->depth > MAX_DEPTH) return syntax_error(c, "nesting too deep");
    c->s++;
    item_acc a = {0};
    memset(it, 0, sizeof *it);
    skip_ws(c);
    if (c->s < c->end && *c->s == '}') {
        c->s++;
    } else {
        for (;;) {
            strview k;
            skip_ws(c);
            if (parse_string(c, &k) || expect(c, ':', "expected ':'")) return -1;
            if (item_member(c, idx, k, it, &a, bad)) return -1;
            skip_ws(c);
            if (c->s < c->end && *c->s == ',') { c->s++; continue; }
            if (c->s < c->end && *c->s == '}') { c->s++; break; }
            return syntax_error(c, "expected ',' or '}'");
        }
    }
    c->depth--;
    if (!*bad) item_check(c, idx, it, &a, bad);
    return 0;
}

static int parse_items(pctx *c, event_parser *p, fields *f) {
    skip_ws(c);
    if (c->s >= c->end) return syntax_error(c, "expected value");
    if (*c->s != '[') return wrong_type(c, "items", "array");
    if (++c->depth > MAX_DEPTH) return syntax_error(c, "nesting too deep");
    c->s++;
    skip_ws(c);
    if (c->s < c->end && *c->s == ']') {
        c->s++;
        c->depth--;
        return 0;
    }
    for (;;) {
        if (f->n_items >= EVENT_MAX_ITEMS) {
            if (!f->items_bad) field_error(c, "more than %d items", EVENT_MAX_ITEMS);
            f->items_bad = true;
            if (skip_value(c)) return -1;
        } else {
            if (parse_item(c, f->n_items, &p->items[f->n_items], &f->items_bad)) return -1;
            f->n_items++;
        }
        skip_ws(c);
        if (c->s < c->end && *c->s == ',') { c->s++; continue; }
        if (c->s < c->end && *c->s == ']') { c->s++; break; }
        return syntax_error(c, "expected ',' or ']'");
    }
    c->depth--;
    return 0;
}

/* Parses one known field's value into f. */
static int parse_field(pctx *c, event_parser *p, fields *f, int id) {
    const char *name = field_names[id];
    if (f->seen & (1u << id)) field_error(c, "duplicate field %s", name);
    bool pres = false;
    switch (id) {
    case F_LOCATION:
        f->seen |= 1u << id;
        return parse_location(c, f);
    case F_ITEMS:
        f->seen |= 1u << id;
        return parse_items(c, p, f);
    case F_PRICE: case F_QUANTITY: case F_TOTAL:
        if (field_number(c, name, &f->num[id], &pres)) return -1;
        break;
    default:
        if (c->s < c->end && *c->s == '"') { /* a string, no blank before it: no call */
            pres = true;
            if (parse_string(c, &f->str[id])) return -1;
        } else if (field_string(c, name, &f->str[id], &pres, id == F_DEVICE)) {
            return -1;
        }
        break;
    }
    if (pres) f->seen |= 1u << id;
    return 0;
}

/* Why guess keys: lines of one producer repeat their key order, and matching the key that
 * followed the previous one last time is one 16-byte compare, where reading the key as a string
 * and looking it up was a fifth of the parse. The guess must be the key's exact bytes with its
 * quotes and, where it fits, the ':' right after (an escaped spelling of the same key, or a blank
 * before the colon, falls back to the full path), so it never changes what a line parses to.
 * Returns the field id and sets *colon when the ':' was taken too, or -1 (c->s unchanged). */
static int guess_key(pctx *c, const event_parser *p, int prev, bool *colon) {
    int id = p->next[prev];
    if (id < 0 || c->end - c->s < 16) return -1;
    const key_pat *k = &p->keys[id];
#ifdef __SSE2__
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)c->s);
    unsigned eq = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_loadu_si128((const __m128i *)(const void *)k->pat)));
    if ((eq & k->mask) != k->mask) return -1;
#else
    if (memcmp(c->s, k->pat, (size_t)k->len)) return -1;
#endif
    c->s += k->len;
    *colon = k->colon;
    return id;
}

/* The syntactic pass over the whole line: one object, known fields captured, the rest skipped. */
static int parse_object(pctx *c, event_parser *p, fields *f) {
    skip_ws(c);
    if (c->s >= c->end || *c->s != '{') return syntax_error(c, "expected '{'");
    c->s++;
    skip_ws(c);
    if (c->s < c->end && *c->s == '}') {
        c->s++;
    } else {
        int prev = F_COUNT;
        for (;;) {
            bool colon = false;
            skip_ws(c);
            int id = guess_key(c, p, prev, &colon);
            if (id < 0) {
                strview k;
                if (parse_string(c, &k)) return -1;
                id = field_id(k.p, k.n);
                if (id >= 0) p->next[prev] = (int8_t)id;
            }
            if (!colon && expect(c, ':', "expected ':'")) return -1;
            if (id >= 0) prev = id;
            if (id >= 0 ? parse_field(c, p, f, id) : skip_value(c)) return -1;
            if (c->s < c->end && *c->s == ',') { c->s++; continue; } /* no blank: one compare */
            skip_ws(c);
            if (c->s < c->end && *c->s == ',') { c->s++; continue; }
            if (c->s < c->end && *c->s == '}') { c->s++; break; }
            return syntax_error(c, "expected ',' or '}'");
        }
    }
    skip_ws(c);
    if (c->s != c->end) return syntax_error(c, "trailing characters");
    return 0;
}

/* ---- semantic validation ---- */

/* Copies a value into a reason safely: printable ASCII only, at most 32 bytes. */
static void quote_value(strview v, char *out, size_t n) {
    size_t j = 0;
    for (size_t i = 0; i < v.n && j + 4 < n && i < 32; i++) {
        unsigned char ch = (unsigned char)v.p[i];
        out[j++] = (ch >= 0x20 && ch < 0x7F && ch != '\'') ? (char)ch : '?';
    }
    if (v.n > 32 && j + 4 < n) { out[j++] = '.'; out[j++] = '.'; out[j++] = '.'; }
    out[j] = '\0';
}

/* 2000-01-01T00:00:00Z and 2100-01-01T00:00:00Z in microseconds. */
#define TS_MIN_US 946684800000000LL
#define TS_MAX_US 4102444800000000LL

/* The fields that are not strings (objects, arrays, numbers): "empty" does not apply to them. */
#define NOT_STRING_MASK \
    (1u << F_LOCATION | 1u << F_ITEMS | 1u << F_PRICE | 1u << F_QUANTITY | 1u << F_TOTAL)

static int check_required(const fields *f, const int *ids, size_t n, char *reason, size_t rlen) {
    for (size_t i = 0; i < n; i++) {
        int id = ids[i];
        if (!(f->seen & (1u << id))) return fail(reason, rlen, "missing field %s", field_names[id]);
        if (!(NOT_STRING_MASK & (1u << id)) && f->str[id].n == 0)
            return fail(reason, rlen, "empty %s", field_names[id]);
    }
    return 0;
}

/* Where the event happened: store_type, location and device (required online, checked when
 * given in a store). Sets ev->store_type, lat, lon and device. */
static int validate_place(const fields *f, event *ev, char *reason, size_t rlen) {
    char q[48];
    strview st = f->str[F_STORE_TYPE];
    int stype = event_store_type_id(st);
    bool online = stype == 0;
    if (stype < 0) {
        quote_value(st, q, sizeof q);
        return fail(reason, rlen, "bad store_type '%s'", q);
    }
    if (!f->have_lat) return fail(reason, rlen, "missing field location.lat");
    if (!f->have_lon) return fail(reason, rlen, "missing field location.lon");
    if (!(fabs(f->lat) <= 90) || !(fabs(f->lon) <= 180)) return fail(reason, rlen, "location out of range");
    bool has_dev = f->seen & (1u << F_DEVICE); /* a string; null counts as absent */
    strview dev = has_dev ? f->str[F_DEVICE] : (strview){NULL, 0};
    if (online && !has_dev) return fail(reason, rlen, "missing field device");
    if (has_dev && event_device_id(dev) < 0) {
        quote_value(dev, q, sizeof q);
        return fail(reason, rlen, "bad device '%s'", q);
    }
    ev->store_type = st;
    ev->lat = f->lat;
    ev->lon = f->lon;
    ev->device = dev;
    return 0;
}

/* The fields every event has: event_type, event_id (a UUID), a timestamp in [2000, 2100), who
 * and where. Sets ev->type, ts_us and the common string fields. */
static int validate_common(const fields *f, event *ev, char *reason, size_t rlen) {
    char q[48];
    if (!(f->seen & (1u << F_EVENT_TYPE))) return fail(reason, rlen, "missing field event_type");
    if (event_type_parse(f->str[F_EVENT_TYPE].p, f->str[F_EVENT_TYPE].n, &ev->type)) {
        quote_value(f->str[F_EVENT_TYPE], q, sizeof q);
        return fail(reason, rlen, "unknown event_type '%s'", q);
    }
    static const int common[] = {F_EVENT_ID, F_TIMESTAMP, F_USER_ID, F_SESSION_ID, F_STORE_ID,
                                 F_STORE_TYPE, F_CITY, F_PROVINCE, F_LOCATION};
    if (check_required(f, common, sizeof common / sizeof *common, reason, rlen)) return -1;
    if (!event_uuid_pack(f->str[F_EVENT_ID], &ev->id_hi, &ev->id_lo))
        return fail(reason, rlen, "bad event_id (not a UUID)");
    ev->id_packed = true;
    strview ts = f->str[F_TIMESTAMP];
    if (time_parse_rfc3339(ts.p, ts.n, &ev->ts_us)) return fail(reason, rlen, "bad timestamp");
    if (ev->ts_us < TS_MIN_US || ev->ts_us >= TS_MAX_US) return fail(reason, rlen, "timestamp out of range");
    if (validate_place(f, ev, reason, rlen)) return -1;
    ev->event_id = f->str[F_EVENT_ID];
    ev->user_id = f->str[F_USER_ID];
    ev->session_id = f->str[F_SESSION_ID];
    ev->store_id = f->str[F_STORE_ID];
    ev->city = f->str[F_CITY];
    ev->province = f->str[F_PROVINCE];
    return 0;
}

/* A purchase: its items (parsed into p->items) must add up to total to the cent, and the
 * currency is three capital letters. Sets the order fields and ev->items. */
static int validate_purchase(const fields *f, event_parser *p, event *ev, char *reason, size_t rlen) {
    char q[48];
    static const int req[] = {F_ORDER_ID, F_ITEMS, F_TOTAL, F_CURRENCY, F_PAYMENT_METHOD};
    if (check_required(f, req, sizeof req / sizeof *req, reason, rlen)) return -1;
    if (f->n_items == 0) return fail(reason, rlen, "empty items");
    const jnum *t = &f->num[F_TOTAL];
    if (t->d < 0 || (t->is_int && t->i < 0)) return fail(reason, rlen, "negative total");
    if (to_cents(t, &ev->total_cents)) return fail(reason, rlen, "total too large");
    int64_t sum = 0;
    for (size_t i = 0; i < f->n_items; i++) {
        const event_item *it = &p->items[i];
        sum += (int64_t)it->quantity * it->unit_price_cents; /* <= 256 * 1e6 * 1e11: fits */
    }
    if (sum != ev->total_cents) {
        char a[32], b[32];
        snprintf(a, sizeof a, "%lld.%02lld", (long long)(ev->total_cents / 100), (long long)(ev->total_cents % 100));
        snprintf(b, sizeof b, "%lld.%02lld", (long long)(sum / 100), (long long)(sum % 100));
        return fail(reason, rlen, "total %s does not match items %s", a, b);
    }
    strview cur = f->str[F_CURRENCY];
    if (cur.n != 3 || cur.p[0] < 'A' || cur.p[0] > 'Z' || cur.p[1] < 'A' || cur.p[1] > 'Z' ||
        cur.p[2] < 'A' || cur.p[2] > 'Z') {
        quote_value(cur, q, sizeof q);
        return fail(reason, rlen, "bad currency '%s'", q);
    }
    ev->order_id = f->str[F_ORDER_ID];
    ev->currency = cur;
    ev->payment_method = f->str[F_PAYMENT_METHOD];
    ev->items = p->items;
    ev->n_items = f->n_items;
    return 0;
}

/* A page view or a cart event: the product and a price >= 0; a cart event also has a
 * quantity in 1..1000000. */
static int validate_product(const fields *f, event *ev, char *reason, size_t rlen) {
    static const int req[] = {F_PRODUCT_ID, F_PRODUCT_NAME, F_CATEGORY, F_PRICE};
    if (check_required(f, req, sizeof req / sizeof *req, reason, rlen)) return -1;
    const jnum *pr = &f->num[F_PRICE];
    if (pr->d < 0 || (pr->is_int && pr->i < 0)) return fail(reason, rlen, "negative price");
    if (to_cents(pr, &ev->price_cents)) return fail(reason, rlen, "price too large");
    ev->product_id = f->str[F_PRODUCT_ID];
    ev->product_name = f->str[F_PRODUCT_NAME];
    ev->category = f->str[F_CATEGORY];
    if (ev->type == EV_PAGE_VIEW) return 0;
    if (!(f->seen & (1u << F_QUANTITY))) return fail(reason, rlen, "missing field quantity");
    const jnum *qn = &f->num[F_QUANTITY];
    if (!qn->is_int) return fail(reason, rlen, "quantity not an integer");
    if (qn->i <= 0) return fail(reason, rlen, "quantity must be > 0");
    if (qn->i > 1000000) return fail(reason, rlen, "quantity too large");
    ev->quantity = (int32_t)qn->i;
    return 0;
}

/* The rules after the syntax: the first rule broken is the reason. Static helpers called once
 * each: the compiler inlines them back into one function (instructions checked unchanged). */
static int validate(const fields *f, event_parser *p, event *ev, char *reason, size_t rlen) {
    if (validate_common(f, ev, reason, rlen)) return -1;
    if (ev->type == EV_PURCHASE) return validate_purchase(f, p, ev, reason, rlen);
    return validate_product(f, ev, reason, rlen);
}

size_t event_parser_decoded(const event_parser *p) { return p->decoded; }

int event_parse(event_parser *p, const char *line, size_t len, event *out, char *reason, size_t rlen) {
    char dummy[8];
    if (!reason || rlen == 0) {
        reason = dummy;
        rlen = sizeof dummy;
    }
    reason[0] = '\0';
    if (len > SIZE_MAX / 2 - 64) return fail(reason, rlen, "line too long");
    size_t need = 2 * len + 2;
    if (need > p->cap) {
        char *a = realloc(p->arena, need);
        if (!a) return fail(reason, rlen, "out of memory");
        p->arena = a;
        p->cap = need;
    }
    pctx c = {.start = line, .s = line, .end = line + len, .arena = p->arena,
              .scratch = p->arena + len + 1, .reason = reason, .rlen = rlen};
    fields f;
    f.seen = 0;
    f.have_lat = f.have_lon = false;
    f.n_items = 0;
    f.items_bad = false;
    f.lat = f.lon = 0;
    if (parse_object(&c, p, &f)) return -1;
    if (c.bad_field) return -1;
    p->decoded = (size_t)(c.arena - p->arena);
    memset(out, 0, sizeof *out);
    return validate(&f, p, out, reason, rlen);
}
