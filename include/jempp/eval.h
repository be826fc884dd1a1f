/* Evaluation of a trained JEM: classification metrics and energies over data sets. */
#ifndef JEMPP_EVAL_H
#define JEMPP_EVAL_H

#include "jempp/core.h"
#include "jempp/data.h"
#include "jempp/wrn.h"

typedef struct {
    double acc, loss;   /* accuracy and mean cross-entropy */
    double mean_lse;    /* mean log p(x) = -E(x): LSE of the logits (the energy head for --uncond) */
    int n;
} jp_clf_metrics;

/* Eval-mode pass over ds (batches of the model's batch size, last one partial).
 * confusion (K*K, row = true class) is filled when not NULL. */
jp_status jp_eval_classifier(jp_wrn *m, const jp_dataset *ds, jp_clf_metrics *out, int64_t *confusion,
                             jp_error *err);

#endif
