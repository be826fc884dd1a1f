/* The FID Inception-v3: architecture tables, loading (shapes from the weights file, BN
 * folded into the convolutions), plans and memory. The forward pass is in
 * inception_pass.c. */
#include "nn/inception_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define BN_EPS 1e-3 /* torchvision's BasicConv2d */

/* ---- the architecture: torchvision's Inception3 blocks with pytorch-fid's patches ---- */

typedef struct {
    const char *name;
    int kh, kw, s, ph, pw;
} conv_spec;

typedef struct {
    jp_pool_kind pool;
    conv_spec chain[JP_INC_MAX_CHAIN]; /* ends at the first NULL name */
    conv_spec tails[JP_INC_MAX_TAILS];
} branch_spec;

typedef struct {
    const char *name;
    const branch_spec *br;
    int n_br;
} block_spec;

/* FIDInceptionA: 3x3 average pool with count_include_pad=False */
static const branch_spec block_a[] = {
    {JP_POOL_NONE, {{"branch1x1", 1, 1, 1, 0, 0}}, {{0}}},
    {JP_POOL_NONE, {{"branch5x5_1", 1, 1, 1, 0, 0}, {"branch5x5_2", 5, 5, 1, 2, 2}}, {{0}}},
    {JP_POOL_NONE,
     {{"branch3x3dbl_1", 1, 1, 1, 0, 0}, {"branch3x3dbl_2", 3, 3, 1, 1, 1}, {"branch3x3dbl_3", 3, 3, 1, 1, 1}},
     {{0}}},
    {JP_POOL_AVG3_S1, {{"branch_pool", 1, 1, 1, 0, 0}}, {{0}}},
};
/* InceptionB (Mixed_6a) */
static const branch_spec block_b[] = {
    {JP_POOL_NONE, {{"branch3x3", 3, 3, 2, 0, 0}}, {{0}}},
    {JP_POOL_NONE,
     {{"branch3x3dbl_1", 1, 1, 1, 0, 0}, {"branch3x3dbl_2", 3, 3, 1, 1, 1}, {"branch3x3dbl_3", 3, 3, 2, 0, 0}},
     {{0}}},
    {JP_POOL_MAX3_S2, {{0}}, {{0}}},
};
/* FIDInceptionC */
static const branch_spec block_c[] = {
    {JP_POOL_NONE, {{"branch1x1", 1, 1, 1, 0, 0}}, {{0}}},
    {JP_POOL_NONE,
     {{"branch7x7_1", 1, 1, 1, 0, 0}, {"branch7x7_2", 1, 7, 1, 0, 3}, {"branch7x7_3", 7, 1, 1, 3, 0}},
     {{0}}},
    {JP_POOL_NONE,
     {{"branch7x7dbl_1", 1, 1, 1, 0, 0},
      {"branch7x7dbl_2", 7, 1, 1, 3, 0},
      {"branch7x7dbl_3", 1, 7, 1, 0, 3},
      {"branch7x7dbl_4", 7, 1, 1, 3, 0},
      {"branch7x7dbl_5", 1, 7, 1, 0, 3}},
     {{0}}},
    {JP_POOL_AVG3_S1, {{"branch_pool", 1, 1, 1, 0, 0}}, {{0}}},
};
/* InceptionD (Mixed_7a) */
static const branch_spec block_d[] = {
    {JP_POOL_NONE, {{"branch3x3_1", 1, 1, 1, 0, 0}, {"branch3x3_2", 3, 3, 2, 0, 0}}, {{0}}},
    {JP_POOL_NONE,
     {{"branch7x7x3_1", 1, 1, 1, 0, 0},
      {"branch7x7x3_2", 1, 7, 1, 0, 3},
      {"branch7x7x3_3", 7, 1, 1, 3, 0},
      {"branch7x7x3_4", 3, 3, 2, 0, 0}},
     {{0}}},
    {JP_POOL_MAX3_S2, {{0}}, {{0}}},
};
/* FIDInceptionE_1 (average pool, count_include_pad=False) and E_2 (max pool) */
#define E_BRANCHES                                                                              \
    {JP_POOL_NONE, {{"branch1x1", 1, 1, 1, 0, 0}}, {{0}}},                                     \
    {JP_POOL_NONE, {{"branch3x3_1", 1, 1, 1, 0, 0}},                                           \
     {{"branch3x3_2a", 1, 3, 1, 0, 1}, {"branch3x3_2b", 3, 1, 1, 1, 0}}},                       \
    {JP_POOL_NONE, {{"branch3x3dbl_1", 1, 1, 1, 0, 0}, {"branch3x3dbl_2", 3, 3, 1, 1, 1}},     \
     {{"branch3x3dbl_3a", 1, 3, 1, 0, 1}, {"branch3x3dbl_3b", 3, 1, 1, 1, 0}}}
