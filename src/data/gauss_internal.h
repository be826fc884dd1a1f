/* Shared between the Gaussian statistics' computation and their cache file. */
#ifndef JEMPP_DATA_GAUSS_INTERNAL_H
#define JEMPP_DATA_GAUSS_INTERNAL_H

#include "jempp/data.h"

/* Allocates (zeroed) the arrays of a K-class, c*h*w statistics set, eps = 1e-4;
 * s->cov only when with_cov. */
jp_status jp_gauss_stats_alloc(jp_gauss_stats *s, int k, int c, int h, int w, int with_cov,
                               jp_error *err);

#endif
