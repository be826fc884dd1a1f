/* A compute device: where the model's tensors live and where everything that is not a
 * convolution or a batch norm runs (those are plans, ops/backend.h). The model, the
 * samplers, the optimisers and the trainer call these operations on device arrays; on
 * the CPU device (device_cpu.c) device memory is host memory and each operation is the
 * library's C kernel, on the CUDA device (src/cuda/cuda_device.cu) device memory is GPU
 * memory and each operation a CUDA kernel or cuBLAS call computing the same float32
 * formula. tests/test_device.c checks every device the machine has against the CPU
 * device, operation by operation.
 *
 * Conventions: arrays are device arrays unless named host; `n` counts floats; a device
 * may run operations asynchronously, in order: jp_device_sync waits and reports the
 * first error. Labels (int) and index arrays given to an operation are device arrays.
 * Random numbers are drawn from the caller's jp_rng: the CPU device draws the values
 * from it (the library's streams, unchanged), other devices draw one 64-bit key from it
 * and generate on the device (Philox), so a run on one device is reproducible, not
 * equal to a run on another.
 *
 * Adding a device: one folder with a jp_device_ops table; the program that links it
 * offers it by name. Internal header. */
#ifndef JEMPP_OPS_DEVICE_H
#define JEMPP_OPS_DEVICE_H

#include <stddef.h>
#include <stdint.h>

#include "jempp/core.h"
#include "jempp/optim.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct jp_device_ops jp_device_ops;
struct jp_conv_impl;  /* ops/backend.h */
struct jp_bnact_impl;

/* A device: its operations and their state (the CPU device has none), and the
 * implementations of its convolution and batch-norm plans (NULL on the CPU, whose peers
 * are chosen per layer: ops/conv_impls.c, ops/bnact.c). */
struct jp_device {
    const jp_device_ops *ops;
    void *state;
    const struct jp_conv_impl *conv;
    const struct jp_bnact_impl *bnact;
};

struct jp_device_ops {
    const char *name; /* "cpu", "cuda" */
    /* ---- memory ---- */
    /* bytes of zeroed device memory, 64-byte aligned; NULL when there is not enough */
    void *(*alloc)(void *st, size_t bytes);
    void (*release)(void *st, void *p);
    void (*upload)(void *st, void *dst, const void *host_src, size_t bytes);
    void (*download)(void *st, void *host_dst, const void *src, size_t bytes);
    void (*copy)(void *st, void *dst, const void *src, size_t bytes);
    void (*zero)(void *st, void *dst, size_t bytes);
    /* Host memory the device copies from and to directly (CUDA: page-locked), zeroed,
     * for the arrays that go up and down every iteration; NULL when there is not enough.
     * upload_async: as upload, but it may return before the copy is done when src is
     * such memory: src must then stay unchanged until the device's next download or sync. */
    void *(*host_alloc)(void *st, size_t bytes);
    void (*host_release)(void *st, void *p);
    void (*upload_async)(void *st, void *dst, const void *host_src, size_t bytes);
    /* waits for what was queued; JP_OK or the first error, named */
    jp_status (*sync)(void *st, jp_error *err);

    /* ---- element-wise ---- */
    void (*add)(void *st, float *y, const float *x, size_t n);   /* y += x */
    void (*scale)(void *st, float *x, float a, size_t n);        /* x *= a */
    void (*fill)(void *st, float *x, float v, size_t n);         /* x = v */
    /* 1 when every value is finite */
    int (*all_finite)(void *st, const float *x, size_t n);
    /* x[i, y[i]] = v for i < n (rows of k), the rest untouched: a one-hot's ones */
    void (*set_at_labels)(void *st, float *x, const int *y, int n, int k, float v);
    /* Rows of d floats (the replay buffer's chains; idx in device memory, n entries):
     * gather dst row i = src row idx[i]; scatter dst row idx[i] = src row i, where a row
     * named twice takes the later one (as copies made in order of i). */
    void (*gather_rows)(void *st, float *dst, const float *src, const int *idx, int n, size_t d);
    void (*scatter_rows)(void *st, float *dst, const float *src, const int *idx, int n, size_t d);

