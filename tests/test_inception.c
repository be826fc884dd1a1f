/* The FID Inception-v3 against PyTorch 1.13 (tools/gen_inception_ref.py).
 *
 * Always (committed files, channel counts divided by 8):
 *   tests/data/inception_rand.safetensors  random weights, state_dict names of the real file
 *   tests/data/inception_ref.safetensors   inputs, F.interpolate cases, features, probs
 * checks: bilinear resize == F.interpolate(align_corners=False) on its own (up, down,
 * non-square, identity, 32 -> 299); pooling and channel concatenation on the blocked
 * layout (blocks of 8 and 16) against plain loops; pool3 features, the stem and Mixed_6e
 * activations and the softmax probabilities against PyTorch; fewer images than the
 * batch; gray images == the same images repeated over 3 channels; bad weights files
 * (missing tensor, wrong shape, NaN, no file, no logits layer) and bad arguments.
 *
 * Optional, full size (24M parameters, the real architecture; generated at test time
 * into the build folder, never committed): run with --full or JEMPP_INCEPTION_FULL=1.
 * Needs /usr/bin/python3 with torch: reported SKIPPED (ctest's skip code) when absent, a failure when
 * JEMPP_REQUIRE_TORCH=1. Also times the forward pass (images/s at 299x299; batch from
 * JEMPP_INCEPTION_BENCH_BATCH, default 16). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jempp/inception.h"
#include "jempp/safetensors.h"
#include "nn/inception_internal.h"
#include "testutil.h"

/* Features: |C - torch| <= FEAT_ATOL * max|ref| + FEAT_RTOL * |ref|. Both are float32
 * computations of ~100 layers: on the committed network PyTorch's own float32 features
 * are 7e-5 from its float64 ones (max |feature| 8), on the full-size one 1e-4 (max 4).
 * Also checked: the C features are no further from the float64 ones than twice
 * PyTorch's float32 distance. */
#define FEAT_ATOL 3e-5
#define FEAT_RTOL 1e-4
/* Intermediate activations (stem, Mixed_6e) grow to ~10 and float32 rounding grows with
 * depth: PyTorch's own float32 Mixed_6e is 4e-4 from its float64 value on the committed
 * network. Their atol is ACT_ATOL times the tensor's largest |ref|. A wrong pooling edge,
 * kernel orientation or concatenation order gives differences of order 0.1-1. */
#define ACT_ATOL 1e-4
#define ACT_RTOL 1e-4
#define RESIZE_ATOL 1e-6
#define RESIZE_RTOL 1e-5

static void check_resize(tu_ctx *t, const jp_st_file *ref)
{
    for (int k = 0; k < 4; k++) {
        char name[64];
        snprintf(name, sizeof name, "resize.%d.in", k);
        const jp_st_entry *ei = jp_st_find(ref, name);
        snprintf(name, sizeof name, "resize.%d.out", k);
        const jp_st_entry *eo = jp_st_find(ref, name);
        if (!ei || !eo) {
            tu_check(t, 0, "reference has resize case %d", k);
            continue;
        }
        size_t cnt;
        snprintf(name, sizeof name, "resize.%d.in", k);
        float *in = tu_ref_f32(ref, name, NULL);
        snprintf(name, sizeof name, "resize.%d.out", k);
        float *want = tu_ref_f32(ref, name, &cnt);
        float *got = malloc(cnt * sizeof(float));
        int n = (int)ei->shape[0], c = (int)ei->shape[1], h = (int)ei->shape[2], w = (int)ei->shape[3];
        int oh = (int)eo->shape[2], ow = (int)eo->shape[3];
        jp_resize_bilinear(got, in, n, c, h, w, oh, ow);
        char what[96];
        snprintf(what, sizeof what, "resize %dx%dx%dx%d -> %dx%d", n, c, h, w, oh, ow);
        tu_close(t, what, got, want, cnt, RESIZE_ATOL, RESIZE_RTOL);
        free(in);
        free(want);
        free(got);
    }
}

/* ---- blocked-layout kernels against plain loops ------------------------------------ */

