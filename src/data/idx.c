/* IDX files (MNIST, Fashion-MNIST): magic 00 00 <type> <ndim>, ndim big-endian
 * 32-bit sizes, then the data. Only unsigned bytes (type 0x08) are data sets. */
#include <string.h>

#include "data/readers.h"

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static const char *idx_type_name(int t)
{
    switch (t) {
    case 0x08: return "unsigned byte";
    case 0x09: return "signed byte";
    case 0x0B: return "int16";
    case 0x0C: return "int32";
    case 0x0D: return "float32";
    case 0x0E: return "float64";
    }
    return "unknown";
}

jp_status jp_idx_parse(jp_idx *out, const unsigned char *buf, size_t len, const char *name,
                       int want_ndim, jp_error *err)
{
    memset(out, 0, sizeof *out);
    if (len < 4)
        return jp_fail(err, JP_ERR_FORMAT, "%s: truncated IDX file: %zu bytes, expected at "
                       "least a 4-byte magic number", name, len);
    if (buf[0] != 0 || buf[1] != 0)
        return jp_fail(err, JP_ERR_FORMAT, "%s: not an IDX file: magic number %02x %02x %02x "
                       "%02x, expected 00 00 08 %02x", name, buf[0], buf[1], buf[2], buf[3],
                       want_ndim);
    if (buf[2] != 0x08)
        return jp_fail(err, JP_ERR_FORMAT, "%s: IDX element type 0x%02x (%s), expected 0x08 "
                       "(unsigned byte)", name, buf[2], idx_type_name(buf[2]));
    if (buf[3] != want_ndim)
        return jp_fail(err, JP_ERR_FORMAT, "%s: IDX file has %d dimensions (magic 0x%08x), "
                       "expected %d (%s)", name, buf[3], be32(buf), want_ndim,
                       want_ndim == 3 ? "images: count, rows, columns" : "labels: count");
    size_t head = 4 + 4 * (size_t)want_ndim;
    if (len < head)
        return jp_fail(err, JP_ERR_FORMAT, "%s: truncated IDX header: %zu bytes, expected %zu",
                       name, len, head);
    uint64_t count = 1;
    out->ndim = want_ndim;
    for (int k = 0; k < want_ndim; k++) {
        out->dims[k] = be32(buf + 4 + 4 * k);
        if (out->dims[k] == 0)
            return jp_fail(err, JP_ERR_FORMAT, "%s: IDX dimension %d is 0", name, k);
        count *= out->dims[k];
        if (count > ((uint64_t)1 << 40))
            return jp_fail(err, JP_ERR_FORMAT, "%s: IDX dimensions are absurdly large", name);
    }
    if (out->dims[0] > (uint32_t)INT32_MAX)
        return jp_fail(err, JP_ERR_FORMAT, "%s: %u items is too many", name, out->dims[0]);
    if (want_ndim == 3 && (out->dims[1] > 4096 || out->dims[2] > 4096))
        return jp_fail(err, JP_ERR_FORMAT, "%s: images of %u x %u pixels: larger than 4096",
                       name, out->dims[1], out->dims[2]);
    if ((uint64_t)(len - head) != count) {
        if ((uint64_t)(len - head) < count)
            return jp_fail(err, JP_ERR_FORMAT, "%s: truncated: the header promises %llu data "
                           "bytes, found %zu (file size %zu, expected %llu)", name,
                           (unsigned long long)count, len - head, len,
                           (unsigned long long)(count + head));
        return jp_fail(err, JP_ERR_FORMAT, "%s: %zu bytes after the %llu data bytes the header "
                       "promises (file size %zu, expected %llu)", name,
                       (size_t)((uint64_t)(len - head) - count), (unsigned long long)count, len,
                       (unsigned long long)(count + head));
    }
    out->data = buf + head;
    out->count = (size_t)count;
    return JP_OK;
}

jp_status jp_idx_to_raw(jp_raw_set *r, const jp_idx *img, const char *img_name,
                        const jp_idx *lab, const char *lab_name, int n_classes, jp_error *err)
{
    memset(r, 0, sizeof *r);
    if (img->ndim != 3 || lab->ndim != 1)
        return jp_fail(err, JP_ERR_FORMAT, "%s / %s: expected a 3-D image file and a 1-D label "
                       "file", img_name, lab_name);
    if (img->dims[0] != lab->dims[0])
        return jp_fail(err, JP_ERR_FORMAT, "%s holds %u images but %s holds %u labels: the "
                       "counts must agree", img_name, img->dims[0], lab_name, lab->dims[0]);
    for (uint32_t i = 0; i < lab->dims[0]; i++)
        if (lab->data[i] >= n_classes)
            return jp_fail(err, JP_ERR_FORMAT, "%s: label %d of item %u (byte offset %u) is out "
                           "of range: expected 0..%d", lab_name, lab->data[i], i, 8 + i,
                           n_classes - 1);
    jp_status s = jp_raw_alloc(r, (int)img->dims[0], 1, (int)img->dims[1], (int)img->dims[2],
                               n_classes, err);
    if (s != JP_OK) return s;
    memcpy(r->pix, img->data, img->count);
    for (int i = 0; i < r->n; i++) r->y[i] = lab->data[i];
    return JP_OK;
}

jp_status jp_idx_read_pair(jp_raw_set *r, const char *img_path, const char *lab_path,
                           int n_classes, jp_error *err)
{
    memset(r, 0, sizeof *r);
    jp_buf bi = {0}, bl = {0};
    jp_idx ii, il;
    jp_status s = jp_file_read_maybe_gz(&bi, img_path, err);
    if (s == JP_OK) s = jp_file_read_maybe_gz(&bl, lab_path, err);
    if (s == JP_OK) s = jp_idx_parse(&ii, bi.data, bi.len, img_path, 3, err);
    if (s == JP_OK) s = jp_idx_parse(&il, bl.data, bl.len, lab_path, 1, err);
    if (s == JP_OK) s = jp_idx_to_raw(r, &ii, img_path, &il, lab_path, n_classes, err);
    jp_buf_free(&bi);
    jp_buf_free(&bl);
    return s;
}
