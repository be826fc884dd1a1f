/* The Wide-ResNet against PyTorch 1.13 (tools/gen_wrn_ref.py writes the reference files
 * tests/data/wrn_ref_bn.safetensors (WRN-10-1, BN), wrn_ref_nobn.safetensors (WRN-10-1, no
 * norm) and wrn_ref_deep.safetensors (WRN-16-1, BN: two blocks a group, so identity
 * shortcuts and blocks fed by blocks)).
 *
 * For each file: build the model from the file's metadata, load the initial state_dict
 * ("init.*") by walking jp_wrn_tensors() (the table must be exactly the set of init.*
 * tensors, same shapes, same order), then compare
 *   - train-mode logits and the cross-entropy loss,
 *   - every parameter gradient, d loss/dx and d loss/dz0 (z0 = conv1(x)),
 *   - the BN running statistics and counters after that forward,
 *   - eval-mode logits and d sum LSE / dx (also with fewer rows than the batch),
 *   - conv1^T(grad.z0) == grad.x,
 *   - the state_dict after 5 SGD steps (lr 0.1, momentum 0.9, wd 4e-4) on the batch.
 * The BN files are run twice: direct convolutions, then Winograd allowed.
 * Extra reference files (same format) may be given on the command line. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jempp/ops.h"
#include "jempp/safetensors.h"
#include "jempp/wrn.h"
#include "nn/wrn_internal.h" /* jp_wrn_slack */
#include "testutil.h"

/* Tolerances: |got - ref| <= atol + rtol*|ref| elementwise.
 * Forward values (logits ~0.1-1, running statistics): absolute atol.
 * Gradients span 1e-8..1e-1 from tensor to tensor (grad.x ~1e-3, the conv biases in
 * front of a BN are exactly 0 in theory and ~1e-8 of rounding in both codes), so a
 * fixed atol would be meaningless for the small ones: their atol is GRAD_ATOL times the
 * tensor's largest |ref|, but at least GRAD_ATOL_FLOOR (scaled up with a looser scale:
 * Winograd's rounding on a gradient that is 0 in theory reaches ~1e-6; the --uncond
 * case's conv1 bias gradient, ~1e-6 in size and a sum of 2048 terms that cancel, differs
 * by up to 1.05e-6 with oneDNN's direct kernels on an AMD EPYC). The same holds for the SGD
 * update (sgd5 - init) of every parameter. SGD_* bound the final state itself. */
#define FWD_ATOL 1e-5
#define FWD_RTOL 1e-4
#define GRAD_ATOL 1e-3 /* times max|ref| of the tensor */
#define GRAD_RTOL 1e-3
#define GRAD_ATOL_FLOOR 3e-6
#define SGD_ATOL 1e-5
#define SGD_RTOL 1e-4
/* Winograd trades accuracy for speed: looser, reported separately. */
#define WINO_FWD_ATOL 1e-4
#define WINO_FWD_RTOL 1e-3
#define WINO_GRAD_ATOL 1e-2
#define WINO_GRAD_RTOL 1e-2
#define WINO_SGD_ATOL 1e-4
#define WINO_SGD_RTOL 1e-3

typedef struct {
    double fwd_atol, fwd_rtol, grad_atol, grad_rtol, sgd_atol, sgd_rtol;
} tols;

/* atol for a gradient-like tensor: scale * max|ref|, at least the floor (times
 * scale / GRAD_ATOL when the scale is looser than GRAD_ATOL). */
static double scaled_atol(const float *ref, size_t n, double scale)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        if (fabs(ref[i]) > m) m = fabs(ref[i]);
    return fmax(scale * m, GRAD_ATOL_FLOOR * fmax(1.0, scale / GRAD_ATOL));
}

/* Largest differences per group of checks, for the summary. */
typedef struct {
    double logits, loss, param_grad, gx, gz0, after_fwd, eval_logits, eval_gx, eval_small,
        conv1t, sgd5_param, sgd5_buffer, sgd5_delta, uncond;
    char param_grad_worst[128], sgd5_worst[128];
} maxdiffs;

/* On a mismatch, what kind of mismatch: a scale (sign), a transposition of the first
 * two dimensions, a spatial flip of the last two. */
