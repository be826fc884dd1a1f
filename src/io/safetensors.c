/* safetensors reader and writer; see include/jempp/safetensors.h for the contract.
 * The reader keeps the whole file in one allocation (data section 64-byte aligned) and
 * checks everything a later access relies on, so a successful read can be trusted. */
#include "jempp/safetensors.h"
#include "io/safetensors_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/atomic_file.h"
#include "io/json.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors.c copies tensor bytes as they are: it needs a little-endian host"
#endif

#define ST_MAX_HEADER 100000000ull /* the limit of the reference implementation */
#define ST_DATA_ALIGN 64

static const struct {
    const char *name;
    size_t size;
} dtype_info[] = {
    [JP_F32] = {"F32", 4}, [JP_F64] = {"F64", 8}, [JP_I64] = {"I64", 8}, [JP_I32] = {"I32", 4},
    [JP_U8] = {"U8", 1},   [JP_U64] = {"U64", 8}, [JP_BOOL] = {"BOOL", 1},
};
#define N_DTYPES ((int)(sizeof dtype_info / sizeof dtype_info[0]))

size_t jp_dtype_size(jp_dtype t)
{
    JP_CHECK((int)t >= 0 && (int)t < N_DTYPES);
    return dtype_info[t].size;
}

const char *jp_dtype_name(jp_dtype t)
{
    JP_CHECK((int)t >= 0 && (int)t < N_DTYPES);
    return dtype_info[t].name;
}

static int dtype_parse(const char *s, size_t len, jp_dtype *out)
{
    for (int i = 0; i < N_DTYPES; i++) {
        if (strlen(dtype_info[i].name) == len && !memcmp(dtype_info[i].name, s, len)) {
            *out = (jp_dtype)i;
            return 1;
        }
    }
    return 0;
}

/* "[16,3,3,3]" into buf (always terminated). */
static const char *fmt_shape(char *buf, size_t n, int ndim, const int64_t *shape)
{
    size_t at = 0;
    buf[0] = 0;
    at += (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < ndim && at < n; i++)
        at += (size_t)snprintf(buf + at, n - at, i ? ",%" PRId64 : "%" PRId64, shape[i]);
    if (at < n) snprintf(buf + at, n - at, "]");
    return buf;
}

/* Number of bytes of a tensor; 0 (with *ok = 0) if it overflows. */
static uint64_t tensor_bytes(jp_dtype t, int ndim, const int64_t *shape, int *ok)
{
    uint64_t n = dtype_info[t].size;
    *ok = 1;
    for (int i = 0; i < ndim; i++) {
        uint64_t d = (uint64_t)shape[i];
        if (d != 0 && n > UINT64_MAX / d) {
            *ok = 0;
            return 0;
        }
        n *= d;
    }
    return n;
}

/* ==== reader ========================================================== */

void jp_st_close(jp_st_file *f)
{
    for (int i = 0; i < f->meta_count; i++) {
        free(f->meta_keys[i]);
        free(f->meta_vals[i]);
    }
    free(f->meta_keys);
    free(f->meta_vals);
    free(f->entries);
    free(f->storage);
    char path[sizeof f->path];
    memcpy(path, f->path, sizeof path);
    memset(f, 0, sizeof *f);
    memcpy(f->path, path, sizeof path); /* keeps the label for later messages */
}

/* Checks the 8-byte length prefix against the image size; *hlen receives it. */
static jp_status check_prefix(const unsigned char *b, size_t size, const char *label,
                              uint64_t *hlen, jp_error *err)
{
    if (size < 8) {
        return jp_fail(err, JP_ERR_FORMAT,
                       "safetensors file %s: the file is %zu bytes long, too short for the "
                       "8-byte header length (not a safetensors file, or truncated)",
                       label, size);
    }
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = (n << 8) | b[i];
    if (n > ST_MAX_HEADER) {
        return jp_fail(err, JP_ERR_FORMAT,
                       "safetensors file %s: header length %" PRIu64 " is over the limit of %llu "
                       "bytes (not a safetensors file?)", label, n, ST_MAX_HEADER);
    }
    if (n > size - 8) {
        return jp_fail(err, JP_ERR_FORMAT,
                       "safetensors file %s: header length %" PRIu64 " but only %zu bytes follow "
                       "the length field (truncated file?)", label, n, size - 8);
    }
    *hlen = n;
    return JP_OK;
}

