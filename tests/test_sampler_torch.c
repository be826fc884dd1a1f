/* The samplers (jp_sample) against the PyTorch reference: tools/gen_pyld_ref.py writes
 * tests/data/pyld_ref.safetensors with the reference's PYLD (../shared/bench/peer_torch.py's
 * pyld(), train-mode BN, YOPO inner loop on conv1), JEM's SGLD and proximal SGLD, run on
 * a seeded WRN-10-1 (BN momentum 0.9, 3x16x16, 10 classes, batch 8) from x0 ~ U(-1, 1).
 *
 * For every case in the file: load init.* (and the case's start running statistics),
 * run jp_sample with the case's configuration, and compare
 *   - x after sampling (elementwise, X_ATOL), also relative to the largest move |xref - x0|,
 *   - the mean LSE jp_sample returns,
 *   - the BN running statistics and num_batches_tracked after sampling,
 * and check that the parameters and their gradients are bit for bit what they were.
 * The cases cover PYLD with the gradient clamp inactive / active, with the [-1, 1] box
 * active, on the class-conditional energy f(x)[y], in eval mode, with the authors' extra
 * --sgld_lr step (sample_q); SGLD and SGLD on f(x)[y];
 * proximal SGLD. The reference runs use noise std 0 (noise cannot match bit for bit);
 * the noise of SGLD, proximal SGLD and PYLD is tested here on its own: the difference
 * between a run with noise and one without is the noise, whose mean, std and tails are
 * checked, and equal seeds give equal samples. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jempp/ebm.h"
#include "jempp/safetensors.h"
#include "jempp/wrn.h"
#include "testutil.h"
#include "testutil_wrn.h"

#define X_ATOL 1e-5     /* x after sampling (|x| <= ~1) */
#define LSE_ATOL 1e-5
#define BUF_ATOL 1e-5   /* running statistics */
#define BUF_RTOL 1e-4

static int meta_int(const jp_st_file *f, const char *key)
{
    const char *v = jp_st_meta(f, key);
    return v ? atoi(v) : -1;
}

typedef struct {
    double x, rel, lse, buf;
} case_diffs;

