/* Reference 2-D convolution (cross-correlation, groups = 1) on NCHW float32.
 * Plain loops with double accumulators: the oracle for the fast backends.
 * Each output plane is owned by one thread, so results do not depend on the
 * number of threads. */
#include "jempp/ops.h"
#include "ops/ref.h"

#include <stddef.h>
#include <stdlib.h>

/* Output indices o in [*lo, *hi) whose input coordinate o*stride - pad + k lies
 * inside [0, size). */
static void jp_conv_out_range(int size, int osize, int stride, int pad, int k, int *lo,
                              int *hi)
{
    int a = pad - k;                 /* need o*stride >= a */
    int b = size - 1 + pad - k;      /* need o*stride <= b */
    int l = a <= 0 ? 0 : (a + stride - 1) / stride;
    int h = b < 0 ? 0 : b / stride + 1;
    if (h > osize) h = osize;
    if (l > h) l = h;
    *lo = l;
    *hi = h;
}

static double *jp_conv_scratch(size_t count)
{
    double *p = malloc(count * sizeof(double));
    JP_CHECK(p != NULL);
    return p;
}

/* out[n,co,oy,ox] = b[co] + sum_{ci,i,j} w[co,ci,i,j] * in[n,ci,oy*sh-ph+i,ox*sw-pw+j]
 * (terms outside the input are zero padding). */
void jp_ref_conv2d_forward(float *out, const float *in, const float *w, const float *b,
                           const jp_conv_shape *s)
{
    JP_CHECK(out && in && w && s);
    const size_t ipl = (size_t)s->h * s->w, opl = (size_t)s->oh * s->ow;
    const size_t ksz = (size_t)s->kh * s->kw;
    const long planes = (long)s->n * s->cout;
#pragma omp parallel
    {
        double *acc = jp_conv_scratch(opl);
#pragma omp for schedule(static)
        for (long p = 0; p < planes; p++) {
            const int n = (int)(p / s->cout), co = (int)(p % s->cout);
            const double bias = b ? (double)b[co] : 0.0;
            for (size_t k = 0; k < opl; k++) acc[k] = bias;
            for (int ci = 0; ci < s->cin; ci++) {
                const float *ip = in + ((size_t)n * s->cin + ci) * ipl;
                const float *wp = w + ((size_t)co * s->cin + ci) * ksz;
                for (int i = 0; i < s->kh; i++) {
                    int oy0, oy1;
                    jp_conv_out_range(s->h, s->oh, s->sh, s->ph, i, &oy0, &oy1);
                    for (int j = 0; j < s->kw; j++) {
                        int ox0, ox1;
                        jp_conv_out_range(s->w, s->ow, s->sw, s->pw, j, &ox0, &ox1);
                        const double wv = wp[i * s->kw + j];
                        for (int oy = oy0; oy < oy1; oy++) {
                            const ptrdiff_t base =
                                (ptrdiff_t)(oy * s->sh - s->ph + i) * s->w - s->pw + j;
                            double *arow = acc + (size_t)oy * s->ow;
                            for (int ox = ox0; ox < ox1; ox++)
                                arow[ox] += wv * ip[base + (ptrdiff_t)ox * s->sw];
                        }
                    }
                }
            }
            float *op = out + (size_t)p * opl;
            for (size_t k = 0; k < opl; k++) op[k] = (float)acc[k];
        }
        free(acc);
    }
}

/* din[n,ci,y,x]: every output that read in[n,ci,y,x] with weight w[co,ci,i,j]
 * (y = oy*sh - ph + i, x = ox*sw - pw + j) sends back dout * w:
 *   din[n,ci,y,x] = sum_{co,i,j} dout[n,co,oy,ox] * w[co,ci,i,j]          (written) */
