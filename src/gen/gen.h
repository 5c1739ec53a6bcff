/*
 * gen — the shopper simulator behind `ecom gen` (see docs/events.md for behaviour and figures).
 *
 * Contract
 *   - A gen is a population of `users` shoppers living sessions: each session is online (with a
 *     device) or at a physical store, views products (per-user category affinity, Zipf-like
 *     popularity within a category), adds some to the cart (about 6.5% of views), removes about
 *     a third of what it added, and about 30% of the sessions that end with items in the cart
 *     buy them (one purchase event carrying the cart's items, total exact in cents).
 *   - The catalog (327 products in 10 categories) and the geography (stores in real
 *     Ecuadorian cities with their province and coordinates) are fixed tables, the same for
 *     every seed. The population and everything it does depend on the seed only: the same
 *     config gives byte-identical lines (when the clock is simulated, now_us < 0).
 *   - Time: every fresh event carries the clock passed to gen_next() (the wall clock), or with
 *     now_us < 0 the gen's simulated clock, which starts at cfg.start_us and advances by
 *     exponential gaps of mean 1/rate seconds per event.
 *   - Faults (all default 0): late_frac of fresh events are held back and emitted once the
 *     clock passes event time + U(0, late_max]; dup_frac of fresh events are re-sent (the same
 *     bytes, same event_id) within about a second; bad_frac of lines are replaced by an invalid
 *     line (broken JSON, missing field, negative price, unknown event_type, wrong type, total
 *     mismatch). Nothing in a line marks it; gen_meta tells the caller (for routing and tests).
 *   - No global state; a gen is used by one thread. Errors: gen_new() returns NULL with a
 *     message; gen_next() returns -1 only when out of memory.
 *   - Ownership: gen_new() allocates, gen_free() releases everything. Lines are appended to the
 *     caller's buf_t. Pointers returned by the table accessors are static and never freed.
 */
#ifndef ECOM_GEN_H
#define ECOM_GEN_H

#include <stddef.h>
#include <stdint.h>

#include "events/events.h"
#include "util/util.h"

/* ---- deterministic PRNG: xoshiro256** seeded through splitmix64 ---- */
typedef struct {
    uint64_t s[4];
} gen_rng;

void gen_rng_seed(gen_rng *r, uint64_t seed);
uint64_t gen_rng_next(gen_rng *r);
double gen_rng_double(gen_rng *r);               /* uniform in [0, 1) */
uint64_t gen_rng_below(gen_rng *r, uint64_t n);  /* uniform in [0, n), n > 0 */

/* Writes a random (version 4) UUID as 36 chars + NUL into out. */
void gen_uuid4(gen_rng *r, char out[37]);

/* ---- geography: real cities and stores ---- */
typedef struct {
    const char *name;
    const char *province;
    double lat, lon;        /* city centre, WGS84 */
    int population_k;       /* urban population, thousands (weights where shoppers live) */
} gen_city;

typedef struct {
    const char *store_id;   /* "ST001".. */
    int city;               /* index into the city table */
    double lat, lon;        /* store location: the city centre or close to it */
} gen_store;

size_t gen_city_count(void);
const gen_city *gen_city_get(size_t i);
size_t gen_store_count(void);
const gen_store *gen_store_get(size_t i);

/* The store_id used by online events (the web shop). */
#define GEN_ONLINE_STORE_ID "ST000"

/* ---- catalog ---- */
typedef struct {
    const char *name;       /* e.g. "electronics" */
    int64_t min_cents, max_cents;
    double weight;          /* share of interest across the population */
} gen_category;

typedef struct {
    char id[8];             /* "P0001".. */
    char name[72];
    uint8_t id_len, name_len;
    int category;           /* index into the category table */
    int64_t price_cents;
    int rank;               /* popularity rank within its category, 0 = most popular */
} gen_product;

size_t gen_category_count(void);
const gen_category *gen_category_get(size_t i);

/* ---- the simulator ---- */
typedef struct {
    uint64_t seed;
    int64_t users;          /* >= 1 */
    double rate;            /* simulated clock: events per second of event time, > 0 */
    int64_t start_us;       /* simulated clock: first instant */
    double late_frac;       /* 0..1 */
    int64_t late_max_us;    /* > 0 when late_frac > 0 */
    double dup_frac;        /* 0..1 */
    double bad_frac;        /* 0..1 */
} gen_config;

typedef enum { GEN_FRESH = 0, GEN_LATE, GEN_DUP, GEN_BAD } gen_kind;

/* What the caller needs to route a line; never written into the line. */
typedef struct {
    event_type type;        /* intended type (for a bad line: the event it was made from) */
    event_topic topic;      /* where it goes: the type's topic; page_views for unknown types */
    char key[16];           /* user_id, NUL-terminated: the Kafka message key */
    size_t key_len;
    int64_t ts_us;          /* the event time written in the line */
    gen_kind kind;          /* GEN_LATE: a held-back event now released */
} gen_meta;

typedef struct {
    uint64_t lines;         /* lines returned */
    uint64_t fresh;         /* fresh events generated (including those held back) */
    uint64_t late, dup, bad;
    uint64_t by_type[EV_TYPE_COUNT];   /* fresh events per type */
    uint64_t sessions, carts_with_items, purchases;
    size_t held;            /* lines held back right now */
} gen_stats;

typedef struct gen gen;

/* Validates cfg and builds the population. NULL with a message in err on bad config or OOM. */
gen *gen_new(const gen_config *cfg, char *err, size_t errlen);
void gen_free(gen *g);

/* Appends the next line (no newline) to line and describes it in *meta. now_us is the clock
 * (wall time); now_us < 0 uses the simulated clock. 0, or -1 when out of memory. */
int gen_next(gen *g, int64_t now_us, buf_t *line, gen_meta *meta);

/* At the end of a run: appends one held-back line (late or duplicate) regardless of the clock.
 * 1 if a line was appended, 0 when none is left, -1 when out of memory. */
int gen_drain(gen *g, buf_t *line, gen_meta *meta);

/* The simulated clock: the time of the most recent fresh event. */
int64_t gen_clock(const gen *g);

void gen_stats_get(const gen *g, gen_stats *out);

/* The catalog of this gen (the same for every seed): *n products. */
const gen_product *gen_products(const gen *g, size_t *n);

#endif
