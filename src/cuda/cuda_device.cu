/* The compute device of ops/device.h on an NVIDIA GPU: cudaMalloc'd memory, the matrix
 * product on cuBLAS, everything else CUDA kernels with the CPU device's float32 formulas
 * (named beside each; this file is compiled with --fmad=false, so a*b+c rounds twice as
 * on the CPU and fmaf is used exactly where the CPU code uses it). Element-wise kernels
 * run one thread per element in grid-stride loops; per-row and per-column reductions
 * one thread per row or column in the CPU's order, so they sum the same way. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda/cuda_context.h"

static cudaStream_t stream_of(void *st) { return ((jp_cuda *)st)->stream; }

static unsigned grid_for(size_t n) { return (unsigned)((n + 255) / 256 < 65535 ? (n + 255) / 256 : 65535); }
static unsigned rows_grid(int n) { return (unsigned)((n + 127) / 128); }
#define EACH(i, n) for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < (n); i += (size_t)gridDim.x * blockDim.x)
#define ROW(i, n)                                   \
    int i = blockIdx.x * blockDim.x + threadIdx.x; \
    if (i >= (n)) return

/* ---- memory ------------------------------------------------------------------------ */

/* The block's size recorded (jp_cuda_memory_peak); 0 when the table cannot grow. */
static int track_alloc(jp_cuda *c, void *p, size_t bytes)
{
    if (c->n_blocks == c->cap_blocks) {
        int cap = c->cap_blocks ? 2 * c->cap_blocks : 256;
        void *b = realloc(c->blocks, (size_t)cap * sizeof *c->blocks);
        if (!b) return 0;
        c->blocks = (struct jp_cuda::jp_cuda_block *)b;
        c->cap_blocks = cap;
    }
    c->blocks[c->n_blocks++] = {p, bytes};
    c->allocated += bytes;
    if (c->allocated > c->peak) c->peak = c->allocated;
    return 1;
}

static void track_release(jp_cuda *c, void *p)
{
    for (int i = c->n_blocks - 1; i >= 0; i--)
        if (c->blocks[i].p == p) {
            c->allocated -= c->blocks[i].bytes;
            c->blocks[i] = c->blocks[--c->n_blocks];
            return;
        }
}

static void *d_alloc(void *st, size_t bytes)
{
    void *p = NULL;
    if (cudaMalloc(&p, bytes ? bytes : 1) != cudaSuccess) return NULL;
    if (cudaMemsetAsync(p, 0, bytes ? bytes : 1, stream_of(st)) != cudaSuccess || !track_alloc((jp_cuda *)st, p, bytes)) {
        cudaFree(p);
        return NULL;
    }
    return p;
}

static void d_release(void *st, void *p)
{
    if (!p) return;
    cudaStreamSynchronize(stream_of(st)); /* nothing queued may still use it */
    track_release((jp_cuda *)st, p);
    cudaFree(p);
}

/* The copies wait for the stream (an upload's source may be reused by the caller as
 * soon as it returns); upload_async does not: from page-locked memory (host_alloc) the
 * copy runs while the host goes on, from pageable memory CUDA stages it before
 * returning. */
static void d_upload(void *st, void *dst, const void *src, size_t bytes)
{
    if (!bytes) return;
    cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream_of(st));
    cudaStreamSynchronize(stream_of(st));
}

static void d_upload_async(void *st, void *dst, const void *src, size_t bytes)
{
    if (bytes) cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream_of(st));
}

static void *d_host_alloc(void *st, size_t bytes)
{
    (void)st;
    void *p = NULL;
    if (cudaHostAlloc(&p, bytes ? bytes : 1, cudaHostAllocDefault) != cudaSuccess) return NULL;
    memset(p, 0, bytes);
    return p;
}

static void d_host_release(void *st, void *p)
{
    if (!p) return;
    cudaStreamSynchronize(stream_of(st)); /* no copy queued may still read it */
    cudaFreeHost(p);
}

static void d_download(void *st, void *dst, const void *src, size_t bytes)
{
    if (!bytes) return;
    cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, stream_of(st));
    cudaStreamSynchronize(stream_of(st));
}

static void d_copy(void *st, void *dst, const void *src, size_t bytes)
{
    if (bytes && dst != src) cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, stream_of(st));
}

