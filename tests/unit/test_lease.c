/* test_lease.c — the writer lease (src/pipeline/lease.c) over the local backend, and the
 * create-exclusive storage op under it: exactly one of racing processes creates a file; a
 * second writer is refused with the holder named; a holder that stops renewing is taken over
 * after expiry with the next generation, and the old holder is then fenced; a released lease
 * is taken at once; a forced take-over (scale-out assignment) always advances the generation;
 * a lease file cut short counts as held until its mtime expires; a dead holder on this host
 * is void at once; commit records keep the generation. */
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "pipeline/pipeline_internal.h"

static char root[256];

static storage *open_root(const char *sub) {
    char path[400], err[256];
    snprintf(path, sizeof path, "%s/%s", root, sub);
    return storage_open(path, err, sizeof err);
}

/* Eight processes race to create one file: exactly one gets 0, the others 1. */
static void test_put_if_absent_race(check_state *st) {
    CHECK_STATE(st);
    storage *s = open_root("race");
    CHECK(s != NULL);
    if (!s) return;
    pid_t kids[8];
    for (int i = 0; i < 8; i++) {
        if ((kids[i] = fork()) == 0) {
            char err[256], body[32];
            int n = snprintf(body, sizeof body, "child %d\n", i);
            _exit(storage_put_if_absent(s, "_ecom/lease/x.lease", body, (size_t)n, err, sizeof err) + 10);
        }
        CHECK(kids[i] > 0);
    }
    int created = 0, present = 0;
    for (int i = 0; i < 8; i++) {
        int wst = 0;
        if (kids[i] > 0 && waitpid(kids[i], &wst, 0) == kids[i] && WIFEXITED(wst)) {
            created += WEXITSTATUS(wst) == 10;
            present += WEXITSTATUS(wst) == 11;
        }
    }
    CHECK_INTEQ(created, 1);
    CHECK_INTEQ(present, 7);
    char err[256];
    CHECK_INTEQ(storage_put_if_absent(s, "_ecom/lease/x.lease", "again", 5, err, sizeof err), 1);
    char *txt = NULL;
    size_t n = 0;
    bool ex = false;
    CHECK(storage_get_all(s, "_ecom/lease/x.lease", 64, &txt, &n, &ex, err, sizeof err) == 0 && ex);
    CHECK(txt && !strncmp(txt, "child ", 6)); /* the winner's content, untouched */
    free(txt);
    storage_close(s);
}

/* Another host's process for the same lease directory (its pid cannot be probed from here). */
static void other_writer(writer_lease *l, const char *dir, int64_t timeout_us, long pid) {
    lease_init(l, dir, timeout_us);
    l->pid = pid;
    snprintf(l->host, sizeof l->host, "other-host.example");
}

/* A holder on this host whose process is gone: its lease is void at once. */
static void test_dead_local_holder(check_state *st) {
    CHECK_STATE(st);
    storage *s = open_root("dead");
    CHECK(s != NULL);
    if (!s) return;
    char err[512];
    pid_t kid = fork();
    if (kid == 0) {
        writer_lease k;
        lease_init(&k, LEASE_DIR, 30 * TIME_US_PER_SEC);
        _exit(lease_acquire(s, &k, false, err, sizeof err) == 0 && k.gen == 1 ? 0 : 1);
    }
    int wst = 0;
    CHECK(kid > 0 && waitpid(kid, &wst, 0) == kid && WIFEXITED(wst) && WEXITSTATUS(wst) == 0);
    writer_lease a;
    lease_init(&a, LEASE_DIR, 30 * TIME_US_PER_SEC);
    CHECK_INTEQ(lease_acquire(s, &a, false, err, sizeof err), 0); /* the child is gone: no wait */
    CHECK_INTEQ(a.gen, 2);
    storage_close(s);
}

