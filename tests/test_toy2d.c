/* The 2-D toy (toy.h): the MLP's gradients against finite differences, the data sets'
 * mode masses, determinism, and an energy model trained on 8 Gaussians and on rings
 * whose samples put the right mass near each mode and whose energy is lower on the
 * data than on uniform noise. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jempp/mlp.h"
#include "jempp/toy.h"
#include "testutil.h"

/* ---- MLP gradients ------------------------------------------------------------ */

/* L = sum_{r,o} w[r,o] * out[r,o] for fixed random weights w. */
static double weighted_out(jp_mlp *m, const float *x, int n, const float *w)
{
    const float *out = jp_mlp_forward(m, x, n);
    int no = m->dims[m->n_linear];
    double s = 0;
    for (int i = 0; i < n * no; i++) s += (double)w[i] * out[i];
    return s;
}

/* Central difference of L in one float, unless a LeakyReLU kink lies within +-h (the
 * two one-sided differences disagree): then *skip is set. */
static double fd(jp_mlp *m, float *v, const float *x, int n, const float *w, float h, int *skip)
{
    float v0 = *v;
    double l0 = weighted_out(m, x, n, w);
    *v = v0 + h;
    double lp = weighted_out(m, x, n, w);
    *v = v0 - h;
    double lm = weighted_out(m, x, n, w);
    *v = v0;
    double right = (lp - l0) / h, left = (l0 - lm) / h;
    *skip = fabs(right - left) > 1e-2 * (1.0 + fabs(right));
    return (lp - lm) / (2.0 * h);
}

static void test_mlp_gradients(tu_ctx *t)
{
    enum { B = 5, N = 4, D = 2, H = 7, O = 2 };
    jp_mlp m;
    jp_error err = {0};
    tu_check(t, jp_mlp_create(&m, B, D, H, 3, O, 0.2f, &err) == JP_OK, "mlp create: %s", err.msg);
    tu_check(t, m.n_params == (size_t)(D * H + H + 2 * (H * H + H) + H * O + O), "n_params %zu", m.n_params);
    jp_rng rng;
    jp_rng_seed(&rng, 42);
    jp_mlp_init_params(&m, &rng);
    float x[N * D], w[N * O], dx[N * D], fdx[N * D];
    jp_rng_fill_uniform(&rng, x, N * D, -2.0f, 2.0f);
    jp_rng_fill_normal(&rng, w, N * O, 0.0f, 1.0f);

    /* analytic: dx, and param grads accumulated twice to check the += */
    weighted_out(&m, x, N, w);
    jp_mlp_zero_grad(&m);
    jp_mlp_backward(&m, dx, w, 1);
    float *g1 = malloc(m.n_params * sizeof(float)), *fg = malloc(m.n_params * sizeof(float));
    memcpy(g1, m.grads, m.n_params * sizeof(float));
    jp_mlp_backward(&m, NULL, w, 1);
    int doubled = 1;
    for (size_t i = 0; i < m.n_params; i++) doubled &= fabsf(m.grads[i] - 2 * g1[i]) <= 1e-6f * (1 + fabsf(g1[i]));
    tu_check(t, doubled, "mlp backward accumulates parameter gradients (+=)");
    memcpy(m.grads, g1, m.n_params * sizeof(float));
    jp_mlp_backward(&m, dx, w, 0);
    tu_check(t, memcmp(m.grads, g1, m.n_params * sizeof(float)) == 0, "param_grads = 0 leaves grads untouched");

    int skipped = 0, sk;
    for (int i = 0; i < N * D; i++) {
        fdx[i] = (float)fd(&m, &x[i], x, N, w, 1e-3f, &sk);
        if (sk) fdx[i] = dx[i], skipped++;
    }
    tu_close(t, "mlp input gradient vs finite differences", dx, fdx, N * D, 2e-3, 1e-2);
    for (size_t i = 0; i < m.n_params; i++) {
        fg[i] = (float)fd(&m, &m.params[i], x, N, w, 1e-3f, &sk);
        if (sk) fg[i] = g1[i], skipped++;
    }
    tu_close(t, "mlp parameter gradients vs finite differences", g1, fg, m.n_params, 2e-3, 1e-2);
    tu_check(t, skipped <= (int)(m.n_params + N * D) / 20, "%d coordinates skipped at a kink (<= 5%%)", skipped);

    /* the energy convention of the toy: E = -f; a forward on fewer rows than the batch */
    const float *out = jp_mlp_forward(&m, x, 1);
    float one = out[0];
    out = jp_mlp_forward(&m, x, N);
    tu_check(t, out[0] == one, "a row's output does not depend on the batch (%g vs %g)", one, out[0]);
    free(g1);
    free(fg);
    jp_mlp_free(&m);
}

/* ---- data -------------------------------------------------------------------- */

