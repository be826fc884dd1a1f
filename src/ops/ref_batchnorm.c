/* Reference batch normalisation (torch.nn.BatchNorm2d, affine) on NCHW float32.
 * Per channel c, over its M = N*H*W values; statistics accumulate in double.
 * One thread per channel, so results do not depend on the number of threads. */
#include "jempp/ops.h"
#include "ops/ref.h"

#include <math.h>

static size_t jp_bn_plane(const jp_bn_shape *s) { return (size_t)s->h * s->w; }

/* Sum of the channel's values and their squared deviations from the mean. */
static void jp_bn_moments(const float *in, int c, const jp_bn_shape *s, double *mean,
                          double *var_biased)
{
    const size_t pl = jp_bn_plane(s), m = (size_t)s->n * pl;
    double sum = 0.0;
    for (int n = 0; n < s->n; n++) {
        const float *p = in + ((size_t)n * s->c + c) * pl;
        for (size_t k = 0; k < pl; k++) sum += p[k];
    }
    const double mu = sum / (double)m;
    double ss = 0.0;
    for (int n = 0; n < s->n; n++) {
        const float *p = in + ((size_t)n * s->c + c) * pl;
        for (size_t k = 0; k < pl; k++) {
            const double d = p[k] - mu;
            ss += d * d;
        }
    }
    *mean = mu;
    *var_biased = ss / (double)m;
}

/* out = (x - mean) * invstd * gamma + beta over one channel. */
static void jp_bn_apply(float *out, const float *in, int c, double mean, double invstd,
                        double gamma, double beta, const jp_bn_shape *s)
{
    const size_t pl = jp_bn_plane(s);
    const double scale = gamma * invstd, shift = beta - mean * scale;
    for (int n = 0; n < s->n; n++) {
        const size_t off = ((size_t)n * s->c + c) * pl;
        for (size_t k = 0; k < pl; k++) out[off + k] = (float)(in[off + k] * scale + shift);
    }
}

/* mean = sum x / M;  var = sum (x - mean)^2 / M (biased);  invstd = 1/sqrt(var + eps)
 * out = (x - mean) * invstd * gamma + beta
 * running_mean = (1 - m) running_mean + m mean
 * running_var  = (1 - m) running_var  + m var * M / (M - 1)   (unbiased) */
void jp_ref_bn_forward_train(float *out, float *save_mean, float *save_invstd,
                             float *running_mean, float *running_var, const float *in,
                             const float *gamma, const float *beta, const jp_bn_shape *s)
{
    JP_CHECK(out && in && gamma && beta && s);
    JP_CHECK((running_mean == NULL) == (running_var == NULL));
    const size_t m = (size_t)s->n * jp_bn_plane(s);
    JP_CHECK(m > 0);
    /* The unbiased variance needs two values; torch refuses M = 1 in training too. */
    JP_CHECK(running_var == NULL || m > 1);
    const double mom = s->momentum;
#pragma omp parallel for schedule(static)
    for (int c = 0; c < s->c; c++) {
        double mean, var;
        jp_bn_moments(in, c, s, &mean, &var);
        const double invstd = 1.0 / sqrt(var + (double)s->eps);
        jp_bn_apply(out, in, c, mean, invstd, gamma[c], beta[c], s);
        if (save_mean) save_mean[c] = (float)mean;
        if (save_invstd) save_invstd[c] = (float)invstd;
        if (running_mean) {
            const double unbiased = var * (double)m / (double)(m - 1);
            running_mean[c] = (float)((1.0 - mom) * running_mean[c] + mom * mean);
            running_var[c] = (float)((1.0 - mom) * running_var[c] + mom * unbiased);
        }
    }
}

/* out = (x - running_mean) / sqrt(running_var + eps) * gamma + beta */
void jp_ref_bn_forward_eval(float *out, const float *in, const float *gamma, const float *beta,
                            const float *running_mean, const float *running_var,
                            const jp_bn_shape *s)
{
    JP_CHECK(out && in && gamma && beta && running_mean && running_var && s);
#pragma omp parallel for schedule(static)
    for (int c = 0; c < s->c; c++) {
        const double invstd = 1.0 / sqrt((double)running_var[c] + (double)s->eps);
        jp_bn_apply(out, in, c, running_mean[c], invstd, gamma[c], beta[c], s);
    }
}

