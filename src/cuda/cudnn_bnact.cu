/* The batch norm + LeakyReLU implementation "cudnn" (ops/bnact.c gives the math): cuDNN's
 * spatial batch normalisation, then a LeakyReLU kernel in place, on plain NCHW device
 * arrays.
 *
 * Train forward: cudnnBatchNormalizationForwardTraining writes the batch mean and
 *   1/sqrt(var + eps) into the caller's mean / var; a kernel turns the second into the
 *   biased variance, 1/s^2 - eps, which is what the plan hands back (ops/bnact.c keeps the
 *   running statistics from it). The running statistics are not passed to cuDNN.
 * Eval forward: cudnnBatchNormalizationForwardInference with the running statistics.
 * Backward: dy = da * (a > 0 ? 1 : slope) in place; train: cudnnBatchNormalizationBackward,
 *   which recomputes the batch statistics from src (no saved ones passed); eval (the
 *   statistics constants): dx = g / sqrt(rv + eps) dy, dgamma = sum dy (x - rm) /
 *   sqrt(rv + eps), dbeta = sum dy, one thread per channel.
 * Without batch norm (norm "none") only the activation runs. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "cuda/cuda_context.h"

typedef struct {
    cudnnTensorDescriptor_t x, bn;
    float *dparams; /* 2C: cuDNN's parameter gradients when the caller wants none */
} bn_state;

static jp_cuda *cuda_of(const jp_bnact_plan *p) { return (jp_cuda *)p->ctx->dev->state; }
static size_t count_of(const jp_bnact_plan *p) { return (size_t)p->s.n * p->s.c * p->s.h * p->s.w; }
static unsigned grid_for(size_t n) { return (unsigned)((n + 255) / 256 < 65535 ? (n + 255) / 256 : 65535); }
#define EACH(i, n) for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < (n); i += (size_t)gridDim.x * blockDim.x)

static void check(cudnnStatus_t s, const char *what)
{
    if (s != CUDNN_STATUS_SUCCESS) jp_check_failed(__FILE__, __LINE__, what);
}

static jp_status init(jp_bnact_plan *p, jp_error *err)
{
    const jp_bn_shape *s = &p->s;
    bn_state *b = (bn_state *)calloc(1, sizeof *b);
    if (!b) return jp_fail(err, JP_ERR_NOMEM, "cuDNN batch-norm plan");
    p->state = b;
    if (p->has_bn && (double)s->eps < CUDNN_BN_MIN_EPSILON)
        return jp_fail(err, JP_ERR_ARG, "batch-norm eps %g: cuDNN needs at least %g", (double)s->eps,
                       CUDNN_BN_MIN_EPSILON);
    cudnnStatus_t st = cudnnCreateTensorDescriptor(&b->x);
    if (st == CUDNN_STATUS_SUCCESS) st = cudnnCreateTensorDescriptor(&b->bn);
    if (st == CUDNN_STATUS_SUCCESS)
        st = cudnnSetTensor4dDescriptor(b->x, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, s->n, s->c, s->h, s->w);
    if (st == CUDNN_STATUS_SUCCESS) st = cudnnDeriveBNTensorDescriptor(b->bn, b->x, CUDNN_BATCHNORM_SPATIAL);
    if (st != CUDNN_STATUS_SUCCESS)
        return jp_fail(err, JP_ERR_BACKEND, "cuDNN batch-norm descriptors: %s", cudnnGetErrorString(st));
    b->dparams = (float *)jp_dev_alloc(p->ctx->dev, 2 * (size_t)s->c * sizeof(float));
    if (!b->dparams) return jp_fail(err, JP_ERR_NOMEM, "cuDNN batch-norm plan: %d channels", s->c);
    return JP_OK;
}

static void release(jp_bnact_plan *p)
{
    bn_state *b = (bn_state *)p->state;
    if (!b) return;
    if (b->x) cudnnDestroyTensorDescriptor(b->x);
    if (b->bn) cudnnDestroyTensorDescriptor(b->bn);
    jp_dev_release(p->ctx->dev, b->dparams);
    free(b);
    p->state = NULL;
}

static const char *kernel(const jp_bnact_plan *p, int k)
{
    static const char *const bn[6] = {"cudnn:bn-fwd-training", "cudnn:bn-fwd-inference", "cudnn:bn-bwd",
                                      "jempp-cuda:bn-bwd-eval", "jempp-cuda:lrelu", "jempp-cuda:lrelu-bwd"};
    if (k == 4 || k == 5) return bn[k];
    return p->has_bn ? bn[k] : NULL;
}

__global__ void k_lrelu(float *y, const float *x, size_t n, float slope)
{
    EACH(i, n) y[i] = x[i] > 0.0f ? x[i] : slope * x[i];
}