static const branch_spec block_e1[] = {
    E_BRANCHES,
    {JP_POOL_AVG3_S1, {{"branch_pool", 1, 1, 1, 0, 0}}, {{0}}},
};
static const branch_spec block_e2[] = {
    E_BRANCHES,
    {JP_POOL_MAX3_S1, {{"branch_pool", 1, 1, 1, 0, 0}}, {{0}}},
};

static const block_spec blocks[] = {
    {"Mixed_5b", block_a, 4}, {"Mixed_5c", block_a, 4}, {"Mixed_5d", block_a, 4},
    {"Mixed_6a", block_b, 3}, {"Mixed_6b", block_c, 4}, {"Mixed_6c", block_c, 4},
    {"Mixed_6d", block_c, 4}, {"Mixed_6e", block_c, 4}, {"Mixed_7a", block_d, 3},
    {"Mixed_7b", block_e1, 4}, {"Mixed_7c", block_e2, 4},
};

_Static_assert(sizeof blocks / sizeof *blocks == sizeof ((jp_inception *)0)->blocks / sizeof(jp_inc_block),
               "one jp_inc_block per mixed block");

/* The stem: Conv2d_1a..2b, max pool, 3b, 4a, max pool. */
static const conv_spec stem[5] = {
    {"Conv2d_1a_3x3", 3, 3, 2, 0, 0}, {"Conv2d_2a_3x3", 3, 3, 1, 0, 0}, {"Conv2d_2b_3x3", 3, 3, 1, 1, 1},
    {"Conv2d_3b_1x1", 1, 1, 1, 0, 0}, {"Conv2d_4a_3x3", 3, 3, 1, 0, 0},
};

/* ---- building: channel counts from the weight shapes ------------------------------- */

typedef struct {
    jp_inception *m;
    const jp_st_file *f;
    jp_error *err;
    /* the largest tensor each buffer holds: big[0], big[1] alternate through the stem and
     * between blocks (big[1] also holds the resized input); inside a block tmp[0] holds
     * the pooled input, tmp[1] and tmp[2] alternate along a chain, tmp[3] a tail output */
    size_t big[2], tmp[4];
} builder;

static void grow(size_t *max, const builder *b, int c, int h, int w)
{
    size_t s = jp_act_bytes(&b->m->ctx, b->m->batch, c, h, w);
    if (s > *max) *max = s;
}

static jp_status bad_shape(const builder *b, const char *name, const jp_st_entry *e, const char *want)
{
    char got[128];
    size_t at = 0;
    got[0] = 0;
    for (int i = 0; i < e->ndim && at < sizeof got; i++)
        at += (size_t)snprintf(got + at, sizeof got - at, "%s%lld", i ? "," : "", (long long)e->shape[i]);
    return jp_fail(b->err, JP_ERR_SHAPE, "Inception weights %s: tensor '%s' has shape [%s] (%s), expected %s",
                   b->f->path, name, got, jp_dtype_name(e->dtype), want);
}

/* Checks that an F32 tensor (already checked for dtype and shape) is finite, and for a
 * running variance that var + eps > 0. */
static jp_status check_values(const builder *b, const char *name, int is_var)
{
    const jp_st_entry *e = jp_st_find(b->f, name);
    const unsigned char *p = jp_st_data(b->f, e);
    size_t n = (e->end - e->begin) / sizeof(float);
    for (size_t i = 0; i < n; i++) {
        float v;
        memcpy(&v, p + i * sizeof v, sizeof v);
        if (!isfinite(v) || (is_var && !(v + BN_EPS > 0)))
            return jp_fail(b->err, JP_ERR_NUMERIC, "Inception weights %s: tensor '%s' holds %g at [%zu]%s",
                           b->f->path, name, (double)v, i, is_var ? " (a variance must be > -eps)" : "");
    }
    return JP_OK;
}

