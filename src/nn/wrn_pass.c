/* Wide-ResNet forward and backward on blocked activations. */
#include "nn/wrn_internal.h"

#include <string.h>

static void prepare_weights(jp_wrn *m)
{
    if (m->prepared_version == m->weights_version) return;
    jp_conv_prepare_weights(m->conv1.plan, m->conv1.wfwd, m->conv1.wbwd, m->params + m->conv1.w_off);
    for (int i = 0; i < m->n_blocks; i++) {
        jp_wrn_block *b = &m->blocks[i];
        jp_wrn_conv *cs[3] = {&b->conv1, &b->conv2, b->has_shortcut ? &b->shortcut : NULL};
        for (int j = 0; j < 3; j++)
            if (cs[j]) jp_conv_prepare_weights(cs[j]->plan, cs[j]->wfwd, cs[j]->wbwd, m->params + cs[j]->w_off);
    }
    m->prepared_version = m->weights_version;
}

static void conv_fwd(jp_wrn *m, const jp_wrn_conv *c, float *dst, const float *src)
{
    jp_conv_forward(c->plan, dst, src, c->wfwd, m->params + c->b_off);
}

static void bnact_fwd(jp_wrn *m, jp_wrn_bnact *b, int train, float *dst, const float *src)
{
    int bn = b->counter >= 0;
    if (bn && train) m->counters[b->counter]++;
    jp_bnact_forward(b->plan, train, dst, b->mean, b->var, bn ? m->buffers + b->rm_off : NULL,
                     bn ? m->buffers + b->rv_off : NULL, src, bn ? m->params + b->g_off : NULL,
                     bn ? m->params + b->b_off : NULL);
}

/* The model's device: memory, pooling, the heads, losses, element-wise updates. */
static const jp_device *dev(const jp_wrn *m) { return m->ctx.dev; }

static size_t act_count(const jp_wrn *m, int c, int h, int w)
{
    return jp_act_bytes(&m->ctx, m->batch, c, h, w) / sizeof(float);
}

void jp_wrn_set_dropout_source(jp_wrn *m, jp_wrn_dropout_fill fill, void *ctx)
{
    m->dropout_fill = fill;
    m->dropout_ctx = ctx;
}

/* Dropout of block i's h1 with the mask of the testing hook: the caller fills it plain
 * NCHW into m->g[0] (the gradient buffers are free during a forward and each holds the
 * largest blocked activation, at least as many floats as the plain N*cout*h*w), then it
 * goes into the blocked layout as b->mask (zero in padded channels), which is what
 * jp_dropout_forward would have left there for the backward. */
static void dropout_given_mask(jp_wrn *m, int i, jp_wrn_block *b)
{
    JP_CHECK(jp_device_is_host(dev(m))); /* the hook fills host memory */
    float *plain = m->g[0];
    m->dropout_fill(m->dropout_ctx, i, plain, m->batch, b->cout, b->h, b->w);
    jp_act_to_blocked(&m->ctx, b->mask, plain, m->batch, b->cout, b->h, b->w);
    dev(m)->ops->dropout_backward(dev(m)->state, b->h1, b->h1, b->mask, act_count(m, b->cout, b->h, b->w));
}

