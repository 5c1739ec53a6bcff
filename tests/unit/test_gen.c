/* Unit tests for gen: geography and catalog tables, and the simulator's invariants over a
 * large sample (every line valid, purchases carry exactly the cart, rates within the published
 * bounds, long-tailed popularity, per-user affinity, determinism, fault fractions). */
#include "check.h"
#include "events/events.h"
#include "gen/gen.h"

#include <math.h>
#include <stdlib.h>

static gen *new_gen(uint64_t seed, int64_t users, double late, double dup, double bad) {
    gen_config cfg = {.seed = seed, .users = users, .rate = 200, .start_us = 1795597200000000LL, /* 2026-11-25T09:00Z */
                      .late_frac = late, .late_max_us = 30000000, .dup_frac = dup, .bad_frac = bad};
    char err[128];
    gen *g = gen_new(&cfg, err, sizeof err);
    if (!g) printf("  gen_new: %s\n", err);
    return g;
}

static const gen_city *city_named(const char *name) {
    for (size_t i = 0; i < gen_city_count(); i++)
        if (!strcmp(gen_city_get(i)->name, name)) return gen_city_get(i);
    return NULL;
}

static void test_geography(check_state *st) {
    CHECK_STATE(st);
    struct { const char *city, *province; double lat, lon; } truth[] = {
        {"Quito", "Pichincha", -0.1807, -78.4678},
        {"Guayaquil", "Guayas", -2.1709, -79.9224},
        {"Cuenca", "Azuay", -2.9001, -79.0059},
        {"Santo Domingo", "Santo Domingo de los Ts\xc3\xa1" "chilas", -0.254, -79.172},
        {"Ambato", "Tungurahua", -1.249, -78.617},
        {"Manta", "Manab\xc3\xad", -0.968, -80.709},
        {"Portoviejo", "Manab\xc3\xad", -1.055, -80.455},
        {"Machala", "El Oro", -3.258, -79.955},
        {"Loja", "Loja", -3.993, -79.204},
        {"Riobamba", "Chimborazo", -1.664, -78.655},
        {"Ibarra", "Imbabura", 0.352, -78.122},
        {"Esmeraldas", "Esmeraldas", 0.968, -79.652},
    };
    for (size_t i = 0; i < sizeof truth / sizeof *truth; i++) {
        const gen_city *c = city_named(truth[i].city);
        CHECK(c != NULL);
        if (!c) continue;
        CHECK_STREQ(c->province, truth[i].province);
        CHECK(fabs(c->lat - truth[i].lat) < 0.01 && fabs(c->lon - truth[i].lon) < 0.01);
    }
    /* every city inside Ecuador's bounding box (mainland, or the Galápagos) */
    for (size_t i = 0; i < gen_city_count(); i++) {
        const gen_city *c = gen_city_get(i);
        bool mainland = c->lat > -5.1 && c->lat < 1.5 && c->lon > -81.1 && c->lon < -75.1;
        bool galapagos = !strcmp(c->province, "Gal\xc3\xa1pagos") && c->lon > -92 && c->lon < -89;
        CHECK(mainland || galapagos);
        CHECK(c->population_k > 0);
    }
    /* all 24 provinces */
    const char *seen[64];
    size_t np = 0;
    for (size_t i = 0; i < gen_city_count(); i++) {
        size_t j;
        for (j = 0; j < np; j++)
            if (!strcmp(seen[j], gen_city_get(i)->province)) break;
        if (j == np) seen[np++] = gen_city_get(i)->province;
    }
    CHECK_INTEQ(np, 24);
    /* stores ST001.. in order, each near its city */
    for (size_t i = 0; i < gen_store_count(); i++) {
        const gen_store *s = gen_store_get(i);
        char want[32];
        snprintf(want, sizeof want, "ST%03zu", i + 1);
        CHECK_STREQ(s->store_id, want);
        const gen_city *c = gen_city_get((size_t)s->city);
        CHECK(c != NULL);
        if (c) CHECK(fabs(s->lat - c->lat) < 0.15 && fabs(s->lon - c->lon) < 0.15);
    }
    CHECK(!strcmp(gen_city_get((size_t)gen_store_get(0)->city)->name, "Quito"));
}

