/* Unit tests for the stream engine: windows, watermark, lateness, dedup, funnel join,
 * eviction, checkpoints, top-10 ties and partial-merge equivalence. Events are built directly
 * as `event` structs; a brute-force oracle checks the numbers. */
#include "check.h"
#include "stream_testlib.h"

#define MIN_US (60 * TIME_US_PER_SEC)

static int64_t T0; /* 2026-11-25T09:00:00Z */

static stream_config small_cfg(int parts) {
    stream_config c;
    stream_config_default(&c);
    c.window_us = MIN_US;
    c.lateness_us = 2 * MIN_US;
    c.view_to_cart_us = 5 * MIN_US;
    c.cart_to_purchase_us = 10 * MIN_US;
    c.idle_timeout_us = 0;
    c.n_partitions = parts;
    return c;
}

/* Feeds events[order[i]] (or in order when order is NULL), advancing every `every` events. */
static void run(stream_engine *e, const tev *v, const size_t *order, size_t n, int parts,
                size_t every, uint64_t *late, uint64_t *dups) {
    for (size_t i = 0; i < n; i++) {
        const event *ev = &v[order ? order[i] : i].ev;
        int r = stream_engine_process(e, tl_part(ev, parts), (int64_t)i, ev);
        if (r == STREAM_LATE && late) (*late)++;
        if (r == STREAM_DUPLICATE && dups) (*dups)++;
        if (every && (i + 1) % every == 0) stream_engine_advance(e, 0, NULL, 0);
    }
}

/* ---- brute-force oracle (in-order input, nothing late) ---- */

