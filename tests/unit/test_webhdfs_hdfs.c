/* test_webhdfs_hdfs.c — every operation of the WebHDFS backend against a real HDFS (Apache
 * Hadoop NameNode + DataNode from tests/services/hdfs.sh), checked with Hadoop's own FsShell as
 * an independent client. The HDFS address comes from $ECOM_HDFS_ADDR; without it the test
 * starts the service itself (tests/services/hdfs.sh ensure) and FAILS if that fails: it never
 * skips. Each run works under its own root directory. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/wait.h>

#include "check.h"
#include "pipeline/pipeline_internal.h"
#include "storage/webhdfs.h"
#include "util/util.h"

static char g_addr[128];
static char g_root[64];     /* "/t-PID" */
static char g_uri[256];     /* hdfs://ADDR/t-PID */

static const char *repo(void) {
    const char *r = getenv("REPO");
    return r && *r ? r : ".";
}

/* Runs a shell command, captures stdout into out (if not NULL). Returns its exit status. */
static int run_cmd(const char *cmd, buf_t *out) {
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    char tmp[65536];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, p)) > 0)
        if (out) buf_append(out, tmp, n);
    int rc = pclose(p);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static int hdfs_sh(const char *args, buf_t *out) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "bash '%s/tests/services/hdfs.sh' %s", repo(), args);
    return run_cmd(cmd, out);
}

/* FsShell -cat of an absolute HDFS path. */
static int fs_cat(const char *abs, buf_t *out) {
    char args[512];
    snprintf(args, sizeof args, "fs -cat '%s' 2>/dev/null", abs);
    return hdfs_sh(args, out);
}

static webhdfs *open_w(const webhdfs_opts *o) {
    char err[512];
    webhdfs *w = webhdfs_open(g_uri, o, err, sizeof err);
    if (!w) printf("  open: %s\n", err);
    return w;
}

/* Deterministic pseudo-random bytes (xorshift), so a mismatch shows an offset. */
static void fill(unsigned char *p, size_t n, uint64_t seed) {
    uint64_t x = seed * 0x9E3779B97F4A7C15ULL + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        p[i] = (unsigned char)(x >> 24);
    }
}

static int put_file(webhdfs *w, const char *path, const void *p, size_t n, size_t chunk, char *err, size_t errlen) {
    webhdfs_file *f;
    if (webhdfs_create(w, path, &f, err, errlen)) return -1;
    for (size_t off = 0; off < n; off += chunk) {
        size_t k = n - off < chunk ? n - off : chunk;
        if (webhdfs_file_write(f, (const char *)p + off, k, err, errlen)) {
            webhdfs_file_abort(f);
            return -1;
        }
    }
    return webhdfs_file_close(f, err, errlen);
}

static void test_small_file_round_trip(check_state *st) {
    CHECK_STATE(st);
    webhdfs *w = open_w(NULL);
    CHECK(w != NULL);
    if (!w) return;
    char err[512] = "", abs[256];
    const char *text = "hello, hdfs\n";
    CHECK_INTEQ(put_file(w, "small/hello.txt", text, strlen(text), 5, err, sizeof err), 0);
    if (err[0]) printf("  %s\n", err);
    storage_entry e;
    bool ex = false;
    CHECK_INTEQ(webhdfs_stat(w, "small/hello.txt", &e, &ex, err, sizeof err), 0);
    CHECK(ex);
    CHECK(!e.is_dir);
    CHECK_INTEQ(e.size, strlen(text));
    CHECK(e.mtime_us > time_now_us() - 600 * TIME_US_PER_SEC && e.mtime_us < time_now_us() + 600 * TIME_US_PER_SEC);
    char back[64];
    size_t got = 0;
    CHECK_INTEQ(webhdfs_read(w, "small/hello.txt", 0, back, sizeof back, &got, err, sizeof err), 0);
    CHECK_INTEQ(got, strlen(text));
    CHECK(!memcmp(back, text, strlen(text)));
    buf_t cat = {0};
    snprintf(abs, sizeof abs, "%s/small/hello.txt", g_root);
    CHECK_INTEQ(fs_cat(abs, &cat), 0);
    CHECK_INTEQ(cat.len, strlen(text));
    CHECK(cat.len == strlen(text) && !memcmp(cat.data, text, cat.len));
    buf_free(&cat);
    /* The directory is there too, and the root stats as a directory. */
    CHECK_INTEQ(webhdfs_stat(w, "small", &e, &ex, err, sizeof err), 0);
    CHECK(ex && e.is_dir);
    CHECK_INTEQ(webhdfs_stat(w, "", &e, &ex, err, sizeof err), 0);
    CHECK(ex && e.is_dir);
    webhdfs_close(w);
}

/* 20 MiB, written in uneven chunks: spills to the temp spool (spill at 8 MiB) and crosses
 * HDFS block boundaries (the test cluster uses 8 MiB blocks). Read back in ranges as a Parquet
 * reader would (the 8-byte tail, the footer, a middle column chunk), whole, and by FsShell. */
