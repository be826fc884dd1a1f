/* Whole-file reads and in-memory inflation (gzip and zlib) for the format readers. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "data/readers.h"

int jp_file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int jp_dir_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

void jp_buf_free(jp_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
}

jp_status jp_file_read_all(jp_buf *b, const char *path, jp_error *err)
{
    b->data = NULL;
    b->len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return jp_fail(err, JP_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return jp_fail(err, JP_ERR_IO, "%s: not a regular file", path);
    }
    size_t len = (size_t)st.st_size;
    unsigned char *p = malloc(len ? len : 1);
    if (!p) {
        fclose(f);
        return jp_fail(err, JP_ERR_NOMEM, "%s: cannot allocate %zu bytes to read it", path, len);
    }
    size_t got = fread(p, 1, len, f);
    int bad = ferror(f);
    fclose(f);
    if (got != len || bad) {
        free(p);
        return jp_fail(err, JP_ERR_IO, "%s: read %zu of %zu bytes", path, got, len);
    }
    b->data = p;
    b->len = len;
    return JP_OK;
}

jp_status jp_inflate(jp_buf *out, const unsigned char *in, size_t len, int gzip,
                     size_t max_out, const char *name, jp_error *err)
{
    out->data = NULL;
    out->len = 0;
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, gzip ? 16 + MAX_WBITS : MAX_WBITS) != Z_OK)
        return jp_fail(err, JP_ERR_NOMEM, "%s: zlib initialisation failed", name);
    size_t cap = len * 4 + 4096;
    if (cap > max_out) cap = max_out;
    if (cap == 0) cap = 1;
    unsigned char *buf = malloc(cap);
    if (!buf) {
        inflateEnd(&zs);
        return jp_fail(err, JP_ERR_NOMEM, "%s: cannot allocate %zu bytes", name, cap);
    }
    size_t used = 0, fed = 0;
    int rc = Z_OK;
    for (;;) {
        if (zs.avail_in == 0 && fed < len) {
            size_t chunk = len - fed > (1u << 30) ? (1u << 30) : len - fed;
            zs.next_in = (unsigned char *)in + fed;
            zs.avail_in = (uInt)chunk;
            fed += chunk;
        }
        if (used == cap) {
            if (cap >= max_out) {
                rc = Z_BUF_ERROR;
                break;
            }
            size_t ncap = cap * 2 > max_out ? max_out : cap * 2;
            unsigned char *nb = realloc(buf, ncap);
            if (!nb) {
                free(buf);
                inflateEnd(&zs);
                return jp_fail(err, JP_ERR_NOMEM, "%s: cannot allocate %zu bytes", name, ncap);
            }
            buf = nb;
            cap = ncap;
        }
        size_t room = cap - used > (1u << 30) ? (1u << 30) : cap - used;
        zs.next_out = buf + used;
        zs.avail_out = (uInt)room;
        rc = inflate(&zs, Z_NO_FLUSH);
        used += room - zs.avail_out;
        if (rc == Z_STREAM_END) break;
        if (rc == Z_BUF_ERROR && zs.avail_in == 0 && fed >= len) break; /* truncated */
        if (rc != Z_OK && rc != Z_BUF_ERROR) break;
    }
    size_t consumed = (size_t)zs.total_in;
    const char *zmsg = zs.msg;
    char zm[128];
    snprintf(zm, sizeof zm, "%s", zmsg ? zmsg : "");
    inflateEnd(&zs);
    if (rc != Z_STREAM_END) {
        free(buf);
        if (used >= max_out && rc == Z_BUF_ERROR)
            return jp_fail(err, JP_ERR_FORMAT,
                           "%s: compressed data inflates to more than %zu bytes", name, max_out);
        if (rc == Z_BUF_ERROR || rc == Z_OK)
            return jp_fail(err, JP_ERR_FORMAT,
                           "%s: compressed data is truncated (%zu compressed bytes gave %zu "
                           "bytes, stream not finished)", name, len, used);
        return jp_fail(err, JP_ERR_FORMAT, "%s: corrupt %s data at compressed byte %zu: %s",
                       name, gzip ? "gzip" : "zlib", consumed, zm[0] ? zm : "inflate error");
    }
    (void)consumed;
    out->data = buf;
    out->len = used;
    return JP_OK;
}

jp_status jp_file_read_maybe_gz(jp_buf *b, const char *path, jp_error *err)
{
    jp_status s = jp_file_read_all(b, path, err);
    if (s != JP_OK) return s;
    if (b->len >= 2 && b->data[0] == 0x1f && b->data[1] == 0x8b) {
        jp_buf raw;
        s = jp_inflate(&raw, b->data, b->len, 1, (size_t)16 << 30, path, err);
        jp_buf_free(b);
        if (s != JP_OK) return s;
        *b = raw;
    }
    return JP_OK;
}
