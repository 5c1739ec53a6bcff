/*
 * run — `ecom run`: the whole pipeline in one process. The embedded broker (or a real cluster),
 * the shopper simulator at a real-time rate, the stream job and the dashboard, each in its own
 * thread(s), wired together through the module APIs (kafka, gen, pipeline, dash).
 *
 * Contract
 *   - run_pipeline() starts, in order: the broker (kafka_mock_start with the three event topics,
 *     cfg->partitions each) unless cfg->brokers is given (then the topics must exist); the stream
 *     job (pipeline_run in a thread, status server on cfg->stream_listen); the dashboard
 *     (dash_server on cfg->listen, reading cfg->out_root, --stream pointing at the job's
 *     /status); the generator thread (wall clock, cfg->rate events/s, cfg->users shoppers).
 *     It then prints the dashboard URL on `info` and waits until *stop becomes non-zero or a
 *     component fails.
 *   - Shutdown order (on stop or failure): stop the generator and flush its producer; stop the
 *     stream job (it commits its current epoch: no partial files remain); stop the dashboard;
 *     stop the broker. Returns 0 after a clean stop, -1 with err if any component failed.
 *   - The caller must have called curl_global_init() before (the dashboard's status fetch uses
 *     libcurl from its threads) and installed its signal handlers (which only set *stop).
 *   - Ownership: cfg's strings are borrowed for the duration of the call. No global state.
 */
#ifndef ECOM_RUN_H
#define ECOM_RUN_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "storage/storage.h"

typedef struct {
    const char *brokers;        /* NULL = start the embedded broker */
    int partitions;             /* embedded broker: partitions per topic (default 3) */
    const char *out_root;       /* lake root: local path or hdfs://... */
    const storage_opts *storage; /* options of out_root's storage (borrowed); NULL: defaults */
    const char *listen;         /* dashboard HOST:PORT */
    const char *stream_listen;  /* stream status HOST:PORT (IPv4; port 0 = pick a free one) */
    const char *auth_token;     /* dashboard token or NULL */
    const char *tls_cert, *tls_key; /* dashboard over HTTPS: PEM files, both or neither */
    const char *const *kafka_settings; /* extra librdkafka settings (kafka.h), NULL-terminated; NULL = $ECOM_KAFKA_CONF */
    double rate;                /* generator events per second (wall clock) */
    int64_t users;
    uint64_t seed;
    int64_t lateness_us;        /* stream allowed lateness */
    int64_t commit_interval_us; /* stream epoch length */
    bool quiet;                 /* no periodic status lines */
    bool allow_uncounted;       /* pipeline_config.allow_uncounted: a first start on a ROOT ecom
                                   load filled goes on (its metric tables never count those rows) */
    const char *time_zone;      /* zone of the date= partitions (NULL = UTC); the caller has
                                   opened it with lake_tz_open before calling run_pipeline */
} run_config;

/* Fills the defaults: 3 partitions, ./data, dashboard 127.0.0.1:8501, stream 127.0.0.1:0,
 * 50 events/s, 2000 users, seed 0, lateness 10 s, commit interval 2 s. */
void run_config_default(run_config *c);

int run_pipeline(const run_config *c, volatile sig_atomic_t *stop, FILE *info, char *err, size_t errlen);

#endif
