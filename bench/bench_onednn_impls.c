/* Every implementation oneDNN offers for one 3x3 convolution, with its time: forward,
 * backward-data and backward-weights, for the activation layout jempp uses (nChw16c
 * with AVX-512, nChw8c with AVX2) and for channels-last (nhwc, the layout PyTorch's
 * channels_last runs, where oneDNN 2.6 adds its brgemm kernels). It shows what a change
 * of layout would buy for the layers jempp leaves to oneDNN (the stride-2 3x3 layers);
 * oneDNN's reference kernels are left out. GFLOP/s count the direct convolution's
 * multiply-adds (2 N Cout OH OW Cin 9), medians of --iters runs after one warm-up.
 *
 *   bench_onednn_impls [--batch 64] [--cin 64] [--cout 64] [--size 28] [--stride 2] [--iters 9] */
#include <dnnl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_stats.h"
#include "jempp/core.h"

#define CHECK(call)                                                                                    \
    do {                                                                                               \
        dnnl_status_t s_ = (call);                                                                     \
        if (s_ != dnnl_success) {                                                                      \
            fprintf(stderr, "bench_onednn_impls: %s failed (oneDNN status %d)\n", #call, (int)s_);     \
            exit(1);                                                                                   \
        }                                                                                              \
    } while (0)

enum { MAX_ARGS = 9, MAX_ITERS = 101 };

typedef struct {
    dnnl_engine_t eng;
    dnnl_stream_t stream;
    int iters;
    double gflop;
} bench;

/* The memory of every argument pd names (sources, weights and bias, destinations and
 * their gradients, the scratchpad), filled with small values; returns their count. */
static int make_args(const bench *b, const_dnnl_primitive_desc_t pd, dnnl_exec_arg_t *args)
{
    static const struct {
        dnnl_query_t what;
        int index, arg;
    } all[MAX_ARGS] = {
        {dnnl_query_src_md, 0, DNNL_ARG_SRC},
        {dnnl_query_weights_md, 0, DNNL_ARG_WEIGHTS},
        {dnnl_query_weights_md, 1, DNNL_ARG_BIAS},
        {dnnl_query_dst_md, 0, DNNL_ARG_DST},
        {dnnl_query_diff_src_md, 0, DNNL_ARG_DIFF_SRC},
        {dnnl_query_diff_weights_md, 0, DNNL_ARG_DIFF_WEIGHTS},
        {dnnl_query_diff_weights_md, 1, DNNL_ARG_DIFF_BIAS},
        {dnnl_query_diff_dst_md, 0, DNNL_ARG_DIFF_DST},
        {dnnl_query_scratchpad_md, 0, DNNL_ARG_SCRATCHPAD},
    };
    int n = 0;
    for (int k = 0; k < MAX_ARGS; k++) {
        const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(pd, all[k].what, all[k].index);
        size_t bytes = md ? dnnl_memory_desc_get_size(md) : 0;
        if (!md || md->ndims == 0 || bytes == 0) continue;
        dnnl_memory_t m;
        CHECK(dnnl_memory_create(&m, md, b->eng, DNNL_MEMORY_ALLOCATE));
        void *h;
        CHECK(dnnl_memory_get_data_handle(m, &h));
        float *f = h;
        for (size_t i = 0; i < bytes / sizeof(float); i++) f[i] = (float)(i * 7919 % 1000) / 1000.0f - 0.5f;
        args[n].arg = all[k].arg;
        args[n].memory = m;
        n++;
    }
    return n;
}

/* One line per implementation of op desc d (hint: the forward's descriptor). */
static void measure(const bench *b, const char *pass, const char *layout, const void *d,
                    const_dnnl_primitive_desc_t hint)
{
    dnnl_primitive_desc_iterator_t it;
    if (dnnl_primitive_desc_iterator_create(&it, d, NULL, b->eng, hint) != dnnl_success) {
        printf("%-7s %-6s none\n", layout, pass);
        return;
    }
    do {
        dnnl_primitive_desc_t pd = dnnl_primitive_desc_iterator_fetch(it);
        const char *impl = "?";
        dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl);
        if (strstr(impl, "ref")) {
            dnnl_primitive_desc_destroy(pd);
            continue;
        }
        dnnl_primitive_t prim;
        CHECK(dnnl_primitive_create(&prim, pd));
        dnnl_exec_arg_t args[MAX_ARGS];
        int nargs = make_args(b, pd, args);
        double t[MAX_ITERS];
        for (int r = -1; r < b->iters; r++) {
            double t0 = jp_now();
            CHECK(dnnl_primitive_execute(prim, b->stream, nargs, args));
            CHECK(dnnl_stream_wait(b->stream));
            if (r >= 0) t[r] = jp_now() - t0;
        }
        double med = bench_median(t, b->iters);
        printf("%-7s %-6s %-24s %8.2f ms %7.1f GFLOP/s\n", layout, pass, impl, med * 1e3, b->gflop / med);
        for (int k = 0; k < nargs; k++) dnnl_memory_destroy(args[k].memory);
        dnnl_primitive_destroy(prim);
        dnnl_primitive_desc_destroy(pd);
    } while (dnnl_primitive_desc_iterator_next(it) == dnnl_success);
    dnnl_primitive_desc_iterator_destroy(it);
}

