/*
 * lake_raw.c — the raw event tables and the event -> row mapping.
 *
 *   views    page_view events          cart    add_to_cart / remove_from_cart
 *   orders   purchase events, with `items` a LIST of STRUCT (one element per order line)
 *   rejected input records that failed validation: ingest time, source, position, reason, the
 *            bytes exactly (BINARY raw) and a valid UTF-8 preview
 *
 * Columns keep the event's field names and nesting (docs/events.md): `timestamp`,
 * `location.lat/lon`, `price`, `total`, `items[].unit_price`, so SQL written against the events
 * runs on the lake. Money is DECIMAL(18,2) on INT64 (the parser's exact cents, read as
 * decimals by DuckDB, pyarrow and Spark). Instants are TIMESTAMP(MICROS, UTC). The partition
 * date is the caller's (lake_day_of the event's timestamp).
 */
#include <stdio.h>
#include <string.h>

#include "lake/lake.h"

static const char *raw_names[LAKE_RAW_COUNT] = {"views", "cart", "orders", "rejected"};

const char *lake_raw_name(lake_raw t) { return t < LAKE_RAW_COUNT ? raw_names[t] : "?"; }

lake_raw lake_raw_of_event(event_type t) {
    switch (t) {
    case EV_PAGE_VIEW: return LAKE_VIEWS;
    case EV_ADD_TO_CART: case EV_REMOVE_FROM_CART: return LAKE_CART;
    default: return LAKE_ORDERS;
    }
}

typedef struct {
    const char *name;
    pq_kind kind;      /* PQ_DECIMAL: money, DECIMAL(18,2) */
    bool optional;
    int depth; /* 0 top level, 1 child of the previous depth-0 group */
} fdef;

/* Field order follows docs/events.md. */
static const fdef common[] = {
    {"event_id", PQ_STRING, false, 0}, {"event_type", PQ_STRING, false, 0}, {"timestamp", PQ_TIMESTAMP, false, 0},
    {"user_id", PQ_STRING, false, 0},  {"session_id", PQ_STRING, false, 0}, {"store_id", PQ_STRING, false, 0},
    {"store_type", PQ_STRING, false, 0}, {"city", PQ_STRING, false, 0},    {"province", PQ_STRING, false, 0},
    {"location", PQ_STRUCT, false, 0}, {"lat", PQ_DOUBLE, false, 1},      {"lon", PQ_DOUBLE, false, 1},
    {"device", PQ_STRING, true, 0},
};
static const fdef product[] = {
    {"product_id", PQ_STRING, false, 0}, {"product_name", PQ_STRING, false, 0}, {"category", PQ_STRING, false, 0},
    {"price", PQ_DECIMAL, false, 0},
};
static const fdef order[] = {
    {"order_id", PQ_STRING, false, 0},       {"items", PQ_LIST, false, 0},
    {"product_id", PQ_STRING, false, 1},     {"product_name", PQ_STRING, false, 1},
    {"category", PQ_STRING, false, 1},       {"quantity", PQ_INT32, false, 1},
    {"unit_price", PQ_DECIMAL, false, 1},    {"total", PQ_DECIMAL, false, 0},
    {"currency", PQ_STRING, false, 0},       {"payment_method", PQ_STRING, false, 0},
};
/* raw is BINARY (the record's bytes exactly, whatever they are); raw_preview is valid UTF-8 for
 * tools that want text. */
static const fdef rejected[] = {
    {"ingest_ts", PQ_TIMESTAMP, false, 0}, {"source", PQ_STRING, false, 0}, {"position", PQ_INT64, false, 0},
    {"reason", PQ_STRING, false, 0},       {"raw", PQ_BINARY, false, 0},    {"raw_preview", PQ_STRING, false, 0},
};

static int add_defs(pq_schema *s, const fdef *d, size_t n, char *err, size_t errlen) {
    int group = -1;
    for (size_t i = 0; i < n; i++) {
        int parent = d[i].depth ? group : -1;
        int idx = d[i].kind == PQ_DECIMAL
                      ? pq_schema_add_decimal(s, parent, d[i].name, 18, 2, d[i].optional, err, errlen)
                      : pq_schema_add(s, parent, d[i].name, d[i].kind, d[i].optional, err, errlen);
        if (idx < 0) return -1;
        if (d[i].depth == 0) group = idx;
    }
    return 0;
}

