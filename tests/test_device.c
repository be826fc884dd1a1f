/* Every operation of a compute device (src/ops/device.h) against its definition, on
 * random data: memory (fresh memory is zero, round trips, copies), the element-wise
 * operations, global average pooling on plain and 8- and 16-channel-block layouts
 * (odd channel counts, 7x7 and 8x8 maps) against the reference kernel, the matrix
 * product in its four transpose cases against a double-precision sum, the bias
 * forward and backward, dropout (values, rate, reproducibility), log-sum-exp and
 * cross-entropy against double-precision formulas, batch norm's running statistics,
 * the normals (moments,
 * reproducibility), the PYLD and SGLD steps against their float formulas, and three
 * SGD and Adam steps against jp_sgd_update / jp_adam_update.
 *
 * Argument: the device, "cpu" (always here) or "cuda" (device 0: SKIPPED, with the
 * reason, in a build without the CUDA backend or on a machine without a GPU). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "jempp/ops.h"
#include "jempp/optim.h"
#include "ops/device.h"
#include "ops/ref.h"
#include "testutil.h"
#ifdef JEMPP_HAVE_CUDA
#include "cuda/cuda_backend.h"
#endif

enum { N = 4099, ROWS = 37, K = 10 };

typedef struct {
    tu_ctx *t;
    const jp_device *d;
} tdev;

/* A device array holding n floats of host (zeros when host is NULL). */
static void *up(tdev *v, const void *host, size_t bytes)
{
    void *p = jp_dev_alloc(v->d, bytes);
    tu_check(v->t, p != NULL, "device array of %zu bytes", bytes);
    if (p && host) jp_dev_upload(v->d, p, host, bytes);
    return p;
}

static void down(tdev *v, void *host, const void *p, size_t bytes)
{
    jp_error err;
    if (v->d->ops->sync(v->d->state, &err)) tu_check(v->t, 0, "sync: %s", err.msg);
    jp_dev_download(v->d, host, p, bytes);
}

static float *fa(size_t n) { return calloc(n, sizeof(float)); }

static void check_memory(tdev *v, jp_rng *r)
{
    float *x = fa(N), *y = fa(N);
    jp_rng_fill_uniform(r, x, N, -1, 1);
    float *a = up(v, NULL, N * sizeof(float)), *b = up(v, NULL, N * sizeof(float));
    down(v, y, a, N * sizeof(float));
    size_t nz = 0;
    for (size_t i = 0; i < N; i++) nz += y[i] != 0.0f;
    tu_check(v->t, nz == 0, "fresh memory is zero (%zu of %d not)", nz, N);
    jp_dev_upload(v->d, a, x, N * sizeof(float));
    jp_dev_copy(v->d, b, a, N * sizeof(float));
    jp_dev_zero(v->d, a, 100 * sizeof(float));
    down(v, y, b, N * sizeof(float));
    tu_check(v->t, memcmp(x, y, N * sizeof(float)) == 0, "upload, copy, download: the same bits");
    down(v, y, a, N * sizeof(float));
    nz = 0;
    for (size_t i = 0; i < 100; i++) nz += y[i] != 0.0f;
    tu_check(v->t, nz == 0 && memcmp(x + 100, y + 100, (N - 100) * sizeof(float)) == 0,
             "zero: the first 100 floats only");
    /* page-locked host memory and the upload that may return before its copy */
    float *h = v->d->ops->host_alloc(v->d->state, N * sizeof(float));
    nz = 0;
    for (size_t i = 0; h && i < N; i++) nz += h[i] != 0.0f;
    tu_check(v->t, h && nz == 0, "host_alloc: zeroed host memory");
    if (h) {
        memcpy(h, x, N * sizeof(float));
        v->d->ops->upload_async(v->d->state, b, h, N * sizeof(float));
        down(v, y, b, N * sizeof(float));
        tu_check(v->t, memcmp(x, y, N * sizeof(float)) == 0, "upload_async, then download: the same bits");
        v->d->ops->host_release(v->d->state, h);
    }
    jp_dev_release(v->d, a);
    jp_dev_release(v->d, b);
    free(x), free(y);
}

