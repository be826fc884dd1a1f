/* jempp toy: trains the 2-D toy energy model of toy.h and writes
 *   toy.png       data | learned density exp(-E) (log scale, 8 nats) | samples, side by side,
 *                 with the mode regions outlined
 *   curve.png     mean f at data and at the chains over training
 *   metrics.json  mode masses of the truth, the samples and the learned density, energies
 * into --save_dir. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "commands.h"
#include "flags.h"
#include "io/atomic_file.h"
#include "io/json.h"
#include "jempp/plot.h"
#include "jempp/toy.h"

typedef struct {
    jp_toy_config c;
    int iters, n_samples, eval_steps, eval_init, grid, print_every, quiet;
    char save_dir[512];
} toy_opts;

/* What the run measured, for the image and metrics.json. */
typedef struct {
    int n_modes, n;
    float *data, *samples, *egrid;
    double *curve_fd, *curve_fq;
    /* [0]: tight regions, [1]: cells (toy.h); the density only for the tight regions */
    double truth[2][JP_TOY_MAX_MODES + 1], data_mass[2][JP_TOY_MAX_MODES + 1];
    double sample_mass[2][JP_TOY_MAX_MODES + 1], density_mass[JP_TOY_MAX_MODES + 1];
    double e_data, e_uniform, seconds;
} toy_result;

/* A viridis-like ramp for v in [0, 1]. */
static jp_rgb ramp(double v)
{
    static const unsigned char a[5][3] = {{68, 1, 84}, {59, 82, 139}, {33, 145, 140}, {94, 201, 98}, {253, 231, 37}};
    v = v < 0 ? 0 : v > 1 ? 1 : v;
    double s = v * 4;
    int i = s >= 4 ? 3 : (int)s;
    double u = s - i;
    jp_rgb c;
    c.r = (unsigned char)lround(a[i][0] + u * (a[i + 1][0] - a[i][0]));
    c.g = (unsigned char)lround(a[i][1] + u * (a[i + 1][1] - a[i][1]));
    c.b = (unsigned char)lround(a[i][2] + u * (a[i + 1][2] - a[i][2]));
    return c;
}

#define PANEL 360
#define PAD 16
#define TOP 40
#define HEAT_NATS 8.0 /* the heat map spans this many nats below the highest density */

static double to_px(double v, int x0) { return x0 + (v + JP_TOY_BOX) / (2 * JP_TOY_BOX) * (PANEL - 1); }
static double to_py(double v) { return TOP + (JP_TOY_BOX - v) / (2 * JP_TOY_BOX) * (PANEL - 1); }

static void draw_regions(jp_canvas *cv, jp_toy_kind k, int x0)
{
    jp_rgb red = {220, 60, 60};
    for (int m = 0; m < jp_toy_n_modes(k); m++) {
        double cx, cy, rad[2];
        jp_toy_region(k, m, &cx, &cy, &rad[0], &rad[1]);
        for (int b = 0; b < 2; b++) {
            if (rad[b] <= 0) continue;
            for (int s = 0; s < 96; s++) {
                double a0 = 2 * M_PI * s / 96, a1 = 2 * M_PI * (s + 1) / 96;
                jp_canvas_line(cv, to_px(cx + rad[b] * cos(a0), x0), to_py(cy + rad[b] * sin(a0)),
                               to_px(cx + rad[b] * cos(a1), x0), to_py(cy + rad[b] * sin(a1)), 1, red);
            }
        }
    }
}

static void draw_points(jp_canvas *cv, const float *x, int n, int x0, jp_rgb col)
{
    for (int i = 0; i < n; i++) {
        int px = (int)lround(to_px(x[2 * i], x0)), py = (int)lround(to_py(x[2 * i + 1]));
        if (px >= x0 && px < x0 + PANEL && py >= TOP && py < TOP + PANEL) jp_canvas_rect(cv, px, py, px + 1, py + 1, col, 1);
    }
}

