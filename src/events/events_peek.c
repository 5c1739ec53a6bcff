/*
 * events_peek.c — a look at a raw record's event_id before it is parsed (events.h). Hand-written
 * for one measured hot path: the stream prefetches the dedup slot of the next record with it
 * (stream_engine_prefetch_id), so it must cost a few bytes of comparison, not a parse.
 */
#include "events/events.h"

#include <string.h>

static size_t skip_blanks(const char *p, size_t i, size_t n) {
    while (i < n && (p[i] == ' ' || p[i] == '\t')) i++;
    return i;
}

/* The string value starting at line[start] (after its opening quote): up to max bytes, no
 * escape. */
static bool peek_value(const char *line, size_t start, size_t len, size_t max, strview *id) {
    size_t room = len - start;
    const char *q = memchr(line + start, '"', room > max ? max : room);
    if (!q || memchr(line + start, '\\', (size_t)(q - line) - start)) return false;
    *id = (strview){line + start, (size_t)(q - line) - start};
    return true;
}

bool event_peek_id(const char *line, size_t len, strview *id) {
    static const char key[] = "\"event_id\"", compact[] = "{\"event_id\":\"";
    const size_t klen = sizeof key - 1, max = 128; /* an id longer than this is not peeked */
    if (len > sizeof compact - 1 && !memcmp(line, compact, sizeof compact - 1)) /* gen's form */
        return peek_value(line, sizeof compact - 1, len, max, id);
    size_t i = skip_blanks(line, 0, len);
    if (i >= len || line[i] != '{') return false;
    i = skip_blanks(line, i + 1, len);
    if (len - i < klen || memcmp(line + i, key, klen)) return false;
    i = skip_blanks(line, i + klen, len);
    if (i >= len || line[i] != ':') return false;
    i = skip_blanks(line, i + 1, len);
    if (i >= len || line[i] != '"') return false;
    return peek_value(line, i + 1, len, max, id);
}