static void run_case(tu_ctx *t, jp_wrn *m, jp_sampler_work *w, const jp_st_file *f, const char *name,
                     const int *y_all, case_diffs *cd)
{
    char key[JP_ST_MAX_NAME + 64];
    memset(cd, 0, sizeof *cd);
    snprintf(key, sizeof key, "%s.config", name);
    const jp_st_entry *ce = jp_st_find(f, key);
    if (!ce || ce->dtype != JP_F64 || ce->end - ce->begin != 10 * 8) {
        tu_check(t, 0, "%s: %s missing or not F64[10]", name, key);
        return;
    }
    double cv[10];
    memcpy(cv, jp_st_data(f, ce), sizeof cv);
    jp_sampler_config c;
    memset(&c, 0, sizeof c);
    c.kind = (jp_sampler_kind)(int)cv[0];
    c.n_steps = (int)cv[1];
    c.in_steps = (int)cv[2];
    c.pyld_lr = (float)cv[3];
    c.eps = (float)cv[4];
    c.sgld_lr = (float)cv[5];
    c.sgld_std = (float)cv[6];
    c.train_mode = (int)cv[7];
    c.clamp = (int)cv[8];
    int cond = (int)cv[9];
    jp_error err;
    tu_check(t, jp_sampler_config_check(&c, &err) == JP_OK, "%-10s config valid", name);
    const char *note = NULL;
    snprintf(key, sizeof key, "%s.note", name);
    note = jp_st_meta(f, key);
    printf("-- %s: kind %d M/K %d N %d pyld_lr %g eps %g sgld_lr %g std %g train %d clamp %d cond %d\n   (%s)\n",
           name, (int)c.kind, c.n_steps, c.in_steps, (double)c.pyld_lr, (double)c.eps, (double)c.sgld_lr,
           (double)c.sgld_std, c.train_mode, c.clamp, cond, note ? note : "");

    /* the model: init parameters and statistics, then the case's start statistics */
    if (tu_wrn_load(t, m, f, "init.", 1, 1) < 0) return;
    snprintf(key, sizeof key, "%s.start.", name);
    if (tu_wrn_load(t, m, f, key, 0, 0) < 0) return;

    size_t nx, nref, n0;
    snprintf(key, sizeof key, "%s.x0", name);
    float *x = tu_ref_f32(f, key, &nx);
    float *x0 = tu_ref_f32(f, key, &n0);
    snprintf(key, sizeof key, "%s.x", name);
    float *xref = tu_ref_f32(f, key, &nref);
    snprintf(key, sizeof key, "%s.lse", name);
    float *lse_ref = tu_ref_f32(f, key, NULL);
    int n = jp_wrn_batch(m);
    if (nx != nref || nx != (size_t)n * w->dim) {
        tu_check(t, 0, "%s: x0 %zu / x %zu elements, the model takes %d x %d", name, nx, nref, n, w->dim);
        goto done;
    }

    /* sentinel gradients and a copy of the parameters: jp_sample must leave both alone */
    size_t P = jp_wrn_param_count(m);
    float *g0 = malloc(P * sizeof(float)), *p0 = malloc(P * sizeof(float));
    for (size_t i = 0; i < P; i++) jp_wrn_grads(m)[i] = g0[i] = 0.125f + (float)(i % 97) * 1e-3f;
    memcpy(p0, jp_wrn_params(m), P * sizeof(float));

    jp_rng rng;
    jp_rng_seed(&rng, 7);
    double lse = jp_sample(m, w, &c, x, cond ? y_all : NULL, n, &rng);

    tu_check(t, memcmp(g0, jp_wrn_grads(m), P * sizeof(float)) == 0,
             "%-10s parameter gradients untouched (bitwise)", name);
    tu_check(t, memcmp(p0, jp_wrn_params(m), P * sizeof(float)) == 0, "%-10s parameters untouched (bitwise)", name);
    free(g0);
    free(p0);

    double move = 0, maxd = 0;
    size_t at_box_got = 0, at_box_ref = 0, at_box_both = 0;
    for (size_t i = 0; i < nx; i++) {
        double mv = fabs((double)xref[i] - x0[i]);
        if (mv > move) move = mv;
        double d = fabs((double)x[i] - xref[i]);
        if (isnan(d)) d = INFINITY;
        if (d > maxd) maxd = d;
        int bg = fabsf(x[i]) == 1.0f, br = fabsf(xref[i]) == 1.0f;
        at_box_got += bg;
        at_box_ref += br;
        at_box_both += bg && br;
    }
    snprintf(key, sizeof key, "%-10s x after sampling", name);
    tu_close(t, key, x, xref, nx, X_ATOL, 0);
    cd->x = maxd;
    cd->rel = move > 0 ? maxd / move : 0;
    printf("        largest move |xref - x0| %.4g: max|diff| is %.3g of it; at +-1: C %zu, torch %zu, both %zu "
           "of %zu\n",
           move, cd->rel, at_box_got, at_box_ref, at_box_both, nx);
    tu_check(t, cd->rel < 2e-3, "%-10s max|diff| / largest move %.3g < 2e-3", name, cd->rel);
    if (c.clamp) {
        int inside = 1;
        for (size_t i = 0; i < nx; i++) inside &= x[i] >= -1.0f && x[i] <= 1.0f;
        tu_check(t, inside, "%-10s x stays in [-1, 1]", name);
    }
    cd->lse = fabs(lse - lse_ref[0]);
    tu_check(t, cd->lse <= LSE_ATOL, "%-10s mean LSE returned %.7f, reference %.7f (|diff| %.3g)", name, lse,
             (double)lse_ref[0], cd->lse);
    snprintf(key, sizeof key, "%s.after.", name);
    cd->buf = tu_wrn_check_stats(t, m, f, key, name, BUF_ATOL, BUF_RTOL);
done:
    free(x);
    free(x0);
    free(xref);
    free(lse_ref);
}

/* ---- noise ---------------------------------------------------------------------- */

/* Runs c from x0 twice (with c's noise, and with std 0) from the same model state and
 * checks that the difference is N(0, want_std^2) noise. */
