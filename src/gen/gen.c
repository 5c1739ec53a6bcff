/* gen/gen.c — the shopper simulator. See gen.h for the contract, docs/events.md for the
 * behaviour and the published figures the defaults follow.
 *
 * Model. A pool of concurrent sessions (one per active user); each fresh event picks a session
 * uniformly at random and lets it take its next step. With a Poisson clock of `rate` events/s,
 * this is the same as every session acting after exponential think times of mean pool/rate.
 * A session's step, in order of priority:
 *   1. right after a view, add that product to the cart with probability P_ADD;
 *   2. with probability 1/2, remove a cart line that was flagged for removal when added
 *      (P_REMOVE of adds are flagged, so removals are about a third of adds);
 *   3. view another product while the session's view budget lasts (geometric, mean ~6.7);
 *   4. remove the remaining flagged lines;
 *   5. end: a cart with items is bought with probability P_BUY (one purchase event with the
 *      cart's lines merged by product), then the user leaves and another one arrives.
 * Users' traits (home city, favourite categories, device, online propensity) are derived by
 * hashing (seed, user number), so a population of millions costs no memory beyond a bitmap
 * of who is in a session. */
#include "gen/gen_priv.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define P_ADD 0.065
#define P_REMOVE (1.0 / 3.0)
#define P_BUY 0.30
#define P_MORE_VIEWS 0.85
#define MAX_VIEWS 60
#define ZIPF_S 1.1
#define CART_MAX 24
#define POOL_MAX 65536
#define HELD_MAX 200000
#define DUP_DELAY_MAX_US 1000000

/* ---- PRNG ---- */

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

void gen_rng_seed(gen_rng *r, uint64_t seed) {
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t gen_rng_next(gen_rng *r) {
    uint64_t *s = r->s;
    uint64_t res = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return res;
}

double gen_rng_double(gen_rng *r) { return (double)(gen_rng_next(r) >> 11) * 0x1.0p-53; }

/* Lemire's multiply-shift; the tiny bias (< n / 2^64) does not matter for a simulator. */
uint64_t gen_rng_below(gen_rng *r, uint64_t n) {
    return (uint64_t)(((unsigned __int128)gen_rng_next(r) * n) >> 64);
}

void gen_uuid4(gen_rng *r, char out[37]) {
    static const char hx[] = "0123456789abcdef";
    uint64_t a = gen_rng_next(r), b = gen_rng_next(r);
    a = (a & ~0xF000ULL) | 0x4000ULL;                      /* version 4 */
    b = (b & 0x3FFFFFFFFFFFFFFFULL) | 0x8000000000000000ULL; /* variant 10 */
    unsigned char by[16];
    for (int i = 0; i < 8; i++) {
        by[i] = (unsigned char)(a >> (56 - 8 * i));
        by[8 + i] = (unsigned char)(b >> (56 - 8 * i));
    }
    int k = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) out[k++] = '-';
        out[k++] = hx[by[i] >> 4];
        out[k++] = hx[by[i] & 15];
    }
    out[36] = '\0';
}

/* ---- the simulator's state ---- */

typedef struct {
    uint16_t product;
    uint8_t qty;
    uint8_t remove; /* flagged for removal later in the session */
} cart_line;

typedef struct {
    uint32_t user;
    int16_t store;       /* index into stores, -1 = online */
    uint8_t city;        /* home city (online) or the store's city */
    uint8_t device;      /* index into device_names; online only */
    uint8_t fav[2];      /* favourite categories */
    uint8_t n_cart, n_pending;
    int16_t views_left;
    int32_t last_view;   /* product just viewed, -1 if none */
    char user_id[16];
    char session_id[16];
    uint8_t user_id_len, session_id_len;
    cart_line cart[CART_MAX];
} session;

typedef struct {
    int64_t release;
    uint64_t seq;
    char *line;
    size_t len;
    gen_meta meta;
} held_line;

#define NCAT_MAX 16
#define NCITY_MAX 64