int main(int argc, char **argv)
{
    int n = 64, cin = 64, cout = 64, size = 28, stride = 2, iters = 9;
    for (int i = 1; i < argc; i++) {
        int *v = NULL;
        if (!strcmp(argv[i], "--batch")) v = &n;
        else if (!strcmp(argv[i], "--cin")) v = &cin;
        else if (!strcmp(argv[i], "--cout")) v = &cout;
        else if (!strcmp(argv[i], "--size")) v = &size;
        else if (!strcmp(argv[i], "--stride")) v = &stride;
        else if (!strcmp(argv[i], "--iters")) v = &iters;
        if (!v || i + 1 >= argc || (*v = atoi(argv[i + 1])) < 1) {
            fprintf(stderr, "bench_onednn_impls: bad argument '%s%s%s' (flags: --batch --cin --cout --size "
                            "--stride --iters, each with a positive integer)\n", argv[i], i + 1 < argc ? " " : "",
                    i + 1 < argc ? argv[i + 1] : "");
            return 2;
        }
        i++;
    }
    if (iters > MAX_ITERS) iters = MAX_ITERS;
    bench b = {.iters = iters};
    CHECK(dnnl_engine_create(&b.eng, dnnl_cpu, 0));
    CHECK(dnnl_stream_create(&b.stream, b.eng, dnnl_stream_default_flags));
    int osize = (size + 2 - 3) / stride + 1;
    b.gflop = 2.0 * n * osize * osize * cout * cin * 9 / 1e9;
    printf("3x3 convolution %d->%d, %dx%d, stride %d, batch %d: %.3f GFLOP a pass\n", cin, cout, size, size,
           stride, n, b.gflop);

    dnnl_dims_t sd = {n, cin, size, size}, dd = {n, cout, osize, osize}, wd = {cout, cin, 3, 3}, bd = {cout};
    dnnl_dims_t strides = {stride, stride}, pad = {1, 1};
    /* jempp's blocked layouts (16-channel blocks with AVX-512, 8 with AVX2) and channels-last */
    struct {
        const char *name;
        dnnl_format_tag_t tag;
    } layouts[] = {{"nChw16c", dnnl_nChw16c}, {"nChw8c", dnnl_nChw8c}, {"nhwc", dnnl_nhwc}};
    for (int l = 0; l < 3; l++) {
        dnnl_memory_desc_t s, d, w, bias;
        CHECK(dnnl_memory_desc_init_by_tag(&s, 4, sd, dnnl_f32, layouts[l].tag));
        CHECK(dnnl_memory_desc_init_by_tag(&d, 4, dd, dnnl_f32, layouts[l].tag));
        CHECK(dnnl_memory_desc_init_by_tag(&w, 4, wd, dnnl_f32, dnnl_format_tag_any));
        CHECK(dnnl_memory_desc_init_by_tag(&bias, 1, bd, dnnl_f32, dnnl_x));
        dnnl_convolution_desc_t fd, bdd, bwd;
        CHECK(dnnl_convolution_forward_desc_init(&fd, dnnl_forward_training, dnnl_convolution_direct, &s, &w,
                                                 &bias, &d, strides, pad, pad));
        dnnl_primitive_desc_t fpd;
        CHECK(dnnl_primitive_desc_create(&fpd, &fd, NULL, b.eng, NULL));
        measure(&b, "fwd", layouts[l].name, &fd, NULL);
        CHECK(dnnl_convolution_backward_data_desc_init(&bdd, dnnl_convolution_direct, &s, &w, &d, strides, pad,
                                                       pad));
        measure(&b, "bwd_d", layouts[l].name, &bdd, fpd);
        CHECK(dnnl_convolution_backward_weights_desc_init(&bwd, dnnl_convolution_direct, &s, &w, &bias, &d,
                                                          strides, pad, pad));
        measure(&b, "bwd_w", layouts[l].name, &bwd, fpd);
        dnnl_primitive_desc_destroy(fpd);
    }
    dnnl_stream_destroy(b.stream);
    dnnl_engine_destroy(b.eng);
    return 0;
}
