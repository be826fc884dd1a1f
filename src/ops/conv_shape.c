/* Convolution shape: validates the arguments and computes the output size
 * oh = (h + 2*ph - kh) / sh + 1 (and ow likewise), as torch.nn.Conv2d does. */
#include "jempp/ops.h"

#include <limits.h>

jp_status jp_conv_shape_init(jp_conv_shape *s, int n, int cin, int h, int w, int cout,
                             int kh, int kw, int sh, int sw, int ph, int pw, jp_error *err)
{
    JP_CHECK(s != NULL);
    if (n <= 0 || cin <= 0 || h <= 0 || w <= 0 || cout <= 0)
        return jp_fail(err, JP_ERR_SHAPE,
                       "conv2d: input (N=%d, Cin=%d, H=%d, W=%d) and Cout=%d must all be positive",
                       n, cin, h, w, cout);
    if (kh <= 0 || kw <= 0)
        return jp_fail(err, JP_ERR_SHAPE, "conv2d: kernel %dx%d must be positive", kh, kw);
    if (sh <= 0 || sw <= 0)
        return jp_fail(err, JP_ERR_SHAPE, "conv2d: stride (%d,%d) must be positive", sh, sw);
    if (ph < 0 || pw < 0)
        return jp_fail(err, JP_ERR_SHAPE, "conv2d: padding (%d,%d) must not be negative", ph, pw);
    /* 64-bit arithmetic: h + 2*ph must not overflow int before the check. */
    long long eh = (long long)h + 2LL * ph - kh, ew = (long long)w + 2LL * pw - kw;
    if (eh < 0 || ew < 0)
        return jp_fail(err, JP_ERR_SHAPE,
                       "conv2d: kernel %dx%d does not fit the padded input %lldx%lld "
                       "(input %dx%d, padding (%d,%d)): the output would be empty",
                       kh, kw, (long long)h + 2LL * ph, (long long)w + 2LL * pw, h, w, ph, pw);
    long long oh = eh / sh + 1, ow = ew / sw + 1;
    if (oh > INT_MAX || ow > INT_MAX)
        return jp_fail(err, JP_ERR_SHAPE, "conv2d: output %lldx%lld is too large", oh, ow);
    s->n = n, s->cin = cin, s->h = h, s->w = w;
    s->cout = cout, s->kh = kh, s->kw = kw;
    s->sh = sh, s->sw = sw, s->ph = ph, s->pw = pw;
    s->oh = (int)oh, s->ow = (int)ow;
    return JP_OK;
}