/* Adds the BasicConv2d `prefix` reading (cin, h, w): checks its conv weight and BN
 * tensors and reads cout from the weight. Returns the conv index through *idx. */
static jp_status add_conv(builder *b, int *idx, const char *prefix, const conv_spec *cs, int cin, int h, int w)
{
    jp_inception *m = b->m;
    char name[JP_ST_MAX_NAME], want[96];
    JP_CHECK(m->n_convs < JP_INC_MAX_CONVS);
    snprintf(name, sizeof name, "%s.conv.weight", prefix);
    const jp_st_entry *e = jp_st_find(b->f, name);
    if (!e)
        return jp_fail(b->err, JP_ERR_FORMAT, "Inception weights %s: tensor '%s' is missing", b->f->path, name);
    snprintf(want, sizeof want, "F32 [cout,%d,%d,%d]", cin, cs->kh, cs->kw);
    if (e->dtype != JP_F32 || e->ndim != 4 || e->shape[0] < 1 || e->shape[0] > 65536 || e->shape[1] != cin ||
        e->shape[2] != cs->kh || e->shape[3] != cs->kw)
        return bad_shape(b, name, e, want);
    jp_inc_conv *c = &m->convs[m->n_convs];
    snprintf(c->name, sizeof c->name, "%s", prefix);
    c->cin = cin;
    c->cout = (int)e->shape[0];
    c->kh = cs->kh;
    c->kw = cs->kw;
    c->sh = c->sw = cs->s;
    c->ph = cs->ph;
    c->pw = cs->pw;
    c->h = h;
    c->w = w;
    c->oh = (h + 2 * c->ph - c->kh) / c->sh + 1;
    c->ow = (w + 2 * c->pw - c->kw) / c->sw + 1;
    int B = m->ctx.act_block;
    c->cin_p = m->n_convs == 0 ? cin : (cin + B - 1) / B * B;
    c->cout_p = (c->cout + B - 1) / B * B;
    jp_status st = check_values(b, name, 0);
    if (st) return st;
    static const char *bn[4] = {"weight", "bias", "running_mean", "running_var"};
    int64_t shape[1] = {c->cout};
    for (int i = 0; i < 4 && !st; i++) {
        snprintf(name, sizeof name, "%s.bn.%s", prefix, bn[i]);
        st = jp_st_get(b->f, name, JP_F32, 1, shape, NULL, b->err);
        if (!st) st = check_values(b, name, i == 3);
    }
    if (st) return st;
    *idx = m->n_convs++;
    return JP_OK;
}

static void pool_out(jp_pool_kind k, int h, int w, int *oh, int *ow)
{
    *oh = k == JP_POOL_MAX3_S2 ? (h - 3) / 2 + 1 : h;
    *ow = k == JP_POOL_MAX3_S2 ? (w - 3) / 2 + 1 : w;
}

static jp_status add_block(builder *b, jp_inc_block *blk, const block_spec *spec, int cin, int h, int w,
                           size_t *out_bytes)
{
    snprintf(blk->name, sizeof blk->name, "%s", spec->name);
    blk->cin = cin;
    blk->h = h;
    blk->w = w;
    blk->n_branch = spec->n_br;
    blk->oh = blk->ow = -1;
    int cout = 0;
    char prefix[64];
    for (int i = 0; i < spec->n_br; i++) {
        const branch_spec *bs = &spec->br[i];
        jp_inc_branch *br = &blk->br[i];
        int c = cin, ch = h, cw = w;
        br->pool = bs->pool;
        if (bs->pool) {
            pool_out(bs->pool, h, w, &ch, &cw);
            grow(&b->tmp[0], b, c, ch, cw);
        }
        for (int j = 0; j < JP_INC_MAX_CHAIN && bs->chain[j].name; j++) {
            snprintf(prefix, sizeof prefix, "%s.%s", spec->name, bs->chain[j].name);
            jp_status st = add_conv(b, &br->chain[j], prefix, &bs->chain[j], c, ch, cw);
            if (st) return st;
            const jp_inc_conv *cv = &b->m->convs[br->chain[j]];
            c = cv->cout, ch = cv->oh, cw = cv->ow;
            grow(&b->tmp[1], b, c, ch, cw);
            grow(&b->tmp[2], b, c, ch, cw);
            br->n_chain++;
        }
        int piece = c;
        if (bs->tails[0].name) {
            piece = 0;
            for (int j = 0; j < JP_INC_MAX_TAILS && bs->tails[j].name; j++) {
                snprintf(prefix, sizeof prefix, "%s.%s", spec->name, bs->tails[j].name);
                jp_status st = add_conv(b, &br->tails[j], prefix, &bs->tails[j], c, ch, cw);
                if (st) return st;
                const jp_inc_conv *cv = &b->m->convs[br->tails[j]];
                JP_CHECK(cv->oh == ch && cv->ow == cw);
                grow(&b->tmp[3], b, cv->cout, ch, cw);
                piece += cv->cout;
                br->n_tails++;
            }
        }
        if (blk->oh < 0) blk->oh = ch, blk->ow = cw;
        JP_CHECK(blk->oh == ch && blk->ow == cw); /* fixed by the architecture */
        cout += piece;
    }
    blk->cout = cout;
    grow(out_bytes, b, cout, blk->oh, blk->ow);
    return JP_OK;
}

