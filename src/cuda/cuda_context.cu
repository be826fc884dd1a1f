/* The CUDA backend's context (cuda_backend.h): the device, its stream, the cuBLAS and
 * cuDNN handles, and the errors that say what is missing. */
#include <cublas_v2.h>
#include <dlfcn.h>
#include <cuda_runtime.h>
#include <cudnn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda/cuda_context.h"


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

/* libcublas of this CUDA major version (the one the backend was compiled against) */
static jp_status load_cublas(jp_cublas_fns *f, jp_error *err)
{
    char name[64];
    snprintf(name, sizeof name, "libcublas.so.%d", CUDART_VERSION / 1000);
    f->lib = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (!f->lib) return jp_fail(err, JP_ERR_BACKEND, "cuBLAS cannot be loaded: %s", dlerror());
    f->create = (cublasStatus_t(*)(cublasHandle_t *))dlsym(f->lib, "cublasCreate_v2");
    f->destroy = (cublasStatus_t(*)(cublasHandle_t))dlsym(f->lib, "cublasDestroy_v2");
    f->set_stream = (cublasStatus_t(*)(cublasHandle_t, cudaStream_t))dlsym(f->lib, "cublasSetStream_v2");
    f->sgemm = (cublasStatus_t(*)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int, const float *,
                                  const float *, int, const float *, int, const float *, float *,
                                  int))dlsym(f->lib, "cublasSgemm_v2");
    f->strmm = (cublasStatus_t(*)(cublasHandle_t, cublasSideMode_t, cublasFillMode_t, cublasOperation_t,
                                  cublasDiagType_t, int, int, const float *, const float *, int, const float *, int,
                                  float *, int))dlsym(f->lib, "cublasStrmm_v2");
    if (!f->create || !f->destroy || !f->set_stream || !f->sgemm || !f->strmm)
        return jp_fail(err, JP_ERR_BACKEND, "%s lacks cublasCreate_v2, cublasSetStream_v2, cublasSgemm_v2 or "
                       "cublasStrmm_v2", name);
    return JP_OK;
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
    c->tf32 = 1;
    cudaError_t e = cudaSetDevice(device);
    if (e == cudaSuccess) e = cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking);
    if (e != cudaSuccess) {
        free(c);
        return cuda_fail(err, e, "device setup");
    }
    jp_status st = load_cublas(&c->cublas, err);
    if (st) {
        jp_cuda_close(c);
        return st;
    }
    if (c->cublas.create(&c->blas) != CUBLAS_STATUS_SUCCESS) {
        c->blas = NULL;
        jp_cuda_close(c);
        return jp_fail(err, JP_ERR_BACKEND, "cuBLAS cannot start on device %d", device);
    }
    c->cublas.set_stream(c->blas, c->stream);
    cudnnStatus_t ds = cudnnCreate(&c->dnn);
    if (ds != CUDNN_STATUS_SUCCESS) {
        c->dnn = NULL;
        jp_cuda_close(c);
        return jp_fail(err, JP_ERR_BACKEND, "cuDNN cannot start on device %d: %s", device, cudnnGetErrorString(ds));
    }
    cudnnSetStream(c->dnn, c->stream);
    e = cudaMalloc(&c->small, JP_CUDA_SMALL_BYTES);
    if (e != cudaSuccess) {
        jp_cuda_close(c);
        return cuda_fail(err, e, "cudaMalloc of the reduction scratch");
    }
    c->allocated = c->peak = JP_CUDA_SMALL_BYTES;
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
    if (c->small) cudaFree(c->small);
    if (c->dnn) cudnnDestroy(c->dnn);
    if (c->blas) c->cublas.destroy(c->blas);
    if (c->cublas.lib) dlclose(c->cublas.lib);
    if (c->stream) cudaStreamDestroy(c->stream);
    free(c->blocks);
    free(c);
}

extern "C" void jp_cuda_set_math(jp_cuda *c, int tf32, int deterministic)
{
    c->tf32 = tf32 != 0;
    c->deterministic = deterministic != 0;
}

extern "C" double jp_cuda_memory_used(const jp_cuda *c)
{
    size_t free_b = 0, total = 0;
    cudaSetDevice(c->device);
    if (cudaMemGetInfo(&free_b, &total) != cudaSuccess) return 0;
    return (double)(total - free_b);
}

extern "C" double jp_cuda_memory_peak(const jp_cuda *c) { return (double)c->peak; }

extern "C" const char *jp_cuda_describe(const jp_cuda *c) { return c->describe; }

extern "C" jp_status jp_cuda_sync(jp_cuda *c, jp_error *err)
{
    cudaError_t e = cudaGetLastError();
    if (e == cudaSuccess) e = cudaStreamSynchronize(c->stream);
    return e == cudaSuccess ? JP_OK : cuda_fail(err, e, "kernel");
}