static void test_second_writer_refused_then_takeover(check_state *st) {
    CHECK_STATE(st);
    storage *s = open_root("takeover");
    CHECK(s != NULL);
    if (!s) return;
    char err[512];
    writer_lease a, b;
    lease_init(&a, LEASE_DIR, 1 * TIME_US_PER_SEC);
    other_writer(&b, LEASE_DIR, 30 * TIME_US_PER_SEC, (long)getpid() + 100000);
    CHECK_INTEQ(lease_acquire(s, &a, false, err, sizeof err), 0);
    CHECK_INTEQ(a.gen, 1);
    CHECK_INTEQ(lease_acquire(s, &a, false, err, sizeof err), 0); /* ours already */
    CHECK_INTEQ(a.gen, 1);
    CHECK_INTEQ(lease_acquire(s, &b, false, err, sizeof err), COMMIT_REFUSED);
    char want[256];
    snprintf(want, sizeof want, "pid %ld since", a.pid);
    CHECK(strstr(err, want) != NULL);
    CHECK(strstr(err, a.host) != NULL);
    CHECK(strstr(err, "lease generation 1, expires in") != NULL);
    CHECK_INTEQ(lease_renew(s, &a, err, sizeof err), 0);
    /* a stops renewing (crashed, or paused): b takes over once a's timeout passed (bounded). */
    int64_t t0 = time_mono_us(), took = -1;
    while (time_mono_us() - t0 < 5 * TIME_US_PER_SEC) {
        int rc = lease_acquire(s, &b, false, err, sizeof err);
        if (rc == 0) {
            took = time_mono_us() - t0;
            break;
        }
        CHECK_INTEQ(rc, COMMIT_REFUSED);
        usleep(50000);
    }
    CHECK(took >= 800000); /* not before a's 1 s timeout (less the time its renewal took) */
    CHECK_INTEQ(b.gen, 2);
    CHECK_INTEQ(lease_check(s, &b, err, sizeof err), 0);
    CHECK_INTEQ(lease_check(s, &a, err, sizeof err), LEASE_FENCED);
    snprintf(want, sizeof want, "now held by host %s pid %ld", b.host, b.pid);
    CHECK(strstr(err, want) != NULL);
    CHECK_INTEQ(lease_renew(s, &a, err, sizeof err), LEASE_FENCED); /* a zombie's heartbeat changes nothing */
    CHECK_INTEQ(lease_check(s, &b, err, sizeof err), 0);
    storage_entry e;
    bool ex = true;
    CHECK(storage_stat(s, LEASE_DIR "/00000000000000000001.lease", &e, &ex, err, sizeof err) == 0 && !ex);
    /* A clean exit releases: the next writer need not wait. */
    lease_release(s, &b);
    writer_lease c;
    other_writer(&c, LEASE_DIR, 30 * TIME_US_PER_SEC, (long)getpid() + 200000);
    CHECK_INTEQ(lease_acquire(s, &c, false, err, sizeof err), 0);
    CHECK_INTEQ(c.gen, 3);
    storage_close(s);
}

static void test_forced_and_short_file(check_state *st) {
    CHECK_STATE(st);
    storage *s = open_root("forced");
    CHECK(s != NULL);
    if (!s) return;
    char err[512];
    writer_lease a, b;
    lease_init(&a, "_ecom/parts/p0001/lease", 30 * TIME_US_PER_SEC);
    other_writer(&b, "_ecom/parts/p0001/lease", 30 * TIME_US_PER_SEC, (long)getpid() + 1);
    CHECK_INTEQ(lease_acquire(s, &a, true, err, sizeof err), 0);
    CHECK_INTEQ(lease_acquire(s, &b, true, err, sizeof err), 0); /* the group assigned p1 to b */
    CHECK_INTEQ(b.gen, 2);
    CHECK_INTEQ(lease_check(s, &a, err, sizeof err), LEASE_FENCED);
    /* A creator that crashed while writing its file: held until the file's mtime expires. */
    CHECK_INTEQ(storage_put_if_absent(s, LEASE_DIR "/00000000000000000005.lease", "ecom-le", 7, err, sizeof err), 0);
    writer_lease c;
    lease_init(&c, LEASE_DIR, 30 * TIME_US_PER_SEC);
    CHECK_INTEQ(lease_acquire(s, &c, false, err, sizeof err), COMMIT_REFUSED);
    CHECK(strstr(err, "cut short") != NULL);
    CHECK(strstr(err, "generation 5") != NULL);
    storage_close(s);
}