static int64_t floordiv(int64_t a, int64_t b) {
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static bool oracle_dup(const tev *v, size_t i) {
    for (size_t j = 0; j < i; j++)
        if (memcmp(v[j].id, v[i].id, 36) == 0) return true;
    return false;
}

static bool sv_is(strview a, strview b) {
    return a.n == b.n && memcmp(a.p, b.p, a.n) == 0;
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

typedef struct {
    int64_t views;
    char pid[16];
} oprod;
static int cmp_oprod(const void *a, const void *b) {
    const oprod *x = a, *y = b;
    if (x->views != y->views) return x->views > y->views ? -1 : 1;
    return strcmp(x->pid, y->pid);
}

/* Renders, through the same recording sink, what every table must contain. */
static void oracle(const tev *v, size_t n, const stream_config *c, int np, tl_rec *rec) {
    bool *ok = calloc(n, 1);
    int64_t *wins = calloc(n, sizeof *wins);
    size_t nw = 0;
    for (size_t i = 0; i < n; i++) {
        ok[i] = !oracle_dup(v, i);
        if (ok[i]) wins[nw++] = floordiv(v[i].ev.ts_us, c->window_us);
    }
    qsort(wins, nw, sizeof *wins, cmp_i64);
    size_t u = 0;
    for (size_t i = 0; i < nw; i++)
        if (!u || wins[u - 1] != wins[i]) wins[u++] = wins[i];
    nw = u;
    for (size_t wi = 0; wi < nw; wi++) {
        int64_t k = wins[wi], ws = k * c->window_us, we = ws + c->window_us;
        stream_window w = {ws, we, -1, false};
        stream_row_sales s = {w, 0, 0, 0, 0};
        int64_t cat[5][5] = {{0}};
        oprod *pv = calloc((size_t)np, sizeof *pv);
        int64_t city[3][2][2] = {{{0}}};
        for (size_t i = 0; i < n; i++) {
            const event *e = &v[i].ev;
            if (!ok[i] || e->ts_us < ws || e->ts_us >= we) continue;
            if (e->type == EV_PURCHASE) {
                s.orders++;
                s.revenue_cents += e->total_cents;
                int ci = e->city.p[0] == 'Q' ? 0 : e->city.p[0] == 'G' ? 1 : 2;
                int st = e->store_type.n == 6 ? 0 : 1;
                city[ci][st][0]++;
                city[ci][st][1] += e->total_cents;
                for (size_t x = 0; x < e->n_items; x++) {
                    s.items += e->items[x].quantity;
                    int cc = e->items[x].category.p[3] - '0';
                    cat[cc][3] += e->items[x].quantity;
                    cat[cc][4] += e->items[x].quantity * e->items[x].unit_price_cents;
                }
            } else {
                int cc = e->category.p[3] - '0';
                cat[cc][e->type]++;
                if (e->type == EV_PAGE_VIEW) {
                    int p = atoi(e->product_id.p + 1);
                    pv[p].views++;
                }
            }
        }
        if (s.orders) {
            s.avg_ticket_cents = (double)s.revenue_cents / (double)s.orders;
            tl_sales(rec, &s);
        }
        for (int cc = 0; cc < 5; cc++) {
            if (!(cat[cc][0] | cat[cc][1] | cat[cc][2] | cat[cc][3])) continue;
            char name[16];
            snprintf(name, sizeof name, "Cat%d", cc);
            stream_row_category r = {w, sv_cstr(name), cat[cc][0], cat[cc][1], cat[cc][2],
                                     cat[cc][3], cat[cc][4]};
            tl_cat(rec, &r);
        }
        for (int p = 0; p < np; p++) snprintf(pv[p].pid, sizeof pv[p].pid, "P%03d", p % 1000);
        qsort(pv, (size_t)np, sizeof *pv, cmp_oprod);
        for (int p = 0; p < np && p < STREAM_TOP_N && pv[p].views; p++) {
            char pid[8], name[24], cc[8];
            tl_product(atoi(pv[p].pid + 1), pid, name, cc);
            stream_row_product r = {w, p + 1, sv_cstr(pid), sv_cstr(name), sv_cstr(cc),
                                    pv[p].views};
            tl_prod(rec, &r);
        }
        free(pv);
        for (int ci = 0; ci < 3; ci++)
            for (int st = 0; st < 2; st++) {
                if (!city[ci][st][0]) continue;
                stream_row_city r = {w, sv_cstr(TL_CITY[ci][0]), sv_cstr(TL_CITY[ci][1]),
                                     st == 0 ? SV("online") : SV("physical_store"),
                                     city[ci][st][0], city[ci][st][1]};
                tl_city(rec, &r);
            }
        /* funnel: pairs anchored at their first view in the window */
        int64_t viewed = 0, carted = 0, bought = 0;
        for (size_t i = 0; i < n; i++) {
            const event *e = &v[i].ev;
            if (!ok[i] || e->type != EV_PAGE_VIEW || e->ts_us < ws || e->ts_us >= we) continue;
            bool first = true;
            int64_t t0 = e->ts_us;
            for (size_t j = 0; j < n; j++) {
                const event *f = &v[j].ev;
                if (j == i || !ok[j] || f->type != EV_PAGE_VIEW || f->ts_us < ws || f->ts_us >= we ||
                    !sv_is(f->user_id, e->user_id) || !sv_is(f->product_id, e->product_id))
                    continue;
                if (f->ts_us < t0 || (f->ts_us == t0 && j < i)) first = false;
            }
            if (!first) continue;
            viewed++;
            bool c_ = false, b_ = false;
            for (size_t j = 0; j < n; j++) {
                const event *a = &v[j].ev;
                if (!ok[j] || a->type != EV_ADD_TO_CART || !sv_is(a->user_id, e->user_id) ||
                    !sv_is(a->product_id, e->product_id) || a->ts_us < t0 ||
                    a->ts_us > t0 + c->view_to_cart_us)
                    continue;
                c_ = true;
                for (size_t x = 0; x < n; x++) {
                    const event *b = &v[x].ev;
                    if (!ok[x] || b->type != EV_PURCHASE || !sv_is(b->user_id, e->user_id) ||
                        b->ts_us < a->ts_us || b->ts_us > a->ts_us + c->cart_to_purchase_us)
                        continue;
                    for (size_t y = 0; y < b->n_items; y++)
                        if (sv_is(b->items[y].product_id, e->product_id)) b_ = true;
                }
            }
            carted += c_;
            bought += c_ && b_;
        }
        if (viewed) {
            stream_row_funnel f = {w, viewed, carted, bought, (double)carted / (double)viewed,
                                   carted ? (double)bought / (double)carted : 0.0,
                                   (double)bought / (double)viewed};
            tl_funnel(rec, &f);
        }
    }
    free(ok);
    free(wins);
}

/* ---- tests ---- */

static void test_oracle_in_order(check_state *st) {
    CHECK_STATE(st);
    size_t n = 3000;
    tev *v = tl_generate(n, T0, 40, 30, 3000, 3, 42);
    stream_config c = small_cfg(1);
    tl_rec got = {0}, want = {0};
    stream_sink sk = tl_sink(&got);
    stream_engine *e = stream_engine_new(&c, &sk, NULL, 0);
    uint64_t late = 0, dups = 0;
    run(e, v, NULL, n, 1, 64, &late, &dups);
    CHECK(stream_engine_flush(e, NULL, 0) == 0);
    CHECK_INTEQ(late, 0);
    CHECK(dups > 30);
    oracle(v, n, &c, 30, &want);
    char *a = tl_sorted(tl_text(&got)), *b = tl_sorted(tl_text(&want));
    CHECK(want.rows > 500);
    CHECK_INTEQ(got.rows, want.rows);
    CHECK(strcmp(a, b) == 0);
    if (strcmp(a, b)) {
        FILE *f = fopen("/tmp/stream_got.txt", "w");
        if (f) fputs(a, f), fclose(f);
        f = fopen("/tmp/stream_want.txt", "w");
        if (f) fputs(b, f), fclose(f);
    }
    /* the funnel found real conversions, so the join is exercised */
    CHECK(strstr(tl_text(&got), "F|") != NULL);
    free(a);
    free(b);
    stream_engine_free(e);
    buf_free(&got.out);
    buf_free(&want.out);
    free(v);
}

/* Out of order within the lateness: every event is delayed by a random amount smaller than the
 * lateness minus a window, so none can be late; the output must be byte-identical. */
static void test_shuffle_identical(check_state *st) {
    CHECK_STATE(st);
    size_t n = 4000;
    tev *v = tl_generate(n, T0, 60, 40, 2000, 2, 7);
    int64_t *key = malloc(n * sizeof *key);
    size_t *order = malloc(n * sizeof *order);
    uint64_t s = 99;
    for (size_t i = 0; i < n; i++) {
        key[i] = v[i].ev.ts_us + (int64_t)(tl_rand(&s) % 60) * TIME_US_PER_SEC;
        order[i] = i;
    }
    /* insertion sort of order by key (stable): n is small */
    for (size_t i = 1; i < n; i++) {
        size_t x = order[i], j = i;
        while (j > 0 && key[order[j - 1]] > key[x]) order[j] = order[j - 1], j--;
        order[j] = x;
    }
    size_t moved = 0;
    for (size_t i = 0; i < n; i++) moved += order[i] != i;
    CHECK(moved > n / 2);
    for (int parts = 1; parts <= 3; parts += 2) {
        stream_config c = small_cfg(parts);
        tl_rec a = {0}, b = {0};
        stream_sink sa = tl_sink(&a), sb = tl_sink(&b);
        stream_engine *ea = stream_engine_new(&c, &sa, NULL, 0);
        stream_engine *eb = stream_engine_new(&c, &sb, NULL, 0);
        uint64_t la = 0, lb = 0, da = 0, db = 0;
        run(ea, v, NULL, n, parts, 50, &la, &da);
        run(eb, v, order, n, parts, 7, &lb, &db);
        CHECK(stream_engine_flush(ea, NULL, 0) == 0);
        CHECK(stream_engine_flush(eb, NULL, 0) == 0);
        CHECK_INTEQ(la, 0);
        CHECK_INTEQ(lb, 0);
        CHECK_INTEQ(da, db);
        CHECK(a.rows > 100);
        CHECK(strcmp(tl_text(&a), tl_text(&b)) == 0);
        stream_engine_free(ea);
        stream_engine_free(eb);
        buf_free(&a.out);
        buf_free(&b.out);
    }
    free(key);
    free(order);
    free(v);
}

static void test_window_alignment(check_state *st) {
    CHECK_STATE(st);
    stream_config c = small_cfg(1);
    c.window_us = 7 * TIME_US_PER_SEC; /* does not divide a minute: aligned to the epoch */
    tl_rec r = {0};
    stream_sink sk = tl_sink(&r);
    stream_engine *e = stream_engine_new(&c, &sk, NULL, 0);
    tev t;
    int64_t ts[] = {-1, 0, 6999999, 7000000, 13999999, T0 + 123456};
    for (size_t i = 0; i < sizeof ts / sizeof *ts; i++) {
        int ps[1] = {1}, qs[1] = {1};
        tl_purchase(&t, ts[i], 1, ps, qs, 1, i);
        CHECK_INTEQ(stream_engine_process(e, 0, (int64_t)i, &t.ev), STREAM_OK);
    }
    CHECK(stream_engine_flush(e, NULL, 0) == 0);
    const char *o = tl_text(&r);
    CHECK(strstr(o, "S|1969-12-31T23:59:53.000Z|7000|p-1|1|1|137|") != NULL);
    CHECK(strstr(o, "S|1970-01-01T00:00:00.000Z|7000|p-1|2|2|274|") != NULL);
    CHECK(strstr(o, "S|1970-01-01T00:00:07.000Z|7000|p-1|2|2|274|") != NULL);
    /* T0 = 1795597200 s since the epoch = 256513885 * 7 + 5, so T0 + 0.123456 s falls in the
     * window that starts 5 s before T0: aligned to the epoch, not to the minute or the day */
    CHECK(strstr(o, "S|2026-11-25T08:59:55.000Z|7000|p-1|1|1|137|") != NULL);
    CHECK_INTEQ(r.rows, 4 * 3); /* sales, category, city per window */
    stream_engine_free(e);
    buf_free(&r.out);
}

static int process_view(stream_engine *e, int part, int64_t ts, int user, int p, uint64_t id) {
    tev t;
    tl_product_event(&t, EV_PAGE_VIEW, ts, user, p, id, 0);
    return stream_engine_process(e, part, (int64_t)id, &t.ev);
}

static void test_watermark_and_late(check_state *st) {
    CHECK_STATE(st);
    stream_config c = small_cfg(1);
    tl_rec r = {0};
    stream_sink sk = tl_sink(&r);
    stream_engine *e = stream_engine_new(&c, &sk, NULL, 0);
    CHECK_INTEQ(stream_engine_watermark(e), INT64_MIN);
    CHECK_INTEQ(process_view(e, 0, T0 + 10 * TIME_US_PER_SEC, 1, 1, 1), STREAM_OK);
    CHECK(stream_engine_advance(e, 0, NULL, 0) == 0);
    CHECK_INTEQ(stream_engine_watermark(e), T0 + 10 * TIME_US_PER_SEC - 2 * MIN_US);
    /* 09:02:59.999 - 2m < 09:01: window 09:00 still open */
    CHECK_INTEQ(process_view(e, 0, T0 + 3 * MIN_US - 1, 1, 2, 2), STREAM_OK);
    CHECK(stream_engine_advance(e, 0, NULL, 0) == 0);
    CHECK_INTEQ(r.rows, 0);
    /* still within lateness for window 09:00 */
    CHECK_INTEQ(process_view(e, 0, T0 + 59 * TIME_US_PER_SEC, 1, 1, 3), STREAM_OK);
    /* 09:03:00 - 2m = 09:01:00 = end of window 09:00: it closes */
    CHECK_INTEQ(process_view(e, 0, T0 + 3 * MIN_US, 1, 3, 4), STREAM_OK);
    CHECK(stream_engine_advance(e, 0, NULL, 0) == 0);
    CHECK(strstr(tl_text(&r), "C|2026-11-25T09:00:00.000Z|60000|p-1|Cat1|2|0|0|0|0\n") != NULL);
    CHECK(strstr(tl_text(&r), "T|2026-11-25T09:00:00.000Z|60000|p-1|1|P001|Product 1|Cat1|2\n") !=
          NULL);
    size_t rows = r.rows;
    /* now late: counted, excluded, nothing re-emitted */
    CHECK_INTEQ(process_view(e, 0, T0 + 30 * TIME_US_PER_SEC, 1, 1, 5), STREAM_LATE);
    CHECK_INTEQ(process_view(e, 0, T0 + 30 * TIME_US_PER_SEC, 1, 1, 5), STREAM_LATE);
    CHECK(stream_engine_advance(e, 0, NULL, 0) == 0);
    CHECK_INTEQ(r.rows, rows);
    stream_partition_stats ps;
    CHECK(stream_engine_partition_stats(e, 0, &ps) == 0);
    CHECK_INTEQ(ps.late[EV_PAGE_VIEW], 2);
    CHECK_INTEQ(ps.ok[EV_PAGE_VIEW], 4);
    CHECK_INTEQ(ps.next_offset, 6);
    CHECK_INTEQ(ps.max_event_us, T0 + 3 * MIN_US);
    CHECK(stream_engine_flush(e, NULL, 0) == 0);
    CHECK(strstr(tl_text(&r), "C|2026-11-25T09:00:00.000Z|60000|p-1|Cat1|3|") == NULL);
    stream_engine_free(e);
    buf_free(&r.out);
}

/* Two partitions: partition 1 falls silent; it holds the watermark back until idle_timeout of
 * processing time has passed, then stops counting; its late arrivals are late. */
static void test_idle_partition(check_state *st) {
    CHECK_STATE(st);
    stream_config c = small_cfg(2);
    c.idle_timeout_us = 10 * TIME_US_PER_SEC;
    tl_rec r = {0};
    stream_sink sk = tl_sink(&r);
    stream_engine *e = stream_engine_new(&c, &sk, NULL, 0);
    int64_t now = 1000 * TIME_US_PER_SEC;
    CHECK_INTEQ(process_view(e, 1, T0, 2, 1, 1), STREAM_OK);
    CHECK_INTEQ(process_view(e, 0, T0, 1, 1, 2), STREAM_OK);
    CHECK(stream_engine_advance(e, now, NULL, 0) == 0);
    CHECK_INTEQ(stream_engine_watermark(e), T0 - 2 * MIN_US);
    for (int i = 1; i <= 10; i++)
        CHECK_INTEQ(process_view(e, 0, T0 + i * MIN_US, 1, 1, 2 + (uint64_t)i), STREAM_OK);
    CHECK(stream_engine_advance(e, now + 5 * TIME_US_PER_SEC, NULL, 0) == 0);
    CHECK_INTEQ(stream_engine_watermark(e), T0 - 2 * MIN_US); /* held back by partition 1 */
    CHECK_INTEQ(r.rows, 0);
    stream_partition_stats ps;
    stream_engine_partition_stats(e, 1, &ps);
    CHECK(!ps.idle);
    CHECK(stream_engine_advance(e, now + 10 * TIME_US_PER_SEC, NULL, 0) == 0);
    stream_engine_partition_stats(e, 1, &ps);
    CHECK(ps.idle);
    CHECK_INTEQ(stream_engine_watermark(e), T0 + 8 * MIN_US);
    CHECK(r.rows > 0);
    /* partition 1's window 09:00 was closed by the global watermark (merged with p0's) */
    CHECK(strstr(tl_text(&r), "C|2026-11-25T09:00:00.000Z|60000|p-1|Cat1|2|") != NULL);
    CHECK_INTEQ(process_view(e, 1, T0 + MIN_US, 2, 1, 50), STREAM_LATE);
    CHECK_INTEQ(process_view(e, 1, T0 + 9 * MIN_US, 2, 1, 51), STREAM_OK);
    /* it is active again; the global watermark never goes back */
    CHECK(stream_engine_advance(e, now + 11 * TIME_US_PER_SEC, NULL, 0) == 0);
    stream_engine_partition_stats(e, 1, &ps);
    CHECK(!ps.idle);
    CHECK_INTEQ(stream_engine_watermark(e), T0 + 8 * MIN_US);
    stream_engine_free(e);
    buf_free(&r.out);
}

/* Watermark alignment: with three sources (the topics) per partition, a source read ahead of
 * the others does not make their events late; a source with nothing to send holds the shard
 * back until it turns idle, unless the caller touches it (it has a backlog). */
static void test_sources_aligned(check_state *st) {
    CHECK_STATE(st);
    stream_config c = small_cfg(1);
    c.n_sources = 3;
    c.idle_timeout_us = 10 * TIME_US_PER_SEC;
    tl_rec r = {0};
    stream_sink sk = tl_sink(&r);
    stream_engine *e = stream_engine_new(&c, &sk, NULL, 0);
    int64_t now = 1000 * TIME_US_PER_SEC;
    tev v;
    /* source 0 runs 20 minutes ahead */
    for (int i = 0; i <= 20; i++) {
        tl_product_event(&v, EV_PAGE_VIEW, T0 + i * MIN_US, 1, 1, 100 + (uint64_t)i, 0);
        CHECK_INTEQ(stream_engine_process_from(e, 0, 0, i, &v.ev), STREAM_OK);
    }
    stream_partition_stats ps;
    CHECK(stream_engine_advance(e, now, NULL, 0) == 0);
    stream_engine_partition_stats(e, 0, &ps);
    CHECK_INTEQ(ps.watermark_us, INT64_MIN); /* sources 1 and 2 have said nothing yet */
    /* source 1 now delivers an event of minute 1: on time for it, not late */
    tl_product_event(&v, EV_ADD_TO_CART, T0 + MIN_US, 1, 1, 200, 1);
    CHECK_INTEQ(stream_engine_process_from(e, 0, 1, 0, &v.ev), STREAM_OK);
    /* source 2 is touched (it has a backlog) for 30 s: it still holds the shard back */
    for (int k = 1; k <= 3; k++) {
        stream_engine_touch(e, 0, 2);
        CHECK(stream_engine_advance(e, now + k * 10 * TIME_US_PER_SEC, NULL, 0) == 0);
        stream_engine_partition_stats(e, 0, &ps);
        CHECK_INTEQ(ps.watermark_us, INT64_MIN);
    }
    /* untouched for the idle timeout, sources stop holding back: the newest event counts */
    CHECK(stream_engine_advance(e, now + 45 * TIME_US_PER_SEC, NULL, 0) == 0);
    stream_engine_partition_stats(e, 0, &ps);
    CHECK_INTEQ(ps.watermark_us, T0 + 18 * MIN_US);
    CHECK_INTEQ(stream_engine_process_from(e, 0, 3, 0, &v.ev), -1); /* no such source */
    stream_engine_free(e);
    buf_free(&r.out);
}

static void test_dedup(check_state *st) {
    CHECK_STATE(st);
    stream_config c = small_cfg(1);
    tl_rec r = {0};
    stream_sink sk = tl_sink(&r);
    stream_engine *e = stream_engine_new(&c, &sk, NULL, 0);
    tev a;
    int ps[2] = {3, 4}, qs[2] = {2, 1};
    tl_purchase(&a, T0 + 1000, 5, ps, qs, 2, 77);
    CHECK_INTEQ(stream_engine_process(e, 0, 0, &a.ev), STREAM_OK);
    CHECK_INTEQ(stream_engine_process(e, 0, 1, &a.ev), STREAM_DUPLICATE);
    /* same id in upper case is the same UUID */
    tev b = a;
    b.ev.event_id = (strview){b.id, 36};
    for (int i = 0; i < 36; i++)
        if (b.id[i] >= 'a' && b.id[i] <= 'f') b.id[i] = (char)(b.id[i] - 32);
    CHECK_INTEQ(stream_engine_process(e, 0, 2, &b.ev), STREAM_DUPLICATE);
    /* a non-UUID id is hashed; a different one is not a duplicate */
    a.ev.event_id = SV("not-a-uuid-1");
    CHECK_INTEQ(stream_engine_process(e, 0, 3, &a.ev), STREAM_OK);
    CHECK_INTEQ(stream_engine_process(e, 0, 4, &a.ev), STREAM_DUPLICATE);
    a.ev.event_id = SV("not-a-uuid-2");
    CHECK_INTEQ(stream_engine_process(e, 0, 5, &a.ev), STREAM_OK);
    CHECK(stream_engine_flush(e, NULL, 0) == 0);
    /* three distinct orders of 2*211 + 1*248 = 670 cents */
    CHECK(strstr(tl_text(&r), "S|2026-11-25T09:00:00.000Z|60000|p-1|3|9|2010|670.000000\n") != NULL);
    stream_partition_stats s;
    stream_engine_partition_stats(e, 0, &s);
    CHECK_INTEQ(s.duplicates[EV_PURCHASE], 3);
    CHECK_INTEQ(s.ok[EV_PURCHASE], 3);
    /* after its window closed, a copy is late, not a duplicate (the dedup set was evicted) */
    CHECK_INTEQ(stream_engine_process(e, 0, 6, &a.ev), STREAM_LATE);
    stream_engine_free(e);
    buf_free(&r.out);
}

/* Runs a funnel scenario for one pair (user 1, product 1) and returns "viewed carted purchased"
 * of window 09:00. */
typedef struct {
    event_type type;
    int64_t ts;
    int product;
} fstep;

static void funnel_of(const fstep *s, size_t n, char *out, size_t outlen) {
    stream_config c = small_cfg(1);
    tl_rec r = {0};
    stream_sink sk = tl_sink(&r);
    stream_engine *e = stream_engine_new(&c, &sk, NULL, 0);
    for (size_t i = 0; i < n; i++) {
        tev t;
        if (s[i].type == EV_PURCHASE) {
            int ps[1] = {s[i].product}, qs[1] = {1};
            tl_purchase(&t, s[i].ts, 1, ps, qs, 1, i);
        } else {
            tl_product_event(&t, s[i].type, s[i].ts, 1, s[i].product, i, 1);
        }
        stream_engine_process(e, 0, (int64_t)i, &t.ev);
    }
    stream_engine_flush(e, NULL, 0);
    const char *f = strstr(tl_text(&r), "F|2026-11-25T09:00:00.000Z|60000|p-1|");
    snprintf(out, outlen, "none");
    if (f) {
        long long v, ca, p;
        if (sscanf(f + strlen("F|2026-11-25T09:00:00.000Z|60000|p-1|"), "%lld|%lld|%lld", &v, &ca,
                   &p) == 3)
            snprintf(out, outlen, "%lld %lld %lld", v, ca, p);
    }
    stream_engine_free(e);
    buf_free(&r.out);
}

static void test_funnel_edges(check_state *st) {
    CHECK_STATE(st);
    const int64_t S = TIME_US_PER_SEC, V2C = 5 * MIN_US, C2P = 10 * MIN_US, t0 = T0 + 10 * S;
    char o[64];
    /* add before the view does not count */
    fstep a[] = {{EV_ADD_TO_CART, t0 - 1, 1}, {EV_PAGE_VIEW, t0, 1}, {EV_PURCHASE, t0 + S, 1}};
    funnel_of(a, 3, o, sizeof o);
    CHECK_STREQ(o, "1 0 0");
    /* add exactly at t0 + view_to_cart counts, purchase exactly at ta + cart_to_purchase too */
    fstep b[] = {{EV_PAGE_VIEW, t0, 1}, {EV_ADD_TO_CART, t0 + V2C, 1},
                 {EV_PURCHASE, t0 + V2C + C2P, 1}};
    funnel_of(b, 3, o, sizeof o);
    CHECK_STREQ(o, "1 1 1");
    /* one microsecond later does not */
    fstep c[] = {{EV_PAGE_VIEW, t0, 1}, {EV_ADD_TO_CART, t0 + V2C + 1, 1}};
    funnel_of(c, 2, o, sizeof o);
    CHECK_STREQ(o, "1 0 0");
    fstep d[] = {{EV_PAGE_VIEW, t0, 1}, {EV_ADD_TO_CART, t0 + V2C, 1},
                 {EV_PURCHASE, t0 + V2C + C2P + 1, 1}};
    funnel_of(d, 3, o, sizeof o);
    CHECK_STREQ(o, "1 1 0");
    /* purchase before the add, or of another product, does not count */
    fstep e[] = {{EV_PAGE_VIEW, t0, 1}, {EV_PURCHASE, t0 + S, 1}, {EV_ADD_TO_CART, t0 + 2 * S, 1},
                 {EV_PURCHASE, t0 + 3 * S, 2}};
    funnel_of(e, 4, o, sizeof o);
    CHECK_STREQ(o, "1 1 0");
    /* several views in the window: anchored at the first; an add in range of only a later view
     * does not count */
    fstep f[] = {{EV_PAGE_VIEW, t0 + 40 * S, 1}, {EV_PAGE_VIEW, t0, 1},
                 {EV_ADD_TO_CART, t0 + V2C + 20 * S, 1}};
    funnel_of(f, 3, o, sizeof o);
    CHECK_STREQ(o, "1 0 0");
    /* two products, one purchase containing both after their adds */
    fstep g[] = {{EV_PAGE_VIEW, t0, 1},       {EV_PAGE_VIEW, t0 + S, 2},
                 {EV_ADD_TO_CART, t0 + 2 * S, 1}, {EV_ADD_TO_CART, t0 + 3 * S, 2},
                 {EV_PURCHASE, t0 + 4 * S, 2}};
    funnel_of(g, 5, o, sizeof o);
    CHECK_STREQ(o, "2 2 1");
    /* a second add in range saves the purchase even though the first add is too early for it */
    fstep h[] = {{EV_PAGE_VIEW, t0, 1}, {EV_ADD_TO_CART, t0 + S, 1}, {EV_ADD_TO_CART, t0 + V2C, 1},
                 {EV_PURCHASE, t0 + V2C + C2P, 1}};
    funnel_of(h, 4, o, sizeof o);
    CHECK_STREQ(o, "1 1 1");
}

static void test_top10_ties(check_state *st) {
    CHECK_STATE(st);
    stream_config c = small_cfg(2);
    tl_rec r = {0};
    stream_sink sk = tl_sink(&r);
    stream_engine *e = stream_engine_new(&c, &sk, NULL, 0);
    uint64_t id = 1;
    /* products 20..31 viewed twice each (ties), product 40 three times, spread over both
     * partitions so the ranking is done on merged counts */
    for (int p = 31; p >= 20; p--)
        for (int k = 0; k < 2; k++) process_view(e, k, T0 + (int64_t)id * 1000, k, p, id), id++;
    for (int k = 0; k < 3; k++) process_view(e, k % 2, T0 + (int64_t)id * 1000, k, 40, id), id++;
    CHECK(stream_engine_flush(e, NULL, 0) == 0);
    const char *o = tl_text(&r);
    CHECK(strstr(o, "|p-1|1|P040|Product 40|Cat0|3\n") != NULL);
    char want[64];
    for (int rank = 2; rank <= 10; rank++) {
        snprintf(want, sizeof want, "|p-1|%d|P%03d|Product %d|", rank, 20 + rank - 2, 20 + rank - 2);
        CHECK(strstr(o, want) != NULL);
    }
    CHECK(strstr(o, "|P029|") == NULL);
    CHECK(strstr(o, "|11|") == NULL);
    stream_engine_free(e);
    buf_free(&r.out);
}

/* State grows with the horizon, not with the input, and returns to zero after a flush. */
static void test_eviction(check_state *st) {
    CHECK_STATE(st);
    size_t n = 20000;
    tev *v = tl_generate(n, T0, 200, 50, 1500, 1, 5);
    stream_config c = small_cfg(2);
    stream_sink sk = {0};
    stream_engine *e = stream_engine_new(&c, &sk, NULL, 0);
    uint64_t peak_first = 0, peak_last = 0;
    for (size_t i = 0; i < n; i++) {
        stream_engine_process(e, tl_part(&v[i].ev, 2), (int64_t)i, &v[i].ev);
        if (i % 100 == 99) {
            stream_engine_advance(e, 0, NULL, 0);
            uint64_t s = stream_engine_state_entries(e);
            if (i < n / 4 && s > peak_first) peak_first = s;
            if (i >= 3 * n / 4 && s > peak_last) peak_last = s;
        }
    }
    /* the input spans about 4 hours of event time, the horizon (lateness + funnel) 17 minutes */
    CHECK(peak_first > 0);
    CHECK(peak_last < peak_first * 3 / 2);
    stream_partition_stats ps;
    stream_engine_partition_stats(e, 0, &ps);
    CHECK(ps.funnel_pairs > 0);
    CHECK(stream_engine_flush(e, NULL, 0) == 0);
    CHECK_INTEQ(stream_engine_state_entries(e), 0);
    stream_engine_partition_stats(e, 0, &ps);
    CHECK_INTEQ(ps.funnel_pairs, 0);
    stream_engine_free(e);
    free(v);
}

/* Checkpoint every partition in the middle (with parked windows in MERGED mode), restore into a
 * fresh engine, feed both the rest: identical output from the checkpoint on. */
static void ckpt_roundtrip(check_state *st, stream_emit_mode mode) {
    CHECK_STATE(st);
    size_t n = 3000, half = 1700;
    tev *v = tl_generate(n, T0, 40, 30, 2500, 2, 11);
    stream_config c = small_cfg(3);
    c.mode = mode;
    tl_rec a = {0}, b = {0};
    stream_sink sa = tl_sink(&a), sb = tl_sink(&b);
    stream_engine *ea = stream_engine_new(&c, &sa, NULL, 0);
    run(ea, v, NULL, half, 3, 10, NULL, NULL);
    CHECK(stream_engine_advance(ea, 0, NULL, 0) == 0);
    size_t mark = a.out.len;
    stream_engine *eb = stream_engine_new(&c, &sb, NULL, 0);
    char err[128];
    for (int p = 0; p < 3; p++) {
        buf_t ck = {0};
        CHECK(stream_engine_checkpoint(ea, p, &ck, err, sizeof err) == 0);
        CHECK(ck.len > 32);
        CHECK(stream_engine_restore(eb, p, ck.data, ck.len, 0, err, sizeof err) == 0);
        /* a checkpoint of the restored state is byte-identical up to pair order: same length */
        buf_t ck2 = {0};
        CHECK(stream_engine_checkpoint(eb, p, &ck2, err, sizeof err) == 0);
        CHECK_INTEQ(ck2.len, ck.len);
        buf_free(&ck);
        buf_free(&ck2);
    }
    CHECK_INTEQ(stream_engine_state_entries(eb), stream_engine_state_entries(ea));
    CHECK(stream_engine_state_entries(ea) > 100);
    for (size_t i = half; i < n; i++) {
        const event *ev = &v[i].ev;
        int ra = stream_engine_process(ea, tl_part(ev, 3), (int64_t)i, ev);
        int rb = stream_engine_process(eb, tl_part(ev, 3), (int64_t)i, ev);
        CHECK(ra == rb);
        if (i % 10 == 0) {
            stream_engine_advance(ea, 0, NULL, 0);
            stream_engine_advance(eb, 0, NULL, 0);
        }
    }
    CHECK(stream_engine_flush(ea, NULL, 0) == 0);
    CHECK(stream_engine_flush(eb, NULL, 0) == 0);
    CHECK(b.rows > 100);
    CHECK(strcmp(a.out.data + mark, tl_text(&b)) == 0);
    for (int p = 0; p < 3; p++) {
        stream_partition_stats x, y;
        stream_engine_partition_stats(ea, p, &x);
        stream_engine_partition_stats(eb, p, &y);
        CHECK(memcmp(x.ok, y.ok, sizeof x.ok) == 0 && memcmp(x.duplicates, y.duplicates, sizeof x.ok) == 0);
        CHECK_INTEQ(x.next_offset, y.next_offset);
    }
    stream_engine_free(ea);
    stream_engine_free(eb);
    buf_free(&a.out);
    buf_free(&b.out);
    free(v);
}
static void test_checkpoint_roundtrip_merged(check_state *st) {
    ckpt_roundtrip(st, STREAM_EMIT_MERGED);
}
static void test_checkpoint_roundtrip_partial(check_state *st) {
    ckpt_roundtrip(st, STREAM_EMIT_PARTIAL);
}

static void test_checkpoint_corrupt(check_state *st) {
    CHECK_STATE(st);
    size_t n = 400;
    tev *v = tl_generate(n, T0, 10, 10, 2000, 2, 3);
    stream_config c = small_cfg(1);
    stream_sink sk = {0};
    stream_engine *e = stream_engine_new(&c, &sk, NULL, 0);
    run(e, v, NULL, n, 1, 10, NULL, NULL);
    buf_t ck = {0};
    char err[128];
    CHECK(stream_engine_checkpoint(e, 0, &ck, err, sizeof err) == 0);
    stream_engine *f = stream_engine_new(&c, &sk, NULL, 0);
    /* every truncation */
    int fails = 0;
    for (size_t len = 0; len < ck.len; len++)
        fails += stream_engine_restore(f, 0, ck.data, len, 0, err, sizeof err) == -1;
    CHECK_INTEQ(fails, (int)ck.len);
    CHECK(strstr(err, "corrupt checkpoint") != NULL);
    /* every single-byte flip */
    fails = 0;
    for (size_t i = 0; i < ck.len; i++) {
        ck.data[i] ^= 0x5a;
        fails += stream_engine_restore(f, 0, ck.data, ck.len, 0, err, sizeof err) == -1;
        ck.data[i] ^= 0x5a;
    }
    CHECK_INTEQ(fails, (int)ck.len);
    CHECK_INTEQ(stream_engine_state_entries(f), 0);
    /* wrong partition, other configuration */
    stream_config c2 = small_cfg(2);
    stream_engine *g = stream_engine_new(&c2, &sk, NULL, 0);
    CHECK(stream_engine_restore(g, 1, ck.data, ck.len, 0, err, sizeof err) == -1);
    CHECK(strstr(err, "another partition") != NULL);
    stream_config c3 = small_cfg(1);
    c3.lateness_us = 3 * MIN_US;
    stream_engine *h = stream_engine_new(&c3, &sk, NULL, 0);
    CHECK(stream_engine_restore(h, 0, ck.data, ck.len, 0, err, sizeof err) == -1);
    CHECK(strstr(err, "configuration") != NULL);
    /* and the intact one still restores */
    CHECK(stream_engine_restore(f, 0, ck.data, ck.len, 0, err, sizeof err) == 0);
    CHECK_INTEQ(stream_engine_state_entries(f), stream_engine_state_entries(e));
    /* random garbage with a valid header and checksum is rejected by the structure checks */
    uint64_t s = 1;
    int gfail = 0;
    for (int trial = 0; trial < 200; trial++) {
        buf_t gb = {0};
        buf_append(&gb, ck.data, 32);
        size_t len = 1 + tl_rand(&s) % 300;
        for (size_t i = 0; i < len; i++) buf_append_char(&gb, (char)tl_rand(&s));
        /* keep the config prefix valid so the decoder goes deeper */
        memcpy(gb.data + 32, ck.data + 32, len < 36 ? len : 36);
        uint64_t hh = hash64(gb.data + 32, len);
        for (int i = 0; i < 8; i++) {
            gb.data[16 + i] = (char)(unsigned char)((uint64_t)len >> (8 * i));
            gb.data[24 + i] = (char)(unsigned char)(hh >> (8 * i));
        }
        gfail += stream_engine_restore(f, 0, gb.data, gb.len, 0, err, sizeof err) == -1;
        buf_free(&gb);
    }
    CHECK_INTEQ(gfail, 200);
    buf_free(&ck);
    stream_engine_free(e);
    stream_engine_free(f);
    stream_engine_free(g);
    stream_engine_free(h);
    free(v);
}

/* ---- partial rows merged as the documented DuckDB query does == one MERGED instance ---- */

typedef struct {
    char key[160];
    int64_t v[5];
    char extra[64];
} mrow;
typedef struct {
    mrow *r;
    size_t n;
} mtab;

static mrow *mt_get(mtab *t, const char *key) {
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->r[i].key, key) == 0) return &t->r[i];
    t->r = realloc(t->r, (t->n + 1) * sizeof *t->r);
    mrow *m = &t->r[t->n++];
    memset(m, 0, sizeof *m);
    snprintf(m->key, sizeof m->key, "%s", key);
    return m;
}

