/* fuzz_dash.c — libFuzzer target for what the dashboard reads from outside (build: make fuzz;
 * see docs/dashboard.md "Fuzzing"): a stream's /status document (dash_prov_parse), any JSON
 * (dash_json_valid, dash_json_member) and a request's query parameters (dash_params_add,
 * dash_params_finish). The first byte picks the reader, the rest is its input.
 *
 * Checked beyond "no crash, no leak": a refused /status says why and leaves no row; accepted
 * rows lie in their metric's catalog shape (window_start < window_end); a JSON member found in
 * a valid document is itself one valid value; accepted parameters satisfy the range's rules
 * (from < to within DASH_MAX_RANGE_US, limit 0..100, last > 0). */
#include <stdlib.h>
#include <string.h>

#include "dash/dash.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_prov(const char *s, size_t n) {
    dash_prov p;
    memset(&p, 0, sizeof p);
    char err[256] = "";
    if (dash_prov_parse(s, n, &p, err, sizeof err)) {
        if (!err[0]) __builtin_trap();
        for (int m = 0; m < METRIC_ID_COUNT; m++)
            if (p.n[m]) __builtin_trap();
    } else {
        for (int m = 0; m < METRIC_ID_COUNT; m++)
            for (size_t i = 0; i < p.n[m]; i++)
                if (p.rows[m][i].ws >= p.rows[m][i].we) __builtin_trap();
    }
    dash_prov_free(&p);
}

static void fuzz_json(const char *s, size_t n) {
    if (!dash_json_valid(s, n)) return;
    const char *v;
    size_t vn;
    static const char *const keys[] = {"schema", "open_windows", "a", ""};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
        if (dash_json_member(s, n, keys[k], &v, &vn) && (v < s || v + vn > s + n || !dash_json_valid(v, vn)))
            __builtin_trap();
}

/* key=value&key=value..., each pair a NUL-terminated copy, as the server hands them over. */
static void fuzz_params(const char *s, size_t n) {
    dash_params p = {0};
    char err[256];
    bool ok = true;
    for (size_t i = 0; ok && i <= n;) {
        size_t j = i;
        while (j < n && s[j] != '&') j++;
        char *pair = malloc(j - i + 1);
        if (!pair) return;
        memcpy(pair, s + i, j - i);
        pair[j - i] = 0;
        char *eq = strchr(pair, '=');
        const char *val = "";
        if (eq) {
            *eq = 0;
            val = eq + 1;
        }
        err[0] = 0;
        ok = dash_params_add(&p, pair, val, err, sizeof err) == 0;
        if (!ok && !err[0]) __builtin_trap();
        free(pair);
        i = j + 1;
    }
    if (!ok || dash_params_finish(&p, err, sizeof err)) return;
    if (p.has_from_to && (p.from_us >= p.to_us || p.to_us - p.from_us > DASH_MAX_RANGE_US)) __builtin_trap();
    if (p.has_last && p.last_us <= 0) __builtin_trap();
    if (p.limit < 0 || p.limit > 100) __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    /* a private copy without a terminator, so that reads past the end are caught by ASan */
    size_t n = size - 1;
    char *s = malloc(n ? n : 1);
    if (!s) return 0;
    memcpy(s, data + 1, n);
    switch (data[0] % 3) {
    case 0: fuzz_prov(s, n); break;
    case 1: fuzz_json(s, n); break;
    default: fuzz_params(s, n); break;
    }
    free(s);
    return 0;
}
