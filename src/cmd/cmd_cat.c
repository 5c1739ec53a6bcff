/* cmd_cat.c — `ecom cat`: prints the rows of a Parquet file or table as NDJSON or CSV, like
 * parquet-tools cat. Timestamps are RFC 3339 UTC, dates YYYY-MM-DD, nested values JSON. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "lake/lake.h"
#include "util/util.h"

static const char cat_usage[] =
    "usage: ecom cat PATH|ROOT/TABLE [--columns a,b] [--where-date YYYY-MM-DD] [--limit N] [--format ndjson|csv]\n"
    "       [--binary base64|hex]\n"
    "Prints rows of a Parquet file, or of every committed file of a table directory (partitions\n"
    "date=... are pruned by --where-date; a file outside date= partitions is filtered by its rows'\n"
    "`timestamp` (`ts` in lake layout 1) UTC date).\n"
    "A table's partition date is printed as the field `date`. A lake root (several tables) is\n"
    "refused (exit 2) with the list of its tables. Values by type: docs/parquet.md.";

typedef struct {
    const char *columns, *where_date, *format, *binary;
    int64_t limit;
    bool csv;
    int64_t lo, hi;          /* --where-date range in microseconds */
    int64_t printed;
    bool header_done;
    pq_text line;
    FILE *out;
} cat_state;

/* Decodes a JSON string literal produced by pq_json_string back into raw text (for CSV). */
static void json_unquote(const char *s, size_t n, pq_text *out) {
    for (size_t i = 1; i + 1 < n; i++) {
        char c = s[i];
        if (c != '\\') {
            pq_text_append(out, &c, 1);
            continue;
        }
        c = s[++i];
        const char *m = c == 'n' ? "\n" : c == 't' ? "\t" : c == 'r' ? "\r" : c == 'b' ? "\b" : c == 'f' ? "\f" : NULL;
        if (m) {
            pq_text_append(out, m, 1);
        } else if (c == 'u' && i + 4 < n) {
            unsigned cp = (unsigned)strtoul((char[]){s[i + 1], s[i + 2], s[i + 3], s[i + 4], 0}, NULL, 16);
            i += 4;
            char u[4];
            if (cp < 0x80) {
                u[0] = (char)cp;
                pq_text_append(out, u, 1);
            } else if (cp < 0x800) {
                u[0] = (char)(0xC0 | (cp >> 6));
                u[1] = (char)(0x80 | (cp & 0x3F));
                pq_text_append(out, u, 2);
            } else {
                u[0] = (char)(0xE0 | (cp >> 12));
                u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
                u[2] = (char)(0x80 | (cp & 0x3F));
                pq_text_append(out, u, 3);
            }
        } else {
            pq_text_append(out, &c, 1);
        }
    }
}

/* Appends one CSV cell from a JSON value: null -> empty; strings unquoted; others as is;
 * quoted when needed. */
static void csv_cell(pq_text *out, const char *js, size_t n) {
    pq_text raw = {0};
    if (n == 4 && !memcmp(js, "null", 4)) return;
    if (n >= 2 && js[0] == '"') json_unquote(js, n, &raw);
    else pq_text_append(&raw, js, n);
    bool quote = false;
    for (size_t i = 0; i < raw.len; i++)
        if (raw.data[i] == ',' || raw.data[i] == '"' || raw.data[i] == '\n' || raw.data[i] == '\r') quote = true;
    if (!quote) {
        pq_text_append(out, raw.data, raw.len);
    } else {
        pq_text_append(out, "\"", 1);
        for (size_t i = 0; i < raw.len; i++) {
            if (raw.data[i] == '"') pq_text_append(out, "\"", 1);
            pq_text_append(out, raw.data + i, 1);
        }
        pq_text_append(out, "\"", 1);
    }
    pq_text_free(&raw);
}

/* The date=YYYY-MM-DD of a path, or NULL. */
static const char *path_date(const char *path, char out[11]) {
    const char *p = strstr(path, "date=");
    if (!p || strlen(p) < 15) return NULL;
    memcpy(out, p + 5, 10);
    out[10] = 0;
    return out;
}

