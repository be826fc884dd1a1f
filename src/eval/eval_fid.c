/* jempp eval --mode fid as a library function: FID, KID and Inception Score of the checkpoint's samples (replay
 * buffer, or chains from scratch) against a reference data set, with the reference's
 * selection (classify the samples, keep the most confident per predicted class).
 * Features: Inception-v3 pool3 (--inception_weights) and/or the penultimate layer of a
 * jempp classifier (--feature_ckpt; a different feature space, NOT comparable to
 * Inception FID numbers). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval_out.h"
#include "jempp/checkpoint.h"
#include "jempp/inception.h"
#include "jempp/metrics.h"
#include "jempp/png.h"

#define WEIGHTS_HINT                                                                                                   \
    "Inception FID needs the standard FID Inception-v3 weights (pt_inception-2015-12-05) converted to safetensors "   \
    "with tools/convert_inception.py: see docs/evaluation.md, section \"FID weights\". For a FID without them, use "  \
    "--feature_ckpt (a classifier-feature FID, not comparable to Inception FID)"

/* A feature extractor: Inception-v3 or a jempp classifier's penultimate layer. */
typedef struct {
    jp_inception *inc;
    int inc_batch;
    jp_wrn *clf;
    int dim;
    int n_classes; /* Inception classes (1008 for the real weights; 0 without logits) */
} extractor;

/* feats (n, dim) of x (n, C, H, W); with probs != NULL also the Inception softmax rows
 * (n, n_classes). */
static jp_status extract(const jp_eval_target *t, extractor *e, const float *x, int n, float *feats, float *probs,
                         jp_error *err)
{
    const jp_wrn_config *cfg = jp_wrn_config_of(t->model);
    int C = cfg->in_channels, H = cfg->image_size, dim = C * H * H;
    if (e->clf) return jp_eval_features(e->clf, x, n, feats, err);
    for (int at = 0; at < n; at += e->inc_batch) {
        int nb = n - at < e->inc_batch ? n - at : e->inc_batch;
        jp_status st = jp_inception_features(e->inc, feats + (size_t)at * e->dim, x + (size_t)at * dim, nb, C, H, H,
                                             err);
        if (st) return st;
        const float *p = jp_inception_probs(e->inc);
        if (probs && p) memcpy(probs + (size_t)at * e->n_classes, p, (size_t)nb * e->n_classes * sizeof(float));
        if (n > 10 * e->inc_batch && (at / e->inc_batch) % 20 == 0) ev_log(t, "  inception %d/%d\n", at + nb, n);
    }
    return JP_OK;
}

/* The reference images: one split or train + valid + test ("all"), at most max_n. */
typedef struct {
    const float *x[3];
    int n[3], parts, total;
    char name[160];
} ref_images;

static void ref_pick(ref_images *r, const jp_data *d, int split, int max_n)
{
    const jp_dataset *sets[3] = {&d->test, &d->valid, &d->train};
    memset(r, 0, sizeof *r);
    int lo = split == 3 ? 0 : split, hi = split == 3 ? 2 : split;
    for (int s = lo; s <= hi; s++) {
        int left = max_n > 0 ? max_n - r->total : sets[s]->n;
        int k = sets[s]->n < left ? sets[s]->n : left;
        if (k <= 0) continue;
        r->x[r->parts] = sets[s]->x;
        r->n[r->parts++] = k;
        r->total += k;
    }
    snprintf(r->name, sizeof r->name, "%.32s (%.64s)", d->dataset, split == 3 ? "train+valid+test" : sets[split]->name);
}

