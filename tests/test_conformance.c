/* Conformance: every implementation of the fast path that this machine can run, against
 * the plain reference kernels (jempp/ops.h), on one layout given as the argument:
 *   test_conformance 8    nChw8c:  onednn-direct, jempp-winograd, jempp-first; onednn,
 *                         jempp-fused
 *   test_conformance 16   nChw16c: the same and onednn-winograd
 *   test_conformance bf16 nChw16c: onednn-bf16 (AVX-512 BF16)
 *   test_conformance cuda NCHW on GPU 0: cudnn (convolutions with TF32 off and on), cudnn
 *                         batch norm; SKIPPED without a GPU or a CUDA build
 * Convolution: forward (plain, residual, inference + ReLU), backward-data and
 * backward-weights (accumulating), on shapes with odd channel counts, stride 2, 1x1,
 * 28x28 and 7x7 maps; batch norm + LeakyReLU: forward and backward in train and eval
 * mode. onednn-bf16's forward and backward-data are held to the reference run on their
 * operands rounded to bfloat16 (what its kernels multiply), at float32's tolerance. What
 * this CPU cannot run is named, and the test then exits with TU_SKIP
 * (ctest's SKIP_RETURN_CODE): never a pass for what was not checked. */
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jempp/ops.h"
#include "ops/ref.h"
#include "jempp/wrn.h"
#include "ops/backend.h"
#include "ops/cpu_isa.h"
#include "testutil.h"

/* What could not run on this CPU, for the summary. */
typedef struct {
    char text[2400];
    size_t len;
} skipped;

/* Notes what (once per implementation and layout: the text up to its '('). */
static void skip_note(skipped *sk, const char *what)
{
    const char *paren = strchr(what, '(');
    size_t key = paren ? (size_t)(paren - what) : strlen(what);
    for (const char *at = sk->text; *at; at++)
        if ((at == sk->text || at[-1] == ' ') && !strncmp(at, what, key)) return;
    sk->len += (size_t)snprintf(sk->text + sk->len, sizeof sk->text - sk->len, "%s%s", sk->len ? "; " : "", what);
}

static float *rnd(jp_rng *r, size_t n, float lo, float hi)
{
    float *x = jp_alloc(n * sizeof(float));
    jp_rng_fill_uniform(r, x, n, lo, hi);
    return x;
}

/* A copy of a[0..n) rounded to bfloat16 (8 significant bits, to nearest, ties to even),
 * as oneDNN's reorder to bf16 rounds. */
static float *bf16_rounded(const float *a, size_t n)
{
    float *out = jp_alloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &a[i], 4);
        u = (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
        memcpy(&out[i], &u, 4);
    }
    return out;
}

/* Arrays the plans touch live on the context's device (host memory on the CPU): these
 * move the test's plain NCHW host arrays there and back, in the context's layout. */
static float *dalloc(const jp_ctx *ctx, size_t bytes)
{
    float *p = jp_dev_alloc(ctx->dev, bytes);
    JP_CHECK(p != NULL);
    return p;
}

static float *dput(const jp_ctx *ctx, const float *host, size_t count)
{
    float *p = dalloc(ctx, count * sizeof(float));
    jp_dev_upload(ctx->dev, p, host, count * sizeof(float));
    return p;
}

static void dget(const jp_ctx *ctx, float *host, const float *p, size_t count)
{
    jp_error err;
    JP_CHECK(ctx->dev->ops->sync(ctx->dev->state, &err) == JP_OK);
    jp_dev_download(ctx->dev, host, p, count * sizeof(float));
}

static void act_in(const jp_ctx *ctx, float *dst, const float *host, int n, int c, int h, int w)
{
    if (ctx->act_block == 1) jp_dev_upload(ctx->dev, dst, host, (size_t)n * c * h * w * sizeof(float));
    else jp_act_to_blocked(ctx, dst, host, n, c, h, w);
}

static void act_out(const jp_ctx *ctx, float *host, const float *src, int n, int c, int h, int w)
{
    if (ctx->act_block == 1) dget(ctx, host, src, (size_t)n * c * h * w);
    else jp_act_from_blocked(ctx, host, src, n, c, h, w);
}

static void dfree(const jp_ctx *ctx, float *const *bufs, size_t n)
{
    for (size_t i = 0; i < n; i++) jp_dev_release(ctx->dev, bufs[i]);
}

/* The layout's name in messages: nChw8c, nChw16c, or NCHW (a device's plain layout). */
static const char *layout(const jp_ctx *ctx)
{
    return ctx->act_block == 16 ? "nChw16c" : ctx->act_block == 8 ? "nChw8c" : "NCHW";
}

/* One convolution shape on implementation impl; a shape not of impl's kind (a 1x1 for a
 * Winograd one) is left out, an implementation this CPU lacks is noted in sk. */
