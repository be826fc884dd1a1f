/* A WRN-16-2 (two blocks per group, batch norm, 10 classes, batch 8) against PyTorch 1.13
 * at real sizes, with and without dropout. tools/gen_wrn_wide_ref.py writes the
 * reference files tests/data/wrn_ref_wide_fmnist.safetensors (1x28x28, Fashion-MNIST's
 * shape) and wrn_ref_wide_cifar.safetensors (3x32x32, CIFAR's); its docstring gives
 * the formulas and every tensor. tests/test_wrn_torch.c covers the small WRNs, SGD
 * steps, --uncond and eval gradients; this test the sizes and dropout.
 *
 * The files hold neither weights nor dropout masks: both sides compute them from the
 * same formulas (splitmix64 of an FNV-1a hash of the tensor name and the element
 * index); the files' sampled init values must match ours exactly. The masks reach the
 * model through the internal testing hook jp_wrn_set_dropout_source.
 *
 * For each file, configuration (nodrop, drop: p = 0.3 with the formula masks) and
 * convolution choice (winograd 0: oneDNN direct; 1: Winograd allowed), compares
 *   - train-mode logits and the cross-entropy loss,
 *   - d loss / d param for every parameter tensor and d loss / dx (whole when at most
 *     1024 elements, else a strided subset plus the sum and sum of squares),
 *   - the BN running statistics and counters after that forward,
 *   - the eval-mode logits after it,
 *   - (drop) how many elements each block's mask keeps, and that the model's RNG was
 *     left alone,
 *   - which of PyTorch's LeakyReLU inputs near 0 took the other slope here: such a flip
 *     changes the gradients upstream of it, legitimately (see "LeakyReLU's kink"); only
 *     the gradients it can reach may then pass on their L2 error instead.
 * Prints per run the largest differences. Extra reference files (same format) may be
 * given on the command line. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jempp/ops.h"
#include "jempp/safetensors.h"
#include "jempp/wrn.h"
#include "nn/wrn_internal.h" /* jp_wrn_set_dropout_source; the activations (count_flips) */
#include "testutil.h"
#include "testutil_wrn.h"

/* Tolerances as tests/test_wrn_torch.c (its comment block gives the reasons):
 * |got - ref| <= atol + rtol |ref| elementwise; forward values absolute, gradients with
 * atol = GRAD_ATOL * max|ref| of the tensor, at least GRAD_ATOL_FLOOR (scaled up with
 * a looser scale). Winograd's rounding: the WINO_* ones. */
#define FWD_ATOL 1e-5
#define FWD_RTOL 1e-4
#define GRAD_ATOL 1e-3 /* times max|ref| of the tensor */
#define GRAD_RTOL 1e-3
#define GRAD_ATOL_FLOOR 3e-6
#define WINO_FWD_ATOL 1e-4
#define WINO_FWD_RTOL 1e-3
#define WINO_GRAD_ATOL 1e-2
#define WINO_GRAD_RTOL 1e-2

#define DROPOUT_P 0.3     /* the formula masks' p (the files' "dropout" metadata) */
#define GRAD_SUBSET 1024  /* larger gradients are stored as a strided subset */
#define GOLDEN 0x9E3779B97F4A7C15ull
#define FNV_PRIME 0x100000001B3ull
#define MAX_BLOCKS 64
#define FLIP_L2_RTOL 1e-2 /* a gradient reached by slope flips: |got - ref| / |ref| (L2) per flip, */
#define FLIP_L2_MAX 0.1   /* at most this; see "LeakyReLU's kink" */

typedef struct {
    double fwd_atol, fwd_rtol, grad_atol, grad_rtol;
} tols;

/* Largest differences of one run, for the summary. ratio = |diff| / allowed. */
typedef struct {
    double logits, loss, grad, grad_ratio, gx, gx_ratio, sums_ratio, stats, eval_logits;
    char grad_worst[128];
    long kinks, flips; /* PyTorch's near-kink LeakyReLU inputs; those with the other slope here */
    int flip_block;    /* the deepest block such a flip reaches, -1 when none */
    double kink_diff;  /* max |input difference| at the near-kink inputs */
    int excused;       /* gradient tensors accepted on their L2 error for a flip */
} maxdiffs;

/* ---- the formulas (tools/gen_wrn_wide_ref.py) --------------------------------------- */