static jp_status build(builder *b)
{
    jp_inception *m = b->m;
    int c = 3, h = JP_INC_SIZE, w = JP_INC_SIZE;
    /* the stem (inception_pass.c) writes 1a, 2b, 3b and pool2 into big[0], the input, 2a,
     * pool1 and 4a into big[1] */
    static const int conv_buf[5] = {0, 1, 0, 0, 1};
    b->big[1] = (size_t)m->batch * 3 * JP_INC_SIZE * JP_INC_SIZE * sizeof(float);
    for (int i = 0; i < 5; i++) {
        jp_status st = add_conv(b, &m->stem[i], stem[i].name, &stem[i], c, h, w);
        if (st) return st;
        const jp_inc_conv *cv = &m->convs[m->stem[i]];
        c = cv->cout, h = cv->oh, w = cv->ow;
        grow(&b->big[conv_buf[i]], b, c, h, w);
        if (i == 2 || i == 4) { /* max pool 3x3, stride 2, into the other buffer */
            pool_out(JP_POOL_MAX3_S2, h, w, &h, &w);
            grow(&b->big[1 - conv_buf[i]], b, c, h, w);
        }
    }
    for (size_t i = 0; i < sizeof blocks / sizeof *blocks; i++) {
        jp_inc_block *blk = &m->blocks[m->n_blocks];
        jp_status st = add_block(b, blk, &blocks[i], c, h, w, &b->big[(i + 1) % 2]);
        if (st) return st;
        m->n_blocks++;
        c = blk->cout, h = blk->oh, w = blk->ow;
    }
    m->feat_dim = c;
    m->final_h = h;
    m->final_w = w;
    /* the logits layer is optional (no Inception Score without it) */
    const jp_st_entry *e = jp_st_find(b->f, "fc.weight");
    if (e) {
        char want[64];
        snprintf(want, sizeof want, "F32 [classes,%d]", c);
        if (e->dtype != JP_F32 || e->ndim != 2 || e->shape[1] != c || e->shape[0] < 1 || e->shape[0] > 100000)
            return bad_shape(b, "fc.weight", e, want);
        m->n_classes = (int)e->shape[0];
        int64_t shape[1] = {m->n_classes};
        jp_status st = jp_st_get(b->f, "fc.bias", JP_F32, 1, shape, NULL, b->err);
        if (!st) st = check_values(b, "fc.weight", 0);
        if (!st) st = check_values(b, "fc.bias", 0);
        if (st) return st;
    }
    return JP_OK;
}

/* ---- plans, memory, weights ------------------------------------------------------ */

static jp_status make_plans(jp_inception *m, jp_error *err)
{
    for (int i = 0; i < m->n_convs; i++) {
        jp_inc_conv *c = &m->convs[i];
        jp_conv_shape s;
        jp_status st = jp_conv_shape_init(&s, m->batch, c->cin_p, c->h, c->w, c->cout_p, c->kh, c->kw, c->sh,
                                          c->sw, c->ph, c->pw, err);
        if (st) return st;
        int plain = i == m->stem[0];
        for (int j = 0; j < m->n_plans && !c->plan; j++)
            if (!memcmp(&m->plans[j].s, &s, sizeof s) && m->plans[j].src_plain == plain) c->plan = &m->plans[j];
        if (c->plan) continue;
        JP_CHECK(m->n_plans < JP_INC_MAX_PLANS);
        jp_conv_opts o = {.src_plain = plain, .relu = 1, .impl = JP_CONV_ONEDNN_DIRECT};
        st = jp_conv_plan_init(&m->plans[m->n_plans], &m->ctx, &s, &o, err);
        if (st) return st;
        c->plan = &m->plans[m->n_plans++];
    }
    return jp_ctx_finalize(&m->ctx, err);
}

