/* LeakyReLU (slope 0 gives ReLU), elementwise on any layout. */
#include "core/parallel.h"
#include "jempp/ops.h"
#include "ops/ref.h"

/* out = in > 0 ? in : slope * in   (out may alias in) */
void jp_ref_leaky_relu_forward(float *out, const float *in, size_t count, float slope)
{
    JP_CHECK(out && in);
#pragma omp parallel for schedule(static) if (count >= JP_PAR_MIN_ELEMS)
    for (size_t i = 0; i < count; i++) out[i] = in[i] > 0.0f ? in[i] : slope * in[i];
}

/* d out / d in = 1 where in > 0, slope elsewhere (at in == 0 the slope, as torch):
 *   din = dout * (in > 0 ? 1 : slope)                 (written; din may alias dout) */
void jp_ref_leaky_relu_backward(float *din, const float *dout, const float *in, size_t count,
                                float slope)
{
    if (!din) return;
    JP_CHECK(dout && in);
#pragma omp parallel for schedule(static) if (count >= JP_PAR_MIN_ELEMS)
    for (size_t i = 0; i < count; i++) din[i] = in[i] > 0.0f ? dout[i] : slope * dout[i];
}