static uint64_t fnv1a64(const char *s)
{
    uint64_t h = 0xCBF29CE484222325ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * FNV_PRIME;
    return h;
}

/* splitmix64, the state step included */
static uint64_t splitmix64(uint64_t z)
{
    z += GOLDEN;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* 24 bits for element i under key */
static uint64_t formula_u24(uint64_t key, uint64_t i) { return splitmix64(key ^ (i * GOLDEN)) >> 40; }

/* v in [-1, 1) for element i of tensor `name` (exact in double: u has 24 bits) */
static double formula_v(const char *name, size_t i)
{
    return (double)formula_u24(fnv1a64(name), i) / 16777216.0 * 2.0 - 1.0;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static const jp_tensor_info *find_tensor(const jp_tensor_info *ti, int nt, const char *name)
{
    for (int i = 0; i < nt; i++)
        if (strcmp(ti[i].name, name) == 0) return &ti[i];
    return NULL;
}

/* The weight of the layer that owns parameter `name` ("a.b.bias" -> "a.b.weight"). */
static const jp_tensor_info *owner_weight(const jp_tensor_info *ti, int nt, const char *name)
{
    char w[sizeof ti->name + 8];
    const char *dot = strrchr(name, '.');
    if (!dot) return NULL;
    snprintf(w, sizeof w, "%.*s.weight", (int)(dot - name), name);
    return find_tensor(ti, nt, w);
}

/* Writes the formula initial state into the model: conv / linear weights and biases
 * (float)(v / sqrt(fan_in)), BN weight (float)(1 + 0.1 v), bias (float)(0.1 v), running
 * mean 0, var 1, counters 0. Returns how many tensors it could not place (0 expected). */
static int formula_init(jp_wrn *m)
{
    int nt, bad = 0;
    const jp_tensor_info *ti = jp_wrn_tensors(m, &nt);
    for (int i = 0; i < nt; i++) {
        const jp_tensor_info *x = &ti[i];
        if (x->kind == JP_T_COUNTER) {
            for (size_t k = 0; k < x->count; k++) jp_wrn_counters(m)[x->offset + k] = 0;
        } else if (x->kind == JP_T_BUFFER) {
            float v = ends_with(x->name, ".running_var") ? 1.0f : 0.0f;
            for (size_t k = 0; k < x->count; k++) jp_wrn_buffers(m)[x->offset + k] = v;
        } else {
            float *p = jp_wrn_params(m) + x->offset;
            const jp_tensor_info *w = owner_weight(ti, nt, x->name);
            int bias = ends_with(x->name, ".bias");
            if (!w || (!bias && !ends_with(x->name, ".weight"))) {
                bad++;
            } else if (w->ndim == 1) { /* batch norm */
                for (size_t k = 0; k < x->count; k++)
                    p[k] = bias ? (float)(0.1 * formula_v(x->name, k)) : (float)(1.0 + 0.1 * formula_v(x->name, k));
            } else { /* convolution or linear: fan_in = in channels x kernel */
                double bound = 1.0 / sqrt((double)(w->count / (size_t)w->shape[0]));
                for (size_t k = 0; k < x->count; k++) p[k] = (float)(formula_v(x->name, k) * bound);
            }
        }
    }
    jp_wrn_params_changed(m);
    return bad;
}

/* The file's sampled init values (initcheck.<name> at initcheck.<name>.index) must
 * equal ours bit for bit. */
static void check_init_samples(tu_ctx *t, const jp_st_file *f, jp_wrn *m)
{
    int nt, tensors = 0, values = 0, wrong = 0;
    const jp_tensor_info *ti = jp_wrn_tensors(m, &nt);
    const char *pre = "initcheck.";
    for (int e = 0; e < f->count; e++) {
        const jp_st_entry *v = &f->entries[e];
        if (strncmp(v->name, pre, strlen(pre)) != 0 || ends_with(v->name, ".index")) continue;
        char iname[JP_ST_MAX_NAME + 8];
        snprintf(iname, sizeof iname, "%s.index", v->name);
        const jp_st_entry *ix = jp_st_find(f, iname);
        const jp_tensor_info *x = find_tensor(ti, nt, v->name + strlen(pre));
        size_t n = (v->end - v->begin) / 4;
        if (!ix || !x || v->dtype != JP_F32 || ix->dtype != JP_I64 || ix->end - ix->begin != 8 * n) {
            tu_check(t, 0, "%s: no such model tensor, or index missing or malformed", v->name);
            continue;
        }
        const float *got = jp_wrn_params(m) + x->offset;
        for (size_t k = 0; k < n; k++) {
            int64_t i = tu_rd_i64((const char *)jp_st_data(f, ix) + 8 * k);
            float ref;
            memcpy(&ref, (const char *)jp_st_data(f, v) + 4 * k, 4);
            if (i < 0 || (size_t)i >= x->count || memcmp(&got[i], &ref, 4) != 0) {
                if (wrong++ < 5)
                    printf("        %s[%lld]: ours %.9g, file %.9g\n", x->name, (long long)i,
                           i >= 0 && (size_t)i < x->count ? (double)got[i] : NAN, (double)ref);
            }
            values++;
        }
        tensors++;
    }
    tu_check(t, tensors > 0 && wrong == 0,
             "formula init equals the file's samples exactly (%d values of %d tensors, %d differ)", values, tensors,
             wrong);
}

/* The formula dropout masks, through the model's testing hook. */
typedef struct {
    int64_t kept[MAX_BLOCKS]; /* per block, from the last fill */
    int calls;
} mask_source;

static void fill_mask(void *ctx, int block, float *mask, int n, int c, int h, int w)
{
    mask_source *s = ctx;
    const uint64_t key = fnv1a64("dropout") ^ ((uint64_t)block * FNV_PRIME);
    const float scale = (float)(1.0 / (1.0 - DROPOUT_P));
    const double threshold = DROPOUT_P * 16777216.0;
    size_t count = (size_t)n * c * h * w;
    int64_t kept = 0;
    for (size_t i = 0; i < count; i++) {
        int keep = (double)formula_u24(key, i) >= threshold;
        mask[i] = keep ? scale : 0.0f;
        kept += keep;
    }
    if (block >= 0 && block < MAX_BLOCKS) s->kept[block] = kept;
    s->calls++;
}

/* ---- LeakyReLU's kink ----------------------------------------------------------------
 * The backward's slope (1 or 0.2) jumps where a LeakyReLU input crosses 0. Near 0 the
 * inputs here differ from PyTorch's by up to ~5e-6 with direct convolutions and ~5e-5
 * with Winograd, so an input closer to 0 than that may take the other slope, which moves
 * a few gradient elements upstream of it by a few percent of their tensor's largest
 * value (seen: one Winograd flip put layer3.1.bn2.bias at 1.4x its elementwise
 * tolerance). The generator picks a batch whose ~2-2.6 M inputs all lie >= 1.4e-6 from 0
 * (metadata kink_margin) and stores those within 2e-4 of 0 (<cfg>.kink.*). Each run
 * counts the stored inputs whose slope it took differently ("flips"); when there are
 * any, a gradient tensor that such a flip can reach (block granularity: the flip's block
 * and everything before it) and that misses the elementwise bound is accepted if its L2
 * error stays within FLIP_L2_RTOL per flip, at most FLIP_L2_MAX (compare): each flip
 * adds its own perturbation (with oneDNN limited to AVX2, the CIFAR Winograd run flips 5
 * inputs and layer2.1.bn2.bias reaches 0.011; a wrong dropout mask gives >= 0.33).
 * Without flips every check is elementwise. */

/* The k-th LeakyReLU of a forward in call order (block i's after bn1 at 2i, after bn2 at
 * 2i+1, the head's at 2 n_blocks): its output (blocked), shape, and its block (n_blocks
 * for the head). 0 past the last. */
typedef struct {
    const float *out;
    int c, h, w, block;
} lrelu_site;

static int lrelu_site_of(const jp_wrn *m, int k, lrelu_site *s)
{
    if (k < 2 * m->n_blocks) {
        const jp_wrn_block *b = &m->blocks[k / 2];
        *s = (lrelu_site){k % 2 ? b->a2 : b->a1, k % 2 ? b->cout : b->cin, b->h, b->w, k / 2};
        return 1;
    }
    if (k > 2 * m->n_blocks) return 0;
    const jp_wrn_block *l = &m->blocks[m->n_blocks - 1];
    *s = (lrelu_site){m->af, m->last_c, l->oh, l->ow, m->n_blocks};
    return 1;
}

/* Element i (plain NCHW order) of a site's blocked output. */
static float site_at(const jp_wrn *m, const lrelu_site *s, size_t i)
{
    size_t B = (size_t)m->ctx.act_block, cb = ((size_t)s->c + B - 1) / B, hw = (size_t)s->h * s->w;
    size_t p = i % hw, ch = (i / hw) % (size_t)s->c, n = i / hw / (size_t)s->c;
    return s->out[((n * cb + ch / B) * hw + p) * B + ch % B];
}

/* Finds the site of index idx into all LeakyReLU inputs concatenated (plain sizes);
 * *local receives the index within it. 0 when past the end. */
static int find_site(const jp_wrn *m, int64_t idx, lrelu_site *s, size_t *local)
{
    size_t base = 0;
    for (int k = 0; idx >= 0 && lrelu_site_of(m, k, s); k++) {
        size_t size = (size_t)m->batch * s->c * s->h * s->w;
        if ((size_t)idx < base + size) {
            *local = (size_t)idx - base;
            return 1;
        }
        base += size;
    }
    return 0;
}

/* After a train forward: how many of PyTorch's near-kink inputs (<prefix>kink.index,
 * .value) took the other slope here (md->flips), the deepest block they reach
 * (md->flip_block, -1 when none) and the largest |input difference| there. */
static void count_flips(tu_ctx *t, const jp_st_file *f, const char *prefix, const jp_wrn *m, maxdiffs *md)
{
    char ki[64], kv[64];
    snprintf(ki, sizeof ki, "%skink.index", prefix);
    snprintf(kv, sizeof kv, "%skink.value", prefix);
    const jp_st_entry *ei = jp_st_find(f, ki), *ev = jp_st_find(f, kv);
    size_t nk = ei ? (ei->end - ei->begin) / 8 : 0, bad = 0;
    md->flip_block = -1;
    if (!ei || !ev || ei->dtype != JP_I64 || ev->dtype != JP_F32 || ev->end - ev->begin != 4 * nk) {
        tu_check(t, 0, "%s, %s: missing or malformed", ki, kv);
        return;
    }
    const float slope = jp_wrn_config_of(m)->slope;
    for (size_t j = 0; j < nk; j++) {
        lrelu_site s;
        size_t i;
        float ref;
        memcpy(&ref, (const char *)jp_st_data(f, ev) + 4 * j, 4);
        if (!find_site(m, tu_rd_i64((const char *)jp_st_data(f, ei) + 8 * j), &s, &i)) {
            bad++;
            continue;
        }
        float a = site_at(m, &s, i); /* lrelu's output: the sign of its input */
        double in = a > 0 ? a : a / slope;
        md->kink_diff = fmax(md->kink_diff, fabs(in - ref));
        if ((a > 0) != (ref > 0)) {
            md->flips++;
            if (s.block > md->flip_block) md->flip_block = s.block;
        }
    }
    md->kinks = (long)nk;
    const char *window = jp_st_meta(f, "kink_window");
    tu_check(t, bad == 0,
             "%zu LeakyReLU inputs within %s of 0 in PyTorch: %ld took the other slope here (deepest block %d); "
             "max |input diff| there %.3g",
             nk, window ? window : "?", md->flips, md->flip_block, md->kink_diff);
}

/* The block a parameter belongs to in forward order: -1 for the first convolution (and
 * x), its block's index in f.layer*, n_blocks for the head's BN, n_blocks + 1 for the
 * linear heads (no slope flip reaches them). */
static int tensor_block(const jp_wrn *m, const char *name)
{
    int g, j;
    if (sscanf(name, "f.layer%d.%d.", &g, &j) == 2) return (g - 1) * (m->n_blocks / 3) + j;
    if (strncmp(name, "f.bn1.", 6) == 0) return m->n_blocks;
    if (strncmp(name, "f.conv1.", 8) == 0 || strcmp(name, "x") == 0) return -1;
    return m->n_blocks + 1;
}

/* ---- comparisons --------------------------------------------------------------------- */

static double max_abs(const float *a, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        if (fabs(a[i]) > m) m = fabs(a[i]);
    return m;
}

/* atol of a gradient-like tensor: scale * max|ref|, at least the floor (times
 * scale / GRAD_ATOL when the scale is looser than GRAD_ATOL), as test_wrn_torch.c. */
static double grad_atol(const float *ref, size_t n, double scale)
{
    return fmax(scale * max_abs(ref, n), GRAD_ATOL_FLOOR * fmax(1.0, scale / GRAD_ATOL));
}

/* |got - ref| <= atol + rtol |ref| elementwise; one check line. Returns the largest
 * |diff| and in *ratio the largest |diff| / allowed. With l2_limit > 0 (a gradient that a
 * LeakyReLU slope flip reaches: see "LeakyReLU's kink"), a tensor that misses the
 * elementwise bound still passes when |got - ref| / |ref| (L2) <= l2_limit: a flip moves
 * a few elements by up to a few percent of the tensor's largest value; a wrong
 * computation moves the whole tensor. *excused counts such tensors. */
static double compare(tu_ctx *t, const char *what, const float *got, const float *ref, size_t n, double atol,
                      double rtol, double l2_limit, double *ratio, int *excused)
{
    double maxd = 0, maxr = 0, dd = 0, rr = 0;
    size_t bad = 0, worst = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - ref[i]), allowed = atol + rtol * fabs(ref[i]);
        if (isnan(d)) d = INFINITY;
        if (!(d <= allowed)) bad++;
        if (d / allowed > maxr) maxr = d / allowed, worst = i;
        if (d > maxd) maxd = d;
        dd += d * d, rr += (double)ref[i] * ref[i];
    }
    double rel_l2 = rr > 0 ? sqrt(dd / rr) : sqrt(dd);
    int flip_ok = bad > 0 && l2_limit > 0 && rel_l2 <= l2_limit;
    tu_check(t, (bad == 0 || flip_ok) && n > 0, "%-44s n=%-5zu max|diff| %.3g (%.2f of allowed; atol %.2g rtol %.1g)%s",
             what, n, maxd, maxr, atol, rtol, flip_ok ? " [slope flip: accepted on L2]" : "");
    if (bad)
        printf("        %zu out of tolerance; worst [%zu]: got %.8g ref %.8g; |diff|/|ref| (L2) %.3g (limit %.3g)\n",
               bad, worst, (double)got[worst], (double)ref[worst], rel_l2, l2_limit);
    if (ratio) *ratio = maxr;
    if (excused) *excused += flip_ok;
    return maxd;
}