static void test_large_file_and_range_reads(check_state *st) {
    CHECK_STATE(st);
    webhdfs *w = open_w(NULL);
    CHECK(w != NULL);
    if (!w) return;
    size_t n = (size_t)20 << 20;
    unsigned char *data = malloc(n), *back = malloc(n);
    CHECK(data && back);
    if (!data || !back) { free(data); free(back); webhdfs_close(w); return; }
    fill(data, n, 42);
    char err[512] = "", abs[256];
    int64_t t0 = time_mono_us();
    CHECK_INTEQ(put_file(w, "big/part-0.parquet", data, n, 1000003, err, sizeof err), 0);
    if (err[0]) printf("  %s\n", err);
    printf("  wrote 20 MiB in %.2f s\n", (double)(time_mono_us() - t0) / 1e6);
    storage_entry e;
    bool ex;
    CHECK_INTEQ(webhdfs_stat(w, "big/part-0.parquet", &e, &ex, err, sizeof err), 0);
    CHECK_INTEQ(e.size, n);
    size_t got;
    static const struct { uint64_t off; size_t len; } ranges[] = {
        {(20u << 20) - 8, 8}, {(20u << 20) - 65536, 65536}, {(8u << 20) - 100, 200}, {0, 1}, {12345, 3u << 20}};
    for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++) {
        got = 0;
        CHECK_INTEQ(webhdfs_read(w, "big/part-0.parquet", ranges[i].off, back, ranges[i].len, &got, err, sizeof err), 0);
        CHECK_INTEQ(got, ranges[i].len);
        CHECK(!memcmp(back, data + ranges[i].off, ranges[i].len));
    }
    /* Past the end: short read, then an empty one, not an error. */
    CHECK_INTEQ(webhdfs_read(w, "big/part-0.parquet", n - 10, back, 100, &got, err, sizeof err), 0);
    CHECK_INTEQ(got, 10);
    CHECK(!memcmp(back, data + n - 10, 10));
    got = 99;
    CHECK_INTEQ(webhdfs_read(w, "big/part-0.parquet", n, back, 100, &got, err, sizeof err), 0);
    CHECK_INTEQ(got, 0);
    got = 99;
    CHECK_INTEQ(webhdfs_read(w, "big/part-0.parquet", n + 5000, back, 100, &got, err, sizeof err), 0);
    CHECK_INTEQ(got, 0);
    /* Whole file. */
    memset(back, 0, n);
    t0 = time_mono_us();
    CHECK_INTEQ(webhdfs_read(w, "big/part-0.parquet", 0, back, n, &got, err, sizeof err), 0);
    printf("  read 20 MiB in %.2f s\n", (double)(time_mono_us() - t0) / 1e6);
    CHECK_INTEQ(got, n);
    CHECK(!memcmp(back, data, n));
    buf_t cat = {0};
    snprintf(abs, sizeof abs, "%s/big/part-0.parquet", g_root);
    CHECK_INTEQ(fs_cat(abs, &cat), 0);
    CHECK_INTEQ(cat.len, n);
    CHECK(cat.len == n && !memcmp(cat.data, data, n));
    buf_free(&cat);
    free(data);
    free(back);
    webhdfs_close(w);
}

static void test_empty_file(check_state *st) {
    CHECK_STATE(st);
    webhdfs *w = open_w(NULL);
    CHECK(w != NULL);
    if (!w) return;
    char err[512] = "";
    webhdfs_file *f;
    CHECK_INTEQ(webhdfs_create(w, "empty/e.bin", &f, err, sizeof err), 0);
    CHECK_INTEQ(webhdfs_file_close(f, err, sizeof err), 0);
    storage_entry e;
    bool ex = false;
    CHECK_INTEQ(webhdfs_stat(w, "empty/e.bin", &e, &ex, err, sizeof err), 0);
    CHECK(ex);
    CHECK_INTEQ(e.size, 0);
    char b[8];
    size_t got = 7;
    CHECK_INTEQ(webhdfs_read(w, "empty/e.bin", 0, b, sizeof b, &got, err, sizeof err), 0);
    CHECK_INTEQ(got, 0);
    /* An aborted file never appears. */
    CHECK_INTEQ(webhdfs_create(w, "empty/aborted.bin", &f, err, sizeof err), 0);
    CHECK_INTEQ(webhdfs_file_write(f, "xyz", 3, err, sizeof err), 0);
    webhdfs_file_abort(f);
    CHECK_INTEQ(webhdfs_stat(w, "empty/aborted.bin", &e, &ex, err, sizeof err), 0);
    CHECK(!ex);
    webhdfs_close(w);
}

