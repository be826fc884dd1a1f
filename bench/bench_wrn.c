/* Benchmark of the Wide-ResNet on the fast path: per-layer GFLOP/s of forward,
 * backward-data and backward-weights convolutions, whole-network forward+backward
 * images/s (train mode, parameter and input gradients, as peer_torch.py --mode fwdbwd),
 * and one JEM++ iteration (PYLD-M-N) or one JEM iteration (SGLD-K, model in eval mode as
 * JEM samples) broken down into sampling and training passes; the iteration ends with the
 * optimiser's step (SGD, momentum 0.9, weight decay 4e-4, as peer_torch.py), so the next
 * one prepares the changed weights again (the Winograd transforms of the kernels).
 * Prints medians. Never a test: timing assertions do not belong in tests.
 *
 *   bench_wrn [--depth 16] [--width 2] [--batch 64] [--size 32] [--channels 3]
 *             [--iters 7] [--layers] [--jempp M N | --sgld K] [--winograd 1|0]
 *             [--conv_impl NAME] [--bn_impl NAME] [--bf16 0|1] [--vector_width 0|8|16]
 *             [--device cpu|cuda] [--no_tf32] [--deterministic]
 * (--winograd 0: oneDNN's direct convolutions instead of the default Winograd; the
 * implementation flags as `jempp train`'s; the kernels that ran are printed first.
 * --device cuda: the model on GPU 0 in a build with the CUDA backend, cuDNN's TF32
 * convolutions unless --no_tf32 (as peer_torch.py --device cuda); times are taken after
 * the device finished, and the GPU memory in use is printed) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_stats.h"
#include "jempp/ebm.h"
#include "jempp/ops.h"
#include "jempp/train.h"
#include "jempp/wrn.h"
#include "nn/wrn_internal.h"
#include "ops/device.h"
#ifdef JEMPP_HAVE_CUDA
#include "cuda/cuda_backend.h"
#endif

/* The time once the device has finished what was queued. */
static double now_synced(const jp_device *d)
{
    jp_error err;
    if (d->ops->sync(d->state, &err)) {
        fprintf(stderr, "bench_wrn: %s\n", err.msg);
        exit(1);
    }
    return jp_now();
}

static void bench_layers(jp_wrn *m, int iters)
{
    printf("%-34s %9s %9s %9s   (GFLOP/s, median of %d)\n", "convolution", "fwd", "bwd_data", "bwd_w", iters);
    for (int i = 0; i < m->n_conv_plans; i++) {
        const jp_conv_plan *p = &m->conv_plans[i];
        const jp_conv_shape *s = &p->s;
        size_t in = jp_act_bytes(&m->ctx, s->n, s->cin, s->h, s->w) + (size_t)s->n * s->cin * s->h * s->w * 4;
        size_t out = jp_act_bytes(&m->ctx, s->n, s->cout, s->oh, s->ow);
        float *x = jp_alloc(in), *y = jp_alloc(out), *dy = jp_alloc(out), *dx = jp_alloc(in);
        float *w = jp_alloc(p->w_bytes), *wd = p->wd_bytes ? jp_alloc(p->wd_bytes) : w, *dw = jp_alloc(p->dw_bytes);
        float *b = jp_alloc((size_t)s->cout * 4), *db = jp_alloc((size_t)s->cout * 4);
        double flops = 2.0 * s->n * s->cout * s->oh * s->ow * (double)s->cin * s->kh * s->kw;
        double tf[64], td[64], tw[64];
        for (int it = 0; it < iters + 1; it++) {
            double t0 = jp_now();
            jp_conv_forward(p, y, x, w, b);
            double t1 = jp_now();
            jp_conv_backward_data(p, dx, dy, wd);
            double t2 = jp_now();
            jp_conv_backward_weights(p, NULL, NULL, dy, x, dw, db);
            double t3 = jp_now();
            if (it) {
                tf[it - 1] = t1 - t0;
                td[it - 1] = t2 - t1;
                tw[it - 1] = t3 - t2;
            }
        }
        char name[64];
        snprintf(name, sizeof name, "%dx%d %d->%d s%d %dx%d", s->kh, s->kw, s->cin, s->cout, s->sh, s->h, s->w);
        printf("%-34s %9.1f %9.1f %9.1f   [%s | %s | %s]\n", name, flops / bench_median(tf, iters) * 1e-9,
               flops / bench_median(td, iters) * 1e-9, flops / bench_median(tw, iters) * 1e-9, jp_conv_kernel(p, 0),
               jp_conv_kernel(p, 1), jp_conv_kernel(p, 2));
        jp_free(x), jp_free(y), jp_free(dy), jp_free(dx), jp_free(w), jp_free(dw), jp_free(b), jp_free(db);
        if (wd != w) jp_free(wd);
    }
}

