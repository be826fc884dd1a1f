/* The CPU device of ops/device.h: host memory, and each operation the library's C
 * kernel (the same code, hence the same numbers, as before the device existed). */
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "core/parallel.h"
#include "core/sgemm.h"
#include "jempp/ops.h"
#include "ops/device.h"

static void *cpu_alloc(void *st, size_t bytes)
{
    (void)st;
    return jp_alloc(bytes);
}

static void cpu_release(void *st, void *p)
{
    (void)st;
    jp_free(p);
}

static void cpu_copy(void *st, void *dst, const void *src, size_t bytes)
{
    (void)st;
    if (dst != src && bytes) memcpy(dst, src, bytes);
}

static void cpu_zero(void *st, void *dst, size_t bytes)
{
    (void)st;
    if (bytes) memset(dst, 0, bytes);
}

static jp_status cpu_sync(void *st, jp_error *err)
{
    (void)st;
    (void)err;
    return JP_OK;
}

static void cpu_add(void *st, float *y, const float *x, size_t n)
{
    (void)st;
#pragma omp parallel for simd if (n >= JP_PAR_MIN_ELEMS)
    for (size_t i = 0; i < n; i++) y[i] += x[i];
}

static void cpu_scale(void *st, float *x, float a, size_t n)
{
    (void)st;
    for (size_t i = 0; i < n; i++) x[i] *= a;
}

static void cpu_fill(void *st, float *x, float v, size_t n)
{
    (void)st;
    for (size_t i = 0; i < n; i++) x[i] = v;
}

static int cpu_all_finite(void *st, const float *x, size_t n)
{
    (void)st;
    int ok = 1;
#pragma omp parallel for reduction(&& : ok) if (n >= JP_PAR_MIN_ELEMS)
    for (size_t i = 0; i < n; i++) ok = ok && isfinite(x[i]);
    return ok;
}

static void cpu_set_at_labels(void *st, float *x, const int *y, int n, int k, float v)
{
    (void)st;
    for (int i = 0; i < n; i++) x[(size_t)i * k + y[i]] = v;
}

static void cpu_gather_rows(void *st, float *dst, const float *src, const int *idx, int n, size_t d)
{
    (void)st;
    for (int i = 0; i < n; i++) memcpy(dst + (size_t)i * d, src + (size_t)idx[i] * d, d * sizeof(float));
}

static void cpu_scatter_rows(void *st, float *dst, const float *src, const int *idx, int n, size_t d)
{
    (void)st;
    for (int i = 0; i < n; i++) memcpy(dst + (size_t)idx[i] * d, src + (size_t)i * d, d * sizeof(float));
}

/* out[i, j] = (sum_p in[i, j, p]) * (1 / hw), float, p in order; element (i, j, p) of a
 * layout in channel blocks of B sits at ((i * C/B + j/B) * hw + p) * B + j % B. */
static void cpu_pool_forward(void *st, float *out, const float *in, int n, int c, int hw, int block)
{
    (void)st;
    int B = block, cb = (c + B - 1) / B;
    float inv = 1.0f / (float)hw;
#pragma omp parallel for if ((size_t)n * c * hw >= JP_PAR_MIN_ELEMS)
    for (int i = 0; i < n; i++)
        for (int j = 0; j < c; j++) {
            const float *s = in + (((size_t)i * cb + j / B) * hw) * B + j % B;
            float acc = 0.0f;
            for (int p = 0; p < hw; p++) acc += s[(size_t)p * B];
            out[(size_t)i * c + j] = acc * inv;
        }
}

/* din[i, j, p] = dout[i, j] * (1 / hw) */
static void cpu_pool_backward(void *st, float *din, const float *dout, int n, int c, int hw, int block)
{
    (void)st;
    int B = block, cb = (c + B - 1) / B;
    float inv = 1.0f / (float)hw;
#pragma omp parallel for if ((size_t)n * c * hw >= JP_PAR_MIN_ELEMS)
    for (int i = 0; i < n; i++)
        for (int j = 0; j < c; j++) {
            float *d = din + (((size_t)i * cb + j / B) * hw) * B + j % B;
            float v = dout[(size_t)i * c + j] * inv;
            for (int p = 0; p < hw; p++) d[(size_t)p * B] = v;
        }
}

static void cpu_gemm(void *st, int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda,
                     const float *b, int ldb, float beta, float *c, int ldc)
{
    (void)st;
    jp_sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

static void cpu_bias_forward(void *st, float *y, const float *bias, int n, int k)
{
    (void)st;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < k; j++) y[(size_t)i * k + j] += bias[j];
}

static void cpu_bias_backward(void *st, float *db, const float *dy, int n, int k)
{
    (void)st;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < k; j++) db[j] += dy[(size_t)i * k + j];
}

static void cpu_dropout_forward(void *st, float *out, float *mask, const float *in, size_t n, float p,
                                jp_rng *rng)
{
    (void)st;
    jp_dropout_forward(out, mask, in, n, p, rng);
}

static void cpu_dropout_backward(void *st, float *din, const float *dout, const float *mask, size_t n)
{
    (void)st;
    jp_dropout_backward(din, dout, mask, n);
}

static void cpu_lse_forward(void *st, float *out, const float *in, int n, int c)
{
    (void)st;
    jp_logsumexp_forward(out, in, n, c);
}

