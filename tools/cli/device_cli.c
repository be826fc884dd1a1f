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
    if (index < 0) { /* auto */
        char why[200];
        if (jp_cuda_device_count(why, sizeof why) == 0) {
            snprintf(d->describe, sizeof d->describe, "cpu (--device auto: %s)", why);
            return JP_OK;
        }
        index = 0;
    }
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
