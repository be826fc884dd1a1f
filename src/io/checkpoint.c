/* Model <-> safetensors, by PyTorch state_dict name. */
#include "jempp/checkpoint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "a,b,c" of a shape into buf. */
static const char *shape_str(char *buf, size_t len, const int64_t *shape, int ndim)
{
    size_t a = 0;
    buf[0] = '\0';
    for (int d = 0; d < ndim && a < len; d++)
        a += (size_t)snprintf(buf + a, len - a, "%s%lld", d ? "," : "", (long long)shape[d]);
    return buf;
}

void jp_ckpt_add_model(jp_st_writer *w, jp_wrn *m)
{
    int n;
    const jp_tensor_info *t = jp_wrn_tensors(m, &n);
    float *params, *buffers;
    jp_wrn_host_view(m, &params, &buffers);
    for (int i = 0; i < n; i++) {
        const void *p = t[i].kind == JP_T_PARAM ? (const void *)(params + t[i].offset)
                        : t[i].kind == JP_T_BUFFER ? (const void *)(buffers + t[i].offset)
                                                   : (const void *)(jp_wrn_counters(m) + t[i].offset);
        jp_st_writer_add(w, t[i].name, t[i].kind == JP_T_COUNTER ? JP_I64 : JP_F32, t[i].ndim, t[i].shape, p);
    }
    const jp_wrn_config *c = jp_wrn_config_of(m);
    char v[32];
    jp_st_writer_meta(w, "format", "jempp-checkpoint");
#define META_INT(key, val) (snprintf(v, sizeof v, "%d", (int)(val)), jp_st_writer_meta(w, key, v))
    META_INT("depth", c->depth);
    META_INT("width", c->width);
    META_INT("in_channels", c->in_channels);
    META_INT("image_size", c->image_size);
    META_INT("n_classes", c->n_classes);
    META_INT("uncond", c->uncond);
#undef META_INT
    jp_st_writer_meta(w, "norm", c->norm == JP_NORM_BATCH ? "batch" : "none");
    snprintf(v, sizeof v, "%g", (double)c->dropout);
    jp_st_writer_meta(w, "dropout_rate", v);
}

static jp_status meta_int(const jp_st_file *f, const char *key, int *out, int required, jp_error *err)
{
    const char *s = jp_st_meta(f, key);
    if (!s) return required ? jp_fail(err, JP_ERR_FORMAT, "%s: metadata '%s' missing: its jempp metadata is "
                                      "incomplete (a file without any is read as a PyTorch state_dict)", f->path,
                                      key)
                            : JP_OK;
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < 0 || v > 1000000)
        return jp_fail(err, JP_ERR_FORMAT, "%s: metadata '%s' = '%s' is not a valid integer", f->path, key, s);
    *out = (int)v;
    return JP_OK;
}

jp_status jp_ckpt_read_config(const jp_st_file *f, jp_wrn_config *cfg, jp_error *err)
{
    jp_status st = meta_int(f, "depth", &cfg->depth, 1, err);
    if (!st) st = meta_int(f, "width", &cfg->width, 1, err);
    if (!st) st = meta_int(f, "in_channels", &cfg->in_channels, 1, err);
    if (!st) st = meta_int(f, "n_classes", &cfg->n_classes, 1, err);
    if (!st) st = meta_int(f, "image_size", &cfg->image_size, 0, err);
    if (st) return st;
    const char *norm = jp_st_meta(f, "norm");
    if (norm) {
        if (!strcmp(norm, "batch")) cfg->norm = JP_NORM_BATCH;
        else if (!strcmp(norm, "none")) cfg->norm = JP_NORM_NONE;
        else return jp_fail(err, JP_ERR_FORMAT, "%s: metadata norm = '%s', expected batch or none", f->path, norm);
    }
    if (!st) st = meta_int(f, "uncond", &cfg->uncond, 0, err);
    if (!st && cfg->uncond != 0 && cfg->uncond != 1)
        st = jp_fail(err, JP_ERR_FORMAT, "%s: metadata uncond = %d, expected 0 or 1", f->path, cfg->uncond);
    if (st) return st;
    const char *dr = jp_st_meta(f, "dropout_rate");
    if (dr) cfg->dropout = strtof(dr, NULL);
    return JP_OK;
}

/* ---- the configuration of a file without jempp metadata (a PyTorch state_dict) ---- */

/* *e = tensor `name` of f, which must exist with ndim dimensions. */
static jp_status arch_tensor(const jp_st_file *f, const char *name, int ndim, const jp_st_entry **e, jp_error *err)
{
    *e = jp_st_find(f, name);
    if (!*e)
        return jp_fail(err, JP_ERR_FORMAT, "%s: no jempp metadata and no tensor '%s', so the model cannot be "
                       "inferred (expected a jempp checkpoint or a PyTorch state_dict of the reference WRN saved as "
                       "safetensors)", f->path, name);
    if ((*e)->ndim != ndim)
        return jp_fail(err, JP_ERR_FORMAT, "%s: tensor '%s' has %d dimensions, the WRN's has %d", f->path, name,
                       (*e)->ndim, ndim);
    return JP_OK;
}

