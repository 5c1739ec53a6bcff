/* util/flags.c — declarative command-line flags. See util.h. */
#include "util/util.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

/* Real flags only: FLAG_ENV and FLAG_ALIAS rows are declarations, never matched by name. */
static const flag_spec *flag_find(const flag_spec *specs, const char *name, size_t len) {
    for (const flag_spec *f = specs; f->name; f++)
        if (f->kind != FLAG_ENV && f->kind != FLAG_ALIAS && strlen(f->name) == len && !strncmp(f->name, name, len))
            return f;
    return NULL;
}

static int range_ok(const flag_spec *f, double v) {
    if (f->min == 0 && f->max == 0) return 1;
    return v >= f->min && v <= f->max;
}

static int parse_bool(const char *v, bool *out) {
    static const char *const yes[] = {"true", "yes", "on", "1"}, *const no[] = {"false", "no", "off", "0"};
    for (int i = 0; i < 4; i++) {
        if (!strcasecmp(v, yes[i])) return *out = true, 0;
        if (!strcasecmp(v, no[i])) return *out = false, 0;
    }
    return -1;
}

/* Keeps s alive in the store; returns the kept copy or NULL (out of memory). */
static const char *store_keep(flags_store *st, const char *s) {
    if (kv_list_push(&st->owned, s)) return NULL;
    return st->owned.v[st->owned.n - 1];
}

/* Appends one NAME=VALUE item to a FLAG_KV list, reading an "@/path" value. */
static int kv_add(const flag_spec *f, const char *item, char *err, size_t errlen) {
    const char *eq = strchr(item, '=');
    if (!eq || eq == item) { /* the item is not echoed: it may be a secret typed without its name */
        snprintf(err, errlen, "--%s needs NAME=VALUE (%s)", f->name, eq ? "the name is empty" : "no '=' given");
        return -1;
    }
    char name[256], *val = NULL;
    snprintf(name, sizeof name, "%.*s", (int)(eq - item), item);
    if (config_value_resolve(name, eq + 1, &val, err, errlen)) return -1;
    int rc = kv_list_push_pair(f->dst, item, (size_t)(eq - item), val ? val : eq + 1);
    free(val);
    if (rc) snprintf(err, errlen, "out of memory");
    return rc;
}

/* Stores one value (from argv, the environment or the file); boolean values only come from the
 * latter two. Returns 0 or writes a message and returns -1. */
static int flag_set(const flag_spec *f, const char *val, flags_store *st, char *err, size_t errlen) {
    int64_t i;
    double d;
    char *res = NULL;
    if (f->kind == FLAG_KV) return kv_add(f, val, err, errlen);
    if (val && config_value_resolve(f->name, val, &res, err, errlen)) return -1;
    if (res) {
        const char *kept = store_keep(st, res);
        free(res);
        if (!kept) return snprintf(err, errlen, "out of memory"), -1;
        val = kept;
    }
    switch (f->kind) {
    case FLAG_BOOL:
        if (!val) return *(bool *)f->dst = true, 0;
        if (parse_bool(val, f->dst)) break;
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
    case FLAG_KV:
    case FLAG_ENV:
    case FLAG_ALIAS:
        break;
    }
    const char *shown = config_redact(f->name, val);
    if ((f->kind == FLAG_INT || f->kind == FLAG_DOUBLE) && !(f->min == 0 && f->max == 0))
        snprintf(err, errlen, "invalid value '%s' for --%s (expected a number in [%g, %g])", shown, f->name,
                 f->min, f->max);
    else
        snprintf(err, errlen, "invalid value '%s' for --%s (%s)", shown, f->name,
                 f->kind == FLAG_DURATION ? "expected a duration such as 500ms, 30s, 2m, 1h"
                 : f->kind == FLAG_TIME   ? "expected RFC 3339 time such as 2026-11-25T09:30:00Z, or now"
                 : f->kind == FLAG_BOOL   ? "expected true or false"
                                          : "expected a number");
    return -1;
}

static int flag_given(const flag_spec *f, const char *val, flags_store *st, char *err, size_t errlen) {
    if (flag_set(f, val, st, err, errlen)) return -1;
    if (f->seen) *f->seen = true;
    return 0;
}

/* "a.b.c" as the flag "a-b-c" (so `[hdfs]` + `user = x` is --hdfs-user x), or NULL. */
static const flag_spec *flag_find_dotted(const flag_spec *specs, const char *key) {
    char name[128];
    size_t n = strlen(key);
    if (n >= sizeof name) return NULL;
    for (size_t i = 0; i <= n; i++) name[i] = key[i] == '.' ? '-' : key[i];
    const flag_spec *f = flag_find(specs, name, n);
    return f && f->kind != FLAG_KV ? f : NULL;
}

/* Does the command have a flag "<prefix>-..."? Then the file's "<prefix>.*" keys are its own. */
static bool flag_family(const flag_spec *specs, const char *prefix, size_t n) {
    for (const flag_spec *f = specs; f->name; f++)
        if (f->kind != FLAG_ENV && f->kind != FLAG_ALIAS && !strncmp(f->name, prefix, n) && f->name[n] == '-')
            return true;
    return false;
}