void jp_wrn_forward(jp_wrn *m, float *logits, const float *x, int n, int train)
{
    const jp_wrn_config *c = &m->cfg;
    int N = m->batch, H = c->image_size, K = c->n_classes, D = m->last_c;
    JP_CHECK(train ? n == N : (n >= 1 && n <= N));
    prepare_weights(m);
    size_t per = (size_t)c->in_channels * H * H;
    const jp_device *d = dev(m);
    jp_dev_copy(d, m->x_in, x, (size_t)n * per * sizeof(float));
    if (n < N) jp_dev_zero(d, m->x_in + (size_t)n * per, (size_t)(N - n) * per * sizeof(float));

    conv_fwd(m, &m->conv1, m->z0, m->x_in);
    for (int i = 0; i < m->n_blocks; i++) {
        jp_wrn_block *b = &m->blocks[i];
        bnact_fwd(m, &b->bn1, train, b->a1, b->x);
        conv_fwd(m, &b->conv1, b->h1, b->a1);
        if (b->mask && train && m->dropout_fill)
            dropout_given_mask(m, i, b);
        else if (b->mask && train)
            d->ops->dropout_forward(d->state, b->h1, b->mask, b->h1, act_count(m, b->cout, b->h, b->w), c->dropout,
                                    &m->rng);
        bnact_fwd(m, &b->bn2, train, b->a2, b->h1);
        if (b->has_shortcut) conv_fwd(m, &b->shortcut, b->out, b->x);
        else jp_dev_copy(d, b->out, b->x, act_count(m, b->cout, b->oh, b->ow) * sizeof(float));
        conv_fwd(m, &b->conv2, b->out, b->a2); /* residual plan: out += conv2(a2) */
    }
    const jp_wrn_block *last = &m->blocks[m->n_blocks - 1];
    bnact_fwd(m, &m->head_bn, train, m->af, last->out);
    d->ops->pool_forward(d->state, m->feat, m->af, N, D, m->last_hw, m->ctx.act_block);
    /* logits (n, K) = feat (n, D) W^T + b */
    d->ops->gemm(d->state, 0, 1, n, K, D, 1.0f, m->feat, D, m->params + m->fc_w, D, 0.0f, logits, K);
    d->ops->bias_forward(d->state, logits, m->params + m->fc_b, n, K);
    m->last_train = train;
    m->last_n = n;
}

static void conv_bwd_w(jp_wrn *m, const jp_wrn_conv *c, const float *ddst, const float *src)
{
    jp_conv_backward_weights(c->plan, m->grads + c->w_off, m->grads + c->b_off, ddst, src,
                             m->dw_scratch, m->db_scratch);
}

/* d(src) from d(dst) through lrelu(bn(.)); ddst is destroyed. */
static void bnact_bwd(jp_wrn *m, const jp_wrn_bnact *b, int pgrad, float *dsrc, float *ddst,
                      const float *dst, const float *src)
{
    int bn = b->counter >= 0, train = m->last_train;
    const float *mean = train ? b->mean : (bn ? m->buffers + b->rm_off : NULL);
    const float *var = train ? b->var : (bn ? m->buffers + b->rv_off : NULL);
    jp_bnact_backward(b->plan, train, dsrc, ddst, bn && pgrad ? m->grads + b->g_off : NULL,
                      bn && pgrad ? m->grads + b->b_off : NULL, dst, src, mean, var,
                      bn ? m->params + b->g_off : NULL, bn ? m->params + b->b_off : NULL,
                      m->dparam_scratch);
}

/* The math, block by block (out = conv2(a2) + sc(x)):
 *   d a2 = conv2^T(d out)         dW2 += d out (x) a2
 *   d h1 = bnact2^T(d a2) * mask  dW1 += d h1 (x) a1
 *   d a1 = conv1^T(d h1)
 *   d x  = bnact1^T(d a1) + sc^T(d out)   (sc^T = identity or the 1x1 conv's transpose) */
void jp_wrn_backward(jp_wrn *m, const float *dlogits, float *dx, int pgrad)
{
    jp_wrn_backward_heads(m, dlogits, NULL, dx, pgrad);
}

/* The heads: logits = feat W^T + b (class_output), e = feat w_e + b_e (energy_output).
 *   dfeat = dlogits W + denergy w_e^T
 *   dW += dlogits^T feat, db += sum_i dlogits[i];  dw_e += denergy^T feat, db_e += sum_i denergy[i] */