static void to_blocked(float *dst, const float *src, int n, int c, int hw, int B)
{
    int nb = (c + B - 1) / B;
    for (int i = 0; i < n; i++)
        for (int b = 0; b < nb; b++)
            for (int q = 0; q < hw; q++)
                for (int k = 0; k < B; k++) {
                    int ch = b * B + k;
                    dst[(((size_t)i * nb + b) * hw + q) * B + k] = ch < c ? src[((size_t)i * c + ch) * hw + q] : 0.0f;
                }
}

/* plain 3x3 pool, as torch (avg: count_include_pad=False; max: -inf padding) */
static void ref_pool(float *dst, const float *src, jp_pool_kind kind, int planes, int h, int w)
{
    int s = kind == JP_POOL_MAX3_S2 ? 2 : 1, p = s == 1 ? 1 : 0;
    int oh = (h + 2 * p - 3) / s + 1, ow = (w + 2 * p - 3) / s + 1;
    for (int pl = 0; pl < planes; pl++)
        for (int y = 0; y < oh; y++)
            for (int x = 0; x < ow; x++) {
                double acc = kind == JP_POOL_AVG3_S1 ? 0 : -INFINITY;
                int cnt = 0;
                for (int i = 0; i < 3; i++)
                    for (int j = 0; j < 3; j++) {
                        int yy = y * s - p + i, xx = x * s - p + j;
                        if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
                        double v = src[((size_t)pl * h + yy) * w + xx];
                        if (kind == JP_POOL_AVG3_S1) acc += v;
                        else if (v > acc) acc = v;
                        cnt++;
                    }
                dst[((size_t)pl * oh + y) * ow + x] = (float)(kind == JP_POOL_AVG3_S1 ? acc / cnt : acc);
            }
}

