/* Learning-rate schedules: the reference loop's linear warmup and step decay, and
 * a cosine schedule. See jempp/optim.h for the loop being reproduced. */
#include <math.h>
#include <string.h>

#include "jempp/optim.h"

#define JP_PI 3.14159265358979323846 /* == Python's math.pi as a double */

void jp_lr_schedule_init(jp_lr_schedule *s, double base_lr)
{
    memset(s, 0, sizeof *s);
    s->kind = JP_LR_STEP;
    s->base_lr = base_lr;
    s->warmup_iters = -1;
    s->warmup_mode = JP_WARMUP_REFERENCE;
    s->decay_rate = 1.0;
}

jp_status jp_lr_schedule_check(const jp_lr_schedule *s, jp_error *err)
{
    if (s->kind != JP_LR_STEP && s->kind != JP_LR_COSINE)
        return jp_fail(err, JP_ERR_ARG, "lr schedule: unknown kind %d", (int)s->kind);
    if (!(s->base_lr >= 0) || !isfinite(s->base_lr))
        return jp_fail(err, JP_ERR_ARG, "lr schedule: base lr %g must be finite and >= 0", s->base_lr);
    if (s->warmup_mode != JP_WARMUP_REFERENCE && s->warmup_mode != JP_WARMUP_SHIFTED)
        return jp_fail(err, JP_ERR_ARG, "lr schedule: unknown warmup mode %d", (int)s->warmup_mode);
    if (s->n_decay < 0 || s->n_decay > JP_LR_MAX_DECAYS)
        return jp_fail(err, JP_ERR_ARG, "lr schedule: %d decay epochs (at most %d)", s->n_decay,
                       JP_LR_MAX_DECAYS);
    for (int k = 0; k < s->n_decay; k++)
        if (s->decay_epochs[k] < 0)
            return jp_fail(err, JP_ERR_ARG, "lr schedule: decay epoch %d is negative", s->decay_epochs[k]);
    if (s->kind == JP_LR_STEP) {
        if (s->n_decay > 0 && (!(s->decay_rate >= 0) || !isfinite(s->decay_rate)))
            return jp_fail(err, JP_ERR_ARG, "lr schedule: decay rate %g must be finite and >= 0",
                           s->decay_rate);
        if (s->n_decay > 0 && s->warmup_iters > 0 && s->iters_per_epoch <= 0)
            return jp_fail(err, JP_ERR_ARG,
                           "lr schedule: warmup with decay epochs needs iters_per_epoch > 0 (got %lld)",
                           (long long)s->iters_per_epoch);
    } else {
        if (s->total_iters <= 0)
            return jp_fail(err, JP_ERR_ARG, "lr schedule: cosine needs total_iters > 0 (got %lld)",
                           (long long)s->total_iters);
        if (!(s->final_lr >= 0) || !isfinite(s->final_lr))
            return jp_fail(err, JP_ERR_ARG, "lr schedule: final lr %g must be finite and >= 0", s->final_lr);
    }
    return JP_OK;
}

/* Whether epoch e is in the decay list (Python's `epoch in decay_epochs`). */
static int jp_is_decay_epoch(const jp_lr_schedule *s, int e)
{
    for (int k = 0; k < s->n_decay; k++)
        if (s->decay_epochs[k] == e) return 1;
    return 0;
}

/* Warmup (reference): it <= W -> base * it / W, the last setting at it == W.
 * Warmup (shifted):   it <  W -> base * (it + 1) / W, the last at it == W - 1.
 * After it: step decay multiplies, once per decay epoch d <= epoch whose first
 * iteration d * iters_per_epoch comes after the last warmup setting; cosine is
 * final + (base - final) * (1 + cos(pi * min(it, T) / T)) / 2. */
double jp_lr_at(const jp_lr_schedule *s, int epoch, int64_t iter_global)
{
    const int64_t w = s->warmup_iters;
    double lr = s->base_lr;
    int64_t last_set = -1; /* the global iteration that last set lr by warmup */
    if (w > 0) {
        if (s->warmup_mode == JP_WARMUP_REFERENCE) {
            if (iter_global <= w) return s->base_lr * (double)iter_global / (double)w;
            last_set = w;
            lr = s->base_lr * (double)w / (double)w;
        } else {
            if (iter_global < w) return s->base_lr * (double)(iter_global + 1) / (double)w;
            last_set = w - 1;
            lr = s->base_lr * (double)w / (double)w;
        }
    }
    if (s->kind == JP_LR_COSINE) {
        const int64_t t = iter_global < s->total_iters ? iter_global : s->total_iters;
        return s->final_lr +
               (s->base_lr - s->final_lr) * (1.0 + cos(JP_PI * (double)t / (double)s->total_iters)) / 2.0;
    }
    for (int e = 0; e <= epoch; e++) {
        if (!jp_is_decay_epoch(s, e)) continue;
        if (last_set >= 0 && (int64_t)e * s->iters_per_epoch <= last_set) continue;
        lr = lr * s->decay_rate;
    }
    return lr;
}
