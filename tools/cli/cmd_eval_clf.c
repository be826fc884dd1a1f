/* jempp eval modes on the classifier: test_clf (accuracy, per-class accuracy, confusion
 * matrix), predict (per-image CSV) and cali (ECE, NLL, reliability diagram). All three
 * classify inputs prepared as the reference's test_clf: + sigma N(0, 1), then n_steps
 * of SGLD (flags --sigma, --n_steps). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_eval.h"
#include "jempp/metrics.h"
#include "jempp/plot.h"

/* logits (n, K) of the chosen split, inputs prepared by --sigma / --n_steps, followed
 * in the same allocation by the model's log p(x) (n): energy = -log p(x). */
static jp_status split_logits(ev_ctx *c, float **logits, jp_error *err)
{
    jp_status st = ev_open_data(c, 1, 0, err);
    if (st) return st;
    *logits = malloc((size_t)c->n * (c->K + 1) * sizeof(float));
    if (!*logits) return jp_fail(err, JP_ERR_NOMEM, "logits of %d images", c->n);
    ev_log(c, "classifying %d images of %s (sigma %g, %d SGLD steps)\n", c->n, c->ds->name, (double)c->o.input.sigma,
           c->o.input.n_steps);
    st = jp_eval_logits(c->m, c->ds->x, c->n, &c->o.input, *logits, *logits + (size_t)c->n * c->K, &c->rng, err);
    if (st) {
        free(*logits);
        *logits = NULL;
    }
    return st;
}

static void json_inputs(const ev_ctx *c, jp_jw *w)
{
    jp_jw_key(w, "sigma");
    ev_json_float(w, c->o.input.sigma);
    jp_jw_key(w, "n_steps");
    jp_jw_int(w, c->o.input.n_steps);
    jp_jw_key(w, "sgld_lr");
    ev_json_float(w, c->o.input.sgld_lr);
    jp_jw_key(w, "sgld_std");
    ev_json_float(w, c->o.input.sgld_std);
}

/* A K x K heat map: cell (true t, predicted p) shaded by the fraction of class t
 * predicted as p (white 0 -> dark blue 1), counts written when the cells are large
 * enough, row labels = class names, column labels = class indices. */
static jp_status confusion_png(const char *path, const int64_t *conf, int K, const jp_dataset *ds, double acc,
                               jp_error *err)
{
    int cell = 640 / K;
    cell = cell < 6 ? 6 : cell > 64 ? 64 : cell;
    int label_w = 0;
    char name[32];
    for (int k = 0; k < K; k++) {
        char full[64];
        snprintf(name, sizeof name, "%d %.12s", k, ev_class_name(ds, k, full, sizeof full));
        int tw = jp_text_width(name, 1);
        label_w = tw > label_w ? tw : label_w;
    }
    if (cell < 9) label_w = 0;
    char title[96];
    snprintf(title, sizeof title, "confusion matrix, accuracy %.2f%%", 100.0 * acc);
    int left = 24 + label_w + 6, top = 32, W = left + K * cell + 16, H = top + K * cell + 40;
    int ts = jp_text_width(title, 2) + 16 <= W ? 2 : 1;
    W = W > jp_text_width(title, ts) + 16 ? W : jp_text_width(title, ts) + 16;
    jp_canvas cv;
    jp_rgb white = {255, 255, 255}, black = {0, 0, 0};
    jp_status st = jp_canvas_init(&cv, W, H, white, err);
    if (st) return st;
    jp_canvas_text(&cv, 8, 8, title, ts, black);
    jp_canvas_text_up(&cv, 4, top + K * cell / 2 + jp_text_width("true", 1) / 2, "true", 1, black);
    jp_canvas_text(&cv, left + K * cell / 2 - jp_text_width("predicted", 1) / 2, top + K * cell + 24, "predicted", 1,
                   black);
    for (int t = 0; t < K; t++) {
        int64_t row = 0;
        for (int p = 0; p < K; p++) row += conf[(size_t)t * K + p];
        for (int p = 0; p < K; p++) {
            int64_t v = conf[(size_t)t * K + p];
            double f = row ? (double)v / row : 0;
            /* white (f = 0) to dark blue (f = 1) */
            jp_rgb col = {(unsigned char)(255 - 225 * f), (unsigned char)(255 - 195 * f),
                          (unsigned char)(255 - 90 * f)};
            int x0 = left + p * cell, y0 = top + t * cell;
            jp_canvas_rect(&cv, x0, y0, x0 + cell - 1, y0 + cell - 1, col, 1);
            char num[24];
            snprintf(num, sizeof num, "%lld", (long long)v);
            if (jp_text_width(num, 1) + 2 <= cell && cell >= 10)
                jp_canvas_text(&cv, x0 + (cell - jp_text_width(num, 1)) / 2, y0 + (cell - jp_text_height(1)) / 2, num,
                               1, f > 0.5 ? white : black);
        }
        if (label_w) {
            char full[64];
            snprintf(name, sizeof name, "%d %.12s", t, ev_class_name(ds, t, full, sizeof full));
            jp_canvas_text(&cv, 24, top + t * cell + (cell - jp_text_height(1)) / 2, name, 1, black);
        }
        if (cell >= 9) {
            snprintf(name, sizeof name, "%d", t);
            jp_canvas_text(&cv, left + t * cell + (cell - jp_text_width(name, 1)) / 2, top + K * cell + 4, name, 1,
                           black);
        }
    }
    jp_canvas_rect(&cv, left - 1, top - 1, left + K * cell, top + K * cell, black, 0);
    st = jp_canvas_write_png(&cv, path, err);
    jp_canvas_free(&cv);
    return st;
}