static void test_catalog(check_state *st) {
    CHECK_STATE(st);
    gen *g = new_gen(1, 100, 0, 0, 0);
    CHECK(g != NULL);
    if (!g) return;
    size_t n;
    const gen_product *p = gen_products(g, &n);
    CHECK(n >= 300 && n <= 500);
    CHECK(gen_category_count() == 10);
    size_t per_cat[16] = {0};
    for (size_t i = 0; i < n; i++) {
        char want[32];
        snprintf(want, sizeof want, "P%04zu", i + 1);
        CHECK_STREQ(p[i].id, want);
        const gen_category *c = gen_category_get((size_t)p[i].category);
        CHECK(c != NULL);
        if (!c) continue;
        CHECK(p[i].price_cents >= c->min_cents && p[i].price_cents <= c->max_cents);
        per_cat[p[i].category]++;
        for (size_t j = 0; j < i; j++) CHECK(strcmp(p[i].name, p[j].name) != 0);
    }
    for (size_t c = 0; c < gen_category_count(); c++) CHECK(per_cat[c] >= 15);
    /* the same catalog for another seed */
    gen *g2 = new_gen(99, 100, 0, 0, 0);
    size_t n2;
    const gen_product *p2 = gen_products(g2, &n2);
    CHECK(n2 == n && !memcmp(p, p2, n * sizeof *p));
    gen_free(g);
    gen_free(g2);
}

/* ---- per-session cart tracking for the purchase invariant ---- */
#define SLOTS (1 << 17)
typedef struct {
    char sid[16];
    int n;
    int prod[32], qty[32];
} cart_slot;

static cart_slot *slot_for(cart_slot *t, strview sid) {
    uint64_t h = hash64(sid.p, sid.n) & (SLOTS - 1);
    for (;;) {
        cart_slot *s = &t[h];
        if (!s->sid[0]) {
            memcpy(s->sid, sid.p, sid.n < 15 ? sid.n : 15);
            return s;
        }
        if (strlen(s->sid) == sid.n && !memcmp(s->sid, sid.p, sid.n)) return s;
        h = (h + 1) & (SLOTS - 1);
    }
}

static int prod_num(strview id) { return atoi(id.p + 1); }

