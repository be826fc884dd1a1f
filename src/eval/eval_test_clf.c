/* jempp eval --mode test_clf as a library function: accuracy, mean cross-entropy, mean
 * energy, per-class accuracy and the confusion matrix of the classifier on a split;
 * test_clf.json, confusion.png and per_class_accuracy.png. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval_out.h"
#include "jempp/plot.h"

void jp_clf_opts_defaults(jp_clf_opts *o)
{
    jp_input_opts_defaults(&o->input);
    o->bins = 20;
}

void jp_test_clf_result_free(jp_test_clf_result *r)
{
    free(r->confusion);
    free(r->class_n);
    free(r->class_accuracy);
    memset(r, 0, sizeof *r);
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

static jp_status write_files(const jp_eval_target *t, const jp_clf_opts *o, const jp_test_clf_result *r,
                             jp_error *err)
{
    int K = r->n_classes;
    jp_jw w;
    ev_json_begin(t, &w, "test_clf");
    ev_json_dataset(t, &w);
    ev_json_inputs(&w, &o->input);
    jp_jw_key(&w, "accuracy");
    jp_jw_double(&w, r->accuracy);
    jp_jw_key(&w, "loss");
    jp_jw_double(&w, r->loss);
    jp_jw_key(&w, "mean_energy");
    jp_jw_double(&w, r->mean_energy);
    jp_jw_key(&w, "classes");
    jp_jw_begin_array(&w);
    for (int k = 0; k < K; k++) {
        char nm[64];
        jp_jw_begin_object(&w);
        jp_jw_key(&w, "index");
        jp_jw_int(&w, k);
        jp_jw_key(&w, "name");
        jp_jw_string(&w, ev_class_name(t->split, k, nm, sizeof nm));
        jp_jw_key(&w, "n");
        jp_jw_int(&w, r->class_n[k]);
        jp_jw_key(&w, "accuracy");
        jp_jw_double(&w, r->class_accuracy[k]);
        jp_jw_end_object(&w);
    }
    jp_jw_end_array(&w);
    jp_jw_key(&w, "confusion");
    jp_jw_begin_array(&w);
    for (int y = 0; y < K; y++) {
        jp_jw_begin_array(&w);
        for (int p = 0; p < K; p++) jp_jw_int(&w, r->confusion[(size_t)y * K + p]);
        jp_jw_end_array(&w);
    }
    jp_jw_end_array(&w);
    jp_jw_key(&w, "confusion_rows");
    jp_jw_string(&w, "true class; columns: predicted class");
    jp_status st = ev_json_save(t, &w, "test_clf.json", err);
    char path[1100];
    if (!st)
        st = confusion_png(ev_path(t, path, sizeof path, "confusion.png"), r->confusion, K, t->split, r->accuracy,
                           err);
    if (!st) {
        jp_plot_opts po = {"per-class accuracy (classes left to right)", "class / K", "accuracy", 800, 480, 0, 0,
                           1.05};
        st = jp_plot_bars(ev_path(t, path, sizeof path, "per_class_accuracy.png"), &po, r->class_accuracy, NULL, K,
                          err);
    }
    return st;
}

jp_status jp_eval_test_clf(const jp_eval_target *t, const jp_clf_opts *o, jp_test_clf_result *r, jp_error *err)
{
    memset(r, 0, sizeof *r);
    float *logits = NULL;
    int n = 0, K = jp_wrn_config_of(t->model)->n_classes;
    jp_status st = ev_split_logits(t, &o->input, &logits, &n, err);
    if (st) return st;
    r->n = n;
    r->n_classes = K;
    r->confusion = calloc((size_t)K * K, sizeof(int64_t));
    r->class_n = calloc((size_t)K, sizeof(int64_t));
    r->class_accuracy = calloc((size_t)K, sizeof(double));
    if (!r->confusion || !r->class_n || !r->class_accuracy) {
        free(logits);
        jp_test_clf_result_free(r);
        return jp_fail(err, JP_ERR_NOMEM, "confusion matrix");
    }
    double loss = 0, energy = 0;
    int correct = 0;
    for (int i = 0; i < n; i++) {
        const float *l = logits + (size_t)i * K;
        int p, y = t->split->y[i];
        double lse = ev_lse(l, K, &p, NULL);
        loss += lse - l[y];                             /* cross-entropy = LSE - f(x)[y] */
        energy += -(double)logits[(size_t)n * K + i]; /* E = -log p(x) */
        correct += p == y;
        r->confusion[(size_t)y * K + p]++;
    }
    free(logits);
    r->accuracy = (double)correct / n;
    r->loss = loss / n;
    r->mean_energy = energy / n;
    for (int k = 0; k < K; k++) {
        for (int p = 0; p < K; p++) r->class_n[k] += r->confusion[(size_t)k * K + p];
        r->class_accuracy[k] = r->class_n[k] ? (double)r->confusion[(size_t)k * K + k] / r->class_n[k] : NAN;
    }
    if (t->out) st = write_files(t, o, r, err);
    if (st) jp_test_clf_result_free(r);
    return st;
}
