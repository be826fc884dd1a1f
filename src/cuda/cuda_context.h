/* The CUDA context's fields, shared by the .cu files of src/cuda (C++ only). */
#ifndef JEMPP_CUDA_CONTEXT_H
#define JEMPP_CUDA_CONTEXT_H

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

extern "C" {
#include "cuda/cuda_backend.h"
#include "ops/backend.h"
}

/* Device scratch for reductions that come back to the host (a flag, per-row sums). */
#define JP_CUDA_SMALL_BYTES (1u << 20)

/* cuBLAS, loaded when a device is opened (cuda_context.cu): linking it would make every
 * start of `jempp`, a CPU run too, map and relocate libcublasLt (0.4 s, 210 MB). */
typedef struct {
    void *lib;
    cublasStatus_t (*create)(cublasHandle_t *);
    cublasStatus_t (*destroy)(cublasHandle_t);
    cublasStatus_t (*set_stream)(cublasHandle_t, cudaStream_t);
    cublasStatus_t (*sgemm)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int, const float *,
                            const float *, int, const float *, int, const float *, float *, int);
    cublasStatus_t (*strmm)(cublasHandle_t, cublasSideMode_t, cublasFillMode_t, cublasOperation_t, cublasDiagType_t,
                            int, int, const float *, const float *, int, const float *, int, float *, int);
} jp_cublas_fns;

struct jp_cuda {
    int device;
    cudaStream_t stream;
    jp_cublas_fns cublas;
    cublasHandle_t blas;
    cudnnHandle_t dnn;
    void *small; /* JP_CUDA_SMALL_BYTES of device memory */
    /* jempp's own device allocations (cuda_device.cu): bytes now and at most, and the
     * size of each live block by address */
    size_t allocated, peak;
    struct jp_cuda_block {
        void *p;
        size_t bytes;
    } *blocks;
    int n_blocks, cap_blocks;
    int tf32;          /* convolutions may use TF32 tensor cores (jp_cuda_set_math) */
    int deterministic; /* plans choose deterministic algorithms only */
    char describe[256];
};

#endif