/* One file key for this command: "N.rest" feeds the FLAG_KV flag N, else it is the flag
 * "N-rest"; a plain name sets that flag. A key this command lacks is an error when it came
 * from [CMD] (strict) or names a family of its flags ("hdfs.x" for a command with --hdfs-*),
 * and is skipped otherwise (it is another command's). */
static int file_key(const flag_spec *specs, const config_entry *e, const char *key, bool strict,
                    flags_store *st, char *err, size_t errlen) {
    char msg[768];
    const char *dot = strchr(key, '.');
    size_t head = dot ? (size_t)(dot - key) : strlen(key);
    const flag_spec *f = flag_find(specs, key, head), *fd = NULL;
    int rc = 0;
    if (f && dot && f->kind == FLAG_KV) {
        if (!dot[1]) goto unknown;
        char *item = malloc(strlen(dot + 1) + strlen(e->value) + 2);
        if (!item) return snprintf(err, errlen, "out of memory"), -1;
        sprintf(item, "%s=%s", dot + 1, e->value);
        rc = flag_given(f, item, st, msg, sizeof msg);
        free(item);
    } else if (f && !dot && f->kind != FLAG_KV) {
        rc = flag_given(f, e->value, st, msg, sizeof msg);
    } else if (dot && (fd = flag_find_dotted(specs, key))) {
        rc = flag_given(fd, e->value, st, msg, sizeof msg);
    } else if (strict || (f && !dot) || (dot && flag_family(specs, key, head))) {
        goto unknown;
    }
    if (rc) snprintf(err, errlen, "%s:%d: %s", st->file.path, e->line, msg);
    return rc;
unknown:
    snprintf(err, errlen, "%s:%d: unknown key '%s'%s", st->file.path, e->line, e->key,
             f && f->kind == FLAG_KV ? " (expected NAME.property = value)" : " for this command");
    return -1;
}

/* The file's keys: first the common ones, then [cmd]'s, so the section wins. Keys of other
 * sections ([kafka] aside, which is the FLAG_KV list "kafka") belong to other commands. */
static int flags_apply_file(const flag_spec *specs, const char *cmd, flags_store *st, char *err, size_t errlen) {
    size_t cl = strlen(cmd);
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < st->file.n; i++) {
            const config_entry *e = &st->file.e[i];
            bool mine = !strncmp(e->key, cmd, cl) && e->key[cl] == '.';
            if (mine != (pass == 1)) continue;
            if (file_key(specs, e, mine ? e->key + cl + 1 : e->key, mine, st, err, errlen)) return -1;
        }
    }
    return 0;
}

/* FLAG_ENV rows: the environment overrides the file. */
static int flags_apply_env(const flag_spec *specs, flags_store *st, char *err, size_t errlen) {
    for (const flag_spec *r = specs; r->name; r++) {
        if (r->kind != FLAG_ENV) continue;
        const char *var = r->dst, *v = getenv(var);
        const flag_spec *f = flag_find(specs, r->name, strlen(r->name));
        if (!v || !*v || !f) continue;
        char msg[768], origin[128];
        int rc = 0;
        snprintf(origin, sizeof origin, "$%s", var);
        if (f->kind == FLAG_KV) {
            kv_list items = {0};
            if (config_split_settings(v, origin, &items, err, errlen)) {
                kv_list_free(&items);
                return -1;
            }
            for (size_t i = 0; !rc && i < items.n; i++) rc = flag_given(f, items.v[i], st, msg, sizeof msg);
            kv_list_free(&items);
        } else {
            const char *kept = store_keep(st, v);
            rc = kept ? flag_given(f, kept, st, msg, sizeof msg) : (snprintf(msg, sizeof msg, "out of memory"), -1);
        }
        if (rc) {
            snprintf(err, errlen, "%s: %s", origin, msg);
            return -1;
        }
    }
    return 0;
}

/* Finds --config (argv, else $ECOM_CONFIG) and -h/--help before anything is applied.
 * Returns 1 for help, 0 or -1. */
static int flags_prescan(int argc, char **argv, const char **cfg, char *err, size_t errlen) {
    *cfg = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--")) break;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) return 1;
        const char *v = !strncmp(a, "--config=", 9) ? a + 9 : NULL;
        if (!strcmp(a, "--config")) {
            if (i + 1 >= argc) return snprintf(err, errlen, "flag --config needs a value"), -1;
            v = argv[++i];
        }
        if (!v) continue;
        if (*cfg) return snprintf(err, errlen, "--config given twice"), -1;
        *cfg = v;
    }
    if (!*cfg && getenv("ECOM_CONFIG") && *getenv("ECOM_CONFIG")) *cfg = getenv("ECOM_CONFIG");
    return 0;
}

