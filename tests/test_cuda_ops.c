/* The CUDA backend's element-wise operations (src/cuda/cuda_backend.h) against their CPU
 * counterparts, element by element, on random data: LeakyReLU forward and backward,
 * log-sum-exp, the cross-entropy's gradient, PYLD's clamped step, three SGD steps with
 * momentum and weight decay, three Adam steps, and the Philox normals (the same numbers
 * for the same seed and offset, another seed other numbers, mean 0 and standard
 * deviation 1 within 4 standard errors). Needs a GPU: without one (or in a build
 * without the CUDA backend) it reports SKIPPED with the reason. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "jempp/ops.h"
#include "jempp/optim.h"
#include "testutil.h"

#ifndef JEMPP_HAVE_CUDA
int main(void)
{
    tu_ctx t;
    tu_begin(&t, "test_cuda_ops");
    return tu_skip_machine(&t, "this build has no CUDA backend (nvcc and cuDNN were not found at configure time)");
}
#else
#include "cuda/cuda_backend.h"

enum { N = 4099, ROWS = 37, K = 10 };

static void fill(float *x, size_t n, jp_rng *r, float lo, float hi) { jp_rng_fill_uniform(r, x, n, lo, hi); }

/* Uploads n floats into a new device array. */
static float *dev(tu_ctx *t, jp_cuda *c, const float *host, size_t n)
{
    void *p = NULL;
    jp_error err;
    if (jp_cuda_alloc(c, &p, n * sizeof(float), &err) || (host && jp_cuda_upload(c, p, host, n * sizeof(float), &err)))
        tu_check(t, 0, "device array of %zu floats: %s", n, err.msg);
    return p;
}

static void got(tu_ctx *t, jp_cuda *c, float *host, const float *d, size_t n)
{
    jp_error err;
    if (jp_cuda_sync(c, &err) || jp_cuda_download(c, host, d, n * sizeof(float), &err))
        tu_check(t, 0, "download: %s", err.msg);
}