struct gen {
    gen_config cfg;
    gen_rng rng;
    gen_product *products;
    size_t n_products;
    uint16_t *by_rank[NCAT_MAX]; /* per category: product indices, most popular first */
    double *rank_cdf[NCAT_MAX];
    size_t cat_n[NCAT_MAX];
    double cat_cdf[NCAT_MAX];
    double city_cdf[NCITY_MAX];
    int city_store_first[NCITY_MAX], city_store_n[NCITY_MAX];
    session *pool;
    size_t npool;
    uint8_t *active;             /* bitmap over users: in a session now */
    held_line *heap;
    size_t nheap, capheap;
    uint64_t seq;
    int64_t clock;               /* time of the last fresh event */
    int64_t sim_ns;              /* simulated clock, exact (ns since the epoch) */
    int64_t next_ns, next_time;  /* the next fresh event: exact, and in whole ms (what is written) */
    bool have_next;
    strview city_name[NCITY_MAX], city_prov[NCITY_MAX], cat_name[NCAT_MAX];
    gen_stats st;
    buf_t enc;                   /* scratch: the encoded fresh event */
    event_item items[CART_MAX];
    char uuid[37], order_id[16];
};

static const char *const device_names[3] = {"mobile", "desktop", "tablet"};
static const size_t device_len[3] = {6, 7, 6};
static const double device_cdf[3] = {0.62, 0.92, 1.0};

/* Samples an index from a cumulative distribution (last entry 1.0). */
static size_t cdf_pick(const double *cdf, size_t n, double u) {
    size_t lo = 0, hi = n - 1;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (u < cdf[mid]) hi = mid;
        else lo = mid + 1;
    }
    return lo;
}

static bool user_active(const gen *g, uint32_t u) { return g->active[u >> 3] & (1u << (u & 7)); }
static void user_set(gen *g, uint32_t u, bool on) {
    if (on) g->active[u >> 3] |= (uint8_t)(1u << (u & 7));
    else g->active[u >> 3] &= (uint8_t)~(1u << (u & 7));
}

/* A user's fixed traits: a hash of (seed, user) split into independent uniform draws. */
typedef struct {
    int city, fav0, fav1, device;
    double online;
} traits;

static traits user_traits(const gen *g, uint32_t u) {
    uint64_t x = g->cfg.seed ^ ((uint64_t)u * 0xD1B54A32D192ED03ULL);
    traits t;
    size_t ncity = gen_city_count(), ncat = gen_category_count();
    t.city = (int)cdf_pick(g->city_cdf, ncity, (double)(splitmix64(&x) >> 11) * 0x1.0p-53);
    t.fav0 = (int)cdf_pick(g->cat_cdf, ncat, (double)(splitmix64(&x) >> 11) * 0x1.0p-53);
    t.fav1 = (int)cdf_pick(g->cat_cdf, ncat, (double)(splitmix64(&x) >> 11) * 0x1.0p-53);
    t.device = (int)cdf_pick(device_cdf, 3, (double)(splitmix64(&x) >> 11) * 0x1.0p-53);
    t.online = 0.55 + 0.35 * ((double)(splitmix64(&x) >> 11) * 0x1.0p-53);
    return t;
}

/* Writes "<prefix><digits>" with at least `width` digits of v in decimal; returns the length. */
static uint8_t put_id_dec(char *out, char prefix, uint64_t v, int width) {
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n < width) tmp[n++] = '0';
    out[0] = prefix;
    for (int i = 0; i < n; i++) out[1 + i] = tmp[n - 1 - i];
    out[n + 1] = '\0';
    return (uint8_t)(n + 1);
}

/* Writes "<prefix>" + 12 lowercase hex digits of v (its low 48 bits). */
static uint8_t put_id_hex(char *out, char prefix, uint64_t v) {
    static const char hx[] = "0123456789abcdef";
    out[0] = prefix;
    for (int i = 12; i >= 1; i--) {
        out[i] = hx[v & 15];
        v >>= 4;
    }
    out[13] = '\0';
    return 13;
}

/* Starts a new session in *s for a user who is not in one. */
static void session_start(gen *g, session *s) {
    uint32_t u = 0;
    for (int tries = 0; tries < 64; tries++) {
        u = (uint32_t)gen_rng_below(&g->rng, (uint64_t)g->cfg.users);
        if (!user_active(g, u)) break;
    }
    user_set(g, u, true);
    traits t = user_traits(g, u);
    s->user = u;
    s->fav[0] = (uint8_t)t.fav0;
    s->fav[1] = (uint8_t)t.fav1;
    s->city = (uint8_t)t.city;
    if (gen_rng_double(&g->rng) < t.online) {
        s->store = -1;
        s->device = (uint8_t)(gen_rng_double(&g->rng) < 0.8 ? t.device
                              : (int)cdf_pick(device_cdf, 3, gen_rng_double(&g->rng)));
    } else {
        int n = g->city_store_n[t.city];
        s->store = (int16_t)(g->city_store_first[t.city] + (int)gen_rng_below(&g->rng, (uint64_t)n));
        s->device = 0;
    }
    int v = 1;
    while (v < MAX_VIEWS && gen_rng_double(&g->rng) < P_MORE_VIEWS) v++;
    s->views_left = (int16_t)v;
    s->last_view = -1;
    s->n_cart = s->n_pending = 0;
    s->user_id_len = put_id_dec(s->user_id, 'U', u, 6);
    s->session_id_len = put_id_hex(s->session_id, 'S', gen_rng_next(&g->rng) >> 16);
    g->st.sessions++;
}

