/*
 * pipeline/source_file.c — the NDJSON input of `ecom stream --input FILE|-` as a source
 * (interface in source.h): one partition, one stream, one record per line.
 *
 * Position: the byte offset of the next unread line (j->in_offset, stored in the commit record)
 * and the number of lines read (j->offsets[0][0], shown on /status). A regular file seeks back
 * to the committed byte after every rollback.
 *
 * A regular file is read in blocks of BLOCK_BYTES (the block reader): the records of a batch
 * point into the block, so a line is neither copied nor scanned twice (getline did both, into
 * one buffer per record: 6-8% of a run). A line that does not fit in what is left of the block
 * ends the batch; the next poll moves it to the block's start and reads on (a line longer than
 * the block grows it).
 *
 * The block is lent (source_ops.hold): the worker threads' slots keep the records of a poll in
 * the block instead of copying them (a copy of every byte read was ~3% of a --threads 2 run's
 * instructions, docs/benchmarks.md). A block held by a slot is never refilled: the reader goes
 * on in a spare one (the partial line at the end copied over), and the held block becomes a
 * spare at its last release. One thread holds nothing, so its one block is refilled in place.
 *
 * A pipe (stdin, a FIFO) cannot seek, so it keeps what it has read since the last commit (the
 * replay buffer): in memory up to REPLAY_MEM_MAX bytes, then in an unlinked temporary file
 * ($TMPDIR, else /tmp). A rollback then re-reads those lines from the buffer before reading the
 * pipe again, so a storage error is retried as with a file. The buffer is emptied at every
 * commit made while it is not being replayed, so it holds the input since the last commit (after
 * a rollback: since the one before).
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pipeline/pipeline_internal.h"

/* Why batches of 64 from a regular file: it is read far faster than the clocks need to be, and
 * the loop reads the clocks once per batch (a vDSO call per line was ~3% of the run). A pipe
 * may trickle, so one line per batch: the clocks are read for every line. */
#define FILE_BATCH 64
/* The block reader's read size (see the header). */
#define BLOCK_BYTES ((size_t)1 << 20)
/* Uncommitted pipe input kept in memory before it goes to the temporary file. */
#define REPLAY_MEM_MAX ((size_t)8 << 20)

/* A pipe's input since the last commit: stream bytes [base, base + len). */
typedef struct {
    int64_t base, len;
    buf_t mem;                     /* the bytes while len <= REPLAY_MEM_MAX */
    FILE *spill;                   /* past that, all of them (mem is then empty) */
} replay_buf;

/* A regular file's read block; refs: holds lent out (a held block is not refilled). */
typedef struct file_block {
    struct file_block *next;       /* the spare list */
    int refs;
    size_t cap;
    char data[];
} file_block;

typedef struct {
    FILE *in;
    const char *path;
    bool is_stdin, regular, eof;
    int64_t read_pos;              /* where the next line starts (a pipe replaying: < pipe_pos) */
    int64_t pipe_pos;              /* a pipe: bytes read from it so far */
    int64_t line_no;               /* lines read (the last line's number) */
    replay_buf rb;
    file_block *blk;               /* a regular file: the block; bytes [pos, fill) are unread */
    char *data;                    /* blk->data (the line loop's one load) */
    size_t pos, fill;
    file_block *spare;             /* blocks of BLOCK_BYTES no longer held, for reuse */
    char *line[FILE_BATCH];        /* one buffer per record of a batch (records point into them) */
    size_t cap[FILE_BATCH];
} file_src;