/* FID and KID of samples vs the reference images under extractor e (and IS with Inception). */
static jp_status measure(const jp_eval_target *t, const jp_fid_opts *o, extractor *e, const float *xs, int ns,
                         const ref_images *r, jp_rng *rng, jp_fid_scores *out, jp_error *err)
{
    int d = e->dim;
    float *fs = malloc((size_t)ns * d * sizeof(float)), *fr = malloc((size_t)r->total * d * sizeof(float));
    double *mu1 = malloc((size_t)d * sizeof(double)), *mu2 = malloc((size_t)d * sizeof(double));
    double *s1 = malloc((size_t)d * d * sizeof(double)), *s2 = malloc((size_t)d * d * sizeof(double));
    float *probs = e->n_classes > 0 ? malloc((size_t)ns * e->n_classes * sizeof(float)) : NULL;
    jp_status st = JP_OK;
    memset(out, 0, sizeof *out);
    out->dim = d;
    if (!fs || !fr || !mu1 || !mu2 || !s1 || !s2 || (e->n_classes > 0 && !probs)) {
        st = jp_fail(err, JP_ERR_NOMEM, "features of %d samples and %d reference images (%d-d)", ns, r->total, d);
        goto done;
    }
    ev_log(t, "features of %d samples\n", ns);
    st = extract(t, e, xs, ns, fs, probs, err);
    ev_log(t, "features of %d reference images\n", r->total);
    for (int p = 0, at = 0; p < r->parts && !st; at += r->n[p], p++)
        st = extract(t, e, r->x[p], r->n[p], fr + (size_t)at * d, NULL, err);
    if (!st) st = jp_feature_stats(mu1, s1, fs, ns, d, err);
    if (!st) st = jp_feature_stats(mu2, s2, fr, r->total, d, err);
    if (!st) st = jp_frechet_distance(mu1, s1, mu2, s2, d, &out->fid, err);
    if (!st) st = jp_kid(fs, ns, fr, r->total, d, o->kid_subsets, o->kid_subset_size, rng, &out->kid_mean,
                         &out->kid_std, err);
    if (!st && e->n_classes > 0) {
        st = jp_inception_score(probs, ns, e->n_classes, o->is_splits, &out->is_mean, &out->is_std, err);
        out->has_is = !st;
    }
done:
    free(fs);
    free(fr);
    free(mu1);
    free(mu2);
    free(s1);
    free(s2);
    free(probs);
    return st;
}

/* The reference's selection: per predicted class keep the most confident samples, a
 * fraction r (< 1) of the class or r of them (>= 1). Compacts x in place; returns the
 * number kept. */
static jp_status select_confident(const jp_eval_target *t, float *x, int *n, double r, jp_rng *rng, jp_error *err)
{
    const jp_wrn_config *cfg = jp_wrn_config_of(t->model);
    int K = cfg->n_classes, nn = *n, dim = cfg->in_channels * cfg->image_size * cfg->image_size;
    float *logits = malloc((size_t)nn * K * sizeof(float));
    double *conf = malloc((size_t)nn * sizeof(double));
    int *pred = malloc((size_t)nn * sizeof(int)), *keep = calloc((size_t)nn, sizeof(int));
    jp_status st = JP_OK;
    if (!logits || !conf || !pred || !keep) {
        st = jp_fail(err, JP_ERR_NOMEM, "sample selection");
        goto done;
    }
    st = jp_eval_logits(t->model, x, nn, NULL, logits, NULL, rng, err);
    if (st) goto done;
    for (int i = 0; i < nn; i++) ev_lse(logits + (size_t)i * K, K, &pred[i], &conf[i]); /* conf = max softmax */
    for (int k = 0; k < K; k++) {
        int cnt = 0;
        for (int i = 0; i < nn; i++) cnt += pred[i] == k;
        int top = r < 1 ? (int)(cnt * r) : (int)r;
        top = top < cnt ? top : cnt;
        /* top picks: repeatedly the most confident not yet kept (top <= class size) */
        for (int t = 0; t < top; t++) {
            int best = -1;
            for (int i = 0; i < nn; i++)
                if (pred[i] == k && !keep[i] && (best < 0 || conf[i] > conf[best])) best = i;
            keep[best] = 1;
        }
    }
    int m = 0;
    for (int i = 0; i < nn; i++)
        if (keep[i]) memmove(x + (size_t)m++ * dim, x + (size_t)i * dim, (size_t)dim * sizeof(float));
    *n = m;
    if (m < 2) st = jp_fail(err, JP_ERR_ARG, "--select %g kept %d samples: too few for a FID", r, m);
done:
    free(logits);
    free(conf);
    free(pred);
    free(keep);
    return st;
}

