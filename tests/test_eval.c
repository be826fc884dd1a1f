/* Evaluation on a tiny model (WRN-10-1, 1x8x8 images, 3 classes) and a tiny synthetic
 * data set: OOD scores (against direct computations and finite differences), the
 * shifted sets, PGD (lowers accuracy, never leaves the eps ball or [-1, 1]), JEM's
 * defence, the evaluation modes as library functions (include/jempp/evaluate.h: results
 * against direct computations, compute-only and with files), and the built program
 * `$JEMPP_BIN/jempp eval` run as a child (every mode and the bad-input errors and exit
 * codes) on a checkpoint and a PNG folder data set written to a temporary folder. */
#include <fcntl.h>
#include <math.h>
#include <sys/wait.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jempp/attack.h"
#include "jempp/checkpoint.h"
#include "jempp/evaluate.h"
#include "jempp/metrics.h"
#include "jempp/ood.h"
#include "jempp/ops.h"
#include "jempp/png.h"
#include "testutil.h"

#include "io/json.h"

enum { T_K = 3, T_S = 8, T_B = 16, T_N = 48 };

static jp_wrn *tiny_model(int channels, int size, int classes, uint64_t seed)
{
    jp_wrn_config cfg;
    jp_wrn_config_defaults(&cfg);
    cfg.depth = 10;
    cfg.width = 1;
    cfg.in_channels = channels;
    cfg.image_size = size;
    cfg.n_classes = classes;
    jp_wrn *m = NULL;
    jp_error err;
    if (jp_wrn_create(&m, &cfg, T_B, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        exit(2);
    }
    jp_rng r;
    jp_rng_seed(&r, seed);
    jp_wrn_init_params(m, &r);
    /* a sharper head (x8, no bias), so that the random model's predictions vary with x */
    int nt;
    const jp_tensor_info *ti = jp_wrn_tensors(m, &nt);
    for (int i = 0; i < nt; i++) {
        float *p = jp_wrn_params(m) + ti[i].offset;
        if (!strcmp(ti[i].name, "class_output.weight"))
            for (size_t j = 0; j < ti[i].count; j++) p[j] *= 8.0f;
        if (!strcmp(ti[i].name, "class_output.bias")) memset(p, 0, ti[i].count * sizeof(float));
    }
    jp_wrn_params_changed(m);
    return m;
}

/* n images 1x8x8 in [-1, 1]: a class-dependent stripe pattern plus noise. */
static void tiny_images(jp_dataset *ds, int n, uint64_t seed)
{
    memset(ds, 0, sizeof *ds);
    snprintf(ds->name, sizeof ds->name, "tiny");
    ds->n = n;
    ds->c = 1;
    ds->h = ds->w = T_S;
    ds->n_classes = T_K;
    ds->x = jp_alloc((size_t)n * T_S * T_S * sizeof(float));
    ds->y = jp_alloc((size_t)n * sizeof(int));
    jp_rng r;
    jp_rng_seed(&r, seed);
    for (int i = 0; i < n; i++) {
        ds->y[i] = i % T_K;
        for (int p = 0; p < T_S * T_S; p++) {
            float v = ((p / T_S + ds->y[i]) % 3 == 0 ? 0.6f : -0.4f) + 0.3f * (float)jp_rng_normal(&r);
            ds->x[(size_t)i * T_S * T_S + p] = v < -1 ? -1 : v > 1 ? 1 : v;
        }
    }
}

static int argmax_of(const float *l, int K)
{
    int arg = 0;
    for (int k = 1; k < K; k++)
        if (l[k] > l[arg]) arg = k;
    return arg;
}

static double lse_of(const float *l, int K)
{
    double mx = l[0], s = 0;
    for (int k = 1; k < K; k++) mx = l[k] > mx ? l[k] : mx;
    for (int k = 0; k < K; k++) s += exp(l[k] - mx);
    return mx + log(s);
}

static void test_scores(tu_ctx *t, jp_wrn *m, const jp_dataset *ds)
{
    int n = ds->n, D = T_S * T_S;
    double *px = malloc(n * sizeof(double)), *py = malloc(n * sizeof(double)), *pg = malloc(n * sizeof(double));
    double *px2 = malloc(n * sizeof(double));
    float *logits = malloc((size_t)n * T_K * sizeof(float));
    jp_rng rng;
    jp_rng_seed(&rng, 3);
    jp_error err;
    tu_check(t, jp_ood_scores(m, ds->x, n, 0, px, py, pg, &rng, &err) == JP_OK, "jp_ood_scores");
    jp_eval_logits(m, ds->x, n, NULL, logits, NULL, &rng, &err);
    double dpx = 0, dpy = 0;
    for (int i = 0; i < n; i++) {
        const float *l = logits + (size_t)i * T_K;
        double lse = lse_of(l, T_K), mx = l[argmax_of(l, T_K)];
        dpx = fmax(dpx, fabs(px[i] - lse));
        dpy = fmax(dpy, fabs(py[i] - exp(mx - lse)));
    }
    tu_check(t, dpx < 1e-5 && dpy < 1e-6, "px = LSE(logits), py = max softmax (max diff %.2g, %.2g)", dpx, dpy);
    /* the same scores again: AUROC of a set against itself is exactly 0.5 */
    jp_ood_scores(m, ds->x, n, 0, px2, NULL, NULL, &rng, &err);
    jp_detect_metrics dm;
    jp_detect(px, n, px2, n, &dm, &err);
    tu_check(t, dm.auroc == 0.5, "AUROC of the test set against itself = %.17g", dm.auroc);
    /* pxgrad: per image (a batch of 1 gives the same) and = -|d LSE / dx| by finite differences */
    double alone;
    jp_ood_scores(m, ds->x + 5 * D, 1, 0, NULL, NULL, &alone, &rng, &err);
    tu_check(t, fabs(alone - pg[5]) < 1e-4 * fabs(pg[5]), "pxgrad of image 5 alone %.6g = in its batch %.6g", alone,
             pg[5]);
    /* direction of the gradient: (LSE(x + h u) - LSE(x - h u)) / 2h = |g| */
    jp_wrn_forward(m, logits, ds->x + 5 * D, 1, 0);
    float dl[T_K], dx[T_S * T_S], xp[T_S * T_S], xm[T_S * T_S], one = 1.0f;
    jp_logsumexp_backward(dl, &one, logits, 1, T_K);
    jp_wrn_backward(m, dl, dx, 0);
    double gn = 0, h = 1e-2;
    for (int j = 0; j < D; j++) gn += (double)dx[j] * dx[j];
    gn = sqrt(gn);
    for (int j = 0; j < D; j++) {
        xp[j] = ds->x[5 * D + j] + (float)(h * dx[j] / gn);
        xm[j] = ds->x[5 * D + j] - (float)(h * dx[j] / gn);
    }
    float lp[T_K], lm[T_K];
    jp_wrn_forward(m, lp, xp, 1, 0);
    jp_wrn_forward(m, lm, xm, 1, 0);
    double fd = (lse_of(lp, T_K) - lse_of(lm, T_K)) / (2 * h);
    tu_check(t, fabs(fd + pg[5]) < 0.05 * fabs(pg[5]), "pxgrad %.5g = -(finite-difference slope %.5g)", pg[5], fd);
    int neg = 1;
    for (int i = 0; i < n; i++) neg &= pg[i] < 0 && py[i] >= 1.0 / T_K - 1e-9 && py[i] <= 1;
    tu_check(t, neg, "pxgrad < 0 and py in [1/K, 1] for every image");
    free(px);
    free(py);
    free(pg);
    free(px2);
    free(logits);
}

static void test_shifted(tu_ctx *t, const jp_dataset *ds)
{
    int D = T_S * T_S, n = ds->n;
    jp_rng rng;
    jp_rng_seed(&rng, 11);
    jp_error err;
    jp_dataset s;
    /* noise: uniform on [-1, 1] */
    jp_shifted_set(&s, ds, JP_SHIFT_NOISE, n, &rng, &err);
    double mean = 0, lo = 1, hi = -1;
    for (int i = 0; i < n * D; i++) {
        mean += s.x[i];
        lo = fmin(lo, s.x[i]);
        hi = fmax(hi, s.x[i]);
    }
    mean /= n * D;
    tu_check(t, s.n == n && lo >= -1 && hi <= 1 && fabs(mean) < 0.05 && hi - lo > 1.9,
             "noise set: %d images, values in [%.3f, %.3f], mean %.4f", s.n, lo, hi, mean);
    jp_dataset_free(&s);
    /* constant: one value per image */
    jp_shifted_set(&s, ds, JP_SHIFT_CONSTANT, n, &rng, &err);
    int flat = 1, distinct = 0;
    for (int i = 0; i < n; i++) {
        for (int j = 1; j < D; j++) flat &= s.x[i * D + j] == s.x[i * D];
        flat &= s.x[i * D] >= -1 && s.x[i * D] <= 1;
        distinct += i > 0 && s.x[i * D] != s.x[(i - 1) * D];
    }
    tu_check(t, flat && distinct > n / 2, "constant set: every image one value in [-1, 1], values differ (%d)", distinct);
    jp_dataset_free(&s);
    /* invert: exactly -x */
    jp_shifted_set(&s, ds, JP_SHIFT_INVERT, n, &rng, &err);
    int inv = 1;
    for (int i = 0; i < n * D; i++) inv &= s.x[i] == -ds->x[i];
    tu_check(t, inv && !strcmp(s.name, "invert(tiny)"), "invert set = -x exactly (%s)", s.name);
    jp_dataset_free(&s);
    /* interp: image k = 0.5 x_k + 0.5 x_j for some j != k */
    jp_shifted_set(&s, ds, JP_SHIFT_INTERP, n, &rng, &err);
    int all_found = 1;
    for (int k = 0; k < n; k++) {
        int found = 0;
        for (int j = 0; j < n && !found; j++) {
            if (j == k) continue;
            int eq = 1;
            for (int q = 0; q < D && eq; q++) eq = s.x[k * D + q] == 0.5f * ds->x[k * D + q] + 0.5f * ds->x[j * D + q];
            found = eq;
        }
        all_found &= found;
    }
    tu_check(t, all_found, "interp set: every image is 0.5 x_k + 0.5 x_j with j != k");
    jp_dataset_free(&s);
    tu_check(t, jp_shifted_set(&s, ds, JP_SHIFT_INTERP, n + 1, &rng, &err) == JP_ERR_ARG, "interp larger than its "
             "source refused: %s", err.msg);
    tu_check(t, jp_shift_parse("interp") == JP_SHIFT_INTERP && jp_shift_parse("svhn") == -1, "shift names parse");
}

/* Largest perturbation (model units) and whether every value is in [-1, 1]. */
static double max_pert(const float *xa, const float *x, int n, int D, int l2, int *in_box)
{
    double worst = 0;
    *in_box = 1;
    for (int i = 0; i < n; i++) {
        double s = 0;
        for (int j = 0; j < D; j++) {
            double d = fabs((double)xa[i * D + j] - x[i * D + j]);
            s = l2 ? s + d * d : fmax(s, d);
            *in_box &= xa[i * D + j] >= -1 && xa[i * D + j] <= 1;
        }
        worst = fmax(worst, l2 ? sqrt(s) : s);
    }
    return worst;
}

static void test_attack(tu_ctx *t, jp_wrn *m, jp_dataset *ds)
{
    int D = T_S * T_S;
    jp_error err;
    /* centre the head's logits over the set (bias -= mean logit), so that the random model
     * predicts every class; then labels := its predictions: clean accuracy 1 by construction */
    float *logits = malloc((size_t)ds->n * T_K * sizeof(float));
    jp_rng rng;
    jp_rng_seed(&rng, 5);
    jp_eval_logits(m, ds->x, ds->n, NULL, logits, NULL, &rng, &err);
    int nt;
    const jp_tensor_info *ti = jp_wrn_tensors(m, &nt);
    for (int i = 0; i < nt; i++)
        if (!strcmp(ti[i].name, "class_output.bias"))
            for (int k = 0; k < T_K; k++) {
                double mean = 0;
                for (int j = 0; j < ds->n; j++) mean += logits[j * T_K + k];
                jp_wrn_params(m)[ti[i].offset + k] -= (float)(mean / ds->n);
            }
    jp_wrn_params_changed(m);
    jp_eval_logits(m, ds->x, ds->n, NULL, logits, NULL, &rng, &err);
    int counts[T_K] = {0};
    for (int i = 0; i < ds->n; i++) counts[ds->y[i] = argmax_of(logits + i * T_K, T_K)]++;
    printf("        predicted classes of the tiny set: %d %d %d\n", counts[0], counts[1], counts[2]);
    jp_attacker *a;
    tu_check(t, jp_attacker_create(&a, m, NULL, 9, &err) == JP_OK, "attacker (no defence)");
    for (int l2 = 0; l2 <= 1; l2++) {
        jp_pgd_config c;
        jp_pgd_config_defaults(&c);
        c.norm = l2 ? JP_PGD_L2 : JP_PGD_LINF;
        c.n_iter = 10;
        c.restarts = 2;
        jp_robust_point pts[3] = {{0, 0, 0, 0}, {l2 ? 0.25 : 0.02, 0, 0, 0}, {l2 ? 2.0 : 0.25, 0, 0, 0}};
        double clean;
        tu_check(t, jp_robust_accuracy(a, &c, ds, ds->n, pts, 3, &clean, &err) == JP_OK, "robust accuracy %s",
                 jp_pgd_norm_name(c.norm));
        tu_check(t, clean == 1 && pts[0].acc == 1, "%s: clean accuracy 1 by construction, eps 0 gives it", l2 ? "L2" : "Linf");
        tu_check(t, pts[2].acc < 0.5 && pts[2].acc <= pts[1].acc + 0.1,
                 "%s: PGD lowers accuracy: %.3f at eps %g, %.3f at eps %g", l2 ? "L2" : "Linf", pts[1].acc, pts[1].eps,
                 pts[2].acc, pts[2].eps);
        tu_check(t, pts[1].max_norm <= pts[1].eps * (1 + 1e-5) + 1e-7 && pts[2].max_norm <= pts[2].eps * (1 + 1e-5) + 1e-7,
                 "%s: perturbations within the ball (%.6g <= %g, %.6g <= %g, pixel units)", l2 ? "L2" : "Linf",
                 pts[1].max_norm, pts[1].eps, pts[2].max_norm, pts[2].eps);
        /* the same directly: model units are 2 eps, everything in [-1, 1] */
        float *xa = malloc((size_t)T_B * D * sizeof(float));
        int broken[T_B], in_box;
        c.eps = pts[2].eps;
        jp_pgd(a, &c, ds->x, ds->y, T_B, xa, broken, &err);
        double mp = max_pert(xa, ds->x, T_B, D, l2, &in_box);
        tu_check(t, in_box && mp <= 2 * c.eps * (1 + 1e-5) && mp > 0.5 * c.eps,
                 "%s jp_pgd: x_adv in [-1, 1], ||x_adv - x|| = %.6g <= 2 eps = %g (model units)", l2 ? "L2" : "Linf", mp,
                 2 * c.eps);
        free(xa);
    }
    /* BPDA plumbing: a defence with one noiseless copy and no refinement is the plain model */
    jp_defence_config d0 = {1, 0, 0.0f, 1.0f, 0.01f};
    jp_attacker *a0;
    jp_attacker_create(&a0, m, &d0, 9, &err);
    float g1[4 * 64], g2[4 * 64], l1[4 * T_K], l2v[4 * T_K];
    jp_attacker_grad(a, g1, l1, ds->x, ds->y, 4);
    jp_attacker_grad(a0, g2, l2v, ds->x, ds->y, 4);
    tu_close(t, "defence (1 copy, 0 steps) logits = plain", l2v, l1, 4 * T_K, 1e-6, 1e-5);
    tu_close(t, "defence (1 copy, 0 steps) gradient = plain", g2, g1, 4 * 64, 1e-7, 1e-4);
    jp_attacker_free(a0);
    /* JEM's defence runs: 4 copies, 2 SGLD steps, attacked end to end */
    jp_defence_config dj;
    jp_defence_config_jem(&dj);
    dj.n_copies = 4;
    dj.n_steps = 2;
    jp_attacker *ad = NULL;
    jp_status st = jp_attacker_create(&ad, m, &dj, 9, &err);
    tu_check(t, st == JP_OK && jp_attacker_batch(ad) == T_B / 4, "defended attacker: %d images per pass %s",
             st ? 0 : jp_attacker_batch(ad), st ? err.msg : "");
    if (st) exit(1);
    jp_pgd_config c;
    jp_pgd_config_defaults(&c);
    c.n_iter = 5;
    jp_robust_point pts[2] = {{0, 0, 0, 0}, {0.25, 0, 0, 0}};
    double clean;
    tu_check(t, jp_robust_accuracy(ad, &c, ds, 16, pts, 2, &clean, &err) == JP_OK, "defended robust accuracy runs");
    tu_check(t, clean >= 0 && clean <= 1 && pts[1].acc <= clean && pts[1].max_norm <= 0.25 * (1 + 1e-5),
             "defended: clean %.3f, robust %.3f at 0.25 (largest perturbation %.4g)", clean, pts[1].acc, pts[1].max_norm);
    jp_defence_config big = dj;
    big.n_copies = T_B + 1;
    jp_attacker *bad;
    tu_check(t, jp_attacker_create(&bad, m, &big, 9, &err) == JP_ERR_ARG, "more copies than the batch refused: %s",
             err.msg);
    jp_attacker_free(ad);
    jp_attacker_free(a);
    free(logits);
}

/* ---- the modes as library functions ------------------------------------------------ */

static int exists(const char *dir, const char *file);
static double json_num(const char *dir, const char *file, const char *parent, const char *key);

/* jp_eval_* on the tiny set without a folder (compute only) against the pieces they are
 * made of, then with a folder (the files written hold the results). */
static void test_library_modes(tu_ctx *t, jp_wrn *m, const jp_dataset *ds)
{
    int n = ds->n, K = T_K;
    jp_error err;
    jp_eval_target tg = jp_eval_target_init(m);
    tg.ckpt = "tiny";
    tg.split = ds;
    tg.seed = 7;
    tg.quiet = 1;
    float *logits = malloc((size_t)n * K * sizeof(float));
    jp_rng rng;
    jp_rng_seed(&rng, 1);
    jp_eval_logits(m, ds->x, n, NULL, logits, NULL, &rng, &err);
    int correct = 0;
    double ce = 0;
    for (int i = 0; i < n; i++) {
        const float *l = logits + (size_t)i * K;
        correct += argmax_of(l, K) == ds->y[i];
        ce += lse_of(l, K) - l[ds->y[i]];
    }
    jp_clf_opts co;
    jp_clf_opts_defaults(&co);
    jp_test_clf_result tr;
    jp_status st = jp_eval_test_clf(&tg, &co, &tr, &err);
    int64_t total = 0;
    for (int k = 0; k < K * K && !st; k++) total += tr.confusion[k];
    tu_check(t, !st && tr.n == n && tr.accuracy == (double)correct / n && fabs(tr.loss - ce / n) < 1e-9 && total == n,
             "jp_eval_test_clf: accuracy %.4f = direct %.4f, loss %.6f = %.6f, confusion sums to %lld %s",
             st ? 0 : tr.accuracy, (double)correct / n, st ? 0 : tr.loss, ce / n, (long long)total, st ? err.msg : "");
    jp_predict_result pr;
    st = jp_eval_predict(&tg, &co, &pr, &err);
    double dl = 0, de = 0;
    int preds_ok = 1;
    for (int i = 0; i < n && !st; i++) {
        preds_ok &= pr.pred[i] == argmax_of(logits + (size_t)i * K, K) && pr.label[i] == ds->y[i];
        de = fmax(de, fabs(pr.energy[i] + lse_of(logits + (size_t)i * K, K)));
        for (int k = 0; k < K; k++) dl = fmax(dl, fabs(pr.logits[(size_t)i * K + k] - logits[(size_t)i * K + k]));
    }
    tu_check(t, !st && preds_ok && dl < 1e-6 && de < 1e-5 && pr.accuracy == tr.accuracy,
             "jp_eval_predict: argmax, labels, logits (%.2g) and energy = -LSE (%.2g) per image", dl, de);
    if (!st) jp_predict_result_free(&pr);
    jp_calibration cal, direct;
    co.bins = 10;
    st = jp_eval_cali(&tg, &co, &cal, &err);
    jp_calibrate(&direct, logits, ds->y, n, K, 10, &err);
    tu_check(t, !st && cal.ece == direct.ece && cal.nll == direct.nll && cal.n_bins == 10,
             "jp_eval_cali: ECE %.5f = jp_calibrate's %.5f", st ? 0 : cal.ece, direct.ece);
    if (!st) jp_calibration_free(&cal);
    jp_calibration_free(&direct);

    /* ood against the inverted images: the AUROC of the scores computed directly */
    jp_ood_opts oo;
    jp_ood_opts_defaults(&oo);
    tu_check(t, jp_ood_parse_shifts(&oo, "invert,bogus", "--ood_sets", &err) == JP_ERR_ARG && strstr(err.msg, "bogus"),
             "jp_ood_parse_shifts refuses an unknown set: %s", err.msg);
    jp_ood_parse_shifts(&oo, "invert", "--ood_sets", &err);
    jp_ood_result orr;
    st = jp_eval_ood(&tg, &oo, &orr, &err);
    double *pin = malloc(n * sizeof(double)), *pout = malloc(n * sizeof(double));
    jp_dataset inv;
    jp_rng_seed(&rng, 7);
    jp_ood_scores(m, ds->x, n, 0, pin, NULL, NULL, &rng, &err);
    jp_shifted_set(&inv, ds, JP_SHIFT_INVERT, n, &rng, &err);
    jp_ood_scores(m, inv.x, n, 0, pout, NULL, NULL, &rng, &err);
    double auroc = jp_auroc(pin, n, pout, n);
    tu_check(t, !st && orr.n_sets == 1 && !strcmp(orr.sets[0].kind, "invert") &&
                    orr.sets[0].m[JP_SCORE_PX].auroc == auroc,
             "jp_eval_ood: AUROC px vs invert %.4f = direct %.4f", st ? 0 : orr.sets[0].m[JP_SCORE_PX].auroc, auroc);
    if (!st) jp_ood_result_free(&orr);
    jp_dataset_free(&inv);
    free(pin);
    free(pout);
    oo.n_shifts = 0;
    tu_check(t, jp_eval_ood(&tg, &oo, &orr, &err) == JP_ERR_ARG && strstr(err.msg, "nothing to compare"),
             "jp_eval_ood without sets refused: %s", err.msg);

    /* attack at eps 0 only: the clean accuracy is test_clf's */
    jp_attack_opts ao;
    jp_attack_opts_defaults(&ao);
    ao.n_eps[JP_PGD_L2] = 0;
    jp_attack_parse_eps("0", "--eps_linf", ao.eps[JP_PGD_LINF], &ao.n_eps[JP_PGD_LINF], &err);
    ao.n_iter = 1;
    jp_attack_result ar;
    st = jp_eval_attack(&tg, &ao, &ar, &err);
    tu_check(t, !st && ar.norm[JP_PGD_LINF].n_points == 1 && ar.norm[JP_PGD_L2].n_points == 0 &&
                    ar.norm[JP_PGD_LINF].clean_accuracy == tr.accuracy,
             "jp_eval_attack: clean accuracy %.4f = test_clf's %.4f %s", st ? 0 : ar.norm[0].clean_accuracy,
             tr.accuracy, st ? err.msg : "");
    double eps[4];
    int neps;
    tu_check(t, jp_attack_parse_eps("0,8/255", "--eps_linf", eps, &neps, &err) == JP_OK && neps == 2 &&
                    fabs(eps[1] - 8.0 / 255) < 1e-15 &&
                    jp_attack_parse_eps("2", "--eps_linf", eps, &neps, &err) == JP_ERR_ARG,
             "jp_attack_parse_eps: fractions, radii above 1 refused (%s)", err.msg);

    /* samples: uniform init (no data), traces of n_steps + 1 energies */
    jp_samples_opts so;
    jp_samples_opts_defaults(&so);
    jp_sampler_config_sgld(&so.chains.sampler);
    so.chains.sampler.n_steps = 3;
    so.chains.informative = 0;
    so.n_samples = 5;
    so.per_class = 2;
    jp_samples_result sr;
    st = jp_eval_samples(&tg, &so, &sr, &err);
    tu_check(t, !st && sr.n_steps == 3 && sr.n_uncond == 5 && sr.n_cond == 2 * K && isfinite(sr.energy_uncond[3]) &&
                    isfinite(sr.energy_cond[0]) && !sr.has_buffer,
             "jp_eval_samples: %d + %d chains, energy %.4f -> %.4f %s", st ? 0 : sr.n_uncond, st ? 0 : sr.n_cond,
             st ? 0 : sr.energy_uncond[0], st ? 0 : sr.energy_uncond[3], st ? err.msg : "");
    if (!st) jp_samples_result_free(&sr);
    so.chains.informative = 1;
    tu_check(t, jp_eval_samples(&tg, &so, &sr, &err) == JP_ERR_ARG && strstr(err.msg, "training images"),
             "jp_eval_samples: informative init without a data set refused: %s", err.msg);

    /* with a folder: the files hold the results */
    char dir[900];
    tu_tmpdir(dir, sizeof dir, "eval-lib");
    tg.out = dir;
    jp_test_clf_result tr2;
    st = jp_eval_test_clf(&tg, &co, &tr2, &err);
    tu_check(t, !st && json_num(dir, "test_clf.json", NULL, "accuracy") == tr.accuracy &&
                    json_num(dir, "test_clf.json", NULL, "loss") == tr.loss && exists(dir, "confusion.png"),
             "jp_eval_test_clf with a folder: test_clf.json holds the result, confusion.png %s", st ? err.msg : "");
    if (!st) jp_test_clf_result_free(&tr2);
    jp_test_clf_result_free(&tr);
    free(logits);
}

/* jp_chains_run is the batches of init + jp_sample the trainer's grid ran before it
 * (same rng draws): its chains equal the hand-written loop. */
static void test_chains(tu_ctx *t, jp_wrn *m)
{
    int D = T_S * T_S, n = 2 * T_B, dim = D;
    float *a = malloc((size_t)n * D * sizeof(float)), *b = malloc((size_t)n * D * sizeof(float));
    int y[2 * T_B];
    for (int i = 0; i < n; i++) y[i] = i % T_K;
    jp_chains ch = {{0}, jp_init_uniform, &dim, 1};
    jp_sampler_config_pyld(&ch.sc);
    ch.sc.train_mode = 0;
    ch.sc.n_steps = 3;
    ch.sc.in_steps = 2;
    jp_rng r1, r2;
    jp_rng_seed(&r1, 9);
    jp_rng_seed(&r2, 9);
    jp_error err;
    double trace[4];
    jp_status st = jp_chains_run(m, &ch, a, y, n, &r1, trace, NULL, 0, &err);
    jp_sampler_work sw;
    jp_sampler_work_init(&sw, m, &err);
    for (int at = 0; at < n; at += T_B) {
        for (int i = 0; i < T_B; i++) jp_init_uniform(&dim, b + (size_t)(at + i) * D, 1, y[at + i], &r2);
        jp_sample(m, &sw, &ch.sc, b + (size_t)at * D, y + at, T_B, &r2);
    }
    jp_sampler_work_free(&sw);
    tu_check(t, !st && memcmp(a, b, (size_t)n * D * sizeof(float)) == 0 && isfinite(trace[3]),
             "jp_chains_run = init + jp_sample per batch, bit for bit (energy %.4f -> %.4f)", trace[0], trace[3]);
    free(a);
    free(b);
}

/* ---- the command line ------------------------------------------------------------ */

static char g_tmp[900];

/* A PNG folder data set: root/{train,test}/<class>/NNN.png, 8x8 gray (or rgb). */
static void write_folder(const char *root, int classes, int per_train, int per_test, int channels, int size)
{
    char path[1200];
    unsigned char px[3 * 32 * 32];
    jp_error err;
    jp_rng r;
    jp_rng_seed(&r, 21);
    mkdir(root, 0755);
    for (int split = 0; split < 2; split++) {
        int count = split ? per_test : per_train;
        if (count == 0) continue;
        snprintf(path, sizeof path, "%s/%s", root, split ? "test" : "train");
        mkdir(path, 0755);
        for (int k = 0; k < classes; k++) {
            snprintf(path, sizeof path, "%s/%s/c%d", root, split ? "test" : "train", k);
            mkdir(path, 0755);
            for (int i = 0; i < count; i++) {
                for (int p = 0; p < size * size * channels; p++)
                    px[p] = (unsigned char)(((p / (size * channels) + k) % 3 == 0 ? 180 : 60) + (int)(40 * jp_rng_uniform(&r)));
                snprintf(path, sizeof path, "%s/%s/c%d/%03d.png", root, split ? "test" : "train", k, i);
                if (jp_png_write_rgb(path, px, size, size, channels, &err)) {
                    fprintf(stderr, "%s\n", err.msg);
                    exit(2);
                }
            }
        }
    }
}

static void write_ckpt(const char *path, jp_wrn *m, int buffer_n)
{
    jp_st_writer w;
    jp_st_writer_init(&w);
    jp_ckpt_add_model(&w, m);
    const jp_wrn_config *c = jp_wrn_config_of(m);
    int D = c->in_channels * c->image_size * c->image_size;
    float *buf = malloc((size_t)(buffer_n + 1) * D * sizeof(float));
    jp_rng r;
    jp_rng_seed(&r, 4);
    jp_rng_fill_uniform(&r, buf, (size_t)buffer_n * D, -1, 1);
    if (buffer_n > 0) {
        int64_t shape[4] = {buffer_n, c->in_channels, c->image_size, c->image_size};
        jp_st_writer_add(&w, "replay_buffer", JP_F32, 4, shape, buf);
    }
    jp_st_writer_meta(&w, "dataset", "folder");
    jp_error err;
    if (jp_st_writer_save(&w, path, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        exit(2);
    }
    jp_st_writer_free(&w);
    free(buf);
}

/* Runs `$JEMPP_BIN/jempp eval` with the words of `args` (space-separated) as a child;
 * its stderr goes to msg. Its exit status, -1 when it did not exit normally. */
static int run_eval(const char *args, char *msg, size_t msg_len)
{
    char buf[8192], bin[1000], *argv[64];
    const char *bdir = getenv("JEMPP_BIN");
    snprintf(bin, sizeof bin, "%s/jempp", bdir ? bdir : "build");
    int argc = 0;
    argv[argc++] = bin;
    snprintf(buf, sizeof buf, "eval %s", args);
    for (char *save = NULL, *tok = strtok_r(buf, " ", &save); tok && argc < 63; tok = strtok_r(NULL, " ", &save))
        argv[argc++] = tok;
    argv[argc] = NULL;
    char errfile[1000];
    snprintf(errfile, sizeof errfile, "%s/stderr.txt", g_tmp);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(errfile, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, 2);
        execv(bin, argv);
        _exit(127);
    }
    int status, rc = -1;
    if (pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status)) rc = WEXITSTATUS(status);
    FILE *f = fopen(errfile, "r");
    size_t got = f ? fread(msg, 1, msg_len - 1, f) : 0;
    msg[got] = '\0';
    if (f) fclose(f);
    return rc;
}

