/* The small MLP of mlp.h: plain float loops written so that the compiler vectorises
 * them (omp simd). Single-threaded on purpose: the layers are far too small for a
 * thread team (on a busy machine, OpenMP barriers between such layers cost 10x the
 * work), and every sum runs in one fixed order. */
#include "jempp/mlp.h"

#include <math.h>
#include <string.h>

/* out[r,o] = b[o] + sum_i in[r,i] * w[o,i]   (w is (O, I) as torch.nn.Linear).
 * Wide layers run as axpys over o with wt = w^T (I, O), a scratch transposed here, so
 * the inner loop is contiguous and vectorises without a horizontal sum; narrow ones
 * (the output) as dot products. Either way the sum over i runs in a fixed order. */
static void linear_forward(float *out, const float *in, const float *w, const float *b, float *wt,
                           int n, int in_f, int out_f)
{
    if (out_f < 8) {
        for (int r = 0; r < n; r++) {
            const float *x = in + (size_t)r * in_f;
            float *y = out + (size_t)r * out_f;
            for (int o = 0; o < out_f; o++) {
                const float *wr = w + (size_t)o * in_f;
                float s = 0.0f;
#pragma omp simd reduction(+ : s)
                for (int i = 0; i < in_f; i++) s += x[i] * wr[i];
                y[o] = b[o] + s;
            }
        }
        return;
    }
    for (int o = 0; o < out_f; o++)
        for (int i = 0; i < in_f; i++) wt[(size_t)i * out_f + o] = w[(size_t)o * in_f + i];
    for (int r = 0; r < n; r++) {
        const float *x = in + (size_t)r * in_f;
        float *y = out + (size_t)r * out_f;
        memcpy(y, b, (size_t)out_f * sizeof *y);
        for (int i = 0; i < in_f; i++) {
            const float *wc = wt + (size_t)i * out_f;
            float xi = x[i];
#pragma omp simd
            for (int o = 0; o < out_f; o++) y[o] += xi * wc[o];
        }
    }
}

/* With y = in w^T + b:
 *   din[r,i]  = sum_o dout[r,o] * w[o,i]     (written; skipped when din is NULL)
 *   dw[o,i]  += sum_r dout[r,o] * in[r,i]    (skipped when dw is NULL, as db)
 *   db[o]    += sum_r dout[r,o] */
static void linear_backward(float *din, float *dw, float *db, const float *dout, const float *in,
                            const float *w, int n, int in_f, int out_f)
{
    if (din) {
        for (int r = 0; r < n; r++) {
            float *d = din + (size_t)r * in_f;
            const float *g = dout + (size_t)r * out_f;
            memset(d, 0, (size_t)in_f * sizeof *d);
            for (int o = 0; o < out_f; o++) {
                const float *wr = w + (size_t)o * in_f;
                float go = g[o];
#pragma omp simd
                for (int i = 0; i < in_f; i++) d[i] += go * wr[i];
            }
        }
    }
    if (dw) {
        for (int o = 0; o < out_f; o++) {
            float *dwr = dw + (size_t)o * in_f;
            float sb = 0.0f;
            for (int r = 0; r < n; r++) {
                float go = dout[(size_t)r * out_f + o];
                const float *x = in + (size_t)r * in_f;
                sb += go;
#pragma omp simd
                for (int i = 0; i < in_f; i++) dwr[i] += go * x[i];
            }
            db[o] += sb;
        }
    }
}

/* out = in > 0 ? in : slope * in */
static void leaky_forward(float *restrict out, const float *restrict in, size_t count, float slope)
{
#pragma omp simd
    for (size_t i = 0; i < count; i++) {
        float s = in[i] > 0.0f ? 1.0f : slope; /* this form if-converts and vectorises */
        out[i] = in[i] * s;
    }
}

/* in place: d = d * (in > 0 ? 1 : slope)   (d lrelu(in) / d in; the slope at 0, as torch) */
static void leaky_backward(float *restrict d, const float *restrict in, size_t count, float slope)
{
#pragma omp simd
    for (size_t i = 0; i < count; i++) {
        float s = in[i] > 0.0f ? 1.0f : slope;
        d[i] = d[i] * s;
    }
}