/* Per channel sums of dout and of dout * xhat, xhat = (x - mean) * invstd. */
static void jp_bn_grad_sums(const float *dout, const float *in, int c, double mean,
                            double invstd, const jp_bn_shape *s, double *sum_dy,
                            double *sum_dy_xhat)
{
    const size_t pl = jp_bn_plane(s);
    double a = 0.0, b = 0.0;
    for (int n = 0; n < s->n; n++) {
        const size_t off = ((size_t)n * s->c + c) * pl;
        for (size_t k = 0; k < pl; k++) {
            const double dy = dout[off + k];
            a += dy;
            b += dy * ((in[off + k] - mean) * invstd);
        }
    }
    *sum_dy = a;
    *sum_dy_xhat = b;
}

/* With xhat = (x - mean) * invstd and y = gamma * xhat + beta, where mean and var
 * depend on every x of the channel (d mean/dx = 1/M, d var/dx = 2 (x - mean)/M):
 *   dbeta  += sum dy
 *   dgamma += sum dy * xhat
 *   dx = gamma * invstd * (dy - sum(dy)/M - xhat * sum(dy * xhat)/M)
 *      = gamma * invstd / M * (M dy - sum(dy) - xhat * sum(dy * xhat))      (written) */
void jp_ref_bn_backward_train(float *din, float *dgamma, float *dbeta, const float *dout,
                              const float *in, const float *save_mean, const float *save_invstd,
                              const float *gamma, const jp_bn_shape *s)
{
    JP_CHECK(dout && in && save_mean && save_invstd && s);
    JP_CHECK(din == NULL || gamma != NULL);
    const size_t pl = jp_bn_plane(s);
    const double m = (double)s->n * (double)pl;
#pragma omp parallel for schedule(static)
    for (int c = 0; c < s->c; c++) {
        const double mean = save_mean[c], invstd = save_invstd[c];
        double sdy, sdyx;
        jp_bn_grad_sums(dout, in, c, mean, invstd, s, &sdy, &sdyx);
        if (dbeta) dbeta[c] += (float)sdy;
        if (dgamma) dgamma[c] += (float)sdyx;
        if (!din) continue;
        const double k = (double)gamma[c] * invstd / m;
        for (int n = 0; n < s->n; n++) {
            const size_t off = ((size_t)n * s->c + c) * pl;
            for (size_t i = 0; i < pl; i++) {
                const double xhat = (in[off + i] - mean) * invstd;
                din[off + i] = (float)(k * (m * dout[off + i] - sdy - xhat * sdyx));
            }
        }
    }
}

/* Eval mode, statistics are constants: y = gamma * (x - rm) * invstd + beta,
 * invstd = 1/sqrt(rv + eps):
 *   dbeta  += sum dy;  dgamma += sum dy * (x - rm) * invstd
 *   dx = dy * gamma * invstd                                               (written) */
void jp_ref_bn_backward_eval(float *din, float *dgamma, float *dbeta, const float *dout,
                             const float *in, const float *gamma, const float *running_mean,
                             const float *running_var, const jp_bn_shape *s)
{
    JP_CHECK(dout && running_var && s);
    JP_CHECK(din == NULL || gamma != NULL);
    JP_CHECK(dgamma == NULL || (in != NULL && running_mean != NULL));
    const size_t pl = jp_bn_plane(s);
#pragma omp parallel for schedule(static)
    for (int c = 0; c < s->c; c++) {
        const double invstd = 1.0 / sqrt((double)running_var[c] + (double)s->eps);
        if (dgamma || dbeta) {
            double sdy = 0.0, sdyx = 0.0;
            if (dgamma)
                jp_bn_grad_sums(dout, in, c, running_mean[c], invstd, s, &sdy, &sdyx);
            else
                for (int n = 0; n < s->n; n++) {
                    const float *p = dout + ((size_t)n * s->c + c) * pl;
                    for (size_t i = 0; i < pl; i++) sdy += p[i];
                }
            if (dbeta) dbeta[c] += (float)sdy;
            if (dgamma) dgamma[c] += (float)sdyx;
        }
        if (!din) continue;
        const double k = (double)gamma[c] * invstd;
        for (int n = 0; n < s->n; n++) {
            const size_t off = ((size_t)n * s->c + c) * pl;
            for (size_t i = 0; i < pl; i++) din[off + i] = (float)(k * dout[off + i]);
        }
    }
}
