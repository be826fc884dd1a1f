/* The CUDA backend's device context and element-wise operations (cuda_backend.h). One
 * thread per element (grid-stride loops); rows of logits one warp-free block each. The
 * float32 formulas follow the CPU code named in the header, fmaf where it uses fmaf. */
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern "C" {
#include "cuda/cuda_backend.h"
}

struct jp_cuda {
    int device;
    cudaStream_t stream;
    cublasHandle_t blas;
    cudnnHandle_t dnn;
    char describe[256];
};

static jp_status cuda_fail(jp_error *err, cudaError_t e, const char *what)
{
    return jp_fail(err, JP_ERR_BACKEND, "CUDA %s: %s (%s)", what, cudaGetErrorString(e), cudaGetErrorName(e));
}

extern "C" int jp_cuda_device_count(char *why, size_t len)
{
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e == cudaErrorNoDevice || (e == cudaSuccess && n == 0)) {
        snprintf(why, len, "no CUDA device found");
        return 0;
    }
    if (e == cudaErrorInsufficientDriver)
        snprintf(why, len, "the NVIDIA driver is missing or older than CUDA %d.%d needs", CUDART_VERSION / 1000,
                 CUDART_VERSION % 1000 / 10);
    else if (e != cudaSuccess)
        snprintf(why, len, "CUDA cannot start: %s", cudaGetErrorString(e));
    return e == cudaSuccess ? n : 0;
}

extern "C" jp_status jp_cuda_open(jp_cuda **out, int device, jp_error *err)
{
    *out = NULL;
    char why[200];
    int n = jp_cuda_device_count(why, sizeof why);
    if (n == 0) return jp_fail(err, JP_ERR_BACKEND, "--device cuda:%d: %s", device, why);
    if (device < 0 || device >= n)
        return jp_fail(err, JP_ERR_ARG, "--device cuda:%d: this machine has %d CUDA device%s (0..%d)", device, n,
                       n == 1 ? "" : "s", n - 1);
    jp_cuda *c = (jp_cuda *)calloc(1, sizeof *c);
    if (!c) return jp_fail(err, JP_ERR_NOMEM, "CUDA context");
    c->device = device;
    cudaError_t e = cudaSetDevice(device);
    if (e == cudaSuccess) e = cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking);
    if (e != cudaSuccess) {
        free(c);
        return cuda_fail(err, e, "device setup");
    }
    if (cublasCreate(&c->blas) != CUBLAS_STATUS_SUCCESS) {
        jp_cuda_close(c);
        return jp_fail(err, JP_ERR_BACKEND, "cuBLAS cannot start on device %d", device);
    }
    cublasSetStream(c->blas, c->stream);
    cudnnStatus_t ds = cudnnCreate(&c->dnn);
    if (ds != CUDNN_STATUS_SUCCESS) {
        c->dnn = NULL;
        jp_cuda_close(c);
        return jp_fail(err, JP_ERR_BACKEND, "cuDNN cannot start on device %d: %s", device, cudnnGetErrorString(ds));
    }
    cudnnSetStream(c->dnn, c->stream);
    cudaDeviceProp p;
    cudaGetDeviceProperties(&p, device);
    size_t v = cudnnGetVersion();
    snprintf(c->describe, sizeof c->describe, "%s (sm_%d%d, %.1f GiB), cuDNN %zu.%zu.%zu", p.name, p.major, p.minor,
             (double)p.totalGlobalMem / (1 << 30), v / 10000, v % 10000 / 100, v % 100);
    *out = c;
    return JP_OK;
}

extern "C" void jp_cuda_close(jp_cuda *c)
{
    if (!c) return;
    if (c->dnn) cudnnDestroy(c->dnn);
    if (c->blas) cublasDestroy(c->blas);
    if (c->stream) cudaStreamDestroy(c->stream);
    free(c);
}

extern "C" const char *jp_cuda_describe(const jp_cuda *c) { return c->describe; }

extern "C" jp_status jp_cuda_alloc(jp_cuda *c, void **p, size_t bytes, jp_error *err)
{
    (void)c;
    cudaError_t e = cudaMalloc(p, bytes ? bytes : 1);
    return e == cudaSuccess ? JP_OK : cuda_fail(err, e, "cudaMalloc");
}

extern "C" void jp_cuda_free(jp_cuda *c, void *p)
{
    (void)c;
    if (p) cudaFree(p);
}

