/* jempp eval --mode cali as a library function: calibration of the classifier on a
 * split (ECE over equal-width confidence bins, NLL; jp_calibrate has the math);
 * cali.json and the reliability diagram reliability.png. */
#include <stdio.h>
#include <stdlib.h>

#include "eval/eval_out.h"
#include "jempp/plot.h"

static jp_status write_files(const jp_eval_target *t, const jp_clf_opts *o, const jp_calibration *cal,
                             jp_error *err)
{
    jp_jw w;
    ev_json_begin(t, &w, "cali");
    ev_json_dataset(t, &w);
    ev_json_inputs(&w, &o->input);
    jp_jw_key(&w, "ece");
    jp_jw_double(&w, cal->ece);
    jp_jw_key(&w, "nll");
    jp_jw_double(&w, cal->nll);
    jp_jw_key(&w, "accuracy");
    jp_jw_double(&w, cal->acc);
    jp_jw_key(&w, "mean_confidence");
    jp_jw_double(&w, cal->mean_conf);
    jp_jw_key(&w, "n_bins");
    jp_jw_int(&w, cal->n_bins);
    jp_jw_key(&w, "bins");
    jp_jw_begin_array(&w);
    for (int b = 0; b < cal->n_bins; b++) {
        jp_jw_begin_object(&w);
        jp_jw_key(&w, "lower");
        jp_jw_double(&w, (double)b / cal->n_bins);
        jp_jw_key(&w, "upper");
        jp_jw_double(&w, (double)(b + 1) / cal->n_bins);
        jp_jw_key(&w, "count");
        jp_jw_int(&w, cal->bin_count[b]);
        jp_jw_key(&w, "accuracy");
        jp_jw_double(&w, cal->bin_acc[b]); /* null when empty */
        jp_jw_key(&w, "confidence");
        jp_jw_double(&w, cal->bin_conf[b]);
        jp_jw_end_object(&w);
    }
    jp_jw_end_array(&w);
    jp_status st = ev_json_save(t, &w, "cali.json", err);
    if (st) return st;
    char title[96], path[1100];
    snprintf(title, sizeof title, "reliability: ECE %.2f%%, accuracy %.2f%%", 100 * cal->ece, 100 * cal->acc);
    jp_plot_opts po = {title, "confidence (max softmax)", "accuracy (bars); mean confidence (outlines)", 720, 720, 0, 0,
                       1};
    return jp_plot_bars(ev_path(t, path, sizeof path, "reliability.png"), &po, cal->bin_acc, cal->bin_conf,
                        cal->n_bins, err);
}

jp_status jp_eval_cali(const jp_eval_target *t, const jp_clf_opts *o, jp_calibration *r, jp_error *err)
{
    if (o->bins < 1 || o->bins > 10000) return jp_fail(err, JP_ERR_ARG, "--bins %d: must be 1..10000", o->bins);
    float *logits = NULL;
    int n = 0;
    jp_status st = ev_split_logits(t, &o->input, &logits, &n, err);
    if (st) return st;
    st = jp_calibrate(r, logits, t->split->y, n, jp_wrn_config_of(t->model)->n_classes, o->bins, err);
    free(logits);
    if (st) return st;
    if (t->out) st = write_files(t, o, r, err);
    if (st) jp_calibration_free(r);
    return st;
}
