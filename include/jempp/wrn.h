/* The pre-activation Wide-ResNet of the JEM/JEM++ reference code (sndnyang/JEMPP),
 * on the fast oneDNN path.
 *
 *   z0 = conv1(x)                                   3x3, in_channels -> 16, bias
 *   3 groups of n = (depth-4)/6 blocks, widths 16k, 32k, 64k, strides 1, 2, 2:
 *     out = conv2(lrelu(bn2(dropout(conv1(lrelu(bn1(x))))))) + shortcut(x)
 *     (conv2 carries the stride; shortcut = 1x1 conv with bias when stride or
 *      channels change, identity otherwise)
 *   feat = avgpool(lrelu(bn(out)))                  global average pool, (N, 64k)
 *   logits = class_output(feat)                     Linear(64k, C)
 *   (energy_output = Linear(64k, 1) exists for the unconditional variant)
 * LeakyReLU slope 0.2; BatchNorm with PyTorch semantics and momentum 0.9 by default.
 *
 * A model is built for a fixed batch size (oneDNN primitives and activation memory
 * are planned for it); eval-mode calls may pass fewer rows. All memory is allocated
 * when the model is built: forward/backward allocate nothing. */
#ifndef JEMPP_WRN_H
#define JEMPP_WRN_H

#include <stddef.h>
#include <stdint.h>

#include "jempp/core.h"
#include "jempp/dist.h"
#include "jempp/ops.h"

typedef enum { JP_NORM_NONE = 0, JP_NORM_BATCH = 1 } jp_norm;

typedef struct {
    int depth;        /* 6n + 4 (default 28) */
    int width;        /* k (default 10) */
    int in_channels;  /* 1 or 3 */
    int image_size;   /* H = W, divisible by 4 (28 or 32) */
    int n_classes;
    jp_norm norm;     /* default JP_NORM_BATCH (JEM++); JEM uses none */
    float dropout;    /* default 0 */
    float bn_momentum;/* default 0.9, as the reference */
    float bn_eps;     /* 1e-5 */
    float slope;      /* LeakyReLU slope, 0.2 */
    int winograd;     /* the automatic choice may run Winograd F(4x4,3x3) for 3x3 stride-1
                       * convolutions (default 1); 0: direct */
    jp_kernel_choice kernels; /* layout and implementations (default: all automatic) */
    int uncond;       /* 1: log p(x) is the energy head (JEM's --uncond); 0: LSE of the logits */
} jp_wrn_config;

void jp_wrn_config_defaults(jp_wrn_config *cfg);
/* Checks a configuration; the message names the bad field and the allowed values. */
jp_status jp_wrn_config_check(const jp_wrn_config *cfg, jp_error *err);

/* What a named tensor of the model is, in PyTorch state_dict terms. */
typedef enum {
    JP_T_PARAM,   /* trainable float, in the params array */
    JP_T_BUFFER,  /* float running statistic, in the buffers array */
    JP_T_COUNTER  /* int64 num_batches_tracked, in the counters array */
} jp_tensor_kind;

typedef struct {
    char name[96];   /* e.g. "f.layer1.0.bn1.running_mean" */
    jp_tensor_kind kind;
    int ndim;
    int64_t shape[4];
    size_t offset;   /* into params/grads, buffers or counters */
    size_t count;
} jp_tensor_info;

typedef struct jp_wrn jp_wrn;

jp_status jp_wrn_create(jp_wrn **out, const jp_wrn_config *cfg, int batch, jp_error *err);
void jp_wrn_free(jp_wrn *m);
const jp_wrn_config *jp_wrn_config_of(const jp_wrn *m);
int jp_wrn_batch(const jp_wrn *m);

/* PyTorch default init: kaiming_uniform(a=sqrt(5)) weights, U(+-1/sqrt(fan_in)) biases,
 * BN weight 1 / bias 0 / running mean 0 / running var 1. */
void jp_wrn_init_params(jp_wrn *m, jp_rng *rng);

/* The state_dict table, in PyTorch order except that energy_output comes last.
 * Parameters, gradients and buffers live on the model's device (cfg.kernels.device: host
 * memory on the CPU, GPU memory on a GPU), the counters on the host; as do the arrays the
 * passes below take and give (inputs, logits, gradients). */
const jp_tensor_info *jp_wrn_tensors(const jp_wrn *m, int *count);
float *jp_wrn_params(jp_wrn *m);     /* all trainable parameters, one array */
float *jp_wrn_grads(jp_wrn *m);      /* their gradients, same layout */
size_t jp_wrn_param_count(const jp_wrn *m);
/* The parameters of the classifier (everything but energy_output, which is stored
 * last): what an optimiser updates unless the energy head is trained. */
