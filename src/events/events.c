/* events/events.c — event type names, topic routing and the JSON encoder. See events.h.
 *
 * The encoder is hand-written (not jansson/printf) because it is the generator's hot path:
 * it reserves a worst-case size once per event and then writes bytes straight into the
 * buffer, so one event costs a few hundred stores and no allocation in steady state. */
#include "events/events.h"

#include <math.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

static const char *const type_names[EV_TYPE_COUNT] = {"page_view", "add_to_cart", "remove_from_cart",
                                                      "purchase"};
static const char *const topic_names[TOPIC_COUNT] = {"page_views", "cart_events", "orders"};

const char *event_type_name(event_type t) {
    return (unsigned)t < EV_TYPE_COUNT ? type_names[t] : "unknown";
}

/* ---- UUIDs ----
 * Hand-written: every event's id is validated by the parser and packed by the engine's dedup;
 * a loop over the 32 digits with a table, twice, was 4.4% of `ecom stream`'s instructions. The
 * digits are first moved together (fixed-size copies), then taken 16 at a time in an SSE2
 * register (SSE2 is part of x86-64; other targets take one digit at a time). */
#ifdef __SSE2__
/* The 16 hex digits at p as a number, the first digit highest, into *out; false if one is not a
 * hex digit. */
static inline bool hex16(const char *p, uint64_t *out) {
    __m128i x = _mm_loadu_si128((const __m128i *)p), y = _mm_or_si128(x, _mm_set1_epi8(0x20));
    /* signed compares: a byte >= 0x80 is negative and matches neither range */
    __m128i digit = _mm_and_si128(_mm_cmpgt_epi8(x, _mm_set1_epi8('0' - 1)), _mm_cmplt_epi8(x, _mm_set1_epi8('9' + 1)));
    __m128i alpha = _mm_and_si128(_mm_cmpgt_epi8(y, _mm_set1_epi8('a' - 1)), _mm_cmplt_epi8(y, _mm_set1_epi8('f' + 1)));
    bool ok = _mm_movemask_epi8(_mm_or_si128(digit, alpha)) == 0xFFFF;
    __m128i v = _mm_add_epi8(_mm_and_si128(x, _mm_set1_epi8(0x0F)), _mm_and_si128(alpha, _mm_set1_epi8(9)));
    /* each 16-bit lane (first digit in its low byte) -> one byte: first << 4 | second */
    __m128i t = _mm_and_si128(_mm_or_si128(_mm_slli_epi16(v, 4), _mm_srli_epi16(v, 8)), _mm_set1_epi16(0xFF));
    uint64_t w;
    _mm_storel_epi64((__m128i *)&w, _mm_packus_epi16(t, t));
    *out = __builtin_bswap64(w); /* the first digit pair is in the low byte */
    return ok;
}
#else
static inline bool hex16(const char *p, uint64_t *out) {
    uint64_t w = 0;
    bool ok = true;
    for (int i = 0; i < 16; i++) {
        int c = (unsigned char)p[i], l = c | 0x20;
        int d = c >= '0' && c <= '9' ? c - '0' : l >= 'a' && l <= 'f' ? l - 'a' + 10 : -1;
        ok &= d >= 0;
        w = w << 4 | (uint64_t)(d & 15);
    }
    *out = w;
    return ok;
}
#endif

bool event_uuid_pack(strview v, uint64_t *hi, uint64_t *lo) {
    const char *p = v.p;
    if (v.n != 36 || p[8] != '-' || p[13] != '-' || p[18] != '-' || p[23] != '-') return false;
    char d[32]; /* the digits without the dashes */
    memcpy(d, p, 8);
    memcpy(d + 8, p + 9, 4);
    memcpy(d + 12, p + 14, 4);
    memcpy(d + 16, p + 19, 4);
    memcpy(d + 20, p + 24, 12);
    return hex16(d, hi) & hex16(d + 16, lo);
}

