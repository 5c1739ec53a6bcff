/* prov.c — the open windows of `ecom stream --listen`'s GET /status (schema 2, documented in
 * docs/stream.md and src/pipeline/pipeline.h) as rows of catalog metrics. The member names read
 * here are exactly the schema's: "schema", "watermark", "open_windows" -> "<metric name>" ->
 * [{"window_start", "window_end", "final_at", <catalog column names>...}]. Parsed with jansson. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dash/dash.h"

void dash_prov_free(dash_prov *p) {
    for (int m = 0; m < METRIC_ID_COUNT; m++) {
        for (size_t i = 0; i < p->n[m]; i++)
            for (int c = 0; c < METRIC_MAX_COLS; c++) free(p->rows[m][i].s[c]);
        free(p->rows[m]);
    }
    memset(p, 0, sizeof *p);
    p->watermark = p->max_end = p->newest_event = INT64_MIN;
    p->epoch = -1;
}

/* An RFC 3339 string member into *us; null gives INT64_MIN when nullable. */
static int prov_time(json_t *o, const char *name, bool nullable, int64_t *us) {
    json_t *v = json_object_get(o, name);
    if (nullable && (!v || json_is_null(v))) {
        *us = INT64_MIN;
        return 0;
    }
    const char *s = json_string_value(v);
    return s && time_parse_rfc3339(s, strlen(s), us) == 0 ? 0 : -1;
}

/* A number member by its catalog type: counts are integers, money a number of dollars. */
static int prov_value(json_t *v, const metric_col *c, int64_t *out) {
    if (c->type == METRIC_INT) {
        if (!json_is_integer(v)) return -1;
        *out = (int64_t)json_integer_value(v);
        return 0;
    }
    if (!json_is_number(v)) return -1;
    double d = json_number_value(v) * 100.0;
    if (!isfinite(d) || fabs(d) > 9e18) return -1;
    *out = llround(d);
    return 0;
}

/* One open window row; -1 when it does not match the catalog, or its window ends before it
 * starts (such a row would be merged and drawn as a window: a garbled status is refused whole). */
static int prov_row_parse(json_t *o, const metric_def *m, dash_prov_row *r) {
    if (!json_is_object(o) || prov_time(o, "window_start", false, &r->ws) || prov_time(o, "window_end", false, &r->we) ||
        prov_time(o, "final_at", true, &r->final_at) || r->we <= r->ws)
        return -1;
    /* scale-out: whose window it is, so it is compared with that partition's commits */
    json_t *pv = json_object_get(o, "partition");
    r->part = json_is_integer(pv) && json_integer_value(pv) >= 0 && json_integer_value(pv) < INT32_MAX
                  ? (int)json_integer_value(pv) : -1;
    int nstr = dash_metric_nstr(m);
    for (int c = 0; c < m->ncols; c++) {
        const metric_col *mc = &m->cols[c];
        json_t *v = json_object_get(o, mc->name);
        /* a column an older stream does not send is unknown (dash_unknown), never 0 or "" */
        if (!v && mc->merge != MERGE_RATIO) r->unk |= (dash_unknown)(1u << c);
        if (c < nstr) {   /* a key or attribute: a string (null, as the lake's empty value: "") */
            const char *s = !v || json_is_null(v) ? "" : json_string_value(v);
            if (!s || !(r->s[c] = strdup(s))) return -1;
        } else if (mc->merge != MERGE_RATIO && v && prov_value(v, mc, &r->v[c])) {
            return -1;
        }
    }
    return 0;
}

static int prov_metric(json_t *arr, const metric_def *m, dash_prov *p, char *err, size_t errlen) {
    if (!json_is_array(arr)) {
        snprintf(err, errlen, "stream status: open_windows.%s is not an array", m->name);
        return -1;
    }
    size_t n = json_array_size(arr);
    if (n == 0) return 0;
    p->rows[m->id] = calloc(n, sizeof *p->rows[m->id]);
    if (!p->rows[m->id]) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        dash_prov_row *r = &p->rows[m->id][p->n[m->id]++];
        if (prov_row_parse(json_array_get(arr, i), m, r)) {
            snprintf(err, errlen, "stream status: open_windows.%s[%zu] does not match the catalog", m->name, i);
            return -1;
        }
        if (r->we > p->max_end) p->max_end = r->we;
    }
    return 0;
}

int dash_prov_parse(const char *json, size_t n, dash_prov *p, char *err, size_t errlen) {
    dash_prov_free(p);
    json_error_t je;
    json_t *root = json_loadb(json, n, 0, &je);
    if (!root) {
        snprintf(err, errlen, "stream status: %s", je.text);
        return -1;
    }
    int rc = -1;
    json_t *schema = json_object_get(root, "schema"), *ow = json_object_get(root, "open_windows");
    if (!json_is_integer(schema) || json_integer_value(schema) != 2) {
        snprintf(err, errlen, "stream status: schema %s, this dashboard reads schema 2",
                 json_is_integer(schema) ? "other than 2" : "missing");
    } else if (!json_is_object(ow)) {
        snprintf(err, errlen, "stream status: no open_windows object");
    } else if (prov_time(root, "watermark", true, &p->watermark) ||
               prov_time(root, "newest_event_at", true, &p->newest_event)) {
        snprintf(err, errlen, "stream status: bad watermark or newest_event_at");
    } else {
        rc = 0;
        json_t *ep = json_object_get(root, "epoch");
        if (json_is_integer(ep)) p->epoch = (int64_t)json_integer_value(ep);
        for (int m = 0; rc == 0 && m < METRIC_ID_COUNT; m++) {
            json_t *arr = json_object_get(ow, metric_get((metric_id)m)->name);
            if (arr) rc = prov_metric(arr, metric_get((metric_id)m), p, err, errlen);
        }
        char *dump = rc == 0 ? json_dumps(ow, JSON_SORT_KEYS | JSON_COMPACT) : NULL;
        if (dump) p->hash = hash64(dump, strlen(dump));
        free(dump);
    }
    json_decref(root);
    if (rc) dash_prov_free(p);
    return rc;
}
