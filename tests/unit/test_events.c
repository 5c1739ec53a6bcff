/* Unit tests for events: encoder escaping and numbers, round trip, every rejection reason, and a
 * differential check of the parser against jansson (the oracle) on random and mutated lines. */
#include "check.h"
#include "events/events.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>

/* ---- a tiny deterministic PRNG for the test's own random data ---- */
static uint64_t rnd_state = 0x1234567;
static uint64_t rnd(void) {
    uint64_t z = (rnd_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}
static size_t rnd_n(size_t n) { return (size_t)(rnd() % n); }

static event sample_event(event_type t) {
    static event_item items[2] = {
        {{"P0001", 5}, {"Samsung Galaxy A15 128GB", 24}, {"electronics", 11}, 2, 17999},
        {{"P0102", 5}, {"Nike Air Zoom Pegasus 40", 24}, {"sports", 6}, 1, 12950},
    };
    event e = {0};
    e.type = t;
    e.event_id = SV("0f8fad5b-d9cb-469f-a165-70867728950e");
    e.ts_us = 1795599000123000LL; /* 2026-11-25T09:30:00.123Z */
    e.user_id = SV("U000123");
    e.session_id = SV("S00000042");
    e.store_id = SV("ST001");
    e.store_type = SV("online");
    e.city = SV("Quito");
    e.province = SV("Pichincha");
    e.lat = -0.1807;
    e.lon = -78.4678;
    e.device = SV("mobile");
    if (t == EV_PURCHASE) {
        e.order_id = SV("O00000007");
        e.items = items;
        e.n_items = 2;
        e.total_cents = 2 * 17999 + 12950;
        e.currency = SV("USD");
        e.payment_method = SV("credit_card");
    } else {
        e.product_id = SV("P0001");
        e.product_name = SV("Samsung Galaxy A15 128GB");
        e.category = SV("electronics");
        e.price_cents = 17999;
        e.quantity = t == EV_PAGE_VIEW ? 0 : 2;
    }
    return e;
}

static void test_escaping(check_state *st) {
    CHECK_STATE(st);
    buf_t b = {0};
    const char in[] = "a\"b\\c\n\x01\x1f/\xc3\xa9\xe2\x82\xac\x7f";
    CHECK(json_append_string(&b, in, sizeof in - 1) == 0);
    CHECK_STREQ(b.data, "\"a\\\"b\\\\c\\u000a\\u0001\\u001f/\xc3\xa9\xe2\x82\xac\x7f\"");
    buf_reset(&b);
    CHECK(json_append_string(&b, "", 0) == 0);
    CHECK_STREQ(b.data, "\"\"");
    buf_reset(&b);
    /* embedded NUL is escaped, not truncated */
    CHECK(json_append_string(&b, "x\0y", 3) == 0);
    CHECK_STREQ(b.data, "\"x\\u0000y\"");
    /* the escaped text decodes back to the input (jansson as the oracle) */
    buf_reset(&b);
    char all[32];
    for (int i = 0; i < 31; i++) all[i] = (char)(i + 1);
    all[31] = '"';
    CHECK(json_append_string(&b, all, 32) == 0);
    json_error_t je;
    json_t *j = json_loadb(b.data, b.len, JSON_DECODE_ANY, &je);
    CHECK(j && json_is_string(j) && json_string_length(j) == 32 && !memcmp(json_string_value(j), all, 32));
    json_decref(j);
    /* every special byte at every offset of a longer string (the encoder works 8 bytes at a time) */
    const char specials[] = {'"', '\\', '\n', 0x01, 0x1f, 0x00};
    for (size_t k = 0; k < sizeof specials; k++) {
        for (int at = 0; at < 24; at++) {
            char s[24];
            memset(s, 'a', sizeof s);
            s[5] = (char)0xc3; /* a 2-byte UTF-8 letter before some positions */
            s[6] = (char)0xa9;
            if (at == 5 || at == 6) continue;
            s[at] = specials[k];
            buf_reset(&b);
            CHECK(json_append_string(&b, s, sizeof s) == 0);
            json_t *jj = json_loadb(b.data, b.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
            CHECK(jj && json_string_length(jj) == sizeof s && !memcmp(json_string_value(jj), s, sizeof s));
            json_decref(jj);
        }
    }
    buf_free(&b);
}

static void test_numbers(check_state *st) {
    CHECK_STATE(st);
    struct { int64_t c; const char *s; } cases[] = {
        {1999, "19.99"}, {-5, "-0.05"}, {0, "0.00"}, {100, "1.00"}, {7, "0.07"}, {-100, "-1.00"},
        {123456789012LL, "1234567890.12"}, {INT64_MIN, "-92233720368547758.08"},
        {INT64_MAX, "92233720368547758.07"},
    };
    buf_t b = {0};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        buf_reset(&b);
        CHECK(json_append_cents(&b, cases[i].c) == 0);
        CHECK_STREQ(b.data, cases[i].s);
    }
    buf_free(&b);
}

static void test_encode_exact(check_state *st) {
    CHECK_STATE(st);
    buf_t b = {0};
    event e = sample_event(EV_ADD_TO_CART);
    CHECK(event_json_encode(&e, &b) == 0);
    CHECK_STREQ(b.data,
                "{\"event_id\":\"0f8fad5b-d9cb-469f-a165-70867728950e\",\"event_type\":\"add_to_cart\","
                "\"timestamp\":\"2026-11-25T09:30:00.123Z\",\"user_id\":\"U000123\",\"session_id\":\"S00000042\","
                "\"store_id\":\"ST001\",\"store_type\":\"online\",\"city\":\"Quito\",\"province\":\"Pichincha\","
                "\"location\":{\"lat\":-0.1807,\"lon\":-78.4678},\"device\":\"mobile\",\"product_id\":\"P0001\","
                "\"product_name\":\"Samsung Galaxy A15 128GB\",\"category\":\"electronics\",\"price\":179.99,"
                "\"quantity\":2}");
    buf_reset(&b);
    e = sample_event(EV_PURCHASE);
    e.store_type = SV("physical_store");
    e.device = (strview){NULL, 0};
    CHECK(event_json_encode(&e, &b) == 0);
    CHECK(strstr(b.data, "\"device\"") == NULL);
    CHECK(strstr(b.data, "\"items\":[{\"product_id\":\"P0001\",\"product_name\":\"Samsung Galaxy A15 128GB\","
                         "\"category\":\"electronics\",\"quantity\":2,\"unit_price\":179.99},{") != NULL);
    CHECK(strstr(b.data, "\"total\":489.48,\"currency\":\"USD\",\"payment_method\":\"credit_card\"}") != NULL);
    buf_free(&b);
}

static bool sveq(strview a, strview b) { return a.n == b.n && (a.n == 0 || !memcmp(a.p, b.p, a.n)); }

static bool events_equal(const event *a, const event *b) {
    if (a->type != b->type || a->ts_us / 1000 != b->ts_us / 1000 || !sveq(a->event_id, b->event_id) ||
        !sveq(a->user_id, b->user_id) || !sveq(a->session_id, b->session_id) || !sveq(a->store_id, b->store_id) ||
        !sveq(a->store_type, b->store_type) || !sveq(a->city, b->city) || !sveq(a->province, b->province) ||
        fabs(a->lat - b->lat) > 1e-9 || fabs(a->lon - b->lon) > 1e-9 || !sveq(a->device, b->device))
        return false;
    if (a->type == EV_PURCHASE) {
        if (!sveq(a->order_id, b->order_id) || a->total_cents != b->total_cents || !sveq(a->currency, b->currency) ||
            !sveq(a->payment_method, b->payment_method) || a->n_items != b->n_items)
            return false;
        for (size_t i = 0; i < a->n_items; i++) {
            const event_item *x = &a->items[i], *y = &b->items[i];
            if (!sveq(x->product_id, y->product_id) || !sveq(x->product_name, y->product_name) ||
                !sveq(x->category, y->category) || x->quantity != y->quantity ||
                x->unit_price_cents != y->unit_price_cents)
                return false;
        }
        return true;
    }
    return sveq(a->product_id, b->product_id) && sveq(a->product_name, b->product_name) &&
           sveq(a->category, b->category) && a->price_cents == b->price_cents && a->quantity == b->quantity;
}

static void test_roundtrip(check_state *st) {
    CHECK_STATE(st);
    event_parser *p = event_parser_new();
    CHECK(p != NULL);
    buf_t b = {0}, b2 = {0};
    char reason[160];
    for (int t = 0; t < EV_TYPE_COUNT; t++) {
        event e = sample_event((event_type)t);
        /* names with every kind of text: escapes, controls, multi-byte UTF-8 */
        e.product_name = SV("Caf\xc3\xa9 \"Ecuador\" 500g\\\t\x01 \xf0\x9f\x98\x80");
        e.city = SV("Santo Domingo de los Ts\xc3\xa1" "chilas");
        buf_reset(&b);
        CHECK(event_json_encode(&e, &b) == 0);
        event d;
        int r = event_parse(p, b.data, b.len, &d, reason, sizeof reason);
        if (r) printf("  reason: %s\n  line: %s\n", reason, b.data);
        CHECK(r == 0);
        if (t != EV_PURCHASE) CHECK(events_equal(&e, &d));
        else CHECK(events_equal(&e, &d));
        buf_reset(&b2);
        CHECK(event_json_encode(&d, &b2) == 0);
        CHECK_STREQ(b2.data, b.data);
    }
    buf_free(&b);
    buf_free(&b2);
    event_parser_free(p);
}

/* The parser guesses each key from the one that followed the previous key in earlier lines
 * (events_parse.c, guess_key). A guess must never change a result: keys spelled with escapes,
 * keys that only start like the guessed one, duplicates and a changed key order all parse (or
 * are rejected) exactly as on a fresh parser, interleaved with lines in the learned order. */
static void test_key_guess(check_state *st) {
    CHECK_STATE(st);
    event_parser *p = event_parser_new(), *fresh = event_parser_new();
    event e = sample_event(EV_PAGE_VIEW), d, d2;
    buf_t b = {0}, m = {0};
    CHECK(event_json_encode(&e, &b) == 0);
    const char *at = strstr(b.data, "\"user_id\"");
    CHECK(at != NULL);
    /* the same fields, the key order changed: the second half of the keys first */
    buf_append_str(&m, "{");
    buf_append_str(&m, at);
    m.len--; /* drop the closing brace */
    buf_append_str(&m, ",");
    buf_append(&m, b.data + 1, (size_t)(at - b.data - 2));
    buf_append_str(&m, "}");
    const char *variants[][2] = {
        {NULL, NULL},                                               /* the learned order itself */
        {"\"event_id\"", "\"event\\u005fid\""},                    /* an escaped spelling: same key */
        {"\"event_id\"", "\"event_idx\""},                          /* only starts like it: unknown */
        {"\"timestamp\"", "\"event_id\":\"x\",\"timestamp\""},     /* a duplicate after a guess */
        {"\"price\"", "\"pric\""},                                  /* a short key at the line's end */
    };
    for (int round = 0; round < 2; round++) {
        for (size_t i = 0; i < sizeof variants / sizeof *variants; i++) {
            buf_t v = {0};
            const char *from = variants[i][0], *hit = from ? strstr(b.data, from) : NULL;
            if (hit) {
                buf_append(&v, b.data, (size_t)(hit - b.data));
                buf_append_str(&v, variants[i][1]);
                buf_append_str(&v, hit + strlen(from));
            } else {
                buf_append(&v, b.data, b.len);
            }
            char r1[160] = "", r2[160] = "";
            int a = event_parse(p, v.data, v.len, &d, r1, sizeof r1);
            int c = event_parse(fresh, v.data, v.len, &d2, r2, sizeof r2);
            event_parser_free(fresh);
            fresh = event_parser_new();
            CHECK_INTEQ(a, c);
            CHECK_STREQ(r1, r2);
            if (a == 0) CHECK(events_equal(&d, &d2));
            if (i < 2) CHECK(a == 0 && events_equal(&e, &d));
            buf_free(&v);
            /* the other key order in between, so the guesses keep changing */
            CHECK(event_parse(p, m.data, m.len, &d, r1, sizeof r1) == 0);
            CHECK(events_equal(&e, &d));
        }
    }
    buf_free(&b);
    buf_free(&m);
    event_parser_free(p);
    event_parser_free(fresh);
}

/* Builds a line from a sample event with one textual replacement applied. */
static void expect_reject(check_state *st, event_parser *p, event_type t, const char *from, const char *to,
                          const char *want) {
    CHECK_STATE(st);
    buf_t b = {0};
    event e = sample_event(t);
    CHECK(event_json_encode(&e, &b) == 0);
    buf_t m = {0};
    const char *at = from ? strstr(b.data, from) : NULL;
    if (from && !at) {
        printf("  test setup: '%s' not in line\n", from);
        CHECK(at != NULL);
    }
    if (at) {
        buf_append(&m, b.data, (size_t)(at - b.data));
        buf_append_str(&m, to);
        buf_append_str(&m, at + strlen(from));
    } else {
        buf_append_str(&m, to);
    }
    event d;
    char reason[160] = "";
    int r = event_parse(p, m.data, m.len, &d, reason, sizeof reason);
    if (r != -1 || !strstr(reason, want))
        printf("  line %s\n  expected reject '%s', got %d '%s'\n", m.data, want, r, reason);
    CHECK(r == -1);
    CHECK(strstr(reason, want) != NULL);
    buf_free(&b);
    buf_free(&m);
}

/* Numbers at and around the fast path's shapes (parse_number_fast: <= 15 digits, no exponent)
 * against their definition: a latitude is strtod's double of the text, bit for bit (an integer's zero is +0.0), and a price
 * llround(strtod * 100) cents; texts just outside the shapes ("01", "1.", "1.2.3", exponents,
 * 16+ digits) give the same verdicts as before the fast path. Fixed cases, then 20,000 random
 * texts of 1-9 integer and 0-9 fraction digits. */
static void number_case(check_state *st, event_parser *p, const char *lat, const char *price) {
    CHECK_STATE(st);
    char line[1024], reason[160] = "";
    int n = snprintf(line, sizeof line,
                     "{\"event_id\":\"0f8fad5b-d9cb-469f-a165-70867728950e\",\"event_type\":\"page_view\","
                     "\"timestamp\":\"2026-11-25T09:30:00.123Z\",\"user_id\":\"U1\",\"session_id\":\"S1\","
                     "\"store_id\":\"ST1\",\"store_type\":\"online\",\"city\":\"Quito\",\"province\":\"P\","
                     "\"location\":{\"lat\":%s,\"lon\":-78.4678},\"device\":\"mobile\",\"product_id\":\"P1\","
                     "\"product_name\":\"N\",\"category\":\"c\",\"price\":%s}", lat, price);
    event e;
    int r = event_parse(p, line, (size_t)n, &e, reason, sizeof reason);
    double la = strtod(lat, NULL), pr = strtod(price, NULL);
    bool ok = fabs(la) <= 90 && pr >= 0 && pr * 100 <= 100000000000.0;
    if (r != (ok ? 0 : -1)) printf("  lat %s price %s: %d '%s'\n", lat, price, r, reason);
    CHECK_INTEQ(r, ok ? 0 : -1);
    if (r == 0) {
        /* bit for bit, but "-0" is the integer 0 (+0.0), as jansson reads it */
        bool is_int = !strchr(lat, '.') && !strchr(lat, 'e');
        CHECK(is_int ? e.lat == la : memcmp(&e.lat, &la, sizeof la) == 0);
        CHECK_INTEQ(e.price_cents, llround(pr * 100));
    }
}

static void test_number_shapes(check_state *st) {
    CHECK_STATE(st);
    event_parser *p = event_parser_new();
    CHECK(p != NULL);
    const char *texts[] = {"0", "-0", "0.0", "-0.0", "7", "93.49", "93.495", "0.005", "0.015", "2.675", "1.005",
                           "1234567", "12345678", "123456789012345", "1234567890123456", "1234567.1234567",
                           "1234567.12345678", "0.12345678901234", "0.123456789012345", "0.1234567890123456",
                           "999999999.995", "999999999.994", "1000000000.00", "1000000000.001", "1e2", "1.5e1",
                           "-0.001", "-0.005", "89.99999999999999", "-90.000000000000001", "0.0e0"};
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
        number_case(st, p, texts[i], "1.00");
        number_case(st, p, "-0.1807", texts[i]);
    }
    for (int i = 0; i < 20000; i++) {
        char t[40];
        size_t k = 0;
        if (rnd_n(4) == 0) t[k++] = '-';
        size_t nd = 1 + rnd_n(9), nf = rnd_n(10);
        t[k++] = (char)('1' + rnd_n(9));
        for (size_t j = 1; j < nd; j++) t[k++] = (char)('0' + rnd_n(10));
        if (rnd_n(8) == 0) { k -= nd; t[k++] = '0'; } /* "0" or "0.xxx" */
        if (nf) {
            t[k++] = '.';
            for (size_t j = 0; j < nf; j++) t[k++] = (char)('0' + rnd_n(10));
        }
        t[k] = '\0';
        if (t[0] == '-') number_case(st, p, t, "1.00");
        else number_case(st, p, i % 2 ? t : "-0.1807", i % 2 ? "1.00" : t);
    }
    const char *bad[][2] = {{"01", "expected ',' or '}'"}, {"1.", "bad number"}, {".5", "bad number"},
                            {"1.2.3", "expected ',' or '}'"}, {"00", "expected ',' or '}'"}, {"0e", "bad number"},
                            {"1..2", "bad number"}, {"18446744073709551616", "integer out of range"}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char to[64];
        snprintf(to, sizeof to, "\"price\":%s}", bad[i][0]);
        expect_reject(st, p, EV_PAGE_VIEW, "\"price\":179.99}", to, bad[i][1]);
    }
    expect_reject(st, p, EV_PAGE_VIEW, "\"price\":179.99}", "\"price\":1000000000.001}", "price too large");
    event_parser_free(p);
}