static void diagnose(const char *name, const float *got, const float *ref, int ndim,
                     const int64_t *shape, size_t n)
{
    double gr = 0, rr = 0, gg = 0;
    for (size_t i = 0; i < n; i++) {
        gr += (double)got[i] * ref[i];
        rr += (double)ref[i] * ref[i];
        gg += (double)got[i] * got[i];
    }
    double scale = rr > 0 ? gr / rr : 0;
    double res = 0;
    for (size_t i = 0; i < n; i++) {
        double d = got[i] - scale * ref[i];
        res += d * d;
    }
    printf("        diagnose %s: |got|=%.4g |ref|=%.4g best scale got~%.6g*ref, relative residual "
           "%.3g, cos %.4f\n",
           name, sqrt(gg), sqrt(rr), scale, rr > 0 ? sqrt(res / rr) : 0.0,
           (gg > 0 && rr > 0) ? gr / sqrt(gg * rr) : 0.0);
    if (ndim >= 2) {
        /* transposition of dims 0 and 1 (weights (O,I,...) or activations (N,C,...)) */
        int64_t a = shape[0], b = shape[1];
        size_t inner = n / (size_t)(a * b);
        double dt = 0;
        if (a == b) {
            for (int64_t i = 0; i < a; i++)
                for (int64_t j = 0; j < b; j++)
                    for (size_t k = 0; k < inner; k++) {
                        double d = got[((size_t)i * b + j) * inner + k] -
                                   ref[((size_t)j * a + i) * inner + k];
                        dt += d * d;
                    }
            printf("        diagnose %s: transposed(0,1) relative residual %.3g\n", name,
                   rr > 0 ? sqrt(dt / rr) : 0.0);
        }
    }
    if (ndim == 4) {
        int64_t h = shape[2], w = shape[3];
        size_t planes = n / (size_t)(h * w);
        double df = 0;
        for (size_t p = 0; p < planes; p++)
            for (int64_t y = 0; y < h; y++)
                for (int64_t x = 0; x < w; x++) {
                    double d = got[p * h * w + y * w + x] -
                               ref[p * h * w + (h - 1 - y) * w + (w - 1 - x)];
                    df += d * d;
                }
        printf("        diagnose %s: spatially flipped relative residual %.3g\n", name,
               rr > 0 ? sqrt(df / rr) : 0.0);
    }
}

/* Compares got with reference tensor `name` (shape taken from the file). */
static int check_tensor_x(tu_ctx *t, const jp_st_file *f, const char *name, const float *got,
                          size_t n, double atol, double rtol, int scaled, double *maxd,
                          char *worst, size_t worst_len)
{
    const jp_st_entry *e = jp_st_find(f, name);
    if (!e) {
        tu_check(t, 0, "%s: reference tensor missing from %s", name, f->path);
        return 0;
    }
    size_t cnt;
    float *ref = tu_ref_f32(f, name, &cnt);
    if (cnt != n) {
        tu_check(t, 0, "%s: %zu elements in the model, %zu in the reference", name, n, cnt);
        free(ref);
        return 0;
    }
    double d = tu_max_abs_diff(got, ref, n);
    if (maxd && d > *maxd) {
        *maxd = d;
        if (worst) snprintf(worst, worst_len, "%s", name);
    }
    if (scaled) atol = scaled_atol(ref, n, atol);
    int ok = tu_close(t, name, got, ref, n, atol, rtol);
    if (!ok) diagnose(name, got, ref, e->ndim, e->shape, n);
    free(ref);
    return ok;
}

/* Forward-like values: absolute atol. */
static int check_tensor(tu_ctx *t, const jp_st_file *f, const char *name, const float *got,
                        size_t n, double atol, double rtol, double *maxd, char *worst,
                        size_t worst_len)
{
    return check_tensor_x(t, f, name, got, n, atol, rtol, 0, maxd, worst, worst_len);
}

/* Gradient-like values: atol relative to the tensor's largest |ref|. */
static int check_grad(tu_ctx *t, const jp_st_file *f, const char *name, const float *got,
                      size_t n, double atol, double rtol, double *maxd, char *worst,
                      size_t worst_len)
{
    return check_tensor_x(t, f, name, got, n, atol, rtol, 1, maxd, worst, worst_len);
}

static int meta_int(tu_ctx *t, const jp_st_file *f, const char *key)
{
    const char *v = jp_st_meta(f, key);
    if (!v) {
        tu_check(t, 0, "metadata '%s' missing from %s", key, f->path);
        return -1;
    }
    return atoi(v);
}