static void check_conv(tu_ctx *t, skipped *sk, jp_ctx *ctx, jp_rng *r, jp_conv_impl_id impl, double tol, int n,
                       int cin, int h, int cout, int k, int stride, int src_plain, int residual)
{
    jp_conv_shape s;
    jp_error err;
    JP_CHECK(jp_conv_shape_init(&s, n, cin, h, h, cout, k, k, stride, stride, k / 2, k / 2, &err) == JP_OK);
    jp_conv_plan p;
    /* winograd: onednn-bf16's float32 backward-weights may then be jempp-winograd's */
    jp_conv_opts o = {.src_plain = src_plain, .residual = residual, .need_backward = 1, .winograd = 1, .impl = impl};
    jp_status st = jp_conv_plan_init(&p, ctx, &s, &o, &err);
    if (st == JP_ERR_BACKEND) {
        char note[1200];
        snprintf(note, sizeof note, "%s on %s (%s)", jp_conv_impl_word(impl), layout(ctx), err.msg);
        skip_note(sk, note);
        return;
    }
    if (st != JP_OK) {
        tu_check(t, 0, "plan: %s", err.msg);
        return;
    }
    if (p.impl->id != impl) { /* not of its kind: onednn-direct took it */
        jp_conv_plan_free(&p);
        return;
    }
    JP_CHECK(jp_ctx_finalize(ctx, &err) == JP_OK);
    size_t nin = (size_t)n * cin * h * h, nout = (size_t)n * cout * s.oh * s.ow, nw = (size_t)cout * cin * k * k;
    float *x = rnd(r, nin, -1, 1), *w = rnd(r, nw, -0.3f, 0.3f), *b = rnd(r, cout, -0.5f, 0.5f);
    float *dout = rnd(r, nout, -1, 1), *prev = rnd(r, nout, -1, 1);
    float *ref = jp_alloc(nout * 4), *got = jp_alloc(nout * 4);
    /* on the device: */
    float *wd = dput(ctx, w, nw), *bd = dput(ctx, b, (size_t)cout);
    float *xb = dalloc(ctx, jp_act_bytes(ctx, n, cin, h, h) + nin * 4);
    float *yb = dalloc(ctx, jp_act_bytes(ctx, n, cout, s.oh, s.ow));
    float *db_ = dalloc(ctx, jp_act_bytes(ctx, n, cout, s.oh, s.ow));
    float *wf = dalloc(ctx, p.w_bytes), *wb = p.wd_bytes ? dalloc(ctx, p.wd_bytes) : wf;
    float *dws = dalloc(ctx, p.dw_bytes), *dbs = dalloc(ctx, (size_t)cout * 4);
    char what[160];
    snprintf(what, sizeof what, "%s %s: conv %d->%d k%d s%d %dx%d%s%s", jp_conv_impl_word(impl), layout(ctx), cin,
             cout, k, stride, h, h, src_plain ? " plain-src" : "", residual ? " residual" : "");
    /* oneDNN's reference kernels are 10-1000x slower: the plan must avoid them (the
     * 1-channel plain first layer's backward-weights gets one unless it reads a
     * blocked copy of its source) */
    const char *kern[3] = {jp_conv_kernel(&p, 0), jp_conv_kernel(&p, 1), jp_conv_kernel(&p, 2)};
    /* (the layers of a WRN: a plain first layer, or channels in multiples of 8) */
    if (src_plain || (cin % 8 == 0 && cout % 8 == 0))
        tu_check(t, !jp_kernel_is_reference(kern[0]) && !jp_kernel_is_reference(kern[1]) && !jp_kernel_is_reference(kern[2]),
             "%s: JIT kernels (fwd %s, bwd-data %s, bwd-weights %s)", what, kern[0], kern[1], kern[2]);

    /* what the implementation multiplies: onednn-bf16 rounds the source, the output
     * gradient and the weights of forward and backward-data to bfloat16 */
    int bf16 = impl == JP_CONV_ONEDNN_BF16;
    float *xm = bf16 ? bf16_rounded(x, nin) : x, *wm = bf16 ? bf16_rounded(w, nw) : w;
    float *doutm = bf16 ? bf16_rounded(dout, nout) : dout;
    jp_ref_conv2d_forward(ref, xm, wm, b, &s);
    if (residual)
        for (size_t i = 0; i < nout; i++) ref[i] += prev[i];
    if (src_plain) jp_dev_upload(ctx->dev, xb, x, nin * 4);
    else act_in(ctx, xb, x, n, cin, h, h);
    jp_conv_prepare_weights(&p, wf, wb, wd);
    if (residual) act_in(ctx, yb, prev, n, cout, s.oh, s.ow);
    jp_conv_forward(&p, yb, xb, wf, bd);
    act_out(ctx, got, yb, n, cout, s.oh, s.ow);
    char w2[200];
    snprintf(w2, sizeof w2, "%s fwd", what);
    tu_close(t, w2, got, ref, nout, tol, tol);

    /* the forward-only plan with a fused ReLU (Inception): relu(conv(x) + b) */
    if (!residual) {
        jp_conv_plan pr;
        jp_conv_opts orelu = {.src_plain = src_plain, .relu = 1, .impl = impl};
        if (jp_conv_plan_init(&pr, ctx, &s, &orelu, &err) != JP_OK) {
            tu_check(t, 0, "relu plan: %s", err.msg);
        } else {
            JP_CHECK(jp_ctx_finalize(ctx, &err) == JP_OK);
            float *wr = dalloc(ctx, pr.w_bytes), *rref = jp_alloc(nout * 4);
            jp_conv_prepare_weights(&pr, wr, NULL, wd);
            jp_conv_forward(&pr, yb, xb, wr, bd);
            act_out(ctx, got, yb, n, cout, s.oh, s.ow);
            for (size_t i = 0; i < nout; i++) rref[i] = ref[i] > 0 ? ref[i] : 0.0f;
            snprintf(w2, sizeof w2, "%s fwd inference + relu", what);
            tu_close(t, w2, got, rref, nout, tol, tol);
            tu_check(t, pr.wd_bytes == 0 && pr.dw_bytes == 0 && !jp_conv_kernel(&pr, 1) && !jp_conv_kernel(&pr, 2),
                     "%s: a forward-only plan has no backward", what);
            jp_dev_release(ctx->dev, wr);
            jp_free(rref);
            jp_conv_plan_free(&pr);
        }
    }

    /* backward data */
    float *dref = jp_alloc(nin * 4), *dgot = jp_alloc(nin * 4);
    jp_ref_conv2d_backward(dref, NULL, NULL, doutm, xm, wm, &s);
    act_in(ctx, db_, dout, n, cout, s.oh, s.ow);
    float *dxb = dalloc(ctx, jp_act_bytes(ctx, n, cin, h, h) + nin * 4);
    jp_conv_backward_data(&p, dxb, db_, wb);
    if (src_plain) dget(ctx, dgot, dxb, nin);
    else act_out(ctx, dgot, dxb, n, cin, h, h);
    snprintf(w2, sizeof w2, "%s bwd-data", what);
    tu_close(t, w2, dgot, dref, nin, tol, tol);

    /* backward weights, accumulating into existing gradients */
    float *dwr = rnd(r, nw, -1, 1), *dbr = rnd(r, cout, -1, 1);
    float *dwd = dput(ctx, dwr, nw), *dbd = dput(ctx, dbr, (size_t)cout);
    float *dwg = jp_alloc(nw * 4), *dbg = jp_alloc((size_t)cout * 4);
    jp_ref_conv2d_backward(NULL, dwr, dbr, dout, x, w, &s);
    jp_conv_backward_weights(&p, dwd, dbd, db_, xb, dws, dbs);
    dget(ctx, dwg, dwd, nw);
    dget(ctx, dbg, dbd, (size_t)cout);
    snprintf(w2, sizeof w2, "%s bwd-weights (+=)", what);
    tu_close(t, w2, dwg, dwr, nw, tol * 4, tol);
    snprintf(w2, sizeof w2, "%s bwd-bias (+=)", what);
    tu_close(t, w2, dbg, dbr, (size_t)cout, tol * 4, tol);

    float *bufs[] = {x, w, b, dout, prev, ref, got, dref, dgot, dwr, dwg, dbr, dbg};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) jp_free(bufs[i]);
    if (bf16) {
        jp_free(xm);
        jp_free(wm);
        jp_free(doutm);
    }
    float *dbufs[] = {wd, bd, xb, yb, db_, wf, dws, dbs, dxb, dwd, dbd};
    dfree(ctx, dbufs, sizeof dbufs / sizeof *dbufs);
    if (wb != wf) jp_dev_release(ctx->dev, wb);
    jp_conv_plan_free(&p);
}

