/* Optimisers and learning-rate schedules on flat parameter arrays.
 *
 * A model keeps all its trainable parameters in ONE contiguous float array and
 * their gradients in another of the same length, so an optimiser step is a
 * handful of elementwise loops over n floats. The updates reproduce
 * torch.optim.SGD and torch.optim.Adam of PyTorch 1.13 (single-tensor path, CPU)
 * operation for operation in float32, including where PyTorch's kernels fuse a
 * multiply-add (`x.add(y, alpha=a)` is fma(y, a, x); `x.addcmul_(t, t, value=a)`
 * is fma(a*t, t, x)), so results agree bit for bit on the reference machine.
 * Hyper-parameters are doubles, as in Python, and are rounded to float where
 * PyTorch rounds them (a scalar operand of a float32 kernel).
 *
 * Loops are elementwise (optionally OpenMP-parallel), so results do not depend on
 * the number of threads.
 */
#ifndef JEMPP_OPTIM_H
#define JEMPP_OPTIM_H

#include <stddef.h>
#include <stdint.h>

#include "jempp/core.h"
#include "jempp/safetensors.h"

/* ---- optimisers ------------------------------------------------------- */
typedef enum { JP_OPTIM_SGD = 0, JP_OPTIM_ADAM = 1 } jp_optim_kind;

typedef struct {
    jp_optim_kind kind;
    double lr;           /* initial lr (schedules start here); each step is given its lr */
    double weight_decay; /* L2 added to the gradient: g = grad + wd * p (both kinds) */
    /* SGD */
    double momentum;     /* 0: plain SGD, no state */
    double dampening;
    int nesterov;        /* needs momentum > 0 and dampening == 0 (as PyTorch) */
    /* Adam */
    double beta1, beta2, eps;
    int amsgrad;
} jp_optim_config;

/* JEM++'s optimiser: SGD, lr 0.1, momentum 0.9, weight decay 4e-4, no nesterov. */
void jp_optim_config_sgd(jp_optim_config *c);
/* JEM's optimiser: Adam, lr 1e-4, betas (0.9, 0.999), eps 1e-8, no weight decay. */
void jp_optim_config_adam(jp_optim_config *c);
/* Checks the hyper-parameters as torch.optim does (lr, momentum, weight decay and eps
 * not negative, betas in [0, 1), nesterov only with momentum > 0 and dampening 0). */
jp_status jp_optim_config_check(const jp_optim_config *c, jp_error *err);

/* Names of the state tensors in a checkpoint. */
#define JP_OPTIM_MOMENTUM_BUFFER "optim.momentum_buffer" /* F32 [n], SGD with momentum */
#define JP_OPTIM_EXP_AVG "optim.exp_avg"                 /* F32 [n], Adam */
#define JP_OPTIM_EXP_AVG_SQ "optim.exp_avg_sq"           /* F32 [n], Adam */
#define JP_OPTIM_MAX_EXP_AVG_SQ "optim.max_exp_avg_sq"   /* F32 [n], Adam with amsgrad */
#define JP_OPTIM_STEP "optim.step"                       /* I64 [1], both kinds */

typedef struct {
    jp_optim_config cfg;
    const jp_device *dev; /* where the state lives and the steps run */
    size_t n;
    int64_t step; /* steps taken; SGD: 0 means the momentum buffer is not yet set */
    float *momentum_buffer; /* SGD with momentum != 0, else NULL */
    float *exp_avg, *exp_avg_sq, *max_exp_avg_sq; /* Adam (the last with amsgrad), else NULL */
    float *host; /* on a device other than the CPU: the host copy checkpoints go through */
} jp_optim;

/* Checks cfg and allocates the state for n parameters (zeroed, step 0). The state
 * is allocated here once; steps allocate nothing. */
jp_status jp_optim_init(jp_optim *o, const jp_optim_config *cfg, size_t n, jp_error *err);
/* The same on device dev (the model's; NULL: the CPU), whose arrays params and grads
 * then are. */
jp_status jp_optim_init_on(jp_optim *o, const jp_optim_config *cfg, size_t n, const jp_device *dev,
                           jp_error *err);
/* Frees the state arrays; o may then be initialised again. */
void jp_optim_free(jp_optim *o);
/* Forgets the state (zeroes the arrays and the step), as a fresh optimiser. */
void jp_optim_reset(jp_optim *o);
/* One step on params[0..n) with gradients grads[0..n) and learning rate lr (n must
 * be the n given to init): jp_sgd_update or jp_adam_update, on the optimiser's device. */
void jp_optim_step(jp_optim *o, float *params, const float *grads, size_t n, double lr);

/* torch.optim.SGD, one step; float32 and PyTorch's order, with
 * wd = (float)weight_decay, mu = (float)momentum, a = (float)(1 - dampening):
 *   d   = wd != 0 ? fma(p, wd, grad) : grad                   (grad.add(p, alpha=wd))
 *   if mu != 0:
 *     buf = first ? d : fma(d, a, buf * mu)                   (buf.mul_(mu).add_(d, alpha=a))
 *     d   = nesterov ? fma(buf, mu, d) : buf                  (d.add(buf, alpha=mu))
 *   p   = fma(d, (float)-lr, p)                               (p.add_(d, alpha=-lr))
 * first != 0 on the first step (PyTorch's buffer is None then: buf = clone(d)).
 * buf may be NULL when momentum == 0. */
void jp_sgd_update(const jp_optim_config *c, float *params, const float *grads,
                   float *buf, size_t n, int first, double lr);