/* The sets themselves (events.h): compares of constant length, which the compiler turns into
 * a word compare or two (these run for every event, in the parser and in the lake writer). */
int event_store_type_id(strview v) {
    if (v.n == 6 && !memcmp(v.p, "online", 6)) return 0;
    if (v.n == 14 && !memcmp(v.p, "physical_store", 14)) return 1;
    return -1;
}

int event_device_id(strview v) {
    if (v.n == 6 && !memcmp(v.p, "mobile", 6)) return 0;
    if (v.n == 7 && !memcmp(v.p, "desktop", 7)) return 1;
    if (v.n == 6 && !memcmp(v.p, "tablet", 6)) return 2;
    return -1;
}

/* Why compares of constant length: every event's type passes here, and each one is a word
 * compare or two, where a strlen and a memcmp call per name tried were 9.7M per 200k lines. */
int event_type_parse(const char *s, size_t n, event_type *out) {
    event_type t;
    if (n == 9 && !memcmp(s, "page_view", 9)) t = EV_PAGE_VIEW;
    else if (n == 11 && !memcmp(s, "add_to_cart", 11)) t = EV_ADD_TO_CART;
    else if (n == 16 && !memcmp(s, "remove_from_cart", 16)) t = EV_REMOVE_FROM_CART;
    else if (n == 8 && !memcmp(s, "purchase", 8)) t = EV_PURCHASE;
    else return -1;
    *out = t;
    return 0;
}

event_topic event_topic_of(event_type t) {
    switch (t) {
    case EV_ADD_TO_CART:
    case EV_REMOVE_FROM_CART: return TOPIC_CART_EVENTS;
    case EV_PURCHASE: return TOPIC_ORDERS;
    default: return TOPIC_PAGE_VIEWS;
    }
}

const char *event_topic_name(event_topic t) {
    return (unsigned)t < TOPIC_COUNT ? topic_names[t] : "page_views";
}

/* ---- low-level writers: the caller has reserved enough room ---- */

static const char hexd[] = "0123456789abcdef";

/* Why a lookup table: the scan loop below is the hottest loop of the encoder; one load per byte
 * tells whether the byte can be copied as is (0) or needs an escape (1). */
static const unsigned char needs_escape[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
};

/* Nonzero when one of the 8 bytes in v is a control character, '"' or '\\' (SWAR: the classic
 * "has a byte less than / equal to" bit tricks; bytes >= 0x80, i.e. UTF-8, never match). */
static inline uint64_t swar_special(uint64_t v) {
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    uint64_t lt = v - ones * 0x20;
    uint64_t q = v ^ (ones * 0x22), b = v ^ (ones * 0x5C);
    return (lt | (q - ones) | (b - ones)) & ~v & highs;
}

/* Writes a quoted, escaped string at p; returns the new end. Room needed: 2 + 6 * n.
 * Why SWAR: names and ids are short runs of plain text; copying 8 bytes at a time while checking
 * them halves the encoder's time compared with a byte loop followed by memcpy. */
static char *put_string(char *p, const char *s, size_t n) {
    *p++ = '"';
    size_t i = 0;
    while (i < n) {
        while (i + 8 <= n) {
            uint64_t v;
            memcpy(&v, s + i, 8);
            if (swar_special(v)) break;
            memcpy(p, &v, 8);
            p += 8;
            i += 8;
        }
        while (i < n && !needs_escape[(unsigned char)s[i]]) *p++ = s[i++];
        if (i == n) break;
        unsigned char c = (unsigned char)s[i];
        *p++ = '\\';
        if (c == '"' || c == '\\') {
            *p++ = (char)c;
        } else {
            /* control character: \u00XX, the one form every JSON reader accepts */
            *p++ = 'u';
            *p++ = '0';
            *p++ = '0';
            *p++ = hexd[c >> 4];
            *p++ = hexd[c & 15];
        }
        i++;
    }
    *p++ = '"';
    return p;
}

