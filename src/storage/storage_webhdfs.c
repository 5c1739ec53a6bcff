/*
 * storage_webhdfs.c — the WebHDFS / HttpFS backend of the storage interface (see webhdfs.h for
 * the contract and docs/hdfs.md for the design: one CREATE per file at close, atomic
 * RENAME with OVERWRITE, bounded retries).
 *
 * Every request goes through one CURL easy handle owned by the webhdfs object: curl_easy_reset()
 * between requests keeps its connection cache, so the NameNode and DataNode connections are
 * reused (HTTP keep-alive) instead of a TCP handshake per call.
 */
#include <curl/curl.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "storage/storage_internal.h"
#include "storage/webhdfs.h"
#include "storage/webhdfs_krb5.h"
#include "util/util.h"

#define WH_DEFAULT_RETRIES 4
#define WH_DEFAULT_BACKOFF_MS 200
#define WH_MAX_BACKOFF_MS 2000
#define WH_DEFAULT_CONNECT_MS 5000
#define WH_DEFAULT_IO_MS 30000
#define WH_DEFAULT_SPILL ((size_t)8 << 20)
#define WH_MAX_ANSWER ((size_t)256 << 20)   /* a LISTSTATUS of ~1M entries; more is refused */
#define WH_READ_WINDOW ((size_t)64 << 10)   /* a small read fetches this much around it */
#define WH_READ_WINDOW_US 1000000           /* and serves the next reads of that file from it this long */

struct webhdfs {
    CURL *curl;
    char **origins;      /* the NameNodes' "http(s)://host:port": one, or the HA list */
    size_t n_origins, cur;
    const char *origin;  /* origins[cur]: where requests go now */
    unsigned hop_streak; /* failovers since the last answer that was not a failover */
    bool hop_free;       /* the next backoff is skipped (a first move to another NameNode) */
    char *ca_file;       /* CURLOPT_CAINFO; NULL: the system's CAs */
    wh_krb *krb;         /* negotiate: the ticket SPNEGO presents */
    char *root;          /* absolute HDFS path of the lake root without trailing '/'; "" = "/" */
    char *base;          /* origin + "/webhdfs/v1" + root, for messages */
    char *user;          /* NULL: send no user.name */
    bool httpfs, negotiate;
    bool trace;          /* $ECOM_WEBHDFS_TRACE set: one stderr line per HTTP request */
    int retries;
    long backoff_ms, connect_ms, io_ms;
    size_t spill_bytes;
    webhdfs_stats st;
    char curl_err[CURL_ERROR_SIZE];
    /* The read window (see webhdfs_read): bytes [ra_off, ra_off + ra_len) of ra_path, fetched
     * at ra_us; ra_eof when the file ends there. ra_path NULL: empty. */
    char *ra_path;
    unsigned char *ra_buf;
    uint64_t ra_off;
    size_t ra_len;
    bool ra_eof;
    int64_t ra_us;
};

struct webhdfs_file {
    webhdfs *w;
    char *path;          /* relative path */
    buf_t mem;           /* the file while it is small */
    FILE *spool;         /* the file once it outgrew spill_bytes (unlinked temp file) */
    uint64_t size;
    bool failed;
    char err[512];       /* the first write error, reported again by close */
};

/* ---------------------------------------------------------------- small helpers ---- */

static int wh_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int wh_err(char *err, size_t errlen, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    if (err && errlen) vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

bool webhdfs_is_uri(const char *root) {
    static const char *const schemes[] = {"hdfs://", "webhdfs://", "swebhdfs://", "httpfs://"};
    for (size_t i = 0; root && i < sizeof schemes / sizeof schemes[0]; i++)
        if (!strncmp(root, schemes[i], strlen(schemes[i]))) return true;
    return false;
}

/* A relative path as storage.h defines it: no leading '/', no empty, "." or ".." component.
 * "" (the root) only where allow_root. */
static bool wh_path_ok(const char *p, bool allow_root) {
    if (!p) return false;
    if (!*p) return allow_root;
    const char *s = p;
    for (;;) {
        const char *e = strchr(s, '/');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.')) return false;
        if (!e) return true;
        s = e + 1;
    }
}

/* Percent-encodes s for a URL path (keep_slash) or a query value. */
static int wh_enc(buf_t *b, const char *s, bool keep_slash) {
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                     c == '-' || c == '.' || c == '_' || c == '~' || (keep_slash && c == '/');
        if (plain) {
            if (buf_append_char(b, (char)c)) return -1;
        } else {
            char t[3] = {'%', hex[c >> 4], hex[c & 15]};
            if (buf_append(b, t, 3)) return -1;
        }
    }
    return 0;
}

/* The absolute HDFS path of rel under the root (caller frees). */
static char *wh_abs(const webhdfs *w, const char *rel) {
    buf_t b = {0};
    if (buf_append_str(&b, w->root) || (*rel && buf_printf(&b, "/%s", rel)) || (!b.len && buf_append_char(&b, '/'))) {
        buf_free(&b);
        return NULL;
    }
    return b.data;
}

/* Builds ORIGIN/webhdfs/v1/ABS?op=OP[&user.name=U][&extra] into url. */
static int wh_url(const webhdfs *w, buf_t *url, const char *abs, const char *op, const char *extra) {
    buf_reset(url);
    if (buf_printf(url, "%s/webhdfs/v1", w->origin) || wh_enc(url, abs, true) || buf_printf(url, "?op=%s", op))
        return -1;
    if (w->user && !w->negotiate && (buf_append_str(url, "&user.name=") || wh_enc(url, w->user, false))) return -1;
    if (extra && *extra && buf_printf(url, "&%s", extra)) return -1;
    return 0;
}

static void wh_sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) && errno == EINTR) {}
}

/* Forgets the read window. Every operation but a read drops it: a change made through this
 * client may have replaced the file, and a stat or a listing starts a new look at the lake (a
 * reader that re-checks a file another process may have replaced, e.g. a commit record, reads
 * fresh bytes). */
static void wh_ra_drop(webhdfs *w) {
    free(w->ra_path);
    w->ra_path = NULL;
}

/* ---------------------------------------------------------------- one HTTP request ---- */

typedef struct {
    webhdfs *w;
    const char *method;      /* "GET", "PUT", "DELETE" */
    const char *url;
    bool upload;             /* PUT with a body (possibly empty) */
    const char *body;        /* memory body, or */
    FILE *body_file;         /* spooled body */
    uint64_t body_len, body_pos;
    bool octet;              /* Content-Type: application/octet-stream */
    bool follow;             /* follow the NameNode's redirect (GET OPEN) */
    char *dst;               /* OPEN: bytes of a 2xx answer go here (up to dst_cap) */
    size_t dst_cap, dst_len;
    bool dst_overflow;
    buf_t answer;            /* everything else: JSON answers and error bodies */
    long status;
    CURLcode cc;
    char *redirect;          /* malloc'ed Location of a 3xx not followed */
} wh_req;

static size_t wh_on_read(char *out, size_t size, size_t nitems, void *ud) {
    wh_req *r = ud;
    size_t room = size * nitems, left = (size_t)(r->body_len - r->body_pos), n = room < left ? room : left;
    if (!n) return 0;
    if (r->body_file) {
        n = fread(out, 1, n, r->body_file);
        if (n == 0) return CURL_READFUNC_ABORT;   /* the spool shrank or failed: abort, not hang */
    } else {
        memcpy(out, r->body + r->body_pos, n);
    }
    r->body_pos += n;
    return n;
}

/* curl rewinds the body when it must send it again (an authentication round, a redirect). */
static int wh_on_seek(void *ud, curl_off_t off, int origin) {
    wh_req *r = ud;
    if (origin != SEEK_SET || off < 0 || (uint64_t)off > r->body_len) return CURL_SEEKFUNC_CANTSEEK;
    if (r->body_file && fseeko(r->body_file, (off_t)off, SEEK_SET)) return CURL_SEEKFUNC_FAIL;
    r->body_pos = (uint64_t)off;
    return CURL_SEEKFUNC_OK;
}

