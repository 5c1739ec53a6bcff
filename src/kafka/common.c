/* common.c — configuration, broker checks, topic names, the default bootstrap file. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "kafka/kafka.h"
#include "kafka/kafka_int.h"
#include "util/config.h"
#include "util/util.h"

const char *const kafka_event_topics[KAFKA_NTOPICS] = {"page_views", "cart_events", "orders"};

const char *kafka_library_version(void) {
    return rd_kafka_version_str();
}

int kafka_conf_set(rd_kafka_conf_t *conf, const char *name, const char *value, char *err, size_t errlen) {
    char errstr[256];
    if (rd_kafka_conf_set(conf, name, value, errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
        /* librdkafka 2.8 quotes the refused value in its message ("Invalid value \"...\""): the
         * value is shown once, by us, through config_redact(), so it is cut out of librdkafka's. */
        char *at = *value ? strstr(errstr, value) : NULL;
        if (at) snprintf(at, sizeof errstr - (size_t)(at - errstr), "...");
        snprintf(err, errlen, "Kafka setting %s=%s: %s", name, config_redact(name, value), errstr);
        return -1;
    }
    return 0;
}

int kafka_conf_set_list(rd_kafka_conf_t *conf, const char *const *kv, char *err, size_t errlen) {
    for (; *kv; kv++) {
        char name[128];
        const char *eq = strchr(*kv, '=');
        size_t n = eq ? (size_t)(eq - *kv) : 0;
        if (!eq || n >= sizeof name) { /* no '=': no value to hide; too long: show the start of the name */
            snprintf(err, errlen, "bad Kafka setting '%.40s' (expected name=value)", *kv);
            return -1;
        }
        memcpy(name, *kv, n);
        name[n] = 0;
        if (kafka_conf_set(conf, name, eq + 1, err, errlen)) return -1;
    }
    return 0;
}

/* Is settings[i] the last entry for its name? Only that one is applied: librdkafka checks
 * every value it is given, so an overridden one (a file's, under a -X) must never reach it. */
static int setting_is_last(const char *const *settings, size_t i) {
    size_t n = strcspn(settings[i], "=");
    for (size_t k = i + 1; settings[k]; k++)
        if (strcspn(settings[k], "=") == n && !strncmp(settings[k], settings[i], n)) return 0;
    return 1;
}

static int kafka_conf_apply(rd_kafka_conf_t *conf, const char *const *settings, char *err, size_t errlen) {
    for (size_t i = 0; settings[i]; i++) {
        const char *one[] = {settings[i], NULL};
        if (setting_is_last(settings, i) && kafka_conf_set_list(conf, one, err, errlen)) return -1;
    }
    return 0;
}

/* Extra settings (security.protocol, sasl.*, ssl.*, tuning) that a real cluster may need,
 * without a flag for each. A command gives its list, already merged from its config file, the
 * environment and -X in that order; for a name given more than once only the last is set.
 * A caller without one (NULL) gets $ECOM_KAFKA_CONF ("name=value;name=value", split by
 * config_split_settings, so a value may hold ';'). */
static int kafka_conf_extra(rd_kafka_conf_t *conf, const char *const *settings, char *err, size_t errlen) {
    if (settings) return kafka_conf_apply(conf, settings, err, errlen);
    const char *env = getenv("ECOM_KAFKA_CONF");
    if (!env || !*env) return 0;
    kv_list l = {0};
    int rc = config_split_settings(env, "ECOM_KAFKA_CONF", &l, err, errlen) ||
             kafka_conf_apply(conf, kv_list_items(&l), err, errlen);
    kv_list_free(&l);
    return rc ? -1 : 0;
}

/* librdkafka logs every refused connection to stderr; our callers report errors themselves, so
 * the logger is off unless someone debugging asks for it. Then the extra settings are applied. */