/* The UUID check and packing (8 digits per word, event_uuid_pack) against the digit-at-a-time
 * definition: every byte value at every position of a UUID, both cases, wrong lengths, and the
 * digits' order in the 128 bits. */
static bool uuid_ref(const char *u, size_t n, uint64_t *hi, uint64_t *lo) {
    if (n != 36) return false;
    *hi = *lo = 0;
    for (int i = 0, d = 0; i < 36; i++) {
        int c = (unsigned char)u[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-') return false;
            continue;
        }
        int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (v < 0) return false;
        uint64_t *w = d < 16 ? hi : lo;
        *w = *w << 4 | (uint64_t)v;
        d++;
    }
    return true;
}

static void test_uuid_pack(check_state *st) {
    CHECK_STATE(st);
    const char *base[] = {"377a700a-57d2-4f06-b2f4-648f8f63c43e", "FFFFFFFF-0000-9999-AaFf-0123456789aB"};
    int bad = 0;
    for (int k = 0; k < 2; k++)
        for (int pos = 0; pos < 36; pos++)
            for (int c = 0; c < 256; c++) {
                char u[37];
                memcpy(u, base[k], 37);
                u[pos] = (char)c;
                uint64_t h1 = 0, l1 = 0, h2 = 1, l2 = 1;
                bool r1 = uuid_ref(u, 36, &h1, &l1), r2 = event_uuid_pack((strview){u, 36}, &h2, &l2);
                bad += r1 != r2 || (r1 && (h1 != h2 || l1 != l2));
            }
    CHECK_INTEQ(bad, 0);
    uint64_t h, l;
    CHECK(event_uuid_pack(SV("01234567-89ab-cdef-0123-456789ABCDEF"), &h, &l));
    CHECK(h == 0x0123456789abcdefULL && l == 0x0123456789abcdefULL);
    CHECK(!event_uuid_pack(SV("01234567-89ab-cdef-0123-456789ABCDE"), &h, &l));
    CHECK(!event_uuid_pack(SV("01234567-89ab-cdef-0123-456789ABCDEF0"), &h, &l));
}