/* lrelu(bn(x)) and its backward against the reference ops; x drawn from [shift - 2,
 * shift + 3] (a large shift: a mean far from 0 against the spread). */
static void check_bnact(tu_ctx *t, skipped *sk, jp_ctx *ctx, jp_rng *r, jp_bnact_impl_id impl, int n, int c,
                        int h, int has_bn, int train, float shift)
{
    jp_bn_shape s = {n, c, h, h, 1e-5f, 0.9f};
    jp_bnact_plan p;
    jp_error err;
    if (impl == JP_BNACT_JEMPP_FUSED && c % ctx->act_block) return; /* not of its kind */
    if (jp_bnact_plan_init(&p, ctx, &s, has_bn, 0.2f, impl, &err) != JP_OK) {
        char note[1200];
        snprintf(note, sizeof note, "%s on %s (%s)", jp_bnact_impl_word(impl), layout(ctx), err.msg);
        skip_note(sk, note);
        return;
    }
    JP_CHECK(jp_ctx_finalize(ctx, &err) == JP_OK);
    size_t cnt = (size_t)n * c * h * h, bytes = jp_act_bytes(ctx, n, c, h, h);
    float *x = rnd(r, cnt, shift - 2, shift + 3), *g = rnd(r, c, 0.5f, 1.5f), *be = rnd(r, c, -0.5f, 0.5f);
    float *dout = rnd(r, cnt, -1, 1);
    float *rm = rnd(r, c, -0.2f, 0.2f), *rv = rnd(r, c, 0.5f, 2.0f);
    float *rm2 = jp_alloc((size_t)c * 4), *rv2 = jp_alloc((size_t)c * 4);
    float *y = jp_alloc(cnt * 4), *yref = jp_alloc(cnt * 4), *sm = jp_alloc((size_t)c * 4), *si = jp_alloc((size_t)c * 4);
    float *pre = jp_alloc(cnt * 4), *dpre = jp_alloc(cnt * 4), *dxr = jp_alloc(cnt * 4), *dx = jp_alloc(cnt * 4);
    float *dg = jp_alloc((size_t)c * 4), *dbe = jp_alloc((size_t)c * 4), *dgr = jp_alloc((size_t)c * 4), *dber = jp_alloc((size_t)c * 4);
    /* on the device: */
    float *rmd = dput(ctx, rm, (size_t)c), *rvd = dput(ctx, rv, (size_t)c), *gd = dput(ctx, g, (size_t)c);
    float *bed = dput(ctx, be, (size_t)c);
    float *xb = dalloc(ctx, bytes), *yb = dalloc(ctx, bytes), *db = dalloc(ctx, bytes), *dxb = dalloc(ctx, bytes);
    float *mean = dalloc(ctx, (size_t)c * 4), *var = dalloc(ctx, (size_t)c * 4), *scr = dalloc(ctx, (size_t)c * 8);
    float *dgd = dalloc(ctx, (size_t)c * 4), *dbed = dalloc(ctx, (size_t)c * 4);
    char what[120];
    snprintf(what, sizeof what, "%s %s %dx%dx%dx%d mean~%g (%s)", has_bn ? "bn+lrelu" : "lrelu",
             train ? "train" : "eval", n, c, h, h, shift + 0.5, jp_bnact_kernel(&p, 0));

    /* reference: pre = bn(x), y = lrelu(pre); backward through both */
    if (!has_bn) memcpy(pre, x, cnt * 4);
    else if (train) jp_ref_bn_forward_train(pre, sm, si, rm, rv, x, g, be, &s);
    else jp_ref_bn_forward_eval(pre, x, g, be, rm, rv, &s);
    jp_ref_leaky_relu_forward(yref, pre, cnt, 0.2f);
    jp_ref_leaky_relu_backward(dpre, dout, pre, cnt, 0.2f);
    if (!has_bn) memcpy(dxr, dpre, cnt * 4);
    else if (train) jp_ref_bn_backward_train(dxr, dgr, dber, dpre, x, sm, si, g, &s);
    else jp_ref_bn_backward_eval(dxr, dgr, dber, dpre, x, g, rm, rv, &s);

    act_in(ctx, xb, x, n, c, h, h);
    jp_bnact_forward(&p, train, yb, mean, var, rmd, rvd, xb, gd, bed);
    act_out(ctx, y, yb, n, c, h, h);
    dget(ctx, rm2, rmd, (size_t)c);
    dget(ctx, rv2, rvd, (size_t)c);
    char w2[160];
    snprintf(w2, sizeof w2, "%s fwd", what);
    /* a mean of 50 against a spread of 5 costs oneDNN's AVX2 batch norm about 4 bits */
    tu_close(t, w2, y, yref, cnt, shift != 0 ? 5e-5 : 1e-5, 1e-4);
    if (has_bn && train) {
        snprintf(w2, sizeof w2, "%s running mean", what);
        tu_close(t, w2, rm2, rm, (size_t)c, 1e-6, 1e-5);
        snprintf(w2, sizeof w2, "%s running var (unbiased)", what);
        tu_close(t, w2, rv2, rv, (size_t)c, 1e-6, 1e-5);
    }
    act_in(ctx, db, dout, n, c, h, h);
    jp_bnact_backward(&p, train, dxb, db, has_bn ? dgd : NULL, has_bn ? dbed : NULL, yb, xb,
                      train ? mean : rmd, train ? var : rvd, gd, bed, scr);
    act_out(ctx, dx, dxb, n, c, h, h);
    dget(ctx, dg, dgd, (size_t)c);
    dget(ctx, dbe, dbed, (size_t)c);
    snprintf(w2, sizeof w2, "%s bwd dx", what);
    tu_close(t, w2, dx, dxr, cnt, 1e-5, 1e-3);
    if (has_bn) {
        snprintf(w2, sizeof w2, "%s bwd dgamma", what);
        tu_close(t, w2, dg, dgr, (size_t)c, 1e-4, 1e-4);
        snprintf(w2, sizeof w2, "%s bwd dbeta", what);
        tu_close(t, w2, dbe, dber, (size_t)c, 1e-4, 1e-4);
    }
    float *bufs[] = {x, g, be, dout, rm, rv, rm2, rv2, y, yref, sm, si, pre, dpre, dxr, dx, dg, dbe, dgr, dber};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) jp_free(bufs[i]);
    float *dbufs[] = {rmd, rvd, gd, bed, xb, yb, db, dxb, mean, var, scr, dgd, dbed};
    dfree(ctx, dbufs, sizeof dbufs / sizeof *dbufs);
    jp_bnact_plan_free(&p);
}