/* The commit protocol: write ".name.tmp", rename over the committed "name". */
static void test_rename_replaces_atomically(check_state *st) {
    CHECK_STATE(st);
    webhdfs *w = open_w(NULL);
    CHECK(w != NULL);
    if (!w) return;
    char err[512] = "", b[64];
    size_t got;
    CHECK_INTEQ(put_file(w, "tbl/date=2026-11-25/part-1.parquet", "OLD", 3, 3, err, sizeof err), 0);
    CHECK_INTEQ(put_file(w, "tbl/date=2026-11-25/.part-1.parquet.tmp", "NEWER", 5, 5, err, sizeof err), 0);
    CHECK_INTEQ(webhdfs_rename(w, "tbl/date=2026-11-25/.part-1.parquet.tmp", "tbl/date=2026-11-25/part-1.parquet",
                               err, sizeof err), 0);
    if (err[0]) printf("  %s\n", err);
    CHECK_INTEQ(webhdfs_read(w, "tbl/date=2026-11-25/part-1.parquet", 0, b, sizeof b, &got, err, sizeof err), 0);
    CHECK(got == 5 && !memcmp(b, "NEWER", 5));
    bool ex = true;
    CHECK_INTEQ(webhdfs_stat(w, "tbl/date=2026-11-25/.part-1.parquet.tmp", NULL, &ex, err, sizeof err), 0);
    CHECK(!ex);
    /* Onto a name whose parent does not exist yet: the parent is created. */
    CHECK_INTEQ(put_file(w, "tbl/_tmp-x", "X", 1, 1, err, sizeof err), 0);
    CHECK_INTEQ(webhdfs_rename(w, "tbl/_tmp-x", "tbl/date=2026-11-26/part-9.parquet", err, sizeof err), 0);
    CHECK_INTEQ(webhdfs_stat(w, "tbl/date=2026-11-26/part-9.parquet", NULL, &ex, err, sizeof err), 0);
    CHECK(ex);
    /* A missing source is a clear error. */
    err[0] = 0;
    CHECK_INTEQ(webhdfs_rename(w, "tbl/nope", "tbl/nope2", err, sizeof err), -1);
    printf("  missing source: %s\n", err);
    CHECK(strstr(err, "FileNotFoundException") != NULL);
    /* Renaming a file onto a directory must not move it inside. */
    CHECK_INTEQ(put_file(w, "tbl/f", "F", 1, 1, err, sizeof err), 0);
    CHECK_INTEQ(webhdfs_rename(w, "tbl/f", "tbl/date=2026-11-25", err, sizeof err), -1);
    CHECK_INTEQ(webhdfs_stat(w, "tbl/date=2026-11-25/f", NULL, &ex, err, sizeof err), 0);
    CHECK(!ex);
    webhdfs_close(w);
}

static int find(const storage_list_t *l, const char *name) {
    for (size_t i = 0; i < l->n; i++)
        if (!strcmp(l->entries[i].name, name)) return (int)i;
    return -1;
}

static void test_list_names_and_hidden_files(check_state *st) {
    CHECK_STATE(st);
    webhdfs *w = open_w(NULL);
    CHECK(w != NULL);
    if (!w) return;
    char err[512] = "";
    CHECK_INTEQ(put_file(w, "ls/date=2026-11-25/part-0.parquet", "abcd", 4, 4, err, sizeof err), 0);
    CHECK_INTEQ(put_file(w, "ls/date=2026-11-25/.part-1.parquet.tmp", "ab", 2, 2, err, sizeof err), 0);
    CHECK_INTEQ(put_file(w, "ls/date=2026-11-25/_SUCCESS", "", 0, 1, err, sizeof err), 0);
    CHECK_INTEQ(put_file(w, "ls/date=2026-11-25/caf\xc3\xa9 & co+%.txt", "u", 1, 1, err, sizeof err), 0);
    CHECK_INTEQ(webhdfs_mkdirs(w, "ls/date=2026-11-26", err, sizeof err), 0);
    CHECK_INTEQ(webhdfs_mkdirs(w, "ls/date=2026-11-26", err, sizeof err), 0);   /* idempotent */
    storage_list_t l;
    CHECK_INTEQ(webhdfs_list(w, "ls", &l, err, sizeof err), 0);
    CHECK_INTEQ(l.n, 2);
    int i = find(&l, "date=2026-11-25"), j = find(&l, "date=2026-11-26");
    CHECK(i >= 0 && l.entries[i].is_dir);
    CHECK(j >= 0 && l.entries[j].is_dir);
    webhdfs_list_free(&l);
    CHECK_INTEQ(webhdfs_list(w, "ls/date=2026-11-25", &l, err, sizeof err), 0);
    CHECK_INTEQ(l.n, 4);
    i = find(&l, "part-0.parquet");
    CHECK(i >= 0 && !l.entries[i].is_dir && l.entries[i].size == 4);
    /* Hidden names are listed as they are: the readers' filter (leading '.' or '_') needs them. */
    i = find(&l, ".part-1.parquet.tmp");
    CHECK(i >= 0 && l.entries[i].size == 2);
    CHECK(find(&l, "_SUCCESS") >= 0);
    CHECK(find(&l, "caf\xc3\xa9 & co+%.txt") >= 0);
    webhdfs_list_free(&l);
    /* Missing directory: empty list. A file: error. */
    CHECK_INTEQ(webhdfs_list(w, "ls/none", &l, err, sizeof err), 0);
    CHECK_INTEQ(l.n, 0);
    CHECK_INTEQ(webhdfs_list(w, "ls/date=2026-11-25/part-0.parquet", &l, err, sizeof err), -1);
    CHECK(strstr(err, "not a directory") != NULL);
    CHECK_INTEQ(l.n, 0);
    webhdfs_close(w);
}