static void test_rejections(check_state *st) {
    CHECK_STATE(st);
    event_parser *p = event_parser_new();
    const event_type V = EV_PAGE_VIEW, A = EV_ADD_TO_CART, R = EV_REMOVE_FROM_CART, P = EV_PURCHASE;
    /* syntax */
    expect_reject(st, p, V, NULL, "", "malformed JSON at byte 0");
    expect_reject(st, p, V, NULL, "[1,2]", "malformed JSON");
    expect_reject(st, p, V, "\"price\":179.99}", "\"price\":179.99}x", "trailing characters");
    expect_reject(st, p, V, "\"price\":179.99}", "\"price\":179.99}}", "trailing characters");
    expect_reject(st, p, V, "\"price\":179.99}", "\"price\":179.99", "expected ',' or '}'");
    expect_reject(st, p, V, "Quito", "Qu\\xito", "bad escape");
    expect_reject(st, p, V, "Quito", "Qu\\u12ito", "bad \\u escape");
    expect_reject(st, p, V, "Quito", "Qu\\ud800ito", "lone high surrogate");
    expect_reject(st, p, V, "Quito", "Qu\\udc00ito", "lone low surrogate");
    expect_reject(st, p, V, "Quito", "Qu\\u0000ito", "\\u0000");
    expect_reject(st, p, V, "Quito", "Qu\nito", "control character");
    expect_reject(st, p, V, "Quito", "Qu\xc3ito", "invalid UTF-8");
    expect_reject(st, p, V, "Quito", "Qu\xc0\xafito", "invalid UTF-8");      /* overlong */
    expect_reject(st, p, V, "Quito", "Qu\xed\xa0\x80ito", "invalid UTF-8");  /* surrogate */
    expect_reject(st, p, V, "179.99", "179.", "bad number");
    expect_reject(st, p, V, "179.99", "0179.99", "expected ',' or '}'");
    expect_reject(st, p, V, "179.99", "+179.99", "bad number");
    expect_reject(st, p, V, "179.99", "1e", "bad number");
    expect_reject(st, p, V, "179.99", "1e999", "number out of range");
    expect_reject(st, p, V, "\"price\"", "\"x\":99999999999999999999,\"price\"", "integer out of range");
    expect_reject(st, p, V, "\"price\"", "\"x\":tru,\"price\"", "bad literal");
    expect_reject(st, p, V, "\"price\"", "\"x\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]],\"price\"", "nesting too deep");
    /* types and presence */
    expect_reject(st, p, V, "\"price\":179.99", "\"price\":\"179.99\"", "field price: expected number, got string");
    expect_reject(st, p, V, "\"user_id\":\"U000123\"", "\"user_id\":123", "field user_id: expected string");
    expect_reject(st, p, V, "\"city\":\"Quito\"", "\"city\":null", "field city: expected string, got null");
    expect_reject(st, p, V, "\"city\":\"Quito\",", "", "missing field city");
    expect_reject(st, p, V, "\"city\":\"Quito\"", "\"city\":\"\"", "empty city");
    expect_reject(st, p, V, ",\"price\":179.99", "", "missing field price");
    expect_reject(st, p, V, "\"event_type\":\"page_view\",", "", "missing field event_type");
    expect_reject(st, p, V, "\"page_view\"", "\"click\"", "unknown event_type 'click'");
    expect_reject(st, p, V, "\"price\":179.99", "\"price\":179.99,\"price\":1.00", "duplicate field price");
    expect_reject(st, p, V, "\"location\":{\"lat\":-0.1807,", "\"location\":{", "missing field location.lat");
    expect_reject(st, p, V, "\"location\":{\"lat\":-0.1807,\"lon\":-78.4678}", "\"location\":[]", "field location: expected object");
    expect_reject(st, p, V, "-78.4678", "-278.4678", "location out of range");
    expect_reject(st, p, V, "\"device\":\"mobile\",", "", "missing field device");
    expect_reject(st, p, V, "\"mobile\"", "\"phone\"", "bad device 'phone'");
    expect_reject(st, p, V, "\"online\"", "\"kiosk\"", "bad store_type 'kiosk'");
    expect_reject(st, p, V, "0f8fad5b-d9cb", "0f8fad5b_d9cb", "bad event_id");
    expect_reject(st, p, V, "2026-11-25T09:30:00.123Z", "2026-11-25 09:30", "bad timestamp");
    expect_reject(st, p, V, "2026-11-25T09:30:00.123Z", "1999-12-31T23:59:59.999Z", "timestamp out of range");
    expect_reject(st, p, V, "2026-11-25T09:30:00.123Z", "2100-01-01T00:00:00.000Z", "timestamp out of range");
    /* values */
    expect_reject(st, p, V, "179.99", "-179.99", "negative price");
    expect_reject(st, p, V, "179.99", "1e12", "price too large");
    expect_reject(st, p, A, "\"quantity\":2", "\"quantity\":0", "quantity must be > 0");
    expect_reject(st, p, R, "\"quantity\":2", "\"quantity\":-1", "quantity must be > 0");
    expect_reject(st, p, A, "\"quantity\":2", "\"quantity\":2.5", "quantity not an integer");
    expect_reject(st, p, A, ",\"quantity\":2", "", "missing field quantity");
    expect_reject(st, p, P, "\"total\":489.48", "\"total\":489.47", "total 489.47 does not match items 489.48");
    expect_reject(st, p, P, "\"total\":489.48", "\"total\":-489.48", "negative total");
    expect_reject(st, p, P, "\"items\":[", "\"items\":[],\"x\":[", "empty items");
    expect_reject(st, p, P, "\"items\":[{", "\"items\":[3,{", "items[0]: expected object");
    expect_reject(st, p, P, "\"quantity\":2", "\"quantity\":0", "items[0]: quantity must be > 0");
    expect_reject(st, p, P, "\"unit_price\":129.50", "\"unit_price\":-129.50", "items[1]: negative unit_price");
    expect_reject(st, p, P, "\"quantity\":2,", "", "items[0]: missing field quantity");
    expect_reject(st, p, P, "\"USD\"", "\"usd\"", "bad currency");
    expect_reject(st, p, P, ",\"payment_method\":\"credit_card\"", "", "missing field payment_method");
    expect_reject(st, p, P, "\"order_id\":\"O00000007\",", "", "missing field order_id");
    /* unknown extra fields are ignored, whitespace is fine, exponent and integer prices are fine */
    buf_t b = {0};
    event e = sample_event(EV_PAGE_VIEW), d;
    event_json_encode(&e, &b);
    buf_t m = {0};
    buf_append_str(&m, " {\"extra\":{\"a\":[1,2.5e3,true,false,null,\"\\u00e9\\ud83d\\ude00\"]}, ");
    buf_append_str(&m, b.data + 1);
    buf_append_str(&m, " \r\n");
    char reason[160];
    int r = event_parse(p, m.data, m.len, &d, reason, sizeof reason);
    if (r) printf("  %s\n", reason);
    CHECK(r == 0);
    CHECK(events_equal(&e, &d));
    const char *at = strstr(b.data, "179.99");
    buf_reset(&m);
    buf_append(&m, b.data, (size_t)(at - b.data));
    buf_append_str(&m, "1.7999e2}");
    CHECK(event_parse(p, m.data, m.len, &d, reason, sizeof reason) == 0 && d.price_cents == 17999);
    buf_reset(&m);
    buf_append(&m, b.data, (size_t)(at - b.data));
    buf_append_str(&m, "180}");
    CHECK(event_parse(p, m.data, m.len, &d, reason, sizeof reason) == 0 && d.price_cents == 18000);
    buf_free(&b);
    buf_free(&m);
    event_parser_free(p);
}

