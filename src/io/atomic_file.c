/* Atomic file replacement; see atomic_file.h for the guarantees. */
#include "io/atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void release(jp_atomic_file *a)
{
    free(a->path);
    free(a->tmp_path);
    a->path = a->tmp_path = NULL;
    a->fd = -1;
}

jp_status jp_atomic_open(jp_atomic_file *a, const char *path, jp_error *err)
{
    a->fd = -1;
    a->path = a->tmp_path = NULL;
    size_t n = strlen(path);
    a->path = malloc(n + 1);
    a->tmp_path = malloc(n + 32);
    if (!a->path || !a->tmp_path) {
        release(a);
        return jp_fail(err, JP_ERR_NOMEM, "out of memory saving %s", path);
    }
    memcpy(a->path, path, n + 1);
    snprintf(a->tmp_path, n + 32, "%s.tmp.%ld", path, (long)getpid());
    a->fd = open(a->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (a->fd < 0) {
        int e = errno;
        jp_status st = jp_fail(err, JP_ERR_IO, "cannot save %s: cannot create %s: %s", path,
                               a->tmp_path, strerror(e));
        release(a);
        return st;
    }
    return JP_OK;
}

jp_status jp_atomic_write(jp_atomic_file *a, const void *p, size_t n, jp_error *err)
{
    const char *c = p;
    while (n > 0) {
        size_t chunk = n < ((size_t)1 << 30) ? n : ((size_t)1 << 30);
        ssize_t w = write(a->fd, c, chunk);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            int e = w < 0 ? errno : EIO;
            return jp_fail(err, JP_ERR_IO, "cannot save %s: writing %s failed: %s", a->path,
                           a->tmp_path, strerror(e));
        }
        c += w;
        n -= (size_t)w;
    }
    return JP_OK;
}

void jp_atomic_abort(jp_atomic_file *a)
{
    if (a->fd >= 0) close(a->fd);
    if (a->tmp_path) unlink(a->tmp_path);
    release(a);
}

/* fsync of the folder holding path, so the rename itself survives a crash. */
static int sync_folder(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir;
    if (!slash) dir = strdup(".");
    else if (slash == path) dir = strdup("/");
    else dir = strndup(path, (size_t)(slash - path));
    if (!dir) return ENOMEM;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(dir);
    if (fd < 0) return errno;
    int rc = fsync(fd) == 0 ? 0 : errno;
    close(fd);
    return rc == EINVAL ? 0 : rc; /* some file systems cannot sync folders */
}

jp_status jp_atomic_commit(jp_atomic_file *a, jp_error *err)
{
    jp_status st = JP_OK;
    if (fsync(a->fd) != 0) {
        st = jp_fail(err, JP_ERR_IO, "cannot save %s: fsync of %s failed: %s", a->path,
                     a->tmp_path, strerror(errno));
        jp_atomic_abort(a);
        return st;
    }
    int rc = close(a->fd);
    a->fd = -1;
    if (rc != 0) {
        st = jp_fail(err, JP_ERR_IO, "cannot save %s: closing %s failed: %s", a->path,
                     a->tmp_path, strerror(errno));
        jp_atomic_abort(a);
        return st;
    }
    if (rename(a->tmp_path, a->path) != 0) {
        st = jp_fail(err, JP_ERR_IO, "cannot save %s: renaming %s over it failed: %s", a->path,
                     a->tmp_path, strerror(errno));
        jp_atomic_abort(a);
        return st;
    }
    int e = sync_folder(a->path);
    if (e) {
        st = jp_fail(err, JP_ERR_IO,
                     "saved %s, but could not fsync its folder (the save may not survive a "
                     "crash): %s", a->path, strerror(e));
    }
    release(a);
    return st;
}

jp_status jp_write_file_atomic(const char *path, const void *p, size_t n, jp_error *err)
{
    jp_atomic_file a;
    jp_status st = jp_atomic_open(&a, path, err);
    if (st != JP_OK) return st;
    if ((st = jp_atomic_write(&a, p, n, err)) != JP_OK) {
        jp_atomic_abort(&a);
        return st;
    }
    return jp_atomic_commit(&a, err);
}