static void check_elementwise(tdev *v, jp_rng *r)
{
    const jp_device_ops *o = v->d->ops;
    void *s = v->d->state;
    float *x = fa(N), *y = fa(N), *ref = fa(N), *got = fa(N);
    jp_rng_fill_uniform(r, x, N, -2, 2);
    jp_rng_fill_uniform(r, y, N, -2, 2);
    float *dx = up(v, x, N * sizeof(float)), *dy = up(v, y, N * sizeof(float));
    o->add(s, dy, dx, N);
    o->scale(s, dy, 0.3f, N);
    down(v, got, dy, N * sizeof(float));
    for (size_t i = 0; i < N; i++) ref[i] = (y[i] + x[i]) * 0.3f;
    tu_close(v->t, "add, scale", got, ref, N, 0, 0);
    o->fill(s, dy, -1.5f, N);
    down(v, got, dy, N * sizeof(float));
    for (size_t i = 0; i < N; i++) ref[i] = -1.5f;
    tu_close(v->t, "fill", got, ref, N, 0, 0);
    tu_check(v->t, o->all_finite(s, dx, N) == 1, "all_finite: finite values");
    float bad[2] = {NAN, INFINITY};
    for (int k = 0; k < 2; k++) {
        jp_dev_upload(v->d, dx + (k ? N / 2 : N - 1), &bad[k], sizeof(float));
        tu_check(v->t, o->all_finite(s, dx, N) == 0, "all_finite: %s at %d", k ? "inf" : "NaN", k ? N / 2 : N - 1);
        jp_dev_upload(v->d, dx, x, N * sizeof(float));
    }
    /* one-hot ones */
    int lab[ROWS];
    for (int i = 0; i < ROWS; i++) lab[i] = (int)jp_rng_below(r, K);
    int *dlab = up(v, lab, sizeof lab);
    o->fill(s, dy, 0.0f, ROWS * K);
    o->set_at_labels(s, dy, dlab, ROWS, K, 2.0f);
    down(v, got, dy, ROWS * K * sizeof(float));
    for (int i = 0; i < ROWS * K; i++) ref[i] = 0.0f;
    for (int i = 0; i < ROWS; i++) ref[i * K + lab[i]] = 2.0f;
    tu_close(v->t, "set_at_labels", got, ref, ROWS * K, 0, 0);
    /* rows of the replay buffer: N / RD rows of RD floats; slots drawn with repeats, and
     * slot 3 named by rows 1 and ROWS - 1 (the later row's values win the scatter) */
    enum { RD = 99 };
    int slots[ROWS], nrows = N / RD;
    for (int i = 0; i < ROWS; i++) slots[i] = (int)jp_rng_below(r, (uint64_t)nrows / 4);
    slots[1] = slots[ROWS - 1] = 3;
    int *dslots = up(v, slots, sizeof slots);
    o->fill(s, dy, 7.0f, (size_t)ROWS * RD);
    o->gather_rows(s, dy, dx, dslots, ROWS, RD);
    down(v, got, dy, (size_t)ROWS * RD * sizeof(float));
    for (int i = 0; i < ROWS; i++) memcpy(ref + (size_t)i * RD, x + (size_t)slots[i] * RD, RD * sizeof(float));
    tu_close(v->t, "gather_rows", got, ref, ROWS * RD, 0, 0);
    jp_dev_upload(v->d, dy, y, N * sizeof(float));
    o->scatter_rows(s, dy, dx, dslots, ROWS, RD);
    down(v, got, dy, N * sizeof(float));
    memcpy(ref, y, N * sizeof(float));
    for (int i = 0; i < ROWS; i++) memcpy(ref + (size_t)slots[i] * RD, x + (size_t)i * RD, RD * sizeof(float));
    tu_close(v->t, "scatter_rows (a slot named twice: the later row)", got, ref, N, 0, 0);
    jp_dev_release(v->d, dslots);
    jp_dev_release(v->d, dx), jp_dev_release(v->d, dy), jp_dev_release(v->d, dlab);
    free(x), free(y), free(ref), free(got);
}