/* Samples: the replay buffer, fresh chains, or (the floor to read the others against)
 * real images of the target's split; clamped to [-1, 1], selected. */
static jp_status get_samples(const jp_eval_target *t, const jp_fid_opts *o, float **xs, int *ns, const char **source,
                             jp_rng *rng, jp_error *err)
{
    const jp_wrn_config *cfg = jp_wrn_config_of(t->model);
    int dim = cfg->in_channels * cfg->image_size * cfg->image_size;
    int from_buffer = o->source == JP_FID_BUFFER || (o->source == JP_FID_AUTO && t->buffer);
    if (o->source == JP_FID_BUFFER && !t->buffer)
        return jp_fail(err, JP_ERR_ARG, "%s has no replay_buffer tensor: use --fid_source scratch", t->ckpt);
    jp_status st = JP_OK;
    if (o->source == JP_FID_DATA) {
        *source = "data";
        st = ev_split(t, 0, err);
        if (st) return st;
        int n = ev_count(t, t->split);
        *ns = n < o->n_fid ? n : o->n_fid;
        if (*ns < 2) return jp_fail(err, JP_ERR_ARG, "--fid_source data: %d images (--n_fid, --max_n): need 2", *ns);
        *xs = jp_alloc((size_t)*ns * dim * sizeof(float));
        if (!*xs) return jp_fail(err, JP_ERR_NOMEM, "samples");
        memcpy(*xs, t->split->x, (size_t)*ns * dim * sizeof(float));
    } else if (from_buffer) {
        *source = "replay_buffer";
        *ns = t->buffer_n;
        *xs = jp_alloc((size_t)*ns * dim * sizeof(float));
        if (!*xs) return jp_fail(err, JP_ERR_NOMEM, "samples");
        memcpy(*xs, t->buffer, (size_t)*ns * dim * sizeof(float));
    } else {
        *source = "scratch";
        if (o->n_fid < 2) return jp_fail(err, JP_ERR_ARG, "--n_fid %d: need at least 2 samples", o->n_fid);
        ev_chains ch;
        st = ev_chains_init(&ch, t, &o->chains, err);
        *ns = o->n_fid;
        *xs = st ? NULL : jp_alloc((size_t)*ns * dim * sizeof(float));
        if (!st && !*xs) st = jp_fail(err, JP_ERR_NOMEM, "samples");
        if (!st) {
            ev_log(t, "%d chains from scratch, %d steps\n", *ns, ch.ch.sc.n_steps);
            st = jp_chains_run(t->model, &ch.ch, *xs, NULL, *ns, rng, NULL, NULL, 0, err);
        }
        ev_chains_free(&ch);
        if (st) return st;
    }
    size_t cnt = (size_t)*ns * dim;
    for (size_t i = 0; i < cnt; i++) (*xs)[i] = (*xs)[i] < -1 ? -1 : (*xs)[i] > 1 ? 1 : (*xs)[i];
    if (o->select > 0) {
        int before = *ns;
        st = select_confident(t, *xs, ns, o->select, rng, err);
        ev_log(t, "selection %g: kept %d of %d samples\n", (double)o->select, *ns, before);
    }
    return st;
}

static void json_result(jp_jw *w, const char *key, const jp_fid_scores *r, const char *features, const char *note)
{
    jp_jw_key(w, key);
    jp_jw_begin_object(w);
    jp_jw_key(w, "features");
    jp_jw_string(w, features);
    jp_jw_key(w, "dim");
    jp_jw_int(w, r->dim);
    jp_jw_key(w, "fid");
    jp_jw_double(w, r->fid);
    jp_jw_key(w, "kid_mean");
    jp_jw_double(w, r->kid_mean);
    jp_jw_key(w, "kid_std");
    jp_jw_double(w, r->kid_std);
    if (r->has_is) {
        jp_jw_key(w, "inception_score_mean");
        jp_jw_double(w, r->is_mean);
        jp_jw_key(w, "inception_score_std");
        jp_jw_double(w, r->is_std);
    }
    if (note) {
        jp_jw_key(w, "note");
        jp_jw_string(w, note);
    }
    jp_jw_end_object(w);
}