static jp_status write_image(const toy_opts *o, const toy_result *r, const char *path, jp_error *err)
{
    jp_canvas cv;
    jp_rgb white = {255, 255, 255}, black = {0, 0, 0}, gray = {90, 90, 90};
    jp_status st = jp_canvas_init(&cv, 3 * PANEL + 4 * PAD, PANEL + TOP + PAD, white, err);
    if (st) return st;
    int x0[3] = {PAD, 2 * PAD + PANEL, 3 * PAD + 2 * PANEL};
    const char *titles[3] = {"data", "exp(-E), log scale", "samples"};
    double emin = INFINITY;
    for (int i = 0; i < o->grid * o->grid; i++) emin = r->egrid[i] < emin ? r->egrid[i] : emin;
    for (int py = 0; py < PANEL; py++)
        for (int px = 0; px < PANEL; px++) {
            int ix = px * o->grid / PANEL, iy = (PANEL - 1 - py) * o->grid / PANEL;
            /* log scale: the top HEAT_NATS nats of log exp(-E) = -E */
            jp_canvas_set(&cv, x0[1] + px, TOP + py, ramp(1.0 + (emin - r->egrid[iy * o->grid + ix]) / HEAT_NATS));
        }
    draw_points(&cv, r->data, r->n, x0[0], gray);
    draw_points(&cv, r->samples, r->n, x0[2], jp_plot_color(0));
    for (int p = 0; p < 3; p++) {
        if (p != 1) draw_regions(&cv, o->c.data, x0[p]);
        jp_canvas_rect(&cv, x0[p] - 1, TOP - 1, x0[p] + PANEL, TOP + PANEL, black, 0);
        jp_canvas_text(&cv, x0[p], 12, titles[p], 2, black);
    }
    st = jp_canvas_write_png(&cv, path, err);
    jp_canvas_free(&cv);
    return st;
}

static void jw_masses(jp_jw *w, const char *key, const double *m, int nm)
{
    jp_jw_key(w, key);
    jp_jw_begin_object(w);
    jp_jw_key(w, "modes");
    jp_jw_begin_array(w);
    for (int i = 0; i < nm; i++) jp_jw_double(w, m[i]);
    jp_jw_end_array(w);
    jp_jw_key(w, "none");
    jp_jw_double(w, m[nm]);
    jp_jw_end_object(w);
}

static double max_err(const double *a, const double *b, int nm)
{
    double e = 0;
    for (int i = 0; i <= nm; i++) e = fmax(e, fabs(a[i] - b[i]));
    return e;
}

static jp_status write_metrics(const toy_opts *o, const toy_result *r, const char *path, jp_error *err)
{
    jp_jw w;
    jp_jw_init(&w, 1);
    jp_jw_begin_object(&w);
    jp_jw_key(&w, "data");
    jp_jw_string(&w, jp_toy_name(o->c.data));
    jp_jw_key(&w, "iters");
    jp_jw_int(&w, o->iters);
    jp_jw_key(&w, "seed");
    jp_jw_uint(&w, o->c.seed);
    jp_jw_key(&w, "train_seconds");
    jp_jw_double(&w, r->seconds);
    jp_jw_key(&w, "n_samples");
    jp_jw_int(&w, r->n);
    jp_jw_key(&w, "eval_steps");
    jp_jw_int(&w, o->eval_steps);
    jp_jw_key(&w, "eval_init");
    jp_jw_string(&w, o->eval_init ? "uniform" : "buffer");
    /* tight regions: "near the mode"; cells: "closest to the mode" (toy.h) */
    jw_masses(&w, "true_mass", r->truth[0], r->n_modes);
    jw_masses(&w, "data_mass", r->data_mass[0], r->n_modes);
    jw_masses(&w, "sample_mass", r->sample_mass[0], r->n_modes);
    jw_masses(&w, "density_mass", r->density_mass, r->n_modes);
    jw_masses(&w, "true_cell_mass", r->truth[1], r->n_modes);
    jw_masses(&w, "data_cell_mass", r->data_mass[1], r->n_modes);
    jw_masses(&w, "sample_cell_mass", r->sample_mass[1], r->n_modes);
    jp_jw_key(&w, "sample_max_abs_error");
    jp_jw_double(&w, max_err(r->sample_mass[0], r->truth[0], r->n_modes));
    jp_jw_key(&w, "sample_cell_max_abs_error");
    jp_jw_double(&w, max_err(r->sample_mass[1], r->truth[1], r->n_modes));
    jp_jw_key(&w, "density_max_abs_error");
    jp_jw_double(&w, max_err(r->density_mass, r->truth[0], r->n_modes));
    jp_jw_key(&w, "mean_energy_data");
    jp_jw_double(&w, r->e_data);
    jp_jw_key(&w, "mean_energy_uniform");
    jp_jw_double(&w, r->e_uniform);
    jp_jw_end_object(&w);
    jp_status st = jp_jw_finish(&w, err);
    if (!st) st = jp_write_file_atomic(path, w.buf, w.len, err);
    jp_jw_free(&w);
    return st;
}

