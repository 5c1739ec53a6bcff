/* server.c — the HTTP side of the dashboard (libmicrohttpd): binding, routing, the optional
 * token, parameter validation, the security headers and the flood guard (request deadline,
 * per-address limit, a share of connections kept for the operator). Everything it serves is
 * either an embedded asset (fixed list), an engine answer, or the engine's change events as
 * Server-Sent Events (GET /api/stream). */
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <sys/socket.h>

#include "dash/dash.h"

#define COOKIE_NAME "ecom_token"

/* One open connection as the flood guard sees it (libmicrohttpd's socket context). */
typedef struct conn_slot {
    struct conn_slot *prev, *next;
    int fd;                       /* -1: accepted, libmicrohttpd has not started it yet */
    int64_t deadline_us;          /* the current request must be complete by then; 0 = none */
    struct sockaddr_storage addr;
    socklen_t addrlen;
} conn_slot;

/* Why a guard of our own: libmicrohttpd's timeout is an idle timeout (a client sending a partial
 * request, or one byte now and then, keeps its connection), and its per-IP limit cannot spare
 * the operator. The guard lists every connection, gives each request a deadline (a reaper
 * thread shuts down the sockets past it) and decides at accept time who gets a slot. */
typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    conn_slot *head, *tail;       /* oldest first */
    unsigned open;                /* connections in the list */
    unsigned max_open;            /* all connections (libmicrohttpd's limit too) */
    unsigned reserve;             /* of those, kept for operator addresses */
    unsigned per_ip;              /* per client address (operator addresses exempt) */
    int64_t header_us;            /* a new request must be complete within this */
    int64_t idle_us;              /* a kept-alive connection must start its next one within this */
    bool stop;
    bool reaper_started;
    pthread_t reaper;
} flood_guard;

/* libmicrohttpd's messages: how many this window (see mhd_log). */
typedef struct {
    pthread_mutex_t mu;
    int64_t window_start;
    unsigned used, dropped;
} log_budget;

/* One GET /api/stream client: the change it was last sent and the event being written. */
typedef struct sse_conn {
    struct sse_conn *prev, *next;
    struct dash_server *s;
    struct MHD_Connection *c;
    uint64_t sent;                /* seq of the last event sent */
    bool hello;                   /* the first event (the current state) went out */
    bool suspended, beat;         /* waiting for a change; resumed without one: send a keepalive */
    buf_t out;                    /* the event being written, from off */
    size_t off;
} sse_conn;

struct dash_server {
    struct MHD_Daemon *d;
    flood_guard g;
    log_budget log;
    /* SSE clients, guarded by sse_mu; at stop every one is resumed and ends (sse_cv) */
    pthread_mutex_t sse_mu;
    pthread_cond_t sse_cv;
    sse_conn *sse_head;
    bool sse_closing;
    unsigned sse_n;
    dash_engine *engine;
    char *token;          /* NULL = no auth */
    uint16_t port;
    buf_t tls_cert, tls_key; /* PEM texts: libmicrohttpd uses them in place while it runs */
};

static const char CSP[] = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                          "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/* Queues resp with the headers every answer carries, then releases our reference. */
static enum MHD_Result send_response(struct MHD_Connection *c, unsigned status, struct MHD_Response *r,
                                     const char *type, bool cacheable) {
    if (!r) return MHD_NO;
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Content-Security-Policy", CSP);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "X-Frame-Options", "DENY");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(r, "Cache-Control", cacheable ? "no-cache" : "no-store");
    enum MHD_Result rc = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return rc;
}

/* Sends a JSON body held in b (the buffer's memory is handed to libmicrohttpd). */
static enum MHD_Result send_json(struct MHD_Connection *c, unsigned status, buf_t *b) {
    if (!b->data && buf_append_str(b, "")) return MHD_NO;
    struct MHD_Response *r = MHD_create_response_from_buffer(b->len, b->data, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        buf_free(b);
        return MHD_NO;
    }
    *b = (buf_t){0};
    return send_response(c, status, r, "application/json", false);
}

static enum MHD_Result send_error(struct MHD_Connection *c, unsigned status, const char *msg) {
    buf_t b = {0};
    if (buf_append_str(&b, "{\"error\":") || dash_json_str(&b, msg) || buf_append_char(&b, '}')) {
        buf_free(&b);
        return MHD_NO;
    }
    return send_json(c, status, &b);
}

static enum MHD_Result send_text(struct MHD_Connection *c, unsigned status, const char *text, const char *type) {
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
    return send_response(c, status, r, type, false);
}

/* Compares in time that depends only on the lengths, so the token cannot be guessed byte by
 * byte from response times. */
