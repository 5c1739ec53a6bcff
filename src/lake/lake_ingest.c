/*
 * lake_ingest.c — the one ingest path: an input record (a line of a file or stdin, a Kafka
 * message) -> an event row, a rejected row or a blank (contract and rules in lake.h).
 */
#include <stdlib.h>
#include <string.h>

#include "lake/lake.h"
#include "util/util.h"

struct lake_ingest {
    event_parser *parser;
    lake_tz *tz;
    lake_ingest_counts counts;
};

lake_ingest *lake_ingest_new(lake_tz *tz) {
    lake_ingest *g = calloc(1, sizeof *g);
    if (!g) return NULL;
    g->parser = event_parser_new();
    if (!g->parser) {
        free(g);
        return NULL;
    }
    g->tz = tz;
    return g;
}

void lake_ingest_free(lake_ingest *g) {
    if (!g) return;
    event_parser_free(g->parser);
    free(g);
}

const lake_ingest_counts *lake_ingest_get_counts(const lake_ingest *g) { return &g->counts; }

size_t lake_ingest_decoded(const lake_ingest *g) { return event_parser_decoded(g->parser); }

static bool is_blank(const char *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r' && p[i] != '\n') return false;
    return true;
}

void lake_ingest_parse(lake_ingest *g, const lake_input *in, lake_line *out) {
    out->in = *in;
    size_t n = in->n;
    if (n && in->p[n - 1] == '\n') n--;
    if (n && in->p[n - 1] == '\r') n--;
    out->in.n = n;
    out->reason[0] = 0;
    if (is_blank(in->p, n)) {
        out->kind = LAKE_LINE_BLANK;
        return;
    }
    out->kind = event_parse(g->parser, in->p, n, &out->ev, out->reason, sizeof out->reason) == 0
                    ? LAKE_LINE_EVENT
                    : LAKE_LINE_REJECTED;
}

void lake_line_reject(lake_line *l, const char *reason) {
    l->kind = LAKE_LINE_REJECTED;
    snprintf(l->reason, sizeof l->reason, "%s", reason);
}

lake_raw lake_line_table(const lake_line *l) {
    switch (l->kind) {
    case LAKE_LINE_EVENT: return lake_raw_of_event(l->ev.type);
    case LAKE_LINE_REJECTED: return LAKE_REJECTED;
    default: return LAKE_RAW_COUNT;
    }
}

/* The instant a rejected record is dated by (see lake.h): its own "timestamp" field when one
 * parses (a best effort: the first "timestamp" key of the bytes, whatever else is broken),
 * else the source's time for it, else the ingest time. */
static int64_t rejected_instant(const lake_line *l, int64_t now_us) {
    static const char key[] = "\"timestamp\"";
    const char *p = l->in.n ? memmem(l->in.p, l->in.n, key, sizeof key - 1) : NULL;
    if (p) {
        const char *end = l->in.p + l->in.n;
        p += sizeof key - 1;
        while (p < end && (*p == ' ' || *p == '\t' || *p == ':')) p++;
        const char *q = p < end && *p == '"' ? memchr(p + 1, '"', (size_t)(end - p - 1)) : NULL;
        int64_t us;
        if (q && time_parse_rfc3339(p + 1, (size_t)(q - p - 1), &us) == 0) return us;
    }
    return l->in.ts_hint_us > 0 ? l->in.ts_hint_us : now_us;
}

int lake_ingest_write(lake_ingest *g, const lake_line *l, lake_table *t, int64_t now_us, char *err, size_t errlen) {
    if (l->kind == LAKE_LINE_BLANK) {
        g->counts.blank++;
        return 0;
    }
    if (!t) {
        snprintf(err, errlen, "no %s table to write to", lake_raw_name(lake_line_table(l)));
        return -1;
    }
    if (l->kind == LAKE_LINE_EVENT) {
        if (lake_append_event(t, &l->ev, lake_day_of(g->tz, l->ev.ts_us), now_us, err, errlen)) return -1;
        g->counts.events[l->ev.type]++;
        return 0;
    }
    int64_t day = lake_day_of(g->tz, rejected_instant(l, now_us));
    if (lake_append_rejected(t, day, l->in.source ? l->in.source : "", l->in.position, l->reason, l->in.p, l->in.n,
                             now_us, err, errlen))
        return -1;
    g->counts.rejected++;
    return 0;
}

int lake_ingest_line(lake_ingest *g, const lake_input *in, lake_table *const tables[LAKE_RAW_COUNT], int64_t now_us,
                     lake_line_kind *kind, char *err, size_t errlen) {
    lake_line l;
    lake_ingest_parse(g, in, &l);
    if (kind) *kind = l.kind;
    lake_raw t = lake_line_table(&l);
    return lake_ingest_write(g, &l, t < LAKE_RAW_COUNT ? tables[t] : NULL, now_us, err, errlen);
}