pq_schema *lake_raw_schema(lake_raw t, char *err, size_t errlen) {
    pq_schema *s = pq_schema_new();
    int rc = 0;
    if (!s) return NULL;
    if (t == LAKE_REJECTED) {
        rc = add_defs(s, rejected, sizeof rejected / sizeof *rejected, err, errlen);
    } else {
        rc = add_defs(s, common, sizeof common / sizeof *common, err, errlen);
        if (!rc && t == LAKE_ORDERS) rc = add_defs(s, order, sizeof order / sizeof *order, err, errlen);
        else if (!rc) rc = add_defs(s, product, sizeof product / sizeof *product, err, errlen);
        if (!rc && t == LAKE_CART) rc = pq_schema_add(s, -1, "quantity", PQ_INT32, false, err, errlen) < 0;
    }
    if (rc) {
        pq_schema_free(s);
        return NULL;
    }
    return s;
}

static int put_sv(pq_writer *w, int *leaf, strview v, char *err, size_t errlen) {
    return pq_write_str(w, (*leaf)++, v.p, v.n, err, errlen);
}

/* A string of a closed set, numbered by id (its index in the set, -1 when it is not in it): the
 * writer finds its dictionary entry by the number instead of hashing (pq_write_str_id). */
static int put_known(pq_writer *w, int *leaf, int id, strview v, char *err, size_t errlen) {
    int l = (*leaf)++;
    return id >= 0 ? pq_write_str_id(w, l, id, v.p, v.n, err, errlen) : pq_write_str(w, l, v.p, v.n, err, errlen);
}

static pq_bytes pqb(strview v) { return (pq_bytes){v.p, (uint32_t)v.n}; }

/* Where: store_id, store_type, city, province, location.lat, location.lon, as one group
 * (pq_write_group) keyed by the first three (an online order's store is "online" whatever the
 * city): the stores and the online cities are a few dozen distinct rows. */
static int put_place(pq_writer *w, int *leaf, const event *e, char *err, size_t errlen) {
    pq_bytes v[6] = {pqb(e->store_id), pqb(e->store_type), pqb(e->city), pqb(e->province), {(const char *)&e->lat, 0},
                     {(const char *)&e->lon, 0}};
    int l = *leaf;
    *leaf += 6;
    return pq_write_group(w, l, 6, 3, v, err, errlen);
}

/* What: product_id, product_name, category, price, as one group keyed by the id (a catalogue). */
static int put_product(pq_writer *w, int *leaf, const event *e, char *err, size_t errlen) {
    pq_bytes v[4] = {pqb(e->product_id), pqb(e->product_name), pqb(e->category), {(const char *)&e->price_cents, 0}};
    int l = *leaf;
    *leaf += 4;
    return pq_write_group(w, l, 4, 1, v, err, errlen);
}

static int put_i64(pq_writer *w, int *leaf, int64_t v, char *err, size_t errlen) {
    return pq_write_i64(w, (*leaf)++, v, err, errlen);
}

/* items: required list -> repeated list (def 1) -> optional element (def 2); the element's
 * fields are required, so a present value has def 2. An empty list is one entry at def 0. */
static int put_items(pq_writer *w, int *leaf, const event *e, char *err, size_t errlen) {
    size_t n = e->n_items;
    int16_t def[EVENT_MAX_ITEMS], rep[EVENT_MAX_ITEMS];
    pq_bytes pid[EVENT_MAX_ITEMS], pname[EVENT_MAX_ITEMS], cat[EVENT_MAX_ITEMS];
    int32_t qty[EVENT_MAX_ITEMS];
    int64_t up[EVENT_MAX_ITEMS];
    if (n > EVENT_MAX_ITEMS) n = EVENT_MAX_ITEMS;
    for (size_t i = 0; i < n; i++) {
        const event_item *it = &e->items[i];
        def[i] = 2;
        rep[i] = i ? 1 : 0;
        pid[i] = (pq_bytes){it->product_id.p, (uint32_t)it->product_id.n};
        pname[i] = (pq_bytes){it->product_name.p, (uint32_t)it->product_name.n};
        cat[i] = (pq_bytes){it->category.p, (uint32_t)it->category.n};
        qty[i] = it->quantity;
        up[i] = it->unit_price_cents;
    }
    size_t nl = n ? n : 1;
    if (!n) def[0] = 0, rep[0] = 0;
    int l = *leaf, rc = 0;
    rc |= pq_write_levels(w, l++, nl, def, rep, pid, n, err, errlen);
    rc |= pq_write_levels(w, l++, nl, def, rep, pname, n, err, errlen);
    rc |= pq_write_levels(w, l++, nl, def, rep, cat, n, err, errlen);
    rc |= pq_write_levels(w, l++, nl, def, rep, qty, n, err, errlen);
    rc |= pq_write_levels(w, l++, nl, def, rep, up, n, err, errlen);
    *leaf = l;
    return rc;
}