static void d_zero(void *st, void *dst, size_t bytes)
{
    if (bytes) cudaMemsetAsync(dst, 0, bytes, stream_of(st));
}

static jp_status d_sync(void *st, jp_error *err) { return jp_cuda_sync((jp_cuda *)st, err); }

/* ---- element-wise -------------------------------------------------------------------- */

__global__ void k_add(float *y, const float *x, size_t n)
{
    EACH(i, n) y[i] += x[i];
}

__global__ void k_scale(float *x, float a, size_t n)
{
    EACH(i, n) x[i] *= a;
}

__global__ void k_fill(float *x, float v, size_t n)
{
    EACH(i, n) x[i] = v;
}

__global__ void k_nonfinite(int *flag, const float *x, size_t n)
{
    EACH(i, n)
    if (!isfinite(x[i])) *flag = 1;
}

__global__ void k_set_at_labels(float *x, const int *y, int n, int k, float v)
{
    ROW(i, n);
    x[(size_t)i * k + y[i]] = v;
}

static void d_add(void *st, float *y, const float *x, size_t n)
{
    if (n) k_add<<<grid_for(n), 256, 0, stream_of(st)>>>(y, x, n);
}

static void d_scale(void *st, float *x, float a, size_t n)
{
    if (n) k_scale<<<grid_for(n), 256, 0, stream_of(st)>>>(x, a, n);
}

static void d_fill(void *st, float *x, float v, size_t n)
{
    if (n) k_fill<<<grid_for(n), 256, 0, stream_of(st)>>>(x, v, n);
}

static int d_all_finite(void *st, const float *x, size_t n)
{
    jp_cuda *c = (jp_cuda *)st;
    int *flag = (int *)c->small, bad = 0;
    cudaMemsetAsync(flag, 0, sizeof(int), c->stream);
    if (n) k_nonfinite<<<grid_for(n), 256, 0, c->stream>>>(flag, x, n);
    d_download(st, &bad, flag, sizeof bad);
    return !bad;
}

static void d_set_at_labels(void *st, float *x, const int *y, int n, int k, float v)
{
    if (n > 0) k_set_at_labels<<<rows_grid(n), 128, 0, stream_of(st)>>>(x, y, n, k, v);
}

/* blockIdx.y: the row; x: its elements */
__global__ void k_gather_rows(float *dst, const float *src, const int *idx, size_t d)
{
    size_t i = blockIdx.y;
    const float *s = src + (size_t)idx[i] * d;
    for (size_t j = blockIdx.x * (size_t)blockDim.x + threadIdx.x; j < d; j += (size_t)gridDim.x * blockDim.x)
        dst[i * d + j] = s[j];
}

/* a row whose slot a later row names too is skipped: the later one wins, as in order */
__global__ void k_scatter_rows(float *dst, const float *src, const int *idx, int n, size_t d)
{
    int i = blockIdx.y, slot = idx[i];
    for (int k = i + 1; k < n; k++)
        if (idx[k] == slot) return;
    float *o = dst + (size_t)slot * d;
    for (size_t j = blockIdx.x * (size_t)blockDim.x + threadIdx.x; j < d; j += (size_t)gridDim.x * blockDim.x)
        o[j] = src[(size_t)i * d + j];
}

static dim3 rows_by_elements(int n, size_t d)
{
    size_t bx = (d + 255) / 256;
    return dim3((unsigned)(bx < 64 ? bx : 64), (unsigned)n);
}

static void d_gather_rows(void *st, float *dst, const float *src, const int *idx, int n, size_t d)
{
    if (n > 0 && d) k_gather_rows<<<rows_by_elements(n, d), 256, 0, stream_of(st)>>>(dst, src, idx, d);
}

static void d_scatter_rows(void *st, float *dst, const float *src, const int *idx, int n, size_t d)
{
    if (n > 0 && d) k_scatter_rows<<<rows_by_elements(n, d), 256, 0, stream_of(st)>>>(dst, src, idx, n, d);
}

/* ---- layers -------------------------------------------------------------------------- */

/* out[i, j] = (sum_p in[i, j, p]) * (1 / hw), p in order (device_cpu.c) */
__global__ void k_pool_fwd(float *out, const float *in, int n, int c, int hw, int B)
{
    ROW(r, n * c);
    int i = r / c, j = r % c, cb = (c + B - 1) / B;
    const float *s = in + (((size_t)i * cb + j / B) * hw) * B + j % B;
    float acc = 0.0f, inv = 1.0f / (float)hw;
    for (int p = 0; p < hw; p++) acc += s[(size_t)p * B];
    out[r] = acc * inv;
}

