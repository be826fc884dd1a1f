/* Wide-ResNet: configuration, the state_dict table, plans and memory, init. */
#include "nn/wrn_internal.h"
#include "ops/cpu_isa.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void jp_wrn_config_defaults(jp_wrn_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->depth = 28;
    cfg->width = 10;
    cfg->in_channels = 3;
    cfg->image_size = 32;
    cfg->n_classes = 10;
    cfg->norm = JP_NORM_BATCH;
    cfg->dropout = 0.0f;
    cfg->bn_momentum = 0.9f;
    cfg->bn_eps = 1e-5f;
    cfg->slope = 0.2f;
    cfg->winograd = 1;
}

jp_status jp_wrn_config_check(const jp_wrn_config *c, jp_error *err)
{
    if (c->depth < 10 || (c->depth - 4) % 6 != 0)
        return jp_fail(err, JP_ERR_ARG, "--depth %d: a Wide-ResNet has depth 6n+4 with n >= 1 (10, 16, 22, 28, ...)", c->depth);
    if (c->width < 1 || c->width > 64)
        return jp_fail(err, JP_ERR_ARG, "--width %d: must be between 1 and 64", c->width);
    if (c->in_channels < 1 || c->in_channels > 16)
        return jp_fail(err, JP_ERR_ARG, "input channels %d: must be between 1 and 16", c->in_channels);
    if (c->image_size < 4 || c->image_size % 4 != 0 || c->image_size > 1024)
        return jp_fail(err, JP_ERR_ARG, "image size %d: must be a multiple of 4 between 4 and 1024", c->image_size);
    if (c->n_classes < 1 || c->n_classes > 100000)
        return jp_fail(err, JP_ERR_ARG, "%d classes: must be between 1 and 100000", c->n_classes);
    if (!(c->dropout >= 0.0f && c->dropout < 1.0f))
        return jp_fail(err, JP_ERR_ARG, "--dropout_rate %g: must be in [0, 1)", (double)c->dropout);
    if (!(c->bn_momentum >= 0.0f && c->bn_momentum <= 1.0f))
        return jp_fail(err, JP_ERR_ARG, "batch-norm momentum %g: must be in [0, 1]", (double)c->bn_momentum);
    if (!(c->bn_eps > 0.0f))
        return jp_fail(err, JP_ERR_ARG, "batch-norm eps %g: must be positive", (double)c->bn_eps);
    if (c->kernels.vector_width != 0 && c->kernels.vector_width != 8 && c->kernels.vector_width != 16)
        return jp_fail(err, JP_ERR_ARG, "--vector_width %d: must be 0 (the CPU's), 8 or 16", c->kernels.vector_width);
    if (!jp_conv_impl_word(c->kernels.conv))
        return jp_fail(err, JP_ERR_ARG, "convolution implementation %d: must be one of " JP_CONV_IMPL_WORDS,
                       (int)c->kernels.conv);
    if (!jp_bnact_impl_word(c->kernels.bnact))
        return jp_fail(err, JP_ERR_ARG, "batch-norm implementation %d: must be one of " JP_BNACT_IMPL_WORDS,
                       (int)c->kernels.bnact);
    if (!(c->slope >= 0.0f && c->slope < 1.0f))
        return jp_fail(err, JP_ERR_ARG, "LeakyReLU slope %g: must be in [0, 1)", (double)c->slope);
    if (c->norm != JP_NORM_NONE && c->norm != JP_NORM_BATCH)
        return jp_fail(err, JP_ERR_ARG, "norm %d: must be none or batch", (int)c->norm);
    return JP_OK;
}

/* ---- the state_dict table ---------------------------------------------------- */