/* One allocation for the whole image, placed so that the data section (which starts
 * at 8 + hlen) is 64-byte aligned. *image receives where the file's byte 0 goes. */
static jp_status alloc_image(jp_st_file *f, size_t size, uint64_t hlen, unsigned char **image,
                             jp_error *err)
{
    size_t pad = (ST_DATA_ALIGN - (size_t)((8 + hlen) % ST_DATA_ALIGN)) % ST_DATA_ALIGN;
    void *p = NULL;
    if (size > SIZE_MAX - pad || posix_memalign(&p, ST_DATA_ALIGN, pad + size) != 0) {
        return jp_fail(err, JP_ERR_NOMEM, "safetensors file %s: out of memory for %zu bytes",
                       f->path, size);
    }
    f->storage = p;
    *image = (unsigned char *)p + pad;
    return JP_OK;
}

/* Parses one tensor entry `v` named v->key into e. */
static jp_status parse_entry(const jp_st_file *f, const jp_json *v, jp_st_entry *e,
                             size_t data_size, jp_error *err)
{
    const char *label = f->path, *name = v->key;
    if (v->key_len >= JP_ST_MAX_NAME) {
        return jp_fail(err, JP_ERR_FORMAT,
                       "safetensors file %s: tensor name '%.60s...' is %zu bytes long, at most %d "
                       "are supported", label, name, v->key_len, JP_ST_MAX_NAME - 1);
    }
    if (strlen(name) != v->key_len) {
        return jp_fail(err, JP_ERR_FORMAT,
                       "safetensors file %s: tensor name '%s' contains a NUL character", label,
                       name);
    }
    if (v->type != JP_JSON_OBJECT) {
        return jp_fail(err, JP_ERR_FORMAT,
                       "safetensors file %s: tensor '%s' is described by %s, expected an object "
                       "with dtype, shape and data_offsets", label, name,
                       jp_json_type_name(v->type));
    }
    memcpy(e->name, name, v->key_len + 1);
    const jp_json *dt = NULL, *shape = NULL, *offs = NULL;
    for (const jp_json *c = v->child; c; c = c->next) {
        if (!strcmp(c->key, "dtype")) dt = c;
        else if (!strcmp(c->key, "shape")) shape = c;
        else if (!strcmp(c->key, "data_offsets")) offs = c;
        else {
            return jp_fail(err, JP_ERR_FORMAT,
                           "safetensors file %s: tensor '%s' has an unknown field '%.60s' "
                           "(expected dtype, shape, data_offsets)", label, name, c->key);
        }
    }
    const char *missing = !dt ? "dtype" : !shape ? "shape" : !offs ? "data_offsets" : NULL;
    if (missing) {
        return jp_fail(err, JP_ERR_FORMAT, "safetensors file %s: tensor '%s' has no '%s' field",
                       label, name, missing);
    }
    if (dt->type != JP_JSON_STRING || !dtype_parse(dt->str, dt->len, &e->dtype)) {
        char found[80];
        if (dt->type == JP_JSON_STRING) snprintf(found, sizeof found, "dtype '%.40s'", dt->str);
        else snprintf(found, sizeof found, "a dtype that is %s", jp_json_type_name(dt->type));
        return jp_fail(err, JP_ERR_FORMAT,
                       "safetensors file %s: tensor '%s' has %s, expected one of F32, F64, I64, "
                       "I32, U8, U64, BOOL", label, name, found);
    }
    if (shape->type != JP_JSON_ARRAY) {
        return jp_fail(err, JP_ERR_FORMAT,
                       "safetensors file %s: tensor '%s' has a shape that is %s, expected an "
                       "array of dimensions", label, name, jp_json_type_name(shape->type));
    }
    if (shape->len > JP_ST_MAX_DIMS) {
        return jp_fail(err, JP_ERR_FORMAT,
                       "safetensors file %s: tensor '%s' has %zu dimensions, at most %d are "
                       "supported", label, name, shape->len, JP_ST_MAX_DIMS);
    }
    e->ndim = (int)shape->len;
    int i = 0;
    for (const jp_json *d = shape->child; d; d = d->next, i++) {
        int64_t x;
        if (!jp_json_int64(d, &x)) {
            return jp_fail(err, JP_ERR_FORMAT,
                           "safetensors file %s: tensor '%s' has shape dimension %d that is not "
                           "an integer (found %s%s%.40s)", label, name, i,
                           jp_json_type_name(d->type), d->type == JP_JSON_NUMBER ? " " : "",
                           d->type == JP_JSON_NUMBER ? d->str : "");
        }
        if (x < 0) {
            return jp_fail(err, JP_ERR_FORMAT,
                           "safetensors file %s: tensor '%s' has a negative dimension %" PRId64
                           " at position %d of its shape", label, name, x, i);
        }
        e->shape[i] = x;
    }
    int64_t b = -1, en = -1;
    if (offs->type != JP_JSON_ARRAY || offs->len != 2 || !jp_json_int64(offs->child, &b) ||
        !jp_json_int64(offs->child->next, &en) || b < 0 || en < 0) {
        return jp_fail(err, JP_ERR_FORMAT,
                       "safetensors file %s: tensor '%s' has data_offsets that are not two "
                       "non-negative integers [begin, end]", label, name);
    }
    char sh[200];
    fmt_shape(sh, sizeof sh, e->ndim, e->shape);
    if (b > en) {
        return jp_fail(err, JP_ERR_FORMAT,
                       "safetensors file %s: tensor '%s' has data_offsets [%" PRId64 ",%" PRId64
                       "] with begin after end", label, name, b, en);
    }
    int ok;
    uint64_t need = tensor_bytes(e->dtype, e->ndim, e->shape, &ok);
    if (!ok) {
        return jp_fail(err, JP_ERR_FORMAT,
                       "safetensors file %s: tensor '%s' (%s %s) is impossibly large", label,
                       name, jp_dtype_name(e->dtype), sh);
    }
    if ((uint64_t)(en - b) != need) {
        return jp_fail(err, JP_ERR_FORMAT,
                       "safetensors file %s: tensor '%s' (%s %s) needs %" PRIu64
                       " bytes, but its data_offsets [%" PRId64 ",%" PRId64 "] span %" PRId64,
                       label, name, jp_dtype_name(e->dtype), sh, need, b, en, en - b);
    }
    if ((uint64_t)en > data_size) {
        return jp_fail(err, JP_ERR_FORMAT,
                       "safetensors file %s: tensor '%s' has data_offsets [%" PRId64 ",%" PRId64
                       "] beyond the end of the data section (%zu bytes; truncated file?)",
                       label, name, b, en, data_size);
    }
    e->begin = (size_t)b;
    e->end = (size_t)en;
    return JP_OK;
}

