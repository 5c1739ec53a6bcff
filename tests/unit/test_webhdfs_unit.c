/* test_webhdfs_unit.c — the parts of the WebHDFS backend that need no HDFS: its JSON reader
 * (against jansson as the oracle), root URI parsing, path checks, and the bounded, clear
 * failure against a NameNode that is not there. The real-HDFS tests are in test_webhdfs_hdfs.c. */
#include <jansson.h>
#include <math.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "storage/webhdfs.h"
#include "util/util.h"

/* Compares our tree at node n with jansson's value j, recursively. */
static int same(const wj_doc *d, int n, json_t *j) {
    const wj_node *x = &d->nodes[n];
    switch (json_typeof(j)) {
    case JSON_NULL: return x->type == WJ_NULL;
    case JSON_TRUE: return x->type == WJ_TRUE;
    case JSON_FALSE: return x->type == WJ_FALSE;
    case JSON_INTEGER: {
        int64_t v;
        return x->type == WJ_NUM && !wj_int(d, n, &v) && v == json_integer_value(j);
    }
    case JSON_REAL: return x->type == WJ_NUM && fabs(x->num - json_real_value(j)) <= 1e-12 * fabs(x->num);
    case JSON_STRING:
        return x->type == WJ_STR && x->len == json_string_length(j) &&
               !memcmp(wj_str(d, n), json_string_value(j), x->len);
    case JSON_ARRAY: {
        size_t i = 0;
        if (x->type != WJ_ARR) return 0;
        for (int c = x->child; c >= 0; c = d->nodes[c].next, i++)
            if (i >= json_array_size(j) || !same(d, c, json_array_get(j, i))) return 0;
        return i == json_array_size(j);
    }
    case JSON_OBJECT: {
        size_t k = 0;
        if (x->type != WJ_OBJ) return 0;
        for (int c = x->child; c >= 0; c = d->nodes[c].next, k++) {
            json_t *v = json_object_get(j, d->strs + d->nodes[c].key);
            if (!v || !same(d, c, v)) return 0;
        }
        return k == json_object_size(j);
    }
    }
    return 0;
}

static void test_json_matches_jansson(check_state *st) {
    CHECK_STATE(st);
    static const char *docs[] = {
        "{\"FileStatuses\":{\"FileStatus\":[{\"accessTime\":1764060000123,\"blockSize\":134217728,"
        "\"length\":24930,\"modificationTime\":1764060000456,\"pathSuffix\":\"date=2026-11-25\","
        "\"permission\":\"755\",\"replication\":0,\"type\":\"DIRECTORY\"},{\"pathSuffix\":\"_x \\u00e9\\ud83d\\ude00\","
        "\"type\":\"FILE\",\"length\":0}]}}",
        "{\"RemoteException\":{\"exception\":\"FileNotFoundException\",\"javaClassName\":"
        "\"java.io.FileNotFoundException\",\"message\":\"File does not exist: /a\\\"b\\\\c\\n\"}}",
        "{\"boolean\":true}",
        "[1, -2, 3.5, -0.25e-3, 1E3, 9007199254740993, null, false, \"\", [], {}]",
        "  \"\\/\\b\\f\\n\\r\\t\"  ",
    };
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
        wj_doc d;
        char err[128];
        json_error_t je;
        json_t *j = json_loads(docs[i], JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL * 0, &je);
        CHECK(j != NULL);
        int rc = wj_parse(&d, docs[i], strlen(docs[i]), err, sizeof err);
        CHECK_INTEQ(rc, 0);
        if (!rc && j) CHECK(same(&d, 0, j));
        if (!rc) wj_free(&d);
        json_decref(j);
    }
    /* Exact int64 (no double rounding) for large lengths. */
    wj_doc d;
    char err[128];
    int64_t v = 0;
    const char *big = "{\"length\":9007199254740993}";
    CHECK_INTEQ(wj_parse(&d, big, strlen(big), err, sizeof err), 0);
    CHECK_INTEQ(wj_int(&d, wj_get(&d, 0, "length"), &v), 0);
    CHECK(v == 9007199254740993LL);
    CHECK_INTEQ(wj_get(&d, 0, "nope"), -1);
    CHECK(wj_str(&d, wj_get(&d, 0, "length")) == NULL);
    wj_free(&d);
}

