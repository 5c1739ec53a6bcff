/* cmd_schema.c — `ecom schema`: prints a Parquet file's schema and metadata (row groups,
 * column chunks with codec, sizes, null counts, encodings), like parquet-tools schema/meta. */
#include <stdio.h>
#include <string.h>

#include "cmd/cmd.h"
#include "lake/lake.h"
#include "util/util.h"

static const char schema_usage[] =
    "usage: ecom schema PATH\n"
    "Prints the schema and metadata of a Parquet file (of the first file, for a table directory;\n"
    "a lake root of several tables is refused, exit 2, with the list of its tables).";

static int schema_main(int argc, char **argv, flags_store *fst) {
    const flag_spec specs[] = {{NULL, 0, NULL, NULL, 0, 0, NULL}};
    char err[512];
    const char *pos[1];
    int npos = 0;
    int r = flags_parse(specs, argc, argv, pos, 1, &npos, fst, err, sizeof err);
    if (r == FLAGS_HELP) {
        flags_usage(stdout, schema_usage, specs);
        return 0;
    }
    if (r == FLAGS_ERROR || npos != 1) {
        fprintf(stderr, "ecom schema: %s\n", r == FLAGS_ERROR ? err : "expected one PATH (see --help)");
        return 2;
    }
    storage *s;
    char **files;
    size_t n;
    bool is_dir;
    if (lake_resolve(pos[0], NULL, NULL, &s, &files, &n, &is_dir, err, sizeof err)) {
        fprintf(stderr, "ecom schema: %s\n", err);
        return 1;
    }
    int rc = 1;
    char tables[1024];
    if (is_dir && lake_files_tables(files, n, tables, sizeof tables) > 1) {
        fprintf(stderr, "ecom schema: %s holds several tables (%s): give one, e.g. %s/%.*s\n", pos[0], tables,
                pos[0], (int)strcspn(tables, ","), tables);
        rc = 2;
    } else if (n == 0) {
        fprintf(stderr, "ecom schema: %s: no Parquet files\n", pos[0]);
    } else {
        lake_file *f = lake_file_open(s, files[0], err, sizeof err);
        if (!f) {
            fprintf(stderr, "ecom schema: %s\n", err);
        } else {
            pq_text t = {0};
            if (pq_reader_describe(lake_file_reader(f), &t) == 0 && fwrite(t.data, 1, t.len, stdout) == t.len)
                rc = 0;
            pq_text_free(&t);
            lake_file_close(f);
        }
    }
    lake_paths_free(files, n);
    storage_close(s);
    return rc;
}

/* Values parsed from a config file live in st: it outlasts the whole command. */
int cmd_schema(int argc, char **argv) {
    flags_store st = {0};
    int rc = schema_main(argc, argv, &st);
    flags_store_free(&st);
    return rc;
}