static bool token_equal(const char *a, const char *b) {
    if (!a || !b) return false;
    size_t na = strlen(a), nb = strlen(b);
    unsigned char d = na != nb;
    for (size_t i = 0; i < na; i++) d |= (unsigned char)(a[i] ^ b[i % (nb ? nb : 1)]);
    return d == 0;
}

/* The token goes into a cookie and a header: keep it to URL- and cookie-safe characters. */
static bool token_valid(const char *t) {
    size_t n = strlen(t);
    if (n < 8 || n > 256) return false;
    for (size_t i = 0; i < n; i++)
        if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~", t[i])) return false;
    return true;
}

static bool request_authorized(const dash_server *s, struct MHD_Connection *c) {
    if (!s->token) return true;
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    if (h && !strncmp(h, "Bearer ", 7) && token_equal(h + 7, s->token)) return true;
    const char *cookie = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, COOKIE_NAME);
    return token_equal(cookie, s->token);
}

typedef struct {
    dash_params p;
    char err[160];
    bool failed;
} params_ctx;

static enum MHD_Result collect_param(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
    params_ctx *pc = cls;
    (void)kind;
    if (pc->failed) return MHD_NO;
    if (dash_params_add(&pc->p, key ? key : "", value, pc->err, sizeof pc->err)) {
        pc->failed = true;
        return MHD_NO;
    }
    return MHD_YES;
}

/* libmicrohttpd calls this when it is done sending an answer: drops the response's reference. */
static void release_blob(void *cls) { dash_blob_release(cls); }

static enum MHD_Result serve_api(dash_server *s, struct MHD_Connection *c, const char *url) {
    params_ctx pc = {0};
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, collect_param, &pc);
    if (!pc.failed && dash_params_finish(&pc.p, pc.err, sizeof pc.err)) pc.failed = true;
    if (pc.failed) return send_error(c, MHD_HTTP_BAD_REQUEST, pc.err);
    dash_blob *b = NULL;
    int status = dash_engine_answer(s->engine, url, &pc.p, &b);
    if (!b) return MHD_NO;   /* out of memory: drop the connection */
    struct MHD_Response *r = MHD_create_response_from_buffer_with_free_callback_cls(
        dash_blob_len(b), (void *)dash_blob_data(b), release_blob, b);
    if (!r) {
        dash_blob_release(b);
        return MHD_NO;
    }
    return send_response(c, (unsigned)status, r, "application/json", false);
}

/* GET /?token=T: when T is right, sets an HttpOnly cookie and redirects to the bare page (so
 * the token leaves the address bar and the history). */
static enum MHD_Result serve_login(dash_server *s, struct MHD_Connection *c, const char *given) {
    if (!token_equal(given, s->token))
        return send_text(c, MHD_HTTP_UNAUTHORIZED, "wrong token\n", "text/plain; charset=utf-8");
    struct MHD_Response *r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (!r) return MHD_NO;
    char cookie[600];
    /* over HTTPS the browser must never send it back over plain HTTP */
    snprintf(cookie, sizeof cookie, COOKIE_NAME "=%s; Path=/; HttpOnly; SameSite=Strict%s", s->token,
             s->tls_cert.len ? "; Secure" : "");
    MHD_add_response_header(r, "Set-Cookie", cookie);
    MHD_add_response_header(r, "Location", "/");
    return send_response(c, MHD_HTTP_SEE_OTHER, r, "text/plain; charset=utf-8", false);
}

/* ---- flood guard ---- */

/* The operator's addresses: 127.0.0.1 and ::1 (also as ::ffff:127.0.0.1). Only these, not all
 * of 127/8, so a local attacker bound to another loopback address does not pass for one. */
static bool addr_is_operator(const struct sockaddr *sa) {
    static const unsigned char v6_loop[16] = {[15] = 1};
    static const unsigned char v4_mapped[16] = {[10] = 0xff, [11] = 0xff, [12] = 127, [15] = 1};
    if (sa->sa_family == AF_INET)
        return ((const struct sockaddr_in *)(const void *)sa)->sin_addr.s_addr == htonl(INADDR_LOOPBACK);
    if (sa->sa_family != AF_INET6) return false;
    const unsigned char *a = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr;
    return !memcmp(a, v6_loop, 16) || !memcmp(a, v4_mapped, 16);
}

/* Same client address (the port does not matter). */
static bool addr_same_host(const struct sockaddr *a, const struct sockaddr *b) {
    if (a->sa_family != b->sa_family) return false;
    if (a->sa_family == AF_INET)
        return ((const struct sockaddr_in *)(const void *)a)->sin_addr.s_addr ==
               ((const struct sockaddr_in *)(const void *)b)->sin_addr.s_addr;
    if (a->sa_family == AF_INET6)
        return !memcmp(((const struct sockaddr_in6 *)(const void *)a)->sin6_addr.s6_addr,
                       ((const struct sockaddr_in6 *)(const void *)b)->sin6_addr.s6_addr, 16);
    return false;
}

