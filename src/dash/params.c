/* params.c — validation of an API call's query parameters (from/to, last, limit). */
#include <stdio.h>
#include <string.h>

#include "dash/dash.h"

#define PARAM_MAX_LEN 64

static int param_fail(char *err, size_t errlen, const char *fmt, const char *what) {
    snprintf(err, errlen, fmt, what);
    return -1;
}

/* Why so strict: the API is small and fixed, so anything unexpected (an unknown key, a key
 * given twice, a value with trailing junk) is more likely a mistake than intent; a clear 400
 * beats a silently ignored parameter. */
int dash_params_add(dash_params *p, const char *key, const char *value, char *err, size_t errlen) {
    if (!value) value = "";
    size_t vlen = strnlen(value, PARAM_MAX_LEN + 1);
    if (vlen > PARAM_MAX_LEN) return param_fail(err, errlen, "parameter '%s' is too long", key);
    if (!strcmp(key, "from") || !strcmp(key, "to")) {
        bool is_from = key[0] == 'f';
        int64_t *dst = is_from ? &p->from_us : &p->to_us;
        static const int64_t unset = INT64_MIN;
        if (p->has_from_to && *dst != unset) return param_fail(err, errlen, "parameter '%s' given twice", key);
        if (!p->has_from_to) {
            p->has_from_to = true;
            p->from_us = p->to_us = unset;
        }
        int64_t us;
        if (vlen == 0 || time_parse_rfc3339(value, vlen, &us) != 0)
            return param_fail(err, errlen, "parameter '%s' is not an RFC 3339 time", key);
        *dst = us;
        return 0;
    }
    if (!strcmp(key, "last")) {
        if (p->has_last) return param_fail(err, errlen, "parameter '%s' given twice", key);
        int64_t us;
        if (vlen == 0 || duration_parse(value, &us) != 0 || us <= 0)
            return param_fail(err, errlen, "parameter '%s' is not a positive duration (15m, 1h, 24h)", key);
        if (us > DASH_MAX_RANGE_US) return param_fail(err, errlen, "parameter '%s' is too long a range", key);
        p->has_last = true;
        p->last_us = us;
        return 0;
    }
    if (!strcmp(key, "limit")) {
        if (p->limit) return param_fail(err, errlen, "parameter '%s' given twice", key);
        int64_t n;
        if (parse_int64(value, &n) != 0 || n < 1 || n > 100)
            return param_fail(err, errlen, "parameter '%s' must be an integer in 1..100", key);
        p->limit = n;
        return 0;
    }
    return param_fail(err, errlen, "unknown parameter '%.40s'", key);
}

int dash_params_finish(dash_params *p, char *err, size_t errlen) {
    if (p->has_last && p->has_from_to) {
        snprintf(err, errlen, "give either 'last' or 'from' and 'to', not both");
        return -1;
    }
    if (!p->has_from_to) return 0;
    if (p->from_us == INT64_MIN || p->to_us == INT64_MIN) {
        snprintf(err, errlen, "'from' and 'to' must be given together");
        return -1;
    }
    if (p->from_us >= p->to_us) {
        snprintf(err, errlen, "'from' must be before 'to'");
        return -1;
    }
    /* Both are bounded by the RFC 3339 parser (years 0..9999), so the difference cannot overflow. */
    if (p->to_us - p->from_us > DASH_MAX_RANGE_US) {
        snprintf(err, errlen, "range longer than 400 days");
        return -1;
    }
    return 0;
}