static jp_status arch_mismatch(const jp_st_file *f, const jp_st_entry *e, const char *want, jp_error *err)
{
    char got[128];
    return jp_fail(err, JP_ERR_FORMAT, "%s: tensor '%s' is [%s], the WRN's is %s", f->path, e->name,
                   shape_str(got, sizeof got, e->shape, e->ndim), want);
}

/* The block index b of a name "f.layer<g>.<b>.*" (g = 1, 2, 3), or -1. */
static long block_index(const char *name)
{
    if (strncmp(name, "f.layer", 7) || name[7] < '1' || name[7] > '3' || name[8] != '.') return -1;
    char *end;
    long b = strtol(name + 9, &end, 10);
    return end == name + 9 || *end != '.' ? -1 : b;
}

/* *n = the blocks per group: f.layer1.0 .. f.layer1.{n-1} each have conv1.weight, and no
 * tensor of any group names a block beyond them (a gap or an extra block). */
static jp_status count_blocks(const jp_st_file *f, int *n, jp_error *err)
{
    char name[64];
    int k = 0;
    for (; k < f->count; k++) {
        snprintf(name, sizeof name, "f.layer1.%d.conv1.weight", k);
        if (!jp_st_find(f, name)) break;
    }
    for (int i = 0; i < f->count; i++) {
        long b = block_index(f->entries[i].name);
        if (b >= k)
            return jp_fail(err, JP_ERR_FORMAT, "%s: tensor '%s' is of block %ld, but f.layer1 has blocks 0..%d "
                           "only (no 'f.layer1.%d.conv1.weight'): each group of the WRN has the same blocks 0..n-1",
                           f->path, f->entries[i].name, b, k - 1, k);
    }
    *n = k;
    return JP_OK;
}

/* The WRN's architecture from the names and shapes of its tensors (see jp_ckpt_config). */
static jp_status infer_config(const jp_st_file *f, jp_wrn_config *cfg, jp_error *err)
{
    const jp_st_entry *c1, *l1, *head;
    jp_status st = arch_tensor(f, "f.conv1.weight", 4, &c1, err);
    if (st) return st;
    if (c1->shape[0] != 16 || c1->shape[2] != 3 || c1->shape[3] != 3)
        return arch_mismatch(f, c1, "[16, in_channels, 3, 3]", err);
    if ((st = arch_tensor(f, "f.layer1.0.conv1.weight", 4, &l1, err))) return st;
    if (l1->shape[0] < 16 || l1->shape[0] % 16 || l1->shape[1] != 16 || l1->shape[2] != 3 || l1->shape[3] != 3)
        return arch_mismatch(f, l1, "[16 * width, 16, 3, 3]", err);
    if ((st = arch_tensor(f, "class_output.weight", 2, &head, err))) return st;
    if (head->shape[1] != 4 * l1->shape[0] || head->shape[0] < 1) {
        char want[128];
        snprintf(want, sizeof want, "[n_classes, %lld] (64 * width, width %lld from f.layer1.0.conv1.weight)",
                 (long long)(4 * l1->shape[0]), (long long)(l1->shape[0] / 16));
        return arch_mismatch(f, head, want, err);
    }
    int n = 0;
    if ((st = count_blocks(f, &n, err))) return st;
    cfg->depth = 6 * n + 4;
    cfg->width = (int)(l1->shape[0] / 16 < 1000000 ? l1->shape[0] / 16 : 1000000);
    cfg->in_channels = (int)(c1->shape[1] < 1000000 ? c1->shape[1] : 1000000);
    cfg->n_classes = (int)(head->shape[0] < 1000000 ? head->shape[0] : 1000000);
    cfg->norm = jp_st_find(f, "f.layer1.0.bn1.weight") ? JP_NORM_BATCH : JP_NORM_NONE;
    cfg->uncond = 0;
    /* the ranges jp_wrn_create accepts (the image size is checked when it is known) */
    jp_wrn_config chk = *cfg;
    chk.image_size = 32;
    jp_error why = {0};
    if (jp_wrn_config_check(&chk, &why))
        return jp_fail(err, JP_ERR_FORMAT, "%s: the model inferred from the tensors is not one jempp builds: %s",
                       f->path, why.msg);
    return JP_OK;
}

/* The replay buffer's image size when it is an (N, C, H, H) tensor of `channels`, else 0. */
static int buffer_image_size(const jp_st_file *f, int channels)
{
    const jp_st_entry *e = jp_st_find(f, "replay_buffer");
    if (!e || e->ndim != 4 || e->shape[1] != channels || e->shape[2] != e->shape[3] || e->shape[2] < 1 ||
        e->shape[2] > 1024)
        return 0;
    return (int)e->shape[2];
}

