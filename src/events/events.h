/*
 * events — the event model and its JSON codec (see docs/events.md for the schema).
 *
 * Contract
 *   - An event is one JSON object on one line. Four types: page_view (topic page_views),
 *     add_to_cart / remove_from_cart (topic cart_events), purchase (topic orders).
 *   - Money is held as integer cents (exact sums); JSON carries it as a decimal number with at
 *     most two fraction digits. Instants are int64 microseconds since the epoch, UTC; JSON
 *     carries them as RFC 3339 with milliseconds ("2026-11-25T09:30:00.123Z").
 *   - Strings in an event are views (pointer + length), not NUL-terminated. The encoder reads
 *     them; the parser points them into the input line or into its own arena (for unescaped
 *     text), valid until the next event_parse() on the same parser or event_parser_free().
 *   - event_parse() validates as well as parses: a line that is not a valid event gives -1 and a
 *     short reason (for the `rejected` table). It never crashes and never allocates without bound
 *     on hostile input: memory is bounded by a small multiple of the line length.
 *   - No global state: a parser is per thread.
 */
#ifndef ECOM_EVENTS_H
#define ECOM_EVENTS_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "util/util.h"

typedef struct {
    const char *p;
    size_t n;
} strview;

#define SV(lit) ((strview){(lit), sizeof(lit) - 1})
static inline strview sv_cstr(const char *s) {
    size_t n = 0;
    while (s[n]) n++;
    return (strview){s, n};
}

typedef enum {
    EV_PAGE_VIEW = 0,
    EV_ADD_TO_CART,
    EV_REMOVE_FROM_CART,
    EV_PURCHASE,
    EV_TYPE_COUNT
} event_type;

typedef enum { TOPIC_PAGE_VIEWS = 0, TOPIC_CART_EVENTS, TOPIC_ORDERS, TOPIC_COUNT } event_topic;

typedef struct {
    strview product_id, product_name, category;
    int32_t quantity;
    int64_t unit_price_cents;
} event_item;

/* Upper bound on items in one order; a longer array is rejected as invalid. */
#define EVENT_MAX_ITEMS 256

typedef struct {
    event_type type;
    bool id_packed;            /* event_parse sets it: id_hi/id_lo hold event_id's 128 bits */
    strview event_id;          /* UUID text, 36 chars */
    uint64_t id_hi, id_lo;     /* event_uuid_pack(event_id), valid when id_packed (the parser
                                * packs once; an event built by hand leaves it false) */
    int64_t ts_us;             /* timestamp */
    strview user_id, session_id, store_id;
    strview store_type;        /* "online" | "physical_store" */
    strview city, province;
    double lat, lon;           /* location */
    strview device;            /* "mobile" | "desktop" | "tablet"; n == 0 when absent (stores) */

    /* page_view, add_to_cart, remove_from_cart */
    strview product_id, product_name, category;
    int64_t price_cents;       /* unit price */
    int32_t quantity;          /* cart events only; 0 for page_view */

    /* purchase */
    strview order_id, currency, payment_method;
    int64_t total_cents;
    const event_item *items;
    size_t n_items;
} event;

const char *event_type_name(event_type t);            /* "page_view", ... */
int event_type_parse(const char *s, size_t n, event_type *out);
/* A canonical UUID (8-4-4-4-12 hex digits, either case): true and its 128 bits, the first digit
 * highest (*hi: digits 1-16, *lo: 17-32); false for any other text. */
bool event_uuid_pack(strview v, uint64_t *hi, uint64_t *lo);
/* The closed sets of store_type ("online", "physical_store") and device ("mobile", "desktop",
 * "tablet"): the index of v in its set, -1 when v is not in it. The parser validates with them;
 * writers use the index as the value's number (pq_write_str_id). */
int event_store_type_id(strview v);
int event_device_id(strview v);
event_topic event_topic_of(event_type t);
const char *event_topic_name(event_topic t);          /* default topic names: "page_views", ... */

/* Appends the JSON encoding of e to out (no trailing newline). 0 or -1 (out of memory).
 * Strings are escaped as JSON requires; output is valid UTF-8 if the input strings are. */
int event_json_encode(const event *e, buf_t *out);

/* Appends a JSON string literal (with quotes) for s. Shared by every module that writes JSON. */
int json_append_string(buf_t *out, const char *s, size_t n);

/* Appends cents as a JSON number with two decimals, e.g. 1999 -> 19.99, -5 -> -0.05. */
int json_append_cents(buf_t *out, int64_t cents);

typedef struct event_parser event_parser;

/* Creates a parser. Returns NULL on out of memory. Free with event_parser_free(). */
event_parser *event_parser_new(void);
void event_parser_free(event_parser *p);

/* Parses and validates one JSON line (without its newline). On success returns 0 and fills
 * *out (views valid until the next call). On failure returns -1 and writes a short reason such
 * as "malformed JSON at byte 17", "missing field price", "negative price",
 * "unknown event_type 'foo'", "total 10.00 does not match items 12.50". */
int event_parse(event_parser *p, const char *line, size_t len, event *out, char *reason, size_t rlen);
/* Bytes of decoded (unescaped) text the last successful event_parse() put in the parser's
 * arena: 0 when every string view of that event points into its line (an order's items are
 * the parser's either way). A consumer that keeps events past the next parse copies only then. */
size_t event_parser_decoded(const event_parser *p);

#endif