/* The generation line round-trips; a record without one (before leases) decodes as 0. */
static void test_record_generation(check_state *st) {
    CHECK_STATE(st);
    commit_record r = {.epoch = 4, .kind = COMMIT_FILE, .nparts = 1, .part = -1, .generation = 7, .file_offset = 99};
    char *ck[1] = {NULL};
    r.ckpt = ck;
    buf_t b = {0};
    CHECK(commit_record_encode(&r, &b) == 0);
    CHECK(strstr(b.data, "\ngeneration 7\n") != NULL);
    commit_record d;
    char err[256];
    CHECK(commit_record_decode(b.data, b.len, &d, err, sizeof err) == 0);
    CHECK_INTEQ(d.generation, 7);
    commit_record_free(&d);
    buf_reset(&b);
    r.generation = 0;
    CHECK(commit_record_encode(&r, &b) == 0);
    CHECK(strstr(b.data, "generation") == NULL);
    CHECK(commit_record_decode(b.data, b.len, &d, err, sizeof err) == 0);
    CHECK_INTEQ(d.generation, 0);
    commit_record_free(&d);
    buf_free(&b);
}

/* A writer killed while writing a checkpoint leaves its generation-stamped temporary file,
 * which no later write replaces: compaction deletes it with the older records. */
static void test_compaction_deletes_stale_tmp(check_state *st) {
    CHECK_STATE(st);
    storage *s = open_root("compact");
    CHECK(s != NULL);
    if (!s) return;
    char err[256];
    const char *old[] = {"_ecom/parts/p0001/.00000000000000000003-g2.ckpt.tmp", "_ecom/state/.e000000000003-g1-p0.ckpt.tmp"};
    const char *kept[] = {"_ecom/parts/p0001/.00000000000000000007-g3.ckpt.tmp", "_ecom/state/e000000000007-g1-p0.ckpt"};
    for (int i = 0; i < 2; i++) {
        CHECK(storage_put_if_absent(s, old[i], "x", 1, err, sizeof err) == 0);
        CHECK(storage_put_if_absent(s, kept[i], "x", 1, err, sizeof err) == 0);
    }
    CHECK(part_log_compact(s, 1, 5, err, sizeof err) == 0);
    CHECK(commit_log_compact(s, 5, err, sizeof err) == 0);
    for (int i = 0; i < 2; i++) {
        storage_entry e;
        bool ex = true;
        CHECK(storage_stat(s, old[i], &e, &ex, err, sizeof err) == 0 && !ex);
        CHECK(storage_stat(s, kept[i], &e, &ex, err, sizeof err) == 0 && ex);
    }
    storage_close(s);
}

/* A scale-out take-over (lease_acquire with force, a partition's "<dir>/lease") sweeps the
 * put_if_absent temporaries crashed writers left in the partition's lease and record
 * directories once they are older than the lease timeout; a younger one (a live put) stays. */
static void test_partition_take_over_sweeps_put_temporaries(check_state *st) {
    CHECK_STATE(st);
    storage *s = open_root("psweep");
    CHECK(s != NULL);
    if (!s) return;
    char err[256], full[600];
    const char *old[] = {"_ecom/parts/p0002/lease/.00000000000000000004.lease.77-00000000000000aa.tmp",
                         "_ecom/parts/p0002/.00000000000000000009.commit.77-00000000000000bb.tmp"};
    const char *young = "_ecom/parts/p0002/.00000000000000000010.commit.78-00000000000000cc.tmp";
    struct timeval hour_ago[2];
    gettimeofday(&hour_ago[0], NULL);
    hour_ago[0].tv_sec -= 3600;
    hour_ago[1] = hour_ago[0];
    for (int i = 0; i < 2; i++) {
        CHECK(storage_put_atomic(s, old[i], "x", 1, err, sizeof err) == 0);
        snprintf(full, sizeof full, "%s/psweep/%s", root, old[i]);
        CHECK(utimes(full, hour_ago) == 0);
    }
    CHECK(storage_put_atomic(s, young, "x", 1, err, sizeof err) == 0);
    writer_lease l;
    lease_init(&l, "_ecom/parts/p0002/lease", 30 * 1000000LL);
    CHECK(lease_acquire(s, &l, true, err, sizeof err) == 0);
    CHECK_INTEQ(l.gen, 1);
    storage_entry e;
    bool ex = true;
    for (int i = 0; i < 2; i++) {
        ex = true;
        CHECK(storage_stat(s, old[i], &e, &ex, err, sizeof err) == 0 && !ex);
    }
    CHECK(storage_stat(s, young, &e, &ex, err, sizeof err) == 0 && ex);
    storage_close(s);
}

