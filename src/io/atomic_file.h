/* Atomic file replacement: write "<path>.tmp.<pid>" in the same folder, fflush+fsync,
 * rename it over path, fsync the folder. Readers see either the old file or the complete
 * new one, never a half-written file; after a crash at most a stale temporary is left.
 * On any failure the temporary is removed and the existing file at path is untouched. */
#ifndef JEMPP_IO_ATOMIC_FILE_H
#define JEMPP_IO_ATOMIC_FILE_H

#include <stddef.h>

#include "jempp/core.h"

typedef struct {
    int fd;         /* -1 when not open */
    char *path;     /* the destination */
    char *tmp_path; /* the temporary being written */
} jp_atomic_file;

/* Creates the temporary. JP_ERR_IO naming the temporary and strerror on failure
 * (e.g. the folder does not exist); nothing is left behind then. */
jp_status jp_atomic_open(jp_atomic_file *a, const char *path, jp_error *err);
/* Appends n bytes. On failure the caller must call jp_atomic_abort. */
jp_status jp_atomic_write(jp_atomic_file *a, const void *p, size_t n, jp_error *err);
/* fsync, close, rename over the destination, fsync the folder. On failure before the
 * rename, the temporary is removed and the destination untouched. Always releases a. */
jp_status jp_atomic_commit(jp_atomic_file *a, jp_error *err);
/* Closes and removes the temporary; a no-op after commit. */
void jp_atomic_abort(jp_atomic_file *a);

/* Convenience: replaces path atomically with the n bytes at p. */
jp_status jp_write_file_atomic(const char *path, const void *p, size_t n, jp_error *err);

#endif