static void test_delete(check_state *st) {
    CHECK_STATE(st);
    webhdfs *w = open_w(NULL);
    CHECK(w != NULL);
    if (!w) return;
    char err[512] = "";
    bool ex = true;
    CHECK_INTEQ(put_file(w, "del/a", "a", 1, 1, err, sizeof err), 0);
    CHECK_INTEQ(webhdfs_remove(w, "del/a", err, sizeof err), 0);
    CHECK_INTEQ(webhdfs_stat(w, "del/a", NULL, &ex, err, sizeof err), 0);
    CHECK(!ex);
    CHECK_INTEQ(webhdfs_remove(w, "del/a", err, sizeof err), 0);       /* missing: fine */
    CHECK_INTEQ(put_file(w, "del/d/x", "x", 1, 1, err, sizeof err), 0);
    err[0] = 0;
    CHECK_INTEQ(webhdfs_remove(w, "del/d", err, sizeof err), -1);      /* not empty */
    printf("  non-empty dir: %s\n", err);
    CHECK(strstr(err, "DELETE") != NULL);
    CHECK_INTEQ(webhdfs_stat(w, "del/d/x", NULL, &ex, err, sizeof err), 0);
    CHECK(ex);
    CHECK_INTEQ(webhdfs_remove(w, "del/d/x", err, sizeof err), 0);
    CHECK_INTEQ(webhdfs_remove(w, "del/d", err, sizeof err), 0);       /* empty dir */
    CHECK_INTEQ(webhdfs_stat(w, "del/d", NULL, &ex, err, sizeof err), 0);
    CHECK(!ex);
    webhdfs_close(w);
}

static void test_remote_exceptions_are_clear(check_state *st) {
    CHECK_STATE(st);
    webhdfs *w = open_w(NULL);
    CHECK(w != NULL);
    if (!w) return;
    char err[512] = "", b[8];
    size_t got = 5;
    CHECK_INTEQ(webhdfs_read(w, "no/such.parquet", 0, b, sizeof b, &got, err, sizeof err), -1);
    printf("  missing file: %s\n", err);
    CHECK(strstr(err, "OPEN") && strstr(err, "FileNotFoundException") && strstr(err, "no/such.parquet"));
    CHECK(strstr(err, "HTTP 404") != NULL);
    /* Not retried: no " (after N attempts" note here, and the retry counter below stays 0 (a
     * counter, not a wall-clock bound, which a loaded box can break). */
    CHECK(strstr(err, "attempts") == NULL);
    CHECK_INTEQ(got, 0);
    /* A file where a directory is needed. */
    CHECK_INTEQ(put_file(w, "rex/file", "f", 1, 1, err, sizeof err), 0);
    err[0] = 0;
    CHECK_INTEQ(put_file(w, "rex/file/child", "c", 1, 1, err, sizeof err), -1);
    printf("  file as parent: %s\n", err);
    CHECK(strstr(err, "Exception") != NULL);
    webhdfs_stats s;
    webhdfs_get_stats(w, &s);
    CHECK_INTEQ(s.retries, 0);
    webhdfs_close(w);
}

/* user.name from the options, else HADOOP_USER_NAME: FsShell shows the owner. */
static void test_user_name(check_state *st) {
    CHECK_STATE(st);
    webhdfs_opts o = {.user = "alice", .retries = -1};
    webhdfs *w = open_w(&o);
    setenv("HADOOP_USER_NAME", "bob", 1);
    webhdfs *w2 = open_w(NULL);
    unsetenv("HADOOP_USER_NAME");
    CHECK(w && w2);
    if (!w || !w2) { webhdfs_close(w); webhdfs_close(w2); return; }
    char err[512] = "", args[512];
    CHECK_INTEQ(put_file(w, "users/a", "a", 1, 1, err, sizeof err), 0);
    CHECK_INTEQ(put_file(w2, "users/b", "b", 1, 1, err, sizeof err), 0);
    buf_t ls = {0};
    snprintf(args, sizeof args, "fs -ls '%s/users' 2>/dev/null", g_root);
    CHECK_INTEQ(hdfs_sh(args, &ls), 0);
    CHECK(ls.data && strstr(ls.data, " alice ") && strstr(ls.data, "/users/a"));
    CHECK(ls.data && strstr(ls.data, " bob ") && strstr(ls.data, "/users/b"));
    buf_free(&ls);
    webhdfs_close(w);
    webhdfs_close(w2);
}

/* The only DataNode stops between the writes and the upload: close fails with a clear error
 * in bounded time (the NameNode still redirects to it, connections are refused, retries run
 * out), nothing half-written stays visible, and after a restart the same upload works. */
