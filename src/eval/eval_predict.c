/* jempp eval --mode predict as a library function: per image of a split its label, the
 * prediction, the energy, log p(y|x) and the logits; predict.csv and predict.json. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval_out.h"

void jp_predict_result_free(jp_predict_result *r)
{
    free(r->label);
    free(r->pred);
    free(r->energy);
    free(r->logp_y);
    free(r->logits);
    memset(r, 0, sizeof *r);
}

static jp_status write_csv(const jp_eval_target *t, const jp_predict_result *r, jp_error *err)
{
    int K = r->n_classes;
    char path[1100];
    ev_path(t, path, sizeof path, "predict.csv");
    FILE *f = fopen(path, "w");
    if (!f) return jp_fail(err, JP_ERR_IO, "cannot write %s: %s", path, strerror(errno));
    fprintf(f, "index,label,pred,energy,logp_y_given_x");
    for (int k = 0; k < K; k++) fprintf(f, ",logit_%d", k);
    fprintf(f, "\n");
    for (int i = 0; i < r->n; i++) {
        fprintf(f, "%d,%d,%d,%.9g,%.9g", i, r->label[i], r->pred[i], r->energy[i], r->logp_y[i]);
        for (int k = 0; k < K; k++) fprintf(f, ",%.9g", (double)r->logits[(size_t)i * K + k]);
        fprintf(f, "\n");
    }
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) return jp_fail(err, JP_ERR_IO, "cannot write %s", path);
    return JP_OK;
}

static jp_status write_json(const jp_eval_target *t, const jp_clf_opts *o, const jp_predict_result *r, jp_error *err)
{
    jp_jw w;
    ev_json_begin(t, &w, "predict");
    ev_json_dataset(t, &w);
    ev_json_inputs(&w, &o->input);
    jp_jw_key(&w, "accuracy");
    jp_jw_double(&w, r->accuracy);
    jp_jw_key(&w, "csv");
    jp_jw_string(&w, "predict.csv");
    jp_jw_key(&w, "columns");
    jp_jw_string(&w, "index (in the split), label, pred (argmax), energy (-log p(x): -logsumexp of the logits, "
                     "or minus the energy head of an --uncond model), "
                     "logp_y_given_x (log softmax of the true label), logit_0..logit_{K-1}");
    return ev_json_save(t, &w, "predict.json", err);
}

jp_status jp_eval_predict(const jp_eval_target *t, const jp_clf_opts *o, jp_predict_result *r, jp_error *err)
{
    memset(r, 0, sizeof *r);
    float *logits = NULL;
    int n = 0, K = jp_wrn_config_of(t->model)->n_classes;
    jp_status st = ev_split_logits(t, &o->input, &logits, &n, err);
    if (st) return st;
    r->n = n;
    r->n_classes = K;
    r->logits = logits; /* (n, K), then log p(x) (n) */
    r->label = malloc((size_t)n * sizeof(int));
    r->pred = malloc((size_t)n * sizeof(int));
    r->energy = malloc((size_t)n * sizeof(double));
    r->logp_y = malloc((size_t)n * sizeof(double));
    if (!r->label || !r->pred || !r->energy || !r->logp_y) {
        jp_predict_result_free(r);
        return jp_fail(err, JP_ERR_NOMEM, "predictions of %d images", n);
    }
    int correct = 0;
    for (int i = 0; i < n; i++) {
        const float *l = logits + (size_t)i * K;
        int y = t->split->y[i];
        double lse = ev_lse(l, K, &r->pred[i], NULL);
        r->label[i] = y;
        /* energy E = -log p(x) (-LSE, or the energy head of an --uncond model);
         * log p(y|x) = f(x)[y] - LSE for the true label y */
        r->energy[i] = -(double)logits[(size_t)n * K + i];
        r->logp_y[i] = l[y] - lse;
        correct += r->pred[i] == y;
    }
    r->accuracy = (double)correct / n;
    if (t->out) st = write_csv(t, r, err);
    if (!st && t->out) st = write_json(t, o, r, err);
    if (st) jp_predict_result_free(r);
    return st;
}