static void session_end(gen *g, session *s) {
    user_set(g, s->user, false);
    session_start(g, s);
}

static int pick_product(gen *g, const session *s) {
    double u = gen_rng_double(&g->rng);
    size_t c = u < 0.55 ? s->fav[0] : u < 0.75 ? s->fav[1]
                                               : cdf_pick(g->cat_cdf, gen_category_count(), gen_rng_double(&g->rng));
    size_t r = cdf_pick(g->rank_cdf[c], g->cat_n[c], gen_rng_double(&g->rng));
    return g->by_rank[c][r];
}

/* Fills the common fields of e from the session. */
static void fill_common(gen *g, const session *s, event *e, int64_t ts) {
    gen_uuid4(&g->rng, g->uuid);
    e->event_id = (strview){g->uuid, 36};
    e->ts_us = ts;
    e->user_id = (strview){s->user_id, s->user_id_len};
    e->session_id = (strview){s->session_id, s->session_id_len};
    if (s->store < 0) {
        const gen_city *c = gen_city_get(s->city);
        e->store_id = SV(GEN_ONLINE_STORE_ID);
        e->store_type = SV("online");
        e->city = g->city_name[s->city];
        e->province = g->city_prov[s->city];
        e->lat = c->lat;
        e->lon = c->lon;
        e->device = (strview){device_names[s->device], device_len[s->device]};
    } else {
        const gen_store *st = gen_store_get((size_t)s->store);
        e->store_id = (strview){st->store_id, 5};
        e->store_type = SV("physical_store");
        e->city = g->city_name[st->city];
        e->province = g->city_prov[st->city];
        e->lat = st->lat;
        e->lon = st->lon;
        e->device = (strview){NULL, 0};
    }
}

static void fill_product(gen *g, event *e, int pi) {
    const gen_product *p = &g->products[pi];
    e->product_id = (strview){p->id, p->id_len};
    e->product_name = (strview){p->name, p->name_len};
    e->category = g->cat_name[p->category];
    e->price_cents = p->price_cents;
}

static void remove_flagged(gen *g, session *s, event *e) {
    /* the oldest flagged line goes */
    for (int i = 0; i < s->n_cart; i++) {
        if (!s->cart[i].remove) continue;
        e->type = EV_REMOVE_FROM_CART;
        fill_product(g, e, s->cart[i].product);
        e->quantity = s->cart[i].qty;
        memmove(&s->cart[i], &s->cart[i + 1], (size_t)(s->n_cart - i - 1) * sizeof *s->cart);
        s->n_cart--;
        s->n_pending--;
        return;
    }
}

static void build_purchase(gen *g, session *s, event *e) {
    static const char *const pay_online[] = {"credit_card", "credit_card", "credit_card", "debit_card",
                                             "debit_card", "paypal", "bank_transfer"};
    static const char *const pay_store[] = {"cash", "cash", "credit_card", "debit_card", "debit_card"};
    size_t n = 0;
    int64_t total = 0;
    for (int i = 0; i < s->n_cart; i++) {
        const gen_product *p = &g->products[s->cart[i].product];
        size_t j;
        for (j = 0; j < n; j++)
            if (g->items[j].product_id.p == p->id) break;
        if (j == n) {
            g->items[n].product_id = (strview){p->id, p->id_len};
            g->items[n].product_name = (strview){p->name, p->name_len};
            g->items[n].category = g->cat_name[p->category];
            g->items[n].quantity = 0;
            g->items[n].unit_price_cents = p->price_cents;
            n++;
        }
        g->items[j].quantity += s->cart[i].qty;
        total += (int64_t)s->cart[i].qty * p->price_cents;
    }
    e->type = EV_PURCHASE;
    put_id_hex(g->order_id, 'O', gen_rng_next(&g->rng) >> 16);
    e->order_id = sv_cstr(g->order_id);
    e->items = g->items;
    e->n_items = n;
    e->total_cents = total;
    e->currency = SV("USD");
    e->payment_method = s->store < 0 ? sv_cstr(pay_online[gen_rng_below(&g->rng, 7)])
                                     : sv_cstr(pay_store[gen_rng_below(&g->rng, 5)]);
}