static jp_status parse_meta(jp_st_file *f, const jp_json *m, jp_error *err)
{
    if (m->type != JP_JSON_OBJECT) {
        return jp_fail(err, JP_ERR_FORMAT,
                       "safetensors file %s: __metadata__ is %s, expected an object of strings",
                       f->path, jp_json_type_name(m->type));
    }
    size_t n = m->len ? m->len : 1;
    f->meta_keys = calloc(n, sizeof(char *));
    f->meta_vals = calloc(n, sizeof(char *));
    if (!f->meta_keys || !f->meta_vals) {
        return jp_fail(err, JP_ERR_NOMEM, "safetensors file %s: out of memory", f->path);
    }
    for (const jp_json *c = m->child; c; c = c->next) {
        if (c->type != JP_JSON_STRING) {
            return jp_fail(err, JP_ERR_FORMAT,
                           "safetensors file %s: __metadata__ entry '%.60s' is %s, expected a "
                           "string", f->path, c->key, jp_json_type_name(c->type));
        }
        if (strlen(c->key) != c->key_len || strlen(c->str) != c->len) {
            return jp_fail(err, JP_ERR_FORMAT,
                           "safetensors file %s: __metadata__ entry '%.60s' contains a NUL "
                           "character", f->path, c->key);
        }
        char *k = strdup(c->key), *v = strdup(c->str);
        if (!k || !v) {
            free(k);
            free(v);
            return jp_fail(err, JP_ERR_NOMEM, "safetensors file %s: out of memory", f->path);
        }
        f->meta_keys[f->meta_count] = k;
        f->meta_vals[f->meta_count] = v;
        f->meta_count++;
    }
    return JP_OK;
}