void jp_wrn_backward_heads(jp_wrn *m, const float *dlogits, const float *denergy, float *dx, int pgrad)
{
    const jp_wrn_config *c = &m->cfg;
    int N = m->batch, n = m->last_n, K = c->n_classes, D = m->last_c, H = c->image_size;
    const jp_device *d = dev(m);
    const float *W = m->params + m->fc_w, *we = m->params + m->en_w;
    /* rows past n (eval padding) are zero */
    if (dlogits)
        d->ops->gemm(d->state, 0, 0, n, D, K, 1.0f, dlogits, K, W, D, 0.0f, m->dfeat, D);
    size_t from = dlogits ? (size_t)n * D : 0;
    jp_dev_zero(d, m->dfeat + from, ((size_t)N * D - from) * sizeof(float));
    /* dfeat (n, D) += denergy (n, 1) w_e (1, D) */
    if (denergy) d->ops->gemm(d->state, 0, 0, n, D, 1, 1.0f, denergy, 1, we, D, 1.0f, m->dfeat, D);
    if (pgrad && dlogits) {
        d->ops->gemm(d->state, 1, 0, K, D, n, 1.0f, dlogits, K, m->feat, D, 1.0f, m->grads + m->fc_w, D);
        d->ops->bias_backward(d->state, m->grads + m->fc_b, dlogits, n, K);
    }
    if (pgrad && denergy) {
        /* dw_e (1, D) += denergy^T (1, n) feat (n, D) */
        d->ops->gemm(d->state, 0, 0, 1, D, n, 1.0f, denergy, n, m->feat, D, 1.0f, m->grads + m->en_w, D);
        d->ops->bias_backward(d->state, m->grads + m->en_b, denergy, n, 1);
    }
    float **g = m->g;
    d->ops->pool_backward(d->state, g[0], m->dfeat, N, D, m->last_hw, m->ctx.act_block);
    const jp_wrn_block *last = &m->blocks[m->n_blocks - 1];
    bnact_bwd(m, &m->head_bn, pgrad, g[1], g[0], m->af, last->out);
    float *dout = g[1];
    for (int i = m->n_blocks - 1; i >= 0; i--) {
        const jp_wrn_block *b = &m->blocks[i];
        float *t[3], **tp = t;
        for (int j = 0; j < 4; j++)
            if (g[j] != dout) *tp++ = g[j];
        float *da = t[0], *dh = t[1], *dxb = t[2];
        if (pgrad) conv_bwd_w(m, &b->conv2, dout, b->a2);
        jp_conv_backward_data(b->conv2.plan, da, dout, b->conv2.wbwd);
        bnact_bwd(m, &b->bn2, pgrad, dh, da, b->a2, b->h1);
        if (b->mask && m->last_train)
            d->ops->dropout_backward(d->state, dh, dh, b->mask, act_count(m, b->cout, b->h, b->w));
        if (pgrad) conv_bwd_w(m, &b->conv1, dh, b->a1);
        jp_conv_backward_data(b->conv1.plan, da, dh, b->conv1.wbwd);
        bnact_bwd(m, &b->bn1, pgrad, dxb, da, b->a1, b->x);
        size_t in_count = act_count(m, b->cin, b->h, b->w);
        if (b->has_shortcut) {
            if (pgrad) conv_bwd_w(m, &b->shortcut, dout, b->x);
            jp_conv_backward_data(b->shortcut.plan, da, dout, b->shortcut.wbwd);
            d->ops->add(d->state, dxb, da, in_count);
        } else {
            d->ops->add(d->state, dxb, dout, in_count);
        }
        dout = dxb;
    }
    m->dz0_last = dout; /* for jp_wrn_slack: nothing below writes it */
    if (pgrad) conv_bwd_w(m, &m->conv1, dout, m->x_in);
    if (dx) {
        jp_conv_backward_data(m->conv1.plan, m->plain_tmp, dout, m->conv1.wbwd);
        jp_dev_copy(d, dx, m->plain_tmp, (size_t)n * c->in_channels * H * H * sizeof(float));
    }
}

void jp_wrn_slack(const jp_wrn *m, float *dz0)
{
    JP_CHECK(m->dz0_last != NULL);
    int H = m->cfg.image_size;
    jp_act_from_blocked(&m->ctx, dz0, m->dz0_last, m->last_n, 16, H, H);
}

void jp_wrn_conv1_transpose(jp_wrn *m, float *dx, const float *p, int n)
{
    const jp_wrn_config *c = &m->cfg;
    int N = m->batch, H = c->image_size;
    JP_CHECK(n >= 1 && n <= N);
    prepare_weights(m);
    size_t per = (size_t)16 * H * H;
    const jp_device *d = dev(m);
    jp_dev_copy(d, m->plain_tmp, p, (size_t)n * per * sizeof(float));
    jp_dev_zero(d, m->plain_tmp + (size_t)n * per, (size_t)(N - n) * per * sizeof(float));
    jp_act_to_blocked(&m->ctx, m->g[0], m->plain_tmp, N, 16, H, H);
    jp_conv_backward_data(m->conv1.plan, m->plain_tmp, m->g[0], m->conv1.wbwd);
    jp_dev_copy(d, dx, m->plain_tmp, (size_t)n * c->in_channels * H * H * sizeof(float));
}
