/* cmd_gen.c — `ecom gen`: runs the shopper simulator (src/gen) and writes its events as NDJSON
 * and/or to Kafka (key = user_id, topic by event_type). See docs/events.md. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "events/events.h"
#include "gen/gen.h"
#include "kafka/kafka.h"
#include "util/util.h"

/* gen_stop: the first SIGINT/SIGTERM (stop generating, deliver what is owed); gen_abort: the
 * second (give up waiting for Kafka; what is undelivered is reported and gen exits 1). */
static volatile sig_atomic_t gen_stop, gen_abort;

static void gen_on_signal(int sig) {
    (void)sig;
    if (gen_stop) gen_abort = 1;
    gen_stop = 1;
}

/* Backpressure bound on messages sent and not yet acknowledged: what generation may run ahead of
 * Kafka. Real time: about 2 s of events (at least 1,000) so an outage stops event time within
 * seconds; as fast as possible: 100,000 (~40 MB), which keeps librdkafka's batches full. */
#define GEN_UNACKED_MIN 1000
#define GEN_UNACKED_MAX 100000

static const char gen_usage[] =
    "usage: ecom gen [flags]\n"
    "Simulates shoppers and emits page_view, add_to_cart, remove_from_cart and purchase events.\n"
    "Outputs: --out FILE|- (NDJSON) and/or --brokers LIST (Kafka topics by event type, key =\n"
    "user_id). With neither, the embedded broker's address (from `ecom broker`) is used.\n"
    "Time: the wall clock at --rate events/s, or with --start a simulated clock from TIME, as\n"
    "fast as possible or --speedup X times real time. Runs until --count, --duration (simulated\n"
    "time with --start) or SIGINT/SIGTERM.";

typedef struct {
    int64_t users, count, seed, duration, start, late_max, timeout, connect_timeout;
    double rate, speedup, late_frac, dup_frac, bad_frac;
    const char *out, *brokers, *ack_log, *topics[TOPIC_COUNT];
    const char *const *kafka_settings; /* -X / kafka.* / $ECOM_KAFKA_CONF, owned by the flags_store */
    bool quiet, seen_start, seen_speedup, seen_seed, seen_rate, seen_connect;
} gen_opts;

typedef struct {
    size_t len;             /* the line's bytes in the arena, '\n' included */
    unsigned char state;    /* PEND_* */
} gen_pend_entry;

typedef struct {
    buf_t arena;            /* lines in flight, in send order, from arena_head on */
    size_t arena_head;
    gen_pend_entry *e;      /* ring of cap (a power of 2) entries, n used from head */
    size_t cap, head, n;
    uint64_t head_seq, next_seq; /* tag of e[head]; tag of the next line */
} gen_pending;

typedef struct {
    int fd;                 /* NDJSON output, -1 if none */
    int ufd;                /* FILE.undelivered, -1 until a delivery fails */
    FILE *acks;             /* --ack-log, NULL if none */
    char upath[4096];
    gen_pending pend;
    uint64_t undelivered;
    bool close_fd;
    buf_t obuf;
    kafka_producer *kp;
    const gen_opts *o;
    uint64_t per_topic[TOPIC_COUNT];   /* generated */
    uint64_t acked[TOPIC_COUNT];       /* acknowledged by Kafka */
    uint64_t lines;
    bool broken_pipe, write_failed;
    char err[512];
} gen_sink;

/* Writes out the NDJSON buffer. A closed pipe (`ecom gen --out - | head`) ends the run
 * quietly instead of failing it. */
static int sink_flush(gen_sink *k) {
    if (k->fd < 0 || k->obuf.len == 0) return 0;
    int r = write_all(k->fd, k->obuf.data, k->obuf.len);
    buf_reset(&k->obuf);
    if (r != 0) {
        if (errno == EPIPE) {
            k->broken_pipe = true;
            return -1;
        }
        snprintf(k->err, sizeof k->err, "write: %s", strerror(errno));
        return -1;
    }
    return 0;
}

