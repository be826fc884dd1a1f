/* oneDNN context, memory helpers and layout copies for the fast path. */
#include "ops/dnnl_ops.h"

#include "ops/cpu_isa.h"

#include <stdlib.h>
#include <string.h>

_Noreturn void jp_dnnl_failed(const char *file, int line, const char *call, dnnl_status_t st)
{
    fprintf(stderr, "jempp: oneDNN call failed (status %d) at %s:%d: %s\n", (int)st, file, line,
            call);
    abort();
}

jp_status jp_dnnl_init(jp_dnnl *ctx, int vector_width, jp_error *err)
{
    memset(ctx, 0, sizeof *ctx);
    if (dnnl_engine_create(&ctx->eng, dnnl_cpu, 0) != dnnl_success)
        return jp_fail(err, JP_ERR_BACKEND, "oneDNN: cannot create a CPU engine");
    if (dnnl_stream_create(&ctx->stream, ctx->eng, dnnl_stream_default_flags) != dnnl_success)
        return jp_fail(err, JP_ERR_BACKEND, "oneDNN: cannot create a stream");
    dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    int avx512 = isa == dnnl_cpu_isa_avx512_core || isa == dnnl_cpu_isa_avx512_core_vnni ||
                 isa == dnnl_cpu_isa_avx512_core_bf16 || isa == dnnl_cpu_isa_avx512_core_amx ||
                 isa == dnnl_cpu_isa_avx512_mic || isa == dnnl_cpu_isa_avx512_mic_4ops;
    if (vector_width != 0 && vector_width != 8 && vector_width != 16) {
        jp_dnnl_free(ctx);
        return jp_fail(err, JP_ERR_ARG, "vector width %d: must be 0 (the CPU's), 8 or 16", vector_width);
    }
    /* 16 where both oneDNN and jempp's own kernels run AVX-512 */
    int block = vector_width ? vector_width : avx512 && jp_cpu_has_width(16) ? 16 : 8;
    ctx->act_block = block;
    ctx->act_tag = block == 16 ? dnnl_aBcd16b : dnnl_aBcd8b;
    return JP_OK;
}

jp_status jp_dnnl_finalize(jp_dnnl *ctx, jp_error *err)
{
    if (ctx->scratch_need <= ctx->scratch_size) return JP_OK;
    jp_free(ctx->scratch);
    ctx->scratch = jp_alloc(ctx->scratch_need);
    if (!ctx->scratch)
        return jp_fail(err, JP_ERR_NOMEM, "oneDNN scratchpad of %zu bytes", ctx->scratch_need);
    ctx->scratch_size = ctx->scratch_need;
    return JP_OK;
}

void jp_dnnl_free(jp_dnnl *ctx)
{
    if (ctx->stream) dnnl_stream_destroy(ctx->stream);
    if (ctx->eng) dnnl_engine_destroy(ctx->eng);
    jp_free(ctx->scratch);
    memset(ctx, 0, sizeof *ctx);
}

void jp_dnnl_act_md(const jp_dnnl *ctx, dnnl_memory_desc_t *md, int n, int c, int h, int w)
{
    dnnl_dims_t d = {n, c, h, w};
    JP_DNNL(dnnl_memory_desc_init_by_tag(md, 4, d, dnnl_f32, ctx->act_tag));
}

size_t jp_dnnl_act_bytes(const jp_dnnl *ctx, int n, int c, int h, int w)
{
    size_t cp = (size_t)((c + ctx->act_block - 1) / ctx->act_block * ctx->act_block);
    return (size_t)n * cp * (size_t)h * (size_t)w * sizeof(float);
}

/* Blocked index of (n, c, y, x): [n][c/B][y][x][c%B], channels padded to B. */
void jp_dnnl_to_blocked(const jp_dnnl *ctx, float *dst, const float *src, int n, int c, int h, int w)
{
    int B = ctx->act_block, cb = (c + B - 1) / B;
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

void jp_dnnl_from_blocked(const jp_dnnl *ctx, float *dst, const float *src, int n, int c, int h, int w)
{
    int B = ctx->act_block, cb = (c + B - 1) / B;
    size_t hw = (size_t)h * w;
#pragma omp parallel for collapse(2)
    for (int i = 0; i < n; i++)
        for (int ch = 0; ch < c; ch++) {
            const float *s = src + ((size_t)i * cb + ch / B) * hw * B + ch % B;
            float *d = dst + ((size_t)i * c + ch) * hw;
            for (size_t p = 0; p < hw; p++) d[p] = s[p * B];
        }
    (void)cb;
}

dnnl_memory_t jp_dnnl_mem(const jp_dnnl *ctx, const dnnl_memory_desc_t *md)
{
    dnnl_memory_t m;
    JP_DNNL(dnnl_memory_create(&m, md, ctx->eng, DNNL_MEMORY_NONE));
    return m;
}

void jp_dnnl_exec(const jp_dnnl *ctx, dnnl_primitive_t prim, int nargs, const int *arg_ids,
                  dnnl_memory_t *mems, void *const *ptrs)
{
    dnnl_exec_arg_t args[16];
    int used = 0;
    JP_CHECK(nargs <= 16);
    for (int i = 0; i < nargs; i++) {
        if (!mems[i]) continue; /* an absent scratchpad */
        void *ptr = ptrs[i] ? ptrs[i] : ctx->scratch;
        JP_DNNL(dnnl_memory_set_data_handle(mems[i], ptr));
        args[used].arg = arg_ids[i];
        args[used].memory = mems[i];
        used++;
    }
    JP_DNNL(dnnl_primitive_execute(prim, ctx->stream, used, args));
    JP_DNNL(dnnl_stream_wait(ctx->stream));
}

dnnl_primitive_t jp_dnnl_primitive(jp_dnnl *ctx, dnnl_primitive_desc_t pd, dnnl_memory_t *scratch_mem)
{
    dnnl_primitive_t prim;
    JP_DNNL(dnnl_primitive_create(&prim, pd));
    const dnnl_memory_desc_t *smd = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    size_t need = smd ? dnnl_memory_desc_get_size(smd) : 0;
    if (need > ctx->scratch_need) ctx->scratch_need = need;
    if (scratch_mem) *scratch_mem = need ? jp_dnnl_mem(ctx, smd) : NULL;
    else JP_CHECK(need == 0);
    return prim;
}

dnnl_primitive_attr_t jp_dnnl_attr(int sum, int relu)
{
    dnnl_primitive_attr_t attr;
    JP_DNNL(dnnl_primitive_attr_create(&attr));
    JP_DNNL(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user));
    if (sum || relu) {
        dnnl_post_ops_t po;
        JP_DNNL(dnnl_post_ops_create(&po));
        if (sum) JP_DNNL(dnnl_post_ops_append_sum(po, 1.0f));
        if (relu) JP_DNNL(dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_relu, 0.0f, 0.0f));
        JP_DNNL(dnnl_primitive_attr_set_post_ops(attr, po));
        dnnl_post_ops_destroy(po);
    }
    return attr;
}

int jp_dnnl_is_reference(const char *impl) { return impl && strncmp(impl, "ref", 3) == 0; }

const char *jp_dnnl_impl(dnnl_primitive_t prim)
{
    const_dnnl_primitive_desc_t pd;
    const char *name = "?";
    if (dnnl_primitive_get_primitive_desc(prim, &pd) != dnnl_success) return name;
    dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &name);
    return name;
}
