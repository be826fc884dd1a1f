/* The context of ops/backend.h on the CPU device: the activations' layout, the shared
 * scratchpad, and the layout copies at the edges of a network. */
#include <stdlib.h>
#include <string.h>

#include "ops/backend.h"
#include "ops/cpu_isa.h"
#include "ops/onednn/onednn.h"

jp_status jp_ctx_init(jp_ctx *ctx, int vector_width, jp_error *err)
{
    memset(ctx, 0, sizeof *ctx);
    if (vector_width != 0 && vector_width != 8 && vector_width != 16)
        return jp_fail(err, JP_ERR_ARG, "vector width %d: must be 0 (the CPU's), 8 or 16", vector_width);
    /* 16 where both oneDNN and jempp's own kernels run AVX-512 */
    int block = vector_width ? vector_width : jp_onednn_has_avx512() && jp_cpu_has_width(16) ? 16 : 8;
    ctx->act_block = block;
    ctx->dev = jp_device_cpu();
    return jp_onednn_create(&ctx->dnnl, block, err);
}

jp_status jp_ctx_init_device(jp_ctx *ctx, const jp_device *dev, jp_error *err)
{
    memset(ctx, 0, sizeof *ctx);
    if (!dev || !dev->conv || !dev->bnact)
        return jp_fail(err, JP_ERR_ARG, "device %s has no convolution and batch-norm plans", dev ? dev->ops->name : "?");
    ctx->dev = dev;
    ctx->act_block = 1;
    ctx->dev_conv = dev->conv;
    ctx->dev_bnact = dev->bnact;
    return JP_OK;
}

jp_status jp_ctx_finalize(jp_ctx *ctx, jp_error *err)
{
    if (ctx->scratch_need <= ctx->scratch_size) return JP_OK;
    jp_dev_release(ctx->dev, ctx->scratch);
    ctx->scratch = jp_dev_alloc(ctx->dev, ctx->scratch_need);
    if (!ctx->scratch) return jp_fail(err, JP_ERR_NOMEM, "shared scratchpad of %zu bytes", ctx->scratch_need);
    ctx->scratch_size = ctx->scratch_need;
    return JP_OK;
}

void jp_ctx_free(jp_ctx *ctx)
{
    jp_onednn_destroy(ctx->dnnl);
    if (ctx->dev) jp_dev_release(ctx->dev, ctx->scratch);
    memset(ctx, 0, sizeof *ctx);
}

size_t jp_act_bytes(const jp_ctx *ctx, int n, int c, int h, int w)
{
    size_t cp = (size_t)((c + ctx->act_block - 1) / ctx->act_block * ctx->act_block);
    return (size_t)n * cp * (size_t)h * (size_t)w * sizeof(float);
}

/* Blocked index of (n, c, y, x): [n][c/B][y][x][c%B], channels padded to B. */
void jp_act_to_blocked(const jp_ctx *ctx, float *dst, const float *src, int n, int c, int h, int w)
{
    int B = ctx->act_block, cb = (c + B - 1) / B;
    if (B == 1) {
        jp_dev_copy(ctx->dev, dst, src, (size_t)n * c * h * w * sizeof(float));
        return;
    }
    size_t hw = (size_t)h * w;
#pragma omp parallel for collapse(2)
    for (int i = 0; i < n; i++)
        for (int b = 0; b < cb; b++) {
            float *d = dst + ((size_t)i * cb + b) * hw * B;
            for (size_t p = 0; p < hw; p++)
                for (int k = 0; k < B; k++) {
                    int ch = b * B + k;
                    d[p * B + k] = ch < c ? src[((size_t)i * c + ch) * hw + p] : 0.0f;
                }
        }
}

void jp_act_from_blocked(const jp_ctx *ctx, float *dst, const float *src, int n, int c, int h, int w)
{
    int B = ctx->act_block, cb = (c + B - 1) / B;
    if (B == 1) {
        jp_dev_copy(ctx->dev, dst, src, (size_t)n * c * h * w * sizeof(float));
        return;
    }
    size_t hw = (size_t)h * w;
#pragma omp parallel for collapse(2)
    for (int i = 0; i < n; i++)
        for (int ch = 0; ch < c; ch++) {
            const float *s = src + ((size_t)i * cb + ch / B) * hw * B + ch % B;
            float *d = dst + ((size_t)i * c + ch) * hw;
            for (size_t p = 0; p < hw; p++) d[p] = s[p * B];
        }
}

int jp_kernel_is_reference(const char *kernel) { return kernel && strncmp(kernel, "ref", 3) == 0; }
