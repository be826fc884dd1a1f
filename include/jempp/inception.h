/* Inception-v3 as used by the standard FID implementation (pytorch-fid's FID
 * Inception, weights pt_inception-2015-12-05): images are resized to 299x299 bilinearly,
 * and the 2048-d pool3 features (after the last average pool) are returned. Weights come
 * from a safetensors file that tools/convert_inception.py writes from the standard FID
 * weights, which users obtain themselves (docs/evaluation.md says how).
 *
 * The architecture is fixed (torchvision's Inception3 blocks with pytorch-fid's FID
 * patches); channel counts are read from the weight shapes, so the scaled random
 * networks of tools/gen_inception_ref.py (the tests) load too: their feature dimension
 * and class count are smaller. BN is folded into the convolutions at load time. Runs on
 * oneDNN (blocked layouts, ReLU fused); memory is allocated once, at load, for `batch`. */
#ifndef JEMPP_INCEPTION_H
#define JEMPP_INCEPTION_H

#include <stddef.h>

#include "jempp/core.h"

typedef struct jp_inception jp_inception;

/* Loads the network for batches of up to `batch` images. Errors name the file and the
 * missing or mis-shaped tensor (JP_ERR_IO: no file; JP_ERR_FORMAT: missing tensor or wrong
 * dtype; JP_ERR_SHAPE: wrong shape; JP_ERR_NUMERIC: NaN/Inf weights). */
jp_status jp_inception_load(jp_inception **out, const char *weights_path, int batch, jp_error *err);
void jp_inception_free(jp_inception *m);
/* feats (n, F) = pool3(inception(resize_299(x))) for x (n, c, h, w) in [-1, 1], c = 1 or 3
 * (gray images are repeated over 3 channels), 1 <= n <= batch. F = 2048 for the real
 * weights (jp_inception_feature_dim). The pass always computes `batch` images. */
jp_status jp_inception_features(jp_inception *m, float *feats, const float *x, int n, int c, int h, int w,
                                jp_error *err);
/* The softmax class probabilities (n, K) of the last jp_inception_features call (for the
 * Inception Score; K = 1008 for the real weights); NULL when the weights file has no
 * logits layer (fc.weight). */
const float *jp_inception_probs(const jp_inception *m);
int jp_inception_feature_dim(const jp_inception *m); /* F */
int jp_inception_n_classes(const jp_inception *m);   /* K, 0 without a logits layer */
int jp_inception_batch(const jp_inception *m);
/* One line per convolution plan: shape and the oneDNN implementation (for logs). */
void jp_inception_describe(const jp_inception *m, char *buf, size_t len);

/* dst (n, c, oh, ow) = F.interpolate(src (n, c, h, w), size=(oh, ow), mode='bilinear',
 * align_corners=False) (no antialiasing), plain NCHW. */
void jp_resize_bilinear(float *dst, const float *src, int n, int c, int h, int w, int oh, int ow);

#endif
