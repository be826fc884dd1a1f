/* jempp eval --mode attack as a library function: robust accuracy under PGD (L-inf
 * and/or L2, jp_robust_accuracy has the math) at a list of radii in pixel units,
 * optionally of JEM's defended classifier (noisy copies refined by SGLD, attacked end to
 * end with BPDA); attack.json, robust_accuracy_<norm>.png and a grid of clean vs
 * adversarial images at the largest radius. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval_out.h"
#include "jempp/plot.h"
#include "jempp/png.h"

void jp_attack_opts_defaults(jp_attack_opts *o)
{
    memset(o, 0, sizeof *o);
    jp_error err;
    jp_attack_parse_eps("0,1/255,2/255,4/255,8/255,16/255", "eps_linf", o->eps[JP_PGD_LINF], &o->n_eps[JP_PGD_LINF],
                        &err);
    jp_attack_parse_eps("0,0.125,0.25,0.5,1", "eps_l2", o->eps[JP_PGD_L2], &o->n_eps[JP_PGD_L2], &err);
    o->n_iter = 40;
    o->restarts = 1;
    jp_defence_config_jem(&o->def);
}

/* "0,1/255,0.5" -> values in [0, 1]; a/b fractions allowed. */
jp_status jp_attack_parse_eps(const char *list, const char *flag, double *out, int *n, jp_error *err)
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
            return jp_fail(err, JP_ERR_ARG, "%s '%s': expected radii in pixel units [0, 1] such as 0.5 or 8/255",
                           flag, tok);
        if (*n >= JP_ATTACK_MAX_EPS) return jp_fail(err, JP_ERR_ARG, "%s: at most %d radii", flag, JP_ATTACK_MAX_EPS);
        out[(*n)++] = v;
    }
    if (*n == 0) return jp_fail(err, JP_ERR_ARG, "%s: no radius given", flag);
    return JP_OK;
}

/* Row 1: clean images, row 2: their adversarial versions at radius eps. */
static jp_status adv_grid(const jp_eval_target *t, jp_attacker *a, const jp_pgd_config *pc, double eps, int n,
                          jp_error *err)
{
    const jp_dataset *ds = t->split;
    int dim = ds->c * ds->h * ds->w;
    int nb = jp_attacker_batch(a) < 8 ? jp_attacker_batch(a) : 8;
    nb = nb < n ? nb : n;
    float *g = malloc((size_t)2 * nb * dim * sizeof(float));
    int *broken = malloc((size_t)nb * sizeof(int));
    jp_status st = JP_OK;
    if (!g || !broken) st = jp_fail(err, JP_ERR_NOMEM, "adversarial grid");
    jp_pgd_config cc = *pc;
    cc.eps = eps;
    if (!st) {
        memcpy(g, ds->x, (size_t)nb * dim * sizeof(float));
        st = jp_pgd(a, &cc, ds->x, ds->y, nb, g + (size_t)nb * dim, broken, err);
    }
    if (!st) {
        char file[64], path[1100];
        snprintf(file, sizeof file, "adversarial_%s.png", jp_pgd_norm_name(pc->norm));
        st = jp_png_write_grid(ev_path(t, path, sizeof path, file), g, 2 * nb, ds->c, ds->h, ds->w, nb, err);
    }
    free(g);
    free(broken);
    return st;
}

static void json_head(const jp_eval_target *t, const jp_attack_opts *o, jp_jw *w)
{
    ev_json_begin(t, w, "attack");
    ev_json_dataset(t, w);
    jp_jw_key(w, "eps_units");
    jp_jw_string(w, "pixel values in [0, 1] (model inputs are 2 p - 1, so the attack uses 2 eps internally); "
                    "max_norm is the largest perturbation found, in the same units");
    jp_jw_key(w, "n_iter");
    jp_jw_int(w, o->n_iter);
    jp_jw_key(w, "step");
    jp_jw_string(w, o->step > 0 ? "fixed" : "eps/4");
    if (o->step > 0) {
        jp_jw_key(w, "step_value");
        ev_json_float(w, o->step);
    }
    jp_jw_key(w, "restarts");
    jp_jw_int(w, o->restarts);
    jp_jw_key(w, "random_start");
    jp_jw_bool(w, 1);
    jp_jw_key(w, "defence");
    if (!o->defence) {
        jp_jw_null(w);
        return;
    }
    jp_jw_begin_object(w);
    jp_jw_key(w, "n_copies");
    jp_jw_int(w, o->def.n_copies);
    jp_jw_key(w, "refine_steps");
    jp_jw_int(w, o->def.n_steps);
    jp_jw_key(w, "sigma");
    ev_json_float(w, o->def.sigma);
    jp_jw_key(w, "sgld_lr");
    ev_json_float(w, o->def.sgld_lr);
    jp_jw_key(w, "sgld_std");
    ev_json_float(w, o->def.sgld_std);
    jp_jw_key(w, "gradient");
    jp_jw_string(w, "BPDA: the SGLD refinement and the noise are the identity in the backward pass, as the "
                    "reference's attack_model.py (x_k.data updates outside autograd)");
    jp_jw_end_object(w);
}

