/* MATLAB level-5 MAT-files: a 128-byte header (text, subsystem offset, version 0x0100,
 * endian indicator "IM"/"MI"), then data elements. Top-level elements are miMATRIX
 * (type 14) or miCOMPRESSED (type 15: a zlib stream holding one miMATRIX element).
 * A miMATRIX holds sub-elements: array flags (miUINT32 x2), dimensions (miINT32),
 * name (miINT8), real part, optional imaginary part. Sub-elements are 8-byte aligned
 * and may use the small format (size in the tag's upper 16 bits, data in its second
 * word). Every size is checked against the bytes that are really there. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/readers.h"

#define MAT_HEADER 128
#define MAT_MAX_INFLATE ((size_t)8 << 30)

typedef struct {
    jp_mat_file *m;
    const char *name; /* file name for messages */
    int swap;
    /* Where offsets are counted: the file, or an inflated element (then comp_at is the
     * file offset of its miCOMPRESSED tag). */
    int in_compressed;
    size_t comp_at;
} mat_ctx;

static uint32_t rd32(const unsigned char *p, int swap)
{
    uint32_t v;
    memcpy(&v, p, 4);
    if (swap) v = __builtin_bswap32(v);
    return v;
}

static uint16_t rd16(const unsigned char *p, int swap)
{
    uint16_t v;
    memcpy(&v, p, 2);
    if (swap) v = __builtin_bswap16(v);
    return v;
}

static int mi_size(int t)
{
    switch (t) {
    case JP_MI_INT8: case JP_MI_UINT8: return 1;
    case JP_MI_INT16: case JP_MI_UINT16: return 2;
    case JP_MI_INT32: case JP_MI_UINT32: case JP_MI_SINGLE: return 4;
    case JP_MI_DOUBLE: case JP_MI_INT64: case JP_MI_UINT64: return 8;
    }
    return 0; /* not a numeric element type */
}

static const char *mi_name(int t)
{
    static const char *names[] = {"?", "miINT8", "miUINT8", "miINT16", "miUINT16", "miINT32",
                                  "miUINT32", "miSINGLE", "?", "miDOUBLE", "?", "?", "miINT64",
                                  "miUINT64", "miMATRIX", "miCOMPRESSED", "miUTF8", "miUTF16",
                                  "miUTF32"};
    return t >= 0 && t <= 18 ? names[t] : "unknown";
}

const char *jp_mat_class_name(int c)
{
    static const char *names[] = {"unknown", "cell", "struct", "object", "char", "sparse",
                                  "double", "single", "int8", "uint8", "int16", "uint16",
                                  "int32", "uint32", "int64", "uint64"};
    return c >= 0 && c <= 15 ? names[c] : "unknown";
}

static const char *where(const mat_ctx *c, size_t off, char *buf, size_t len)
{
    if (c->in_compressed)
        snprintf(buf, len, "offset %zu of the compressed element at file offset %zu", off,
                 c->comp_at);
    else
        snprintf(buf, len, "file offset %zu", off);
    return buf;
}

/* One sub-element of a miMATRIX at `off` within [0, n). */
typedef struct {
    int type;
    uint32_t nbytes;
    const unsigned char *data;
    size_t next; /* offset of the following sub-element */
} mat_sub;

static jp_status read_sub(const mat_ctx *c, const unsigned char *p, size_t n, size_t off,
                          size_t base, const char *what, mat_sub *s, jp_error *err)
{
    char w[160];
    if (off + 8 > n)
        return jp_fail(err, JP_ERR_FORMAT, "%s: truncated %s tag at %s: %zu bytes left in the "
                       "matrix element, expected 8", c->name, what, where(c, base + off, w, sizeof w),
                       n - off);
    uint32_t w0 = rd32(p + off, c->swap);
    if (w0 >> 16) { /* small data element */
        s->type = (int)(w0 & 0xffff);
        s->nbytes = w0 >> 16;
        if (s->nbytes > 4)
            return jp_fail(err, JP_ERR_FORMAT, "%s: small %s element at %s claims %u bytes, at "
                           "most 4 fit", c->name, what, where(c, base + off, w, sizeof w), s->nbytes);
        s->data = p + off + 4;
        s->next = off + 8;
        return JP_OK;
    }
    s->type = (int)w0;
    s->nbytes = rd32(p + off + 4, c->swap);
    if ((uint64_t)s->nbytes > (uint64_t)(n - off - 8))
        return jp_fail(err, JP_ERR_FORMAT, "%s: %s element at %s declares %u bytes, only %zu "
                       "remain in the matrix element", c->name, what,
                       where(c, base + off, w, sizeof w), s->nbytes, n - off - 8);
    s->data = p + off + 8;
    size_t end = off + 8 + (size_t)s->nbytes;
    size_t padded = (end + 7) & ~(size_t)7;
    s->next = padded < n ? padded : n;
    return JP_OK;
}