/* ---- differential check against jansson ---- */

static const char *const rnd_words[] = {
    "Quito", "Guayaquil", "Caf\xc3\xa9", "a\"b", "back\\slash", "tab\there", "\xe2\x82\xac" "5", "\xf0\x9f\x9b\x92",
    "Santo Domingo de los Ts\xc3\xa1" "chilas", "x", "ctl\x01", "Nike Air Zoom Pegasus 40"};

static strview rnd_word(void) { return sv_cstr(rnd_words[rnd_n(sizeof rnd_words / sizeof *rnd_words)]); }

/* A random valid event: varied strings, prices, quantities, item counts. */
static void random_event(event *e, event_item *items, char *uuid) {
    static const char *const dev[] = {"mobile", "desktop", "tablet"};
    *e = sample_event((event_type)rnd_n(EV_TYPE_COUNT));
    snprintf(uuid, 37, "%08x-%04x-4%03x-a%03x-%012llx", (unsigned)rnd(), (unsigned)rnd() & 0xffff,
             (unsigned)rnd() & 0xfff, (unsigned)rnd() & 0xfff, (unsigned long long)(rnd() & 0xffffffffffffULL));
    e->event_id = (strview){uuid, 36};
    e->ts_us = 946684800000000LL + (int64_t)(rnd() % 3000000000000000ULL);
    e->city = rnd_word();
    e->user_id = rnd_word();
    if (rnd_n(3) == 0) {
        e->store_type = SV("physical_store");
        e->device = (strview){NULL, 0};
    } else {
        e->device = sv_cstr(dev[rnd_n(3)]);
    }
    e->lat = (double)((int64_t)rnd_n(1800000) - 900000) / 10000.0;
    e->lon = (double)((int64_t)rnd_n(3600000) - 1800000) / 10000.0;
    if (e->type == EV_PURCHASE) {
        size_t n = 1 + rnd_n(4);
        int64_t total = 0;
        for (size_t i = 0; i < n; i++) {
            items[i].product_id = rnd_word();
            items[i].product_name = rnd_word();
            items[i].category = rnd_word();
            items[i].quantity = 1 + (int32_t)rnd_n(5);
            items[i].unit_price_cents = (int64_t)rnd_n(500000);
            total += items[i].quantity * items[i].unit_price_cents;
        }
        e->items = items;
        e->n_items = n;
        e->total_cents = total;
    } else {
        e->product_name = rnd_word();
        e->price_cents = (int64_t)rnd_n(10000000);
        if (e->type != EV_PAGE_VIEW) e->quantity = 1 + (int32_t)rnd_n(9);
    }
}