/* One norm's entry of attack.json and its robust accuracy curve. */
static jp_status write_norm(const jp_eval_target *t, const jp_attack_opts *o, int k, const jp_attack_norm_result *nr,
                            jp_jw *w, jp_error *err)
{
    const char *name = jp_pgd_norm_name((jp_pgd_norm)k);
    jp_jw_key(w, name);
    jp_jw_begin_object(w);
    jp_jw_key(w, "clean_accuracy");
    jp_jw_double(w, nr->clean_accuracy);
    jp_jw_key(w, "seconds");
    jp_jw_double(w, nr->seconds);
    jp_jw_key(w, "points");
    jp_jw_begin_array(w);
    double xs[JP_ATTACK_MAX_EPS], ys[JP_ATTACK_MAX_EPS];
    for (int e = 0; e < nr->n_points; e++) {
        jp_jw_begin_object(w);
        jp_jw_key(w, "eps");
        jp_jw_double(w, nr->points[e].eps);
        jp_jw_key(w, "robust_accuracy");
        jp_jw_double(w, nr->points[e].acc);
        jp_jw_key(w, "max_norm");
        jp_jw_double(w, nr->points[e].max_norm);
        jp_jw_end_object(w);
        xs[e] = nr->points[e].eps;
        ys[e] = nr->points[e].acc;
    }
    jp_jw_end_array(w);
    jp_jw_end_object(w);
    char title[96], xl[64], file[64], path[1100];
    snprintf(title, sizeof title, "PGD-%d %s robust accuracy%s", o->n_iter, k ? "L2" : "L-inf",
             o->defence ? " (JEM defence, BPDA)" : "");
    snprintf(xl, sizeof xl, "eps (%s, pixel units [0, 1])", k ? "L2" : "L-inf");
    snprintf(file, sizeof file, "robust_accuracy_%s.png", name);
    jp_series s = {o->defence ? "defended" : "model", xs, ys, nr->n_points};
    jp_plot_opts po = {title, xl, "robust accuracy", 800, 520, 0, 0, 1.05};
    return jp_plot_lines(ev_path(t, path, sizeof path, file), &po, &s, 1, err);
}

jp_status jp_eval_attack(const jp_eval_target *t, const jp_attack_opts *o, jp_attack_result *r, jp_error *err)
{
    memset(r, 0, sizeof *r);
    if (o->n_iter < 0 || o->restarts < 1 || !(o->step >= 0))
        return jp_fail(err, JP_ERR_ARG, "--n_iter %d / --restarts %d / --step %g: need >= 0, >= 1, >= 0", o->n_iter,
                       o->restarts, (double)o->step);
    if (o->defence && o->def.n_copies < 1)
        return jp_fail(err, JP_ERR_ARG, "--n_copies %d: must be >= 1", o->def.n_copies);
    for (int k = 0; k < 2; k++)
        if (o->n_eps[k] < 0 || o->n_eps[k] > JP_ATTACK_MAX_EPS)
            return jp_fail(err, JP_ERR_ARG, "attack: %d radii for %s (at most %d)", o->n_eps[k],
                           jp_pgd_norm_name((jp_pgd_norm)k), JP_ATTACK_MAX_EPS);
    jp_status st = ev_split(t, 1, err);
    if (st) return st;
    int n = ev_count(t, t->split);
    r->n = n;
    jp_defence_config def = o->def;
    if (!o->defence) def.n_copies = 0;
    jp_attacker *a = NULL;
    st = jp_attacker_create(&a, t->model, &def, t->seed, err);
    if (st) return st;
    jp_pgd_config base;
    jp_pgd_config_defaults(&base);
    base.n_iter = o->n_iter;
    base.step = o->step;
    base.restarts = o->restarts;
    jp_jw w;
    if (t->out) json_head(t, o, &w);
    for (int k = 0; k < 2 && !st; k++) {
        jp_attack_norm_result *nr = &r->norm[k];
        if (o->n_eps[k] == 0) continue;
        base.norm = (jp_pgd_norm)k;
        nr->n_points = o->n_eps[k];
        double emax = 0, t0 = jp_now();
        for (int e = 0; e < nr->n_points; e++) {
            nr->points[e].eps = o->eps[k][e];
            emax = o->eps[k][e] > emax ? o->eps[k][e] : emax;
        }
        ev_log(t, "PGD %s on %d images of %s at %d radii%s\n", jp_pgd_norm_name(base.norm), n, t->split->name,
               nr->n_points, o->defence ? " (defended)" : "");
        st = jp_robust_accuracy(a, &base, t->split, n, nr->points, nr->n_points, &nr->clean_accuracy, err);
        nr->seconds = jp_now() - t0;
        if (!st && t->out) st = write_norm(t, o, k, nr, &w, err);
        if (!st && t->out && emax > 0) st = adv_grid(t, a, &base, emax, n, err);
    }
    if (t->out) {
        if (!st) st = ev_json_save(t, &w, "attack.json", err);
        else jp_jw_free(&w);
    }
    jp_attacker_free(a);
    return st;
}
