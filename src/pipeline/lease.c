/*
 * pipeline/lease.c — the writer lease: one writer per commit lineage of a lake root, and the
 * generation that fences a writer which lost it (contract in pipeline.h; operator's
 * view in docs/reliability.md).
 *
 * A lease directory holds one file per generation, named by its 20-digit number:
 *
 *   _ecom/lease/00000000000000000003.lease          (single layout: the whole ROOT)
 *   _ecom/parts/p0002/lease/00000000000000000007.lease   (scale-out: partition 2's lineage)
 *
 *   ecom-lease 1
 *   generation 3
 *   host <hostname>
 *   pid <pid>
 *   since <wall clock us when taken>
 *   renewed <wall clock us of the last heartbeat>
 *   timeout <us: the lease expires this long after `renewed`; 0 = released>
 *
 * Why one file per generation: taking a lease is creating the next generation's file
 * exclusively (storage_put_if_absent: O_EXCL locally, CREATE overwrite=false on HDFS), so of
 * two writers racing for it exactly one wins, on either storage, without a rename (which
 * replaces) or a lock service. The newest file is the lease; its holder alone rewrites it
 * (heartbeat, tmp + rename of its own name). A writer holds the lease while the newest
 * generation is its own: a newer file means it was taken over, and the writer is fenced.
 *
 * Expiry is judged by the reader's wall clock against two times: the holder's `renewed` (its
 * clock) and the file's mtime (the storage's clock: the file is rewritten at every heartbeat).
 * The lease is live while either is within its timeout, so a live holder whose clock is behind
 * is not robbed; hosts sharing a ROOT need clocks within a small fraction of the timeout, and
 * when the two times disagree by more than half of it (a heartbeat in the future of the
 * reader's clock, or one that looks old in a file rewritten just now) the refusal says so
 * instead of waiting or taking over without a word. A file too short to parse (its creator
 * crashed while writing it) counts as renewed at its mtime.
 * A holder on this host whose pid no longer exists is expired at once (a restart after a crash
 * need not wait); if that guess is wrong (another PID namespace under the same host name),
 * the holder is fenced at its next commit, so only availability, never the data, is at stake.
 * A new holder sweeps the put_if_absent temporaries crashed writers left (lease_sweep).
 */
#include <errno.h>
#include <signal.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pipeline/pipeline_internal.h"

#define LEASE_NAME_LEN 26 /* 20 digits + ".lease" */

/* What a lease file says (or, for an unreadable one, what its mtime implies). */
typedef struct {
    int64_t gen, since_us, renewed_us, timeout_us, mtime_us;
    long pid;
    char host[128];
    bool parsed;
} lease_info;

void lease_init(writer_lease *l, const char *dir, int64_t timeout_us) {
    memset(l, 0, sizeof *l);
    snprintf(l->dir, sizeof l->dir, "%s", dir);
    l->timeout_us = timeout_us;
    if (gethostname(l->host, sizeof l->host - 1)) snprintf(l->host, sizeof l->host, "unknown");
    l->host[strcspn(l->host, " \t\r\n")] = 0;
    l->pid = (long)getpid();
}

static void lease_path(const writer_lease *l, int64_t gen, char *out, size_t n) {
    snprintf(out, n, "%s/%020" PRId64 ".lease", l->dir, gen);
}

/* The newest generation in l->dir (0: none) and its entry's mtime. */
static int lease_newest(storage *s, const writer_lease *l, int64_t *gen, int64_t *mtime_us, char *err,
                        size_t errlen) {
    storage_list_t ls = {0};
    *gen = 0;
    *mtime_us = 0;
    if (storage_list(s, l->dir, &ls, err, errlen)) return -1;
    for (size_t i = 0; i < ls.n; i++) {
        const char *nm = ls.entries[i].name;
        char *end;
        if (ls.entries[i].is_dir || strlen(nm) != LEASE_NAME_LEN || strcmp(nm + 20, ".lease")) continue;
        int64_t g = strtoll(nm, &end, 10);
        if (end != nm + 20 || g <= *gen) continue;
        *gen = g;
        *mtime_us = ls.entries[i].mtime_us;
    }
    storage_list_free(&ls);
    return 0;
}

static int lease_encode(const writer_lease *l, int64_t renewed_us, int64_t timeout_us, char *out, size_t n) {
    return snprintf(out, n,
                    "ecom-lease 1\ngeneration %" PRId64 "\nhost %s\npid %ld\nsince %" PRId64 "\nrenewed %" PRId64
                    "\ntimeout %" PRId64 "\n",
                    l->gen, l->host, l->pid, l->since_us, renewed_us, timeout_us);
}

