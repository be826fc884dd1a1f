/* Loads a jempp checkpoint and evaluates it on Fashion-MNIST's test set through the
 * library: test accuracy, expected calibration error (20 bins, as the reference) and the
 * OOD AUROC of log p(x) against the same images inverted.
 *
 *   eval_checkpoint CKPT [N_TEST (default 1000)]
 *
 * Build against an installed libjempp:
 *   cc eval_checkpoint.c $(pkg-config --cflags --libs jempp) -o eval_checkpoint
 * or with CMake: find_package(jempp) and target_link_libraries(... jempp::jempp)
 * (examples/CMakeLists.txt). */
#include <stdio.h>
#include <stdlib.h>

#include <jempp/checkpoint.h>
#include <jempp/data.h>
#include <jempp/metrics.h>
#include <jempp/ood.h>

enum { BATCH = 100 };

static int fail(const jp_error *err)
{
    fprintf(stderr, "eval_checkpoint: %s\n", err->msg);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: eval_checkpoint CKPT [N_TEST]\n");
        return 2;
    }
    int n = argc > 2 ? atoi(argv[2]) : 1000;
    jp_error err = {0};
    jp_wrn *m = NULL;
    if (jp_ckpt_open_model(argv[1], BATCH, &m, &err)) return fail(&err);

    jp_data_config dc = jp_data_config_defaults(); /* Fashion-MNIST from Debian's folder */
    dc.n_valid = 0;
    jp_data d;
    if (jp_data_open(&d, &dc, &err)) return fail(&err);
    const jp_dataset *test = &d.test;
    if (n < 1 || n > test->n) n = test->n;
    int K = test->n_classes;
    size_t dim = jp_dataset_dim(test);

    /* logits and log p(x) of the test images, batch by batch */
    float *logits = malloc((size_t)n * K * sizeof(float)), *lpx = malloc((size_t)n * sizeof(float));
    double *px_in = malloc((size_t)n * sizeof(double)), *px_out = malloc((size_t)n * sizeof(double));
    jp_rng rng;
    jp_rng_seed(&rng, 1);
    for (int i = 0; i < n; i += BATCH) {
        int b = n - i < BATCH ? n - i : BATCH;
        if (jp_eval_logits(m, test->x + (size_t)i * dim, b, NULL, logits + (size_t)i * K, lpx + i, &rng, &err))
            return fail(&err);
    }
    jp_calibration cal;
    if (jp_calibrate(&cal, logits, test->y, n, K, 20, &err)) return fail(&err);

    /* OOD: log p(x) of the images against the same images inverted */
    jp_dataset inverted;
    if (jp_shifted_set(&inverted, test, JP_SHIFT_INVERT, n, &rng, &err)) return fail(&err);
    for (int i = 0; i < n; i += BATCH) {
        int b = n - i < BATCH ? n - i : BATCH;
        if (jp_ood_scores(m, test->x + (size_t)i * dim, b, 0, px_in + i, NULL, NULL, &rng, &err) ||
            jp_ood_scores(m, inverted.x + (size_t)i * dim, b, 0, px_out + i, NULL, NULL, &rng, &err))
            return fail(&err);
    }
    double auroc = jp_auroc(px_in, n, px_out, n);

    printf("%s on %d test images of %s: accuracy %.4f, ECE %.4f, NLL %.4f, OOD AUROC log p(x) vs inverted %.4f\n",
           argv[1], n, d.dataset, cal.acc, cal.ece, cal.nll, auroc);
    jp_calibration_free(&cal);
    jp_dataset_free(&inverted);
    jp_data_close(&d);
    jp_wrn_free(m);
    free(logits), free(lpx), free(px_in), free(px_out);
    return 0;
}
