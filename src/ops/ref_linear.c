/* Reference fully connected layer: out (N,O) = in (N,I) w^T + b, w is (O,I) as
 * torch.nn.Linear. Dot products accumulate in double. */
#include "jempp/ops.h"
#include "ops/ref.h"

/* out[n,o] = b[o] + sum_i in[n,i] * w[o,i]   [b may be NULL] */
void jp_ref_linear_forward(float *out, const float *in, const float *w, const float *b,
                           int n, int in_f, int out_f)
{
    JP_CHECK(out && in && w && n >= 0 && in_f > 0 && out_f > 0);
#pragma omp parallel for schedule(static)
    for (int r = 0; r < n; r++) {
        const float *x = in + (size_t)r * in_f;
        for (int o = 0; o < out_f; o++) {
            const float *wr = w + (size_t)o * in_f;
            double sum = b ? (double)b[o] : 0.0;
            for (int i = 0; i < in_f; i++) sum += (double)x[i] * wr[i];
            out[(size_t)r * out_f + o] = (float)sum;
        }
    }
}

/* din[n,i]  = sum_o dout[n,o] * w[o,i]        (written)
 * dw[o,i]  += sum_n dout[n,o] * in[n,i]
 * db[o]    += sum_n dout[n,o] */
void jp_ref_linear_backward(float *din, float *dw, float *db, const float *dout,
                            const float *in, const float *w, int n, int in_f, int out_f)
{
    JP_CHECK(dout && n >= 0 && in_f > 0 && out_f > 0);
    if (din) {
        JP_CHECK(w != NULL);
#pragma omp parallel for schedule(static)
        for (int r = 0; r < n; r++) {
            const float *g = dout + (size_t)r * out_f;
            for (int i = 0; i < in_f; i++) {
                double sum = 0.0;
                for (int o = 0; o < out_f; o++) sum += (double)g[o] * w[(size_t)o * in_f + i];
                din[(size_t)r * in_f + i] = (float)sum;
            }
        }
    }
    if (dw || db) {
        JP_CHECK(dw == NULL || in != NULL);
#pragma omp parallel for schedule(static)
        for (int o = 0; o < out_f; o++) {
            if (db) {
                double sum = 0.0;
                for (int r = 0; r < n; r++) sum += dout[(size_t)r * out_f + o];
                db[o] += (float)sum;
            }
            if (!dw) continue;
            for (int i = 0; i < in_f; i++) {
                double sum = 0.0;
                for (int r = 0; r < n; r++)
                    sum += (double)dout[(size_t)r * out_f + o] * in[(size_t)r * in_f + i];
                dw[(size_t)o * in_f + i] += (float)sum;
            }
        }
    }
}