static void check_blocked_kernels(tu_ctx *t)
{
    jp_rng rng;
    jp_rng_seed(&rng, 11);
    int n = 2, h = 7, w = 6, hw = h * w;
    for (int B = 8; B <= 16; B += 8) {
        /* pooling: 13 channels (a partial block) */
        int c = 13, nb = (c + B - 1) / B;
        size_t plain = (size_t)n * c * hw, blocked = (size_t)n * nb * B * hw;
        float *x = malloc(plain * sizeof(float)), *xb = malloc(blocked * sizeof(float));
        float *yb = malloc(blocked * sizeof(float)), *y = malloc(plain * sizeof(float));
        float *want = malloc(plain * sizeof(float)), *wantb = malloc(blocked * sizeof(float));
        jp_rng_fill_uniform(&rng, x, plain, -1, 1);
        to_blocked(xb, x, n, c, hw, B);
        jp_pool_kind kinds[3] = {JP_POOL_AVG3_S1, JP_POOL_MAX3_S1, JP_POOL_MAX3_S2};
        const char *names[3] = {"avg3 s1 p1 (exclude pad)", "max3 s1 p1", "max3 s2"};
        for (int k = 0; k < 3; k++) {
            int s = kinds[k] == JP_POOL_MAX3_S2 ? 2 : 1, p = s == 1;
            int ohw = ((h + 2 * p - 3) / s + 1) * ((w + 2 * p - 3) / s + 1);
            memset(yb, 0x7f, blocked * sizeof(float));
            jp_inc_pool(yb, xb, kinds[k], n, c, h, w, B);
            ref_pool(want, x, kinds[k], n * c, h, w);
            to_blocked(wantb, want, n, c, ohw, B); /* padded lanes 0 */
            char what[96];
            snprintf(what, sizeof what, "blocked pool %s, block %d", names[k], B);
            tu_close(t, what, yb, wantb, (size_t)n * nb * B * ohw, 1e-6, 1e-6);
        }
        free(x), free(xb), free(yb), free(y), free(want), free(wantb);

        /* concatenation of pieces of 5, 8, 3 and 16 channels (unaligned and aligned) */
        int cs[4] = {5, 8, 3, 16}, cd = 32, nbd = (cd + B - 1) / B;
        float *cat = malloc((size_t)n * cd * hw * sizeof(float));
        float *catb_want = malloc((size_t)n * nbd * B * hw * sizeof(float));
        float *catb = malloc((size_t)n * nbd * B * hw * sizeof(float));
        memset(catb, 0x7f, (size_t)n * nbd * B * hw * sizeof(float)); /* garbage lanes */
        int off = 0;
        for (int k = 0; k < 4; k++) {
            int nbs = (cs[k] + B - 1) / B;
            float *pp = malloc((size_t)n * cs[k] * hw * sizeof(float));
            float *pb = malloc((size_t)n * nbs * B * hw * sizeof(float));
            jp_rng_fill_uniform(&rng, pp, (size_t)n * cs[k] * hw, -1, 1);
            to_blocked(pb, pp, n, cs[k], hw, B);
            for (int i = 0; i < n; i++)
                memcpy(cat + ((size_t)i * cd + off) * hw, pp + (size_t)i * cs[k] * hw,
                       (size_t)cs[k] * hw * sizeof(float));
            jp_inc_concat(catb, cd, off, pb, cs[k], n, h, w, B);
            off += cs[k];
            free(pp), free(pb);
        }
        to_blocked(catb_want, cat, n, cd, hw, B);
        char what[96];
        snprintf(what, sizeof what, "blocked concat 5+8+3+16, block %d", B);
        tu_close(t, what, catb, catb_want, (size_t)n * nbd * B * hw, 0, 0);
        /* 29 channels: the padded lanes of the last block must end up 0 */
        int cs2[2] = {13, 16};
        int cd2 = 29, nbd2 = (cd2 + B - 1) / B;
        memset(catb, 0x7f, (size_t)n * nbd2 * B * hw * sizeof(float));
        off = 0;
        for (int k = 0; k < 2; k++) {
            int nbs = (cs2[k] + B - 1) / B;
            float *pb = calloc((size_t)n * nbs * B * hw, sizeof(float));
            float *pp = malloc((size_t)n * cs2[k] * hw * sizeof(float));
            jp_rng_fill_uniform(&rng, pp, (size_t)n * cs2[k] * hw, -1, 1);
            to_blocked(pb, pp, n, cs2[k], hw, B);
            jp_inc_concat(catb, cd2, off, pb, cs2[k], n, h, w, B);
            off += cs2[k];
            free(pp), free(pb);
        }
        int lanes_zero = 1;
        for (int i = 0; i < n; i++)
            for (int q = 0; q < hw; q++)
                for (int k = cd2 % B; k < B; k++)
                    if (catb[(((size_t)i * nbd2 + nbd2 - 1) * hw + q) * B + k] != 0.0f) lanes_zero = 0;
        tu_check(t, lanes_zero, "blocked concat 13+16 (29 channels), block %d: padded lanes are 0", B);
        free(cat), free(catb), free(catb_want);
    }
}

/* ---- the network against PyTorch ----------------------------------------------------- */

typedef struct {
    double feats, probs, stem, m6e, fewer, gray, c_vs_f64, torch_vs_f64;
} maxdiffs;

static double max_abs(const float *x, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        if (fabs(x[i]) > m) m = fabs(x[i]);
    return m;
}

/* Loads `weights`, runs the reference images, compares with `ref`. Returns 0 when the
 * network could not be loaded (already reported). */