/* Trains, then measures: samples = buffer chains (or uniform noise) refined by eval_steps
 * sampler steps. */
static jp_status run(const toy_opts *o, toy_result *r, jp_error *err)
{
    jp_toy_trainer t;
    jp_status st = jp_toy_trainer_init(&t, &o->c, err);
    if (st) return st;
    int n = o->n_samples, nm = jp_toy_n_modes(o->c.data);
    r->n = n;
    r->n_modes = nm;
    double t0 = jp_now();
    for (int i = 0; i < o->iters && !st; i++) {
        jp_toy_stats s;
        st = jp_toy_step(&t, &s, err);
        r->curve_fd[i] = s.f_data;
        r->curve_fq[i] = s.f_sample;
        if (!o->quiet && o->print_every > 0 && ((i + 1) % o->print_every == 0 || i + 1 == o->iters))
            printf("iter %6d  loss %9.4f  f(data) %8.3f  f(samples) %8.3f  %.1f s\n", i + 1, s.loss, s.f_data,
                   s.f_sample, jp_now() - t0);
    }
    r->seconds = jp_now() - t0;
    if (!st) {
        jp_rng rng;
        jp_rng_seed(&rng, o->c.seed ^ 0x5eed0f7e57ULL);
        jp_toy_draw(o->c.data, r->data, n, &rng);
        for (int c = 0; c < 2; c++) {
            jp_toy_mode_mass(o->c.data, c, r->data, n, r->data_mass[c]);
            jp_toy_true_mass(o->c.data, c, r->truth[c]);
        }
        if (o->eval_init) jp_rng_fill_uniform(&rng, r->samples, 2 * (size_t)n, -JP_TOY_BOX, JP_TOY_BOX);
        else jp_toy_buffer_samples(&t, r->samples, n);
        jp_toy_sample(&t, r->samples, n, o->eval_steps);
        for (int c = 0; c < 2; c++) jp_toy_mode_mass(o->c.data, c, r->samples, n, r->sample_mass[c]);
        jp_toy_energy_grid(&t, o->grid, r->egrid);
        jp_toy_grid_mass(o->c.data, r->egrid, o->grid, r->density_mass);
        float *u = malloc((size_t)n * 3 * sizeof(float)), *e = u + 2 * (size_t)n;
        if (!u) st = jp_fail(err, JP_ERR_NOMEM, "%d samples", n);
        else {
            jp_rng_fill_uniform(&rng, u, 2 * (size_t)n, -JP_TOY_BOX, JP_TOY_BOX);
            jp_toy_energy(&t, r->data, n, e);
            r->e_data = 0;
            for (int i = 0; i < n; i++) r->e_data += e[i] / n;
            jp_toy_energy(&t, u, n, e);
            r->e_uniform = 0;
            for (int i = 0; i < n; i++) r->e_uniform += e[i] / n;
            free(u);
        }
    }
    jp_toy_trainer_free(&t);
    return st;
}

static jp_status write_outputs(const toy_opts *o, const toy_result *r, jp_error *err)
{
    char path[640];
    jp_status st = jp_mkdirs(o->save_dir, err);
    if (st) return st;
    snprintf(path, sizeof path, "%s/toy.png", o->save_dir);
    st = write_image(o, r, path, err);
    if (!st) {
        snprintf(path, sizeof path, "%s/curve.png", o->save_dir);
        jp_series s[2] = {{"f(data)", NULL, r->curve_fd, o->iters}, {"f(samples)", NULL, r->curve_fq, o->iters}};
        jp_plot_opts po = {"toy training", "iteration", "mean f", 720, 480, 0, 0, 0};
        st = jp_plot_lines(path, &po, s, 2, err);
    }
    if (!st) {
        snprintf(path, sizeof path, "%s/metrics.json", o->save_dir);
        st = write_metrics(o, r, path, err);
    }
    return st;
}