/* torch.optim.Adam, one step; step is the new step count t (>= 1). In double, as
 * Python: bc1 = 1 - beta1^t, bc2 = 1 - beta2^t, s = lr / bc1, r = sqrt(bc2); then in
 * float32, with b1, b2 rounded to float:
 *   g     = wd != 0 ? fma(p, wd, grad) : grad
 *   m     = fma(g, (float)(1 - beta1), m * b1)               (m.mul_(b1).add_(g, alpha=1-b1))
 *   v     = fma((float)(1 - beta2) * g, g, v * b2)           (v.mul_(b2).addcmul_(g, g, value=1-b2))
 *   vmax  = max(vmax, v)                                     (amsgrad only; NaN wins)
 *   denom = sqrt(amsgrad ? vmax : v) / (float)r + (float)eps
 *   p     = p + ((float)(-s) * m) / denom                    (p.addcdiv_(m, denom, value=-s))
 * vmax may be NULL when amsgrad is off. */
void jp_adam_update(const jp_optim_config *c, float *params, const float *grads, float *m,
                    float *v, float *vmax, size_t n, int64_t step, double lr);

/* ---- optimiser state for checkpoints ------------------------------------ */
typedef struct {
    const char *name; /* one of the JP_OPTIM_* names above */
    jp_dtype dtype;   /* JP_F32 for the arrays, JP_I64 for the step */
    size_t count;     /* elements: n for the arrays, 1 for the step */
    void *data;       /* the optimiser's own storage: reading saves, writing restores */
} jp_optim_tensor;

/* How many state tensors this optimiser has (the step, plus its arrays). */
int jp_optim_state_count(const jp_optim *o);
/* The i-th state tensor, 0 <= i < jp_optim_state_count(o); the step comes first. */
jp_optim_tensor jp_optim_state_tensor(const jp_optim *o, int i);
/* The state tensor called `name` (a JP_OPTIM_* name); data is NULL and count 0 if
 * this optimiser has no such tensor. */
jp_optim_tensor jp_optim_state_find(const jp_optim *o, const char *name);
/* Adds every state tensor to w, by reference (keep o unchanged until w is saved).
 * Shapes: [n] for arrays, [1] for the step. Also sets metadata "optim.kind" to
 * "sgd" or "adam". */
void jp_optim_state_save(jp_optim *o, jp_st_writer *w);
/* Restores every state tensor of o from f, byte for byte. Fails, naming the file
 * and tensor: JP_ERR_FORMAT if one is missing or has another dtype, if metadata
 * "optim.kind" is present and differs, or if the step is negative; JP_ERR_SHAPE if
 * an array's length is not n. On failure o is left reset. */
jp_status jp_optim_state_load(jp_optim *o, const jp_st_file *f, jp_error *err);

/* ---- learning-rate schedules -------------------------------------------- */
/* The reference training loop (JEM and JEM++, train_jempp.py), with a global
 * iteration counter cur_iter starting at 0 and lr the optimiser's current lr
 * (initially base_lr):
 *
 *   for epoch in range(n_epochs):
 *       if epoch in decay_epochs:   lr = lr * decay_rate      # compounds
 *       for each batch:
 *           if cur_iter <= warmup_iters:
 *               lr = base_lr * cur_iter / warmup_iters          # overrides
 *           step(lr); cur_iter += 1
 *
 * So the first iteration runs with lr 0 (the momentum buffer is still filled),
 * lr reaches base_lr at cur_iter == warmup_iters, a decay at an epoch that starts
 * during the warmup is overwritten by it, and later decays multiply what warmup
 * left. warmup_iters <= 0 means no warmup (the reference's -1; its 0 would divide
 * by zero). JP_WARMUP_SHIFTED is the common variant
 *   if cur_iter < warmup_iters: lr = base_lr * (cur_iter + 1) / warmup_iters
 * that never uses lr 0. Decay multiplications are applied one by one, in double,
 * as Python does, once per distinct epoch in the list.
 *
 * Cosine: after the warmup (same rule), lr = final_lr + (base_lr - final_lr) *
 * (1 + cos(pi * t / total_iters)) / 2 with t = min(cur_iter, total_iters) (as
 * torch's CosineAnnealingLR closed form with eta_min = final_lr); decay epochs are
 * ignored. */
typedef enum { JP_LR_STEP = 0, JP_LR_COSINE = 1 } jp_lr_kind;
typedef enum { JP_WARMUP_REFERENCE = 0, JP_WARMUP_SHIFTED = 1 } jp_warmup_mode;

#define JP_LR_MAX_DECAYS 16

typedef struct {
    jp_lr_kind kind;
    double base_lr;
    int64_t warmup_iters;        /* <= 0: none */
    jp_warmup_mode warmup_mode;
    int64_t iters_per_epoch;     /* needed (> 0) when warmup and decays are both set */
    int n_decay;                 /* step decay: epochs (>= 0) at whose start lr *= decay_rate */
    int decay_epochs[JP_LR_MAX_DECAYS];
    double decay_rate;
    int64_t total_iters;         /* cosine: length of the cosine (> 0) */
    double final_lr;             /* cosine: lr at total_iters and after */
} jp_lr_schedule;

/* A step schedule with base lr, no warmup and no decay (a constant lr). */
void jp_lr_schedule_init(jp_lr_schedule *s, double base_lr);
/* Checks the schedule (counts, epochs not negative, iters_per_epoch where needed). */
jp_status jp_lr_schedule_check(const jp_lr_schedule *s, jp_error *err);
/* The lr the reference loop uses at global iteration iter_global (0-based), which
 * lies in epoch `epoch` (0-based; iter_global = epoch * iters_per_epoch + i). A
 * pure function of its arguments, so a resumed run needs no schedule state. */
double jp_lr_at(const jp_lr_schedule *s, int epoch, int64_t iter_global);

#endif
