/* main.c — the `ecom` binary: dispatches to a subcommand (src/cmd/). */
#include <stdio.h>
#include <string.h>

#include "cmd/cmd.h"
#include "kafka/kafka.h"

typedef struct {
    const char *name;
    int (*fn)(int, char **);
    const char *summary;
} command;

static const command commands[] = {
    {"gen", cmd_gen, "simulate shoppers; write events as NDJSON and/or to Kafka"},
    {"broker", cmd_broker, "run the embedded in-memory Kafka-protocol broker"},
    {"stream", cmd_stream, "consume events, compute windowed metrics, write Parquet tables"},
    {"load", cmd_load, "load an NDJSON event file into the raw Parquet tables"},
    {"cat", cmd_cat, "print rows of a Parquet file or table as NDJSON or CSV"},
    {"schema", cmd_schema, "print the schema and metadata of a Parquet file"},
    {"dash", cmd_dash, "serve the live web dashboard"},
    {"metrics", cmd_metrics, "print the metric catalog (--markdown: the docs' table)"},
    {"run", cmd_run, "run the whole pipeline: broker + gen + stream + dash"},
    {NULL, NULL, NULL},
};

static void usage(FILE *f) {
    fprintf(f, "ecom %s — real-time e-commerce analytics\n\n", ECOM_VERSION);
    fprintf(f, "usage: ecom <command> [flags]   (ecom <command> --help for its flags)\n\ncommands:\n");
    for (const command *c = commands; c->name; c++) fprintf(f, "  %-8s %s\n", c->name, c->summary);
    fprintf(f, "  %-8s %s\n", "help", "show this help");
    fprintf(f, "  %-8s %s\n", "version", "print the version");
    fprintf(f, "\nEvery command also takes --config FILE (key = value lines; see README.md, Configuration).\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *name = argv[1];
    if (!strcmp(name, "help") || !strcmp(name, "--help") || !strcmp(name, "-h")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(name, "version") || !strcmp(name, "--version")) {
        printf("ecom %s\nlibrdkafka %s\n", ECOM_VERSION, kafka_library_version());
        return 0;
    }
    for (const command *c = commands; c->name; c++)
        if (!strcmp(c->name, name)) return c->fn(argc - 1, argv + 1);
    fprintf(stderr, "ecom: unknown command '%s' (try 'ecom help')\n", name);
    return 2;
}
