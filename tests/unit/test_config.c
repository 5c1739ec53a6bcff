/* Unit tests for util/config.c and its use by flags_parse: the file format, $ECOM_KAFKA_CONF
 * splitting, @file secrets, redaction, and the precedence flag > environment > file. */
#include "check.h"
#include "util/util.h"

#include <stdlib.h>
#include <unistd.h>

static char tmpdir[1024];

static const char *tmp_file(const char *name, const char *text) {
    static char path[1200];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    if (!f) return NULL;
    fputs(text, f);
    fclose(f);
    return path;
}

static void test_parse(check_state *st) {
    CHECK_STATE(st);
    const char text[] = "# comment\n  ; also a comment\n\nout = /lake\ncommit-interval=5s  \n"
                        "[kafka]\nsasl.password = a#b;c = d \n[stream]\nout=/s\n[]\nquiet = yes";
    config_file c;
    char err[256];
    CHECK(config_parse(text, sizeof text - 1, "t.conf", &c, err, sizeof err) == 0);
    CHECK_INTEQ(c.n, 5);
    if (c.n == 5) {
        CHECK_STREQ(c.e[0].key, "out");
        CHECK_STREQ(c.e[0].value, "/lake");
        CHECK_INTEQ(c.e[0].line, 4);
        CHECK_STREQ(c.e[1].value, "5s");
        CHECK_STREQ(c.e[2].key, "kafka.sasl.password");
        CHECK_STREQ(c.e[2].value, "a#b;c = d");
        CHECK_STREQ(c.e[3].key, "stream.out");
        CHECK_STREQ(c.e[4].key, "quiet");
        CHECK_INTEQ(c.e[4].line, 11);
    }
    config_free(&c);
    config_free(&c); /* twice is fine */
    CHECK(config_parse("a = 1\nnovalue\n", 14, "t.conf", &c, err, sizeof err) == -1);
    CHECK_STREQ(err, "t.conf:2: expected 'key = value'");
    CHECK(config_parse("[bad section\n", 13, "t.conf", &c, err, sizeof err) == -1);
    CHECK(strstr(err, "t.conf:1: bad section") != NULL);
    CHECK(config_parse("a b = 1\n", 8, "t.conf", &c, err, sizeof err) == -1);
    CHECK(strstr(err, "t.conf:1: bad character in key") != NULL);
    CHECK(config_parse("a = x\0y\n", 8, "t.conf", &c, err, sizeof err) == -1);
    CHECK(strstr(err, "NUL") != NULL);
    CHECK(config_load("/nonexistent/x.conf", &c, err, sizeof err) == -1);
    CHECK(strstr(err, "/nonexistent/x.conf") != NULL);
}

/* The defect of issue 12: "sasl.password=pa;ss" was split into a bad setting 'ss'. */
static void test_split_settings(check_state *st) {
    CHECK_STATE(st);
    kv_list l = {0};
    char err[256];
    CHECK(config_split_settings("security.protocol=SASL_SSL;sasl.password=pa;ss;sasl.username=u;", "ENV", &l,
                                err, sizeof err) == 0);
    CHECK_INTEQ(l.n, 3);
    if (l.n == 3) {
        CHECK_STREQ(l.v[0], "security.protocol=SASL_SSL");
        CHECK_STREQ(l.v[1], "sasl.password=pa;ss");
        CHECK_STREQ(l.v[2], "sasl.username=u");
        CHECK(l.v[3] == NULL);
    }
    kv_list_free(&l);
    CHECK(config_split_settings("a=1;;; b=2", "ENV", &l, err, sizeof err) == 0);
    CHECK_INTEQ(l.n, 2);
    kv_list_free(&l);
    CHECK(config_split_settings("a=1;=x", "ENV", &l, err, sizeof err) == 0); /* "=x" is not a name: part of 1 */
    CHECK(l.n == 1 && !strcmp(l.v[0], "a=1;=x"));
    kv_list_free(&l);
    CHECK(config_split_settings("a=1;mypassword;b=2", "ENV", &l, err, sizeof err) == 0); /* part of a's value */
    kv_list_free(&l);
    CHECK(config_split_settings("a=1; b=2;mypassword", "ENV", &l, err, sizeof err) == 0);
    CHECK(l.n == 2 && !strcmp(l.v[1], "b=2;mypassword"));
    kv_list_free(&l);
    CHECK(config_split_settings("mypassword;a=1", "ENV", &l, err, sizeof err) == -1);
    CHECK_STREQ(err, "ENV: setting 1 is not name=value");
    kv_list_free(&l);
    CHECK(kv_list_items(&l)[0] == NULL);
}

