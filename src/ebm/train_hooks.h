/* Testing aids of the trainer, outside the public API: a run with a NaN loss or a
 * firing gap detector at a chosen iteration, to test the rollback paths
 * (tests/test_train_resume.c, `jempp train --inject_nan_iter/--inject_gap_iter`).
 * Not part of config.json: a resumed run gets them again only when asked. Internal
 * header. */
#ifndef JEMPP_TRAIN_HOOKS_H
#define JEMPP_TRAIN_HOOKS_H

#include <stdint.h>

#include "jempp/train.h"

typedef struct {
    int64_t nan_iter; /* poison the loss once at this iteration (0: never) */
    int64_t gap_iter; /* the gap detector fires once at this iteration (0: never) */
} jp_train_hooks;

/* jp_train_run with hooks (NULL: none). */
jp_status jp_train_run_hooked(const jp_train_config *c, const jp_train_hooks *hooks, jp_train_result *res,
                              jp_error *err);

#endif