/* Plain (n, c, hw) <-> channel blocks of B (channels padded to B with pad). */
static void to_blocks(float *dst, const float *src, int n, int c, int hw, int B, float pad)
{
    int cb = (c + B - 1) / B;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < cb * B; j++)
            for (int p = 0; p < hw; p++)
                dst[(((size_t)i * cb + j / B) * hw + p) * B + j % B] = j < c ? src[((size_t)i * c + j) * hw + p] : pad;
}

static void from_blocks(float *dst, const float *src, int n, int c, int hw, int B)
{
    int cb = (c + B - 1) / B;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < c; j++)
            for (int p = 0; p < hw; p++)
                dst[((size_t)i * c + j) * hw + p] = src[(((size_t)i * cb + j / B) * hw + p) * B + j % B];
}

static void check_pool(tdev *v, jp_rng *r)
{
    const int blocks[3] = {1, 8, 16}, chans[3] = {10, 64, 3}, hws[2] = {49, 64};
    const int n = 3;
    for (int bi = 0; bi < 3; bi++)
        for (int ci = 0; ci < 3; ci++)
            for (int hi = 0; hi < 2; hi++) {
                int B = blocks[bi], c = chans[ci], hw = hws[hi], cp = (c + B - 1) / B * B;
                size_t plain = (size_t)n * c * hw, blk = (size_t)n * cp * hw;
                float *x = fa(plain), *xb = fa(blk), *out = fa((size_t)n * c), *ref = fa((size_t)n * c);
                float *dinb = fa(blk), *din = fa(plain), *dref = fa(plain);
                jp_rng_fill_uniform(r, x, plain, -1, 1);
                to_blocks(xb, x, n, c, hw, B, 1e30f); /* padding must not be read */
                float *dxb = up(v, xb, blk * sizeof(float)), *dout = up(v, NULL, (size_t)n * c * sizeof(float));
                v->d->ops->pool_forward(v->d->state, dout, dxb, n, c, hw, B);
                down(v, out, dout, (size_t)n * c * sizeof(float));
                jp_ref_global_avgpool_forward(ref, x, n, c, 1, hw);
                char what[96];
                snprintf(what, sizeof what, "pool forward, block %d, c %d, %d positions", B, c, hw);
                tu_close(v->t, what, out, ref, (size_t)n * c, 1e-7, 1e-6);
                /* backward from the pooled values as gradient */
                v->d->ops->pool_backward(v->d->state, dxb, dout, n, c, hw, B);
                down(v, dinb, dxb, blk * sizeof(float));
                from_blocks(din, dinb, n, c, hw, B);
                jp_ref_global_avgpool_backward(dref, out, n, c, 1, hw);
                snprintf(what, sizeof what, "pool backward, block %d, c %d, %d positions", B, c, hw);
                tu_close(v->t, what, din, dref, plain, 1e-9, 1e-6);
                jp_dev_release(v->d, dxb), jp_dev_release(v->d, dout);
                free(x), free(xb), free(out), free(ref), free(dinb), free(din), free(dref);
            }
}