static int check_network(tu_ctx *t, const char *weights, const jp_st_file *ref, const char *tag, maxdiffs *md,
                         int debug)
{
    jp_error err;
    jp_inception *m = NULL;
    jp_status st = jp_inception_load(&m, weights, 2, &err);
    tu_check(t, st == JP_OK, "%s: load %s%s%s", tag, weights, st ? ": " : "", st ? err.msg : "");
    if (st) return 0;
    size_t nf, np, nx;
    float *x = tu_ref_f32(ref, "x", &nx);
    float *want = tu_ref_f32(ref, "feats", &nf);
    float *pwant = tu_ref_f32(ref, "probs", &np);
    int F = jp_inception_feature_dim(m), K = jp_inception_n_classes(m);
    tu_check(t, (size_t)2 * F == nf && (size_t)2 * K == np, "%s: feature dim %d, %d classes from the weight shapes",
             tag, F, K);
    if ((size_t)2 * F != nf || (size_t)2 * K != np) {
        jp_inception_free(m);
        free(x), free(want), free(pwant);
        return 0;
    }
    float *feats = malloc(nf * sizeof(float));
    size_t ns = 0, n6 = 0;
    float *stem_want = NULL, *m6e_want = NULL, *stem = NULL, *m6e = NULL;
    if (debug) {
        stem_want = tu_ref_f32(ref, "stem", &ns);
        m6e_want = tu_ref_f32(ref, "mixed_6e", &n6);
        stem = malloc(ns * sizeof(float));
        m6e = malloc(n6 * sizeof(float));
        m->debug_stem = stem;
        m->debug_6e = m6e;
    }
    double t0 = jp_now();
    st = jp_inception_features(m, feats, x, 2, 3, 32, 32, &err);
    double dt = jp_now() - t0;
    tu_check(t, st == JP_OK, "%s: features of 2 images 3x32x32 (%.3f s)", tag, dt);
    char what[96];
    if (debug) {
        snprintf(what, sizeof what, "%s: stem (after maxpool2)", tag);
        tu_close(t, what, stem, stem_want, ns, ACT_ATOL * max_abs(stem_want, ns), ACT_RTOL);
        md->stem = tu_max_abs_diff(stem, stem_want, ns);
        snprintf(what, sizeof what, "%s: Mixed_6e", tag);
        tu_close(t, what, m6e, m6e_want, n6, ACT_ATOL * max_abs(m6e_want, n6), ACT_RTOL);
        md->m6e = tu_max_abs_diff(m6e, m6e_want, n6);
        m->debug_stem = m->debug_6e = NULL;
    }
    snprintf(what, sizeof what, "%s: pool3 features", tag);
    tu_close(t, what, feats, want, nf, FEAT_ATOL * max_abs(want, nf), FEAT_RTOL);
    md->feats = tu_max_abs_diff(feats, want, nf);
    if (jp_st_find(ref, "feats64")) {
        float *f64 = tu_ref_f32(ref, "feats64", NULL);
        md->c_vs_f64 = tu_max_abs_diff(feats, f64, nf);
        md->torch_vs_f64 = tu_max_abs_diff(want, f64, nf);
        tu_check(t, md->c_vs_f64 <= 2 * md->torch_vs_f64 + 1e-6 * max_abs(f64, nf),
                 "%s: features vs float64 PyTorch: C %.3g, float32 PyTorch %.3g (max |feature| %.3g)", tag,
                 md->c_vs_f64, md->torch_vs_f64, max_abs(f64, nf));
        free(f64);
    }
    const float *probs = jp_inception_probs(m);
    tu_check(t, probs != NULL, "%s: probabilities available", tag);
    if (probs) {
        snprintf(what, sizeof what, "%s: softmax(fc(features))", tag);
        tu_close(t, what, probs, pwant, np, 1e-7, FEAT_RTOL);
        md->probs = tu_max_abs_diff(probs, pwant, np);
    }
    jp_inception_free(m);
    free(x), free(want), free(pwant), free(feats), free(stem_want), free(m6e_want), free(stem), free(m6e);
    return 1;
}

