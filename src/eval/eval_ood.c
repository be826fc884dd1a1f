/* jempp eval --mode ood as a library function: the in-distribution split against the
 * built-in shifted sets and/or another data set, for the scores px = LSE, py = max
 * softmax and pxgrad = -||grad_x LSE|| (jp_ood_scores); AUROC, AUPR and FPR95 per set and
 * score (jp_detect, in-distribution = positive); ood.json and score histograms per set
 * (the reference's logp_hist). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval_out.h"
#include "jempp/plot.h"

void jp_ood_opts_defaults(jp_ood_opts *o)
{
    memset(o, 0, sizeof *o);
    for (int k = 0; k < JP_N_SHIFTS; k++) o->shifts[k] = k;
    o->n_shifts = JP_N_SHIFTS;
    o->hist_bins = 100;
}

jp_status jp_ood_parse_shifts(jp_ood_opts *o, const char *list, const char *flag, jp_error *err)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", list ? list : "");
    o->n_shifts = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
        if (!strcmp(tok, "none")) continue;
        int k = jp_shift_parse(tok);
        if (k < 0)
            return jp_fail(err, JP_ERR_ARG, "%s: unknown set '%s' (expected noise, constant, interp, invert or none)",
                           flag, tok);
        if (o->n_shifts >= JP_N_SHIFTS) return jp_fail(err, JP_ERR_ARG, "%s: '%s' listed twice", flag, tok);
        o->shifts[o->n_shifts++] = k;
    }
    return JP_OK;
}

static void set_free(jp_ood_set_result *s)
{
    for (int k = 0; k < JP_N_SCORES; k++) free(s->score[k]);
    memset(s, 0, sizeof *s);
}

void jp_ood_result_free(jp_ood_result *r)
{
    set_free(&r->in);
    for (int i = 0; i < r->n_sets; i++) set_free(&r->sets[i]);
    r->n_sets = 0;
}

static jp_status score_set(const jp_eval_target *t, float sigma, jp_ood_set_result *s, const jp_dataset *ds, int n,
                           jp_rng *rng, jp_error *err)
{
    snprintf(s->name, sizeof s->name, "%s", ds->name);
    s->n = n;
    for (int k = 0; k < JP_N_SCORES; k++)
        if (!(s->score[k] = malloc((size_t)n * sizeof(double))))
            return jp_fail(err, JP_ERR_NOMEM, "scores of %s", ds->name);
    ev_log(t, "scoring %d images of %s\n", n, ds->name);
    jp_status st = jp_ood_scores(t->model, ds->x, n, sigma, s->score[JP_SCORE_PX], s->score[JP_SCORE_PY],
                                 s->score[JP_SCORE_PXGRAD], rng, err);
    for (int k = 0; k < JP_N_SCORES && !st; k++) {
        double m = 0;
        for (int i = 0; i < n; i++) m += s->score[k][i];
        s->mean[k] = m / n;
    }
    return st;
}

static void json_set(jp_jw *w, const jp_ood_set_result *s)
{
    jp_jw_key(w, "name");
    jp_jw_string(w, s->name);
    if (s->kind) {
        jp_jw_key(w, "kind");
        jp_jw_string(w, s->kind);
    }
    jp_jw_key(w, "n");
    jp_jw_int(w, s->n);
    jp_jw_key(w, "mean");
    jp_jw_begin_object(w);
    for (int k = 0; k < JP_N_SCORES; k++) {
        jp_jw_key(w, jp_score_name((jp_score_kind)k));
        jp_jw_double(w, s->mean[k]);
    }
    jp_jw_end_object(w);
}

static jp_status write_files(const jp_eval_target *t, const jp_ood_opts *o, const jp_ood_result *r, jp_error *err)
{
    jp_jw w;
    ev_json_begin(t, &w, "ood");
    ev_json_dataset(t, &w);
    jp_jw_key(&w, "sigma");
    ev_json_float(&w, o->sigma);
    jp_jw_key(&w, "convention");
    jp_jw_string(&w, "in-distribution images are the positive class and a higher score means more "
                     "in-distribution; px = logsumexp of the logits (-energy), py = max softmax, pxgrad = -L2 norm of "
                     "the input gradient of logsumexp; aupr = average precision with in-distribution positive; fpr95 = "
                     "false-positive rate at 95% true-positive rate");
    jp_jw_key(&w, "in_distribution");
    jp_jw_begin_object(&w);
    json_set(&w, &r->in);
    jp_jw_end_object(&w);
    jp_jw_key(&w, "sets");
    jp_jw_begin_array(&w);
    for (int i = 0; i < r->n_sets; i++) {
        const jp_ood_set_result *s = &r->sets[i];
        jp_jw_begin_object(&w);
        json_set(&w, s);
        for (int k = 0; k < JP_N_SCORES; k++) {
            jp_jw_key(&w, jp_score_name((jp_score_kind)k));
            jp_jw_begin_object(&w);
            jp_jw_key(&w, "auroc");
            jp_jw_double(&w, s->m[k].auroc);
            jp_jw_key(&w, "aupr");
            jp_jw_double(&w, s->m[k].aupr);
            jp_jw_key(&w, "fpr95");
            jp_jw_double(&w, s->m[k].fpr95);
            jp_jw_end_object(&w);
        }
        jp_jw_end_object(&w);
    }
    jp_jw_end_array(&w);
    jp_status st = ev_json_save(t, &w, "ood.json", err);
    /* histograms: one chart per score, one outline per set */
    for (int k = 0; k < JP_N_SCORES && !st; k++) {
        jp_series sr[JP_OOD_MAX_SETS + 1];
        sr[0] = (jp_series){r->in.name, NULL, r->in.score[k], r->in.n};
        for (int i = 0; i < r->n_sets; i++)
            sr[i + 1] = (jp_series){r->sets[i].name, NULL, r->sets[i].score[k], r->sets[i].n};
        static const char *xl[JP_N_SCORES] = {"px = logsumexp f(x) (= -energy)", "py = max softmax",
                                              "pxgrad = -||grad_x logsumexp f(x)||"};
        char title[64], file[64], path[1100];
        snprintf(title, sizeof title, "OOD score %s per data set", jp_score_name((jp_score_kind)k));
        snprintf(file, sizeof file, "ood_hist_%s.png", jp_score_name((jp_score_kind)k));
        jp_plot_opts po = {title, xl[k], "density", 900, 540, 0, 0, 0};
        st = jp_plot_histograms(ev_path(t, path, sizeof path, file), &po, sr, r->n_sets + 1, o->hist_bins, err);
    }
    return st;
}