static int exists(const char *dir, const char *file)
{
    char p[1200];
    snprintf(p, sizeof p, "%s/%s", dir, file);
    struct stat s;
    return stat(p, &s) == 0 && s.st_size > 0;
}

/* The number `key` of the JSON file dir/file at top level or under `parent`. */
static double json_num(const char *dir, const char *file, const char *parent, const char *key)
{
    char p[1200];
    snprintf(p, sizeof p, "%s/%s", dir, file);
    FILE *f = fopen(p, "rb");
    if (!f) return NAN;
    static char text[1 << 20];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    jp_json_doc doc;
    jp_error err;
    if (jp_json_parse(&doc, text, n, &err)) return NAN;
    const jp_json *o = parent ? jp_json_get(doc.root, parent) : doc.root;
    const jp_json *v = o ? jp_json_get(o, key) : NULL;
    double r = v && v->type == JP_JSON_NUMBER ? v->number : NAN;
    jp_json_free(&doc);
    return r;
}

static void test_cli(tu_ctx *t)
{
    char data[1000], ckpt[1000], out[1000], args[8192], msg[8192];
    snprintf(data, sizeof data, "%s/data", g_tmp);
    snprintf(ckpt, sizeof ckpt, "%s/model.safetensors", g_tmp);
    snprintf(out, sizeof out, "%s/out", g_tmp);
    write_folder(data, T_K, 6, 6, 1, T_S);
    jp_wrn *m = tiny_model(1, T_S, T_K, 17);
    write_ckpt(ckpt, m, 40);
    jp_wrn_free(m);
    const char *common = "--dataset folder --batch_size 16 --quiet";
    int rc;

    snprintf(args, sizeof args, "--ckpt %s --out %s --data_root %s %s --mode test_clf", ckpt, out, data, common);
    rc = run_eval(args, msg, sizeof msg);
    double acc = json_num(out, "test_clf.json", NULL, "accuracy"), n = json_num(out, "test_clf.json", NULL, "n");
    tu_check(t, rc == 0 && acc >= 0 && acc <= 1 && n == 18 && exists(out, "confusion.png") &&
                    exists(out, "per_class_accuracy.png"),
             "eval test_clf: rc %d, accuracy %.3f over %g images, confusion.png %s", rc, acc, n, msg);
    snprintf(args, sizeof args, "--ckpt %s --out %s --data_root %s %s --mode test_clf --sigma 0.03 --n_steps 2", ckpt,
             out, data, common);
    tu_check(t, run_eval(args, msg, sizeof msg) == 0 && json_num(out, "test_clf.json", NULL, "n_steps") == 2,
             "eval test_clf with noise and SGLD refinement %s", msg);

    snprintf(args, sizeof args, "--ckpt %s --out %s --data_root %s %s --mode predict --split train --n_valid 0", ckpt, out, data,
             common);
    rc = run_eval(args, msg, sizeof msg);
    char p[1200];
    snprintf(p, sizeof p, "%s/predict.csv", out);
    FILE *f = fopen(p, "r");
    int lines = 0, cols = 0;
    char line[4096];
    while (f && fgets(line, sizeof line, f)) {
        if (lines++ == 0)
            for (char *q = line; *q; q++) cols += *q == ',';
    }
    if (f) fclose(f);
    tu_check(t, rc == 0 && lines == 19 && cols == 4 + T_K, "eval predict: %d lines (header + 18), %d columns %s", lines,
             cols + 1, msg);

    snprintf(args, sizeof args, "--ckpt %s --out %s --data_root %s %s --mode cali --bins 10", ckpt, out, data, common);
    rc = run_eval(args, msg, sizeof msg);
    double ece = json_num(out, "cali.json", NULL, "ece");
    tu_check(t, rc == 0 && ece >= 0 && ece <= 1 && json_num(out, "cali.json", NULL, "n_bins") == 10 &&
                    exists(out, "reliability.png"),
             "eval cali: ECE %.4f, reliability.png %s", ece, msg);

    snprintf(args, sizeof args, "--ckpt %s --out %s --data_root %s %s --mode ood --ood_dataset folder --ood_data_root %s "
             "--ood_split train", ckpt, out, data, common, data);
    rc = run_eval(args, msg, sizeof msg);
    tu_check(t, rc == 0 && exists(out, "ood.json") && exists(out, "ood_hist_px.png") && exists(out, "ood_hist_py.png") &&
                    exists(out, "ood_hist_pxgrad.png"),
             "eval ood: 4 shifted sets + a data set, json and 3 histograms %s", msg);

    snprintf(args, sizeof args, "--ckpt %s --out %s --data_root %s %s --mode samples --init uniform --sampler sgld "
             "--n_sample_steps 4 --n_samples 5 --per_class 2 --frames 3", ckpt, out, data, common);
    rc = run_eval(args, msg, sizeof msg);
    tu_check(t, rc == 0 && exists(out, "samples_uncond.png") && exists(out, "samples_cond.png") &&
                    exists(out, "energy.png") && exists(out, "animation/frame_0000.png") &&
                    exists(out, "animation/frame_0002.png") && !exists(out, "animation/frame_0003.png") &&
                    exists(out, "buffer.png") && exists(out, "buffer_by_class.png") && exists(out, "samples.json"),
             "eval samples: grids, energy plot, 3 animation frames, buffer grids %s", msg);
    snprintf(args, sizeof args, "--ckpt %s --out %s --data_root %s %s --mode samples --init informative "
             "--n_sample_steps 2 --in_steps 2 --n_samples 4 --per_class 1 --frames 0 --train_mode_sampling --n_valid 0", ckpt, out,
             data, common);
    tu_check(t, run_eval(args, msg, sizeof msg) == 0, "eval samples: PYLD, informative init, train-mode BN %s", msg);

    snprintf(args, sizeof args, "--ckpt %s --out %s --data_root %s %s --mode attack --norm both --eps_linf 0,1/255,0.2 "
             "--eps_l2 0,1 --n_iter 3", ckpt, out, data, common);
    rc = run_eval(args, msg, sizeof msg);
    double clean = json_num(out, "attack.json", "linf", "clean_accuracy");
    tu_check(t, rc == 0 && clean >= 0 && exists(out, "robust_accuracy_linf.png") && exists(out, "robust_accuracy_l2.png") &&
                    exists(out, "adversarial_linf.png"),
             "eval attack L-inf and L2: clean accuracy %.3f %s", clean, msg);
    snprintf(args, sizeof args, "--ckpt %s --out %s --data_root %s %s --mode attack --defence --n_copies 2 "
             "--refine_steps 1 --eps_linf 0,0.1 --n_iter 2 --max_n 6", ckpt, out, data, common);
    tu_check(t, run_eval(args, msg, sizeof msg) == 0, "eval attack with JEM's defence %s", msg);
    snprintf(args, sizeof args, "--ckpt %s --out %s --data_root %s %s --mode attack --eps_linf 0,8/0", ckpt, out, data,
             common);
    tu_check(t, run_eval(args, msg, sizeof msg) == 1 && strstr(msg, "pixel units"), "bad radius refused: %s", msg);

    snprintf(args, sizeof args, "--ckpt %s --out %s --data_root %s %s --mode fid --feature_ckpt %s --kid_subsets 3 "
             "--kid_subset_size 10 --select 0.5", ckpt, out, data, common, ckpt);
    rc = run_eval(args, msg, sizeof msg);
    double fid = json_num(out, "fid.json", "classifier_features", "fid");
    snprintf(p, sizeof p, "%s/fid.json", out);
    f = fopen(p, "r");
    static char text[1 << 16];
    size_t got = f ? fread(text, 1, sizeof text - 1, f) : 0;
    text[got] = '\0';
    if (f) fclose(f);
    tu_check(t, rc == 0 && fid > 0 && strstr(text, "NOT comparable to Inception FID") && exists(out, "fid_samples.png"),
             "eval fid over classifier features (buffer, selection): FID %.4f, labelled not comparable %s", fid, msg);
    snprintf(args, sizeof args, "--ckpt %s --out %s --data_root %s %s --mode fid --feature_ckpt %s --fid_source scratch "
             "--n_fid 20 --init uniform --sampler sgld --n_sample_steps 2 --kid_subset_size 10 --kid_subsets 2", ckpt,
             out, data, common, ckpt);
    tu_check(t, run_eval(args, msg, sizeof msg) == 0, "eval fid from scratch chains %s", msg);
    /* --fid_source data: real images as the samples. The same images as the reference give
     * a FID of ~0 (the arithmetic's floor); training images against test images more. */
    snprintf(args, sizeof args, "--ckpt %s --out %s --data_root %s %s --mode fid --feature_ckpt %s --fid_source data "
             "--split test --n_fid 16 --ref_split test --ref_max_n 16 --kid_subset_size 10 --kid_subsets 2", ckpt, out,
             data, common, ckpt);
    rc = run_eval(args, msg, sizeof msg);
    double fid_same = json_num(out, "fid.json", "classifier_features", "fid");
    snprintf(args, sizeof args, "--ckpt %s --out %s --data_root %s %s --mode fid --feature_ckpt %s --fid_source data "
             "--split train --n_valid 2 --n_fid 16 --ref_split test --ref_max_n 16 --kid_subset_size 10 --kid_subsets 2", ckpt, out,
             data, common, ckpt);
    int rc2 = run_eval(args, msg, sizeof msg);
    double fid_other = json_num(out, "fid.json", "classifier_features", "fid");
    tu_check(t, rc == 0 && rc2 == 0 && fabs(fid_same) < 1e-3 && fid_other > 100 * fabs(fid_same) + 1e-3,
             "eval fid of real images: the reference's own 16 images %.3g, 16 training images %.4f %s", fid_same,
             fid_other, msg);

    /* Inception path with the tests' scaled random Inception (tools/gen_inception_ref.py) */
    char incw[1000];
    tu_src_path(incw, sizeof incw, "tests/data/inception_rand.safetensors");
    snprintf(args, sizeof args, "--ckpt %s --out %s --data_root %s %s --mode fid --inception_weights %s "
             "--inception_batch 8 --is_splits 2 --kid_subsets 2 --kid_subset_size 10 --ref_split test", ckpt, out, data,
             common, incw);
    double t_inc = jp_now();
    rc = run_eval(args, msg, sizeof msg);
    double ifid = json_num(out, "fid.json", "inception", "fid"), is = json_num(out, "fid.json", "inception",
                                                                             "inception_score_mean");
    tu_check(t, rc == 0 && ifid > 0 && is >= 1, "eval fid through the (scaled, random) Inception: FID %.4g, IS %.4g "
             "(%.1f s) %s", ifid, is, jp_now() - t_inc, msg);

    /* bad input: clear message, non-zero exit */
    snprintf(args, sizeof args, "--ckpt %s --out %s --data_root %s %s --mode fid --inception_weights %s/none.safetensors",
             ckpt, out, data, common, g_tmp);
    rc = run_eval(args, msg, sizeof msg);
    tu_check(t, rc != 0 && strstr(msg, "docs/evaluation.md") && strstr(msg, "none.safetensors"),
             "missing Inception weights: rc %d, %s", rc, msg);
    snprintf(args, sizeof args, "--ckpt %s --out %s --data_root %s %s --mode fid", ckpt, out, data, common);
    rc = run_eval(args, msg, sizeof msg);
    tu_check(t, rc != 0 && strstr(msg, "--inception_weights"), "fid without features: rc %d, %s", rc, msg);
    snprintf(args, sizeof args, "--ckpt %s --out %s --data_root %s %s --mode nonsense", ckpt, out, data, common);
    rc = run_eval(args, msg, sizeof msg);
    tu_check(t, rc == 2 && strstr(msg, "expected one of"), "unknown mode: rc %d, %s", rc, msg);
    snprintf(args, sizeof args, "--ckpt %s/absent.safetensors --out %s --data_root %s %s", g_tmp, out, data, common);
    rc = run_eval(args, msg, sizeof msg);
    tu_check(t, rc == 1 && strstr(msg, "absent.safetensors"), "missing checkpoint: rc %d, %s", rc, msg);
    snprintf(args, sizeof args, "--out %s", out);
    tu_check(t, run_eval(args, msg, sizeof msg) == 2 && strstr(msg, "--ckpt"), "no --ckpt: %s", msg);

    char other[1000], ck2[1000];
    snprintf(other, sizeof other, "%s/two", g_tmp);
    write_folder(other, 2, 3, 3, 1, T_S);
    snprintf(args, sizeof args, "--ckpt %s --out %s --data_root %s %s --mode test_clf", ckpt, out, other, common);
    rc = run_eval(args, msg, sizeof msg);
    tu_check(t, rc == 1 && strstr(msg, "3 classes") && strstr(msg, "has 2"), "classes mismatch: %s", msg);
    snprintf(other, sizeof other, "%s/rgb", g_tmp);
    write_folder(other, T_K, 3, 3, 3, T_S);
    snprintf(args, sizeof args, "--ckpt %s --out %s --data_root %s %s --mode ood", ckpt, out, other, common);
    rc = run_eval(args, msg, sizeof msg);
    tu_check(t, rc == 1 && strstr(msg, "expects 1x8x8") && strstr(msg, "3x8x8"), "channels mismatch: %s", msg);
    snprintf(ck2, sizeof ck2, "%s/big.safetensors", g_tmp);
    m = tiny_model(1, 12, T_K, 3);
    write_ckpt(ck2, m, 0);
    jp_wrn_free(m);
    snprintf(args, sizeof args, "--ckpt %s --out %s --data_root %s %s --mode cali", ck2, out, data, common);
    rc = run_eval(args, msg, sizeof msg);
    tu_check(t, rc == 1 && strstr(msg, "expects 1x12x12"), "image size mismatch: %s", msg);
    snprintf(ck2, sizeof ck2, "%s/nobuffer.safetensors", g_tmp);
    m = tiny_model(1, T_S, T_K, 3);
    write_ckpt(ck2, m, 0);
    jp_wrn_free(m);
    snprintf(args, sizeof args, "--ckpt %s --out %s --data_root %s %s --mode fid --feature_ckpt %s --fid_source buffer",
             ck2, out, data, common, ck2);
    rc = run_eval(args, msg, sizeof msg);
    tu_check(t, rc == 1 && strstr(msg, "no replay_buffer"), "fid from a missing buffer: %s", msg);
    snprintf(other, sizeof other, "%s/notest", g_tmp);
    write_folder(other, T_K, 3, 0, 1, T_S);
    snprintf(args, sizeof args, "--ckpt %s --out %s --data_root %s %s --mode predict", ckpt, out, other, common);
    rc = run_eval(args, msg, sizeof msg);
    tu_check(t, rc == 1 && strstr(msg, "empty"), "empty split: %s", msg);
}