__global__ void k_pool_bwd(float *din, const float *dout, int n, int c, int hw, int B)
{
    ROW(r, n * c);
    int i = r / c, j = r % c, cb = (c + B - 1) / B;
    float *d = din + (((size_t)i * cb + j / B) * hw) * B + j % B;
    float v = dout[r] * (1.0f / (float)hw);
    for (int p = 0; p < hw; p++) d[(size_t)p * B] = v;
}

static void d_pool_forward(void *st, float *out, const float *in, int n, int c, int hw, int block)
{
    if (n * c > 0) k_pool_fwd<<<rows_grid(n * c), 128, 0, stream_of(st)>>>(out, in, n, c, hw, block);
}

static void d_pool_backward(void *st, float *din, const float *dout, int n, int c, int hw, int block)
{
    if (n * c > 0) k_pool_bwd<<<rows_grid(n * c), 128, 0, stream_of(st)>>>(din, dout, n, c, hw, block);
}

/* Row-major C = alpha op(A) op(B) + beta C is column-major C^T = alpha op(B)^T op(A)^T +
 * beta C^T: cuBLAS with the operands swapped. */
static void d_gemm(void *st, int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda,
                   const float *b, int ldb, float beta, float *c, int ldc)
{
    if (m <= 0 || n <= 0) return;
    jp_cuda *cx = (jp_cuda *)st;
    cx->cublas.sgemm(cx->blas, tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N, n, m, k, &alpha, b, ldb,
                     a, lda, &beta, c, ldc);
}

__global__ void k_bias_fwd(float *y, const float *bias, int n, int k)
{
    EACH(i, (size_t)n * k) y[i] += bias[i % k];
}

/* one thread per column, rows in order (device_cpu.c) */
__global__ void k_bias_bwd(float *db, const float *dy, int n, int k)
{
    ROW(j, k);
    float acc = db[j];
    for (int i = 0; i < n; i++) acc += dy[(size_t)i * k + j];
    db[j] = acc;
}

static void d_bias_forward(void *st, float *y, const float *bias, int n, int k)
{
    if (n > 0 && k > 0) k_bias_fwd<<<grid_for((size_t)n * k), 256, 0, stream_of(st)>>>(y, bias, n, k);
}

static void d_bias_backward(void *st, float *db, const float *dy, int n, int k)
{
    if (k > 0) k_bias_bwd<<<rows_grid(k), 128, 0, stream_of(st)>>>(db, dy, n, k);
}

/* Philox4x32-10 (Salmon et al. 2011): 4 uint32 from a 128-bit counter and a 64-bit key. */
__device__ static void philox(uint32_t c[4], uint64_t key)
{
    uint32_t k0 = (uint32_t)key, k1 = (uint32_t)(key >> 32);
    for (int r = 0; r < 10; r++) {
        uint64_t p0 = (uint64_t)0xD2511F53u * c[0], p1 = (uint64_t)0xCD9E8D57u * c[2];
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c[1] ^ k0, n2 = (uint32_t)(p0 >> 32) ^ c[3] ^ k1;
        c[1] = (uint32_t)p1, c[3] = (uint32_t)p0, c[0] = n0, c[2] = n2;
        k0 += 0x9E3779B9u, k1 += 0xBB67AE85u;
    }
}

/* the 4 uniforms on [0, 1) of counter q: 24-bit fractions */
__device__ static void uniforms4(float u[4], uint64_t key, uint64_t q)
{
    uint32_t c[4] = {(uint32_t)q, (uint32_t)(q >> 32), 0, 0};
    philox(c, key);
    for (int h = 0; h < 4; h++) u[h] = (float)(c[h] >> 8) * (1.0f / 16777216.0f);
}

/* mask = (u >= p) * scale, scale = 1/(1-p) rounded once (ops/dropout.c); p = 0 keeps all,
 * p = 1 drops all */