size_t jp_wrn_classifier_param_count(const jp_wrn *m);
float *jp_wrn_buffers(jp_wrn *m);    /* BN running statistics */
size_t jp_wrn_buffer_count(const jp_wrn *m);
int64_t *jp_wrn_counters(jp_wrn *m); /* BN num_batches_tracked */
size_t jp_wrn_counter_count(const jp_wrn *m);
/* Host copies of the parameters and buffers (the arrays themselves on the CPU): the view
 * downloads them from a device model into a mirror the model keeps (valid until the next
 * view or commit); after writing into them, commit uploads them and marks the parameters
 * changed. Checkpoints and the trainer's snapshots go through these. */
void jp_wrn_host_view(jp_wrn *m, float **params, float **buffers);
void jp_wrn_host_commit(jp_wrn *m);
/* Whether the model lives on the CPU (host memory). */
int jp_wrn_on_host(const jp_wrn *m);
/* Synchronised batch norm (PyTorch's SyncBatchNorm) for data-parallel training: the
 * train-mode batch statistics, and the backward's sums through them, over the processes
 * of dist, each holding an equal share of the batch; NULL: this process's batch again.
 * Needs jempp's fused batch norm on every BN layer (JP_ERR_BACKEND naming the layer's
 * kernel otherwise: --bn_impl jempp-fused, AVX2 or AVX-512). */
jp_status jp_wrn_sync_batch_norm(jp_wrn *m, const jp_dist *dist, jp_error *err);
/* Call after the parameters were changed (optimizer step, load): the next forward
 * re-lays the convolution weights out for oneDNN. */
void jp_wrn_params_changed(jp_wrn *m);
void jp_wrn_zero_grads(jp_wrn *m);
/* The model's own RNG (dropout masks), part of a run's saved state. */
jp_rng *jp_wrn_rng(jp_wrn *m);

/* logits (n, C) = f(x (n, C_in, H, W)). train: BN uses batch statistics and updates
 * the running ones, dropout is active; requires n == batch. eval: running statistics,
 * n <= batch. Saves what backward needs. */
void jp_wrn_forward(jp_wrn *m, float *logits, const float *x, int n, int train);
/* Backward of the last forward from dlogits (n, C). Accumulates parameter gradients
 * when param_grads != 0; writes dx (n, C_in, H, W) when not NULL. */
void jp_wrn_backward(jp_wrn *m, const float *dlogits, float *dx, int param_grads);
/* Backward of the last forward from both heads: d(logits) (n, C) and d(energy head)
 * (n); either may be NULL (zero). jp_wrn_backward is this with denergy = NULL. */
void jp_wrn_backward_heads(jp_wrn *m, const float *dlogits, const float *denergy, float *dx, int param_grads);
/* The energy head on the last forward's features: e (n) = energy_output(feat). */
void jp_wrn_energy_head(jp_wrn *m, float *e, int n);

/* The model's unnormalised log density log p(x) = -E(x) for the rows of the last
 * forward, given its logits: LSE(logits) (JEM, JEM++), or the energy head when the
 * model is unconditional (cfg.uncond, JEM's --uncond). */
void jp_wrn_log_px(jp_wrn *m, const float *logits, float *out, int n);
/* Backward of the last forward for  sum_i w_i log p(x_i) + <dlogits_extra, logits>
 * (w or dlogits_extra may be NULL: zero). E.g. w = 1 gives grad_x log p(x) (samplers,
 * the pxgrad OOD score), dlogits_extra = onehot(y) the class-conditional f(x)[y].
 * Uses the model's own scratch: allocates nothing. */
void jp_wrn_backward_log_px(jp_wrn *m, const float *logits, const float *w, const float *dlogits_extra, float *dx,
                            int param_grads);

/* dx (n, C_in, H, W) = conv1^T p: the first convolution's transposed application to
 * p (n, 16, H, W); equals grad_x <p, conv1(x)> for any x. */
void jp_wrn_conv1_transpose(jp_wrn *m, float *dx, const float *p, int n);
/* Features (n, 64k) of the last forward (after the final BN, activation and pooling). */
const float *jp_wrn_features(const jp_wrn *m);
int jp_wrn_feature_dim(const jp_wrn *m);
/* The kernels each planned layer runs (oneDNN's implementation names or jempp's), one
 * line per layer; writes into buf. */
void jp_wrn_describe(const jp_wrn *m, char *buf, size_t len);
/* One line: the activation layout and how many shapes of layer run each
 * implementation ("nChw16c; jempp-winograd x3 onednn-direct x4 jempp-fused bn x4"). */
void jp_wrn_kernel_summary(const jp_wrn *m, char *buf, size_t len);
/* How many of the model's convolution shapes run the implementation id. */
int jp_wrn_conv_impl_count(const jp_wrn *m, jp_conv_impl_id id);
/* How many of the model's oneDNN primitives run oneDNN's reference (naive loop)
 * kernels, 10-1000x slower than its JIT ones; the first few are named in buf (may be
 * NULL). 0 on a machine with AVX2 or better for the WRNs jempp trains. */
int jp_wrn_reference_kernels(const jp_wrn *m, char *buf, size_t len);

#endif