extern "C" jp_status jp_cuda_upload(jp_cuda *c, void *dst, const void *src, size_t bytes, jp_error *err)
{
    cudaError_t e = cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, c->stream);
    if (e == cudaSuccess) e = cudaStreamSynchronize(c->stream);
    return e == cudaSuccess ? JP_OK : cuda_fail(err, e, "upload");
}

extern "C" jp_status jp_cuda_download(jp_cuda *c, void *dst, const void *src, size_t bytes, jp_error *err)
{
    cudaError_t e = cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, c->stream);
    if (e == cudaSuccess) e = cudaStreamSynchronize(c->stream);
    return e == cudaSuccess ? JP_OK : cuda_fail(err, e, "download");
}

extern "C" jp_status jp_cuda_sync(jp_cuda *c, jp_error *err)
{
    cudaError_t e = cudaGetLastError();
    if (e == cudaSuccess) e = cudaStreamSynchronize(c->stream);
    return e == cudaSuccess ? JP_OK : cuda_fail(err, e, "kernel");
}

/* ---- kernels -------------------------------------------------------------------- */

static unsigned grid_for(size_t n) { return (unsigned)((n + 255) / 256 < 65535 ? (n + 255) / 256 : 65535); }
#define EACH(i, n) for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < (n); i += (size_t)gridDim.x * blockDim.x)

__global__ void k_lrelu_fwd(float *y, const float *x, size_t n, float slope)
{
    EACH(i, n) y[i] = x[i] > 0.0f ? x[i] : slope * x[i];
}

__global__ void k_lrelu_bwd(float *dx, const float *dy, const float *y, size_t n, float slope)
{
    EACH(i, n) dx[i] = y[i] > 0.0f ? dy[i] : slope * dy[i];
}

/* One block per row: max, then sum exp(l - max) in double, as the CPU code. */
__global__ void k_lse(float *lse, const float *logits, int K)
{
    const float *l = logits + (size_t)blockIdx.x * K;
    if (threadIdx.x != 0) return;
    float m = l[0];
    for (int k = 1; k < K; k++) m = fmaxf(m, l[k]);
    double s = 0;
    for (int k = 0; k < K; k++) s += exp((double)l[k] - m);
    lse[blockIdx.x] = (float)(m + log(s));
}

__global__ void k_ce_bwd(float *dl, float w, const float *logits, const int *y, int n, int K)
{
    int i = blockIdx.x;
    if (threadIdx.x != 0) return;
    const float *l = logits + (size_t)i * K;
    float m = l[0];
    for (int k = 1; k < K; k++) m = fmaxf(m, l[k]);
    double s = 0;
    for (int k = 0; k < K; k++) s += exp((double)l[k] - m);
    float scale = w / (float)n;
    for (int k = 0; k < K; k++) {
        float p = (float)(exp((double)l[k] - m) / s);
        dl[(size_t)i * K + k] = scale * (p - (k == y[i] ? 1.0f : 0.0f));
    }
}

__global__ void k_pyld(float *x, const float *g, size_t n, float lr, float eps)
{
    EACH(i, n)
    {
        float v = x[i] + lr * fminf(fmaxf(g[i], -eps), eps);
        x[i] = fminf(fmaxf(v, -1.0f), 1.0f);
    }
}

__global__ void k_sgd(float *p, const float *g, float *buf, size_t n, float wd, float mu, float a, int nesterov,
                      int first, float neg_lr)
{
    EACH(i, n)
    {
        float d = wd != 0.0f ? fmaf(p[i], wd, g[i]) : g[i];
        if (mu != 0.0f) {
            float b = first ? d : fmaf(d, a, buf[i] * mu);
            buf[i] = b;
            d = nesterov ? fmaf(b, mu, d) : b;
        }
        p[i] = fmaf(d, neg_lr, p[i]);
    }
}

__global__ void k_adam(float *p, const float *g, float *m, float *v, size_t n, float wd, float b1, float b2,
                       float one_b1, float one_b2, float neg_s, float r, float eps)
{
    EACH(i, n)
    {
        float gi = wd != 0.0f ? fmaf(p[i], wd, g[i]) : g[i];
        float mi = fmaf(gi, one_b1, m[i] * b1);
        float vi = fmaf(one_b2 * gi, gi, v[i] * b2);
        m[i] = mi, v[i] = vi;
        float denom = sqrtf(vi) / r + eps;
        p[i] = p[i] + (neg_s * mi) / denom;
    }
}