/* What one file prints: the fields in output order (a schema node each, -1 for the partition
 * date), and what pq_rows reads (rf: the real fields, then the ts filter field when it is not
 * printed). */
typedef struct {
    int fields[256], nf, date_pos;
    const char *names[257];
    const char *pdate;       /* the file's date= partition (a table), or NULL */
    char dbuf[11];
    int rf[257], nrf, map[256];
    int ts_node, ts_field;   /* the event time column; its index in rf when filtered by it, else -1 */
} cat_plan;

static void cat_plan_date(cat_plan *pl) {
    pl->date_pos = pl->nf;
    pl->names[pl->nf] = "date";
    pl->fields[pl->nf++] = -1;
}

/* The printed fields: --columns names (or every top-level column), "date" = the partition.
 * -1 with the message on stderr when a column is missing. */
static int cat_plan_fields(cat_plan *pl, const cat_state *st, const pq_schema *sc, const char *path) {
    if (!st->columns) {
        for (int i = 0; i < pq_schema_num_nodes(sc) && pl->nf < 255; i++)
            if (pq_schema_node(sc, i)->parent == -1) {
                pl->names[pl->nf] = pq_schema_node(sc, i)->name;
                pl->fields[pl->nf++] = i;
            }
        if (pl->pdate && pq_schema_find(sc, "date") < 0) cat_plan_date(pl);
        return 0;
    }
    char *cols = strdup(st->columns);
    int rc = 0;
    for (char *tok = strtok(cols, ","); tok && pl->nf < 256; tok = strtok(NULL, ",")) {
        if (!strcmp(tok, "date") && pl->pdate && pq_schema_find(sc, "date") < 0) {
            cat_plan_date(pl);
            continue;
        }
        int node = pq_schema_find(sc, tok);
        if (node < 0) {
            fprintf(stderr, "ecom cat: %s: no column %s\n", path, tok);
            rc = -1;
            break;
        }
        pl->names[pl->nf] = pq_schema_node(sc, node)->name;
        pl->fields[pl->nf++] = node;
    }
    free(cols);
    return rc;
}

/* What pq_rows reads: the real fields, and the event time column when --where-date filters
 * this file's rows and it is not printed. */
static void cat_plan_rows(cat_plan *pl, const cat_state *st, const pq_schema *sc, const char *path) {
    for (int i = 0; i < pl->nf; i++) {
        pl->map[i] = pl->fields[i] >= 0 ? pl->nrf : -1;
        if (pl->fields[i] >= 0) pl->rf[pl->nrf++] = pl->fields[i];
    }
    /* the event time column: "timestamp" (lake layout 2), "ts" in files of layout 1 */
    pl->ts_node = pq_schema_find(sc, "timestamp");
    if (pl->ts_node < 0) pl->ts_node = pq_schema_find(sc, "ts");
    /* A file in a date=D partition holds D's rows by construction (D in the lake's zone, which
     * need not be UTC): only a file outside partitions is filtered by its rows' UTC date. */
    char pbuf[11];
    bool in_partition = path_date(path, pbuf) != NULL;
    pl->ts_field = -1;
    if (st->where_date && !in_partition && pl->ts_node >= 0 && pq_schema_node(sc, pl->ts_node)->kind == PQ_TIMESTAMP) {
        for (int i = 0; i < pl->nrf; i++)
            if (pl->rf[i] == pl->ts_node) pl->ts_field = i;
        if (pl->ts_field < 0) {
            pl->ts_field = pl->nrf;
            pl->rf[pl->nrf++] = pl->ts_node;
        }
    }
}

