/* Finite-difference checks of every reference backward in ops.h, plus the gradient
 * conventions of the header: parameter gradients accumulate (+=), activation
 * gradients are written (=), and a NULL gradient pointer is skipped.
 *
 * Technique: a fixed random projection r of the output gives the scalar
 * L = sum(r * out), evaluated in double from the float forward kernels. The
 * analytic gradient is backward(dout = r); the numeric one is the central
 * difference (L(x + h) - L(x - h)) / (x_+ - x_-) at EVERY coordinate of every
 * input and parameter (the shapes are small), where x_+- are the float values
 * actually stored, so rounding of the step does not count. Inputs of piecewise
 * linear ops stay further than h from their kinks. Outputs not touched by a
 * perturbation round identically in both evaluations, so the noise is small;
 * the tolerances (FD_ATOL, FD_RTOL) sit well above it and far below the size
 * of any missing or wrong term. */
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "jempp/ops.h"
#include "ops/ref.h"
#include "testutil.h"

#define FD_H 1e-2
#define FD_ATOL 1e-3
#define FD_RTOL 1e-2

/* ---- helpers ---------------------------------------------------------- */

static float *fvec(size_t n)
{
    float *p = malloc((n ? n : 1) * sizeof(float));
    if (!p) abort();
    return p;
}

static void fill_const(float *x, size_t n, float v)
{
    for (size_t i = 0; i < n; i++) x[i] = v;
}