typedef struct {
    mtab sales, cat, prod, city, fun;
} merger;

static void win_key(char *k, size_t n, const stream_window *w) {
    char a[25];
    time_format_ms(w->window_start_us, a);
    snprintf(k, n, "%s|%lld", a, (long long)((w->window_end_us - w->window_start_us) / 1000));
}
static int m_sales(void *c, const stream_row_sales *x) {
    char k[160];
    win_key(k, sizeof k, &x->w);
    mrow *m = mt_get(&((merger *)c)->sales, k);
    m->v[0] += x->orders, m->v[1] += x->items, m->v[2] += x->revenue_cents;
    return 0;
}
static int m_cat(void *c, const stream_row_category *x) {
    char k[160], w[64];
    win_key(w, sizeof w, &x->w);
    snprintf(k, sizeof k, "%s|%.*s", w, (int)x->category.n, x->category.p);
    mrow *m = mt_get(&((merger *)c)->cat, k);
    m->v[0] += x->views, m->v[1] += x->adds, m->v[2] += x->removes, m->v[3] += x->units_sold,
        m->v[4] += x->revenue_cents;
    return 0;
}
static int m_prod(void *c, const stream_row_product *x) {
    char k[160], w[64];
    win_key(w, sizeof w, &x->w);
    snprintf(k, sizeof k, "%s|%.*s", w, (int)x->product_id.n, x->product_id.p);
    mrow *m = mt_get(&((merger *)c)->prod, k);
    m->v[0] += x->views;
    snprintf(m->extra, sizeof m->extra, "%.*s|%.*s", (int)x->product_name.n, x->product_name.p,
             (int)x->category.n, x->category.p);
    return 0;
}
static int m_city(void *c, const stream_row_city *x) {
    char k[160], w[64];
    win_key(w, sizeof w, &x->w);
    snprintf(k, sizeof k, "%s|%.*s|%.*s|%.*s", w, (int)x->province.n, x->province.p,
             (int)x->city.n, x->city.p, (int)x->store_type.n, x->store_type.p);
    mrow *m = mt_get(&((merger *)c)->city, k);
    m->v[0] += x->orders, m->v[1] += x->revenue_cents;
    return 0;
}
static int m_fun(void *c, const stream_row_funnel *x) {
    char k[160];
    win_key(k, sizeof k, &x->w);
    mrow *m = mt_get(&((merger *)c)->fun, k);
    m->v[0] += x->viewed, m->v[1] += x->carted, m->v[2] += x->purchased;
    return 0;
}

