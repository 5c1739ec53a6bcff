/*
 * pipeline_internal.h — shared between the pipeline's files (not for other modules).
 */
#ifndef ECOM_PIPELINE_INTERNAL_H
#define ECOM_PIPELINE_INTERNAL_H

#include <pthread.h>
#include <stdio.h>

#include "events/events.h"
#include "kafka/kafka.h"
#include "lake/lake.h"
#include "parquet/parquet.h"
#include "pipeline/pipeline.h"
#include "storage/storage.h"
#include "stream/stream.h"
#include "util/util.h"

typedef enum {
    METRIC_SALES = 0,
    METRIC_CATEGORY,
    METRIC_TOP,
    METRIC_CITY,
    METRIC_FUNNEL,
    METRIC_COUNT
} metric_table;

const char *metric_table_name(metric_table m);
/* Schema of a metric table; caller frees with pq_schema_free. */
pq_schema *metric_table_schema(metric_table m, char *err, size_t errlen);

/* ---- staging storage: a wrapper whose rename() is recorded, not done ---- */
typedef struct {
    char *from, *to;
} rename_pair;

typedef struct staging staging;
/* Wraps base (borrowed). *out is the storage to give the lake writers. */
staging *staging_new(storage *base, storage **out, char *err, size_t errlen);
void staging_free(staging *st);   /* also closes the wrapper storage */
size_t staging_count(const staging *st);
const rename_pair *staging_renames(const staging *st);
void staging_clear(staging *st);

/* ---- commit records ---- */
#define COMMIT_DIR "_ecom/commits"
#define STATE_DIR "_ecom/state"

typedef struct {
    int64_t epoch;                 /* -1: no record (fresh start) */
    int kind;                      /* 0 kafka, 1 file */
    int nparts;
    int64_t (*offsets)[3];         /* kafka: next offset per partition per topic; -1 unknown */
    int64_t file_offset;           /* file: byte offset of the next unread line */
    uint64_t records;              /* input records consumed up to the offsets */
    char **ckpt;                   /* per partition: checkpoint path (or NULL) */
    rename_pair *renames;
    size_t n_renames;
} commit_record;

void commit_record_free(commit_record *r);
/* Encodes r as the text of a commit record (see commit.c). */
int commit_record_encode(const commit_record *r, buf_t *out);
/* Decodes; -1 with err on any malformed or corrupt byte. */
int commit_record_decode(const char *p, size_t n, commit_record *r, char *err, size_t errlen);
/* Reads the newest record under ROOT (r->epoch = -1 if none). */
int commit_log_read_latest(storage *s, commit_record *r, char *err, size_t errlen);
/* Redoes the record's renames (idempotent) and deletes hidden part files no record names. */
int commit_log_recover_files(storage *s, const commit_record *r, char *err, size_t errlen);
/* Deletes records and checkpoints of epochs before keep_epoch. */
int commit_log_compact(storage *s, int64_t keep_epoch, char *err, size_t errlen);

/* ---- the job ---- */
typedef struct pipeline_job pipeline_job;

struct status_server;

struct pipeline_job {
    const pipeline_config *cfg;
    storage *base;                 /* ROOT */
    storage *stage;                /* staging wrapper over base */
    staging *st;
    stream_engine *engine;
    event_parser *parser;
    pq_schema *raw_schema[LAKE_RAW_COUNT], *metric_schema[METRIC_COUNT];
    lake_table *raw[LAKE_RAW_COUNT], *metric[METRIC_COUNT];
    uint64_t metric_rows[METRIC_COUNT];
    int64_t epoch;                 /* the epoch being written (last committed + 1) */
    int nparts;
    int64_t (*offsets)[3];         /* next offset per partition per topic */
    int64_t (*high)[3];            /* broker high watermarks, for lag */
    bool assigned_ready;
    /* file input */
    FILE *in;
    int64_t in_offset;
    /* kafka input */
    kafka_consumer *consumer;
    pipeline_stats stats;
    int64_t started_us;
    char err[512];
    struct status_server *status;
};

int64_t job_day_of(int64_t us);
/* The metric table m of the current epoch, opened on first use; NULL with j->err. */
lake_table *job_metric_table(pipeline_job *j, metric_table m);
/* The engine sink that writes metric rows into the job's tables. */
stream_sink metric_sink(pipeline_job *j);

/* ---- status server (GET /status, GET /metrics) ---- */
typedef struct status_server status_server;
status_server *status_server_start(const char *listen, char *err, size_t errlen);
/* Publishes a new snapshot (copied). */
void status_server_publish(status_server *s, const char *status_json, size_t n1, const char *metrics,
                           size_t n2);
void status_server_stop(status_server *s);
/* Builds the /status JSON and /metrics text from the job. */
int job_status_render(pipeline_job *j, buf_t *json, buf_t *prom);

#endif
