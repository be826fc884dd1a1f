/* The implementations of a 3x3 convolution side by side, on the Wide-ResNet's layer
 * shapes (stride 1, then the stride-2 ones): onednn-direct, onednn-winograd (nChw16c on
 * AVX-512 only, stride 1) and jempp-winograd, forward, backward-data and
 * backward-weights, in GFLOP/s counted as the direct convolution's flops (2 N Cout Ho Wo
 * Cin 9), medians; and each one's largest difference from onednn-direct relative to the
 * largest output (forward).
 *
 *   bench_winograd [--batch 64] [--iters 9] [--vector_width 0|8|16] [--stride 0|1|2]
 *   (threads: OMP_NUM_THREADS; width 0: the CPU's layout; stride 0: both) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_stats.h"
#include "jempp/ops.h"
#include "ops/backend.h"

static double rel_diff(const float *a, const float *b, size_t n)
{
    double d = 0, m = 0;
    for (size_t i = 0; i < n; i++) {
        d = fmax(d, fabs((double)a[i] - b[i]));
        m = fmax(m, fabs((double)b[i]));
    }
    return d / (m > 0 ? m : 1);
}

enum { N_IMPL = 3 };
static const jp_conv_impl_id impls[N_IMPL] = {JP_CONV_ONEDNN_DIRECT, JP_CONV_ONEDNN_WINOGRAD, JP_CONV_JEMPP_WINOGRAD};

int main(int argc, char **argv)
{
    int batch = 64, iters = 9, vw = 0, only_stride = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--batch") && i + 1 < argc) batch = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--iters") && i + 1 < argc) iters = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--vector_width") && i + 1 < argc) vw = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--stride") && i + 1 < argc) only_stride = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: %s [--batch N] [--iters N] [--vector_width 0|8|16] [--stride 0|1|2]\n", argv[0]);
            return 2;
        }
    }
    if (batch < 1 || iters < 1 || iters > 99) {
        fprintf(stderr, "bench_winograd: --batch and --iters (1..99) must be positive\n");
        return 2;
    }
    /* {Cin, Cout, H = W, stride}: WRN-16-2 on 32x32 and 28x28, then WRN-28-10's stages;
     * then the stride-2 layers of WRN-16-2 (32x32), WRN-10-2 (28x28) and WRN-28-10 */
    static const int shapes[][4] = {{16, 32, 32, 1},   {32, 32, 32, 1},   {64, 64, 16, 1},   {128, 128, 8, 1},
                                    {32, 32, 28, 1},   {64, 64, 14, 1},   {128, 128, 7, 1},  {160, 160, 32, 1},
                                    {160, 320, 32, 1}, {256, 256, 16, 1}, {320, 320, 16, 1}, {320, 640, 16, 1},
                                    {512, 512, 8, 1},  {640, 640, 8, 1},  {64, 64, 32, 2},   {128, 128, 16, 2},
                                    {64, 64, 28, 2},   {128, 128, 14, 2}, {320, 320, 32, 2}, {640, 640, 16, 2}};
    jp_error err;
    jp_ctx ctx;
    if (jp_ctx_init(&ctx, vw, &err) != JP_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    printf("nChw%dc, batch %d, median of %d; GFLOP/s-equivalent fwd / bwd-data / bwd-weights per implementation, "
           "then max |diff| of the forward vs onednn-direct (relative to the largest output)\n",
           ctx.act_block, batch, iters);
    printf("%-17s", "3x3 conv");
    for (int k = 0; k < N_IMPL; k++) printf(" | %-22s", jp_conv_impl_word(impls[k]));
    printf("\n");
    for (size_t k = 0; k < sizeof shapes / sizeof *shapes; k++) {
        int cin = shapes[k][0], cout = shapes[k][1], hw = shapes[k][2], st = shapes[k][3], ho = (hw - 1) / st + 1;
        if (only_stride && st != only_stride) continue;
        jp_conv_shape s;
        if (jp_conv_shape_init(&s, batch, cin, hw, hw, cout, 3, 3, st, st, 1, 1, &err) != JP_OK) return 1;
        size_t nin = jp_act_bytes(&ctx, batch, cin, hw, hw) / 4, nout = jp_act_bytes(&ctx, batch, cout, ho, ho) / 4;
        size_t nw = (size_t)cout * cin * 9;
        float *x = jp_alloc(nin * 4), *dx = jp_alloc(nin * 4), *dy = jp_alloc(nout * 4), *w = jp_alloc(nw * 4);
        float *b = jp_alloc((size_t)cout * 4), *dw = jp_alloc(nw * 4), *dbs = jp_alloc((size_t)cout * 4);
        float *y[N_IMPL];
        unsigned seed = 1;
        bench_fill(x, nin, &seed), bench_fill(dy, nout, &seed), bench_fill(w, nw, &seed), bench_fill(b, (size_t)cout, &seed);
        char name[40];
        snprintf(name, sizeof name, "%d->%d %dx%d%s", cin, cout, hw, hw, st == 2 ? " s2" : "");
        printf("%-17s", name);
        char diffs[200] = "";
        for (int m = 0; m < N_IMPL; m++) {
            y[m] = NULL;
            jp_conv_plan p;
            jp_conv_opts o = {.need_backward = 1, .impl = impls[m]};
            if (jp_conv_plan_init(&p, &ctx, &s, &o, &err) != JP_OK || p.impl->id != impls[m]) {
                if (p.impl) jp_conv_plan_free(&p);
                printf(" | %-22s", "n/a (CPU or layout)");
                continue;
            }
            if (jp_ctx_finalize(&ctx, &err) != JP_OK) return 1;
            y[m] = jp_alloc(nout * 4);
            float *wf = jp_alloc(p.w_bytes), *wb = p.wd_bytes ? jp_alloc(p.wd_bytes) : wf;
            float *dws = p.dw_bytes ? jp_alloc(p.dw_bytes) : NULL;
            jp_conv_prepare_weights(&p, wf, wb, w);
            double t[3][100];
            for (int it = 0; it <= iters; it++) {
                double t0 = jp_now();
                jp_conv_forward(&p, y[m], x, wf, b);
                double t1 = jp_now();
                jp_conv_backward_data(&p, dx, dy, wb);
                double t2 = jp_now();
                jp_conv_backward_weights(&p, dw, NULL, dy, x, dws, dbs);
                double t3 = jp_now();
                if (it) t[0][it - 1] = t1 - t0, t[1][it - 1] = t2 - t1, t[2][it - 1] = t3 - t2;
            }
            double flops = 2.0 * batch * cout * ho * ho * (double)cin * 9 * 1e-9;
            printf(" | %6.1f %6.1f %6.1f  ", flops / bench_median(t[0], iters), flops / bench_median(t[1], iters),
                   flops / bench_median(t[2], iters));
            if (m > 0 && y[0])
                snprintf(diffs + strlen(diffs), sizeof diffs - strlen(diffs), " %s %.1e", jp_conv_impl_word(impls[m]),
                         rel_diff(y[m], y[0], nout));
            jp_free(wf), jp_free(dws);
            if (wb != wf) jp_free(wb);
            jp_conv_plan_free(&p);
        }
        printf(" |%s\n", diffs);
        fflush(stdout);
        for (int m = 0; m < N_IMPL; m++) jp_free(y[m]);
        jp_free(x), jp_free(dx), jp_free(dy), jp_free(w), jp_free(b), jp_free(dw), jp_free(dbs);
    }
    jp_ctx_free(&ctx);
    return 0;
}