static int cmp_mrow_rank(const void *a, const void *b) {
    const mrow *x = a, *y = b;
    /* key = window|pid: group by window first */
    const char *px = strrchr(x->key, '|'), *py = strrchr(y->key, '|');
    int c = strncmp(x->key, y->key, (size_t)(px - x->key));
    if (c) return c;
    if (x->v[0] != y->v[0]) return x->v[0] > y->v[0] ? -1 : 1;
    return strcmp(px, py);
}

/* Renders the merged partials in MERGED line format (order-insensitive comparison after). */
static void merger_render(merger *m, buf_t *out) {
    for (size_t i = 0; i < m->sales.n; i++) {
        mrow *r = &m->sales.r[i];
        buf_printf(out, "S|%s|p-1|%lld|%lld|%lld|%.6f\n", r->key, (long long)r->v[0],
                   (long long)r->v[1], (long long)r->v[2], (double)r->v[2] / (double)r->v[0]);
    }
    for (size_t i = 0; i < m->cat.n; i++) {
        mrow *r = &m->cat.r[i];
        char *bar = strrchr(r->key, '|');
        buf_printf(out, "C|%.*s|p-1%s|%lld|%lld|%lld|%lld|%lld\n", (int)(bar - r->key), r->key, bar,
                   (long long)r->v[0], (long long)r->v[1], (long long)r->v[2], (long long)r->v[3],
                   (long long)r->v[4]);
    }
    qsort(m->prod.r, m->prod.n, sizeof *m->prod.r, cmp_mrow_rank);
    int rank = 0;
    for (size_t i = 0; i < m->prod.n; i++) {
        mrow *r = &m->prod.r[i];
        char *bar = strrchr(r->key, '|');
        if (i == 0 || strncmp(r->key, m->prod.r[i - 1].key, (size_t)(bar - r->key)) != 0) rank = 0;
        if (++rank > STREAM_TOP_N) continue;
        buf_printf(out, "T|%.*s|p-1|%d%s|%s|%lld\n", (int)(bar - r->key), r->key, rank, bar,
                   r->extra, (long long)r->v[0]);
    }
    for (size_t i = 0; i < m->city.n; i++) {
        mrow *r = &m->city.r[i];
        char *p = strchr(strchr(r->key, '|') + 1, '|');
        buf_printf(out, "Y|%.*s|p-1%s|%lld|%lld\n", (int)(p - r->key), r->key, p, (long long)r->v[0],
                   (long long)r->v[1]);
    }
    for (size_t i = 0; i < m->fun.n; i++) {
        mrow *r = &m->fun.r[i];
        double v = (double)r->v[0], c = (double)r->v[1], b = (double)r->v[2];
        buf_printf(out, "F|%s|p-1|%lld|%lld|%lld|%.6f|%.6f|%.6f\n", r->key, (long long)r->v[0],
                   (long long)r->v[1], (long long)r->v[2], c / v, c ? b / c : 0.0, b / v);
    }
}