/* A lease file of another host with the given heartbeat time, written now (mtime now) or, with
 * mtime_us > 0, dated back to it. */
static int put_foreign_lease(storage *s, int64_t gen, int64_t renewed_us, int64_t mtime_us) {
    char path[128], txt[512], err[256];
    snprintf(path, sizeof path, "%s/%020lld.lease", LEASE_DIR, (long long)gen);
    int n = snprintf(txt, sizeof txt, "ecom-lease 1\ngeneration %lld\nhost other-host.example\npid 4242\nsince %lld\n"
                     "renewed %lld\ntimeout %lld\n", (long long)gen, (long long)renewed_us, (long long)renewed_us,
                     (long long)(10 * TIME_US_PER_SEC));
    if (storage_put_atomic(s, path, txt, (size_t)n, err, sizeof err)) return -1;
    if (mtime_us <= 0) return 0;
    char abs[600];
    snprintf(abs, sizeof abs, "%s/%s", storage_root(s), path);
    struct timeval tv[2] = {{(time_t)(mtime_us / 1000000), 0}, {(time_t)(mtime_us / 1000000), 0}};
    return utimes(abs, tv);
}

/* Hostile clocks: a heartbeat an hour ahead of ours is refused and named as a clock problem; a
 * heartbeat an hour old in a file rewritten just now is a live holder with a slow clock: refused
 * and named, not taken over (before: stolen); old by both clocks: taken over. */
static void test_clock_skew(check_state *st) {
    CHECK_STATE(st);
    storage *s = open_root("skew");
    CHECK(s != NULL);
    if (!s) return;
    char err[1024];
    int64_t now = time_now_us(), hour = 3600 * TIME_US_PER_SEC;
    writer_lease a;
    lease_init(&a, LEASE_DIR, 10 * TIME_US_PER_SEC);
    CHECK(put_foreign_lease(s, 1, now + hour, 0) == 0);
    CHECK_INTEQ(lease_acquire(s, &a, false, err, sizeof err), COMMIT_REFUSED);
    CHECK(strstr(err, "ahead of this host's clock") != NULL);
    CHECK(strstr(err, "need clocks within the lease timeout (10 s") != NULL);
    CHECK(put_foreign_lease(s, 2, now - hour, 0) == 0);
    CHECK_INTEQ(lease_acquire(s, &a, false, err, sizeof err), COMMIT_REFUSED);
    CHECK(strstr(err, "its clock is behind this host's") != NULL);
    CHECK(strstr(err, "host other-host.example pid 4242") != NULL);
    CHECK(put_foreign_lease(s, 3, now - hour, now - hour) == 0);
    CHECK_INTEQ(lease_acquire(s, &a, false, err, sizeof err), 0);
    CHECK_INTEQ(a.gen, 4);
    storage_close(s);
}

/* A record of kind FILE for the zombie tests. */
static commit_record file_record(int64_t epoch, int64_t gen, int64_t offset, char **ck) {
    commit_record r = {.epoch = epoch, .kind = COMMIT_FILE, .nparts = 1, .part = -1, .generation = gen,
                       .file_offset = offset, .ckpt = ck};
    return r;
}

/* The fence is a compare-and-swap: z (generation 1) passed its lease check for record 1 and
 * stalls; s takes the lease over and claims record 1; z's record 1 is refused; after s
 * committed record 2 and compacted 0 and 1 away, z's record 1 is refused again (and withdrawn);
 * the same bytes again (a lost answer) are fine; a zombie that wins the race for a number
 * makes the claim move to the next one. */