static int cmp_extent(const void *a, const void *b)
{
    const jp_st_entry *x = *(const jp_st_entry *const *)a, *y = *(const jp_st_entry *const *)b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

/* The tensors must tile the data section exactly: no overlaps, no holes, no trailing
 * bytes (as the safetensors specification demands). */
static jp_status check_layout(const jp_st_file *f, jp_error *err)
{
    size_t n = (size_t)f->count;
    const jp_st_entry **v = malloc((n ? n : 1) * sizeof *v);
    if (!v) return jp_fail(err, JP_ERR_NOMEM, "safetensors file %s: out of memory", f->path);
    for (size_t i = 0; i < n; i++) v[i] = &f->entries[i];
    qsort(v, n, sizeof *v, cmp_extent);
    jp_status st = JP_OK;
    size_t covered = 0;
    const jp_st_entry *last = NULL; /* the tensor that reaches `covered` */
    for (size_t i = 0; i < n && st == JP_OK; i++) {
        const jp_st_entry *e = v[i];
        if (e->begin < covered) {
            st = jp_fail(err, JP_ERR_FORMAT,
                         "safetensors file %s: tensors '%s' (bytes %zu..%zu) and '%s' (bytes "
                         "%zu..%zu) overlap", f->path, last->name, last->begin, last->end,
                         e->name, e->begin, e->end);
        } else if (e->begin > covered) {
            st = jp_fail(err, JP_ERR_FORMAT,
                         "safetensors file %s: bytes %zu..%zu of the data section belong to no "
                         "tensor (expected '%s' to start at %zu)", f->path, covered, e->begin,
                         e->name, covered);
        }
        if (e->end > covered || !last) covered = e->end, last = e;
    }
    if (st == JP_OK && covered != f->data_size) {
        st = jp_fail(err, JP_ERR_FORMAT,
                     "safetensors file %s: the data section holds %zu bytes but the tensors "
                     "cover only %zu (trailing bytes)", f->path, f->data_size, covered);
    }
    free(v);
    return st;
}

/* Validates the image (its prefix already checked) and fills f; f->path is set. */
static jp_status parse_image(jp_st_file *f, const unsigned char *img, size_t size,
                             uint64_t hlen, jp_error *err)
{
    jp_error jerr;
    jp_json_doc doc;
    jp_status st = jp_json_parse(&doc, (const char *)img + 8, (size_t)hlen, &jerr);
    if (st != JP_OK) {
        return jp_fail(err, st, "safetensors file %s: the JSON header (file bytes 8..%" PRIu64
                       ") is malformed: %s", f->path, 8 + hlen, jerr.msg);
    }
    const jp_json *root = doc.root;
    f->data = (unsigned char *)img + 8 + hlen;
    f->data_size = size - 8 - (size_t)hlen;
    if (root->type != JP_JSON_OBJECT) {
        st = jp_fail(err, JP_ERR_FORMAT,
                     "safetensors file %s: the header is %s, expected a JSON object", f->path,
                     jp_json_type_name(root->type));
        goto done;
    }
    const jp_json *meta = jp_json_get(root, "__metadata__");
    size_t n = root->len - (meta ? 1 : 0);
    if (n > INT32_MAX) {
        st = jp_fail(err, JP_ERR_FORMAT, "safetensors file %s: too many tensors (%zu)", f->path, n);
        goto done;
    }
    f->entries = calloc(n ? n : 1, sizeof *f->entries);
    if (!f->entries) {
        st = jp_fail(err, JP_ERR_NOMEM, "safetensors file %s: out of memory for %zu entries",
                     f->path, n);
        goto done;
    }
    if (meta && (st = parse_meta(f, meta, err)) != JP_OK) goto done;
    for (const jp_json *c = root->child; c; c = c->next) {
        if (c == meta) continue;
        if ((st = parse_entry(f, c, &f->entries[f->count], f->data_size, err)) != JP_OK) goto done;
        f->count++;
    }
    st = check_layout(f, err);
done:
    jp_json_free(&doc);
    return st;
}

jp_status jp_st_read_memory(jp_st_file *f, const void *bytes, size_t size, const char *label,
                            jp_error *err)
{
    memset(f, 0, sizeof *f);
    snprintf(f->path, sizeof f->path, "%s", label);
    uint64_t hlen;
    unsigned char *img;
    jp_status st = check_prefix(bytes, size, f->path, &hlen, err);
    if (st == JP_OK) st = alloc_image(f, size, hlen, &img, err);
    if (st == JP_OK) {
        memcpy(img, bytes, size);
        st = parse_image(f, img, size, hlen, err);
    }
    if (st != JP_OK) jp_st_close(f);
    return st;
}

jp_status jp_st_read(jp_st_file *f, const char *path, jp_error *err)
{
    jp_status st = jp_st_read_one(f, path, err);
    if (st == JP_OK && jp_st_meta(f, "jempp.parts") && (st = jp_st_join_parts(f, err)) != JP_OK) jp_st_close(f);
    return st;
}

jp_status jp_st_read_one(jp_st_file *f, const char *path, jp_error *err)
{
    memset(f, 0, sizeof *f);
    snprintf(f->path, sizeof f->path, "%s", path);
    FILE *fp = fopen(path, "rb");
    if (!fp) return jp_fail(err, JP_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    jp_status st = JP_OK;
    struct stat sb;
    unsigned char head[8];
    uint64_t hlen;
    unsigned char *img = NULL;
    if (fstat(fileno(fp), &sb) != 0) {
        st = jp_fail(err, JP_ERR_IO, "cannot read %s: %s", path, strerror(errno));
        goto done;
    }
    if (S_ISDIR(sb.st_mode)) {
        st = jp_fail(err, JP_ERR_IO, "cannot read %s: it is a directory", path);
        goto done;
    }
    if ((uint64_t)sb.st_size > SIZE_MAX) {
        st = jp_fail(err, JP_ERR_NOMEM, "cannot read %s: too large", path);
        goto done;
    }
    size_t size = (size_t)sb.st_size, got = fread(head, 1, size < 8 ? size : 8, fp);
    if (got != (size < 8 ? size : 8) && ferror(fp)) {
        st = jp_fail(err, JP_ERR_IO, "cannot read %s: %s", path, strerror(errno));
        goto done;
    }
    if ((st = check_prefix(head, got < 8 ? got : size, path, &hlen, err)) != JP_OK) goto done;
    if ((st = alloc_image(f, size, hlen, &img, err)) != JP_OK) goto done;
    memcpy(img, head, 8);
    got = 8 + fread(img + 8, 1, size - 8, fp);
    if (got != size) {
        st = ferror(fp) ? jp_fail(err, JP_ERR_IO, "reading %s failed at byte %zu: %s", path, got,
                                  strerror(errno))
                        : jp_fail(err, JP_ERR_IO, "reading %s: the file shrank to %zu bytes "
                                  "while being read (expected %zu)", path, got, size);
        goto done;
    }
    st = parse_image(f, img, size, hlen, err);
done:
    fclose(fp);
    if (st != JP_OK) jp_st_close(f);
    return st;
}

const jp_st_entry *jp_st_find(const jp_st_file *f, const char *name)
{
    for (int i = 0; i < f->count; i++)
        if (!strcmp(f->entries[i].name, name)) return &f->entries[i];
    return NULL;
}

const char *jp_st_meta(const jp_st_file *f, const char *key)
{
    for (int i = 0; i < f->meta_count; i++)
        if (!strcmp(f->meta_keys[i], key)) return f->meta_vals[i];
    return NULL;
}

const void *jp_st_data(const jp_st_file *f, const jp_st_entry *e) { return f->data + e->begin; }

jp_status jp_st_get(const jp_st_file *f, const char *name, jp_dtype dtype, int ndim,
                    const int64_t *shape, void *dst, jp_error *err)
{
    JP_CHECK(ndim >= 0 && ndim <= JP_ST_MAX_DIMS && (ndim == 0 || shape));
    const char *fmt = jp_st_meta(f, "format");
    int ckpt = fmt && !strcmp(fmt, "jempp-checkpoint");
    const char *noun = ckpt ? "checkpoint" : "safetensors file";
    const char *expects = ckpt ? "the model expects" : "expected";
    const jp_st_entry *e = jp_st_find(f, name);
    if (!e) {
        return jp_fail(err, JP_ERR_FORMAT, "%s %s: has no tensor '%s' (it holds %d tensor%s%s%s%s)",
                       noun, f->path, name, f->count, f->count == 1 ? "" : "s",
                       f->count ? ", the first is '" : "",
                       f->count ? f->entries[0].name : "", f->count ? "'" : "");
    }
    if (e->dtype != dtype) {
        return jp_fail(err, JP_ERR_FORMAT, "%s %s: tensor '%s' has dtype %s, %s %s", noun,
                       f->path, name, jp_dtype_name(e->dtype), expects, jp_dtype_name(dtype));
    }
    int same = e->ndim == ndim;
    for (int i = 0; same && i < ndim; i++) same = e->shape[i] == shape[i];
    if (!same) {
        char a[200], b[200];
        return jp_fail(err, JP_ERR_SHAPE, "%s %s: tensor '%s' has shape %s, %s %s", noun,
                       f->path, name, fmt_shape(a, sizeof a, e->ndim, e->shape), expects,
                       fmt_shape(b, sizeof b, ndim, shape));
    }
    if (dst && e->end > e->begin) memcpy(dst, f->data + e->begin, e->end - e->begin);
    return JP_OK;
}

/* ==== writer ========================================================== */

void jp_st_writer_init(jp_st_writer *w) { memset(w, 0, sizeof *w); }

void jp_st_writer_add(jp_st_writer *w, const char *name, jp_dtype dtype, int ndim,
                      const int64_t *shape, const void *data)
{
    JP_CHECK(name && strlen(name) < JP_ST_MAX_NAME && strcmp(name, "__metadata__") != 0);
    JP_CHECK((int)dtype >= 0 && (int)dtype < N_DTYPES);
    JP_CHECK(ndim >= 0 && ndim <= JP_ST_MAX_DIMS && (ndim == 0 || shape));
    for (int i = 0; i < ndim; i++) JP_CHECK(shape[i] >= 0);
    int ok;
    uint64_t bytes = tensor_bytes(dtype, ndim, shape, &ok);
    JP_CHECK(ok && bytes <= SIZE_MAX / 2);
    JP_CHECK(data || bytes == 0);
    if (w->nomem) return;
    if (w->count == w->cap) {
        int cap = w->cap ? w->cap * 2 : 64;
        jp_st_entry *e = realloc(w->entries, (size_t)cap * sizeof *e);
        if (e) w->entries = e;
        const void **p = e ? realloc(w->ptrs, (size_t)cap * sizeof *p) : NULL;
        if (!e || !p) {
            w->nomem = 1;
            return;
        }
        w->ptrs = p;
        w->cap = cap;
    }
    jp_st_entry *e = &w->entries[w->count];
    memset(e, 0, sizeof *e);
    strcpy(e->name, name);
    e->dtype = dtype;
    e->ndim = ndim;
    for (int i = 0; i < ndim; i++) e->shape[i] = shape[i];
    e->end = (size_t)bytes; /* begin/end are assigned by the layout at save time */
    w->ptrs[w->count++] = data;
}

void jp_st_writer_meta(jp_st_writer *w, const char *key, const char *value)
{
    JP_CHECK(key && value);
    if (w->nomem) return;
    char *v = strdup(value);
    if (!v) {
        w->nomem = 1;
        return;
    }
    for (int i = 0; i < w->meta_count; i++) {
        if (!strcmp(w->meta_keys[i], key)) {
            free(w->meta_vals[i]);
            w->meta_vals[i] = v;
            return;
        }
    }
    if (w->meta_count == w->meta_cap) {
        int cap = w->meta_cap ? w->meta_cap * 2 : 8;
        char **k = realloc(w->meta_keys, (size_t)cap * sizeof *k);
        if (k) w->meta_keys = k;
        char **vv = k ? realloc(w->meta_vals, (size_t)cap * sizeof *vv) : NULL;
        if (!k || !vv) {
            free(v);
            w->nomem = 1;
            return;
        }
        w->meta_vals = vv;
        w->meta_cap = cap;
    }
    char *k = strdup(key);
    if (!k) {
        free(v);
        w->nomem = 1;
        return;
    }
    w->meta_keys[w->meta_count] = k;
    w->meta_vals[w->meta_count++] = v;
}

void jp_st_writer_free(jp_st_writer *w)
{
    for (int i = 0; i < w->meta_count; i++) {
        free(w->meta_keys[i]);
        free(w->meta_vals[i]);
    }
    free(w->meta_keys);
    free(w->meta_vals);
    free(w->entries);
    free(w->ptrs);
    memset(w, 0, sizeof *w);
}

/* The planned file: header text (padded) and the tensors in data order. */
typedef struct {
    jp_jw json;
    int *order;    /* indices into w->entries, in data-section order */
    size_t *begin; /* per entry, offset in the data section */
    size_t data_size;
} st_plan;

static void plan_free(st_plan *p)
{
    jp_jw_free(&p->json);
    free(p->order);
    free(p->begin);
}

static int cmp_entry_name(const void *a, const void *b)
{
    const jp_st_entry *x = *(const jp_st_entry *const *)a, *y = *(const jp_st_entry *const *)b;
    return strcmp(x->name, y->name);
}

static jp_status check_unique_names(const jp_st_writer *w, const char *label, jp_error *err)
{
    size_t n = (size_t)w->count;
    if (n < 2) return JP_OK;
    const jp_st_entry **v = malloc(n * sizeof *v);
    if (!v) return jp_fail(err, JP_ERR_NOMEM, "cannot save %s: out of memory", label);
    for (size_t i = 0; i < n; i++) v[i] = &w->entries[i];
    qsort(v, n, sizeof *v, cmp_entry_name);
    jp_status st = JP_OK;
    for (size_t i = 1; i < n && st == JP_OK; i++)
        if (!strcmp(v[i - 1]->name, v[i]->name))
            st = jp_fail(err, JP_ERR_ARG, "cannot save %s: two tensors are named '%s'", label,
                         v[i]->name);
    free(v);
    return st;
}

/* Lays out the data (largest element size first, otherwise in insertion order) and
 * writes the header JSON, padded with spaces to a multiple of 8 bytes. In the writer,
 * entries[i].end holds the tensor's byte count. */
static jp_status plan_file(const jp_st_writer *w, const char *label, st_plan *p, jp_error *err)
{
    memset(p, 0, sizeof *p);
    jp_jw_init(&p->json, 0);
    if (w->nomem) return jp_fail(err, JP_ERR_NOMEM, "cannot save %s: out of memory", label);
    jp_status st = check_unique_names(w, label, err);
    if (st != JP_OK) return st;
    size_t n = (size_t)w->count;
    p->order = malloc((n ? n : 1) * sizeof *p->order);
    p->begin = malloc((n ? n : 1) * sizeof *p->begin);
    if (!p->order || !p->begin) {
        return jp_fail(err, JP_ERR_NOMEM, "cannot save %s: out of memory", label);
    }
    size_t k = 0, off = 0;
    for (size_t sz = 8; sz >= 1; sz /= 2) {
        for (size_t i = 0; i < n; i++) {
            if (jp_dtype_size(w->entries[i].dtype) != sz) continue;
            p->order[k++] = (int)i;
            p->begin[i] = off;
            if (w->entries[i].end > SIZE_MAX - off) {
                return jp_fail(err, JP_ERR_ARG, "cannot save %s: tensors too large", label);
            }
            off += w->entries[i].end;
        }
    }
    JP_CHECK(k == n);
    p->data_size = off;

    jp_jw *j = &p->json;
    jp_jw_begin_object(j);
    if (w->meta_count) {
        jp_jw_key(j, "__metadata__");
        jp_jw_begin_object(j);
        for (int i = 0; i < w->meta_count; i++) {
            jp_jw_key(j, w->meta_keys[i]);
            jp_jw_string(j, w->meta_vals[i]);
        }
        jp_jw_end_object(j);
    }
    for (size_t i = 0; i < n; i++) {
        const jp_st_entry *e = &w->entries[i];
        jp_jw_key(j, e->name);
        jp_jw_begin_object(j);
        jp_jw_key(j, "dtype");
        jp_jw_string(j, jp_dtype_name(e->dtype));
        jp_jw_key(j, "shape");
        jp_jw_begin_array(j);
        for (int d = 0; d < e->ndim; d++) jp_jw_int(j, e->shape[d]);
        jp_jw_end_array(j);
        jp_jw_key(j, "data_offsets");
        jp_jw_begin_array(j);
        jp_jw_uint(j, p->begin[i]);
        jp_jw_uint(j, p->begin[i] + e->end);
        jp_jw_end_array(j);
        jp_jw_end_object(j);
    }
    jp_jw_end_object(j);
    jp_error jerr;
    if ((st = jp_jw_finish(j, &jerr)) != JP_OK) {
        return jp_fail(err, st, "cannot save %s: building the header failed: %s", label,
                       jerr.msg);
    }
    static const char spaces[8] = "        ";
    jp_jw_raw(j, spaces, (8 - j->len % 8) % 8);
    if (j->nomem) return jp_fail(err, JP_ERR_NOMEM, "cannot save %s: out of memory", label);
    return JP_OK;
}

static void put_le64(unsigned char *b, uint64_t v)
{
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(v >> (8 * i));
}

jp_status jp_st_writer_to_memory(const jp_st_writer *w, unsigned char **out, size_t *size,
                                 jp_error *err)
{
    *out = NULL;
    *size = 0;
    st_plan p;
    jp_status st = plan_file(w, "(memory)", &p, err);
    if (st == JP_OK) {
        size_t total = 8 + p.json.len + p.data_size;
        unsigned char *b = malloc(total);
        if (!b) {
            st = jp_fail(err, JP_ERR_NOMEM, "out of memory for a %zu-byte safetensors image", total);
        } else {
            put_le64(b, p.json.len);
            memcpy(b + 8, p.json.buf, p.json.len);
            unsigned char *d = b + 8 + p.json.len;
            for (int k = 0; k < w->count; k++) {
                int i = p.order[k];
                if (w->entries[i].end) memcpy(d + p.begin[i], w->ptrs[i], w->entries[i].end);
            }
            *out = b;
            *size = total;
        }
    }
    plan_free(&p);
    return st;
}

jp_status jp_st_writer_save(const jp_st_writer *w, const char *path, jp_error *err)
{
    st_plan p;
    jp_status st = plan_file(w, path, &p, err);
    jp_atomic_file a;
    if (st == JP_OK) st = jp_atomic_open(&a, path, err);
    if (st == JP_OK) {
        unsigned char len[8];
        put_le64(len, p.json.len);
        st = jp_atomic_write(&a, len, 8, err);
        if (st == JP_OK) st = jp_atomic_write(&a, p.json.buf, p.json.len, err);
        for (int k = 0; k < w->count && st == JP_OK; k++) {
            int i = p.order[k];
            st = jp_atomic_write(&a, w->ptrs[i], w->entries[i].end, err);
        }
        if (st == JP_OK) st = jp_atomic_commit(&a, err);
        else jp_atomic_abort(&a);
    }
    plan_free(&p);
    return st;
}
