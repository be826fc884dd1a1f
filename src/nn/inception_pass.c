/* The FID Inception-v3 forward pass: resize to 299x299, stem, mixed blocks, pool3
 * features, and the softmax of the logits layer. */
#include "nn/inception_internal.h"

#include <math.h>
#include <string.h>


/* Aborts when a write of `bytes` at dst would not fit the activation buffer it starts in
 * (a sizing bug in build(); cheap enough to check on every layer). */
static void check_fits(const jp_inception *m, const float *dst, size_t bytes)
{
    for (int i = 0; i < 6; i++) {
        const float *buf = i < 2 ? m->big[i] : m->tmp[i - 2];
        size_t cap = i < 2 ? m->big_bytes[i] : m->tmp_bytes[i - 2];
        if (dst == buf) {
            JP_CHECK(bytes <= cap);
            return;
        }
    }
    JP_CHECK(!"destination is an activation buffer");
}

static void conv(const jp_inception *m, int idx, float *dst, const float *src)
{
    const jp_inc_conv *c = &m->convs[idx];
    check_fits(m, dst, jp_act_bytes(&m->ctx, m->batch, c->cout_p, c->oh, c->ow));
    jp_conv_forward(c->plan, dst, src, c->wfwd, c->bias);
}

static void pool(const jp_inception *m, float *dst, const float *src, jp_pool_kind kind, int c, int h, int w)
{
    int oh = kind == JP_POOL_MAX3_S2 ? (h - 3) / 2 + 1 : h, ow = kind == JP_POOL_MAX3_S2 ? (w - 3) / 2 + 1 : w;
    check_fits(m, dst, jp_act_bytes(&m->ctx, m->batch, c, oh, ow));
    jp_inc_pool(dst, src, kind, m->batch, c, h, w, m->ctx.act_block);
}

/* One mixed block: x -> out (both blocked). */
static void block_forward(jp_inception *m, const jp_inc_block *blk, float *out, const float *x)
{
    int N = m->batch, B = m->ctx.act_block, off = 0;
    check_fits(m, out, jp_act_bytes(&m->ctx, N, blk->cout, blk->oh, blk->ow));
    for (int i = 0; i < blk->n_branch; i++) {
        const jp_inc_branch *br = &blk->br[i];
        const float *cur = x;
        int c = blk->cin;
        if (br->pool) {
            pool(m, m->tmp[0], x, br->pool, blk->cin, blk->h, blk->w);
            cur = m->tmp[0];
        }
        for (int j = 0; j < br->n_chain; j++) {
            float *dst = cur == m->tmp[1] ? m->tmp[2] : m->tmp[1];
            conv(m, br->chain[j], dst, cur);
            cur = dst;
            c = m->convs[br->chain[j]].cout;
        }
        if (!br->n_tails) {
            jp_inc_concat(out, blk->cout, off, cur, c, N, blk->oh, blk->ow, B);
            off += c;
        }
        for (int j = 0; j < br->n_tails; j++) {
            int ct = m->convs[br->tails[j]].cout;
            conv(m, br->tails[j], m->tmp[3], cur);
            jp_inc_concat(out, blk->cout, off, m->tmp[3], ct, N, blk->oh, blk->ow, B);
            off += ct;
        }
    }
    JP_CHECK(off == blk->cout);
}

/* x (n, c, h, w) -> m->x299 (n, 3, 299, 299), gray repeated over the 3 channels */
static void resize_input(jp_inception *m, const float *x, int n, int c, int h, int w)
{
    size_t P = (size_t)JP_INC_SIZE * JP_INC_SIZE;
    if (c == 3) {
        if (h == JP_INC_SIZE && w == JP_INC_SIZE) memcpy(m->x299, x, (size_t)n * 3 * P * sizeof(float));
        else jp_inc_resize(m->x299, x, n, 3, h, w, JP_INC_SIZE, JP_INC_SIZE, m->resize_idx, m->resize_lam);
        return;
    }
    for (int i = 0; i < n; i++) {
        float *d = m->x299 + (size_t)i * 3 * P;
        jp_inc_resize(d, x + (size_t)i * h * w, 1, 1, h, w, JP_INC_SIZE, JP_INC_SIZE, m->resize_idx, m->resize_lam);
        memcpy(d + P, d, P * sizeof(float));
        memcpy(d + 2 * P, d, P * sizeof(float));
    }
}