static void test_datanode_down_then_back(check_state *st) {
    CHECK_STATE(st);
    webhdfs_opts o = {.retries = 3, .backoff_ms = 100, .connect_timeout_ms = 2000, .io_timeout_ms = 10000};
    webhdfs *w = open_w(&o);
    CHECK(w != NULL);
    if (!w) return;
    size_t n = (size_t)12 << 20;
    unsigned char *data = malloc(n);
    CHECK(data != NULL);
    if (!data) { webhdfs_close(w); return; }
    fill(data, n, 7);
    char err[512] = "";
    webhdfs_file *f;
    CHECK_INTEQ(webhdfs_create(w, "fault/.part-0.tmp", &f, err, sizeof err), 0);
    CHECK_INTEQ(webhdfs_file_write(f, data, n, err, sizeof err), 0);
    CHECK_INTEQ(hdfs_sh("stop-datanode >/dev/null 2>&1", NULL), 0);
    int64_t t0 = time_mono_us();
    int rc = webhdfs_file_close(f, err, sizeof err);
    double secs = (double)(time_mono_us() - t0) / 1e6;
    printf("  close with the DataNode down: rc=%d after %.1f s: %s\n", rc, secs, rc ? err : "");
    CHECK_INTEQ(rc, -1);
    CHECK(strstr(err, "CREATE") != NULL);
    CHECK(secs < 60);
    CHECK_INTEQ(hdfs_sh("start-datanode >/dev/null 2>&1", NULL), 0);
    bool ex = true;
    storage_entry e;
    CHECK_INTEQ(webhdfs_stat(w, "fault/.part-0.tmp", &e, &ex, err, sizeof err), 0);
    if (ex) printf("  left behind: %llu bytes\n", (unsigned long long)e.size);
    CHECK_INTEQ(put_file(w, "fault/.part-0.tmp", data, n, 1 << 20, err, sizeof err), 0);
    if (err[0]) printf("  %s\n", err);
    CHECK_INTEQ(webhdfs_rename(w, "fault/.part-0.tmp", "fault/part-0", err, sizeof err), 0);
    buf_t cat = {0};
    char abs[256];
    snprintf(abs, sizeof abs, "%s/fault/part-0", g_root);
    CHECK_INTEQ(fs_cat(abs, &cat), 0);
    CHECK(cat.len == n && !memcmp(cat.data, data, n));
    buf_free(&cat);
    free(data);
    webhdfs_close(w);
}

/* The storage_ops table drives the same backend. */
static void test_storage_ops_table(check_state *st) {
    CHECK_STATE(st);
    const storage_ops *ops = webhdfs_storage_ops();
    CHECK_STREQ(ops->name, "webhdfs");
    char err[512] = "";
    void *ctx = webhdfs_storage_open(g_uri, NULL, err, sizeof err);
    CHECK(ctx != NULL);
    if (!ctx) return;
    storage_file *f;
    CHECK_INTEQ(ops->create(ctx, "ops/.a.tmp", &f, err, sizeof err), 0);
    CHECK_INTEQ(ops->write(f, "ops!", 4, err, sizeof err), 0);
    CHECK_INTEQ(ops->close_file(f, err, sizeof err), 0);
    CHECK_INTEQ(ops->rename(ctx, "ops/.a.tmp", "ops/a", err, sizeof err), 0);
    storage_list_t l;
    CHECK_INTEQ(ops->list(ctx, "ops", &l, err, sizeof err), 0);
    CHECK(l.n == 1 && !strcmp(l.entries[0].name, "a") && l.entries[0].size == 4);
    webhdfs_list_free(&l);
    char b[8];
    size_t got;
    CHECK_INTEQ(ops->read(ctx, "ops/a", 2, b, 2, &got, err, sizeof err), 0);
    CHECK(got == 2 && !memcmp(b, "s!", 2));
    CHECK_INTEQ(ops->remove(ctx, "ops/a", err, sizeof err), 0);
    ops->destroy(ctx);
}

/* Create-exclusive and whole (the primitive of the writer lease and the commit records): a
 * private temporary file, then a RENAME without overwrite; an existing file is reported as 1
 * without touching it and no temporary file is left; of four processes racing for one name
 * exactly one creates it; the lease then works on HDFS: a second writer is refused naming the
 * holder, a forced take-over fences the first; and the commit point is a compare-and-swap on
 * HDFS: the new holder claims record 0, the fenced one's record 0 is refused. */