/* Mutates a JSON line in place-ish: byte edits that mostly break syntax. */
static void mutate_bytes(buf_t *b) {
    static const char pool[] = "{}[]:,\"\\-+.0123456789eEtrufalsn \x01\x7f\xc3\xa9\xff/u";
    int k = 1 + (int)rnd_n(3);
    for (int i = 0; i < k && b->len > 0; i++) {
        size_t at = rnd_n(b->len);
        switch (rnd_n(4)) {
        case 0: b->data[at] = pool[rnd_n(sizeof pool - 1)]; break;
        case 1: memmove(b->data + at, b->data + at + 1, b->len - at - 1); b->len--; break;
        case 2:
            buf_reserve(b, 1);
            memmove(b->data + at + 1, b->data + at, b->len - at);
            b->data[at] = pool[rnd_n(sizeof pool - 1)];
            b->len++;
            break;
        default: b->len = at; break;
        }
    }
    b->data[b->len] = '\0';
}

/* Structural mutations through jansson: drop a field, retype it, change a number's sign/size. */
static void mutate_tree(json_t *o) {
    json_t *target = o;
    if (rnd_n(3) == 0) {
        json_t *items = json_object_get(o, "items");
        if (items && json_array_size(items)) target = json_array_get(items, rnd_n(json_array_size(items)));
        else if (json_object_get(o, "location")) target = json_object_get(o, "location");
    }
    if (!json_is_object(target) || json_object_size(target) == 0) return;
    size_t idx = rnd_n(json_object_size(target)), i = 0;
    const char *key = NULL;
    json_t *v;
    json_object_foreach(target, key, v) {
        if (i++ == idx) break;
    }
    if (!key) return;
    static const double nums[] = {-1, 0, 0.5, 2, -0.01, 1e10, 3.14159, 1e-3, 100};
    switch (rnd_n(8)) {
    case 0: json_object_del(target, key); break;
    case 1: json_object_set_new(target, key, json_null()); break;
    case 2: json_object_set_new(target, key, json_real(nums[rnd_n(9)])); break;
    case 3: json_object_set_new(target, key, json_integer((json_int_t)rnd_n(5) - 1)); break;
    case 4: json_object_set_new(target, key, json_string(rnd_n(2) ? "" : "zzz")); break;
    case 5: json_object_set_new(target, key, json_array()); break;
    case 6: json_object_set_new(target, "unknown_extra", json_pack("{s:[i,s]}", "k", 1, "v")); break;
    default:
        if (json_is_number(v)) json_object_set_new(target, key, json_real(-json_number_value(v)));
        else json_object_set_new(target, key, json_string("2026-01-01T00:00:00.000Z"));
        break;
    }
}