/* Loads reference `key` as float32, checking that it holds `count` elements. */
static float *load_ref(tu_ctx *t, const jp_st_file *f, const char *key, size_t count)
{
    size_t n;
    if (!jp_st_find(f, key)) {
        tu_check(t, 0, "%s: missing from %s", key, f->path);
        return NULL;
    }
    float *ref = tu_ref_f32(f, key, &n);
    if (n != count) {
        tu_check(t, 0, "%s: %zu elements in the file, %zu expected", key, n, count);
        free(ref);
        return NULL;
    }
    return ref;
}

/* The whole-tensor sums of a subsetted gradient (<prefix>gradsum.<name>: sum, sum of
 * squares) against ours. The norm bound follows from the elementwise one:
 * | |got| - |ref| | <= |got - ref| <= sqrt(n) atol + rtol |ref|. The sum's is a
 * heuristic: the elementwise bound of a typical (rms) element times sqrt(n), as for
 * rounding errors that add up like a random walk (the strict n atol would catch
 * nothing). With l2_limit > 0 (reached by a slope flip) the bounds that follow from
 * |got - ref| <= l2_limit |ref| are allowed too: l2_limit |ref| on the norm, sqrt(n)
 * l2_limit |ref| on the sum. Returns the larger |diff| / allowed of the two. */