/* Philox4x32-10 (Salmon et al. 2011): 4 uint32 from a 128-bit counter and a 64-bit key. */
__device__ static void philox(uint32_t c[4], uint32_t k0, uint32_t k1)
{
    for (int r = 0; r < 10; r++) {
        uint64_t p0 = (uint64_t)0xD2511F53u * c[0], p1 = (uint64_t)0xCD9E8D57u * c[2];
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c[1] ^ k0, n2 = (uint32_t)(p0 >> 32) ^ c[3] ^ k1;
        c[1] = (uint32_t)p1, c[3] = (uint32_t)p0, c[0] = n0, c[2] = n2;
        k0 += 0x9E3779B9u, k1 += 0xBB67AE85u;
    }
}

__global__ void k_normal(float *x, size_t n, uint64_t seed, uint64_t offset)
{
    EACH(q, (n + 3) / 4)
    {
        uint64_t ctr = offset + q;
        uint32_t c[4] = {(uint32_t)ctr, (uint32_t)(ctr >> 32), 0, 0};
        philox(c, (uint32_t)seed, (uint32_t)(seed >> 32));
        for (int h = 0; h < 2; h++) { /* Box-Muller on two pairs of uniforms in (0, 1] */
            float u1 = ((float)(c[2 * h] >> 8) + 1.0f) * (1.0f / 16777216.0f);
            float u2 = (float)(c[2 * h + 1] >> 8) * (1.0f / 16777216.0f);
            float rad = sqrtf(-2.0f * logf(u1)), th = 6.28318530718f * u2;
            size_t i = 4 * q + 2 * h;
            if (i < n) x[i] = rad * cosf(th);
            if (i + 1 < n) x[i + 1] = rad * sinf(th);
        }
    }
}

/* ---- launches ------------------------------------------------------------------- */

extern "C" void jp_cuda_lrelu_forward(jp_cuda *c, float *y, const float *x, size_t n, float slope)
{
    if (n) k_lrelu_fwd<<<grid_for(n), 256, 0, c->stream>>>(y, x, n, slope);
}

extern "C" void jp_cuda_lrelu_backward(jp_cuda *c, float *dx, const float *dy, const float *y, size_t n, float slope)
{
    if (n) k_lrelu_bwd<<<grid_for(n), 256, 0, c->stream>>>(dx, dy, y, n, slope);
}

extern "C" void jp_cuda_logsumexp(jp_cuda *c, float *lse, const float *logits, int n, int K)
{
    if (n > 0) k_lse<<<n, 32, 0, c->stream>>>(lse, logits, K);
}

extern "C" void jp_cuda_cross_entropy_backward(jp_cuda *c, float *dlogits, float w, const float *logits, const int *y,
                                               int n, int K)
{
    if (n > 0) k_ce_bwd<<<n, 32, 0, c->stream>>>(dlogits, w, logits, y, n, K);
}

extern "C" void jp_cuda_pyld_step(jp_cuda *c, float *x, const float *g, size_t n, float lr, float eps)
{
    if (n) k_pyld<<<grid_for(n), 256, 0, c->stream>>>(x, g, n, lr, eps);
}

extern "C" void jp_cuda_sgd_update(jp_cuda *c, const jp_optim_config *cfg, float *params, const float *grads,
                                   float *buf, size_t n, int first, double lr)
{
    if (n)
        k_sgd<<<grid_for(n), 256, 0, c->stream>>>(params, grads, buf, n, (float)cfg->weight_decay, (float)cfg->momentum,
                                                 (float)(1.0 - cfg->dampening), cfg->nesterov, first, (float)-lr);
}

extern "C" void jp_cuda_adam_update(jp_cuda *c, const jp_optim_config *cfg, float *params, const float *grads,
                                    float *m, float *v, size_t n, int64_t step, double lr)
{
    JP_CHECK(!cfg->amsgrad); /* not built on the device */
    double bc1 = 1.0 - pow(cfg->beta1, (double)step), bc2 = 1.0 - pow(cfg->beta2, (double)step);
    if (n)
        k_adam<<<grid_for(n), 256, 0, c->stream>>>(params, grads, m, v, n, (float)cfg->weight_decay, (float)cfg->beta1,
                                                  (float)cfg->beta2, (float)(1.0 - cfg->beta1),
                                                  (float)(1.0 - cfg->beta2), (float)(-(lr / bc1)), (float)sqrt(bc2),
                                                  (float)cfg->eps);
}

extern "C" void jp_cuda_normal(jp_cuda *c, float *x, size_t n, uint64_t seed, uint64_t offset)
{
    if (n) k_normal<<<grid_for((n + 3) / 4), 256, 0, c->stream>>>(x, n, seed, offset);
}
