/* Unit tests for the pipeline's commit log: record encoding, corruption detection, recovery of
 * files (redo renames, sweep debris) and compaction, on a local storage. */
#include "check.h"
#include "pipeline/pipeline_internal.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* A fresh directory under $TEST_TMP (tests/run.sh), else /tmp. */
static char *mkroot(void) {
    static char tmpl[512];
    const char *dir = getenv("TEST_TMP");
    snprintf(tmpl, sizeof tmpl, "%s/ecom-pipe-XXXXXX", dir && *dir ? dir : "/tmp");
    return mkdtemp(tmpl);
}

/* Deletes a root made by mkroot(); 0 on success. */
static int rm_root(const char *root) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    return system(cmd);
}

static commit_record sample_record(void) {
    static int64_t offs[2][3] = {{10, 20, -1}, {0, 5, 7}};
    static char *ck[2] = {"_ecom/state/e000000000003-p0.ckpt", NULL};
    static rename_pair rn[1] = {{"views/date=2026-11-25/.part-e3-00000.parquet.tmp",
                                 "views/date=2026-11-25/part-e3-00000.parquet"}};
    commit_record r = {0};
    r.epoch = 3;
    r.kind = COMMIT_KAFKA;
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

/* How many mutants of an encoded record decode without error: every byte flipped by mask, and
 * every truncation. A sound decoder accepts none. */
static int record_mutants_accepted(buf_t *b, char mask) {
    commit_record d;
    char err[256];
    int accepted = 0;
    for (size_t i = 0; i < b->len; i++) {
        char save = b->data[i];
        b->data[i] = (char)(save ^ mask);
        if (commit_record_decode(b->data, b->len, &d, err, sizeof err) == 0) {
            accepted++;
            commit_record_free(&d);
        }
        b->data[i] = save;
    }
    for (size_t n = 0; n < b->len; n++) {
        if (commit_record_decode(b->data, n, &d, err, sizeof err) == 0) {
            accepted++;
            commit_record_free(&d);
        }
    }
    return accepted;
}

/* Every single-byte change and every truncation must be detected (checksum + strict lines). */
static void test_record_corruption(check_state *st) {
    CHECK_STATE(st);
    commit_record r = sample_record();
    buf_t b = {0};
    CHECK(commit_record_encode(&r, &b) == 0);
    CHECK_INTEQ(record_mutants_accepted(&b, 0x04), 0);
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
    CHECK(rm_root(root) == 0);
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
    CHECK(commit_log_read_latest(s, &d, err, sizeof err) == COMMIT_REFUSED); /* corrupt: retrying cannot help */
    CHECK(strstr(err, "corrupt") != NULL);
    storage_close(s);
    CHECK(rm_root(root) == 0);
}

/* A record naming a checkpoint chain: the full checkpoint and two delta files, in order; every
 * byte flip and truncation refused; compaction keeps the chain's files however old. */
static void test_record_chain(check_state *st) {
    CHECK_STATE(st);
    commit_record r = sample_record(), d;
    static char *dl[2] = {"_ecom/state/e000000000004-g1.delta", "_ecom/state/e000000000005-g1.delta"};
    r.epoch = 5;
    r.deltas = dl;
    r.n_deltas = 2;
    buf_t b = {0};
    char err[256];
    CHECK(commit_record_encode(&r, &b) == 0);
    CHECK(strstr(b.data, "ckpt_delta _ecom/state/e000000000004-g1.delta\nckpt_delta _ecom/state/e000000000005") != NULL);
    CHECK(commit_record_decode(b.data, b.len, &d, err, sizeof err) == 0);
    CHECK_INTEQ(d.n_deltas, 2);
    CHECK_STREQ(d.deltas[0], dl[0]);
    CHECK_STREQ(d.deltas[1], dl[1]);
    CHECK_STREQ(d.ckpt[0], r.ckpt[0]);
    commit_record_free(&d);
    CHECK_INTEQ(record_mutants_accepted(&b, 0x04), 0);
    buf_free(&b);
    /* compaction: files of older epochs go unless the record names them */
    char *root = mkroot();
    storage *s = storage_open(root, err, sizeof err);
    CHECK(s != NULL);
    if (!s) return;
    static char *ck[2] = {"_ecom/state/e000000000003-p0.ckpt", NULL};
    r.ckpt = ck;
    const char *files[] = {"_ecom/state/e000000000002-p0.ckpt", "_ecom/state/e000000000003-p0.ckpt",
                           "_ecom/state/e000000000003-g1.delta", dl[0], dl[1], "_ecom/state/.e000000000004-g1.delta.tmp"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) CHECK(put(s, files[i], "x") == 0);
    CHECK(put(s, COMMIT_DIR "/00000000000000000004.commit", "old") == 0);
    CHECK(commit_log_compact_keep(s, -1, &r, err, sizeof err) == 0);
    CHECK(!exists(s, files[0]) && exists(s, files[1]) && !exists(s, files[2]));
    CHECK(exists(s, dl[0]) && exists(s, dl[1]) && !exists(s, files[5]));
    CHECK(!exists(s, COMMIT_DIR "/00000000000000000004.commit"));
    storage_close(s);
    CHECK(rm_root(root) == 0);
}

/* A scale-out record: one partition's offsets, checkpoint, counters and renames. */
static commit_record part_record(void) {
    static int64_t offs[4][3] = {{-1, -1, -1}, {-1, -1, -1}, {100, 7, 3}, {-1, -1, -1}};
    static char *ck[4] = {NULL, NULL, "_ecom/parts/p0002/00000000000000000009.ckpt", NULL};
    static rename_pair rn[2] = {{"views/date=2026-11-25/.part-p0002-s000000000009-00000.parquet.tmp",
                                 "views/date=2026-11-25/part-p0002-s000000000009-00000.parquet"},
                                {"funnel/date=2026-11-25/.part-p0002-s000000000009-00000.parquet.tmp",
                                 "funnel/date=2026-11-25/part-p0002-s000000000009-00000.parquet"}};
    commit_record r = {0};
    r.epoch = 9;
    r.kind = COMMIT_PARTITION;
    r.nparts = 4;
    r.part = 2;
    r.offsets = offs;
    r.records = 115;
    r.counts = (commit_counts){{90, 8, 2, 3}, 4, 1, 2, 5};
    r.ckpt = ck;
    r.renames = rn;
    r.n_renames = 2;
    return r;
}

static void test_part_record_roundtrip(check_state *st) {
    CHECK_STATE(st);
    commit_record r = part_record(), d;
    buf_t b = {0};
    char err[256];
    CHECK(commit_record_encode(&r, &b) == 0);
    CHECK(strstr(b.data, "input kafka-partition 2 of 4\n") != NULL);
    CHECK(commit_record_decode(b.data, b.len, &d, err, sizeof err) == 0);
    CHECK_INTEQ(d.kind, COMMIT_PARTITION);
    CHECK_INTEQ(d.part, 2);
    CHECK_INTEQ(d.nparts, 4);
    CHECK_INTEQ(d.epoch, 9);
    CHECK_INTEQ(d.records, 115);
    CHECK_INTEQ(d.counts.blank, 5);
    CHECK(strstr(b.data, "\nblank 5\n") != NULL);
    CHECK_INTEQ(d.counts.ok[0], 90);
    CHECK_INTEQ(d.counts.ok[3], 3);
    CHECK_INTEQ(d.counts.duplicates, 4);
    CHECK_INTEQ(d.counts.late, 1);
    CHECK_INTEQ(d.counts.rejected, 2);
    CHECK_INTEQ(d.offsets[2][0], 100);
    CHECK_INTEQ(d.offsets[2][2], 3);
    CHECK_INTEQ(d.offsets[1][0], -1);
    CHECK_STREQ(d.ckpt[2], r.ckpt[2]);
    CHECK(d.ckpt[0] == NULL);
    CHECK_INTEQ(d.n_renames, 2);
    CHECK_STREQ(d.renames[1].from, r.renames[1].from);
    commit_record_free(&d);
    buf_free(&b);
}

/* Decodes body as a commit record with a correct "sum" line appended (so that the decoder's
 * own checks are what is tested, not the checksum). 0 or -1 as commit_record_decode. */
static int record_decode_summed(const char *body, commit_record *d, char *err, size_t errlen) {
    buf_t t = {0};
    buf_append_str(&t, body);
    buf_printf(&t, "sum %016llx\n", (unsigned long long)hash64(t.data, t.len));
    int rc = commit_record_decode(t.data, t.len, d, err, errlen);
    buf_free(&t);
    return rc;
}

/* Every single-byte change and every truncation is refused; so are lines naming another
 * partition, a partition out of range, and negative counters, even with a valid checksum. */
static void test_part_record_corruption(check_state *st) {
    CHECK_STATE(st);
    commit_record r = part_record(), d;
    buf_t b = {0};
    char err[256];
    CHECK(commit_record_encode(&r, &b) == 0);
    CHECK_INTEQ(record_mutants_accepted(&b, 0x01), 0);
    static const char *const bad[] = {
        "ecom-commit 1\nepoch 1\ninput kafka-partition 2 of 4\nrecords 1\noffset 0 1 5\n",  /* other partition */
        "ecom-commit 1\nepoch 1\ninput kafka-partition 4 of 4\nrecords 1\n",                /* out of range */
        "ecom-commit 1\nepoch 1\ninput kafka-partition 1 of 4\nckpt 0 x.ckpt\n",              /* other ckpt */
        "ecom-commit 1\nepoch 1\ninput kafka-partition 1 of 4\ncounters 1 2 3 4 5 6 -7\n",   /* negative */
        "ecom-commit 1\nepoch 1\ninput kafka-partition 1 of 4\ncounters 1 2 3\n",            /* short */
        "ecom-commit 1\nepoch 1\ninput kafka-partition 1 of 4\ninput kafka 4\n",             /* two inputs */
        "ecom-commit 1\nepoch 1\ninput kafka-partition 1 of 4\nblank 1\nblank 1\n",          /* blank twice */
        "ecom-commit 1\nepoch 1\ninput kafka-partition 1 of 4\nblank -1\n",                  /* negative */
        "ecom-commit 1\nepoch 1\ninput kafka-partition 1 of 4\nblank 1 2\n",                 /* two values */
        "ecom-commit 1\nepoch 1\ninput kafka-partition 1 of 4\ncounters 1 2 3 4 5 6 7\ncounters 1 2 3 4 5 6 7\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int rc = record_decode_summed(bad[i], &d, err, sizeof err);
        CHECK(rc == -1);
        if (rc == 0) commit_record_free(&d);
    }
    buf_free(&b);
}

/* A record without a counters line (written before they existed) still decodes, counters 0. */
static void test_record_without_counters(check_state *st) {
    CHECK_STATE(st);
    commit_record d;
    char err[256];
    CHECK(record_decode_summed("ecom-commit 1\nepoch 5\ninput file\nrecords 12\nfile_offset 99\n", &d, err, sizeof err) == 0);
    CHECK_INTEQ(d.records, 12);
    CHECK_INTEQ(d.counts.rejected, 0);
    CHECK_INTEQ(d.counts.blank, 0);
    commit_record_free(&d);
}

/* A record from before the blank line: its blank records were in records and in no counter, so
 * blank decodes as the difference (the counters add up to records after an upgrade). */
static void test_record_without_blank(check_state *st) {
    CHECK_STATE(st);
    commit_record d;
    char err[256];
    CHECK(record_decode_summed("ecom-commit 1\nepoch 5\ninput file\nrecords 40\ncounters 10 5 2 3 4 1 6\nfile_offset 99\n", &d, err, sizeof err) == 0);
    CHECK_INTEQ(d.counts.blank, 9);
    commit_record_free(&d);
}

static int stage_rename(storage *s, const char *from, const char *to) {
    char err[256];
    return storage_rename(s, from, to, err, sizeof err);
}

/* staging_take moves exactly one partition's recorded renames out of the shared list. */
static void test_staging_take(check_state *st) {
    CHECK_STATE(st);
    char err[256];
    char *root = mkroot();
    storage *base = storage_open(root, err, sizeof err), *stage = NULL;
    CHECK(base != NULL);
    if (!base) return;
    staging *sg = staging_new(base, &stage, err, sizeof err);
    CHECK(sg != NULL);
    CHECK(stage_rename(stage, "views/date=2026-11-25/.part-p0001-s000000000003-00000.parquet.tmp",
                       "views/date=2026-11-25/part-p0001-s000000000003-00000.parquet") == 0);
    CHECK(stage_rename(stage, "views/date=2026-11-25/.part-p0011-s000000000003-00000.parquet.tmp",
                       "views/date=2026-11-25/part-p0011-s000000000003-00000.parquet") == 0);
    CHECK(stage_rename(stage, "cart/date=2026-11-26/.part-p0001-s000000000003-00000.parquet.tmp",
                       "cart/date=2026-11-26/part-p0001-s000000000003-00000.parquet") == 0);
    rename_pair *v;
    size_t n;
    char pre[48];
    lake_part_prefix(1, pre, sizeof pre);
    CHECK(staging_take(sg, pre, &v, &n) == 0);
    CHECK_INTEQ(n, 2);
    CHECK_INTEQ(staging_count(sg), 1);
    CHECK(strstr(staging_renames(sg)[0].from, "p0011") != NULL);
    rename_pairs_free(v, n);
    CHECK(staging_take(sg, pre, &v, &n) == 0 && n == 0 && v == NULL);
    staging_free(sg);
    storage_close(base);
    CHECK(rm_root(root) == 0);
}

/* A new owner of partition 1 redoes 1's renames and deletes 1's debris, never touching the
 * hidden files of partitions other instances may be writing right now. */
static void test_part_recover_and_sweep(check_state *st) {
    CHECK_STATE(st);
    char err[256];
    char *root = mkroot();
    storage *s = storage_open(root, err, sizeof err);
    CHECK(s != NULL);
    if (!s) return;
    commit_record r = part_record();
    CHECK(put(s, r.renames[0].from, "data") == 0);                     /* committed, not renamed */
    CHECK(put(s, r.renames[1].to, "data") == 0);                       /* committed and renamed */
    CHECK(put(s, "views/date=2026-11-25/.part-p0002-s000000000010-00000.parquet.tmp", "junk") == 0);
    CHECK(put(s, "views/date=2026-11-25/.part-p0003-s000000000004-00000.parquet.tmp", "busy") == 0);
    CHECK(put(s, "cart/date=2026-11-25/.part-e000000000004-00000.parquet.tmp", "x") == 0);
    CHECK(part_log_recover_files(s, &r, err, sizeof err) == 0);
    int mine[1] = {2};
    CHECK(part_log_sweep(s, mine, 1, err, sizeof err) == 0);
    CHECK(exists(s, r.renames[0].to));
    CHECK(!exists(s, r.renames[0].from));
    CHECK(exists(s, r.renames[1].to));
    CHECK(!exists(s, "views/date=2026-11-25/.part-p0002-s000000000010-00000.parquet.tmp"));
    CHECK(exists(s, "views/date=2026-11-25/.part-p0003-s000000000004-00000.parquet.tmp"));
    CHECK(exists(s, "cart/date=2026-11-25/.part-e000000000004-00000.parquet.tmp"));
    /* records: newest per partition, compaction, a record of another partition refused */
    char path[128], dir[64];
    part_dir(2, dir, sizeof dir);
    for (int64_t q = 7; q <= 9; q++) {
        buf_t b = {0};
        r.epoch = q;
        CHECK(commit_record_encode(&r, &b) == 0);
        snprintf(path, sizeof path, "%s/%020lld.commit", dir, (long long)q);
        CHECK(storage_put_atomic(s, path, b.data, b.len, err, sizeof err) == 0);
        snprintf(path, sizeof path, "%s/%020lld.ckpt", dir, (long long)q);
        CHECK(put(s, path, "state") == 0);
        buf_free(&b);
    }
    commit_record d;
    CHECK(part_log_read_latest(s, 2, &d, err, sizeof err) == 0);
    CHECK_INTEQ(d.epoch, 9);
    commit_record_free(&d);
    CHECK(part_log_read_latest(s, 1, &d, err, sizeof err) == 0 && d.epoch == -1);
    CHECK(part_log_compact(s, 2, 9, err, sizeof err) == 0);
    storage_list_t l = {0};
    CHECK(storage_list(s, dir, &l, err, sizeof err) == 0);
    CHECK_INTEQ(l.n, 2);
    storage_list_free(&l);
    char other[64], cmd[2048];
    part_dir(3, other, sizeof other);
    snprintf(cmd, sizeof cmd, "mkdir -p %s/%s && cp %s/%s/%020d.commit %s/%s/", root, other, root, dir, 9, root,
             other);
    CHECK(system(cmd) == 0);
    CHECK(part_log_read_latest(s, 3, &d, err, sizeof err) == -1);
    CHECK(strstr(err, "another partition") != NULL);
    storage_close(s);
    CHECK(rm_root(root) == 0);
}

/* What a reader (ecom dash) is told about the commits: the newest record of each lineage (the
 * single log's and each scale-out partition's, by path) and the files each publishes; a record
 * gone since it was listed is 1 (list again), a corrupt one an error naming it. */
static void test_commit_tips(check_state *st) {
    CHECK_STATE(st);
    char err[256];
    char *root = mkroot();
    storage *s = storage_open(root, err, sizeof err);
    CHECK(s != NULL);
    if (!s) return;
    root_commit_tip *t = NULL;
    size_t n = 9;
    CHECK(root_commit_tips(s, &t, &n, err, sizeof err) == 0 && n == 0 && t == NULL);   /* no log at all */
    commit_record r = sample_record(), p = part_record();
    for (int64_t e = 2; e <= 3; e++) {
        r.epoch = e;
        CHECK(commit_record_put(s, -1, &r, err, sizeof err) == 0);
    }
    CHECK(commit_record_put(s, 2, &p, err, sizeof err) == 0);
    CHECK(put(s, "_ecom/parts/p0002/00000000000000000009.ckpt", "state") == 0);   /* not a record */
    CHECK(put(s, "_ecom/parts/p0002/lease", "x") == 0);
    CHECK(root_commit_tips(s, &t, &n, err, sizeof err) == 0);
    CHECK_INTEQ(n, 2);
    if (n == 2) {
        CHECK_STREQ(t[0].path, "_ecom/commits/00000000000000000003.commit");
        CHECK_STREQ(t[1].path, "_ecom/parts/p0002/00000000000000000009.commit");
        CHECK(t[0].size > 0);
        char **from = NULL, **to = NULL;
        size_t k = 0;
        CHECK(root_commit_files(s, t[1].path, &from, &to, &k, err, sizeof err) == 0);
        CHECK_INTEQ(k, 2);
        if (k == 2) {
            CHECK_STREQ(from[1], p.renames[1].from);
            CHECK_STREQ(to[1], p.renames[1].to);
        }
        lake_paths_free(from, k);
        lake_paths_free(to, k);
        CHECK(storage_remove(s, t[0].path, err, sizeof err) == 0);   /* compacted since listed */
        CHECK(root_commit_files(s, t[0].path, &from, &to, &k, err, sizeof err) == 1 && k == 0);
        CHECK(put(s, t[1].path, "ecom-commit 1\nepoch 9\n") == 0);
        CHECK(root_commit_files(s, t[1].path, &from, &to, &k, err, sizeof err) == -1);
        CHECK(strstr(err, t[1].path) != NULL);
    }
    root_commit_tips_free(t, n);
    storage_close(s);
    CHECK(rm_root(root) == 0);
}

/* The fresh-input marks fold into one file: the directory holds it alone afterwards, whatever
 * the number of runs; a crash between the fold and the removals (a mark in both places) reads as
 * one mark; a corrupt file is refused by name. */
static void test_marks_fold(check_state *st) {
    CHECK_STATE(st);
    char err[256];
    char *root = mkroot();
    storage *s = storage_open(root, err, sizeof err);
    CHECK(s != NULL);
    if (!s) return;
    CHECK(pipeline_marks_fold(s, err, sizeof err) == 0);   /* nothing to fold: nothing written */
    CHECK(!exists(s, "_ecom/starts/marks"));
    for (int i = 0; i < 5; i++) {
        CHECK(lake_input_start_mark(s, 1000000LL * (10 * i + 1), err, sizeof err) == 0);
        char path[96];
        snprintf(path, sizeof path, "_ecom/starts/%020lld.stop", 1000000LL * (10 * i + 5));
        CHECK(put(s, path, "") == 0);
        CHECK(pipeline_marks_fold(s, err, sizeof err) == 0);
        storage_list_t l = {0};
        CHECK(storage_list(s, "_ecom/starts", &l, err, sizeof err) == 0);
        CHECK_INTEQ(l.n, 1);
        storage_list_free(&l);
    }
    CHECK(lake_input_start_mark(s, 11000000LL, err, sizeof err) == 0);   /* folded already: a crash's leftover */
    char *txt = NULL;
    size_t n = 0;
    bool ex = false;
    CHECK(storage_get_all(s, "_ecom/starts/marks", 1 << 20, &txt, &n, &ex, err, sizeof err) == 0 && ex);
    pipeline_marks m = {0};
    CHECK(pipeline_marks_parse(txt, n, &m, err, sizeof err) == 0);
    CHECK_INTEQ(m.nstarts, 5);
    CHECK_INTEQ(m.nstops, 5);
    if (m.nstarts == 5 && m.nstops == 5) {
        CHECK_INTEQ(m.starts[0], 1000000);
        CHECK_INTEQ(m.stops[4], 45000000);
    }
    pipeline_marks_free(&m);
    free(txt);
    CHECK(pipeline_marks_fold(s, err, sizeof err) == 0);
    CHECK(storage_get_all(s, "_ecom/starts/marks", 1 << 20, &txt, &n, &ex, err, sizeof err) == 0 && ex);
    CHECK(pipeline_marks_parse(txt, n, &m, err, sizeof err) == 0);
    CHECK_INTEQ(m.nstarts, 5);   /* the duplicate is one mark */
    pipeline_marks_free(&m);
    free(txt);
    CHECK(put(s, "_ecom/starts/marks", "ecom-marks 1\nstart 12\n") == 0);
    CHECK(lake_input_start_mark(s, 99000000LL, err, sizeof err) == 0);
    CHECK(pipeline_marks_fold(s, err, sizeof err) == -1);
    CHECK(strstr(err, "_ecom/starts/marks is corrupt") != NULL);
    CHECK(exists(s, "_ecom/starts/00000000000099000000.start"));   /* refused: nothing removed */
    storage_close(s);
    CHECK(rm_root(root) == 0);
}

/* The two layouts refuse to share a ROOT; the partition count is pinned at first start. */
static void test_layout(check_state *st) {
    CHECK_STATE(st);
    char err[256];
    char *root = mkroot();
    storage *s = storage_open(root, err, sizeof err);
    CHECK(s != NULL);
    if (!s) return;
    CHECK(layout_check(s, false, 3, err, sizeof err) == 0);   /* fresh: single instance writes nothing */
    CHECK(!exists(s, LAYOUT_PATH));
    CHECK(layout_check(s, true, 4, err, sizeof err) == 0);    /* first scale-out start records it */
    CHECK(exists(s, LAYOUT_PATH));
    CHECK(layout_check(s, true, 4, err, sizeof err) == 0);
    CHECK(layout_check(s, true, 8, err, sizeof err) == COMMIT_REFUSED);
    CHECK(strstr(err, "partitions") != NULL);
    CHECK(layout_check(s, false, 4, err, sizeof err) == COMMIT_REFUSED);
    CHECK(strstr(err, "--scale-out") != NULL);
    CHECK(put(s, LAYOUT_PATH, "garbage") == 0);
    CHECK(layout_check(s, true, 4, err, sizeof err) == COMMIT_REFUSED);
    CHECK(strstr(err, "corrupt") != NULL);
    storage_close(s);
    CHECK(rm_root(root) == 0);
    /* a ROOT with a single-instance commit log refuses scale-out */
    root = mkroot();
    s = storage_open(root, err, sizeof err);
    CHECK(s != NULL);
    if (!s) return;
    commit_record r = sample_record();
    buf_t b = {0};
    CHECK(commit_record_encode(&r, &b) == 0);
    CHECK(storage_put_atomic(s, COMMIT_DIR "/00000000000000000003.commit", b.data, b.len, err, sizeof err) == 0);
    buf_free(&b);
    CHECK(layout_check(s, true, 2, err, sizeof err) == COMMIT_REFUSED);
    CHECK(strstr(err, "single-instance") != NULL);
    CHECK(!exists(s, LAYOUT_PATH));
    storage_close(s);
    CHECK(rm_root(root) == 0);
}

/* A storage on which another instance wins the race to write the layout: the rename onto
 * _ecom/layout first writes the other instance's layout (text `rival`), then fails as the loser's
 * rename does (its temporary file was taken). Every other call goes to the base storage. */
typedef struct {
    storage *base;
    const char *rival;
} race_ctx;
static int rc_create(void *c, const char *p, storage_file **o, char *e, size_t n) {
    return storage_create(((race_ctx *)c)->base, p, o, e, n);
}
static int rc_write(storage_file *f, const void *p, size_t n, char *e, size_t el) {
    return storage_file_write(f, p, n, e, el);
}
static int rc_close(storage_file *f, char *e, size_t n) { return storage_file_close(f, e, n); }
static void rc_abort(storage_file *f) { storage_file_abort(f); }
static int rc_rename(void *c, const char *from, const char *to, char *e, size_t n) {
    race_ctx *r = c;
    if (strcmp(to, LAYOUT_PATH)) return storage_rename(r->base, from, to, e, n);
    storage_put_atomic(r->base, LAYOUT_PATH, r->rival, strlen(r->rival), e, n);
    snprintf(e, n, "rename %s: No such file or directory", from);
    return -1;
}
static int rc_remove(void *c, const char *p, char *e, size_t n) { return storage_remove(((race_ctx *)c)->base, p, e, n); }
static int rc_mkdirs(void *c, const char *p, char *e, size_t n) { return storage_mkdirs(((race_ctx *)c)->base, p, e, n); }
static int rc_list(void *c, const char *d, storage_list_t *o, char *e, size_t n) {
    return storage_list(((race_ctx *)c)->base, d, o, e, n);
}
static int rc_stat(void *c, const char *p, storage_entry *o, bool *x, char *e, size_t n) {
    return storage_stat(((race_ctx *)c)->base, p, o, x, e, n);
}
static int rc_read(void *c, const char *p, uint64_t off, void *d, size_t k, size_t *g, char *e, size_t n) {
    return storage_read(((race_ctx *)c)->base, p, off, d, k, g, e, n);
}
static void rc_destroy(void *c) { (void)c; }
static const storage_ops race_ops = {"race", rc_create, rc_write, rc_close, rc_abort, rc_rename, rc_remove,
                                     rc_mkdirs, rc_list, rc_stat, rc_read, rc_destroy, NULL};

/* Two scale-out instances starting together both write the layout: the loser must accept the
 * winner's identical layout (it failed "rename ... No such file or directory" before), and
 * still refuse a different one. */
static void test_layout_race(check_state *st) {
    CHECK_STATE(st);
    char err[256];
    char *root = mkroot();
    race_ctx rc = {storage_open(root, err, sizeof err), "ecom-layout 1\nscale-out 4\n"};
    CHECK(rc.base != NULL);
    if (!rc.base) return;
    storage *s = storage_open_ops(&race_ops, &rc, root, err, sizeof err);
    CHECK(s != NULL);
    CHECK(layout_check(s, true, 4, err, sizeof err) == 0);
    CHECK(storage_remove(rc.base, LAYOUT_PATH, err, sizeof err) == 0);
    rc.rival = "ecom-layout 1\nscale-out 8\n";
    CHECK(layout_check(s, true, 4, err, sizeof err) == COMMIT_REFUSED);
    CHECK(strstr(err, "partitions") != NULL);
    storage_close(s);
    storage_close(rc.base);
    CHECK(rm_root(root) == 0);
}

/* The test-only fault wrapper fails exactly the chosen calls, counting only matching paths. */
static void test_faults_wrap(check_state *st) {
    CHECK_STATE(st);
    char err[256];
    char *root = mkroot();
    storage *base = storage_open(root, err, sizeof err);
    CHECK(base != NULL);
    if (!base) return;
    CHECK(faults_wrap(storage_open(root, err, sizeof err), "prefix=x,bogus", err, sizeof err) == NULL);
    CHECK(strstr(err, "bogus") != NULL);
    storage *s = faults_wrap(base, "prefix=_ecom/commits,from=2,count=3", err, sizeof err);
    CHECK(s != NULL);
    if (!s) return;
    CHECK(storage_put_atomic(s, "views/a", "1", 1, err, sizeof err) == 0);         /* not counted */
    /* create (call 1) ok, rename (2) fails, and so does its clean-up remove (3) */
    CHECK(storage_put_atomic(s, "_ecom/commits/1", "1", 1, err, sizeof err) == -1);
    CHECK(strstr(err, "injected storage fault (call 2") != NULL);
    CHECK(storage_put_atomic(s, "_ecom/commits/1", "1", 1, err, sizeof err) == -1); /* create: 4 */
    CHECK(strstr(err, "injected storage fault (call 4") != NULL);
    CHECK(storage_put_atomic(s, "_ecom/commits/1", "1", 1, err, sizeof err) == 0);  /* calls 5, 6 */
    CHECK(exists(s, "_ecom/commits/1"));                                           /* reads: not counted */
    CHECK(exists(s, "views/a"));
    storage_close(s); /* closes base too */
    CHECK(rm_root(root) == 0);
}

static void test_storage_get_all(check_state *st) {
    CHECK_STATE(st);
    char err[256];
    char *root = mkroot();
    storage *s = storage_open(root, err, sizeof err);
    CHECK(s != NULL);
    if (!s) return;
    char *p = NULL;
    size_t n = 9;
    bool ex = true;
    CHECK(storage_get_all(s, "_ecom/none", 100, &p, &n, &ex, err, sizeof err) == 0);
    CHECK(!ex && p == NULL && n == 0);
    CHECK(put(s, "_ecom/layout", "ecom-layout 1\n") == 0);
    CHECK(storage_get_all(s, "_ecom/layout", 100, &p, &n, &ex, err, sizeof err) == 0);
    CHECK(ex && n == 14 && p && !strcmp(p, "ecom-layout 1\n"));
    free(p);
    CHECK(storage_get_all(s, "_ecom/layout", 13, &p, &n, &ex, err, sizeof err) == -1);
    CHECK(p == NULL);
    storage_close(s);
    CHECK(rm_root(root) == 0);
}

int main(void) {
    check_state st = {0};
    RUN(&st, test_record_roundtrip);
    RUN(&st, test_record_corruption);
    RUN(&st, test_recover_and_sweep);
    RUN(&st, test_latest_and_compact);
    RUN(&st, test_record_chain);
    RUN(&st, test_part_record_roundtrip);
    RUN(&st, test_part_record_corruption);
    RUN(&st, test_record_without_counters);
    RUN(&st, test_record_without_blank);
    RUN(&st, test_staging_take);
    RUN(&st, test_part_recover_and_sweep);
    RUN(&st, test_commit_tips);
    RUN(&st, test_marks_fold);
    RUN(&st, test_layout);
    RUN(&st, test_layout_race);
    RUN(&st, test_faults_wrap);
    RUN(&st, test_storage_get_all);
    return CHECK_EXIT(&st);
}
