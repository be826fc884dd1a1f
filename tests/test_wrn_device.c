/* A whole WRN on the GPU against the same WRN on the CPU, from the same weights and
 * data: WRN-10-2 with batch norm on 1x28x28, WRN-16-2 with batch norm on 3x32x32 (two
 * blocks a group), WRN-10-2 without norm. Per model: the train-mode logits, the BN
 * running statistics after that forward, the gradients of sum_i LSE(f(x_i)) / B with
 * respect to every parameter and to the input, a PYLD-3-2 sampler run (no noise), and the
 * parameters after 5 SGD steps on the cross-entropy (momentum, weight decay). TF32 is off
 * (cuDNN's FMA math); the CPU runs jempp's Winograd on the 3x3 layers, which rounds
 * differently by about 1e-6 of a layer's values, so the bounds are relative to the
 * largest value: logits and statistics 1e-4, gradients 1e-3 (99.9% of the values, all
 * within 1e-2), samples 1e-3 (99%: a LeakyReLU input near 0 may switch sides), the
 * parameters' change over 5 steps 1e-2 (99%).
 * Needs a GPU: without one (or a CUDA build) it reports SKIPPED with the reason. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "jempp/ebm.h"
#include "jempp/ops.h"
#include "jempp/optim.h"
#include "jempp/wrn.h"
#include "ops/device.h"
#include "testutil.h"
#ifdef JEMPP_HAVE_CUDA
#include "cuda/cuda_backend.h"
#endif

#ifdef JEMPP_HAVE_CUDA
enum { B = 8, SGD_STEPS = 5 };

/* max |got - ref| against the largest |ref|: the share within rel of it and the worst */
static void close_rel(tu_ctx *t, const char *what, const float *got, const float *ref, size_t n, double rel, double share)
{
    double scale = 0, worst = 0;
    for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs(ref[i]));
    size_t within = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)got[i] - ref[i]);
        if (!(e <= worst)) worst = isnan(e) ? INFINITY : e;
        within += e <= rel * scale;
    }
    tu_check(t, within >= share * n && worst <= 10 * rel * scale,
             "%s: %zu of %zu within %.0e of the largest |value| %.3g (at least %.0f%%), worst %.3g", what, within, n, rel,
             scale, 100 * share, worst);
}

static float *host_of(const jp_device *d, const float *p, size_t n)
{
    float *h = malloc(n * sizeof(float));
    jp_error err;
    JP_CHECK(d->ops->sync(d->state, &err) == JP_OK);
    jp_dev_download(d, h, p, n * sizeof(float));
    return h;
}