void jp_fid_opts_defaults(jp_fid_opts *o)
{
    memset(o, 0, sizeof *o);
    o->inception_batch = 50;
    o->n_fid = 10000;
    jp_eval_chains_opts_defaults(&o->chains);
    o->ref_split = 3;
    o->kid_subsets = 100;
    o->kid_subset_size = 1000;
    o->is_splits = 10;
}

/* The feature extractors of o: Inception-v3 and/or the classifier of feature_ckpt. */
static jp_status open_extractors(const jp_eval_target *t, const jp_fid_opts *o, extractor *inc, extractor *clf,
                                 jp_error *err)
{
    const jp_wrn_config *cfg = jp_wrn_config_of(t->model);
    if (o->inception_weights && o->inception_weights[0]) {
        FILE *f = fopen(o->inception_weights, "rb");
        if (!f)
            return jp_fail(err, JP_ERR_IO, "--inception_weights %s: %s. " WEIGHTS_HINT, o->inception_weights,
                           strerror(errno));
        fclose(f);
        inc->inc_batch = o->inception_batch;
        jp_status st = jp_inception_load(&inc->inc, o->inception_weights, o->inception_batch, err);
        if (st) return st;
        inc->dim = jp_inception_feature_dim(inc->inc);
        inc->n_classes = jp_inception_n_classes(inc->inc);
        if (inc->dim != 2048)
            ev_log(t, "note: %s gives %d-d features, not the 2048 of the FID Inception weights: this FID is not "
                   "comparable to published ones\n", o->inception_weights, inc->dim);
    }
    if (o->feature_ckpt && o->feature_ckpt[0]) {
        jp_status st = jp_ckpt_open_model(o->feature_ckpt, jp_wrn_batch(t->model), &clf->clf, err);
        if (st) return st;
        const jp_wrn_config *fc = jp_wrn_config_of(clf->clf);
        if (fc->in_channels != cfg->in_channels || fc->image_size != cfg->image_size)
            return jp_fail(err, JP_ERR_SHAPE, "--feature_ckpt %s expects %dx%dx%d images, the samples are %dx%dx%d",
                           o->feature_ckpt, fc->in_channels, fc->image_size, fc->image_size, cfg->in_channels,
                           cfg->image_size, cfg->image_size);
        clf->dim = jp_wrn_feature_dim(clf->clf);
    }
    return JP_OK;
}

/* The reference images of o, checked against the model's image shape. */
static jp_status open_reference(const jp_eval_target *t, const jp_fid_opts *o, jp_data *rd, ref_images *ref,
                                jp_error *err)
{
    const jp_wrn_config *cfg = jp_wrn_config_of(t->model);
    int own = !(o->ref_dataset && o->ref_dataset[0]);
    jp_data_config dc = jp_data_config_defaults();
    dc.dataset = own ? t->dataset : o->ref_dataset;
    /* the reference set's folder: ref_data_root, else the target's when it is the same data set */
    const char *root = !own || (o->ref_data_root && o->ref_data_root[0]) ? o->ref_data_root : t->data_root;
    dc.data_root = root && root[0] ? root : NULL;
    dc.n_valid = o->ref_split == 1 ? t->n_valid : 0;
    jp_status st = jp_data_open(rd, &dc, err);
    if (st) return st;
    ref_pick(ref, rd, o->ref_split, o->ref_max_n);
    const jp_dataset *tr = &rd->train;
    if (ref->total < 2)
        st = jp_fail(err, JP_ERR_ARG, "reference %s holds %d images: need at least 2", ref->name, ref->total);
    else if (tr->c != cfg->in_channels || tr->h != cfg->image_size || tr->w != cfg->image_size)
        st = jp_fail(err, JP_ERR_SHAPE, "reference %s has %dx%dx%d images, the checkpoint %s %dx%dx%d", ref->name,
                     tr->c, tr->h, tr->w, t->ckpt, cfg->in_channels, cfg->image_size, cfg->image_size);
    if (st) jp_data_close(rd);
    return st;
}

