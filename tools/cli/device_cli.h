/* The `jempp` program's compute devices (device_cli.c): --device cpu|cuda[:N]|auto. */
#ifndef JEMPP_CLI_DEVICE_CLI_H
#define JEMPP_CLI_DEVICE_CLI_H

#include <stddef.h>

#include "ops/device.h"

/* An opened device: NULL `dev` for the CPU. */
typedef struct {
    const jp_device *dev;
    jp_device gpu;
    jp_device_ops copy_ops; /* cpu-copies */
    char name[16];      /* "cpu" or "cuda:N" */
    char describe[300]; /* "cpu" or the GPU's name, memory and cuDNN version */
} jp_cli_device;

/* Opens what `name` asks for: "cpu"; "cuda" or "cuda:N" (an error naming what is missing
 * when this jempp has no CUDA backend, or no GPU, driver or device N is found); "auto"
 * (the first GPU when there is one, else the CPU); "cpu-copies", a testing aid: the CPU's
 * kernels on device copies that jempp does not take for host memory, so that every
 * transfer a GPU run makes happens (results equal the CPU's bit for bit). tf32 and deterministic set how cuDNN
 * computes (ignored on the CPU). */
int jp_cli_device_open(jp_cli_device *d, const char *name, int tf32, int deterministic, jp_error *err);
void jp_cli_device_close(jp_cli_device *d);
/* What `jempp env` says of the CUDA backend: "no (not built)", "yes, no GPU: <why>" or
 * "yes, N GPU(s)". */
void jp_cli_device_probe(char *buf, size_t len);

#endif