static void slot_link(flood_guard *g, conn_slot *sl) {
    sl->prev = g->tail;
    sl->next = NULL;
    if (g->tail) g->tail->next = sl;
    else g->head = sl;
    g->tail = sl;
    g->open++;
}

static void slot_unlink(flood_guard *g, conn_slot *sl) {
    if (sl->prev) sl->prev->next = sl->next;
    else g->head = sl->next;
    if (sl->next) sl->next->prev = sl->prev;
    else g->tail = sl->prev;
    g->open--;
}

#define PENDING_US (1000 * 1000)

/* Accept policy: an operator address only needs a free slot; any other address must leave the
 * operator's reserve free and stay under its own limit. The count is a linear walk of the open
 * connections: a few thousand comparisons per accept, far less than the accept itself. An
 * accepted one is listed at once as pending (fd -1), so that two worker threads accepting at
 * the same moment both see it; guard_open claims it, the reaper drops it if that never comes. */
static enum MHD_Result on_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen) {
    flood_guard *g = cls;
    if (addr_is_operator(addr)) return MHD_YES;
    conn_slot *sl = calloc(1, sizeof *sl);
    if (!sl || addrlen > sizeof sl->addr) {
        free(sl);
        return MHD_NO;
    }
    pthread_mutex_lock(&g->mu);
    bool ok = g->open < g->max_open - g->reserve;
    unsigned same = 0;
    for (const conn_slot *c = g->head; ok && c; c = c->next)
        if (addr_same_host((const struct sockaddr *)&c->addr, addr) && ++same >= g->per_ip) ok = false;
    if (ok) {
        sl->fd = -1;
        memcpy(&sl->addr, addr, addrlen);
        sl->addrlen = addrlen;
        sl->deadline_us = time_mono_us() + PENDING_US;
        slot_link(g, sl);
    }
    pthread_mutex_unlock(&g->mu);
    if (!ok) free(sl);
    return ok ? MHD_YES : MHD_NO;
}

/* The pending slot on_accept listed for this address, or NULL. */
static conn_slot *slot_pending(flood_guard *g, const struct sockaddr *addr) {
    for (conn_slot *c = g->head; c; c = c->next)
        if (c->fd == -1 && addr_same_host((const struct sockaddr *)&c->addr, addr)) return c;
    return NULL;
}

static conn_slot *slot_of(struct MHD_Connection *c) {
    const union MHD_ConnectionInfo *i = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return i ? i->socket_context : NULL;
}

/* Sets the deadline of c's current request (0 = none). */
static void guard_deadline(flood_guard *g, struct MHD_Connection *c, int64_t deadline_us) {
    conn_slot *sl = slot_of(c);
    if (!sl) return;
    pthread_mutex_lock(&g->mu);
    sl->deadline_us = deadline_us;
    pthread_mutex_unlock(&g->mu);
}

/* A connection opens: list it (or claim its pending slot) with the header deadline.
 * libmicrohttpd calls the CLOSED side before it closes the socket, so a listed fd is always
 * still this connection's. When no slot can be had the connection is simply not guarded (its
 * idle timeout still holds). */
static void guard_open(flood_guard *g, struct MHD_Connection *c, void **ctx) {
    const union MHD_ConnectionInfo *fd = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    const union MHD_ConnectionInfo *ad = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!fd || !ad || !ad->client_addr) return;
    const struct sockaddr *addr = ad->client_addr;
    conn_slot *fresh = calloc(1, sizeof *fresh);
    pthread_mutex_lock(&g->mu);
    conn_slot *sl = addr_is_operator(addr) ? NULL : slot_pending(g, addr);
    if (!sl && fresh) {
        sl = fresh;
        fresh = NULL;
        sl->addrlen = addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
        memcpy(&sl->addr, addr, sl->addrlen);
        slot_link(g, sl);
    }
    if (sl) {
        sl->fd = fd->connect_fd;
        sl->deadline_us = time_mono_us() + g->header_us;
    }
    pthread_mutex_unlock(&g->mu);
    free(fresh);
    *ctx = sl;
}

static void guard_close(flood_guard *g, void **ctx) {
    conn_slot *sl = *ctx;
    if (!sl) return;
    pthread_mutex_lock(&g->mu);
    slot_unlink(g, sl);
    pthread_mutex_unlock(&g->mu);
    free(sl);
    *ctx = NULL;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe) {
    dash_server *s = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) guard_open(&s->g, c, socket_context);
    else guard_close(&s->g, socket_context);
}