    /* ---- layers ---- */
    /* Global average pooling of (n, c, hw) activations in channel blocks of `block`
     * (1: plain NCHW) into plain (n, c): out[i, j] = sum_p in[i, j, p] / hw (in order of
     * p, float); backward: din[i, j, p] = dout[i, j] / hw (written). */
    void (*pool_forward)(void *st, float *out, const float *in, int n, int c, int hw, int block);
    void (*pool_backward)(void *st, float *din, const float *dout, int n, int c, int hw, int block);
    /* Row-major C (m, n) = alpha op(A) op(B) + beta C, op = transpose when t* (as
     * cblas_sgemm, the jp_sgemm of core/sgemm.h on the CPU). */
    void (*gemm)(void *st, int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda,
                 const float *b, int ldb, float beta, float *c, int ldc);
    /* y (n, k) += bias (k) on every row;  db (k) += sum_i dy (n, k) over rows, in row order */
    void (*bias_forward)(void *st, float *y, const float *bias, int n, int k);
    void (*bias_backward)(void *st, float *db, const float *dy, int n, int k);
    /* Inverted dropout (jempp/ops.h): mask = 0 or 1/(1-p), out = in * mask; backward
     * din = dout * mask. */
    void (*dropout_forward)(void *st, float *out, float *mask, const float *in, size_t n, float p, jp_rng *rng);
    void (*dropout_backward)(void *st, float *din, const float *dout, const float *mask, size_t n);
    /* jempp/ops.h's log-sum-exp over classes and mean softmax cross-entropy; the
     * cross-entropy's value comes back to the host (a sum over rows in double). */
    void (*logsumexp_forward)(void *st, float *out, const float *in, int n, int c);
    void (*logsumexp_backward)(void *st, float *din, const float *dout, const float *in, int n, int c);
    double (*cross_entropy_forward)(void *st, const float *logits, const int *y, int n, int c);
    void (*cross_entropy_backward)(void *st, float *dlogits, float dloss, const float *logits, const int *y,
                                   int n, int c);

    /* Batch norm's running statistics (ops/bnact.c): rm = (1 - mo) rm + mo mean,
     * rv = (1 - mo) rv + mo var unbias, for c channels, float. */
    void (*bn_running_update)(void *st, float *rm, float *rv, const float *mean, const float *var, int c, float mo,
                              float unbias);

    /* ---- samplers ---- */
    /* x = mean + std N(0, 1) */
    void (*normal)(void *st, float *x, size_t n, float mean, float std, jp_rng *rng);
    /* The informative init's draws: out (rows, d) = z (rows, d) L^T with L (d, d) lower
     * triangular, row-major (each row z becomes L z; BLAS strmm); x = clamp(x, lo, hi). */
    void (*trmm_lower_t)(void *st, float *out, const float *z, const float *L, int rows, int d);
    void (*clamp)(void *st, float *x, float lo, float hi, size_t n);
    /* PYLD's step: x = clamp(x + lr clamp(g, -eps, eps), -1, 1) */
    void (*pyld_step)(void *st, float *x, const float *g, size_t n, float lr, float eps);
    /* SGLD (prox 0): v = x + lr g + noise; proximal SGLD (prox 1): v = x + 0.5 lr
     * clamp(g, -eps, eps) + noise; x = clamp ? clamp(v, -1, 1) : v. noise may be NULL. */
    void (*sgld_step)(void *st, float *x, const float *g, const float *noise, size_t n, float lr, float eps,
                      int prox, int clamp);

    /* ---- optimisers: jp_sgd_update and jp_adam_update (jempp/optim.h) ---- */
    void (*sgd_update)(void *st, const jp_optim_config *c, float *params, const float *grads, float *buf,
                       size_t n, int first, double lr);
    void (*adam_update)(void *st, const jp_optim_config *c, float *params, const float *grads, float *m,
                        float *v, float *vmax, size_t n, int64_t step, double lr);
};

/* The CPU device (device_cpu.c): host memory and the library's kernels. */
const jp_device *jp_device_cpu(void);
/* Whether d's memory is host memory (the CPU device). */
int jp_device_is_host(const jp_device *d);

/* An arena (jempp/core.h) on d's memory: reserve bytes (0: a measuring arena), carve
 * with jp_arena_take, free with jp_dev_arena_free on the same device. */
int jp_dev_arena_init(const jp_device *d, jp_arena *a, size_t bytes);
void jp_dev_arena_free(const jp_device *d, jp_arena *a);

/* Shorthands for d->ops->op(d->state, ...). */
static inline void *jp_dev_alloc(const jp_device *d, size_t bytes) { return d->ops->alloc(d->state, bytes); }
static inline void jp_dev_release(const jp_device *d, void *p) { if (p) d->ops->release(d->state, p); }
static inline void jp_dev_upload(const jp_device *d, void *dst, const void *src, size_t bytes)
{
    d->ops->upload(d->state, dst, src, bytes);
}
static inline void jp_dev_download(const jp_device *d, void *dst, const void *src, size_t bytes)
{
    d->ops->download(d->state, dst, src, bytes);
}
static inline void jp_dev_copy(const jp_device *d, void *dst, const void *src, size_t bytes)
{
    d->ops->copy(d->state, dst, src, bytes);
}
static inline void jp_dev_zero(const jp_device *d, void *dst, size_t bytes) { d->ops->zero(d->state, dst, bytes); }

/* The device's copy of host array `host` (NULL for NULL): the array itself on the CPU,
 * where nothing needs copying, else `bytes` of device memory (NULL when there is not
 * enough). Uploads and downloads between the two are then no-ops on the CPU (a copy onto
 * itself). Released with jp_dev_twin_free. */
static inline void *jp_dev_twin(const jp_device *d, void *host, size_t bytes)
{
    return !host || jp_device_is_host(d) ? host : jp_dev_alloc(d, bytes);
}
static inline void jp_dev_twin_free(const jp_device *d, const void *host, void *twin)
{
    if (twin != host) jp_dev_release(d, twin);
}

#ifdef __cplusplus
}
#endif

#endif
