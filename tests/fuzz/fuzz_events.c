/* fuzz_events.c — libFuzzer target for the event parser (build: make fuzz; see docs/events.md).
 *
 * For every input: event_parse() must not crash, must give a reason on rejection, and an
 * accepted event must re-encode to a line that parses again to the same encoding (a fixed
 * point), which checks the encoder's escaping against the parser on hostile strings. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events/events.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static event_parser *p1, *p2;
    if (!p1) p1 = event_parser_new();
    if (!p2) p2 = event_parser_new();
    if (!p1 || !p2) return 0;
    /* a private copy so that reads past the end are caught by ASan */
    char *line = malloc(size ? size : 1);
    if (!line) return 0;
    memcpy(line, data, size);
    event e, e2;
    char reason[160];
    int r = event_parse(p1, line, size, &e, reason, sizeof reason);
    if (r != 0) {
        if (r != -1 || reason[0] == '\0') __builtin_trap();
    } else {
        buf_t a = {0}, b = {0};
        if (event_json_encode(&e, &a) != 0) __builtin_trap();
        if (event_parse(p2, a.data, a.len, &e2, reason, sizeof reason) != 0) {
            fprintf(stderr, "re-encoded line rejected: %s\n%s\n", reason, a.data);
            __builtin_trap();
        }
        if (event_json_encode(&e2, &b) != 0 || a.len != b.len || memcmp(a.data, b.data, a.len)) __builtin_trap();
        buf_free(&a);
        buf_free(&b);
    }
    free(line);
    return 0;
}
