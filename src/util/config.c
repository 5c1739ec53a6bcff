/* util/config.c — the `--config` file, setting lists and secrets. See config.h. */
#include "util/config.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/util.h"

static char *str_ndup(const char *s, size_t n) {
    char *d = malloc(n + 1);
    if (!d) return NULL;
    memcpy(d, s, n);
    d[n] = 0;
    return d;
}

int kv_list_push(kv_list *l, const char *s) {
    if (l->n + 2 > l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        char **v = realloc(l->v, cap * sizeof *v);
        if (!v) return -1;
        l->v = v;
        l->cap = cap;
    }
    if (!(l->v[l->n] = strdup(s))) return -1;
    l->v[++l->n] = NULL;
    return 0;
}

int kv_list_push_pair(kv_list *l, const char *name, size_t nlen, const char *value) {
    size_t vlen = strlen(value);
    char *s = malloc(nlen + vlen + 2);
    if (!s) return -1;
    memcpy(s, name, nlen);
    s[nlen] = '=';
    memcpy(s + nlen + 1, value, vlen + 1);
    int rc = kv_list_push(l, s);
    free(s);
    return rc;
}

const char *const *kv_list_items(const kv_list *l) {
    static const char *const empty[] = {NULL};
    return l->n ? (const char *const *)l->v : empty;
}

void kv_list_free(kv_list *l) {
    for (size_t i = 0; i < l->n; i++) free(l->v[i]);
    free(l->v);
    *l = (kv_list){0};
}

void config_free(config_file *c) {
    for (size_t i = 0; i < c->n; i++) {
        free(c->e[i].key);
        free(c->e[i].value);
    }
    free(c->e);
    free(c->path);
    *c = (config_file){0};
}

static void trim(const char **s, const char **e) {
    while (*s < *e && isspace((unsigned char)**s)) (*s)++;
    while (*e > *s && isspace((unsigned char)(*e)[-1])) (*e)--;
}

static int key_char_ok(unsigned char c) {
    return isalnum(c) || c == '.' || c == '_' || c == '-';
}

static int config_add(config_file *c, const char *sect, size_t slen, const char *k, size_t klen,
                      const char *v, size_t vlen, int line) {
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        config_entry *e = realloc(c->e, cap * sizeof *e);
        if (!e) return -1;
        c->e = e;
        c->cap = cap;
    }
    char *key = malloc(slen + 1 + klen + 1);
    char *val = str_ndup(v, vlen);
    if (!key || !val) {
        free(key);
        free(val);
        return -1;
    }
    size_t o = 0;
    if (slen) {
        memcpy(key, sect, slen);
        key[slen] = '.';
        o = slen + 1;
    }
    memcpy(key + o, k, klen);
    key[o + klen] = 0;
    c->e[c->n++] = (config_entry){key, val, line};
    return 0;
}

/* One line, without its newline. *sect and *slen hold the current section, updated by "[name]". */
static int config_line(config_file *c, const char *s, const char *e, int line, const char **sect,
                       size_t *slen, char *err, size_t errlen) {
    trim(&s, &e);
    if (s == e || *s == '#' || *s == ';') return 0;
    if (*s == '[') {
        const char *n = s + 1, *ne = e - 1;
        if (e - s < 2 || *ne != ']') goto bad_section;
        trim(&n, &ne);
        for (const char *p = n; p < ne; p++)
            if (!key_char_ok((unsigned char)*p)) goto bad_section;
        *sect = n;
        *slen = (size_t)(ne - n);
        return 0;
    bad_section:
        snprintf(err, errlen, "%s:%d: bad section header (expected [name])", c->path, line);
        return -1;
    }
    const char *eq = memchr(s, '=', (size_t)(e - s));
    const char *ks = s, *ke = eq ? eq : e;
    trim(&ks, &ke);
    if (!eq || ks == ke) {
        snprintf(err, errlen, "%s:%d: expected 'key = value'", c->path, line);
        return -1;
    }
    for (const char *p = ks; p < ke; p++)
        if (!key_char_ok((unsigned char)*p)) {
            snprintf(err, errlen, "%s:%d: bad character in key '%.*s'", c->path, line, (int)(ke - ks), ks);
            return -1;
        }
    const char *vs = eq + 1, *ve = e;
    trim(&vs, &ve);
    if (config_add(c, *sect, *slen, ks, (size_t)(ke - ks), vs, (size_t)(ve - vs), line)) {
        snprintf(err, errlen, "%s:%d: out of memory", c->path, line);
        return -1;
    }
    return 0;
}

