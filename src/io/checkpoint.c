/* Model <-> safetensors, by PyTorch state_dict name. */
#include "jempp/checkpoint.h"

#include <stdlib.h>
#include <string.h>

void jp_ckpt_add_model(jp_st_writer *w, jp_wrn *m)
{
    int n;
    const jp_tensor_info *t = jp_wrn_tensors(m, &n);
    for (int i = 0; i < n; i++) {
        const void *p = t[i].kind == JP_T_PARAM ? (const void *)(jp_wrn_params(m) + t[i].offset)
                        : t[i].kind == JP_T_BUFFER ? (const void *)(jp_wrn_buffers(m) + t[i].offset)
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
    if (!s) return required ? jp_fail(err, JP_ERR_FORMAT, "%s: metadata '%s' missing (not a jempp checkpoint? "
                                      "convert PyTorch files with tools/convert_reference_ckpt.py)", f->path, key)
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
            char got[128] = "", exp[128] = "";
            size_t a = 0, b = 0;
            for (int d = 0; d < e->ndim; d++) a += (size_t)snprintf(got + a, sizeof got - a, "%s%lld", d ? "," : "", (long long)e->shape[d]);
            for (int d = 0; d < t[i].ndim; d++) b += (size_t)snprintf(exp + b, sizeof exp - b, "%s%lld", d ? "," : "", (long long)t[i].shape[d]);
            return jp_fail(err, JP_ERR_SHAPE, "%s: tensor '%s' is %s [%s], the model expects %s [%s]", f->path,
                           t[i].name, jp_dtype_name(e->dtype), got, jp_dtype_name(want), exp);
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
    for (int i = 0; i < n; i++) {
        const jp_st_entry *e = jp_st_find(f, t[i].name);
        void *dst = t[i].kind == JP_T_PARAM ? (void *)(jp_wrn_params(m) + t[i].offset)
                    : t[i].kind == JP_T_BUFFER ? (void *)(jp_wrn_buffers(m) + t[i].offset)
                                               : (void *)(jp_wrn_counters(m) + t[i].offset);
        memcpy(dst, jp_st_data(f, e), e->end - e->begin);
    }
    jp_wrn_params_changed(m);
    return JP_OK;
}

jp_status jp_ckpt_open_model(const char *path, int batch, jp_wrn **out, jp_error *err)
{
    jp_st_file f;
    jp_status st = jp_st_read(&f, path, err);
    if (st) return st;
    jp_wrn_config cfg;
    jp_wrn_config_defaults(&cfg);
    cfg.image_size = 0;
    st = jp_ckpt_read_config(&f, &cfg, err);
    if (!st && cfg.image_size == 0) {
        /* files converted from PyTorch: infer from nothing else; default to 32 */
        cfg.image_size = 32;
    }
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