jp_status jp_mlp_create(jp_mlp *m, int batch, int in_dim, int hidden, int n_hidden, int out_dim,
                        float slope, jp_error *err)
{
    memset(m, 0, sizeof *m);
    if (batch < 1 || in_dim < 1 || hidden < 1 || out_dim < 1 || n_hidden < 1 ||
        n_hidden > JP_MLP_MAX_HIDDEN)
        return jp_fail(err, JP_ERR_ARG,
                       "MLP sizes: batch %d, in %d, hidden %d x %d layers (1..%d), out %d: all must be >= 1",
                       batch, in_dim, hidden, n_hidden, JP_MLP_MAX_HIDDEN, out_dim);
    if (!isfinite(slope)) return jp_fail(err, JP_ERR_ARG, "MLP LeakyReLU slope must be finite");
    m->batch = batch;
    m->n_linear = n_hidden + 1;
    m->slope = slope;
    m->dims[0] = in_dim;
    for (int l = 1; l <= n_hidden; l++) m->dims[l] = hidden;
    m->dims[n_hidden + 1] = out_dim;
    int maxd = in_dim > hidden ? in_dim : hidden;
    if (out_dim > maxd) maxd = out_dim;
    size_t off = 0, acts = 0;
    for (int l = 0; l < m->n_linear; l++) {
        m->w_off[l] = off;
        off += (size_t)m->dims[l + 1] * m->dims[l];
        m->b_off[l] = off;
        off += (size_t)m->dims[l + 1];
    }
    m->n_params = off;
    size_t wmax = 0; /* the largest weight matrix, for the transposed scratch */
    for (int l = 0; l < m->n_linear; l++)
        if ((size_t)m->dims[l + 1] * m->dims[l] > wmax) wmax = (size_t)m->dims[l + 1] * m->dims[l];
    for (int l = 0; l <= m->n_linear; l++) acts += (size_t)batch * m->dims[l] * (l == 0 ? 1 : 2);
    m->params = jp_alloc(off * sizeof(float));
    m->grads = jp_alloc(off * sizeof(float));
    float *a = jp_alloc((acts + 2 * (size_t)batch * maxd + wmax) * sizeof(float));
    if (!m->params || !m->grads || !a) {
        jp_free(a);
        jp_mlp_free(m);
        return jp_fail(err, JP_ERR_NOMEM, "MLP of %zu parameters, batch %d", off, batch);
    }
    m->act[0] = a;
    a += (size_t)batch * in_dim;
    for (int l = 1; l <= m->n_linear; l++) {
        m->pre[l] = a;
        a += (size_t)batch * m->dims[l];
        m->act[l] = a;
        a += (size_t)batch * m->dims[l];
    }
    m->dbuf[0] = a;
    m->dbuf[1] = a + (size_t)batch * maxd;
    m->wt = m->dbuf[1] + (size_t)batch * maxd;
    return JP_OK;
}

void jp_mlp_free(jp_mlp *m)
{
    jp_free(m->params);
    jp_free(m->grads);
    jp_free(m->act[0]); /* the one block holding every activation and scratch */
    memset(m, 0, sizeof *m);
}

void jp_mlp_init_params(jp_mlp *m, jp_rng *rng)
{
    for (int l = 0; l < m->n_linear; l++) {
        int fan_in = m->dims[l], fan_out = m->dims[l + 1];
        float bound = (float)(1.0 / sqrt((double)fan_in));
        jp_rng_fill_uniform(rng, m->params + m->w_off[l], (size_t)fan_out * fan_in, -bound, bound);
        jp_rng_fill_uniform(rng, m->params + m->b_off[l], (size_t)fan_out, -bound, bound);
    }
}

void jp_mlp_zero_grad(jp_mlp *m) { memset(m->grads, 0, m->n_params * sizeof(float)); }

const float *jp_mlp_forward(jp_mlp *m, const float *x, int n)
{
    JP_CHECK(n >= 1 && n <= m->batch && x != NULL);
    memcpy(m->act[0], x, (size_t)n * m->dims[0] * sizeof(float));
    const float *in = m->act[0];
    for (int l = 1; l <= m->n_linear; l++) {
        linear_forward(m->pre[l], in, m->params + m->w_off[l - 1], m->params + m->b_off[l - 1],
                       m->wt, n, m->dims[l - 1], m->dims[l]);
        if (l == m->n_linear) break; /* no activation after the last layer */
        leaky_forward(m->act[l], m->pre[l], (size_t)n * m->dims[l], m->slope);
        in = m->act[l];
    }
    m->n_fwd = n;
    return m->pre[m->n_linear];
}

/* Chain rule from the top: with g_{L+1} = dout,
 *   layer l linear (input a_{l-1} = act[l-1]):  g(a_{l-1}) = g_l W_l;  dW_l += g_l^T a_{l-1};
 *                                                db_l += sum_rows g_l
 *   hidden activation:  g_{l-1} = g(a_{l-1}) * (pre_{l-1} > 0 ? 1 : slope)
 * and dx = g(a_0). */
void jp_mlp_backward(jp_mlp *m, float *dx, const float *dout, int param_grads)
{
    int n = m->n_fwd;
    JP_CHECK(n >= 1 && dout != NULL);
    const float *g = dout;
    int k = 0;
    for (int l = m->n_linear; l >= 1; l--) {
        float *da = l > 1 ? m->dbuf[k] : dx; /* gradient at this layer's input */
        linear_backward(da, param_grads ? m->grads + m->w_off[l - 1] : NULL,
                        param_grads ? m->grads + m->b_off[l - 1] : NULL, g, m->act[l - 1],
                        m->params + m->w_off[l - 1], n, m->dims[l - 1], m->dims[l]);
        if (l == 1) break;
        /* in place: din = dout * lrelu'(pre) */
        leaky_backward(da, m->pre[l - 1], (size_t)n * m->dims[l - 1], m->slope);
        g = da;
        k ^= 1;
    }
}
