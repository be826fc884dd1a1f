/* Augmentation and the batch loader: the transform against a naive implementation
 * (explicit reflect-padded image, crop, flip) and its noise statistics; each epoch a
 * permutation; batches identical with and without the background thread and for any
 * prefetch depth; exact resume from a saved position; the evaluation loader's
 * sequential order and partial last batch; independent training streams; bad
 * configurations refused. Prints the cost of one CIFAR-size batch (no assertion). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/normal.h"
#include "jempp/data.h"
#include "testutil.h"

/* A data set whose images are told apart by their values. */
static void synth(jp_dataset *ds, int n, int c, int h, int w, int nc)
{
    memset(ds, 0, sizeof *ds);
    snprintf(ds->name, sizeof ds->name, "synthetic");
    ds->n = n, ds->c = c, ds->h = h, ds->w = w, ds->n_classes = nc;
    size_t d = (size_t)c * h * w;
    ds->x = jp_alloc((size_t)n * d * sizeof(float));
    ds->y = jp_alloc((size_t)n * sizeof(int));
    for (int i = 0; i < n; i++) {
        for (size_t k = 0; k < d; k++)
            ds->x[i * d + k] = (float)((i * 7919 + (int)k * 31) % 2001) / 1000.0f - 1.0f;
        ds->y[i] = i % nc;
    }
}

/* The image index whose first value equals p[0] (first values are distinct for n < 2001
 * when 7919 i mod 2001 is injective, which it is: gcd(7919, 2001) = 1). */
static int which(const jp_dataset *ds, const float *p)
{
    size_t d = jp_dataset_dim(ds);
    for (int i = 0; i < ds->n; i++)
        if (ds->x[i * d] == p[0]) return i;
    return -1;
}

/* numpy.pad(mode="reflect") for one axis, written as a walk that bounces off the ends. */
static int bounce(int i, int n)
{
    int pos = 0, dir = 1;
    int steps = i < 0 ? -i : i;
    if (i < 0) dir = -1;
    for (int s = 0; s < steps; s++) {
        if (pos + dir < 0 || pos + dir >= n) dir = -dir;
        pos += dir;
    }
    return pos;
}

static void naive_augment(float *out, const float *in, int c, int h, int w, int pad, int flip,
                          float sigma, jp_rng *rng)
{
    int top = 0, left = 0, mirror = 0;
    if (pad > 0) {
        top = (int)jp_rng_below(rng, (uint64_t)(2 * pad + 1));
        left = (int)jp_rng_below(rng, (uint64_t)(2 * pad + 1));
    }
    if (flip) mirror = jp_rng_uniform(rng) < 0.5;
    int H = h + 2 * pad, W = w + 2 * pad;
    float *padded = malloc(sizeof(float) * (size_t)c * H * W);
    for (int ch = 0; ch < c; ch++)
        for (int i = 0; i < H; i++)
            for (int j = 0; j < W; j++)
                padded[(ch * H + i) * W + j] = in[(ch * h + bounce(i - pad, h)) * w + bounce(j - pad, w)];
    for (int ch = 0; ch < c; ch++)
        for (int i = 0; i < h; i++)
            for (int j = 0; j < w; j++) {
                float v = padded[(ch * H + i + top) * W + j + left]; /* crop */
                out[(ch * h + i) * w + (mirror ? w - 1 - j : j)] = v;  /* then flip */
            }
    free(padded);
    if (sigma > 0) jp_rng_add_normal(rng, out, (size_t)c * h * w, sigma);
}

/* Standard normal CDF. */
static double phi(double z) { return 0.5 * erfc(-z / sqrt(2.0)); }

