/* jempp eval --mode ood: the in-distribution split against the built-in shifted sets
 * and/or another data set, for the scores px = LSE, py = max softmax and
 * pxgrad = -||grad_x LSE||; AUROC, AUPR and FPR95 per set and score (in-distribution =
 * positive), score histograms per set (the reference's logp_hist). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_eval.h"
#include "jempp/metrics.h"
#include "jempp/plot.h"

#define MAX_SETS 8

typedef struct {
    char name[JP_DATA_NAME_MAX + 16];
    const char *kind;
    int n;
    double *s[JP_N_SCORES];
    jp_detect_metrics m[JP_N_SCORES];
} ood_set;

static void set_free(ood_set *s)
{
    for (int k = 0; k < JP_N_SCORES; k++) free(s->s[k]);
    memset(s, 0, sizeof *s);
}

static jp_status score_set(ev_ctx *c, ood_set *s, const jp_dataset *ds, int n, jp_error *err)
{
    snprintf(s->name, sizeof s->name, "%s", ds->name);
    s->n = n;
    for (int k = 0; k < JP_N_SCORES; k++)
        if (!(s->s[k] = malloc((size_t)n * sizeof(double))))
            return jp_fail(err, JP_ERR_NOMEM, "scores of %s", ds->name);
    ev_log(c, "scoring %d images of %s\n", n, ds->name);
    return jp_ood_scores(c->m, ds->x, n, c->o.input.sigma, s->s[JP_SCORE_PX], s->s[JP_SCORE_PY], s->s[JP_SCORE_PXGRAD],
                         &c->rng, err);
}

/* The kinds named in the comma-separated list ("none" or "": no set). */
static jp_status parse_sets(const char *list, int *kinds, int *n, jp_error *err)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", list);
    *n = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
        if (!strcmp(tok, "none")) continue;
        int k = jp_shift_parse(tok);
        if (k < 0)
            return jp_fail(err, JP_ERR_ARG, "--ood_sets: unknown set '%s' (expected noise, constant, interp, invert "
                           "or none)", tok);
        if (*n >= JP_N_SHIFTS) return jp_fail(err, JP_ERR_ARG, "--ood_sets: '%s' listed twice", tok);
        kinds[(*n)++] = k;
    }
    return JP_OK;
}

static void json_scores_mean(jp_jw *w, const ood_set *s)
{
    jp_jw_key(w, "mean");
    jp_jw_begin_object(w);
    for (int k = 0; k < JP_N_SCORES; k++) {
        double m = 0;
        for (int i = 0; i < s->n; i++) m += s->s[k][i];
        jp_jw_key(w, jp_score_name((jp_score_kind)k));
        jp_jw_double(w, m / s->n);
    }
    jp_jw_end_object(w);
}