static double dot(const float *a, const float *b, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

/* Values with |x| in [lo, hi] and a random sign: away from the kink at 0. */
static void fill_away_from_zero(jp_rng *r, float *x, size_t n, float lo, float hi)
{
    for (size_t i = 0; i < n; i++) {
        float m = lo + (hi - lo) * (float)jp_rng_uniform(r);
        x[i] = jp_rng_uniform(r) < 0.5 ? -m : m;
    }
}

typedef double (*loss_fn)(void *ctx);

/* Central differences of loss() w.r.t. every coordinate of x against analytic. */
static void fd_check(tu_ctx *t, const char *what, loss_fn loss, void *ctx, float *x, size_t n,
                     const float *analytic)
{
    double *num = malloc(n * sizeof(double)), *ana = malloc(n * sizeof(double));
    if (!num || !ana) abort();
    double biggest = 0.0;
    for (size_t k = 0; k < n; k++) {
        const float x0 = x[k];
        const float xp = (float)(x0 + FD_H), xm = (float)(x0 - FD_H);
        x[k] = xp;
        const double lp = loss(ctx);
        x[k] = xm;
        const double lm = loss(ctx);
        x[k] = x0;
        num[k] = (lp - lm) / ((double)xp - (double)xm);
        ana[k] = analytic[k];
        if (fabs(num[k]) > biggest) biggest = fabs(num[k]);
    }
    char label[320];
    snprintf(label, sizeof label, "fd %s", what);
    tu_close_d(t, label, ana, num, n, FD_ATOL, FD_RTOL);
    /* A gradient that is zero everywhere would pass vacuously. */
    tu_check(t, biggest > 10 * FD_ATOL, "fd %s is not trivially zero (max %.3g)", what, biggest);
    free(num);
    free(ana);
}

/* Backward with up to two parameter gradients; any pointer may be NULL. */
typedef void (*backward_fn)(void *ctx, float *din, float *dp1, float *dp2);

/* Given the gradients from a call with din NaN-filled and dp zero-filled
 * (din0, dp10, dp20), checks: (1) din was overwritten (a second call on a
 * NaN-prefilled buffer gives the same values), dp accumulate onto 0.25;
 * (2) each gradient alone (the others NULL) equals the full call's. */
static void check_conventions(tu_ctx *t, const char *what, backward_fn bwd, void *ctx,
                              size_t n_in, size_t n_p1, size_t n_p2, const float *din0,
                              const float *dp10, const float *dp20)
{
    float *din = fvec(n_in), *dp1 = fvec(n_p1), *dp2 = fvec(n_p2);
    float *acc1 = fvec(n_p1), *acc2 = fvec(n_p2);
    char label[320];

    fill_const(din, n_in, NAN);
    fill_const(dp1, n_p1, 0.25f);
    fill_const(dp2, n_p2, 0.25f);
    bwd(ctx, din, n_p1 ? dp1 : NULL, n_p2 ? dp2 : NULL);
    snprintf(label, sizeof label, "%s din written (=)", what);
    tu_close(t, label, din, din0, n_in, 0, 0);
    for (size_t i = 0; i < n_p1; i++) acc1[i] = 0.25f + dp10[i];
    for (size_t i = 0; i < n_p2; i++) acc2[i] = 0.25f + dp20[i];
    if (n_p1) {
        snprintf(label, sizeof label, "%s dparam1 accumulates (+=)", what);
        tu_close(t, label, dp1, acc1, n_p1, 1e-6, 1e-6);
    }
    if (n_p2) {
        snprintf(label, sizeof label, "%s dparam2 accumulates (+=)", what);
        tu_close(t, label, dp2, acc2, n_p2, 1e-6, 1e-6);
    }

    fill_const(din, n_in, NAN);
    bwd(ctx, din, NULL, NULL);
    snprintf(label, sizeof label, "%s din alone (params NULL)", what);
    tu_close(t, label, din, din0, n_in, 0, 0);
    if (n_p1) {
        fill_const(dp1, n_p1, 0.0f);
        bwd(ctx, NULL, dp1, NULL);
        snprintf(label, sizeof label, "%s dparam1 alone (others NULL)", what);
        tu_close(t, label, dp1, dp10, n_p1, 0, 0);
    }
    if (n_p2) {
        fill_const(dp2, n_p2, 0.0f);
        bwd(ctx, NULL, NULL, dp2);
        snprintf(label, sizeof label, "%s dparam2 alone (others NULL)", what);
        tu_close(t, label, dp2, dp20, n_p2, 0, 0);
    }
    free(din), free(dp1), free(dp2), free(acc1), free(acc2);
}

/* Runs backward once with din NaN-prefilled and parameter grads zeroed, then the
 * FD checks of each gradient and the conventions. xs[0] is the input, xs[1..2]
 * the parameters (NULL when absent). */
static void check_op(tu_ctx *t, const char *what, loss_fn loss, backward_fn bwd, void *ctx,
                     float *xs[3], const size_t ns[3], const char *names[3])
{
    float *g[3];
    for (int k = 0; k < 3; k++) {
        g[k] = fvec(ns[k]);
        fill_const(g[k], ns[k], k == 0 ? NAN : 0.0f);
    }
    bwd(ctx, g[0], ns[1] ? g[1] : NULL, ns[2] ? g[2] : NULL);
    char label[300];
    for (int k = 0; k < 3; k++) {
        if (!ns[k]) continue;
        snprintf(label, sizeof label, "%s %s", what, names[k]);
        fd_check(t, label, loss, ctx, xs[k], ns[k], g[k]);
    }
    check_conventions(t, what, bwd, ctx, ns[0], ns[1], ns[2], g[0], g[1], g[2]);
    for (int k = 0; k < 3; k++) free(g[k]);
}

/* ---- convolution -------------------------------------------------------- */

typedef struct {
    jp_conv_shape s;
    float *in, *w, *b, *out, *r;
    size_t n_in, n_w, n_out;
} conv_ctx;

static double conv_loss(void *p)
{
    conv_ctx *c = p;
    jp_ref_conv2d_forward(c->out, c->in, c->w, c->b, &c->s);
    return dot(c->r, c->out, c->n_out);
}

static void conv_bwd(void *p, float *din, float *dw, float *db)
{
    conv_ctx *c = p;
    jp_ref_conv2d_backward(din, dw, c->b ? db : NULL, c->r, c->in, c->w, &c->s);
}

typedef struct {
    int n, cin, h, w, cout, kh, kw, sh, sw, ph, pw, bias;
} conv_cfg;

static void test_conv(tu_ctx *t, jp_rng *rng, const conv_cfg *k)
{
    conv_ctx c;
    jp_error err;
    jp_status st = jp_conv_shape_init(&c.s, k->n, k->cin, k->h, k->w, k->cout, k->kh, k->kw,
                                      k->sh, k->sw, k->ph, k->pw, &err);
    tu_check(t, st == JP_OK, "conv shape init");
    if (st != JP_OK) return;
    c.n_in = (size_t)k->n * k->cin * k->h * k->w;
    c.n_w = (size_t)k->cout * k->cin * k->kh * k->kw;
    c.n_out = (size_t)k->n * k->cout * c.s.oh * c.s.ow;
    c.in = fvec(c.n_in), c.w = fvec(c.n_w), c.out = fvec(c.n_out), c.r = fvec(c.n_out);
    c.b = k->bias ? fvec((size_t)k->cout) : NULL;
    jp_rng_fill_uniform(rng, c.in, c.n_in, -1, 1);
    jp_rng_fill_uniform(rng, c.w, c.n_w, -1, 1);
    if (c.b) jp_rng_fill_uniform(rng, c.b, (size_t)k->cout, -1, 1);
    jp_rng_fill_normal(rng, c.r, c.n_out, 0, 1);

    /* The forward against a direct evaluation of the definition. */
    jp_ref_conv2d_forward(c.out, c.in, c.w, c.b, &c.s);
    double *direct = malloc(c.n_out * sizeof(double)), *got = malloc(c.n_out * sizeof(double));
    size_t q = 0;
    for (int n = 0; n < k->n; n++)
        for (int co = 0; co < k->cout; co++)
            for (int oy = 0; oy < c.s.oh; oy++)
                for (int ox = 0; ox < c.s.ow; ox++, q++) {
                    double sum = c.b ? c.b[co] : 0.0;
                    for (int ci = 0; ci < k->cin; ci++)
                        for (int i = 0; i < k->kh; i++)
                            for (int j = 0; j < k->kw; j++) {
                                int y = oy * k->sh - k->ph + i, x = ox * k->sw - k->pw + j;
                                if (y < 0 || y >= k->h || x < 0 || x >= k->w) continue;
                                sum += (double)c.w[((co * k->cin + ci) * k->kh + i) * k->kw + j] *
                                       c.in[((n * k->cin + ci) * k->h + y) * k->w + x];
                            }
                    direct[q] = sum;
                    got[q] = c.out[q];
                }

    char what[128];
    snprintf(what, sizeof what, "conv %dx%d s(%d,%d) p(%d,%d) %dx%d%s", k->kh, k->kw, k->sh,
             k->sw, k->ph, k->pw, k->h, k->w, k->bias ? " bias" : "");
    char label[160];
    snprintf(label, sizeof label, "%s forward vs definition", what);
    tu_close_d(t, label, got, direct, c.n_out, 1e-6, 1e-6);
    free(direct), free(got);

    float *xs[3] = {c.in, c.w, c.b};
    size_t ns[3] = {c.n_in, c.n_w, c.b ? (size_t)k->cout : 0};
    const char *names[3] = {"din", "dw", "db"};
    check_op(t, what, conv_loss, conv_bwd, &c, xs, ns, names);
    free(c.in), free(c.w), free(c.b), free(c.out), free(c.r);
}

static void test_conv_shape(tu_ctx *t)
{
    jp_conv_shape s;
    jp_error err = {0};
    jp_status st = jp_conv_shape_init(&s, 2, 3, 32, 32, 16, 3, 3, 2, 2, 1, 1, &err);
    tu_check(t, st == JP_OK && s.oh == 16 && s.ow == 16, "conv shape 32x32 k3 s2 p1 -> 16x16");
    st = jp_conv_shape_init(&s, 1, 1, 9, 5, 1, 7, 1, 1, 1, 3, 0, &err);
    tu_check(t, st == JP_OK && s.oh == 9 && s.ow == 5, "conv shape 9x5 k7x1 p(3,0) -> 9x5");
    st = jp_conv_shape_init(&s, 1, 1, 6, 6, 1, 1, 1, 2, 2, 0, 0, &err);
    tu_check(t, st == JP_OK && s.oh == 3 && s.ow == 3, "conv shape 6x6 k1 s2 -> 3x3");
    err.msg[0] = 0;
    st = jp_conv_shape_init(&s, 1, 1, 2, 2, 1, 3, 3, 1, 1, 0, 0, &err);
    tu_check(t, st == JP_ERR_SHAPE && err.code == JP_ERR_SHAPE && strstr(err.msg, "3x3"),
             "conv shape: kernel larger than input is an error: %s", err.msg);
    err.msg[0] = 0;
    st = jp_conv_shape_init(&s, 1, 1, 8, 8, 1, 3, 3, 0, 1, 1, 1, &err);
    tu_check(t, st == JP_ERR_SHAPE && strstr(err.msg, "stride"),
             "conv shape: zero stride is an error: %s", err.msg);
    err.msg[0] = 0;
    st = jp_conv_shape_init(&s, 1, 1, 8, 8, 1, 3, 3, 1, 1, -1, 1, &err);
    tu_check(t, st == JP_ERR_SHAPE && strstr(err.msg, "padding"),
             "conv shape: negative padding is an error: %s", err.msg);
    err.msg[0] = 0;
    st = jp_conv_shape_init(&s, 0, 1, 8, 8, 1, 3, 3, 1, 1, 1, 1, &err);
    tu_check(t, st == JP_ERR_SHAPE && err.msg[0], "conv shape: empty batch is an error: %s",
             err.msg);
    st = jp_conv_shape_init(&s, 1, 1, 8, 8, 1, 3, 3, 1, 1, 1, 1, NULL);
    tu_check(t, st == JP_OK, "conv shape: NULL error pointer accepted");
}

/* ---- batch normalisation --------------------------------------------------- */

typedef struct {
    jp_bn_shape s;
    int train;
    float *in, *gamma, *beta, *rm, *rv, *out, *r, *mean, *invstd;
    size_t n;
} bn_ctx;

static double bn_loss(void *p)
{
    bn_ctx *c = p;
    if (c->train)
        jp_ref_bn_forward_train(c->out, c->mean, c->invstd, NULL, NULL, c->in, c->gamma,
                                c->beta, &c->s);
    else
        jp_ref_bn_forward_eval(c->out, c->in, c->gamma, c->beta, c->rm, c->rv, &c->s);
    return dot(c->r, c->out, c->n);
}

static void bn_bwd(void *p, float *din, float *dgamma, float *dbeta)
{
    bn_ctx *c = p;
    if (c->train) {
        /* save_mean/invstd of the unperturbed input. */
        jp_ref_bn_forward_train(c->out, c->mean, c->invstd, NULL, NULL, c->in, c->gamma,
                                c->beta, &c->s);
        jp_ref_bn_backward_train(din, dgamma, dbeta, c->r, c->in, c->mean, c->invstd,
                                 c->gamma, &c->s);
    } else {
        jp_ref_bn_backward_eval(din, dgamma, dbeta, c->r, c->in, c->gamma, c->rm, c->rv,
                                &c->s);
    }
}

/* The training forward against statistics computed here in double, including the
 * running-estimate update with the unbiased variance. */
static void bn_forward_checks(tu_ctx *t, bn_ctx *c)
{
    const jp_bn_shape *s = &c->s;
    const size_t pl = (size_t)s->h * s->w, m = (size_t)s->n * pl;
    float *rm = fvec((size_t)s->c), *rv = fvec((size_t)s->c);
    float *erm = fvec((size_t)s->c), *erv = fvec((size_t)s->c);
    float *em = fvec((size_t)s->c), *ei = fvec((size_t)s->c), *eo = fvec(c->n);
    memcpy(rm, c->rm, (size_t)s->c * sizeof(float));
    memcpy(rv, c->rv, (size_t)s->c * sizeof(float));
    for (int ch = 0; ch < s->c; ch++) {
        double sum = 0, ss = 0;
        for (int n = 0; n < s->n; n++)
            for (size_t k = 0; k < pl; k++) sum += c->in[((size_t)n * s->c + ch) * pl + k];
        double mu = sum / m;
        for (int n = 0; n < s->n; n++)
            for (size_t k = 0; k < pl; k++) {
                double d = c->in[((size_t)n * s->c + ch) * pl + k] - mu;
                ss += d * d;
            }
        double var = ss / m, inv = 1 / sqrt(var + s->eps);
        em[ch] = (float)mu;
        ei[ch] = (float)inv;
        erm[ch] = (float)((1 - s->momentum) * rm[ch] + s->momentum * mu);
        erv[ch] = (float)((1 - s->momentum) * rv[ch] + s->momentum * ss / (m - 1));
        for (int n = 0; n < s->n; n++)
            for (size_t k = 0; k < pl; k++) {
                size_t i = ((size_t)n * s->c + ch) * pl + k;
                eo[i] = (float)((c->in[i] - mu) * inv * c->gamma[ch] + c->beta[ch]);
            }
    }
    jp_ref_bn_forward_train(c->out, c->mean, c->invstd, rm, rv, c->in, c->gamma, c->beta, s);
    tu_close(t, "bn train forward out", c->out, eo, c->n, 1e-6, 1e-6);
    tu_close(t, "bn train save_mean", c->mean, em, (size_t)s->c, 1e-7, 1e-6);
    tu_close(t, "bn train save_invstd", c->invstd, ei, (size_t)s->c, 1e-7, 1e-6);
    tu_close(t, "bn train running_mean (momentum)", rm, erm, (size_t)s->c, 1e-7, 1e-6);
    tu_close(t, "bn train running_var (unbiased)", rv, erv, (size_t)s->c, 1e-7, 1e-6);
    /* The same forward without running statistics gives the same output. */
    float *o2 = fvec(c->n);
    jp_ref_bn_forward_train(o2, c->mean, c->invstd, NULL, NULL, c->in, c->gamma, c->beta, s);
    tu_close(t, "bn train forward, running stats NULL", o2, eo, c->n, 1e-6, 1e-6);
    free(o2);
    free(rm), free(rv), free(erm), free(erv), free(em), free(ei), free(eo);
}

static void test_bn(tu_ctx *t, jp_rng *rng, int train, int n, int ch, int h, int w)
{
    bn_ctx c;
    c.s = (jp_bn_shape){.n = n, .c = ch, .h = h, .w = w, .eps = 1e-5f, .momentum = 0.9f};
    c.train = train;
    c.n = (size_t)n * ch * h * w;
    c.in = fvec(c.n), c.out = fvec(c.n), c.r = fvec(c.n);
    c.gamma = fvec((size_t)ch), c.beta = fvec((size_t)ch);
    c.rm = fvec((size_t)ch), c.rv = fvec((size_t)ch);
    c.mean = fvec((size_t)ch), c.invstd = fvec((size_t)ch);
    /* Channels with different offsets and spreads. */
    for (int k = 0; k < ch; k++) {
        float off = (float)jp_rng_normal(rng), sd = 0.5f + 1.5f * (float)jp_rng_uniform(rng);
        for (int i = 0; i < n; i++)
            jp_rng_fill_normal(rng, c.in + ((size_t)i * ch + k) * h * w, (size_t)h * w, off, sd);
    }
    jp_rng_fill_uniform(rng, c.gamma, (size_t)ch, 0.5f, 1.5f);
    jp_rng_fill_uniform(rng, c.beta, (size_t)ch, -0.5f, 0.5f);
    jp_rng_fill_uniform(rng, c.rm, (size_t)ch, -0.5f, 0.5f);
    jp_rng_fill_uniform(rng, c.rv, (size_t)ch, 0.5f, 2.0f);
    jp_rng_fill_normal(rng, c.r, c.n, 0, 1);
    if (train) bn_forward_checks(t, &c);

    char what[96];
    snprintf(what, sizeof what, "bn %s (%d,%d,%d,%d)", train ? "train" : "eval", n, ch, h, w);
    float *xs[3] = {c.in, c.gamma, c.beta};
    size_t ns[3] = {c.n, (size_t)ch, (size_t)ch};
    const char *names[3] = {"din", "dgamma", "dbeta"};
    check_op(t, what, bn_loss, bn_bwd, &c, xs, ns, names);
    free(c.in), free(c.out), free(c.r), free(c.gamma), free(c.beta);
    free(c.rm), free(c.rv), free(c.mean), free(c.invstd);
}

/* ---- leaky relu, pooling, dropout ------------------------------------------ */

typedef struct {
    float *in, *out, *r, *mask;
    size_t n;
    float slope;
    int pn, pc, ph, pw;   /* pooling shape */
    uint64_t seed;        /* dropout: the same seed redraws the same mask */
    float p;
} elem_ctx;

static double lrelu_loss(void *p)
{
    elem_ctx *c = p;
    jp_ref_leaky_relu_forward(c->out, c->in, c->n, c->slope);
    return dot(c->r, c->out, c->n);
}

static void lrelu_bwd(void *p, float *din, float *d1, float *d2)
{
    elem_ctx *c = p;
    (void)d1, (void)d2;
    jp_ref_leaky_relu_backward(din, c->r, c->in, c->n, c->slope);
}

static void test_lrelu(tu_ctx *t, jp_rng *rng, float slope)
{
    elem_ctx c = {.n = 150, .slope = slope};
    c.in = fvec(c.n), c.out = fvec(c.n), c.r = fvec(c.n);
    fill_away_from_zero(rng, c.in, c.n, 0.1f, 2.0f);
    jp_rng_fill_normal(rng, c.r, c.n, 0, 1);
    jp_ref_leaky_relu_forward(c.out, c.in, c.n, slope);
    int ok = 1;
    for (size_t i = 0; i < c.n; i++)
        ok &= c.out[i] == (c.in[i] > 0 ? c.in[i] : slope * c.in[i]);
    tu_check(t, ok, "leaky relu %.1f forward", (double)slope);
    char what[64];
    snprintf(what, sizeof what, "leaky relu %.1f", (double)slope);
    float *xs[3] = {c.in, NULL, NULL};
    size_t ns[3] = {c.n, 0, 0};
    const char *names[3] = {"din", "", ""};
    check_op(t, what, lrelu_loss, lrelu_bwd, &c, xs, ns, names);
    free(c.in), free(c.out), free(c.r);
}

static double pool_loss(void *p)
{
    elem_ctx *c = p;
    jp_ref_global_avgpool_forward(c->out, c->in, c->pn, c->pc, c->ph, c->pw);
    return dot(c->r, c->out, (size_t)c->pn * c->pc);
}

static void pool_bwd(void *p, float *din, float *d1, float *d2)
{
    elem_ctx *c = p;
    (void)d1, (void)d2;
    jp_ref_global_avgpool_backward(din, c->r, c->pn, c->pc, c->ph, c->pw);
}

static void test_pool(tu_ctx *t, jp_rng *rng)
{
    elem_ctx c = {.pn = 2, .pc = 3, .ph = 4, .pw = 5};
    c.n = (size_t)c.pn * c.pc * c.ph * c.pw;
    c.in = fvec(c.n), c.out = fvec((size_t)c.pn * c.pc), c.r = fvec((size_t)c.pn * c.pc);
    jp_rng_fill_uniform(rng, c.in, c.n, -1, 1);
    jp_rng_fill_normal(rng, c.r, (size_t)c.pn * c.pc, 0, 1);
    /* The mean of each plane, directly; the gradient is r/20 so scale r up so the
     * "not trivially zero" check has something to see. */
    for (int i = 0; i < c.pn * c.pc; i++) c.r[i] *= 20.0f;
    jp_ref_global_avgpool_forward(c.out, c.in, c.pn, c.pc, c.ph, c.pw);
    double dev = 0;
    for (int p = 0; p < c.pn * c.pc; p++) {
        double s = 0;
        for (int k = 0; k < c.ph * c.pw; k++) s += c.in[p * c.ph * c.pw + k];
        dev = fmax(dev, fabs(s / (c.ph * c.pw) - c.out[p]));
    }
    tu_check(t, dev < 1e-7, "global avgpool forward (max diff %.3g)", dev);
    float *xs[3] = {c.in, NULL, NULL};
    size_t ns[3] = {c.n, 0, 0};
    const char *names[3] = {"din", "", ""};
    check_op(t, "global avgpool", pool_loss, pool_bwd, &c, xs, ns, names);
    free(c.in), free(c.out), free(c.r);
}

static double dropout_loss(void *p)
{
    elem_ctx *c = p;
    jp_rng r;
    jp_rng_seed(&r, c->seed);
    jp_dropout_forward(c->out, c->mask, c->in, c->n, c->p, &r);
    return dot(c->r, c->out, c->n);
}

static void dropout_bwd(void *p, float *din, float *d1, float *d2)
{
    elem_ctx *c = p;
    (void)d1, (void)d2;
    jp_dropout_backward(din, c->r, c->mask, c->n);
}

static void test_dropout(tu_ctx *t, jp_rng *rng)
{
    /* Statistics of the mask, and reproducibility from a seed. */
    const size_t big = 20000;
    const float p = 0.3f, keep = (float)(1.0 / (1.0 - 0.3f));
    float *x = fvec(big), *o = fvec(big), *m = fvec(big), *o2 = fvec(big), *m2 = fvec(big);
    jp_rng_fill_uniform(rng, x, big, -1, 1);
    jp_rng a, b;
    jp_rng_seed(&a, 7);
    jp_rng_seed(&b, 7);
    jp_dropout_forward(o, m, x, big, p, &a);
    jp_dropout_forward(o2, m2, x, big, p, &b);
    size_t zeros = 0, bad = 0;
    for (size_t i = 0; i < big; i++) {
        if (m[i] == 0.0f) zeros++;
        else if (m[i] != keep) bad++;
        if (o[i] != x[i] * m[i]) bad++;
    }
    double frac = (double)zeros / big;
    tu_check(t, bad == 0 && fabs(frac - p) < 0.015,
             "dropout p=0.3: mask is 0 or 1/(1-p), out = in*mask, dropped %.4f", frac);
    tu_check(t, memcmp(m, m2, big * sizeof(float)) == 0, "dropout mask reproducible from seed");
    jp_dropout_forward(o, m, x, big, 0.0f, NULL);
    tu_check(t, memcmp(o, x, big * sizeof(float)) == 0, "dropout p=0 is the identity");
    free(x), free(o), free(m), free(o2), free(m2);

    /* Gradient with the mask held fixed (the same seed in every evaluation). */
    elem_ctx c = {.n = 120, .seed = 99, .p = 0.4f};
    c.in = fvec(c.n), c.out = fvec(c.n), c.r = fvec(c.n), c.mask = fvec(c.n);
    jp_rng_fill_uniform(rng, c.in, c.n, -1, 1);
    jp_rng_fill_normal(rng, c.r, c.n, 0, 1);
    dropout_loss(&c);
    float *xs[3] = {c.in, NULL, NULL};
    size_t ns[3] = {c.n, 0, 0};
    const char *names[3] = {"din", "", ""};
    check_op(t, "dropout p=0.4", dropout_loss, dropout_bwd, &c, xs, ns, names);
    free(c.in), free(c.out), free(c.r), free(c.mask);
}

/* ---- linear ------------------------------------------------------------------ */

typedef struct {
    int n, in_f, out_f;
    float *in, *w, *b, *out, *r;
} lin_ctx;

static double lin_loss(void *p)
{
    lin_ctx *c = p;
    jp_ref_linear_forward(c->out, c->in, c->w, c->b, c->n, c->in_f, c->out_f);
    return dot(c->r, c->out, (size_t)c->n * c->out_f);
}

static void lin_bwd(void *p, float *din, float *dw, float *db)
{
    lin_ctx *c = p;
    jp_ref_linear_backward(din, dw, c->b ? db : NULL, c->r, c->in, c->w, c->n, c->in_f,
                           c->out_f);
}

static void test_linear(tu_ctx *t, jp_rng *rng, int bias)
{
    lin_ctx c = {.n = 5, .in_f = 7, .out_f = 4};
    size_t ni = (size_t)c.n * c.in_f, nw = (size_t)c.out_f * c.in_f, no = (size_t)c.n * c.out_f;
    c.in = fvec(ni), c.w = fvec(nw), c.out = fvec(no), c.r = fvec(no);
    c.b = bias ? fvec((size_t)c.out_f) : NULL;
    jp_rng_fill_uniform(rng, c.in, ni, -1, 1);
    jp_rng_fill_uniform(rng, c.w, nw, -1, 1);
    if (c.b) jp_rng_fill_uniform(rng, c.b, (size_t)c.out_f, -1, 1);
    jp_rng_fill_normal(rng, c.r, no, 0, 1);
    jp_ref_linear_forward(c.out, c.in, c.w, c.b, c.n, c.in_f, c.out_f);
    double dev = 0;
    for (int r = 0; r < c.n; r++)
        for (int o = 0; o < c.out_f; o++) {
            double s = c.b ? c.b[o] : 0;
            for (int i = 0; i < c.in_f; i++) s += (double)c.in[r * c.in_f + i] * c.w[o * c.in_f + i];
            dev = fmax(dev, fabs(s - c.out[r * c.out_f + o]));
        }
    tu_check(t, dev < 1e-6, "linear%s forward vs definition (max diff %.3g)",
             bias ? " bias" : "", dev);
    float *xs[3] = {c.in, c.w, c.b};
    size_t ns[3] = {ni, nw, bias ? (size_t)c.out_f : 0};
    const char *names[3] = {"din", "dw", "db"};
    check_op(t, bias ? "linear bias" : "linear", lin_loss, lin_bwd, &c, xs, ns, names);
    free(c.in), free(c.w), free(c.b), free(c.out), free(c.r);
}

/* ---- logsumexp and cross-entropy ------------------------------------------------ */

typedef struct {
    int n, c;
    float *in, *out, *r;
    int *y;
    float dloss;
} cls_ctx;

static double lse_loss(void *p)
{
    cls_ctx *c = p;
    jp_logsumexp_forward(c->out, c->in, c->n, c->c);
    return dot(c->r, c->out, (size_t)c->n);
}

static void lse_bwd(void *p, float *din, float *d1, float *d2)
{
    cls_ctx *c = p;
    (void)d1, (void)d2;
    jp_logsumexp_backward(din, c->r, c->in, c->n, c->c);
}

static double ce_loss(void *p)
{
    cls_ctx *c = p;
    return c->dloss * jp_cross_entropy_forward(c->in, c->y, c->n, c->c);
}

static void ce_bwd(void *p, float *din, float *d1, float *d2)
{
    cls_ctx *c = p;
    (void)d1, (void)d2;
    jp_cross_entropy_backward(din, c->dloss, c->in, c->y, c->n, c->c);
}

static void test_lse_stability(tu_ctx *t)
{
    /* Rows far from 0 must not overflow: LSE(x + k) = LSE(x) + k. */
    float x[3 * 4] = {1000, 999, 998, 1000.5f, -1000, -1001, -999, -1000,
                      -INFINITY, -INFINITY, -INFINITY, -INFINITY};
    float out[3], g[12], dout[3] = {1, 1, 1};
    jp_logsumexp_forward(out, x, 3, 4);
    double e0 = 1000.5 + log(exp(-0.5) + exp(-1.5) + exp(-2.5) + 1.0);
    double e1 = -999 + log(exp(-1.0) + exp(-2.0) + 1.0 + exp(-1.0));
    tu_check(t, fabs(out[0] - e0) < 1e-4 && fabs(out[1] - e1) < 1e-4 && isinf(out[2]) &&
                    out[2] < 0,
             "logsumexp stable at +-1000 and -inf rows (%.6f %.6f %g)", (double)out[0],
             (double)out[1], (double)out[2]);
    jp_logsumexp_backward(g, dout, x, 2, 4);
    double s0 = 0, s1 = 0;
    int finite = 1;
    for (int k = 0; k < 4; k++) s0 += g[k], s1 += g[4 + k], finite &= isfinite(g[k]) && isfinite(g[4 + k]);
    tu_check(t, finite && fabs(s0 - 1) < 1e-6 && fabs(s1 - 1) < 1e-6,
             "logsumexp backward at +-1000: finite softmax rows summing to 1");
    int y[2] = {3, 2};
    double ce = jp_cross_entropy_forward(x, y, 2, 4);
    double ece = ((e0 - 1000.5) + (e1 - -999.0)) / 2;
    tu_check(t, fabs(ce - ece) < 1e-4, "cross-entropy stable at +-1000 (%.6f vs %.6f)", ce, ece);
}

/* A label out of range must stop the program (JP_CHECK aborts), not read memory. */
static void test_ce_bad_label(tu_ctx *t)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        float x[6] = {0, 1, 2, 3, 4, 5};
        int y[2] = {1, 3}; /* C = 3 */
        alarm(10); /* a missing check could hang in OpenMP after fork: fail, not hang */
        if (!freopen("/dev/null", "w", stderr)) _exit(3);
        jp_cross_entropy_forward(x, y, 2, 3);
        _exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    tu_check(t, WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT,
             "cross-entropy with label >= C aborts via JP_CHECK");
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        float x[6] = {0, 1, 2, 3, 4, 5}, g[6];
        int y[2] = {-1, 0};
        alarm(10); /* a missing check could hang in OpenMP after fork: fail, not hang */
        if (!freopen("/dev/null", "w", stderr)) _exit(3);
        jp_cross_entropy_backward(g, 1.0f, x, y, 2, 3);
        _exit(0);
    }
    waitpid(pid, &status, 0);
    tu_check(t, WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT,
             "cross-entropy backward with label < 0 aborts via JP_CHECK");
}