static void test_json_rejects_bad_input(check_state *st) {
    CHECK_STATE(st);
    static const char *bad[] = {"", "{", "{\"a\":}", "{\"a\" 1}", "[1,]", "[1 2]", "\"abc", "\"\\x\"",
                                "\"\\ud800\"", "\"\\udc00x\"", "01", "-", "1.", "1e", "tru", "{} x",
                                "\"a\tb\"", "{\"a\":1,}", "nul"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        wj_doc d;
        char err[128] = "";
        int rc = wj_parse(&d, bad[i], strlen(bad[i]), err, sizeof err);
        if (rc == 0) printf("  accepted bad JSON: %s\n", bad[i]);
        CHECK_INTEQ(rc, -1);
        CHECK(strstr(err, "bad JSON at byte") != NULL);
    }
    /* Deep nesting is refused, not a stack overflow. */
    buf_t b = {0};
    for (int i = 0; i < 100000; i++) buf_append_char(&b, '[');
    wj_doc d;
    char err[128] = "";
    CHECK_INTEQ(wj_parse(&d, b.data, b.len, err, sizeof err), -1);
    CHECK(strstr(err, "nested too deep") != NULL);
    buf_free(&b);
}

static void test_uri_parsing(check_state *st) {
    CHECK_STATE(st);
    static const struct { const char *uri, *base; } ok[] = {
        {"hdfs://nn.example:9870/lake", "http://nn.example:9870/webhdfs/v1/lake"},
        {"webhdfs://127.0.0.1:50070//a//b/", "http://127.0.0.1:50070/webhdfs/v1/a/b"},
        {"hdfs://nn", "http://nn:9870/webhdfs/v1/"},
        {"hdfs://nn:1/", "http://nn:1/webhdfs/v1/"},
        {"swebhdfs://nn/x", "https://nn:9871/webhdfs/v1/x"},
        {"httpfs://gw/x y", "http://gw:14000/webhdfs/v1/x y"},
        {"hdfs://[::1]:9870/l", "http://[::1]:9870/webhdfs/v1/l"},
        {"hdfs://[::1]/l", "http://[::1]:9870/webhdfs/v1/l"},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        char err[256] = "";
        webhdfs *w = webhdfs_open(ok[i].uri, NULL, err, sizeof err);
        CHECK(w != NULL);
        if (!w) { printf("  %s: %s\n", ok[i].uri, err); continue; }
        CHECK_STREQ(webhdfs_base(w), ok[i].base);
        webhdfs_close(w);
    }
    static const char *bad[] = {"/local/path", "file:///x", "hdfs://", "hdfs:///x", "hdfs://nn/a/../b",
                                "hdfs://nn/a?x=1", "hdfs://u@nn/x", "s3://b/x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char err[256] = "";
        webhdfs *w = webhdfs_open(bad[i], NULL, err, sizeof err);
        if (w) printf("  accepted bad URI %s\n", bad[i]);
        CHECK(w == NULL);
        CHECK(strstr(err, "webhdfs:") != NULL);
        webhdfs_close(w);
    }
    CHECK(webhdfs_is_uri("hdfs://x"));
    CHECK(webhdfs_is_uri("webhdfs://x"));
    CHECK(!webhdfs_is_uri("./data"));
    CHECK(!webhdfs_is_uri("file:///x"));
}

static void test_bad_paths_refused(check_state *st) {
    CHECK_STATE(st);
    char err[256];
    webhdfs *w = webhdfs_open("hdfs://127.0.0.1:1/lake", NULL, err, sizeof err);
    CHECK(w != NULL);
    if (!w) return;
    static const char *bad[] = {"/abs", "a/../b", "..", "a//b", "a/", "./a", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        webhdfs_file *f = NULL;
        err[0] = 0;
        CHECK_INTEQ(webhdfs_create(w, bad[i], &f, err, sizeof err), -1);
        CHECK(f == NULL);
        CHECK(strstr(err, "bad path") != NULL);
        CHECK_INTEQ(webhdfs_remove(w, bad[i], err, sizeof err), -1);
        CHECK_INTEQ(webhdfs_rename(w, "ok", bad[i], err, sizeof err), -1);
    }
    storage_list_t l;
    CHECK_INTEQ(webhdfs_list(w, "a/../b", &l, err, sizeof err), -1);
    CHECK_INTEQ((long long)l.n, 0);
    webhdfs_close(w);
}

/* A port with nothing listening: bind one, then close it. */
static int closed_port(void) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) || getsockname(s, (struct sockaddr *)&a, &al)) return 1;
    close(s);
    return ntohs(a.sin_port);
}

