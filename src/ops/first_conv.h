/* The backward-data and backward-weights kernels of the convolution implementation
 * "jempp-first" (first_conv.c), one per vector width (first_conv_kern.h). Internal header. */
#ifndef JEMPP_FIRST_CONV_H
#define JEMPP_FIRST_CONV_H

#include "jempp/ops.h"

/* The most input channels it takes (a first layer's: grey, RGB, RGBA). */
enum { JP_FIRST_MAX_CIN = 4 };

/* dx (N, Cin, H, W, plain NCHW) = conv^T(dy (N, Cout, H, W) in JP_VW-channel blocks) for
 * s (3x3, stride 1, pad 1); wt[ci][kh][kw][co] the layer's weights. */
void jp_first_backward_data_v8(const jp_conv_shape *s, float *dx, const float *dy, const float *wt);
void jp_first_backward_data_v16(const jp_conv_shape *s, float *dx, const float *dy, const float *wt);
/* partial[n][cb][k][l] (k < 9 Cin: tap k of input channel k / 9, k = 9 Cin: the bias)
 * = image n's sum for output channel cb JP_VW + l of dy (blocked) times x (plain NCHW):
 * jp_first_wgrad_floats floats. */
void jp_first_backward_weights_v8(const jp_conv_shape *s, float *partial, const float *dy, const float *x);
void jp_first_backward_weights_v16(const jp_conv_shape *s, float *partial, const float *dy, const float *x);

static inline size_t jp_first_wgrad_floats(const jp_conv_shape *s) { return (size_t)s->n * s->cout * (s->cin * 9 + 1); }

#endif