static void test_classes(tu_ctx *t, jp_rng *rng)
{
    cls_ctx c = {.n = 6, .c = 5, .dloss = 1.7f};
    size_t nl = (size_t)c.n * c.c;
    c.in = fvec(nl), c.out = fvec((size_t)c.n), c.r = fvec((size_t)c.n);
    c.y = malloc((size_t)c.n * sizeof(int));
    jp_rng_fill_normal(rng, c.in, nl, 0, 2);
    jp_rng_fill_normal(rng, c.r, (size_t)c.n, 0, 1);
    for (int i = 0; i < c.n; i++) c.y[i] = (int)jp_rng_below(rng, (uint64_t)c.c);
    float *xs[3] = {c.in, NULL, NULL};
    size_t ns[3] = {nl, 0, 0};
    const char *names[3] = {"din", "", ""};
    check_op(t, "logsumexp", lse_loss, lse_bwd, &c, xs, ns, names);
    /* Cross-entropy gradients are O(1/N): a larger upstream keeps them measurable. */
    c.dloss = 6.0f;
    check_op(t, "cross-entropy", ce_loss, ce_bwd, &c, xs, ns, names);
    free(c.in), free(c.out), free(c.r), free(c.y);
}

/* Every output element is owned by one thread, so the results must be bitwise the
 * same on 1 and 3 threads (the tests run on 2). */