static void carve(jp_inception *m, jp_arena *wa, jp_arena *aa, const builder *b)
{
    size_t N = (size_t)m->batch, F = (size_t)m->feat_dim, K = (size_t)m->n_classes;
    for (int i = 0; i < m->n_convs; i++) {
        jp_inc_conv *c = &m->convs[i];
        c->wfwd = jp_arena_take(wa, c->plan->w_bytes);
        c->bias = jp_arena_take(wa, (size_t)c->cout_p * sizeof(float));
    }
    m->fc_w = K ? jp_arena_take(wa, K * F * sizeof(float)) : NULL;
    m->fc_b = K ? jp_arena_take(wa, K * sizeof(float)) : NULL;
    for (int i = 0; i < 2; i++) m->big[i] = jp_arena_take(aa, m->big_bytes[i] = b->big[i]);
    m->x299 = m->big[1]; /* read only by Conv2d_1a, which writes big[0] */
    for (int i = 0; i < 4; i++) m->tmp[i] = jp_arena_take(aa, m->tmp_bytes[i] = b->tmp[i]);
    m->feats = jp_arena_take(aa, N * F * sizeof(float));
    m->logits = K ? jp_arena_take(aa, N * K * sizeof(float)) : NULL;
    m->probs = K ? jp_arena_take(aa, N * K * sizeof(float)) : NULL;
}

/* w' = w * g / sqrt(v + eps),  b' = beta - mean * g / sqrt(v + eps), written into the
 * padded (cout_p, cin_p, kh, kw) weights (zeros outside) and reordered for the plan. */
static jp_status fold_conv(const jp_st_file *f, jp_inc_conv *c, float *w, float *wp, float *bn,
                           jp_error *err)
{
    char name[JP_ST_MAX_NAME];
    size_t kk = (size_t)c->kh * c->kw, per = (size_t)c->cin * kk, per_p = (size_t)c->cin_p * kk;
    size_t co = (size_t)c->cout;
    int64_t wshape[4] = {c->cout, c->cin, c->kh, c->kw}, vshape[1] = {c->cout};
    snprintf(name, sizeof name, "%s.conv.weight", c->name);
    jp_status st = jp_st_get(f, name, JP_F32, 4, wshape, w, err);
    static const char *leaf[4] = {"weight", "bias", "running_mean", "running_var"};
    for (int i = 0; i < 4 && !st; i++) {
        snprintf(name, sizeof name, "%s.bn.%s", c->name, leaf[i]);
        st = jp_st_get(f, name, JP_F32, 1, vshape, bn + i * co, err);
    }
    if (st) return st;
    memset(wp, 0, (size_t)c->cout_p * per_p * sizeof(float));
    memset(c->bias, 0, (size_t)c->cout_p * sizeof(float));
    for (size_t o = 0; o < co; o++) {
        double s = (double)bn[o] / sqrt((double)bn[3 * co + o] + BN_EPS);
        for (size_t k = 0; k < per; k++) wp[o * per_p + k] = (float)((double)w[o * per + k] * s);
        c->bias[o] = (float)((double)bn[co + o] - (double)bn[2 * co + o] * s);
    }
    jp_conv_prepare_weights(c->plan, c->wfwd, NULL, wp);
    return JP_OK;
}

static jp_status load_weights(jp_inception *m, const jp_st_file *f, jp_error *err)
{
    size_t wmax = 0, cmax = 0;
    for (int i = 0; i < m->n_convs; i++) {
        const jp_inc_conv *c = &m->convs[i];
        size_t n = (size_t)c->cout_p * c->cin_p * c->kh * c->kw;
        if (n > wmax) wmax = n;
        if ((size_t)c->cout > cmax) cmax = (size_t)c->cout;
    }
    float *w = malloc(2 * wmax * sizeof(float)), *bn = malloc(4 * cmax * sizeof(float));
    jp_status st = w && bn ? JP_OK : jp_fail(err, JP_ERR_NOMEM, "Inception weights: %zu floats", 2 * wmax);
    for (int i = 0; i < m->n_convs && !st; i++) st = fold_conv(f, &m->convs[i], w, w + wmax, bn, err);
    free(w);
    free(bn);
    if (st || !m->n_classes) return st;
    int64_t ws[2] = {m->n_classes, m->feat_dim}, bs[1] = {m->n_classes};
    st = jp_st_get(f, "fc.weight", JP_F32, 2, ws, m->fc_w, err);
    if (!st) st = jp_st_get(f, "fc.bias", JP_F32, 1, bs, m->fc_b, err);
    return st;
}