static void test_unreachable_namenode_fails_fast_and_clearly(check_state *st) {
    CHECK_STATE(st);
    char uri[64], err[512] = "";
    snprintf(uri, sizeof uri, "hdfs://127.0.0.1:%d/lake", closed_port());
    webhdfs_opts o = {.retries = 3, .backoff_ms = 50, .connect_timeout_ms = 1000};
    webhdfs *w = webhdfs_open(uri, &o, err, sizeof err);
    CHECK(w != NULL);
    if (!w) return;
    int64_t t0 = time_mono_us();
    storage_list_t l;
    CHECK_INTEQ(webhdfs_list(w, "views", &l, err, sizeof err), -1);
    double secs = (double)(time_mono_us() - t0) / 1e6;
    printf("  error after %.2f s: %s\n", secs, err);
    CHECK(secs < 5.0);
    CHECK(strstr(err, "LISTSTATUS /lake/views") != NULL);
    CHECK(strstr(err, "127.0.0.1") != NULL);
    CHECK(strstr(err, "after 4 attempts") != NULL);
    /* A file upload fails the same way at close, and write/close do not crash. */
    webhdfs_file *f = NULL;
    CHECK_INTEQ(webhdfs_create(w, "views/a.parquet", &f, err, sizeof err), 0);
    CHECK_INTEQ(webhdfs_file_write(f, "abc", 3, err, sizeof err), 0);
    CHECK_INTEQ(webhdfs_file_close(f, err, sizeof err), -1);
    CHECK(strstr(err, "CREATE /lake/views/a.parquet") != NULL);
    webhdfs_stats s;
    webhdfs_get_stats(w, &s);
    CHECK_INTEQ(s.requests, 8);
    CHECK_INTEQ(s.retries, 6);
    CHECK_INTEQ(s.errors, 2);
    webhdfs_close(w);
}

/* Options that make no sense fail at open, naming the flag; a good HA list is taken. */
static void test_bad_options_refused(check_state *st) {
    CHECK_STATE(st);
    static const struct { storage_opts o; const char *want; } bad[] = {
        {{.auth = "ntlm", .retries = -1}, "--hdfs-auth"},
        {{.keytab = "/k", .principal = "p", .retries = -1}, "--hdfs-auth kerberos"},
        {{.auth = "kerberos", .principal = "p", .retries = -1}, "--hdfs-principal needs --hdfs-keytab"},
        {{.namenodes = "a:1,,b:2", .retries = -1}, "--hdfs-namenodes"},
        {{.namenodes = "a:1,b", .retries = -1}, "--hdfs-namenodes"},
        {{.namenodes = "a:1,http://b:2", .retries = -1}, "--hdfs-namenodes"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char err[256] = "";
        void *w = webhdfs_storage_open("hdfs://ns/lake", &bad[i].o, err, sizeof err);
        CHECK(w == NULL);
        if (!strstr(err, bad[i].want)) printf("  case %zu: %s\n", i, err);
        CHECK(strstr(err, bad[i].want) != NULL);
        webhdfs_close(w);
    }
    storage_opts o;
    storage_opts_init(&o);
    o.namenodes = "nn1.example:9870,[::1]:9871";
    char err[256] = "";
    webhdfs *w = webhdfs_storage_open("swebhdfs://ns/lake", &o, err, sizeof err);
    CHECK(w != NULL);
    if (w) CHECK_STREQ(webhdfs_origin(w), "https://nn1.example:9870");
    webhdfs_close(w);
    storage_opts *c = storage_opts_copy(&o);
    CHECK(c && c->namenodes != o.namenodes && !strcmp(c->namenodes, o.namenodes) && c->retries == -1);
    storage_opts_free(c);
}

/* Two dead NameNodes: every attempt moves to the other one (a failover each), the first move
 * without backoff, and the operation still gives up after 1 + retries attempts. */
static void test_failover_between_dead_namenodes_is_bounded(check_state *st) {
    CHECK_STATE(st);
    char list[64], err[512] = "";
    int p1 = closed_port(), p2 = closed_port();
    snprintf(list, sizeof list, "127.0.0.1:%d,127.0.0.1:%d", p1, p2);
    webhdfs_opts o = {.retries = 3, .backoff_ms = 50, .connect_timeout_ms = 1000, .namenodes = list};
    webhdfs *w = webhdfs_open("hdfs://ns/lake", &o, err, sizeof err);
    CHECK(w != NULL);
    if (!w) return;
    char first[64];
    snprintf(first, sizeof first, "http://127.0.0.1:%d", p1);
    CHECK_STREQ(webhdfs_origin(w), first);
    storage_list_t l;
    CHECK_INTEQ(webhdfs_list(w, "views", &l, err, sizeof err), -1);
    printf("  %s\n", err);
    CHECK(strstr(err, "after 4 attempts") != NULL);
    webhdfs_stats s;
    webhdfs_get_stats(w, &s);
    CHECK_INTEQ(s.requests, 4);
    CHECK_INTEQ(s.failovers, 4);
    CHECK_STREQ(webhdfs_origin(w), first);   /* four moves over two NameNodes: back at the first */
    webhdfs_close(w);
}

int main(void) {
    check_state st = {0};
    RUN(&st, test_json_matches_jansson);
    RUN(&st, test_json_rejects_bad_input);
    RUN(&st, test_uri_parsing);
    RUN(&st, test_bad_paths_refused);
    RUN(&st, test_unreachable_namenode_fails_fast_and_clearly);
    RUN(&st, test_bad_options_refused);
    RUN(&st, test_failover_between_dead_namenodes_is_bounded);
    return CHECK_EXIT(&st);
}