static void test_zombie_record_refused(check_state *st) {
    CHECK_STATE(st);
    storage *s = open_root("zombie");
    CHECK(s != NULL);
    if (!s) return;
    char err[512], *ck[1] = {NULL};
    commit_record r = {0};
    r.epoch = -1;
    CHECK_INTEQ(commit_log_claim(s, -1, &r, COMMIT_FILE, 1, 1, err, sizeof err), 0); /* z's start */
    CHECK_INTEQ(r.epoch, 0);
    commit_record_free(&r);
    CHECK_INTEQ(commit_log_read_latest(s, &r, err, sizeof err), 0); /* s takes over: gen 2 */
    CHECK_INTEQ(r.generation, 1);
    CHECK_INTEQ(commit_log_claim(s, -1, &r, COMMIT_FILE, 1, 2, err, sizeof err), 0);
    CHECK_INTEQ(r.epoch, 1);
    commit_record_free(&r);
    commit_record z = file_record(1, 1, 500, ck);
    CHECK_INTEQ(commit_record_put(s, -1, &z, err, sizeof err), LEASE_FENCED);
    CHECK(strstr(err, "committed by another writer (lease generation 2)") != NULL);
    commit_record w = file_record(2, 2, 900, ck);
    CHECK_INTEQ(commit_record_put(s, -1, &w, err, sizeof err), 0);
    CHECK_INTEQ(commit_record_put(s, -1, &w, err, sizeof err), 0); /* an attempt whose answer was lost */
    CHECK(commit_log_compact(s, 2, err, sizeof err) == 0);
    CHECK_INTEQ(commit_record_put(s, -1, &z, err, sizeof err), LEASE_FENCED);
    CHECK(strstr(err, "behind record 2") != NULL);
    storage_entry e;
    bool ex = true;
    CHECK(storage_stat(s, COMMIT_DIR "/00000000000000000001.commit", &e, &ex, err, sizeof err) == 0 && !ex);
    /* A zombie of generation 2 wins number 3 before generation 3 claims it: the claim reads
     * what the zombie committed and takes number 4, keeping the zombie's position. */
    CHECK_INTEQ(commit_log_read_latest(s, &r, err, sizeof err), 0);
    commit_record z2 = file_record(3, 2, 1200, ck);
    CHECK_INTEQ(commit_record_put(s, -1, &z2, err, sizeof err), 0);
    CHECK_INTEQ(commit_log_claim(s, -1, &r, COMMIT_FILE, 1, 3, err, sizeof err), 0);
    CHECK_INTEQ(r.epoch, 4);
    CHECK_INTEQ(r.file_offset, 1200);
    commit_record_free(&r);
    /* A claim finding a newer generation's record: this writer lost the lease. */
    CHECK_INTEQ(commit_log_read_latest(s, &r, err, sizeof err), 0);
    CHECK_INTEQ(commit_log_claim(s, -1, &r, COMMIT_FILE, 1, 2, err, sizeof err), LEASE_FENCED);
    commit_record_free(&r);
    /* Scale-out: the new owner of a fresh partition 2 (generation 5) claims its seq 0, so the old
     * owner's seq 0 (generation 4) is refused; the claim decodes as an empty partition record. */
    CHECK_INTEQ(part_log_read_latest(s, 2, &r, err, sizeof err), 0);
    CHECK_INTEQ(commit_log_claim(s, 2, &r, COMMIT_PARTITION, 4, 5, err, sizeof err), 0);
    commit_record_free(&r);
    CHECK_INTEQ(part_log_read_latest(s, 2, &r, err, sizeof err), 0);
    CHECK(r.epoch == 0 && r.kind == COMMIT_PARTITION && r.part == 2 && r.generation == 5 && r.offsets[2][0] == -1);
    commit_record old = r;
    old.generation = 4;
    old.records = 10;
    CHECK_INTEQ(commit_record_put(s, 2, &old, err, sizeof err), LEASE_FENCED);
    commit_record_free(&r);
    storage_close(s);
}

int main(void) {
    check_state st = {0};
    const char *tmp = getenv("TEST_TMP");
    snprintf(root, sizeof root, "%s/lease-%d", tmp ? tmp : "/tmp", (int)getpid());
    RUN(&st, test_put_if_absent_race);
    RUN(&st, test_second_writer_refused_then_takeover);
    RUN(&st, test_forced_and_short_file);
    RUN(&st, test_dead_local_holder);
    RUN(&st, test_record_generation);
    RUN(&st, test_compaction_deletes_stale_tmp);
    RUN(&st, test_partition_take_over_sweeps_put_temporaries);
    RUN(&st, test_clock_skew);
    RUN(&st, test_zombie_record_refused);
    return CHECK_EXIT(&st);
}
