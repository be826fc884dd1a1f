/* torch.optim.Adam (PyTorch 1.13, single-tensor path, not capturable) on a flat
 * float array. */
#include <math.h>
#include <stddef.h>

#include "core/cpu_clones.h"
#include "core/parallel.h"
#include "jempp/optim.h"

/* The larger of a and b; NaN if either is NaN (torch.maximum). */
static inline float jp_max_nan(float a, float b)
{
    return (a > b || a != a) ? a : b;
}

/* In double: bc1 = 1 - b1^t, bc2 = 1 - b2^t, s = lr / bc1, r = sqrt(bc2). In float:
 * g = wd != 0 ? fma(p, wd, grad) : grad;  m = fma(g, 1 - b1, m * b1);
 * v = fma((1 - b2) * g, g, v * b2);  vmax = max(vmax, v) (amsgrad);
 * denom = sqrt(amsgrad ? vmax : v) / r + eps;  p = p + (-s * m) / denom. */
JP_CPU_CLONES void jp_adam_update(const jp_optim_config *c, float *params, const float *grads, float *m,
                    float *v, float *vmax, size_t n, int64_t step, double lr)
{
    JP_CHECK(c != NULL && step >= 1);
    JP_CHECK(n == 0 || (params != NULL && grads != NULL && m != NULL && v != NULL));
    JP_CHECK(!c->amsgrad || n == 0 || vmax != NULL);
    const double t = (double)step;
    const double bc1 = 1.0 - pow(c->beta1, t);
    const double bc2 = 1.0 - pow(c->beta2, t);
    const double step_size = lr / bc1;
    const float neg_step = (float)(-step_size);
    const float bc2_sqrt = (float)sqrt(bc2);
    const float eps = (float)c->eps;
    const int use_wd = c->weight_decay != 0;
    const int amsgrad = c->amsgrad != 0;
    const float wd = (float)c->weight_decay;
    const float b1 = (float)c->beta1, one_b1 = (float)(1.0 - c->beta1);
    const float b2 = (float)c->beta2, one_b2 = (float)(1.0 - c->beta2);
    const ptrdiff_t len = (ptrdiff_t)n;

#pragma omp parallel for schedule(static) if (len >= JP_PAR_MIN_ELEMS)
    for (ptrdiff_t i = 0; i < len; i++) {
        const float p = params[i];
        const float g = use_wd ? fmaf(p, wd, grads[i]) : grads[i];
        const float mi = fmaf(g, one_b1, m[i] * b1);
        float vi = fmaf(one_b2 * g, g, v[i] * b2);
        m[i] = mi;
        v[i] = vi;
        if (amsgrad) {
            vi = jp_max_nan(vmax[i], vi);
            vmax[i] = vi;
        }
        const float denom = sqrtf(vi) / bc2_sqrt + eps;
        params[i] = p + (neg_step * mi) / denom;
    }
}