static void test_partial_merge_equals_single(check_state *st) {
    CHECK_STATE(st);
    size_t n = 3000;
    tev *v = tl_generate(n, T0, 50, 30, 2500, 2, 23);
    const int P = 4;
    /* one instance, all partitions, final merged rows */
    stream_config c = small_cfg(P);
    tl_rec one = {0};
    stream_sink s1 = tl_sink(&one);
    stream_engine *e1 = stream_engine_new(&c, &s1, NULL, 0);
    run(e1, v, NULL, n, P, 25, NULL, NULL);
    CHECK(stream_engine_flush(e1, NULL, 0) == 0);
    /* two instances in PARTIAL mode: A owns 0 and 2, B owns 1 and 3 */
    stream_config cp = c;
    cp.mode = STREAM_EMIT_PARTIAL;
    merger m = {0};
    stream_sink sm = {&m, m_sales, m_cat, NULL, m_prod, m_city, m_fun};
    stream_engine *ia = stream_engine_new(&cp, &sm, NULL, 0);
    stream_engine *ib = stream_engine_new(&cp, &sm, NULL, 0);
    stream_engine_revoke(ia, 1), stream_engine_revoke(ia, 3);
    stream_engine_revoke(ib, 0), stream_engine_revoke(ib, 2);
    for (size_t i = 0; i < n; i++) {
        int p = tl_part(&v[i].ev, P);
        CHECK(stream_engine_process(p % 2 ? ib : ia, p, (int64_t)i, &v[i].ev) >= 0);
        CHECK(stream_engine_process(p % 2 ? ia : ib, p, (int64_t)i, &v[i].ev) == -1);
        if (i % 25 == 0) stream_engine_advance(i % 2 ? ia : ib, 0, NULL, 0);
    }
    CHECK(stream_engine_flush(ia, NULL, 0) == 0);
    CHECK(stream_engine_flush(ib, NULL, 0) == 0);
    buf_t merged = {0};
    merger_render(&m, &merged);
    char *x = tl_sorted(tl_text(&one)), *y = tl_sorted(merged.data ? merged.data : "");
    CHECK(one.rows > 300);
    CHECK(strcmp(x, y) == 0);
    if (strcmp(x, y)) {
        FILE *f = fopen("/tmp/stream_one.txt", "w");
        if (f) fputs(x, f), fclose(f);
        f = fopen("/tmp/stream_merged.txt", "w");
        if (f) fputs(y, f), fclose(f);
    }
    free(x);
    free(y);
    buf_free(&merged);
    free(m.sales.r), free(m.cat.r), free(m.prod.r), free(m.city.r), free(m.fun.r);
    stream_engine_free(e1);
    stream_engine_free(ia);
    stream_engine_free(ib);
    buf_free(&one.out);
    free(v);
}

