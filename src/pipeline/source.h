/*
 * pipeline/source.h — the input of `ecom stream` behind one interface (an NDJSON file or stdin,
 * or the Kafka consumer group), so that one epoch loop (pipeline.c) serves every input.
 * Internal to the pipeline.
 *
 * Contract
 *   - A source yields records in batches (poll). Each record names its input partition and
 *     stream (topic index), its offset (shown in `rejected`) and `next`, the position after it
 *     in its partition and stream.
 *   - Position: the job keeps the position of what it has processed (j->offsets[part][stream]
 *     = the records' `next`; file: also j->in_offset, the byte offset of the next unread line)
 *     through source_consumed(), and the commit record stores it: to the loop and the commit
 *     record it is the source's business what a position means.
 *   - seek() resumes reading at the job's position after job_recover() restored it from the
 *     commit log (at start, and after every rollback). The file source seeks back (also to 0);
 *     the Kafka source rejoins the group with the committed offsets.
 *   - poll() returns 0 (records in out[0..*n), maybe none), 1 at the end of the input (file:
 *     EOF; Kafka with cfg->drain: every partition read to its high watermark), or -1 on a fatal
 *     error (err). Records stay valid until the next poll, seek or close (or, held, until
 *     their release: hold below).
 *   - backlogged(part, stream): the stream has unread data (or it is not known): the loop keeps
 *     it from turning idle in the engine.
 *   - Ownership: source_open() returns a source freed by source_close(), which releases its
 *     file or consumer. One thread.
 */
#ifndef ECOM_PIPELINE_SOURCE_H
#define ECOM_PIPELINE_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kafka/kafka.h" /* KAFKA_NTOPICS: the streams of the Kafka source */

typedef struct pipeline_job pipeline_job;

typedef struct {
    int part, stream;        /* input partition (file: 0) and stream (topic index; file: 0) */
    int64_t offset;          /* file: line number (1-based); Kafka: the message's offset */
    int64_t next;            /* the position after this record (file: lines read; Kafka: offset + 1) */
    int64_t bytes;           /* file: the line's length in bytes (with its newline); Kafka: 0 */
    int64_t ts_us;           /* the record's own time (Kafka create time), 0 if none */
    const char *val;
    size_t len;
    const char *name;        /* the input's name for `rejected`: the path, or "topic:partition" */
} source_record;

typedef struct input_source input_source;

typedef struct {
    const char *name;        /* "file", "kafka" */
    int kind;                /* the commit record's input kind: COMMIT_FILE or COMMIT_KAFKA */
    int nstreams;            /* streams per partition: 1 (file) or KAFKA_NTOPICS (Kafka) */
    /* pacing of the engine's processing-time clock by the loop: advance every advance_records
     * records and/or every advance_us (0: not by that measure) */
    uint64_t advance_records;
    int64_t advance_us;
    /* Sets j->nparts (file: 1). */
    int (*open)(input_source *s, char *err, size_t errlen);
    int (*poll)(input_source *s, source_record *out, size_t max, size_t *n, char *err, size_t errlen);
    int (*seek)(input_source *s, char *err, size_t errlen);
    bool (*backlogged)(input_source *s, int part, int stream);
    /* Every partition read to its end (exact; may ask the brokers). NULL: never (a file ends by
     * poll returning 1). */
    bool (*drained)(input_source *s);
    /* True when a poll would return at once (data is buffered or waiting): the worker threads
     * batch records while it holds (workers.c). NULL: always (a poll never blocks for long). */
    bool (*ready)(input_source *s);
    /* Lending (NULL: none). hold() takes a reference to the storage of the last poll's records
     * (their val and name), which then stay valid until the matching release(), across later
     * polls and seeks, so a consumer that keeps records longer than a poll (the worker threads'
     * slots) need not copy them. hold() returns NULL when the records cannot be lent (a pipe):
     * copy them then. Both on the job's thread; every hold is released before close. */
    void *(*hold)(input_source *s);
    void (*release)(input_source *s, void *ref);
    /* Refreshes the job's view of the input's lag (j->high); NULL if none. */
    void (*refresh_lag)(input_source *s);
    /* Tells the input what is committed (Kafka offsets of the partitions in want[], or all
     * when want is NULL; informational, the commit log is the truth). NULL if nothing to do. */
    void (*committed)(input_source *s, const bool *want);
    void (*close)(input_source *s);
} source_ops;

struct input_source {
    const source_ops *ops;
    pipeline_job *job;       /* borrowed: the job whose position and config the source uses */
    void *ctx;               /* the implementation's state */
};

extern const source_ops source_file_ops;
extern const source_ops source_kafka_ops;

/* Opens the job's input (cfg->input_path: file or stdin; else Kafka) into *s. 0 or -1 (err). */
int source_open(input_source *s, pipeline_job *j, char *err, size_t errlen);
/* Advances the job's position past r (after r was processed). */
void source_consumed(input_source *s, const source_record *r);
void source_close(input_source *s);

#endif