/* Train-mode forward and backward give the same bits on 1 and 2 threads (jempp's fused
 * kernels sum per fixed chunk of images; oneDNN's need not, so only they are checked). */
static void check_bnact_threads(tu_ctx *t, jp_ctx *ctx, jp_rng *r)
{
    jp_bn_shape s = {5, 32, 6, 6, 1e-5f, 0.9f};
    jp_bnact_plan p;
    jp_error err;
    if (jp_bnact_plan_init(&p, ctx, &s, 1, 0.2f, JP_BNACT_JEMPP_FUSED, &err) != JP_OK) return; /* noted above */
    JP_CHECK(jp_ctx_finalize(ctx, &err) == JP_OK);
    size_t cnt = jp_act_bytes(ctx, s.n, s.c, s.h, s.w) / 4, C = (size_t)s.c;
    float *x = rnd(r, cnt, -2, 3), *dy = rnd(r, cnt, -1, 1), *g = rnd(r, C, 0.5f, 1.5f), *be = rnd(r, C, -0.5f, 0.5f);
    float *out[2][6]; /* dst, mean, var, dsrc, dgamma, dbeta per thread count */
    size_t sizes[6] = {cnt, C, C, cnt, C, C};
    int saved = omp_get_max_threads();
    for (int k = 0; k < 2; k++) {
        for (int i = 0; i < 6; i++) out[k][i] = jp_alloc(sizes[i] * 4);
        float *ddst = jp_alloc(cnt * 4), *scr = jp_alloc(C * 8);
        memcpy(ddst, dy, cnt * 4);
        omp_set_num_threads(k + 1);
        jp_bnact_forward(&p, 1, out[k][0], out[k][1], out[k][2], NULL, NULL, x, g, be);
        jp_bnact_backward(&p, 1, out[k][3], ddst, out[k][4], out[k][5], out[k][0], x, out[k][1], out[k][2], g, be,
                          scr);
        jp_free(ddst), jp_free(scr);
    }
    omp_set_num_threads(saved);
    const char *names[6] = {"dst", "mean", "var", "dsrc", "dgamma", "dbeta"};
    for (int i = 0; i < 6; i++) {
        tu_check(t, memcmp(out[0][i], out[1][i], sizes[i] * 4) == 0,
                 "jempp-fused nChw%dc bn+lrelu train %s: the same bits on 1 and 2 threads", ctx->act_block, names[i]);
        jp_free(out[0][i]), jp_free(out[1][i]);
    }
    jp_free(x), jp_free(dy), jp_free(g), jp_free(be);
    jp_bnact_plan_free(&p);
}