/* Provisional values: a snapshot shows open windows (merged), changes nothing, and the final
 * rows are those of a run without snapshots. */
static void test_snapshot(check_state *st) {
    CHECK_STATE(st);
    size_t n = 1500;
    tev *v = tl_generate(n, T0, 30, 20, 2000, 2, 31);
    stream_config c = small_cfg(2);
    tl_rec a = {0}, b = {0}, snap = {0};
    stream_sink sa = tl_sink(&a), sb = tl_sink(&b), ss = tl_sink(&snap);
    stream_engine *ea = stream_engine_new(&c, &sa, NULL, 0);
    stream_engine *eb = stream_engine_new(&c, &sb, NULL, 0);
    for (size_t i = 0; i < n; i++) {
        int p = tl_part(&v[i].ev, 2);
        stream_engine_process(ea, p, (int64_t)i, &v[i].ev);
        stream_engine_process(eb, p, (int64_t)i, &v[i].ev);
        if (i % 50 == 0) {
            stream_engine_advance(ea, 0, NULL, 0);
            stream_engine_advance(eb, 0, NULL, 0);
            CHECK(stream_engine_snapshot(eb, &ss, NULL, 0) == 0);
        }
    }
    CHECK(snap.rows > 0);
    CHECK(strstr(tl_text(&snap), "|p-1|prov|") != NULL);
    CHECK(strstr(tl_text(&snap), "F|") != NULL);
    /* a snapshot at the end equals (but for the provisional flag) what flush then emits */
    tl_rec last = {0};
    stream_sink sl = tl_sink(&last);
    /* one partition runs ahead: its closed windows wait for the other (parked) and must show */
    tev ahead;
    for (int user = 0;; user++) {
        tl_product_event(&ahead, EV_PAGE_VIEW, v[n - 1].ev.ts_us + 5 * MIN_US, user, 1, 999999, 0);
        if (tl_part(&ahead.ev, 2) == 0) break;
    }
    CHECK_INTEQ(stream_engine_process(ea, 0, 99, &ahead.ev), STREAM_OK);
    CHECK_INTEQ(stream_engine_process(eb, 0, 99, &ahead.ev), STREAM_OK);
    stream_engine_advance(ea, 0, NULL, 0);
    stream_engine_advance(eb, 0, NULL, 0);
    CHECK(stream_engine_snapshot(ea, &sl, NULL, 0) == 0);
    size_t before = a.out.len;
    stream_engine_flush(ea, NULL, 0);
    stream_engine_flush(eb, NULL, 0);
    CHECK(strcmp(tl_text(&a), tl_text(&b)) == 0);
    buf_t strip = {0};
    for (const char *p = tl_text(&last); *p;) {
        const char *q = strstr(p, "|prov");
        if (!q) {
            buf_append_str(&strip, p);
            break;
        }
        buf_append(&strip, p, (size_t)(q - p));
        p = q + 5;
    }
    char *x = tl_sorted(strip.data ? strip.data : ""), *y = tl_sorted(a.out.data + before);
    CHECK(strcmp(x, y) == 0);
    free(x), free(y);
    buf_free(&strip);
    stream_engine_free(ea);
    stream_engine_free(eb);
    buf_free(&a.out), buf_free(&b.out), buf_free(&snap.out), buf_free(&last.out);
    free(v);
}

