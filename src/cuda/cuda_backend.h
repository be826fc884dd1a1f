/* The CUDA backend's device context and the element-wise operations of a training step
 * (the .cu files of src/cuda, built when CMake finds nvcc and cuDNN: JEMPP_HAVE_CUDA). Arrays are
 * device memory; the operations run on the context's stream and report their errors at
 * the next jp_cuda_sync. Each operation computes what its CPU counterpart computes, with
 * the same float32 formula (named beside it), so that the two can be compared element by
 * element (tests/test_cuda_ops.c, on a machine with a GPU). Internal header. */
#ifndef JEMPP_CUDA_BACKEND_H
#define JEMPP_CUDA_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "jempp/core.h"
#include "jempp/optim.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct jp_cuda jp_cuda;

/* Device `device` (0..count-1): its stream, cuBLAS and cuDNN handles. The errors say what
 * is missing: no driver (or one too old for this CUDA), no device, a device index out of
 * range, cuDNN or cuBLAS that cannot start. */
jp_status jp_cuda_open(jp_cuda **out, int device, jp_error *err);
void jp_cuda_close(jp_cuda *c);
/* "NVIDIA H100 80GB HBM3 (sm_90, 79.2 GiB), cuDNN 9.x" */
const char *jp_cuda_describe(const jp_cuda *c);
/* The number of devices, 0 with the reason in why (at least 160 bytes) when none. */
int jp_cuda_device_count(char *why, size_t len);

jp_status jp_cuda_alloc(jp_cuda *c, void **p, size_t bytes, jp_error *err);
void jp_cuda_free(jp_cuda *c, void *p);
jp_status jp_cuda_upload(jp_cuda *c, void *dst, const void *src, size_t bytes, jp_error *err);
jp_status jp_cuda_download(jp_cuda *c, void *dst, const void *src, size_t bytes, jp_error *err);
/* Waits for the stream; the first error of what ran on it, named. */
jp_status jp_cuda_sync(jp_cuda *c, jp_error *err);

/* y = x > 0 ? x : slope x;  dx = dy * (y > 0 ? 1 : slope)      (ops/activation.c) */
void jp_cuda_lrelu_forward(jp_cuda *c, float *y, const float *x, size_t n, float slope);
void jp_cuda_lrelu_backward(jp_cuda *c, float *dx, const float *dy, const float *y, size_t n, float slope);
/* lse (n) = log sum_k exp(logits (n, K)), max-shifted                (ops/softmax.c) */
void jp_cuda_logsumexp(jp_cuda *c, float *lse, const float *logits, int n, int K);
/* dlogits = w / n (softmax(logits) - onehot(y)): the mean cross-entropy's gradient */
void jp_cuda_cross_entropy_backward(jp_cuda *c, float *dlogits, float w, const float *logits, const int *y, int n,
                                    int K);
/* PYLD's inner step: x = clamp(x + lr clamp(g, -eps, eps), -1, 1)   (ebm/sampler.c) */
void jp_cuda_pyld_step(jp_cuda *c, float *x, const float *g, size_t n, float lr, float eps);
/* torch.optim.SGD and Adam, one step: jp_sgd_update's and jp_adam_update's formulas
 * (jempp/optim.h), in the same float32 order (Adam without amsgrad). */
void jp_cuda_sgd_update(jp_cuda *c, const jp_optim_config *cfg, float *params, const float *grads, float *buf,
                        size_t n, int first, double lr);
void jp_cuda_adam_update(jp_cuda *c, const jp_optim_config *cfg, float *params, const float *grads, float *m,
                         float *v, size_t n, int64_t step, double lr);
/* x[i] = N(0, 1) from Philox4x32-10 (counter = offset + i / 4, key = seed) and
 * Box-Muller: the same numbers for the same (seed, offset) whatever the launch. */
void jp_cuda_normal(jp_cuda *c, float *x, size_t n, uint64_t seed, uint64_t offset);

#ifdef __cplusplus
}
#endif

#endif