static void jp_conv_backward_input(float *din, const float *dout, const float *w,
                                   const jp_conv_shape *s)
{
    const size_t ipl = (size_t)s->h * s->w, opl = (size_t)s->oh * s->ow;
    const size_t ksz = (size_t)s->kh * s->kw;
    const long planes = (long)s->n * s->cin;
#pragma omp parallel
    {
        double *acc = jp_conv_scratch(ipl);
#pragma omp for schedule(static)
        for (long p = 0; p < planes; p++) {
            const int n = (int)(p / s->cin), ci = (int)(p % s->cin);
            for (size_t k = 0; k < ipl; k++) acc[k] = 0.0;
            for (int co = 0; co < s->cout; co++) {
                const float *dp = dout + ((size_t)n * s->cout + co) * opl;
                const float *wp = w + ((size_t)co * s->cin + ci) * ksz;
                for (int i = 0; i < s->kh; i++) {
                    int oy0, oy1;
                    jp_conv_out_range(s->h, s->oh, s->sh, s->ph, i, &oy0, &oy1);
                    for (int j = 0; j < s->kw; j++) {
                        int ox0, ox1;
                        jp_conv_out_range(s->w, s->ow, s->sw, s->pw, j, &ox0, &ox1);
                        const double wv = wp[i * s->kw + j];
                        for (int oy = oy0; oy < oy1; oy++) {
                            const ptrdiff_t base =
                                (ptrdiff_t)(oy * s->sh - s->ph + i) * s->w - s->pw + j;
                            const float *drow = dp + (size_t)oy * s->ow;
                            for (int ox = ox0; ox < ox1; ox++)
                                acc[base + (ptrdiff_t)ox * s->sw] += wv * drow[ox];
                        }
                    }
                }
            }
            float *dip = din + (size_t)p * ipl;
            for (size_t k = 0; k < ipl; k++) dip[k] = (float)acc[k];
        }
        free(acc);
    }
}

/* dw[co,ci,i,j] += sum_{n,oy,ox} dout[n,co,oy,ox] * in[n,ci,oy*sh-ph+i, ox*sw-pw+j] */
static void jp_conv_backward_weight(float *dw, const float *dout, const float *in,
                                    const jp_conv_shape *s)
{
    const size_t ipl = (size_t)s->h * s->w, opl = (size_t)s->oh * s->ow;
    const size_t ksz = (size_t)s->kh * s->kw;
    const long pairs = (long)s->cout * s->cin;
#pragma omp parallel for schedule(static)
    for (long p = 0; p < pairs; p++) {
        const int co = (int)(p / s->cin), ci = (int)(p % s->cin);
        float *dwp = dw + (size_t)p * ksz;
        for (int i = 0; i < s->kh; i++) {
            int oy0, oy1;
            jp_conv_out_range(s->h, s->oh, s->sh, s->ph, i, &oy0, &oy1);
            for (int j = 0; j < s->kw; j++) {
                int ox0, ox1;
                jp_conv_out_range(s->w, s->ow, s->sw, s->pw, j, &ox0, &ox1);
                double sum = 0.0;
                for (int n = 0; n < s->n; n++) {
                    const float *dp = dout + ((size_t)n * s->cout + co) * opl;
                    const float *ip = in + ((size_t)n * s->cin + ci) * ipl;
                    for (int oy = oy0; oy < oy1; oy++) {
                        const ptrdiff_t base =
                            (ptrdiff_t)(oy * s->sh - s->ph + i) * s->w - s->pw + j;
                        const float *drow = dp + (size_t)oy * s->ow;
                        for (int ox = ox0; ox < ox1; ox++)
                            sum += (double)drow[ox] * ip[base + (ptrdiff_t)ox * s->sw];
                    }
                }
                dwp[i * s->kw + j] += (float)sum;
            }
        }
    }
}

/* db[co] += sum_{n,oy,ox} dout[n,co,oy,ox] */
static void jp_conv_backward_bias(float *db, const float *dout, const jp_conv_shape *s)
{
    const size_t opl = (size_t)s->oh * s->ow;
#pragma omp parallel for schedule(static)
    for (int co = 0; co < s->cout; co++) {
        double sum = 0.0;
        for (int n = 0; n < s->n; n++) {
            const float *dp = dout + ((size_t)n * s->cout + co) * opl;
            for (size_t k = 0; k < opl; k++) sum += dp[k];
        }
        db[co] += (float)sum;
    }
}

void jp_ref_conv2d_backward(float *din, float *dw, float *db, const float *dout,
                            const float *in, const float *w, const jp_conv_shape *s)
{
    JP_CHECK(dout && s);
    if (din) {
        JP_CHECK(w != NULL);
        jp_conv_backward_input(din, dout, w, s);
    }
    if (dw) {
        JP_CHECK(in != NULL);
        jp_conv_backward_weight(dw, dout, in, s);
    }
    if (db) jp_conv_backward_bias(db, dout, s);
}