/* jempp-winograd's forward and backward-data give the same bits on 1 and 2 threads, with
 * blocks per thread (32->32) and with blocks the threads share (from 8 MB of transformed
 * kernel: 256->272, and 128->128 stride 2 on 7x7 tiles): each output is computed by one
 * thread in the same order either way. */
static void check_conv_threads(tu_ctx *t, jp_ctx *ctx, jp_rng *r)
{
    static const int shapes[3][5] = {{5, 32, 12, 32, 1}, {25, 256, 5, 272, 1}, {2, 128, 14, 128, 2}};
    int saved = omp_get_max_threads();
    for (int k = 0; k < 3; k++) {
        int n = shapes[k][0], cin = shapes[k][1], h = shapes[k][2], cout = shapes[k][3], st = shapes[k][4];
        jp_conv_shape s;
        jp_error err;
        JP_CHECK(jp_conv_shape_init(&s, n, cin, h, h, cout, 3, 3, st, st, 1, 1, &err) == JP_OK);
        size_t nin = jp_act_bytes(ctx, n, cin, h, h) / 4, nout = jp_act_bytes(ctx, n, cout, s.oh, s.ow) / 4;
        size_t nw = (size_t)cout * cin * 9;
        float *x = rnd(r, nin, -1, 1), *dy = rnd(r, nout, -1, 1), *w = rnd(r, nw, -0.3f, 0.3f);
        float *b = rnd(r, cout, -0.5f, 0.5f), *y[2], *dx[2];
        for (int m = 0; m < 2; m++) {
            omp_set_num_threads(m + 1);
            jp_conv_plan p;
            jp_conv_opts o = {.need_backward = 1, .impl = JP_CONV_JEMPP_WINOGRAD};
            JP_CHECK(jp_conv_plan_init(&p, ctx, &s, &o, &err) == JP_OK);
            JP_CHECK(jp_ctx_finalize(ctx, &err) == JP_OK);
            float *wf = jp_alloc(p.w_bytes), *wb = p.wd_bytes ? jp_alloc(p.wd_bytes) : wf;
            y[m] = jp_alloc(nout * 4), dx[m] = jp_alloc(nin * 4);
            jp_conv_prepare_weights(&p, wf, wb, w);
            jp_conv_forward(&p, y[m], x, wf, b);
            jp_conv_backward_data(&p, dx[m], dy, wb);
            if (wb != wf) jp_free(wb);
            jp_free(wf);
            jp_conv_plan_free(&p);
        }
        omp_set_num_threads(saved);
        tu_check(t, memcmp(y[0], y[1], nout * 4) == 0 && memcmp(dx[0], dx[1], nin * 4) == 0,
                 "jempp-winograd %s conv %d->%d s%d %dx%d: forward and backward-data the same bits on 1 and 2 threads",
                 layout(ctx), cin, cout, st, h, h);
        jp_free(x), jp_free(dy), jp_free(w), jp_free(b);
        for (int m = 0; m < 2; m++) jp_free(y[m]), jp_free(dx[m]);
    }
}