static void test_invariants(check_state *st) {
    CHECK_STATE(st);
    const int N = 300000;
    gen *g = new_gen(7, 20000, 0, 0, 0);
    event_parser *p = event_parser_new();
    cart_slot *carts = calloc(SLOTS, sizeof *carts);
    CHECK(g && p && carts);
    if (!g || !p || !carts) return;
    buf_t line = {0};
    gen_meta m;
    char reason[160];
    long by_type[EV_TYPE_COUNT] = {0};
    long invalid = 0, bad_purchase = 0, bad_removal = 0, bad_geo = 0, bad_meta = 0;
    size_t np;
    gen_products(g, &np);
    long *views = calloc(np + 1, sizeof *views);
    int64_t last_ts = 0;
    long backwards = 0;
    for (int i = 0; i < N; i++) {
        buf_reset(&line);
        CHECK(gen_next(g, -1, &line, &m) == 0);
        event e;
        if (event_parse(p, line.data, line.len, &e, reason, sizeof reason)) {
            if (invalid++ < 3) printf("  invalid: %s\n  %s\n", reason, line.data);
            continue;
        }
        by_type[e.type]++;
        if (e.ts_us < last_ts) backwards++;
        last_ts = e.ts_us;
        if (m.kind != GEN_FRESH || m.type != e.type || m.topic != event_topic_of(e.type) || m.ts_us != e.ts_us ||
            m.key_len != e.user_id.n || memcmp(m.key, e.user_id.p, m.key_len))
            bad_meta++;
        /* geography: store events carry their store's city; online events a real city */
        bool online = e.store_type.n == 6;
        const gen_city *c = NULL;
        for (size_t k = 0; k < gen_city_count(); k++) {
            const gen_city *ck = gen_city_get(k);
            if (strlen(ck->name) == e.city.n && !memcmp(ck->name, e.city.p, e.city.n)) c = ck;
        }
        if (!c || strlen(c->province) != e.province.n || memcmp(c->province, e.province.p, e.province.n))
            bad_geo++;
        else if (online && (e.lat != c->lat || e.lon != c->lon || !e.device.n || strncmp(e.store_id.p, "ST000", 5)))
            bad_geo++;
        else if (!online) {
            size_t sk;
            for (sk = 0; sk < gen_store_count(); sk++)
                if (!strncmp(gen_store_get(sk)->store_id, e.store_id.p, 5)) break;
            if (sk == gen_store_count() || gen_city_get((size_t)gen_store_get(sk)->city) != c || e.device.n ||
                e.lat != gen_store_get(sk)->lat)
                bad_geo++;
        }
        cart_slot *s = slot_for(carts, e.session_id);
        if (e.type == EV_PAGE_VIEW) {
            views[prod_num(e.product_id)]++;
        } else if (e.type == EV_ADD_TO_CART) {
            if (s->n < 32) {
                s->prod[s->n] = prod_num(e.product_id);
                s->qty[s->n++] = e.quantity;
            }
        } else if (e.type == EV_REMOVE_FROM_CART) {
            int k, pid = prod_num(e.product_id);
            for (k = 0; k < s->n; k++)
                if (s->prod[k] == pid && s->qty[k] == e.quantity) break;
            if (k == s->n) bad_removal++;
            else {
                s->n--;
                memmove(&s->prod[k], &s->prod[k + 1], (size_t)(s->n - k) * sizeof(int));
                memmove(&s->qty[k], &s->qty[k + 1], (size_t)(s->n - k) * sizeof(int));
            }
        } else {
            /* the purchase holds exactly the cart, merged by product */
            int want[1024] = {0};
            int units = 0;
            for (int k = 0; k < s->n; k++) {
                want[s->prod[k]] += s->qty[k];
                units += s->qty[k];
            }
            int64_t sum = 0;
            for (size_t k = 0; k < e.n_items; k++) {
                int pid = prod_num(e.items[k].product_id);
                if (want[pid] != e.items[k].quantity) bad_purchase++;
                units -= e.items[k].quantity;
                sum += e.items[k].quantity * e.items[k].unit_price_cents;
            }
            if (units != 0 || sum != e.total_cents || e.n_items == 0) bad_purchase++;
            s->n = 0;
        }
    }
    CHECK_INTEQ(invalid, 0);
    CHECK_INTEQ(bad_meta, 0);
    CHECK_INTEQ(bad_geo, 0);
    CHECK_INTEQ(bad_removal, 0);
    CHECK_INTEQ(bad_purchase, 0);
    CHECK_INTEQ(backwards, 0);
    double view_cart = (double)by_type[EV_ADD_TO_CART] / (double)by_type[EV_PAGE_VIEW];
    double removal = (double)by_type[EV_REMOVE_FROM_CART] / (double)by_type[EV_ADD_TO_CART];
    gen_stats gs;
    gen_stats_get(g, &gs);
    double buy = (double)gs.purchases / (double)gs.carts_with_items;
    printf("  view->cart %.3f, removals/adds %.3f, cart->purchase %.3f, purchases %ld\n", view_cart, removal, buy,
           by_type[EV_PURCHASE]);
    CHECK(view_cart >= 0.03 && view_cart <= 0.10);
    CHECK(removal >= 0.28 && removal <= 0.38);
    CHECK(buy >= 0.20 && buy <= 0.40);
    CHECK(gs.lines == (uint64_t)N && gs.fresh == (uint64_t)N && gs.purchases == (uint64_t)by_type[EV_PURCHASE]);
    /* long tail: the 10% most viewed products get well over 10% of views (Zipf within
     * category gives about 40%), and nearly every product is seen at least once */
    long total = 0, seen = 0;
    for (size_t k = 1; k <= np; k++) {
        total += views[k];
        seen += views[k] > 0;
    }
    for (size_t a = 1; a <= np; a++) /* sort descending (small n) */
        for (size_t b = a + 1; b <= np; b++)
            if (views[b] > views[a]) {
                long t = views[a];
                views[a] = views[b];
                views[b] = t;
            }
    long top = 0;
    for (size_t k = 1; k <= np / 10; k++) top += views[k];
    printf("  top 10%% of products: %.1f%% of views; %ld of %zu products seen\n", 100.0 * top / total, seen, np);
    CHECK((double)top / total > 0.25);
    CHECK(seen >= (long)np * 9 / 10);
    free(views);
    free(carts);
    buf_free(&line);
    event_parser_free(p);
    gen_free(g);
}

