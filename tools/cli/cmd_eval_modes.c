/* jempp eval: each mode's flags as the library's options (include/jempp/evaluate.h),
 * the mode run, and its one-line summary on stdout. */
#include <stdio.h>

#include "cmd_eval.h"

/* The chains from scratch of samples and fid: --sampler with its defaults (pyld: PYLD,
 * sgld and proximal: SGLD's), then the flags; -1 leaves the sampler's own step/noise. */
static void chains_opts(const ev_opts *o, jp_eval_chains_opts *c)
{
    if (o->sampler == JP_SAMPLER_PYLD) jp_sampler_config_pyld(&c->sampler);
    else jp_sampler_config_sgld(&c->sampler);
    c->sampler.kind = (jp_sampler_kind)o->sampler;
    c->sampler.n_steps = o->n_sample_steps;
    c->sampler.in_steps = o->in_steps;
    c->sampler.pyld_lr = o->pyld_lr;
    c->sampler.eps = o->sampler_eps;
    if (o->sample_sgld_lr >= 0) c->sampler.sgld_lr = o->sample_sgld_lr;
    if (o->sample_sgld_std >= 0) c->sampler.sgld_std = o->sample_sgld_std;
    c->sampler.train_mode = o->train_mode_sampling;
    c->informative = o->init == 1;
}

static jp_status run_clf(const ev_opts *o, const jp_eval_target *t, jp_error *err)
{
    jp_clf_opts co = {o->input, o->bins};
    const char *name = t->split->name;
    jp_status st;
    if (o->mode == EV_TEST_CLF) {
        jp_test_clf_result r;
        st = jp_eval_test_clf(t, &co, &r, err);
        if (!st) printf("test_clf %s: accuracy %.4f, loss %.4f over %d images\n", name, r.accuracy, r.loss, r.n);
        if (!st) jp_test_clf_result_free(&r);
    } else if (o->mode == EV_PREDICT) {
        jp_predict_result r;
        st = jp_eval_predict(t, &co, &r, err);
        if (!st)
            printf("predict %s: %d rows written to %s/predict.csv (accuracy %.4f)\n", name, r.n, t->out, r.accuracy);
        if (!st) jp_predict_result_free(&r);
    } else {
        jp_calibration r;
        st = jp_eval_cali(t, &co, &r, err);
        if (!st)
            printf("cali %s: ECE %.4f (%d bins), NLL %.4f, accuracy %.4f over %d images\n", name, r.ece, r.n_bins,
                   r.nll, r.acc, r.n);
        if (!st) jp_calibration_free(&r);
    }
    return st;
}

static jp_status run_ood(const ev_opts *o, const jp_eval_target *t, jp_error *err)
{
    jp_ood_opts oo;
    jp_ood_opts_defaults(&oo);
    jp_status st = jp_ood_parse_shifts(&oo, o->ood_sets, "--ood_sets", err);
    if (st) return st;
    oo.sigma = o->input.sigma;
    oo.dataset = o->ood_dataset;
    oo.data_root = o->ood_data_root;
    oo.split = o->ood_split;
    oo.hist_bins = o->hist_bins;
    jp_ood_result r;
    st = jp_eval_ood(t, &oo, &r, err);
    if (st) return st;
    printf("ood: %s (%d images) vs\n  %-36s %8s %8s %8s   (AUROC; AUPR and FPR95 in ood.json)\n", r.in.name, r.in.n,
           "set", "px", "py", "pxgrad");
    for (int i = 0; i < r.n_sets; i++)
        printf("  %-36s %8.4f %8.4f %8.4f\n", r.sets[i].name, r.sets[i].m[0].auroc, r.sets[i].m[1].auroc,
               r.sets[i].m[2].auroc);
    jp_ood_result_free(&r);
    return JP_OK;
}

static jp_status run_samples(const ev_opts *o, const jp_eval_target *t, jp_error *err)
{
    jp_samples_opts so;
    jp_samples_opts_defaults(&so);
    chains_opts(o, &so.chains);
    so.n_samples = o->n_samples;
    so.per_class = o->per_class;
    so.frames = o->frames;
    jp_samples_result r;
    jp_status st = jp_eval_samples(t, &so, &r, err);
    if (st) return st;
    int S = r.n_steps;
    printf("samples: energy %.4f -> %.4f (unconditional), %.4f -> %.4f (conditional) over %d steps%s\n",
           r.energy_uncond[0], r.energy_uncond[S], r.energy_cond[0], r.energy_cond[S], S,
           r.has_buffer ? "; replay buffer grids written" : "; no replay buffer in the checkpoint");
    jp_samples_result_free(&r);
    return JP_OK;
}