static void check_gemm(tdev *v, jp_rng *r)
{
    const int m = 7, n = 13, k = 29, pad = 3;
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++)
            for (int bi = 0; bi < 2; bi++) {
                float alpha = 0.7f, beta = bi ? 1.3f : 0.0f;
                int lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad;
                size_t asz = (size_t)(ta ? k : m) * lda, bsz = (size_t)(tb ? n : k) * ldb, csz = (size_t)m * ldc;
                float *a = fa(asz), *b = fa(bsz), *c = fa(csz), *ref = fa(csz);
                jp_rng_fill_uniform(r, a, asz, -1, 1);
                jp_rng_fill_uniform(r, b, bsz, -1, 1);
                jp_rng_fill_uniform(r, c, csz, -1, 1);
                for (int i = 0; i < m; i++)
                    for (int j = 0; j < ldc; j++) {
                        size_t at = (size_t)i * ldc + j;
                        if (j >= n) { ref[at] = c[at]; continue; } /* past the row: untouched */
                        double acc = 0;
                        for (int q = 0; q < k; q++)
                            acc += (double)(ta ? a[(size_t)q * lda + i] : a[(size_t)i * lda + q]) *
                                   (tb ? b[(size_t)j * ldb + q] : b[(size_t)q * ldb + j]);
                        ref[at] = (float)(alpha * acc + (bi ? (double)beta * c[at] : 0.0));
                    }
                float *da = up(v, a, asz * 4), *db = up(v, b, bsz * 4), *dc = up(v, c, csz * 4);
                v->d->ops->gemm(v->d->state, ta, tb, m, n, k, alpha, da, lda, db, ldb, beta, dc, ldc);
                down(v, c, dc, csz * 4);
                char what[64];
                snprintf(what, sizeof what, "gemm ta %d tb %d beta %g", ta, tb, (double)beta);
                tu_close(v->t, what, c, ref, csz, 2e-6, 1e-5);
                jp_dev_release(v->d, da), jp_dev_release(v->d, db), jp_dev_release(v->d, dc);
                free(a), free(b), free(c), free(ref);
            }
}

/* The informative init's pieces: out = z L^T (L lower triangular; the zeros above its
 * diagonal hold garbage here, which must not be read) and the clamp. */
static void check_trmm_clamp(tdev *v, jp_rng *r)
{
    const int rows = 9, d = 37;
    float *L = fa((size_t)d * d), *z = fa((size_t)rows * d), *got = fa((size_t)rows * d), *ref = fa((size_t)rows * d);
    jp_rng_fill_uniform(r, L, (size_t)d * d, -1, 1); /* the upper part: garbage never read */
    jp_rng_fill_uniform(r, z, (size_t)rows * d, -2, 2);
    for (int i = 0; i < rows; i++)
        for (int a = 0; a < d; a++) {
            double acc = 0;
            for (int b = 0; b <= a; b++) acc += (double)L[(size_t)a * d + b] * z[(size_t)i * d + b];
            ref[(size_t)i * d + a] = (float)acc;
        }
    float *dL = up(v, L, (size_t)d * d * 4), *dz = up(v, z, (size_t)rows * d * 4);
    float *dout = jp_dev_alloc(v->d, (size_t)rows * d * 4);
    v->d->ops->trmm_lower_t(v->d->state, dout, dz, dL, rows, d);
    down(v, got, dout, (size_t)rows * d * 4);
    tu_close(v->t, "trmm_lower_t: z L^T, the upper triangle ignored", got, ref, (size_t)rows * d, 2e-6, 1e-5);
    down(v, got, dz, (size_t)rows * d * 4);
    tu_check(v->t, memcmp(got, z, (size_t)rows * d * 4) == 0, "trmm_lower_t: z untouched");
    v->d->ops->clamp(v->d->state, dz, -1.0f, 1.0f, (size_t)rows * d);
    down(v, got, dz, (size_t)rows * d * 4);
    for (size_t i = 0; i < (size_t)rows * d; i++) ref[i] = z[i] < -1.0f ? -1.0f : z[i] > 1.0f ? 1.0f : z[i];
    tu_close(v->t, "clamp to [-1, 1]", got, ref, (size_t)rows * d, 0, 0);
    jp_dev_release(v->d, dL), jp_dev_release(v->d, dz), jp_dev_release(v->d, dout);
    free(L), free(z), free(got), free(ref);
}

