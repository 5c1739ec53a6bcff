/*
 * storage_internal.h — what a storage backend needs beyond storage.h (not for other modules).
 * A backend fills a storage_ops table and allocates its storage_file objects with
 * storage_file_new(); storage.c does path checks, error latching and dispatch.
 */
#ifndef ECOM_STORAGE_INTERNAL_H
#define ECOM_STORAGE_INTERNAL_H

#include "storage/storage.h"

struct storage_file {
    const storage_ops *ops;
    void *ctx;            /* the backend's context (from its open function) */
    void *impl;           /* backend per-file state */
    char *path;           /* relative path, owned */
    bool failed;          /* first error latched: later writes fail, close reports it */
    char err[256];
};

/* Allocates a storage_file for path (copied). NULL on out of memory. */
storage_file *storage_file_new(const storage_ops *ops, void *ctx, const char *path);
/* Frees the common part (path + struct); the backend frees impl first. */
void storage_file_free(storage_file *f);

/* The local-disk backend: root is an absolute or relative directory (created if missing). */
extern const storage_ops storage_local_ops;
void *storage_local_open(const char *root, char *err, size_t errlen);

#endif
