/*
 * cmd — the `ecom` subcommands. Each takes (argc, argv) with argv[0] = the subcommand name
 * and returns the process exit code: 0 success, 1 runtime failure, 2 bad usage.
 * Commands parse their own flags with util's flags_parse() and print errors to stderr as
 * "ecom <cmd>: <message>".
 *
 * Data flows one way: gen -> (Kafka) -> stream -> (storage) -> dash. `broker` is the embedded
 * Kafka-protocol broker; `load`, `cat`, `schema` work on the Parquet lake directly; `run`
 * supervises the whole pipeline.
 */
#ifndef ECOM_CMD_H
#define ECOM_CMD_H

#include <stdint.h>

#include "storage/storage.h"
#include "util/util.h"

int cmd_gen(int argc, char **argv);
int cmd_broker(int argc, char **argv);
int cmd_load(int argc, char **argv);
int cmd_cat(int argc, char **argv);
int cmd_schema(int argc, char **argv);
int cmd_stream(int argc, char **argv);
int cmd_dash(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_metrics(int argc, char **argv);

/* ---- the --hdfs-* flags (load, stream, cat, dash, run): one block, CMD_HDFS_FLAGS(h), put in each
 * command's flag table; cmd_hdfs_opts() checks them and fills the storage options. ---- */
typedef struct {
    const char *user, *auth, *keytab, *principal, *ca, *namenodes;
    int64_t retries;        /* -1: the backend's default */
    int64_t timeout_us;     /* 0: the backend's default */
} cmd_hdfs;

#define CMD_HDFS_FLAGS(h)                                                                                  \
    {"hdfs-user", FLAG_STR, &(h).user, "HDFS user (simple auth; sent as user.name; default $HADOOP_USER_NAME)", \
     0, 0, NULL},                                                                                          \
    {"hdfs-user", FLAG_ENV, "HADOOP_USER_NAME", NULL, 0, 0, NULL},                                         \
    {"hdfs-auth", FLAG_STR, &(h).auth, "HDFS authentication: simple (default) or kerberos (SPNEGO)", 0, 0, NULL}, \
    {"hdfs-keytab", FLAG_STR, &(h).keytab, "kerberos: log in from this keytab FILE (with --hdfs-principal; "  \
     "default: the ticket cache of kinit)", 0, 0, NULL},                                                    \
    {"hdfs-principal", FLAG_STR, &(h).principal, "kerberos: the principal to log in as from --hdfs-keytab", 0, 0, \
     NULL},                                                                                                \
    {"hdfs-ca", FLAG_STR, &(h).ca, "swebhdfs://: PEM FILE of the CA to trust (default: the system's)", 0, 0, NULL}, \
    {"hdfs-namenodes", FLAG_STR, &(h).namenodes, "HA: the NameNodes' HTTP addresses HOST:PORT,HOST:PORT (the URI's " \
     "host is then the nameservice)", 0, 0, NULL},                                                          \
    {"hdfs-retries", FLAG_INT, &(h).retries, "HDFS: extra attempts of a failed request (default 4)", 0, 100, NULL}, \
    {"hdfs-timeout", FLAG_DURATION, &(h).timeout_us, "HDFS: fail a request that moves no byte this long " \
     "(default 30s)", 0, 0, NULL}

/* Defaults (nothing given, retries -1). */
void cmd_hdfs_init(cmd_hdfs *h);
/* Checks the flags and fills o (whose strings point into h's). 0, or 2 (bad usage) after
 * printing "ecom <cmd>: ..." to stderr. */
int cmd_hdfs_opts(const char *cmd, const cmd_hdfs *h, storage_opts *o);

/* ---- the Kafka client settings flags (-X/--kafka name=value, repeatable; config file kafka.NAME;
 * $ECOM_KAFKA_CONF) of every command that talks to Kafka: CMD_KAFKA_FLAGS(kv, "") in its flag
 * table, kv a kv_list (the flags_store's kafka list); pre goes before the help text. ---- */
#define CMD_KAFKA_FLAGS(kv, pre)                                                                        \
    {"kafka", FLAG_KV, &(kv), pre "librdkafka property, e.g. -X security.protocol=SASL_SSL (repeatable; " \
     "config file: kafka.NAME)", 0, 0, NULL},                                                              \
    {"kafka", FLAG_ENV, "ECOM_KAFKA_CONF", NULL, 0, 0, NULL},                                            \
    {"X", FLAG_ALIAS, "kafka", NULL, 0, 0, NULL}

/* ---- --allow-uncounted (load, stream, run): one spec, CMD_ALLOW_UNCOUNTED_FLAG(b), put in each
 * writer's flag table. A ROOT's raw tables and its metric tables must count the same events:
 * a load into a ROOT a stream wrote, or a stream's (or run's) first start on a ROOT a load filled,
 * is refused naming the evidence, unless this flag says the user wants exactly that. ---- */
#define CMD_ALLOW_UNCOUNTED_FLAG(b)                                                                      \
    {"allow-uncounted", FLAG_BOOL, &(b), "write although ROOT's metric tables will never count the rows " \
     "ecom load put beside ecom stream's (a load into a streamed ROOT, a stream's first start on a loaded one)", \
     0, 0, NULL}

/* ---- signals of a long-running command (gen, stream, run) ----
 * SIGINT and SIGTERM call stop_handler (which sets the command's stop flag, so the command ends
 * cleanly: commits, flushes); SIGPIPE is ignored, so a reader or HTTP client that goes away is
 * a write error, not the end of the process. 0, or -1 with why in err: the command must then not
 * run (a SIGTERM would kill it mid-commit instead of stopping it). */
int cmd_signals_install(void (*stop_handler)(int), char *err, size_t errlen);
/* The same for the n signals sigs (exposed for the tests: a signal that cannot be caught). */
int cmd_signals_install_on(const int *sigs, size_t n, void (*stop_handler)(int), char *err, size_t errlen);

#endif