static void check_bias_dropout(tdev *v, jp_rng *r)
{
    const jp_device_ops *o = v->d->ops;
    void *s = v->d->state;
    float y[ROWS * K], bias[K], db[K], got[ROWS * K], ref[ROWS * K], dbref[K];
    jp_rng_fill_uniform(r, y, ROWS * K, -1, 1);
    jp_rng_fill_uniform(r, bias, K, -1, 1);
    jp_rng_fill_uniform(r, db, K, -1, 1);
    float *dy = up(v, y, sizeof y), *dbias = up(v, bias, sizeof bias), *ddb = up(v, db, sizeof db);
    o->bias_forward(s, dy, dbias, ROWS, K);
    down(v, got, dy, sizeof got);
    for (int i = 0; i < ROWS * K; i++) ref[i] = y[i] + bias[i % K];
    tu_close(v->t, "bias forward", got, ref, ROWS * K, 0, 0);
    o->bias_backward(s, ddb, dy, ROWS, K);
    down(v, got, ddb, sizeof db);
    for (int j = 0; j < K; j++) {
        double acc = db[j];
        for (int i = 0; i < ROWS; i++) acc += ref[i * K + j];
        dbref[j] = (float)acc;
    }
    tu_close(v->t, "bias backward (column sums)", got, dbref, K, 1e-6, 1e-6);
    jp_dev_release(v->d, dy), jp_dev_release(v->d, dbias), jp_dev_release(v->d, ddb);

    /* dropout */
    const size_t n = 40000;
    const float p = 0.3f, keep = (float)(1.0 / (1.0 - (double)p));
    float *x = fa(n), *out = fa(n), *mask = fa(n), *out2 = fa(n), *din = fa(n);
    jp_rng_fill_uniform(r, x, n, -1, 1);
    float *dx = up(v, x, n * 4), *dout = up(v, NULL, n * 4), *dmask = up(v, NULL, n * 4);
    jp_rng r0 = *r, r1 = *r;
    o->dropout_forward(s, dout, dmask, dx, n, p, &r0);
    down(v, out, dout, n * 4);
    down(v, mask, dmask, n * 4);
    size_t zeros = 0, bad = 0, wrong = 0;
    for (size_t i = 0; i < n; i++) {
        zeros += mask[i] == 0.0f;
        bad += mask[i] != 0.0f && mask[i] != keep;
        wrong += out[i] != x[i] * mask[i];
    }
    double rate = (double)zeros / n, se = sqrt(p * (1 - p) / n);
    tu_check(v->t, bad == 0 && wrong == 0, "dropout: mask values 0 or 1/(1-p) (%zu not), out = in * mask (%zu not)", bad,
             wrong);
    tu_check(v->t, fabs(rate - p) < 4 * se, "dropout: %.4f dropped (p %.2f, 4 standard errors %.4f)", rate, (double)p,
             4 * se);
    o->dropout_forward(s, dout, dmask, dx, n, p, &r1);
    down(v, out2, dout, n * 4);
    tu_check(v->t, memcmp(out, out2, n * 4) == 0, "dropout: the same generator state, the same mask");
    tu_check(v->t, memcmp(&r0, r, sizeof r0) != 0, "dropout: draws from the generator");
    o->dropout_backward(s, dx, dx, dmask, n);
    down(v, din, dx, n * 4);
    wrong = 0;
    for (size_t i = 0; i < n; i++) wrong += din[i] != x[i] * mask[i];
    tu_check(v->t, wrong == 0, "dropout backward: dout * mask (%zu not)", wrong);
    *r = r0;
    jp_dev_release(v->d, dx), jp_dev_release(v->d, dout), jp_dev_release(v->d, dmask);
    free(x), free(out), free(mask), free(out2), free(din);
}