static jp_status run_attack(const ev_opts *o, const jp_eval_target *t, jp_error *err)
{
    jp_attack_opts ao;
    jp_attack_opts_defaults(&ao);
    jp_status st = JP_OK;
    ao.n_eps[JP_PGD_LINF] = ao.n_eps[JP_PGD_L2] = 0;
    if (o->norm != 1) st = jp_attack_parse_eps(o->eps_linf, "--eps_linf", ao.eps[0], &ao.n_eps[0], err);
    if (!st && o->norm != 0) st = jp_attack_parse_eps(o->eps_l2, "--eps_l2", ao.eps[1], &ao.n_eps[1], err);
    if (st) return st;
    ao.n_iter = o->n_iter;
    ao.step = o->step;
    ao.restarts = o->restarts;
    ao.defence = o->defence;
    ao.def = (jp_defence_config){o->n_copies, o->refine_steps, o->refine_sigma, o->input.sgld_lr, o->input.sgld_std};
    jp_attack_result r;
    st = jp_eval_attack(t, &ao, &r, err);
    for (int k = 0; k < 2 && !st; k++)
        for (int e = 0; e < r.norm[k].n_points; e++)
            printf("attack %s eps %.5g: robust accuracy %.4f (largest perturbation %.5g)\n",
                   jp_pgd_norm_name((jp_pgd_norm)k), r.norm[k].points[e].eps, r.norm[k].points[e].acc,
                   r.norm[k].points[e].max_norm);
    return st;
}

static jp_status run_fid(const ev_opts *o, const jp_eval_target *t, jp_error *err)
{
    jp_fid_opts fo;
    jp_fid_opts_defaults(&fo);
    fo.inception_weights = o->inception_weights;
    fo.inception_batch = o->inception_batch;
    fo.feature_ckpt = o->feature_ckpt;
    fo.source = (jp_fid_source)o->fid_source;
    fo.n_fid = o->n_fid;
    chains_opts(o, &fo.chains);
    fo.select = o->select;
    fo.ref_dataset = o->ref_dataset;
    fo.ref_data_root = o->ref_data_root;
    fo.ref_split = o->ref_split;
    fo.ref_max_n = o->ref_max_n;
    fo.kid_subsets = o->kid_subsets;
    fo.kid_subset_size = o->kid_subset_size;
    fo.is_splits = o->is_splits;
    jp_fid_result r;
    jp_status st = jp_eval_fid(t, &fo, &r, err);
    if (st) return st;
    if (r.has_inception) {
        const jp_fid_scores *s = &r.inception;
        printf("Inception FID %.4f, KID %.5f +- %.5f", s->fid, s->kid_mean, s->kid_std);
        if (s->has_is) printf(", IS %.3f +- %.3f", s->is_mean, s->is_std);
        printf(" (%d %s samples vs %d images of %s)\n", r.n, r.source, r.reference_n, r.reference);
    }
    if (r.has_classifier)
        printf("classifier-feature FID %.4f, KID %.5f +- %.5f over %s features (%d-d) -- NOT comparable to Inception "
               "FID (%d %s samples vs %d images of %s)\n", r.classifier.fid, r.classifier.kid_mean,
               r.classifier.kid_std, o->feature_ckpt, r.classifier.dim, r.n, r.source, r.reference_n, r.reference);
    return JP_OK;
}

jp_status ev_run_mode(const ev_opts *o, const jp_eval_target *t, jp_error *err)
{
    switch ((ev_mode)o->mode) {
    case EV_TEST_CLF:
    case EV_PREDICT:
    case EV_CALI: return run_clf(o, t, err);
    case EV_OOD: return run_ood(o, t, err);
    case EV_SAMPLES: return run_samples(o, t, err);
    case EV_ATTACK: return run_attack(o, t, err);
    case EV_FID: return run_fid(o, t, err);
    }
    return jp_fail(err, JP_ERR_ARG, "unknown mode %d", o->mode);
}
