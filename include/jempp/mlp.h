/* A small multilayer perceptron for low-dimensional energy models (the 2-D toys):
 *
 *   in (n, D) -> Linear(D, H) -> LeakyReLU -> [Linear(H, H) -> LeakyReLU] x (L-1)
 *             -> Linear(H, O) -> out (n, O)
 *
 * with L hidden layers (default 2 -> 64 -> 64 -> 64 -> 1: D = 2, H = 64, L = 3, O = 1)
 * and LeakyReLU slope 0.2, as the Wide-ResNet. Linear weights are (out, in), as
 * torch.nn.Linear, and get PyTorch's default initialisation.
 *
 * All parameters live in ONE flat array (params, n_params floats) and their
 * gradients in another (grads), so the optimisers of optim.h step them directly.
 * Layout, layer by layer: weight (out x in, row-major) then bias (out).
 *
 * The batch size is fixed at create and every buffer is allocated there; forward and
 * backward allocate nothing. A forward may use n <= batch rows. Results do not depend
 * on the number of OpenMP threads (rows are independent and every sum runs in a fixed
 * order).
 *
 * As an energy model (O = 1) the output is f(x), the negative energy: E(x) = -f(x),
 * the same as JEM's E = -LSE(logits) with a single logit. */
#ifndef JEMPP_MLP_H
#define JEMPP_MLP_H

#include <stddef.h>

#include "jempp/core.h"

#define JP_MLP_MAX_HIDDEN 8

typedef struct {
    int batch;                          /* rows per pass, fixed at create */
    int n_linear;                       /* linear layers: hidden layers + 1 */
    int dims[JP_MLP_MAX_HIDDEN + 2];    /* dims[0] = D, dims[1..L] = H, dims[L+1] = O */
    float slope;                        /* LeakyReLU negative slope */
    size_t n_params;
    size_t w_off[JP_MLP_MAX_HIDDEN + 1], b_off[JP_MLP_MAX_HIDDEN + 1];
    float *params, *grads;              /* n_params each */
    /* Saved by forward for backward, each (batch, dims[l]):
     * act[0] a copy of the input, pre[l] = layer l's linear output (l = 1..L+1),
     * act[l] = lrelu(pre[l]) for hidden l; the output is pre[L+1]. */
    float *act[JP_MLP_MAX_HIDDEN + 2];
    float *pre[JP_MLP_MAX_HIDDEN + 2];
    float *dbuf[2];                     /* backward scratch, (batch, max dim) each */
    float *wt;                          /* forward scratch: one weight matrix transposed */
    int n_fwd;                          /* rows of the last forward (0: none yet) */
} jp_mlp;

/* Creates an MLP in_dim -> hidden (n_hidden layers) -> out_dim for at most `batch`
 * rows per pass. Parameters are zero until jp_mlp_init_params. JP_ERR_ARG for a
 * size < 1 or n_hidden > JP_MLP_MAX_HIDDEN, JP_ERR_NOMEM. On error m is left empty
 * (jp_mlp_free is safe). */
jp_status jp_mlp_create(jp_mlp *m, int batch, int in_dim, int hidden, int n_hidden, int out_dim,
                        float slope, jp_error *err);
void jp_mlp_free(jp_mlp *m);

/* PyTorch's nn.Linear defaults: kaiming_uniform_(a = sqrt(5)) for weights, which is
 * U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and the same bound for biases. Layer by layer,
 * weight then bias, from rng. */
void jp_mlp_init_params(jp_mlp *m, jp_rng *rng);
void jp_mlp_zero_grad(jp_mlp *m);

/* Forward on x (n, in_dim), 1 <= n <= batch. Returns the output (n, out_dim), valid
 * until the next forward; saves what backward needs. */
const float *jp_mlp_forward(jp_mlp *m, const float *x, int n);

/* Backward of the last forward (all its n rows) given dout = dL/dout (n, out_dim):
 * writes dx = dL/dx (n, in_dim) when dx is not NULL, and when param_grads is not 0
 * ADDS dL/dparams to m->grads. dout is only read. */
void jp_mlp_backward(jp_mlp *m, float *dx, const float *dout, int param_grads);

#endif