static void check_losses(tdev *v, jp_rng *r)
{
    const jp_device_ops *o = v->d->ops;
    void *s = v->d->state;
    float logits[ROWS * K], w[ROWS], lse[ROWS], lse_ref[ROWS], d[ROWS * K], dref[ROWS * K];
    int lab[ROWS];
    jp_rng_fill_uniform(r, logits, ROWS * K, -8, 8);
    logits[3] = 80.0f; /* a large logit: the maximum is subtracted */
    jp_rng_fill_uniform(r, w, ROWS, -1, 1);
    for (int i = 0; i < ROWS; i++) lab[i] = (int)jp_rng_below(r, K);
    double ce_ref = 0;
    for (int i = 0; i < ROWS; i++) {
        const float *x = logits + i * K;
        double mx = x[0], sum = 0;
        for (int k = 1; k < K; k++) mx = fmax(mx, x[k]);
        for (int k = 0; k < K; k++) sum += exp(x[k] - mx);
        double l = mx + log(sum);
        lse_ref[i] = (float)l;
        ce_ref += l - x[lab[i]];
        for (int k = 0; k < K; k++) {
            double p = exp(x[k] - l);
            dref[i * K + k] = (float)(w[i] * p);
        }
    }
    ce_ref /= ROWS;
    float *dl = up(v, logits, sizeof logits), *dw = up(v, w, sizeof w), *dlse = up(v, NULL, sizeof lse);
    float *dd = up(v, NULL, sizeof d);
    int *dlab = up(v, lab, sizeof lab);
    o->logsumexp_forward(s, dlse, dl, ROWS, K);
    down(v, lse, dlse, sizeof lse);
    tu_close(v->t, "log-sum-exp", lse, lse_ref, ROWS, 1e-6, 1e-6);
    o->logsumexp_backward(s, dd, dw, dl, ROWS, K);
    down(v, d, dd, sizeof d);
    tu_close(v->t, "log-sum-exp backward", d, dref, ROWS * K, 1e-7, 1e-6);
    double ce = o->cross_entropy_forward(s, dl, dlab, ROWS, K);
    tu_check(v->t, fabs(ce - ce_ref) <= 1e-6 * (1 + fabs(ce_ref)), "cross-entropy %.9f, double %.9f", ce, ce_ref);
    o->cross_entropy_backward(s, dd, 0.7f, dl, dlab, ROWS, K);
    down(v, d, dd, sizeof d);
    for (int i = 0; i < ROWS; i++)
        for (int k = 0; k < K; k++) {
            double p = exp(logits[i * K + k] - (double)lse_ref[i]) - (k == lab[i]);
            dref[i * K + k] = (float)(0.7 * p / ROWS);
        }
    tu_close(v->t, "cross-entropy backward", d, dref, ROWS * K, 1e-7, 1e-5);
    jp_dev_release(v->d, dl), jp_dev_release(v->d, dw), jp_dev_release(v->d, dlse), jp_dev_release(v->d, dd);
    jp_dev_release(v->d, dlab);
}

static void check_bn_running(tdev *v, jp_rng *r)
{
    enum { C = 37 };
    float rm[C], rv[C], mean[C], var[C], got[2 * C], ref[2 * C];
    jp_rng_fill_uniform(r, rm, C, -1, 1);
    jp_rng_fill_uniform(r, rv, C, 0, 2);
    jp_rng_fill_uniform(r, mean, C, -1, 1);
    jp_rng_fill_uniform(r, var, C, 0, 2);
    float *d = up(v, NULL, 4 * C * sizeof(float));
    jp_dev_upload(v->d, d, rm, sizeof rm);
    jp_dev_upload(v->d, d + C, rv, sizeof rv);
    jp_dev_upload(v->d, d + 2 * C, mean, sizeof mean);
    jp_dev_upload(v->d, d + 3 * C, var, sizeof var);
    v->d->ops->bn_running_update(v->d->state, d, d + C, d + 2 * C, d + 3 * C, C, 0.1f, 1.25f);
    down(v, got, d, sizeof got);
    for (int j = 0; j < C; j++) {
        ref[j] = (1 - 0.1f) * rm[j] + 0.1f * mean[j];
        ref[C + j] = (1 - 0.1f) * rv[j] + 0.1f * var[j] * 1.25f;
    }
    tu_close(v->t, "batch norm running statistics", got, ref, 2 * C, 0, 0);
    jp_dev_release(v->d, d);
}