jp_status jp_inception_load(jp_inception **out, const char *weights_path, int batch, jp_error *err)
{
    *out = NULL;
    if (batch < 1 || batch > 4096)
        return jp_fail(err, JP_ERR_ARG, "Inception batch size %d: must be between 1 and 4096", batch);
    jp_st_file f;
    jp_status st = jp_st_read(&f, weights_path, err);
    if (st) {
        if (err) {
            char msg[sizeof err->msg];
            snprintf(msg, sizeof msg, "%s", err->msg);
            jp_fail(err, st, "%s (the FID Inception weights: tools/convert_inception.py makes them, "
                    "see docs/evaluation.md, \"FID weights\")", msg);
        }
        return st;
    }
    jp_inception *m = calloc(1, sizeof *m);
    if (!m) {
        jp_st_close(&f);
        return jp_fail(err, JP_ERR_NOMEM, "Inception model struct");
    }
    m->batch = batch;
    st = jp_ctx_init(&m->ctx, 0, err);
    builder b = {m, &f, err, {0, 0}, {0, 0, 0, 0}};
    if (!st) st = build(&b);
    if (!st) st = make_plans(m, err);
    if (!st) {
        jp_arena wmeasure, ameasure;
        jp_arena_init(&wmeasure, 0);
        jp_arena_init(&ameasure, 0);
        carve(m, &wmeasure, &ameasure, &b);
        if (jp_dev_arena_init(m->ctx.dev, &m->weight_arena, wmeasure.used) ||
            jp_dev_arena_init(m->ctx.dev, &m->act_arena, ameasure.used))
            st = jp_fail(err, JP_ERR_NOMEM, "Inception memory for batch %d: %zu MiB of activations, "
                         "%zu MiB of weights", batch, ameasure.used >> 20, wmeasure.used >> 20);
        else
            carve(m, &m->weight_arena, &m->act_arena, &b);
    }
    if (!st) st = load_weights(m, &f, err);
    jp_st_close(&f);
    if (st) {
        jp_inception_free(m);
        return st;
    }
    *out = m;
    return JP_OK;
}

void jp_inception_free(jp_inception *m)
{
    if (!m) return;
    for (int i = 0; i < m->n_plans; i++) jp_conv_plan_free(&m->plans[i]);
    if (m->ctx.dev) {
        jp_dev_arena_free(m->ctx.dev, &m->weight_arena);
        jp_dev_arena_free(m->ctx.dev, &m->act_arena);
    }
    jp_ctx_free(&m->ctx);
    free(m);
}

int jp_inception_batch(const jp_inception *m) { return m->batch; }
int jp_inception_feature_dim(const jp_inception *m) { return m->feat_dim; }
int jp_inception_n_classes(const jp_inception *m) { return m->n_classes; }
const float *jp_inception_probs(const jp_inception *m) { return m->n_classes ? m->probs : NULL; }

void jp_inception_describe(const jp_inception *m, char *buf, size_t len)
{
    size_t at = 0;
    if (len) buf[0] = 0;
    if (len)
        at += (size_t)snprintf(buf, len, "Inception: batch %d, %d convolutions, %d features, %d classes, "
                               "%zu MiB of activations, %zu MiB of weights\n", m->batch, m->n_convs, m->feat_dim,
                               m->n_classes, m->act_arena.size >> 20, m->weight_arena.size >> 20);
    for (int i = 0; i < m->n_plans && at < len; i++) {
        const jp_conv_plan *p = &m->plans[i];
        at += (size_t)snprintf(buf + at, len - at, "conv %dx%d %d->%d s%d %dx%d: %s\n", p->s.kh, p->s.kw,
                               p->s.cin, p->s.cout, p->s.sh, p->s.h, p->s.w, jp_conv_kernel(p, 0));
    }
}