int main(int argc, char **argv)
{
    int depth = 16, width = 2, batch = 64, size = 32, channels = 3, iters = 7, layers = 0, M = 0, N = 5, wino = 1;
    int on_gpu = 0, tf32 = 1, deterministic = 0;
    int K_sgld = 0;
    jp_kernel_choice kc = {.conv = JP_CONV_AUTO, .bnact = JP_BNACT_AUTO};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--depth") && i + 1 < argc) depth = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--width") && i + 1 < argc) width = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc) batch = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--size") && i + 1 < argc) size = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--channels") && i + 1 < argc) channels = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--iters") && i + 1 < argc) iters = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--layers")) layers = 1;
        else if (!strcmp(argv[i], "--winograd") && i + 1 < argc) wino = atoi(argv[++i]) != 0;
        else if (!strcmp(argv[i], "--sgld") && i + 1 < argc) K_sgld = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--vector_width") && i + 1 < argc) kc.vector_width = atoi(argv[++i]);
        else if ((!strcmp(argv[i], "--conv_impl") || !strcmp(argv[i], "--bn_impl") || !strcmp(argv[i], "--bf16")) &&
                 i + 1 < argc) {
            /* read by `jempp train`'s own parser of these flags */
            jp_train_config tc;
            jp_error err;
            tc.kernels = kc;
            if (jp_train_setting_parse(&tc, jp_train_setting_find(argv[i] + 2), argv[i + 1], &err) != JP_OK) {
                fprintf(stderr, "bench_wrn: %s\n", err.msg);
                return 2;
            }
            kc = tc.kernels;
            i++;
        }
        else if (!strcmp(argv[i], "--device") && i + 1 < argc) {
            const char *w = argv[++i];
            if (strcmp(w, "cpu") && strcmp(w, "cuda")) {
                fprintf(stderr, "bench_wrn: --device %s: cpu or cuda\n", w);
                return 2;
            }
            on_gpu = !strcmp(w, "cuda");
        } else if (!strcmp(argv[i], "--no_tf32")) tf32 = 0;
        else if (!strcmp(argv[i], "--deterministic")) deterministic = 1;
        else if (!strcmp(argv[i], "--jempp") && i + 2 < argc) {
            M = atoi(argv[++i]);
            N = atoi(argv[++i]);
        } else {
            fprintf(stderr, "bench_wrn: unknown argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (iters < 1 || iters > 64) iters = 7;
    jp_wrn_config cfg;
    jp_wrn_config_defaults(&cfg);
    cfg.depth = depth;
    cfg.width = width;
    cfg.in_channels = channels;
    cfg.image_size = size;
    cfg.winograd = wino;
    jp_error err;
    const jp_device *d = jp_device_cpu();
#ifdef JEMPP_HAVE_CUDA
    jp_device gpu;
    if (on_gpu) {
        if (jp_cuda_device_open(&gpu, 0, &err)) {
            fprintf(stderr, "bench_wrn: %s\n", err.msg);
            return 1;
        }
        jp_cuda_set_math((jp_cuda *)gpu.state, tf32, deterministic);
        printf("device: %s, TF32 %s%s\n", jp_cuda_describe((jp_cuda *)gpu.state), tf32 ? "on" : "off",
               deterministic ? ", deterministic algorithms" : "");
        d = &gpu;
    }
#else
    (void)tf32, (void)deterministic;
    if (on_gpu) {
        fprintf(stderr, "bench_wrn: --device cuda: this build has no CUDA backend\n");
        return 1;
    }
#endif
    kc.device = d;
    cfg.kernels = kc;
    jp_wrn *m;
    if (jp_wrn_create(&m, &cfg, batch, &err)) {
        fprintf(stderr, "bench_wrn: %s\n", err.msg);
        return 1;
    }
    char kernels[400];
    jp_wrn_kernel_summary(m, kernels, sizeof kernels);
    printf("kernels: %s\n", kernels);
    if (layers && !on_gpu) bench_layers(m, iters);
    int K = cfg.n_classes;
    size_t dim = (size_t)channels * size * size;
    /* on the model's device; the data drawn on the host */
    size_t xbytes = (size_t)batch * dim * 4;
    float *x = jp_dev_alloc(d, xbytes), *dx = jp_dev_alloc(d, xbytes), *xh = jp_alloc(xbytes), *xqh = jp_alloc(xbytes);
    float *logits = jp_dev_alloc(d, (size_t)batch * K * 4), *dl = jp_dev_alloc(d, (size_t)batch * K * 4);
    int *y = jp_dev_alloc(d, (size_t)batch * sizeof(int)), *yh = jp_alloc((size_t)batch * sizeof(int));
    jp_rng r;
    jp_rng_seed(&r, 1);
    jp_rng_fill_uniform(&r, xh, (size_t)batch * dim, -1, 1);
    for (int i = 0; i < batch; i++) yh[i] = i % K;
    jp_dev_upload(d, x, xh, xbytes);
    jp_dev_upload(d, y, yh, (size_t)batch * sizeof(int));
    double t[64];
    for (int it = 0; it < iters + 2; it++) {
        double t0 = now_synced(d);
        jp_wrn_zero_grads(m);
        jp_wrn_forward(m, logits, x, batch, 1);
        d->ops->cross_entropy_backward(d->state, dl, 1.0f, logits, y, batch, K);
        jp_wrn_backward(m, dl, dx, 1);
        if (it >= 2) t[it - 2] = now_synced(d) - t0;
    }
    double med = bench_median(t, iters);
    printf("jempp WRN-%d-%d fwd+bwd batch %d %dx%dx%d: %.1f ms, %.1f images/s\n", depth, width, batch, channels,
           size, size, med * 1e3, batch / med);
    if (M > 0 || K_sgld > 0) {
        /* one JEM++ iteration as peer_torch.py: LSE(x_data) f+b, PYLD-M-N, LSE(x_q) f+b, CE f+b,
         * SGD step (or the same with JEM's SGLD-K as the sampler) */
        jp_sampler_config sc;
        if (K_sgld > 0) {
            jp_sampler_config_sgld(&sc);
            sc.n_steps = K_sgld;
        } else {
            jp_sampler_config_pyld(&sc);
            sc.n_steps = M;
            sc.in_steps = N;
        }
        jp_sampler_work w;
        jp_sampler_work_init(&w, m, &err);
        jp_optim_config oc;
        jp_optim_config_sgd(&oc);
        jp_optim opt;
        size_t np = jp_wrn_param_count(m);
        if (jp_optim_init_on(&opt, &oc, np, d, &err) != JP_OK) {
            fprintf(stderr, "bench_wrn: %s\n", err.msg);
            return 1;
        }
        float *xq = jp_dev_alloc(d, xbytes), *ones = jp_dev_alloc(d, (size_t)batch * 4);
        double tt[64], ts[64];
        for (int it = 0; it < iters + 2; it++) {
            double t0 = now_synced(d);
            jp_wrn_zero_grads(m);
            for (int term = 0; term < 3; term++) {
                if (term == 1) {
                    double s0 = now_synced(d);
                    jp_rng_fill_uniform(&r, xqh, (size_t)batch * dim, -1, 1);
                    jp_dev_upload(d, xq, xqh, xbytes);
                    jp_sample(m, &w, &sc, xq, NULL, batch, &r);
                    if (it >= 2) ts[it - 2] = now_synced(d) - s0;
                }
                jp_wrn_forward(m, logits, term == 1 ? xq : x, batch, 1);
                if (term < 2) {
                    d->ops->fill(d->state, ones, (term ? 1.0f : -1.0f) / batch, (size_t)batch);
                    d->ops->logsumexp_backward(d->state, dl, ones, logits, batch, K);
                } else {
                    d->ops->cross_entropy_backward(d->state, dl, 1.0f, logits, y, batch, K);
                }
                jp_wrn_backward(m, dl, NULL, 1);
            }
            jp_optim_step(&opt, jp_wrn_params(m), jp_wrn_grads(m), np, oc.lr);
            jp_wrn_params_changed(m);
            if (it >= 2) tt[it - 2] = now_synced(d) - t0;
        }
        double mt = bench_median(tt, iters), ms = bench_median(ts, iters);
        char sname[32];
        if (K_sgld > 0) snprintf(sname, sizeof sname, "SGLD-%d", K_sgld);
        else snprintf(sname, sizeof sname, "PYLD-%d-%d", M, N);
        printf("jempp %s iteration WRN-%d-%d %s batch %d: %.3f s/iter (sampling %.3f s = %.0f%%, "
               "3 training passes %.3f s)\n", K_sgld > 0 ? "JEM" : "JEM++", depth, width, sname, batch, mt, ms,
               100 * ms / mt, mt - ms);
        jp_sampler_work_free(&w);
        jp_optim_free(&opt);
        jp_dev_release(d, xq), jp_dev_release(d, ones);
    }
#ifdef JEMPP_HAVE_CUDA
    if (on_gpu)
        printf("GPU memory: jempp's allocations at their peak %.0f MiB (PyTorch's max_memory_allocated counts the "
               "same); in use on the device %.0f MiB (driver context and libraries included)\n",
               jp_cuda_memory_peak((jp_cuda *)gpu.state) / 1048576.0,
               jp_cuda_memory_used((jp_cuda *)gpu.state) / 1048576.0);
#endif
    jp_wrn_free(m);
    jp_dev_release(d, x), jp_dev_release(d, dx), jp_dev_release(d, logits), jp_dev_release(d, dl), jp_dev_release(d, y);
    jp_free(xh), jp_free(xqh), jp_free(yh);
#ifdef JEMPP_HAVE_CUDA
    if (on_gpu) jp_cuda_device_close(&gpu);
#endif
    return 0;
}