/* "-X value" / "-Xvalue" for a FLAG_ALIAS row X. */
static const flag_spec *flag_alias(const flag_spec *specs, char c) {
    for (const flag_spec *r = specs; r->name; r++)
        if (r->kind == FLAG_ALIAS && r->name[0] == c && !r->name[1])
            return flag_find(specs, r->dst, strlen(r->dst));
    return NULL;
}

/* The command line, last: it overrides the file and the environment. */
static int flags_apply_argv(const flag_spec *specs, int argc, char **argv, const char **pos, int max_pos,
                            int *npos, flags_store *st, char *err, size_t errlen) {
    int np = 0;
    bool only_pos = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (only_pos || a[0] != '-' || !strcmp(a, "-")) {
            if (np >= max_pos) return snprintf(err, errlen, "unexpected argument '%s'", a), -1;
            pos[np++] = a;
            continue;
        }
        if (!strcmp(a, "--")) { only_pos = true; continue; }
        const flag_spec *f;
        const char *val = NULL;
        size_t nlen;
        if (a[1] != '-') {
            if (!(f = flag_alias(specs, a[1])))
                return snprintf(err, errlen, "unknown flag '%s' (flags are spelled --name)", a), -1;
            if (a[2]) val = a + 2;
            else if (i + 1 < argc) val = argv[++i];
            else return snprintf(err, errlen, "flag -%c needs a value", a[1]), -1;
            if (flag_given(f, val, st, err, errlen)) return -1;
            continue;
        }
        const char *name = a + 2, *eq = strchr(name, '=');
        nlen = eq ? (size_t)(eq - name) : strlen(name);
        if (nlen == 6 && !strncmp(name, "config", 6)) { /* read by flags_prescan */
            i += !eq;
            continue;
        }
        if (!(f = flag_find(specs, name, nlen)))
            return snprintf(err, errlen, "unknown flag '--%.*s'", (int)nlen, name), -1;
        if (f->kind == FLAG_BOOL) {
            if (eq) return snprintf(err, errlen, "flag --%s takes no value", f->name), -1;
        } else if (eq) {
            val = eq + 1;
        } else if (i + 1 < argc) {
            val = argv[++i];
        } else {
            return snprintf(err, errlen, "flag --%s needs a value", f->name), -1;
        }
        if (flag_given(f, val, st, err, errlen)) return -1;
    }
    if (npos) *npos = np;
    return 0;
}

int flags_parse(const flag_spec *specs, int argc, char **argv, const char **pos, int max_pos, int *npos,
                flags_store *st, char *err, size_t errlen) {
    const char *cfg;
    int h = flags_prescan(argc, argv, &cfg, err, errlen);
    if (h) return h > 0 ? FLAGS_HELP : FLAGS_ERROR;
    if (cfg && config_load(cfg, &st->file, err, errlen)) return FLAGS_ERROR;
    const char *cmd = argc > 0 && argv[0] ? argv[0] : "";
    if (cfg && flags_apply_file(specs, cmd, st, err, errlen)) return FLAGS_ERROR;
    if (flags_apply_env(specs, st, err, errlen)) return FLAGS_ERROR;
    if (flags_apply_argv(specs, argc, argv, pos, max_pos, npos, st, err, errlen)) return FLAGS_ERROR;
    return FLAGS_OK;
}

void flags_store_free(flags_store *st) {
    config_free(&st->file);
    kv_list_free(&st->owned);
    kv_list_free(&st->kafka);
}

/* The usage line of one flag: "--name ARG", with its one-letter alias and its variable. */
static void usage_line(FILE *f, const flag_spec *specs, const flag_spec *s) {
    const char *arg = s->kind == FLAG_BOOL       ? ""
                      : s->kind == FLAG_INT      ? " N"
                      : s->kind == FLAG_DOUBLE   ? " X"
                      : s->kind == FLAG_DURATION ? " DUR"
                      : s->kind == FLAG_TIME     ? " TIME"
                      : s->kind == FLAG_KV       ? " NAME=VAL"
                                                 : " VAL";
    char left[64], alias[8] = "";
    for (const flag_spec *r = specs; r->name; r++)
        if (r->kind == FLAG_ALIAS && !strcmp(r->dst, s->name)) snprintf(alias, sizeof alias, "-%s, ", r->name);
    snprintf(left, sizeof left, "%s--%s%s", alias, s->name, arg);
    fprintf(f, "  %-24s %s", left, s->help ? s->help : "");
    for (const flag_spec *r = specs; r->name; r++)
        if (r->kind == FLAG_ENV && !strcmp(r->name, s->name)) fprintf(f, " [env %s]", (const char *)r->dst);
    fputc('\n', f);
}

void flags_usage(FILE *f, const char *usage, const flag_spec *specs) {
    fprintf(f, "%s\n", usage);
    fprintf(f, "\nFlags:\n");
    for (const flag_spec *s = specs; s && s->name; s++)
        if (s->kind != FLAG_ENV && s->kind != FLAG_ALIAS) usage_line(f, specs, s);
    fprintf(f, "  %-24s %s\n", "--config FILE",
            "read flags from FILE (key = value; [env ECOM_CONFIG]); any value may be @/path/to/file");
}
