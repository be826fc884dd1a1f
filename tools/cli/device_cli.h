/* The `jempp` program's compute devices (device_cli.c): --device cpu|cuda[:N]|auto. */
#ifndef JEMPP_CLI_DEVICE_CLI_H
#define JEMPP_CLI_DEVICE_CLI_H

#include <stddef.h>

#include "jempp/dist.h"
#include "ops/device.h"

/* An opened device: NULL `dev` for the CPU. */
typedef struct {
    const jp_device *dev;
    jp_device gpu;
    jp_device_ops copy_ops; /* cpu-copies */
    char name[16];      /* "cpu" or "cuda:N" */
    char describe[300]; /* "cpu" or the GPU's name, memory and cuDNN version */
} jp_cli_device;

/* Opens what `name` asks for: "cpu"; "cuda" (GPU 0, or under a launcher the one of the
 * rank's index on its machine, modulo the GPUs) or "cuda:N" (an error naming what is missing
 * when this jempp has no CUDA backend, or no GPU, driver or device N is found); "auto"
 * (the first GPU when there is one, else the CPU); "cpu-copies", a testing aid: the CPU's
 * kernels on device copies that jempp does not take for host memory, so that every
 * transfer a GPU run makes happens (results equal the CPU's bit for bit). tf32 and deterministic set how cuDNN
 * computes (ignored on the CPU). */
int jp_cli_device_open(jp_cli_device *d, const char *name, int tf32, int deterministic, jp_error *err);
void jp_cli_device_close(jp_cli_device *d);
/* The collectives of a run's ranks (--comm auto|mpi|nccl): dist is what the trainer gets
 * (NULL: one process without collectives). */
typedef struct {
    const jp_dist *dist;
    jp_dist nccl;
    int open;           /* nccl holds an NCCL communicator */
    char describe[300]; /* "NCCL 2.28.3 on the GPUs of 2 ranks", "MPI on host memory", ... */
} jp_cli_comm;

/* host: the launcher's ranks (MPI), NULL for one process. "mpi": host as it is; "nccl":
 * NCCL over host's ranks (or over this process alone) on the GPU of d, an error when d is
 * no GPU or NCCL cannot start; "auto": nccl when there are ranks on GPUs and NCCL starts,
 * else as mpi. Every rank calls it together. */
int jp_cli_comm_open(jp_cli_comm *c, const char *name, const jp_dist *host, const jp_cli_device *d, jp_error *err);
void jp_cli_comm_close(jp_cli_comm *c);
/* What `jempp env` says of the CUDA backend: "no (not built)", "yes, no GPU: <why>" or
 * "yes, N GPU(s)". */
void jp_cli_device_probe(char *buf, size_t len);
/* What `jempp env` says of NCCL (--comm nccl): "yes, NCCL 2.28.3", "built, not loadable: ..."
 * or "no (not built ...)". */
void jp_cli_nccl_probe(char *buf, size_t len);

#endif