static double check_sums(tu_ctx *t, const jp_st_file *f, const char *key, const float *got, size_t n, double atol,
                         double rtol, double l2_limit)
{
    const jp_st_entry *e = jp_st_find(f, key);
    if (!e || e->dtype != JP_F64 || e->end - e->begin != 16) {
        tu_check(t, 0, "%s: missing or not F64 [2]", key);
        return INFINITY;
    }
    double ref[2], s = 0, ss = 0;
    memcpy(ref, jp_st_data(f, e), 16);
    for (size_t i = 0; i < n; i++) s += got[i], ss += (double)got[i] * got[i];
    double sq = sqrt((double)n), norm_ref = sqrt(ref[1]);
    double dnorm = fabs(sqrt(ss) - norm_ref), dsum = fabs(s - ref[0]);
    double rnorm = dnorm / fmax(sq * atol + rtol * norm_ref, l2_limit * norm_ref);
    double rsum = dsum / fmax(sq * (atol + rtol * norm_ref / sq), sq * l2_limit * norm_ref);
    tu_check(t, rnorm <= 1 && rsum <= 1, "%-44s sum %.6g (ref %.6g, %.2f of allowed) norm %.6g (ref %.6g, %.2f)", key,
             s, ref[0], rsum, sqrt(ss), norm_ref, rnorm);
    return fmax(rnorm, rsum);
}