int jp_mat_add_var(jp_mat_file *m, const jp_mat_var *v)
{
    if (m->count == m->cap) {
        int ncap = m->cap ? m->cap * 2 : 8;
        jp_mat_var *nv = realloc(m->vars, (size_t)ncap * sizeof *nv);
        if (!nv) return 0;
        m->vars = nv;
        m->cap = ncap;
    }
    m->vars[m->count++] = *v;
    return 1;
}

int jp_mat_own(jp_mat_file *m, unsigned char *p)
{
    if (m->n_owned == m->cap_owned) {
        int ncap = m->cap_owned ? m->cap_owned * 2 : 4;
        unsigned char **no = realloc(m->owned, (size_t)ncap * sizeof *no);
        if (!no) return 0;
        m->owned = no;
        m->cap_owned = ncap;
    }
    m->owned[m->n_owned++] = p;
    return 1;
}

static jp_status add_var(mat_ctx *c, const jp_mat_var *v, jp_error *err)
{
    return jp_mat_add_var(c->m, v) ? JP_OK : jp_fail(err, JP_ERR_NOMEM, "%s: out of memory", c->name);
}

static jp_status parse_matrix(mat_ctx *c, const unsigned char *p, size_t n, size_t base,
                              jp_error *err)
{
    char w[160];
    jp_mat_var v;
    memset(&v, 0, sizeof v);
    mat_sub s;
    jp_status st = read_sub(c, p, n, 0, base, "array flags", &s, err);
    if (st != JP_OK) return st;
    if (s.type != JP_MI_UINT32 || s.nbytes != 8)
        return jp_fail(err, JP_ERR_FORMAT, "%s: array flags at %s are %s of %u bytes, expected "
                       "miUINT32 of 8 bytes", c->name, where(c, base, w, sizeof w), mi_name(s.type),
                       s.nbytes);
    uint32_t flags = rd32(s.data, c->swap);
    v.mx_class = (int)(flags & 0xff);
    v.is_complex = (flags & 0x800) != 0;
    v.is_logical = (flags & 0x200) != 0;
    if (v.mx_class < JP_MX_CELL || v.mx_class > JP_MX_UINT64)
        return jp_fail(err, JP_ERR_FORMAT, "%s: array class %d at %s is not a MATLAB class "
                       "(expected 1..15)", c->name, v.mx_class, where(c, base, w, sizeof w));
    size_t off = s.next;
    st = read_sub(c, p, n, off, base, "dimensions", &s, err);
    if (st != JP_OK) return st;
    if (s.type != JP_MI_INT32 || s.nbytes % 4 != 0 || s.nbytes < 8 ||
        s.nbytes > 4 * JP_MAT_MAX_DIMS)
        return jp_fail(err, JP_ERR_FORMAT, "%s: dimensions at %s are %s of %u bytes, expected "
                       "miINT32 with 2..%d values", c->name, where(c, base + off, w, sizeof w),
                       mi_name(s.type), s.nbytes, JP_MAT_MAX_DIMS);
    v.ndim = (int)(s.nbytes / 4);
    uint64_t numel = 1;
    for (int k = 0; k < v.ndim; k++) {
        int32_t d = (int32_t)rd32(s.data + 4 * k, c->swap);
        if (d < 0)
            return jp_fail(err, JP_ERR_FORMAT, "%s: dimension %d is %d at %s", c->name, k, d,
                           where(c, base + off, w, sizeof w));
        v.dims[k] = d;
        if (d != 0 && numel > ((uint64_t)1 << 48) / (uint64_t)d)
            return jp_fail(err, JP_ERR_FORMAT, "%s: dimensions at %s are absurdly large",
                           c->name, where(c, base + off, w, sizeof w));
        numel *= (uint64_t)d;
    }
    v.numel = (int64_t)numel;
    off = s.next;
    st = read_sub(c, p, n, off, base, "array name", &s, err);
    if (st != JP_OK) return st;
    if (s.type != JP_MI_INT8 && s.type != JP_MI_UTF8)
        return jp_fail(err, JP_ERR_FORMAT, "%s: array name at %s is %s, expected miINT8",
                       c->name, where(c, base + off, w, sizeof w), mi_name(s.type));
    if (s.nbytes >= sizeof v.name)
        return jp_fail(err, JP_ERR_FORMAT, "%s: array name at %s is %u bytes long, at most %zu "
                       "supported", c->name, where(c, base + off, w, sizeof w), s.nbytes,
                       sizeof v.name - 1);
    memcpy(v.name, s.data, s.nbytes);
    v.name[s.nbytes] = 0;
    for (uint32_t k = 0; k < s.nbytes; k++)
        if (v.name[k] == 0 || (unsigned char)v.name[k] < 32 || (unsigned char)v.name[k] > 126)
            return jp_fail(err, JP_ERR_FORMAT, "%s: array name at %s holds a non-printable byte",
                           c->name, where(c, base + off, w, sizeof w));
    off = s.next;
    if (v.mx_class >= JP_MX_DOUBLE) { /* numeric: the real part follows */
        st = read_sub(c, p, n, off, base, "real part", &s, err);
        if (st != JP_OK) return st;
        int sz = mi_size(s.type);
        if (sz == 0)
            return jp_fail(err, JP_ERR_FORMAT, "%s: variable '%s': real part at %s is %s, "
                           "expected a numeric type", c->name, v.name,
                           where(c, base + off, w, sizeof w), mi_name(s.type));
        if ((uint64_t)s.nbytes != numel * (uint64_t)sz)
            return jp_fail(err, JP_ERR_FORMAT, "%s: variable '%s': real part at %s holds %u "
                           "bytes of %s, expected %llu (%llu elements)", c->name, v.name,
                           where(c, base + off, w, sizeof w), s.nbytes, mi_name(s.type),
                           (unsigned long long)(numel * (uint64_t)sz),
                           (unsigned long long)numel);
        v.data_type = s.type;
        v.data = s.data;
        v.nbytes = s.nbytes;
        off = s.next;
        if (v.is_complex) {
            st = read_sub(c, p, n, off, base, "imaginary part", &s, err);
            if (st != JP_OK) return st;
            if (mi_size(s.type) == 0 || (uint64_t)s.nbytes != numel * (uint64_t)mi_size(s.type))
                return jp_fail(err, JP_ERR_FORMAT, "%s: variable '%s': imaginary part at %s is "
                               "%u bytes of %s, expected %llu elements", c->name, v.name,
                               where(c, base + off, w, sizeof w), s.nbytes, mi_name(s.type),
                               (unsigned long long)numel);
        }
    }
    return add_var(c, &v, err);
}

