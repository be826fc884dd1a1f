/* Shared between the Gaussian statistics' computation and their cache file. */
#ifndef JEMPP_DATA_GAUSS_INTERNAL_H
#define JEMPP_DATA_GAUSS_INTERNAL_H

#include "jempp/data.h"

/* Allocates (zeroed) the arrays of a K-class, c*h*w statistics set, eps = 1e-4;
 * s->cov only when with_cov. */
jp_status jp_gauss_stats_alloc(jp_gauss_stats *s, int k, int c, int h, int w, int with_cov,
                               jp_error *err);

/* jp_gauss_stats_compute with the data's hash already known (0: compute it). */
jp_status jp_gauss_stats_compute_hashed(jp_gauss_stats *s, const jp_dataset *ds, int keep_cov,
                                        uint64_t hash, jp_error *err);

#endif