int config_parse(const char *text, size_t len, const char *path, config_file *out, char *err, size_t errlen) {
    *out = (config_file){0};
    if (!(out->path = strdup(path ? path : "config"))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    const char *p = text, *end = text + len, *sect = NULL;
    size_t slen = 0;
    for (int line = 1; p < end; line++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        if (memchr(p, 0, (size_t)(le - p)) || le - p > CONFIG_LINE_MAX) {
            snprintf(err, errlen, "%s:%d: %s", out->path, line,
                     le - p > CONFIG_LINE_MAX ? "line too long" : "NUL byte in line");
            config_free(out);
            return -1;
        }
        if (config_line(out, p, le, line, &sect, &slen, err, errlen)) {
            config_free(out);
            return -1;
        }
        p = nl ? nl + 1 : end;
    }
    return 0;
}

int config_load(const char *path, config_file *out, char *err, size_t errlen) {
    buf_t b = {0};
    if (file_read_all(path, &b)) {
        snprintf(err, errlen, "config file %s: %s", path, strerror(errno));
        return -1;
    }
    int rc = config_parse(b.data ? b.data : "", b.len, path, out, err, errlen);
    buf_free(&b);
    return rc;
}

int config_value_resolve(const char *name, const char *value, char **out, char *err, size_t errlen) {
    *out = NULL;
    if (value[0] != '@') return 0;
    if (value[1] == '@') {
        if (!(*out = strdup(value + 1))) snprintf(err, errlen, "out of memory");
        return *out ? 0 : -1;
    }
    buf_t b = {0};
    if (!value[1] || file_read_all(value + 1, &b)) {
        snprintf(err, errlen, "%s: cannot read the value's file '%s': %s", name, value + 1,
                 value[1] ? strerror(errno) : "no path after @");
        return -1;
    }
    size_t n = b.len;
    if (n && b.data[n - 1] == '\n') n--;
    if (n && b.data[n - 1] == '\r') n--;
    if (n && memchr(b.data, 0, n)) {
        snprintf(err, errlen, "%s: the value's file '%s' holds a NUL byte", name, value + 1);
        buf_free(&b);
        return -1;
    }
    *out = str_ndup(n ? b.data : "", n);
    buf_free(&b);
    if (!*out) snprintf(err, errlen, "out of memory");
    return *out ? 0 : -1;
}

/* Is the ';' at s a separator? Only when a new "name=" setting (or nothing but blanks)
 * follows it; any other ';' belongs to the value. */
static int is_separator(const char *s) {
    if (*s != ';') return 0;
    s++;
    while (*s == ' ') s++;
    const char *p = s;
    while (key_char_ok((unsigned char)*p)) p++;
    return !*s || (p > s && *p == '=');
}

int config_split_settings(const char *s, const char *origin, kv_list *l, char *err, size_t errlen) {
    for (int nth = 1; *s;) {
        const char *e = s;
        while (*e && !is_separator(e)) e++;
        const char *is = s, *ie = e;
        while (is < ie && *is == ' ') is++;
        s = *e ? e + 1 : e;
        if (is == ie) continue;
        const char *eq = memchr(is, '=', (size_t)(ie - is));
        if (!eq || eq == is) {
            /* not echoed: a value typed without its name may be a password */
            snprintf(err, errlen, "%s: setting %d is not name=value", origin, nth);
            return -1;
        }
        char *item = str_ndup(is, (size_t)(ie - is));
        if (!item || kv_list_push(l, item)) {
            free(item);
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        free(item);
        nth++;
    }
    return 0;
}

bool config_is_secret(const char *name, size_t nlen) {
    static const char *const words[] = {"password", "secret", "token", "jaas", "credential", "ssl.key.pem"};
    for (size_t w = 0; w < sizeof words / sizeof *words; w++) {
        size_t wl = strlen(words[w]);
        for (size_t i = 0; i + wl <= nlen; i++)
            if (!strncasecmp(name + i, words[w], wl)) return true;
    }
    return false;
}

const char *config_redact(const char *name, const char *value) {
    return config_is_secret(name, strlen(name)) ? "***" : value;
}
