/* Data-parallel training across processes: the few collective operations the trainer
 * needs, as a table of functions, so that the library depends on no communication
 * library. The `jempp` program provides an MPI implementation (tools/cli/dist_mpi.c,
 * when built with MPI) and starts it under `mpirun -np R jempp train ...`; a program of
 * its own may give another one. On a GPU the program layers NCCL over it for the device
 * memory (src/cuda/nccl_dist.cu). NULL in jp_train_config.dist: one process.
 *
 * Every rank calls the same operations in the same order with the same sizes. A
 * failing operation returns an error; `abort` ends every rank of the job at once (used
 * when one rank fails where the others would wait for it). */
#ifndef JEMPP_DIST_H
#define JEMPP_DIST_H

#include <stddef.h>

#include "jempp/core.h"

typedef enum { JP_DIST_SUM = 0, JP_DIST_MAX = 1, JP_DIST_MIN = 2 } jp_dist_op;

typedef struct jp_dist {
    int rank, size; /* this process and the number of processes (ranks 0..size-1) */
    void *ctx;
    /* data (n) <- op over the ranks of data, in place, on every rank. Float sums are added in
     * rank order's tree as the implementation does it: the same result on every rank. */
    jp_status (*allreduce_f32)(void *ctx, float *data, size_t n, jp_dist_op op, jp_error *err);
    jp_status (*allreduce_f64)(void *ctx, double *data, size_t n, jp_dist_op op, jp_error *err);
    /* bytes of data from rank root to every rank. */
    jp_status (*bcast)(void *ctx, void *data, size_t bytes, int root, jp_error *err);
    /* root receives every rank's `bytes` of send into recv (size x bytes, rank order);
     * recv is used on root only. */
    jp_status (*gather)(void *ctx, const void *send, size_t bytes, void *recv, int root, jp_error *err);
    /* every rank receives its `bytes` of root's send (size x bytes, rank order) into recv. */
    jp_status (*scatter)(void *ctx, const void *send, size_t bytes, void *recv, int root, jp_error *err);
    /* ends every rank of the job with exit code `code` (does not return). */
    void (*abort)(void *ctx, int code);
    /* allreduce_f32 and bcast on the memory of the compute device the model runs on
     * (jp_train_config.kernels.device), queued in that device's order of operations; NULL
     * when the implementation works on host memory only: the trainer then goes through
     * host copies. With them the trainer uses the table even for one rank (size 1). */
    jp_status (*allreduce_f32_device)(void *ctx, float *data, size_t n, jp_dist_op op, jp_error *err);
    jp_status (*bcast_device)(void *ctx, void *data, size_t bytes, int root, jp_error *err);
} jp_dist;

#endif