static void test_secrets(check_state *st) {
    CHECK_STATE(st);
    CHECK(config_is_secret("sasl.password", 13));
    CHECK(config_is_secret("ssl.keystore.password", 21));
    CHECK(config_is_secret("sasl.jaas.config", 16));
    CHECK(config_is_secret("auth-token", 10));
    CHECK(config_is_secret("sasl.oauthbearer.client.secret", 30));
    CHECK(!config_is_secret("sasl.username", 13));
    CHECK(!config_is_secret("ssl.ca.location", 15));
    CHECK_STREQ(config_redact("SASL.PASSWORD", "x"), "***");
    CHECK_STREQ(config_redact("out", "/lake"), "/lake");
    /* any bytes but NUL, one trailing newline stripped */
    const char *p = tmp_file("pw", "p;a#s s=\"'\\\r\n");
    char at[1300], *v = NULL, err[256];
    snprintf(at, sizeof at, "@%s", p);
    CHECK(config_value_resolve("sasl.password", at, &v, err, sizeof err) == 0);
    CHECK_STREQ(v, "p;a#s s=\"'\\");
    free(v);
    CHECK(config_value_resolve("x", "@@lit", &v, err, sizeof err) == 0);
    CHECK_STREQ(v, "@lit");
    free(v);
    CHECK(config_value_resolve("x", "plain", &v, err, sizeof err) == 0 && v == NULL);
    CHECK(config_value_resolve("sasl.password", "@/nonexistent/pw", &v, err, sizeof err) == -1);
    CHECK(strstr(err, "sasl.password: cannot read the value's file '/nonexistent/pw'") != NULL);
}

typedef struct {
    const char *out, *token, *hdfs_user;
    int64_t interval;
    bool quiet;
    kv_list kafka;
} opts;

static int parse(opts *o, flags_store *fs, int argc, char **argv, char *err, size_t errlen) {
    flag_spec specs[] = {
        {"out", FLAG_STR, &o->out, "", 0, 0, NULL},
        {"auth-token", FLAG_STR, &o->token, "", 0, 0, NULL},
        {"auth-token", FLAG_ENV, "TEST_CFG_TOKEN", NULL, 0, 0, NULL},
        {"commit-interval", FLAG_DURATION, &o->interval, "", 0, 0, NULL},
        {"quiet", FLAG_BOOL, &o->quiet, "", 0, 0, NULL},
        {"hdfs-user", FLAG_STR, &o->hdfs_user, "", 0, 0, NULL},
        {"kafka", FLAG_KV, &o->kafka, "", 0, 0, NULL},
        {"kafka", FLAG_ENV, "TEST_CFG_KAFKA", NULL, 0, 0, NULL},
        {"X", FLAG_ALIAS, "kafka", NULL, 0, 0, NULL},
        {0},
    };
    *o = (opts){.out = "default"};
    return flags_parse(specs, argc, argv, NULL, 0, NULL, fs, err, errlen);
}

