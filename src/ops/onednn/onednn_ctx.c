/* oneDNN's engine and stream for a CPU context, and the helpers its implementations
 * share (onednn.h). */
#include <stdlib.h>
#include <string.h>

#include "ops/onednn/onednn.h"

_Noreturn void jp_dnnl_failed(const char *file, int line, const char *call, dnnl_status_t st)
{
    fprintf(stderr, "jempp: oneDNN call failed (status %d) at %s:%d: %s\n", (int)st, file, line, call);
    abort();
}

int jp_onednn_has_avx512(void)
{
    dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    return isa == dnnl_cpu_isa_avx512_core || isa == dnnl_cpu_isa_avx512_core_vnni ||
           isa == dnnl_cpu_isa_avx512_core_bf16 || isa == dnnl_cpu_isa_avx512_core_amx ||
           isa == dnnl_cpu_isa_avx512_mic || isa == dnnl_cpu_isa_avx512_mic_4ops;
}

jp_status jp_onednn_create(jp_onednn **out, int block, jp_error *err)
{
    jp_onednn *d = calloc(1, sizeof *d);
    *out = d;
    if (!d) return jp_fail(err, JP_ERR_NOMEM, "oneDNN context");
    if (dnnl_engine_create(&d->eng, dnnl_cpu, 0) != dnnl_success)
        return jp_fail(err, JP_ERR_BACKEND, "oneDNN: cannot create a CPU engine");
    if (dnnl_stream_create(&d->stream, d->eng, dnnl_stream_default_flags) != dnnl_success)
        return jp_fail(err, JP_ERR_BACKEND, "oneDNN: cannot create a stream");
    d->act_tag = block == 16 ? dnnl_aBcd16b : dnnl_aBcd8b;
    return JP_OK;
}

void jp_onednn_destroy(jp_onednn *d)
{
    if (!d) return;
    if (d->stream) dnnl_stream_destroy(d->stream);
    if (d->eng) dnnl_engine_destroy(d->eng);
    free(d);
}

void jp_dnnl_act_md(const jp_ctx *ctx, dnnl_memory_desc_t *md, dnnl_data_type_t dt, int n, int c, int h, int w)
{
    dnnl_dims_t d = {n, c, h, w};
    JP_DNNL(dnnl_memory_desc_init_by_tag(md, 4, d, dt, ctx->dnnl->act_tag));
}

dnnl_memory_t jp_dnnl_mem(const jp_ctx *ctx, const dnnl_memory_desc_t *md)
{
    dnnl_memory_t m;
    JP_DNNL(dnnl_memory_create(&m, md, ctx->dnnl->eng, DNNL_MEMORY_NONE));
    return m;
}

void jp_dnnl_exec(const jp_ctx *ctx, dnnl_primitive_t prim, int nargs, const int *arg_ids, dnnl_memory_t *mems,
                  void *const *ptrs)
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
    JP_DNNL(dnnl_primitive_execute(prim, ctx->dnnl->stream, used, args));
    JP_DNNL(dnnl_stream_wait(ctx->dnnl->stream));
}

dnnl_primitive_t jp_dnnl_primitive(jp_ctx *ctx, dnnl_primitive_desc_t pd, dnnl_memory_t *scratch_mem)
{
    dnnl_primitive_t prim;
    JP_DNNL(dnnl_primitive_create(&prim, pd));
    const dnnl_memory_desc_t *smd = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    size_t need = smd ? dnnl_memory_desc_get_size(smd) : 0;
    if (need > ctx->scratch_need) ctx->scratch_need = need;
    *scratch_mem = need ? jp_dnnl_mem(ctx, smd) : NULL;
    return prim;
}

dnnl_primitive_t jp_dnnl_reorder(jp_ctx *ctx, const dnnl_memory_desc_t *from, const dnnl_memory_desc_t *to,
                                 int accumulate, dnnl_memory_t *scratch_mem)
{
    dnnl_primitive_attr_t attr = jp_dnnl_attr(accumulate, 0);
    dnnl_primitive_desc_t pd;
    JP_DNNL(dnnl_reorder_primitive_desc_create(&pd, from, ctx->dnnl->eng, to, ctx->dnnl->eng, attr));
    dnnl_primitive_t prim = jp_dnnl_primitive(ctx, pd, scratch_mem);
    dnnl_primitive_desc_destroy(pd);
    dnnl_primitive_attr_destroy(attr);
    return prim;
}

void jp_dnnl_exec_reorder(const jp_ctx *ctx, dnnl_primitive_t prim, dnnl_memory_t from, dnnl_memory_t to,
                          dnnl_memory_t scratch, const void *src, void *dst)
{
    int ids[3] = {DNNL_ARG_FROM, DNNL_ARG_TO, DNNL_ARG_SCRATCHPAD};
    dnnl_memory_t m[3] = {from, to, scratch};
    void *ptr[3] = {(void *)src, dst, NULL};
    jp_dnnl_exec(ctx, prim, 3, ids, m, ptr);
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

const char *jp_dnnl_impl(dnnl_primitive_t prim)
{
    const_dnnl_primitive_desc_t pd;
    const char *name = "?";
    if (dnnl_primitive_get_primitive_desc(prim, &pd) != dnnl_success) return name;
    dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &name);
    return name;
}