jp_status ev_test_clf(ev_ctx *c, jp_error *err)
{
    float *logits = NULL;
    jp_status st = split_logits(c, &logits, err);
    if (st) return st;
    int K = c->K, n = c->n;
    int64_t *conf = calloc((size_t)K * K, sizeof(int64_t));
    double *pc = calloc((size_t)K, sizeof(double));
    if (!conf || !pc) {
        st = jp_fail(err, JP_ERR_NOMEM, "confusion matrix");
        goto done;
    }
    double loss = 0, energy = 0;
    int correct = 0;
    for (int i = 0; i < n; i++) {
        const float *l = logits + (size_t)i * K;
        int p = ev_argmax(l, K), y = c->ds->y[i];
        double s = 0;
        for (int k = 0; k < K; k++) s += exp((double)l[k] - l[p]);
        double lse = l[p] + log(s);
        loss += lse - l[y]; /* cross-entropy = LSE - f(x)[y] */
        energy += -(double)logits[(size_t)n * K + i]; /* E = -log p(x) */
        correct += p == y;
        conf[(size_t)y * K + p]++;
    }
    double acc = (double)correct / n;
    jp_jw w;
    ev_json_begin(c, &w, "test_clf");
    ev_json_dataset(c, &w);
    json_inputs(c, &w);
    jp_jw_key(&w, "accuracy");
    jp_jw_double(&w, acc);
    jp_jw_key(&w, "loss");
    jp_jw_double(&w, loss / n);
    jp_jw_key(&w, "mean_energy");
    jp_jw_double(&w, energy / n);
    jp_jw_key(&w, "classes");
    jp_jw_begin_array(&w);
    for (int k = 0; k < K; k++) {
        char nm[64];
        int64_t row = 0;
        for (int p = 0; p < K; p++) row += conf[(size_t)k * K + p];
        pc[k] = row ? (double)conf[(size_t)k * K + k] / row : NAN;
        jp_jw_begin_object(&w);
        jp_jw_key(&w, "index");
        jp_jw_int(&w, k);
        jp_jw_key(&w, "name");
        jp_jw_string(&w, ev_class_name(c->ds, k, nm, sizeof nm));
        jp_jw_key(&w, "n");
        jp_jw_int(&w, row);
        jp_jw_key(&w, "accuracy");
        jp_jw_double(&w, pc[k]);
        jp_jw_end_object(&w);
    }
    jp_jw_end_array(&w);
    jp_jw_key(&w, "confusion");
    jp_jw_begin_array(&w);
    for (int t = 0; t < K; t++) {
        jp_jw_begin_array(&w);
        for (int p = 0; p < K; p++) jp_jw_int(&w, conf[(size_t)t * K + p]);
        jp_jw_end_array(&w);
    }
    jp_jw_end_array(&w);
    jp_jw_key(&w, "confusion_rows");
    jp_jw_string(&w, "true class; columns: predicted class");
    st = ev_json_save(c, &w, "test_clf.json", err);
    char path[1100];
    if (!st) st = confusion_png(ev_path(c, path, sizeof path, "confusion.png"), conf, K, c->ds, acc, err);
    if (!st) {
        jp_plot_opts po = {"per-class accuracy (classes left to right)", "class / K", "accuracy", 800, 480, 0, 0,
                           1.05};
        st = jp_plot_bars(ev_path(c, path, sizeof path, "per_class_accuracy.png"), &po, pc, NULL, K, err);
    }
    if (!st)
        printf("test_clf %s: accuracy %.4f, loss %.4f over %d images\n", c->ds->name, acc, loss / n, n);
done:
    free(conf);
    free(pc);
    free(logits);
    return st;
}