static void softmax_rows(float *p, const float *z, int n, int k)
{
    for (int i = 0; i < n; i++) {
        const float *zi = z + (size_t)i * k;
        float *pi = p + (size_t)i * k;
        double mx = zi[0], sum = 0;
        for (int j = 1; j < k; j++)
            if (zi[j] > mx) mx = zi[j];
        for (int j = 0; j < k; j++) sum += exp((double)zi[j] - mx);
        for (int j = 0; j < k; j++) pi[j] = (float)(exp((double)zi[j] - mx) / sum);
    }
}

jp_status jp_inception_features(jp_inception *m, float *feats, const float *x, int n, int c, int h, int w,
                                jp_error *err)
{
    if (n < 1 || n > m->batch)
        return jp_fail(err, JP_ERR_ARG, "Inception: %d images for a network loaded for batches of %d", n, m->batch);
    if (c != 1 && c != 3)
        return jp_fail(err, JP_ERR_SHAPE, "Inception: images with %d channels (1 or 3 expected)", c);
    if (h < 1 || w < 1 || h > 8192 || w > 8192)
        return jp_fail(err, JP_ERR_SHAPE, "Inception: image size %dx%d", h, w);
    int B = m->ctx.act_block;
    resize_input(m, x, n, c, h, w);
    /* rows past n: zeros rather than stale activations (x299 shares big[1]) */
    size_t per = (size_t)3 * JP_INC_SIZE * JP_INC_SIZE;
    if (n < m->batch) memset(m->x299 + (size_t)n * per, 0, (size_t)(m->batch - n) * per * sizeof(float));

    /* stem: 1a, 2a, 2b, max pool, 3b, 4a, max pool (buffer sizes: build() in inception.c) */
    float *a = m->big[0], *b = m->big[1];
    const jp_inc_conv *cv = m->convs;
    conv(m, m->stem[0], a, m->x299);
    conv(m, m->stem[1], b, a);
    conv(m, m->stem[2], a, b);
    const jp_inc_conv *c2b = &cv[m->stem[2]], *c4a = &cv[m->stem[4]];
    pool(m, b, a, JP_POOL_MAX3_S2, c2b->cout, c2b->oh, c2b->ow);
    conv(m, m->stem[3], a, b);
    conv(m, m->stem[4], b, a);
    pool(m, a, b, JP_POOL_MAX3_S2, c4a->cout, c4a->oh, c4a->ow);
    if (m->debug_stem)
        jp_act_from_blocked(&m->ctx, m->debug_stem, a, n, m->blocks[0].cin, m->blocks[0].h, m->blocks[0].w);

    for (int i = 0; i < m->n_blocks; i++) {
        const jp_inc_block *blk = &m->blocks[i];
        block_forward(m, blk, b, a);
        if (m->debug_6e && !strcmp(blk->name, "Mixed_6e"))
            jp_act_from_blocked(&m->ctx, m->debug_6e, b, n, blk->cout, blk->oh, blk->ow);
        float *t = a;
        a = b;
        b = t;
    }
    int F = m->feat_dim, K = m->n_classes;
    jp_inc_global_avgpool(m->feats, a, n, F, m->final_h, m->final_w, B);
    memcpy(feats, m->feats, (size_t)n * F * sizeof(float));
    if (K) {
        /* logits (n, K) = feats (n, F) W^T + b; the dropout before fc is the identity */
        const jp_device *d = m->ctx.dev;
        d->ops->gemm(d->state, 0, 1, n, K, F, 1.0f, m->feats, F, m->fc_w, F, 0.0f, m->logits, K);
        d->ops->bias_forward(d->state, m->logits, m->fc_b, n, K);
        softmax_rows(m->probs, m->logits, n, K);
    }
    m->last_n = n;
    return JP_OK;
}