static void test_config_and_errors(check_state *st) {
    CHECK_STATE(st);
    stream_config c;
    stream_config_default(&c);
    CHECK_INTEQ(c.window_us, MIN_US);
    CHECK_INTEQ(c.lateness_us, 2 * MIN_US);
    CHECK_INTEQ(c.view_to_cart_us, 30 * MIN_US);
    CHECK_INTEQ(c.cart_to_purchase_us, 60 * MIN_US);
    char err[128];
    CHECK(stream_config_check(&c, err, sizeof err) == 0);
    c.window_us = 0;
    CHECK(stream_engine_new(&c, NULL, err, sizeof err) == NULL);
    CHECK(strstr(err, "window") != NULL);
    stream_config_default(&c);
    c.n_partitions = 0;
    CHECK(stream_config_check(&c, err, sizeof err) == -1);
    stream_config_default(&c);
    c.lateness_us = -1;
    CHECK(stream_config_check(&c, err, sizeof err) == -1);
    stream_config_default(&c);
    stream_engine *e = stream_engine_new(&c, NULL, err, sizeof err);
    tev t;
    tl_product_event(&t, EV_PAGE_VIEW, T0, 1, 1, 1, 0);
    CHECK_INTEQ(stream_engine_process(e, 1, 0, &t.ev), -1);
    CHECK_INTEQ(stream_engine_process(e, -1, 0, &t.ev), -1);
    t.ev.ts_us = INT64_MAX;
    CHECK_INTEQ(stream_engine_process(e, 0, 0, &t.ev), -1);
    CHECK_INTEQ(stream_engine_state_entries(e), 0);
    buf_t b = {0};
    CHECK(stream_engine_checkpoint(e, 3, &b, err, sizeof err) == -1);
    stream_engine_free(e);
}