static void cpu_lse_backward(void *st, float *din, const float *dout, const float *in, int n, int c)
{
    (void)st;
    jp_logsumexp_backward(din, dout, in, n, c);
}

static double cpu_ce_forward(void *st, const float *logits, const int *y, int n, int c)
{
    (void)st;
    return jp_cross_entropy_forward(logits, y, n, c);
}

static void cpu_ce_backward(void *st, float *dlogits, float dloss, const float *logits, const int *y, int n, int c)
{
    (void)st;
    jp_cross_entropy_backward(dlogits, dloss, logits, y, n, c);
}

static void cpu_bn_running_update(void *st, float *rm, float *rv, const float *mean, const float *var, int c, float mo,
                                  float unbias)
{
    (void)st;
    for (int j = 0; j < c; j++) {
        rm[j] = (1 - mo) * rm[j] + mo * mean[j];
        rv[j] = (1 - mo) * rv[j] + mo * var[j] * unbias;
    }
}

static void cpu_normal(void *st, float *x, size_t n, float mean, float std, jp_rng *rng)
{
    (void)st;
    jp_rng_fill_normal(rng, x, n, mean, std);
}

static inline float clampf(float v, float lo, float hi) { return v < lo ? lo : v > hi ? hi : v; }

static void cpu_trmm_lower_t(void *st, float *out, const float *z, const float *L, int rows, int d)
{
    (void)st;
    if (out != z) memcpy(out, z, (size_t)rows * d * sizeof(float));
    cblas_strmm(CblasRowMajor, CblasRight, CblasLower, CblasTrans, CblasNonUnit, rows, d, 1.0f, L, d, out, d);
}

static void cpu_clamp(void *st, float *x, float lo, float hi, size_t n)
{
    (void)st;
    for (size_t i = 0; i < n; i++) x[i] = clampf(x[i], lo, hi);
}

static void cpu_pyld_step(void *st, float *x, const float *g, size_t n, float lr, float eps)
{
    (void)st;
#pragma omp parallel for simd if (n >= JP_PAR_MIN_ELEMS)
    for (size_t i = 0; i < n; i++) x[i] = clampf(x[i] + lr * clampf(g[i], -eps, eps), -1.0f, 1.0f);
}

static void cpu_sgld_step(void *st, float *x, const float *g, const float *noise, size_t n, float lr,
                          float eps, int prox, int clamp)
{
    (void)st;
#pragma omp parallel for simd if (n >= JP_PAR_MIN_ELEMS)
    for (size_t i = 0; i < n; i++) {
        float step = prox ? 0.5f * lr * clampf(g[i], -eps, eps) : lr * g[i];
        float v = x[i] + step + (noise ? noise[i] : 0.0f);
        x[i] = clamp ? clampf(v, -1.0f, 1.0f) : v;
    }
}

static void cpu_sgd_update(void *st, const jp_optim_config *c, float *params, const float *grads, float *buf,
                           size_t n, int first, double lr)
{
    (void)st;
    jp_sgd_update(c, params, grads, buf, n, first, lr);
}

static void cpu_adam_update(void *st, const jp_optim_config *c, float *params, const float *grads, float *m,
                            float *v, float *vmax, size_t n, int64_t step, double lr)
{
    (void)st;
    jp_adam_update(c, params, grads, m, v, vmax, n, step, lr);
}

static const jp_device_ops cpu_ops = {
    .name = "cpu",
    .alloc = cpu_alloc,
    .release = cpu_release,
    .upload = cpu_copy,
    .download = cpu_copy,
    .copy = cpu_copy,
    .zero = cpu_zero,
    .host_alloc = cpu_alloc,
    .host_release = cpu_release,
    .upload_async = cpu_copy,
    .sync = cpu_sync,
    .add = cpu_add,
    .scale = cpu_scale,
    .fill = cpu_fill,
    .all_finite = cpu_all_finite,
    .set_at_labels = cpu_set_at_labels,
    .gather_rows = cpu_gather_rows,
    .scatter_rows = cpu_scatter_rows,
    .pool_forward = cpu_pool_forward,
    .pool_backward = cpu_pool_backward,
    .gemm = cpu_gemm,
    .bias_forward = cpu_bias_forward,
    .bias_backward = cpu_bias_backward,
    .dropout_forward = cpu_dropout_forward,
    .dropout_backward = cpu_dropout_backward,
    .logsumexp_forward = cpu_lse_forward,
    .logsumexp_backward = cpu_lse_backward,
    .cross_entropy_forward = cpu_ce_forward,
    .cross_entropy_backward = cpu_ce_backward,
    .bn_running_update = cpu_bn_running_update,
    .normal = cpu_normal,
    .trmm_lower_t = cpu_trmm_lower_t,
    .clamp = cpu_clamp,
    .pyld_step = cpu_pyld_step,
    .sgld_step = cpu_sgld_step,
    .sgd_update = cpu_sgd_update,
    .adam_update = cpu_adam_update,
};

static const jp_device cpu_device = {&cpu_ops, NULL, NULL, NULL};

const jp_device *jp_device_cpu(void) { return &cpu_device; }

int jp_device_is_host(const jp_device *d) { return d->ops == &cpu_ops; }