static int64_t rd_i64(const void *p)
{
    int64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* Checks that the model's table is exactly the file's init.* set (names, kinds' dtypes,
 * shapes; PyTorch order), then copies the tensors in. Returns 1 when all fit. */
static int load_state(tu_ctx *t, jp_wrn *m, const jp_st_file *f, const char *prefix, int verbose)
{
    int nt;
    const jp_tensor_info *ti = jp_wrn_tensors(m, &nt);
    float *params = jp_wrn_params(m), *buffers = jp_wrn_buffers(m);
    int64_t *counters = jp_wrn_counters(m);
    size_t plen = strlen(prefix);
    int ok = 1, missing = 0, badshape = 0, badorder = 0, badkind = 0;
    const size_t total[3] = {jp_wrn_param_count(m), jp_wrn_buffer_count(m), jp_wrn_counter_count(m)};
    size_t sum[3] = {0, 0, 0};
    char full[JP_ST_MAX_NAME + 16];

    /* the file's prefix entries in file order (the writer keeps insertion order) */
    int nfile = 0;
    const jp_st_entry **order = malloc(sizeof *order * (size_t)(f->count + 1));
    for (int i = 0; i < f->count; i++)
        if (strncmp(f->entries[i].name, prefix, plen) == 0) order[nfile++] = &f->entries[i];
    for (int i = 1; i < nfile; i++) /* insertion sort by data offset */
        for (int j = i; j > 0 && order[j]->begin < order[j - 1]->begin; j--) {
            const jp_st_entry *tmp = order[j];
            order[j] = order[j - 1];
            order[j - 1] = tmp;
        }
    /* jempp keeps PyTorch's order except that energy_output (unused by the classifier,
     * left out of its optimiser) is stored last: move it last in the expected order too */
    for (int i = 0, moved = 0; i < nfile - moved;) {
        if (strstr(order[i]->name, "energy_output.")) {
            const jp_st_entry *e = order[i];
            memmove(&order[i], &order[i + 1], sizeof *order * (size_t)(nfile - i - 1));
            order[nfile - 1] = e;
            moved++;
        } else {
            i++;
        }
    }

    for (int i = 0; i < nt; i++) {
        const jp_tensor_info *x = &ti[i];
        /* kind by PyTorch semantics, offsets inside their array */
        size_t ln = strlen(x->name);
        jp_tensor_kind kind = JP_T_PARAM;
        if ((ln >= 13 && strcmp(x->name + ln - 13, ".running_mean") == 0) ||
            (ln >= 12 && strcmp(x->name + ln - 12, ".running_var") == 0))
            kind = JP_T_BUFFER;
        else if (ln >= 20 && strcmp(x->name + ln - 20, ".num_batches_tracked") == 0)
            kind = JP_T_COUNTER;
        if (x->kind != kind || x->offset + x->count > total[kind]) {
            printf("        '%s': kind %d (expected %d), offset %zu + count %zu of %zu\n", x->name,
                   (int)x->kind, (int)kind, x->offset, x->count, total[kind]);
            badkind++;
            continue;
        }
        sum[x->kind] += x->count;
        for (int j = 0; j < i; j++)
            if (strcmp(ti[j].name, x->name) == 0) {
                printf("        table names '%s' twice\n", x->name);
                ok = 0;
            }
        snprintf(full, sizeof full, "%s%s", prefix, x->name);
        const jp_st_entry *e = jp_st_find(f, full);
        if (!e) {
            printf("        model tensor '%s' has no '%s' in %s\n", x->name, full, f->path);
            missing++;
            continue;
        }
        jp_dtype want = x->kind == JP_T_COUNTER ? JP_I64 : JP_F32;
        int shape_ok = e->dtype == want && e->ndim == x->ndim;
        size_t cnt = 1;
        for (int d = 0; shape_ok && d < x->ndim; d++) {
            shape_ok = e->shape[d] == x->shape[d];
            cnt *= (size_t)x->shape[d];
        }
        shape_ok = shape_ok && cnt == x->count && e->end - e->begin == cnt * jp_dtype_size(want);
        if (!shape_ok) {
            printf("        '%s': model ndim %d shape [%lld,%lld,%lld,%lld] count %zu, file %s ndim %d "
                   "shape [%lld,%lld,%lld,%lld]\n",
                   x->name, x->ndim, (long long)x->shape[0], (long long)(x->ndim > 1 ? x->shape[1] : 0),
                   (long long)(x->ndim > 2 ? x->shape[2] : 0), (long long)(x->ndim > 3 ? x->shape[3] : 0),
                   x->count, jp_dtype_name(e->dtype), e->ndim, (long long)e->shape[0],
                   (long long)(e->ndim > 1 ? e->shape[1] : 0), (long long)(e->ndim > 2 ? e->shape[2] : 0),
                   (long long)(e->ndim > 3 ? e->shape[3] : 0));
            badshape++;
            continue;
        }
        if (i < nfile && order[i] != e) badorder++;
        const void *src = jp_st_data(f, e);
        switch (x->kind) {
        case JP_T_PARAM: memcpy(params + x->offset, src, x->count * 4); break;
        case JP_T_BUFFER: memcpy(buffers + x->offset, src, x->count * 4); break;
        case JP_T_COUNTER:
            for (size_t k = 0; k < x->count; k++)
                counters[x->offset + k] = rd_i64((const char *)src + 8 * k);
            break;
        }
    }
    if (verbose) {
        /* names in the file the model does not have */
        int extra = 0;
        for (int i = 0; i < nfile; i++) {
            int found = 0;
            for (int j = 0; j < nt && !found; j++) found = strcmp(order[i]->name + plen, ti[j].name) == 0;
            if (!found) {
                printf("        file tensor '%s' is not in the model's table\n", order[i]->name);
                extra++;
            }
        }
        tu_check(t, missing == 0 && extra == 0 && nfile == nt,
                 "table = set of %s* tensors (model %d, file %d, missing %d, extra %d)", prefix, nt,
                 nfile, missing, extra);
        tu_check(t, badshape == 0, "table shapes and dtypes match the file (%d differ)", badshape);
        tu_check(t, badkind == 0, "table kinds (param/buffer/counter) and offsets (%d wrong)", badkind);
        tu_check(t, badorder == 0 && nfile == nt, "table in PyTorch state_dict order (%d out of place)",
                 badorder);
        tu_check(t, sum[JP_T_PARAM] == jp_wrn_param_count(m) &&
                        sum[JP_T_BUFFER] == jp_wrn_buffer_count(m) &&
                        sum[JP_T_COUNTER] == jp_wrn_counter_count(m),
                 "table counts add up: params %zu/%zu buffers %zu/%zu counters %zu/%zu",
                 sum[JP_T_PARAM], jp_wrn_param_count(m), sum[JP_T_BUFFER], jp_wrn_buffer_count(m),
                 sum[JP_T_COUNTER], jp_wrn_counter_count(m));
        ok = ok && missing == 0 && extra == 0 && badshape == 0 && badkind == 0;
    } else {
        ok = ok && missing == 0 && badshape == 0 && badkind == 0;
    }
    free(order);
    jp_wrn_params_changed(m);
    return ok;
}

/* Compares the model's tensors of the given kinds with prefix+name in the file. */
static void check_state(tu_ctx *t, jp_wrn *m, const jp_st_file *f, const char *prefix,
                        int want_params, double atol, double rtol, double *maxd_param,
                        double *maxd_buf, char *worst, size_t worst_len)
{
    int nt;
    const jp_tensor_info *ti = jp_wrn_tensors(m, &nt);
    char full[JP_ST_MAX_NAME + 16];
    for (int i = 0; i < nt; i++) {
        const jp_tensor_info *x = &ti[i];
        snprintf(full, sizeof full, "%s%s", prefix, x->name);
        if (x->kind == JP_T_PARAM) {
            if (want_params)
                check_tensor(t, f, full, jp_wrn_params(m) + x->offset, x->count, atol, rtol,
                             maxd_param, worst, worst_len);
        } else if (x->kind == JP_T_BUFFER) {
            /* running_var is ~1 in size: the same tolerances serve */
            check_tensor(t, f, full, jp_wrn_buffers(m) + x->offset, x->count, atol, rtol, maxd_buf,
                         NULL, 0);
        } else {
            const jp_st_entry *e = jp_st_find(f, full);
            int64_t ref = e && e->dtype == JP_I64 ? rd_i64(jp_st_data(f, e)) : -1;
            int64_t got = jp_wrn_counters(m)[x->offset];
            tu_check(t, got == ref, "%-40s %lld (ref %lld)", full, (long long)got, (long long)ref);
        }
    }
}

static int starts_with(const char *s, const char *p) { return strncmp(s, p, strlen(p)) == 0; }

static void run_file(tu_ctx *t, const char *path, int winograd, const tols *tl, maxdiffs *md)
{
    jp_st_file f;
    jp_error err;
    memset(md, 0, sizeof *md);
    if (jp_st_read(&f, path, &err) != JP_OK) {
        tu_check(t, 0, "read %s: %s", path, err.msg);
        return;
    }
    jp_wrn_config cfg;
    jp_wrn_config_defaults(&cfg);
    cfg.depth = meta_int(t, &f, "depth");
    cfg.width = meta_int(t, &f, "width");
    cfg.in_channels = meta_int(t, &f, "in_channels");
    cfg.image_size = meta_int(t, &f, "image_size");
    cfg.n_classes = meta_int(t, &f, "n_classes");
    const char *norm = jp_st_meta(&f, "norm");
    cfg.norm = norm && strcmp(norm, "batch") == 0 ? JP_NORM_BATCH : JP_NORM_NONE;
    cfg.dropout = 0;
    cfg.bn_momentum = 0.9f;
    cfg.bn_eps = 1e-5f;
    cfg.slope = 0.2f;
    cfg.winograd = winograd;
    int batch = meta_int(t, &f, "batch");
    printf("-- %s: WRN-%d-%d in %dx%dx%d, %d classes, norm %s, batch %d, winograd %d\n", path,
           cfg.depth, cfg.width, cfg.in_channels, cfg.image_size, cfg.image_size, cfg.n_classes,
           norm ? norm : "?", batch, winograd);

    jp_wrn *m = NULL;
    if (jp_wrn_create(&m, &cfg, batch, &err) != JP_OK) {
        tu_check(t, 0, "jp_wrn_create: %s", err.msg);
        jp_st_close(&f);
        return;
    }
    char desc[2048];
    jp_wrn_describe(m, desc, sizeof desc);
    printf("   %s\n", desc);
    tu_check(t, jp_wrn_feature_dim(m) == 64 * cfg.width, "feature dim %d == 64k",
             jp_wrn_feature_dim(m));

    if (!load_state(t, m, &f, "init.", 1)) {
        tu_check(t, 0, "cannot load %s: the remaining checks are skipped", path);
        jp_wrn_free(m);
        jp_st_close(&f);
        return;
    }

    const int n = batch, C = cfg.n_classes, HW = cfg.image_size * cfg.image_size;
    size_t nx = (size_t)n * cfg.in_channels * HW, nz = (size_t)n * 16 * HW;
    float *x = tu_ref_f32(&f, "x", NULL);
    int *y = malloc(sizeof(int) * n);
    {
        const jp_st_entry *e = jp_st_find(&f, "y");
        tu_check(t, e && e->dtype == JP_I64 && (e->end - e->begin) == 8 * (size_t)n, "labels y (I64, %d)", n);
        for (int i = 0; i < n; i++) y[i] = e ? (int)rd_i64((const char *)jp_st_data(&f, e) + 8 * i) : 0;
    }
    float *logits = malloc(sizeof(float) * n * C), *dlogits = malloc(sizeof(float) * n * C);
    float *dx = malloc(sizeof(float) * nx), *dx2 = malloc(sizeof(float) * nx);
    float *dz0 = malloc(sizeof(float) * nz);
    float *gz0_ref = tu_ref_f32(&f, "grad.z0", NULL);
    size_t P = jp_wrn_param_count(m);
    int nt;
    const jp_tensor_info *ti = jp_wrn_tensors(m, &nt);
    char full[JP_ST_MAX_NAME + 16];

    /* ---- train forward, loss, backward */
    jp_wrn_zero_grads(m);
    jp_wrn_forward(m, logits, x, n, 1);
    check_tensor(t, &f, "logits", logits, (size_t)n * C, tl->fwd_atol, tl->fwd_rtol, &md->logits, NULL, 0);
    float loss = (float)jp_cross_entropy_forward(logits, y, n, C);
    check_tensor(t, &f, "loss", &loss, 1, tl->fwd_atol, tl->fwd_rtol, &md->loss, NULL, 0);
    jp_cross_entropy_backward(dlogits, 1.0f, logits, y, n, C);
    jp_wrn_backward(m, dlogits, dx, 1);
    jp_wrn_slack(m, dz0);
    for (int i = 0; i < nt; i++) {
        if (ti[i].kind != JP_T_PARAM) continue;
        snprintf(full, sizeof full, "grad.%s", ti[i].name);
        check_grad(t, &f, full, jp_wrn_grads(m) + ti[i].offset, ti[i].count, tl->grad_atol,
                     tl->grad_rtol, &md->param_grad, md->param_grad_worst, sizeof md->param_grad_worst);
    }
    check_grad(t, &f, "grad.x", dx, nx, tl->grad_atol, tl->grad_rtol, &md->gx, NULL, 0);
    check_grad(t, &f, "grad.z0", dz0, nz, tl->grad_atol, tl->grad_rtol, &md->gz0, NULL, 0);
    check_state(t, m, &f, "after_fwd.", 0, tl->fwd_atol, tl->fwd_rtol, NULL, &md->after_fwd, NULL, 0);

    /* gradients accumulate: a second backward of the same forward doubles them */
    {
        float *g1 = malloc(sizeof(float) * P);
        memcpy(g1, jp_wrn_grads(m), sizeof(float) * P);
        jp_wrn_backward(m, dlogits, NULL, 1);
        for (size_t i = 0; i < P; i++) g1[i] *= 2.0f;
        tu_close(t, "second backward accumulates (g2 vs 2 g1)", jp_wrn_grads(m), g1, P, 1e-6, 1e-5);
        /* param_grads = 0 leaves the gradients alone */
        memcpy(g1, jp_wrn_grads(m), sizeof(float) * P);
        jp_wrn_backward(m, dlogits, dx2, 0);
        tu_check(t, memcmp(g1, jp_wrn_grads(m), sizeof(float) * P) == 0,
                 "backward with param_grads = 0 leaves the gradients unchanged");
        tu_check(t, memcmp(dx, dx2, sizeof(float) * nx) == 0, "backward again gives the same dx");
        free(g1);
    }

    /* ---- conv1 transposed applied to the slack equals the input gradient */
    jp_wrn_conv1_transpose(m, dx2, gz0_ref, n);
    check_grad(t, &f, "grad.x", dx2, nx, tl->grad_atol, tl->grad_rtol, &md->conv1t, NULL, 0);
    printf("        (above: conv1_transpose(ref grad.z0) vs ref grad.x)\n");
    jp_wrn_conv1_transpose(m, dx2, dz0, n);
    tu_close(t, "conv1_transpose(own dz0) vs own dx", dx2, dx, nx, scaled_atol(dx, nx, 1e-5), 1e-5);

    /* ---- eval forward with the running statistics of the train forward */
    float *buf_before = malloc(sizeof(float) * (jp_wrn_buffer_count(m) + 1));
    memcpy(buf_before, jp_wrn_buffers(m), sizeof(float) * jp_wrn_buffer_count(m));
    jp_wrn_forward(m, logits, x, n, 0);
    check_tensor(t, &f, "eval.logits", logits, (size_t)n * C, tl->fwd_atol, tl->fwd_rtol,
                 &md->eval_logits, NULL, 0);
    tu_check(t, memcmp(buf_before, jp_wrn_buffers(m), sizeof(float) * jp_wrn_buffer_count(m)) == 0,
             "eval forward leaves the running statistics alone");
    {
        float *ones = malloc(sizeof(float) * n);
        for (int i = 0; i < n; i++) ones[i] = 1.0f;
        jp_logsumexp_backward(dlogits, ones, logits, n, C);
        free(ones);
    }
    jp_wrn_backward(m, dlogits, dx, 0);
    check_grad(t, &f, "eval.grad.x", dx, nx, tl->grad_atol, tl->grad_rtol, &md->eval_gx, NULL, 0);

    /* eval with fewer rows than the batch: the first half */
    {
        int h = n / 2 > 0 ? n / 2 : 1;
        float *ref = tu_ref_f32(&f, "eval.logits", NULL);
        jp_wrn_forward(m, logits, x, h, 0);
        md->eval_small = tu_max_abs_diff(logits, ref, (size_t)h * C);
        tu_close(t, "eval.logits, first half of the batch", logits, ref, (size_t)h * C, tl->fwd_atol,
                 tl->fwd_rtol);
        float *gref = tu_ref_f32(&f, "eval.grad.x", NULL);
        float *ones = malloc(sizeof(float) * h);
        for (int i = 0; i < h; i++) ones[i] = 1.0f;
        jp_logsumexp_backward(dlogits, ones, logits, h, C);
        jp_wrn_backward(m, dlogits, dx, 0);
        size_t nh = (size_t)h * cfg.in_channels * HW;
        double d = tu_max_abs_diff(dx, gref, nh);
        if (d > md->eval_small) md->eval_small = d;
        tu_close(t, "eval.grad.x, first half of the batch", dx, gref, nh,
                 scaled_atol(gref, nh, tl->grad_atol), tl->grad_rtol);
        free(ones);
        free(gref);
        free(ref);
    }

    /* ---- 5 SGD steps from the initial state (torch.optim.SGD; energy_output has no
     * gradient in the reference, .grad None, so torch skips it: no decay either) */
    load_state(t, m, &f, "init.", 0);
    float *p0 = malloc(sizeof(float) * (P + 1));
    memcpy(p0, jp_wrn_params(m), sizeof(float) * P);
    {
        float *p = jp_wrn_params(m), *g = jp_wrn_grads(m);
        float *mbuf = calloc(P + 1, sizeof(float));
        unsigned char *skip = calloc(P + 1, 1);
        for (int i = 0; i < nt; i++)
            if (ti[i].kind == JP_T_PARAM && starts_with(ti[i].name, "energy_output."))
                memset(skip + ti[i].offset, 1, ti[i].count);
        const float lr = 0.1f, mom = 0.9f, wd = 4e-4f;
        for (int step = 0; step < 5; step++) {
            jp_wrn_zero_grads(m);
            jp_wrn_forward(m, logits, x, n, 1);
            jp_cross_entropy_backward(dlogits, 1.0f, logits, y, n, C);
            jp_wrn_backward(m, dlogits, NULL, 1);
            for (size_t i = 0; i < P; i++) {
                if (skip[i]) continue;
                float d = fmaf(p[i], wd, g[i]);              /* grad.add(p, alpha=wd) */
                mbuf[i] = step == 0 ? d : fmaf(mbuf[i], mom, d); /* buf.mul_(m).add_(d) */
                p[i] = fmaf(mbuf[i], -lr, p[i]);             /* p.add_(buf, alpha=-lr) */
            }
            jp_wrn_params_changed(m);
        }
        free(mbuf);
        free(skip);
    }
    check_state(t, m, &f, "sgd5.", 1, tl->sgd_atol, tl->sgd_rtol, &md->sgd5_param, &md->sgd5_buffer,
                md->sgd5_worst, sizeof md->sgd5_worst);
    /* the update itself, sgd5 - init, against torch's (gradient-like tolerances) */
    for (int i = 0; i < nt; i++) {
        if (ti[i].kind != JP_T_PARAM) continue;
        snprintf(full, sizeof full, "sgd5.%s", ti[i].name);
        float *ref = tu_ref_f32(&f, full, NULL);
        float *got = malloc(sizeof(float) * ti[i].count);
        for (size_t k = 0; k < ti[i].count; k++) {
            got[k] = jp_wrn_params(m)[ti[i].offset + k] - p0[ti[i].offset + k];
            ref[k] -= p0[ti[i].offset + k];
        }
        double d = tu_max_abs_diff(got, ref, ti[i].count);
        if (d > md->sgd5_delta) md->sgd5_delta = d;
        snprintf(full, sizeof full, "update sgd5-init %s", ti[i].name);
        tu_close(t, full, got, ref, ti[i].count, scaled_atol(ref, ti[i].count, tl->grad_atol),
                 tl->grad_rtol);
        free(got);
        free(ref);
    }
    free(p0);

    /* ---- the unconditional model (--uncond): log p(x) is the energy head. A model built
     * with cfg.uncond, from the initial state, train mode: jp_wrn_log_px gives e, and
     * jp_wrn_backward_log_px of sum_i w_i e_i plus the cross-entropy's d(logits) gives
     * torch's gradients of both heads, the trunk and x. */
    {
        jp_wrn_config cu = cfg;
        cu.uncond = 1;
        jp_wrn *mu = NULL;
        if (jp_wrn_create(&mu, &cu, batch, &err) != JP_OK) {
            tu_check(t, 0, "jp_wrn_create (uncond): %s", err.msg);
        } else if (load_state(t, mu, &f, "init.", 0)) {
            float *e = malloc(sizeof(float) * n), *w = tu_ref_f32(&f, "uncond.w", NULL);
            jp_wrn_zero_grads(mu);
            jp_wrn_forward(mu, logits, x, n, 1);
            jp_wrn_log_px(mu, logits, e, n);
            check_tensor(t, &f, "uncond.e", e, (size_t)n, tl->fwd_atol, tl->fwd_rtol, &md->uncond, NULL, 0);
            jp_cross_entropy_backward(dlogits, 1.0f, logits, y, n, C);
            jp_wrn_backward_log_px(mu, logits, w, dlogits, dx, 1);
            int nu;
            const jp_tensor_info *tu = jp_wrn_tensors(mu, &nu);
            for (int i = 0; i < nu; i++) {
                if (tu[i].kind != JP_T_PARAM) continue;
                snprintf(full, sizeof full, "uncond.grad.%s", tu[i].name);
                check_grad(t, &f, full, jp_wrn_grads(mu) + tu[i].offset, tu[i].count, tl->grad_atol,
                           tl->grad_rtol, &md->uncond, NULL, 0);
            }
            check_grad(t, &f, "uncond.grad.x", dx, nx, tl->grad_atol, tl->grad_rtol, &md->uncond, NULL, 0);
            free(e);
            free(w);
        }
        jp_wrn_free(mu);
    }

    free(buf_before);
    free(gz0_ref);
    free(dz0);
    free(dx2);
    free(dx);
    free(dlogits);
    free(logits);
    free(y);
    free(x);
    jp_wrn_free(m);
    jp_st_close(&f);
}

static void report(const char *path, int winograd, const maxdiffs *md)
{
    printf("== max |diff| %s winograd %d:\n"
           "   logits %.3g  loss %.3g  param grads %.3g (%s)  grad.x %.3g  grad.z0 %.3g\n"
           "   after_fwd buffers %.3g  eval.logits %.3g  eval.grad.x %.3g  eval half batch %.3g\n"
           "   conv1^T(grad.z0) vs grad.x %.3g  sgd5 params %.3g (%s)  sgd5 buffers %.3g"
           "  sgd5-init updates %.3g\n   uncond (energy head, its gradients, grad.x) %.3g\n",
           path, winograd, md->logits, md->loss, md->param_grad, md->param_grad_worst, md->gx,
           md->gz0, md->after_fwd, md->eval_logits, md->eval_gx, md->eval_small, md->conv1t,
           md->sgd5_param, md->sgd5_worst, md->sgd5_buffer, md->sgd5_delta, md->uncond);
}

int main(int argc, char **argv)
{
    tu_ctx t;
    tu_begin(&t, "test_wrn_torch");
    const tols direct = {FWD_ATOL, FWD_RTOL, GRAD_ATOL, GRAD_RTOL, SGD_ATOL, SGD_RTOL};
    const tols wino = {WINO_FWD_ATOL, WINO_FWD_RTOL, WINO_GRAD_ATOL, WINO_GRAD_RTOL,
                       WINO_SGD_ATOL, WINO_SGD_RTOL};
    char bn[1024], nobn[1024], deep[1024];
    tu_src_path(bn, sizeof bn, "tests/data/wrn_ref_bn.safetensors");
    tu_src_path(nobn, sizeof nobn, "tests/data/wrn_ref_nobn.safetensors");
    tu_src_path(deep, sizeof deep, "tests/data/wrn_ref_deep.safetensors"); /* WRN-16-1: 2 blocks a group */

    enum { MAXRUN = 16 };
    maxdiffs md[MAXRUN];
    const char *paths[MAXRUN];
    int winos[MAXRUN], nrun = 0;
    const char *files[MAXRUN];
    int nfiles = 0;
    if (argc > 1) {
        for (int i = 1; i < argc && nfiles < MAXRUN / 2; i++) files[nfiles++] = argv[i];
    } else {
        files[nfiles++] = bn;
        files[nfiles++] = nobn;
        files[nfiles++] = deep;
    }
    for (int i = 0; i < nfiles; i++) {
        for (int w = 0; w < 2; w++) {
            /* Winograd only matters with BN's 3x3 stride-1 convolutions of any size; run it
             * for every file that asks for BN (the no-BN file once). */
            if (w == 1) {
                jp_st_file f;
                jp_error err;
                int is_bn = 0;
                if (jp_st_read(&f, files[i], &err) == JP_OK) {
                    const char *nm = jp_st_meta(&f, "norm");
                    is_bn = nm && strcmp(nm, "batch") == 0;
                    jp_st_close(&f);
                }
                if (!is_bn) continue;
            }
            run_file(&t, files[i], w, w ? &wino : &direct, &md[nrun]);
            paths[nrun] = files[i];
            winos[nrun] = w;
            nrun++;
        }
    }
    for (int i = 0; i < nrun; i++) report(paths[i], winos[i], &md[i]);
    return tu_finish(&t);
}