static int has_jempp_metadata(const jp_st_file *f)
{
    const char *format = jp_st_meta(f, "format"); /* PyTorch's safetensors writes "pt" */
    return (format && !strcmp(format, "jempp-checkpoint")) || jp_st_meta(f, "depth");
}

jp_status jp_ckpt_config(const jp_st_file *f, jp_wrn_config *cfg, jp_ckpt_origin *origin, jp_error *err)
{
    jp_ckpt_origin o = {0};
    jp_wrn_config_defaults(cfg);
    cfg->image_size = 0; /* unknown unless the file says */
    o.inferred = !has_jempp_metadata(f);
    jp_status st = o.inferred ? infer_config(f, cfg, err) : jp_ckpt_read_config(f, cfg, err);
    if (st) return st;
    if (cfg->image_size > 0) o.size_from = "metadata";
    else if ((cfg->image_size = buffer_image_size(f, cfg->in_channels)) > 0) o.size_from = "replay_buffer";
    snprintf(o.arch, sizeof o.arch, "WRN-%d-%d, %d input channel%s, %d classes, norm %s%s", cfg->depth, cfg->width,
             cfg->in_channels, cfg->in_channels == 1 ? "" : "s", cfg->n_classes,
             cfg->norm == JP_NORM_BATCH ? "batch" : "none", cfg->uncond ? ", uncond" : "");
    if (origin) *origin = o;
    return JP_OK;
}

jp_status jp_ckpt_load_model(const jp_st_file *f, jp_wrn *m, jp_error *err)
{
    int n;
    const jp_tensor_info *t = jp_wrn_tensors(m, &n);
    /* check everything first so that a bad file leaves the model untouched */
    for (int i = 0; i < n; i++) {
        const jp_st_entry *e = jp_st_find(f, t[i].name);
        jp_dtype want = t[i].kind == JP_T_COUNTER ? JP_I64 : JP_F32;
        if (!e)
            return jp_fail(err, JP_ERR_SHAPE, "%s: tensor '%s' missing (the model expects it: depth %d, width %d, "
                           "norm %s)", f->path, t[i].name, jp_wrn_config_of(m)->depth, jp_wrn_config_of(m)->width,
                           jp_wrn_config_of(m)->norm == JP_NORM_BATCH ? "batch" : "none");
        int ok = e->dtype == want && e->ndim == t[i].ndim;
        for (int d = 0; ok && d < t[i].ndim; d++) ok = e->shape[d] == t[i].shape[d];
        if (!ok) {
            char got[128], exp[128];
            return jp_fail(err, JP_ERR_SHAPE, "%s: tensor '%s' is %s [%s], the model expects %s [%s]", f->path,
                           t[i].name, jp_dtype_name(e->dtype), shape_str(got, sizeof got, e->shape, e->ndim),
                           jp_dtype_name(want), shape_str(exp, sizeof exp, t[i].shape, t[i].ndim));
        }
        if (want == JP_F32) { /* non-finite weights would only produce NaN later */
            const unsigned char *raw = jp_st_data(f, e);
            for (size_t k = 0; k < t[i].count; k++) {
                float v;
                memcpy(&v, raw + 4 * k, 4);
                if (!(v == v) || v > 3.4e38f || v < -3.4e38f)
                    return jp_fail(err, JP_ERR_NUMERIC, "%s: tensor '%s' holds a non-finite value at element %zu",
                                   f->path, t[i].name, k);
            }
        }
    }
    float *params, *buffers;
    jp_wrn_host_view(m, &params, &buffers);
    for (int i = 0; i < n; i++) {
        const jp_st_entry *e = jp_st_find(f, t[i].name);
        void *dst = t[i].kind == JP_T_PARAM ? (void *)(params + t[i].offset)
                    : t[i].kind == JP_T_BUFFER ? (void *)(buffers + t[i].offset)
                                               : (void *)(jp_wrn_counters(m) + t[i].offset);
        memcpy(dst, jp_st_data(f, e), e->end - e->begin);
    }
    jp_wrn_host_commit(m);
    return JP_OK;
}

jp_status jp_ckpt_open_model(const char *path, int batch, jp_wrn **out, jp_error *err)
{
    jp_st_file f;
    jp_status st = jp_st_read(&f, path, err);
    if (st) return st;
    jp_wrn_config cfg;
    st = jp_ckpt_config(&f, &cfg, NULL, err);
    if (!st && cfg.image_size == 0) /* assuming a size would only fail later, on the data */
        st = jp_fail(err, JP_ERR_FORMAT, "%s: the checkpoint does not give its image size (no metadata "
                     "'image_size', no replay_buffer): give it (jempp eval --image_size N; in C, jp_ckpt_config "
                     "and jp_wrn_create with the size)", path);
    if (!st) st = jp_wrn_create(out, &cfg, batch, err);
    if (!st) {
        st = jp_ckpt_load_model(&f, *out, err);
        if (st) {
            jp_wrn_free(*out);
            *out = NULL;
        }
    }
    jp_st_close(&f);
    return st;
}