/* A gradient (count elements, PyTorch order) against <prefix>grad.<name>: whole when
 * small, else its strided subset (every ceil(count/1024)-th, from 0; atol from the
 * subset's max|ref|) plus the sums. */
static void check_grad(tu_ctx *t, const jp_st_file *f, const jp_wrn *m, const char *prefix, const char *name,
                       const float *got, size_t count, const tols *tl, maxdiffs *md)
{
    const int is_x = strcmp(name, "x") == 0;
    const double l2_limit =
        md->flips > 0 && tensor_block(m, name) <= md->flip_block ? fmin(FLIP_L2_MAX, FLIP_L2_RTOL * md->flips) : 0;
    char key[JP_ST_MAX_NAME + 32];
    size_t stride = (count + GRAD_SUBSET - 1) / GRAD_SUBSET, ns = (count + stride - 1) / stride;
    snprintf(key, sizeof key, "%sgrad.%s", prefix, name);
    float *ref = load_ref(t, f, key, ns);
    if (!ref) return;
    float *sub = malloc(sizeof(float) * ns);
    for (size_t k = 0; k < ns; k++) sub[k] = got[k * stride];
    double atol = grad_atol(ref, ns, tl->grad_atol), ratio;
    double d = compare(t, key, sub, ref, ns, atol, tl->grad_rtol, l2_limit, &ratio, &md->excused);
    if (stride > 1) {
        snprintf(key, sizeof key, "%sgradsum.%s", prefix, name);
        double r = check_sums(t, f, key, got, count, atol, tl->grad_rtol, l2_limit);
        if (r > md->sums_ratio) md->sums_ratio = r;
    }
    if (is_x) {
        md->gx = fmax(md->gx, d);
        md->gx_ratio = fmax(md->gx_ratio, ratio);
    } else {
        md->grad = fmax(md->grad, d);
        if (ratio >= md->grad_ratio) {
            md->grad_ratio = ratio;
            snprintf(md->grad_worst, sizeof md->grad_worst, "%s", name);
        }
    }
    free(sub);
    free(ref);
}