#define REAP_EVERY_US (100 * 1000)
#define REAP_MAX 200

/* Every REAP_EVERY_US, shuts down the sockets whose request is past its deadline (at most
 * REAP_MAX, oldest first: a flood's thousands of expiries are spread over a few ticks, so that
 * the worker threads closing them still get to a fresh request quickly) and drops the pending
 * slots that were never started. shutdown() (not close) leaves the fd to libmicrohttpd: its
 * thread sees the end of the stream and closes the connection the usual way. The list lock is
 * held meanwhile, so guard_close (which runs before the fd is closed) cannot race it. */
static void *guard_reaper(void *arg) {
    flood_guard *g = arg;
    pthread_mutex_lock(&g->mu);
    while (!g->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        long ns = ts.tv_nsec + REAP_EVERY_US * 1000L;
        ts.tv_sec += ns / 1000000000L;
        ts.tv_nsec = ns % 1000000000L;
        pthread_cond_timedwait(&g->cv, &g->mu, &ts);
        int64_t now = time_mono_us();
        unsigned shut = 0;
        for (conn_slot *c = g->head, *next; c && shut < REAP_MAX; c = next) {
            next = c->next;
            if (!c->deadline_us || now < c->deadline_us) continue;
            c->deadline_us = 0;
            if (c->fd >= 0) {
                shutdown(c->fd, SHUT_RDWR);
                shut++;
            } else {   /* accepted but never started: libmicrohttpd dropped it */
                slot_unlink(g, c);
                free(c);
            }
        }
    }
    pthread_mutex_unlock(&g->mu);
    return NULL;
}

/* Why raise the soft limit: each connection is an fd, and the default soft limit (often 1024)
 * is below the connection headroom a flood needs. Returns the connections the fd limit allows
 * (the limit minus FD_SPARE for the lake's files, libcurl and the epoll sets). */
#define FD_SPARE 64
static unsigned fd_limit_connections(void) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl)) return 1024 - FD_SPARE;
    if (rl.rlim_cur < rl.rlim_max) {
        struct rlimit up = {rl.rlim_max, rl.rlim_max};
        if (!setrlimit(RLIMIT_NOFILE, &up)) rl.rlim_cur = rl.rlim_max;
    }
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > 1000000) return 1000000;
    return rl.rlim_cur > 2 * FD_SPARE ? (unsigned)rl.rlim_cur - FD_SPARE : FD_SPARE;
}

/* Fills g from the options (after defaults) and starts the reaper. 0 or -1. */
static int guard_start(flood_guard *g, const dash_server_opts *o, char *err, size_t errlen) {
    g->max_open = o->max_connections;
    unsigned fit = fd_limit_connections();
    if (g->max_open > fit) {
        fprintf(stderr, "ecom dash: --max-connections %u is above what the file limit allows: using %u\n",
                g->max_open, fit);
        g->max_open = fit;
    }
    g->reserve = g->max_open / 8 ? g->max_open / 8 : 1;
    if (g->reserve >= g->max_open) g->reserve = 0;
    g->per_ip = o->per_ip_connections;
    g->header_us = (int64_t)o->header_timeout_s * 1000000;
    g->idle_us = (int64_t)o->timeout_s * 1000000;
    if (pthread_mutex_init(&g->mu, NULL) || pthread_cond_init(&g->cv, NULL) ||
        pthread_create(&g->reaper, NULL, guard_reaper, g)) {
        snprintf(err, errlen, "cannot start the connection reaper");
        return -1;
    }
    g->reaper_started = true;
    return 0;
}

static void guard_stop(flood_guard *g) {
    if (!g->reaper_started) return;
    pthread_mutex_lock(&g->mu);
    g->stop = true;
    pthread_cond_signal(&g->cv);
    pthread_mutex_unlock(&g->mu);
    pthread_join(g->reaper, NULL);
    g->reaper_started = false;
    while (g->head) {   /* after the daemon stopped only pending slots can be left */
        conn_slot *c = g->head;
        slot_unlink(g, c);
        free(c);
    }
    pthread_cond_destroy(&g->cv);
    pthread_mutex_destroy(&g->mu);
}

/* ---- Server-Sent Events: GET /api/stream ----
 * Why suspend/resume: a stream client waits most of its life, and a blocked reader would hold
 * one of the few worker threads. The reader writes the next event when the engine's change
 * counter moved (or a keepalive comment when the feed's notify came without a change); with
 * nothing to write it suspends its connection and returns 0. The engine's feed thread calls
 * sse_notify after every status fetch, which resumes every suspended client. The lock order is
 * sse_mu, then the engine's locks (dash_engine_live); notify is called with no engine lock. */

static ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max) {
    sse_conn *k = cls;
    dash_server *s = k->s;
    (void)pos;
    pthread_mutex_lock(&s->sse_mu);
    if (s->sse_closing) {
        pthread_cond_broadcast(&s->sse_cv);
        pthread_mutex_unlock(&s->sse_mu);
        return MHD_CONTENT_READER_END_OF_STREAM;
    }
    if (k->off == k->out.len) {
        buf_reset(&k->out);
        k->off = 0;
        buf_t ev = {0};
        uint64_t seq = dash_engine_live(s->engine, &ev);
        if (!k->hello || seq != k->sent)
            buf_printf(&k->out, "id: %llu\ndata: %s\n\n", (unsigned long long)seq, ev.len ? ev.data : "{}");
        else if (k->beat)
            buf_append_str(&k->out, ": keepalive\n\n");
        buf_free(&ev);
        k->hello = true;
        k->sent = seq;
        k->beat = false;
        if (k->out.len == 0) {
            k->suspended = true;
            MHD_suspend_connection(k->c);
            pthread_mutex_unlock(&s->sse_mu);
            return 0;
        }
    }
    size_t n = k->out.len - k->off < max ? k->out.len - k->off : max;
    memcpy(buf, k->out.data + k->off, n);
    k->off += n;
    pthread_mutex_unlock(&s->sse_mu);
    return (ssize_t)n;
}

static void sse_free(void *cls) {
    sse_conn *k = cls;
    dash_server *s = k->s;
    pthread_mutex_lock(&s->sse_mu);
    if (k->prev) k->prev->next = k->next;
    else s->sse_head = k->next;
    if (k->next) k->next->prev = k->prev;
    s->sse_n--;
    dash_engine_set_watchers(s->engine, s->sse_n);
    pthread_cond_broadcast(&s->sse_cv);
    pthread_mutex_unlock(&s->sse_mu);
    buf_free(&k->out);
    free(k);
}

/* The engine's feed calls this after every status fetch (a change or a heartbeat). */
static void sse_notify(void *ctx) {
    dash_server *s = ctx;
    pthread_mutex_lock(&s->sse_mu);
    for (sse_conn *k = s->sse_head; k; k = k->next) {
        if (!k->suspended) continue;
        k->suspended = false;
        k->beat = true;
        MHD_resume_connection(k->c);
    }
    pthread_mutex_unlock(&s->sse_mu);
}

static enum MHD_Result serve_sse(dash_server *s, struct MHD_Connection *c) {
    sse_conn *k = calloc(1, sizeof *k);
    if (!k) return MHD_NO;
    k->s = s;
    k->c = c;
    struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, sse_read, k, sse_free);
    if (!r) {
        free(k);
        return MHD_NO;
    }
    pthread_mutex_lock(&s->sse_mu);
    k->next = s->sse_head;
    if (s->sse_head) s->sse_head->prev = k;
    s->sse_head = k;
    s->sse_n++;
    dash_engine_set_watchers(s->engine, s->sse_n);
    pthread_mutex_unlock(&s->sse_mu);
    return send_response(c, MHD_HTTP_OK, r, "text/event-stream", false);
}

/* Before the daemon stops (libmicrohttpd forbids stopping with suspended connections): every
 * client is resumed and its reader ends the stream; waits for that, at most 2 s. */
static void sse_close_all(dash_server *s) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 2;
    pthread_mutex_lock(&s->sse_mu);
    s->sse_closing = true;
    for (;;) {
        bool waiting = false;
        for (sse_conn *k = s->sse_head; k; k = k->next) {
            if (k->suspended) {
                k->suspended = false;
                MHD_resume_connection(k->c);
            }
            waiting = true;
        }
        if (!waiting || pthread_cond_timedwait(&s->sse_cv, &s->sse_mu, &until)) break;
    }
    pthread_mutex_unlock(&s->sse_mu);
}

#define MAX_DROPPED_BODY (64 * 1024)

/* Per request: allocated by the URI callback (which sees the raw, undecoded URI), freed when the
 * request completes. */
typedef struct {
    bool started;        /* the access handler has been called once */
    bool bad_uri;        /* the raw URI holds a NUL, an encoded NUL or a control character */
    uintptr_t raw_end;   /* where the raw URI's string ends in libmicrohttpd's buffer */
    size_t body_bytes;   /* request body read and dropped */
} req_state;

