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

int cmd_gen(int argc, char **argv);
int cmd_broker(int argc, char **argv);
int cmd_load(int argc, char **argv);
int cmd_cat(int argc, char **argv);
int cmd_schema(int argc, char **argv);
int cmd_stream(int argc, char **argv);
int cmd_dash(int argc, char **argv);
int cmd_run(int argc, char **argv);

/* `--hdfs-user NAME` (load, stream, cat, dash): sets HADOOP_USER_NAME, which the WebHDFS backend
 * sends as user.name. Call after flag parsing, before any storage is opened or thread started.
 * NULL user: nothing to do, 0. Returns 0, or the exit code (2: empty name; 1: setenv failed)
 * after printing "ecom <cmd>: ..." to stderr. */
int cmd_apply_hdfs_user(const char *cmd, const char *user);

#endif