/* Reads generation gen's file into *li; an unparsable one is "renewed at its mtime". */
static int lease_read(storage *s, const writer_lease *l, int64_t gen, int64_t mtime_us, lease_info *li, char *err,
                      size_t errlen) {
    char path[160], *txt = NULL;
    size_t n = 0;
    bool exists = false;
    memset(li, 0, sizeof *li);
    li->gen = gen;
    li->mtime_us = mtime_us;
    li->renewed_us = mtime_us;
    li->timeout_us = l->timeout_us;
    lease_path(l, gen, path, sizeof path);
    if (storage_get_all(s, path, 4096, &txt, &n, &exists, err, errlen)) return -1;
    int used = 0;
    if (exists && sscanf(txt,
                         "ecom-lease 1\ngeneration %" SCNd64 "\nhost %127s\npid %ld\nsince %" SCNd64
                         "\nrenewed %" SCNd64 "\ntimeout %" SCNd64 "\n%n",
                         &li->gen, li->host, &li->pid, &li->since_us, &li->renewed_us, &li->timeout_us,
                         &used) == 6 &&
        (size_t)used == n && li->gen == gen)
        li->parsed = true;
    if (!li->parsed) {
        li->gen = gen;
        li->renewed_us = mtime_us;
        li->timeout_us = l->timeout_us;
        snprintf(li->host, sizeof li->host, "(unknown: lease file being written or cut short)");
        li->pid = 0;
    }
    free(txt);
    return 0;
}

static bool lease_mine(const writer_lease *l, const lease_info *li) {
    return li->parsed && li->pid == l->pid && li->since_us == l->since_us && !strcmp(li->host, l->host);
}

/* Whether li's holder is a process of this host that is gone (so its lease is void). */
static bool lease_holder_dead(const writer_lease *l, const lease_info *li) {
    if (!li->parsed || li->pid <= 0 || strcmp(li->host, l->host) || li->pid == l->pid) return false;
    return kill((pid_t)li->pid, 0) != 0 && errno == ESRCH;
}

/* Whether li's lease is within its timeout by the holder's clock or by the storage's. */
static bool lease_live(const lease_info *li, int64_t now_us) {
    return now_us < li->renewed_us + li->timeout_us || now_us < li->mtime_us + li->timeout_us;
}

/* "host H pid P since T (lease generation G, expires in X s)" */
static void lease_describe(const lease_info *li, int64_t now_us, char *out, size_t n) {
    char since[32] = "?";
    if (li->since_us > 0) time_format_ms(li->since_us, since);
    int64_t last = li->renewed_us > li->mtime_us ? li->renewed_us : li->mtime_us;
    snprintf(out, n, "host %s pid %ld since %s (lease generation %" PRId64 ", expires in %.1f s)", li->host,
             li->pid, since, li->gen, (double)(last + li->timeout_us - now_us) / 1e6);
}

/* "; its clock ..." when the holder's heartbeat time and the reader's clock or the file's
 * mtime disagree by more than half the timeout (else nothing). */
static void lease_clock_note(const lease_info *li, int64_t now_us, char *out, size_t n) {
    int64_t half = li->timeout_us / 2;
    out[0] = 0;
    if (!li->parsed || li->timeout_us <= 0) return;
    if (li->renewed_us - now_us > half)
        snprintf(out, n, "; its last heartbeat is %.1f s ahead of this host's clock", (double)(li->renewed_us - now_us) / 1e6);
    else if (li->mtime_us - li->renewed_us > half && now_us >= li->renewed_us + li->timeout_us)
        snprintf(out, n, "; its heartbeat says %.1f s ago but its lease file was rewritten %.1f s ago: its clock is "
                 "behind this host's", (double)(now_us - li->renewed_us) / 1e6, (double)(now_us - li->mtime_us) / 1e6);
    else
        return;
    size_t k = strlen(out);
    snprintf(out + k, n - k, ": hosts sharing ROOT need clocks within the lease timeout (%.0f s; sync them, e.g. "
             "NTP; if that writer is gone, delete its lease file)", (double)li->timeout_us / 1e6);
}

/* Deletes the files of generations older than l->gen (best effort: a leftover is harmless). */
static void lease_prune(storage *s, const writer_lease *l) {
    storage_list_t ls = {0};
    char e[256];
    if (storage_list(s, l->dir, &ls, e, sizeof e)) return;
    for (size_t i = 0; i < ls.n; i++) {
        const char *nm = ls.entries[i].name;
        if (strlen(nm) != LEASE_NAME_LEN || strcmp(nm + 20, ".lease") || strtoll(nm, NULL, 10) >= l->gen) continue;
        char path[200];
        snprintf(path, sizeof path, "%s/%s", l->dir, nm);
        storage_remove(s, path, e, sizeof e);
    }
    storage_list_free(&ls);
}

/* The directory of the records this lease fences, the other user of put_if_absent (commit.c):
 * COMMIT_DIR for LEASE_DIR, a partition's own directory for its "<dir>/lease". */