/* Why look at the raw URI: libmicrohttpd decodes %00 into a NUL that silently cuts the path or a
 * parameter short ("last=15m%00junk" would read as "last=15m"); such requests are refused. A
 * request line without a URI comes as NULL. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c) {
    (void)cls;
    (void)c;
    req_state *rq = calloc(1, sizeof *rq);
    if (!rq) return NULL;
    if (!uri) {
        rq->bad_uri = true;
        return rq;
    }
    const char *p = uri;
    for (; *p; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch < 0x20 || ch == 0x7f) rq->bad_uri = true;
        if (ch == '%' && p[1] && p[2] && (p[1] == '0' || p[1] == '1') && strchr("0123456789abcdefABCDEF", p[2]))
            rq->bad_uri = true;   /* %00..%1f: control characters */
        if (ch == '%' && p[1] == '7' && (p[2] == 'f' || p[2] == 'F')) rq->bad_uri = true;
    }
    rq->raw_end = (uintptr_t)p;
    return rq;
}

/* Why compare addresses: a raw NUL byte in the request line ends the URI string the callbacks
 * see ("GET /api/health\0junk HTTP/1.1" reads as /api/health). libmicrohttpd keeps the line in
 * one buffer and ends the URI by writing a NUL over the space before the version, so the URI's
 * end is right before the version string exactly when the URI held no NUL of its own. A
 * request without a version (HTTP/0.9) has nothing to check against and is refused too: if a
 * later libmicrohttpd lays the line out otherwise, requests are refused, never let through. */
static bool uri_has_raw_nul(const req_state *rq, const char *version) {
    return !version || !*version || (uintptr_t)version != rq->raw_end + 1;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **req_cls, enum MHD_RequestTerminationCode toe) {
    dash_server *s = cls;
    (void)toe;
    free(*req_cls);
    *req_cls = NULL;
    /* a kept-alive connection must bring its next request within the idle timeout */
    guard_deadline(&s->g, c, time_mono_us() + s->g.idle_us);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **req_cls) {
    dash_server *s = cls;
    (void)upload_data;
    req_state *rq = *req_cls;
    if (!rq) return MHD_NO;   /* the URI callback could not allocate: drop the connection */
    bool is_api = dash_engine_is_api(url);
    bool get = !strcmp(method, MHD_HTTP_METHOD_GET) || !strcmp(method, MHD_HTTP_METHOD_HEAD);
    /* The first call only announces the request: answering then makes libmicrohttpd close the
     * connection (the request might still have a body), which would defeat keep-alive, and a
     * close with an unread body can reset the connection before the client reads the answer.
     * So bodies are read and dropped, up to a small bound, and the answer comes after. */
    if (!rq->started) {
        rq->started = true;
        if (uri_has_raw_nul(rq, version)) rq->bad_uri = true;
        return MHD_YES;
    }
    if (*upload_data_size) {
        rq->body_bytes += *upload_data_size;
        *upload_data_size = 0;
        if (rq->body_bytes <= MAX_DROPPED_BODY) return MHD_YES;
    }
    guard_deadline(&s->g, c, 0);   /* the request is complete: answering it has no deadline */
    if (!get) {
        struct MHD_Response *r;
        if (is_api) {
            static const char body[] = "{\"error\":\"method not allowed\"}";
            r = MHD_create_response_from_buffer(sizeof body - 1, (void *)body, MHD_RESPMEM_PERSISTENT);
        } else {
            r = MHD_create_response_from_buffer(19, (void *)"method not allowed\n", MHD_RESPMEM_PERSISTENT);
        }
        if (!r) return MHD_NO;
        MHD_add_response_header(r, "Allow", "GET, HEAD");
        return send_response(c, MHD_HTTP_METHOD_NOT_ALLOWED, r,
                             is_api ? "application/json" : "text/plain; charset=utf-8", false);
    }
    if (rq->body_bytes) return send_error(c, MHD_HTTP_BAD_REQUEST, "a GET request has no body");
    if (rq->bad_uri) return send_error(c, MHD_HTTP_BAD_REQUEST, "bad characters in the URL");
    if (s->token && !strcmp(url, "/")) {
        const char *given = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "token");
        if (given) return serve_login(s, c, given);
    }
    if (!request_authorized(s, c)) {
        if (is_api) return send_error(c, MHD_HTTP_UNAUTHORIZED, "missing or wrong token");
        return send_text(c, MHD_HTTP_UNAUTHORIZED,
                         "This dashboard needs its token: open /?token=YOUR_TOKEN once (it sets a cookie).\n",
                         "text/plain; charset=utf-8");
    }
    if (!strcmp(url, "/api/stream")) return serve_sse(s, c);
    if (is_api) return serve_api(s, c, url);
    dash_asset a;
    if (!dash_asset_find(url, &a)) return send_text(c, MHD_HTTP_NOT_FOUND, "not found\n", "text/plain; charset=utf-8");
    struct MHD_Response *r = MHD_create_response_from_buffer(a.len, (void *)a.data, MHD_RESPMEM_PERSISTENT);
    return send_response(c, MHD_HTTP_OK, r, a.content_type, true);
}