/* Fewer images than the batch, and gray images. */
static void check_fewer_and_gray(tu_ctx *t, const char *weights, const jp_st_file *ref, maxdiffs *md)
{
    jp_error err;
    jp_inception *m = NULL;
    if (jp_inception_load(&m, weights, 3, &err)) {
        tu_check(t, 0, "load with batch 3: %s", err.msg);
        return;
    }
    size_t nf, nx;
    float *x = tu_ref_f32(ref, "x", &nx);
    float *want = tu_ref_f32(ref, "feats", &nf);
    int F = jp_inception_feature_dim(m);
    float *f1 = malloc(3 * (size_t)F * sizeof(float)), *f2 = malloc(3 * (size_t)F * sizeof(float));
    /* the second image alone, in a batch of 3 */
    jp_status st = jp_inception_features(m, f1, x + nx / 2, 1, 3, 32, 32, &err);
    tu_check(t, st == JP_OK, "1 image in a batch of 3");
    tu_close(t, "1 of 3: features == PyTorch's second row", f1, want + F, (size_t)F,
             FEAT_ATOL * max_abs(want, nf), FEAT_RTOL);
    md->fewer = tu_max_abs_diff(f1, want + F, (size_t)F);
    /* gray: channel 0 of both images, vs the same repeated over 3 channels */
    size_t P = 32 * 32;
    float *g = malloc(2 * P * sizeof(float)), *g3 = malloc(6 * P * sizeof(float));
    for (int i = 0; i < 2; i++) {
        memcpy(g + i * P, x + i * 3 * P, P * sizeof(float));
        for (int c = 0; c < 3; c++) memcpy(g3 + (i * 3 + c) * P, x + i * 3 * P, P * sizeof(float));
    }
    st = jp_inception_features(m, f1, g, 2, 1, 32, 32, &err);
    tu_check(t, st == JP_OK, "gray images (2x1x32x32)");
    st = jp_inception_features(m, f2, g3, 2, 3, 32, 32, &err);
    tu_close(t, "gray == repeated over 3 channels", f1, f2, 2 * (size_t)F, 1e-6, 1e-6);
    md->gray = tu_max_abs_diff(f1, f2, 2 * (size_t)F);
    /* bad arguments */
    st = jp_inception_features(m, f1, g3, 4, 3, 32, 32, &err);
    tu_check(t, st == JP_ERR_ARG, "4 images for a batch of 3 refused: %s", st ? err.msg : "accepted");
    st = jp_inception_features(m, f1, g3, 1, 2, 32, 32, &err);
    tu_check(t, st == JP_ERR_SHAPE, "2 channels refused: %s", st ? err.msg : "accepted");
    jp_inception_free(m);
    free(x), free(want), free(f1), free(f2), free(g), free(g3);
}

/* ---- bad weights files ----------------------------------------------------------------- */

typedef enum { EDIT_DROP, EDIT_SHAPE, EDIT_NAN } edit_kind;

/* Writes a copy of `src` with one tensor dropped, given a wrong kernel shape (same data
 * size: [cout, cin, kh, kw] -> [cout, cin*kh, 1, kw]), or NaN-filled. */
static int write_edited(const jp_st_file *src, const char *path, const char *name, edit_kind kind)
{
    jp_st_writer wr;
    jp_st_writer_init(&wr);
    float *nan_copy = NULL;
    int64_t shape[JP_ST_MAX_DIMS];
    for (int i = 0; i < src->count; i++) {
        const jp_st_entry *e = &src->entries[i];
        const void *data = jp_st_data(src, e);
        memcpy(shape, e->shape, sizeof shape);
        if (!strcmp(e->name, name)) {
            if (kind == EDIT_DROP) continue;
            if (kind == EDIT_SHAPE) {
                shape[1] = e->shape[1] * e->shape[2];
                shape[2] = 1;
            }
            if (kind == EDIT_NAN) {
                size_t n = (e->end - e->begin) / 4;
                nan_copy = malloc(n * sizeof(float));
                memcpy(nan_copy, data, n * sizeof(float));
                nan_copy[n / 2] = NAN;
                data = nan_copy;
            }
        }
        jp_st_writer_add(&wr, e->name, e->dtype, e->ndim, shape, data);
    }
    jp_error err;
    jp_status st = jp_st_writer_save(&wr, path, &err);
    jp_st_writer_free(&wr);
    free(nan_copy);
    return st == JP_OK;
}

