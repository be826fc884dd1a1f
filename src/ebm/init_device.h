/* Fresh chains drawn into a compute device's memory: the replay buffer's fill and its
 * re-initialisations when the buffer lives on a device (the trainer's d_buf). A
 * jp_init_device is the ctx of jp_init_on_device, a jp_init_fn whose x is device
 * memory. Informative init: the classes and normals drawn in jp_gauss_stats_sample's
 * order, L z by the device's trmm, + mu and the clamp there (the device's ops), written
 * to the rows' places; so on a device with the CPU's kernels the chains are the host
 * function's bit for bit. Uniform init: drawn on the host in blocks and uploaded.
 * Nothing is allocated per call. Internal header. */
#ifndef JEMPP_EBM_INIT_DEVICE_H
#define JEMPP_EBM_INIT_DEVICE_H

#include "jempp/data.h"
#include "jempp/ebm.h"
#include "ops/device.h"

typedef struct {
    const jp_device *dev;
    const jp_gauss_stats *gauss; /* NULL: uniform(-1, 1) */
    int dim, max_rows;           /* rows per call at most */
    float *mean, *chol;          /* gauss's on the device */
    float *z, *lz;               /* JP_GAUSS_SAMPLE_ROWS x dim on the device */
    float *host_rows;            /* JP_GAUSS_SAMPLE_ROWS x dim (the normals or the uniforms) */
    int *cls, *order;            /* max_rows each */
    int *d_order;                /* max_rows on the device */
} jp_init_device;

/* For draws of up to max_rows rows of dim floats into dev's memory; gauss NULL for the
 * uniform init. */
jp_status jp_init_device_open(jp_init_device *d, const jp_device *dev, const jp_gauss_stats *gauss, int dim,
                              int max_rows, jp_error *err);
void jp_init_device_close(jp_init_device *d);
/* jp_init_fn: n (<= max_rows) fresh chains into x (device memory), of class fixed_class
 * or (-1) drawn from the priors. */
void jp_init_on_device(void *ctx, float *x, int n, int fixed_class, jp_rng *rng);

#endif
