/* Fast N(0, 1) draws for the augmentation noise (ziggurat; see normal.c). */
#ifndef JEMPP_DATA_NORMAL_H
#define JEMPP_DATA_NORMAL_H

#include <stddef.h>

#include "jempp/core.h"

/* One N(0, 1) value (53-bit resolution); deterministic given rng's state. Uses only
 * the xoshiro stream (jp_rng_u64, jp_rng_uniform), never the Box-Muller spare. */
double jp_zig_normal(jp_rng *rng);
/* x[k] += sigma * N(0, 1), k = 0..n-1, in order, two values per 64-bit draw (25-bit
 * resolution, ample for float noise); deterministic given rng's state. */
void jp_zig_add_normal(jp_rng *rng, float *x, size_t n, float sigma);
/* x[k] = N(0, 1): the same values jp_zig_add_normal would add with sigma 1. */
void jp_zig_fill_normal(jp_rng *rng, float *x, size_t n);
/* The constant tables, and their recomputation from the defining formulas (tests). */
const double *jp_zig_table_x(void); /* (129) layer edges */
const double *jp_zig_table_r(void); /* (128) x[i+1] / x[i] */
void jp_zig_tables_compute(double *x /* (129) */, double *r /* (128) */);

#endif