static void lease_records_dir(const writer_lease *l, char *out, size_t n) {
    size_t k = strlen(l->dir);
    if (!strcmp(l->dir, LEASE_DIR))
        snprintf(out, n, "%s", COMMIT_DIR);
    else if (k > 6 && !strcmp(l->dir + k - 6, "/lease"))
        snprintf(out, n, "%.*s", (int)(k - 6), l->dir);
    else
        out[0] = 0;
}

/* Why at take-over: a writer killed between writing a put_if_absent temporary and linking it
 * leaves a hidden file nobody else deletes. The new holder removes those older than its lease
 * timeout in the lease's and the records' directories (a put takes milliseconds, so none of
 * them is a live writer's; a younger one is kept). Best effort: a leftover waits for the next. */
static void lease_sweep(storage *s, const writer_lease *l) {
    char rec[128], e[256];
    int64_t now = time_now_us();
    storage_sweep_put_temporaries(s, l->dir, l->timeout_us, now, NULL, e, sizeof e);
    lease_records_dir(l, rec, sizeof rec);
    if (rec[0]) storage_sweep_put_temporaries(s, rec, l->timeout_us, now, NULL, e, sizeof e);
}

/* One try: 0 taken (or already ours), 1 lost a race (try again), LEASE_HELD held, -1 error. */
static int lease_try(storage *s, writer_lease *l, bool force, char *err, size_t errlen) {
    int64_t gen, mtime, now = time_now_us();
    if (lease_newest(s, l, &gen, &mtime, err, errlen)) return -1;
    lease_info li;
    if (gen > 0 && lease_read(s, l, gen, mtime, &li, err, errlen)) return -1;
    if (gen > 0 && l->since_us && lease_mine(l, &li)) {
        l->gen = gen; /* an earlier try created it, its answer was lost */
        return 0;
    }
    if (gen > 0 && !force && lease_live(&li, now) && !lease_holder_dead(l, &li)) {
        char who[400], clock[400];
        lease_describe(&li, now, who, sizeof who);
        lease_clock_note(&li, now, clock, sizeof clock);
        snprintf(err, errlen, "another writer holds ROOT: %s%s; stop it, or wait for its lease to expire", who, clock);
        return LEASE_HELD;
    }
    writer_lease next = *l;
    next.gen = gen + 1;
    if (!next.since_us) next.since_us = now;
    char path[160], txt[512];
    lease_path(&next, next.gen, path, sizeof path);
    int n = lease_encode(&next, now, next.timeout_us, txt, sizeof txt);
    int rc = storage_put_if_absent(s, path, txt, (size_t)n, err, errlen);
    if (rc == 0) {
        *l = next;
        l->renewed_mono_us = time_mono_us();
        lease_prune(s, l);
        lease_sweep(s, l);
    } else if (rc == 1) {
        l->since_us = next.since_us; /* to recognise our own file on the next try */
    }
    return rc;
}

int lease_acquire(storage *s, writer_lease *l, bool force, char *err, size_t errlen) {
    for (int i = 0; i < 4; i++) {
        int rc = lease_try(s, l, force, err, errlen);
        if (rc != 1) return rc;
    }
    snprintf(err, errlen, "%s: lost the race for the lease four times in a row", l->dir);
    return -1;
}

int lease_check(storage *s, const writer_lease *l, char *err, size_t errlen) {
    int64_t gen, mtime;
    if (lease_newest(s, l, &gen, &mtime, err, errlen)) return -1;
    if (gen == l->gen) return 0;
    lease_info li;
    char who[400] = "nobody (its file is gone)";
    if (gen > 0 && lease_read(s, l, gen, mtime, &li, err, errlen) == 0) lease_describe(&li, time_now_us(), who, sizeof who);
    snprintf(err, errlen, "fenced: %s lease generation %" PRId64 " is no longer ours; now held by %s: this instance "
             "stops writing", l->dir, l->gen, who);
    return LEASE_FENCED;
}

int lease_renew(storage *s, writer_lease *l, char *err, size_t errlen) {
    int rc = lease_check(s, l, err, errlen);
    if (rc) return rc;
    int64_t now = time_now_us();
    char path[160], txt[512];
    lease_path(l, l->gen, path, sizeof path);
    int n = lease_encode(l, now, l->timeout_us, txt, sizeof txt);
    if (storage_put_atomic(s, path, txt, (size_t)n, err, errlen)) return -1;
    l->renewed_mono_us = time_mono_us();
    return 0;
}

void lease_release(storage *s, writer_lease *l) {
    char e[256], path[160], txt[512];
    if (l->gen <= 0 || lease_check(s, l, e, sizeof e)) return;
    lease_path(l, l->gen, path, sizeof path);
    int n = lease_encode(l, time_now_us(), 0, txt, sizeof txt);
    storage_put_atomic(s, path, txt, (size_t)n, e, sizeof e);
    l->gen = 0;
}