static void test_normals(tu_ctx *t)
{
    double x[129], r[128];
    jp_zig_tables_compute(x, r);
    double worst = 0;
    for (int i = 0; i < 129; i++) worst = fmax(worst, fabs(x[i] - jp_zig_table_x()[i]));
    for (int i = 0; i < 128; i++) worst = fmax(worst, fabs(r[i] - jp_zig_table_r()[i]));
    tu_check(t, worst <= 1e-15, "ziggurat tables == their defining formulas (max diff %.1e)", worst);
    /* 4M draws: moments, tails, and a chi-square over 40 equiprobable-ish bins */
    enum { N = 4000000, B = 40 };
    jp_rng rng;
    jp_rng_seed(&rng, 2024);
    double m1 = 0, m2 = 0, m4 = 0;
    long over2 = 0, over3 = 0, over4 = 0, bins[B] = {0};
    float *zs = calloc(N, sizeof(float));
    jp_rng_add_normal(&rng, zs, N, 1.0f); /* the generator the augmentation uses */
    for (int i = 0; i < N; i++) {
        double z = zs[i];
        m1 += z, m2 += z * z, m4 += z * z * z * z;
        over2 += fabs(z) > 2, over3 += fabs(z) > 3, over4 += fabs(z) > 4;
        int b = (int)floor((z + 4.0) / 8.0 * B);
        bins[b < 0 ? 0 : b >= B ? B - 1 : b]++;
    }
    free(zs);
    m1 /= N, m2 /= N, m4 /= N;
    double chi2 = 0;
    for (int b = 0; b < B; b++) {
        double lo = b == 0 ? -INFINITY : -4.0 + 8.0 * b / B;
        double hi = b == B - 1 ? INFINITY : -4.0 + 8.0 * (b + 1) / B;
        double want = N * (phi(hi) - phi(lo));
        chi2 += (bins[b] - want) * (bins[b] - want) / want;
    }
    double p2 = 2 * phi(-2), p3 = 2 * phi(-3), p4 = 2 * phi(-4);
    tu_check(t, fabs(m1) < 2.5e-3 && fabs(m2 - 1) < 4e-3 && fabs(m4 - 3) < 2.5e-2,
             "ziggurat moments over 4M draws: mean %.1e, var %.5f, E z^4 %.4f", m1, m2, m4);
    tu_check(t, fabs((double)over2 / N - p2) < 6e-4 && fabs((double)over3 / N - p3) < 1.6e-4 &&
                    fabs((double)over4 / N - p4) < 2.5e-5,
             "tails: P|z|>2 %.5f (%.5f), >3 %.6f (%.6f), >4 %.2e (%.2e)", (double)over2 / N, p2,
             (double)over3 / N, p3, (double)over4 / N, p4);
    /* 39 degrees of freedom: the 99.9% point is 72.1 */
    tu_check(t, chi2 < 72.1, "chi-square over %d bins of [-4, 4]: %.1f (99.9%% point 72.1)", B, chi2);
    /* the 53-bit single-value form */
    double s1 = 0, s2 = 0;
    for (int i = 0; i < 1000000; i++) {
        double z = jp_rng_normal(&rng);
        s1 += z, s2 += z * z;
    }
    tu_check(t, fabs(s1 / 1e6) < 5e-3 && fabs(s2 / 1e6 - 1) < 8e-3,
             "jp_rng_normal: mean %.1e, var %.4f over 1M draws", s1 / 1e6, s2 / 1e6);
}