#define LOG_BURST 10
#define LOG_WINDOW_US (10 * 1000 * 1000)

/* Why a budget: under a flood libmicrohttpd reports every dropped connection, thousands a
 * second, and a blocked or slow stderr would stall its threads. At most LOG_BURST messages per
 * LOG_WINDOW_US; how many were left out is said when the next window opens. */
static void mhd_log(void *cls, const char *fmt, va_list ap) {
    log_budget *lb = cls;
    /* A Server-Sent-Events client (/api/stream, the only chunked answer) that closes its page
     * makes the next push fail to send: a normal disconnect, not an error (libmicrohttpd then
     * closes the connection and sse_free runs). Said nothing of, so stderr keeps real errors. */
    static const char gone[] = "Failed to send the chunked response body";
    if (!strncmp(fmt, gone, sizeof gone - 1)) return;
    pthread_mutex_lock(&lb->mu);
    int64_t now = time_mono_us();
    if (now - lb->window_start >= LOG_WINDOW_US) {
        if (lb->dropped) fprintf(stderr, "ecom dash: (%u more libmicrohttpd messages left out)\n", lb->dropped);
        lb->window_start = now;
        lb->used = lb->dropped = 0;
    }
    bool say = lb->used < LOG_BURST;
    if (say) lb->used++;
    else lb->dropped++;
    pthread_mutex_unlock(&lb->mu);
    if (!say) return;
    fputs("ecom dash: ", stderr);
    vfprintf(stderr, fmt, ap);
}

/* Splits "HOST:PORT" / "[V6]:PORT" and resolves it (numeric hosts and "localhost" only, no DNS
 * wait). 0 or -1. */
