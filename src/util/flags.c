/* util/flags.c — declarative command-line flags. See util.h. */
#include "util/util.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int parse_int64(const char *s, int64_t *out) {
    if (!s || !*s) return -1;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end) return -1;
    *out = v;
    return 0;
}

int parse_double(const char *s, double *out) {
    if (!s || !*s) return -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !isfinite(v)) return -1;
    *out = v;
    return 0;
}

static const flag_spec *flag_find(const flag_spec *specs, const char *name, size_t len) {
    for (const flag_spec *f = specs; f->name; f++)
        if (strlen(f->name) == len && !strncmp(f->name, name, len)) return f;
    return NULL;
}

static int range_ok(const flag_spec *f, double v) {
    if (f->min == 0 && f->max == 0) return 1;
    return v >= f->min && v <= f->max;
}

/* Stores one value; returns 0 or writes a message and returns -1. */
static int flag_set(const flag_spec *f, const char *val, char *err, size_t errlen) {
    int64_t i;
    double d;
    switch (f->kind) {
    case FLAG_BOOL:
        *(bool *)f->dst = true;
        return 0;
    case FLAG_STR:
        *(const char **)f->dst = val;
        return 0;
    case FLAG_INT:
        if (parse_int64(val, &i) || !range_ok(f, (double)i)) break;
        *(int64_t *)f->dst = i;
        return 0;
    case FLAG_DOUBLE:
        if (parse_double(val, &d) || !range_ok(f, d)) break;
        *(double *)f->dst = d;
        return 0;
    case FLAG_DURATION:
        if (duration_parse(val, &i)) break;
        *(int64_t *)f->dst = i;
        return 0;
    case FLAG_TIME:
        if (!strcmp(val, "now")) i = time_now_us();
        else if (time_parse_rfc3339(val, strlen(val), &i)) break;
        *(int64_t *)f->dst = i;
        return 0;
    }
    if ((f->kind == FLAG_INT || f->kind == FLAG_DOUBLE) && !(f->min == 0 && f->max == 0))
        snprintf(err, errlen, "invalid value '%s' for --%s (expected a number in [%g, %g])", val, f->name,
                 f->min, f->max);
    else
        snprintf(err, errlen, "invalid value '%s' for --%s (%s)", val, f->name,
                 f->kind == FLAG_DURATION ? "expected a duration such as 500ms, 30s, 2m, 1h"
                 : f->kind == FLAG_TIME   ? "expected RFC 3339 time such as 2026-11-25T09:30:00Z, or now"
                                          : "expected a number");
    return -1;
}

int flags_parse(const flag_spec *specs, int argc, char **argv, const char **pos, int max_pos, int *npos,
                char *err, size_t errlen) {
    int np = 0;
    bool only_pos = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (only_pos || a[0] != '-' || !strcmp(a, "-")) {
            if (np >= max_pos) {
                snprintf(err, errlen, "unexpected argument '%s'", a);
                return FLAGS_ERROR;
            }
            pos[np++] = a;
            continue;
        }
        if (!strcmp(a, "--")) { only_pos = true; continue; }
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) return FLAGS_HELP;
        if (a[1] != '-') {
            snprintf(err, errlen, "unknown flag '%s' (flags are spelled --name)", a);
            return FLAGS_ERROR;
        }
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        const flag_spec *f = flag_find(specs, name, nlen);
        if (!f) {
            snprintf(err, errlen, "unknown flag '--%.*s'", (int)nlen, name);
            return FLAGS_ERROR;
        }
        const char *val = NULL;
        if (f->kind == FLAG_BOOL) {
            if (eq) {
                snprintf(err, errlen, "flag --%s takes no value", f->name);
                return FLAGS_ERROR;
            }
        } else if (eq) {
            val = eq + 1;
        } else if (i + 1 < argc) {
            val = argv[++i];
        } else {
            snprintf(err, errlen, "flag --%s needs a value", f->name);
            return FLAGS_ERROR;
        }
        if (flag_set(f, val, err, errlen)) return FLAGS_ERROR;
        if (f->seen) *f->seen = true;
    }
    if (npos) *npos = np;
    return FLAGS_OK;
}

void flags_usage(FILE *f, const char *usage, const flag_spec *specs) {
    fprintf(f, "%s\n", usage);
    if (!specs || !specs[0].name) return;
    fprintf(f, "\nFlags:\n");
    for (const flag_spec *s = specs; s->name; s++) {
        const char *arg = s->kind == FLAG_BOOL       ? ""
                          : s->kind == FLAG_INT      ? " N"
                          : s->kind == FLAG_DOUBLE   ? " X"
                          : s->kind == FLAG_DURATION ? " DUR"
                          : s->kind == FLAG_TIME     ? " TIME"
                                                     : " VAL";
        char left[64];
        snprintf(left, sizeof left, "--%s%s", s->name, arg);
        fprintf(f, "  %-24s %s\n", left, s->help ? s->help : "");
    }
}