static void test_thread_independence(tu_ctx *t, jp_rng *rng)
{
#ifdef _OPENMP
    jp_conv_shape cs;
    jp_conv_shape_init(&cs, 3, 5, 9, 7, 6, 3, 3, 2, 1, 1, 1, NULL);
    jp_bn_shape bs = {.n = 3, .c = 6, .h = 5, .w = 7, .eps = 1e-5f, .momentum = 0.9f};
    const size_t ni = 3 * 5 * 9 * 7, nw = 6 * 5 * 9, no = 3 * 6 * 5 * 7, nc = 6;
    float *in = fvec(ni), *w = fvec(nw), *b = fvec(nc), *dout = fvec(no);
    jp_rng_fill_normal(rng, in, ni, 0, 1);
    jp_rng_fill_normal(rng, w, nw, 0, 1);
    jp_rng_fill_normal(rng, b, nc, 0, 1);
    jp_rng_fill_normal(rng, dout, no, 0, 1);
    /* Results laid end to end: conv out, din, dw, db; bn out, din, and per channel
     * mean, invstd, running mean, running var, dgamma, dbeta. */
    const size_t len = no + ni + nw + nc + no + no + 6 * nc;
    float *res[2];
    const int threads[2] = {1, 3};
    const int saved = omp_get_max_threads();
    for (int k = 0; k < 2; k++) {
        omp_set_num_threads(threads[k]);
        float *r = res[k] = calloc(len, sizeof(float));
        if (!r) abort();
        float *o = r, *di = o + no, *dw = di + ni, *db = dw + nw;
        float *bo = db + nc, *bdi = bo + no, *mean = bdi + no, *inv = mean + nc;
        float *rm = inv + nc, *rv = rm + nc, *dg = rv + nc, *dbt = dg + nc;
        fill_const(rv, nc, 1.0f);
        jp_ref_conv2d_forward(o, in, w, b, &cs);
        jp_ref_conv2d_backward(di, dw, db, dout, in, w, &cs);
        /* bn over the conv output, gamma = b, beta = the first weights */
        jp_ref_bn_forward_train(bo, mean, inv, rm, rv, o, b, w, &bs);
        jp_ref_bn_backward_train(bdi, dg, dbt, dout, o, mean, inv, b, &bs);
    }
    omp_set_num_threads(saved);
    tu_check(t, memcmp(res[0], res[1], len * sizeof(float)) == 0,
             "conv and bn results bitwise equal on 1 and 3 threads");
    free(res[0]), free(res[1]), free(in), free(w), free(b), free(dout);
#else
    (void)rng;
    tu_check(t, 1, "built without OpenMP: thread independence not applicable");
#endif
}

