/* jempp eval --mode attack: robust accuracy under PGD (L-inf and/or L2) at a list of
 * radii in pixel units, optionally of JEM's defended classifier (noisy copies refined
 * by SGLD, attacked end to end with BPDA); attack.json, robust_accuracy_<norm>.png and
 * a grid of clean vs adversarial images at the largest radius. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_eval.h"
#include "jempp/attack.h"
#include "jempp/plot.h"
#include "jempp/png.h"

#define MAX_EPS 32

/* "0,1/255,0.5" -> values in [0, 1]; a/b fractions allowed. */
static jp_status parse_eps(const char *flag, const char *list, double *out, int *n, jp_error *err)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", list);
    *n = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
        char *end;
        double v = strtod(tok, &end);
        if (*end == '/') {
            char *den_end;
            double den = strtod(end + 1, &den_end);
            if (end[1] == '\0' || *den_end || !(den > 0)) end = den_end, v = NAN;
            else v /= den, end = den_end;
        }
        if (end == tok || *end || !(v >= 0 && v <= 1))
            return jp_fail(err, JP_ERR_ARG, "--%s '%s': expected radii in pixel units [0, 1] such as 0.5 or 8/255",
                           flag, tok);
        if (*n >= MAX_EPS) return jp_fail(err, JP_ERR_ARG, "--%s: at most %d radii", flag, MAX_EPS);
        out[(*n)++] = v;
    }
    if (*n == 0) return jp_fail(err, JP_ERR_ARG, "--%s: no radius given", flag);
    return JP_OK;
}

/* Row 1: clean images, row 2: their adversarial versions at radius eps. */
static jp_status adv_grid(ev_ctx *c, jp_attacker *a, const jp_pgd_config *pc, double eps, jp_error *err)
{
    int nb = jp_attacker_batch(a) < 8 ? jp_attacker_batch(a) : 8;
    nb = nb < c->n ? nb : c->n;
    float *g = malloc((size_t)2 * nb * c->dim * sizeof(float));
    int *broken = malloc((size_t)nb * sizeof(int));
    jp_status st = JP_OK;
    if (!g || !broken) st = jp_fail(err, JP_ERR_NOMEM, "adversarial grid");
    jp_pgd_config cc = *pc;
    cc.eps = eps;
    if (!st) {
        memcpy(g, c->ds->x, (size_t)nb * c->dim * sizeof(float));
        st = jp_pgd(a, &cc, c->ds->x, c->ds->y, nb, g + (size_t)nb * c->dim, broken, err);
    }
    if (!st) {
        char file[64], path[1100];
        snprintf(file, sizeof file, "adversarial_%s.png", jp_pgd_norm_name(pc->norm));
        st = jp_png_write_grid(ev_path(c, path, sizeof path, file), g, 2 * nb, c->C, c->H, c->W, nb, err);
    }
    free(g);
    free(broken);
    return st;
}

