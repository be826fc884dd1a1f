/* jempp eval --mode fid: FID, KID and Inception Score of the checkpoint's samples (replay
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

#include "cmd_eval.h"
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
static jp_status extract(const ev_ctx *c, extractor *e, const float *x, int n, float *feats, float *probs,
                         jp_error *err)
{
    if (e->clf) return jp_eval_features(e->clf, x, n, feats, err);
    for (int at = 0; at < n; at += e->inc_batch) {
        int nb = n - at < e->inc_batch ? n - at : e->inc_batch;
        jp_status st = jp_inception_features(e->inc, feats + (size_t)at * e->dim, x + (size_t)at * c->dim, nb, c->C,
                                             c->H, c->W, err);
        if (st) return st;
        const float *p = jp_inception_probs(e->inc);
        if (probs && p) memcpy(probs + (size_t)at * e->n_classes, p, (size_t)nb * e->n_classes * sizeof(float));
        if (n > 10 * e->inc_batch && (at / e->inc_batch) % 20 == 0) ev_log(c, "  inception %d/%d\n", at + nb, n);
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

typedef struct {
    double fid, kid, kid_std, is, is_std;
    int has_is, dim;
} fid_result;

/* FID and KID of samples vs the reference images under extractor e (and IS with Inception). */
static jp_status measure(ev_ctx *c, extractor *e, const float *xs, int ns, const ref_images *r, fid_result *out,
                         jp_error *err)
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
    ev_log(c, "features of %d samples\n", ns);
    st = extract(c, e, xs, ns, fs, probs, err);
    ev_log(c, "features of %d reference images\n", r->total);
    for (int p = 0, at = 0; p < r->parts && !st; at += r->n[p], p++)
        st = extract(c, e, r->x[p], r->n[p], fr + (size_t)at * d, NULL, err);
    if (!st) st = jp_feature_stats(mu1, s1, fs, ns, d, err);
    if (!st) st = jp_feature_stats(mu2, s2, fr, r->total, d, err);
    if (!st) st = jp_frechet_distance(mu1, s1, mu2, s2, d, &out->fid, err);
    if (!st) st = jp_kid(fs, ns, fr, r->total, d, c->o.kid_subsets, c->o.kid_subset_size, &c->rng, &out->kid,
                         &out->kid_std, err);
    if (!st && e->n_classes > 0) {
        st = jp_inception_score(probs, ns, e->n_classes, c->o.is_splits, &out->is, &out->is_std, err);
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
static jp_status select_confident(ev_ctx *c, float *x, int *n, double r, jp_error *err)
{
    int K = c->K, nn = *n;
    float *logits = malloc((size_t)nn * K * sizeof(float));
    double *conf = malloc((size_t)nn * sizeof(double));
    int *pred = malloc((size_t)nn * sizeof(int)), *keep = calloc((size_t)nn, sizeof(int));
    jp_status st = JP_OK;
    if (!logits || !conf || !pred || !keep) {
        st = jp_fail(err, JP_ERR_NOMEM, "sample selection");
        goto done;
    }
    st = jp_eval_logits(c->m, x, nn, NULL, logits, NULL, &c->rng, err);
    if (st) goto done;
    for (int i = 0; i < nn; i++) {
        const float *l = logits + (size_t)i * K;
        pred[i] = ev_argmax(l, K);
        double s = 0;
        for (int k = 0; k < K; k++) s += exp((double)l[k] - l[pred[i]]);
        conf[i] = 1.0 / s;
    }
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
        if (keep[i]) memmove(x + (size_t)m++ * c->dim, x + (size_t)i * c->dim, (size_t)c->dim * sizeof(float));
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
 * real images of --dataset's --split; clamped to [-1, 1], selected. */
static jp_status get_samples(ev_ctx *c, float **xs, int *ns, const char **source, jp_error *err)
{
    const ev_opts *o = &c->o;
    int from_buffer = o->fid_source == EV_FID_BUFFER || (o->fid_source == EV_FID_AUTO && c->buffer);
    if (o->fid_source == EV_FID_BUFFER && !c->buffer)
        return jp_fail(err, JP_ERR_ARG, "%s has no replay_buffer tensor: use --fid_source scratch", c->ckpt_name);
    jp_status st = JP_OK;
    if (o->fid_source == EV_FID_DATA) {
        *source = "data";
        st = ev_open_data(c, 0, 0, err);
        if (st) return st;
        *ns = c->n < o->n_fid ? c->n : o->n_fid;
        if (*ns < 2) return jp_fail(err, JP_ERR_ARG, "--fid_source data: %d images (--n_fid, --max_n): need 2", *ns);
        *xs = jp_alloc((size_t)*ns * c->dim * sizeof(float));
        if (!*xs) return jp_fail(err, JP_ERR_NOMEM, "samples");
        memcpy(*xs, c->ds->x, (size_t)*ns * c->dim * sizeof(float));
    } else if (from_buffer) {
        *source = "replay_buffer";
        *ns = c->buffer_n;
        *xs = jp_alloc((size_t)*ns * c->dim * sizeof(float));
        if (!*xs) return jp_fail(err, JP_ERR_NOMEM, "samples");
        memcpy(*xs, c->buffer, (size_t)*ns * c->dim * sizeof(float));
    } else {
        *source = "scratch";
        if (o->n_fid < 2) return jp_fail(err, JP_ERR_ARG, "--n_fid %d: need at least 2 samples", o->n_fid);
        ev_chains ch;
        st = ev_chains_init(&ch, c, err);
        *ns = o->n_fid;
        *xs = st ? NULL : jp_alloc((size_t)*ns * c->dim * sizeof(float));
        if (!st && !*xs) st = jp_fail(err, JP_ERR_NOMEM, "samples");
        if (!st) {
            ev_log(c, "%d chains from scratch, %d steps\n", *ns, ch.sc.n_steps);
            st = ev_chains_run(&ch, c, *xs, NULL, *ns, NULL, NULL, 0, err);
        }
        ev_chains_free(&ch);
        if (st) return st;
    }
    size_t cnt = (size_t)*ns * c->dim;
    for (size_t i = 0; i < cnt; i++) (*xs)[i] = (*xs)[i] < -1 ? -1 : (*xs)[i] > 1 ? 1 : (*xs)[i];
    if (o->select > 0) {
        int before = *ns;
        st = select_confident(c, *xs, ns, o->select, err);
        ev_log(c, "selection %g: kept %d of %d samples\n", (double)o->select, *ns, before);
    }
    return st;
}

static void json_result(jp_jw *w, const char *key, const fid_result *r, const char *features, const char *note)
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
    jp_jw_double(w, r->kid);
    jp_jw_key(w, "kid_std");
    jp_jw_double(w, r->kid_std);
    if (r->has_is) {
        jp_jw_key(w, "inception_score_mean");
        jp_jw_double(w, r->is);
        jp_jw_key(w, "inception_score_std");
        jp_jw_double(w, r->is_std);
    }
    if (note) {
        jp_jw_key(w, "note");
        jp_jw_string(w, note);
    }
    jp_jw_end_object(w);
}

jp_status ev_fid(ev_ctx *c, jp_error *err)
{
    const ev_opts *o = &c->o;
    if (!o->inception_weights[0] && !o->feature_ckpt[0])
        return jp_fail(err, JP_ERR_ARG, "fid needs --inception_weights FILE and/or --feature_ckpt FILE. " WEIGHTS_HINT);
    if (o->kid_subsets < 1 || o->kid_subset_size < 2 || o->is_splits < 1 || o->inception_batch < 1 || o->select < 0)
        return jp_fail(err, JP_ERR_ARG, "--kid_subsets >= 1, --kid_subset_size >= 2, --is_splits >= 1, "
                       "--inception_batch >= 1 and --select >= 0 are required");
    extractor inc = {0}, clf = {0};
    jp_status st = JP_OK;
    if (o->inception_weights[0]) {
        FILE *f = fopen(o->inception_weights, "rb");
        if (!f) return jp_fail(err, JP_ERR_IO, "--inception_weights %s: %s. " WEIGHTS_HINT, o->inception_weights,
                               strerror(errno));
        fclose(f);
        inc.inc_batch = o->inception_batch;
        st = jp_inception_load(&inc.inc, o->inception_weights, o->inception_batch, err);
        if (st) return st;
        inc.dim = jp_inception_feature_dim(inc.inc);
        inc.n_classes = jp_inception_n_classes(inc.inc);
        if (inc.dim != 2048)
            ev_log(c, "note: %s gives %d-d features, not the 2048 of the FID Inception weights: this FID is not "
                   "comparable to published ones\n", o->inception_weights, inc.dim);
    }
    if (!st && o->feature_ckpt[0]) {
        st = jp_ckpt_open_model(o->feature_ckpt, o->batch_size, &clf.clf, err);
        if (!st) {
            const jp_wrn_config *fc = jp_wrn_config_of(clf.clf);
            if (fc->in_channels != c->C || fc->image_size != c->H)
                st = jp_fail(err, JP_ERR_SHAPE, "--feature_ckpt %s expects %dx%dx%d images, the samples are %dx%dx%d",
                             o->feature_ckpt, fc->in_channels, fc->image_size, fc->image_size, c->C, c->H, c->W);
            clf.dim = jp_wrn_feature_dim(clf.clf);
        }
    }
    float *xs = NULL;
    int ns = 0;
    const char *source = "";
    jp_data rd;
    int rd_open = 0;
    ref_images ref;
    if (!st) {
        const char *name = o->ref_dataset[0] ? o->ref_dataset : o->dataset;
        /* the reference set's folder: --ref_data_root, else --data_root when it is the same data set */
        const char *root = o->ref_dataset[0] || o->ref_data_root[0] ? o->ref_data_root : o->data_root;
        st = ev_open_other(&rd, name, root, o->ref_split == 1 ? o->n_valid : 0, err);
        rd_open = !st;
    }
    if (!st) {
        ref_pick(&ref, &rd, o->ref_split, o->ref_max_n);
        const jp_dataset *t = &rd.train;
        if (ref.total < 2)
            st = jp_fail(err, JP_ERR_ARG, "reference %s holds %d images: need at least 2", ref.name, ref.total);
        else if (t->c != c->C || t->h != c->H || t->w != c->W)
            st = jp_fail(err, JP_ERR_SHAPE, "reference %s has %dx%dx%d images, the checkpoint %s %dx%dx%d", ref.name,
                         t->c, t->h, t->w, c->ckpt_name, c->C, c->H, c->W);
    }
    if (!st) st = get_samples(c, &xs, &ns, &source, err); /* after the checks: sampling may take long */
    char path[1100];
    if (!st) {
        int ng = ns < 100 ? ns : 100;
        st = jp_png_write_grid(ev_path(c, path, sizeof path, "fid_samples.png"), xs, ng, c->C, c->H, c->W, 10, err);
    }
    fid_result ri = {0}, rc = {0};
    if (!st && inc.inc) st = measure(c, &inc, xs, ns, &ref, &ri, err);
    if (!st && clf.clf) st = measure(c, &clf, xs, ns, &ref, &rc, err);
    if (!st) {
        jp_jw w;
        ev_json_begin(c, &w, "fid");
        jp_jw_key(&w, "samples");
        jp_jw_begin_object(&w);
        jp_jw_key(&w, "source");
        jp_jw_string(&w, source);
        if (c->ds) {
            jp_jw_key(&w, "images");
            jp_jw_string(&w, c->ds->name);
        }
        jp_jw_key(&w, "n");
        jp_jw_int(&w, ns);
        jp_jw_key(&w, "select");
        ev_json_float(&w, o->select);
        jp_jw_end_object(&w);
        jp_jw_key(&w, "reference");
        jp_jw_begin_object(&w);
        jp_jw_key(&w, "name");
        jp_jw_string(&w, ref.name);
        jp_jw_key(&w, "n");
        jp_jw_int(&w, ref.total);
        jp_jw_end_object(&w);
        jp_jw_key(&w, "kid_subsets");
        jp_jw_int(&w, o->kid_subsets);
        jp_jw_key(&w, "kid_subset_size");
        jp_jw_int(&w, o->kid_subset_size);
        if (inc.inc) json_result(&w, "inception", &ri, "Inception-v3 pool3 (FID Inception weights)", NULL);
        char note[700];
        snprintf(note, sizeof note, "classifier-feature FID over the penultimate layer of %.500s: NOT comparable to "
                 "Inception FID", o->feature_ckpt);
        if (clf.clf) json_result(&w, "classifier_features", &rc, o->feature_ckpt, note);
        st = ev_json_save(c, &w, "fid.json", err);
    }
    if (!st && inc.inc) {
        printf("Inception FID %.4f, KID %.5f +- %.5f", ri.fid, ri.kid, ri.kid_std);
        if (ri.has_is) printf(", IS %.3f +- %.3f", ri.is, ri.is_std);
        printf(" (%d %s samples vs %d images of %s)\n", ns, source, ref.total, ref.name);
    }
    if (!st && clf.clf)
        printf("classifier-feature FID %.4f, KID %.5f +- %.5f over %s features (%d-d) -- NOT comparable to Inception "
               "FID (%d %s samples vs %d images of %s)\n", rc.fid, rc.kid, rc.kid_std, o->feature_ckpt, rc.dim, ns,
               source, ref.total, ref.name);
    if (rd_open) jp_data_close(&rd);
    jp_free(xs);
    if (inc.inc) jp_inception_free(inc.inc);
    jp_wrn_free(clf.clf);
    return st;
}
