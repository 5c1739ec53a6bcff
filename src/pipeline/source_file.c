/*
 * pipeline/source_file.c — the NDJSON input of `ecom stream --input FILE|-` as a source
 * (interface in source.h): one partition, one stream, one record per line.
 *
 * Position: the byte offset of the next unread line (j->in_offset, stored in the commit record)
 * and the number of lines read (j->offsets[0][0], shown on /status). A regular file seeks back
 * to the committed byte after every rollback; a pipe cannot, so it resumes only when it is at
 * that byte already.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "pipeline/pipeline_internal.h"

/* Why batches of 64 from a regular file: it is read far faster than the clocks need to be, and
 * the loop reads the clocks once per batch (a vDSO call per line was ~3% of the run). A pipe
 * may trickle, so one line per batch: the clocks are read for every line. */
#define FILE_BATCH 64

typedef struct {
    FILE *in;
    const char *path;
    bool is_stdin, regular, eof;
    int64_t read_pos;              /* bytes returned by getline so far: where the next line starts */
    int64_t line_no;               /* lines read (the last line's number) */
    char *line[FILE_BATCH];        /* one buffer per record of a batch (records point into them) */
    size_t cap[FILE_BATCH];
} file_src;

static int file_open(input_source *s, char *err, size_t errlen) {
    pipeline_job *j = s->job;
    file_src *f = calloc(1, sizeof *f);
    if (!f) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    s->ctx = f;
    f->path = j->cfg->input_path;
    f->is_stdin = !strcmp(f->path, "-");
    f->in = f->is_stdin ? stdin : fopen(f->path, "rb");
    if (!f->in) {
        snprintf(err, errlen, "cannot open %s: %s", f->path, strerror(errno));
        return -1;
    }
    struct stat st;
    f->regular = !f->is_stdin && fstat(fileno(f->in), &st) == 0 && S_ISREG(st.st_mode);
    j->nparts = 1;
    return 0;
}

static int file_poll(input_source *s, source_record *out, size_t max, size_t *n, char *err, size_t errlen) {
    file_src *f = s->ctx;
    (void)err;
    (void)errlen;
    *n = 0;
    if (max > FILE_BATCH) max = FILE_BATCH;
    if (!f->regular) max = 1;
    while (*n < max && !f->eof) {
        ssize_t len = getline(&f->line[*n], &f->cap[*n], f->in);
        if (len < 0) { /* end of input, or a read error, which ends it the same way */
            f->eof = true;
            break;
        }
        f->read_pos += len;
        f->line_no++;
        out[*n] = (source_record){.part = 0, .stream = 0, .offset = f->line_no, .next = f->line_no,
                                  .bytes = len, .val = f->line[*n], .len = (size_t)len, .name = f->path};
        (*n)++;
    }
    return *n == 0 && f->eof ? 1 : 0;
}

/* Always back to the committed position, also when it is 0 (nothing committed yet): a failed
 * first epoch must be read again from its start, not continued where it stopped. */
static int file_seek(input_source *s, char *err, size_t errlen) {
    file_src *f = s->ctx;
    pipeline_job *j = s->job;
    clearerr(f->in);
    f->eof = false;
    if (f->read_pos != j->in_offset) {
        if (f->is_stdin || fseeko(f->in, j->in_offset, SEEK_SET)) {
            snprintf(err, errlen, "cannot resume %s at byte %" PRId64 " (a commit log exists in ROOT)", f->path,
                     j->in_offset);
            return -1;
        }
        f->read_pos = j->in_offset;
    }
    f->line_no = (int64_t)j->stats.records;
    return 0;
}

static bool file_backlogged(input_source *s, int part, int stream) {
    (void)s;
    (void)part;
    (void)stream;
    return false;
}

static void file_close(input_source *s) {
    file_src *f = s->ctx;
    if (!f) return;
    if (f->in && !f->is_stdin) fclose(f->in);
    for (int i = 0; i < FILE_BATCH; i++) free(f->line[i]);
    free(f);
    s->ctx = NULL;
}

const source_ops source_file_ops = {
    .name = "file",
    .kind = COMMIT_FILE,
    .nstreams = 1,
    .advance_records = 4096,
    .advance_us = 0,
    .open = file_open,
    .poll = file_poll,
    .seek = file_seek,
    .backlogged = file_backlogged,
    .close = file_close,
};
