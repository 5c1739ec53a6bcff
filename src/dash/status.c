/* status.c — fetches `ecom stream --listen`'s GET /status with libcurl, bounded in time and size
 * (a plain fetch, or the long poll ?after=N that waits for the stream's next publish). */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dash/dash.h"

#define STATUS_MAX_BYTES (1u << 20)

typedef struct {
    buf_t *out;
    bool too_big;
    uint64_t version;   /* X-Ecom-Status-Version, 0 if absent */
} sink_t;

/* Picks X-Ecom-Status-Version out of the answer's headers. */
static size_t status_header(char *p, size_t size, size_t nmemb, void *ctx) {
    sink_t *s = ctx;
    size_t n = size * nmemb;
    static const char name[] = "x-ecom-status-version:";
    if (n > sizeof name && !strncasecmp(p, name, sizeof name - 1)) {
        char v[32];
        size_t k = n - (sizeof name - 1) < sizeof v - 1 ? n - (sizeof name - 1) : sizeof v - 1;
        memcpy(v, p + sizeof name - 1, k);
        v[k] = '\0';
        s->version = strtoull(v, NULL, 10);
    }
    return n;
}

static size_t status_write(char *p, size_t size, size_t nmemb, void *ctx) {
    sink_t *s = ctx;
    size_t n = size * nmemb;
    if (s->out->len + n > STATUS_MAX_BYTES) {
        s->too_big = true;
        return 0;   /* makes curl stop with CURLE_WRITE_ERROR */
    }
    return buf_append(s->out, p, n) ? 0 : n;
}

int dash_status_fetch(const char *base_url, buf_t *out, char *err, size_t errlen) {
    uint64_t v;
    return dash_status_fetch_after(base_url, 0, 0, NULL, &v, out, err, errlen);
}

/* libcurl's progress callback: a non-zero return aborts the transfer. */
static int status_cancelled(void *ctx, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un) {
    (void)dt, (void)dn, (void)ut, (void)un;
    const atomic_bool *cancel = ctx;
    return cancel && atomic_load(cancel);
}

int dash_status_fetch_after(const char *base_url, uint64_t after, long wait_ms, const atomic_bool *cancel,
                            uint64_t *version, buf_t *out, char *err, size_t errlen) {
    *version = 0;
    if (strncmp(base_url, "http://", 7) && strncmp(base_url, "https://", 8)) {
        snprintf(err, errlen, "stream URL must start with http:// or https://");
        return -1;
    }
    buf_t url = {0};
    size_t bl = strlen(base_url);
    bool slash = bl && base_url[bl - 1] == '/';
    int bad = after ? buf_printf(&url, "%s%sstatus?after=%llu", base_url, slash ? "" : "/", (unsigned long long)after)
                    : buf_printf(&url, "%s%sstatus", base_url, slash ? "" : "/");
    if (bad) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    CURL *c = curl_easy_init();
    if (!c) {
        buf_free(&url);
        snprintf(err, errlen, "curl_easy_init failed");
        return -1;
    }
    sink_t sink = {out, false, 0};
    char cerr[CURL_ERROR_SIZE] = "";
    long code = 0;
    curl_easy_setopt(c, CURLOPT_URL, url.data);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, status_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, status_cancelled);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, (void *)cancel);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, cancel ? 0L : 1L);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, status_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &sink);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 500L + (after ? wait_ms : 0));
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 300L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(c);
    buf_free(&url);
    if (rc != CURLE_OK) {
        snprintf(err, errlen, "stream status: %s", sink.too_big ? "answer over 1 MiB" : cerr[0] ? cerr : curl_easy_strerror(rc));
        return -1;
    }
    if (code != 200) {
        snprintf(err, errlen, "stream status: HTTP %ld", code);
        return -1;
    }
    size_t i = 0;
    while (i < out->len && strchr(" \t\r\n", out->data[i])) i++;
    if (i == out->len || out->data[i] != '{' || !dash_json_valid(out->data, out->len)) {
        snprintf(err, errlen, "stream status: not a JSON object");
        return -1;
    }
    *version = sink.version;
    return 0;
}