static void test_augment(tu_ctx *t)
{
    tu_check(t, bounce(-1, 5) == 1 && bounce(-2, 5) == 2 && bounce(5, 5) == 3 && bounce(6, 5) == 2,
             "reflect padding: -1->1, -2->2, 5->3, 6->2 for n=5 (edge not repeated)");
    jp_dataset ds;
    synth(&ds, 3, 3, 7, 9, 2);
    float a[3 * 7 * 9], b[3 * 7 * 9];
    int all_ok = 1;
    for (int trial = 0; trial < 400; trial++) {
        jp_rng r1, r2;
        jp_rng_seed(&r1, 1000 + trial);
        r2 = r1;
        int pad = trial % 5, flip = trial % 3 != 0;
        float sigma = trial % 4 == 0 ? 0.03f : 0.0f;
        jp_augment_image(a, jp_dataset_image(&ds, trial % 3), 3, 7, 9, pad, flip, sigma, &r1);
        naive_augment(b, jp_dataset_image(&ds, trial % 3), 3, 7, 9, pad, flip, sigma, &r2);
        all_ok = all_ok && memcmp(a, b, sizeof a) == 0 && memcmp(&r1, &r2, sizeof r1) == 0;
    }
    tu_check(t, all_ok, "augment == naive pad/crop/flip/noise over 400 draws (pad 0..4, flip, sigma)");
    /* the crop offsets and the flip, read back from the output of a 12x12 ramp: row 4 of
     * the output is source row `top`; its columns 4, 5 are source columns left, left+1,
     * or, mirrored, 3+left, 2+left */
    {
        enum { TRIALS = 18000 };
        float ramp[144], o[144];
        for (int k = 0; k < 144; k++) ramp[k] = (float)((k / 12) * 100 + k % 12);
        int tops[9] = {0}, lefts[9] = {0}, flips = 0, bad = 0;
        jp_rng r;
        jp_rng_seed(&r, 99);
        for (int i = 0; i < TRIALS; i++) {
            jp_augment_image(o, ramp, 1, 12, 12, 4, 1, 0.0f, &r);
            int row = (int)o[4 * 12 + 4] / 100, c4 = (int)o[4 * 12 + 4] % 100, c5 = (int)o[4 * 12 + 5] % 100;
            int mirror = c5 < c4, left = mirror ? c4 - 3 : c4;
            if (row < 0 || row > 8 || left < 0 || left > 8) {
                bad++;
                continue;
            }
            tops[row]++, lefts[left]++, flips += mirror;
        }
        double ct = 0, cl = 0, want = TRIALS / 9.0;
        for (int k = 0; k < 9; k++) {
            ct += (tops[k] - want) * (tops[k] - want) / want;
            cl += (lefts[k] - want) * (lefts[k] - want) / want;
        }
        tu_check(t, bad == 0 && ct < 26.1 && cl < 26.1 && fabs(flips - TRIALS / 2.0) < 4 * sqrt(TRIALS / 4.0),
                 "crop offsets uniform on 0..8 (chi-square top %.1f, left %.1f; 99.9%% point 26.1), "
                 "flipped %d of %d", ct, cl, flips, TRIALS);
    }
    /* noise: out - clean ~ N(0, sigma^2) */
    jp_dataset big;
    synth(&big, 1, 3, 32, 32, 1);
    double s1 = 0, s2 = 0;
    int cnt = 0;
    for (int trial = 0; trial < 50; trial++) {
        float o[3072], clean[3072];
        jp_rng r1, r2;
        jp_rng_seed(&r1, 77 + trial);
        r2 = r1;
        jp_augment_image(o, big.x, 3, 32, 32, 4, 1, 0.03f, &r1);
        jp_augment_image(clean, big.x, 3, 32, 32, 4, 1, 0.0f, &r2);
        for (int k = 0; k < 3072; k++) {
            double d = o[k] - clean[k];
            s1 += d, s2 += d * d, cnt++;
        }
    }
    double m = s1 / cnt, sd = sqrt(s2 / cnt - m * m);
    tu_check(t, fabs(m) < 3e-4 && fabs(sd - 0.03) < 6e-4,
             "noise: mean %.2e, std %.5f (sigma 0.03) over %d values", m, sd, cnt);
    jp_dataset_free(&ds);
    jp_dataset_free(&big);
}

static int batches_equal(jp_loader *a, jp_loader *b, int nbatch, size_t d, int bs)
{
    float *xa = malloc(sizeof(float) * d * bs), *xb = malloc(sizeof(float) * d * bs);
    int *ya = malloc(sizeof(int) * bs), *yb = malloc(sizeof(int) * bs);
    int ok = 1;
    for (int i = 0; i < nbatch && ok; i++) {
        int na = jp_loader_next(a, xa, ya), nb = jp_loader_next(b, xb, yb);
        ok = na == nb && memcmp(xa, xb, sizeof(float) * d * na) == 0 &&
             memcmp(ya, yb, sizeof(int) * na) == 0;
    }
    free(xa), free(xb), free(ya), free(yb);
    return ok;
}