static jp_status write_results(ev_ctx *c, const ood_set *in, const ood_set *sets, int ns, jp_error *err)
{
    jp_jw w;
    ev_json_begin(c, &w, "ood");
    ev_json_dataset(c, &w);
    jp_jw_key(&w, "sigma");
    ev_json_float(&w, c->o.input.sigma);
    jp_jw_key(&w, "convention");
    jp_jw_string(&w, "in-distribution images are the positive class and a higher score means more "
                     "in-distribution; px = logsumexp of the logits (-energy), py = max softmax, pxgrad = -L2 norm of "
                     "the input gradient of logsumexp; aupr = average precision with in-distribution positive; fpr95 = "
                     "false-positive rate at 95% true-positive rate");
    jp_jw_key(&w, "in_distribution");
    jp_jw_begin_object(&w);
    jp_jw_key(&w, "name");
    jp_jw_string(&w, in->name);
    jp_jw_key(&w, "n");
    jp_jw_int(&w, in->n);
    json_scores_mean(&w, in);
    jp_jw_end_object(&w);
    jp_jw_key(&w, "sets");
    jp_jw_begin_array(&w);
    for (int i = 0; i < ns; i++) {
        const ood_set *s = &sets[i];
        jp_jw_begin_object(&w);
        jp_jw_key(&w, "name");
        jp_jw_string(&w, s->name);
        jp_jw_key(&w, "kind");
        jp_jw_string(&w, s->kind);
        jp_jw_key(&w, "n");
        jp_jw_int(&w, s->n);
        json_scores_mean(&w, s);
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
    jp_status st = ev_json_save(c, &w, "ood.json", err);
    /* histograms: one chart per score, one outline per set */
    for (int k = 0; k < JP_N_SCORES && !st; k++) {
        jp_series sr[MAX_SETS + 1];
        sr[0] = (jp_series){in->name, NULL, in->s[k], in->n};
        for (int i = 0; i < ns; i++) sr[i + 1] = (jp_series){sets[i].name, NULL, sets[i].s[k], sets[i].n};
        static const char *xl[JP_N_SCORES] = {"px = logsumexp f(x) (= -energy)", "py = max softmax",
                                              "pxgrad = -||grad_x logsumexp f(x)||"};
        char title[64], file[64], path[1100];
        snprintf(title, sizeof title, "OOD score %s per data set", jp_score_name((jp_score_kind)k));
        snprintf(file, sizeof file, "ood_hist_%s.png", jp_score_name((jp_score_kind)k));
        jp_plot_opts po = {title, xl[k], "density", 900, 540, 0, 0, 0};
        st = jp_plot_histograms(ev_path(c, path, sizeof path, file), &po, sr, ns + 1, c->o.hist_bins, err);
    }
    if (!st) {
        printf("ood: %s (%d images) vs\n  %-36s %8s %8s %8s   (AUROC; AUPR and FPR95 in ood.json)\n", in->name, in->n,
               "set", "px", "py", "pxgrad");
        for (int i = 0; i < ns; i++)
            printf("  %-36s %8.4f %8.4f %8.4f\n", sets[i].name, sets[i].m[0].auroc, sets[i].m[1].auroc,
                   sets[i].m[2].auroc);
    }
    return st;
}

jp_status ev_ood(ev_ctx *c, jp_error *err)
{
    int kinds[JP_N_SHIFTS], nk = 0;
    jp_status st = parse_sets(c->o.ood_sets, kinds, &nk, err);
    if (st) return st;
    if (nk == 0 && !c->o.ood_dataset[0])
        return jp_fail(err, JP_ERR_ARG, "ood: nothing to compare with: give --ood_sets and/or --ood_dataset");
    if (c->o.hist_bins < 1 || c->o.hist_bins > 10000)
        return jp_fail(err, JP_ERR_ARG, "--hist_bins %d: must be 1..10000", c->o.hist_bins);
    st = ev_open_data(c, 0, 0, err);
    if (st) return st;
    /* the other data set first, so that a missing or misfit one stops before any work */
    jp_data od;
    int od_open = 0;
    const jp_dataset *ods = NULL;
    if (c->o.ood_dataset[0]) {
        st = ev_open_other(&od, c->o.ood_dataset, c->o.ood_data_root, c->o.ood_split == 1 ? c->o.n_valid : 0, err);
        if (st) return st;
        od_open = 1;
        ods = c->o.ood_split == 0 ? &od.test : c->o.ood_split == 1 ? &od.valid : &od.train;
        st = jp_model_fits(c->m, c->ckpt_name, ods, 0, err);
    }
    ood_set in, sets[MAX_SETS];
    memset(&in, 0, sizeof in);
    memset(sets, 0, sizeof sets);
    int ns = 0;
    if (!st) st = score_set(c, &in, c->ds, c->n, err);
    for (int i = 0; i < nk && !st; i++) {
        jp_dataset sh;
        st = jp_shifted_set(&sh, c->ds, (jp_shift_kind)kinds[i], c->n, &c->rng, err);
        if (st) break;
        sets[ns].kind = jp_shift_name((jp_shift_kind)kinds[i]);
        st = score_set(c, &sets[ns++], &sh, sh.n, err);
        jp_dataset_free(&sh);
    }
    if (!st && ods) {
        int n = c->o.max_n > 0 && c->o.max_n < ods->n ? c->o.max_n : ods->n;
        sets[ns].kind = "dataset";
        st = score_set(c, &sets[ns++], ods, n, err);
    }
    if (od_open) jp_data_close(&od);
    for (int i = 0; i < ns && !st; i++)
        for (int k = 0; k < JP_N_SCORES && !st; k++)
            st = jp_detect(in.s[k], in.n, sets[i].s[k], sets[i].n, &sets[i].m[k], err);
    if (!st) st = write_results(c, &in, sets, ns, err);
    set_free(&in);
    for (int i = 0; i < ns; i++) set_free(&sets[i]);
    return st;
}
