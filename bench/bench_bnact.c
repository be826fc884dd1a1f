/* Batch norm + LeakyReLU (train mode) per implementation on the Wide-ResNets' shapes:
 * milliseconds of the forward and the backward, medians, and the rate in GB/s of the
 * least traffic each pass needs (forward: read x, write a, 2 tensors; backward: read x
 * and da, write dx, 3 tensors). jempp-fused makes 3 and 5 passes over the tensors
 * (bnact_fused.c), oneDNN's primitives 5 and 8; a rate near the machine's cache or memory
 * bandwidth, and alike with 1 and 2 threads, says the passes wait on memory.
 *
 * The backward may overwrite its da (jp_bnact_backward): the timings do not depend on
 * its values, which stay finite.
 *
 *   bench_bnact [--batch 64] [--iters 21]      (threads: OMP_NUM_THREADS) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_stats.h"
#include "jempp/ops.h"
#include "ops/backend.h"

enum { N_IMPL = 2 };
static const jp_bnact_impl_id impls[N_IMPL] = {JP_BNACT_ONEDNN, JP_BNACT_JEMPP_FUSED};

int main(int argc, char **argv)
{
    int batch = 64, iters = 21;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--batch") && i + 1 < argc) batch = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--iters") && i + 1 < argc) iters = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: %s [--batch N] [--iters N]\n", argv[0]);
            return 2;
        }
    }
    if (batch < 1 || iters < 1 || iters > 99) {
        fprintf(stderr, "bench_bnact: --batch and --iters (1..99) must be positive\n");
        return 2;
    }
    /* {C, H = W}: the batch norms of WRN-10-2 on 28x28 (the main job), then WRN-28-10's */
    static const int shapes[][2] = {{16, 28}, {32, 28}, {64, 28}, {64, 14}, {128, 14}, {128, 7},
                                    {160, 32}, {320, 16}, {640, 8}};
    jp_error err;
    jp_ctx ctx;
    if (jp_ctx_init(&ctx, 0, &err) != JP_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    printf("nChw%dc, batch %d, median of %d; train mode, ms forward / backward (GB/s of 2 and 3 tensors)\n",
           ctx.act_block, batch, iters);
    printf("%-12s %8s", "batch norm", "MB");
    for (int k = 0; k < N_IMPL; k++) printf(" | %-31s", jp_bnact_impl_word(impls[k]));
    printf("\n");
    for (size_t k = 0; k < sizeof shapes / sizeof *shapes; k++) {
        int c = shapes[k][0], hw = shapes[k][1];
        jp_bn_shape s = {.n = batch, .c = c, .h = hw, .w = hw, .eps = 1e-5f, .momentum = 0.9f};
        size_t bytes = jp_act_bytes(&ctx, batch, c, hw, hw), n = bytes / 4;
        float *x = jp_alloc(bytes), *a = jp_alloc(bytes), *da = jp_alloc(bytes);
        float *dx = jp_alloc(bytes), *par = jp_alloc((size_t)8 * c * 4);
        float *gamma = par, *beta = par + c, *mean = par + 2 * c, *var = par + 3 * c, *dgamma = par + 4 * c,
              *dbeta = par + 5 * c, *scratch = par + 6 * c;
        unsigned seed = 1;
        bench_fill(x, n, &seed), bench_fill(da, n, &seed), bench_fill(gamma, (size_t)2 * c, &seed);
        char name[24];
        snprintf(name, sizeof name, "%d x %dx%d", c, hw, hw);
        printf("%-12s %8.1f", name, bytes * 1e-6);
        for (int m = 0; m < N_IMPL; m++) {
            jp_bnact_plan p;
            if (jp_bnact_plan_init(&p, &ctx, &s, 1, 0.2f, impls[m], &err) != JP_OK) {
                printf(" | %-31s", "n/a (CPU or layout)");
                continue;
            }
            if (jp_ctx_finalize(&ctx, &err) != JP_OK) return 1;
            double t[2][100];
            for (int it = 0; it <= iters; it++) {
                double t0 = jp_now();
                jp_bnact_forward(&p, 1, a, mean, var, NULL, NULL, x, gamma, beta);
                double t1 = jp_now();
                jp_bnact_backward(&p, 1, dx, da, dgamma, dbeta, a, x, mean, var, gamma, beta, scratch);
                double t2 = jp_now();
                if (it) t[0][it - 1] = t1 - t0, t[1][it - 1] = t2 - t1;
            }
            double f = bench_median(t[0], iters), b = bench_median(t[1], iters);
            printf(" | %6.3f / %6.3f (%4.0f / %4.0f)  ", f * 1e3, b * 1e3, 2 * bytes * 1e-9 / f, 3 * bytes * 1e-9 / b);
            jp_bnact_plan_free(&p);
        }
        printf("\n");
        fflush(stdout);
        jp_free(x), jp_free(a), jp_free(da), jp_free(dx), jp_free(par);
    }
    jp_ctx_free(&ctx);
    return 0;
}
