/* Helpers of the tests that compare a jp_wrn with a PyTorch state_dict in a reference
 * file (tools/gen_*_ref.py): loading one into the model, comparing the running
 * statistics. */
#ifndef JEMPP_TESTUTIL_WRN_H
#define JEMPP_TESTUTIL_WRN_H

#include <stdint.h>

#include "jempp/safetensors.h"
#include "jempp/wrn.h"
#include "testutil.h"

/* A little-endian int64 at p (unaligned). */
int64_t tu_rd_i64(const void *p);
/* Copies the model's tensors from prefix+name: its parameters too when want_params,
 * always its running statistics and counters. A missing name is a failure only when
 * required. Returns the number of tensors copied, or -1 on a shape/dtype mismatch or a
 * required tensor missing (recorded as failures). Calls jp_wrn_params_changed. */
int tu_wrn_load(tu_ctx *t, jp_wrn *m, const jp_st_file *f, const char *prefix, int want_params, int required);
/* Checks the running statistics (|diff| <= atol + rtol |ref|) and the counters (equal)
 * against prefix+name; returns the largest |diff| of the statistics. */
double tu_wrn_check_stats(tu_ctx *t, jp_wrn *m, const jp_st_file *f, const char *prefix, const char *label,
                          double atol, double rtol);

#endif