/* A forward value (logits, loss) against <prefix><name>; returns the largest |diff|. */
static double check_fwd(tu_ctx *t, const jp_st_file *f, const char *prefix, const char *name, const float *got,
                        size_t n, const tols *tl)
{
    char key[JP_ST_MAX_NAME + 32];
    snprintf(key, sizeof key, "%s%s", prefix, name);
    float *ref = load_ref(t, f, key, n);
    if (!ref) return INFINITY;
    double d = compare(t, key, got, ref, n, tl->fwd_atol, tl->fwd_rtol, 0, NULL, NULL);
    free(ref);
    return d;
}

/* ---- one run ------------------------------------------------------------------------- */

static int meta_int(tu_ctx *t, const jp_st_file *f, const char *key)
{
    const char *v = jp_st_meta(f, key);
    tu_check(t, v != NULL, "metadata %s = %s", key, v ? v : "(missing)");
    return v ? atoi(v) : 0;
}

/* The model of the file's metadata; dropout p when `dropout`. NULL on failure. Prints
 * what it builds when verbose. */
static jp_wrn *create_model(tu_ctx *t, const jp_st_file *f, int dropout, int winograd, int verbose, int *batch)
{
    jp_wrn_config cfg;
    jp_wrn_config_defaults(&cfg);
    cfg.depth = meta_int(t, f, "depth");
    cfg.width = meta_int(t, f, "width");
    cfg.in_channels = meta_int(t, f, "in_channels");
    cfg.image_size = meta_int(t, f, "image_size");
    cfg.n_classes = meta_int(t, f, "n_classes");
    cfg.norm = JP_NORM_BATCH;
    cfg.dropout = dropout ? (float)DROPOUT_P : 0.0f;
    cfg.bn_momentum = 0.9f;
    cfg.bn_eps = 1e-5f;
    cfg.slope = 0.2f;
    cfg.winograd = winograd;
    *batch = meta_int(t, f, "batch");
    const char *p = jp_st_meta(f, "dropout"), *norm = jp_st_meta(f, "norm");
    if (verbose) {
        tu_check(t, p && atof(p) == DROPOUT_P && norm && strcmp(norm, "batch") == 0,
                 "file's dropout %s and norm %s are the test's (%g, batch)", p ? p : "?", norm ? norm : "?", DROPOUT_P);
        printf("-- %s: WRN-%d-%d in %dx%dx%d, %d classes, batch %d, dropout %g, winograd %d\n", f->path, cfg.depth,
               cfg.width, cfg.in_channels, cfg.image_size, cfg.image_size, cfg.n_classes, *batch,
               (double)cfg.dropout, winograd);
    }
    jp_wrn *m = NULL;
    jp_error err;
    if (jp_wrn_create(&m, &cfg, *batch, &err) != JP_OK) {
        tu_check(t, 0, "jp_wrn_create: %s", err.msg);
        return NULL;
    }
    if (verbose) {
        char sum[400];
        jp_wrn_kernel_summary(m, sum, sizeof sum);
        printf("   %s\n", sum);
    }
    int bad = formula_init(m);
    if (bad) tu_check(t, 0, "formula init: %d tensors without a rule", bad);
    return m;
}

