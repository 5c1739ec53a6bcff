/*
 * fuzz_parquet.c — libFuzzer target for the Parquet reader: footer, schema, every column
 * chunk of every row group, record assembly to JSON and the schema description. Any input
 * must give a clean error or a result: no crash, no leak, no unbounded allocation (the
 * reader's caps are set low here so a hostile size is refused quickly).
 *
 *   make fuzz && build/fuzz/fuzz_parquet -max_total_time=600 -rss_limit_mb=2048 \
 *       fuzz/corpus-parquet tests/fixtures/parquet
 */
#include <stddef.h>
#include <stdint.h>

#include "parquet/parquet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[256];
    pq_read_opts o = {.max_page_bytes = 1 << 22, .max_chunk_values = 1 << 20, .max_chunk_bytes = 1 << 24};
    pq_reader *r = pq_reader_open_mem(data, size, &o, err, sizeof err);
    if (!r) return 0;
    pq_text t = {0};
    pq_reader_describe(r, &t);
    const pq_schema *s = pq_reader_schema(r);
    for (int g = 0; g < pq_reader_num_row_groups(r) && g < 64; g++) {
        for (int l = 0; l < pq_schema_num_leaves(s); l++) {
            pq_column c;
            if (pq_reader_read_column(r, g, l, &c, err, sizeof err) == 0) pq_column_free(&c);
            pq_reader_rg_may_match(r, g, l, 0, 100);
        }
        pq_rows *rows = pq_rows_open(r, g, NULL, 0, err, sizeof err);
        if (!rows) continue;
        int nf = 0;
        for (int i = 0; i < pq_schema_num_nodes(s); i++) nf += pq_schema_node(s, i)->parent == -1;
        for (int64_t i = 0; i < pq_rows_count(rows) && i < 10000; i++) {
            t.len = 0;
            for (int f = 0; f < nf; f++) {
                int64_t v;
                pq_rows_field_int(rows, f, &v);
                if (pq_rows_field_json(rows, f, &t, err, sizeof err)) break;
            }
            if (pq_rows_next(rows, err, sizeof err)) break;
        }
        pq_rows_free(rows);
    }
    pq_text_free(&t);
    pq_reader_close(r);
    return 0;
}