__global__ void k_dropout(float *out, float *mask, const float *in, size_t n, float p, float scale, uint64_t key)
{
    EACH(q, (n + 3) / 4)
    {
        float u[4];
        uniforms4(u, key, q);
        for (int h = 0; h < 4; h++) {
            size_t i = 4 * q + h;
            if (i >= n) break;
            float m = p == 0.0f ? 1.0f : p == 1.0f ? 0.0f : (u[h] >= p ? scale : 0.0f);
            mask[i] = m;
            out[i] = in[i] * m;
        }
    }
}

__global__ void k_mul(float *din, const float *dout, const float *mask, size_t n)
{
    EACH(i, n) din[i] = dout[i] * mask[i];
}

static void d_dropout_forward(void *st, float *out, float *mask, const float *in, size_t n, float p, jp_rng *rng)
{
    uint64_t key = p > 0.0f && p < 1.0f ? jp_rng_u64(rng) : 0;
    float scale = (float)(1.0 / (1.0 - (double)p));
    if (n) k_dropout<<<grid_for((n + 3) / 4), 256, 0, stream_of(st)>>>(out, mask, in, n, p, scale, key);
}

static void d_dropout_backward(void *st, float *din, const float *dout, const float *mask, size_t n)
{
    if (n) k_mul<<<grid_for(n), 256, 0, stream_of(st)>>>(din, dout, mask, n);
}

/* LSE of a row in double after its maximum, +-inf rows give the maximum (ops/softmax.c) */
__device__ static double row_lse(const float *x, int c)
{
    double mx = x[0];
    for (int k = 1; k < c; k++)
        if (x[k] > mx) mx = x[k];
    if (isinf(mx)) return mx;
    double sum = 0.0;
    for (int k = 0; k < c; k++) sum += exp((double)x[k] - mx);
    return mx + log(sum);
}

__global__ void k_lse_fwd(float *out, const float *in, int n, int c)
{
    ROW(r, n);
    out[r] = (float)row_lse(in + (size_t)r * c, c);
}

__global__ void k_lse_bwd(float *din, const float *dout, const float *in, int n, int c)
{
    ROW(r, n);
    const float *x = in + (size_t)r * c;
    double lse = row_lse(x, c);
    for (int k = 0; k < c; k++) din[(size_t)r * c + k] = (float)((double)dout[r] * exp((double)x[k] - lse));
}

__global__ void k_ce_rows(double *loss, const float *logits, const int *y, int n, int c)
{
    ROW(r, n);
    const float *x = logits + (size_t)r * c;
    loss[r] = row_lse(x, c) - (double)x[y[r]];
}

__global__ void k_ce_bwd(float *dl, double scale, const float *logits, const int *y, int n, int c)
{
    ROW(r, n);
    const float *x = logits + (size_t)r * c;
    double lse = row_lse(x, c);
    for (int k = 0; k < c; k++) {
        double p = exp((double)x[k] - lse) - (k == y[r] ? 1.0 : 0.0);
        dl[(size_t)r * c + k] = (float)(scale * p);
    }
}

static void d_lse_forward(void *st, float *out, const float *in, int n, int c)
{
    if (n > 0) k_lse_fwd<<<rows_grid(n), 128, 0, stream_of(st)>>>(out, in, n, c);
}

static void d_lse_backward(void *st, float *din, const float *dout, const float *in, int n, int c)
{
    if (n > 0) k_lse_bwd<<<rows_grid(n), 128, 0, stream_of(st)>>>(din, dout, in, n, c);
}

/* The rows' losses come back and are summed in row order in double, as the CPU does. */
static double d_ce_forward(void *st, const float *logits, const int *y, int n, int c)
{
    jp_cuda *cx = (jp_cuda *)st;
    JP_CHECK(n > 0 && (size_t)n * sizeof(double) <= JP_CUDA_SMALL_BYTES);
    double *rows = (double *)cx->small, *host = (double *)malloc((size_t)n * sizeof(double));
    JP_CHECK(host != NULL);
    k_ce_rows<<<rows_grid(n), 128, 0, cx->stream>>>(rows, logits, y, n, c);
    d_download(st, host, rows, (size_t)n * sizeof(double));
    double total = 0.0;
    for (int r = 0; r < n; r++) total += host[r];
    free(host);
    return total / n;
}

static void d_ce_backward(void *st, float *dlogits, float dloss, const float *logits, const int *y, int n, int c)
{
    if (n > 0) k_ce_bwd<<<rows_grid(n), 128, 0, stream_of(st)>>>(dlogits, (double)dloss / n, logits, y, n, c);
}