/* Each pair of the precedence flag > environment > file, for a plain flag and a kv list. */
static void test_precedence(check_state *st) {
    CHECK_STATE(st);
    const char *cf = tmp_file("p.conf", "out = /file\nauth-token = filetok\nquiet = true\ncommit-interval = 7s\n"
                                        "kafka.acks = 1\nkafka.linger.ms = 5\ndata = other-commands-only\n"
                                        "[cmd]\ncommit-interval = 9s\n[other]\nnope = 1\n");
    char cpath[1300], err[512];
    snprintf(cpath, sizeof cpath, "%s", cf);
    opts o;
    flags_store fs = {0};
    unsetenv("TEST_CFG_TOKEN");
    unsetenv("TEST_CFG_KAFKA");
    /* file alone; [cmd] beats the common key */
    char *a1[] = {"cmd", "--config", cpath};
    CHECK(parse(&o, &fs, 3, a1, err, sizeof err) == FLAGS_OK);
    CHECK_STREQ(o.out, "/file");
    CHECK_STREQ(o.token, "filetok");
    CHECK(o.quiet && o.interval == 9 * TIME_US_PER_SEC);
    CHECK(o.kafka.n == 2 && !strcmp(o.kafka.v[0], "acks=1") && !strcmp(o.kafka.v[1], "linger.ms=5"));
    kv_list_free(&o.kafka);
    flags_store_free(&fs);
    /* environment > file */
    setenv("TEST_CFG_TOKEN", "envtok", 1);
    setenv("TEST_CFG_KAFKA", "acks=all;sasl.password=pa;ss", 1);
    char *a2[] = {"cmd", "--config=" , NULL};
    char cfl[1400];
    snprintf(cfl, sizeof cfl, "--config=%s", cpath);
    a2[1] = cfl;
    CHECK(parse(&o, &fs, 2, a2, err, sizeof err) == FLAGS_OK);
    CHECK_STREQ(o.token, "envtok");
    CHECK(o.kafka.n == 4 && !strcmp(o.kafka.v[2], "acks=all") && !strcmp(o.kafka.v[3], "sasl.password=pa;ss"));
    kv_list_free(&o.kafka);
    flags_store_free(&fs);
    /* flag > environment (and so > file) */
    char *a3[] = {"cmd", "--config", cpath, "--auth-token", "flagtok", "-X", "acks=0", "-Xlinger.ms=9", "--out", "/flag"};
    CHECK(parse(&o, &fs, 10, a3, err, sizeof err) == FLAGS_OK);
    CHECK_STREQ(o.token, "flagtok");
    CHECK_STREQ(o.out, "/flag");
    CHECK(o.kafka.n == 6 && !strcmp(o.kafka.v[4], "acks=0") && !strcmp(o.kafka.v[5], "linger.ms=9"));
    kv_list_free(&o.kafka);
    flags_store_free(&fs);
    /* flag > file without the environment */
    unsetenv("TEST_CFG_TOKEN");
    char *a4[] = {"cmd", "--auth-token", "flagtok", "--config", cpath};
    CHECK(parse(&o, &fs, 5, a4, err, sizeof err) == FLAGS_OK);
    CHECK_STREQ(o.token, "flagtok");
    kv_list_free(&o.kafka);
    flags_store_free(&fs);
    unsetenv("TEST_CFG_KAFKA");
}