jp_status ev_predict(ev_ctx *c, jp_error *err)
{
    float *logits = NULL;
    jp_status st = split_logits(c, &logits, err);
    if (st) return st;
    int K = c->K, n = c->n, correct = 0;
    char path[1100];
    ev_path(c, path, sizeof path, "predict.csv");
    FILE *f = fopen(path, "w");
    if (!f) {
        free(logits);
        return jp_fail(err, JP_ERR_IO, "cannot write %s: %s", path, strerror(errno));
    }
    fprintf(f, "index,label,pred,energy,logp_y_given_x");
    for (int k = 0; k < K; k++) fprintf(f, ",logit_%d", k);
    fprintf(f, "\n");
    for (int i = 0; i < n; i++) {
        const float *l = logits + (size_t)i * K;
        int p = ev_argmax(l, K), y = c->ds->y[i];
        double s = 0;
        for (int k = 0; k < K; k++) s += exp((double)l[k] - l[p]);
        double lse = l[p] + log(s);
        correct += p == y;
        /* energy E = -log p(x) (-LSE, or the energy head of an --uncond model);
         * log p(y|x) = f(x)[y] - LSE for the true label y */
        fprintf(f, "%d,%d,%d,%.9g,%.9g", i, y, p, -(double)logits[(size_t)n * K + i], l[y] - lse);
        for (int k = 0; k < K; k++) fprintf(f, ",%.9g", (double)l[k]);
        fprintf(f, "\n");
    }
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) st = jp_fail(err, JP_ERR_IO, "cannot write %s", path);
    free(logits);
    if (st) return st;
    jp_jw w;
    ev_json_begin(c, &w, "predict");
    ev_json_dataset(c, &w);
    json_inputs(c, &w);
    jp_jw_key(&w, "accuracy");
    jp_jw_double(&w, (double)correct / n);
    jp_jw_key(&w, "csv");
    jp_jw_string(&w, "predict.csv");
    jp_jw_key(&w, "columns");
    jp_jw_string(&w, "index (in the split), label, pred (argmax), energy (-log p(x): -logsumexp of the logits, "
                     "or minus the energy head of an --uncond model), "
                     "logp_y_given_x (log softmax of the true label), logit_0..logit_{K-1}");
    st = ev_json_save(c, &w, "predict.json", err);
    if (!st) printf("predict %s: %d rows written to %s (accuracy %.4f)\n", c->ds->name, n, path, (double)correct / n);
    return st;
}

jp_status ev_cali(ev_ctx *c, jp_error *err)
{
    if (c->o.bins < 1 || c->o.bins > 10000) return jp_fail(err, JP_ERR_ARG, "--bins %d: must be 1..10000", c->o.bins);
    float *logits = NULL;
    jp_status st = split_logits(c, &logits, err);
    if (st) return st;
    jp_calibration cal;
    st = jp_calibrate(&cal, logits, c->ds->y, c->n, c->K, c->o.bins, err);
    free(logits);
    if (st) return st;
    jp_jw w;
    ev_json_begin(c, &w, "cali");
    ev_json_dataset(c, &w);
    json_inputs(c, &w);
    jp_jw_key(&w, "ece");
    jp_jw_double(&w, cal.ece);
    jp_jw_key(&w, "nll");
    jp_jw_double(&w, cal.nll);
    jp_jw_key(&w, "accuracy");
    jp_jw_double(&w, cal.acc);
    jp_jw_key(&w, "mean_confidence");
    jp_jw_double(&w, cal.mean_conf);
    jp_jw_key(&w, "n_bins");
    jp_jw_int(&w, cal.n_bins);
    jp_jw_key(&w, "bins");
    jp_jw_begin_array(&w);
    for (int b = 0; b < cal.n_bins; b++) {
        jp_jw_begin_object(&w);
        jp_jw_key(&w, "lower");
        jp_jw_double(&w, (double)b / cal.n_bins);
        jp_jw_key(&w, "upper");
        jp_jw_double(&w, (double)(b + 1) / cal.n_bins);
        jp_jw_key(&w, "count");
        jp_jw_int(&w, cal.bin_count[b]);
        jp_jw_key(&w, "accuracy");
        jp_jw_double(&w, cal.bin_acc[b]); /* null when empty */
        jp_jw_key(&w, "confidence");
        jp_jw_double(&w, cal.bin_conf[b]);
        jp_jw_end_object(&w);
    }
    jp_jw_end_array(&w);
    st = ev_json_save(c, &w, "cali.json", err);
    if (!st) {
        char title[96], path[1100];
        snprintf(title, sizeof title, "reliability: ECE %.2f%%, accuracy %.2f%%", 100 * cal.ece, 100 * cal.acc);
        jp_plot_opts po = {title, "confidence (max softmax)", "accuracy (bars); mean confidence (outlines)", 720, 720,
                           0, 0, 1};
        st = jp_plot_bars(ev_path(c, path, sizeof path, "reliability.png"), &po, cal.bin_acc, cal.bin_conf,
                          cal.n_bins, err);
    }
    if (!st)
        printf("cali %s: ECE %.4f (%d bins), NLL %.4f, accuracy %.4f over %d images\n", c->ds->name, cal.ece,
               cal.n_bins, cal.nll, cal.acc, c->n);
    jp_calibration_free(&cal);
    return st;
}