static void check_model(tu_ctx *t, const jp_device *gpu, int depth, int ch, int size, jp_norm norm)
{
    char label[96];
    snprintf(label, sizeof label, "WRN-%d-2 %s %dx%dx%d", depth, norm == JP_NORM_BATCH ? "BN" : "no norm", ch, size, size);
    jp_wrn_config c;
    jp_wrn_config_defaults(&c);
    c.depth = depth, c.width = 2, c.in_channels = ch, c.image_size = size, c.norm = norm;
    jp_wrn *cm = NULL, *gm = NULL;
    jp_error err;
    if (jp_wrn_create(&cm, &c, B, &err)) {
        tu_check(t, 0, "%s on the CPU: %s", label, err.msg);
        return;
    }
    c.kernels.device = gpu;
    if (jp_wrn_create(&gm, &c, B, &err)) {
        tu_check(t, 0, "%s on the GPU: %s", label, err.msg);
        jp_wrn_free(cm);
        return;
    }
    jp_rng r;
    jp_rng_seed(&r, 7);
    jp_wrn_init_params(cm, &r);
    size_t P = jp_wrn_param_count(cm), NB = jp_wrn_buffer_count(cm), K = (size_t)c.n_classes;
    size_t D = (size_t)ch * size * size;
    jp_dev_upload(gpu, jp_wrn_params(gm), jp_wrn_params(cm), P * sizeof(float));
    jp_dev_upload(gpu, jp_wrn_buffers(gm), jp_wrn_buffers(cm), NB * sizeof(float));
    jp_wrn_params_changed(gm);
    float *x = malloc(B * D * sizeof(float)), *w = malloc(B * sizeof(float));
    int y[B];
    jp_rng_fill_uniform(&r, x, B * D, -1, 1);
    for (int i = 0; i < B; i++) w[i] = 1.0f / B, y[i] = (int)jp_rng_below(&r, K);
    float *xd = jp_dev_alloc(gpu, B * D * sizeof(float)), *wd = jp_dev_alloc(gpu, B * sizeof(float));
    float *ld = jp_dev_alloc(gpu, B * K * sizeof(float)), *dxd = jp_dev_alloc(gpu, B * D * sizeof(float));
    int *yd = jp_dev_alloc(gpu, sizeof y);
    jp_dev_upload(gpu, xd, x, B * D * sizeof(float));
    jp_dev_upload(gpu, wd, w, B * sizeof(float));
    jp_dev_upload(gpu, yd, y, sizeof y);
    float *logits = malloc(B * K * sizeof(float)), *dx = malloc(B * D * sizeof(float));
    char what[160];

    /* forward, statistics, gradients of the mean LSE */
    jp_wrn_zero_grads(cm), jp_wrn_zero_grads(gm);
    jp_wrn_forward(cm, logits, x, B, 1);
    jp_wrn_forward(gm, ld, xd, B, 1);
    float *lg = host_of(gpu, ld, B * K);
    snprintf(what, sizeof what, "%s logits", label);
    close_rel(t, what, lg, logits, B * K, 1e-4, 1.0);
    float *bg = host_of(gpu, jp_wrn_buffers(gm), NB);
    snprintf(what, sizeof what, "%s BN running statistics", label);
    if (NB) close_rel(t, what, bg, jp_wrn_buffers(cm), NB, 1e-4, 1.0);
    jp_wrn_backward_log_px(cm, logits, w, NULL, dx, 1);
    jp_wrn_backward_log_px(gm, ld, wd, NULL, dxd, 1);
    float *gg = host_of(gpu, jp_wrn_grads(gm), P), *dxg = host_of(gpu, dxd, B * D);
    snprintf(what, sizeof what, "%s parameter gradients", label);
    close_rel(t, what, gg, jp_wrn_grads(cm), P, 1e-3, 0.999);
    snprintf(what, sizeof what, "%s input gradient", label);
    close_rel(t, what, dxg, dx, B * D, 1e-3, 0.999);
    free(lg), free(bg), free(gg), free(dxg);

    /* PYLD-3-2 from the same starts */
    jp_sampler_config sc;
    jp_sampler_config_pyld(&sc);
    sc.n_steps = 3, sc.in_steps = 2;
    jp_sampler_work cw, gw;
    if (jp_sampler_work_init(&cw, cm, &err) || jp_sampler_work_init(&gw, gm, &err)) {
        tu_check(t, 0, "%s sampler: %s", label, err.msg);
    } else {
        jp_rng r1 = r, r2 = r;
        double lc = jp_sample(cm, &cw, &sc, x, NULL, B, &r1);
        double lgpu = jp_sample(gm, &gw, &sc, xd, NULL, B, &r2);
        float *xs = host_of(gpu, xd, B * D);
        snprintf(what, sizeof what, "%s PYLD-3-2 samples", label);
        close_rel(t, what, xs, x, B * D, 1e-3, 0.99);
        tu_check(t, fabs(lc - lgpu) <= 1e-4 * (1 + fabs(lc)), "%s PYLD mean LSE %.6f, CPU %.6f", label, lgpu, lc);
        free(xs);
        jp_sampler_work_free(&cw);
        jp_sampler_work_free(&gw);
    }

    /* 5 SGD steps on the cross-entropy of the (sampled) batch */
    jp_optim_config oc;
    jp_optim_config_sgd(&oc);
    oc.momentum = 0.9, oc.weight_decay = 5e-4;
    jp_optim co, go;
    float *p0 = malloc(P * sizeof(float));
    memcpy(p0, jp_wrn_params(cm), P * sizeof(float));
    jp_dev_upload(gpu, xd, x, B * D * sizeof(float));
    if (jp_optim_init(&co, &oc, P, &err) || jp_optim_init_on(&go, &oc, P, gpu, &err)) {
        tu_check(t, 0, "%s optimiser: %s", label, err.msg);
    } else {
        float *dl = malloc(B * K * sizeof(float)), *dld = jp_dev_alloc(gpu, B * K * sizeof(float));
        for (int s = 0; s < SGD_STEPS; s++) {
            jp_wrn_zero_grads(cm), jp_wrn_zero_grads(gm);
            jp_wrn_forward(cm, logits, x, B, 1);
            jp_wrn_forward(gm, ld, xd, B, 1);
            jp_cross_entropy_backward(dl, 1.0f, logits, y, B, (int)K);
            gpu->ops->cross_entropy_backward(gpu->state, dld, 1.0f, ld, yd, B, (int)K);
            jp_wrn_backward(cm, dl, NULL, 1);
            jp_wrn_backward(gm, dld, NULL, 1);
            jp_optim_step(&co, jp_wrn_params(cm), jp_wrn_grads(cm), P, 0.1);
            jp_optim_step(&go, jp_wrn_params(gm), jp_wrn_grads(gm), P, 0.1);
            jp_wrn_params_changed(cm), jp_wrn_params_changed(gm);
        }
        float *pg = host_of(gpu, jp_wrn_params(gm), P), *dg = malloc(P * sizeof(float)), *dc = malloc(P * sizeof(float));
        for (size_t i = 0; i < P; i++) dg[i] = pg[i] - p0[i], dc[i] = jp_wrn_params(cm)[i] - p0[i];
        snprintf(what, sizeof what, "%s change of the parameters over %d SGD steps", label, SGD_STEPS);
        close_rel(t, what, dg, dc, P, 1e-2, 0.99);
        free(pg), free(dg), free(dc), free(dl);
        jp_dev_release(gpu, dld);
        jp_optim_free(&co);
        jp_optim_free(&go);
    }
    free(p0), free(x), free(w), free(logits), free(dx);
    jp_dev_release(gpu, xd), jp_dev_release(gpu, wd), jp_dev_release(gpu, ld), jp_dev_release(gpu, dxd);
    jp_dev_release(gpu, yd);
    jp_wrn_free(cm);
    jp_wrn_free(gm);
}
#endif

int main(void)
{
    tu_ctx t;
    tu_begin(&t, "test_wrn_device");
#ifndef JEMPP_HAVE_CUDA
    return tu_skip_machine(&t, "this build has no CUDA backend (nvcc and cuDNN were not found at configure time)");
#else
    char why[200];
    if (jp_cuda_device_count(why, sizeof why) == 0) return tu_skip_machine(&t, "%s", why);
    jp_device gpu;
    jp_error err;
    if (jp_cuda_device_open(&gpu, 0, &err)) {
        tu_check(&t, 0, "the CUDA device: %s", err.msg);
        return tu_finish(&t);
    }
    printf("device: %s\n", jp_cuda_describe((jp_cuda *)gpu.state));
    jp_cuda_set_math((jp_cuda *)gpu.state, 0, 0);
    check_model(&t, &gpu, 10, 1, 28, JP_NORM_BATCH);
    check_model(&t, &gpu, 16, 3, 32, JP_NORM_BATCH);
    check_model(&t, &gpu, 10, 1, 28, JP_NORM_NONE);
    jp_cuda_device_close(&gpu);
    return tu_finish(&t);
#endif
}