/* A PyTorch state_dict saved as safetensors (the model's tensors, no jempp metadata):
 * the library infers the model from the tensors (jp_ckpt_config, jp_ckpt_open_model) and
 * `jempp eval` loads it (the note it prints, predictions identical to the same model
 * with metadata), its image size from --image_size, the replay buffer or the data set;
 * files with missing or inconsistent tensors are refused naming the tensor. */
static void test_no_metadata(tu_ctx *t)
{
    /* the files written: a model's state_dict as it is, with a replay buffer, one of the
     * other norm, and broken ones */
    enum { F_PLAIN, F_BUFFER, F_NONORM, F_NO_HEAD, F_NO_CONV, F_BAD_HEAD, F_EXTRA_BLOCK, F_NOTHING, F_COUNT };
    static const char *tags[F_COUNT] = {"plain", "buffer", "nonorm", "nohead", "noconv", "badhead", "extra", "nothing"};
    char dir[900], data[1000], big[1000], out[1000], ref[1000], path[F_COUNT][1000], args[8192], msg[8192];
    jp_error err;
    tu_tmpdir(dir, sizeof dir, "eval-nometa");
    snprintf(data, sizeof data, "%s/data", dir);
    snprintf(big, sizeof big, "%s/data12", dir);
    snprintf(out, sizeof out, "%s/out", dir);
    snprintf(ref, sizeof ref, "%s/with-metadata.safetensors", dir);
    write_folder(data, T_K, 3, 4, 1, T_S);
    write_folder(big, T_K, 3, 4, 1, 12);
    jp_wrn *models[2];
    for (int k = 0; k < 2; k++) { /* WRN-16-2, 1 channel, 3 classes; batch norm, then none */
        jp_wrn_config cfg;
        jp_wrn_config_defaults(&cfg);
        cfg.depth = 16;
        cfg.width = 2;
        cfg.in_channels = 1;
        cfg.image_size = T_S;
        cfg.n_classes = T_K;
        cfg.norm = k ? JP_NORM_NONE : JP_NORM_BATCH;
        jp_rng r;
        jp_rng_seed(&r, 31 + k);
        if (jp_wrn_create(&models[k], &cfg, T_B, &err)) {
            fprintf(stderr, "%s\n", err.msg);
            exit(2);
        }
        jp_wrn_init_params(models[k], &r);
    }
    write_ckpt(ref, models[0], 0);
    float junk[4 * T_S * T_S];
    jp_rng r;
    jp_rng_seed(&r, 32);
    jp_rng_fill_uniform(&r, junk, 4 * T_S * T_S, -1, 1);
    for (int v = 0; v < F_COUNT; v++) {
        jp_wrn *m = models[v == F_NONORM];
        int nt;
        const jp_tensor_info *ti = jp_wrn_tensors(m, &nt);
        jp_st_writer w;
        jp_st_writer_init(&w);
        jp_st_writer_meta(&w, "format", "pt"); /* what safetensors.torch.save_file writes */
        for (int i = 0; i < nt && v != F_NOTHING; i++) {
            const char *name = ti[i].name;
            const void *p = ti[i].kind == JP_T_PARAM ? (const void *)(jp_wrn_params(m) + ti[i].offset)
                            : ti[i].kind == JP_T_BUFFER ? (const void *)(jp_wrn_buffers(m) + ti[i].offset)
                                                        : (const void *)(jp_wrn_counters(m) + ti[i].offset);
            if ((v == F_NO_HEAD && !strcmp(name, "class_output.weight")) ||
                (v == F_NO_CONV && !strcmp(name, "f.layer2.1.conv2.weight")))
                continue;
            if (v == F_BAD_HEAD && !strcmp(name, "class_output.weight")) { /* 64 features, the WRN has 128 */
                int64_t shape[2] = {T_K, 64};
                jp_st_writer_add(&w, name, JP_F32, 2, shape, p);
                continue;
            }
            jp_st_writer_add(&w, name, ti[i].kind == JP_T_COUNTER ? JP_I64 : JP_F32, ti[i].ndim, ti[i].shape, p);
        }
        int64_t buf_shape[4] = {4, 1, T_S, T_S}, one[1] = {1};
        if (v == F_BUFFER) jp_st_writer_add(&w, "replay_buffer", JP_F32, 4, buf_shape, junk);
        if (v == F_EXTRA_BLOCK) jp_st_writer_add(&w, "f.layer3.2.conv1.bias", JP_F32, 1, one, junk);
        if (v == F_NOTHING) jp_st_writer_add(&w, "x", JP_F32, 1, one, junk);
        snprintf(path[v], sizeof path[v], "%s/%s.safetensors", dir, tags[v]);
        if (jp_st_writer_save(&w, path[v], &err)) {
            fprintf(stderr, "%s\n", err.msg);
            exit(2);
        }
        jp_st_writer_free(&w);
    }
    jp_wrn_free(models[0]);
    jp_wrn_free(models[1]);

    /* the library: the configuration inferred, the image size from the buffer or unknown */
    static const struct {
        int file;
        jp_norm norm;
        int image_size;
        const char *size_from;
    } want[] = {{F_PLAIN, JP_NORM_BATCH, 0, NULL}, {F_BUFFER, JP_NORM_BATCH, T_S, "replay_buffer"},
                {F_NONORM, JP_NORM_NONE, 0, NULL}};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        jp_st_file f;
        jp_wrn_config cfg;
        jp_ckpt_origin o;
        jp_status st = jp_st_read(&f, path[want[i].file], &err);
        if (!st) st = jp_ckpt_config(&f, &cfg, &o, &err);
        jp_st_close(&f);
        tu_check(t, !st && o.inferred && cfg.depth == 16 && cfg.width == 2 && cfg.in_channels == 1 &&
                        cfg.n_classes == T_K && cfg.norm == want[i].norm && cfg.uncond == 0 &&
                        cfg.image_size == want[i].image_size &&
                        (want[i].size_from ? o.size_from && !strcmp(o.size_from, want[i].size_from) : !o.size_from),
                 "jp_ckpt_config of a state_dict (%s): %s, image size %d from %s %s", tags[want[i].file], o.arch,
                 cfg.image_size, o.size_from ? o.size_from : "nowhere", st ? err.msg : "");
    }
    jp_wrn *m = NULL;
    jp_status st = jp_ckpt_open_model(path[F_PLAIN], 4, &m, &err);
    tu_check(t, st == JP_ERR_FORMAT && !m && strstr(err.msg, "plain.safetensors") && strstr(err.msg, "image size"),
             "jp_ckpt_open_model without an image size refused: %s", err.msg);
    st = jp_ckpt_open_model(path[F_BUFFER], 4, &m, &err);
    tu_check(t, !st && jp_wrn_config_of(m)->depth == 16 && jp_wrn_config_of(m)->image_size == T_S,
             "jp_ckpt_open_model of a state_dict with a replay buffer %s", st ? err.msg : "");
    jp_wrn_free(m);

    /* jempp eval: predictions identical to the same model with metadata, and the note */
    const char *common = "--dataset folder --batch_size 16 --quiet --mode predict";
    snprintf(args, sizeof args, "--ckpt %s --out %s/ref --data_root %s %s", ref, out, data, common);
    int rc0 = run_eval(args, msg, sizeof msg);
    snprintf(args, sizeof args, "--ckpt %s --out %s/plain --data_root %s %s --image_size %d", path[F_PLAIN], out, data,
             common, T_S);
    int rc = run_eval(args, msg, sizeof msg);
    char p0[1200], p1[1200];
    snprintf(p0, sizeof p0, "%s/ref/predict.csv", out);
    snprintf(p1, sizeof p1, "%s/plain/predict.csv", out);
    char *a = tu_read_file(p0, NULL), *b = tu_read_file(p1, NULL);
    tu_check(t, rc0 == 0 && rc == 0 && a && b && !strcmp(a, b) && tu_count(a, "\n") == 1 + T_K * 4,
             "eval of the state_dict: predict.csv identical to the same model with metadata (rc %d, %d)", rc0, rc);
    tu_check(t, strstr(msg, "model inferred from the tensors (no jempp metadata): WRN-16-2, 1 input channel, 3 "
                            "classes, norm batch; image size 8 (--image_size)") != NULL,
             "eval says what it inferred, --quiet or not: %s", msg);
    free(a);
    free(b);
    snprintf(args, sizeof args, "--ckpt %s --out %s/buf --data_root %s %s", path[F_BUFFER], out, data, common);
    rc = run_eval(args, msg, sizeof msg);
    tu_check(t, rc == 0 && strstr(msg, "image size 8 (the checkpoint's replay_buffer)"),
             "eval: image size from the replay buffer: rc %d, %s", rc, msg);
    snprintf(args, sizeof args, "--ckpt %s --out %s/x --data_root %s %s", path[F_PLAIN], out, data, common);
    rc = run_eval(args, msg, sizeof msg);
    tu_check(t, rc == 1 && strstr(msg, "plain.safetensors") && strstr(msg, "--image_size") && strstr(msg, "'folder'"),
             "eval: no image size anywhere (a folder data set) asks for --image_size: rc %d, %s", rc, msg);
    snprintf(args, sizeof args, "--ckpt %s --out %s/x --dataset mnist --data_root %s/absent --quiet --mode test_clf",
             path[F_PLAIN], out, dir);
    rc = run_eval(args, msg, sizeof msg);
    tu_check(t, rc == 1 && strstr(msg, "image size 28 (mnist's"), "eval: image size from the data set (mnist 28), "
             "then the missing data refused: rc %d, %s", rc, msg);
    /* --image_size overrides the file's: the 8x8 model (global pooling) on 12x12 images */
    snprintf(args, sizeof args, "--ckpt %s --out %s/big --data_root %s %s --image_size 12", path[F_BUFFER], out, big,
             common);
    rc = run_eval(args, msg, sizeof msg);
    tu_check(t, rc == 0 && strstr(msg, "image size 12 (--image_size; the checkpoint's replay_buffer says 8)") &&
                    strstr(msg, "replay_buffer of 8x8 images not used"),
             "eval --image_size 12 overrides the checkpoint's 8: rc %d, %s", rc, msg);
    snprintf(args, sizeof args, "--ckpt %s --out %s/big --data_root %s %s --image_size 12", ref, out, big, common);
    rc = run_eval(args, msg, sizeof msg);
    tu_check(t, rc == 0 && strstr(msg, "image size 12 (--image_size; the checkpoint's metadata says 8)"),
             "eval --image_size overrides the metadata's size: rc %d, %s", rc, msg);
    snprintf(args, sizeof args, "--ckpt %s --out %s/x --data_root %s %s --image_size -4", ref, out, data, common);
    rc = run_eval(args, msg, sizeof msg);
    tu_check(t, rc == 1 && strstr(msg, "--image_size -4"), "eval --image_size -4 refused: rc %d, %s", rc, msg);

    /* bad files: a clear message naming the file and the tensor, exit 1 */
    static const struct {
        int file;
        const char *tensor;
    } bad[] = {{F_NO_HEAD, "'class_output.weight'"}, {F_NO_CONV, "'f.layer2.1.conv2.weight' missing"},
               {F_BAD_HEAD, "'class_output.weight' is [3,64]"}, {F_EXTRA_BLOCK, "'f.layer3.2.conv1.bias'"},
               {F_NOTHING, "'f.conv1.weight'"}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        snprintf(args, sizeof args, "--ckpt %s --out %s/x --data_root %s %s --image_size %d", path[bad[i].file], out,
                 data, common, T_S);
        rc = run_eval(args, msg, sizeof msg);
        tu_check(t, rc == 1 && strstr(msg, path[bad[i].file]) && strstr(msg, bad[i].tensor),
                 "eval of a state_dict %s refused: rc %d, %s", tags[bad[i].file], rc, msg);
    }
}

