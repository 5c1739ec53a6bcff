/*
 * metrics.c — the catalog itself (see metrics.h). The order of columns here is the order of
 * the lake's columns after window_start, window_end, and of the values in an engine row.
 */
#include <string.h>

#include "metrics/metrics.h"

#define KEY(n, d) {n, METRIC_STR, MERGE_KEY, -1, -1, d}
#define ATTR(n, d) {n, METRIC_STR, MERGE_ATTR, -1, -1, d}
#define COUNT(n, d) {n, METRIC_INT, MERGE_SUM, -1, -1, d}
#define MONEY(n, d) {n, METRIC_MONEY, MERGE_SUM, -1, -1, d}
#define AVG_MONEY(n, num, den, d) {n, METRIC_MONEY, MERGE_RATIO, num, den, d}
#define RATE(n, num, den, d) {n, METRIC_RATE, MERGE_RATIO, num, den, d}

static const metric_def catalog[METRIC_ID_COUNT] = {
    [METRIC_ID_SALES] = {
        METRIC_ID_SALES, "sales_per_minute", "orders, items and revenue per window",
        METRIC_FINAL_WINDOW, 4, {
            COUNT("orders", "purchase events"),
            COUNT("items", "units over every order line"),
            MONEY("revenue", "sum of order totals"),
            AVG_MONEY("avg_ticket", 2, 0, "revenue / orders, rounded half away from zero to the cent"),
        }, 0, {{0}}},
    [METRIC_ID_CATEGORY] = {
        METRIC_ID_CATEGORY, "category_activity", "activity per product category per window",
        METRIC_FINAL_WINDOW, 6, {
            KEY("category", "product category"),
            COUNT("views", "page views"),
            COUNT("adds", "add_to_cart events"),
            COUNT("removes", "remove_from_cart events"),
            COUNT("units_sold", "units in purchases"),
            MONEY("revenue", "quantity x unit_price over purchase lines"),
        }, 0, {{0}}},
    [METRIC_ID_PRODUCT] = {
        METRIC_ID_PRODUCT, "product_activity", "activity per product per window (every product with activity)",
        METRIC_FINAL_WINDOW, 7, {
            KEY("product_id", "product"),
            ATTR("product_name", "its name (smallest seen)"),
            ATTR("category", "its category (smallest seen)"),
            COUNT("views", "page views"),
            COUNT("adds", "add_to_cart events"),
            COUNT("units_sold", "units in purchases"),
            MONEY("revenue", "quantity x unit_price over purchase lines"),
        }, 2, {
            {"top_products", 3, 10, "most viewed products"},
            {"top_products_by_revenue", 6, 10, "products with the most revenue"},
        }},
    [METRIC_ID_CITY] = {
        METRIC_ID_CITY, "sales_by_city", "orders and revenue per store location per window",
        METRIC_FINAL_WINDOW, 5, {
            KEY("province", "province of the city"),
            KEY("city", "store city (online: the shopper's city)"),
            KEY("store_type", "online or physical_store"),
            COUNT("orders", "purchase events"),
            MONEY("revenue", "sum of order totals"),
        }, 0, {{0}}},
    [METRIC_ID_CHANNEL] = {
        METRIC_ID_CHANNEL, "sales_by_channel", "orders and revenue per sales channel per window",
        METRIC_FINAL_WINDOW, 5, {
            KEY("store_type", "online or physical_store"),
            KEY("device", "mobile, desktop, tablet; none for physical stores"),
            COUNT("orders", "purchase events"),
            MONEY("revenue", "sum of order totals"),
            AVG_MONEY("avg_ticket", 3, 2, "revenue / orders, rounded half away from zero to the cent"),
        }, 0, {{0}}},
    [METRIC_ID_FUNNEL] = {
        METRIC_ID_FUNNEL, "funnel", "view -> cart -> purchase funnel of the views of each window",
        METRIC_FINAL_FUNNEL, 8, {
            COUNT("viewed", "distinct (user, product) viewed in the window"),
            COUNT("carted", "of those, added to a cart within view_to_cart"),
            COUNT("purchased", "of those, bought within cart_to_purchase of the add"),
            RATE("view_to_cart_rate", 1, 0, "carted / viewed"),
            RATE("cart_to_purchase_rate", 2, 1, "purchased / carted"),
            RATE("view_to_purchase_rate", 2, 0, "purchased / viewed"),
            COUNT("abandoned", "cart abandonment: carted, never bought within cart_to_purchase of the add"),
            RATE("abandonment_rate", 6, 1, "abandoned / carted"),
        }, 0, {{0}}},
};

const metric_def *metric_get(metric_id id) { return (unsigned)id < METRIC_ID_COUNT ? &catalog[id] : NULL; }

const metric_def *metric_find(const char *name) {
    for (int i = 0; i < METRIC_ID_COUNT; i++)
        if (!strcmp(catalog[i].name, name)) return &catalog[i];
    return NULL;
}

const metric_def *metric_find_rank(const char *name, const metric_rank **rank) {
    for (int i = 0; i < METRIC_ID_COUNT; i++)
        for (int r = 0; r < catalog[i].nranks; r++)
            if (!strcmp(catalog[i].ranks[r].name, name)) {
                if (rank) *rank = &catalog[i].ranks[r];
                return &catalog[i];
            }
    return NULL;
}

int metric_col_index(const metric_def *m, const char *name) {
    for (int c = 0; c < m->ncols; c++)
        if (!strcmp(m->cols[c].name, name)) return c;
    return -1;
}

int metric_nkeys(const metric_def *m) {
    int n = 0;
    while (n < m->ncols && m->cols[n].merge == MERGE_KEY) n++;
    return n;
}

/* Why not (num + den / 2) / den: that overflows near INT64_MAX and rounds negatives toward
 * +inf; comparing the remainder with what is left of the divisor does neither. */
int64_t metric_ratio_cents(int64_t num, int64_t den) {
    if (den == 0) return 0;
    int64_t q = num / den, r = num % den;
    uint64_t ar = r < 0 ? (uint64_t)0 - (uint64_t)r : (uint64_t)r;
    uint64_t ad = den < 0 ? (uint64_t)0 - (uint64_t)den : (uint64_t)den;
    if (ar >= ad - ar) q += ((num < 0) != (den < 0)) ? -1 : 1;
    return q;
}

void metric_row_derive(const metric_def *m, metric_val *vals) {
    for (int c = 0; c < m->ncols; c++) {
        const metric_col *k = &m->cols[c];
        if (k->merge != MERGE_RATIO) continue;
        int64_t num = vals[k->num].i, den = vals[k->den].i;
        if (k->type == METRIC_MONEY)
            vals[c].i = metric_ratio_cents(num, den);
        else
            vals[c].d = den ? (double)num / (double)den : 0.0;
    }
}
