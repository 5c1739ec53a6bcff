/*
 * storage_internal.h — what a storage backend needs beyond storage.h (not for other modules).
 * A backend fills a storage_ops table; its create() returns its own file handle cast to
 * storage_file* (as the WebHDFS backend does), which storage.c wraps: storage.c does path
 * checks, first-error latching and dispatch.
 */
#ifndef ECOM_STORAGE_INTERNAL_H
#define ECOM_STORAGE_INTERNAL_H

#include "storage/storage.h"

/* The private temporary of a put_new (storage_put_if_absent): the final name's directory part,
 * its base name, the writer's pid and 64 random bits: ".<name>.<pid>-<16 hex>.tmp" beside it.
 * Both backends make it; storage_sweep_put_temporaries() recognises it. */
#define STORAGE_PUT_TMP_FORMAT "%.*s.%s.%ld-%016llx.tmp"

/* The local-disk backend: root is an absolute or relative directory (created if missing). */
extern const storage_ops storage_local_ops;
void *storage_local_open(const char *root, char *err, size_t errlen);

#endif