int main(void)
{
    tu_ctx t;
    tu_begin(&t, "test_ops_fd");
    jp_rng rng;
    jp_rng_seed(&rng, 20240611);

    test_conv_shape(&t);
    const conv_cfg convs[] = {
        {2, 3, 6, 5, 4, 3, 3, 1, 1, 1, 1, 1}, /* 3x3 s1 p1, bias */
        {2, 3, 6, 5, 4, 3, 3, 1, 1, 1, 1, 0}, /* 3x3 s1 p1, no bias */
        {2, 3, 7, 6, 4, 3, 3, 2, 2, 1, 1, 0}, /* 3x3 s2 p1 */
        {2, 3, 6, 6, 5, 1, 1, 2, 2, 0, 0, 1}, /* 1x1 s2 p0: odd pixels get no gradient */
        {2, 2, 5, 6, 3, 1, 3, 1, 1, 0, 1, 1}, /* 1x3 pad (0,1) */
        {1, 2, 9, 5, 3, 7, 1, 1, 1, 3, 0, 0}, /* 7x1 pad (3,0) */
        {2, 2, 7, 8, 3, 3, 2, 2, 1, 0, 2, 1}, /* 3x2, stride (2,1), pad (0,2) */
        {1, 2, 6, 6, 2, 3, 3, 2, 2, 0, 0, 1}, /* 3x3 s2 p0: the last row/col unused */
    };
    for (size_t i = 0; i < sizeof convs / sizeof convs[0]; i++) test_conv(&t, &rng, &convs[i]);
    test_bn(&t, &rng, 1, 3, 2, 3, 4);
    test_bn(&t, &rng, 1, 2, 3, 2, 2);
    test_bn(&t, &rng, 0, 3, 2, 3, 4);
    test_lrelu(&t, &rng, 0.2f);
    test_lrelu(&t, &rng, 0.0f);
    test_pool(&t, &rng);
    test_linear(&t, &rng, 1);
    test_linear(&t, &rng, 0);
    test_dropout(&t, &rng);
    test_classes(&t, &rng);
    test_lse_stability(&t);
    test_thread_independence(&t, &rng);
    test_ce_bad_label(&t);
    return tu_finish(&t);
}