static inline float clampf(float x, float lo, float hi) { return x < lo ? lo : x > hi ? hi : x; }

static void check_sampler_steps(tdev *v, jp_rng *r)
{
    const jp_device_ops *o = v->d->ops;
    void *s = v->d->state;
    float *x = fa(N), *g = fa(N), *nz = fa(N), *got = fa(N), *ref = fa(N), *again = fa(N);
    jp_rng_fill_uniform(r, x, N, -1.2f, 1.2f);
    jp_rng_fill_uniform(r, g, N, -3, 3);
    float *dx = up(v, x, N * 4), *dg = up(v, g, N * 4), *dn = up(v, NULL, N * 4);
    /* normals */
    jp_rng r0 = *r;
    o->normal(s, dn, N, 0.5f, 2.0f, r);
    down(v, nz, dn, N * 4);
    double sum = 0, sq = 0;
    for (size_t i = 0; i < N; i++) sum += nz[i], sq += (double)nz[i] * nz[i];
    double mean = sum / N, sd = sqrt(sq / N - mean * mean);
    tu_check(v->t, fabs(mean - 0.5) < 4 * 2 / sqrt((double)N) && fabs(sd - 2) < 4 * 2 / sqrt(2.0 * N),
             "normals: mean %.4f (0.5), std %.4f (2)", mean, sd);
    o->normal(s, dn, N, 0.5f, 2.0f, &r0);
    down(v, again, dn, N * 4);
    tu_check(v->t, memcmp(nz, again, N * 4) == 0, "normals: the same generator state, the same numbers");
    o->normal(s, dn, N, 0.5f, 2.0f, r);
    down(v, again, dn, N * 4);
    size_t same = 0;
    for (size_t i = 0; i < N; i++) same += nz[i] == again[i];
    tu_check(v->t, same < 10, "normals: the generator moved on (%zu of %d equal)", same, N);
    jp_dev_upload(v->d, dn, nz, N * 4);
    /* PYLD */
    o->pyld_step(s, dx, dg, N, 0.2f, 1.0f);
    down(v, got, dx, N * 4);
    for (size_t i = 0; i < N; i++) ref[i] = clampf(x[i] + 0.2f * clampf(g[i], -1.0f, 1.0f), -1.0f, 1.0f);
    tu_close(v->t, "PYLD step", got, ref, N, 1e-7, 0);
    /* SGLD and proximal SGLD, with and without noise and clamp */
    for (int prox = 0; prox < 2; prox++)
        for (int clamp = 0; clamp < 2; clamp++)
            for (int noise = 0; noise < 2; noise++) {
                jp_dev_upload(v->d, dx, x, N * 4);
                o->sgld_step(s, dx, dg, noise ? dn : NULL, N, 0.7f, 0.5f, prox, clamp);
                down(v, got, dx, N * 4);
                for (size_t i = 0; i < N; i++) {
                    float step = prox ? 0.5f * 0.7f * clampf(g[i], -0.5f, 0.5f) : 0.7f * g[i];
                    float val = x[i] + step + (noise ? nz[i] : 0.0f);
                    ref[i] = clamp ? clampf(val, -1.0f, 1.0f) : val;
                }
                char what[64];
                snprintf(what, sizeof what, "SGLD step, prox %d clamp %d noise %d", prox, clamp, noise);
                tu_close(v->t, what, got, ref, N, 1e-6, 1e-6);
            }
    jp_dev_release(v->d, dx), jp_dev_release(v->d, dg), jp_dev_release(v->d, dn);
    free(x), free(g), free(nz), free(got), free(ref), free(again);
}