/* Clears the fields the step may leave unset (cheaper than a memset of the whole event, which
 * showed up in profiles). */
static void event_clear(event *e) {
    static const strview none = {NULL, 0};
    e->product_id = e->product_name = e->category = none;
    e->order_id = e->currency = e->payment_method = none;
    e->price_cents = e->total_cents = 0;
    e->quantity = 0;
    e->items = NULL;
    e->n_items = 0;
}

/* One fresh event at time ts: the next step of a random session. *done_session is set when
 * the session ends with this event (a purchase); the caller restarts it after encoding. */
static session *step(gen *g, event *e, int64_t ts, bool *done_session) {
    *done_session = false;
    for (;;) {
        session *s = &g->pool[gen_rng_below(&g->rng, g->npool)];
        event_clear(e);
        if (s->last_view >= 0) {
            int pv = s->last_view;
            s->last_view = -1;
            if (s->n_cart < CART_MAX && gen_rng_double(&g->rng) < P_ADD) {
                const gen_product *p = &g->products[pv];
                double u = gen_rng_double(&g->rng);
                int qty = p->price_cents > 20000 ? 1 : u < 0.75 ? 1 : u < 0.93 ? 2 : 3;
                bool flag = gen_rng_double(&g->rng) < P_REMOVE;
                s->cart[s->n_cart++] = (cart_line){(uint16_t)pv, (uint8_t)qty, flag};
                if (flag) s->n_pending++;
                fill_common(g, s, e, ts);
                e->type = EV_ADD_TO_CART;
                fill_product(g, e, pv);
                e->quantity = qty;
                return s;
            }
        }
        if (s->n_pending && gen_rng_double(&g->rng) < 0.5) {
            fill_common(g, s, e, ts);
            remove_flagged(g, s, e);
            return s;
        }
        if (s->views_left > 0) {
            s->views_left--;
            int pi = pick_product(g, s);
            s->last_view = pi;
            fill_common(g, s, e, ts);
            e->type = EV_PAGE_VIEW;
            fill_product(g, e, pi);
            return s;
        }
        if (s->n_pending) {
            fill_common(g, s, e, ts);
            remove_flagged(g, s, e);
            return s;
        }
        if (s->n_cart) {
            g->st.carts_with_items++;
            if (gen_rng_double(&g->rng) < P_BUY) {
                fill_common(g, s, e, ts);
                build_purchase(g, s, e);
                g->st.purchases++;
                *done_session = true;
                return s;
            }
        }
        session_end(g, s); /* abandoned cart or nothing in it: the user leaves */
    }
}

/* ---- held-back lines (late and duplicate): a min-heap on (release, seq) ---- */

static bool held_less(const held_line *a, const held_line *b) {
    return a->release < b->release || (a->release == b->release && a->seq < b->seq);
}

static int held_push(gen *g, int64_t release, const char *line, size_t len, const gen_meta *meta) {
    if (g->nheap == g->capheap) {
        size_t cap = g->capheap ? g->capheap * 2 : 256;
        held_line *h = realloc(g->heap, cap * sizeof *h);
        if (!h) return -1;
        g->heap = h;
        g->capheap = cap;
    }
    char *copy = malloc(len + 1);
    if (!copy) return -1;
    memcpy(copy, line, len);
    copy[len] = '\0';
    size_t i = g->nheap++;
    g->heap[i] = (held_line){release, g->seq++, copy, len, *meta};
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!held_less(&g->heap[i], &g->heap[parent])) break;
        held_line t = g->heap[i];
        g->heap[i] = g->heap[parent];
        g->heap[parent] = t;
        i = parent;
    }
    return 0;
}

static held_line held_pop(gen *g) {
    held_line top = g->heap[0];
    g->heap[0] = g->heap[--g->nheap];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < g->nheap && held_less(&g->heap[l], &g->heap[m])) m = l;
        if (r < g->nheap && held_less(&g->heap[r], &g->heap[m])) m = r;
        if (m == i) break;
        held_line t = g->heap[i];
        g->heap[i] = g->heap[m];
        g->heap[m] = t;
        i = m;
    }
    return top;
}

