/*
 * util — small shared helpers: growable buffers, time, durations, command-line flags
 * (with the config file of util/config.h).
 *
 * Contract
 *   - No global mutable state. Every function is reentrant.
 *   - Errors are return codes (0 = ok, -1 = error); messages go into a caller's buffer.
 *   - Ownership: a buf_t owns its data; buf_free() releases it. Nothing else here allocates
 *     memory that the caller must free, unless its comment says so.
 */
#ifndef ECOM_UTIL_H
#define ECOM_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdbool.h>

#include "util/config.h"

/* ---- growable byte buffer ---- */
typedef struct {
    char *data;   /* owned; NUL-terminated whenever len < cap */
    size_t len;
    size_t cap;
} buf_t;

int  buf_reserve(buf_t *b, size_t extra);          /* ensure room for extra more bytes (+1 for NUL) */
int  buf_append(buf_t *b, const void *p, size_t n);
int  buf_append_str(buf_t *b, const char *s);
int  buf_append_char(buf_t *b, char c);
int  buf_printf(buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_reset(buf_t *b);                          /* len = 0, keeps memory */
void buf_free(buf_t *b);                           /* releases memory, b becomes empty */

/* ---- time: all instants are int64 microseconds since the Unix epoch, UTC ---- */
#define TIME_US_PER_MS  1000LL
#define TIME_US_PER_SEC 1000000LL

/* Parses RFC 3339 ("2026-11-25T09:30:00.123Z", "2026-11-25T09:30:00+02:00", also a bare
 * date "2026-11-25" as midnight UTC). Returns 0 and sets *us, or -1 if malformed. */
int time_parse_rfc3339(const char *s, size_t len, int64_t *us);

/* Formats as "YYYY-MM-DDTHH:MM:SS.mmmZ" (24 chars + NUL). out must hold 25 bytes. */
void time_format_ms(int64_t us, char out[25]);

/* Formats as "YYYY-MM-DDTHH:MM:SS.uuuuuuZ" (27 chars + NUL). out must hold 28 bytes. */
void time_format_us(int64_t us, char out[28]);

/* Formats the UTC date of us as "YYYY-MM-DD". out must hold 11 bytes. */
void time_format_date(int64_t us, char out[11]);

/* Days since epoch <-> civil date (proleptic Gregorian). */
int64_t time_days_from_civil(int y, int m, int d);
void    time_civil_from_days(int64_t days, int *y, int *m, int *d);

/* Current wall clock and a monotonic clock, in microseconds. */
int64_t time_now_us(void);
int64_t time_mono_us(void);

/* Parses a duration "250ms", "30s", "2m", "1h", "1d", or a bare number of seconds.
 * Returns 0 and sets *us, or -1. */
int duration_parse(const char *s, int64_t *us);

/* ---- command-line flags ----
 * A command declares a table of flag_spec and calls flags_parse(). Both "--name value" and
 * "--name=value" are accepted. Values are written straight into the destinations.
 *
 * Every command also gets, for free:
 *   --config FILE   (or $ECOM_CONFIG) a config file (util/config.h) whose keys are flag names:
 *                   `commit-interval = 5s`. Keys under `[CMD]` (or `CMD.name`) are for `ecom CMD`
 *                   only and must be its flags; other keys are used by the commands that have
 *                   such a flag and skipped by the others, so one file serves every command.
 *                   A FLAG_KV flag named N collects the file's `N.name = value` keys; any other
 *                   dotted key `a.b` is the flag `a-b` (`[hdfs]` + `user = x` is --hdfs-user x),
 *                   and an unknown `a.*` key is an error for a command with `--a-*` flags.
 *   precedence      command line > environment (FLAG_ENV rows) > `[CMD]` keys > other file keys.
 *                   FLAG_KV lists keep every source in that order, so later items override.
 *   secrets         any value "@/path" is read from that file (config_value_resolve); values of
 *                   secret names (config_is_secret) are shown as "***" in messages. */
typedef enum {
    FLAG_BOOL,      /* bool*;     no value on the command line; in a file or env: true/false/yes/no/on/off/1/0 */
    FLAG_INT,       /* int64_t*;  integer, range-checked against min/max */
    FLAG_DOUBLE,    /* double*;   range-checked against min/max */
    FLAG_STR,       /* const char**; into argv, the environment or the flags_store */
    FLAG_DURATION,  /* int64_t*;  microseconds, see duration_parse */
    FLAG_TIME,      /* int64_t*;  microseconds, RFC 3339 or "now" */
    FLAG_KV,        /* kv_list* (util/config.h); repeatable NAME=VALUE; also the file keys "<name>.NAME" */
    FLAG_ENV,       /* not a flag: dst is the name of an environment variable (a string) that gives
                       the flag `name` a value (for FLAG_KV: "n=v;n=v", see config_split_settings) */
    FLAG_ALIAS,     /* not a flag: "-name" (one letter) is another spelling of the flag whose name
                       is dst (a string), e.g. {"X", FLAG_ALIAS, "kafka"} as in kcat */
} flag_kind;

typedef struct {
    const char *name;   /* without the leading "--" */
    flag_kind kind;
    void *dst;
    const char *help;
    double min, max;    /* for FLAG_INT/FLAG_DOUBLE; both 0 = unchecked */
    bool *seen;         /* optional: set true when the flag is given (by any source) */
} flag_spec;

/* Owns what flags_parse read from the config file, the environment and @files: FLAG_STR values
 * may point in here, so free it only when those values are no longer used. Zero-initialise. */
typedef struct {
    config_file file;
    kv_list owned;
    kv_list kafka;       /* for the commands' FLAG_KV flag "kafka" (any kv_list would do; this one is
                            freed with the store) */
} flags_store;

void flags_store_free(flags_store *st);

/* Result of flags_parse. */
enum { FLAGS_OK = 0, FLAGS_HELP = 1, FLAGS_ERROR = 2 };

/* Parses argv[1..argc-1] (argv[0] is the command name, which selects the file's `[CMD]`
 * section) after applying the config file and the environment (precedence above). Positional
 * arguments are collected into pos[0..*npos-1] (pointers into argv) up to max_pos; more is an
 * error. On FLAGS_ERROR a message is written to err. "-h"/"--help" gives FLAGS_HELP (before any
 * file is read). st must be freed with flags_store_free() whatever the result. */
int flags_parse(const flag_spec *specs, int argc, char **argv, const char **pos, int max_pos, int *npos,
                flags_store *st, char *err, size_t errlen);

/* Prints "usage" then one line per flag to f (never a value). */
void flags_usage(FILE *f, const char *usage, const flag_spec *specs);

/* Parses a whole decimal integer / double with no trailing junk. 0 or -1. */
int parse_int64(const char *s, int64_t *out);
int parse_double(const char *s, double *out);

/* ---- misc ---- */
/* The one error setter of the 0/-1 + caller-buffer convention: formats into err (NUL-terminated,
 * truncated to errlen); does nothing when err is NULL or errlen is 0. */
void err_set(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Writes all of p to fd, retrying short writes and EINTR. 0 or -1 (errno set). */
int write_all(int fd, const void *p, size_t n);

/* Reads a whole file into *out (caller frees with buf_free). 0 or -1 (errno set). */
int file_read_all(const char *path, buf_t *out);

/* 64-bit hash of bytes (FNV-1a then a final mix); stable across runs and machines. */
uint64_t hash64(const void *p, size_t n);

#endif