static void test_put_new_exclusive(check_state *st) {
    CHECK_STATE(st);
    webhdfs *w = open_w(NULL);
    CHECK(w != NULL);
    if (!w) return;
    char err[512] = "", abs[256];
    CHECK_INTEQ(webhdfs_put_new(w, "excl/a", "first", 5, err, sizeof err), 0);
    CHECK_INTEQ(webhdfs_put_new(w, "excl/a", "second", 6, err, sizeof err), 1);
    buf_t cat = {0};
    snprintf(abs, sizeof abs, "%s/excl/a", g_root);
    CHECK_INTEQ(fs_cat(abs, &cat), 0);
    CHECK(cat.len == 5 && !memcmp(cat.data, "first", 5));
    buf_free(&cat);
    storage_list_t ls = {0};
    CHECK_INTEQ(webhdfs_list(w, "excl", &ls, err, sizeof err), 0);
    CHECK(ls.n == 1 && !strcmp(ls.entries[0].name, "a")); /* no temporary file left */
    storage_list_free(&ls);
    webhdfs_close(w);
    pid_t kids[4];
    for (int i = 0; i < 4; i++) {
        if ((kids[i] = fork()) == 0) {
            char e2[512];
            storage *s = storage_open(g_uri, e2, sizeof e2);
            int rc = s ? storage_put_if_absent(s, "excl/race", "x", 1, e2, sizeof e2) : -1;
            if (rc < 0) printf("  child %d: %s\n", i, e2);
            storage_close(s);
            _exit(rc + 10);
        }
    }
    int created = 0, present = 0;
    for (int i = 0; i < 4; i++) {
        int wst = 0;
        if (kids[i] > 0 && waitpid(kids[i], &wst, 0) == kids[i] && WIFEXITED(wst)) {
            created += WEXITSTATUS(wst) == 10;
            present += WEXITSTATUS(wst) == 11;
        }
    }
    CHECK_INTEQ(created, 1);
    CHECK_INTEQ(present, 3);
    storage *s = storage_open(g_uri, err, sizeof err);
    CHECK(s != NULL);
    if (!s) return;
    writer_lease a, b;
    lease_init(&a, LEASE_DIR, 30 * TIME_US_PER_SEC);
    lease_init(&b, LEASE_DIR, 30 * TIME_US_PER_SEC);
    b.pid = a.pid + 1;
    CHECK_INTEQ(lease_acquire(s, &a, false, err, sizeof err), 0);
    CHECK_INTEQ(lease_renew(s, &a, err, sizeof err), 0);
    CHECK_INTEQ(lease_acquire(s, &b, false, err, sizeof err), COMMIT_REFUSED);
    char want[64];
    snprintf(want, sizeof want, "pid %ld since", a.pid);
    CHECK(strstr(err, want) != NULL);
    CHECK_INTEQ(lease_acquire(s, &b, true, err, sizeof err), 0);
    CHECK_INTEQ(b.gen, 2);
    CHECK_INTEQ(lease_check(s, &a, err, sizeof err), LEASE_FENCED);
    CHECK_INTEQ(lease_check(s, &b, err, sizeof err), 0);
    commit_record r;
    CHECK_INTEQ(commit_log_read_latest(s, &r, err, sizeof err), 0);
    CHECK_INTEQ(commit_log_claim(s, -1, &r, COMMIT_FILE, 1, b.gen, err, sizeof err), 0);
    r.generation = a.gen;
    r.file_offset = 77;
    CHECK_INTEQ(commit_record_put(s, -1, &r, err, sizeof err), LEASE_FENCED);
    CHECK(strstr(err, "committed by another writer (lease generation 2)") != NULL);
    commit_record_free(&r);
    CHECK_INTEQ(commit_log_read_latest(s, &r, err, sizeof err), 0);
    CHECK(r.epoch == 0 && r.generation == 2 && r.file_offset == 0);
    commit_record_free(&r);
    storage_close(s);
}

/* The sweep of crashed put_if_absent calls on HDFS (the lease holder's, lease.c): a private
 * temporary is kept while it is younger than the age given (it may be a live writer's) and
 * deleted once older, by the NameNode's mtime; a hidden file of another shape is never deleted.
 * (Dating a file back on HDFS needs SETTIMES, which the backend does not have: the sweep is
 * asked with a clock an hour ahead instead.) */
static void test_put_temporaries_swept(check_state *st) {
    CHECK_STATE(st);
    char err[512] = "";
    storage *s = storage_open(g_uri, err, sizeof err);
    CHECK(s != NULL);
    if (!s) return;
    const char *names[] = {"sweep/.00000000000000000003.commit.4242-0123456789abcdef.tmp", "sweep/.notes.tmp"};
    for (int i = 0; i < 2; i++) {
        storage_file *f;
        CHECK_INTEQ(storage_create(s, names[i], &f, err, sizeof err), 0);
        CHECK_INTEQ(storage_file_close(f, err, sizeof err), 0);
    }
    size_t removed = 9;
    CHECK_INTEQ(storage_sweep_put_temporaries(s, "sweep", 30 * TIME_US_PER_SEC, time_now_us(), &removed, err,
                                              sizeof err), 0);
    CHECK_INTEQ(removed, 0);
    CHECK_INTEQ(storage_sweep_put_temporaries(s, "sweep", 30 * TIME_US_PER_SEC, time_now_us() + 3600 * TIME_US_PER_SEC,
                                              &removed, err, sizeof err), 0);
    CHECK_INTEQ(removed, 1);
    storage_list_t ls = {0};
    CHECK_INTEQ(storage_list(s, "sweep", &ls, err, sizeof err), 0);
    CHECK(ls.n == 1 && !strcmp(ls.entries[0].name, ".notes.tmp"));
    storage_list_free(&ls);
    storage_close(s);
}

/* The httpfs:// mode against a real HttpFS gateway: one-step uploads (data=true), the rest
 * identical; FsShell sees the same bytes. */