/* Appends one NDJSON line, writing the buffer out when it is large. */
static int sink_ndjson(gen_sink *k, const void *data, size_t len) {
    if (k->fd < 0 || k->broken_pipe || k->write_failed) return 0;
    if (buf_append(&k->obuf, data, len) || buf_append_char(&k->obuf, '\n')) {
        snprintf(k->err, sizeof k->err, "out of memory");
        k->write_failed = true;
        return -1;
    }
    if (k->obuf.len >= (1u << 16) && sink_flush(k)) {
        if (!k->broken_pipe) k->write_failed = true;
        return -1;
    }
    return 0;
}

/* ---- the NDJSON copy with Kafka: exactly what Kafka acknowledged, in generation order ----
 * Each line sent is kept (in `arena`, in send order, with its length and state in a ring of
 * entries tagged by a sequence number) until its delivery report comes; then the acknowledged
 * prefix of the ring goes to the NDJSON file, and a failed line to FILE.undelivered instead.
 * Memory is bounded by the backpressure bound (lines in flight). */
enum { PEND_WAIT = 0, PEND_ACK, PEND_FAIL };

static int pend_grow(gen_pending *q) {
    size_t cap = q->cap ? q->cap * 2 : 1024;
    gen_pend_entry *e = malloc(cap * sizeof *e);
    if (!e) return -1;
    for (size_t i = 0; i < q->n; i++) e[i] = q->e[(q->head + i) & (q->cap - 1)];
    free(q->e);
    q->e = e, q->cap = cap, q->head = 0;
    return 0;
}

/* Keeps one line (before it is sent); its tag is the returned sequence number. */
static int pend_push(gen_pending *q, const buf_t *line, uint64_t *tag) {
    if (q->n == q->cap && pend_grow(q)) return -1;
    if (q->arena_head > (1u << 20) && q->arena_head > q->arena.len / 2) { /* compact */
        memmove(q->arena.data, q->arena.data + q->arena_head, q->arena.len - q->arena_head);
        q->arena.len -= q->arena_head;
        q->arena_head = 0;
    }
    if (buf_append(&q->arena, line->data, line->len) || buf_append_char(&q->arena, '\n')) return -1;
    q->e[(q->head + q->n++) & (q->cap - 1)] = (gen_pend_entry){.len = line->len + 1, .state = PEND_WAIT};
    *tag = q->next_seq++;
    return 0;
}

/* Undoes the last push (its send failed: it was never in flight). */
static void pend_pop_last(gen_pending *q) {
    q->n--;
    q->next_seq--;
    q->arena.len -= q->e[(q->head + q->n) & (q->cap - 1)].len;
}

/* Writes out the settled prefix: acknowledged lines to the NDJSON buffer, failed ones to
 * FILE.undelivered (opened on first use). */