int main(void)
{
    tu_ctx t;
    tu_begin(&t, "test_cuda_ops");
    char why[200];
    if (jp_cuda_device_count(why, sizeof why) == 0) return tu_skip_machine(&t, "%s", why);
    jp_cuda *c;
    jp_error err;
    if (jp_cuda_open(&c, 0, &err)) {
        tu_check(&t, 0, "jp_cuda_open: %s", err.msg);
        return tu_finish(&t);
    }
    printf("device: %s\n", jp_cuda_describe(c));
    jp_rng r;
    jp_rng_seed(&r, 11);
    float *x = malloc(N * sizeof(float)), *y = malloc(N * sizeof(float)), *g = malloc(N * sizeof(float));
    float *ref = malloc(N * sizeof(float)), *out = malloc(N * sizeof(float));
    fill(x, N, &r, -2, 2);
    fill(g, N, &r, -3, 3);

    /* LeakyReLU */
    float *dx = dev(&t, c, x, N), *dy = dev(&t, c, NULL, N), *dg = dev(&t, c, g, N);
    jp_cuda_lrelu_forward(c, dy, dx, N, 0.2f);
    got(&t, c, out, dy, N);
    for (size_t i = 0; i < N; i++) ref[i] = x[i] > 0 ? x[i] : 0.2f * x[i];
    tu_close(&t, "lrelu forward", out, ref, N, 0, 0);
    memcpy(y, ref, N * sizeof(float));
    jp_cuda_lrelu_backward(c, dx, dg, dy, N, 0.2f);
    got(&t, c, out, dx, N);
    for (size_t i = 0; i < N; i++) ref[i] = y[i] > 0 ? g[i] : 0.2f * g[i];
    tu_close(&t, "lrelu backward", out, ref, N, 0, 0);

    /* log-sum-exp and the cross-entropy's gradient */
    float logits[ROWS * K], lse[ROWS], dl[ROWS * K], lse_ref[ROWS], dl_ref[ROWS * K];
    int lab[ROWS];
    fill(logits, ROWS * K, &r, -8, 8);
    for (int i = 0; i < ROWS; i++) lab[i] = (int)jp_rng_below(&r, K);
    float *dlog = dev(&t, c, logits, ROWS * K), *dlse = dev(&t, c, NULL, ROWS), *ddl = dev(&t, c, NULL, ROWS * K);
    int *dlab = NULL;
    if (jp_cuda_alloc(c, (void **)&dlab, sizeof lab, &err) || jp_cuda_upload(c, dlab, lab, sizeof lab, &err))
        tu_check(&t, 0, "labels: %s", err.msg);
    jp_cuda_logsumexp(c, dlse, dlog, ROWS, K);
    got(&t, c, lse, dlse, ROWS);
    jp_logsumexp_forward(lse_ref, logits, ROWS, K);
    tu_close(&t, "log-sum-exp", lse, lse_ref, ROWS, 1e-6, 1e-6);
    jp_cuda_cross_entropy_backward(c, ddl, 0.7f, dlog, dlab, ROWS, K);
    got(&t, c, dl, ddl, ROWS * K);
    jp_cross_entropy_backward(dl_ref, 0.7f, logits, lab, ROWS, K);
    tu_close(&t, "cross-entropy backward", dl, dl_ref, ROWS * K, 1e-7, 1e-6);

    /* PYLD step */
    if (jp_cuda_upload(c, dx, x, N * sizeof(float), &err)) tu_check(&t, 0, "upload: %s", err.msg);
    jp_cuda_pyld_step(c, dx, dg, N, 0.2f, 1.0f);
    got(&t, c, out, dx, N);
    for (size_t i = 0; i < N; i++) {
        float v = x[i] + 0.2f * fminf(fmaxf(g[i], -1.0f), 1.0f);
        ref[i] = fminf(fmaxf(v, -1.0f), 1.0f);
    }
    tu_close(&t, "PYLD step", out, ref, N, 0, 0);

    /* optimisers: three steps each, the device against jp_sgd_update / jp_adam_update */
    for (int kind = 0; kind < 2; kind++) {
        jp_optim_config oc;
        if (kind == 0) jp_optim_config_sgd(&oc);
        else jp_optim_config_adam(&oc);
        oc.weight_decay = 4e-4;
        float *p = malloc(N * sizeof(float)), *m = calloc(N, sizeof(float)), *v = calloc(N, sizeof(float));
        fill(p, N, &r, -1, 1);
        float *dp = dev(&t, c, p, N), *dm = dev(&t, c, m, N), *dv = dev(&t, c, v, N);
        for (int step = 1; step <= 3; step++) {
            double lr = 0.05 * step;
            if (kind == 0) {
                jp_cuda_sgd_update(c, &oc, dp, dg, dm, N, step == 1, lr);
                jp_sgd_update(&oc, p, g, m, N, step == 1, lr);
            } else {
                jp_cuda_adam_update(c, &oc, dp, dg, dm, dv, N, step, lr);
                jp_adam_update(&oc, p, g, m, v, NULL, N, step, lr);
            }
        }
        got(&t, c, out, dp, N);
        tu_close(&t, kind ? "Adam, 3 steps: parameters" : "SGD, 3 steps: parameters", out, p, N, 1e-7, 1e-6);
        got(&t, c, out, dm, N);
        tu_close(&t, kind ? "Adam: exp_avg" : "SGD: momentum buffer", out, m, N, 1e-7, 1e-6);
        jp_cuda_free(c, dp), jp_cuda_free(c, dm), jp_cuda_free(c, dv);
        free(p), free(m), free(v);
    }

    /* Philox normals */
    jp_cuda_normal(c, dx, N, 42, 7);
    got(&t, c, out, dx, N);
    jp_cuda_normal(c, dy, N, 42, 7);
    got(&t, c, ref, dy, N);
    tu_check(&t, memcmp(out, ref, N * sizeof(float)) == 0, "normals: same seed and offset, same numbers");
    jp_cuda_normal(c, dy, N, 43, 7);
    got(&t, c, ref, dy, N);
    size_t same = 0;
    for (size_t i = 0; i < N; i++) same += out[i] == ref[i];
    tu_check(&t, same < 10, "normals: another seed, other numbers (%zu of %d equal)", same, N);
    double s = 0, q = 0;
    for (size_t i = 0; i < N; i++) s += out[i], q += (double)out[i] * out[i];
    double mean = s / N, sd = sqrt(q / N - mean * mean);
    tu_check(&t, fabs(mean) < 4 / sqrt((double)N) && fabs(sd - 1) < 4 / sqrt(2.0 * N), "normals: mean %.4f, std %.4f",
             mean, sd);

    jp_cuda_free(c, dx), jp_cuda_free(c, dy), jp_cuda_free(c, dg), jp_cuda_free(c, dlog), jp_cuda_free(c, dlse);
    jp_cuda_free(c, ddl), jp_cuda_free(c, dlab);
    free(x), free(y), free(g), free(ref), free(out);
    jp_cuda_close(c);
    return tu_finish(&t);
}
#endif