static size_t add_tensor(jp_wrn *m, int *cap, jp_tensor_kind kind, const char *name, int ndim,
                         int64_t d0, int64_t d1, int64_t d2, int64_t d3)
{
    if (m->n_tensors == *cap) {
        *cap = *cap ? 2 * *cap : 64;
        m->tensors = realloc(m->tensors, (size_t)*cap * sizeof *m->tensors);
        JP_CHECK(m->tensors != NULL);
    }
    jp_tensor_info *t = &m->tensors[m->n_tensors++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->kind = kind;
    t->ndim = ndim;
    int64_t d[4] = {d0, d1, d2, d3};
    t->count = 1;
    for (int i = 0; i < ndim; i++) {
        t->shape[i] = d[i];
        t->count *= (size_t)d[i];
    }
    size_t *n = kind == JP_T_PARAM ? &m->n_params : kind == JP_T_BUFFER ? &m->n_buffers : &m->n_counters;
    t->offset = *n;
    *n += t->count;
    return t->offset;
}

static void add_conv(jp_wrn *m, int *cap, jp_wrn_conv *c, const char *prefix, int cout, int cin, int k)
{
    char name[96];
    snprintf(name, sizeof name, "%s.weight", prefix);
    c->w_off = add_tensor(m, cap, JP_T_PARAM, name, 4, cout, cin, k, k);
    snprintf(name, sizeof name, "%s.bias", prefix);
    c->b_off = add_tensor(m, cap, JP_T_PARAM, name, 1, cout, 0, 0, 0);
}

static void add_bn(jp_wrn *m, int *cap, jp_wrn_bnact *b, const char *prefix, int c)
{
    b->counter = -1;
    if (m->cfg.norm != JP_NORM_BATCH) return;
    char name[96];
    snprintf(name, sizeof name, "%s.weight", prefix);
    b->g_off = add_tensor(m, cap, JP_T_PARAM, name, 1, c, 0, 0, 0);
    snprintf(name, sizeof name, "%s.bias", prefix);
    b->b_off = add_tensor(m, cap, JP_T_PARAM, name, 1, c, 0, 0, 0);
    snprintf(name, sizeof name, "%s.running_mean", prefix);
    b->rm_off = add_tensor(m, cap, JP_T_BUFFER, name, 1, c, 0, 0, 0);
    snprintf(name, sizeof name, "%s.running_var", prefix);
    b->rv_off = add_tensor(m, cap, JP_T_BUFFER, name, 1, c, 0, 0, 0);
    snprintf(name, sizeof name, "%s.num_batches_tracked", prefix);
    b->counter = (int)add_tensor(m, cap, JP_T_COUNTER, name, 0, 0, 0, 0, 0);
}

static void build_table(jp_wrn *m)
{
    const jp_wrn_config *c = &m->cfg;
    int cap = 0, n = (c->depth - 4) / 6, k = c->width;
    int ch[4] = {16, 16 * k, 32 * k, 64 * k}, strides[3] = {1, 2, 2};
    int h = c->image_size, w = c->image_size;
    char prefix[64];
    add_conv(m, &cap, &m->conv1, "f.conv1", 16, c->in_channels, 3);
    m->n_blocks = 3 * n;
    m->blocks = calloc((size_t)m->n_blocks, sizeof *m->blocks);
    JP_CHECK(m->blocks != NULL);
    for (int g = 0; g < 3; g++)
        for (int i = 0; i < n; i++) {
            jp_wrn_block *b = &m->blocks[g * n + i];
            b->cin = i == 0 ? ch[g] : ch[g + 1];
            b->cout = ch[g + 1];
            b->stride = i == 0 ? strides[g] : 1;
            b->h = h;
            b->w = w;
            b->oh = (h + 2 - 3) / b->stride + 1;
            b->ow = (w + 2 - 3) / b->stride + 1;
            h = b->oh;
            w = b->ow;
            b->has_shortcut = b->stride != 1 || b->cin != b->cout;
            char sub[96];
            snprintf(prefix, sizeof prefix, "f.layer%d.%d", g + 1, i);
            snprintf(sub, sizeof sub, "%s.bn1", prefix);
            add_bn(m, &cap, &b->bn1, sub, b->cin);
            snprintf(sub, sizeof sub, "%s.conv1", prefix);
            add_conv(m, &cap, &b->conv1, sub, b->cout, b->cin, 3);
            snprintf(sub, sizeof sub, "%s.bn2", prefix);
            add_bn(m, &cap, &b->bn2, sub, b->cout);
            snprintf(sub, sizeof sub, "%s.conv2", prefix);
            add_conv(m, &cap, &b->conv2, sub, b->cout, b->cout, 3);
            if (b->has_shortcut) {
                snprintf(sub, sizeof sub, "%s.shortcut.0", prefix);
                add_conv(m, &cap, &b->shortcut, sub, b->cout, b->cin, 1);
            }
        }
    m->last_c = ch[3];
    m->last_hw = h * w;
    add_bn(m, &cap, &m->head_bn, "f.bn1", ch[3]);
    /* The energy head is stored last, so that an optimiser of the classifier alone can
     * leave it out (PyTorch skips parameters that never get a gradient). */
    m->fc_w = add_tensor(m, &cap, JP_T_PARAM, "class_output.weight", 2, c->n_classes, ch[3], 0, 0);
    m->fc_b = add_tensor(m, &cap, JP_T_PARAM, "class_output.bias", 1, c->n_classes, 0, 0, 0);
    m->en_w = add_tensor(m, &cap, JP_T_PARAM, "energy_output.weight", 2, 1, ch[3], 0, 0);
    m->en_b = add_tensor(m, &cap, JP_T_PARAM, "energy_output.bias", 1, 1, 0, 0, 0);
}

/* ---- plans (shared between layers of the same shape) --------------------------- */

static jp_status conv_plan(jp_wrn *m, const jp_conv_plan **out, int cin, int h, int w, int cout,
                           int k, int stride, int src_plain, int residual, jp_error *err)
{
    jp_conv_shape s;
    int pad = k / 2;
    jp_status st = jp_conv_shape_init(&s, m->batch, cin, h, w, cout, k, k, stride, stride, pad, pad, err);
    if (st) return st;
    for (int i = 0; i < m->n_conv_plans; i++) {
        const jp_conv_plan *p = &m->conv_plans[i];
        if (!memcmp(&p->s, &s, sizeof s) && p->src_plain == src_plain && p->residual == residual) {
            *out = p;
            return JP_OK;
        }
    }
    JP_CHECK(m->n_conv_plans < JP_WRN_MAX_PLANS);
    jp_conv_plan *p = &m->conv_plans[m->n_conv_plans];
    jp_conv_opts o = {.src_plain = src_plain, .residual = residual, .need_backward = 1,
                      .winograd = m->cfg.winograd, .bf16 = m->cfg.kernels.bf16, .impl = m->cfg.kernels.conv};
    st = jp_conv_plan_init(p, &m->ctx, &s, &o, err);
    if (st) return st;
    m->n_conv_plans++;
    *out = p;
    return JP_OK;
}

static jp_status bn_plan(jp_wrn *m, const jp_bnact_plan **out, int c, int h, int w, jp_error *err)
{
    jp_bn_shape s = {m->batch, c, h, w, m->cfg.bn_eps, m->cfg.bn_momentum};
    for (int i = 0; i < m->n_bn_plans; i++) {
        const jp_bnact_plan *p = &m->bn_plans[i];
        if (p->s.n == s.n && p->s.c == c && p->s.h == h && p->s.w == w) {
            *out = p;
            return JP_OK;
        }
    }
    JP_CHECK(m->n_bn_plans < JP_WRN_MAX_PLANS);
    jp_bnact_plan *p = &m->bn_plans[m->n_bn_plans];
    jp_status st = jp_bnact_plan_init(p, &m->ctx, &s, m->cfg.norm == JP_NORM_BATCH, m->cfg.slope,
                                      m->cfg.kernels.bnact, err);
    if (st) return st;
    m->n_bn_plans++;
    *out = p;
    return JP_OK;
}

static jp_status make_plans(jp_wrn *m, jp_error *err)
{
    const jp_wrn_config *c = &m->cfg;
    int H = c->image_size;
    jp_status st = conv_plan(m, &m->conv1.plan, c->in_channels, H, H, 16, 3, 1, 1, 0, err);
    for (int i = 0; i < m->n_blocks && !st; i++) {
        jp_wrn_block *b = &m->blocks[i];
        st = bn_plan(m, &b->bn1.plan, b->cin, b->h, b->w, err);
        if (!st) st = conv_plan(m, &b->conv1.plan, b->cin, b->h, b->w, b->cout, 3, 1, 0, 0, err);
        if (!st) st = bn_plan(m, &b->bn2.plan, b->cout, b->h, b->w, err);
        if (!st) st = conv_plan(m, &b->conv2.plan, b->cout, b->h, b->w, b->cout, 3, b->stride, 0, 1, err);
        if (!st && b->has_shortcut)
            st = conv_plan(m, &b->shortcut.plan, b->cin, b->h, b->w, b->cout, 1, b->stride, 0, 0, err);
    }
    if (!st) {
        const jp_wrn_block *last = &m->blocks[m->n_blocks - 1];
        st = bn_plan(m, &m->head_bn.plan, m->last_c, last->oh, last->ow, err);
    }
    /* a convolution implementation asked for by name must run some layer */
    int used = c->kernels.conv == JP_CONV_AUTO;
    for (int i = 0; i < m->n_conv_plans && !used; i++) used = m->conv_plans[i].impl->id == c->kernels.conv;
    if (!st && !used)
        st = jp_fail(err, JP_ERR_ARG, "--conv_impl %s runs no layer of this model on nChw%dc (onednn-winograd: "
                     "3x3 stride-1 layers on nChw16c, channels in multiples of 16; jempp-winograd: 3x3 stride-1 "
                     "layers, channels in multiples of the vector width; onednn-bf16: every layer but the first on nChw16c; "
                     "jempp-first: the first layer of a model that trains)",
                     jp_conv_impl_word(c->kernels.conv), m->ctx.act_block);
    return st;
}

/* ---- memory: carved from arenas in two passes (measure, then take) ------------- */

static void carve_weights(jp_wrn_conv *c, jp_arena *a)
{
    c->wfwd = jp_arena_take(a, c->plan->w_bytes);
    c->wbwd = c->plan->wd_bytes ? jp_arena_take(a, c->plan->wd_bytes) : c->wfwd;
}

static void carve(jp_wrn *m, jp_arena *wa, jp_arena *aa)
{
    const jp_ctx *d = &m->ctx;
    int N = m->batch, H = m->cfg.image_size;
    size_t maxact = 0, maxdw = 0, maxc = 16;
    carve_weights(&m->conv1, wa);
    m->x_in = jp_arena_take(aa, (size_t)N * m->cfg.in_channels * H * H * sizeof(float));
    m->z0 = jp_arena_take(aa, jp_act_bytes(d, N, 16, H, H));
    float *prev = m->z0;
    for (int i = 0; i < m->n_blocks; i++) {
        jp_wrn_block *b = &m->blocks[i];
        carve_weights(&b->conv1, wa);
        carve_weights(&b->conv2, wa);
        if (b->has_shortcut) carve_weights(&b->shortcut, wa);
        size_t in_b = jp_act_bytes(d, N, b->cin, b->h, b->w);
        size_t mid_b = jp_act_bytes(d, N, b->cout, b->h, b->w);
        size_t out_b = jp_act_bytes(d, N, b->cout, b->oh, b->ow);
        b->x = prev;
        b->a1 = jp_arena_take(aa, in_b);
        b->h1 = jp_arena_take(aa, mid_b);
        b->a2 = jp_arena_take(aa, mid_b);
        b->out = jp_arena_take(aa, out_b);
        b->mask = m->cfg.dropout > 0 ? jp_arena_take(aa, mid_b) : NULL;
        b->bn1.mean = jp_arena_take(aa, 2 * (size_t)b->cin * sizeof(float));
        b->bn1.var = b->bn1.mean ? b->bn1.mean + b->cin : NULL;
        b->bn2.mean = jp_arena_take(aa, 2 * (size_t)b->cout * sizeof(float));
        b->bn2.var = b->bn2.mean ? b->bn2.mean + b->cout : NULL;
        prev = b->out;
        if (in_b > maxact) maxact = in_b;
        if (mid_b > maxact) maxact = mid_b;
        const jp_conv_plan *ps[3] = {b->conv1.plan, b->conv2.plan, b->has_shortcut ? b->shortcut.plan : NULL};
        for (int j = 0; j < 3; j++)
            if (ps[j] && ps[j]->dw_bytes > maxdw) maxdw = ps[j]->dw_bytes;
        if ((size_t)b->cout > maxc) maxc = (size_t)b->cout;
    }
    if (m->conv1.plan->dw_bytes > maxdw) maxdw = m->conv1.plan->dw_bytes;
    const jp_wrn_block *last = &m->blocks[m->n_blocks - 1];
    m->af = jp_arena_take(aa, jp_act_bytes(d, N, m->last_c, last->oh, last->ow));
    m->head_bn.mean = jp_arena_take(aa, 2 * (size_t)m->last_c * sizeof(float));
    m->head_bn.var = m->head_bn.mean ? m->head_bn.mean + m->last_c : NULL;
    m->feat = jp_arena_take(aa, (size_t)N * m->last_c * sizeof(float));
    m->dfeat = jp_arena_take(aa, (size_t)N * m->last_c * sizeof(float));
    m->dlog_scratch = jp_arena_take(aa, (size_t)N * m->cfg.n_classes * sizeof(float));
    m->den_scratch = jp_arena_take(aa, (size_t)N * sizeof(float));
    for (int i = 0; i < 4; i++) m->g[i] = jp_arena_take(aa, maxact);
    m->dw_scratch = jp_arena_take(aa, maxdw);
    m->db_scratch = jp_arena_take(aa, maxc * sizeof(float));
    m->dparam_scratch = jp_arena_take(aa, 2 * maxc * sizeof(float));
    size_t plain = (size_t)N * (16 > m->cfg.in_channels ? 16 : m->cfg.in_channels) * H * H;
    m->plain_tmp = jp_arena_take(aa, plain * sizeof(float));
}

jp_status jp_wrn_create(jp_wrn **out, const jp_wrn_config *cfg, int batch, jp_error *err)
{
    *out = NULL;
    jp_status st = jp_wrn_config_check(cfg, err);
    if (st) return st;
    if (batch < 1 || batch > 65536)
        return jp_fail(err, JP_ERR_ARG, "batch size %d: must be between 1 and 65536", batch);
    jp_wrn *m = calloc(1, sizeof *m);
    if (!m) return jp_fail(err, JP_ERR_NOMEM, "model struct");
    m->cfg = *cfg;
    m->batch = batch;
    jp_rng_seed(&m->rng, 0);
    build_table(m);
    /* a device with plans of its own (a GPU) plans with them; any other runs the CPU's
     * plans on its memory (the CPU device, or one that only keeps memory apart: tests) */
    const jp_device *on = cfg->kernels.device;
    st = on && on->conv ? jp_ctx_init_device(&m->ctx, on, err) : jp_ctx_init(&m->ctx, cfg->kernels.vector_width, err);
    if (!st && on && !on->conv) m->ctx.dev = on;
    if (!st) st = make_plans(m, err);
    if (!st) st = jp_ctx_finalize(&m->ctx, err);
    if (st) {
        jp_wrn_free(m);
        return st;
    }
    size_t pbytes = (2 * m->n_params + m->n_buffers) * sizeof(float) + 3 * 64;
    jp_arena wmeasure, ameasure;
    jp_arena_init(&wmeasure, 0);
    jp_arena_init(&ameasure, 0);
    carve(m, &wmeasure, &ameasure);
    const jp_device *dev = m->ctx.dev;
    if (jp_dev_arena_init(dev, &m->param_arena, pbytes) || jp_dev_arena_init(dev, &m->weight_arena, wmeasure.used) ||
        jp_dev_arena_init(dev, &m->act_arena, ameasure.used) ||
        !(m->counters = jp_alloc(m->n_counters * sizeof(int64_t) + 1))) {
        jp_wrn_free(m);
        return jp_fail(err, JP_ERR_NOMEM, "model memory: %zu MiB of activations, %zu MiB of weights",
                       ameasure.used >> 20, (wmeasure.used + pbytes) >> 20);
    }
    m->params = jp_arena_take(&m->param_arena, m->n_params * sizeof(float));
    m->grads = jp_arena_take(&m->param_arena, m->n_params * sizeof(float));
    m->buffers = jp_arena_take(&m->param_arena, m->n_buffers * sizeof(float) + 1);
    carve(m, &m->weight_arena, &m->act_arena);
    jp_rng init_rng;
    jp_rng_seed(&init_rng, 0);
    jp_wrn_init_params(m, &init_rng);
    *out = m;
    return JP_OK;
}

void jp_wrn_free(jp_wrn *m)
{
    if (!m) return;
    for (int i = 0; i < m->n_conv_plans; i++) jp_conv_plan_free(&m->conv_plans[i]);
    for (int i = 0; i < m->n_bn_plans; i++) jp_bnact_plan_free(&m->bn_plans[i]);
    if (m->ctx.dev) {
        jp_dev_arena_free(m->ctx.dev, &m->param_arena);
        jp_dev_arena_free(m->ctx.dev, &m->weight_arena);
        jp_dev_arena_free(m->ctx.dev, &m->act_arena);
    }
    jp_ctx_free(&m->ctx);
    jp_free(m->counters);
    jp_free(m->host_params);
    jp_free(m->host_buffers);
    free(m->tensors);
    free(m->blocks);
    free(m);
}

/* ---- parameters ------------------------------------------------------------- */

static void uniform(jp_rng *r, float *x, size_t n, float bound)
{
    jp_rng_fill_uniform(r, x, n, -bound, bound);
}

/* PyTorch's defaults. kaiming_uniform_(a=sqrt(5)): bound = gain*sqrt(3/fan_in) with
 * gain = sqrt(2/(1+a^2)) = sqrt(1/3), so bound = 1/sqrt(fan_in); biases U(+-1/sqrt(fan_in)). */
void jp_wrn_init_params(jp_wrn *m, jp_rng *rng)
{
    /* on a device: drawn into host copies, then uploaded */
    const jp_device *d = m->ctx.dev;
    int host = jp_device_is_host(d);
    float *params = host ? m->params : jp_alloc(m->n_params * sizeof(float));
    float *buffers = host ? m->buffers : jp_alloc(m->n_buffers * sizeof(float) + 1);
    JP_CHECK(params && buffers);
    for (int i = 0; i < m->n_tensors; i++) {
        const jp_tensor_info *t = &m->tensors[i];
        const char *leaf = strrchr(t->name, '.') + 1;
        int is_bn = strstr(t->name, "bn") != NULL;
        if (t->kind == JP_T_COUNTER) {
            m->counters[t->offset] = 0;
        } else if (t->kind == JP_T_BUFFER) {
            float v = strcmp(leaf, "running_var") == 0 ? 1.0f : 0.0f;
            for (size_t j = 0; j < t->count; j++) buffers[t->offset + j] = v;
        } else if (is_bn) {
            float v = strcmp(leaf, "weight") == 0 ? 1.0f : 0.0f;
            for (size_t j = 0; j < t->count; j++) params[t->offset + j] = v;
        } else {
            /* weight (out, in, kh, kw) or (out, in): fan_in = in*kh*kw; the bias uses its
             * weight's fan_in, which is the previous table entry */
            const jp_tensor_info *w = strcmp(leaf, "bias") == 0 ? t - 1 : t;
            size_t fan_in = w->count / (size_t)w->shape[0];
            uniform(rng, params + t->offset, t->count, (float)(1.0 / sqrt((double)fan_in)));
        }
    }
    if (!host) {
        jp_dev_upload(d, m->params, params, m->n_params * sizeof(float));
        jp_dev_upload(d, m->buffers, buffers, m->n_buffers * sizeof(float));
        jp_free(params);
        jp_free(buffers);
    }
    jp_wrn_params_changed(m);
}

const jp_tensor_info *jp_wrn_tensors(const jp_wrn *m, int *count)
{
    *count = m->n_tensors;
    return m->tensors;
}

const jp_wrn_config *jp_wrn_config_of(const jp_wrn *m) { return &m->cfg; }
int jp_wrn_batch(const jp_wrn *m) { return m->batch; }
float *jp_wrn_params(jp_wrn *m) { return m->params; }
float *jp_wrn_grads(jp_wrn *m) { return m->grads; }
size_t jp_wrn_param_count(const jp_wrn *m) { return m->n_params; }
size_t jp_wrn_classifier_param_count(const jp_wrn *m) { return m->en_w; }
float *jp_wrn_buffers(jp_wrn *m) { return m->buffers; }
size_t jp_wrn_buffer_count(const jp_wrn *m) { return m->n_buffers; }
int64_t *jp_wrn_counters(jp_wrn *m) { return m->counters; }
size_t jp_wrn_counter_count(const jp_wrn *m) { return m->n_counters; }
void jp_wrn_params_changed(jp_wrn *m) { m->weights_version++; }
int jp_wrn_on_host(const jp_wrn *m) { return jp_device_is_host(m->ctx.dev); }

void jp_wrn_host_view(jp_wrn *m, float **params, float **buffers)
{
    const jp_device *d = m->ctx.dev;
    if (jp_device_is_host(d)) {
        *params = m->params, *buffers = m->buffers;
        return;
    }
    if (!m->host_params) {
        m->host_params = jp_alloc(m->n_params * sizeof(float));
        m->host_buffers = jp_alloc(m->n_buffers * sizeof(float) + 1);
        JP_CHECK(m->host_params && m->host_buffers);
    }
    jp_error err;
    JP_CHECK(d->ops->sync(d->state, &err) == JP_OK);
    jp_dev_download(d, m->host_params, m->params, m->n_params * sizeof(float));
    jp_dev_download(d, m->host_buffers, m->buffers, m->n_buffers * sizeof(float));
    *params = m->host_params, *buffers = m->host_buffers;
}

void jp_wrn_host_commit(jp_wrn *m)
{
    const jp_device *d = m->ctx.dev;
    if (!jp_device_is_host(d)) {
        JP_CHECK(m->host_params != NULL);
        jp_dev_upload(d, m->params, m->host_params, m->n_params * sizeof(float));
        jp_dev_upload(d, m->buffers, m->host_buffers, m->n_buffers * sizeof(float));
    }
    jp_wrn_params_changed(m);
}

/* jp_bn_sync's sum over dist; a failure ends the job (the other ranks would wait). */
static void bn_sum(void *ctx, double *v, size_t n)
{
    const jp_dist *d = ctx;
    jp_error err;
    if (d->allreduce_f64(d->ctx, v, n, JP_DIST_SUM, &err)) {
        fprintf(stderr, "jempp (rank %d): synchronised batch norm: %s\n", d->rank, err.msg);
        d->abort(d->ctx, 1);
    }
}

jp_status jp_wrn_sync_batch_norm(jp_wrn *m, const jp_dist *dist, jp_error *err)
{
    m->bn_sync = (jp_bn_sync){(void *)dist, dist ? dist->size : 1, bn_sum};
    for (int i = 0; i < m->n_bn_plans; i++) {
        jp_status st = jp_bnact_plan_sync(&m->bn_plans[i], dist ? &m->bn_sync : NULL, err);
        if (st) {
            for (int k = 0; k < m->n_bn_plans; k++) jp_bnact_plan_sync(&m->bn_plans[k], NULL, NULL);
            return st;
        }
    }
    return JP_OK;
}
void jp_wrn_zero_grads(jp_wrn *m) { jp_dev_zero(m->ctx.dev, m->grads, m->n_params * sizeof(float)); }
jp_rng *jp_wrn_rng(jp_wrn *m) { return &m->rng; }
const float *jp_wrn_features(const jp_wrn *m) { return m->feat; }
int jp_wrn_feature_dim(const jp_wrn *m) { return m->last_c; }

/* The kernels of the model's plans with what they do: the implementation's name,
 * NULL where a plan has no such primitive. */
typedef struct {
    const char *what;
    const char *impl;
    char layer[64];
} named_prim;

static int model_prims(const jp_wrn *m, named_prim *out, int cap)
{
    int n = 0;
    for (int i = 0; i < m->n_conv_plans; i++) {
        const jp_conv_plan *p = &m->conv_plans[i];
        const char *what[3] = {"fwd", "bwd_data", "bwd_w"};
        for (int k = 0; k < 3 && n < cap; k++, n++) {
            out[n] = (named_prim){what[k], jp_conv_kernel(p, k), ""};
            snprintf(out[n].layer, sizeof out[n].layer, "conv %dx%d %d->%d s%d %dx%d%s%s", p->s.kh, p->s.kw,
                     p->s.cin, p->s.cout, p->s.sh, p->s.h, p->s.w, p->residual ? " (+= residual)" : "",
                     p->src_plain ? " (plain input)" : "");
        }
    }
    for (int i = 0; i < m->n_bn_plans; i++) {
        const jp_bnact_plan *p = &m->bn_plans[i];
        const char *what[6] = {"fwd_train", "fwd_eval", "bwd_train", "bwd_eval", "act_fwd", "act_bwd"};
        for (int k = 0; k < 6 && n < cap; k++, n++) {
            out[n] = (named_prim){what[k], jp_bnact_kernel(p, k), ""};
            snprintf(out[n].layer, sizeof out[n].layer, "bn+act %d %dx%d", p->s.c, p->s.h, p->s.w);
        }
    }
    return n;
}

#define MAX_NAMED (JP_WRN_MAX_PLANS * 9)

void jp_wrn_describe(const jp_wrn *m, char *buf, size_t len)
{
    named_prim p[MAX_NAMED];
    int n = model_prims(m, p, MAX_NAMED);
    size_t at = 0;
    if (len) buf[0] = 0;
    for (int i = 0; i < n && at < len; i++) { /* one line per layer */
        if (i == 0 || strcmp(p[i].layer, p[i - 1].layer) != 0)
            at += (size_t)snprintf(buf + at, len - at, "%s%s:", i ? "\n" : "", p[i].layer);
        if (at < len && p[i].impl) at += (size_t)snprintf(buf + at, len - at, " %s %s", p[i].what, p[i].impl);
    }
    if (at < len) snprintf(buf + at, len - at, "\n");
}

int jp_wrn_conv_impl_count(const jp_wrn *m, jp_conv_impl_id id)
{
    int count = 0;
    for (int i = 0; i < m->n_conv_plans; i++) count += m->conv_plans[i].impl->id == id;
    return count;
}

void jp_wrn_kernel_summary(const jp_wrn *m, char *buf, size_t len)
{
    int conv[JP_CONV_N_IMPL] = {0}, bn[JP_BNACT_N_IMPL] = {0};
    for (int k = 1; k < JP_CONV_N_IMPL; k++) conv[k] = jp_wrn_conv_impl_count(m, (jp_conv_impl_id)k);
    for (int i = 0; i < m->n_bn_plans; i++) bn[m->bn_plans[i].impl->id]++;
    size_t at = m->ctx.act_block > 1 ? (size_t)snprintf(buf, len, "nChw%dc;", m->ctx.act_block)
                                     : (size_t)snprintf(buf, len, "NCHW on %s;", m->ctx.dev->ops->name);
    for (int k = 1; k < JP_CONV_N_IMPL && at < len; k++)
        if (conv[k])
            at += (size_t)snprintf(buf + at, len - at, " %s x%d", jp_conv_impl_word((jp_conv_impl_id)k), conv[k]);
    for (int k = 1; k < JP_BNACT_N_IMPL && at < len; k++)
        if (bn[k]) at += (size_t)snprintf(buf + at, len - at, " %s bn x%d", jp_bnact_impl_word((jp_bnact_impl_id)k), bn[k]);
    if (at < len && (conv[JP_CONV_JEMPP_WINOGRAD] || bn[JP_BNACT_JEMPP_FUSED]))
        snprintf(buf + at, len - at, "; jempp's kernels: %s", jp_cpu_width_isa(m->ctx.act_block));
}

int jp_wrn_reference_kernels(const jp_wrn *m, char *buf, size_t len)
{
    named_prim p[MAX_NAMED];
    int n = model_prims(m, p, MAX_NAMED), count = 0;
    size_t at = 0;
    if (buf && len) buf[0] = 0;
    for (int i = 0; i < n; i++) {
        if (!p[i].impl || !jp_kernel_is_reference(p[i].impl)) continue;
        if (buf && at < len)
            at += (size_t)snprintf(buf + at, len - at, "%s%s %s (%s)", count ? "; " : "", p[i].layer, p[i].what,
                                   p[i].impl);
        count++;
    }
    return count;
}