/* d(bn out) = da * (a > 0 ? 1 : slope) */
__global__ void k_lrelu_bwd(float *dy, const float *da, const float *a, size_t n, float slope)
{
    EACH(i, n) dy[i] = a[i] > 0.0f ? da[i] : slope * da[i];
}

/* var = 1 / s^2 - eps from s = 1 / sqrt(var + eps) */
__global__ void k_inv_std_to_var(float *v, int c, float eps)
{
    int j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j < c) v[j] = 1.0f / (v[j] * v[j]) - eps;
}

/* eval backward, one thread per channel j over its n * hw values */
__global__ void k_bn_bwd_eval(float *dx, float *dg, float *db, const float *dy, const float *x, const float *rm,
                              const float *rv, const float *gamma, int n, int c, int hw, float eps)
{
    int j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= c) return;
    float inv = 1.0f / sqrtf(rv[j] + eps), scale = gamma[j] * inv;
    double sg = 0, sb = 0;
    for (int i = 0; i < n; i++) {
        size_t at = ((size_t)i * c + j) * hw;
        for (int q = 0; q < hw; q++) {
            float d = dy[at + q];
            sb += d;
            sg += (double)d * ((x[at + q] - rm[j]) * inv);
            dx[at + q] = scale * d;
        }
    }
    if (dg) dg[j] = (float)sg;
    if (db) db[j] = (float)sb;
}

static void forward(const jp_bnact_plan *p, int train, float *dst, float *mean, float *var, const float *src,
                    const float *gamma, const float *beta)
{
    const bn_state *b = (const bn_state *)p->state;
    jp_cuda *cu = cuda_of(p);
    size_t n = count_of(p);
    const float one = 1.0f, zero = 0.0f;
    const jp_bn_shape *s = &p->s;
    if (!p->has_bn) {
        k_lrelu<<<grid_for(n), 256, 0, cu->stream>>>(dst, src, n, p->slope);
        return;
    }
    if (train) {
        check(cudnnBatchNormalizationForwardTraining(cu->dnn, CUDNN_BATCHNORM_SPATIAL, &one, &zero, b->x, src, b->x, dst,
                                                     b->bn, gamma, beta, 0.0, NULL, NULL, s->eps, mean, var),
              "cudnnBatchNormalizationForwardTraining");
        k_inv_std_to_var<<<(s->c + 127) / 128, 128, 0, cu->stream>>>(var, s->c, s->eps);
    } else {
        check(cudnnBatchNormalizationForwardInference(cu->dnn, CUDNN_BATCHNORM_SPATIAL, &one, &zero, b->x, src, b->x,
                                                      dst, b->bn, gamma, beta, mean, var, s->eps),
              "cudnnBatchNormalizationForwardInference");
    }
    k_lrelu<<<grid_for(n), 256, 0, cu->stream>>>(dst, dst, n, p->slope);
}

static void backward(const jp_bnact_plan *p, int train, float *dsrc, float *ddst, float *dgamma, float *dbeta,
                     const float *dst, const float *src, const float *mean, const float *var, const float *gamma,
                     const float *beta)
{
    (void)beta;
    const bn_state *b = (const bn_state *)p->state;
    jp_cuda *cu = cuda_of(p);
    const jp_bn_shape *s = &p->s;
    size_t n = count_of(p);
    const float one = 1.0f, zero = 0.0f;
    if (!p->has_bn) {
        k_lrelu_bwd<<<grid_for(n), 256, 0, cu->stream>>>(dsrc, ddst, dst, n, p->slope);
        return;
    }
    k_lrelu_bwd<<<grid_for(n), 256, 0, cu->stream>>>(ddst, ddst, dst, n, p->slope);
    if (train) {
        float *dg = dgamma ? dgamma : b->dparams, *db = dbeta ? dbeta : b->dparams + s->c;
        check(cudnnBatchNormalizationBackward(cu->dnn, CUDNN_BATCHNORM_SPATIAL, &one, &zero, &one, &zero, b->x, src,
                                              b->x, ddst, b->x, dsrc, b->bn, gamma, dg, db, s->eps, NULL, NULL),
              "cudnnBatchNormalizationBackward");
    } else {
        k_bn_bwd_eval<<<(s->c + 127) / 128, 128, 0, cu->stream>>>(dsrc, dgamma, dbeta, ddst, src, mean, var, gamma,
                                                                   s->n, s->c, s->h * s->w, s->eps);
    }
}

extern "C" const jp_bnact_impl jp_bnact_cudnn = {JP_BNACT_CUDNN, init, release, kernel, forward, backward};
