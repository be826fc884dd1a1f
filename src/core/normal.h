/* The ziggurat behind jp_rng_normal / jp_rng_fill_normal / jp_rng_add_normal
 * (normal.c): its constant tables and their recomputation from the defining formulas,
 * for the test that checks them. */
#ifndef JEMPP_CORE_NORMAL_H
#define JEMPP_CORE_NORMAL_H

const double *jp_zig_table_x(void); /* (129) layer edges */
const double *jp_zig_table_r(void); /* (128) x[i+1] / x[i] */
void jp_zig_tables_compute(double *x /* (129) */, double *r /* (128) */);

#endif