int lake_append_event(lake_table *t, const event *e, int64_t day, int64_t now_us, char *err, size_t errlen) {
    pq_writer *w = lake_table_writer(t, day, err, errlen);
    if (!w) return -1;
    int l = 0, rc = 0;
    rc |= put_sv(w, &l, e->event_id, err, errlen);
    rc |= put_known(w, &l, e->type < EV_TYPE_COUNT ? (int)e->type : -1, sv_cstr(event_type_name(e->type)), err,
                    errlen);
    rc |= put_i64(w, &l, e->ts_us, err, errlen);
    rc |= put_sv(w, &l, e->user_id, err, errlen);
    rc |= put_sv(w, &l, e->session_id, err, errlen);
    rc |= put_place(w, &l, e, err, errlen);
    if (e->device.n > 0)
        rc |= put_known(w, &l, event_device_id(e->device), e->device, err, errlen);
    else
        rc |= pq_write_null(w, l++, err, errlen);
    if (e->type != EV_PURCHASE) {
        rc |= put_product(w, &l, e, err, errlen);
        if (e->type != EV_PAGE_VIEW) rc |= pq_write_i32(w, l++, e->quantity, err, errlen);
    } else {
        rc |= put_sv(w, &l, e->order_id, err, errlen);
        rc |= put_items(w, &l, e, err, errlen);
        rc |= put_i64(w, &l, e->total_cents, err, errlen);
        rc |= put_sv(w, &l, e->currency, err, errlen);
        rc |= put_sv(w, &l, e->payment_method, err, errlen);
    }
    if (rc) return -1;
    return lake_table_rows_done(t, day, 1, now_us, err, errlen);
}

/* The preview: the first bytes of raw as valid UTF-8, each invalid byte replaced by U+FFFD,
 * cut before the character that would pass max bytes. */
static void utf8_preview(const char *raw, size_t n, char *out, size_t max, size_t *outlen) {
    size_t i = 0, o = 0;
    while (i < n) {
        int l = pq_utf8_len(raw + i, n - i);
        size_t w = l ? (size_t)l : 3;
        if (o + w > max) break;
        memcpy(out + o, l ? raw + i : "\xEF\xBF\xBD", w);
        o += w;
        i += l ? (size_t)l : 1;
    }
    *outlen = o;
}

int lake_append_rejected(lake_table *t, int64_t day, const char *source, int64_t position, const char *reason,
                         const char *raw, size_t rawlen, int64_t now_us, char *err, size_t errlen) {
    if (rawlen >= UINT32_MAX) {
        snprintf(err, errlen, "rejected record of %zu bytes is too long for a Parquet value", rawlen);
        return -1;
    }
    pq_writer *w = lake_table_writer(t, day, err, errlen);
    if (!w) return -1;
    char preview[LAKE_PREVIEW_BYTES];
    size_t plen;
    utf8_preview(raw, rawlen, preview, sizeof preview, &plen);
    int l = 0, rc = 0;
    rc |= put_i64(w, &l, now_us, err, errlen);
    rc |= put_sv(w, &l, sv_cstr(source), err, errlen);
    rc |= put_i64(w, &l, position, err, errlen);
    rc |= put_sv(w, &l, sv_cstr(reason), err, errlen);
    rc |= put_sv(w, &l, (strview){rawlen ? raw : "", rawlen}, err, errlen);
    rc |= put_sv(w, &l, (strview){preview, plen}, err, errlen);
    if (rc) return -1;
    return lake_table_rows_done(t, day, 1, now_us, err, errlen);
}