static void test_file_errors(check_state *st) {
    CHECK_STATE(st);
    char err[512], cpath[1300];
    opts o;
    flags_store fs = {0};
    snprintf(cpath, sizeof cpath, "%s", tmp_file("e1.conf", "# x\n\ncommit-interval = 5x\n"));
    char *a[] = {"cmd", "--config", cpath};
    CHECK(parse(&o, &fs, 3, a, err, sizeof err) == FLAGS_ERROR);
    CHECK(strstr(err, "e1.conf:3: invalid value '5x' for --commit-interval") != NULL);
    kv_list_free(&o.kafka);
    flags_store_free(&fs);
    snprintf(cpath, sizeof cpath, "%s", tmp_file("e2.conf", "[cmd]\nout = a\ntypo = 1\n"));
    CHECK(parse(&o, &fs, 3, a, err, sizeof err) == FLAGS_ERROR);
    CHECK(strstr(err, "e2.conf:3: unknown key 'cmd.typo'") != NULL);
    kv_list_free(&o.kafka);
    flags_store_free(&fs);
    /* a secret's bad value is not echoed */
    snprintf(cpath, sizeof cpath, "%s", tmp_file("e3.conf", "quiet = maybe\n"));
    CHECK(parse(&o, &fs, 3, a, err, sizeof err) == FLAGS_ERROR);
    CHECK(strstr(err, "e3.conf:1: invalid value 'maybe' for --quiet") != NULL);
    kv_list_free(&o.kafka);
    flags_store_free(&fs);
    /* @file values from the file, the command line and -X */
    char pw[1300], conf[3000], at[1400];
    snprintf(pw, sizeof pw, "%s", tmp_file("tok", "se;cr#et\n"));
    snprintf(conf, sizeof conf, "auth-token = @%s\nkafka.sasl.password = @%s\n", pw, pw);
    snprintf(cpath, sizeof cpath, "%s", tmp_file("e4.conf", conf));
    CHECK(parse(&o, &fs, 3, a, err, sizeof err) == FLAGS_OK);
    CHECK_STREQ(o.token, "se;cr#et");
    CHECK(o.kafka.n == 1 && !strcmp(o.kafka.v[0], "sasl.password=se;cr#et"));
    kv_list_free(&o.kafka);
    flags_store_free(&fs);
    snprintf(at, sizeof at, "ssl.key.password=@%s", pw);
    char *b[] = {"cmd", "-X", at, "-X", "bad"};
    CHECK(parse(&o, &fs, 5, b, err, sizeof err) == FLAGS_ERROR);
    CHECK(o.kafka.n == 1 && !strcmp(o.kafka.v[0], "ssl.key.password=se;cr#et"));
    CHECK_STREQ(err, "--kafka needs NAME=VALUE (no '=' given)");
    kv_list_free(&o.kafka);
    flags_store_free(&fs);
    /* [hdfs] user = x is --hdfs-user x; an unknown hdfs.* key is an error for this command */
    snprintf(cpath, sizeof cpath, "%s", tmp_file("e5.conf", "[hdfs]\nuser = etl\n[gen]\nx = 1\n"));
    CHECK(parse(&o, &fs, 3, a, err, sizeof err) == FLAGS_OK);
    CHECK_STREQ(o.hdfs_user, "etl");
    kv_list_free(&o.kafka);
    flags_store_free(&fs);
    snprintf(cpath, sizeof cpath, "%s", tmp_file("e6.conf", "[hdfs]\nuser = etl\nkeytab = /k\n"));
    CHECK(parse(&o, &fs, 3, a, err, sizeof err) == FLAGS_ERROR);
    CHECK(strstr(err, "e6.conf:3: unknown key 'hdfs.keytab'") != NULL);
    kv_list_free(&o.kafka);
    flags_store_free(&fs);
    char *c[] = {"cmd", "--config", "/nonexistent.conf"};
    CHECK(parse(&o, &fs, 3, c, err, sizeof err) == FLAGS_ERROR);
    CHECK(strstr(err, "config file /nonexistent.conf") != NULL);
    kv_list_free(&o.kafka);
    flags_store_free(&fs);
}

int main(void) {
    check_state st = {0};
    /* a fresh directory under $TEST_TMP (tests/run.sh), else /tmp: never the current directory
     * (a run by hand from the repo root once left its files there, and they were committed) */
    const char *t = getenv("TEST_TMP");
    snprintf(tmpdir, sizeof tmpdir, "%s/ecom-config-XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(&st, test_parse);
    RUN(&st, test_split_settings);
    RUN(&st, test_secrets);
    RUN(&st, test_precedence);
    RUN(&st, test_file_errors);
    return CHECK_EXIT(&st);
}