__global__ void k_bn_running(float *rm, float *rv, const float *mean, const float *var, int c, float mo, float unbias)
{
    ROW(j, c);
    rm[j] = (1 - mo) * rm[j] + mo * mean[j];
    rv[j] = (1 - mo) * rv[j] + mo * var[j] * unbias;
}

static void d_bn_running_update(void *st, float *rm, float *rv, const float *mean, const float *var, int c, float mo,
                                float unbias)
{
    if (c > 0) k_bn_running<<<rows_grid(c), 128, 0, stream_of(st)>>>(rm, rv, mean, var, c, mo, unbias);
}

/* ---- samplers ------------------------------------------------------------------------ */

/* x = mean + std z, z ~ N(0, 1) by Box-Muller on uniforms in (0, 1] and [0, 1) */
__global__ void k_normal(float *x, size_t n, float mean, float std, uint64_t key)
{
    EACH(q, (n + 3) / 4)
    {
        float u[4];
        uniforms4(u, key, q);
        for (int h = 0; h < 2; h++) {
            float u1 = u[2 * h] + (1.0f / 16777216.0f), u2 = u[2 * h + 1];
            float rad = sqrtf(-2.0f * logf(u1)), th = 6.28318530718f * u2;
            size_t i = 4 * q + 2 * h;
            if (i < n) x[i] = mean + std * (rad * cosf(th));
            if (i + 1 < n) x[i + 1] = mean + std * (rad * sinf(th));
        }
    }
}

__device__ static float clampf(float v, float lo, float hi) { return v < lo ? lo : v > hi ? hi : v; }

/* x = clamp(x + lr clamp(g, -eps, eps), -1, 1) */
__global__ void k_pyld(float *x, const float *g, size_t n, float lr, float eps)
{
    EACH(i, n) x[i] = clampf(x[i] + lr * clampf(g[i], -eps, eps), -1.0f, 1.0f);
}

/* v = x + step + noise, step = prox ? 0.5 lr clamp(g) : lr g; x = clamp ? clamp(v) : v */
__global__ void k_sgld(float *x, const float *g, const float *noise, size_t n, float lr, float eps, int prox, int clamp)
{
    EACH(i, n)
    {
        float step = prox ? 0.5f * lr * clampf(g[i], -eps, eps) : lr * g[i];
        float v = x[i] + step + (noise ? noise[i] : 0.0f);
        x[i] = clamp ? clampf(v, -1.0f, 1.0f) : v;
    }
}

static void d_normal(void *st, float *x, size_t n, float mean, float std, jp_rng *rng)
{
    uint64_t key = jp_rng_u64(rng);
    if (n) k_normal<<<grid_for((n + 3) / 4), 256, 0, stream_of(st)>>>(x, n, mean, std, key);
}

__global__ void k_clamp(float *x, float lo, float hi, size_t n)
{
    EACH(i, n) x[i] = clampf(x[i], lo, hi);
}

/* Row-major out = z L^T is column-major out^T = L z^T, and L row-major is column-major
 * L^T (upper triangular): cuBLAS's strmm from the left with that matrix transposed. */
static void d_trmm_lower_t(void *st, float *out, const float *z, const float *L, int rows, int d)
{
    if (rows <= 0 || d <= 0) return;
    jp_cuda *cx = (jp_cuda *)st;
    const float one = 1.0f;
    cx->cublas.strmm(cx->blas, CUBLAS_SIDE_LEFT, CUBLAS_FILL_MODE_UPPER, CUBLAS_OP_T, CUBLAS_DIAG_NON_UNIT, d, rows,
                     &one, L, d, z, d, out, d);
}

static void d_clamp(void *st, float *x, float lo, float hi, size_t n)
{
    if (n) k_clamp<<<grid_for(n), 256, 0, stream_of(st)>>>(x, lo, hi, n);
}

static void d_pyld_step(void *st, float *x, const float *g, size_t n, float lr, float eps)
{
    if (n) k_pyld<<<grid_for(n), 256, 0, stream_of(st)>>>(x, g, n, lr, eps);
}

static void d_sgld_step(void *st, float *x, const float *g, const float *noise, size_t n, float lr, float eps, int prox,
                        int clamp)
{
    if (n) k_sgld<<<grid_for(n), 256, 0, stream_of(st)>>>(x, g, noise, n, lr, eps, prox, clamp);
}