static jp_status parse_elements(mat_ctx *c, const unsigned char *p, size_t n, size_t start,
                                jp_error *err)
{
    char w[160];
    size_t off = start;
    while (off < n) {
        if (n - off < 8)
            return jp_fail(err, JP_ERR_FORMAT, "%s: truncated data element tag at %s: %zu bytes "
                           "left, expected 8", c->name, where(c, off, w, sizeof w), n - off);
        uint32_t type = rd32(p + off, c->swap);
        uint32_t nbytes = rd32(p + off + 4, c->swap);
        if (type >> 16)
            return jp_fail(err, JP_ERR_FORMAT, "%s: top-level element at %s uses the small "
                           "format (tag 0x%08x); expected miMATRIX or miCOMPRESSED", c->name,
                           where(c, off, w, sizeof w), type);
        if ((uint64_t)nbytes > (uint64_t)(n - off - 8))
            return jp_fail(err, JP_ERR_FORMAT, "%s: truncated: the %s element at %s declares %u "
                           "bytes, only %zu remain", c->name, mi_name((int)type),
                           where(c, off, w, sizeof w), nbytes, n - off - 8);
        const unsigned char *data = p + off + 8;
        jp_status st;
        if (type == JP_MI_MATRIX) {
            st = parse_matrix(c, data, nbytes, off + 8, err);
        } else if (type == JP_MI_COMPRESSED) {
            if (c->in_compressed)
                return jp_fail(err, JP_ERR_FORMAT, "%s: a miCOMPRESSED element inside another "
                               "at %s", c->name, where(c, off, w, sizeof w));
            jp_buf out;
            char label[600];
            snprintf(label, sizeof label, "%s (compressed element at file offset %zu)", c->name,
                     off);
            st = jp_inflate(&out, data, nbytes, 0, MAT_MAX_INFLATE, label, err);
            if (st != JP_OK) return st;
            if (!jp_mat_own(c->m, out.data)) {
                jp_buf_free(&out);
                return jp_fail(err, JP_ERR_NOMEM, "%s: out of memory", c->name);
            }
            mat_ctx inner = *c;
            inner.in_compressed = 1;
            inner.comp_at = off;
            st = parse_elements(&inner, out.data, out.len, 0, err);
        } else {
            return jp_fail(err, JP_ERR_FORMAT, "%s: element of type %u (%s) at %s; expected "
                           "miMATRIX (14) or miCOMPRESSED (15)", c->name, type,
                           mi_name((int)type), where(c, off, w, sizeof w));
        }
        if (st != JP_OK) return st;
        off += 8 + (size_t)nbytes;
    }
    return JP_OK;
}

