/* The CUDA backend (the .cu files of src/cuda, built when CMake finds nvcc and cuDNN:
 * JEMPP_HAVE_CUDA): a context per GPU (its stream, cuBLAS and cuDNN handles) and the
 * compute device of ops/device.h on it (cuda_device.cu), whose operations compute what
 * the CPU device computes with the same float32 formulas (the file is compiled without
 * contraction into fused multiply-adds: fmaf where the CPU code has fmaf, nowhere else),
 * so that the two can be compared value by value (tests/test_device.c, argument cuda,
 * on a machine with a GPU). Operations run on the context's stream in order and report
 * their errors at the next sync. Internal header. */
#ifndef JEMPP_CUDA_BACKEND_H
#define JEMPP_CUDA_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "jempp/core.h"
#include "jempp/dist.h"
#include "ops/backend.h"
#include "ops/device.h"

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
/* Bytes of the device's memory in use (total - free: every process and the driver's
 * context included). */
double jp_cuda_memory_used(const jp_cuda *c);
/* Bytes of jempp's own device allocations at their most since the device was opened
 * (parameters, gradients, activations, workspaces, chains, buffers: what PyTorch's
 * max_memory_allocated counts of its tensors); cuDNN's and cuBLAS's internal memory and
 * the driver's context are not in it. */
double jp_cuda_memory_peak(const jp_cuda *c);
/* Waits for the stream; the first error of what ran on it, named. */
jp_status jp_cuda_sync(jp_cuda *c, jp_error *err);

/* How plans made from now on compute: tf32 (default 1) lets convolutions use TF32
 * tensor cores, as PyTorch does by default; deterministic (default 0) restricts cuDNN to
 * algorithms that give the same bits on every run. */
void jp_cuda_set_math(jp_cuda *c, int tf32, int deterministic);

/* The compute device on GPU `index`: dev->state is its jp_cuda; a context on it
 * (jp_ctx_init_device) plans with cuDNN. Random numbers: each
 * call that draws takes one 64-bit key from the caller's jp_rng and generates with
 * Philox4x32-10 on the device (element i from counter i / 4 under that key). */
jp_status jp_cuda_device_open(jp_device *dev, int index, jp_error *err);
void jp_cuda_device_close(jp_device *dev);

/* NCCL collectives on the GPU of dev (opened with jp_cuda_device_open) for the ranks of
 * host, a jp_dist over host memory (MPI), or for this process alone when host is NULL:
 * *out has host's operations plus allreduce_f32_device and bcast_device, queued on the
 * GPU's stream (jempp/dist.h). Every rank calls it together; when one rank cannot load
 * libnccl.so.2 or start the communicator, all return an error. describe (len bytes):
 * "NCCL 2.28.3 on the GPUs of 2 ranks". Built when CMake finds nccl.h (JEMPP_HAVE_NCCL). */
jp_status jp_cuda_nccl_open(jp_dist *out, const jp_dist *host, const jp_device *dev, char *describe, size_t len,
                            jp_error *err);
/* After the last collective: waits for the stream, ends the communicator. */
void jp_cuda_nccl_close(jp_dist *d);
/* What `jempp env` says of NCCL: "yes, NCCL 2.28.3", or why libnccl.so.2 cannot be loaded. */
void jp_cuda_nccl_probe(char *buf, size_t len);

/* The device's plan implementations (dev->conv, dev->bnact): every convolution with
 * "cudnn" (cudnn_conv.cu), every batch norm + LeakyReLU with "cudnn" (cudnn_bnact.cu). */
extern const jp_conv_impl jp_conv_cudnn;
extern const jp_bnact_impl jp_bnact_cudnn;

#ifdef __cplusplus
}
#endif

#endif