static void check_optimisers(tdev *v, jp_rng *r)
{
    float *g = fa(N), *got = fa(N);
    jp_rng_fill_uniform(r, g, N, -3, 3);
    float *dg = up(v, g, N * 4);
    for (int kind = 0; kind < 2; kind++) {
        jp_optim_config oc;
        if (kind == 0) jp_optim_config_sgd(&oc);
        else jp_optim_config_adam(&oc);
        oc.weight_decay = 4e-4;
        float *p = fa(N), *m = fa(N), *w = fa(N);
        jp_rng_fill_uniform(r, p, N, -1, 1);
        float *dp = up(v, p, N * 4), *dm = up(v, NULL, N * 4), *dw = up(v, NULL, N * 4);
        for (int step = 1; step <= 3; step++) {
            double lr = 0.05 * step;
            if (kind == 0) {
                v->d->ops->sgd_update(v->d->state, &oc, dp, dg, dm, N, step == 1, lr);
                jp_sgd_update(&oc, p, g, m, N, step == 1, lr);
            } else {
                v->d->ops->adam_update(v->d->state, &oc, dp, dg, dm, dw, NULL, N, step, lr);
                jp_adam_update(&oc, p, g, m, w, NULL, N, step, lr);
            }
        }
        down(v, got, dp, N * 4);
        tu_close(v->t, kind ? "Adam, 3 steps: parameters" : "SGD, 3 steps: parameters", got, p, N, 1e-7, 1e-6);
        down(v, got, dm, N * 4);
        tu_close(v->t, kind ? "Adam: exp_avg" : "SGD: momentum buffer", got, m, N, 1e-7, 1e-6);
        jp_dev_release(v->d, dp), jp_dev_release(v->d, dm), jp_dev_release(v->d, dw);
        free(p), free(m), free(w);
    }
    jp_dev_release(v->d, dg);
    free(g), free(got);
}

int main(int argc, char **argv)
{
    tu_ctx t;
    const char *name = argc > 1 ? argv[1] : "cpu";
    char title[64];
    snprintf(title, sizeof title, "test_device %s", name);
    tu_begin(&t, title);
    const jp_device *d = NULL;
#ifdef JEMPP_HAVE_CUDA
    jp_device cuda = {0, 0, 0, 0};
#endif
    if (!strcmp(name, "cpu")) {
        d = jp_device_cpu();
    } else if (!strcmp(name, "cuda")) {
#ifdef JEMPP_HAVE_CUDA
        char why[200];
        if (jp_cuda_device_count(why, sizeof why) == 0) return tu_skip_machine(&t, "%s", why);
        jp_error err;
        if (jp_cuda_device_open(&cuda, 0, &err)) {
            tu_check(&t, 0, "the CUDA device: %s", err.msg);
            return tu_finish(&t);
        }
        printf("device: %s\n", jp_cuda_describe(cuda.state));
        d = &cuda;
#else
        return tu_skip_machine(&t, "this build has no CUDA backend (nvcc and cuDNN were not found at configure time)");
#endif
    } else {
        fprintf(stderr, "test_device: unknown device %s (cpu or cuda)\n", name);
        return 2;
    }
    tdev v = {&t, d};
    jp_rng r;
    jp_rng_seed(&r, 11);
    check_memory(&v, &r);
    check_elementwise(&v, &r);
    check_pool(&v, &r);
    check_gemm(&v, &r);
    check_trmm_clamp(&v, &r);
    check_bias_dropout(&v, &r);
    check_losses(&v, &r);
    check_bn_running(&v, &r);
    check_sampler_steps(&v, &r);
    check_optimisers(&v, &r);
#ifdef JEMPP_HAVE_CUDA
    if (d == &cuda) jp_cuda_device_close(&cuda);
#endif
    return tu_finish(&t);
}
