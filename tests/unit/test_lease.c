/* test_lease.c — the writer lease (src/pipeline/lease.c) over the local backend, and the
 * create-exclusive storage op under it: exactly one of racing processes creates a file; a
 * second writer is refused with the holder named; a holder that stops renewing is taken over
 * after expiry with the next generation, and the old holder is then fenced; a released lease
 * is taken at once; a forced take-over (scale-out assignment) always advances the generation;
 * a lease file cut short counts as held until its mtime expires; a dead holder on this host
 * is void at once; commit records keep the generation. */
#include <stdlib.h>
#include <string.h>
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
    return CHECK_EXIT(&st);
}