static size_t wh_on_write(char *p, size_t size, size_t nmemb, void *ud) {
    wh_req *r = ud;
    size_t n = size * nmemb;
    long code = 0;
    curl_easy_getinfo(r->w->curl, CURLINFO_RESPONSE_CODE, &code);
    if (r->dst && code >= 200 && code < 300) {
        size_t room = r->dst_cap - r->dst_len, k = n < room ? n : room;
        memcpy(r->dst + r->dst_len, p, k);
        r->dst_len += k;
        if (k < n) r->dst_overflow = true;   /* server sent more than asked: ignore the excess */
        return n;
    }
    if (r->answer.len + n > WH_MAX_ANSWER) return 0;   /* CURLE_WRITE_ERROR */
    return buf_append(&r->answer, p, n) ? 0 : n;
}

/* url for a message or the trace, into out: without user.name, and with the value of a
 * delegation token (a secret: whoever holds it acts as the user; the NameNode puts it in the
 * DataNode redirects of a Kerberized cluster) shown as "***". */
static void wh_url_shown(const char *url, char *out, size_t outlen) {
    size_t o = 0;
    for (const char *p = url; *p && o + 1 < outlen;) {
        bool at_param = p > url && (p[-1] == '&' || p[-1] == '?');
        if (at_param && !strncmp(p, "user.name=", 10)) {
            p += strcspn(p, "&");
            if (*p == '&') p++;
            if (o && (out[o - 1] == '&')) o--;
            continue;
        }
        if (at_param && !strncmp(p, "delegation=", 11)) {
            o += (size_t)snprintf(out + o, outlen - o, "delegation=***");
            p += strcspn(p, "&");
            continue;
        }
        out[o++] = *p++;
    }
    if (o >= outlen) o = outlen - 1;
    out[o] = 0;
}

/* The request trace ($ECOM_WEBHDFS_TRACE, for counting round trips in bench/ and debugging):
 * "webhdfs: METHOD URL -> STATUS in MS ms" on stderr, the URL shown by wh_url_shown(). */
static void wh_trace(webhdfs *w, const wh_req *r, int64_t t0) {
    long code = 0;
    char u[2048];
    curl_easy_getinfo(w->curl, CURLINFO_RESPONSE_CODE, &code);
    wh_url_shown(r->url, u, sizeof u);
    fprintf(stderr, "webhdfs: %s %s -> %ld%s in %.1f ms\n", r->method, u, code,
            r->cc == CURLE_OK ? "" : " (transport error)", (double)(time_mono_us() - t0) / 1e3);
}

/* Clears what an earlier attempt of r left (answer, redirect, status) and rewinds a spooled
 * body. -1 (r->cc, w->curl_err set) when the spool file cannot be rewound. */
static int wh_req_rewind(wh_req *r) {
    webhdfs *w = r->w;
    w->curl_err[0] = 0;
    r->answer.len = 0;
    r->dst_len = 0;
    r->dst_overflow = false;
    r->status = 0;
    free(r->redirect);
    r->redirect = NULL;
    r->body_pos = 0;
    if (r->body_file && fseeko(r->body_file, 0, SEEK_SET)) {
        r->cc = CURLE_READ_ERROR;
        snprintf(w->curl_err, sizeof w->curl_err, "cannot rewind the spool file: %s", strerror(errno));
        return -1;
    }
    return 0;
}

/* Sets the handle's options for r (after curl_easy_reset): URL, time limits, headers hdr, the
 * answer's sink, TLS, SPNEGO and the body. -1 (r->cc, w->curl_err set) when no Kerberos
 * ticket can be had. */
static int wh_setopts(wh_req *r, struct curl_slist *hdr) {
    webhdfs *w = r->w;
    CURL *c = w->curl;
    long low_s = w->io_ms / 1000 > 0 ? w->io_ms / 1000 : 1;
    curl_easy_setopt(c, CURLOPT_URL, r->url);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, w->curl_err);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, w->connect_ms);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, low_s);
    curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, wh_on_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, r->follow ? 1L : 0L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 3L);
    if (w->ca_file) curl_easy_setopt(c, CURLOPT_CAINFO, w->ca_file);
    if (w->negotiate) {
        /* The ticket first (a keytab login when due), then libcurl's SPNEGO presents it. */
        if (w->krb && (wh_krb_ready(w->krb, w->curl_err, sizeof w->curl_err) ||
                       wh_krb_select(w->krb, w->curl_err, sizeof w->curl_err))) {
            r->cc = CURLE_LOGIN_DENIED;
            return -1;
        }
        curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_NEGOTIATE);
        curl_easy_setopt(c, CURLOPT_USERPWD, ":");
    }
    if (r->upload) {
        curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(c, CURLOPT_READFUNCTION, wh_on_read);
        curl_easy_setopt(c, CURLOPT_READDATA, r);
        curl_easy_setopt(c, CURLOPT_SEEKFUNCTION, wh_on_seek);
        curl_easy_setopt(c, CURLOPT_SEEKDATA, r);
        curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)r->body_len);
    } else if (strcmp(r->method, "GET")) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, r->method);
    }
    return 0;
}

/* Performs r once. Returns 0 if a response arrived (any status), -1 on a transport error
 * (r->cc says which; curl's message is in w->curl_err). */
