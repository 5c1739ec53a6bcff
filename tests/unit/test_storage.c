/* test_storage.c — storage dispatch + local backend: create/write/close, atomic rename over an
 * existing file, list (missing dir = empty), stat, read ranges, remove, abort deletes, bad
 * paths refused, put_atomic, hidden names. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "storage/storage.h"

static char root[256];

static void test_files(check_state *st) {
    CHECK_STATE(st);
    char err[256];
    storage *s = storage_open(root, err, sizeof err);
    CHECK(s != NULL);
    if (!s) return;
    CHECK_STREQ(storage_backend(s), "local");
    storage_file *f;
    CHECK(storage_create(s, "t/date=2026-01-01/.a.tmp", &f, err, sizeof err) == 0);
    char big[100000];
    for (size_t i = 0; i < sizeof big; i++) big[i] = (char)(i * 31);
    CHECK(storage_file_write(f, "hello ", 6, err, sizeof err) == 0);
    CHECK(storage_file_write(f, big, sizeof big, err, sizeof err) == 0);
    CHECK(storage_file_close(f, err, sizeof err) == 0);
    CHECK(storage_put_atomic(s, "t/date=2026-01-01/a.bin", "old", 3, err, sizeof err) == 0);
    CHECK(storage_rename(s, "t/date=2026-01-01/.a.tmp", "t/date=2026-01-01/a.bin", err, sizeof err) == 0);
    storage_entry e;
    bool ex;
    CHECK(storage_stat(s, "t/date=2026-01-01/a.bin", &e, &ex, err, sizeof err) == 0 && ex);
    CHECK_INTEQ(e.size, 6 + sizeof big);
    CHECK(storage_stat(s, "t/date=2026-01-01/.a.tmp", &e, &ex, err, sizeof err) == 0 && !ex);
    char buf[16];
    size_t got;
    CHECK(storage_read(s, "t/date=2026-01-01/a.bin", 0, buf, 6, &got, err, sizeof err) == 0 && got == 6);
    CHECK(memcmp(buf, "hello ", 6) == 0);
    CHECK(storage_read(s, "t/date=2026-01-01/a.bin", 6 + 5000, buf, 16, &got, err, sizeof err) == 0 && got == 16);
    CHECK(memcmp(buf, big + 5000, 16) == 0);
    CHECK(storage_read(s, "t/date=2026-01-01/a.bin", 6 + sizeof big - 4, buf, 16, &got, err, sizeof err) == 0);
    CHECK_INTEQ(got, 4);
    storage_list_t l;
    CHECK(storage_list(s, "t", &l, err, sizeof err) == 0);
    CHECK_INTEQ(l.n, 1);
    if (l.n) CHECK(l.entries[0].is_dir && !strcmp(l.entries[0].name, "date=2026-01-01"));
    storage_list_free(&l);
    CHECK(storage_list(s, "nope/none", &l, err, sizeof err) == 0 && l.n == 0);
    /* abort deletes the partial file */
    CHECK(storage_create(s, "t/.b.tmp", &f, err, sizeof err) == 0);
    CHECK(storage_file_write(f, "x", 1, err, sizeof err) == 0);
    storage_file_abort(f);
    CHECK(storage_stat(s, "t/.b.tmp", &e, &ex, err, sizeof err) == 0 && !ex);
    CHECK(storage_remove(s, "t/date=2026-01-01/a.bin", err, sizeof err) == 0);
    CHECK(storage_remove(s, "t/date=2026-01-01/a.bin", err, sizeof err) == 0); /* missing: fine */
    CHECK(storage_remove(s, "t/date=2026-01-01", err, sizeof err) == 0);        /* empty dir */
    CHECK(storage_mkdirs(s, "x/y/z", err, sizeof err) == 0);
    storage_close(s);
}

static void test_bad_paths(check_state *st) {
    CHECK_STATE(st);
    char err[256];
    storage *s = storage_open(root, err, sizeof err);
    storage_file *f;
    const char *bad[] = {"/etc/passwd", "../x", "a/../../x", "a//b", "", "a/", "./a"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK(storage_create(s, bad[i], &f, err, sizeof err) == -1);
        CHECK(strstr(err, "bad path") != NULL);
    }
    CHECK(storage_rename(s, "a", "../b", err, sizeof err) == -1);
    CHECK(storage_open("nosuch://x", err, sizeof err) == NULL);
    CHECK(storage_name_hidden(".x") && storage_name_hidden("a/_b/c") && !storage_name_hidden("a/b.c"));
    storage_close(s);
}

int main(void) {
    check_state st = {0};
    const char *tmp = getenv("TEST_TMP");
    snprintf(root, sizeof root, "%s/storage-%d", tmp ? tmp : "/tmp", (int)getpid());
    RUN(&st, test_files);
    RUN(&st, test_bad_paths);
    return CHECK_EXIT(&st);
}