/* Labels y (I64) of the file as ints; NULL when malformed. */
static int *load_labels(tu_ctx *t, const jp_st_file *f, int n)
{
    const jp_st_entry *e = jp_st_find(f, "y");
    if (!e || e->dtype != JP_I64 || e->end - e->begin != 8 * (size_t)n) {
        tu_check(t, 0, "labels y: missing or not I64 [%d]", n);
        return NULL;
    }
    int *y = malloc(sizeof(int) * n);
    for (int i = 0; i < n; i++) y[i] = (int)tu_rd_i64((const char *)jp_st_data(f, e) + 8 * i);
    return y;
}

/* The dropout masks the hook gave must keep what PyTorch's kept, block by block. */
static void check_masks(tu_ctx *t, const jp_st_file *f, jp_wrn *m, const mask_source *src)
{
    int nb = m->n_blocks;
    const jp_st_entry *e = jp_st_find(f, "drop.mask_kept");
    int same = e && e->dtype == JP_I64 && e->end - e->begin == 8 * (size_t)nb && src->calls == nb;
    for (int b = 0; same && b < nb; b++) same = src->kept[b] == tu_rd_i64((const char *)jp_st_data(f, e) + 8 * b);
    tu_check(t, same, "dropout masks: one fill per block (%d of %d), kept counts equal drop.mask_kept", src->calls,
             nb);
}