static int wh_perform(wh_req *r) {
    webhdfs *w = r->w;
    CURL *c = w->curl;
    struct curl_slist *hdr = NULL, *h2;
    curl_easy_reset(c);
    if (wh_req_rewind(r)) return -1;
    /* "Expect:" off: curl would otherwise wait for a 100 Continue before every body. */
    if (!(h2 = curl_slist_append(hdr, "Expect:"))) goto oom;
    hdr = h2;
    if (r->octet) {
        if (!(h2 = curl_slist_append(hdr, "Content-Type: application/octet-stream"))) goto oom;
        hdr = h2;
    }
    if (wh_setopts(r, hdr)) {
        curl_slist_free_all(hdr);
        return -1;
    }
    w->st.requests++;
    int64_t t0 = w->trace ? time_mono_us() : 0;
    r->cc = curl_easy_perform(c);
    if (w->trace) wh_trace(w, r, t0);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(hdr);
    curl_off_t up = 0, down = 0;
    curl_easy_getinfo(c, CURLINFO_SIZE_UPLOAD_T, &up);
    curl_easy_getinfo(c, CURLINFO_SIZE_DOWNLOAD_T, &down);
    w->st.bytes_up += (uint64_t)up;
    w->st.bytes_down += (uint64_t)down;
    if (r->cc != CURLE_OK) {
        if (!w->curl_err[0]) snprintf(w->curl_err, sizeof w->curl_err, "%s", curl_easy_strerror(r->cc));
        return -1;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    char *loc = NULL;
    if (!r->follow && curl_easy_getinfo(c, CURLINFO_REDIRECT_URL, &loc) == CURLE_OK && loc &&
        !(r->redirect = strdup(loc))) {
        r->cc = CURLE_OUT_OF_MEMORY;
        snprintf(w->curl_err, sizeof w->curl_err, "out of memory");
        return -1;
    }
    return 0;
oom:
    curl_slist_free_all(hdr);
    r->cc = CURLE_OUT_OF_MEMORY;
    snprintf(w->curl_err, sizeof w->curl_err, "out of memory");
    return -1;
}

static void wh_req_free(wh_req *r) {
    buf_free(&r->answer);
    free(r->redirect);
    r->redirect = NULL;
}

/* ---------------------------------------------------------------- errors and retries ---- */

enum { WH_OK = 0, WH_RETRY = 1, WH_FAIL = -1 };

/* The RemoteException of an error answer: exc gets the simple class name ("" if none). */
static void wh_remote(const buf_t *answer, char *exc, size_t exclen, char *msg, size_t msglen) {
    wj_doc d;
    char jerr[64];
    exc[0] = msg[0] = 0;
    if (!answer->len || wj_parse(&d, answer->data, answer->len, jerr, sizeof jerr)) return;
    int re = wj_get(&d, 0, "RemoteException");
    const char *e = wj_str(&d, wj_get(&d, re, "exception"));
    const char *m = wj_str(&d, wj_get(&d, re, "message"));
    if (e) snprintf(exc, exclen, "%s", e);
    /* Some servers append the Java stack trace to the message: keep its first line. */
    if (m) snprintf(msg, msglen, "%.*s", (int)strcspn(m, "\r\n"), m);
    wj_free(&d);
}

static bool wh_exc_transient(const char *exc) {
    static const char *const names[] = {"StandbyException", "RetriableException", "SafeModeException",
                                        "ObserverRetryOnActiveException", "ConnectException",
                                        "NoRouteToHostException", "SocketTimeoutException"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(exc, names[i])) return true;
    return false;
}

static bool wh_exc_permanent(const char *exc) {
    static const char *const names[] = {
        "FileNotFoundException", "AccessControlException", "FileAlreadyExistsException",
        "AlreadyBeingCreatedException", /* another client is creating the file right now */
        "ParentNotDirectoryException", "PathIsNotEmptyDirectoryException", "IllegalArgumentException",
        "UnsupportedOperationException", "InvalidPathException", "SecurityException",
        "NSQuotaExceededException", "DSQuotaExceededException", "UnresolvedPathException",
        "PathIsNotDirectoryException"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(exc, names[i])) return true;
    return false;
}

static bool wh_cc_transient(CURLcode cc) {
    switch (cc) {
    case CURLE_COULDNT_CONNECT: case CURLE_COULDNT_RESOLVE_HOST: case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR: case CURLE_RECV_ERROR: case CURLE_GOT_NOTHING: case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR: case CURLE_HTTP2: case CURLE_HTTP2_STREAM:
        return true;
    default:
        return false;
    }
}

/* HA: moves to the next NameNode when the failed request went to the current one (not to a
 * DataNode it redirected to). The first move after an answer costs no backoff: the other
 * NameNode is likely the active one; a full round of moves backs off as usual. */
static bool wh_failover(webhdfs *w, const wh_req *r) {
    size_t ol = strlen(w->origin);
    char *eff = NULL;   /* the URL of the last hop when curl followed a redirect itself */
    const char *u = curl_easy_getinfo(w->curl, CURLINFO_EFFECTIVE_URL, &eff) == CURLE_OK && eff ? eff : r->url;
    if (w->n_origins < 2 || strncmp(u, w->origin, ol) || u[ol] != '/') return false;
    w->cur = (w->cur + 1) % w->n_origins;
    w->origin = w->origins[w->cur];
    w->st.failovers++;
    w->hop_free = ++w->hop_streak % w->n_origins != 0;
    return true;
}

/* A NameNode that is down, or not reachable: another one may answer (HA). */
static bool wh_cc_node_down(CURLcode cc) {
    return cc == CURLE_COULDNT_CONNECT || cc == CURLE_COULDNT_RESOLVE_HOST || cc == CURLE_OPERATION_TIMEDOUT ||
           cc == CURLE_GOT_NOTHING || cc == CURLE_RECV_ERROR || cc == CURLE_SEND_ERROR;
}

/* The message of a transport failure; TLS trust problems name the flag that fixes them. */
static void wh_transport_err(const wh_req *r, const char *op, const char *abs, char *err, size_t errlen) {
    const webhdfs *w = r->w;
    if (r->cc == CURLE_PEER_FAILED_VERIFICATION)
        wh_err(err, errlen, "webhdfs %s %s: the TLS certificate of %s is not trusted (%s): give the CA that signed "
               "it with --hdfs-ca FILE%s", op, abs, w->origin, w->curl_err,
               w->ca_file ? ", or check that this is the right CA file" : "");
    else if (r->cc == CURLE_SSL_CACERT_BADFILE)
        wh_err(err, errlen, "webhdfs %s %s: cannot use --hdfs-ca %s: %s", op, abs, w->ca_file ? w->ca_file : "(none)",
               w->curl_err);
    else if (r->cc == CURLE_LOGIN_DENIED)
        wh_err(err, errlen, "webhdfs %s %s: %s", op, abs, w->curl_err);
    else {
        char u[1024];
        wh_url_shown(r->url, u, sizeof u);
        wh_err(err, errlen, "webhdfs %s %s: %s (%s)", op, abs, w->curl_err, u);
    }
}

/* The message of an HTTP error without a RemoteException. */
static void wh_http_err(const wh_req *r, const char *op, const char *abs, char *err, size_t errlen) {
    const webhdfs *w = r->w;
    const char *body = r->answer.len ? r->answer.data : "(empty answer)";
    if (r->status == 401 && w->negotiate)
        wh_err(err, errlen, "webhdfs %s %s: HTTP 401: the NameNode refused our Kerberos ticket (SPNEGO); check "
               "that its HTTP principal's realm is reachable (klist; KRB5_CONFIG)", op, abs);
    else if (r->status == 401 || (r->status == 403 && strstr(body, "not authenticated")))
        wh_err(err, errlen, "webhdfs %s %s: HTTP %ld unauthenticated: %s (a Kerberos cluster needs "
               "--hdfs-auth kerberos with a ticket from kinit or --hdfs-keytab FILE --hdfs-principal P; else give "
               "a user: --hdfs-user or HADOOP_USER_NAME)", op, abs, r->status,
               r->w->user ? "user.name was refused" : "no user given");
    else
        wh_err(err, errlen, "webhdfs %s %s: HTTP %ld %.200s", op, abs, r->status, body);
}

/* Judges a finished attempt (rc from wh_perform; want = the expected status, 0 for any 2xx).
 * Fills err with "webhdfs OP PATH: ..." and exc with the RemoteException class. The one place
 * that decides retry or fail, and, with HA NameNodes, failover (then always a retry). */
static int wh_judge(wh_req *r, int rc, long want, const char *op, const char *abs, char *exc, size_t exclen,
                    char *err, size_t errlen) {
    webhdfs *w = r->w;
    exc[0] = 0;
    if (rc) {
        wh_transport_err(r, op, abs, err, errlen);
        if (wh_cc_node_down(r->cc) && wh_failover(w, r)) return WH_RETRY;
        return wh_cc_transient(r->cc) ? WH_RETRY : WH_FAIL;
    }
    if (want ? r->status == want : (r->status >= 200 && r->status < 300)) {
        w->hop_streak = 0;
        return WH_OK;
    }
    char msg[400];
    wh_remote(&r->answer, exc, exclen, msg, sizeof msg);
    if (exc[0])
        wh_err(err, errlen, "webhdfs %s %s: %s: %s (HTTP %ld)", op, abs, exc, msg, r->status);
    else
        wh_http_err(r, op, abs, err, errlen);
    if (!strcmp(exc, "StandbyException") && wh_failover(w, r)) return WH_RETRY;
    w->hop_streak = 0;
    if (exc[0] && wh_exc_transient(exc)) return WH_RETRY;
    if (r->status >= 500 && !(exc[0] && wh_exc_permanent(exc))) return WH_RETRY;
    return WH_FAIL;
}

/* Sleeps before attempt number a (1-based retry count): backoff_ms * 2^(a-1), capped; not at
 * all right after a first move to another NameNode (wh_failover). */
static void wh_backoff(webhdfs *w, int a) {
    long ms = w->backoff_ms;
    for (int i = 1; i < a && ms < WH_MAX_BACKOFF_MS; i++) ms *= 2;
    if (ms > WH_MAX_BACKOFF_MS) ms = WH_MAX_BACKOFF_MS;
    w->st.retries++;
    if (w->hop_free) {
        w->hop_free = false;
        return;
    }
    wh_sleep_ms(ms);
}

/* Appends " (after N attempts in X s)" to err when retries happened. */
static void wh_note_attempts(char *err, size_t errlen, int attempts, int64_t t0) {
    if (attempts <= 1 || !err) return;
    size_t l = strlen(err);
    if (l < errlen)
        snprintf(err + l, errlen - l, " (after %d attempts in %.1f s)", attempts,
                 (double)(time_mono_us() - t0) / 1e6);
}

/* One metadata call (MKDIRS, DELETE, RENAME, GETFILESTATUS, LISTSTATUS) with retries. On 0 the
 * JSON answer is in r->answer (caller frees r with wh_req_free). On -1: err, and exc names
 * the RemoteException if there was one; *attempts counts the attempts made. */
static int wh_call(webhdfs *w, wh_req *r, const char *method, const char *op, const char *abs, const char *extra,
                   char *exc, size_t exclen, int *attempts, char *err, size_t errlen) {
    buf_t url = {0};
    memset(r, 0, sizeof *r);
    exc[0] = 0;
    r->w = w;
    r->method = method;
    /* A PUT without a body still goes as an upload of 0 bytes (Content-Length: 0). */
    r->upload = !strcmp(method, "PUT");
    int64_t t0 = time_mono_us();
    int v = WH_FAIL, a;
    for (a = 1; a <= 1 + w->retries; a++) {
        if (a > 1) wh_backoff(w, a - 1);
        /* Built per attempt: a failover changes the NameNode. */
        if (wh_url(w, &url, abs, op, extra)) {
            v = WH_FAIL;
            wh_err(err, errlen, "webhdfs %s %s: out of memory", op, abs);
            break;
        }
        r->url = url.data;
        v = wh_judge(r, wh_perform(r), 0, op, abs, exc, exclen, err, errlen);
        if (v != WH_RETRY) break;
    }
    if (a > 1 + w->retries) a = 1 + w->retries;
    if (attempts) *attempts = a;
    r->url = NULL;
    buf_free(&url);
    if (v == WH_OK) return 0;
    wh_note_attempts(err, errlen, a, t0);
    return -1;
}

/* Parses r's JSON answer {"boolean": b}. */
static int wh_answer_bool(const wh_req *r, bool *b) {
    wj_doc d;
    char jerr[64];
    if (!r->answer.len || wj_parse(&d, r->answer.data, r->answer.len, jerr, sizeof jerr)) return -1;
    int n = wj_get(&d, 0, "boolean");
    int t = n >= 0 ? d.nodes[n].type : -1;
    wj_free(&d);
    if (t != WJ_TRUE && t != WJ_FALSE) return -1;
    *b = t == WJ_TRUE;
    return 0;
}

/* ---------------------------------------------------------------- open / close ---- */

/* Splits scheme://host[:port][/path] into the HTTP origin and the root path. */
static int wh_parse_uri(webhdfs *w, const char *uri, char *err, size_t errlen) {
    const char *sep = strstr(uri, "://");
    if (!sep || !webhdfs_is_uri(uri)) return wh_err(err, errlen, "webhdfs: not an HDFS URI: %s", uri);
    size_t sl = (size_t)(sep - uri);
    bool tls = sl == 8 && !strncmp(uri, "swebhdfs", 8);
    w->httpfs = sl == 6 && !strncmp(uri, "httpfs", 6);
    const char *auth = sep + 3, *slash = strchr(auth, '/');
    size_t al = slash ? (size_t)(slash - auth) : strlen(auth);
    if (!al || memchr(auth, '?', al) || memchr(auth, '@', al)) return wh_err(err, errlen, "webhdfs: bad host in %s", uri);
    /* Port given? A bracketed IPv6 host has colons of its own. */
    const char *close = auth[0] == '[' ? memchr(auth, ']', al) : NULL;
    const char *colon = memchr(close ? close : auth, ':', al - (size_t)((close ? close : auth) - auth));
    buf_t o = {0}, r = {0};
    int rc = buf_printf(&o, "%s://%.*s", tls ? "https" : "http", (int)al, auth);
    if (!rc && !colon) rc = buf_printf(&o, ":%d", w->httpfs ? 14000 : tls ? 9871 : 9870);
    const char *path = slash ? slash : "";
    if (strchr(path, '?') || strchr(path, '#')) rc = -1;
    /* Normalise the root: collapse "//", drop a trailing '/', refuse "." and "..". */
    for (const char *s = path; !rc && *s;) {
        while (*s == '/') s++;
        const char *e = strchr(s, '/');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (!n) break;
        if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.')) rc = -1;
        else rc = buf_printf(&r, "/%.*s", (int)n, s);
        s += n;
    }
    if (!rc && !r.data) rc = buf_append_str(&r, "");
    if (rc) {
        buf_free(&o);
        buf_free(&r);
        return wh_err(err, errlen, "webhdfs: bad root URI %s", uri);
    }
    if (!(w->origins = calloc(1, sizeof *w->origins))) {
        buf_free(&o);
        buf_free(&r);
        return wh_err(err, errlen, "webhdfs: out of memory");
    }
    w->origins[0] = o.data;
    w->n_origins = 1;
    w->origin = w->origins[0];
    w->root = r.data;
    buf_t b = {0};
    if (buf_printf(&b, "%s/webhdfs/v1%s", w->origin, *w->root ? w->root : "/"))
        return wh_err(err, errlen, "webhdfs: out of memory");
    w->base = b.data;
    return 0;
}

/* HA: replaces the URI's origin by the NameNodes of list ("host:port,host:port"; the port is
 * required, the scheme is the URI's). The URI's host then only names the nameservice. */
static int wh_set_namenodes(webhdfs *w, const char *list, char *err, size_t errlen) {
    const char *scheme = !strncmp(w->origin, "https:", 6) ? "https" : "http";
    size_t n = 1;
    for (const char *c = list; *c; c++) n += *c == ',';
    char **v = calloc(n, sizeof *v);
    if (!v) return wh_err(err, errlen, "webhdfs: out of memory");
    size_t k = 0;
    for (const char *c = list; k < n; k++) {
        size_t l = strcspn(c, ",");
        const char *colon = memchr(c, ':', l);
        buf_t b = {0};
        if (!l || !colon || colon == c || colon + 1 == c + l || memchr(c, '/', l) || memchr(c, '@', l) ||
            buf_printf(&b, "%s://%.*s", scheme, (int)l, c)) {
            buf_free(&b);
            for (size_t i = 0; i < k; i++) free(v[i]);
            free(v);
            return wh_err(err, errlen, "webhdfs: bad --hdfs-namenodes '%s' (want HOST:PORT,HOST:PORT: the "
                          "NameNodes' HTTP addresses)", list);
        }
        v[k] = b.data;
        c += l + (c[l] == ',');
    }
    for (size_t i = 0; i < w->n_origins; i++) free(w->origins[i]);
    free(w->origins);
    w->origins = v;
    w->n_origins = n;
    w->cur = 0;
    w->origin = v[0];
    return 0;
}

/* The options that need more than a copy: HA list, CA file, Kerberos ticket. */
static int wh_apply_opts(webhdfs *w, const webhdfs_opts *opts, char *err, size_t errlen) {
    if (opts->namenodes && *opts->namenodes && wh_set_namenodes(w, opts->namenodes, err, errlen)) return -1;
    if (opts->ca_file && *opts->ca_file && !(w->ca_file = strdup(opts->ca_file)))
        return wh_err(err, errlen, "webhdfs: out of memory");
    if (!opts->negotiate && (opts->keytab || opts->principal))
        return wh_err(err, errlen, "webhdfs: --hdfs-keytab/--hdfs-principal need --hdfs-auth kerberos");
    if (opts->principal && !opts->keytab)
        return wh_err(err, errlen, "webhdfs: --hdfs-principal needs --hdfs-keytab (with a ticket cache, kinit "
                      "chooses the principal)");
    if (opts->negotiate) {
        char kerr[512];
        if (!(w->krb = wh_krb_open(opts->keytab, opts->principal, kerr, sizeof kerr)))
            return wh_err(err, errlen, "webhdfs %s: %s", w->base, kerr);
    }
    return 0;
}

webhdfs *webhdfs_open(const char *uri, const webhdfs_opts *opts, char *err, size_t errlen) {
    webhdfs_opts dflt = {0};
    dflt.retries = -1;
    if (!opts) opts = &dflt;
    webhdfs *w = calloc(1, sizeof *w);
    if (!w) { wh_err(err, errlen, "webhdfs: out of memory"); return NULL; }
    if (!uri || wh_parse_uri(w, uri, err, errlen)) { if (!uri) wh_err(err, errlen, "webhdfs: no URI"); goto fail; }
    const char *user = opts->user ? opts->user : getenv("HADOOP_USER_NAME");
    if (user && *user && !(w->user = strdup(user))) { wh_err(err, errlen, "webhdfs: out of memory"); goto fail; }
    w->negotiate = opts->negotiate;
    w->trace = getenv("ECOM_WEBHDFS_TRACE") && *getenv("ECOM_WEBHDFS_TRACE");
    w->retries = opts->retries >= 0 ? opts->retries : WH_DEFAULT_RETRIES;
    w->backoff_ms = opts->backoff_ms > 0 ? opts->backoff_ms : WH_DEFAULT_BACKOFF_MS;
    w->connect_ms = opts->connect_timeout_ms > 0 ? opts->connect_timeout_ms : WH_DEFAULT_CONNECT_MS;
    w->io_ms = opts->io_timeout_ms > 0 ? opts->io_timeout_ms : WH_DEFAULT_IO_MS;
    w->spill_bytes = opts->spill_bytes ? opts->spill_bytes : WH_DEFAULT_SPILL;
    if (wh_apply_opts(w, opts, err, errlen)) goto fail;
    if (!(w->curl = curl_easy_init())) { wh_err(err, errlen, "webhdfs: curl_easy_init failed"); goto fail; }
    return w;
fail:
    webhdfs_close(w);
    return NULL;
}

void webhdfs_close(webhdfs *w) {
    if (!w) return;
    if (w->curl) curl_easy_cleanup(w->curl);
    for (size_t i = 0; i < w->n_origins; i++) free(w->origins[i]);
    free(w->origins);
    free(w->ca_file);
    wh_krb_close(w->krb);
    free(w->root);
    free(w->base);
    free(w->user);
    free(w->ra_path);
    free(w->ra_buf);
    free(w);
}

const char *webhdfs_base(const webhdfs *w) { return w->base; }
const char *webhdfs_origin(const webhdfs *w) { return w->origin; }

void webhdfs_get_stats(const webhdfs *w, webhdfs_stats *out) { *out = w->st; }

/* ---------------------------------------------------------------- metadata operations ---- */

#define WH_CHECK_PATH(w, p, root_ok, op)                                                        \
    do {                                                                                        \
        if (!wh_path_ok((p), (root_ok))) {                                                      \
            (w)->st.errors++;                                                                   \
            return wh_err(err, errlen, "webhdfs %s: bad path '%s'", (op), (p) ? (p) : "(null)"); \
        }                                                                                       \
    } while (0)

int webhdfs_mkdirs(webhdfs *w, const char *path, char *err, size_t errlen) {
    wh_ra_drop(w);
    WH_CHECK_PATH(w, path, true, "MKDIRS");
    char *abs = wh_abs(w, path), exc[96];
    if (!abs) return wh_err(err, errlen, "webhdfs: out of memory");
    wh_req r;
    bool ok = false;
    int rc = wh_call(w, &r, "PUT", "MKDIRS", abs, NULL, exc, sizeof exc, NULL, err, errlen);
    if (!rc && (wh_answer_bool(&r, &ok) || !ok))
        rc = wh_err(err, errlen, "webhdfs MKDIRS %s: refused (answer %.100s)", abs, r.answer.data ? r.answer.data : "");
    if (rc) w->st.errors++;
    wh_req_free(&r);
    free(abs);
    return rc;
}

int webhdfs_remove(webhdfs *w, const char *path, char *err, size_t errlen) {
    wh_ra_drop(w);
    WH_CHECK_PATH(w, path, false, "DELETE");
    char *abs = wh_abs(w, path), exc[96];
    if (!abs) return wh_err(err, errlen, "webhdfs: out of memory");
    wh_req r;
    bool ok;
    /* recursive=false: a non-empty directory is an error (PathIsNotEmptyDirectoryException);
     * {"boolean": false} just means it was not there. */
    int rc = wh_call(w, &r, "DELETE", "DELETE", abs, "recursive=false", exc, sizeof exc, NULL, err, errlen);
    if (!rc && wh_answer_bool(&r, &ok))
        rc = wh_err(err, errlen, "webhdfs DELETE %s: unexpected answer %.100s", abs, r.answer.data ? r.answer.data : "");
    if (rc) w->st.errors++;
    wh_req_free(&r);
    free(abs);
    return rc;
}

/* Fills e from a FileStatus object (name left NULL). */
static void wh_fill_entry(const wj_doc *d, int fs, storage_entry *e) {
    int64_t len = 0, mt = 0;
    const char *type = wj_str(d, wj_get(d, fs, "type"));
    wj_int(d, wj_get(d, fs, "length"), &len);
    wj_int(d, wj_get(d, fs, "modificationTime"), &mt);
    e->name = NULL;
    e->is_dir = type && !strcmp(type, "DIRECTORY");
    e->size = len > 0 ? (uint64_t)len : 0;
    e->mtime_us = mt * 1000;
}

int webhdfs_stat(webhdfs *w, const char *path, storage_entry *out, bool *exists, char *err, size_t errlen) {
    wh_ra_drop(w);
    WH_CHECK_PATH(w, path, true, "GETFILESTATUS");
    char *abs = wh_abs(w, path), exc[96];
    if (!abs) return wh_err(err, errlen, "webhdfs: out of memory");
    wh_req r;
    wj_doc d;
    char jerr[64];
    *exists = false;
    int rc = wh_call(w, &r, "GET", "GETFILESTATUS", abs, NULL, exc, sizeof exc, NULL, err, errlen);
    if (rc && !strcmp(exc, "FileNotFoundException")) {
        rc = 0;   /* missing: not an error */
        if (err && errlen) err[0] = 0;
    } else if (!rc) {
        int fs;
        if (wj_parse(&d, r.answer.data, r.answer.len, jerr, sizeof jerr)) {
            rc = wh_err(err, errlen, "webhdfs GETFILESTATUS %s: %s", abs, jerr);
        } else {
            if ((fs = wj_get(&d, 0, "FileStatus")) < 0) {
                rc = wh_err(err, errlen, "webhdfs GETFILESTATUS %s: no FileStatus in answer", abs);
            } else {
                *exists = true;
                if (out) wh_fill_entry(&d, fs, out);
            }
            wj_free(&d);
        }
    }
    if (rc) w->st.errors++;
    wh_req_free(&r);
    free(abs);
    return rc;
}

void webhdfs_list_free(storage_list_t *l) {
    for (size_t i = 0; i < l->n; i++) free(l->entries[i].name);
    free(l->entries);
    l->entries = NULL;
    l->n = 0;
}

/* Turns a FileStatuses answer into out. */
static int wh_parse_listing(const wh_req *r, const char *abs, storage_list_t *out, char *err, size_t errlen) {
    wj_doc d;
    char jerr[64];
    if (wj_parse(&d, r->answer.data, r->answer.len, jerr, sizeof jerr))
        return wh_err(err, errlen, "webhdfs LISTSTATUS %s: %s", abs, jerr);
    int arr = wj_get(&d, wj_get(&d, 0, "FileStatuses"), "FileStatus");
    int rc = 0;
    size_t n = 0;
    if (arr < 0 || d.nodes[arr].type != WJ_ARR) rc = wh_err(err, errlen, "webhdfs LISTSTATUS %s: no FileStatus list", abs);
    for (int c = rc ? -1 : d.nodes[arr].child; c >= 0; c = d.nodes[c].next) n++;
    if (!rc && n && !(out->entries = calloc(n, sizeof *out->entries))) rc = wh_err(err, errlen, "webhdfs: out of memory");
    for (int c = rc ? -1 : d.nodes[arr].child; c >= 0 && !rc; c = d.nodes[c].next) {
        const char *name = wj_str(&d, wj_get(&d, c, "pathSuffix"));
        if (!name || !*name) {
            rc = wh_err(err, errlen, "webhdfs LISTSTATUS %s: not a directory", abs);
            break;
        }
        storage_entry *e = &out->entries[out->n];
        wh_fill_entry(&d, c, e);
        if (!(e->name = strdup(name))) { rc = wh_err(err, errlen, "webhdfs: out of memory"); break; }
        out->n++;
    }
    wj_free(&d);
    if (rc) webhdfs_list_free(out);
    return rc;
}

int webhdfs_list(webhdfs *w, const char *dir, storage_list_t *out, char *err, size_t errlen) {
    wh_ra_drop(w);
    out->entries = NULL;
    out->n = 0;
    WH_CHECK_PATH(w, dir, true, "LISTSTATUS");
    char *abs = wh_abs(w, dir), exc[96];
    if (!abs) return wh_err(err, errlen, "webhdfs: out of memory");
    wh_req r;
    int rc = wh_call(w, &r, "GET", "LISTSTATUS", abs, NULL, exc, sizeof exc, NULL, err, errlen);
    if (rc && !strcmp(exc, "FileNotFoundException")) {
        rc = 0;   /* missing dir: empty list */
        if (err && errlen) err[0] = 0;
    }
    else if (!rc) rc = wh_parse_listing(&r, abs, out, err, errlen);
    if (rc) w->st.errors++;
    wh_req_free(&r);
    free(abs);
    return rc;
}

/* The parent of relative path p ("" for a top-level name); caller frees. */
static char *wh_parent(const char *p) {
    const char *s = strrchr(p, '/');
    return s ? strndup(p, (size_t)(s - p)) : strdup("");
}

/* RENAME with renameoptions=OVERWRITE is HDFS's rename2: one NameNode operation that replaces
 * an existing destination file atomically (readers see the old or the new file, never
 * neither), and refuses to move the source into a directory. Two extra cases:
 *  - the destination's parent is missing: rename2 fails with FileNotFoundException; if the
 *    source is there we create the parent and try once more;
 *  - a retry after a lost answer finds the source gone and the destination present: the
 *    earlier attempt did it, so that is success. */
int webhdfs_rename(webhdfs *w, const char *from, const char *to, char *err, size_t errlen) {
    wh_ra_drop(w);
    WH_CHECK_PATH(w, from, false, "RENAME");
    WH_CHECK_PATH(w, to, false, "RENAME");
    char *src = wh_abs(w, from), *dst = wh_abs(w, to), exc[96];
    buf_t extra = {0};
    int rc = -1, attempts = 0;
    if (!src || !dst || buf_append_str(&extra, "renameoptions=OVERWRITE&destination=") || wh_enc(&extra, dst, true)) {
        wh_err(err, errlen, "webhdfs: out of memory");
        goto done;
    }
    for (int round = 0; round < 2; round++) {
        wh_req r;
        bool done_ok = true;
        rc = wh_call(w, &r, "PUT", "RENAME", src, extra.data, exc, sizeof exc, &attempts, err, errlen);
        /* HttpFS ignores renameoptions and does a plain rename: {"boolean": false} when the
         * destination exists. Then: refuse a directory destination, else delete the old file
         * and rename again. Not atomic (a reader may briefly find no file, never a partial
         * one); see docs/hdfs.md. */
        if (!rc && !wh_answer_bool(&r, &done_ok) && !done_ok) {
            storage_entry de;
            bool dex = false;
            char e2[256];
            rc = -1;
            wh_err(err, errlen, "webhdfs RENAME %s -> %s: refused", src, dst);
            if (!webhdfs_stat(w, to, &de, &dex, e2, sizeof e2) && dex && !de.is_dir &&
                !webhdfs_remove(w, to, err, errlen)) {
                wh_req_free(&r);
                rc = wh_call(w, &r, "PUT", "RENAME", src, extra.data, exc, sizeof exc, &attempts, err, errlen);
                if (!rc && !wh_answer_bool(&r, &done_ok) && !done_ok)
                    rc = wh_err(err, errlen, "webhdfs RENAME %s -> %s: refused", src, dst);
            }
        }
        wh_req_free(&r);
        if (!rc || strcmp(exc, "FileNotFoundException")) break;
        bool src_there = false, dst_there = false;
        char e2[256];
        if (webhdfs_stat(w, from, NULL, &src_there, e2, sizeof e2)) break;
        if (!src_there) {
            if (attempts > 1 && !webhdfs_stat(w, to, NULL, &dst_there, e2, sizeof e2) && dst_there) rc = 0;
            break;
        }
        char *parent = wh_parent(to);
        if (round || !parent || !*parent || webhdfs_mkdirs(w, parent, e2, sizeof e2)) {
            free(parent);
            break;
        }
        free(parent);
    }
done:
    if (rc) w->st.errors++;
    buf_free(&extra);
    free(src);
    free(dst);
    return rc;
}

/* ---------------------------------------------------------------- OPEN ---- */

/* OPEN with offset and length. The NameNode answers 307 to a DataNode holding the block; curl
 * follows it (GET has no body to resend). Reading past the end: HDFS refuses an offset beyond
 * the length, so that case is answered from GETFILESTATUS as an empty read. */
static int wh_open_range(webhdfs *w, const char *path, uint64_t off, void *dst, size_t n, size_t *got, char *err,
                         size_t errlen) {
    *got = 0;
    char *abs = wh_abs(w, path), exc[96], extra[96];
    buf_t url = {0};
    if (!abs) return wh_err(err, errlen, "webhdfs: out of memory");
    snprintf(extra, sizeof extra, "offset=%llu&length=%zu", (unsigned long long)off, n);
    wh_req r;
    memset(&r, 0, sizeof r);
    r.w = w;
    r.method = "GET";
    r.follow = true;
    r.dst = dst;
    r.dst_cap = n;
    int rc = -1, v = WH_FAIL, a;
    int64_t t0 = time_mono_us();
    for (a = 1; a <= 1 + w->retries; a++) {
        if (a > 1) wh_backoff(w, a - 1);
        if (wh_url(w, &url, abs, "OPEN", extra)) {   /* per attempt: a failover changes the NameNode */
            wh_err(err, errlen, "webhdfs: out of memory");
            goto done;
        }
        r.url = url.data;
        v = wh_judge(&r, wh_perform(&r), 200, "OPEN", abs, exc, sizeof exc, err, errlen);
        if (v != WH_RETRY) break;
    }
    if (v == WH_OK) {
        *got = r.dst_len;
        rc = 0;
    } else {
        wh_note_attempts(err, errlen, a > 1 + w->retries ? a - 1 : a, t0);
        /* An offset at or past the end is an empty read, as for a local file. */
        storage_entry st;
        bool exists = false;
        char e2[256];
        if (v == WH_FAIL && exc[0] && strcmp(exc, "FileNotFoundException") &&
            !webhdfs_stat(w, path, &st, &exists, e2, sizeof e2) && exists && !st.is_dir && off >= st.size)
            rc = 0;
    }
done:
    if (rc < 0) w->st.errors++;
    r.url = NULL;
    wh_req_free(&r);
    buf_free(&url);
    free(abs);
    return rc;
}

/* Serves [off, off + n) from the window if it holds it (or holds the file's end). */
static bool wh_ra_serve(webhdfs *w, const char *path, uint64_t off, void *dst, size_t n, size_t *got) {
    if (!w->ra_path || strcmp(w->ra_path, path) || time_mono_us() - w->ra_us > WH_READ_WINDOW_US) return false;
    uint64_t end = w->ra_off + w->ra_len;
    if (off < w->ra_off || (off + n > end && !w->ra_eof)) return false;
    size_t k = off >= end ? 0 : (size_t)(end - off < n ? end - off : n);
    if (k) memcpy(dst, w->ra_buf + (off - w->ra_off), k);
    *got = k;
    return true;
}

/* A Parquet reader opens a file with three small reads: the 8-byte tail, then the footer just
 * before it, then (for the small files of metric tables) column chunks a few KB further back;
 * each is an OPEN, i.e. two HTTP round trips (NameNode redirect, DataNode). So a read of up to
 * half the window fetches the WH_READ_WINDOW bytes that END at its end (or the file's first
 * ones), and the next reads of the same file are served from them: one OPEN instead of three
 * for a small file, one instead of two for a big file's footer. Larger reads go straight to
 * HDFS. The window serves only an unbroken run of reads of one path within one second: any
 * other operation (stat, list, create, rename, delete, mkdirs) or a read of another path drops
 * it, so it never outlives the opening of one file. */
int webhdfs_read(webhdfs *w, const char *path, uint64_t off, void *dst, size_t n, size_t *got, char *err,
                 size_t errlen) {
    *got = 0;
    WH_CHECK_PATH(w, path, false, "OPEN");
    if (n == 0) return 0;
    if (wh_ra_serve(w, path, off, dst, n, got)) return 0;
    if (n > WH_READ_WINDOW / 2) return wh_open_range(w, path, off, dst, n, got, err, errlen);
    if (!w->ra_buf && !(w->ra_buf = malloc(WH_READ_WINDOW))) return wh_open_range(w, path, off, dst, n, got, err, errlen);
    wh_ra_drop(w);
    uint64_t start = off + n > WH_READ_WINDOW ? off + n - WH_READ_WINDOW : 0;
    size_t k = 0;
    if (wh_open_range(w, path, start, w->ra_buf, WH_READ_WINDOW, &k, err, errlen)) return -1;
    if (!(w->ra_path = strdup(path))) return wh_open_range(w, path, off, dst, n, got, err, errlen);
    w->ra_off = start;
    w->ra_len = k;
    w->ra_eof = k < WH_READ_WINDOW;
    w->ra_us = time_mono_us();
    wh_ra_serve(w, path, off, dst, n, got);
    return 0;
}

/* ---------------------------------------------------------------- writing files ---- */

int webhdfs_create(webhdfs *w, const char *path, webhdfs_file **out, char *err, size_t errlen) {
    *out = NULL;
    WH_CHECK_PATH(w, path, false, "CREATE");
    webhdfs_file *f = calloc(1, sizeof *f);
    if (!f || !(f->path = strdup(path))) {
        free(f);
        return wh_err(err, errlen, "webhdfs: out of memory");
    }
    f->w = w;
    *out = f;
    return 0;
}

/* Moves the in-memory part to an unlinked temp file ($TMPDIR or /tmp) once the file outgrows
 * spill_bytes, so a large file costs disk, not memory. */
static int wh_spill(webhdfs_file *f) {
    const char *dir = getenv("TMPDIR");
    char tmpl[4096];
    snprintf(tmpl, sizeof tmpl, "%s/ecom-webhdfs-XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(tmpl);
    if (fd < 0) return -1;
    unlink(tmpl);
    if (!(f->spool = fdopen(fd, "w+b"))) {
        close(fd);
        return -1;
    }
    if (f->mem.len && fwrite(f->mem.data, 1, f->mem.len, f->spool) != f->mem.len) return -1;
    buf_free(&f->mem);
    return 0;
}

int webhdfs_file_write(webhdfs_file *f, const void *p, size_t n, char *err, size_t errlen) {
    if (f->failed) return wh_err(err, errlen, "%s", f->err);
    if (!n) return 0;
    int rc = 0;
    if (!f->spool && f->mem.len + n > f->w->spill_bytes && wh_spill(f))
        rc = wh_err(f->err, sizeof f->err, "webhdfs CREATE %s: cannot spool to a temp file: %s", f->path,
                    strerror(errno));
    else if (f->spool ? fwrite(p, 1, n, f->spool) != n : buf_append(&f->mem, p, n) != 0)
        rc = wh_err(f->err, sizeof f->err, "webhdfs CREATE %s: cannot buffer: %s", f->path,
                    f->spool ? strerror(errno) : "out of memory");
    if (rc) {
        f->failed = true;
        f->w->st.errors++;
        return wh_err(err, errlen, "%s", f->err);
    }
    f->size += n;
    return 0;
}

static void wh_file_free(webhdfs_file *f) {
    if (f->spool) fclose(f->spool);
    buf_free(&f->mem);
    free(f->path);
    free(f);
}

void webhdfs_file_abort(webhdfs_file *f) {
    if (f) wh_file_free(f);   /* nothing reached HDFS yet: uploads happen at close */
}

/* One attempt of the upload. WebHDFS: PUT op=CREATE to the NameNode without a body, which
 * answers 307 with a DataNode URL; then PUT the bytes there (201). HttpFS: one PUT with
 * data=true and the bytes. *sent is set once bytes went to a DataNode (a partial file may exist). */
static int wh_upload_once(webhdfs *w, wh_req *r, const char *abs, buf_t *url, bool *sent, char *exc,
                          size_t exclen, char *err, size_t errlen) {
    const char *extra = w->httpfs ? "overwrite=true&data=true" : "overwrite=true";
    if (wh_url(w, url, abs, "CREATE", extra)) return wh_err(err, errlen, "webhdfs: out of memory"), WH_FAIL;
    r->url = url->data;
    if (!w->httpfs) {
        uint64_t len = r->body_len;
        r->body_len = 0;
        r->octet = false;
        int v = wh_judge(r, wh_perform(r), 307, "CREATE", abs, exc, exclen, err, errlen);
        r->body_len = len;
        if (v != WH_OK) return v;
        if (!r->redirect) return wh_err(err, errlen, "webhdfs CREATE %s: NameNode gave no DataNode location", abs), WH_FAIL;
        buf_reset(url);
        if (buf_append_str(url, r->redirect)) return wh_err(err, errlen, "webhdfs: out of memory"), WH_FAIL;
        r->url = url->data;
    }
    r->octet = true;
    *sent = true;
    return wh_judge(r, wh_perform(r), 201, "CREATE", abs, exc, exclen, err, errlen);
}

/* Uploads the buffered or spooled file in one CREATE (overwrite=true) with retries: CREATE
 * with overwrite is idempotent, so a retry after any failure re-sends the whole file. After
 * a final failure a partial file left by a DataNode is deleted (best effort). */
int webhdfs_file_close(webhdfs_file *f, char *err, size_t errlen) {
    wh_ra_drop(f->w);
    webhdfs *w = f->w;
    if (f->failed) {
        wh_err(err, errlen, "%s", f->err);
        wh_file_free(f);
        return -1;
    }
    char *abs = wh_abs(w, f->path), exc[96];
    buf_t url = {0};
    wh_req r;
    memset(&r, 0, sizeof r);
    r.w = w;
    r.method = "PUT";
    r.upload = true;
    r.body = f->mem.data;
    r.body_file = f->spool;
    r.body_len = f->size;
    int rc = -1, v = WH_FAIL, a;
    bool sent = false;
    int64_t t0 = time_mono_us();
    if (!abs) {
        wh_err(err, errlen, "webhdfs: out of memory");
        goto done;
    }
    if (f->spool && fflush(f->spool)) {
        wh_err(err, errlen, "webhdfs CREATE %s: spool flush: %s", abs, strerror(errno));
        goto done;
    }
    if (!r.body) r.body = "";
    for (a = 1; a <= 1 + w->retries; a++) {
        if (a > 1) wh_backoff(w, a - 1);
        v = wh_upload_once(w, &r, abs, &url, &sent, exc, sizeof exc, err, errlen);
        if (v != WH_RETRY) break;
    }
    if (v == WH_OK) {
        rc = 0;
    } else {
        wh_note_attempts(err, errlen, a > 1 + w->retries ? a - 1 : a, t0);
        if (sent) {
            char e2[256];
            int keep = w->retries;
            w->retries = 0;
            webhdfs_remove(w, f->path, e2, sizeof e2);
            w->retries = keep;
        }
    }
done:
    if (rc < 0) w->st.errors++;
    r.url = NULL;
    wh_req_free(&r);
    buf_free(&url);
    free(abs);
    wh_file_free(f);
    return rc;
}

/* A plain RENAME (no renameoptions: HDFS's rename1, HttpFS's only kind), which moves from
 * only if to is free: 0 moved, 1 to exists (from left), -1 any other refusal or error. A
 * retry after a lost answer also ends in 1 (the caller recognises its content, storage.h). */
static int wh_rename_noreplace(webhdfs *w, const char *from, const char *to, char *err, size_t errlen) {
    char *src = wh_abs(w, from), *dst = wh_abs(w, to), exc[96];
    buf_t extra = {0};
    int rc = -1, attempts = 0;
    bool moved = false, there = false;
    if (!src || !dst || buf_append_str(&extra, "destination=") || wh_enc(&extra, dst, true)) {
        wh_err(err, errlen, "webhdfs: out of memory");
    } else {
        wh_req r;
        rc = wh_call(w, &r, "PUT", "RENAME", src, extra.data, exc, sizeof exc, &attempts, err, errlen);
        if (rc == 0 && wh_answer_bool(&r, &moved)) rc = wh_err(err, errlen, "webhdfs RENAME %s: bad answer", src);
        wh_req_free(&r);
        if (rc == 0 && !moved) {
            rc = webhdfs_stat(w, to, NULL, &there, err, errlen);
            if (rc == 0) rc = there ? 1 : wh_err(err, errlen, "webhdfs RENAME %s -> %s: refused", src, dst);
        }
    }
    buf_free(&extra);
    free(src);
    free(dst);
    return rc;
}

/* Create-exclusive and whole: the bytes go to a private temporary name beside path (pid and
 * random bits in it: no other writer uses it, so CREATE overwrite=true is safe), then
 * wh_rename_noreplace gives them the final name only if it is free. Of two writers exactly one
 * gets 0, and a reader never sees a partial file (a CREATE overwrite=false on the final name
 * is exclusive too, but its file is visible, empty or short, while it is written, and a crash
 * leaves it so). */
int webhdfs_put_new(webhdfs *w, const char *path, const void *p, size_t n, char *err, size_t errlen) {
    const char *slash = strrchr(path, '/');
    int dirlen = slash ? (int)(slash - path) + 1 : 0;
    uint64_t rnd = 0;
    if (getrandom(&rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) rnd = (uint64_t)time_now_us();
    size_t tl = strlen(path) + 48;
    char *tmp = malloc(tl);
    if (!tmp) return wh_err(err, errlen, "webhdfs: out of memory");
    snprintf(tmp, tl, STORAGE_PUT_TMP_FORMAT, dirlen, path, path + dirlen, (long)getpid(), (unsigned long long)rnd);
    webhdfs_file *f;
    int rc = webhdfs_create(w, tmp, &f, err, errlen);
    if (rc == 0 && webhdfs_file_write(f, p, n, err, errlen)) {
        webhdfs_file_abort(f);
        rc = -1;
    } else if (rc == 0) {
        rc = webhdfs_file_close(f, err, errlen);
    }
    if (rc == 0) rc = wh_rename_noreplace(w, tmp, path, err, errlen);
    if (rc) {
        char e2[256];
        webhdfs_remove(w, tmp, e2, sizeof e2); /* best effort: a leftover is a hidden name */
    }
    free(tmp);
    return rc;
}

/* ---------------------------------------------------------------- storage_ops ---- */

static int wh_op_create(void *ctx, const char *path, storage_file **out, char *err, size_t errlen) {
    return webhdfs_create(ctx, path, (webhdfs_file **)out, err, errlen);
}
static int wh_op_write(storage_file *f, const void *p, size_t n, char *err, size_t errlen) {
    return webhdfs_file_write((webhdfs_file *)f, p, n, err, errlen);
}
static int wh_op_close(storage_file *f, char *err, size_t errlen) {
    return webhdfs_file_close((webhdfs_file *)f, err, errlen);
}
static void wh_op_abort(storage_file *f) { webhdfs_file_abort((webhdfs_file *)f); }
static int wh_op_rename(void *ctx, const char *from, const char *to, char *err, size_t errlen) {
    return webhdfs_rename(ctx, from, to, err, errlen);
}
static int wh_op_remove(void *ctx, const char *path, char *err, size_t errlen) {
    return webhdfs_remove(ctx, path, err, errlen);
}
static int wh_op_mkdirs(void *ctx, const char *path, char *err, size_t errlen) {
    return webhdfs_mkdirs(ctx, path, err, errlen);
}
static int wh_op_list(void *ctx, const char *dir, storage_list_t *out, char *err, size_t errlen) {
    return webhdfs_list(ctx, dir, out, err, errlen);
}
static int wh_op_stat(void *ctx, const char *path, storage_entry *out, bool *exists, char *err, size_t errlen) {
    return webhdfs_stat(ctx, path, out, exists, err, errlen);
}
static int wh_op_read(void *ctx, const char *path, uint64_t off, void *dst, size_t n, size_t *got, char *err,
                      size_t errlen) {
    return webhdfs_read(ctx, path, off, dst, n, got, err, errlen);
}
static void wh_op_destroy(void *ctx) { webhdfs_close(ctx); }
static int wh_op_put_new(void *ctx, const char *path, const void *p, size_t n, char *err, size_t errlen) {
    return webhdfs_put_new(ctx, path, p, n, err, errlen);
}

const storage_ops *webhdfs_storage_ops(void) {
    static const storage_ops ops = {
        "webhdfs", wh_op_create, wh_op_write, wh_op_close, wh_op_abort, wh_op_rename, wh_op_remove,
        wh_op_mkdirs, wh_op_list, wh_op_stat, wh_op_read, wh_op_destroy, wh_op_put_new,
    };
    return &ops;
}

void *webhdfs_storage_open(const char *root, const storage_opts *so, char *err, size_t errlen) {
    webhdfs_opts o = {0};
    o.retries = -1;
    if (so) {
        const char *auth = so->auth && *so->auth ? so->auth : "simple";
        if (strcmp(auth, "simple") && strcmp(auth, "kerberos")) {
            wh_err(err, errlen, "webhdfs: unknown --hdfs-auth '%s' (simple or kerberos)", auth);
            return NULL;
        }
        o.user = so->user;
        o.negotiate = !strcmp(auth, "kerberos");
        o.keytab = so->keytab && *so->keytab ? so->keytab : NULL;
        o.principal = so->principal && *so->principal ? so->principal : NULL;
        o.ca_file = so->ca_file;
        o.namenodes = so->namenodes;
        o.retries = so->retries;
        o.connect_timeout_ms = so->connect_timeout_ms;
        o.io_timeout_ms = so->io_timeout_ms;
    }
    return webhdfs_open(root, &o, err, errlen);
}