static void test_data(tu_ctx *t)
{
    double m[JP_TOY_MAX_MODES + 1];
    jp_toy_true_mass(JP_TOY_8GAUSSIANS, 0, m);
    double want = (1.0 - exp(-3.125)) / 8.0, worst = 0;
    for (int k = 0; k < 8; k++) worst = fmax(worst, fabs(m[k] - want));
    tu_check(t, worst < 2e-3, "8gaussians: true mass per mode %.4f (analytic %.4f, worst diff %.4f)", m[0], want,
             worst);
    jp_toy_true_mass(JP_TOY_RINGS, 0, m);
    tu_check(t, fabs(m[0] - 1.0 / 6) < 3e-3 && fabs(m[1] - 2.0 / 6) < 3e-3 && fabs(m[2] - 3.0 / 6) < 3e-3,
             "rings: true mass %.4f %.4f %.4f (radii 1:2:3), none %.4f", m[0], m[1], m[2], m[3]);
    jp_toy_true_mass(JP_TOY_RINGS, 1, m);
    tu_check(t, m[3] < 1e-4, "rings: every data point lies in a cell (none %.5f)", m[3]);
    tu_check(t, jp_toy_mode_of(JP_TOY_8GAUSSIANS, 0, 2.0f, 2.0f) == 1 && jp_toy_mode_of(JP_TOY_8GAUSSIANS, 0, 0, 0) == -1 &&
                    jp_toy_mode_of(JP_TOY_8GAUSSIANS, 0, 2.83f, 1.0f) == -1 &&
                    jp_toy_mode_of(JP_TOY_8GAUSSIANS, 1, 2.83f, 1.0f) == 0 &&
                    jp_toy_mode_of(JP_TOY_RINGS, 0, 0.0f, -2.1f) == 1 && jp_toy_mode_of(JP_TOY_RINGS, 0, 1.4f, 0) == -1 &&
                    jp_toy_mode_of(JP_TOY_RINGS, 1, 1.4f, 0) == 0 && jp_toy_mode_of(JP_TOY_RINGS, 1, 0.4f, 0) == -1 &&
                    jp_toy_mode_of(JP_TOY_RINGS, 1, 3.6f, 0) == -1,
             "mode regions and cells");
}

/* ---- training ----------------------------------------------------------------- */

typedef struct {
    jp_toy_kind kind;
    uint64_t seed;
    int iters;
    jp_status st;
    char msg[256];
    double seconds, e_data, e_uniform;
    /* [0]: tight regions, [1]: cells (toy.h) */
    double truth[2][JP_TOY_MAX_MODES + 1], sample[2][JP_TOY_MAX_MODES + 1], density[JP_TOY_MAX_MODES + 1];
} toy_run;

enum { N_EVAL = 2000, EVAL_STEPS = 20, GRID = 100 };

static void train_and_measure(toy_run *r)
{
    jp_toy_config c;
    jp_toy_config_default(&c, r->kind);
    c.seed = r->seed;
    c.iters = r->iters;
    jp_toy_trainer tr;
    jp_error err = {0};
    r->st = jp_toy_trainer_init(&tr, &c, &err);
    double t0 = jp_now();
    for (int i = 0; i < r->iters && !r->st; i++) r->st = jp_toy_step(&tr, NULL, &err);
    r->seconds = jp_now() - t0;
    if (r->st) {
        snprintf(r->msg, sizeof r->msg, "%.200s", err.msg);
        jp_toy_trainer_free(&tr);
        return;
    }
    float *x = malloc(N_EVAL * 2 * sizeof(float)), *e = malloc(N_EVAL * sizeof(float));
    float *grid = malloc(GRID * GRID * sizeof(float));
    jp_rng rng;
    jp_rng_seed(&rng, r->seed + 1000);
    /* samples: buffer chains refined by a few more sampler steps */
    jp_toy_buffer_samples(&tr, x, N_EVAL);
    jp_toy_sample(&tr, x, N_EVAL, EVAL_STEPS);
    for (int c = 0; c < 2; c++) {
        jp_toy_mode_mass(r->kind, c, x, N_EVAL, r->sample[c]);
        jp_toy_true_mass(r->kind, c, r->truth[c]);
    }
    /* energies at data and at uniform noise */
    jp_toy_draw(r->kind, x, N_EVAL, &rng);
    jp_toy_energy(&tr, x, N_EVAL, e);
    r->e_data = 0;
    for (int i = 0; i < N_EVAL; i++) r->e_data += e[i] / N_EVAL;
    jp_rng_fill_uniform(&rng, x, N_EVAL * 2, -JP_TOY_BOX, JP_TOY_BOX);
    jp_toy_energy(&tr, x, N_EVAL, e);
    r->e_uniform = 0;
    for (int i = 0; i < N_EVAL; i++) r->e_uniform += e[i] / N_EVAL;
    jp_toy_energy_grid(&tr, GRID, grid);
    jp_toy_grid_mass(r->kind, grid, GRID, r->density);
    free(x);
    free(e);
    free(grid);
    jp_toy_trainer_free(&tr);
}