static int emit_held(gen *g, buf_t *line, gen_meta *meta) {
    held_line h = held_pop(g);
    int r = buf_append(line, h.line, h.len);
    *meta = h.meta;
    free(h.line);
    if (r == 0) g->st.lines++;
    return r;
}

/* ---- bad lines ---- */

/* Removes `,"name":value` (a string or number value) from the line. */
static bool drop_field(buf_t *b, const char *name) {
    char needle[40];
    int nl = snprintf(needle, sizeof needle, ",\"%s\":", name);
    char *at = strstr(b->data, needle);
    if (!at) return false;
    char *end = strstr(at + nl, ",\"");
    if (!end) end = b->data + b->len - 1; /* the closing brace */
    size_t cut = (size_t)(end - at);
    memmove(at, end, (size_t)(b->data + b->len - end) + 1);
    b->len -= cut;
    return true;
}

/* Inserts text at position pos of the line. */
static int insert_at(buf_t *b, size_t pos, const char *text) {
    size_t n = strlen(text);
    if (buf_reserve(b, n) != 0) return -1;
    memmove(b->data + pos + n, b->data + pos, b->len - pos + 1);
    memcpy(b->data + pos, text, n);
    b->len += n;
    return 0;
}

/* Turns the encoded event in b into an invalid line. Returns 0, or -1 on out of memory. */
static int make_bad(gen *g, buf_t *b, gen_meta *meta) {
    static const char *const unknown_types[] = {"page_veiw", "click", "wishlist_add", "checkout_start"};
    bool pur = meta->type == EV_PURCHASE;
    const char *numkey = pur ? "\"unit_price\":" : "\"price\":";
    switch (gen_rng_below(&g->rng, 7)) {
    case 0: { /* broken JSON: cut short */
        size_t keep = b->len / 3 + (size_t)gen_rng_below(&g->rng, b->len - b->len / 3 - 1);
        b->len = keep;
        b->data[keep] = '\0';
        return 0;
    }
    case 1: { /* a required field missing */
        static const char *const common[] = {"timestamp", "user_id", "session_id", "city", "store_type"};
        const char *f = gen_rng_below(&g->rng, 2) ? common[gen_rng_below(&g->rng, 5)] : pur ? "total" : "price";
        if (!drop_field(b, f)) b->len = b->len / 2;
        b->data[b->len] = '\0';
        return 0;
    }
    case 2: { /* negative price */
        char *at = strstr(b->data, numkey);
        return insert_at(b, (size_t)(at - b->data) + strlen(numkey), "-");
    }
    case 3: { /* unknown event_type */
        const char *tn = event_type_name(meta->type);
        char *at = strstr(b->data, tn);
        size_t pos = (size_t)(at - b->data), tl = strlen(tn);
        memmove(at, at + tl, b->len - pos - tl + 1);
        b->len -= tl;
        meta->topic = TOPIC_PAGE_VIEWS;
        return insert_at(b, pos, unknown_types[gen_rng_below(&g->rng, 4)]);
    }
    case 4: { /* a number sent as a string */
        char *at = strstr(b->data, numkey);
        size_t pos = (size_t)(at - b->data) + strlen(numkey);
        size_t end = pos;
        while (end < b->len && (b->data[end] == '-' || b->data[end] == '.' ||
                                (b->data[end] >= '0' && b->data[end] <= '9')))
            end++;
        if (insert_at(b, end, "\"") || insert_at(b, pos, "\"")) return -1;
        return 0;
    }
    case 5: { /* purchase: total off by a cent; cart: zero quantity; view: not JSON at all */
        if (pur) {
            char *at = strstr(b->data, "\"total\":");
            size_t pos = (size_t)(at - b->data) + 8;
            return insert_at(b, pos, "1"); /* 12.34 -> 112.34 */
        }
        if (meta->type != EV_PAGE_VIEW) {
            char *at = strstr(b->data, "\"quantity\":");
            size_t pos = (size_t)(at - b->data) + 11;
            b->data[pos] = '0';
            return 0;
        }
        char *at = strchr(b->data, ':');
        *at = '=';
        return 0;
    }
    default: { /* absurd timestamp */
        char *at = strstr(b->data, "\"timestamp\":\"");
        memcpy(at + 13, "1970", 4);
        return 0;
    }
    }
}

