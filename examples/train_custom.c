/* Trains a small JEM++ model on Fashion-MNIST with a loop written out of the library's
 * pieces (not jp_train_run): data and loader, a WRN-10-2, informative initialisation
 * from class-conditional Gaussians, a replay buffer, PYLD sampling, SGD, and a
 * checkpoint that `jempp eval` and examples/eval_checkpoint read.
 *
 *   train_custom OUT.safetensors [ITERS (default 200)]
 *
 * Each iteration: the loss L = -mean LSE(x_data) + mean LSE(x_q) + CE(x_data, y), with
 * x_q from the replay buffer moved by PYLD-5-5; each term's backward runs after its
 * forward, so the gradients add up to those of L. */
#include <stdio.h>
#include <stdlib.h>

#include <jempp/checkpoint.h>
#include <jempp/data.h>
#include <jempp/ebm.h>
#include <jempp/ops.h>
#include <jempp/optim.h>
#include <jempp/safetensors.h>

enum { BATCH = 64, BUFFER = 10000 };

/* The replay buffer's source of fresh chains: a draw from the class Gaussians. */
static void gauss_init(void *ctx, float *x, int n, int fixed_class, jp_rng *rng)
{
    jp_gauss_stats_sample(ctx, x, NULL, n, fixed_class, rng);
}

static int fail(const jp_error *err)
{
    fprintf(stderr, "train_custom: %s\n", err->msg);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: train_custom OUT.safetensors [ITERS]\n");
        return 2;
    }
    int iters = argc > 2 ? atoi(argv[2]) : 200;
    jp_error err = {0};
    jp_rng rng;
    jp_rng_seed(&rng, 1);

    /* data: Fashion-MNIST from Debian's folder, a shuffled and augmented stream */
    jp_data_config dc = jp_data_config_defaults();
    jp_data d;
    if (jp_data_open(&d, &dc, &err)) return fail(&err);
    jp_loader_config lc = jp_loader_config_train(&d, BATCH, 0);
    jp_loader *loader;
    if (jp_loader_init(&loader, &d.train, NULL, 0, &lc, &err)) return fail(&err);
    int K = d.train.n_classes, dim = (int)jp_dataset_dim(&d.train);

    /* the model */
    jp_wrn_config mc;
    jp_wrn_config_defaults(&mc);
    mc.depth = 10, mc.width = 2, mc.in_channels = d.train.c, mc.image_size = d.train.h, mc.n_classes = K;
    jp_wrn *m;
    if (jp_wrn_create(&m, &mc, BATCH, &err)) return fail(&err);
    jp_wrn_init_params(m, &rng);

    /* informative initialisation and the replay buffer */
    jp_gauss_stats gs;
    char cache[1024];
    if (jp_gauss_stats_load_or_compute(&gs, &d.train, jp_gauss_stats_cache_path(cache, sizeof cache, &d, &d.train),
                                       &err))
        return fail(&err);
    jp_replay_buffer buf;
    if (jp_buffer_init(&buf, BUFFER, dim, K, &err)) return fail(&err);
    jp_buffer_fill(&buf, gauss_init, &gs, 0, &rng);

    /* sampler and optimiser */
    jp_sampler_config sc;
    jp_sampler_config_pyld(&sc);
    sc.n_steps = 5, sc.in_steps = 5;
    jp_sampler_work work;
    if (jp_sampler_work_init(&work, m, &err)) return fail(&err);
    jp_optim_config oc;
    jp_optim_config_sgd(&oc);
    oc.momentum = 0.9, oc.weight_decay = 0;
    jp_optim opt;
    size_t n_params = jp_wrn_param_count(m);
    if (jp_optim_init(&opt, &oc, n_params, &err)) return fail(&err);

    float *x = malloc((size_t)BATCH * dim * sizeof(float)), *xq = malloc((size_t)BATCH * dim * sizeof(float));
    float *logits = malloc((size_t)BATCH * K * sizeof(float)), *dl = malloc((size_t)BATCH * K * sizeof(float));
    float *w = malloc(BATCH * sizeof(float)), *lse = malloc(BATCH * sizeof(float));
    int *y = malloc(BATCH * sizeof(int)), *slots = malloc(BATCH * sizeof(int));
    for (int it = 1; it <= iters; it++) {
        jp_loader_next(loader, x, y);
        jp_wrn_zero_grads(m);
        double lse_data = 0, lse_q = 0, ce;
        /* -mean LSE(x_data): d/dlogits = -softmax / B */
        jp_wrn_forward(m, logits, x, BATCH, 1);
        jp_logsumexp_forward(lse, logits, BATCH, K);
        for (int i = 0; i < BATCH; i++) lse_data += lse[i] / BATCH, w[i] = -1.0f / BATCH;
        jp_logsumexp_backward(dl, w, logits, BATCH, K);
        jp_wrn_backward(m, dl, NULL, 1);
        /* +mean LSE(x_q), x_q from the buffer after PYLD (5% fresh chains) */
        jp_buffer_sample(&buf, xq, slots, BATCH, NULL, 0.05f, gauss_init, &gs, &rng);
        jp_sample(m, &work, &sc, xq, NULL, BATCH, &rng);
        jp_buffer_put(&buf, xq, slots, BATCH);
        jp_wrn_forward(m, logits, xq, BATCH, 1);
        jp_logsumexp_forward(lse, logits, BATCH, K);
        for (int i = 0; i < BATCH; i++) lse_q += lse[i] / BATCH, w[i] = 1.0f / BATCH;
        jp_logsumexp_backward(dl, w, logits, BATCH, K);
        jp_wrn_backward(m, dl, NULL, 1);
        /* cross-entropy of the labels */
        jp_wrn_forward(m, logits, x, BATCH, 1);
        ce = jp_cross_entropy_forward(logits, y, BATCH, K);
        jp_cross_entropy_backward(dl, 1.0f, logits, y, BATCH, K);
        jp_wrn_backward(m, dl, NULL, 1);
        /* SGD, learning rate 0.1 after a linear warm-up of 50 iterations */
        double lr = 0.1 * (it < 50 ? (double)it / 50 : 1.0);
        jp_optim_step(&opt, jp_wrn_params(m), jp_wrn_grads(m), n_params, lr);
        jp_wrn_params_changed(m);
        if (it % 20 == 0 || it == iters)
            printf("iter %d  loss %.4f  ce %.4f  lse data %.3f  samples %.3f\n", it, lse_q - lse_data + ce, ce,
                   lse_data, lse_q);
    }

    jp_st_writer wr;
    jp_st_writer_init(&wr);
    jp_ckpt_add_model(&wr, m);
    jp_status st = jp_st_writer_save(&wr, argv[1], &err);
    jp_st_writer_free(&wr);
    if (st) return fail(&err);
    printf("wrote %s\n", argv[1]);
    free(x), free(xq), free(logits), free(dl), free(w), free(lse), free(y), free(slots);
    jp_optim_free(&opt);
    jp_sampler_work_free(&work);
    jp_buffer_free(&buf);
    jp_gauss_stats_free(&gs);
    jp_wrn_free(m);
    jp_loader_free(loader);
    jp_data_close(&d);
    return 0;
}