static void test_loader(tu_ctx *t)
{
    jp_error e = {0};
    jp_dataset ds;
    synth(&ds, 103, 3, 8, 6, 10);
    size_t d = jp_dataset_dim(&ds);
    jp_loader_config cfg = {.batch_size = 10, .shuffle = 1, .drop_last = 0, .seed = 5, .prefetch = 3};
    jp_loader *l;
    jp_status s = jp_loader_init(&l, &ds, NULL, 0, &cfg, &e);
    tu_check(t, s == JP_OK && jp_loader_batches_per_epoch(l) == 11, "loader: 103 images, batch 10 "
             "keep-last: 11 batches");
    float x[10 * 144];
    int y[10];
    int ok = 1, differs = 0, first[2][10];
    for (int ep = 0; ep < 3; ep++) {
        int seen[103] = {0}, total = 0;
        for (int b = 0; b < 11; b++) {
            int n = jp_loader_next(l, x, y);
            ok = ok && n == (b < 10 ? 10 : 3);
            for (int i = 0; i < n; i++) {
                int id = which(&ds, x + i * d);
                ok = ok && id >= 0 && y[i] == ds.y[id] && memcmp(x + i * d, ds.x + id * d, d * 4) == 0;
                if (id >= 0) seen[id]++;
                if (b == 0 && ep < 2) first[ep][i] = id;
            }
            total += n;
        }
        for (int i = 0; i < 103; i++) ok = ok && seen[i] == 1;
        ok = ok && total == 103;
    }
    for (int i = 0; i < 10; i++) differs += first[0][i] != first[1][i];
    tu_check(t, ok, "no augmentation: each epoch visits every image once, images and labels intact");
    tu_check(t, differs > 0, "reshuffled each epoch (%d of the first 10 positions differ)", differs);
    jp_loader_free(l);

    /* same batches for any prefetch depth, threaded or not; augmentation on */
    cfg = (jp_loader_config){.batch_size = 8, .shuffle = 1, .drop_last = 1, .pad = 2, .flip = 1,
                             .sigma = 0.03f, .seed = 42, .prefetch = 4};
    jp_loader *a, *b, *c;
    jp_loader_init(&a, &ds, NULL, 0, &cfg, &e);
    cfg.prefetch = 0;
    jp_loader_init(&b, &ds, NULL, 0, &cfg, &e);
    tu_check(t, jp_loader_batches_per_epoch(a) == 12, "drop_last: 103 / 8 -> 12 batches");
    tu_check(t, batches_equal(a, b, 40, d, 8), "threaded (prefetch 4) == synchronous, 40 batches "
             "over 3+ epochs, bit for bit");
    /* resume: position after 40 batches, a fresh loader seeks there */
    int64_t ep, bt;
    jp_loader_tell(a, &ep, &bt);
    tu_check(t, ep == 3 && bt == 4, "tell after 40 batches of 12/epoch: epoch %lld batch %lld",
             (long long)ep, (long long)bt);
    cfg.prefetch = 1;
    jp_loader_init(&c, &ds, NULL, 0, &cfg, &e);
    jp_loader_seek(c, ep, bt);
    tu_check(t, batches_equal(a, c, 20, d, 8), "a new loader seeked to (3, 4) continues exactly "
             "(prefetch 1 vs 4)");
    /* seek backwards on a running threaded loader */
    jp_loader_seek(a, 1, 7);
    jp_loader_seek(b, 1, 7);
    tu_check(t, batches_equal(a, b, 15, d, 8), "seek back to (1, 7) while batches were prefetched");
    jp_loader_free(a);
    jp_loader_free(b);
    jp_loader_free(c);

    /* index subset + evaluation loader: sequential, partial last batch, no noise */
    int idx[23];
    for (int i = 0; i < 23; i++) idx[i] = 100 - 4 * i;
    jp_loader_config ev = jp_loader_config_eval(5);
    jp_loader_init(&l, &ds, idx, 23, &ev, &e);
    ok = jp_loader_batches_per_epoch(l) == 5;
    int pos = 0;
    for (int bb = 0; bb < 6; bb++) {
        int n = jp_loader_next(l, x, y);
        ok = ok && n == (bb == 4 ? 3 : 5);
        for (int i = 0; i < n; i++, pos++) {
            int want = idx[pos % 23];
            ok = ok && memcmp(x + i * d, ds.x + want * d, d * 4) == 0 && y[i] == ds.y[want];
        }
        if (bb == 4) pos = 0;
    }
    tu_check(t, ok, "eval loader over a 23-index subset: in order, last batch of 3, then wraps");
    jp_loader_free(l);

    /* the two training streams of a jp_data differ */
    jp_data dd;
    memset(&dd, 0, sizeof dd);
    dd.pad = 2, dd.flip = 1, dd.sigma = 0.03f, dd.seed = 9;
    jp_loader_config s0 = jp_loader_config_train(&dd, 8, 0), s1 = jp_loader_config_train(&dd, 8, 1);
    /* the same streams without augmentation, so that the images can be identified */
    jp_loader_config p0 = s0, p1 = s1;
    p0.pad = p1.pad = 0, p0.flip = p1.flip = 0, p0.sigma = p1.sigma = 0;
    jp_loader_init(&a, &ds, NULL, 0, &p0, &e);
    jp_loader_init(&b, &ds, NULL, 0, &p1, &e);
    jp_loader_next(a, x, y);
    float x2[10 * 144];
    jp_loader_next(b, x2, y);
    int same = 0;
    for (int i = 0; i < 8; i++) same += which(&ds, x + i * d) == which(&ds, x2 + i * d);
    tu_check(t, s0.seed != s1.seed && s0.drop_last && s0.shuffle && s0.sigma == 0.03f && same < 4,
             "train configs: shuffled, drop_last, data set's augmentation, distinct seeds (first "
             "batches share %d of 8 images)", same);
    jp_loader_free(a);
    jp_loader_free(b);

    /* bad configurations */
    jp_loader_config bad = {.batch_size = 200, .drop_last = 1, .prefetch = 2};
    tu_check(t, jp_loader_init(&l, &ds, NULL, 0, &bad, &e) == JP_ERR_ARG && l == NULL,
             "batch larger than the data with drop_last: %s", e.msg);
    bad = (jp_loader_config){.batch_size = 4, .pad = 6};
    tu_check(t, jp_loader_init(&l, &ds, NULL, 0, &bad, &e) == JP_ERR_ARG, "pad 6 on 8x6: %s", e.msg);
    int badidx[2] = {3, 103};
    bad = (jp_loader_config){.batch_size = 1};
    tu_check(t, jp_loader_init(&l, &ds, badidx, 2, &bad, &e) == JP_ERR_ARG &&
                    strstr(e.msg, "103"), "index out of range: %s", e.msg);
    jp_dataset_free(&ds);
}

static void time_batches(tu_ctx *t)
{
    jp_dataset ds;
    synth(&ds, 2000, 3, 32, 32, 10);
    jp_loader_config cfg = {.batch_size = 64, .shuffle = 1, .drop_last = 1, .pad = 4, .flip = 1,
                            .sigma = 0.03f, .seed = 1, .prefetch = 0};
    jp_loader *l;
    jp_error e;
    jp_loader_init(&l, &ds, NULL, 0, &cfg, &e);
    float *x = malloc(sizeof(float) * 64 * 3072);
    int y[64];
    jp_loader_next(l, x, y);
    double t0 = jp_now();
    for (int i = 0; i < 30; i++) jp_loader_next(l, x, y);
    double per = (jp_now() - t0) / 30;
    tu_check(t, 1, "preparing one batch of 64 x 3x32x32 (pad, crop, flip, noise): %.2f ms", per * 1e3);
    jp_loader_free(l);
    free(x);
    jp_dataset_free(&ds);
}

int main(void)
{
    tu_ctx t;
    tu_begin(&t, "test_data_loader");
    test_normals(&t);
    test_augment(&t);
    test_loader(&t);
    time_batches(&t);
    return tu_finish(&t);
}