static void print_masses(const toy_result *r)
{
    const char *rows[7] = {"truth", "data", "samples", "density", "truth", "data", "samples"};
    const double *m[7] = {r->truth[0], r->data_mass[0], r->sample_mass[0], r->density_mass,
                          r->truth[1], r->data_mass[1], r->sample_mass[1]};
    for (int k = 0; k < 7; k++) {
        if (k == 0 || k == 4) {
            printf("%s\n%-8s", k ? "mass closest to each mode (cells)" : "mass near each mode (tight regions)", "");
            for (int i = 0; i < r->n_modes; i++) printf("  mode%d", i);
            printf("   none\n");
        }
        printf("%-8s", rows[k]);
        for (int i = 0; i <= r->n_modes; i++) printf(" %6.3f", m[k][i]);
        printf("\n");
    }
    printf("mean energy: data %.3f, uniform %.3f\n", r->e_data, r->e_uniform);
}

int jp_cmd_toy(int argc, char **argv)
{
    toy_opts o;
    memset(&o, 0, sizeof o);
    jp_error err = {0};
    jp_toy_kind kind = JP_TOY_8GAUSSIANS;
    const char *dname = jp_flags_peek(argc, argv, "data");
    if (dname && jp_toy_parse(dname, &kind, &err)) {
        fprintf(stderr, "jempp toy: %s\n", err.msg);
        return 2;
    }
    jp_toy_config_default(&o.c, kind);
    o.iters = 1500;
    o.n_samples = 2000;
    o.eval_steps = 20;
    o.grid = 200;
    o.print_every = 100;
    snprintf(o.save_dir, sizeof o.save_dir, "toy_run");
    int data = (int)kind, sampler = (int)o.c.sampler;
    float noise = -1.0f, lr = (float)o.c.lr, final_lr = (float)o.c.final_lr, beta1 = (float)o.c.beta1, beta2 = (float)o.c.beta2;
    jp_flag flags[] = {
        {"data", FLAG_CHOICE, &data, 0, NULL, "8gaussians|rings", "data set (toy.h gives the definitions)"},
        {"iters", FLAG_INT, &o.iters, 0, NULL, NULL, "training iterations"},
        {"save_dir", FLAG_STR, o.save_dir, sizeof o.save_dir, NULL, NULL, "output folder (toy.png, curve.png, metrics.json)"},
        {"hidden", FLAG_INT, &o.c.hidden, 0, NULL, NULL, "MLP width H"},
        {"n_hidden", FLAG_INT, &o.c.n_hidden, 0, NULL, NULL, "MLP hidden layers"},
        {"batch_size", FLAG_INT, &o.c.batch_size, 0, NULL, NULL, "data points and chains per iteration"},
        {"lr", FLAG_FLOAT, &lr, 0, NULL, NULL, "Adam learning rate"},
        {"final_lr", FLAG_FLOAT, &final_lr, 0, NULL, NULL, "lr at the end of the cosine schedule over --iters"},
        {"beta1", FLAG_FLOAT, &beta1, 0, NULL, NULL, "Adam beta1"},
        {"beta2", FLAG_FLOAT, &beta2, 0, NULL, NULL, "Adam beta2"},
        {"l2", FLAG_FLOAT, &o.c.l2, 0, NULL, NULL, "weight of l2 * (mean f(data)^2 + mean f(samples)^2)"},
        {"sampler", FLAG_CHOICE, &sampler, 0, NULL, "pyld|sgld|proximal", "sampler (formulas in toy.h)"},
        {"n_steps", FLAG_INT, &o.c.n_steps, 0, NULL, NULL, "SGLD / proximal K, PYLD M"},
        {"in_steps", FLAG_INT, &o.c.in_steps, 0, NULL, NULL, "PYLD N"},
        {"step", FLAG_FLOAT, &o.c.step, 0, NULL, NULL, "sampler step size"},
        {"noise", FLAG_FLOAT, &noise, 0, NULL, NULL, "sampler noise std (negative: sqrt(2 step), Langevin)"},
        {"eps", FLAG_FLOAT, &o.c.eps, 0, NULL, NULL, "gradient clamp (proximal, PYLD)"},
        {"buffer_size", FLAG_INT, &o.c.buffer_size, 0, NULL, NULL, "replay buffer size"},
        {"reinit_freq", FLAG_FLOAT, &o.c.reinit_freq, 0, NULL, NULL, "probability of restarting a chain from uniform"},
        {"seed", FLAG_U64, &o.c.seed, 0, NULL, NULL, "random seed"},
        {"n_samples", FLAG_INT, &o.n_samples, 0, NULL, NULL, "samples (buffer chains) and data points evaluated"},
        {"eval_steps", FLAG_INT, &o.eval_steps, 0, NULL, NULL, "sampler steps of the evaluation chains"},
        {"eval_init", FLAG_CHOICE, &o.eval_init, 0, NULL, "buffer|uniform", "evaluation chains start from buffer chains or from uniform noise"},
        {"grid", FLAG_INT, &o.grid, 0, NULL, NULL, "density grid side (cells over [-4, 4]^2)"},
        {"print_every", FLAG_INT, &o.print_every, 0, NULL, NULL, "iterations between progress lines"},
        {"quiet", FLAG_BOOL, &o.quiet, 0, NULL, NULL, "no progress output"},
    };
    int nf = (int)(sizeof flags / sizeof *flags);
    if (jp_flags_want_help(argc, argv)) {
        printf("usage: jempp toy --data 8gaussians|rings [--iters N] [--save_dir DIR] [flags]\n\n"
               "Trains an MLP energy model E(x) = -f(x) on a 2-D toy by persistent contrastive divergence\n"
               "(replay buffer, SGLD / proximal SGLD / PYLD, Adam), then writes toy.png (data | exp(-E) |\n"
               "samples), curve.png and metrics.json (mass near each mode: truth, data, samples, learned\n"
               "density). Defaults shown are those of --data %s.\n\n", jp_toy_name(kind));
        jp_flags_help(flags, nf, stdout);
        return 0;
    }
    if (jp_flags_parse(flags, nf, argc, argv, 1, &err)) {
        fprintf(stderr, "jempp toy: %s\n", err.msg);
        return 2;
    }
    o.c.data = (jp_toy_kind)data;
    o.c.sampler = (jp_sampler_kind)sampler;
    o.c.iters = o.iters;
    /* the flags hold floats: keep the exact double defaults unless a value was given */
    if (lr != (float)o.c.lr) o.c.lr = lr;
    if (final_lr != (float)o.c.final_lr) o.c.final_lr = final_lr;
    if (beta1 != (float)o.c.beta1) o.c.beta1 = beta1;
    if (beta2 != (float)o.c.beta2) o.c.beta2 = beta2;
    if (noise >= 0) o.c.noise = noise;
    else o.c.noise = sqrtf(2.0f * fabsf(o.c.step)); /* the defaults' rule, for any --step */
    if (o.iters < 1 || o.n_samples < 1 || o.grid < 2 || o.grid > 4096 || o.eval_steps < 0) {
        fprintf(stderr, "jempp toy: need --iters >= 1, --n_samples >= 1, 2 <= --grid <= 4096, --eval_steps >= 0\n");
        return 2;
    }
    toy_result r;
    memset(&r, 0, sizeof r);
    r.data = malloc((size_t)o.n_samples * 2 * sizeof(float));
    r.samples = malloc((size_t)o.n_samples * 2 * sizeof(float));
    r.egrid = malloc((size_t)o.grid * o.grid * sizeof(float));
    r.curve_fd = malloc((size_t)o.iters * sizeof(double));
    r.curve_fq = malloc((size_t)o.iters * sizeof(double));
    jp_status st = r.data && r.samples && r.egrid && r.curve_fd && r.curve_fq ? JP_OK : jp_fail(&err, JP_ERR_NOMEM, "toy outputs");
    if (!st) st = run(&o, &r, &err);
    if (!st) st = write_outputs(&o, &r, &err);
    if (!st && !o.quiet) {
        print_masses(&r);
        printf("%d iterations in %.1f s; results in %s\n", o.iters, r.seconds, o.save_dir);
    }
    free(r.data);
    free(r.samples);
    free(r.egrid);
    free(r.curve_fd);
    free(r.curve_fq);
    if (st) {
        fprintf(stderr, "jempp toy: %s\n", err.msg);
        return 1;
    }
    return 0;
}
