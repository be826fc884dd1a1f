/* oneDNN (2.x C API) behind the seam of ops/backend.h: the engine and stream of a CPU
 * context and the helpers that its implementations (onednn_conv.c, onednn_bnact.c)
 * share. The only place of the library that includes oneDNN's headers, with
 * core/sgemm.c (dnnl_sgemm). Internal header. */
#ifndef JEMPP_ONEDNN_H
#define JEMPP_ONEDNN_H

#include <oneapi/dnnl/dnnl.h>

#include "ops/backend.h"

struct jp_onednn {
    dnnl_engine_t eng;
    dnnl_stream_t stream;
    dnnl_format_tag_t act_tag; /* the context's blocked layout for activations */
};

/* Creates the engine and stream for activations of channel block `block` (8 or 16). */
jp_status jp_onednn_create(jp_onednn **out, int block, jp_error *err);
void jp_onednn_destroy(jp_onednn *d);
/* Whether oneDNN runs AVX-512 kernels on this CPU (DNNL_MAX_CPU_ISA may limit it). */
int jp_onednn_has_avx512(void);

/* Aborts with the oneDNN status and the call, at file:line: a failure here is a
 * programming error (shapes are validated before plans are built). */
#define JP_DNNL(call)                                                                  \
    do {                                                                               \
        dnnl_status_t st_ = (call);                                                    \
        if (st_ != dnnl_success) jp_dnnl_failed(__FILE__, __LINE__, #call, st_);        \
    } while (0)
_Noreturn void jp_dnnl_failed(const char *file, int line, const char *call, dnnl_status_t st);

/* Memory description of an (N,C,H,W) activation of type dt in the context's blocked layout. */
void jp_dnnl_act_md(const jp_ctx *ctx, dnnl_memory_desc_t *md, dnnl_data_type_t dt, int n, int c, int h, int w);
/* A memory object with no data handle yet; handles are set right before execution. */
dnnl_memory_t jp_dnnl_mem(const jp_ctx *ctx, const dnnl_memory_desc_t *md);
/* Sets the handles and executes, then waits for the stream. Each arg's memory gets
 * its pointer from ptrs[i]; a NULL ptr means "the context scratchpad"; a NULL memory
 * (a primitive that needs no scratchpad) is skipped. */
void jp_dnnl_exec(const jp_ctx *ctx, dnnl_primitive_t prim, int nargs, const int *arg_ids,
                  dnnl_memory_t *mems, void *const *ptrs);
/* Creates the primitive of pd, records its scratchpad size in the context, and returns
 * the memory object for that scratchpad through *scratch_mem (NULL when it needs none). */
dnnl_primitive_t jp_dnnl_primitive(jp_ctx *ctx, dnnl_primitive_desc_t pd, dnnl_memory_t *scratch_mem);
/* An attribute with user scratchpad; post-ops: when sum != 0, dst += result; when
 * relu != 0, then dst = max(dst, 0). */
dnnl_primitive_attr_t jp_dnnl_attr(int sum, int relu);
/* A reorder from one memory description to another (layout or data type); accumulate:
 * to += from. Some (the weights of oneDNN's AVX-512 Winograd) need a scratchpad, whose
 * memory object comes back through *scratch_mem. */
dnnl_primitive_t jp_dnnl_reorder(jp_ctx *ctx, const dnnl_memory_desc_t *from, const dnnl_memory_desc_t *to,
                                 int accumulate, dnnl_memory_t *scratch_mem);
/* Runs reorder prim from `from` (data src) to `to` (data dst), with its scratchpad memory
 * (NULL: none) on the context's scratchpad. */
void jp_dnnl_exec_reorder(const jp_ctx *ctx, dnnl_primitive_t prim, dnnl_memory_t from, dnnl_memory_t to,
                          dnnl_memory_t scratch, const void *src, void *dst);
/* Name of the implementation oneDNN chose (for benchmarks and logs). */
const char *jp_dnnl_impl(dnnl_primitive_t prim);

#endif