jp_status jp_mat_parse(jp_mat_file *m, const unsigned char *buf, size_t len, const char *name,
                       jp_error *err)
{
    memset(m, 0, sizeof *m);
    if (jp_mat_is_v73(buf, len))
        return jp_fail(err, JP_ERR_FORMAT, "%s: a MATLAB v7.3 (HDF5) file, not supported by the level-5 "
                       "parser: read it from its file (jp_mat73_read, libmatio)", name);
    if (len < MAT_HEADER)
        return jp_fail(err, JP_ERR_FORMAT, "%s: truncated: %zu bytes, a MAT-file header alone "
                       "is 128", name, len);
    int swap;
    if (buf[126] == 'I' && buf[127] == 'M') swap = 0;
    else if (buf[126] == 'M' && buf[127] == 'I') swap = 1;
    else {
        int v4 = buf[0] == 0 || buf[1] == 0 || buf[2] == 0 || buf[3] == 0;
        return jp_fail(err, JP_ERR_FORMAT, "%s: not a MATLAB level-5 MAT-file: endian indicator "
                       "at offset 126 is %02x %02x, expected 'IM' or 'MI'%s", name, buf[126],
                       buf[127], v4 ? " (a level-4 file? re-save it with -v7)" : "");
    }
    uint16_t version = rd16(buf + 124, swap);
    if (version != 0x0100)
        return jp_fail(err, JP_ERR_FORMAT, "%s: MAT-file version 0x%04x at offset 124, expected "
                       "0x0100", name, version);
    m->swap = swap;
    mat_ctx c = {m, name, swap, 0, 0};
    jp_status st = parse_elements(&c, buf, len, MAT_HEADER, err);
    if (st != JP_OK) jp_mat_free(m);
    return st;
}

const jp_mat_var *jp_mat_find(const jp_mat_file *m, const char *var)
{
    for (int i = 0; i < m->count; i++)
        if (strcmp(m->vars[i].name, var) == 0) return &m->vars[i];
    return NULL;
}

double jp_mat_value(const jp_mat_file *m, const jp_mat_var *v, int64_t i)
{
    JP_CHECK(v->data && i >= 0 && i < v->numel);
    const unsigned char *p = v->data + (size_t)i * (size_t)mi_size(v->data_type);
    int sw = m->swap;
    switch (v->data_type) {
    case JP_MI_INT8: return (double)(int8_t)p[0];
    case JP_MI_UINT8: return (double)p[0];
    case JP_MI_INT16: return (double)(int16_t)rd16(p, sw);
    case JP_MI_UINT16: return (double)rd16(p, sw);
    case JP_MI_INT32: return (double)(int32_t)rd32(p, sw);
    case JP_MI_UINT32: return (double)rd32(p, sw);
    case JP_MI_SINGLE: {
        uint32_t u = rd32(p, sw);
        float f;
        memcpy(&f, &u, 4);
        return (double)f;
    }
    case JP_MI_DOUBLE: case JP_MI_INT64: case JP_MI_UINT64: {
        uint64_t u;
        memcpy(&u, p, 8);
        if (sw) u = __builtin_bswap64(u);
        if (v->data_type == JP_MI_INT64) return (double)(int64_t)u;
        if (v->data_type == JP_MI_UINT64) return (double)u;
        double d;
        memcpy(&d, &u, 8);
        return d;
    }
    }
    JP_CHECK(0);
}

void jp_mat_free(jp_mat_file *m)
{
    if (!m) return;
    for (int i = 0; i < m->n_owned; i++) free(m->owned[i]);
    free(m->owned);
    free(m->vars);
    memset(m, 0, sizeof *m);
}
