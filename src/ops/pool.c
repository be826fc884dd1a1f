/* Global average pooling (N,C,H,W) -> (N,C), as adaptive_avg_pool2d(x, 1). */
#include "jempp/ops.h"
#include "ops/ref.h"

/* out[n,c] = sum_{y,x} in[n,c,y,x] / (H*W)   (sum in double) */
void jp_ref_global_avgpool_forward(float *out, const float *in, int n, int c, int h, int w)
{
    JP_CHECK(out && in && n >= 0 && c >= 0 && h > 0 && w > 0);
    const size_t pl = (size_t)h * w;
    const long planes = (long)n * c;
#pragma omp parallel for schedule(static)
    for (long p = 0; p < planes; p++) {
        const float *ip = in + (size_t)p * pl;
        double sum = 0.0;
        for (size_t k = 0; k < pl; k++) sum += ip[k];
        out[p] = (float)(sum / (double)pl);
    }
}

/* Every input of a plane contributes 1/(H*W) to its mean:
 *   din[n,c,y,x] = dout[n,c] / (H*W)                   (written) */
void jp_ref_global_avgpool_backward(float *din, const float *dout, int n, int c, int h, int w)
{
    if (!din) return;
    JP_CHECK(dout && n >= 0 && c >= 0 && h > 0 && w > 0);
    const size_t pl = (size_t)h * w;
    const long planes = (long)n * c;
#pragma omp parallel for schedule(static)
    for (long p = 0; p < planes; p++) {
        const float g = dout[p] / (float)pl;
        float *dp = din + (size_t)p * pl;
        for (size_t k = 0; k < pl; k++) dp[k] = g;
    }
}
