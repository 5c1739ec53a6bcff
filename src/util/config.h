/*
 * config — the configuration file behind `--config FILE`, name=value setting lists, secrets.
 *
 * File format (docs: README.md "Configuration")
 *   - One setting per line: `key = value`. Spaces around the key and the value are dropped;
 *     the value is the rest of the line, taken literally (a '#' inside a value is part of it).
 *   - Blank lines and lines whose first non-blank character is '#' or ';' are comments.
 *   - `[name]` starts a section: the keys below it are read as `name.key` until the next
 *     section. So `[kafka]` + `sasl.username = u` is `kafka.sasl.username = u`, and `[stream]`
 *     + `out = /lake` is `stream.out = /lake` (a key for `ecom stream` only). `[]` ends a section.
 *   - A key may appear more than once; later lines win where one value is kept.
 *   - The file is UTF-8 or ASCII text; a NUL byte or a line over CONFIG_LINE_MAX is an error.
 *
 * Secrets: a value "@/path" (any value given in the file, a flag, -X or the environment) is
 *   replaced by the contents of the file at /path, with one trailing "\n" (or "\r\n") removed;
 *   every other byte is kept, so a password may hold ';', '#', '=', quotes or spaces. "@@x"
 *   stands for the literal "@x". config_is_secret() decides which names are secrets; their
 *   values are shown as "***" wherever ecom prints a setting (config_redact()).
 *
 * Contract
 *   - 0 = ok, -1 = error with a message in the caller's buffer. Errors about a file line read
 *     "PATH:LINE: ...". Messages never contain the value of a secret.
 *   - Ownership: a config_file and a kv_list own all their strings; *_free() releases them and
 *     leaves an empty object (freeing twice is fine). No global state.
 */
#ifndef ECOM_CONFIG_H
#define ECOM_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#define CONFIG_LINE_MAX 8192

/* ---- a list of owned strings; as settings, each is "name=value" ---- */
typedef struct {
    char **v;      /* v[0..n-1], then NULL (once anything was added) */
    size_t n, cap;
} kv_list;

/* Appends a copy of s. 0 or -1 (out of memory). */
int kv_list_push(kv_list *l, const char *s);
/* Appends "name=value" (name given with its length). 0 or -1 (out of memory). */
int kv_list_push_pair(kv_list *l, const char *name, size_t nlen, const char *value);
/* The items as a NULL-terminated array; never NULL (an empty list gives an empty array).
 * Valid until the list changes. */
const char *const *kv_list_items(const kv_list *l);
void kv_list_free(kv_list *l);

/* ---- the file ---- */
typedef struct {
    char *key;     /* with its section prefix: "kafka.sasl.username", "stream.out", "out" */
    char *value;   /* as written ("@/path" is not resolved here) */
    int line;      /* 1-based */
} config_entry;

typedef struct {
    char *path;    /* as given, for messages */
    config_entry *e;
    size_t n, cap;
} config_file;

/* Parses text (len bytes, need not be NUL-terminated); path is used in messages. */
int config_parse(const char *text, size_t len, const char *path, config_file *out, char *err, size_t errlen);
/* Reads and parses the file at path. */
int config_load(const char *path, config_file *out, char *err, size_t errlen);
void config_free(config_file *c);

/* ---- values ---- */
/* Resolves "@/path" and "@@": sets *out to NULL when value is to be used as it is, else to a
 * malloc'd string the caller frees (the file's bytes; "@@x" gives "@x"). The file must not
 * hold a NUL byte. name is only used in messages. */
int config_value_resolve(const char *name, const char *value, char **out, char *err, size_t errlen);

/* Splits "name=value;name=value" (the $ECOM_KAFKA_CONF form) into l. A ';' separates two
 * settings only when what follows it is "name=" (a property name: letters, digits, '.', '_',
 * '-'), so a value may contain ';' ("sasl.password=pa;ss"), except just before such a name
 * (use "@/path" for those). Empty items are skipped; an item without '=' is an error (the
 * message gives its position, not its text). */
int config_split_settings(const char *s, const char *origin, kv_list *l, char *err, size_t errlen);

/* ---- secrets ---- */
/* True for setting or flag names that carry a secret: any name containing "password",
 * "secret", "token", "jaas" or "credential", and "ssl.key.pem" (case-insensitive). */
bool config_is_secret(const char *name, size_t nlen);
/* value, or "***" when name is a secret: the one function every printer of a setting uses. */
const char *config_redact(const char *name, const char *value);

#endif