static void test_httpfs_gateway(check_state *st) {
    CHECK_STATE(st);
    buf_t out = {0};
    CHECK_INTEQ(hdfs_sh("httpfs", &out), 0);
    if (!out.len) { buf_free(&out); return; }
    char uri[256], err[512] = "", abs[256];
    snprintf(uri, sizeof uri, "httpfs://%.*s%s/hf", (int)strcspn(out.data, "\n"), out.data, g_root);
    buf_free(&out);
    /* HttpFS refuses anonymous requests (401): without a user, that is the clear error. */
    webhdfs_opts anon = {.user = "", .retries = 0};
    webhdfs *w = webhdfs_open(uri, &anon, err, sizeof err);
    CHECK(w != NULL);
    if (!w) return;
    CHECK_INTEQ(webhdfs_mkdirs(w, "d", err, sizeof err), -1);
    printf("  anonymous: %s\n", err);
    CHECK(strstr(err, "HTTP 401") && strstr(err, "HADOOP_USER_NAME"));
    webhdfs_close(w);
    err[0] = 0;
    webhdfs_opts o = {.user = "ecom", .retries = -1};
    w = webhdfs_open(uri, &o, err, sizeof err);
    CHECK(w != NULL);
    if (!w) return;
    size_t n = (size_t)10 << 20;
    unsigned char *data = malloc(n), *back = malloc(n);
    if (!data || !back) { free(data); free(back); webhdfs_close(w); return; }
    fill(data, n, 99);
    CHECK_INTEQ(put_file(w, "d/.p.tmp", data, n, 777777, err, sizeof err), 0);
    if (err[0]) printf("  %s\n", err);
    CHECK_INTEQ(put_file(w, "d/p", "old", 3, 3, err, sizeof err), 0);
    CHECK_INTEQ(webhdfs_rename(w, "d/.p.tmp", "d/p", err, sizeof err), 0);
    storage_list_t l;
    CHECK_INTEQ(webhdfs_list(w, "d", &l, err, sizeof err), 0);
    CHECK(l.n == 1 && !strcmp(l.entries[0].name, "p") && l.entries[0].size == n);
    webhdfs_list_free(&l);
    size_t got = 0;
    CHECK_INTEQ(webhdfs_read(w, "d/p", n - 8, back, 8, &got, err, sizeof err), 0);
    CHECK(got == 8 && !memcmp(back, data + n - 8, 8));
    CHECK_INTEQ(webhdfs_read(w, "d/p", 0, back, n, &got, err, sizeof err), 0);
    CHECK(got == n && !memcmp(back, data, n));
    buf_t cat = {0};
    snprintf(abs, sizeof abs, "%s/hf/d/p", g_root);
    CHECK_INTEQ(fs_cat(abs, &cat), 0);
    CHECK(cat.len == n && !memcmp(cat.data, data, n));
    buf_free(&cat);
    CHECK_INTEQ(webhdfs_read(w, "d/none", 0, back, 8, &got, err, sizeof err), -1);
    CHECK(strstr(err, "FileNotFoundException") != NULL);
    CHECK_INTEQ(webhdfs_remove(w, "d/p", err, sizeof err), 0);
    free(data);
    free(back);
    webhdfs_close(w);
}

/* Independent check of the whole layout this run made. */
static void test_fsshell_sees_the_layout(check_state *st) {
    CHECK_STATE(st);
    char args[512];
    buf_t ls = {0};
    snprintf(args, sizeof args, "fs -ls -R '%s' 2>/dev/null", g_root);
    CHECK_INTEQ(hdfs_sh(args, &ls), 0);
    const char *want[] = {"/small/hello.txt", "/big/part-0.parquet", "/empty/e.bin",
                          "/tbl/date=2026-11-25/part-1.parquet", "/ls/date=2026-11-25/_SUCCESS",
                          "/fault/part-0"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        char path[256];
        snprintf(path, sizeof path, "%s%s", g_root, want[i]);
        if (!ls.data || !strstr(ls.data, path)) printf("  FsShell -ls -R lacks %s\n", path);
        CHECK(ls.data && strstr(ls.data, path));
    }
    CHECK(ls.data && !strstr(ls.data, ".part-1.parquet.tmp "));   /* committed by rename */
    buf_free(&ls);
}

/* The read window: a Parquet-like open of a small file (8-byte tail, footer, chunks further
 * back) costs one OPEN, not three, and returns the right bytes; a big file's tail and footer
 * cost one; reads past the end stay short/empty; a rewrite through the same client is seen at
 * once (the window is dropped), and another path is never served from it. */
