/* CIFAR-10 and CIFAR-100 binary versions: records of label byte(s) + 3072 pixel bytes
 * (1024 red, 1024 green, 1024 blue, each row-major 32x32). */
#include <string.h>

#include "data/readers.h"

#define CIFAR_PIX 3072

jp_status jp_cifar_parse(jp_raw_set *r, const unsigned char *buf, size_t len, const char *name,
                         int label_bytes, int label_index, int n_classes, jp_error *err)
{
    memset(r, 0, sizeof *r);
    JP_CHECK(label_bytes >= 1 && label_index >= 0 && label_index < label_bytes);
    size_t rec = (size_t)label_bytes + CIFAR_PIX;
    if (len == 0)
        return jp_fail(err, JP_ERR_FORMAT, "%s: empty file, expected records of %zu bytes "
                       "(%d label byte%s + 3072 pixels)", name, rec, label_bytes,
                       label_bytes > 1 ? "s" : "");
    if (len % rec != 0)
        return jp_fail(err, JP_ERR_FORMAT, "%s: size %zu is not a multiple of the %zu-byte "
                       "record (%d label byte%s + 3072 pixels): %zu whole records and %zu "
                       "bytes left over (truncated file, or the %s version?)", name, len, rec,
                       label_bytes, label_bytes > 1 ? "s" : "", len / rec, len % rec,
                       label_bytes == 1 ? "CIFAR-100" : "CIFAR-10");
    size_t n = len / rec;
    if (n > (size_t)INT32_MAX) return jp_fail(err, JP_ERR_FORMAT, "%s: too many records", name);
    for (size_t i = 0; i < n; i++) {
        int y = buf[i * rec + (size_t)label_index];
        if (y >= n_classes)
            return jp_fail(err, JP_ERR_FORMAT, "%s: record %zu (byte offset %zu): %s label %d "
                           "is out of range: expected 0..%d", name, i, i * rec + label_index,
                           label_bytes == 1 ? "the" : (label_index ? "fine" : "coarse"), y,
                           n_classes - 1);
    }
    jp_status s = jp_raw_alloc(r, (int)n, 3, 32, 32, n_classes, err);
    if (s != JP_OK) return s;
    for (size_t i = 0; i < n; i++) {
        r->y[i] = buf[i * rec + (size_t)label_index];
        memcpy(r->pix + i * CIFAR_PIX, buf + i * rec + label_bytes, CIFAR_PIX);
    }
    return JP_OK;
}
