/* torch.optim.SGD (PyTorch 1.13, single-tensor path) on a flat float array. */
#include <math.h>
#include <stddef.h>

#include "core/cpu_clones.h"
#include "core/parallel.h"
#include "jempp/optim.h"

/* d = wd != 0 ? fma(p, wd, grad) : grad
 * buf = first ? d : fma(d, 1 - dampening, buf * mu);  d = nesterov ? fma(buf, mu, d) : buf
 * p = fma(d, -lr, p)
 * Each line is one PyTorch kernel: add with alpha is a fused multiply-add there. */
JP_CPU_CLONES void jp_sgd_update(const jp_optim_config *c, float *params, const float *grads,
                   float *buf, size_t n, int first, double lr)
{
    JP_CHECK(c != NULL && (n == 0 || (params != NULL && grads != NULL)));
    const int use_wd = c->weight_decay != 0;
    const int use_mom = c->momentum != 0;
    const int nesterov = c->nesterov != 0;
    const float wd = (float)c->weight_decay;
    const float mu = (float)c->momentum;
    const float damp = (float)(1.0 - c->dampening);
    const float neg_lr = (float)(-lr);
    const ptrdiff_t len = (ptrdiff_t)n;
    JP_CHECK(!use_mom || n == 0 || buf != NULL);

    if (!use_mom) {
#pragma omp parallel for schedule(static) if (len >= JP_PAR_MIN_ELEMS)
        for (ptrdiff_t i = 0; i < len; i++) {
            float d = use_wd ? fmaf(params[i], wd, grads[i]) : grads[i];
            params[i] = fmaf(d, neg_lr, params[i]);
        }
        return;
    }
#pragma omp parallel for schedule(static) if (len >= JP_PAR_MIN_ELEMS)
    for (ptrdiff_t i = 0; i < len; i++) {
        float d = use_wd ? fmaf(params[i], wd, grads[i]) : grads[i];
        float b = first ? d : fmaf(d, damp, buf[i] * mu);
        buf[i] = b;
        d = nesterov ? fmaf(b, mu, d) : b;
        params[i] = fmaf(d, neg_lr, params[i]);
    }
}