/* The shapes of check_conv for implementation c at tolerance tol. */
static void check_convs(tu_ctx *t, skipped *sk, jp_ctx *ctx, jp_rng *r, jp_conv_impl_id c, double tol)
{
    /* n, cin, h, cout, k, stride, plain source, residual */
    check_conv(t, sk, ctx, r, c, tol, 4, 3, 12, 16, 3, 1, 1, 0);  /* first layer */
    check_conv(t, sk, ctx, r, c, tol, 2, 1, 28, 16, 3, 1, 1, 0);  /* grayscale first layer, 28x28 */
    check_conv(t, sk, ctx, r, c, tol, 3, 2, 7, 32, 3, 1, 1, 0);   /* plain first layer, 2 blocks out, 7x7 */
    check_conv(t, sk, ctx, r, c, tol, 4, 16, 10, 32, 3, 1, 0, 0);
    check_conv(t, sk, ctx, r, c, tol, 4, 32, 10, 32, 3, 2, 0, 1); /* strided residual */
    check_conv(t, sk, ctx, r, c, tol, 2, 24, 13, 40, 3, 2, 0, 0); /* strided, odd size, channels not a block multiple */
    /* strided, 28x28 -> 14x14 and 14x14 -> 7x7 (Winograd's 7x7 tiles), several blocks of them */
    check_conv(t, sk, ctx, r, c, tol, 3, 16, 28, 32, 3, 2, 0, 1);
    check_conv(t, sk, ctx, r, c, tol, 13, 32, 14, 48, 3, 2, 0, 0);
    check_conv(t, sk, ctx, r, c, tol, 3, 16, 9, 32, 1, 2, 0, 0);  /* 1x1 shortcut, odd size */
    check_conv(t, sk, ctx, r, c, tol, 2, 24, 7, 40, 3, 1, 0, 1);  /* channels not a block multiple, 7x7 */
    check_conv(t, sk, ctx, r, c, tol, 2, 5, 6, 7, 3, 1, 0, 0);    /* odd channel counts */
    check_conv(t, sk, ctx, r, c, tol, 4, 32, 8, 32, 3, 1, 0, 1);
    check_conv(t, sk, ctx, r, c, tol, 2, 32, 28, 64, 3, 1, 0, 0); /* 28x28 */
    check_conv(t, sk, ctx, r, c, tol, 3, 64, 7, 64, 3, 1, 0, 1);  /* 7x7: partial Winograd tiles */
    /* more tiles than one Winograd block (80 tiles: blocks of 24 and 32 with tails) */
    check_conv(t, sk, ctx, r, c, tol, 5, 16, 14, 32, 3, 1, 0, 1);
    check_conv(t, sk, ctx, r, c, tol, 2, 48, 8, 16, 3, 1, 0, 0);  /* Cout < Cin */
    /* Winograd's kernels in strips of 32 columns: 48 = 32 + 16 (forward), 80 = 2 x 32 + 16 */
    check_conv(t, sk, ctx, r, c, tol, 2, 80, 6, 48, 3, 1, 0, 1);
    /* from 256 channels in and out Winograd's backward-weights shares one dU among the
     * threads; from 8 MB of transformed kernel the forward and backward-data share blocks
     * of 96 tiles (100 tiles: more than one block of each) */
    check_conv(t, sk, ctx, r, c, tol, 25, 256, 5, 272, 3, 1, 0, 0);
    check_conv(t, sk, ctx, r, c, tol, 2, 256, 8, 256, 3, 2, 0, 1);
    check_conv(t, sk, ctx, r, c, tol, 2, 128, 14, 128, 3, 2, 0, 1); /* 7x7 tiles, shared blocks */
}

/* The shapes of check_bnact for implementation b. */
static void check_bnacts(tu_ctx *t, skipped *sk, jp_ctx *ctx, jp_rng *r, jp_bnact_impl_id b)
{
    for (int train = 0; train < 2; train++) {
        check_bnact(t, sk, ctx, r, b, 4, 32, 6, 1, train, 0);
        check_bnact(t, sk, ctx, r, b, 3, 16, 5, 0, train, 0);
        check_bnact(t, sk, ctx, r, b, 5, 16, 7, 1, train, 50); /* fewer images than chunks of the sums */
        check_bnact(t, sk, ctx, r, b, 2, 64, 28, 1, train, 0); /* 28x28 */
        check_bnact(t, sk, ctx, r, b, 2, 20, 5, 1, train, 0);  /* not a block multiple: onednn only */
    }
}

#ifdef JEMPP_HAVE_CUDA
#include "cuda/cuda_backend.h"
#endif

/* The CUDA device's implementations (cudnn), TF32 off at the CPU's tolerance, then on. */
static int run_cuda(tu_ctx *t)
{
#ifndef JEMPP_HAVE_CUDA
    return tu_skip_machine(t, "this build has no CUDA backend (nvcc and cuDNN were not found at configure time)");
#else
    char why[200];
    if (jp_cuda_device_count(why, sizeof why) == 0) return tu_skip_machine(t, "%s", why);
    jp_device dev;
    jp_error err;
    if (jp_cuda_device_open(&dev, 0, &err)) {
        tu_check(t, 0, "the CUDA device: %s", err.msg);
        return tu_finish(t);
    }
    printf("device: %s\n", jp_cuda_describe((jp_cuda *)dev.state));
    skipped sk = {{0}, 0};
    jp_rng r;
    jp_rng_seed(&r, 42);
    /* TF32 rounds the products' inputs to 10-bit mantissas: a relative 5e-4 per product
     * (documented in docs/design.md) */
    const double tol[2] = {1e-4, 5e-3};
    for (int tf32 = 0; tf32 < 2; tf32++) {
        jp_cuda_set_math((jp_cuda *)dev.state, tf32, 0);
        jp_ctx ctx;
        if (jp_ctx_init_device(&ctx, &dev, &err)) {
            tu_check(t, 0, "CUDA context: %s", err.msg);
            break;
        }
        printf("TF32 %s\n", tf32 ? "on" : "off");
        check_convs(t, &sk, &ctx, &r, JP_CONV_CUDNN, tol[tf32]);
        if (!tf32) check_bnacts(t, &sk, &ctx, &r, JP_BNACT_CUDNN);
        jp_ctx_free(&ctx);
    }
    jp_cuda_device_close(&dev);
    if (sk.len) tu_check(t, 0, "not run on this GPU: %s", sk.text);
    return tu_finish(t);
#endif
}

