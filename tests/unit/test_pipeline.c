/* Unit tests for the pipeline's commit log: record encoding, corruption detection, recovery of
 * files (redo renames, sweep debris) and compaction, on a local storage. */
#include "check.h"
#include "pipeline/pipeline_internal.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char *mkroot(void) {
    static char tmpl[64];
    snprintf(tmpl, sizeof tmpl, "/tmp/ecom-pipe-XXXXXX");
    return mkdtemp(tmpl);
}

static commit_record sample_record(void) {
    static int64_t offs[2][3] = {{10, 20, -1}, {0, 5, 7}};
    static char *ck[2] = {"_ecom/state/e000000000003-p0.ckpt", NULL};
    static rename_pair rn[1] = {{"views/date=2026-11-25/.part-e3-00000.parquet.tmp",
                                 "views/date=2026-11-25/part-e3-00000.parquet"}};
    commit_record r = {0};
    r.epoch = 3;
    r.kind = 0;
    r.nparts = 2;
    r.offsets = offs;
    r.records = 42;
    r.ckpt = ck;
    r.renames = rn;
    r.n_renames = 1;
    return r;
}

static void test_record_roundtrip(check_state *st) {
    CHECK_STATE(st);
    commit_record r = sample_record(), d;
    buf_t b = {0};
    char err[256];
    CHECK(commit_record_encode(&r, &b) == 0);
    CHECK(commit_record_decode(b.data, b.len, &d, err, sizeof err) == 0);
    CHECK_INTEQ(d.epoch, 3);
    CHECK_INTEQ(d.nparts, 2);
    CHECK_INTEQ(d.records, 42);
    CHECK_INTEQ(d.offsets[0][1], 20);
    CHECK_INTEQ(d.offsets[0][2], -1);
    CHECK_INTEQ(d.offsets[1][2], 7);
    CHECK_STREQ(d.ckpt[0], r.ckpt[0]);
    CHECK(d.ckpt[1] == NULL);
    CHECK_INTEQ(d.n_renames, 1);
    CHECK_STREQ(d.renames[0].to, r.renames[0].to);
    commit_record_free(&d);
    buf_free(&b);
}

/* Every single-byte change and every truncation must be detected (checksum + strict lines). */
static void test_record_corruption(check_state *st) {
    CHECK_STATE(st);
    commit_record r = sample_record(), d;
    buf_t b = {0};
    char err[256];
    CHECK(commit_record_encode(&r, &b) == 0);
    int accepted = 0;
    for (size_t i = 0; i < b.len; i++) {
        char save = b.data[i];
        b.data[i] = (char)(save ^ 0x04);
        if (commit_record_decode(b.data, b.len, &d, err, sizeof err) == 0) {
            accepted++;
            commit_record_free(&d);
        }
        b.data[i] = save;
    }
    for (size_t n = 0; n < b.len; n++) {
        if (commit_record_decode(b.data, n, &d, err, sizeof err) == 0) {
            accepted++;
            commit_record_free(&d);
        }
    }
    CHECK_INTEQ(accepted, 0);
    buf_free(&b);
}

static int put(storage *s, const char *path, const char *text) {
    char err[256];
    return storage_put_atomic(s, path, text, strlen(text), err, sizeof err);
}

static bool exists(storage *s, const char *path) {
    storage_entry e;
    bool ex = false;
    char err[256];
    storage_stat(s, path, &e, &ex, err, sizeof err);
    return ex;
}

static void test_recover_and_sweep(check_state *st) {
    CHECK_STATE(st);
    char err[256];
    char *root = mkroot();
    storage *s = storage_open(root, err, sizeof err);
    CHECK(s != NULL);
    if (!s) return;
    commit_record r = sample_record();
    /* the committed file still under its hidden name (crash after the record) */
    CHECK(put(s, r.renames[0].from, "data") == 0);
    /* debris of an uncommitted epoch, and a user's unrelated hidden file */
    CHECK(put(s, "views/date=2026-11-25/.part-e4-00000.parquet.tmp", "junk") == 0);
    CHECK(put(s, "cart/date=2026-11-26/.part-e4-00001.parquet.tmp", "junk") == 0);
    CHECK(put(s, "views/.keep", "x") == 0);
    CHECK(commit_log_recover_files(s, &r, err, sizeof err) == 0);
    CHECK(exists(s, r.renames[0].to));
    CHECK(!exists(s, r.renames[0].from));
    CHECK(!exists(s, "views/date=2026-11-25/.part-e4-00000.parquet.tmp"));
    CHECK(!exists(s, "cart/date=2026-11-26/.part-e4-00001.parquet.tmp"));
    CHECK(exists(s, "views/.keep"));
    /* idempotent: a second recovery finds the file in place */
    CHECK(commit_log_recover_files(s, &r, err, sizeof err) == 0);
    /* a file the record names that is gone from both places is an error, not silence */
    CHECK(storage_remove(s, r.renames[0].to, err, sizeof err) == 0);
    CHECK(commit_log_recover_files(s, &r, err, sizeof err) == -1);
    CHECK(strstr(err, "missing") != NULL);
    storage_close(s);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    CHECK(system(cmd) == 0);
}

static void test_latest_and_compact(check_state *st) {
    CHECK_STATE(st);
    char err[256];
    char *root = mkroot();
    storage *s = storage_open(root, err, sizeof err);
    CHECK(s != NULL);
    if (!s) return;
    commit_record r = sample_record(), d;
    CHECK(commit_log_read_latest(s, &d, err, sizeof err) == 0 && d.epoch == -1);
    for (int64_t e = 1; e <= 3; e++) {
        buf_t b = {0};
        r.epoch = e;
        char path[128];
        snprintf(path, sizeof path, "%s/%020lld.commit", COMMIT_DIR, (long long)e);
        CHECK(commit_record_encode(&r, &b) == 0);
        CHECK(storage_put_atomic(s, path, b.data, b.len, err, sizeof err) == 0);
        snprintf(path, sizeof path, "%s/e%012lld-p0.ckpt", STATE_DIR, (long long)e);
        CHECK(put(s, path, "state") == 0);
        buf_free(&b);
    }
    CHECK(commit_log_read_latest(s, &d, err, sizeof err) == 0);
    CHECK_INTEQ(d.epoch, 3);
    commit_record_free(&d);
    CHECK(commit_log_compact(s, 3, err, sizeof err) == 0);
    storage_list_t l = {0};
    CHECK(storage_list(s, COMMIT_DIR, &l, err, sizeof err) == 0);
    CHECK_INTEQ(l.n, 1);
    storage_list_free(&l);
    CHECK(storage_list(s, STATE_DIR, &l, err, sizeof err) == 0);
    CHECK_INTEQ(l.n, 1);
    storage_list_free(&l);
    /* a corrupt newest record stops recovery with a clear error */
    CHECK(put(s, COMMIT_DIR "/00000000000000000004.commit", "ecom-commit 1\nepoch 4\n") == 0);
    CHECK(commit_log_read_latest(s, &d, err, sizeof err) == -1);
    CHECK(strstr(err, "corrupt") != NULL);
    storage_close(s);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    CHECK(system(cmd) == 0);
}

int main(void) {
    check_state st = {0};
    RUN(&st, test_record_roundtrip);
    RUN(&st, test_record_corruption);
    RUN(&st, test_recover_and_sweep);
    RUN(&st, test_latest_and_compact);
    return CHECK_EXIT(&st);
}