/* A folder data set with test/ but no train/: `--mode test_clf --split test` reads only
 * the test images and works; the splits and modes that need the training images still
 * ask for them (the training folder named in the message). */
static void test_test_files_only(tu_ctx *t)
{
    char dir[900], data[1000], ckpt[1000], out[1000], train[1100], args[8192], msg[8192];
    tu_tmpdir(dir, sizeof dir, "eval-testonly");
    snprintf(data, sizeof data, "%s/data", dir);
    snprintf(ckpt, sizeof ckpt, "%s/model.safetensors", dir);
    snprintf(out, sizeof out, "%s/out", dir);
    snprintf(train, sizeof train, "%s/train", data);
    write_folder(data, T_K, 0, 4, 1, T_S); /* no training images: no train/ folder */
    struct stat sb;
    tu_check(t, stat(train, &sb) != 0, "the data set has no %s", train);
    jp_wrn *m = tiny_model(1, T_S, T_K, 5);
    write_ckpt(ckpt, m, 0);
    jp_wrn_free(m);
    const char *common = "--dataset folder --batch_size 16 --quiet";
    snprintf(args, sizeof args, "--ckpt %s --out %s --data_root %s %s --mode test_clf --split test", ckpt, out, data,
             common);
    int rc = run_eval(args, msg, sizeof msg);
    double n = json_num(out, "test_clf.json", NULL, "n");
    tu_check(t, rc == 0 && n == T_K * 4, "eval test_clf --split test without train/: rc %d, %g images %s", rc, n, msg);
    snprintf(args, sizeof args, "--ckpt %s --out %s --data_root %s %s --mode test_clf --split train --n_valid 0", ckpt,
             out, data, common);
    rc = run_eval(args, msg, sizeof msg);
    tu_check(t, rc == 1 && strstr(msg, train), "eval --split train without train/ refused naming it: %s", msg);
    snprintf(args, sizeof args, "--ckpt %s --out %s --data_root %s %s --mode samples --init informative", ckpt, out,
             data, common);
    rc = run_eval(args, msg, sizeof msg);
    tu_check(t, rc == 1 && strstr(msg, train), "eval samples (informative init: the training images) refused: %s", msg);
}