/* A WRN-10-2 with --bf16 1 on nChw<vw>c: its two 3x3 stride-2 layers run onednn-bf16 when
 * expect, none does otherwise; the 3x3 stride-1 layers stay on jempp-winograd. */
static void check_wrn_bf16(tu_ctx *t, int vw, int expect)
{
    jp_wrn_config c;
    jp_error err;
    jp_wrn_config_defaults(&c);
    c.depth = 10, c.width = 2, c.in_channels = 1, c.image_size = 28;
    c.kernels.vector_width = vw, c.kernels.bf16 = 1;
    jp_wrn *m = NULL;
    char sum[400] = "";
    jp_status st = jp_wrn_create(&m, &c, 4, &err);
    if (st == JP_OK) jp_wrn_kernel_summary(m, sum, sizeof sum);
    tu_check(t, st == JP_OK && strstr(sum, "jempp-winograd x4") &&
                    (expect ? strstr(sum, "onednn-bf16 x2") != NULL : strstr(sum, "onednn-bf16") == NULL),
             "--bf16 1 on nChw%dc: %s", vw, st ? err.msg : sum);
    if (m) jp_wrn_free(m);
}

int main(int argc, char **argv)
{
    int cuda = argc > 1 && !strcmp(argv[1], "cuda"), bf16 = argc > 1 && !strcmp(argv[1], "bf16");
    int vw = bf16 ? 16 : argc > 1 ? atoi(argv[1]) : 0;
    if (!cuda && vw != 8 && vw != 16) {
        fprintf(stderr, "usage: test_conformance 8|16|bf16|cuda (the CPU layout's channel block, onednn-bf16 on "
                        "nChw16c, or the GPU)\n");
        return 2;
    }
    char name[40];
    snprintf(name, sizeof name, "test_conformance %s", argv[1]);
    tu_ctx t;
    tu_begin(&t, name);
    if (cuda) return run_cuda(&t);
    skipped sk = {{0}, 0};
    if (!jp_cpu_has_width(vw)) {
        return tu_skip_machine(&t, "nChw%dc: jempp's %s kernels cannot run on this CPU (or build), so neither the layout's "
               "implementations nor their conformance are checked here", vw, jp_cpu_width_isa(vw));
    }
    jp_ctx ctx;
    jp_error err;
    /* nChw16c is the CPU's own layout only where oneDNN runs AVX-512 kernels too (else
     * its primitives fall back to reference loops) */
    if (jp_ctx_init(&ctx, 0, &err) != JP_OK) {
        printf("%s\n", err.msg);
        return 1;
    }
    int native = ctx.act_block;
    jp_ctx_free(&ctx);
    if (vw == 16 && native != 16) {
        return tu_skip_machine(&t, "nChw16c: oneDNN runs no AVX-512 kernels on this CPU (or DNNL_MAX_CPU_ISA limits them)");
    }
    if (jp_ctx_init(&ctx, vw, &err) != JP_OK) {
        printf("%s\n", err.msg);
        return 1;
    }
    jp_rng r;
    jp_rng_seed(&r, 42);
    if (bf16) { /* its own run, so that a CPU without AVX-512 BF16 skips only this one */
        check_convs(&t, &sk, &ctx, &r, JP_CONV_ONEDNN_BF16, 1e-4);
        jp_ctx_free(&ctx);
        if (sk.len) return tu_skip_machine(&t, "not run on this CPU: %s", sk.text);
        check_wrn_bf16(&t, 16, 1);
        return tu_finish(&t);
    }
    /* Winograd's transforms round differently: a looser bound */
    check_convs(&t, &sk, &ctx, &r, JP_CONV_ONEDNN_DIRECT, 1e-4);
    check_convs(&t, &sk, &ctx, &r, JP_CONV_ONEDNN_WINOGRAD, 1e-3);
    check_convs(&t, &sk, &ctx, &r, JP_CONV_JEMPP_WINOGRAD, 1e-3);
    check_convs(&t, &sk, &ctx, &r, JP_CONV_JEMPP_FIRST, 1e-4);
    check_bnacts(&t, &sk, &ctx, &r, JP_BNACT_ONEDNN);
    check_bnacts(&t, &sk, &ctx, &r, JP_BNACT_JEMPP_FUSED);
    {
        /* the automatic choice: jempp's fused kernels where they run */
        jp_bn_shape s = {2, 16, 4, 4, 1e-5f, 0.9f};
        jp_bnact_plan p;
        JP_CHECK(jp_bnact_plan_init(&p, &ctx, &s, 1, 0.2f, JP_BNACT_AUTO, &err) == JP_OK);
        tu_check(&t, p.impl->id == JP_BNACT_JEMPP_FUSED, "bn+lrelu auto on nChw%dc: %s", ctx.act_block,
                 jp_bnact_kernel(&p, 0));
        jp_bnact_plan_free(&p);
        check_bnact_threads(&t, &ctx, &r);
        check_conv_threads(&t, &ctx, &r);
        /* the automatic choice for 3x3 layers (conv_impls.c): jempp-winograd at 640
         * channels (shared blocks), and 7x7 stride-2 tiles on 14x14 -> 7x7 up to 128 channels */
        static const int auto_shapes[2][5] = {{1, 640, 8, 640, 1}, {2, 128, 14, 128, 2}};
        for (int k = 0; k < 2; k++) {
            const int *a = auto_shapes[k];
            jp_conv_shape cs;
            jp_conv_plan cp;
            JP_CHECK(jp_conv_shape_init(&cs, a[0], a[1], a[2], a[2], a[3], 3, 3, a[4], a[4], 1, 1, &err) == JP_OK);
            jp_conv_opts o = {.need_backward = a[4] == 2, .winograd = 1};
            JP_CHECK(jp_conv_plan_init(&cp, &ctx, &cs, &o, &err) == JP_OK);
            const char *kern = jp_conv_kernel(&cp, 0);
            tu_check(&t, cp.impl->id == JP_CONV_JEMPP_WINOGRAD && (a[4] == 1 || strstr(kern, "7x7")),
                     "conv auto on nChw%dc: %d->%d %dx%d s%d runs %s", ctx.act_block, a[1], a[3], a[2], a[2], a[4], kern);
            jp_conv_plan_free(&cp);
        }
        /* a trained first layer (plain source) runs jempp-first; forward-only, onednn-direct */
        for (int bwd = 0; bwd < 2; bwd++) {
            jp_conv_shape cs;
            jp_conv_plan cp;
            JP_CHECK(jp_conv_shape_init(&cs, 2, 3, 32, 32, 16, 3, 3, 1, 1, 1, 1, &err) == JP_OK);
            jp_conv_opts o = {.src_plain = 1, .need_backward = bwd, .winograd = 1};
            JP_CHECK(jp_conv_plan_init(&cp, &ctx, &cs, &o, &err) == JP_OK);
            tu_check(&t, cp.impl->id == (bwd ? JP_CONV_JEMPP_FIRST : JP_CONV_ONEDNN_DIRECT),
                     "conv auto on nChw%dc: plain first layer 3->16 %s runs %s", ctx.act_block,
                     bwd ? "trained" : "forward-only", jp_conv_impl_word(cp.impl->id));
            jp_conv_plan_free(&cp);
        }
    }
    jp_ctx_free(&ctx);

    /* every primitive of the WRNs jempp trains runs a JIT kernel; the 3x3 stride-1
     * layers run jempp's Winograd by default */
    static const struct {
        int ch, size;
        jp_norm norm;
    } nets[3] = {{1, 28, JP_NORM_BATCH}, {3, 32, JP_NORM_BATCH}, {1, 28, JP_NORM_NONE}};
    for (int i = 0; i < 3; i++) {
        jp_wrn_config c;
        jp_wrn_config_defaults(&c);
        c.depth = 10, c.width = 2, c.in_channels = nets[i].ch, c.image_size = nets[i].size, c.norm = nets[i].norm;
        c.kernels.vector_width = vw;
        jp_wrn *m = NULL;
        if (jp_wrn_create(&m, &c, 16, &err) != JP_OK) {
            tu_check(&t, 0, "WRN-10-2 %dx%dx%d: %s", nets[i].ch, nets[i].size, nets[i].size, err.msg);
            continue;
        }
        char slow[600], sum[400];
        int n = jp_wrn_reference_kernels(m, slow, sizeof slow);
        jp_wrn_kernel_summary(m, sum, sizeof sum);
        tu_check(&t, n == 0, "WRN-10-2 on %dx%dx%d (%s), batch 16, nChw%dc: %d primitives on reference kernels%s%s",
                 nets[i].ch, nets[i].size, nets[i].size, nets[i].norm == JP_NORM_BATCH ? "BN" : "no norm", vw, n,
                 n ? ": " : "", slow);
        tu_check(&t, strstr(sum, "jempp-winograd x") != NULL, "WRN-10-2 kernels: %s", sum);
        jp_wrn_free(m);
    }
    {
        /* an implementation asked for by name that runs no layer is an error, not a silent
         * fallback: oneDNN's Winograd has no nChw8c kernels */
        jp_wrn_config c;
        jp_wrn_config_defaults(&c);
        c.depth = 10, c.width = 2, c.in_channels = 1, c.image_size = 28;
        c.kernels.vector_width = vw, c.kernels.conv = JP_CONV_ONEDNN_WINOGRAD;
        jp_wrn *m = NULL;
        jp_status st = jp_wrn_create(&m, &c, 4, &err);
        if (vw == 8)
            tu_check(&t, st == JP_ERR_ARG && strstr(err.msg, "onednn-winograd"),
                     "--conv_impl onednn-winograd on nChw8c: refused (%s)", st ? err.msg : "accepted");
        else {
            char sum[400] = "";
            if (st == JP_OK) jp_wrn_kernel_summary(m, sum, sizeof sum);
            tu_check(&t, st == JP_OK && strstr(sum, "onednn-winograd x") && !strstr(sum, "jempp-winograd"),
                     "--conv_impl onednn-winograd on nChw16c: %s", st ? err.msg : sum);
        }
        if (m) jp_wrn_free(m);
    }
    if (vw == 8) check_wrn_bf16(&t, 8, 0);
    if (sk.len) return tu_skip_machine(&t, "not run on this CPU: %s", sk.text);
    return tu_finish(&t);
}