int kafka_conf_common(rd_kafka_conf_t *conf, const char *const *settings, char *err, size_t errlen) {
    const char *dbg = getenv("ECOM_KAFKA_DEBUG");
    if (dbg && *dbg && strcmp(dbg, "0")) {
        if (strcmp(dbg, "1") && kafka_conf_set(conf, "debug", dbg, err, errlen)) return -1;
    } else {
        rd_kafka_conf_set_log_cb(conf, NULL);
    }
    return kafka_conf_extra(conf, settings, err, errlen);
}

int kafka_topic_partition_count(rd_kafka_t *rk, rd_kafka_topic_t *t, const char *topic,
                                int64_t timeout_us, char *err, size_t errlen) {
    const struct rd_kafka_metadata *md = NULL;
    int tmo_ms = (int)(timeout_us / 1000);
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, t, &md, tmo_ms > 0 ? tmo_ms : 1);
    if (e) {
        snprintf(err, errlen, "metadata for topic %s: %s", topic, rd_kafka_err2str(e));
        return -1;
    }
    int n = -1;
    if (md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR)
        n = md->topics[0].partition_cnt;
    else if (md->topic_cnt == 1)
        snprintf(err, errlen, "topic %s: %s", topic, rd_kafka_err2str(md->topics[0].err));
    else
        snprintf(err, errlen, "topic %s: not in the broker's metadata", topic);
    rd_kafka_metadata_destroy(md);
    return n;
}

int kafka_default_brokers_path(char *out, size_t n) {
    const char *f = getenv("ECOM_BROKER_FILE");
    int w;
    if (f && *f) {
        w = snprintf(out, n, "%s", f);
    } else {
        const char *home = getenv("HOME");
        if (!home || !*home) return -1;
        w = snprintf(out, n, "%s/.cache/ecom/broker.addr", home);
    }
    return (w < 0 || (size_t)w >= n) ? -1 : 0;
}

/* The file holds one line, the bootstrap list; surrounding whitespace is ignored. */
int kafka_default_brokers(char *out, size_t n, char *err, size_t errlen) {
    char path[4096];
    if (kafka_default_brokers_path(path, sizeof path)) {
        snprintf(err, errlen, "no brokers given, and neither ECOM_BROKER_FILE nor HOME is set");
        return -1;
    }
    buf_t b = {0};
    if (file_read_all(path, &b)) {
        snprintf(err, errlen, "no brokers given and no embedded broker address in %s (%s): "
                 "start `ecom broker` or pass --brokers", path, strerror(errno));
        return -1;
    }
    size_t s = 0, e = b.len;
    while (s < e && (unsigned char)b.data[s] <= ' ') s++;
    while (e > s && (unsigned char)b.data[e - 1] <= ' ') e--;
    int rc = 0;
    if (e == s) {
        snprintf(err, errlen, "broker address file %s is empty", path);
        rc = -1;
    } else if (memchr(b.data + s, '\n', e - s) || e - s >= n) {
        snprintf(err, errlen, "broker address file %s: not one short line", path);
        rc = -1;
    } else {
        memcpy(out, b.data + s, e - s);
        out[e - s] = 0;
    }
    buf_free(&b);
    return rc;
}

/* mkdir -p for the parent directory of path. */
static int kafka_mkdir_parent(const char *path) {
    char dir[4096];
    size_t n = strlen(path);
    if (n >= sizeof dir) return -1;
    memcpy(dir, path, n + 1);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir) return 0;
    *slash = 0;
    for (char *p = dir + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(dir, 0755) && errno != EEXIST) return -1;
        *p = '/';
    }
    return (mkdir(dir, 0755) && errno != EEXIST) ? -1 : 0;
}

/* Readers must never see a half-written address: write a temp file beside it, then rename. */
int kafka_brokers_file_write(const char *path, const char *addr, char *err, size_t errlen) {
    char tmp[4200];
    if (kafka_mkdir_parent(path)) {
        snprintf(err, errlen, "cannot create the directory of %s: %s", path, strerror(errno));
        return -1;
    }
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f) {
        snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
        return -1;
    }
    int bad = fprintf(f, "%s\n", addr) < 0;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path)) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}