static void check_bad_weights(tu_ctx *t, const char *weights)
{
    jp_st_file src;
    jp_error err;
    if (jp_st_read(&src, weights, &err)) {
        tu_check(t, 0, "read %s: %s", weights, err.msg);
        return;
    }
    char dir[512], path[700];
    tu_tmpdir(dir, sizeof dir, "inception");
    snprintf(path, sizeof path, "%s/edited.safetensors", dir);
    struct {
        const char *name;
        edit_kind kind;
        jp_status want;
        const char *label;
    } cases[] = {
        {"Mixed_6c.branch7x7dbl_3.bn.running_var", EDIT_DROP, JP_ERR_FORMAT, "missing BN tensor"},
        {"Mixed_7c.branch3x3dbl_3b.conv.weight", EDIT_DROP, JP_ERR_FORMAT, "missing conv weight"},
        {"Mixed_5b.branch5x5_2.conv.weight", EDIT_SHAPE, JP_ERR_SHAPE, "conv weight of the wrong kernel size"},
        {"Conv2d_4a_3x3.conv.weight", EDIT_NAN, JP_ERR_NUMERIC, "NaN in a conv weight"},
        {"Mixed_6a.branch3x3.bn.running_mean", EDIT_NAN, JP_ERR_NUMERIC, "NaN in a BN statistic"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        if (!write_edited(&src, path, cases[i].name, cases[i].kind)) {
            tu_check(t, 0, "write %s", path);
            continue;
        }
        jp_inception *m = NULL;
        jp_status st = jp_inception_load(&m, path, 1, &err);
        tu_check(t, st == cases[i].want && strstr(err.msg, cases[i].name) && m == NULL, "%s refused (%s): %s",
                 cases[i].label, jp_status_name(st), st ? err.msg : "accepted");
        jp_inception_free(m);
    }
    /* a BN vector of the wrong length (a different tensor than its conv's cout) */
    {
        const jp_st_entry *bn = jp_st_find(&src, "Conv2d_1a_3x3.bn.weight");
        jp_status st = tu_st_copy_edited(&src, path, "Conv2d_1a_3x3.bn.weight", bn ? bn->shape[0] - 1 : 0, NULL, &err);
        jp_inception *m = NULL;
        if (!st) st = jp_inception_load(&m, path, 1, &err);
        tu_check(t, st == JP_ERR_SHAPE && strstr(err.msg, "Conv2d_1a_3x3.bn.weight"),
                 "BN vector of the wrong length refused: %s", st ? err.msg : "accepted");
        jp_inception_free(m);
    }
    /* no logits layer: features still work, no probabilities */
    if (write_edited(&src, path, "fc.weight", EDIT_DROP)) {
        jp_inception *m = NULL;
        jp_status st = jp_inception_load(&m, path, 1, &err);
        tu_check(t, st == JP_OK && jp_inception_probs(m) == NULL && jp_inception_n_classes(m) == 0,
                 "no fc.weight: loads, probabilities NULL%s%s", st ? ": " : "", st ? err.msg : "");
        jp_inception_free(m);
    }
    /* no file */
    snprintf(path, sizeof path, "%s/absent.safetensors", dir);
    jp_inception *m = NULL;
    jp_status st = jp_inception_load(&m, path, 1, &err);
    tu_check(t, st == JP_ERR_IO && strstr(err.msg, "absent.safetensors") && strstr(err.msg, "evaluation.md"),
             "missing weights file refused: %s", st ? err.msg : "accepted");
    st = jp_inception_load(&m, weights, 0, &err);
    tu_check(t, st == JP_ERR_ARG, "batch 0 refused: %s", st ? err.msg : "accepted");
    jp_st_close(&src);
    snprintf(path, sizeof path, "%s/edited.safetensors", dir);
    remove(path);
    remove(dir);
}

/* ---- full size (optional) ----------------------------------------------------------------- */

static void bench(tu_ctx *t, const char *weights)
{
    const char *bs = getenv("JEMPP_INCEPTION_BENCH_BATCH");
    int batch = bs ? atoi(bs) : 16;
    if (batch < 1) batch = 16;
    jp_error err;
    jp_inception *m = NULL;
    double t0 = jp_now();
    if (jp_inception_load(&m, weights, batch, &err)) {
        tu_check(t, 0, "bench: load: %s", err.msg);
        return;
    }
    double tload = jp_now() - t0;
    size_t per = 3 * 32 * 32;
    float *x = malloc((size_t)batch * per * sizeof(float));
    float *f = malloc((size_t)batch * jp_inception_feature_dim(m) * sizeof(float));
    jp_rng rng;
    jp_rng_seed(&rng, 3);
    jp_rng_fill_uniform(&rng, x, (size_t)batch * per, -1, 1);
    jp_inception_features(m, f, x, batch, 3, 32, 32, &err); /* warm-up */
    int reps = 2;
    t0 = jp_now();
    for (int r = 0; r < reps; r++) jp_inception_features(m, f, x, batch, 3, 32, 32, &err);
    double dt = (jp_now() - t0) / reps;
    const char *thr = getenv("OMP_NUM_THREADS");
    printf("  bench: load %.2f s; batch %d: %.3f s a batch, %.2f images/s (OMP_NUM_THREADS=%s)\n", tload, batch,
           dt, batch / dt, thr ? thr : "unset");
    if (getenv("JEMPP_INCEPTION_DESCRIBE")) {
        char buf[16384];
        jp_inception_describe(m, buf, sizeof buf);
        fputs(buf, stdout);
    }
    jp_inception_free(m);
    free(x), free(f);
}

/* 1 when /usr/bin/python3 with torch is missing (nothing checked). */
static int check_full(tu_ctx *t)
{
    const char *bin = getenv("JEMPP_BIN");
    const char *req = getenv("JEMPP_REQUIRE_TORCH");
    int required = req && !strcmp(req, "1");
    char src[512], weights[600], refp[600], cmd[2400];
    tu_src_path(src, sizeof src, "tools/gen_inception_ref.py");
    snprintf(weights, sizeof weights, "%s/inception_full.safetensors", bin ? bin : "/tmp");
    snprintf(refp, sizeof refp, "%s/inception_full_ref.safetensors", bin ? bin : "/tmp");
    if (system("/usr/bin/python3 -c 'import torch' >/dev/null 2>&1") != 0) {
        if (!required) return 1;
        tu_check(t, 0, "full-size check: /usr/bin/python3 with torch is required (JEMPP_REQUIRE_TORCH=1)");
        return 0;
    }
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s' --div 1 --weights '%s' --ref '%s'", src, weights, refp);
    printf("  running %s\n", cmd);
    fflush(stdout);
    if (system(cmd) != 0) {
        tu_check(t, 0, "full-size reference generation failed: %s", cmd);
        return 0;
    }
    jp_st_file ref;
    jp_error err;
    if (jp_st_read(&ref, refp, &err)) {
        tu_check(t, 0, "read %s: %s", refp, err.msg);
        return 0;
    }
    maxdiffs md = {0};
    if (check_network(t, weights, &ref, "full size", &md, 1))
        printf("  full size max |diff|: features %.3g, probs %.3g, stem %.3g, Mixed_6e %.3g\n", md.feats, md.probs,
               md.stem, md.m6e);
    jp_st_close(&ref);
    bench(t, weights);
    return 0;
}

int main(int argc, char **argv)
{
    tu_ctx t;
    tu_begin(&t, "test_inception");
    int full = getenv("JEMPP_INCEPTION_FULL") && !strcmp(getenv("JEMPP_INCEPTION_FULL"), "1");
    const char *bench_weights = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--full")) full = 1;
        else if (!strcmp(argv[i], "--bench") && i + 1 < argc) bench_weights = argv[++i];
    }
    char weights[512], refp[512];
    tu_src_path(weights, sizeof weights, "tests/data/inception_rand.safetensors");
    tu_src_path(refp, sizeof refp, "tests/data/inception_ref.safetensors");
    jp_st_file ref;
    jp_error err;
    if (jp_st_read(&ref, refp, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 2;
    }
    check_resize(&t, &ref);
    check_blocked_kernels(&t);
    maxdiffs md = {0};
    if (check_network(&t, weights, &ref, "div 8", &md, 1)) {
        check_fewer_and_gray(&t, weights, &ref, &md);
        printf("  max |diff|: features %.3g, probs %.3g, stem %.3g, Mixed_6e %.3g, 1-of-3 %.3g, gray %.3g\n",
               md.feats, md.probs, md.stem, md.m6e, md.fewer, md.gray);
    }
    check_bad_weights(&t, weights);
    jp_st_close(&ref);
    if (full && check_full(&t))
        return tu_skip(&t, "the full-size check asked for needs /usr/bin/python3 with torch");
    if (bench_weights) bench(&t, bench_weights);
    return tu_finish(&t);
}
