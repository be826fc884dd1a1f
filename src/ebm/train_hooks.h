/* Testing aids of the trainer, outside the public API: a run with a NaN loss or a
 * firing gap detector at a chosen iteration, to test the rollback paths
 * (tests/test_train_resume.c, `jempp train --inject_nan_iter/--inject_gap_iter`), and
 * a step's random inputs given from outside (tests/test_train_step.c, which runs the
 * iteration against a PyTorch transcription of the authors' loop).
 * Not part of config.json: a resumed run gets them again only when asked. Internal
 * header. */
#ifndef JEMPP_TRAIN_HOOKS_H
#define JEMPP_TRAIN_HOOKS_H

#include <stdint.h>

#include "jempp/train.h"

/* What a training iteration otherwise draws from its loaders and its generator. B is
 * the batch size, D the image size c*h*w. */
typedef struct {
    void *ctx;
    /* The p(x) batch (labelled 0; y may be NULL) or the labelled batch (1): x (B x D), y (B). */
    void (*batch)(void *ctx, int labelled, float *x, int *y);
    /* The classes of the chains of --class_cond_p_x_sample (B). */
    void (*chain_classes)(void *ctx, int *y);
    /* A draw of B chains from the replay buffer, for the p(x) term (pxy 0) or the p(x|y)
     * term (1): the slots idx (B) and, where fresh[i] != 0, the fresh start of chain i in
     * x (B x D), which then replaces slot idx[i]'s content. */
    void (*chains)(void *ctx, int pxy, int *idx, int *fresh, float *x);
} jp_step_feed;

typedef struct {
    const jp_step_feed *feed; /* NULL: the loaders and the generator draw, as in a run */
    int64_t nan_iter; /* poison the loss once at this iteration (0: never) */
    int64_t gap_iter; /* the gap detector fires once at this iteration (0: never) */
} jp_train_hooks;

/* jp_train_run with hooks (NULL: none). */
jp_status jp_train_run_hooked(const jp_train_config *c, const jp_train_hooks *hooks, jp_train_result *res,
                              jp_error *err);

#endif
