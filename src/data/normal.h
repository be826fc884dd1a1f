/* Fast N(0, 1) draws for the augmentation noise (ziggurat; see normal.c). */
#ifndef JEMPP_DATA_NORMAL_H
#define JEMPP_DATA_NORMAL_H

#include <stddef.h>

#include "jempp/core.h"

/* One N(0, 1) value; deterministic given rng's state. Uses only jp_rng_u64 and
 * jp_rng_uniform (never the Box-Muller spare). */
double jp_zig_normal(jp_rng *rng);
/* x[k] += sigma * N(0, 1), k = 0..n-1, in order. */
void jp_zig_add_normal(jp_rng *rng, float *x, size_t n, float sigma);
/* The constant tables, and their recomputation from the defining formulas (tests). */
const double *jp_zig_table_x(void); /* (129) layer edges */
const double *jp_zig_table_r(void); /* (128) x[i+1] / x[i] */
void jp_zig_tables_compute(double *x /* (129) */, double *r /* (128) */);

#endif