jp_status ev_attack(ev_ctx *c, jp_error *err)
{
    const ev_opts *o = &c->o;
    double eps[2][MAX_EPS];
    int neps[2] = {0, 0};
    int use[2] = {o->norm != 1, o->norm != 0};
    jp_status st = JP_OK;
    if (use[0]) st = parse_eps("eps_linf", o->eps_linf, eps[0], &neps[0], err);
    if (!st && use[1]) st = parse_eps("eps_l2", o->eps_l2, eps[1], &neps[1], err);
    if (st) return st;
    jp_pgd_config base;
    jp_pgd_config_defaults(&base);
    base.n_iter = o->n_iter;
    base.step = o->step;
    base.restarts = o->restarts;
    if (o->n_iter < 0 || o->restarts < 1 || !(o->step >= 0))
        return jp_fail(err, JP_ERR_ARG, "--n_iter %d / --restarts %d / --step %g: need >= 0, >= 1, >= 0", o->n_iter,
                       o->restarts, (double)o->step);
    jp_defence_config def = {o->defence ? o->n_copies : 0, o->refine_steps, o->refine_sigma, o->input.sgld_lr,
                             o->input.sgld_std};
    if (o->defence && o->n_copies < 1) return jp_fail(err, JP_ERR_ARG, "--n_copies %d: must be >= 1", o->n_copies);
    st = ev_open_data(c, 1, 0, err);
    if (st) return st;
    jp_attacker *a = NULL;
    st = jp_attacker_create(&a, c->m, &def, o->seed, err);
    if (st) return st;
    jp_jw w;
    ev_json_begin(c, &w, "attack");
    ev_json_dataset(c, &w);
    jp_jw_key(&w, "eps_units");
    jp_jw_string(&w, "pixel values in [0, 1] (model inputs are 2 p - 1, so the attack uses 2 eps internally); "
                     "max_norm is the largest perturbation found, in the same units");
    jp_jw_key(&w, "n_iter");
    jp_jw_int(&w, o->n_iter);
    jp_jw_key(&w, "step");
    jp_jw_string(&w, o->step > 0 ? "fixed" : "eps/4");
    if (o->step > 0) {
        jp_jw_key(&w, "step_value");
        ev_json_float(&w, o->step);
    }
    jp_jw_key(&w, "restarts");
    jp_jw_int(&w, o->restarts);
    jp_jw_key(&w, "random_start");
    jp_jw_bool(&w, 1);
    jp_jw_key(&w, "defence");
    if (o->defence) {
        jp_jw_begin_object(&w);
        jp_jw_key(&w, "n_copies");
        jp_jw_int(&w, def.n_copies);
        jp_jw_key(&w, "refine_steps");
        jp_jw_int(&w, def.n_steps);
        jp_jw_key(&w, "sigma");
        ev_json_float(&w, def.sigma);
        jp_jw_key(&w, "sgld_lr");
        ev_json_float(&w, def.sgld_lr);
        jp_jw_key(&w, "sgld_std");
        ev_json_float(&w, def.sgld_std);
        jp_jw_key(&w, "gradient");
        jp_jw_string(&w, "BPDA: the SGLD refinement and the noise are the identity in the backward pass, as the "
                         "reference's attack_model.py (x_k.data updates outside autograd)");
        jp_jw_end_object(&w);
    } else {
        jp_jw_null(&w);
    }
    for (int k = 0; k < 2 && !st; k++) {
        if (!use[k]) continue;
        base.norm = (jp_pgd_norm)k;
        jp_robust_point pts[MAX_EPS];
        for (int e = 0; e < neps[k]; e++) pts[e].eps = eps[k][e];
        double clean = 0, t0 = jp_now();
        ev_log(c, "PGD %s on %d images of %s at %d radii%s\n", jp_pgd_norm_name(base.norm), c->n, c->ds->name, neps[k],
               o->defence ? " (defended)" : "");
        st = jp_robust_accuracy(a, &base, c->ds, c->n, pts, neps[k], &clean, err);
        if (st) break;
        jp_jw_key(&w, jp_pgd_norm_name(base.norm));
        jp_jw_begin_object(&w);
        jp_jw_key(&w, "clean_accuracy");
        jp_jw_double(&w, clean);
        jp_jw_key(&w, "seconds");
        jp_jw_double(&w, jp_now() - t0);
        jp_jw_key(&w, "points");
        jp_jw_begin_array(&w);
        double xs[MAX_EPS], ys[MAX_EPS], emax = 0;
        for (int e = 0; e < neps[k]; e++) {
            jp_jw_begin_object(&w);
            jp_jw_key(&w, "eps");
            jp_jw_double(&w, pts[e].eps);
            jp_jw_key(&w, "robust_accuracy");
            jp_jw_double(&w, pts[e].acc);
            jp_jw_key(&w, "max_norm");
            jp_jw_double(&w, pts[e].max_norm);
            jp_jw_end_object(&w);
            xs[e] = pts[e].eps;
            ys[e] = pts[e].acc;
            emax = pts[e].eps > emax ? pts[e].eps : emax;
            printf("attack %s eps %.5g: robust accuracy %.4f (largest perturbation %.5g)\n",
                   jp_pgd_norm_name(base.norm), pts[e].eps, pts[e].acc, pts[e].max_norm);
        }
        jp_jw_end_array(&w);
        jp_jw_end_object(&w);
        char title[96], xl[64], file[64], path[1100];
        snprintf(title, sizeof title, "PGD-%d %s robust accuracy%s", o->n_iter, k ? "L2" : "L-inf",
                 o->defence ? " (JEM defence, BPDA)" : "");
        snprintf(xl, sizeof xl, "eps (%s, pixel units [0, 1])", k ? "L2" : "L-inf");
        snprintf(file, sizeof file, "robust_accuracy_%s.png", jp_pgd_norm_name(base.norm));
        jp_series s = {o->defence ? "defended" : "model", xs, ys, neps[k]};
        jp_plot_opts po = {title, xl, "robust accuracy", 800, 520, 0, 0, 1.05};
        st = jp_plot_lines(ev_path(c, path, sizeof path, file), &po, &s, 1, err);
        if (!st && emax > 0) st = adv_grid(c, a, &base, emax, err);
    }
    if (!st) st = ev_json_save(c, &w, "attack.json", err);
    else jp_jw_free(&w);
    jp_attacker_free(a);
    return st;
}
