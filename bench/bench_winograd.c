/* Our Winograd F(4x4,3x3) (src/ops/winograd.c) against oneDNN's direct convolution on
 * the Wide-ResNet's stride-1 3x3 layers, nChw8c, forward, backward-data and
 * backward-weights: GFLOP/s
 * counted as the direct convolution's flops (2 N Cout H W Cin 9), medians, and the
 * largest difference between the two relative to the largest output.
 *
 *   bench_winograd [--batch 64] [--iters 9]     (threads: OMP_NUM_THREADS) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_stats.h"
#include "jempp/ops.h"
#include "ops/dnnl_ops.h"
#include "ops/winograd.h"

static void fill(float *x, size_t n, unsigned *seed)
{
    for (size_t i = 0; i < n; i++) {
        *seed = *seed * 1664525u + 1013904223u;
        x[i] = (float)((*seed >> 8) * (1.0 / 16777216.0) - 0.5);
    }
}

static double rel_diff(const float *a, const float *b, size_t n)
{
    double d = 0, m = 0;
    for (size_t i = 0; i < n; i++) {
        d = fmax(d, fabs((double)a[i] - b[i]));
        m = fmax(m, fabs((double)b[i]));
    }
    return d / (m > 0 ? m : 1);
}

int main(int argc, char **argv)
{
    int batch = 64, iters = 9;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--batch") && i + 1 < argc) batch = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--iters") && i + 1 < argc) iters = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: %s [--batch N] [--iters N]\n", argv[0]);
            return 2;
        }
    }
    if (batch < 1 || iters < 1 || iters > 99) {
        fprintf(stderr, "bench_winograd: --batch and --iters (1..99) must be positive\n");
        return 2;
    }
    /* {Cin, Cout, H = W}: WRN-16-2 on 32x32 and 28x28, then WRN-28-10's stages */
    static const int shapes[][3] = {{16, 32, 32}, {32, 32, 32}, {64, 64, 16}, {128, 128, 8}, {32, 32, 28},
                                    {64, 64, 14}, {128, 128, 7}, {160, 160, 32}, {320, 320, 16}, {640, 640, 8}};
    jp_error err;
    jp_dnnl ctx;
    if (jp_dnnl_init(&ctx, &err) != JP_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    printf("%-16s %8s %8s %8s %8s %8s %8s %9s %9s %9s  (GFLOP/s-equivalent, median of %d, batch %d)\n",
           "3x3 conv", "dnnl fwd", "wino fwd", "dnnl bd", "wino bd", "dnnl bw", "wino bw", "diff fwd", "diff bd",
           "diff bw", iters, batch);
    for (size_t k = 0; k < sizeof shapes / sizeof *shapes; k++) {
        int cin = shapes[k][0], cout = shapes[k][1], hw = shapes[k][2];
        if (!jp_wino_supported(cin, cout, 3, 3, 1, 1)) {
            printf("%d->%d %dx%d: not offered (no AVX2/FMA in this build)\n", cin, cout, hw, hw);
            continue;
        }
        jp_conv_shape s;
        if (jp_conv_shape_init(&s, batch, cin, hw, hw, cout, 3, 3, 1, 1, 1, 1, &err) != JP_OK) return 1;
        jp_conv_plan p;
        jp_conv_opts o = {0, 0, 0, 1, dnnl_convolution_direct};
        jp_wino_plan wp;
        if (jp_conv_plan_init(&p, &ctx, &s, &o, &err) != JP_OK || jp_dnnl_finalize(&ctx, &err) != JP_OK ||
            jp_wino_plan_init(&wp, batch, cin, cout, hw, hw, 1, &err) != JP_OK) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        size_t nin = (size_t)batch * cin * hw * hw, nout = (size_t)batch * cout * hw * hw;
        float *x = jp_alloc(nin * 4), *dx = jp_alloc(nin * 4), *dx2 = jp_alloc(nin * 4);
        float *y = jp_alloc(nout * 4), *y2 = jp_alloc(nout * 4), *dy = jp_alloc(nout * 4);
        float *w = jp_alloc((size_t)cout * cin * 9 * 4), *b = jp_alloc((size_t)cout * 4);
        float *wf = jp_alloc(p.w_bytes), *wb = p.wd_bytes ? jp_alloc(p.wd_bytes) : wf;
        float *uf = jp_alloc(jp_wino_weight_floats(&wp) * 4), *ub = jp_alloc(jp_wino_weight_floats(&wp) * 4);
        void *wscr = jp_alloc(wp.scratch_bytes);
        size_t nw = (size_t)cout * cin * 9;
        float *dws = jp_alloc(p.dw_bytes), *dbs = jp_alloc((size_t)cout * 4);
        float *dw = jp_alloc(nw * 4), *dw2 = jp_alloc(nw * 4), *dbias = jp_alloc((size_t)cout * 4);
        unsigned seed = 1;
        fill(x, nin, &seed), fill(dy, nout, &seed), fill(w, (size_t)cout * cin * 9, &seed), fill(b, cout, &seed);
        jp_conv_prepare_weights(&p, wf, wb, w);
        jp_wino_weights_forward(&wp, uf, w);
        jp_wino_weights_backward_data(&wp, ub, w);
        double t[6][100];
        for (int it = 0; it <= iters; it++) {
            memset(dw, 0, nw * 4), memset(dw2, 0, nw * 4);
            double t0 = jp_now();
            jp_conv_forward(&p, y, x, wf, b);
            double t1 = jp_now();
            jp_wino_forward(&wp, y2, x, uf, b, 0, 0, wscr);
            double t2 = jp_now();
            jp_conv_backward_data(&p, dx, dy, wb);
            double t3 = jp_now();
            jp_wino_backward_data(&wp, dx2, dy, ub, wscr);
            double t4 = jp_now();
            jp_conv_backward_weights(&p, dw, NULL, dy, x, dws, dbs);
            double t5 = jp_now();
            jp_wino_backward_weights(&wp, dw2, NULL, dy, x, wscr);
            double t6 = jp_now();
            double dt[6] = {t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t6 - t5};
            for (int j = 0; it && j < 6; j++) t[j][it - 1] = dt[j];
        }
        double flops = 2.0 * batch * cout * hw * hw * (double)cin * 9 * 1e-9;
        char name[40];
        snprintf(name, sizeof name, "%d->%d %dx%d", cin, cout, hw, hw);
        printf("%-16s", name);
        for (int j = 0; j < 6; j++) printf(" %8.1f", flops / bench_median(t[j], iters));
        printf(" %9.2e %9.2e %9.2e\n", rel_diff(y2, y, nout), rel_diff(dx2, dx, nin), rel_diff(dw2, dw, nw));
        fflush(stdout);
        jp_free(x), jp_free(dx), jp_free(dx2), jp_free(y), jp_free(y2), jp_free(dy), jp_free(w), jp_free(b);
        jp_free(wf), jp_free(uf), jp_free(ub), jp_free(dws), jp_free(dbs), jp_free(dw), jp_free(dw2), jp_free(dbias);
        if (wb != wf) jp_free(wb);
        jp_free(wscr);
        jp_conv_plan_free(&p);
    }
    jp_dnnl_free(&ctx);
    return 0;
}