/* ---- optimisers (jp_sgd_update, jp_adam_update) ------------------------------------ */

__global__ void k_sgd(float *p, const float *g, float *buf, size_t n, float wd, float mu, float damp, int nesterov,
                      int first, float neg_lr)
{
    EACH(i, n)
    {
        float d = wd != 0.0f ? fmaf(p[i], wd, g[i]) : g[i];
        if (mu != 0.0f) {
            float b = first ? d : fmaf(d, damp, buf[i] * mu);
            buf[i] = b;
            d = nesterov ? fmaf(b, mu, d) : b;
        }
        p[i] = fmaf(d, neg_lr, p[i]);
    }
}

__global__ void k_adam(float *p, const float *g, float *m, float *v, float *vmax, size_t n, float wd, float b1,
                       float b2, float one_b1, float one_b2, float neg_s, float r, float eps)
{
    EACH(i, n)
    {
        float gi = wd != 0.0f ? fmaf(p[i], wd, g[i]) : g[i];
        float mi = fmaf(gi, one_b1, m[i] * b1);
        float vi = fmaf(one_b2 * gi, gi, v[i] * b2);
        m[i] = mi, v[i] = vi;
        if (vmax) { /* torch.maximum: NaN wins */
            vi = (vmax[i] > vi || vmax[i] != vmax[i]) ? vmax[i] : vi;
            vmax[i] = vi;
        }
        float denom = sqrtf(vi) / r + eps;
        p[i] = p[i] + (neg_s * mi) / denom;
    }
}

static void d_sgd_update(void *st, const jp_optim_config *cfg, float *params, const float *grads, float *buf, size_t n,
                         int first, double lr)
{
    if (n)
        k_sgd<<<grid_for(n), 256, 0, stream_of(st)>>>(params, grads, buf, n, (float)cfg->weight_decay,
                                                      (float)cfg->momentum, (float)(1.0 - cfg->dampening),
                                                      cfg->nesterov, first, (float)-lr);
}

static void d_adam_update(void *st, const jp_optim_config *cfg, float *params, const float *grads, float *m, float *v,
                          float *vmax, size_t n, int64_t step, double lr)
{
    double bc1 = 1.0 - pow(cfg->beta1, (double)step), bc2 = 1.0 - pow(cfg->beta2, (double)step);
    if (n)
        k_adam<<<grid_for(n), 256, 0, stream_of(st)>>>(params, grads, m, v, cfg->amsgrad ? vmax : NULL, n,
                                                       (float)cfg->weight_decay, (float)cfg->beta1, (float)cfg->beta2,
                                                       (float)(1.0 - cfg->beta1), (float)(1.0 - cfg->beta2),
                                                       (float)(-(lr / bc1)), (float)sqrt(bc2), (float)cfg->eps);
}

static const jp_device_ops cuda_ops = {
    "cuda",
    d_alloc,
    d_release,
    d_upload,
    d_download,
    d_copy,
    d_zero,
    d_host_alloc,
    d_host_release,
    d_upload_async,
    d_sync,
    d_add,
    d_scale,
    d_fill,
    d_all_finite,
    d_set_at_labels,
    d_gather_rows,
    d_scatter_rows,
    d_pool_forward,
    d_pool_backward,
    d_gemm,
    d_bias_forward,
    d_bias_backward,
    d_dropout_forward,
    d_dropout_backward,
    d_lse_forward,
    d_lse_backward,
    d_ce_forward,
    d_ce_backward,
    d_bn_running_update,
    d_normal,
    d_trmm_lower_t,
    d_clamp,
    d_pyld_step,
    d_sgld_step,
    d_sgd_update,
    d_adam_update,
};

extern "C" jp_status jp_cuda_device_open(jp_device *dev, int index, jp_error *err)
{
    jp_cuda *c = NULL;
    jp_status st = jp_cuda_open(&c, index, err);
    if (st) return st;
    dev->ops = &cuda_ops;
    dev->state = c;
    dev->conv = &jp_conv_cudnn;
    dev->bnact = &jp_bnact_cudnn;
    return JP_OK;
}

extern "C" void jp_cuda_device_close(jp_device *dev)
{
    if (!dev || !dev->state) return;
    jp_cuda_close((jp_cuda *)dev->state);
    dev->ops = NULL;
    dev->state = NULL;
}