/* Writes the decimal digits of v (v >= 0); returns the new end. Room needed: 20. */
static char *put_u64(char *p, uint64_t v) {
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n) *p++ = tmp[--n];
    return p;
}

static char *put_i64(char *p, int64_t v) {
    if (v < 0) {
        *p++ = '-';
        return put_u64(p, (uint64_t)0 - (uint64_t)v);
    }
    return put_u64(p, (uint64_t)v);
}

/* Money: cents as "<units>.<two digits>". Room needed: 23. */
static char *put_cents(char *p, int64_t cents) {
    uint64_t a;
    if (cents < 0) {
        *p++ = '-';
        a = (uint64_t)0 - (uint64_t)cents;
    } else {
        a = (uint64_t)cents;
    }
    p = put_u64(p, a / 100);
    *p++ = '.';
    *p++ = (char)('0' + a % 100 / 10);
    *p++ = (char)('0' + a % 10);
    return p;
}

/* Coordinates: up to six decimals (about 10 cm), trailing zeros trimmed, e.g. -0.1807.
 * Non-finite or absurd values are written as 0 so the output stays valid JSON. */
static char *put_coord(char *p, double v) {
    if (!isfinite(v) || fabs(v) > 1e6) v = 0;
    double sc = v * 1e6;
    int64_t m = (int64_t)(sc < 0 ? sc - 0.5 : sc + 0.5); /* round half away from zero */
    uint64_t a;
    if (m < 0) {
        *p++ = '-';
        a = (uint64_t)0 - (uint64_t)m;
    } else {
        a = (uint64_t)m;
    }
    p = put_u64(p, a / 1000000);
    *p++ = '.';
    char frac[6];
    uint64_t f = a % 1000000;
    for (int i = 5; i >= 0; i--) {
        frac[i] = (char)('0' + f % 10);
        f /= 10;
    }
    int n = 6;
    while (n > 1 && frac[n - 1] == '0') n--;
    memcpy(p, frac, (size_t)n);
    return p + n;
}

#define PUT_LIT(p, lit) (memcpy((p), (lit), sizeof(lit) - 1), (p) + sizeof(lit) - 1)

int json_append_string(buf_t *out, const char *s, size_t n) {
    if (n > (SIZE_MAX - 16) / 6 || buf_reserve(out, 2 + 6 * n) != 0) return -1;
    char *p = put_string(out->data + out->len, s, n);
    out->len = (size_t)(p - out->data);
    out->data[out->len] = '\0';
    return 0;
}

int json_append_cents(buf_t *out, int64_t cents) {
    if (buf_reserve(out, 24) != 0) return -1;
    char *p = put_cents(out->data + out->len, cents);
    out->len = (size_t)(p - out->data);
    out->data[out->len] = '\0';
    return 0;
}

/* Worst-case encoded size of e: fixed text plus six bytes per string byte (\u00XX). */
static size_t encoded_bound(const event *e) {
    size_t s = e->event_id.n + e->user_id.n + e->session_id.n + e->store_id.n + e->store_type.n +
               e->city.n + e->province.n + e->device.n + e->product_id.n + e->product_name.n +
               e->category.n + e->order_id.n + e->currency.n + e->payment_method.n;
    size_t b = 600 + 6 * s;
    for (size_t i = 0; i < e->n_items; i++) {
        const event_item *it = &e->items[i];
        b += 140 + 6 * (it->product_id.n + it->product_name.n + it->category.n);
    }
    return b;
}