/* ---- public API ---- */

static int build_tables(gen *g) {
    if (gen_catalog_build(&g->products, &g->n_products)) return -1;
    size_t ncat = gen_category_count(), ncity = gen_city_count();
    double acc = 0;
    for (size_t c = 0; c < ncat; c++) acc += gen_category_get(c)->weight;
    double run = 0;
    for (size_t c = 0; c < ncat; c++) {
        run += gen_category_get(c)->weight;
        g->cat_cdf[c] = run / acc;
    }
    g->cat_cdf[ncat - 1] = 1.0;
    for (size_t c = 0; c < ncat; c++) {
        size_t n = 0;
        for (size_t i = 0; i < g->n_products; i++) n += g->products[i].category == (int)c;
        g->by_rank[c] = calloc(n ? n : 1, sizeof *g->by_rank[c]);
        g->rank_cdf[c] = calloc(n ? n : 1, sizeof *g->rank_cdf[c]);
        if (!g->by_rank[c] || !g->rank_cdf[c]) return -1;
        g->cat_n[c] = n;
        for (size_t i = 0; i < g->n_products; i++)
            if (g->products[i].category == (int)c) g->by_rank[c][g->products[i].rank] = (uint16_t)i;
        double sum = 0;
        for (size_t r = 0; r < n; r++) sum += 1.0 / pow((double)(r + 1), ZIPF_S);
        double cum = 0;
        for (size_t r = 0; r < n; r++) {
            cum += 1.0 / pow((double)(r + 1), ZIPF_S);
            g->rank_cdf[c][r] = cum / sum;
        }
        if (n) g->rank_cdf[c][n - 1] = 1.0;
    }
    double pop = 0, cum = 0;
    for (size_t i = 0; i < ncity; i++) pop += gen_city_get(i)->population_k;
    for (size_t i = 0; i < ncity; i++) {
        cum += gen_city_get(i)->population_k;
        g->city_cdf[i] = cum / pop;
        g->city_store_first[i] = -1;
        g->city_store_n[i] = 0;
    }
    g->city_cdf[ncity - 1] = 1.0;
    for (size_t i = 0; i < ncity; i++) {
        g->city_name[i] = sv_cstr(gen_city_get(i)->name);
        g->city_prov[i] = sv_cstr(gen_city_get(i)->province);
    }
    for (size_t c = 0; c < ncat; c++) g->cat_name[c] = sv_cstr(gen_category_get(c)->name);
    for (size_t s = 0; s < gen_store_count(); s++) {
        int c = gen_store_get(s)->city;
        if (g->city_store_first[c] < 0) g->city_store_first[c] = (int)s;
        g->city_store_n[c]++;
    }
    for (size_t i = 0; i < ncity; i++)
        if (g->city_store_n[i] == 0) return -1; /* every city has a store (table invariant) */
    return 0;
}

gen *gen_new(const gen_config *cfg, char *err, size_t errlen) {
    if (cfg->users < 1 || cfg->users > 100000000) {
        snprintf(err, errlen, "users must be in 1..100000000");
        return NULL;
    }
    if (!(cfg->rate > 0)) {
        snprintf(err, errlen, "rate must be > 0");
        return NULL;
    }
    if (!(cfg->late_frac >= 0 && cfg->late_frac <= 1) || !(cfg->dup_frac >= 0 && cfg->dup_frac <= 1) ||
        !(cfg->bad_frac >= 0 && cfg->bad_frac <= 1)) {
        snprintf(err, errlen, "fractions must be in [0, 1]");
        return NULL;
    }
    if (cfg->start_us < 946684800000000LL || cfg->start_us >= 4102444800000000LL) {
        snprintf(err, errlen, "start must be in [2000-01-01, 2100-01-01)");
        return NULL;
    }
    if (cfg->late_frac > 0 && cfg->late_max_us <= 0) {
        snprintf(err, errlen, "late_max must be > 0 when late_frac > 0");
        return NULL;
    }
    if (gen_city_count() > NCITY_MAX || gen_category_count() > NCAT_MAX) {
        snprintf(err, errlen, "internal tables too large");
        return NULL;
    }
    gen *g = calloc(1, sizeof *g);
    if (!g) goto oom;
    g->cfg = *cfg;
    gen_rng_seed(&g->rng, cfg->seed);
    g->clock = cfg->start_us - cfg->start_us % 1000;
    g->sim_ns = cfg->start_us * 1000;
    if (build_tables(g)) goto oom;
    g->active = calloc((size_t)cfg->users / 8 + 1, 1);
    size_t pool = (size_t)(cfg->users / 8);
    if (pool < 1) pool = 1;
    if (pool > POOL_MAX) pool = POOL_MAX;
    g->npool = pool;
    g->pool = calloc(pool, sizeof *g->pool);
    if (!g->active || !g->pool) goto oom;
    for (size_t i = 0; i < pool; i++) session_start(g, &g->pool[i]);
    return g;
oom:
    gen_free(g);
    snprintf(err, errlen, "out of memory");
    return NULL;
}