/* Formats the current row of rows into st->line (NDJSON object or CSV line). -1 with err. */
static int cat_row_format(cat_state *st, const cat_plan *pl, pq_rows *rows, pq_text *cell, char *err, size_t errlen) {
    st->line.len = 0;
    if (!st->csv) pq_text_append(&st->line, "{", 1);
    for (int c = 0; c < pl->nf; c++) {
        if (c) pq_text_append(&st->line, ",", 1);
        if (!st->csv) {
            pq_json_string(&st->line, pl->names[c], strlen(pl->names[c]));
            pq_text_append(&st->line, ":", 1);
        }
        cell->len = 0;
        if (c == pl->date_pos) pq_json_string(cell, pl->pdate, strlen(pl->pdate));
        else if (pq_rows_field_json(rows, pl->map[c], cell, err, errlen)) return -1;
        if (st->csv) csv_cell(&st->line, cell->data, cell->len);
        else pq_text_append(&st->line, cell->data, cell->len);
    }
    if (!st->csv) pq_text_append(&st->line, "}", 1);
    pq_text_append(&st->line, "\n", 1);
    return 0;
}

/* Whether row group g may hold rows of the --where-date range (its ts column statistics, in
 * the column's unit: ms, us or ns). */
static bool cat_group_may_match(const cat_state *st, const cat_plan *pl, pq_reader *r, int g) {
    if (pl->ts_field < 0) return true;
    const pq_node *tn = pq_schema_node(pq_reader_schema(r), pl->ts_node);
    int64_t k = tn->ts_unit == 1 ? 1000 : tn->ts_unit == 3 ? -1000 : 1;
    int64_t lo = k > 0 ? st->lo / k : st->lo * 1000, hi = k > 0 ? st->hi / k : st->hi * 1000 + 999;
    return pq_reader_rg_may_match(r, g, tn->leaf, lo, hi);
}

/* Prints the rows of row group g (up to --limit, filtered by the ts field). 0, or 1 with the
 * message on stderr. */
static int cat_group(cat_state *st, const cat_plan *pl, pq_reader *r, int g, pq_text *cell, const char *path) {
    char err[512];
    if (!cat_group_may_match(st, pl, r, g)) return 0;
    if (pl->nrf == 0 && pq_reader_rg_num_rows(r, g) == 0) return 0;
    pq_rows *rows = pl->nrf ? pq_rows_open(r, g, pl->rf, pl->nrf, err, sizeof err) : NULL;
    if (rows && st->binary && !strcmp(st->binary, "hex")) pq_rows_set_binary(rows, PQ_BIN_HEX);
    if (pl->nrf && !rows) {
        fprintf(stderr, "ecom cat: %s: %s\n", path, err);
        return 1;
    }
    int rc = 0;
    int64_t n = pq_reader_rg_num_rows(r, g);
    for (int64_t i = 0; i < n && rc == 0; i++) {
        if (st->limit >= 0 && st->printed >= st->limit) break;
        int64_t tsv;
        if (pl->ts_field >= 0 && (!pq_rows_field_int(rows, pl->ts_field, &tsv) || tsv < st->lo || tsv > st->hi)) {
            if (pq_rows_next(rows, err, sizeof err)) rc = 1;
            continue;
        }
        if (cat_row_format(st, pl, rows, cell, err, sizeof err)) {
            fprintf(stderr, "ecom cat: %s: %s\n", path, err);
            rc = 1;
        }
        if (rc == 0 && fwrite(st->line.data, 1, st->line.len, st->out) != st->line.len) rc = 1;
        st->printed++;
        if (rows && pq_rows_next(rows, err, sizeof err)) rc = 1;
    }
    pq_rows_free(rows);
    return rc;
}

static int cat_file(cat_state *st, storage *s, const char *path, bool table) {
    char err[512];
    lake_file *f = lake_file_open(s, path, err, sizeof err);
    if (!f) {
        fprintf(stderr, "ecom cat: %s\n", err);
        return 1;
    }
    pq_reader *r = lake_file_reader(f);
    const pq_schema *sc = pq_reader_schema(r);
    cat_plan pl;
    pl.nf = pl.nrf = 0;
    pl.date_pos = -1;
    pl.pdate = table ? path_date(path, pl.dbuf) : NULL;
    if (cat_plan_fields(&pl, st, sc, path)) {
        lake_file_close(f);
        return 1;
    }
    cat_plan_rows(&pl, st, sc, path);
    if (st->csv && !st->header_done) {
        for (int i = 0; i < pl.nf; i++) fprintf(st->out, "%s%s", i ? "," : "", pl.names[i]);
        fputc('\n', st->out);
        st->header_done = true;
    }
    int rc = 0;
    pq_text cell = {0};
    for (int g = 0; g < pq_reader_num_row_groups(r) && rc == 0; g++) {
        if (st->limit >= 0 && st->printed >= st->limit) break;
        rc = cat_group(st, &pl, r, g, &cell, path);
    }
    pq_text_free(&cell);
    lake_file_close(f);
    return rc;
}