int main(void)
{
    tu_ctx t;
    tu_begin(&t, "test_eval");
    /* a model this small gains nothing from threads, and spinning threads on shared cores
       cost more than the work */
    omp_set_num_threads(1);
    tu_tmpdir(g_tmp, sizeof g_tmp, "eval");
    double t0 = jp_now();
    jp_wrn *m = tiny_model(1, T_S, T_K, 1);
    jp_dataset ds;
    tiny_images(&ds, T_N, 2);
    test_scores(&t, m, &ds);
    printf("        scores: %.2f s\n", jp_now() - t0);
    test_shifted(&t, &ds);
    printf("        shifted sets: %.2f s\n", jp_now() - t0);
    test_library_modes(&t, m, &ds);
    test_chains(&t, m);
    printf("        modes as library functions: %.2f s\n", jp_now() - t0);
    test_attack(&t, m, &ds);
    printf("        library part: %.2f s\n", jp_now() - t0);
    t0 = jp_now();
    char bin[1000];
    const char *bdir = getenv("JEMPP_BIN");
    snprintf(bin, sizeof bin, "%s/jempp", bdir ? bdir : "build");
    tu_check(&t, access(bin, X_OK) == 0, "the jempp program %s is built (JEMPP_BIN)", bin);
    test_cli(&t);
    test_no_metadata(&t);
    test_test_files_only(&t);
    printf("        command-line part: %.2f s\n", jp_now() - t0);
    jp_dataset_free(&ds);
    jp_wrn_free(m);
    return tu_finish(&t);
}