static void test_read_window(check_state *st) {
    CHECK_STATE(st);
    webhdfs *w = open_w(NULL);
    CHECK(w != NULL);
    if (!w) return;
    char err[512] = "";
    size_t n = 20000, big = (size_t)3 << 20, got = 0;
    unsigned char *data = malloc(big), *back = malloc(big);
    if (!data || !back) { free(data); free(back); webhdfs_close(w); return; }
    fill(data, big, 7);
    CHECK_INTEQ(put_file(w, "win/small.bin", data, n, 4096, err, sizeof err), 0);
    CHECK_INTEQ(put_file(w, "win/big.bin", data, big, 1 << 20, err, sizeof err), 0);
    webhdfs_stats s0, s1;
    webhdfs_get_stats(w, &s0);
    static const struct { uint64_t off; size_t len; } small_reads[] = {
        {20000 - 8, 8}, {20000 - 8 - 900, 900}, {4, 5000}, {12000, 3000}, {0, 20000}, {19990, 100}};
    for (size_t i = 0; i < sizeof small_reads / sizeof small_reads[0]; i++) {
        got = 0;
        CHECK_INTEQ(webhdfs_read(w, "win/small.bin", small_reads[i].off, back, small_reads[i].len, &got, err,
                                 sizeof err), 0);
        size_t want = small_reads[i].off + small_reads[i].len > n ? n - small_reads[i].off : small_reads[i].len;
        CHECK_INTEQ(got, want);
        CHECK(!memcmp(back, data + small_reads[i].off, want));
    }
    got = 99;
    CHECK_INTEQ(webhdfs_read(w, "win/small.bin", n + 10, back, 8, &got, err, sizeof err), 0);
    CHECK_INTEQ(got, 0);
    webhdfs_get_stats(w, &s1);
    CHECK_INTEQ(s1.requests - s0.requests, 1);
    /* Big file: tail + footer from one OPEN; a range far before the window is read by itself. */
    CHECK_INTEQ(webhdfs_read(w, "win/big.bin", big - 8, back, 8, &got, err, sizeof err), 0);
    CHECK(got == 8 && !memcmp(back, data + big - 8, 8));
    CHECK_INTEQ(webhdfs_read(w, "win/big.bin", big - 8 - 30000, back, 30000, &got, err, sizeof err), 0);
    CHECK(got == 30000 && !memcmp(back, data + big - 8 - 30000, 30000));
    webhdfs_get_stats(w, &s0);
    CHECK_INTEQ(s0.requests - s1.requests, 1);
    CHECK_INTEQ(webhdfs_read(w, "win/big.bin", 1000, back, 100, &got, err, sizeof err), 0);
    CHECK(got == 100 && !memcmp(back, data + 1000, 100));
    CHECK_INTEQ(webhdfs_read(w, "win/big.bin", 5000, back, 1 << 20, &got, err, sizeof err), 0);
    CHECK(got == (size_t)1 << 20 && !memcmp(back, data + 5000, (size_t)1 << 20));
    /* Another path is not served from the window of win/big.bin. */
    CHECK_INTEQ(webhdfs_read(w, "win/small.bin", 1000, back, 100, &got, err, sizeof err), 0);
    CHECK(got == 100 && !memcmp(back, data + 1000, 100));
    /* A stat (a new look at the file) drops the window: the next read is an OPEN again. */
    storage_entry se;
    bool sx = false;
    CHECK_INTEQ(webhdfs_read(w, "win/small.bin", 2000, back, 100, &got, err, sizeof err), 0);
    webhdfs_get_stats(w, &s0);
    CHECK_INTEQ(webhdfs_stat(w, "win/small.bin", &se, &sx, err, sizeof err), 0);
    CHECK(sx && se.size == n);
    CHECK_INTEQ(webhdfs_read(w, "win/small.bin", 2000, back, 100, &got, err, sizeof err), 0);
    CHECK(got == 100 && !memcmp(back, data + 2000, 100));
    webhdfs_get_stats(w, &s1);
    CHECK_INTEQ(s1.requests - s0.requests, 2);
    /* Rewritten through this client (tmp + rename over it): the next read sees the new bytes. */
    CHECK_INTEQ(put_file(w, "win/.small.bin.tmp", data + 100, n, 8192, err, sizeof err), 0);
    CHECK_INTEQ(webhdfs_rename(w, "win/.small.bin.tmp", "win/small.bin", err, sizeof err), 0);
    CHECK_INTEQ(webhdfs_read(w, "win/small.bin", 1000, back, 100, &got, err, sizeof err), 0);
    CHECK(got == 100 && !memcmp(back, data + 1100, 100));
    /* A missing file is still an error. */
    CHECK_INTEQ(webhdfs_read(w, "win/none.bin", 0, back, 8, &got, err, sizeof err), -1);
    CHECK(strstr(err, "FileNotFoundException") != NULL);
    free(data);
    free(back);
    webhdfs_close(w);
}

int main(void) {
    check_state st = {0};
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *addr = getenv("ECOM_HDFS_ADDR");
    buf_t out = {0};
    if (addr && *addr) {
        snprintf(g_addr, sizeof g_addr, "%s", addr);
    } else if (hdfs_sh("ensure", &out) == 0 && out.len) {
        snprintf(g_addr, sizeof g_addr, "%.*s", (int)strcspn(out.data, "\n"), out.data);
    } else {
        printf("FAIL hdfs_available (tests/services/hdfs.sh ensure failed and ECOM_HDFS_ADDR is unset)\n");
        buf_free(&out);
        return 1;
    }
    buf_free(&out);
    printf("PASS hdfs_available\n");
    snprintf(g_root, sizeof g_root, "/t-%d", (int)getpid());
    snprintf(g_uri, sizeof g_uri, "hdfs://%s%s", g_addr, g_root);
    printf("  using %s\n", g_uri);
    RUN(&st, test_small_file_round_trip);
    RUN(&st, test_large_file_and_range_reads);
    RUN(&st, test_read_window);
    RUN(&st, test_empty_file);
    RUN(&st, test_rename_replaces_atomically);
    RUN(&st, test_list_names_and_hidden_files);
    RUN(&st, test_delete);
    RUN(&st, test_remote_exceptions_are_clear);
    RUN(&st, test_user_name);
    RUN(&st, test_storage_ops_table);
    RUN(&st, test_put_new_exclusive);
    RUN(&st, test_put_temporaries_swept);
    RUN(&st, test_datanode_down_then_back);
    RUN(&st, test_httpfs_gateway);
    RUN(&st, test_fsshell_sees_the_layout);
    return CHECK_EXIT(&st);
}
