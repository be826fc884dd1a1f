/* Log-sum-exp over classes and softmax cross-entropy (mean reduction), on rows of
 * (N,C) logits. Stable: the row maximum is subtracted before exponentiating and
 * the sums run in double. */
#include <math.h>

#include "core/parallel.h"
#include "jempp/ops.h"

/* LSE(x) = max + log sum_c exp(x_c - max). A row whose maximum is +-inf returns
 * it (all -inf gives -inf, as torch.logsumexp). */
static double jp_row_lse(const float *x, int c)
{
    double mx = x[0];
    for (int k = 1; k < c; k++)
        if (x[k] > mx) mx = x[k];
    if (isinf(mx)) return mx;
    double sum = 0.0;
    for (int k = 0; k < c; k++) sum += exp((double)x[k] - mx);
    return mx + log(sum);
}

/* out[n] = LSE(in[n,:]) */
void jp_logsumexp_forward(float *out, const float *in, int n, int c)
{
    JP_CHECK(out && in && n >= 0 && c > 0);
#pragma omp parallel for schedule(static) if ((long)n * c >= JP_PAR_MIN_EXPS)
    for (int r = 0; r < n; r++) out[r] = (float)jp_row_lse(in + (size_t)r * c, c);
}

/* d LSE / d x_c = exp(x_c - LSE) = softmax(x)_c:
 *   din[n,c] = dout[n] * softmax(in[n,:])_c             (written) */
void jp_logsumexp_backward(float *din, const float *dout, const float *in, int n, int c)
{
    if (!din) return;
    JP_CHECK(dout && in && n >= 0 && c > 0);
#pragma omp parallel for schedule(static) if ((long)n * c >= JP_PAR_MIN_EXPS)
    for (int r = 0; r < n; r++) {
        const float *x = in + (size_t)r * c;
        const double lse = jp_row_lse(x, c);
        for (int k = 0; k < c; k++)
            din[(size_t)r * c + k] = (float)((double)dout[r] * exp((double)x[k] - lse));
    }
}

/* loss = (1/N) sum_n (LSE(logits[n,:]) - logits[n, y_n]). Labels outside [0, C)
 * are a programming error. Sequential sum in double: the same value on any
 * number of threads. */
double jp_cross_entropy_forward(const float *logits, const int *y, int n, int c)
{
    JP_CHECK(logits && y && n > 0 && c > 0);
    double total = 0.0;
    for (int r = 0; r < n; r++) {
        JP_CHECK(y[r] >= 0 && y[r] < c);
        const float *x = logits + (size_t)r * c;
        total += jp_row_lse(x, c) - (double)x[y[r]];
    }
    return total / n;
}

/* d loss / d logits[n,c] = (softmax(logits[n,:])_c - [c == y_n]) / N, times the
 * upstream scalar dloss:
 *   dlogits[n,c] = dloss * (softmax[n,c] - [c == y_n]) / N   (written) */
void jp_cross_entropy_backward(float *dlogits, float dloss, const float *logits, const int *y,
                               int n, int c)
{
    if (!dlogits) return;
    JP_CHECK(logits && y && n > 0 && c > 0);
    for (int r = 0; r < n; r++) JP_CHECK(y[r] >= 0 && y[r] < c);
    const double scale = (double)dloss / n;
#pragma omp parallel for schedule(static) if ((long)n * c >= JP_PAR_MIN_EXPS)
    for (int r = 0; r < n; r++) {
        const float *x = logits + (size_t)r * c;
        const double lse = jp_row_lse(x, c);
        for (int k = 0; k < c; k++) {
            const double p = exp((double)x[k] - lse) - (k == y[r] ? 1.0 : 0.0);
            dlogits[(size_t)r * c + k] = (float)(scale * p);
        }
    }
}