static jp_status write_json(const jp_eval_target *t, const jp_fid_opts *o, const jp_fid_result *r, jp_error *err)
{
    jp_jw w;
    ev_json_begin(t, &w, "fid");
    jp_jw_key(&w, "samples");
    jp_jw_begin_object(&w);
    jp_jw_key(&w, "source");
    jp_jw_string(&w, r->source);
    if (t->split) {
        jp_jw_key(&w, "images");
        jp_jw_string(&w, t->split->name);
    }
    jp_jw_key(&w, "n");
    jp_jw_int(&w, r->n);
    jp_jw_key(&w, "select");
    ev_json_float(&w, o->select);
    jp_jw_end_object(&w);
    jp_jw_key(&w, "reference");
    jp_jw_begin_object(&w);
    jp_jw_key(&w, "name");
    jp_jw_string(&w, r->reference);
    jp_jw_key(&w, "n");
    jp_jw_int(&w, r->reference_n);
    jp_jw_end_object(&w);
    jp_jw_key(&w, "kid_subsets");
    jp_jw_int(&w, o->kid_subsets);
    jp_jw_key(&w, "kid_subset_size");
    jp_jw_int(&w, o->kid_subset_size);
    if (r->has_inception)
        json_result(&w, "inception", &r->inception, "Inception-v3 pool3 (FID Inception weights)", NULL);
    char note[700];
    snprintf(note, sizeof note, "classifier-feature FID over the penultimate layer of %.500s: NOT comparable to "
             "Inception FID", o->feature_ckpt);
    if (r->has_classifier) json_result(&w, "classifier_features", &r->classifier, o->feature_ckpt, note);
    return ev_json_save(t, &w, "fid.json", err);
}

jp_status jp_eval_fid(const jp_eval_target *t, const jp_fid_opts *o, jp_fid_result *r, jp_error *err)
{
    memset(r, 0, sizeof *r);
    r->source = "";
    int have_inc = o->inception_weights && o->inception_weights[0], have_clf = o->feature_ckpt && o->feature_ckpt[0];
    if (!have_inc && !have_clf)
        return jp_fail(err, JP_ERR_ARG, "fid needs --inception_weights FILE and/or --feature_ckpt FILE. " WEIGHTS_HINT);
    if (o->kid_subsets < 1 || o->kid_subset_size < 2 || o->is_splits < 1 || o->inception_batch < 1 || o->select < 0)
        return jp_fail(err, JP_ERR_ARG, "--kid_subsets >= 1, --kid_subset_size >= 2, --is_splits >= 1, "
                       "--inception_batch >= 1 and --select >= 0 are required");
    extractor inc = {0}, clf = {0};
    float *xs = NULL;
    jp_data rd;
    int rd_open = 0;
    ref_images ref;
    jp_rng rng;
    jp_rng_seed(&rng, t->seed);
    jp_status st = open_extractors(t, o, &inc, &clf, err);
    if (!st) {
        st = open_reference(t, o, &rd, &ref, err);
        rd_open = !st;
    }
    if (!st) st = get_samples(t, o, &xs, &r->n, &r->source, &rng, err); /* after the checks: sampling may take long */
    if (!st && t->out) {
        const jp_wrn_config *cfg = jp_wrn_config_of(t->model);
        char path[1100];
        int ng = r->n < 100 ? r->n : 100;
        st = jp_png_write_grid(ev_path(t, path, sizeof path, "fid_samples.png"), xs, ng, cfg->in_channels,
                               cfg->image_size, cfg->image_size, 10, err);
    }
    if (!st) {
        snprintf(r->reference, sizeof r->reference, "%s", ref.name);
        r->reference_n = ref.total;
    }
    if (!st && inc.inc) {
        st = measure(t, o, &inc, xs, r->n, &ref, &rng, &r->inception, err);
        r->has_inception = !st;
    }
    if (!st && clf.clf) {
        st = measure(t, o, &clf, xs, r->n, &ref, &rng, &r->classifier, err);
        r->has_classifier = !st;
    }
    if (!st && t->out) st = write_json(t, o, r, err);
    if (rd_open) jp_data_close(&rd);
    jp_free(xs);
    if (inc.inc) jp_inception_free(inc.inc);
    jp_wrn_free(clf.clf);
    return st;
}
