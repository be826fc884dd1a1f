/* --device for `jempp`: the CPU, or a GPU through the CUDA backend when the program was
 * built with it (JEMPP_HAVE_CUDA). */
#include "device_cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef JEMPP_HAVE_CUDA
#include "cuda/cuda_backend.h"
#endif

void jp_cli_device_probe(char *buf, size_t len)
{
#ifdef JEMPP_HAVE_CUDA
    char why[200];
    int n = jp_cuda_device_count(why, sizeof why);
    if (n == 0) snprintf(buf, len, "yes, no GPU: %s", why);
    else snprintf(buf, len, "yes, %d GPU%s", n, n == 1 ? "" : "s");
#else
    snprintf(buf, len, "no (not built: CMake found no nvcc and cuDNN)");
#endif
}

void jp_cli_nccl_probe(char *buf, size_t len)
{
#ifdef JEMPP_HAVE_NCCL
    jp_cuda_nccl_probe(buf, len);
#else
    snprintf(buf, len, "no (not built: CMake found no CUDA backend or no nccl.h)");
#endif
}

/* This process's index among the ranks a launcher started on this machine (0 without
 * a launcher): the GPU that "cuda" means for it. */
static int local_rank(void)
{
    static const char *const vars[] = {"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "PMIX_LOCAL_RANK",
                                       "SLURM_LOCALID"};
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++) {
        const char *v = getenv(vars[i]);
        int r = v ? atoi(v) : -1;
        if (r >= 0 && r < 1024) return r;
    }
    return 0;
}

/* The index of "cuda" (0) or "cuda:N"; -1 when name is neither. */
static int cuda_index(const char *name)
{
    if (!strcmp(name, "cuda")) return 0;
    if (strncmp(name, "cuda:", 5) != 0 || !name[5]) return -1;
    char *end;
    long n = strtol(name + 5, &end, 10);
    return *end || n < 0 || n > 1024 ? -1 : (int)n;
}

int jp_cli_device_open(jp_cli_device *d, const char *name, int tf32, int deterministic, jp_error *err)
{
    memset(d, 0, sizeof *d);
    snprintf(d->describe, sizeof d->describe, "cpu");
    snprintf(d->name, sizeof d->name, "cpu");
    int index = cuda_index(name);
    if (!strcmp(name, "cpu")) return JP_OK;
    if (!strcmp(name, "cpu-copies")) {
        d->copy_ops = *jp_device_cpu()->ops;
        d->copy_ops.name = "cpu-copies";
        d->gpu = (jp_device){&d->copy_ops, NULL, NULL, NULL};
        d->dev = &d->gpu;
        snprintf(d->name, sizeof d->name, "cpu-copies");
        snprintf(d->describe, sizeof d->describe, "cpu-copies (testing aid: the CPU's kernels on device copies)");
        return JP_OK;
    }
    if (index < 0 && strcmp(name, "auto") != 0)
        return jp_fail(err, JP_ERR_ARG, "--device %s: cpu, cuda, cuda:N or auto", name);
#ifdef JEMPP_HAVE_CUDA
    char why[200];
    int n_gpus = jp_cuda_device_count(why, sizeof why);
    if (index < 0 && n_gpus == 0) { /* auto */
        snprintf(d->describe, sizeof d->describe, "cpu (--device auto: %s)", why);
        return JP_OK;
    }
    if (strcmp(name, "auto") == 0 || strcmp(name, "cuda") == 0) index = local_rank() % (n_gpus > 0 ? n_gpus : 1);
    jp_status st = jp_cuda_device_open(&d->gpu, index, err);
    if (st) return st;
    jp_cuda *c = (jp_cuda *)d->gpu.state;
    jp_cuda_set_math(c, tf32, deterministic);
    snprintf(d->describe, sizeof d->describe, "cuda:%d, %s; TF32 convolutions %s%s", index, jp_cuda_describe(c),
             tf32 ? "on" : "off", deterministic ? "; deterministic algorithms" : "");
    d->dev = &d->gpu;
    snprintf(d->name, sizeof d->name, "cuda:%d", index);
    return JP_OK;
#else
    (void)tf32, (void)deterministic;
    if (index < 0) {
        snprintf(d->describe, sizeof d->describe, "cpu (--device auto: this jempp has no CUDA backend)");
        return JP_OK;
    }
    return jp_fail(err, JP_ERR_BACKEND, "--device %s: this jempp was built without the CUDA backend (CMake found no "
                   "nvcc and cuDNN, or -DJEMPP_CUDA=OFF); rebuild on a machine with CUDA 13 and cuDNN 9", name);
#endif
}

void jp_cli_device_close(jp_cli_device *d)
{
#ifdef JEMPP_HAVE_CUDA
    if (d->dev && d->dev->ops != &d->copy_ops) jp_cuda_device_close(&d->gpu);
#endif
    d->dev = NULL;
}

int jp_cli_comm_open(jp_cli_comm *c, const char *name, const jp_dist *host, const jp_cli_device *d, jp_error *err)
{
    memset(c, 0, sizeof *c);
    c->dist = host;
    snprintf(c->describe, sizeof c->describe, host ? "MPI on host memory%s" : "none (one process)",
             host && d->dev ? " (the GPU's gradients through host copies)" : "");
    int on_gpu = d->dev && d->dev->ops != &d->copy_ops;
    if (strcmp(name, "auto") && strcmp(name, "mpi") && strcmp(name, "nccl"))
        return jp_fail(err, JP_ERR_ARG, "--comm %s: auto, mpi or nccl", name);
    if (!strcmp(name, "mpi") || (!strcmp(name, "auto") && (!host || !on_gpu))) return JP_OK;
    if (!on_gpu)
        return jp_fail(err, JP_ERR_ARG, "--comm nccl: NCCL works on GPU memory, and this run is on %s (--device "
                       "cuda)", d->name);
#ifdef JEMPP_HAVE_NCCL
    char what[120];
    jp_error e;
    if (jp_cuda_nccl_open(&c->nccl, host, d->dev, what, sizeof what, &e)) {
        if (!strcmp(name, "nccl")) {
            *err = e;
            return e.code;
        }
        snprintf(c->describe, sizeof c->describe, "MPI on host copies of the GPU's memory (--comm auto: %.200s)", e.msg);
        return JP_OK;
    }
    c->open = 1;
    c->dist = &c->nccl;
    snprintf(c->describe, sizeof c->describe, "%s", what);
    return JP_OK;
#else
    if (!strcmp(name, "auto")) return JP_OK;
    return jp_fail(err, JP_ERR_BACKEND, "--comm nccl: this jempp was built without NCCL (CMake found no nccl.h)");
#endif
}

void jp_cli_comm_close(jp_cli_comm *c)
{
#ifdef JEMPP_HAVE_NCCL
    if (c->open) jp_cuda_nccl_close(&c->nccl);
#endif
    c->open = 0;
    c->dist = NULL;
}