/* Moves the replay buffer's bytes from memory to an unlinked temporary file. */
static int replay_spill(replay_buf *rb, char *err, size_t errlen) {
    const char *dir = getenv("TMPDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/ecom-replay-XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(path);
    if (fd < 0 || unlink(path) || !(rb->spill = fdopen(fd, "w+b"))) {
        snprintf(err, errlen, "cannot keep the uncommitted input of a pipe in %s: %s", path, strerror(errno));
        if (fd >= 0 && !rb->spill) close(fd);
        return -1;
    }
    if (rb->mem.len && fwrite(rb->mem.data, 1, rb->mem.len, rb->spill) != rb->mem.len) {
        snprintf(err, errlen, "cannot keep the uncommitted input of a pipe: %s", strerror(errno));
        return -1;
    }
    buf_free(&rb->mem);
    return 0;
}

/* Appends a line read from the pipe. */
static int replay_append(replay_buf *rb, const char *p, size_t n, char *err, size_t errlen) {
    if (!rb->spill && rb->mem.len + n > REPLAY_MEM_MAX && replay_spill(rb, err, errlen)) return -1;
    if (rb->spill) {
        if (fseeko(rb->spill, 0, SEEK_END) || fwrite(p, 1, n, rb->spill) != n) {
            snprintf(err, errlen, "cannot keep the uncommitted input of a pipe: %s", strerror(errno));
            return -1;
        }
    } else if (buf_append(&rb->mem, p, n)) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    rb->len += (int64_t)n;
    return 0;
}

/* Reads the line starting at stream byte pos from the buffer into *line. Its length, or -1. */
static ssize_t replay_line(replay_buf *rb, int64_t pos, char **line, size_t *cap, char *err, size_t errlen) {
    size_t at = (size_t)(pos - rb->base), left = (size_t)(rb->len - (pos - rb->base));
    if (rb->spill) {
        ssize_t n = fseeko(rb->spill, (off_t)at, SEEK_SET) ? -1 : getline(line, cap, rb->spill);
        if (n <= 0 || (size_t)n > left) {
            snprintf(err, errlen, "cannot replay the uncommitted input of a pipe: %s", strerror(errno));
            return -1;
        }
        return n;
    }
    const char *p = rb->mem.data + at, *nl = memchr(p, '\n', left);
    size_t n = nl ? (size_t)(nl - p) + 1 : left;
    if (*cap < n + 1) {
        char *q = realloc(*line, n + 1);
        if (!q) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        *line = q;
        *cap = n + 1;
    }
    memcpy(*line, p, n);
    (*line)[n] = 0;
    return (ssize_t)n;
}

/* Forgets the buffer's bytes before pos (everything, as pos is its end when not replaying). */
static void replay_reset(replay_buf *rb, int64_t pos) {
    rb->base = pos;
    rb->len = 0;
    buf_reset(&rb->mem);
    if (rb->spill) fclose(rb->spill);
    rb->spill = NULL;
}

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

/* A block of at least cap bytes: a spare if one fits (reused: its pages are already touched),
 * else a new one. NULL: out of memory. */
static file_block *block_get(file_src *f, size_t cap) {
    if (f->spare && cap <= BLOCK_BYTES) {
        file_block *b = f->spare;
        f->spare = b->next;
        return b;
    }
    file_block *b = malloc(sizeof *b + cap);
    if (b) *b = (file_block){.cap = cap};
    return b;
}

/* A block that is no longer the reader's: kept as a spare once no hold is left (a grown one
 * is freed), else left to its holders (the last release puts it back). */
static void block_put(file_src *f, file_block *b) {
    if (!b || b->refs) return;
    if (b->cap > BLOCK_BYTES) {
        free(b);
        return;
    }
    b->next = f->spare;
    f->spare = b;
}

/* Moves the unread bytes to the start of the block (another one when this one is held, a larger
 * one when they fill it) and reads more. 0 if it read something, 1 at the end of the file (or a
 * read error: it ends the input the same way), -1 out of memory. */
static int block_refill(file_src *f, char *err, size_t errlen) {
    size_t left = f->fill - f->pos, cap = BLOCK_BYTES;
    while (cap <= left) cap *= 2;
    file_block *b = f->blk;
    if (!b || b->refs || b->cap < cap) {
        file_block *nb = block_get(f, cap);
        if (!nb) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        if (left) memcpy(nb->data, b->data + f->pos, left);
        block_put(f, b);
        f->blk = b = nb;
        f->data = b->data;
    } else if (left && f->pos) {
        memmove(b->data, b->data + f->pos, left);
    }
    f->pos = 0;
    f->fill = left;
    size_t got = fread(b->data + f->fill, 1, b->cap - f->fill, f->in);
    f->fill += got;
    return got ? 0 : 1;
}

/* The next line of a regular file, pointed into the block (*line). Its length with its newline,
 * 0 when the batch must end for a refill (only when it already holds a record), -1 at the end
 * of the file, -2 on out of memory. */
static ssize_t block_next_line(file_src *f, bool batch_empty, const char **line, char *err, size_t errlen) {
    for (;;) {
        const char *p = f->data + f->pos, *nl = f->pos < f->fill ? memchr(p, '\n', f->fill - f->pos) : NULL;
        if (nl) {
            size_t n = (size_t)(nl - p) + 1;
            f->pos += n;
            *line = p;
            return (ssize_t)n;
        }
        if (!batch_empty) return 0;
        int rc = block_refill(f, err, errlen);
        if (rc < 0) return -2;
        if (rc == 1) { /* the end: a last line without its newline, if any */
            size_t n = f->fill - f->pos;
            *line = f->data + f->pos;
            f->pos = f->fill;
            return n ? (ssize_t)n : -1;
        }
    }
}

/* The next line of a pipe: from its replay buffer while it is behind what it has read. */
static ssize_t file_next_line(file_src *f, int i, char *err, size_t errlen) {
    if (f->read_pos < f->pipe_pos) return replay_line(&f->rb, f->read_pos, &f->line[i], &f->cap[i], err, errlen);
    ssize_t n = getline(&f->line[i], &f->cap[i], f->in);
    if (n > 0 && replay_append(&f->rb, f->line[i], (size_t)n, err, errlen)) return -2;
    if (n > 0) f->pipe_pos += n;
    return n;
}

static int file_poll(input_source *s, source_record *out, size_t max, size_t *n, char *err, size_t errlen) {
    file_src *f = s->ctx;
    *n = 0;
    if (max > FILE_BATCH) max = FILE_BATCH;
    if (!f->regular) max = 1;
    while (*n < max && !f->eof) {
        const char *val = NULL;
        ssize_t len = f->regular ? block_next_line(f, *n == 0, &val, err, errlen) : file_next_line(f, (int)*n, err, errlen);
        if (!f->regular) val = f->line[*n];
        if (len == 0) break; /* block reader: refill at the next poll */
        if (len < -1 || (len < 0 && f->read_pos < f->pipe_pos)) return -1;
        if (len < 0) { /* end of input, or a read error, which ends it the same way */
            f->eof = true;
            break;
        }
        f->read_pos += len;
        f->line_no++;
        out[*n] = (source_record){.part = 0, .stream = 0, .offset = f->line_no, .next = f->line_no,
                                  .bytes = len, .val = val, .len = (size_t)len, .name = f->path};
        (*n)++;
    }
    return *n == 0 && f->eof ? 1 : 0;
}

/* Always back to the committed position, also when it is 0 (nothing committed yet): a failed
 * first epoch must be read again from its start, not continued where it stopped. A pipe goes
 * back within its replay buffer; before it (a restart on a ROOT that has a commit log) it
 * cannot. */
static int file_seek(input_source *s, char *err, size_t errlen) {
    file_src *f = s->ctx;
    pipeline_job *j = s->job;
    clearerr(f->in);
    f->eof = false;
    f->line_no = (int64_t)j->stats.records;
    if (f->read_pos == j->in_offset) return 0;
    if (f->regular ? fseeko(f->in, j->in_offset, SEEK_SET) == 0
                   : j->in_offset >= f->rb.base && j->in_offset <= f->pipe_pos) {
        f->read_pos = j->in_offset;
        f->pos = f->fill = 0; /* the block no longer follows the file's position */
        return 0;
    }
    snprintf(err, errlen, "cannot resume %s at byte %" PRId64 ": %s", f->path, j->in_offset,
             f->regular ? strerror(errno) : "a pipe cannot seek there (ROOT already has a commit log)");
    return -1;
}

/* After a commit: a pipe forgets the committed input (unless it is replaying: then later). */
static void file_committed(input_source *s, const bool *want) {
    file_src *f = s->ctx;
    (void)want;
    if (!f->regular && f->read_pos == f->pipe_pos) replay_reset(&f->rb, f->pipe_pos);
}

/* A regular file, or a pipe replaying or with bytes waiting (its stdio buffer is not looked
 * at: a batch may end early, never block). */
static bool file_ready(input_source *s) {
    file_src *f = s->ctx;
    if (f->regular || f->read_pos < f->pipe_pos) return true;
    struct pollfd pf = {.fd = fileno(f->in), .events = POLLIN};
    return poll(&pf, 1, 0) > 0;
}

/* The block of the last poll's records (a pipe's lines are in per-record buffers: not lent). */
static void *file_hold(input_source *s) {
    file_src *f = s->ctx;
    if (!f->regular || !f->blk) return NULL;
    f->blk->refs++;
    return f->blk;
}

static void file_release(input_source *s, void *ref) {
    file_src *f = s->ctx;
    file_block *b = ref;
    if (--b->refs == 0 && b != f->blk) block_put(f, b);
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
    replay_reset(&f->rb, 0);
    buf_free(&f->rb.mem);
    free(f->blk);
    for (file_block *b = f->spare, *nx; b; b = nx) {
        nx = b->next;
        free(b);
    }
    for (int i = 0; i < FILE_BATCH; i++) free(f->line[i]);
    free(f);
    s->ctx = NULL;
}

const source_ops source_file_ops = {
    .name = "file",
    .kind = COMMIT_FILE,
    .nstreams = 1,
    .advance_records = 4096,
    .advance_us = 50000, /* also by time: a live pipe's windows close without 4096 more lines */
    .open = file_open,
    .poll = file_poll,
    .seek = file_seek,
    .backlogged = file_backlogged,
    .ready = file_ready,
    .hold = file_hold,
    .release = file_release,
    .committed = file_committed,
    .close = file_close,
};