static void run(tu_ctx *t, const jp_st_file *f, int dropout, int winograd, const tols *tl, maxdiffs *md)
{
    memset(md, 0, sizeof *md);
    int n;
    jp_wrn *m = create_model(t, f, dropout, winograd, 1, &n);
    if (!m) return;
    const jp_wrn_config *cfg = jp_wrn_config_of(m);
    const int C = cfg->n_classes;
    const size_t nx = (size_t)n * cfg->in_channels * cfg->image_size * cfg->image_size;
    const char *prefix = dropout ? "drop." : "nodrop.";
    check_init_samples(t, f, m);

    mask_source src = {{0}, 0};
    jp_rng rng_before = *jp_wrn_rng(m);
    if (dropout) jp_wrn_set_dropout_source(m, fill_mask, &src);

    float *x = load_ref(t, f, "x", nx);
    int *y = load_labels(t, f, n);
    float *logits = malloc(sizeof(float) * n * C), *dlogits = malloc(sizeof(float) * n * C);
    float *dx = malloc(sizeof(float) * nx);
    if (x && y) {
        /* train forward, loss, backward */
        jp_wrn_zero_grads(m);
        jp_wrn_forward(m, logits, x, n, 1);
        md->logits = check_fwd(t, f, prefix, "logits", logits, (size_t)n * C, tl);
        float loss = (float)jp_cross_entropy_forward(logits, y, n, C);
        md->loss = check_fwd(t, f, prefix, "loss", &loss, 1, tl);
        count_flips(t, f, prefix, m, md);
        jp_cross_entropy_backward(dlogits, 1.0f, logits, y, n, C);
        jp_wrn_backward(m, dlogits, dx, 1);
        int nt;
        const jp_tensor_info *ti = jp_wrn_tensors(m, &nt);
        for (int i = 0; i < nt; i++)
            if (ti[i].kind == JP_T_PARAM)
                check_grad(t, f, m, prefix, ti[i].name, jp_wrn_grads(m) + ti[i].offset, ti[i].count, tl, md);
        check_grad(t, f, m, prefix, "x", dx, nx, tl, md);
        char sp[64];
        snprintf(sp, sizeof sp, "%safter_fwd.", prefix);
        md->stats = tu_wrn_check_stats(t, m, f, sp, "running statistics after the train forward", tl->fwd_atol,
                                       tl->fwd_rtol);
        if (dropout) {
            check_masks(t, f, m, &src);
            tu_check(t, memcmp(&rng_before, jp_wrn_rng(m), sizeof rng_before) == 0,
                     "the model's RNG is left alone while the masks are given");
        }
        /* eval forward with the running statistics of the train forward (no dropout) */
        jp_wrn_forward(m, logits, x, n, 0);
        md->eval_logits = check_fwd(t, f, prefix, "eval.logits", logits, (size_t)n * C, tl);
    }
    free(dx);
    free(dlogits);
    free(logits);
    free(y);
    free(x);
    jp_wrn_free(m);
}

static void report(const char *path, int dropout, int winograd, const maxdiffs *md)
{
    printf("== max |diff| %s %s winograd %d:\n"
           "   logits %.3g  loss %.3g  eval.logits %.3g  running stats %.3g\n"
           "   param grads %.3g (worst relative to its tolerance: %.2f, %s)  grad.x %.3g (%.2f)"
           "  subset sums %.2f of allowed\n",
           path, dropout ? "dropout" : "no dropout", winograd, md->logits, md->loss, md->eval_logits, md->stats,
           md->grad, md->grad_ratio, md->grad_worst, md->gx, md->gx_ratio, md->sums_ratio);
    printf("   LeakyReLU inputs near 0: %ld, max |input diff| there %.3g, other slope taken: %ld (deepest block %d),"
           " gradient tensors accepted on L2 for it: %d\n",
           md->kinks, md->kink_diff, md->flips, md->flip_block, md->excused);
}

int main(int argc, char **argv)
{
    tu_ctx t;
    tu_begin(&t, "test_wrn_wide");
    const tols direct = {FWD_ATOL, FWD_RTOL, GRAD_ATOL, GRAD_RTOL};
    const tols wino = {WINO_FWD_ATOL, WINO_FWD_RTOL, WINO_GRAD_ATOL, WINO_GRAD_RTOL};
    enum { MAXFILES = 8 };
    char paths[MAXFILES][1024];
    int nfiles = 0;
    if (argc > 1) {
        for (int i = 1; i < argc && nfiles < MAXFILES; i++) snprintf(paths[nfiles++], sizeof paths[0], "%s", argv[i]);
    } else {
        tu_src_path(paths[nfiles++], sizeof paths[0], "tests/data/wrn_ref_wide_fmnist.safetensors");
        tu_src_path(paths[nfiles++], sizeof paths[0], "tests/data/wrn_ref_wide_cifar.safetensors");
    }
    maxdiffs md[MAXFILES][2][2];
    int ran[MAXFILES] = {0};
    for (int i = 0; i < nfiles; i++) {
        jp_st_file f;
        jp_error err;
        if (jp_st_read(&f, paths[i], &err) != JP_OK) {
            tu_check(&t, 0, "read %s: %s", paths[i], err.msg);
            continue;
        }
        for (int d = 0; d < 2; d++)
            for (int w = 0; w < 2; w++) run(&t, &f, d, w, w ? &wino : &direct, &md[i][d][w]);
        ran[i] = 1;
        jp_st_close(&f);
    }
    for (int i = 0; i < nfiles; i++)
        for (int d = 0; ran[i] && d < 2; d++)
            for (int w = 0; w < 2; w++) report(paths[i], d, w, &md[i][d][w]);
    return tu_finish(&t);
}