static int cat_main(int argc, char **argv, flags_store *fst) {
    cmd_hdfs hdfs;
    cmd_hdfs_init(&hdfs);
    storage_opts hso;
    cat_state st = {.limit = -1, .out = stdout};
    const flag_spec specs[] = {
        {"columns", FLAG_STR, &st.columns, "comma-separated top-level columns to print (default all)", 0, 0, NULL},
        {"where-date", FLAG_STR, &st.where_date, "only partition date=D (a file outside partitions: rows whose timestamp falls on D, UTC)", 0, 0, NULL},
        {"limit", FLAG_INT, &st.limit, "print at most N rows", 0, 9e18, NULL},
        {"format", FLAG_STR, &st.format, "ndjson (default) or csv", 0, 0, NULL},
        {"binary", FLAG_STR, &st.binary, "binary values as base64 (default) or hex", 0, 0, NULL},
        CMD_HDFS_FLAGS(hdfs),
        {NULL, 0, NULL, NULL, 0, 0, NULL},
    };
    char err[512];
    const char *pos[1];
    int npos = 0;
    int r = flags_parse(specs, argc, argv, pos, 1, &npos, fst, err, sizeof err);
    if (r == FLAGS_HELP) {
        flags_usage(stdout, cat_usage, specs);
        return 0;
    }
    if (r == FLAGS_ERROR || npos != 1) {
        fprintf(stderr, "ecom cat: %s\n", r == FLAGS_ERROR ? err : "expected one PATH (see --help)");
        return 2;
    }
    int hu = cmd_hdfs_opts("cat", &hdfs, &hso);
    if (hu) return hu;
    if (st.format && strcmp(st.format, "ndjson") && strcmp(st.format, "csv")) {
        fprintf(stderr, "ecom cat: --format must be ndjson or csv\n");
        return 2;
    }
    st.csv = st.format && !strcmp(st.format, "csv");
    if (st.binary && strcmp(st.binary, "base64") && strcmp(st.binary, "hex")) {
        fprintf(stderr, "ecom cat: --binary must be base64 or hex\n");
        return 2;
    }
    if (st.where_date) {
        int64_t us;
        if (strlen(st.where_date) != 10 || time_parse_rfc3339(st.where_date, 10, &us)) {
            fprintf(stderr, "ecom cat: --where-date wants YYYY-MM-DD\n");
            return 2;
        }
        st.lo = us;
        st.hi = us + 86400 * TIME_US_PER_SEC - 1;
    }
    storage *s;
    char **files;
    size_t n;
    bool is_dir;
    if (lake_resolve(pos[0], &hso, st.where_date, &s, &files, &n, &is_dir, err, sizeof err)) {
        fprintf(stderr, "ecom cat: %s\n", err);
        return 1;
    }
    int rc = 0;
    char tables[1024];
    if (is_dir && lake_files_tables(files, n, tables, sizeof tables) > 1) {
        fprintf(stderr, "ecom cat: %s holds several tables (%s): give one, e.g. %s/%.*s\n", pos[0], tables, pos[0],
                (int)strcspn(tables, ","), tables);
        rc = 2;
    }
    for (size_t i = 0; i < n && rc == 0; i++) rc = cat_file(&st, s, files[i], is_dir);
    if (fflush(st.out)) rc = 1;
    pq_text_free(&st.line);
    lake_paths_free(files, n);
    storage_close(s);
    return rc;
}

/* Values parsed from a config file live in st: it outlasts the whole command. */
int cmd_cat(int argc, char **argv) {
    flags_store st = {0};
    int rc = cat_main(argc, argv, &st);
    flags_store_free(&st);
    return rc;
}