static int listen_resolve(const char *listen, struct sockaddr_storage *sa, socklen_t *salen, char *err,
                          size_t errlen) {
    char host[256], port[16];
    const char *colon = strrchr(listen, ':');
    if (!colon || colon == listen || strlen(colon + 1) == 0 || strlen(colon + 1) >= sizeof port ||
        (size_t)(colon - listen) >= sizeof host) {
        snprintf(err, errlen, "bad --listen '%s' (want HOST:PORT)", listen);
        return -1;
    }
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = 0;
    snprintf(port, sizeof port, "%s", colon + 1);
    int64_t pn;
    if (parse_int64(port, &pn) || pn < 0 || pn > 65535) {
        snprintf(err, errlen, "bad port in --listen '%s'", listen);
        return -1;
    }
    char *h = host;
    size_t hl = strlen(h);
    if (h[0] == '[' && hl > 2 && h[hl - 1] == ']') {
        h[hl - 1] = 0;
        h++;
    }
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | (strcmp(h, "localhost") ? AI_NUMERICHOST : 0);
    int rc = getaddrinfo(h, port, &hints, &res);
    if (rc || !res) {
        snprintf(err, errlen, "bad host in --listen '%s': %s", listen, rc ? gai_strerror(rc) : "no address");
        return -1;
    }
    memcpy(sa, res->ai_addr, res->ai_addrlen);
    *salen = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

/* Reads the PEM files named by --tls-cert/--tls-key into s (both or neither). 0 or -1. */
static int tls_load(dash_server *s, const dash_server_opts *o, char *err, size_t errlen) {
    if (!o->tls_cert && !o->tls_key) return 0;
    if (!o->tls_cert || !o->tls_key || !*o->tls_cert || !*o->tls_key) {
        snprintf(err, errlen, "bad TLS options: give both --tls-cert and --tls-key");
        return -1;
    }
    if (!MHD_is_feature_supported(MHD_FEATURE_TLS)) {
        snprintf(err, errlen, "--tls-cert: this libmicrohttpd was built without TLS (GnuTLS)");
        return -1;
    }
    const char *names[2] = {"--tls-cert", "--tls-key"}, *paths[2] = {o->tls_cert, o->tls_key};
    buf_t *bufs[2] = {&s->tls_cert, &s->tls_key};
    for (int i = 0; i < 2; i++) {
        if (file_read_all(paths[i], bufs[i]) || bufs[i]->len == 0 || buf_append_char(bufs[i], 0)) {
            snprintf(err, errlen, "%s %s: %s", names[i], paths[i], errno ? strerror(errno) : "empty file");
            return -1;
        }
        if (!strstr(bufs[i]->data, "-----BEGIN ")) {
            snprintf(err, errlen, "%s %s: not a PEM file", names[i], paths[i]);
            return -1;
        }
    }
    return 0;
}

static void server_free(dash_server *s) {
    guard_stop(&s->g);
    pthread_mutex_destroy(&s->log.mu);
    pthread_mutex_destroy(&s->sse_mu);
    pthread_cond_destroy(&s->sse_cv);
    buf_free(&s->tls_cert);
    buf_free(&s->tls_key);
    free(s->token);
    free(s);
}

/* The options with every 0 / NULL replaced by its default (dash.h). */
static dash_server_opts server_opts_defaults(const dash_server_opts *opts) {
    dash_server_opts o = opts ? *opts : (dash_server_opts){0};
    if (!o.listen) o.listen = "127.0.0.1:8501";
    if (!o.max_connections) o.max_connections = 4096;
    if (!o.per_ip_connections) o.per_ip_connections = 256;
    if (!o.timeout_s) o.timeout_s = 15;
    if (!o.header_timeout_s) o.header_timeout_s = 5;
    if (!o.threads) o.threads = 2;
    if (!o.memory_limit) o.memory_limit = 64 * 1024;
    return o;
}

/* A server not yet listening: its locks, TLS material, token and flood guard. NULL with err. */
static dash_server *server_new(dash_engine *e, const dash_server_opts *o, char *err, size_t errlen) {
    dash_server *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->engine = e;
    s->log.mu = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_init(&s->sse_mu, NULL);
    pthread_cond_init(&s->sse_cv, NULL);
    errno = 0;
    if (tls_load(s, o, err, errlen)) goto fail;
    if (o->auth_token && *o->auth_token && !(s->token = strdup(o->auth_token))) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (guard_start(&s->g, o, err, errlen)) goto fail;
    return s;
fail:
    server_free(s);
    return NULL;
}

/* Starts libmicrohttpd's daemon on sa (its threads, limits and TLS) and records the port bound.
 * 0, or -1 with err naming --listen (or --tls-cert/--tls-key). */
static int server_listen(dash_server *s, const dash_server_opts *o, const struct sockaddr_storage *sa, char *err,
                         size_t errlen) {
    bool tls = s->tls_cert.len > 0;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME;
    if (sa->ss_family == AF_INET6) flags |= MHD_USE_IPv6;
    if (tls) flags |= MHD_USE_TLS;
    s->d = MHD_start_daemon(flags, 0, on_accept, &s->g, on_request, s,
                            MHD_OPTION_EXTERNAL_LOGGER, mhd_log, &s->log,
                            MHD_OPTION_URI_LOG_CALLBACK, on_uri, NULL,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                            MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
                            MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)sa,
                            MHD_OPTION_THREAD_POOL_SIZE, (unsigned)o->threads,
                            MHD_OPTION_CONNECTION_LIMIT, s->g.max_open,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)o->timeout_s,
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)o->memory_limit,
                            /* with TLS off these two are skipped: MHD_OPTION_END ends the list */
                            tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, s->tls_cert.data,
                            MHD_OPTION_HTTPS_MEM_KEY, s->tls_key.data,
                            MHD_OPTION_END);
    if (!s->d) {
        if (tls)
            snprintf(err, errlen, "cannot serve HTTPS on %s: is --tls-cert a PEM certificate and --tls-key its "
                     "unencrypted private key? (or the address is in use)", o->listen);
        else
            snprintf(err, errlen, "cannot listen on %s (address in use or not available)", o->listen);
        return -1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : 0;
    return 0;
}

dash_server *dash_server_start(dash_engine *e, const dash_server_opts *opts, char *err, size_t errlen) {
    dash_server_opts o = server_opts_defaults(opts);
    struct sockaddr_storage sa;
    socklen_t salen;
    if (listen_resolve(o.listen, &sa, &salen, err, errlen)) return NULL;
    if (o.auth_token && *o.auth_token && !token_valid(o.auth_token)) {
        snprintf(err, errlen, "bad --auth-token: use 8..256 characters from A-Z a-z 0-9 - _ . ~");
        return NULL;
    }
    dash_server *s = server_new(e, &o, err, errlen);
    if (!s) return NULL;
    if (server_listen(s, &o, &sa, err, errlen)) {
        server_free(s);
        return NULL;
    }
    if (dash_engine_feed_start(e, sse_notify, s, err, errlen)) {
        MHD_stop_daemon(s->d);
        server_free(s);
        return NULL;
    }
    return s;
}

uint16_t dash_server_port(const dash_server *s) { return s->port; }

void dash_server_stop(dash_server *s) {
    if (!s) return;
    dash_engine_feed_stop(s->engine); /* no notify after this */
    sse_close_all(s);
    MHD_stop_daemon(s->d);
    server_free(s);
}