static void print_row(const char *name, const double *m, int nm)
{
    printf("        %-8s", name);
    for (int k = 0; k <= nm; k++) printf(" %6.3f", m[k]);
    printf("\n");
}

/* cells: compare the masses of the cells (rings) or of the tight regions (8gaussians);
 * max_none bounds the fraction of samples outside every tight region. */
static void check_run(tu_ctx *t, const toy_run *r, int cells, double tol, double max_none)
{
    const char *name = jp_toy_name(r->kind);
    tu_check(t, r->st == JP_OK, "%s: trained %d iterations in %.1f s %s", name, r->iters, r->seconds, r->msg);
    if (r->st) return;
    int nm = jp_toy_n_modes(r->kind);
    printf("        mass    ");
    for (int k = 0; k < nm; k++) printf("  mode%d", k);
    printf("   none\n");
    print_row("truth", r->truth[0], nm);
    print_row("samples", r->sample[0], nm);
    print_row("density", r->density, nm);
    print_row("truth/c", r->truth[1], nm);
    print_row("sample/c", r->sample[1], nm);
    const double *s = r->sample[cells], *tr = r->truth[cells];
    double worst = 0;
    int wk = 0;
    for (int k = 0; k < nm; k++)
        if (fabs(s[k] - tr[k]) > worst) worst = fabs(s[k] - tr[k]), wk = k;
    tu_check(t, worst <= tol, "%s: every mode's sample mass (%s) within %.2f of the truth (worst: mode %d, %.3f vs %.3f)",
             name, cells ? "cells" : "near the mode", tol, wk, s[wk], tr[wk]);
    tu_check(t, r->sample[0][nm] <= max_none,
             "%s: %.3f of the samples are near no mode (<= %.2f; truth %.3f)", name, r->sample[0][nm], max_none,
             r->truth[0][nm]);
    tu_check(t, r->e_uniform - r->e_data >= 2.0,
             "%s: mean energy at data %.2f, at uniform noise %.2f (margin >= 2)", name, r->e_data, r->e_uniform);
}

static void test_training(tu_ctx *t, uint64_t seed)
{
    toy_run runs[2] = {{.kind = JP_TOY_8GAUSSIANS, .seed = seed, .iters = 1500},
                       {.kind = JP_TOY_RINGS, .seed = seed, .iters = 1500}};
    double t0 = jp_now();
    /* the two runs are independent (and single-threaded inside): one per core */
#pragma omp parallel for num_threads(2) schedule(static, 1)
    for (int i = 0; i < 2; i++) train_and_measure(&runs[i]);
    printf("        both data sets trained and measured in %.1f s\n", jp_now() - t0);
    check_run(t, &runs[0], 0, 0.06, 0.15);
    check_run(t, &runs[1], 1, 0.12, 0.20);
}

/* Two short runs with the same seed end with the same parameters, for each sampler. */
static void test_determinism(tu_ctx *t)
{
    const jp_sampler_kind kinds[3] = {JP_SAMPLER_SGLD, JP_SAMPLER_PROXIMAL, JP_SAMPLER_PYLD};
    const char *names[3] = {"sgld", "proximal", "pyld"};
    for (int s = 0; s < 3; s++) {
        float *p[2] = {NULL, NULL};
        size_t n = 0;
        jp_status st = JP_OK;
        jp_error err = {0};
        for (int k = 0; k < 2 && !st; k++) {
            jp_toy_config c;
            jp_toy_config_default(&c, JP_TOY_RINGS);
            c.buffer_size = 500;
            c.batch_size = 32;
            c.sampler = kinds[s];
            c.n_steps = 3;
            c.in_steps = 2;
            jp_toy_trainer tr;
            st = jp_toy_trainer_init(&tr, &c, &err);
            for (int i = 0; i < 10 && !st; i++) st = jp_toy_step(&tr, NULL, &err);
            if (!st) {
                n = tr.mlp.n_params;
                p[k] = malloc(n * sizeof(float));
                memcpy(p[k], tr.mlp.params, n * sizeof(float));
            }
            jp_toy_trainer_free(&tr);
        }
        tu_check(t, st == JP_OK && memcmp(p[0], p[1], n * sizeof(float)) == 0,
                 "%s: same seed, same parameters after 10 iterations %s", names[s], err.msg);
        free(p[0]);
        free(p[1]);
    }
}

int main(int argc, char **argv)
{
    tu_ctx t;
    tu_begin(&t, "test_toy2d");
    uint64_t seed = argc > 1 ? strtoull(argv[1], NULL, 10) : 1;
    test_mlp_gradients(&t);
    test_data(&t);
    test_determinism(&t);
    test_training(&t, seed);
    return tu_finish(&t);
}