/* Users keep to their favourite categories: the mean share of a user's top category among
 * their views is far above the 1/10 of a uniform shopper. */
static void test_affinity(check_state *st) {
    CHECK_STATE(st);
    enum { USERS = 400 };
    gen *g = new_gen(3, USERS, 0, 0, 0);
    event_parser *p = event_parser_new();
    static int counts[USERS][10];
    memset(counts, 0, sizeof counts);
    buf_t line = {0};
    gen_meta m;
    size_t np;
    const gen_product *prods = gen_products(g, &np);
    for (int i = 0; i < 200000; i++) {
        buf_reset(&line);
        gen_next(g, -1, &line, &m);
        event e;
        if (event_parse(p, line.data, line.len, &e, NULL, 0) || e.type != EV_PAGE_VIEW) continue;
        int u = atoi(e.user_id.p + 1);
        counts[u][prods[prod_num(e.product_id) - 1].category]++;
    }
    double share = 0;
    int users = 0;
    for (int u = 0; u < USERS; u++) {
        int tot = 0, mx = 0;
        for (int c = 0; c < 10; c++) {
            tot += counts[u][c];
            if (counts[u][c] > mx) mx = counts[u][c];
        }
        if (tot >= 50) {
            share += (double)mx / tot;
            users++;
        }
    }
    share /= users ? users : 1;
    printf("  mean top-category share %.2f over %d users\n", share, users);
    CHECK(users > USERS / 2);
    CHECK(share > 0.35);
    buf_free(&line);
    event_parser_free(p);
    gen_free(g);
}

static void test_determinism(check_state *st) {
    CHECK_STATE(st);
    gen *a = new_gen(42, 5000, 0.02, 0.02, 0.02), *b = new_gen(42, 5000, 0.02, 0.02, 0.02),
        *c = new_gen(43, 5000, 0.02, 0.02, 0.02);
    buf_t la = {0}, lb = {0}, lc = {0};
    gen_meta m;
    for (int i = 0; i < 50000; i++) {
        CHECK(gen_next(a, -1, &la, &m) == 0 && buf_append_char(&la, '\n') == 0);
        CHECK(gen_next(b, -1, &lb, &m) == 0 && buf_append_char(&lb, '\n') == 0);
        CHECK(gen_next(c, -1, &lc, &m) == 0 && buf_append_char(&lc, '\n') == 0);
    }
    CHECK(la.len == lb.len && !memcmp(la.data, lb.data, la.len));
    CHECK(la.len != lc.len || memcmp(la.data, lc.data, la.len));
    buf_free(&la);
    buf_free(&lb);
    buf_free(&lc);
    gen_free(a);
    gen_free(b);
    gen_free(c);
}

static void test_uuid(check_state *st) {
    CHECK_STATE(st);
    gen_rng r;
    gen_rng_seed(&r, 5);
    char u[37], prev[37] = "";
    for (int i = 0; i < 1000; i++) {
        gen_uuid4(&r, u);
        CHECK(strlen(u) == 36 && u[8] == '-' && u[13] == '-' && u[18] == '-' && u[23] == '-');
        CHECK(u[14] == '4');
        CHECK(strchr("89ab", u[19]) != NULL);
        CHECK(strcmp(u, prev) != 0);
        memcpy(prev, u, 37);
    }
    /* below() stays below */
    for (int i = 0; i < 1000; i++) CHECK(gen_rng_below(&r, 7) < 7);
}

/* Faults: bad lines are all rejected, other lines all accepted; the fractions hold; duplicates
 * are byte-identical and late lines are out of order by at most late_max. */