static const char *sget(json_t *o, const char *k) {
    json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static bool nonempty_str(json_t *o, const char *k) {
    const char *s = sget(o, k);
    return s && *s;
}

static bool money_ok(json_t *v, int64_t *cents) {
    if (!json_is_number(v)) return false;
    double d = json_number_value(v);
    if (d < 0 || d * 100 > 1e11) return false;
    *cents = llround(d * 100);
    return true;
}

static bool uuid_like(const char *s) {
    if (!s || strlen(s) != 36) return false;
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) { if (s[i] != '-') return false; }
        else if (!strchr("0123456789abcdefABCDEF", s[i]) || !s[i]) return false;
    }
    return true;
}

/* The reference validator: the rules of docs/events.md, written independently over jansson. */
static bool ref_item_ok(json_t *it) {
    if (!json_is_object(it)) return false;
    const char *names[] = {"product_id", "product_name", "category"};
    for (int i = 0; i < 3; i++)
        if (!nonempty_str(it, names[i])) return false;
    json_t *q = json_object_get(it, "quantity");
    int64_t c;
    return json_is_integer(q) && json_integer_value(q) > 0 && json_integer_value(q) <= 1000000 &&
           money_ok(json_object_get(it, "unit_price"), &c);
}

static bool ref_valid(json_t *o) {
    if (!json_is_object(o)) return false;
    /* every known field present must have its type, whatever the event type */
    const char *strs[] = {"event_id", "event_type", "timestamp", "user_id", "session_id", "store_id",
                          "store_type", "city", "province", "product_id", "product_name", "category",
                          "order_id", "currency", "payment_method"};
    for (size_t i = 0; i < sizeof strs / sizeof *strs; i++) {
        json_t *v = json_object_get(o, strs[i]);
        if (v && !json_is_string(v)) return false;
    }
    json_t *v;
    if ((v = json_object_get(o, "device")) && !json_is_string(v) && !json_is_null(v)) return false;
    const char *nums[] = {"price", "quantity", "total"};
    for (int i = 0; i < 3; i++)
        if ((v = json_object_get(o, nums[i])) && !json_is_number(v)) return false;
    json_t *loc = json_object_get(o, "location");
    if (loc) {
        if (!json_is_object(loc)) return false;
        json_t *la = json_object_get(loc, "lat"), *lo = json_object_get(loc, "lon");
        if ((la && !json_is_number(la)) || (lo && !json_is_number(lo))) return false;
    }
    json_t *items = json_object_get(o, "items");
    if (items) {
        if (!json_is_array(items) || json_array_size(items) > EVENT_MAX_ITEMS) return false;
        for (size_t i = 0; i < json_array_size(items); i++)
            if (!ref_item_ok(json_array_get(items, i))) return false;
    }
    const char *t = sget(o, "event_type");
    if (!t) return false;
    bool pv = !strcmp(t, "page_view"), cart = !strcmp(t, "add_to_cart") || !strcmp(t, "remove_from_cart"),
         pur = !strcmp(t, "purchase");
    if (!pv && !cart && !pur) return false;
    const char *req[] = {"event_id", "timestamp", "user_id", "session_id", "store_id", "store_type", "city", "province"};
    for (int i = 0; i < 8; i++)
        if (!nonempty_str(o, req[i])) return false;
    if (!uuid_like(sget(o, "event_id"))) return false;
    int64_t ts;
    const char *tss = sget(o, "timestamp");
    if (time_parse_rfc3339(tss, strlen(tss), &ts) || ts < 946684800000000LL || ts >= 4102444800000000LL) return false;
    const char *stype = sget(o, "store_type");
    if (strcmp(stype, "online") && strcmp(stype, "physical_store")) return false;
    if (!loc) return false;
    json_t *la = json_object_get(loc, "lat"), *lo = json_object_get(loc, "lon");
    if (!la || !lo || fabs(json_number_value(la)) > 90 || fabs(json_number_value(lo)) > 180) return false;
    const char *dev = sget(o, "device");
    if (!strcmp(stype, "online") && !dev) return false;
    if (dev && strcmp(dev, "mobile") && strcmp(dev, "desktop") && strcmp(dev, "tablet")) return false;
    int64_t c;
    if (pur) {
        if (!nonempty_str(o, "order_id") || !nonempty_str(o, "currency") || !nonempty_str(o, "payment_method"))
            return false;
        if (!items || json_array_size(items) == 0) return false;
        int64_t total, sum = 0;
        if (!money_ok(json_object_get(o, "total"), &total)) return false;
        for (size_t i = 0; i < json_array_size(items); i++) {
            json_t *it = json_array_get(items, i);
            money_ok(json_object_get(it, "unit_price"), &c);
            sum += json_integer_value(json_object_get(it, "quantity")) * c;
        }
        const char *cur = sget(o, "currency");
        if (strlen(cur) != 3) return false;
        for (int i = 0; i < 3; i++)
            if (cur[i] < 'A' || cur[i] > 'Z') return false;
        return sum == total;
    }
    if (!nonempty_str(o, "product_id") || !nonempty_str(o, "product_name") || !nonempty_str(o, "category"))
        return false;
    if (!money_ok(json_object_get(o, "price"), &c)) return false;
    if (pv) return true;
    json_t *q = json_object_get(o, "quantity");
    return json_is_integer(q) && json_integer_value(q) > 0 && json_integer_value(q) <= 1000000;
}