/* The fields every event has, from '{' to the location's '}' (device excluded). */
static char *put_common(char *p, const event *e) {
    char ts[25];
    time_format_ms(e->ts_us, ts);
    p = PUT_LIT(p, "{\"event_id\":");
    p = put_string(p, e->event_id.p, e->event_id.n);
    p = PUT_LIT(p, ",\"event_type\":\"");
    static const unsigned char type_len[EV_TYPE_COUNT] = {9, 11, 16, 8};
    unsigned t = (unsigned)e->type < EV_TYPE_COUNT ? (unsigned)e->type : 0;
    memcpy(p, type_names[t], type_len[t]);
    p += type_len[t];
    p = PUT_LIT(p, "\",\"timestamp\":\"");
    memcpy(p, ts, 24);
    p += 24;
    p = PUT_LIT(p, "\",\"user_id\":");
    p = put_string(p, e->user_id.p, e->user_id.n);
    p = PUT_LIT(p, ",\"session_id\":");
    p = put_string(p, e->session_id.p, e->session_id.n);
    p = PUT_LIT(p, ",\"store_id\":");
    p = put_string(p, e->store_id.p, e->store_id.n);
    p = PUT_LIT(p, ",\"store_type\":");
    p = put_string(p, e->store_type.p, e->store_type.n);
    p = PUT_LIT(p, ",\"city\":");
    p = put_string(p, e->city.p, e->city.n);
    p = PUT_LIT(p, ",\"province\":");
    p = put_string(p, e->province.p, e->province.n);
    p = PUT_LIT(p, ",\"location\":{\"lat\":");
    p = put_coord(p, e->lat);
    p = PUT_LIT(p, ",\"lon\":");
    p = put_coord(p, e->lon);
    *p++ = '}';
    return p;
}

/* "product_id":..,"product_name":..,"category":.. (the same in an item and in a product event). */
static inline char *put_product(char *p, strview id, strview name, strview category) {
    p = PUT_LIT(p, "\"product_id\":");
    p = put_string(p, id.p, id.n);
    p = PUT_LIT(p, ",\"product_name\":");
    p = put_string(p, name.p, name.n);
    p = PUT_LIT(p, ",\"category\":");
    return put_string(p, category.p, category.n);
}

/* A purchase's own fields: order_id, the items, total, currency, payment_method. */
static char *put_purchase(char *p, const event *e) {
    p = PUT_LIT(p, ",\"order_id\":");
    p = put_string(p, e->order_id.p, e->order_id.n);
    p = PUT_LIT(p, ",\"items\":[");
    for (size_t i = 0; i < e->n_items; i++) {
        const event_item *it = &e->items[i];
        if (i) *p++ = ',';
        *p++ = '{';
        p = put_product(p, it->product_id, it->product_name, it->category);
        p = PUT_LIT(p, ",\"quantity\":");
        p = put_i64(p, it->quantity);
        p = PUT_LIT(p, ",\"unit_price\":");
        p = put_cents(p, it->unit_price_cents);
        *p++ = '}';
    }
    p = PUT_LIT(p, "],\"total\":");
    p = put_cents(p, e->total_cents);
    p = PUT_LIT(p, ",\"currency\":");
    p = put_string(p, e->currency.p, e->currency.n);
    p = PUT_LIT(p, ",\"payment_method\":");
    return put_string(p, e->payment_method.p, e->payment_method.n);
}

/* Field order is fixed (common fields first, then the type's fields) so that output is
 * byte-identical for identical events: --seed runs rely on it. */
int event_json_encode(const event *e, buf_t *out) {
    if (buf_reserve(out, encoded_bound(e)) != 0) return -1;
    char *p = put_common(out->data + out->len, e);
    if (e->device.n) {
        p = PUT_LIT(p, ",\"device\":");
        p = put_string(p, e->device.p, e->device.n);
    }
    if (e->type == EV_PURCHASE) {
        p = put_purchase(p, e);
    } else {
        *p++ = ',';
        p = put_product(p, e->product_id, e->product_name, e->category);
        p = PUT_LIT(p, ",\"price\":");
        p = put_cents(p, e->price_cents);
        if (e->type == EV_ADD_TO_CART || e->type == EV_REMOVE_FROM_CART) {
            p = PUT_LIT(p, ",\"quantity\":");
            p = put_i64(p, e->quantity);
        }
    }
    *p++ = '}';
    out->len = (size_t)(p - out->data);
    out->data[out->len] = '\0';
    return 0;
}