/* The engine copies what it keeps: events handed over from one scratch struct that is wiped
 * after every call (as the parser's views are) give the same output as stable events. */
static void test_copies_event_strings(check_state *st) {
    CHECK_STATE(st);
    size_t n = 2000;
    tev *v = tl_generate(n, T0, 30, 20, 2000, 2, 77);
    stream_config c = small_cfg(2);
    tl_rec a = {0}, b = {0};
    stream_sink sa = tl_sink(&a), sb = tl_sink(&b);
    stream_engine *ea = stream_engine_new(&c, &sa, NULL, 0);
    stream_engine *eb = stream_engine_new(&c, &sb, NULL, 0);
    run(ea, v, NULL, n, 2, 20, NULL, NULL);
    tev *scratch = malloc(sizeof *scratch);
    for (size_t i = 0; i < n; i++) {
        /* deep copy into scratch, re-pointing every view into it */
        *scratch = v[i];
        tev *t = scratch;
        t->ev.event_id = (strview){t->id, 36};
        t->ev.user_id = sv_cstr(t->user);
        t->ev.product_id = sv_cstr(t->pid);
        t->ev.product_name = sv_cstr(t->pname);
        t->ev.category = sv_cstr(t->cat);
        for (size_t k = 0; k < t->ev.n_items; k++)
            t->items[k] = (event_item){sv_cstr(t->ipid[k]), sv_cstr(t->iname[k]),
                                       sv_cstr(t->icat[k]), t->items[k].quantity,
                                       t->items[k].unit_price_cents};
        t->ev.items = t->items;
        int p = tl_part(&t->ev, 2);
        CHECK(stream_engine_process(eb, p, (int64_t)i, &t->ev) >= 0);
        memset(scratch, 0x5a, sizeof *scratch);
        if ((i + 1) % 20 == 0) stream_engine_advance(eb, 0, NULL, 0);
    }
    CHECK(stream_engine_flush(ea, NULL, 0) == 0);
    CHECK(stream_engine_flush(eb, NULL, 0) == 0);
    CHECK(a.rows > 100);
    CHECK(strcmp(tl_text(&a), tl_text(&b)) == 0);
    free(scratch);
    stream_engine_free(ea);
    stream_engine_free(eb);
    buf_free(&a.out);
    buf_free(&b.out);
    free(v);
}

/* Through the real codec: each event encoded to JSON, parsed back by event_parse() from one
 * reused line buffer (views into it and into the parser's arena), then processed. */
static void test_with_parser(check_state *st) {
    CHECK_STATE(st);
    size_t n = 2000;
    tev *v = tl_generate(n, T0, 30, 20, 2000, 2, 78);
    stream_config c = small_cfg(2);
    tl_rec a = {0}, b = {0};
    stream_sink sa = tl_sink(&a), sb = tl_sink(&b);
    stream_engine *ea = stream_engine_new(&c, &sa, NULL, 0);
    stream_engine *eb = stream_engine_new(&c, &sb, NULL, 0);
    run(ea, v, NULL, n, 2, 20, NULL, NULL);
    event_parser *p = event_parser_new();
    buf_t line = {0};
    size_t parsed = 0;
    for (size_t i = 0; i < n; i++) {
        buf_reset(&line);
        CHECK(event_json_encode(&v[i].ev, &line) == 0);
        event ev;
        char reason[128];
        if (event_parse(p, line.data, line.len, &ev, reason, sizeof reason) != 0) {
            printf("  parse failed: %s\n", reason);
            continue;
        }
        parsed++;
        CHECK(stream_engine_process(eb, tl_part(&ev, 2), (int64_t)i, &ev) >= 0);
        memset(line.data, '#', line.len);
        if ((i + 1) % 20 == 0) stream_engine_advance(eb, 0, NULL, 0);
    }
    CHECK_INTEQ(parsed, n);
    CHECK(stream_engine_flush(ea, NULL, 0) == 0);
    CHECK(stream_engine_flush(eb, NULL, 0) == 0);
    CHECK(a.rows > 100);
    CHECK(strcmp(tl_text(&a), tl_text(&b)) == 0);
    event_parser_free(p);
    buf_free(&line);
    stream_engine_free(ea);
    stream_engine_free(eb);
    buf_free(&a.out);
    buf_free(&b.out);
    free(v);
}

int main(void) {
    check_state st = {0};
    if (time_parse_rfc3339("2026-11-25T09:00:00Z", 20, &T0)) return 1;
    RUN(&st, test_config_and_errors);
    RUN(&st, test_window_alignment);
    RUN(&st, test_watermark_and_late);
    RUN(&st, test_idle_partition);
    RUN(&st, test_sources_aligned);
    RUN(&st, test_dedup);
    RUN(&st, test_funnel_edges);
    RUN(&st, test_top10_ties);
    RUN(&st, test_oracle_in_order);
    RUN(&st, test_shuffle_identical);
    RUN(&st, test_eviction);
    RUN(&st, test_checkpoint_roundtrip_merged);
    RUN(&st, test_checkpoint_roundtrip_partial);
    RUN(&st, test_checkpoint_corrupt);
    RUN(&st, test_partial_merge_equals_single);
    RUN(&st, test_snapshot);
    RUN(&st, test_copies_event_strings);
    RUN(&st, test_with_parser);
    return CHECK_EXIT(&st);
}