/* When both accept, the parsed values must agree with jansson's reading of the line. */
static bool agrees(json_t *o, const event *e) {
    const char *t = sget(o, "event_type");
    if (!t || strcmp(t, event_type_name(e->type))) return false;
    struct { const char *k; strview v; } s[] = {
        {"event_id", e->event_id}, {"user_id", e->user_id}, {"session_id", e->session_id},
        {"store_id", e->store_id}, {"city", e->city}, {"province", e->province}};
    for (size_t i = 0; i < sizeof s / sizeof *s; i++) {
        json_t *v = json_object_get(o, s[i].k);
        if (json_string_length(v) != s[i].v.n || memcmp(json_string_value(v), s[i].v.p, s[i].v.n)) return false;
    }
    json_t *loc = json_object_get(o, "location");
    if (json_number_value(json_object_get(loc, "lat")) != e->lat) return false;
    if (json_number_value(json_object_get(loc, "lon")) != e->lon) return false;
    int64_t c;
    if (e->type == EV_PURCHASE) {
        json_t *items = json_object_get(o, "items");
        if (json_array_size(items) != e->n_items) return false;
        for (size_t i = 0; i < e->n_items; i++) {
            json_t *it = json_array_get(items, i);
            json_t *nm = json_object_get(it, "product_name");
            if (json_string_length(nm) != e->items[i].product_name.n ||
                memcmp(json_string_value(nm), e->items[i].product_name.p, e->items[i].product_name.n))
                return false;
            money_ok(json_object_get(it, "unit_price"), &c);
            if (c != e->items[i].unit_price_cents) return false;
        }
        money_ok(json_object_get(o, "total"), &c);
        return c == e->total_cents;
    }
    json_t *nm = json_object_get(o, "product_name");
    if (json_string_length(nm) != e->product_name.n || memcmp(json_string_value(nm), e->product_name.p, e->product_name.n))
        return false;
    money_ok(json_object_get(o, "price"), &c);
    return c == e->price_cents;
}