static void check_noise(tu_ctx *t, jp_wrn *m, jp_sampler_work *w, const jp_st_file *f, const char *label,
                        const jp_sampler_config *c, const float *x0, double want_std)
{
    int n = jp_wrn_batch(m);
    size_t nx = (size_t)n * w->dim;
    float *a = malloc(nx * sizeof(float)), *b = malloc(nx * sizeof(float)), *a2 = malloc(nx * sizeof(float));
    jp_sampler_config c0 = *c;
    c0.sgld_std = 0;
    jp_rng rng;

    tu_wrn_load(t, m, f, "init.", 1, 1);
    memcpy(a, x0, nx * sizeof(float));
    jp_rng_seed(&rng, 11);
    jp_sample(m, w, c, a, NULL, n, &rng);

    tu_wrn_load(t, m, f, "init.", 1, 1);
    memcpy(a2, x0, nx * sizeof(float));
    jp_rng_seed(&rng, 11);
    jp_sample(m, w, c, a2, NULL, n, &rng);
    tu_check(t, memcmp(a, a2, nx * sizeof(float)) == 0, "%-22s same seed, same samples (bitwise)", label);

    tu_wrn_load(t, m, f, "init.", 1, 1);
    memcpy(a2, x0, nx * sizeof(float));
    jp_rng_seed(&rng, 12);
    jp_sample(m, w, c, a2, NULL, n, &rng);
    size_t same = 0;
    for (size_t i = 0; i < nx; i++) same += a[i] == a2[i];
    tu_check(t, same < nx / 100, "%-22s another seed, other samples (%zu of %zu equal)", label, same, nx);

    tu_wrn_load(t, m, f, "init.", 1, 1);
    memcpy(b, x0, nx * sizeof(float));
    jp_rng_seed(&rng, 11);
    jp_sample(m, w, &c0, b, NULL, n, &rng);

    double s1 = 0, s2 = 0, s4 = 0, lag = 0;
    size_t in1 = 0, in2 = 0;
    for (size_t i = 0; i < nx; i++) {
        double d = (double)a[i] - b[i];
        s1 += d;
        s2 += d * d;
        s4 += d * d * d * d;
        if (fabs(d) <= want_std) in1++;
        if (fabs(d) <= 2 * want_std) in2++;
        if (i) lag += d * ((double)a[i - 1] - b[i - 1]);
    }
    double mean = s1 / nx, var = s2 / nx - mean * mean, sd = sqrt(var);
    double kurt = (s4 / nx) / (var * var);
    double corr = lag / (nx - 1) / var;
    double f1 = (double)in1 / nx, f2 = (double)in2 / nx;
    /* n = 6144 draws: the standard errors are std/sqrt(n) = 1.3% of std for the mean,
     * ~0.9% for the std, 0.6% for the 1-sigma fraction, 0.3% for 2 sigma, 0.013 for the
     * lag-1 correlation, ~0.06 for the kurtosis; the bounds are about 4 of them. */
    printf("        %s: noise mean %.3g std %.5g (want %.5g), within 1/2 std %.4f/%.4f (0.6827/0.9545), "
           "kurtosis %.3f, lag-1 corr %.4f\n",
           label, mean, sd, want_std, f1, f2, kurt, corr);
    tu_check(t, fabs(mean) < 4 * want_std / sqrt((double)nx), "%-22s noise mean %.3g ~ 0", label, mean);
    tu_check(t, fabs(sd / want_std - 1) < 0.04, "%-22s noise std %.5g ~ %.5g", label, sd, want_std);
    tu_check(t, fabs(f1 - 0.6827) < 0.025 && fabs(f2 - 0.9545) < 0.012, "%-22s normal tails: %.4f in 1 std, %.4f in 2",
             label, f1, f2);
    tu_check(t, fabs(kurt - 3) < 0.3, "%-22s kurtosis %.3f ~ 3", label, kurt);
    tu_check(t, fabs(corr) < 0.06, "%-22s neighbouring noise uncorrelated (%.4f)", label, corr);
    free(a);
    free(a2);
    free(b);
}