static void test_faults(check_state *st) {
    CHECK_STATE(st);
    const int N = 100000;
    gen *g = new_gen(11, 5000, 0.05, 0.04, 0.03);
    event_parser *p = event_parser_new();
    buf_t line = {0};
    gen_meta m;
    long bad = 0, bad_accepted = 0, good_rejected = 0, dup = 0, late = 0, dup_mismatch = 0, late_too_late = 0;
    long out_of_order = 0;
    int64_t max_ts = 0;
    /* the last RING fresh lines (hash of event_id, hash of bytes): a duplicate must match one */
    enum { RING = 4096 };
    static uint64_t ring_id[RING], ring_body[RING];
    memset(ring_id, 0, sizeof ring_id);
    size_t ring_n = 0;
    for (int i = 0; i < N; i++) {
        buf_reset(&line);
        CHECK(gen_next(g, -1, &line, &m) == 0);
        event e;
        int r = event_parse(p, line.data, line.len, &e, NULL, 0);
        if (m.kind == GEN_BAD) {
            bad++;
            if (r == 0) {
                if (bad_accepted++ < 3) printf("  bad line accepted: %s\n", line.data);
            }
            continue;
        }
        if (r != 0) {
            good_rejected++;
            continue;
        }
        uint64_t h = hash64(e.event_id.p, e.event_id.n), body = hash64(line.data, line.len);
        if (m.kind == GEN_DUP) {
            dup++;
            size_t k;
            for (k = 0; k < RING; k++)
                if (ring_id[k] == h) break;
            if (k == RING || ring_body[k] != body) dup_mismatch++;
        } else {
            ring_id[ring_n % RING] = h;
            ring_body[ring_n % RING] = body;
            ring_n++;
        }
        if (m.kind == GEN_LATE) {
            late++;
            if (max_ts - e.ts_us > 30000000) late_too_late++;
        }
        if (e.ts_us < max_ts) out_of_order++;
        if (e.ts_us > max_ts) max_ts = e.ts_us;
    }
    gen_stats gs;
    gen_stats_get(g, &gs);
    printf("  bad %.4f dup %.4f late %.4f (of %d lines), out of order %ld, held %zu\n", (double)bad / N,
           (double)dup / N, (double)late / N, N, out_of_order, gs.held);
    CHECK_INTEQ(bad_accepted, 0);
    CHECK_INTEQ(good_rejected, 0);
    CHECK_INTEQ(dup_mismatch, 0);
    CHECK_INTEQ(late_too_late, 0);
    CHECK(fabs((double)bad / N - 0.03) < 0.005);
    CHECK(fabs((double)dup / gs.fresh - 0.04 * (1 - 0.03) * (1 - 0.05)) < 0.006);
    CHECK(fabs((double)gs.late / gs.fresh - 0.05 * (1 - 0.03)) < 0.006);
    CHECK(out_of_order > late / 2);
    /* the held-back lines drain at the end */
    size_t held = gs.held;
    size_t drained = 0;
    int r;
    while ((r = gen_drain(g, &line, &m)) == 1) drained++;
    CHECK(r == 0 && drained == held);
    buf_free(&line);
    event_parser_free(p);
    gen_free(g);
}

/* The wall clock: fresh events carry the time they are given. */
static void test_wall_clock(check_state *st) {
    CHECK_STATE(st);
    gen *g = new_gen(1, 100, 0, 0, 0);
    buf_t line = {0};
    gen_meta m;
    CHECK(gen_next(g, 1795599000123000LL, &line, &m) == 0);
    CHECK(m.ts_us == 1795599000123000LL);
    CHECK(strstr(line.data, "\"timestamp\":\"2026-11-25T09:30:00.123Z\"") != NULL);
    buf_free(&line);
    gen_free(g);
    char err[128];
    gen_config bad = {.users = 0, .rate = 1};
    CHECK(gen_new(&bad, err, sizeof err) == NULL && strstr(err, "users"));
    gen_config bad2 = {.users = 10, .rate = 1, .start_us = 1795597200000000LL, .late_frac = 0.1};
    CHECK(gen_new(&bad2, err, sizeof err) == NULL && strstr(err, "late_max"));
    bad2.late_frac = 0;
    bad2.start_us = 0;
    CHECK(gen_new(&bad2, err, sizeof err) == NULL && strstr(err, "start"));
}

int main(void) {
    check_state st = {0};
    RUN(&st, test_geography);
    RUN(&st, test_catalog);
    RUN(&st, test_uuid);
    RUN(&st, test_invariants);
    RUN(&st, test_affinity);
    RUN(&st, test_determinism);
    RUN(&st, test_faults);
    RUN(&st, test_wall_clock);
    return CHECK_EXIT(&st);
}
