/*
 * pipeline/source.c — opening and closing the job's source (interface in source.h).
 */
#include "pipeline/pipeline_internal.h"

int source_open(input_source *s, pipeline_job *j, char *err, size_t errlen) {
    s->ops = j->cfg->input_path ? &source_file_ops : &source_kafka_ops;
    s->job = j;
    s->ctx = NULL;
    return s->ops->open(s, err, errlen);
}

void source_consumed(input_source *s, const source_record *r) {
    pipeline_job *j = s->job;
    j->offsets[r->part][r->stream] = r->next;
    j->in_offset += r->bytes;
}

void source_close(input_source *s) {
    if (s->ops) s->ops->close(s);
}