static int diff_reported = 0;

static void diff_one(check_state *st, event_parser *p, const buf_t *line, int *n_acc) {
    CHECK_STATE(st);
    event e;
    char reason[160];
    int mine = event_parse(p, line->data, line->len, &e, reason, sizeof reason);
    json_error_t je;
    json_t *o = json_loadb(line->data, line->len, JSON_REJECT_DUPLICATES, &je);
    bool ref = o && ref_valid(o);
    bool ok = (mine == 0) == ref && (mine != 0 || agrees(o, &e));
    if (!ok && diff_reported++ < 5)
        printf("  differs: mine=%d (%s) jansson=%s ref=%d\n  line: %s\n", mine, mine ? reason : "",
               o ? "ok" : je.text, ref, line->data);
    CHECK(ok);
    if (mine == 0) (*n_acc)++;
    json_decref(o);
}

static void test_differential(check_state *st) {
    CHECK_STATE(st);
    event_parser *p = event_parser_new();
    buf_t b = {0};
    event_item items[8];
    char uuid[40];
    int accepted = 0, total = 0;
    for (int i = 0; i < 20000; i++) {
        event e;
        random_event(&e, items, uuid);
        buf_reset(&b);
        CHECK(event_json_encode(&e, &b) == 0);
        int kind = (int)rnd_n(3);
        if (kind == 1) {
            mutate_bytes(&b);
        } else if (kind == 2) {
            json_t *o = json_loadb(b.data, b.len, 0, NULL);
            CHECK(o != NULL);
            if (!o) continue;
            mutate_tree(o);
            char *s = json_dumps(o, JSON_COMPACT);
            buf_reset(&b);
            buf_append_str(&b, s);
            free(s);
            json_decref(o);
        }
        diff_one(st, p, &b, &accepted);
        total++;
    }
    printf("  differential: %d lines, %d accepted by both\n", total, accepted);
    /* the sample must exercise both sides */
    CHECK(accepted > total / 4 && accepted < total);
    buf_free(&b);
    event_parser_free(p);
}

int main(void) {
    check_state st = {0};
    RUN(&st, test_escaping);
    RUN(&st, test_numbers);
    RUN(&st, test_encode_exact);
    RUN(&st, test_roundtrip);
    RUN(&st, test_rejections);
    RUN(&st, test_key_guess);
    RUN(&st, test_uuid_pack);
    RUN(&st, test_number_shapes);
    RUN(&st, test_differential);
    return CHECK_EXIT(&st);
}