static void pend_settle(gen_sink *k) {
    gen_pending *q = &k->pend;
    while (q->n && q->e[q->head].state != PEND_WAIT) {
        gen_pend_entry *e = &q->e[q->head];
        const char *line = q->arena.data + q->arena_head;
        if (e->state == PEND_ACK) {
            sink_ndjson(k, line, e->len - 1);
        } else {
            if (k->ufd < 0 && k->upath[0]) k->ufd = open(k->upath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
            if (k->upath[0] && (k->ufd < 0 || write_all(k->ufd, line, e->len))) k->write_failed = true;
            k->undelivered++;
        }
        q->arena_head += e->len;
        q->head = (q->head + 1) & (q->cap - 1);
        q->n--;
        q->head_seq++;
    }
}

/* One line of --ack-log: where Kafka says it stored the event (the evidence that tells a
 * message the broker lost from one gen never had acknowledged). */
static void sink_ack_log(gen_sink *k, const char *topic, int32_t partition, int64_t offset, const void *val,
                         size_t vlen) {
    static const char key[] = "\"event_id\":\"";
    const char *v = val, *id = memmem(v, vlen, key, sizeof key - 1);
    size_t idlen = 0;
    if (id) {
        id += sizeof key - 1;
        const char *q = memchr(id, '"', vlen - (size_t)(id - v));
        idlen = q ? (size_t)(q - id) : 0;
    }
    if (fprintf(k->acks, "%s\t%d\t%lld\t%.*s\n", topic, (int)partition, (long long)offset, (int)idlen,
                id ? id : "") < 0)
        k->write_failed = true;
}

/* Delivery report: counts per topic, and settles the line's NDJSON fate. */
static void sink_on_delivery(void *ctx, uint64_t tag, int ok, const char *topic, int32_t partition, int64_t offset,
                             const void *val, size_t vlen, const char *why) {
    (void)why;
    gen_sink *k = ctx;
    if (ok && k->acks) sink_ack_log(k, topic, partition, offset, val, vlen);
    for (int i = 0; ok && i < TOPIC_COUNT; i++)
        if (!strcmp(topic, k->o->topics[i])) {
            k->acked[i]++;
            break;
        }
    if (k->fd < 0) return;
    gen_pending *q = &k->pend;
    if (tag < q->head_seq || tag - q->head_seq >= q->n) return; /* not ours: cannot happen */
    q->e[(q->head + (tag - q->head_seq)) & (q->cap - 1)].state = ok ? PEND_ACK : PEND_FAIL;
    pend_settle(k);
}

static int sink_put(gen_sink *k, const gen_opts *o, const buf_t *line, const gen_meta *m) {
    if (!k->kp) {
        if (sink_ndjson(k, line->data, line->len)) return -1;
    } else {
        uint64_t tag = 0;
        if (k->write_failed) return -1;
        if (k->fd >= 0 && pend_push(&k->pend, line, &tag)) {
            snprintf(k->err, sizeof k->err, "out of memory");
            return -1;
        }
        if (kafka_producer_send_tagged(k->kp, o->topics[m->topic], m->key, m->key_len, line->data, line->len, tag,
                                       k->err, sizeof k->err)) {
            if (k->fd >= 0) pend_pop_last(&k->pend);
            return -1;
        }
    }
    k->per_topic[m->topic]++;
    k->lines++;
    return 0;
}

static void status_line(const gen_sink *k, const gen_opts *o, double rate, const char *prefix) {
    kafka_producer_stats ks = {0};
    if (k->kp) kafka_producer_stats_get(k->kp, &ks);
    fprintf(stderr, "ecom gen: %s%llu events (%.0f/s)  %s=%llu %s=%llu %s=%llu", prefix,
            (unsigned long long)k->lines, rate, o->topics[0], (unsigned long long)k->per_topic[0], o->topics[1],
            (unsigned long long)k->per_topic[1], o->topics[2], (unsigned long long)k->per_topic[2]);
    if (k->kp)
        fprintf(stderr, "  delivered=%llu (%llu/%llu/%llu) failed=%llu unacked=%llu", (unsigned long long)ks.delivered,
                (unsigned long long)k->acked[0], (unsigned long long)k->acked[1], (unsigned long long)k->acked[2],
                (unsigned long long)ks.failed, (unsigned long long)(ks.sent - ks.delivered - ks.failed));
    fputc('\n', stderr);
}

static void sleep_us(int64_t us) {
    if (us <= 0) return;
    struct timespec ts = {(time_t)(us / 1000000), (long)(us % 1000000) * 1000};
    nanosleep(&ts, NULL); /* an interrupting signal just ends the nap early */
}

/* Parses and checks the flags; 0, FLAGS_HELP or FLAGS_ERROR (message printed). */
static int gen_parse(int argc, char **argv, gen_opts *o, flags_store *fst) {
    *o = (gen_opts){.users = 10000, .rate = 100, .late_max = 60 * TIME_US_PER_SEC,
                    .connect_timeout = 10 * TIME_US_PER_SEC, .topics = {"page_views", "cart_events", "orders"}};
    flag_spec specs[] = {
        {"users", FLAG_INT, &o->users, "number of shoppers (default 10000)", 1, 100000000, NULL},
        {"rate", FLAG_DOUBLE, &o->rate, "events per second (default 100; with --start: of event time)", 1e-6, 1e9, &o->seen_rate},
        {"count", FLAG_INT, &o->count, "stop after N lines (default: no limit)", 0, 9e18, NULL},
        {"duration", FLAG_DURATION, &o->duration, "stop after this long (simulated time with --start)", 0, 0, NULL},
        {"start", FLAG_TIME, &o->start, "simulated clock from TIME, as fast as possible", 0, 0, &o->seen_start},
        {"speedup", FLAG_DOUBLE, &o->speedup, "with --start: run X times faster than real time", 1e-6, 1e12, &o->seen_speedup},
        {"seed", FLAG_INT, &o->seed, "PRNG seed: same seed + --start = byte-identical output", 0, 9e18, &o->seen_seed},
        {"late-frac", FLAG_DOUBLE, &o->late_frac, "fraction of events emitted late, out of order (default 0)", 0, 1, NULL},
        {"late-max", FLAG_DURATION, &o->late_max, "maximum lateness (default 60s)", 0, 0, NULL},
        {"dup-frac", FLAG_DOUBLE, &o->dup_frac, "fraction of events re-sent with the same event_id (default 0)", 0, 1, NULL},
        {"bad-frac", FLAG_DOUBLE, &o->bad_frac, "fraction of lines made invalid (default 0)", 0, 1, NULL},
        {"out", FLAG_STR, &o->out, "write NDJSON to FILE, or - for stdout", 0, 0, NULL},
        {"ack-log", FLAG_STR, &o->ack_log, "write topic, partition, offset, event_id of each acknowledged event to FILE (evidence)", 0, 0, NULL},
        {"brokers", FLAG_STR, &o->brokers, "Kafka bootstrap servers host:port[,...]", 0, 0, NULL},
        {"topic-views", FLAG_STR, &o->topics[0], "topic for page_view (default page_views)", 0, 0, NULL},
        {"topic-cart", FLAG_STR, &o->topics[1], "topic for cart events (default cart_events)", 0, 0, NULL},
        {"topic-orders", FLAG_STR, &o->topics[2], "topic for purchases (default orders)", 0, 0, NULL},
        {"timeout", FLAG_DURATION, &o->timeout, "Kafka delivery time limit per event (default: none, retry until delivered)", 0, 0, NULL},
        {"connect-timeout", FLAG_DURATION, &o->connect_timeout, "wait for a first broker answer and the topics (default 10s, at most --timeout)", 0, 0, &o->seen_connect},
        {"quiet", FLAG_BOOL, &o->quiet, "no status line on stderr", 0, 0, NULL},
        CMD_KAFKA_FLAGS(fst->kafka, ""),
        {0},
    };
    char err[512];
    const char *pos[1];
    int np = 0;
    int r = flags_parse(specs, argc, argv, pos, 0, &np, fst, err, sizeof err);
    if (r == FLAGS_HELP) {
        flags_usage(stdout, gen_usage, specs);
        return FLAGS_HELP;
    }
    if (r == FLAGS_ERROR) {
        fprintf(stderr, "ecom gen: %s\n", err);
        return FLAGS_ERROR;
    }
    const char *bad = NULL;
    if (o->seen_speedup && !o->seen_start) bad = "--speedup needs --start";
    else if (o->seen_start && (o->start < 946684800000000LL || o->start >= 4102444800000000LL))
        bad = "--start must be in [2000-01-01, 2100-01-01)";
    else if (o->late_frac > 0 && o->late_max <= 0) bad = "--late-max must be > 0 with --late-frac";
    else if (o->timeout < 0) bad = "--timeout must be > 0";
    else if (o->connect_timeout <= 0) bad = "--connect-timeout must be > 0";
    else if (o->out && !*o->out) bad = "--out needs a file name or -";
    else if (o->brokers && !*o->brokers) bad = "--brokers is empty";
    for (int i = 0; i < TOPIC_COUNT && !bad; i++)
        if (!*o->topics[i]) bad = "topic names must not be empty";
    if (bad) {
        fprintf(stderr, "ecom gen: %s\n", bad);
        return FLAGS_ERROR;
    }
    if (o->timeout > 0 && !o->seen_connect && o->timeout < o->connect_timeout) o->connect_timeout = o->timeout;
    o->kafka_settings = kv_list_items(&fst->kafka);
    if (!o->seen_seed) o->seed = (int64_t)((uint64_t)time_now_us() ^ ((uint64_t)getpid() << 32)) & INT64_MAX;
    return 0;
}

/* Opens the outputs. 0, or an exit code (2 bad usage, 1 runtime) with a message printed. */
static int gen_open(gen_opts *o, gen_sink *k, char *addr, size_t addrlen) {
    k->fd = -1;
    k->ufd = -1;
    k->o = o;
    if (!o->out && !o->brokers) {
        char err[512];
        if (kafka_default_brokers(addr, addrlen, err, sizeof err)) {
            fprintf(stderr, "ecom gen: no --out and no --brokers: %s\n", err);
            return 2;
        }
        o->brokers = addr;
    }
    if (o->out) {
        if (!strcmp(o->out, "-")) {
            k->fd = STDOUT_FILENO;
        } else {
            k->fd = open(o->out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
            if (k->fd < 0) {
                fprintf(stderr, "ecom gen: %s: %s\n", o->out, strerror(errno));
                return 1;
            }
            k->close_fd = true;
            snprintf(k->upath, sizeof k->upath, "%s.undelivered", o->out);
            unlink(k->upath); /* a stale one from an earlier run would lie */
        }
    }
    if (o->ack_log && !(k->acks = fopen(o->ack_log, "we"))) {
        fprintf(stderr, "ecom gen: %s: %s\n", o->ack_log, strerror(errno));
        return 1;
    }
    if (o->brokers) {
        char err[512];
        kafka_producer_config pc = {.brokers = o->brokers, .connect_timeout_us = o->connect_timeout,
                                    .delivery_timeout_us = o->timeout, .settings = o->kafka_settings,
                                    .topics = o->topics, .ntopics = TOPIC_COUNT, .on_delivery = sink_on_delivery,
                                    .ctx = k, .stop = &gen_abort};
        k->kp = kafka_producer_open(&pc, err, sizeof err);
        if (!k->kp) {
            fprintf(stderr, "ecom gen: %s\n", err);
            return 1;
        }
    }
    return 0;
}

/* Backpressure: while Kafka has not acknowledged `bound` messages, generation waits (status
 * lines go on saying so). Returns how long it waited, so that pacing resumes at --rate instead
 * of bursting to catch up; event time never runs ahead of what Kafka accepted by more than the
 * bound. A stop signal ends the wait (what is owed is still delivered at the end). */
static int64_t gen_backpressure(gen_sink *k, const gen_opts *o, uint64_t bound, int64_t *last_status) {
    if (!k->kp || kafka_producer_unacked(k->kp) < bound) return 0;
    int64_t t0 = time_mono_us();
    while (!gen_stop && kafka_producer_wait_unacked(k->kp, bound, 200 * TIME_US_PER_MS)) {
        int64_t now = time_mono_us();
        if (!o->quiet && now - *last_status >= 2 * TIME_US_PER_SEC) {
            status_line(k, o, 0, "waiting for Kafka: ");
            *last_status = now;
        }
    }
    return time_mono_us() - t0;
}

static uint64_t gen_unacked_bound(const gen_opts *o) {
    if (o->seen_start && !o->seen_speedup) return GEN_UNACKED_MAX;
    double r = o->seen_start ? o->rate * o->speedup * 2 : o->rate * 2;
    return r < GEN_UNACKED_MIN ? GEN_UNACKED_MIN : r > GEN_UNACKED_MAX ? GEN_UNACKED_MAX : (uint64_t)r;
}

/* The main loop: pace, generate, write; until count, duration or a signal. */
static int gen_loop(gen *g, const gen_opts *o, gen_sink *k) {
    buf_t line = {0};
    gen_meta meta;
    bool simulated = o->seen_start;
    int64_t t0 = time_mono_us(), last_status = t0;
    int64_t pace0 = t0; /* pacing origin, moved on by the time spent waiting for Kafka */
    uint64_t last_lines = 0, bound = gen_unacked_bound(o);
    int rc = 0;
    while (!gen_stop) {
        pace0 += gen_backpressure(k, o, bound, &last_status);
        if (gen_stop) break;
        if (o->count && k->lines >= (uint64_t)o->count) break;
        int64_t now = time_mono_us();
        if (o->duration && (simulated ? gen_clock(g) - o->start >= o->duration : now - t0 >= o->duration)) break;
        if (!o->quiet && now - last_status >= 2 * TIME_US_PER_SEC) {
            status_line(k, o, (double)(k->lines - last_lines) * 1e6 / (double)(now - last_status), "");
            last_status = now;
            last_lines = k->lines;
        }
        /* pacing: wall clock at --rate, or simulated time at --speedup x real time */
        int64_t ahead = 0;
        if (!simulated) ahead = pace0 + (int64_t)((double)k->lines * 1e6 / o->rate) - now;
        else if (o->seen_speedup) ahead = (int64_t)((double)(gen_clock(g) - o->start) / o->speedup) - (now - pace0);
        if (ahead > 0) {
            if (k->kp) kafka_producer_poll(k->kp);
            sleep_us(ahead < 100000 ? ahead : 100000);
            continue;
        }
        /* a batch between clock checks keeps the fast path free of syscalls */
        for (int i = 0; i < 256 && !(o->count && k->lines >= (uint64_t)o->count); i++) {
            if (simulated && o->duration && gen_clock(g) - o->start >= o->duration) break;
            buf_reset(&line);
            if (gen_next(g, simulated ? -1 : time_now_us(), &line, &meta)) {
                snprintf(k->err, sizeof k->err, "out of memory");
                rc = 1;
                goto out;
            }
            /* --duration with --start: events strictly before start + duration */
            if (simulated && o->duration && meta.ts_us >= o->start + o->duration &&
                (meta.kind == GEN_FRESH || meta.kind == GEN_BAD))
                goto drain;
            if (sink_put(k, o, &line, &meta)) {
                rc = 1;
                goto out;
            }
            if (!simulated || o->seen_speedup) break;
        }
    }
drain:
    /* stopped by time or signal: what is held back (late, duplicates) is still owed */
    if (!(o->count && k->lines >= (uint64_t)o->count)) {
        for (;;) {
            buf_reset(&line);
            int r = gen_drain(g, &line, &meta);
            if (r == 0) break;
            if (r < 0 || sink_put(k, o, &line, &meta)) {
                rc = 1;
                break;
            }
            if (o->count && k->lines >= (uint64_t)o->count) break;
        }
    }
out:
    buf_free(&line);
    if (sink_flush(k) && !k->broken_pipe) rc = 1;
    if (k->broken_pipe) rc = 0;
    return rc;
}

/* Waits for every event in flight: with --timeout, librdkafka fails what it cannot deliver in
 * time; without, it retries until the broker is back, and only a second SIGINT/SIGTERM gives
 * up. The NDJSON copy (written by the delivery reports) is then complete. Says what failed or is
 * left undelivered (those events are in neither Kafka nor the NDJSON copy). 0 or -1. */
static int gen_deliver_rest(gen_sink *k, const gen_opts *o) {
    int64_t last = time_mono_us(), left;
    while ((left = kafka_producer_flush(k->kp, 200 * TIME_US_PER_MS)) > 0 && !gen_abort) {
        int64_t now = time_mono_us();
        if (!o->quiet && now - last >= 2 * TIME_US_PER_SEC) {
            status_line(k, o, 0, "waiting for Kafka: ");
            last = now;
        }
    }
    /* given up (second signal): lines still in flight are not acknowledged, so not in the copy */
    for (size_t i = 0; i < k->pend.n; i++) k->pend.e[(k->pend.head + i) & (k->pend.cap - 1)].state = PEND_FAIL;
    pend_settle(k);
    if (sink_flush(k) && !k->broken_pipe) k->write_failed = true;
    kafka_producer_stats ks;
    kafka_producer_stats_get(k->kp, &ks);
    if (k->write_failed) fprintf(stderr, "ecom gen: %s\n", k->err[0] ? k->err : "NDJSON copy incomplete");
    if (left > 0 || ks.failed > 0) {
        fprintf(stderr, "ecom gen: %llu messages failed, %lld unacknowledged at exit%s%s\n",
                (unsigned long long)ks.failed, (long long)left, ks.last_error[0] ? ": " : "", ks.last_error);
        if (k->undelivered && k->upath[0])
            fprintf(stderr, "ecom gen: the NDJSON copy holds only what Kafka acknowledged; the other %llu lines are "
                    "in %s (an unacknowledged one may still have reached Kafka)\n",
                    (unsigned long long)k->undelivered, k->upath);
        return -1;
    }
    return k->write_failed ? -1 : 0;
}

static int gen_main(int argc, char **argv, flags_store *fst) {
    gen_opts o;
    int pr = gen_parse(argc, argv, &o, fst);
    if (pr == FLAGS_HELP) return 0;
    if (pr) return 2;
    char err[256];
    if (cmd_signals_install(gen_on_signal, err, sizeof err)) {
        fprintf(stderr, "ecom gen: %s\n", err);
        return 1;
    }

    gen_sink k = {0};
    char addr[1024];
    int rc = gen_open(&o, &k, addr, sizeof addr);
    if (rc) {
        if (k.close_fd) close(k.fd);
        if (k.acks) fclose(k.acks);
        return rc;
    }
    gen_config cfg = {.seed = (uint64_t)o.seed, .users = o.users, .rate = o.rate,
                      .start_us = o.seen_start ? o.start : time_now_us(), .late_frac = o.late_frac,
                      .late_max_us = o.late_max, .dup_frac = o.dup_frac, .bad_frac = o.bad_frac};
    gen *g = gen_new(&cfg, err, sizeof err);
    if (!g) {
        fprintf(stderr, "ecom gen: %s\n", err);
        kafka_producer_free(k.kp);
        if (k.close_fd) close(k.fd);
        if (k.acks) fclose(k.acks);
        return 1;
    }

    int64_t t0 = time_mono_us();
    rc = gen_loop(g, &o, &k);
    if (rc && k.err[0]) fprintf(stderr, "ecom gen: %s\n", k.err);
    if (k.kp && gen_deliver_rest(&k, &o)) rc = 1;
    if (!o.quiet) {
        double dt = (double)(time_mono_us() - t0) / 1e6;
        status_line(&k, &o, dt > 0 ? (double)k.lines / dt : 0, "done: ");
    }
    kafka_producer_free(k.kp);
    if (k.close_fd && close(k.fd) != 0 && rc == 0) {
        fprintf(stderr, "ecom gen: %s: %s\n", o.out, strerror(errno));
        rc = 1;
    }
    buf_free(&k.obuf);
    buf_free(&k.pend.arena);
    free(k.pend.e);
    if (k.ufd >= 0) close(k.ufd);
    if (k.acks && fclose(k.acks) != 0 && rc == 0) {
        fprintf(stderr, "ecom gen: %s: %s\n", o.ack_log, strerror(errno));
        rc = 1;
    }
    gen_free(g);
    return rc;
}

/* Values parsed from a config file live in st: it outlasts the whole command. */
int cmd_gen(int argc, char **argv) {
    flags_store st = {0};
    int rc = gen_main(argc, argv, &st);
    flags_store_free(&st);
    return rc;
}