jp_status jp_eval_ood(const jp_eval_target *t, const jp_ood_opts *o, jp_ood_result *r, jp_error *err)
{
    memset(r, 0, sizeof *r);
    int other = o->dataset && o->dataset[0];
    if (o->n_shifts == 0 && !other)
        return jp_fail(err, JP_ERR_ARG, "ood: nothing to compare with: give --ood_sets and/or --ood_dataset");
    if (o->n_shifts < 0 || o->n_shifts > JP_N_SHIFTS)
        return jp_fail(err, JP_ERR_ARG, "ood: %d shifted sets (at most %d)", o->n_shifts, JP_N_SHIFTS);
    if (o->hist_bins < 1 || o->hist_bins > 10000)
        return jp_fail(err, JP_ERR_ARG, "--hist_bins %d: must be 1..10000", o->hist_bins);
    jp_status st = ev_split(t, 0, err);
    if (st) return st;
    /* the other data set first, so that a missing or misfit one stops before any work */
    jp_data od;
    int od_open = 0;
    const jp_dataset *ods = NULL;
    if (other) {
        jp_data_config dc = jp_data_config_defaults();
        dc.dataset = o->dataset;
        dc.data_root = o->data_root && o->data_root[0] ? o->data_root : NULL;
        dc.n_valid = o->split == 1 ? t->n_valid : 0;
        st = jp_data_open(&od, &dc, err);
        if (st) return st;
        od_open = 1;
        ods = o->split == 0 ? &od.test : o->split == 1 ? &od.valid : &od.train;
        st = jp_model_fits(t->model, t->ckpt, ods, 0, err);
    }
    jp_rng rng;
    jp_rng_seed(&rng, t->seed);
    if (!st) st = score_set(t, o->sigma, &r->in, t->split, ev_count(t, t->split), &rng, err);
    for (int i = 0; i < o->n_shifts && !st; i++) {
        jp_dataset sh;
        st = jp_shifted_set(&sh, t->split, (jp_shift_kind)o->shifts[i], ev_count(t, t->split), &rng, err);
        if (st) break;
        r->sets[r->n_sets].kind = jp_shift_name((jp_shift_kind)o->shifts[i]);
        st = score_set(t, o->sigma, &r->sets[r->n_sets++], &sh, sh.n, &rng, err);
        jp_dataset_free(&sh);
    }
    if (!st && ods) {
        r->sets[r->n_sets].kind = "dataset";
        st = score_set(t, o->sigma, &r->sets[r->n_sets++], ods, ev_count(t, ods), &rng, err);
    }
    if (od_open) jp_data_close(&od);
    for (int i = 0; i < r->n_sets && !st; i++)
        for (int k = 0; k < JP_N_SCORES && !st; k++)
            st = jp_detect(r->in.score[k], r->in.n, r->sets[i].score[k], r->sets[i].n, &r->sets[i].m[k], err);
    if (!st && t->out) st = write_files(t, o, r, err);
    if (st) jp_ood_result_free(r);
    return st;
}
