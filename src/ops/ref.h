/* The reference layer kernels: plain loops on contiguous NCHW float32, kept as the test
 * oracle (tests/test_ops_torch.c checks them against PyTorch, tests/test_ops_fd.c by
 * finite differences, and tests/test_conformance.c checks every fast implementation
 * against them). Conventions as include/jempp/ops.h: outputs first; a NULL gradient
 * pointer skips that gradient; parameter gradients accumulate, activation gradients
 * are written. Internal header. */
#ifndef JEMPP_OPS_REF_H
#define JEMPP_OPS_REF_H

#include <stddef.h>

#include "jempp/ops.h"

/* ---- 2-D convolution ---- */
/* out (N,Cout,OH,OW) = conv(in (N,Cin,H,W), w (Cout,Cin,KH,KW)) + b (Cout) [b may be NULL] */
void jp_ref_conv2d_forward(float *out, const float *in, const float *w, const float *b,
                           const jp_conv_shape *s);
/* din[n,ci,y,x]   = sum_{co,i,j} dout[n,co,oy,ox] * w[co,ci,i,j]   where y = oy*sh - ph + i
 * dw[co,ci,i,j]  += sum_{n,oy,ox} dout[n,co,oy,ox] * in[n,ci,oy*sh-ph+i, ox*sw-pw+j]
 * db[co]         += sum_{n,oy,ox} dout[n,co,oy,ox] */
void jp_ref_conv2d_backward(float *din, float *dw, float *db, const float *dout,
                            const float *in, const float *w, const jp_conv_shape *s);

/* ---- batch normalisation ---- */
/* Training mode: normalise with the batch mean and the BIASED batch variance;
 * update running_mean/var with the UNBIASED variance (if they are not NULL).
 * save_mean/save_invstd (C) keep mean and 1/sqrt(var_biased + eps) for backward. */
void jp_ref_bn_forward_train(float *out, float *save_mean, float *save_invstd,
                             float *running_mean, float *running_var, const float *in,
                             const float *gamma, const float *beta, const jp_bn_shape *s);
/* Eval mode: normalise with the running statistics. */
void jp_ref_bn_forward_eval(float *out, const float *in, const float *gamma, const float *beta,
                            const float *running_mean, const float *running_var,
                            const jp_bn_shape *s);
/* Training-mode backward, gradient through the batch statistics. With
 * xhat = (x - mean) * invstd, M = N*H*W per channel:
 *   dbeta  += sum dout;  dgamma += sum dout * xhat
 *   din = gamma * invstd / M * (M * dout - sum(dout) - xhat * sum(dout * xhat)) */
void jp_ref_bn_backward_train(float *din, float *dgamma, float *dbeta, const float *dout,
                              const float *in, const float *save_mean, const float *save_invstd,
                              const float *gamma, const jp_bn_shape *s);
/* Eval-mode backward (statistics are constants): din = dout * gamma / sqrt(rv + eps). */
void jp_ref_bn_backward_eval(float *din, float *dgamma, float *dbeta, const float *dout,
                             const float *in, const float *gamma, const float *running_mean,
                             const float *running_var, const jp_bn_shape *s);

/* ---- activations: LeakyReLU (slope 0 gives ReLU) ---- */
/* out = in > 0 ? in : slope * in */
void jp_ref_leaky_relu_forward(float *out, const float *in, size_t count, float slope);
/* din = dout * (in > 0 ? 1 : slope) */
void jp_ref_leaky_relu_backward(float *din, const float *dout, const float *in, size_t count,
                                float slope);

/* ---- global average pooling: (N,C,H,W) -> (N,C) ---- */
void jp_ref_global_avgpool_forward(float *out, const float *in, int n, int c, int h, int w);
/* din[n,c,y,x] = dout[n,c] / (H*W) */
void jp_ref_global_avgpool_backward(float *din, const float *dout, int n, int c, int h, int w);

/* ---- linear: out (N,O) = in (N,I) w^T (O,I) + b (O) ---- */
void jp_ref_linear_forward(float *out, const float *in, const float *w, const float *b,
                           int n, int in_f, int out_f);
/* din = dout w;  dw += dout^T in;  db += sum_n dout */
void jp_ref_linear_backward(float *din, float *dw, float *db, const float *dout,
                            const float *in, const float *w, int n, int in_f, int out_f);

#endif