int main(void)
{
    tu_ctx t;
    tu_begin(&t, "test_sampler_torch");
    char path[1024];
    tu_src_path(path, sizeof path, "tests/data/pyld_ref.safetensors");
    jp_st_file f;
    jp_error err;
    if (jp_st_read(&f, path, &err) != JP_OK) {
        tu_check(&t, 0, "read %s: %s (tools/gen_pyld_ref.py writes it)", path, err.msg);
        return tu_finish(&t);
    }
    jp_wrn_config cfg;
    jp_wrn_config_defaults(&cfg);
    cfg.depth = meta_int(&f, "depth");
    cfg.width = meta_int(&f, "width");
    cfg.in_channels = meta_int(&f, "in_channels");
    cfg.image_size = meta_int(&f, "image_size");
    cfg.n_classes = meta_int(&f, "n_classes");
    const char *norm = jp_st_meta(&f, "norm");
    cfg.norm = norm && strcmp(norm, "batch") == 0 ? JP_NORM_BATCH : JP_NORM_NONE;
    cfg.dropout = 0;
    cfg.bn_momentum = 0.9f;
    cfg.bn_eps = 1e-5f;
    cfg.slope = 0.2f;
    cfg.winograd = 0;
    int batch = meta_int(&f, "batch");
    printf("%s: WRN-%d-%d %dx%dx%d, %d classes, norm %s, batch %d, torch %s\n", path, cfg.depth, cfg.width,
           cfg.in_channels, cfg.image_size, cfg.image_size, cfg.n_classes, norm ? norm : "?", batch,
           jp_st_meta(&f, "torch") ? jp_st_meta(&f, "torch") : "?");
    jp_wrn *m = NULL;
    if (jp_wrn_create(&m, &cfg, batch, &err) != JP_OK) {
        tu_check(&t, 0, "jp_wrn_create: %s", err.msg);
        jp_st_close(&f);
        return tu_finish(&t);
    }
    jp_sampler_work w;
    if (jp_sampler_work_init(&w, m, &err) != JP_OK) {
        tu_check(&t, 0, "jp_sampler_work_init: %s", err.msg);
        jp_wrn_free(m);
        jp_st_close(&f);
        return tu_finish(&t);
    }
    int *y = malloc(sizeof(int) * batch);
    {
        const jp_st_entry *e = jp_st_find(&f, "y");
        int ok = e && e->dtype == JP_I64 && e->end - e->begin == 8 * (size_t)batch;
        tu_check(&t, ok, "labels y (I64, %d)", batch);
        for (int i = 0; i < batch; i++) y[i] = ok ? (int)tu_rd_i64((const char *)jp_st_data(&f, e) + 8 * i) : 0;
    }

    /* ---- the reference cases */
    const char *list = jp_st_meta(&f, "cases");
    tu_check(&t, list != NULL, "metadata 'cases' present");
    char names[1024];
    snprintf(names, sizeof names, "%s", list ? list : "");
    enum { MAXC = 32 };
    const char *cname[MAXC];
    case_diffs cd[MAXC];
    int nc = 0;
    for (char *s = strtok(names, ","); s && nc < MAXC; s = strtok(NULL, ",")) {
        cname[nc] = s;
        run_case(&t, m, &w, &f, s, y, &cd[nc]);
        nc++;
    }
    tu_check(&t, nc >= 8, "%d reference cases run", nc);

    /* the conditional reference samples differ from the unconditional ones: f(x)[y] is a
     * different energy (a sanity check of the reference itself) */
    {
        size_t nx;
        float *a = tu_ref_f32(&f, "sgld.x", &nx), *b = tu_ref_f32(&f, "sgld_y.x", NULL);
        float *x0 = tu_ref_f32(&f, "x0", NULL);
        double dab = 0, mv = 0;
        for (size_t i = 0; i < nx; i++) {
            dab = fmax(dab, fabs((double)a[i] - b[i]));
            mv = fmax(mv, fabs((double)a[i] - x0[i]));
        }
        tu_check(&t, dab > 0.1 * mv, "conditional and unconditional SGLD samples differ (%.3g vs move %.3g)", dab, mv);
        free(a);
        free(b);

        /* ---- noise statistics (C only) */
        jp_sampler_config c;
        jp_sampler_config_sgld(&c);
        c.n_steps = 1;
        c.sgld_std = 0.01f;
        check_noise(&t, m, &w, &f, "SGLD-1 std 0.01", &c, x0, 0.01);
        c.kind = JP_SAMPLER_PROXIMAL;
        c.sgld_lr = 2.0f;
        c.eps = 0.002f;
        check_noise(&t, m, &w, &f, "proximal lr 2 std 0.01", &c, x0, 0.02);
        /* PYLD-1-3 with --sgld_std: one draw after the inner steps (the authors' sample_q),
         * unclamped, from x0 inside [-0.9, 0.9] so that the box never bites */
        float *xs = malloc(nx * sizeof(float));
        for (size_t i = 0; i < nx; i++) xs[i] = 0.9f * x0[i];
        jp_sampler_config_pyld(&c);
        c.n_steps = 1;
        c.in_steps = 3;
        c.sgld_std = 0.01f;
        check_noise(&t, m, &w, &f, "PYLD-1-3 std 0.01", &c, xs, 0.01);
        free(xs);
        free(x0);
    }

    printf("== summary (max |diff| C vs torch):\n");
    for (int i = 0; i < nc; i++)
        printf("   %-10s x %.3g (%.3g of the largest move)  lse %.3g  running stats %.3g\n", cname[i], cd[i].x,
               cd[i].rel, cd[i].lse, cd[i].buf);
    free(y);
    jp_sampler_work_free(&w);
    jp_wrn_free(m);
    jp_st_close(&f);
    return tu_finish(&t);
}