void gen_free(gen *g) {
    if (!g) return;
    for (size_t i = 0; i < g->nheap; i++) free(g->heap[i].line);
    free(g->heap);
    for (size_t c = 0; c < NCAT_MAX; c++) {
        free(g->by_rank[c]);
        free(g->rank_cdf[c]);
    }
    free(g->products);
    free(g->pool);
    free(g->active);
    buf_free(&g->enc);
    free(g);
}

int gen_next(gen *g, int64_t now_us, buf_t *line, gen_meta *meta) {
    for (;;) {
        int64_t t; /* whole milliseconds: the line carries ms, and meta.ts_us must equal it */
        if (now_us >= 0) {
            t = now_us - now_us % 1000;
        } else {
            if (!g->have_next) {
                double u = gen_rng_double(&g->rng);
                g->next_ns = g->sim_ns + (int64_t)(-log1p(-u) / g->cfg.rate * 1e9);
                int64_t us = g->next_ns / 1000;
                g->next_time = us - us % 1000;
                g->have_next = true;
            }
            t = g->next_time;
        }
        if (g->nheap && g->heap[0].release <= t) return emit_held(g, line, meta);

        /* a fresh event */
        if (now_us < 0) g->sim_ns = g->next_ns;
        g->have_next = false;
        if (t > g->clock || now_us >= 0) g->clock = t;
        event e;
        bool done;
        session *s = step(g, &e, g->clock, &done);
        buf_reset(&g->enc);
        if (event_json_encode(&e, &g->enc)) return -1;
        meta->type = e.type;
        meta->topic = event_topic_of(e.type);
        memcpy(meta->key, s->user_id, s->user_id_len + 1u);
        meta->key_len = s->user_id_len;
        meta->ts_us = e.ts_us;
        meta->kind = GEN_FRESH;
        g->st.fresh++;
        g->st.by_type[e.type]++;
        if (done) session_end(g, s);

        double u = gen_rng_double(&g->rng);
        if (u < g->cfg.bad_frac) {
            meta->kind = GEN_BAD;
            if (make_bad(g, &g->enc, meta)) return -1;
            g->st.bad++;
        } else if (u < g->cfg.bad_frac + g->cfg.late_frac * (1 - g->cfg.bad_frac) && g->nheap < HELD_MAX) {
            gen_meta m = *meta;
            m.kind = GEN_LATE;
            int64_t delay = 1 + (int64_t)gen_rng_below(&g->rng, (uint64_t)g->cfg.late_max_us);
            if (held_push(g, e.ts_us + delay, g->enc.data, g->enc.len, &m)) return -1;
            g->st.late++;
            continue; /* this call still owes a line */
        } else if (g->cfg.dup_frac > 0 && gen_rng_double(&g->rng) < g->cfg.dup_frac && g->nheap < HELD_MAX) {
            gen_meta m = *meta;
            m.kind = GEN_DUP;
            int64_t delay = 1 + (int64_t)gen_rng_below(&g->rng, DUP_DELAY_MAX_US);
            if (held_push(g, e.ts_us + delay, g->enc.data, g->enc.len, &m)) return -1;
            g->st.dup++;
        }
        if (buf_append(line, g->enc.data, g->enc.len)) return -1;
        g->st.lines++;
        return 0;
    }
}

int gen_drain(gen *g, buf_t *line, gen_meta *meta) {
    if (!g->nheap) return 0;
    return emit_held(g, line, meta) ? -1 : 1;
}

int64_t gen_clock(const gen *g) { return g->clock; }

void gen_stats_get(const gen *g, gen_stats *out) {
    *out = g->st;
    out->held = g->nheap;
}

const gen_product *gen_products(const gen *g, size_t *n) {
    *n = g->n_products;
    return g->products;
}
